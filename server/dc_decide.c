/* dc_decide.c: request -> changes (see the .h). */
#include "dc_decide.h"

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
    *d = (dc_decider_t){state, config, batch, 0, now_mono, now_wall};
}

/*==== The state as the batch leaves it ====*/

static dc_change_t *s_add(dc_decider_t *d, dc_rec_kind_t kind)
{
    return dc_changes_add(d->batch, kind);
}

/* Does change c put or remove the thing called name? */
static bool s_names(const dc_change_t *c, dc_rec_kind_t put, dc_str_t name)
{
    if (c->kind == put) {
        const char *n = put == DC_REC_TOPIC_PUT ? c->entry->topic.name.ptr : c->node->name;
        return dc_str_eq(dc_str_from(n), name);
    }
    dc_rec_kind_t remove = put == DC_REC_TOPIC_PUT ? DC_REC_TOPIC_REMOVE : DC_REC_NODE_REMOVE;
    return c->kind == remove && dc_str_eq(dc_str_from(c->name), name);
}

/* The entry name has right now, counting this batch's earlier changes. */
static dc_entry_t *s_current(const dc_decider_t *d, dc_str_t name)
{
    for (size_t i = d->batch->count; i-- > 0;) {
        dc_change_t *c = &d->batch->items[i];
        if (s_names(c, DC_REC_TOPIC_PUT, name))
            return c->kind == DC_REC_TOPIC_PUT ? c->entry : NULL;
    }
    return dc_registry_peek(d->state->registry, name);
}

static dc_node_t *s_current_node(const dc_decider_t *d, dc_str_t name)
{
    for (size_t i = d->batch->count; i-- > 0;) {
        dc_change_t *c = &d->batch->items[i];
        if (s_names(c, DC_REC_NODE_PUT, name))
            return c->kind == DC_REC_NODE_PUT ? c->node : NULL;
    }
    return dc_nodes_peek(d->state->nodes, name);
}

/* Lease id's TTL (0: it does not exist), counting this batch. */
static uint64_t s_lease_ttl(const dc_decider_t *d, uint64_t id)
{
    for (size_t i = d->batch->count; i-- > 0;) {
        dc_change_t *c = &d->batch->items[i];
        if ((c->kind == DC_REC_LEASE_GRANT || c->kind == DC_REC_LEASE_REMOVE) && c->lease_id == id)
            return c->kind == DC_REC_LEASE_GRANT ? c->ttl_ms : 0;
    }
    return dc_leases_ttl(d->state->leases, id);
}

/* The next lease id: above every id applied or granted in this batch. */
static uint64_t s_next_lease_id(const dc_decider_t *d)
{
    uint64_t top = d->state->lease_seq;
    for (size_t i = 0; i < d->batch->count; i++)
        if (d->batch->items[i].kind == DC_REC_LEASE_GRANT && d->batch->items[i].lease_id > top)
            top = d->batch->items[i].lease_id;
    return top + 1;
}

/* A topic whose lease ran out is free for anyone, even before the expiry
 * timer has removed it. */
static bool s_expired(const dc_decider_t *d, const dc_entry_t *e)
{
    if (!e->lease_id)
        return false;
    uint64_t expiry = dc_leases_expiry(d->state->leases, e->lease_id);
    return expiry && expiry <= d->now_mono;
}

static bool s_remove(dc_decider_t *d, dc_rec_kind_t kind, const char *name, dc_reason_t reason)
{
    dc_change_t *c = s_add(d, kind);
    if (!c)
        return false;
    c->reason = reason;
    c->name = strdup(name);
    if (!c->name) {
        d->batch->count--;
        return false;
    }
    return true;
}

size_t dc_decide_lease_end(dc_decider_t *d, uint64_t id, dc_reason_t reason)
{
    dc_lease_t *l = dc_leases_find(d->state->leases, id);
    size_t removed = 0;
    if (l) {
        for (size_t i = 0; i < l->topic_count; i++) {
            dc_entry_t *cur = s_current(d, dc_str_from(l->topics[i]));
            if (cur && cur->lease_id == id &&
                s_remove(d, DC_REC_TOPIC_REMOVE, l->topics[i], reason))
                removed++;
        }
        if (l->node) {
            dc_node_t *node = s_current_node(d, dc_str_from(l->node));
            if (node && node->lease_id == id)
                s_remove(d, DC_REC_NODE_REMOVE, l->node, reason);
        }
    }
    d->net_new -= (int64_t)removed;
    dc_change_t *c = s_add(d, DC_REC_LEASE_REMOVE);
    if (c) {
        c->lease_id = id;
        c->reason = reason;
    }
    return removed;
}

size_t dc_decide_expiries(dc_decider_t *d, dc_timers_t *checks, uint64_t stalled_ms,
                          uint64_t *ended, size_t max)
{
    dc_leases_t *leases = d->state->leases;
    uint64_t now = d->now_mono;
    size_t count = 0;
    dc_timer_t t;
    while (count < max && dc_timers_pop_due(checks, now, &t)) {
        uint64_t ttl = dc_leases_ttl(leases, t.id);
        uint64_t expiry = dc_leases_expiry(leases, t.id);
        if (!ttl || expiry == 0)
            continue; /* revoked or already expired */
        if (expiry > now) {
            dc_timers_push(checks, expiry, t.id, NULL); /* renewed meanwhile */
            continue;
        }
        if (stalled_ms > ttl / 2) {
            dc_warn("loop stalled %llu ms: lease %llu renewed, not expired",
                    (unsigned long long)stalled_ms, (unsigned long long)t.id);
            dc_leases_heartbeat(leases, t.id, now, d->now_wall);
            dc_timers_push(checks, now + ttl, t.id, NULL);
            continue;
        }
        size_t removed = dc_decide_lease_end(d, t.id, DC_REASON_EXPIRED);
        dc_info("lease %llu expired: %zu topic(s) to remove", (unsigned long long)t.id, removed);
        ended[count++] = t.id;
    }
    return count;
}

size_t dc_decide_checkpoints(dc_decider_t *d)
{
    uint64_t *ids = NULL, *times = NULL;
    size_t n = dc_leases_take_dirty(d->state->leases, &ids, &times), added = 0;
    for (size_t i = 0; i < n; i++) {
        dc_change_t *c = s_add(d, DC_REC_LEASE_RENEW);
        if (!c)
            break;
        c->lease_id = ids[i];
        c->at_ms = times[i];
        added++;
    }
    free(ids);
    free(times);
    return added;
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
        uint64_t ttl = s_lease_ttl(d, op->lease_id);
        if (!ttl) {
            s_say(out, DC_STATUS_NOT_FOUND, "Lease %llu not found",
                  (unsigned long long)op->lease_id);
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
    uint64_t id = s_next_lease_id(d);
    dc_change_t *c = s_add(d, DC_REC_LEASE_GRANT);
    if (!c) {
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return -1;
    }
    c->lease_id = id;
    c->ttl_ms = op->lease_ttl_ms;
    c->at_ms = d->now_wall;
    *lease_id = id;
    out->has_lease = true;
    out->lease_id = id;
    out->lease_ttl_ms = op->lease_ttl_ms;
    return 0;
}

static void s_register(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    dc_entry_t *e = op->entry;
    dc_entry_t *cur = s_current(d, e->topic.name);
    if (cur && !dc_str_eq(cur->topic.publisher_node, e->topic.publisher_node) &&
        !s_expired(d, cur)) {
        s_say(out, DC_STATUS_ALREADY_EXISTS, "Topic %s already registered by %s", e->topic.name.ptr,
              cur->topic.publisher_node.ptr);
        return;
    }
    if (!cur &&
        dc_registry_count(d->state->registry) + (uint64_t)d->net_new >= d->config->max_topics) {
        s_say(out, DC_STATUS_ERROR, "Registry full: %llu topics (max_topics)",
              (unsigned long long)d->config->max_topics);
        return;
    }
    size_t first = d->batch->count;
    uint64_t lease_id;
    if (s_decide_lease(d, op, out, &lease_id) != 0)
        return;
    dc_change_t *c = s_add(d, DC_REC_TOPIC_PUT);
    if (!c) {
        d->batch->count = first; /* a grant just made, if any, goes too */
        out->has_lease = false;
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return;
    }
    /* LIST order is registration order: a re-registration keeps its place.
     * A new topic's place is the change_seq its change will be applied as. */
    e->create_seq = cur ? cur->create_seq : d->state->change_seq + d->batch->count;
    e->lease_id = lease_id;
    e->registered_at_ms = d->now_wall;
    e->origin = op->origin;
    /* The op keeps its reference: a cluster leader that loses its term
     * decides the op again. */
    c->entry = dc_entry_ref(e);
    if (!cur)
        d->net_new++;
    out->changed = true;
    s_say(out, DC_STATUS_OK, "Registered topic: %s", e->topic.name.ptr);
}

static void s_unregister(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    dc_str_t name = {op->name, op->name_len};
    dc_entry_t *cur = s_current(d, name);
    bool dead = op->kind == DC_OP_REMOVE_DEAD;
    /* The prober's finding holds only for the registration it probed. */
    if (dead && cur && (cur->lease_id || strcmp(cur->topic.address.ptr, op->address) != 0))
        cur = NULL;
    if (!cur) {
        s_say(out, DC_STATUS_NOT_FOUND, "Topic %s not found", op->name);
        return;
    }
    if (!s_remove(d, DC_REC_TOPIC_REMOVE, op->name, dead ? op->reason : DC_REASON_UNREGISTERED)) {
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return;
    }
    d->net_new--;
    out->changed = true;
    s_say(out, DC_STATUS_OK, "Unregistered topic: %s", op->name);
}

static void s_register_node(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    size_t first = d->batch->count;
    uint64_t lease_id;
    if (s_decide_lease(d, op, out, &lease_id) != 0)
        return;
    dc_change_t *c = s_add(d, DC_REC_NODE_PUT);
    if (!c) {
        d->batch->count = first;
        out->has_lease = false;
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return;
    }
    dc_node_t *n = op->node;
    n->lease_id = lease_id;
    c->node = dc_node_ref(n);
    out->changed = true;
    s_say(out, DC_STATUS_OK, "Registered node: %s", n->name);
}

void dc_decide(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    memset(out, 0, offsetof(dc_outcome_t, message));
    out->message[0] = 0;
    out->changed = out->has_lease = false;
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
        if (!s_lease_ttl(d, op->lease_id)) {
            s_say(out, DC_STATUS_NOT_FOUND, "Lease %llu not found",
                  (unsigned long long)op->lease_id);
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
    case DC_OP_UNREGISTER_NODE:
        if (!s_current_node(d, name)) {
            s_say(out, DC_STATUS_NOT_FOUND, "Node %s not found", op->name);
            break;
        }
        if (!s_remove(d, DC_REC_NODE_REMOVE, op->name, DC_REASON_UNREGISTERED)) {
            s_say(out, DC_STATUS_ERROR, "Out of memory");
            break;
        }
        out->changed = true;
        s_say(out, DC_STATUS_OK, "Unregistered node: %s", op->name);
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
        dc_change_t *c = s_add(d, DC_REC_REQUEST);
        if (c && (c->text = strdup(out->message))) {
            c->value = op->request_id;
            c->status = out->status;
            c->lease_id = out->has_lease ? out->lease_id : 0;
            c->ttl_ms = out->has_lease ? out->lease_ttl_ms : 0;
        } else if (c)
            d->batch->count--;
    }
}
