/* dc_topic.h: the TopicInfo record and its five-key msgpack blob.
 *
 * Legacy clients rebuild TopicInfo with TopicInfo(**d), so the blob holds
 * exactly name, address, message_type, fingerprint, publisher_node, packed in
 * that order as Python's msgpack.packb(..., use_bin_type=True) packs them. */
#ifndef DC_TOPIC_H
#define DC_TOPIC_H

#include "dc_mp.h"

/* A TopicInfo whose strings are views: borrowed, never freed through it. */
typedef struct {
    dc_str_t name;
    dc_str_t address;
    dc_str_t message_type;
    dc_str_t publisher_node;
    uint64_t fingerprint;
} dc_topic_t;

/* Decodes and validates a TopicInfo blob from untrusted bytes. All five keys
 * must be present with their types and length bounds; unknown keys are
 * ignored. The views in *t point into *storage, which the caller owns and must
 * msgpack_unpacked_destroy after use (only when 0 is returned).
 * Returns 0, or -1 with a message in err. */
int dc_topic_decode(dc_topic_t *t, msgpack_unpacked *storage, const void *blob, size_t size,
                    char *err);

/* Validates a TopicInfo map that is already unpacked (same rules as above). */
int dc_topic_from_object(dc_topic_t *t, const msgpack_object *map, char *err);

/* Appends the five-key blob for t to out. Returns 0, or -1 when out of memory. */
int dc_topic_encode(const dc_topic_t *t, msgpack_sbuffer *out);

#endif
