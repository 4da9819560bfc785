/* test_lease.c: the lease table: heartbeats renew, unknown ids answer 0,
 * dirty renewals are handed over once, attachments keep no duplicates, and
 * the table grows past its first buckets. */
#include "dc_lease.h"
#include "dc_test.h"

#include <stdlib.h>

int main(void)
{
    dc_leases_t *t = dc_leases_new();
    CHECK(t != NULL);
    for (uint64_t id = 1; id <= 5000; id++)
        dc_leases_add(t, dc_lease_new(id, 1000 + id, 100, 50));
    CHECK(dc_leases_count(t) == 5000);
    CHECK(dc_leases_ttl(t, 4321) == 5321);
    CHECK(dc_leases_ttl(t, 9999) == 0);

    /* Leases were saved at wall time 50; a renewal is queued for saving once
     * the saved time is TTL/2 old. */
    CHECK(dc_leases_heartbeat(t, 42, 10000, 100) == 1042); /* 50 ms later: not yet */
    CHECK(dc_leases_expiry(t, 42) == 10000 + 1042);
    uint64_t *ids = NULL, *times = NULL;
    CHECK(dc_leases_take_dirty(t, &ids, &times) == 0);
    CHECK(dc_leases_heartbeat(t, 42, 10001, 777) == 1042);
    CHECK(dc_leases_heartbeat(t, 42, 10002, 778) == 1042); /* queued once, not twice */
    CHECK(dc_leases_heartbeat(t, 7, 10003, 779) == 1007);
    CHECK(dc_leases_heartbeat(t, 123456, 1, 1) == 0);
    size_t n = dc_leases_take_dirty(t, &ids, &times);
    CHECK(n == 2 && ids[0] == 42 && times[0] == 778 && ids[1] == 7 && times[1] == 779);
    free(ids);
    free(times);
    CHECK(dc_leases_take_dirty(t, &ids, &times) == 0 && ids == NULL);
    CHECK(dc_leases_heartbeat(t, 42, 10004, 900) == 1042); /* saved at 777: too recent */
    CHECK(dc_leases_take_dirty(t, &ids, &times) == 0);

    dc_lease_t *l = dc_leases_find(t, 42);
    CHECK(l && l->id == 42);
    CHECK(dc_lease_attach_topic(l, "/a") == 0);
    CHECK(dc_lease_attach_topic(l, "/b") == 0);
    CHECK(dc_lease_attach_topic(l, "/a") == 0);
    CHECK(l->topic_count == 2);

    dc_leases_remove(t, 42);
    CHECK(dc_leases_find(t, 42) == NULL);
    CHECK(dc_leases_heartbeat(t, 42, 1, 1) == 0);
    CHECK(dc_leases_count(t) == 4999);
    dc_leases_destroy(&t);
    CHECK(t == NULL);
    dc_leases_destroy(&t);
    DC_TEST_END();
}
