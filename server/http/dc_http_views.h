/* dc_http_views.h: what the HTTP listener answers, as bodies: /healthz,
 * /readyz, and /api/v1/topics, nodes, graph, members, stats (JSON with the
 * fields of `discoctl --json`).
 *
 * Design notes: called on the listener's connection threads; each view reads
 * the registry, the tables and the counters the way a worker does (their own
 * locks), never writes. */
#ifndef DC_HTTP_VIEWS_H
#define DC_HTTP_VIEWS_H

#include "dc_context.h"

#include <msgpack.h>

typedef struct {
    int status;       /* HTTP status */
    const char *type; /* Content-Type */
    msgpack_sbuffer body;
} dc_http_body_t;

/* What a view may be asked (query arguments; NULL: absent). */
typedef struct {
    const char *topic;  /* graph: one topic */
    const char *node;   /* graph: one node's part */
    const char *prefix; /* topics: names starting with it */
} dc_http_args_t;

/* Fills out (its body initialised here) for path; returns false when no view
 * has that path. */
bool dc_http_view(dc_context_t *ctx, const char *path, const dc_http_args_t *args,
                  dc_http_body_t *out);

#endif
