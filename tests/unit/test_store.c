/* test_store.c: the SQLite store on real files: schema, round trip, epoch,
 * corrupt files moved aside (or refused), a size cap giving SQLITE_FULL. */
#include "dc_log.h"
#include "dc_store.h"
#include "dc_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
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
                           (uint64_t)i + 1, 0, &meta, 1, 0, 0};
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
    CHECK(dc_store_delete_topic(s, dc_str_from("/t/99")) == 0);
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
    dc_store_destroy(&s);
}

int main(void)
{
    dc_log_set_level(DC_LOG_ERROR);
    CHECK(mkdtemp(s_dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/sub/dir/registry.db", s_dir);
    test_round_trip(path);
    snprintf(path, sizeof path, "%s/bad.db", s_dir);
    test_corrupt(path);
    snprintf(path, sizeof path, "%s/capped.db", s_dir);
    test_size_cap(path);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    DC_TEST_END();
}
