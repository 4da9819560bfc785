/* test_handoff.c: the writer's queues (server/support/dc_handoff.c): items
 * come out in order and past the first allocation; the descriptor is
 * readable exactly when a push followed a pop that found none, and a pop
 * clears it; a full queue refuses, and a waiting push gets in once a pop
 * makes room or gives up at its time-out; a closed queue refuses pushes but
 * keeps what it holds; four producer threads lose and duplicate nothing
 * while the consumer sleeps on the descriptor; pushes while held wake the
 * consumer once, at the release; destroy frees what is left. */
#include "dc_handoff.h"
#include "dc_test.h"

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static bool s_readable(dc_handoff_t *h, int timeout_ms)
{
    struct pollfd fd = {dc_handoff_fd(h), POLLIN, 0};
    return poll(&fd, 1, timeout_ms) == 1;
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

typedef struct {
    dc_handoff_t *h;
    int id;
} producer_t;

static void *s_produce(void *arg)
{
    producer_t *p = arg;
    for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
        void *item = (void *)(((uintptr_t)p->id << 32) | (i + 1));
        while (dc_handoff_push_wait(p->h, item, 1000) != 0)
            ;
    }
    return NULL;
}

static int s_freed;
static void s_count_free(void *item)
{
    (void)item;
    s_freed++;
}

static uint64_t s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(void)
{
    /* In order, past the first 64 slots; the descriptor only after an empty pop. */
    dc_handoff_t *h = dc_handoff_new(0);
    CHECK(h != NULL);
    CHECK(!s_readable(h, 0));
    CHECK(dc_handoff_push(h, (void *)1) == 0);
    CHECK(s_readable(h, 0)); /* armed from the start: the first push wakes */
    CHECK(dc_handoff_pop(h) == (void *)1);
    CHECK(!s_readable(h, 0)); /* the pop read it */
    for (uintptr_t i = 1; i <= 200; i++)
        CHECK(dc_handoff_push(h, (void *)i) == 0);
    CHECK(!s_readable(h, 0)); /* no pop found none since: the consumer is awake */
    CHECK(dc_handoff_count(h) == 200);
    bool ordered = true;
    for (uintptr_t i = 1; i <= 200; i++)
        ordered = ordered && dc_handoff_pop(h) == (void *)i;
    CHECK(ordered);
    CHECK(dc_handoff_pop(h) == NULL); /* arms it */
    CHECK(!s_readable(h, 0));
    CHECK(dc_handoff_push(h, (void *)7) == 0);
    CHECK(dc_handoff_push(h, (void *)8) == 0);
    CHECK(s_readable(h, 0));
    CHECK(dc_handoff_pop(h) == (void *)7 && !s_readable(h, 0));
    CHECK(dc_handoff_pop(h) == (void *)8 && dc_handoff_pop(h) == NULL);
    uint64_t t = s_ms();
    CHECK(dc_handoff_pop_wait(h, 50) == NULL && s_ms() - t >= 40);
    CHECK(dc_handoff_push(h, (void *)9) == 0 && dc_handoff_pop_wait(h, 50) == (void *)9);
    /* Held (nested): pushes leave the descriptor to the outer release. */
    CHECK(dc_handoff_pop(h) == NULL);
    dc_handoff_hold(h);
    dc_handoff_hold(h);
    CHECK(dc_handoff_push(h, (void *)10) == 0 && dc_handoff_push(h, (void *)11) == 0);
    CHECK(!s_readable(h, 0));
    dc_handoff_release(h);
    CHECK(!s_readable(h, 0));
    dc_handoff_release(h);
    CHECK(s_readable(h, 0));
    CHECK(dc_handoff_pop(h) == (void *)10 && dc_handoff_pop(h) == (void *)11);
    /* An awake consumer takes what is pushed while held: nothing left to
     * wake it for at the release. */
    CHECK(dc_handoff_pop(h) == NULL);
    dc_handoff_hold(h);
    CHECK(dc_handoff_push(h, (void *)12) == 0 && dc_handoff_pop(h) == (void *)12);
    CHECK(dc_handoff_pop(h) == NULL);
    dc_handoff_release(h);
    CHECK(!s_readable(h, 0));
    dc_handoff_destroy(&h, NULL);
    CHECK(h == NULL);
    dc_handoff_destroy(&h, NULL); /* safe on NULL */

    /* Full: refused at once, or waited for. */
    h = dc_handoff_new(2);
    CHECK(dc_handoff_push(h, (void *)1) == 0 && dc_handoff_push(h, (void *)2) == 0);
    CHECK(dc_handoff_push(h, (void *)3) == -1);
    uint64_t t0 = s_ms();
    CHECK(dc_handoff_push_wait(h, (void *)3, 100) == -1);
    CHECK(s_ms() - t0 >= 90);
    CHECK(dc_handoff_pop(h) == (void *)1);
    CHECK(dc_handoff_push_wait(h, (void *)3, 100) == 0);
    /* Closed: pushes refused (a waiting one too), the items stay. */
    dc_handoff_close(h);
    CHECK(dc_handoff_push(h, (void *)4) == -1);
    CHECK(dc_handoff_pop(h) == (void *)2 && dc_handoff_pop(h) == (void *)3);
    CHECK(dc_handoff_pop(h) == NULL);
    CHECK(dc_handoff_push(h, (void *)5) == -1);
    dc_handoff_destroy(&h, s_count_free);
    CHECK(s_freed == 0); /* the refused item stayed the caller's */

    /* Four producers, a consumer that sleeps on the descriptor whenever the
     * queue is empty, a small capacity so pushers wait too. */
    h = dc_handoff_new(64);
    producer_t producers[PRODUCERS];
    pthread_t threads[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        producers[i] = (producer_t){h, i};
        CHECK(pthread_create(&threads[i], NULL, s_produce, &producers[i]) == 0);
    }
    uintptr_t next[PRODUCERS] = {0};
    long got = 0, out_of_order = 0, sleeps = 0, stuck = 0;
    while (got < (long)PRODUCERS * PER_PRODUCER) {
        void *item = dc_handoff_pop(h);
        if (!item) {
            sleeps++;
            if (!s_readable(h, 2000)) /* a lost wake-up would hang here */
                stuck++;
            if (stuck > 2)
                break;
            continue;
        }
        uintptr_t v = (uintptr_t)item;
        int id = (int)(v >> 32);
        uintptr_t seq = v & 0xffffffffu;
        if (id < 0 || id >= PRODUCERS || seq != next[id] + 1)
            out_of_order++;
        else
            next[id] = seq;
        got++;
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(threads[i], NULL);
    CHECK(got == (long)PRODUCERS * PER_PRODUCER);
    CHECK(out_of_order == 0 && stuck == 0);
    CHECK(dc_handoff_pop(h) == NULL);
    printf("threads: %ld items, %ld sleeps on the descriptor\n", got, sleeps);

    /* Destroy hands what is left to the free function. */
    for (uintptr_t i = 1; i <= 5; i++)
        dc_handoff_push(h, (void *)i);
    s_freed = 0;
    dc_handoff_destroy(&h, s_count_free);
    CHECK(s_freed == 5);
    DC_TEST_END();
}
