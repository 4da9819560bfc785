/* sssn_service.c: the SSSN service-discovery example's temperature service,
 * on discod: it binds a PUB socket for its feed, registers itself as a node
 * with the capability "temperature" and the feed as a public topic, both under
 * one lease, publishes readings and heartbeats. Killed, it stops heartbeating
 * and both disappear from the registry when the lease runs out.
 * Usage: sssn_service DISCOVERY_ENDPOINT FEED_ADDRESS [TTL_MS] */
#include "discod.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop = 0;

static void s_on_signal(int signo)
{
    (void)signo;
    s_stop = 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: sssn_service DISCOVERY_ENDPOINT FEED_ADDRESS [TTL_MS]\n");
        return 2;
    }
    uint64_t ttl = argc > 3 ? strtoull(argv[3], NULL, 10) : 3000;
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    if (zmq_bind(pub, argv[2]) != 0) {
        fprintf(stderr, "sssn_service: cannot bind %s\n", argv[2]);
        return 1;
    }
    discod_client_t *c = discod_client_new(argv[1]);
    char *caps[] = {"temperature"};
    discod_kv_t node_meta[] = {{"kind", "sensor"}};
    discod_node_t node = {"temp-svc", "Temperature Service", caps, 1, node_meta, 1, 0, NULL, 0};
    discod_register_opts_t node_opts = {0, ttl, NULL, 0};
    uint64_t lease = 0;
    discod_result_t r = discod_register_node(c, &node, &node_opts, &lease);
    if (r != DISCOD_OK) {
        fprintf(stderr, "sssn_service: register node: %s\n", discod_strerror(r));
        return 1;
    }
    discod_topic_t feed = {"temperature-feed", argv[2], "sssn.Reading", 0x7e3, "temp-svc"};
    discod_kv_t feed_meta[] = {{"visibility", "public"},
                               {"description", "Live temperature readings from all sensors"}};
    discod_register_opts_t feed_opts = {lease, 0, feed_meta, 2};
    if ((r = discod_register_ex(c, &feed, &feed_opts, NULL)) != DISCOD_OK) {
        fprintf(stderr, "sssn_service: register feed: %s\n", discod_strerror(r));
        return 1;
    }
    printf("sssn_service: registered with discovery (lease %llu)\n", (unsigned long long)lease);
    fflush(stdout);
    uint64_t period_ms = ttl / 3, since_heartbeat = 0;
    while (!s_stop) {
        char reading[64];
        int n = snprintf(reading, sizeof reading, "{\"celsius\": 22.4, \"ts\": %ld}",
                         (long)time(NULL));
        zmq_send(pub, reading, (size_t)n, 0);
        usleep(50 * 1000);
        since_heartbeat += 50;
        if (since_heartbeat >= period_ms) {
            since_heartbeat = 0;
            discod_heartbeat(c, lease, NULL);
        }
    }
    discod_revoke_lease(c, lease);
    discod_client_destroy(&c);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return 0;
}
