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
} discod_options_t;

/* Fills o with the defaults. */
DISCOD_EXPORT void discod_options_init(discod_options_t *o);

typedef struct discod_client discod_client_t;

/* A client for one endpoint (NULL: $DISCOD_ENDPOINT, else the Cortex default)
 * with default options. Connects lazily. Returns NULL when out of memory or
 * the endpoint is not ipc:// or tcp://. Caller destroys it. */
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
/* 2 when the current endpoint speaks protocol 2, 1 for legacy, 0 unknown. */
DISCOD_EXPORT int discod_client_protocol(const discod_client_t *c);
/* The endpoint the client is talking to now (borrowed). */
DISCOD_EXPORT const char *discod_client_endpoint(const discod_client_t *c);

DISCOD_EXPORT discod_result_t discod_ping(discod_client_t *c);

/* Registers t (all strings required; message_type and publisher_node may be ""). */
DISCOD_EXPORT discod_result_t discod_register(discod_client_t *c, const discod_topic_t *t);

DISCOD_EXPORT discod_result_t discod_unregister(discod_client_t *c, const char *name);

/* On DISCOD_OK fills *out (caller clears it). */
DISCOD_EXPORT discod_result_t discod_lookup(discod_client_t *c, const char *name,
                                            discod_topic_t *out);

/* Optional LIST filter; NULL fields match anything. Filters need protocol 2;
 * against a legacy daemon the library applies them to the full list itself. */
typedef struct {
    const char *prefix;
    const char *message_type;
    const char *publisher_node;
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

#ifdef __cplusplus
}
#endif
#endif
