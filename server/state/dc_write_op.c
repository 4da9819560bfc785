/* dc_write_op.c: building write ops from decoded requests (see the .h). */
#include "dc_write_op.h"
#include "dc_clock.h"
#include "dc_protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dc_write_op_take_request_keys(dc_write_op_t *op, const dc_request_t *req)
{
    op->version = req->version;
    bool v2 = req->version >= 2;
    op->has_request_id = v2 && (req->present & DC_REQ_REQUEST_ID);
    op->request_id = req->request_id;
    /* Lease keys mean something only to clients that declared protocol 2. */
    op->has_lease_id = v2 && (req->present & DC_REQ_LEASE_ID);
    op->lease_id = req->lease_id;
    op->has_lease_ttl = v2 && (req->present & DC_REQ_LEASE_TTL);
    op->lease_ttl_ms = req->lease_ttl_ms;
    op->timeout_ms = req->timeout_ms;
    op->received_us = dc_mono_us();
}

dc_write_op_t *dc_write_op_named(dc_op_kind_t kind, dc_str_t name)
{
    dc_write_op_t *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->kind = kind;
    op->name = dc_str_dup(name);
    if (!op->name) {
        free(op);
        return NULL;
    }
    op->name_len = name.len;
    return op;
}

dc_write_op_t *dc_write_op_wait(const dc_request_t *req, const char **problem)
{
    if (!(req->present & DC_REQ_TOPIC_NAME) || req->topic_name.len == 0) {
        *problem = "Missing topic_name in wait request";
        return NULL;
    }
    dc_write_op_t *op = dc_write_op_named(DC_OP_WAIT, req->topic_name);
    if (op && req->version >= 2 && (req->present & DC_REQ_NODE_NAME) &&
        !(op->publisher_node = dc_str_dup(req->node_name)))
        dc_write_op_destroy(&op);
    if (!op)
        *problem = "Out of memory";
    return op;
}

/* An op of kind carrying a new entry for topic t, with the request's
 * metadata (protocol 2). */
static dc_write_op_t *s_with_entry(dc_op_kind_t kind, const dc_topic_t *t, const dc_request_t *req,
                                   const char **problem)
{
    const void *meta = NULL;
    size_t meta_size = 0;
    msgpack_sbuffer meta_buf;
    msgpack_sbuffer_init(&meta_buf);
    if (req->version >= 2 && req->metadata) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &meta_buf, msgpack_sbuffer_write);
        msgpack_pack_object(&pk, *req->metadata);
        meta = meta_buf.data;
        meta_size = meta_buf.size;
    }
    dc_write_op_t *op = calloc(1, sizeof *op);
    if (op) {
        op->kind = kind;
        op->entry = dc_entry_new(t, 0, 0, meta, meta_size);
    }
    msgpack_sbuffer_destroy(&meta_buf);
    if (!op || !op->entry) {
        free(op);
        *problem = "Out of memory";
        return NULL;
    }
    return op;
}

static dc_write_op_t *s_register(const dc_request_t *req, const char **problem)
{
    if (!(req->present & DC_REQ_TOPIC_INFO)) {
        *problem = "Missing topic_info in register request";
        return NULL;
    }
    return s_with_entry(DC_OP_REGISTER, &req->topic, req, problem);
}

static dc_write_op_t *s_unregister(const dc_request_t *req, const char **problem)
{
    dc_str_t name = {NULL, 0};
    if ((req->present & DC_REQ_TOPIC_NAME) && req->topic_name.len)
        name = req->topic_name;
    else if (req->present & DC_REQ_TOPIC_INFO)
        name = req->topic.name;
    if (!name.len) {
        *problem = "Missing topic name in unregister request";
        return NULL;
    }
    /* The registration's node: protocol 2's node_name, or the publisher_node
     * of a topic_info (which a Cortex publisher may send, legacy or not). */
    dc_str_t node = {NULL, 0};
    if (req->version >= 2 && (req->present & DC_REQ_NODE_NAME))
        node = req->node_name;
    else if (req->present & DC_REQ_TOPIC_INFO)
        node = req->topic.publisher_node.ptr ? req->topic.publisher_node : (dc_str_t){"", 0};
    dc_write_op_t *op = dc_write_op_named(DC_OP_UNREGISTER, name);
    if (op && node.ptr && !(op->publisher_node = dc_str_dup(node)))
        dc_write_op_destroy(&op);
    if (!op)
        *problem = "Out of memory";
    return op;
}

dc_write_op_t *dc_write_op_topic(const dc_request_t *req, const char **problem)
{
    if (req->command == DC_CMD_REGISTER_TOPIC)
        return s_register(req, problem);
    if (req->command == DC_CMD_UNREGISTER_TOPIC)
        return s_unregister(req, problem);
    *problem = "Not a topic write";
    return NULL;
}

dc_write_op_t *dc_write_op_remove_dead(const dc_entry_t *e, dc_reason_t reason)
{
    dc_write_op_t *op = dc_write_op_named(DC_OP_REMOVE_DEAD, e->topic.name);
    if (!op)
        return NULL;
    op->address = strdup(e->topic.address.ptr);
    op->publisher_node = strdup(e->topic.publisher_node.ptr);
    op->reason = reason;
    if (!op->address || !op->publisher_node)
        dc_write_op_destroy(&op);
    return op;
}

dc_write_op_t *dc_write_op_revoke(const dc_request_t *req, const char **problem)
{
    if (!(req->present & DC_REQ_LEASE_ID)) {
        *problem = "Missing lease_id in revoke request";
        return NULL;
    }
    dc_write_op_t *op = calloc(1, sizeof *op);
    if (!op) {
        *problem = "Out of memory";
        return NULL;
    }
    op->kind = DC_OP_REVOKE_LEASE; /* the lease_id comes with the request keys */
    return op;
}

dc_write_op_t *dc_write_op_register_node(const dc_request_t *req, const char **problem)
{
    if (!req->node) {
        *problem = "Missing node in register_node request";
        return NULL;
    }
    dc_write_op_t *op = calloc(1, sizeof *op);
    if (op) {
        op->kind = DC_OP_REGISTER_NODE;
        op->node = dc_node_from_object(req->node, 0);
    }
    if (!op || !op->node) {
        free(op);
        *problem = "Out of memory";
        return NULL;
    }
    return op;
}

dc_write_op_t *dc_write_op_subscription(const dc_request_t *req, const char **problem)
{
    bool subscribe = req->command == DC_CMD_SUBSCRIBE;
    if (!(req->present & DC_REQ_TOPIC_NAME) || req->topic_name.len == 0) {
        *problem = subscribe ? "Missing topic_name in subscribe request"
                             : "Missing topic_name in unsubscribe request";
        return NULL;
    }
    if (!(req->present & DC_REQ_NODE_NAME)) {
        *problem = subscribe ? "Missing node_name (the subscriber) in subscribe request"
                             : "Missing node_name (the subscriber) in unsubscribe request";
        return NULL;
    }
    if (subscribe) {
        dc_topic_t t = {.name = req->topic_name,
                        .address = {"", 0},
                        .message_type = (req->present & DC_REQ_MESSAGE_TYPE) ? req->message_type
                                                                             : (dc_str_t){"", 0},
                        .fingerprint = req->fingerprint,
                        .publisher_node = req->node_name};
        if (!t.message_type.ptr)
            t.message_type = (dc_str_t){"", 0};
        return s_with_entry(DC_OP_SUBSCRIBE, &t, req, problem);
    }
    dc_write_op_t *op = dc_write_op_named(DC_OP_UNSUBSCRIBE, req->topic_name);
    if (op && !(op->publisher_node = dc_str_dup(req->node_name)))
        dc_write_op_destroy(&op);
    if (!op)
        *problem = "Out of memory";
    return op;
}

dc_write_op_t *dc_write_op_member(const dc_request_t *req, const char **problem)
{
    bool add = req->command == DC_CMD_MEMBER_ADD;
    if (!add && req->command != DC_CMD_MEMBER_REMOVE && req->command != DC_CMD_MEMBER_TRANSFER) {
        *problem = "Not a membership change";
        return NULL;
    }
    if (!(req->present & DC_REQ_MEMBER_ID) ||
        (req->command != DC_CMD_MEMBER_TRANSFER && req->member_id == 0)) {
        *problem = "Missing member_id (a member id from 1)";
        return NULL;
    }
    if (add && !(req->present & DC_REQ_MEMBER_ADDRESS)) {
        *problem = "Missing member_address (HOST:PORT) in member add request";
        return NULL;
    }
    dc_write_op_t *op = calloc(1, sizeof *op);
    if (!op || (add && !(op->address = dc_str_dup(req->member_address)))) {
        free(op);
        *problem = "Out of memory";
        return NULL;
    }
    op->kind = add                                    ? DC_OP_MEMBER_ADD
               : req->command == DC_CMD_MEMBER_REMOVE ? DC_OP_MEMBER_REMOVE
                                                      : DC_OP_MEMBER_TRANSFER;
    op->member_id = req->member_id;
    return op;
}

/*==== Forwarding: a write op as bytes, between cluster members ====*/

#define DC_OP_FORMAT 1

static void s_pack_opt(msgpack_packer *pk, bool has, uint64_t value)
{
    if (has)
        msgpack_pack_uint64(pk, value);
    else
        msgpack_pack_nil(pk);
}

static void s_pack_cstr(msgpack_packer *pk, const char *s)
{
    if (s)
        dc_mp_pack_str(pk, s, (size_t)-1);
    else
        msgpack_pack_nil(pk);
}

int dc_write_op_encode(const dc_write_op_t *op, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 18);
    msgpack_pack_uint64(&pk, DC_OP_FORMAT);
    msgpack_pack_uint64(&pk, (uint64_t)op->kind);
    msgpack_pack_uint64(&pk, (uint64_t)(op->version > 0 ? op->version : 1));
    s_pack_opt(&pk, op->has_request_id, op->request_id);
    s_pack_opt(&pk, op->has_lease_id, op->lease_id);
    s_pack_opt(&pk, op->has_lease_ttl, op->lease_ttl_ms);
    msgpack_pack_uint64(&pk, op->timeout_ms);
    s_pack_cstr(&pk, op->name);
    s_pack_cstr(&pk, op->address);
    msgpack_pack_uint64(&pk, op->reason);
    dc_rec_t r;
    memset(&r, 0, sizeof r);
    if (op->entry) {
        r.kind = op->kind == DC_OP_SUBSCRIBE ? DC_REC_SUB_PUT : DC_REC_TOPIC_PUT;
        r.topic = op->entry->topic;
        r.metadata = op->entry->metadata.data;
        r.metadata_size = op->entry->metadata.size;
        dc_record_pack(&pk, &r);
    } else if (op->node) {
        r.kind = DC_REC_NODE_PUT;
        r.topic.name = dc_str_from(op->node->name);
        r.text = dc_str_from(op->node->description);
        r.capabilities = op->node->capabilities_blob.data;
        r.capabilities_size = op->node->capabilities_blob.size;
        r.metadata = op->node->metadata.data;
        r.metadata_size = op->node->metadata.size;
        dc_record_pack(&pk, &r);
    } else
        msgpack_pack_nil(&pk);
    msgpack_pack_uint64(&pk, op->member_id);
    msgpack_pack_uint64(&pk, op->origin);
    s_pack_cstr(&pk, op->publisher_node); /* 14th: came with several publishers per topic */
    /* 15th and 16th, with CURVE: who asked (the owner of what it writes). */
    dc_mp_pack_str(&pk, op->principal.key, strlen(op->principal.key));
    msgpack_pack_uint64(&pk, (uint64_t)op->principal.access);
    /* 17th, with isolated members: the lease id it wants granted. */
    msgpack_pack_uint64(&pk, op->want_lease_id);
    msgpack_pack_uint64(&pk, op->want_lease_left_ms); /* 18th: and the time it has left */
    return buf->data ? 0 : -1;
}

static int s_opt(const msgpack_object *o, bool *has, uint64_t *value, const char *what, char *err)
{
    *has = o->type != MSGPACK_OBJECT_NIL;
    return *has ? dc_mp_get_uint(o, value, what, err) : 0;
}

/* A nil, or a str of up to max bytes copied into *out. */
static int s_cstr(const msgpack_object *o, char **out, uint32_t *len, size_t max, bool allow_empty,
                  const char *what, char *err)
{
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    dc_str_t s;
    if (dc_mp_get_str(o, &s, max, allow_empty, what, err) != 0)
        return -1;
    *out = dc_str_dup(s);
    if (len)
        *len = s.len;
    if (!*out) {
        snprintf(err, DC_ERR_LEN, "out of memory");
        return -1;
    }
    return 0;
}

/* The sender of a forwarded op: its key ("" or 40 characters) and access. */
static int s_principal(const msgpack_object *key, const msgpack_object *access,
                       dc_principal_t *p, char *err)
{
    dc_str_t k;
    uint64_t a;
    if (dc_mp_get_str(key, &k, DC_KEY_LEN, true, "forwarded op: key", err) != 0 ||
        dc_mp_get_uint(access, &a, "forwarded op: access", err) != 0)
        return -1;
    if ((k.len != 0 && k.len != DC_KEY_LEN) || a > DC_ACCESS_LOCAL) {
        snprintf(err, DC_ERR_LEN, "forwarded op: not a principal");
        return -1;
    }
    if (k.len)
        memcpy(p->key, k.ptr, k.len);
    p->key[k.len] = 0;
    p->access = (dc_access_t)a;
    return 0;
}

dc_write_op_t *dc_write_op_decode(const void *data, size_t size, char *err)
{
    err[0] = 0;
    msgpack_unpacked u;
    if (dc_mp_unpack(&u, data, size, err) != 0)
        return NULL;
    const msgpack_object *top = &u.data;
    dc_write_op_t *op = calloc(1, sizeof *op);
    uint64_t format = 0, kind = 0, version = 0, reason = 0;
    const msgpack_object *f = top->type == MSGPACK_OBJECT_ARRAY ? top->via.array.ptr : NULL;
    int rc = -1;
    if (!op)
        snprintf(err, DC_ERR_LEN, "out of memory");
    else if (!f || top->via.array.size < 13)
        snprintf(err, DC_ERR_LEN, "forwarded op: expected an array of 13");
    else if (dc_mp_get_uint(&f[0], &format, "forwarded op: format", err) != 0)
        ;
    else if (format != DC_OP_FORMAT)
        snprintf(err, DC_ERR_LEN, "forwarded op: format %llu, this build reads %d",
                 (unsigned long long)format, DC_OP_FORMAT);
    else if (dc_mp_get_uint(&f[1], &kind, "forwarded op: kind", err) ||
             dc_mp_get_uint(&f[2], &version, "forwarded op: version", err) ||
             s_opt(&f[3], &op->has_request_id, &op->request_id, "forwarded op: request_id",
                   err) ||
             s_opt(&f[4], &op->has_lease_id, &op->lease_id, "forwarded op: lease_id", err) ||
             s_opt(&f[5], &op->has_lease_ttl, &op->lease_ttl_ms, "forwarded op: ttl", err) ||
             dc_mp_get_uint(&f[6], &op->timeout_ms, "forwarded op: timeout", err) ||
             s_cstr(&f[7], &op->name, &op->name_len, DC_MAX_NAME_LEN, false, "forwarded op: name",
                    err) ||
             s_cstr(&f[8], &op->address, NULL, DC_MAX_ADDRESS_LEN, false,
                    "forwarded op: address",
                    err) ||
             dc_mp_get_uint(&f[9], &reason, "forwarded op: reason", err) ||
             dc_mp_get_uint(&f[11], &op->member_id, "forwarded op: member_id", err) ||
             dc_mp_get_uint(&f[12], &op->origin, "forwarded op: origin", err) ||
             (top->via.array.size > 13 &&
              s_cstr(&f[13], &op->publisher_node, NULL, DC_MAX_NODE_LEN, true,
                     "forwarded op: node", err)) ||
             (top->via.array.size > 15 && s_principal(&f[14], &f[15], &op->principal, err)) ||
             (top->via.array.size > 16 &&
              dc_mp_get_uint(&f[16], &op->want_lease_id, "forwarded op: lease wanted", err)) ||
             (top->via.array.size > 17 &&
              dc_mp_get_uint(&f[17], &op->want_lease_left_ms, "forwarded op: lease left", err)))
        ;
    else if (kind > DC_OP_KIND_MAX || kind == DC_OP_WAIT || version > 255 ||
             reason > DC_REASON_MAX)
        snprintf(err, DC_ERR_LEN, "forwarded op: kind %llu cannot be forwarded",
                 (unsigned long long)kind);
    else
        rc = 0;
    if (rc == 0) {
        op->kind = (dc_op_kind_t)kind;
        op->version = (int)version;
        op->reason = (dc_reason_t)reason;
        dc_rec_t r;
        bool has_change = f[10].type != MSGPACK_OBJECT_NIL;
        if (has_change && dc_record_decode_change(&f[10], &r, err) != 0)
            rc = -1;
        else if (op->kind == DC_OP_REGISTER || op->kind == DC_OP_SUBSCRIBE) {
            dc_rec_kind_t want = op->kind == DC_OP_REGISTER ? DC_REC_TOPIC_PUT : DC_REC_SUB_PUT;
            if (!has_change || r.kind != want) {
                snprintf(err, DC_ERR_LEN, "forwarded op: %s without its topic",
                         op->kind == DC_OP_REGISTER ? "REGISTER" : "SUBSCRIBE");
                rc = -1;
            } else if (!(op->entry = dc_entry_new(&r.topic, 0, 0, r.metadata, r.metadata_size)))
                rc = -1;
        } else if (op->kind == DC_OP_REGISTER_NODE) {
            char *name = NULL, *description = NULL;
            if (!has_change || r.kind != DC_REC_NODE_PUT) {
                snprintf(err, DC_ERR_LEN, "forwarded op: REGISTER_NODE without its node");
                rc = -1;
            } else if (!(name = dc_str_dup(r.topic.name)) ||
                       !(description = dc_str_dup(r.text)) ||
                       !(op->node = dc_node_from_parts(name, description, r.capabilities,
                                                       r.capabilities_size, r.metadata,
                                                       r.metadata_size, 0)))
                rc = -1;
            free(name);
            free(description);
        } else if (op->kind == DC_OP_UNSUBSCRIBE && (!op->name || !op->publisher_node)) {
            snprintf(err, DC_ERR_LEN, "forwarded op: UNSUBSCRIBE needs the topic and the node");
            rc = -1;
        } else if (dc_op_is_member_change(op->kind)) {
            if (op->kind == DC_OP_MEMBER_ADD && (!op->address || !op->member_id)) {
                snprintf(err, DC_ERR_LEN, "forwarded op: MEMBER_ADD needs an id and an address");
                rc = -1;
            }
        } else if (!op->name && op->kind != DC_OP_REVOKE_LEASE) {
            snprintf(err, DC_ERR_LEN, "forwarded op: a name is needed");
            rc = -1;
        } else if (op->kind == DC_OP_REMOVE_DEAD && !op->address) {
            snprintf(err, DC_ERR_LEN, "forwarded op: REMOVE_DEAD needs the address");
            rc = -1;
        }
    }
    msgpack_unpacked_destroy(&u);
    if (rc != 0) {
        if (!err[0])
            snprintf(err, DC_ERR_LEN, "out of memory");
        dc_write_op_destroy(&op);
    }
    return op;
}
