/* dc_listen.h: what every listening socket of discod gets before it binds. */
#ifndef DC_LISTEN_H
#define DC_LISTEN_H

#include <czmq.h>

/* The accept backlog for a robot's bring-up: the kernel's somaxconn
 * (/proc/sys/net/core/somaxconn), at least 1024 and at most 65535, instead
 * of ZeroMQ's 100, so that hundreds of nodes connecting over tcp at once are
 * all queued rather than dropped and retried a second later. Read at each
 * call (a handful of sockets at start, on several threads: no shared cache). */
int dc_listen_backlog(void);

/* Sets the backlog on a socket about to bind. */
void dc_listen_prepare(zsock_t *sock);

#endif
