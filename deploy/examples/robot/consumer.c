/* consumer.c: the example robot's C consumer: waits for /camera/image,
 * subscribes, and when frames stop for a second looks the topic up again and
 * follows a publisher that came back somewhere else.
 * Usage: consumer DISCOVERY_ENDPOINT */
#include "discod.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop = 0;

static void s_on_signal(int signo)
{
    (void)signo;
    s_stop = 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: consumer DISCOVERY_ENDPOINT\n");
        return 2;
    }
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    discod_client_t *discovery = discod_client_new(argv[1]);
    void *ctx = zmq_ctx_new();
    void *sub = NULL;
    char connected[512] = "";
    while (!s_stop) {
        if (!sub) {
            discod_topic_t t = {0};
            if (discod_wait_for_topic(discovery, "/camera/image", 1000, &t) != DISCOD_OK)
                continue;
            sub = zmq_socket(ctx, ZMQ_SUB);
            int timeout = 1000, linger = 0;
            zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
            zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
            zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
            zmq_connect(sub, t.address);
            snprintf(connected, sizeof connected, "%s", t.address);
            printf("consumer: connected to %s\n", connected);
            fflush(stdout);
            discod_topic_clear(&t);
        }
        char frame[128];
        int n = zmq_recv(sub, frame, sizeof frame - 1, 0);
        if (n >= 0) {
            frame[n < (int)sizeof frame - 1 ? n : (int)sizeof frame - 1] = 0;
            printf("consumer: %s\n", frame);
            fflush(stdout);
            continue;
        }
        /* Silence: is the publisher somewhere else now? */
        discod_topic_t t = {0};
        if (discod_lookup(discovery, "/camera/image", &t) != DISCOD_OK ||
            strcmp(t.address, connected) != 0) {
            zmq_close(sub);
            sub = NULL;
        }
        discod_topic_clear(&t);
    }
    if (sub)
        zmq_close(sub);
    zmq_ctx_term(ctx);
    discod_client_destroy(&discovery);
    return 0;
}
