/* dc_context.h: what the daemon's threads share: the settings, the registry,
 * the boot epoch, counters, and the inproc endpoint names that connect them.
 *
 * Design notes: everything here is written before the threads start and only
 * read afterwards, except the registry (its own lock) and the counters
 * (atomics, relaxed: they are statistics, not synchronisation). */
#ifndef DC_CONTEXT_H
#define DC_CONTEXT_H

#include "dc_config.h"
#include "dc_lease.h"
#include "dc_list_cache.h"
#include "dc_node.h"
#include "dc_registry.h"

#include <stdatomic.h>

typedef struct {
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t errors;       /* ERROR replies */
    atomic_uint_fast64_t lookups;
    atomic_uint_fast64_t lists;
    atomic_uint_fast64_t registrations;
    atomic_uint_fast64_t unregistrations;
    atomic_uint_fast64_t commits;      /* write transactions committed (one fsync each at FULL) */
    atomic_uint_fast64_t commit_failures;
    atomic_uint_fast64_t batched_writes; /* writes carried by those commits */
    atomic_uint_fast64_t deduplicated; /* retried writes answered from the request_id cache */
    atomic_uint_fast64_t dropped;      /* frames without a valid envelope */
    atomic_uint_fast64_t heartbeats;
    atomic_uint_fast64_t datagrams;        /* requests taken on the datagram channel */
    atomic_uint_fast64_t leases_expired;
    atomic_uint_fast64_t topics_expired;   /* removed with their lease */
    atomic_uint_fast64_t endpoints_dead;   /* lease-less topics removed by the prober */
    atomic_uint_fast64_t waits;            /* WAIT_TOPIC requests */
    atomic_uint_fast64_t waiters;          /* held right now */
    atomic_uint_fast64_t events;           /* events published */
} dc_stats_t;

typedef struct {
    const dc_config_t *config;
    dc_registry_t *registry;
    dc_leases_t *leases;
    dc_nodes_t *nodes;
    dc_list_cache_t *list_cache; /* unfiltered LIST replies (workers) */
    uint64_t epoch;
    int workers;            /* worker threads actually started */
    uint64_t started_at_ms; /* wall clock */
    uint64_t watchdog_ms;   /* systemd's WatchdogSec, 0: none */
    atomic_uint_fast64_t writer_beat_ms; /* monotonic time of the writer's last loop */
    bool endpoint_is_tcp[DC_MAX_ENDPOINTS];
    dc_stats_t stats;
    /* inproc names, unique per server so several can share a process. */
    char backend_endpoint[64]; /* front ROUTER <-> worker DEALERs */
    char writes_endpoint[64];  /* worker PUSH -> writer PULL */
    char replies_endpoint[64]; /* writer PUSH -> front PULL */
} dc_context_t;

#define DC_STAT_INC(ctx, field) \
    atomic_fetch_add_explicit(&(ctx)->stats.field, 1, memory_order_relaxed)

#endif
