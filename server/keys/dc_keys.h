/* dc_keys.h: who may talk to discod over tcp: the client keys of
 * --curve-clients (a directory of czmq public certificates, each with a
 * "role" in its metadata), and what each role may ask.
 *
 * Roles: read (PING, LOOKUP, LIST, WAIT, node queries, STATS, MEMBERS,
 * events), write (also REGISTER, UNREGISTER, HEARTBEAT, REVOKE_LEASE, node
 * registration), admin (also SHUTDOWN under --allow-shutdown admin, and
 * membership changes). Clients on ipc endpoints (and on tcp endpoints run
 * with --insecure-tcp) are "local": every command, as before CURVE.
 *
 * Design notes: the table is read by the front thread (a lookup per tcp
 * request) and the ZAP handler thread, and replaced by the ZAP handler's
 * reloads (SIGHUP, or the directory changed); one rwlock guards it. */
#ifndef DC_KEYS_H
#define DC_KEYS_H

#include "dc_principal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dc_keys dc_keys_t;

/* The table of dir's certificates (dir NULL: an empty table). Certificates
 * without a known role are skipped with a warning. NULL when out of memory. */
dc_keys_t *dc_keys_new(const char *dir);
void dc_keys_destroy(dc_keys_t **self_p);

/* Reads the directory again and replaces the table. Returns the number of
 * keys now, or -1 (logged; the table is kept) when the directory cannot be read. */
int dc_keys_reload(dc_keys_t *self);

/* Has the directory changed (its modification time) since the last load? */
bool dc_keys_changed(dc_keys_t *self);

/* The role of Z85 key (DC_ACCESS_NONE when unknown or key is NULL). */
dc_access_t dc_keys_role(dc_keys_t *self, const char *key);

/* "read", "write", "admin", "local", or "none". */
const char *dc_access_name(dc_access_t access);

/* The command's name ("REGISTER", ...), for messages. */
const char *dc_command_name(int64_t command);

/* May a client with access send command? */
bool dc_access_allows(dc_access_t access, int64_t command);

#endif
