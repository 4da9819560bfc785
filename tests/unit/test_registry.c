/* test_registry.c: the in-memory index: insert, replace in place, remove,
 * filters, growth past the initial buckets, and readers racing the writer. */
#include "dc_registry.h"
#include "dc_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static dc_entry_t *s_entry(const char *name, const char *node, const char *type)
{
    dc_topic_t t = {dc_str_from(name), dc_str_from("ipc:///tmp/t"), dc_str_from(type),
                    dc_str_from(node), 1};
    return dc_entry_new(&t, 0, 0, NULL, 0);
}

static void test_basic(void)
{
    dc_registry_t *r = dc_registry_new();
    CHECK(dc_registry_put(r, s_entry("/a", "n1", "T1")) == 0);
    CHECK(dc_registry_put(r, s_entry("/b", "n2", "T2")) == 0);
    CHECK(dc_registry_put(r, s_entry("/c", "n1", "T1")) == 0);
    CHECK(dc_registry_count(r) == 3);
    uint64_t g3 = dc_registry_generation(r);
    CHECK(g3 == 3);

    dc_entry_t *e = dc_registry_lookup(r, dc_str_from("/b"));
    CHECK(e && strcmp(e->topic.publisher_node.ptr, "n2") == 0);
    /* A replacement keeps the LIST position; the old entry outlives it while referenced. */
    CHECK(dc_registry_put(r, s_entry("/b", "n3", "T2")) == 0);
    CHECK(strcmp(e->topic.publisher_node.ptr, "n2") == 0);
    dc_entry_unref(&e);
    CHECK(e == NULL);
    dc_entry_t **all = NULL;
    uint64_t generation = 0;
    size_t n = dc_registry_snapshot_at(r, NULL, &all, &generation);
    CHECK(n == 3);
    CHECK(generation == g3 + 1); /* a replacement is a change too */
    CHECK(n == 3 && strcmp(all[1]->topic.name.ptr, "/b") == 0 &&
          strcmp(all[1]->topic.publisher_node.ptr, "n3") == 0);
    dc_registry_release_snapshot(all, n);

    dc_filter_t by_node = {{NULL, 0}, {NULL, 0}, dc_str_from("n1"), NULL};
    n = dc_registry_snapshot(r, &by_node, &all);
    CHECK(n == 2);
    dc_registry_release_snapshot(all, n);
    dc_filter_t by_prefix = {dc_str_from("/c"), {NULL, 0}, {NULL, 0}, NULL};
    n = dc_registry_snapshot(r, &by_prefix, &all);
    CHECK(n == 1);
    dc_registry_release_snapshot(all, n);
    dc_filter_t by_type = {{NULL, 0}, dc_str_from("T2"), {NULL, 0}, NULL};
    n = dc_registry_snapshot(r, &by_type, &all);
    CHECK(n == 1);
    dc_registry_release_snapshot(all, n);

    CHECK(dc_registry_remove(r, dc_str_from("/a")) == 0);
    CHECK(dc_registry_remove(r, dc_str_from("/a")) == -1);
    CHECK(dc_registry_generation(r) == g3 + 2); /* a failed remove changes nothing */
    CHECK(dc_registry_lookup(r, dc_str_from("/a")) == NULL);
    CHECK(dc_registry_count(r) == 2);
    dc_registry_destroy(&r);
    CHECK(r == NULL);
    dc_registry_destroy(&r); /* safe twice */
}

static void test_growth(void)
{
    dc_registry_t *r = dc_registry_new();
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "/t/%d", i);
        dc_registry_put(r, s_entry(name, "n", "T"));
    }
    CHECK(dc_registry_count(r) == 20000);
    int found = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "/t/%d", i);
        dc_entry_t *e = dc_registry_lookup(r, dc_str_from(name));
        found += e != NULL;
        dc_entry_unref(&e);
    }
    CHECK(found == 20000);
    dc_entry_t **all = NULL;
    size_t n = dc_registry_snapshot(r, NULL, &all);
    CHECK(n == 20000 && strcmp(all[0]->topic.name.ptr, "/t/0") == 0 &&
          strcmp(all[19999]->topic.name.ptr, "/t/19999") == 0);
    dc_registry_release_snapshot(all, n);
    for (int i = 0; i < 20000; i += 2) {
        snprintf(name, sizeof name, "/t/%d", i);
        dc_registry_remove(r, dc_str_from(name));
    }
    CHECK(dc_registry_count(r) == 10000);
    dc_registry_destroy(&r);
}

static atomic_int s_stop;
static atomic_long s_reads;

static void *s_reader(void *arg)
{
    dc_registry_t *r = arg;
    while (!atomic_load(&s_stop)) {
        dc_entry_t *e = dc_registry_lookup(r, dc_str_from("/hot"));
        if (e) {
            /* Must always see a whole entry. */
            if (strcmp(e->topic.name.ptr, "/hot") != 0)
                abort();
            dc_entry_unref(&e);
        }
        dc_entry_t **all = NULL;
        size_t n = dc_registry_snapshot(r, NULL, &all);
        dc_registry_release_snapshot(all, n);
        atomic_fetch_add(&s_reads, 1);
    }
    return NULL;
}

static void test_concurrent_readers(void)
{
    dc_registry_t *r = dc_registry_new();
    pthread_t readers[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&readers[i], NULL, s_reader, r);
    char name[32];
    for (int i = 0; i < 20000; i++) {
        dc_registry_put(r, s_entry("/hot", i % 2 ? "a" : "b", "T"));
        snprintf(name, sizeof name, "/churn/%d", i % 100);
        if (i % 3)
            dc_registry_put(r, s_entry(name, "n", "T"));
        else
            dc_registry_remove(r, dc_str_from(name));
    }
    atomic_store(&s_stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(readers[i], NULL);
    CHECK(atomic_load(&s_reads) > 0);
    dc_entry_t *e = dc_registry_lookup(r, dc_str_from("/hot"));
    CHECK(e && strcmp(e->topic.publisher_node.ptr, "a") == 0); /* the last put won */
    dc_entry_unref(&e);
    size_t expected = 1; /* /hot, plus each /churn name whose last operation was a put */
    for (int k = 0; k < 100; k++)
        expected += (19900 + k) % 3 != 0;
    CHECK(dc_registry_count(r) == expected);
    dc_registry_destroy(&r);
}

int main(void)
{
    test_basic();
    test_growth();
    test_concurrent_readers();
    DC_TEST_END();
}
