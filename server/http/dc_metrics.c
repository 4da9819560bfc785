/* dc_metrics.c: the Prometheus exposition (see the .h). */
#include "dc_metrics.h"
#include "dc_graph.h"
#include "dc_json.h"
#include "dc_keys.h"
#include "dc_members.h"
#include "dc_protocol.h"
#include "discod_version.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void s_head(msgpack_sbuffer *out, const char *name, const char *type, const char *help)
{
    dc_json_fmt(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void s_value(msgpack_sbuffer *out, const char *name, const char *type, const char *help,
                    uint64_t value)
{
    s_head(out, name, type, help);
    dc_json_fmt(out, "%s %llu\n", name, (unsigned long long)value);
}

#define COUNTER(name, help, field)                                                                 \
    s_value(out, name, "counter", help, atomic_load_explicit(&s->field, memory_order_relaxed))

/* "lookup", "register", ... from the command's wire name. */
static void s_command_label(int index, char *out, size_t size)
{
    const char *name = index ? dc_command_name(index) : "other";
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)name[i]);
    out[i] = 0;
    if (!strcmp(out, "an unknown command"))
        snprintf(out, size, "other");
}

static void s_histogram_series(msgpack_sbuffer *out, const char *name, const char *labels,
                               const dc_histogram_t *h)
{
    static const uint64_t bounds[DC_HISTOGRAM_BUCKETS] = DC_HISTOGRAM_BOUNDS;
    uint64_t cumulative = 0;
    const char *sep = *labels ? "," : "";
    for (int i = 0; i <= DC_HISTOGRAM_BUCKETS; i++) {
        cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < DC_HISTOGRAM_BUCKETS)
            dc_json_fmt(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                        (double)bounds[i] / 1e6, (unsigned long long)cumulative);
        else
            dc_json_fmt(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                        (unsigned long long)cumulative);
    }
    const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
    dc_json_fmt(out, "%s_sum%s%s%s %.6f\n", name, open, labels, close,
                (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    dc_json_fmt(out, "%s_count%s%s%s %llu\n", name, open, labels, close,
                (unsigned long long)atomic_load_explicit(&h->count, memory_order_relaxed));
}

static uint64_t s_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void s_cluster(dc_context_t *ctx, msgpack_sbuffer *out)
{
    dc_cluster_status_t *c = &ctx->cluster;
    int role = atomic_load(&c->role);
    s_head(out, "discod_cluster_role", "gauge",
           "1 for the Raft role this member has now (follower, candidate, leader)");
    for (int r = DC_ROLE_FOLLOWER; r <= DC_ROLE_LEADER; r++)
        dc_json_fmt(out, "discod_cluster_role{role=\"%s\"} %d\n", dc_role_name(r), role == r);
    s_value(out, "discod_cluster_leader", "gauge", "the leader's member id (0: none known)",
            atomic_load(&c->leader_id));
    s_value(out, "discod_raft_term", "gauge", "the Raft term", atomic_load(&c->term));
    s_value(out, "discod_raft_commit_index", "gauge", "the Raft commit index",
            atomic_load(&c->commit_index));
    s_value(out, "discod_raft_applied_index", "gauge", "the last Raft index applied here",
            atomic_load(&c->applied_index));
    s_value(out, "discod_leader_changes_total", "counter",
            "times the leader this member knows changed", atomic_load(&ctx->stats.leader_changes));
    s_head(out, "discod_member_reachable", "gauge",
           "1 when the member was heard from lately, as seen from this member");
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->member_count; i++) {
        msgpack_sbuffer address;
        msgpack_sbuffer_init(&address);
        dc_json_str(&address, c->members[i].address, strlen(c->members[i].address));
        dc_json_fmt(out, "discod_member_reachable{member=\"%llu\",address=%.*s} %d\n",
                    (unsigned long long)c->members[i].id, (int)address.size, address.data,
                    c->members[i].reachable ? 1 : 0);
        msgpack_sbuffer_destroy(&address);
    }
    pthread_mutex_unlock(&c->lock);
}

void dc_metrics_write(dc_context_t *ctx, msgpack_sbuffer *out)
{
    dc_stats_t *s = &ctx->stats;
    s_head(out, "discod_info", "gauge", "the daemon's version and member id (always 1)");
    dc_json_fmt(out, "discod_info{version=\"%s\",member=\"%llu\"} 1\n", DISCOD_VERSION,
                (unsigned long long)atomic_load(&ctx->cluster.member_id));
    s_value(out, "discod_epoch", "gauge", "the boot epoch (raised at every start; a cluster's)",
            atomic_load(&ctx->epoch));
    s_head(out, "discod_requests_total", "counter", "replies sent, by command and status");
    static const char *statuses[4] = {"ok", "not_found", "already_exists", "error"};
    for (int cmd = 0; cmd < DC_STAT_COMMANDS; cmd++)
        for (int st = 0; st < 4; st++) {
            uint64_t n = atomic_load_explicit(&s->replies[cmd][st], memory_order_relaxed);
            if (!n)
                continue;
            char label[32];
            s_command_label(cmd, label, sizeof label);
            dc_json_fmt(out, "discod_requests_total{command=\"%s\",status=\"%s\"} %llu\n", label,
                        statuses[st], (unsigned long long)n);
        }
    s_head(out, "discod_request_duration_seconds", "histogram",
           "time in the daemon: a LOOKUP's, a REGISTER's from its arrival to its answer");
    s_histogram_series(out, "discod_request_duration_seconds", "command=\"lookup\"", &s->lookup_us);
    s_histogram_series(out, "discod_request_duration_seconds", "command=\"register\"",
                       &s->register_us);
    s_head(out, "discod_commit_duration_seconds", "histogram",
           "a batch's commit: one SQLite transaction standalone, a Raft entry in a cluster");
    s_histogram_series(out, "discod_commit_duration_seconds", "", &s->commit_us);
    uint64_t commits = atomic_load(&s->commits);
    s_value(out, "discod_commits_total", "counter", "write transactions committed", commits);
    s_value(out, "discod_fsyncs_total", "counter",
            "fsyncs of the database (one a commit at synchronous=FULL, standalone)",
            ctx->config->sync == DC_SYNC_FULL && !ctx->config->member_id ? commits : 0);
    COUNTER("discod_commit_failures_total", "commits that failed", commit_failures);
    COUNTER("discod_batched_writes_total", "writes carried by those commits", batched_writes);
    s_value(out, "discod_topics", "gauge", "registrations held (a topic of three publishers: 3)",
            dc_registry_count(ctx->registry));
    s_value(out, "discod_subscriptions", "gauge", "subscriptions held",
            dc_registry_count(ctx->subs));
    s_value(out, "discod_nodes", "gauge", "nodes registered", dc_nodes_count(ctx->nodes));
    s_value(out, "discod_leases", "gauge", "leases held", dc_leases_count(ctx->leases));
    s_value(out, "discod_waiters", "gauge", "WAIT_TOPIC requests held now",
            atomic_load(&s->waiters));
    COUNTER("discod_registrations_total", "registrations applied", registrations);
    COUNTER("discod_unregistrations_total", "unregistrations applied", unregistrations);
    COUNTER("discod_subscribes_total", "subscriptions applied", subscribes);
    COUNTER("discod_lease_expiries_total", "leases that expired", leases_expired);
    COUNTER("discod_topics_expired_total", "registrations removed with their lease",
            topics_expired);
    COUNTER("discod_probe_removals_total",
            "lease-less registrations removed by the prober (or the legacy TTL)", endpoints_dead);
    s_value(out, "discod_mismatches", "gauge",
            "publisher and subscriber pairs of a topic that disagree on its type now",
            dc_graph_mismatch_count(ctx));
    COUNTER("discod_mismatches_detected_total", "type mismatches made (one WARNING each)",
            mismatches_detected);
    COUNTER("discod_events_total", "events published", events);
    COUNTER("discod_errors_total", "ERROR replies", errors);
    COUNTER("discod_refused_total", "requests refused for their key's role", refused);
    COUNTER("discod_dropped_total", "frames without a valid envelope", dropped);
    COUNTER("discod_deduplicated_total", "retried writes answered from their first answer",
            deduplicated);
    COUNTER("discod_heartbeats_total", "lease renewals", heartbeats);
    COUNTER("discod_waits_total", "WAIT_TOPIC requests", waits);
    COUNTER("discod_legacy_lookups_total", "LOOKUPs by protocol 1 clients", legacy_lookups);
    s_value(out, "process_resident_memory_bytes", "gauge", "resident memory", s_rss_bytes());
    s_head(out, "process_start_time_seconds", "gauge", "start time, seconds since the epoch");
    dc_json_fmt(out, "process_start_time_seconds %.3f\n", (double)ctx->started_at_ms / 1000.0);
    if (ctx->config->member_id)
        s_cluster(ctx, out);
}
