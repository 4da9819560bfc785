/* dc_http_views.c: health and the JSON API (see the .h). */
#include "dc_http_views.h"
#include "dc_graph.h"
#include "dc_json.h"
#include "dc_members.h"
#include "dc_protocol.h"
#include "dc_request.h"
#include "dc_stats.h"

#include <string.h>

/* A follower further behind its leader's commit than this is not ready. */
#define DC_READY_LAG 1000

static void s_text(dc_http_body_t *out, int status, const char *text)
{
    out->status = status;
    out->type = "text/plain; charset=utf-8";
    dc_json_raw(&out->body, text);
    dc_json_raw(&out->body, "\n");
}

static void s_healthz(dc_context_t *ctx, dc_http_body_t *out)
{
    (void)ctx;
    s_text(out, 200, "alive");
}

static void s_readyz(dc_context_t *ctx, dc_http_body_t *out)
{
    char text[256];
    if (!ctx->config->member_id) {
        if (atomic_load(&ctx->commit_failing)) {
            s_text(out, 503, "not ready: the database's last commit failed (see the log)");
            return;
        }
        s_text(out, 200, "ready: standalone");
        return;
    }
    dc_cluster_status_t *c = &ctx->cluster;
    uint64_t leader = atomic_load(&c->leader_id), member = atomic_load(&c->member_id);
    uint64_t commit = atomic_load(&c->commit_index), applied = atomic_load(&c->applied_index);
    if (atomic_load(&c->isolated) && ctx->config->isolated == DC_ISOLATED_SERVE_LOCAL) {
        snprintf(text, sizeof text,
                 "not ready: member %llu is isolated from its cluster: it serves its own "
                 "computer only (%llu provisional write(s) to merge)",
                 (unsigned long long)member, (unsigned long long)atomic_load(&c->provisional));
        s_text(out, 503, text);
    } else if (!leader) {
        snprintf(text, sizeof text,
                 "not ready: member %llu knows no leader (cut off from its cluster, or an "
                 "election under way): it answers reads, not writes",
                 (unsigned long long)member);
        s_text(out, 503, text);
    } else if (commit > applied + DC_READY_LAG) {
        snprintf(text, sizeof text,
                 "not ready: member %llu has applied index %llu, %llu behind the commit "
                 "index %llu",
                 (unsigned long long)member, (unsigned long long)applied,
                 (unsigned long long)(commit - applied), (unsigned long long)commit);
        s_text(out, 503, text);
    } else {
        snprintf(text, sizeof text, "ready: member %llu (%s), leader %llu, term %llu",
                 (unsigned long long)member, dc_role_name(atomic_load(&c->role)),
                 (unsigned long long)leader, (unsigned long long)atomic_load(&c->term));
        s_text(out, 200, text);
    }
}

static void s_json_ok(dc_http_body_t *out)
{
    out->status = 200;
    out->type = "application/json";
}

static void s_topics(dc_context_t *ctx, const dc_http_args_t *args, dc_http_body_t *out)
{
    dc_filter_t filter = {0};
    if (args->prefix)
        filter.prefix = dc_str_from(args->prefix);
    dc_entry_t **entries = NULL;
    size_t n = dc_registry_snapshot(ctx->registry, &filter, &entries);
    if (n == (size_t)-1) {
        s_text(out, 500, "out of memory");
        return;
    }
    s_json_ok(out);
    msgpack_sbuffer *b = &out->body;
    dc_json_raw(b, "[");
    for (size_t i = 0; i < n; i++) {
        const dc_topic_t *t = &entries[i]->topic;
        dc_json_raw(b, i ? ",{\"name\":" : "{\"name\":");
        dc_json_str(b, t->name.ptr, t->name.len);
        dc_json_raw(b, ",\"address\":");
        dc_json_str(b, t->address.ptr, t->address.len);
        dc_json_raw(b, ",\"message_type\":");
        dc_json_str(b, t->message_type.ptr, t->message_type.len);
        dc_json_fmt(
            b, ",\"fingerprint\":%llu,\"publisher_node\":", (unsigned long long)t->fingerprint);
        dc_json_str(b, t->publisher_node.ptr, t->publisher_node.len);
        dc_json_raw(b, "}");
    }
    dc_json_raw(b, "]");
    dc_registry_release_snapshot(entries, n);
}

static void s_nodes(dc_context_t *ctx, dc_http_body_t *out)
{
    dc_node_t **nodes = NULL;
    size_t n = dc_nodes_find(ctx->nodes, (dc_str_t){NULL, 0}, &nodes);
    if (n == (size_t)-1) {
        s_text(out, 500, "out of memory");
        return;
    }
    msgpack_sbuffer packed;
    msgpack_sbuffer_init(&packed);
    dc_graph_pack_nodes(ctx, &packed, nodes, n);
    dc_nodes_release(nodes, n);
    s_json_ok(out);
    if (dc_json_from_msgpack(&out->body, packed.data, packed.size) != 0)
        dc_json_raw(&out->body, "[]");
    msgpack_sbuffer_destroy(&packed);
}

/* GRAPH's reply, as discoctl graph --json prints it: publishers,
 * subscriptions, lookups, mismatches, and the member that answered. */
static void s_graph(dc_context_t *ctx, const dc_http_args_t *args, dc_http_body_t *out)
{
    dc_request_t req;
    dc_request_init(&req, DC_CMD_GRAPH);
    if (args->topic && *args->topic) {
        req.present |= DC_REQ_TOPIC_NAME;
        req.topic_name = dc_str_from(args->topic);
    }
    if (args->node && *args->node) {
        req.present |= DC_REQ_NODE_NAME;
        req.node_name = dc_str_from(args->node);
    }
    msgpack_sbuffer publishers, extra, whole;
    msgpack_sbuffer_init(&publishers);
    msgpack_sbuffer_init(&extra);
    msgpack_sbuffer_init(&whole);
    uint32_t pairs = 0;
    if (dc_graph_pack(ctx, &req, &publishers, &extra, &pairs) == 0) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &whole, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2 + pairs);
        dc_mp_pack_str(&pk, "publishers", 10);
        msgpack_sbuffer_write(&whole, publishers.data, publishers.size);
        msgpack_sbuffer_write(&whole, extra.data, extra.size);
        dc_mp_pack_str(&pk, "member", 6);
        msgpack_pack_uint64(&pk, atomic_load(&ctx->cluster.member_id));
        s_json_ok(out);
        if (dc_json_from_msgpack(&out->body, whole.data, whole.size) != 0)
            s_text(out, 500, "the graph could not be encoded");
    } else
        s_text(out, 500, "out of memory building the graph");
    msgpack_sbuffer_destroy(&publishers);
    msgpack_sbuffer_destroy(&extra);
    msgpack_sbuffer_destroy(&whole);
}

static void s_members(dc_context_t *ctx, dc_http_body_t *out)
{
    msgpack_sbuffer packed;
    msgpack_sbuffer_init(&packed);
    if (dc_members_encode(ctx, &packed) == 0) {
        s_json_ok(out);
        dc_json_fmt(&out->body, "{\"member\":%llu,\"members\":",
                    (unsigned long long)atomic_load(&ctx->cluster.member_id));
        if (dc_json_from_msgpack(&out->body, packed.data, packed.size) != 0)
            dc_json_raw(&out->body, "[]");
        dc_json_raw(&out->body, "}");
    } else
        s_text(out, 500, "out of memory");
    msgpack_sbuffer_destroy(&packed);
}

/* As discoctl stats --json: every counter, and the role by name. */
static void s_stats(dc_context_t *ctx, dc_http_body_t *out)
{
    dc_stat_t stats[DC_STATS_MAX];
    size_t n = dc_stats_collect(ctx, stats, DC_STATS_MAX);
    s_json_ok(out);
    dc_json_raw(&out->body, "{");
    for (size_t i = 0; i < n; i++) {
        dc_json_str(&out->body, stats[i].name, strlen(stats[i].name));
        dc_json_fmt(&out->body, ":%llu,", (unsigned long long)stats[i].value);
    }
    dc_json_raw(&out->body, "\"role_name\":");
    const char *role = dc_role_name(atomic_load(&ctx->cluster.role));
    dc_json_str(&out->body, role, strlen(role));
    dc_json_raw(&out->body, "}");
}

bool dc_http_view(dc_context_t *ctx, const char *path, const dc_http_args_t *args,
                  dc_http_body_t *out)
{
    out->status = 200;
    out->type = "application/json";
    msgpack_sbuffer_init(&out->body);
    if (!strcmp(path, "/healthz"))
        s_healthz(ctx, out);
    else if (!strcmp(path, "/readyz"))
        s_readyz(ctx, out);
    else if (!strcmp(path, "/api/v1/topics"))
        s_topics(ctx, args, out);
    else if (!strcmp(path, "/api/v1/nodes"))
        s_nodes(ctx, out);
    else if (!strcmp(path, "/api/v1/graph"))
        s_graph(ctx, args, out);
    else if (!strcmp(path, "/api/v1/members"))
        s_members(ctx, out);
    else if (!strcmp(path, "/api/v1/stats"))
        s_stats(ctx, out);
    else
        return false;
    return true;
}
