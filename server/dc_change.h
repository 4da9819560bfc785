/* dc_change.h: one registry change, the unit of durability and (later) of
 * replication: a backup that applies the same changes in seq order holds the
 * same registry. */
#ifndef DC_CHANGE_H
#define DC_CHANGE_H

#include "dc_entry.h"

typedef enum {
    DC_CHANGE_TOPIC_PUT = 1,    /* insert or replace entry->topic.name */
    DC_CHANGE_TOPIC_REMOVE = 2  /* remove entry->topic.name */
} dc_change_kind_t;

typedef struct {
    uint64_t seq;
    dc_change_kind_t kind;
    dc_entry_t *entry;  /* PUT: the new entry; REMOVE: the one removed (one reference) */
    const char *reason; /* "registered", "unregistered", ... */
} dc_change_t;

#endif
