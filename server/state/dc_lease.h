/* dc_lease.h: leases: what keeps a client's registrations alive.
 *
 * Design notes: the table is shared. The front, workers and the datagram
 * channel renew leases (HEARTBEAT) under the table mutex, touching only the
 * renewal fields and the dirty and forward lists; the writer thread (dc_writer,
 * or dc_cluster in a cluster: "Writer only" below means that thread) alone
 * adds, removes and frees leases (also under the mutex) and alone reads or
 * changes the attachment lists. So a heartbeat is a hash lookup and two
 * stores under a mutex held for nothing else, and never waits for a commit. */
#ifndef DC_LEASE_H
#define DC_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lease ids from this one up are granted by an isolated member (random, so
 * two islands do not meet, and kept when merged); the cluster's own count up
 * from 1 below it (lease_seq counts those alone). */
#define DC_ISLAND_LEASE_IDS (1ULL << 62)

typedef struct dc_lease dc_lease_t;
struct dc_lease {
    uint64_t id;
    uint64_t ttl_ms;
    /* Renewal state, changed by heartbeats under the table mutex. */
    uint64_t expires_mono_ms;
    uint64_t renewed_wall_ms;
    bool dirty; /* renewed since the writer last saved renewed_wall_ms */
    uint64_t saved_wall_ms; /* the renewal time last queued for checkpointing */
    /* Writer only: the durable renewal time (the grant, or the last
     * LEASE_RENEW checkpoint applied): what a restart restores from. */
    uint64_t checkpoint_wall_ms;
    /* Writer only: names attached (topics; may hold stale names, checked
     * against the registry when used) and the node, if any. */
    char **topics;
    size_t topic_count, topic_cap;
    char *node;
    bool fwd_pending;       /* renewed since its renewal was last passed to the leader */
    bool own_expiry;        /* writer only: renewed here alone (an island's lease while
                               its island lasts): a promotion keeps its expiry */
    char owner[41];         /* the client key that was granted it; "": the ipc side */
    dc_lease_t *hash_next;
};

typedef struct dc_leases dc_leases_t;

dc_leases_t *dc_leases_new(void);
/* Frees every lease. Safe on NULL and twice. */
void dc_leases_destroy(dc_leases_t **self_p);

/* Any thread: renews lease id to expire ttl from now. Returns its TTL in ms,
 * or 0 when there is no such lease. */
uint64_t dc_leases_heartbeat(dc_leases_t *self, uint64_t id, uint64_t now_mono_ms,
                             uint64_t now_wall_ms);

/* Any thread: does lease id exist? (Its TTL, or 0.) */
uint64_t dc_leases_ttl(dc_leases_t *self, uint64_t id);

size_t dc_leases_count(dc_leases_t *self);

/* Writer only: a new lease (not yet in the table). NULL when out of memory. */
dc_lease_t *dc_lease_new(uint64_t id, uint64_t ttl_ms, uint64_t expires_mono_ms,
                         uint64_t renewed_wall_ms);
/* Writer only: adds l to the table (taking it). */
void dc_leases_add(dc_leases_t *self, dc_lease_t *l);
/* Writer only: the lease with this id, borrowed, or NULL. */
dc_lease_t *dc_leases_find(dc_leases_t *self, uint64_t id);
/* Writer only: removes and frees lease id. */
void dc_leases_remove(dc_leases_t *self, uint64_t id);
/* Writer only: remembers that topic name is attached to l (no duplicates of
 * the last name). Returns 0, or -1 when out of memory. */
int dc_lease_attach_topic(dc_lease_t *l, const char *name);

/* Writer only: forgets every name and the node attached to l. */
void dc_lease_detach_all(dc_lease_t *l);

/* Cluster thread: while on, every renewal is also queued to be passed on to
 * the leader (a follower's heartbeats are the leader's to count). */
void dc_leases_set_forwarding(dc_leases_t *self, bool on);

/* Cluster thread: takes the ids renewed since the last call (while
 * forwarding). *ids is malloc'd (caller frees); returns the count. */
size_t dc_leases_take_forward(dc_leases_t *self, uint64_t **ids);

/* Writer only: removes and frees every lease. */
void dc_leases_clear(dc_leases_t *self);

/* Writer only: calls fn for every lease under the table mutex (fn may change
 * the lease's renewal fields, nothing else of the table). */
void dc_leases_each(dc_leases_t *self, void (*fn)(void *arg, dc_lease_t *l), void *arg);

/* Writer only: the expiry time of lease id under the mutex (0 if gone). */
uint64_t dc_leases_expiry(dc_leases_t *self, uint64_t id);

/* Writer only: sets it (nothing if gone). */
void dc_leases_set_expiry(dc_leases_t *self, uint64_t id, uint64_t expires_mono_ms);

/* Writer only: takes the ids of leases renewed since the last call, with
 * their renewal times, clearing their dirty flags. *ids and *times are
 * malloc'd (caller frees); returns the count. */
size_t dc_leases_take_dirty(dc_leases_t *self, uint64_t **ids, uint64_t **times);

#endif
