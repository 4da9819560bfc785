/* discod_ext.c: the protocol 2 calls of the client library: leases, metadata
 * and nodes (see include/discod.h). */
#include "discod_internal.h"
#include "dc_protocol.h"

#include <stdlib.h>
#include <string.h>

void discod_kv_free(discod_kv_t *kv, size_t count)
{
    if (!kv)
        return;
    for (size_t i = 0; i < count; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

/* Packs key/values as a msgpack map. Returns 0, or -1 on a key or value the
 * daemon would refuse (nothing sensible is left in pk then). */
static int s_pack_kv_map(msgpack_packer *pk, const discod_kv_t *kv, size_t count)
{
    msgpack_pack_map(pk, count);
    for (size_t i = 0; i < count; i++) {
        if (!discod__valid_name(kv[i].key, DC_MAX_METADATA_KEY_LEN) ||
            !discod__valid_text(kv[i].value, DC_MAX_METADATA_VALUE_LEN))
            return -1;
        dc_mp_pack_str(pk, kv[i].key, (size_t)-1);
        dc_mp_pack_str(pk, kv[i].value, (size_t)-1);
    }
    return 0;
}

int discod__pack_kv(const discod_kv_t *kv, size_t count, msgpack_sbuffer *buf,
                    msgpack_unpacked *storage, const msgpack_object **object)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    if (s_pack_kv_map(&pk, kv, count) != 0)
        return -1;
    char err[DC_ERR_LEN];
    if (dc_mp_unpack(storage, buf->data, buf->size, err) != 0)
        return -1;
    *object = &storage->data;
    return 0;
}

discod_result_t discod__kv_from_object(const msgpack_object *map, discod_kv_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!map || map->type != MSGPACK_OBJECT_MAP || map->via.map.size == 0)
        return DISCOD_OK;
    discod_kv_t *kv = calloc(map->via.map.size, sizeof *kv);
    if (!kv)
        return DISCOD_NOMEM;
    size_t n = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *p = &map->via.map.ptr[i];
        if (p->key.type != MSGPACK_OBJECT_STR || p->val.type != MSGPACK_OBJECT_STR)
            continue;
        kv[n].key = dc_str_dup((dc_str_t){p->key.via.str.ptr, p->key.via.str.size});
        kv[n].value = dc_str_dup((dc_str_t){p->val.via.str.ptr, p->val.via.str.size});
        if (!kv[n].key || !kv[n].value) {
            discod_kv_free(kv, n + 1);
            return DISCOD_NOMEM;
        }
        n++;
    }
    *out = kv;
    *count = n;
    return DISCOD_OK;
}

/* Adds lease and metadata options to req; storage must outlive the call. */
int discod__apply_opts(dc_request_t *req, const discod_register_opts_t *opts,
                        msgpack_sbuffer *buf, msgpack_unpacked *storage, bool *unpacked)
{
    *unpacked = false;
    if (!opts)
        return 0;
    if (opts->lease_id) {
        req->present |= DC_REQ_LEASE_ID;
        req->lease_id = opts->lease_id;
    } else if (opts->lease_ttl_ms) {
        req->present |= DC_REQ_LEASE_TTL;
        req->lease_ttl_ms = opts->lease_ttl_ms;
    }
    if (opts->metadata_count) {
        if (discod__pack_kv(opts->metadata, opts->metadata_count, buf, storage, &req->metadata))
            return -1;
        *unpacked = true;
        req->present |= DC_REQ_METADATA;
    }
    return 0;
}

/* Runs a write that may carry a lease; fills *lease_id_out from the reply. */
static discod_result_t s_leased_call(discod_client_t *c, dc_request_t *req, bool needs_v2,
                                     uint64_t *lease_id_out)
{
    if (lease_id_out)
        *lease_id_out = 0;
    if (needs_v2 && discod__legacy_only(c))
        return DISCOD_UNSUPPORTED;
    dc_reply_view_t view;
    discod_result_t r = discod__call(c, req, 0, 0, &view);
    if (r < 0)
        return r;
    if (needs_v2 && view.version < 2)
        r = DISCOD_UNSUPPORTED; /* a legacy daemon ignored the lease: say so */
    else if (r == DISCOD_OK && lease_id_out)
        *lease_id_out = view.has_lease ? view.lease_id : 0;
    dc_reply_view_release(&view);
    return r;
}

discod_result_t discod_register_ex(discod_client_t *c, const discod_topic_t *t,
                                   const discod_register_opts_t *opts, uint64_t *lease_id_out)
{
    if (!c || !t || !discod__valid_name(t->name, DC_MAX_NAME_LEN) ||
        !discod__valid_name(t->address, DC_MAX_ADDRESS_LEN) ||
        !discod__valid_text(t->message_type, DC_MAX_TYPE_LEN) ||
        !discod__valid_text(t->publisher_node, DC_MAX_NODE_LEN))
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_REGISTER_TOPIC);
    req.present = DC_REQ_TOPIC_INFO | DC_REQ_REQUEST_ID;
    req.request_id = discod__request_id(c);
    req.topic = (dc_topic_t){dc_str_from(t->name), dc_str_from(t->address),
                             dc_str_from(t->message_type), dc_str_from(t->publisher_node),
                             t->fingerprint};
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_unpacked storage;
    bool unpacked;
    discod_result_t r = DISCOD_INVALID;
    if (discod__apply_opts(&req, opts, &buf, &storage, &unpacked) == 0) {
        bool needs_v2 = opts && (opts->lease_id || opts->lease_ttl_ms || opts->metadata_count);
        r = s_leased_call(c, &req, needs_v2, lease_id_out);
    }
    if (unpacked)
        msgpack_unpacked_destroy(&storage);
    msgpack_sbuffer_destroy(&buf);
    return r;
}

discod_result_t discod__topic_with_metadata(const void *blob, size_t size,
                                            const msgpack_object *map, discod_topic_t *out,
                                            discod_kv_t **metadata, size_t *count)
{
    discod_result_t r = discod__topic_from_blob(blob, size, out);
    if (r == DISCOD_OK && (r = discod__kv_from_object(map, metadata, count)) != DISCOD_OK)
        discod_topic_clear(out);
    return r;
}

discod_result_t discod_lookup_ex(discod_client_t *c, const char *name, discod_topic_t *out,
                                 discod_kv_t **metadata, size_t *metadata_count)
{
    if (!c || !out || !metadata || !metadata_count || !discod__valid_name(name, DC_MAX_NAME_LEN))
        return DISCOD_INVALID;
    *metadata = NULL;
    *metadata_count = 0;
    dc_reply_view_t view;
    discod_result_t r = discod__call_lookup(c, name, 0, 0, &view);
    if (r < 0)
        return r;
    if (r == DISCOD_OK)
        r = view.topic_info.data
                ? discod__topic_with_metadata(view.topic_info.data, view.topic_info.size,
                                              view.metadata, out, metadata, metadata_count)
                : DISCOD_PROTOCOL;
    dc_reply_view_release(&view);
    return r;
}

discod_result_t discod_heartbeat(discod_client_t *c, uint64_t lease_id, uint64_t *ttl_ms)
{
    if (!c || !lease_id)
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_HEARTBEAT);
    req.present = DC_REQ_LEASE_ID;
    req.lease_id = lease_id;
    if (discod__legacy_only(c))
        return DISCOD_UNSUPPORTED;
    dc_reply_view_t view;
    /* Heartbeats are frequent: by datagram when the daemon offers it. */
    discod_result_t r = discod__call_datagram(c, &req, &view);
    if (r < 0)
        r = discod__call(c, &req, 0, 0, &view);
    if (r < 0)
        return r;
    if (view.version < 2)
        r = DISCOD_UNSUPPORTED;
    else if (r == DISCOD_OK && ttl_ms)
        *ttl_ms = view.lease_ttl_ms;
    dc_reply_view_release(&view);
    return r;
}

discod_result_t discod_revoke_lease(discod_client_t *c, uint64_t lease_id)
{
    if (!c || !lease_id)
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_REVOKE_LEASE);
    req.present = DC_REQ_LEASE_ID | DC_REQ_REQUEST_ID;
    req.lease_id = lease_id;
    req.request_id = discod__request_id(c);
    return s_leased_call(c, &req, true, NULL);
}

/*==== Nodes ====*/

void discod_node_clear(discod_node_t *n)
{
    if (!n)
        return;
    free(n->name);
    free(n->description);
    for (size_t i = 0; i < n->capability_count; i++)
        free(n->capabilities[i]);
    free(n->capabilities);
    discod_kv_free(n->metadata, n->metadata_count);
    for (size_t i = 0; i < n->topic_count; i++)
        free(n->topics[i]);
    free(n->topics);
    memset(n, 0, sizeof *n);
}

void discod_node_list_free(discod_node_t *nodes, size_t count)
{
    if (!nodes)
        return;
    for (size_t i = 0; i < count; i++)
        discod_node_clear(&nodes[i]);
    free(nodes);
}

/* Copies an array of str into a malloc'd array of strings. */
static discod_result_t s_strings(const msgpack_object *o, char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!o || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0)
        return DISCOD_OK;
    char **list = calloc(o->via.array.size, sizeof *list);
    if (!list)
        return DISCOD_NOMEM;
    size_t n = 0;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *s = &o->via.array.ptr[i];
        if (s->type != MSGPACK_OBJECT_STR)
            continue;
        list[n] = dc_str_dup((dc_str_t){s->via.str.ptr, s->via.str.size});
        if (!list[n++]) {
            *out = list;
            *count = n;
            return DISCOD_NOMEM;
        }
    }
    *out = list;
    *count = n;
    return DISCOD_OK;
}

static discod_result_t s_node_from_object(const msgpack_object *map, discod_node_t *out)
{
    memset(out, 0, sizeof *out);
    if (map->type != MSGPACK_OBJECT_MAP)
        return DISCOD_PROTOCOL;
    discod_result_t r = DISCOD_OK;
    for (uint32_t i = 0; i < map->via.map.size && r == DISCOD_OK; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        const msgpack_object *v = &map->via.map.ptr[i].val;
        if (dc_mp_key_is(k, "name") && v->type == MSGPACK_OBJECT_STR)
            out->name = dc_str_dup((dc_str_t){v->via.str.ptr, v->via.str.size});
        else if (dc_mp_key_is(k, "description") && v->type == MSGPACK_OBJECT_STR)
            out->description = dc_str_dup((dc_str_t){v->via.str.ptr, v->via.str.size});
        else if (dc_mp_key_is(k, "capabilities"))
            r = s_strings(v, &out->capabilities, &out->capability_count);
        else if (dc_mp_key_is(k, "topics"))
            r = s_strings(v, &out->topics, &out->topic_count);
        else if (dc_mp_key_is(k, "metadata"))
            r = discod__kv_from_object(v, &out->metadata, &out->metadata_count);
        else if (dc_mp_key_is(k, "lease_id") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            out->lease_id = v->via.u64;
    }
    if (r == DISCOD_OK && !out->name)
        r = DISCOD_PROTOCOL;
    if (r == DISCOD_OK && !out->description && !(out->description = strdup("")))
        r = DISCOD_NOMEM;
    if (r != DISCOD_OK)
        discod_node_clear(out);
    return r;
}

discod_result_t discod_register_node(discod_client_t *c, const discod_node_t *n,
                                     const discod_register_opts_t *opts, uint64_t *lease_id_out)
{
    if (!c || !n || !discod__valid_name(n->name, DC_MAX_NODE_LEN) ||
        (n->description && !discod__valid_text(n->description, 1024)) || n->capability_count > 64)
        return DISCOD_INVALID;
    for (size_t i = 0; i < n->capability_count; i++)
        if (!discod__valid_name(n->capabilities[i], 128))
            return DISCOD_INVALID;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    dc_mp_pack_str(&pk, "name", 4);
    dc_mp_pack_str(&pk, n->name, (size_t)-1);
    dc_mp_pack_str(&pk, "description", 11);
    dc_mp_pack_str(&pk, n->description ? n->description : "", (size_t)-1);
    dc_mp_pack_str(&pk, "capabilities", 12);
    msgpack_pack_array(&pk, n->capability_count);
    for (size_t i = 0; i < n->capability_count; i++)
        dc_mp_pack_str(&pk, n->capabilities[i], (size_t)-1);
    dc_mp_pack_str(&pk, "metadata", 8);
    if (s_pack_kv_map(&pk, n->metadata, n->metadata_count) != 0) {
        msgpack_sbuffer_destroy(&buf);
        return DISCOD_INVALID;
    }
    msgpack_unpacked storage;
    char err[DC_ERR_LEN];
    if (dc_mp_unpack(&storage, buf.data, buf.size, err) != 0) {
        msgpack_sbuffer_destroy(&buf);
        return DISCOD_INVALID;
    }
    dc_request_t req;
    dc_request_init(&req, DC_CMD_REGISTER_NODE);
    req.present = DC_REQ_NODE | DC_REQ_REQUEST_ID;
    req.node = &storage.data;
    req.request_id = discod__request_id(c);
    if (opts && opts->lease_id) {
        req.present |= DC_REQ_LEASE_ID;
        req.lease_id = opts->lease_id;
    } else if (opts && opts->lease_ttl_ms) {
        req.present |= DC_REQ_LEASE_TTL;
        req.lease_ttl_ms = opts->lease_ttl_ms;
    }
    discod_result_t r = s_leased_call(c, &req, true, lease_id_out);
    msgpack_unpacked_destroy(&storage);
    msgpack_sbuffer_destroy(&buf);
    return r;
}

discod_result_t discod_unregister_node(discod_client_t *c, const char *name)
{
    if (!c || !discod__valid_name(name, DC_MAX_NODE_LEN))
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_UNREGISTER_NODE);
    req.present = DC_REQ_NODE_NAME | DC_REQ_REQUEST_ID;
    req.node_name = dc_str_from(name);
    req.request_id = discod__request_id(c);
    return s_leased_call(c, &req, true, NULL);
}

/* GET_NODE or FIND_NODES; fills a malloc'd array. */
static discod_result_t s_nodes_call(discod_client_t *c, dc_request_t *req, discod_node_t **out,
                                    size_t *count)
{
    *out = NULL;
    *count = 0;
    if (discod__legacy_only(c))
        return DISCOD_UNSUPPORTED;
    dc_reply_view_t view;
    discod_result_t r = discod__call(c, req, 0, 0, &view);
    if (r < 0)
        return r;
    if (view.version < 2)
        r = DISCOD_UNSUPPORTED;
    if (r == DISCOD_OK) {
        size_t n = view.nodes ? view.nodes->via.array.size : 0;
        discod_node_t *nodes = calloc(n ? n : 1, sizeof *nodes);
        if (!nodes)
            r = DISCOD_NOMEM;
        for (size_t i = 0; nodes && i < n && r == DISCOD_OK; i++)
            r = s_node_from_object(&view.nodes->via.array.ptr[i], &nodes[i]);
        if (r == DISCOD_OK) {
            *out = nodes;
            *count = n;
        } else
            discod_node_list_free(nodes, n);
    }
    dc_reply_view_release(&view);
    return r;
}

discod_result_t discod_get_node(discod_client_t *c, const char *name, discod_node_t *out)
{
    if (!c || !out || !discod__valid_name(name, DC_MAX_NODE_LEN))
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_GET_NODE);
    req.present = DC_REQ_NODE_NAME;
    req.node_name = dc_str_from(name);
    discod_node_t *nodes = NULL;
    size_t n = 0;
    discod_result_t r = s_nodes_call(c, &req, &nodes, &n);
    if (r == DISCOD_OK && n != 1)
        r = DISCOD_PROTOCOL;
    if (r == DISCOD_OK) {
        *out = nodes[0];
        free(nodes);
    } else
        discod_node_list_free(nodes, n);
    return r;
}

discod_result_t discod_find_nodes(discod_client_t *c, const char *capability,
                                  discod_node_t **out, size_t *count)
{
    if (!c || !out || !count || (capability && !discod__valid_text(capability, 128)))
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_FIND_NODES);
    if (capability) {
        req.present = DC_REQ_CAPABILITY;
        req.capability = dc_str_from(capability);
    }
    return s_nodes_call(c, &req, out, count);
}
