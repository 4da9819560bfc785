/* dc_server.c: lifecycle and the front thread (see the .h). */
#include "dc_server.h"
#include "dc_context.h"
#include "dc_log.h"
#include "dc_protocol.h"
#include "dc_store.h"
#include "dc_worker.h"
#include "dc_writer.h"
#include "discod_version.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DC_MAX_WORKERS 64
/* Requests queued in the front while every worker is busy; past this the
 * front stops reading clients and lets ZeroMQ's queues push back. */
#define DC_MAX_PENDING 4096
/* How long a stop waits for in-flight requests. */
#define DC_DRAIN_MS 5000

struct dc_server {
    dc_context_t ctx;
    dc_store_t *store;
    zactor_t *front;
    bool stopped;
};

static uint64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*==== ipc socket files ====*/

static const char *s_ipc_path(const char *endpoint)
{
    return strncmp(endpoint, "ipc://", 6) == 0 ? endpoint + 6 : NULL;
}

/* Creates the socket's directory and removes a stale socket file. Refuses
 * (returns -1) when a live daemon still answers on it. */
static int s_prepare_ipc(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    if (strlen(path) >= sizeof dir - 1) {
        dc_error("ipc path %s is longer than a unix socket path can be", path);
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                dc_error("cannot create %s: %s", dir, strerror(errno));
                return -1;
            }
            *p = '/';
        }
    }
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISSOCK(st.st_mode)) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
        bool live = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
        if (fd >= 0)
            close(fd);
        if (live) {
            dc_error("another daemon is serving %s: not taking it over", path);
            return -1;
        }
    }
    if (unlink(path) != 0) {
        dc_error("cannot remove stale socket file %s: %s", path, strerror(errno));
        return -1;
    }
    dc_info("removed stale socket file %s", path);
    return 0;
}

/*==== The front thread ====*/

typedef struct {
    dc_server_t *server;
    zsock_t *routers[DC_MAX_ENDPOINTS];
    int router_count;
    zsock_t *backend; /* ROUTER to the workers */
    zsock_t *replies; /* PULL from the writer */
    zactor_t *workers[DC_MAX_WORKERS];
    int worker_count;
    zactor_t *writer;
    dc_writer_args_t writer_args;
    zframe_t *idle[DC_MAX_WORKERS]; /* identities of idle workers (a stack) */
    int idle_count;
    zlist_t *pending; /* requests waiting for a worker */
    uint64_t in_flight; /* requests read from clients and not yet answered */
} front_t;

static void s_dispatch(front_t *self, zmsg_t *msg)
{
    if (self->idle_count == 0) {
        zlist_append(self->pending, msg);
        return;
    }
    zframe_t *worker = self->idle[--self->idle_count];
    zmsg_prepend(msg, &worker);
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

/* msg: [endpoint index][envelope...][""][reply]. */
static void s_send_to_client(front_t *self, zmsg_t *msg)
{
    zframe_t *index = zmsg_pop(msg);
    int i = index && zframe_size(index) == 1 ? *zframe_data(index) : -1;
    zframe_destroy(&index);
    if (i >= 0 && i < self->router_count)
        zmsg_send(&msg, self->routers[i]);
    zmsg_destroy(&msg);
    if (self->in_flight > 0)
        self->in_flight--;
}

/* Returns true when the worker asked the server to stop (SHUTDOWN). */
static bool s_from_worker(front_t *self)
{
    zmsg_t *msg = zmsg_recv(self->backend);
    if (!msg)
        return false;
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

static void s_from_writer(front_t *self)
{
    zmsg_t *msg = zmsg_recv(self->replies);
    if (!msg)
        return;
    zframe_t *kind = zmsg_pop(msg);
    zframe_destroy(&kind);
    s_send_to_client(self, msg);
}

static void s_from_client(front_t *self, int index)
{
    zmsg_t *msg = zmsg_recv(self->routers[index]);
    if (!msg)
        return;
    /* A REQ (or well-behaved DEALER) peer sends [identity][""][body]. */
    bool has_delimiter = false;
    zframe_t *f = zmsg_first(msg);
    for (f = zmsg_next(msg); f; f = zmsg_next(msg))
        if (zframe_size(f) == 0) {
            has_delimiter = zmsg_next(msg) != NULL;
            break;
        }
    if (!has_delimiter) {
        DC_STAT_INC(&self->server->ctx, dropped);
        dc_debug("dropped a message without an envelope delimiter");
        zmsg_destroy(&msg);
        return;
    }
    unsigned char i = (unsigned char)index;
    zmsg_pushmem(msg, &i, 1);
    self->in_flight++;
    s_dispatch(self, msg);
}

static int s_front_setup(front_t *self)
{
    dc_context_t *ctx = &self->server->ctx;
    const dc_config_t *config = ctx->config;
    for (int i = 0; i < config->endpoint_count; i++) {
        const char *ep = config->endpoints[i];
        const char *path = s_ipc_path(ep);
        if (path && s_prepare_ipc(path) != 0)
            return -1;
        zsock_t *router = zsock_new(ZMQ_ROUTER);
        if (!router)
            return -1;
        zsock_set_maxmsgsize(router, (int)config->max_message_size);
        zsock_set_linger(router, 0);
        zsock_set_rcvhwm(router, 10000);
        zsock_set_sndhwm(router, 10000);
        self->routers[self->router_count++] = router;
        if (zsock_bind(router, "%s", ep) < 0) {
            dc_error("cannot bind %s: %s", ep, zmq_strerror(zmq_errno()));
            return -1;
        }
        ctx->endpoint_is_tcp[i] = strncmp(ep, "tcp://", 6) == 0;
    }
    self->backend = zsock_new(ZMQ_ROUTER);
    self->replies = zsock_new(ZMQ_PULL);
    if (!self->backend || !self->replies || zsock_bind(self->backend, "%s", ctx->backend_endpoint) ||
        zsock_bind(self->replies, "%s", ctx->replies_endpoint)) {
        dc_error("cannot bind the inproc sockets");
        return -1;
    }
    self->writer_args.ctx = ctx;
    self->writer_args.store = self->server->store;
    self->writer = zactor_new(dc_writer_actor, &self->writer_args);
    if (!self->writer)
        return -1;
    for (int i = 0; i < ctx->workers; i++) {
        self->workers[i] = zactor_new(dc_worker_actor, ctx);
        if (!self->workers[i])
            return -1;
        self->worker_count++;
    }
    return 0;
}

static void s_front_teardown(front_t *self)
{
    for (int i = 0; i < self->worker_count; i++)
        zactor_destroy(&self->workers[i]);
    /* The writer finishes what is queued; its replies go nowhere now. */
    zactor_destroy(&self->writer);
    for (int i = 0; i < self->idle_count; i++)
        zframe_destroy(&self->idle[i]);
    zmsg_t *msg;
    while (self->pending && (msg = zlist_pop(self->pending)))
        zmsg_destroy(&msg);
    zlist_destroy(&self->pending);
    zsock_destroy(&self->backend);
    zsock_destroy(&self->replies);
    const dc_config_t *config = self->server->ctx.config;
    for (int i = 0; i < self->router_count; i++) {
        /* Let the last replies (SHUTDOWN's "OK") reach their clients. */
        zsock_set_linger(self->routers[i], 500);
        zsock_destroy(&self->routers[i]);
        const char *path = s_ipc_path(config->endpoints[i]);
        if (path && unlink(path) == 0)
            dc_debug("unlinked %s", path);
    }
}

static void s_front_actor(zsock_t *pipe, void *arg)
{
    front_t self_storage, *self = &self_storage;
    memset(self, 0, sizeof *self);
    self->server = arg;
    self->pending = zlist_new();
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

    enum { PIPE = 0, BACKEND = 1, REPLIES = 2, ROUTERS = 3 };
    zmq_pollitem_t items[ROUTERS + DC_MAX_ENDPOINTS];
    items[PIPE] = (zmq_pollitem_t){zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
    items[BACKEND] = (zmq_pollitem_t){zsock_resolve(self->backend), 0, ZMQ_POLLIN, 0};
    items[REPLIES] = (zmq_pollitem_t){zsock_resolve(self->replies), 0, ZMQ_POLLIN, 0};
    for (int i = 0; i < self->router_count; i++)
        items[ROUTERS + i] = (zmq_pollitem_t){zsock_resolve(self->routers[i]), 0, ZMQ_POLLIN, 0};

    bool stopping = false, terminated = false, stop_requested = false;
    uint64_t deadline = 0;
    while (true) {
        bool accept = !stopping && zlist_size(self->pending) < DC_MAX_PENDING;
        int count = ROUTERS + (accept ? self->router_count : 0);
        int rc = zmq_poll(items, count, stopping ? 100 : -1);
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        if (rc > 0 && (items[PIPE].revents & ZMQ_POLLIN)) {
            char *command = zstr_recv(pipe);
            if (!command || streq(command, "$TERM"))
                terminated = true;
            zstr_free(&command);
            if (terminated && !stopping) {
                stopping = true;
                deadline = s_mono_ms() + DC_DRAIN_MS;
            }
        }
        if (rc > 0 && (items[BACKEND].revents & ZMQ_POLLIN) && s_from_worker(self)) {
            stop_requested = true;
            if (!stopping) {
                stopping = true;
                deadline = s_mono_ms() + DC_DRAIN_MS;
            }
        }
        if (rc > 0 && (items[REPLIES].revents & ZMQ_POLLIN))
            s_from_writer(self);
        for (int i = 0; rc > 0 && i < count - ROUTERS; i++)
            if (items[ROUTERS + i].revents & ZMQ_POLLIN)
                s_from_client(self, i);
        if (stopping && (self->in_flight == 0 || s_mono_ms() >= deadline)) {
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

/*==== Lifecycle ====*/

static int s_load_one(void *arg, const dc_stored_topic_t *t)
{
    dc_registry_t *registry = arg;
    dc_entry_t *e = dc_entry_new(&t->topic, t->create_seq, t->lease_id, t->metadata,
                                 t->metadata_size);
    if (!e || dc_registry_put(registry, e) != 0) {
        dc_entry_unref(&e);
        return -1;
    }
    return 0;
}

dc_server_t *dc_server_new(const dc_config_t *config)
{
    dc_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    dc_context_t *ctx = &self->ctx;
    ctx->config = config;
    ctx->started_at_ms = s_wall_ms();
    snprintf(ctx->backend_endpoint, sizeof ctx->backend_endpoint, "inproc://discod-backend-%p",
             (void *)self);
    snprintf(ctx->writes_endpoint, sizeof ctx->writes_endpoint, "inproc://discod-writes-%p",
             (void *)self);
    snprintf(ctx->replies_endpoint, sizeof ctx->replies_endpoint, "inproc://discod-replies-%p",
             (void *)self);
    ctx->workers = config->workers > 0 ? config->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ctx->workers < 1)
        ctx->workers = 1;
    if (ctx->workers > DC_MAX_WORKERS)
        ctx->workers = DC_MAX_WORKERS;
    uint64_t t0 = s_mono_ms();
    self->store = dc_store_open(config->db_path, config->sync, config->on_corrupt,
                                config->db_max_size);
    ctx->registry = dc_registry_new();
    if (!self->store || !ctx->registry) {
        dc_server_destroy(&self);
        return NULL;
    }
    if (dc_store_load_topics(self->store, s_load_one, ctx->registry) != 0) {
        dc_error("cannot load the registry from %s: %s", config->db_path,
                 dc_store_errmsg(self->store));
        dc_server_destroy(&self);
        return NULL;
    }
    if (dc_store_bump_epoch(self->store, &ctx->epoch) != 0)
        dc_error("cannot persist the epoch (%s): database not writable, serving reads only",
                 dc_store_errmsg(self->store));
    uint64_t load_ms = s_mono_ms() - t0;

    self->front = zactor_new(s_front_actor, self);
    char *status = self->front ? zstr_recv(self->front) : NULL;
    bool ready = status && streq(status, "READY");
    zstr_free(&status);
    if (!ready) {
        dc_server_destroy(&self);
        return NULL;
    }
    char endpoints[1024] = "";
    for (int i = 0; i < config->endpoint_count; i++) {
        size_t used = strlen(endpoints);
        snprintf(endpoints + used, sizeof endpoints - used, "%s%s", i ? ", " : "",
                 config->endpoints[i]);
    }
    dc_info("discod %s started: endpoints [%s], database %s (synchronous=%s), workers %d, "
            "epoch %llu, %zu topic(s) loaded in %llu ms",
            DISCOD_VERSION, endpoints, config->db_path,
            config->sync == DC_SYNC_FULL ? "FULL" : "NORMAL", ctx->workers,
            (unsigned long long)ctx->epoch, dc_registry_count(ctx->registry),
            (unsigned long long)load_ms);
    return self;
}

bool dc_server_wait_stopped(dc_server_t *self, int timeout_ms)
{
    if (self->stopped)
        return true;
    zpoller_t *poller = zpoller_new(self->front, NULL);
    void *which = zpoller_wait(poller, timeout_ms);
    zpoller_destroy(&poller);
    if (which) {
        char *message = zstr_recv(self->front);
        self->stopped = message && streq(message, "STOPPED");
        zstr_free(&message);
    }
    return self->stopped;
}

void dc_server_destroy(dc_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_server_t *self = *self_p;
    zactor_destroy(&self->front);
    dc_store_destroy(&self->store);
    dc_registry_destroy(&self->ctx.registry);
    dc_info("discod stopped");
    free(self);
    *self_p = NULL;
}
