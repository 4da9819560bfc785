/* dc_writer.c: group commit and the timers (see the .h). */
#include "dc_writer.h"
#include "dc_clock.h"
#include "dc_log.h"
#include "dc_persist.h"
#include "dc_pipeline.h"
#include "dc_protocol.h"
#include "dc_write_op.h"
#include "dc_thread.h"

#include <poll.h>
#include <string.h>
/* How often renewal checkpoints are saved (one transaction for all of them). */
#define DC_LEASE_FLUSH_MS 1000
/* Timers (lease expiry, WAIT time-outs) run at most this often: with
 * thousands of short leases an expiry check falls due every few hundred
 * microseconds, mostly to find the lease renewed; waking for each cost more
 * than the checks. Expiry stays within TTL + 1 s with room to spare. */
#define DC_TIMER_SLACK_MS 50
/* Leases expired in one timer round at most (one commit). */
#define DC_MAX_EXPIRED 64

typedef struct {
    dc_context_t *ctx;
    dc_store_t *store;
    dc_state_t *state;
    dc_pipeline_t pipeline; /* sockets, held WAITs, observer, lessor (always primary) */
    dc_changes_t batch; /* decided, not yet committed */
    uint64_t next_flush_ms;
    uint64_t timers_ran_ms; /* when s_run_timers last ran */
    /* May the ops queue hold an op? Cleared by a pop that finds none, set
     * when its descriptor polls readable. The loop blocks in poll() only
     * when neither this nor the pipe's flag is set (a zmq_poll asked each
     * socket twice, a system call each, on every turn). */
    bool pull_ready;
} writer_t;

/*==== Committing: persist, then apply ====*/

/* Persists and applies the batch, then empties it. Returns true when it is
 * committed (or was empty). */
static bool s_commit(writer_t *self)
{
    dc_changes_t *batch = &self->batch;
    if (batch->count == 0)
        return true;
    uint64_t t0 = dc_mono_us();
    bool stored = dc_persist_batch(self->store, self->state, batch) == 0;
    atomic_store_explicit(&self->ctx->commit_failing, !stored, memory_order_relaxed);
    if (stored) {
        dc_histogram_observe(&self->ctx->stats.commit_us, dc_mono_us() - t0);
        atomic_fetch_add_explicit(&self->ctx->stats.commits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&self->ctx->stats.batched_writes, batch->count,
                                  memory_order_relaxed);
        uint64_t now = dc_mono_ms();
        for (size_t i = 0; i < batch->count; i++)
            dc_apply(self->state, &batch->items[i], now, &self->pipeline.observer);
    } else {
        DC_STAT_INC(self->ctx, commit_failures);
        dc_error("cannot save %zu change(s): %s", batch->count, dc_store_errmsg(self->store));
    }
    dc_changes_clear(batch);
    return stored;
}

/*==== Requests ====*/

/* Answers op; a change that was not committed is an ERROR, whatever was
 * decided. */
static void s_reply(writer_t *self, dc_write_op_t *op, dc_outcome_t *out, bool stored)
{
    if (out->changed && !stored) {
        out->status = DC_STATUS_ERROR;
        out->has_lease = false;
        snprintf(out->message, sizeof out->message, "Storage error, not saved: %.200s",
                 dc_store_errmsg(self->store));
    }
    dc_pipeline_answer(&self->pipeline, op, out);
}

static void s_process_batch(writer_t *self, dc_write_op_t **ops, size_t n)
{
    static __thread dc_outcome_t outcomes[DC_MAX_BATCH];
    uint64_t now = dc_mono_ms();
    dc_decider_t d;
    dc_decider_init(&d, self->state, self->ctx->config, &self->batch, now, dc_wall_ms());
    for (size_t i = 0; i < n; i++) {
        if (!dc_pipeline_take_wait(&self->pipeline, &ops[i], now))
            dc_pipeline_decide(&self->pipeline, &d, ops[i], &outcomes[i]);
    }
    /* The batch's answers (and the held WAITs its changes answer) wake the
     * front once. */
    dc_handoff_hold(self->ctx->answers);
    bool stored = s_commit(self);
    for (size_t i = 0; i < n; i++) {
        if (ops[i])
            s_reply(self, ops[i], &outcomes[i], stored);
        dc_write_op_destroy(&ops[i]);
    }
    dc_handoff_release(self->ctx->answers);
}

/*==== Timers: expiry, WAIT time-outs, checkpoints ====*/

/* The database file was deleted under us: start a new one and write the
 * whole state into it, in one transaction, from memory. */
static void s_rebuild_database(writer_t *self)
{
    dc_error("!!! database file %s was deleted or replaced while running: recreating it from "
             "memory !!!",
             self->ctx->config->db_path);
    if (dc_store_reopen(self->store) != 0) {
        dc_error("cannot recreate the database: %s (will retry)", dc_store_errmsg(self->store));
        return;
    }
    if (dc_persist_rebuild(self->store, self->state) != 0)
        dc_error("cannot rebuild the database: %s (will retry)", dc_store_errmsg(self->store));
    else
        dc_info("database recreated with %zu topic(s) and %zu node(s)",
                dc_registry_count(self->state->registry), dc_nodes_count(self->state->nodes));
}

/* Leases whose time ran out: their removal is decided and committed like a
 * request's. */
static void s_expire_leases(writer_t *self, uint64_t now)
{
    dc_decider_t d;
    dc_decider_init(&d, self->state, self->ctx->config, &self->batch, now, dc_wall_ms());
    uint64_t expired[DC_MAX_EXPIRED];
    /* Standalone, heartbeats are counted by the threads that take them, not
     * by this loop: a stall here loses no renewal (stalled_ms 0). */
    size_t count = dc_lessor_expire(&self->pipeline.lessor, &d, 0, expired, DC_MAX_EXPIRED);
    if (!s_commit(self)) /* not saved, so not applied: try these leases again in a second */
        dc_lessor_retry(&self->pipeline.lessor, expired, count, now + 1000);
}

/* Renewals queued by heartbeats become LEASE_RENEW checkpoints. */
static void s_checkpoint_renewals(writer_t *self)
{
    dc_decider_t d;
    dc_decider_init(&d, self->state, self->ctx->config, &self->batch, dc_mono_ms(), dc_wall_ms());
    size_t n = dc_lessor_checkpoint(&self->pipeline.lessor, &d);
    if (self->batch.count && !s_commit(self))
        dc_warn("cannot save %zu lease renewal(s)", n);
}

static void s_run_timers(writer_t *self)
{
    uint64_t now = dc_mono_ms();
    self->timers_ran_ms = now;
    dc_events_expire(self->pipeline.events, now);
    s_expire_leases(self, now);
    if (now < self->next_flush_ms)
        return;
    self->next_flush_ms = now + DC_LEASE_FLUSH_MS;
    if (dc_store_file_gone(self->store))
        s_rebuild_database(self);
    else if (dc_store_readonly(self->store)) {
        /* Opened read-only (no write permission): try again each second,
         * so registrations resume once the permissions are fixed. */
        if (dc_store_reopen(self->store) == 0 && !dc_store_readonly(self->store))
            dc_info("database %s is writable again", self->ctx->config->db_path);
    }
    s_checkpoint_renewals(self);
}

/*==== The actor ====*/

static int s_setup(writer_t *self)
{
    if (dc_pipeline_open(&self->pipeline, self->ctx, self->state) != 0)
        return -1;
    /* Leases loaded at start (restored by the server): their expiry checks. */
    dc_lessor_promote(&self->pipeline.lessor, false);
    return 0;
}

static void s_teardown(writer_t *self)
{
    dc_pipeline_close(&self->pipeline);
    dc_changes_free(&self->batch);
}

/* Appends waiting ops to batch[n..]; when n > 0 on entry and none is
 * waiting, first waits up to 1 ms for more. Returns the new count. A pop
 * that finds nothing clears pull_ready: then the queue's descriptor turns
 * readable when the next op comes. */
static size_t s_drain(writer_t *self, dc_write_op_t **batch, size_t n)
{
    bool may_wait = n > 0;
    while (n < DC_MAX_BATCH) {
        dc_write_op_t *op = self->pull_ready ? dc_pipeline_next_op(&self->pipeline) : NULL;
        if (!op && may_wait) {
            struct pollfd fd = {dc_pipeline_fd(&self->pipeline), POLLIN, 0};
            if (poll(&fd, 1, 1) > 0)
                op = dc_pipeline_next_op(&self->pipeline);
        }
        if (!op) {
            self->pull_ready = false;
            break;
        }
        self->pull_ready = true;
        may_wait = false;
        batch[n++] = op;
    }
    return n;
}

void dc_writer_actor(zsock_t *pipe, void *arg)
{
    dc_thread_name("dc-writer");
    dc_writer_args_t *args = arg;
    writer_t *self = calloc(1, sizeof *self);
    zsock_signal(pipe, 0);
    if (!self) {
        zstr_send(pipe, "FAILED");
        return;
    }
    self->ctx = args->ctx;
    self->store = args->store;
    self->state = args->state;
    if (s_setup(self) != 0) {
        s_teardown(self);
        free(self);
        zstr_send(pipe, "FAILED");
        return;
    }
    self->next_flush_ms = dc_mono_ms() + DC_LEASE_FLUSH_MS;
    zstr_send(pipe, "READY");

    dc_write_op_t *batch[DC_MAX_BATCH];
    struct pollfd fds[2] = {{zsock_fd(pipe), POLLIN, 0},
                            {dc_pipeline_fd(&self->pipeline), POLLIN, 0}};
    bool pipe_ready = true;
    self->pull_ready = true;
    bool running = true;
    while (running) {
        uint64_t now = dc_mono_ms();
        /* Proof of life for the systemd watchdog (the front checks it). */
        atomic_store_explicit(&self->ctx->writer_beat_ms, now, memory_order_relaxed);
        uint64_t next = self->next_flush_ms;
        if (dc_pipeline_next_deadline(&self->pipeline) < next)
            next = dc_pipeline_next_deadline(&self->pipeline);
        if (next < self->timers_ran_ms + DC_TIMER_SLACK_MS)
            next = self->timers_ran_ms + DC_TIMER_SLACK_MS;
        long timeout = next > now ? (long)(next - now) : 0;
        if (!pipe_ready && !self->pull_ready) {
            int rc = poll(fds, 2, (int)timeout);
            pipe_ready = rc > 0 && fds[0].revents;
            self->pull_ready = rc > 0 && fds[1].revents;
        }
        if (pipe_ready) {
            pipe_ready = false; /* drained to the end here */
            while (running && (zsock_events(pipe) & ZMQ_POLLIN)) {
                char *command = zstr_recv(pipe);
                if (!command || streq(command, "$TERM"))
                    running = false;
                else
                    dc_pipeline_command(&self->pipeline, command);
                zstr_free(&command);
            }
        }
        /* Take everything waiting, then decide and commit it as one batch;
         * when stopping, keep going until the queue is empty. */
        size_t n;
        do {
            n = s_drain(self, batch, 0);
            /* Fewer ops than recent batches held: the other writers' requests
             * are most likely on their way. Waiting a moment for them lets
             * them share this commit's fsync. A lone writer never waits, and
             * nobody waits long: the gathering ends 1 ms after it began (one
             * more poll may add up to 1 ms), however the ops trickle in. */
            size_t expected = dc_pipeline_batch_expected(&self->pipeline);
            uint64_t gather_start = dc_mono_us();
            while (n > 0 && running && expected > 1 && n < expected &&
                   dc_mono_us() - gather_start < 1000) {
                size_t before = n;
                n = s_drain(self, batch, n);
                if (n == before)
                    break; /* nothing came within 1 ms: commit what we have */
            }
            if (n > 0) {
                dc_pipeline_batch_done(&self->pipeline, n);
                s_process_batch(self, batch, n);
            }
        } while (!running && n > 0);
        s_run_timers(self);
    }
    s_teardown(self);
    free(self);
}
