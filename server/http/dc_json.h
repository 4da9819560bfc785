/* dc_json.h: JSON text for the HTTP listener: strings escaped, and any
 * msgpack object (the replies the daemon already packs for its clients:
 * GRAPH, node maps, MEMBERS) turned into the JSON of the same shape, so the
 * HTTP views and `discoctl --json` say the same things.
 *
 * Design notes: pure functions on the caller's buffer; any thread. */
#ifndef DC_JSON_H
#define DC_JSON_H

#include "dc_mp.h"

#include <msgpack.h>

/* Appends s (len bytes) as a quoted JSON string: quotes, backslashes and
 * control characters escaped, bytes that are not UTF-8 replaced by U+FFFD. */
void dc_json_str(msgpack_sbuffer *out, const char *s, size_t len);

/* Appends text as it is. */
void dc_json_raw(msgpack_sbuffer *out, const char *text);

/* Appends printf-formatted text. */
void dc_json_fmt(msgpack_sbuffer *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends o as JSON: maps (keys as strings), arrays, strings, numbers,
 * booleans, nil as null; a bin holding one msgpack object (a topic_info
 * blob) as that object, any other bin as null. Nesting is bounded (deeper:
 * null). */
void dc_json_object(msgpack_sbuffer *out, const msgpack_object *o);

/* The same for msgpack bytes (one object). Returns 0, or -1 when they do not
 * decode (nothing appended). */
int dc_json_from_msgpack(msgpack_sbuffer *out, const void *data, size_t size);

#endif
