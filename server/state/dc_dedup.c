/* dc_dedup.c: the request_id answer table (see the .h). */
#include "dc_dedup.h"

#include <stdlib.h>
#include <string.h>

struct dc_dedup {
    dc_dedup_entry_t slots[DC_DEDUP_SLOTS];
};

dc_dedup_t *dc_dedup_new(void)
{
    return calloc(1, sizeof(dc_dedup_t));
}

void dc_dedup_clear(dc_dedup_t *self)
{
    for (size_t i = 0; i < DC_DEDUP_SLOTS; i++) {
        free(self->slots[i].message);
        memset(&self->slots[i], 0, sizeof self->slots[i]);
    }
}

void dc_dedup_destroy(dc_dedup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_dedup_clear(*self_p);
    free(*self_p);
    *self_p = NULL;
}

size_t dc_dedup_slot(uint64_t request_id)
{
    uint64_t h = request_id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 32) & (DC_DEDUP_SLOTS - 1);
}

const dc_dedup_entry_t *dc_dedup_find(const dc_dedup_t *self, uint64_t request_id)
{
    const dc_dedup_entry_t *e = &self->slots[dc_dedup_slot(request_id)];
    return e->message && e->request_id == request_id ? e : NULL;
}

int dc_dedup_put(dc_dedup_t *self, uint64_t request_id, int status, const char *message,
                 uint64_t lease_id, uint64_t lease_ttl_ms)
{
    dc_dedup_entry_t *e = &self->slots[dc_dedup_slot(request_id)];
    free(e->message);
    memset(e, 0, sizeof *e);
    char *copy = strdup(message ? message : "");
    if (!copy)
        return -1;
    *e = (dc_dedup_entry_t){request_id, status, copy, lease_id, lease_ttl_ms};
    return 0;
}

const dc_dedup_entry_t *dc_dedup_at(const dc_dedup_t *self, size_t i)
{
    return &self->slots[i];
}
