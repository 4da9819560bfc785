/* test_robustness.c: the client library against daemons that misbehave
 * (tests/client/bad_server.py): no reply, garbage, late replies, replies with
 * no or a wrong status, extra frames, lying msgpack counts. Every call must
 * return the right result code within timeout x retries, never hang, never
 * crash; run under valgrind by ctest to show nothing leaks.
 * Usage: test_robustness PYTHON BAD_SERVER_SCRIPT */
#include "discod.h"
#include "dc_test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char s_dir[] = "/tmp/dc-robust-XXXXXX";

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Starts the bad server in mode; returns its pid once its socket file exists
 * (it is bound then), or -1 after 10 s. */
static pid_t s_start(const char *python, const char *script, const char *endpoint,
                     const char *mode)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(python, python, script, endpoint, mode, (char *)NULL);
        _exit(127);
    }
    const char *path = endpoint + strlen("ipc://");
    for (int i = 0; i < 200; i++) {
        if (access(path, F_OK) == 0)
            return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        usleep(50 * 1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void s_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

static discod_client_t *s_client(const char *endpoint)
{
    discod_options_t o;
    discod_options_init(&o);
    o.timeout_ms = 300;
    o.retries = 2;
    return discod_client_new_multi(&endpoint, 1, &o);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_robustness PYTHON BAD_SERVER_SCRIPT\n");
        return 2;
    }
    CHECK(mkdtemp(s_dir) != NULL);
    char endpoint[256];
    static const struct {
        const char *mode;
        discod_result_t expected;
    } cases[] = {
        {"drop", DISCOD_TIMEOUT},         {"garbage", DISCOD_PROTOCOL},
        {"late", DISCOD_TIMEOUT},         {"nostatus", DISCOD_PROTOCOL},
        {"badstatus", DISCOD_PROTOCOL},   {"multipart", DISCOD_TIMEOUT},
        {"huge", DISCOD_PROTOCOL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(endpoint, sizeof endpoint, "ipc://%s/%s.sock", s_dir, cases[i].mode);
        pid_t pid = s_start(argv[1], argv[2], endpoint, cases[i].mode);
        CHECK(pid > 0);
        discod_client_t *c = s_client(endpoint);
        uint64_t t0 = s_now_ms();
        discod_result_t r = discod_ping(c);
        uint64_t took = s_now_ms() - t0;
        if (r != cases[i].expected)
            fprintf(stderr, "%s: got %d (%s)\n", cases[i].mode, r, discod_strerror(r));
        CHECK(r == cases[i].expected);
        /* Never longer than timeout x retries (plus scheduling slack). */
        CHECK(took < 2 * 300 + 1500);
        discod_topic_t t = {0};
        r = discod_lookup(c, "/x", &t);
        CHECK(r == cases[i].expected);
        CHECK(t.name == NULL); /* nothing half-filled to leak */
        discod_topic_t *list = NULL;
        size_t n = 0;
        CHECK(discod_list(c, NULL, &list, &n) == cases[i].expected && list == NULL && n == 0);
        discod_client_destroy(&c);
        s_stop(pid);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_dir);
    DC_TEST_END();
}
