/* discod_datagram.h: the client side of the datagram channel: a unix
 * datagram socket connected to PATH.hb beside the daemon's ipc endpoint
 * PATH, carrying PING and HEARTBEAT (proto/PROTOCOL.md, part 3). Not
 * installed. */
#ifndef DISCOD_DATAGRAM_H
#define DISCOD_DATAGRAM_H

#include <stddef.h>
#include <sys/types.h>

typedef struct discod__datagram discod__datagram_t;

/* Opens the channel beside an "ipc://PATH" endpoint. NULL when there is none:
 * not ipc, no PATH.hb, or nobody bound to it. */
discod__datagram_t *discod__datagram_open(const char *endpoint);

/* The endpoint the channel was opened for. */
const char *discod__datagram_endpoint(const discod__datagram_t *d);

/* Sends one request body and waits up to timeout_ms for the reply, which is
 * copied into reply (at most max bytes). Returns the reply's size, or -1:
 * the channel failed and must be closed (a late reply then goes with it). */
ssize_t discod__datagram_exchange(discod__datagram_t *d, const void *body, size_t size, void *reply,
                                  size_t max, int timeout_ms);

void discod__datagram_close(discod__datagram_t **d_p);

#endif
