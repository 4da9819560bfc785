/* dc_change.h: one registry change as the daemon holds it: the record of
 * proto/dc_record.h with the topic or node already built (reference-counted),
 * and a batch of them.
 *
 * The writer decides changes (dc_decide), persists a batch in one SQLite
 * transaction (dc_persist), then applies it to memory (dc_apply). Loading the
 * database, restoring a snapshot and (in a cluster) applying a replicated
 * record produce the same changes and go through the same dc_apply. */
#ifndef DC_CHANGE_H
#define DC_CHANGE_H

#include "dc_entry.h"
#include "dc_node.h"
#include "dc_record.h"

typedef struct {
    dc_rec_kind_t kind;
    dc_reason_t reason;  /* *_REMOVE */
    dc_entry_t *entry;   /* TOPIC_PUT, SUB_PUT: the new entry (one reference) */
    dc_node_t *node;     /* NODE_PUT: the new node (one reference) */
    char *name;          /* TOPIC_REMOVE, SUB_REMOVE, NODE_REMOVE: the name (owned) */
    char *publisher_node; /* TOPIC_REMOVE: the registration's node (owned; NULL in a
                             version 1 record: the name's one registration);
                             SUB_REMOVE: the subscriber's node */
    uint64_t lease_id;   /* LEASE_*, REQUEST */
    uint64_t ttl_ms;     /* LEASE_GRANT, REQUEST */
    uint64_t at_ms;      /* LEASE_GRANT, LEASE_RENEW: wall clock */
    uint64_t left_ms;    /* LEASE_GRANT: the time its lease has when applied (0: its
                            TTL): a merged island lease keeps what it had left */
    uint64_t value;      /* EPOCH: the epoch; REQUEST: the request_id; MEMBER: its id;
                            SEQS: the Raft index */
    int status;          /* REQUEST */
    char *text;          /* REQUEST: the reply's message; MEMBER: its endpoint (owned) */
    uint64_t seqs[3];    /* SEQS */
    char owner[DC_KEY_LEN + 1]; /* LEASE_GRANT: the client key granted it ("": ipc side);
                                   a topic's or node's owner is in its entry or node */
} dc_change_t;

/* A growable array of changes, in order. */
typedef struct {
    dc_change_t *items;
    size_t count, cap;
} dc_changes_t;

/* Appends a zeroed change of kind. Returns it, or NULL when out of memory. */
dc_change_t *dc_changes_add(dc_changes_t *self, dc_rec_kind_t kind);

/* Drops every change's references and empties the batch (keeps capacity). */
void dc_changes_clear(dc_changes_t *self);

/* Drops the first n changes (their references) and moves the rest up. */
void dc_changes_drop_front(dc_changes_t *self, size_t n);

/* Drops every change from index keep on. */
void dc_changes_truncate(dc_changes_t *self, size_t keep);

/* Frees the batch's memory. */
void dc_changes_free(dc_changes_t *self);

/* Drops the references c holds. */
void dc_change_release(dc_change_t *c);

/* The record view of c (borrowing c's strings and bytes). */
void dc_change_to_rec(const dc_change_t *c, dc_rec_t *r);

/* Builds a change from a decoded record change (copying what it needs).
 * Returns 0, or -1 when out of memory. */
int dc_change_from_rec(dc_change_t *c, const dc_rec_t *r);

/* Encodes a batch as one record into buf. Returns 0, or -1 when out of memory. */
int dc_changes_encode(const dc_changes_t *self, msgpack_sbuffer *buf);

/* Decodes a record from untrusted bytes into self (appending). Returns 0, or
 * -1 with err set (self unchanged). */
int dc_changes_decode(dc_changes_t *self, const void *data, size_t size, char *err);

/* Does this kind of change publish an event (and take an event seq)? */
static inline bool dc_change_eventful(dc_rec_kind_t kind)
{
    return kind == DC_REC_TOPIC_PUT || kind == DC_REC_TOPIC_REMOVE || kind == DC_REC_NODE_PUT ||
           kind == DC_REC_NODE_REMOVE || kind == DC_REC_SUB_PUT || kind == DC_REC_SUB_REMOVE;
}

#endif
