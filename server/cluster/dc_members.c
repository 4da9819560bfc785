/* dc_members.c: the MEMBERS reply (see the .h). */
#include "dc_members.h"

#include <stdio.h>

const char *dc_role_name(int role)
{
    switch (role) {
    case DC_ROLE_FOLLOWER:
        return "follower";
    case DC_ROLE_CANDIDATE:
        return "candidate";
    case DC_ROLE_LEADER:
        return "leader";
    default:
        return "standalone";
    }
}

void dc_members_publish_indexes(dc_context_t *ctx, struct raft *r, uint64_t applied_index)
{
    dc_cluster_status_t *st = &ctx->cluster;
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(r, &leader, &address);
    /* An isolated member knows no leader, whatever libraft names: one it
     * heard from once after a cut may have stepped down since, and counts
     * only when the island does (dc_island_tick). The island clears
     * isolated before this runs, and STATS reads leader before isolated,
     * so no reader sees both. */
    if (atomic_load(&ctx->cluster.isolated))
        leader = 0;
    int state = raft_state(r);
    int role = state == RAFT_LEADER      ? DC_ROLE_LEADER
               : state == RAFT_CANDIDATE ? DC_ROLE_CANDIDATE
                                         : DC_ROLE_FOLLOWER;
    atomic_store(&st->term, r->current_term);
    /* Only the cluster thread writes it: an exchange finds the change. */
    if (atomic_exchange(&st->leader_id, leader) != leader && leader)
        DC_STAT_INC(ctx, leader_changes);
    atomic_store(&st->commit_index, r->commit_index);
    atomic_store(&st->applied_index, applied_index);
    atomic_store(&st->role, role);
}

void dc_members_publish(dc_context_t *ctx, struct raft *r, uint64_t applied_index)
{
    dc_members_publish_indexes(ctx, r, applied_index);
    dc_cluster_status_t *st = &ctx->cluster;
    uint64_t self_id = atomic_load(&st->member_id);
    raft_id leader = atomic_load(&st->leader_id);
    int state = raft_state(r);
    pthread_mutex_lock(&st->lock);
    const struct raft_configuration *conf = &r->configuration;
    st->member_count = 0;
    for (unsigned i = 0; i < conf->n && st->member_count < DC_MAX_MEMBERS; i++) {
        dc_member_view_t *m = &st->members[st->member_count++];
        m->id = conf->servers[i].id;
        snprintf(m->address, sizeof m->address, "%s", conf->servers[i].address);
        m->role = conf->servers[i].role;
        m->match_index = 0;
        if (m->id == self_id)
            m->reachable = true;
        else if (state == RAFT_LEADER && r->leader_state.progress) {
            m->reachable = r->leader_state.progress[i].recent_recv;
            m->match_index = r->leader_state.progress[i].match_index;
        } else
            m->reachable = m->id == leader;
    }
    pthread_mutex_unlock(&st->lock);
}

static const char *s_voting_name(int role)
{
    return role == RAFT_VOTER ? "voter" : role == RAFT_STANDBY ? "standby" : "spare";
}

static void s_key(msgpack_packer *pk, const char *key)
{
    dc_mp_pack_str(pk, key, (size_t)-1);
}

int dc_members_encode(dc_context_t *ctx, msgpack_sbuffer *out)
{
    dc_cluster_status_t *st = &ctx->cluster;
    uint64_t self_id = atomic_load(&st->member_id);
    uint64_t leader = atomic_load(&st->leader_id);
    int role = atomic_load(&st->role);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    pthread_mutex_lock(&st->lock);
    msgpack_pack_array(&pk, self_id ? (size_t)st->member_count : 0);
    for (int i = 0; self_id && i < st->member_count; i++) {
        const dc_member_view_t *m = &st->members[i];
        bool me = m->id == self_id;
        msgpack_pack_map(&pk, me ? 9 : 7);
        s_key(&pk, "id");
        msgpack_pack_uint64(&pk, m->id);
        s_key(&pk, "address");
        dc_mp_pack_str(&pk, m->address, (size_t)-1);
        s_key(&pk, "voting");
        dc_mp_pack_str(&pk, s_voting_name(m->role), (size_t)-1);
        s_key(&pk, "role");
        dc_mp_pack_str(&pk,
                       me                ? dc_role_name(role)
                       : m->id == leader ? "leader"
                                         : "follower",
                       (size_t)-1);
        s_key(&pk, "leader");
        msgpack_pack_uint64(&pk, leader);
        s_key(&pk, "reachable");
        if (m->reachable)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
        s_key(&pk, "match_index");
        msgpack_pack_uint64(&pk, m->match_index);
        if (me) {
            s_key(&pk, "commit_index");
            msgpack_pack_uint64(&pk, atomic_load(&st->commit_index));
            s_key(&pk, "applied_index");
            msgpack_pack_uint64(&pk, atomic_load(&st->applied_index));
        }
    }
    pthread_mutex_unlock(&st->lock);
    return out->data || !self_id ? 0 : -1;
}
