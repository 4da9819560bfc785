/* dc_registry.h: the in-memory topic index that answers every read.
 *
 * The daemon holds two: the registrations of publishers, and the
 * subscriptions (entries whose node is the subscriber's and whose address is
 * empty: one per topic and node, any number per topic; the publisher limit
 * below is dc_decide's, not the index's).
 *
 * It holds registrations: a topic name and the publisher_node that registered
 * it. With publishers_per_topic = 1 (the default) a name has at most one; with
 * N it has up to N, one per node (dc_decide enforces the limit). Lookups by
 * name see every registration of the name, or the one a single-publisher
 * client is given: the most recently registered.
 *
 * Design notes: one rwlock (writer-preferring) guards the hash chains and the
 * list in LIST (create_seq) order. Readers hold the read lock only to find entries and
 * take references; encoding happens after unlock, on the reader's own copy of
 * the pointers. Only the writer thread (dc_writer or dc_cluster) mutates, one change at a time, so it
 * may read without the lock (dc_registry_peek). An entry in a registry is
 * immutable but for the links and put_order the registry sets under its
 * write lock (dc_entry.h says who sets what before). */
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

/* Reader: the registration of name a single-publisher answer gives (the
 * most recently registered: latest registered_at_ms, then latest applied),
 * with a reference the caller must drop, or NULL. */
dc_entry_t *dc_registry_lookup(dc_registry_t *self, dc_str_t name);

/* Reader: every registration of name in registration (LIST) order, each with
 * a reference; *out as for dc_registry_snapshot; *newest (may be NULL) the
 * index of the one dc_registry_lookup gives. Returns the count (0: none,
 * *out NULL), or (size_t)-1 when out of memory. */
size_t dc_registry_lookup_all(dc_registry_t *self, dc_str_t name, dc_entry_t ***out,
                              size_t *newest);

/* Reader: the same into buf (cap slots, no allocation: the hot path of a
 * protocol 2 LOOKUP). Returns how many registrations name has; when that is
 * more than cap, buf holds nothing (use dc_registry_lookup_all). The caller
 * drops the references of the count it got (<= cap). */
size_t dc_registry_lookup_into(dc_registry_t *self, dc_str_t name, dc_entry_t **buf, size_t cap,
                               size_t *newest);

/* Reader: every entry matching filter (NULL: all) in registration order, each
 * with a reference. *out is a malloc'd array the caller frees after dropping
 * the references (dc_registry_release_snapshot does both). Returns the count,
 * or (size_t)-1 when out of memory. */
size_t dc_registry_snapshot(dc_registry_t *self, const dc_filter_t *filter, dc_entry_t ***out);
/* The same, also telling the generation the snapshot shows. one_per_name:
 * only the registration dc_registry_lookup would give for each name (what a
 * legacy LIST shows, so no name appears twice). */
size_t dc_registry_snapshot_at(dc_registry_t *self, const dc_filter_t *filter, bool one_per_name,
                               dc_entry_t ***out, uint64_t *generation);
void dc_registry_release_snapshot(dc_entry_t **entries, size_t count);

/* Any thread: a counter that rises with every put and remove, so a reply
 * built from a snapshot is still right while it has not moved. */
uint64_t dc_registry_generation(dc_registry_t *self);

/* Registrations held (a name with three publishers counts three). */
size_t dc_registry_count(dc_registry_t *self);

/* Writer only: node's registration of name, borrowed (no reference), or NULL. */
dc_entry_t *dc_registry_peek(dc_registry_t *self, dc_str_t name, dc_str_t node);

/* Writer only: up to max registrations of name, borrowed, into out (in no
 * particular order). Returns how many name has (may exceed max). */
size_t dc_registry_peek_all(dc_registry_t *self, dc_str_t name, dc_entry_t **out, size_t max);

/* Writer only: inserts e (taking its reference) or replaces the registration
 * of the same name and node in place (same LIST position). A new one goes to
 * its LIST place by create_seq: the end, unless put again after others (a
 * restored state). Returns 0, or -1 when out of memory. */
int dc_registry_put(dc_registry_t *self, dc_entry_t *e);

/* Writer only: removes every registration. */
void dc_registry_clear(dc_registry_t *self);

/* Writer only: removes node's registration of name; node.ptr NULL: the
 * first registration of name found (a version 1 record's removal, when a name
 * had one). Returns 0, or -1 if absent. */
int dc_registry_remove(dc_registry_t *self, dc_str_t name, dc_str_t node);

#endif
