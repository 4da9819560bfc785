/* dc_datagram.c: the datagram channel (see the .h). */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "dc_datagram.h"
#include "dc_ipc.h"
#include "dc_log.h"
#include "dc_protocol.h"
#include "dc_reply.h"
#include "dc_request.h"
#include "dc_quick_reply.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Datagrams taken per wake-up. */
#define DC_DGRAM_BATCH 32
/* A PING or HEARTBEAT body is under 100 bytes; anything past this is
 * answered ERROR (the datagram arrives truncated). */
#define DC_DGRAM_MAX_REQUEST 1024

/* One channel: a socket, its thread and that thread's batch buffers. */
typedef struct {
    dc_context_t *ctx;
    int fd;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    unsigned char requests[DC_DGRAM_BATCH][DC_DGRAM_MAX_REQUEST];
    struct sockaddr_un senders[DC_DGRAM_BATCH];
    struct mmsghdr in[DC_DGRAM_BATCH], out[DC_DGRAM_BATCH];
    struct iovec in_iov[DC_DGRAM_BATCH], out_iov[DC_DGRAM_BATCH];
    msgpack_sbuffer replies[DC_DGRAM_BATCH];
} channel_t;

struct dc_datagram {
    channel_t *channels[DC_MAX_ENDPOINTS];
    int count;
};

int dc_datagram_path(const char *ipc_path, char *out, size_t size)
{
    size_t limit = size < sizeof(((struct sockaddr_un *)0)->sun_path)
                       ? size
                       : sizeof(((struct sockaddr_un *)0)->sun_path);
    int n = snprintf(out, limit, "%s.hb", ipc_path);
    return n < 0 || (size_t)n >= limit ? -1 : 0;
}

void dc_datagram_answer(dc_context_t *ctx, const unsigned char *data, size_t size, bool truncated,
                        msgpack_sbuffer *out)
{
    DC_STAT_INC(ctx, requests);
    DC_STAT_INC(ctx, datagrams);
    char err[DC_ERR_LEN];
    const char *problem = NULL;
    dc_request_t req;
    bool decoded = false;
    if (truncated)
        problem = "Request too large for the datagram channel (1024 bytes at most)";
    else if (dc_request_decode(&req, data, size, err) != 0)
        problem = err;
    else {
        decoded = true;
        if (req.command != DC_CMD_PING && req.command != DC_CMD_HEARTBEAT)
            problem = "Only PING and HEARTBEAT travel on the datagram channel";
        else if (req.command == DC_CMD_HEARTBEAT && !(req.present & DC_REQ_LEASE_ID))
            problem = "Missing lease_id in heartbeat request";
        else {
            /* The channel speaks protocol 2, whatever the request said. */
            req.version = 2;
            if (dc_quick_reply(ctx, &req, out, NULL) != 0)
                problem = "Out of memory";
        }
    }
    if (decoded)
        dc_request_release(&req);
    if (problem) {
        DC_STAT_INC(ctx, errors);
        dc_debug("datagram ERROR reply: %s", problem);
        msgpack_sbuffer_clear(out);
        dc_reply_t r;
        memset(&r, 0, sizeof r);
        r.status = DC_STATUS_ERROR;
        r.message = problem;
        r.version = 2;
        dc_context_stamp(ctx, &r);
        dc_reply_encode(&r, out);
    }
}

/* Answers one batch: those whose sender has an address get a reply (an
 * unnamed sender's heartbeat still counts). */
static void s_serve(channel_t *self, int n)
{
    int replies = 0;
    for (int i = 0; i < n; i++) {
        struct msghdr *h = &self->in[i].msg_hdr;
        msgpack_sbuffer *reply = &self->replies[replies];
        msgpack_sbuffer_clear(reply);
        dc_datagram_answer(self->ctx, self->requests[i], self->in[i].msg_len,
                           (h->msg_flags & MSG_TRUNC) != 0, reply);
        if (h->msg_namelen <= sizeof(sa_family_t))
            continue; /* nowhere to send the reply */
        self->out_iov[replies] = (struct iovec){reply->data, reply->size};
        memset(&self->out[replies], 0, sizeof self->out[replies]);
        self->out[replies].msg_hdr.msg_iov = &self->out_iov[replies];
        self->out[replies].msg_hdr.msg_iovlen = 1;
        self->out[replies].msg_hdr.msg_name = h->msg_name;
        self->out[replies].msg_hdr.msg_namelen = h->msg_namelen;
        replies++;
    }
    /* sendmmsg stops at the first failure (a sender gone, a full buffer):
     * skip that one and send the rest. */
    for (int sent = 0; sent < replies;) {
        int rc = sendmmsg(self->fd, self->out + sent, (unsigned)(replies - sent), MSG_DONTWAIT);
        if (rc < 0 && errno == EINTR)
            continue;
        sent += rc > 0 ? rc : 1;
    }
}

/* The thread: one blocking recvmmsg per wake-up takes every datagram that is
 * waiting (MSG_WAITFORONE); shutdown() of the socket ends it. */
static void *s_run(void *arg)
{
    channel_t *self = arg;
    while (!atomic_load(&self->stopping)) {
        for (int i = 0; i < DC_DGRAM_BATCH; i++) {
            self->in_iov[i] = (struct iovec){self->requests[i], DC_DGRAM_MAX_REQUEST};
            memset(&self->in[i], 0, sizeof self->in[i]);
            self->in[i].msg_hdr.msg_iov = &self->in_iov[i];
            self->in[i].msg_hdr.msg_iovlen = 1;
            self->in[i].msg_hdr.msg_name = &self->senders[i];
            self->in[i].msg_hdr.msg_namelen = sizeof self->senders[i];
        }
        int n = recvmmsg(self->fd, self->in, DC_DGRAM_BATCH, MSG_WAITFORONE, NULL);
        if (n > 0)
            s_serve(self, n);
        else if (n < 0 && errno != EINTR && errno != EAGAIN && !atomic_load(&self->stopping)) {
            /* Out of memory or buffers, say: the channel pauses, it does
             * not end (clients use the ROUTER meanwhile). */
            dc_error("datagram channel %s: %s", self->path, strerror(errno));
            usleep(100 * 1000);
        }
    }
    return NULL;
}

static int s_bind(channel_t *channel, const char *ipc_path, const dc_config_t *config)
{
    channel->fd = -1;
    if (dc_datagram_path(ipc_path, channel->path, sizeof channel->path) != 0) {
        dc_error("datagram channel: %s.hb is too long for a unix socket path", ipc_path);
        channel->path[0] = 0;
        return -1;
    }
    channel->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (channel->fd < 0) {
        dc_error("datagram channel: socket: %s", strerror(errno));
        return -1;
    }
    /* We hold the ipc endpoint beside it: a file here is a dead daemon's. */
    unlink(channel->path);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, channel->path, strlen(channel->path) + 1);
    if (bind(channel->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        dc_error("datagram channel: cannot bind %s: %s", channel->path, strerror(errno));
        channel->path[0] = 0;
        return -1;
    }
    return dc_ipc_secure(channel->path, config->ipc_mode, config->ipc_group,
                         config->ipc_group_explicit);
}

static void s_channel_destroy(channel_t **self_p)
{
    channel_t *self = *self_p;
    if (!self)
        return;
    if (self->started) {
        atomic_store(&self->stopping, true);
        shutdown(self->fd, SHUT_RDWR); /* wakes the blocked recvmmsg */
        pthread_join(self->thread, NULL);
    }
    if (self->fd >= 0)
        close(self->fd);
    if (self->path[0])
        unlink(self->path);
    for (int i = 0; i < DC_DGRAM_BATCH; i++)
        msgpack_sbuffer_destroy(&self->replies[i]);
    free(self);
    *self_p = NULL;
}

static channel_t *s_channel_new(dc_context_t *ctx, const char *ipc_path)
{
    channel_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    for (int i = 0; i < DC_DGRAM_BATCH; i++)
        msgpack_sbuffer_init(&self->replies[i]);
    if (s_bind(self, ipc_path, ctx->config) != 0) {
        s_channel_destroy(&self);
        return NULL;
    }
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        dc_error("datagram channel: cannot start its thread");
        s_channel_destroy(&self);
        return NULL;
    }
    self->started = true;
    dc_debug("datagram channel on %s", self->path);
    return self;
}

dc_datagram_t *dc_datagram_new(dc_context_t *ctx, const char *const *ipc_paths, int count)
{
    dc_datagram_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    for (int i = 0; i < count && i < DC_MAX_ENDPOINTS; i++) {
        if (!(self->channels[self->count] = s_channel_new(ctx, ipc_paths[i]))) {
            dc_datagram_destroy(&self);
            return NULL;
        }
        self->count++;
    }
    return self;
}

void dc_datagram_destroy(dc_datagram_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_datagram_t *self = *self_p;
    for (int i = 0; i < self->count; i++)
        s_channel_destroy(&self->channels[i]);
    free(self);
    *self_p = NULL;
}
