/* dc_record.h: the change record, the unit of durability and replication.
 *
 * Every durable change to the registry is one dc_rec_t: a topic or a
 * subscription put or removed, a lease granted, checkpointed or removed, a node put or removed,
 * the epoch raised, or the answer given to a request_id (so a retry is
 * answered once, whichever member it reaches). A batch of them travels as one
 * versioned msgpack record:
 *
 *   [DC_RECORD_VERSION, [change, change, ...]]
 *
 * each change an array whose first element is its kind (proto/PROTOCOL.md,
 * part 4, lists the fields). A snapshot of the whole state is a record too:
 * the puts that rebuild it, then one SEQS change. Decoding accepts extra
 * trailing fields in a change (a newer minor format) and refuses unknown
 * kinds and versions it does not know, so a member never applies what it
 * cannot read (a version 1 reader would take a version 2 removal of one
 * publisher for a removal of the whole name). */
#ifndef DC_RECORD_H
#define DC_RECORD_H

#include "dc_topic.h"

/* 2: TOPIC_REMOVE names the registration's node (several publishers per
 * topic); TOPIC_PUT, NODE_PUT and LEASE_GRANT end with their owner (the
 * client key that wrote them, CURVE). Version 1 records are still read: their
 * TOPIC_REMOVE has no node and removes the name's one registration, and what
 * they put is owned by the ipc side. */
/* 3: subscriptions (SUB_PUT, SUB_REMOVE); a version 2 reader refuses them
 * rather than skip them. Versions 1 and 2 are still read. */
#define DC_RECORD_VERSION 3
#define DC_RECORD_VERSION_MIN 1

typedef enum {
    DC_REC_TOPIC_PUT = 1,    /* topic, create_seq, lease_id, at_ms (registered), metadata,
                                value (origin: the member it came in at; 0 standalone),
                                owner */
    DC_REC_TOPIC_REMOVE = 2, /* topic.name, reason, topic.publisher_node (version 2;
                                nil or absent: the name's one registration) */
    DC_REC_LEASE_GRANT = 3,  /* lease_id, ttl_ms, at_ms (granted, wall clock), owner */
    DC_REC_LEASE_REMOVE = 4, /* lease_id, reason */
    DC_REC_NODE_PUT = 5,     /* topic.name (node name), text (description),
                                capabilities, metadata, lease_id, owner */
    DC_REC_NODE_REMOVE = 6,  /* topic.name (node name), reason */
    DC_REC_LEASE_RENEW = 7,  /* lease_id, at_ms: a renewal checkpoint */
    DC_REC_EPOCH = 8,        /* value: the new epoch */
    DC_REC_REQUEST = 9,      /* value (request_id), status, text (message), lease_id, ttl_ms */
    DC_REC_SEQS = 10,        /* seqs: change, lease and event counters (snapshots);
                                value: the Raft index the snapshot holds (0: none) */
    DC_REC_MEMBER = 11,      /* value (member id), text (its forwarding endpoint; "" forgets it) */
    DC_REC_SUB_PUT = 12,     /* a subscription: the fields of TOPIC_PUT but the address
                                (topic.publisher_node: the subscriber's node; topic.message_type
                                and fingerprint: what it expects) */
    DC_REC_SUB_REMOVE = 13   /* topic.name, reason, topic.publisher_node (the subscriber) */
} dc_rec_kind_t;

/* Why something was removed. Numbers are part of the record format. */
typedef enum {
    DC_REASON_NONE = 0,
    DC_REASON_UNREGISTERED = 1,
    DC_REASON_REVOKED = 2,
    DC_REASON_EXPIRED = 3,
    DC_REASON_ENDPOINT_DEAD = 4,
    DC_REASON_LEGACY_TTL = 5
} dc_reason_t;
#define DC_REASON_MAX DC_REASON_LEGACY_TTL

/* The reason's name as events and logs show it ("expired", ...). */
const char *dc_reason_name(dc_reason_t reason);

/* One change; strings and byte ranges are views (borrowed). */
typedef struct {
    dc_rec_kind_t kind;
    dc_reason_t reason;
    dc_topic_t topic;
    uint64_t create_seq;
    uint64_t lease_id;
    uint64_t ttl_ms;
    uint64_t at_ms;
    uint64_t left_ms; /* LEASE_GRANT: the time its lease has when applied (0: its TTL) */
    uint64_t value;
    int status;
    dc_str_t text;
    const uint8_t *metadata; /* one msgpack map, or NULL */
    size_t metadata_size;
    const uint8_t *capabilities; /* one msgpack array of str */
    size_t capabilities_size;
    uint64_t seqs[3];
    dc_str_t owner; /* TOPIC_PUT, SUB_PUT, NODE_PUT, LEASE_GRANT: the writer's client key ("": ipc side) */
} dc_rec_t;

/* Starts a record of count changes in pk; pack exactly count after it. */
void dc_record_begin(msgpack_packer *pk, size_t count);
/* Packs one change. */
void dc_record_pack(msgpack_packer *pk, const dc_rec_t *c);

/* Decodes and validates a record from untrusted bytes, calling fn for each
 * change in order (views valid during the call only). Every change is
 * validated before fn sees the first, so a bad record applies nothing.
 * Returns 0; -1 with err set when the record is malformed (nothing called);
 * or fn's non-zero result, which stops the walk. */
int dc_record_decode(const void *data, size_t size, int (*fn)(void *arg, const dc_rec_t *c),
                     void *arg, char *err);

/* Decodes and validates one change (an element of a record's change array,
 * or a change embedded elsewhere). Views point into o. Returns 0, or -1 with
 * err set. */
int dc_record_decode_change(const msgpack_object *o, dc_rec_t *c, char *err);

#endif
