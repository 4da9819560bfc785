/* dc_lookups.h: lookups by clients that never say who they are (protocol 1:
 * Cortex's own DiscoveryClient), counted per topic, so the graph can show
 * that someone reads a topic without having declared a subscription.
 *
 * Design notes: the front and the workers count (a mutex held for one hash
 * probe); workers read for GRAPH. The table holds at most DC_LOOKUPS_MAX
 * names; lookups of names beyond that are counted in STATS only. */
#ifndef DC_LOOKUPS_H
#define DC_LOOKUPS_H

#include "dc_mp.h"

#include <stddef.h>
#include <stdint.h>

#define DC_LOOKUPS_MAX 4096

typedef struct dc_lookups dc_lookups_t;

dc_lookups_t *dc_lookups_new(void);
void dc_lookups_destroy(dc_lookups_t **self_p);

/* Any thread: one more lookup of name, at wall time now_ms. */
void dc_lookups_note(dc_lookups_t *self, dc_str_t name, uint64_t now_ms);

/* Any thread: packs an array of {topic, count, last_ms} for the names with
 * prefix (ptr NULL: all; an exact name when exact) into pk. */
void dc_lookups_pack(dc_lookups_t *self, dc_str_t prefix, bool exact, msgpack_packer *pk);

#endif
