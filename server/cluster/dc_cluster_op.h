/* dc_cluster_op.h: a write op on its way through a cluster (queued to be
 * decided or forwarded, forwarded and awaiting the leader's answer, or
 * answered and waiting for its entry to be applied here), the FIFO lists the
 * cluster thread keeps them in, and the leader's answer to a forwarded op as
 * it travels back to the follower.
 *
 * Design notes: used by the cluster thread (dc_cluster) alone. */
#ifndef DC_CLUSTER_OP_H
#define DC_CLUSTER_OP_H

#include "dc_decide.h"

#include <czmq.h>

typedef struct dc_cop dc_cop_t;
struct dc_cop {
    dc_write_op_t *op;
    uint64_t deadline;  /* monotonic: answer ERROR then */
    uint64_t fwd_id;    /* follower: the id it was forwarded under */
    uint64_t index;     /* answer once this member has applied this index */
    bool uncertain;     /* proposed or forwarded before: it may have been applied */
    uint64_t resend_at; /* follower: forwarded to a leader that changed since; sent
                           again then unless its answer came (0: not due) */
    dc_outcome_t out;
    zframe_t *peer;       /* leader: the follower that forwarded it (identity) */
    uint64_t peer_fwd_id; /* leader: that follower's id for it */
    bool peer_batches;    /* leader: it came in a "G": its answer may share a message */
    uint64_t island_seq;  /* a provisional write being merged (dc_island.h); 0: not */
    dc_cop_t *next;
};

typedef struct {
    dc_cop_t *head, *tail;
    size_t count;
} dc_cop_list_t;

/* Appends c (taking it) at the tail. */
void dc_cops_push(dc_cop_list_t *l, dc_cop_t *c);

/* Removes and returns the head, or NULL when empty. */
dc_cop_t *dc_cops_pop(dc_cop_list_t *l);

/* Puts every op of from in front of to; from ends up empty. */
void dc_cops_prepend(dc_cop_list_t *to, dc_cop_list_t *from);

/* Removes and returns the op forwarded as fwd_id, or NULL. */
dc_cop_t *dc_cops_take(dc_cop_list_t *l, uint64_t fwd_id);

/* The leader's answer to a forwarded op, msgpack [status, message,
 * has_lease, lease_id, lease_ttl_ms, raft_index], appended to buf. */
void dc_cop_answer_pack(msgpack_sbuffer *buf, const dc_outcome_t *out, uint64_t index);

/* Reads such an answer from a peer's bytes. Returns 0, or -1 when refused
 * (out and index then unspecified). */
int dc_cop_answer_unpack(const void *data, size_t size, dc_outcome_t *out, uint64_t *index);

#endif
