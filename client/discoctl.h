/* discoctl.h: what discoctl's command files share: exit codes, the parsed
 * arguments of a subcommand, failure reporting and the interrupt flag.
 * discoctl.c parses and dispatches; discoctl_members.c (the cluster),
 * discoctl_watch.c (the event stream), discoctl_graph.c (subscriptions and
 * the graph) and discoctl_print.c (output) do the longer commands. */
#ifndef DISCOCTL_H
#define DISCOCTL_H

#include "discod.h"
#include "discod_internal.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { EXIT_NOT_FOUND = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_REFUSED = 4 };

#define MAX_REPEATS 64

typedef struct {
    bool json;
    const char *prefix, *type, *node, *description, *role, *format;
    const char *events[16];
    size_t event_count;
    uint64_t fingerprint, ttl_ms, count;
    double timeout_sec;
    char *positional[4];
    int positional_count;
    discod_kv_t meta[MAX_REPEATS];
    size_t meta_count;
    char *capabilities[MAX_REPEATS];
    size_t capability_count;
} command_args_t;

/* The exit code for a library result. */
int dctl_exit_code(discod_result_t r);

/* Prints "discoctl: WHAT: error: daemon's message" and returns its exit code. */
int dctl_fail(discod_client_t *c, const char *what, discod_result_t r);

/* A whole decimal (or 0x) number, no sign. Returns 0 or -1. */
int dctl_parse_u64(const char *text, uint64_t *out);

/* Set by SIGINT and SIGTERM once dctl_catch_signals has run. */
extern volatile sig_atomic_t dctl_interrupted;
void dctl_catch_signals(void);
/* Sleeps until dctl_interrupted is set. */
void dctl_wait_for_signal(void);

/* subscribe NAME [TYPE]: once, or held by a lease with --ttl-ms until
 * interrupted; prints the publishers whose type differs. unsubscribe NAME.
 * topic NAME: every publisher and subscriber of it. graph: node -> topic ->
 * node as text, --format dot or --json. (discoctl_graph.c.) Each returns an
 * exit code. */
int dctl_subscribe(const char *const *endpoints, size_t count, const discod_options_t *options,
                   discod_client_t *c, const command_args_t *a);
int dctl_unsubscribe(discod_client_t *c, const command_args_t *a);
int dctl_topic(discod_client_t *c, const command_args_t *a);
int dctl_graph(discod_client_t *c, const command_args_t *a);
/* node NAME's publications and subscriptions, after its node record: rows
 * (text), or the "subscriptions" and "mismatches" keys of its open JSON
 * object. *any: it publishes or subscribes to something. */
int dctl_node_subscriptions(discod_client_t *c, const char *node, bool json, bool *any);

/* members: asks each endpoint alone (each member reports its own role and
 * indexes) and prints one row per member of the leader's configuration when
 * the leader answered (else of every member any answer lists). Returns an
 * exit code. */
int dctl_members(const char *const *endpoints, size_t count, const discod_options_t *base,
                 bool json);

/* member add|remove|transfer. Returns an exit code. */
int dctl_member_change(discod_client_t *c, const command_args_t *a);

/* watch: the listing, then every event from the events endpoints (CURVE keys
 * from curve) until interrupted or a->count events. Returns an exit code. */
int dctl_watch(discod_client_t *c, const command_args_t *a, const discod__curve_t *curve);

#endif
