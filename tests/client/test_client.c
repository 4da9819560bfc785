/* test_client.c: the client library against the real discod binary: every
 * call, no daemon at all, a daemon killed and restarted between two calls,
 * failover from a dead endpoint, a wait that spans a restart, a LIST of
 * thousands of topics, several publishers of one topic, and the ZeroMQ
 * context the clients of one process share (threads, any order, fork).
 * Usage: test_client DISCOD_BINARY */
#include "daemon_proc.h"
#include "discod.h"
#include "dc_test.h"

#include <pthread.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

static void test_leases_metadata_nodes(daemon_proc_t *d)
{
    discod_client_t *c = s_client(d->endpoint, 2000, 2);
    discod_topic_t t = s_topic("/meta", "svc");
    discod_kv_t meta[] = {{"visibility", "public"}, {"description", "a feed"}};
    discod_register_opts_t opts = {0, 5000, meta, 2};
    uint64_t lease = 0;
    CHECK(discod_register_ex(c, &t, &opts, &lease) == DISCOD_OK && lease > 0);
    discod_topic_t other = s_topic("/meta2", "svc");
    discod_register_opts_t attach = {lease, 0, NULL, 0};
    uint64_t same = 0;
    CHECK(discod_register_ex(c, &other, &attach, &same) == DISCOD_OK && same == lease);
    uint64_t ttl = 0;
    CHECK(discod_heartbeat(c, lease, &ttl) == DISCOD_OK && ttl == 5000);
    CHECK(discod_heartbeat(c, lease + 1000, &ttl) == DISCOD_NOT_FOUND);

    discod_topic_t got = {0};
    discod_kv_t *kv = NULL;
    size_t kv_count = 0;
    CHECK(discod_lookup_ex(c, "/meta", &got, &kv, &kv_count) == DISCOD_OK && kv_count == 2);
    bool public_seen = false;
    for (size_t i = 0; i < kv_count; i++)
        public_seen |= !strcmp(kv[i].key, "visibility") && !strcmp(kv[i].value, "public");
    CHECK(public_seen);
    discod_kv_free(kv, kv_count);
    discod_topic_clear(&got);

    discod_kv_t want[] = {{"visibility", "public"}};
    discod_filter_t by_meta = {NULL, NULL, NULL, want, 1};
    discod_topic_t *list = NULL;
    size_t n = 0;
    CHECK(discod_list(c, &by_meta, &list, &n) == DISCOD_OK && n == 1 &&
          !strcmp(list[0].name, "/meta"));
    discod_topic_list_free(list, n);

    char *caps[] = {"temperature", "humidity"};
    discod_kv_t node_meta[] = {{"room", "lab"}};
    discod_node_t node = {"svc", "A service", caps, 2, node_meta, 1, 0, NULL, 0};
    discod_register_opts_t node_opts = {lease, 0, NULL, 0};
    CHECK(discod_register_node(c, &node, &node_opts, NULL) == DISCOD_OK);
    discod_node_t back = {0};
    CHECK(discod_get_node(c, "svc", &back) == DISCOD_OK);
    CHECK(back.capability_count == 2 && back.topic_count == 2 && back.lease_id == lease &&
          back.metadata_count == 1 && !strcmp(back.description, "A service"));
    discod_node_clear(&back);
    discod_node_t *nodes = NULL;
    CHECK(discod_find_nodes(c, "humidity", &nodes, &n) == DISCOD_OK && n == 1);
    discod_node_list_free(nodes, n);
    CHECK(discod_find_nodes(c, "lidar", &nodes, &n) == DISCOD_OK && n == 0);
    discod_node_list_free(nodes, n);

    /* Revoking the lease removes the topics and the node at once. */
    CHECK(discod_revoke_lease(c, lease) == DISCOD_OK);
    CHECK(discod_lookup(c, "/meta", &got) == DISCOD_NOT_FOUND);
    CHECK(discod_get_node(c, "svc", &back) == DISCOD_NOT_FOUND);
    discod_client_destroy(&c);
}

static uint64_t s_stat(discod_client_t *admin, const char *name)
{
    discod_stat_t *stats = NULL;
    size_t n = 0;
    uint64_t value = UINT64_MAX;
    CHECK(discod_stats(admin, &stats, &n) == DISCOD_OK);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(stats[i].name, name))
            value = stats[i].value;
    discod_stats_free(stats, n);
    return value;
}

/* Heartbeats travel by datagram when the daemon offers the channel, fall back
 * to the ROUTER when it is gone, and come back to it after a restart. */
static void test_heartbeat_by_datagram(daemon_proc_t *d)
{
    discod_client_t *c = s_client(d->endpoint, 1000, 2);
    discod_client_t *admin = s_client(d->endpoint, 1000, 2);
    discod_topic_t t = s_topic("/dgram", "dg");
    discod_register_opts_t opts = {0, 60000, NULL, 0};
    uint64_t lease = 0, ttl = 0;
    CHECK(discod_register_ex(c, &t, &opts, &lease) == DISCOD_OK);
    uint64_t datagrams = s_stat(admin, "datagrams"), beats = s_stat(admin, "heartbeats");
    for (int i = 0; i < 5; i++)
        CHECK(discod_heartbeat(c, lease, &ttl) == DISCOD_OK && ttl == 60000);
    CHECK(discod_heartbeat(c, lease + 77, &ttl) == DISCOD_NOT_FOUND);
    CHECK(strstr(discod_client_last_message(c), "not found") != NULL);
    CHECK(s_stat(admin, "datagrams") == datagrams + 6);
    CHECK(s_stat(admin, "heartbeats") == beats + 6);

    /* The channel's file is gone: a new client heartbeats through the ROUTER. */
    char path[300];
    snprintf(path, sizeof path, "%s.hb", d->endpoint + strlen("ipc://"));
    CHECK(unlink(path) == 0);
    discod_client_t *late = s_client(d->endpoint, 1000, 2);
    datagrams = s_stat(admin, "datagrams");
    beats = s_stat(admin, "heartbeats");
    CHECK(discod_heartbeat(late, lease, &ttl) == DISCOD_OK && ttl == 60000);
    CHECK(s_stat(admin, "datagrams") == datagrams);
    CHECK(s_stat(admin, "heartbeats") == beats + 1);

    /* A restart breaks the old client's channel: that heartbeat still
     * succeeds (through the ROUTER), with the lease restored. */
    CHECK(daemon_proc_stop(d, SIGTERM) == 0);
    CHECK(daemon_proc_start(d) == 0);
    CHECK(discod_heartbeat(c, lease, &ttl) == DISCOD_OK);
    CHECK(discod_heartbeat(late, lease, &ttl) == DISCOD_OK);
    discod_client_destroy(&c);
    discod_client_destroy(&late);
    discod_client_destroy(&admin);
}

static void test_held_wait_is_used(daemon_proc_t *d)
{
    discod_client_t *c = s_client(d->endpoint, 2000, 2);
    discod_client_t *admin = s_client(d->endpoint, 2000, 2);
    discod_stat_t *stats = NULL;
    size_t n = 0;
    uint64_t waits_before = 0, waits_after = 0;
    CHECK(discod_stats(admin, &stats, &n) == DISCOD_OK);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(stats[i].name, "waits"))
            waits_before = stats[i].value;
    discod_stats_free(stats, n);
    discod_topic_t got = {0};
    CHECK(discod_wait_for_topic(c, "/held", 300, &got) == DISCOD_NOT_FOUND);
    CHECK(discod_stats(admin, &stats, &n) == DISCOD_OK);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(stats[i].name, "waits"))
            waits_after = stats[i].value;
    discod_stats_free(stats, n);
    /* One held request, not a poll every few hundred ms. */
    CHECK(waits_after == waits_before + 1);
    discod_client_destroy(&c);
    discod_client_destroy(&admin);
}

static void test_session_survives_restart(daemon_proc_t *d)
{
    const char *ep = d->endpoint;
    discod_options_t o;
    discod_options_init(&o);
    o.timeout_ms = 300;
    discod_session_t *s = discod_session_new(&ep, 1, &o, 900);
    CHECK(s != NULL);
    discod_topic_t t = s_topic("/session/a", "sess");
    CHECK(discod_session_register(s, &t) == DISCOD_OK);
    discod_topic_t t2 = s_topic("/session/b", "sess");
    CHECK(discod_session_register(s, &t2) == DISCOD_OK);
    uint64_t lease = discod_session_lease_id(s);
    CHECK(lease > 0);
    usleep(1500 * 1000); /* past the TTL: heartbeats keep it */
    discod_client_t *c = s_client(d->endpoint, 1000, 3);
    discod_topic_t got = {0};
    CHECK(discod_lookup(c, "/session/a", &got) == DISCOD_OK);
    discod_topic_clear(&got);

    /* A daemon that loses everything (fresh database) and comes back: the
     * session notices (lease unknown, new epoch) and registers again. */
    CHECK(daemon_proc_stop(d, SIGKILL) == -1);
    unlink(d->db);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", d->db);
    unlink(wal);
    CHECK(daemon_proc_start(d) == 0);
    bool back = false;
    for (int i = 0; i < 60 && !back; i++) {
        usleep(100 * 1000);
        if (discod_lookup(c, "/session/b", &got) == DISCOD_OK) {
            back = true;
            discod_topic_clear(&got);
        }
    }
    CHECK(back);
    CHECK(discod_session_reregistrations(s) >= 1);
    CHECK(discod_session_unregister(s, "/session/a") == DISCOD_OK);
    discod_session_destroy(&s);
    CHECK(s == NULL);
    /* Destroy revoked the lease: the other topic is gone at once. */
    CHECK(discod_lookup(c, "/session/b", &got) == DISCOD_NOT_FOUND);
    discod_client_destroy(&c);
}

/* Several publishers of one topic: discod_lookup_all lists them in
 * registration order and names the newest; discod_unregister_node_topic
 * removes one node's registration where a plain unregister is refused. */
/* A LIST reply far larger than libzmq's receive buffer (and than malloc's
 * mmap threshold): the decoded topics must stay valid after the reply
 * message is closed (they once pointed into it, and discoctl list crashed on
 * a registry of a few thousand topics). */
static void test_large_list(daemon_proc_t *d)
{
    discod_client_t *c = s_client(d->endpoint, 5000, 2);
    enum { N = 3000 };
    char name[160];
    int registered = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "/large/list/a-fairly-long-topic-name-to-make-it-big/%05d", i);
        discod_topic_t t = s_topic(name, "large-node");
        /* Not on this computer: the prober leaves it alone (an ipc path that
         * does not exist would be removed while the test registers). */
        t.address = "tcp://192.0.2.10:7000";
        registered += discod_register(c, &t) == DISCOD_OK;
    }
    CHECK(registered == N);
    discod_topic_t *list = NULL;
    size_t n = 0;
    discod_filter_t large = {"/large/list/", NULL, NULL, NULL, 0};
    discod_result_t lr = discod_list(c, &large, &list, &n);
    if (lr != DISCOD_OK || n != N)
        fprintf(stderr, "large list: %s, %zu topic(s): %s\n", discod_strerror(lr), n,
                discod_client_last_message(c));
    CHECK(lr == DISCOD_OK && n == N);
    /* Each name once, every field intact. */
    static bool seen[N];
    int good = 0;
    for (size_t i = 0; i < n; i++) {
        int k = -1;
        if (list[i].name && sscanf(list[i].name,
                                   "/large/list/a-fairly-long-topic-name-to-make-it-big/%d",
                                   &k) == 1 && k >= 0 && k < N && !seen[k] &&
            !strcmp(list[i].address, "tcp://192.0.2.10:7000") &&
            !strcmp(list[i].message_type, "sensor.Image") &&
            !strcmp(list[i].publisher_node, "large-node") &&
            list[i].fingerprint == 0xfedcba9876543210ULL) {
            seen[k] = true;
            good++;
        }
    }
    CHECK(good == N);
    discod_topic_list_free(list, n);
    discod_client_destroy(&c);
}

static void test_several_publishers(void)
{
    daemon_proc_t d;
    daemon_proc_init(&d, s_binary, s_dir, "multi");
    d.extra[0] = "--publishers-per-topic";
    d.extra[1] = "2";
    CHECK(daemon_proc_start(&d) == 0);
    discod_client_t *c = s_client(d.endpoint, 2000, 2);
    discod_topic_t a = s_topic("/det", "cam1"), b = s_topic("/det", "cam2"),
                   x = s_topic("/det", "cam3");
    CHECK(discod_register(c, &a) == DISCOD_OK);
    usleep(5000);
    discod_kv_t meta[] = {{"side", "left"}};
    discod_register_opts_t opts = {0, 60000, meta, 1};
    uint64_t lease = 0;
    CHECK(discod_register_ex(c, &b, &opts, &lease) == DISCOD_OK && lease > 0);
    CHECK(discod_register(c, &x) == DISCOD_ALREADY_EXISTS);
    CHECK(strstr(discod_client_last_message(c), "publishers_per_topic = 2") != NULL);
    discod_publisher_t *list = NULL;
    size_t n = 0, newest = 9;
    CHECK(discod_lookup_all(c, "/det", &list, &n, &newest) == DISCOD_OK);
    CHECK(n == 2 && newest == 1);
    CHECK(n == 2 && !strcmp(list[0].topic.publisher_node, "cam1") && list[0].lease_id == 0 &&
          list[0].metadata_count == 0);
    CHECK(n == 2 && !strcmp(list[1].topic.publisher_node, "cam2") && list[1].lease_id == lease &&
          list[1].metadata_count == 1 && !strcmp(list[1].metadata[0].value, "left") &&
          list[1].registered_at_ms > 0);
    discod_publishers_free(list, n);
    discod_topic_t got = {0};
    CHECK(discod_lookup(c, "/det", &got) == DISCOD_OK && !strcmp(got.publisher_node, "cam2"));
    discod_topic_clear(&got);
    CHECK(discod_unregister(c, "/det") == DISCOD_ERROR);
    CHECK(discod_unregister_node_topic(c, "/det", "cam9") == DISCOD_NOT_FOUND);
    CHECK(discod_unregister_node_topic(c, "/det", "cam2") == DISCOD_OK);
    CHECK(discod_lookup_all(c, "/det", &list, &n, NULL) == DISCOD_OK && n == 1 &&
          !strcmp(list[0].topic.publisher_node, "cam1"));
    discod_publishers_free(list, n);
    CHECK(discod_lookup_all(c, "/none", &list, &n, NULL) == DISCOD_NOT_FOUND && !list && !n);
    /* A session unregisters its own registration by its node, beside another's. */
    const char *ep = d.endpoint;
    discod_session_t *session = discod_session_new(&ep, 1, NULL, 60000);
    discod_topic_t mine = s_topic("/det", "cam2");
    CHECK(session && discod_session_register(session, &mine) == DISCOD_OK);
    CHECK(discod_session_unregister(session, "/det") == DISCOD_OK);
    CHECK(discod_lookup_all(c, "/det", &list, &n, NULL) == DISCOD_OK && n == 1 &&
          !strcmp(list[0].topic.publisher_node, "cam1"));
    discod_publishers_free(list, n);
    discod_session_destroy(&session);
    CHECK(discod_unregister_node_topic(c, "/det", "") == DISCOD_INVALID);
    /* A legacy client (protocol 1) gets the one publisher it can know. */
    discod_options_t o;
    discod_options_init(&o);
    o.protocol = DISCOD_PROTOCOL_LEGACY;
    discod_client_t *legacy = discod_client_new_multi(&ep, 1, &o);
    CHECK(discod_lookup_all(legacy, "/det", &list, &n, NULL) == DISCOD_OK && n == 1 &&
          !strcmp(list[0].topic.publisher_node, "cam1"));
    discod_publishers_free(list, n);
    /* Told to speak Cortex's protocol, every protocol 2 only call says so
     * alike, without asking the daemon. */
    discod_stat_t *stats = NULL;
    discod_member_t *members = NULL;
    size_t count = 0;
    CHECK(discod_stats(legacy, &stats, &count) == DISCOD_UNSUPPORTED && !stats);
    CHECK(discod_members(legacy, &members, &count) == DISCOD_UNSUPPORTED && !members);
    discod_client_destroy(&legacy);
    discod_client_destroy(&c);
    CHECK(daemon_proc_stop(&d, SIGTERM) == 0);
}

/* Threads of this process, from /proc/self/task. */
static int s_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    int n = 0;
    for (struct dirent *e; dir && (e = readdir(dir));)
        n += e->d_name[0] != '.';
    if (dir)
        closedir(dir);
    return n;
}

typedef struct {
    const char *endpoint;
    int index, nodes;
    int ok;
} node_arg_t;

/* A node of a robot starting: its own client, a registration, a wait for the
 * next node's topic. */
static void *s_node(void *arg)
{
    node_arg_t *a = arg;
    char name[64], next[64];
    snprintf(name, sizeof name, "/shared/%d", a->index);
    snprintf(next, sizeof next, "/shared/%d", (a->index + 1) % a->nodes);
    discod_client_t *c = discod_client_new(a->endpoint);
    discod_topic_t t = s_topic(name, name), found = {0};
    a->ok = c && discod_register(c, &t) == DISCOD_OK &&
            discod_wait_for_topic(c, next, 10000, &found) == DISCOD_OK && !strcmp(found.name, next);
    discod_topic_clear(&found);
    usleep((useconds_t)(a->index % 7) * 3000); /* let go in a mixed order */
    discod_client_destroy(&c);
    return NULL;
}

static void test_shared_context(daemon_proc_t *d)
{
    /* One context for the process: twenty clients cost no threads of their
     * own (each used to bring an I/O thread and a reaper). */
    discod_client_t *keeper = discod_client_new(d->endpoint);
    CHECK(keeper && discod_ping(keeper) == DISCOD_OK);
    int before = s_threads();
    discod_client_t *many[20];
    for (int i = 0; i < 20; i++) {
        many[i] = discod_client_new(d->endpoint);
        CHECK(many[i] && discod_ping(many[i]) == DISCOD_OK);
    }
    CHECK(s_threads() == before);
    for (int i = 0; i < 20; i++)
        discod_client_destroy(&many[i]);
    /* Nodes on threads of their own, coming and going in any order, while
     * another client lives on. */
    enum { NODES = 32 };
    pthread_t threads[NODES];
    node_arg_t args[NODES];
    for (int i = 0; i < NODES; i++) {
        args[i] = (node_arg_t){d->endpoint, i, NODES, 0};
        pthread_create(&threads[i], NULL, s_node, &args[i]);
    }
    int ok = 0;
    for (int i = 0; i < NODES; i++) {
        pthread_join(threads[i], NULL);
        ok += args[i].ok;
    }
    CHECK(ok == NODES);
    CHECK(discod_ping(keeper) == DISCOD_OK);
    /* A forked child makes a context of its own, and lets its parent's be. */
    pid_t child = fork();
    if (child == 0) {
        alarm(20); /* a hang fails the test instead of stalling it */
        discod_client_t *mine = discod_client_new(d->endpoint);
        int rc = mine && discod_ping(mine) == DISCOD_OK ? 0 : 1;
        discod_client_destroy(&mine);
        discod_client_destroy(&keeper); /* the parent's: left alone */
        _exit(rc);
    }
    int status = -1;
    CHECK(child > 0 && waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(discod_ping(keeper) == DISCOD_OK);
    /* The last client gone, the next one makes a new context. */
    discod_client_destroy(&keeper);
    discod_client_t *later = discod_client_new(d->endpoint);
    CHECK(later && discod_ping(later) == DISCOD_OK);
    discod_client_destroy(&later);
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
    test_shared_context(&d);
    test_restart_between_calls(&d);
    test_failover(&d);
    test_wait_survives_restart(&d);
    test_leases_metadata_nodes(&d);
    test_held_wait_is_used(&d);
    test_heartbeat_by_datagram(&d);
    test_session_survives_restart(&d);
    test_large_list(&d);
    CHECK(daemon_proc_stop(&d, SIGTERM) == 0);
    test_several_publishers();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    DC_TEST_END();
}
