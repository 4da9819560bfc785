/* dc_reply.c: reply encode/decode (see the .h). */
#include "dc_reply.h"
#include "dc_protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dc_reply_encode(const dc_reply_t *r, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    bool v2 = r->version >= 2;
    uint32_t n = 2 + !!r->topic_info.data + (r->topic_count > 0);
    if (v2)
        n += 2 + (r->member_id ? 2 : 0) + (r->has_lease ? 2 : 0) + !!r->stats + !!r->reason +
             (r->topic_metadata && r->topic_count > 0) + !!r->metadata.data + !!r->nodes.data +
             !!r->members.data + !!r->publishers.data + !!r->mismatch.data +
             (r->extra.data ? r->extra_pairs : 0) + r->provisional + (r->isolated ? 2 : 0);
    int rc = msgpack_pack_map(&pk, n);
    dc_mp_pack_str(&pk, "status", 6);
    rc |= msgpack_pack_int(&pk, r->status);
    dc_mp_pack_str(&pk, "message", 7);
    dc_mp_pack_str(&pk, r->message ? r->message : "", (size_t)-1);
    if (r->topic_info.data) {
        dc_mp_pack_str(&pk, "topic_info", 10);
        rc |= msgpack_pack_bin(&pk, r->topic_info.size);
        rc |= msgpack_pack_bin_body(&pk, r->topic_info.data, r->topic_info.size);
    }
    if (r->topic_count > 0) {
        dc_mp_pack_str(&pk, "topics", 6);
        rc |= msgpack_pack_array(&pk, r->topic_count);
        for (size_t i = 0; i < r->topic_count; i++) {
            rc |= msgpack_pack_bin(&pk, r->topics[i].size);
            rc |= msgpack_pack_bin_body(&pk, r->topics[i].data, r->topics[i].size);
        }
    }
    if (v2) {
        dc_mp_pack_str(&pk, "v", 1);
        rc |= msgpack_pack_uint64(&pk, DC_PROTOCOL_VERSION);
        dc_mp_pack_str(&pk, "epoch", 5);
        rc |= msgpack_pack_uint64(&pk, r->epoch);
        if (r->member_id) {
            dc_mp_pack_str(&pk, "member", 6);
            rc |= msgpack_pack_uint64(&pk, r->member_id);
            dc_mp_pack_str(&pk, "term", 4);
            rc |= msgpack_pack_uint64(&pk, r->term);
        }
        if (r->has_lease) {
            dc_mp_pack_str(&pk, "lease_id", 8);
            rc |= msgpack_pack_uint64(&pk, r->lease_id);
            dc_mp_pack_str(&pk, "lease_ttl_ms", 12);
            rc |= msgpack_pack_uint64(&pk, r->lease_ttl_ms);
        }
        if (r->stats) {
            dc_mp_pack_str(&pk, "stats", 5);
            rc |= msgpack_pack_map(&pk, r->stat_count);
            for (size_t i = 0; i < r->stat_count; i++) {
                dc_mp_pack_str(&pk, r->stats[i].name, (size_t)-1);
                rc |= msgpack_pack_uint64(&pk, r->stats[i].value);
            }
        }
        if (r->reason) {
            dc_mp_pack_str(&pk, "reason", 6);
            dc_mp_pack_str(&pk, r->reason, (size_t)-1);
        }
        if (r->metadata.data) {
            /* Pre-encoded map: appended as raw msgpack. */
            dc_mp_pack_str(&pk, "metadata", 8);
            rc |= msgpack_sbuffer_write(out, (const char *)r->metadata.data, r->metadata.size);
        }
        if (r->nodes.data) {
            dc_mp_pack_str(&pk, "nodes", 5);
            rc |= msgpack_sbuffer_write(out, (const char *)r->nodes.data, r->nodes.size);
        }
        if (r->publishers.data) {
            dc_mp_pack_str(&pk, "publishers", 10);
            rc |= msgpack_sbuffer_write(out, (const char *)r->publishers.data, r->publishers.size);
        }
        if (r->mismatch.data) {
            dc_mp_pack_str(&pk, "mismatch", 8);
            rc |= msgpack_sbuffer_write(out, (const char *)r->mismatch.data, r->mismatch.size);
        }
        if (r->extra.data)
            rc |= msgpack_sbuffer_write(out, (const char *)r->extra.data, r->extra.size);
        if (r->provisional) {
            dc_mp_pack_str(&pk, "provisional", 11);
            rc |= msgpack_pack_true(&pk);
        }
        if (r->isolated) {
            dc_mp_pack_str(&pk, "isolated", 8);
            rc |= msgpack_pack_true(&pk);
            dc_mp_pack_str(&pk, "provisional_changes", 19);
            rc |= msgpack_pack_uint64(&pk, r->provisional_count);
        }
        if (r->members.data) {
            dc_mp_pack_str(&pk, "members", 7);
            rc |= msgpack_sbuffer_write(out, (const char *)r->members.data, r->members.size);
        }
        if (r->topic_metadata && r->topic_count > 0) {
            dc_mp_pack_str(&pk, "topic_metadata", 14);
            rc |= msgpack_pack_array(&pk, r->topic_count);
            for (size_t i = 0; i < r->topic_count; i++) {
                if (r->topic_metadata[i].data)
                    rc |= msgpack_sbuffer_write(out, (const char *)r->topic_metadata[i].data,
                                                r->topic_metadata[i].size);
                else
                    rc |= msgpack_pack_map(&pk, 0);
            }
        }
    }
    return rc == 0 ? 0 : -1;
}

int dc_reply_decode(dc_reply_view_t *v, const void *data, size_t size, char *err)
{
    memset(v, 0, sizeof *v);
    v->version = 1;
    v->bytes_ = malloc(size ? size : 1);
    if (!v->bytes_) {
        snprintf(err, DC_ERR_LEN, "out of memory for a %zu-byte reply", size);
        return -1;
    }
    if (size)
        memcpy(v->bytes_, data, size);
    if (dc_mp_unpack(&v->storage_, v->bytes_, size, err) != 0) {
        free(v->bytes_);
        v->bytes_ = NULL;
        return -1;
    }
    const msgpack_object *map = &v->storage_.data;
    if (map->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, DC_ERR_LEN, "reply is not a msgpack map");
        goto fail;
    }
    bool have_status = false;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        const msgpack_object *o = &map->via.map.ptr[i].val;
        if (dc_mp_key_is(k, "status")) {
            if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 < 1000)
                v->status = (int64_t)o->via.u64;
            else {
                snprintf(err, DC_ERR_LEN, "reply status is not a small integer");
                goto fail;
            }
            have_status = true;
        } else if (dc_mp_key_is(k, "message") && o->type == MSGPACK_OBJECT_STR) {
            v->message.ptr = o->via.str.ptr;
            v->message.len = o->via.str.size;
        } else if (dc_mp_key_is(k, "topic_info") && o->type == MSGPACK_OBJECT_BIN) {
            v->topic_info.data = (const uint8_t *)o->via.bin.ptr;
            v->topic_info.size = o->via.bin.size;
        } else if (dc_mp_key_is(k, "topics") && o->type == MSGPACK_OBJECT_ARRAY) {
            v->topics = o;
        } else if (dc_mp_key_is(k, "v") && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            v->version = o->via.u64 >= 2 ? 2 : 1;
        } else if (dc_mp_key_is(k, "epoch") && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            v->epoch = o->via.u64;
        } else if (dc_mp_key_is(k, "members") && o->type == MSGPACK_OBJECT_ARRAY) {
            v->members = o;
        } else if (dc_mp_key_is(k, "member") && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            v->member_id = o->via.u64;
        } else if (dc_mp_key_is(k, "term") && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            v->term = o->via.u64;
        } else if (dc_mp_key_is(k, "lease_id") && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            v->lease_id = o->via.u64;
            v->has_lease = true;
        } else if (dc_mp_key_is(k, "lease_ttl_ms") &&
                   o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            v->lease_ttl_ms = o->via.u64;
        } else if (dc_mp_key_is(k, "stats") && o->type == MSGPACK_OBJECT_MAP) {
            v->stats = o;
        } else if (dc_mp_key_is(k, "nodes") && o->type == MSGPACK_OBJECT_ARRAY) {
            v->nodes = o;
        } else if (dc_mp_key_is(k, "metadata") && o->type == MSGPACK_OBJECT_MAP) {
            v->metadata = o;
        } else if (dc_mp_key_is(k, "publishers") && o->type == MSGPACK_OBJECT_ARRAY) {
            v->publishers = o;
        } else if (dc_mp_key_is(k, "provisional") && o->type == MSGPACK_OBJECT_BOOLEAN) {
            v->provisional = o->via.boolean;
        } else if (dc_mp_key_is(k, "isolated") && o->type == MSGPACK_OBJECT_BOOLEAN) {
            v->isolated = o->via.boolean;
        } else if (dc_mp_key_is(k, "provisional_changes") &&
                   o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            v->provisional_count = o->via.u64;
        } else if (dc_mp_key_is(k, "mismatch") && o->type == MSGPACK_OBJECT_ARRAY) {
            v->mismatch = o;
        } else if (dc_mp_key_is(k, "subscriptions") && o->type == MSGPACK_OBJECT_ARRAY) {
            v->subscriptions = o;
        } else if (dc_mp_key_is(k, "lookups") && o->type == MSGPACK_OBJECT_ARRAY) {
            v->lookups = o;
        } else if (dc_mp_key_is(k, "mismatches") && o->type == MSGPACK_OBJECT_ARRAY) {
            v->mismatches = o;
        } else if (dc_mp_key_is(k, "topic_metadata") && o->type == MSGPACK_OBJECT_ARRAY) {
            v->topic_metadata = o;
        } else if (dc_mp_key_is(k, "reason") && o->type == MSGPACK_OBJECT_STR) {
            v->reason.ptr = o->via.str.ptr;
            v->reason.len = o->via.str.size;
        }
    }
    if (!have_status) {
        snprintf(err, DC_ERR_LEN, "reply has no status");
        goto fail;
    }
    return 0;
fail:
    dc_reply_view_release(v);
    return -1;
}

void dc_reply_view_release(dc_reply_view_t *v)
{
    msgpack_unpacked_destroy(&v->storage_);
    free(v->bytes_);
    v->bytes_ = NULL;
}
