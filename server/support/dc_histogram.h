/* dc_histogram.h: a latency histogram with Prometheus' cumulative buckets,
 * filled from any thread.
 *
 * Design notes: every field is an atomic, updated with relaxed stores (a
 * histogram is a statistic, not synchronisation): a reader may see a count
 * one observation ahead of its sum, which Prometheus tolerates. */
#ifndef DC_HISTOGRAM_H
#define DC_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds of the buckets in microseconds (the last, +Inf, is implied). */
#define DC_HISTOGRAM_BOUNDS                                                                        \
    {                                                                                              \
        50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000  \
    }
#define DC_HISTOGRAM_BUCKETS 14

typedef struct {
    atomic_uint_fast64_t buckets[DC_HISTOGRAM_BUCKETS + 1]; /* not cumulative; last: +Inf */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_us;
} dc_histogram_t;

static inline void dc_histogram_observe(dc_histogram_t *h, uint64_t us)
{
    static const uint64_t bounds[DC_HISTOGRAM_BUCKETS] = DC_HISTOGRAM_BOUNDS;
    size_t i = 0;
    while (i < DC_HISTOGRAM_BUCKETS && us > bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

#endif
