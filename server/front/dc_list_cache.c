/* dc_list_cache.c: cached LIST replies (see the .h). */
#include "dc_list_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct dc_shared_reply {
    atomic_uint refs;
    char *data; /* malloc'd, taken from a msgpack_sbuffer */
    size_t size;
};

typedef struct {
    dc_shared_reply_t *reply; /* NULL: nothing kept */
    uint64_t generation;
} slot_t;

struct dc_list_cache {
    pthread_mutex_t lock; /* held for a pointer swap and a refcount, no more */
    slot_t slots[2];      /* protocol 1, protocol 2 */
};

static slot_t *s_slot(dc_list_cache_t *self, int version)
{
    return &self->slots[version >= 2 ? 1 : 0];
}

static dc_shared_reply_t *s_ref(dc_shared_reply_t *reply)
{
    atomic_fetch_add_explicit(&reply->refs, 1, memory_order_relaxed);
    return reply;
}

void dc_shared_reply_unref(dc_shared_reply_t **reply_p)
{
    dc_shared_reply_t *reply = *reply_p;
    *reply_p = NULL;
    if (reply && atomic_fetch_sub_explicit(&reply->refs, 1, memory_order_acq_rel) == 1) {
        free(reply->data);
        free(reply);
    }
}

dc_list_cache_t *dc_list_cache_new(void)
{
    dc_list_cache_t *self = calloc(1, sizeof *self);
    if (self)
        pthread_mutex_init(&self->lock, NULL);
    return self;
}

void dc_list_cache_destroy(dc_list_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_list_cache_t *self = *self_p;
    for (int i = 0; i < 2; i++)
        dc_shared_reply_unref(&self->slots[i].reply);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

dc_shared_reply_t *dc_list_cache_get(dc_list_cache_t *self, int version, uint64_t generation)
{
    dc_shared_reply_t *reply = NULL;
    pthread_mutex_lock(&self->lock);
    slot_t *slot = s_slot(self, version);
    if (slot->reply && slot->generation == generation)
        reply = s_ref(slot->reply);
    pthread_mutex_unlock(&self->lock);
    return reply;
}

dc_shared_reply_t *dc_list_cache_detached(msgpack_sbuffer *encoded)
{
    dc_shared_reply_t *reply = malloc(sizeof *reply);
    if (!reply)
        return NULL;
    atomic_init(&reply->refs, 1);
    reply->size = encoded->size;
    reply->data = msgpack_sbuffer_release(encoded);
    return reply;
}

dc_shared_reply_t *dc_list_cache_put(dc_list_cache_t *self, int version, uint64_t generation,
                                     msgpack_sbuffer *encoded)
{
    dc_shared_reply_t *reply = dc_list_cache_detached(encoded);
    if (!reply || reply->size > DC_LIST_CACHE_MAX)
        return reply;
    dc_shared_reply_t *dropped = NULL;
    pthread_mutex_lock(&self->lock);
    slot_t *slot = s_slot(self, version);
    if (!slot->reply || generation >= slot->generation) {
        dropped = slot->reply;
        slot->reply = s_ref(reply);
        slot->generation = generation;
    }
    pthread_mutex_unlock(&self->lock);
    dc_shared_reply_unref(&dropped);
    return reply;
}

/* ZeroMQ's free callback, run by whichever thread closes the last copy of
 * the message (often the I/O thread). */
static void s_release(void *data, void *hint)
{
    (void)data;
    dc_shared_reply_t *reply = hint;
    dc_shared_reply_unref(&reply);
}

int dc_shared_reply_route_send(zmsg_t **route_p, dc_shared_reply_t **reply_p, char kind,
                               zsock_t *sock)
{
    zmsg_t *route = *route_p;
    dc_shared_reply_t *reply = *reply_p;
    *route_p = NULL;
    *reply_p = NULL;
    void *handle = zsock_resolve(sock);
    int rc = zmq_send(handle, &kind, 1, ZMQ_SNDMORE) == 1 ? 0 : -1;
    zframe_t *frame;
    while (rc == 0 && (frame = zmsg_pop(route)))
        rc = zframe_send(&frame, sock, ZFRAME_MORE);
    zmsg_destroy(&route);
    zmq_msg_t msg;
    if (rc != 0 || zmq_msg_init_data(&msg, reply->data, reply->size, s_release, reply) != 0) {
        dc_shared_reply_unref(&reply);
        return -1;
    }
    /* From here ZeroMQ owns the reference and drops it through s_release. */
    if (zmq_msg_send(&msg, handle, 0) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    return 0;
}
