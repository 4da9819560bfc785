/* dc_cluster.c: a cluster member's writer at work: the loop's inputs (the
 * pipe, local ops), proposals on the leader, roles, the tick (see the .h).
 * Starting and stopping is dc_cluster_start.c, forwarding
 * dc_cluster_forward.c, membership changes dc_cluster_change.c;
 * dc_cluster_member.h is the state the four share. */
#include "dc_cluster_member.h"
#include "dc_island.h"
#include "dc_clock.h"
#include "dc_failpoint.h"
#include "dc_log.h"
#include "dc_members.h"
#include "dc_persist.h"
#include "dc_protocol.h"
#include "dc_zap.h"

#include <errno.h>
#include <raft/uv.h>
#include <string.h>
#include <sys/stat.h>



/*==== Answers ====*/

/* Sends an op's answer (to the client through the front, or to the follower
 * that forwarded it) and frees it. */
void dc_cluster__finish(cluster_t *self, dc_cop_t *c)
{
    if (self->raft_ready && !self->raft_closing)
        dc_members_publish_indexes(self->ctx, &self->raft, self->state->applied_index);
    dc_outcome_t *out = &c->out;
    if (c->island_seq)
        dc_island_answered(self, c); /* a merged provisional write: nobody to answer */
    if (c->peer) {
        if (out->status == DC_STATUS_ERROR)
            DC_STAT_INC(self->ctx, errors);
        dc_failpoint("answer-forward"); /* committed and applied, not yet answered */
        if (c->index > self->commit_wanted)
            self->commit_wanted = c->index;
        dc_cluster__peer_answer(self, c);
    } else {
        dc_pipeline_answer(&self->pipeline, c->op, out);
    }
    zframe_destroy(&c->peer);
    dc_write_op_destroy(&c->op);
    free(c);
}

void dc_cluster__fail(cluster_t *self, dc_cop_t *c, const char *message)
{
    c->out.status = DC_STATUS_ERROR;
    c->out.has_lease = false;
    snprintf(c->out.message, sizeof c->out.message, "%s", message);
    dc_cluster__finish(self, c);
}

/* Answers an op the leader has answered, now or once applied here. */
void dc_cluster__answer_when_applied(cluster_t *self, dc_cop_t *c)
{
    if (c->index <= self->state->applied_index)
        dc_cluster__finish(self, c);
    else
        dc_cops_push(&self->parked, c);
}

/* Answers the parked ops whose index has been applied here. */
static void s_release_parked(cluster_t *self)
{
    if (!self->parked.head)
        return;
    dc_cop_list_t keep = {0};
    dc_cop_t *c;
    dc_handoff_hold(self->ctx->answers); /* the front is woken once for them all */
    while ((c = dc_cops_pop(&self->parked))) {
        if (c->index <= self->state->applied_index || self->stopping)
            dc_cluster__finish(self, c);
        else
            dc_cops_push(&keep, c);
    }
    dc_handoff_release(self->ctx->answers);
    self->parked = keep;
}

/*==== Proposing (leader) ====*/

static void s_apply_done(struct raft_apply *req, int status, void *result)
{
    (void)result;
    flight_t *fl = req->data;
    cluster_t *self = fl->owner;
    if (fl != &self->flights[self->flight_head])
        dc_error("proposals completed out of order"); /* raft applies in log order */
    dc_changes_drop_front(&self->pending, fl->changes);
    self->proposed -= fl->changes < self->proposed ? fl->changes : self->proposed;
    self->flight_head = (self->flight_head + 1) % DC_MAX_FLIGHTS;
    self->flights_used--;
    size_t n = fl->count;
    fl->count = 0;
    if (status == 0)
        dc_histogram_observe(&self->ctx->stats.commit_us, dc_mono_us() - fl->proposed_us);
    if (status == 0) {
        dc_handoff_hold(self->ctx->answers); /* the front is woken once for them all */
        dc_cluster__peer_answers_hold(self); /* each follower gets one message */
        for (size_t i = 0; i < n; i++) {
            fl->cops[i]->index = req->index;
            dc_cluster__finish(self, fl->cops[i]);
        }
        dc_cluster__peer_answers_release(self);
        dc_handoff_release(self->ctx->answers);
    } else {
        /* Not committed under this leadership (it may still be, under the
         * next leader): ops go round again, request_ids keep that safe. */
        dc_info("proposal of %zu write(s) ended without commit: %s", n, raft_strerror(status));
        dc_cop_list_t again = {0};
        for (size_t i = 0; i < n; i++) {
            dc_cop_t *c = fl->cops[i];
            if (c->peer) {
                dc_cluster__peer_not_leader(self, c);
                dc_write_op_destroy(&c->op);
                free(c);
            } else {
                c->uncertain = true;
                dc_cops_push(&again, c);
            }
        }
        dc_cops_prepend(&self->queue, &again);
        /* Raft is in the middle of stepping down: let it finish first. */
        self->propose_after = dc_mono_ms() + 10;
    }
    /* No s_pump here: raft calls this from inside its own processing; the
     * loop's next turn (dc_cluster__before_poll) moves the work along. */
}



/* Answers ops whose decision changed nothing: at once when nothing is in
 * flight, else with the newest proposal (they were decided against it). */
static void s_answer_unchanged(cluster_t *self, dc_cop_t **cops, size_t n)
{
    flight_t *last =
        self->flights_used
            ? &self->flights[(self->flight_head + self->flights_used - 1) % DC_MAX_FLIGHTS]
            : NULL;
    for (size_t i = 0; i < n; i++) {
        if (last && last->count < DC_MAX_BATCH)
            last->cops[last->count++] = cops[i];
        else {
            cops[i]->index = self->state->applied_index;
            dc_cluster__finish(self, cops[i]);
        }
    }
}

static void s_gathered(uv_timer_t *handle)
{
    cluster_t *self = handle->data;
    if (self->gather_until)
        self->gather_until = 1; /* over, whatever the clocks say */
    dc_cluster__pump(self);
}

/* Fewer ops queued than recent proposals held: the other clients' requests
 * are most likely on their way (without it, 8 clients split into two
 * cohorts of about four, one proposed while the other's entry commits).
 * Waiting a moment lets them share one entry: one append, one fsync on each
 * member, one round of messages, which on a machine the members and clients
 * share is what bounds the rate. As the standalone writer gathers
 * (dc_writer.c): a lone writer never waits, and nobody waits past
 * DC_GATHER_US plus the loop timer's millisecond. Returns true while
 * gathering; the op that completes the count, or the timer, ends it. */
static bool s_gathering(cluster_t *self)
{
    if (!self->handles_ready || !self->queue.head || self->pending.count > self->proposed)
        return false;
    size_t expected = dc_pipeline_batch_expected(&self->pipeline);
    if (expected <= 1 || self->queue.count >= expected)
        return false;
    uint64_t now = dc_mono_us();
    if (!self->gather_until) {
        self->gather_until = now + DC_GATHER_US;
        uv_timer_start(&self->gather, s_gathered, (DC_GATHER_US + 999) / 1000, 0);
    }
    return now < self->gather_until;
}

/* Decides what is queued and proposes it with the leader's own changes,
 * while fewer than DC_MAX_FLIGHTS proposals are in flight. */
static void s_propose(cluster_t *self)
{
    while (self->flights_used < DC_MAX_FLIGHTS && dc_mono_ms() >= self->propose_after &&
           (self->queue.head || self->pending.count > self->proposed)) {
        if (s_gathering(self))
            return;
        if (self->gather_until) {
            self->gather_until = 0;
            uv_timer_stop(&self->gather);
        }
        flight_t *fl = &self->flights[(self->flight_head + self->flights_used) % DC_MAX_FLIGHTS];
        fl->count = 0;
        dc_decider_t d;
        dc_decider_init(&d, self->state, self->config, &self->pending, dc_mono_ms(), dc_wall_ms());
        d.kept_ids = self->island.shadows;
        d.kept_count = self->island.shadow_count;
        dc_cop_t *c;
        while (fl->count < DC_MAX_BATCH && (c = dc_cops_pop(&self->queue))) {
            if (dc_op_is_member_change(c->op->kind)) {
                dc_cluster__member_op(self, c);
                continue;
            }
            dc_island_lease_left(self, c);
            dc_pipeline_decide(&self->pipeline, &d, c->op, &c->out);
            fl->cops[fl->count++] = c;
        }
        size_t start = self->proposed, changes = self->pending.count - start;
        if (changes == 0) {
            size_t n = fl->count;
            fl->count = 0;
            s_answer_unchanged(self, fl->cops, n);
            continue;
        }
        dc_changes_t mine = {self->pending.items + start, changes, changes};
        fl->req.data = fl;
        fl->owner = self;
        fl->proposed_us = dc_mono_us();
        int rc = dc_fsm_propose(&self->raft, &fl->req, &mine, s_apply_done);
        if (rc != 0) {
            dc_warn("cannot propose %zu change(s): %s", changes, raft_strerror(rc));
            dc_changes_truncate(&self->pending, start);
            dc_cop_list_t again = {0};
            for (size_t i = 0; i < fl->count; i++)
                dc_cops_push(&again, fl->cops[i]);
            fl->count = 0;
            dc_cops_prepend(&self->queue, &again);
            self->propose_after = dc_mono_ms() + 10;
            return;
        }
        fl->changes = changes;
        dc_pipeline_batch_done(&self->pipeline, fl->count);
        self->proposed = self->pending.count;
        self->flights_used++;
        self->commit_sent = self->raft.commit_index; /* the append carries it */
        atomic_fetch_add_explicit(&self->ctx->stats.commits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&self->ctx->stats.batched_writes, changes, memory_order_relaxed);
    }
}




/*==== The loop's inputs ====*/

/* A removal that came without a request_id (every legacy UNREGISTER) gets one
 * of this member's: if its proposal ends without an answer (a leader died
 * after committing it), it goes round again to the next leader, which then
 * answers what was done instead of deciding it again (NOT_FOUND). Removals
 * only: deciding a registration again gives the same answer, and the dedup
 * table's 8,192 slots are better kept for clients' own ids. The ids start at
 * a random point, so a restarted member does not meet its earlier ones. */
static void s_give_request_id(cluster_t *self, dc_write_op_t *op)
{
    if (op->has_request_id ||
        (op->kind != DC_OP_UNREGISTER && op->kind != DC_OP_UNREGISTER_NODE &&
         op->kind != DC_OP_REVOKE_LEASE && op->kind != DC_OP_UNSUBSCRIBE))
        return;
    if (!self->next_request_id)
        self->next_request_id = dc_request_id_start();
    op->has_request_id = true;
    op->request_id = self->next_request_id++;
}

/* Write ops from this member's front, workers and prober. */
static void s_from_local(cluster_t *self)
{
    dc_write_op_t *op;
    while (self->local_ready) {
        if (!(op = dc_pipeline_next_op(&self->pipeline))) {
            self->local_ready = false; /* the queue's descriptor wakes us for the next */
            break;
        }
        if (dc_pipeline_take_wait(&self->pipeline, &op, dc_mono_ms()))
            continue;
        dc_cop_t *c = calloc(1, sizeof *c);
        if (!c) {
            dc_write_op_destroy(&op);
            continue;
        }
        c->op = op;
        if (!op->origin)
            op->origin = self->config->member_id;
        s_give_request_id(self, op);
        c->deadline = dc_mono_ms() + DC_WRITE_DEADLINE_MS;
        if (self->stopping)
            dc_cluster__fail(self, c, "Shutting down");
        else if (!dc_island_take(self, c)) /* cut off: this computer's writes, here */
            dc_cops_push(&self->queue, c);
    }
    dc_island_flush(self);
}

static void s_from_pipe(cluster_t *self)
{
    if (!self->pipe_ready)
        return;
    self->pipe_ready = false; /* drained to the end below */
    while (zsock_events(self->pipe) & ZMQ_POLLIN) {
        char *command = zstr_recv(self->pipe);
        if (!command || streq(command, "$TERM")) {
            zstr_free(&command);
            dc_cluster__shutdown(self);
            return;
        }
        dc_pipeline_command(&self->pipeline, command);
        zstr_free(&command);
    }
}

/* Takes whatever the sockets hold and moves the work along. ZeroMQ's
 * descriptors signal edges, so every wake-up drains every socket. */
static void s_drain(cluster_t *self)
{
    if (self->raft_closing)
        return;
    s_from_pipe(self);
    if (self->raft_closing)
        return;
    s_from_local(self);
    dc_cluster__from_followers(self);
    dc_cluster__from_leader(self);
    dc_cluster__pump(self);
}

static void s_became_leader(cluster_t *self);
static void s_stepped_down(cluster_t *self);

/* A follower learns that an entry is committed from the leader's next
 * message, which is a heartbeat (up to a heartbeat interval away) unless a
 * proposal goes out first: when an op forwarded by a follower has been
 * answered and no proposal since has carried its commit, libraft's tick is
 * called at once with the heartbeat interval at 0, and the interval stays
 * there for the ticks of the next DC_PUSH_MS, so the follower can apply it
 * and answer its client without waiting for a tick. A barrier entry did
 * this before: it carried the commit at once, but cost every member a log
 * write and an fsync. The heartbeat sent at once does not always go out (a
 * follower's link still busy): without the ticks after it, one forwarded
 * write in a hundred waited a whole heartbeat interval (one client through a
 * follower: p99 6.1-6.3 ms against 1.0 ms). One tick (1 ms) is enough;
 * two sent every member a heartbeat more a push (a three-member cluster's
 * CPU a forwarded write 4-10% more, BENCHMARKS.md, stop 35). */
#define DC_PUSH_MS 1

/* Heartbeats at their own interval again (a push is over, or leadership). */
static void s_push_end(cluster_t *self)
{
    if (!self->push_until)
        return;
    raft_set_heartbeat_timeout(&self->raft, self->heartbeat_ms);
    self->push_until = 0;
}

static void s_push_commit(cluster_t *self)
{
    uint64_t now = dc_mono_ms();
    if (self->commit_wanted > self->commit_sent) {
        /* Interval 0: the tick called here sends every follower a heartbeat
         * whenever it last sent one; the ticks until push_until do too. */
        raft_set_heartbeat_timeout(&self->raft, 0);
        self->commit_sent = self->commit_wanted;
        self->push_until = now + DC_PUSH_MS;
        DC_STAT_INC(self->ctx, commit_pushes);
        if (self->raft_tick)
            self->raft_tick(&self->io);
    } else if (self->push_until && now >= self->push_until)
        s_push_end(self);
}

void dc_cluster__pump(cluster_t *self)
{
    if (self->raft_closing)
        return;
    bool leads = raft_state(&self->raft) == RAFT_LEADER;
    if (leads && !self->leader)
        s_became_leader(self);
    else if (!leads && self->leader)
        s_stepped_down(self);
    /* After the role's own work: a reader never sees a leader that is still
     * an island. */
    if (self->raft_ready)
        dc_members_publish_indexes(self->ctx, &self->raft, self->state->applied_index);
    if (self->leader) {
        s_propose(self);
        s_push_commit(self);
    } else {
        dc_island_poll(self);
        dc_cluster__forward(self);
    }
    s_release_parked(self);
}

void dc_cluster__readable(uv_poll_t *handle, int status, int events)
{
    (void)status;
    (void)events;
    cluster_t *self = handle->data;
    if (handle == &self->pipe_poll)
        self->pipe_ready = true;
    else if (handle == &self->pull_poll)
        self->local_ready = true;
    else if (handle == &self->router_poll)
        self->router_ready = true;
    s_drain(self);
}

void dc_cluster__before_poll(uv_prepare_t *handle)
{
    s_drain(handle->data);
}

/*==== Roles, leases, status: the tick ====*/

static void s_became_leader(cluster_t *self)
{
    self->leader = true;
    dc_info("member %llu leads now (term %llu)", (unsigned long long)self->config->member_id,
            (unsigned long long)self->raft.current_term);
    /* Back from an island (dc_island_leading): the state goes back to what
     * the cluster committed before anything is decided against it. Deciding
     * on the island's state found each merged write already there, answered
     * it "unchanged" and dropped it from the provisional table unapplied. */
    dc_island_leading(self);
    dc_lessor_promote(&self->pipeline.lessor, true); /* every lease: a full TTL from now */
    /* Ops the old leader refused are ours now; those it may still answer
     * wait a moment for that answer. */
    dc_cops_prepend(&self->queue, &self->retry);
    dc_cluster__resend_later(self);
    dc_cluster__dealer_close(self);
    /* A fresh cluster's first epoch, and where followers reach us. */
    if (self->state->epoch == 0) {
        dc_change_t *c = dc_changes_add(&self->pending, DC_REC_EPOCH);
        if (c)
            c->value = 1;
    }
    const char *announced = dc_state_member_endpoint(self->state, self->config->member_id);
    if (!announced || strcmp(announced, self->endpoint) != 0) {
        dc_change_t *c = dc_changes_add(&self->pending, DC_REC_MEMBER);
        if (c) {
            c->value = self->config->member_id;
            c->text = strdup(self->endpoint);
        }
    }
}

static void s_stepped_down(cluster_t *self)
{
    self->leader = false;
    dc_info("member %llu no longer leads", (unsigned long long)self->config->member_id);
    dc_lessor_demote(&self->pipeline.lessor);
    /* Our own changes not yet proposed: the next leader decides again. Those
     * in flight are failed by raft (s_apply_done). */
    dc_changes_truncate(&self->pending, self->proposed);
    self->commit_wanted = self->commit_sent = 0; /* the next leader's messages carry it */
    s_push_end(self);
}

/* Leader: leases whose time ran out are ended (a change like any other). */
static void s_expire_leases(cluster_t *self, uint64_t now, uint64_t stalled_ms)
{
    dc_decider_t d;
    dc_decider_init(&d, self->state, self->config, &self->pending, now, dc_wall_ms());
    uint64_t ended[64];
    dc_lessor_expire(&self->pipeline.lessor, &d, stalled_ms, ended, 64);
}

/* Leader: renewals saved at TTL/2 become LEASE_RENEW checkpoints. */
static void s_checkpoint(cluster_t *self)
{
    dc_decider_t d;
    dc_decider_init(&d, self->state, self->config, &self->pending, dc_mono_ms(), dc_wall_ms());
    dc_lessor_checkpoint(&self->pipeline.lessor, &d);
}

void dc_cluster__tick(uv_timer_t *handle)
{
    cluster_t *self = handle->data;
    if (self->raft_closing)
        return;
    uint64_t now = dc_mono_ms();
    uint64_t stalled = self->last_tick_ms && now > self->last_tick_ms + DC_TICK_MS
                           ? now - self->last_tick_ms - DC_TICK_MS
                           : 0;
    self->last_tick_ms = now;
    atomic_store_explicit(&self->ctx->writer_beat_ms, now, memory_order_relaxed);
    dc_fsm_flush(&self->fsm); /* the copy's transaction: at most a tick behind */
    dc_events_expire(self->pipeline.events, now);
    dc_island_tick(self, now);
    if (self->leader) {
        s_expire_leases(self, now, stalled);
        if (now >= self->next_checkpoint_ms) {
            self->next_checkpoint_ms = now + DC_CHECKPOINT_MS;
            s_checkpoint(self);
        }
    } else
        dc_cluster__forward_renewals(self);
    if (self->fsm.store_stale && !self->fsm.in_txn && !dc_island_active(self) &&
        now >= self->next_rebuild_ms) {
        self->next_rebuild_ms = now + 1000;
        if (dc_store_file_gone(self->store))
            dc_store_reopen(self->store);
        self->fsm.store_stale = dc_persist_rebuild(self->store, self->state) != 0;
        if (!self->fsm.store_stale)
            dc_info("database copy rewritten from memory");
    }
    /* Forwarded ops whose leader changed and that got no answer: again. */
    dc_cop_list_t keep_sent = {0}, resend = {0};
    dc_cop_t *due;
    while ((due = dc_cops_pop(&self->sent)))
        dc_cops_push(due->resend_at && now >= due->resend_at ? &resend : &keep_sent, due);
    self->sent = keep_sent;
    dc_cops_prepend(&self->queue, &resend);
    /* Ops past their deadline. */
    dc_cop_list_t *lists[] = {&self->queue, &self->retry, &self->sent};
    for (int i = 0; i < 3; i++) {
        dc_cop_list_t keep = {0};
        dc_cop_t *c;
        while ((c = dc_cops_pop(lists[i]))) {
            if (now < c->deadline)
                dc_cops_push(&keep, c);
            else if (c->uncertain)
                dc_cluster__fail(self, c,
                       "No answer from the cluster leader in time: the write may or "
                       "may not have been applied");
            else
                dc_cluster__fail(self, c,
                       "No cluster leader: the write was not applied (a majority of "
                       "members must be up and connected)");
        }
        *lists[i] = keep;
    }
    dc_cops_prepend(&self->queue, &self->retry);
    if (self->raft.configuration_index != self->allowed_conf)
        dc_cluster__allow_members(self); /* a member added since: let it forward here */
    dc_members_publish(self->ctx, &self->raft, self->state->applied_index);
    if (self->stopping && self->transferring && now >= self->stop_deadline)
        dc_cluster__shutdown(self);
    dc_cluster__pump(self);
}
