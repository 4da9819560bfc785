/* session_proc.c: a libdiscod session driven line by line from stdin, for
 * tests that need a C session in another process (an island's computer, a
 * namespace). Usage: session_proc ENDPOINT TTL_MS NODE
 * Commands, one per line, each answered with one line on stdout:
 *   register TOPIC   -> "ok LEASE" or "error RESULT"
 *   subscribe TOPIC  -> "ok LEASE" or "error RESULT"
 *   state            -> "lease LEASE reregistrations N"
 *   quit             -> "bye" (the session is destroyed: its lease revoked)
 * EOF is quit. */
#include "discod.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: session_proc ENDPOINT TTL_MS NODE\n");
        return 2;
    }
    const char *endpoints[] = {argv[1]};
    discod_options_t options;
    discod_options_init(&options);
    discod_session_t *s = discod_session_new(endpoints, 1, &options, strtoull(argv[2], NULL, 10));
    if (!s) {
        fprintf(stderr, "session_proc: cannot make a session\n");
        return 1;
    }
    char *node = argv[3];
    char line[512];
    setvbuf(stdout, NULL, _IOLBF, 0);
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        char *arg = strchr(line, ' ');
        if (arg)
            *arg++ = 0;
        if (!strcmp(line, "quit"))
            break;
        discod_result_t r = DISCOD_OK;
        if (!strcmp(line, "state")) {
            printf("lease %" PRIu64 " reregistrations %" PRIu64 "\n", discod_session_lease_id(s),
                   discod_session_reregistrations(s));
            continue;
        } else if (!strcmp(line, "register") && arg) {
            char address[600];
            snprintf(address, sizeof address, "ipc:///tmp/session_proc%s", arg);
            char type[] = "test.Session";
            discod_topic_t t = {arg, address, type, 7, node};
            r = discod_session_register(s, &t);
        } else if (!strcmp(line, "subscribe") && arg) {
            discod_subscription_t sub = {0};
            sub.topic = arg;
            sub.node = node;
            sub.message_type = "test.Session";
            sub.fingerprint = 7;
            r = discod_session_subscribe(s, &sub, NULL, NULL);
        } else {
            printf("error usage %s\n", line);
            continue;
        }
        if (r == DISCOD_OK)
            printf("ok %" PRIu64 "\n", discod_session_lease_id(s));
        else
            printf("error %s\n", discod_strerror(r));
    }
    discod_session_destroy(&s);
    printf("bye\n");
    return 0;
}
