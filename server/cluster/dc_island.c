/* dc_island.c: serving this computer while cut off, merging on healing (see
 * the .h). */
#include "dc_island.h"
#include "dc_clock.h"
#include "dc_log.h"
#include "dc_protocol.h"
#include "dc_state_copy.h"

#include <stdlib.h>
#include <string.h>

/* Island leases are checked for expiry this often. */
#define DC_ISLAND_EXPIRY_MS 200

/*==== The provisional writes ====*/

static int s_keep(cluster_t *self, uint64_t seq, const void *bytes, size_t size)
{
    dc_island_t *is = &self->island;
    if (is->count == is->cap) {
        size_t cap = is->cap ? is->cap * 2 : 16;
        dc_island_op_t *grown = realloc(is->ops, cap * sizeof *grown);
        if (!grown)
            return -1;
        is->ops = grown;
        is->cap = cap;
    }
    void *copy = malloc(size ? size : 1);
    if (!copy)
        return -1;
    memcpy(copy, bytes, size);
    is->ops[is->count++] = (dc_island_op_t){seq, copy, size, false};
    if (seq >= is->next_seq)
        is->next_seq = seq + 1;
    atomic_store(&self->ctx->cluster.provisional, is->count);
    return 0;
}

static int s_loaded(void *arg, uint64_t seq, const void *op, size_t size)
{
    return s_keep(arg, seq, op, size);
}

static void s_forget(cluster_t *self, uint64_t seq)
{
    dc_island_t *is = &self->island;
    for (size_t i = 0; i < is->count; i++)
        if (is->ops[i].seq == seq) {
            free(is->ops[i].bytes);
            memmove(&is->ops[i], &is->ops[i + 1], (is->count - i - 1) * sizeof *is->ops);
            is->count--;
            break;
        }
    dc_fsm_flush(&self->fsm); /* its transaction is not ours to commit */
    if (dc_store_delete_provisional(self->store, seq) != 0)
        dc_error("cannot remove provisional write %llu: %s", (unsigned long long)seq,
                 dc_store_errmsg(self->store));
    atomic_store(&self->ctx->cluster.provisional, is->count);
}

void dc_island_init(cluster_t *self)
{
    dc_island_t *is = &self->island;
    memset(is, 0, sizeof *is);
    is->next_seq = 1;
    is->rejoined = true; /* nothing to tell until isolated */
    if (dc_store_load_provisional(self->store, s_loaded, self) != 0)
        dc_error("cannot read the provisional writes: %s", dc_store_errmsg(self->store));
    if (is->count)
        dc_warn("%zu provisional write(s) saved while cut off from the cluster: merged once a "
                "leader is known",
                is->count);
}

void dc_island_fini(cluster_t *self)
{
    dc_island_t *is = &self->island;
    for (size_t i = 0; i < is->count; i++)
        free(is->ops[i].bytes);
    free(is->ops);
    dc_changes_free(&is->base);
    dc_changes_free(&is->batch);
    memset(is, 0, sizeof *is);
}

bool dc_island_active(const cluster_t *self)
{
    return self->island.active;
}

/*==== Deciding alone ====*/

/* Keeps the committed state (the first time the island changes it). */
static int s_hold_base(cluster_t *self)
{
    dc_island_t *is = &self->island;
    if (is->active)
        return 0;
    dc_changes_clear(&is->base);
    if (dc_state_dump(self->state, &is->base) != 0) {
        dc_changes_clear(&is->base);
        return -1;
    }
    is->active = true;
    dc_events_provisional(self->pipeline.events, true);
    return 0;
}

/* A lease granted here to op: asked for by the same id when merged. */
static void s_remember_lease(dc_write_op_t *op, const dc_outcome_t *out)
{
    if (out->changed && out->has_lease && op->has_lease_ttl && !op->has_lease_id)
        op->want_lease_id = out->lease_id;
}

/* The island's own leases (granted in changes) are renewed here alone: a
 * promotion keeps their expiry (dc_lessor_promote). */
static void s_own_leases(cluster_t *self, const dc_changes_t *changes)
{
    for (size_t i = 0; i < changes->count; i++)
        if (changes->items[i].kind == DC_REC_LEASE_GRANT) {
            dc_lease_t *l = dc_leases_find(self->state->leases, changes->items[i].lease_id);
            if (l)
                l->own_expiry = true;
        }
}

/* Decides op against the state and applies what it changes (live: events,
 * waits, the log). Returns the outcome in out. */
static void s_decide_apply(cluster_t *self, dc_write_op_t *op, dc_outcome_t *out)
{
    dc_changes_t batch = {0};
    dc_decider_t d;
    dc_decider_init(&d, self->state, self->config, &batch, dc_mono_ms(), dc_wall_ms());
    d.island = true;
    dc_pipeline_decide(&self->pipeline, &d, op, out);
    s_remember_lease(op, out);
    uint64_t now = dc_mono_ms();
    for (size_t i = 0; i < batch.count; i++)
        dc_apply(self->state, &batch.items[i], now, &self->pipeline.observer);
    s_own_leases(self, &batch);
    dc_changes_free(&batch);
}

/* Saves op (its forwarded form) as the next provisional write. */
static int s_save(cluster_t *self, const dc_write_op_t *op)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    int rc = dc_write_op_encode(op, &buf);
    uint64_t seq = self->island.next_seq;
    dc_fsm_flush(&self->fsm); /* its transaction is not ours to commit */
    if (rc == 0)
        rc = dc_store_put_provisional(self->store, seq, buf.data, buf.size);
    if (rc == 0)
        rc = s_keep(self, seq, buf.data, buf.size);
    msgpack_sbuffer_destroy(&buf);
    return rc;
}

static bool s_island_kind(dc_op_kind_t kind)
{
    switch (kind) {
    case DC_OP_REGISTER:
    case DC_OP_UNREGISTER:
    case DC_OP_REVOKE_LEASE:
    case DC_OP_REGISTER_NODE:
    case DC_OP_UNREGISTER_NODE:
    case DC_OP_SUBSCRIBE:
    case DC_OP_UNSUBSCRIBE:
        return true;
    default:
        return false;
    }
}

bool dc_island_take(cluster_t *self, dc_cop_t *c)
{
    dc_island_t *is = &self->island;
    if (!is->isolated || self->config->isolated == DC_ISOLATED_READ_ONLY || self->stopping)
        return false;
    dc_write_op_t *op = c->op;
    /* Not the prober's removals: what others registered stays as last known.
     * Not a write another member forwarded while this one led (it waits for
     * a leader, as the other member's own: retried, never refused here). */
    if (!s_island_kind(op->kind) || c->peer)
        return false;
    else if (!op->principal.here) {
        char message[160];
        snprintf(message, sizeof message,
                 "Member %llu is isolated from its cluster: it takes writes from its own "
                 "computer only until the link heals",
                 (unsigned long long)self->config->member_id);
        dc_cluster__fail(self, c, message);
        return true;
    }
    if (s_hold_base(self) != 0) {
        dc_cluster__fail(self, c, "Out of memory");
        return true;
    }
    if (is->taken_count == DC_MAX_BATCH)
        dc_island_flush(self);
    if (is->taken_count == 0) {
        dc_decider_init(&is->decider, self->state, self->config, &is->batch, dc_mono_ms(),
                        dc_wall_ms());
        is->decider.island = true;
    }
    dc_pipeline_decide(&self->pipeline, &is->decider, op, &c->out);
    s_remember_lease(op, &c->out);
    is->taken[is->taken_count++] = c;
    DC_STAT_INC(self->ctx, island_writes);
    return true;
}

void dc_island_flush(cluster_t *self)
{
    dc_island_t *is = &self->island;
    if (!is->taken_count)
        return;
    dc_stored_provisional_t rows[DC_MAX_BATCH];
    msgpack_sbuffer bytes[DC_MAX_BATCH];
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < is->taken_count; i++) {
        dc_cop_t *c = is->taken[i];
        if (!c->out.changed)
            continue;
        msgpack_sbuffer_init(&bytes[n]);
        if (dc_write_op_encode(c->op, &bytes[n]) != 0)
            rc = -1;
        rows[n] = (dc_stored_provisional_t){is->next_seq + n, bytes[n].data, bytes[n].size};
        n++;
    }
    dc_fsm_flush(&self->fsm); /* its transaction is not ours to commit */
    if (rc == 0 && n)
        rc = dc_store_put_provisionals(self->store, rows, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = s_keep(self, rows[i].seq, rows[i].op, rows[i].size);
    if (rc == 0) {
        uint64_t now = dc_mono_ms();
        for (size_t i = 0; i < is->batch.count; i++)
            dc_apply(self->state, &is->batch.items[i], now, &self->pipeline.observer);
        s_own_leases(self, &is->batch);
    } else
        dc_error("cannot save %zu provisional write(s): %s", n, dc_store_errmsg(self->store));
    dc_changes_clear(&is->batch);
    for (size_t i = 0; i < n; i++)
        msgpack_sbuffer_destroy(&bytes[i]);
    for (size_t i = 0; i < is->taken_count; i++) {
        dc_cop_t *c = is->taken[i];
        if (rc != 0 && c->out.changed) {
            c->out.status = DC_STATUS_ERROR;
            c->out.has_lease = false;
            snprintf(c->out.message, sizeof c->out.message,
                     "Isolated, and the write could not be saved: not applied");
        }
        c->out.provisional = c->out.status == DC_STATUS_OK;
        dc_cluster__finish(self, c);
    }
    is->taken_count = 0;
}

/* This island's own leases whose holder stopped renewing: removed here, and
 * the removal merges too (a REVOKE_LEASE of the id). A lease an earlier
 * island merged is the cluster's: left as last known. */
typedef struct {
    uint64_t ids[64];
    size_t count;
    uint64_t now;
} due_t;

static void s_due(void *arg, dc_lease_t *l)
{
    due_t *d = arg;
    if (l->own_expiry && l->expires_mono_ms <= d->now && d->count < 64)
        d->ids[d->count++] = l->id;
}

static void s_expire(cluster_t *self, uint64_t now)
{
    due_t due = {.now = now};
    dc_leases_each(self->state->leases, s_due, &due);
    for (size_t i = 0; i < due.count; i++) {
        dc_write_op_t *op = calloc(1, sizeof *op);
        if (!op)
            return;
        op->kind = DC_OP_REVOKE_LEASE;
        op->version = 2;
        op->has_lease_id = true; /* carried when merged */
        op->lease_id = due.ids[i];
        op->has_request_id = true;
        op->request_id = dc_request_id_start();
        op->origin = self->config->member_id;
        op->principal.access = DC_ACCESS_LOCAL;
        op->principal.here = true;
        dc_outcome_t out;
        s_decide_apply(self, op, &out);
        if (out.changed && s_save(self, op) != 0)
            dc_error("cannot save the expiry of lease %llu: %s", (unsigned long long)op->lease_id,
                     dc_store_errmsg(self->store));
        dc_info("island lease %llu expired", (unsigned long long)op->lease_id);
        dc_write_op_destroy(&op);
    }
}

/* Isolated again (after a restart, or after a heal that did not last): the
 * saved writes are decided and applied again, so this computer's processes
 * find what they registered. */
static void s_reapply(cluster_t *self)
{
    dc_island_t *is = &self->island;
    if (!is->count || is->active || s_hold_base(self) != 0)
        return;
    char err[DC_ERR_LEN];
    for (size_t i = 0; i < is->count; i++) {
        dc_write_op_t *op = dc_write_op_decode(is->ops[i].bytes, is->ops[i].size, err);
        if (!op)
            continue;
        op->principal.here = true;
        /* A lease it was granted here that is still held (kept across a
         * heal that did not last): attached to, so its holder's renewals
         * go on counting for these writes. */
        if (op->want_lease_id && dc_leases_find(self->state->leases, op->want_lease_id)) {
            op->has_lease_ttl = false;
            op->has_lease_id = true;
            op->lease_id = op->want_lease_id;
            op->want_lease_id = 0;
        }
        dc_outcome_t out;
        s_decide_apply(self, op, &out);
        dc_write_op_destroy(&op);
    }
    /* The state holds them again: lookups find them there. */
    dc_overlay_clear(self->ctx->merging);
}

/*==== Healing ====*/

/* The island's own leases, kept alive across the state's return to its
 * base (their holders go on renewing them) with the time they have left:
 * the merged grant finds them there. */
typedef struct {
    uint64_t id[256], ttl[256], expires[256];
    char owner[256][DC_KEY_LEN + 1];
    size_t count;
} shadows_t;

static void s_shadow(void *arg, dc_lease_t *l)
{
    shadows_t *s = arg;
    if (l->own_expiry && s->count < 256) {
        s->id[s->count] = l->id;
        s->ttl[s->count] = l->ttl_ms;
        snprintf(s->owner[s->count], sizeof s->owner[s->count], "%s", l->owner);
        s->expires[s->count++] = l->expires_mono_ms;
    }
}

/* Once every provisional write is answered: lookups are the committed
 * state's alone again (what merged is committed; what was refused is the
 * cluster's), and the kept island leases nothing was merged onto (their
 * writes were refused) are dropped. */
static void s_drop_shadows(cluster_t *self)
{
    dc_island_t *is = &self->island;
    if (is->count)
        return;
    if (dc_overlay_active(self->ctx->merging))
        dc_overlay_clear(self->ctx->merging);
    if (!is->shadow_count)
        return;
    for (size_t i = 0; i < is->shadow_count; i++) {
        dc_lease_t *l = dc_leases_find(self->state->leases, is->shadows[i]);
        if (l && !l->topic_count && !l->node)
            dc_leases_remove(self->state->leases, is->shadows[i]);
        else if (l)
            l->own_expiry = false; /* merged: renewed through the leader from now on */
    }
    is->shadow_count = 0;
}

void dc_island_before_apply(void *cluster)
{
    cluster_t *self = cluster;
    dc_island_t *is = &self->island;
    if (!is->active)
        return;
    shadows_t shadows = {.count = 0};
    dc_leases_each(self->state->leases, s_shadow, &shadows);
    /* Back to what the cluster committed: the log applies to that. What the
     * island changed stays, for this computer's lookups, as it was told
     * (dc_overlay.h) until the last provisional write is answered. */
    dc_overlay_clear(self->ctx->merging);
    if (dc_state_restore(self->state, &is->base, dc_mono_ms(),
                         is->count ? self->ctx->merging : NULL) != 0)
        dc_error("out of memory going back to the committed state: emptied it first");
    dc_changes_clear(&is->base);
    is->active = false;
    /* Listeners list again: the committed stream reuses the seqs the
     * provisional events had. */
    dc_events_rejoined(self->pipeline.events, self->state->event_seq);
    is->rejoined = true;
    for (size_t i = 0; i < shadows.count && is->shadow_count < 256; i++) {
        /* In the base already: a lease an earlier island merged, or this
         * one's kept across a heal that did not last (the base held it):
         * it keeps its time all the same. */
        dc_lease_t *l = dc_leases_find(self->state->leases, shadows.id[i]);
        if (l)
            dc_leases_set_expiry(self->state->leases, shadows.id[i], shadows.expires[i]);
        else if ((l = dc_lease_new(shadows.id[i], shadows.ttl[i], shadows.expires[i],
                                   dc_wall_ms()))) {
            snprintf(l->owner, sizeof l->owner, "%s", shadows.owner[i]);
            dc_leases_add(self->state->leases, l);
        }
        if (l) {
            l->own_expiry = true;
            is->shadows[is->shadow_count++] = shadows.id[i];
        }
    }
    dc_info("state back to the cluster's committed one: %zu provisional write(s) to merge",
            is->count);
}

/* Sends the provisional writes not yet sent to the leader, oldest first. */
static void s_merge(cluster_t *self)
{
    dc_island_t *is = &self->island;
    char err[DC_ERR_LEN];
    for (size_t i = 0; i < is->count; i++) {
        dc_island_op_t *p = &is->ops[i];
        if (p->sent)
            continue;
        dc_write_op_t *op = dc_write_op_decode(p->bytes, p->size, err);
        dc_cop_t *c = op ? calloc(1, sizeof *c) : NULL;
        if (!c) {
            dc_write_op_destroy(&op);
            continue;
        }
        c->op = op;
        c->island_seq = p->seq;
        c->deadline = dc_mono_ms() + DC_WRITE_DEADLINE_MS;
        p->sent = true;
        dc_cops_push(&self->queue, c);
    }
}

void dc_island_lease_left(cluster_t *self, dc_cop_t *c)
{
    dc_write_op_t *op = c->op;
    if (!c->island_seq || !op || !op->want_lease_id)
        return;
    uint64_t expires = dc_leases_expiry(self->state->leases, op->want_lease_id);
    uint64_t now = dc_mono_ms();
    if (expires)
        op->want_lease_left_ms = expires > now ? expires - now : 1;
}

/* The provisional write seq, or NULL when answered already. */
static dc_island_op_t *s_find(dc_island_t *is, uint64_t seq)
{
    for (size_t i = 0; i < is->count; i++)
        if (is->ops[i].seq == seq)
            return &is->ops[i];
    return NULL;
}

void dc_island_answered(cluster_t *self, dc_cop_t *c)
{
    dc_island_t *is = &self->island;
    const dc_write_op_t *op = c->op;
    dc_island_op_t *p = s_find(is, c->island_seq);
    /* Sent twice (once before an isolation that did not wait for its answer,
     * once after): its request_id made it apply once, the first answer
     * counted. */
    if (!p)
        return;
    const char *what = op->entry ? op->entry->topic.name.ptr : op->name ? op->name : "";
    if (c->out.status == DC_STATUS_OK) {
        DC_STAT_INC(self->ctx, island_merged);
        s_forget(self, c->island_seq);
        s_drop_shadows(self);
        return;
    }
    /* Not answered by a leader that decided it (none, or a member that had
     * just stopped leading): sent again. */
    bool no_leader = c->out.status == DC_STATUS_ERROR &&
                     (strstr(c->out.message, "No cluster leader") ||
                      strstr(c->out.message, "No answer from the cluster leader") ||
                      strstr(c->out.message, "is isolated from its cluster") ||
                      strstr(c->out.message, "Out of memory") ||
                      strstr(c->out.message, "Shutting down"));
    if (no_leader) { /* not answered: sent again once a leader is there */
        p->sent = false;
        return;
    }
    /* The cluster refused it: what it committed meanwhile wins. */
    DC_STAT_INC(self->ctx, island_conflicts);
    const char *node = op->entry            ? op->entry->topic.publisher_node.ptr
                       : op->publisher_node ? op->publisher_node
                                            : "";
    dc_warn("merge conflict: %s %s by %s, taken while this member was isolated, was refused by "
            "the cluster: %s (the cluster's state wins)",
            op->kind == DC_OP_SUBSCRIBE ? "subscription to" : "topic", what, node, c->out.message);
    bool sub = op->kind == DC_OP_SUBSCRIBE || op->kind == DC_OP_UNSUBSCRIBE;
    dc_events_conflict(self->pipeline.events, self->state->event_seq,
                       sub ? "subscription" : "topic", what, node, c->out.message);
    s_forget(self, c->island_seq);
    /* A follower still on the island's state whose last write was refused:
     * no entry comes for it, so the state goes back now (the refused write
     * leaves this computer's view too). */
    if (!is->count && !self->leader)
        dc_island_before_apply(self);
    s_drop_shadows(self);
}

/* The leader this member follows, once it is heard from again some time
 * after libraft first named it (four heartbeat intervals, at least 20 ms),
 * else 0. A link that heals delivers what its TCP connection held since the
 * cut: the heartbeats of a leader that has stepped down since, all at once.
 * libraft takes them for its leader's (same term) until its election timer
 * runs out; one burst is not a leader, and the island goes on serving. */
static uint64_t s_live_leader(cluster_t *self)
{
    dc_island_t *is = &self->island;
    if (self->leader)
        return self->config->member_id;
    raft_id id = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &id, &address);
    if (!id) {
        is->heard_leader = 0;
        return 0;
    }
    /* A follower's election timer restarts at each message of its leader. */
    raft_time contact = self->raft.election_timer_start;
    if (id != is->heard_leader) {
        is->heard_leader = id;
        is->heard_first = contact;
        is->leader_live = false;
    }
    /* A burst is read in more than one turn of the loop when the board is
     * busy: half a heartbeat (2.5 ms) was once taken for a leader's life in
     * a CI run. A live leader is heard every heartbeat; 20 ms is nothing to
     * wait for it. */
    unsigned gap = self->heartbeat_ms * 4 > 20 ? self->heartbeat_ms * 4 : 20;
    if (contact >= is->heard_first + gap)
        is->leader_live = true;
    return is->leader_live ? id : 0;
}

/* A live leader (leader): no longer isolated, and the provisional writes not
 * yet sent go to the leader. The state goes back to its base now when this
 * member leads (it decides against the committed state) or has nothing to
 * merge; a follower keeps the island's until the first entry or snapshot from
 * the leader is applied (dc_island_before_apply) or its last provisional
 * write is refused (dc_island_answered), so this computer's processes go on
 * finding what they registered while their writes travel to the leader and
 * back. */
static void s_rejoin(cluster_t *self, uint64_t leader, bool leading)
{
    dc_island_t *is = &self->island;
    is->no_leader_since = 0;
    if (is->isolated) {
        is->isolated = false;
        atomic_store(&self->ctx->cluster.isolated, false);
        dc_warn("member %llu reaches its cluster again (leader %llu): merging %zu "
                "provisional write(s)",
                (unsigned long long)self->config->member_id, (unsigned long long)leader,
                is->count);
    }
    /* A leader decides against the committed state; with nothing left to
     * merge (the island changed nothing that lasted) no entry of ours will
     * come to put the state back. */
    if (leading || !is->count)
        dc_island_before_apply(self);
    /* Published with the state's return to its base when it still has to go
     * back; at once when the island changed nothing. */
    if (!is->rejoined && !is->active) {
        dc_events_rejoined(self->pipeline.events, self->state->event_seq);
        is->rejoined = true;
    }
    s_merge(self);
}

void dc_island_leading(cluster_t *self)
{
    s_rejoin(self, self->config->member_id, true);
}

void dc_island_poll(cluster_t *self)
{
    if (!self->island.isolated || self->leader)
        return;
    uint64_t leader = s_live_leader(self);
    if (leader)
        s_rejoin(self, leader, false);
}

void dc_island_tick(cluster_t *self, uint64_t now)
{
    dc_island_t *is = &self->island;
    uint64_t leader = s_live_leader(self);
    if (leader) {
        s_rejoin(self, leader, false);
        return;
    }
    if (!is->no_leader_since)
        is->no_leader_since = now;
    uint64_t bound = 2 * (uint64_t)self->config->election_timeout_ms;
    if (!is->isolated && now - is->no_leader_since >= bound) {
        is->isolated = true;
        is->rejoined = false;
        atomic_store(&self->ctx->cluster.isolated, true);
        dc_events_isolated(self->pipeline.events, self->state->event_seq,
                           self->config->isolated == DC_ISOLATED_SERVE_LOCAL);
        if (self->config->isolated == DC_ISOLATED_READ_ONLY)
            dc_warn("member %llu is isolated (no leader for %llu ms): read-only until the link "
                    "heals",
                    (unsigned long long)self->config->member_id, (unsigned long long)bound);
        else
            dc_warn("member %llu is isolated (no leader for %llu ms): serving this computer's "
                    "writes, provisionally, until the link heals",
                    (unsigned long long)self->config->member_id, (unsigned long long)bound);
        if (self->config->isolated == DC_ISOLATED_SERVE_LOCAL) {
            s_reapply(self);
            /* What this computer sent meanwhile, waiting for a leader: here. */
            dc_cop_list_t keep = {0};
            dc_cop_t *c;
            while ((c = dc_cops_pop(&self->queue)))
                if (c->island_seq || !dc_island_take(self, c))
                    dc_cops_push(&keep, c);
            self->queue = keep;
            dc_island_flush(self);
        }
        for (size_t i = 0; i < is->count; i++)
            is->ops[i].sent = false; /* unanswered merges wait for the next leader */
    }
    if (is->isolated && self->config->isolated == DC_ISOLATED_SERVE_LOCAL &&
        now >= is->next_expiry) {
        is->next_expiry = now + DC_ISLAND_EXPIRY_MS;
        s_expire(self, now);
    }
}
