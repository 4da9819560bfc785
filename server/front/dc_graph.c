/* dc_graph.c: the GRAPH reply (see the .h). */
#include "dc_graph.h"
#include "dc_clock.h"
#include "dc_lookups.h"
#include "dc_mismatch.h"
#include "dc_protocol.h"

#include <stdlib.h>
#include <string.h>

/* The entries GRAPH covers in registry r: of one topic, of one node, or all.
 * Returns the count ((size_t)-1: out of memory). */
static size_t s_select(dc_registry_t *r, const dc_request_t *req, dc_entry_t ***out)
{
    *out = NULL;
    if ((req->present & DC_REQ_TOPIC_NAME) && req->topic_name.len)
        return dc_registry_lookup_all(r, req->topic_name, out, NULL);
    dc_filter_t filter = {0};
    if (req->present & DC_REQ_NODE_NAME)
        filter.publisher_node = req->node_name;
    return dc_registry_snapshot(r, &filter, out);
}

static void s_release(dc_entry_t **entries, size_t n)
{
    if (n != (size_t)-1)
        dc_registry_release_snapshot(entries, n); /* a snapshot of none is an array too */
}

/* One publisher (sub false: with its address) or subscription. */
static void s_pack_entry(dc_context_t *ctx, const dc_entry_t *e, bool sub, uint64_t now,
                         msgpack_packer *pk)
{
    uint64_t expiry = e->lease_id ? dc_leases_expiry(ctx->leases, e->lease_id) : 0;
    unsigned fields = DC_ENTRY_TOPIC | DC_ENTRY_NODE | DC_ENTRY_TYPE | (sub ? 0 : DC_ENTRY_ADDRESS);
    msgpack_pack_map(pk, dc_entry_pair_count(fields) + 5 + !!e->metadata.data);
    dc_entry_pack_pairs(e, fields, pk);
    dc_mp_pack_str(pk, "lease_id", 8);
    msgpack_pack_uint64(pk, e->lease_id);
    dc_mp_pack_str(pk, "lease_remaining_ms", 18);
    msgpack_pack_uint64(pk, expiry > now ? expiry - now : 0);
    dc_mp_pack_str(pk, "registered_at_ms", 16);
    msgpack_pack_uint64(pk, e->registered_at_ms);
    dc_mp_pack_str(pk, "origin", 6);
    msgpack_pack_uint64(pk, e->origin);
    dc_mp_pack_str(pk, "mismatched", 10);
    msgpack_pack_uint64(pk, dc_mismatch_each(ctx->registry, ctx->subs, e, sub, NULL, NULL));
    if (e->metadata.data) {
        dc_mp_pack_str(pk, "metadata", 8);
        pk->callback(pk->data, (const char *)e->metadata.data, e->metadata.size);
    }
}

typedef struct {
    msgpack_packer *pk;        /* NULL: count only */
    const char *skip_sub_node; /* a subscriber's mismatches counted elsewhere, or NULL */
    uint64_t count;
} mm_t;

static void s_mismatch(void *arg, const dc_entry_t *pub, const dc_entry_t *sub)
{
    mm_t *m = arg;
    if (m->skip_sub_node && !strcmp(sub->topic.publisher_node.ptr, m->skip_sub_node))
        return;
    m->count++;
    if (m->pk)
        dc_mismatch_pack(pub, sub, m->pk);
}

/* The mismatches of the subscriptions subs and, for a node's view, of its
 * publications pubs (with subscribers other than the node itself). */
static uint64_t s_mismatches(dc_context_t *ctx, dc_entry_t **subs, size_t sub_count,
                             dc_entry_t **pubs, size_t pub_count, const char *node,
                             msgpack_packer *pk)
{
    mm_t m = {pk, NULL, 0};
    for (size_t i = 0; i < sub_count; i++)
        dc_mismatch_each(ctx->registry, ctx->subs, subs[i], true, s_mismatch, &m);
    m.skip_sub_node = node;
    for (size_t i = 0; node && i < pub_count; i++)
        dc_mismatch_each(ctx->registry, ctx->subs, pubs[i], false, s_mismatch, &m);
    return m.count;
}

int dc_graph_pack(dc_context_t *ctx, const dc_request_t *req, msgpack_sbuffer *publishers,
                  msgpack_sbuffer *extra, uint32_t *extra_pairs)
{
    dc_entry_t **pubs = NULL, **subs = NULL;
    size_t pub_count = s_select(ctx->registry, req, &pubs);
    size_t sub_count = s_select(ctx->subs, req, &subs);
    if (pub_count == (size_t)-1 || sub_count == (size_t)-1) {
        s_release(pubs, pub_count);
        s_release(subs, sub_count);
        return -1;
    }
    uint64_t now = dc_mono_ms();
    msgpack_packer pk;
    msgpack_packer_init(&pk, publishers, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, pub_count);
    for (size_t i = 0; i < pub_count; i++)
        s_pack_entry(ctx, pubs[i], false, now, &pk);
    msgpack_packer_init(&pk, extra, msgpack_sbuffer_write);
    dc_mp_pack_str(&pk, "subscriptions", 13);
    msgpack_pack_array(&pk, sub_count);
    for (size_t i = 0; i < sub_count; i++)
        s_pack_entry(ctx, subs[i], true, now, &pk);
    /* Legacy lookups say no node: a node's view has none. */
    dc_mp_pack_str(&pk, "lookups", 7);
    bool by_topic = (req->present & DC_REQ_TOPIC_NAME) && req->topic_name.len;
    if (req->present & DC_REQ_NODE_NAME && !by_topic)
        msgpack_pack_array(&pk, 0);
    else
        dc_lookups_pack(ctx->lookups, by_topic ? req->topic_name : (dc_str_t){NULL, 0}, by_topic,
                        &pk);
    const char *node = NULL;
    char node_buf[DC_MAX_NODE_LEN + 1];
    if ((req->present & DC_REQ_NODE_NAME) && !by_topic) {
        memcpy(node_buf, req->node_name.ptr, req->node_name.len);
        node_buf[req->node_name.len] = 0;
        node = node_buf;
    }
    dc_mp_pack_str(&pk, "mismatches", 10);
    uint64_t n = s_mismatches(ctx, subs, sub_count, pubs, pub_count, node, NULL);
    msgpack_pack_array(&pk, n);
    s_mismatches(ctx, subs, sub_count, pubs, pub_count, node, &pk);
    *extra_pairs = 3;
    s_release(pubs, pub_count);
    s_release(subs, sub_count);
    return publishers->data && extra->data ? 0 : -1;
}

uint64_t dc_graph_mismatch_count(dc_context_t *ctx)
{
    dc_entry_t **subs = NULL;
    size_t n = dc_registry_snapshot(ctx->subs, NULL, &subs);
    if (n == (size_t)-1)
        return 0;
    uint64_t count = s_mismatches(ctx, subs, n, NULL, 0, NULL, NULL);
    s_release(subs, n);
    return count;
}

void dc_graph_pack_nodes(dc_context_t *ctx, msgpack_sbuffer *buf, dc_node_t **nodes, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        dc_filter_t by_node = {{NULL, 0}, {NULL, 0}, dc_str_from(nodes[i]->name), NULL};
        dc_entry_t **entries = NULL;
        size_t count = dc_registry_snapshot(ctx->registry, &by_node, &entries);
        if (count == (size_t)-1)
            count = 0;
        const char **names = malloc((count ? count : 1) * sizeof *names);
        if (!names)
            count = 0;
        for (size_t k = 0; k < count; k++)
            names[k] = entries[k]->topic.name.ptr;
        dc_node_pack(nodes[i], &pk, names, count);
        free(names);
        dc_registry_release_snapshot(entries, count);
    }
}
