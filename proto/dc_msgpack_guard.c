/* dc_msgpack_guard.c: header-only walk over untrusted msgpack (see the .h). */
#include "dc_msgpack_guard.h"
#include "dc_protocol.h"

static uint64_t s_read_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

int dc_msgpack_check(const uint8_t *data, size_t size, int max_depth, const char **reason)
{
    /* remaining[d]: objects still to read at nesting level d. */
    uint64_t remaining[DC_MAX_DEPTH + 2];
    if (max_depth > DC_MAX_DEPTH)
        max_depth = DC_MAX_DEPTH;
    int depth = 0;
    remaining[0] = 1;
    size_t pos = 0;
    const char *why = NULL;

    while (depth >= 0) {
        if (remaining[depth] == 0) {
            depth--;
            continue;
        }
        remaining[depth]--;
        if (pos >= size) {
            why = "truncated msgpack";
            goto fail;
        }
        uint8_t b = data[pos++];
        uint64_t skip = 0;      /* payload bytes after the header */
        uint64_t children = 0;  /* objects inside a container */
        int len_bytes = 0;      /* size of a length field that follows */
        int is_ext = 0;

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            skip = 0;
        } else if (b >= 0x80 && b <= 0x8f) {
            children = 2u * (b & 0x0f);
        } else if (b >= 0x90 && b <= 0x9f) {
            children = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: len_bytes = 1; break;
            case 0xc5: case 0xda: len_bytes = 2; break;
            case 0xc6: case 0xdb: len_bytes = 4; break;
            case 0xc7: len_bytes = 1; is_ext = 1; break;
            case 0xc8: len_bytes = 2; is_ext = 1; break;
            case 0xc9: len_bytes = 4; is_ext = 1; break;
            case 0xca: skip = 4; break;
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: case 0xde: len_bytes = 2; break;
            case 0xdd: case 0xdf: len_bytes = 4; break;
            default:
                why = "invalid msgpack type byte";
                goto fail;
            }
            if (len_bytes) {
                if (size - pos < (size_t)len_bytes) {
                    why = "truncated msgpack";
                    goto fail;
                }
                uint64_t n = s_read_be(data + pos, len_bytes);
                pos += len_bytes;
                if (b == 0xdc || b == 0xdd)
                    children = n;
                else if (b == 0xde || b == 0xdf)
                    children = 2 * n;
                else
                    skip = n + (is_ext ? 1 : 0);
            }
        }
        if (skip > size - pos) {
            why = "truncated msgpack";
            goto fail;
        }
        pos += skip;
        if (children > 0) {
            /* Every element takes at least one byte: a count larger than the
             * bytes left is a lie, refused before anything is allocated. */
            if (children > size - pos) {
                why = "msgpack container count exceeds frame size";
                goto fail;
            }
            if (depth + 1 > max_depth) {
                why = "msgpack nested too deeply";
                goto fail;
            }
            remaining[++depth] = children;
        }
    }
    if (pos != size) {
        why = "trailing bytes after msgpack object";
        goto fail;
    }
    return 0;
fail:
    if (reason)
        *reason = why;
    return -1;
}
