/* dc_state_copy.c: the whole state written out and gone back to (see the .h). */
#include "dc_state_copy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*==== Reset ====*/

static void s_counters_reset(dc_state_t *state)
{
    dc_dedup_clear(state->dedup);
    state->member_count = 0;
    state->change_seq = state->lease_seq = state->event_seq = state->epoch = 0;
    state->applied_index = 0;
}

void dc_state_reset(dc_state_t *state)
{
    dc_registry_clear(state->registry);
    dc_registry_clear(state->subs);
    dc_node_t **nodes = NULL;
    size_t n = dc_nodes_find(state->nodes, (dc_str_t){NULL, 0}, &nodes);
    for (size_t i = 0; n != (size_t)-1 && i < n; i++)
        dc_nodes_remove(state->nodes, dc_str_from(nodes[i]->name));
    if (n != (size_t)-1)
        dc_nodes_release(nodes, n);
    dc_leases_clear(state->leases);
    s_counters_reset(state);
}

/*==== Restore ====*/

/* The keys (name, node) of the dump's changes of one kind (TOPIC_PUT or
 * SUB_PUT): an open-addressed set of borrowed entries. (An entry's own links
 * belong to the one registry holding it: it cannot go into a second.) */
typedef struct {
    const dc_entry_t **slots;
    size_t mask;
} keys_t;

static size_t s_key_hash(dc_str_t name, dc_str_t node)
{
    uint64_t h = dc_str_hash(name, DC_STR_HASH_SEED);
    return (size_t)dc_str_hash(node, dc_str_hash((dc_str_t){"", 1}, h)); /* a NUL between */
}

/* The slot of (name, node): where it is, or the empty one it would go to. */
static const dc_entry_t **s_key_slot(const keys_t *k, dc_str_t name, dc_str_t node)
{
    size_t i = s_key_hash(name, node) & k->mask;
    while (k->slots[i] && !(dc_str_eq(k->slots[i]->topic.name, name) &&
                            dc_str_eq(k->slots[i]->topic.publisher_node, node)))
        i = (i + 1) & k->mask;
    return &k->slots[i];
}

static int s_keys_of(keys_t *k, const dc_changes_t *dump, dc_rec_kind_t kind)
{
    size_t n = 0;
    for (size_t i = 0; i < dump->count; i++)
        n += dump->items[i].kind == kind && dump->items[i].entry;
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    k->slots = calloc(cap, sizeof *k->slots);
    k->mask = cap - 1;
    if (!k->slots)
        return -1;
    for (size_t i = 0; i < dump->count; i++) {
        const dc_entry_t *e = dump->items[i].entry;
        if (dump->items[i].kind == kind && e)
            *s_key_slot(k, e->topic.name, e->topic.publisher_node) = e;
    }
    return 0;
}

/* Removes from registry what the dump's changes of kind do not put; each
 * goes into overlay first, when given (added by an island). */
static int s_entries_prune(dc_registry_t *registry, const dc_changes_t *dump, dc_rec_kind_t kind,
                           dc_overlay_t *overlay)
{
    keys_t keys;
    if (s_keys_of(&keys, dump, kind) != 0)
        return -1;
    dc_entry_t **entries = NULL;
    size_t n = dc_registry_snapshot(registry, NULL, &entries);
    for (size_t i = 0; n != (size_t)-1 && i < n; i++) {
        dc_str_t name = entries[i]->topic.name, node = entries[i]->topic.publisher_node;
        if (*s_key_slot(&keys, name, node))
            continue;
        if (overlay)
            dc_overlay_put(overlay, entries[i]);
        dc_registry_remove(registry, name, node);
    }
    if (n != (size_t)-1)
        dc_registry_release_snapshot(entries, n);
    free(keys.slots);
    return n == (size_t)-1 ? -1 : 0;
}

/* Removes the nodes the dump puts none of. */
static int s_nodes_prune(dc_nodes_t *nodes, const dc_changes_t *dump)
{
    dc_nodes_t *keys = dc_nodes_new();
    if (!keys)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < dump->count; i++) {
        const dc_change_t *c = &dump->items[i];
        if (c->kind != DC_REC_NODE_PUT || !c->node)
            continue;
        dc_node_t *n = dc_node_ref(c->node);
        if (dc_nodes_put(keys, n) != 0) {
            dc_node_unref(&n);
            rc = -1;
        }
    }
    dc_node_t **have = NULL;
    size_t n = rc == 0 ? dc_nodes_find(nodes, (dc_str_t){NULL, 0}, &have) : 0;
    if (n == (size_t)-1)
        rc = -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!dc_nodes_peek(keys, dc_str_from(have[i]->name)))
            dc_nodes_remove(nodes, dc_str_from(have[i]->name));
    if (have && n != (size_t)-1)
        dc_nodes_release(have, n);
    dc_nodes_destroy(&keys);
    return rc;
}

typedef struct {
    const dc_change_t **grants; /* the dump's LEASE_GRANTs, by id */
    size_t count;
    uint64_t *gone; /* leases to remove */
    size_t gone_count, gone_cap;
    int rc;
} leases_prune_t;

static int s_by_lease_id(const void *a, const void *b)
{
    uint64_t x = (*(const dc_change_t *const *)a)->lease_id;
    uint64_t y = (*(const dc_change_t *const *)b)->lease_id;
    return x < y ? -1 : x > y;
}

static const dc_change_t *s_grant_of(const leases_prune_t *p, uint64_t id)
{
    size_t lo = 0, hi = p->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->grants[mid]->lease_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->count && p->grants[lo]->lease_id == id ? p->grants[lo] : NULL;
}

/* Under the table's lock: which leases go (the dump lacks them, or holds
 * another lease of the same id), and the attachments of those that stay
 * without the dump (the dump's puts attach their own). */
static void s_lease_check(void *arg, dc_lease_t *l)
{
    leases_prune_t *p = arg;
    const dc_change_t *g = s_grant_of(p, l->id);
    bool keep = g ? g->ttl_ms == l->ttl_ms && strcmp(g->owner, l->owner) == 0 : l->own_expiry;
    if (keep && !g)
        dc_lease_detach_all(l);
    if (keep || p->rc != 0)
        return;
    if (p->gone_count == p->gone_cap) {
        size_t cap = p->gone_cap ? p->gone_cap * 2 : 64;
        uint64_t *grown = realloc(p->gone, cap * sizeof *grown);
        if (!grown) {
            p->rc = -1;
            return;
        }
        p->gone = grown;
        p->gone_cap = cap;
    }
    p->gone[p->gone_count++] = l->id;
}

static int s_leases_prune(dc_leases_t *leases, const dc_changes_t *dump)
{
    leases_prune_t p = {0};
    p.grants = malloc((dump->count ? dump->count : 1) * sizeof *p.grants);
    if (!p.grants)
        return -1;
    for (size_t i = 0; i < dump->count; i++)
        if (dump->items[i].kind == DC_REC_LEASE_GRANT)
            p.grants[p.count++] = &dump->items[i];
    qsort(p.grants, p.count, sizeof *p.grants, s_by_lease_id);
    dc_leases_each(leases, s_lease_check, &p);
    for (size_t i = 0; p.rc == 0 && i < p.gone_count; i++)
        dc_leases_remove(leases, p.gone[i]);
    free(p.gone);
    free(p.grants);
    return p.rc;
}

/* Before c, one of the dump's changes, is put over the state: an island's
 * removal (the state lacks the registration) or replacement (the state
 * holds another entry of its key: the dump shares the entries nothing
 * changed since) goes into overlay. */
static void s_note_island_change(const dc_state_t *state, const dc_change_t *c,
                                 dc_overlay_t *overlay)
{
    if (c->kind != DC_REC_TOPIC_PUT || !c->entry)
        return;
    dc_entry_t *now = dc_registry_peek(state->registry, c->entry->topic.name,
                                       c->entry->topic.publisher_node);
    if (!now)
        dc_overlay_remove(overlay, c->entry);
    else if (now != c->entry)
        dc_overlay_put(overlay, now);
}

int dc_state_restore(dc_state_t *state, dc_changes_t *dump, uint64_t now_mono_ms,
                     dc_overlay_t *overlay)
{
    /* What the dump lacks goes first, then its puts replace key by key (a
     * lease before the entries that attach to it: the dump's order). */
    int rc = s_entries_prune(state->registry, dump, DC_REC_TOPIC_PUT, overlay);
    if (rc == 0)
        rc = s_entries_prune(state->subs, dump, DC_REC_SUB_PUT, NULL);
    if (rc == 0)
        rc = s_nodes_prune(state->nodes, dump);
    if (rc == 0)
        rc = s_leases_prune(state->leases, dump);
    if (rc != 0)
        dc_state_reset(state);
    else
        s_counters_reset(state);
    for (size_t i = 0; i < dump->count; i++) {
        if (overlay && rc == 0)
            s_note_island_change(state, &dump->items[i], overlay);
        dc_apply(state, &dump->items[i], now_mono_ms, NULL);
    }
    return rc;
}

/*==== Dump ====*/

typedef struct {
    dc_changes_t *out;
    int rc;
} dump_t;

static void s_dump_lease(void *arg, dc_lease_t *l)
{
    dump_t *d = arg;
    dc_change_t *c = d->rc == 0 ? dc_changes_add(d->out, DC_REC_LEASE_GRANT) : NULL;
    if (!c) {
        d->rc = -1;
        return;
    }
    c->lease_id = l->id;
    c->ttl_ms = l->ttl_ms;
    c->at_ms = l->checkpoint_wall_ms;
    snprintf(c->owner, sizeof c->owner, "%s", l->owner);
}

int dc_state_dump(const dc_state_t *state, dc_changes_t *out)
{
    dump_t d = {out, 0};
    dc_change_t *c = dc_changes_add(out, DC_REC_EPOCH);
    if (!c)
        return -1;
    c->value = state->epoch;
    dc_leases_each(state->leases, s_dump_lease, &d);
    dc_entry_t **entries = NULL;
    size_t n = dc_registry_snapshot(state->registry, NULL, &entries);
    if (n == (size_t)-1)
        return -1;
    for (size_t i = 0; i < n && d.rc == 0; i++) {
        c = dc_changes_add(out, DC_REC_TOPIC_PUT);
        if (c)
            c->entry = dc_entry_ref(entries[i]);
        else
            d.rc = -1;
    }
    dc_registry_release_snapshot(entries, n);
    if (d.rc == 0) {
        n = dc_registry_snapshot(state->subs, NULL, &entries);
        if (n == (size_t)-1)
            return -1;
        for (size_t i = 0; i < n && d.rc == 0; i++) {
            c = dc_changes_add(out, DC_REC_SUB_PUT);
            if (c)
                c->entry = dc_entry_ref(entries[i]);
            else
                d.rc = -1;
        }
        dc_registry_release_snapshot(entries, n);
    }
    dc_node_t **nodes = NULL;
    n = d.rc == 0 ? dc_nodes_find(state->nodes, (dc_str_t){NULL, 0}, &nodes) : 0;
    if (n == (size_t)-1)
        return -1;
    for (size_t i = 0; i < n && d.rc == 0; i++) {
        c = dc_changes_add(out, DC_REC_NODE_PUT);
        if (c)
            c->node = dc_node_ref(nodes[i]);
        else
            d.rc = -1;
    }
    if (nodes)
        dc_nodes_release(nodes, n);
    for (size_t i = 0; i < DC_DEDUP_SLOTS && d.rc == 0; i++) {
        const dc_dedup_entry_t *r = dc_dedup_at(state->dedup, i);
        if (!r->message)
            continue;
        c = dc_changes_add(out, DC_REC_REQUEST);
        if (!c || !(c->text = strdup(r->message))) {
            d.rc = -1;
            break;
        }
        c->value = r->request_id;
        c->status = r->status;
        c->lease_id = r->lease_id;
        c->ttl_ms = r->lease_ttl_ms;
    }
    for (int i = 0; i < state->member_count && d.rc == 0; i++) {
        c = dc_changes_add(out, DC_REC_MEMBER);
        if (!c || !(c->text = strdup(state->members[i].endpoint))) {
            d.rc = -1;
            break;
        }
        c->value = state->members[i].id;
    }
    c = d.rc == 0 ? dc_changes_add(out, DC_REC_SEQS) : NULL;
    if (!c)
        return -1;
    c->seqs[0] = state->change_seq;
    c->seqs[1] = state->lease_seq;
    c->seqs[2] = state->event_seq;
    c->value = state->applied_index;
    return 0;
}
