/* dc_cluster_forward.c: forwarding between a follower and the leader: the
 * member channel the leader's ROUTER listens on, the follower's DEALER to
 * it, forwarded ops and their answers (what one drain holds goes in one
 * message each way, once the leader said it takes that: "H"), renewals
 * passed on (see dc_cluster_member.h and dc_cluster.h; the messages are in
 * proto/PROTOCOL.md, "Between members"). */
#include "dc_cluster_member.h"
#include "dc_island.h"
#include "dc_failpoint.h"
#include "dc_clock.h"
#include "dc_listen.h"
#include "dc_log.h"
#include "dc_zap.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <errno.h>
#include <string.h>

static void s_dealer_readable(uv_poll_t *handle, int status, int events);
static bool s_old_channel(void);

static void s_free_handle(uv_handle_t *handle)
{
    free(handle);
}

void dc_cluster__dealer_close(cluster_t *self)
{
    if (self->dealer_poll) {
        uv_close((uv_handle_t *)self->dealer_poll, s_free_handle);
        self->dealer_poll = NULL;
    }
    zsock_destroy(&self->dealer);
    self->dealer_endpoint[0] = 0;
    self->dealer_leader = 0;
    self->dealer_batches = false;
}

/* The leader changed: ops forwarded to the old one are sent again shortly,
 * unless its answer comes first (a live old leader answers within
 * milliseconds, "A" or "N"; a dead one never does). Resending at once would
 * apply twice what the old leader had committed. */
#define DC_RESEND_AFTER_MS 300

void dc_cluster__resend_later(cluster_t *self)
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
        dc_cluster__dealer_close(self);
    }
    dc_cluster__resend_later(self);
    self->dealer = zsock_new(ZMQ_DEALER);
    if (!self->dealer)
        return false;
    zsock_set_linger(self->dealer, 0);
    zsock_set_sndhwm(self->dealer, 10000);
    /* Never block the Raft thread: at the high-water mark (a leader that
     * stopped reading) s_forward keeps the op queued for later. */
    zsock_set_sndtimeo(self->dealer, 0);
    zsock_set_rcvtimeo(self->dealer, 0); /* receives never block: the loop drains it */
    dc_zap_connect_member(self->ctx->zap, self->dealer);
    if (zsock_connect(self->dealer, "%s", endpoint) != 0) {
        dc_warn("cannot connect to the leader's endpoint %s", endpoint);
        zsock_destroy(&self->dealer);
        return false;
    }
    snprintf(self->dealer_endpoint, sizeof self->dealer_endpoint, "%s", endpoint);
    self->dealer_leader = leader;
    self->dealer_ready = true;
    /* Does this leader take "G"? Its "H" says so; one that does not (an
     * older member) never answers, and gets an "F" an op. */
    self->dealer_batches = false;
    if (!s_old_channel())
        zstr_send(self->dealer, "H");
    self->dealer_poll = malloc(sizeof *self->dealer_poll);
    if (self->dealer_poll) {
        uv_poll_init(&self->loop, self->dealer_poll, zsock_fd(self->dealer));
        self->dealer_poll->data = self;
        uv_poll_start(self->dealer_poll, UV_READABLE, s_dealer_readable);
    }
    return true;
}

/* Test builds (hold-merge:MS): is c, a merged op, to wait before it goes?
 * Only the Raft loop's thread gets here. */
static bool s_merge_held(const dc_cop_t *c)
{
    uint64_t ms = dc_failpoint_value("hold-merge");
    if (!ms || !c->island_seq)
        return false;
    static uint64_t until;
    uint64_t now = dc_mono_ms();
    if (!until)
        until = now + ms;
    return now < until;
}

/* Sends msg, which carries the ops of going: they move to sent, or back to
 * the queue's head when the dealer is at its high-water mark (a leader that
 * stopped reading). Returns false then. */
static bool s_send_forwarded(cluster_t *self, zmsg_t **msg, dc_cop_list_t *going)
{
    self->dealer_ready = true; /* the send may take a signal for us */
    if (zmsg_send(msg, self->dealer) != 0) {
        zmsg_destroy(msg);
        dc_cops_prepend(&self->queue, going);
        return false;
    }
    DC_STAT_INC(self->ctx, forward_messages);
    atomic_fetch_add_explicit(&self->ctx->stats.forwarded, going->count, memory_order_relaxed);
    dc_cop_t *c;
    while ((c = dc_cops_pop(going)))
        dc_cops_push(&self->sent, c);
    return true;
}

/* Test builds (old-member-channel): this member speaks the member channel as
 * members before "H" and "G" did: it never asks, and leading it ignores both. */
static bool s_old_channel(void)
{
    return dc_failpoint_value("old-member-channel") != 0;
}

void dc_cluster__forward(cluster_t *self)
{
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &leader, &address);
    /* An isolated member knows no leader, whatever libraft still names (as
     * STATS says, dc_members.c): a write sent to one that is gone would come
     * back "may or may not have been applied" when nothing was. Its ops wait
     * here for the island to hear a live leader (dc_island_tick), or for
     * their deadline: "No cluster leader". */
    if (!leader || leader == self->config->member_id || self->island.isolated ||
        !s_dealer_for(self, leader))
        return;
    /* To a leader that takes "G", everything queued goes in one message (as
     * many as fit under the message size its router takes); to another, an
     * "F" an op. */
    bool batches = self->dealer_batches;
    size_t limit = self->config->max_message_size, bytes = 0;
    zmsg_t *msg = NULL;
    dc_cop_list_t going = {0};
    dc_cop_t *c;
    while (self->queue.head && !s_merge_held(self->queue.head) &&
           (c = dc_cops_pop(&self->queue))) {
        dc_island_lease_left(self, c);
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        if (dc_write_op_encode(c->op, &buf) != 0) {
            msgpack_sbuffer_destroy(&buf);
            dc_cluster__fail(self, c, "Out of memory");
            continue;
        }
        if (msg && (bytes + buf.size > limit || going.count >= DC_MAX_BATCH)) {
            /* Full: c goes first in the next message. */
            msgpack_sbuffer_destroy(&buf);
            dc_cop_list_t back = {0};
            dc_cops_push(&back, c);
            dc_cops_prepend(&self->queue, &back);
            if (!s_send_forwarded(self, &msg, &going))
                return;
            bytes = 0;
            continue;
        }
        c->fwd_id = ++self->next_fwd_id;
        c->resend_at = 0;
        c->uncertain = true;
        if (!msg) {
            msg = zmsg_new();
            zmsg_addstr(msg, batches ? "G" : "F");
        }
        zmsg_addmem(msg, &c->fwd_id, sizeof c->fwd_id);
        zmsg_addmem(msg, buf.data, buf.size);
        bytes += buf.size;
        msgpack_sbuffer_destroy(&buf);
        dc_cops_push(&going, c);
        if (!batches && !s_send_forwarded(self, &msg, &going))
            return;
    }
    if (msg)
        s_send_forwarded(self, &msg, &going);
}

/* The leader's answers: ["A", fwd_id, answer, ...] (pairs), ["N", fwd_id,
 * ...] or ["H"]. */
void dc_cluster__from_leader(cluster_t *self)
{
    zmsg_t *msg;
    dc_handoff_hold(self->ctx->answers); /* the front is woken once for them all */
    while (self->dealer && self->dealer_ready) {
        if (!(msg = zmsg_recv(self->dealer))) {
            if (zmq_errno() == EAGAIN)
                self->dealer_ready = false;
            break;
        }
        zframe_t *kind = zmsg_first(msg);
        bool answer = kind && zframe_streq(kind, "A"), no = kind && zframe_streq(kind, "N");
        if (kind && zframe_streq(kind, "H") && !s_old_channel())
            self->dealer_batches = true;
        zframe_t *id;
        while ((answer || no) && (id = zmsg_next(msg))) {
            zframe_t *body = answer ? zmsg_next(msg) : NULL;
            uint64_t fwd_id = 0;
            if (zframe_size(id) == sizeof fwd_id)
                memcpy(&fwd_id, zframe_data(id), sizeof fwd_id);
            dc_cop_t *c = fwd_id ? dc_cops_take(&self->sent, fwd_id) : NULL;
            if (c && body &&
                dc_cop_answer_unpack(zframe_data(body), zframe_size(body), &c->out, &c->index) == 0)
                dc_cluster__answer_when_applied(self, c);
            else if (c)
                dc_cops_push(&self->retry, c); /* "N", or an answer we cannot read: again */
        }
        zmsg_destroy(&msg);
    }
    dc_handoff_release(self->ctx->answers);
}

static void s_dealer_readable(uv_poll_t *handle, int status, int events)
{
    (void)status;
    (void)events;
    cluster_t *self = handle->data;
    self->dealer_ready = true;
    dc_cluster__from_leader(self);
    dc_cluster__pump(self);
}

/*==== The leader's side ====*/

static void s_to_peer(cluster_t *self, zmsg_t **msg)
{
    self->router_ready = true; /* the send may take a signal for us */
    zmsg_send(msg, self->router);
}

void dc_cluster__peer_not_leader(cluster_t *self, dc_cop_t *c)
{
    zmsg_t *no = zmsg_new();
    zmsg_append(no, &c->peer);
    zmsg_addstr(no, "N");
    zmsg_addmem(no, &c->peer_fwd_id, sizeof c->peer_fwd_id);
    s_to_peer(self, &no);
}

void dc_cluster__peer_answer(cluster_t *self, dc_cop_t *c)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    dc_cop_answer_pack(&buf, &c->out, c->index);
    zmsg_t *msg = NULL;
    if (self->outbox_held && c->peer_batches) {
        for (size_t i = 0; i < self->outbox_count && !msg; i++)
            if (zframe_eq(zmsg_first(self->outbox[i]), c->peer))
                msg = self->outbox[i];
        if (!msg && self->outbox_count < DC_OUTBOX_PEERS) {
            msg = self->outbox[self->outbox_count++] = zmsg_new();
            zmsg_append(msg, &c->peer);
            zmsg_addstr(msg, "A");
        }
    }
    if (msg) {
        zmsg_addmem(msg, &c->peer_fwd_id, sizeof c->peer_fwd_id);
        zmsg_addmem(msg, buf.data, buf.size);
    } else {
        zmsg_t *one = zmsg_new();
        zmsg_append(one, &c->peer);
        zmsg_addstr(one, "A");
        zmsg_addmem(one, &c->peer_fwd_id, sizeof c->peer_fwd_id);
        zmsg_addmem(one, buf.data, buf.size);
        s_to_peer(self, &one);
    }
    msgpack_sbuffer_destroy(&buf);
}

void dc_cluster__peer_answers_hold(cluster_t *self)
{
    self->outbox_held = true;
}

void dc_cluster__peer_answers_release(cluster_t *self)
{
    for (size_t i = 0; i < self->outbox_count; i++)
        s_to_peer(self, &self->outbox[i]);
    self->outbox_count = 0;
    self->outbox_held = false;
}

/* One op a follower forwarded as fwd_id, the bytes of body: queued to be
 * decided, or answered at once (not leading, or unreadable). */
static void s_take_forwarded(cluster_t *self, zframe_t *peer, uint64_t fwd_id, zframe_t *body,
                             bool batches)
{
    char err[DC_ERR_LEN];
    dc_write_op_t *op =
        self->leader ? dc_write_op_decode(zframe_data(body), zframe_size(body), err) : NULL;
    dc_cop_t *c = calloc(1, sizeof *c);
    if (!c || !(c->peer = zframe_dup(peer))) {
        free(c);
        dc_write_op_destroy(&op);
        return; /* the follower sends it again when it gets no answer */
    }
    c->peer_fwd_id = fwd_id;
    c->peer_batches = batches;
    c->deadline = dc_mono_ms() + DC_WRITE_DEADLINE_MS;
    if (!self->leader) { /* we lost it since: the follower asks again */
        dc_cluster__peer_not_leader(self, c);
        free(c);
    } else if (!op) {
        dc_warn("a forwarded write was refused: %s", err);
        c->op = calloc(1, sizeof *c->op);
        if (c->op) {
            c->index = self->state->applied_index;
            dc_cluster__fail(self, c, "The leader could not read the forwarded write");
        } else {
            zframe_destroy(&c->peer);
            free(c);
        }
    } else {
        c->op = op;
        dc_cops_push(&self->queue, c);
    }
}

/* Renewals a follower took, the ids of arg: the leases live on here too. */
static void s_take_renewals(cluster_t *self, zframe_t *arg)
{
    size_t n = zframe_size(arg) / sizeof(uint64_t);
    uint64_t now = dc_mono_ms(), wall = dc_wall_ms();
    for (size_t i = 0; i < n; i++) {
        uint64_t lease;
        memcpy(&lease, zframe_data(arg) + i * sizeof lease, sizeof lease);
        dc_leases_heartbeat(self->state->leases, lease, now, wall);
    }
}

/* From followers: ["F", fwd_id, op] (one op), ["G", fwd_id, op, fwd_id, op,
 * ...] (those that got our "H"), ["H"] (do we take "G"?), ["R", ids]. A pair
 * whose id is not 8 bytes, and what follows it, is dropped: the follower
 * sends it again. */
void dc_cluster__from_followers(cluster_t *self)
{
    zmsg_t *msg;
    while (self->router_ready) {
        if (!(msg = zmsg_recv(self->router))) {
            if (zmq_errno() == EAGAIN)
                self->router_ready = false;
            break;
        }
        zframe_t *peer = zmsg_pop(msg);
        zframe_t *kind = zmsg_first(msg), *arg = zmsg_next(msg);
        bool one = kind && zframe_streq(kind, "F");
        bool batch = kind && zframe_streq(kind, "G") && !s_old_channel();
        if (kind && zframe_streq(kind, "R") && arg && self->leader)
            s_take_renewals(self, arg);
        else if (kind && zframe_streq(kind, "H") && peer && !s_old_channel()) {
            zmsg_t *yes = zmsg_new();
            zmsg_append(yes, &peer);
            zmsg_addstr(yes, "H");
            s_to_peer(self, &yes);
        }
        for (zframe_t *id = arg; (one || batch) && peer && id && zframe_size(id) == sizeof(uint64_t);
             id = zmsg_next(msg)) {
            zframe_t *body = zmsg_next(msg);
            if (!body)
                break;
            uint64_t fwd_id;
            memcpy(&fwd_id, zframe_data(id), sizeof fwd_id);
            s_take_forwarded(self, peer, fwd_id, body, batch);
            if (one)
                break;
        }
        zframe_destroy(&peer);
        zmsg_destroy(&msg);
    }
}

/* Follower: the renewals taken here go to the leader. */
void dc_cluster__forward_renewals(cluster_t *self)
{
    uint64_t *ids = NULL;
    size_t n = dc_leases_take_forward(self->state->leases, &ids);
    if (n && self->dealer) {
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, "R");
        zmsg_addmem(msg, ids, n * sizeof *ids);
        self->dealer_ready = true;
        zmsg_send(&msg, self->dealer);
    }
    free(ids);
}

/* Tells the ZAP handler the addresses of every member host: without CURVE
 * (--insecure-tcp) the router takes connections from member hosts only. With
 * CURVE the member's key is what lets it in (dc_zap.h). */
void dc_cluster__allow_members(cluster_t *self)
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
int dc_cluster__bind_router(cluster_t *self)
{
    char host[208];
    dc_address_host(dc_config_self(self->config)->address, host, sizeof host);
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router)
        return -1;
    zsock_set_linger(self->router, 0);
    zsock_set_rcvtimeo(self->router, 0); /* receives never block: the loop drains it */
    zsock_set_maxmsgsize(self->router, (int)self->config->max_message_size + 4096);
    dc_listen_prepare(self->router);
    dc_cluster__allow_members(self);
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
