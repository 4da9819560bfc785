/* dc_cluster_op.c: cluster ops, their lists and the forwarded answer (see
 * the .h). */
#include "dc_cluster_op.h"

#include <string.h>

void dc_cops_push(dc_cop_list_t *l, dc_cop_t *c)
{
    c->next = NULL;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
    l->count++;
}

dc_cop_t *dc_cops_pop(dc_cop_list_t *l)
{
    dc_cop_t *c = l->head;
    if (c) {
        l->head = c->next;
        if (!l->head)
            l->tail = NULL;
        l->count--;
        c->next = NULL;
    }
    return c;
}

void dc_cops_prepend(dc_cop_list_t *to, dc_cop_list_t *from)
{
    if (!from->head)
        return;
    from->tail->next = to->head;
    if (!to->tail)
        to->tail = from->tail;
    to->head = from->head;
    to->count += from->count;
    *from = (dc_cop_list_t){0};
}

dc_cop_t *dc_cops_take(dc_cop_list_t *l, uint64_t fwd_id)
{
    dc_cop_t **link = &l->head, *prev = NULL;
    while (*link && (*link)->fwd_id != fwd_id) {
        prev = *link;
        link = &(*link)->next;
    }
    dc_cop_t *c = *link;
    if (!c)
        return NULL;
    *link = c->next;
    if (l->tail == c)
        l->tail = prev;
    l->count--;
    c->next = NULL;
    return c;
}

void dc_cop_answer_pack(msgpack_sbuffer *buf, const dc_outcome_t *out, uint64_t index)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 6);
    msgpack_pack_int(&pk, out->status);
    dc_mp_pack_str(&pk, out->message, (size_t)-1);
    if (out->has_lease)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    msgpack_pack_uint64(&pk, out->lease_id);
    msgpack_pack_uint64(&pk, out->lease_ttl_ms);
    msgpack_pack_uint64(&pk, index);
}

int dc_cop_answer_unpack(const void *data, size_t size, dc_outcome_t *out, uint64_t *index)
{
    msgpack_unpacked u;
    char err[DC_ERR_LEN];
    if (dc_mp_unpack(&u, data, size, err) != 0)
        return -1;
    const msgpack_object *a = &u.data;
    int rc = -1;
    dc_str_t message;
    if (a->type == MSGPACK_OBJECT_ARRAY && a->via.array.size >= 6) {
        const msgpack_object *f = a->via.array.ptr;
        uint64_t status;
        if (dc_mp_get_uint(&f[0], &status, "status", err) == 0 && status <= DC_STATUS_ERROR &&
            dc_mp_get_str(&f[1], &message, sizeof out->message - 1, true, "message", err) == 0 &&
            f[2].type == MSGPACK_OBJECT_BOOLEAN &&
            dc_mp_get_uint(&f[3], &out->lease_id, "lease_id", err) == 0 &&
            dc_mp_get_uint(&f[4], &out->lease_ttl_ms, "ttl", err) == 0 &&
            dc_mp_get_uint(&f[5], index, "index", err) == 0) {
            out->status = (int)status;
            memcpy(out->message, message.ptr, message.len);
            out->message[message.len] = 0;
            out->has_lease = f[2].via.boolean;
            rc = 0;
        }
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}
