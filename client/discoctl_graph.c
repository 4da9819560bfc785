/* discoctl_graph.c: the robot's graph from the shell: subscribe and
 * unsubscribe, and the views of GRAPH: topic (every publisher and
 * subscriber of one topic), the subscriptions of node, and graph (node ->
 * topic -> node, as text, Graphviz DOT or JSON). */
#include "discoctl.h"
#include "discoctl_print.h"
#include "dc_protocol.h"
#include "dc_reply.h"
#include "dc_request.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*==== Reading the GRAPH reply ====*/

/* One publisher or subscription (views into the reply). */
typedef struct {
    dc_str_t topic, node, type, address;
    uint64_t fingerprint, lease_id, lease_remaining_ms, origin, mismatched;
    bool sub;
} row_t;

/* One mismatch: the pair, and what each side says. */
typedef struct {
    dc_str_t topic, sub_node, sub_type, pub_node, pub_type;
    uint64_t sub_fp, pub_fp;
} mm_t;

typedef struct {
    row_t *rows;
    size_t count;
    mm_t *mismatches;
    size_t mismatch_count;
    const msgpack_object *lookups;
    uint64_t member;
    dc_reply_view_t view;
} graph_t;

static const msgpack_object *s_get(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; map && map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
        if (dc_mp_key_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

static dc_str_t s_str(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = s_get(map, key);
    if (o && o->type == MSGPACK_OBJECT_STR)
        return (dc_str_t){o->via.str.ptr, o->via.str.size};
    return (dc_str_t){"", 0};
}

static uint64_t s_u64(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = s_get(map, key);
    return o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? o->via.u64 : 0;
}

static void s_rows(graph_t *g, const msgpack_object *array, bool sub)
{
    for (uint32_t i = 0; array && array->type == MSGPACK_OBJECT_ARRAY && i < array->via.array.size;
         i++) {
        const msgpack_object *m = &array->via.array.ptr[i];
        g->rows[g->count++] = (row_t){s_str(m, "topic"),
                                      s_str(m, "node"),
                                      s_str(m, "message_type"),
                                      s_str(m, "address"),
                                      s_u64(m, "fingerprint"),
                                      s_u64(m, "lease_id"),
                                      s_u64(m, "lease_remaining_ms"),
                                      s_u64(m, "origin"),
                                      s_u64(m, "mismatched"),
                                      sub};
    }
}

static size_t s_len(const msgpack_object *array)
{
    return array && array->type == MSGPACK_OBJECT_ARRAY ? array->via.array.size : 0;
}

static int s_row_cmp(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    size_t n = x->topic.len < y->topic.len ? x->topic.len : y->topic.len;
    int c = memcmp(x->topic.ptr, y->topic.ptr, n);
    if (c || x->topic.len != y->topic.len)
        return c ? c : (x->topic.len < y->topic.len ? -1 : 1);
    if (x->sub != y->sub)
        return x->sub ? 1 : -1;
    n = x->node.len < y->node.len ? x->node.len : y->node.len;
    c = memcmp(x->node.ptr, y->node.ptr, n);
    return c ? c : (x->node.len > y->node.len) - (x->node.len < y->node.len);
}

/* Asks GRAPH (topic or node may be NULL) and reads it into g. */
static discod_result_t s_graph(discod_client_t *c, const char *topic, const char *node, graph_t *g)
{
    memset(g, 0, sizeof *g);
    dc_request_t req;
    dc_request_init(&req, DC_CMD_GRAPH);
    if (topic) {
        req.present |= DC_REQ_TOPIC_NAME;
        req.topic_name = dc_str_from(topic);
    }
    if (node) {
        req.present |= DC_REQ_NODE_NAME;
        req.node_name = dc_str_from(node);
    }
    discod_result_t r = discod__call(c, &req, 0, 0, &g->view);
    if (r < 0)
        return r;
    r = discod__v2_result(r, &g->view, g->view.subscriptions != NULL);
    if (r != DISCOD_OK) {
        dc_reply_view_release(&g->view);
        return r;
    }
    size_t n = s_len(g->view.publishers) + s_len(g->view.subscriptions);
    size_t m = s_len(g->view.mismatches);
    g->rows = calloc(n ? n : 1, sizeof *g->rows);
    g->mismatches = calloc(m ? m : 1, sizeof *g->mismatches);
    if (!g->rows || !g->mismatches) {
        free(g->rows);
        free(g->mismatches);
        dc_reply_view_release(&g->view);
        return DISCOD_NOMEM;
    }
    s_rows(g, g->view.publishers, false);
    s_rows(g, g->view.subscriptions, true);
    qsort(g->rows, g->count, sizeof *g->rows, s_row_cmp);
    for (size_t i = 0; i < m; i++) {
        const msgpack_object *x = &g->view.mismatches->via.array.ptr[i];
        const msgpack_object *s = s_get(x, "subscriber"), *p = s_get(x, "publisher");
        g->mismatches[g->mismatch_count++] =
            (mm_t){s_str(x, "topic"),      s_str(s, "node"),         s_str(s, "message_type"),
                   s_str(p, "node"),       s_str(p, "message_type"), s_u64(s, "fingerprint"),
                   s_u64(p, "fingerprint")};
    }
    g->lookups = g->view.lookups;
    g->member = g->view.member_id;
    return DISCOD_OK;
}

static void s_graph_free(graph_t *g)
{
    free(g->rows);
    free(g->mismatches);
    dc_reply_view_release(&g->view);
}

/* The mismatch between publisher pub and subscriber sub of topic, or NULL. */
static const mm_t *s_mismatch(const graph_t *g, dc_str_t topic, dc_str_t pub, dc_str_t sub)
{
    for (size_t i = 0; i < g->mismatch_count; i++) {
        const mm_t *m = &g->mismatches[i];
        if (dc_str_eq(m->topic, topic) && dc_str_eq(m->pub_node, pub) &&
            dc_str_eq(m->sub_node, sub))
            return m;
    }
    return NULL;
}

/*==== JSON: the reply's maps as they are ====*/

static void s_json(const msgpack_object *o)
{
    switch (o ? o->type : MSGPACK_OBJECT_NIL) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        printf("%" PRIu64, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        printf("%" PRId64, o->via.i64);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        fputs(o->via.boolean ? "true" : "false", stdout);
        break;
    case MSGPACK_OBJECT_STR: {
        char *s = dc_str_dup((dc_str_t){o->via.str.ptr, o->via.str.size});
        dctl_json_string(s ? s : "");
        free(s);
        break;
    }
    case MSGPACK_OBJECT_ARRAY:
        putchar('[');
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                putchar(',');
            s_json(&o->via.array.ptr[i]);
        }
        putchar(']');
        break;
    case MSGPACK_OBJECT_MAP:
        putchar('{');
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i)
                putchar(',');
            s_json(&o->via.map.ptr[i].key);
            putchar(':');
            s_json(&o->via.map.ptr[i].val);
        }
        putchar('}');
        break;
    default:
        fputs("null", stdout);
    }
}

static const msgpack_object s_empty = {.type = MSGPACK_OBJECT_ARRAY};

static void s_graph_json(const graph_t *g)
{
    fputs("{\"publishers\":", stdout);
    s_json(g->view.publishers ? g->view.publishers : &s_empty);
    fputs(",\"subscriptions\":", stdout);
    s_json(g->view.subscriptions);
    fputs(",\"lookups\":", stdout);
    s_json(g->lookups ? g->lookups : &s_empty);
    fputs(",\"mismatches\":", stdout);
    s_json(g->view.mismatches ? g->view.mismatches : &s_empty);
    printf(",\"member\":%" PRIu64 "}\n", g->member);
}

/*==== Text ====*/

static void s_lease_text(const row_t *r, char *out, size_t size)
{
    if (r->lease_id)
        snprintf(out, size, "%" PRIu64 " (%.1f s left)", r->lease_id,
                 (double)r->lease_remaining_ms / 1000.0);
    else
        snprintf(out, size, "-");
}

static void s_print_rows(const graph_t *g, bool by_node)
{
    printf("%-10s %-24s %-24s %-20s %-22s %-6s %s\n", "ROLE", by_node ? "TOPIC" : "NODE", "TYPE",
           "FINGERPRINT", "LEASE", "MEMBER", "ADDRESS / MISMATCH");
    for (size_t i = 0; i < g->count; i++) {
        const row_t *r = &g->rows[i];
        char lease[48];
        s_lease_text(r, lease, sizeof lease);
        dc_str_t who = by_node ? r->topic : r->node;
        printf("%-10s %-24.*s %-24.*s %-20" PRIu64 " %-22s %-6" PRIu64 " ",
               r->sub ? "subscriber" : "publisher", (int)who.len, who.ptr, (int)r->type.len,
               r->type.len ? r->type.ptr : "(any)", r->fingerprint, lease, r->origin);
        if (!r->sub)
            printf("%.*s", (int)r->address.len, r->address.ptr);
        if (r->mismatched)
            printf("%sMISMATCH (%" PRIu64 ")", r->sub ? "" : "  ", r->mismatched);
        putchar('\n');
    }
    for (size_t i = 0; i < g->mismatch_count; i++) {
        const mm_t *m = &g->mismatches[i];
        printf("MISMATCH on %.*s: %.*s expects %.*s (fingerprint %" PRIu64 "), %.*s sends %.*s "
               "(fingerprint %" PRIu64 ")\n",
               (int)m->topic.len, m->topic.ptr, (int)m->sub_node.len, m->sub_node.ptr,
               (int)(m->sub_type.len ? m->sub_type.len : 8),
               m->sub_type.len ? m->sub_type.ptr : "any type", m->sub_fp, (int)m->pub_node.len,
               m->pub_node.ptr, (int)m->pub_type.len, m->pub_type.ptr, m->pub_fp);
    }
}

static void s_print_lookups(const graph_t *g)
{
    for (size_t i = 0; i < s_len(g->lookups); i++) {
        const msgpack_object *l = &g->lookups->via.array.ptr[i];
        dc_str_t t = s_str(l, "topic");
        printf("looked up %" PRIu64 " time(s) by clients that did not say who they are: %.*s\n",
               s_u64(l, "count"), (int)t.len, t.ptr);
    }
}

int dctl_topic(discod_client_t *c, const command_args_t *a)
{
    graph_t g;
    discod_result_t r = s_graph(c, a->positional[0], NULL, &g);
    if (r != DISCOD_OK)
        return dctl_fail(c, "topic", r);
    int code = 0;
    if (a->json)
        s_graph_json(&g);
    else if (g.count == 0 && s_len(g.lookups) == 0) {
        fprintf(stderr, "discoctl: %s: no publisher, subscriber or lookup\n", a->positional[0]);
        code = EXIT_NOT_FOUND;
    } else {
        if (g.member)
            printf("%s  (as member %" PRIu64 " has it)\n", a->positional[0], g.member);
        else
            printf("%s\n", a->positional[0]);
        if (g.count)
            s_print_rows(&g, false);
        s_print_lookups(&g);
    }
    s_graph_free(&g);
    return code;
}

int dctl_node_subscriptions(discod_client_t *c, const char *node, bool json, bool *any)
{
    graph_t g;
    discod_result_t r = s_graph(c, NULL, node, &g);
    if (r != DISCOD_OK)
        return dctl_fail(c, "node", r);
    *any = g.count > 0;
    if (json) {
        fputs(",\"subscriptions\":", stdout);
        s_json(g.view.subscriptions);
        fputs(",\"mismatches\":", stdout);
        s_json(g.view.mismatches ? g.view.mismatches : &s_empty);
    } else if (g.count) {
        s_print_rows(&g, true);
    }
    s_graph_free(&g);
    return 0;
}

/*==== The graph ====*/

/* The rows of one topic: [*first, *end). */
static size_t s_topic_end(const graph_t *g, size_t first)
{
    size_t end = first;
    while (end < g->count && dc_str_eq(g->rows[end].topic, g->rows[first].topic))
        end++;
    return end;
}

static uint64_t s_lookups_of(const graph_t *g, dc_str_t topic)
{
    for (size_t i = 0; i < s_len(g->lookups); i++)
        if (dc_str_eq(s_str(&g->lookups->via.array.ptr[i], "topic"), topic))
            return s_u64(&g->lookups->via.array.ptr[i], "count");
    return 0;
}

static void s_graph_text(const graph_t *g)
{
    if (g->member)
        printf("# as member %" PRIu64 " has it\n", g->member);
    for (size_t first = 0; first < g->count;) {
        size_t end = s_topic_end(g, first), subs = first;
        while (subs < end && !g->rows[subs].sub)
            subs++;
        const row_t *t = &g->rows[first];
        printf("%.*s [%.*s]\n", (int)t->topic.len, t->topic.ptr, (int)t->type.len,
               t->type.len ? t->type.ptr : "any type");
        for (size_t p = first; p < (subs > first ? subs : first + 1); p++) {
            dc_str_t pub = p < subs ? g->rows[p].node : (dc_str_t){"(no publisher)", 14};
            if (subs == end)
                printf("  %.*s -> %.*s -> (no subscriber)\n", (int)pub.len, pub.ptr,
                       (int)t->topic.len, t->topic.ptr);
            for (size_t s = subs; s < end; s++) {
                const row_t *sr = &g->rows[s];
                const mm_t *m = p < subs ? s_mismatch(g, t->topic, pub, sr->node) : NULL;
                printf("  %.*s -> %.*s -> %.*s", (int)pub.len, pub.ptr, (int)t->topic.len,
                       t->topic.ptr, (int)sr->node.len, sr->node.ptr);
                if (m)
                    printf("   MISMATCH: expects %.*s (fingerprint %" PRIu64 ")",
                           (int)(m->sub_type.len ? m->sub_type.len : 8),
                           m->sub_type.len ? m->sub_type.ptr : "any type", m->sub_fp);
                putchar('\n');
            }
        }
        uint64_t looked = s_lookups_of(g, t->topic);
        if (looked)
            printf("  (looked up %" PRIu64 " time(s) by undeclared clients)\n", looked);
        first = end;
    }
    /* Topics only looked up: nobody publishes or subscribes them. */
    for (size_t i = 0; i < s_len(g->lookups); i++) {
        dc_str_t topic = s_str(&g->lookups->via.array.ptr[i], "topic");
        bool seen = false;
        for (size_t k = 0; k < g->count && !seen; k++)
            seen = dc_str_eq(g->rows[k].topic, topic);
        if (!seen)
            printf("%.*s [not registered]\n  (looked up %" PRIu64
                   " time(s) by undeclared clients)\n",
                   (int)topic.len, topic.ptr, s_u64(&g->lookups->via.array.ptr[i], "count"));
    }
}

/* A DOT id or label: quoted, with quotes and backslashes escaped. */
static void s_dot_quoted(const char *prefix, dc_str_t s)
{
    printf("\"%s", prefix);
    for (uint32_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];
        if (ch == '"' || ch == '\\')
            putchar('\\');
        if (ch == '\n')
            fputs("\\n", stdout);
        else
            putchar(ch);
    }
    putchar('"');
}

static bool s_node_seen(const graph_t *g, size_t upto, dc_str_t node)
{
    for (size_t i = 0; i < upto; i++)
        if (dc_str_eq(g->rows[i].node, node))
            return true;
    return false;
}

static void s_graph_dot(const graph_t *g)
{
    puts("digraph discod {");
    puts("  rankdir=LR;");
    puts("  node [fontname=\"sans-serif\", fontsize=10];");
    puts("  edge [fontname=\"sans-serif\", fontsize=9];");
    for (size_t i = 0; i < g->count; i++)
        if (!s_node_seen(g, i, g->rows[i].node)) {
            fputs("  ", stdout);
            s_dot_quoted("n:", g->rows[i].node);
            fputs(" [shape=box, label=", stdout);
            s_dot_quoted("", g->rows[i].node);
            puts("];");
        }
    for (size_t first = 0; first < g->count;) {
        size_t end = s_topic_end(g, first);
        const row_t *t = &g->rows[first];
        bool bad = false;
        for (size_t k = first; k < end; k++)
            bad = bad || g->rows[k].mismatched;
        fputs("  ", stdout);
        s_dot_quoted("t:", t->topic);
        printf(" [shape=ellipse%s, label=", bad ? ", color=red" : "");
        s_dot_quoted("", t->topic);
        puts("];");
        for (size_t k = first; k < end; k++) {
            const row_t *r = &g->rows[k];
            fputs("  ", stdout);
            s_dot_quoted(r->sub ? "t:" : "n:", r->sub ? r->topic : r->node);
            fputs(" -> ", stdout);
            s_dot_quoted(r->sub ? "n:" : "t:", r->sub ? r->node : r->topic);
            if (r->mismatched) {
                char label[64];
                snprintf(label, sizeof label, "mismatch (%" PRIu64 ")", r->mismatched);
                fputs(" [color=red, fontcolor=red, penwidth=2, label=", stdout);
                s_dot_quoted("", dc_str_from(label));
                fputs("]", stdout);
            } else {
                fputs(" [label=", stdout);
                s_dot_quoted("", r->type.len ? r->type : dc_str_from("any"));
                fputs("]", stdout);
            }
            puts(";");
        }
        uint64_t looked = s_lookups_of(g, t->topic);
        if (looked) {
            fputs("  ", stdout);
            s_dot_quoted("t:", t->topic);
            printf(" -> \"legacy lookups\" [style=dashed, label=\"%" PRIu64 "\"];\n", looked);
        }
        first = end;
    }
    if (s_len(g->lookups))
        puts("  \"legacy lookups\" [shape=note, style=dashed];");
    puts("}");
}

int dctl_graph(discod_client_t *c, const command_args_t *a)
{
    const char *format = a->format ? a->format : "text";
    if (strcmp(format, "text") && strcmp(format, "dot")) {
        fprintf(stderr, "discoctl graph: --format is text or dot (or use --json)\n");
        return EXIT_USAGE;
    }
    graph_t g;
    discod_result_t r = s_graph(c, NULL, a->node, &g);
    if (r != DISCOD_OK)
        return dctl_fail(c, "graph", r);
    if (a->json)
        s_graph_json(&g);
    else if (!strcmp(format, "dot"))
        s_graph_dot(&g);
    else
        s_graph_text(&g);
    s_graph_free(&g);
    return 0;
}

/*==== subscribe, unsubscribe ====*/

static void s_print_mismatches(const char *topic, const discod_mismatch_t *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("MISMATCH on %s: %s sends %s (fingerprint %" PRIu64 ") at %s\n", topic, m[i].node,
               m[i].message_type, m[i].fingerprint, m[i].address);
}

int dctl_subscribe(const char *const *endpoints, size_t count, const discod_options_t *options,
                   discod_client_t *c, const command_args_t *a)
{
    discod_subscription_t sub = {a->positional[0], a->node ? a->node : "discoctl",
                                 a->positional_count > 1 ? a->positional[1] : "", a->fingerprint};
    discod_mismatch_t *mm = NULL;
    size_t n = 0;
    if (!a->ttl_ms) {
        discod_register_opts_t opts = {0, 0, a->meta, a->meta_count};
        discod_result_t r = discod_subscribe(c, &sub, &opts, NULL, &mm, &n);
        if (r != DISCOD_OK)
            return dctl_fail(c, "subscribe", r);
        printf("%s\n", discod_client_last_message(c));
        s_print_mismatches(sub.topic, mm, n);
        discod_mismatches_free(mm, n);
        return 0;
    }
    dctl_catch_signals();
    discod_session_t *session = discod_session_new(endpoints, count, options, a->ttl_ms);
    if (!session) {
        fprintf(stderr, "discoctl subscribe: cannot start a session\n");
        return EXIT_USAGE;
    }
    discod_result_t r = discod_session_subscribe(session, &sub, &mm, &n);
    if (r != DISCOD_OK) {
        fprintf(stderr, "discoctl subscribe: %s\n", discod_strerror(r));
        discod_session_destroy(&session);
        return dctl_exit_code(r);
    }
    printf("Subscribed %s to topic: %s (lease %llu, ttl %llu ms); renewing until interrupted\n",
           sub.node, sub.topic, (unsigned long long)discod_session_lease_id(session),
           (unsigned long long)a->ttl_ms);
    s_print_mismatches(sub.topic, mm, n);
    discod_mismatches_free(mm, n);
    fflush(stdout);
    dctl_wait_for_signal();
    discod_session_destroy(&session);
    return 0;
}

int dctl_unsubscribe(discod_client_t *c, const command_args_t *a)
{
    discod_result_t r = discod_unsubscribe(c, a->positional[0], a->node ? a->node : "discoctl");
    if (r != DISCOD_OK)
        return dctl_fail(c, "unsubscribe", r);
    printf("%s\n", discod_client_last_message(c));
    return 0;
}
