/* dc_peer_link.h: the transport of the Raft peer links: libraft's tcp
 * transport (raft_uv_tcp) bound to this member's configured address, behind
 * a gate that accepts only configured members. A connection whose
 * handshake claims an id that is not a member, or that comes from an address
 * other than that member's configured host, is closed and logged (once per
 * peer and reason, not per try).
 *
 * With CURVE (--curve-key) Raft's bytes go through dc_peer_tunnel: Raft
 * listens on loopback, the member's peer address is the tunnel's CURVE
 * ROUTER, and the gate lets in only the tunnel's own loopback connections.
 *
 * Design notes: used by the Raft loop thread alone. */
#ifndef DC_PEER_LINK_H
#define DC_PEER_LINK_H

#include "dc_config.h"
#include "dc_zap.h"

#include <raft/uv.h>

typedef struct dc_peer_link dc_peer_link_t;

/* A transport for raft_uv_init on loop, for the members of config (through
 * the CURVE tunnel when zap has a certificate). NULL when out of memory or
 * when libraft's tcp transport or the tunnel cannot start. */
dc_peer_link_t *dc_peer_link_new(uv_loop_t *loop, const dc_config_t *config, dc_zap_t *zap);

/* Who is a member now (the Raft configuration, which membership changes
 * move past the configured list): fn returns member id's HOST:PORT, or NULL.
 * Without it, only the configured members are accepted. */
void dc_peer_link_set_lookup(dc_peer_link_t *self, const char *(*fn)(void *arg, uint64_t id),
                             void *arg);

/* The transport to hand to raft_uv_init (borrowed). */
struct raft_uv_transport *dc_peer_link_transport(dc_peer_link_t *self);

/* Connections refused so far (for STATS and tests). */
uint64_t dc_peer_link_refused(const dc_peer_link_t *self);

/* Frees the link once raft has closed its transport. Safe on NULL. */
void dc_peer_link_destroy(dc_peer_link_t **self_p);

#endif
