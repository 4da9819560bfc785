/* dc_sse.c: the event stream over HTTP (see the .h). */
#include "dc_sse.h"
#include "dc_json.h"
#include "dc_log.h"

#include <czmq.h>
#include <string.h>

/* A comment line this often when no event came. */
#define DC_SSE_KEEPALIVE_MS 5000
/* How long one wait for an event lasts (a stopping listener is seen then). */
#define DC_SSE_POLL_MS 250

static atomic_int s_streams;

typedef struct {
    dc_context_t *ctx;
    atomic_bool *stopping;
    zsock_t *sub;            /* made on the first read, by the connection's thread */
    msgpack_sbuffer pending; /* text not yet handed to the connection */
    size_t sent;             /* of pending */
    int64_t idle_since;
} stream_t;

static void s_free(void *cls)
{
    stream_t *s = cls;
    zsock_destroy(&s->sub);
    msgpack_sbuffer_destroy(&s->pending);
    free(s);
    atomic_fetch_sub(&s_streams, 1);
}

/* Formats one event (two frames: name, msgpack map) into pending. */
static void s_format(stream_t *s, zmsg_t *msg)
{
    char *name = zmsg_popstr(msg);
    zframe_t *body = zmsg_pop(msg);
    if (name && body) {
        msgpack_sbuffer json;
        msgpack_sbuffer_init(&json);
        if (dc_json_from_msgpack(&json, zframe_data(body), zframe_size(body)) == 0) {
            msgpack_unpacked u;
            char err[DC_ERR_LEN];
            unsigned long long seq = 0;
            if (dc_mp_unpack(&u, zframe_data(body), zframe_size(body), err) == 0) {
                const msgpack_object *m = &u.data;
                for (uint32_t i = 0; m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++)
                    if (dc_mp_key_is(&m->via.map.ptr[i].key, "seq") &&
                        m->via.map.ptr[i].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                        seq = m->via.map.ptr[i].val.via.u64;
                msgpack_unpacked_destroy(&u);
            }
            dc_json_fmt(&s->pending, "id: %llu\nevent: ", seq);
            /* An event name is one of ours (topic.added, ...): no newline. */
            for (char *p = name; *p; p++)
                if (*p == '\n' || *p == '\r')
                    *p = ' ';
            dc_json_raw(&s->pending, name);
            dc_json_raw(&s->pending, "\ndata: ");
            msgpack_sbuffer_write(&s->pending, json.data, json.size);
            dc_json_raw(&s->pending, "\n\n");
        }
        msgpack_sbuffer_destroy(&json);
    }
    free(name);
    zframe_destroy(&body);
}

static ssize_t s_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream_t *s = cls;
    if (!s->sub) {
        s->sub = zsock_new_sub(s->ctx->events_inproc, "");
        if (!s->sub)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        s->idle_since = zclock_mono();
        /* The browser retries after 2 s when the stream drops. */
        dc_json_raw(&s->pending, "retry: 2000\n: discod events\n\n");
    }
    while (s->sent == s->pending.size) {
        msgpack_sbuffer_clear(&s->pending);
        s->sent = 0;
        if (atomic_load(s->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        zpoller_t *poller = zpoller_new(s->sub, NULL);
        void *ready = poller ? zpoller_wait(poller, DC_SSE_POLL_MS) : NULL;
        zpoller_destroy(&poller);
        if (ready) {
            zmsg_t *msg = zmsg_recv(s->sub);
            if (msg)
                s_format(s, msg);
            zmsg_destroy(&msg);
            s->idle_since = zclock_mono();
        } else if (zclock_mono() - s->idle_since >= DC_SSE_KEEPALIVE_MS) {
            dc_json_raw(&s->pending, ": keepalive\n\n");
            s->idle_since = zclock_mono();
        }
    }
    size_t n = s->pending.size - s->sent;
    if (n > max)
        n = max;
    memcpy(buf, s->pending.data + s->sent, n);
    s->sent += n;
    return (ssize_t)n;
}

struct MHD_Response *dc_sse_response(dc_context_t *ctx, atomic_bool *stopping)
{
    if (atomic_fetch_add(&s_streams, 1) >= DC_SSE_MAX) {
        atomic_fetch_sub(&s_streams, 1);
        return NULL;
    }
    stream_t *s = calloc(1, sizeof *s);
    if (!s) {
        atomic_fetch_sub(&s_streams, 1);
        return NULL;
    }
    s->ctx = ctx;
    s->stopping = stopping;
    msgpack_sbuffer_init(&s->pending);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, s_read, s, s_free);
    if (!r) {
        s_free(s);
        return NULL;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    return r;
}
