/* dc_registry.h: the in-memory topic index that answers every read.
 *
 * Design notes: one rwlock (writer-preferring) guards the hash chains and the
 * insertion-order list. Readers hold the read lock only to find entries and
 * take references; encoding happens after unlock, on the reader's own copy of
 * the pointers. Only the writer thread (dc_writer or dc_cluster) mutates, one change at a time, so it
 * may read without the lock (dc_registry_peek). Entries are immutable. */
#ifndef DC_REGISTRY_H
#define DC_REGISTRY_H

#include "dc_entry.h"

typedef struct dc_registry dc_registry_t;

typedef struct {
    dc_str_t prefix;          /* ptr NULL: any */
    dc_str_t message_type;    /* ptr NULL: any */
    dc_str_t publisher_node;  /* ptr NULL: any */
    const msgpack_object *metadata; /* str->str map the topic's metadata must contain, or NULL */
} dc_filter_t;

dc_registry_t *dc_registry_new(void);
void dc_registry_destroy(dc_registry_t **self_p);

/* Reader: the entry named name with a reference the caller must drop, or NULL. */
dc_entry_t *dc_registry_lookup(dc_registry_t *self, dc_str_t name);

/* Reader: every entry matching filter (NULL: all) in registration order, each
 * with a reference. *out is a malloc'd array the caller frees after dropping
 * the references (dc_registry_release_snapshot does both). Returns the count,
 * or (size_t)-1 when out of memory. */
size_t dc_registry_snapshot(dc_registry_t *self, const dc_filter_t *filter, dc_entry_t ***out);
/* The same, also telling the generation the snapshot shows. */
size_t dc_registry_snapshot_at(dc_registry_t *self, const dc_filter_t *filter, dc_entry_t ***out,
                               uint64_t *generation);
void dc_registry_release_snapshot(dc_entry_t **entries, size_t count);

/* Any thread: a counter that rises with every put and remove, so a reply
 * built from a snapshot is still right while it has not moved. */
uint64_t dc_registry_generation(dc_registry_t *self);

size_t dc_registry_count(dc_registry_t *self);

/* Writer only: the current entry for name, borrowed (no reference), or NULL. */
dc_entry_t *dc_registry_peek(dc_registry_t *self, dc_str_t name);

/* Writer only: inserts e (taking its reference) or replaces the entry of the
 * same name in place (same LIST position). Returns 0, or -1 when out of memory. */
int dc_registry_put(dc_registry_t *self, dc_entry_t *e);

/* Writer only: removes the entry named name. Returns 0, or -1 if absent. */
int dc_registry_remove(dc_registry_t *self, dc_str_t name);

#endif
