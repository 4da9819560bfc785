/* dc_clock.h: the two clocks the daemon uses, in milliseconds (and one in microseconds). Monotonic for
 * every deadline and expiry (immune to clock steps); wall for what is saved
 * to disk and must mean the same after a restart (lease renewals). */
#ifndef DC_CLOCK_H
#define DC_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t dc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Monotonic microseconds, for waits shorter than a millisecond. */
static inline uint64_t dc_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t dc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
