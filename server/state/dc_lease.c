/* dc_lease.c: the lease table (see the .h). */
#include "dc_lease.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct dc_leases {
    pthread_mutex_t lock;
    dc_lease_t **buckets;
    size_t bucket_count; /* power of two */
    size_t count;
    /* Leases renewed since the writer last saved them (ids). */
    uint64_t *dirty;
    size_t dirty_count, dirty_cap;
    /* Leases renewed since their renewals were last passed to the leader. */
    bool forwarding;
    uint64_t *forward;
    size_t forward_count, forward_cap;
};

/* Appends id to a growable id list. Out of memory: the id is dropped. */
static bool s_push_id(uint64_t **list, size_t *count, size_t *cap, uint64_t id)
{
    if (*count == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 256;
        uint64_t *grown = realloc(*list, grown_cap * sizeof *grown);
        if (!grown)
            return false;
        *list = grown;
        *cap = grown_cap;
    }
    (*list)[(*count)++] = id;
    return true;
}

static size_t s_bucket(const dc_leases_t *self, uint64_t id)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ULL) >> 20) & (self->bucket_count - 1);
}

dc_leases_t *dc_leases_new(void)
{
    dc_leases_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->bucket_count = 1024;
    self->buckets = calloc(self->bucket_count, sizeof *self->buckets);
    if (!self->buckets) {
        free(self);
        return NULL;
    }
    return self;
}

static void s_lease_free(dc_lease_t *l)
{
    dc_lease_detach_all(l);
    free(l->topics);
    free(l);
}

void dc_leases_destroy(dc_leases_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_leases_t *self = *self_p;
    for (size_t b = 0; b < self->bucket_count; b++) {
        dc_lease_t *l = self->buckets[b];
        while (l) {
            dc_lease_t *next = l->hash_next;
            s_lease_free(l);
            l = next;
        }
    }
    free(self->buckets);
    free(self->dirty);
    free(self->forward);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static dc_lease_t *s_find(dc_leases_t *self, uint64_t id)
{
    dc_lease_t *l = self->buckets[s_bucket(self, id)];
    while (l && l->id != id)
        l = l->hash_next;
    return l;
}

uint64_t dc_leases_heartbeat(dc_leases_t *self, uint64_t id, uint64_t now_mono_ms,
                             uint64_t now_wall_ms)
{
    pthread_mutex_lock(&self->lock);
    dc_lease_t *l = s_find(self, id);
    uint64_t ttl = 0;
    if (l) {
        ttl = l->ttl_ms;
        l->expires_mono_ms = now_mono_ms + l->ttl_ms;
        l->renewed_wall_ms = now_wall_ms;
        /* Saving every renewal would cost a row update per heartbeat. A saved
         * time up to TTL/2 old only makes a restored lease expire earlier (never
         * later), and a live client renews every TTL/3, well inside the
         * restored TTL + grace. */
        if (!l->dirty && now_wall_ms - l->saved_wall_ms >= l->ttl_ms / 2) {
            l->saved_wall_ms = now_wall_ms;
            /* Out of memory only delays saving the renewal to disk. */
            l->dirty = s_push_id(&self->dirty, &self->dirty_count, &self->dirty_cap, id);
        }
        if (self->forwarding && !l->fwd_pending)
            l->fwd_pending =
                s_push_id(&self->forward, &self->forward_count, &self->forward_cap, id);
    }
    pthread_mutex_unlock(&self->lock);
    return ttl;
}

uint64_t dc_leases_ttl(dc_leases_t *self, uint64_t id)
{
    pthread_mutex_lock(&self->lock);
    dc_lease_t *l = s_find(self, id);
    uint64_t ttl = l ? l->ttl_ms : 0;
    pthread_mutex_unlock(&self->lock);
    return ttl;
}

size_t dc_leases_count(dc_leases_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->count;
    pthread_mutex_unlock(&self->lock);
    return n;
}

dc_lease_t *dc_lease_new(uint64_t id, uint64_t ttl_ms, uint64_t expires_mono_ms,
                         uint64_t renewed_wall_ms)
{
    dc_lease_t *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->id = id;
    l->ttl_ms = ttl_ms;
    l->expires_mono_ms = expires_mono_ms;
    l->renewed_wall_ms = renewed_wall_ms;
    l->saved_wall_ms = renewed_wall_ms;
    l->checkpoint_wall_ms = renewed_wall_ms;
    return l;
}

void dc_leases_add(dc_leases_t *self, dc_lease_t *l)
{
    pthread_mutex_lock(&self->lock);
    if (self->count >= self->bucket_count) {
        size_t count = self->bucket_count * 2;
        dc_lease_t **buckets = calloc(count, sizeof *buckets);
        if (buckets) {
            size_t old_count = self->bucket_count;
            dc_lease_t **old = self->buckets;
            self->buckets = buckets;
            self->bucket_count = count;
            for (size_t b = 0; b < old_count; b++) {
                dc_lease_t *e = old[b];
                while (e) {
                    dc_lease_t *next = e->hash_next;
                    size_t nb = s_bucket(self, e->id);
                    e->hash_next = buckets[nb];
                    buckets[nb] = e;
                    e = next;
                }
            }
            free(old);
        }
    }
    size_t b = s_bucket(self, l->id);
    l->hash_next = self->buckets[b];
    self->buckets[b] = l;
    self->count++;
    pthread_mutex_unlock(&self->lock);
}

dc_lease_t *dc_leases_find(dc_leases_t *self, uint64_t id)
{
    pthread_mutex_lock(&self->lock);
    dc_lease_t *l = s_find(self, id);
    pthread_mutex_unlock(&self->lock);
    return l;
}

void dc_leases_set_forwarding(dc_leases_t *self, bool on)
{
    pthread_mutex_lock(&self->lock);
    self->forwarding = on;
    pthread_mutex_unlock(&self->lock);
}

size_t dc_leases_take_forward(dc_leases_t *self, uint64_t **ids)
{
    pthread_mutex_lock(&self->lock);
    size_t n = 0;
    *ids = self->forward_count ? malloc(self->forward_count * sizeof **ids) : NULL;
    for (size_t i = 0; *ids && i < self->forward_count; i++) {
        dc_lease_t *l = s_find(self, self->forward[i]);
        if (l) {
            l->fwd_pending = false;
            (*ids)[n++] = l->id;
        }
    }
    if (*ids || !self->forward_count)
        self->forward_count = 0;
    pthread_mutex_unlock(&self->lock);
    return n;
}

void dc_leases_clear(dc_leases_t *self)
{
    pthread_mutex_lock(&self->lock);
    for (size_t b = 0; b < self->bucket_count; b++) {
        dc_lease_t *l = self->buckets[b];
        self->buckets[b] = NULL;
        while (l) {
            dc_lease_t *next = l->hash_next;
            s_lease_free(l);
            l = next;
        }
    }
    self->count = 0;
    self->dirty_count = self->forward_count = 0;
    pthread_mutex_unlock(&self->lock);
}

void dc_leases_each(dc_leases_t *self, void (*fn)(void *arg, dc_lease_t *l), void *arg)
{
    pthread_mutex_lock(&self->lock);
    for (size_t b = 0; b < self->bucket_count; b++)
        for (dc_lease_t *l = self->buckets[b]; l; l = l->hash_next)
            fn(arg, l);
    pthread_mutex_unlock(&self->lock);
}

uint64_t dc_leases_expiry(dc_leases_t *self, uint64_t id)
{
    pthread_mutex_lock(&self->lock);
    dc_lease_t *l = s_find(self, id);
    uint64_t expiry = l ? l->expires_mono_ms : 0;
    pthread_mutex_unlock(&self->lock);
    return expiry;
}

void dc_leases_set_expiry(dc_leases_t *self, uint64_t id, uint64_t expires_mono_ms)
{
    pthread_mutex_lock(&self->lock);
    dc_lease_t *l = s_find(self, id);
    if (l)
        l->expires_mono_ms = expires_mono_ms;
    pthread_mutex_unlock(&self->lock);
}

void dc_leases_remove(dc_leases_t *self, uint64_t id)
{
    pthread_mutex_lock(&self->lock);
    dc_lease_t **slot = &self->buckets[s_bucket(self, id)];
    while (*slot && (*slot)->id != id)
        slot = &(*slot)->hash_next;
    dc_lease_t *l = *slot;
    if (l) {
        *slot = l->hash_next;
        self->count--;
    }
    pthread_mutex_unlock(&self->lock);
    if (l)
        s_lease_free(l);
}

int dc_lease_attach_topic(dc_lease_t *l, const char *name)
{
    for (size_t i = l->topic_count; i-- > 0;)
        if (strcmp(l->topics[i], name) == 0)
            return 0;
    if (l->topic_count == l->topic_cap) {
        size_t cap = l->topic_cap ? l->topic_cap * 2 : 4;
        char **grown = realloc(l->topics, cap * sizeof *grown);
        if (!grown)
            return -1;
        l->topics = grown;
        l->topic_cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    l->topics[l->topic_count++] = copy;
    return 0;
}

void dc_lease_detach_all(dc_lease_t *l)
{
    for (size_t i = 0; i < l->topic_count; i++)
        free(l->topics[i]);
    l->topic_count = 0;
    free(l->node);
    l->node = NULL;
}

size_t dc_leases_take_dirty(dc_leases_t *self, uint64_t **ids, uint64_t **times)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->dirty_count;
    uint64_t *out_ids = n ? malloc(n * sizeof *out_ids) : NULL;
    uint64_t *out_times = n ? malloc(n * sizeof *out_times) : NULL;
    size_t kept = 0;
    if (out_ids && out_times) {
        for (size_t i = 0; i < n; i++) {
            dc_lease_t *l = s_find(self, self->dirty[i]);
            if (!l)
                continue;
            l->dirty = false;
            out_ids[kept] = l->id;
            out_times[kept++] = l->renewed_wall_ms;
        }
        self->dirty_count = 0;
    }
    pthread_mutex_unlock(&self->lock);
    if (!kept) {
        free(out_ids);
        free(out_times);
        out_ids = out_times = NULL;
    }
    *ids = out_ids;
    *times = out_times;
    return kept;
}
