/* dc_reply.h: a discovery reply, encoded by the daemon and decoded by clients.
 *
 * Outer keys in the order Python's DiscoveryResponse packs them: status,
 * message, topic_info (LOOKUP hit), topics (LIST, only when non-empty); the
 * protocol 2 keys follow and are sent only to clients that declared v2. */
#ifndef DC_REPLY_H
#define DC_REPLY_H

#include "dc_mp.h"

/* A borrowed byte range (a pre-encoded TopicInfo blob). */
typedef struct {
    const uint8_t *data;
    size_t size;
} dc_blob_t;

/* One named counter for the STATS reply. */
typedef struct {
    const char *name;
    uint64_t value;
} dc_stat_t;

typedef struct {
    int status;
    const char *message; /* NUL-terminated; NULL means "" */
    dc_blob_t topic_info; /* data NULL: absent */
    const dc_blob_t *topics;
    size_t topic_count;
    /* Protocol 2 (encoded only when version >= 2). */
    int version;
    uint64_t epoch;
    uint64_t member_id, term; /* cluster: the answering member and its term (0: standalone) */
    dc_blob_t members;        /* MEMBERS: a pre-encoded array of member maps, or absent */
    bool has_lease;
    uint64_t lease_id, lease_ttl_ms;
    const dc_stat_t *stats;
    size_t stat_count;
    const char *reason; /* NULL: absent */
    /* Per-topic metadata maps for a v2 LIST, parallel to topics; each entry is
     * a pre-encoded msgpack map or {NULL, 0}. NULL array: absent. */
    const dc_blob_t *topic_metadata;
    dc_blob_t metadata; /* LOOKUP hit, v2: pre-encoded map, or absent */
    dc_blob_t nodes;    /* v2: pre-encoded array of node maps, or absent */
    dc_blob_t publishers; /* v2 LOOKUP/WAIT hit: pre-encoded array of publisher maps
                             (PROTOCOL.md), or absent */
    dc_blob_t mismatch;   /* v2 SUBSCRIBE, and LOOKUP/WAIT naming a subscriber: pre-encoded
                             array of the publishers whose type differs, or absent */
    dc_blob_t extra;      /* v2: extra_pairs pre-encoded key/value pairs of the map (GRAPH) */
    uint32_t extra_pairs;
    bool provisional;     /* v2 write reply: taken by an isolated member, merged later */
    bool isolated;        /* v2: the answering member is cut off from its cluster */
    uint64_t provisional_count; /* with isolated: the writes it holds to merge */
} dc_reply_t;

/* Appends the msgpack of r to out. Returns 0, or -1 when out of memory. */
int dc_reply_encode(const dc_reply_t *r, msgpack_sbuffer *out);

/* A decoded reply (client side). Its strings, blobs and objects point into
 * the view's own copy of the bytes (msgpack-c's unpacker does not copy str and
 * bin: they point into whatever buffer it was given), so the buffer passed to
 * dc_reply_decode may be freed at once; everything lives until
 * dc_reply_view_release. */
typedef struct {
    int64_t status;
    dc_str_t message;
    dc_blob_t topic_info;            /* data NULL when absent */
    const msgpack_object *topics;    /* array of bin, or NULL */
    int version;                     /* 2 when the daemon sent "v" */
    uint64_t epoch;
    uint64_t member_id, term;        /* cluster member that answered (0: standalone) */
    const msgpack_object *members;   /* MEMBERS: array of member maps, or NULL */
    bool has_lease;
    uint64_t lease_id, lease_ttl_ms;
    const msgpack_object *stats;     /* map, or NULL */
    const msgpack_object *nodes;     /* array, or NULL */
    const msgpack_object *metadata;  /* map, or NULL */
    const msgpack_object *topic_metadata; /* array parallel to topics, or NULL */
    const msgpack_object *publishers;     /* LOOKUP/WAIT: array of publisher maps, or NULL */
    const msgpack_object *mismatch;       /* SUBSCRIBE, LOOKUP/WAIT: array, or NULL */
    const msgpack_object *subscriptions;  /* GRAPH: array of subscription maps, or NULL */
    const msgpack_object *lookups;        /* GRAPH: array of legacy lookup counts, or NULL */
    const msgpack_object *mismatches;     /* GRAPH: array of mismatch maps, or NULL */
    bool provisional;                     /* a write taken by an isolated member */
    bool isolated;                        /* the answering member is isolated */
    uint64_t provisional_count;
    dc_str_t reason;
    msgpack_unpacked storage_;
    void *bytes_; /* the copy the views point into */
} dc_reply_view_t;

/* Decodes a reply from untrusted bytes (copied: data need not outlive the
 * call). On success the caller must dc_reply_view_release(v). Returns 0, or
 * -1 with a message in err. */
int dc_reply_decode(dc_reply_view_t *v, const void *data, size_t size, char *err);
void dc_reply_view_release(dc_reply_view_t *v);

#endif
