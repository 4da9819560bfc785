/* dc_writer.c: group commit, leases, held waits and events (see the .h). */
#include "dc_writer.h"
#include "dc_clock.h"
#include "dc_change.h"
#include "dc_failpoint.h"
#include "dc_ipc.h"
#include "dc_log.h"
#include "dc_protocol.h"
#include "dc_reply_send.h"
#include "dc_write_op.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Largest number of ops decided and committed together. */
#define DC_MAX_BATCH 512
/* Retry cache: direct-mapped by request_id. A collision only forgets an older
 * id early (a retry is then applied again, which REGISTER tolerates). */
#define DC_DEDUP_SLOTS 8192
/* How often lease renewals are saved (one transaction for all of them). */
#define DC_LEASE_FLUSH_MS 1000
/* Timers (lease expiry, WAIT time-outs) run at most this often: with
 * thousands of short leases an expiry check falls due every few hundred
 * microseconds, mostly to find the lease renewed; waking for each cost more
 * than the checks. Expiry stays within TTL + 1 s with room to spare. */
#define DC_TIMER_SLACK_MS 50
/* WAIT_TOPIC: the default and the longest hold. */
#define DC_WAIT_DEFAULT_MS 30000
#define DC_WAIT_MAX_MS 3600000

typedef struct {
    uint64_t request_id;
    zframe_t *reply;
} dedup_slot_t;

/* A timer: a lease to check (name NULL) or a held WAIT to time out. */
typedef struct {
    uint64_t deadline;
    uint64_t id;
    char *name;
} timer_t_;

typedef struct waiter {
    uint64_t id;
    zmsg_t *route;
    int version;
    struct waiter *next;
} waiter_t;

typedef struct {
    dc_context_t *ctx;
    dc_store_t *store;
    zsock_t *pull;    /* ops from workers and the prober */
    zsock_t *replies; /* answers to the front */
    zsock_t *events;  /* PUB, or NULL */
    uint64_t change_seq, lease_seq, event_seq;
    dedup_slot_t dedup[DC_DEDUP_SLOTS];
    dc_change_t *changes;
    size_t change_count, change_cap;
    timer_t_ *timers; /* binary min-heap on deadline */
    size_t timer_count, timer_cap;
    zhashx_t *waiters; /* topic name -> waiter_t list */
    uint64_t next_waiter_id;
    size_t waiter_count;
    uint64_t next_flush_ms;
    uint64_t timers_ran_ms; /* when s_run_timers last ran */
    size_t recent[4]; /* sizes of the last batches: how many writers are active */
    unsigned recent_next;
} writer_t;

/* What one op's reply will say. */
typedef struct {
    int status;
    char message[DC_MAX_NAME_LEN + DC_MAX_NODE_LEN + 64];
    int change;    /* index of the op's first change, or -1 */
    bool parked;   /* a held WAIT: answered later */
    bool no_reply; /* nobody to answer (prober) */
    bool has_lease;
    uint64_t lease_id, lease_ttl_ms;
    dc_entry_t *found; /* WAIT answered at once: the entry (one reference) */
    zframe_t *cached;
} outcome_t;

/* Sets the status and message an op's reply will carry. */
static void s_say(outcome_t *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_say(outcome_t *out, int status, const char *fmt, ...)
{
    out->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
}

/*==== Timers (a binary heap) ====*/

static void s_timer_push(writer_t *self, uint64_t deadline, uint64_t id, const char *name)
{
    if (self->timer_count == self->timer_cap) {
        size_t cap = self->timer_cap ? self->timer_cap * 2 : 256;
        timer_t_ *grown = realloc(self->timers, cap * sizeof *grown);
        if (!grown) {
            dc_error("out of memory: a timer is lost");
            return;
        }
        self->timers = grown;
        self->timer_cap = cap;
    }
    size_t i = self->timer_count++;
    timer_t_ t = {deadline, id, name ? strdup(name) : NULL};
    while (i > 0 && self->timers[(i - 1) / 2].deadline > deadline) {
        self->timers[i] = self->timers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    self->timers[i] = t;
}

static timer_t_ s_timer_pop(writer_t *self)
{
    timer_t_ top = self->timers[0];
    timer_t_ last = self->timers[--self->timer_count];
    size_t i = 0;
    while (true) {
        size_t child = 2 * i + 1;
        if (child >= self->timer_count)
            break;
        if (child + 1 < self->timer_count &&
            self->timers[child + 1].deadline < self->timers[child].deadline)
            child++;
        if (self->timers[child].deadline >= last.deadline)
            break;
        self->timers[i] = self->timers[child];
        i = child;
    }
    if (self->timer_count > 0)
        self->timers[i] = last;
    return top;
}

/*==== Changes ====*/

static dc_change_t *s_change_add(writer_t *self, dc_change_kind_t kind, const char *reason)
{
    if (self->change_count == self->change_cap) {
        size_t cap = self->change_cap ? self->change_cap * 2 : 1024;
        dc_change_t *grown = realloc(self->changes, cap * sizeof *grown);
        if (!grown)
            return NULL;
        self->changes = grown;
        self->change_cap = cap;
    }
    dc_change_t *c = &self->changes[self->change_count++];
    memset(c, 0, sizeof *c);
    c->seq = ++self->change_seq;
    c->kind = kind;
    c->reason = reason;
    bool eventful = kind != DC_CHANGE_LEASE_PUT && kind != DC_CHANGE_LEASE_REMOVE;
    if (eventful)
        c->event_seq = ++self->event_seq;
    return c;
}

/* The entry name has right now, counting this batch's earlier changes. */
static dc_entry_t *s_current(writer_t *self, dc_str_t name)
{
    for (size_t i = self->change_count; i-- > 0;) {
        dc_change_t *c = &self->changes[i];
        if ((c->kind == DC_CHANGE_TOPIC_PUT || c->kind == DC_CHANGE_TOPIC_REMOVE) &&
            dc_str_eq(c->entry->topic.name, name))
            return c->kind == DC_CHANGE_TOPIC_PUT ? c->entry : NULL;
    }
    return dc_registry_peek(self->ctx->registry, name);
}

static dc_node_t *s_current_node(writer_t *self, dc_str_t name)
{
    for (size_t i = self->change_count; i-- > 0;) {
        dc_change_t *c = &self->changes[i];
        if ((c->kind == DC_CHANGE_NODE_PUT || c->kind == DC_CHANGE_NODE_REMOVE) &&
            dc_str_eq(dc_str_from(c->node->name), name))
            return c->kind == DC_CHANGE_NODE_PUT ? c->node : NULL;
    }
    return dc_nodes_peek(self->ctx->nodes, name);
}

/* Does lease id exist, counting this batch? */
static bool s_lease_exists(writer_t *self, uint64_t id)
{
    for (size_t i = self->change_count; i-- > 0;) {
        dc_change_t *c = &self->changes[i];
        if ((c->kind == DC_CHANGE_LEASE_PUT || c->kind == DC_CHANGE_LEASE_REMOVE) &&
            c->lease_id == id)
            return c->kind == DC_CHANGE_LEASE_PUT;
    }
    return dc_leases_find(self->ctx->leases, id) != NULL;
}

/* A topic whose lease ran out is free for anyone, even before the expiry
 * timer has removed it. */
static bool s_expired(writer_t *self, const dc_entry_t *e, uint64_t now)
{
    if (!e->lease_id)
        return false;
    uint64_t expiry = dc_leases_expiry(self->ctx->leases, e->lease_id);
    return expiry && expiry <= now;
}

/* Changes removing lease id and everything attached to it. */
static size_t s_remove_lease_changes(writer_t *self, uint64_t id, const char *reason)
{
    dc_lease_t *l = dc_leases_find(self->ctx->leases, id);
    if (!l)
        return 0;
    size_t removed = 0;
    for (size_t i = 0; i < l->topic_count; i++) {
        dc_entry_t *cur = s_current(self, dc_str_from(l->topics[i]));
        if (cur && cur->lease_id == id) {
            dc_change_t *c = s_change_add(self, DC_CHANGE_TOPIC_REMOVE, reason);
            if (!c)
                break;
            c->entry = dc_entry_ref(cur);
            removed++;
        }
    }
    if (l->node) {
        dc_node_t *node = s_current_node(self, dc_str_from(l->node));
        dc_change_t *c =
            node && node->lease_id == id ? s_change_add(self, DC_CHANGE_NODE_REMOVE, reason) : NULL;
        if (c)
            c->node = dc_node_ref(node);
    }
    dc_change_t *c = s_change_add(self, DC_CHANGE_LEASE_REMOVE, reason);
    if (c)
        c->lease_id = id;
    return removed;
}

/*==== Deciding ops ====*/

/* Resolves the lease of a REGISTER or REGISTER_NODE: attach, create, or none.
 * Returns 0 with *lease_id set (0: no lease), or -1 with out filled. */
static int s_decide_lease(writer_t *self, dc_write_op_t *op, outcome_t *out, uint64_t *lease_id)
{
    const dc_config_t *config = self->ctx->config;
    *lease_id = 0;
    if (op->has_lease_id) {
        if (!s_lease_exists(self, op->lease_id)) {
            s_say(out, DC_STATUS_NOT_FOUND, "Lease %llu not found",
                  (unsigned long long)op->lease_id);
            return -1;
        }
        *lease_id = op->lease_id;
        out->has_lease = true;
        out->lease_id = op->lease_id;
        out->lease_ttl_ms = dc_leases_ttl(self->ctx->leases, op->lease_id);
        return 0;
    }
    if (!op->has_lease_ttl)
        return 0;
    if (op->lease_ttl_ms < config->lease_min_ttl_ms ||
        op->lease_ttl_ms > config->lease_max_ttl_ms) {
        s_say(out, DC_STATUS_ERROR, "lease_ttl_ms must be in [%llu, %llu]",
              (unsigned long long)config->lease_min_ttl_ms,
              (unsigned long long)config->lease_max_ttl_ms);
        return -1;
    }
    dc_change_t *c = s_change_add(self, DC_CHANGE_LEASE_PUT, "granted");
    if (!c) {
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return -1;
    }
    c->lease_id = ++self->lease_seq;
    c->lease_ttl_ms = op->lease_ttl_ms;
    *lease_id = c->lease_id;
    out->has_lease = true;
    out->lease_id = c->lease_id;
    out->lease_ttl_ms = op->lease_ttl_ms;
    return 0;
}

static void s_decide_register(writer_t *self, dc_write_op_t *op, outcome_t *out, int64_t *net_new,
                              uint64_t now)
{
    dc_entry_t *e = op->entry;
    dc_entry_t *cur = s_current(self, e->topic.name);
    if (cur && !dc_str_eq(cur->topic.publisher_node, e->topic.publisher_node) &&
        !s_expired(self, cur, now)) {
        s_say(out, DC_STATUS_ALREADY_EXISTS, "Topic %s already registered by %s", e->topic.name.ptr,
              cur->topic.publisher_node.ptr);
        return;
    }
    if (!cur && dc_registry_count(self->ctx->registry) + (uint64_t)*net_new >=
                    self->ctx->config->max_topics) {
        s_say(out, DC_STATUS_ERROR, "Registry full: %llu topics (max_topics)",
              (unsigned long long)self->ctx->config->max_topics);
        return;
    }
    size_t first = self->change_count;
    uint64_t lease_id;
    if (s_decide_lease(self, op, out, &lease_id) != 0)
        return;
    dc_change_t *c = s_change_add(self, DC_CHANGE_TOPIC_PUT, "registered");
    if (!c) {
        s_say(out, DC_STATUS_ERROR, "Out of memory");
        return;
    }
    e->create_seq = cur ? cur->create_seq : c->seq;
    e->lease_id = lease_id;
    e->registered_at_ms = dc_wall_ms();
    c->entry = e;
    c->replaces = cur != NULL;
    op->entry = NULL;
    if (!cur)
        (*net_new)++;
    out->change = (int)first;
    s_say(out, DC_STATUS_OK, "Registered topic: %s", e->topic.name.ptr);
}

static void s_decide(writer_t *self, dc_write_op_t *op, outcome_t *out, int64_t *net_new,
                     uint64_t now)
{
    dc_str_t name = {op->name, op->name_len};
    switch (op->kind) {
    case DC_OP_REGISTER:
        s_decide_register(self, op, out, net_new, now);
        return;
    case DC_OP_UNREGISTER:
    case DC_OP_REMOVE_DEAD: {
        dc_entry_t *cur = s_current(self, name);
        bool dead = op->kind == DC_OP_REMOVE_DEAD;
        /* The prober's finding holds only for the registration it probed. */
        if (dead && cur && (cur->lease_id || strcmp(cur->topic.address.ptr, op->address) != 0))
            cur = NULL;
        if (!cur) {
            s_say(out, DC_STATUS_NOT_FOUND, "Topic %s not found", op->name);
            return;
        }
        out->change = (int)self->change_count;
        dc_change_t *c =
            s_change_add(self, DC_CHANGE_TOPIC_REMOVE, dead ? op->reason : "unregistered");
        if (!c) {
            out->change = -1;
            s_say(out, DC_STATUS_ERROR, "Out of memory");
            return;
        }
        c->entry = dc_entry_ref(cur);
        (*net_new)--;
        s_say(out, DC_STATUS_OK, "Unregistered topic: %s", op->name);
        return;
    }
    case DC_OP_REVOKE_LEASE: {
        if (!s_lease_exists(self, op->lease_id)) {
            s_say(out, DC_STATUS_NOT_FOUND, "Lease %llu not found",
                  (unsigned long long)op->lease_id);
            return;
        }
        out->change = (int)self->change_count;
        size_t removed = s_remove_lease_changes(self, op->lease_id, "revoked");
        *net_new -= (int64_t)removed;
        s_say(out, DC_STATUS_OK, "Revoked lease %llu (%zu topic(s) removed)",
              (unsigned long long)op->lease_id, removed);
        return;
    }
    case DC_OP_REGISTER_NODE: {
        size_t first = self->change_count;
        uint64_t lease_id;
        if (s_decide_lease(self, op, out, &lease_id) != 0)
            return;
        dc_node_t *n = op->node;
        bool replaces = s_current_node(self, dc_str_from(n->name)) != NULL;
        dc_change_t *c = s_change_add(self, DC_CHANGE_NODE_PUT, "registered");
        if (!c) {
            s_say(out, DC_STATUS_ERROR, "Out of memory");
            return;
        }
        n->lease_id = lease_id;
        c->replaces = replaces;
        c->node = n;
        op->node = NULL;
        out->change = (int)first;
        s_say(out, DC_STATUS_OK, "Registered node: %s", n->name);
        return;
    }
    case DC_OP_UNREGISTER_NODE: {
        dc_node_t *cur = s_current_node(self, name);
        if (!cur) {
            s_say(out, DC_STATUS_NOT_FOUND, "Node %s not found", op->name);
            return;
        }
        out->change = (int)self->change_count;
        dc_change_t *c = s_change_add(self, DC_CHANGE_NODE_REMOVE, "unregistered");
        if (!c) {
            out->change = -1;
            s_say(out, DC_STATUS_ERROR, "Out of memory");
            return;
        }
        c->node = dc_node_ref(cur);
        s_say(out, DC_STATUS_OK, "Unregistered node: %s", op->name);
        return;
    }
    case DC_OP_WAIT: {
        /* Only committed state answers a WAIT; a registration still in this
         * batch wakes it once committed. */
        dc_entry_t *e = dc_registry_peek(self->ctx->registry, name);
        if (e) {
            out->status = DC_STATUS_OK;
            out->found = dc_entry_ref(e);
            return;
        }
        uint64_t timeout = op->timeout_ms ? op->timeout_ms : DC_WAIT_DEFAULT_MS;
        if (timeout > DC_WAIT_MAX_MS)
            timeout = DC_WAIT_MAX_MS;
        waiter_t *w = calloc(1, sizeof *w);
        if (!w) {
            s_say(out, DC_STATUS_ERROR, "Out of memory");
            return;
        }
        w->id = ++self->next_waiter_id;
        w->route = op->route;
        w->version = op->version;
        op->route = NULL;
        w->next = zhashx_lookup(self->waiters, op->name);
        zhashx_update(self->waiters, op->name, w);
        self->waiter_count++;
        s_timer_push(self, now + timeout, w->id, op->name);
        out->parked = true;
        return;
    }
    }
}

/*==== Persisting and applying ====*/

/* Writes the sequence counters into the open transaction. Returns 0 or -1. */
static int s_save_seqs(writer_t *self)
{
    if (dc_store_meta_set(self->store, "change_seq", self->change_seq) != 0 ||
        dc_store_meta_set(self->store, "lease_seq", self->lease_seq) != 0 ||
        dc_store_meta_set(self->store, "event_seq", self->event_seq) != 0)
        return -1;
    return 0;
}

static int s_persist(writer_t *self)
{
    if (dc_store_begin(self->store) != 0)
        return -1;
    uint64_t now_wall = dc_wall_ms();
    int rc = 0;
    for (size_t i = 0; i < self->change_count && rc == 0; i++) {
        const dc_change_t *c = &self->changes[i];
        switch (c->kind) {
        case DC_CHANGE_TOPIC_PUT: {
            const dc_entry_t *e = c->entry;
            dc_stored_topic_t t = {e->topic,         e->create_seq,    e->lease_id,
                                   e->metadata.data, e->metadata.size, e->registered_at_ms};
            rc = dc_store_put_topic(self->store, &t);
            break;
        }
        case DC_CHANGE_TOPIC_REMOVE:
            rc = dc_store_delete_topic(self->store, c->entry->topic.name);
            break;
        case DC_CHANGE_LEASE_PUT:
            rc = dc_store_put_lease(self->store, c->lease_id, c->lease_ttl_ms, now_wall);
            break;
        case DC_CHANGE_LEASE_REMOVE:
            rc = dc_store_delete_lease(self->store, c->lease_id);
            break;
        case DC_CHANGE_NODE_PUT: {
            const dc_node_t *n = c->node;
            dc_stored_node_t s = {n->name,
                                  n->description,
                                  n->capabilities_blob.data,
                                  n->capabilities_blob.size,
                                  n->metadata.data,
                                  n->metadata.size,
                                  n->lease_id};
            rc = dc_store_put_node(self->store, &s);
            break;
        }
        case DC_CHANGE_NODE_REMOVE:
            rc = dc_store_delete_node(self->store, c->node->name);
            break;
        }
    }
    if (rc == 0)
        rc = s_save_seqs(self);
    dc_failpoint("slow-commit");
    dc_failpoint("before-commit");
    if (rc == 0)
        rc = dc_store_commit(self->store);
    if (rc != 0)
        dc_store_rollback(self->store);
    else
        dc_failpoint("after-commit");
    return rc;
}

static void s_publish(writer_t *self, const dc_change_t *c)
{
    if (!self->events || !c->event_seq)
        return;
    const char *name;
    bool involuntary = strcmp(c->reason, "unregistered") != 0 && strcmp(c->reason, "revoked") != 0;
    switch (c->kind) {
    case DC_CHANGE_TOPIC_PUT:
        name = c->replaces ? "topic.updated" : "topic.added";
        break;
    case DC_CHANGE_TOPIC_REMOVE:
        name = involuntary ? "topic.expired" : "topic.removed";
        break;
    case DC_CHANGE_NODE_PUT:
        name = "node.added";
        break;
    case DC_CHANGE_NODE_REMOVE:
        name = involuntary ? "node.expired" : "node.removed";
        break;
    default:
        return;
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    bool topic = c->kind == DC_CHANGE_TOPIC_PUT || c->kind == DC_CHANGE_TOPIC_REMOVE;
    bool metadata = topic && c->entry->metadata.data;
    msgpack_pack_map(&pk, 5 + metadata);
    dc_mp_pack_str(&pk, "seq", 3);
    msgpack_pack_uint64(&pk, c->event_seq);
    dc_mp_pack_str(&pk, "reason", 6);
    dc_mp_pack_str(&pk, c->reason, (size_t)-1);
    dc_mp_pack_str(&pk, "epoch", 5);
    msgpack_pack_uint64(&pk, self->ctx->epoch);
    dc_mp_pack_str(&pk, "lease_id", 8);
    msgpack_pack_uint64(&pk, topic ? c->entry->lease_id : c->node->lease_id);
    if (topic) {
        dc_mp_pack_str(&pk, "topic_info", 10);
        msgpack_pack_bin(&pk, c->entry->blob.size);
        msgpack_pack_bin_body(&pk, c->entry->blob.data, c->entry->blob.size);
        if (metadata) {
            dc_mp_pack_str(&pk, "metadata", 8);
            msgpack_sbuffer_write(&buf, (const char *)c->entry->metadata.data,
                                  c->entry->metadata.size);
        }
    } else {
        dc_mp_pack_str(&pk, "node", 4);
        dc_node_pack(c->node, &pk, NULL, 0);
    }
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, name);
    zmsg_addmem(msg, buf.data, buf.size);
    zmsg_send(&msg, self->events);
    msgpack_sbuffer_destroy(&buf);
    DC_STAT_INC(self->ctx, events);
}

static void s_answer_waiter(writer_t *self, waiter_t *w, const dc_entry_t *e)
{
    dc_reply_t r;
    memset(&r, 0, sizeof r);
    r.version = w->version;
    r.epoch = self->ctx->epoch;
    char message[DC_MAX_NAME_LEN + 32];
    if (e) {
        r.status = DC_STATUS_OK;
        r.topic_info = e->blob;
        r.metadata = e->metadata;
    } else {
        r.status = DC_STATUS_NOT_FOUND;
        snprintf(message, sizeof message, "Timed out waiting for the topic");
        r.message = message;
    }
    zframe_t *frame = dc_reply_frame(&r);
    if (frame)
        dc_reply_route_send(&w->route, &frame, 'A', self->replies);
    zmsg_destroy(&w->route);
}

/* Answers every WAIT held for e's name. */
static void s_wake(writer_t *self, const dc_entry_t *e)
{
    if (self->waiter_count == 0)
        return;
    waiter_t *w = zhashx_lookup(self->waiters, e->topic.name.ptr);
    if (!w)
        return;
    zhashx_delete(self->waiters, e->topic.name.ptr);
    while (w) {
        waiter_t *next = w->next;
        s_answer_waiter(self, w, e);
        free(w);
        self->waiter_count--;
        w = next;
    }
    atomic_store(&self->ctx->stats.waiters, self->waiter_count);
}

static void s_apply(writer_t *self, dc_change_t *c, uint64_t now)
{
    switch (c->kind) {
    case DC_CHANGE_TOPIC_PUT: {
        dc_entry_t *e = c->entry;
        dc_info("REGISTER topic %s address %s node %s type %s fingerprint %llu lease %llu "
                "(seq %llu)",
                e->topic.name.ptr, e->topic.address.ptr, e->topic.publisher_node.ptr,
                e->topic.message_type.ptr, (unsigned long long)e->topic.fingerprint,
                (unsigned long long)e->lease_id, (unsigned long long)c->seq);
        DC_STAT_INC(self->ctx, registrations);
        if (e->lease_id) {
            dc_lease_t *l = dc_leases_find(self->ctx->leases, e->lease_id);
            if (l && dc_lease_attach_topic(l, e->topic.name.ptr) != 0)
                dc_error("out of memory attaching %s to lease %llu", e->topic.name.ptr,
                         (unsigned long long)e->lease_id);
        }
        /* The registry takes the change's reference; e stays valid here. */
        dc_registry_put(self->ctx->registry, e);
        c->entry = NULL;
        s_publish(self, &(dc_change_t){.seq = c->seq,
                                       .kind = c->kind,
                                       .entry = e,
                                       .replaces = c->replaces,
                                       .reason = c->reason,
                                       .event_seq = c->event_seq});
        s_wake(self, e);
        break;
    }
    case DC_CHANGE_TOPIC_REMOVE: {
        dc_entry_t *e = c->entry;
        dc_info("UNREGISTER topic %s (%s, seq %llu)", e->topic.name.ptr, c->reason,
                (unsigned long long)c->seq);
        if (!strcmp(c->reason, "unregistered"))
            DC_STAT_INC(self->ctx, unregistrations);
        else if (!strcmp(c->reason, "expired"))
            DC_STAT_INC(self->ctx, topics_expired);
        else if (!strcmp(c->reason, "endpoint-dead") || !strcmp(c->reason, "legacy-ttl"))
            DC_STAT_INC(self->ctx, endpoints_dead);
        s_publish(self, c);
        dc_registry_remove(self->ctx->registry, e->topic.name);
        dc_entry_unref(&c->entry);
        break;
    }
    case DC_CHANGE_LEASE_PUT: {
        dc_lease_t *l =
            dc_lease_new(c->lease_id, c->lease_ttl_ms, now + c->lease_ttl_ms, dc_wall_ms());
        if (!l) {
            dc_error("out of memory creating lease %llu", (unsigned long long)c->lease_id);
            break;
        }
        dc_leases_add(self->ctx->leases, l);
        s_timer_push(self, l->expires_mono_ms, l->id, NULL);
        dc_debug("lease %llu granted (ttl %llu ms)", (unsigned long long)c->lease_id,
                 (unsigned long long)c->lease_ttl_ms);
        break;
    }
    case DC_CHANGE_LEASE_REMOVE:
        dc_info("lease %llu %s", (unsigned long long)c->lease_id, c->reason);
        if (!strcmp(c->reason, "expired"))
            DC_STAT_INC(self->ctx, leases_expired);
        dc_leases_remove(self->ctx->leases, c->lease_id);
        break;
    case DC_CHANGE_NODE_PUT: {
        dc_node_t *n = c->node;
        dc_info("REGISTER node %s lease %llu (seq %llu)", n->name, (unsigned long long)n->lease_id,
                (unsigned long long)c->seq);
        if (n->lease_id) {
            dc_lease_t *l = dc_leases_find(self->ctx->leases, n->lease_id);
            if (l) {
                free(l->node);
                l->node = strdup(n->name);
            }
        }
        s_publish(self, c);
        dc_nodes_put(self->ctx->nodes, n);
        c->node = NULL;
        break;
    }
    case DC_CHANGE_NODE_REMOVE:
        dc_info("UNREGISTER node %s (%s, seq %llu)", c->node->name, c->reason,
                (unsigned long long)c->seq);
        s_publish(self, c);
        dc_nodes_remove(self->ctx->nodes, dc_str_from(c->node->name));
        dc_node_unref(&c->node);
        break;
    }
}

/* Persists and applies the pending changes. Returns true when they are
 * committed (or there were none). */
static bool s_commit(writer_t *self, uint64_t seqs[3])
{
    if (self->change_count == 0)
        return true;
    bool stored = s_persist(self) == 0;
    uint64_t now = dc_mono_ms();
    if (stored) {
        atomic_fetch_add_explicit(&self->ctx->stats.commits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&self->ctx->stats.batched_writes, self->change_count,
                                  memory_order_relaxed);
        for (size_t i = 0; i < self->change_count; i++)
            s_apply(self, &self->changes[i], now);
    } else {
        DC_STAT_INC(self->ctx, commit_failures);
        dc_error("cannot save %zu change(s): %s", self->change_count, dc_store_errmsg(self->store));
        self->change_seq = seqs[0];
        self->lease_seq = seqs[1];
        self->event_seq = seqs[2];
    }
    for (size_t i = 0; i < self->change_count; i++) {
        dc_entry_unref(&self->changes[i].entry);
        dc_node_unref(&self->changes[i].node);
    }
    self->change_count = 0;
    return stored;
}

/*==== Replies ====*/

static dedup_slot_t *s_dedup_slot(writer_t *self, uint64_t request_id)
{
    uint64_t h = request_id * 0x9e3779b97f4a7c15ULL;
    return &self->dedup[(h >> 32) & (DC_DEDUP_SLOTS - 1)];
}

static void s_reply(writer_t *self, dc_write_op_t *op, outcome_t *out, bool stored)
{
    zframe_t *frame = out->cached;
    out->cached = NULL;
    bool storage_error = out->change >= 0 && !stored;
    if (!frame) {
        if (storage_error) {
            out->status = DC_STATUS_ERROR;
            out->has_lease = false;
            snprintf(out->message, sizeof out->message, "Storage error, not saved: %.200s",
                     dc_store_errmsg(self->store));
        }
        dc_reply_t r;
        memset(&r, 0, sizeof r);
        r.status = out->status;
        r.message = out->found ? "" : out->message;
        r.version = op->version;
        r.epoch = self->ctx->epoch;
        r.has_lease = out->has_lease;
        r.lease_id = out->lease_id;
        r.lease_ttl_ms = out->lease_ttl_ms;
        if (out->found) {
            r.topic_info = out->found->blob;
            r.metadata = out->found->metadata;
        }
        frame = dc_reply_frame(&r);
        if (out->status == DC_STATUS_ERROR)
            DC_STAT_INC(self->ctx, errors);
        /* Remember definitive answers only: a storage error must be retried. */
        if (frame && op->has_request_id && !storage_error) {
            dedup_slot_t *slot = s_dedup_slot(self, op->request_id);
            zframe_destroy(&slot->reply);
            slot->request_id = op->request_id;
            slot->reply = zframe_dup(frame);
        }
    }
    dc_entry_unref(&out->found);
    if (frame && op->route)
        dc_reply_route_send(&op->route, &frame, 'A', self->replies);
    zframe_destroy(&frame);
}

static void s_process_batch(writer_t *self, dc_write_op_t **ops, size_t n)
{
    static __thread outcome_t outcomes[DC_MAX_BATCH];
    int64_t net_new = 0;
    uint64_t seqs[3] = {self->change_seq, self->lease_seq, self->event_seq};
    uint64_t now = dc_mono_ms();

    for (size_t i = 0; i < n; i++) {
        outcome_t *out = &outcomes[i];
        memset(out, 0, offsetof(outcome_t, message));
        out->message[0] = 0;
        out->change = -1;
        out->has_lease = false;
        out->found = NULL;
        out->cached = NULL;
        out->parked = false;
        if (ops[i]->has_request_id) {
            dedup_slot_t *slot = s_dedup_slot(self, ops[i]->request_id);
            if (slot->reply && slot->request_id == ops[i]->request_id) {
                out->cached = zframe_dup(slot->reply);
                DC_STAT_INC(self->ctx, deduplicated);
                continue;
            }
        }
        s_decide(self, ops[i], out, &net_new, now);
    }
    bool stored = s_commit(self, seqs);
    for (size_t i = 0; i < n; i++) {
        if (!outcomes[i].parked)
            s_reply(self, ops[i], &outcomes[i], stored);
        dc_write_op_destroy(&ops[i]);
    }
    atomic_store(&self->ctx->stats.waiters, self->waiter_count);
}

/*==== Timers: expiry, WAIT time-outs, saving renewals ====*/

static void s_time_out_waiter(writer_t *self, const char *name, uint64_t id)
{
    waiter_t *head = zhashx_lookup(self->waiters, name);
    waiter_t **link = &head;
    while (*link && (*link)->id != id)
        link = &(*link)->next;
    waiter_t *w = *link;
    if (!w)
        return; /* already answered */
    *link = w->next;
    if (head)
        zhashx_update(self->waiters, name, head);
    else
        zhashx_delete(self->waiters, name);
    s_answer_waiter(self, w, NULL);
    free(w);
    self->waiter_count--;
    atomic_store(&self->ctx->stats.waiters, self->waiter_count);
}

/* The database file was deleted under us: start a new one and write the
 * whole registry into it, in one transaction, from memory. */
static void s_rebuild_database(writer_t *self)
{
    dc_error("!!! database file %s was deleted or replaced while running: recreating it from "
             "memory !!!",
             self->ctx->config->db_path);
    if (dc_store_reopen(self->store) != 0) {
        dc_error("cannot recreate the database: %s (will retry)", dc_store_errmsg(self->store));
        return;
    }
    dc_entry_t **entries = NULL;
    size_t n = dc_registry_snapshot(self->ctx->registry, NULL, &entries);
    dc_node_t **nodes = NULL;
    size_t node_count = dc_nodes_find(self->ctx->nodes, (dc_str_t){NULL, 0}, &nodes);
    int rc = n == (size_t)-1 || node_count == (size_t)-1 ? -1 : dc_store_begin(self->store);
    uint64_t now_wall = dc_wall_ms();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const dc_entry_t *e = entries[i];
        uint64_t ttl = e->lease_id ? dc_leases_ttl(self->ctx->leases, e->lease_id) : 0;
        if (ttl)
            rc = dc_store_put_lease(self->store, e->lease_id, ttl, now_wall);
        dc_stored_topic_t t = {e->topic,         e->create_seq,    e->lease_id,
                               e->metadata.data, e->metadata.size, e->registered_at_ms};
        if (rc == 0)
            rc = dc_store_put_topic(self->store, &t);
    }
    for (size_t i = 0; rc == 0 && i < node_count; i++) {
        const dc_node_t *nd = nodes[i];
        uint64_t ttl = nd->lease_id ? dc_leases_ttl(self->ctx->leases, nd->lease_id) : 0;
        if (ttl)
            rc = dc_store_put_lease(self->store, nd->lease_id, ttl, now_wall);
        dc_stored_node_t sn = {nd->name,
                               nd->description,
                               nd->capabilities_blob.data,
                               nd->capabilities_blob.size,
                               nd->metadata.data,
                               nd->metadata.size,
                               nd->lease_id};
        if (rc == 0)
            rc = dc_store_put_node(self->store, &sn);
    }
    if (rc == 0)
        rc = dc_store_meta_set(self->store, "epoch", self->ctx->epoch);
    if (rc == 0)
        rc = s_save_seqs(self);
    if (rc == 0)
        rc = dc_store_commit(self->store);
    if (rc != 0) {
        dc_store_rollback(self->store);
        dc_error("cannot rebuild the database: %s (will retry)", dc_store_errmsg(self->store));
    } else
        dc_info("database recreated with %zu topic(s) and %zu node(s)", n, node_count);
    if (n != (size_t)-1)
        dc_registry_release_snapshot(entries, n);
    if (node_count != (size_t)-1)
        dc_nodes_release(nodes, node_count);
}

static void s_run_timers(writer_t *self)
{
    uint64_t now = dc_mono_ms();
    self->timers_ran_ms = now;
    uint64_t seqs[3] = {self->change_seq, self->lease_seq, self->event_seq};
    uint64_t expired[64];
    size_t expired_count = 0;
    while (self->timer_count > 0 && self->timers[0].deadline <= now && expired_count < 64) {
        timer_t_ t = s_timer_pop(self);
        if (t.name) {
            s_time_out_waiter(self, t.name, t.id);
            free(t.name);
            continue;
        }
        uint64_t expiry = dc_leases_expiry(self->ctx->leases, t.id);
        if (expiry == 0)
            continue; /* revoked or already expired */
        if (expiry > now) {
            s_timer_push(self, expiry, t.id, NULL); /* renewed meanwhile */
            continue;
        }
        /* Expire in the same transaction as others due now. */
        size_t removed = s_remove_lease_changes(self, t.id, "expired");
        expired[expired_count++] = t.id;
        dc_info("lease %llu expired: %zu topic(s) to remove", (unsigned long long)t.id, removed);
    }
    if (self->change_count > 0 && !s_commit(self, seqs)) {
        /* Not saved, so not applied: try these leases again in a second. */
        for (size_t i = 0; i < expired_count; i++)
            s_timer_push(self, now + 1000, expired[i], NULL);
    }
    if (now >= self->next_flush_ms) {
        self->next_flush_ms = now + DC_LEASE_FLUSH_MS;
        if (dc_store_file_gone(self->store))
            s_rebuild_database(self);
        else if (dc_store_readonly(self->store)) {
            /* Opened read-only (no write permission): try again each second,
             * so registrations resume once the permissions are fixed. */
            if (dc_store_reopen(self->store) == 0 && !dc_store_readonly(self->store))
                dc_info("database %s is writable again", self->ctx->config->db_path);
        }
        uint64_t *ids = NULL, *times = NULL;
        size_t n = dc_leases_take_dirty(self->ctx->leases, &ids, &times);
        if (n > 0) {
            int rc = dc_store_begin(self->store);
            for (size_t i = 0; i < n && rc == 0; i++)
                rc = dc_store_touch_lease(self->store, ids[i], times[i]);
            if (rc == 0)
                rc = dc_store_commit(self->store);
            if (rc != 0) {
                dc_store_rollback(self->store);
                dc_warn("cannot save %zu lease renewal(s): %s", n, dc_store_errmsg(self->store));
            }
        }
        free(ids);
        free(times);
    }
}

/* Answers every held WAIT with NOT_FOUND (the daemon is stopping). */
static void s_flush_waiters(writer_t *self)
{
    for (waiter_t *w = zhashx_first(self->waiters); w; w = zhashx_next(self->waiters)) {
        while (w) {
            waiter_t *next = w->next;
            s_answer_waiter(self, w, NULL);
            free(w);
            w = next;
        }
    }
    zhashx_purge(self->waiters);
    self->waiter_count = 0;
    atomic_store(&self->ctx->stats.waiters, 0);
}

/*==== The actor ====*/

static int s_setup(writer_t *self)
{
    self->pull = zsock_new(ZMQ_PULL);
    self->replies = zsock_new(ZMQ_PUSH);
    self->waiters = zhashx_new();
    if (!self->pull || !self->replies || !self->waiters ||
        zsock_bind(self->pull, "%s", self->ctx->writes_endpoint) != 0 ||
        zsock_connect(self->replies, "%s", self->ctx->replies_endpoint) != 0) {
        dc_error("writer: cannot set up its inproc sockets");
        return -1;
    }
    const char *events = self->ctx->config->events_endpoint;
    if (events) {
        const char *path = dc_ipc_path(events);
        if (path && dc_ipc_prepare(path) != 0)
            return -1;
        self->events = zsock_new(ZMQ_PUB);
        if (!self->events || zsock_bind(self->events, "%s", events) < 0) {
            dc_error("cannot bind the events endpoint %s: %s", events, zmq_strerror(zmq_errno()));
            return -1;
        }
        const dc_config_t *config = self->ctx->config;
        if (path && dc_ipc_secure(path, config->ipc_mode, config->ipc_group,
                                  config->ipc_group_explicit) != 0)
            return -1;
    }
    self->change_seq = dc_store_meta_get(self->store, "change_seq");
    self->lease_seq = dc_store_meta_get(self->store, "lease_seq");
    self->event_seq = dc_store_meta_get(self->store, "event_seq");
    return 0;
}

static void s_teardown(writer_t *self)
{
    if (self->waiters)
        s_flush_waiters(self);
    zhashx_destroy(&self->waiters);
    zsock_destroy(&self->pull);
    zsock_destroy(&self->replies);
    if (self->events) {
        zsock_destroy(&self->events);
        const char *path = dc_ipc_path(self->ctx->config->events_endpoint);
        if (path && path[0] != '@')
            unlink(path);
    }
    for (size_t i = 0; i < DC_DEDUP_SLOTS; i++)
        zframe_destroy(&self->dedup[i].reply);
    for (size_t i = 0; i < self->timer_count; i++)
        free(self->timers[i].name);
    free(self->timers);
    free(self->changes);
}

/* Restored leases: queue their expiry checks (called from the actor). */
static void s_schedule_restored(writer_t *self, const uint64_t *ids, const uint64_t *expiries,
                                size_t n)
{
    for (size_t i = 0; i < n; i++)
        s_timer_push(self, expiries[i], ids[i], NULL);
}

/* Appends waiting ops to batch[n..]; when n > 0 on entry, first waits up to
 * 1 ms for more. Returns the new count. */
static size_t s_drain(writer_t *self, dc_write_op_t **batch, size_t n)
{
    long timeout = n > 0 ? 1 : 0;
    while (n < DC_MAX_BATCH) {
        zmq_pollitem_t item = {zsock_resolve(self->pull), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, timeout) <= 0)
            break;
        timeout = 0;
        void *op = NULL;
        if (zsock_recv(self->pull, "p", &op) != 0 || !op)
            break;
        batch[n++] = op;
    }
    return n;
}

void dc_writer_actor(zsock_t *pipe, void *arg)
{
    dc_writer_args_t *args = arg;
    writer_t *self = calloc(1, sizeof *self);
    zsock_signal(pipe, 0);
    if (!self) {
        zstr_send(pipe, "FAILED");
        return;
    }
    self->ctx = args->ctx;
    self->store = args->store;
    if (s_setup(self) != 0) {
        s_teardown(self);
        free(self);
        zstr_send(pipe, "FAILED");
        return;
    }
    s_schedule_restored(self, args->restored_ids, args->restored_expiries, args->restored_count);
    self->next_flush_ms = dc_mono_ms() + DC_LEASE_FLUSH_MS;
    zstr_send(pipe, "READY");

    dc_write_op_t *batch[DC_MAX_BATCH];
    zmq_pollitem_t items[2] = {{zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
                               {zsock_resolve(self->pull), 0, ZMQ_POLLIN, 0}};
    bool running = true;
    while (running) {
        uint64_t now = dc_mono_ms();
        /* Proof of life for the systemd watchdog (the front checks it). */
        atomic_store_explicit(&self->ctx->writer_beat_ms, now, memory_order_relaxed);
        uint64_t next = self->next_flush_ms;
        if (self->timer_count > 0 && self->timers[0].deadline < next)
            next = self->timers[0].deadline;
        if (next < self->timers_ran_ms + DC_TIMER_SLACK_MS)
            next = self->timers_ran_ms + DC_TIMER_SLACK_MS;
        long timeout = next > now ? (long)(next - now) : 0;
        int rc = zmq_poll(items, 2, timeout);
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) {
            char *command = zstr_recv(pipe);
            if (!command || streq(command, "$TERM"))
                running = false;
            else if (streq(command, "FLUSH"))
                s_flush_waiters(self);
            zstr_free(&command);
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
            size_t expected = 0;
            for (int i = 0; i < 4; i++)
                if (self->recent[i] > expected)
                    expected = self->recent[i];
            uint64_t gather_start = dc_mono_us();
            while (n > 0 && running && expected > 1 && n < expected &&
                   dc_mono_us() - gather_start < 1000) {
                size_t before = n;
                n = s_drain(self, batch, n);
                if (n == before)
                    break; /* nothing came within 1 ms: commit what we have */
            }
            if (n > 0) {
                self->recent[self->recent_next++ % 4] = n;
                s_process_batch(self, batch, n);
            }
        } while (!running && n > 0);
        s_run_timers(self);
    }
    s_teardown(self);
    free(self);
}
