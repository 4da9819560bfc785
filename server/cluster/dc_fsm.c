/* dc_fsm.c: the Raft state machine over the registry (see the .h). */
#include "dc_fsm.h"
#include "dc_clock.h"
#include "dc_log.h"
#include "dc_persist.h"
#include "dc_state_copy.h"

#include <string.h>

int dc_fsm_frame(const void *record, size_t size, struct raft_buffer *out)
{
    size_t framed = (4 + size + 7) & ~(size_t)7;
    uint8_t *base = size <= UINT32_MAX ? raft_malloc(framed) : NULL;
    if (!base)
        return -1;
    for (int i = 0; i < 4; i++)
        base[i] = (uint8_t)(size >> (8 * i));
    memcpy(base + 4, record, size);
    memset(base + 4 + size, 0, framed - 4 - size);
    out->base = base;
    out->len = framed;
    return 0;
}

int dc_fsm_propose(struct raft *r, struct raft_apply *req, const dc_changes_t *changes,
                   raft_apply_cb cb)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    struct raft_buffer buf = {NULL, 0};
    if (dc_changes_encode(changes, &sb) != 0 || dc_fsm_frame(sb.data, sb.size, &buf) != 0)
        buf.base = NULL;
    msgpack_sbuffer_destroy(&sb);
    if (!buf.base)
        return RAFT_NOMEM;
    int rc = raft_apply(r, req, &buf, 1, cb);
    if (rc != 0)
        raft_free(buf.base);
    return rc;
}

/* The record inside a frame; false when the frame is malformed. */
static bool s_unframe(const struct raft_buffer *buf, const uint8_t **record, size_t *size)
{
    const uint8_t *p = buf->base;
    if (buf->len < 4)
        return false;
    size_t n = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
    if (n > buf->len - 4)
        return false;
    *record = p + 4;
    *size = n;
    return true;
}

/* The index of the entry being applied: raft applies in order and raises
 * last_applied after each apply returns. */
static uint64_t s_index(dc_fsm_t *f)
{
    return f->r ? (uint64_t)raft_last_applied(f->r) + 1 : f->state->applied_index + 1;
}

/* Entries written into one copy transaction at most. */
#define DC_FSM_TXN_ENTRIES 256

static void s_copy_failed(dc_fsm_t *f)
{
    dc_error("cannot update the database copy (%s): rebuilding it later from memory",
             dc_store_errmsg(f->store));
    dc_store_rollback(f->store);
    f->in_txn = false;
    f->store_stale = true;
}

void dc_fsm_flush(dc_fsm_t *f)
{
    if (!f->in_txn)
        return;
    f->in_txn = false;
    f->txn_entries = 0;
    if (dc_store_commit(f->store) != 0)
        s_copy_failed(f);
}

/* Writes batch (about to be applied) into the copy's open transaction. */
static void s_save(dc_fsm_t *f, const dc_changes_t *batch)
{
    if (!f->store || f->store_stale)
        return;
    if (!f->in_txn) {
        if (dc_store_begin(f->store) != 0) {
            s_copy_failed(f);
            return;
        }
        f->in_txn = true;
    }
    if (dc_persist_rows(f->store, f->state, batch) != 0) {
        s_copy_failed(f);
        return;
    }
    if (++f->txn_entries >= DC_FSM_TXN_ENTRIES)
        dc_fsm_flush(f);
}

static int s_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    dc_fsm_t *f = fsm->data;
    *result = NULL;
    uint64_t index = s_index(f);
    if (index <= f->skip_through)
        return 0; /* in the state already (loaded from the copy) */
    if (f->before)
        f->before(f->before_arg);
    dc_changes_t batch = {0};
    char err[DC_ERR_LEN] = "a bad frame";
    const uint8_t *record;
    size_t size;
    if (!s_unframe(buf, &record, &size) || dc_changes_decode(&batch, record, size, err) != 0) {
        /* Every member skips the same bytes, so they stay alike. */
        dc_error("Raft entry %llu is not a change record this build reads (%s): skipped",
                 (unsigned long long)index, err);
        f->refused++;
        f->state->applied_index = index;
        return 0;
    }
    f->state->applied_index = index;
    s_save(f, &batch);
    uint64_t now = dc_mono_ms();
    for (size_t i = 0; i < batch.count; i++)
        dc_apply(f->state, &batch.items[i], now, f->observer);
    dc_changes_free(&batch);
    f->applied++;
    return 0;
}

static int s_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    dc_fsm_t *f = fsm->data;
    dc_changes_t dump = {0};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc =
        dc_state_dump(f->state, &dump) == 0 && dc_changes_encode(&dump, &sb) == 0 ? 0 : RAFT_NOMEM;
    dc_changes_free(&dump);
    struct raft_buffer *out = rc == 0 ? raft_malloc(sizeof *out) : NULL;
    if (!out || dc_fsm_frame(sb.data, sb.size, out) != 0) {
        raft_free(out);
        msgpack_sbuffer_destroy(&sb);
        return RAFT_NOMEM;
    }
    *bufs = out;
    *n_bufs = 1;
    dc_info("snapshot at Raft index %llu: %zu topic(s), %zu byte(s)",
            (unsigned long long)f->state->applied_index, dc_registry_count(f->state->registry),
            sb.size);
    msgpack_sbuffer_destroy(&sb);
    return 0;
}

/* Replaces the state with the snapshot in data. */
static int s_restore_bytes(dc_fsm_t *f, const struct raft_buffer *buf)
{
    dc_changes_t all = {0};
    char err[DC_ERR_LEN] = "a bad frame";
    const uint8_t *record;
    size_t size;
    if (!s_unframe(buf, &record, &size) || dc_changes_decode(&all, record, size, err) != 0) {
        dc_error("cannot restore a snapshot: %s", err);
        return RAFT_MALFORMED;
    }
    if (f->before)
        f->before(f->before_arg);
    if (dc_state_restore(f->state, &all, dc_mono_ms(), NULL) != 0)
        dc_error("out of memory restoring a snapshot: emptied the state first");
    dc_changes_free(&all);
    if (f->store) {
        dc_fsm_flush(f);
        f->store_stale = dc_persist_rebuild(f->store, f->state) != 0;
        if (f->store_stale)
            dc_error("cannot rewrite the database copy: %s", dc_store_errmsg(f->store));
    }
    dc_info("restored a snapshot at Raft index %llu: %zu topic(s), %zu lease(s)",
            (unsigned long long)f->state->applied_index, dc_registry_count(f->state->registry),
            dc_leases_count(f->state->leases));
    return 0;
}

static int s_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    dc_fsm_t *f = fsm->data;
    if (f->starting && f->skip_through && !f->held.base) {
        /* At start: the copy may already hold this snapshot and more. Keep it
         * until dc_fsm_check_start has compared the copy with the log. */
        f->held = *buf;
        return 0;
    }
    int rc = s_restore_bytes(f, buf);
    if (rc == 0)
        raft_free(buf->base); /* ours once restored */
    return rc;
}

void dc_fsm_init(dc_fsm_t *f, dc_state_t *state, dc_store_t *store, const dc_observer_t *observer)
{
    memset(f, 0, sizeof *f);
    f->raft.version = 1;
    f->raft.data = f;
    f->raft.apply = s_apply;
    f->raft.snapshot = s_snapshot;
    f->raft.restore = s_restore;
    f->state = state;
    f->store = store;
    f->observer = observer;
    f->skip_through = state->applied_index;
    f->starting = true;
}

void dc_fsm_attach(dc_fsm_t *f, struct raft *r)
{
    f->r = r;
}

int dc_fsm_check_start(dc_fsm_t *f)
{
    f->starting = false;
    uint64_t last = f->r ? (uint64_t)raft_last_index(f->r) : 0;
    uint64_t snapshot = f->r ? (uint64_t)f->r->log.snapshot.last_index : 0;
    int rc = 0;
    if (f->skip_through > last) {
        dc_error("the database copy holds Raft index %llu but the log ends at %llu: the log "
                 "wins, the copy is discarded and rebuilt from the log",
                 (unsigned long long)f->skip_through, (unsigned long long)last);
        f->skip_through = 0;
        dc_state_reset(f->state);
        if (f->held.base)
            rc = s_restore_bytes(f, &f->held);
        else if (f->store) {
            dc_fsm_flush(f);
            f->store_stale = dc_persist_rebuild(f->store, f->state) != 0;
        }
    } else if (f->held.base && f->skip_through < snapshot) {
        dc_info("the database copy (Raft index %llu) is older than the snapshot (%llu): "
                "restoring the snapshot",
                (unsigned long long)f->skip_through, (unsigned long long)snapshot);
        rc = s_restore_bytes(f, &f->held);
    }
    raft_free(f->held.base);
    f->held.base = NULL;
    return rc == 0 ? 0 : -1;
}

void dc_fsm_close(dc_fsm_t *f)
{
    if (f->store)
        dc_fsm_flush(f);
    raft_free(f->held.base);
    f->held.base = NULL;
}
