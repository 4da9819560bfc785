/* dc_cluster_change.c: membership changes on the leader: a member added
 * (as a spare, then a voter once its log is up to date), removed, or
 * leadership handed over; one at a time (see dc_cluster_member.h). */
#include "dc_cluster_member.h"
#include "dc_log.h"
#include "dc_members.h"

#include <stdio.h>

static void s_member_answer(cluster_t *self, int status, const char *fmt, uint64_t id,
                            const char *detail)
{
    dc_cop_t *c = self->changing;
    self->changing = NULL;
    c->out.status = status;
    snprintf(c->out.message, sizeof c->out.message, fmt, (unsigned long long)id, detail);
    c->index = self->state->applied_index;
    dc_info("membership: %s", c->out.message);
    /* MEMBERS right after the answer shows the change (else the next tick). */
    dc_members_publish(self->ctx, &self->raft, self->state->applied_index);
    dc_cluster__finish(self, c);
}

static void s_change_done(struct raft_change *req, int status)
{
    cluster_t *self = req->data;
    dc_cop_t *c = self->changing;
    if (!c)
        return;
    if (status != 0) {
        s_member_answer(self, DC_STATUS_ERROR, "Membership change for member %llu failed: %s",
                        c->op->member_id, raft_strerror(status));
        return;
    }
    if (c->op->kind == DC_OP_MEMBER_ADD && c->out.changed == false) {
        /* Added as a spare: now make it a voter (the leader first brings its
         * log up to date). */
        c->out.changed = true;
        int rc =
            raft_assign(&self->raft, &self->change, c->op->member_id, RAFT_VOTER, s_change_done);
        if (rc != 0)
            s_member_answer(self, DC_STATUS_ERROR, "Member %llu added but not a voter: %s",
                            c->op->member_id, raft_strerror(rc));
        return;
    }
    s_member_answer(self, DC_STATUS_OK,
                    c->op->kind == DC_OP_MEMBER_ADD ? "Member %llu added as a voter%s"
                                                    : "Member %llu removed%s",
                    c->op->member_id, "");
}

static void s_transfer_done(struct raft_transfer *req)
{
    cluster_t *self = req->data;
    raft_id leader = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &leader, &address);
    char detail[64];
    snprintf(detail, sizeof detail, "%llu", (unsigned long long)leader);
    if (leader && leader != self->config->member_id)
        s_member_answer(self, DC_STATUS_OK, "Leadership handed over (asked for %llu, leader %s)",
                        self->changing->op->member_id, detail);
    else
        s_member_answer(self, DC_STATUS_ERROR,
                        "Leadership not handed over (asked for %llu, leader %s)",
                        self->changing->op->member_id, detail);
}

/* Starts a membership change (one at a time); answers at once on refusal. */
void dc_cluster__member_op(cluster_t *self, dc_cop_t *c)
{
    if (self->changing) {
        dc_cluster__fail(self, c, "A membership change is under way: try again when it is done");
        return;
    }
    self->changing = c;
    c->out.changed = false;
    self->change.data = self;
    int rc;
    dc_write_op_t *op = c->op;
    if (op->kind == DC_OP_MEMBER_ADD)
        rc = raft_add(&self->raft, &self->change, op->member_id, op->address, s_change_done);
    else if (op->kind == DC_OP_MEMBER_REMOVE)
        rc = raft_remove(&self->raft, &self->change, op->member_id, s_change_done);
    else if (op->member_id == self->config->member_id) {
        s_member_answer(self, DC_STATUS_OK, "Member %llu leads already%s", op->member_id, "");
        return;
    } else {
        self->member_transfer.data = self;
        rc = raft_transfer(&self->raft, &self->member_transfer, op->member_id, s_transfer_done);
    }
    if (rc != 0)
        s_member_answer(self, DC_STATUS_ERROR, "Membership change for member %llu refused: %s",
                        op->member_id, raft_strerror(rc));
}
