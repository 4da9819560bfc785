/* dc_cluster_member.h: the state of a cluster member's writer, shared by
 * the five files that make it (internal to server/cluster/):
 * - dc_cluster.c: the loop's inputs and the tick, proposals, roles;
 * - dc_cluster_start.c: the Raft instance and the loop started and stopped,
 *   the actor's body;
 * - dc_cluster_forward.c: forwarding, follower <-> leader (the member
 *   channel, the dealer, renewals passed on);
 * - dc_cluster_change.c: membership changes (add, remove, transfer);
 * - dc_island.c: cut off from the others, serving this computer, merging.
 *
 * Design notes: all of it belongs to the writer's thread (the actor's; libuv
 * callbacks run on it too); see dc_cluster.h. */
#ifndef DC_CLUSTER_MEMBER_H
#define DC_CLUSTER_MEMBER_H

#include "dc_cluster.h"
#include "dc_cluster_op.h"
#include "dc_fsm.h"
#include "dc_peer_link.h"
#include "dc_pipeline.h"
#include "dc_timers.h"

#include <raft.h>
#include <uv.h>

/* Proposals in flight at once: a batch is decided against the applied state
 * plus the changes of those still in flight, so the leader need not wait for
 * one to commit before proposing the next. */
#define DC_MAX_FLIGHTS 4
/* Longest wait for more ops before a proposal (s_gathering, dc_cluster.c). */
#define DC_GATHER_US 1000
/* The loop's timer: expiry checks, forwarded renewals, status, deadlines. */
#define DC_TICK_MS 50
/* A write not answered by then gets ERROR (a Cortex client waits 5 s). */
#define DC_WRITE_DEADLINE_MS 4500
/* How often renewal checkpoints are proposed (leader). */
#define DC_CHECKPOINT_MS 1000

/*==== The member ====*/

/* A provisional write (dc_island.h): its forwarded-op bytes. */
typedef struct {
    uint64_t seq;
    void *bytes;
    size_t size;
    bool sent; /* to the leader, answer awaited */
} dc_island_op_t;

/* An isolated member's island (dc_island.c). */
typedef struct {
    bool isolated;            /* no leader for two election timeouts */
    bool active;              /* the state holds changes not in the Raft log */
    bool rejoined;            /* member.rejoined published since isolated */
    uint64_t no_leader_since; /* monotonic; 0: a leader is known */
    uint64_t heard_leader;    /* the leader libraft names (0: none), and */
    uint64_t heard_first;     /* its contact time when first named (raft's clock) */
    bool leader_live;         /* heard from again since, a while later */
    uint64_t next_expiry;
    dc_changes_t base;        /* the committed state when the island began changing it */
    dc_island_op_t *ops;      /* provisional writes not yet merged, oldest first */
    size_t count, cap;
    uint64_t next_seq;
    uint64_t shadows[256];    /* island leases kept across the return to the base */
    size_t shadow_count;
    /* The writes of one drain of the ops socket, decided together and saved
     * in one transaction before they are applied and answered (as the
     * standalone writer batches). */
    dc_changes_t batch;
    dc_decider_t decider;
    struct dc_cop *taken[DC_MAX_BATCH];
    size_t taken_count;
} dc_island_t;

/* A proposal in flight and the ops it answers. */
typedef struct {
    struct raft_apply req; /* req.data points here */
    void *owner;           /* the cluster_t */
    dc_cop_t *cops[DC_MAX_BATCH];
    size_t count;
    size_t changes; /* how many of the pending changes are its own */
    uint64_t proposed_us; /* monotonic: when it was proposed (the commit histogram) */
} flight_t;

/* Followers the leader gathers answers for at once; more (a cluster of more
 * than nine members) get theirs one message an op. */
#define DC_OUTBOX_PEERS 8

typedef struct {
    dc_context_t *ctx;
    const dc_config_t *config;
    dc_store_t *store;
    dc_state_t *state;
    zsock_t *pipe;
    dc_pipeline_t pipeline;    /* ops in, answers out, held WAITs, observer, lessor */
    zsock_t *router;           /* followers' forwarded ops (bound on this member's host) */
    raft_index allowed_conf;   /* the configuration whose hosts auth allows */
    zsock_t *dealer;           /* to the leader's router, or NULL */
    char endpoint[257];        /* where our router listens (announced when leading) */
    char dealer_endpoint[257]; /* where the dealer is connected */
    uint64_t dealer_leader;    /* the leader the dealer talks to */
    bool dealer_batches;       /* that leader answered "H": it takes "G" (dc_cluster_forward.c) */
    /* Leader: answers to followers' "G" ops gathered while a proposal's ops
     * are answered (dc_cluster__peer_answers_hold), one message a follower;
     * each holds [identity, "A", id, answer, id, answer, ...]. */
    zmsg_t *outbox[DC_OUTBOX_PEERS];
    size_t outbox_count;
    bool outbox_held;
    dc_fsm_t fsm;

    uv_loop_t loop;
    bool loop_ready, handles_ready;
    uv_poll_t pipe_poll, pull_poll, router_poll;
    uv_poll_t *dealer_poll; /* its own allocation: a closing handle is never reused */
    /* Which sockets (and the ops queue: local_ready) may hold a message: set
     * when its descriptor polls readable and after every send on it (a send
     * can take the signal of a message arrived meanwhile), cleared when a
     * receive (the queue's pop) finds none. The
     * loop drains only these: asking an idle socket costs a system call,
     * and the loop turns several times a write. */
    bool pipe_ready, local_ready, router_ready, dealer_ready;
    uv_prepare_t prepare;
    uv_timer_t tick;
    struct raft raft;
    struct raft_io io;
    dc_peer_link_t *link;
    bool io_ready, raft_ready, raft_closing;

    dc_cop_list_t queue;  /* to decide (leader) or to forward (follower) */
    dc_cop_list_t sent;   /* follower: forwarded, awaiting the leader's answer */
    dc_cop_list_t retry;  /* follower: the peer said "not leader"; forwarded again next tick */
    dc_cop_list_t parked; /* follower: answered by the leader, waiting to be applied here */
    uint64_t next_fwd_id;
    uint64_t next_request_id; /* for removals that came without one (s_give_request_id) */

    flight_t flights[DC_MAX_FLIGHTS]; /* a ring, oldest at flight_head */
    unsigned flight_head, flights_used;
    uint64_t propose_after; /* after a refused or failed proposal: not before */
    uint64_t gather_until;  /* monotonic us: gathering ops for a proposal until then; 0: not */
    uv_timer_t gather;      /* ends a gathering that nothing else ended */
    /* Changes decided by this leader and not yet applied, in order: those of
     * the proposals in flight (the first `proposed`), then those decided and
     * not yet proposed (the leader's own: expiries, checkpoints, ...). */
    dc_changes_t pending;
    size_t proposed;

    bool leader;
    uint64_t last_tick_ms;
    uint64_t next_checkpoint_ms;
    uint64_t next_rebuild_ms;

    /* Leader: the commit index the last append it sent to the followers
     * carried, and the highest index a follower is waiting to learn is
     * committed (it answers a forwarded op once applied there); a heartbeat
     * sent at once carries the commit when no proposal does (s_push_commit:
     * then heartbeats every 1 ms tick until push_until, monotonic ms, then
     * every heartbeat_ms again). */
    raft_index commit_sent;
    raft_index commit_wanted;
    uint64_t push_until;
    unsigned heartbeat_ms;
    /* libraft's tick, kept from its io->start (dc_cluster_start.c), so a
     * push sends its heartbeat at once instead of at the next tick; and the
     * io->start it wraps. */
    raft_io_tick_cb raft_tick;
    int (*io_start)(struct raft_io *, unsigned, raft_io_tick_cb, raft_io_recv_cb);

    dc_cop_t *changing; /* the membership change under way, or NULL */
    struct raft_change change;
    struct raft_transfer member_transfer;

    dc_island_t island;

    bool stopping;
    struct raft_transfer transfer;
    bool transferring;
    uint64_t transfer_term; /* the term the hand-over began in */
    uint64_t stop_deadline;
} cluster_t;

/*==== dc_cluster.c ====*/

/* Sends an op's answer (to the client through the front, or to the follower
 * that forwarded it) and frees it. */
void dc_cluster__finish(cluster_t *self, dc_cop_t *c);
/* Answers c ERROR with message. */
void dc_cluster__fail(cluster_t *self, dc_cop_t *c, const char *message);
/* Answers an op the leader has answered, now or once applied here. */
void dc_cluster__answer_when_applied(cluster_t *self, dc_cop_t *c);
/* Moves the work along: forwards or proposes what is queued, answers what
 * is due. */
void dc_cluster__pump(cluster_t *self);

/* The loop's callbacks: a socket readable, before each poll, the tick. */
void dc_cluster__readable(uv_poll_t *handle, int status, int events);
void dc_cluster__before_poll(uv_prepare_t *handle);
void dc_cluster__tick(uv_timer_t *handle);

/*==== dc_cluster_start.c ====*/

/* Stops: hands leadership over when this member leads (until libraft
 * reports the hand-over taken or failed, after one election timeout at
 * most, or a deadline of two), answers what is queued, closes Raft and the
 * loop's handles. */
void dc_cluster__shutdown(cluster_t *self);

/*==== dc_cluster_forward.c ====*/

/* Binds the member channel (followers' forwarded ops) on this member's own
 * host, any free port, into self->endpoint. Returns 0, or -1 logged. */
int dc_cluster__bind_router(cluster_t *self);
/* Lets the configuration's member hosts through ZAP on the member channel
 * (without CURVE, the peers are known by address). */
void dc_cluster__allow_members(cluster_t *self);
/* Follower: sends what is queued to the leader (connecting to its announced
 * endpoint first). */
void dc_cluster__forward(cluster_t *self);
/* Leader: sends the answer of c, an op a follower forwarded (c's peer frame
 * is taken); gathered into one message a follower while held. */
void dc_cluster__peer_answer(cluster_t *self, dc_cop_t *c);
/* Leader: "N" for c (not leading: the follower sends it again elsewhere). */
void dc_cluster__peer_not_leader(cluster_t *self, dc_cop_t *c);
/* Leader: gathers the answers to followers' "G" ops until the release, which
 * sends them, one message a follower. */
void dc_cluster__peer_answers_hold(cluster_t *self);
void dc_cluster__peer_answers_release(cluster_t *self);
/* Follower: the leader's answers to forwarded ops. */
void dc_cluster__from_leader(cluster_t *self);
/* Leader: ops and renewals forwarded by followers. */
void dc_cluster__from_followers(cluster_t *self);
/* Follower: the renewals taken here, to the leader. */
void dc_cluster__forward_renewals(cluster_t *self);
/* Closes the dealer to the leader. */
void dc_cluster__dealer_close(cluster_t *self);
/* The leader changed: ops forwarded to the old one are sent again shortly,
 * unless its answer comes first. */
void dc_cluster__resend_later(cluster_t *self);

/*==== dc_cluster_change.c ====*/

/* Leader: starts a membership change (one at a time); answers at once on
 * refusal, else when Raft is done. */
void dc_cluster__member_op(cluster_t *self, dc_cop_t *c);

#endif
