/* discoctl_print.h: discoctl's output: JSON (strings escaped, one object per
 * topic or node) and aligned tables. Everything goes to stdout. */
#ifndef DISCOCTL_PRINT_H
#define DISCOCTL_PRINT_H

#include "discod.h"

#include <stdbool.h>
#include <stddef.h>

/* s as a JSON string, quoted and escaped. */
void dctl_json_string(const char *s);

/* A topic's JSON object, left open for more keys (close it with '}'). */
void dctl_json_topic_open(const discod_topic_t *t);

/* A topic's JSON object. */
void dctl_json_topic(const discod_topic_t *t);

/* Topics as a table: NAME ADDRESS TYPE NODE FINGERPRINT, a row each. */
void dctl_print_table(const discod_topic_t *topics, size_t n);

/* Nodes with their capabilities, topics and metadata; json: as a JSON array
 * (one: a single object, left open for more keys when open; the caller
 * closes it). */
void dctl_print_nodes(const discod_node_t *nodes, size_t n, bool json, bool one, bool open);

/* The daemon's counters, a row each (or one JSON object). The role is
 * printed by name, with the leader's id; JSON keeps the number and adds
 * "role_name". */
void dctl_print_stats(const discod_stat_t *stats, size_t n, bool json);

/* The name of a STATS role code: standalone, follower, candidate, leader. */
const char *dctl_role_name(uint64_t role);

#endif
