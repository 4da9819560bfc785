/* test_list_cache.c: kept LIST replies: a hit only at the same generation and
 * shape, newer replies win, older ones never replace them, big ones are not
 * kept, and references outlive the cache. */
#include "dc_list_cache.h"
#include "dc_test.h"

#include <string.h>

static msgpack_sbuffer s_bytes(const char *text)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_sbuffer_write(&buf, text, strlen(text));
    return buf;
}

int main(void)
{
    dc_list_cache_t *cache = dc_list_cache_new();
    CHECK(dc_list_cache_get(cache, 1, 0) == NULL);

    msgpack_sbuffer buf = s_bytes("v1 at 5");
    dc_shared_reply_t *sent = dc_list_cache_put(cache, 1, 5, &buf);
    CHECK(sent != NULL && buf.data == NULL && buf.size == 0); /* bytes taken */
    dc_shared_reply_unref(&sent);
    CHECK(sent == NULL);

    dc_shared_reply_t *hit = dc_list_cache_get(cache, 1, 5);
    CHECK(hit != NULL);
    CHECK(dc_list_cache_get(cache, 1, 6) == NULL); /* the registry moved */
    CHECK(dc_list_cache_get(cache, 2, 5) == NULL); /* the other shape */

    buf = s_bytes("v1 at 7");
    sent = dc_list_cache_put(cache, 1, 7, &buf);
    dc_shared_reply_unref(&sent);
    CHECK(dc_list_cache_get(cache, 1, 5) == NULL);
    /* A slow worker's older reply does not replace the newer one. */
    buf = s_bytes("v1 at 6");
    sent = dc_list_cache_put(cache, 1, 6, &buf);
    CHECK(sent != NULL);
    dc_shared_reply_unref(&sent);
    dc_shared_reply_t *newer = dc_list_cache_get(cache, 1, 7);
    CHECK(newer != NULL && dc_list_cache_get(cache, 1, 6) == NULL);
    dc_shared_reply_unref(&newer);

    /* Protocol 2 and up share a slot. */
    buf = s_bytes("v2 at 7");
    sent = dc_list_cache_put(cache, 2, 7, &buf);
    dc_shared_reply_unref(&sent);
    dc_shared_reply_t *v3 = dc_list_cache_get(cache, 3, 7);
    CHECK(v3 != NULL);
    dc_shared_reply_unref(&v3);

    /* A reply past the cap is sent but not kept. */
    msgpack_sbuffer big;
    msgpack_sbuffer_init(&big);
    static char chunk[1 << 16];
    for (size_t done = 0; done <= DC_LIST_CACHE_MAX; done += sizeof chunk)
        msgpack_sbuffer_write(&big, chunk, sizeof chunk);
    sent = dc_list_cache_put(cache, 2, 9, &big);
    CHECK(sent != NULL);
    dc_shared_reply_unref(&sent);
    CHECK(dc_list_cache_get(cache, 2, 9) == NULL);

    /* A reference taken before the cache goes keeps its bytes (valgrind or
     * ASan would see a double free or a leak here). */
    dc_list_cache_destroy(&cache);
    CHECK(cache == NULL);
    dc_shared_reply_unref(&hit);
    DC_TEST_END();
}
