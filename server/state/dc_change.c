/* dc_change.c: changes and batches of them (see the .h). */
#include "dc_change.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dc_change_t *dc_changes_add(dc_changes_t *self, dc_rec_kind_t kind)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        dc_change_t *grown = realloc(self->items, cap * sizeof *grown);
        if (!grown)
            return NULL;
        self->items = grown;
        self->cap = cap;
    }
    dc_change_t *c = &self->items[self->count++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    return c;
}

void dc_change_release(dc_change_t *c)
{
    dc_entry_unref(&c->entry);
    dc_node_unref(&c->node);
    free(c->name);
    free(c->publisher_node);
    free(c->text);
    c->name = c->text = c->publisher_node = NULL;
}

void dc_changes_clear(dc_changes_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        dc_change_release(&self->items[i]);
    self->count = 0;
}

void dc_changes_drop_front(dc_changes_t *self, size_t n)
{
    if (n > self->count)
        n = self->count;
    for (size_t i = 0; i < n; i++)
        dc_change_release(&self->items[i]);
    memmove(self->items, self->items + n, (self->count - n) * sizeof *self->items);
    self->count -= n;
}

void dc_changes_truncate(dc_changes_t *self, size_t keep)
{
    while (self->count > keep)
        dc_change_release(&self->items[--self->count]);
}

void dc_changes_free(dc_changes_t *self)
{
    dc_changes_clear(self);
    free(self->items);
    self->items = NULL;
    self->cap = 0;
}

void dc_change_to_rec(const dc_change_t *c, dc_rec_t *r)
{
    memset(r, 0, sizeof *r);
    r->kind = c->kind;
    r->reason = c->reason;
    r->lease_id = c->lease_id;
    r->ttl_ms = c->ttl_ms;
    r->at_ms = c->at_ms;
    r->left_ms = c->left_ms;
    r->value = c->value;
    r->status = c->status;
    r->text = dc_str_from(c->text ? c->text : "");
    memcpy(r->seqs, c->seqs, sizeof r->seqs);
    if (c->name)
        r->topic.name = dc_str_from(c->name);
    if (c->publisher_node)
        r->topic.publisher_node = dc_str_from(c->publisher_node);
    r->owner = dc_str_from(c->owner);
    if (c->entry) {
        const dc_entry_t *e = c->entry;
        r->topic = e->topic;
        r->create_seq = e->create_seq;
        r->lease_id = e->lease_id;
        r->at_ms = e->registered_at_ms;
        r->value = e->origin;
        r->metadata = e->metadata.data;
        r->metadata_size = e->metadata.size;
        r->owner = dc_str_from(e->owner);
    }
    if (c->node) {
        const dc_node_t *n = c->node;
        r->topic.name = dc_str_from(n->name);
        r->text = dc_str_from(n->description);
        r->capabilities = n->capabilities_blob.data;
        r->capabilities_size = n->capabilities_blob.size;
        r->metadata = n->metadata.data;
        r->metadata_size = n->metadata.size;
        r->lease_id = n->lease_id;
        r->owner = dc_str_from(n->owner);
    }
}

/* An owner from a record (at most a key long; none: ""). */
static void s_owner_copy(char dst[DC_KEY_LEN + 1], dc_str_t src)
{
    size_t n = src.ptr && src.len <= DC_KEY_LEN ? src.len : 0;
    if (n)
        memcpy(dst, src.ptr, n);
    dst[n] = 0;
}

int dc_change_from_rec(dc_change_t *c, const dc_rec_t *r)
{
    memset(c, 0, sizeof *c);
    c->kind = r->kind;
    c->reason = r->reason;
    c->lease_id = r->lease_id;
    c->ttl_ms = r->ttl_ms;
    c->at_ms = r->at_ms;
    c->left_ms = r->left_ms;
    c->value = r->value;
    c->status = r->status;
    memcpy(c->seqs, r->seqs, sizeof c->seqs);
    s_owner_copy(c->owner, r->owner);
    switch (r->kind) {
    case DC_REC_TOPIC_PUT:
    case DC_REC_SUB_PUT:
        c->entry =
            dc_entry_new(&r->topic, r->create_seq, r->lease_id, r->metadata, r->metadata_size);
        if (!c->entry)
            return -1;
        c->entry->registered_at_ms = r->at_ms;
        c->entry->origin = r->value;
        s_owner_copy(c->entry->owner, r->owner);
        return 0;
    case DC_REC_NODE_PUT: {
        char *name = dc_str_dup(r->topic.name), *description = dc_str_dup(r->text);
        if (name && description)
            c->node = dc_node_from_parts(name, description, r->capabilities, r->capabilities_size,
                                         r->metadata, r->metadata_size, r->lease_id);
        free(name);
        free(description);
        if (c->node)
            s_owner_copy(c->node->owner, r->owner);
        return c->node ? 0 : -1;
    }
    case DC_REC_TOPIC_REMOVE:
    case DC_REC_SUB_REMOVE:
        c->name = dc_str_dup(r->topic.name);
        if (c->name && r->topic.publisher_node.ptr &&
            !(c->publisher_node = dc_str_dup(r->topic.publisher_node))) {
            free(c->name);
            c->name = NULL;
        }
        return c->name ? 0 : -1;
    case DC_REC_NODE_REMOVE:
        c->name = dc_str_dup(r->topic.name);
        return c->name ? 0 : -1;
    case DC_REC_REQUEST:
    case DC_REC_MEMBER:
        c->text = dc_str_dup(r->text);
        return c->text ? 0 : -1;
    default:
        return 0;
    }
}

int dc_changes_encode(const dc_changes_t *self, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    dc_record_begin(&pk, self->count);
    for (size_t i = 0; i < self->count; i++) {
        dc_rec_t r;
        dc_change_to_rec(&self->items[i], &r);
        dc_record_pack(&pk, &r);
    }
    return buf->data || self->count == 0 ? 0 : -1;
}

static int s_add_decoded(void *arg, const dc_rec_t *r)
{
    dc_changes_t *self = arg;
    dc_change_t *c = dc_changes_add(self, r->kind);
    if (!c)
        return -1;
    if (dc_change_from_rec(c, r) != 0) {
        self->count--;
        dc_change_release(c);
        return -1;
    }
    return 0;
}

int dc_changes_decode(dc_changes_t *self, const void *data, size_t size, char *err)
{
    size_t before = self->count;
    err[0] = 0;
    int rc = dc_record_decode(data, size, s_add_decoded, self, err);
    if (rc != 0) {
        if (!err[0])
            snprintf(err, DC_ERR_LEN, "record: out of memory");
        while (self->count > before)
            dc_change_release(&self->items[--self->count]);
        return -1;
    }
    return 0;
}
