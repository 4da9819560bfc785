/* test_node.c: nodes from a request's node map and from stored parts, the
 * node map they pack to, capability search, replace and remove. */
#include "dc_node.h"
#include "dc_test.h"

static dc_node_t *s_node(const char *name, const char *cap)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    dc_mp_pack_str(&pk, "name", 4);
    dc_mp_pack_str(&pk, name, (size_t)-1);
    dc_mp_pack_str(&pk, "description", 11);
    dc_mp_pack_str(&pk, "desc", 4);
    dc_mp_pack_str(&pk, "capabilities", 12);
    msgpack_pack_array(&pk, 1);
    dc_mp_pack_str(&pk, cap, (size_t)-1);
    dc_mp_pack_str(&pk, "metadata", 8);
    msgpack_pack_map(&pk, 1);
    dc_mp_pack_str(&pk, "room", 4);
    dc_mp_pack_str(&pk, "lab", 3);
    msgpack_unpacked u;
    char err[DC_ERR_LEN];
    dc_mp_unpack(&u, buf.data, buf.size, err);
    dc_node_t *n = dc_node_from_object(&u.data, 9);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);
    return n;
}

int main(void)
{
    dc_node_t *n = s_node("temp", "temperature");
    CHECK(n && !strcmp(n->name, "temp") && !strcmp(n->description, "desc"));
    CHECK(n->capability_count == 1 && dc_node_has_capability(n, dc_str_from("temperature")));
    CHECK(!dc_node_has_capability(n, dc_str_from("temp")));
    CHECK(n->lease_id == 9 && n->metadata.data != NULL);

    /* Stored parts round-trip to the same node. */
    dc_node_t *copy = dc_node_from_parts(n->name, n->description, n->capabilities_blob.data,
                                         n->capabilities_blob.size, n->metadata.data,
                                         n->metadata.size, n->lease_id);
    CHECK(copy && copy->capability_count == 1 && !strcmp(copy->capabilities[0], "temperature"));

    /* The packed node map carries the six keys of PROTOCOL.md. */
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    const char *topics[] = {"/t1", "/t2"};
    dc_node_pack(copy, &pk, topics, 2);
    msgpack_unpacked u;
    char err[DC_ERR_LEN];
    CHECK(dc_mp_unpack(&u, buf.data, buf.size, err) == 0);
    CHECK(u.data.type == MSGPACK_OBJECT_MAP && u.data.via.map.size == 6);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&buf);

    dc_nodes_t *t = dc_nodes_new();
    CHECK(dc_nodes_put(t, n) == 0);
    CHECK(dc_nodes_put(t, s_node("arm", "manipulation")) == 0);
    CHECK(dc_nodes_put(t, copy) == 0); /* same name: replaces */
    CHECK(dc_nodes_count(t) == 2);
    dc_node_t **found = NULL;
    size_t k = dc_nodes_find(t, dc_str_from("manipulation"), &found);
    CHECK(k == 1 && !strcmp(found[0]->name, "arm"));
    dc_nodes_release(found, k);
    k = dc_nodes_find(t, (dc_str_t){NULL, 0}, &found);
    CHECK(k == 2);
    dc_nodes_release(found, k);
    dc_node_t *got = dc_nodes_get(t, dc_str_from("temp"));
    CHECK(got == copy);
    dc_node_unref(&got);
    CHECK(dc_nodes_remove(t, dc_str_from("temp")) == 0);
    CHECK(dc_nodes_remove(t, dc_str_from("temp")) == -1);
    CHECK(dc_nodes_get(t, dc_str_from("temp")) == NULL);
    dc_nodes_destroy(&t);
    DC_TEST_END();
}
