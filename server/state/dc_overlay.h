/* dc_overlay.h: what an isolated member's own computer was told about the
 * names its island changed, kept in front of the committed state from the
 * member's return to that state until each change is merged or refused
 * (dc_island.h).
 *
 * Going back to the committed state would otherwise show this computer, for
 * the time the merge takes, the registrations it had replaced or removed
 * while cut off, and none of those it added. The overlay holds, per
 * registration (name, node) the island changed: the island's version (added
 * or replaced), or that the island removed it. A lookup of a name with a
 * registration in the overlay gets the committed registrations of the name
 * with the overlay's over them (dc_overlay_lookup); any other name is the
 * registry's alone. LIST and the graph show the committed state meanwhile.
 *
 * Design notes: written by the cluster thread alone (filled by
 * dc_state_restore, emptied by the island when its last provisional write
 * is answered, or when it applies its writes again); read by the front, the
 * workers and the writer. Each half is a registry with its own lock; a
 * counter keeps the lookups of a member with nothing to merge (every
 * standalone daemon) at the registry's lookup and one atomic load. The
 * writer moves a registration into the overlay before it changes the
 * registry's (dc_state_restore); a reader looks in the registry before the
 * overlay, so that it never falls between the two steps, and looks again
 * when a clear came between its two looks (dc_overlay_lookup). */
#ifndef DC_OVERLAY_H
#define DC_OVERLAY_H

#include "dc_registry.h"

typedef struct dc_overlay dc_overlay_t;

dc_overlay_t *dc_overlay_new(void);
void dc_overlay_destroy(dc_overlay_t **self_p);

/* Writer: the island's own version of a registration (added or replaced
 * while cut off): a copy goes in. Returns 0, or -1 when out of memory. */
int dc_overlay_put(dc_overlay_t *self, const dc_entry_t *island_version);

/* Writer: a registration the island removed (committed is the committed
 * state's, which the lookups no longer show): its key goes in. Returns 0,
 * or -1 when out of memory. */
int dc_overlay_remove(dc_overlay_t *self, const dc_entry_t *committed);

/* Writer: empties it (lookups are the registry's alone again). */
void dc_overlay_clear(dc_overlay_t *self);

/* Any thread: does it hold anything? */
bool dc_overlay_active(dc_overlay_t *self);

/* Any thread, around a lookup of the registry alone (the hot path that
 * skips dc_overlay_lookup): a mark taken before it, then, after it, whether
 * that answer stands (nothing held, and no clear since the mark; else ask
 * dc_overlay_lookup). */
uint64_t dc_overlay_mark(dc_overlay_t *self);
bool dc_overlay_alone(dc_overlay_t *self, uint64_t mark);

/* Registrations held, put and removed (for tests and logs). */
size_t dc_overlay_count(dc_overlay_t *self, size_t *removed);

/* Reader: name's registrations as this member shows them, each with a
 * reference, in LIST order: registry's, less those the overlay holds, plus
 * the overlay's puts. *out and *newest as for dc_registry_lookup_all.
 * Returns the count (0: none, *out NULL), or (size_t)-1 when out of
 * memory. overlay NULL or empty, or a name it holds nothing of: the
 * registry's alone (dc_registry_lookup_all). */
size_t dc_overlay_lookup(dc_overlay_t *self, dc_registry_t *registry, dc_str_t name,
                         dc_entry_t ***out, size_t *newest);

/* Reader: does the overlay hold a registration of name? (For tests and
 * logs: dc_overlay_lookup finds out by itself.) */
bool dc_overlay_has(dc_overlay_t *self, dc_str_t name);

#endif
