/* daemon_proc.c: fork/exec of the real discod binary for C tests. */
#include "daemon_proc.h"
#include "discod.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void daemon_proc_init(daemon_proc_t *d, const char *binary, const char *dir, const char *name)
{
    memset(d, 0, sizeof *d);
    d->binary = binary;
    snprintf(d->endpoint, sizeof d->endpoint, "ipc://%s/%s.sock", dir, name);
    snprintf(d->db, sizeof d->db, "%s/%s.db", dir, name);
    snprintf(d->log, sizeof d->log, "%s/%s.log", dir, name);
}

int daemon_proc_start(daemon_proc_t *d)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        /* --events none: a test never touches the machine's default endpoints. */
        const char *argv[16] = {d->binary, "--address", d->endpoint, "--db",   d->db,
                                "--log-level", "INFO", "--events", "none"};
        int argc = 9;
        for (int i = 0; i < 4 && d->extra[i]; i++)
            argv[argc++] = d->extra[i];
        execv(d->binary, (char *const *)argv);
        _exit(127);
    }
    d->pid = pid;
    discod_options_t o;
    discod_options_init(&o);
    o.timeout_ms = 200;
    o.retries = 1;
    const char *ep = d->endpoint;
    discod_client_t *c = discod_client_new_multi(&ep, 1, &o);
    int rc = -1;
    for (int i = 0; i < 50 && rc != 0; i++) {
        if (discod_ping(c) == DISCOD_OK)
            rc = 0;
        else if (waitpid(pid, NULL, WNOHANG) == pid) {
            d->pid = 0;
            break;
        }
    }
    discod_client_destroy(&c);
    return rc;
}

int daemon_proc_stop(daemon_proc_t *d, int sig)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, sig);
    int status = 0;
    waitpid(d->pid, &status, 0);
    d->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
