/* test_store.c: the SQLite store on real files: schema, round trip, epoch,
 * migration of a version 5 database (one row per name) to one row per
 * registration, corrupt files moved aside (or refused), a size cap giving
 * SQLITE_FULL, a commit's WAL appends written in one call (dc_wal_vfs), meta
 * counters written only when they change, 1 KiB pages in a new file (a file
 * that exists keeps its own, and the size cap counts in them). */
#include "dc_log.h"
#include "dc_store.h"
#include "dc_test.h"
#include "dc_wal_vfs.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_dir[] = "/tmp/discod-test-store-XXXXXX";

static int s_count_cb(void *arg, const dc_stored_topic_t *t)
{
    int *count = arg;
    if (*count == 0 && (t->topic.fingerprint != 0xfedcba9876543210ULL || t->create_seq != 1 ||
                        strcmp(t->topic.name.ptr, "/t/0") != 0 || t->metadata_size != 1))
        return -1;
    (*count)++;
    return 0;
}

static int s_put(dc_store_t *s, int i)
{
    char name[32];
    snprintf(name, sizeof name, "/t/%d", i);
    uint8_t meta = 0x80;
    dc_stored_topic_t t = {{dc_str_from(name), dc_str_from("tcp://127.0.0.1:1"),
                            dc_str_from("T"), dc_str_from("node"), 0xfedcba9876543210ULL},
                           (uint64_t)i + 1, 0, &meta, 1, 0, 0, {NULL, 0}};
    return dc_store_put_topic(s, &t);
}

static int s_files_with_prefix(const char *prefix)
{
    DIR *d = opendir(s_dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void test_round_trip(const char *path)
{
    dc_store_t *s = dc_store_open(path, DC_SYNC_FULL, DC_CORRUPT_MOVE_ASIDE, 0);
    CHECK(s != NULL);
    CHECK(dc_store_meta_get(s, "epoch") == 0);
    CHECK(dc_store_begin(s) == 0);
    CHECK(dc_store_meta_set(s, "epoch", 1) == 0);
    for (int i = 0; i < 100; i++)
        s_put(s, i);
    CHECK(dc_store_delete_topic(s, dc_str_from("/t/99"), dc_str_from("other")) == 0); /* no row */
    CHECK(dc_store_delete_topic(s, dc_str_from("/t/99"), dc_str_from("node")) == 0);
    CHECK(dc_store_meta_set(s, "change_seq", 101) == 0);
    CHECK(dc_store_commit(s) == 0);
    /* A rolled-back transaction leaves nothing. */
    CHECK(dc_store_begin(s) == 0);
    s_put(s, 500);
    dc_store_rollback(s);
    dc_store_destroy(&s);
    CHECK(s == NULL);

    s = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_MOVE_ASIDE, 0);
    int count = 0;
    CHECK(dc_store_load_topics(s, s_count_cb, &count) == 0);
    CHECK(count == 99);
    CHECK(dc_store_meta_get(s, "change_seq") == 101);
    CHECK(dc_store_meta_get(s, "epoch") == 1);
    CHECK(dc_store_integrity_ok(s) == 0);
    dc_store_destroy(&s);
}

/* A meta counter that did not change is not written again; one written in a
 * transaction that was rolled back is written again the next time; a
 * reopened store assumes nothing. */
static void test_meta_counters(const char *path)
{
    dc_store_t *s = dc_store_open(path, DC_SYNC_FULL, DC_CORRUPT_REFUSE, 0);
    CHECK(s != NULL);
    CHECK(dc_store_begin(s) == 0 && dc_store_meta_set(s, "change_seq", 5) == 0);
    CHECK(dc_store_commit(s) == 0);
    CHECK(dc_store_begin(s) == 0 && dc_store_meta_set(s, "change_seq", 6) == 0);
    dc_store_rollback(s); /* the file still holds 5 */
    CHECK(dc_store_begin(s) == 0 && dc_store_meta_set(s, "change_seq", 6) == 0);
    CHECK(dc_store_meta_set(s, "event_seq", 9) == 0);
    CHECK(dc_store_commit(s) == 0);
    /* Unchanged: skipped (the file is written behind the store's back to see it). */
    sqlite3 *raw = NULL;
    CHECK(sqlite3_open(path, &raw) == SQLITE_OK);
    CHECK(sqlite3_exec(raw, "UPDATE meta SET value = 1 WHERE key = 'event_seq'", NULL, NULL,
                       NULL) == SQLITE_OK);
    CHECK(dc_store_begin(s) == 0 && dc_store_meta_set(s, "event_seq", 9) == 0);
    CHECK(dc_store_commit(s) == 0);
    CHECK(dc_store_meta_get(s, "event_seq") == 1);
    CHECK(dc_store_meta_get(s, "change_seq") == 6);
    sqlite3_close(raw);
    dc_store_destroy(&s);
    /* Reopened: nothing is assumed about the file. */
    s = dc_store_open(path, DC_SYNC_FULL, DC_CORRUPT_REFUSE, 0);
    CHECK(dc_store_begin(s) == 0 && dc_store_meta_set(s, "event_seq", 9) == 0);
    CHECK(dc_store_commit(s) == 0);
    CHECK(dc_store_meta_get(s, "event_seq") == 9);
    /* A counter's row gone from the file (every migration inserts them):
     * written again, not lost. */
    CHECK(sqlite3_open(path, &raw) == SQLITE_OK);
    CHECK(sqlite3_exec(raw, "DELETE FROM meta WHERE key = 'lease_seq'", NULL, NULL, NULL) ==
          SQLITE_OK);
    sqlite3_close(raw);
    CHECK(dc_store_begin(s) == 0 && dc_store_meta_set(s, "lease_seq", 4) == 0);
    CHECK(dc_store_commit(s) == 0);
    CHECK(dc_store_meta_get(s, "lease_seq") == 4);
    dc_store_destroy(&s);
}

typedef struct {
    int count;
    char nodes[8][16];
} rows_t;

static int s_rows_cb(void *arg, const dc_stored_topic_t *t)
{
    rows_t *rows = arg;
    if (rows->count < 8)
        snprintf(rows->nodes[rows->count], sizeof rows->nodes[0], "%s:%s", t->topic.name.ptr,
                 t->topic.publisher_node.ptr);
    rows->count++;
    return 0;
}

static int s_put_as(dc_store_t *s, const char *name, const char *node, uint64_t seq)
{
    dc_stored_topic_t t = {{dc_str_from(name), dc_str_from("tcp://127.0.0.1:1"), dc_str_from("T"),
                            dc_str_from(node), 7},
                           seq, 0, NULL, 0, 0, 0, {NULL, 0}};
    return dc_store_put_topic(s, &t);
}

/* A database written by the schema before several publishers per topic (5,
 * topics keyed by name, no owners) opens with every row, then holds one row
 * per registration. */
static void test_migration(const char *path)
{
    dc_store_t *s = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_MOVE_ASIDE, 0);
    CHECK(s != NULL);
    dc_store_destroy(&s);
    /* Turn it back into version 5 by hand: the old topics table, two rows. */
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    const char *v5 =
        "DROP TABLE topics;"
        "CREATE TABLE topics (name TEXT PRIMARY KEY, address TEXT NOT NULL,"
        " message_type TEXT NOT NULL, fingerprint INTEGER NOT NULL,"
        " publisher_node TEXT NOT NULL, create_seq INTEGER NOT NULL,"
        " lease_id INTEGER NOT NULL DEFAULT 0, metadata BLOB,"
        " registered_at_ms INTEGER NOT NULL DEFAULT 0, origin INTEGER NOT NULL DEFAULT 0)"
        " WITHOUT ROWID;"
        "INSERT INTO topics VALUES ('/cam', 'ipc:///x', 'T', 7, 'n1', 1, 0, NULL, 5, 0);"
        "INSERT INTO topics VALUES ('/pose', 'ipc:///y', 'P', 8, 'n2', 2, 3, NULL, 6, 0);"
        "ALTER TABLE nodes DROP COLUMN owner;"
        "ALTER TABLE leases DROP COLUMN owner;"
        "DROP TABLE subscriptions;"
        "DROP TABLE provisional;"
        "PRAGMA user_version = 5;";
    CHECK(sqlite3_exec(db, v5, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);

    s = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_MOVE_ASIDE, 0);
    CHECK(s != NULL);
    rows_t rows = {0};
    CHECK(dc_store_load_topics(s, s_rows_cb, &rows) == 0);
    CHECK(rows.count == 2 && !strcmp(rows.nodes[0], "/cam:n1") &&
          !strcmp(rows.nodes[1], "/pose:n2"));
    /* Now a second node's registration of /cam is a row of its own. */
    CHECK(dc_store_begin(s) == 0);
    CHECK(s_put_as(s, "/cam", "n2", 3) == 0);
    CHECK(s_put_as(s, "/cam", "n3", 4) == 0);
    CHECK(s_put_as(s, "/cam", "n2", 3) == 0); /* n2 again: the same row */
    CHECK(dc_store_commit(s) == 0);
    memset(&rows, 0, sizeof rows);
    CHECK(dc_store_load_topics(s, s_rows_cb, &rows) == 0);
    CHECK(rows.count == 4);
    CHECK(dc_store_begin(s) == 0);
    CHECK(dc_store_delete_topic(s, dc_str_from("/cam"), dc_str_from("n3")) == 0);
    CHECK(dc_store_commit(s) == 0);
    memset(&rows, 0, sizeof rows);
    CHECK(dc_store_load_topics(s, s_rows_cb, &rows) == 0);
    CHECK(rows.count == 3 && !strcmp(rows.nodes[2], "/cam:n2"));
    /* No node: every row of the name (a version 1 record's removal). */
    CHECK(dc_store_begin(s) == 0);
    CHECK(dc_store_delete_topic(s, dc_str_from("/cam"), (dc_str_t){NULL, 0}) == 0);
    CHECK(dc_store_commit(s) == 0);
    memset(&rows, 0, sizeof rows);
    CHECK(dc_store_load_topics(s, s_rows_cb, &rows) == 0);
    CHECK(rows.count == 1 && !strcmp(rows.nodes[0], "/pose:n2"));
    CHECK(dc_store_integrity_ok(s) == 0);
    dc_store_destroy(&s);
}

static void test_corrupt(const char *path)
{
    FILE *f = fopen(path, "w");
    fputs("this is not a database, it is a note about a database", f);
    fclose(f);
    /* refuse: no store, file untouched */
    CHECK(dc_store_open(path, DC_SYNC_FULL, DC_CORRUPT_REFUSE, 0) == NULL);
    CHECK(access(path, F_OK) == 0);
    CHECK(s_files_with_prefix("bad.db.corrupt-") == 0);
    /* move aside: a fresh empty store, the bad file kept beside it */
    dc_store_t *s = dc_store_open(path, DC_SYNC_FULL, DC_CORRUPT_MOVE_ASIDE, 0);
    CHECK(s != NULL);
    int count = 0;
    CHECK(s && dc_store_load_topics(s, s_count_cb, &count) == 0 && count == 0);
    CHECK(s_files_with_prefix("bad.db.corrupt-") == 1);
    dc_store_destroy(&s);
}

/* The integer sql selects first, or -1. */
static int s_query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
        v = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

static void test_size_cap(const char *path)
{
    dc_store_t *s = dc_store_open(path, DC_SYNC_NORMAL, DC_CORRUPT_MOVE_ASIDE, 64 * 1024);
    CHECK(s != NULL);
    int failed_at = -1;
    for (int batch = 0; batch < 200 && failed_at < 0; batch++) {
        dc_store_begin(s);
        int rc = 0;
        for (int i = 0; i < 50 && rc == 0; i++)
            rc = s_put(s, batch * 50 + i);
        if (rc != 0 || dc_store_commit(s) != 0) {
            fprintf(stderr, "(expected) %s\n", dc_store_errmsg(s));
            failed_at = batch;
            CHECK(strstr(dc_store_errmsg(s), "full") != NULL);
            dc_store_rollback(s);
        }
    }
    CHECK(failed_at > 0);
    /* What was committed before the cap is still there and readable. */
    int count = 0;
    CHECK(dc_store_load_topics(s, s_count_cb, &count) == 0 && count == failed_at * 50);
    /* The cap is counted in the file's own pages: it filled near 64 KiB. */
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    int size = s_query_int(db, "PRAGMA page_size"), pages = s_query_int(db, "PRAGMA page_count");
    CHECK(size == 1024);
    CHECK(pages * size <= 64 * 1024 && pages * size > 32 * 1024);
    sqlite3_close(db);
    dc_store_destroy(&s);
}

/* A file made with 4 KiB pages (an older discod, or by hand) keeps them. */
static void test_page_size(const char *path)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA page_size = 4096; CREATE TABLE x (y);", NULL, NULL, NULL) ==
          SQLITE_OK);
    sqlite3_close(db);
    dc_store_t *s = dc_store_open(path, DC_SYNC_FULL, DC_CORRUPT_MOVE_ASIDE, 0);
    CHECK(s != NULL);
    CHECK(dc_store_begin(s) == 0 && s_put(s, 0) == 0 && dc_store_commit(s) == 0);
    int count = 0;
    CHECK(dc_store_load_topics(s, s_count_cb, &count) == 0 && count == 1);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(s_query_int(db, "PRAGMA page_size") == 4096);
    sqlite3_close(db);
    dc_store_destroy(&s);
}

static int s_put_big(dc_store_t *s, int i)
{
    char name[32];
    snprintf(name, sizeof name, "/big/%d", i);
    static uint8_t meta[700];
    memset(meta, 0x80 | (i & 0x3f), sizeof meta);
    dc_stored_topic_t t = {{dc_str_from(name), dc_str_from("tcp://127.0.0.1:1"),
                            dc_str_from("T"), dc_str_from("node"), 7},
                           (uint64_t)i + 1, 0, meta, sizeof meta, 0, 0, {NULL, 0}};
    return dc_store_put_topic(s, &t);
}

static int s_rows(sqlite3 *db)
{
    return s_query_int(db, "SELECT count(*) FROM topics");
}

/* Commits of every size, from one row to several MB (past the 128 KiB a
 * platform write takes and the 4 MB gathered at most): each is in the file
 * once committed (another connection, on the plain VFS, counts the rows
 * while the store stays open), and a small one is one write call. */
static void test_wal_gathering(const char *path)
{
    CHECK(dc_wal_vfs_name() != NULL);
    dc_store_t *s = dc_store_open(path, DC_SYNC_FULL, DC_CORRUPT_MOVE_ASIDE, 0);
    CHECK(s != NULL);
    sqlite3 *reader = NULL;
    CHECK(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    const int sizes[] = {1, 8, 37, 180, 181, 182, 365, 1000, 9000};
    int total = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t before = dc_wal_vfs_writes();
        CHECK(dc_store_begin(s) == 0);
        int rc = 0;
        for (int i = 0; i < sizes[k] && rc == 0; i++)
            rc = s_put_big(s, total + i);
        CHECK(rc == 0);
        CHECK(dc_store_commit(s) == 0);
        total += sizes[k];
        CHECK(s_rows(reader) == total);
        if (sizes[k] <= 8) /* a few pages: the frames in one call */
            CHECK(dc_wal_vfs_writes() - before == 1);
        else
            CHECK(dc_wal_vfs_writes() - before >= 1);
    }
    sqlite3_close(reader);
    CHECK(dc_store_integrity_ok(s) == 0);
    dc_store_destroy(&s);
    /* And after a restart. */
    s = dc_store_open(path, DC_SYNC_FULL, DC_CORRUPT_MOVE_ASIDE, 0);
    CHECK(s != NULL);
    sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL);
    CHECK(s_rows(reader) == total);
    sqlite3_close(reader);
    dc_store_destroy(&s);
}

int main(void)
{
    dc_log_set_level(DC_LOG_ERROR);
    CHECK(mkdtemp(s_dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/sub/dir/registry.db", s_dir);
    test_round_trip(path);
    snprintf(path, sizeof path, "%s/meta.db", s_dir);
    test_meta_counters(path);
    snprintf(path, sizeof path, "%s/v5.db", s_dir);
    test_migration(path);
    snprintf(path, sizeof path, "%s/bad.db", s_dir);
    test_corrupt(path);
    snprintf(path, sizeof path, "%s/capped.db", s_dir);
    test_size_cap(path);
    snprintf(path, sizeof path, "%s/old-pages.db", s_dir);
    test_page_size(path);
    snprintf(path, sizeof path, "%s/gathered.db", s_dir);
    test_wal_gathering(path);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    DC_TEST_END();
}
