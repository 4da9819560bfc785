/* fuzz_envelope.c: libFuzzer target for the front's per-message path: the
 * input is split into frames (each prefixed by a one-byte length), the
 * envelope is classified as the front does, and a well-formed body goes
 * through the decoder and the inline answer (PING, LOOKUP, HEARTBEAT) against
 * a small real registry and lease table. The whole input also goes to the
 * datagram channel's answer, which must always be a reply a client decodes. */
#include "dc_context.h"
#include "dc_datagram.h"
#include "dc_envelope.h"
#include "dc_reply.h"
#include "dc_quick_reply.h"

#include <string.h>

static dc_context_t s_ctx;
static dc_config_t s_config;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    dc_config_defaults(&s_config);
    s_ctx.config = &s_config;
    s_ctx.registry = dc_registry_new();
    s_ctx.leases = dc_leases_new();
    s_ctx.nodes = dc_nodes_new();
    s_ctx.epoch = 7;
    const char *names[] = {"/a", "/camera/image", "/x"};
    for (int i = 0; i < 3; i++) {
        dc_topic_t t = {dc_str_from(names[i]), dc_str_from("ipc:///tmp/t"), dc_str_from("T"),
                        dc_str_from("n"), (uint64_t)i};
        dc_registry_put(s_ctx.registry, dc_entry_new(&t, (uint64_t)i + 1, 0, NULL, 0));
    }
    dc_leases_add(s_ctx.leases, dc_lease_new(1, 1000, 0, 0));
    return 0;
}

static void s_datagram(const uint8_t *data, size_t size)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    dc_datagram_answer(&s_ctx, data, size, size > 1024, &out);
    dc_reply_view_t view;
    char err[DC_ERR_LEN];
    if (dc_reply_decode(&view, out.data, out.size, err) != 0)
        __builtin_trap();
    dc_reply_view_release(&view);
    msgpack_sbuffer_destroy(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_datagram(data, size);
    size_t sizes[16];
    const uint8_t *starts[16];
    int count = 0;
    size_t pos = 0;
    while (pos < size && count < 16) {
        size_t len = data[pos++];
        if (len > size - pos)
            len = size - pos;
        starts[count] = data + pos;
        sizes[count++] = len;
        pos += len;
    }
    int delimiter;
    if (dc_envelope_check(sizes, count, 0, &delimiter) != DC_ENVELOPE_OK)
        return 0;
    if (delimiter != count - 2)
        __builtin_trap();
    dc_request_t req;
    char err[DC_ERR_LEN];
    if (dc_request_decode(&req, starts[count - 1], sizes[count - 1], err) != 0)
        return 0;
    msgpack_sbuffer out, scratch;
    msgpack_sbuffer_init(&out);
    msgpack_sbuffer_init(&scratch);
    dc_quick_reply(&s_ctx, &req, &out, &scratch);
    msgpack_sbuffer_destroy(&out);
    msgpack_sbuffer_destroy(&scratch);
    dc_request_release(&req);
    return 0;
}
