/* test_registry.c: the in-memory index: insert, replace in place, remove,
 * filters, several publishers of one name, growth past the initial buckets,
 * readers racing the writer, an island's overlay in front of it, and
 * lookups racing a restore that moves registrations into the overlay. */
#include "dc_overlay.h"
#include "dc_registry.h"
#include "dc_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static dc_entry_t *s_entry_at(const char *name, const char *node, const char *type,
                             uint64_t create_seq, uint64_t registered_at_ms)
{
    dc_topic_t t = {dc_str_from(name), dc_str_from("ipc:///tmp/t"), dc_str_from(type),
                    dc_str_from(node), 1};
    dc_entry_t *e = dc_entry_new(&t, create_seq, 0, NULL, 0);
    e->registered_at_ms = registered_at_ms;
    return e;
}

static dc_entry_t *s_entry(const char *name, const char *node, const char *type)
{
    return s_entry_at(name, node, type, 0, 0);
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
    /* A replacement (same name, same node) keeps the LIST position; the old
     * entry outlives it while referenced. */
    CHECK(dc_registry_put(r, s_entry("/b", "n2", "T2b")) == 0);
    CHECK(strcmp(e->topic.message_type.ptr, "T2") == 0);
    dc_entry_unref(&e);
    CHECK(e == NULL);
    dc_entry_t **all = NULL;
    uint64_t generation = 0;
    size_t n = dc_registry_snapshot_at(r, NULL, false, &all, &generation);
    CHECK(n == 3);
    CHECK(generation == g3 + 1); /* a replacement is a change too */
    CHECK(n == 3 && strcmp(all[1]->topic.name.ptr, "/b") == 0 &&
          strcmp(all[1]->topic.message_type.ptr, "T2b") == 0);
    dc_registry_release_snapshot(all, n);
    CHECK(dc_registry_peek(r, dc_str_from("/b"), dc_str_from("n2")) != NULL);
    CHECK(dc_registry_peek(r, dc_str_from("/b"), dc_str_from("n1")) == NULL);

    dc_filter_t by_node = {{NULL, 0}, {NULL, 0}, dc_str_from("n1"), NULL};
    n = dc_registry_snapshot(r, &by_node, &all);
    CHECK(n == 2);
    dc_registry_release_snapshot(all, n);
    dc_filter_t by_prefix = {dc_str_from("/c"), {NULL, 0}, {NULL, 0}, NULL};
    n = dc_registry_snapshot(r, &by_prefix, &all);
    CHECK(n == 1);
    dc_registry_release_snapshot(all, n);
    dc_filter_t by_type = {{NULL, 0}, dc_str_from("T2b"), {NULL, 0}, NULL};
    n = dc_registry_snapshot(r, &by_type, &all);
    CHECK(n == 1);
    dc_registry_release_snapshot(all, n);

    CHECK(dc_registry_remove(r, dc_str_from("/a"), dc_str_from("n2")) == -1); /* not n2's */
    CHECK(dc_registry_remove(r, dc_str_from("/a"), dc_str_from("n1")) == 0);
    CHECK(dc_registry_remove(r, dc_str_from("/a"), dc_str_from("n1")) == -1);
    CHECK(dc_registry_generation(r) == g3 + 2); /* a failed remove changes nothing */
    CHECK(dc_registry_lookup(r, dc_str_from("/a")) == NULL);
    CHECK(dc_registry_count(r) == 2);
    dc_registry_destroy(&r);
    CHECK(r == NULL);
    dc_registry_destroy(&r); /* safe twice */
}

/* A name with three publishers: each its own registration, LOOKUP gives the
 * most recently registered, a legacy LIST one per name. */
static void test_several_publishers(void)
{
    dc_registry_t *r = dc_registry_new();
    CHECK(dc_registry_put(r, s_entry_at("/p", "n1", "T", 1, 100)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/q", "n1", "T", 2, 100)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/p", "n2", "T", 3, 300)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/p", "n3", "T", 4, 200)) == 0);
    CHECK(dc_registry_count(r) == 4);
    dc_entry_t *e = dc_registry_lookup(r, dc_str_from("/p"));
    CHECK(e && !strcmp(e->topic.publisher_node.ptr, "n2")); /* latest registered_at_ms */
    dc_entry_unref(&e);
    dc_entry_t **all = NULL;
    size_t newest = 9;
    size_t n = dc_registry_lookup_all(r, dc_str_from("/p"), &all, &newest);
    CHECK(n == 3 && newest == 1);
    CHECK(n == 3 && !strcmp(all[0]->topic.publisher_node.ptr, "n1") &&
          !strcmp(all[1]->topic.publisher_node.ptr, "n2") &&
          !strcmp(all[2]->topic.publisher_node.ptr, "n3"));
    dc_registry_release_snapshot(all, n);
    CHECK(dc_registry_lookup_all(r, dc_str_from("/none"), &all, NULL) == 0 && all == NULL);
    /* Into a caller's array: the same order and newest, no allocation; too
     * small an array holds nothing (and no references). */
    dc_entry_t *buf[3];
    newest = 9;
    CHECK(dc_registry_lookup_into(r, dc_str_from("/p"), buf, 3, &newest) == 3 && newest == 1);
    CHECK(!strcmp(buf[0]->topic.publisher_node.ptr, "n1") &&
          !strcmp(buf[2]->topic.publisher_node.ptr, "n3"));
    for (int i = 0; i < 3; i++)
        dc_entry_unref(&buf[i]);
    CHECK(dc_registry_lookup_into(r, dc_str_from("/p"), buf, 2, NULL) == 3);
    CHECK(dc_registry_lookup_into(r, dc_str_from("/none"), buf, 2, NULL) == 0);
    dc_entry_t *peeked[2];
    CHECK(dc_registry_peek_all(r, dc_str_from("/p"), peeked, 2) == 3);

    /* Every registration in a protocol 2 LIST; a legacy one shows /p once. */
    n = dc_registry_snapshot_at(r, NULL, false, &all, NULL);
    CHECK(n == 4);
    dc_registry_release_snapshot(all, n);
    n = dc_registry_snapshot_at(r, NULL, true, &all, NULL);
    CHECK(n == 2 && !strcmp(all[0]->topic.name.ptr, "/q") &&
          !strcmp(all[1]->topic.publisher_node.ptr, "n2"));
    dc_registry_release_snapshot(all, n);

    /* n2 re-registers later than anyone: still newest, same place. */
    CHECK(dc_registry_put(r, s_entry_at("/p", "n3", "T", 4, 300)) == 0); /* tie: put later */
    e = dc_registry_lookup(r, dc_str_from("/p"));
    CHECK(e && !strcmp(e->topic.publisher_node.ptr, "n3"));
    dc_entry_unref(&e);

    CHECK(dc_registry_remove(r, dc_str_from("/p"), dc_str_from("n3")) == 0);
    e = dc_registry_lookup(r, dc_str_from("/p"));
    CHECK(e && !strcmp(e->topic.publisher_node.ptr, "n2"));
    dc_entry_unref(&e);
    CHECK(dc_registry_remove(r, dc_str_from("/p"), dc_str_from("n2")) == 0);
    /* One left: a legacy LIST no longer needs to dedupe, and shows both names. */
    n = dc_registry_snapshot_at(r, NULL, true, &all, NULL);
    CHECK(n == 2);
    dc_registry_release_snapshot(all, n);
    /* A version 1 removal (no node) takes the name's one registration. */
    CHECK(dc_registry_remove(r, dc_str_from("/p"), (dc_str_t){NULL, 0}) == 0);
    CHECK(dc_registry_lookup(r, dc_str_from("/p")) == NULL);
    CHECK(dc_registry_count(r) == 1);
    dc_registry_destroy(&r);
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
        dc_registry_remove(r, dc_str_from(name), dc_str_from("n"));
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
            dc_registry_remove(r, dc_str_from(name), dc_str_from("n"));
    }
    atomic_store(&s_stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(readers[i], NULL);
    CHECK(atomic_load(&s_reads) > 0);
    dc_entry_t *e = dc_registry_lookup(r, dc_str_from("/hot"));
    CHECK(e && strcmp(e->topic.publisher_node.ptr, "a") == 0); /* the last put is newest */
    dc_entry_unref(&e);
    size_t expected = 2; /* /hot by a and b, plus each /churn name last put */
    for (int k = 0; k < 100; k++)
        expected += (19900 + k) % 3 != 0;
    CHECK(dc_registry_count(r) == expected);
    dc_registry_destroy(&r);
}

/* The LIST order is create_seq's: a registration put after others with a
 * lower create_seq (a restored state) goes back to its place; a replace
 * keeps its place; clear empties. */
static void test_list_order(void)
{
    dc_registry_t *r = dc_registry_new();
    CHECK(dc_registry_put(r, s_entry_at("/c", "n", "T", 30, 0)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/a", "n", "T", 10, 0)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/d", "n", "T", 40, 0)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/b", "n", "T", 20, 0)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/c", "n", "U", 30, 0)) == 0); /* replaced */
    dc_entry_t **x = NULL;
    size_t n = dc_registry_snapshot(r, NULL, &x);
    CHECK(n == 4);
    const char *want[] = {"/a", "/b", "/c", "/d"};
    for (size_t i = 0; i < n && i < 4; i++)
        CHECK(!strcmp(x[i]->topic.name.ptr, want[i]) && x[i]->create_seq == (i + 1) * 10);
    CHECK(n == 4 && !strcmp(x[2]->topic.message_type.ptr, "U"));
    dc_registry_release_snapshot(x, n);
    dc_registry_clear(r);
    CHECK(dc_registry_count(r) == 0 && !dc_registry_lookup(r, dc_str_from("/a")));
    CHECK(dc_registry_put(r, s_entry_at("/e", "n", "T", 5, 0)) == 0);
    CHECK(dc_registry_count(r) == 1);
    dc_registry_destroy(&r);
}

/* An overlay in front of a registry: a name it holds is the committed
 * registrations less the keys it removed or replaced, plus its own, in LIST
 * order, the newest by registered_at_ms; any other name, and every name
 * once it is cleared, the registry's alone. */
static void test_overlay(void)
{
    dc_registry_t *r = dc_registry_new();
    CHECK(dc_registry_put(r, s_entry_at("/x", "a", "T", 1, 10)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/x", "b", "T", 2, 20)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/x", "c", "T", 3, 30)) == 0);
    CHECK(dc_registry_put(r, s_entry_at("/y", "a", "T", 4, 10)) == 0);
    dc_overlay_t *o = dc_overlay_new();
    CHECK(o && !dc_overlay_active(o) && !dc_overlay_has(o, dc_str_from("/x")));
    dc_entry_t *a = dc_registry_peek(r, dc_str_from("/x"), dc_str_from("a"));
    dc_entry_t *b2 = s_entry_at("/x", "b", "U", 2, 40), *d = s_entry_at("/x", "d", "T", 9, 5);
    CHECK(dc_overlay_remove(o, a) == 0 && dc_overlay_put(o, b2) == 0 && dc_overlay_put(o, d) == 0);
    size_t removed = 0;
    CHECK(dc_overlay_active(o) && dc_overlay_count(o, &removed) == 3 && removed == 1);
    dc_entry_t **x = NULL;
    size_t newest = 9, n = dc_overlay_lookup(o, r, dc_str_from("/x"), &x, &newest);
    CHECK(n == 3);
    const char *nodes[] = {"b", "c", "d"};
    for (size_t i = 0; i < n && i < 3; i++)
        CHECK(!strcmp(x[i]->topic.publisher_node.ptr, nodes[i]));
    CHECK(n == 3 && !strcmp(x[0]->topic.message_type.ptr, "U") && x[0] != b2 && newest == 0);
    dc_registry_release_snapshot(x, n);
    /* A key removed, then put again by the island: its version shows. */
    CHECK(dc_overlay_put(o, a) == 0 && dc_overlay_count(o, &removed) == 3 && removed == 0);
    CHECK(dc_overlay_lookup(o, r, dc_str_from("/x"), &x, &newest) == 4);
    dc_registry_release_snapshot(x, 4);
    CHECK(dc_overlay_lookup(o, r, dc_str_from("/y"), &x, &newest) == 1 &&
          dc_registry_peek(r, dc_str_from("/y"), dc_str_from("a")) == x[0]);
    dc_registry_release_snapshot(x, 1);
    dc_overlay_clear(o);
    CHECK(!dc_overlay_active(o) && dc_overlay_lookup(o, r, dc_str_from("/x"), &x, &newest) == 3 &&
          newest == 2 && x[2]->registered_at_ms == 30);
    dc_registry_release_snapshot(x, 3);
    dc_entry_unref(&b2);
    dc_entry_unref(&d);
    dc_overlay_destroy(&o);
    dc_registry_destroy(&r);
}

/* A member going back to its committed state moves what its island added
 * into the overlay, then out of the registry; it marks what the island
 * removed in the overlay, then puts the committed version back (the order
 * of dc_state_restore). A lookup racing it must never see the gap: the
 * island's /added is found at every moment, its /removed never. The writer
 * repeats the move (and its undoing, in the order that keeps the same
 * answers) while readers look both names up. */
typedef struct {
    dc_overlay_t *overlay;
    dc_registry_t *registry;
    atomic_int stop;
    atomic_long reads, wrong;
} restore_race_t;

static void *s_restore_reader(void *arg)
{
    restore_race_t *t = arg;
    while (!atomic_load(&t->stop)) {
        dc_entry_t **x = NULL;
        size_t newest, n = dc_overlay_lookup(t->overlay, t->registry, dc_str_from("/added"), &x,
                                             &newest);
        if (n != 1)
            atomic_fetch_add(&t->wrong, 1);
        if (n && n != (size_t)-1)
            dc_registry_release_snapshot(x, n);
        n = dc_overlay_lookup(t->overlay, t->registry, dc_str_from("/removed"), &x, &newest);
        if (n != 0)
            atomic_fetch_add(&t->wrong, 1);
        if (n && n != (size_t)-1)
            dc_registry_release_snapshot(x, n);
        atomic_fetch_add(&t->reads, 1);
    }
    return NULL;
}

static void test_overlay_racing_a_restore(void)
{
    restore_race_t t = {.overlay = dc_overlay_new(), .registry = dc_registry_new()};
    dc_entry_t *added = s_entry_at("/added", "i", "T", 1, 10);
    dc_entry_t *removed = s_entry_at("/removed", "c", "T", 2, 10);
    CHECK(t.overlay && t.registry && added && removed);
    CHECK(dc_registry_put(t.registry, dc_entry_ref(added)) == 0);
    pthread_t readers[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&readers[i], NULL, s_restore_reader, &t) == 0);
    for (int round = 0; round < 20000; round++) {
        /* The restore. */
        CHECK(dc_overlay_put(t.overlay, added) == 0);
        dc_registry_remove(t.registry, dc_str_from("/added"), dc_str_from("i"));
        CHECK(dc_overlay_remove(t.overlay, removed) == 0);
        CHECK(dc_registry_put(t.registry, dc_entry_ref(removed)) == 0);
        /* Back to the island's state, the other way round. */
        CHECK(dc_registry_put(t.registry, dc_entry_ref(added)) == 0);
        dc_registry_remove(t.registry, dc_str_from("/removed"), dc_str_from("c"));
        dc_overlay_clear(t.overlay);
    }
    atomic_store(&t.stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(readers[i], NULL);
    CHECK(atomic_load(&t.reads) > 0);
    printf("overlay racing a restore: %ld lookups, %ld wrong\n", atomic_load(&t.reads),
           atomic_load(&t.wrong));
    CHECK(atomic_load(&t.wrong) == 0);
    dc_entry_unref(&added);
    dc_entry_unref(&removed);
    dc_overlay_destroy(&t.overlay);
    dc_registry_destroy(&t.registry);
}

int main(void)
{
    test_basic();
    test_overlay();
    test_overlay_racing_a_restore();
    test_list_order();
    test_several_publishers();
    test_growth();
    test_concurrent_readers();
    DC_TEST_END();
}
