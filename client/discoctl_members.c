/* discoctl_members.c: `discoctl members` and `discoctl member` (see
 * discoctl.h). */
#include "discoctl.h"
#include "discoctl_print.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    discod_member_t m;
    bool answered; /* it answered itself: term/commit/applied are its own */
    uint64_t term;
    const char *endpoint;
} member_row_t;

int dctl_members(const char *const *endpoints, size_t count, const discod_options_t *base,
                 bool json)
{
    member_row_t rows[16];
    size_t row_count = 0;
    bool any = false;
    discod_options_t options = *base;
    options.retries = 1;
    options.prefer_local = 0;
    for (size_t e = 0; e < count; e++) {
        discod_client_t *c = discod_client_new_multi(&endpoints[e], 1, &options);
        discod_member_t *members = NULL;
        size_t n = 0;
        discod_result_t r = c ? discod_members(c, &members, &n) : DISCOD_NOMEM;
        if (r != DISCOD_OK) {
            fprintf(stderr, "discoctl: %s: %s\n", endpoints[e], discod_strerror(r));
            discod_client_destroy(&c);
            continue;
        }
        any = true;
        uint64_t self = discod_client_member(c);
        for (size_t i = 0; i < n; i++) {
            size_t k = 0;
            while (k < row_count && rows[k].m.id != members[i].id)
                k++;
            bool mine = members[i].id == self;
            if (k == row_count && row_count < 16) {
                rows[row_count] = (member_row_t){members[i], false, 0, NULL};
                members[i].address = members[i].voting = members[i].role = NULL;
                row_count++;
            } else if (k < row_count && mine) {
                free(rows[k].m.address);
                free(rows[k].m.voting);
                free(rows[k].m.role);
                rows[k].m = members[i];
                members[i].address = members[i].voting = members[i].role = NULL;
            } else
                continue;
            if (mine) {
                rows[k].answered = true;
                rows[k].term = discod_client_term(c);
                rows[k].endpoint = endpoints[e];
            }
        }
        if (n == 0 && !json)
            printf("%s: standalone (no cluster)\n", endpoints[e]);
        discod_members_free(members, n);
        discod_client_destroy(&c);
    }
    if (json)
        putchar('[');
    else if (row_count)
        printf("%-4s %-22s %-7s %-9s %-6s %-9s %-6s %-8s %-8s %s\n", "ID", "ADDRESS", "VOTING",
               "ROLE", "LEADER", "REACHABLE", "TERM", "COMMIT", "APPLIED", "ENDPOINT");
    for (size_t k = 0; k < row_count; k++) {
        const member_row_t *r = &rows[k];
        if (json) {
            printf("%s{\"id\":%" PRIu64 ",\"address\":", k ? "," : "", r->m.id);
            dctl_json_string(r->m.address);
            fputs(",\"voting\":", stdout);
            dctl_json_string(r->m.voting);
            fputs(",\"role\":", stdout);
            dctl_json_string(r->m.role);
            printf(",\"leader\":%" PRIu64 ",\"reachable\":%s,\"answered\":%s", r->m.leader,
                   r->m.reachable ? "true" : "false", r->answered ? "true" : "false");
            if (r->answered)
                printf(",\"term\":%" PRIu64 ",\"commit_index\":%" PRIu64
                       ",\"applied_index\":%" PRIu64,
                       r->term, r->m.commit_index, r->m.applied_index);
            putchar('}');
        } else if (r->answered)
            printf("%-4" PRIu64 " %-22s %-7s %-9s %-6" PRIu64 " %-9s %-6" PRIu64 " %-8" PRIu64
                   " %-8" PRIu64 " %s\n",
                   r->m.id, r->m.address, r->m.voting, r->m.role, r->m.leader,
                   r->m.reachable ? "yes" : "no", r->term, r->m.commit_index, r->m.applied_index,
                   r->endpoint);
        else
            printf("%-4" PRIu64 " %-22s %-7s %-9s %-6" PRIu64 " %-9s %-6s %-8s %-8s %s\n", r->m.id,
                   r->m.address, r->m.voting, r->m.role, r->m.leader, r->m.reachable ? "yes" : "no",
                   "-", "-", "-", "(not asked or no answer)");
        free(r->m.address);
        free(r->m.voting);
        free(r->m.role);
    }
    if (json)
        puts("]");
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
