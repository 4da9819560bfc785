/* dc_quick_reply.c: the answers that need no more than a hash lookup, and
 * a found topic's LOOKUP/WAIT answer (see the .h). */
#include "dc_quick_reply.h"
#include "dc_clock.h"
#include "dc_lookups.h"
#include "dc_mismatch.h"
#include "dc_overlay.h"
#include "dc_protocol.h"

#include <stdio.h>
#include <string.h>

/* Fills r's topic_info and metadata with the registration a single-publisher
 * client gets (the most recent), and for protocol 2 its publishers (packed
 * into buf) with every registration of the topic. */
static void s_fill_publishers(dc_reply_t *r, dc_entry_t **entries, size_t count, size_t newest,
                              uint64_t here, msgpack_sbuffer *buf)
{
    r->topic_info = entries[newest]->blob;
    r->metadata = entries[newest]->metadata;
    if (r->version < 2)
        return;
    msgpack_packer pk;
    msgpack_packer_init(&pk, buf, msgpack_sbuffer_write);
    dc_entry_pack_publishers(entries, count, here, &pk);
    r->publishers = (dc_blob_t){(const uint8_t *)buf->data, buf->size};
}


void dc_found_release(dc_found_t *f)
{
    if (f->entries == f->small)
        for (size_t i = 0; i < f->count; i++)
            dc_entry_unref(&f->small[i]);
    else if (f->entries)
        dc_registry_release_snapshot(f->entries, f->count);
    f->entries = NULL;
}

/* name's registrations in registry into f; -1 when it has none. */
static int s_found_in(dc_registry_t *registry, dc_str_t name, int version, dc_found_t *f,
                      size_t *newest)
{
    *newest = 0;
    memset(f, 0, sizeof *f);
    if (version < 2) {
        /* Legacy: one TopicInfo, no array to build. */
        if (!(f->small[0] = dc_registry_lookup(registry, name)))
            return -1;
        f->entries = f->small;
        f->count = 1;
        return 0;
    }
    f->count = dc_registry_lookup_into(registry, name, f->small, DC_FOUND_SMALL, newest);
    if (f->count > 0 && f->count <= DC_FOUND_SMALL)
        f->entries = f->small;
    else if (f->count > DC_FOUND_SMALL)
        f->count = dc_registry_lookup_all(registry, name, &f->entries, newest);
    if (f->count == 0 || f->count == (size_t)-1) {
        memset(f, 0, sizeof *f);
        return -1;
    }
    return 0;
}

int dc_found(dc_context_t *ctx, dc_str_t name, dc_reply_t *r, msgpack_sbuffer *buf,
             dc_found_t *f)
{
    uint64_t here = r->isolated ? atomic_load(&ctx->cluster.member_id) : 0;
    size_t newest;
    /* The registry first, then the overlay (dc_overlay_lookup says why). */
    uint64_t mark = dc_overlay_mark(ctx->merging);
    int rc = s_found_in(ctx->registry, name, r->version, f, &newest);
    if (!dc_overlay_alone(ctx->merging, mark)) {
        /* A member back from an island, merging: a name the island changed
         * is answered as this computer was told (dc_overlay.h). */
        dc_found_release(f);
        memset(f, 0, sizeof *f);
        f->count = dc_overlay_lookup(ctx->merging, ctx->registry, name, &f->entries, &newest);
        if (f->count == 0 || f->count == (size_t)-1) {
            memset(f, 0, sizeof *f);
            return -1;
        }
    } else if (rc != 0)
        return -1;
    r->status = DC_STATUS_OK;
    s_fill_publishers(r, f->entries, f->count, newest, here, buf);
    return 0;
}

/* A protocol 2 subscriber naming itself (LOOKUP, WAIT) is told of the
 * publishers it cannot decode: packed after them in publishers, from *at. */
static void s_mismatch(dc_context_t *ctx, const dc_request_t *req, dc_reply_t *r,
                       msgpack_sbuffer *publishers, size_t *at)
{
    if (req->version < 2 || !(req->present & DC_REQ_NODE_NAME))
        return;
    *at = publishers->size;
    if (dc_mismatch_for(ctx->registry, ctx->subs, req->topic_name, req->node_name, publishers))
        r->mismatch = (dc_blob_t){NULL, publishers->size - *at};
}

int dc_quick_reply(dc_context_t *ctx, const dc_request_t *req, msgpack_sbuffer *out,
                   msgpack_sbuffer *scratch)
{
    uint64_t t0 = req->command == DC_CMD_LOOKUP_TOPIC ? dc_mono_us() : 0;
    dc_reply_t r;
    memset(&r, 0, sizeof r);
    r.version = req->version;
    dc_context_stamp(ctx, &r);
    dc_found_t found = {0};
    msgpack_sbuffer local;
    msgpack_sbuffer_init(&local);
    msgpack_sbuffer *publishers = scratch ? scratch : &local;
    msgpack_sbuffer_clear(publishers);
    char message[DC_MAX_NAME_LEN + 32];
    size_t mismatch_at = 0;
    if (req->command == DC_CMD_PING) {
        r.status = DC_STATUS_OK;
        r.message = "pong";
    } else if (req->command == DC_CMD_LOOKUP_TOPIC) {
        DC_STAT_INC(ctx, lookups);
        if (!(req->present & DC_REQ_TOPIC_NAME) || req->topic_name.len == 0) {
            r.status = DC_STATUS_ERROR;
            r.message = "Missing topic_name in lookup request";
            DC_STAT_INC(ctx, errors);
        } else if (dc_found(ctx, req->topic_name, &r, publishers, &found) != 0) {
            snprintf(message, sizeof message, "Topic %.*s not found", (int)req->topic_name.len,
                     req->topic_name.ptr);
            r.status = DC_STATUS_NOT_FOUND;
            r.message = message;
        } else
            s_mismatch(ctx, req, &r, publishers, &mismatch_at);
        if (req->version < 2 && (req->present & DC_REQ_TOPIC_NAME)) {
            DC_STAT_INC(ctx, legacy_lookups);
            dc_lookups_note(ctx->lookups, req->topic_name, dc_wall_ms());
        }
    } else if (req->command == DC_CMD_WAIT_TOPIC && (req->present & DC_REQ_TOPIC_NAME) &&
               req->topic_name.len > 0) {
        if (dc_found(ctx, req->topic_name, &r, publishers, &found) != 0) {
            msgpack_sbuffer_destroy(&local);
            return 1; /* not there: held by the writer (who hands it there counts it) */
        }
        DC_STAT_INC(ctx, waits);
        s_mismatch(ctx, req, &r, publishers, &mismatch_at);
    } else if (req->command == DC_CMD_HEARTBEAT && (req->present & DC_REQ_LEASE_ID)) {
        DC_STAT_INC(ctx, heartbeats);
        uint64_t ttl = dc_leases_heartbeat(ctx->leases, req->lease_id, dc_mono_ms(), dc_wall_ms());
        if (ttl) {
            r.status = DC_STATUS_OK;
            r.has_lease = true;
            r.lease_id = req->lease_id;
            r.lease_ttl_ms = ttl;
        } else {
            snprintf(message, sizeof message, "Lease %llu not found",
                     (unsigned long long)req->lease_id);
            r.status = DC_STATUS_NOT_FOUND;
            r.message = message;
        }
    } else
        return -1;
    /* The publishers buffer may have grown while the mismatch was packed
     * after them: point both at where they are now. */
    if (r.publishers.data)
        r.publishers.data = (const uint8_t *)publishers->data;
    if (r.mismatch.size)
        r.mismatch.data = (const uint8_t *)publishers->data + mismatch_at;
    int rc = dc_reply_encode(&r, out);
    dc_stat_reply(&ctx->stats, req->command, r.status);
    if (t0)
        dc_histogram_observe(&ctx->stats.lookup_us, dc_mono_us() - t0);
    dc_found_release(&found);
    msgpack_sbuffer_destroy(&local);
    return rc;
}

