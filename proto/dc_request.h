/* dc_request.h: a discovery request, decoded from untrusted bytes (server) or
 * encoded the way the Cortex Python client packs it (client library, tests). */
#ifndef DC_REQUEST_H
#define DC_REQUEST_H

#include "dc_topic.h"

/* Which optional keys a request carried. */
enum {
    DC_REQ_TOPIC_NAME = 1 << 0,
    DC_REQ_TOPIC_INFO = 1 << 1,
    DC_REQ_REQUEST_ID = 1 << 2,
    DC_REQ_LEASE_ID = 1 << 3,
    DC_REQ_LEASE_TTL = 1 << 4,
    DC_REQ_TIMEOUT = 1 << 5,
    DC_REQ_FILTER = 1 << 6,
    DC_REQ_CAPABILITY = 1 << 7,
    DC_REQ_NODE_NAME = 1 << 8,
    DC_REQ_METADATA = 1 << 9,
    DC_REQ_NODE = 1 << 10,
    DC_REQ_MEMBER_ID = 1 << 11,
    DC_REQ_MEMBER_ADDRESS = 1 << 12,
    DC_REQ_MESSAGE_TYPE = 1 << 13, /* SUBSCRIBE: the type the subscriber expects */
    DC_REQ_FINGERPRINT = 1 << 14   /* SUBSCRIBE: its fingerprint (0: any) */
};

#define DC_MAX_METADATA_ENTRIES 64
#define DC_MAX_METADATA_KEY_LEN 128
#define DC_MAX_METADATA_VALUE_LEN 1024

typedef struct {
    int64_t command;
    int version; /* 1 for legacy clients, 2 when the request said "v": 2 */
    uint32_t present; /* DC_REQ_* bits */
    dc_str_t topic_name;
    dc_topic_t topic; /* from the topic_info sub-blob */
    uint64_t request_id, lease_id, lease_ttl_ms, timeout_ms;
    uint64_t member_id;       /* MEMBER_ADD, MEMBER_REMOVE, MEMBER_TRANSFER */
    dc_str_t message_type;    /* SUBSCRIBE */
    uint64_t fingerprint;     /* SUBSCRIBE */
    dc_str_t member_address;  /* MEMBER_ADD: HOST:PORT */
    dc_str_t filter_prefix, filter_message_type, filter_publisher_node;
    /* filter.metadata: validated str->str map every listed topic must contain. */
    const msgpack_object *filter_metadata;
    dc_str_t capability, node_name;
    /* Validated str->str map (at most DC_MAX_METADATA_ENTRIES), or NULL. */
    const msgpack_object *metadata;
    /* Validated node map (PROTOCOL.md part 2), or NULL. */
    const msgpack_object *node;

    /* Storage the views above point into; private to the codec. */
    msgpack_unpacked outer_;
    msgpack_unpacked inner_;
    int inner_used_;
} dc_request_t;

/* Decodes and validates a request body. Unknown keys are ignored; a known key
 * with a wrong type or out-of-bounds size is an error. On success the caller
 * must dc_request_release(r). Returns 0, or -1 with a message in err (nothing
 * to release then). */
int dc_request_decode(dc_request_t *r, const void *data, size_t size, char *err);

void dc_request_release(dc_request_t *r);

/* Zeroes a request for encoding (command set, version 1, nothing present). */
void dc_request_init(dc_request_t *r, int64_t command);

/* Appends the msgpack of r to out: command, topic_name (nil when absent),
 * topic_info (bin, when present), then the protocol 2 keys present.
 * Returns 0, or -1 when out of memory. */
int dc_request_encode(const dc_request_t *r, msgpack_sbuffer *out);

/* Validates a metadata map (str -> str, bounded). Returns 0 or -1 with err. */
int dc_metadata_check(const msgpack_object *o, char *err);

/* A random starting point for a sequence of request_ids (odd, so never 0),
 * from /dev/urandom, or the clock and pid when it cannot be read: two
 * processes, or one process before and after a restart, do not meet each
 * other's ids. */
uint64_t dc_request_id_start(void);

#endif
