/* fuzz_record.c: libFuzzer target for what cluster members send each other:
 * change records (a Raft entry or snapshot, applied to a fresh state, then
 * dumped and encoded again: the re-encoded state must decode) and forwarded
 * write ops. Bytes from a peer may be refused, never crash, leak or corrupt. */
#include "dc_state_copy.h"
#include "dc_write_op.h"

#include <stdlib.h>

static void s_state(dc_state_t *s)
{
    *s = (dc_state_t){.registry = dc_registry_new(),
                      .subs = dc_registry_new(),
                      .leases = dc_leases_new(),
                      .nodes = dc_nodes_new(),
                      .dedup = dc_dedup_new()};
}

static void s_free(dc_state_t *s)
{
    dc_registry_destroy(&s->registry);
    dc_registry_destroy(&s->subs);
    dc_leases_destroy(&s->leases);
    dc_nodes_destroy(&s->nodes);
    dc_dedup_destroy(&s->dedup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dc_log_set_level(DC_LOG_ERROR);
    char err[DC_ERR_LEN];
    dc_changes_t changes = {0};
    if (dc_changes_decode(&changes, data, size, err) == 0) {
        dc_state_t state;
        s_state(&state);
        for (size_t i = 0; i < changes.count; i++)
            dc_apply(&state, &changes.items[i], 1000, NULL);
        dc_changes_t dump = {0};
        msgpack_sbuffer buf;
        msgpack_sbuffer_init(&buf);
        if (dc_state_dump(&state, &dump) == 0 && dc_changes_encode(&dump, &buf) == 0) {
            dc_changes_t again = {0};
            if (dc_changes_decode(&again, buf.data, buf.size, err) != 0)
                abort(); /* a state we hold must always encode to a readable record */
            dc_changes_free(&again);
        }
        msgpack_sbuffer_destroy(&buf);
        dc_changes_free(&dump);
        s_free(&state);
    }
    dc_changes_free(&changes);
    dc_write_op_t *op = dc_write_op_decode(data, size, err);
    dc_write_op_destroy(&op);
    return 0;
}
