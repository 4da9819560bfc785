/* dc_cluster.c: a cluster member's writer: the Raft instance on its libuv
 * loop, proposals, roles and the tick, start and stop (see the .h).
 * Forwarding is dc_cluster_forward.c, membership changes
 * dc_cluster_change.c; dc_cluster_member.h is the state the three share. */
#include "dc_cluster_member.h"
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
    if (c->peer) {
        if (out->status == DC_STATUS_ERROR)
            DC_STAT_INC(self->ctx, errors);
        dc_failpoint("answer-forward"); /* committed and applied, not yet answered */
        if (c->index > self->commit_wanted)
            self->commit_wanted = c->index;
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        dc_cop_answer_pack(&buf, out, c->index);
        zmsg_t *msg = zmsg_new();
        zmsg_append(msg, &c->peer);
        zmsg_addstr(msg, "A");
        zmsg_addmem(msg, &c->peer_fwd_id, sizeof c->peer_fwd_id);
        zmsg_addmem(msg, buf.data, buf.size);
        zmsg_send(&msg, self->router);
        msgpack_sbuffer_destroy(&buf);
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
    dc_cop_list_t keep = {0};
    dc_cop_t *c;
    while ((c = dc_cops_pop(&self->parked))) {
        if (c->index <= self->state->applied_index || self->stopping)
            dc_cluster__finish(self, c);
        else
            dc_cops_push(&keep, c);
    }
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
    if (status == 0) {
        for (size_t i = 0; i < n; i++) {
            fl->cops[i]->index = req->index;
            dc_cluster__finish(self, fl->cops[i]);
        }
    } else {
        /* Not committed under this leadership (it may still be, under the
         * next leader): ops go round again, request_ids keep that safe. */
        dc_info("proposal of %zu write(s) ended without commit: %s", n, raft_strerror(status));
        dc_cop_list_t again = {0};
        for (size_t i = 0; i < n; i++) {
            dc_cop_t *c = fl->cops[i];
            if (c->peer) {
                zmsg_t *msg = zmsg_new();
                zmsg_append(msg, &c->peer);
                zmsg_addstr(msg, "N");
                zmsg_addmem(msg, &c->peer_fwd_id, sizeof c->peer_fwd_id);
                zmsg_send(&msg, self->router);
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
     * loop's next turn (s_before_poll) moves the work along. */
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

/* Decides what is queued and proposes it with the leader's own changes,
 * while fewer than DC_MAX_FLIGHTS proposals are in flight. */
static void s_propose(cluster_t *self)
{
    while (self->flights_used < DC_MAX_FLIGHTS && dc_mono_ms() >= self->propose_after &&
           (self->queue.head || self->pending.count > self->proposed)) {
        flight_t *fl = &self->flights[(self->flight_head + self->flights_used) % DC_MAX_FLIGHTS];
        fl->count = 0;
        dc_decider_t d;
        dc_decider_init(&d, self->state, self->config, &self->pending, dc_mono_ms(), dc_wall_ms());
        dc_cop_t *c;
        while (fl->count < DC_MAX_BATCH && (c = dc_cops_pop(&self->queue))) {
            if (c->op->kind >= DC_OP_MEMBER_ADD) {
                dc_cluster__member_op(self, c);
                continue;
            }
            if (c->op->has_request_id && dc_decide_answered(&d, c->op->request_id, &c->out)) {
                c->out.changed = false;
                DC_STAT_INC(self->ctx, deduplicated);
            } else
                dc_decide(&d, c->op, &c->out);
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
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        struct raft_buffer buf = {NULL, 0};
        if (dc_changes_encode(&mine, &sb) != 0 || dc_fsm_frame(sb.data, sb.size, &buf) != 0)
            buf.base = NULL;
        msgpack_sbuffer_destroy(&sb);
        fl->req.data = fl;
        fl->owner = self;
        int rc = buf.base ? raft_apply(&self->raft, &fl->req, &buf, 1, s_apply_done) : RAFT_NOMEM;
        if (rc != 0) {
            raft_free(buf.base);
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
        self->proposed = self->pending.count;
        self->flights_used++;
        self->commit_sent = self->raft.commit_index; /* the append carries it */
        atomic_fetch_add_explicit(&self->ctx->stats.commits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&self->ctx->stats.batched_writes, changes, memory_order_relaxed);
    }
}




/*==== The loop's inputs ====*/

static void s_shutdown(cluster_t *self);

/* A removal that came without a request_id (every legacy UNREGISTER) gets one
 * of this member's: if its proposal ends without an answer (a leader died
 * after committing it), it goes round again to the next leader, which then
 * answers what was done instead of deciding it again (NOT_FOUND). Removals
 * only: deciding a registration again gives the same answer, and the dedup
 * table's 8,192 slots are better kept for clients' own ids. The ids start at
 * a random point, so a restarted member does not meet its earlier ones. */
static void s_give_request_id(cluster_t *self, dc_write_op_t *op)
{
    if (op->has_request_id || (op->kind != DC_OP_UNREGISTER &&
                               op->kind != DC_OP_UNREGISTER_NODE && op->kind != DC_OP_REVOKE_LEASE))
        return;
    if (!self->next_request_id)
        self->next_request_id = dc_request_id_start();
    op->has_request_id = true;
    op->request_id = self->next_request_id++;
}

/* Write ops from this member's front, workers and prober. */
static void s_from_local(cluster_t *self)
{
    zsock_t *pull = self->pipeline.pull;
    while (zsock_events(pull) & ZMQ_POLLIN) {
        void *ptr = NULL;
        if (zsock_recv(pull, "p", &ptr) != 0 || !ptr)
            break;
        dc_write_op_t *op = ptr;
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
        else
            dc_cops_push(&self->queue, c);
    }
}

static void s_from_pipe(cluster_t *self)
{
    while (zsock_events(self->pipe) & ZMQ_POLLIN) {
        char *command = zstr_recv(self->pipe);
        if (!command || streq(command, "$TERM")) {
            zstr_free(&command);
            s_shutdown(self);
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

static void s_barrier_done(struct raft_barrier *req, int status)
{
    (void)status;
    cluster_t *self = req->data;
    self->barrier_busy = false;
}

/* A follower learns that an entry is committed from the leader's next
 * message, which is a heartbeat (up to two heartbeat intervals away) unless
 * a proposal goes out first: when an op forwarded by a follower has been
 * answered and no proposal since has carried its commit, a barrier entry
 * (appended and sent at once) carries it, so the follower can apply it and
 * answer its client without waiting for the heartbeat. One barrier at a
 * time; what comes while it is in flight waits for it. */
static void s_push_commit(cluster_t *self)
{
    if (self->commit_wanted <= self->commit_sent || self->barrier_busy)
        return;
    self->barrier.data = self;
    raft_index commit = self->raft.commit_index;
    if (raft_barrier(&self->raft, &self->barrier, s_barrier_done) == 0) {
        self->barrier_busy = true;
        self->commit_sent = commit;
        DC_STAT_INC(self->ctx, commit_pushes);
    } else
        self->commit_wanted = 0; /* stepping down, say: heartbeats remain */
}

void dc_cluster__pump(cluster_t *self)
{
    if (self->raft_closing)
        return;
    if (self->raft_ready)
        dc_members_publish_indexes(self->ctx, &self->raft, self->state->applied_index);
    bool leads = raft_state(&self->raft) == RAFT_LEADER;
    if (leads && !self->leader)
        s_became_leader(self);
    else if (!leads && self->leader)
        s_stepped_down(self);
    if (self->leader) {
        s_propose(self);
        s_push_commit(self);
    } else
        dc_cluster__forward(self);
    s_release_parked(self);
}

static void s_readable(uv_poll_t *handle, int status, int events)
{
    (void)status;
    (void)events;
    s_drain(handle->data);
}

static void s_before_poll(uv_prepare_t *handle)
{
    s_drain(handle->data);
}

/*==== Roles, leases, status: the tick ====*/

static void s_became_leader(cluster_t *self)
{
    self->leader = true;
    dc_info("member %llu leads now (term %llu)", (unsigned long long)self->config->member_id,
            (unsigned long long)self->raft.current_term);
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
    self->commit_wanted = 0; /* the next leader's messages carry it */
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

static void s_tick(uv_timer_t *handle)
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
    if (self->leader) {
        s_expire_leases(self, now, stalled);
        if (now >= self->next_checkpoint_ms) {
            self->next_checkpoint_ms = now + DC_CHECKPOINT_MS;
            s_checkpoint(self);
        }
    } else
        dc_cluster__forward_renewals(self);
    if (self->fsm.store_stale && !self->fsm.in_txn && now >= self->next_rebuild_ms) {
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
        s_shutdown(self);
    dc_cluster__pump(self);
}

/*==== Start and stop ====*/

static void s_handle_closed(uv_handle_t *handle)
{
    (void)handle;
}

static void s_close_handles(cluster_t *self)
{
    if (self->handles_ready) {
        uv_close((uv_handle_t *)&self->tick, s_handle_closed);
        uv_close((uv_handle_t *)&self->prepare, s_handle_closed);
        uv_close((uv_handle_t *)&self->pipe_poll, s_handle_closed);
        uv_close((uv_handle_t *)&self->pull_poll, s_handle_closed);
        uv_close((uv_handle_t *)&self->router_poll, s_handle_closed);
        self->handles_ready = false;
    }
    dc_cluster__dealer_close(self);
}

static void s_raft_closed(struct raft *r)
{
    cluster_t *self = r->data;
    raft_uv_close(&self->io);
    self->io_ready = false;
    s_close_handles(self);
}

static void s_transferred(struct raft_transfer *req)
{
    cluster_t *self = req->data;
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &leader, &address);
    dc_info("leadership handed to member %llu", (unsigned long long)leader);
    s_shutdown(self);
}

/* Stops: hands leadership over first when leading, then answers what is
 * left and closes Raft (the loop ends when every handle is closed). */
static void s_shutdown(cluster_t *self)
{
    if (self->raft_closing)
        return;
    if (!self->stopping) {
        self->stopping = true;
        if (self->leader && self->raft.configuration.n > 1) {
            self->transfer.data = self;
            if (raft_transfer(&self->raft, &self->transfer, 0, s_transferred) == 0) {
                self->transferring = true;
                self->stop_deadline = dc_mono_ms() + 2 * self->config->election_timeout_ms;
                dc_info("stopping: handing leadership over first");
                return;
            }
        }
    } else if (self->transferring && dc_mono_ms() < self->stop_deadline &&
               raft_state(&self->raft) == RAFT_LEADER)
        return; /* s_transferred or the tick comes back */
    self->raft_closing = true;
    if (self->changing) {
        dc_cop_t *pending = self->changing;
        self->changing = NULL;
        dc_cluster__fail(self, pending, "Shutting down: the membership change may or may not be done");
    }
    dc_cop_t *c;
    dc_cop_list_t *lists[] = {&self->queue, &self->retry, &self->sent, &self->parked};
    for (int i = 0; i < 4; i++)
        while ((c = dc_cops_pop(lists[i])))
            dc_cluster__fail(self, c, "Shutting down");
    dc_pipeline_command(&self->pipeline, "FLUSH");
    raft_close(&self->raft, s_raft_closed);
}

static int s_mkdirs(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(dir, 0750) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    return mkdir(dir, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

/* The peer link's idea of who is a member: the current configuration. */
static const char *s_member_address(void *arg, uint64_t id)
{
    cluster_t *self = arg;
    const struct raft_configuration *conf = &self->raft.configuration;
    for (unsigned i = 0; self->raft_ready && i < conf->n; i++)
        if (conf->servers[i].id == id)
            return conf->servers[i].address;
    return NULL;
}

static int s_start_raft(cluster_t *self)
{
    const dc_config_t *config = self->config;
    const dc_member_config_t *me = dc_config_self(config);
    if (s_mkdirs(config->cluster_dir) != 0) {
        dc_error("cannot create the cluster directory %s: %s", config->cluster_dir,
                 strerror(errno));
        return -1;
    }
    self->link = dc_peer_link_new(&self->loop, config, self->ctx->zap);
    if (!self->link)
        return -1;
    dc_peer_link_set_lookup(self->link, s_member_address, self);
    int rc = raft_uv_init(&self->io, &self->loop, config->cluster_dir,
                          dc_peer_link_transport(self->link));
    if (rc != 0) {
        dc_error("cannot open the Raft log in %s: %s", config->cluster_dir, self->io.errmsg);
        return -1;
    }
    self->io_ready = true;
    rc = raft_init(&self->raft, &self->io, &self->fsm.raft, me->id, me->address);
    if (rc != 0) {
        dc_error("cannot start Raft: %s", raft_errmsg(&self->raft));
        return -1;
    }
    self->raft.data = self;
    self->raft_ready = true;
    raft_set_election_timeout(&self->raft, (unsigned)config->election_timeout_ms);
    /* Followers learn the commit index from the leader's next message: a
     * proposal, the barrier s_push_commit sends for a forwarded write, or a
     * heartbeat. 5 ms heartbeats (at the default election timeout) bound what
     * the others wait, for about 1% of a core per member. */
    unsigned heartbeat = (unsigned)(config->election_timeout_ms / 80);
    raft_set_heartbeat_timeout(&self->raft, heartbeat < 5 ? 5 : heartbeat > 50 ? 50 : heartbeat);
    raft_set_snapshot_threshold(&self->raft, (unsigned)config->snapshot_threshold);
    raft_set_snapshot_trailing(&self->raft, (unsigned)(config->snapshot_threshold / 4 + 16));
    raft_set_pre_vote(&self->raft, true);
    if (!config->cluster_join) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        for (int i = 0; i < config->member_count && rc == 0; i++)
            rc = raft_configuration_add(&conf, config->members[i].id, config->members[i].address,
                                        RAFT_VOTER);
        if (rc == 0)
            rc = raft_bootstrap(&self->raft, &conf);
        raft_configuration_close(&conf);
        if (rc == 0)
            dc_info("bootstrapped a new cluster of %d member(s)", config->member_count);
        else if (rc != RAFT_CANTBOOTSTRAP) {
            dc_error("cannot bootstrap the cluster: %s", raft_strerror(rc));
            return -1;
        }
    }
    dc_fsm_attach(&self->fsm, &self->raft);
    rc = raft_start(&self->raft);
    if (rc != 0) {
        const char *why = raft_errmsg(&self->raft);
        dc_error("cannot start Raft: %s%s%s%s", raft_strerror(rc), why[0] ? " (" : "", why,
                 why[0] ? ")" : "");
        return -1;
    }
    if (dc_fsm_check_start(&self->fsm) != 0)
        return -1;
    return 0;
}

static void s_poll(cluster_t *self, uv_poll_t *poll, zsock_t *sock)
{
    uv_poll_init(&self->loop, poll, zsock_fd(sock));
    poll->data = self;
    uv_poll_start(poll, UV_READABLE, s_readable);
}

static int s_setup(cluster_t *self)
{
    if (uv_loop_init(&self->loop) != 0)
        return -1;
    self->loop_ready = true;
    if (dc_pipeline_open(&self->pipeline, self->ctx, self->state) != 0 || dc_cluster__bind_router(self) != 0)
        return -1;
    dc_fsm_init(&self->fsm, self->state, self->store, &self->pipeline.observer);
    dc_lessor_demote(&self->pipeline.lessor); /* a follower until elected */
    if (s_start_raft(self) != 0)
        return -1;
    s_poll(self, &self->pipe_poll, self->pipe);
    s_poll(self, &self->pull_poll, self->pipeline.pull);
    s_poll(self, &self->router_poll, self->router);
    uv_prepare_init(&self->loop, &self->prepare);
    self->prepare.data = self;
    uv_prepare_start(&self->prepare, s_before_poll);
    uv_timer_init(&self->loop, &self->tick);
    self->tick.data = self;
    uv_timer_start(&self->tick, s_tick, DC_TICK_MS, DC_TICK_MS);
    self->handles_ready = true;
    atomic_store(&self->ctx->cluster.member_id, self->config->member_id);
    atomic_store(&self->ctx->cluster.role, DC_ROLE_FOLLOWER);
    dc_info("member %llu: Raft at %s, log in %s, writes forwarded to the leader at %s",
            (unsigned long long)self->config->member_id, dc_config_self(self->config)->address,
            self->config->cluster_dir, self->endpoint);
    return 0;
}

static void s_teardown(cluster_t *self)
{
    if (self->raft_ready && !self->raft_closing) {
        self->raft_closing = true;
        raft_close(&self->raft, s_raft_closed);
    } else if (!self->raft_ready) {
        if (self->io_ready)
            raft_uv_close(&self->io);
        s_close_handles(self);
    }
    if (self->loop_ready) {
        uv_run(&self->loop, UV_RUN_DEFAULT); /* until every handle is closed */
        if (uv_loop_close(&self->loop) != 0)
            dc_warn("cluster: the event loop still had handles at close");
    }
    dc_peer_link_destroy(&self->link);
    dc_fsm_close(&self->fsm);
    if (self->dealer)
        zsock_destroy(&self->dealer);
    zsock_destroy(&self->router);
    dc_pipeline_close(&self->pipeline);
    dc_changes_free(&self->pending);
}

void dc_cluster_actor(zsock_t *pipe, void *arg)
{
    dc_writer_args_t *args = arg;
    cluster_t *self = calloc(1, sizeof *self);
    zsock_signal(pipe, 0);
    if (!self) {
        zstr_send(pipe, "FAILED");
        return;
    }
    self->ctx = args->ctx;
    self->config = args->ctx->config;
    self->store = args->store;
    self->state = args->state;
    self->pipe = pipe;
    if (s_setup(self) != 0) {
        s_teardown(self);
        free(self);
        zstr_send(pipe, "FAILED");
        return;
    }
    zstr_send(pipe, "READY");
    uv_run(&self->loop, UV_RUN_DEFAULT);
    s_teardown(self);
    free(self);
}
