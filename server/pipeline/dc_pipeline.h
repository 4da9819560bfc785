/* dc_pipeline.h: what a write meets on its way through the writer's thread,
 * the same standalone (dc_writer: commit to SQLite) and in a cluster
 * (dc_cluster: commit through Raft):
 * - the two queues (dc_handoff.h, in the context): write ops in (from the
 *   front, the workers and the prober), answers out (to the front, which
 *   routes them to the client), each handed over as one pointer;
 * - WAITs, handed to the events module to be held (dc_events);
 * - the observer every applied change passes (events and held waits, the
 *   lease expiry checks, the epoch);
 * - the lessor (dc_lessor.h): expiry checks, checkpoints, promotion;
 * - deciding an op, or answering a retried request_id from its first answer;
 * - how many ops recent batches held (a batch gathers until it holds as
 *   many, for a moment at most: the writer and the leader alike);
 * - the reply built from a decided op's outcome.
 * What differs between the two writers is how a batch of decided changes is
 * committed: dc_persist_batch (SQLite, then dc_apply here) standalone,
 * dc_fsm_propose (one Raft entry, applied by every member's dc_fsm) in a
 * cluster; and, in a cluster, forwarding to the leader and membership.
 * test_writer.c runs this pipeline on the first, test_pipeline_raft.c on the
 * second (libraft's fixture).
 *
 * Design notes: a pipeline belongs to the writer's thread and is used by it
 * alone, like the state it applies to. It is the ops queue's one consumer
 * (the front, the workers and the prober push) and pushes the answers the
 * front pops. */
#ifndef DC_PIPELINE_H
#define DC_PIPELINE_H

#include "dc_apply.h"
#include "dc_decide.h"
#include "dc_events.h"
#include "dc_handoff.h"
#include "dc_lessor.h"
#include "dc_store.h"

#include <czmq.h>

/* Ops decided and committed (or proposed) together at most. */
#define DC_MAX_BATCH 512

/* What the server hands either writer actor (dc_writer_actor,
 * dc_cluster_actor). */
typedef struct {
    dc_context_t *ctx;
    dc_store_t *store; /* used by the writer thread alone while it runs */
    dc_state_t *state; /* likewise: loaded by the server, changed by the writer alone */
} dc_writer_args_t;

typedef struct {
    dc_context_t *ctx;
    dc_state_t *state;
    dc_handoff_t *writes;  /* borrowed from the context: write ops (dc_write_op_t pointers) */
    dc_handoff_t *answers; /* borrowed likewise: answers to the front */
    dc_events_t *events;
    dc_lessor_t lessor;
    dc_observer_t observer; /* what dc_apply tells about each applied change */
    size_t recent[4];       /* ops in the last four batches: how many writers are active */
    unsigned recent_next;
} dc_pipeline_t;

/* Takes the context's two queues, binds the events endpoint. Returns 0, or
 * -1 having logged why (dc_pipeline_close(p) then still cleans up). The
 * lessor starts not primary. */
int dc_pipeline_open(dc_pipeline_t *p, dc_context_t *ctx, dc_state_t *state);

/* Answers every held WAIT, closes the ops queue to later pushes (ops in it
 * stay for the front to free), frees the lessor. Safe on a pipeline that
 * failed to open, and twice. */
void dc_pipeline_close(dc_pipeline_t *p);

/* The next write op waiting in the ops queue, or NULL when none is (it
 * never blocks). After a NULL, dc_pipeline_fd polls readable when the next
 * op comes: the writer's loop waits on it. */
dc_write_op_t *dc_pipeline_next_op(dc_pipeline_t *p);
int dc_pipeline_fd(const dc_pipeline_t *p);

/* Takes op when it is a WAIT: held by the events module (answered when the
 * topic comes or its time runs out), and *op freed. Returns false, leaving
 * *op alone, for any other op. */
bool dc_pipeline_take_wait(dc_pipeline_t *p, dc_write_op_t **op, uint64_t now_mono_ms);

/* Decides op into d's batch (dc_decide), or, when its request_id was
 * answered already (a retry, perhaps across a leader change), gives that
 * answer again and changes nothing (counted as deduplicated). */
void dc_pipeline_decide(dc_pipeline_t *p, dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out);

/* A command on the writer's pipe: "FLUSH" answers every held WAIT (the
 * daemon is stopping). Others are ignored. */
void dc_pipeline_command(dc_pipeline_t *p, const char *command);

/* Sends op's answer, built from its outcome, to its client (nothing when it
 * has no route: the prober's and the lessor's own ops), and counts an
 * ERROR. */
void dc_pipeline_answer(dc_pipeline_t *p, dc_write_op_t *op, const dc_outcome_t *out);

/* Notes that a batch of n ops was committed (or proposed). */
void dc_pipeline_batch_done(dc_pipeline_t *p, size_t n);

/* The most ops any of the last four batches held: a batch with fewer is
 * worth gathering for a moment, the other writers' ops most likely on their
 * way (0 or 1: a lone writer, nothing to wait for). */
size_t dc_pipeline_batch_expected(const dc_pipeline_t *p);

/* The earliest of the next lease check and the next held WAIT's time-out
 * (UINT64_MAX: none). */
uint64_t dc_pipeline_next_deadline(const dc_pipeline_t *p);

#endif
