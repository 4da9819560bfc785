/* test_state.c: the state machine's modules on their own: decide (the owner
 * rule, leases, capacity, removals, request answers), apply (events in
 * order, leases attached), dump/restore (apply, then snapshot, then restore
 * gives the same state, byte for byte), and persist (a batch saved and
 * loaded back, a database rebuilt from memory) on real SQLite files. */
#include "dc_apply.h"
#include "dc_clock.h"
#include "dc_decide.h"
#include "dc_lessor.h"
#include "dc_persist.h"
#include "dc_state_copy.h"
#include "dc_test.h"

#include <stdlib.h>
#include <unistd.h>

static dc_config_t s_config;

typedef struct {
    dc_state_t s;
    dc_stats_t stats;
} fixture_t;

static void s_init(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    f->s = (dc_state_t){.registry = dc_registry_new(),
                        .subs = dc_registry_new(),
                        .leases = dc_leases_new(),
                        .nodes = dc_nodes_new(),
                        .dedup = dc_dedup_new(),
                        .stats = &f->stats};
}

static void s_fini(fixture_t *f)
{
    dc_registry_destroy(&f->s.registry);
    dc_registry_destroy(&f->s.subs);
    dc_leases_destroy(&f->s.leases);
    dc_nodes_destroy(&f->s.nodes);
    dc_dedup_destroy(&f->s.dedup);
}

/* What an observer saw. */
typedef struct {
    uint64_t event_seqs[64];
    int events;
    int leases;
    size_t mismatches;
} seen_t;

static void s_observe(void *arg, const dc_applied_t *a)
{
    seen_t *seen = arg;
    if (a->event_seq && seen->events < 64)
        seen->event_seqs[seen->events++] = a->event_seq;
    seen->leases += a->lease != NULL;
    seen->mismatches += a->mismatches;
}

/* Applies the whole batch and empties it. */
static void s_apply_all(fixture_t *f, dc_changes_t *batch, seen_t *seen)
{
    dc_observer_t o = {s_observe, seen};
    for (size_t i = 0; i < batch->count; i++)
        dc_apply(&f->s, &batch->items[i], 1000, seen ? &o : NULL);
    dc_changes_clear(batch);
}

static dc_write_op_t *s_register_op(const char *name, const char *node)
{
    dc_write_op_t *op = calloc(1, sizeof *op);
    dc_topic_t t = {dc_str_from(name), dc_str_from("ipc:///tmp/x"), dc_str_from("T"),
                    dc_str_from(node), 42};
    op->kind = DC_OP_REGISTER;
    op->entry = dc_entry_new(&t, 0, 0, NULL, 0);
    return op;
}

static dc_write_op_t *s_named_op(dc_op_kind_t kind, const char *name)
{
    return dc_write_op_named(kind, dc_str_from(name));
}

/* name's registration a single-publisher LOOKUP gives, borrowed (the
 * registry keeps its reference), or NULL. */
static dc_entry_t *s_peek(dc_registry_t *r, const char *name)
{
    dc_entry_t *e = dc_registry_lookup(r, dc_str_from(name)), *borrowed = e;
    dc_entry_unref(&e);
    return borrowed;
}

/* Decides op into batch; returns the outcome's status. */
static int s_decide(fixture_t *f, dc_changes_t *batch, dc_write_op_t *op, dc_outcome_t *out)
{
    dc_decider_t d;
    dc_decider_init(&d, &f->s, &s_config, batch, 1000, 5000);
    dc_decide(&d, op, out);
    dc_write_op_destroy(&op);
    return out->status;
}

/* The state as bytes: its dump, encoded. Caller destroys buf. */
static void s_bytes(fixture_t *f, msgpack_sbuffer *buf)
{
    dc_changes_t dump = {0};
    CHECK(dc_state_dump(&f->s, &dump) == 0);
    msgpack_sbuffer_init(buf);
    CHECK(dc_changes_encode(&dump, buf) == 0);
    dc_changes_free(&dump);
}

static bool s_same(fixture_t *a, fixture_t *b)
{
    msgpack_sbuffer x, y;
    s_bytes(a, &x);
    s_bytes(b, &y);
    bool same = x.size == y.size && memcmp(x.data, y.data, x.size) == 0;
    msgpack_sbuffer_destroy(&x);
    msgpack_sbuffer_destroy(&y);
    return same;
}

static void test_owner_rule(void)
{
    fixture_t f;
    s_init(&f);
    dc_changes_t batch = {0};
    dc_outcome_t out;
    CHECK(s_decide(&f, &batch, s_register_op("/a", "n1"), &out) == DC_STATUS_OK);
    CHECK(out.changed && batch.count == 1 && batch.items[0].kind == DC_REC_TOPIC_PUT);
    /* The same batch already holds /a: another node is refused. */
    CHECK(s_decide(&f, &batch, s_register_op("/a", "n2"), &out) == DC_STATUS_ALREADY_EXISTS);
    CHECK(!out.changed && batch.count == 1 && strstr(out.message, "n1"));
    s_apply_all(&f, &batch, NULL);
    uint64_t place = s_peek(f.s.registry, "/a")->create_seq;
    CHECK(place == 1);
    CHECK(s_decide(&f, &batch, s_register_op("/a", "n2"), &out) == DC_STATUS_ALREADY_EXISTS);
    /* The owner registers again: replaced in place. */
    CHECK(s_decide(&f, &batch, s_register_op("/b", "n1"), &out) == DC_STATUS_OK);
    CHECK(s_decide(&f, &batch, s_register_op("/a", "n1"), &out) == DC_STATUS_OK);
    seen_t seen = {0};
    s_apply_all(&f, &batch, &seen);
    CHECK(s_peek(f.s.registry, "/a")->create_seq == place);
    CHECK(s_peek(f.s.registry, "/b")->create_seq == 2);
    CHECK(seen.events == 2 && seen.event_seqs[0] == 2 && seen.event_seqs[1] == 3);
    CHECK(f.s.change_seq == 3 && f.s.event_seq == 3);
    CHECK(atomic_load(&f.stats.registrations) == 2); /* the replay of the first counts not */
    /* Unregister: unknown, then known; removal in the batch is seen. */
    CHECK(s_decide(&f, &batch, s_named_op(DC_OP_UNREGISTER, "/zz"), &out) == DC_STATUS_NOT_FOUND);
    CHECK(s_decide(&f, &batch, s_named_op(DC_OP_UNREGISTER, "/a"), &out) == DC_STATUS_OK);
    CHECK(s_decide(&f, &batch, s_named_op(DC_OP_UNREGISTER, "/a"), &out) == DC_STATUS_NOT_FOUND);
    CHECK(s_decide(&f, &batch, s_register_op("/a", "n2"), &out) == DC_STATUS_OK);
    s_apply_all(&f, &batch, NULL);
    CHECK(
        !strcmp(s_peek(f.s.registry, "/a")->topic.publisher_node.ptr, "n2"));
    dc_changes_free(&batch);
    s_fini(&f);
}

static dc_write_op_t *s_register_typed(const char *name, const char *node, const char *type,
                                       uint64_t fingerprint)
{
    dc_write_op_t *op = s_register_op(name, node);
    dc_topic_t t = op->entry->topic;
    t.message_type = dc_str_from(type);
    t.fingerprint = fingerprint;
    dc_entry_t *typed = dc_entry_new(&t, 0, 0, NULL, 0); /* t views the old entry */
    dc_entry_unref(&op->entry);
    op->entry = typed;
    return op;
}

static dc_write_op_t *s_unregister_op(const char *name, const char *node)
{
    dc_write_op_t *op = s_named_op(DC_OP_UNREGISTER, name);
    if (node)
        op->publisher_node = strdup(node);
    return op;
}

/* publishers_per_topic = 3: one registration per node up to three, one
 * message type, unregister by node, leases and expiry per registration. */
static void test_several_publishers(void)
{
    fixture_t f;
    s_init(&f);
    s_config.publishers_per_topic = 3;
    dc_changes_t batch = {0};
    dc_outcome_t out;
    CHECK(s_decide(&f, &batch, s_register_op("/det", "cam1"), &out) == DC_STATUS_OK);
    /* The batch's own registrations count. */
    CHECK(s_decide(&f, &batch, s_register_op("/det", "cam2"), &out) == DC_STATUS_OK);
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.registry) == 2);
    /* Another type, or another fingerprint of the type: ERROR naming the type. */
    CHECK(s_decide(&f, &batch, s_register_typed("/det", "cam3", "Other", 42), &out) ==
          DC_STATUS_ERROR);
    CHECK(strstr(out.message, "type T") && strstr(out.message, "cam1") && batch.count == 0);
    CHECK(s_decide(&f, &batch, s_register_typed("/det", "cam3", "T", 43), &out) ==
          DC_STATUS_ERROR);
    /* A lease for the third. */
    dc_write_op_t *op = s_register_op("/det", "cam3");
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 2000;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK && out.has_lease);
    uint64_t lease = out.lease_id;
    /* Full: the fourth node is told the limit and who holds the topic. */
    CHECK(s_decide(&f, &batch, s_register_op("/det", "cam4"), &out) ==
          DC_STATUS_ALREADY_EXISTS);
    CHECK(strstr(out.message, "publishers_per_topic = 3") && strstr(out.message, "cam1") &&
          strstr(out.message, "cam3"));
    /* A holder registering again overwrites its own registration, in place. */
    op = s_register_op("/det", "cam1");
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK);
    seen_t seen = {0};
    s_apply_all(&f, &batch, &seen);
    CHECK(dc_registry_count(f.s.registry) == 3 && seen.events == 2);
    dc_entry_t **all = NULL;
    size_t n = dc_registry_lookup_all(f.s.registry, dc_str_from("/det"), &all, NULL);
    CHECK(n == 3 && all[0]->create_seq == 1 && !strcmp(all[0]->topic.publisher_node.ptr, "cam1"));
    dc_registry_release_snapshot(all, n);

    /* Unregister without a node: refused between several, naming them. */
    CHECK(s_decide(&f, &batch, s_unregister_op("/det", NULL), &out) == DC_STATUS_ERROR);
    CHECK(strstr(out.message, "3 publishers") && strstr(out.message, "cam2"));
    CHECK(s_decide(&f, &batch, s_unregister_op("/det", "cam9"), &out) == DC_STATUS_NOT_FOUND);
    CHECK(strstr(out.message, "not registered by cam9"));
    CHECK(s_decide(&f, &batch, s_unregister_op("/det", "cam2"), &out) == DC_STATUS_OK);
    CHECK(batch.count == 1 && !strcmp(batch.items[0].publisher_node, "cam2"));
    CHECK(s_decide(&f, &batch, s_unregister_op("/det", "cam2"), &out) == DC_STATUS_NOT_FOUND);
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.registry) == 2);

    /* The lease of one publisher ending leaves the others. */
    dc_decider_t d;
    dc_decider_init(&d, &f.s, &s_config, &batch, 1000, 5000);
    CHECK(dc_decide_lease_end(&d, lease, DC_REASON_EXPIRED) == 1);
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.registry) == 1);
    CHECK(!strcmp(s_peek(f.s.registry, "/det")->topic.publisher_node.ptr, "cam1"));
    /* One left: unregister by name alone removes it. */
    CHECK(s_decide(&f, &batch, s_unregister_op("/det", NULL), &out) == DC_STATUS_OK);
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.registry) == 0);
    dc_changes_free(&batch);
    s_config.publishers_per_topic = 1;
    s_fini(&f);
}

/* publishers_per_topic = 1, as Cortex: a node naming itself cannot remove
 * another's topic; a holder whose lease ran out is replaced, with a removal
 * the events see. */
static void test_one_publisher_rule(void)
{
    fixture_t f;
    s_init(&f);
    dc_changes_t batch = {0};
    dc_outcome_t out;
    dc_write_op_t *op = s_register_op("/pose", "loc1");
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 2000;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK);
    s_apply_all(&f, &batch, NULL);
    CHECK(s_decide(&f, &batch, s_register_op("/pose", "loc2"), &out) ==
          DC_STATUS_ALREADY_EXISTS);
    CHECK(!strcmp(out.message, "Topic /pose already registered by loc1"));
    CHECK(s_decide(&f, &batch, s_unregister_op("/pose", "loc2"), &out) == DC_STATUS_NOT_FOUND);
    dc_leases_find(f.s.leases, 1)->expires_mono_ms = 10;
    CHECK(s_decide(&f, &batch, s_register_op("/pose", "loc2"), &out) == DC_STATUS_OK);
    CHECK(batch.count == 2 && batch.items[0].kind == DC_REC_TOPIC_REMOVE &&
          batch.items[0].reason == DC_REASON_EXPIRED &&
          !strcmp(batch.items[0].publisher_node, "loc1"));
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.registry) == 1 &&
          !strcmp(s_peek(f.s.registry, "/pose")->topic.publisher_node.ptr, "loc2"));
    dc_changes_free(&batch);
    s_fini(&f);
}

static void test_capacity_and_prober(void)
{
    fixture_t f;
    s_init(&f);
    dc_changes_t batch = {0};
    dc_outcome_t out;
    uint64_t saved = s_config.max_topics;
    s_config.max_topics = 2;
    /* One decider for the batch, as the writer uses: it counts what the
     * batch adds. */
    dc_decider_t d;
    dc_decider_init(&d, &f.s, &s_config, &batch, 1000, 5000);
    const char *names[] = {"/1", "/2", "/3", "/1"};
    int expect[] = {DC_STATUS_OK, DC_STATUS_OK, DC_STATUS_ERROR, DC_STATUS_OK /* not new */};
    for (int i = 0; i < 4; i++) {
        dc_write_op_t *op = s_register_op(names[i], "n");
        dc_decide(&d, op, &out);
        dc_write_op_destroy(&op);
        CHECK(out.status == expect[i]);
        if (i == 2)
            CHECK(strstr(out.message, "Registry full") != NULL);
    }
    s_config.max_topics = saved;
    s_apply_all(&f, &batch, NULL);
    /* The prober's finding removes only the registration it probed. */
    dc_write_op_t *dead = s_named_op(DC_OP_REMOVE_DEAD, "/1");
    dead->address = strdup("ipc:///elsewhere");
    dead->reason = DC_REASON_ENDPOINT_DEAD;
    CHECK(s_decide(&f, &batch, dead, &out) == DC_STATUS_NOT_FOUND && batch.count == 0);
    dead = s_named_op(DC_OP_REMOVE_DEAD, "/1");
    dead->address = strdup("ipc:///tmp/x");
    dead->reason = DC_REASON_ENDPOINT_DEAD;
    CHECK(s_decide(&f, &batch, dead, &out) == DC_STATUS_OK && batch.count == 1 &&
          batch.items[0].reason == DC_REASON_ENDPOINT_DEAD);
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.registry) == 1);
    dc_changes_free(&batch);
    s_fini(&f);
}

static void test_leases(void)
{
    fixture_t f;
    s_init(&f);
    dc_changes_t batch = {0};
    dc_outcome_t out;
    dc_write_op_t *op = s_register_op("/leased", "n");
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 50; /* below the minimum */
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_ERROR && batch.count == 0);
    for (int i = 0; i < 2; i++) {
        op = s_register_op(i ? "/leased2" : "/leased", "n");
        op->has_lease_ttl = true;
        op->lease_ttl_ms = 2000;
        CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK);
        CHECK(out.has_lease && out.lease_id == (uint64_t)i + 1 && out.lease_ttl_ms == 2000);
    }
    CHECK(batch.count == 4 && batch.items[0].kind == DC_REC_LEASE_GRANT &&
          batch.items[0].at_ms == 5000);
    op = s_register_op("/attached", "n");
    op->has_lease_id = true;
    op->lease_id = 2; /* granted earlier in this batch */
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK && out.lease_ttl_ms == 2000);
    op = s_register_op("/nolease", "n");
    op->has_lease_id = true;
    op->lease_id = 9;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_NOT_FOUND && strstr(out.message, "9"));
    seen_t seen = {0};
    s_apply_all(&f, &batch, &seen);
    CHECK(seen.leases == 2 && f.s.lease_seq == 2 && dc_leases_count(f.s.leases) == 2);
    CHECK(s_peek(f.s.registry, "/attached")->lease_id == 2);
    /* A lease that ran out frees its names for anyone. */
    dc_lease_t *l = dc_leases_find(f.s.leases, 1);
    l->expires_mono_ms = 10;
    CHECK(s_decide(&f, &batch, s_register_op("/leased", "other"), &out) == DC_STATUS_OK);
    dc_changes_clear(&batch);
    /* Revoking lease 2 removes both of its topics and the lease. */
    op = s_named_op(DC_OP_REVOKE_LEASE, "");
    op->lease_id = 2;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK && strstr(out.message, "2 topic(s)"));
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.registry) == 1 && dc_leases_count(f.s.leases) == 1);
    op = s_named_op(DC_OP_REVOKE_LEASE, "");
    op->lease_id = 2;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_NOT_FOUND);
    /* Expiry ends a lease the same way, with its own reason. */
    dc_decider_t d;
    dc_decider_init(&d, &f.s, &s_config, &batch, 1000, 5000);
    CHECK(dc_decide_lease_end(&d, 1, DC_REASON_EXPIRED) == 1);
    CHECK(batch.count == 2 && batch.items[1].kind == DC_REC_LEASE_REMOVE &&
          batch.items[1].reason == DC_REASON_EXPIRED);
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.registry) == 0 && dc_leases_count(f.s.leases) == 0);
    CHECK(atomic_load(&f.stats.topics_expired) == 0); /* replays count nothing */

    /* The expiry checks: a renewed lease is checked later, one that ran out
     * ends, and after a stall of the caller's loop it is renewed instead. */
    for (uint64_t id = 10; id < 13; id++) {
        dc_change_t *g = dc_changes_add(&batch, DC_REC_LEASE_GRANT);
        g->lease_id = id;
        g->ttl_ms = 1000;
    }
    s_apply_all(&f, &batch, NULL); /* applied at now 1000: they expire at 2000 */
    dc_lessor_t lessor;
    dc_lessor_init(&lessor, f.s.leases);
    uint64_t ended[8];
    dc_decider_init(&d, &f.s, &s_config, &batch, 2100, 5000);
    CHECK(dc_lessor_expire(&lessor, &d, 0, ended, 8) == 0); /* not primary: expires nothing */
    CHECK(dc_lessor_next(&lessor) == UINT64_MAX);
    dc_lessor_promote(&lessor, false); /* each keeps its expiry: 2000 */
    CHECK(dc_lessor_next(&lessor) == 2000);
    dc_leases_heartbeat(f.s.leases, 11, 1500, 0); /* 11 renewed: expires at 2500 */
    /* At most max a call; 10 and 12 end (in the table's order), 11 does not. */
    CHECK(dc_lessor_expire(&lessor, &d, 0, ended, 1) == 1);
    CHECK(dc_lessor_expire(&lessor, &d, 0, ended + 1, 7) == 1);
    CHECK(ended[0] + ended[1] == 22 && ended[0] != 11 && ended[1] != 11);
    CHECK(dc_lessor_next(&lessor) == 2500); /* 11, again at its new expiry */
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_leases_count(f.s.leases) == 1);
    dc_decider_init(&d, &f.s, &s_config, &batch, 2600, 5000);
    CHECK(dc_lessor_expire(&lessor, &d, 700, ended, 8) == 0); /* stalled > TTL/2 */
    CHECK(batch.count == 0 && dc_leases_expiry(f.s.leases, 11) == 3600);
    /* Demoted (a leader stepping down): no checks, renewals passed on. */
    dc_lessor_demote(&lessor);
    CHECK(dc_lessor_next(&lessor) == UINT64_MAX);
    dc_leases_heartbeat(f.s.leases, 11, 2700, 0);
    uint64_t *forward = NULL;
    CHECK(dc_leases_take_forward(f.s.leases, &forward) == 1 && forward[0] == 11);
    free(forward);
    dc_lessor_granted(&lessor, dc_leases_find(f.s.leases, 11));
    CHECK(dc_lessor_next(&lessor) == UINT64_MAX); /* a follower schedules no expiry */
    /* Promoted with extend (a new leader): a full TTL from now. */
    dc_lessor_promote(&lessor, true);
    uint64_t expiry = dc_leases_expiry(f.s.leases, 11);
    CHECK(expiry >= dc_mono_ms() + 1000 - 100 && expiry <= dc_mono_ms() + 1000);
    CHECK(dc_lessor_next(&lessor) == expiry);
    CHECK(dc_leases_take_forward(f.s.leases, &forward) == 0);
    free(forward);
    /* A failed commit's ends are checked again when asked. */
    dc_lessor_retry(&lessor, (uint64_t[]){11}, 1, 5);
    CHECK(dc_lessor_next(&lessor) == 5);
    dc_lessor_fini(&lessor);
    dc_changes_free(&batch);
    s_fini(&f);
}

static void test_request_answers(void)
{
    fixture_t f;
    s_init(&f);
    dc_changes_t batch = {0};
    dc_outcome_t out, again;
    dc_write_op_t *op = s_register_op("/r", "n");
    op->has_request_id = true;
    op->request_id = 77;
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 1000;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK);
    CHECK(batch.count == 3 && batch.items[2].kind == DC_REC_REQUEST && batch.items[2].value == 77 &&
          batch.items[2].lease_id == 1);
    dc_decider_t d;
    dc_decider_init(&d, &f.s, &s_config, &batch, 1000, 5000);
    CHECK(dc_decide_answered(&d, 77, &again)); /* seen in the batch */
    s_apply_all(&f, &batch, NULL);
    dc_decider_init(&d, &f.s, &s_config, &batch, 1000, 5000);
    CHECK(dc_decide_answered(&d, 77, &again)); /* and once applied */
    CHECK(again.status == out.status && !strcmp(again.message, out.message) && again.has_lease &&
          again.lease_id == 1 && again.lease_ttl_ms == 1000);
    CHECK(!dc_decide_answered(&d, 78, &again));
    /* A refused write records nothing (a retry is decided again). */
    op = s_register_op("/r", "other");
    op->has_request_id = true;
    op->request_id = 79;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_ALREADY_EXISTS && batch.count == 0);
    dc_changes_free(&batch);
    s_fini(&f);
}

/* A registry with a bit of everything in it. */
static void s_populate(fixture_t *f)
{
    dc_changes_t batch = {0};
    dc_outcome_t out;
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "/t/%d", i);
        dc_write_op_t *op = s_register_op(name, i % 2 ? "odd" : "even");
        if (i % 3 == 0) {
            op->has_lease_ttl = true;
            op->lease_ttl_ms = 1000 + (uint64_t)i;
        }
        op->has_request_id = i % 4 == 0;
        op->request_id = 1000 + (uint64_t)i;
        s_decide(f, &batch, op, &out);
    }
    s_decide(f, &batch, s_named_op(DC_OP_UNREGISTER, "/t/5"), &out);
    dc_write_op_t *node = calloc(1, sizeof *node);
    node->kind = DC_OP_REGISTER_NODE;
    static const uint8_t caps[] = {0x91, 0xa3, 'c', 'a', 'm'};
    node->node = dc_node_from_parts("camera", "front camera", caps, sizeof caps, NULL, 0, 0);
    node->has_lease_id = true;
    node->lease_id = 1;
    CHECK(s_decide(f, &batch, node, &out) == DC_STATUS_OK);
    dc_change_t *epoch = dc_changes_add(&batch, DC_REC_EPOCH);
    epoch->value = 4;
    dc_change_t *member = dc_changes_add(&batch, DC_REC_MEMBER);
    member->value = 2;
    member->text = strdup("tcp://10.0.0.2:40001");
    s_apply_all(f, &batch, NULL);
    f->s.applied_index = 77;
    dc_changes_free(&batch);
}

static void test_snapshot_restore(void)
{
    fixture_t a, b;
    s_init(&a);
    s_init(&b);
    s_populate(&a);
    CHECK(dc_registry_count(a.s.registry) == 19 && dc_nodes_count(a.s.nodes) == 1);
    msgpack_sbuffer snap;
    s_bytes(&a, &snap);
    /* Restore = decode the snapshot record and apply every change. */
    dc_changes_t changes = {0};
    char err[DC_ERR_LEN];
    CHECK(dc_changes_decode(&changes, snap.data, snap.size, err) == 0);
    s_apply_all(&b, &changes, NULL);
    CHECK(s_same(&a, &b));
    CHECK(b.s.epoch == 4 && b.s.change_seq == a.s.change_seq && b.s.event_seq == a.s.event_seq &&
          b.s.lease_seq == a.s.lease_seq);
    CHECK(dc_leases_find(b.s.leases, 1)->node != NULL); /* attachments rebuilt too */
    CHECK(b.s.applied_index == 77 &&
          !strcmp(dc_state_member_endpoint(&b.s, 2), "tcp://10.0.0.2:40001"));
    /* A reset state is empty, and restoring into it gives the same again. */
    dc_state_reset(&b.s);
    CHECK(dc_registry_count(b.s.registry) == 0 && dc_leases_count(b.s.leases) == 0 &&
          dc_nodes_count(b.s.nodes) == 0 && b.s.member_count == 0 && b.s.epoch == 0 &&
          dc_dedup_find(b.s.dedup, 1000) == NULL);
    CHECK(!s_same(&a, &b));
    CHECK(dc_changes_decode(&changes, snap.data, snap.size, err) == 0);
    s_apply_all(&b, &changes, NULL);
    CHECK(s_same(&a, &b));
    dc_entry_t **x = NULL, **y = NULL;
    size_t n = dc_registry_snapshot(a.s.registry, NULL, &x);
    size_t m = dc_registry_snapshot(b.s.registry, NULL, &y);
    CHECK(n == m);
    for (size_t i = 0; i < n && i < m; i++)
        CHECK(x[i]->create_seq == y[i]->create_seq && x[i]->blob.size == y[i]->blob.size &&
              !memcmp(x[i]->blob.data, y[i]->blob.data, x[i]->blob.size));
    dc_registry_release_snapshot(x, n);
    dc_registry_release_snapshot(y, m);
    /* The same changes applied again in a second state give the same bytes. */
    dc_changes_free(&changes);
    msgpack_sbuffer_destroy(&snap);
    s_fini(&a);
    s_fini(&b);
}

/* dc_state_restore goes back to a dump in place: what both hold is never
 * taken out (the same entry stays), what the dump lacks goes, what the
 * island changed goes into the overlay (its additions and replacements, the
 * keys of its removals), the LIST order is create_seq's, an island's lease
 * stays without its attachments. */
static void test_restore_in_place(void)
{
    fixture_t a, want;
    s_init(&a);
    s_init(&want);
    s_populate(&a);
    dc_changes_t base = {0};
    CHECK(dc_state_dump(&a.s, &base) == 0);
    msgpack_sbuffer snap;
    s_bytes(&a, &snap);
    dc_changes_t changes = {0};
    char err[DC_ERR_LEN];
    CHECK(dc_changes_decode(&changes, snap.data, snap.size, err) == 0);
    s_apply_all(&want, &changes, NULL);
    dc_entry_t *kept = s_peek(a.s.registry, "/t/1");
    CHECK(kept != NULL);
    /* What an island does meanwhile. */
    dc_changes_t batch = {0};
    dc_outcome_t out;
    s_decide(&a, &batch, s_named_op(DC_OP_UNREGISTER, "/t/2"), &out);
    s_decide(&a, &batch, s_register_op("/t/new", "even"), &out);
    dc_write_op_t *again = s_register_op("/t/4", "even");
    dc_entry_unref(&again->entry);
    dc_topic_t t = {dc_str_from("/t/4"), dc_str_from("ipc:///tmp/moved"), dc_str_from("T"),
                    dc_str_from("even"), 42};
    again->entry = dc_entry_new(&t, 0, 0, NULL, 0);
    CHECK(s_decide(&a, &batch, again, &out) == DC_STATUS_OK);
    s_decide(&a, &batch, s_named_op(DC_OP_UNREGISTER_NODE, "camera"), &out);
    s_apply_all(&a, &batch, NULL);
    dc_lease_t *island = dc_lease_new(DC_ISLAND_LEASE_IDS + 5, 3000, 9000, 1);
    island->own_expiry = true;
    CHECK(dc_lease_attach_topic(island, "/t/new") == 0);
    dc_leases_add(a.s.leases, island);
    dc_leases_add(a.s.leases, dc_lease_new(999, 3000, 9000, 1));
    CHECK(!s_peek(a.s.registry, "/t/2") && s_peek(a.s.registry, "/t/new") &&
          dc_nodes_count(a.s.nodes) == 0);

    dc_overlay_t *overlay = dc_overlay_new();
    CHECK(dc_state_restore(&a.s, &base, 2000, overlay) == 0);
    dc_changes_free(&base);
    /* What the island changed went into the overlay, and only that: the
     * topic it added and the one it replaced (its versions), the key of the
     * one it removed. */
    size_t removed = 0;
    CHECK(dc_overlay_count(overlay, &removed) == 3 && removed == 1);
    CHECK(dc_overlay_has(overlay, dc_str_from("/t/2")) &&
          dc_overlay_has(overlay, dc_str_from("/t/new")) &&
          dc_overlay_has(overlay, dc_str_from("/t/4")) &&
          !dc_overlay_has(overlay, dc_str_from("/t/1")));
    dc_entry_t **seen = NULL;
    size_t newest = 9;
    CHECK(dc_overlay_lookup(overlay, a.s.registry, dc_str_from("/t/2"), &seen, &newest) == 0 &&
          !seen); /* in the registry again, and hidden */
    CHECK(dc_overlay_lookup(overlay, a.s.registry, dc_str_from("/t/new"), &seen, &newest) == 1 &&
          newest == 0 && seen[0]->create_seq != 0);
    dc_registry_release_snapshot(seen, 1);
    CHECK(dc_overlay_lookup(overlay, a.s.registry, dc_str_from("/t/4"), &seen, &newest) == 1 &&
          !strcmp(seen[0]->topic.address.ptr, "ipc:///tmp/moved"));
    dc_registry_release_snapshot(seen, 1);
    CHECK(dc_overlay_lookup(overlay, a.s.registry, dc_str_from("/t/1"), &seen, &newest) == 1 &&
          seen[0] == kept); /* not changed there: the registry's own */
    dc_registry_release_snapshot(seen, 1);
    dc_overlay_clear(overlay);
    CHECK(!dc_overlay_active(overlay) &&
          dc_overlay_lookup(overlay, a.s.registry, dc_str_from("/t/2"), &seen, &newest) == 1);
    dc_registry_release_snapshot(seen, 1);
    dc_overlay_destroy(&overlay);
    CHECK(s_peek(a.s.registry, "/t/1") == kept); /* never taken out */
    CHECK(s_peek(a.s.registry, "/t/2") && !s_peek(a.s.registry, "/t/new"));
    CHECK(!strcmp(s_peek(a.s.registry, "/t/4")->topic.address.ptr, "ipc:///tmp/x"));
    CHECK(dc_nodes_count(a.s.nodes) == 1 && !dc_leases_find(a.s.leases, 999));
    island = dc_leases_find(a.s.leases, DC_ISLAND_LEASE_IDS + 5);
    CHECK(island && island->topic_count == 0);
    dc_entry_t **x = NULL;
    size_t n = dc_registry_snapshot(a.s.registry, NULL, &x);
    for (size_t i = 1; i < n; i++)
        CHECK(x[i - 1]->create_seq < x[i]->create_seq);
    dc_registry_release_snapshot(x, n);
    dc_leases_remove(a.s.leases, DC_ISLAND_LEASE_IDS + 5);
    CHECK(s_same(&a, &want)); /* the rest, byte for byte */
    dc_changes_free(&changes);
    dc_changes_free(&batch);
    msgpack_sbuffer_destroy(&snap);
    s_fini(&a);
    s_fini(&want);
}

static char s_dir[] = "/tmp/discod-test-state-XXXXXX";

/* Collects provisional rows (test_island). */
static int s_provisional_row(void *arg, uint64_t seq, const void *op, size_t size)
{
    struct {
        uint64_t seq[4];
        size_t size[4];
        int n;
    } *rows = arg;
    (void)op;
    if (rows->n < 4) {
        rows->seq[rows->n] = seq;
        rows->size[rows->n++] = size;
    }
    return 0;
}

/* Removes a database and its WAL and shared-memory files. */
static void s_unlink_db(const char *path)
{
    unlink(path);
    char side[160];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static void test_persist(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/registry.db", s_dir);
    dc_store_t *store = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_REFUSE, 0);
    CHECK(store != NULL);
    fixture_t a, b, c;
    s_init(&a);
    s_init(&b);
    s_init(&c);
    /* Each batch is saved, then applied, as the writer does. */
    dc_changes_t batch = {0};
    dc_outcome_t out;
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof name, "/p/%d", i);
        dc_write_op_t *op = s_register_op(name, "n");
        op->has_lease_ttl = i % 2;
        op->lease_ttl_ms = 1500;
        op->has_request_id = true;
        op->request_id = 500 + (uint64_t)i;
        op->origin = (uint64_t)i % 3;
        s_decide(&a, &batch, op, &out);
        if (i % 3 == 2) {
            CHECK(dc_persist_batch(store, &a.s, &batch) == 0);
            s_apply_all(&a, &batch, NULL);
        }
    }
    s_decide(&a, &batch, s_named_op(DC_OP_UNREGISTER, "/p/0"), &out);
    dc_change_t *renew = dc_changes_add(&batch, DC_REC_LEASE_RENEW);
    renew->lease_id = 1;
    renew->at_ms = 9999;
    dc_change_t *epoch = dc_changes_add(&batch, DC_REC_EPOCH);
    epoch->value = 3;
    dc_change_t *member = dc_changes_add(&batch, DC_REC_MEMBER);
    member->value = 3;
    member->text = strdup("tcp://127.0.0.1:5");
    a.s.applied_index = 12;
    CHECK(dc_persist_batch(store, &a.s, &batch) == 0);
    s_apply_all(&a, &batch, NULL);
    CHECK(dc_leases_find(a.s.leases, 1)->checkpoint_wall_ms == 9999);
    dc_store_destroy(&store);

    /* Loaded back from the file: the same state. */
    store = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_REFUSE, 0);
    CHECK(dc_persist_load(store, &b.s, 1000) == 0);
    CHECK(s_same(&a, &b));
    CHECK(b.s.epoch == 3 && dc_registry_count(b.s.registry) == 9);
    CHECK(b.s.applied_index == 12 && dc_state_member_endpoint(&b.s, 3) != NULL);
    CHECK(s_peek(b.s.registry, "/p/5")->origin == 2);
    CHECK(dc_dedup_find(b.s.dedup, 505) != NULL);

    /* A rebuild into a fresh file holds it all too. */
    dc_store_destroy(&store);
    unlink(path);
    store = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_REFUSE, 0);
    CHECK(dc_persist_rebuild(store, &b.s) == 0);
    dc_store_destroy(&store);
    store = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_REFUSE, 0);
    CHECK(dc_persist_load(store, &c.s, 1000) == 0);
    CHECK(s_same(&a, &c));
    CHECK(dc_store_integrity_ok(store) == 0);
    dc_store_destroy(&store);
    dc_changes_free(&batch);
    s_fini(&a);
    s_fini(&b);
    s_fini(&c);
    s_unlink_db(path);
    rmdir(s_dir);
}

static dc_write_op_t *s_subscribe_op(const char *name, const char *node, const char *type,
                                     uint64_t fingerprint)
{
    dc_write_op_t *op = calloc(1, sizeof *op);
    dc_topic_t t = {dc_str_from(name), dc_str_from(""), dc_str_from(type), dc_str_from(node),
                    fingerprint};
    op->kind = DC_OP_SUBSCRIBE;
    op->entry = dc_entry_new(&t, 0, 0, NULL, 0);
    return op;
}

static dc_write_op_t *s_unsubscribe_op(const char *name, const char *node)
{
    dc_write_op_t *op = s_named_op(DC_OP_UNSUBSCRIBE, name);
    op->publisher_node = strdup(node);
    return op;
}

/* Subscriptions through decide and apply: the owner rule, mismatches in
 * either order of arrival and on a publisher's re-registration, leases,
 * capacity, dump and restore, the database. */
static void test_subscriptions(void)
{
    fixture_t f, g;
    s_init(&f);
    s_init(&g);
    dc_changes_t batch = {0};
    dc_outcome_t out;
    seen_t seen = {0};
    /* A publisher of /scan (type T, fingerprint 42), then a subscriber that
     * expects another type: one mismatch, counted once, on this apply. */
    CHECK(s_decide(&f, &batch, s_register_op("/scan", "lidar"), &out) == DC_STATUS_OK);
    s_apply_all(&f, &batch, &seen);
    CHECK(s_decide(&f, &batch, s_subscribe_op("/scan", "viewer", "Scan", 0), &out) ==
              DC_STATUS_OK &&
          strstr(out.message, "viewer"));
    CHECK(batch.count == 1 && batch.items[0].kind == DC_REC_SUB_PUT);
    s_apply_all(&f, &batch, &seen);
    CHECK(dc_registry_count(f.s.subs) == 1 && dc_registry_count(f.s.registry) == 1);
    CHECK(seen.mismatches == 1 && atomic_load(&f.stats.mismatches_detected) == 1);
    /* The same type, any fingerprint: no mismatch. The same type with the
     * wrong fingerprint: one. */
    CHECK(s_decide(&f, &batch, s_subscribe_op("/scan", "mapper", "T", 0), &out) == DC_STATUS_OK);
    CHECK(s_decide(&f, &batch, s_subscribe_op("/scan", "logger", "T", 41), &out) == DC_STATUS_OK);
    seen.mismatches = 0;
    s_apply_all(&f, &batch, &seen);
    CHECK(seen.mismatches == 1 && dc_registry_count(f.s.subs) == 3);
    /* The other order: a subscriber first, then its publisher. */
    CHECK(s_decide(&f, &batch, s_subscribe_op("/odom", "planner", "Odom", 0), &out) ==
          DC_STATUS_OK);
    s_apply_all(&f, &batch, &seen);
    seen.mismatches = 0;
    CHECK(s_decide(&f, &batch, s_register_op("/odom", "base"), &out) == DC_STATUS_OK);
    s_apply_all(&f, &batch, &seen);
    CHECK(seen.mismatches == 1);
    /* A publisher re-registering with another fingerprint: mapper (any
     * fingerprint) is still content, logger (41) and viewer (Scan) are not. */
    dc_write_op_t *op = s_register_op("/scan", "lidar");
    dc_topic_t t = op->entry->topic;
    t.fingerprint = 41;
    dc_entry_unref(&op->entry);
    op->entry = dc_entry_new(&t, 0, 0, NULL, 0);
    seen.mismatches = 0;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK);
    s_apply_all(&f, &batch, &seen);
    CHECK(seen.mismatches == 1); /* viewer only: logger expects 41 now */
    /* Another key may not replace or remove a subscription; its own node
     * may. */
    op = s_subscribe_op("/scan", "viewer", "T", 0);
    snprintf(op->principal.key, sizeof op->principal.key, "%040d", 7);
    op->principal.access = DC_ACCESS_WRITE;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_ERROR && strstr(out.message, "another key"));
    op = s_unsubscribe_op("/scan", "viewer");
    snprintf(op->principal.key, sizeof op->principal.key, "%040d", 7);
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_ERROR && batch.count == 0);
    CHECK(s_decide(&f, &batch, s_unsubscribe_op("/scan", "nobody"), &out) == DC_STATUS_NOT_FOUND);
    CHECK(s_decide(&f, &batch, s_unsubscribe_op("/scan", "viewer"), &out) == DC_STATUS_OK);
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.subs) == 3 &&
          !dc_registry_peek(f.s.subs, dc_str_from("/scan"), dc_str_from("viewer")));
    /* Under a lease: the lease's end removes the subscription (and the
     * topic of the same lease), decided in one batch with its grant too. */
    op = s_subscribe_op("/cmd", "teleop", "Twist", 0);
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 1000;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK && out.has_lease);
    uint64_t lease = out.lease_id;
    op = s_subscribe_op("/joy", "teleop", "Joy", 0);
    op->has_lease_id = true;
    op->lease_id = lease;
    CHECK(s_decide(&f, &batch, op, &out) == DC_STATUS_OK);
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.subs) == 5 && dc_leases_find(f.s.leases, lease)->topic_count == 2);
    /* Capacity: max_subscriptions counts what the batch adds (one decider
     * decides a batch, as in the writer). */
    uint64_t max = s_config.max_subscriptions;
    s_config.max_subscriptions = 6;
    dc_decider_t d;
    dc_decider_init(&d, &f.s, &s_config, &batch, 1000, 5000);
    dc_write_op_t *ops[3] = {s_subscribe_op("/a", "n", "", 0), s_subscribe_op("/b", "n", "", 0),
                             s_subscribe_op("/a", "n", "T", 0)};
    int want[3] = {DC_STATUS_OK, DC_STATUS_ERROR, DC_STATUS_OK}; /* /a again: a replacement */
    for (int i = 0; i < 3; i++) {
        dc_decide(&d, ops[i], &out);
        CHECK(out.status == want[i]);
        if (i == 1)
            CHECK(strstr(out.message, "max_subscriptions") != NULL);
        dc_write_op_destroy(&ops[i]);
    }
    s_config.max_subscriptions = max;
    s_apply_all(&f, &batch, NULL);
    /* Dump and restore: the same state, the lease's attachments too. */
    msgpack_sbuffer snap;
    s_bytes(&f, &snap);
    char err[DC_ERR_LEN];
    CHECK(dc_changes_decode(&batch, snap.data, snap.size, err) == 0);
    s_apply_all(&g, &batch, NULL);
    CHECK(s_same(&f, &g) && dc_registry_count(g.s.subs) == 6);
    CHECK(dc_leases_find(g.s.leases, lease)->topic_count == 2);
    msgpack_sbuffer_destroy(&snap);
    dc_decider_init(&d, &f.s, &s_config, &batch, 1000, 5000);
    dc_decide_lease_end(&d, lease, DC_REASON_EXPIRED);
    CHECK(batch.count == 3 && batch.items[0].kind == DC_REC_SUB_REMOVE &&
          batch.items[1].kind == DC_REC_SUB_REMOVE && batch.items[0].reason == DC_REASON_EXPIRED);
    s_apply_all(&f, &batch, NULL);
    CHECK(dc_registry_count(f.s.subs) == 4 && dc_leases_count(f.s.leases) == 0);
    /* Saved and loaded back (schema 8's table). */
    char path[128];
    snprintf(path, sizeof path, "%s/subs.db", s_dir);
    dc_store_t *store = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_REFUSE, 0);
    CHECK(store && dc_persist_rebuild(store, &f.s) == 0);
    CHECK(s_decide(&f, &batch, s_unsubscribe_op("/a", "n"), &out) == DC_STATUS_OK);
    CHECK(s_decide(&f, &batch, s_subscribe_op("/c", "n", "C", 3), &out) == DC_STATUS_OK);
    CHECK(dc_persist_batch(store, &f.s, &batch) == 0);
    s_apply_all(&f, &batch, NULL);
    dc_store_destroy(&store);
    fixture_t h;
    s_init(&h);
    store = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_REFUSE, 0);
    CHECK(store && dc_persist_load(store, &h.s, 1000) == 0);
    CHECK(s_same(&f, &h) && dc_registry_count(h.s.subs) == 4);
    CHECK(dc_registry_peek(h.s.subs, dc_str_from("/c"), dc_str_from("n"))->topic.fingerprint == 3);
    CHECK(dc_store_integrity_ok(store) == 0);
    dc_store_destroy(&store);
    s_unlink_db(path);
    dc_changes_free(&batch);
    s_fini(&f);
    s_fini(&g);
    s_fini(&h);
}

/* An isolated member's decisions: island lease ids (not counted by
 * lease_seq), a wanted id granted when free or kept, and the provisional
 * table's rows. */
static void test_island(void)
{
    fixture_t f;
    s_init(&f);
    dc_changes_t batch = {0};
    dc_outcome_t out;
    dc_decider_t d;
    dc_decider_init(&d, &f.s, &s_config, &batch, 1000, 5000);
    d.island = true;
    dc_write_op_t *op = s_register_op("/island", "n");
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 2000;
    dc_decide(&d, op, &out);
    dc_write_op_destroy(&op);
    CHECK(out.status == DC_STATUS_OK && out.lease_id >= DC_ISLAND_LEASE_IDS);
    uint64_t island = out.lease_id;
    s_apply_all(&f, &batch, NULL);
    CHECK(f.s.lease_seq == 0 && dc_leases_find(f.s.leases, island) != NULL);
    /* Merged: the wanted id is granted when free... */
    fixture_t g;
    s_init(&g);
    op = s_register_op("/island", "n");
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 2000;
    op->want_lease_id = island;
    CHECK(s_decide(&g, &batch, op, &out) == DC_STATUS_OK && out.lease_id == island);
    s_apply_all(&g, &batch, NULL);
    CHECK(g.s.lease_seq == 0 && s_peek(g.s.registry, "/island")->lease_id == island);
    /* ...a new one when another holds it, unless this member kept it for it. */
    op = s_register_op("/other", "m");
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 2000;
    op->want_lease_id = island;
    CHECK(s_decide(&g, &batch, op, &out) == DC_STATUS_OK && out.lease_id == 1);
    dc_changes_clear(&batch);
    dc_decider_init(&d, &g.s, &s_config, &batch, 1000, 5000);
    d.kept_ids = &island;
    d.kept_count = 1;
    op = s_register_op("/other", "m");
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 2000;
    op->want_lease_id = island;
    dc_decide(&d, op, &out);
    dc_write_op_destroy(&op);
    CHECK(out.status == DC_STATUS_OK && out.lease_id == island);
    dc_changes_clear(&batch);
    /* A lease's end decided in the batch that granted it (a merged island
     * write and its expiry) removes what the batch put on it. */
    fixture_t h;
    s_init(&h);
    dc_decider_init(&d, &h.s, &s_config, &batch, 1000, 5000);
    op = s_register_op("/brief", "n");
    op->has_lease_ttl = true;
    op->lease_ttl_ms = 2000;
    op->want_lease_id = island;
    dc_decide(&d, op, &out);
    dc_write_op_destroy(&op);
    op = s_subscribe_op("/brief", "n", "T", 0);
    op->has_lease_id = true;
    op->lease_id = island;
    dc_decide(&d, op, &out);
    dc_write_op_destroy(&op);
    dc_decide_lease_end(&d, island, DC_REASON_REVOKED);
    s_apply_all(&h, &batch, NULL);
    CHECK(dc_registry_count(h.s.registry) == 0 && dc_registry_count(h.s.subs) == 0 &&
          dc_leases_count(h.s.leases) == 0);
    s_fini(&h);
    /* The provisional table: durable rows in seq order, deleted one by one. */
    char path[128];
    snprintf(path, sizeof path, "%s/island.db", s_dir);
    dc_store_t *store = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_REFUSE, 0);
    CHECK(store && dc_store_put_provisional(store, 2, "bb", 2) == 0 &&
          dc_store_put_provisional(store, 1, "a", 1) == 0 &&
          dc_store_put_provisional(store, 3, "ccc", 3) == 0 &&
          dc_store_delete_provisional(store, 2) == 0);
    dc_store_destroy(&store);
    store = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_REFUSE, 0);
    struct {
        uint64_t seq[4];
        size_t size[4];
        int n;
    } rows = {{0}, {0}, 0};
    CHECK(dc_store_load_provisional(store, s_provisional_row, &rows) == 0);
    CHECK(rows.n == 2 && rows.seq[0] == 1 && rows.size[0] == 1 && rows.seq[1] == 3 &&
          rows.size[1] == 3);
    dc_store_destroy(&store);
    s_unlink_db(path);
    dc_changes_free(&batch);
    s_fini(&f);
    s_fini(&g);
}

/* change_seq's one rule: each change advances it by one, a SEQS change sets
 * it; what a batch will reach is what applying it reaches. */
static void test_change_seq_rule(void)
{
    fixture_t f;
    s_init(&f);
    dc_changes_t batch = {0};
    dc_change_t *c = dc_changes_add(&batch, DC_REC_EPOCH);
    c->value = 3;
    c = dc_changes_add(&batch, DC_REC_SEQS);
    c->seqs[0] = 40;
    c->seqs[1] = 7;
    c->seqs[2] = 9;
    c = dc_changes_add(&batch, DC_REC_EPOCH);
    c->value = 4;
    CHECK(dc_change_seq_after(5, &batch.items[0]) == 6);
    CHECK(dc_change_seq_after(5, &batch.items[1]) == 40);
    CHECK(dc_state_change_seq_after(&f.s, &batch) == 41);
    uint64_t seqs[3];
    dc_state_seqs_after(&f.s, &batch, seqs);
    CHECK(seqs[0] == 41 && seqs[1] == 7 && seqs[2] == 9);
    s_apply_all(&f, &batch, NULL);
    CHECK(f.s.change_seq == 41 && f.s.lease_seq == 7 && f.s.event_seq == 9);
    dc_changes_free(&batch);
    s_fini(&f);
}

int main(void)
{
    dc_config_defaults(&s_config);
    CHECK(mkdtemp(s_dir) != NULL);
    test_owner_rule();
    test_several_publishers();
    test_one_publisher_rule();
    test_capacity_and_prober();
    test_leases();
    test_request_answers();
    test_snapshot_restore();
    test_restore_in_place();
    test_subscriptions();
    test_island();
    test_persist();
    test_change_seq_rule();
    dc_config_clear(&s_config);
    DC_TEST_END();
}
