/* dc_graph.h: GRAPH, the robot as discod knows it: every publisher and
 * subscriber of the topics asked for (with node, type, fingerprint, lease
 * and its remaining time, and the member it came in at), the topics looked
 * up by clients that never declared themselves, and the mismatches between
 * the two sides. discoctl topic, node and graph are views of this reply.
 *
 * Design notes: called by workers; it reads the registries, the lease table
 * and the lookup counts as every reader does (their own locks). */
#ifndef DC_GRAPH_H
#define DC_GRAPH_H

#include "dc_context.h"
#include "dc_request.h"

/* Packs the GRAPH answer to req (topic_name: that topic only; node_name:
 * what that node publishes and subscribes to) into buf as the reply's
 * publishers array (*publishers) followed by its extra pairs (*extra:
 * subscriptions, lookups, mismatches). Returns 0, or -1 when out of memory. */
int dc_graph_pack(dc_context_t *ctx, const dc_request_t *req, msgpack_sbuffer *publishers,
                  msgpack_sbuffer *extra, uint32_t *extra_pairs);

/* Packs nodes (count) as an array of node maps, each with the topics it
 * publishes (GET_NODE, FIND_NODES, /api/v1/nodes). */
void dc_graph_pack_nodes(dc_context_t *ctx, msgpack_sbuffer *buf, dc_node_t **nodes, size_t n);

/* Mismatches between publishers and subscriptions right now (STATS). */
uint64_t dc_graph_mismatch_count(dc_context_t *ctx);

#endif
