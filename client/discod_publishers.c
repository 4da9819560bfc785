/* discod_publishers.c: the publishers of a topic (several per topic with
 * --publishers-per-topic): LOOKUP's "publishers" array, and unregistering one
 * node's registration. */
#include "discod_internal.h"

#include "dc_protocol.h"

#include <stdlib.h>
#include <string.h>

void discod_publishers_free(discod_publisher_t *list, size_t count)
{
    if (!list)
        return;
    for (size_t i = 0; i < count; i++) {
        discod_topic_clear(&list[i].topic);
        discod_kv_free(list[i].metadata, list[i].metadata_count);
    }
    free(list);
}

/* Fills p from one publisher map: {topic_info, lease_id, registered_at_ms,
 * metadata}. */
static discod_result_t s_publisher(const msgpack_object *o, discod_publisher_t *p)
{
    memset(p, 0, sizeof *p);
    if (o->type != MSGPACK_OBJECT_MAP)
        return DISCOD_PROTOCOL;
    const msgpack_object *info = NULL, *metadata = NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        if (dc_mp_key_is(k, "topic_info") && v->type == MSGPACK_OBJECT_BIN)
            info = v;
        else if (dc_mp_key_is(k, "lease_id") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            p->lease_id = v->via.u64;
        else if (dc_mp_key_is(k, "registered_at_ms") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            p->registered_at_ms = v->via.u64;
        else if (dc_mp_key_is(k, "metadata") && v->type == MSGPACK_OBJECT_MAP)
            metadata = v;
    }
    if (!info)
        return DISCOD_PROTOCOL;
    return discod__topic_with_metadata(info->via.bin.ptr, info->via.bin.size, metadata, &p->topic,
                                       &p->metadata, &p->metadata_count);
}

/* The answer of a daemon without "publishers" (legacy, or before several
 * publishers per topic): its one TopicInfo. */
static discod_result_t s_single(const dc_reply_view_t *view, discod_publisher_t **out)
{
    if (!view->topic_info.data)
        return DISCOD_PROTOCOL;
    discod_publisher_t *p = calloc(1, sizeof *p);
    if (!p)
        return DISCOD_NOMEM;
    discod_result_t r =
        discod__topic_with_metadata(view->topic_info.data, view->topic_info.size, view->metadata,
                                    &p->topic, &p->metadata, &p->metadata_count);
    if (r != DISCOD_OK) {
        free(p);
        return r;
    }
    p->lease_id = view->has_lease ? view->lease_id : 0;
    *out = p;
    return DISCOD_OK;
}

discod_result_t discod_lookup_all(discod_client_t *c, const char *name, discod_publisher_t **out,
                                  size_t *count, size_t *newest)
{
    if (!c || !out || !count || !discod__valid_name(name, DC_MAX_NAME_LEN))
        return DISCOD_INVALID;
    *out = NULL;
    *count = 0;
    if (newest)
        *newest = 0;
    dc_reply_view_t view;
    discod_result_t r = discod__call_lookup(c, name, 0, 0, &view);
    if (r < 0)
        return r;
    if (r == DISCOD_OK && !view.publishers) {
        if ((r = s_single(&view, out)) == DISCOD_OK)
            *count = 1;
    } else if (r == DISCOD_OK) {
        const msgpack_object_array *a = &view.publishers->via.array;
        discod_publisher_t *list = a->size ? calloc(a->size, sizeof *list) : NULL;
        r = !a->size ? DISCOD_PROTOCOL : list ? DISCOD_OK : DISCOD_NOMEM;
        size_t filled = 0;
        for (; r == DISCOD_OK && filled < a->size; filled++)
            if ((r = s_publisher(&a->ptr[filled], &list[filled])) != DISCOD_OK)
                break;
        if (r != DISCOD_OK)
            discod_publishers_free(list, filled);
        else {
            /* The newest is the one the reply's topic_info names. */
            discod_topic_t top = {0};
            if (newest && view.topic_info.data &&
                discod__topic_from_blob(view.topic_info.data, view.topic_info.size, &top) ==
                    DISCOD_OK) {
                for (size_t i = 0; i < filled; i++)
                    if (!strcmp(list[i].topic.publisher_node, top.publisher_node))
                        *newest = i;
                discod_topic_clear(&top);
            }
            *out = list;
            *count = filled;
        }
    }
    dc_reply_view_release(&view);
    return r;
}

discod_result_t discod_unregister_node_topic(discod_client_t *c, const char *name, const char *node)
{
    if (!c || !discod__valid_name(name, DC_MAX_NAME_LEN) ||
        !discod__valid_text(node, DC_MAX_NODE_LEN) || !*node)
        return DISCOD_INVALID;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_UNREGISTER_TOPIC);
    req.present = DC_REQ_TOPIC_NAME | DC_REQ_NODE_NAME | DC_REQ_REQUEST_ID;
    req.request_id = discod__request_id(c);
    req.topic_name = dc_str_from(name);
    req.node_name = dc_str_from(node);
    return discod__call_status(c, &req);
}
