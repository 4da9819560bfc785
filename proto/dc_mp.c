/* dc_mp.c: typed accessors over msgpack-c objects (see the .h). */
#include "dc_mp.h"
#include "dc_msgpack_guard.h"
#include "dc_protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dc_mp_unpack(msgpack_unpacked *out, const void *data, size_t size, char *err)
{
    const char *why = NULL;
    msgpack_unpacked_init(out);
    if (size == 0) {
        snprintf(err, DC_ERR_LEN, "Failed to parse request: empty body");
        msgpack_unpacked_destroy(out);
        return -1;
    }
    if (dc_msgpack_check(data, size, DC_MAX_DEPTH, &why) != 0) {
        snprintf(err, DC_ERR_LEN, "Failed to parse request: %s", why);
        msgpack_unpacked_destroy(out);
        return -1;
    }
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(out, data, size, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != size) {
        snprintf(err, DC_ERR_LEN, "Failed to parse request: msgpack decoder error %d", (int)rc);
        msgpack_unpacked_destroy(out);
        return -1;
    }
    return 0;
}

bool dc_mp_key_is(const msgpack_object *k, const char *literal)
{
    size_t n = strlen(literal);
    if (k->type == MSGPACK_OBJECT_STR)
        return k->via.str.size == n && memcmp(k->via.str.ptr, literal, n) == 0;
    return false;
}

/* Strict RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
bool dc_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else
            return false;
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000))
            return false;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

int dc_mp_get_str(const msgpack_object *o, dc_str_t *out, size_t max, bool allow_empty,
                  const char *what, char *err)
{
    if (o->type != MSGPACK_OBJECT_STR) {
        snprintf(err, DC_ERR_LEN, "Invalid %s: expected str", what);
        return -1;
    }
    if (o->via.str.size == 0 && !allow_empty) {
        snprintf(err, DC_ERR_LEN, "Invalid %s: empty", what);
        return -1;
    }
    if (o->via.str.size > max) {
        snprintf(err, DC_ERR_LEN, "Invalid %s: longer than %zu bytes", what, max);
        return -1;
    }
    if (!dc_utf8_valid(o->via.str.ptr, o->via.str.size)) {
        snprintf(err, DC_ERR_LEN, "Invalid %s: not valid UTF-8", what);
        return -1;
    }
    /* Names and texts end up as C strings (hash keys, node names, log lines):
     * an embedded NUL would cut them short, so it is refused here. */
    if (o->via.str.size && memchr(o->via.str.ptr, 0, o->via.str.size)) {
        snprintf(err, DC_ERR_LEN, "Invalid %s: contains a NUL byte", what);
        return -1;
    }
    out->ptr = o->via.str.ptr;
    out->len = o->via.str.size;
    return 0;
}

int dc_mp_get_uint(const msgpack_object *o, uint64_t *out, const char *what, char *err)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf(err, DC_ERR_LEN, "Invalid %s: expected a non-negative integer", what);
        return -1;
    }
    *out = o->via.u64;
    return 0;
}

void dc_mp_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    if (len == (size_t)-1)
        len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

bool dc_str_eq(dc_str_t a, dc_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

char *dc_str_dup(dc_str_t s)
{
    char *copy = malloc((size_t)s.len + 1);
    if (copy) {
        if (s.len)
            memcpy(copy, s.ptr, s.len);
        copy[s.len] = 0;
    }
    return copy;
}

dc_str_t dc_str_from(const char *s)
{
    dc_str_t v = {s, s ? (uint32_t)strlen(s) : 0};
    return v;
}
