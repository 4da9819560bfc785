/* dc_cluster_start.c: a cluster member's writer starting and stopping: the
 * Raft instance (its directory, bootstrap, the gated transport), the libuv
 * loop and its handles, the actor's body, and a stop that hands leadership
 * over first (see dc_cluster.h and dc_cluster_member.h). */
#include "dc_cluster_member.h"
#include "dc_island.h"
#include "dc_clock.h"
#include "dc_failpoint.h"
#include "dc_log.h"
#include "dc_members.h"
#include "dc_zap.h"
#include "dc_thread.h"

#include <errno.h>
#include <raft/uv.h>
#include <string.h>
#include <sys/stat.h>

static void s_handle_closed(uv_handle_t *handle)
{
    (void)handle;
}

static void s_close_handles(cluster_t *self)
{
    if (self->handles_ready) {
        uv_close((uv_handle_t *)&self->tick, s_handle_closed);
        uv_close((uv_handle_t *)&self->gather, s_handle_closed);
        uv_close((uv_handle_t *)&self->prepare, s_handle_closed);
        uv_close((uv_handle_t *)&self->pipe_poll, s_handle_closed);
        uv_close((uv_handle_t *)&self->pull_poll, s_handle_closed);
        uv_close((uv_handle_t *)&self->router_poll, s_handle_closed);
        self->handles_ready = false;
    }
    dc_cluster__dealer_close(self);
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
    if (raft_state(&self->raft) == RAFT_LEADER)
        dc_info("no member took leadership over in time: stopping as leader");
    else if (leader)
        dc_info("leadership handed to member %llu", (unsigned long long)leader);
    else if (self->raft.current_term > self->transfer_term)
        dc_info("leadership handed to another member"); /* its election is under way */
    else /* same term, no leader: it stepped down, no majority heard */
        dc_info("no member took leadership over in time: stopping (stepped down first, "
                "no majority reachable)");
    /* The hand-over is over, taken or not: close now rather than at the
     * deadline. */
    self->transferring = false;
    dc_cluster__shutdown(self);
}

/* Stops: hands leadership over first when leading, then answers what is
 * left and closes Raft (the loop ends when every handle is closed). */
void dc_cluster__shutdown(cluster_t *self)
{
    if (self->raft_closing)
        return;
    if (!self->stopping) {
        self->stopping = true;
        if (self->leader && self->raft.configuration.n > 1) {
            self->transfer.data = self;
            self->transfer_term = self->raft.current_term;
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
        dc_cluster__fail(self, pending, "Shutting down: the membership change may or may not be done");
    }
    dc_cop_t *c;
    dc_cop_list_t *lists[] = {&self->queue, &self->retry, &self->sent, &self->parked};
    for (int i = 0; i < 4; i++)
        while ((c = dc_cops_pop(lists[i])))
            dc_cluster__fail(self, c, "Shutting down");
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

#ifdef DISCOD_FAILPOINTS
/* drop-snapshot:N (test builds, dc_failpoint.h): the first N snapshots a
 * leader sends this member are dropped on arrival, as a snapshot written
 * into a link that has just died is lost. libraft hears of nothing: its
 * progress waits for the install snapshot time-out. */
static int (*s_io_start)(struct raft_io *, unsigned, raft_io_tick_cb, raft_io_recv_cb);
static raft_io_recv_cb s_io_recv;
static uint64_t s_snapshots_dropped;

static void s_recv_dropping(struct raft_io *io, struct raft_message *m)
{
    if (m->type == RAFT_IO_INSTALL_SNAPSHOT &&
        s_snapshots_dropped < dc_failpoint_value("drop-snapshot")) {
        s_snapshots_dropped++;
        dc_warn("failpoint drop-snapshot: the snapshot at Raft index %llu is dropped",
                (unsigned long long)m->install_snapshot.last_index);
        raft_configuration_close(&m->install_snapshot.conf);
        raft_free(m->install_snapshot.data.base);
        return;
    }
    s_io_recv(io, m);
}

static int s_start_dropping(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                            raft_io_recv_cb recv)
{
    s_io_recv = recv;
    return s_io_start(io, msecs, tick, s_recv_dropping);
}
#endif

/* Passes libraft's io->start through, keeping its tick (s_push_commit
 * calls it between loop callbacks, never from inside libraft's own). */
static int s_start_keeping_tick(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
                                raft_io_recv_cb recv)
{
    struct raft *raft = io->data;
    cluster_t *self = raft->data;
    self->raft_tick = tick;
    return self->io_start(io, msecs, tick, recv);
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
#ifdef DISCOD_FAILPOINTS
    if (dc_failpoint_value("drop-snapshot")) {
        s_io_start = self->io.start;
        self->io.start = s_start_dropping;
    }
#endif
    self->io_start = self->io.start;
    self->io.start = s_start_keeping_tick;
    rc = raft_init(&self->raft, &self->io, &self->fsm.raft, me->id, me->address);
    if (rc != 0) {
        dc_error("cannot start Raft: %s", raft_errmsg(&self->raft));
        return -1;
    }
    self->raft.data = self;
    self->raft_ready = true;
    raft_set_election_timeout(&self->raft, (unsigned)config->election_timeout_ms);
    /* Followers learn the commit index from the leader's next message: a
     * proposal, the heartbeat s_push_commit hurries for a forwarded write,
     * or a heartbeat. 5 ms heartbeats (at the default election timeout)
     * bound what the others wait, for about 1% of a core per member. */
    unsigned heartbeat = (unsigned)(config->election_timeout_ms / 80);
    self->heartbeat_ms = heartbeat < 5 ? 5 : heartbeat > 50 ? 50 : heartbeat;
    raft_set_snapshot_threshold(&self->raft, (unsigned)config->snapshot_threshold);
    raft_set_snapshot_trailing(&self->raft, (unsigned)(config->snapshot_threshold / 4 + 16));
    /* A leader that sent a member a snapshot sends it nothing else until the
     * member says it installed it, or until this time-out. libraft's 30 s
     * default kept a restarted member behind for 30 s whenever that snapshot
     * was lost (written into the link of the process that had just died) or
     * ignored (the member was busy with its own snapshot). A registry's
     * snapshot takes well under a second to send and write on a robot's
     * network and storage; a second try costs only the bytes again. */
    unsigned install = (unsigned)(config->election_timeout_ms * 10);
    raft_set_install_snapshot_timeout(&self->raft, install < 2000    ? 2000
                                                   : install > 30000 ? 30000
                                                                     : install);
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
    /* libraft ticks every heartbeat interval as it is at raft_start: 1 ms
     * here, so that s_push_commit can send a heartbeat within a millisecond;
     * the interval itself is set back right after. A tick that sends
     * nothing costs a timer wake-up (idle: about 2% of a core a member on
     * this project's machine, as with 5 ms ticks). */
    raft_set_heartbeat_timeout(&self->raft, 1);
    rc = raft_start(&self->raft);
    raft_set_heartbeat_timeout(&self->raft, self->heartbeat_ms);
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

static void s_poll(cluster_t *self, uv_poll_t *poll, int fd)
{
    uv_poll_init(&self->loop, poll, fd);
    poll->data = self;
    uv_poll_start(poll, UV_READABLE, dc_cluster__readable);
}

static int s_setup(cluster_t *self)
{
    if (uv_loop_init(&self->loop) != 0)
        return -1;
    self->loop_ready = true;
    if (dc_pipeline_open(&self->pipeline, self->ctx, self->state) != 0 || dc_cluster__bind_router(self) != 0)
        return -1;
    dc_fsm_init(&self->fsm, self->state, self->store, &self->pipeline.observer);
    dc_island_init(self);
    self->fsm.before = dc_island_before_apply; /* the log applies to the committed state */
    self->fsm.before_arg = self;
    dc_lessor_demote(&self->pipeline.lessor); /* a follower until elected */
    if (s_start_raft(self) != 0)
        return -1;
    self->pipe_ready = self->local_ready = self->router_ready = true;
    s_poll(self, &self->pipe_poll, zsock_fd(self->pipe));
    s_poll(self, &self->pull_poll, dc_pipeline_fd(&self->pipeline));
    s_poll(self, &self->router_poll, zsock_fd(self->router));
    uv_prepare_init(&self->loop, &self->prepare);
    self->prepare.data = self;
    uv_prepare_start(&self->prepare, dc_cluster__before_poll);
    uv_timer_init(&self->loop, &self->tick);
    self->tick.data = self;
    uv_timer_start(&self->tick, dc_cluster__tick, DC_TICK_MS, DC_TICK_MS);
    uv_timer_init(&self->loop, &self->gather);
    self->gather.data = self;
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
    dc_island_fini(self);
    if (self->dealer)
        zsock_destroy(&self->dealer);
    zsock_destroy(&self->router);
    dc_pipeline_close(&self->pipeline);
    dc_changes_free(&self->pending);
}

void dc_cluster_actor(zsock_t *pipe, void *arg)
{
    dc_thread_name("dc-cluster");
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
