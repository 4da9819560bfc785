/* discod_cluster.c: the cluster calls of the client library: members and
 * membership changes (see discod.h). */
#include "discod_internal.h"
#include "dc_protocol.h"

#include <stdlib.h>
#include <string.h>

static char *s_str(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return strdup("");
    return dc_str_dup((dc_str_t){o->via.str.ptr, o->via.str.size});
}

static uint64_t s_uint(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

/* Fills m from one member map; 0, or -1 when out of memory. */
static int s_member(const msgpack_object *map, discod_member_t *m)
{
    memset(m, 0, sizeof *m);
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
        if (dc_mp_key_is(k, "id"))
            m->id = s_uint(v);
        else if (dc_mp_key_is(k, "address"))
            m->address = s_str(v);
        else if (dc_mp_key_is(k, "voting"))
            m->voting = s_str(v);
        else if (dc_mp_key_is(k, "role"))
            m->role = s_str(v);
        else if (dc_mp_key_is(k, "leader"))
            m->leader = s_uint(v);
        else if (dc_mp_key_is(k, "reachable"))
            m->reachable = v->type == MSGPACK_OBJECT_BOOLEAN && v->via.boolean;
        else if (dc_mp_key_is(k, "match_index"))
            m->match_index = s_uint(v);
        else if (dc_mp_key_is(k, "commit_index"))
            m->commit_index = s_uint(v);
        else if (dc_mp_key_is(k, "applied_index"))
            m->applied_index = s_uint(v);
    }
    char **strings[] = {&m->address, &m->voting, &m->role};
    for (int i = 0; i < 3; i++)
        if (!*strings[i] && !(*strings[i] = strdup("")))
            return -1;
    return 0;
}

void discod_members_free(discod_member_t *members, size_t count)
{
    for (size_t i = 0; members && i < count; i++) {
        free(members[i].address);
        free(members[i].voting);
        free(members[i].role);
    }
    free(members);
}

discod_result_t discod_members(discod_client_t *c, discod_member_t **out, size_t *count)
{
    if (!c || !out || !count)
        return DISCOD_INVALID;
    *out = NULL;
    *count = 0;
    if (discod__legacy_only(c))
        return DISCOD_UNSUPPORTED;
    dc_request_t req;
    dc_request_init(&req, DC_CMD_MEMBERS);
    dc_reply_view_t view;
    discod_result_t r = discod__call(c, &req, 0, 0, &view);
    if (r < 0)
        return r;
    r = discod__v2_result(r, &view, view.members != NULL);
    if (r == DISCOD_OK) {
        size_t n = view.members->via.array.size;
        discod_member_t *members = calloc(n ? n : 1, sizeof *members);
        for (size_t i = 0; members && i < n; i++) {
            if (s_member(&view.members->via.array.ptr[i], &members[i]) != 0) {
                discod_members_free(members, i + 1);
                members = NULL;
            }
        }
        if (!members)
            r = DISCOD_NOMEM;
        else {
            *out = members;
            *count = n;
        }
    }
    dc_reply_view_release(&view);
    return r;
}

static discod_result_t s_change(discod_client_t *c, int command, uint64_t id, const char *address)
{
    dc_request_t req;
    dc_request_init(&req, command);
    req.present = DC_REQ_MEMBER_ID;
    req.member_id = id;
    if (address) {
        req.present |= DC_REQ_MEMBER_ADDRESS;
        req.member_address = dc_str_from(address);
    }
    /* A change waits for the cluster (catching a new member up, an
     * election): one try, with room for it. */
    dc_reply_view_t view;
    discod_result_t r = discod__call(c, &req, 15000, 1, &view);
    if (r >= 0)
        dc_reply_view_release(&view);
    return r;
}

discod_result_t discod_member_add(discod_client_t *c, uint64_t id, const char *address)
{
    if (!c || !id || !discod__valid_text(address, 200) || !*address)
        return DISCOD_INVALID;
    return s_change(c, DC_CMD_MEMBER_ADD, id, address);
}

discod_result_t discod_member_remove(discod_client_t *c, uint64_t id)
{
    if (!c || !id)
        return DISCOD_INVALID;
    return s_change(c, DC_CMD_MEMBER_REMOVE, id, NULL);
}

discod_result_t discod_member_transfer(discod_client_t *c, uint64_t id)
{
    if (!c)
        return DISCOD_INVALID;
    return s_change(c, DC_CMD_MEMBER_TRANSFER, id, NULL);
}
