/* dc_stats.c: the counters STATS answers (see the .h). */
#include "dc_stats.h"
#include "dc_clock.h"
#include "dc_graph.h"

#include <string.h>

size_t dc_stats_collect(dc_context_t *ctx, dc_stat_t *out, size_t cap)
{
    dc_stats_t *s = &ctx->stats;
    dc_cluster_status_t *c = &ctx->cluster;
    uint64_t commits = atomic_load(&s->commits);
    const dc_stat_t all[] = {
        {"topics", dc_registry_count(ctx->registry)},
        {"epoch", atomic_load(&ctx->epoch)},
        {"uptime_ms", dc_wall_ms() - ctx->started_at_ms},
        {"requests", atomic_load(&s->requests)},
        {"errors", atomic_load(&s->errors)},
        {"lookups", atomic_load(&s->lookups)},
        {"lists", atomic_load(&s->lists)},
        {"registrations", atomic_load(&s->registrations)},
        {"unregistrations", atomic_load(&s->unregistrations)},
        {"commits", commits},
        {"commit_failures", atomic_load(&s->commit_failures)},
        {"batched_writes", atomic_load(&s->batched_writes)},
        {"deduplicated", atomic_load(&s->deduplicated)},
        {"dropped", atomic_load(&s->dropped)},
        {"workers", (uint64_t)ctx->workers},
        {"leases", dc_leases_count(ctx->leases)},
        {"nodes", dc_nodes_count(ctx->nodes)},
        {"heartbeats", atomic_load(&s->heartbeats)},
        {"datagrams", atomic_load(&s->datagrams)},
        {"leases_expired", atomic_load(&s->leases_expired)},
        {"topics_expired", atomic_load(&s->topics_expired)},
        {"endpoints_dead", atomic_load(&s->endpoints_dead)},
        {"waits", atomic_load(&s->waits)},
        {"waiters", atomic_load(&s->waiters)},
        {"events", atomic_load(&s->events)},
        /* The cluster (member 0 and role 0 when standalone). */
        {"member", atomic_load(&c->member_id)},
        {"role", (uint64_t)atomic_load(&c->role)},
        {"leader", atomic_load(&c->leader_id)},
        {"term", atomic_load(&c->term)},
        {"commit_index", atomic_load(&c->commit_index)},
        {"applied_index", atomic_load(&c->applied_index)},
        {"commit_pushes", atomic_load(&s->commit_pushes)},
        {"forwarded", atomic_load(&s->forwarded)},
        {"forward_messages", atomic_load(&s->forward_messages)},
        /* Subscriptions and what they tell (proto/PROTOCOL.md, GRAPH). */
        {"subscriptions", dc_registry_count(ctx->subs)},
        {"subscribes", atomic_load(&s->subscribes)},
        {"mismatches", dc_graph_mismatch_count(ctx)},
        {"mismatches_detected", atomic_load(&s->mismatches_detected)},
        {"legacy_lookups", atomic_load(&s->legacy_lookups)},
        {"refused", atomic_load(&s->refused)},
        {"leader_changes", atomic_load(&s->leader_changes)},
        /* A member cut off from its cluster (proto/PROTOCOL.md, "Isolated"). */
        {"isolated", atomic_load(&c->isolated)},
        {"provisional", atomic_load(&c->provisional)},
        {"island_writes", atomic_load(&s->island_writes)},
        {"island_merged", atomic_load(&s->island_merged)},
        {"island_conflicts", atomic_load(&s->island_conflicts)},
    };
    size_t n = sizeof all / sizeof all[0];
    if (n > cap)
        n = cap;
    memcpy(out, all, n * sizeof *out);
    return n;
}
