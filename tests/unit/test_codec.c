/* test_codec.c: proto/ round-trips and rejects: the guard, TopicInfo blobs,
 * requests and replies. Bytes are compared with what Python's
 * msgpack.packb(..., use_bin_type=True) produces for the same values. */
#define _GNU_SOURCE
#include "dc_msgpack_guard.h"
#include "dc_protocol.h"
#include "dc_reply.h"
#include "dc_request.h"
#include "dc_test.h"

#include <stdlib.h>

static dc_topic_t s_topic(const char *name, const char *node, uint64_t fp)
{
    dc_topic_t t = {dc_str_from(name), dc_str_from("ipc:///tmp/cortex/topics/cam"),
                    dc_str_from("Image"), dc_str_from(node), fp};
    return t;
}

static void test_guard(void)
{
    const char *why = NULL;
    /* fixmap{} ok; array32 claiming 2^32-1 elements in 5 bytes is refused. */
    uint8_t empty_map[] = {0x80};
    CHECK(dc_msgpack_check(empty_map, 1, 16, &why) == 0);
    uint8_t lying_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    CHECK(dc_msgpack_check(lying_array, sizeof lying_array, 16, &why) == -1);
    CHECK(why && strstr(why, "count"));
    uint8_t lying_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0};
    CHECK(dc_msgpack_check(lying_map, sizeof lying_map, 16, &why) == -1);
    uint8_t lying_str[] = {0xdb, 0x00, 0x10, 0x00, 0x00, 'a'};
    CHECK(dc_msgpack_check(lying_str, sizeof lying_str, 16, &why) == -1);
    uint8_t invalid[] = {0xc1};
    CHECK(dc_msgpack_check(invalid, 1, 16, &why) == -1);
    uint8_t trailing[] = {0x80, 0x80};
    CHECK(dc_msgpack_check(trailing, 2, 16, &why) == -1);
    CHECK(why && strstr(why, "trailing"));
    /* 20 nested single-element arrays: deeper than 16. */
    uint8_t deep[21];
    memset(deep, 0x91, 20);
    deep[20] = 0xc0;
    CHECK(dc_msgpack_check(deep, sizeof deep, 16, &why) == -1);
    CHECK(why && strstr(why, "deep"));
    CHECK(dc_msgpack_check(deep + 10, 11, 16, &why) == 0);
    CHECK(dc_msgpack_check(empty_map, 0, 16, &why) == -1);
    /* Every truncation of a valid object is refused, never read past. */
    uint8_t valid[] = {0x82, 0xa1, 'a', 0xcf, 1, 2, 3, 4, 5, 6, 7, 8, 0xa1, 'b', 0xc4, 2, 9, 9};
    CHECK(dc_msgpack_check(valid, sizeof valid, 16, &why) == 0);
    int refused = 0;
    for (size_t n = 0; n < sizeof valid; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, valid, n);
        refused += dc_msgpack_check(copy, n, 16, &why) == -1;
        free(copy);
    }
    CHECK(refused == (int)sizeof valid);
}

static void test_topic_blob(void)
{
    dc_topic_t t = s_topic("/cam", "n1", 18446744073709551615ULL);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    CHECK(dc_topic_encode(&t, &buf) == 0);
    /* Python: packb({"name": "/cam", "address": ..., "message_type": "Image",
     * "fingerprint": 2**64-1, "publisher_node": "n1"}, use_bin_type=True) */
    static const uint8_t expected_prefix[] = {0x85, 0xa4, 'n', 'a', 'm', 'e', 0xa4, '/', 'c', 'a', 'm',
                                              0xa7, 'a', 'd', 'd', 'r', 'e', 's', 's'};
    CHECK(buf.size > sizeof expected_prefix);
    CHECK(memcmp(buf.data, expected_prefix, sizeof expected_prefix) == 0);
    static const uint8_t fp[] = {0xab, 'f', 'i', 'n', 'g', 'e', 'r', 'p', 'r', 'i', 'n', 't',
                                 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK(memmem(buf.data, buf.size, fp, sizeof fp) != NULL);

    dc_topic_t back;
    msgpack_unpacked storage;
    char err[DC_ERR_LEN];
    CHECK(dc_topic_decode(&back, &storage, buf.data, buf.size, err) == 0);
    CHECK_STR(back.name, "/cam");
    CHECK_STR(back.publisher_node, "n1");
    CHECK(back.fingerprint == 18446744073709551615ULL);
    msgpack_unpacked_destroy(&storage);
    msgpack_sbuffer_destroy(&buf);

    /* Small fingerprints use the smallest int, as Python packs them. */
    t.fingerprint = 5;
    msgpack_sbuffer_init(&buf);
    dc_topic_encode(&t, &buf);
    static const uint8_t small_fp[] = {0xab, 'f', 'i', 'n', 'g', 'e', 'r', 'p', 'r', 'i', 'n', 't', 0x05};
    CHECK(memmem(buf.data, buf.size, small_fp, sizeof small_fp) != NULL);
    msgpack_sbuffer_destroy(&buf);
}

/* Packs a map built by the caller into buf. */
static void s_pack_topic_map(msgpack_sbuffer *buf, int keys, const char *name, int fp_negative,
                             int name_as_bin)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, keys);
    const char *k[] = {"name", "address", "message_type", "fingerprint", "publisher_node", "extra"};
    for (int i = 0; i < keys; i++) {
        dc_mp_pack_str(&pk, k[i], (size_t)-1);
        if (i == 0 && name_as_bin) {
            msgpack_pack_bin(&pk, strlen(name));
            msgpack_pack_bin_body(&pk, name, strlen(name));
        } else if (i == 0)
            dc_mp_pack_str(&pk, name, (size_t)-1);
        else if (i == 3)
            fp_negative ? msgpack_pack_int64(&pk, -1) : msgpack_pack_uint64(&pk, 7);
        else
            dc_mp_pack_str(&pk, "x", 1);
    }
}

static void test_topic_rejects(void)
{
    char err[DC_ERR_LEN];
    dc_topic_t t;
    msgpack_unpacked storage;
    msgpack_sbuffer buf;

    msgpack_sbuffer_init(&buf);
    s_pack_topic_map(&buf, 4, "/a", 0, 0); /* publisher_node missing */
    CHECK(dc_topic_decode(&t, &storage, buf.data, buf.size, err) == -1);
    CHECK(strstr(err, "publisher_node") != NULL);
    msgpack_sbuffer_destroy(&buf);

    msgpack_sbuffer_init(&buf);
    s_pack_topic_map(&buf, 6, "/a", 0, 0); /* unknown key ignored */
    CHECK(dc_topic_decode(&t, &storage, buf.data, buf.size, err) == 0);
    msgpack_unpacked_destroy(&storage);
    msgpack_sbuffer_destroy(&buf);

    msgpack_sbuffer_init(&buf);
    s_pack_topic_map(&buf, 5, "/a", 1, 0); /* negative fingerprint */
    CHECK(dc_topic_decode(&t, &storage, buf.data, buf.size, err) == -1);
    CHECK(strstr(err, "fingerprint") != NULL);
    msgpack_sbuffer_destroy(&buf);

    msgpack_sbuffer_init(&buf);
    s_pack_topic_map(&buf, 5, "/a", 0, 1); /* bin where str is expected */
    CHECK(dc_topic_decode(&t, &storage, buf.data, buf.size, err) == -1);
    msgpack_sbuffer_destroy(&buf);

    msgpack_sbuffer_init(&buf);
    s_pack_topic_map(&buf, 5, "/bad\xff\xfe", 0, 0); /* invalid UTF-8 */
    CHECK(dc_topic_decode(&t, &storage, buf.data, buf.size, err) == -1);
    CHECK(strstr(err, "UTF-8") != NULL);
    msgpack_sbuffer_destroy(&buf);

    char long_name[DC_MAX_NAME_LEN + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    msgpack_sbuffer_init(&buf);
    s_pack_topic_map(&buf, 5, long_name, 0, 0);
    CHECK(dc_topic_decode(&t, &storage, buf.data, buf.size, err) == -1);
    CHECK(strstr(err, "longer") != NULL);
    msgpack_sbuffer_destroy(&buf);

    CHECK(dc_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa4\x96", 14));
    CHECK(!dc_utf8_valid("\xc0\xaf", 2));         /* overlong */
    CHECK(!dc_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!dc_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!dc_utf8_valid("\xe2\x82", 2));         /* truncated */
}

static void test_request_round_trip(void)
{
    dc_request_t out;
    dc_request_init(&out, DC_CMD_REGISTER_TOPIC);
    out.topic = s_topic("/robot/arm", "arm-node", 1ULL << 63);
    out.present = DC_REQ_TOPIC_INFO | DC_REQ_REQUEST_ID | DC_REQ_FILTER;
    out.version = 2;
    out.request_id = 77;
    out.filter_prefix = dc_str_from("/robot");
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    CHECK(dc_request_encode(&out, &buf) == 0);

    dc_request_t in;
    char err[DC_ERR_LEN];
    CHECK(dc_request_decode(&in, buf.data, buf.size, err) == 0);
    CHECK(in.command == DC_CMD_REGISTER_TOPIC);
    CHECK(in.version == 2);
    CHECK(in.present & DC_REQ_TOPIC_INFO);
    CHECK(!(in.present & DC_REQ_TOPIC_NAME)); /* nil topic_name means absent */
    CHECK_STR(in.topic.name, "/robot/arm");
    CHECK(in.topic.fingerprint == 1ULL << 63);
    CHECK(in.request_id == 77);
    CHECK_STR(in.filter_prefix, "/robot");
    dc_request_release(&in);
    msgpack_sbuffer_destroy(&buf);

    /* Legacy LOOKUP: {"command": 3, "topic_name": "/x", "topic_info": None} */
    static const uint8_t legacy[] = {0x83, 0xa7, 'c', 'o', 'm', 'm', 'a', 'n', 'd', 0x03, 0xaa, 't', 'o',
                                     'p', 'i', 'c', '_', 'n', 'a', 'm', 'e', 0xa2, '/', 'x', 0xaa, 't',
                                     'o', 'p', 'i', 'c', '_', 'i', 'n', 'f', 'o', 0xc0};
    CHECK(dc_request_decode(&in, legacy, sizeof legacy, err) == 0);
    CHECK(in.command == 3 && in.version == 1);
    CHECK_STR(in.topic_name, "/x");
    dc_request_release(&in);
}

static void test_request_rejects(void)
{
    dc_request_t in;
    char err[DC_ERR_LEN];
    /* Not a map. */
    uint8_t array[] = {0x91, 0x01};
    CHECK(dc_request_decode(&in, array, sizeof array, err) == -1);
    /* No command. */
    uint8_t no_command[] = {0x81, 0xa1, 'x', 0x01};
    CHECK(dc_request_decode(&in, no_command, sizeof no_command, err) == -1);
    CHECK(strstr(err, "missing command") != NULL);
    /* command as str. */
    uint8_t str_command[] = {0x81, 0xa7, 'c', 'o', 'm', 'm', 'a', 'n', 'd', 0xa1, '1'};
    CHECK(dc_request_decode(&in, str_command, sizeof str_command, err) == -1);
    /* topic_info as str instead of bin. */
    uint8_t str_info[] = {0x82, 0xa7, 'c', 'o', 'm', 'm', 'a', 'n', 'd', 0x01, 0xaa, 't', 'o',
                          'p', 'i', 'c', '_', 'i', 'n', 'f', 'o', 0xa1, 'x'};
    CHECK(dc_request_decode(&in, str_info, sizeof str_info, err) == -1);
    CHECK(strstr(err, "bin") != NULL);
    /* topic_name as bin. */
    uint8_t bin_name[] = {0x82, 0xa7, 'c', 'o', 'm', 'm', 'a', 'n', 'd', 0x03, 0xaa, 't', 'o',
                          'p', 'i', 'c', '_', 'n', 'a', 'm', 'e', 0xc4, 1, 'x'};
    CHECK(dc_request_decode(&in, bin_name, sizeof bin_name, err) == -1);
    /* Negative lease_ttl_ms. */
    uint8_t neg[] = {0x82, 0xa7, 'c', 'o', 'm', 'm', 'a', 'n', 'd', 0x06, 0xac, 'l', 'e', 'a',
                     's', 'e', '_', 't', 't', 'l', '_', 'm', 's', 0xff};
    CHECK(dc_request_decode(&in, neg, sizeof neg, err) == -1);
    /* Unknown keys are ignored; negative commands decode (and are unknown later). */
    uint8_t unknown[] = {0x82, 0xa7, 'c', 'o', 'm', 'm', 'a', 'n', 'd', 0xff, 0xa3, 'z', 'z', 'z', 0xc3};
    CHECK(dc_request_decode(&in, unknown, sizeof unknown, err) == 0);
    CHECK(in.command == -1);
    dc_request_release(&in);
    /* Non-str map key. */
    uint8_t int_key[] = {0x81, 0x01, 0x01};
    CHECK(dc_request_decode(&in, int_key, sizeof int_key, err) == -1);
}

static void test_reply(void)
{
    uint8_t blob[] = {0x80};
    dc_blob_t topics[] = {{blob, 1}, {blob, 1}};
    dc_reply_t r;
    memset(&r, 0, sizeof r);
    r.status = DC_STATUS_OK;
    r.message = "pong";
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    dc_reply_encode(&r, &buf);
    /* Python: packb({"status": 0, "message": "pong"}) */
    static const uint8_t pong[] = {0x82, 0xa6, 's', 't', 'a', 't', 'u', 's', 0x00, 0xa7, 'm',
                                   'e', 's', 's', 'a', 'g', 'e', 0xa4, 'p', 'o', 'n', 'g'};
    CHECK(buf.size == sizeof pong && memcmp(buf.data, pong, sizeof pong) == 0);
    msgpack_sbuffer_destroy(&buf);

    /* An empty LIST sends no topics key; a v2 reply carries v and epoch. */
    r.version = 2;
    r.epoch = 9;
    r.topics = topics;
    r.topic_count = 2;
    msgpack_sbuffer_init(&buf);
    dc_reply_encode(&r, &buf);
    dc_reply_view_t v;
    char err[DC_ERR_LEN];
    CHECK(dc_reply_decode(&v, buf.data, buf.size, err) == 0);
    CHECK(v.status == 0 && v.version == 2 && v.epoch == 9);
    CHECK(v.topics && v.topics->via.array.size == 2);
    CHECK_STR(v.message, "pong");
    dc_reply_view_release(&v);
    msgpack_sbuffer_destroy(&buf);

    r.topic_count = 0;
    r.version = 1;
    msgpack_sbuffer_init(&buf);
    dc_reply_encode(&r, &buf);
    CHECK(dc_reply_decode(&v, buf.data, buf.size, err) == 0);
    CHECK(v.topics == NULL && v.version == 1);
    dc_reply_view_release(&v);
    msgpack_sbuffer_destroy(&buf);

    uint8_t no_status[] = {0x80};
    CHECK(dc_reply_decode(&v, no_status, 1, err) == -1);
}

int main(void)
{
    test_guard();
    test_topic_blob();
    test_topic_rejects();
    test_request_round_trip();
    test_request_rejects();
    test_reply();
    DC_TEST_END();
}
