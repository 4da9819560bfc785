/* dc_handoff.h: pointers handed from any thread to one thread, with a
 * descriptor that thread polls. The write ops (front, workers, prober ->
 * writer) and the writer's answers (writer -> front) cross in two of these.
 *
 * Why not an inproc PUSH/PULL pair: a hand-over to a thread that sleeps
 * cost about eight system calls there (libzmq's command mailbox: the wake-up,
 * a poll and a pid check per look at it, the read, and the look that finds
 * it empty), where this costs one write on the producer's side and one read
 * on the consumer's. While the consumer is busy a push costs no system call.
 *
 * The descriptor (an eventfd) is readable when an item was pushed after a
 * pop found none: the consumer pops until NULL, then polls the descriptor.
 * A pop that finds the queue empty is what arms it.
 *
 * Design notes: any thread may push; one thread pops (the consumer). The
 * queue, the armed flag and the descriptor's count change under one mutex,
 * so "armed" always says whether the descriptor still has to be written.
 * The descriptor is written and read only under it. */
#ifndef DC_HANDOFF_H
#define DC_HANDOFF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct dc_handoff dc_handoff_t;

/* A queue that holds capacity items at most (0: no limit). NULL when out of
 * memory or descriptors. */
dc_handoff_t *dc_handoff_new(size_t capacity);

/* Frees the queue, passing each item still in it to free_item (when given).
 * Safe on NULL. */
void dc_handoff_destroy(dc_handoff_t **self_p, void (*free_item)(void *item));

/* Appends item. Returns 0, or -1 when the queue is full or closed (the item
 * stays the caller's). */
int dc_handoff_push(dc_handoff_t *self, void *item);

/* Like dc_handoff_push, but waits up to timeout_ms for room in a full queue
 * (the workers' back-pressure). */
int dc_handoff_push_wait(dc_handoff_t *self, void *item, int timeout_ms);

/* The oldest item, or NULL when there is none (then the descriptor turns
 * readable on the next push). The consumer's thread only. */
void *dc_handoff_pop(dc_handoff_t *self);

/* dc_handoff_pop, waiting up to timeout_ms for an item when there is none
 * (the tests' consumer; the daemon's threads poll the descriptor with their
 * other sockets instead). */
void *dc_handoff_pop_wait(dc_handoff_t *self, int timeout_ms);

/* Between dc_handoff_hold and dc_handoff_release (they nest), pushes do not
 * write the descriptor; the release writes it once if the consumer waits
 * and items are there. A producer that pushes several items in a row (the
 * writer, a commit's answers) wakes the consumer once instead of racing it
 * item by item: a consumer that is awake still pops them as they come.
 * Every push meanwhile waits for the release to be seen, whoever pushed it:
 * hold for a bounded piece of work only. */
void dc_handoff_hold(dc_handoff_t *self);
void dc_handoff_release(dc_handoff_t *self);

/* The descriptor to poll for POLLIN. */
int dc_handoff_fd(const dc_handoff_t *self);

/* Refuses every later push (the consumer has stopped). Items already in the
 * queue stay for dc_handoff_pop or dc_handoff_destroy. */
void dc_handoff_close(dc_handoff_t *self);

/* Items in the queue now (for tests and stats). */
size_t dc_handoff_count(dc_handoff_t *self);

#endif
