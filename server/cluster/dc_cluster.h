/* dc_cluster.h: the writer of a cluster member (czmq actor): the thread that
 * runs Raft (libraft on its own libuv loop) and so the one thread that
 * changes the applied state, in place of dc_writer.
 *
 * A write op (from the front, a worker or the prober) goes:
 * - on the leader: decided against the applied state plus the changes still
 *   in flight (dc_decide), proposed as one change record per batch
 *   (raft_apply, up to four proposals in flight; a batch smaller than the
 *   recent ones waits up to 1 ms for the rest), applied by every member
 *   once a quorum has it durably (dc_fsm), and answered once applied here;
 * - on a follower: forwarded to the leader over the peer channel (a ZeroMQ
 *   DEALER to the leader's ROUTER, whose endpoint the leader announces in a
 *   MEMBER change; what one turn of the loop holds goes in one message, and
 *   the answers of one entry come back in one), answered by the leader with
 *   its outcome and Raft index,
 *   and answered to the client once this member has applied that index (so
 *   a client reads its own write on the member it talks to); the leader
 *   sends the commit on at once (a heartbeat at the next 1 ms tick when no
 *   proposal follows), so that wait is one more round trip, not a
 *   heartbeat interval;
 * - with no leader: held until one is elected, answered ERROR after 4.5 s
 *   (within a Cortex client's 5 s time-out).
 * A request_id answered before is answered from the replicated table, so a
 * retry across a leader change is applied once; removals that come without
 * one (legacy UNREGISTER) get one from the member that took them.
 *
 * Leases (dc_lessor): only the leader expires them (decided changes like
 * any other). A follower passes the renewals it takes (ROUTER or datagram)
 * to the leader every 50 ms. A new leader extends every lease to now + TTL;
 * a leader whose loop stalled longer than half a lease's TTL extends it
 * instead of expiring it.
 *
 * The sockets, held WAITs, the observer, the lessor and the client replies
 * are the pipeline it shares with the standalone writer (dc_pipeline.h).
 *
 * Reads never come here: they are served from the applied state by the
 * front and the workers on every member, with or without a leader.
 *
 * Design notes: the actor's thread owns the raft instance, its loop, the
 * state, the store and every socket it creates; other threads see the
 * cluster only through ctx->cluster (atomics, and a mutex for the member
 * list) and the registry's own locks. */
#ifndef DC_CLUSTER_H
#define DC_CLUSTER_H

#include "dc_pipeline.h"

/* Actor body: zactor_new(dc_cluster_actor, args) (the writer's args). After
 * the start signal it sends "READY" or "FAILED" on the pipe. Commands:
 * "FLUSH" answers every held WAIT; $TERM hands leadership over (when this
 * member leads), answers what is queued and stops. */
void dc_cluster_actor(zsock_t *pipe, void *args);

#endif
