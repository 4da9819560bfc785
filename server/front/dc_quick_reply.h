/* dc_quick_reply.h: the answers that need no more than a hash lookup (PING,
 * LOOKUP, HEARTBEAT with a lease_id, WAIT for a topic that is there), built
 * where the request is read: the front thread answers them inline, the
 * datagram thread for PATH.hb, the workers for the ones they are handed. And
 * the answer to a found topic, which WAIT shares with LOOKUP.
 *
 * Design notes: called from several threads at once; it only reads the
 * registry (its own lock, dc_registry.h), renews leases (dc_lease.h's lock)
 * and bumps atomic counters. */
#ifndef DC_QUICK_REPLY_H
#define DC_QUICK_REPLY_H

#include "dc_context.h"
#include "dc_reply.h"
#include "dc_request.h"

#include <msgpack.h>

/* Appends the encoded reply to req to out and returns 0, or returns -1 when
 * req is not one of these (a WAIT without a topic name among them: the
 * worker answers its ERROR). A WAIT for a topic not there returns 1 with
 * nothing appended: the writer holds it (dc_write_op_wait), and checks again
 * as it does, so no registration slips between this look and the hold. A
 * WAIT is counted (`waits`) here when answered, else by the thread that
 * hands it to the writer: once, whichever thread ends up doing it.
 * scratch (may be NULL) is a buffer the caller keeps for the reply's parts,
 * so the hot path allocates nothing once warm. */
int dc_quick_reply(dc_context_t *ctx, const dc_request_t *req, msgpack_sbuffer *out,
                   msgpack_sbuffer *scratch);

/* The registrations a LOOKUP or WAIT answer holds references to: in small
 * (no allocation) when they fit, else a snapshot array. */
#define DC_FOUND_SMALL 8
typedef struct {
    dc_entry_t **entries;
    size_t count;
    dc_entry_t *small[DC_FOUND_SMALL];
} dc_found_t;

/* A found topic's answer from ctx's registry (for a name this member's
 * island changed, while it merges: as its computer was told, from
 * ctx->merging, dc_overlay.h): r
 * (stamped: dc_context_stamp)
 * becomes OK with the most recent registration's topic_info and metadata,
 * and for protocol 2 every registration's publishers (packed into buf;
 * another member's marked stale while this one is isolated). Returns 0
 * (dc_found_release(f) after sending), or -1 when the topic has no
 * registration (nothing filled, nothing to release). */
int dc_found(dc_context_t *ctx, dc_str_t name, dc_reply_t *r, msgpack_sbuffer *buf,
             dc_found_t *f);

/* Drops f's references. */
void dc_found_release(dc_found_t *f);

#endif
