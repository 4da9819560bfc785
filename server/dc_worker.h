/* dc_worker.h: a worker thread (czmq actor) behind the front's inproc ROUTER.
 *
 * It decodes each request (the front has checked the sender's role), answers
 * reads from the in-memory registry, applies the SHUTDOWN policy, and hands
 * validated writes, with their sender, to the writer thread. Every message it sends to the
 * front also says "I am idle again", which is how the front load-balances. */
#ifndef DC_WORKER_H
#define DC_WORKER_H

#include "dc_context.h"
#include "dc_request.h"
#include <czmq.h>

/* Answers the requests that need no more than a hash lookup (PING, LOOKUP,
 * HEARTBEAT with a lease_id):
 * appends the encoded reply to out and returns 0, or returns -1 when req is
 * anything else. The front thread calls it to answer these inline; workers
 * call it for the ones they are handed. scratch (may be NULL) is a buffer
 * the caller keeps for the reply's parts, so the hot path allocates nothing
 * once warm. */
int dc_worker_quick_reply(dc_context_t *ctx, const dc_request_t *req, msgpack_sbuffer *out,
                          msgpack_sbuffer *scratch);

/* Actor body: zactor_new(dc_worker_actor, ctx). ctx must outlive the actor. */
void dc_worker_actor(zsock_t *pipe, void *ctx);

#endif
