/* test_writer.c: the standalone write pipeline in-process, on its real
 * queues (dc_handoff) and a real SQLite file: ops queued together share one commit
 * (group commit), every op is answered in order with its outcome, a retried
 * request_id is answered once, the observer publishes events in the order
 * the changes were applied, a lease nobody renews is expired by the writer,
 * and what was acknowledged is in the database after the writer stops. */
#include "dc_clock.h"
#include "dc_persist.h"
#include "dc_protocol.h"
#include "dc_reply_send.h"
#include "dc_test.h"
#include "dc_test_ops.h"
#include "dc_writer.h"

#include <stdlib.h>
#include <unistd.h>

static char s_dir[] = "/tmp/discod-test-writer-XXXXXX";

/* The next answer for the front, within 5 s. */
static int s_answer(dc_handoff_t *front, char *tag, size_t tag_size, char *message, size_t size)
{
    return dc_test_answer(front, 5000, tag, tag_size, message, size);
}

/* The next event's name and seq from sub (false when none in time). */
static bool s_event(zsock_t *sub, char *name, size_t size, uint64_t *seq)
{
    zmsg_t *msg = zmsg_recv(sub);
    if (!msg)
        return false;
    char *n = zmsg_popstr(msg);
    zframe_t *body = zmsg_pop(msg);
    snprintf(name, size, "%s", n ? n : "");
    msgpack_unpacked u;
    char err[DC_ERR_LEN];
    *seq = 0;
    if (body && dc_mp_unpack(&u, zframe_data(body), zframe_size(body), err) == 0) {
        const msgpack_object *map = &u.data;
        for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
            if (dc_mp_key_is(&map->via.map.ptr[i].key, "seq"))
                *seq = map->via.map.ptr[i].val.via.u64;
        msgpack_unpacked_destroy(&u);
    }
    free(n);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
    return true;
}

int main(void)
{
    CHECK(mkdtemp(s_dir) != NULL);
    char db[256], events[256];
    snprintf(db, sizeof db, "%s/registry.db", s_dir);
    snprintf(events, sizeof events, "ipc://%s/ev.sock", s_dir);
    dc_config_t config;
    dc_config_defaults(&config);
    free(config.events_endpoint);
    config.events_endpoint = strdup(events);
    free(config.ipc_group);
    config.ipc_group = NULL;
    dc_context_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.config = &config;
    ctx.registry = dc_registry_new();
    ctx.subs = dc_registry_new();
    ctx.leases = dc_leases_new();
    ctx.nodes = dc_nodes_new();
    ctx.writes = dc_handoff_new(64);
    ctx.answers = dc_handoff_new(0);
    dc_store_t *store = dc_store_open(db, DC_SYNC_FULL, DC_CORRUPT_REFUSE, 0);
    CHECK(store != NULL);
    dc_state_t state = {.registry = ctx.registry, .subs = ctx.subs, .leases = ctx.leases, .nodes = ctx.nodes,
                        .dedup = dc_dedup_new(), .stats = &ctx.stats};
    CHECK(dc_persist_load(store, &state, dc_mono_ms()) == 0);
    dc_handoff_t *front = ctx.answers; /* the front's end */

    /* Eight registrations queued before the writer runs: one commit. */
    dc_handoff_t *writes = ctx.writes;
    for (int i = 0; i < 8; i++) {
        char name[32], tag[16];
        snprintf(name, sizeof name, "/w/%d", i);
        snprintf(tag, sizeof tag, "op-%d", i);
        CHECK(dc_handoff_push(writes, dc_test_register(name, tag, 0)) == 0);
    }
    dc_writer_args_t args = {&ctx, store, &state};
    zactor_t *writer = zactor_new(dc_writer_actor, &args);
    char *status = zstr_recv(writer);
    CHECK(status && streq(status, "READY"));
    zstr_free(&status);
    zsock_t *sub = zsock_new_sub(events, "");
    zsock_set_rcvtimeo(sub, 3000);
    char tag[32], message[256];
    for (int i = 0; i < 8; i++) {
        char want[16];
        snprintf(want, sizeof want, "op-%d", i);
        CHECK(s_answer(front, tag, sizeof tag, message, sizeof message) == DC_STATUS_OK);
        CHECK(!strcmp(tag, want) && strstr(message, "Registered topic: /w/")); /* in order */
    }
    CHECK(atomic_load(&ctx.stats.commits) == 1 && atomic_load(&ctx.stats.batched_writes) == 8);
    CHECK(dc_registry_count(ctx.registry) == 8);
    zclock_sleep(300); /* the events SUB joins (slow joiner) before what follows */

    /* A removal retried with its request_id: applied once, answered alike. */
    for (int i = 0; i < 2; i++) {
        dc_write_op_t *op = dc_test_routed(dc_write_op_named(DC_OP_UNREGISTER, dc_str_from("/w/3")),
                                     i ? "again" : "first");
        op->has_request_id = true;
        op->request_id = 77;
        CHECK(dc_handoff_push(writes, op) == 0);
    }
    char first[256];
    CHECK(s_answer(front, tag, sizeof tag, first, sizeof first) == DC_STATUS_OK);
    CHECK(!strcmp(tag, "first"));
    CHECK(s_answer(front, tag, sizeof tag, message, sizeof message) == DC_STATUS_OK);
    CHECK(!strcmp(tag, "again") && !strcmp(message, first));
    CHECK(atomic_load(&ctx.stats.deduplicated) == 1 && dc_registry_count(ctx.registry) == 7);
    /* Without a request_id the same removal is NOT_FOUND now. */
    CHECK(dc_handoff_push(writes, dc_test_routed(dc_write_op_named(DC_OP_UNREGISTER,
                                                             dc_str_from("/w/3")), "third")) == 0);
    CHECK(s_answer(front, tag, sizeof tag, NULL, 0) == DC_STATUS_NOT_FOUND);

    /* A leased registration nobody renews: the writer expires it. */
    CHECK(dc_handoff_push(writes, dc_test_register("/leased", "leased", 200)) == 0);
    CHECK(s_answer(front, tag, sizeof tag, NULL, 0) == DC_STATUS_OK);
    CHECK(dc_leases_count(ctx.leases) == 1);
    uint64_t deadline = dc_mono_ms() + 3000;
    while (dc_leases_count(ctx.leases) && dc_mono_ms() < deadline)
        zclock_sleep(20);
    CHECK(dc_leases_count(ctx.leases) == 0 && !dc_registry_lookup(ctx.registry,
                                                                   dc_str_from("/leased")));
    CHECK(atomic_load(&ctx.stats.leases_expired) == 1);

    /* The observer's events, in the order applied, seq rising by one. */
    const char *want[] = {"topic.removed", "topic.added", "topic.expired"};
    uint64_t seq = 0, last = 0;
    char name[64];
    for (int i = 0; i < 3; i++) {
        /* The first batch's events may have reached the SUB, or not (it
         * joined while they went out): they are the first eight. */
        bool got;
        while ((got = s_event(sub, name, sizeof name, &seq)) && i == 0 &&
               !strcmp(name, "topic.added") && seq <= 8)
            ;
        CHECK(got);
        CHECK(!strcmp(name, want[i]));
        CHECK(i == 0 || seq == last + 1);
        last = seq;
    }
    CHECK(last == 11); /* eight added, one removed, one added, one expired */

    /* Stopped, then read back: what was acknowledged is on disk. */
    zactor_destroy(&writer);
    dc_store_destroy(&store);
    dc_registry_t *again = dc_registry_new(), *again_subs = dc_registry_new();
    dc_leases_t *leases = dc_leases_new();
    dc_nodes_t *nodes = dc_nodes_new();
    dc_state_t reread = {.registry = again, .subs = again_subs, .leases = leases, .nodes = nodes,
                         .dedup = dc_dedup_new(), .stats = &ctx.stats};
    store = dc_store_open(db, DC_SYNC_FULL, DC_CORRUPT_REFUSE, 0);
    CHECK(store && dc_persist_load(store, &reread, dc_mono_ms()) == 0);
    CHECK(dc_registry_count(again) == 7 && dc_leases_count(leases) == 0);
    CHECK(reread.change_seq == state.change_seq && reread.event_seq == 11);

    dc_store_destroy(&store);
    zsock_destroy(&sub);
    dc_handoff_destroy(&ctx.writes, NULL);
    dc_handoff_destroy(&ctx.answers, NULL);
    dc_dedup_destroy(&reread.dedup);
    dc_registry_destroy(&again);
    dc_registry_destroy(&again_subs);
    dc_leases_destroy(&leases);
    dc_nodes_destroy(&nodes);
    dc_dedup_destroy(&state.dedup);
    dc_registry_destroy(&ctx.registry);
    dc_registry_destroy(&ctx.subs);
    dc_leases_destroy(&ctx.leases);
    dc_nodes_destroy(&ctx.nodes);
    dc_config_clear(&config);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    DC_TEST_END();
}
