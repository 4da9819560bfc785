/* discod_bench.c: load generator and meter for discod (and for the floor).
 *
 * N client threads, each with its own socket, closed-loop or paced, run one
 * workload for a while; the tool reports throughput, latency percentiles, and
 * the daemon's CPU time per request and RSS, read from /proc for its PID.
 *
 *   discod-bench --endpoint EP [--pid PID] --workload W [--clients N]
 *                [--seconds S] [--rate R] [--topics N] [--leases N] [--json]
 *
 * Workloads: ping, lookup, register (durable), write-path (UNREGISTER of a
 * name never registered: front -> writer -> reply with no commit, the cost of
 * the write path without its fsync), mixed (90% lookup), heartbeat
 * (--leases leases renewed at 1 Hz each), heartbeat-datagram (the same, on
 * the datagram channel PATH.hb of an ipc endpoint), wait (wake-up latency after the
 * registration is acknowledged), list-under-load (lookup p99 while another
 * client LISTs --topics topics in a loop, against the same lookups alone;
 * --lister-endpoint points the lister at another daemon, to tell what the
 * shared machine costs from what the shared daemon costs), bringup (a
 * robot's bring-up: --clients nodes start at once, each with its own
 * libdiscod client; node i registers /t/i and waits for /t/(i+1 mod N);
 * the time until the last node has its publisher's endpoint, the daemon's
 * CPU and this process's CPU per node, over rounds for --seconds).
 * Speed targets live in BENCHMARKS.md, never in tests. */
#include "dc_protocol.h"
#include "dc_reply.h"
#include "dc_request.h"
#include "discod.h"

#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    const char *endpoint;
    uint64_t lease_ttl_ms; /* heartbeat workloads: the leases' TTL */
    const char *lister_endpoint; /* list-under-load: where the lister LISTs (default: endpoint) */
    const char *workload;
    int clients;
    double seconds;
    bool no_prefill; /* the lookups' topics are there already (callgrind.sh) */
    double rate; /* per client, requests/s; 0: closed loop */
    int topics;
    int leases;
    int subscriptions; /* subscribe workloads: held before the measurement */
    int pid;
    bool json;
} options_t;

typedef struct {
    uint32_t *us;
    size_t count, cap;
} samples_t;

static options_t s_opt = {.workload = "lookup", .clients = 8, .seconds = 5, .topics = 1000, .leases = 10000,
                          .subscriptions = 10000, .lease_ttl_ms = 3000};
static void *s_ctx;
static atomic_int s_stop;
static atomic_int s_listing; /* list-under-load: the lister is running */
static uint64_t s_run_id;
static uint64_t *s_lease_ids;

static uint64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void s_add(samples_t *s, uint64_t us)
{
    if (s->count == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 65536;
        s->us = realloc(s->us, s->cap * sizeof *s->us);
    }
    s->us[s->count++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int s_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double s_pct(samples_t *s, double p)
{
    if (!s->count)
        return 0;
    size_t i = (size_t)(p * (double)(s->count - 1));
    return s->us[i];
}

/* Daemon CPU seconds (user + system) and RSS in MB, from /proc. */
static double s_cpu(int pid)
{
    if (!pid)
        return 0;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    unsigned long utime = 0, stime = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double s_rss_mb(int pid)
{
    if (!pid)
        return 0;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    double mb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            mb = strtod(line + 6, NULL) / 1024.0;
    if (f)
        fclose(f);
    return mb;
}

static void *s_socket_to(void *ctx, int type, const char *endpoint)
{
    void *s = zmq_socket(ctx, type);
    int linger = 0, timeout = 10000, hwm = 100000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_connect(s, endpoint);
    return s;
}

static void *s_socket_in(void *ctx, int type)
{
    return s_socket_to(ctx, type, s_opt.endpoint);
}

static void *s_socket(int type)
{
    return s_socket_in(s_ctx, type);
}

/* Encodes a request; the caller frees buf. */
static void s_encode(dc_request_t *r, msgpack_sbuffer *buf)
{
    msgpack_sbuffer_init(buf);
    dc_request_encode(r, buf);
}

static void s_topic_request(dc_request_t *r, const char *name, uint64_t lease_ttl)
{
    dc_request_init(r, DC_CMD_REGISTER_TOPIC);
    r->version = 2;
    r->present = DC_REQ_TOPIC_INFO;
    r->topic = (dc_topic_t){dc_str_from(name), dc_str_from("ipc:///tmp/bench/topic"),
                            dc_str_from("bench.Msg"), dc_str_from("bench"), 42};
    if (lease_ttl) {
        r->present |= DC_REQ_LEASE_TTL;
        r->lease_ttl_ms = lease_ttl;
    }
}

/* One request/reply on a REQ socket. Returns the reply status, -1 on timeout;
 * *lease gets the reply's lease id when given. */
static int s_call(void *sock, const void *body, size_t size, uint64_t *lease)
{
    if (zmq_send(sock, body, size, 0) < 0)
        return -1;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, 0) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    dc_reply_view_t v;
    char err[DC_ERR_LEN];
    int status = -1;
    if (dc_reply_decode(&v, zmq_msg_data(&msg), zmq_msg_size(&msg), err) == 0) {
        status = (int)v.status;
        if (lease)
            *lease = v.lease_id;
        dc_reply_view_release(&v);
    }
    zmq_msg_close(&msg);
    return status;
}

/* A unix datagram socket connected to the daemon's datagram channel. */
static int s_datagram_socket(void)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX}, self = {.sun_family = AF_UNIX};
    if (strncmp(s_opt.endpoint, "ipc://", 6) != 0 ||
        snprintf(addr.sun_path, sizeof addr.sun_path, "%s.hb", s_opt.endpoint + 6) >=
            (int)sizeof addr.sun_path) {
        fprintf(stderr, "discod-bench: the datagram channel needs an ipc:// endpoint\n");
        exit(2);
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&self, sizeof(sa_family_t)) != 0 ||
        connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fprintf(stderr, "discod-bench: cannot reach %s\n", addr.sun_path);
        exit(1);
    }
    return fd;
}

/* One exchange on the datagram channel: the reply's status, or -1. */
static int s_datagram_call(int fd, const void *body, size_t size)
{
    if (send(fd, body, size, 0) < 0)
        return -1;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1)
        return -1;
    char reply[2048];
    ssize_t got = recv(fd, reply, sizeof reply, 0);
    dc_reply_view_t v;
    char err[DC_ERR_LEN];
    int status = -1;
    if (got > 0 && dc_reply_decode(&v, reply, (size_t)got, err) == 0) {
        status = (int)v.status;
        dc_reply_view_release(&v);
    }
    return status;
}

/* Sends n requests through one pipelined DEALER (build fills request i,
 * using name as its storage); *leases_out[i] gets each reply's lease_id. */
typedef void build_fn(int i, dc_request_t *r, char *name, size_t name_size, const void *arg);

static void s_pipeline(int n, build_fn *build, const void *arg, uint64_t *leases_out)
{
    void *dealer = s_socket(ZMQ_DEALER);
    int sent = 0, received = 0, window = 256;
    while (received < n) {
        while (sent < n && sent - received < window) {
            char name[128];
            dc_request_t r;
            build(sent, &r, name, sizeof name, arg);
            msgpack_sbuffer buf;
            s_encode(&r, &buf);
            zmq_send(dealer, "", 0, ZMQ_SNDMORE);
            zmq_send(dealer, buf.data, buf.size, 0);
            msgpack_sbuffer_destroy(&buf);
            sent++;
        }
        zmq_msg_t empty, body;
        zmq_msg_init(&empty);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&empty, dealer, 0) < 0 || zmq_msg_recv(&body, dealer, 0) < 0) {
            fprintf(stderr, "discod-bench: pipelined requests timed out\n");
            exit(1);
        }
        if (leases_out) {
            dc_reply_view_t v;
            char err[DC_ERR_LEN];
            if (dc_reply_decode(&v, zmq_msg_data(&body), zmq_msg_size(&body), err) == 0) {
                leases_out[received] = v.lease_id;
                dc_reply_view_release(&v);
            }
        }
        zmq_msg_close(&empty);
        zmq_msg_close(&body);
        received++;
    }
    zmq_close(dealer);
}

typedef struct {
    const char *prefix;
    uint64_t lease_ttl;
} prefill_t;

static void s_build_register(int i, dc_request_t *r, char *name, size_t name_size, const void *arg)
{
    const prefill_t *p = arg;
    snprintf(name, name_size, "%s/%d", p->prefix, i);
    s_topic_request(r, name, p->lease_ttl);
}

/* Registers n topics named PREFIX/i (with a lease each when lease_ttl). */
static void s_prefill(const char *prefix, int n, uint64_t lease_ttl, uint64_t *leases_out)
{
    prefill_t p = {prefix, lease_ttl};
    s_pipeline(n, s_build_register, &p, leases_out);
}

/* A SUBSCRIBE of node sub-I to /bench/pre/(I mod topics); expecting another
 * type than the publishers' when arg is non-NULL (a mismatch each). */
static void s_subscribe_request(dc_request_t *r, char *name, size_t name_size, char *node,
                                size_t node_size, uint64_t i, bool mismatch)
{
    snprintf(name, name_size, "/bench/pre/%" PRIu64, i % (uint64_t)s_opt.topics);
    snprintf(node, node_size, "sub-%" PRIu64 "-%" PRIu64, s_run_id, i);
    dc_request_init(r, DC_CMD_SUBSCRIBE);
    r->version = 2;
    r->present = DC_REQ_TOPIC_NAME | DC_REQ_NODE_NAME | DC_REQ_MESSAGE_TYPE | DC_REQ_FINGERPRINT;
    r->topic_name = dc_str_from(name);
    r->node_name = dc_str_from(node);
    r->message_type = dc_str_from(mismatch ? "bench.Other" : "bench.Msg");
    r->fingerprint = 42;
}

static void s_build_subscribe(int i, dc_request_t *r, char *name, size_t name_size,
                              const void *arg)
{
    static char node[64];
    s_subscribe_request(r, name, name_size, node, sizeof node, (uint64_t)i + (1ull << 32),
                        arg != NULL);
}

static void s_build_revoke(int i, dc_request_t *r, char *name, size_t name_size, const void *arg)
{
    (void)name;
    (void)name_size;
    dc_request_init(r, DC_CMD_REVOKE_LEASE);
    r->version = 2;
    r->present = DC_REQ_LEASE_ID;
    r->lease_id = ((const uint64_t *)arg)[i];
}

/* The daemon's counter named key (protocol 2 STATS), or 0. */
static uint64_t s_stat(const char *key)
{
    void *sock = s_socket(ZMQ_REQ);
    dc_request_t r;
    dc_request_init(&r, DC_CMD_STATS);
    r.version = 2;
    msgpack_sbuffer buf;
    s_encode(&r, &buf);
    uint64_t value = 0;
    zmq_send(sock, buf.data, buf.size, 0);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sock, 0) >= 0) {
        dc_reply_view_t v;
        char err[DC_ERR_LEN];
        if (dc_reply_decode(&v, zmq_msg_data(&msg), zmq_msg_size(&msg), err) == 0) {
            for (uint32_t i = 0; v.stats && i < v.stats->via.map.size; i++)
                if (dc_mp_key_is(&v.stats->via.map.ptr[i].key, key))
                    value = v.stats->via.map.ptr[i].val.via.u64;
            dc_reply_view_release(&v);
        }
    }
    zmq_msg_close(&msg);
    msgpack_sbuffer_destroy(&buf);
    zmq_close(sock);
    return value;
}

typedef struct {
    int index;
    samples_t samples;
    uint64_t errors;
    const char *mode; /* what this thread does */
} worker_t;

static void s_pace(uint64_t start, uint64_t i)
{
    if (s_opt.rate <= 0)
        return;
    uint64_t due = start + (uint64_t)((double)i * 1e6 / s_opt.rate);
    uint64_t now = s_now_us();
    if (due > now)
        usleep((useconds_t)(due - now));
}

static void *s_worker(void *arg)
{
    worker_t *w = arg;
    /* The lister stands for another process: its own context, so its 1 MB
     * replies do not queue behind the lookups' in our I/O thread. */
    void *own_ctx = !strcmp(w->mode, "list") ? zmq_ctx_new() : NULL;
    const char *endpoint = own_ctx && s_opt.lister_endpoint ? s_opt.lister_endpoint : s_opt.endpoint;
    void *sock = s_socket_to(own_ctx ? own_ctx : s_ctx, ZMQ_REQ, endpoint);
    int datagram = !strcmp(w->mode, "heartbeat-datagram") ? s_datagram_socket() : -1;
    unsigned int seed = (unsigned int)(w->index * 7919 + 17);
    uint64_t start = s_now_us();
    for (uint64_t i = 0; !atomic_load(&s_stop); i++) {
        s_pace(start, i);
        dc_request_t r;
        char name[128], node[64];
        const char *mode = w->mode;
        if (!strcmp(mode, "mixed"))
            mode = rand_r(&seed) % 10 == 0 ? "register" : "lookup";
        if (!strcmp(mode, "ping")) {
            dc_request_init(&r, DC_CMD_PING);
        } else if (!strcmp(mode, "lookup")) {
            snprintf(name, sizeof name, "/bench/pre/%d", rand_r(&seed) % s_opt.topics);
            dc_request_init(&r, DC_CMD_LOOKUP_TOPIC);
            r.present = DC_REQ_TOPIC_NAME;
            r.topic_name = dc_str_from(name);
        } else if (!strcmp(mode, "register")) {
            snprintf(name, sizeof name, "/bench/reg/%" PRIu64 "/%d/%" PRIu64, s_run_id, w->index,
                     i);
            s_topic_request(&r, name, 0);
        } else if (!strncmp(mode, "subscribe", 9)) {
            s_subscribe_request(&r, name, sizeof name, node, sizeof node,
                                i * (uint64_t)s_opt.clients + (uint64_t)w->index,
                                !strcmp(mode, "subscribe-mismatch"));
        } else if (!strcmp(mode, "write-path")) {
            /* A name never registered: the whole write path, no commit. */
            snprintf(name, sizeof name, "/bench/missing/%d", w->index);
            dc_request_init(&r, DC_CMD_UNREGISTER_TOPIC);
            r.present = DC_REQ_TOPIC_NAME;
            r.topic_name = dc_str_from(name);
        } else if (!strncmp(mode, "heartbeat", 9)) {
            dc_request_init(&r, DC_CMD_HEARTBEAT);
            r.version = 2;
            r.present = DC_REQ_LEASE_ID;
            r.lease_id = s_lease_ids[(i * (uint64_t)s_opt.clients + (uint64_t)w->index) %
                                     (uint64_t)s_opt.leases];
        } else { /* list */
            dc_request_init(&r, DC_CMD_LIST_TOPICS);
            atomic_store(&s_listing, 1);
        }
        msgpack_sbuffer buf;
        s_encode(&r, &buf);
        uint64_t t0 = s_now_us();
        int status = datagram >= 0 ? s_datagram_call(datagram, buf.data, buf.size)
                                   : s_call(sock, buf.data, buf.size, NULL);
        uint64_t took = s_now_us() - t0;
        msgpack_sbuffer_destroy(&buf);
        if (status < 0 && datagram >= 0) {
            w->errors++;
            continue;
        }
        if (status < 0) {
            w->errors++;
            zmq_close(sock);
            sock = s_socket_to(own_ctx ? own_ctx : s_ctx, ZMQ_REQ, endpoint);
            continue;
        }
        /* A lookup may miss; a write-path UNREGISTER must (nothing by its name). */
        bool expected = status == 0 ? strcmp(mode, "write-path") != 0
                                    : !strcmp(mode, "lookup") ||
                                          (!strcmp(mode, "write-path") &&
                                           status == DC_STATUS_NOT_FOUND);
        if (!expected)
            w->errors++;
        s_add(&w->samples, took);
    }
    zmq_close(sock);
    if (own_ctx)
        zmq_ctx_term(own_ctx);
    if (datagram >= 0)
        close(datagram);
    return NULL;
}

typedef struct {
    const char *name;
    double seconds;
    samples_t all;
    uint64_t errors;
    double cpu, rss;
    char extra[256];
} result_t;

static void s_print(result_t *r)
{
    qsort(r->all.us, r->all.count, sizeof *r->all.us, s_cmp);
    double throughput = (double)r->all.count / r->seconds;
    double cpu_per_req = r->all.count ? r->cpu * 1e6 / (double)r->all.count : 0;
    if (s_opt.json)
        printf("{\"workload\":\"%s\",\"clients\":%d,\"requests\":%zu,\"errors\":%" PRIu64
               ",\"seconds\":%.2f,\"throughput\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
               "\"p999_us\":%.0f,\"daemon_cpu_us_per_request\":%.2f,\"daemon_cpu_percent\":%.1f,"
               "\"daemon_rss_mb\":%.1f%s%s}\n",
               r->name, s_opt.clients, r->all.count, r->errors, r->seconds, throughput,
               s_pct(&r->all, 0.5), s_pct(&r->all, 0.99), s_pct(&r->all, 0.999), cpu_per_req,
               100 * r->cpu / r->seconds, r->rss, *r->extra ? "," : "", r->extra);
    else {
        /* Failed requests are counted in the throughput: a row that has any
         * says so in its notes, and is not a measurement. */
        char notes[320];
        if (r->errors)
            snprintf(notes, sizeof notes, "%s%s%" PRIu64 " FAILED REQUESTS", r->extra,
                     *r->extra ? "; " : "", r->errors);
        else
            snprintf(notes, sizeof notes, "%s", r->extra);
        printf("| %s | %d | %.0f/s | %.0f | %.0f | %.0f | %.2f | %.1f%% | %.1f | %s |\n", r->name,
               s_opt.clients, throughput, s_pct(&r->all, 0.5), s_pct(&r->all, 0.99),
               s_pct(&r->all, 0.999), cpu_per_req, 100 * r->cpu / r->seconds, r->rss, notes);
    }
}

/* Runs `clients` workers in mode for the configured time; fills r. */
static void s_run(const char *mode, int clients, double seconds, result_t *r, worker_t *extra)
{
    worker_t *workers = calloc((size_t)clients, sizeof *workers);
    pthread_t *threads = calloc((size_t)clients, sizeof *threads);
    atomic_store(&s_stop, 0);
    double cpu0 = s_cpu(s_opt.pid);
    uint64_t t0 = s_now_us();
    for (int i = 0; i < clients; i++) {
        workers[i].index = i;
        workers[i].mode = mode;
        pthread_create(&threads[i], NULL, s_worker, &workers[i]);
    }
    pthread_t extra_thread;
    if (extra)
        pthread_create(&extra_thread, NULL, s_worker, extra);
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&s_stop, 1);
    for (int i = 0; i < clients; i++)
        pthread_join(threads[i], NULL);
    if (extra)
        pthread_join(extra_thread, NULL);
    r->seconds = (double)(s_now_us() - t0) / 1e6;
    r->cpu = s_cpu(s_opt.pid) - cpu0;
    r->rss = s_rss_mb(s_opt.pid);
    for (int i = 0; i < clients; i++) {
        for (size_t k = 0; k < workers[i].samples.count; k++)
            s_add(&r->all, workers[i].samples.us[k]);
        r->errors += workers[i].errors;
        free(workers[i].samples.us);
    }
    free(workers);
    free(threads);
}

/* wait: a waiter holds WAIT_TOPIC on a fresh name, the registrar registers it;
 * the latency is from the registration's acknowledgement to the wake-up. */
static void s_wait_workload(result_t *r)
{
    void *waiter = s_socket(ZMQ_DEALER);
    void *registrar = s_socket(ZMQ_REQ);
    double cpu0 = s_cpu(s_opt.pid);
    uint64_t t0 = s_now_us(), end = t0 + (uint64_t)(s_opt.seconds * 1e6);
    for (int i = 0; s_now_us() < end; i++) {
        char name[128];
        snprintf(name, sizeof name, "/bench/wait/%" PRIu64 "/%d", s_run_id, i);
        dc_request_t w;
        dc_request_init(&w, DC_CMD_WAIT_TOPIC);
        w.version = 2;
        w.present = DC_REQ_TOPIC_NAME | DC_REQ_TIMEOUT;
        w.topic_name = dc_str_from(name);
        w.timeout_ms = 10000;
        msgpack_sbuffer buf;
        s_encode(&w, &buf);
        zmq_send(waiter, "", 0, ZMQ_SNDMORE);
        zmq_send(waiter, buf.data, buf.size, 0);
        msgpack_sbuffer_destroy(&buf);
        usleep(2000); /* let the WAIT be held */
        dc_request_t reg;
        s_topic_request(&reg, name, 0);
        s_encode(&reg, &buf);
        int status = s_call(registrar, buf.data, buf.size, NULL);
        uint64_t acked = s_now_us();
        msgpack_sbuffer_destroy(&buf);
        zmq_msg_t empty, body;
        zmq_msg_init(&empty);
        zmq_msg_init(&body);
        int got = zmq_msg_recv(&empty, waiter, 0) >= 0 && zmq_msg_recv(&body, waiter, 0) >= 0;
        uint64_t woke = s_now_us();
        zmq_msg_close(&empty);
        zmq_msg_close(&body);
        if (status != 0 || !got) {
            r->errors++;
            continue;
        }
        s_add(&r->all, woke > acked ? woke - acked : 0);
    }
    /* CPU per sample: a held WAIT and the registration that wakes it. */
    r->seconds = (double)(s_now_us() - t0) / 1e6;
    r->cpu = s_cpu(s_opt.pid) - cpu0;
    r->rss = s_rss_mb(s_opt.pid);
    zmq_close(waiter);
    zmq_close(registrar);
}

/*==== bringup: a robot's nodes starting at once ====*/

typedef struct {
    int index, nodes;
    uint64_t round;
    pthread_barrier_t *start;
    uint64_t done_us;
    int failed;
} node_t;

static void *s_node(void *arg)
{
    node_t *n = arg;
    char name[96], next[96], address[128];
    snprintf(name, sizeof name, "/t/%" PRIu64 "/%" PRIu64 "/%d", s_run_id, n->round, n->index);
    snprintf(next, sizeof next, "/t/%" PRIu64 "/%" PRIu64 "/%d", s_run_id, n->round,
             (n->index + 1) % n->nodes);
    snprintf(address, sizeof address, "ipc:///tmp/bench-bringup-%d.sock", n->index);
    pthread_barrier_wait(n->start);
    /* A node starting: its own client, its registration, its wait. */
    discod_client_t *c = discod_client_new(s_opt.endpoint);
    discod_topic_t t = {name, address, "bench.Msg", 7, name};
    discod_topic_t found = {0};
    n->failed = !c || discod_register(c, &t) != DISCOD_OK ||
                discod_wait_for_topic(c, next, 30000, &found) != DISCOD_OK;
    n->done_us = s_now_us();
    discod_topic_clear(&found);
    discod_client_destroy(&c);
    return NULL;
}

static double s_self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Rounds of --clients nodes for --seconds (at least one): each sample is a
 * round's wall time, from the start to the last node holding its endpoint. */
static void s_bringup_workload(result_t *r)
{
    int nodes = s_opt.clients;
    node_t *n = calloc((size_t)nodes, sizeof *n);
    pthread_t *threads = calloc((size_t)nodes, sizeof *threads);
    double daemon_cpu = 0, client_cpu = 0;
    uint64_t t0 = s_now_us(), end = t0 + (uint64_t)(s_opt.seconds * 1e6), rounds = 0;
    do {
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)nodes + 1);
        for (int i = 0; i < nodes; i++) {
            n[i] = (node_t){.index = i, .nodes = nodes, .round = rounds, .start = &start};
            pthread_create(&threads[i], NULL, s_node, &n[i]);
        }
        usleep(20000); /* every thread at the barrier */
        double d0 = s_cpu(s_opt.pid), c0 = s_self_cpu();
        uint64_t began = s_now_us();
        pthread_barrier_wait(&start);
        uint64_t last = began;
        int failed = 0;
        for (int i = 0; i < nodes; i++) {
            pthread_join(threads[i], NULL);
            failed += n[i].failed;
            if (n[i].done_us > last)
                last = n[i].done_us;
        }
        daemon_cpu += s_cpu(s_opt.pid) - d0;
        client_cpu += s_self_cpu() - c0;
        pthread_barrier_destroy(&start);
        r->errors += (uint64_t)failed;
        s_add(&r->all, (uint32_t)(last - began));
        rounds++;
    } while (s_now_us() < end);
    r->seconds = (double)(s_now_us() - t0) / 1e6;
    r->cpu = daemon_cpu;
    r->rss = s_rss_mb(s_opt.pid);
    qsort(r->all.us, r->all.count, sizeof *r->all.us, s_cmp);
    double per_node = 1e3 / (double)rounds / nodes;
    snprintf(r->extra, sizeof r->extra,
             s_opt.json ? "\"nodes\":%d,\"rounds\":%" PRIu64
                          ",\"wall_ms_p50\":%.1f,\"daemon_cpu_ms_per_node\":%.3f,"
                          "\"client_cpu_ms_per_node\":%.3f"
                        : "%d nodes, %" PRIu64 " rounds: wall p50 %.1f ms; per node: daemon CPU "
                          "%.3f ms, client CPU %.3f ms",
             nodes, rounds, s_pct(&r->all, 0.5) / 1e3, daemon_cpu * per_node,
             client_cpu * per_node);
    free(n);
    free(threads);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"endpoint", required_argument, 0, 'e'}, {"workload", required_argument, 0, 'w'},
        {"clients", required_argument, 0, 'c'},  {"seconds", required_argument, 0, 's'},
        {"rate", required_argument, 0, 'r'},     {"topics", required_argument, 0, 't'},
        {"leases", required_argument, 0, 'l'},   {"pid", required_argument, 0, 'p'},
        {"json", no_argument, 0, 'j'},           {"help", no_argument, 0, 'h'},
        {"lister-endpoint", required_argument, 0, 'L'},
        {"lease-ttl-ms", required_argument, 0, 'T'},
        {"subscriptions", required_argument, 0, 'S'},
        {"no-prefill", no_argument, 0, 'P'},
        {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'e': s_opt.endpoint = optarg; break;
        case 'w': s_opt.workload = optarg; break;
        case 'c': s_opt.clients = atoi(optarg); break;
        case 's': s_opt.seconds = atof(optarg); break;
        case 'r': s_opt.rate = atof(optarg); break;
        case 't': s_opt.topics = atoi(optarg); break;
        case 'l': s_opt.leases = atoi(optarg); break;
        case 'p': s_opt.pid = atoi(optarg); break;
        case 'j': s_opt.json = true; break;
        case 'L': s_opt.lister_endpoint = optarg; break;
        case 'T': s_opt.lease_ttl_ms = strtoull(optarg, NULL, 10); break;
        case 'S': s_opt.subscriptions = atoi(optarg); break;
        case 'P': s_opt.no_prefill = true; break;
        default:
            fprintf(stderr, "usage: discod-bench --endpoint EP [--pid PID] --workload "
                            "ping|lookup|register|write-path|mixed|heartbeat|\n"
                            "       heartbeat-datagram|wait|list-under-load|bringup|\n"
                            "       subscribe|subscribe-mismatch|lookup-subscribed\n"
                            "       [--clients N] [--seconds S] [--rate R] [--topics N] "
                            "[--leases N] [--json]\n"
                            "       [--lister-endpoint EP] (list-under-load: LIST another daemon)\n"
                            "       [--lease-ttl-ms N] (heartbeat workloads, default 3000)\n"
                            "       [--subscriptions N] (subscribe workloads: held first, "
                            "default 10000)\n"
                            "       [--no-prefill] (lookup, mixed: the --topics are registered "
                            "already)\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!s_opt.endpoint || s_opt.clients < 1 || s_opt.seconds <= 0) {
        fprintf(stderr, "discod-bench: --endpoint is required (see --help)\n");
        return 2;
    }
    s_ctx = zmq_ctx_new();
    s_run_id = (uint64_t)time(NULL) * 1000 + (uint64_t)getpid() % 1000;
    result_t r;
    memset(&r, 0, sizeof r);
    r.name = s_opt.workload;
    const char *w = s_opt.workload;
    if (!strcmp(w, "lookup-subscribed")) {
        /* Lookups (protocol 1, each counted per topic) with --subscriptions
         * held: what subscriptions and the lookup counts cost a lookup. */
        s_prefill("/bench/pre", s_opt.topics, 0, NULL);
        s_pipeline(s_opt.subscriptions, s_build_subscribe, NULL, NULL);
        s_run("lookup", s_opt.clients, s_opt.seconds, &r, NULL);
        snprintf(r.extra, sizeof r.extra,
                 s_opt.json ? "\"subscriptions\":%" PRIu64 : "%" PRIu64 " subscriptions held",
                 s_stat("subscriptions"));
    } else if (!strcmp(w, "ping") || !strcmp(w, "lookup") || !strcmp(w, "mixed") ||
        !strcmp(w, "write-path")) {
        if (strcmp(w, "ping") != 0 && strcmp(w, "write-path") != 0 && !s_opt.no_prefill)
            s_prefill("/bench/pre", s_opt.topics, 0, NULL);
        s_run(w, s_opt.clients, s_opt.seconds, &r, NULL);
    } else if (!strcmp(w, "register")) {
        uint64_t commits0 = s_stat("commits"), writes0 = s_stat("batched_writes");
        s_run("register", s_opt.clients, s_opt.seconds, &r, NULL);
        uint64_t commits = s_stat("commits") - commits0, writes = s_stat("batched_writes") - writes0;
        snprintf(r.extra, sizeof r.extra,
                 s_opt.json ? "\"fsyncs_per_registration\":%.3f" : "fsyncs/registration %.3f",
                 writes ? (double)commits / (double)writes : 0.0);
    } else if (!strcmp(w, "heartbeat") || !strcmp(w, "heartbeat-datagram")) {
        s_lease_ids = calloc((size_t)s_opt.leases, sizeof *s_lease_ids);
        /* 1 Hz is TTL/3 for the default 3 s TTL, the rate a session renews at. */
        s_prefill("/bench/lease", s_opt.leases, s_opt.lease_ttl_ms, s_lease_ids);
        /* Every lease renewed once a second, spread over the clients. */
        s_opt.rate = (double)s_opt.leases / s_opt.clients;
        s_run(w, s_opt.clients, s_opt.seconds, &r, NULL);
        /* Measured; now revoke them, so they do not expire (10,000 removals)
         * in the middle of whatever is measured next. */
        s_pipeline(s_opt.leases, s_build_revoke, s_lease_ids, NULL);
        snprintf(r.extra, sizeof r.extra,
                 s_opt.json ? "\"leases\":%d" : "%d leases at 1 Hz", s_opt.leases);
    } else if (!strcmp(w, "subscribe") || !strcmp(w, "subscribe-mismatch")) {
        /* Durable SUBSCRIBEs of new nodes to topics that have a publisher,
         * with --subscriptions held already (subscribe-mismatch: each
         * expecting another type, so each is a mismatch to detect, log and
         * count). Then lookups with all of them held. */
        bool mismatch = !strcmp(w, "subscribe-mismatch");
        s_prefill("/bench/pre", s_opt.topics, 0, NULL);
        s_pipeline(s_opt.subscriptions, s_build_subscribe, mismatch ? "" : NULL, NULL);
        uint64_t detected0 = s_stat("mismatches_detected");
        s_run(w, s_opt.clients, s_opt.seconds, &r, NULL);
        uint64_t detected = s_stat("mismatches_detected") - detected0;
        snprintf(r.extra, sizeof r.extra,
                 s_opt.json ? "\"subscriptions\":%" PRIu64 ",\"mismatches_detected\":%" PRIu64
                            : "%" PRIu64 " subscriptions held at the end; %" PRIu64
                              " mismatches detected",
                 s_stat("subscriptions"), detected);
    } else if (!strcmp(w, "wait")) {
        s_wait_workload(&r);
    } else if (!strcmp(w, "bringup")) {
        s_bringup_workload(&r);
    } else if (!strcmp(w, "list-under-load")) {
        s_prefill("/bench/pre", s_opt.topics, 0, NULL);
        result_t alone;
        memset(&alone, 0, sizeof alone);
        s_run("lookup", s_opt.clients, s_opt.seconds / 2, &alone, NULL);
        qsort(alone.all.us, alone.all.count, sizeof *alone.all.us, s_cmp);
        worker_t lister = {.index = 1000, .mode = "list"};
        s_run("lookup", s_opt.clients, s_opt.seconds / 2, &r, &lister);
        qsort(r.all.us, r.all.count, sizeof *r.all.us, s_cmp);
        double p99_alone = s_pct(&alone.all, 0.99), p99_loaded = s_pct(&r.all, 0.99);
        snprintf(r.extra, sizeof r.extra, "%zu LISTs of %d; p99 alone %.0f us, ratio %.2f",
                 lister.samples.count, s_opt.topics, p99_alone,
                 p99_alone ? p99_loaded / p99_alone : 0);
        if (s_opt.json)
            snprintf(r.extra, sizeof r.extra, "\"lists\":%zu,\"p99_alone_us\":%.0f,\"p99_ratio\":%.2f",
                     lister.samples.count, p99_alone, p99_alone ? p99_loaded / p99_alone : 0);
        free(alone.all.us);
        free(lister.samples.us);
    } else {
        fprintf(stderr, "discod-bench: unknown workload %s\n", w);
        return 2;
    }
    s_print(&r);
    free(r.all.us);
    free(s_lease_ids);
    zmq_ctx_term(s_ctx);
    return r.errors && r.all.count == 0 ? 1 : 0;
}
