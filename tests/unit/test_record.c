/* test_record.c: the change record codec: every kind round-trips, newer
 * minor fields are accepted, and malformed or foreign records are refused
 * whole (the callback never sees part of a bad record). */
#include "dc_protocol.h"
#include "dc_record.h"
#include "dc_test.h"

#include <stdlib.h>

typedef struct {
    dc_rec_t seen[16];
    int count;
    char names[16][64];
} seen_t;

static int s_collect(void *arg, const dc_rec_t *c)
{
    seen_t *s = arg;
    if (s->count < 16) {
        s->seen[s->count] = *c;
        /* Views die with the call: keep a copy of the name. */
        snprintf(s->names[s->count], 64, "%.*s", (int)c->topic.name.len,
                 c->topic.name.ptr ? c->topic.name.ptr : "");
    }
    s->count++;
    return 0;
}

static void s_pack(msgpack_sbuffer *buf, const dc_rec_t *recs, size_t n)
{
    msgpack_sbuffer_init(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    dc_record_begin(&pk, n);
    for (size_t i = 0; i < n; i++)
        dc_record_pack(&pk, &recs[i]);
}

/* Packs a small msgpack object with fn into a static buffer. */
static msgpack_sbuffer s_meta, s_caps;

static void test_round_trip(void)
{
    msgpack_sbuffer_init(&s_meta);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s_meta, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    dc_mp_pack_str(&pk, "room", 4);
    dc_mp_pack_str(&pk, "lab", 3);
    msgpack_sbuffer_init(&s_caps);
    msgpack_packer_init(&pk, &s_caps, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    dc_mp_pack_str(&pk, "camera", 6);
    dc_mp_pack_str(&pk, "lidar", 5);

    dc_rec_t recs[11];
    memset(recs, 0, sizeof recs);
    recs[0] =
        (dc_rec_t){.kind = DC_REC_TOPIC_PUT,
                   .topic = {dc_str_from("/cam"), dc_str_from("ipc:///tmp/cam"),
                             dc_str_from("Image"), dc_str_from("camera"), 0xfedcba9876543210ULL},
                   .create_seq = 7,
                   .lease_id = 3,
                   .at_ms = 1700000000123ULL,
                   .metadata = (const uint8_t *)s_meta.data,
                   .metadata_size = s_meta.size,
                   .value = 2 /* origin */};
    recs[1] = (dc_rec_t){.kind = DC_REC_TOPIC_REMOVE,
                         .topic.name = dc_str_from("/old"),
                         .reason = DC_REASON_ENDPOINT_DEAD};
    recs[2] = (dc_rec_t){.kind = DC_REC_LEASE_GRANT, .lease_id = 3, .ttl_ms = 3000, .at_ms = 5};
    recs[3] = (dc_rec_t){.kind = DC_REC_LEASE_REMOVE, .lease_id = 2, .reason = DC_REASON_EXPIRED};
    recs[4] = (dc_rec_t){.kind = DC_REC_NODE_PUT,
                         .topic.name = dc_str_from("arm"),
                         .text = dc_str_from("the arm"),
                         .capabilities = (const uint8_t *)s_caps.data,
                         .capabilities_size = s_caps.size,
                         .lease_id = 3};
    recs[5] = (dc_rec_t){
        .kind = DC_REC_NODE_REMOVE, .topic.name = dc_str_from("leg"), .reason = DC_REASON_REVOKED};
    recs[6] = (dc_rec_t){.kind = DC_REC_LEASE_RENEW, .lease_id = 3, .at_ms = 99};
    recs[7] = (dc_rec_t){.kind = DC_REC_EPOCH, .value = 12};
    recs[8] = (dc_rec_t){.kind = DC_REC_REQUEST,
                         .value = UINT64_MAX,
                         .status = 2,
                         .text = dc_str_from("Topic /x already registered by n"),
                         .lease_id = 4,
                         .ttl_ms = 900};
    recs[9] = (dc_rec_t){.kind = DC_REC_SEQS, .seqs = {10, 20, 30}, .value = 41};
    recs[10] =
        (dc_rec_t){.kind = DC_REC_MEMBER, .value = 3, .text = dc_str_from("tcp://10.1.1.3:40000")};
    msgpack_sbuffer buf;
    s_pack(&buf, recs, 11);
    seen_t seen = {0};
    char err[DC_ERR_LEN] = "";
    CHECK(dc_record_decode(buf.data, buf.size, s_collect, &seen, err) == 0);
    CHECK(seen.count == 11);
    const dc_rec_t *r = seen.seen;
    CHECK(r[0].kind == DC_REC_TOPIC_PUT && !strcmp(seen.names[0], "/cam"));
    CHECK(r[0].topic.fingerprint == 0xfedcba9876543210ULL && r[0].create_seq == 7 &&
          r[0].lease_id == 3 && r[0].at_ms == 1700000000123ULL);
    CHECK(r[0].metadata_size == s_meta.size && r[0].value == 2);
    CHECK(r[1].kind == DC_REC_TOPIC_REMOVE && !strcmp(seen.names[1], "/old") &&
          r[1].reason == DC_REASON_ENDPOINT_DEAD && r[1].topic.publisher_node.ptr == NULL);
    CHECK(r[2].lease_id == 3 && r[2].ttl_ms == 3000 && r[2].at_ms == 5);
    CHECK(r[3].lease_id == 2 && r[3].reason == DC_REASON_EXPIRED);
    CHECK(r[4].kind == DC_REC_NODE_PUT && !strcmp(seen.names[4], "arm") &&
          r[4].capabilities_size == s_caps.size && r[4].metadata == NULL && r[4].lease_id == 3);
    CHECK(r[5].reason == DC_REASON_REVOKED && !strcmp(seen.names[5], "leg"));
    CHECK(r[6].kind == DC_REC_LEASE_RENEW && r[6].at_ms == 99);
    CHECK(r[7].kind == DC_REC_EPOCH && r[7].value == 12);
    CHECK(r[8].value == UINT64_MAX && r[8].status == 2 && r[8].lease_id == 4 && r[8].ttl_ms == 900);
    CHECK(r[9].seqs[0] == 10 && r[9].seqs[1] == 20 && r[9].seqs[2] == 30 && r[9].value == 41);
    CHECK(r[10].kind == DC_REC_MEMBER && r[10].value == 3);
    msgpack_sbuffer_destroy(&buf);
    CHECK(!strcmp(dc_reason_name(DC_REASON_LEGACY_TTL), "legacy-ttl"));
    CHECK(!strcmp(dc_reason_name(DC_REASON_UNREGISTERED), "unregistered"));
}

/* Builds [version, [change]] by hand, with change made by fn. */
static void s_raw(msgpack_sbuffer *buf, uint64_t version, void (*fn)(msgpack_packer *pk))
{
    msgpack_sbuffer_init(buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, version);
    msgpack_pack_array(&pk, 2);
    /* A good change first: it must not be seen when the second is bad. */
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, DC_REC_EPOCH);
    msgpack_pack_uint64(&pk, 1);
    fn(&pk);
}

static void c_epoch(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, DC_REC_EPOCH);
    msgpack_pack_uint64(pk, 2);
}
static void c_epoch_extra(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4); /* two fields a newer build might add */
    msgpack_pack_uint64(pk, DC_REC_EPOCH);
    msgpack_pack_uint64(pk, 2);
    dc_mp_pack_str(pk, "later", 5);
    msgpack_pack_nil(pk);
}
static void c_unknown_kind(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, 99);
    msgpack_pack_uint64(pk, 2);
}
static void c_short(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, DC_REC_LEASE_GRANT);
    msgpack_pack_uint64(pk, 2);
}
static void c_wrong_type(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint64(pk, DC_REC_LEASE_GRANT);
    dc_mp_pack_str(pk, "7", 1);
    msgpack_pack_uint64(pk, 1000);
    msgpack_pack_uint64(pk, 0);
}
static void c_zero_ttl(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint64(pk, DC_REC_LEASE_GRANT);
    msgpack_pack_uint64(pk, 7);
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_uint64(pk, 0);
}
static void c_bad_reason(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, DC_REC_TOPIC_REMOVE);
    dc_mp_pack_str(pk, "/x", 2);
    msgpack_pack_uint64(pk, 77);
}
static void c_empty_name(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, DC_REC_TOPIC_REMOVE);
    dc_mp_pack_str(pk, "", 0);
    msgpack_pack_uint64(pk, DC_REASON_UNREGISTERED);
}
static void c_bad_metadata(msgpack_packer *pk)
{
    /* metadata must be a bin holding one msgpack map: here, an array */
    char inner[] = {(char)0x91, 0x01};
    msgpack_pack_array(pk, 10);
    msgpack_pack_uint64(pk, DC_REC_TOPIC_PUT);
    dc_mp_pack_str(pk, "/x", 2);
    dc_mp_pack_str(pk, "ipc:///x", 8);
    dc_mp_pack_str(pk, "T", 1);
    msgpack_pack_uint64(pk, 1);
    dc_mp_pack_str(pk, "n", 1);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_bin(pk, 2);
    msgpack_pack_bin_body(pk, inner, 2);
}
static void c_bad_capabilities(msgpack_packer *pk)
{
    char inner[] = {(char)0x91, 0x01}; /* [1]: not an array of str */
    msgpack_pack_array(pk, 6);
    msgpack_pack_uint64(pk, DC_REC_NODE_PUT);
    dc_mp_pack_str(pk, "n", 1);
    dc_mp_pack_str(pk, "", 0);
    msgpack_pack_bin(pk, 2);
    msgpack_pack_bin_body(pk, inner, 2);
    msgpack_pack_nil(pk);
    msgpack_pack_uint64(pk, 0);
}
static void c_bad_status(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 6);
    msgpack_pack_uint64(pk, DC_REC_REQUEST);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_uint64(pk, 4);
    dc_mp_pack_str(pk, "", 0);
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_uint64(pk, 0);
}
static void c_not_array(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}

static int s_decode(const msgpack_sbuffer *buf, seen_t *seen, char *err)
{
    memset(seen, 0, sizeof *seen);
    err[0] = 0;
    return dc_record_decode(buf->data, buf->size, s_collect, seen, err);
}

static void test_refused(void)
{
    struct {
        void (*fn)(msgpack_packer *pk);
        const char *says;
    } bad[] = {
        {c_unknown_kind, "unknown change kind"},
        {c_short, "needs"},
        {c_wrong_type, "lease_id"},
        {c_zero_ttl, "TTL"},
        {c_bad_reason, "reason"},
        {c_empty_name, "name"},
        {c_bad_metadata, "metadata"},
        {c_bad_capabilities, "capabilities"},
        {c_bad_status, "status"},
        {c_not_array, "array"},
    };
    msgpack_sbuffer buf;
    seen_t seen;
    char err[DC_ERR_LEN];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_raw(&buf, DC_RECORD_VERSION, bad[i].fn);
        CHECK(s_decode(&buf, &seen, err) == -1);
        CHECK(seen.count == 0); /* nothing of a bad record is applied */
        if (!strstr(err, bad[i].says))
            fprintf(stderr, "case %zu said: %s\n", i, err);
        CHECK(strstr(err, bad[i].says) != NULL);
        msgpack_sbuffer_destroy(&buf);
    }
    /* A good record, and one with fields from a newer minor format. */
    s_raw(&buf, DC_RECORD_VERSION, c_epoch);
    CHECK(s_decode(&buf, &seen, err) == 0 && seen.count == 2 && seen.seen[1].value == 2);
    msgpack_sbuffer_destroy(&buf);
    s_raw(&buf, DC_RECORD_VERSION, c_epoch_extra);
    CHECK(s_decode(&buf, &seen, err) == 0 && seen.count == 2);
    msgpack_sbuffer_destroy(&buf);
    /* Another version: refused with a message naming both. */
    s_raw(&buf, DC_RECORD_VERSION + 1, c_epoch);
    CHECK(s_decode(&buf, &seen, err) == -1 && seen.count == 0 && strstr(err, "version"));
    /* Every truncation of a good record is refused. */
    msgpack_sbuffer_destroy(&buf);
    s_raw(&buf, DC_RECORD_VERSION, c_bad_metadata);
    msgpack_sbuffer good;
    s_raw(&good, DC_RECORD_VERSION, c_epoch);
    int refused = 0;
    for (size_t len = 0; len < good.size; len++) {
        memset(&seen, 0, sizeof seen);
        refused += dc_record_decode(good.data, len, s_collect, &seen, err) == -1 && seen.count == 0;
    }
    CHECK(refused == (int)good.size);
    msgpack_sbuffer_destroy(&good);
    msgpack_sbuffer_destroy(&buf);
}

static void c_remove_v1(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, DC_REC_TOPIC_REMOVE);
    msgpack_pack_str_with_body(pk, "/old", 4);
    msgpack_pack_uint64(pk, DC_REASON_UNREGISTERED);
}

static void c_remove_bad_node(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint64(pk, DC_REC_TOPIC_REMOVE);
    msgpack_pack_str_with_body(pk, "/old", 4);
    msgpack_pack_uint64(pk, DC_REASON_UNREGISTERED);
    msgpack_pack_uint64(pk, 7);
}

/* Version 2: a topic removal names its registration's node (an empty name
 * too); version 1 records, whose removals have no node, are still read. */
static void test_remove_node(void)
{
    dc_rec_t recs[2] = {
        {.kind = DC_REC_TOPIC_REMOVE,
         .topic = {.name = dc_str_from("/det"), .publisher_node = dc_str_from("cam2")},
         .reason = DC_REASON_EXPIRED},
        {.kind = DC_REC_TOPIC_REMOVE,
         .topic = {.name = dc_str_from("/det"), .publisher_node = dc_str_from("")},
         .reason = DC_REASON_UNREGISTERED}};
    msgpack_sbuffer buf;
    s_pack(&buf, recs, 2);
    seen_t seen = {0};
    char err[DC_ERR_LEN] = "";
    CHECK(dc_record_decode(buf.data, buf.size, s_collect, &seen, err) == 0 && seen.count == 2);
    CHECK(seen.seen[0].topic.publisher_node.len == 4 && seen.seen[0].reason == DC_REASON_EXPIRED);
    CHECK(seen.seen[1].topic.publisher_node.ptr != NULL &&
          seen.seen[1].topic.publisher_node.len == 0);
    msgpack_sbuffer_destroy(&buf);
    /* A version 1 record. */
    s_raw(&buf, 1, c_remove_v1);
    memset(&seen, 0, sizeof seen);
    CHECK(dc_record_decode(buf.data, buf.size, s_collect, &seen, err) == 0 && seen.count == 2);
    CHECK(seen.seen[1].kind == DC_REC_TOPIC_REMOVE && seen.seen[1].topic.publisher_node.ptr == NULL);
    msgpack_sbuffer_destroy(&buf);
    /* Version 0 is not a version; a node that is not a string is refused. */
    s_raw(&buf, 0, c_remove_v1);
    memset(&seen, 0, sizeof seen);
    CHECK(dc_record_decode(buf.data, buf.size, s_collect, &seen, err) == -1 && seen.count == 0);
    msgpack_sbuffer_destroy(&buf);
    s_raw(&buf, DC_RECORD_VERSION, c_remove_bad_node);
    CHECK(dc_record_decode(buf.data, buf.size, s_collect, &seen, err) == -1 && strstr(err, "node"));
    msgpack_sbuffer_destroy(&buf);
}

static void c_sub_remove_unnamed(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint64(pk, DC_REC_SUB_REMOVE);
    dc_mp_pack_str(pk, "/scan", 5);
    msgpack_pack_uint64(pk, DC_REASON_EXPIRED);
    dc_mp_pack_str(pk, "", 0); /* a subscription is always some node's */
}

/* Subscriptions (version 3): both kinds round-trip with every field, a
 * subscription has no address, a removal names its node; records of
 * versions 1 and 2 are still read. */
static void test_subscriptions(void)
{
    dc_rec_t recs[2] = {
        {.kind = DC_REC_SUB_PUT,
         .topic = {dc_str_from("/scan"), dc_str_from(""), dc_str_from("LaserScan"),
                   dc_str_from("mapper"), 99},
         .create_seq = 12,
         .lease_id = 4,
         .at_ms = 777,
         .metadata = (const uint8_t *)s_meta.data,
         .metadata_size = s_meta.size,
         .value = 2,
         .owner = dc_str_from("")},
        {.kind = DC_REC_SUB_REMOVE,
         .topic = {.name = dc_str_from("/scan"), .publisher_node = dc_str_from("mapper")},
         .reason = DC_REASON_EXPIRED}};
    msgpack_sbuffer buf;
    s_pack(&buf, recs, 2);
    seen_t seen = {0};
    char err[DC_ERR_LEN] = "";
    CHECK(dc_record_decode(buf.data, buf.size, s_collect, &seen, err) == 0 && seen.count == 2);
    const dc_rec_t *put = &seen.seen[0], *rm = &seen.seen[1];
    CHECK(put->kind == DC_REC_SUB_PUT && !strcmp(seen.names[0], "/scan"));
    CHECK(put->topic.address.len == 0 && put->topic.fingerprint == 99 &&
          put->topic.message_type.len == 9 && put->topic.publisher_node.len == 6);
    CHECK(put->create_seq == 12 && put->lease_id == 4 && put->at_ms == 777 && put->value == 2 &&
          put->metadata_size == s_meta.size);
    CHECK(rm->kind == DC_REC_SUB_REMOVE && rm->reason == DC_REASON_EXPIRED &&
          rm->topic.publisher_node.len == 6);
    msgpack_sbuffer_destroy(&buf);
    s_raw(&buf, DC_RECORD_VERSION, c_sub_remove_unnamed);
    memset(&seen, 0, sizeof seen);
    CHECK(dc_record_decode(buf.data, buf.size, s_collect, &seen, err) == -1 && seen.count == 0 &&
          strstr(err, "node"));
    msgpack_sbuffer_destroy(&buf);
    CHECK(DC_RECORD_VERSION == 3);
    for (uint64_t v = 1; v < 3; v++) {
        s_raw(&buf, v, c_epoch);
        memset(&seen, 0, sizeof seen);
        CHECK(dc_record_decode(buf.data, buf.size, s_collect, &seen, err) == 0 && seen.count == 2);
        msgpack_sbuffer_destroy(&buf);
    }
}

/* The callback's own failure stops the walk and is returned. */
static int s_fail_second(void *arg, const dc_rec_t *c)
{
    (void)c;
    return ++*(int *)arg == 2 ? 5 : 0;
}

static void test_callback_stops(void)
{
    msgpack_sbuffer buf;
    s_raw(&buf, DC_RECORD_VERSION, c_epoch);
    int calls = 0;
    char err[DC_ERR_LEN];
    CHECK(dc_record_decode(buf.data, buf.size, s_fail_second, &calls, err) == 5 && calls == 2);
    msgpack_sbuffer_destroy(&buf);
}

/* Random bytes and random mutations of a good record never crash. */
static void test_garbage(void)
{
    dc_rec_t rec = {.kind = DC_REC_TOPIC_PUT,
                    .topic = {dc_str_from("/a"), dc_str_from("ipc:///a"), dc_str_from("T"),
                              dc_str_from("n"), 1},
                    .metadata = (const uint8_t *)s_meta.data,
                    .metadata_size = s_meta.size};
    msgpack_sbuffer good;
    s_pack(&good, &rec, 1);
    unsigned seed = 7;
    char *copy = malloc(good.size);
    seen_t seen;
    char err[DC_ERR_LEN];
    int accepted = 0;
    for (int i = 0; i < 20000; i++) {
        memcpy(copy, good.data, good.size);
        int flips = 1 + rand_r(&seed) % 3;
        for (int f = 0; f < flips; f++)
            copy[rand_r(&seed) % good.size] = (char)rand_r(&seed);
        memset(&seen, 0, sizeof seen);
        int rc = dc_record_decode(copy, good.size, s_collect, &seen, err);
        accepted += rc == 0;
        if (rc != 0 && seen.count != 0)
            CHECK(!"a refused record reached the callback");
    }
    CHECK(accepted < 20000); /* most mutations are refused */
    free(copy);
    msgpack_sbuffer_destroy(&good);
}

int main(void)
{
    test_round_trip();
    test_subscriptions();
    test_refused();
    test_remove_node();
    test_callback_stops();
    test_garbage();
    msgpack_sbuffer_destroy(&s_meta);
    msgpack_sbuffer_destroy(&s_caps);
    DC_TEST_END();
}
