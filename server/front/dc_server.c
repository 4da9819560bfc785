/* dc_server.c: the server's lifecycle: open and load the store, start the
 * front thread (dc_front.c), wait for it, stop (see the .h). */
#include "dc_server.h"
#include "dc_http.h"
#include "dc_lookups.h"
#include "dc_front.h"
#include "dc_lessor.h"
#include "dc_listen.h"
#include "dc_clock.h"
#include "dc_context.h"
#include "dc_datagram.h"
#include "dc_envelope.h"
#include "dc_ipc.h"
#include "dc_notify.h"
#include "dc_overlay.h"
#include "dc_persist.h"
#include "dc_log.h"
#include "dc_protocol.h"
#include "dc_prober.h"
#include "dc_store.h"
#include "dc_quick_reply.h"
#include "dc_worker.h"
#include "dc_write_op.h"
#include "dc_writer.h"
#include "dc_cluster.h"
#include "dc_keys.h"
#include "dc_zap.h"
#include "discod_version.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct dc_server {
    dc_context_t ctx;
    dc_http_t *http; /* the HTTP listener, or NULL */
    dc_store_t *store;
    dc_front_args_t front_args; /* what the front thread was started with */
    zactor_t *front;
    bool stopped;
    dc_state_t state; /* loaded here, then the writer's alone */
};

/*==== Lifecycle ====*/

/* Loads the database into the state, then raises the epoch (a change like
 * any other). Returns 0, or -1 when the database cannot be read. */
static int s_load(dc_server_t *self)
{
    dc_context_t *ctx = &self->ctx;
    dc_state_t *state = &self->state;
    *state = (dc_state_t){.registry = ctx->registry,
                          .subs = ctx->subs,
                          .leases = ctx->leases,
                          .nodes = ctx->nodes,
                          .dedup = dc_dedup_new(),
                          .stats = &ctx->stats};
    if (!state->dedup || dc_persist_load(self->store, state, dc_mono_ms()) != 0)
        return -1;
    if (ctx->config->member_id) {
        /* A member's epoch is the cluster's (replicated); leases live from
         * now until a leader counts them (a new leader gives each a TTL). */
        atomic_store(&ctx->epoch, state->epoch);
        return 0;
    }
    dc_lessor_restore(ctx->leases, ctx->config->lease_grace_ms);
    dc_changes_t batch = {0};
    dc_change_t *c = dc_changes_add(&batch, DC_REC_EPOCH);
    if (!c)
        return -1;
    c->value = state->epoch + 1;
    /* Written directly, not through dc_persist_batch: the writer's crash
     * points (test builds) are for its commits, not for this one at start. */
    int rc = dc_store_begin(self->store);
    if (rc == 0 && (rc = dc_persist_rows(self->store, state, &batch)) == 0)
        rc = dc_store_commit(self->store);
    if (rc != 0) {
        dc_store_rollback(self->store);
        dc_error("cannot persist the epoch (%s): database not writable, serving reads only",
                 dc_store_errmsg(self->store));
    }
    dc_apply(state, c, dc_mono_ms(), NULL);
    dc_changes_free(&batch);
    atomic_store(&ctx->epoch, state->epoch);
    return 0;
}

dc_server_t *dc_server_new(const dc_config_t *config)
{
    dc_server_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    dc_context_t *ctx = &self->ctx;
    ctx->config = config;
    ctx->started_at_ms = dc_wall_ms();
    snprintf(ctx->backend_endpoint, sizeof ctx->backend_endpoint, "inproc://discod-backend-%p",
             (void *)self);
    snprintf(ctx->events_inproc, sizeof ctx->events_inproc, "inproc://discod-events-%p",
             (void *)self);
    ctx->watchdog_ms = dc_notify_watchdog_ms();
    pthread_mutex_init(&ctx->cluster.lock, NULL);
    atomic_store(&ctx->writer_beat_ms, dc_mono_ms());
    ctx->workers = config->workers > 0 ? config->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ctx->workers < 1)
        ctx->workers = 1;
    if (ctx->workers > DC_MAX_WORKERS)
        ctx->workers = DC_MAX_WORKERS;
    uint64_t t0 = dc_mono_ms();
    /* In a cluster the Raft log is the durable record and the database a
     * copy: committed without an fsync each (WAL, synchronous=NORMAL). */
    self->store = dc_store_open(config->db_path, config->member_id ? DC_SYNC_NORMAL : config->sync,
                                config->on_corrupt, config->db_max_size);
    ctx->registry = dc_registry_new();
    ctx->subs = dc_registry_new();
    ctx->merging = dc_overlay_new();
    ctx->lookups = dc_lookups_new();
    ctx->leases = dc_leases_new();
    ctx->nodes = dc_nodes_new();
    ctx->list_cache = dc_list_cache_new();
    /* The ZAP handler first: no tcp socket may take a connection before it. */
    ctx->keys = dc_keys_new(config->curve_clients);
    ctx->zap = ctx->keys ? dc_zap_new(config->curve_key, ctx->keys) : NULL;
    if (!self->store || !ctx->registry || !ctx->subs || !ctx->merging || !ctx->lookups ||
        !ctx->leases || !ctx->nodes || !ctx->list_cache || !ctx->zap) {
        dc_server_destroy(&self);
        return NULL;
    }
    if (s_load(self) != 0) {
        dc_error("cannot load the registry from %s: %s", config->db_path,
                 dc_store_errmsg(self->store));
        dc_server_destroy(&self);
        return NULL;
    }
    uint64_t load_ms = dc_mono_ms() - t0;

    self->front_args = (dc_front_args_t){&self->ctx, self->store, &self->state};
    self->front = zactor_new(dc_front_actor, &self->front_args);
    char *status = self->front ? zstr_recv(self->front) : NULL;
    bool ready = status && streq(status, "READY");
    zstr_free(&status);
    if (!ready) {
        dc_server_destroy(&self);
        return NULL;
    }
    bool http_failed = false;
    self->http = dc_http_start(ctx, &http_failed);
    if (http_failed) {
        dc_server_destroy(&self);
        return NULL;
    }
    char endpoints[1024] = "";
    for (int i = 0; i < config->endpoint_count; i++) {
        size_t used = strlen(endpoints);
        snprintf(endpoints + used, sizeof endpoints - used, "%s%s%s", i ? ", " : "",
                 config->endpoints[i],
                 !ctx->endpoint_is_tcp[i]     ? ""
                 : ctx->endpoint_is_curve[i] ? " (CURVE)"
                                             : " (OPEN: no CURVE)");
    }
    if (dc_zap_curve(ctx->zap))
        dc_info("CURVE on every tcp endpoint: server key %s, %s", dc_zap_public_key(ctx->zap),
                config->curve_clients ? config->curve_clients : "no client keys");
    else if (config->insecure_tcp)
        dc_warn("--insecure-tcp: tcp endpoints and member links take anyone who can reach them");
    char notice[128];
    snprintf(notice, sizeof notice, "READY=1\nSTATUS=serving %zu topic(s), epoch %llu",
             dc_registry_count(ctx->registry), (unsigned long long)atomic_load(&ctx->epoch));
    dc_notify(notice);
    dc_info("discod %s started: endpoints [%s], events %s, database %s (synchronous=%s), "
            "workers %d, epoch %llu, %zu topic(s), %zu lease(s), %zu node(s) loaded in %llu ms",
            DISCOD_VERSION, endpoints, config->events_endpoint ? config->events_endpoint : "none",
            config->db_path,
            config->sync == DC_SYNC_FULL && !config->member_id ? "FULL" : "NORMAL", ctx->workers,
            (unsigned long long)atomic_load(&ctx->epoch), dc_registry_count(ctx->registry),
            dc_leases_count(ctx->leases), dc_nodes_count(ctx->nodes), (unsigned long long)load_ms);
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
    if (self->front)
        dc_notify("STOPPING=1");
    dc_http_stop(&self->http); /* its threads read the tables freed below */
    zactor_destroy(&self->front);
    dc_store_destroy(&self->store);
    dc_registry_destroy(&self->ctx.registry);
    dc_registry_destroy(&self->ctx.subs);
    dc_overlay_destroy(&self->ctx.merging);
    dc_lookups_destroy(&self->ctx.lookups);
    dc_leases_destroy(&self->ctx.leases);
    dc_nodes_destroy(&self->ctx.nodes);
    dc_list_cache_destroy(&self->ctx.list_cache);
    dc_dedup_destroy(&self->state.dedup);
    dc_zap_destroy(&self->ctx.zap);
    dc_keys_destroy(&self->ctx.keys);
    pthread_mutex_destroy(&self->ctx.cluster.lock);
    dc_info("discod stopped");
    free(self);
    *self_p = NULL;
}
