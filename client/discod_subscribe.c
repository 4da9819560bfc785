/* discod_subscribe.c: subscriptions and the mismatches they are told of
 * (see include/discod.h, "Subscriptions"). */
#include "discod_internal.h"
#include "dc_protocol.h"

#include <stdlib.h>
#include <string.h>

void discod_mismatches_free(discod_mismatch_t *list, size_t count)
{
    for (size_t i = 0; list && i < count; i++) {
        free(list[i].node);
        free(list[i].message_type);
        free(list[i].address);
    }
    free(list);
}

/* A str field of map o, copied (absent or not a str: ""). */
static char *s_field(const msgpack_object *o, const char *key)
{
    dc_str_t v = {"", 0};
    for (uint32_t i = 0; o->type == MSGPACK_OBJECT_MAP && i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (dc_mp_key_is(&kv->key, key) && kv->val.type == MSGPACK_OBJECT_STR)
            v = (dc_str_t){kv->val.via.str.ptr, kv->val.via.str.size};
    }
    return dc_str_dup(v);
}

static uint64_t s_uint(const msgpack_object *o, const char *key)
{
    for (uint32_t i = 0; o->type == MSGPACK_OBJECT_MAP && i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (dc_mp_key_is(&kv->key, key) && kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            return kv->val.via.u64;
    }
    return 0;
}

discod_result_t discod__mismatches_from(const msgpack_object *array, discod_mismatch_t **out,
                                        size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!array || array->type != MSGPACK_OBJECT_ARRAY || array->via.array.size == 0)
        return DISCOD_OK;
    size_t n = array->via.array.size;
    discod_mismatch_t *list = calloc(n, sizeof *list);
    if (!list)
        return DISCOD_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *m = &array->via.array.ptr[i];
        list[i].node = s_field(m, "node");
        list[i].message_type = s_field(m, "message_type");
        list[i].address = s_field(m, "address");
        list[i].fingerprint = s_uint(m, "fingerprint");
        if (!list[i].node || !list[i].message_type || !list[i].address) {
            discod_mismatches_free(list, n);
            return DISCOD_NOMEM;
        }
    }
    *out = list;
    *count = n;
    return DISCOD_OK;
}

discod_result_t discod_subscribe(discod_client_t *c, const discod_subscription_t *sub,
                                 const discod_register_opts_t *opts, uint64_t *lease_id_out,
                                 discod_mismatch_t **mismatches, size_t *mismatch_count)
{
    if (lease_id_out)
        *lease_id_out = 0;
    if (mismatches)
        *mismatches = NULL;
    if (mismatch_count)
        *mismatch_count = 0;
    if (!c || !sub || !discod__valid_name(sub->topic, DC_MAX_NAME_LEN) ||
        !discod__valid_name(sub->node, DC_MAX_NODE_LEN) ||
        (sub->message_type && !discod__valid_text(sub->message_type, DC_MAX_TYPE_LEN)) ||
        (mismatches && !mismatch_count))
        return DISCOD_INVALID;
    if (discod__legacy_only(c))
        return DISCOD_UNSUPPORTED;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_SUBSCRIBE);
    req.version = 2;
    req.present = DC_REQ_TOPIC_NAME | DC_REQ_NODE_NAME | DC_REQ_MESSAGE_TYPE | DC_REQ_FINGERPRINT |
                  DC_REQ_REQUEST_ID;
    req.topic_name = dc_str_from(sub->topic);
    req.node_name = dc_str_from(sub->node);
    req.message_type = dc_str_from(sub->message_type ? sub->message_type : "");
    req.fingerprint = sub->fingerprint;
    req.request_id = discod__request_id(c);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_unpacked storage;
    bool unpacked;
    discod_result_t r = DISCOD_INVALID;
    if (discod__apply_opts(&req, opts, &buf, &storage, &unpacked) == 0) {
        dc_reply_view_t view;
        r = discod__call(c, &req, 0, 0, &view);
        if (r >= 0) {
            r = discod__v2_result(r, &view, true);
            if (r == DISCOD_OK && lease_id_out)
                *lease_id_out = view.has_lease ? view.lease_id : 0;
            if (r == DISCOD_OK && mismatches)
                r = discod__mismatches_from(view.mismatch, mismatches, mismatch_count);
            dc_reply_view_release(&view);
        }
    }
    if (unpacked)
        msgpack_unpacked_destroy(&storage);
    msgpack_sbuffer_destroy(&buf);
    return r;
}

discod_result_t discod_unsubscribe(discod_client_t *c, const char *topic, const char *node)
{
    if (!c || !discod__valid_name(topic, DC_MAX_NAME_LEN) ||
        !discod__valid_name(node, DC_MAX_NODE_LEN))
        return DISCOD_INVALID;
    if (discod__legacy_only(c))
        return DISCOD_UNSUPPORTED;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_UNSUBSCRIBE);
    req.version = 2;
    req.present = DC_REQ_TOPIC_NAME | DC_REQ_NODE_NAME | DC_REQ_REQUEST_ID;
    req.topic_name = dc_str_from(topic);
    req.node_name = dc_str_from(node);
    req.request_id = discod__request_id(c);
    dc_reply_view_t view;
    discod_result_t r = discod__call(c, &req, 0, 0, &view);
    if (r < 0)
        return r;
    r = discod__v2_result(r, &view, true);
    dc_reply_view_release(&view);
    return r;
}
