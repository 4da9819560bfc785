/* dc_lookups.c: legacy lookups counted per topic (see the .h). */
#include "dc_lookups.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8192 /* a power of two, twice DC_LOOKUPS_MAX: probes stay short */

typedef struct {
    char *name; /* NULL: free */
    uint32_t len;
    uint64_t count, last_ms;
} slot_t;

struct dc_lookups {
    pthread_mutex_t lock;
    size_t used;
    slot_t slots[SLOTS];
};

dc_lookups_t *dc_lookups_new(void)
{
    dc_lookups_t *self = calloc(1, sizeof *self);
    if (self)
        pthread_mutex_init(&self->lock, NULL);
    return self;
}

void dc_lookups_destroy(dc_lookups_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_lookups_t *self = *self_p;
    for (size_t i = 0; i < SLOTS; i++)
        free(self->slots[i].name);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void dc_lookups_note(dc_lookups_t *self, dc_str_t name, uint64_t now_ms)
{
    if (!self || !name.len)
        return;
    size_t i = dc_str_hash(name, DC_STR_HASH_SEED) & (SLOTS - 1);
    pthread_mutex_lock(&self->lock);
    for (;; i = (i + 1) & (SLOTS - 1)) {
        slot_t *s = &self->slots[i];
        if (s->name && s->len == name.len && memcmp(s->name, name.ptr, name.len) == 0) {
            s->count++;
            s->last_ms = now_ms;
            break;
        }
        if (!s->name) {
            if (self->used < DC_LOOKUPS_MAX && (s->name = dc_str_dup(name))) {
                s->len = name.len;
                s->count = 1;
                s->last_ms = now_ms;
                self->used++;
            }
            break;
        }
    }
    pthread_mutex_unlock(&self->lock);
}

static bool s_wanted(const slot_t *s, dc_str_t prefix, bool exact)
{
    if (!s->name)
        return false;
    if (!prefix.ptr)
        return true;
    if (exact)
        return s->len == prefix.len && memcmp(s->name, prefix.ptr, prefix.len) == 0;
    return s->len >= prefix.len && memcmp(s->name, prefix.ptr, prefix.len) == 0;
}

void dc_lookups_pack(dc_lookups_t *self, dc_str_t prefix, bool exact, msgpack_packer *pk)
{
    pthread_mutex_lock(&self->lock);
    size_t n = 0;
    for (size_t i = 0; i < SLOTS; i++)
        n += s_wanted(&self->slots[i], prefix, exact);
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < SLOTS; i++) {
        const slot_t *s = &self->slots[i];
        if (!s_wanted(s, prefix, exact))
            continue;
        msgpack_pack_map(pk, 3);
        dc_mp_pack_str(pk, "topic", 5);
        dc_mp_pack_str(pk, s->name, s->len);
        dc_mp_pack_str(pk, "count", 5);
        msgpack_pack_uint64(pk, s->count);
        dc_mp_pack_str(pk, "last_ms", 7);
        msgpack_pack_uint64(pk, s->last_ms);
    }
    pthread_mutex_unlock(&self->lock);
}
