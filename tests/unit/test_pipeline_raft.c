/* test_pipeline_raft.c: the write pipeline with the Raft commit
 * (dc_fsm_propose) on libraft's deterministic fixture: three members in one
 * process, each with its own pipeline, queues and state. Ops decided
 * together on the leader are one entry and are answered in order once it is
 * applied; a WAIT held on a follower is answered by the follower's own
 * observer when the entry reaches it; a request_id answered under one leader
 * is answered again, unchanged, by the next; leases are expired by the
 * leader alone. The SQLite commit of the same pipeline is test_writer.c. */
#include "dc_clock.h"
#include "dc_fsm.h"
#include "dc_log.h"
#include "dc_pipeline.h"
#include "dc_protocol.h"
#include "dc_reply_send.h"
#include "dc_test.h"
#include "dc_test_ops.h"
#include "dc_write_op.h"

#include <raft/fixture.h>
#include <stdlib.h>

#define N 3
#define MAX_OPS 8

typedef struct {
    dc_context_t ctx;
    dc_state_t s;
    dc_pipeline_t p;
    dc_fsm_t fsm;
} member_t;

/* One proposal: the ops decided into it and their outcomes, answered when
 * it is applied on the member that proposed it. */
typedef struct {
    struct raft_apply req;
    member_t *m;
    dc_write_op_t *ops[MAX_OPS];
    dc_outcome_t outs[MAX_OPS];
    size_t n;
    int status;
    bool done;
} flight_t;

static member_t s_m[N];
static struct raft_fixture s_f;
static dc_config_t s_config;

static void s_free_answer(void *msg)
{
    zmsg_t *m = msg;
    zmsg_destroy(&m);
}

static void s_setup(void)
{
    dc_config_defaults(&s_config);
    free(s_config.events_endpoint);
    s_config.events_endpoint = NULL; /* no PUB: the observer's other work is tested */
    memset(&s_f, 0, sizeof s_f);
    CHECK(raft_fixture_initialize(&s_f) == 0);
    for (int i = 0; i < N; i++) {
        member_t *m = &s_m[i];
        memset(m, 0, sizeof *m);
        m->ctx.config = &s_config;
        m->ctx.registry = dc_registry_new();
        m->ctx.subs = dc_registry_new();
        m->ctx.leases = dc_leases_new();
        m->ctx.nodes = dc_nodes_new();
        m->ctx.writes = dc_handoff_new(64);
        m->ctx.answers = dc_handoff_new(0);
        m->s = (dc_state_t){.registry = m->ctx.registry,
                            .subs = m->ctx.subs,
                            .leases = m->ctx.leases,
                            .nodes = m->ctx.nodes,
                            .dedup = dc_dedup_new(),
                            .stats = &m->ctx.stats};
        CHECK(dc_pipeline_open(&m->p, &m->ctx, &m->s) == 0);
        dc_fsm_init(&m->fsm, &m->s, NULL, &m->p.observer);
        CHECK(raft_fixture_grow(&s_f, &m->fsm.raft) == 0);
    }
    struct raft_configuration conf;
    CHECK(raft_fixture_configuration(&s_f, N, &conf) == 0);
    CHECK(raft_fixture_bootstrap(&s_f, &conf) == 0);
    raft_configuration_close(&conf);
    for (int i = 0; i < N; i++)
        dc_fsm_attach(&s_m[i].fsm, raft_fixture_get(&s_f, (unsigned)i));
    CHECK(raft_fixture_start(&s_f) == 0);
    for (int i = 0; i < N; i++)
        CHECK(dc_fsm_check_start(&s_m[i].fsm) == 0);
}

static void s_teardown(void)
{
    raft_fixture_close(&s_f);
    for (int i = 0; i < N; i++) {
        member_t *m = &s_m[i];
        dc_fsm_close(&m->fsm);
        dc_pipeline_close(&m->p);
        dc_handoff_destroy(&m->ctx.writes, NULL);
        dc_handoff_destroy(&m->ctx.answers, s_free_answer);
        dc_dedup_destroy(&m->s.dedup);
        dc_registry_destroy(&m->ctx.registry);
        dc_registry_destroy(&m->ctx.subs);
        dc_leases_destroy(&m->ctx.leases);
        dc_nodes_destroy(&m->ctx.nodes);
    }
    dc_config_clear(&s_config);
}

static void s_applied(struct raft_apply *req, int status, void *result)
{
    (void)result;
    flight_t *f = req->data;
    f->status = status;
    f->done = true;
    for (size_t i = 0; i < f->n; i++) {
        if (status == 0)
            dc_pipeline_answer(&f->m->p, f->ops[i], &f->outs[i]);
        dc_write_op_destroy(&f->ops[i]);
    }
}

/* Decides ops[0..n) on member i as its writer would and proposes what they
 * change as one entry; ops that change nothing are answered at once (then
 * nothing is proposed and *proposed is false). Takes the ops. */
static void s_submit(unsigned i, flight_t *f, dc_write_op_t **ops, size_t n, bool *proposed)
{
    member_t *m = &s_m[i];
    memset(f, 0, sizeof *f);
    f->m = m;
    f->req.data = f;
    dc_changes_t batch = {0};
    dc_decider_t d;
    dc_decider_init(&d, &m->s, &s_config, &batch, dc_mono_ms(), dc_wall_ms());
    for (size_t k = 0; k < n; k++) {
        f->ops[k] = ops[k];
        dc_pipeline_decide(&m->p, &d, ops[k], &f->outs[k]);
    }
    f->n = n;
    *proposed = batch.count > 0;
    if (*proposed)
        CHECK(dc_fsm_propose(raft_fixture_get(&s_f, i), &f->req, &batch, s_applied) == 0);
    else
        s_applied(&f->req, 0, NULL);
    dc_changes_free(&batch);
}

/* The next answer on member i's queue: its tag and status (-1: none). */
static int s_answer(unsigned i, char *tag, size_t size)
{
    return dc_test_answer(s_m[i].ctx.answers, 0, tag, size, NULL, 0);
}

static unsigned s_leader(void)
{
    CHECK(raft_fixture_step_until_has_leader(&s_f, 10000));
    return raft_fixture_leader_index(&s_f);
}

/* Steps until the live members have applied the leader's last entry. */
static void s_settle(unsigned leader)
{
    raft_index last = raft_last_index(raft_fixture_get(&s_f, leader));
    for (unsigned i = 0; i < N; i++)
        if (raft_fixture_alive(&s_f, i))
            CHECK(raft_fixture_step_until_applied(&s_f, i, last, 10000));
}

static bool s_has(unsigned i, const char *name)
{
    dc_entry_t *e = dc_registry_lookup(s_m[i].s.registry, dc_str_from(name));
    bool found = e != NULL;
    dc_entry_unref(&e);
    return found;
}

int main(void)
{
    dc_log_set_level(DC_LOG_ERROR);
    s_setup();
    unsigned l = s_leader(), f1 = (l + 1) % N;
    char tag[64];
    bool proposed;
    flight_t fl;

    /* A WAIT held on a follower: its own observer answers it. */
    dc_write_op_t *wait = dc_test_routed(dc_write_op_named(DC_OP_WAIT, dc_str_from("/b/1")), "wait");
    wait->timeout_ms = 60000;
    CHECK(dc_pipeline_take_wait(&s_m[f1].p, &wait, dc_mono_ms()) && wait == NULL);
    CHECK(s_answer(f1, tag, sizeof tag) == -1);

    /* Three registrations decided together: one entry, answered in order. */
    raft_index before = raft_last_index(raft_fixture_get(&s_f, l));
    dc_write_op_t *ops[] = {dc_test_register("/b/0", "/b/0", 0), dc_test_register("/b/1", "/b/1", 0), dc_test_register("/b/2", "/b/2", 0)};
    s_submit(l, &fl, ops, 3, &proposed);
    CHECK(proposed && raft_last_index(raft_fixture_get(&s_f, l)) == before + 1);
    CHECK(!fl.done && s_answer(l, tag, sizeof tag) == -1); /* not before it is applied */
    s_settle(l);
    CHECK(fl.done && fl.status == 0);
    const char *want[] = {"/b/0", "/b/1", "/b/2"};
    for (int k = 0; k < 3; k++)
        CHECK(s_answer(l, tag, sizeof tag) == DC_STATUS_OK && !strcmp(tag, want[k]));
    CHECK(s_answer(l, tag, sizeof tag) == -1);
    CHECK(s_answer(f1, tag, sizeof tag) == DC_STATUS_OK && !strcmp(tag, "wait"));
    CHECK(atomic_load(&s_m[f1].ctx.stats.waiters) == 0);
    for (unsigned i = 0; i < N; i++)
        CHECK(dc_registry_count(s_m[i].s.registry) == 3 && s_m[i].s.event_seq == 3);

    /* A removal with a request_id, answered; its leader dies; the retry on
     * the next leader is answered alike and changes nothing. */
    dc_write_op_t *rm = dc_test_routed(dc_write_op_named(DC_OP_UNREGISTER, dc_str_from("/b/0")), "rm");
    rm->has_request_id = true;
    rm->request_id = 42;
    s_submit(l, &fl, &rm, 1, &proposed);
    s_settle(l);
    CHECK(proposed && s_answer(l, tag, sizeof tag) == DC_STATUS_OK);
    raft_fixture_kill(&s_f, l);
    CHECK(raft_fixture_step_until_has_no_leader(&s_f, 10000));
    unsigned l2 = s_leader();
    CHECK(l2 != l);
    uint64_t seq = s_m[l2].s.event_seq;
    rm = dc_test_routed(dc_write_op_named(DC_OP_UNREGISTER, dc_str_from("/b/0")), "retry");
    rm->has_request_id = true;
    rm->request_id = 42;
    s_submit(l2, &fl, &rm, 1, &proposed);
    CHECK(!proposed && s_answer(l2, tag, sizeof tag) == DC_STATUS_OK && !strcmp(tag, "retry"));
    CHECK(atomic_load(&s_m[l2].ctx.stats.deduplicated) == 1 && s_m[l2].s.event_seq == seq);
    /* The same removal without its id is decided anew: nothing to remove. */
    rm = dc_test_routed(dc_write_op_named(DC_OP_UNREGISTER, dc_str_from("/b/0")), "fresh");
    s_submit(l2, &fl, &rm, 1, &proposed);
    CHECK(!proposed && s_answer(l2, tag, sizeof tag) == DC_STATUS_NOT_FOUND);

    /* Leases: the leader expires them, a follower never does. */
    unsigned f2 = 0;
    while (f2 == l || f2 == l2)
        f2++;
    dc_lessor_promote(&s_m[l2].p.lessor, true);
    dc_write_op_t *leased = dc_test_register("/leased", "/leased", 100);
    s_submit(l2, &fl, &leased, 1, &proposed);
    s_settle(l2);
    CHECK(proposed && s_answer(l2, tag, sizeof tag) == DC_STATUS_OK);
    CHECK(s_has(f2, "/leased") && dc_leases_count(s_m[f2].s.leases) == 1);
    CHECK(dc_lessor_next(&s_m[l2].p.lessor) != UINT64_MAX);
    CHECK(dc_lessor_next(&s_m[f2].p.lessor) == UINT64_MAX);
    uint64_t later = dc_mono_ms() + 1000;
    dc_changes_t batch = {0};
    dc_decider_t d;
    uint64_t ended[4];
    dc_decider_init(&d, &s_m[f2].s, &s_config, &batch, later, dc_wall_ms());
    CHECK(dc_lessor_expire(&s_m[f2].p.lessor, &d, 0, ended, 4) == 0 && batch.count == 0);
    dc_decider_init(&d, &s_m[l2].s, &s_config, &batch, later, dc_wall_ms());
    CHECK(dc_lessor_expire(&s_m[l2].p.lessor, &d, 0, ended, 4) == 1 && batch.count > 0);
    memset(&fl, 0, sizeof fl);
    fl.req.data = &fl;
    fl.m = &s_m[l2];
    CHECK(dc_fsm_propose(raft_fixture_get(&s_f, l2), &fl.req, &batch, s_applied) == 0);
    dc_changes_free(&batch);
    s_settle(l2);
    CHECK(fl.done && fl.status == 0);
    CHECK(!s_has(l2, "/leased") && !s_has(f2, "/leased"));
    CHECK(dc_leases_count(s_m[l2].s.leases) == 0 && dc_leases_count(s_m[f2].s.leases) == 0);
    CHECK(s_m[l2].s.event_seq == s_m[f2].s.event_seq);
    s_teardown();
    DC_TEST_END();
}
