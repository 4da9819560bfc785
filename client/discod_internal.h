/* discod_internal.h: what the client library's modules share; not installed.
 * Everything here is hidden from the shared library's exported symbols. */
#ifndef DISCOD_INTERNAL_H
#define DISCOD_INTERNAL_H

#include "discod.h"
#include "dc_reply.h"
#include "dc_request.h"

#include <stdbool.h>

/* Sends req with Lazy Pirate retries (encoding it for the daemon's protocol).
 * try_timeout_ms/tries <= 0: the client's options. A result >= 0 is the
 * reply's status and *view must then be released; a negative one leaves
 * nothing to release. */
discod_result_t discod__call(discod_client_t *c, dc_request_t *req, int try_timeout_ms, int tries,
                             dc_reply_view_t *view);
/* Sends req (PING or HEARTBEAT) once on the current endpoint's datagram
 * channel. A result >= 0 is the reply's status (*view to be released); a
 * negative one means there is no channel right now: use discod__call. */
discod_result_t discod__call_datagram(discod_client_t *c, dc_request_t *req,
                                      dc_reply_view_t *view);
/* The ZeroMQ context the clients of this process share (discod_context.c):
 * a reference, or NULL when out of memory. Release it once the client's
 * sockets are closed. */
void *discod__context_acquire(void);
void discod__context_release(void *ctx);

/* Does this client speak only Cortex's protocol: told to
 * (DISCOD_PROTOCOL_LEGACY), or its daemon answered a protocol 2 request in
 * protocol 1? Every protocol 2 only call (STATS, MEMBERS, HEARTBEAT, leases,
 * nodes) answers DISCOD_UNSUPPORTED then, without sending anything. */
bool discod__legacy_only(const discod_client_t *c);
/* The result of a protocol 2 only call from discod__call's r and view: a
 * reply in protocol 1 is DISCOD_UNSUPPORTED, an OK reply without the answer
 * it must carry (has_answer false) DISCOD_PROTOCOL, anything else r. */
discod_result_t discod__v2_result(discod_result_t r, const dc_reply_view_t *view, bool has_answer);
/* discod__call for callers that need only the status. */
discod_result_t discod__call_status(discod_client_t *c, dc_request_t *req);

bool discod__valid_name(const char *s, size_t max);
bool discod__valid_text(const char *s, size_t max);
uint64_t discod__request_id(discod_client_t *c);
discod_result_t discod__topic_from_blob(const void *data, size_t size, discod_topic_t *out);

/* Packs key/value pairs as a msgpack map into buf; *object points into
 * *storage (caller destroys both). Returns 0, or -1 on bad input. */
int discod__pack_kv(const discod_kv_t *kv, size_t count, msgpack_sbuffer *buf,
                    msgpack_unpacked *storage, const msgpack_object **object);
/* Copies a msgpack str->str map into a malloc'd array. 0, or a result code. */
discod_result_t discod__kv_from_object(const msgpack_object *map, discod_kv_t **out, size_t *count);

/* A TopicInfo blob and its metadata map (NULL: none) into *out and
 * (*metadata, *count); on failure nothing is left to free. */
discod_result_t discod__topic_with_metadata(const void *blob, size_t size,
                                            const msgpack_object *map, discod_topic_t *out,
                                            discod_kv_t **metadata, size_t *count);

/* Adds opts' lease keys and metadata to req (metadata packed into buf and
 * unpacked into storage: *unpacked says to destroy it). 0, or -1 on bad
 * metadata. */
int discod__apply_opts(dc_request_t *req, const discod_register_opts_t *opts,
                       msgpack_sbuffer *buf, msgpack_unpacked *storage, bool *unpacked);
/* The mismatches of a reply's "mismatch" array (NULL: none) into a malloc'd
 * array (*out NULL, *count 0 when none). */
discod_result_t discod__mismatches_from(const msgpack_object *array, discod_mismatch_t **out,
                                        size_t *count);
/* Sends LOOKUP for name (discod__call's timeouts and view). */
discod_result_t discod__call_lookup(discod_client_t *c, const char *name, int try_timeout_ms,
                                    int tries, dc_reply_view_t *view);

/* CURVE (discod_curve.c): the keys of one client, from czmq certificates. */
typedef struct {
    bool on;
    char server_public[41], client_public[41], client_secret[41];
} discod__curve_t;

/* Reads the daemon's public certificate and this client's (its secret from
 * CLIENT_secret). Both NULL: CURVE off. Returns 0, or -1 when a file cannot
 * be read or only one is given. */
int discod__curve_load(const char *server_cert, const char *client_cert, discod__curve_t *out);

/* Makes sock a CURVE client when curve is on and endpoint is tcp. */
void discod__curve_apply(const discod__curve_t *curve, void *sock, const char *endpoint);

/* A PAIR socket receiving sock's failed-handshake events, or NULL. */
void *discod__curve_monitor(void *zmq_ctx, void *sock);

/* Did the monitor report a refused handshake since the last call? */
bool discod__curve_refused(void *monitor);

#endif
