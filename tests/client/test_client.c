/* test_client.c: the client library against the real discod binary: every
 * call, no daemon at all, a daemon killed and restarted between two calls,
 * failover from a dead endpoint, and a wait that spans a restart.
 * Usage: test_client DISCOD_BINARY */
#include "daemon_proc.h"
#include "discod.h"
#include "dc_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char s_dir[] = "/tmp/dc-client-XXXXXX";
static const char *s_binary;

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static discod_topic_t s_topic(const char *name, const char *node)
{
    discod_topic_t t = {(char *)name, "ipc:///tmp/cortex/topics/x", "sensor.Image",
                        0xfedcba9876543210ULL, (char *)node};
    return t;
}

static discod_client_t *s_client(const char *endpoint, int timeout_ms, int retries)
{
    discod_options_t o;
    discod_options_init(&o);
    o.timeout_ms = timeout_ms;
    o.retries = retries;
    return discod_client_new_multi(&endpoint, 1, &o);
}

static void test_every_call(daemon_proc_t *d)
{
    discod_client_t *c = s_client(d->endpoint, 2000, 2);
    CHECK(discod_ping(c) == DISCOD_OK);
    CHECK(discod_client_protocol(c) == 2);
    CHECK(discod_client_epoch(c) >= 1);
    discod_topic_t t = s_topic("/cam", "cam-node");
    CHECK(discod_register(c, &t) == DISCOD_OK);
    CHECK(strcmp(discod_client_last_message(c), "Registered topic: /cam") == 0);
    discod_topic_t other = s_topic("/cam", "someone-else");
    CHECK(discod_register(c, &other) == DISCOD_ALREADY_EXISTS);
    discod_topic_t imu = s_topic("/imu", "imu-node");
    imu.message_type = "sensor.Imu";
    CHECK(discod_register(c, &imu) == DISCOD_OK);

    discod_topic_t got = {0};
    CHECK(discod_lookup(c, "/cam", &got) == DISCOD_OK);
    CHECK(got.name && strcmp(got.name, "/cam") == 0 && got.fingerprint == 0xfedcba9876543210ULL &&
          strcmp(got.publisher_node, "cam-node") == 0);
    discod_topic_clear(&got);
    CHECK(got.name == NULL);
    CHECK(discod_lookup(c, "/none", &got) == DISCOD_NOT_FOUND);

    discod_topic_t *list = NULL;
    size_t n = 0;
    CHECK(discod_list(c, NULL, &list, &n) == DISCOD_OK && n == 2);
    discod_topic_list_free(list, n);
    discod_filter_t by_type = {NULL, "sensor.Imu", NULL, NULL, 0};
    CHECK(discod_list(c, &by_type, &list, &n) == DISCOD_OK && n == 1 &&
          strcmp(list[0].name, "/imu") == 0);
    discod_topic_list_free(list, n);

    discod_stat_t *stats = NULL;
    CHECK(discod_stats(c, &stats, &n) == DISCOD_OK && n > 5);
    bool saw_topics = false;
    for (size_t i = 0; i < n; i++)
        saw_topics |= strcmp(stats[i].name, "topics") == 0 && stats[i].value == 2;
    CHECK(saw_topics);
    discod_stats_free(stats, n);

    CHECK(discod_unregister(c, "/imu") == DISCOD_OK);
    CHECK(discod_unregister(c, "/imu") == DISCOD_NOT_FOUND);

    /* Bad arguments are refused before anything is sent. */
    discod_topic_t bad = s_topic("", "n");
    CHECK(discod_register(c, &bad) == DISCOD_INVALID);
    bad = s_topic("/bad\xff", "n");
    CHECK(discod_register(c, &bad) == DISCOD_INVALID);
    CHECK(discod_lookup(c, NULL, &got) == DISCOD_INVALID);
    CHECK(discod_client_new("udp://nope") == NULL);
    CHECK(strcmp(discod_strerror(DISCOD_TIMEOUT), "daemon unreachable (timed out)") == 0);

    /* wait: at once when present, NOT_FOUND when the time runs out. */
    CHECK(discod_wait_for_topic(c, "/cam", 1000, &got) == DISCOD_OK);
    discod_topic_clear(&got);
    uint64_t t0 = s_now_ms();
    CHECK(discod_wait_for_topic(c, "/never", 300, &got) == DISCOD_NOT_FOUND);
    CHECK(s_now_ms() - t0 >= 290);
    discod_client_destroy(&c);
    CHECK(c == NULL);
    discod_client_destroy(&c);
}

static void test_no_daemon(void)
{
    char ep[300];
    snprintf(ep, sizeof ep, "ipc://%s/nobody.sock", s_dir);
    discod_client_t *c = s_client(ep, 200, 3);
    uint64_t t0 = s_now_ms();
    CHECK(discod_ping(c) == DISCOD_TIMEOUT);
    uint64_t took = s_now_ms() - t0;
    /* timeout x retries, and no hang beyond it */
    CHECK(took >= 590 && took < 3000);
    discod_topic_t t = s_topic("/x", "n");
    CHECK(discod_register(c, &t) == DISCOD_TIMEOUT);
    CHECK(strstr(discod_client_last_message(c), "3 tries") != NULL);
    discod_client_destroy(&c);
}

static void test_restart_between_calls(daemon_proc_t *d)
{
    discod_client_t *c = s_client(d->endpoint, 1000, 5);
    discod_topic_t t = s_topic("/persist", "p");
    CHECK(discod_register(c, &t) == DISCOD_OK);
    uint64_t epoch = discod_client_epoch(c);
    CHECK(daemon_proc_stop(d, SIGKILL) == -1);
    CHECK(daemon_proc_start(d) == 0);
    /* Same client object, no caller action: the next call just works. */
    discod_topic_t got = {0};
    CHECK(discod_lookup(c, "/persist", &got) == DISCOD_OK);
    discod_topic_clear(&got);
    CHECK(discod_client_epoch(c) == epoch + 1);
    discod_client_destroy(&c);
}

static void test_failover(daemon_proc_t *d)
{
    char dead[300];
    snprintf(dead, sizeof dead, "ipc://%s/dead.sock", s_dir);
    const char *endpoints[] = {dead, d->endpoint};
    discod_options_t o;
    discod_options_init(&o);
    o.timeout_ms = 300;
    o.retries = 2;
    discod_client_t *c = discod_client_new_multi(endpoints, 2, &o);
    CHECK(strcmp(discod_client_endpoint(c), dead) == 0);
    CHECK(discod_ping(c) == DISCOD_OK);
    CHECK(strcmp(discod_client_endpoint(c), d->endpoint) == 0);
    discod_topic_t t = s_topic("/failover", "f");
    CHECK(discod_register(c, &t) == DISCOD_OK); /* stays on the live one */
    discod_client_destroy(&c);
}

typedef struct {
    daemon_proc_t *d;
} restarter_t;

static void *s_restart_then_register(void *arg)
{
    restarter_t *r = arg;
    usleep(300 * 1000);
    daemon_proc_stop(r->d, SIGKILL);
    usleep(200 * 1000);
    daemon_proc_start(r->d);
    discod_client_t *c = s_client(r->d->endpoint, 1000, 3);
    discod_topic_t t = s_topic("/after-restart", "late");
    discod_register(c, &t);
    discod_client_destroy(&c);
    return NULL;
}

static void test_wait_survives_restart(daemon_proc_t *d)
{
    discod_client_t *c = s_client(d->endpoint, 1000, 3);
    restarter_t r = {d};
    pthread_t thread;
    pthread_create(&thread, NULL, s_restart_then_register, &r);
    discod_topic_t got = {0};
    discod_result_t rc = discod_wait_for_topic(c, "/after-restart", 15000, &got);
    pthread_join(thread, NULL);
    CHECK(rc == DISCOD_OK);
    CHECK(got.name && strcmp(got.publisher_node, "late") == 0);
    discod_topic_clear(&got);
    discod_client_destroy(&c);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_client DISCOD_BINARY\n");
        return 2;
    }
    s_binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    CHECK(mkdtemp(s_dir) != NULL);
    daemon_proc_t d;
    daemon_proc_init(&d, s_binary, s_dir, "d");
    CHECK(daemon_proc_start(&d) == 0);
    test_every_call(&d);
    test_no_daemon();
    test_restart_between_calls(&d);
    test_failover(&d);
    test_wait_survives_restart(&d);
    CHECK(daemon_proc_stop(&d, SIGTERM) == 0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    DC_TEST_END();
}
