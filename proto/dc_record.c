/* dc_record.c: the change record codec (see the .h). */
#include "dc_record.h"
#include "dc_protocol.h"

#include <stdio.h>
#include <string.h>

const char *dc_reason_name(dc_reason_t reason)
{
    switch (reason) {
    case DC_REASON_UNREGISTERED:
        return "unregistered";
    case DC_REASON_REVOKED:
        return "revoked";
    case DC_REASON_EXPIRED:
        return "expired";
    case DC_REASON_ENDPOINT_DEAD:
        return "endpoint-dead";
    case DC_REASON_LEGACY_TTL:
        return "legacy-ttl";
    case DC_REASON_NONE:
        break;
    }
    return "registered";
}

/*==== Encoding ====*/

void dc_record_begin(msgpack_packer *pk, size_t count)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint64(pk, DC_RECORD_VERSION);
    msgpack_pack_array(pk, count);
}

static void s_pack_str(msgpack_packer *pk, dc_str_t s)
{
    dc_mp_pack_str(pk, s.ptr ? s.ptr : "", s.ptr ? s.len : 0);
}

static void s_pack_bin(msgpack_packer *pk, const uint8_t *data, size_t size)
{
    if (!data) {
        msgpack_pack_nil(pk);
        return;
    }
    msgpack_pack_bin(pk, size);
    msgpack_pack_bin_body(pk, data, size);
}

void dc_record_pack(msgpack_packer *pk, const dc_rec_t *c)
{
    switch (c->kind) {
    case DC_REC_TOPIC_PUT:
    case DC_REC_SUB_PUT:
        msgpack_pack_array(pk, c->kind == DC_REC_TOPIC_PUT ? 12 : 11);
        msgpack_pack_uint64(pk, c->kind);
        s_pack_str(pk, c->topic.name);
        if (c->kind == DC_REC_TOPIC_PUT)
            s_pack_str(pk, c->topic.address);
        s_pack_str(pk, c->topic.message_type);
        msgpack_pack_uint64(pk, c->topic.fingerprint);
        s_pack_str(pk, c->topic.publisher_node);
        msgpack_pack_uint64(pk, c->create_seq);
        msgpack_pack_uint64(pk, c->lease_id);
        msgpack_pack_uint64(pk, c->at_ms);
        s_pack_bin(pk, c->metadata, c->metadata_size);
        msgpack_pack_uint64(pk, c->value);
        s_pack_str(pk, c->owner);
        return;
    case DC_REC_TOPIC_REMOVE:
    case DC_REC_SUB_REMOVE:
        msgpack_pack_array(pk, 4);
        msgpack_pack_uint64(pk, c->kind);
        s_pack_str(pk, c->topic.name);
        msgpack_pack_uint64(pk, c->reason);
        if (c->topic.publisher_node.ptr)
            s_pack_str(pk, c->topic.publisher_node);
        else
            msgpack_pack_nil(pk);
        return;
    case DC_REC_NODE_REMOVE:
        msgpack_pack_array(pk, 3);
        msgpack_pack_uint64(pk, c->kind);
        s_pack_str(pk, c->topic.name);
        msgpack_pack_uint64(pk, c->reason);
        return;
    case DC_REC_LEASE_GRANT:
        msgpack_pack_array(pk, c->left_ms ? 6 : 5);
        msgpack_pack_uint64(pk, c->kind);
        msgpack_pack_uint64(pk, c->lease_id);
        msgpack_pack_uint64(pk, c->ttl_ms);
        msgpack_pack_uint64(pk, c->at_ms);
        s_pack_str(pk, c->owner);
        if (c->left_ms) /* a merged island lease: what it had left */
            msgpack_pack_uint64(pk, c->left_ms);
        return;
    case DC_REC_LEASE_REMOVE:
        msgpack_pack_array(pk, 3);
        msgpack_pack_uint64(pk, c->kind);
        msgpack_pack_uint64(pk, c->lease_id);
        msgpack_pack_uint64(pk, c->reason);
        return;
    case DC_REC_NODE_PUT:
        msgpack_pack_array(pk, 7);
        msgpack_pack_uint64(pk, c->kind);
        s_pack_str(pk, c->topic.name);
        s_pack_str(pk, c->text);
        s_pack_bin(pk, c->capabilities, c->capabilities_size);
        s_pack_bin(pk, c->metadata, c->metadata_size);
        msgpack_pack_uint64(pk, c->lease_id);
        s_pack_str(pk, c->owner);
        return;
    case DC_REC_LEASE_RENEW:
        msgpack_pack_array(pk, 3);
        msgpack_pack_uint64(pk, c->kind);
        msgpack_pack_uint64(pk, c->lease_id);
        msgpack_pack_uint64(pk, c->at_ms);
        return;
    case DC_REC_EPOCH:
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, c->kind);
        msgpack_pack_uint64(pk, c->value);
        return;
    case DC_REC_REQUEST:
        msgpack_pack_array(pk, 6);
        msgpack_pack_uint64(pk, c->kind);
        msgpack_pack_uint64(pk, c->value);
        msgpack_pack_uint64(pk, (uint64_t)c->status);
        s_pack_str(pk, c->text);
        msgpack_pack_uint64(pk, c->lease_id);
        msgpack_pack_uint64(pk, c->ttl_ms);
        return;
    case DC_REC_SEQS:
        msgpack_pack_array(pk, 5);
        msgpack_pack_uint64(pk, c->kind);
        for (int i = 0; i < 3; i++)
            msgpack_pack_uint64(pk, c->seqs[i]);
        msgpack_pack_uint64(pk, c->value);
        return;
    case DC_REC_MEMBER:
        msgpack_pack_array(pk, 3);
        msgpack_pack_uint64(pk, c->kind);
        msgpack_pack_uint64(pk, c->value);
        s_pack_str(pk, c->text);
        return;
    }
}

/*==== Decoding ====*/

/* Field i of change array a. */
#define FIELD(i) (&a->ptr[(i)])

static int s_str(const msgpack_object *o, dc_str_t *out, size_t max, bool allow_empty,
                 const char *what, char *err)
{
    return dc_mp_get_str(o, out, max, allow_empty, what, err);
}

/* A nil (when allowed) or a bin holding exactly one msgpack object of type. */
static int s_nested(const msgpack_object *o, msgpack_object_type type, bool allow_nil,
                    const uint8_t **data, size_t *size, const char *what, char *err)
{
    *data = NULL;
    *size = 0;
    if (o->type == MSGPACK_OBJECT_NIL && allow_nil)
        return 0;
    if (o->type != MSGPACK_OBJECT_BIN) {
        snprintf(err, DC_ERR_LEN, "record: %s must be bin", what);
        return -1;
    }
    msgpack_unpacked inner;
    char why[DC_ERR_LEN];
    if (dc_mp_unpack(&inner, o->via.bin.ptr, o->via.bin.size, why) != 0) {
        snprintf(err, DC_ERR_LEN, "record: %s is not msgpack", what);
        return -1;
    }
    bool ok = inner.data.type == type;
    if (ok && type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < inner.data.via.array.size; i++)
            ok = ok && inner.data.via.array.ptr[i].type == MSGPACK_OBJECT_STR;
    msgpack_unpacked_destroy(&inner);
    if (!ok) {
        snprintf(err, DC_ERR_LEN, "record: %s has the wrong shape", what);
        return -1;
    }
    *data = (const uint8_t *)o->via.bin.ptr;
    *size = o->via.bin.size;
    return 0;
}

/* An owner: "" (the ipc side) or a Z85 client key of 40 characters. */
static int s_owner(const msgpack_object *o, dc_str_t *out, char *err)
{
    if (dc_mp_get_str(o, out, 40, true, "record: owner", err) != 0)
        return -1;
    if (out->len != 0 && out->len != 40) {
        snprintf(err, DC_ERR_LEN, "record: owner is not a key");
        return -1;
    }
    return 0;
}

static int s_reason(const msgpack_object *o, dc_reason_t *out, char *err)
{
    uint64_t v;
    if (dc_mp_get_uint(o, &v, "record: reason", err) != 0)
        return -1;
    if (v == DC_REASON_NONE || v > DC_REASON_MAX) {
        snprintf(err, DC_ERR_LEN, "record: unknown reason %llu", (unsigned long long)v);
        return -1;
    }
    *out = (dc_reason_t)v;
    return 0;
}

/* Fields each kind needs at least (index 0 is the kind). */
static uint32_t s_min_fields(uint64_t kind)
{
    static const uint32_t min[] = {0, 10, 3, 4, 3, 6, 3, 3, 2, 6, 4, 3, 11, 4};
    return kind < sizeof min / sizeof min[0] ? min[kind] : 0;
}

int dc_record_decode_change(const msgpack_object *o, dc_rec_t *c, char *err)
{
    memset(c, 0, sizeof *c);
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0) {
        snprintf(err, DC_ERR_LEN, "record: a change must be a non-empty array");
        return -1;
    }
    const msgpack_object_array *a = &o->via.array;
    uint64_t kind;
    if (dc_mp_get_uint(FIELD(0), &kind, "record: kind", err) != 0)
        return -1;
    uint32_t need = s_min_fields(kind);
    if (need == 0) {
        snprintf(err, DC_ERR_LEN, "record: unknown change kind %llu", (unsigned long long)kind);
        return -1;
    }
    if (a->size < need) {
        snprintf(err, DC_ERR_LEN, "record: change kind %llu needs %u fields",
                 (unsigned long long)kind, need);
        return -1;
    }
    c->kind = (dc_rec_kind_t)kind;
    switch (c->kind) {
    case DC_REC_TOPIC_PUT:
    case DC_REC_SUB_PUT: {
        /* A subscription has no address: its fields after the name are one
         * place earlier. */
        uint32_t at = c->kind == DC_REC_TOPIC_PUT ? 1 : 0;
        if (s_str(FIELD(1), &c->topic.name, DC_MAX_NAME_LEN, false, "record: name", err) ||
            (at && s_str(FIELD(2), &c->topic.address, DC_MAX_ADDRESS_LEN, false, "record: address",
                         err)) ||
            s_str(FIELD(2 + at), &c->topic.message_type, DC_MAX_TYPE_LEN, true, "record: type",
                  err) ||
            dc_mp_get_uint(FIELD(3 + at), &c->topic.fingerprint, "record: fingerprint", err) ||
            s_str(FIELD(4 + at), &c->topic.publisher_node, DC_MAX_NODE_LEN, at == 1, "record: node",
                  err) ||
            dc_mp_get_uint(FIELD(5 + at), &c->create_seq, "record: create_seq", err) ||
            dc_mp_get_uint(FIELD(6 + at), &c->lease_id, "record: lease_id", err) ||
            dc_mp_get_uint(FIELD(7 + at), &c->at_ms, "record: registered_at", err) ||
            s_nested(FIELD(8 + at), MSGPACK_OBJECT_MAP, true, &c->metadata, &c->metadata_size,
                     "metadata", err))
            return -1;
        if (!at)
            c->topic.address = (dc_str_t){"", 0};
        /* A topic's origin came with the cluster (an eleventh field), its
         * owner with CURVE (a twelfth); a subscription has both. */
        if (a->size > 9 + at && dc_mp_get_uint(FIELD(9 + at), &c->value, "record: origin", err))
            return -1;
        return a->size > 10 + at ? s_owner(FIELD(10 + at), &c->owner, err) : 0;
    }
    case DC_REC_TOPIC_REMOVE:
    case DC_REC_SUB_REMOVE:
    case DC_REC_NODE_REMOVE:
        if (s_str(FIELD(1), &c->topic.name,
                  c->kind == DC_REC_NODE_REMOVE ? DC_MAX_NODE_LEN : DC_MAX_NAME_LEN, false,
                  "record: name", err) ||
            s_reason(FIELD(2), &c->reason, err))
            return -1;
        if (c->kind == DC_REC_SUB_REMOVE) /* the subscriber's node is always named */
            return s_str(FIELD(3), &c->topic.publisher_node, DC_MAX_NODE_LEN, false,
                         "record: node", err);
        /* Version 2: the node of the registration removed (nil: the one). */
        if (c->kind == DC_REC_TOPIC_REMOVE && a->size > 3 && FIELD(3)->type != MSGPACK_OBJECT_NIL) {
            if (s_str(FIELD(3), &c->topic.publisher_node, DC_MAX_NODE_LEN, true, "record: node",
                      err))
                return -1;
            if (!c->topic.publisher_node.ptr) /* named, if empty */
                c->topic.publisher_node.ptr = "";
        }
        return 0;
    case DC_REC_LEASE_GRANT:
        if (dc_mp_get_uint(FIELD(1), &c->lease_id, "record: lease_id", err) ||
            dc_mp_get_uint(FIELD(2), &c->ttl_ms, "record: ttl_ms", err) ||
            dc_mp_get_uint(FIELD(3), &c->at_ms, "record: granted_at", err))
            return -1;
        if (c->lease_id == 0 || c->ttl_ms == 0) {
            snprintf(err, DC_ERR_LEN, "record: a lease needs an id and a TTL");
            return -1;
        }
        if (a->size > 4 && s_owner(FIELD(4), &c->owner, err))
            return -1;
        return a->size > 5 ? dc_mp_get_uint(FIELD(5), &c->left_ms, "record: time left", err) : 0;
    case DC_REC_LEASE_REMOVE:
        if (dc_mp_get_uint(FIELD(1), &c->lease_id, "record: lease_id", err) ||
            s_reason(FIELD(2), &c->reason, err))
            return -1;
        return 0;
    case DC_REC_NODE_PUT:
        if (s_str(FIELD(1), &c->topic.name, DC_MAX_NODE_LEN, false, "record: node name", err) ||
            s_str(FIELD(2), &c->text, DC_MAX_MESSAGE_LEN, true, "record: description", err) ||
            s_nested(FIELD(3), MSGPACK_OBJECT_ARRAY, false, &c->capabilities, &c->capabilities_size,
                     "capabilities", err) ||
            s_nested(FIELD(4), MSGPACK_OBJECT_MAP, true, &c->metadata, &c->metadata_size,
                     "metadata", err) ||
            dc_mp_get_uint(FIELD(5), &c->lease_id, "record: lease_id", err))
            return -1;
        return a->size > 6 ? s_owner(FIELD(6), &c->owner, err) : 0;
    case DC_REC_LEASE_RENEW:
        if (dc_mp_get_uint(FIELD(1), &c->lease_id, "record: lease_id", err) ||
            dc_mp_get_uint(FIELD(2), &c->at_ms, "record: renewed_at", err))
            return -1;
        return 0;
    case DC_REC_EPOCH:
        return dc_mp_get_uint(FIELD(1), &c->value, "record: epoch", err);
    case DC_REC_REQUEST: {
        uint64_t status;
        if (dc_mp_get_uint(FIELD(1), &c->value, "record: request_id", err) ||
            dc_mp_get_uint(FIELD(2), &status, "record: status", err) ||
            s_str(FIELD(3), &c->text, DC_MAX_MESSAGE_LEN, true, "record: message", err) ||
            dc_mp_get_uint(FIELD(4), &c->lease_id, "record: lease_id", err) ||
            dc_mp_get_uint(FIELD(5), &c->ttl_ms, "record: ttl_ms", err))
            return -1;
        if (status > DC_STATUS_ERROR) {
            snprintf(err, DC_ERR_LEN, "record: unknown status %llu", (unsigned long long)status);
            return -1;
        }
        c->status = (int)status;
        return 0;
    }
    case DC_REC_SEQS:
        for (int i = 0; i < 3; i++)
            if (dc_mp_get_uint(FIELD(1 + i), &c->seqs[i], "record: seq", err))
                return -1;
        /* The Raft index came with the cluster (a fifth field). */
        return a->size > 4 ? dc_mp_get_uint(FIELD(4), &c->value, "record: index", err) : 0;
    case DC_REC_MEMBER:
        if (dc_mp_get_uint(FIELD(1), &c->value, "record: member id", err) ||
            s_str(FIELD(2), &c->text, 256, true, "record: member endpoint", err))
            return -1;
        if (c->value == 0) {
            snprintf(err, DC_ERR_LEN, "record: member id 0");
            return -1;
        }
        return 0;
    }
    return -1;
}

int dc_record_decode(const void *data, size_t size, int (*fn)(void *arg, const dc_rec_t *c),
                     void *arg, char *err)
{
    msgpack_unpacked u;
    char why[DC_ERR_LEN];
    if (dc_mp_unpack(&u, data, size, why) != 0) {
        snprintf(err, DC_ERR_LEN, "record: not msgpack (%.100s)", why);
        return -1;
    }
    const msgpack_object *top = &u.data;
    int rc = -1;
    uint64_t version = 0;
    if (top->type != MSGPACK_OBJECT_ARRAY || top->via.array.size != 2 ||
        top->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY)
        snprintf(err, DC_ERR_LEN, "record: expected [version, [changes]]");
    else if (dc_mp_get_uint(&top->via.array.ptr[0], &version, "record: version", err) != 0)
        ;
    else if (version < DC_RECORD_VERSION_MIN || version > DC_RECORD_VERSION)
        snprintf(err, DC_ERR_LEN, "record: version %llu, this build reads %d to %d",
                 (unsigned long long)version, DC_RECORD_VERSION_MIN, DC_RECORD_VERSION);
    else
        rc = 0;
    const msgpack_object_array *changes = rc == 0 ? &top->via.array.ptr[1].via.array : NULL;
    dc_rec_t c;
    for (uint32_t i = 0; rc == 0 && i < changes->size; i++)
        rc = dc_record_decode_change(&changes->ptr[i], &c, err);
    for (uint32_t i = 0; rc == 0 && i < changes->size; i++) {
        dc_record_decode_change(&changes->ptr[i], &c, err);
        rc = fn(arg, &c);
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}
