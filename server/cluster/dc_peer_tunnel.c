/* dc_peer_tunnel.c: Raft's peer links over ZeroMQ CURVE (see the .h). */
#define _GNU_SOURCE
#include "dc_peer_tunnel.h"
#include "dc_listen.h"
#include "dc_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DC_TUNNEL_MAX_PEERS DC_MAX_MEMBERS
#define DC_TUNNEL_MAX_STREAMS 256
#define DC_TUNNEL_CHUNK 65536
/* Messages (each at most DC_TUNNEL_CHUNK bytes) a DEALER or the ROUTER may
 * queue for one connected peer that does not read: past this the stream is
 * closed and Raft connects again, so a stalled member costs at most 64 MiB
 * here. A member that is not connected at all gets nothing queued: the
 * DEALERs send only on completed connections (ZMQ_IMMEDIATE). */
#define DC_TUNNEL_HWM 1000

typedef struct {
    uint64_t id;
    char address[208];
    int listen_fd; /* loopback listener Raft connects to for this member */
    int port;
    zsock_t *dealer; /* to the member's ROUTER; made by the thread */
    bool bad_address; /* zmq_connect refused the address (logged once) */
} peer_t;

typedef struct {
    int fd;
    uint32_t id;
    int peer;              /* >= 0: Raft called out to peers[peer]; -1: a member called in */
    uint8_t identity[256]; /* called in: the ROUTER identity of the member */
    size_t identity_size;
    int local_port; /* called in: our source port towards Raft */
} stream_t;

struct dc_peer_tunnel {
    dc_zap_t *zap;
    const dc_config_t *config;
    char raft_address[64];
    int raft_port;
    zsock_t *router;
    zactor_t *actor;
    pthread_mutex_t lock; /* peers (count, listeners) and owned ports */
    peer_t peers[DC_TUNNEL_MAX_PEERS];
    int peer_count;
    int owned[DC_TUNNEL_MAX_STREAMS];
    int owned_count;
    /* The thread's own. */
    stream_t streams[DC_TUNNEL_MAX_STREAMS];
    int stream_count;
    uint32_t next_stream;
};

/*==== Loopback sockets ====*/

static int s_listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* A free loopback port, for Raft to listen on. */
static int s_free_port(void)
{
    int port = 0, fd = s_listen_loopback(&port);
    if (fd < 0)
        return -1;
    close(fd);
    return port;
}

static void s_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Writes all of data to fd (blocking: Raft's loop reads it). */
static int s_write_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

/*==== Streams ====*/

static void s_forget_owned(dc_peer_tunnel_t *self, int port)
{
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->owned_count; i++)
        if (self->owned[i] == port) {
            self->owned[i] = self->owned[--self->owned_count];
            break;
        }
    pthread_mutex_unlock(&self->lock);
}

static void s_drop(dc_peer_tunnel_t *self, int i)
{
    stream_t *s = &self->streams[i];
    dc_debug("peer tunnel: stream %u (%s) closed", s->id, s->peer >= 0 ? "out" : "in");
    close(s->fd);
    if (s->peer < 0)
        s_forget_owned(self, s->local_port);
    self->streams[i] = self->streams[--self->stream_count];
}

static int s_find_out(dc_peer_tunnel_t *self, int peer, uint32_t id)
{
    for (int i = 0; i < self->stream_count; i++)
        if (self->streams[i].peer == peer && self->streams[i].id == id)
            return i;
    return -1;
}

static int s_find_in(dc_peer_tunnel_t *self, zframe_t *identity, uint32_t id)
{
    for (int i = 0; i < self->stream_count; i++) {
        stream_t *s = &self->streams[i];
        if (s->peer < 0 && s->id == id && s->identity_size == zframe_size(identity) &&
            !memcmp(s->identity, zframe_data(identity), s->identity_size))
            return i;
    }
    return -1;
}

/* Sends [identity][id][kind][data] (identity NULL: on a DEALER). */
static int s_send(zsock_t *sock, zframe_t *identity, uint32_t id, char kind, const void *data,
                  size_t size)
{
    void *handle = zsock_resolve(sock);
    if (identity && zmq_send(handle, zframe_data(identity), zframe_size(identity),
                             ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    if (zmq_send(handle, &id, sizeof id, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    if (zmq_send(handle, &kind, 1, (data ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
        return -1;
    return data && zmq_send(handle, data, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* The DEALER towards peer p, made and connected the first time it is asked
 * for (NULL when the address is not one ZeroMQ can connect to). */
static zsock_t *s_dealer(dc_peer_tunnel_t *self, int p)
{
    peer_t *peer = &self->peers[p];
    if (peer->dealer || peer->bad_address)
        return peer->dealer;
    peer->dealer = zsock_new(ZMQ_DEALER);
    if (!peer->dealer)
        return NULL;
    zsock_set_linger(peer->dealer, 0);
    /* Nothing queued for a member that is away: a stream towards it fails
     * at once (Raft retries), instead of piling up its probes (measured: a
     * leader under write load grew by 200 MB in 20 s with one member dead). */
    zsock_set_immediate(peer->dealer, 1);
    zsock_set_sndhwm(peer->dealer, DC_TUNNEL_HWM);
    zsock_set_rcvhwm(peer->dealer, DC_TUNNEL_HWM);
    dc_zap_connect_member(self->zap, peer->dealer);
    if (zsock_connect(peer->dealer, "tcp://%s", peer->address) != 0) {
        dc_warn("peer tunnel: cannot connect to member %llu at %s", (unsigned long long)peer->id,
                peer->address);
        zsock_destroy(&peer->dealer);
        peer->bad_address = true;
    }
    return peer->dealer;
}

/* Raft called out to peer p: a new stream over its DEALER. */
static void s_accept_out(dc_peer_tunnel_t *self, int p)
{
    int fd = accept4(self->peers[p].listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    zsock_t *dealer = s_dealer(self, p);
    uint32_t id = ++self->next_stream;
    if (!dealer || self->stream_count == DC_TUNNEL_MAX_STREAMS ||
        s_send(dealer, NULL, id, 'O', NULL, 0) != 0) {
        close(fd);
        return;
    }
    s_nodelay(fd);
    self->streams[self->stream_count++] = (stream_t){.fd = fd, .id = id, .peer = p};
    dc_debug("peer tunnel: stream %u to member %llu opened", id,
             (unsigned long long)self->peers[p].id);
}

/* A member called in: a stream to our Raft. */
static void s_open_in(dc_peer_tunnel_t *self, zframe_t *identity, uint32_t id)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)self->raft_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    if (fd < 0 || self->stream_count == DC_TUNNEL_MAX_STREAMS ||
        zframe_size(identity) > sizeof self->streams[0].identity ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&local, &len) != 0) {
        if (fd >= 0)
            close(fd);
        s_send(self->router, identity, id, 'C', NULL, 0);
        return;
    }
    s_nodelay(fd);
    stream_t *s = &self->streams[self->stream_count++];
    *s = (stream_t){.fd = fd, .id = id, .peer = -1, .local_port = ntohs(local.sin_port)};
    memcpy(s->identity, zframe_data(identity), zframe_size(identity));
    s->identity_size = zframe_size(identity);
    pthread_mutex_lock(&self->lock);
    if (self->owned_count < DC_TUNNEL_MAX_STREAMS)
        self->owned[self->owned_count++] = s->local_port;
    pthread_mutex_unlock(&self->lock);
    dc_debug("peer tunnel: stream %u from a member opened to Raft (port %d)", id, s->local_port);
}

/* [id][kind][data?] from a DEALER (peer p) or, after an identity, the ROUTER. */
static void s_from_zmq(dc_peer_tunnel_t *self, zsock_t *sock, int p)
{
    zmsg_t *msg = zmsg_recv(sock);
    if (!msg)
        return;
    zframe_t *identity = p < 0 ? zmsg_pop(msg) : NULL;
    zframe_t *id_frame = zmsg_pop(msg), *kind = zmsg_pop(msg), *data = zmsg_pop(msg);
    if (id_frame && zframe_size(id_frame) == sizeof(uint32_t) && kind && zframe_size(kind) == 1 &&
        (p >= 0 || identity)) {
        uint32_t id;
        memcpy(&id, zframe_data(id_frame), sizeof id);
        char k = (char)*zframe_data(kind);
        int i = p >= 0 ? s_find_out(self, p, id) : s_find_in(self, identity, id);
        if (k == 'O' && p < 0 && i < 0)
            s_open_in(self, identity, id);
        else if (k == 'D' && i >= 0 && data) {
            if (s_write_all(self->streams[i].fd, zframe_data(data), zframe_size(data)) != 0) {
                dc_debug("peer tunnel: write to stream %u failed: %s", id, strerror(errno));
                s_send(sock, identity, id, 'C', NULL, 0);
                s_drop(self, i);
            }
        } else if (k == 'C' && i >= 0) {
            s_drop(self, i);
        } else if (k == 'D' && i < 0)
            s_send(sock, identity, id, 'C', NULL, 0); /* a stream we no longer have */
    }
    zframe_destroy(&identity);
    zframe_destroy(&id_frame);
    zframe_destroy(&kind);
    zframe_destroy(&data);
    zmsg_destroy(&msg);
}

/* Raft wrote on stream i: pass the bytes on; end of stream closes it. */
static void s_from_raft(dc_peer_tunnel_t *self, int i, uint8_t *buffer)
{
    stream_t *s = &self->streams[i];
    ssize_t n = read(s->fd, buffer, DC_TUNNEL_CHUNK);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    zsock_t *sock = s->peer >= 0 ? self->peers[s->peer].dealer : self->router;
    zframe_t *identity = s->peer < 0 ? zframe_new(s->identity, s->identity_size) : NULL;
    bool sent = n > 0 && sock && s_send(sock, identity, s->id, 'D', buffer, (size_t)n) == 0;
    if (!sent) {
        if (sock)
            s_send(sock, identity, s->id, 'C', NULL, 0);
        s_drop(self, i);
    }
    zframe_destroy(&identity);
}

static void s_actor(zsock_t *pipe, void *arg)
{
    dc_peer_tunnel_t *self = arg;
    zsock_signal(pipe, 0);
    uint8_t *buffer = malloc(DC_TUNNEL_CHUNK);
    enum { MAX_ITEMS = 2 + 2 * DC_TUNNEL_MAX_PEERS + DC_TUNNEL_MAX_STREAMS };
    zmq_pollitem_t items[MAX_ITEMS];
    int kind[MAX_ITEMS], index[MAX_ITEMS]; /* 0 pipe, 1 router, 2 dealer, 3 listener, 4 stream */
    while (buffer) {
        int n = 0;
        items[n] = (zmq_pollitem_t){zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
        kind[n++] = 0;
        items[n] = (zmq_pollitem_t){zsock_resolve(self->router), 0, ZMQ_POLLIN, 0};
        kind[n++] = 1;
        pthread_mutex_lock(&self->lock);
        int peers = self->peer_count;
        pthread_mutex_unlock(&self->lock);
        for (int p = 0; p < peers; p++) {
            /* Connected ahead of Raft's first stream: with ZMQ_IMMEDIATE a
             * stream can only open once the CURVE connection is up. */
            s_dealer(self, p);
            if (self->peers[p].dealer) {
                items[n] = (zmq_pollitem_t){zsock_resolve(self->peers[p].dealer), 0, ZMQ_POLLIN, 0};
                kind[n] = 2;
                index[n++] = p;
            }
            items[n] = (zmq_pollitem_t){NULL, self->peers[p].listen_fd, ZMQ_POLLIN, 0};
            kind[n] = 3;
            index[n++] = p;
        }
        for (int i = 0; i < self->stream_count; i++) {
            items[n] = (zmq_pollitem_t){NULL, self->streams[i].fd, ZMQ_POLLIN, 0};
            kind[n] = 4;
            index[n++] = self->streams[i].fd;
        }
        /* A bounded wait: a listener added by the Raft thread joins soon. */
        if (zmq_poll(items, n, 50) < 0 && zmq_errno() != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            break; /* $TERM */
        for (int k = 1; k < n; k++) {
            if (!(items[k].revents & ZMQ_POLLIN))
                continue;
            if (kind[k] == 1)
                s_from_zmq(self, self->router, -1);
            else if (kind[k] == 2)
                s_from_zmq(self, self->peers[index[k]].dealer, index[k]);
            else if (kind[k] == 3)
                s_accept_out(self, index[k]);
            else /* a stream, found again by its fd (streams move as they close) */
                for (int i = 0; i < self->stream_count; i++)
                    if (self->streams[i].fd == index[k]) {
                        s_from_raft(self, i, buffer);
                        break;
                    }
        }
    }
    free(buffer);
    while (self->stream_count)
        s_drop(self, self->stream_count - 1);
    for (int p = 0; p < self->peer_count; p++)
        zsock_destroy(&self->peers[p].dealer);
}

/*==== The Raft thread's side ====*/

dc_peer_tunnel_t *dc_peer_tunnel_new(dc_zap_t *zap, const dc_config_t *config)
{
    const dc_member_config_t *me = dc_config_self(config);
    dc_peer_tunnel_t *self = me ? calloc(1, sizeof *self) : NULL;
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->zap = zap;
    self->config = config;
    self->raft_port = s_free_port();
    snprintf(self->raft_address, sizeof self->raft_address, "127.0.0.1:%d", self->raft_port);
    self->router = zsock_new(ZMQ_ROUTER);
    if (self->raft_port < 0 || !self->router) {
        dc_peer_tunnel_destroy(&self);
        return NULL;
    }
    zsock_set_linger(self->router, 0);
    zsock_set_router_mandatory(self->router, 1);
    zsock_set_sndhwm(self->router, DC_TUNNEL_HWM);
    zsock_set_rcvhwm(self->router, DC_TUNNEL_HWM);
    zsock_set_maxmsgsize(self->router, DC_TUNNEL_CHUNK + 64);
    dc_listen_prepare(self->router);
    dc_zap_serve(zap, self->router, DC_ZAP_MEMBERS);
    if (zsock_bind(self->router, "tcp://%s", me->address) < 0) {
        char origin[256];
        dc_error("peer tunnel: cannot bind tcp://%s (this member's address in %s): %s",
                 me->address, dc_config_origin(self->config, "cluster-member", origin, sizeof origin),
                 zmq_strerror(zmq_errno()));
        dc_peer_tunnel_destroy(&self);
        return NULL;
    }
    dc_zap_watch(zap, self->router, me->address);
    /* The configured members' routes now, so the thread connects to them
     * before Raft first calls out. */
    char route[64];
    for (int m = 0; m < config->member_count; m++)
        if (&config->members[m] != me)
            dc_peer_tunnel_route(self, config->members[m].id, config->members[m].address, route,
                                 sizeof route);
    self->actor = zactor_new(s_actor, self);
    if (!self->actor) {
        dc_peer_tunnel_destroy(&self);
        return NULL;
    }
    dc_info("Raft peer links over CURVE on tcp://%s (Raft itself on %s)", me->address,
            self->raft_address);
    return self;
}

void dc_peer_tunnel_destroy(dc_peer_tunnel_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_peer_tunnel_t *self = *self_p;
    zactor_destroy(&self->actor);
    zsock_destroy(&self->router);
    for (int p = 0; p < self->peer_count; p++)
        if (self->peers[p].listen_fd > 0)
            close(self->peers[p].listen_fd);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

const char *dc_peer_tunnel_raft_address(const dc_peer_tunnel_t *self)
{
    return self->raft_address;
}

int dc_peer_tunnel_route(dc_peer_tunnel_t *self, uint64_t id, const char *address, char *out,
                         size_t size)
{
    pthread_mutex_lock(&self->lock);
    int found = -1;
    for (int p = 0; p < self->peer_count && found < 0; p++)
        if (self->peers[p].id == id && !strcmp(self->peers[p].address, address))
            found = p;
    if (found < 0 && self->peer_count < DC_TUNNEL_MAX_PEERS) {
        peer_t *peer = &self->peers[self->peer_count];
        memset(peer, 0, sizeof *peer);
        peer->id = id;
        snprintf(peer->address, sizeof peer->address, "%s", address);
        peer->listen_fd = s_listen_loopback(&peer->port);
        if (peer->listen_fd >= 0)
            found = self->peer_count++; /* the thread polls it from its next turn */
    }
    int port = found >= 0 ? self->peers[found].port : -1;
    pthread_mutex_unlock(&self->lock);
    if (port < 0) {
        dc_error("peer tunnel: no route to member %llu at %s", (unsigned long long)id, address);
        return -1;
    }
    snprintf(out, size, "127.0.0.1:%d", port);
    return 0;
}

bool dc_peer_tunnel_owns(dc_peer_tunnel_t *self, int port)
{
    pthread_mutex_lock(&self->lock);
    bool owned = false;
    for (int i = 0; i < self->owned_count && !owned; i++)
        owned = self->owned[i] == port;
    pthread_mutex_unlock(&self->lock);
    return owned;
}
