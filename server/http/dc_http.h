/* dc_http.h: the HTTP listener (libmicrohttpd), off unless --http
 * HOST:PORT: /metrics, /healthz, /readyz, /api/v1/..., /api/v1/events and the
 * dashboard at / (assets compiled in: nothing comes from the network).
 * Read-only: only GET and HEAD. An address off loopback needs a bearer token
 * (--http-token FILE) or --insecure-http.
 *
 * Bounded whatever clients do: at most DC_HTTP_MAX_CONNECTIONS connections
 * (DC_HTTP_MAX_PER_IP from one address), 16 KiB of request headers and URL
 * each (more: 431/414 from libmicrohttpd), a connection idle for 15 s is
 * closed, and a slow reader holds only its own thread.
 *
 * Design notes: libmicrohttpd runs a thread per connection (a stream of
 * events blocks in its own thread, and a slow client slows nobody else);
 * those threads read the registry, tables and counters as workers do
 * (dc_http_views.h, dc_metrics.h) and never write; the listener's own state
 * (token, stopping flag) is written before the first thread starts and at
 * stop. */
#ifndef DC_HTTP_H
#define DC_HTTP_H

#include "dc_context.h"

#define DC_HTTP_MAX_CONNECTIONS 64
#define DC_HTTP_MAX_PER_IP 32

typedef struct dc_http dc_http_t;

/* Starts the listener of ctx's config (NULL config address: returns NULL
 * with *failed false). On a bad address, a missing token file or a bind that
 * fails: logs why, sets *failed, returns NULL. */
dc_http_t *dc_http_start(dc_context_t *ctx, bool *failed);

/* Ends every event stream, stops the threads, frees. Safe on NULL. */
void dc_http_stop(dc_http_t **self_p);

/* The port it listens on (the one chosen when PORT was 0). */
uint16_t dc_http_port(const dc_http_t *self);

#endif
