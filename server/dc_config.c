/* dc_config.c: defaults, ZPL config file and command-line flags (see the .h). */
#include "dc_config.h"
#include "dc_protocol.h"
#include "discod_version.h"

#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

void dc_config_defaults(dc_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->workers = 0;
    c->io_threads = 1;
    c->sync = DC_SYNC_FULL;
    c->log_level = DC_LOG_INFO;
    c->max_message_size = 1024 * 1024;
    c->max_topics = 1000000;
    c->publishers_per_topic = 1;
    c->on_corrupt = DC_CORRUPT_MOVE_ASIDE;
    c->events_endpoint = strdup(DC_DEFAULT_EVENTS_ENDPOINT);
    c->lease_min_ttl_ms = 100;
    c->lease_max_ttl_ms = 86400000;
    c->lease_grace_ms = 3000;
    c->probe = true;
    c->datagram = true;
    c->probe_ipc = c->probe_tcp = true;
    c->probe_interval_ms = 1000;
    c->probe_failures = 2;
    c->legacy_ttl_ms = 0;
    c->ipc_mode = 0660;
    c->ipc_group = strdup("cortex"); /* used only when the group exists */
    c->election_timeout_ms = 400;
    c->snapshot_threshold = 4096;
}

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

void dc_config_clear(dc_config_t *c)
{
    for (int i = 0; i < c->endpoint_count; i++)
        free(c->endpoints[i]);
    free(c->db_path);
    free(c->events_endpoint);
    free(c->ipc_group);
    free(c->config_file);
    free(c->curve_key);
    free(c->curve_clients);
    for (int i = 0; i < c->member_count; i++)
        free(c->members[i].address);
    free(c->cluster_dir);
    memset(c, 0, sizeof *c);
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

static int s_add_endpoint(dc_config_t *c, const char *where, const char *ep)
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

/* ID=HOST:PORT: a member of the cluster. */
static int s_add_member(dc_config_t *c, const char *where, const char *value)
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

/* Applies one setting by its canonical name ("server/workers" or the flag
 * name). `where` says where it came from, for the error message. */
static int s_apply(dc_config_t *c, const char *key, const char *value, const char *where)
{
    int64_t n;
    if (!strcmp(key, "address"))
        return s_add_endpoint(c, where, value);
    if (!strcmp(key, "db")) {
        if (!*value) {
            fprintf(stderr, "discod: %s: empty database path\n", where);
            return -1;
        }
        free(c->db_path);
        c->db_path = strdup(value);
        return 0;
    }
    if (!strcmp(key, "workers")) {
        if (s_parse_int(where, value, 0, 256, &n))
            return -1;
        c->workers = (int)n;
        return 0;
    }
    if (!strcmp(key, "io-threads")) {
        if (s_parse_int(where, value, 1, 16, &n))
            return -1;
        c->io_threads = (int)n;
        return 0;
    }
    if (!strcmp(key, "sync")) {
        if (!strcasecmp(value, "full"))
            c->sync = DC_SYNC_FULL;
        else if (!strcasecmp(value, "normal"))
            c->sync = DC_SYNC_NORMAL;
        else {
            fprintf(stderr, "discod: %s: sync must be full or normal, not '%s'\n", where, value);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "log-level")) {
        if (dc_log_parse_level(value, &c->log_level)) {
            fprintf(stderr, "discod: %s: log level must be DEBUG|INFO|WARNING|ERROR, not '%s'\n",
                    where, value);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "max-message-size")) {
        if (s_parse_int(where, value, 1024, INT32_MAX, &n))
            return -1;
        c->max_message_size = n;
        return 0;
    }
    if (!strcmp(key, "max-topics")) {
        if (s_parse_int(where, value, 1, INT32_MAX, &n))
            return -1;
        c->max_topics = (uint64_t)n;
        return 0;
    }
    if (!strcmp(key, "db-max-size")) {
        if (s_parse_int(where, value, 0, INT64_MAX, &n))
            return -1;
        c->db_max_size = (uint64_t)n;
        return 0;
    }
    if (!strcmp(key, "allow-remote-shutdown"))
        return s_parse_bool(where, value, &c->allow_remote_shutdown);
    if (!strcmp(key, "allow-shutdown")) {
        if (!strcasecmp(value, "none"))
            c->allow_shutdown = DC_SHUTDOWN_NONE;
        else if (!strcasecmp(value, "ipc"))
            c->allow_shutdown = DC_SHUTDOWN_IPC;
        else if (!strcasecmp(value, "admin"))
            c->allow_shutdown = DC_SHUTDOWN_ADMIN;
        else {
            fprintf(stderr, "discod: %s: allow-shutdown must be none, ipc or admin, not '%s'\n",
                    where, value);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "curve-key") || !strcmp(key, "curve-clients")) {
        char **slot = !strcmp(key, "curve-key") ? &c->curve_key : &c->curve_clients;
        free(*slot);
        *slot = *value ? strdup(value) : NULL;
        return 0;
    }
    if (!strcmp(key, "insecure-tcp"))
        return s_parse_bool(where, value, &c->insecure_tcp);
    if (!strcmp(key, "on-corrupt")) {
        if (!strcasecmp(value, "move-aside"))
            c->on_corrupt = DC_CORRUPT_MOVE_ASIDE;
        else if (!strcasecmp(value, "refuse"))
            c->on_corrupt = DC_CORRUPT_REFUSE;
        else {
            fprintf(stderr, "discod: %s: on-corrupt must be move-aside or refuse, not '%s'\n",
                    where, value);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "events")) {
        free(c->events_endpoint);
        c->events_endpoint = NULL;
        if (!*value || !strcasecmp(value, "none"))
            return 0;
        if (strncmp(value, "ipc://", 6) != 0 && strncmp(value, "tcp://", 6) != 0) {
            fprintf(stderr, "discod: %s: events endpoint '%s' must be ipc://, tcp:// or none\n",
                    where, value);
            return -1;
        }
        c->events_endpoint = strdup(value);
        return 0;
    }
    static const struct {
        const char *key;
        size_t offset;
        int64_t min, max;
    } numbers[] = {
        {"lease-min-ttl-ms", offsetof(dc_config_t, lease_min_ttl_ms), 1, INT32_MAX},
        {"lease-max-ttl-ms", offsetof(dc_config_t, lease_max_ttl_ms), 1, INT64_MAX / 4},
        {"lease-grace-ms", offsetof(dc_config_t, lease_grace_ms), 0, INT32_MAX},
        {"probe-interval-ms", offsetof(dc_config_t, probe_interval_ms), 50, INT32_MAX},
        {"probe-failures", offsetof(dc_config_t, probe_failures), 1, 100},
        {"legacy-ttl-ms", offsetof(dc_config_t, legacy_ttl_ms), 0, INT64_MAX / 4},
        {"member-id", offsetof(dc_config_t, member_id), 1, INT64_MAX},
        {"election-timeout-ms", offsetof(dc_config_t, election_timeout_ms), 50, 60000},
        {"snapshot-threshold", offsetof(dc_config_t, snapshot_threshold), 16, INT32_MAX},
        {"publishers-per-topic", offsetof(dc_config_t, publishers_per_topic), 1,
         DC_MAX_PUBLISHERS_PER_TOPIC},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (!strcmp(key, numbers[i].key)) {
            if (s_parse_int(where, value, numbers[i].min, numbers[i].max, &n))
                return -1;
            *(uint64_t *)((char *)c + numbers[i].offset) = (uint64_t)n;
            return 0;
        }
    }
    if (!strcmp(key, "probe"))
        return s_parse_bool(where, value, &c->probe);
    if (!strcmp(key, "cluster-member"))
        return s_add_member(c, where, value);
    if (!strcmp(key, "cluster-dir")) {
        free(c->cluster_dir);
        c->cluster_dir = *value ? strdup(value) : NULL;
        return 0;
    }
    if (!strcmp(key, "cluster-join"))
        return s_parse_bool(where, value, &c->cluster_join);
    if (!strcmp(key, "datagram"))
        return s_parse_bool(where, value, &c->datagram);
    if (!strcmp(key, "ipc-mode")) {
        char *end = NULL;
        unsigned long mode = strtoul(value, &end, 8);
        if (!*value || !end || *end || mode > 0777) {
            fprintf(stderr, "discod: %s: '%s' is not an octal file mode like 0660\n", where, value);
            return -1;
        }
        c->ipc_mode = (unsigned)mode;
        return 0;
    }
    if (!strcmp(key, "ipc-group")) {
        free(c->ipc_group);
        c->ipc_group = *value ? strdup(value) : NULL;
        c->ipc_group_explicit = *value != 0;
        return 0;
    }
    if (!strcmp(key, "probe-schemes")) {
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
                fprintf(stderr, "discod: %s: probe schemes are ipc and tcp, not '%s'\n", where,
                        tok);
                return -1;
            }
        }
        return 0;
    }
    fprintf(stderr, "discod: %s: unknown setting '%s'\n", where, key);
    return -1;
}

/* ZPL path (section/key) to the canonical setting name. */
static const struct {
    const char *path;
    const char *key;
} s_file_keys[] = {
    {"server/address", "address"},
    {"server/workers", "workers"},
    {"server/io_threads", "io-threads"},
    {"server/max_message_size", "max-message-size"},
    {"server/max_topics", "max-topics"},
    {"server/publishers_per_topic", "publishers-per-topic"},
    {"server/allow_remote_shutdown", "allow-remote-shutdown"},
    {"server/allow_shutdown", "allow-shutdown"},
    {"security/curve_key", "curve-key"},
    {"security/curve_clients", "curve-clients"},
    {"security/insecure_tcp", "insecure-tcp"},
    {"store/path", "db"},
    {"store/sync", "sync"},
    {"store/max_size", "db-max-size"},
    {"store/on_corrupt", "on-corrupt"},
    {"log/level", "log-level"},
    {"server/events", "events"},
    {"leases/min_ttl_ms", "lease-min-ttl-ms"},
    {"leases/max_ttl_ms", "lease-max-ttl-ms"},
    {"leases/grace_ms", "lease-grace-ms"},
    {"probe/enabled", "probe"},
    {"probe/schemes", "probe-schemes"},
    {"probe/interval_ms", "probe-interval-ms"},
    {"probe/failures", "probe-failures"},
    {"probe/legacy_ttl_ms", "legacy-ttl-ms"},
    {"server/ipc_mode", "ipc-mode"},
    {"server/ipc_group", "ipc-group"},
    {"server/datagram", "datagram"},
    {"cluster/member_id", "member-id"},
    {"cluster/member", "cluster-member"},
    {"cluster/dir", "cluster-dir"},
    {"cluster/join", "cluster-join"},
    {"cluster/election_timeout_ms", "election-timeout-ms"},
    {"cluster/snapshot_threshold", "snapshot-threshold"},
};

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
    int rc = 0;
    /* Addresses given in the file replace the default list, not add to it. */
    for (zconfig_t *section = zconfig_child(root); section && rc == 0;
         section = zconfig_next(section)) {
        for (zconfig_t *item = zconfig_child(section); item && rc == 0;
             item = zconfig_next(item)) {
            char full[256], where[512];
            snprintf(full, sizeof full, "%s/%s", zconfig_name(section), zconfig_name(item));
            snprintf(where, sizeof where, "config %s: %s", path, full);
            const char *key = NULL;
            for (size_t i = 0; i < sizeof s_file_keys / sizeof s_file_keys[0]; i++)
                if (!strcmp(full, s_file_keys[i].path))
                    key = s_file_keys[i].key;
            if (!key) {
                fprintf(stderr, "discod: %s: unknown setting\n", where);
                rc = -1;
                break;
            }
            const char *value = zconfig_value(item);
            rc = s_apply(c, key, value ? value : "", where);
        }
        if (rc == 0 && zconfig_value(section) && *zconfig_value(section)) {
            fprintf(stderr, "discod: config %s: section '%s' takes no value\n", path,
                    zconfig_name(section));
            rc = -1;
        }
    }
    zconfig_destroy(&root);
    if (rc == 0) {
        free(c->config_file);
        c->config_file = strdup(path);
    }
    return rc;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: discod [OPTION]...\n"
            "A discovery daemon for Cortex robots: maps topic names to ZeroMQ endpoints,\n"
            "persists them in SQLite and speaks the Cortex discovery protocol.\n\n"
            "  --config FILE            read settings from FILE (ZPL format); flags win\n"
            "  --address EP             bind EP (ipc:// or tcp://); repeatable\n"
            "                           (default %s)\n"
            "  --db PATH                SQLite database (default: see README)\n"
            "  --workers N              worker threads, 0 = one per core (default 0)\n"
            "  --io-threads N           ZeroMQ I/O threads (default 1)\n"
            "  --sync full|normal       SQLite synchronous mode for commits (default full)\n"
            "  --log-level LEVEL        DEBUG|INFO|WARNING|ERROR (default INFO)\n"
            "  --max-message-size B     largest accepted request in bytes (default 1048576)\n"
            "  --max-topics N           registry capacity (default 1000000)\n"
            "  --publishers-per-topic N registrations a topic may hold, one per publisher node\n"
            "                           (default 1: Cortex's owner rule; at most 64)\n"
            "  --db-max-size B          cap on the database file size, 0 = none (default 0)\n"
            "  --allow-remote-shutdown  accept SHUTDOWN on tcp endpoints without CURVE too\n"
            "  --allow-shutdown POLICY  none|ipc|admin: who may SHUTDOWN (default ipc;\n"
            "                           admin: ipc clients and admin keys)\n"
            "  --curve-key FILE         server certificate (czmq: FILE, FILE_secret): every tcp\n"
            "                           endpoint and member link requires CURVE\n"
            "  --curve-clients DIR      client public certificates, each with a role\n"
            "                           (read|write|admin); re-read on SIGHUP and on change\n"
            "  --insecure-tcp           allow tcp endpoints without CURVE (open to anyone)\n"
            "  --on-corrupt POLICY      move-aside|refuse a corrupt database (default move-aside)\n"
            "  --events EP|none         PUB endpoint for registry events\n"
            "                           (default %s)\n"
            "  --lease-min-ttl-ms N     shortest lease accepted (default 100)\n"
            "  --lease-max-ttl-ms N     longest lease accepted (default 86400000)\n"
            "  --lease-grace-ms N       time a restored lease gets after a restart (default 3000)\n"
            "  --probe true|false       check endpoints of lease-less topics (default true)\n"
            "  --probe-schemes LIST     ipc,tcp (default both; tcp only on loopback)\n"
            "  --probe-interval-ms N    time between probes (default 1000)\n"
            "  --probe-failures N       refusals in a row before removal (default 2)\n"
            "  --legacy-ttl-ms N        lease-less topics expire N ms after registering (0 = never)\n"
            "  --ipc-mode MODE          permissions of ipc socket files (default 0660)\n"
            "  --ipc-group GROUP        group of ipc socket files (default cortex, if it exists)\n"
            "  --datagram true|false    answer PING/HEARTBEAT on PATH.hb beside ipc endpoints\n"
            "                           (default true)\n"
            "Cluster (all optional: without them discod runs standalone):\n"
            "  --member-id N            this member's id (one of the --cluster-member ids)\n"
            "  --cluster-member ID=HOST:PORT  a member's Raft peer address; repeat for each\n"
            "                           member, this one included\n"
            "  --cluster-dir PATH       the Raft log and snapshots (default: DB.raft)\n"
            "  --cluster-join           start empty and wait to be added (discoctl member add)\n"
            "                           instead of bootstrapping a new cluster\n"
            "  --election-timeout-ms N  Raft election timeout (default 400)\n"
            "  --snapshot-threshold N   log entries between snapshots (default 4096)\n"
            "  --help                   print this help and exit\n"
            "  --version                print the version and exit\n",
            DC_DEFAULT_ENDPOINT, DC_DEFAULT_EVENTS_ENDPOINT);
}

int dc_config_from_args(dc_config_t *c, int argc, char **argv)
{
    enum { OPT_BASE = 256 };
    static const struct option options[] = {
        {"config", required_argument, 0, 'c'},
        {"address", required_argument, 0, 'a'},
        {"db", required_argument, 0, OPT_BASE + 1},
        {"workers", required_argument, 0, OPT_BASE + 2},
        {"sync", required_argument, 0, OPT_BASE + 3},
        {"log-level", required_argument, 0, OPT_BASE + 4},
        {"max-message-size", required_argument, 0, OPT_BASE + 5},
        {"max-topics", required_argument, 0, OPT_BASE + 6},
        {"db-max-size", required_argument, 0, OPT_BASE + 7},
        {"allow-remote-shutdown", no_argument, 0, OPT_BASE + 8},
        {"on-corrupt", required_argument, 0, OPT_BASE + 9},
        {"events", required_argument, 0, OPT_BASE + 10},
        {"lease-min-ttl-ms", required_argument, 0, OPT_BASE + 11},
        {"lease-max-ttl-ms", required_argument, 0, OPT_BASE + 12},
        {"lease-grace-ms", required_argument, 0, OPT_BASE + 13},
        {"probe", required_argument, 0, OPT_BASE + 14},
        {"probe-schemes", required_argument, 0, OPT_BASE + 15},
        {"probe-interval-ms", required_argument, 0, OPT_BASE + 16},
        {"probe-failures", required_argument, 0, OPT_BASE + 17},
        {"legacy-ttl-ms", required_argument, 0, OPT_BASE + 18},
        {"ipc-mode", required_argument, 0, OPT_BASE + 19},
        {"ipc-group", required_argument, 0, OPT_BASE + 20},
        {"datagram", required_argument, 0, OPT_BASE + 21},
        {"io-threads", required_argument, 0, OPT_BASE + 22},
        {"member-id", required_argument, 0, OPT_BASE + 23},
        {"cluster-member", required_argument, 0, OPT_BASE + 24},
        {"cluster-dir", required_argument, 0, OPT_BASE + 25},
        {"cluster-join", no_argument, 0, OPT_BASE + 26},
        {"election-timeout-ms", required_argument, 0, OPT_BASE + 27},
        {"snapshot-threshold", required_argument, 0, OPT_BASE + 28},
        {"publishers-per-topic", required_argument, 0, OPT_BASE + 29},
        {"allow-shutdown", required_argument, 0, OPT_BASE + 30},
        {"curve-key", required_argument, 0, OPT_BASE + 31},
        {"curve-clients", required_argument, 0, OPT_BASE + 32},
        {"insecure-tcp", no_argument, 0, OPT_BASE + 33},
        {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
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
    /* Pass 2: flags on top. Addresses and members on the command line replace
     * the file's. */
    bool flag_addresses = false, flag_members = false;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":", options, NULL)) != -1) {
        const struct option *o = NULL;
        for (const struct option *p = options; p->name; p++)
            if (p->val == opt)
                o = p;
        if (!o || opt == 'c')
            continue;
        if (opt == 'a' && !flag_addresses) {
            for (int i = 0; i < c->endpoint_count; i++)
                free(c->endpoints[i]);
            c->endpoint_count = 0;
            flag_addresses = true;
        }
        if (opt == OPT_BASE + 24 && !flag_members) {
            for (int i = 0; i < c->member_count; i++)
                free(c->members[i].address);
            c->member_count = 0;
            flag_members = true;
        }
        char where[64];
        snprintf(where, sizeof where, "--%s", o->name);
        const char *key = opt == 'a' ? "address" : o->name;
        if (s_apply(c, key, optarg ? optarg : "true", where) != 0)
            return -1;
    }
    if (c->endpoint_count == 0)
        c->endpoints[c->endpoint_count++] = strdup(DC_DEFAULT_ENDPOINT);
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
        size_t n = strlen(c->db_path) + 8;
        c->cluster_dir = malloc(n);
        snprintf(c->cluster_dir, n, "%s.raft", c->db_path);
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
