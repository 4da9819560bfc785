/* dc_apply.h: the applied state (topics, subscriptions, leases, nodes, request answers, the
 * epoch and the sequence counters) and the one way to change it, dc_apply.
 *
 * Every path that changes the registry goes through dc_apply, one change at a
 * time and in order: a standalone write after its commit, loading the
 * database at start, restoring a snapshot, and (in a cluster) a replicated
 * record. dc_apply uses no clock but for local timing (a lease's expiry is
 * now + TTL on this machine), so members that apply the same changes hold the
 * same state, the same event seqs included.
 *
 * Design notes: the state is changed by one thread (the writer) alone; the
 * registry, lease and node tables carry their own locks for the readers
 * (workers, front, datagram channel). */
#ifndef DC_APPLY_H
#define DC_APPLY_H

#include "dc_change.h"
#include "dc_context.h"
#include "dc_dedup.h"

/* What a member told the others about itself (MEMBER changes). */
typedef struct {
    uint64_t id;
    char endpoint[257]; /* where followers forward writes to it */
} dc_member_info_t;

typedef struct {
    dc_registry_t *registry; /* publishers' registrations */
    dc_registry_t *subs;     /* subscriptions: entries whose node is the subscriber's */
    dc_leases_t *leases;
    dc_nodes_t *nodes;
    dc_dedup_t *dedup;
    dc_stats_t *stats;   /* counters to raise, or NULL */
    uint64_t change_seq; /* changes applied, ever */
    uint64_t lease_seq;  /* highest lease id granted */
    uint64_t event_seq;  /* seq of the last event */
    uint64_t epoch;
    uint64_t applied_index; /* cluster: the Raft index of the last record applied */
    dc_member_info_t members[DC_MAX_MEMBERS];
    int member_count;
} dc_state_t;

/* What an applied change did, for the observer (views valid during the call). */
typedef struct {
    const dc_change_t *change;
    const dc_entry_t *entry; /* TOPIC_*, SUB_*: the entry put or removed (NULL: removed
                                nothing) */
    size_t mismatches;       /* TOPIC_PUT, SUB_PUT: the mismatches it makes (dc_mismatch) */
    const dc_node_t *node;   /* NODE_*: likewise */
    const dc_lease_t *lease; /* LEASE_GRANT: the new lease */
    bool replaces;           /* a PUT over an existing topic or node */
    uint64_t event_seq;      /* its event's seq; 0: no event */
} dc_applied_t;

/* Told of each change as it is applied (events, held waits, timers). */
typedef struct {
    void (*applied)(void *arg, const dc_applied_t *a);
    void *arg;
} dc_observer_t;

/* Applies c to state, taking c's entry and node references. now_mono_ms
 * times a new lease. observer NULL: a replay (loading, restoring), which logs
 * nothing and counts nothing. Never fails: what cannot be applied for lack of
 * memory is logged and skipped. */
void dc_apply(dc_state_t *state, dc_change_t *c, uint64_t now_mono_ms,
              const dc_observer_t *observer);

/* The forwarding endpoint member id announced, or NULL. */
const char *dc_state_member_endpoint(const dc_state_t *state, uint64_t id);

/* The one rule of change_seq: the value a state at change_seq reaches by
 * applying c. Every change advances it by one; a SEQS change (a snapshot's
 * counters) sets it. dc_apply, dc_state_seqs_after and dc_decide (the LIST
 * place of a new registration: the change_seq its change is applied as) all
 * go through it. */
uint64_t dc_change_seq_after(uint64_t change_seq, const dc_change_t *c);

/* The change_seq state will hold after applying batch. */
uint64_t dc_state_change_seq_after(const dc_state_t *state, const dc_changes_t *batch);

/* The counters state will hold after applying batch (for saving them in the
 * batch's own transaction): change, lease and event seq. */
void dc_state_seqs_after(const dc_state_t *state, const dc_changes_t *batch, uint64_t seqs[3]);

#endif
