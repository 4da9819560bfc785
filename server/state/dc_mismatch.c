/* dc_mismatch.c: publishers and subscribers that disagree (see the .h). */
#include "dc_mismatch.h"

bool dc_mismatch_between(const dc_entry_t *pub, const dc_entry_t *sub)
{
    if (sub->topic.message_type.len && !dc_str_eq(sub->topic.message_type, pub->topic.message_type))
        return true;
    return sub->topic.fingerprint && pub->topic.fingerprint != sub->topic.fingerprint;
}

/* One side of a mismatch: {node, message_type, fingerprint} and, for a
 * publisher, its address. */
static void s_pack_side(const dc_entry_t *e, msgpack_packer *pk, bool address)
{
    unsigned fields = DC_ENTRY_NODE | DC_ENTRY_TYPE | (address ? DC_ENTRY_ADDRESS : 0);
    msgpack_pack_map(pk, dc_entry_pair_count(fields));
    dc_entry_pack_pairs(e, fields, pk);
}

size_t dc_mismatch_pack_publishers(const dc_entry_t *sub, dc_entry_t *const *pubs, size_t count,
                                   msgpack_packer *pk)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        n += dc_mismatch_between(pubs[i], sub);
    if (!n)
        return 0;
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < count; i++)
        if (dc_mismatch_between(pubs[i], sub))
            s_pack_side(pubs[i], pk, true);
    return n;
}

size_t dc_mismatch_for(dc_registry_t *pubs, dc_registry_t *subs, dc_str_t name, dc_str_t node,
                       msgpack_sbuffer *buf)
{
    dc_entry_t **subs_of = NULL;
    size_t sub_count = dc_registry_lookup_all(subs, name, &subs_of, NULL);
    if (sub_count == 0 || sub_count == (size_t)-1)
        return 0;
    const dc_entry_t *mine = NULL;
    for (size_t i = 0; i < sub_count && !mine; i++)
        if (dc_str_eq(subs_of[i]->topic.publisher_node, node))
            mine = subs_of[i];
    size_t n = 0;
    if (mine) {
        dc_entry_t **pubs_of = NULL;
        size_t pub_count = dc_registry_lookup_all(pubs, name, &pubs_of, NULL);
        if (pub_count != (size_t)-1 && pub_count > 0) {
            msgpack_packer pk;
            msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
            n = dc_mismatch_pack_publishers(mine, pubs_of, pub_count, &pk);
            dc_registry_release_snapshot(pubs_of, pub_count);
        }
    }
    dc_registry_release_snapshot(subs_of, sub_count);
    return n;
}

void dc_mismatch_pack(const dc_entry_t *pub, const dc_entry_t *sub, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    dc_mp_pack_str(pk, "topic", 5);
    dc_mp_pack_str(pk, pub->topic.name.ptr, pub->topic.name.len);
    dc_mp_pack_str(pk, "subscriber", 10);
    s_pack_side(sub, pk, false);
    dc_mp_pack_str(pk, "publisher", 9);
    s_pack_side(pub, pk, true);
}

size_t dc_mismatch_each(dc_registry_t *pubs, dc_registry_t *subs, const dc_entry_t *e, bool sub,
                        void (*fn)(void *arg, const dc_entry_t *pub, const dc_entry_t *sub),
                        void *arg)
{
    dc_entry_t **others = NULL;
    size_t count = dc_registry_lookup_all(sub ? pubs : subs, e->topic.name, &others, NULL);
    if (count == 0 || count == (size_t)-1)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const dc_entry_t *o = others[i];
        if (o == e)
            continue;
        const dc_entry_t *p = sub ? o : e, *s = sub ? e : o;
        if (dc_mismatch_between(p, s)) {
            n++;
            if (fn)
                fn(arg, p, s);
        }
    }
    dc_registry_release_snapshot(others, count);
    return n;
}
