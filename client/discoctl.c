/* discoctl: a command line for discod (and the Cortex daemon), built on the
 * client library. Exit codes: 0 ok, 1 not found, 2 usage, 3 daemon
 * unreachable, 4 refused by the daemon (ERROR, ALREADY_EXISTS, bad reply). */
#include "discod.h"
#include "discod_internal.h"
#include "discoctl_print.h"
#include "dc_mp.h"
#include <time.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <zmq.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_NOT_FOUND = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_REFUSED = 4 };

static const char *s_usage_text =
    "Usage: discoctl [-e|--endpoint EP]... [--timeout-ms N] [--retries N] [--prefer-local]\n"
    "                [--server-key FILE --client-key FILE] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  ping                               check that the daemon answers\n"
    "  list [--prefix P] [--type T] [--node N] [--meta K=V]... [--json]\n"
    "                                     list registered topics\n"
    "  lookup NAME [--json]               show a topic: a row per publisher\n"
    "  register NAME ADDRESS TYPE [--fingerprint N] [--node NODE] [--meta K=V]...\n"
    "           [--ttl-ms N]              register a topic (kept alive with --ttl-ms)\n"
    "  unregister NAME [--node N]         remove a topic (N's registration of it)\n"
    "  wait NAME [--timeout SEC] [--json] wait until a topic is registered\n"
    "  stats [--json]                     daemon counters (protocol 2)\n"
    "  watch [--prefix P] [--json] [--count N] [--events EP]...\n"
    "                                     print registry changes as they happen\n"
    "  nodes [--capability C] [--json]    list nodes (protocol 2)\n"
    "  node NAME [--json]                 show one node and its topics\n"
    "  register-node NAME [--description D] [--capability C]... [--meta K=V]...\n"
    "                [--ttl-ms N]         register a node\n"
    "  unregister-node NAME               remove a node\n"
    "  members [--json]                   the cluster's members, each -e asked in turn\n"
    "  member add ID HOST:PORT | member remove ID | member transfer [ID]\n"
    "                                     change the cluster's membership or leader\n"
    "  keygen NAME [--role read|write|admin]\n"
    "                                     write a CURVE certificate pair (NAME, NAME_secret)\n"
    "\n"
    "The endpoint defaults to $DISCOD_ENDPOINT, else " DISCOD_DEFAULT_ENDPOINT ".\n"
    "Several -e give failover order (--prefer-local: this computer's member first).\n"
    "tcp endpoints with CURVE need --server-key (the daemon's public certificate) and\n"
    "--client-key (this client's; its secret in FILE_secret), or $DISCOD_SERVER_KEY and\n"
    "$DISCOD_CLIENT_KEY.\n"
    "In a cluster, ping names the member that answered and its Raft term.\n"
    "Exit codes: 0 ok, 1 not found, 2 usage,\n"
    "3 daemon unreachable, 4 refused by the daemon.\n"
    "'discoctl COMMAND --help' shows one command.\n";

static const struct {
    const char *name;
    const char *usage;
} s_commands[] = {
    {"ping", "discoctl ping\n  Exit 0 when the daemon answers, 3 when it does not.\n"},
    {"list", "discoctl list [--prefix P] [--type T] [--node N] [--json]\n"
             "  Lists topics, optionally filtered by name prefix, message type, node.\n"},
    {"lookup", "discoctl lookup NAME [--json]\n"
               "  Shows a topic, one row per publisher (a topic has several when the daemon\n"
               "  runs with --publishers-per-topic); exit 1 when absent. --json prints the\n"
               "  publisher a single-publisher client is given, with all in \"publishers\".\n"},
    {"register", "discoctl register NAME ADDRESS TYPE [--fingerprint N] [--node NODE]\n"
                 "                  [--meta K=V]... [--ttl-ms N]\n"
                 "  Registers a topic (node defaults to 'discoctl'). With --ttl-ms the topic\n"
                 "  is held by a lease that discoctl renews until SIGINT/SIGTERM, then revokes.\n"},
    {"unregister", "discoctl unregister NAME [--node N]\n"
                   "  Removes a topic; exit 1 when absent. With several publishers, --node\n"
                   "  names the one whose registration goes.\n"},
    {"wait", "discoctl wait NAME [--timeout SEC] [--json]\n"
             "  Waits (default 30 s) until NAME is registered; exit 1 on time out.\n"},
    {"stats", "discoctl stats [--json]\n  Prints the daemon's counters.\n"},
    {"watch", "discoctl watch [--prefix P] [--json] [--count N] [--events EP]...\n"
              "  Lists the registry, then prints each change as it happens. A gap in the\n"
              "  event sequence is reported and followed by a fresh listing. Events come\n"
              "  from EP ($DISCOD_EVENTS, else " DISCOD_DEFAULT_EVENTS "). Give each\n"
              "  member's EP in a cluster: they publish the same seqs, each event is\n"
              "  printed once, and the stream goes on without a gap when a member dies.\n"},
    {"nodes", "discoctl nodes [--capability C] [--json]\n  Lists nodes, optionally by capability.\n"},
    {"node", "discoctl node NAME [--json]\n  Shows one node with the topics it publishes.\n"},
    {"register-node", "discoctl register-node NAME [--description D] [--capability C]...\n"
                      "                       [--meta K=V]... [--ttl-ms N]\n"
                      "  Registers a node; with --ttl-ms keeps it alive until interrupted.\n"},
    {"unregister-node", "discoctl unregister-node NAME\n  Removes a node.\n"},
    {"members", "discoctl members [--json]\n"
                "  Asks every -e endpoint (one per member) for the cluster as it sees it and\n"
                "  prints each member: id, Raft address, voting, role, leader, reachable, and\n"
                "  the term, commit and applied index of the members that answered.\n"},
    {"keygen", "discoctl keygen NAME [--role read|write|admin]\n"
               "  Writes a CURVE certificate pair in czmq's format: NAME (public, with the role\n"
               "  in its metadata: put it in the daemon's --curve-clients directory) and\n"
               "  NAME_secret (mode 0600: it stays with the client). Without --role: a server\n"
               "  certificate for --curve-key.\n"},
    {"member", "discoctl member add ID HOST:PORT | member remove ID | member transfer [ID]\n"
               "  add: a new voter (start it first with --cluster-join); remove: a member;\n"
               "  transfer: hand leadership to ID (default: any voter). Admin requests:\n"
               "  the daemon takes them on ipc endpoints.\n"},
};

static int s_exit_code(discod_result_t r)
{
    switch (r) {
    case DISCOD_OK: return 0;
    case DISCOD_NOT_FOUND: return EXIT_NOT_FOUND;
    case DISCOD_TIMEOUT: return EXIT_UNREACHABLE;
    case DISCOD_INVALID: return EXIT_USAGE;
    default: return EXIT_REFUSED;
    }
}

static int s_fail(discod_client_t *c, const char *what, discod_result_t r)
{
    const char *message = c ? discod_client_last_message(c) : "";
    fprintf(stderr, "discoctl: %s: %s%s%s\n", what, discod_strerror(r), *message ? ": " : "",
            message);
    return s_exit_code(r);
}

static int s_parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!text || *text == '-')
        return -1;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || !end || *end || end == text)
        return -1;
    *out = v;
    return 0;
}

#define MAX_REPEATS 64

typedef struct {
    bool json;
    const char *prefix, *type, *node, *description, *role;
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

/* Parses a subcommand's flags and positionals. Returns 0, 1 for --help
 * (printed), or -1 after printing a usage error. */
static int s_parse_command(int argc, char **argv, const char *command, command_args_t *a)
{
    enum {
        OPT_PREFIX = 256, OPT_TYPE, OPT_NODE, OPT_FP, OPT_TIMEOUT, OPT_JSON, OPT_HELP, OPT_TTL,
        OPT_META, OPT_CAP, OPT_DESC, OPT_EVENTS, OPT_COUNT, OPT_ROLE
    };
    static const struct option options[] = {
        {"prefix", required_argument, 0, OPT_PREFIX}, {"type", required_argument, 0, OPT_TYPE},
        {"node", required_argument, 0, OPT_NODE},     {"fingerprint", required_argument, 0, OPT_FP},
        {"timeout", required_argument, 0, OPT_TIMEOUT}, {"json", no_argument, 0, OPT_JSON},
        {"ttl-ms", required_argument, 0, OPT_TTL},    {"meta", required_argument, 0, OPT_META},
        {"capability", required_argument, 0, OPT_CAP},
        {"description", required_argument, 0, OPT_DESC},
        {"events", required_argument, 0, OPT_EVENTS}, {"count", required_argument, 0, OPT_COUNT},
        {"role", required_argument, 0, OPT_ROLE},
        {"help", no_argument, 0, OPT_HELP},           {0, 0, 0, 0}};
    const char *usage = "";
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (!strcmp(s_commands[i].name, command))
            usage = s_commands[i].usage;
    memset(a, 0, sizeof *a);
    a->timeout_sec = 30;
    optind = 0; /* 0, not 1: glibc re-reads the optstring's mode ("-") only then */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "-h", options, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 1:
            if (a->positional_count == 4) {
                fprintf(stderr, "discoctl %s: too many arguments\n%s", command, usage);
                return -1;
            }
            a->positional[a->positional_count++] = optarg;
            break;
        case OPT_PREFIX: a->prefix = optarg; break;
        case OPT_DESC: a->description = optarg; break;
        case OPT_ROLE: a->role = optarg; break;
        case OPT_EVENTS:
            if (a->event_count == 16) {
                fprintf(stderr, "discoctl %s: at most 16 --events\n", command);
                return -1;
            }
            a->events[a->event_count++] = optarg;
            break;
        case OPT_TTL:
        case OPT_COUNT:
            if (s_parse_u64(optarg, opt == OPT_TTL ? &a->ttl_ms : &a->count) ||
                (opt == OPT_TTL ? a->ttl_ms : a->count) == 0) {
                fprintf(stderr, "discoctl %s: --%s needs a positive integer\n", command,
                        opt == OPT_TTL ? "ttl-ms" : "count");
                return -1;
            }
            break;
        case OPT_META: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || a->meta_count == MAX_REPEATS) {
                fprintf(stderr, "discoctl %s: --meta takes KEY=VALUE\n", command);
                return -1;
            }
            *eq = 0;
            a->meta[a->meta_count].key = optarg;
            a->meta[a->meta_count++].value = eq + 1;
            break;
        }
        case OPT_CAP:
            if (a->capability_count == MAX_REPEATS) {
                fprintf(stderr, "discoctl %s: too many --capability\n", command);
                return -1;
            }
            a->capabilities[a->capability_count++] = optarg;
            break;
        case OPT_TYPE: a->type = optarg; break;
        case OPT_NODE: a->node = optarg; break;
        case OPT_JSON: a->json = true; break;
        case OPT_FP:
            if (s_parse_u64(optarg, &a->fingerprint)) {
                fprintf(stderr, "discoctl %s: --fingerprint must be an unsigned 64-bit integer\n",
                        command);
                return -1;
            }
            break;
        case OPT_TIMEOUT:
            a->timeout_sec = strtod(optarg, &end);
            if (!end || *end || a->timeout_sec < 0 || a->timeout_sec > 86400) {
                fprintf(stderr, "discoctl %s: --timeout must be seconds in [0, 86400]\n", command);
                return -1;
            }
            break;
        case 'h':
        case OPT_HELP: fputs(usage, stdout); return 1;
        default:
            fprintf(stderr, "discoctl %s: unknown or incomplete option '%s'\n%s", command,
                    argv[optind - 1], usage);
            return -1;
        }
    }
    return 0;
}

/* lookup: every publisher of a topic. */
static int s_lookup(discod_client_t *c, const command_args_t *a)
{
    discod_publisher_t *publishers = NULL;
    size_t n = 0, newest = 0;
    discod_result_t r = discod_lookup_all(c, a->positional[0], &publishers, &n, &newest);
    if (r != DISCOD_OK)
        return s_fail(c, a->positional[0], r);
    if (a->json) {
        /* The single-publisher answer's fields, then every publisher. */
        dctl_json_topic_open(&publishers[newest].topic);
        fputs(",\"publishers\":[", stdout);
        for (size_t i = 0; i < n; i++) {
            if (i)
                putchar(',');
            dctl_json_topic_open(&publishers[i].topic);
            printf(",\"lease_id\":%" PRIu64 ",\"registered_at_ms\":%" PRIu64 "}",
                   publishers[i].lease_id, publishers[i].registered_at_ms);
        }
        puts("]}");
    } else {
        discod_topic_t *rows = calloc(n, sizeof *rows);
        if (rows) {
            for (size_t i = 0; i < n; i++)
                rows[i] = publishers[i].topic;
            dctl_print_table(rows, n);
            free(rows);
        }
    }
    discod_publishers_free(publishers, n);
    return 0;
}

static int s_expect_args(const command_args_t *a, int n, const char *command)
{
    if (a->positional_count == n)
        return 0;
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (!strcmp(s_commands[i].name, command))
            fprintf(stderr, "discoctl %s: expected %d argument(s)\n%s", command, n,
                    s_commands[i].usage);
    return -1;
}

/*==== The cluster ====*/

typedef struct {
    discod_member_t m;
    bool answered; /* it answered itself: term/commit/applied are its own */
    uint64_t term;
    const char *endpoint;
} member_row_t;

/* Asks each endpoint alone, so each member reports its own indexes. */
static int s_members(const char *const *endpoints, size_t count, const discod_options_t *base,
                     bool json)
{
    member_row_t rows[16];
    size_t row_count = 0;
    bool any = false;
    discod_options_t options = *base;
    options.retries = 1;
    options.prefer_local = 0;
    for (size_t e = 0; e < count; e++) {
        discod_client_t *c = discod_client_new_multi(&endpoints[e], 1, &options);
        discod_member_t *members = NULL;
        size_t n = 0;
        discod_result_t r = c ? discod_members(c, &members, &n) : DISCOD_NOMEM;
        if (r != DISCOD_OK) {
            fprintf(stderr, "discoctl: %s: %s\n", endpoints[e], discod_strerror(r));
            discod_client_destroy(&c);
            continue;
        }
        any = true;
        uint64_t self = discod_client_member(c);
        for (size_t i = 0; i < n; i++) {
            size_t k = 0;
            while (k < row_count && rows[k].m.id != members[i].id)
                k++;
            bool mine = members[i].id == self;
            if (k == row_count && row_count < 16) {
                rows[row_count] = (member_row_t){members[i], false, 0, NULL};
                members[i].address = members[i].voting = members[i].role = NULL;
                row_count++;
            } else if (k < row_count && mine) {
                free(rows[k].m.address);
                free(rows[k].m.voting);
                free(rows[k].m.role);
                rows[k].m = members[i];
                members[i].address = members[i].voting = members[i].role = NULL;
            } else
                continue;
            if (mine) {
                rows[k].answered = true;
                rows[k].term = discod_client_term(c);
                rows[k].endpoint = endpoints[e];
            }
        }
        if (n == 0 && !json)
            printf("%s: standalone (no cluster)\n", endpoints[e]);
        discod_members_free(members, n);
        discod_client_destroy(&c);
    }
    if (json)
        putchar('[');
    else if (row_count)
        printf("%-4s %-22s %-7s %-9s %-6s %-9s %-6s %-8s %-8s %s\n", "ID", "ADDRESS", "VOTING",
               "ROLE", "LEADER", "REACHABLE", "TERM", "COMMIT", "APPLIED", "ENDPOINT");
    for (size_t k = 0; k < row_count; k++) {
        const member_row_t *r = &rows[k];
        if (json) {
            printf("%s{\"id\":%" PRIu64 ",\"address\":", k ? "," : "", r->m.id);
            dctl_json_string(r->m.address);
            fputs(",\"voting\":", stdout);
            dctl_json_string(r->m.voting);
            fputs(",\"role\":", stdout);
            dctl_json_string(r->m.role);
            printf(",\"leader\":%" PRIu64 ",\"reachable\":%s,\"answered\":%s", r->m.leader,
                   r->m.reachable ? "true" : "false", r->answered ? "true" : "false");
            if (r->answered)
                printf(",\"term\":%" PRIu64 ",\"commit_index\":%" PRIu64
                       ",\"applied_index\":%" PRIu64,
                       r->term, r->m.commit_index, r->m.applied_index);
            putchar('}');
        } else if (r->answered)
            printf("%-4" PRIu64 " %-22s %-7s %-9s %-6" PRIu64 " %-9s %-6" PRIu64 " %-8" PRIu64
                   " %-8" PRIu64 " %s\n",
                   r->m.id, r->m.address, r->m.voting, r->m.role, r->m.leader,
                   r->m.reachable ? "yes" : "no", r->term, r->m.commit_index,
                   r->m.applied_index, r->endpoint);
        else
            printf("%-4" PRIu64 " %-22s %-7s %-9s %-6" PRIu64 " %-9s %-6s %-8s %-8s %s\n",
                   r->m.id, r->m.address, r->m.voting, r->m.role, r->m.leader,
                   r->m.reachable ? "yes" : "no", "-", "-", "-", "(not asked or no answer)");
        free(r->m.address);
        free(r->m.voting);
        free(r->m.role);
    }
    if (json)
        puts("]");
    return any ? 0 : EXIT_UNREACHABLE;
}

static int s_member_change(discod_client_t *c, const command_args_t *a)
{
    const char *what = a->positional_count ? a->positional[0] : "";
    uint64_t id = 0;
    bool add = !strcmp(what, "add"), remove = !strcmp(what, "remove"),
         transfer = !strcmp(what, "transfer");
    int want = add ? 3 : remove ? 2 : 1;
    if ((!add && !remove && !transfer) || (transfer && a->positional_count > 2) ||
        (!transfer && a->positional_count != want) ||
        (a->positional_count > 1 && (s_parse_u64(a->positional[1], &id) || !id))) {
        fprintf(stderr, "discoctl member: expected add ID HOST:PORT, remove ID or transfer [ID]\n");
        return EXIT_USAGE;
    }
    discod_result_t r = add      ? discod_member_add(c, id, a->positional[2])
                        : remove ? discod_member_remove(c, id)
                                 : discod_member_transfer(c, id);
    if (r != DISCOD_OK)
        return s_fail(c, "member", r);
    printf("%s\n", discod_client_last_message(c));
    return 0;
}

/*==== Kept-alive registrations, nodes, watch ====*/

static volatile sig_atomic_t s_interrupted = 0;

static void s_on_signal(int signo)
{
    (void)signo;
    s_interrupted = 1;
}

static void s_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static void s_wait_for_signal(void)
{
    while (!s_interrupted) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int s_register_kept_alive(const char *const *endpoints, size_t count,
                                 const discod_options_t *options, const discod_topic_t *t,
                                 const command_args_t *a)
{
    if (a->meta_count)
        fprintf(stderr, "discoctl register: --meta is ignored with --ttl-ms\n");
    s_catch_signals(); /* before anything can be registered */
    discod_session_t *session = discod_session_new(endpoints, count, options, a->ttl_ms);
    if (!session) {
        fprintf(stderr, "discoctl register: cannot start a session\n");
        return EXIT_USAGE;
    }
    discod_result_t r = discod_session_register(session, t);
    if (r != DISCOD_OK) {
        fprintf(stderr, "discoctl register: %s\n", discod_strerror(r));
        discod_session_destroy(&session);
        return s_exit_code(r);
    }
    printf("Registered topic: %s (lease %llu, ttl %llu ms); renewing until interrupted\n",
           t->name, (unsigned long long)discod_session_lease_id(session),
           (unsigned long long)a->ttl_ms);
    fflush(stdout);
    s_wait_for_signal();
    discod_session_destroy(&session);
    return 0;
}

static int s_register_node(discod_client_t *c, const command_args_t *a)
{
    discod_node_t n = {a->positional[0], (char *)(a->description ? a->description : ""),
                       (char **)a->capabilities, a->capability_count, (discod_kv_t *)a->meta,
                       a->meta_count, 0, NULL, 0};
    discod_register_opts_t opts = {0, a->ttl_ms, NULL, 0};
    uint64_t lease = 0;
    if (a->ttl_ms)
        s_catch_signals();
    discod_result_t r = discod_register_node(c, &n, &opts, &lease);
    if (r != DISCOD_OK)
        return s_fail(c, "register-node", r);
    printf("%s\n", discod_client_last_message(c));
    if (!a->ttl_ms)
        return 0;
    fflush(stdout);
    /* Keep the node's lease alive until interrupted, then revoke it. */
    uint64_t period = a->ttl_ms / 3 ? a->ttl_ms / 3 : 1;
    while (!s_interrupted) {
        struct timespec ts = {(time_t)(period / 1000), (long)(period % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (!s_interrupted && discod_heartbeat(c, lease, NULL) == DISCOD_NOT_FOUND)
            discod_register_node(c, &n, &opts, &lease);
    }
    discod_revoke_lease(c, lease);
    return 0;
}

/* Prints the current listing as a "sync" record. Returns a discod result. */
static discod_result_t s_watch_sync(discod_client_t *c, const command_args_t *a)
{
    discod_filter_t filter = {a->prefix, NULL, NULL, NULL, 0};
    discod_topic_t *topics = NULL;
    size_t n = 0;
    discod_result_t r = discod_list(c, &filter, &topics, &n);
    if (r != DISCOD_OK)
        return r;
    if (a->json) {
        fputs("{\"event\":\"sync\",\"topics\":[", stdout);
        for (size_t i = 0; i < n; i++) {
            if (i)
                putchar(',');
            dctl_json_topic(&topics[i]);
        }
        puts("]}");
    } else {
        printf("-- %zu topic(s) registered --\n", n);
        for (size_t i = 0; i < n; i++)
            printf("   %s  %s  %s\n", topics[i].name, topics[i].address,
                   topics[i].publisher_node);
    }
    fflush(stdout);
    discod_topic_list_free(topics, n);
    return DISCOD_OK;
}

/* Reads one field of an event map. */
static const msgpack_object *s_field(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
        if (dc_mp_key_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

/* The CURVE keys of this run, for the events SUB of watch. */
static discod__curve_t s_curve;

static int s_watch(discod_client_t *c, const command_args_t *a)
{
    const char *fallback = getenv("DISCOD_EVENTS");
    if (!fallback || !*fallback)
        fallback = DISCOD_DEFAULT_EVENTS;
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    /* One SUB connected to every member's stream: the same event comes once
     * from each, with the same seq, and is printed once. */
    for (size_t i = 0; i < (a->event_count ? a->event_count : 1); i++) {
        const char *events = a->event_count ? a->events[i] : fallback;
        discod__curve_apply(&s_curve, sub, events);
        if (zmq_connect(sub, events) != 0) {
            fprintf(stderr, "discoctl watch: cannot connect %s\n", events);
            zmq_close(sub);
            zmq_ctx_term(ctx);
            return EXIT_USAGE;
        }
    }
    s_catch_signals();
    /* Subscribed first, then listed: nothing between the two is lost. */
    discod_result_t r = s_watch_sync(c, a);
    int exit_code = r == DISCOD_OK ? 0 : s_fail(c, "watch", r);
    uint64_t last_seq = 0, last_epoch = 0, seen = 0;
    while (exit_code == 0 && !s_interrupted && (!a->count || seen < a->count)) {
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 200) <= 0)
            continue;
        char name[64];
        int n = zmq_recv(sub, name, sizeof name - 1, 0);
        if (n < 0)
            continue;
        name[n < (int)sizeof name - 1 ? n : (int)sizeof name - 1] = 0;
        zmq_msg_t body;
        zmq_msg_init(&body);
        int more = 0;
        size_t more_size = sizeof more;
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_size);
        if (!more || zmq_msg_recv(&body, sub, 0) < 0) {
            zmq_msg_close(&body);
            continue;
        }
        /* The unpacked event points into body: body lives until the end. */
        msgpack_unpacked event;
        char err[DC_ERR_LEN];
        if (dc_mp_unpack(&event, zmq_msg_data(&body), zmq_msg_size(&body), err) != 0) {
            zmq_msg_close(&body);
            continue;
        }
        const msgpack_object *seq = s_field(&event.data, "seq");
        const msgpack_object *reason = s_field(&event.data, "reason");
        const msgpack_object *info = s_field(&event.data, "topic_info");
        const msgpack_object *node = s_field(&event.data, "node");
        uint64_t this_seq = seq && seq->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? seq->via.u64 : 0;
        const msgpack_object *epoch = s_field(&event.data, "epoch");
        uint64_t this_epoch =
            epoch && epoch->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? epoch->via.u64 : 0;
        bool same_stream = !last_epoch || this_epoch == last_epoch;
        last_epoch = this_epoch;
        if (last_seq && this_seq && this_seq <= last_seq && same_stream) {
            /* Printed already (another member's copy, or a replay). */
            msgpack_unpacked_destroy(&event);
            zmq_msg_close(&body);
            continue;
        }
        if (last_seq && this_seq != last_seq + 1) {
            if (a->json)
                printf("{\"event\":\"gap\",\"expected\":%llu,\"got\":%llu}\n",
                       (unsigned long long)(last_seq + 1), (unsigned long long)this_seq);
            else
                printf("-- missed events %llu..%llu: resynchronising --\n",
                       (unsigned long long)(last_seq + 1), (unsigned long long)(this_seq - 1));
            if (s_watch_sync(c, a) != DISCOD_OK)
                fprintf(stderr, "discoctl watch: resynchronisation failed\n");
        }
        last_seq = this_seq;
        discod_topic_t t = {0};
        bool have_topic = info && info->type == MSGPACK_OBJECT_BIN &&
                          discod__topic_from_blob(info->via.bin.ptr, info->via.bin.size, &t) ==
                              DISCOD_OK;
        const msgpack_object *node_name = node ? s_field(node, "name") : NULL;
        bool matches = !a->prefix || (have_topic && !strncmp(t.name, a->prefix, strlen(a->prefix)));
        if (matches) {
            char reason_text[64] = "";
            if (reason && reason->type == MSGPACK_OBJECT_STR)
                snprintf(reason_text, sizeof reason_text, "%.*s", (int)reason->via.str.size,
                         reason->via.str.ptr);
            if (a->json) {
                printf("{\"seq\":%llu,\"event\":", (unsigned long long)this_seq);
                dctl_json_string(name);
                fputs(",\"reason\":", stdout);
                dctl_json_string(reason_text);
                if (have_topic) {
                    fputs(",\"topic\":", stdout);
                    dctl_json_topic(&t);
                } else if (node_name && node_name->type == MSGPACK_OBJECT_STR) {
                    char text[300];
                    snprintf(text, sizeof text, "%.*s", (int)node_name->via.str.size,
                             node_name->via.str.ptr);
                    fputs(",\"node\":", stdout);
                    dctl_json_string(text);
                }
                puts("}");
            } else if (have_topic)
                printf("%llu  %-14s %s  %s  %s  (%s)\n", (unsigned long long)this_seq, name,
                       t.name, t.address, t.publisher_node, reason_text);
            else
                printf("%llu  %-14s %.*s  (%s)\n", (unsigned long long)this_seq, name,
                       node_name && node_name->type == MSGPACK_OBJECT_STR
                           ? (int)node_name->via.str.size : 0,
                       node_name && node_name->type == MSGPACK_OBJECT_STR
                           ? node_name->via.str.ptr : "",
                       reason_text);
            fflush(stdout);
            seen++;
        }
        discod_topic_clear(&t);
        msgpack_unpacked_destroy(&event);
        zmq_msg_close(&body);
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return exit_code;
}

int main(int argc, char **argv)
{
    const char *endpoints[16];
    size_t endpoint_count = 0;
    discod_options_t options;
    discod_options_init(&options);
    static const struct option globals[] = {{"endpoint", required_argument, 0, 'e'},
                                            {"timeout-ms", required_argument, 0, 't'},
                                            {"retries", required_argument, 0, 'r'},
                                            {"prefer-local", no_argument, 0, 'L'},
                                            {"server-key", required_argument, 0, 'S'},
                                            {"client-key", required_argument, 0, 'C'},
                                            {"help", no_argument, 0, 'h'},
                                            {0, 0, 0, 0}};
    int opt;
    opterr = 0;
    /* "+": stop at the first non-option, the command. */
    while ((opt = getopt_long(argc, argv, "+e:h", globals, NULL)) != -1) {
        char *end = NULL;
        long v;
        switch (opt) {
        case 'e':
            if (endpoint_count == 16) {
                fprintf(stderr, "discoctl: at most 16 endpoints\n");
                return EXIT_USAGE;
            }
            endpoints[endpoint_count++] = optarg;
            break;
        case 't':
        case 'r':
            v = strtol(optarg, &end, 10);
            if (!end || *end || v < 1 || v > 3600000) {
                fprintf(stderr, "discoctl: --%s needs a positive integer\n",
                        opt == 't' ? "timeout-ms" : "retries");
                return EXIT_USAGE;
            }
            if (opt == 't')
                options.timeout_ms = (int)v;
            else
                options.retries = (int)v;
            break;
        case 'L': options.prefer_local = 1; break;
        case 'S': options.server_key = optarg; break;
        case 'C': options.client_key = optarg; break;
        case 'h': fputs(s_usage_text, stdout); return 0;
        default:
            fprintf(stderr, "discoctl: unknown or incomplete option '%s'\n%s", argv[optind - 1],
                    s_usage_text);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs(s_usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *command = argv[optind];
    bool known = false;
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        known |= !strcmp(s_commands[i].name, command);
    if (!known) {
        fprintf(stderr, "discoctl: unknown command '%s'\n%s", command, s_usage_text);
        return EXIT_USAGE;
    }
    command_args_t a;
    int rc = s_parse_command(argc - optind, argv + optind, command, &a);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;

    if (!strcmp(command, "keygen")) {
        if (s_expect_args(&a, 1, command))
            return EXIT_USAGE;
        if (discod_keygen(a.positional[0], a.role) != 0) {
            fprintf(stderr, "discoctl keygen: cannot write %s and %s_secret: %s\n",
                    a.positional[0], a.positional[0],
                    errno == EINVAL ? "the role must be read, write or admin" : strerror(errno));
            return EXIT_USAGE;
        }
        printf("%s (public%s%s) and %s_secret written\n", a.positional[0],
               a.role ? ", role " : "", a.role ? a.role : "", a.positional[0]);
        return 0;
    }
    if (endpoint_count == 0) {
        const char *env = getenv("DISCOD_ENDPOINT");
        endpoints[endpoint_count++] = env && *env ? env : DISCOD_DEFAULT_ENDPOINT;
    }
    if (!options.server_key)
        options.server_key = getenv("DISCOD_SERVER_KEY");
    if (!options.client_key)
        options.client_key = getenv("DISCOD_CLIENT_KEY");
    discod__curve_t curve;
    if (discod__curve_load(options.server_key && *options.server_key ? options.server_key : NULL,
                           options.client_key && *options.client_key ? options.client_key : NULL,
                           &curve) != 0) {
        fprintf(stderr, "discoctl: --server-key and --client-key go together, and must be "
                        "readable czmq certificates (the client's secret in FILE_secret)\n");
        return EXIT_USAGE;
    }
    discod_client_t *c = discod_client_new_multi(endpoints, endpoint_count, &options);
    if (!c) {
        fprintf(stderr, "discoctl: endpoints must start with ipc:// or tcp://\n");
        return EXIT_USAGE;
    }
    s_curve = curve;
    discod_result_t r;
    int exit_code = 0;
    if (!strcmp(command, "ping")) {
        if ((rc = s_expect_args(&a, 0, command)))
            exit_code = EXIT_USAGE;
        else if ((r = discod_ping(c)) != DISCOD_OK)
            exit_code = s_fail(c, "ping", r);
        else if (discod_client_member(c))
            printf("pong from %s (protocol %d, member %" PRIu64 ", term %" PRIu64 ")\n",
                   discod_client_endpoint(c), discod_client_protocol(c), discod_client_member(c),
                   discod_client_term(c));
        else
            printf("pong from %s (protocol %d)\n", discod_client_endpoint(c),
                   discod_client_protocol(c));
    } else if (!strcmp(command, "list")) {
        discod_filter_t filter = {a.prefix, a.type, a.node, a.meta, a.meta_count};
        discod_topic_t *topics = NULL;
        size_t n = 0;
        if ((rc = s_expect_args(&a, 0, command)))
            exit_code = EXIT_USAGE;
        else if ((r = discod_list(c, &filter, &topics, &n)) != DISCOD_OK)
            exit_code = s_fail(c, "list", r);
        else if (a.json) {
            putchar('[');
            for (size_t i = 0; i < n; i++) {
                if (i)
                    putchar(',');
                dctl_json_topic(&topics[i]);
            }
            puts("]");
        } else
            dctl_print_table(topics, n);
        discod_topic_list_free(topics, n);
    } else if (!strcmp(command, "lookup")) {
        if ((rc = s_expect_args(&a, 1, command)))
            exit_code = EXIT_USAGE;
        else
            exit_code = s_lookup(c, &a);
    } else if (!strcmp(command, "wait")) {
        discod_topic_t t = {0};
        if ((rc = s_expect_args(&a, 1, command)))
            exit_code = EXIT_USAGE;
        else if ((r = discod_wait_for_topic(c, a.positional[0], (int)(a.timeout_sec * 1000),
                                            &t)) != DISCOD_OK)
            exit_code = s_fail(c, a.positional[0], r);
        else if (a.json) {
            dctl_json_topic(&t);
            putchar('\n');
        } else
            dctl_print_table(&t, 1);
        discod_topic_clear(&t);
    } else if (!strcmp(command, "register")) {
        if ((rc = s_expect_args(&a, 3, command)))
            exit_code = EXIT_USAGE;
        else {
            discod_topic_t t = {a.positional[0], a.positional[1], a.positional[2], a.fingerprint,
                                (char *)(a.node ? a.node : "discoctl")};
            if (a.ttl_ms)
                exit_code = s_register_kept_alive(endpoints, endpoint_count, &options, &t, &a);
            else {
                discod_register_opts_t opts = {0, 0, a.meta, a.meta_count};
                if ((r = discod_register_ex(c, &t, &opts, NULL)) != DISCOD_OK)
                    exit_code = s_fail(c, "register", r);
                else
                    printf("%s\n", discod_client_last_message(c));
            }
        }
    } else if (!strcmp(command, "register-node")) {
        if ((rc = s_expect_args(&a, 1, command)))
            exit_code = EXIT_USAGE;
        else
            exit_code = s_register_node(c, &a);
    } else if (!strcmp(command, "unregister-node")) {
        if ((rc = s_expect_args(&a, 1, command)))
            exit_code = EXIT_USAGE;
        else if ((r = discod_unregister_node(c, a.positional[0])) != DISCOD_OK)
            exit_code = s_fail(c, "unregister-node", r);
        else
            printf("%s\n", discod_client_last_message(c));
    } else if (!strcmp(command, "nodes") || !strcmp(command, "node")) {
        bool one = !strcmp(command, "node");
        discod_node_t *nodes = NULL;
        size_t n = 0;
        if ((rc = s_expect_args(&a, one ? 1 : 0, command)))
            exit_code = EXIT_USAGE;
        else {
            if (one) {
                nodes = calloc(1, sizeof *nodes);
                r = nodes ? discod_get_node(c, a.positional[0], nodes) : DISCOD_NOMEM;
                n = r == DISCOD_OK ? 1 : 0;
            } else
                r = discod_find_nodes(c, a.capability_count ? a.capabilities[0] : NULL, &nodes,
                                      &n);
            if (r != DISCOD_OK)
                exit_code = s_fail(c, command, r);
            else
                dctl_print_nodes(nodes, n, a.json, one);
        }
        discod_node_list_free(nodes, n);
    } else if (!strcmp(command, "watch")) {
        if ((rc = s_expect_args(&a, 0, command)))
            exit_code = EXIT_USAGE;
        else
            exit_code = s_watch(c, &a);
    } else if (!strcmp(command, "unregister")) {
        if ((rc = s_expect_args(&a, 1, command)))
            exit_code = EXIT_USAGE;
        else if ((r = a.node ? discod_unregister_node_topic(c, a.positional[0], a.node)
                             : discod_unregister(c, a.positional[0])) != DISCOD_OK)
            exit_code = s_fail(c, "unregister", r);
        else
            printf("%s\n", discod_client_last_message(c));
    } else if (!strcmp(command, "members")) {
        if ((rc = s_expect_args(&a, 0, command)))
            exit_code = EXIT_USAGE;
        else
            exit_code = s_members(endpoints, endpoint_count, &options, a.json);
    } else if (!strcmp(command, "member")) {
        exit_code = s_member_change(c, &a);
    } else if (!strcmp(command, "stats")) {
        discod_stat_t *stats = NULL;
        size_t n = 0;
        if ((rc = s_expect_args(&a, 0, command)))
            exit_code = EXIT_USAGE;
        else if ((r = discod_stats(c, &stats, &n)) != DISCOD_OK)
            exit_code = s_fail(c, "stats", r);
        else {
            int width = 0;
            for (size_t i = 0; i < n; i++)
                if ((int)strlen(stats[i].name) > width)
                    width = (int)strlen(stats[i].name);
            if (a.json)
                putchar('{');
            for (size_t i = 0; i < n; i++) {
                if (a.json) {
                    if (i)
                        putchar(',');
                    dctl_json_string(stats[i].name);
                    printf(":%" PRIu64, stats[i].value);
                } else
                    printf("%-*s  %" PRIu64 "\n", width, stats[i].name, stats[i].value);
            }
            if (a.json)
                puts("}");
        }
        discod_stats_free(stats, n);
    }
    discod_client_destroy(&c);
    return exit_code;
}
