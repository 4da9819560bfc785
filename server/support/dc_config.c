/* dc_config.c: defaults, ZPL config file and command-line flags (see the .h),
 * all derived from the table of settings in dc_settings.c. */
#include "dc_config.h"
#include "dc_endpoint.h"
#include "dc_protocol.h"
#include "dc_settings.h"
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

/* Sets setting i from a source; a repeatable setting's list is emptied the
 * first time a new source (the file, then the flags) gives it. */
static int s_set(dc_config_t *c, size_t i, const char *value, const char *where,
                 dc_config_origin_t origin)
{
    const dc_setting_t *s = &dc_settings[i];
    if (s->clear && c->origin[i] != origin)
        s->clear(c);
    c->origin[i] = origin;
    return dc_setting_apply(c, s, value, where);
}

void dc_config_defaults(dc_config_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < dc_settings_count; i++) {
        if (dc_settings[i].def && s_set(c, i, dc_settings[i].def, "default", DC_ORIGIN_DEFAULT))
            abort(); /* a programming error: the table's own default does not parse */
    }
    c->ipc_group_explicit = false; /* the default group is used only when it exists */
}

void dc_config_clear(dc_config_t *c)
{
    for (size_t i = 0; i < dc_settings_count; i++)
        if (dc_settings[i].clear)
            dc_settings[i].clear(c); /* the lists: endpoints, members */
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
    return dc_settings_count;
}

const char *dc_config_setting_file_key(size_t i)
{
    return i < dc_settings_count ? dc_settings[i].file_key : NULL;
}

const char *dc_config_origin(const dc_config_t *c, const char *flag, char *buf, size_t size)
{
    int i = dc_setting_index(flag);
    dc_config_origin_t origin = i < 0 ? DC_ORIGIN_DEFAULT : c->origin[i];
    if (origin == DC_ORIGIN_FLAG)
        snprintf(buf, size, "--%s", flag);
    else if (origin == DC_ORIGIN_FILE)
        snprintf(buf, size, "%s in %s", dc_settings[i].file_key,
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
    int i = dc_setting_index("events");
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
            while (i < dc_settings_count && strcmp(full, dc_settings[i].file_key) != 0)
                i++;
            if (i == dc_settings_count) {
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
    for (size_t i = 0; i < dc_settings_count; i++) {
        const dc_setting_t *s = &dc_settings[i];
        if (s->heading)
            fprintf(out, "%s\n", s->heading);
        int col = fprintf(out, "  --%s%s%s", s->flag, s->arg ? " " : "", s->arg ? s->arg : "");
        const char *def = s->def_help ? s->def_help : s->def;
        if (!s->arg || (def && s->kind == DC_SETTING_STRING && !*def)) /* a switch: off */
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
    struct option options[DC_CONFIG_MAX_SETTINGS + 4];
    size_t n = 0;
    options[n++] = (struct option){"config", required_argument, 0, 'c'};
    for (size_t i = 0; i < dc_settings_count; i++)
        options[n++] = (struct option){dc_settings[i].flag,
                                       dc_settings[i].arg ? required_argument : no_argument, 0,
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
        snprintf(where, sizeof where, "--%s", dc_settings[i].flag);
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
