/* dc_stats.h: the counters STATS answers, by name, as one table: the
 * workers' STATS reply and the HTTP listener's /api/v1/stats read it (the
 * /metrics exposition names and types them for Prometheus itself).
 *
 * Design notes: any thread; the counters are the context's atomics, the
 * sizes each table's own count under its lock. */
#ifndef DC_STATS_H
#define DC_STATS_H

#include "dc_context.h"

/* Enough room for every counter. */
#define DC_STATS_MAX 64

/* Fills out (cap entries) with the counters; returns how many. */
size_t dc_stats_collect(dc_context_t *ctx, dc_stat_t *out, size_t cap);

#endif
