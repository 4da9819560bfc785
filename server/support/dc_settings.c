/* dc_settings.c: discod's settings, one row each, and how a value is read
 * into dc_config_t (see dc_settings.h). */
#include "dc_settings.h"
#include "dc_endpoint.h"
#include "dc_protocol.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
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


/* The kinds, short, for the table's rows. */
#define S_INT DC_SETTING_INT
#define S_BOOL DC_SETTING_BOOL
#define S_CHOICE DC_SETTING_CHOICE
#define S_STRING DC_SETTING_STRING
#define S_CUSTOM DC_SETTING_CUSTOM
#define S_FIELD(member) offsetof(dc_config_t, member), sizeof(((dc_config_t *)0)->member)
#define S_NUMBER(flag, key, member, lo, hi, def, help)                                        \
    {flag, key, S_INT, S_FIELD(member), lo, hi, NULL, NULL, NULL, def, "N", help, NULL, NULL}

const dc_setting_t dc_settings[] = {
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

#define S_COUNT (sizeof dc_settings / sizeof dc_settings[0])
_Static_assert(S_COUNT <= DC_CONFIG_MAX_SETTINGS, "dc_config_t.origin is too small");
const size_t dc_settings_count = S_COUNT;

int dc_setting_index(const char *flag)
{
    for (size_t i = 0; i < S_COUNT; i++)
        if (!strcmp(dc_settings[i].flag, flag))
            return (int)i;
    return -1;
}

/* Stores v into the integer field of s (int, int64_t or uint64_t). */
static void s_store_int(dc_config_t *c, const dc_setting_t *s, int64_t v)
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
int dc_setting_apply(dc_config_t *c, const dc_setting_t *s, const char *value, const char *where)
{
    char *field = (char *)c + s->offset;
    switch (s->kind) {
    case DC_SETTING_INT: {
        int64_t n;
        if (s_parse_int(where, value, s->min, s->max, &n))
            return -1;
        s_store_int(c, s, n);
        return 0;
    }
    case DC_SETTING_BOOL:
        return s_parse_bool(where, value, (bool *)field);
    case DC_SETTING_CHOICE: {
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
    case DC_SETTING_STRING: {
        char **slot = (char **)field;
        free(*slot);
        *slot = *value ? strdup(value) : NULL;
        return 0;
    }
    case DC_SETTING_CUSTOM:
        return s->set(c, where, value);
    }
    return -1;
}
