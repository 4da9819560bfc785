/* dc_protocol.h: the numbers of the discovery wire contract (proto/PROTOCOL.md).
 * Part 1 values are fixed by the Cortex Python client; part 2 values are ours. */
#ifndef DC_PROTOCOL_H
#define DC_PROTOCOL_H

#define DC_DEFAULT_ENDPOINT "ipc:///tmp/cortex/discovery.sock"
#define DC_DEFAULT_EVENTS_ENDPOINT "ipc:///tmp/cortex/discovery-events.sock"
#define DC_PROTOCOL_VERSION 2

typedef enum {
    DC_CMD_REGISTER_TOPIC = 1,
    DC_CMD_UNREGISTER_TOPIC = 2,
    DC_CMD_LOOKUP_TOPIC = 3,
    DC_CMD_LIST_TOPICS = 4,
    DC_CMD_PING = 5,
    DC_CMD_HEARTBEAT = 6,
    DC_CMD_WAIT_TOPIC = 7,
    DC_CMD_REVOKE_LEASE = 8,
    DC_CMD_STATS = 9,
    DC_CMD_REGISTER_NODE = 10,
    DC_CMD_UNREGISTER_NODE = 11,
    DC_CMD_GET_NODE = 12,
    DC_CMD_FIND_NODES = 13,
    DC_CMD_MEMBERS = 14,         /* the cluster's members as this member sees them */
    DC_CMD_MEMBER_ADD = 15,      /* member_id, member_address: add a voter */
    DC_CMD_MEMBER_REMOVE = 16,   /* member_id */
    DC_CMD_MEMBER_TRANSFER = 17, /* member_id (0: any): hand leadership over */
    DC_CMD_SUBSCRIBE = 18,       /* topic_name, node_name, message_type, fingerprint: declare one */
    DC_CMD_UNSUBSCRIBE = 19,     /* topic_name, node_name */
    DC_CMD_GRAPH = 20,           /* publishers, subscriptions, lookups and mismatches */
    DC_CMD_SHUTDOWN = 99
} dc_command_t;

/* A legacy client converts status with an enum of exactly these four. */
typedef enum {
    DC_STATUS_OK = 0,
    DC_STATUS_NOT_FOUND = 1,
    DC_STATUS_ALREADY_EXISTS = 2,
    DC_STATUS_ERROR = 3
} dc_status_t;

/* Bounds on what the daemon accepts; longer strings are rejected with ERROR. */
#define DC_MAX_NAME_LEN 512
#define DC_MAX_ADDRESS_LEN 1024
#define DC_MAX_TYPE_LEN 512
#define DC_MAX_NODE_LEN 256
#define DC_MAX_MESSAGE_LEN 1024
/* Nesting deeper than this in any request is rejected before decoding. */
#define DC_MAX_DEPTH 16

#endif
