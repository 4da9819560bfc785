/* dc_msgpack_guard.h: checks untrusted msgpack bytes before msgpack-c sees them.
 *
 * msgpack-c sizes its allocations from the counts in container headers, so a
 * five-byte frame announcing an array of 2^32 elements asks for ~100 GB. This
 * walker reads only headers and proves, without allocating, that the bytes hold
 * exactly one object, that every count fits in the bytes left, and that nesting
 * stays within max_depth. Only then is the frame handed to msgpack-c. */
#ifndef DC_MSGPACK_GUARD_H
#define DC_MSGPACK_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 when data[0..size) is exactly one well-formed msgpack object no
 * deeper than max_depth; otherwise -1 and *reason (static string) says why. */
int dc_msgpack_check(const uint8_t *data, size_t size, int max_depth, const char **reason);

#endif
