/* discoctl: a command line for discod (and the Cortex daemon), built on the
 * client library. Exit codes: 0 ok, 1 not found, 2 usage, 3 daemon
 * unreachable, 4 refused by the daemon (ERROR, ALREADY_EXISTS, bad reply). */
#include "discod.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_NOT_FOUND = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_REFUSED = 4 };

static const char *s_usage_text =
    "Usage: discoctl [-e|--endpoint EP]... [--timeout-ms N] [--retries N] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  ping                               check that the daemon answers\n"
    "  list [--prefix P] [--type T] [--node N] [--json]\n"
    "                                     list registered topics\n"
    "  lookup NAME [--json]               show one topic\n"
    "  register NAME ADDRESS TYPE [--fingerprint N] [--node NODE]\n"
    "                                     register a topic\n"
    "  unregister NAME                    remove a topic\n"
    "  wait NAME [--timeout SEC] [--json] wait until a topic is registered\n"
    "  stats [--json]                     daemon counters (protocol 2)\n"
    "\n"
    "The endpoint defaults to $DISCOD_ENDPOINT, else " DISCOD_DEFAULT_ENDPOINT ".\n"
    "Several -e give failover order. Exit codes: 0 ok, 1 not found, 2 usage,\n"
    "3 daemon unreachable, 4 refused by the daemon.\n"
    "'discoctl COMMAND --help' shows one command.\n";

static const struct {
    const char *name;
    const char *usage;
} s_commands[] = {
    {"ping", "discoctl ping\n  Exit 0 when the daemon answers, 3 when it does not.\n"},
    {"list", "discoctl list [--prefix P] [--type T] [--node N] [--json]\n"
             "  Lists topics, optionally filtered by name prefix, message type, node.\n"},
    {"lookup", "discoctl lookup NAME [--json]\n  Shows one topic; exit 1 when absent.\n"},
    {"register", "discoctl register NAME ADDRESS TYPE [--fingerprint N] [--node NODE]\n"
                 "  Registers a topic (node defaults to 'discoctl').\n"},
    {"unregister", "discoctl unregister NAME\n  Removes a topic; exit 1 when absent.\n"},
    {"wait", "discoctl wait NAME [--timeout SEC] [--json]\n"
             "  Waits (default 30 s) until NAME is registered; exit 1 on time out.\n"},
    {"stats", "discoctl stats [--json]\n  Prints the daemon's counters.\n"},
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

static void s_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void s_json_topic(const discod_topic_t *t)
{
    fputs("{\"name\":", stdout);
    s_json_string(t->name);
    fputs(",\"address\":", stdout);
    s_json_string(t->address);
    fputs(",\"message_type\":", stdout);
    s_json_string(t->message_type);
    printf(",\"fingerprint\":%" PRIu64 ",\"publisher_node\":", t->fingerprint);
    s_json_string(t->publisher_node);
    putchar('}');
}

/* Display width of UTF-8 text: one column per code point (good enough for
 * aligning names; wide CJK glyphs may still push a column). */
static int s_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xc0) != 0x80;
    return w;
}

static void s_pad(const char *s, int width)
{
    fputs(s, stdout);
    for (int i = s_width(s); i < width; i++)
        putchar(' ');
}

static void s_print_table(const discod_topic_t *topics, size_t n)
{
    const char *headers[] = {"NAME", "ADDRESS", "TYPE", "NODE"};
    int widths[4];
    for (int k = 0; k < 4; k++)
        widths[k] = s_width(headers[k]);
    for (size_t i = 0; i < n; i++) {
        const char *cells[] = {topics[i].name, topics[i].address, topics[i].message_type,
                               topics[i].publisher_node};
        for (int k = 0; k < 4; k++)
            if (s_width(cells[k]) > widths[k])
                widths[k] = s_width(cells[k]);
    }
    for (int k = 0; k < 4; k++) {
        s_pad(headers[k], widths[k]);
        fputs("  ", stdout);
    }
    puts("FINGERPRINT");
    for (size_t i = 0; i < n; i++) {
        const char *cells[] = {topics[i].name, topics[i].address, topics[i].message_type,
                               topics[i].publisher_node};
        for (int k = 0; k < 4; k++) {
            s_pad(cells[k], widths[k]);
            fputs("  ", stdout);
        }
        printf("%" PRIu64 "\n", topics[i].fingerprint);
    }
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

typedef struct {
    bool json;
    const char *prefix, *type, *node;
    uint64_t fingerprint;
    double timeout_sec;
    char *positional[4];
    int positional_count;
} command_args_t;

/* Parses a subcommand's flags and positionals. Returns 0, 1 for --help
 * (printed), or -1 after printing a usage error. */
static int s_parse_command(int argc, char **argv, const char *command, command_args_t *a)
{
    enum { OPT_PREFIX = 256, OPT_TYPE, OPT_NODE, OPT_FP, OPT_TIMEOUT, OPT_JSON, OPT_HELP };
    static const struct option options[] = {
        {"prefix", required_argument, 0, OPT_PREFIX}, {"type", required_argument, 0, OPT_TYPE},
        {"node", required_argument, 0, OPT_NODE},     {"fingerprint", required_argument, 0, OPT_FP},
        {"timeout", required_argument, 0, OPT_TIMEOUT}, {"json", no_argument, 0, OPT_JSON},
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

int main(int argc, char **argv)
{
    const char *endpoints[16];
    size_t endpoint_count = 0;
    discod_options_t options;
    discod_options_init(&options);
    static const struct option globals[] = {{"endpoint", required_argument, 0, 'e'},
                                            {"timeout-ms", required_argument, 0, 't'},
                                            {"retries", required_argument, 0, 'r'},
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

    if (endpoint_count == 0) {
        const char *env = getenv("DISCOD_ENDPOINT");
        endpoints[endpoint_count++] = env && *env ? env : DISCOD_DEFAULT_ENDPOINT;
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
            exit_code = s_fail(c, "ping", r);
        else
            printf("pong from %s (protocol %d)\n", discod_client_endpoint(c),
                   discod_client_protocol(c));
    } else if (!strcmp(command, "list")) {
        discod_filter_t filter = {a.prefix, a.type, a.node};
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
                s_json_topic(&topics[i]);
            }
            puts("]");
        } else
            s_print_table(topics, n);
        discod_topic_list_free(topics, n);
    } else if (!strcmp(command, "lookup") || !strcmp(command, "wait")) {
        discod_topic_t t = {0};
        bool wait = !strcmp(command, "wait");
        if ((rc = s_expect_args(&a, 1, command)))
            exit_code = EXIT_USAGE;
        else if ((r = wait ? discod_wait_for_topic(c, a.positional[0],
                                                    (int)(a.timeout_sec * 1000), &t)
                           : discod_lookup(c, a.positional[0], &t)) != DISCOD_OK)
            exit_code = s_fail(c, a.positional[0], r);
        else if (a.json) {
            s_json_topic(&t);
            putchar('\n');
        } else
            s_print_table(&t, 1);
        discod_topic_clear(&t);
    } else if (!strcmp(command, "register")) {
        if ((rc = s_expect_args(&a, 3, command)))
            exit_code = EXIT_USAGE;
        else {
            discod_topic_t t = {a.positional[0], a.positional[1], a.positional[2], a.fingerprint,
                                (char *)(a.node ? a.node : "discoctl")};
            if ((r = discod_register(c, &t)) != DISCOD_OK)
                exit_code = s_fail(c, "register", r);
            else
                printf("%s\n", discod_client_last_message(c));
        }
    } else if (!strcmp(command, "unregister")) {
        if ((rc = s_expect_args(&a, 1, command)))
            exit_code = EXIT_USAGE;
        else if ((r = discod_unregister(c, a.positional[0])) != DISCOD_OK)
            exit_code = s_fail(c, "unregister", r);
        else
            printf("%s\n", discod_client_last_message(c));
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
                    s_json_string(stats[i].name);
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
