/* test_subscribe.c: libdiscod's subscriptions against a real daemon:
 * discod_subscribe tells of a publisher whose type differs, a wait that names
 * its subscriber is told too, a session's subscriptions live on its lease
 * (gone when it is destroyed), and bad arguments send nothing. */
#include "daemon_proc.h"
#include "dc_test.h"
#include "discod.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char s_dir[] = "/tmp/dc-subscribe-XXXXXX";

static discod_client_t *s_client(const char *endpoint)
{
    discod_options_t o;
    discod_options_init(&o);
    o.timeout_ms = 2000;
    return discod_client_new_multi(&endpoint, 1, &o);
}

/* The value of STATS counter name (UINT64_MAX: absent). */
static uint64_t s_stat(discod_client_t *c, const char *name)
{
    discod_stat_t *stats = NULL;
    size_t n = 0;
    uint64_t v = UINT64_MAX;
    if (discod_stats(c, &stats, &n) == DISCOD_OK)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(stats[i].name, name))
                v = stats[i].value;
    discod_stats_free(stats, n);
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_subscribe DISCOD_BINARY\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    CHECK(mkdtemp(s_dir) != NULL);
    daemon_proc_t d;
    daemon_proc_init(&d, argv[1], s_dir, "d");
    CHECK(daemon_proc_start(&d) == 0);
    discod_client_t *c = s_client(d.endpoint);

    discod_topic_t pub = {"/lidar", "ipc:///tmp/x", "Points", 7, "lidar_node"};
    CHECK(discod_register(c, &pub) == DISCOD_OK);
    /* A subscriber that expects another type hears of the publisher. */
    discod_subscription_t sub = {"/lidar", "viewer", "Scan", 0};
    discod_mismatch_t *mm = NULL;
    size_t n = 0;
    uint64_t lease = 1;
    CHECK(discod_subscribe(c, &sub, NULL, &lease, &mm, &n) == DISCOD_OK);
    CHECK(lease == 0 && n == 1 && mm && !strcmp(mm[0].node, "lidar_node") &&
          !strcmp(mm[0].message_type, "Points") && mm[0].fingerprint == 7 &&
          !strcmp(mm[0].address, "ipc:///tmp/x"));
    discod_mismatches_free(mm, n);
    /* One that agrees: none (mismatches not asked for: fine too). */
    discod_subscription_t good = {"/lidar", "mapper", "Points", 7};
    CHECK(discod_subscribe(c, &good, NULL, NULL, &mm, &n) == DISCOD_OK && n == 0 && !mm);
    CHECK(discod_subscribe(c, &good, NULL, NULL, NULL, NULL) == DISCOD_OK);
    CHECK(s_stat(c, "subscriptions") == 2 && s_stat(c, "mismatches") == 1);
    /* A wait naming its subscriber. */
    discod_topic_t got = {0};
    CHECK(discod_wait_subscribed(c, "/lidar", "viewer", 1000, &got, &mm, &n) == DISCOD_OK);
    CHECK(!strcmp(got.publisher_node, "lidar_node") && n == 1 && !strcmp(mm[0].node, "lidar_node"));
    discod_topic_clear(&got);
    discod_mismatches_free(mm, n);
    CHECK(discod_wait_subscribed(c, "/lidar", "mapper", 1000, &got, &mm, &n) == DISCOD_OK &&
          n == 0);
    discod_topic_clear(&got);
    CHECK(discod_wait_subscribed(c, "/none", "mapper", 200, &got, &mm, &n) == DISCOD_NOT_FOUND);
    CHECK(discod_unsubscribe(c, "/lidar", "viewer") == DISCOD_OK);
    CHECK(discod_unsubscribe(c, "/lidar", "viewer") == DISCOD_NOT_FOUND);
    CHECK(s_stat(c, "mismatches") == 0);
    /* Bad arguments: nothing sent. */
    uint64_t requests = s_stat(c, "requests");
    discod_subscription_t bad = {"/x", NULL, "T", 0};
    CHECK(discod_subscribe(c, &bad, NULL, NULL, NULL, NULL) == DISCOD_INVALID);
    bad = (discod_subscription_t){"", "n", "T", 0};
    CHECK(discod_subscribe(c, &bad, NULL, NULL, NULL, NULL) == DISCOD_INVALID);
    CHECK(discod_subscribe(c, &good, NULL, NULL, &mm, NULL) == DISCOD_INVALID);
    CHECK(discod_unsubscribe(c, "/x", NULL) == DISCOD_INVALID);
    CHECK(s_stat(c, "requests") == requests + 1); /* the STATS above only */

    /* A session: its subscriptions hang on its lease. */
    const char *ep = d.endpoint;
    discod_session_t *s = discod_session_new(&ep, 1, NULL, 1000);
    CHECK(s != NULL);
    discod_subscription_t mine = {"/cmd", "teleop", "Twist", 0};
    CHECK(discod_session_subscribe(s, &mine, &mm, &n) == DISCOD_OK && n == 0);
    CHECK(discod_session_lease_id(s) > 0);
    discod_subscription_t other = {"/joy", "teleop", "", 0};
    CHECK(discod_session_subscribe(s, &other, NULL, NULL) == DISCOD_OK);
    usleep(1500 * 1000); /* past the TTL: renewed */
    CHECK(s_stat(c, "subscriptions") == 3);
    CHECK(discod_session_unsubscribe(s, "/joy", "teleop") == DISCOD_OK);
    CHECK(s_stat(c, "subscriptions") == 2);
    discod_session_destroy(&s);
    CHECK(s_stat(c, "subscriptions") == 1); /* revoked with the lease at once */

    discod_client_destroy(&c);
    CHECK(daemon_proc_stop(&d, SIGTERM) == 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    DC_TEST_END();
}
