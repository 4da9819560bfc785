/* camera_pub.c: the example robot's camera: binds a PUB socket at a path
 * unique to this process, registers /camera/image under a lease that a
 * session keeps alive, and publishes frames. Killed with -9, its lease runs
 * out; restarted, it registers again (same node: it replaces the old entry at
 * once) and consumers find the new endpoint by themselves.
 * Usage: camera_pub DISCOVERY_ENDPOINT SOCKET_DIR */
#include "discod.h"

#include <signal.h>
#include <stdio.h>
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
        fprintf(stderr, "usage: camera_pub DISCOVERY_ENDPOINT SOCKET_DIR\n");
        return 2;
    }
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    char address[512];
    snprintf(address, sizeof address, "ipc://%s/camera-%d.sock", argv[2], (int)getpid());
    void *ctx = zmq_ctx_new();
    void *pub = zmq_socket(ctx, ZMQ_PUB);
    if (zmq_bind(pub, address) != 0) {
        fprintf(stderr, "camera_pub: cannot bind %s\n", address);
        return 1;
    }
    const char *endpoint = argv[1];
    discod_session_t *session = discod_session_new(&endpoint, 1, NULL, 2000);
    discod_topic_t topic = {"/camera/image", address, "sensor_msgs.Image", 0xca3e7a, "camera"};
    discod_result_t r;
    while ((r = discod_session_register(session, &topic)) != DISCOD_OK && !s_stop) {
        fprintf(stderr, "camera_pub: register: %s; retrying\n", discod_strerror(r));
        sleep(1);
    }
    printf("camera_pub: publishing /camera/image at %s\n", address);
    fflush(stdout);
    for (unsigned long frame = 0; !s_stop; frame++) {
        char text[64];
        int n = snprintf(text, sizeof text, "frame %lu from %d", frame, (int)getpid());
        zmq_send(pub, text, (size_t)n, 0);
        usleep(50 * 1000);
    }
    discod_session_destroy(&session);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    return 0;
}
