/* dc_topic.c: the five-key TopicInfo blob (see the .h). */
#include "dc_topic.h"
#include "dc_protocol.h"

#include <stdio.h>

int dc_topic_from_object(dc_topic_t *t, const msgpack_object *map, char *err)
{
    if (map->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, DC_ERR_LEN, "Invalid topic_info: expected a map");
        return -1;
    }
    enum { HAVE_NAME = 1, HAVE_ADDRESS = 2, HAVE_TYPE = 4, HAVE_FP = 8, HAVE_NODE = 16 };
    int have = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        const msgpack_object *v = &map->via.map.ptr[i].val;
        int rc = 0;
        if (dc_mp_key_is(k, "name")) {
            rc = dc_mp_get_str(v, &t->name, DC_MAX_NAME_LEN, false, "topic_info.name", err);
            have |= HAVE_NAME;
        } else if (dc_mp_key_is(k, "address")) {
            rc = dc_mp_get_str(v, &t->address, DC_MAX_ADDRESS_LEN, false, "topic_info.address",
                               err);
            have |= HAVE_ADDRESS;
        } else if (dc_mp_key_is(k, "message_type")) {
            rc = dc_mp_get_str(v, &t->message_type, DC_MAX_TYPE_LEN, true,
                               "topic_info.message_type", err);
            have |= HAVE_TYPE;
        } else if (dc_mp_key_is(k, "fingerprint")) {
            rc = dc_mp_get_uint(v, &t->fingerprint, "topic_info.fingerprint", err);
            have |= HAVE_FP;
        } else if (dc_mp_key_is(k, "publisher_node")) {
            rc = dc_mp_get_str(v, &t->publisher_node, DC_MAX_NODE_LEN, true,
                               "topic_info.publisher_node", err);
            have |= HAVE_NODE;
        }
        if (rc != 0)
            return -1;
    }
    static const struct {
        int bit;
        const char *key;
    } required[] = {{HAVE_NAME, "name"},
                    {HAVE_ADDRESS, "address"},
                    {HAVE_TYPE, "message_type"},
                    {HAVE_FP, "fingerprint"},
                    {HAVE_NODE, "publisher_node"}};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        if (!(have & required[i].bit)) {
            snprintf(err, DC_ERR_LEN, "Invalid topic_info: missing %s", required[i].key);
            return -1;
        }
    }
    return 0;
}

int dc_topic_decode(dc_topic_t *t, msgpack_unpacked *storage, const void *blob, size_t size,
                    char *err)
{
    char why[DC_ERR_LEN];
    if (dc_mp_unpack(storage, blob, size, why) != 0) {
        snprintf(err, DC_ERR_LEN, "Invalid topic_info blob (%.100s)", why);
        return -1;
    }
    if (dc_topic_from_object(t, &storage->data, err) != 0) {
        msgpack_unpacked_destroy(storage);
        return -1;
    }
    return 0;
}

int dc_topic_encode(const dc_topic_t *t, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = 0;
    rc |= msgpack_pack_map(&pk, 5);
    dc_mp_pack_str(&pk, "name", 4);
    dc_mp_pack_str(&pk, t->name.ptr, t->name.len);
    dc_mp_pack_str(&pk, "address", 7);
    dc_mp_pack_str(&pk, t->address.ptr, t->address.len);
    dc_mp_pack_str(&pk, "message_type", 12);
    dc_mp_pack_str(&pk, t->message_type.ptr, t->message_type.len);
    dc_mp_pack_str(&pk, "fingerprint", 11);
    rc |= msgpack_pack_uint64(&pk, t->fingerprint);
    dc_mp_pack_str(&pk, "publisher_node", 14);
    dc_mp_pack_str(&pk, t->publisher_node.ptr, t->publisher_node.len);
    return rc == 0 ? 0 : -1;
}
