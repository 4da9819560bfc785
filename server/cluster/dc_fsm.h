/* dc_fsm.h: the registry as a Raft state machine (struct raft_fsm): a
 * committed entry is one change record, decoded and applied with dc_apply
 * (and saved into the SQLite copy); a snapshot is the state's dump as one
 * record; restoring one resets the state and applies the dump.
 *
 * The SQLite copy is the applied state materialised: it holds the Raft index
 * it was written at (meta raft_index). Entries are written into one open
 * transaction that dc_fsm_flush commits (the cluster thread does every 50 ms,
 * and at 256 entries): the Raft log is the durable record, the copy may lag
 * it by that much and is caught up from the log at start. At start the state is loaded from it,
 * and entries (and a snapshot) at or below that index are skipped, so a
 * member serves its registry at once, before it hears from a leader. When
 * the copy is ahead of the log (the log was lost or truncated), the log wins:
 * dc_fsm_check_start discards the copy and replays from the log.
 *
 * Design notes: every call comes from the thread that runs the Raft loop
 * (the cluster actor), which owns the state and the store. */
#ifndef DC_FSM_H
#define DC_FSM_H

#include "dc_apply.h"
#include "dc_store.h"

#include <raft.h>

typedef struct {
    struct raft_fsm raft; /* give &raft to raft_init; raft.data points back here */
    struct raft *r;       /* set by dc_fsm_attach */
    dc_state_t *state;
    dc_store_t *store; /* the SQLite copy, or NULL */
    const dc_observer_t *observer;
    uint64_t skip_through;   /* entries up to this index are in the state already */
    struct raft_buffer held; /* a snapshot skipped at start, until checked */
    bool store_stale;        /* a write to the copy failed: rebuild it */
    bool starting;           /* until dc_fsm_check_start */
    bool in_txn;             /* a copy transaction is open */
    unsigned txn_entries;    /* entries written into it */
    uint64_t applied;        /* records applied (not skipped) */
    uint64_t refused;        /* committed entries that did not decode (skipped) */
    void (*before)(void *arg); /* called before an entry or a snapshot is applied, or NULL */
    void *before_arg;
} dc_fsm_t;

/* Raft entries and snapshots are framed: a 4-byte little-endian length, the
 * record, zero padding to a multiple of 8 bytes (libraft's log segments
 * need 8-byte aligned entries). Frames record into a raft_malloc'd buffer.
 * Returns 0, or -1 when out of memory. */
int dc_fsm_frame(const void *record, size_t size, struct raft_buffer *out);

/* The Raft commit of a batch of decided changes (the SQLite one is
 * dc_persist_batch): encodes and frames them into one entry and proposes it
 * on r (the leader), cb called once it is committed and applied here, or
 * failed. Every member applies it through dc_fsm's apply, which tells the
 * observer. Returns raft_apply's result (RAFT_NOMEM when the entry cannot be
 * built); on failure nothing was proposed and cb is not called. */
int dc_fsm_propose(struct raft *r, struct raft_apply *req, const dc_changes_t *changes,
                   raft_apply_cb cb);

/* Sets f up over state (loaded from store when store is given). observer is
 * told of every applied change (NULL: nobody). */
void dc_fsm_init(dc_fsm_t *f, dc_state_t *state, dc_store_t *store, const dc_observer_t *observer);

/* Tells f the raft instance it serves (before raft_start). */
void dc_fsm_attach(dc_fsm_t *f, struct raft *r);

/* After raft_start: when the SQLite copy is ahead of the Raft log, discards
 * the loaded state and the copy and applies what the log holds instead.
 * Returns 0, or -1 when the held snapshot cannot be restored. */
int dc_fsm_check_start(dc_fsm_t *f);

/* Commits the copy's open transaction, if any. */
void dc_fsm_flush(dc_fsm_t *f);

/* Commits what is open and frees what f holds (not the state or the store). */
void dc_fsm_close(dc_fsm_t *f);

#endif
