/* dc_metrics.h: /metrics, the daemon's counters in Prometheus' text
 * exposition format (version 0.0.4): requests by command and status,
 * latency histograms (lookup, register, commit), the registry's sizes,
 * expiries, probe removals, mismatches, held waits, events, refused and
 * dropped requests, memory, and in a cluster the Raft role, term and indexes,
 * leader changes and each member's reachability.
 *
 * Design notes: any thread; it reads the context's atomics and tables as
 * STATS does, and the member list under the cluster status lock. */
#ifndef DC_METRICS_H
#define DC_METRICS_H

#include "dc_context.h"

#include <msgpack.h>

/* Appends the exposition to out. */
void dc_metrics_write(dc_context_t *ctx, msgpack_sbuffer *out);

#endif
