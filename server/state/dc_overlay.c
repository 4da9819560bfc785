/* dc_overlay.c: an island's own view of the names it changed (see the .h). */
#include "dc_overlay.h"

#include <stdatomic.h>
#include <stdlib.h>

struct dc_overlay {
    dc_registry_t *puts;    /* the island's versions: copies */
    dc_registry_t *removed; /* what it removed: copies of the committed ones, for their keys */
    atomic_size_t held;     /* registrations in both, for readers' first look */
    atomic_uint_fast64_t clears; /* +1 as each clear starts: a reader's check */
};

dc_overlay_t *dc_overlay_new(void)
{
    dc_overlay_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->puts = dc_registry_new();
    self->removed = dc_registry_new();
    if (!self->puts || !self->removed)
        dc_overlay_destroy(&self);
    return self;
}

void dc_overlay_destroy(dc_overlay_t **self_p)
{
    dc_overlay_t *self = *self_p;
    if (!self)
        return;
    dc_registry_destroy(&self->puts);
    dc_registry_destroy(&self->removed);
    free(self);
    *self_p = NULL;
}

static void s_count(dc_overlay_t *self)
{
    atomic_store(&self->held, dc_registry_count(self->puts) + dc_registry_count(self->removed));
}

/* A copy of e into registry, in place of what it held of e's key. */
static int s_put_copy(dc_overlay_t *self, dc_registry_t *registry, const dc_entry_t *e)
{
    dc_entry_t *copy = dc_entry_copy(e);
    if (!copy || dc_registry_put(registry, copy) != 0) {
        dc_entry_unref(&copy);
        return -1;
    }
    s_count(self);
    return 0;
}

int dc_overlay_put(dc_overlay_t *self, const dc_entry_t *island_version)
{
    dc_registry_remove(self->removed, island_version->topic.name,
                       island_version->topic.publisher_node);
    return s_put_copy(self, self->puts, island_version);
}

int dc_overlay_remove(dc_overlay_t *self, const dc_entry_t *committed)
{
    dc_registry_remove(self->puts, committed->topic.name, committed->topic.publisher_node);
    return s_put_copy(self, self->removed, committed);
}

void dc_overlay_clear(dc_overlay_t *self)
{
    /* Readers that still see a count find the halves emptied: the
     * registry's answer alone, which is what they get from now on. One
     * that read the registry before what the overlay held got back into it
     * sees the count of clears move, and looks again. */
    atomic_fetch_add(&self->clears, 1);
    atomic_store(&self->held, 0);
    dc_registry_clear(self->puts);
    dc_registry_clear(self->removed);
}

bool dc_overlay_active(dc_overlay_t *self)
{
    return self && atomic_load_explicit(&self->held, memory_order_acquire) > 0;
}

uint64_t dc_overlay_mark(dc_overlay_t *self)
{
    return self ? atomic_load(&self->clears) : 0;
}

bool dc_overlay_alone(dc_overlay_t *self, uint64_t mark)
{
    return !dc_overlay_active(self) && dc_overlay_mark(self) == mark;
}

size_t dc_overlay_count(dc_overlay_t *self, size_t *removed)
{
    size_t r = dc_registry_count(self->removed);
    if (removed)
        *removed = r;
    return dc_registry_count(self->puts) + r;
}

bool dc_overlay_has(dc_overlay_t *self, dc_str_t name)
{
    if (!dc_overlay_active(self))
        return false;
    dc_entry_t *none[1];
    return dc_registry_lookup_into(self->puts, name, none, 0, NULL) > 0 ||
           dc_registry_lookup_into(self->removed, name, none, 0, NULL) > 0;
}

/* Does list[0..n) hold a registration of e's key? */
static bool s_holds_key(dc_entry_t *const *list, size_t n, const dc_entry_t *e)
{
    for (size_t i = 0; i < n; i++)
        if (dc_str_eq(list[i]->topic.publisher_node, e->topic.publisher_node))
            return true;
    return false;
}

static bool s_holds(dc_entry_t *const *list, size_t n, const dc_entry_t *e)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == e)
            return true;
    return false;
}

static int s_by_create_seq(const void *a, const void *b)
{
    const dc_entry_t *x = *(dc_entry_t *const *)a, *y = *(dc_entry_t *const *)b;
    return x->create_seq < y->create_seq ? -1 : x->create_seq > y->create_seq;
}

/* The committed registrations less the keys the island holds, then the
 * island's, into all (which takes every reference kept). Returns the count. */
static size_t s_merge(dc_entry_t **all, dc_entry_t **committed, size_t n_committed,
                      dc_entry_t **mine, size_t n_mine, dc_entry_t **gone, size_t n_gone)
{
    size_t n = 0;
    for (size_t i = 0; i < n_committed; i++) {
        if (s_holds_key(mine, n_mine, committed[i]) || s_holds_key(gone, n_gone, committed[i]))
            dc_entry_unref(&committed[i]);
        else
            all[n++] = committed[i];
    }
    for (size_t i = 0; i < n_mine; i++)
        all[n++] = mine[i];
    if (n > 1)
        qsort(all, n, sizeof *all, s_by_create_seq);
    return n;
}

/* One try of dc_overlay_lookup; *stale when a clear came in its middle. */
static size_t s_lookup_once(dc_overlay_t *self, dc_registry_t *registry, dc_str_t name,
                            dc_entry_t ***out, size_t *newest, bool *stale)
{
    uint64_t mark = dc_overlay_mark(self);
    size_t n_committed = dc_registry_lookup_all(registry, name, out, newest);
    if (n_committed == (size_t)-1)
        return n_committed;
    if (!dc_overlay_active(self)) {
        *stale = dc_overlay_mark(self) != mark;
        return n_committed;
    }
    dc_entry_t **committed = *out, **mine = NULL, **gone = NULL, **all = NULL;
    size_t n_mine = dc_registry_lookup_all(self->puts, name, &mine, NULL);
    size_t n_gone = dc_registry_lookup_all(self->removed, name, &gone, NULL);
    *stale = dc_overlay_mark(self) != mark;
    if (n_mine == 0 && n_gone == 0) /* a name the island did not change */
        return n_committed;
    *out = NULL;
    if (newest)
        *newest = 0;
    bool failed = n_mine == (size_t)-1 || n_gone == (size_t)-1;
    if (!failed && n_mine + n_committed > 0 &&
        !(all = malloc((n_mine + n_committed) * sizeof *all)))
        failed = true;
    size_t n = 0;
    if (!failed && all) {
        n = s_merge(all, committed, n_committed, mine, n_mine, gone, n_gone);
        /* The newest as the registry tells it: the latest registered_at_ms;
         * of equals, the island's (applied after what it replaced). */
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (all[i]->registered_at_ms > all[best]->registered_at_ms ||
                (all[i]->registered_at_ms == all[best]->registered_at_ms &&
                 s_holds(mine, n_mine, all[i])))
                best = i;
        if (newest)
            *newest = best;
        n_mine = n_committed = 0; /* all holds their references now, or they are dropped */
        if (n == 0) {
            free(all);
            all = NULL;
        }
    }
    /* A count of (size_t)-1 comes with no array: nothing to release. */
    dc_registry_release_snapshot(mine, n_mine == (size_t)-1 ? 0 : n_mine);
    dc_registry_release_snapshot(gone, n_gone == (size_t)-1 ? 0 : n_gone);
    dc_registry_release_snapshot(committed, n_committed);
    *out = all;
    return failed ? (size_t)-1 : n;
}

size_t dc_overlay_lookup(dc_overlay_t *self, dc_registry_t *registry, dc_str_t name,
                         dc_entry_t ***out, size_t *newest)
{
    /* The registry first, then the overlay: a restore puts a registration
     * into the overlay before it takes it out of the registry (or puts the
     * committed one back), so a reader that finds it gone from the registry
     * finds it in the overlay, and one that still finds it in the registry
     * gets the island's version either way. Read the other way round, a
     * lookup between the two steps saw neither. What can still come between
     * the two reads is a clear (the merge applied: the registry holds it
     * again): the lookup is made again. Clears come once a merge; the bound
     * is for a writer that would clear without pause. */
    size_t n = 0;
    bool stale = true;
    for (int attempt = 0; stale && attempt < 64; attempt++) {
        if (attempt && n && n != (size_t)-1)
            dc_registry_release_snapshot(*out, n);
        stale = false;
        n = s_lookup_once(self, registry, name, out, newest, &stale);
    }
    return n;
}
