/* discod_client.c: the Lazy Pirate client (see include/discod.h).
 * Plain libzmq, not czmq: czmq keeps process-wide state and signal handlers
 * that a library must not impose on its host program. */
#include "discod.h"
#include "dc_protocol.h"
#include "dc_reply.h"
#include "dc_request.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define DISCOD_MAX_ENDPOINTS 16

#include "discod_datagram.h"
#include "discod_internal.h"

static void s_order_local_first(discod_client_t *c);

/* prefer_local: how long after failing over the client tries its own
 * computer's member again. */
#define DISCOD_HOME_AFTER_MS 10000

struct discod_client {
    void *zmq;
    void *sock;
    void *monitor;          /* the socket's failed handshakes (CURVE only), or NULL */
    discod__curve_t curve;
    char *endpoints[DISCOD_MAX_ENDPOINTS];
    size_t endpoint_count;
    size_t current;
    discod_options_t options;
    int protocol;     /* of the current endpoint: 0 unknown, 1 legacy, 2 */
    bool no_wait;     /* the current daemon has no WAIT_TOPIC */
    uint64_t epoch;
    uint64_t member, term; /* who answered last (cluster) */
    uint64_t isolated;     /* its provisional writes + 1 when it was isolated; 0: not */
    bool provisional;      /* the last reply was a provisional write's */
    uint64_t failed_over_at; /* prefer_local: when we left endpoint 0 */
    uint64_t next_request_id;
    /* The datagram channel of the current endpoint, when it has one; after a
     * failure it is not tried again before datagram_retry_ms. */
    discod__datagram_t *datagram;
    uint64_t datagram_retry_ms;
    char message[DC_MAX_MESSAGE_LEN + 1];
};

const char *discod_strerror(discod_result_t r)
{
    switch (r) {
    case DISCOD_OK: return "ok";
    case DISCOD_NOT_FOUND: return "not found";
    case DISCOD_ALREADY_EXISTS: return "already registered by another node";
    case DISCOD_ERROR: return "refused by the daemon";
    case DISCOD_TIMEOUT: return "daemon unreachable (timed out)";
    case DISCOD_INVALID: return "invalid argument";
    case DISCOD_PROTOCOL: return "malformed reply from the daemon";
    case DISCOD_NOMEM: return "out of memory";
    case DISCOD_UNSUPPORTED: return "the daemon does not support this (protocol 2 needed)";
    }
    return "unknown result";
}

void discod_topic_clear(discod_topic_t *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->address);
    free(t->message_type);
    free(t->publisher_node);
    memset(t, 0, sizeof *t);
}

void discod_topic_list_free(discod_topic_t *list, size_t count)
{
    if (!list)
        return;
    for (size_t i = 0; i < count; i++)
        discod_topic_clear(&list[i]);
    free(list);
}

void discod_stats_free(discod_stat_t *stats, size_t count)
{
    if (!stats)
        return;
    for (size_t i = 0; i < count; i++)
        free(stats[i].name);
    free(stats);
}

void discod_options_init(discod_options_t *o)
{
    o->timeout_ms = 5000;
    o->retries = 3;
    o->protocol = DISCOD_PROTOCOL_AUTO;
    o->poll_interval_ms = 200;
    o->prefer_local = 0;
    o->server_key = NULL;
    o->client_key = NULL;
}

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

discod_client_t *discod_client_new_multi(const char *const *endpoints, size_t count,
                                         const discod_options_t *options)
{
    if (!endpoints || count == 0 || count > DISCOD_MAX_ENDPOINTS)
        return NULL;
    for (size_t i = 0; i < count; i++)
        if (!endpoints[i] ||
            (strncmp(endpoints[i], "ipc://", 6) && strncmp(endpoints[i], "tcp://", 6)))
            return NULL;
    discod_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (options)
        c->options = *options;
    else
        discod_options_init(&c->options);
    if (c->options.timeout_ms <= 0)
        c->options.timeout_ms = 5000;
    if (c->options.retries < 1)
        c->options.retries = 1;
    if (c->options.poll_interval_ms <= 0)
        c->options.poll_interval_ms = 200;
    const char *server_key = c->options.server_key ? c->options.server_key
                                                   : getenv("DISCOD_SERVER_KEY");
    const char *client_key = c->options.client_key ? c->options.client_key
                                                   : getenv("DISCOD_CLIENT_KEY");
    if (server_key && !*server_key)
        server_key = NULL;
    if (client_key && !*client_key)
        client_key = NULL;
    c->options.server_key = c->options.client_key = NULL; /* not kept: the keys are */
    if (discod__curve_load(server_key, client_key, &c->curve) != 0) {
        free(c);
        return NULL; /* a key file that cannot be read, or only one of the two */
    }
    c->zmq = discod__context_acquire(); /* shared by the process's clients */
    if (!c->zmq) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        c->endpoints[i] = strdup(endpoints[i]);
        if (!c->endpoints[i]) {
            c->endpoint_count = i;
            discod_client_destroy(&c);
            return NULL;
        }
    }
    c->endpoint_count = count;
    if (c->options.prefer_local)
        s_order_local_first(c);
    c->next_request_id = dc_request_id_start();
    return c;
}

discod_client_t *discod_client_new(const char *endpoint)
{
    if (!endpoint) {
        endpoint = getenv("DISCOD_ENDPOINT");
        if (!endpoint || !*endpoint)
            endpoint = DISCOD_DEFAULT_ENDPOINT;
    }
    return discod_client_new_multi(&endpoint, 1, NULL);
}

static void s_close_socket(discod_client_t *c)
{
    if (c->sock) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->sock);
        c->sock = NULL;
    }
    if (c->monitor) {
        zmq_close(c->monitor);
        c->monitor = NULL;
    }
}

void discod_client_destroy(discod_client_t **client_p)
{
    if (!client_p || !*client_p)
        return;
    discod_client_t *c = *client_p;
    s_close_socket(c);
    discod__datagram_close(&c->datagram);
    discod__context_release(c->zmq);
    for (size_t i = 0; i < c->endpoint_count; i++)
        free(c->endpoints[i]);
    free(c);
    *client_p = NULL;
}

const char *discod_client_last_message(const discod_client_t *c)
{
    return c->message;
}

uint64_t discod_client_epoch(const discod_client_t *c)
{
    return c->epoch;
}

uint64_t discod_client_member(const discod_client_t *c)
{
    return c->member;
}

uint64_t discod_client_term(const discod_client_t *c)
{
    return c->term;
}

uint64_t discod_client_isolated(const discod_client_t *c)
{
    return c->isolated;
}

int discod_client_provisional(const discod_client_t *c)
{
    return c->provisional;
}

int discod_client_protocol(const discod_client_t *c)
{
    return c->protocol;
}

bool discod__legacy_only(const discod_client_t *c)
{
    return c->options.protocol == DISCOD_PROTOCOL_LEGACY || c->protocol == 1;
}

discod_result_t discod__v2_result(discod_result_t r, const dc_reply_view_t *view, bool has_answer)
{
    if (view->version < 2)
        return DISCOD_UNSUPPORTED;
    if (r == DISCOD_OK && !has_answer)
        return DISCOD_PROTOCOL;
    return r;
}

const char *discod_client_endpoint(const discod_client_t *c)
{
    return c->endpoints[c->current];
}

/* How local an endpoint is: 0 ipc (this computer), 1 tcp on a loopback or
 * local interface address, 2 anything else. */
static int s_locality(const char *endpoint)
{
    if (!strncmp(endpoint, "ipc://", 6))
        return 0;
    char host[256];
    const char *start = endpoint + 6;
    const char *colon = strrchr(start, ':');
    size_t n = colon ? (size_t)(colon - start) : strlen(start);
    if (n >= sizeof host)
        return 2;
    memcpy(host, start, n);
    host[n] = 0;
    if (!strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "[::1]"))
        return 1;
    struct ifaddrs *ifs = NULL;
    int locality = 2;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i && locality == 2; i = i->ifa_next) {
            char text[INET6_ADDRSTRLEN] = "";
            if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, text,
                          sizeof text);
            if (text[0] && !strcmp(text, host))
                locality = 1;
        }
        freeifaddrs(ifs);
    }
    return locality;
}

/* prefer_local: a stable sort of the endpoints, most local first. */
static void s_order_local_first(discod_client_t *c)
{
    for (size_t i = 1; i < c->endpoint_count; i++) {
        char *e = c->endpoints[i];
        int rank = s_locality(e);
        size_t j = i;
        while (j > 0 && s_locality(c->endpoints[j - 1]) > rank) {
            c->endpoints[j] = c->endpoints[j - 1];
            j--;
        }
        c->endpoints[j] = e;
    }
}

static int s_open_socket(discod_client_t *c)
{
    c->sock = zmq_socket(c->zmq, ZMQ_REQ);
    if (!c->sock)
        return -1;
    int linger = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(c->sock, ZMQ_SNDTIMEO, &c->options.timeout_ms, sizeof(int));
    const char *endpoint = c->endpoints[c->current];
    if (c->curve.on && !strncmp(endpoint, "tcp://", 6)) {
        discod__curve_apply(&c->curve, c->sock, endpoint);
        c->monitor = discod__curve_monitor(c->zmq, c->sock);
    }
    if (zmq_connect(c->sock, endpoint) != 0) {
        s_close_socket(c);
        return -1;
    }
    return 0;
}

/* Lazy Pirate step: forget the socket (it may be stuck waiting for a reply
 * that will never come) and move to the next endpoint. */
static void s_reset(discod_client_t *c)
{
    s_close_socket(c);
    if (c->endpoint_count > 1) {
        if (c->current == 0)
            c->failed_over_at = s_now_ms();
        c->current = (c->current + 1) % c->endpoint_count;
        c->protocol = 0;
        c->no_wait = false;
    }
}

/* prefer_local: back to the local member a while after failing over. */
static void s_maybe_go_home(discod_client_t *c)
{
    if (c->options.prefer_local && c->current != 0 &&
        s_now_ms() - c->failed_over_at >= DISCOD_HOME_AFTER_MS) {
        s_close_socket(c);
        discod__datagram_close(&c->datagram);
        c->current = 0;
        c->protocol = 0;
        c->no_wait = false;
    }
}

/* One try: send body, wait up to timeout_ms for the reply. Returns 0 with
 * *reply filled (caller closes it), or -1 (socket to be reset). */
/* Sends body and waits for the one-frame reply. Returns 0; -1 on a time
 * out or a socket error; -2 when the daemon refused our CURVE handshake. */
static int s_exchange(discod_client_t *c, const void *body, size_t size, int timeout_ms,
                      zmq_msg_t *reply)
{
    if (!c->sock && s_open_socket(c) != 0)
        return -1;
    if (zmq_send(c->sock, body, size, 0) < 0)
        return -1;
    zmq_pollitem_t items[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->monitor, 0, ZMQ_POLLIN, 0}};
    uint64_t deadline = s_now_ms() + (uint64_t)timeout_ms;
    while (true) {
        int64_t left = (int64_t)(deadline - s_now_ms());
        if (left < 0)
            left = 0;
        int rc = zmq_poll(items, c->monitor ? 2 : 1, (long)left);
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            break;
        if (rc > 0 && discod__curve_refused(c->monitor))
            return -2;
        if (rc == 0 || (rc < 0 && errno != EINTR))
            return -1;
    }
    zmq_msg_init(reply);
    if (zmq_msg_recv(reply, c->sock, 0) < 0) {
        zmq_msg_close(reply);
        return -1;
    }
    /* A REQ reply is one frame; anything more is not ours. */
    int more = 0;
    size_t more_size = sizeof more;
    zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &more_size);
    if (more) {
        zmq_msg_close(reply);
        return -1;
    }
    return 0;
}

static void s_note_message(discod_client_t *c, const dc_reply_view_t *view)
{
    size_t n = view->message.len < DC_MAX_MESSAGE_LEN ? view->message.len : DC_MAX_MESSAGE_LEN;
    memcpy(c->message, view->message.ptr ? view->message.ptr : "", n);
    c->message[n] = 0;
}

/* A datagram waits at most this long: a local daemon answers in
 * microseconds, and the ROUTER path (with its retries) takes over. */
#define DISCOD_DATAGRAM_TIMEOUT_MS 500
/* After the channel failed, the ROUTER alone is used this long. */
#define DISCOD_DATAGRAM_BACKOFF_MS 5000

/* The channel failed: close it (a late reply goes with it) and use the
 * ROUTER alone for a while. */
static discod_result_t s_datagram_failed(discod_client_t *c)
{
    discod__datagram_close(&c->datagram);
    c->datagram_retry_ms = s_now_ms() + DISCOD_DATAGRAM_BACKOFF_MS;
    return DISCOD_UNSUPPORTED;
}

discod_result_t discod__call_datagram(discod_client_t *c, dc_request_t *req,
                                      dc_reply_view_t *view)
{
    if (discod__legacy_only(c))
        return DISCOD_UNSUPPORTED;
    const char *endpoint = c->endpoints[c->current];
    if (c->datagram && strcmp(discod__datagram_endpoint(c->datagram), endpoint) != 0)
        discod__datagram_close(&c->datagram); /* failed over */
    if (!c->datagram) {
        if (s_now_ms() < c->datagram_retry_ms || strncmp(endpoint, "ipc://", 6) != 0)
            return DISCOD_UNSUPPORTED;
        c->datagram = discod__datagram_open(endpoint);
        if (!c->datagram)
            return s_datagram_failed(c);
    }
    req->version = 2;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    if (dc_request_encode(req, &buf) != 0) {
        msgpack_sbuffer_destroy(&buf);
        return DISCOD_NOMEM;
    }
    unsigned char reply[2048];
    int timeout = c->options.timeout_ms < DISCOD_DATAGRAM_TIMEOUT_MS ? c->options.timeout_ms
                                                                     : DISCOD_DATAGRAM_TIMEOUT_MS;
    ssize_t size = discod__datagram_exchange(c->datagram, buf.data, buf.size, reply,
                                             sizeof reply, timeout);
    msgpack_sbuffer_destroy(&buf);
    char err[DC_ERR_LEN];
    if (size < 0 || dc_reply_decode(view, reply, (size_t)size, err) != 0)
        return s_datagram_failed(c);
    if (view->version < 2 || view->status < 0 || view->status > DC_STATUS_ERROR) {
        dc_reply_view_release(view);
        return s_datagram_failed(c);
    }
    s_note_message(c, view);
    c->protocol = 2;
    c->epoch = view->epoch;
    return (discod_result_t)view->status;
}

/* Sends req (encoding it for the daemon's protocol) with Lazy Pirate retries.
 * try_timeout_ms <= 0 means the client's timeout. On DISCOD_OK-or-status
 * results *view is filled and the caller must release it; the return value is
 * then the reply status (0-3). Other results leave nothing to release. */
discod_result_t discod__call(discod_client_t *c, dc_request_t *req, int try_timeout_ms, int tries,
                             dc_reply_view_t *view)
{
    if (try_timeout_ms <= 0)
        try_timeout_ms = c->options.timeout_ms;
    if (tries <= 0)
        tries = c->options.retries;
    c->message[0] = 0;
    bool legacy_fallback_done = false;
    for (int attempt = 0; attempt < tries; attempt++) {
        if (attempt == 0)
            s_maybe_go_home(c);
        int version = discod__legacy_only(c) ? 1 : 2;
        req->version = version;
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        if (dc_request_encode(req, &buf) != 0) {
            msgpack_sbuffer_destroy(&buf);
            return DISCOD_NOMEM;
        }
        zmq_msg_t reply;
        int rc = s_exchange(c, buf.data, buf.size, try_timeout_ms, &reply);
        msgpack_sbuffer_destroy(&buf);
        if (rc == -2) {
            snprintf(c->message, sizeof c->message,
                     "authentication refused by %s: this client's key is not one the daemon "
                     "takes (--curve-clients), or the server key is not the daemon's",
                     c->endpoints[c->current]);
            s_reset(c);
            return DISCOD_ERROR;
        }
        if (rc != 0) {
            s_reset(c);
            continue;
        }
        char err[DC_ERR_LEN];
        rc = dc_reply_decode(view, zmq_msg_data(&reply), zmq_msg_size(&reply), err);
        zmq_msg_close(&reply);
        if (rc != 0) {
            snprintf(c->message, sizeof c->message, "%s", err);
            return DISCOD_PROTOCOL;
        }
        s_note_message(c, view);
        if (view->version >= 2) {
            c->protocol = 2;
            c->epoch = view->epoch;
            c->member = view->member_id;
            c->term = view->term;
            c->isolated = view->isolated ? view->provisional_count + 1 : 0;
            c->provisional = view->provisional;
        } else if (version == 2) {
            /* A daemon that knows only Cortex part 1. If it choked on the
             * protocol 2 keys, say it again the legacy way (not a retry). */
            c->protocol = 1;
            if (view->status == DC_STATUS_ERROR &&
                strncmp(c->message, "Failed to parse", 15) == 0 && !legacy_fallback_done) {
                dc_reply_view_release(view);
                legacy_fallback_done = true;
                attempt--;
                continue;
            }
        }
        if (view->status > DC_STATUS_ERROR) {
            dc_reply_view_release(view);
            return DISCOD_PROTOCOL;
        }
        return (discod_result_t)view->status;
    }
    snprintf(c->message, sizeof c->message, "no reply after %d tries", tries);
    return DISCOD_TIMEOUT;
}

/* s_call for callers that need only the status. */
discod_result_t discod__call_status(discod_client_t *c, dc_request_t *req)
{
    dc_reply_view_t view;
    discod_result_t r = discod__call(c, req, 0, 0, &view);
    if (r >= 0)
        dc_reply_view_release(&view);
    return r;
}

static bool s_needs_v2_refused(discod_client_t *c)
{
    return c->options.protocol == DISCOD_PROTOCOL_2 && c->protocol == 1;
}

discod_result_t discod_ping(discod_client_t *c)
{
    if (!c)
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_PING);
    discod_result_t r = discod__call_status(c, &req);
    return r == DISCOD_OK && s_needs_v2_refused(c) ? DISCOD_UNSUPPORTED : r;
}

bool discod__valid_name(const char *s, size_t max)
{
    return s && *s && strlen(s) <= max && dc_utf8_valid(s, strlen(s));
}

bool discod__valid_text(const char *s, size_t max)
{
    return s && strlen(s) <= max && dc_utf8_valid(s, strlen(s));
}

uint64_t discod__request_id(discod_client_t *c)
{
    return c->next_request_id++;
}

discod_result_t discod_register(discod_client_t *c, const discod_topic_t *t)
{
    if (!c || !t || !discod__valid_name(t->name, DC_MAX_NAME_LEN) ||
        !discod__valid_name(t->address, DC_MAX_ADDRESS_LEN) ||
        !discod__valid_text(t->message_type, DC_MAX_TYPE_LEN) ||
        !discod__valid_text(t->publisher_node, DC_MAX_NODE_LEN))
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_REGISTER_TOPIC);
    req.present = DC_REQ_TOPIC_INFO | DC_REQ_REQUEST_ID;
    req.request_id = discod__request_id(c);
    req.topic.name = dc_str_from(t->name);
    req.topic.address = dc_str_from(t->address);
    req.topic.message_type = dc_str_from(t->message_type);
    req.topic.publisher_node = dc_str_from(t->publisher_node);
    req.topic.fingerprint = t->fingerprint;
    return discod__call_status(c, &req);
}

discod_result_t discod_unregister(discod_client_t *c, const char *name)
{
    if (!c || !discod__valid_name(name, DC_MAX_NAME_LEN))
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_UNREGISTER_TOPIC);
    req.present = DC_REQ_TOPIC_NAME | DC_REQ_REQUEST_ID;
    req.request_id = discod__request_id(c);
    req.topic_name = dc_str_from(name);
    return discod__call_status(c, &req);
}

/* Copies a TopicInfo blob into *out. */
discod_result_t discod__topic_from_blob(const void *data, size_t size, discod_topic_t *out)
{
    dc_topic_t t;
    msgpack_unpacked storage;
    char err[DC_ERR_LEN];
    if (dc_topic_decode(&t, &storage, data, size, err) != 0)
        return DISCOD_PROTOCOL;
    memset(out, 0, sizeof *out);
    out->name = dc_str_dup(t.name);
    out->address = dc_str_dup(t.address);
    out->message_type = dc_str_dup(t.message_type);
    out->publisher_node = dc_str_dup(t.publisher_node);
    out->fingerprint = t.fingerprint;
    msgpack_unpacked_destroy(&storage);
    if (!out->name || !out->address || !out->message_type || !out->publisher_node) {
        discod_topic_clear(out);
        return DISCOD_NOMEM;
    }
    return DISCOD_OK;
}

discod_result_t discod__call_lookup(discod_client_t *c, const char *name, int try_timeout_ms,
                                    int tries, dc_reply_view_t *view)
{
    dc_request_t req;
    dc_request_init(&req, DC_CMD_LOOKUP_TOPIC);
    req.present = DC_REQ_TOPIC_NAME;
    req.topic_name = dc_str_from(name);
    return discod__call(c, &req, try_timeout_ms, tries, view);
}

static discod_result_t s_lookup(discod_client_t *c, const char *name, discod_topic_t *out,
                                int try_timeout_ms, int tries)
{
    dc_reply_view_t view;
    discod_result_t r = discod__call_lookup(c, name, try_timeout_ms, tries, &view);
    if (r < 0)
        return r;
    if (r == DISCOD_OK)
        r = view.topic_info.data
                ? discod__topic_from_blob(view.topic_info.data, view.topic_info.size, out)
                : DISCOD_PROTOCOL;
    dc_reply_view_release(&view);
    return r;
}

discod_result_t discod_lookup(discod_client_t *c, const char *name, discod_topic_t *out)
{
    if (!c || !out || !discod__valid_name(name, DC_MAX_NAME_LEN))
        return DISCOD_INVALID;
    return s_lookup(c, name, out, 0, 0);
}

static bool s_filter_matches(const discod_filter_t *f, const discod_topic_t *t)
{
    if (!f)
        return true;
    if (f->prefix && strncmp(t->name, f->prefix, strlen(f->prefix)) != 0)
        return false;
    if (f->message_type && strcmp(t->message_type, f->message_type) != 0)
        return false;
    if (f->publisher_node && strcmp(t->publisher_node, f->publisher_node) != 0)
        return false;
    return true;
}

discod_result_t discod_list(discod_client_t *c, const discod_filter_t *filter,
                            discod_topic_t **out, size_t *count)
{
    if (!c || !out || !count)
        return DISCOD_INVALID;
    *out = NULL;
    *count = 0;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_LIST_TOPICS);
    msgpack_sbuffer meta_buf;
    msgpack_sbuffer_init(&meta_buf);
    msgpack_unpacked meta_storage;
    bool meta_unpacked = false;
    if (filter && filter->metadata_count) {
        if (discod__pack_kv(filter->metadata, filter->metadata_count, &meta_buf, &meta_storage,
                            &req.filter_metadata) != 0) {
            msgpack_sbuffer_destroy(&meta_buf);
            return DISCOD_INVALID;
        }
        meta_unpacked = true;
        req.present |= DC_REQ_FILTER;
    }
    if (filter && (filter->prefix || filter->message_type || filter->publisher_node)) {
        req.present |= DC_REQ_FILTER;
        if (filter->prefix)
            req.filter_prefix = dc_str_from(filter->prefix);
        if (filter->message_type)
            req.filter_message_type = dc_str_from(filter->message_type);
        if (filter->publisher_node)
            req.filter_publisher_node = dc_str_from(filter->publisher_node);
    }
    dc_reply_view_t view;
    discod_result_t r = discod__call(c, &req, 0, 0, &view);
    if (meta_unpacked)
        msgpack_unpacked_destroy(&meta_storage);
    msgpack_sbuffer_destroy(&meta_buf);
    if (r == DISCOD_OK && meta_unpacked && view.version < 2) {
        dc_reply_view_release(&view);
        return DISCOD_UNSUPPORTED; /* a legacy daemon cannot filter on metadata */
    }
    if (r != DISCOD_OK) {
        if (r >= 0)
            dc_reply_view_release(&view);
        return r;
    }
    size_t n = view.topics ? view.topics->via.array.size : 0;
    discod_topic_t *list = n ? calloc(n, sizeof *list) : NULL;
    if (n && !list) {
        dc_reply_view_release(&view);
        return DISCOD_NOMEM;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n && r == DISCOD_OK; i++) {
        const msgpack_object *o = &view.topics->via.array.ptr[i];
        if (o->type != MSGPACK_OBJECT_BIN) {
            r = DISCOD_PROTOCOL;
            break;
        }
        r = discod__topic_from_blob(o->via.bin.ptr, o->via.bin.size, &list[kept]);
        /* A legacy daemon ignores filters: apply them here. */
        if (r == DISCOD_OK && view.version < 2 && !s_filter_matches(filter, &list[kept]))
            discod_topic_clear(&list[kept]);
        else if (r == DISCOD_OK)
            kept++;
    }
    dc_reply_view_release(&view);
    if (r != DISCOD_OK) {
        discod_topic_list_free(list, n);
        return r;
    }
    *out = list;
    *count = kept;
    return DISCOD_OK;
}

discod_result_t discod_stats(discod_client_t *c, discod_stat_t **out, size_t *count)
{
    if (!c || !out || !count)
        return DISCOD_INVALID;
    *out = NULL;
    *count = 0;
    if (discod__legacy_only(c))
        return DISCOD_UNSUPPORTED;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_STATS);
    dc_reply_view_t view;
    discod_result_t r = discod__call(c, &req, 0, 0, &view);
    if (r < 0)
        return r;
    r = discod__v2_result(r, &view, view.stats != NULL);
    if (r == DISCOD_OK) {
        size_t n = view.stats->via.map.size;
        discod_stat_t *stats = calloc(n ? n : 1, sizeof *stats);
        size_t kept = 0;
        for (size_t i = 0; stats && i < n; i++) {
            const msgpack_object_kv *kv = &view.stats->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR ||
                kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                continue;
            dc_str_t key = {kv->key.via.str.ptr, kv->key.via.str.size};
            stats[kept].name = dc_str_dup(key);
            stats[kept].value = kv->val.via.u64;
            if (stats[kept].name)
                kept++;
        }
        if (!stats)
            r = DISCOD_NOMEM;
        *out = stats;
        *count = kept;
    }
    dc_reply_view_release(&view);
    return r;
}

static void s_sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* How long one held WAIT may last before the client asks again: short enough
 * to notice a daemon restart quickly, long enough to cost nothing. */
#define DISCOD_WAIT_SLICE_MS 1000

/* discod_wait_for_topic, the subscriber naming itself (node, or NULL) and
 * told of mismatches (mismatches NULL: not asked). */
static discod_result_t s_wait(discod_client_t *c, const char *name, const char *node,
                              int timeout_ms, discod_topic_t *out, discod_mismatch_t **mismatches,
                              size_t *mismatch_count)
{
    uint64_t deadline = s_now_ms() + (uint64_t)timeout_ms;
    /* last: how the latest try ended (NOT_FOUND, or TIMEOUT when unreachable). */
    discod_result_t last = DISCOD_NOT_FOUND;
    for (bool first = true;; first = false) {
        uint64_t now = s_now_ms();
        if (!first && now >= deadline)
            return last;
        uint64_t left = deadline > now ? deadline - now : 0;
        bool held = !discod__legacy_only(c) &&
                    !c->no_wait;
        if (held) {
            uint64_t slice = left < DISCOD_WAIT_SLICE_MS ? left : DISCOD_WAIT_SLICE_MS;
            dc_request_t req;
            dc_request_init(&req, DC_CMD_WAIT_TOPIC);
            req.present = DC_REQ_TOPIC_NAME | DC_REQ_TIMEOUT;
            req.topic_name = dc_str_from(name);
            req.timeout_ms = slice;
            if (node) {
                req.present |= DC_REQ_NODE_NAME;
                req.node_name = dc_str_from(node);
            }
            dc_reply_view_t view;
            int try_timeout = (int)slice + 1000;
            discod_result_t r = discod__call(c, &req, try_timeout, 1, &view);
            if (r == DISCOD_OK) {
                r = view.topic_info.data
                        ? discod__topic_from_blob(view.topic_info.data, view.topic_info.size, out)
                        : DISCOD_PROTOCOL;
                if (r == DISCOD_OK && mismatches &&
                    (r = discod__mismatches_from(view.mismatch, mismatches, mismatch_count)) != 0)
                    discod_topic_clear(out);
                dc_reply_view_release(&view);
                return r;
            }
            if (r >= 0) {
                bool unknown = r == DISCOD_ERROR && strstr(c->message, "Unknown command");
                dc_reply_view_release(&view);
                if (unknown)
                    c->no_wait = true; /* an older daemon: poll it */
                else if (r == DISCOD_ERROR)
                    return r;
            }
            last = r == DISCOD_TIMEOUT ? DISCOD_TIMEOUT : DISCOD_NOT_FOUND;
            continue;
        }
        /* Polling, as the Cortex client does, for daemons without WAIT_TOPIC. */
        int try_timeout = (int)(left < (uint64_t)c->options.timeout_ms
                                    ? (left > 100 ? left : 100)
                                    : (uint64_t)c->options.timeout_ms);
        discod_result_t r = s_lookup(c, name, out, try_timeout, 1);
        if (r == DISCOD_OK || (r != DISCOD_NOT_FOUND && r != DISCOD_TIMEOUT))
            return r;
        last = r;
        now = s_now_ms();
        if (now >= deadline)
            return last;
        uint64_t pause = (uint64_t)c->options.poll_interval_ms;
        s_sleep_ms(deadline - now < pause ? deadline - now : pause);
    }
}

discod_result_t discod_wait_for_topic(discod_client_t *c, const char *name, int timeout_ms,
                                      discod_topic_t *out)
{
    if (!c || !out || timeout_ms < 0 || !discod__valid_name(name, DC_MAX_NAME_LEN))
        return DISCOD_INVALID;
    return s_wait(c, name, NULL, timeout_ms, out, NULL, NULL);
}

discod_result_t discod_wait_subscribed(discod_client_t *c, const char *name, const char *node,
                                       int timeout_ms, discod_topic_t *out,
                                       discod_mismatch_t **mismatches, size_t *mismatch_count)
{
    if (mismatches)
        *mismatches = NULL;
    if (mismatch_count)
        *mismatch_count = 0;
    if (!c || !out || timeout_ms < 0 || !discod__valid_name(name, DC_MAX_NAME_LEN) ||
        !discod__valid_name(node, DC_MAX_NODE_LEN) || (mismatches && !mismatch_count))
        return DISCOD_INVALID;
    return s_wait(c, name, node, timeout_ms, out, mismatches, mismatch_count);
}
