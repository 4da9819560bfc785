/* dc_list_cache.h: the encoded reply of an unfiltered LIST, kept while the
 * registry does not change, and sent without a copy.
 *
 * Design notes: Cortex nodes and dashboards LIST everything, often in a loop.
 * Building the reply for 10,000 topics costs a worker about 300 us and
 * copying it into a frame more; when the registry's generation counter says
 * nothing changed since the last LIST, the same bytes go out again. Replies
 * are refcounted buffers handed to ZeroMQ (zmq_msg_init_data), so neither
 * the front nor the I/O thread copies them; the I/O thread drops the last
 * reference. One slot per reply shape (protocol 1, protocol 2); replies over
 * DC_LIST_CACHE_MAX bytes are sent the same way but not kept. */
#ifndef DC_LIST_CACHE_H
#define DC_LIST_CACHE_H

#include <czmq.h>
#include <msgpack.h>
#include <stdint.h>

/* Largest reply kept (about 160,000 topics). */
#define DC_LIST_CACHE_MAX (16u << 20)

typedef struct dc_list_cache dc_list_cache_t;
typedef struct dc_shared_reply dc_shared_reply_t;

dc_list_cache_t *dc_list_cache_new(void);
void dc_list_cache_destroy(dc_list_cache_t **self_p);

/* A reference to the reply kept for protocol version (1, or 2 and up) when
 * it was built at generation; NULL otherwise. */
dc_shared_reply_t *dc_list_cache_get(dc_list_cache_t *self, int version, uint64_t generation);

/* Takes the bytes of encoded (leaving it empty) as the reply for version
 * built at generation, keeps it unless a newer one is kept, and returns a
 * reference to send. NULL when out of memory (encoded is then untouched). */
dc_shared_reply_t *dc_list_cache_put(dc_list_cache_t *self, int version, uint64_t generation,
                                     msgpack_sbuffer *encoded);

/* The same bytes as a reply that is sent but not kept (a filtered LIST). */
dc_shared_reply_t *dc_list_cache_detached(msgpack_sbuffer *encoded);

void dc_shared_reply_unref(dc_shared_reply_t **reply_p);

/* Sends [kind][route...][reply] on sock, the reply without a copy. Takes
 * ownership of *route_p and of the reference *reply_p. Returns 0 or -1. */
int dc_shared_reply_route_send(zmsg_t **route_p, dc_shared_reply_t **reply_p, char kind,
                               zsock_t *sock);

#endif
