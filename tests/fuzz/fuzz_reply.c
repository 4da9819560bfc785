/* fuzz_reply.c: libFuzzer target for what the client library reads from a
 * daemon: the reply decoder and the TopicInfo blobs a reply carries. */
#include "dc_reply.h"
#include "dc_topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dc_reply_view_t v;
    char err[DC_ERR_LEN];
    if (dc_reply_decode(&v, data, size, err) != 0)
        return 0;
    if (v.topic_info.data) {
        dc_topic_t t;
        msgpack_unpacked storage;
        if (dc_topic_decode(&t, &storage, v.topic_info.data, v.topic_info.size, err) == 0)
            msgpack_unpacked_destroy(&storage);
    }
    for (uint32_t i = 0; v.topics && i < v.topics->via.array.size; i++) {
        const msgpack_object *o = &v.topics->via.array.ptr[i];
        dc_topic_t t;
        msgpack_unpacked storage;
        if (o->type == MSGPACK_OBJECT_BIN &&
            dc_topic_decode(&t, &storage, o->via.bin.ptr, o->via.bin.size, err) == 0)
            msgpack_unpacked_destroy(&storage);
    }
    dc_reply_view_release(&v);
    return 0;
}
