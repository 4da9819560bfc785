/* dc_front.c: the front thread: routing between clients, workers and the
 * writer (see the .h). */
#include "dc_front.h"
#include "dc_clock.h"
#include "dc_cluster.h"
#include "dc_context.h"
#include "dc_datagram.h"
#include "dc_envelope.h"
#include "dc_handoff.h"
#include "dc_ipc.h"
#include "dc_keys.h"
#include "dc_listen.h"
#include "dc_log.h"
#include "dc_notify.h"
#include "dc_prober.h"
#include "dc_protocol.h"
#include "dc_quick_reply.h"
#include "dc_reply_send.h"
#include "dc_worker.h"
#include "dc_write_op.h"
#include "dc_writer.h"
#include "dc_zap.h"
#include "dc_thread.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <poll.h>
#include <netinet/in.h>
#include <string.h>

/* Requests queued in the front while every worker is busy; past this the
 * front stops reading clients and lets ZeroMQ's queues push back. */
#define DC_MAX_PENDING 4096
/* Write ops waiting for the writer at most (the inproc PUSH and PULL held
 * about 2,000 between their high-water marks). */
#define DC_WRITES_QUEUED 2048
/* How long a stop waits for in-flight requests. */
#define DC_DRAIN_MS 5000

typedef struct {
    dc_front_args_t args; /* the context, and the store and state for the writer */
    zsock_t *routers[DC_MAX_ENDPOINTS];
    int router_count;
    zsock_t *backend; /* ROUTER to the workers */
    /* The writer's queues (ctx->writes, ctx->answers: dc_handoff.h) are made
     * in s_front_setup and freed in s_front_teardown, around every thread
     * that pushes to them. Topic and subscription writes go straight there. */
    zactor_t *workers[DC_MAX_WORKERS];
    int worker_count;
    zactor_t *writer;
    zactor_t *prober;
    dc_datagram_t *datagram;
    dc_writer_args_t writer_args;
    zframe_t *idle[DC_MAX_WORKERS]; /* identities of idle workers (a stack) */
    int idle_count;
    zlist_t *pending; /* requests waiting for a worker */
    msgpack_sbuffer reply_buffer; /* reused for inline replies */
    msgpack_sbuffer scratch;      /* reused for the parts of them (a LOOKUP's publishers) */
    uint64_t in_flight; /* requests read from clients and not yet answered */
    char here[16][48];  /* this computer's own addresses (tcp clients from them are "here") */
    int here_count;
    /* Which sockets may hold a message (S_PIPE, S_BACKEND, S_REPLIES: the
     * answers queue, then S_ROUTERS + each endpoint): set when its
     * descriptor polls readable and after a send on it (a send can take the
     * signal of a message arrived meanwhile), cleared when a receive (or the
     * queue's pop) finds none. The loop blocks in poll() only when none is
     * set: a zmq_poll asked every socket twice, a system call each, on every
     * wake-up. */
    bool ready[3 + DC_MAX_ENDPOINTS];
} front_t;

enum { S_PIPE = 0, S_BACKEND = 1, S_REPLIES = 2, S_ROUTERS = 3 };

/* Reads this computer's addresses (an isolated member still takes writes
 * from them: dc_island.h). */
static void s_read_addresses(front_t *self)
{
    struct ifaddrs *list = NULL;
    self->here_count = 0;
    if (getifaddrs(&list) != 0)
        return;
    for (struct ifaddrs *a = list; a && self->here_count < 16; a = a->ifa_next) {
        if (!a->ifa_addr)
            continue;
        int family = a->ifa_addr->sa_family;
        const void *raw = family == AF_INET ? (const void *)&((struct sockaddr_in *)a->ifa_addr)->sin_addr
                          : family == AF_INET6
                              ? (const void *)&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr
                              : NULL;
        if (raw && inet_ntop(family, raw, self->here[self->here_count], 48))
            self->here_count++;
    }
    freeifaddrs(list);
}

/* Did a tcp request come from one of this computer's own addresses? */
static bool s_from_here(const front_t *self, zmq_msg_t *body)
{
    const char *peer = zmq_msg_gets(body, "Peer-Address");
    if (!peer)
        return false;
    for (int i = 0; i < self->here_count; i++)
        if (!strcmp(peer, self->here[i]))
            return true;
    return false;
}

static void s_dispatch(front_t *self, zmsg_t *msg)
{
    if (self->idle_count == 0) {
        zlist_append(self->pending, msg);
        return;
    }
    zframe_t *worker = self->idle[--self->idle_count];
    zmsg_prepend(msg, &worker);
    self->ready[S_BACKEND] = true; /* the send may take a signal for us */
    zmsg_send(&msg, self->backend);
}

static void s_worker_idle(front_t *self, zframe_t *identity)
{
    if (self->idle_count < DC_MAX_WORKERS)
        self->idle[self->idle_count++] = identity;
    else
        zframe_destroy(&identity);
    zmsg_t *next = zlist_pop(self->pending);
    if (next)
        s_dispatch(self, next);
}

/* msg: [endpoint index and principal][envelope...][""][reply]. */
static void s_send_to_client(front_t *self, zmsg_t *msg)
{
    zframe_t *index = zmsg_pop(msg);
    int i = index && zframe_size(index) >= 1 ? *zframe_data(index) : -1;
    zframe_destroy(&index);
    if (i >= 0 && i < self->router_count) {
        self->ready[S_ROUTERS + i] = true; /* the send may take a signal for us */
        zmsg_send(&msg, self->routers[i]);
    }
    zmsg_destroy(&msg);
    if (self->in_flight > 0)
        self->in_flight--;
}

/* Takes one worker message, or clears the backend's ready flag when none
 * is waiting. Returns true when the worker asked the server to stop
 * (SHUTDOWN). */
static bool s_from_worker(front_t *self)
{
    zmsg_t *msg = zmsg_recv(self->backend); /* never blocks: rcvtimeo 0 */
    if (!msg) {
        self->ready[S_BACKEND] = false;
        return false;
    }
    zframe_t *identity = zmsg_pop(msg);
    zframe_t *kind = zmsg_pop(msg);
    char k = kind && zframe_size(kind) >= 1 ? (char)*zframe_data(kind) : 0;
    zframe_destroy(&kind);
    if (k == 'A' || k == 'S')
        s_send_to_client(self, msg);
    else
        zmsg_destroy(&msg);
    s_worker_idle(self, identity);
    return k == 'S';
}

/* The answers the writer handed over (dc_reply_route_hand): all that wait,
 * one wake-up for a batch's answers. */
static void s_from_writer(front_t *self)
{
    zmsg_t *msg;
    while ((msg = dc_handoff_pop(self->args.ctx->answers)))
        s_send_to_client(self, msg);
    self->ready[S_REPLIES] = false;
}

#define DC_MAX_FRAMES 16

/* [endpoint index and principal][frames[0..count-1] copied]: a route for the
 * writer, or a whole request for a worker. The frames stay open. */
static zmsg_t *s_routed(int index, const dc_principal_t *who, zmq_msg_t *frames, int count)
{
    zmsg_t *msg = zmsg_new();
    uint8_t first[2 + DC_KEY_LEN];
    zmsg_addmem(msg, first, dc_principal_frame(index, who, first));
    for (int i = 0; i < count; i++)
        zmsg_addmem(msg, zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i]));
    return msg;
}

/* Hands a decoded REGISTER, UNREGISTER, SUBSCRIBE, UNSUBSCRIBE or WAIT straight
 * to the writer (no worker
 * hop: one thread wake-up and one decode fewer per write). Returns false,
 * leaving the frames alone, when a worker should take it instead: a request
 * the op builder refuses (the worker answers the ERROR) or a writer queue
 * that is full (a worker waits for it; the front never does). */
static bool s_to_writer(front_t *self, int index, const dc_principal_t *who, zmq_msg_t *frames,
                        int count, const dc_request_t *req)
{
    const char *problem = NULL;
    dc_write_op_t *op = req->command == DC_CMD_WAIT_TOPIC ? dc_write_op_wait(req, &problem)
                        : req->command == DC_CMD_SUBSCRIBE || req->command == DC_CMD_UNSUBSCRIBE
                            ? dc_write_op_subscription(req, &problem)
                            : dc_write_op_topic(req, &problem);
    if (!op)
        return false; /* a worker answers the problem */
    dc_write_op_take_request_keys(op, req);
    op->principal = *who;
    op->route = s_routed(index, who, frames, count - 1); /* all but the body */
    if (dc_handoff_push(self->args.ctx->writes, op) != 0) {
        dc_debug("writer queue full: a worker takes this write");
        dc_write_op_destroy(&op);
        return false;
    }
    DC_STAT_INC(self->args.ctx, requests);
    self->in_flight++;
    for (int i = 0; i < count; i++)
        zmq_msg_close(&frames[i]);
    return true;
}

/* Sends reply_buffer on router along the envelope frames[0..count-2] (which
 * the sends consume) and closes the body, frames[count-1]. */
static void s_send_inline(front_t *self, zsock_t *router, zmq_msg_t *frames, int count)
{
    DC_STAT_INC(self->args.ctx, requests);
    for (int i = 0; i < count - 1; i++)
        zmq_msg_send(&frames[i], zsock_resolve(router), ZMQ_SNDMORE);
    zmq_send(zsock_resolve(router), self->reply_buffer.data, self->reply_buffer.size, 0);
    zmq_msg_close(&frames[count - 1]);
}

/* Answers ERROR with message on router, along the envelope frames[0..count-2],
 * and closes the frames. */
static void s_refuse(front_t *self, zsock_t *router, zmq_msg_t *frames, int count, int version,
                     const char *message)
{
    dc_context_t *ctx = self->args.ctx;
    dc_reply_t r;
    memset(&r, 0, sizeof r);
    r.status = DC_STATUS_ERROR;
    r.message = message;
    r.version = version;
    dc_context_stamp(ctx, &r);
    msgpack_sbuffer_clear(&self->reply_buffer);
    DC_STAT_INC(ctx, errors);
    if (dc_reply_encode(&r, &self->reply_buffer) == 0)
        s_send_inline(self, router, frames, count);
    else {
        DC_STAT_INC(ctx, requests);
        for (int i = 0; i < count; i++)
            zmq_msg_close(&frames[i]);
    }
}

/* Who sent body on endpoint index: local (ipc, insecure tcp), or a CURVE key
 * with its role now (NONE: a key taken off the directory since it connected). */
static void s_principal(front_t *self, int index, zmq_msg_t *body, dc_principal_t *who)
{
    dc_context_t *ctx = self->args.ctx;
    memset(who, 0, sizeof *who);
    who->access = DC_ACCESS_LOCAL;
    who->here = !ctx->endpoint_is_tcp[index] || s_from_here(self, body);
    if (!ctx->endpoint_is_curve[index])
        return;
    const char *key = zmq_msg_gets(body, "User-Id");
    snprintf(who->key, sizeof who->key, "%s", key ? key : "");
    who->access = dc_keys_role(ctx->keys, who->key);
}

/* Reads one client message. PING, LOOKUP, HEARTBEAT and a WAIT for a topic
 * that is there (the hot path: a hash lookup each) are answered here, with no
 * allocation but the reply's; REGISTER, UNREGISTER, SUBSCRIBE, UNSUBSCRIBE and
 * a WAIT to hold go straight to the writer;
 * everything else goes to a worker, so a LIST of 100,000 topics never delays
 * a lookup. */
static bool s_from_client(front_t *self, int index)
{
    dc_context_t *ctx = self->args.ctx;
    zsock_t *router = self->routers[index];
    zmq_msg_t frames[DC_MAX_FRAMES];
    int count = 0;
    bool more = true, overflow = false;
    while (more) {
        zmq_msg_t *f = &frames[count < DC_MAX_FRAMES ? count : DC_MAX_FRAMES - 1];
        if (count >= DC_MAX_FRAMES) {
            zmq_msg_close(f); /* keep reading, to drain the message */
            overflow = true;
        }
        zmq_msg_init(f);
        if (zmq_msg_recv(f, zsock_resolve(router), ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(f);
            if (count == 0)
                return false; /* nothing waiting */
            break;
        }
        more = zmq_msg_more(f);
        if (count < DC_MAX_FRAMES)
            count++;
    }
    size_t sizes[DC_MAX_FRAMES];
    for (int i = 0; i < count; i++)
        sizes[i] = zmq_msg_size(&frames[i]);
    int delimiter;
    dc_envelope_t shape = dc_envelope_check(sizes, count, 0, &delimiter);
    if (overflow || shape == DC_ENVELOPE_INVALID) {
        DC_STAT_INC(ctx, dropped);
        dc_debug("dropped a message without a valid envelope");
        for (int i = 0; i < count; i++)
            zmq_msg_close(&frames[i]);
        return true;
    }
    dc_principal_t who;
    s_principal(self, index, &frames[count - 1], &who);
    if (shape == DC_ENVELOPE_OK) {
        zmq_msg_t *body = &frames[count - 1];
        dc_request_t req;
        char err[DC_ERR_LEN];
        bool answered = false;
        if (dc_request_decode(&req, zmq_msg_data(body), zmq_msg_size(body), err) == 0) {
            if (!dc_access_allows(who.access, req.command)) {
                char message[160];
                if (who.access == DC_ACCESS_NONE)
                    snprintf(message, sizeof message,
                             "Refused: key %s is no longer in the client keys", who.key);
                else
                    snprintf(message, sizeof message,
                             "Refused: key %s has role %s, too little for %s", who.key,
                             dc_access_name(who.access), dc_command_name(req.command));
                dc_warn("%s (on %s)", message, ctx->config->endpoints[index]);
                DC_STAT_INC(ctx, refused);
                dc_stat_reply(&ctx->stats, req.command, DC_STATUS_ERROR);
                s_refuse(self, router, frames, count, req.version, message);
                dc_request_release(&req);
                return true;
            }
            if (req.command == DC_CMD_PING || req.command == DC_CMD_LOOKUP_TOPIC ||
                req.command == DC_CMD_HEARTBEAT || req.command == DC_CMD_WAIT_TOPIC) {
                msgpack_sbuffer_clear(&self->reply_buffer);
                int rc = dc_quick_reply(ctx, &req, &self->reply_buffer, &self->scratch);
                if (rc == 0) {
                    s_send_inline(self, router, frames, count);
                    answered = true;
                } else if (rc == 1) { /* a WAIT for a topic not there: the writer holds it */
                    answered = s_to_writer(self, index, &who, frames, count, &req);
                    if (answered) /* else a worker takes it, and counts it */
                        DC_STAT_INC(ctx, waits);
                }
            } else if (req.command == DC_CMD_REGISTER_TOPIC ||
                       req.command == DC_CMD_UNREGISTER_TOPIC || req.command == DC_CMD_SUBSCRIBE ||
                       req.command == DC_CMD_UNSUBSCRIBE) {
                answered = s_to_writer(self, index, &who, frames, count, &req);
            }
            dc_request_release(&req);
        }
        if (answered)
            return true;
    }
    /* To a worker: [endpoint index][envelope...][""][body...]. */
    zmsg_t *msg = s_routed(index, &who, frames, count);
    for (int i = 0; i < count; i++)
        zmq_msg_close(&frames[i]);
    self->in_flight++;
    s_dispatch(self, msg);
    return true;
}

static int s_front_setup(front_t *self)
{
    dc_context_t *ctx = self->args.ctx;
    s_read_addresses(self);
    const dc_config_t *config = ctx->config;
    for (int i = 0; i < config->endpoint_count; i++) {
        const char *ep = config->endpoints[i];
        const char *path = dc_ipc_path(ep);
        if (path && dc_ipc_prepare(path) != 0) {
            char origin[256];
            dc_error("cannot use %s (set by %s)", ep,
                     dc_config_origin(config, "address", origin, sizeof origin));
            return -1;
        }
        zsock_t *router = zsock_new(ZMQ_ROUTER);
        if (!router)
            return -1;
        zsock_set_maxmsgsize(router, (int)config->max_message_size);
        zsock_set_linger(router, 0);
        dc_listen_prepare(router);
        zsock_set_rcvhwm(router, 10000);
        zsock_set_sndhwm(router, 10000);
        ctx->endpoint_is_tcp[i] = strncmp(ep, "tcp://", 6) == 0;
        ctx->endpoint_is_curve[i] = ctx->endpoint_is_tcp[i] && dc_zap_curve(ctx->zap);
        if (ctx->endpoint_is_curve[i]) {
            dc_zap_serve(ctx->zap, router, DC_ZAP_CLIENTS);
            dc_zap_watch(ctx->zap, router, ep);
        }
        self->routers[self->router_count++] = router;
        if (zsock_bind(router, "%s", ep) < 0) {
            char origin[256];
            dc_error("cannot bind %s (set by %s): %s", ep,
                     dc_config_origin(config, "address", origin, sizeof origin),
                     zmq_strerror(zmq_errno()));
            return -1;
        }
        if (path && dc_ipc_secure(path, config->ipc_mode, config->ipc_group,
                                  config->ipc_group_explicit) != 0)
            return -1;
    }
    self->backend = zsock_new(ZMQ_ROUTER);
    if (self->backend)
        zsock_set_rcvtimeo(self->backend, 0); /* the loop drains it */
    /* Up to DC_WRITES_QUEUED ops wait for the writer; past that the front
     * hands writes to a worker, which waits for room. */
    ctx->writes = dc_handoff_new(DC_WRITES_QUEUED);
    ctx->answers = dc_handoff_new(0);
    if (!self->backend || !ctx->writes || !ctx->answers ||
        zsock_bind(self->backend, "%s", ctx->backend_endpoint)) {
        dc_error("cannot set up the inproc sockets and the writer's queues");
        return -1;
    }
    self->writer_args.ctx = ctx;
    self->writer_args.store = self->args.store;
    self->writer_args.state = self->args.state;
    /* A cluster member's writer runs Raft; standalone, the plain writer. */
    self->writer = zactor_new(ctx->config->member_id ? dc_cluster_actor : dc_writer_actor,
                              &self->writer_args);
    char *status = self->writer ? zstr_recv(self->writer) : NULL;
    bool ready = status && streq(status, "READY");
    zstr_free(&status);
    if (!ready)
        return -1;
    for (int i = 0; i < ctx->workers; i++) {
        self->workers[i] = zactor_new(dc_worker_actor, ctx);
        if (!self->workers[i])
            return -1;
        self->worker_count++;
    }
    const char *ipc_paths[DC_MAX_ENDPOINTS];
    int ipc_count = 0;
    for (int i = 0; i < config->endpoint_count; i++)
        if (dc_ipc_path(config->endpoints[i]))
            ipc_paths[ipc_count++] = dc_ipc_path(config->endpoints[i]);
    if (config->datagram && ipc_count > 0 &&
        !(self->datagram = dc_datagram_new(ctx, ipc_paths, ipc_count)))
        return -1;
    if (config->probe || config->legacy_ttl_ms) {
        self->prober = zactor_new(dc_prober_actor, ctx);
        if (!self->prober)
            return -1;
    }
    return 0;
}

static void s_free_op(void *op)
{
    dc_write_op_t *o = op;
    dc_write_op_destroy(&o);
}

static void s_free_answer(void *msg)
{
    zmsg_t *m = msg;
    zmsg_destroy(&m);
}

static void s_front_teardown(front_t *self)
{
    zactor_destroy(&self->prober);
    dc_datagram_destroy(&self->datagram);
    for (int i = 0; i < self->worker_count; i++)
        zactor_destroy(&self->workers[i]);
    /* The writer finishes what is queued; its answers go nowhere now. */
    zactor_destroy(&self->writer);
    /* Ops and answers handed over and not taken: pointers, freed here. */
    dc_context_t *ctx = self->args.ctx;
    dc_handoff_destroy(&ctx->writes, s_free_op);
    dc_handoff_destroy(&ctx->answers, s_free_answer);
    for (int i = 0; i < self->idle_count; i++)
        zframe_destroy(&self->idle[i]);
    zmsg_t *msg;
    while (self->pending && (msg = zlist_pop(self->pending)))
        zmsg_destroy(&msg);
    zlist_destroy(&self->pending);
    msgpack_sbuffer_destroy(&self->reply_buffer);
    msgpack_sbuffer_destroy(&self->scratch);
    zsock_destroy(&self->backend);
    const dc_config_t *config = self->args.ctx->config;
    for (int i = 0; i < self->router_count; i++) {
        /* Let the last replies (SHUTDOWN's "OK") reach their clients. */
        zsock_set_linger(self->routers[i], 500);
        zsock_destroy(&self->routers[i]);
        const char *path = dc_ipc_path(config->endpoints[i]);
        if (path && unlink(path) == 0)
            dc_debug("unlinked %s", path);
    }
}

/* A stop begins (once): in-flight requests get until *deadline, and held
 * WAITs end now. */
static void s_begin_stopping(front_t *self, bool *stopping, uint64_t *deadline)
{
    if (*stopping)
        return;
    *stopping = true;
    *deadline = dc_mono_ms() + DC_DRAIN_MS;
    zstr_send(self->writer, "FLUSH");
}

void dc_front_actor(zsock_t *pipe, void *arg)
{
    dc_thread_name("dc-front");
    front_t self_storage, *self = &self_storage;
    memset(self, 0, sizeof *self);
    self->args = *(const dc_front_args_t *)arg;
    self->pending = zlist_new();
    msgpack_sbuffer_init(&self->reply_buffer);
    msgpack_sbuffer_init(&self->scratch);
    zsock_signal(pipe, 0);
    if (s_front_setup(self) != 0) {
        s_front_teardown(self);
        zstr_send(pipe, "FAILED");
        /* Wait for $TERM so zactor_destroy finds us. */
        char *term = zstr_recv(pipe);
        zstr_free(&term);
        return;
    }
    zstr_send(pipe, "READY");

    struct pollfd fds[S_ROUTERS + DC_MAX_ENDPOINTS];
    fds[S_PIPE] = (struct pollfd){zsock_fd(pipe), POLLIN, 0};
    fds[S_BACKEND] = (struct pollfd){zsock_fd(self->backend), POLLIN, 0};
    fds[S_REPLIES] = (struct pollfd){dc_handoff_fd(self->args.ctx->answers), POLLIN, 0};
    for (int i = 0; i < self->router_count; i++)
        fds[S_ROUTERS + i] = (struct pollfd){zsock_fd(self->routers[i]), POLLIN, 0};
    for (int i = 0; i < S_ROUTERS + self->router_count; i++)
        self->ready[i] = true;

    bool stopping = false, terminated = false, stop_requested = false;
    uint64_t deadline = 0;
    dc_context_t *ctx = self->args.ctx;
    uint64_t watchdog_period = ctx->watchdog_ms / 3;
    /* The first WATCHDOG=1 follows READY=1, which main sends on our "READY". */
    uint64_t next_watchdog = dc_mono_ms() + watchdog_period;
    while (true) {
        bool accept = !stopping && zlist_size(self->pending) < DC_MAX_PENDING;
        int count = S_ROUTERS + (accept ? self->router_count : 0);
        long timeout = stopping ? 100 : -1;
        if (watchdog_period) {
            /* WATCHDOG=1 only while this loop turns and the writer's does too:
             * a wedged daemon gets restarted by systemd. */
            uint64_t now = dc_mono_ms();
            if (now >= next_watchdog) {
                uint64_t writer_age = now - atomic_load(&ctx->writer_beat_ms);
                if (writer_age < ctx->watchdog_ms / 2)
                    dc_notify("WATCHDOG=1");
                else
                    dc_warn("writer thread silent for %llu ms: withholding the watchdog",
                            (unsigned long long)writer_age);
                next_watchdog = now + watchdog_period;
            }
            timeout = (long)(next_watchdog - now);
            if (stopping && timeout > 100)
                timeout = 100;
        }
        bool any_ready = false;
        for (int i = 0; i < count; i++)
            any_ready = any_ready || self->ready[i];
        if (!any_ready) {
            int rc = poll(fds, (nfds_t)count, (int)timeout);
            if (rc < 0 && errno != EINTR)
                break;
            for (int i = 0; rc > 0 && i < count; i++)
                if (fds[i].revents)
                    self->ready[i] = true;
        }
        if (self->ready[S_PIPE]) {
            self->ready[S_PIPE] = false; /* drained to the end below */
            while (zsock_events(pipe) & ZMQ_POLLIN) {
                char *command = zstr_recv(pipe);
                if (!command || streq(command, "$TERM"))
                    terminated = true;
                zstr_free(&command);
                if (terminated) {
                    s_begin_stopping(self, &stopping, &deadline);
                    break;
                }
            }
        }
        while (self->ready[S_BACKEND])
            if (s_from_worker(self)) {
                stop_requested = true;
                s_begin_stopping(self, &stopping, &deadline);
            }
        if (self->ready[S_REPLIES])
            s_from_writer(self);
        /* Take what is queued on a socket (a bounded burst: one endpoint
         * does not starve the others, nor the answers). The burst's writes
         * wake a sleeping writer once, at its end, as one batch. */
        dc_handoff_hold(ctx->writes);
        for (int i = 0; accept && i < self->router_count; i++) {
            if (!self->ready[S_ROUTERS + i])
                continue;
            for (int burst = 0; burst < 32 && zlist_size(self->pending) < DC_MAX_PENDING; burst++)
                if (!s_from_client(self, i)) {
                    self->ready[S_ROUTERS + i] = false; /* none waiting */
                    break;
                }
        }
        dc_handoff_release(ctx->writes);
        if (stopping && (self->in_flight == 0 || dc_mono_ms() >= deadline)) {
            if (self->in_flight)
                dc_warn("stopping with %llu request(s) unanswered",
                        (unsigned long long)self->in_flight);
            break;
        }
    }
    if (stop_requested && !terminated) {
        /* Tell main we stopped, then wait for it to destroy us. */
        zstr_send(pipe, "STOPPED");
        char *term = zstr_recv(pipe);
        zstr_free(&term);
    }
    s_front_teardown(self);
}

