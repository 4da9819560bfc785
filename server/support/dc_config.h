/* dc_config.h: the daemon's settings: built-in defaults, then a config file
 * (czmq's ZPL format, config/discod.conf documents every key), then flags.
 * All three, and --help, come from one table of settings (dc_settings.c). */
#ifndef DC_CONFIG_H
#define DC_CONFIG_H

#include "dc_log.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DC_MAX_ENDPOINTS 8
/* Members of a cluster at most (Raft voters plus standbys). */
#define DC_MAX_MEMBERS 9
/* The most registrations one topic may hold (--publishers-per-topic). */
#define DC_MAX_PUBLISHERS_PER_TOPIC 64

/* One member of a cluster: its id and its Raft peer address (HOST:PORT). */
typedef struct {
    uint64_t id;
    char *address;
} dc_member_config_t;

typedef enum { DC_SYNC_FULL = 0, DC_SYNC_NORMAL } dc_sync_t;
typedef enum { DC_CORRUPT_MOVE_ASIDE = 0, DC_CORRUPT_REFUSE } dc_on_corrupt_t;
/* What a member does once it has known no leader for two election timeouts. */
typedef enum { DC_ISOLATED_SERVE_LOCAL = 0, DC_ISOLATED_READ_ONLY } dc_isolated_t;
/* Who may stop the daemon with SHUTDOWN: nobody, clients on ipc endpoints,
 * or those and admin keys (CURVE). */
typedef enum { DC_SHUTDOWN_IPC = 0, DC_SHUTDOWN_NONE, DC_SHUTDOWN_ADMIN } dc_shutdown_t;

/* Where a setting's value came from, for messages that name it. */
typedef enum {
    DC_ORIGIN_DEFAULT = 0,
    DC_ORIGIN_FILE,
    DC_ORIGIN_FLAG,
    DC_ORIGIN_DERIVED /* the events endpoint placed beside the first ipc address */
} dc_config_origin_t;

/* Settings in the table at most (dc_settings.c checks it at compile time). */
#define DC_CONFIG_MAX_SETTINGS 48

typedef struct {
    char *endpoints[DC_MAX_ENDPOINTS];
    int endpoint_count;
    char *db_path;
    int workers;                 /* 0: one per core */
    int io_threads;              /* ZeroMQ I/O threads */
    dc_sync_t sync;
    dc_log_level_t log_level;
    int64_t max_message_size;    /* ZMQ_MAXMSGSIZE on the front sockets */
    uint64_t max_topics;         /* registrations the registry holds, at most */
    uint64_t max_subscriptions;  /* subscriptions the registry holds, at most */
    uint64_t publishers_per_topic; /* registrations a topic may hold, one per node (1: Cortex) */
    uint64_t db_max_size;        /* bytes; 0: no cap */
    bool allow_remote_shutdown;  /* SHUTDOWN accepted on tcp endpoints without a key */
    dc_shutdown_t allow_shutdown;
    char *curve_key;             /* server certificate (czmq: FILE and FILE_secret), or NULL */
    char *curve_clients;         /* directory of client public certificates, or NULL */
    bool insecure_tcp;           /* tcp endpoints without CURVE are allowed */
    dc_on_corrupt_t on_corrupt;
    dc_isolated_t isolated;      /* cluster: serve this computer's writes when cut off, or not */
    char *events_endpoint;       /* PUB for registry events; NULL: none */
    char *http_address;          /* HOST:PORT of the HTTP listener; NULL: none */
    char *http_token_file;       /* its bearer token's file, or NULL */
    bool http_insecure;          /* off loopback without a token */
    uint64_t lease_min_ttl_ms, lease_max_ttl_ms;
    uint64_t lease_grace_ms;     /* extra time a restored lease gets after a restart */
    bool datagram;               /* the PATH.hb datagram channel beside ipc endpoints */
    bool probe;                  /* check the endpoints of lease-less registrations */
    bool probe_ipc, probe_tcp;   /* which schemes */
    uint64_t probe_interval_ms;
    uint64_t probe_failures;     /* consecutive refusals before removal */
    uint64_t legacy_ttl_ms;      /* lease-less registrations expire after this; 0: never */
    unsigned ipc_mode;           /* permissions of ipc socket files (default 0660) */
    char *ipc_group;             /* group of ipc socket files; NULL: leave as created */
    bool ipc_group_explicit;     /* configured (must exist), not the "cortex" default */
    char *config_file;           /* the file that was read, or NULL */
    /* Cluster (member_id 0: standalone, none of the rest is used). */
    uint64_t member_id;
    dc_member_config_t members[DC_MAX_MEMBERS]; /* this one included */
    int member_count;
    char *cluster_dir;           /* the Raft log and snapshots; default DB.raft */
    bool cluster_join;           /* never bootstrap: wait to be added */
    uint64_t election_timeout_ms;
    uint64_t snapshot_threshold; /* log entries between snapshots */
    unsigned char origin[DC_CONFIG_MAX_SETTINGS]; /* dc_config_origin_t, by table row */
} dc_config_t;

/* Where setting FLAG ("events", "address": the flag's name) came from, as a
 * reader would look for it: "--events", "server/events in FILE", "the
 * default ...". Written into buf, which is returned. */
const char *dc_config_origin(const dc_config_t *c, const char *flag, char *buf, size_t size);

/* The settings table, for the check that config/discod.conf documents it:
 * how many rows, and row i's SECTION/KEY (NULL past the end). */
size_t dc_config_setting_count(void);
const char *dc_config_setting_file_key(size_t i);

/* This member's entry in c->members, or NULL (standalone). */
const dc_member_config_t *dc_config_self(const dc_config_t *c);

/* The HOST of a member address HOST:PORT into host (all of address when it
 * has no colon; cut to size). */
void dc_address_host(const char *address, char *host, size_t size);

/* A tcp endpoint (front, events, member links) needs CURVE (curve_key) or
 * insecure_tcp; curve_clients needs curve_key. Returns 0, or -1 having
 * said why on stderr. */
int dc_config_check_tcp(const dc_config_t *c);

/* Fills c with the built-in defaults (the table's). The caller must
 * dc_config_clear(c). */
void dc_config_defaults(dc_config_t *c);

void dc_config_clear(dc_config_t *c);

/* Reads argv: --config FILE first, then every other flag on top of it; then
 * the endpoint list defaults, and an events endpoint nobody set follows the
 * first ipc address (dc_events_beside, proto/dc_endpoint.h).
 * Returns 0 to run, 1 when --help/--version was printed (exit 0), or -1 after
 * printing a clear error to stderr (exit 2). */
int dc_config_from_args(dc_config_t *c, int argc, char **argv);

/* Reads a ZPL config file into c. Returns 0, or -1 with the error printed. */
int dc_config_load_file(dc_config_t *c, const char *path);

/* Where the database lives when neither --db nor the file says:
 * $STATE_DIRECTORY/registry.db under systemd, /var/lib/discod/registry.db for
 * root, else $XDG_STATE_HOME (or ~/.local/state)/discod/registry.db.
 * Caller owns the returned string. */
char *dc_config_default_db_path(void);

#endif
