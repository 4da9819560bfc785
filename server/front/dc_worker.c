/* dc_worker.c: request handling for reads, validation for writes (see the .h). */
#include "dc_worker.h"
#include "dc_clock.h"
#include "dc_envelope.h"
#include "dc_graph.h"
#include "dc_stats.h"
#include "dc_log.h"
#include "dc_members.h"
#include "dc_protocol.h"
#include "dc_quick_reply.h"
#include "dc_reply_send.h"
#include "dc_request.h"
#include "dc_write_op.h"
#include "dc_thread.h"

#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <string.h>
#include <time.h>

typedef struct {
    dc_context_t *ctx;
    zsock_t *backend; /* DEALER to the front */
    dc_principal_t who; /* who sent the request being handled */
    int64_t command;    /* the request being handled (0: none decoded) */
} worker_t;

static void s_reply_init(dc_reply_t *r, const worker_t *self, int version, int status,
                         const char *message)
{
    memset(r, 0, sizeof *r);
    r->status = status;
    r->message = message;
    r->version = version;
    dc_context_stamp(self->ctx, r);
}

/* Sends reply r along route; kind 'A' normally, 'S' for "then stop". */
static void s_answer(worker_t *self, zmsg_t **route, const dc_reply_t *r, char kind)
{
    if (r->status == DC_STATUS_ERROR)
        DC_STAT_INC(self->ctx, errors);
    dc_stat_reply(&self->ctx->stats, self->command, r->status);
    zframe_t *frame = dc_reply_frame(r);
    if (!frame) {
        dc_error("out of memory encoding a reply");
        zmsg_destroy(route);
        zsock_send(self->backend, "s", "R");
        return;
    }
    dc_reply_route_send(route, &frame, kind, self->backend);
}

static void s_error(worker_t *self, zmsg_t **route, int version, const char *message)
{
    dc_reply_t r;
    s_reply_init(&r, self, version, DC_STATUS_ERROR, message);
    dc_debug("ERROR reply: %s", message);
    s_answer(self, route, &r, 'A');
}

/* What a kept LIST reply is valid for: the registry's generation, and in a
 * cluster the Raft term the reply carries (terms only rise, so the key does
 * too, and the cache keeps the newest). */
static uint64_t s_list_key(uint64_t term, uint64_t generation)
{
    return term << 40 | (generation & ((1ULL << 40) - 1));
}

/* Encodes r into buf and sends it without a copy; unfiltered LISTs keep it in
 * the cache for the next LIST of an unchanged registry. */
static void s_answer_list(worker_t *self, zmsg_t **route, const dc_reply_t *r, bool cacheable,
                          uint64_t generation)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    dc_shared_reply_t *reply = NULL;
    if (dc_reply_encode(r, &buf) == 0) {
        if (cacheable)
            reply = dc_list_cache_put(self->ctx->list_cache, r->version,
                                      s_list_key(r->term, generation), &buf);
        else
            reply = dc_list_cache_detached(&buf);
    }
    msgpack_sbuffer_destroy(&buf);
    if (!reply) {
        s_error(self, route, r->version, "Out of memory listing topics");
        return;
    }
    dc_stat_reply(&self->ctx->stats, self->command, r->status);
    dc_shared_reply_route_send(route, &reply, 'A', self->backend);
}

static void s_handle_list(worker_t *self, zmsg_t **route, dc_request_t *req)
{
    DC_STAT_INC(self->ctx, lists);
    dc_filter_t filter = {req->filter_prefix, req->filter_message_type,
                          req->filter_publisher_node, req->filter_metadata};
    bool filtered = req->version >= 2 && (req->present & DC_REQ_FILTER);
    if (!filtered) {
        dc_shared_reply_t *kept =
            dc_list_cache_get(self->ctx->list_cache, req->version,
                              s_list_key(atomic_load(&self->ctx->cluster.term),
                                         dc_registry_generation(self->ctx->registry)));
        if (kept) {
            dc_shared_reply_route_send(route, &kept, 'A', self->backend);
            return;
        }
    }
    dc_entry_t **entries = NULL;
    uint64_t generation = 0;
    /* A legacy client sees each name once: the registration its LOOKUP gives. */
    size_t n = dc_registry_snapshot_at(self->ctx->registry, filtered ? &filter : NULL,
                                       req->version < 2, &entries, &generation);
    if (n == (size_t)-1) {
        s_error(self, route, req->version, "Out of memory listing topics");
        return;
    }
    dc_blob_t *blobs = malloc((n ? n : 1) * sizeof *blobs);
    dc_blob_t *metadata = NULL;
    bool any_metadata = false;
    if (req->version >= 2)
        metadata = calloc(n ? n : 1, sizeof *metadata);
    if (!blobs || (req->version >= 2 && !metadata)) {
        free(blobs);
        free(metadata);
        dc_registry_release_snapshot(entries, n);
        s_error(self, route, req->version, "Out of memory listing topics");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        blobs[i] = entries[i]->blob;
        if (metadata && entries[i]->metadata.data) {
            metadata[i] = entries[i]->metadata;
            any_metadata = true;
        }
    }
    dc_reply_t r;
    s_reply_init(&r, self, req->version, DC_STATUS_OK, "");
    r.topics = blobs;
    r.topic_count = n;
    r.topic_metadata = any_metadata ? metadata : NULL;
    s_answer_list(self, route, &r, !filtered, generation);
    free(blobs);
    free(metadata);
    dc_registry_release_snapshot(entries, n);
}

static void s_handle_stats(worker_t *self, zmsg_t **route, dc_request_t *req)
{
    dc_stat_t stats[DC_STATS_MAX];
    size_t n = dc_stats_collect(self->ctx, stats, DC_STATS_MAX);
    dc_reply_t r;
    /* STATS is a protocol 2 command: its answer always carries the v2 keys. */
    s_reply_init(&r, self, 2, DC_STATUS_OK, "");
    r.stats = stats;
    r.stat_count = n;
    (void)req;
    s_answer(self, route, &r, 'A');
}

/* How long a worker waits for room in the writer's queue. */
#define DC_WRITER_WAIT_MS 30000

/* Hands a write to the writer; on failure answers ERROR itself. */
static void s_submit_write(worker_t *self, zmsg_t **route, dc_request_t *req, dc_write_op_t *op)
{
    op->route = *route;
    *route = NULL;
    op->principal = self->who;
    dc_write_op_take_request_keys(op, req);
    /* A full queue is waited on: the workers are where writes pile up
     * behind a slow disk (the front hands them its overflow and never waits
     * itself). A stopped writer's queue is closed and fails at once; a
     * writer that takes nothing for DC_WRITER_WAIT_MS is wedged (the
     * watchdog says so too). */
    if (dc_handoff_push_wait(self->ctx->writes, op, DC_WRITER_WAIT_MS) != 0) {
        zmsg_t *back = op->route;
        op->route = NULL;
        dc_write_op_destroy(&op);
        s_error(self, &back, req->version, "Writer unavailable: daemon is stopping");
        return;
    }
    zsock_send(self->backend, "s", "R");
}

/* A write built by one of dc_write_op's constructors: handed to the writer,
 * or answered ERROR with the constructor's problem. */
static void s_submit_built(worker_t *self, zmsg_t **route, dc_request_t *req,
                           dc_write_op_t *(*build)(const dc_request_t *, const char **))
{
    const char *problem = NULL;
    dc_write_op_t *op = build(req, &problem);
    if (!op)
        s_error(self, route, req->version, problem);
    else
        s_submit_write(self, route, req, op);
}


/* Hands a named op (UNREGISTER_NODE) to the writer. */
static void s_submit_named(worker_t *self, zmsg_t **route, dc_request_t *req, dc_op_kind_t kind,
                           dc_str_t name)
{
    dc_write_op_t *op = dc_write_op_named(kind, name);
    if (!op) {
        s_error(self, route, req->version, "Out of memory");
        return;
    }
    s_submit_write(self, route, req, op);
}

/* A WAIT whose topic is there is answered here (dc_quick_reply); else the
 * writer holds it. The front does the same for those it reads. */
static void s_handle_wait(worker_t *self, zmsg_t **route, dc_request_t *req)
{
    msgpack_sbuffer quick;
    msgpack_sbuffer_init(&quick);
    int rc = dc_quick_reply(self->ctx, req, &quick, NULL);
    zframe_t *frame = rc == 0 ? zframe_new(quick.data, quick.size) : NULL;
    msgpack_sbuffer_destroy(&quick);
    if (frame)
        dc_reply_route_send(route, &frame, 'A', self->backend);
    else if (rc == 0)
        s_error(self, route, req->version, "Out of memory");
    else {
        DC_STAT_INC(self->ctx, waits); /* dc_quick_reply counts only those it answers */
        s_submit_built(self, route, req, dc_write_op_wait); /* its ERROR when rc is -1 */
    }
}

static void s_handle_graph(worker_t *self, zmsg_t **route, dc_request_t *req)
{
    msgpack_sbuffer publishers, extra;
    msgpack_sbuffer_init(&publishers);
    msgpack_sbuffer_init(&extra);
    dc_reply_t r;
    s_reply_init(&r, self, 2, DC_STATUS_OK, ""); /* a protocol 2 command */
    if (dc_graph_pack(self->ctx, req, &publishers, &extra, &r.extra_pairs) == 0) {
        r.publishers = (dc_blob_t){(const uint8_t *)publishers.data, publishers.size};
        r.extra = (dc_blob_t){(const uint8_t *)extra.data, extra.size};
        s_answer(self, route, &r, 'A');
    } else
        s_error(self, route, 2, "Out of memory building the graph");
    msgpack_sbuffer_destroy(&publishers);
    msgpack_sbuffer_destroy(&extra);
}

static void s_handle_nodes(worker_t *self, zmsg_t **route, dc_request_t *req)
{
    dc_node_t **nodes = NULL;
    size_t n;
    if (req->command == DC_CMD_GET_NODE) {
        if (!(req->present & DC_REQ_NODE_NAME)) {
            s_error(self, route, req->version, "Missing node_name in get_node request");
            return;
        }
        dc_node_t *node = dc_nodes_get(self->ctx->nodes, req->node_name);
        if (!node) {
            char message[DC_MAX_NODE_LEN + 32];
            snprintf(message, sizeof message, "Node %.*s not found", (int)req->node_name.len,
                     req->node_name.ptr);
            dc_reply_t r;
            s_reply_init(&r, self, 2, DC_STATUS_NOT_FOUND, message);
            s_answer(self, route, &r, 'A');
            return;
        }
        nodes = malloc(sizeof *nodes);
        if (!nodes) {
            dc_node_unref(&node);
            s_error(self, route, req->version, "Out of memory");
            return;
        }
        nodes[0] = node;
        n = 1;
    } else {
        dc_str_t capability = (req->present & DC_REQ_CAPABILITY) ? req->capability
                                                                 : (dc_str_t){NULL, 0};
        n = dc_nodes_find(self->ctx->nodes, capability, &nodes);
        if (n == (size_t)-1) {
            s_error(self, route, req->version, "Out of memory");
            return;
        }
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    dc_graph_pack_nodes(self->ctx, &buf, nodes, n);
    dc_reply_t r;
    /* Node queries are protocol 2 commands: their answer carries the v2 keys. */
    s_reply_init(&r, self, 2, DC_STATUS_OK, "");
    r.nodes = (dc_blob_t){(const uint8_t *)buf.data, buf.size};
    s_answer(self, route, &r, 'A');
    msgpack_sbuffer_destroy(&buf);
    dc_nodes_release(nodes, n);
}

/* Why SHUTDOWN from this client on endpoint is refused, or NULL: the
 * --allow-shutdown policy, and on tcp without CURVE --allow-remote-shutdown. */
static const char *s_shutdown_refusal(worker_t *self, int endpoint)
{
    const dc_config_t *config = self->ctx->config;
    if (config->allow_shutdown == DC_SHUTDOWN_NONE)
        return "SHUTDOWN refused (allow_shutdown is none): stop the service instead";
    if (self->ctx->endpoint_is_curve[endpoint])
        return config->allow_shutdown == DC_SHUTDOWN_ADMIN && self->who.access == DC_ACCESS_ADMIN
                   ? NULL
                   : "SHUTDOWN refused on tcp endpoints (allow_shutdown is not admin)";
    if (self->ctx->endpoint_is_tcp[endpoint] && !config->allow_remote_shutdown)
        return "SHUTDOWN refused on tcp endpoints (allow_remote_shutdown is off)";
    return NULL;
}

static void s_handle_shutdown(worker_t *self, zmsg_t **route, dc_request_t *req, int endpoint)
{
    const char *refusal = s_shutdown_refusal(self, endpoint);
    if (refusal) {
        dc_warn("%s (on %s%s%s)", refusal, self->ctx->config->endpoints[endpoint],
                self->who.key[0] ? ", key " : "", self->who.key);
        s_error(self, route, req->version, refusal);
        return;
    }
    dc_info("SHUTDOWN command received on %s%s%s", self->ctx->config->endpoints[endpoint],
            self->who.key[0] ? " from key " : "", self->who.key);
    dc_reply_t r;
    s_reply_init(&r, self, req->version, DC_STATUS_OK, "Shutting down");
    s_answer(self, route, &r, 'S');
}

static void s_handle_members(worker_t *self, zmsg_t **route)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    if (dc_members_encode(self->ctx, &buf) != 0) {
        msgpack_sbuffer_destroy(&buf);
        s_error(self, route, 2, "Out of memory");
        return;
    }
    dc_reply_t r;
    s_reply_init(&r, self, 2, DC_STATUS_OK, "");
    r.members = (dc_blob_t){(const uint8_t *)buf.data, buf.size};
    s_answer(self, route, &r, 'A');
    msgpack_sbuffer_destroy(&buf);
}

/* MEMBER_ADD, MEMBER_REMOVE, MEMBER_TRANSFER: admin requests (ipc clients,
 * admin keys); the cluster thread carries them out. */
static void s_handle_member_change(worker_t *self, zmsg_t **route, dc_request_t *req,
                                   int endpoint)
{
    /* On tcp: an admin key (the front checked the role), or without CURVE
     * --allow-remote-shutdown. */
    if (self->ctx->endpoint_is_tcp[endpoint] && !self->ctx->endpoint_is_curve[endpoint] &&
        !self->ctx->config->allow_remote_shutdown) {
        dc_warn("membership change refused on tcp endpoint %s",
                self->ctx->config->endpoints[endpoint]);
        s_error(self, route, 2,
                "Membership changes are refused on tcp endpoints (allow_remote_shutdown is off)");
        return;
    }
    const char *problem = NULL;
    dc_write_op_t *op = dc_write_op_member(req, &problem);
    if (!op)
        s_error(self, route, 2, problem); /* a protocol 2 command: answered as one */
    else
        s_submit_write(self, route, req, op);
}

/* msg: [endpoint index and principal][envelope...][""][body...]. Always
 * answers or hands the request on, so the front hears from this worker
 * exactly once. The front has checked the principal's role already. */
static void s_handle(worker_t *self, zmsg_t *msg)
{
    DC_STAT_INC(self->ctx, requests);
    self->command = 0;
    zframe_t *index_frame = zmsg_first(msg);
    int endpoint = dc_principal_parse(zframe_data(index_frame), zframe_size(index_frame),
                                      &self->who);
    /* [endpoint index][identity...][""][body...]: the envelope starts at 1. */
    size_t sizes[64];
    int count = 0;
    for (zframe_t *f = index_frame; f && count < 64; f = zmsg_next(msg))
        sizes[count++] = zframe_size(f);
    int delimiter;
    dc_envelope_t shape = count < 64 ? dc_envelope_check(sizes, count, 1, &delimiter)
                                     : DC_ENVELOPE_INVALID;
    int after_delimiter = shape == DC_ENVELOPE_INVALID ? 0 : count - 1 - delimiter;
    if (endpoint < 0 || endpoint >= self->ctx->config->endpoint_count ||
        shape == DC_ENVELOPE_INVALID) {
        DC_STAT_INC(self->ctx, dropped);
        zmsg_destroy(&msg);
        zsock_send(self->backend, "s", "R");
        return;
    }
    zframe_t *body = NULL;
    if (after_delimiter == 1) {
        body = zmsg_last(msg);
        zmsg_remove(msg, body);
    } else {
        /* Drop the extra frames; the route alone stays in msg. */
        while (after_delimiter-- > 0) {
            zframe_t *last = zmsg_last(msg);
            zmsg_remove(msg, last);
            zframe_destroy(&last);
        }
        s_error(self, &msg, 1, "Invalid request: expected exactly one body frame");
        return;
    }
    dc_request_t req;
    char err[DC_ERR_LEN];
    int rc = dc_request_decode(&req, zframe_data(body), zframe_size(body), err);
    if (rc != 0) {
        dc_warn("bad request on %s: %s", self->ctx->config->endpoints[endpoint], err);
        zframe_destroy(&body);
        s_error(self, &msg, 1, err);
        return;
    }
    msgpack_sbuffer quick;
    msgpack_sbuffer_init(&quick);
    self->command = req.command;
    switch (req.command) {
    case DC_CMD_PING:
    case DC_CMD_LOOKUP_TOPIC:
    case DC_CMD_HEARTBEAT: {
        zframe_t *frame = NULL;
        if (req.command == DC_CMD_HEARTBEAT && !(req.present & DC_REQ_LEASE_ID)) {
            s_error(self, &msg, req.version, "Missing lease_id in heartbeat request");
            break;
        }
        if (dc_quick_reply(self->ctx, &req, &quick, NULL) == 0)
            frame = zframe_new(quick.data, quick.size);
        if (frame)
            dc_reply_route_send(&msg, &frame, 'A', self->backend);
        else
            s_error(self, &msg, req.version, "Out of memory");
        break;
    }
    case DC_CMD_LIST_TOPICS:
        s_handle_list(self, &msg, &req);
        break;
    case DC_CMD_REGISTER_TOPIC:
    case DC_CMD_UNREGISTER_TOPIC:
        /* Usually sent from the front straight to the writer; here when the
         * front could not build or hand on the op. */
        s_submit_built(self, &msg, &req, dc_write_op_topic);
        break;
    case DC_CMD_STATS:
        s_handle_stats(self, &msg, &req);
        break;
    case DC_CMD_WAIT_TOPIC:
        s_handle_wait(self, &msg, &req);
        break;
    case DC_CMD_REVOKE_LEASE:
        s_submit_built(self, &msg, &req, dc_write_op_revoke);
        break;
    case DC_CMD_REGISTER_NODE:
        s_submit_built(self, &msg, &req, dc_write_op_register_node);
        break;
    case DC_CMD_UNREGISTER_NODE:
        if (!(req.present & DC_REQ_NODE_NAME))
            s_error(self, &msg, req.version, "Missing node_name in unregister_node request");
        else
            s_submit_named(self, &msg, &req, DC_OP_UNREGISTER_NODE, req.node_name);
        break;
    case DC_CMD_GET_NODE:
    case DC_CMD_FIND_NODES:
        s_handle_nodes(self, &msg, &req);
        break;
    case DC_CMD_SUBSCRIBE:
    case DC_CMD_UNSUBSCRIBE:
        /* As REGISTER: here when the front could not build or hand on the op. */
        s_submit_built(self, &msg, &req, dc_write_op_subscription);
        break;
    case DC_CMD_GRAPH:
        s_handle_graph(self, &msg, &req);
        break;
    case DC_CMD_SHUTDOWN:
        s_handle_shutdown(self, &msg, &req, endpoint);
        break;
    case DC_CMD_MEMBERS:
        s_handle_members(self, &msg);
        break;
    case DC_CMD_MEMBER_ADD:
    case DC_CMD_MEMBER_REMOVE:
    case DC_CMD_MEMBER_TRANSFER:
        s_handle_member_change(self, &msg, &req, endpoint);
        break;
    default: {
        char message[64];
        snprintf(message, sizeof message, "Unknown command: %lld", (long long)req.command);
        s_error(self, &msg, req.version, message);
        break;
    }
    }
    msgpack_sbuffer_destroy(&quick);
    dc_request_release(&req);
    zframe_destroy(&body);
}

/* How much nicer than the front the workers run. The front answers lookups
 * and heartbeats inline; workers build LISTs and validate writes. When they
 * compete for a core (2 cores, a LIST of 10,000 topics in a loop), the
 * scheduler should let the front's short answers go first. */
#define DC_WORKER_NICE 5

void dc_worker_actor(zsock_t *pipe, void *arg)
{
    dc_thread_name("dc-worker");
    worker_t self = {.ctx = arg};
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), DC_WORKER_NICE) != 0)
        dc_debug("worker: cannot lower its priority: %s", strerror(errno));
    self.backend = zsock_new_dealer(self.ctx->backend_endpoint);
    if (!self.backend) {
        dc_error("worker: cannot connect its inproc socket");
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    zsock_send(self.backend, "s", "R");

    zpoller_t *poller = zpoller_new(pipe, self.backend, NULL);
    while (true) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            bool term = !command || streq(command, "$TERM");
            zstr_free(&command);
            if (term)
                break;
        } else if (which == self.backend) {
            zmsg_t *msg = zmsg_recv(self.backend);
            if (msg)
                s_handle(&self, msg);
        } else if (zpoller_terminated(poller)) {
            break;
        }
    }
    zpoller_destroy(&poller);
    zsock_destroy(&self.backend);
}
