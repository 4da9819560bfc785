/* dc_log.h: one line per event to stderr, with a level and a timestamp.
 * Thread-safe: each line is written with a single fprintf (stdio locks it). */
#ifndef DC_LOG_H
#define DC_LOG_H

typedef enum { DC_LOG_DEBUG = 0, DC_LOG_INFO, DC_LOG_WARNING, DC_LOG_ERROR } dc_log_level_t;

void dc_log_set_level(dc_log_level_t level);
dc_log_level_t dc_log_get_level(void);
/* Parses DEBUG|INFO|WARNING|ERROR (any case). Returns 0, or -1 if unknown. */
int dc_log_parse_level(const char *text, dc_log_level_t *level);
const char *dc_log_level_name(dc_log_level_t level);

void dc_log(dc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define dc_debug(...) do { if (dc_log_get_level() <= DC_LOG_DEBUG) dc_log(DC_LOG_DEBUG, __VA_ARGS__); } while (0)
#define dc_info(...) dc_log(DC_LOG_INFO, __VA_ARGS__)
#define dc_warn(...) dc_log(DC_LOG_WARNING, __VA_ARGS__)
#define dc_error(...) dc_log(DC_LOG_ERROR, __VA_ARGS__)

#endif
