/* dc_zap.c: the ZAP handler and the server certificate (see the .h). */
#include "dc_zap.h"
#include "dc_log.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

/* A CURVE socket's failed handshakes that never reached ZAP (a client
 * without CURVE, garbage): counted, said at most every 10 s. */
typedef struct {
    zsock_t *monitor; /* PAIR to the socket's monitor */
    char label[256];
    uint64_t failed, reported_at;
} watched_t;

#define DC_ZAP_MAX_WATCHED 16

struct dc_zap {
    zcert_t *cert;                         /* NULL: no CURVE */
    watched_t watched[DC_ZAP_MAX_WATCHED]; /* the handler thread's alone */
    int watched_count;
    dc_keys_t *keys;
    zactor_t *actor;
    pthread_mutex_t lock;
    zhashx_t *member_addresses; /* IP -> "" */
    zhashx_t *refused;          /* "address key" already logged */
};

static atomic_int s_reload_requested;

void dc_zap_reload_soon(void)
{
    atomic_store(&s_reload_requested, 1);
}

/* Says once per peer that it was refused. */
static void s_refused(dc_zap_t *self, const char *domain, const char *address, const char *key,
                      const char *why)
{
    char peer[256];
    snprintf(peer, sizeof peer, "%s %s %s", domain, address, key);
    if (zhashx_lookup(self->refused, peer))
        return;
    if (zhashx_size(self->refused) > 4096)
        zhashx_purge(self->refused); /* bounded: a flood of keys logs again later */
    zhashx_insert(self->refused, peer, (void *)"");
    dc_warn("refused a %s handshake from %s (key %s): %s", domain, address, key, why);
}

/* Decides one request; fills status and user_id (the client's Z85 key). */
static bool s_decide(dc_zap_t *self, const char *domain, const char *address, const char *mechanism,
                     zframe_t *credentials, char *user_id)
{
    user_id[0] = 0;
    if (!strcmp(mechanism, "CURVE") && credentials && zframe_size(credentials) == 32) {
        zmq_z85_encode(user_id, zframe_data(credentials), 32);
        if (!strcmp(domain, DC_ZAP_CLIENTS)) {
            dc_access_t role = dc_keys_role(self->keys, user_id);
            if (role != DC_ACCESS_NONE)
                return true;
            s_refused(self, domain, address, user_id, "not in --curve-clients");
            return false;
        }
        if (!strcmp(domain, DC_ZAP_MEMBERS)) {
            if (self->cert && !strcmp(user_id, zcert_public_txt(self->cert)))
                return true;
            s_refused(self, domain, address, user_id, "not the cluster's key");
            return false;
        }
    } else if (!strcmp(mechanism, "NULL") && !strcmp(domain, DC_ZAP_MEMBERS) && !self->cert) {
        pthread_mutex_lock(&self->lock);
        bool member = zhashx_lookup(self->member_addresses, address) != NULL;
        pthread_mutex_unlock(&self->lock);
        if (member)
            return true;
        s_refused(self, domain, address, "-", "not a member host");
        return false;
    }
    s_refused(self, domain, address, user_id[0] ? user_id : "-", mechanism);
    return false;
}

/* One ZAP request on handler: [version, request_id, domain, address,
 * identity, mechanism, credentials...]; always answered. */
static void s_answer(dc_zap_t *self, zsock_t *handler)
{
    zmsg_t *request = zmsg_recv(handler);
    if (!request)
        return;
    char *version = zmsg_popstr(request);
    zframe_t *request_id = zmsg_pop(request);
    char *domain = zmsg_popstr(request);
    char *address = zmsg_popstr(request);
    char *identity = zmsg_popstr(request);
    char *mechanism = zmsg_popstr(request);
    zframe_t *credentials = zmsg_pop(request);
    char user_id[DC_KEY_LEN + 1] = "";
    bool ok = version && streq(version, "1.0") && request_id && domain && address && mechanism &&
              s_decide(self, domain, address, mechanism, credentials, user_id);
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    if (request_id)
        zmsg_append(reply, &request_id);
    else
        zmsg_addstr(reply, "");
    zmsg_addstr(reply, ok ? "200" : "400");
    zmsg_addstr(reply, ok ? "OK" : "Refused");
    zmsg_addstr(reply, ok ? user_id : "");
    zmsg_addmem(reply, NULL, 0); /* no metadata: the role is looked up per request */
    zmsg_send(&reply, handler);
    zframe_destroy(&request_id);
    zframe_destroy(&credentials);
    zstr_free(&version);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&identity);
    zstr_free(&mechanism);
    zmsg_destroy(&request);
}

static void s_watch_event(watched_t *w)
{
    zmsg_t *event = zmsg_recv(w->monitor);
    zframe_t *head = event ? zmsg_first(event) : NULL;
    if (head && zframe_size(head) >= 2) {
        uint16_t id;
        memcpy(&id, zframe_data(head), sizeof id);
        if (id & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
            w->failed++;
    }
    zmsg_destroy(&event);
    uint64_t now = (uint64_t)zclock_mono();
    if (w->failed && now - w->reported_at >= 10000) {
        dc_warn("refused %llu handshake(s) on %s: a client without CURVE, or not ZeroMQ",
                (unsigned long long)w->failed, w->label);
        w->failed = 0;
        w->reported_at = now;
    }
}

/* "WATCH inproc-endpoint label": starts reading a socket's monitor. */
static void s_watch(dc_zap_t *self, zpoller_t *poller, zmsg_t *command)
{
    char *endpoint = zmsg_popstr(command), *label = zmsg_popstr(command);
    if (endpoint && label && self->watched_count < DC_ZAP_MAX_WATCHED) {
        watched_t *w = &self->watched[self->watched_count];
        w->monitor = zsock_new_pair(endpoint);
        if (w->monitor) {
            snprintf(w->label, sizeof w->label, "%s", label);
            zpoller_add(poller, w->monitor);
            self->watched_count++;
        }
    }
    zstr_free(&endpoint);
    zstr_free(&label);
}

static void s_actor(zsock_t *pipe, void *arg)
{
    dc_zap_t *self = arg;
    zsock_t *handler = zsock_new(ZMQ_REP);
    if (!handler || zsock_bind(handler, "inproc://zeromq.zap.01") != 0) {
        dc_error("cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
        zsock_destroy(&handler);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, handler, NULL);
    while (true) {
        void *which = zpoller_wait(poller, 1000);
        if (which == pipe) {
            zmsg_t *command = zmsg_recv(pipe);
            char *verb = command ? zmsg_popstr(command) : NULL;
            bool term = !verb || streq(verb, "$TERM");
            if (verb && streq(verb, "WATCH"))
                s_watch(self, poller, command);
            zstr_free(&verb);
            zmsg_destroy(&command);
            if (term)
                break;
        } else if (which == handler)
            s_answer(self, handler);
        else if (zpoller_terminated(poller))
            break;
        for (int i = 0; which && which != pipe && which != handler && i < self->watched_count; i++)
            if (which == self->watched[i].monitor)
                s_watch_event(&self->watched[i]);
        if (atomic_exchange(&s_reload_requested, 0) || dc_keys_changed(self->keys)) {
            dc_keys_reload(self->keys);
            zhashx_purge(self->refused); /* a key let in again logs again if refused */
        }
    }
    zpoller_destroy(&poller);
    for (int i = 0; i < self->watched_count; i++)
        zsock_destroy(&self->watched[i].monitor);
    zsock_destroy(&handler);
}

dc_zap_t *dc_zap_new(const char *cert_path, dc_keys_t *keys)
{
    dc_zap_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->keys = keys;
    self->member_addresses = zhashx_new();
    self->refused = zhashx_new();
    if (cert_path) {
        self->cert = zcert_load(cert_path);
        if (!self->cert || !*zcert_secret_txt(self->cert) ||
            strspn(zcert_secret_txt(self->cert), "0") == DC_KEY_LEN) {
            dc_error("cannot read the server certificate %s and its secret %s_secret", cert_path,
                     cert_path);
            dc_zap_destroy(&self);
            return NULL;
        }
    }
    if (self->member_addresses && self->refused)
        self->actor = zactor_new(s_actor, self);
    if (!self->actor) {
        dc_zap_destroy(&self);
        return NULL;
    }
    return self;
}

void dc_zap_destroy(dc_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_zap_t *self = *self_p;
    zactor_destroy(&self->actor);
    zcert_destroy(&self->cert);
    zhashx_destroy(&self->member_addresses);
    zhashx_destroy(&self->refused);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

bool dc_zap_curve(const dc_zap_t *self)
{
    return self && self->cert;
}

const char *dc_zap_public_key(const dc_zap_t *self)
{
    return self && self->cert ? zcert_public_txt(self->cert) : NULL;
}

void dc_zap_serve(dc_zap_t *self, zsock_t *sock, const char *domain)
{
    if (self && self->cert) {
        zcert_apply(self->cert, sock);
        zsock_set_curve_server(sock, 1);
        zsock_set_zap_domain(sock, domain);
    } else if (!strcmp(domain, DC_ZAP_MEMBERS))
        zsock_set_zap_domain(sock, domain);
}

void dc_zap_watch(dc_zap_t *self, zsock_t *sock, const char *label)
{
    if (!self || !self->cert)
        return;
    static atomic_int next;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://discod-zap-monitor-%d",
             atomic_fetch_add(&next, 1));
    if (zmq_socket_monitor(zsock_resolve(sock), endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) == 0)
        zstr_sendx(self->actor, "WATCH", endpoint, label, NULL);
}

void dc_zap_connect_member(dc_zap_t *self, zsock_t *sock)
{
    if (!self || !self->cert)
        return;
    zcert_apply(self->cert, sock);
    zsock_set_curve_serverkey(sock, zcert_public_txt(self->cert));
}

void dc_zap_allow_member_address(dc_zap_t *self, const char *ip)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    zhashx_update(self->member_addresses, ip, (void *)"");
    pthread_mutex_unlock(&self->lock);
}
