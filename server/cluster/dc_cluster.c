/* dc_cluster.c: a cluster member's writer: Raft, proposals, forwarding,
 * leases on the leader (see the .h). */
#include "dc_cluster.h"
#include "dc_listen.h"
#include "dc_zap.h"
#include "dc_clock.h"
#include "dc_cluster_op.h"
#include "dc_failpoint.h"
#include "dc_fsm.h"
#include "dc_log.h"
#include "dc_members.h"
#include "dc_peer_link.h"
#include "dc_persist.h"
#include "dc_pipeline.h"
#include "dc_protocol.h"
#include "dc_timers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <raft.h>
#include <raft/uv.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

/* Proposals in flight at once: a batch is decided against the applied state
 * plus the changes of those still in flight, so the leader need not wait for
 * one to commit before proposing the next. */
#define DC_MAX_FLIGHTS 4
/* The loop's timer: expiry checks, forwarded renewals, status, deadlines. */
#define DC_TICK_MS 50
/* A write not answered by then gets ERROR (a Cortex client waits 5 s). */
#define DC_WRITE_DEADLINE_MS 4500
/* How often renewal checkpoints are proposed (leader). */
#define DC_CHECKPOINT_MS 1000

/*==== The member ====*/

/* A proposal in flight and the ops it answers. */
typedef struct {
    struct raft_apply req; /* req.data points here */
    void *owner;           /* the cluster_t */
    dc_cop_t *cops[DC_MAX_BATCH];
    size_t count;
    size_t changes; /* how many of the pending changes are its own */
} flight_t;

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
    dc_fsm_t fsm;

    uv_loop_t loop;
    bool loop_ready, handles_ready;
    uv_poll_t pipe_poll, pull_poll, router_poll;
    uv_poll_t *dealer_poll; /* its own allocation: a closing handle is never reused */
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
     * committed (it answers a forwarded op once applied there); a barrier
     * carries the commit at once when no proposal will (s_push_commit). */
    raft_index commit_sent;
    raft_index commit_wanted;
    struct raft_barrier barrier;
    bool barrier_busy;

    dc_cop_t *changing; /* the membership change under way, or NULL */
    struct raft_change change;
    struct raft_transfer member_transfer;

    bool stopping;
    struct raft_transfer transfer;
    bool transferring;
    uint64_t stop_deadline;
} cluster_t;

static void s_pump(cluster_t *self);

/*==== Answers ====*/

/* Sends an op's answer (to the client through the front, or to the follower
 * that forwarded it) and frees it. */
static void s_finish(cluster_t *self, dc_cop_t *c)
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

static void s_fail(cluster_t *self, dc_cop_t *c, const char *message)
{
    c->out.status = DC_STATUS_ERROR;
    c->out.has_lease = false;
    snprintf(c->out.message, sizeof c->out.message, "%s", message);
    s_finish(self, c);
}

/* Answers an op the leader has answered, now or once applied here. */
static void s_answer_when_applied(cluster_t *self, dc_cop_t *c)
{
    if (c->index <= self->state->applied_index)
        s_finish(self, c);
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
            s_finish(self, c);
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
            s_finish(self, fl->cops[i]);
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

/*==== Membership (leader) ====*/

static void s_change_done(struct raft_change *req, int status);

static void s_member_answer(cluster_t *self, int status, const char *fmt, uint64_t id,
                            const char *detail)
{
    dc_cop_t *c = self->changing;
    self->changing = NULL;
    c->out.status = status;
    snprintf(c->out.message, sizeof c->out.message, fmt, (unsigned long long)id, detail);
    c->index = self->state->applied_index;
    dc_info("membership: %s", c->out.message);
    /* MEMBERS right after the answer shows the change (else the next tick). */
    dc_members_publish(self->ctx, &self->raft, self->state->applied_index);
    s_finish(self, c);
}

static void s_change_done(struct raft_change *req, int status)
{
    cluster_t *self = req->data;
    dc_cop_t *c = self->changing;
    if (!c)
        return;
    if (status != 0) {
        s_member_answer(self, DC_STATUS_ERROR, "Membership change for member %llu failed: %s",
                        c->op->member_id, raft_strerror(status));
        return;
    }
    if (c->op->kind == DC_OP_MEMBER_ADD && c->out.changed == false) {
        /* Added as a spare: now make it a voter (the leader first brings its
         * log up to date). */
        c->out.changed = true;
        int rc =
            raft_assign(&self->raft, &self->change, c->op->member_id, RAFT_VOTER, s_change_done);
        if (rc != 0)
            s_member_answer(self, DC_STATUS_ERROR, "Member %llu added but not a voter: %s",
                            c->op->member_id, raft_strerror(rc));
        return;
    }
    s_member_answer(self, DC_STATUS_OK,
                    c->op->kind == DC_OP_MEMBER_ADD ? "Member %llu added as a voter%s"
                                                    : "Member %llu removed%s",
                    c->op->member_id, "");
}

static void s_transfer_done(struct raft_transfer *req)
{
    cluster_t *self = req->data;
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &leader, &address);
    char detail[64];
    snprintf(detail, sizeof detail, "%llu", (unsigned long long)leader);
    if (leader && leader != self->config->member_id)
        s_member_answer(self, DC_STATUS_OK, "Leadership handed over (asked for %llu, leader %s)",
                        self->changing->op->member_id, detail);
    else
        s_member_answer(self, DC_STATUS_ERROR,
                        "Leadership not handed over (asked for %llu, leader %s)",
                        self->changing->op->member_id, detail);
}

/* Starts a membership change (one at a time); answers at once on refusal. */
static void s_member_op(cluster_t *self, dc_cop_t *c)
{
    if (self->changing) {
        s_fail(self, c, "A membership change is under way: try again when it is done");
        return;
    }
    self->changing = c;
    c->out.changed = false;
    self->change.data = self;
    int rc;
    dc_write_op_t *op = c->op;
    if (op->kind == DC_OP_MEMBER_ADD)
        rc = raft_add(&self->raft, &self->change, op->member_id, op->address, s_change_done);
    else if (op->kind == DC_OP_MEMBER_REMOVE)
        rc = raft_remove(&self->raft, &self->change, op->member_id, s_change_done);
    else if (op->member_id == self->config->member_id) {
        s_member_answer(self, DC_STATUS_OK, "Member %llu leads already%s", op->member_id, "");
        return;
    } else {
        self->member_transfer.data = self;
        rc = raft_transfer(&self->raft, &self->member_transfer, op->member_id, s_transfer_done);
    }
    if (rc != 0)
        s_member_answer(self, DC_STATUS_ERROR, "Membership change for member %llu refused: %s",
                        op->member_id, raft_strerror(rc));
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
            s_finish(self, cops[i]);
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
                s_member_op(self, c);
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

/*==== Forwarding (follower) ====*/

static void s_dealer_readable(uv_poll_t *handle, int status, int events);

static void s_free_handle(uv_handle_t *handle)
{
    free(handle);
}

static void s_dealer_close(cluster_t *self)
{
    if (self->dealer_poll) {
        uv_close((uv_handle_t *)self->dealer_poll, s_free_handle);
        self->dealer_poll = NULL;
    }
    zsock_destroy(&self->dealer);
    self->dealer_endpoint[0] = 0;
    self->dealer_leader = 0;
}

/* The leader changed: ops forwarded to the old one are sent again shortly,
 * unless its answer comes first (a live old leader answers within
 * milliseconds, "A" or "N"; a dead one never does). Resending at once would
 * apply twice what the old leader had committed. */
#define DC_RESEND_AFTER_MS 300

static void s_resend_later(cluster_t *self)
{
    uint64_t at = dc_mono_ms() + DC_RESEND_AFTER_MS;
    for (dc_cop_t *c = self->sent.head; c; c = c->next)
        if (!c->resend_at)
            c->resend_at = at;
}

/* Connects the dealer to the leader's announced endpoint. Returns false when
 * the leader is unknown. */
static bool s_dealer_for(cluster_t *self, uint64_t leader)
{
    const char *endpoint = dc_state_member_endpoint(self->state, leader);
    if (!endpoint)
        return false;
    if (self->dealer && self->dealer_leader == leader && !strcmp(self->dealer_endpoint, endpoint))
        return true;
    if (self->dealer) {
        dc_info("forwarding writes to member %llu at %s now", (unsigned long long)leader, endpoint);
        s_dealer_close(self);
    }
    s_resend_later(self);
    self->dealer = zsock_new(ZMQ_DEALER);
    if (!self->dealer)
        return false;
    zsock_set_linger(self->dealer, 0);
    zsock_set_sndhwm(self->dealer, 10000);
    /* Never block the Raft thread: at the high-water mark (a leader that
     * stopped reading) s_forward keeps the op queued for later. */
    zsock_set_sndtimeo(self->dealer, 0);
    dc_zap_connect_member(self->ctx->zap, self->dealer);
    if (zsock_connect(self->dealer, "%s", endpoint) != 0) {
        dc_warn("cannot connect to the leader's endpoint %s", endpoint);
        zsock_destroy(&self->dealer);
        return false;
    }
    snprintf(self->dealer_endpoint, sizeof self->dealer_endpoint, "%s", endpoint);
    self->dealer_leader = leader;
    self->dealer_poll = malloc(sizeof *self->dealer_poll);
    if (self->dealer_poll) {
        uv_poll_init(&self->loop, self->dealer_poll, zsock_fd(self->dealer));
        self->dealer_poll->data = self;
        uv_poll_start(self->dealer_poll, UV_READABLE, s_dealer_readable);
    }
    return true;
}

static void s_forward(cluster_t *self)
{
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &leader, &address);
    if (!leader || leader == self->config->member_id || !s_dealer_for(self, leader))
        return;
    dc_cop_t *c;
    while ((c = dc_cops_pop(&self->queue))) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        if (dc_write_op_encode(c->op, &buf) != 0) {
            msgpack_sbuffer_destroy(&buf);
            s_fail(self, c, "Out of memory");
            continue;
        }
        c->fwd_id = ++self->next_fwd_id;
        c->resend_at = 0;
        c->uncertain = true;
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, "F");
        zmsg_addmem(msg, &c->fwd_id, sizeof c->fwd_id);
        zmsg_addmem(msg, buf.data, buf.size);
        msgpack_sbuffer_destroy(&buf);
        if (zmsg_send(&msg, self->dealer) != 0) {
            zmsg_destroy(&msg);
            dc_cop_list_t back = {0};
            dc_cops_push(&back, c);
            dc_cops_prepend(&self->queue, &back);
            return;
        }
        dc_cops_push(&self->sent, c);
    }
}

/* The leader's answers: ["A", fwd_id, answer] or ["N", fwd_id]. */
static void s_from_leader(cluster_t *self)
{
    zmsg_t *msg;
    while (self->dealer && (zsock_events(self->dealer) & ZMQ_POLLIN) &&
           (msg = zmsg_recv(self->dealer))) {
        zframe_t *kind = zmsg_first(msg), *id = zmsg_next(msg), *body = zmsg_next(msg);
        uint64_t fwd_id = 0;
        if (kind && id && zframe_size(id) == sizeof fwd_id)
            memcpy(&fwd_id, zframe_data(id), sizeof fwd_id);
        dc_cop_t *c = fwd_id ? dc_cops_take(&self->sent, fwd_id) : NULL;
        if (c && zframe_streq(kind, "A") && body &&
            dc_cop_answer_unpack(zframe_data(body), zframe_size(body), &c->out, &c->index) == 0)
            s_answer_when_applied(self, c);
        else if (c)
            dc_cops_push(&self->retry, c); /* "N", or an answer we cannot read: again */
        zmsg_destroy(&msg);
    }
}

static void s_dealer_readable(uv_poll_t *handle, int status, int events)
{
    (void)status;
    (void)events;
    cluster_t *self = handle->data;
    s_from_leader(self);
    s_pump(self);
}

/* Forwarded ops and renewals from followers: ["F", fwd_id, op] or ["R", ids]. */
static void s_from_followers(cluster_t *self)
{
    zmsg_t *msg;
    while ((zsock_events(self->router) & ZMQ_POLLIN) && (msg = zmsg_recv(self->router))) {
        zframe_t *peer = zmsg_pop(msg);
        zframe_t *kind = zmsg_first(msg), *arg = zmsg_next(msg), *body = zmsg_next(msg);
        uint64_t fwd_id = 0;
        if (kind && zframe_streq(kind, "R") && arg && self->leader) {
            /* Renewals a follower took: the lease lives on here too. */
            size_t n = zframe_size(arg) / sizeof(uint64_t);
            uint64_t now = dc_mono_ms(), wall = dc_wall_ms();
            for (size_t i = 0; i < n; i++) {
                uint64_t lease;
                memcpy(&lease, zframe_data(arg) + i * sizeof lease, sizeof lease);
                dc_leases_heartbeat(self->state->leases, lease, now, wall);
            }
        } else if (kind && zframe_streq(kind, "F") && arg && body &&
                   zframe_size(arg) == sizeof fwd_id) {
            memcpy(&fwd_id, zframe_data(arg), sizeof fwd_id);
            char err[DC_ERR_LEN];
            dc_write_op_t *op =
                self->leader ? dc_write_op_decode(zframe_data(body), zframe_size(body), err) : NULL;
            dc_cop_t *c = calloc(1, sizeof *c);
            if (c) {
                c->peer = peer;
                peer = NULL;
                c->peer_fwd_id = fwd_id;
                c->deadline = dc_mono_ms() + DC_WRITE_DEADLINE_MS;
            }
            if (c && !self->leader) { /* we lost it since: the follower asks again */
                zmsg_t *no = zmsg_new();
                zmsg_append(no, &c->peer);
                zmsg_addstr(no, "N");
                zmsg_addmem(no, &fwd_id, sizeof fwd_id);
                zmsg_send(&no, self->router);
                free(c);
            } else if (c && !op) {
                dc_warn("a forwarded write was refused: %s", err);
                c->op = calloc(1, sizeof *c->op);
                if (c->op) {
                    c->index = self->state->applied_index;
                    s_fail(self, c, "The leader could not read the forwarded write");
                } else {
                    zframe_destroy(&c->peer);
                    free(c);
                }
            } else if (c) {
                c->op = op;
                dc_cops_push(&self->queue, c);
            } else
                dc_write_op_destroy(&op);
        }
        zframe_destroy(&peer);
        zmsg_destroy(&msg);
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
            s_fail(self, c, "Shutting down");
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
    s_from_followers(self);
    s_from_leader(self);
    s_pump(self);
}

static void s_became_leader(cluster_t *self);
static void s_stepped_down(cluster_t *self);
static void s_allow_members(cluster_t *self);

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

static void s_pump(cluster_t *self)
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
        s_forward(self);
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
    s_resend_later(self);
    s_dealer_close(self);
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

/* Follower: the renewals taken here go to the leader. */
static void s_forward_renewals(cluster_t *self)
{
    uint64_t *ids = NULL;
    size_t n = dc_leases_take_forward(self->state->leases, &ids);
    if (n && self->dealer) {
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, "R");
        zmsg_addmem(msg, ids, n * sizeof *ids);
        zmsg_send(&msg, self->dealer);
    }
    free(ids);
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
        s_forward_renewals(self);
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
                s_fail(self, c,
                       "No answer from the cluster leader in time: the write may or "
                       "may not have been applied");
            else
                s_fail(self, c,
                       "No cluster leader: the write was not applied (a majority of "
                       "members must be up and connected)");
        }
        *lists[i] = keep;
    }
    dc_cops_prepend(&self->queue, &self->retry);
    if (self->raft.configuration_index != self->allowed_conf)
        s_allow_members(self); /* a member added since: let it forward here */
    dc_members_publish(self->ctx, &self->raft, self->state->applied_index);
    if (self->stopping && self->transferring && now >= self->stop_deadline)
        s_shutdown(self);
    s_pump(self);
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
    s_dealer_close(self);
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
        s_fail(self, pending, "Shutting down: the membership change may or may not be done");
    }
    dc_cop_t *c;
    dc_cop_list_t *lists[] = {&self->queue, &self->retry, &self->sent, &self->parked};
    for (int i = 0; i < 4; i++)
        while ((c = dc_cops_pop(lists[i])))
            s_fail(self, c, "Shutting down");
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

/* Tells the ZAP handler the addresses of every member host: without CURVE
 * (--insecure-tcp) the router takes connections from member hosts only. With
 * CURVE the member's key is what lets it in (dc_zap.h). */
static void s_allow_members(cluster_t *self)
{
    const struct raft_configuration *conf = &self->raft.configuration;
    int count = self->raft_ready ? (int)conf->n : 0;
    int hosts = dc_zap_curve(self->ctx->zap) ? 0 : count + self->config->member_count;
    for (int i = 0; i < hosts; i++) {
        const char *address =
            i < count ? conf->servers[i].address : self->config->members[i - count].address;
        char host[208];
        dc_address_host(address, host, sizeof host);
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
        if (getaddrinfo(host, NULL, &hints, &res) != 0) {
            dc_warn("member host %s does not resolve: its writes cannot be forwarded here", host);
            continue;
        }
        for (struct addrinfo *a = res; a; a = a->ai_next) {
            char ip[INET6_ADDRSTRLEN] = "";
            if (a->ai_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, ip, sizeof ip);
            else if (a->ai_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, ip, sizeof ip);
            if (ip[0])
                dc_zap_allow_member_address(self->ctx->zap, ip);
        }
        freeaddrinfo(res);
    }
    self->allowed_conf = self->raft_ready ? self->raft.configuration_index : 0;
}

/* The forwarding endpoint: tcp on this member's own host, any free port. */
static int s_bind_router(cluster_t *self)
{
    char host[208];
    dc_address_host(dc_config_self(self->config)->address, host, sizeof host);
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router)
        return -1;
    zsock_set_linger(self->router, 0);
    zsock_set_maxmsgsize(self->router, (int)self->config->max_message_size + 4096);
    dc_listen_prepare(self->router);
    s_allow_members(self);
    dc_zap_serve(self->ctx->zap, self->router, DC_ZAP_MEMBERS);
    int port = zsock_bind(self->router, "tcp://%s:*", host);
    if (port < 0) {
        char origin[256];
        dc_error("cannot bind the member channel on %s (this member's host in %s): %s", host,
                 dc_config_origin(self->config, "cluster-member", origin, sizeof origin),
                 zmq_strerror(zmq_errno()));
        return -1;
    }
    snprintf(self->endpoint, sizeof self->endpoint, "tcp://%s:%d", host, port);
    dc_zap_watch(self->ctx->zap, self->router, self->endpoint);
    dc_info("member channel (writes forwarded to this member when it leads) on %s%s",
            self->endpoint, dc_zap_curve(self->ctx->zap) ? " (CURVE)" : "");
    return 0;
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
    if (dc_pipeline_open(&self->pipeline, self->ctx, self->state) != 0 || s_bind_router(self) != 0)
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
