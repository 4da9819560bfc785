/* daemon_proc.h: starts and stops a real discod process for C tests. */
#ifndef DAEMON_PROC_H
#define DAEMON_PROC_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    const char *binary;
    char endpoint[256];
    char db[256];
    char log[256];
    const char *extra[4]; /* more arguments for discod (NULL-terminated) */
    pid_t pid;
} daemon_proc_t;

/* Fills d for a daemon named name under dir (not started). */
void daemon_proc_init(daemon_proc_t *d, const char *binary, const char *dir, const char *name);

/* Starts it and waits until it answers PING (up to 10 s). Returns 0 or -1. */
int daemon_proc_start(daemon_proc_t *d);

/* Sends sig and reaps the process. Returns its exit status (or -1). */
int daemon_proc_stop(daemon_proc_t *d, int sig);

#endif
