/* dc_store.c: the SQLite database file: open, schema and migrations, a
 * corrupt, deleted or read-only database, transactions (see the .h; the
 * rows are dc_store_rows.c). */
#include "dc_store_file.h"
#include "dc_wal_vfs.h"
#include "dc_failpoint.h"
#include "dc_log.h"

#include <errno.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


/* Migration N brings a database from user_version N-1 to N. Append only. */
static const char *s_migrations[] = {
    /* 1: the first schema. Fingerprints are u64 stored as their i64 bits. */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE topics ("
    "  name TEXT PRIMARY KEY,"
    "  address TEXT NOT NULL,"
    "  message_type TEXT NOT NULL,"
    "  fingerprint INTEGER NOT NULL,"
    "  publisher_node TEXT NOT NULL,"
    "  create_seq INTEGER NOT NULL,"
    "  lease_id INTEGER NOT NULL DEFAULT 0,"
    "  metadata BLOB"
    ") WITHOUT ROWID;"
    "INSERT INTO meta (key, value) VALUES ('epoch', 0), ('change_seq', 0);",
    /* 2: leases, and when each topic was registered (for the legacy TTL). */
    "CREATE TABLE leases ("
    "  id INTEGER PRIMARY KEY,"
    "  ttl_ms INTEGER NOT NULL,"
    "  renewed_at_ms INTEGER NOT NULL"
    ");"
    "ALTER TABLE topics ADD COLUMN registered_at_ms INTEGER NOT NULL DEFAULT 0;"
    "INSERT INTO meta (key, value) VALUES ('lease_seq', 0), ('event_seq', 0);",
    /* 3: nodes (the SSSN "systems"). */
    "CREATE TABLE nodes ("
    "  name TEXT PRIMARY KEY,"
    "  description TEXT NOT NULL,"
    "  capabilities BLOB NOT NULL,"
    "  metadata BLOB,"
    "  lease_id INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;",
    /* 4: the answers to requests with a request_id (dc_dedup), one row per
     * table slot, so a retry after a restart is still answered once. */
    "CREATE TABLE requests ("
    "  slot INTEGER PRIMARY KEY,"
    "  request_id INTEGER NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  message TEXT NOT NULL,"
    "  lease_id INTEGER NOT NULL,"
    "  lease_ttl_ms INTEGER NOT NULL"
    ");",
    /* 5: what cluster members announced (MEMBER changes), and the Raft index
     * this copy of the registry holds. */
    "CREATE TABLE members (id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL);"
    "ALTER TABLE topics ADD COLUMN origin INTEGER NOT NULL DEFAULT 0;"
    "INSERT INTO meta (key, value) VALUES ('raft_index', 0);",
    /* 6: several publishers per topic: a row is a registration, keyed by the
     * topic name and its publisher_node. Every existing row is kept. */
    "CREATE TABLE topics_v6 ("
    "  name TEXT NOT NULL,"
    "  address TEXT NOT NULL,"
    "  message_type TEXT NOT NULL,"
    "  fingerprint INTEGER NOT NULL,"
    "  publisher_node TEXT NOT NULL,"
    "  create_seq INTEGER NOT NULL,"
    "  lease_id INTEGER NOT NULL DEFAULT 0,"
    "  metadata BLOB,"
    "  registered_at_ms INTEGER NOT NULL DEFAULT 0,"
    "  origin INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (name, publisher_node)"
    ") WITHOUT ROWID;"
    "INSERT INTO topics_v6 (name, address, message_type, fingerprint, publisher_node,"
    "  create_seq, lease_id, metadata, registered_at_ms, origin)"
    "  SELECT name, address, message_type, fingerprint, publisher_node, create_seq, lease_id,"
    "  metadata, registered_at_ms, origin FROM topics;"
    "DROP TABLE topics;"
    "ALTER TABLE topics_v6 RENAME TO topics;",
    /* 7: owners (CURVE): the client key a topic, node or lease was written
     * by; '' for the ipc side (and everything before keys existed). */
    "ALTER TABLE topics ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE nodes ADD COLUMN owner TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE leases ADD COLUMN owner TEXT NOT NULL DEFAULT '';",
    /* 8: subscriptions: who reads a topic and the type it expects, keyed by
     * the topic name and the subscriber's node. */
    "CREATE TABLE subscriptions ("
    "  name TEXT NOT NULL,"
    "  message_type TEXT NOT NULL,"
    "  fingerprint INTEGER NOT NULL,"
    "  node TEXT NOT NULL,"
    "  create_seq INTEGER NOT NULL,"
    "  lease_id INTEGER NOT NULL DEFAULT 0,"
    "  metadata BLOB,"
    "  registered_at_ms INTEGER NOT NULL DEFAULT 0,"
    "  origin INTEGER NOT NULL DEFAULT 0,"
    "  owner TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (name, node)"
    ") WITHOUT ROWID;",
    /* 9: an isolated member's provisional writes, oldest first, until merged
     * into its cluster (the forwarded-op bytes of dc_write_op_encode). */
    "CREATE TABLE provisional (seq INTEGER PRIMARY KEY, op BLOB NOT NULL);",
};

void dc_store__set_error(dc_store_t *self, const char *what)
{
    snprintf(self->errmsg, sizeof self->errmsg, "%s: %s", what, sqlite3_errmsg(self->db));
}

const char *dc_store_errmsg(dc_store_t *self)
{
    return self->errmsg;
}

int dc_store__exec(dc_store_t *self, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(self->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(self->errmsg, sizeof self->errmsg, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return rc;
    }
    return SQLITE_OK;
}

/* After each commit: checkpoint once the WAL holds 1000 pages (1 MB of
 * 1 KiB pages). */
static int s_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)arg;
    int threshold = 1000;
#ifdef DISCOD_FAILPOINTS
    /* Test builds: the crash loop checkpoints far more often. */
    const char *override = getenv("DISCOD_CHECKPOINT_PAGES");
    if (override && atoi(override) > 0)
        threshold = atoi(override);
#endif
    if (pages < threshold)
        return SQLITE_OK;
    dc_failpoint("checkpoint");
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static int s_mkdir_parents(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(dir, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Migrates to DC_STORE_SCHEMA_VERSION. Returns SQLITE_OK or an error code. */
static int s_migrate(dc_store_t *self)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(self->db, "PRAGMA user_version", -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(stmt);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
    sqlite3_finalize(stmt);
    if (version < 0)
        return rc;
    int latest = (int)(sizeof s_migrations / sizeof s_migrations[0]);
    if (version > latest) {
        snprintf(self->errmsg, sizeof self->errmsg,
                 "database schema version %d is newer than this discod (%d)", version, latest);
        return SQLITE_MISMATCH;
    }
    for (int v = version; v < latest; v++) {
        char sql[64];
        if ((rc = dc_store__exec(self, "BEGIN IMMEDIATE")) != SQLITE_OK)
            return rc;
        rc = dc_store__exec(self, s_migrations[v]);
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (rc == SQLITE_OK)
            rc = dc_store__exec(self, sql);
        if (rc == SQLITE_OK)
            rc = dc_store__exec(self, "COMMIT");
        if (rc != SQLITE_OK) {
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        dc_info("database schema migrated to version %d", v + 1);
    }
    return SQLITE_OK;
}

/* The file's page size in bytes (1024 for a file this discod created). */
static uint64_t s_page_size(dc_store_t *self)
{
    sqlite3_stmt *stmt = NULL;
    int size = 0;
    if (sqlite3_prepare_v2(self->db, "PRAGMA page_size", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        size = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return size > 0 ? (uint64_t)size : 4096;
}

/* A database we cannot migrate must already be at our schema version. */
static int s_check_version(dc_store_t *self)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(self->db, "PRAGMA user_version", -1, &stmt, NULL);
    int version = rc == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int(stmt, 0)
                                                                      : -1;
    sqlite3_finalize(stmt);
    if (version != DC_STORE_SCHEMA_VERSION) {
        snprintf(self->errmsg, sizeof self->errmsg,
                 "read-only database at schema version %d cannot be migrated to %d", version,
                 DC_STORE_SCHEMA_VERSION);
        return SQLITE_MISMATCH;
    }
    return SQLITE_OK;
}

/* Opens and checks one database file. Returns SQLITE_OK or the failing code,
 * with self->errmsg set. */
static int s_open_file(dc_store_t *self, dc_sync_t sync, uint64_t max_size, bool immutable)
{
    int rc;
    if (immutable) {
        /* Read-only fallback: a WAL database in a directory we may not write
         * cannot get its -shm file; read it as immutable instead. */
        char uri[4200];
        snprintf(uri, sizeof uri, "file:%s?immutable=1", self->path);
        rc = sqlite3_open_v2(uri, &self->db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    } else
        /* A commit's WAL appends in one write call (dc_wal_vfs.h). */
        rc = sqlite3_open_v2(self->path, &self->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             dc_wal_vfs_name());
    if (rc != SQLITE_OK) {
        snprintf(self->errmsg, sizeof self->errmsg, "cannot open: %s", sqlite3_errstr(rc));
        return rc;
    }
    sqlite3_extended_result_codes(self->db, 1);
    /* Checkpoints run from our own WAL hook (same threshold as SQLite's
     * automatic one), in the writer thread, with a failpoint for the tests. */
    sqlite3_wal_hook(self->db, s_wal_hook, self);
    sqlite3_busy_timeout(self->db, 2000);
    if (sqlite3_db_readonly(self->db, "main") == 1)
        dc_error("database %s is read-only: registrations will be refused", self->path);
    /* A new file gets 1 KiB pages (a file that exists keeps its own): a
     * commit writes each page it touched whole into the WAL and checksums
     * it, and a registration touches a few small rows on different pages. */
    if (!immutable)
        dc_store__exec(self, "PRAGMA page_size = 1024");
    /* The first statement that reads the file tells a non-database apart. */
    rc = immutable ? SQLITE_OK : dc_store__exec(self, "PRAGMA journal_mode = WAL");
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_READONLY)
        return rc;
    rc = dc_store__exec(self, sync == DC_SYNC_FULL ? "PRAGMA synchronous = FULL"
                                           : "PRAGMA synchronous = NORMAL");
    if (rc != SQLITE_OK)
        return rc;
    if (max_size > 0) {
        char sql[96];
        /* In the file's own pages; at least a few so the schema fits. */
        uint64_t pages = max_size / s_page_size(self);
        snprintf(sql, sizeof sql, "PRAGMA max_page_count = %llu",
                 (unsigned long long)(pages < 4 ? 4 : pages));
        dc_store__exec(self, sql);
    }
    /* quick_check reads every page: a damaged file fails here, not later. */
    sqlite3_stmt *stmt = NULL;
    rc = sqlite3_prepare_v2(self->db, "PRAGMA quick_check", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        dc_store__set_error(self, "quick_check");
        return rc;
    }
    rc = sqlite3_step(stmt);
    bool ok = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(stmt, 0), "ok") == 0;
    if (!ok) {
        snprintf(self->errmsg, sizeof self->errmsg, "quick_check failed: %s",
                 rc == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0)
                                  : sqlite3_errmsg(self->db));
        sqlite3_finalize(stmt);
        return rc == SQLITE_ROW ? SQLITE_CORRUPT : rc;
    }
    sqlite3_finalize(stmt);
    rc = immutable ? s_check_version(self) : s_migrate(self);
    if (rc != SQLITE_OK)
        return rc;
    /* The tables must look like ours: a foreign SQLite file is "corrupt" too. */
    rc = sqlite3_prepare_v2(self->db,
                            "INSERT INTO topics (name, address, message_type, fingerprint,"
                            " publisher_node, create_seq, lease_id, metadata, registered_at_ms,"
                            " origin, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                            " ON CONFLICT(name, publisher_node) DO UPDATE SET address = ?2,"
                            " message_type = ?3, fingerprint = ?4, lease_id = ?7,"
                            " metadata = ?8, registered_at_ms = ?9, origin = ?10, owner = ?11",
                            -1, &self->put_topic, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(self->db, "DELETE FROM topics WHERE name = ?1"
                                " AND (?2 IS NULL OR publisher_node = ?2)", -1,
                                &self->delete_topic, NULL);
    /* A transaction's two ends, prepared once (parsing them was a tenth of
     * a registration's instructions). */
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(self->db, "BEGIN IMMEDIATE", -1, &self->begin, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(self->db, "COMMIT", -1, &self->commit, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(self->db, "UPDATE meta SET value = ?2 WHERE key = ?1",
                                -1, &self->meta_set, NULL);
    /* The migrations insert every counter's row; a key missing anyway. */
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(self->db, "INSERT INTO meta (key, value) VALUES (?1, ?2)", -1,
                                &self->meta_add, NULL);
    static const struct {
        size_t offset;
        const char *sql;
    } more[] = {
        {offsetof(dc_store_t, put_lease),
         "INSERT OR REPLACE INTO leases (id, ttl_ms, renewed_at_ms, owner) VALUES (?1, ?2, ?3, ?4)"},
        {offsetof(dc_store_t, delete_lease), "DELETE FROM leases WHERE id = ?1"},
        {offsetof(dc_store_t, touch_lease), "UPDATE leases SET renewed_at_ms = ?2 WHERE id = ?1"},
        {offsetof(dc_store_t, put_node),
         "INSERT OR REPLACE INTO nodes (name, description, capabilities, metadata, lease_id, owner)"
         " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
        {offsetof(dc_store_t, delete_node), "DELETE FROM nodes WHERE name = ?1"},
        {offsetof(dc_store_t, put_request),
         "INSERT OR REPLACE INTO requests (slot, request_id, status, message, lease_id,"
         " lease_ttl_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"},
        {offsetof(dc_store_t, put_member),
         "INSERT OR REPLACE INTO members (id, endpoint) VALUES (?1, ?2)"},
        {offsetof(dc_store_t, delete_member), "DELETE FROM members WHERE id = ?1"},
        /* The topic's parameter numbers (dc_store_put_topic binds them all);
         * a subscription has no address (?2). */
        {offsetof(dc_store_t, put_sub),
         "INSERT OR REPLACE INTO subscriptions (name, message_type, fingerprint, node, create_seq,"
         " lease_id, metadata, registered_at_ms, origin, owner)"
         " VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
        {offsetof(dc_store_t, delete_sub),
         "DELETE FROM subscriptions WHERE name = ?1 AND node = ?2"},
    };
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof more / sizeof more[0]; i++)
        rc = sqlite3_prepare_v2(self->db, more[i].sql, -1,
                                (sqlite3_stmt **)((char *)self + more[i].offset), NULL);
    if (rc != SQLITE_OK)
        dc_store__set_error(self, "schema");
    return rc;
}

static void s_close(dc_store_t *self)
{
    dc_store__meta_forget(self);
    sqlite3_finalize(self->begin);
    sqlite3_finalize(self->commit);
    sqlite3_finalize(self->put_topic);
    sqlite3_finalize(self->delete_topic);
    sqlite3_finalize(self->meta_set);
    sqlite3_finalize(self->meta_add);
    sqlite3_finalize(self->put_lease);
    sqlite3_finalize(self->delete_lease);
    sqlite3_finalize(self->touch_lease);
    sqlite3_finalize(self->put_node);
    sqlite3_finalize(self->delete_node);
    sqlite3_finalize(self->put_request);
    sqlite3_finalize(self->put_member);
    sqlite3_finalize(self->delete_member);
    sqlite3_finalize(self->put_sub);
    sqlite3_finalize(self->delete_sub);
    self->begin = self->commit = NULL;
    self->put_sub = self->delete_sub = NULL;
    self->put_request = self->put_member = self->delete_member = NULL;
    self->put_topic = self->delete_topic = self->meta_set = self->meta_add = NULL;
    self->put_lease = self->delete_lease = self->touch_lease = NULL;
    self->put_node = self->delete_node = NULL;
    if (self->db)
        sqlite3_close_v2(self->db);
    self->db = NULL;
}

/* Renames the database and its WAL/SHM files aside. Returns 0 or -1. */
static int s_move_aside(const char *path)
{
    char stamp[32], aside[4200];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(aside, sizeof aside, "%s.corrupt-%s", path, stamp);
    if (rename(path, aside) != 0 && errno != ENOENT) {
        dc_error("cannot move %s aside: %s", path, strerror(errno));
        return -1;
    }
    const char *suffixes[] = {"-wal", "-shm"};
    for (int i = 0; i < 2; i++) {
        char from[4200], to[4300];
        snprintf(from, sizeof from, "%s%s", path, suffixes[i]);
        snprintf(to, sizeof to, "%s%s", aside, suffixes[i]);
        if (rename(from, to) != 0 && errno != ENOENT)
            unlink(from);
    }
    dc_error("!!! database %s was corrupt or unreadable: moved to %s; starting with an EMPTY "
             "registry !!!",
             path, aside);
    return 0;
}

dc_store_t *dc_store_open(const char *path, dc_sync_t sync, dc_on_corrupt_t on_corrupt,
                          uint64_t max_size)
{
    dc_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->path = strdup(path);
    if (s_mkdir_parents(path) != 0) {
        dc_error("cannot create the directory of %s: %s", path, strerror(errno));
        dc_store_destroy(&self);
        return NULL;
    }
    self->sync = sync;
    self->on_corrupt = on_corrupt;
    self->max_size = max_size;
    int rc = s_open_file(self, sync, max_size, false);
    if (rc != SQLITE_OK && access(path, F_OK) == 0 && access(path, W_OK) != 0) {
        s_close(self);
        dc_error("database %s is not writable (%s): serving it read-only", path, self->errmsg);
        rc = s_open_file(self, sync, max_size, true);
    }
    if (rc != SQLITE_OK) {
        int primary = rc & 0xff;
        s_close(self);
        bool damaged = primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ||
                       primary == SQLITE_ERROR || primary == SQLITE_CANTOPEN ||
                       primary == SQLITE_IOERR;
        if (primary == SQLITE_MISMATCH || !damaged) {
            dc_error("database %s: %s", path, self->errmsg);
            dc_store_destroy(&self);
            return NULL;
        }
        if (on_corrupt == DC_CORRUPT_REFUSE) {
            dc_error("database %s is corrupt or unreadable (%s); refusing to start "
                     "(on-corrupt = refuse)",
                     path, self->errmsg);
            dc_store_destroy(&self);
            return NULL;
        }
        dc_error("database %s is corrupt or unreadable: %s", path, self->errmsg);
        if (s_move_aside(path) != 0 || s_open_file(self, sync, max_size, false) != SQLITE_OK) {
            dc_error("database %s: cannot start a fresh one: %s", path, self->errmsg);
            dc_store_destroy(&self);
            return NULL;
        }
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        self->dev = st.st_dev;
        self->ino = st.st_ino;
    }
    return self;
}

bool dc_store_readonly(dc_store_t *self)
{
    return self->db && sqlite3_db_readonly(self->db, "main") == 1;
}

bool dc_store_file_gone(dc_store_t *self)
{
    struct stat st;
    if (stat(self->path, &st) != 0)
        return errno == ENOENT;
    return st.st_dev != self->dev || st.st_ino != self->ino;
}

int dc_store_reopen(dc_store_t *self)
{
    s_close(self);
    if (s_mkdir_parents(self->path) != 0 ||
        s_open_file(self, self->sync, self->max_size, false) != SQLITE_OK) {
        /* Still not writable: keep serving the file read-only. */
        s_close(self);
        if (access(self->path, F_OK) == 0)
            s_open_file(self, self->sync, self->max_size, true);
        return -1;
    }
    struct stat st;
    if (stat(self->path, &st) == 0) {
        self->dev = st.st_dev;
        self->ino = st.st_ino;
    }
    return 0;
}

void dc_store_destroy(dc_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_store_t *self = *self_p;
    if (self->db)
        sqlite3_wal_checkpoint_v2(self->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    s_close(self);
    free(self->path);
    free(self);
    *self_p = NULL;
}

int dc_store_begin(dc_store_t *self)
{
    return dc_store__step_reset(self, self->begin, "begin");
}

int dc_store_commit(dc_store_t *self)
{
    bool ok = dc_store__step_reset(self, self->commit, "commit") == 0;
    dc_store__meta_settled(self, ok);
    return ok ? 0 : -1;
}

void dc_store_rollback(dc_store_t *self)
{
    if (!sqlite3_get_autocommit(self->db))
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    dc_store__meta_settled(self, false);
}

int dc_store_integrity_ok(dc_store_t *self)
{
    sqlite3_stmt *stmt = NULL;
    int ok = -1;
    if (sqlite3_prepare_v2(self->db, "PRAGMA integrity_check", -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW &&
        strcmp((const char *)sqlite3_column_text(stmt, 0), "ok") == 0)
        ok = 0;
    sqlite3_finalize(stmt);
    return ok;
}

