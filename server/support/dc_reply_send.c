/* dc_reply_send.c: reply frames and routing (see the .h). */
#include "dc_reply_send.h"

zframe_t *dc_reply_frame(const dc_reply_t *r)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    if (dc_reply_encode(r, &buf) != 0) {
        msgpack_sbuffer_destroy(&buf);
        return NULL;
    }
    zframe_t *frame = zframe_new(buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
    return frame;
}

int dc_reply_route_hand(zmsg_t **route_p, zframe_t **reply_p, dc_handoff_t *answers)
{
    zmsg_t *msg = *route_p;
    *route_p = NULL;
    zmsg_append(msg, reply_p);
    if (dc_handoff_push(answers, msg) != 0) {
        zmsg_destroy(&msg);
        return -1;
    }
    return 0;
}

int dc_reply_route_send(zmsg_t **route_p, zframe_t **reply_p, char kind, zsock_t *sock)
{
    zmsg_t *msg = *route_p;
    *route_p = NULL;
    zmsg_append(msg, reply_p);
    zmsg_pushmem(msg, &kind, 1);
    return zmsg_send(&msg, sock);
}
