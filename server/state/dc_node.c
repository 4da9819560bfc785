/* dc_node.c: nodes and their table (see the .h). */
#include "dc_node.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static dc_node_t *s_build(dc_str_t name, dc_str_t description, const dc_str_t *caps,
                          size_t cap_count, const void *metadata, size_t metadata_size,
                          uint64_t lease_id)
{
    msgpack_sbuffer caps_buf;
    msgpack_sbuffer_init(&caps_buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &caps_buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, cap_count);
    size_t strings = (size_t)name.len + description.len + 2;
    for (size_t i = 0; i < cap_count; i++) {
        dc_mp_pack_str(&pk, caps[i].ptr, caps[i].len);
        strings += caps[i].len + 1;
    }
    size_t meta = metadata ? metadata_size : 0;
    size_t size = sizeof(dc_node_t) + cap_count * sizeof(char *) + strings + caps_buf.size + meta;
    dc_node_t *n = malloc(size);
    if (!n) {
        msgpack_sbuffer_destroy(&caps_buf);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    atomic_init(&n->refs, 1);
    n->capabilities = (const char **)(n + 1);
    char *cursor = (char *)(n->capabilities + cap_count);
    memcpy(cursor, name.ptr, name.len);
    cursor[name.len] = 0;
    n->name = cursor;
    cursor += name.len + 1;
    if (description.len)
        memcpy(cursor, description.ptr, description.len);
    cursor[description.len] = 0;
    n->description = cursor;
    cursor += description.len + 1;
    for (size_t i = 0; i < cap_count; i++) {
        memcpy(cursor, caps[i].ptr, caps[i].len);
        cursor[caps[i].len] = 0;
        n->capabilities[i] = cursor;
        cursor += caps[i].len + 1;
    }
    n->capability_count = cap_count;
    memcpy(cursor, caps_buf.data, caps_buf.size);
    n->capabilities_blob.data = (const uint8_t *)cursor;
    n->capabilities_blob.size = caps_buf.size;
    cursor += caps_buf.size;
    if (meta) {
        memcpy(cursor, metadata, meta);
        n->metadata.data = (const uint8_t *)cursor;
        n->metadata.size = meta;
    }
    n->lease_id = lease_id;
    msgpack_sbuffer_destroy(&caps_buf);
    return n;
}

dc_node_t *dc_node_from_object(const msgpack_object *map, uint64_t lease_id)
{
    dc_str_t name = {NULL, 0}, description = {"", 0};
    const msgpack_object *caps = NULL, *metadata = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        const msgpack_object *v = &map->via.map.ptr[i].val;
        if (dc_mp_key_is(k, "name") && v->type == MSGPACK_OBJECT_STR)
            name = (dc_str_t){v->via.str.ptr, v->via.str.size};
        else if (dc_mp_key_is(k, "description") && v->type == MSGPACK_OBJECT_STR)
            description = (dc_str_t){v->via.str.ptr, v->via.str.size};
        else if (dc_mp_key_is(k, "capabilities") && v->type == MSGPACK_OBJECT_ARRAY)
            caps = v;
        else if (dc_mp_key_is(k, "metadata") && v->type == MSGPACK_OBJECT_MAP)
            metadata = v;
    }
    if (!name.ptr)
        return NULL;
    size_t cap_count = caps ? caps->via.array.size : 0;
    dc_str_t cap_views[64];
    if (cap_count > 64)
        cap_count = 64;
    for (size_t i = 0; i < cap_count; i++)
        cap_views[i] = (dc_str_t){caps->via.array.ptr[i].via.str.ptr,
                                  caps->via.array.ptr[i].via.str.size};
    msgpack_sbuffer meta_buf;
    msgpack_sbuffer_init(&meta_buf);
    if (metadata && metadata->via.map.size > 0) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &meta_buf, msgpack_sbuffer_write);
        msgpack_pack_object(&pk, *metadata);
    }
    dc_node_t *n = s_build(name, description, cap_views, cap_count,
                           meta_buf.size ? meta_buf.data : NULL, meta_buf.size, lease_id);
    msgpack_sbuffer_destroy(&meta_buf);
    return n;
}

dc_node_t *dc_node_from_parts(const char *name, const char *description,
                              const void *capabilities, size_t capabilities_size,
                              const void *metadata, size_t metadata_size, uint64_t lease_id)
{
    msgpack_unpacked caps;
    char err[DC_ERR_LEN];
    dc_str_t views[64] = {{NULL, 0}};
    size_t count = 0;
    bool unpacked = dc_mp_unpack(&caps, capabilities, capabilities_size, err) == 0;
    if (unpacked && caps.data.type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < caps.data.via.array.size && count < 64; i++) {
            const msgpack_object *o = &caps.data.via.array.ptr[i];
            if (o->type == MSGPACK_OBJECT_STR)
                views[count++] = (dc_str_t){o->via.str.ptr, o->via.str.size};
        }
    }
    dc_node_t *n = s_build(dc_str_from(name), dc_str_from(description), views, count,
                           metadata_size ? metadata : NULL, metadata_size, lease_id);
    if (unpacked)
        msgpack_unpacked_destroy(&caps);
    return n;
}

dc_node_t *dc_node_ref(dc_node_t *n)
{
    atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
    return n;
}

void dc_node_unref(dc_node_t **n_p)
{
    if (!n_p || !*n_p)
        return;
    dc_node_t *n = *n_p;
    *n_p = NULL;
    if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) == 1)
        free(n);
}

bool dc_node_has_capability(const dc_node_t *n, dc_str_t capability)
{
    for (size_t i = 0; i < n->capability_count; i++)
        if (strlen(n->capabilities[i]) == capability.len &&
            memcmp(n->capabilities[i], capability.ptr, capability.len) == 0)
            return true;
    return false;
}

void dc_node_pack(const dc_node_t *n, msgpack_packer *pk, const char *const *topics,
                  size_t topic_count)
{
    msgpack_pack_map(pk, 6);
    dc_mp_pack_str(pk, "name", 4);
    dc_mp_pack_str(pk, n->name, (size_t)-1);
    dc_mp_pack_str(pk, "description", 11);
    dc_mp_pack_str(pk, n->description, (size_t)-1);
    dc_mp_pack_str(pk, "capabilities", 12);
    msgpack_sbuffer_write(pk->data, (const char *)n->capabilities_blob.data,
                          n->capabilities_blob.size);
    dc_mp_pack_str(pk, "metadata", 8);
    if (n->metadata.data)
        msgpack_sbuffer_write(pk->data, (const char *)n->metadata.data, n->metadata.size);
    else
        msgpack_pack_map(pk, 0);
    dc_mp_pack_str(pk, "lease_id", 8);
    msgpack_pack_uint64(pk, n->lease_id);
    dc_mp_pack_str(pk, "topics", 6);
    msgpack_pack_array(pk, topic_count);
    for (size_t i = 0; i < topic_count; i++)
        dc_mp_pack_str(pk, topics[i], (size_t)-1);
}

/*==== The table ====*/

struct dc_nodes {
    pthread_rwlock_t lock;
    dc_node_t **items;
    size_t count, cap;
};

dc_nodes_t *dc_nodes_new(void)
{
    dc_nodes_t *self = calloc(1, sizeof *self);
    if (self)
        pthread_rwlock_init(&self->lock, NULL);
    return self;
}

void dc_nodes_destroy(dc_nodes_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_nodes_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        dc_node_unref(&self->items[i]);
    free(self->items);
    pthread_rwlock_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

size_t dc_nodes_count(dc_nodes_t *self)
{
    pthread_rwlock_rdlock(&self->lock);
    size_t n = self->count;
    pthread_rwlock_unlock(&self->lock);
    return n;
}

static ssize_t s_index(dc_nodes_t *self, dc_str_t name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strlen(self->items[i]->name) == name.len &&
            memcmp(self->items[i]->name, name.ptr, name.len) == 0)
            return (ssize_t)i;
    return -1;
}

dc_node_t *dc_nodes_get(dc_nodes_t *self, dc_str_t name)
{
    pthread_rwlock_rdlock(&self->lock);
    ssize_t i = s_index(self, name);
    dc_node_t *n = i >= 0 ? dc_node_ref(self->items[i]) : NULL;
    pthread_rwlock_unlock(&self->lock);
    return n;
}

size_t dc_nodes_find(dc_nodes_t *self, dc_str_t capability, dc_node_t ***out)
{
    pthread_rwlock_rdlock(&self->lock);
    dc_node_t **found = malloc((self->count ? self->count : 1) * sizeof *found);
    size_t n = 0;
    if (found)
        for (size_t i = 0; i < self->count; i++)
            if (!capability.ptr || dc_node_has_capability(self->items[i], capability))
                found[n++] = dc_node_ref(self->items[i]);
    pthread_rwlock_unlock(&self->lock);
    *out = found;
    return found ? n : (size_t)-1;
}

void dc_nodes_release(dc_node_t **nodes, size_t count)
{
    for (size_t i = 0; i < count; i++)
        dc_node_unref(&nodes[i]);
    free(nodes);
}

dc_node_t *dc_nodes_peek(dc_nodes_t *self, dc_str_t name)
{
    ssize_t i = s_index(self, name);
    return i >= 0 ? self->items[i] : NULL;
}

int dc_nodes_put(dc_nodes_t *self, dc_node_t *n)
{
    pthread_rwlock_wrlock(&self->lock);
    ssize_t i = s_index(self, dc_str_from(n->name));
    dc_node_t *old = NULL;
    int rc = 0;
    if (i >= 0) {
        old = self->items[i];
        self->items[i] = n;
    } else {
        if (self->count == self->cap) {
            size_t cap = self->cap ? self->cap * 2 : 16;
            dc_node_t **grown = realloc(self->items, cap * sizeof *grown);
            if (!grown)
                rc = -1;
            else {
                self->items = grown;
                self->cap = cap;
            }
        }
        if (rc == 0)
            self->items[self->count++] = n;
    }
    pthread_rwlock_unlock(&self->lock);
    dc_node_unref(&old);
    return rc;
}

int dc_nodes_remove(dc_nodes_t *self, dc_str_t name)
{
    pthread_rwlock_wrlock(&self->lock);
    ssize_t i = s_index(self, name);
    dc_node_t *old = NULL;
    if (i >= 0) {
        old = self->items[i];
        self->items[i] = self->items[--self->count];
    }
    pthread_rwlock_unlock(&self->lock);
    int rc = old ? 0 : -1;
    dc_node_unref(&old);
    return rc;
}
