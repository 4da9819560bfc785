/* dc_write_op.c: building write ops from decoded requests (see the .h). */
#include "dc_write_op.h"
#include "dc_protocol.h"

#include <stdlib.h>

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

static dc_write_op_t *s_register(const dc_request_t *req, const char **problem)
{
    if (!(req->present & DC_REQ_TOPIC_INFO)) {
        *problem = "Missing topic_info in register request";
        return NULL;
    }
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
        op->kind = DC_OP_REGISTER;
        op->entry = dc_entry_new(&req->topic, 0, 0, meta, meta_size);
    }
    msgpack_sbuffer_destroy(&meta_buf);
    if (!op || !op->entry) {
        free(op);
        *problem = "Out of memory";
        return NULL;
    }
    return op;
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
    dc_write_op_t *op = dc_write_op_named(DC_OP_UNREGISTER, name);
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
