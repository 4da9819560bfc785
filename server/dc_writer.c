/* dc_writer.c: group commit of registry changes (see the .h). */
#include "dc_writer.h"
#include "dc_change.h"
#include "dc_log.h"
#include "dc_protocol.h"
#include "dc_reply_send.h"
#include "dc_write_op.h"

#include <stdio.h>
#include <string.h>

/* Largest number of ops decided and committed together. */
#define DC_MAX_BATCH 512
/* Retry cache: direct-mapped by request_id. A collision only forgets an older
 * id early (a retry is then applied again, which REGISTER tolerates). */
#define DC_DEDUP_SLOTS 8192

typedef struct {
    uint64_t request_id;
    zframe_t *reply;
} dedup_slot_t;

typedef struct {
    dc_context_t *ctx;
    dc_store_t *store;
    zsock_t *pull;    /* ops from workers */
    zsock_t *replies; /* answers to the front */
    uint64_t change_seq;
    dedup_slot_t dedup[DC_DEDUP_SLOTS];
} writer_t;

/* What one op's reply will say. */
typedef struct {
    int status;
    char message[DC_MAX_NAME_LEN + DC_MAX_NODE_LEN + 64];
    int change; /* index into the batch's changes, or -1 */
    zframe_t *cached;
} outcome_t;

static dedup_slot_t *s_dedup_slot(writer_t *self, uint64_t request_id)
{
    uint64_t h = request_id * 0x9e3779b97f4a7c15ULL;
    return &self->dedup[(h >> 32) & (DC_DEDUP_SLOTS - 1)];
}

/* The entry name has right now, counting the batch's earlier changes. */
static dc_entry_t *s_current(writer_t *self, const dc_change_t *changes, size_t n, dc_str_t name)
{
    for (size_t i = n; i-- > 0;) {
        if (dc_str_eq(changes[i].entry->topic.name, name))
            return changes[i].kind == DC_CHANGE_TOPIC_PUT ? changes[i].entry : NULL;
    }
    return dc_registry_peek(self->ctx->registry, name);
}

static void s_decide(writer_t *self, dc_write_op_t *op, outcome_t *out, dc_change_t *changes,
                     size_t *change_count, int64_t *net_new)
{
    out->change = -1;
    if (op->command == DC_CMD_REGISTER_TOPIC) {
        dc_entry_t *e = op->entry;
        dc_entry_t *cur = s_current(self, changes, *change_count, e->topic.name);
        if (cur && !dc_str_eq(cur->topic.publisher_node, e->topic.publisher_node)) {
            out->status = DC_STATUS_ALREADY_EXISTS;
            snprintf(out->message, sizeof out->message, "Topic %s already registered by %s",
                     e->topic.name.ptr, cur->topic.publisher_node.ptr);
            return;
        }
        if (!cur && dc_registry_count(self->ctx->registry) + (uint64_t)*net_new >=
                        self->ctx->config->max_topics) {
            out->status = DC_STATUS_ERROR;
            snprintf(out->message, sizeof out->message,
                     "Registry full: %llu topics (max_topics)",
                     (unsigned long long)self->ctx->config->max_topics);
            return;
        }
        dc_change_t *c = &changes[*change_count];
        c->seq = ++self->change_seq;
        c->kind = DC_CHANGE_TOPIC_PUT;
        c->reason = "registered";
        e->create_seq = cur ? cur->create_seq : c->seq;
        c->entry = e;
        op->entry = NULL;
        if (!cur)
            (*net_new)++;
        out->change = (int)(*change_count)++;
        out->status = DC_STATUS_OK;
        snprintf(out->message, sizeof out->message, "Registered topic: %s", e->topic.name.ptr);
    } else {
        dc_str_t name = {op->name, op->name_len};
        dc_entry_t *cur = s_current(self, changes, *change_count, name);
        if (!cur) {
            out->status = DC_STATUS_NOT_FOUND;
            snprintf(out->message, sizeof out->message, "Topic %s not found", op->name);
            return;
        }
        dc_change_t *c = &changes[*change_count];
        c->seq = ++self->change_seq;
        c->kind = DC_CHANGE_TOPIC_REMOVE;
        c->reason = "unregistered";
        c->entry = dc_entry_ref(cur);
        (*net_new)--;
        out->change = (int)(*change_count)++;
        out->status = DC_STATUS_OK;
        snprintf(out->message, sizeof out->message, "Unregistered topic: %s", op->name);
    }
}

/* Writes the changes in one transaction. Returns 0 once committed. */
static int s_persist(writer_t *self, const dc_change_t *changes, size_t n)
{
    if (dc_store_begin(self->store) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const dc_entry_t *e = changes[i].entry;
        int rc;
        if (changes[i].kind == DC_CHANGE_TOPIC_PUT) {
            dc_stored_topic_t t = {e->topic, e->create_seq, e->lease_id, e->metadata.data,
                                   e->metadata.size};
            rc = dc_store_put_topic(self->store, &t);
        } else {
            rc = dc_store_delete_topic(self->store, e->topic.name);
        }
        if (rc != 0) {
            dc_store_rollback(self->store);
            return -1;
        }
    }
    if (dc_store_meta_set(self->store, "change_seq", self->change_seq) != 0 ||
        dc_store_commit(self->store) != 0) {
        dc_store_rollback(self->store);
        return -1;
    }
    return 0;
}

static void s_apply(writer_t *self, dc_change_t *c)
{
    dc_entry_t *e = c->entry;
    if (c->kind == DC_CHANGE_TOPIC_PUT) {
        dc_info("REGISTER topic %s address %s node %s type %s fingerprint %llu (seq %llu)",
                e->topic.name.ptr, e->topic.address.ptr, e->topic.publisher_node.ptr,
                e->topic.message_type.ptr, (unsigned long long)e->topic.fingerprint,
                (unsigned long long)c->seq);
        DC_STAT_INC(self->ctx, registrations);
        /* The registry takes the change's reference. */
        dc_registry_put(self->ctx->registry, e);
        c->entry = NULL;
    } else {
        dc_info("UNREGISTER topic %s (%s, seq %llu)", e->topic.name.ptr, c->reason,
                (unsigned long long)c->seq);
        DC_STAT_INC(self->ctx, unregistrations);
        dc_registry_remove(self->ctx->registry, e->topic.name);
        dc_entry_unref(&c->entry);
    }
}

static void s_process_batch(writer_t *self, dc_write_op_t **ops, size_t n)
{
    static __thread dc_change_t changes[DC_MAX_BATCH];
    static __thread outcome_t outcomes[DC_MAX_BATCH];
    size_t change_count = 0;
    int64_t net_new = 0;
    uint64_t seq_before = self->change_seq;

    for (size_t i = 0; i < n; i++) {
        outcome_t *out = &outcomes[i];
        out->cached = NULL;
        out->change = -1;
        if (ops[i]->has_request_id) {
            dedup_slot_t *slot = s_dedup_slot(self, ops[i]->request_id);
            if (slot->reply && slot->request_id == ops[i]->request_id) {
                out->cached = zframe_dup(slot->reply);
                DC_STAT_INC(self->ctx, deduplicated);
                continue;
            }
        }
        s_decide(self, ops[i], out, changes, &change_count, &net_new);
    }

    bool stored = true;
    if (change_count > 0) {
        stored = s_persist(self, changes, change_count) == 0;
        if (stored) {
            atomic_fetch_add_explicit(&self->ctx->stats.commits, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&self->ctx->stats.batched_writes, change_count,
                                      memory_order_relaxed);
            for (size_t i = 0; i < change_count; i++)
                s_apply(self, &changes[i]);
        } else {
            DC_STAT_INC(self->ctx, commit_failures);
            dc_error("cannot save %zu change(s): %s", change_count,
                     dc_store_errmsg(self->store));
            self->change_seq = seq_before;
            for (size_t i = 0; i < change_count; i++)
                dc_entry_unref(&changes[i].entry);
        }
    }

    for (size_t i = 0; i < n; i++) {
        dc_write_op_t *op = ops[i];
        outcome_t *out = &outcomes[i];
        zframe_t *frame = out->cached;
        if (!frame) {
            if (out->change >= 0 && !stored) {
                out->status = DC_STATUS_ERROR;
                snprintf(out->message, sizeof out->message, "Storage error, not saved: %.200s",
                         dc_store_errmsg(self->store));
            }
            dc_reply_t r;
            memset(&r, 0, sizeof r);
            r.status = out->status;
            r.message = out->message;
            r.version = op->version;
            r.epoch = self->ctx->epoch;
            frame = dc_reply_frame(&r);
            if (out->status == DC_STATUS_ERROR)
                DC_STAT_INC(self->ctx, errors);
            /* Remember definitive answers only: a storage error must be retried. */
            if (frame && op->has_request_id && !(out->change >= 0 && !stored)) {
                dedup_slot_t *slot = s_dedup_slot(self, op->request_id);
                zframe_destroy(&slot->reply);
                slot->request_id = op->request_id;
                slot->reply = zframe_dup(frame);
            }
        }
        if (frame)
            dc_reply_route_send(&op->route, &frame, 'A', self->replies);
        dc_write_op_destroy(&ops[i]);
    }
}

void dc_writer_actor(zsock_t *pipe, void *arg)
{
    dc_writer_args_t *args = arg;
    writer_t *self = calloc(1, sizeof *self);
    self->ctx = args->ctx;
    self->store = args->store;
    self->change_seq = dc_store_meta_get(self->store, "change_seq");
    self->pull = zsock_new(ZMQ_PULL);
    self->replies = zsock_new(ZMQ_PUSH);
    if (!self->pull || !self->replies || zsock_bind(self->pull, "%s", self->ctx->writes_endpoint) != 0 ||
        zsock_connect(self->replies, "%s", self->ctx->replies_endpoint) != 0) {
        dc_error("writer: cannot set up its inproc sockets");
        zsock_destroy(&self->pull);
        zsock_destroy(&self->replies);
        free(self);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);

    dc_write_op_t *batch[DC_MAX_BATCH];
    zpoller_t *poller = zpoller_new(pipe, self->pull, NULL);
    bool running = true;
    while (running) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            running = !(!command || streq(command, "$TERM"));
            zstr_free(&command);
        }
        /* Take everything waiting, then decide and commit it as one batch;
         * when stopping, keep going until the queue is empty. */
        size_t n;
        do {
            n = 0;
            while (n < DC_MAX_BATCH) {
                zmq_pollitem_t item = {zsock_resolve(self->pull), 0, ZMQ_POLLIN, 0};
                if (zmq_poll(&item, 1, 0) <= 0)
                    break;
                void *op = NULL;
                if (zsock_recv(self->pull, "p", &op) != 0 || !op)
                    break;
                batch[n++] = op;
            }
            if (n > 0)
                s_process_batch(self, batch, n);
        } while (!running && n > 0);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&self->pull);
    zsock_destroy(&self->replies);
    for (size_t i = 0; i < DC_DEDUP_SLOTS; i++)
        zframe_destroy(&self->dedup[i].reply);
    free(self);
}
