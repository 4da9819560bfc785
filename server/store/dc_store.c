/* dc_store.c: SQLite persistence for the registry (see the .h). */
#include "dc_store.h"
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

struct dc_store {
    sqlite3 *db;
    char *path;
    dc_sync_t sync;
    dc_on_corrupt_t on_corrupt;
    uint64_t max_size;
    dev_t dev; /* identity of the file opened, to notice it being deleted */
    ino_t ino;
    sqlite3_stmt *put_topic;
    sqlite3_stmt *delete_topic;
    sqlite3_stmt *meta_set;
    sqlite3_stmt *put_lease;
    sqlite3_stmt *delete_lease;
    sqlite3_stmt *touch_lease;
    sqlite3_stmt *put_node;
    sqlite3_stmt *delete_node;
    sqlite3_stmt *put_request;
    sqlite3_stmt *put_member;
    sqlite3_stmt *delete_member;
    char errmsg[256];
};

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
};

static void s_set_error(dc_store_t *self, const char *what)
{
    snprintf(self->errmsg, sizeof self->errmsg, "%s: %s", what, sqlite3_errmsg(self->db));
}

const char *dc_store_errmsg(dc_store_t *self)
{
    return self->errmsg;
}

static int s_exec(dc_store_t *self, const char *sql)
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

/* After each commit: checkpoint once the WAL holds 1000 pages (4 MB). */
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
        if ((rc = s_exec(self, "BEGIN IMMEDIATE")) != SQLITE_OK)
            return rc;
        rc = s_exec(self, s_migrations[v]);
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (rc == SQLITE_OK)
            rc = s_exec(self, sql);
        if (rc == SQLITE_OK)
            rc = s_exec(self, "COMMIT");
        if (rc != SQLITE_OK) {
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        dc_info("database schema migrated to version %d", v + 1);
    }
    return SQLITE_OK;
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
        rc = sqlite3_open_v2(self->path, &self->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
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
    /* The first statement that reads the file tells a non-database apart. */
    rc = immutable ? SQLITE_OK : s_exec(self, "PRAGMA journal_mode = WAL");
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_READONLY)
        return rc;
    rc = s_exec(self, sync == DC_SYNC_FULL ? "PRAGMA synchronous = FULL"
                                           : "PRAGMA synchronous = NORMAL");
    if (rc != SQLITE_OK)
        return rc;
    if (max_size > 0) {
        char sql[96];
        /* Pages are 4096 bytes by default; at least a few so the schema fits. */
        uint64_t pages = max_size / 4096;
        snprintf(sql, sizeof sql, "PRAGMA max_page_count = %llu",
                 (unsigned long long)(pages < 4 ? 4 : pages));
        s_exec(self, sql);
    }
    /* quick_check reads every page: a damaged file fails here, not later. */
    sqlite3_stmt *stmt = NULL;
    rc = sqlite3_prepare_v2(self->db, "PRAGMA quick_check", -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        s_set_error(self, "quick_check");
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
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(self->db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                                -1, &self->meta_set, NULL);
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
    };
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof more / sizeof more[0]; i++)
        rc = sqlite3_prepare_v2(self->db, more[i].sql, -1,
                                (sqlite3_stmt **)((char *)self + more[i].offset), NULL);
    if (rc != SQLITE_OK)
        s_set_error(self, "schema");
    return rc;
}

static void s_close(dc_store_t *self)
{
    sqlite3_finalize(self->put_topic);
    sqlite3_finalize(self->delete_topic);
    sqlite3_finalize(self->meta_set);
    sqlite3_finalize(self->put_lease);
    sqlite3_finalize(self->delete_lease);
    sqlite3_finalize(self->touch_lease);
    sqlite3_finalize(self->put_node);
    sqlite3_finalize(self->delete_node);
    sqlite3_finalize(self->put_request);
    sqlite3_finalize(self->put_member);
    sqlite3_finalize(self->delete_member);
    self->put_request = self->put_member = self->delete_member = NULL;
    self->put_topic = self->delete_topic = self->meta_set = NULL;
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

uint64_t dc_store_meta_get(dc_store_t *self, const char *key)
{
    sqlite3_stmt *stmt = NULL;
    uint64_t value = 0;
    if (sqlite3_prepare_v2(self->db, "SELECT value FROM meta WHERE key = ?1", -1, &stmt, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(stmt) == SQLITE_ROW)
            value = (uint64_t)sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return value;
}

int dc_store_load_topics(dc_store_t *self, int (*fn)(void *arg, const dc_stored_topic_t *t),
                         void *arg)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(self->db,
                                "SELECT name, address, message_type, fingerprint, publisher_node,"
                                " create_seq, lease_id, metadata, registered_at_ms, origin, owner"
                                " FROM topics ORDER BY create_seq",
                                -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        s_set_error(self, "load");
        return -1;
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        dc_stored_topic_t t;
        memset(&t, 0, sizeof t);
        dc_str_t *fields[] = {&t.topic.name, &t.topic.address, &t.topic.message_type};
        for (int i = 0; i < 3; i++) {
            fields[i]->ptr = (const char *)sqlite3_column_text(stmt, i);
            fields[i]->len = (uint32_t)sqlite3_column_bytes(stmt, i);
        }
        t.topic.fingerprint = (uint64_t)sqlite3_column_int64(stmt, 3);
        t.topic.publisher_node.ptr = (const char *)sqlite3_column_text(stmt, 4);
        t.topic.publisher_node.len = (uint32_t)sqlite3_column_bytes(stmt, 4);
        t.create_seq = (uint64_t)sqlite3_column_int64(stmt, 5);
        t.lease_id = (uint64_t)sqlite3_column_int64(stmt, 6);
        t.metadata = sqlite3_column_blob(stmt, 7);
        t.metadata_size = (size_t)sqlite3_column_bytes(stmt, 7);
        t.registered_at_ms = (uint64_t)sqlite3_column_int64(stmt, 8);
        t.origin = (uint64_t)sqlite3_column_int64(stmt, 9);
        t.owner.ptr = (const char *)sqlite3_column_text(stmt, 10);
        t.owner.len = (uint32_t)sqlite3_column_bytes(stmt, 10);
        if (!t.topic.name.ptr || !t.topic.address.ptr || !t.topic.message_type.ptr ||
            !t.topic.publisher_node.ptr)
            continue;
        if (fn(arg, &t) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        s_set_error(self, "load");
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return 0;
}

int dc_store_begin(dc_store_t *self)
{
    return s_exec(self, "BEGIN IMMEDIATE") == SQLITE_OK ? 0 : -1;
}

static int s_step_reset(dc_store_t *self, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        s_set_error(self, what);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

int dc_store_put_request(dc_store_t *self, uint64_t slot, const dc_stored_request_t *r)
{
    sqlite3_stmt *s = self->put_request;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)slot);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)r->request_id);
    sqlite3_bind_int(s, 3, r->status);
    sqlite3_bind_text(s, 4, r->message, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)r->lease_id);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)r->lease_ttl_ms);
    return s_step_reset(self, s, "put request");
}

int dc_store_put_member(dc_store_t *self, uint64_t id, const char *endpoint)
{
    if (!*endpoint) {
        sqlite3_bind_int64(self->delete_member, 1, (sqlite3_int64)id);
        return s_step_reset(self, self->delete_member, "delete member");
    }
    sqlite3_bind_int64(self->put_member, 1, (sqlite3_int64)id);
    sqlite3_bind_text(self->put_member, 2, endpoint, -1, SQLITE_STATIC);
    return s_step_reset(self, self->put_member, "put member");
}

int dc_store_load_members(dc_store_t *self,
                          int (*fn)(void *arg, uint64_t id, const char *endpoint), void *arg)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT id, endpoint FROM members ORDER BY id", -1, &stmt,
                           NULL) != SQLITE_OK) {
        s_set_error(self, "load members");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *endpoint = (const char *)sqlite3_column_text(stmt, 1);
        if (endpoint && fn(arg, (uint64_t)sqlite3_column_int64(stmt, 0), endpoint) != 0)
            break;
    }
    bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (failed)
        s_set_error(self, "load members");
    sqlite3_finalize(stmt);
    return failed ? -1 : 0;
}

int dc_store_clear(dc_store_t *self)
{
    return s_exec(self, "DELETE FROM topics; DELETE FROM leases; DELETE FROM nodes;"
                        " DELETE FROM requests; DELETE FROM members;"
                        " UPDATE meta SET value = 0") == SQLITE_OK
               ? 0
               : -1;
}

int dc_store_load_requests(dc_store_t *self,
                           int (*fn)(void *arg, const dc_stored_request_t *r), void *arg)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db,
                           "SELECT request_id, status, message, lease_id, lease_ttl_ms"
                           " FROM requests ORDER BY slot",
                           -1, &stmt, NULL) != SQLITE_OK) {
        s_set_error(self, "load requests");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        dc_stored_request_t r = {(uint64_t)sqlite3_column_int64(stmt, 0),
                                 sqlite3_column_int(stmt, 1),
                                 (const char *)sqlite3_column_text(stmt, 2),
                                 (uint64_t)sqlite3_column_int64(stmt, 3),
                                 (uint64_t)sqlite3_column_int64(stmt, 4)};
        if (!r.message || r.status < 0 || r.status > 3)
            continue;
        if (fn(arg, &r) != 0)
            break;
    }
    bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (failed)
        s_set_error(self, "load requests");
    sqlite3_finalize(stmt);
    return failed ? -1 : 0;
}

int dc_store_put_topic(dc_store_t *self, const dc_stored_topic_t *t)
{
    sqlite3_stmt *s = self->put_topic;
    sqlite3_bind_text(s, 1, t->topic.name.ptr, (int)t->topic.name.len, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t->topic.address.ptr, (int)t->topic.address.len, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, t->topic.message_type.ptr, (int)t->topic.message_type.len,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)t->topic.fingerprint);
    sqlite3_bind_text(s, 5, t->topic.publisher_node.ptr, (int)t->topic.publisher_node.len,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)t->create_seq);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)t->lease_id);
    if (t->metadata)
        sqlite3_bind_blob(s, 8, t->metadata, (int)t->metadata_size, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 8);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)t->registered_at_ms);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)t->origin);
    sqlite3_bind_text(s, 11, t->owner.ptr ? t->owner.ptr : "", t->owner.ptr ? (int)t->owner.len : 0,
                      SQLITE_STATIC);
    return s_step_reset(self, s, "put topic");
}

int dc_store_delete_topic(dc_store_t *self, dc_str_t name, dc_str_t node)
{
    sqlite3_bind_text(self->delete_topic, 1, name.ptr, (int)name.len, SQLITE_STATIC);
    if (node.ptr)
        sqlite3_bind_text(self->delete_topic, 2, node.ptr, (int)node.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(self->delete_topic, 2);
    return s_step_reset(self, self->delete_topic, "delete topic");
}

int dc_store_meta_set(dc_store_t *self, const char *key, uint64_t value)
{
    sqlite3_bind_text(self->meta_set, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(self->meta_set, 2, (sqlite3_int64)value);
    return s_step_reset(self, self->meta_set, "meta");
}

int dc_store_commit(dc_store_t *self)
{
    return s_exec(self, "COMMIT") == SQLITE_OK ? 0 : -1;
}

void dc_store_rollback(dc_store_t *self)
{
    if (!sqlite3_get_autocommit(self->db))
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
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

int dc_store_put_lease(dc_store_t *self, uint64_t id, uint64_t ttl_ms, uint64_t renewed_at_ms,
                       const char *owner)
{
    sqlite3_bind_int64(self->put_lease, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(self->put_lease, 2, (sqlite3_int64)ttl_ms);
    sqlite3_bind_int64(self->put_lease, 3, (sqlite3_int64)renewed_at_ms);
    sqlite3_bind_text(self->put_lease, 4, owner ? owner : "", -1, SQLITE_STATIC);
    return s_step_reset(self, self->put_lease, "put lease");
}

int dc_store_touch_lease(dc_store_t *self, uint64_t id, uint64_t renewed_at_ms)
{
    sqlite3_bind_int64(self->touch_lease, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(self->touch_lease, 2, (sqlite3_int64)renewed_at_ms);
    return s_step_reset(self, self->touch_lease, "touch lease");
}

int dc_store_delete_lease(dc_store_t *self, uint64_t id)
{
    sqlite3_bind_int64(self->delete_lease, 1, (sqlite3_int64)id);
    return s_step_reset(self, self->delete_lease, "delete lease");
}

int dc_store_load_leases(dc_store_t *self,
                         int (*fn)(void *arg, uint64_t id, uint64_t ttl_ms, uint64_t renewed_at_ms,
                                   const char *owner),
                         void *arg)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT id, ttl_ms, renewed_at_ms, owner FROM leases", -1,
                           &stmt, NULL) != SQLITE_OK) {
        s_set_error(self, "load leases");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        if (fn(arg, (uint64_t)sqlite3_column_int64(stmt, 0), (uint64_t)sqlite3_column_int64(stmt, 1),
               (uint64_t)sqlite3_column_int64(stmt, 2),
               sqlite3_column_text(stmt, 3) ? (const char *)sqlite3_column_text(stmt, 3) : "") != 0)
            break;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s_set_error(self, "load leases");
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int dc_store_put_node(dc_store_t *self, const dc_stored_node_t *n)
{
    sqlite3_stmt *s = self->put_node;
    sqlite3_bind_text(s, 1, n->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, n->description, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, n->capabilities, (int)n->capabilities_size, SQLITE_STATIC);
    if (n->metadata)
        sqlite3_bind_blob(s, 4, n->metadata, (int)n->metadata_size, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)n->lease_id);
    sqlite3_bind_text(s, 6, n->owner ? n->owner : "", -1, SQLITE_STATIC);
    return s_step_reset(self, s, "put node");
}

int dc_store_delete_node(dc_store_t *self, const char *name)
{
    sqlite3_bind_text(self->delete_node, 1, name, -1, SQLITE_STATIC);
    return s_step_reset(self, self->delete_node, "delete node");
}

int dc_store_load_nodes(dc_store_t *self, int (*fn)(void *arg, const dc_stored_node_t *n),
                        void *arg)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db,
                           "SELECT name, description, capabilities, metadata, lease_id, owner"
                           " FROM nodes",
                           -1, &stmt, NULL) != SQLITE_OK) {
        s_set_error(self, "load nodes");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        dc_stored_node_t n = {
            (const char *)sqlite3_column_text(stmt, 0),
            (const char *)sqlite3_column_text(stmt, 1),
            sqlite3_column_blob(stmt, 2),
            (size_t)sqlite3_column_bytes(stmt, 2),
            sqlite3_column_blob(stmt, 3),
            (size_t)sqlite3_column_bytes(stmt, 3),
            (uint64_t)sqlite3_column_int64(stmt, 4),
            sqlite3_column_text(stmt, 5) ? (const char *)sqlite3_column_text(stmt, 5) : "",
        };
        if (!n.name || !n.description || !n.capabilities)
            continue;
        if (fn(arg, &n) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s_set_error(self, "load nodes");
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}
