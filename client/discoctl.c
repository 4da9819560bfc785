/* discoctl: a command line for discod (and the Cortex daemon), built on the
 * client library: global options, each subcommand's flags, and the short
 * commands; members and watch have files of their own (discoctl.h). Exit
 * codes: 0 ok, 1 not found, 2 usage, 3 daemon unreachable, 4 refused by the
 * daemon (ERROR, ALREADY_EXISTS, bad reply). */
#include "discoctl.h"
#include "discoctl_print.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    "  node NAME [--json]                 show one node, its topics and subscriptions\n"
    "  subscribe NAME [TYPE] [--fingerprint N] [--node NODE] [--ttl-ms N]\n"
    "                                     declare a subscription (kept alive with --ttl-ms)\n"
    "  unsubscribe NAME [--node NODE]     remove a subscription\n"
    "  topic NAME [--json]                every publisher and subscriber of a topic\n"
    "  graph [--node N] [--format text|dot] [--json]\n"
    "                                     the node -> topic -> node graph\n"
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
              "  from EP ($DISCOD_EVENTS, else beside an ipc -e endpoint X.sock at\n"
              "  X-events.sock, where the daemon puts them unless told, else\n"
              "  " DISCOD_DEFAULT_EVENTS "). Give each\n"
              "  member's EP in a cluster: they publish the same seqs, each event is\n"
              "  printed once, and the stream goes on without a gap when a member dies.\n"},
    {"nodes", "discoctl nodes [--capability C] [--json]\n  Lists nodes, optionally by capability.\n"},
    {"node", "discoctl node NAME [--json]\n"
             "  Shows one node with the topics it publishes and, from GRAPH, what it\n"
             "  publishes and subscribes to (a node that never registered itself is shown\n"
             "  by those alone). Type mismatches are marked.\n"},
    {"subscribe", "discoctl subscribe NAME [TYPE] [--fingerprint N] [--node NODE] [--meta K=V]...\n"
                  "                   [--ttl-ms N]\n"
                  "  Declares that NODE (default 'discoctl') reads NAME expecting TYPE and\n"
                  "  fingerprint N (none: any). Prints a MISMATCH line for each publisher whose\n"
                  "  type differs. With --ttl-ms a lease holds it, renewed until SIGINT/SIGTERM.\n"},
    {"unsubscribe", "discoctl unsubscribe NAME [--node NODE]\n"
                    "  Removes NODE's (default 'discoctl') subscription; exit 1 when absent.\n"},
    {"topic", "discoctl topic NAME [--json]\n"
              "  Every publisher and subscriber of NAME: node, type, fingerprint, lease and\n"
              "  its remaining time, the member it came in at; mismatches marked, and how\n"
              "  often clients that never declared themselves looked it up. Exit 1 when the\n"
              "  daemon knows nothing of it.\n"},
    {"graph", "discoctl graph [--node N] [--format text|dot] [--json]\n"
              "  The robot's graph: for each topic, publisher -> topic -> subscriber, with\n"
              "  mismatches marked. --format dot writes Graphviz (discoctl graph --format dot\n"
              "  | dot -Tsvg > robot.svg); --json the GRAPH reply. --node: one node's part.\n"},
    {"register-node", "discoctl register-node NAME [--description D] [--capability C]...\n"
                      "                       [--meta K=V]... [--ttl-ms N]\n"
                      "  Registers a node; with --ttl-ms keeps it alive until interrupted.\n"},
    {"unregister-node", "discoctl unregister-node NAME\n  Removes a node.\n"},
    {"members", "discoctl members [--json]\n"
                "  Asks every -e endpoint (one per member) for the cluster as it sees it and\n"
                "  prints each member: id, Raft address, voting, role, leader, reachable, and\n"
                "  the term, commit and applied index of the members that answered. When the\n"
                "  leader answers, the rows are its configuration (the others may be a\n"
                "  heartbeat behind a membership change).\n"},
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

int dctl_exit_code(discod_result_t r)
{
    switch (r) {
    case DISCOD_OK: return 0;
    case DISCOD_NOT_FOUND: return EXIT_NOT_FOUND;
    case DISCOD_TIMEOUT: return EXIT_UNREACHABLE;
    case DISCOD_INVALID: return EXIT_USAGE;
    default: return EXIT_REFUSED;
    }
}

int dctl_fail(discod_client_t *c, const char *what, discod_result_t r)
{
    const char *message = c ? discod_client_last_message(c) : "";
    fprintf(stderr, "discoctl: %s: %s%s%s\n", what, discod_strerror(r), *message ? ": " : "",
            message);
    return dctl_exit_code(r);
}

int dctl_parse_u64(const char *text, uint64_t *out)
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

/* Parses a subcommand's flags and positionals. Returns 0, 1 for --help
 * (printed), or -1 after printing a usage error. */
static int s_parse_command(int argc, char **argv, const char *command, command_args_t *a)
{
    enum {
        OPT_PREFIX = 256, OPT_TYPE, OPT_NODE, OPT_FP, OPT_TIMEOUT, OPT_JSON, OPT_HELP, OPT_TTL,
        OPT_META, OPT_CAP, OPT_DESC, OPT_EVENTS, OPT_COUNT, OPT_ROLE, OPT_FORMAT
    };
    static const struct option options[] = {
        {"prefix", required_argument, 0, OPT_PREFIX}, {"type", required_argument, 0, OPT_TYPE},
        {"node", required_argument, 0, OPT_NODE},     {"fingerprint", required_argument, 0, OPT_FP},
        {"timeout", required_argument, 0, OPT_TIMEOUT}, {"json", no_argument, 0, OPT_JSON},
        {"ttl-ms", required_argument, 0, OPT_TTL},    {"meta", required_argument, 0, OPT_META},
        {"capability", required_argument, 0, OPT_CAP},
        {"description", required_argument, 0, OPT_DESC},
        {"events", required_argument, 0, OPT_EVENTS}, {"count", required_argument, 0, OPT_COUNT},
        {"role", required_argument, 0, OPT_ROLE},     {"format", required_argument, 0, OPT_FORMAT},
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
        case OPT_FORMAT: a->format = optarg; break;
        case OPT_EVENTS:
            if (a->event_count == 16) {
                fprintf(stderr, "discoctl %s: at most 16 --events\n", command);
                return -1;
            }
            a->events[a->event_count++] = optarg;
            break;
        case OPT_TTL:
        case OPT_COUNT:
            if (dctl_parse_u64(optarg, opt == OPT_TTL ? &a->ttl_ms : &a->count) ||
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
            if (dctl_parse_u64(optarg, &a->fingerprint)) {
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
        return dctl_fail(c, a->positional[0], r);
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

/*==== Kept-alive registrations and nodes ====*/

volatile sig_atomic_t dctl_interrupted = 0;

static void s_on_signal(int signo)
{
    (void)signo;
    dctl_interrupted = 1;
}

void dctl_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void dctl_wait_for_signal(void)
{
    while (!dctl_interrupted) {
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
    dctl_catch_signals(); /* before anything can be registered */
    discod_session_t *session = discod_session_new(endpoints, count, options, a->ttl_ms);
    if (!session) {
        fprintf(stderr, "discoctl register: cannot start a session\n");
        return EXIT_USAGE;
    }
    discod_result_t r = discod_session_register(session, t);
    if (r != DISCOD_OK) {
        fprintf(stderr, "discoctl register: %s\n", discod_strerror(r));
        discod_session_destroy(&session);
        return dctl_exit_code(r);
    }
    printf("Registered topic: %s (lease %llu, ttl %llu ms); renewing until interrupted\n",
           t->name, (unsigned long long)discod_session_lease_id(session),
           (unsigned long long)a->ttl_ms);
    fflush(stdout);
    dctl_wait_for_signal();
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
        dctl_catch_signals();
    discod_result_t r = discod_register_node(c, &n, &opts, &lease);
    if (r != DISCOD_OK)
        return dctl_fail(c, "register-node", r);
    printf("%s\n", discod_client_last_message(c));
    if (!a->ttl_ms)
        return 0;
    fflush(stdout);
    /* Keep the node's lease alive until interrupted, then revoke it. */
    uint64_t period = a->ttl_ms / 3 ? a->ttl_ms / 3 : 1;
    while (!dctl_interrupted) {
        struct timespec ts = {(time_t)(period / 1000), (long)(period % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (!dctl_interrupted && discod_heartbeat(c, lease, NULL) == DISCOD_NOT_FOUND)
            discod_register_node(c, &n, &opts, &lease);
    }
    discod_revoke_lease(c, lease);
    return 0;
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
    discod_result_t r;
    int exit_code = 0;
    if (!strcmp(command, "ping")) {
        if ((rc = s_expect_args(&a, 0, command)))
            exit_code = EXIT_USAGE;
        else if ((r = discod_ping(c)) != DISCOD_OK)
            exit_code = dctl_fail(c, "ping", r);
        else if (discod_client_isolated(c))
            printf("pong from %s (protocol %d, member %" PRIu64 ", term %" PRIu64
                   ", ISOLATED: serving this computer, %" PRIu64 " provisional write(s) to "
                   "merge)\n",
                   discod_client_endpoint(c), discod_client_protocol(c), discod_client_member(c),
                   discod_client_term(c), discod_client_isolated(c) - 1);
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
            exit_code = dctl_fail(c, "list", r);
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
            exit_code = dctl_fail(c, a.positional[0], r);
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
                    exit_code = dctl_fail(c, "register", r);
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
            exit_code = dctl_fail(c, "unregister-node", r);
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
            if (one && r == DISCOD_NOT_FOUND) {
                /* Not registered as a node: what it publishes and reads. */
                bool any = false;
                if (a.json) {
                    fputs("{\"name\":", stdout);
                    dctl_json_string(a.positional[0]);
                    fputs(",\"registered\":false", stdout);
                } else
                    printf("%s  (not registered as a node)\n", a.positional[0]);
                exit_code = dctl_node_subscriptions(c, a.positional[0], a.json, &any);
                if (a.json)
                    puts("}");
                if (!exit_code && !any) {
                    if (!a.json)
                        printf("  nothing published or subscribed\n");
                    exit_code = EXIT_NOT_FOUND;
                }
            } else if (r != DISCOD_OK)
                exit_code = dctl_fail(c, command, r);
            else {
                dctl_print_nodes(nodes, n, a.json, one, one);
                bool any;
                if (one)
                    exit_code = dctl_node_subscriptions(c, a.positional[0], a.json, &any);
                if (one && a.json)
                    puts("}");
            }
        }
        discod_node_list_free(nodes, n);
    } else if (!strcmp(command, "subscribe")) {
        if (a.positional_count < 1 || a.positional_count > 2) {
            s_expect_args(&a, 1, command);
            exit_code = EXIT_USAGE;
        } else
            exit_code = dctl_subscribe(endpoints, endpoint_count, &options, c, &a);
    } else if (!strcmp(command, "unsubscribe")) {
        exit_code = (rc = s_expect_args(&a, 1, command)) ? EXIT_USAGE : dctl_unsubscribe(c, &a);
    } else if (!strcmp(command, "topic")) {
        exit_code = (rc = s_expect_args(&a, 1, command)) ? EXIT_USAGE : dctl_topic(c, &a);
    } else if (!strcmp(command, "graph")) {
        exit_code = (rc = s_expect_args(&a, 0, command)) ? EXIT_USAGE : dctl_graph(c, &a);
    } else if (!strcmp(command, "watch")) {
        if ((rc = s_expect_args(&a, 0, command)))
            exit_code = EXIT_USAGE;
        else
            exit_code = dctl_watch(c, &a, &curve);
    } else if (!strcmp(command, "unregister")) {
        if ((rc = s_expect_args(&a, 1, command)))
            exit_code = EXIT_USAGE;
        else if ((r = a.node ? discod_unregister_node_topic(c, a.positional[0], a.node)
                             : discod_unregister(c, a.positional[0])) != DISCOD_OK)
            exit_code = dctl_fail(c, "unregister", r);
        else
            printf("%s\n", discod_client_last_message(c));
    } else if (!strcmp(command, "members")) {
        if ((rc = s_expect_args(&a, 0, command)))
            exit_code = EXIT_USAGE;
        else
            exit_code = dctl_members(endpoints, endpoint_count, &options, a.json);
    } else if (!strcmp(command, "member")) {
        exit_code = dctl_member_change(c, &a);
    } else if (!strcmp(command, "stats")) {
        discod_stat_t *stats = NULL;
        size_t n = 0;
        if ((rc = s_expect_args(&a, 0, command)))
            exit_code = EXIT_USAGE;
        else if ((r = discod_stats(c, &stats, &n)) != DISCOD_OK)
            exit_code = dctl_fail(c, "stats", r);
        else
            dctl_print_stats(stats, n, a.json);
        discod_stats_free(stats, n);
    }
    discod_client_destroy(&c);
    return exit_code;
}
