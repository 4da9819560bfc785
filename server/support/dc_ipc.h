/* dc_ipc.h: the file side of ipc:// endpoints: directories, stale socket
 * files, unlinking at stop, and probing whether anybody listens. */
#ifndef DC_IPC_H
#define DC_IPC_H

#include <stdbool.h>

/* The socket path of an ipc:// endpoint (borrowed from it), or NULL. */
const char *dc_ipc_path(const char *endpoint);

/* Creates the directory of path and removes a stale socket file there.
 * Returns -1 (logged) when a live process still answers on it. */
int dc_ipc_prepare(const char *path);

/* Gives the bound socket file its mode and group (group NULL: leave it).
 * When the group is required (configured), a missing group or one this user
 * cannot give is an error; otherwise (the default group) a warning, and the
 * file keeps the user's group. Returns 0, or -1 (logged). */
int dc_ipc_secure(const char *path, unsigned mode, const char *group, bool required);

typedef enum { DC_PROBE_ALIVE, DC_PROBE_DEAD, DC_PROBE_UNKNOWN } dc_probe_t;

/* Is anybody listening on this unix socket path? DEAD when the file is gone
 * or connections are refused. Never blocks. "@name" is the abstract namespace. */
dc_probe_t dc_ipc_probe(const char *path);

#endif
