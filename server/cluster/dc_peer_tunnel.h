/* dc_peer_tunnel.h: libraft's peer links carried over ZeroMQ CURVE.
 *
 * libraft's tcp transport speaks plain TCP, so with --curve-key the member's
 * peer address (HOST:PORT of --cluster-member) is not Raft's: it is a
 * ZeroMQ ROUTER, a CURVE server that takes only the cluster's key (ZAP domain
 * "discod-members", dc_zap.h). Raft listens on loopback instead, and reaches
 * another member through a loopback port of this tunnel, which forwards the
 * bytes over a DEALER (a CURVE client with the cluster's key) to that
 * member's ROUTER, whose tunnel hands them to its own Raft. A process without
 * the cluster's key can neither join nor read the replication stream.
 *
 * Each Raft connection is a stream id on the tunnel: frames
 * [id]["O"] (opened), [id]["D"][bytes], [id]["C"] (closed); on the ROUTER side
 * they come with the peer's routing identity first.
 *
 * Design notes: the tunnel runs in its own thread and owns every socket and
 * file descriptor in it, but for the loopback listeners, which the Raft
 * thread creates (dc_peer_tunnel_port) and hands over under the mutex; the
 * mutex also guards the set of loopback ports the tunnel connected to Raft
 * from, which the Raft thread's gate reads (dc_peer_tunnel_owns). */
#ifndef DC_PEER_TUNNEL_H
#define DC_PEER_TUNNEL_H

#include "dc_config.h"
#include "dc_zap.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct dc_peer_tunnel dc_peer_tunnel_t;

/* Binds the ROUTER on this member's peer address and starts the thread.
 * NULL (logged) when it cannot. */
dc_peer_tunnel_t *dc_peer_tunnel_new(dc_zap_t *zap, const dc_config_t *config);
void dc_peer_tunnel_destroy(dc_peer_tunnel_t **self_p);

/* The loopback address ("127.0.0.1:PORT") Raft must listen on. */
const char *dc_peer_tunnel_raft_address(const dc_peer_tunnel_t *self);

/* The loopback address that reaches member id at address (HOST:PORT),
 * made on first use. Writes it into out; returns 0, or -1 (logged). */
int dc_peer_tunnel_route(dc_peer_tunnel_t *self, uint64_t id, const char *address, char *out,
                         size_t size);

/* Is port (a loopback source port) one of the tunnel's connections to Raft? */
bool dc_peer_tunnel_owns(dc_peer_tunnel_t *self, int port);

#endif
