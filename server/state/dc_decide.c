/* dc_decide.c: request -> changes (see the .h); what a decision reads
 * and the removals it appends are dc_decide_view.c. */
#include "dc_decide.h"
#include "dc_decide_view.h"

#include "dc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_say(dc_outcome_t *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_say(dc_outcome_t *out, int status, const char *fmt, ...)
{
    out->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
}

void dc_decider_init(dc_decider_t *d, const dc_state_t *state, const dc_config_t *config,
                     dc_changes_t *batch, uint64_t now_mono, uint64_t now_wall)
{
    *d = (dc_decider_t){state, config, batch, 0, 0, now_mono, now_wall, false, NULL, 0};
}

/* "a, b, c" of the nodes of the count registrations in items, for messages. */
static void s_node_list(dc_entry_t *const *items, size_t count, char *out, size_t size)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t k = 0; k < count && used + 1 < size; k++) {
        int n = snprintf(out + used, size - used, "%s%s", k ? ", " : "",
                         items[k]->topic.publisher_node.ptr);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/*==== Owners (CURVE) ====*/

/* May op's sender change what owner wrote? Its own (a key's, or the ipc
 * side's ""), or anything for an admin key. */
static bool s_owns(const dc_write_op_t *op, const char *owner)
{
    return op->principal.access == DC_ACCESS_ADMIN || !strcmp(owner, op->principal.key);
}

/* Refuses op for touching what another key owns, and says so in the log. */
static void s_not_owner(dc_outcome_t *out, const dc_write_op_t *op, const char *what,
                        const char *name)
{
    s_say(out, DC_STATUS_ERROR, "%s %s belongs to another key: not changed", what, name);
    dc_warn("%s %s: refused to %s (it belongs to another key)", what, name,
            op->principal.key[0] ? op->principal.key : "an ipc client");
}

/* The owner of lease id as the batch leaves it ("" when unknown). */
static const char *s_lease_owner(const dc_decider_t *d, uint64_t id)
{
    for (size_t i = d->batch->count; i-- > 0;) {
        const dc_change_t *c = &d->batch->items[i];
        if (c->kind == DC_REC_LEASE_GRANT && c->lease_id == id)
            return c->owner;
    }
    dc_lease_t *l = dc_leases_find(d->state->leases, id);
    return l ? l->owner : "";
}

/*==== Deciding requests ====*/

bool dc_decide_answered(const dc_decider_t *d, uint64_t request_id, dc_outcome_t *out)
{
    for (size_t i = d->batch->count; i-- > 0;) {
        const dc_change_t *c = &d->batch->items[i];
        if (c->kind == DC_REC_REQUEST && c->value == request_id) {
            s_say(out, c->status, "%s", c->text);
            out->has_lease = c->lease_id != 0;
            out->lease_id = c->lease_id;
            out->lease_ttl_ms = c->ttl_ms;
            return true;
        }
    }
    const dc_dedup_entry_t *e = dc_dedup_find(d->state->dedup, request_id);
    if (!e)
        return false;
    s_say(out, e->status, "%s", e->message);
    out->has_lease = e->lease_id != 0;
    out->lease_id = e->lease_id;
    out->lease_ttl_ms = e->lease_ttl_ms;
    return true;
}

/* Resolves the lease of a REGISTER or REGISTER_NODE: attach, grant, or none.
 * Returns 0 with *lease_id set (0: no lease), or -1 with out filled. */
static int s_decide_lease(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out, uint64_t *lease_id)
{
    const dc_config_t *config = d->config;
    *lease_id = 0;
    if (op->has_lease_id) {
        uint64_t ttl = dc_batch_lease_ttl(d, op->lease_id);
        if (!ttl) {
            s_say(out, DC_STATUS_NOT_FOUND, "Lease %llu not found",
                  (unsigned long long)op->lease_id);
            return -1;
        }
        if (!s_owns(op, s_lease_owner(d, op->lease_id))) {
            char id[24];
            snprintf(id, sizeof id, "%llu", (unsigned long long)op->lease_id);
            s_not_owner(out, op, "Lease", id);
            return -1;
        }
        *lease_id = op->lease_id;
        out->has_lease = true;
        out->lease_id = op->lease_id;
        out->lease_ttl_ms = ttl;
        return 0;
    }
    if (!op->has_lease_ttl)
        return 0;
    if (op->lease_ttl_ms < config->lease_min_ttl_ms ||
        op->lease_ttl_ms > config->lease_max_ttl_ms) {
        s_say(out, DC_STATUS_ERROR, "lease_ttl_ms must be in [%llu, %llu]",
              (unsigned long long)config->lease_min_ttl_ms,
              (unsigned long long)config->lease_max_ttl_ms);
        return -1;
    }
    /* The id an island gave it, when free (or kept for it): its holder keeps
     * renewing it. */
    bool kept = false;
    for (size_t i = 0; i < d->kept_count && !kept; i++)
        kept = d->kept_ids[i] == op->want_lease_id;
    uint64_t id = op->want_lease_id && (kept || !dc_batch_lease_ttl(d, op->want_lease_id))
                      ? op->want_lease_id
                      : dc_batch_next_lease_id(d);
    dc_change_t *c = dc_changes_add(d->batch, DC_REC_LEASE_GRANT);
    if (!c) {
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return -1;
    }
    c->lease_id = id;
    c->ttl_ms = op->lease_ttl_ms;
    c->at_ms = d->now_wall;
    if (id == op->want_lease_id)
        c->left_ms = op->want_lease_left_ms;
    snprintf(c->owner, sizeof c->owner, "%s", op->principal.key);
    *lease_id = id;
    out->has_lease = true;
    out->lease_id = id;
    out->lease_ttl_ms = op->lease_ttl_ms;
    return 0;
}

/* The owner rule. publishers_per_topic = 1 is Cortex's: a topic belongs to
 * the node that registered it, another node gets ALREADY_EXISTS. With N, up
 * to N nodes hold a registration each, all of one message type and
 * fingerprint (subscribers of a topic decode one type). A registration whose
 * lease ran out counts for nothing: it is removed with this change. The same
 * node registering again overwrites its own registration, keeping its place. */
static void s_register(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    dc_entry_t *e = op->entry;
    dc_view_t v;
    dc_view_of(d, e->topic.name, &v);
    dc_entry_t *mine = NULL, *live[DC_VIEW_CAP], *stale[DC_VIEW_CAP];
    size_t live_count = 0, stale_count = 0;
    for (size_t k = 0; k < v.count; k++) {
        dc_entry_t *x = v.items[k];
        if (dc_str_eq(x->topic.publisher_node, e->topic.publisher_node))
            mine = x;
        else if (dc_batch_expired(d, x))
            stale[stale_count++] = x;
        else
            live[live_count++] = x;
    }
    if (mine && !s_owns(op, mine->owner)) {
        s_not_owner(out, op, "Topic", e->topic.name.ptr);
        return;
    }
    uint64_t limit = d->config->publishers_per_topic ? d->config->publishers_per_topic : 1;
    if (live_count >= limit) {
        if (limit == 1)
            s_say(out, DC_STATUS_ALREADY_EXISTS, "Topic %s already registered by %s",
                  e->topic.name.ptr, live[0]->topic.publisher_node.ptr);
        else {
            char nodes[256];
            s_node_list(live, live_count, nodes, sizeof nodes);
            s_say(out, DC_STATUS_ALREADY_EXISTS,
                  "Topic %s already has %zu publishers, the limit (publishers_per_topic = %llu): %s",
                  e->topic.name.ptr, live_count, (unsigned long long)limit, nodes);
        }
        return;
    }
    if (live_count > 0 && (!dc_str_eq(live[0]->topic.message_type, e->topic.message_type) ||
                           live[0]->topic.fingerprint != e->topic.fingerprint)) {
        s_say(out, DC_STATUS_ERROR,
              "Topic %s is published as type %s (fingerprint %llu) by %s: every publisher of a "
              "topic must use that type",
              e->topic.name.ptr, live[0]->topic.message_type.ptr,
              (unsigned long long)live[0]->topic.fingerprint, live[0]->topic.publisher_node.ptr);
        return;
    }
    if (!mine && dc_registry_count(d->state->registry) + (uint64_t)d->net_new >=
                     d->config->max_topics + stale_count) {
        s_say(out, DC_STATUS_ERROR, "Registry full: %llu topics (max_topics)",
              (unsigned long long)d->config->max_topics);
        return;
    }
    size_t first = d->batch->count;
    int64_t net_new = d->net_new;
    for (size_t k = 0; k < stale_count; k++)
        if (!dc_batch_remove_topic(d, stale[k], DC_REASON_EXPIRED))
            goto out_of_memory;
    uint64_t lease_id;
    if (s_decide_lease(d, op, out, &lease_id) != 0) {
        dc_changes_truncate(d->batch, first);
        d->net_new = net_new;
        return;
    }
    dc_change_t *c = dc_changes_add(d->batch, DC_REC_TOPIC_PUT);
    if (!c)
        goto out_of_memory;
    /* LIST order is registration order: a re-registration keeps its place.
     * A new registration's place is the change_seq its change will be applied as. */
    e->create_seq = mine ? mine->create_seq : dc_state_change_seq_after(d->state, d->batch);
    e->lease_id = lease_id;
    e->registered_at_ms = d->now_wall;
    e->origin = op->origin;
    snprintf(e->owner, sizeof e->owner, "%s", op->principal.key);
    /* The op keeps its reference: a cluster leader that loses its term
     * decides the op again. */
    c->entry = dc_entry_ref(e);
    if (!mine)
        d->net_new++;
    out->changed = true;
    s_say(out, DC_STATUS_OK, "Registered topic: %s", e->topic.name.ptr);
    return;
out_of_memory:
    dc_changes_truncate(d->batch, first); /* a grant just made, if any, goes too */
    d->net_new = net_new;
    out->has_lease = false;
    s_say(out, DC_STATUS_ERROR, "Out of memory");
}

/* UNREGISTER names the node (node_name, or the topic_info's publisher_node)
 * or not: then it removes the topic's registration when it has one, and
 * refuses to guess between several. REMOVE_DEAD (the prober) removes the
 * registration it probed, if it is still that one. */
static void s_unregister(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    dc_str_t name = {op->name, op->name_len};
    dc_view_t v;
    dc_view_of(d, name, &v);
    bool dead = op->kind == DC_OP_REMOVE_DEAD;
    dc_entry_t *cur = NULL;
    if (dead) {
        for (size_t k = 0; k < v.count && !cur; k++) {
            dc_entry_t *x = v.items[k];
            if (!x->lease_id && strcmp(x->topic.address.ptr, op->address) == 0 &&
                (!op->publisher_node ||
                 dc_str_eq(x->topic.publisher_node, dc_str_from(op->publisher_node))))
                cur = x;
        }
    } else if (op->publisher_node) {
        cur = dc_view_find(&v, dc_str_from(op->publisher_node));
        if (!cur && v.count) {
            char nodes[256];
            s_node_list(v.items, v.count, nodes, sizeof nodes);
            s_say(out, DC_STATUS_NOT_FOUND, "Topic %s is not registered by %s (publishers: %s)",
                  op->name, op->publisher_node, nodes);
            return;
        }
    } else if (v.count > 1) {
        char nodes[256];
        s_node_list(v.items, v.count, nodes, sizeof nodes);
        s_say(out, DC_STATUS_ERROR,
              "Topic %s has %zu publishers (%s): name the node to unregister (node_name, or "
              "topic_info with its publisher_node)",
              op->name, v.count, nodes);
        return;
    } else if (v.count == 1)
        cur = v.items[0];
    if (!cur) {
        s_say(out, DC_STATUS_NOT_FOUND, "Topic %s not found", op->name);
        return;
    }
    if (!dead && !s_owns(op, cur->owner)) {
        s_not_owner(out, op, "Topic", op->name);
        return;
    }
    if (!dc_batch_remove_topic(d, cur, dead ? op->reason : DC_REASON_UNREGISTERED)) {
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return;
    }
    out->changed = true;
    s_say(out, DC_STATUS_OK, "Unregistered topic: %s", op->name);
}

static void s_register_node(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    dc_node_t *cur = dc_batch_node(d, dc_str_from(op->node->name));
    if (cur && !s_owns(op, cur->owner)) {
        s_not_owner(out, op, "Node", op->node->name);
        return;
    }
    size_t first = d->batch->count;
    uint64_t lease_id;
    if (s_decide_lease(d, op, out, &lease_id) != 0)
        return;
    dc_change_t *c = dc_changes_add(d->batch, DC_REC_NODE_PUT);
    if (!c) {
        d->batch->count = first;
        out->has_lease = false;
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return;
    }
    dc_node_t *n = op->node;
    n->lease_id = lease_id;
    snprintf(n->owner, sizeof n->owner, "%s", op->principal.key);
    c->node = dc_node_ref(n);
    out->changed = true;
    s_say(out, DC_STATUS_OK, "Registered node: %s", n->name);
}

/* A subscription belongs to the key that declared it; the same node
 * subscribing again replaces its own (its expected type may change). Any
 * number of nodes may subscribe to a topic, up to max_subscriptions in all. */
static void s_subscribe(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    dc_entry_t *e = op->entry;
    dc_entry_t *cur = dc_batch_sub(d, e->topic.name, e->topic.publisher_node);
    if (cur && !s_owns(op, cur->owner)) {
        s_not_owner(out, op, "Subscription to", e->topic.name.ptr);
        return;
    }
    if (!cur && dc_registry_count(d->state->subs) + (uint64_t)d->net_new_subs >=
                    d->config->max_subscriptions) {
        s_say(out, DC_STATUS_ERROR, "Subscriptions full: %llu (max_subscriptions)",
              (unsigned long long)d->config->max_subscriptions);
        return;
    }
    size_t first = d->batch->count;
    uint64_t lease_id;
    if (s_decide_lease(d, op, out, &lease_id) != 0)
        return;
    dc_change_t *c = dc_changes_add(d->batch, DC_REC_SUB_PUT);
    if (!c) {
        dc_changes_truncate(d->batch, first);
        out->has_lease = false;
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return;
    }
    e->create_seq = cur ? cur->create_seq : dc_state_change_seq_after(d->state, d->batch);
    e->lease_id = lease_id;
    e->registered_at_ms = d->now_wall;
    e->origin = op->origin;
    snprintf(e->owner, sizeof e->owner, "%s", op->principal.key);
    c->entry = dc_entry_ref(e);
    if (!cur)
        d->net_new_subs++;
    out->changed = true;
    s_say(out, DC_STATUS_OK, "Subscribed %s to topic: %s", e->topic.publisher_node.ptr,
          e->topic.name.ptr);
}

static void s_unsubscribe(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    dc_str_t name = {op->name, op->name_len};
    dc_entry_t *cur = dc_batch_sub(d, name, dc_str_from(op->publisher_node));
    if (!cur) {
        s_say(out, DC_STATUS_NOT_FOUND, "Node %s does not subscribe to %s", op->publisher_node,
              op->name);
        return;
    }
    if (!s_owns(op, cur->owner)) {
        s_not_owner(out, op, "Subscription to", op->name);
        return;
    }
    if (!dc_batch_remove(d, DC_REC_SUB_REMOVE, op->name, op->publisher_node,
                         DC_REASON_UNREGISTERED)) {
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return;
    }
    d->net_new_subs--;
    out->changed = true;
    s_say(out, DC_STATUS_OK, "Unsubscribed %s from topic: %s", op->publisher_node, op->name);
}

void dc_decide(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    memset(out, 0, offsetof(dc_outcome_t, message));
    out->message[0] = 0;
    out->changed = out->has_lease = out->provisional = false;
    dc_str_t name = {op->name, op->name_len};
    switch (op->kind) {
    case DC_OP_REGISTER:
        s_register(d, op, out);
        break;
    case DC_OP_UNREGISTER:
    case DC_OP_REMOVE_DEAD:
        s_unregister(d, op, out);
        break;
    case DC_OP_REVOKE_LEASE: {
        if (!dc_batch_lease_ttl(d, op->lease_id)) {
            s_say(out, DC_STATUS_NOT_FOUND, "Lease %llu not found",
                  (unsigned long long)op->lease_id);
            break;
        }
        if (!s_owns(op, s_lease_owner(d, op->lease_id))) {
            char id[24];
            snprintf(id, sizeof id, "%llu", (unsigned long long)op->lease_id);
            s_not_owner(out, op, "Lease", id);
            break;
        }
        size_t removed = dc_decide_lease_end(d, op->lease_id, DC_REASON_REVOKED);
        out->changed = true;
        s_say(out, DC_STATUS_OK, "Revoked lease %llu (%zu topic(s) removed)",
              (unsigned long long)op->lease_id, removed);
        break;
    }
    case DC_OP_REGISTER_NODE:
        s_register_node(d, op, out);
        break;
    case DC_OP_UNREGISTER_NODE: {
        dc_node_t *node = dc_batch_node(d, name);
        if (!node) {
            s_say(out, DC_STATUS_NOT_FOUND, "Node %s not found", op->name);
            break;
        }
        if (!s_owns(op, node->owner)) {
            s_not_owner(out, op, "Node", op->name);
            break;
        }
        if (!dc_batch_remove(d, DC_REC_NODE_REMOVE, op->name, NULL, DC_REASON_UNREGISTERED)) {
            s_say(out, DC_STATUS_ERROR, "Out of memory");
            break;
        }
        out->changed = true;
        s_say(out, DC_STATUS_OK, "Unregistered node: %s", op->name);
        break;
    }
    case DC_OP_SUBSCRIBE:
        s_subscribe(d, op, out);
        break;
    case DC_OP_UNSUBSCRIBE:
        s_unsubscribe(d, op, out);
        break;
    case DC_OP_WAIT:
        s_say(out, DC_STATUS_ERROR, "WAIT is not a write");
        break;
    case DC_OP_MEMBER_ADD:
    case DC_OP_MEMBER_REMOVE:
    case DC_OP_MEMBER_TRANSFER:
        s_say(out, DC_STATUS_ERROR,
              "Not a cluster member: membership changes need a cluster "
              "(--member-id and --cluster-member)");
        break;
    }
    if (out->changed && op->has_request_id) {
        dc_change_t *c = dc_changes_add(d->batch, DC_REC_REQUEST);
        if (c && (c->text = strdup(out->message))) {
            c->value = op->request_id;
            c->status = out->status;
            c->lease_id = out->has_lease ? out->lease_id : 0;
            c->ttl_ms = out->has_lease ? out->lease_ttl_ms : 0;
        } else if (c)
            d->batch->count--;
    }
}
