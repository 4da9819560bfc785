/* discod.h: the discod client library.
 *
 * Registers, looks up and waits for topics on a discod daemon (or on the
 * original Cortex Python daemon, which it detects and falls back to).
 *
 * Reliability: the Lazy Pirate pattern. One REQ socket per client with
 * send/receive timeouts and LINGER 0; when a try times out or the socket
 * fails, the socket is closed and a fresh one opened (to the next endpoint when
 * several were given) and the request is sent again, up to `retries` tries.
 * The caller never sees a stuck socket; after the last try a call returns
 * DISCOD_TIMEOUT. Writes sent to a protocol 2 daemon carry a request_id that
 * stays the same across retries, so a retried write is applied once.
 *
 * Threads: a discod_client_t is not locked: use one client per thread (they
 * are cheap: one socket each). The library installs no signal handlers, keeps
 * no global state, and owns its ZeroMQ context.
 *
 * Ownership: every discod_topic_t filled by the library owns its strings;
 * release them with discod_topic_clear() (or discod_topic_list_free() for the
 * arrays from discod_list()). Strings passed in are only borrowed. */
#ifndef DISCOD_H
#define DISCOD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(DISCOD_BUILDING) && defined(__GNUC__)
#define DISCOD_EXPORT __attribute__((visibility("default")))
#else
#define DISCOD_EXPORT
#endif

#define DISCOD_VERSION_MAJOR 0
#define DISCOD_VERSION_MINOR 1
#define DISCOD_VERSION_PATCH 0

/* The Cortex default; DISCOD_ENDPOINT in the environment overrides it where
 * the library picks the endpoint (discod_client_new(NULL)). */
#define DISCOD_DEFAULT_ENDPOINT "ipc:///tmp/cortex/discovery.sock"
/* Where discod publishes registry events by default. */
#define DISCOD_DEFAULT_EVENTS "ipc:///tmp/cortex/discovery-events.sock"

typedef enum {
    DISCOD_OK = 0,
    DISCOD_NOT_FOUND = 1,      /* the daemon said NOT_FOUND (or a wait ran out) */
    DISCOD_ALREADY_EXISTS = 2, /* another node owns the topic */
    DISCOD_ERROR = 3,          /* the daemon refused: see discod_client_last_message() */
    DISCOD_TIMEOUT = -1,       /* no answer after every try on every endpoint */
    DISCOD_INVALID = -2,       /* a bad argument: nothing was sent */
    DISCOD_PROTOCOL = -3,      /* the reply could not be understood */
    DISCOD_NOMEM = -4,
    DISCOD_UNSUPPORTED = -5    /* the daemon does not speak protocol 2 for this call */
} discod_result_t;

/* A short English text for r (static, never NULL). */
DISCOD_EXPORT const char *discod_strerror(discod_result_t r);

typedef struct {
    char *name;
    char *address;        /* e.g. ipc:///tmp/cortex/topics/camera or tcp://host:port */
    char *message_type;
    uint64_t fingerprint;
    char *publisher_node;
} discod_topic_t;

/* Frees the strings of t and zeroes it; safe on a zeroed struct. */
DISCOD_EXPORT void discod_topic_clear(discod_topic_t *t);
/* Frees an array from discod_list() with its strings; safe on NULL. */
DISCOD_EXPORT void discod_topic_list_free(discod_topic_t *list, size_t count);

/* A metadata entry (protocol 2): free text attached to a topic or node,
 * e.g. {"visibility", "public"}. Filled ones own their strings. */
typedef struct {
    char *key;
    char *value;
} discod_kv_t;

/* Frees an array of key/values with their strings; safe on NULL. */
DISCOD_EXPORT void discod_kv_free(discod_kv_t *kv, size_t count);

typedef enum {
    DISCOD_PROTOCOL_AUTO = 0,   /* protocol 2 when the daemon speaks it, else legacy */
    DISCOD_PROTOCOL_LEGACY = 1, /* only Cortex part 1 requests */
    DISCOD_PROTOCOL_2 = 2       /* require protocol 2 (DISCOD_UNSUPPORTED otherwise) */
} discod_protocol_t;

typedef struct {
    int timeout_ms;          /* per try; default 5000 (as Cortex) */
    int retries;             /* tries per call, >= 1; default 3 */
    discod_protocol_t protocol;
    int poll_interval_ms;    /* wait_for_topic polling against legacy daemons; default 200 */
    int prefer_local;        /* cluster: try this computer's member first (ipc endpoints,
                                then tcp ones on a local address), and go back to it
                                10 s after failing over; default 0 (the order given) */
    const char *server_key;  /* CURVE on tcp endpoints: the daemon's public certificate
                                (czmq format); NULL: $DISCOD_SERVER_KEY, else none */
    const char *client_key;  /* this client's certificate (its secret in FILE_secret);
                                NULL: $DISCOD_CLIENT_KEY, else none */
} discod_options_t;

/* Fills o with the defaults. */
DISCOD_EXPORT void discod_options_init(discod_options_t *o);

/* Writes a new CURVE certificate pair: path (public, with role in its
 * metadata when not NULL: read, write or admin) and path_secret (mode 0600),
 * in czmq's format: what discod's --curve-key and --curve-clients read.
 * Neither file may exist yet. Returns 0, or -1 (errno tells why: EINVAL for
 * another role). */
DISCOD_EXPORT int discod_keygen(const char *path, const char *role);

typedef struct discod_client discod_client_t;

/* A client for one endpoint (NULL: $DISCOD_ENDPOINT, else the Cortex default)
 * with default options. Connects lazily. Returns NULL when out of memory or
 * the endpoint is not ipc:// or tcp://. Caller destroys it. The clients of
 * one process share one ZeroMQ context (one I/O thread for all of them,
 * made by the first client and ended with the last); each has its own
 * socket, and a client is used by one thread at a time. */
DISCOD_EXPORT discod_client_t *discod_client_new(const char *endpoint);

/* A client for several endpoints, tried in order (failover on timeout).
 * options may be NULL for the defaults. Returns NULL as above. */
DISCOD_EXPORT discod_client_t *discod_client_new_multi(const char *const *endpoints, size_t count,
                                                       const discod_options_t *options);

/* Closes the socket and frees the client; nulls *client_p; safe on NULL. */
DISCOD_EXPORT void discod_client_destroy(discod_client_t **client_p);

/* The daemon's message from the last reply ("" when none); valid until the
 * next call on this client. */
DISCOD_EXPORT const char *discod_client_last_message(const discod_client_t *c);
/* The daemon's epoch from the last protocol 2 reply (0: not known yet). */
DISCOD_EXPORT uint64_t discod_client_epoch(const discod_client_t *c);
/* The cluster member that sent the last protocol 2 reply (0: standalone or
 * not known) and its Raft term. */
DISCOD_EXPORT uint64_t discod_client_member(const discod_client_t *c);
DISCOD_EXPORT uint64_t discod_client_term(const discod_client_t *c);
/* The member that sent the last protocol 2 reply is cut off from its cluster
 * (serving its own computer): the count of provisional writes it holds to
 * merge, plus one (0: not isolated). The last write's answer was provisional
 * when discod_client_provisional says so. */
DISCOD_EXPORT uint64_t discod_client_isolated(const discod_client_t *c);
DISCOD_EXPORT int discod_client_provisional(const discod_client_t *c);
/* 2 when the current endpoint speaks protocol 2, 1 for legacy, 0 unknown. */
DISCOD_EXPORT int discod_client_protocol(const discod_client_t *c);
/* The endpoint the client is talking to now (borrowed). */
DISCOD_EXPORT const char *discod_client_endpoint(const discod_client_t *c);

DISCOD_EXPORT discod_result_t discod_ping(discod_client_t *c);

/* Registers t (all strings required; message_type and publisher_node may be ""). */
DISCOD_EXPORT discod_result_t discod_register(discod_client_t *c, const discod_topic_t *t);

DISCOD_EXPORT discod_result_t discod_unregister(discod_client_t *c, const char *name);

/* Protocol 2 registration options (all optional). */
typedef struct {
    uint64_t lease_id;      /* attach to this lease (0: none) */
    uint64_t lease_ttl_ms;  /* else create a lease with this TTL (0: no lease) */
    const discod_kv_t *metadata;
    size_t metadata_count;
} discod_register_opts_t;

/* Registers t with a lease and/or metadata. On DISCOD_OK *lease_id_out (when
 * not NULL) is the lease the topic is attached to (0: none). A lease or
 * metadata needs protocol 2: DISCOD_UNSUPPORTED against a legacy daemon. */
DISCOD_EXPORT discod_result_t discod_register_ex(discod_client_t *c, const discod_topic_t *t,
                                                 const discod_register_opts_t *opts,
                                                 uint64_t *lease_id_out);

/* Like discod_lookup, also returning the topic's metadata (caller frees it
 * with discod_kv_free; NULL/0 when none). */
DISCOD_EXPORT discod_result_t discod_lookup_ex(discod_client_t *c, const char *name,
                                               discod_topic_t *out, discod_kv_t **metadata,
                                               size_t *metadata_count);

/* Renews a lease; *ttl_ms (when not NULL) gets its TTL. DISCOD_NOT_FOUND: the
 * lease is gone (expired, revoked, or unknown): register again. On an ipc
 * endpoint it goes by datagram to PATH.hb when the daemon offers it (one
 * attempt, 500 ms at most), otherwise, or after any failure, as a normal
 * request with the client's retries. */
DISCOD_EXPORT discod_result_t discod_heartbeat(discod_client_t *c, uint64_t lease_id,
                                               uint64_t *ttl_ms);

/* Removes a lease and everything attached to it at once. */
DISCOD_EXPORT discod_result_t discod_revoke_lease(discod_client_t *c, uint64_t lease_id);

/* On DISCOD_OK fills *out (caller clears it). */
DISCOD_EXPORT discod_result_t discod_lookup(discod_client_t *c, const char *name,
                                            discod_topic_t *out);

/* One publisher of a topic: a topic may have several (one per publisher_node)
 * when the daemon runs with --publishers-per-topic above 1. */
typedef struct {
    discod_topic_t topic;
    uint64_t lease_id;          /* 0: none (the daemon probes its endpoint) */
    uint64_t registered_at_ms;  /* wall clock of its registration (0: not known) */
    discod_kv_t *metadata;      /* NULL/0 when none */
    size_t metadata_count;
} discod_publisher_t;

/* Frees an array from discod_lookup_all() with everything in it; safe on NULL. */
DISCOD_EXPORT void discod_publishers_free(discod_publisher_t *list, size_t count);

/* Every publisher of name, in registration order. On DISCOD_OK sets *out to
 * a malloc'd array of *count (>= 1) publishers; *newest (when not NULL) is
 * the index of the one discod_lookup gives (the most recently registered).
 * A legacy daemon knows one publisher per topic: its answer is that one. */
DISCOD_EXPORT discod_result_t discod_lookup_all(discod_client_t *c, const char *name,
                                                discod_publisher_t **out, size_t *count,
                                                size_t *newest);

/* Unregisters node's registration of name (protocol 2). Where a topic has
 * several publishers, an UNREGISTER without the node is refused; this one
 * removes just node's. DISCOD_NOT_FOUND when node holds no registration of
 * name. Against a legacy daemon it unregisters by name. */
DISCOD_EXPORT discod_result_t discod_unregister_node_topic(discod_client_t *c, const char *name,
                                                           const char *node);

/* Optional LIST filter; NULL fields match anything. Filters need protocol 2;
 * against a legacy daemon the library applies name/type/node filters to the
 * full list itself (metadata filters need protocol 2). */
typedef struct {
    const char *prefix;
    const char *message_type;
    const char *publisher_node;
    const discod_kv_t *metadata; /* every pair must be in the topic's metadata */
    size_t metadata_count;
} discod_filter_t;

/* On DISCOD_OK sets *out to a malloc'd array of *count topics (caller frees it
 * with discod_topic_list_free; *out may be NULL when *count is 0). */
DISCOD_EXPORT discod_result_t discod_list(discod_client_t *c, const discod_filter_t *filter,
                                          discod_topic_t **out, size_t *count);

/* Waits up to timeout_ms for name to be registered: the daemon's held
 * WAIT_TOPIC when it has one, polling otherwise. Keeps waiting across daemon
 * restarts and failovers. DISCOD_OK fills *out; DISCOD_NOT_FOUND when the time
 * ran out. */
DISCOD_EXPORT discod_result_t discod_wait_for_topic(discod_client_t *c, const char *name,
                                                    int timeout_ms, discod_topic_t *out);

typedef struct {
    char *name;
    uint64_t value;
} discod_stat_t;

/* Protocol 2 only. On DISCOD_OK sets *out to a malloc'd array of *count
 * counters (caller frees with discod_stats_free). */
DISCOD_EXPORT discod_result_t discod_stats(discod_client_t *c, discod_stat_t **out, size_t *count);
DISCOD_EXPORT void discod_stats_free(discod_stat_t *stats, size_t count);

/*==== Nodes (protocol 2): what the SSSN example calls systems ====*/

typedef struct {
    char *name;
    char *description;
    char **capabilities;
    size_t capability_count;
    discod_kv_t *metadata;
    size_t metadata_count;
    uint64_t lease_id;
    char **topics;        /* filled by get/find: topics this node publishes */
    size_t topic_count;
} discod_node_t;

/* Frees what a filled node owns and zeroes it. */
DISCOD_EXPORT void discod_node_clear(discod_node_t *n);
DISCOD_EXPORT void discod_node_list_free(discod_node_t *nodes, size_t count);

/* Registers (or replaces) node n (topics ignored). opts: lease as for topics
 * (metadata is taken from n). *lease_id_out as for discod_register_ex. */
DISCOD_EXPORT discod_result_t discod_register_node(discod_client_t *c, const discod_node_t *n,
                                                   const discod_register_opts_t *opts,
                                                   uint64_t *lease_id_out);
DISCOD_EXPORT discod_result_t discod_unregister_node(discod_client_t *c, const char *name);
/* On DISCOD_OK fills *out (caller clears it). */
DISCOD_EXPORT discod_result_t discod_get_node(discod_client_t *c, const char *name,
                                              discod_node_t *out);
/* Nodes having capability (NULL: all). On DISCOD_OK *out is a malloc'd array
 * (caller frees with discod_node_list_free). */
DISCOD_EXPORT discod_result_t discod_find_nodes(discod_client_t *c, const char *capability,
                                                discod_node_t **out, size_t *count);

/*==== Subscriptions (protocol 2): who reads a topic, and mismatches ====*/

/* A subscription: node reads topic expecting message_type and fingerprint
 * ("" and 0: any). */
typedef struct {
    const char *topic;
    const char *node;
    const char *message_type;
    uint64_t fingerprint;
} discod_subscription_t;

/* A publisher whose type is not what a subscriber expects (strings owned). */
typedef struct {
    char *node;
    char *message_type;
    uint64_t fingerprint;
    char *address;
} discod_mismatch_t;

/* Frees an array of mismatches with their strings; safe on NULL. */
DISCOD_EXPORT void discod_mismatches_free(discod_mismatch_t *list, size_t count);

/* Declares (or replaces) a subscription; opts: its lease as for topics
 * (metadata attached too). On DISCOD_OK *lease_id_out (when not NULL) is its
 * lease, and *mismatches (when not NULL) a malloc'd array of *mismatch_count
 * publishers of the topic whose type differs (NULL/0: none); free it with
 * discod_mismatches_free. */
DISCOD_EXPORT discod_result_t discod_subscribe(discod_client_t *c,
                                               const discod_subscription_t *sub,
                                               const discod_register_opts_t *opts,
                                               uint64_t *lease_id_out,
                                               discod_mismatch_t **mismatches,
                                               size_t *mismatch_count);
/* Removes node's subscription to topic; DISCOD_NOT_FOUND when it has none. */
DISCOD_EXPORT discod_result_t discod_unsubscribe(discod_client_t *c, const char *topic,
                                                 const char *node);

/* discod_wait_for_topic for a subscriber that names its node: the answer also
 * lists the publishers whose type its subscription does not expect (as for
 * discod_subscribe; mismatches may be NULL). */
DISCOD_EXPORT discod_result_t discod_wait_subscribed(discod_client_t *c, const char *name,
                                                     const char *node, int timeout_ms,
                                                     discod_topic_t *out,
                                                     discod_mismatch_t **mismatches,
                                                     size_t *mismatch_count);

/*==== Sessions: a lease kept alive for a process ====*/

/* A session holds one lease for all the topics registered (and the
 * subscriptions declared) through it and
 * renews it from its own thread every TTL/3. When the daemon says the lease is
 * gone, or its epoch changes (a restart), it registers every topic again,
 * after a random delay so a restarted daemon is not hit by every client in the
 * same millisecond. It survives daemon restarts and endpoint failover.
 * discod_session_destroy revokes the lease, so its topics disappear at once.
 * The session's calls are internally locked: any thread may use them. */
typedef struct discod_session discod_session_t;

/* endpoints/options as for discod_client_new_multi; ttl_ms is the lease TTL.
 * Starts the renewal thread. Returns NULL on bad arguments or out of memory. */
DISCOD_EXPORT discod_session_t *discod_session_new(const char *const *endpoints, size_t count,
                                                   const discod_options_t *options,
                                                   uint64_t ttl_ms);
/* Registers t under the session's lease and remembers it for re-registration. */
DISCOD_EXPORT discod_result_t discod_session_register(discod_session_t *s,
                                                      const discod_topic_t *t);
/* Unregisters name (the session's registration of it: by its node, when the
 * topic has several publishers) and forgets it. */
DISCOD_EXPORT discod_result_t discod_session_unregister(discod_session_t *s, const char *name);
/* Declares sub under the session's lease and remembers it: declared again
 * with the topics after a restart, gone with the session. mismatches as for
 * discod_subscribe (may be NULL). */
DISCOD_EXPORT discod_result_t discod_session_subscribe(discod_session_t *s,
                                                       const discod_subscription_t *sub,
                                                       discod_mismatch_t **mismatches,
                                                       size_t *mismatch_count);
/* Removes node's subscription to topic and forgets it. */
DISCOD_EXPORT discod_result_t discod_session_unsubscribe(discod_session_t *s, const char *topic,
                                                         const char *node);
/* The current lease (0 before the first registration succeeded). */
DISCOD_EXPORT uint64_t discod_session_lease_id(discod_session_t *s);
/* How many times the session registered its topics again (restarts seen). */
DISCOD_EXPORT uint64_t discod_session_reregistrations(discod_session_t *s);
/* Stops the thread, revokes the lease (best effort), frees; nulls *s_p. */
DISCOD_EXPORT void discod_session_destroy(discod_session_t **s_p);

/* A cluster member as the answering member sees it (strings owned). */
typedef struct {
    uint64_t id;
    char *address;      /* its Raft peer address, HOST:PORT */
    char *voting;       /* "voter", "standby" or "spare" */
    char *role;         /* "leader", "follower", "candidate" */
    uint64_t leader;    /* the leader's id as this member knows it (0: none) */
    int reachable;      /* heard from lately, as seen from the answering member */
    uint64_t match_index; /* the leader's view of its log (0: unknown) */
    uint64_t commit_index, applied_index; /* the answering member's own; 0 for others */
} discod_member_t;

/* Protocol 2. On DISCOD_OK *out is a malloc'd array of *count members (0 when
 * the daemon is standalone); free it with discod_members_free. Which member
 * answered: discod_client_member(). */
DISCOD_EXPORT discod_result_t discod_members(discod_client_t *c, discod_member_t **out,
                                             size_t *count);
DISCOD_EXPORT void discod_members_free(discod_member_t *members, size_t count);

/* Membership changes (admin; refused on tcp endpoints unless the daemon
 * allows remote shutdown). add: a new voter at HOST:PORT, started with
 * --cluster-join; remove: a member; transfer: hand leadership to id (0: any
 * voter). DISCOD_OK once done; DISCOD_ERROR with the reason otherwise. */
DISCOD_EXPORT discod_result_t discod_member_add(discod_client_t *c, uint64_t id,
                                                const char *address);
DISCOD_EXPORT discod_result_t discod_member_remove(discod_client_t *c, uint64_t id);
DISCOD_EXPORT discod_result_t discod_member_transfer(discod_client_t *c, uint64_t id);

#ifdef __cplusplus
}
#endif
#endif
