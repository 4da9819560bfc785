/* dc_handoff.c: a queue of pointers with an eventfd (see the .h). */
#include "dc_handoff.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct dc_handoff {
    pthread_mutex_t lock;
    pthread_cond_t room; /* signalled when a pop makes room and a pusher waits */
    void **items;        /* a ring of size slots */
    size_t size, head, count, capacity;
    int waiting; /* pushers in dc_handoff_push_wait */
    bool armed;  /* a pop found none: the next push writes the descriptor */
    bool signalled; /* the descriptor has been written and not read */
    int held;       /* dc_handoff_hold depth: pushes leave the descriptor to the release */
    bool closed;
    int fd;
};

dc_handoff_t *dc_handoff_new(size_t capacity)
{
    dc_handoff_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->size = 64;
    self->items = malloc(self->size * sizeof *self->items);
    self->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!self->items || self->fd < 0) {
        if (self->fd >= 0)
            close(self->fd);
        free(self->items);
        free(self);
        return NULL;
    }
    self->capacity = capacity;
    self->armed = true; /* nothing popped yet: a first push must wake the consumer */
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr; /* time-outs on the monotonic clock: a clock step moves none */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->room, &attr);
    pthread_condattr_destroy(&attr);
    return self;
}

void dc_handoff_destroy(dc_handoff_t **self_p, void (*free_item)(void *item))
{
    dc_handoff_t *self = *self_p;
    if (!self)
        return;
    *self_p = NULL;
    for (size_t i = 0; i < self->count; i++) {
        void *item = self->items[(self->head + i) % self->size];
        if (free_item)
            free_item(item);
    }
    close(self->fd);
    pthread_cond_destroy(&self->room);
    pthread_mutex_destroy(&self->lock);
    free(self->items);
    free(self);
}

/* Makes room for one more item; false when out of memory. Under the lock. */
static bool s_grow(dc_handoff_t *self)
{
    if (self->count < self->size)
        return true;
    size_t size = self->size * 2;
    void **items = malloc(size * sizeof *items);
    if (!items)
        return false;
    for (size_t i = 0; i < self->count; i++)
        items[i] = self->items[(self->head + i) % self->size];
    free(self->items);
    self->items = items;
    self->size = size;
    self->head = 0;
    return true;
}

/* Writes the descriptor when the consumer waits for it and an item is
 * there. Under the lock. */
static void s_signal(dc_handoff_t *self)
{
    if (!self->armed || !self->count || self->held)
        return;
    self->armed = false;
    uint64_t one = 1;
    if (!self->signalled && write(self->fd, &one, sizeof one) == (ssize_t)sizeof one)
        self->signalled = true;
}

/* Appends item when there is room. Under the lock. */
static int s_push(dc_handoff_t *self, void *item)
{
    if (self->closed || !s_grow(self))
        return -1;
    self->items[(self->head + self->count) % self->size] = item;
    self->count++;
    s_signal(self);
    return 0;
}

static bool s_full(const dc_handoff_t *self)
{
    return self->capacity && self->count >= self->capacity;
}

int dc_handoff_push(dc_handoff_t *self, void *item)
{
    pthread_mutex_lock(&self->lock);
    int rc = s_full(self) ? -1 : s_push(self, item);
    pthread_mutex_unlock(&self->lock);
    return rc;
}

int dc_handoff_push_wait(dc_handoff_t *self, void *item, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&self->lock);
    int rc = 0;
    while (s_full(self) && !self->closed && rc == 0) {
        self->waiting++;
        rc = pthread_cond_timedwait(&self->room, &self->lock, &until);
        self->waiting--;
    }
    rc = s_full(self) ? -1 : s_push(self, item);
    pthread_mutex_unlock(&self->lock);
    return rc;
}

void *dc_handoff_pop(dc_handoff_t *self)
{
    pthread_mutex_lock(&self->lock);
    if (self->signalled) {
        uint64_t n;
        if (read(self->fd, &n, sizeof n) == (ssize_t)sizeof n || errno == EAGAIN)
            self->signalled = false;
    }
    void *item = NULL;
    if (self->count) {
        item = self->items[self->head];
        self->head = (self->head + 1) % self->size;
        self->count--;
        if (self->waiting)
            pthread_cond_signal(&self->room);
    } else
        self->armed = true;
    pthread_mutex_unlock(&self->lock);
    return item;
}

void *dc_handoff_pop_wait(dc_handoff_t *self, int timeout_ms)
{
    void *item = dc_handoff_pop(self);
    if (!item) {
        struct pollfd fd = {self->fd, POLLIN, 0};
        if (poll(&fd, 1, timeout_ms) > 0)
            item = dc_handoff_pop(self);
    }
    return item;
}

void dc_handoff_hold(dc_handoff_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->held++;
    pthread_mutex_unlock(&self->lock);
}

void dc_handoff_release(dc_handoff_t *self)
{
    pthread_mutex_lock(&self->lock);
    if (self->held > 0)
        self->held--;
    s_signal(self);
    pthread_mutex_unlock(&self->lock);
}

int dc_handoff_fd(const dc_handoff_t *self)
{
    return self->fd;
}

void dc_handoff_close(dc_handoff_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->closed = true;
    pthread_cond_broadcast(&self->room);
    pthread_mutex_unlock(&self->lock);
}

size_t dc_handoff_count(dc_handoff_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = self->count;
    pthread_mutex_unlock(&self->lock);
    return n;
}
