/* dc_members.h: the cluster as a reader sees it: the MEMBERS reply and the
 * cluster keys of STATS, both built from ctx->cluster (what the cluster
 * thread last published).
 *
 * Design notes: called by workers; takes ctx->cluster.lock for the member
 * list only. */
#ifndef DC_MEMBERS_H
#define DC_MEMBERS_H

#include "dc_context.h"

/* Appends the msgpack array of member maps (PROTOCOL.md, MEMBERS) to out:
 * every member of the configuration this member knows, itself with its own
 * Raft state. Standalone: an empty array. Returns 0, or -1 when out of memory. */
int dc_members_encode(dc_context_t *ctx, msgpack_sbuffer *out);

/* The name of a role code (DC_ROLE_*): "standalone", "follower", ... */
const char *dc_role_name(int role);

#endif
