/* dc_decide_view.h: what dc_decide reads and removes through: the applied
 * state with the changes already decided in the batch on top (a name's
 * registrations, a node, a subscription, a lease's TTL, the next lease id),
 * and the removals appended to the batch, among them everything a lease's
 * end takes with it (dc_decide_lease_end, declared in dc_decide.h).
 * Internal to state/: dc_decide.c and dc_decide_view.c.
 *
 * Design notes: used by the writer thread alone, like the decider. */
#ifndef DC_DECIDE_VIEW_H
#define DC_DECIDE_VIEW_H

#include "dc_decide.h"

/* The registrations of a name as the batch leaves them (borrowed). */
#define DC_VIEW_CAP (2 * DC_MAX_PUBLISHERS_PER_TOPIC)
typedef struct {
    dc_entry_t *items[DC_VIEW_CAP];
    size_t count;
} dc_view_t;

/* The registrations of name as d's batch leaves them, into v. */
void dc_view_of(const dc_decider_t *d, dc_str_t name, dc_view_t *v);

/* Drops v's item i (the last one takes its place). */
void dc_view_drop(dc_view_t *v, size_t i);

/* node's registration in v, or NULL. */
dc_entry_t *dc_view_find(const dc_view_t *v, dc_str_t node);

/* The node called name as the batch leaves it (borrowed), or NULL. */
dc_node_t *dc_batch_node(const dc_decider_t *d, dc_str_t name);

/* node's subscription to name as the batch leaves it (borrowed), or NULL. */
dc_entry_t *dc_batch_sub(const dc_decider_t *d, dc_str_t name, dc_str_t node);

/* Lease id's TTL (0: it does not exist), counting this batch. */
uint64_t dc_batch_lease_ttl(const dc_decider_t *d, uint64_t id);

/* The next lease id: above every id applied or granted in this batch; on an
 * island, a random one of the island range that no lease has. */
uint64_t dc_batch_next_lease_id(const dc_decider_t *d);

/* Has e's lease run out (so the topic is free for anyone, even before the
 * expiry timer has removed it)? */
bool dc_batch_expired(const dc_decider_t *d, const dc_entry_t *e);

/* Appends the removal of a node or a topic registration (publisher_node:
 * the topic's node; NULL for a node). Returns false when out of memory
 * (nothing appended). */
bool dc_batch_remove(dc_decider_t *d, dc_rec_kind_t kind, const char *name,
                     const char *publisher_node, dc_reason_t reason);

/* Appends the removal of registration e and counts it in d->net_new. */
bool dc_batch_remove_topic(dc_decider_t *d, const dc_entry_t *e, dc_reason_t reason);

#endif
