/* dc_json.c: JSON text (see the .h). */
#include "dc_json.h"

#include <stdarg.h>
#include <stdio.h>

#define DC_JSON_DEPTH 24

void dc_json_raw(msgpack_sbuffer *out, const char *text)
{
    msgpack_sbuffer_write(out, text, strlen(text));
}

void dc_json_fmt(msgpack_sbuffer *out, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        msgpack_sbuffer_write(out, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* The length of the UTF-8 sequence at p (left bytes), or 0 if it is not one. */
static size_t s_utf8(const unsigned char *p, size_t left)
{
    size_t n = p[0] < 0x80         ? 1
               : (p[0] >> 5) == 6  ? 2
               : (p[0] >> 4) == 14 ? 3
               : (p[0] >> 3) == 30 ? 4
                                   : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

void dc_json_str(msgpack_sbuffer *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    msgpack_sbuffer_write(out, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            msgpack_sbuffer_write(out, esc, 2);
            i++;
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            msgpack_sbuffer_write(out, esc, 6);
            i++;
        } else {
            size_t n = s_utf8(p + i, len - i);
            if (n == 0) {
                msgpack_sbuffer_write(out, "\\ufffd", 6);
                i++;
            } else {
                msgpack_sbuffer_write(out, (const char *)p + i, n);
                i += n;
            }
        }
    }
    msgpack_sbuffer_write(out, "\"", 1);
}

static void s_object(msgpack_sbuffer *out, const msgpack_object *o, int depth)
{
    if (depth > DC_JSON_DEPTH) {
        dc_json_raw(out, "null");
        return;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        dc_json_fmt(out, "%llu", (unsigned long long)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        dc_json_fmt(out, "%lld", (long long)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        dc_json_fmt(out, "%.17g", o->via.f64);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        dc_json_raw(out, o->via.boolean ? "true" : "false");
        break;
    case MSGPACK_OBJECT_STR:
        dc_json_str(out, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        msgpack_sbuffer_write(out, "[", 1);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                msgpack_sbuffer_write(out, ",", 1);
            s_object(out, &o->via.array.ptr[i], depth + 1);
        }
        msgpack_sbuffer_write(out, "]", 1);
        break;
    case MSGPACK_OBJECT_MAP:
        msgpack_sbuffer_write(out, "{", 1);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (i)
                msgpack_sbuffer_write(out, ",", 1);
            if (kv->key.type == MSGPACK_OBJECT_STR)
                dc_json_str(out, kv->key.via.str.ptr, kv->key.via.str.size);
            else {
                msgpack_sbuffer key;
                msgpack_sbuffer_init(&key);
                s_object(&key, &kv->key, depth + 1);
                dc_json_str(out, key.data ? key.data : "", key.size);
                msgpack_sbuffer_destroy(&key);
            }
            msgpack_sbuffer_write(out, ":", 1);
            s_object(out, &kv->val, depth + 1);
        }
        msgpack_sbuffer_write(out, "}", 1);
        break;
    case MSGPACK_OBJECT_BIN: {
        msgpack_unpacked inner;
        char err[DC_ERR_LEN];
        if (dc_mp_unpack(&inner, o->via.bin.ptr, o->via.bin.size, err) == 0) {
            s_object(out, &inner.data, depth + 1);
            msgpack_unpacked_destroy(&inner);
        } else
            dc_json_raw(out, "null");
        break;
    }
    default:
        dc_json_raw(out, "null");
    }
}

void dc_json_object(msgpack_sbuffer *out, const msgpack_object *o)
{
    s_object(out, o, 0);
}

int dc_json_from_msgpack(msgpack_sbuffer *out, const void *data, size_t size)
{
    msgpack_unpacked u;
    char err[DC_ERR_LEN];
    if (dc_mp_unpack(&u, data, size, err) != 0)
        return -1;
    s_object(out, &u.data, 0);
    msgpack_unpacked_destroy(&u);
    return 0;
}
