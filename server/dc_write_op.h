/* dc_write_op.h: a validated write handed from a worker to the writer thread.
 * The pointer travels over inproc; whoever holds it owns it (the writer frees
 * it with dc_write_op_destroy after replying). */
#ifndef DC_WRITE_OP_H
#define DC_WRITE_OP_H

#include "dc_entry.h"
#include <czmq.h>

typedef struct {
    zmsg_t *route;       /* [endpoint index][envelope...][""]: where the reply goes */
    int version;         /* the client's protocol version */
    int64_t command;     /* DC_CMD_REGISTER_TOPIC or DC_CMD_UNREGISTER_TOPIC */
    bool has_request_id;
    uint64_t request_id;
    dc_entry_t *entry;   /* REGISTER: the new entry (one reference) */
    char *name;          /* UNREGISTER: the topic name (NUL-terminated) */
    uint32_t name_len;
} dc_write_op_t;

static inline void dc_write_op_destroy(dc_write_op_t **op_p)
{
    if (!op_p || !*op_p)
        return;
    dc_write_op_t *op = *op_p;
    zmsg_destroy(&op->route);
    dc_entry_unref(&op->entry);
    free(op->name);
    free(op);
    *op_p = NULL;
}

#endif
