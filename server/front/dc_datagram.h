/* dc_datagram.h: the datagram channel. Beside each ipc endpoint PATH the
 * daemon binds a unix datagram socket PATH.hb that answers PING and
 * HEARTBEAT: one request body per datagram, one reply body back to the
 * sender, the same bytes as on the ROUTER (proto/PROTOCOL.md, part 3).
 *
 * Design notes: a heartbeat is tiny, frequent and idempotent. Through ZeroMQ
 * each one wakes the I/O thread twice and the front once (about 25 us of CPU
 * on the development machine); here a thread per channel wakes once, takes
 * every waiting datagram with one recvmmsg and answers them with one
 * sendmmsg (about 7 us). A thread of its own, so nothing waits on the front.
 * Replies never block: a client whose buffer is full loses its reply and
 * asks again (or falls back to the ROUTER). */
#ifndef DC_DATAGRAM_H
#define DC_DATAGRAM_H

#include "dc_context.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct dc_datagram dc_datagram_t;

/* The datagram socket path of an ipc socket path: "PATH.hb". Returns 0, or
 * -1 when it does not fit out or a unix socket address. */
int dc_datagram_path(const char *ipc_path, char *out, size_t size);

/* Appends the reply to one datagram body to out: PING and HEARTBEAT are
 * answered, anything else (another command, bad msgpack, a body that arrived
 * truncated) gets ERROR. Any thread; exposed for the fuzz target. */
void dc_datagram_answer(dc_context_t *ctx, const unsigned char *data, size_t size, bool truncated,
                        msgpack_sbuffer *out);

/* Binds PATH.hb beside each of the ipc socket paths (the caller owns those
 * endpoints, so a file already there is stale and replaced), gives each the
 * ipc mode and group, and starts the thread. Returns NULL (logged) on
 * failure. */
dc_datagram_t *dc_datagram_new(dc_context_t *ctx, const char *const *ipc_paths, int count);

/* Stops the thread, closes and unlinks the sockets. */
void dc_datagram_destroy(dc_datagram_t **self_p);

#endif
