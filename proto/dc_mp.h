/* dc_mp.h: small typed accessors over msgpack-c objects and a packer helper,
 * shared by the request, reply and topic codecs. Strings are views (dc_str_t)
 * into the unpacked zone: valid as long as the msgpack_unpacked lives. */
#ifndef DC_MP_H
#define DC_MP_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *ptr;
    uint32_t len;
} dc_str_t;

#define DC_ERR_LEN 160

/* Guarded unpack of exactly one object from untrusted bytes (dc_msgpack_guard
 * first). On success the caller owns *out and must msgpack_unpacked_destroy it;
 * on failure *out is already destroyed and err holds the reason. */
int dc_mp_unpack(msgpack_unpacked *out, const void *data, size_t size, char *err);

/* True when the str or bin key k equals the literal. */
bool dc_mp_key_is(const msgpack_object *k, const char *literal);

/* A str object of 1..max bytes (0..max when allow_empty) in valid UTF-8,
 * without NUL bytes.
 * Returns 0, or -1 with err naming `what`. */
int dc_mp_get_str(const msgpack_object *o, dc_str_t *out, size_t max, bool allow_empty,
                  const char *what, char *err);

/* A non-negative integer. Returns 0, or -1 with err naming `what`. */
int dc_mp_get_uint(const msgpack_object *o, uint64_t *out, const char *what, char *err);

bool dc_utf8_valid(const char *s, size_t len);

/* Packs a str of len bytes (NUL-terminated when len is (size_t)-1). */
void dc_mp_pack_str(msgpack_packer *pk, const char *s, size_t len);

bool dc_str_eq(dc_str_t a, dc_str_t b);

/* FNV-1a of s's bytes, continuing from h (start from DC_STR_HASH_SEED): the
 * one string hash of the hash tables. */
#define DC_STR_HASH_SEED 1469598103934665603ULL
static inline uint64_t dc_str_hash(dc_str_t s, uint64_t h)
{
    for (uint32_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.ptr[i]) * 1099511628211ULL;
    return h;
}
/* Malloc'd NUL-terminated copy; the caller frees it. NULL when out of memory. */
char *dc_str_dup(dc_str_t s);
dc_str_t dc_str_from(const char *s);

#endif
