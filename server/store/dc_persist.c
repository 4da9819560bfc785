/* dc_persist.c: changes <-> SQLite rows (see the .h). */
#include "dc_persist.h"
#include "dc_failpoint.h"
#include "dc_log.h"
#include "dc_state_copy.h"

#include <string.h>

/* Writes one change's rows into the open transaction. */
static int s_write(dc_store_t *store, const dc_change_t *c)
{
    switch (c->kind) {
    case DC_REC_TOPIC_PUT:
    case DC_REC_SUB_PUT: {
        const dc_entry_t *e = c->entry;
        dc_stored_topic_t t = {e->topic,          e->create_seq, e->lease_id,
                               e->metadata.data,  e->metadata.size,
                               e->registered_at_ms, e->origin,   dc_str_from(e->owner)};
        return c->kind == DC_REC_TOPIC_PUT ? dc_store_put_topic(store, &t)
                                           : dc_store_put_sub(store, &t);
    }
    case DC_REC_SUB_REMOVE:
        return dc_store_delete_sub(store, dc_str_from(c->name),
                                   dc_str_from(c->publisher_node ? c->publisher_node : ""));
    case DC_REC_TOPIC_REMOVE:
        return dc_store_delete_topic(store, dc_str_from(c->name),
                                     c->publisher_node ? dc_str_from(c->publisher_node)
                                                       : (dc_str_t){NULL, 0});
    case DC_REC_LEASE_GRANT:
        return dc_store_put_lease(store, c->lease_id, c->ttl_ms, c->at_ms, c->owner);
    case DC_REC_LEASE_RENEW:
        return dc_store_touch_lease(store, c->lease_id, c->at_ms);
    case DC_REC_LEASE_REMOVE:
        return dc_store_delete_lease(store, c->lease_id);
    case DC_REC_NODE_PUT: {
        const dc_node_t *n = c->node;
        dc_stored_node_t s = {n->name,
                              n->description,
                              n->capabilities_blob.data,
                              n->capabilities_blob.size,
                              n->metadata.data,
                              n->metadata.size,
                              n->lease_id,
                              n->owner};
        return dc_store_put_node(store, &s);
    }
    case DC_REC_NODE_REMOVE:
        return dc_store_delete_node(store, c->name);
    case DC_REC_EPOCH:
        return dc_store_meta_set(store, "epoch", c->value);
    case DC_REC_REQUEST: {
        dc_stored_request_t r = {c->value, c->status, c->text, c->lease_id, c->ttl_ms};
        return dc_store_put_request(store, dc_dedup_slot(c->value), &r);
    }
    case DC_REC_MEMBER:
        return dc_store_put_member(store, c->value, c->text ? c->text : "");
    case DC_REC_SEQS:
        return 0; /* the counters are written once per transaction */
    }
    return 0;
}

static int s_write_seqs(dc_store_t *store, const uint64_t seqs[3], uint64_t raft_index)
{
    if (dc_store_meta_set(store, "raft_index", raft_index) != 0 ||
        dc_store_meta_set(store, "change_seq", seqs[0]) != 0 ||
        dc_store_meta_set(store, "lease_seq", seqs[1]) != 0 ||
        dc_store_meta_set(store, "event_seq", seqs[2]) != 0)
        return -1;
    return 0;
}

int dc_persist_rows(dc_store_t *store, const dc_state_t *state, const dc_changes_t *batch)
{
    int rc = 0;
    for (size_t i = 0; i < batch->count && rc == 0; i++)
        rc = s_write(store, &batch->items[i]);
    uint64_t seqs[3];
    dc_state_seqs_after(state, batch, seqs);
    if (rc == 0)
        rc = s_write_seqs(store, seqs, state->applied_index);
    return rc;
}

int dc_persist_batch(dc_store_t *store, const dc_state_t *state, const dc_changes_t *batch)
{
    if (dc_store_begin(store) != 0)
        return -1;
    int rc = dc_persist_rows(store, state, batch);
    dc_failpoint("slow-commit");
    dc_failpoint("before-commit");
    if (rc == 0)
        rc = dc_store_commit(store);
    if (rc != 0)
        dc_store_rollback(store);
    else
        dc_failpoint("after-commit");
    return rc;
}

/*==== Loading: rows -> changes -> dc_apply ====*/

typedef struct {
    dc_state_t *state;
    uint64_t now;
} load_t;

static int s_replay(load_t *l, dc_change_t *c)
{
    dc_apply(l->state, c, l->now, NULL);
    dc_change_release(c);
    return 0;
}

static int s_load_lease(void *arg, uint64_t id, uint64_t ttl_ms, uint64_t renewed_at_ms,
                        const char *owner)
{
    dc_change_t c = {
        .kind = DC_REC_LEASE_GRANT, .lease_id = id, .ttl_ms = ttl_ms, .at_ms = renewed_at_ms};
    snprintf(c.owner, sizeof c.owner, "%s", owner);
    return s_replay(arg, &c);
}

static int s_load_entry(void *arg, const dc_stored_topic_t *t, dc_rec_kind_t kind)
{
    dc_rec_t r = {.kind = kind,
                  .topic = t->topic,
                  .create_seq = t->create_seq,
                  .lease_id = t->lease_id,
                  .at_ms = t->registered_at_ms,
                  .value = t->origin,
                  .metadata = t->metadata,
                  .metadata_size = t->metadata_size,
                  .owner = t->owner};
    dc_change_t c;
    if (dc_change_from_rec(&c, &r) != 0)
        return -1;
    return s_replay(arg, &c);
}

static int s_load_topic(void *arg, const dc_stored_topic_t *t)
{
    return s_load_entry(arg, t, DC_REC_TOPIC_PUT);
}

static int s_load_sub(void *arg, const dc_stored_topic_t *t)
{
    return s_load_entry(arg, t, DC_REC_SUB_PUT);
}

static int s_load_node(void *arg, const dc_stored_node_t *n)
{
    dc_change_t c = {.kind = DC_REC_NODE_PUT};
    c.node = dc_node_from_parts(n->name, n->description, n->capabilities, n->capabilities_size,
                                n->metadata, n->metadata_size, n->lease_id);
    if (!c.node)
        return -1;
    snprintf(c.node->owner, sizeof c.node->owner, "%s", n->owner ? n->owner : "");
    return s_replay(arg, &c);
}

static int s_load_request(void *arg, const dc_stored_request_t *r)
{
    dc_change_t c = {.kind = DC_REC_REQUEST,
                     .value = r->request_id,
                     .status = r->status,
                     .lease_id = r->lease_id,
                     .ttl_ms = r->lease_ttl_ms};
    c.text = strdup(r->message);
    if (!c.text)
        return -1;
    return s_replay(arg, &c);
}

static int s_load_member(void *arg, uint64_t id, const char *endpoint)
{
    dc_change_t c = {.kind = DC_REC_MEMBER, .value = id};
    c.text = strdup(endpoint);
    if (!c.text)
        return -1;
    return s_replay(arg, &c);
}

int dc_persist_load(dc_store_t *store, dc_state_t *state, uint64_t now_mono_ms)
{
    load_t l = {state, now_mono_ms};
    dc_change_t epoch = {.kind = DC_REC_EPOCH, .value = dc_store_meta_get(store, "epoch")};
    s_replay(&l, &epoch);
    if (dc_store_load_leases(store, s_load_lease, &l) != 0 ||
        dc_store_load_topics(store, s_load_topic, &l) != 0 ||
        dc_store_load_subs(store, s_load_sub, &l) != 0 ||
        dc_store_load_nodes(store, s_load_node, &l) != 0 ||
        dc_store_load_requests(store, s_load_request, &l) != 0 ||
        dc_store_load_members(store, s_load_member, &l) != 0)
        return -1;
    dc_change_t seqs = {.kind = DC_REC_SEQS,
                        .seqs = {dc_store_meta_get(store, "change_seq"),
                                 dc_store_meta_get(store, "lease_seq"),
                                 dc_store_meta_get(store, "event_seq")},
                        .value = dc_store_meta_get(store, "raft_index")};
    s_replay(&l, &seqs);
    return 0;
}

int dc_persist_rebuild(dc_store_t *store, const dc_state_t *state)
{
    dc_changes_t all = {0};
    int rc = dc_state_dump(state, &all);
    if (rc == 0)
        rc = dc_store_begin(store);
    if (rc == 0)
        rc = dc_store_clear(store);
    for (size_t i = 0; rc == 0 && i < all.count; i++)
        rc = s_write(store, &all.items[i]);
    uint64_t seqs[3] = {state->change_seq, state->lease_seq, state->event_seq};
    if (rc == 0)
        rc = s_write_seqs(store, seqs, state->applied_index);
    if (rc == 0)
        rc = dc_store_commit(store);
    if (rc != 0)
        dc_store_rollback(store);
    dc_changes_free(&all);
    return rc;
}
