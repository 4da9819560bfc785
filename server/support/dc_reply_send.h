/* dc_reply_send.h: a reply on its way back to the front thread: encoded into
 * a frame, then sent with its route (workers, over their DEALER) or handed
 * over as one pointer (the writer's thread, on the answers queue). */
#ifndef DC_REPLY_SEND_H
#define DC_REPLY_SEND_H

#include "dc_handoff.h"
#include "dc_reply.h"
#include <czmq.h>

/* Encodes r into a new frame. Returns the frame
 * (caller owns it), or NULL when out of memory. */
zframe_t *dc_reply_frame(const dc_reply_t *r);

/* Completes route ([endpoint index][envelope...][""]) with the reply frame and
 * the kind byte the front expects ('A' answer, 'S' answer then stop), and
 * sends it on sock. Takes ownership of *route_p and *reply_p. */
int dc_reply_route_send(zmsg_t **route_p, zframe_t **reply_p, char kind, zsock_t *sock);

/* The writer's thread to the front, in this process: completes route with
 * the reply frame and hands the whole message over as one pointer on the
 * answers queue, so no frame is copied or sent one by one; the front takes
 * it with dc_handoff_pop ([endpoint index and principal][envelope...][""]
 * [reply]; the front destroys it). Takes ownership of *route_p and *reply_p
 * (freed when the hand-over fails). Returns 0, or -1. */
int dc_reply_route_hand(zmsg_t **route_p, zframe_t **reply_p, dc_handoff_t *answers);

#endif
