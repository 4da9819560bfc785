/* dc_thread.h: a daemon thread's name, as ps -L, top -H, perf and
 * /proc/PID/task/TID/comm show it ("dc-front", "dc-writer", ...): each
 * thread names itself first thing. */
#ifndef DC_THREAD_H
#define DC_THREAD_H

#include <sys/prctl.h>

/* Names the calling thread (15 characters at most are kept). */
static inline void dc_thread_name(const char *name)
{
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

#endif
