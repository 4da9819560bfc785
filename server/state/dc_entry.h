/* dc_entry.h: one registration (a topic by one publisher node) as the daemon
 * holds it in memory, with its lease, origin and owner; or one subscription
 * (a topic read by one node: topic.publisher_node is the subscriber, its
 * message_type and fingerprint what it expects, its address empty).
 *
 * Reference-counted, and carrying its legacy five-key TopicInfo blob
 * pre-encoded, so a LOOKUP or LIST copies bytes instead of packing them. A
 * re-registration builds a new entry and swaps it in.
 *
 * What may change, and who changes it (the writer's thread alone, before the
 * entry is in the registry; once dc_registry_put has it, only the registry's
 * links below change, under its write lock):
 * - topic, blob, metadata: fixed when the write op builds the entry (front or
 *   worker, dc_write_op);
 * - create_seq, lease_id, registered_at_ms, origin, owner: set by dc_decide,
 *   again each time the op is decided (a cluster leader that lost its term
 *   decides it anew);
 * - lease_id: cleared by dc_apply when its lease is gone by the time the
 *   change is applied (the registration becomes lease-less). */
#ifndef DC_ENTRY_H
#define DC_ENTRY_H

#include "dc_principal.h"
#include "dc_reply.h"
#include "dc_topic.h"

#include <stdatomic.h>

typedef struct dc_entry dc_entry_t;
struct dc_entry {
    atomic_uint refs;
    dc_topic_t topic;    /* NUL-terminated views into this allocation */
    uint64_t create_seq; /* position in LIST order; kept across re-registrations */
    uint64_t lease_id;   /* 0: no lease */
    uint64_t registered_at_ms; /* wall clock of the registration (legacy TTL) */
    uint64_t origin;     /* cluster: the member the registration came in at (0: standalone) */
    char owner[DC_KEY_LEN + 1]; /* the client key that registered it; "": the ipc side */
    dc_blob_t blob;      /* five-key TopicInfo msgpack */
    dc_blob_t metadata;  /* msgpack map, or {NULL, 0} */
    /* Links owned by the registry, changed only under its write lock. */
    uint64_t put_order; /* the registry's generation when it was put */
    dc_entry_t *hash_next;
    dc_entry_t *prev, *next;
};

/* Builds an entry with one reference, copying t and the metadata bytes.
 * Returns NULL when out of memory. */
dc_entry_t *dc_entry_new(const dc_topic_t *t, uint64_t create_seq, uint64_t lease_id,
                         const void *metadata, size_t metadata_size);

/* Packs entries as protocol 2's "publishers": an array of maps, each
 * {topic_info: bin (the five-key TopicInfo), lease_id, registered_at_ms,
 * metadata (only when the registration has some), stale: true (only with
 * here set, for a registration that came in at another member: an isolated
 * member's last knowledge of it)}. here: this member's id while it is
 * isolated, else 0. */
void dc_entry_pack_publishers(dc_entry_t *const *entries, size_t count, uint64_t here,
                              msgpack_packer *pk);

/* The fields dc_entry_pack_pairs packs (TYPE: message_type and fingerprint). */
enum { DC_ENTRY_TOPIC = 1, DC_ENTRY_NODE = 2, DC_ENTRY_ADDRESS = 4, DC_ENTRY_TYPE = 8 };

/* How many map pairs dc_entry_pack_pairs packs for fields. */
uint32_t dc_entry_pair_count(unsigned fields);

/* Packs fields of e as pairs of a map the caller opened, in this order:
 * topic, node, address, message_type, fingerprint. The views of GRAPH,
 * mismatches and subscription events. */
void dc_entry_pack_pairs(const dc_entry_t *e, unsigned fields, msgpack_packer *pk);

/* A new entry (one reference, links unset) holding what e holds: for a
 * second registry (an entry's links belong to the one holding it). NULL when
 * out of memory. */
dc_entry_t *dc_entry_copy(const dc_entry_t *e);

/* Adds a reference; returns e. */
dc_entry_t *dc_entry_ref(dc_entry_t *e);

/* Drops a reference (freeing on the last) and nulls *e_p; safe on NULL. */
void dc_entry_unref(dc_entry_t **e_p);

#endif
