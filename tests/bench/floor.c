/* floor.c: the benchmark floor: a bare ROUTER that answers every request with
 * a canned PING reply and does no other work. discod-bench reports discod as a
 * ratio to it, so the numbers say what discod itself costs on this machine.
 * Usage: discod-floor ENDPOINT */
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
        fprintf(stderr, "usage: discod-floor ENDPOINT\n");
        return 2;
    }
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    if (zmq_bind(router, argv[1]) != 0) {
        fprintf(stderr, "discod-floor: cannot bind %s\n", argv[1]);
        return 1;
    }
    /* {"status": 0, "message": "pong"} */
    static const unsigned char reply[] = {0x82, 0xa6, 's', 't', 'a', 't', 'u', 's', 0x00, 0xa7,
                                          'm', 'e', 's', 's', 'a', 'g', 'e', 0xa4, 'p', 'o', 'n',
                                          'g'};
    int timeout = 200;
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    while (!s_stop) {
        zmq_msg_t frames[8];
        int count = 0, more = 1;
        while (more && count < 8) {
            zmq_msg_init(&frames[count]);
            if (zmq_msg_recv(&frames[count], router, 0) < 0) {
                zmq_msg_close(&frames[count]);
                break;
            }
            more = zmq_msg_more(&frames[count]);
            count++;
        }
        if (count < 2) {
            for (int i = 0; i < count; i++)
                zmq_msg_close(&frames[i]);
            continue;
        }
        /* Echo the envelope (all but the body), then the canned reply. */
        for (int i = 0; i < count - 1; i++)
            zmq_msg_send(&frames[i], router, ZMQ_SNDMORE);
        zmq_msg_close(&frames[count - 1]);
        zmq_send(router, reply, sizeof reply, 0);
    }
    zmq_close(router);
    zmq_ctx_term(ctx);
    return 0;
}
