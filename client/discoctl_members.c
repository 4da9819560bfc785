/* discoctl_members.c: `discoctl members` and `discoctl member` (see
 * discoctl.h). */
#include "discoctl.h"
#include "discoctl_print.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What one endpoint answered: the members as the member there sees them. */
typedef struct {
    discod_member_t *members;
    size_t count;
    uint64_t self; /* the member that answered */
    uint64_t term;
    uint64_t isolated; /* discod_client_isolated: its provisional writes + 1; 0: not */
    const char *endpoint;
} answer_t;

static const discod_member_t *s_find(const answer_t *a, uint64_t id)
{
    for (size_t i = 0; a && i < a->count; i++)
        if (a->members[i].id == id)
            return &a->members[i];
    return NULL;
}

/* The answer of a member that says it leads (in the highest term, should an
 * old leader cut off from the others still think it does): its configuration
 * is the cluster's, the others may be a heartbeat behind a membership change. */
static const answer_t *s_leader_answer(const answer_t *answers, size_t n)
{
    const answer_t *best = NULL;
    for (size_t e = 0; e < n; e++) {
        const discod_member_t *me = s_find(&answers[e], answers[e].self);
        if (me && me->role && !strcmp(me->role, "leader") &&
            (!best || answers[e].term > best->term))
            best = &answers[e];
    }
    return best;
}

/* The answer of member id itself, or NULL when it did not answer. */
static const answer_t *s_own_answer(const answer_t *answers, size_t n, uint64_t id)
{
    for (size_t e = 0; e < n; e++)
        if (answers[e].members && answers[e].self == id)
            return &answers[e];
    return NULL;
}

/* conf: the member in the configuration the rows come from (address and
 * voting); own: the member's own answer, if it gave one (role, leader,
 * reachable, term and indexes; without it, what conf's answer says). */
static void s_print_row(const discod_member_t *conf, const answer_t *own, bool json, bool first)
{
    const discod_member_t *mine = own ? s_find(own, own->self) : NULL;
    const discod_member_t *state = mine ? mine : conf;
    if (json) {
        printf("%s{\"id\":%" PRIu64 ",\"address\":", first ? "" : ",", conf->id);
        dctl_json_string(conf->address);
        fputs(",\"voting\":", stdout);
        dctl_json_string(conf->voting);
        fputs(",\"role\":", stdout);
        dctl_json_string(state->role);
        printf(",\"leader\":%" PRIu64 ",\"reachable\":%s,\"answered\":%s", state->leader,
               state->reachable ? "true" : "false", mine ? "true" : "false");
        if (mine)
            printf(",\"term\":%" PRIu64 ",\"commit_index\":%" PRIu64 ",\"applied_index\":%" PRIu64
                   ",\"isolated\":%s,\"provisional\":%" PRIu64,
                   own->term, mine->commit_index, mine->applied_index,
                   own->isolated ? "true" : "false", own->isolated ? own->isolated - 1 : 0);
        putchar('}');
    } else if (mine) {
        printf("%-4" PRIu64 " %-22s %-7s %-9s %-6" PRIu64 " %-9s %-6" PRIu64 " %-8" PRIu64
               " %-8" PRIu64 " %s\n",
               conf->id, conf->address, conf->voting, state->role, state->leader,
               state->reachable ? "yes" : "no", own->term, mine->commit_index, mine->applied_index,
               own->endpoint);
        if (own->isolated)
            printf("     ISOLATED: member %" PRIu64 " serves its own computer, %" PRIu64
                   " provisional write(s) to merge\n",
                   conf->id, own->isolated - 1);
    } else
        printf("%-4" PRIu64 " %-22s %-7s %-9s %-6" PRIu64 " %-9s %-6s %-8s %-8s %s\n", conf->id,
               conf->address, conf->voting, state->role, state->leader,
               state->reachable ? "yes" : "no", "-", "-", "-", "(not asked or no answer)");
}

int dctl_members(const char *const *endpoints, size_t count, const discod_options_t *base,
                 bool json)
{
    answer_t *answers = calloc(count ? count : 1, sizeof *answers);
    if (!answers) {
        fprintf(stderr, "discoctl: out of memory\n");
        return EXIT_UNREACHABLE;
    }
    bool any = false;
    discod_options_t options = *base;
    options.retries = 1;
    options.prefer_local = 0;
    for (size_t e = 0; e < count; e++) {
        discod_client_t *c = discod_client_new_multi(&endpoints[e], 1, &options);
        answer_t *a = &answers[e];
        discod_result_t r = c ? discod_members(c, &a->members, &a->count) : DISCOD_NOMEM;
        if (r != DISCOD_OK) {
            fprintf(stderr, "discoctl: %s: %s\n", endpoints[e], discod_strerror(r));
            a->members = NULL;
            a->count = 0;
        } else {
            any = true;
            a->self = discod_client_member(c);
            a->term = discod_client_term(c);
            a->isolated = discod_client_isolated(c);
            a->endpoint = endpoints[e];
            if (a->count == 0 && !json)
                printf("%s: standalone (no cluster)\n", endpoints[e]);
        }
        discod_client_destroy(&c);
    }
    /* The rows: the leader's configuration when the leader answered; else
     * every member any answer lists, as it sees itself if it answered. */
    const answer_t *leader = s_leader_answer(answers, count);
    const answer_t *sources = leader ? leader : answers;
    size_t source_count = leader ? 1 : count;
    const discod_member_t *rows[16];
    size_t row_count = 0;
    for (size_t e = 0; e < source_count; e++)
        for (size_t i = 0; i < sources[e].count && row_count < 16; i++) {
            const discod_member_t *m = &sources[e].members[i];
            size_t k = 0;
            while (k < row_count && rows[k]->id != m->id)
                k++;
            if (k < row_count)
                continue;
            const discod_member_t *self_view =
                leader ? NULL : s_find(s_own_answer(answers, count, m->id), m->id);
            rows[row_count++] = self_view ? self_view : m;
        }
    if (json)
        putchar('[');
    else if (row_count)
        printf("%-4s %-22s %-7s %-9s %-6s %-9s %-6s %-8s %-8s %s\n", "ID", "ADDRESS", "VOTING",
               "ROLE", "LEADER", "REACHABLE", "TERM", "COMMIT", "APPLIED", "ENDPOINT");
    for (size_t k = 0; k < row_count; k++)
        s_print_row(rows[k], s_own_answer(answers, count, rows[k]->id), json, k == 0);
    if (json)
        puts("]");
    for (size_t e = 0; e < count; e++)
        discod_members_free(answers[e].members, answers[e].count);
    free(answers);
    return any ? 0 : EXIT_UNREACHABLE;
}

int dctl_member_change(discod_client_t *c, const command_args_t *a)
{
    const char *what = a->positional_count ? a->positional[0] : "";
    uint64_t id = 0;
    bool add = !strcmp(what, "add"), remove = !strcmp(what, "remove"),
         transfer = !strcmp(what, "transfer");
    int want = add ? 3 : remove ? 2 : 1;
    if ((!add && !remove && !transfer) || (transfer && a->positional_count > 2) ||
        (!transfer && a->positional_count != want) ||
        (a->positional_count > 1 && (dctl_parse_u64(a->positional[1], &id) || !id))) {
        fprintf(stderr, "discoctl member: expected add ID HOST:PORT, remove ID or transfer [ID]\n");
        return EXIT_USAGE;
    }
    discod_result_t r = add      ? discod_member_add(c, id, a->positional[2])
                        : remove ? discod_member_remove(c, id)
                                 : discod_member_transfer(c, id);
    if (r != DISCOD_OK)
        return dctl_fail(c, "member", r);
    printf("%s\n", discod_client_last_message(c));
    return 0;
}
