/* dc_writer.h: the writer thread (czmq actor): the one thread that changes
 * the applied state (dc_apply.h) and the only user of the database after
 * start.
 *
 * Write ops arrive from the front, the workers and the prober as
 * dc_write_op_t pointers on the ops queue (dc_handoff.h). The writer takes every op that is waiting (group
 * commit), decides each against the state plus the batch so far
 * (dc_decide), writes the batch's changes in one SQLite transaction
 * (dc_persist), and only after COMMIT returns applies them (dc_apply), which
 * publishes their events and wakes held WAITs (dc_events), then sends the
 * replies. So an acknowledged write is durable, and 8 clients registering at
 * once share one fsync.
 *
 * It also runs the timers: lease expiry (a decided change like any other),
 * WAIT time-outs, and renewal checkpoints (once a second, one LEASE_RENEW
 * change per lease whose saved renewal is TTL/2 old, all in one commit).
 *
 * The queues, held WAITs, the observer, the lessor and the replies are the
 * pipeline it shares with a cluster member's writer (dc_pipeline.h); what is
 * its own is the commit to SQLite, the gathering of a group commit, and the
 * database's health checks (deleted, read-only). */
#ifndef DC_WRITER_H
#define DC_WRITER_H

#include "dc_pipeline.h"

/* Actor body: zactor_new(dc_writer_actor, args). After the start signal it
 * sends "READY" or "FAILED" on the pipe. Commands: "FLUSH" answers every held
 * WAIT (the daemon is stopping); $TERM finishes the queued ops and returns. */
void dc_writer_actor(zsock_t *pipe, void *args);

#endif
