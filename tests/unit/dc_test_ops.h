/* dc_test_ops.h: write ops and their answers for the unit tests that run the
 * write pipeline in-process (test_writer.c on SQLite, test_pipeline_raft.c
 * on Raft's fixture). */
#ifndef DC_TEST_OPS_H
#define DC_TEST_OPS_H

#include "dc_handoff.h"
#include "dc_protocol.h"
#include "dc_reply_send.h"
#include "dc_write_op.h"

#include <stdio.h>
#include <stdlib.h>

/* op from a local protocol 2 client whose route is the one frame tag. */
static inline dc_write_op_t *dc_test_routed(dc_write_op_t *op, const char *tag)
{
    op->version = 2;
    op->principal.access = DC_ACCESS_LOCAL;
    op->route = zmsg_new();
    zmsg_addstr(op->route, tag);
    return op;
}

/* A REGISTER of name (node "node"), leased when lease_ttl_ms > 0, routed as tag. */
static inline dc_write_op_t *dc_test_register(const char *name, const char *tag,
                                              uint64_t lease_ttl_ms)
{
    dc_write_op_t *op = calloc(1, sizeof *op);
    dc_topic_t t = {dc_str_from(name), dc_str_from("ipc:///tmp/x"), dc_str_from("T"),
                    dc_str_from("node"), 42};
    op->kind = DC_OP_REGISTER;
    op->entry = dc_entry_new(&t, 0, 0, NULL, 0);
    op->has_lease_ttl = lease_ttl_ms > 0;
    op->lease_ttl_ms = lease_ttl_ms;
    return dc_test_routed(op, tag);
}

/* The next answer on answers within timeout_ms: its status and tag (-1: none
 * in time, -2: not a routed reply); its message copied when message is given. */
static inline int dc_test_answer(dc_handoff_t *answers, int timeout_ms, char *tag,
                                 size_t tag_size, char *message, size_t size)
{
    zmsg_t *msg = dc_handoff_pop_wait(answers, timeout_ms); /* handed over as a pointer */
    if (!msg)
        return -1;
    zframe_t *route = zmsg_first(msg), *reply = zmsg_last(msg);
    int status = -2;
    dc_reply_view_t v;
    char err[DC_ERR_LEN];
    if (route && route != reply &&
        dc_reply_decode(&v, zframe_data(reply), zframe_size(reply), err) == 0) {
        status = (int)v.status;
        snprintf(tag, tag_size, "%.*s", (int)zframe_size(route), (char *)zframe_data(route));
        if (message)
            snprintf(message, size, "%.*s", (int)v.message.len, v.message.ptr);
        dc_reply_view_release(&v);
    }
    zmsg_destroy(&msg);
    return status;
}

#endif
