/* dc_config.c: defaults, ZPL config file and command-line flags (see the .h).
 *
 * Every setting is one row of s_settings: its flag, its config-file key, how
 * its value is read, its default, its bounds and its help line. The defaults
 * (dc_config_defaults), the config file (dc_config_load_file), the flags and
 * --help (dc_config_from_args) and the check that config/discod.conf
 * documents every key (tests/unit/test_config.c) are all derived from it. */
#include "dc_config.h"
#include "dc_endpoint.h"
#include "dc_protocol.h"
#include "discod_version.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*==== Value parsers: each prints what is wrong and returns -1 ====*/

static int s_parse_int(const char *where, const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || !end || end == text || *end || v < min || v > max) {
        fprintf(stderr, "discod: %s: '%s' is not an integer in [%lld, %lld]\n", where, text,
                (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

static int s_parse_bool(const char *where, const char *text, bool *out)
{
    if (!strcasecmp(text, "1") || !strcasecmp(text, "true") || !strcasecmp(text, "yes")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(text, "0") || !strcasecmp(text, "false") || !strcasecmp(text, "no")) {
        *out = false;
        return 0;
    }
    fprintf(stderr, "discod: %s: '%s' is not a boolean (true|false)\n", where, text);
    return -1;
}

static int s_set_endpoint(dc_config_t *c, const char *where, const char *ep)
{
    if (strncmp(ep, "ipc://", 6) != 0 && strncmp(ep, "tcp://", 6) != 0) {
        fprintf(stderr, "discod: %s: endpoint '%s' must start with ipc:// or tcp://\n", where,
                ep);
        return -1;
    }
    if (c->endpoint_count == DC_MAX_ENDPOINTS) {
        fprintf(stderr, "discod: %s: more than %d endpoints\n", where, DC_MAX_ENDPOINTS);
        return -1;
    }
    c->endpoints[c->endpoint_count++] = strdup(ep);
    return 0;
}

static void s_clear_endpoints(dc_config_t *c)
{
    for (int i = 0; i < c->endpoint_count; i++)
        free(c->endpoints[i]);
    c->endpoint_count = 0;
}

/* ID=HOST:PORT: a member of the cluster. */
static int s_set_member(dc_config_t *c, const char *where, const char *value)
{
    char *end = NULL;
    errno = 0;
    unsigned long long id = strtoull(value, &end, 10);
    const char *address = end && *end == '=' ? end + 1 : NULL;
    const char *colon = address ? strrchr(address, ':') : NULL;
    char *port_end = NULL;
    long port = colon ? strtol(colon + 1, &port_end, 10) : 0;
    if (!address || errno || id == 0 || !isdigit((unsigned char)*value) || colon == address ||
        !colon || !port_end || *port_end || port < 1 || port > 65535 ||
        strlen(address) > 200) {
        fprintf(stderr, "discod: %s: '%s' is not ID=HOST:PORT (ID a number from 1)\n", where,
                value);
        return -1;
    }
    for (int i = 0; i < c->member_count; i++) {
        if (c->members[i].id == id || !strcmp(c->members[i].address, address)) {
            fprintf(stderr, "discod: %s: member %llu or address %s is listed twice\n", where, id,
                    address);
            return -1;
        }
    }
    if (c->member_count == DC_MAX_MEMBERS) {
        fprintf(stderr, "discod: %s: more than %d members\n", where, DC_MAX_MEMBERS);
        return -1;
    }
    c->members[c->member_count].id = id;
    c->members[c->member_count++].address = strdup(address);
    return 0;
}

static void s_clear_members(dc_config_t *c)
{
    for (int i = 0; i < c->member_count; i++)
        free(c->members[i].address);
    c->member_count = 0;
}

static int s_set_db(dc_config_t *c, const char *where, const char *value)
{
    if (!*value) {
        fprintf(stderr, "discod: %s: empty database path\n", where);
        return -1;
    }
    free(c->db_path);
    c->db_path = strdup(value);
    return 0;
}

static int s_set_log_level(dc_config_t *c, const char *where, const char *value)
{
    if (dc_log_parse_level(value, &c->log_level) == 0)
        return 0;
    fprintf(stderr, "discod: %s: log level must be DEBUG|INFO|WARNING|ERROR, not '%s'\n", where,
            value);
    return -1;
}

static int s_set_events(dc_config_t *c, const char *where, const char *value)
{
    free(c->events_endpoint);
    c->events_endpoint = NULL;
    if (!*value || !strcasecmp(value, "none"))
        return 0;
    if (strncmp(value, "ipc://", 6) != 0 && strncmp(value, "tcp://", 6) != 0) {
        fprintf(stderr, "discod: %s: events endpoint '%s' must be ipc://, tcp:// or none\n", where,
                value);
        return -1;
    }
    c->events_endpoint = strdup(value);
    return 0;
}

static int s_set_ipc_mode(dc_config_t *c, const char *where, const char *value)
{
    char *end = NULL;
    unsigned long mode = strtoul(value, &end, 8);
    if (!*value || !end || *end || mode > 0777) {
        fprintf(stderr, "discod: %s: '%s' is not an octal file mode like 0660\n", where, value);
        return -1;
    }
    c->ipc_mode = (unsigned)mode;
    return 0;
}

static int s_set_ipc_group(dc_config_t *c, const char *where, const char *value)
{
    (void)where;
    free(c->ipc_group);
    c->ipc_group = *value ? strdup(value) : NULL;
    c->ipc_group_explicit = *value != 0;
    return 0;
}

static int s_set_probe_schemes(dc_config_t *c, const char *where, const char *value)
{
    char copy[64];
    snprintf(copy, sizeof copy, "%s", value);
    c->probe_ipc = c->probe_tcp = false;
    for (char *save = NULL, *tok = strtok_r(copy, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        if (!strcmp(tok, "ipc"))
            c->probe_ipc = true;
        else if (!strcmp(tok, "tcp"))
            c->probe_tcp = true;
        else {
            fprintf(stderr, "discod: %s: probe schemes are ipc and tcp, not '%s'\n", where, tok);
            return -1;
        }
    }
    return 0;
}

/*==== The settings ====*/

typedef enum {
    S_INT,    /* a whole number in [min, max], into an int, int64_t or uint64_t field */
    S_BOOL,   /* true|false; with no `arg`, a flag without a value (true) */
    S_CHOICE, /* one of the names in `choices` ("a|b|c"): the field gets its index */
    S_STRING, /* a string; empty: NULL */
    S_CUSTOM  /* read by `set` */
} s_kind_t;

typedef struct {
    const char *flag;     /* --FLAG, and the setting's name */
    const char *file_key; /* SECTION/KEY in the config file */
    s_kind_t kind;
    size_t offset, size;  /* the field, for every kind but S_CUSTOM */
    int64_t min, max;     /* S_INT */
    const char *choices;  /* S_CHOICE */
    int (*set)(dc_config_t *c, const char *where, const char *value); /* S_CUSTOM */
    void (*clear)(dc_config_t *c); /* repeatable: a new source replaces the list */
    const char *def;      /* applied by dc_config_defaults; NULL: none */
    const char *arg;      /* the value's name in --help; NULL: a switch */
    const char *help;     /* --help text; '\n' continues on the next line */
    const char *def_help; /* the default as --help says it, when not `def` */
    const char *heading;  /* a --help heading printed before this row */
} s_setting_t;

#define S_FIELD(member) offsetof(dc_config_t, member), sizeof(((dc_config_t *)0)->member)
#define S_NUMBER(flag, key, member, lo, hi, def, help)                                        \
    {flag, key, S_INT, S_FIELD(member), lo, hi, NULL, NULL, NULL, def, "N", help, NULL, NULL}

static const s_setting_t s_settings[] = {
    {"address", "server/address", S_CUSTOM, 0, 0, 0, 0, NULL, s_set_endpoint, s_clear_endpoints,
     NULL, "EP", "bind EP (ipc:// or tcp://); repeatable", DC_DEFAULT_ENDPOINT, NULL},
    {"db", "store/path", S_CUSTOM, 0, 0, 0, 0, NULL, s_set_db, NULL, NULL, "PATH",
     "SQLite database (default: see README)", NULL, NULL},
    S_NUMBER("workers", "server/workers", workers, 0, 256, "0",
             "worker threads, 0 = one per core"),
    S_NUMBER("io-threads", "server/io_threads", io_threads, 1, 16, "1", "ZeroMQ I/O threads"),
    {"sync", "store/sync", S_CHOICE, S_FIELD(sync), 0, 0, "full|normal", NULL, NULL, "full",
     "full|normal", "SQLite synchronous mode for commits", NULL, NULL},
    {"log-level", "log/level", S_CUSTOM, 0, 0, 0, 0, NULL, s_set_log_level, NULL, "INFO", "LEVEL",
     "DEBUG|INFO|WARNING|ERROR", NULL, NULL},
    {"max-message-size", "server/max_message_size", S_INT, S_FIELD(max_message_size), 1024,
     INT32_MAX, NULL, NULL, NULL, "1048576", "B", "largest accepted request in bytes", NULL, NULL},
    S_NUMBER("max-topics", "server/max_topics", max_topics, 1, INT32_MAX, "1000000",
             "registry capacity"),
    S_NUMBER("max-subscriptions", "server/max_subscriptions", max_subscriptions, 1, INT32_MAX,
             "1000000", "subscriptions the registry holds, at most"),
    S_NUMBER("publishers-per-topic", "server/publishers_per_topic", publishers_per_topic, 1,
             DC_MAX_PUBLISHERS_PER_TOPIC, "1",
             "registrations a topic may hold, one per publisher node\n"
             "(1: Cortex's owner rule; at most 64)"),
    {"db-max-size", "store/max_size", S_INT, S_FIELD(db_max_size), 0, INT64_MAX, NULL, NULL, NULL,
     "0", "B", "cap on the database file size, 0 = none", NULL, NULL},
    {"allow-remote-shutdown", "server/allow_remote_shutdown", S_BOOL,
     S_FIELD(allow_remote_shutdown), 0, 0, NULL, NULL, NULL, "false", NULL,
     "accept SHUTDOWN on tcp endpoints without CURVE too", NULL, NULL},
    /* The order of `choices` is dc_shutdown_t's. */
    {"allow-shutdown", "server/allow_shutdown", S_CHOICE, S_FIELD(allow_shutdown), 0, 0,
     "ipc|none|admin", NULL, NULL, "ipc", "POLICY",
     "none|ipc|admin: who may SHUTDOWN (admin: ipc clients\nand admin keys)", NULL, NULL},
    {"curve-key", "security/curve_key", S_STRING, S_FIELD(curve_key), 0, 0, NULL, NULL, NULL, NULL,
     "FILE",
     "server certificate (czmq: FILE, FILE_secret): every tcp\n"
     "endpoint and member link requires CURVE",
     NULL, NULL},
    {"curve-clients", "security/curve_clients", S_STRING, S_FIELD(curve_clients), 0, 0, NULL, NULL,
     NULL, NULL, "DIR",
     "client public certificates, each with a role\n"
     "(read|write|admin); re-read on SIGHUP and on change",
     NULL, NULL},
    {"insecure-tcp", "security/insecure_tcp", S_BOOL, S_FIELD(insecure_tcp), 0, 0, NULL, NULL,
     NULL, "false", NULL, "allow tcp endpoints without CURVE (open to anyone)", NULL, NULL},
    {"http", "http/address", S_STRING, S_FIELD(http_address), 0, 0, NULL, NULL, NULL, NULL,
     "HOST:PORT",
     "serve /metrics, /healthz, /readyz, /api/v1 and the dashboard\n"
     "(read-only; off when unset)",
     NULL, "HTTP (metrics, health, the dashboard):"},
    {"http-token", "http/token_file", S_STRING, S_FIELD(http_token_file), 0, 0, NULL, NULL, NULL,
     NULL, "FILE", "a bearer token every HTTP request must carry\n(needed off loopback)", NULL,
     NULL},
    {"insecure-http", "http/insecure", S_BOOL, S_FIELD(http_insecure), 0, 0, NULL, NULL, NULL,
     "false", NULL, "serve HTTP off loopback without a token", NULL, NULL},
    {"on-corrupt", "store/on_corrupt", S_CHOICE, S_FIELD(on_corrupt), 0, 0, "move-aside|refuse",
     NULL, NULL, "move-aside", "POLICY", "move-aside|refuse a corrupt database", NULL, NULL},
    {"events", "server/events", S_CUSTOM, 0, 0, 0, 0, NULL, s_set_events, NULL,
     DC_DEFAULT_EVENTS_ENDPOINT, "EP|none",
     "PUB endpoint for registry events; unset, beside the\n"
     "first ipc --address (X.sock: X-events.sock)",
     NULL, NULL},
    S_NUMBER("lease-min-ttl-ms", "leases/min_ttl_ms", lease_min_ttl_ms, 1, INT32_MAX, "100",
             "shortest lease accepted"),
    S_NUMBER("lease-max-ttl-ms", "leases/max_ttl_ms", lease_max_ttl_ms, 1, INT64_MAX / 4,
             "86400000", "longest lease accepted"),
    S_NUMBER("lease-grace-ms", "leases/grace_ms", lease_grace_ms, 0, INT32_MAX, "3000",
             "time a restored lease gets after a restart"),
    {"probe", "probe/enabled", S_BOOL, S_FIELD(probe), 0, 0, NULL, NULL, NULL, "true",
     "true|false", "check endpoints of lease-less topics", NULL, NULL},
    {"probe-schemes", "probe/schemes", S_CUSTOM, 0, 0, 0, 0, NULL, s_set_probe_schemes, NULL,
     "ipc,tcp", "LIST", "ipc,tcp (tcp only on loopback)", NULL, NULL},
    S_NUMBER("probe-interval-ms", "probe/interval_ms", probe_interval_ms, 50, INT32_MAX, "1000",
             "time between probes"),
    S_NUMBER("probe-failures", "probe/failures", probe_failures, 1, 100, "2",
             "refusals in a row before removal"),
    S_NUMBER("legacy-ttl-ms", "probe/legacy_ttl_ms", legacy_ttl_ms, 0, INT64_MAX / 4, "0",
             "lease-less topics expire N ms after registering\n(0 = never)"),
    {"ipc-mode", "server/ipc_mode", S_CUSTOM, 0, 0, 0, 0, NULL, s_set_ipc_mode, NULL, "0660",
     "MODE", "permissions of ipc socket files", NULL, NULL},
    {"ipc-group", "server/ipc_group", S_CUSTOM, 0, 0, 0, 0, NULL, s_set_ipc_group, NULL, "cortex",
     "GROUP", "group of ipc socket files (the default: if it exists)", NULL, NULL},
    {"datagram", "server/datagram", S_BOOL, S_FIELD(datagram), 0, 0, NULL, NULL, NULL, "true",
     "true|false", "answer PING/HEARTBEAT on PATH.hb beside ipc endpoints", NULL, NULL},
    {"member-id", "cluster/member_id", S_INT, S_FIELD(member_id), 1, INT64_MAX, NULL, NULL, NULL,
     NULL, "N", "this member's id (one of the --cluster-member ids)", NULL,
     "Cluster (all optional: without them discod runs standalone):"},
    {"cluster-member", "cluster/member", S_CUSTOM, 0, 0, 0, 0, NULL, s_set_member,
     s_clear_members, NULL, "ID=HOST:PORT",
     "a member's Raft peer address; repeat for each\nmember, this one included", NULL, NULL},
    {"cluster-dir", "cluster/dir", S_STRING, S_FIELD(cluster_dir), 0, 0, NULL, NULL, NULL, NULL,
     "PATH", "the Raft log and snapshots", "DB.raft", NULL},
    {"cluster-join", "cluster/join", S_BOOL, S_FIELD(cluster_join), 0, 0, NULL, NULL, NULL,
     "false", NULL,
     "start empty and wait to be added (discoctl member add)\n"
     "instead of bootstrapping a new cluster",
     NULL, NULL},
    S_NUMBER("election-timeout-ms", "cluster/election_timeout_ms", election_timeout_ms, 50, 60000,
             "400", "Raft election timeout"),
    {"isolated", "cluster/isolated", S_CHOICE, S_FIELD(isolated), 0, 0, "serve-local|read-only",
     NULL, NULL, "serve-local", "POLICY",
     "cut off from the cluster (no leader for two election\n"
     "timeouts): serve-local takes this computer's writes\n"
     "and merges them on healing; read-only refuses writes",
     NULL, NULL},
    S_NUMBER("snapshot-threshold", "cluster/snapshot_threshold", snapshot_threshold, 16,
             INT32_MAX, "4096", "log entries between snapshots"),
};

#define S_COUNT (sizeof s_settings / sizeof s_settings[0])
_Static_assert(S_COUNT <= DC_CONFIG_MAX_SETTINGS, "dc_config_t.origin is too small");

static int s_index(const char *flag)
{
    for (size_t i = 0; i < S_COUNT; i++)
        if (!strcmp(s_settings[i].flag, flag))
            return (int)i;
    return -1;
}

/* Stores v into the integer field of s (int, int64_t or uint64_t). */
static void s_store_int(dc_config_t *c, const s_setting_t *s, int64_t v)
{
    char *field = (char *)c + s->offset;
    if (s->size == sizeof(int32_t)) {
        int32_t narrow = (int32_t)v;
        memcpy(field, &narrow, sizeof narrow);
    } else {
        memcpy(field, &v, sizeof v);
    }
}

/* Applies value to setting s; `where` names its source for the message. */
static int s_apply(dc_config_t *c, const s_setting_t *s, const char *value, const char *where)
{
    char *field = (char *)c + s->offset;
    switch (s->kind) {
    case S_INT: {
        int64_t n;
        if (s_parse_int(where, value, s->min, s->max, &n))
            return -1;
        s_store_int(c, s, n);
        return 0;
    }
    case S_BOOL:
        return s_parse_bool(where, value, (bool *)field);
    case S_CHOICE: {
        const char *p = s->choices;
        for (int index = 0; *p; index++) {
            size_t n = strcspn(p, "|");
            if (strlen(value) == n && !strncasecmp(p, value, n)) {
                s_store_int(c, s, index);
                return 0;
            }
            p += n + (p[n] == '|');
        }
        fprintf(stderr, "discod: %s: must be one of %s, not '%s'\n", where, s->choices, value);
        return -1;
    }
    case S_STRING: {
        char **slot = (char **)field;
        free(*slot);
        *slot = *value ? strdup(value) : NULL;
        return 0;
    }
    case S_CUSTOM:
        return s->set(c, where, value);
    }
    return -1;
}

/* Sets setting i from a source; a repeatable setting's list is emptied the
 * first time a new source (the file, then the flags) gives it. */
static int s_set(dc_config_t *c, size_t i, const char *value, const char *where,
                 dc_config_origin_t origin)
{
    const s_setting_t *s = &s_settings[i];
    if (s->clear && c->origin[i] != origin)
        s->clear(c);
    c->origin[i] = origin;
    return s_apply(c, s, value, where);
}

void dc_config_defaults(dc_config_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < S_COUNT; i++) {
        if (s_settings[i].def && s_set(c, i, s_settings[i].def, "default", DC_ORIGIN_DEFAULT))
            abort(); /* a programming error: the table's own default does not parse */
    }
    c->ipc_group_explicit = false; /* the default group is used only when it exists */
}

void dc_config_clear(dc_config_t *c)
{
    s_clear_endpoints(c);
    s_clear_members(c);
    free(c->db_path);
    free(c->events_endpoint);
    free(c->ipc_group);
    free(c->config_file);
    free(c->curve_key);
    free(c->curve_clients);
    free(c->cluster_dir);
    free(c->http_address);
    free(c->http_token_file);
    memset(c, 0, sizeof *c);
}

size_t dc_config_setting_count(void)
{
    return S_COUNT;
}

const char *dc_config_setting_file_key(size_t i)
{
    return i < S_COUNT ? s_settings[i].file_key : NULL;
}

const char *dc_config_origin(const dc_config_t *c, const char *flag, char *buf, size_t size)
{
    int i = s_index(flag);
    dc_config_origin_t origin = i < 0 ? DC_ORIGIN_DEFAULT : c->origin[i];
    if (origin == DC_ORIGIN_FLAG)
        snprintf(buf, size, "--%s", flag);
    else if (origin == DC_ORIGIN_FILE)
        snprintf(buf, size, "%s in %s", s_settings[i].file_key,
                 c->config_file ? c->config_file : "the config file");
    else if (origin == DC_ORIGIN_DERIVED)
        snprintf(buf, size, "the default beside the first ipc address (--events to choose)");
    else
        snprintf(buf, size, "the default (--%s to choose)", flag);
    return buf;
}

/*==== Checks made once every source is read ====*/

int dc_config_check_tcp(const dc_config_t *c)
{
    if (c->curve_clients && !c->curve_key) {
        fprintf(stderr, "discod: --curve-clients needs --curve-key (the server's certificate)\n");
        return -1;
    }
    if (c->curve_key || c->insecure_tcp)
        return 0;
    const char *open = NULL;
    for (int i = 0; i < c->endpoint_count && !open; i++)
        if (!strncmp(c->endpoints[i], "tcp://", 6))
            open = c->endpoints[i];
    if (!open && c->events_endpoint && !strncmp(c->events_endpoint, "tcp://", 6))
        open = c->events_endpoint;
    if (!open && c->member_count > 0)
        open = "the links between cluster members";
    if (open) {
        fprintf(stderr,
                "discod: %s would be open to anyone on the network: give --curve-key FILE "
                "(and --curve-clients DIR), or --insecure-tcp\n",
                open);
        return -1;
    }
    return 0;
}

/* The events endpoint nobody chose follows the first ipc address, so that two
 * daemons on two addresses never fight over the default's socket file. */
static void s_place_events(dc_config_t *c)
{
    int i = s_index("events");
    if (c->origin[i] != DC_ORIGIN_DEFAULT)
        return;
    for (int e = 0; e < c->endpoint_count; e++) {
        char *beside = dc_events_beside(c->endpoints[e]);
        if (!beside)
            continue;
        if (strcmp(beside, c->events_endpoint ? c->events_endpoint : "") != 0) {
            free(c->events_endpoint);
            c->events_endpoint = beside;
            c->origin[i] = DC_ORIGIN_DERIVED;
        } else {
            free(beside);
        }
        return;
    }
}

const dc_member_config_t *dc_config_self(const dc_config_t *c)
{
    for (int i = 0; c->member_id && i < c->member_count; i++)
        if (c->members[i].id == c->member_id)
            return &c->members[i];
    return NULL;
}

void dc_address_host(const char *address, char *host, size_t size)
{
    snprintf(host, size, "%s", address);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = 0;
}

char *dc_config_default_db_path(void)
{
    const char *state = getenv("STATE_DIRECTORY");
    char path[4096];
    if (state && *state) {
        /* systemd may pass several colon-separated directories: take the first. */
        size_t n = strcspn(state, ":");
        snprintf(path, sizeof path, "%.*s/registry.db", (int)n, state);
    } else if (geteuid() == 0) {
        snprintf(path, sizeof path, "/var/lib/discod/registry.db");
    } else {
        const char *xdg = getenv("XDG_STATE_HOME");
        const char *home = getenv("HOME");
        if (xdg && *xdg)
            snprintf(path, sizeof path, "%s/discod/registry.db", xdg);
        else
            snprintf(path, sizeof path, "%s/.local/state/discod/registry.db",
                     home && *home ? home : "/tmp");
    }
    return strdup(path);
}

/*==== The config file ====*/

int dc_config_load_file(dc_config_t *c, const char *path)
{
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "discod: cannot read config file %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* Read the bytes ourselves: zconfig_load leaks its zfile on a syntax error. */
    zconfig_t *root = NULL;
    FILE *file = fopen(path, "rb");
    if (file) {
        char buffer[65536];
        size_t size = fread(buffer, 1, sizeof buffer, file);
        bool too_big = size == sizeof buffer;
        fclose(file);
        if (too_big) {
            fprintf(stderr, "discod: config file %s is larger than 64 KiB\n", path);
            return -1;
        }
        zchunk_t *chunk = zchunk_new(buffer, size);
        root = chunk ? zconfig_chunk_load(chunk) : NULL;
        zchunk_destroy(&chunk);
    }
    if (!root) {
        fprintf(stderr, "discod: config file %s: syntax error (see the line above)\n", path);
        return -1;
    }
    free(c->config_file);
    c->config_file = strdup(path);
    int rc = 0;
    for (zconfig_t *section = zconfig_child(root); section && rc == 0;
         section = zconfig_next(section)) {
        for (zconfig_t *item = zconfig_child(section); item && rc == 0;
             item = zconfig_next(item)) {
            char full[256], where[512];
            snprintf(full, sizeof full, "%s/%s", zconfig_name(section), zconfig_name(item));
            snprintf(where, sizeof where, "config %s: %s", path, full);
            size_t i = 0;
            while (i < S_COUNT && strcmp(full, s_settings[i].file_key) != 0)
                i++;
            if (i == S_COUNT) {
                fprintf(stderr, "discod: %s: unknown setting\n", where);
                rc = -1;
                break;
            }
            const char *value = zconfig_value(item);
            rc = s_set(c, i, value ? value : "", where, DC_ORIGIN_FILE);
        }
        if (rc == 0 && zconfig_value(section) && *zconfig_value(section)) {
            fprintf(stderr, "discod: config %s: section '%s' takes no value\n", path,
                    zconfig_name(section));
            rc = -1;
        }
    }
    zconfig_destroy(&root);
    if (rc != 0) {
        free(c->config_file);
        c->config_file = NULL;
    }
    return rc;
}

/*==== Flags and --help ====*/

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: discod [OPTION]...\n"
                 "A discovery daemon for Cortex robots: maps topic names to ZeroMQ endpoints,\n"
                 "persists them in SQLite and speaks the Cortex discovery protocol.\n\n"
                 "  --config FILE            read settings from FILE (ZPL format); flags win\n");
    enum { COLUMN = 27, WIDTH = 79 };
    for (size_t i = 0; i < S_COUNT; i++) {
        const s_setting_t *s = &s_settings[i];
        if (s->heading)
            fprintf(out, "%s\n", s->heading);
        int col = fprintf(out, "  --%s%s%s", s->flag, s->arg ? " " : "", s->arg ? s->arg : "");
        const char *def = s->def_help ? s->def_help : s->def;
        if (!s->arg || (def && s->kind == S_STRING && !*def)) /* a switch: off */
            def = NULL;
        for (const char *line = s->help; *line;) {
            size_t n = strcspn(line, "\n");
            if (col >= COLUMN) {
                fprintf(out, "\n");
                col = 0;
            }
            col += fprintf(out, "%*s%.*s", COLUMN - col, "", (int)n, line);
            line += n + (line[n] == '\n');
            if (*line) {
                fprintf(out, "\n");
                col = 0;
            }
        }
        if (def) {
            int need = (int)strlen(def) + (int)sizeof " (default )" - 1;
            if (col + need > WIDTH) {
                fprintf(out, "\n%*s(default %s)\n", COLUMN, "", def);
                continue;
            }
            fprintf(out, " (default %s)", def);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "  --help                   print this help and exit\n"
                 "  --version                print the version and exit\n");
}

int dc_config_from_args(dc_config_t *c, int argc, char **argv)
{
    enum { OPT_SETTING = 256 };
    struct option options[S_COUNT + 4];
    size_t n = 0;
    options[n++] = (struct option){"config", required_argument, 0, 'c'};
    for (size_t i = 0; i < S_COUNT; i++)
        options[n++] = (struct option){s_settings[i].flag,
                                       s_settings[i].arg ? required_argument : no_argument, 0,
                                       OPT_SETTING + (int)i};
    options[n++] = (struct option){"help", no_argument, 0, 'h'};
    options[n++] = (struct option){"version", no_argument, 0, 'V'};
    options[n] = (struct option){0, 0, 0, 0};
    /* Pass 1: --config, --help, --version and unknown flags. */
    const char *config_path = NULL;
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt == 'c')
            config_path = optarg;
        else if (opt == 'h') {
            s_usage(stdout);
            return 1;
        } else if (opt == 'V') {
            printf("discod %s (protocol %d)\n", DISCOD_VERSION, DC_PROTOCOL_VERSION);
            return 1;
        } else if (opt == '?') {
            fprintf(stderr, "discod: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return -1;
        } else if (opt == ':') {
            fprintf(stderr, "discod: option '%s' needs a value\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "discod: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    if (config_path && dc_config_load_file(c, config_path) != 0)
        return -1;
    /* Pass 2: flags on top; a repeatable flag replaces the file's list. */
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        if (opt < OPT_SETTING)
            continue;
        size_t i = (size_t)(opt - OPT_SETTING);
        char where[64];
        snprintf(where, sizeof where, "--%s", s_settings[i].flag);
        if (s_set(c, i, optarg ? optarg : "true", where, DC_ORIGIN_FLAG) != 0)
            return -1;
    }
    if (c->endpoint_count == 0)
        c->endpoints[c->endpoint_count++] = strdup(DC_DEFAULT_ENDPOINT);
    s_place_events(c);
    if (!c->db_path)
        c->db_path = dc_config_default_db_path();
    if (c->member_count > 0 && !dc_config_self(c)) {
        fprintf(stderr, "discod: a cluster needs --member-id, one of the --cluster-member ids\n");
        return -1;
    }
    if (c->member_id && !c->member_count) {
        fprintf(stderr, "discod: --member-id needs the members (--cluster-member ID=HOST:PORT)\n");
        return -1;
    }
    if (c->member_id && !c->cluster_dir) {
        size_t size = strlen(c->db_path) + 8;
        c->cluster_dir = malloc(size);
        snprintf(c->cluster_dir, size, "%s.raft", c->db_path);
    }
    if (dc_config_check_tcp(c) != 0)
        return -1;
    if (c->lease_min_ttl_ms > c->lease_max_ttl_ms) {
        fprintf(stderr, "discod: lease min TTL (%llu ms) is above the max (%llu ms)\n",
                (unsigned long long)c->lease_min_ttl_ms, (unsigned long long)c->lease_max_ttl_ms);
        return -1;
    }
    return 0;
}
