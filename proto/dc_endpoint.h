/* dc_endpoint.h: where a daemon's events endpoint is when nobody chose it.
 * One rule for the daemon (which binds it) and the clients (which connect to
 * it): beside the first ipc address, as the datagram socket PATH.hb is. */
#ifndef DC_ENDPOINT_H
#define DC_ENDPOINT_H

/* The events endpoint beside an ipc endpoint: ipc://DIR/X.sock gives
 * ipc://DIR/X-events.sock (so the default address gives the default events
 * endpoint), ipc://P gives ipc://P-events; NULL for any other scheme.
 * Caller owns the returned string. */
char *dc_events_beside(const char *endpoint);

#endif
