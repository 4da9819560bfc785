/* dc_pipeline.c: what both writers share (see the .h). */
#include "dc_pipeline.h"
#include "dc_clock.h"
#include "dc_log.h"
#include "dc_mismatch.h"
#include "dc_reply_send.h"
#include "dc_write_op.h"

#include <string.h>

/* The observer of every change the writer applies. */
static void s_applied(void *arg, const dc_applied_t *a)
{
    dc_pipeline_t *p = arg;
    dc_events_applied(p->events, a);
    if (a->change->kind == DC_REC_LEASE_GRANT && a->lease)
        dc_lessor_granted(&p->lessor, a->lease);
    if (a->change->kind == DC_REC_EPOCH)
        atomic_store(&p->ctx->epoch, a->change->value);
}

int dc_pipeline_open(dc_pipeline_t *p, dc_context_t *ctx, dc_state_t *state)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->state = state;
    dc_lessor_init(&p->lessor, state->leases);
    p->observer = (dc_observer_t){s_applied, p};
    if (!ctx->writes || !ctx->answers) {
        dc_error("writer: no queues to take ops from and hand answers to");
        return -1;
    }
    p->writes = ctx->writes;
    p->answers = ctx->answers;
    p->events = dc_events_new(ctx);
    return p->events ? 0 : -1;
}

void dc_pipeline_close(dc_pipeline_t *p)
{
    dc_events_destroy(&p->events);
    if (p->writes)
        dc_handoff_close(p->writes); /* later pushes fail: nobody takes them now */
    p->writes = NULL;
    p->answers = NULL;
    dc_lessor_fini(&p->lessor);
}

dc_write_op_t *dc_pipeline_next_op(dc_pipeline_t *p)
{
    return dc_handoff_pop(p->writes);
}

int dc_pipeline_fd(const dc_pipeline_t *p)
{
    return dc_handoff_fd(p->writes);
}

bool dc_pipeline_take_wait(dc_pipeline_t *p, dc_write_op_t **op, uint64_t now_mono_ms)
{
    if ((*op)->kind != DC_OP_WAIT)
        return false;
    dc_events_wait(p->events, *op, now_mono_ms);
    dc_write_op_destroy(op);
    return true;
}

void dc_pipeline_decide(dc_pipeline_t *p, dc_decider_t *d, dc_write_op_t *op, dc_outcome_t *out)
{
    if (op->has_request_id && dc_decide_answered(d, op->request_id, out)) {
        out->changed = false;
        DC_STAT_INC(p->ctx, deduplicated);
        return;
    }
    dc_decide(d, op, out);
}

void dc_pipeline_command(dc_pipeline_t *p, const char *command)
{
    if (streq(command, "FLUSH"))
        dc_events_flush(p->events);
}

/* The command a client sent for an op of kind. */
static int64_t s_command_of(dc_op_kind_t kind)
{
    static const int64_t commands[] = {
        [DC_OP_REGISTER] = DC_CMD_REGISTER_TOPIC,        [DC_OP_UNREGISTER] = DC_CMD_UNREGISTER_TOPIC,
        [DC_OP_REVOKE_LEASE] = DC_CMD_REVOKE_LEASE,      [DC_OP_REGISTER_NODE] = DC_CMD_REGISTER_NODE,
        [DC_OP_UNREGISTER_NODE] = DC_CMD_UNREGISTER_NODE, [DC_OP_WAIT] = DC_CMD_WAIT_TOPIC,
        [DC_OP_REMOVE_DEAD] = 0,                          [DC_OP_MEMBER_ADD] = DC_CMD_MEMBER_ADD,
        [DC_OP_MEMBER_REMOVE] = DC_CMD_MEMBER_REMOVE,     [DC_OP_MEMBER_TRANSFER] = DC_CMD_MEMBER_TRANSFER,
        [DC_OP_SUBSCRIBE] = DC_CMD_SUBSCRIBE,             [DC_OP_UNSUBSCRIBE] = DC_CMD_UNSUBSCRIBE};
    return (size_t)kind < sizeof commands / sizeof commands[0] ? commands[kind] : 0;
}

void dc_pipeline_answer(dc_pipeline_t *p, dc_write_op_t *op, const dc_outcome_t *out)
{
    if (out->status == DC_STATUS_ERROR)
        DC_STAT_INC(p->ctx, errors);
    if (!op->route)
        return;
    dc_stat_reply(&p->ctx->stats, s_command_of(op->kind), out->status);
    if (op->kind == DC_OP_REGISTER && op->received_us)
        dc_histogram_observe(&p->ctx->stats.register_us, dc_mono_us() - op->received_us);
    dc_reply_t r;
    memset(&r, 0, sizeof r);
    r.status = out->status;
    r.message = out->message;
    r.version = op->version;
    dc_context_stamp(p->ctx, &r);
    r.has_lease = out->has_lease;
    r.lease_id = out->lease_id;
    r.lease_ttl_ms = out->lease_ttl_ms;
    r.provisional = out->provisional;
    /* A subscriber is told at once of the publishers it cannot decode. */
    msgpack_sbuffer mismatch;
    msgpack_sbuffer_init(&mismatch);
    if (op->kind == DC_OP_SUBSCRIBE && out->status == DC_STATUS_OK && op->entry &&
        dc_mismatch_for(p->ctx->registry, p->ctx->subs, op->entry->topic.name,
                        op->entry->topic.publisher_node, &mismatch))
        r.mismatch = (dc_blob_t){(const uint8_t *)mismatch.data, mismatch.size};
    zframe_t *frame = dc_reply_frame(&r);
    msgpack_sbuffer_destroy(&mismatch);
    if (frame)
        dc_reply_route_hand(&op->route, &frame, p->answers);
}

uint64_t dc_pipeline_next_deadline(const dc_pipeline_t *p)
{
    uint64_t lease = dc_lessor_next(&p->lessor);
    uint64_t wait = dc_events_next_deadline(p->events);
    return lease < wait ? lease : wait;
}

void dc_pipeline_batch_done(dc_pipeline_t *p, size_t n)
{
    p->recent[p->recent_next++ % 4] = n;
}

size_t dc_pipeline_batch_expected(const dc_pipeline_t *p)
{
    size_t expected = 0;
    for (int i = 0; i < 4; i++)
        if (p->recent[i] > expected)
            expected = p->recent[i];
    return expected;
}
