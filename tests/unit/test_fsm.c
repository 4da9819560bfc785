/* test_fsm.c: the registry as a Raft state machine, on libraft's own
 * deterministic fixture (three in-memory servers, simulated time and network):
 * replicated records give identical states and event seqs everywhere; a
 * killed leader is replaced and catches up; a partitioned minority commits
 * nothing and converges after healing; a lagging server is brought up to date
 * by a snapshot; a committed entry that does not decode is skipped alike by
 * every member. Also the forwarded-op codec (server/state/dc_write_op.c). */
#include "dc_decide.h"
#include "dc_fsm.h"
#include "dc_state_copy.h"
#include "dc_test.h"

#include <raft/fixture.h>
#include <stdlib.h>

#define N 3

typedef struct {
    dc_state_t s;
    dc_stats_t stats;
    dc_fsm_t fsm;
    dc_observer_t observer;
    uint64_t events[256];
    int event_count;
} member_t;

static member_t s_members[N];
static struct raft_fixture s_f;
static dc_config_t s_config;

static void s_observe(void *arg, const dc_applied_t *a)
{
    member_t *m = arg;
    if (a->event_seq && m->event_count < 256)
        m->events[m->event_count++] = a->event_seq;
}

static void s_setup(unsigned snapshot_threshold)
{
    memset(&s_f, 0, sizeof s_f); /* initialize does not forget a closed fixture's servers */
    CHECK(raft_fixture_initialize(&s_f) == 0);
    for (int i = 0; i < N; i++) {
        member_t *m = &s_members[i];
        memset(m, 0, sizeof *m);
        m->s = (dc_state_t){.registry = dc_registry_new(),
                            .subs = dc_registry_new(),
                            .leases = dc_leases_new(),
                            .nodes = dc_nodes_new(),
                            .dedup = dc_dedup_new(),
                            .stats = &m->stats};
        m->observer = (dc_observer_t){s_observe, m};
        dc_fsm_init(&m->fsm, &m->s, NULL, &m->observer);
        CHECK(raft_fixture_grow(&s_f, &m->fsm.raft) == 0);
    }
    struct raft_configuration conf;
    CHECK(raft_fixture_configuration(&s_f, N, &conf) == 0);
    CHECK(raft_fixture_bootstrap(&s_f, &conf) == 0);
    raft_configuration_close(&conf);
    for (int i = 0; i < N; i++) {
        struct raft *r = raft_fixture_get(&s_f, (unsigned)i);
        dc_fsm_attach(&s_members[i].fsm, r);
        if (snapshot_threshold) {
            raft_set_snapshot_threshold(r, snapshot_threshold);
            raft_set_snapshot_trailing(r, 2);
        }
    }
    CHECK(raft_fixture_start(&s_f) == 0);
    for (int i = 0; i < N; i++)
        CHECK(dc_fsm_check_start(&s_members[i].fsm) == 0);
}

static void s_teardown(void)
{
    raft_fixture_close(&s_f);
    for (int i = 0; i < N; i++) {
        member_t *m = &s_members[i];
        dc_fsm_close(&m->fsm);
        dc_registry_destroy(&m->s.registry);
        dc_registry_destroy(&m->s.subs);
        dc_leases_destroy(&m->s.leases);
        dc_nodes_destroy(&m->s.nodes);
        dc_dedup_destroy(&m->s.dedup);
    }
}

/* The state as bytes (its dump, encoded), for comparing members. */
static bool s_same(int a, int b)
{
    msgpack_sbuffer x, y;
    msgpack_sbuffer *bufs[] = {&x, &y};
    int who[] = {a, b};
    for (int k = 0; k < 2; k++) {
        dc_changes_t dump = {0};
        msgpack_sbuffer_init(bufs[k]);
        dc_state_t copy = s_members[who[k]].s;
        copy.applied_index = 0; /* the index differs by the entries each skipped, not content */
        dc_state_dump(&copy, &dump);
        dc_changes_encode(&dump, bufs[k]);
        dc_changes_free(&dump);
    }
    bool same = x.size == y.size && memcmp(x.data, y.data, x.size) == 0;
    msgpack_sbuffer_destroy(&x);
    msgpack_sbuffer_destroy(&y);
    return same;
}

typedef struct {
    struct raft_apply req;
    int status;
    bool done;
} proposal_t;

static void s_applied_cb(struct raft_apply *req, int status, void *result)
{
    (void)result;
    proposal_t *p = req->data;
    p->status = status;
    p->done = true;
}

/* Decides a registration on server i (as the leader would) and proposes it.
 * Returns raft_apply's result. */
static int s_propose_register(unsigned i, const char *name, proposal_t *p)
{
    member_t *m = &s_members[i];
    dc_changes_t batch = {0};
    dc_decider_t d;
    dc_decider_init(&d, &m->s, &s_config, &batch, 1000, 5000);
    dc_write_op_t *op = calloc(1, sizeof *op);
    dc_topic_t t = {dc_str_from(name), dc_str_from("ipc:///x"), dc_str_from("T"), dc_str_from("n"),
                    1};
    op->kind = DC_OP_REGISTER;
    op->entry = dc_entry_new(&t, 0, 0, NULL, 0);
    dc_outcome_t out;
    dc_decide(&d, op, &out);
    dc_write_op_destroy(&op);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    dc_changes_encode(&batch, &sb);
    dc_changes_free(&batch);
    struct raft_buffer buf;
    CHECK(dc_fsm_frame(sb.data, sb.size, &buf) == 0);
    msgpack_sbuffer_destroy(&sb);
    memset(p, 0, sizeof *p);
    p->req.data = p;
    int rc = raft_apply(raft_fixture_get(&s_f, i), &p->req, &buf, 1, s_applied_cb);
    if (rc != 0)
        raft_free(buf.base);
    return rc;
}

static bool s_has(int i, const char *name)
{
    dc_entry_t *e = dc_registry_lookup(s_members[i].s.registry, dc_str_from(name));
    bool found = e != NULL;
    dc_entry_unref(&e);
    return found;
}

static unsigned s_leader(void)
{
    CHECK(raft_fixture_step_until_has_leader(&s_f, 10000));
    return raft_fixture_leader_index(&s_f);
}

/* Steps until every live server has applied the leader's last index. */
static void s_settle(void)
{
    unsigned l = s_leader();
    raft_index last = raft_last_index(raft_fixture_get(&s_f, l));
    CHECK(raft_fixture_step_until_applied(&s_f, N, last, 10000));
}

static void test_replication_and_events(void)
{
    s_setup(0);
    unsigned l = s_leader();
    proposal_t p[5];
    char name[32];
    for (int k = 0; k < 5; k++) {
        snprintf(name, sizeof name, "/r/%d", k);
        CHECK(s_propose_register(l, name, &p[k]) == 0);
        s_settle();
        CHECK(p[k].done && p[k].status == 0);
    }
    for (int i = 0; i < N; i++) {
        CHECK(dc_registry_count(s_members[i].s.registry) == 5);
        CHECK(s_members[i].event_count == 5);
        CHECK(memcmp(s_members[i].events, s_members[0].events, 5 * sizeof(uint64_t)) == 0);
        CHECK(s_members[i].s.event_seq == 5);
    }
    CHECK(s_same(0, 1) && s_same(0, 2));
    s_teardown();
}

static void test_lost_leader(void)
{
    s_setup(0);
    unsigned l = s_leader();
    proposal_t p;
    CHECK(s_propose_register(l, "/before", &p) == 0);
    s_settle();
    raft_fixture_kill(&s_f, l);
    CHECK(raft_fixture_step_until_has_no_leader(&s_f, 10000));
    CHECK(raft_fixture_step_until_has_leader(&s_f, 10000));
    unsigned l2 = raft_fixture_leader_index(&s_f);
    CHECK(l2 != l && l2 < N);
    CHECK(s_propose_register(l2, "/after", &p) == 0);
    CHECK(raft_fixture_step_until_applied(&s_f, l2, raft_last_index(raft_fixture_get(&s_f, l2)),
                                          10000));
    CHECK(p.done && p.status == 0);
    CHECK(!s_has((int)l, "/after"));
    raft_fixture_revive(&s_f, l);
    s_settle();
    for (int i = 0; i < N; i++)
        CHECK(s_has(i, "/before") && s_has(i, "/after"));
    CHECK(s_same(0, 1) && s_same(0, 2));
    s_teardown();
}

static void test_partitioned_minority(void)
{
    s_setup(0);
    unsigned l = s_leader();
    /* Cut the leader off: it is the minority now. */
    for (unsigned j = 0; j < N; j++)
        if (j != l) {
            raft_fixture_disconnect(&s_f, l, j);
            raft_fixture_disconnect(&s_f, j, l);
        }
    proposal_t lost;
    CHECK(s_propose_register(l, "/minority", &lost) == 0);
    raft_fixture_step_until_elapsed(&s_f, 3000);
    /* The majority elected another leader; the minority committed nothing. */
    unsigned others[2], k = 0;
    for (unsigned j = 0; j < N; j++)
        if (j != l)
            others[k++] = j;
    struct raft *a = raft_fixture_get(&s_f, others[0]), *b = raft_fixture_get(&s_f, others[1]);
    unsigned l2 = raft_state(a) == RAFT_LEADER ? others[0] : others[1];
    CHECK(raft_state(a) == RAFT_LEADER || raft_state(b) == RAFT_LEADER);
    CHECK(!s_has((int)l, "/minority") && !s_has((int)others[0], "/minority"));
    proposal_t won;
    CHECK(s_propose_register(l2, "/majority", &won) == 0);
    raft_fixture_step_until_elapsed(&s_f, 1000);
    CHECK(won.done && won.status == 0);
    CHECK(s_has((int)others[0], "/majority") && s_has((int)others[1], "/majority"));
    /* Healed: the old leader steps down and its uncommitted entry is gone. */
    for (unsigned j = 0; j < N; j++)
        if (j != l) {
            raft_fixture_reconnect(&s_f, l, j);
            raft_fixture_reconnect(&s_f, j, l);
        }
    raft_fixture_step_until_elapsed(&s_f, 3000);
    s_settle();
    CHECK(lost.done && lost.status != 0);
    for (int i = 0; i < N; i++)
        CHECK(s_has(i, "/majority") && !s_has(i, "/minority"));
    CHECK(s_same(0, 1) && s_same(0, 2));
    s_teardown();
}

static void test_snapshot_to_a_lagging_member(void)
{
    s_setup(4);
    unsigned l = s_leader();
    unsigned lag = (l + 1) % N;
    for (unsigned j = 0; j < N; j++)
        if (j != lag) {
            raft_fixture_disconnect(&s_f, lag, j);
            raft_fixture_disconnect(&s_f, j, lag);
        }
    char name[32];
    proposal_t p;
    for (int k = 0; k < 20; k++) {
        snprintf(name, sizeof name, "/s/%d", k);
        CHECK(s_propose_register(l, name, &p) == 0);
        raft_fixture_step_until_applied(&s_f, l, raft_last_index(raft_fixture_get(&s_f, l)), 2000);
    }
    CHECK(dc_registry_count(s_members[lag].s.registry) == 0);
    for (unsigned j = 0; j < N; j++)
        if (j != lag) {
            raft_fixture_reconnect(&s_f, lag, j);
            raft_fixture_reconnect(&s_f, j, lag);
        }
    raft_fixture_step_until_elapsed(&s_f, 5000);
    s_settle();
    CHECK(dc_registry_count(s_members[lag].s.registry) == 20);
    CHECK(s_same((int)lag, (int)l));
    s_teardown();
}

static void test_undecodable_entry_skipped_alike(void)
{
    s_setup(0);
    unsigned l = s_leader();
    const char junk[] = "\x93\x01\x02 not a record";
    struct raft_buffer buf;
    CHECK(dc_fsm_frame(junk, sizeof junk, &buf) == 0);
    proposal_t p = {0};
    p.req.data = &p;
    CHECK(raft_apply(raft_fixture_get(&s_f, l), &p.req, &buf, 1, s_applied_cb) == 0);
    s_settle();
    proposal_t q;
    CHECK(s_propose_register(l, "/after-junk", &q) == 0);
    s_settle();
    for (int i = 0; i < N; i++) {
        CHECK(s_members[i].fsm.refused == 1);
        CHECK(s_has(i, "/after-junk"));
    }
    CHECK(s_same(0, 1) && s_same(0, 2));
    s_teardown();
}

static void test_forwarded_op_codec(void)
{
    dc_write_op_t *op = calloc(1, sizeof *op);
    static const uint8_t meta[] = {0x81, 0xa1, 'k', 0xa1, 'v'};
    dc_topic_t t = {dc_str_from("/fwd"), dc_str_from("tcp://10.0.0.1:5"), dc_str_from("T"),
                    dc_str_from("node"), 99};
    op->kind = DC_OP_REGISTER;
    op->entry = dc_entry_new(&t, 0, 0, meta, sizeof meta);
    op->version = 2;
    op->has_request_id = true;
    op->request_id = 77;
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 3000;
    op->origin = 2;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    CHECK(dc_write_op_encode(op, &sb) == 0);
    char err[DC_ERR_LEN];
    dc_write_op_t *back = dc_write_op_decode(sb.data, sb.size, err);
    CHECK(back && back->kind == DC_OP_REGISTER && back->version == 2);
    CHECK(back && back->has_request_id && back->request_id == 77 && back->has_lease_ttl &&
          back->lease_ttl_ms == 3000 && !back->has_lease_id && back->origin == 2);
    CHECK(back && back->entry && back->entry->blob.size == op->entry->blob.size &&
          !memcmp(back->entry->blob.data, op->entry->blob.data, op->entry->blob.size) &&
          back->entry->metadata.size == sizeof meta);
    dc_write_op_destroy(&back);
    /* Every truncation is refused, and so are kinds that are not forwarded. */
    int refused = 0;
    for (size_t n = 0; n < sb.size; n++) {
        dc_write_op_t *bad = dc_write_op_decode(sb.data, n, err);
        refused += bad == NULL;
        dc_write_op_destroy(&bad);
    }
    CHECK(refused == (int)sb.size);
    msgpack_sbuffer_destroy(&sb);
    op->kind = DC_OP_WAIT;
    msgpack_sbuffer_init(&sb);
    dc_write_op_encode(op, &sb);
    CHECK(dc_write_op_decode(sb.data, sb.size, err) == NULL && strstr(err, "cannot be forwarded"));
    msgpack_sbuffer_destroy(&sb);
    /* A membership change keeps its id and address. */
    dc_entry_unref(&op->entry);
    op->kind = DC_OP_MEMBER_ADD;
    op->member_id = 4;
    op->address = strdup("10.0.0.4:7400");
    msgpack_sbuffer_init(&sb);
    dc_write_op_encode(op, &sb);
    back = dc_write_op_decode(sb.data, sb.size, err);
    CHECK(back && back->member_id == 4 && !strcmp(back->address, "10.0.0.4:7400"));
    dc_write_op_destroy(&back);
    msgpack_sbuffer_destroy(&sb);
    dc_write_op_destroy(&op);
}

int main(void)
{
    dc_log_set_level(DC_LOG_WARNING);
    dc_config_defaults(&s_config);
    test_replication_and_events();
    test_lost_leader();
    test_partitioned_minority();
    test_snapshot_to_a_lagging_member();
    test_undecodable_entry_skipped_alike();
    test_forwarded_op_codec();
    dc_config_clear(&s_config);
    DC_TEST_END();
}
