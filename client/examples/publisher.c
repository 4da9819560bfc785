/* publisher.c: a C publisher in the Cortex style: bind a PUB socket for the
 * topic, register it with discod, publish, unregister on the way out.
 * Usage: publisher DISCOVERY_ENDPOINT TOPIC PUB_ADDRESS [COUNT] */
#include "discod.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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
    if (argc < 4) {
        fprintf(stderr, "usage: publisher DISCOVERY_ENDPOINT TOPIC PUB_ADDRESS [COUNT]\n");
        return 2;
    }
    int count = argc > 4 ? atoi(argv[4]) : 100;
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);

    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    if (zmq_bind(pub, argv[3]) != 0) {
        fprintf(stderr, "publisher: cannot bind %s: %s\n", argv[3], zmq_strerror(zmq_errno()));
        return 1;
    }
    discod_client_t *discovery = discod_client_new(argv[1]);
    discod_topic_t topic = {argv[2], argv[3], "example.Text", 0x1234, "example-publisher"};
    discod_result_t r = discod_register(discovery, &topic);
    if (r != DISCOD_OK) {
        fprintf(stderr, "publisher: register: %s (%s)\n", discod_strerror(r),
                discod_client_last_message(discovery));
        return 1;
    }
    printf("publisher: registered %s at %s\n", argv[2], argv[3]);
    fflush(stdout);
    for (int i = 0; i < count && !s_stop; i++) {
        char text[64];
        int n = snprintf(text, sizeof text, "hello %d", i);
        zmq_send(pub, text, (size_t)n, 0);
        usleep(50 * 1000);
    }
    discod_unregister(discovery, argv[2]);
    discod_client_destroy(&discovery);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return 0;
}
