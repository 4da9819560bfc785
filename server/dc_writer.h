/* dc_writer.h: the writer thread (czmq actor): the only code that changes the
 * registry, the leases or the nodes, and the only user of the database after
 * start.
 *
 * Ops arrive from workers (and the prober) as dc_write_op_t pointers. The
 * writer takes every op that is waiting (group commit), decides each against
 * the current state plus the changes earlier in the same batch, writes the
 * changes in one SQLite transaction, and only after COMMIT returns applies
 * them to memory, publishes their events, wakes held WAITs and sends the
 * replies. So an acknowledged write is durable, and 8 clients registering at
 * once share one fsync.
 *
 * It also runs the timers: lease expiry, WAIT time-outs, and saving lease
 * renewals (once a second, one transaction for all of them, so heartbeats cost
 * no fsync each).
 *
 * Every accepted change is one dc_change_t with a sequence number: the unit a
 * backup daemon will one day apply in the same order. */
#ifndef DC_WRITER_H
#define DC_WRITER_H

#include "dc_context.h"
#include "dc_store.h"
#include <czmq.h>

typedef struct {
    dc_context_t *ctx;
    dc_store_t *store; /* used by the writer thread alone while it runs */
    /* Leases restored at start (already in ctx->leases): their expiry times. */
    const uint64_t *restored_ids;
    const uint64_t *restored_expiries;
    size_t restored_count;
} dc_writer_args_t;

/* Actor body: zactor_new(dc_writer_actor, args). After the start signal it
 * sends "READY" or "FAILED" on the pipe. Commands: "FLUSH" answers every held
 * WAIT (the daemon is stopping); $TERM finishes the queued ops and returns. */
void dc_writer_actor(zsock_t *pipe, void *args);

#endif
