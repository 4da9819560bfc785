/* test_config.c: defaults, the ZPL file, flags winning over the file, and
 * clear refusals of bad lines, keys and values. */
#include "dc_config.h"
#include "dc_protocol.h"
#include "dc_test.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char s_dir[] = "/tmp/discod-test-config-XXXXXX";

static int s_parse(dc_config_t *c, int argc, char **argv)
{
    dc_config_defaults(c);
    return dc_config_from_args(c, argc, argv);
}

/* Parses argv (NULL-terminated), expecting a refusal; leaves nothing behind. */
static bool s_refuses(char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    dc_config_t c;
    int rc = s_parse(&c, argc, argv);
    dc_config_clear(&c);
    return rc == -1;
}

static const char *s_write(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

int main(int argc, char **argv)
{
    CHECK(mkdtemp(s_dir) != NULL);
    dc_config_t c;

    char *none[] = {"discod", NULL};
    CHECK(s_parse(&c, 1, none) == 0);
    CHECK(c.endpoint_count == 1 && strcmp(c.endpoints[0], DC_DEFAULT_ENDPOINT) == 0);
    CHECK(c.sync == DC_SYNC_FULL && c.workers == 0 && c.max_message_size == 1048576);
    CHECK(c.db_path && strstr(c.db_path, "registry.db"));
    CHECK(c.datagram && c.io_threads == 1);
    dc_config_clear(&c);

    const char *file = s_write("good.conf", "# comment\n"
                                            "server\n"
                                            "    address = \"ipc:///tmp/a.sock\"\n"
                                            "    address = \"tcp://127.0.0.1:7777\"\n"
                                            "    workers = 3\n"
                                            "    datagram = false\n"
                                            "    io_threads = 2\n"
                                            "store\n"
                                            "    path = \"/tmp/x.db\"\n"
                                            "    sync = normal\n"
                                            "log\n"
                                            "    level = DEBUG\n"
                                            "security\n"
                                            "    insecure_tcp = true\n");
    char *with_file[] = {"discod", "--config", (char *)file, NULL};
    CHECK(s_parse(&c, 3, with_file) == 0);
    CHECK(c.insecure_tcp && !c.curve_key && c.allow_shutdown == DC_SHUTDOWN_IPC);
    CHECK(c.endpoint_count == 2 && strcmp(c.endpoints[1], "tcp://127.0.0.1:7777") == 0);
    CHECK(c.workers == 3 && c.sync == DC_SYNC_NORMAL && c.log_level == DC_LOG_DEBUG);
    CHECK(!c.datagram && c.io_threads == 2);
    CHECK(strcmp(c.db_path, "/tmp/x.db") == 0);
    dc_config_clear(&c);

    char *flags_win[] = {"discod",  "--workers", "1",      "--config",   (char *)file,
                         "--address", "ipc:///tmp/b.sock", "--sync", "full", NULL};
    CHECK(s_parse(&c, 9, flags_win) == 0);
    CHECK(c.workers == 1 && c.sync == DC_SYNC_FULL);
    CHECK(c.endpoint_count == 1 && strcmp(c.endpoints[0], "ipc:///tmp/b.sock") == 0);
    CHECK(strcmp(c.db_path, "/tmp/x.db") == 0);
    dc_config_clear(&c);

    /* Each of these must be refused, not half-applied. */
    const char *bad_files[] = {
        "server\n    wrokers = 2\n",          /* unknown key */
        "server\n    workers = many\n",       /* bad value */
        "store\n    sync = sometimes\n",      /* bad enum */
        "server\n    address = \"udp://x\"\n", /* bad scheme */
        "server\n  address = \"ipc:///x\"\n",  /* bad indent: syntax error */
        "server\n    workers = \"2\n",        /* unterminated quote: syntax error */
        "server\n    datagram = sometimes\n",  /* bad bool */
        "server\n    io_threads = 0\n",        /* out of range */
        "cluster\n    member = \"1=host\"\n",   /* no port */
        "cluster\n    member = \"x=host:1\"\n", /* no id */
        "cluster\n    member = \"0=host:1\"\n", /* id 0 */
        "cluster\n    member = \"1=host:70000\"\n", /* bad port */
        "cluster\n    member = \"1=a:1\"\n    member = \"1=b:2\"\n", /* id twice */
        "cluster\n    member = \"1=a:1\"\n    member = \"2=a:1\"\n", /* address twice */
        "cluster\n    member_id = 3\n    member = \"1=a:1\"\n", /* not a member */
        "cluster\n    member_id = 1\n",          /* no members */
        "cluster\n    member = \"1=a:1\"\n",   /* members without member_id */
        "cluster\n    election_timeout_ms = 10\n", /* out of range */
        "server\n    publishers_per_topic = 0\n", /* out of range */
        "server\n    publishers_per_topic = 65\n", /* above DC_MAX_PUBLISHERS_PER_TOPIC */
    };
    for (size_t i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
        const char *bad = s_write("bad.conf", bad_files[i]);
        char *argv[] = {"discod", "--config", (char *)bad, NULL};
        int rc = s_parse(&c, 3, argv);
        if (rc != -1)
            fprintf(stderr, "bad config %zu was accepted\n", i);
        CHECK(rc == -1);
        dc_config_clear(&c);
    }
    char *missing[] = {"discod", "--config", "/nonexistent/discod.conf", NULL};
    CHECK(s_refuses(missing));
    char *bad_flag[] = {"discod", "--wrokers", "2", NULL};
    CHECK(s_refuses(bad_flag));
    char *bad_level[] = {"discod", "--log-level", "LOUD", NULL};
    CHECK(s_refuses(bad_level));
    /* A cluster: flags, file, and flags replacing the file's members. */
    const char *cluster = s_write("cluster.conf", "store\n"
                                                  "    path = \"/tmp/c.db\"\n"
                                                  "cluster\n"
                                                  "    member_id = 2\n"
                                                  "    member = \"1=10.0.0.1:7400\"\n"
                                                  "    member = \"2=10.0.0.2:7400\"\n"
                                                  "    member = \"3=robot-c.local:7400\"\n"
                                                  "security\n"
                                                  "    curve_key = \"/k/cluster\"\n"
                                                  "    insecure_tcp = true\n");
    char *file_cluster[] = {"discod", "--config", (char *)cluster, NULL};
    CHECK(s_parse(&c, 3, file_cluster) == 0);
    CHECK(c.member_id == 2 && c.member_count == 3 && c.members[2].id == 3);
    CHECK(!strcmp(c.members[2].address, "robot-c.local:7400"));
    CHECK(dc_config_self(&c) && !strcmp(dc_config_self(&c)->address, "10.0.0.2:7400"));
    CHECK(c.cluster_dir && !strcmp(c.cluster_dir, "/tmp/c.db.raft") && !c.cluster_join);
    CHECK(c.election_timeout_ms == 400);
    dc_config_clear(&c);
    char *flag_cluster[] = {"discod", "--config", (char *)cluster, "--member-id", "5",
                            "--cluster-member", "5=127.0.0.1:9", "--cluster-join",
                            "--cluster-dir", "/tmp/r", NULL};
    CHECK(s_parse(&c, 10, flag_cluster) == 0);
    CHECK(c.member_id == 5 && c.member_count == 1 && c.cluster_join);
    CHECK(!strcmp(c.cluster_dir, "/tmp/r"));
    dc_config_clear(&c);
    /* tcp without CURVE is refused unless insecure; the security settings. */
    char *open_tcp[] = {"discod", "--address", "tcp://127.0.0.1:9", NULL};
    CHECK(s_refuses(open_tcp));
    char *open_events[] = {"discod", "--events", "tcp://127.0.0.1:9", NULL};
    CHECK(s_refuses(open_events));
    char *open_members[] = {"discod", "--member-id", "1", "--cluster-member", "1=127.0.0.1:9", NULL};
    CHECK(s_refuses(open_members));
    char *clients_alone[] = {"discod", "--curve-clients", "/tmp", NULL};
    CHECK(s_refuses(clients_alone));
    char *curve[] = {"discod", "--address", "tcp://127.0.0.1:9", "--curve-key", "/k/server",
                     "--curve-clients", "/k/clients", "--allow-shutdown", "admin", NULL};
    CHECK(s_parse(&c, 9, curve) == 0);
    CHECK(!strcmp(c.curve_key, "/k/server") && !strcmp(c.curve_clients, "/k/clients") &&
          c.allow_shutdown == DC_SHUTDOWN_ADMIN);
    dc_config_clear(&c);
    char *bad_policy[] = {"discod", "--allow-shutdown", "anyone", NULL};
    CHECK(s_refuses(bad_policy));
    const char *secure = s_write("secure.conf", "server\n"
                                                "    allow_shutdown = none\n"
                                                "security\n"
                                                "    curve_key = \"/etc/discod/keys/server\"\n"
                                                "    curve_clients = \"/etc/discod/clients\"\n");
    char *file_secure[] = {"discod", "--config", (char *)secure, NULL};
    CHECK(s_parse(&c, 3, file_secure) == 0);
    CHECK(c.allow_shutdown == DC_SHUTDOWN_NONE && !strcmp(c.curve_key, "/etc/discod/keys/server"));
    dc_config_clear(&c);
    char *standalone[] = {"discod", NULL};
    CHECK(s_parse(&c, 1, standalone) == 0 && c.member_id == 0 && !dc_config_self(&c));
    CHECK(c.publishers_per_topic == 1);
    dc_config_clear(&c);
    const char *several = s_write("several.conf", "server\n    publishers_per_topic = 3\n");
    char *file_several[] = {"discod", "--config", (char *)several, NULL};
    CHECK(s_parse(&c, 3, file_several) == 0 && c.publishers_per_topic == 3);
    dc_config_clear(&c);
    char *flag_several[] = {"discod", "--config", (char *)several, "--publishers-per-topic", "64",
                            NULL};
    CHECK(s_parse(&c, 5, flag_several) == 0 && c.publishers_per_topic == 64);
    dc_config_clear(&c);

    char *help[] = {"discod", "--help", NULL};
    CHECK(s_parse(&c, 2, help) == 1);
    dc_config_clear(&c);

    /* The shipped config/discod.conf (path given by ctest) parses as documented. */
    if (argc > 1) {
        char *shipped[] = {"discod", "--config", argv[1], NULL};
        CHECK(s_parse(&c, 3, shipped) == 0);
        CHECK(c.endpoint_count == 1 && strcmp(c.endpoints[0], DC_DEFAULT_ENDPOINT) == 0);
        CHECK(c.sync == DC_SYNC_FULL && c.max_topics == 1000000 && !c.allow_remote_shutdown);
        CHECK(c.datagram && c.publishers_per_topic == 1);
        dc_config_clear(&c);
    }

    /* The events endpoint nobody set follows the first ipc address. */
    char *beside[] = {"discod", "--address", "tcp://127.0.0.1:9", "--insecure-tcp", "--address",
                      "ipc:///run/x/d.sock", NULL};
    CHECK(s_parse(&c, 6, beside) == 0);
    CHECK(!strcmp(c.events_endpoint, "ipc:///run/x/d-events.sock"));
    char origin[256];
    CHECK(strstr(dc_config_origin(&c, "events", origin, sizeof origin), "beside"));
    CHECK(!strcmp(dc_config_origin(&c, "address", origin, sizeof origin), "--address"));
    dc_config_clear(&c);
    char *no_suffix[] = {"discod", "--address", "ipc:///run/x/d", NULL};
    CHECK(s_parse(&c, 3, no_suffix) == 0 && !strcmp(c.events_endpoint, "ipc:///run/x/d-events"));
    dc_config_clear(&c);
    char *tcp_only[] = {"discod", "--address", "tcp://127.0.0.1:9", "--insecure-tcp", NULL};
    CHECK(s_parse(&c, 4, tcp_only) == 0 && !strcmp(c.events_endpoint, DC_DEFAULT_EVENTS_ENDPOINT));
    CHECK(strstr(dc_config_origin(&c, "events", origin, sizeof origin), "the default"));
    dc_config_clear(&c);
    char *chosen[] = {"discod", "--address", "ipc:///run/x/d.sock", "--events", "none", NULL};
    CHECK(s_parse(&c, 5, chosen) == 0 && c.events_endpoint == NULL);
    dc_config_clear(&c);
    CHECK(s_parse(&c, 1, none) == 0 && !strcmp(c.events_endpoint, DC_DEFAULT_EVENTS_ENDPOINT));
    dc_config_clear(&c);
    const char *events_file = s_write("events.conf", "server\n"
                                                     "    address = \"ipc:///run/y/e.sock\"\n"
                                                     "    events = \"ipc:///run/y/ev.sock\"\n");
    char *file_events[] = {"discod", "--config", (char *)events_file, "--address",
                           "ipc:///run/z.sock", NULL};
    CHECK(s_parse(&c, 5, file_events) == 0 && !strcmp(c.events_endpoint, "ipc:///run/y/ev.sock"));
    dc_config_origin(&c, "events", origin, sizeof origin);
    CHECK(strstr(origin, "server/events in ") && strstr(origin, "events.conf"));
    dc_config_clear(&c);

    /* config/discod.conf documents every key of the table (set or commented
     * out), and names no key the table lacks. */
    if (argc > 1) {
        FILE *f = fopen(argv[1], "r");
        CHECK(f != NULL);
        char line[512], section[64] = "";
        bool documented[DC_CONFIG_MAX_SETTINGS] = {false};
        int keys = 0;
        while (f && fgets(line, sizeof line, f)) {
            const char *p = line[0] == '#' ? line + 1 : line;
            char word[64];
            if (sscanf(p, "%63[a-z_]", word) == 1 && p[strlen(word)] == '\n') {
                snprintf(section, sizeof section, "%s", word); /* a section, maybe commented */
            } else if (!strncmp(p, "    ", 4) &&
                       sscanf(p + 4 + 2 * !strncmp(p + 4, "# ", 2), "%63[a-z_] =", word) == 1 &&
                       strstr(p, " = ")) {
                char key[160];
                snprintf(key, sizeof key, "%s/%s", section, word);
                size_t i = 0;
                while (i < dc_config_setting_count() && strcmp(dc_config_setting_file_key(i), key))
                    i++;
                if (i == dc_config_setting_count())
                    fprintf(stderr, "config/discod.conf names unknown key %s\n", key);
                CHECK(i < dc_config_setting_count());
                if (i < dc_config_setting_count())
                    documented[i] = true;
                keys++;
            }
        }
        if (f)
            fclose(f);
        CHECK(keys > 20);
        for (size_t i = 0; i < dc_config_setting_count(); i++) {
            if (!documented[i])
                fprintf(stderr, "config/discod.conf does not document %s\n",
                        dc_config_setting_file_key(i));
            CHECK(documented[i]);
        }
    }

    /* Where the database goes by default. */
    setenv("STATE_DIRECTORY", "/var/lib/discod-test", 1);
    char *path = dc_config_default_db_path();
    CHECK(strcmp(path, "/var/lib/discod-test/registry.db") == 0);
    free(path);
    unsetenv("STATE_DIRECTORY");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    DC_TEST_END();
}
