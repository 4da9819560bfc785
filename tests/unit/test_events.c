/* test_events.c: what applying a change tells the world, on a real PUB
 * socket and the answers queue: the event stream (names, seq, reason, the
 * topic's blob) and held WAITs (answered at once when the topic exists,
 * woken by a registration, timed out, flushed when the daemon stops). */
#include "dc_events.h"
#include "dc_protocol.h"
#include "dc_reply_send.h"
#include "dc_test.h"

#include <stdlib.h>
#include <unistd.h>

static char s_dir[] = "/tmp/discod-test-events-XXXXXX";

static dc_entry_t *s_entry(const char *name)
{
    dc_topic_t t = {dc_str_from(name), dc_str_from("ipc:///x"), dc_str_from("T"), dc_str_from("n"),
                    7};
    return dc_entry_new(&t, 1, 0, NULL, 0);
}

/* Receives one event: its name and map (caller destroys the unpacked). */
static bool s_event(zsock_t *sub, char *name, size_t size, msgpack_unpacked *out)
{
    zmsg_t *msg = zmsg_recv(sub);
    if (!msg || zmsg_size(msg) != 2) {
        zmsg_destroy(&msg);
        return false;
    }
    char *n = zmsg_popstr(msg);
    snprintf(name, size, "%s", n ? n : "");
    free(n);
    zframe_t *body = zmsg_pop(msg);
    char err[DC_ERR_LEN];
    bool ok = dc_mp_unpack(out, zframe_data(body), zframe_size(body), err) == 0;
    zframe_destroy(&body);
    zmsg_destroy(&msg);
    return ok;
}

static uint64_t s_uint(const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (dc_mp_key_is(&map->via.map.ptr[i].key, key))
            return map->via.map.ptr[i].val.via.u64;
    return UINT64_MAX;
}

/* A WAIT op whose answer comes back on the answers queue ([route][reply]). */
static dc_write_op_t *s_wait(const char *name, uint64_t timeout_ms)
{
    dc_write_op_t *op = dc_write_op_named(DC_OP_WAIT, dc_str_from(name));
    op->version = 2;
    op->timeout_ms = timeout_ms;
    op->route = zmsg_new();
    zmsg_addstr(op->route, "route");
    return op;
}

/* The status of the next answer on the answers queue, or -1 when none
 * comes in time. */
static int s_answer(dc_handoff_t *answers, int timeout_ms)
{
    zmsg_t *msg = dc_handoff_pop_wait(answers, timeout_ms); /* handed over as a pointer */
    if (!msg)
        return -1;
    zframe_t *reply = zmsg_last(msg);
    dc_reply_view_t v;
    char err[DC_ERR_LEN];
    int status =
        dc_reply_decode(&v, zframe_data(reply), zframe_size(reply), err) == 0 ? (int)v.status : -2;
    if (status != -2)
        dc_reply_view_release(&v);
    zmsg_destroy(&msg);
    return status;
}

int main(void)
{
    CHECK(mkdtemp(s_dir) != NULL);
    dc_config_t config;
    dc_config_defaults(&config);
    char events[160];
    snprintf(events, sizeof events, "ipc://%s/ev.sock", s_dir);
    free(config.events_endpoint);
    config.events_endpoint = strdup(events);
    free(config.ipc_group);
    config.ipc_group = NULL;
    dc_context_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.config = &config;
    ctx.registry = dc_registry_new();
    ctx.subs = dc_registry_new();
    ctx.answers = dc_handoff_new(0);
    dc_handoff_t *pull = ctx.answers;
    dc_events_t *ev = dc_events_new(&ctx);
    CHECK(ev != NULL);
    zsock_t *sub = zsock_new_sub(events, "");
    zsock_set_rcvtimeo(sub, 2000);
    zclock_sleep(200); /* slow joiner */

    /* A WAIT for a topic that is not there is held... */
    dc_write_op_t *op = s_wait("/cam", 60000);
    dc_events_wait(ev, op, 1000);
    dc_write_op_destroy(&op);
    CHECK(atomic_load(&ctx.stats.waiters) == 1);
    CHECK(s_answer(pull, 100) == -1);
    /* ...and woken, with the event published, when the topic is applied. */
    dc_entry_t *e = s_entry("/cam");
    dc_registry_put(ctx.registry, dc_entry_ref(e));
    dc_change_t put = {.kind = DC_REC_TOPIC_PUT};
    dc_applied_t a = {.change = &put, .entry = e, .event_seq = 41};
    dc_events_applied(ev, &a);
    CHECK(s_answer(pull, 2000) == DC_STATUS_OK);
    CHECK(atomic_load(&ctx.stats.waiters) == 0 && atomic_load(&ctx.stats.events) == 1);
    char name[64];
    msgpack_unpacked u;
    CHECK(s_event(sub, name, sizeof name, &u));
    CHECK(!strcmp(name, "topic.added") && s_uint(&u.data, "seq") == 41);
    msgpack_unpacked_destroy(&u);

    /* A replacement is an update; a removal by expiry says so. */
    a.replaces = true;
    a.event_seq = 42;
    dc_events_applied(ev, &a);
    CHECK(s_event(sub, name, sizeof name, &u) && !strcmp(name, "topic.updated"));
    msgpack_unpacked_destroy(&u);
    dc_change_t gone = {.kind = DC_REC_TOPIC_REMOVE, .reason = DC_REASON_EXPIRED};
    dc_applied_t r = {.change = &gone, .entry = e, .event_seq = 43};
    dc_events_applied(ev, &r);
    CHECK(s_event(sub, name, sizeof name, &u) && !strcmp(name, "topic.expired") &&
          s_uint(&u.data, "seq") == 43);
    msgpack_unpacked_destroy(&u);

    /* A WAIT for a topic that exists is answered at once. */
    op = s_wait("/cam", 60000);
    dc_events_wait(ev, op, 1000);
    dc_write_op_destroy(&op);
    CHECK(s_answer(pull, 2000) == DC_STATUS_OK);
    /* One that times out gets NOT_FOUND, not before its time. */
    op = s_wait("/never", 500);
    dc_events_wait(ev, op, 1000);
    dc_write_op_destroy(&op);
    CHECK(dc_events_next_deadline(ev) == 1500);
    dc_events_expire(ev, 1499);
    CHECK(s_answer(pull, 100) == -1);
    dc_events_expire(ev, 1500);
    CHECK(s_answer(pull, 2000) == DC_STATUS_NOT_FOUND);
    /* A stopping daemon answers every held WAIT. */
    for (int i = 0; i < 3; i++) {
        op = s_wait("/later", 60000);
        dc_events_wait(ev, op, 2000);
        dc_write_op_destroy(&op);
    }
    dc_events_flush(ev);
    int answered = 0;
    for (int i = 0; i < 3; i++)
        answered += s_answer(pull, 2000) == DC_STATUS_NOT_FOUND;
    CHECK(answered == 3 && atomic_load(&ctx.stats.waiters) == 0);

    dc_entry_unref(&e);
    zsock_destroy(&sub);
    dc_events_destroy(&ev);
    CHECK(ev == NULL);
    char path[200];
    snprintf(path, sizeof path, "%s/ev.sock", s_dir);
    CHECK(access(path, F_OK) != 0); /* the ipc file is unlinked */
    dc_handoff_destroy(&ctx.answers, NULL);
    dc_registry_destroy(&ctx.registry);
    dc_registry_destroy(&ctx.subs);
    dc_config_clear(&config);
    rmdir(s_dir);
    DC_TEST_END();
}
