/* dc_island.h: a member cut off from its cluster keeps serving its own
 * computer (cluster/isolated = serve-local, the default), and merges what it
 * took when the link heals.
 *
 * Isolated: no live leader known for two election timeouts (dc_island_tick).
 * From then on a write from this computer (ipc, or tcp from one of its own
 * addresses: the principal's `here`) is decided here, against the committed
 * state plus the island's own changes, with the owner rule; its op is saved
 * in the provisional table (synchronous=FULL) before it is applied to the
 * state and answered OK, `provisional: true` for protocol 2. Writes from other
 * computers get ERROR (never two islands acknowledging conflicting remote
 * writes). Reads see the committed state plus the island's changes. Leases
 * granted here get random ids of their own range (DC_ISLAND_LEASE_IDS) and
 * keep them when merged; the island expires only those.
 *
 * The committed state at the first provisional write is kept (the base):
 * before anything from a leader is applied the state goes back to it, so
 * the Raft log applies to what it was decided against (in place, key by key:
 * dc_state_restore). What the island changed goes into ctx->merging
 * (dc_overlay.h) meanwhile: a lookup of a name it changed gets what this
 * computer was told (its additions and replacements, none of its removals)
 * until the last provisional write is answered. Then each saved op
 * goes to the leader as an ordinary write, oldest first, with its request_id
 * (a retry across a leader change is applied once), and leaves the table when
 * answered: OK (merged), or refused (a conflict: the committed state wins; a
 * WARNING names both sides, STATS counts it, the event stream carries a
 * member.conflict). The stream also says member.isolated, marks the island's
 * own events provisional and says member.rejoined when the state goes back
 * to its base (dc_events.h: the committed stream reuses those seqs, so
 * listeners list again). A restart while isolated loads
 * the table: the ops are applied again once isolated, or merged once a leader
 * is known.
 *
 * With read-only (or standalone) none of this happens.
 *
 * Design notes: the cluster thread's alone (dc_cluster_member.h); what it
 * publishes for readers (isolated, the count of provisional writes) is in
 * ctx->cluster as atomics, and ctx->merging is an overlay (dc_overlay.h:
 * its own locks), written by this thread alone. */
#ifndef DC_ISLAND_H
#define DC_ISLAND_H

#include "dc_cluster_member.h"

/* Loads the provisional writes saved before a restart. */
void dc_island_init(cluster_t *self);

/* Frees what the island holds. */
void dc_island_fini(cluster_t *self);

/* The tick: becomes isolated after two election timeouts without a live
 * leader; with one again, merges (a follower's state goes back to its base
 * before the first entry from the leader is applied, dc_island_before_apply,
 * or at once when it has nothing to merge). A leader libraft names counts
 * once it is heard from again a while later (a healed link first delivers
 * the queued heartbeats of a leader that has stepped down since: one burst). */
void dc_island_tick(cluster_t *self, uint64_t now_ms);

/* Between ticks (each turn of the Raft loop), while isolated: rejoins as
 * soon as the leader is live, not at the next tick, since a follower's state
 * goes back to its base with the leader's first entry. */
void dc_island_poll(cluster_t *self);

/* This member has just become leader: what the tick does with a leader, at
 * once (no longer isolated, the state back to its base, the merge queued),
 * before the role is published. */
void dc_island_leading(cluster_t *self);

/* A write from this member's front, workers or prober: when isolated takes
 * it (decides it into the island's batch, or refuses it) and returns true.
 * dc_island_flush saves, applies and answers the batch. */
bool dc_island_take(cluster_t *self, dc_cop_t *c);

/* Saves what dc_island_take decided (one transaction), applies it, answers
 * its writes. Nothing taken: nothing done. */
void dc_island_flush(cluster_t *self);

/* Before a Raft entry or snapshot is applied: the state goes back to its
 * base if the island changed it. */
void dc_island_before_apply(void *cluster);

/* A merged op (c->island_seq set) whose write holds an island lease: sets
 * the time the lease has left (its shadow's) as of now. Called each time
 * the op is sent to a leader or decided here, so that time spent waiting
 * for a leader (a heal whose first leader did not last) is not added to
 * the lease. */
void dc_island_lease_left(cluster_t *self, dc_cop_t *c);

/* The answer to a merged op (c->island_seq set): merged or a conflict; the
 * op leaves the provisional table. */
void dc_island_answered(cluster_t *self, dc_cop_t *c);

/* Is the state the island's (changes not in the Raft log)? The copy's
 * rebuild waits then. */
bool dc_island_active(const cluster_t *self);

#endif
