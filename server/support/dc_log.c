/* dc_log.c: leveled logging to stderr (see the .h). */
#include "dc_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

static atomic_int s_level = DC_LOG_INFO;
static const char *s_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

void dc_log_set_level(dc_log_level_t level)
{
    atomic_store(&s_level, (int)level);
}

dc_log_level_t dc_log_get_level(void)
{
    return (dc_log_level_t)atomic_load_explicit(&s_level, memory_order_relaxed);
}

int dc_log_parse_level(const char *text, dc_log_level_t *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, s_names[i]) == 0) {
            *level = (dc_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(text, "WARN") == 0) {
        *level = DC_LOG_WARNING;
        return 0;
    }
    return -1;
}

const char *dc_log_level_name(dc_log_level_t level)
{
    return s_names[level];
}

void dc_log(dc_log_level_t level, const char *fmt, ...)
{
    if ((int)level < atomic_load_explicit(&s_level, memory_order_relaxed))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ discod %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            s_names[level], line);
}
