/* dc_writer.h: the writer thread (czmq actor): the only code that changes the
 * registry or writes the database.
 *
 * Writes arrive from workers as dc_write_op_t pointers. The writer takes every
 * op that is waiting (group commit), decides each against the registry plus
 * the changes earlier in the same batch, writes them in one SQLite
 * transaction, and only after COMMIT returns applies them to the in-memory
 * registry and sends the replies. So an acknowledged write is durable, and 8
 * clients registering at once share one fsync.
 *
 * Every accepted write becomes one dc_change_t with a sequence number: the
 * unit a backup daemon will one day apply in the same order. */
#ifndef DC_WRITER_H
#define DC_WRITER_H

#include "dc_context.h"
#include "dc_store.h"
#include <czmq.h>

typedef struct {
    dc_context_t *ctx;
    dc_store_t *store; /* used by the writer thread alone while it runs */
} dc_writer_args_t;

/* Actor body: zactor_new(dc_writer_actor, args). On $TERM it finishes the ops
 * already queued, then returns. */
void dc_writer_actor(zsock_t *pipe, void *args);

#endif
