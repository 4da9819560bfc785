/* dc_events.c: the event stream and held WAITs (see the .h). */
#include "dc_events.h"
#include "dc_listen.h"
#include "dc_zap.h"
#include "dc_ipc.h"
#include "dc_log.h"
#include "dc_mismatch.h"
#include "dc_overlay.h"
#include "dc_protocol.h"
#include "dc_reply_send.h"
#include "dc_timers.h"

#include <string.h>
#include <unistd.h>

/* WAIT_TOPIC: the default and the longest hold. */
#define DC_WAIT_DEFAULT_MS 30000
#define DC_WAIT_MAX_MS 3600000

typedef struct waiter {
    uint64_t id;
    zmsg_t *route;
    int version;
    char *node; /* the subscriber waiting (protocol 2's node_name), or NULL */
    struct waiter *next;
} waiter_t;

struct dc_events {
    dc_context_t *ctx;
    zsock_t *pub;         /* NULL: no event stream */
    zhashx_t *waiters;    /* topic name -> waiter_t list */
    dc_timers_t timeouts; /* id: waiter id, name: topic */
    uint64_t next_id;
    size_t count;
    bool provisional;       /* an isolated member's own changes: marked so */
    uint64_t provisionals;  /* events published so marked since then */
};

dc_events_t *dc_events_new(dc_context_t *ctx)
{
    dc_events_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    self->waiters = zhashx_new();
    if (!self->waiters) {
        dc_events_destroy(&self);
        return NULL;
    }
    const char *endpoint = ctx->config->events_endpoint;
    if (!endpoint && !ctx->config->http_address)
        return self;
    if (!endpoint) { /* only the HTTP event stream listens */
        self->pub = zsock_new(ZMQ_PUB);
        if (!self->pub || zsock_bind(self->pub, "%s", ctx->events_inproc) != 0) {
            dc_error("cannot bind the events' inproc endpoint");
            dc_events_destroy(&self);
        }
        return self;
    }
    const char *path = dc_ipc_path(endpoint);
    if (path && dc_ipc_prepare(path) != 0) {
        char origin[256];
        dc_error("cannot use the events endpoint %s (set by %s)", endpoint,
                 dc_config_origin(ctx->config, "events", origin, sizeof origin));
        dc_events_destroy(&self);
        return NULL;
    }
    self->pub = zsock_new(ZMQ_PUB);
    if (self->pub && !path)
        dc_zap_serve(ctx->zap, self->pub, DC_ZAP_CLIENTS); /* tcp: subscribers need a key */
    if (self->pub)
        dc_listen_prepare(self->pub);
    if (!self->pub || zsock_bind(self->pub, "%s", endpoint) < 0) {
        char origin[256];
        dc_error("cannot bind the events endpoint %s (set by %s): %s", endpoint,
                 dc_config_origin(ctx->config, "events", origin, sizeof origin),
                 zmq_strerror(zmq_errno()));
        zsock_destroy(&self->pub);
        dc_events_destroy(&self);
        return NULL;
    }
    const dc_config_t *config = ctx->config;
    if (path &&
        dc_ipc_secure(path, config->ipc_mode, config->ipc_group, config->ipc_group_explicit) != 0) {
        dc_events_destroy(&self);
        return NULL;
    }
    /* The HTTP listener's event stream reads the same PUB in-process. */
    if (config->http_address && zsock_bind(self->pub, "%s", ctx->events_inproc) != 0) {
        dc_error("cannot bind the events' inproc endpoint");
        dc_events_destroy(&self);
        return NULL;
    }
    return self;
}

void dc_events_destroy(dc_events_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_events_t *self = *self_p;
    if (self->waiters)
        dc_events_flush(self);
    zhashx_destroy(&self->waiters);
    dc_timers_free(&self->timeouts);
    if (self->pub) {
        zsock_destroy(&self->pub);
        const char *path = self->ctx->config->events_endpoint
                               ? dc_ipc_path(self->ctx->config->events_endpoint)
                               : NULL;
        if (path && path[0] != '@')
            unlink(path);
    }
    free(self);
    *self_p = NULL;
}

/*==== The event stream ====*/

static void s_pack_mismatch(void *arg, const dc_entry_t *pub, const dc_entry_t *sub)
{
    dc_mismatch_pack(pub, sub, arg);
}

/* provisional: true, on the events of an isolated member's own changes. */
static void s_pack_provisional(dc_events_t *self, msgpack_packer *pk)
{
    if (!self->provisional)
        return;
    dc_mp_pack_str(pk, "provisional", 11);
    msgpack_pack_true(pk);
    self->provisionals++;
}

static void s_send(dc_events_t *self, const char *name, const msgpack_sbuffer *buf)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, name);
    zmsg_addmem(msg, buf->data, buf->size);
    zmsg_send(&msg, self->pub);
    DC_STAT_INC(self->ctx, events);
}

/* A subscription's event: {seq, reason, epoch, lease_id, subscription:
 * {topic, node, message_type, fingerprint}, metadata?, mismatch?}. */
static void s_publish_sub(dc_events_t *self, const dc_applied_t *a, msgpack_packer *pk)
{
    const dc_entry_t *e = a->entry;
    bool metadata = e->metadata.data != NULL;
    bool mismatch = a->change->kind == DC_REC_SUB_PUT && a->mismatches;
    msgpack_pack_map(pk, 5 + metadata + mismatch + self->provisional);
    dc_mp_pack_str(pk, "seq", 3);
    msgpack_pack_uint64(pk, a->event_seq);
    dc_mp_pack_str(pk, "reason", 6);
    dc_mp_pack_str(pk, dc_reason_name(a->change->reason), (size_t)-1);
    dc_mp_pack_str(pk, "epoch", 5);
    msgpack_pack_uint64(pk, atomic_load(&self->ctx->epoch));
    dc_mp_pack_str(pk, "lease_id", 8);
    msgpack_pack_uint64(pk, e->lease_id);
    dc_mp_pack_str(pk, "subscription", 12);
    unsigned fields = DC_ENTRY_TOPIC | DC_ENTRY_NODE | DC_ENTRY_TYPE;
    msgpack_pack_map(pk, dc_entry_pair_count(fields));
    dc_entry_pack_pairs(e, fields, pk);
    if (metadata) {
        dc_mp_pack_str(pk, "metadata", 8);
        pk->callback(pk->data, (const char *)e->metadata.data, e->metadata.size);
    }
    if (mismatch) {
        dc_mp_pack_str(pk, "mismatch", 8);
        msgpack_pack_array(pk, a->mismatches);
        dc_mismatch_each(self->ctx->registry, self->ctx->subs, e, true, s_pack_mismatch, pk);
    }
    s_pack_provisional(self, pk);
}

static void s_publish(dc_events_t *self, const dc_applied_t *a)
{
    const dc_change_t *c = a->change;
    bool voluntary = c->reason == DC_REASON_UNREGISTERED || c->reason == DC_REASON_REVOKED;
    const char *name;
    switch (c->kind) {
    case DC_REC_TOPIC_PUT:
        name = a->replaces ? "topic.updated" : "topic.added";
        break;
    case DC_REC_TOPIC_REMOVE:
        name = voluntary ? "topic.removed" : "topic.expired";
        break;
    case DC_REC_NODE_PUT:
        name = "node.added";
        break;
    case DC_REC_NODE_REMOVE:
        name = voluntary ? "node.removed" : "node.expired";
        break;
    case DC_REC_SUB_PUT:
        name = a->replaces ? "subscription.updated" : "subscription.added";
        break;
    case DC_REC_SUB_REMOVE:
        name = voluntary ? "subscription.removed" : "subscription.expired";
        break;
    default:
        return;
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    if (c->kind == DC_REC_SUB_PUT || c->kind == DC_REC_SUB_REMOVE) {
        s_publish_sub(self, a, &pk);
        goto send;
    }
    const dc_entry_t *e = a->entry;
    bool topic = e != NULL;
    bool metadata = topic && e->metadata.data;
    bool mismatch = c->kind == DC_REC_TOPIC_PUT && a->mismatches;
    msgpack_pack_map(&pk, 5 + metadata + topic + mismatch + self->provisional);
    dc_mp_pack_str(&pk, "seq", 3);
    msgpack_pack_uint64(&pk, a->event_seq);
    dc_mp_pack_str(&pk, "reason", 6);
    dc_mp_pack_str(&pk, dc_reason_name(c->reason), (size_t)-1);
    dc_mp_pack_str(&pk, "epoch", 5);
    msgpack_pack_uint64(&pk, atomic_load(&self->ctx->epoch));
    dc_mp_pack_str(&pk, "lease_id", 8);
    msgpack_pack_uint64(&pk, topic ? e->lease_id : a->node->lease_id);
    if (topic) {
        dc_mp_pack_str(&pk, "topic_info", 10);
        msgpack_pack_bin(&pk, e->blob.size);
        msgpack_pack_bin_body(&pk, e->blob.data, e->blob.size);
        /* Which registration, when a topic has several publishers. */
        dc_mp_pack_str(&pk, "publisher_node", 14);
        dc_mp_pack_str(&pk, e->topic.publisher_node.ptr, e->topic.publisher_node.len);
        if (metadata) {
            dc_mp_pack_str(&pk, "metadata", 8);
            msgpack_sbuffer_write(&buf, (const char *)e->metadata.data, e->metadata.size);
        }
        if (mismatch) {
            dc_mp_pack_str(&pk, "mismatch", 8);
            msgpack_pack_array(&pk, a->mismatches);
            dc_mismatch_each(self->ctx->registry, self->ctx->subs, e, false, s_pack_mismatch, &pk);
        }
    } else {
        dc_mp_pack_str(&pk, "node", 4);
        dc_node_pack(a->node, &pk, NULL, 0);
    }
    s_pack_provisional(self, &pk);
send:
    s_send(self, name, &buf);
    msgpack_sbuffer_destroy(&buf);
}

/*==== This member's notices ====*/

/* A notice being packed: {seq, reason, epoch, member, ...extra pairs}; seq
 * is the registry's last event's, not a new one (a notice is not part of the
 * registry's stream). */
typedef struct {
    msgpack_sbuffer buf;
    msgpack_packer pk;
} notice_t;

static void s_notice_begin(dc_events_t *self, notice_t *n, size_t extra, uint64_t seq,
                           const char *reason)
{
    msgpack_sbuffer_init(&n->buf);
    msgpack_packer_init(&n->pk, &n->buf, msgpack_sbuffer_write);
    msgpack_pack_map(&n->pk, 4 + extra);
    dc_mp_pack_str(&n->pk, "seq", 3);
    msgpack_pack_uint64(&n->pk, seq);
    dc_mp_pack_str(&n->pk, "reason", 6);
    dc_mp_pack_str(&n->pk, reason, (size_t)-1);
    dc_mp_pack_str(&n->pk, "epoch", 5);
    msgpack_pack_uint64(&n->pk, atomic_load(&self->ctx->epoch));
    dc_mp_pack_str(&n->pk, "member", 6);
    msgpack_pack_uint64(&n->pk, atomic_load(&self->ctx->cluster.member_id));
}

static void s_notice_send(dc_events_t *self, notice_t *n, const char *name)
{
    s_send(self, name, &n->buf);
    msgpack_sbuffer_destroy(&n->buf);
}

static void s_pack_kv(msgpack_packer *pk, const char *key, const char *value)
{
    dc_mp_pack_str(pk, key, (size_t)-1);
    dc_mp_pack_str(pk, value ? value : "", (size_t)-1);
}

void dc_events_isolated(dc_events_t *self, uint64_t seq, bool serve_local)
{
    if (!self->pub)
        return;
    notice_t n;
    s_notice_begin(self, &n, 1, seq, "no-leader");
    s_pack_kv(&n.pk, "mode", serve_local ? "serve-local" : "read-only");
    s_notice_send(self, &n, "member.isolated");
}

void dc_events_provisional(dc_events_t *self, bool on)
{
    if (on && !self->provisional)
        self->provisionals = 0;
    self->provisional = on;
}

void dc_events_rejoined(dc_events_t *self, uint64_t seq)
{
    uint64_t withdrawn = self->provisionals;
    self->provisional = false;
    self->provisionals = 0;
    if (!self->pub)
        return;
    notice_t n;
    s_notice_begin(self, &n, 1, seq, "leader-known");
    dc_mp_pack_str(&n.pk, "withdrawn", 9);
    msgpack_pack_uint64(&n.pk, withdrawn);
    s_notice_send(self, &n, "member.rejoined");
}

void dc_events_conflict(dc_events_t *self, uint64_t seq, const char *kind, const char *topic,
                        const char *node, const char *message)
{
    if (!self->pub)
        return;
    notice_t n;
    s_notice_begin(self, &n, 1, seq, "merge-conflict");
    dc_mp_pack_str(&n.pk, "conflict", 8);
    msgpack_pack_map(&n.pk, 4);
    s_pack_kv(&n.pk, "kind", kind);
    s_pack_kv(&n.pk, "topic", topic);
    s_pack_kv(&n.pk, "node", node);
    s_pack_kv(&n.pk, "message", message);
    s_notice_send(self, &n, "member.conflict");
}

/*==== Held WAITs ====*/

/* This member's id while it is isolated (its others' registrations are last
 * known then), else 0. */
static uint64_t s_here(dc_context_t *ctx)
{
    return atomic_load(&ctx->cluster.isolated) ? atomic_load(&ctx->cluster.member_id) : 0;
}

/* Answers w: with e (the registration that woke it) and, for protocol 2,
 * every publisher the topic has now; NULL: timed out. */
static void s_answer(dc_events_t *self, waiter_t *w, const dc_entry_t *e)
{
    dc_reply_t r;
    memset(&r, 0, sizeof r);
    r.version = w->version;
    dc_context_stamp(self->ctx, &r);
    msgpack_sbuffer publishers, mismatch;
    msgpack_sbuffer_init(&publishers);
    msgpack_sbuffer_init(&mismatch);
    dc_entry_t **all = NULL;
    size_t count = 0;
    if (e) {
        r.status = DC_STATUS_OK;
        r.topic_info = e->blob;
        r.metadata = e->metadata;
        if (w->version >= 2)
            count = dc_overlay_lookup(self->ctx->merging, self->ctx->registry, e->topic.name,
                                      &all, NULL);
        if (count && count != (size_t)-1) {
            msgpack_packer pk;
            msgpack_packer_init(&pk, &publishers, msgpack_sbuffer_write);
            dc_entry_pack_publishers(all, count, s_here(self->ctx), &pk);
            r.publishers = (dc_blob_t){(const uint8_t *)publishers.data, publishers.size};
        }
        if (w->node && dc_mismatch_for(self->ctx->registry, self->ctx->subs, e->topic.name,
                                       dc_str_from(w->node), &mismatch))
            r.mismatch = (dc_blob_t){(const uint8_t *)mismatch.data, mismatch.size};
    } else {
        r.status = DC_STATUS_NOT_FOUND;
        r.message = "Timed out waiting for the topic";
    }
    dc_stat_reply(&self->ctx->stats, DC_CMD_WAIT_TOPIC, r.status);
    zframe_t *frame = dc_reply_frame(&r);
    if (frame)
        dc_reply_route_hand(&w->route, &frame, self->ctx->answers);
    zmsg_destroy(&w->route);
    if (count && count != (size_t)-1)
        dc_registry_release_snapshot(all, count);
    msgpack_sbuffer_destroy(&publishers);
    msgpack_sbuffer_destroy(&mismatch);
    free(w->node);
    w->node = NULL;
}

static void s_count_changed(dc_events_t *self)
{
    atomic_store(&self->ctx->stats.waiters, self->count);
}

/* Answers every WAIT held for e's name. */
static void s_wake(dc_events_t *self, const dc_entry_t *e)
{
    if (self->count == 0)
        return;
    waiter_t *w = zhashx_lookup(self->waiters, e->topic.name.ptr);
    if (!w)
        return;
    zhashx_delete(self->waiters, e->topic.name.ptr);
    while (w) {
        waiter_t *next = w->next;
        s_answer(self, w, e);
        free(w);
        self->count--;
        w = next;
    }
    s_count_changed(self);
}

void dc_events_applied(dc_events_t *self, const dc_applied_t *a)
{
    if (self->pub && a->event_seq && (a->entry || a->node))
        s_publish(self, a);
    if (a->change->kind == DC_REC_TOPIC_PUT && a->entry)
        s_wake(self, a->entry);
}

void dc_events_wait(dc_events_t *self, dc_write_op_t *op, uint64_t now)
{
    /* Only applied state answers a WAIT (as this computer was told, for a
     * name its island changed: dc_overlay.h); a registration still in the
     * batch wakes it once applied. */
    dc_str_t name = {op->name, op->name_len};
    /* The registry first, then the overlay (dc_overlay_lookup says why). */
    uint64_t mark = dc_overlay_mark(self->ctx->merging);
    dc_entry_t *e = dc_registry_lookup(self->ctx->registry, name);
    if (!dc_overlay_alone(self->ctx->merging, mark)) {
        dc_entry_unref(&e);
        dc_entry_t **all = NULL;
        size_t newest, n = dc_overlay_lookup(self->ctx->merging, self->ctx->registry, name,
                                             &all, &newest);
        if (n && n != (size_t)-1) {
            e = dc_entry_ref(all[newest]);
            dc_registry_release_snapshot(all, n);
        }
    }
    waiter_t *w = calloc(1, sizeof *w);
    if (!w) {
        dc_error("out of memory holding a WAIT for %s", op->name);
        return;
    }
    w->route = op->route;
    w->version = op->version;
    w->node = op->publisher_node; /* the subscriber's node, if it said */
    op->publisher_node = NULL;
    op->route = NULL;
    if (e) {
        s_answer(self, w, e);
        dc_entry_unref(&e);
        free(w);
        return;
    }
    uint64_t timeout = op->timeout_ms ? op->timeout_ms : DC_WAIT_DEFAULT_MS;
    if (timeout > DC_WAIT_MAX_MS)
        timeout = DC_WAIT_MAX_MS;
    w->id = ++self->next_id;
    if (dc_timers_push(&self->timeouts, now + timeout, w->id, op->name) != 0) {
        s_answer(self, w, NULL);
        free(w);
        return;
    }
    w->next = zhashx_lookup(self->waiters, op->name);
    zhashx_update(self->waiters, op->name, w);
    self->count++;
    s_count_changed(self);
}

void dc_events_expire(dc_events_t *self, uint64_t now)
{
    dc_timer_t t;
    while (dc_timers_pop_due(&self->timeouts, now, &t)) {
        waiter_t *head = zhashx_lookup(self->waiters, t.name);
        waiter_t **link = &head;
        while (*link && (*link)->id != t.id)
            link = &(*link)->next;
        waiter_t *w = *link;
        if (w) { /* else answered already */
            *link = w->next;
            if (head)
                zhashx_update(self->waiters, t.name, head);
            else
                zhashx_delete(self->waiters, t.name);
            s_answer(self, w, NULL);
            free(w);
            self->count--;
            s_count_changed(self);
        }
        free(t.name);
    }
}

uint64_t dc_events_next_deadline(const dc_events_t *self)
{
    return dc_timers_next(&self->timeouts);
}

void dc_events_flush(dc_events_t *self)
{
    for (waiter_t *w = zhashx_first(self->waiters); w; w = zhashx_next(self->waiters)) {
        while (w) {
            waiter_t *next = w->next;
            s_answer(self, w, NULL);
            free(w);
            w = next;
        }
    }
    zhashx_purge(self->waiters);
    self->count = 0;
    s_count_changed(self);
}
