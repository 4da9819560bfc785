/* dc_failpoint.c: test-build crash points (see the .h). */
#include "dc_failpoint.h"

#ifdef DISCOD_FAILPOINTS
#include "dc_log.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_uint_fast64_t s_hits;

/* Parses DISCOD_FAILPOINT; true when it names `name` (and sets *n). */
static int s_armed(const char *name, uint64_t *n)
{
    const char *spec = getenv("DISCOD_FAILPOINT");
    size_t len = strlen(name);
    if (!spec || strncmp(spec, name, len) != 0 || (spec[len] != 0 && spec[len] != ':'))
        return 0;
    *n = spec[len] == ':' ? strtoull(spec + len + 1, NULL, 10) : 1;
    return 1;
}

static void *s_kill_soon(void *arg)
{
    (void)arg;
    struct timespec ts = {0, (long)(rand() % 2000) * 1000L};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGKILL);
    return NULL;
}

void dc_failpoint(const char *name)
{
    uint64_t n;
    if (!s_armed(name, &n))
        return;
    if (!strcmp(name, "slow-commit")) {
        usleep((useconds_t)(n * 1000));
        return;
    }
    if (atomic_fetch_add(&s_hits, 1) + 1 != n)
        return;
    fprintf(stderr, "discod: failpoint %s reached (hit %llu): killing myself\n", name,
            (unsigned long long)n);
    if (!strcmp(name, "checkpoint")) {
        /* Die while the checkpoint is running, not before it. */
        pthread_t t;
        pthread_create(&t, NULL, s_kill_soon, NULL);
        return;
    }
    kill(getpid(), SIGKILL);
}

uint64_t dc_failpoint_value(const char *name)
{
    uint64_t n;
    return s_armed(name, &n) ? n : 0;
}
#endif
