/* dc_write_op.h: a validated request handed to the writer thread: every
 * registry change and every held WAIT goes through one of these, and every
 * kind is built here from its request. The pointer travels on the writer's
 * ops queue (dc_handoff.h); whoever holds it owns it (the writer frees it
 * with dc_write_op_destroy once answered). */
#ifndef DC_WRITE_OP_H
#define DC_WRITE_OP_H

#include "dc_entry.h"
#include "dc_principal.h"
#include "dc_node.h"
#include "dc_record.h"
#include "dc_request.h"
#include <czmq.h>

typedef enum {
    DC_OP_REGISTER,        /* entry */
    DC_OP_UNREGISTER,      /* name, publisher_node (NULL: not named) */
    DC_OP_REVOKE_LEASE,    /* lease_id */
    DC_OP_REGISTER_NODE,   /* node */
    DC_OP_UNREGISTER_NODE, /* name */
    DC_OP_WAIT,            /* name, timeout_ms */
    DC_OP_REMOVE_DEAD,     /* name, publisher_node, address, reason: from the prober,
                              no reply */
    DC_OP_MEMBER_ADD,      /* member_id, address (HOST:PORT): a new voter */
    DC_OP_MEMBER_REMOVE,   /* member_id */
    DC_OP_MEMBER_TRANSFER, /* member_id (0: any voter): hand leadership over */
    DC_OP_SUBSCRIBE,       /* entry: the subscription (its node the subscriber's, no address) */
    DC_OP_UNSUBSCRIBE      /* name, publisher_node: the subscriber's node */
} dc_op_kind_t;
#define DC_OP_KIND_MAX DC_OP_UNSUBSCRIBE

/* MEMBER_ADD, MEMBER_REMOVE, MEMBER_TRANSFER: changes of the cluster, not of
 * the registry (the kinds after them are registry writes again). */
static inline bool dc_op_is_member_change(dc_op_kind_t kind)
{
    return kind >= DC_OP_MEMBER_ADD && kind <= DC_OP_MEMBER_TRANSFER;
}

typedef struct {
    dc_op_kind_t kind;
    zmsg_t *route;       /* [endpoint index and principal][envelope...][""]; NULL: nobody */
    int version;         /* the client's protocol version */
    bool has_request_id;
    uint64_t request_id;
    bool has_lease_id, has_lease_ttl;
    uint64_t lease_id, lease_ttl_ms;
    uint64_t timeout_ms;
    dc_entry_t *entry;   /* REGISTER, SUBSCRIBE: the new entry (one reference) */
    dc_node_t *node;     /* REGISTER_NODE: the new node (one reference) */
    char *name;          /* NUL-terminated */
    uint32_t name_len;
    char *address;       /* REMOVE_DEAD: the address found dead; MEMBER_ADD: HOST:PORT */
    char *publisher_node; /* UNREGISTER, REMOVE_DEAD: the registration's node, or NULL;
                             UNSUBSCRIBE: the subscriber's node */
    uint64_t member_id;  /* MEMBER_* */
    uint64_t origin;     /* cluster: the member the request came in at (0: unknown) */
    uint64_t received_us; /* monotonic: when this member took the request (0: not a client's) */
    uint64_t want_lease_id; /* a lease it asks granted (lease_ttl_ms): the id an isolated
                               member gave it, kept when merged (0: the next id) */
    uint64_t want_lease_left_ms; /* with want_lease_id: the time that lease had left on
                                    the island when sent (0: a full TTL) */
    dc_principal_t principal; /* who asked: its access and key (the owner of what it writes) */
    dc_reason_t reason;  /* REMOVE_DEAD: endpoint-dead or legacy-ttl */
} dc_write_op_t;

/* Copies the keys every write carries (version, request_id, lease keys,
 * timeout) from the request. */
void dc_write_op_take_request_keys(dc_write_op_t *op, const dc_request_t *req);

/* An op of kind on a copy of name, nothing else set. NULL: out of memory. */
dc_write_op_t *dc_write_op_named(dc_op_kind_t kind, dc_str_t name);

/* The WAIT to hold for a decoded WAIT_TOPIC whose topic is not there (a
 * protocol 2 subscriber naming its node hears of mismatches when woken);
 * NULL with the ERROR message in *problem. Request keys not yet taken. */
dc_write_op_t *dc_write_op_wait(const dc_request_t *req, const char **problem);

/* The op for a decoded REGISTER or UNREGISTER (request keys not yet taken);
 * NULL with the ERROR message in *problem. Used by the workers and by the
 * front, which hands these two straight to the writer. */
dc_write_op_t *dc_write_op_topic(const dc_request_t *req, const char **problem);

/* The prober's op: e's registration (its name, node and address, as found
 * dead) to be removed for reason, with no reply. NULL: out of memory. */
dc_write_op_t *dc_write_op_remove_dead(const dc_entry_t *e, dc_reason_t reason);

/* The op for a decoded REVOKE_LEASE (its lease_id comes with the request
 * keys), REGISTER_NODE (the node built from the request), or MEMBER_ADD,
 * MEMBER_REMOVE or MEMBER_TRANSFER; NULL with the ERROR message in *problem
 * (a missing key, out of memory). */
dc_write_op_t *dc_write_op_revoke(const dc_request_t *req, const char **problem);
dc_write_op_t *dc_write_op_register_node(const dc_request_t *req, const char **problem);
dc_write_op_t *dc_write_op_member(const dc_request_t *req, const char **problem);

/* The op for a decoded SUBSCRIBE (topic_name, node_name, message_type,
 * fingerprint, metadata) or UNSUBSCRIBE (topic_name, node_name); NULL with
 * the ERROR message in *problem. */
dc_write_op_t *dc_write_op_subscription(const dc_request_t *req, const char **problem);

/* Forwarding (cluster): the op as bytes, everything but its route. Appends
 * to buf; returns 0, or -1 when out of memory. */
int dc_write_op_encode(const dc_write_op_t *op, msgpack_sbuffer *buf);

/* An op from a peer's bytes (validated like a client request: bounds,
 * types, the kinds that may be forwarded), without a route. NULL with err
 * set when the bytes are refused. Caller destroys the op. */
dc_write_op_t *dc_write_op_decode(const void *data, size_t size, char *err);

static inline void dc_write_op_destroy(dc_write_op_t **op_p)
{
    if (!op_p || !*op_p)
        return;
    dc_write_op_t *op = *op_p;
    zmsg_destroy(&op->route);
    dc_entry_unref(&op->entry);
    dc_node_unref(&op->node);
    free(op->name);
    free(op->address);
    free(op->publisher_node);
    free(op);
    *op_p = NULL;
}

#endif
