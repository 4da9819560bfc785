/* dc_http.c: the HTTP listener: address, token, limits, routing (see the .h). */
#include "dc_http.h"
#include "dc_assets.h"
#include "dc_http_views.h"
#include "dc_log.h"
#include "dc_metrics.h"
#include "dc_sse.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dc_http {
    dc_context_t *ctx;
    struct MHD_Daemon *daemon;
    char token[256]; /* "" : none asked */
    atomic_bool stopping;
    uint16_t port;
};

/*==== The address and the token ====*/

/* HOST:PORT (HOST an IPv4 address, localhost, or [IPv6]) into addr. */
static int s_parse_address(const char *text, struct sockaddr_storage *addr, bool *loopback)
{
    memset(addr, 0, sizeof *addr);
    char host[128];
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof host)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = 0;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535)
        return -1;
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    size_t len = strlen(host);
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
        host[len - 1] = 0;
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return -1;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return -1;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

/* The token: the first line of path, without its end of line. */
static int s_read_token(const char *path, char *token, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    bool ok = fgets(token, (int)size, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    token[strcspn(token, "\r\n")] = 0;
    return strlen(token) >= 16 ? 0 : -1;
}

/* Compares in a time that does not depend on where they differ. */
static bool s_same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/*==== Answers ====*/

static enum MHD_Result s_queue(struct MHD_Connection *conn, int status, const char *type,
                               const void *data, size_t size, bool copy)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        size, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result s_text(struct MHD_Connection *conn, int status, const char *text)
{
    return s_queue(conn, status, "text/plain; charset=utf-8", text, strlen(text), true);
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload,
                                size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    dc_http_t *self = cls;
    if (!*state) { /* the headers: answer once they are all in */
        *state = self;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return s_text(conn, 405, "read-only: GET and HEAD only");
        return MHD_YES;
    }
    if (*upload_size) { /* a body on a GET: not read, not wanted */
        *upload_size = 0;
        return MHD_YES;
    }
    if (self->token[0]) {
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (!auth || strncmp(auth, "Bearer ", 7) || !s_same_secret(auth + 7, self->token)) {
            struct MHD_Response *r = MHD_create_response_from_buffer(13, (void *)"unauthorized\n",
                                                                     MHD_RESPMEM_PERSISTENT);
            if (!r)
                return MHD_NO;
            MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
            enum MHD_Result rc = MHD_queue_response(conn, 401, r);
            MHD_destroy_response(r);
            return rc;
        }
    }
    if (!strcmp(url, "/metrics")) {
        msgpack_sbuffer body;
        msgpack_sbuffer_init(&body);
        dc_metrics_write(self->ctx, &body);
        enum MHD_Result rc = s_queue(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
                                     body.data ? body.data : "", body.size, true);
        msgpack_sbuffer_destroy(&body);
        return rc;
    }
    if (!strcmp(url, "/api/v1/events")) {
        struct MHD_Response *r = dc_sse_response(self->ctx, &self->stopping);
        if (!r)
            return s_text(conn, 503, "too many event streams open");
        enum MHD_Result rc = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    dc_http_args_t args = {MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "topic"),
                           MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "node"),
                           MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "prefix")};
    dc_http_body_t body;
    if (dc_http_view(self->ctx, url, &args, &body)) {
        enum MHD_Result rc = s_queue(conn, body.status, body.type,
                                     body.body.data ? body.body.data : "", body.body.size, true);
        msgpack_sbuffer_destroy(&body.body);
        return rc;
    }
    const dc_asset_t *asset = dc_asset_find(!strcmp(url, "/") ? "/index.html" : url);
    if (asset)
        return s_queue(conn, 200, asset->type, asset->data, asset->size, false);
    return s_text(conn, 404, "not found");
}

static void s_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = 0;
    dc_debug("http: %s", line);
}

/*==== Start and stop ====*/

dc_http_t *dc_http_start(dc_context_t *ctx, bool *failed)
{
    const dc_config_t *config = ctx->config;
    *failed = false;
    if (!config->http_address)
        return NULL;
    *failed = true;
    struct sockaddr_storage addr;
    bool loopback = false;
    if (s_parse_address(config->http_address, &addr, &loopback) != 0) {
        dc_error("--http %s: expected HOST:PORT (HOST an IPv4 address, localhost or [IPv6])",
                 config->http_address);
        return NULL;
    }
    dc_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    if (config->http_token_file &&
        s_read_token(config->http_token_file, self->token, sizeof self->token) != 0) {
        dc_error("--http-token %s: cannot read a token of at least 16 characters from its "
                 "first line",
                 config->http_token_file);
        free(self);
        return NULL;
    }
    if (!loopback && !self->token[0] && !config->http_insecure) {
        dc_error("--http %s is off loopback: anyone on the network could read the robot's "
                 "graph; give --http-token FILE, or --insecure-http",
                 config->http_address);
        free(self);
        return NULL;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_handle, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)DC_HTTP_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)DC_HTTP_MAX_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)16384, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_EXTERNAL_LOGGER,
        s_log, NULL, MHD_OPTION_END);
    if (!self->daemon) {
        dc_error("cannot listen for HTTP on %s (set by %s)", config->http_address,
                 "--http or http/address");
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : 0;
    *failed = false;
    dc_info("HTTP on %s (port %u)%s: /metrics, /healthz, /readyz, /api/v1, the dashboard at /",
            config->http_address, self->port,
            self->token[0] ? ", bearer token required"
            : loopback     ? ""
                           : ", OPEN: no token");
    return self;
}

void dc_http_stop(dc_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_http_t *self = *self_p;
    atomic_store(&self->stopping, true); /* every stream ends within a poll */
    MHD_stop_daemon(self->daemon);
    free(self);
    *self_p = NULL;
}

uint16_t dc_http_port(const dc_http_t *self)
{
    return self ? self->port : 0;
}
