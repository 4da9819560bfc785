/* dc_context.h: what the daemon's threads share: the settings, the registry,
 * the boot epoch, counters, the inproc endpoint names and the writer's queues
 * that connect them.
 *
 * Design notes: everything here is written before the threads start and only
 * read afterwards, except the registry and the subscriptions (their own
 * locks), the legacy lookup counts (their own mutex), the counters (atomics,
 * relaxed: they are statistics, not synchronisation), the cluster status
 * (see dc_cluster_status_t) and, in a cluster, the epoch (an atomic written
 * by the cluster thread when an EPOCH change is applied, read for replies).
 * The writer's queues (writes, answers) are set by the front before it
 * starts the threads that use them, and freed after it has stopped them;
 * each has its own lock (dc_handoff.h). */
#ifndef DC_CONTEXT_H
#define DC_CONTEXT_H

#include "dc_config.h"
#include "dc_histogram.h"
#include "dc_lease.h"
#include "dc_list_cache.h"
#include "dc_node.h"
#include "dc_registry.h"

#include <pthread.h>
#include <stdatomic.h>

/* Commands counted one by one in dc_stats_t.replies: 1..20, then 0 for the
 * others (SHUTDOWN, unknown ones). */
#define DC_STAT_COMMANDS 21

static inline int dc_stat_command(int64_t command)
{
    return command > 0 && command < DC_STAT_COMMANDS ? (int)command : 0;
}

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
    atomic_uint_fast64_t commit_pushes;    /* leader: heartbeats hurried on behalf of followers */
    atomic_uint_fast64_t forwarded;        /* follower: ops sent to the leader */
    atomic_uint_fast64_t forward_messages; /* follower: the messages they went in */
    atomic_uint_fast64_t subscribes;       /* subscriptions applied (new or replaced) */
    atomic_uint_fast64_t mismatches_detected; /* publisher/subscriber type mismatches made */
    atomic_uint_fast64_t legacy_lookups;   /* LOOKUPs by protocol 1 clients */
    atomic_uint_fast64_t refused;          /* requests refused for their key's role */
    atomic_uint_fast64_t leader_changes;   /* cluster: the leader this member knows changed */
    atomic_uint_fast64_t island_writes;    /* writes taken while isolated */
    atomic_uint_fast64_t island_merged;    /* of those, merged into the cluster */
    atomic_uint_fast64_t island_conflicts; /* of those, refused by the cluster on merging */
    /* Replies by command (DC_STAT_COMMANDS: dc_stat_command) and status. */
    atomic_uint_fast64_t replies[DC_STAT_COMMANDS][4];
    dc_histogram_t lookup_us;   /* a LOOKUP's time in the daemon */
    dc_histogram_t register_us; /* a REGISTER's, from the front to its answer (commit included) */
    dc_histogram_t commit_us;   /* a batch's commit: SQLite (standalone) or Raft (cluster) */
} dc_stats_t;

/* One member as the cluster thread last saw it (for MEMBERS and STATS). */
typedef struct {
    uint64_t id;
    char address[208]; /* Raft peer address */
    int role;          /* RAFT_VOTER, RAFT_STANDBY or RAFT_SPARE */
    bool reachable;    /* heard from lately (as seen from this member) */
    uint64_t match_index; /* leader's view: replicated up to here (0: unknown) */
} dc_member_view_t;

/* Role codes in dc_cluster_status_t.role. */
enum { DC_ROLE_STANDALONE = 0, DC_ROLE_FOLLOWER, DC_ROLE_CANDIDATE, DC_ROLE_LEADER };

/* The cluster as its thread last saw it. Written by the cluster thread only;
 * readers take the scalars with relaxed loads (each is meaningful alone) and
 * the member list under the mutex. All zero when standalone. */
typedef struct {
    atomic_uint_fast64_t member_id;
    atomic_uint_fast64_t term;
    atomic_uint_fast64_t leader_id; /* 0: no leader known */
    atomic_uint_fast64_t commit_index;
    atomic_uint_fast64_t applied_index;
    atomic_int role;
    atomic_bool isolated;               /* no leader for two election timeouts */
    atomic_uint_fast64_t provisional;   /* writes taken while isolated, not yet merged */
    pthread_mutex_t lock; /* guards the two below */
    dc_member_view_t members[DC_MAX_MEMBERS];
    int member_count;
} dc_cluster_status_t;

typedef struct {
    const dc_config_t *config;
    dc_registry_t *registry;
    dc_registry_t *subs;    /* subscriptions (dc_apply.h) */
    /* Cluster: what a member's island changed, in front of the committed
     * state from the member's return to it until every change is merged or
     * refused (dc_overlay.h, dc_island.h). Written by the cluster thread. */
    struct dc_overlay *merging;
    struct dc_lookups *lookups; /* legacy lookups counted per topic (dc_lookups.h) */
    dc_leases_t *leases;
    dc_nodes_t *nodes;
    dc_list_cache_t *list_cache; /* unfiltered LIST replies (workers) */
    atomic_uint_fast64_t epoch; /* written at start, and by the cluster thread */
    int workers;            /* worker threads actually started */
    uint64_t started_at_ms; /* wall clock */
    uint64_t watchdog_ms;   /* systemd's WatchdogSec, 0: none */
    atomic_uint_fast64_t writer_beat_ms; /* monotonic time of the writer's last loop */
    bool endpoint_is_tcp[DC_MAX_ENDPOINTS];
    bool endpoint_is_curve[DC_MAX_ENDPOINTS]; /* tcp with CURVE: requests carry a key */
    struct dc_keys *keys;   /* client keys and roles (dc_keys.h) */
    struct dc_zap *zap;     /* the ZAP handler and the server certificate (dc_zap.h) */
    dc_stats_t stats;
    dc_cluster_status_t cluster;
    /* inproc names, unique per server so several can share a process. */
    char backend_endpoint[64]; /* front ROUTER <-> worker DEALERs */
    /* The writer's two queues (dc_handoff.h), made and freed by the front:
     * write ops in (from the front, the workers and the prober) and answers
     * out (to the front, which routes them to their clients). */
    struct dc_handoff *writes;  /* dc_write_op_t pointers */
    struct dc_handoff *answers; /* zmsg_t pointers: [route frames...][reply] */
    char events_inproc[64];    /* the events PUB's inproc side (the HTTP event stream) */
    atomic_bool commit_failing; /* standalone: the last commit failed (readiness) */
} dc_context_t;

#define DC_STAT_INC(ctx, field) \
    atomic_fetch_add_explicit(&(ctx)->stats.field, 1, memory_order_relaxed)

/* Counts one reply of status to command. */
static inline void dc_stat_reply(dc_stats_t *s, int64_t command, int status)
{
    if (status >= 0 && status < 4)
        atomic_fetch_add_explicit(&s->replies[dc_stat_command(command)][status], 1,
                                  memory_order_relaxed);
}

/* Sets what every protocol 2 reply says of the daemon: its epoch and, in a
 * cluster, the answering member and its Raft term. */
static inline void dc_context_stamp(dc_context_t *ctx, dc_reply_t *r)
{
    r->epoch = atomic_load_explicit(&ctx->epoch, memory_order_relaxed);
    r->member_id = atomic_load_explicit(&ctx->cluster.member_id, memory_order_relaxed);
    r->term = atomic_load_explicit(&ctx->cluster.term, memory_order_relaxed);
    r->isolated = atomic_load_explicit(&ctx->cluster.isolated, memory_order_relaxed);
    r->provisional_count =
        r->isolated ? atomic_load_explicit(&ctx->cluster.provisional, memory_order_relaxed) : 0;
}

#endif
