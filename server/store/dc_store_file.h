/* dc_store_file.h: the store's own state, shared by its two files
 * (internal to server/store/): dc_store.c (the file: open, schema and
 * migrations, a corrupt or deleted database, transactions) and
 * dc_store_rows.c (the rows of each table and the meta counters).
 *
 * Design notes: used by the writer's thread alone after start (dc_store.h). */
#ifndef DC_STORE_FILE_H
#define DC_STORE_FILE_H

#include "dc_store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <sys/types.h>

/* epoch, raft_index, change_seq, lease_seq, event_seq (dc_store_rows.c). */
#define DC_STORE_META_KEYS 5

struct dc_store {
    sqlite3 *db;
    char *path;
    dc_sync_t sync;
    dc_on_corrupt_t on_corrupt;
    uint64_t max_size;
    dev_t dev; /* identity of the file opened, to notice it being deleted */
    ino_t ino;
    sqlite3_stmt *begin, *commit;
    sqlite3_stmt *put_topic;
    sqlite3_stmt *delete_topic;
    sqlite3_stmt *meta_set, *meta_add; /* an UPDATE (cheaper than an upsert), an INSERT */
    sqlite3_stmt *put_lease;
    sqlite3_stmt *delete_lease;
    sqlite3_stmt *touch_lease;
    sqlite3_stmt *put_node;
    sqlite3_stmt *delete_node;
    sqlite3_stmt *put_request;
    sqlite3_stmt *put_member;
    sqlite3_stmt *delete_member;
    sqlite3_stmt *put_sub;
    sqlite3_stmt *delete_sub;
    /* The meta counters as the file holds them: in the open transaction
     * (meta_now) and as last committed (meta_committed), so a counter that
     * did not change is not written again (four writes a commit were
     * 32,000 instructions). Known only once written here. */
    uint64_t meta_now[DC_STORE_META_KEYS], meta_committed[DC_STORE_META_KEYS];
    bool meta_known[DC_STORE_META_KEYS], meta_committed_known[DC_STORE_META_KEYS];
    char errmsg[256];
};

/* The transaction ended: what it wrote is the file's (committed), or is not
 * (rolled back, or a failed commit). */
void dc_store__meta_settled(dc_store_t *self, bool committed);
/* Forgets what the file holds (reopened, cleared). */
void dc_store__meta_forget(dc_store_t *self);

/* Remembers SQLite's message for what failed (dc_store_errmsg). */
void dc_store__set_error(dc_store_t *self, const char *what);
/* Steps a prepared statement that returns no row, then resets it and
 * clears its bindings. Returns 0, or -1 with the error remembered as
 * "what: SQLite's message". */
int dc_store__step_reset(dc_store_t *self, sqlite3_stmt *stmt, const char *what);
/* Runs sql; returns SQLite's result code (the error remembered). */
int dc_store__exec(dc_store_t *self, const char *sql);

#endif
