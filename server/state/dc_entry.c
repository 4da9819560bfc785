/* dc_entry.c: reference-counted registrations and subscriptions (see the .h). */
#include "dc_entry.h"

#include <stdlib.h>
#include <string.h>

static char *s_place(char *cursor, dc_str_t *dst, dc_str_t src)
{
    memcpy(cursor, src.ptr, src.len);
    cursor[src.len] = 0;
    dst->ptr = cursor;
    dst->len = src.len;
    return cursor + src.len + 1;
}

dc_entry_t *dc_entry_new(const dc_topic_t *t, uint64_t create_seq, uint64_t lease_id,
                         const void *metadata, size_t metadata_size)
{
    msgpack_sbuffer blob;
    msgpack_sbuffer_init(&blob);
    if (dc_topic_encode(t, &blob) != 0) {
        msgpack_sbuffer_destroy(&blob);
        return NULL;
    }
    /* One allocation: the struct, four strings, the blob, the metadata. */
    size_t strings = (size_t)t->name.len + t->address.len + t->message_type.len +
                     t->publisher_node.len + 4;
    size_t meta = metadata ? metadata_size : 0;
    dc_entry_t *e = malloc(sizeof *e + strings + blob.size + meta);
    if (!e) {
        msgpack_sbuffer_destroy(&blob);
        return NULL;
    }
    memset(e, 0, sizeof *e);
    atomic_init(&e->refs, 1);
    char *cursor = (char *)(e + 1);
    cursor = s_place(cursor, &e->topic.name, t->name);
    cursor = s_place(cursor, &e->topic.address, t->address);
    cursor = s_place(cursor, &e->topic.message_type, t->message_type);
    cursor = s_place(cursor, &e->topic.publisher_node, t->publisher_node);
    e->topic.fingerprint = t->fingerprint;
    memcpy(cursor, blob.data, blob.size);
    e->blob.data = (const uint8_t *)cursor;
    e->blob.size = blob.size;
    cursor += blob.size;
    if (meta) {
        memcpy(cursor, metadata, meta);
        e->metadata.data = (const uint8_t *)cursor;
        e->metadata.size = meta;
    }
    e->create_seq = create_seq;
    e->lease_id = lease_id;
    msgpack_sbuffer_destroy(&blob);
    return e;
}

dc_entry_t *dc_entry_copy(const dc_entry_t *e)
{
    dc_entry_t *c = dc_entry_new(&e->topic, e->create_seq, e->lease_id, e->metadata.data,
                                 e->metadata.size);
    if (c) {
        c->registered_at_ms = e->registered_at_ms;
        c->origin = e->origin;
        memcpy(c->owner, e->owner, sizeof c->owner);
    }
    return c;
}

void dc_entry_pack_publishers(dc_entry_t *const *entries, size_t count, uint64_t here,
                              msgpack_packer *pk)
{
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < count; i++) {
        const dc_entry_t *e = entries[i];
        bool stale = here && e->origin && e->origin != here;
        msgpack_pack_map(pk, 3 + !!e->metadata.data + stale);
        if (stale) {
            dc_mp_pack_str(pk, "stale", 5);
            msgpack_pack_true(pk);
        }
        dc_mp_pack_str(pk, "topic_info", 10);
        msgpack_pack_bin(pk, e->blob.size);
        msgpack_pack_bin_body(pk, e->blob.data, e->blob.size);
        dc_mp_pack_str(pk, "lease_id", 8);
        msgpack_pack_uint64(pk, e->lease_id);
        dc_mp_pack_str(pk, "registered_at_ms", 16);
        msgpack_pack_uint64(pk, e->registered_at_ms);
        if (e->metadata.data) {
            dc_mp_pack_str(pk, "metadata", 8);
            /* pre-encoded map: appended as it is */
            pk->callback(pk->data, (const char *)e->metadata.data, e->metadata.size);
        }
    }
}

uint32_t dc_entry_pair_count(unsigned fields)
{
    return !!(fields & DC_ENTRY_TOPIC) + !!(fields & DC_ENTRY_NODE) +
           !!(fields & DC_ENTRY_ADDRESS) + 2 * !!(fields & DC_ENTRY_TYPE);
}

static void s_pair(msgpack_packer *pk, const char *key, dc_str_t value)
{
    dc_mp_pack_str(pk, key, (size_t)-1);
    dc_mp_pack_str(pk, value.ptr, value.len);
}

void dc_entry_pack_pairs(const dc_entry_t *e, unsigned fields, msgpack_packer *pk)
{
    if (fields & DC_ENTRY_TOPIC)
        s_pair(pk, "topic", e->topic.name);
    if (fields & DC_ENTRY_NODE)
        s_pair(pk, "node", e->topic.publisher_node);
    if (fields & DC_ENTRY_ADDRESS)
        s_pair(pk, "address", e->topic.address);
    if (fields & DC_ENTRY_TYPE) {
        s_pair(pk, "message_type", e->topic.message_type);
        dc_mp_pack_str(pk, "fingerprint", 11);
        msgpack_pack_uint64(pk, e->topic.fingerprint);
    }
}

dc_entry_t *dc_entry_ref(dc_entry_t *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    return e;
}

void dc_entry_unref(dc_entry_t **e_p)
{
    if (!e_p || !*e_p)
        return;
    dc_entry_t *e = *e_p;
    *e_p = NULL;
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        free(e);
}
