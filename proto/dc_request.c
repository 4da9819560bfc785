/* dc_request.c: request decode/encode (see the .h). */
#include "dc_request.h"
#include "dc_protocol.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DC_MAX_CAPABILITIES 64
#define DC_MAX_CAPABILITY_LEN 128
#define DC_MAX_DESCRIPTION_LEN 1024

int dc_metadata_check(const msgpack_object *o, char *err)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, DC_ERR_LEN, "Invalid metadata: expected a map of str to str");
        return -1;
    }
    if (o->via.map.size > DC_MAX_METADATA_ENTRIES) {
        snprintf(err, DC_ERR_LEN, "Invalid metadata: more than %d entries",
                 DC_MAX_METADATA_ENTRIES);
        return -1;
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        dc_str_t ignored;
        if (dc_mp_get_str(&o->via.map.ptr[i].key, &ignored, DC_MAX_METADATA_KEY_LEN, false,
                          "metadata key", err) != 0 ||
            dc_mp_get_str(&o->via.map.ptr[i].val, &ignored, DC_MAX_METADATA_VALUE_LEN, true,
                          "metadata value", err) != 0)
            return -1;
    }
    return 0;
}

static int s_node_check(const msgpack_object *o, char *err)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, DC_ERR_LEN, "Invalid node: expected a map");
        return -1;
    }
    bool have_name = false;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        dc_str_t s;
        if (dc_mp_key_is(k, "name")) {
            if (dc_mp_get_str(v, &s, DC_MAX_NODE_LEN, false, "node.name", err) != 0)
                return -1;
            have_name = true;
        } else if (dc_mp_key_is(k, "description")) {
            if (dc_mp_get_str(v, &s, DC_MAX_DESCRIPTION_LEN, true, "node.description", err) != 0)
                return -1;
        } else if (dc_mp_key_is(k, "capabilities")) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > DC_MAX_CAPABILITIES) {
                snprintf(err, DC_ERR_LEN,
                         "Invalid node.capabilities: expected an array of at most %d str",
                         DC_MAX_CAPABILITIES);
                return -1;
            }
            for (uint32_t j = 0; j < v->via.array.size; j++)
                if (dc_mp_get_str(&v->via.array.ptr[j], &s, DC_MAX_CAPABILITY_LEN, false,
                                  "node.capabilities item", err) != 0)
                    return -1;
        } else if (dc_mp_key_is(k, "metadata")) {
            if (dc_metadata_check(v, err) != 0)
                return -1;
        }
    }
    if (!have_name) {
        snprintf(err, DC_ERR_LEN, "Invalid node: missing name");
        return -1;
    }
    return 0;
}

static int s_filter_decode(dc_request_t *r, const msgpack_object *o, char *err)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, DC_ERR_LEN, "Invalid filter: expected a map");
        return -1;
    }
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        int rc = 0;
        if (dc_mp_key_is(k, "prefix"))
            rc = dc_mp_get_str(v, &r->filter_prefix, DC_MAX_NAME_LEN, true, "filter.prefix", err);
        else if (dc_mp_key_is(k, "message_type"))
            rc = dc_mp_get_str(v, &r->filter_message_type, DC_MAX_TYPE_LEN, true,
                               "filter.message_type", err);
        else if (dc_mp_key_is(k, "publisher_node"))
            rc = dc_mp_get_str(v, &r->filter_publisher_node, DC_MAX_NODE_LEN, true,
                               "filter.publisher_node", err);
        else if (dc_mp_key_is(k, "metadata")) {
            rc = dc_metadata_check(v, err);
            r->filter_metadata = v;
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* One outer key. Returns 0, or -1 with err. */
static int s_decode_key(dc_request_t *r, const msgpack_object *k, const msgpack_object *v,
                        bool *have_command, char *err)
{
    if (dc_mp_key_is(k, "command")) {
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
            r->command = (int64_t)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            r->command = v->via.i64;
        else {
            snprintf(err, DC_ERR_LEN, "Invalid command: expected an integer");
            return -1;
        }
        *have_command = true;
        return 0;
    }
    if (dc_mp_key_is(k, "v")) {
        uint64_t version;
        if (dc_mp_get_uint(v, &version, "v", err) != 0)
            return -1;
        r->version = version >= 2 ? 2 : 1;
        return 0;
    }
    /* nil stands for "absent" where the Python client sends None. */
    if (v->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (dc_mp_key_is(k, "topic_name")) {
        r->present |= DC_REQ_TOPIC_NAME;
        return dc_mp_get_str(v, &r->topic_name, DC_MAX_NAME_LEN, true, "topic_name", err);
    }
    if (dc_mp_key_is(k, "topic_info")) {
        if (v->type != MSGPACK_OBJECT_BIN) {
            snprintf(err, DC_ERR_LEN, "Invalid topic_info: expected bin (a packed TopicInfo)");
            return -1;
        }
        if (dc_topic_decode(&r->topic, &r->inner_, v->via.bin.ptr, v->via.bin.size, err) != 0)
            return -1;
        r->inner_used_ = 1;
        r->present |= DC_REQ_TOPIC_INFO;
        return 0;
    }
    static const struct {
        const char *key;
        uint32_t bit;
        size_t offset;
    } uints[] = {
        {"request_id", DC_REQ_REQUEST_ID, offsetof(dc_request_t, request_id)},
        {"lease_id", DC_REQ_LEASE_ID, offsetof(dc_request_t, lease_id)},
        {"lease_ttl_ms", DC_REQ_LEASE_TTL, offsetof(dc_request_t, lease_ttl_ms)},
        {"timeout_ms", DC_REQ_TIMEOUT, offsetof(dc_request_t, timeout_ms)},
        {"member_id", DC_REQ_MEMBER_ID, offsetof(dc_request_t, member_id)},
        {"fingerprint", DC_REQ_FINGERPRINT, offsetof(dc_request_t, fingerprint)},
    };
    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
        if (dc_mp_key_is(k, uints[i].key)) {
            r->present |= uints[i].bit;
            return dc_mp_get_uint(v, (uint64_t *)((char *)r + uints[i].offset), uints[i].key,
                                  err);
        }
    }
    if (dc_mp_key_is(k, "filter")) {
        r->present |= DC_REQ_FILTER;
        return s_filter_decode(r, v, err);
    }
    if (dc_mp_key_is(k, "capability")) {
        r->present |= DC_REQ_CAPABILITY;
        return dc_mp_get_str(v, &r->capability, 128, true, "capability", err);
    }
    if (dc_mp_key_is(k, "member_address")) {
        r->present |= DC_REQ_MEMBER_ADDRESS;
        return dc_mp_get_str(v, &r->member_address, 200, false, "member_address", err);
    }
    if (dc_mp_key_is(k, "message_type")) {
        r->present |= DC_REQ_MESSAGE_TYPE;
        return dc_mp_get_str(v, &r->message_type, DC_MAX_TYPE_LEN, true, "message_type", err);
    }
    if (dc_mp_key_is(k, "node_name")) {
        r->present |= DC_REQ_NODE_NAME;
        return dc_mp_get_str(v, &r->node_name, DC_MAX_NODE_LEN, false, "node_name", err);
    }
    if (dc_mp_key_is(k, "metadata")) {
        if (dc_metadata_check(v, err) != 0)
            return -1;
        r->present |= DC_REQ_METADATA;
        r->metadata = v;
        return 0;
    }
    if (dc_mp_key_is(k, "node")) {
        if (s_node_check(v, err) != 0)
            return -1;
        r->present |= DC_REQ_NODE;
        r->node = v;
        return 0;
    }
    return 0; /* unknown keys are ignored */
}

int dc_request_decode(dc_request_t *r, const void *data, size_t size, char *err)
{
    memset(r, 0, sizeof *r);
    r->version = 1;
    if (dc_mp_unpack(&r->outer_, data, size, err) != 0)
        return -1;
    const msgpack_object *map = &r->outer_.data;
    if (map->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, DC_ERR_LEN, "Failed to parse request: body is not a msgpack map");
        dc_request_release(r);
        return -1;
    }
    bool have_command = false;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR) {
            snprintf(err, DC_ERR_LEN, "Failed to parse request: map keys must be str");
            dc_request_release(r);
            return -1;
        }
        /* A repeated topic_info would leak the first decode: refuse it. */
        if (r->inner_used_ && dc_mp_key_is(k, "topic_info")) {
            snprintf(err, DC_ERR_LEN, "Failed to parse request: repeated topic_info");
            dc_request_release(r);
            return -1;
        }
        if (s_decode_key(r, k, &map->via.map.ptr[i].val, &have_command, err) != 0) {
            dc_request_release(r);
            return -1;
        }
    }
    if (!have_command) {
        snprintf(err, DC_ERR_LEN, "Failed to parse request: missing command");
        dc_request_release(r);
        return -1;
    }
    return 0;
}

void dc_request_release(dc_request_t *r)
{
    if (r->inner_used_)
        msgpack_unpacked_destroy(&r->inner_);
    r->inner_used_ = 0;
    msgpack_unpacked_destroy(&r->outer_);
}

void dc_request_init(dc_request_t *r, int64_t command)
{
    memset(r, 0, sizeof *r);
    r->command = command;
    r->version = 1;
}

int dc_request_encode(const dc_request_t *r, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    uint32_t n = 2;
    n += !!(r->present & DC_REQ_TOPIC_INFO);
    if (r->version >= 2) {
        n += 1;
        n += !!(r->present & DC_REQ_REQUEST_ID) + !!(r->present & DC_REQ_LEASE_ID) +
             !!(r->present & DC_REQ_LEASE_TTL) + !!(r->present & DC_REQ_TIMEOUT) +
             !!(r->present & DC_REQ_FILTER) + !!(r->present & DC_REQ_CAPABILITY) +
             !!(r->present & DC_REQ_NODE_NAME) + !!((r->present & DC_REQ_METADATA) && r->metadata) +
             !!((r->present & DC_REQ_NODE) && r->node) + !!(r->present & DC_REQ_MEMBER_ID) +
             !!(r->present & DC_REQ_MEMBER_ADDRESS) + !!(r->present & DC_REQ_MESSAGE_TYPE) +
             !!(r->present & DC_REQ_FINGERPRINT);
    }
    int rc = msgpack_pack_map(&pk, n);
    dc_mp_pack_str(&pk, "command", 7);
    rc |= msgpack_pack_int64(&pk, r->command);
    dc_mp_pack_str(&pk, "topic_name", 10);
    if (r->present & DC_REQ_TOPIC_NAME)
        dc_mp_pack_str(&pk, r->topic_name.ptr, r->topic_name.len);
    else
        rc |= msgpack_pack_nil(&pk);
    if (r->present & DC_REQ_TOPIC_INFO) {
        msgpack_sbuffer blob;
        msgpack_sbuffer_init(&blob);
        rc |= dc_topic_encode(&r->topic, &blob);
        dc_mp_pack_str(&pk, "topic_info", 10);
        rc |= msgpack_pack_bin(&pk, blob.size);
        rc |= msgpack_pack_bin_body(&pk, blob.data, blob.size);
        msgpack_sbuffer_destroy(&blob);
    }
    if (r->version >= 2) {
        dc_mp_pack_str(&pk, "v", 1);
        rc |= msgpack_pack_uint64(&pk, 2);
        const struct {
            uint32_t bit;
            const char *key;
            uint64_t value;
        } uints[] = {{DC_REQ_REQUEST_ID, "request_id", r->request_id},
                     {DC_REQ_LEASE_ID, "lease_id", r->lease_id},
                     {DC_REQ_LEASE_TTL, "lease_ttl_ms", r->lease_ttl_ms},
                     {DC_REQ_TIMEOUT, "timeout_ms", r->timeout_ms},
                     {DC_REQ_MEMBER_ID, "member_id", r->member_id},
                     {DC_REQ_FINGERPRINT, "fingerprint", r->fingerprint}};
        for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
            if (r->present & uints[i].bit) {
                dc_mp_pack_str(&pk, uints[i].key, (size_t)-1);
                rc |= msgpack_pack_uint64(&pk, uints[i].value);
            }
        }
        if (r->present & DC_REQ_FILTER) {
            int fields = !!r->filter_prefix.ptr + !!r->filter_message_type.ptr +
                         !!r->filter_publisher_node.ptr + !!r->filter_metadata;
            dc_mp_pack_str(&pk, "filter", 6);
            rc |= msgpack_pack_map(&pk, fields);
            if (r->filter_prefix.ptr) {
                dc_mp_pack_str(&pk, "prefix", 6);
                dc_mp_pack_str(&pk, r->filter_prefix.ptr, r->filter_prefix.len);
            }
            if (r->filter_message_type.ptr) {
                dc_mp_pack_str(&pk, "message_type", 12);
                dc_mp_pack_str(&pk, r->filter_message_type.ptr, r->filter_message_type.len);
            }
            if (r->filter_publisher_node.ptr) {
                dc_mp_pack_str(&pk, "publisher_node", 14);
                dc_mp_pack_str(&pk, r->filter_publisher_node.ptr, r->filter_publisher_node.len);
            }
            if (r->filter_metadata) {
                dc_mp_pack_str(&pk, "metadata", 8);
                rc |= msgpack_pack_object(&pk, *r->filter_metadata);
            }
        }
        if (r->present & DC_REQ_CAPABILITY) {
            dc_mp_pack_str(&pk, "capability", 10);
            dc_mp_pack_str(&pk, r->capability.ptr, r->capability.len);
        }
        if (r->present & DC_REQ_MEMBER_ADDRESS) {
            dc_mp_pack_str(&pk, "member_address", 14);
            dc_mp_pack_str(&pk, r->member_address.ptr, r->member_address.len);
        }
        if (r->present & DC_REQ_MESSAGE_TYPE) {
            dc_mp_pack_str(&pk, "message_type", 12);
            dc_mp_pack_str(&pk, r->message_type.ptr, r->message_type.len);
        }
        if (r->present & DC_REQ_NODE_NAME) {
            dc_mp_pack_str(&pk, "node_name", 9);
            dc_mp_pack_str(&pk, r->node_name.ptr, r->node_name.len);
        }
        if ((r->present & DC_REQ_METADATA) && r->metadata) {
            dc_mp_pack_str(&pk, "metadata", 8);
            rc |= msgpack_pack_object(&pk, *r->metadata);
        }
        if ((r->present & DC_REQ_NODE) && r->node) {
            dc_mp_pack_str(&pk, "node", 4);
            rc |= msgpack_pack_object(&pk, *r->node);
        }
    }
    return rc == 0 ? 0 : -1;
}

uint64_t dc_request_id_start(void)
{
    uint64_t v = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &v, sizeof v) != (ssize_t)sizeof v)
            v = 0;
        close(fd);
    }
    if (v == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        v = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 16);
    }
    return v | 1;
}
