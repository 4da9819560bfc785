/* discod_datagram.c: the client side of the datagram channel (see the .h). */
#include "discod_datagram.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct discod__datagram {
    int fd;
    char *endpoint;
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

discod__datagram_t *discod__datagram_open(const char *endpoint)
{
    if (!endpoint || strncmp(endpoint, "ipc://", 6) != 0)
        return NULL;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s.hb", endpoint + 6);
    if (n < 0 || (size_t)n >= sizeof addr.sun_path)
        return NULL;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return NULL;
    /* Autobind: a unique abstract address, so the daemon can answer us. */
    struct sockaddr_un self_addr = {.sun_family = AF_UNIX};
    if (bind(fd, (struct sockaddr *)&self_addr, sizeof(sa_family_t)) != 0 ||
        connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return NULL;
    }
    discod__datagram_t *d = calloc(1, sizeof *d);
    if (!d || !(d->endpoint = strdup(endpoint))) {
        free(d);
        close(fd);
        return NULL;
    }
    d->fd = fd;
    return d;
}

const char *discod__datagram_endpoint(const discod__datagram_t *d)
{
    return d->endpoint;
}

/* Waits for events on the socket until deadline. 1 ready, 0 timed out, -1 error. */
static int s_wait(int fd, short events, int64_t deadline)
{
    while (true) {
        int64_t left = deadline - s_now_ms();
        struct pollfd p = {fd, events, 0};
        int rc = poll(&p, 1, left > 0 ? (int)left : 0);
        if (rc > 0)
            return (p.revents & events) ? 1 : -1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

ssize_t discod__datagram_exchange(discod__datagram_t *d, const void *body, size_t size, void *reply,
                                  size_t max, int timeout_ms)
{
    int64_t deadline = s_now_ms() + timeout_ms;
    /* A full daemon queue makes send wait (within the deadline), not fail. */
    while (send(d->fd, body, size, 0) < 0) {
        if ((errno != EAGAIN && errno != EINTR) || s_wait(d->fd, POLLOUT, deadline) != 1)
            return -1;
    }
    while (true) {
        if (s_wait(d->fd, POLLIN, deadline) != 1)
            return -1;
        ssize_t got = recv(d->fd, reply, max, MSG_TRUNC);
        if (got >= 0)
            return (size_t)got > max ? -1 : got;
        if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
}

void discod__datagram_close(discod__datagram_t **d_p)
{
    if (!d_p || !*d_p)
        return;
    close((*d_p)->fd);
    free((*d_p)->endpoint);
    free(*d_p);
    *d_p = NULL;
}
