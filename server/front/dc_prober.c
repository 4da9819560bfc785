/* dc_prober.c: endpoint liveness for lease-less topics (see the .h). */
#include "dc_prober.h"
#include "dc_clock.h"
#include "dc_handoff.h"
#include "dc_log.h"
#include "dc_protocol.h"
#include "dc_write_op.h"
#include "dc_thread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long a loopback tcp connect may take before we call it "unknown". */
#define DC_TCP_PROBE_MS 200

typedef struct {
    dc_context_t *ctx;
    zhashx_t *failures; /* "name\nnode" (a registration) -> consecutive refusals (as a
                           pointer-sized int) */
} prober_t;

dc_probe_t dc_prober_tcp(const char *endpoint)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return DC_PROBE_UNKNOWN;
    const char *host = endpoint + 6;
    const char *colon = strrchr(host, ':');
    if (!colon)
        return DC_PROBE_UNKNOWN;
    char name[64];
    size_t len = (size_t)(colon - host);
    if (len == 0 || len >= sizeof name)
        return DC_PROBE_UNKNOWN;
    memcpy(name, host, len);
    name[len] = 0;
    long port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535)
        return DC_PROBE_UNKNOWN;
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    socklen_t size;
    if (!strcmp(name, "[::1]") || !strcmp(name, "::1")) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        a6->sin6_addr = in6addr_loopback;
        size = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (!strcmp(name, "localhost") || !strcmp(name, "*") || !strcmp(name, "0.0.0.0"))
            a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, name, &a4->sin_addr) != 1 ||
                 (ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            return DC_PROBE_UNKNOWN; /* not ours to judge: only loopback is probed */
        size = sizeof *a4;
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return DC_PROBE_UNKNOWN;
    dc_probe_t result = DC_PROBE_UNKNOWN;
    if (connect(fd, (struct sockaddr *)&addr, size) == 0)
        result = DC_PROBE_ALIVE;
    else if (errno == ECONNREFUSED)
        result = DC_PROBE_DEAD;
    else if (errno == EINPROGRESS) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        if (poll(&pfd, 1, DC_TCP_PROBE_MS) == 1) {
            int error = 0;
            socklen_t elen = sizeof error;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &elen);
            result = error == 0 ? DC_PROBE_ALIVE
                                : error == ECONNREFUSED ? DC_PROBE_DEAD : DC_PROBE_UNKNOWN;
        }
    }
    close(fd);
    return result;
}

static void s_report_dead(prober_t *self, const dc_entry_t *e, dc_reason_t reason)
{
    dc_write_op_t *op = dc_write_op_remove_dead(e, reason);
    if (!op || dc_handoff_push_wait(self->ctx->writes, op, 1000) != 0) {
        dc_write_op_destroy(&op);
        return;
    }
    dc_info("topic %s: endpoint %s %s; removing node %s's registration", e->topic.name.ptr,
            e->topic.address.ptr,
            reason == DC_REASON_LEGACY_TTL ? "outlived legacy_ttl_ms" : "is dead",
            e->topic.publisher_node.ptr);
}

/* In a cluster an ipc endpoint can be checked only on the computer it lives
 * on: the member the registration came in at probes it. tcp endpoints are
 * the leader's to probe (one prober for them). Standalone: all of them. */
static bool s_mine_to_probe(prober_t *self, const dc_entry_t *e, bool ipc)
{
    uint64_t me = atomic_load(&self->ctx->cluster.member_id);
    if (!me)
        return true;
    if (ipc)
        return e->origin == me;
    return atomic_load(&self->ctx->cluster.role) == DC_ROLE_LEADER;
}

static void s_probe_all(prober_t *self)
{
    const dc_config_t *config = self->ctx->config;
    dc_entry_t **entries = NULL;
    size_t n = dc_registry_snapshot(self->ctx->registry, NULL, &entries);
    if (n == (size_t)-1)
        return;
    zhashx_t *seen = zhashx_new();
    uint64_t now = dc_wall_ms();
    for (size_t i = 0; i < n; i++) {
        const dc_entry_t *e = entries[i];
        if (e->lease_id)
            continue;
        if (config->legacy_ttl_ms && e->registered_at_ms &&
            now - e->registered_at_ms > config->legacy_ttl_ms && s_mine_to_probe(self, e, false)) {
            s_report_dead(self, e, DC_REASON_LEGACY_TTL);
            continue;
        }
        if (!config->probe)
            continue;
        dc_probe_t result = DC_PROBE_UNKNOWN;
        const char *path = dc_ipc_path(e->topic.address.ptr);
        if (!s_mine_to_probe(self, e, path != NULL))
            continue;
        if (path && config->probe_ipc)
            result = dc_ipc_probe(path);
        else if (!path && config->probe_tcp)
            result = dc_prober_tcp(e->topic.address.ptr);
        char key[DC_MAX_NAME_LEN + DC_MAX_NODE_LEN + 2];
        snprintf(key, sizeof key, "%s\n%s", e->topic.name.ptr, e->topic.publisher_node.ptr);
        uintptr_t count = (uintptr_t)zhashx_lookup(self->failures, key);
        if (result == DC_PROBE_DEAD) {
            count++;
            if (count >= config->probe_failures) {
                s_report_dead(self, e, DC_REASON_ENDPOINT_DEAD);
                count = 0;
            }
        } else
            count = 0;
        if (count)
            zhashx_update(seen, key, (void *)count);
    }
    /* Only topics still failing keep a count. */
    zhashx_destroy(&self->failures);
    self->failures = seen;
    dc_registry_release_snapshot(entries, n);
}

void dc_prober_actor(zsock_t *pipe, void *arg)
{
    dc_thread_name("dc-prober");
    prober_t self = {.ctx = arg};
    self.failures = zhashx_new();
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    while (true) {
        void *which = zpoller_wait(poller, (int)self.ctx->config->probe_interval_ms);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            bool term = !command || streq(command, "$TERM");
            zstr_free(&command);
            if (term)
                break;
        } else if (zpoller_expired(poller))
            s_probe_all(&self);
    }
    zpoller_destroy(&poller);
    zhashx_destroy(&self.failures);
}
