/* dc_apply.c: applying changes to the in-memory state (see the .h). */
#include "dc_apply.h"
#include "dc_log.h"
#include "dc_mismatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STAT(state, field)                                                                         \
    do {                                                                                           \
        if ((state)->stats)                                                                        \
            atomic_fetch_add_explicit(&(state)->stats->field, 1, memory_order_relaxed);            \
    } while (0)

static void s_tell(const dc_observer_t *observer, const dc_applied_t *a)
{
    if (observer && observer->applied)
        observer->applied(observer->arg, a);
}

/* One WARNING line and one count for each mismatch a live change makes. */
static void s_warn_mismatch(void *arg, const dc_entry_t *pub, const dc_entry_t *sub)
{
    dc_state_t *state = arg;
    dc_warn("type mismatch on %s: subscriber %s expects %s (fingerprint %llu), publisher %s "
            "sends %s (fingerprint %llu)",
            pub->topic.name.ptr, sub->topic.publisher_node.ptr,
            sub->topic.message_type.len ? sub->topic.message_type.ptr : "any type",
            (unsigned long long)sub->topic.fingerprint, pub->topic.publisher_node.ptr,
            pub->topic.message_type.ptr, (unsigned long long)pub->topic.fingerprint);
    STAT(state, mismatches_detected);
}

/* Attaches the name of e (a topic or a subscription) to its lease, or
 * clears e's lease when that lease is gone. */
static void s_attach(dc_state_t *state, dc_entry_t *e)
{
    if (!e->lease_id)
        return;
    dc_lease_t *l = dc_leases_find(state->leases, e->lease_id);
    if (!l)
        e->lease_id = 0; /* its lease is gone: a lease-less topic (probed) */
    else if (dc_lease_attach_topic(l, e->topic.name.ptr) != 0)
        dc_error("out of memory attaching %s to lease %llu", e->topic.name.ptr,
                 (unsigned long long)e->lease_id);
}

/* Puts the change's entry (a topic, or with sub a subscription) into its
 * registry, taking the change's reference, and tells the observer, with the
 * mismatches the put makes. */
static void s_entry_put(dc_state_t *state, dc_change_t *c, bool sub,
                        const dc_observer_t *observer, dc_applied_t *a)
{
    dc_entry_t *e = c->entry;
    dc_registry_t *registry = sub ? state->subs : state->registry;
    s_attach(state, e);
    a->replaces = dc_registry_peek(registry, e->topic.name, e->topic.publisher_node) != NULL;
    /* e stays valid while the observer runs (this thread alone removes
     * entries). */
    c->entry = NULL;
    if (dc_registry_put(registry, e) != 0) {
        dc_error("out of memory: %s %s not applied", sub ? "subscription to" : "topic",
                 e->topic.name.ptr);
        dc_entry_unref(&e);
        return;
    }
    a->entry = e;
    if (observer)
        a->mismatches =
            dc_mismatch_each(state->registry, state->subs, e, sub, s_warn_mismatch, state);
    s_tell(observer, a);
}

/* Removes e from registry and tells the observer (e stays valid meanwhile). */
static void s_entry_remove(dc_registry_t *registry, dc_entry_t *e, const dc_observer_t *observer,
                           dc_applied_t *a)
{
    dc_entry_t *held = dc_entry_ref(e);
    dc_registry_remove(registry, e->topic.name, e->topic.publisher_node);
    a->entry = held;
    s_tell(observer, a);
    dc_entry_unref(&held);
}

static void s_sub_put(dc_state_t *state, dc_change_t *c, const dc_observer_t *observer,
                      dc_applied_t *a)
{
    dc_entry_t *e = c->entry;
    if (!e)
        return;
    if (observer) {
        dc_info("SUBSCRIBE topic %s node %s type %s fingerprint %llu lease %llu (seq %llu)",
                e->topic.name.ptr, e->topic.publisher_node.ptr,
                e->topic.message_type.len ? e->topic.message_type.ptr : "(any)",
                (unsigned long long)e->topic.fingerprint, (unsigned long long)e->lease_id,
                (unsigned long long)state->change_seq);
        STAT(state, subscribes);
    }
    s_entry_put(state, c, true, observer, a);
}

static void s_sub_remove(dc_state_t *state, dc_change_t *c, const dc_observer_t *observer,
                         dc_applied_t *a)
{
    dc_entry_t *e = dc_registry_peek(state->subs, dc_str_from(c->name ? c->name : ""),
                                     dc_str_from(c->publisher_node ? c->publisher_node : ""));
    if (!e)
        return;
    if (observer)
        dc_info("UNSUBSCRIBE topic %s node %s (%s, seq %llu)", e->topic.name.ptr,
                e->topic.publisher_node.ptr, dc_reason_name(c->reason),
                (unsigned long long)state->change_seq);
    s_entry_remove(state->subs, e, observer, a);
}

static void s_topic_put(dc_state_t *state, dc_change_t *c, const dc_observer_t *observer,
                        dc_applied_t *a)
{
    dc_entry_t *e = c->entry;
    if (!e)
        return;
    if (observer) {
        dc_info("REGISTER topic %s address %s node %s type %s fingerprint %llu lease %llu "
                "(seq %llu)",
                e->topic.name.ptr, e->topic.address.ptr, e->topic.publisher_node.ptr,
                e->topic.message_type.ptr, (unsigned long long)e->topic.fingerprint,
                (unsigned long long)e->lease_id, (unsigned long long)state->change_seq);
        STAT(state, registrations);
    }
    s_entry_put(state, c, false, observer, a);
}

static void s_topic_remove(dc_state_t *state, dc_change_t *c, const dc_observer_t *observer,
                           dc_applied_t *a)
{
    dc_str_t name = dc_str_from(c->name ? c->name : "");
    dc_entry_t *e = NULL;
    if (c->publisher_node)
        e = dc_registry_peek(state->registry, name, dc_str_from(c->publisher_node));
    else
        dc_registry_peek_all(state->registry, name, &e, 1); /* a version 1 record */
    if (!e)
        return;
    if (observer) {
        dc_info("UNREGISTER topic %s node %s (%s, seq %llu)", e->topic.name.ptr,
                e->topic.publisher_node.ptr, dc_reason_name(c->reason),
                (unsigned long long)state->change_seq);
        if (c->reason == DC_REASON_UNREGISTERED)
            STAT(state, unregistrations);
        else if (c->reason == DC_REASON_EXPIRED)
            STAT(state, topics_expired);
        else if (c->reason == DC_REASON_ENDPOINT_DEAD || c->reason == DC_REASON_LEGACY_TTL)
            STAT(state, endpoints_dead);
    }
    s_entry_remove(state->registry, e, observer, a);
}

static void s_node_put(dc_state_t *state, dc_change_t *c, const dc_observer_t *observer,
                       dc_applied_t *a)
{
    dc_node_t *n = c->node;
    if (!n)
        return;
    if (observer)
        dc_info("REGISTER node %s lease %llu (seq %llu)", n->name, (unsigned long long)n->lease_id,
                (unsigned long long)state->change_seq);
    if (n->lease_id) {
        dc_lease_t *l = dc_leases_find(state->leases, n->lease_id);
        if (!l)
            n->lease_id = 0;
        else {
            free(l->node);
            l->node = strdup(n->name);
        }
    }
    a->replaces = dc_nodes_peek(state->nodes, dc_str_from(n->name)) != NULL;
    c->node = NULL;
    dc_node_t *held = dc_node_ref(n);
    if (dc_nodes_put(state->nodes, n) != 0) {
        dc_error("out of memory: node %s not applied", n->name);
        dc_node_unref(&held);
        dc_node_unref(&n);
        return;
    }
    a->node = held;
    s_tell(observer, a);
    dc_node_unref(&held);
}

static void s_node_remove(dc_state_t *state, dc_change_t *c, const dc_observer_t *observer,
                          dc_applied_t *a)
{
    dc_str_t name = dc_str_from(c->name ? c->name : "");
    dc_node_t *n = dc_nodes_peek(state->nodes, name);
    if (!n)
        return;
    if (observer)
        dc_info("UNREGISTER node %s (%s, seq %llu)", n->name, dc_reason_name(c->reason),
                (unsigned long long)state->change_seq);
    dc_node_t *held = dc_node_ref(n);
    dc_nodes_remove(state->nodes, name);
    a->node = held;
    s_tell(observer, a);
    dc_node_unref(&held);
}

static void s_member(dc_state_t *state, const dc_change_t *c)
{
    int i = 0;
    while (i < state->member_count && state->members[i].id != c->value)
        i++;
    const char *endpoint = c->text ? c->text : "";
    if (!*endpoint) { /* forgotten */
        if (i < state->member_count)
            state->members[i] = state->members[--state->member_count];
        return;
    }
    if (i == state->member_count) {
        if (state->member_count == DC_MAX_MEMBERS) {
            dc_warn("member %llu not recorded: %d members already", (unsigned long long)c->value,
                    DC_MAX_MEMBERS);
            return;
        }
        state->member_count++;
    }
    state->members[i].id = c->value;
    snprintf(state->members[i].endpoint, sizeof state->members[i].endpoint, "%s", endpoint);
}

uint64_t dc_change_seq_after(uint64_t change_seq, const dc_change_t *c)
{
    return c->kind == DC_REC_SEQS ? c->seqs[0] : change_seq + 1;
}

uint64_t dc_state_change_seq_after(const dc_state_t *state, const dc_changes_t *batch)
{
    uint64_t seq = state->change_seq;
    for (size_t i = 0; i < batch->count; i++)
        seq = dc_change_seq_after(seq, &batch->items[i]);
    return seq;
}

void dc_apply(dc_state_t *state, dc_change_t *c, uint64_t now_mono_ms,
              const dc_observer_t *observer)
{
    state->change_seq = dc_change_seq_after(state->change_seq, c);
    dc_applied_t a = {.change = c};
    if (dc_change_eventful(c->kind))
        a.event_seq = ++state->event_seq;
    switch (c->kind) {
    case DC_REC_TOPIC_PUT:
        s_topic_put(state, c, observer, &a);
        return;
    case DC_REC_TOPIC_REMOVE:
        s_topic_remove(state, c, observer, &a);
        return;
    case DC_REC_SUB_PUT:
        s_sub_put(state, c, observer, &a);
        return;
    case DC_REC_SUB_REMOVE:
        s_sub_remove(state, c, observer, &a);
        return;
    case DC_REC_NODE_PUT:
        s_node_put(state, c, observer, &a);
        return;
    case DC_REC_NODE_REMOVE:
        s_node_remove(state, c, observer, &a);
        return;
    case DC_REC_LEASE_GRANT: {
        if (c->lease_id > state->lease_seq && c->lease_id < DC_ISLAND_LEASE_IDS)
            state->lease_seq = c->lease_id;
        dc_lease_t *held = dc_leases_find(state->leases, c->lease_id);
        if (held) { /* granted already: a replayed record, or an island's lease kept alive */
            a.lease = held;
            s_tell(observer, &a); /* a leader's lessor checks it from now on */
            return;
        }
        uint64_t left = c->left_ms && c->left_ms < c->ttl_ms ? c->left_ms : c->ttl_ms;
        dc_lease_t *l = dc_lease_new(c->lease_id, c->ttl_ms, now_mono_ms + left, c->at_ms);
        if (!l) {
            dc_error("out of memory creating lease %llu", (unsigned long long)c->lease_id);
            return;
        }
        snprintf(l->owner, sizeof l->owner, "%s", c->owner);
        dc_leases_add(state->leases, l);
        if (observer)
            dc_debug("lease %llu granted (ttl %llu ms)", (unsigned long long)c->lease_id,
                     (unsigned long long)c->ttl_ms);
        a.lease = l;
        s_tell(observer, &a);
        return;
    }
    case DC_REC_LEASE_REMOVE:
        if (observer) {
            dc_info("lease %llu %s", (unsigned long long)c->lease_id, dc_reason_name(c->reason));
            if (c->reason == DC_REASON_EXPIRED)
                STAT(state, leases_expired);
        }
        dc_leases_remove(state->leases, c->lease_id);
        s_tell(observer, &a);
        return;
    case DC_REC_LEASE_RENEW: {
        dc_lease_t *l = dc_leases_find(state->leases, c->lease_id);
        if (l && c->at_ms > l->checkpoint_wall_ms)
            l->checkpoint_wall_ms = c->at_ms;
        return;
    }
    case DC_REC_EPOCH:
        state->epoch = c->value;
        s_tell(observer, &a);
        return;
    case DC_REC_REQUEST:
        if (dc_dedup_put(state->dedup, c->value, c->status, c->text, c->lease_id, c->ttl_ms) != 0)
            dc_error("out of memory recording request %llu", (unsigned long long)c->value);
        return;
    case DC_REC_SEQS: /* change_seq: set above, by dc_change_seq_after */
        state->lease_seq = c->seqs[1];
        state->event_seq = c->seqs[2];
        state->applied_index = c->value;
        return;
    case DC_REC_MEMBER:
        s_member(state, c);
        s_tell(observer, &a);
        return;
    }
}

const char *dc_state_member_endpoint(const dc_state_t *state, uint64_t id)
{
    for (int i = 0; i < state->member_count; i++)
        if (state->members[i].id == id)
            return state->members[i].endpoint;
    return NULL;
}

void dc_state_seqs_after(const dc_state_t *state, const dc_changes_t *batch, uint64_t seqs[3])
{
    seqs[0] = dc_state_change_seq_after(state, batch);
    seqs[1] = state->lease_seq;
    seqs[2] = state->event_seq;
    for (size_t i = 0; i < batch->count; i++) {
        const dc_change_t *c = &batch->items[i];
        if (dc_change_eventful(c->kind))
            seqs[2]++;
        if (c->kind == DC_REC_LEASE_GRANT && c->lease_id > seqs[1] &&
            c->lease_id < DC_ISLAND_LEASE_IDS)
            seqs[1] = c->lease_id;
        if (c->kind == DC_REC_SEQS) {
            seqs[1] = c->seqs[1];
            seqs[2] = c->seqs[2];
        }
    }
}
