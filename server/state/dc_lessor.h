/* dc_lessor.h: a lease's life over time, in one module: its restore after a
 * restart, who expires it (standalone: the writer; in a cluster: the leader
 * alone), the extension on promotion (a new leader gives every lease a full
 * TTL, as it cannot know when a lease was last renewed elsewhere), the stop
 * on demotion (a follower passes the renewals it takes on to the leader),
 * the expiry itself, and renewal checkpoints.
 *
 * Around it: the lease table (dc_lease.h) holds the leases and takes
 * heartbeats from any thread; a grant, a revocation and the end a lease's
 * expiry causes are decided like any change (dc_decide_lease_end) and
 * applied by dc_apply, which tells the writer's observer, which tells
 * dc_lessor_granted.
 *
 * Design notes: a lessor belongs to the writer's thread (dc_writer or
 * dc_cluster) and is used by it alone; what it touches of the table goes
 * through the table's own mutex. */
#ifndef DC_LESSOR_H
#define DC_LESSOR_H

#include "dc_decide.h"
#include "dc_timers.h"

typedef struct {
    dc_leases_t *leases;
    dc_timers_t checks; /* expiry checks (id: lease id); empty while not primary */
    bool primary;       /* this thread expires the leases */
} dc_lessor_t;

/* A lessor for leases, not primary: it expires nothing until promoted. */
void dc_lessor_init(dc_lessor_t *self, dc_leases_t *leases);
void dc_lessor_fini(dc_lessor_t *self);

/* Standalone, after the database is loaded: every lease lives until its last
 * checkpointed renewal + TTL + grace_ms, counted in wall time, so however
 * often the daemon restarts a lease nobody renews is gone by then (the grace
 * is not granted afresh at each start). */
void dc_lessor_restore(dc_leases_t *leases, uint64_t grace_ms);

/* This thread expires the leases from now on; renewals are no longer
 * passed on. extend: every lease gets a full TTL from now (a new leader),
 * but those renewed on this member alone (own_expiry: its island's); otherwise
 * each keeps the expiry it has (standalone, after restore). */
void dc_lessor_promote(dc_lessor_t *self, bool extend);

/* This thread no longer expires leases (a leader that stepped down, a
 * follower at start): the checks are dropped and every renewal taken here
 * is queued to be passed on to the leader (dc_leases_take_forward). */
void dc_lessor_demote(dc_lessor_t *self);

/* The observer's part: lease l was granted (applied); when primary, its
 * expiry is checked. */
void dc_lessor_granted(dc_lessor_t *self, const dc_lease_t *l);

/* Pops the checks due at d->now_mono. A lease renewed since is checked again
 * at its new expiry; one that ran out is ended into d's batch
 * (DC_REASON_EXPIRED), unless the caller's loop stalled longer than half its
 * TTL (stalled_ms): its renewals could not be counted then, so it is renewed
 * instead. Ends at most max leases, writing their ids into ended; returns
 * how many. Nothing while not primary. */
size_t dc_lessor_expire(dc_lessor_t *self, dc_decider_t *d, uint64_t stalled_ms,
                        uint64_t *ended, size_t max);

/* Ends that could not be committed: their leases are checked again at when. */
void dc_lessor_retry(dc_lessor_t *self, const uint64_t *ids, size_t n, uint64_t when);

/* Appends a LEASE_RENEW checkpoint to d's batch for every lease whose
 * renewal heartbeats marked for saving (saved time TTL/2 old). Returns how
 * many. */
size_t dc_lessor_checkpoint(dc_lessor_t *self, dc_decider_t *d);

/* When the next expiry check falls due (UINT64_MAX: none). */
uint64_t dc_lessor_next(const dc_lessor_t *self);

#endif
