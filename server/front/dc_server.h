/* dc_server.h: the discovery server: opens the store, loads the registry,
 * starts the ZAP handler (dc_zap) and the front thread (dc_front.h), which
 * binds the client-facing ROUTER(s) and starts the worker and writer
 * threads. The front checks each tcp request's key and role before anything
 * else sees it.
 *
 * Threads: the front (one actor) owns the client-facing ROUTER sockets. It
 * answers PING, LOOKUP, HEARTBEAT and a WAIT whose topic is there inline
 * (dc_quick_reply), hands REGISTER, UNREGISTER, SUBSCRIBE, UNSUBSCRIBE and a
 * WAIT to hold it could decode straight to the writer, and load-balances
 * everything else to idle workers over inproc; workers answer the other
 * reads and pass the other writes to the writer, which commits them (or
 * holds the WAIT) and hands the answer back to the front. Ops go to the
 * writer and answers come back on two queues of pointers (dc_handoff.h). The writer is dc_writer
 * standalone, dc_cluster (Raft on its own libuv loop) in a cluster; both
 * change the applied state through dc_apply alone. main() owns only this
 * object. */
#ifndef DC_SERVER_H
#define DC_SERVER_H

#include "dc_config.h"

typedef struct dc_server dc_server_t;

/* Starts a server with config (which must outlive it). Returns NULL after
 * logging why when the database cannot be opened or an endpoint not bound. */
dc_server_t *dc_server_new(const dc_config_t *config);

/* Waits up to timeout_ms for the server to stop by itself (a SHUTDOWN
 * request). Returns true when it has. */
bool dc_server_wait_stopped(dc_server_t *self, int timeout_ms);

/* Stops gracefully: finishes in-flight requests (up to a few seconds), closes
 * the database, unlinks ipc socket files. Safe on NULL and twice. */
void dc_server_destroy(dc_server_t **self_p);

#endif
