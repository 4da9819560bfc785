/* dc_zap.h: the daemon's ZAP handler (ZeroMQ's authentication protocol,
 * RFC 27) and its CURVE certificate: who may connect to which tcp socket.
 *
 * Two domains:
 * - "discod-clients" (the front's tcp endpoints, the events PUB): CURVE, and
 *   the client's key must be in --curve-clients (dc_keys) with a role.
 * - "discod-members" (the channel followers forward writes on): with CURVE,
 *   the client must hold the cluster's key (every member runs with the same
 *   --curve-key, so a member's client key is the server's own public key);
 *   without (--insecure-tcp), its address must be a member host's.
 * A refused handshake is logged once per peer (address and key), not per try.
 * The handler also reloads the key table: on SIGHUP and when the directory
 * changes (checked every second).
 *
 * Design notes: the handler runs in its own thread (a zactor). The member
 * allow-list is written by the cluster thread and read by the handler, under
 * one mutex; the key table has its own lock (dc_keys.h). */
#ifndef DC_ZAP_H
#define DC_ZAP_H

#include "dc_keys.h"

#include <czmq.h>

#define DC_ZAP_CLIENTS "discod-clients"
#define DC_ZAP_MEMBERS "discod-members"

typedef struct dc_zap dc_zap_t;

/* Starts the handler. cert_path: the server certificate (czmq: FILE public,
 * FILE_secret secret), or NULL (no CURVE: only the members' allow-list).
 * keys: the client table (borrowed). NULL (logged) when the certificate
 * cannot be read or the handler cannot start. */
dc_zap_t *dc_zap_new(const char *cert_path, dc_keys_t *keys);
void dc_zap_destroy(dc_zap_t **self_p);

/* Is CURVE on (a server certificate was given)? */
bool dc_zap_curve(const dc_zap_t *self);

/* The server's public key (Z85), or NULL without CURVE. */
const char *dc_zap_public_key(const dc_zap_t *self);

/* Makes sock a CURVE server in domain (a ZAP domain above), or, without
 * CURVE, only sets the domain when it is the members' (allow-list). */
void dc_zap_serve(dc_zap_t *self, zsock_t *sock, const char *domain);

/* Counts the failed handshakes of CURVE server sock that ZAP never saw (no
 * CURVE at all, garbage) and logs them under label at most every 10 s.
 * Call from the thread that owns sock, after dc_zap_serve. */
void dc_zap_watch(dc_zap_t *self, zsock_t *sock, const char *label);

/* Makes sock a CURVE client of another member (no-op without CURVE). */
void dc_zap_connect_member(dc_zap_t *self, zsock_t *sock);

/* Adds a member host's address (an IP) to the members' allow-list. */
void dc_zap_allow_member_address(dc_zap_t *self, const char *ip);

/* Asks for the key table to be read again (async-signal-safe: SIGHUP). */
void dc_zap_reload_soon(void);

#endif
