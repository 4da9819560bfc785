/* dc_decide_view.c: the state as a batch leaves it, and removals decided
 * into a batch (see dc_decide_view.h). */
#include "dc_decide_view.h"

#include <stdlib.h>
#include <string.h>

/* Does change c put or remove the node called name? */
static bool s_names_node(const dc_change_t *c, dc_str_t name)
{
    if (c->kind == DC_REC_NODE_PUT)
        return dc_str_eq(dc_str_from(c->node->name), name);
    return c->kind == DC_REC_NODE_REMOVE && dc_str_eq(dc_str_from(c->name), name);
}

void dc_view_drop(dc_view_t *v, size_t i)
{
    v->items[i] = v->items[--v->count];
}

void dc_view_of(const dc_decider_t *d, dc_str_t name, dc_view_t *v)
{
    size_t n = dc_registry_peek_all(d->state->registry, name, v->items, DC_VIEW_CAP);
    v->count = n < DC_VIEW_CAP ? n : DC_VIEW_CAP;
    for (size_t i = 0; i < d->batch->count; i++) {
        const dc_change_t *c = &d->batch->items[i];
        if (c->kind == DC_REC_TOPIC_PUT && dc_str_eq(c->entry->topic.name, name)) {
            size_t k = 0;
            while (k < v->count &&
                   !dc_str_eq(v->items[k]->topic.publisher_node, c->entry->topic.publisher_node))
                k++;
            if (k < v->count)
                v->items[k] = c->entry;
            else if (v->count < DC_VIEW_CAP)
                v->items[v->count++] = c->entry;
        } else if (c->kind == DC_REC_TOPIC_REMOVE && dc_str_eq(dc_str_from(c->name), name)) {
            for (size_t k = 0; k < v->count; k++)
                if (!c->publisher_node ||
                    dc_str_eq(v->items[k]->topic.publisher_node, dc_str_from(c->publisher_node))) {
                    dc_view_drop(v, k);
                    break;
                }
        }
    }
}

/* node's registration in v, or NULL. */
dc_entry_t *dc_view_find(const dc_view_t *v, dc_str_t node)
{
    for (size_t k = 0; k < v->count; k++)
        if (dc_str_eq(v->items[k]->topic.publisher_node, node))
            return v->items[k];
    return NULL;
}

dc_node_t *dc_batch_node(const dc_decider_t *d, dc_str_t name)
{
    for (size_t i = d->batch->count; i-- > 0;) {
        dc_change_t *c = &d->batch->items[i];
        if (s_names_node(c, name))
            return c->kind == DC_REC_NODE_PUT ? c->node : NULL;
    }
    return dc_nodes_peek(d->state->nodes, name);
}

/* node's subscription to name as the batch leaves it (borrowed), or NULL. */
dc_entry_t *dc_batch_sub(const dc_decider_t *d, dc_str_t name, dc_str_t node)
{
    for (size_t i = d->batch->count; i-- > 0;) {
        dc_change_t *c = &d->batch->items[i];
        if (c->kind == DC_REC_SUB_PUT && dc_str_eq(c->entry->topic.name, name) &&
            dc_str_eq(c->entry->topic.publisher_node, node))
            return c->entry;
        if (c->kind == DC_REC_SUB_REMOVE && dc_str_eq(dc_str_from(c->name), name) &&
            dc_str_eq(dc_str_from(c->publisher_node), node))
            return NULL;
    }
    return dc_registry_peek(d->state->subs, name, node);
}

/* Lease id's TTL (0: it does not exist), counting this batch. */
uint64_t dc_batch_lease_ttl(const dc_decider_t *d, uint64_t id)
{
    for (size_t i = d->batch->count; i-- > 0;) {
        dc_change_t *c = &d->batch->items[i];
        if ((c->kind == DC_REC_LEASE_GRANT || c->kind == DC_REC_LEASE_REMOVE) && c->lease_id == id)
            return c->kind == DC_REC_LEASE_GRANT ? c->ttl_ms : 0;
    }
    return dc_leases_ttl(d->state->leases, id);
}

/* The next lease id: above every id applied or granted in this batch; on an
 * island, a random one of the island range that no lease has. */
uint64_t dc_batch_next_lease_id(const dc_decider_t *d)
{
    if (d->island) {
        for (;;) {
            uint64_t id = DC_ISLAND_LEASE_IDS | (dc_request_id_start() & (DC_ISLAND_LEASE_IDS - 1));
            if (!dc_batch_lease_ttl(d, id))
                return id;
        }
    }
    uint64_t top = d->state->lease_seq;
    for (size_t i = 0; i < d->batch->count; i++)
        if (d->batch->items[i].kind == DC_REC_LEASE_GRANT && d->batch->items[i].lease_id > top &&
            d->batch->items[i].lease_id < DC_ISLAND_LEASE_IDS)
            top = d->batch->items[i].lease_id;
    return top + 1;
}

/* A topic whose lease ran out is free for anyone, even before the expiry
 * timer has removed it. */
bool dc_batch_expired(const dc_decider_t *d, const dc_entry_t *e)
{
    if (!e->lease_id)
        return false;
    uint64_t expiry = dc_leases_expiry(d->state->leases, e->lease_id);
    return expiry && expiry <= d->now_mono;
}

/* Appends the removal of a node or a topic registration (publisher_node:
 * the topic's node; NULL for a node). */
bool dc_batch_remove(dc_decider_t *d, dc_rec_kind_t kind, const char *name,
                     const char *publisher_node, dc_reason_t reason)
{
    dc_change_t *c = dc_changes_add(d->batch, kind);
    if (!c)
        return false;
    c->reason = reason;
    c->name = strdup(name);
    if (publisher_node)
        c->publisher_node = strdup(publisher_node);
    if (!c->name || (publisher_node && !c->publisher_node)) {
        dc_changes_truncate(d->batch, d->batch->count - 1);
        return false;
    }
    return true;
}

bool dc_batch_remove_topic(dc_decider_t *d, const dc_entry_t *e, dc_reason_t reason)
{
    if (!dc_batch_remove(d, DC_REC_TOPIC_REMOVE, e->topic.name.ptr, e->topic.publisher_node.ptr,
                         reason))
        return false;
    d->net_new--;
    return true;
}

/* Removes node's subscription to name when lease id holds it. */
static void s_end_sub(dc_decider_t *d, dc_str_t name, dc_str_t node, uint64_t id,
                      dc_reason_t reason)
{
    dc_entry_t *cur = dc_batch_sub(d, name, node);
    if (cur && cur->lease_id == id &&
        dc_batch_remove(d, DC_REC_SUB_REMOVE, cur->topic.name.ptr, cur->topic.publisher_node.ptr,
                        reason))
        d->net_new_subs--;
}

/* Removes every subscription to name that lease id holds: those applied
 * and those this batch put. */
static void s_end_subs(dc_decider_t *d, dc_str_t name, uint64_t id, dc_reason_t reason)
{
    dc_entry_t *small[16], **found = small;
    size_t n = dc_registry_peek_all(d->state->subs, name, small, 16);
    if (n > 16) {
        found = malloc(n * sizeof *found);
        if (!found)
            return;
        n = dc_registry_peek_all(d->state->subs, name, found, n);
    }
    /* Names first: a removal may drop the entry found. */
    for (size_t k = 0; k < n; k++)
        dc_entry_ref(found[k]);
    for (size_t k = 0; k < n; k++) {
        s_end_sub(d, name, found[k]->topic.publisher_node, id, reason);
        dc_entry_unref(&found[k]);
    }
    if (found != small)
        free(found);
    for (size_t i = 0; i < d->batch->count; i++) {
        dc_change_t *c = &d->batch->items[i];
        if (c->kind == DC_REC_SUB_PUT && c->entry->lease_id == id &&
            dc_str_eq(c->entry->topic.name, name))
            s_end_sub(d, name, c->entry->topic.publisher_node, id, reason);
    }
}

size_t dc_decide_lease_end(dc_decider_t *d, uint64_t id, dc_reason_t reason)
{
    dc_lease_t *l = dc_leases_find(d->state->leases, id);
    size_t removed = 0;
    if (l) {
        for (size_t i = 0; i < l->topic_count; i++) {
            /* Every registration and subscription of the name under this lease. */
            dc_view_t v;
            dc_view_of(d, dc_str_from(l->topics[i]), &v);
            for (size_t k = 0; k < v.count; k++)
                if (v.items[k]->lease_id == id && dc_batch_remove_topic(d, v.items[k], reason))
                    removed++;
            s_end_subs(d, dc_str_from(l->topics[i]), id, reason);
        }
        if (l->node) {
            dc_node_t *node = dc_batch_node(d, dc_str_from(l->node));
            if (node && node->lease_id == id)
                dc_batch_remove(d, DC_REC_NODE_REMOVE, l->node, NULL, reason);
        }
    }
    /* What this batch put on the lease (granted in it, not applied yet: a
     * merged island write and its lease's end, decided together). */
    size_t upto = d->batch->count;
    for (size_t i = 0; i < upto; i++) {
        dc_change_t *c = &d->batch->items[i];
        if ((c->kind == DC_REC_TOPIC_PUT || c->kind == DC_REC_SUB_PUT) &&
            c->entry->lease_id == id) {
            dc_entry_t *e = dc_entry_ref(c->entry); /* the batch may move as it grows */
            if (c->kind == DC_REC_SUB_PUT)
                s_end_subs(d, e->topic.name, id, reason);
            else {
                dc_view_t v;
                dc_view_of(d, e->topic.name, &v);
                for (size_t k = 0; k < v.count; k++)
                    if (v.items[k]->lease_id == id && dc_batch_remove_topic(d, v.items[k], reason))
                        removed++;
            }
            dc_entry_unref(&e);
        } else if (c->kind == DC_REC_NODE_PUT && c->node->lease_id == id) {
            char *name = strdup(c->node->name);
            dc_node_t *node = name ? dc_batch_node(d, dc_str_from(name)) : NULL;
            if (node && node->lease_id == id)
                dc_batch_remove(d, DC_REC_NODE_REMOVE, name, NULL, reason);
            free(name);
        }
    }
    dc_change_t *c = dc_changes_add(d->batch, DC_REC_LEASE_REMOVE);
    if (c) {
        c->lease_id = id;
        c->reason = reason;
    }
    return removed;
}
