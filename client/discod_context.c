/* discod_context.c: the ZeroMQ context every client of one process shares.
 *
 * A context costs two threads (its I/O thread and its reaper) and their
 * start-up; a robot process that starts a client per node or per publisher
 * paid that for each. Clients now take a reference on one context, created
 * by the first and terminated by the last (their sockets are closed, with
 * linger 0, before they let go).
 *
 * Design notes: s_lock guards the three statics; it is held across fork()
 * (pthread_atfork) so a child never inherits it locked. A forked child does
 * not use its parent's context (ZeroMQ's contexts do not survive fork): its
 * first client makes a new one, and clients it inherited leave the
 * parent's alone when destroyed. */
#include "discod_internal.h"

#include <pthread.h>
#include <unistd.h>
#include <zmq.h>

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static void *s_ctx;    /* the shared context, or NULL */
static size_t s_users; /* clients holding it */
static pid_t s_pid;    /* the process that made it */

static void s_prepare(void)
{
    pthread_mutex_lock(&s_lock);
}

static void s_after(void)
{
    pthread_mutex_unlock(&s_lock);
}

static void s_register_atfork(void)
{
    pthread_atfork(s_prepare, s_after, s_after);
}

void *discod__context_acquire(void)
{
    pthread_once(&s_once, s_register_atfork);
    pthread_mutex_lock(&s_lock);
    if (s_ctx && s_pid != getpid()) {
        s_ctx = NULL; /* the parent's, in a forked child */
        s_users = 0;
    }
    if (!s_ctx && (s_ctx = zmq_ctx_new()) != NULL) {
        zmq_ctx_set(s_ctx, ZMQ_IO_THREADS, 1); /* plenty for REQ sockets */
        s_pid = getpid();
    }
    void *ctx = s_ctx;
    if (ctx)
        s_users++;
    pthread_mutex_unlock(&s_lock);
    return ctx;
}

void discod__context_release(void *ctx)
{
    if (!ctx)
        return;
    pthread_mutex_lock(&s_lock);
    bool last = ctx == s_ctx && s_pid == getpid() && --s_users == 0;
    if (last)
        s_ctx = NULL;
    pthread_mutex_unlock(&s_lock);
    if (last)
        zmq_ctx_term(ctx);
}
