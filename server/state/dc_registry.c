/* dc_registry.c: hash index + LIST-order (create_seq) list under one rwlock (see the .h). */
#define _GNU_SOURCE
#include "dc_registry.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct dc_registry {
    pthread_rwlock_t lock;
    dc_entry_t **buckets;
    size_t bucket_count; /* a power of two */
    size_t count;
    size_t shared; /* registrations whose name has another one (0: one per name) */
    dc_entry_t *head, *tail;
    atomic_uint_fast64_t generation; /* +1 per change, under the write lock */
};

dc_registry_t *dc_registry_new(void)
{
    dc_registry_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Continuous LIST readers must not starve registrations. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&self->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    self->bucket_count = 1024;
    self->buckets = calloc(self->bucket_count, sizeof *self->buckets);
    if (!self->buckets) {
        free(self);
        return NULL;
    }
    return self;
}

void dc_registry_destroy(dc_registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_registry_t *self = *self_p;
    dc_entry_t *e = self->head;
    while (e) {
        dc_entry_t *next = e->next;
        dc_entry_unref(&e);
        e = next;
    }
    free(self->buckets);
    pthread_rwlock_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static dc_entry_t **s_bucket(dc_registry_t *self, dc_str_t name)
{
    return &self->buckets[dc_str_hash(name, DC_STR_HASH_SEED) & (self->bucket_count - 1)];
}

/* The link to node's registration of name (node.ptr NULL: to the first of
 * name), or to the chain's end. */
static dc_entry_t **s_slot(dc_registry_t *self, dc_str_t name, dc_str_t node)
{
    dc_entry_t **slot = s_bucket(self, name);
    while (*slot && !(dc_str_eq((*slot)->topic.name, name) &&
                      (!node.ptr || dc_str_eq((*slot)->topic.publisher_node, node))))
        slot = &(*slot)->hash_next;
    return slot;
}

/* Is a registered more recently than b? */
static bool s_newer(const dc_entry_t *a, const dc_entry_t *b)
{
    if (a->registered_at_ms != b->registered_at_ms)
        return a->registered_at_ms > b->registered_at_ms;
    return a->put_order > b->put_order;
}

/* The most recent registration of name; called under a lock. */
static dc_entry_t *s_newest(dc_registry_t *self, dc_str_t name)
{
    dc_entry_t *best = NULL;
    for (dc_entry_t *e = *s_bucket(self, name); e; e = e->hash_next)
        if (dc_str_eq(e->topic.name, name) && (!best || s_newer(e, best)))
            best = e;
    return best;
}

/* How many other registrations share e's name; called under a lock. */
static size_t s_siblings(dc_registry_t *self, const dc_entry_t *e)
{
    size_t n = 0;
    for (dc_entry_t *o = *s_bucket(self, e->topic.name); o; o = o->hash_next)
        if (o != e && dc_str_eq(o->topic.name, e->topic.name))
            n++;
    return n;
}

dc_entry_t *dc_registry_lookup(dc_registry_t *self, dc_str_t name)
{
    pthread_rwlock_rdlock(&self->lock);
    dc_entry_t *e = self->shared ? s_newest(self, name) : *s_slot(self, name, (dc_str_t){NULL, 0});
    if (e)
        dc_entry_ref(e);
    pthread_rwlock_unlock(&self->lock);
    return e;
}

/* Up to cap registrations of name into buf (borrowed); returns how many
 * name has. Called under a lock, or by the writer. */
static size_t s_collect(dc_registry_t *self, dc_str_t name, dc_entry_t **buf, size_t cap)
{
    size_t n = 0;
    for (dc_entry_t *e = *s_bucket(self, name); e; e = e->hash_next)
        if (dc_str_eq(e->topic.name, name)) {
            if (n < cap)
                buf[n] = e;
            n++;
        }
    return n;
}

static int s_by_create_seq(const void *a, const void *b)
{
    const dc_entry_t *x = *(dc_entry_t *const *)a, *y = *(dc_entry_t *const *)b;
    return x->create_seq < y->create_seq ? -1 : x->create_seq > y->create_seq;
}

/* Puts n collected registrations in registration (LIST) order and tells
 * where best (the newest) went. */
static void s_arrange(dc_entry_t **buf, size_t n, const dc_entry_t *best, size_t *newest)
{
    if (n > 1)
        qsort(buf, n, sizeof *buf, s_by_create_seq);
    for (size_t i = 0; newest && i < n; i++)
        if (buf[i] == best)
            *newest = i;
}

size_t dc_registry_lookup_into(dc_registry_t *self, dc_str_t name, dc_entry_t **buf, size_t cap,
                               size_t *newest)
{
    if (newest)
        *newest = 0;
    pthread_rwlock_rdlock(&self->lock);
    size_t n = s_collect(self, name, buf, cap);
    dc_entry_t *best = n && n <= cap ? s_newest(self, name) : NULL;
    for (size_t i = 0; best && i < n; i++)
        dc_entry_ref(buf[i]);
    pthread_rwlock_unlock(&self->lock);
    if (best)
        s_arrange(buf, n, best, newest);
    return n;
}

size_t dc_registry_lookup_all(dc_registry_t *self, dc_str_t name, dc_entry_t ***out,
                              size_t *newest)
{
    *out = NULL;
    if (newest)
        *newest = 0;
    pthread_rwlock_rdlock(&self->lock);
    size_t n = s_collect(self, name, NULL, 0);
    dc_entry_t **entries = n ? malloc(n * sizeof *entries) : NULL;
    if (n && !entries) {
        pthread_rwlock_unlock(&self->lock);
        return (size_t)-1;
    }
    s_collect(self, name, entries, n);
    for (size_t i = 0; i < n; i++)
        dc_entry_ref(entries[i]);
    dc_entry_t *best = n ? s_newest(self, name) : NULL;
    pthread_rwlock_unlock(&self->lock);
    s_arrange(entries, n, best, newest);
    *out = entries;
    return n;
}

/* Does the entry's metadata hold every key/value of want? */
static bool s_metadata_matches(const dc_entry_t *e, const msgpack_object *want)
{
    if (want->via.map.size == 0)
        return true;
    if (!e->metadata.data)
        return false;
    msgpack_unpacked have;
    char err[DC_ERR_LEN];
    if (dc_mp_unpack(&have, e->metadata.data, e->metadata.size, err) != 0)
        return false;
    bool all = have.data.type == MSGPACK_OBJECT_MAP;
    for (uint32_t i = 0; all && i < want->via.map.size; i++) {
        const msgpack_object_kv *w = &want->via.map.ptr[i];
        bool found = false;
        for (uint32_t j = 0; !found && j < have.data.via.map.size; j++) {
            const msgpack_object_kv *h = &have.data.via.map.ptr[j];
            found = msgpack_object_equal(w->key, h->key) && msgpack_object_equal(w->val, h->val);
        }
        all = found;
    }
    msgpack_unpacked_destroy(&have);
    return all;
}

static bool s_matches(const dc_entry_t *e, const dc_filter_t *f)
{
    if (!f)
        return true;
    if (f->prefix.ptr && (e->topic.name.len < f->prefix.len ||
                          memcmp(e->topic.name.ptr, f->prefix.ptr, f->prefix.len) != 0))
        return false;
    if (f->message_type.ptr && !dc_str_eq(e->topic.message_type, f->message_type))
        return false;
    if (f->publisher_node.ptr && !dc_str_eq(e->topic.publisher_node, f->publisher_node))
        return false;
    if (f->metadata && !s_metadata_matches(e, f->metadata))
        return false;
    return true;
}

size_t dc_registry_snapshot(dc_registry_t *self, const dc_filter_t *filter, dc_entry_t ***out)
{
    return dc_registry_snapshot_at(self, filter, false, out, NULL);
}

size_t dc_registry_snapshot_at(dc_registry_t *self, const dc_filter_t *filter, bool one_per_name,
                               dc_entry_t ***out, uint64_t *generation)
{
    pthread_rwlock_rdlock(&self->lock);
    if (generation)
        *generation = dc_registry_generation(self);
    size_t capacity = self->count ? self->count : 1;
    dc_entry_t **entries = malloc(capacity * sizeof *entries);
    if (!entries) {
        pthread_rwlock_unlock(&self->lock);
        return (size_t)-1;
    }
    size_t n = 0;
    bool dedupe = one_per_name && self->shared;
    for (dc_entry_t *e = self->head; e; e = e->next)
        if (s_matches(e, filter) && (!dedupe || s_newest(self, e->topic.name) == e))
            entries[n++] = dc_entry_ref(e);
    pthread_rwlock_unlock(&self->lock);
    *out = entries;
    return n;
}

void dc_registry_release_snapshot(dc_entry_t **entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dc_entry_unref(&entries[i]);
    free(entries);
}

uint64_t dc_registry_generation(dc_registry_t *self)
{
    return atomic_load_explicit(&self->generation, memory_order_acquire);
}

size_t dc_registry_count(dc_registry_t *self)
{
    pthread_rwlock_rdlock(&self->lock);
    size_t n = self->count;
    pthread_rwlock_unlock(&self->lock);
    return n;
}

dc_entry_t *dc_registry_peek(dc_registry_t *self, dc_str_t name, dc_str_t node)
{
    if (!node.ptr)
        node = (dc_str_t){"", 0};
    return *s_slot(self, name, node);
}

size_t dc_registry_peek_all(dc_registry_t *self, dc_str_t name, dc_entry_t **out, size_t max)
{
    return s_collect(self, name, out, max);
}

/* Doubles the bucket array; called with the write lock held. */
static int s_grow(dc_registry_t *self)
{
    size_t count = self->bucket_count * 2;
    dc_entry_t **buckets = calloc(count, sizeof *buckets);
    if (!buckets)
        return -1;
    for (dc_entry_t *e = self->head; e; e = e->next) {
        dc_entry_t **b = &buckets[dc_str_hash(e->topic.name, DC_STR_HASH_SEED) & (count - 1)];
        e->hash_next = *b;
        *b = e;
    }
    free(self->buckets);
    self->buckets = buckets;
    self->bucket_count = count;
    return 0;
}

int dc_registry_put(dc_registry_t *self, dc_entry_t *e)
{
    pthread_rwlock_wrlock(&self->lock);
    e->put_order = dc_registry_generation(self) + 1;
    dc_entry_t **slot = s_slot(self, e->topic.name, e->topic.publisher_node);
    dc_entry_t *old = *slot;
    if (old) {
        /* Swap in place: same chain position, same list position. */
        e->hash_next = old->hash_next;
        *slot = e;
        e->prev = old->prev;
        e->next = old->next;
        if (e->prev)
            e->prev->next = e;
        else
            self->head = e;
        if (e->next)
            e->next->prev = e;
        else
            self->tail = e;
        atomic_fetch_add_explicit(&self->generation, 1, memory_order_release);
        pthread_rwlock_unlock(&self->lock);
        dc_entry_unref(&old);
        return 0;
    }
    if (self->count >= self->bucket_count && s_grow(self) == 0)
        slot = s_slot(self, e->topic.name, e->topic.publisher_node);
    e->hash_next = NULL;
    *slot = e;
    size_t siblings = s_siblings(self, e);
    /* e is shared now if it has a sibling; a lone sibling becomes shared too. */
    self->shared += (siblings > 0) + (siblings == 1);
    /* Its LIST place, by create_seq: at the end for a new registration (the
     * highest yet), further back for one put again (a restored state). */
    dc_entry_t *after = self->tail;
    while (after && after->create_seq > e->create_seq)
        after = after->prev;
    e->prev = after;
    e->next = after ? after->next : self->head;
    if (e->next)
        e->next->prev = e;
    else
        self->tail = e;
    if (after)
        after->next = e;
    else
        self->head = e;
    self->count++;
    atomic_fetch_add_explicit(&self->generation, 1, memory_order_release);
    pthread_rwlock_unlock(&self->lock);
    return 0;
}

int dc_registry_remove(dc_registry_t *self, dc_str_t name, dc_str_t node)
{
    pthread_rwlock_wrlock(&self->lock);
    dc_entry_t **slot = s_slot(self, name, node);
    dc_entry_t *e = *slot;
    if (!e) {
        pthread_rwlock_unlock(&self->lock);
        return -1;
    }
    size_t siblings = s_siblings(self, e);
    /* e is no longer counted; a sibling left alone neither. */
    self->shared -= (siblings > 0) + (siblings == 1);
    *slot = e->hash_next;
    if (e->prev)
        e->prev->next = e->next;
    else
        self->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        self->tail = e->prev;
    self->count--;
    atomic_fetch_add_explicit(&self->generation, 1, memory_order_release);
    pthread_rwlock_unlock(&self->lock);
    dc_entry_unref(&e);
    return 0;
}

void dc_registry_clear(dc_registry_t *self)
{
    dc_entry_t **entries = NULL;
    size_t n = dc_registry_snapshot(self, NULL, &entries);
    for (size_t i = 0; n != (size_t)-1 && i < n; i++)
        dc_registry_remove(self, entries[i]->topic.name, entries[i]->topic.publisher_node);
    if (n != (size_t)-1)
        dc_registry_release_snapshot(entries, n);
}
