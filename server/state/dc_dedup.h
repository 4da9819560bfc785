/* dc_dedup.h: the answers given to write requests that carried a request_id,
 * so a retry (after a lost reply, a reconnect, or a leader change) gets the
 * same answer instead of being applied twice.
 *
 * Part of the replicated state: filled only by dc_apply from REQUEST changes,
 * so every member holds the same table, and saved with the registry. Bounded:
 * direct-mapped on the id's hash; a collision forgets the older id early (a
 * retry of it is then decided again, which every write tolerates).
 *
 * Design notes: used by the thread that applies changes alone. */
#ifndef DC_DEDUP_H
#define DC_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DC_DEDUP_SLOTS 8192

typedef struct {
    uint64_t request_id;
    int status;
    char *message; /* owned; NULL: an empty slot */
    uint64_t lease_id, lease_ttl_ms;
} dc_dedup_entry_t;

typedef struct dc_dedup dc_dedup_t;

dc_dedup_t *dc_dedup_new(void);
void dc_dedup_destroy(dc_dedup_t **self_p);

/* The slot a request_id lives in (also the database row key). */
size_t dc_dedup_slot(uint64_t request_id);

/* The answer recorded for request_id, borrowed, or NULL. */
const dc_dedup_entry_t *dc_dedup_find(const dc_dedup_t *self, uint64_t request_id);

/* Records an answer (copying message), replacing the slot's. 0, or -1 when
 * out of memory (the slot is then empty). */
int dc_dedup_put(dc_dedup_t *self, uint64_t request_id, int status, const char *message,
                 uint64_t lease_id, uint64_t lease_ttl_ms);

/* Slot i (0 .. DC_DEDUP_SLOTS-1), borrowed; message NULL when empty. */
const dc_dedup_entry_t *dc_dedup_at(const dc_dedup_t *self, size_t i);

/* Empties every slot. */
void dc_dedup_clear(dc_dedup_t *self);

#endif
