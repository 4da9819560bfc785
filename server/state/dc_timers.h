/* dc_timers.h: a min-heap of deadlines, each with an id and an optional name
 * (the writer's lease expiry checks, the held WAITs' time-outs).
 *
 * Design notes: a heap belongs to one thread; nothing here locks. */
#ifndef DC_TIMERS_H
#define DC_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t deadline; /* monotonic ms */
    uint64_t id;
    char *name; /* owned by whoever pops the timer; NULL: none */
} dc_timer_t;

typedef struct {
    dc_timer_t *items;
    size_t count, cap;
} dc_timers_t;

/* Queues a timer (copying name). Returns 0, or -1 when out of memory. */
int dc_timers_push(dc_timers_t *self, uint64_t deadline, uint64_t id, const char *name);

/* Pops the earliest timer into *out when it is due at now; the caller frees
 * out->name. Returns false when none is due. */
bool dc_timers_pop_due(dc_timers_t *self, uint64_t now, dc_timer_t *out);

/* The earliest deadline, or UINT64_MAX when empty. */
uint64_t dc_timers_next(const dc_timers_t *self);

/* Frees every timer and the heap. */
void dc_timers_free(dc_timers_t *self);

#endif
