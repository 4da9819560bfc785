/* dc_timers.c: a binary min-heap of deadlines (see the .h). */
#include "dc_timers.h"

#include <stdlib.h>
#include <string.h>

int dc_timers_push(dc_timers_t *self, uint64_t deadline, uint64_t id, const char *name)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        dc_timer_t *grown = realloc(self->items, cap * sizeof *grown);
        if (!grown)
            return -1;
        self->items = grown;
        self->cap = cap;
    }
    dc_timer_t t = {deadline, id, NULL};
    if (name && !(t.name = strdup(name)))
        return -1;
    size_t i = self->count++;
    while (i > 0 && self->items[(i - 1) / 2].deadline > deadline) {
        self->items[i] = self->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    self->items[i] = t;
    return 0;
}

bool dc_timers_pop_due(dc_timers_t *self, uint64_t now, dc_timer_t *out)
{
    if (self->count == 0 || self->items[0].deadline > now)
        return false;
    *out = self->items[0];
    dc_timer_t last = self->items[--self->count];
    size_t i = 0;
    while (true) {
        size_t child = 2 * i + 1;
        if (child >= self->count)
            break;
        if (child + 1 < self->count &&
            self->items[child + 1].deadline < self->items[child].deadline)
            child++;
        if (self->items[child].deadline >= last.deadline)
            break;
        self->items[i] = self->items[child];
        i = child;
    }
    if (self->count > 0)
        self->items[i] = last;
    return true;
}

uint64_t dc_timers_next(const dc_timers_t *self)
{
    return self->count ? self->items[0].deadline : UINT64_MAX;
}

void dc_timers_free(dc_timers_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        free(self->items[i].name);
    free(self->items);
    memset(self, 0, sizeof *self);
}
