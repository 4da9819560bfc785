/* dc_sse.h: /api/v1/events, the registry's event stream as Server-Sent
 * Events: each event of the PUB socket (dc_events) becomes
 *
 *   id: SEQ
 *   event: topic.added
 *   data: {...the event map as JSON...}
 *
 * with a comment line every few seconds so proxies and browsers keep the
 * stream open. A browser's EventSource reconnects by itself; a gap in the ids
 * means missed events (fetch the views again, as discoctl watch LISTs again).
 *
 * Design notes: a stream is one connection thread of the listener (thread
 * per connection): its SUB socket (czmq, on the events PUB's inproc side) is
 * made, read and closed by that thread alone. At most DC_SSE_MAX streams. */
#ifndef DC_SSE_H
#define DC_SSE_H

#include "dc_context.h"

#include <microhttpd.h>
#include <stdatomic.h>

#define DC_SSE_MAX 16

/* A streaming response, or NULL when DC_SSE_MAX streams are open already or
 * memory ran out. *stopping set: every stream ends (the listener stops). */
struct MHD_Response *dc_sse_response(dc_context_t *ctx, atomic_bool *stopping);

#endif
