/* dc_prober.h: keeps registrations without a lease honest (every unmodified
 * Cortex publisher registers that way). A thread of its own (czmq actor), so
 * probing never delays a request: every probe_interval_ms it checks the
 * endpoint of each lease-less topic (ipc: the socket file is there and takes
 * connections; tcp on a loopback address: connections are not refused) and,
 * after probe_failures refusals in a row, asks the writer to remove it with
 * reason "endpoint-dead". With legacy_ttl_ms set it also removes lease-less
 * topics registered longer ago than that (reason "legacy-ttl"). */
#ifndef DC_PROBER_H
#define DC_PROBER_H

#include "dc_context.h"
#include "dc_ipc.h"
#include <czmq.h>

/* Actor body: zactor_new(dc_prober_actor, ctx). */
void dc_prober_actor(zsock_t *pipe, void *ctx);

/* Probes a tcp://host:port endpoint when host is a loopback address (or a
 * wildcard, which is reachable on loopback). UNKNOWN for other hosts. */
dc_probe_t dc_prober_tcp(const char *endpoint);

#endif
