/* dc_persist.h: the applied state's copy in SQLite: a batch of changes as
 * rows in one transaction, the whole database loaded back into memory, and
 * the whole state written into a fresh database.
 *
 * This is the one place that maps changes to rows (dc_store knows rows, not
 * changes). Loading turns rows back into changes and replays them through
 * dc_apply, so start-up builds memory exactly the way a write does.
 *
 * Design notes: called by one thread at a time: the server before the
 * threads start, then the writer thread alone. */
#ifndef DC_PERSIST_H
#define DC_PERSIST_H

#include "dc_apply.h"
#include "dc_store.h"

/* Writes batch, and the counters state will hold once it is applied, in one
 * transaction. Returns 0 when committed (durable per the sync mode), or -1
 * with dc_store_errmsg() saying why (rolled back). */
int dc_persist_batch(dc_store_t *store, const dc_state_t *state, const dc_changes_t *batch);

/* The same rows and counters, inside a transaction the caller opened (and
 * commits or rolls back). Returns 0, or -1. */
int dc_persist_rows(dc_store_t *store, const dc_state_t *state, const dc_changes_t *batch);

/* Replays the database into an empty state (dc_apply without an observer).
 * Leases come back with their checkpointed renewal time and now + TTL as
 * their expiry (the caller sets the restart policy). Returns 0, or -1. */
int dc_persist_load(dc_store_t *store, dc_state_t *state, uint64_t now_mono_ms);

/* Writes all of state (dc_state_dump) into the store's database, which must
 * be empty (just recreated). Returns 0, or -1 (rolled back). */
int dc_persist_rebuild(dc_store_t *store, const dc_state_t *state);

#endif
