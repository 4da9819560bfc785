/* dc_store.h: the durable registry: one SQLite database in WAL mode.
 *
 * Design notes: a dc_store_t is one SQLite connection and is used by one
 * thread at a time: the loader at start, then the writer thread alone
 * (dc_writer, or dc_cluster through dc_fsm), which
 * owns every write and every checkpoint. Reads at run time never touch SQLite;
 * they are answered from the in-memory registry. */
#ifndef DC_STORE_H
#define DC_STORE_H

#include "dc_config.h"
#include "dc_topic.h"

typedef struct dc_store dc_store_t;

/* The schema version this build writes (PRAGMA user_version). */
#define DC_STORE_SCHEMA_VERSION 9

/* A stored topic, as handed to the load callback (views valid during it). */
typedef struct {
    dc_topic_t topic;
    uint64_t create_seq;
    uint64_t lease_id;
    const void *metadata; /* msgpack map, or NULL */
    size_t metadata_size;
    uint64_t registered_at_ms; /* wall clock of the last registration */
    uint64_t origin;           /* cluster: the member it came in at */
    dc_str_t owner;            /* the client key that wrote it; "" (or ptr NULL): ipc side */
} dc_stored_topic_t;

/* A stored node (views valid during the call they are passed to). */
typedef struct {
    const char *name;
    const char *description;
    const void *capabilities; /* msgpack array of str */
    size_t capabilities_size;
    const void *metadata; /* msgpack map, or NULL */
    size_t metadata_size;
    uint64_t lease_id;
    const char *owner; /* the client key that wrote it; "": ipc side */
} dc_stored_node_t;

/* A stored request answer (dc_dedup); message valid during the call. */
typedef struct {
    uint64_t request_id;
    int status;
    const char *message;
    uint64_t lease_id, lease_ttl_ms;
} dc_stored_request_t;

/* Opens (creating the directory and the file when missing) and migrates the
 * database. A corrupt or unreadable file is renamed to PATH.corrupt-TIMESTAMP
 * and a fresh one is created, unless on_corrupt is DC_CORRUPT_REFUSE.
 * Returns the store (caller destroys it) or NULL after logging why. */
dc_store_t *dc_store_open(const char *path, dc_sync_t sync, dc_on_corrupt_t on_corrupt,
                          uint64_t max_size);

/* Closes the connection (checkpointing the WAL); safe on NULL and twice. */
void dc_store_destroy(dc_store_t **self_p);

/* Calls fn for every stored topic in creation order; stops when fn returns
 * non-zero. Returns 0, or -1 on a SQLite error. */
int dc_store_load_topics(dc_store_t *self, int (*fn)(void *arg, const dc_stored_topic_t *t),
                         void *arg);

/* The same for every stored subscription (topic.publisher_node: the
 * subscriber's node; topic.address: ""). */
int dc_store_load_subs(dc_store_t *self, int (*fn)(void *arg, const dc_stored_topic_t *t),
                       void *arg);

/* An isolated member's provisional writes (dc_island.h): each put or delete
 * is its own transaction, committed at synchronous=FULL whatever the store's
 * mode (durable before the write is answered). Load calls fn in seq order.
 * Each returns 0, or -1 with dc_store_errmsg() saying why. */
int dc_store_put_provisional(dc_store_t *self, uint64_t seq, const void *op, size_t size);
/* Several rows in one transaction (one fsync). */
typedef struct {
    uint64_t seq;
    const void *op;
    size_t size;
} dc_stored_provisional_t;
int dc_store_put_provisionals(dc_store_t *self, const dc_stored_provisional_t *rows, size_t n);
int dc_store_delete_provisional(dc_store_t *self, uint64_t seq);
int dc_store_load_provisional(dc_store_t *self,
                              int (*fn)(void *arg, uint64_t seq, const void *op, size_t size),
                              void *arg);

/* Reads a uint from the meta table (0 when absent). */
uint64_t dc_store_meta_get(dc_store_t *self, const char *key);

/* One write transaction: begin, any number of puts/deletes/meta sets, then
 * commit (durable per the sync mode when it returns 0) or rollback. Each
 * returns 0, or -1 with dc_store_errmsg() saying why. */
int dc_store_begin(dc_store_t *self);
int dc_store_put_topic(dc_store_t *self, const dc_stored_topic_t *t);
/* Deletes node's registration of name (node.ptr NULL: every row of name). */
int dc_store_delete_topic(dc_store_t *self, dc_str_t name, dc_str_t node);
/* A subscription (as a topic with no address) put, or node's removed. */
int dc_store_put_sub(dc_store_t *self, const dc_stored_topic_t *t);
int dc_store_delete_sub(dc_store_t *self, dc_str_t name, dc_str_t node);
int dc_store_meta_set(dc_store_t *self, const char *key, uint64_t value);
int dc_store_commit(dc_store_t *self);
void dc_store_rollback(dc_store_t *self);

/* Leases and nodes, within a transaction like the topic calls. */
int dc_store_put_lease(dc_store_t *self, uint64_t id, uint64_t ttl_ms, uint64_t renewed_at_ms,
                       const char *owner);
int dc_store_touch_lease(dc_store_t *self, uint64_t id, uint64_t renewed_at_ms);
int dc_store_delete_lease(dc_store_t *self, uint64_t id);
int dc_store_put_node(dc_store_t *self, const dc_stored_node_t *n);
int dc_store_delete_node(dc_store_t *self, const char *name);
/* Stores what member id announced ("" removes it). */
int dc_store_put_member(dc_store_t *self, uint64_t id, const char *endpoint);
/* Empties every table and zeroes the counters (inside a transaction). */
int dc_store_clear(dc_store_t *self);
/* Stores a request answer in table slot (replacing the slot's). */
int dc_store_put_request(dc_store_t *self, uint64_t slot, const dc_stored_request_t *r);

/* Loaders, called at start. Each returns 0, or -1 on a SQLite error. */
int dc_store_load_leases(dc_store_t *self,
                         int (*fn)(void *arg, uint64_t id, uint64_t ttl_ms, uint64_t renewed_at_ms,
                                   const char *owner),
                         void *arg);
int dc_store_load_nodes(dc_store_t *self, int (*fn)(void *arg, const dc_stored_node_t *n),
                        void *arg);
int dc_store_load_members(dc_store_t *self,
                          int (*fn)(void *arg, uint64_t id, const char *endpoint), void *arg);
int dc_store_load_requests(dc_store_t *self,
                           int (*fn)(void *arg, const dc_stored_request_t *r), void *arg);

/* The last SQLite error message (borrowed). */
const char *dc_store_errmsg(dc_store_t *self);

/* True when the database file was deleted or replaced under the daemon (the
 * connection then writes to an inode nobody will ever open again). */
bool dc_store_file_gone(dc_store_t *self);

/* True when SQLite opened the file read-only (no write permission). */
bool dc_store_readonly(dc_store_t *self);

/* Closes the connection and opens the path again (creating a fresh file).
 * Returns 0, or -1 with dc_store_errmsg() saying why. */
int dc_store_reopen(dc_store_t *self);

/* Runs PRAGMA integrity_check. Returns 0 when it says ok. */
int dc_store_integrity_ok(dc_store_t *self);

#endif
