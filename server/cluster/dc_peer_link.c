/* dc_peer_link.c: the gated Raft transport (see the .h). */
#include "dc_peer_link.h"
#include "dc_log.h"
#include "dc_peer_tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dc_peer_link {
    struct raft_uv_transport outer; /* what raft sees; outer.impl = self */
    struct raft_uv_transport tcp;   /* libraft's tcp transport, doing the work */
    const dc_config_t *config;
    raft_uv_accept_cb accept_cb;
    raft_uv_transport_close_cb close_cb;
    const char *(*lookup)(void *arg, uint64_t id);
    void *lookup_arg;
    uint64_t refused;
    char last_refusal[160];   /* to log a repeated refusal once */
    dc_peer_tunnel_t *tunnel; /* CURVE: Raft's bytes go through it (NULL: plain tcp) */
    char address[256];        /* where libraft's transport listens (for messages) */
};

static dc_peer_link_t *s_self(struct raft_uv_transport *t)
{
    return t->impl;
}

/* Does ip (text) belong to host (a name or an address)? */
static bool s_host_matches(const char *host, const char *ip)
{
    if (!strcmp(host, ip))
        return true;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return false;
    bool match = false;
    for (struct addrinfo *a = res; a && !match; a = a->ai_next) {
        char text[INET6_ADDRSTRLEN] = "";
        if (a->ai_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, text, sizeof text);
        else if (a->ai_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, text, sizeof text);
        match = !strcmp(text, ip);
    }
    freeaddrinfo(res);
    return match;
}

static void s_closed_stream(uv_handle_t *handle)
{
    free(handle);
}

static void s_refuse(dc_peer_link_t *self, struct uv_stream_s *stream, const char *why)
{
    self->refused++;
    if (strcmp(self->last_refusal, why) != 0) {
        dc_warn("peer link refused: %s", why);
        snprintf(self->last_refusal, sizeof self->last_refusal, "%s", why);
    }
    uv_close((uv_handle_t *)stream, s_closed_stream);
}

static void s_accept(struct raft_uv_transport *t, raft_id id, const char *address,
                     struct uv_stream_s *stream)
{
    dc_peer_link_t *self = t->data;
    const char *member = self->lookup ? self->lookup(self->lookup_arg, id) : NULL;
    for (int i = 0; !member && i < self->config->member_count; i++)
        if (self->config->members[i].id == id)
            member = self->config->members[i].address;
    char why[160];
    if (!member || id == self->config->member_id) {
        snprintf(why, sizeof why, "a peer calling itself member %llu (%.60s) is not a member",
                 (unsigned long long)id, address);
        s_refuse(self, stream, why);
        return;
    }
    struct sockaddr_storage peer;
    int len = sizeof peer;
    char ip[INET6_ADDRSTRLEN] = "";
    int port = -1;
    if (uv_tcp_getpeername((uv_tcp_t *)stream, (struct sockaddr *)&peer, &len) == 0) {
        if (peer.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, ip, sizeof ip);
            port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
        } else if (peer.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, ip, sizeof ip);
    }
    if (self->tunnel) {
        /* Through the tunnel, whose CURVE handshake took the cluster's key:
         * only its own loopback connections are let in. */
        if (strcmp(ip, "127.0.0.1") != 0 || !dc_peer_tunnel_owns(self->tunnel, port)) {
            snprintf(why, sizeof why, "a connection to Raft's loopback port from %.46s:%d, "
                     "not the tunnel", ip, port);
            s_refuse(self, stream, why);
            return;
        }
        uv_tcp_nodelay((uv_tcp_t *)stream, 1);
        /* The handshake names the peer's loopback listener; Raft answers the
         * address it is given here, which must be the member's own. */
        self->accept_cb(&self->outer, id, member, stream);
        return;
    }
    char host[256];
    dc_address_host(member, host, sizeof host);
    if (!ip[0] || !s_host_matches(host, ip)) {
        snprintf(why, sizeof why, "member %llu connected from %.46s, not from its host %.60s",
                 (unsigned long long)id, ip[0] ? ip : "an unknown address", host);
        s_refuse(self, stream, why);
        return;
    }
    /* Raft's messages are small and answered: without TCP_NODELAY, Nagle and
     * delayed ACKs hold some for 40 ms. */
    uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    self->accept_cb(&self->outer, id, address, stream);
}

static int s_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    dc_peer_link_t *self = s_self(t);
    const char *listen_at = self->tunnel ? dc_peer_tunnel_raft_address(self->tunnel) : address;
    snprintf(self->address, sizeof self->address, "%s", listen_at);
    int rc = self->tcp.init(&self->tcp, id, listen_at);
    if (rc != 0)
        snprintf(t->errmsg, sizeof t->errmsg, "%s", self->tcp.errmsg);
    return rc;
}

/* Why HOST:PORT cannot be bound, found by binding it (libraft's transport
 * reports a failed listen without the reason). */
static const char *s_bind_problem(const char *address)
{
    const char *colon = strrchr(address, ':');
    if (!colon)
        return "not a HOST:PORT address";
    char host[256];
    dc_address_host(address, host, sizeof host);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
        return "the host name does not resolve";
    const char *problem = "address in use or not this computer's";
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && bind(fd, res->ai_addr, res->ai_addrlen) != 0)
        problem = strerror(errno);
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return problem;
}

static int s_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    dc_peer_link_t *self = s_self(t);
    self->accept_cb = cb;
    int rc = self->tcp.listen(&self->tcp, s_accept);
    if (rc != 0) {
        snprintf(t->errmsg, sizeof t->errmsg, "%s", self->tcp.errmsg);
        char origin[256];
        dc_error("cannot listen for the other members on %s (this member's address in %s): %s",
                 self->address,
                 dc_config_origin(self->config, "cluster-member", origin, sizeof origin),
                 self->tcp.errmsg[0] ? self->tcp.errmsg : s_bind_problem(self->address));
    }
    return rc;
}

/* A connect request of ours around raft's, to see the stream first. */
typedef struct {
    struct raft_uv_connect inner;
    struct raft_uv_connect *outer;
    char local[64]; /* tunnel: the loopback address dialled (lives as long as the request) */
} connecting_t;

static void s_connected(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
    connecting_t *c = req->data;
    struct raft_uv_connect *outer = c->outer;
    free(c);
    if (status == 0 && stream)
        uv_tcp_nodelay((uv_tcp_t *)stream, 1);
    outer->cb(outer, stream, status);
}

static int s_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                     const char *address, raft_uv_connect_cb cb)
{
    dc_peer_link_t *self = s_self(t);
    connecting_t *c = calloc(1, sizeof *c);
    if (!c)
        return RAFT_NOMEM;
    req->cb = cb;
    c->outer = req;
    c->inner.data = c;
    if (self->tunnel) {
        if (dc_peer_tunnel_route(self->tunnel, id, address, c->local, sizeof c->local) != 0) {
            free(c);
            return RAFT_NOCONNECTION;
        }
        address = c->local; /* the tunnel's loopback port for that member */
    }
    int rc = self->tcp.connect(&self->tcp, &c->inner, id, address, s_connected);
    if (rc != 0)
        free(c);
    return rc;
}

static void s_tcp_closed(struct raft_uv_transport *t)
{
    dc_peer_link_t *self = t->data;
    if (self->close_cb)
        self->close_cb(&self->outer);
}

static void s_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    dc_peer_link_t *self = s_self(t);
    self->close_cb = cb;
    self->tcp.close(&self->tcp, s_tcp_closed);
}

dc_peer_link_t *dc_peer_link_new(uv_loop_t *loop, const dc_config_t *config, dc_zap_t *zap)
{
    dc_peer_link_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = config;
    if (dc_zap_curve(zap) && !(self->tunnel = dc_peer_tunnel_new(zap, config))) {
        free(self);
        return NULL;
    }
    if (raft_uv_tcp_init(&self->tcp, loop) != 0) {
        dc_peer_tunnel_destroy(&self->tunnel);
        free(self);
        return NULL;
    }
    self->tcp.data = self;
    self->outer.impl = self;
    self->outer.init = s_init;
    self->outer.listen = s_listen;
    self->outer.connect = s_connect;
    self->outer.close = s_close;
    return self;
}

void dc_peer_link_set_lookup(dc_peer_link_t *self, const char *(*fn)(void *arg, uint64_t id),
                             void *arg)
{
    self->lookup = fn;
    self->lookup_arg = arg;
}

struct raft_uv_transport *dc_peer_link_transport(dc_peer_link_t *self)
{
    return &self->outer;
}

uint64_t dc_peer_link_refused(const dc_peer_link_t *self)
{
    return self->refused;
}

void dc_peer_link_destroy(dc_peer_link_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    raft_uv_tcp_close(&(*self_p)->tcp);
    dc_peer_tunnel_destroy(&(*self_p)->tunnel);
    free(*self_p);
    *self_p = NULL;
}
