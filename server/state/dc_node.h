/* dc_node.h: nodes (the SSSN example's "systems"): a name, a description,
 * capabilities and metadata, optionally under a lease; and the table of them.
 *
 * Design notes: like topics, nodes are immutable and reference-counted; one
 * rwlock guards the table; workers read (GET_NODE, FIND_NODES) and only the
 * writer thread changes it. Robots have tens to hundreds of nodes, so the
 * table is an array searched linearly. */
#ifndef DC_NODE_H
#define DC_NODE_H

#include "dc_principal.h"
#include "dc_mp.h"
#include "dc_reply.h"

#include <stdatomic.h>

typedef struct {
    atomic_uint refs;
    const char *name;
    const char *description;
    const char **capabilities; /* capability_count NUL-terminated strings */
    size_t capability_count;
    dc_blob_t capabilities_blob; /* msgpack array of str */
    dc_blob_t metadata;          /* msgpack map, or {NULL, 0} */
    uint64_t lease_id;
    char owner[DC_KEY_LEN + 1];  /* the client key that registered it; "": the ipc side */
} dc_node_t;

/* Builds a node from a validated node map (dc_request_t.node). One reference;
 * NULL when out of memory. */
dc_node_t *dc_node_from_object(const msgpack_object *node_map, uint64_t lease_id);

/* Builds a node from stored parts (capabilities: msgpack array of str). */
dc_node_t *dc_node_from_parts(const char *name, const char *description,
                              const void *capabilities, size_t capabilities_size,
                              const void *metadata, size_t metadata_size, uint64_t lease_id);

dc_node_t *dc_node_ref(dc_node_t *n);
void dc_node_unref(dc_node_t **n_p);

bool dc_node_has_capability(const dc_node_t *n, dc_str_t capability);

/* Packs the node map of PROTOCOL.md (name, description, capabilities,
 * metadata, lease_id, topics) with the given topic names. */
void dc_node_pack(const dc_node_t *n, msgpack_packer *pk, const char *const *topics,
                  size_t topic_count);

typedef struct dc_nodes dc_nodes_t;

dc_nodes_t *dc_nodes_new(void);
void dc_nodes_destroy(dc_nodes_t **self_p);
size_t dc_nodes_count(dc_nodes_t *self);

/* Reader: the node named name with a reference, or NULL. */
dc_node_t *dc_nodes_get(dc_nodes_t *self, dc_str_t name);

/* Reader: nodes having capability (ptr NULL: all), each with a reference, in
 * a malloc'd array (release with dc_nodes_release). Returns the count, or
 * (size_t)-1 when out of memory. */
size_t dc_nodes_find(dc_nodes_t *self, dc_str_t capability, dc_node_t ***out);
void dc_nodes_release(dc_node_t **nodes, size_t count);

/* Writer only: the node named name, borrowed, or NULL. */
dc_node_t *dc_nodes_peek(dc_nodes_t *self, dc_str_t name);
/* Writer only: inserts or replaces by name, taking n's reference. 0 or -1. */
int dc_nodes_put(dc_nodes_t *self, dc_node_t *n);
/* Writer only: removes by name. 0, or -1 when absent. */
int dc_nodes_remove(dc_nodes_t *self, dc_str_t name);

#endif
