/* dc_members.h: the cluster as readers see it: what the cluster thread
 * publishes into ctx->cluster (dc_members_publish), and the MEMBERS reply
 * built from it for the workers.
 *
 * Design notes: dc_members_publish runs on the cluster thread, the rest on
 * workers; the scalars are atomics, the member list is under
 * ctx->cluster.lock. */
#ifndef DC_MEMBERS_H
#define DC_MEMBERS_H

#include "dc_context.h"

#include <raft.h>

/* Cluster thread: publishes r's role, term, leader (0 while isolated),
 * commit index and the applied index into ctx->cluster (a few atomic stores:
 * the cluster thread does it each turn of its loop and before it answers a
 * write, so a client's STATS after its write's answer counts the write). */
void dc_members_publish_indexes(dc_context_t *ctx, struct raft *r, uint64_t applied_index);

/* Cluster thread: dc_members_publish_indexes and every member of r's
 * configuration (reachability and match index as a leader sees them). */
void dc_members_publish(dc_context_t *ctx, struct raft *r, uint64_t applied_index);

/* Appends the msgpack array of member maps (PROTOCOL.md, MEMBERS) to out:
 * every member of the configuration this member knows, itself with its own
 * Raft state. Standalone: an empty array. Returns 0, or -1 when out of memory. */
int dc_members_encode(dc_context_t *ctx, msgpack_sbuffer *out);

/* The name of a role code (DC_ROLE_*): "standalone", "follower", ... */
const char *dc_role_name(int role);

#endif
