/* discod_curve.c: CURVE for the client library: czmq certificate files (read
 * and written in czmq's text format, without czmq), keys on tcp sockets, and
 * telling a refused handshake from a daemon that does not answer. */
#include "discod_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* Reads `public-key = "..."` and `secret-key = "..."` from a certificate. */
static int s_read_cert(const char *path, char public_key[41], char secret_key[41])
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    public_key[0] = 0;
    if (secret_key)
        secret_key[0] = 0;
    while (fgets(line, sizeof line, f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        char *target = !strncmp(p, "public-key", 10)                 ? public_key
                       : secret_key && !strncmp(p, "secret-key", 10) ? secret_key
                                                                     : NULL;
        char *open = target ? strchr(p, '"') : NULL;
        char *close = open ? strchr(open + 1, '"') : NULL;
        if (close && close - open - 1 == 40) {
            memcpy(target, open + 1, 40);
            target[40] = 0;
        }
    }
    fclose(f);
    return public_key[0] && (!secret_key || secret_key[0]) ? 0 : -1;
}

int discod__curve_load(const char *server_cert, const char *client_cert, discod__curve_t *out)
{
    memset(out, 0, sizeof *out);
    if (!server_cert && !client_cert)
        return 0;
    if (!server_cert || !client_cert)
        return -1; /* both or neither */
    char secret_path[4096];
    snprintf(secret_path, sizeof secret_path, "%s_secret", client_cert);
    if (s_read_cert(server_cert, out->server_public, NULL) != 0 ||
        s_read_cert(secret_path, out->client_public, out->client_secret) != 0)
        return -1;
    out->on = true;
    return 0;
}

void discod__curve_apply(const discod__curve_t *curve, void *sock, const char *endpoint)
{
    if (!curve->on || strncmp(endpoint, "tcp://", 6) != 0)
        return;
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, curve->server_public, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, curve->client_public, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, curve->client_secret, 40);
}

void *discod__curve_monitor(void *zmq_ctx, void *sock)
{
    static atomic_int next; /* clients of one process share a context: unique names */
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://discod-client-monitor-%p-%d", sock,
             atomic_fetch_add(&next, 1));
    if (zmq_socket_monitor(sock, endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) !=
        0)
        return NULL;
    void *pair = zmq_socket(zmq_ctx, ZMQ_PAIR);
    if (pair && zmq_connect(pair, endpoint) != 0) {
        zmq_close(pair);
        pair = NULL;
    }
    return pair;
}

bool discod__curve_refused(void *monitor)
{
    bool refused = false;
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    while (zmq_msg_recv(&frame, monitor, ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_size(&frame) == 6) {
            uint16_t id;
            memcpy(&id, zmq_msg_data(&frame), sizeof id);
            refused =
                refused ||
                (id & (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL));
        }
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
    }
    zmq_msg_close(&frame);
    return refused;
}

/* One certificate file in czmq's format. */
static int s_write_cert(const char *path, const char *role, const char *public_key,
                        const char *secret_key, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime(&now));
    fprintf(f,
            "#   ****  Generated on %s by discoctl keygen  ****\n"
            "#   ZeroMQ CURVE %s Certificate\n"
            "#   %s\n\n"
            "metadata\n",
            when, secret_key ? "**Secret**" : "Public",
            secret_key ? "DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
                       : "Exchange securely, or check its contents after exchange.");
    if (role)
        fprintf(f, "    role = \"%s\"\n", role);
    fprintf(f, "curve\n    public-key = \"%s\"\n", public_key);
    if (secret_key)
        fprintf(f, "    secret-key = \"%s\"\n", secret_key);
    return fclose(f) == 0 ? 0 : -1;
}

int discod_keygen(const char *path, const char *role)
{
    if (!path || !*path ||
        (role && strcmp(role, "read") && strcmp(role, "write") && strcmp(role, "admin"))) {
        errno = EINVAL;
        return -1;
    }
    char public_key[41], secret_key[41];
    if (zmq_curve_keypair(public_key, secret_key) != 0)
        return -1;
    char secret_path[4096];
    snprintf(secret_path, sizeof secret_path, "%s_secret", path);
    if (s_write_cert(secret_path, role, public_key, secret_key, 0600) != 0)
        return -1;
    if (s_write_cert(path, role, public_key, NULL, 0644) != 0) {
        unlink(secret_path);
        return -1;
    }
    return 0;
}
