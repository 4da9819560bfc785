/* subscriber.c: waits for a topic to be registered (a held wait on discod,
 * polling on an older daemon), connects straight to the publisher and
 * receives a few messages.
 * Usage: subscriber DISCOVERY_ENDPOINT TOPIC [MESSAGES] [TIMEOUT_MS] */
#include "discod.h"

#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: subscriber DISCOVERY_ENDPOINT TOPIC [MESSAGES] [TIMEOUT_MS]\n");
        return 2;
    }
    int wanted = argc > 3 ? atoi(argv[3]) : 5;
    int timeout_ms = argc > 4 ? atoi(argv[4]) : 10000;
    discod_client_t *discovery = discod_client_new(argv[1]);
    discod_topic_t topic = {0};
    discod_result_t r = discod_wait_for_topic(discovery, argv[2], timeout_ms, &topic);
    discod_client_destroy(&discovery);
    if (r != DISCOD_OK) {
        fprintf(stderr, "subscriber: %s: %s\n", argv[2], discod_strerror(r));
        return 1;
    }
    printf("subscriber: %s is at %s (node %s)\n", topic.name, topic.address,
           topic.publisher_node);
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_connect(sub, topic.address);
    discod_topic_clear(&topic);
    int received = 0;
    while (received < wanted) {
        char buffer[128];
        int n = zmq_recv(sub, buffer, sizeof buffer - 1, 0);
        if (n < 0)
            break;
        buffer[n < (int)sizeof buffer - 1 ? n : (int)sizeof buffer - 1] = 0;
        printf("subscriber: %s\n", buffer);
        received++;
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return received == wanted ? 0 : 1;
}
