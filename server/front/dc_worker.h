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

/* Actor body: zactor_new(dc_worker_actor, ctx). ctx must outlive the actor. */
void dc_worker_actor(zsock_t *pipe, void *ctx);

#endif
