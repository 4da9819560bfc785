/* discoctl_watch.c: `discoctl watch` (see discoctl.h): a SUB connected to
 * every member's events endpoint, a listing, then each event printed once
 * (members publish the same seqs), with a fresh listing after a gap and
 * after an isolated member rejoins its cluster. */
#include "discoctl.h"
#include "discoctl_print.h"
#include "dc_endpoint.h"
#include "dc_mp.h"
#include "dc_protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Prints the current listing as a "sync" record. Returns a discod result. */
static discod_result_t s_watch_sync(discod_client_t *c, const command_args_t *a)
{
    discod_filter_t filter = {a->prefix, NULL, NULL, NULL, 0};
    discod_topic_t *topics = NULL;
    size_t n = 0;
    discod_result_t r = discod_list(c, &filter, &topics, &n);
    if (r != DISCOD_OK)
        return r;
    if (a->json) {
        fputs("{\"event\":\"sync\",\"topics\":[", stdout);
        for (size_t i = 0; i < n; i++) {
            if (i)
                putchar(',');
            dctl_json_topic(&topics[i]);
        }
        puts("]}");
    } else {
        printf("-- %zu topic(s) registered --\n", n);
        for (size_t i = 0; i < n; i++)
            printf("   %s  %s  %s\n", topics[i].name, topics[i].address, topics[i].publisher_node);
    }
    fflush(stdout);
    discod_topic_list_free(topics, n);
    return DISCOD_OK;
}

/* Reads one field of an event map. */
static const msgpack_object *s_field(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
        if (dc_mp_key_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

/* A string field of map into buf ("" when missing). */
static void s_text(const msgpack_object *map, const char *key, char *buf, size_t size)
{
    const msgpack_object *v = map ? s_field(map, key) : NULL;
    if (v && v->type == MSGPACK_OBJECT_STR)
        snprintf(buf, size, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    else
        buf[0] = 0;
}

static uint64_t s_uint(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = s_field(map, key);
    return v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
}

/* A member's notice (member.isolated, member.rejoined, member.conflict; see
 * PROTOCOL.md): not one of the registry's seqs. member.rejoined withdraws the
 * member's provisional events: a fresh listing, and the stream goes on from
 * its seq. */
static void s_notice(discod_client_t *c, const command_args_t *a, const char *name,
                     const msgpack_object *data, uint64_t seq, uint64_t *last_seq)
{
    uint64_t member = s_uint(data, "member");
    const msgpack_object *conflict = s_field(data, "conflict");
    char topic[DC_MAX_NAME_LEN + 1], node[300], message[512], mode[32];
    s_text(conflict, "topic", topic, sizeof topic);
    s_text(conflict, "node", node, sizeof node);
    s_text(conflict, "message", message, sizeof message);
    s_text(data, "mode", mode, sizeof mode);
    bool rejoined = !strcmp(name, "member.rejoined");
    if (a->json) {
        printf("{\"seq\":%llu,\"event\":", (unsigned long long)seq);
        dctl_json_string(name);
        printf(",\"member\":%llu", (unsigned long long)member);
        if (conflict) {
            fputs(",\"conflict\":{\"topic\":", stdout);
            dctl_json_string(topic);
            fputs(",\"node\":", stdout);
            dctl_json_string(node);
            fputs(",\"message\":", stdout);
            dctl_json_string(message);
            putchar('}');
        }
        if (rejoined)
            printf(",\"withdrawn\":%llu", (unsigned long long)s_uint(data, "withdrawn"));
        puts("}");
    } else if (conflict)
        printf("%llu  %-14s %s  %s  MERGE CONFLICT at member %llu: %s\n",
               (unsigned long long)seq, name, topic, node, (unsigned long long)member, message);
    else if (rejoined)
        printf("-- member %llu rejoined its cluster: %llu provisional event(s) withdrawn, "
               "resynchronising --\n",
               (unsigned long long)member, (unsigned long long)s_uint(data, "withdrawn"));
    else
        printf("-- member %llu is isolated from its cluster (%s) --\n",
               (unsigned long long)member, mode);
    fflush(stdout);
    if (rejoined) {
        if (s_watch_sync(c, a) != DISCOD_OK)
            fprintf(stderr, "discoctl watch: resynchronisation failed\n");
        *last_seq = seq;
    }
}

int dctl_watch(discod_client_t *c, const command_args_t *a, const discod__curve_t *curve)
{
    /* No --events: $DISCOD_EVENTS, else where the daemon puts its events when
     * nobody chose (beside its ipc endpoint), else the default. */
    const char *fallback = getenv("DISCOD_EVENTS");
    char *beside = NULL;
    if (!fallback || !*fallback)
        fallback = (beside = dc_events_beside(discod_client_endpoint(c))) ? beside
                                                                           : DISCOD_DEFAULT_EVENTS;
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    /* One SUB connected to every member's stream: the same event comes once
     * from each, with the same seq, and is printed once. */
    for (size_t i = 0; i < (a->event_count ? a->event_count : 1); i++) {
        const char *events = a->event_count ? a->events[i] : fallback;
        discod__curve_apply(curve, sub, events);
        if (zmq_connect(sub, events) != 0) {
            fprintf(stderr, "discoctl watch: cannot connect %s\n", events);
            zmq_close(sub);
            zmq_ctx_term(ctx);
            free(beside);
            return EXIT_USAGE;
        }
    }
    dctl_catch_signals();
    /* Subscribed first, then listed: nothing between the two is lost. */
    discod_result_t r = s_watch_sync(c, a);
    int exit_code = r == DISCOD_OK ? 0 : dctl_fail(c, "watch", r);
    uint64_t last_seq = 0, last_epoch = 0, seen = 0;
    while (exit_code == 0 && !dctl_interrupted && (!a->count || seen < a->count)) {
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 200) <= 0)
            continue;
        char name[64];
        int n = zmq_recv(sub, name, sizeof name - 1, 0);
        if (n < 0)
            continue;
        name[n < (int)sizeof name - 1 ? n : (int)sizeof name - 1] = 0;
        zmq_msg_t body;
        zmq_msg_init(&body);
        int more = 0;
        size_t more_size = sizeof more;
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_size);
        if (!more || zmq_msg_recv(&body, sub, 0) < 0) {
            zmq_msg_close(&body);
            continue;
        }
        /* The unpacked event points into body: body lives until the end. */
        msgpack_unpacked event;
        char err[DC_ERR_LEN];
        if (dc_mp_unpack(&event, zmq_msg_data(&body), zmq_msg_size(&body), err) != 0) {
            zmq_msg_close(&body);
            continue;
        }
        const msgpack_object *seq = s_field(&event.data, "seq");
        const msgpack_object *reason = s_field(&event.data, "reason");
        const msgpack_object *info = s_field(&event.data, "topic_info");
        const msgpack_object *node = s_field(&event.data, "node");
        uint64_t this_seq = seq && seq->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? seq->via.u64 : 0;
        const msgpack_object *epoch = s_field(&event.data, "epoch");
        uint64_t this_epoch =
            epoch && epoch->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? epoch->via.u64 : 0;
        bool same_stream = !last_epoch || this_epoch == last_epoch;
        last_epoch = this_epoch;
        if (!strncmp(name, "member.", 7)) {
            s_notice(c, a, name, &event.data, this_seq, &last_seq);
            seen++;
            msgpack_unpacked_destroy(&event);
            zmq_msg_close(&body);
            continue;
        }
        const msgpack_object *provisional = s_field(&event.data, "provisional");
        bool is_provisional = provisional && provisional->type == MSGPACK_OBJECT_BOOLEAN &&
                              provisional->via.boolean;
        if (last_seq && this_seq && this_seq <= last_seq && same_stream) {
            /* Printed already (another member's copy, or a replay). */
            msgpack_unpacked_destroy(&event);
            zmq_msg_close(&body);
            continue;
        }
        if (last_seq && this_seq != last_seq + 1) {
            if (a->json)
                printf("{\"event\":\"gap\",\"expected\":%llu,\"got\":%llu}\n",
                       (unsigned long long)(last_seq + 1), (unsigned long long)this_seq);
            else
                printf("-- missed events %llu..%llu: resynchronising --\n",
                       (unsigned long long)(last_seq + 1), (unsigned long long)(this_seq - 1));
            if (s_watch_sync(c, a) != DISCOD_OK)
                fprintf(stderr, "discoctl watch: resynchronisation failed\n");
        }
        last_seq = this_seq;
        discod_topic_t t = {0};
        bool have_topic =
            info && info->type == MSGPACK_OBJECT_BIN &&
            discod__topic_from_blob(info->via.bin.ptr, info->via.bin.size, &t) == DISCOD_OK;
        const msgpack_object *node_name = node ? s_field(node, "name") : NULL;
        const msgpack_object *sub = s_field(&event.data, "subscription");
        const msgpack_object *sub_topic = sub ? s_field(sub, "topic") : NULL;
        const msgpack_object *sub_node = sub ? s_field(sub, "node") : NULL;
        const msgpack_object *sub_type = sub ? s_field(sub, "message_type") : NULL;
        const msgpack_object *mismatch = s_field(&event.data, "mismatch");
        uint32_t mismatches = mismatch && mismatch->type == MSGPACK_OBJECT_ARRAY
                                  ? mismatch->via.array.size
                                  : 0;
        bool have_sub = sub_topic && sub_topic->type == MSGPACK_OBJECT_STR && sub_node &&
                        sub_node->type == MSGPACK_OBJECT_STR && sub_type &&
                        sub_type->type == MSGPACK_OBJECT_STR;
        bool matches = !a->prefix ||
                       (have_topic && !strncmp(t.name, a->prefix, strlen(a->prefix))) ||
                       (have_sub && sub_topic->via.str.size >= strlen(a->prefix) &&
                        !strncmp(sub_topic->via.str.ptr, a->prefix, strlen(a->prefix)));
        if (matches) {
            char reason_text[64] = "";
            if (reason && reason->type == MSGPACK_OBJECT_STR)
                snprintf(reason_text, sizeof reason_text, "%.*s", (int)reason->via.str.size,
                         reason->via.str.ptr);
            if (a->json) {
                printf("{\"seq\":%llu,\"event\":", (unsigned long long)this_seq);
                dctl_json_string(name);
                fputs(",\"reason\":", stdout);
                dctl_json_string(reason_text);
                if (have_topic) {
                    fputs(",\"topic\":", stdout);
                    dctl_json_topic(&t);
                } else if (have_sub) {
                    char text[DC_MAX_NAME_LEN + 1];
                    snprintf(text, sizeof text, "%.*s", (int)sub_topic->via.str.size,
                             sub_topic->via.str.ptr);
                    fputs(",\"subscription\":{\"topic\":", stdout);
                    dctl_json_string(text);
                    snprintf(text, sizeof text, "%.*s", (int)sub_node->via.str.size,
                             sub_node->via.str.ptr);
                    fputs(",\"node\":", stdout);
                    dctl_json_string(text);
                    putchar('}');
                } else if (node_name && node_name->type == MSGPACK_OBJECT_STR) {
                    char text[300];
                    snprintf(text, sizeof text, "%.*s", (int)node_name->via.str.size,
                             node_name->via.str.ptr);
                    fputs(",\"node\":", stdout);
                    dctl_json_string(text);
                }
                if (mismatches)
                    printf(",\"mismatches\":%u", mismatches);
                if (is_provisional)
                    fputs(",\"provisional\":true", stdout);
                puts("}");
            } else if (have_sub)
                printf("%llu  %-14s %.*s  %.*s  %.*s  (%s)%s%s\n", (unsigned long long)this_seq,
                       name,
                       (int)sub_topic->via.str.size, sub_topic->via.str.ptr,
                       (int)sub_node->via.str.size, sub_node->via.str.ptr,
                       (int)(sub_type->via.str.size ? sub_type->via.str.size : 8),
                       sub_type->via.str.size ? sub_type->via.str.ptr : "any type", reason_text,
                       mismatches ? "  MISMATCH" : "", is_provisional ? "  PROVISIONAL" : "");
            else if (have_topic)
                printf("%llu  %-14s %s  %s  %s  (%s)%s%s\n", (unsigned long long)this_seq, name,
                       t.name, t.address, t.publisher_node, reason_text,
                       mismatches ? "  MISMATCH" : "", is_provisional ? "  PROVISIONAL" : "");
            else
                printf("%llu  %-14s %.*s  (%s)%s\n", (unsigned long long)this_seq, name,
                       node_name && node_name->type == MSGPACK_OBJECT_STR
                           ? (int)node_name->via.str.size
                           : 0,
                       node_name && node_name->type == MSGPACK_OBJECT_STR ? node_name->via.str.ptr
                                                                          : "",
                       reason_text, is_provisional ? "  PROVISIONAL" : "");
            fflush(stdout);
            seen++;
        }
        discod_topic_clear(&t);
        msgpack_unpacked_destroy(&event);
        zmq_msg_close(&body);
    }
    zmq_close(sub);
    zmq_ctx_term(ctx);
    free(beside);
    return exit_code;
}
