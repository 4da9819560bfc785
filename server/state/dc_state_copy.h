/* dc_state_copy.h: the whole state as changes: written out (dc_state_dump,
 * for a snapshot, the database's rebuild and an island's base), and gone back
 * to (dc_state_restore: a snapshot installed, an island's return to what its
 * cluster committed).
 *
 * Design notes: the state is changed by the writer thread alone, while the
 * front, workers and the datagram channel read the registry, node and lease
 * tables (each under its own lock). A restore changes them key by key: what
 * is in the state both before and after (a topic the cluster committed long
 * ago, its lease) is found at every moment in between, under the old value or
 * the new one. Only what the dump lacks goes away. */
#ifndef DC_STATE_COPY_H
#define DC_STATE_COPY_H

#include "dc_apply.h"
#include "dc_overlay.h"

/* Appends to out the changes that rebuild state from empty: the epoch, the
 * leases (with their checkpointed renewal times), topics in LIST order,
 * subscriptions, nodes, request answers, members, and last the counters (with
 * the Raft index). Returns 0, or -1 when out of memory. */
int dc_state_dump(const dc_state_t *state, dc_changes_t *out);

/* Makes state what applying dump to an empty state would (dump: as
 * dc_state_dump writes it), taking dump's references. Topics,
 * subscriptions and nodes the dump lacks are removed, the dump's are put over
 * the state's (one replace each); leases the dump lacks are removed but
 * those renewed here alone (own_expiry: an island's), which stay, their
 * attachments dropped; a lease both hold stays as it is (its renewals) when
 * its TTL and owner agree. Request answers, members, the epoch and the
 * counters are the dump's. overlay not NULL (an island going back to its
 * base, which shares the entries nothing changed since): every registration
 * the state held that the dump does not (added or replaced by the island)
 * goes into it, and so does the key of every one the dump holds and the
 * state did not (removed by the island). Returns 0, or -1 when out of
 * memory: then it falls back to emptying the state first (readers may miss
 * keys meanwhile, and the overlay holds no removal). */
int dc_state_restore(dc_state_t *state, dc_changes_t *dump, uint64_t now_mono_ms,
                     dc_overlay_t *overlay);

/* Empties state (registry, leases, nodes, answers, members, counters). */
void dc_state_reset(dc_state_t *state);

#endif
