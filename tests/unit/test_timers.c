/* test_timers.c: the deadline heap pops in deadline order, only when due,
 * and keeps names. */
#include "dc_test.h"
#include "dc_timers.h"

#include <stdlib.h>

int main(void)
{
    dc_timers_t t = {0};
    CHECK(dc_timers_next(&t) == UINT64_MAX);
    unsigned seed = 3;
    for (uint64_t i = 0; i < 1000; i++)
        CHECK(dc_timers_push(&t, 100 + (uint64_t)(rand_r(&seed) % 5000), i, i % 2 ? "w" : NULL) ==
              0);
    dc_timer_t out;
    CHECK(!dc_timers_pop_due(&t, 99, &out));
    uint64_t last = 0;
    int popped = 0, named = 0;
    while (dc_timers_pop_due(&t, 2600, &out)) {
        CHECK(out.deadline >= last && out.deadline <= 2600);
        last = out.deadline;
        named += out.name != NULL && out.id % 2 == 1;
        free(out.name);
        popped++;
    }
    CHECK(popped > 0 && popped < 1000);
    CHECK(dc_timers_next(&t) > 2600);
    while (dc_timers_pop_due(&t, UINT64_MAX - 1, &out)) {
        CHECK(out.deadline >= last);
        last = out.deadline;
        free(out.name);
        popped++;
    }
    CHECK(popped == 1000 && named > 0);
    dc_timers_free(&t);
    DC_TEST_END();
}
