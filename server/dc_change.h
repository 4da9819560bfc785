/* dc_change.h: one registry change, the unit of durability and (later) of
 * replication: a backup that applies the same changes in seq order holds the
 * same registry. The writer persists a batch of them in one transaction and
 * applies them to memory in the same order. */
#ifndef DC_CHANGE_H
#define DC_CHANGE_H

#include "dc_entry.h"
#include "dc_node.h"

typedef enum {
    DC_CHANGE_TOPIC_PUT = 1,    /* insert or replace entry->topic.name */
    DC_CHANGE_TOPIC_REMOVE = 2, /* remove entry->topic.name */
    DC_CHANGE_LEASE_PUT = 3,    /* create lease_id with lease_ttl_ms */
    DC_CHANGE_LEASE_REMOVE = 4, /* remove lease_id */
    DC_CHANGE_NODE_PUT = 5,     /* insert or replace node->name */
    DC_CHANGE_NODE_REMOVE = 6   /* remove node->name */
} dc_change_kind_t;

typedef struct {
    uint64_t seq;
    dc_change_kind_t kind;
    dc_entry_t *entry;  /* TOPIC_*: the new entry, or the one removed (one reference) */
    dc_node_t *node;    /* NODE_*: likewise */
    uint64_t lease_id, lease_ttl_ms; /* LEASE_* */
    bool replaces;      /* a PUT over an existing topic or node */
    const char *reason; /* registered, unregistered, revoked, expired, endpoint-dead, ... */
    uint64_t event_seq; /* 0: publishes no event */
} dc_change_t;

#endif
