/* discoctl_print.c: how discoctl shows topics and nodes: aligned tables for
 * people, JSON for scripts (see discoctl_print.h): topics, nodes, counters. */
#include "discoctl_print.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void dctl_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* A topic's JSON object, left open for more keys. */
void dctl_json_topic_open(const discod_topic_t *t)
{
    fputs("{\"name\":", stdout);
    dctl_json_string(t->name);
    fputs(",\"address\":", stdout);
    dctl_json_string(t->address);
    fputs(",\"message_type\":", stdout);
    dctl_json_string(t->message_type);
    printf(",\"fingerprint\":%" PRIu64 ",\"publisher_node\":", t->fingerprint);
    dctl_json_string(t->publisher_node);
}

void dctl_json_topic(const discod_topic_t *t)
{
    dctl_json_topic_open(t);
    putchar('}');
}

/* Display width of UTF-8 text: one column per code point (good enough for
 * aligning names; wide CJK glyphs may still push a column). */
static int s_width(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        w += (*p & 0xc0) != 0x80;
    return w;
}

static void s_pad(const char *s, int width)
{
    fputs(s, stdout);
    for (int i = s_width(s); i < width; i++)
        putchar(' ');
}

void dctl_print_table(const discod_topic_t *topics, size_t n)
{
    const char *headers[] = {"NAME", "ADDRESS", "TYPE", "NODE"};
    int widths[4];
    for (int k = 0; k < 4; k++)
        widths[k] = s_width(headers[k]);
    for (size_t i = 0; i < n; i++) {
        const char *cells[] = {topics[i].name, topics[i].address, topics[i].message_type,
                               topics[i].publisher_node};
        for (int k = 0; k < 4; k++)
            if (s_width(cells[k]) > widths[k])
                widths[k] = s_width(cells[k]);
    }
    for (int k = 0; k < 4; k++) {
        s_pad(headers[k], widths[k]);
        fputs("  ", stdout);
    }
    puts("FINGERPRINT");
    for (size_t i = 0; i < n; i++) {
        const char *cells[] = {topics[i].name, topics[i].address, topics[i].message_type,
                               topics[i].publisher_node};
        for (int k = 0; k < 4; k++) {
            s_pad(cells[k], widths[k]);
            fputs("  ", stdout);
        }
        printf("%" PRIu64 "\n", topics[i].fingerprint);
    }
}

void dctl_print_nodes(const discod_node_t *nodes, size_t n, bool json, bool one, bool open)
{
    if (json && !one)
        putchar('[');
    for (size_t i = 0; i < n; i++) {
        const discod_node_t *node = &nodes[i];
        if (json) {
            if (i)
                putchar(',');
            fputs("{\"name\":", stdout);
            dctl_json_string(node->name);
            fputs(",\"description\":", stdout);
            dctl_json_string(node->description);
            fputs(",\"capabilities\":[", stdout);
            for (size_t k = 0; k < node->capability_count; k++) {
                if (k)
                    putchar(',');
                dctl_json_string(node->capabilities[k]);
            }
            fputs("],\"metadata\":{", stdout);
            for (size_t k = 0; k < node->metadata_count; k++) {
                if (k)
                    putchar(',');
                dctl_json_string(node->metadata[k].key);
                putchar(':');
                dctl_json_string(node->metadata[k].value);
            }
            printf("},\"lease_id\":%llu,\"topics\":[", (unsigned long long)node->lease_id);
            for (size_t k = 0; k < node->topic_count; k++) {
                if (k)
                    putchar(',');
                dctl_json_string(node->topics[k]);
            }
            fputs(one && open ? "]" : "]}", stdout);
        } else {
            printf("%s", node->name);
            if (*node->description)
                printf("  (%s)", node->description);
            putchar('\n');
            printf("  capabilities:");
            for (size_t k = 0; k < node->capability_count; k++)
                printf(" %s", node->capabilities[k]);
            printf("\n  topics:");
            for (size_t k = 0; k < node->topic_count; k++)
                printf(" %s", node->topics[k]);
            putchar('\n');
            for (size_t k = 0; k < node->metadata_count; k++)
                printf("  %s = %s\n", node->metadata[k].key, node->metadata[k].value);
        }
    }
    if (json && !(one && open))
        puts(one ? "" : "]");
}

const char *dctl_role_name(uint64_t role)
{
    static const char *names[] = {"standalone", "follower", "candidate", "leader"};
    return role < sizeof names / sizeof names[0] ? names[role] : "unknown";
}

static const discod_stat_t *s_stat(const discod_stat_t *stats, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(stats[i].name, name))
            return &stats[i];
    return NULL;
}

void dctl_print_stats(const discod_stat_t *stats, size_t n, bool json)
{
    const discod_stat_t *role = s_stat(stats, n, "role");
    const discod_stat_t *leader = s_stat(stats, n, "leader");
    if (json) {
        putchar('{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                putchar(',');
            dctl_json_string(stats[i].name);
            printf(":%" PRIu64, stats[i].value);
        }
        if (role) {
            printf("%s\"role_name\":", n ? "," : "");
            dctl_json_string(dctl_role_name(role->value));
        }
        puts("}");
        return;
    }
    int width = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(stats[i].name) > width)
            width = (int)strlen(stats[i].name);
    for (size_t i = 0; i < n; i++) {
        if (&stats[i] == role) {
            printf("%-*s  %s", width, "role", dctl_role_name(role->value));
            if (role->value != 0 && leader && leader->value)
                printf(" (leader %" PRIu64 ")", leader->value);
            else if (role->value != 0 && leader)
                printf(" (no leader known)");
            putchar('\n');
        } else {
            printf("%-*s  %" PRIu64 "\n", width, stats[i].name, stats[i].value);
        }
    }
}
