/* dc_decide.h: deciding what a write request changes: the owner rule (one
 * publisher per topic, or up to publishers_per_topic of one type),
 * subscriptions (one per topic and subscriber node), the
 * owners of what keys wrote (CURVE), lease checks, the registry's capacity,
 * and removals by lease, prober or expiry.
 *
 * A decision reads the applied state plus the changes already decided in the
 * same batch (so two registrations of one name in a batch see each other) and
 * appends the request's changes to that batch; it changes nothing else. The
 * batch is then persisted and applied (dc_persist, dc_apply). In a cluster
 * only the leader decides; the changes are what gets replicated.
 *
 * Design notes: used by the writer thread alone. */
#ifndef DC_DECIDE_H
#define DC_DECIDE_H

#include "dc_apply.h"
#include "dc_protocol.h"
#include "dc_timers.h"
#include "dc_write_op.h"

/* What one request's reply will say. */
typedef struct {
    int status;
    char message[DC_MAX_NAME_LEN + DC_MAX_NODE_LEN + 64];
    bool changed; /* the request added changes to the batch */
    bool has_lease;
    uint64_t lease_id, lease_ttl_ms;
    bool provisional; /* taken by an isolated member, to be merged (dc_island.h) */
} dc_outcome_t;

typedef struct {
    const dc_state_t *state;
    const dc_config_t *config;
    dc_changes_t *batch;
    int64_t net_new;   /* topics the batch adds (negative: removes) */
    int64_t net_new_subs; /* subscriptions likewise */
    uint64_t now_mono; /* for "has this lease run out" */
    uint64_t now_wall; /* stamped on registrations and grants */
    bool island;       /* an isolated member deciding alone: leases get island ids */
    /* Island leases this member keeps alive until their merged grant: an op
     * that wants one of these ids gets it granted although it is held. */
    const uint64_t *kept_ids;
    size_t kept_count;
} dc_decider_t;

/* A decider for a new batch (batch empty or holding earlier decisions). */
void dc_decider_init(dc_decider_t *d, const dc_state_t *state, const dc_config_t *config,
                     dc_changes_t *batch, uint64_t now_mono, uint64_t now_wall);

/* When request_id was answered already (applied, or earlier in this batch),
 * fills out with that answer and returns true. */
bool dc_decide_answered(const dc_decider_t *d, uint64_t request_id, dc_outcome_t *out);

/* Decides a write op (any kind but WAIT) and fills out. Its entry or node,
 * when they become changes, are shared with the change (the op keeps its
 * reference, so it can be decided again). A write that changes something and carries
 * a request_id also records its answer (a REQUEST change). */
void dc_decide(dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out);

/* Appends the changes that end lease id and remove what is attached to it.
 * Returns the number of topics removed. */
size_t dc_decide_lease_end(dc_decider_t *d, uint64_t lease_id, dc_reason_t reason);

#endif
