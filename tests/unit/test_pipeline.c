/* test_pipeline.c: what both writers share, on its real queues: the reply
 * built from a decided op's outcome, WAITs handed to the events module and
 * flushed, the observer every applied change passes (lease expiry checks,
 * the epoch), the next deadline, and the batch sizes a batch gathers for. */
#include "dc_clock.h"
#include "dc_pipeline.h"
#include "dc_protocol.h"
#include "dc_reply_send.h"
#include "dc_test.h"

#include <stdlib.h>

/* The next answer on the answers queue (the front's end), decoded into v (release it), or
 * false when none comes in time. */
static bool s_next(dc_handoff_t *answers, int timeout_ms, dc_reply_view_t *v)
{
    zmsg_t *msg = dc_handoff_pop_wait(answers, timeout_ms); /* handed over as a pointer */
    if (!msg)
        return false;
    zframe_t *reply = zmsg_last(msg);
    char err[DC_ERR_LEN];
    bool ok = dc_reply_decode(v, zframe_data(reply), zframe_size(reply), err) == 0;
    zmsg_destroy(&msg);
    return ok;
}

static dc_write_op_t *s_routed(dc_write_op_t *op, int version)
{
    op->version = version;
    op->route = zmsg_new();
    zmsg_addstr(op->route, "route");
    return op;
}

int main(void)
{
    dc_config_t config;
    dc_config_defaults(&config);
    free(config.events_endpoint);
    config.events_endpoint = NULL; /* no PUB: this test is about the rest */
    dc_context_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.config = &config;
    ctx.registry = dc_registry_new();
    ctx.subs = dc_registry_new();
    ctx.leases = dc_leases_new();
    ctx.writes = dc_handoff_new(16);
    ctx.answers = dc_handoff_new(0);
    dc_state_t state = {.registry = ctx.registry,
                        .subs = ctx.subs,
                        .leases = ctx.leases,
                        .nodes = dc_nodes_new(),
                        .dedup = dc_dedup_new(),
                        .stats = &ctx.stats};
    dc_handoff_t *front = ctx.answers; /* the front's end */
    dc_pipeline_t p;
    CHECK(dc_pipeline_open(&p, &ctx, &state) == 0);

    /* An outcome becomes the client's reply, with its lease. */
    dc_write_op_t *op = s_routed(dc_write_op_named(DC_OP_UNREGISTER, dc_str_from("/a")), 2);
    CHECK(op != NULL);
    dc_outcome_t out = {.status = DC_STATUS_OK, .has_lease = true, .lease_id = 9,
                        .lease_ttl_ms = 3000};
    snprintf(out.message, sizeof out.message, "Registered topic: /a");
    dc_pipeline_answer(&p, op, &out);
    CHECK(op->route == NULL); /* the route went with the answer */
    dc_reply_view_t v;
    CHECK(s_next(front, 1000, &v));
    CHECK(v.status == DC_STATUS_OK && v.version == 2 && v.lease_id == 9 && v.lease_ttl_ms == 3000);
    CHECK(v.message.len == strlen(out.message) && !memcmp(v.message.ptr, out.message, v.message.len));
    dc_reply_view_release(&v);
    /* A legacy client's ERROR is counted and answered in protocol 1. */
    dc_write_op_destroy(&op);
    op = s_routed(dc_write_op_named(DC_OP_UNREGISTER, dc_str_from("/a")), 1);
    out = (dc_outcome_t){.status = DC_STATUS_ERROR};
    snprintf(out.message, sizeof out.message, "Storage error");
    dc_pipeline_answer(&p, op, &out);
    CHECK(s_next(front, 1000, &v) && v.status == DC_STATUS_ERROR && v.version == 1);
    dc_reply_view_release(&v);
    CHECK(atomic_load(&ctx.stats.errors) == 1);
    dc_write_op_destroy(&op);
    /* An op without a route (the prober's, expiries) answers nobody. */
    op = dc_write_op_named(DC_OP_UNREGISTER, dc_str_from("/a"));
    dc_pipeline_answer(&p, op, &out);
    CHECK(!s_next(front, 50, &v));
    CHECK(atomic_load(&ctx.stats.errors) == 2);

    /* Only a WAIT is taken; it is held, then answered by FLUSH. */
    CHECK(!dc_pipeline_take_wait(&p, &op, dc_mono_ms()) && op != NULL);
    dc_write_op_destroy(&op);
    op = s_routed(dc_write_op_named(DC_OP_WAIT, dc_str_from("/late")), 2);
    op->timeout_ms = 60000;
    uint64_t now = dc_mono_ms();
    CHECK(dc_pipeline_take_wait(&p, &op, now) && op == NULL);
    CHECK(atomic_load(&ctx.stats.waiters) == 1);
    CHECK(dc_pipeline_next_deadline(&p) == now + 60000); /* no lease checks yet */
    CHECK(!s_next(front, 50, &v));
    dc_pipeline_command(&p, "NOT-A-COMMAND");
    CHECK(!s_next(front, 50, &v));
    dc_pipeline_command(&p, "FLUSH");
    CHECK(s_next(front, 1000, &v) && v.status == DC_STATUS_NOT_FOUND);
    dc_reply_view_release(&v);
    CHECK(atomic_load(&ctx.stats.waiters) == 0);

    /* The observer: a granted lease gets its expiry check only while the
     * lessor is primary; an EPOCH change is the daemon's epoch. */
    dc_change_t grant = {.kind = DC_REC_LEASE_GRANT, .lease_id = 5, .ttl_ms = 2000};
    dc_apply(&state, &grant, 1000, &p.observer);
    CHECK(dc_leases_count(state.leases) == 1 && dc_lessor_next(&p.lessor) == UINT64_MAX);
    dc_lessor_promote(&p.lessor, false);
    CHECK(dc_pipeline_next_deadline(&p) == 3000);
    dc_change_t grant2 = {.kind = DC_REC_LEASE_GRANT, .lease_id = 6, .ttl_ms = 500};
    dc_apply(&state, &grant2, 1000, &p.observer);
    CHECK(dc_pipeline_next_deadline(&p) == 1500);
    dc_change_t epoch = {.kind = DC_REC_EPOCH, .value = 77};
    dc_apply(&state, &epoch, 1000, &p.observer);
    CHECK(atomic_load(&ctx.epoch) == 77);

    /* A batch gathers for as many ops as the largest of the last four held:
     * none yet, then the largest, until four smaller ones push it out. */
    CHECK(dc_pipeline_batch_expected(&p) == 0);
    dc_pipeline_batch_done(&p, 3);
    dc_pipeline_batch_done(&p, 8);
    CHECK(dc_pipeline_batch_expected(&p) == 8);
    dc_pipeline_batch_done(&p, 2);
    dc_pipeline_batch_done(&p, 1);
    dc_pipeline_batch_done(&p, 4);
    CHECK(dc_pipeline_batch_expected(&p) == 8);
    dc_pipeline_batch_done(&p, 1);
    CHECK(dc_pipeline_batch_expected(&p) == 4);

    dc_pipeline_close(&p);
    dc_pipeline_close(&p); /* safe twice */
    dc_handoff_destroy(&ctx.writes, NULL);
    dc_handoff_destroy(&ctx.answers, NULL);
    dc_nodes_destroy(&state.nodes);
    dc_dedup_destroy(&state.dedup);
    dc_leases_destroy(&ctx.leases);
    dc_registry_destroy(&ctx.registry);
    dc_registry_destroy(&ctx.subs);
    dc_config_clear(&config);
    DC_TEST_END();
}
