/* dc_lessor.c: a lease's life over time (see the .h). */
#include "dc_lessor.h"
#include "dc_clock.h"
#include "dc_log.h"

#include <stdlib.h>
#include <string.h>

void dc_lessor_init(dc_lessor_t *self, dc_leases_t *leases)
{
    memset(self, 0, sizeof *self);
    self->leases = leases;
}

void dc_lessor_fini(dc_lessor_t *self)
{
    dc_timers_free(&self->checks);
    self->primary = false;
}

static void s_restore(void *arg, dc_lease_t *l)
{
    uint64_t grace_ms = *(const uint64_t *)arg;
    uint64_t now_wall = dc_wall_ms();
    uint64_t end_wall = l->checkpoint_wall_ms + l->ttl_ms + grace_ms;
    l->expires_mono_ms = dc_mono_ms() + (end_wall > now_wall ? end_wall - now_wall : 0);
    l->renewed_wall_ms = l->saved_wall_ms = l->checkpoint_wall_ms;
}

void dc_lessor_restore(dc_leases_t *leases, uint64_t grace_ms)
{
    dc_leases_each(leases, s_restore, &grace_ms);
}

typedef struct {
    dc_lessor_t *self;
    bool extend;
    uint64_t now;
} promotion_t;

static void s_schedule(void *arg, dc_lease_t *l)
{
    promotion_t *p = arg;
    if (p->extend && !l->own_expiry)
        l->expires_mono_ms = p->now + l->ttl_ms;
    if (dc_timers_push(&p->self->checks, l->expires_mono_ms, l->id, NULL) != 0)
        dc_error("out of memory: lease %llu will not expire", (unsigned long long)l->id);
}

void dc_lessor_promote(dc_lessor_t *self, bool extend)
{
    self->primary = true;
    dc_leases_set_forwarding(self->leases, false);
    dc_timers_free(&self->checks);
    promotion_t p = {self, extend, dc_mono_ms()};
    dc_leases_each(self->leases, s_schedule, &p);
}

void dc_lessor_demote(dc_lessor_t *self)
{
    self->primary = false;
    dc_timers_free(&self->checks);
    dc_leases_set_forwarding(self->leases, true);
}

void dc_lessor_granted(dc_lessor_t *self, const dc_lease_t *l)
{
    if (self->primary && dc_timers_push(&self->checks, l->expires_mono_ms, l->id, NULL) != 0)
        dc_error("out of memory: lease %llu will not expire", (unsigned long long)l->id);
}

size_t dc_lessor_expire(dc_lessor_t *self, dc_decider_t *d, uint64_t stalled_ms,
                        uint64_t *ended, size_t max)
{
    uint64_t now = d->now_mono;
    size_t count = 0;
    dc_timer_t t;
    while (self->primary && count < max && dc_timers_pop_due(&self->checks, now, &t)) {
        uint64_t ttl = dc_leases_ttl(self->leases, t.id);
        uint64_t expiry = dc_leases_expiry(self->leases, t.id);
        if (!ttl || expiry == 0)
            continue; /* revoked or already expired */
        if (expiry > now) {
            dc_timers_push(&self->checks, expiry, t.id, NULL); /* renewed meanwhile */
            continue;
        }
        if (stalled_ms > ttl / 2) {
            dc_warn("loop stalled %llu ms: lease %llu renewed, not expired",
                    (unsigned long long)stalled_ms, (unsigned long long)t.id);
            dc_leases_heartbeat(self->leases, t.id, now, d->now_wall);
            dc_timers_push(&self->checks, now + ttl, t.id, NULL);
            continue;
        }
        size_t removed = dc_decide_lease_end(d, t.id, DC_REASON_EXPIRED);
        dc_info("lease %llu expired: %zu topic(s) to remove", (unsigned long long)t.id, removed);
        ended[count++] = t.id;
    }
    return count;
}

void dc_lessor_retry(dc_lessor_t *self, const uint64_t *ids, size_t n, uint64_t when)
{
    for (size_t i = 0; self->primary && i < n; i++)
        dc_timers_push(&self->checks, when, ids[i], NULL);
}

size_t dc_lessor_checkpoint(dc_lessor_t *self, dc_decider_t *d)
{
    uint64_t *ids = NULL, *times = NULL;
    size_t n = dc_leases_take_dirty(self->leases, &ids, &times), added = 0;
    for (size_t i = 0; i < n; i++) {
        dc_change_t *c = dc_changes_add(d->batch, DC_REC_LEASE_RENEW);
        if (!c)
            break;
        c->lease_id = ids[i];
        c->at_ms = times[i];
        added++;
    }
    free(ids);
    free(times);
    return added;
}

uint64_t dc_lessor_next(const dc_lessor_t *self)
{
    return dc_timers_next(&self->checks);
}
