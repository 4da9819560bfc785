/* sssn_consumer.c: the SSSN example's data consumer, on discod: it finds the
 * public feeds and the nodes with the capability "temperature", connects to
 * the feed's endpoint and prints a few readings. Exit 1 when nothing is found.
 * Usage: sssn_consumer DISCOVERY_ENDPOINT [READINGS] */
#include "discod.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sssn_consumer DISCOVERY_ENDPOINT [READINGS]\n");
        return 2;
    }
    int wanted = argc > 2 ? atoi(argv[2]) : 3;
    discod_client_t *c = discod_client_new(argv[1]);
    discod_kv_t public_only[] = {{"visibility", "public"}};
    discod_filter_t filter = {NULL, NULL, NULL, public_only, 1};
    discod_topic_t *feeds = NULL;
    size_t feed_count = 0;
    discod_node_t *nodes = NULL;
    size_t node_count = 0;
    if (discod_list(c, &filter, &feeds, &feed_count) != DISCOD_OK ||
        discod_find_nodes(c, "temperature", &nodes, &node_count) != DISCOD_OK) {
        fprintf(stderr, "sssn_consumer: discovery unreachable\n");
        return 3;
    }
    printf("sssn_consumer: %zu public feed(s), %zu temperature node(s)\n", feed_count,
           node_count);
    for (size_t i = 0; i < node_count; i++)
        printf("sssn_consumer: node %s (%s)\n", nodes[i].name, nodes[i].description);
    const discod_topic_t *feed = NULL;
    for (size_t i = 0; i < feed_count; i++)
        if (strstr(feeds[i].name, "temperature"))
            feed = &feeds[i];
    int received = 0;
    if (feed && node_count > 0) {
        printf("sssn_consumer: connected to '%s' at %s\n", feed->name, feed->address);
        void *ctx = zmq_ctx_new();
        void *sub = zmq_socket(ctx, ZMQ_SUB);
        int timeout = 5000;
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
        zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        zmq_connect(sub, feed->address);
        while (received < wanted) {
            char buffer[128];
            int n = zmq_recv(sub, buffer, sizeof buffer - 1, 0);
            if (n < 0)
                break;
            buffer[n < (int)sizeof buffer - 1 ? n : (int)sizeof buffer - 1] = 0;
            printf("sssn_consumer: reading %s\n", buffer);
            received++;
        }
        zmq_close(sub);
        zmq_ctx_term(ctx);
    } else
        printf("sssn_consumer: no temperature feed found\n");
    discod_topic_list_free(feeds, feed_count);
    discod_node_list_free(nodes, node_count);
    discod_client_destroy(&c);
    return received == wanted && wanted > 0 ? 0 : 1;
}
