/* dc_store_rows.c: the rows of each table (topics, subscriptions, leases, nodes, requests,
 * members) and the meta counters (see dc_store.h; the file itself is
 * dc_store.c). */
#include "dc_store_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t dc_store_meta_get(dc_store_t *self, const char *key)
{
    sqlite3_stmt *stmt = NULL;
    uint64_t value = 0;
    if (sqlite3_prepare_v2(self->db, "SELECT value FROM meta WHERE key = ?1", -1, &stmt, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(stmt) == SQLITE_ROW)
            value = (uint64_t)sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return value;
}

/* Calls fn for each row sql selects, in the columns of a topic. */
static int s_load_registrations(dc_store_t *self, const char *sql,
                                int (*fn)(void *arg, const dc_stored_topic_t *t), void *arg)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        dc_store__set_error(self, "load");
        return -1;
    }
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        dc_stored_topic_t t;
        memset(&t, 0, sizeof t);
        dc_str_t *fields[] = {&t.topic.name, &t.topic.address, &t.topic.message_type};
        for (int i = 0; i < 3; i++) {
            fields[i]->ptr = (const char *)sqlite3_column_text(stmt, i);
            fields[i]->len = (uint32_t)sqlite3_column_bytes(stmt, i);
        }
        t.topic.fingerprint = (uint64_t)sqlite3_column_int64(stmt, 3);
        t.topic.publisher_node.ptr = (const char *)sqlite3_column_text(stmt, 4);
        t.topic.publisher_node.len = (uint32_t)sqlite3_column_bytes(stmt, 4);
        t.create_seq = (uint64_t)sqlite3_column_int64(stmt, 5);
        t.lease_id = (uint64_t)sqlite3_column_int64(stmt, 6);
        t.metadata = sqlite3_column_blob(stmt, 7);
        t.metadata_size = (size_t)sqlite3_column_bytes(stmt, 7);
        t.registered_at_ms = (uint64_t)sqlite3_column_int64(stmt, 8);
        t.origin = (uint64_t)sqlite3_column_int64(stmt, 9);
        t.owner.ptr = (const char *)sqlite3_column_text(stmt, 10);
        t.owner.len = (uint32_t)sqlite3_column_bytes(stmt, 10);
        if (!t.topic.name.ptr || !t.topic.address.ptr || !t.topic.message_type.ptr ||
            !t.topic.publisher_node.ptr)
            continue;
        if (fn(arg, &t) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        dc_store__set_error(self, "load");
        sqlite3_finalize(stmt);
        return -1;
    }
    sqlite3_finalize(stmt);
    return 0;
}

int dc_store_load_topics(dc_store_t *self, int (*fn)(void *arg, const dc_stored_topic_t *t),
                         void *arg)
{
    return s_load_registrations(self,
                                "SELECT name, address, message_type, fingerprint, publisher_node,"
                                " create_seq, lease_id, metadata, registered_at_ms, origin, owner"
                                " FROM topics ORDER BY create_seq",
                                fn, arg);
}

int dc_store_load_subs(dc_store_t *self, int (*fn)(void *arg, const dc_stored_topic_t *t),
                       void *arg)
{
    return s_load_registrations(self,
                                "SELECT name, '', message_type, fingerprint, node, create_seq,"
                                " lease_id, metadata, registered_at_ms, origin, owner"
                                " FROM subscriptions ORDER BY create_seq",
                                fn, arg);
}

int dc_store__step_reset(dc_store_t *self, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE)
        dc_store__set_error(self, what);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

int dc_store_put_request(dc_store_t *self, uint64_t slot, const dc_stored_request_t *r)
{
    sqlite3_stmt *s = self->put_request;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)slot);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)r->request_id);
    sqlite3_bind_int(s, 3, r->status);
    sqlite3_bind_text(s, 4, r->message, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)r->lease_id);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)r->lease_ttl_ms);
    return dc_store__step_reset(self, s, "put request");
}

int dc_store_put_member(dc_store_t *self, uint64_t id, const char *endpoint)
{
    if (!*endpoint) {
        sqlite3_bind_int64(self->delete_member, 1, (sqlite3_int64)id);
        return dc_store__step_reset(self, self->delete_member, "delete member");
    }
    sqlite3_bind_int64(self->put_member, 1, (sqlite3_int64)id);
    sqlite3_bind_text(self->put_member, 2, endpoint, -1, SQLITE_STATIC);
    return dc_store__step_reset(self, self->put_member, "put member");
}

int dc_store_load_members(dc_store_t *self,
                          int (*fn)(void *arg, uint64_t id, const char *endpoint), void *arg)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT id, endpoint FROM members ORDER BY id", -1, &stmt,
                           NULL) != SQLITE_OK) {
        dc_store__set_error(self, "load members");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *endpoint = (const char *)sqlite3_column_text(stmt, 1);
        if (endpoint && fn(arg, (uint64_t)sqlite3_column_int64(stmt, 0), endpoint) != 0)
            break;
    }
    bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (failed)
        dc_store__set_error(self, "load members");
    sqlite3_finalize(stmt);
    return failed ? -1 : 0;
}

int dc_store_clear(dc_store_t *self)
{
    dc_store__meta_forget(self);
    return dc_store__exec(self, "DELETE FROM topics; DELETE FROM subscriptions;"
                        " DELETE FROM leases; DELETE FROM nodes;"
                        " DELETE FROM requests; DELETE FROM members;"
                        " UPDATE meta SET value = 0") == SQLITE_OK
               ? 0
               : -1;
}

int dc_store_load_requests(dc_store_t *self,
                           int (*fn)(void *arg, const dc_stored_request_t *r), void *arg)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db,
                           "SELECT request_id, status, message, lease_id, lease_ttl_ms"
                           " FROM requests ORDER BY slot",
                           -1, &stmt, NULL) != SQLITE_OK) {
        dc_store__set_error(self, "load requests");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        dc_stored_request_t r = {(uint64_t)sqlite3_column_int64(stmt, 0),
                                 sqlite3_column_int(stmt, 1),
                                 (const char *)sqlite3_column_text(stmt, 2),
                                 (uint64_t)sqlite3_column_int64(stmt, 3),
                                 (uint64_t)sqlite3_column_int64(stmt, 4)};
        if (!r.message || r.status < 0 || r.status > 3)
            continue;
        if (fn(arg, &r) != 0)
            break;
    }
    bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (failed)
        dc_store__set_error(self, "load requests");
    sqlite3_finalize(stmt);
    return failed ? -1 : 0;
}

/* Binds t to a topic's or a subscription's put and runs it. */
static int s_put_registration(dc_store_t *self, sqlite3_stmt *s, const dc_stored_topic_t *t,
                              const char *what)
{
    sqlite3_bind_text(s, 1, t->topic.name.ptr, (int)t->topic.name.len, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t->topic.address.ptr, (int)t->topic.address.len, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, t->topic.message_type.ptr, (int)t->topic.message_type.len,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)t->topic.fingerprint);
    sqlite3_bind_text(s, 5, t->topic.publisher_node.ptr, (int)t->topic.publisher_node.len,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)t->create_seq);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)t->lease_id);
    if (t->metadata)
        sqlite3_bind_blob(s, 8, t->metadata, (int)t->metadata_size, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 8);
    sqlite3_bind_int64(s, 9, (sqlite3_int64)t->registered_at_ms);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)t->origin);
    sqlite3_bind_text(s, 11, t->owner.ptr ? t->owner.ptr : "", t->owner.ptr ? (int)t->owner.len : 0,
                      SQLITE_STATIC);
    return dc_store__step_reset(self, s, what);
}

int dc_store_put_topic(dc_store_t *self, const dc_stored_topic_t *t)
{
    return s_put_registration(self, self->put_topic, t, "put topic");
}

int dc_store_put_sub(dc_store_t *self, const dc_stored_topic_t *t)
{
    return s_put_registration(self, self->put_sub, t, "put subscription");
}

int dc_store_delete_sub(dc_store_t *self, dc_str_t name, dc_str_t node)
{
    sqlite3_bind_text(self->delete_sub, 1, name.ptr, (int)name.len, SQLITE_STATIC);
    sqlite3_bind_text(self->delete_sub, 2, node.ptr ? node.ptr : "", (int)node.len, SQLITE_STATIC);
    return dc_store__step_reset(self, self->delete_sub, "delete subscription");
}

int dc_store_delete_topic(dc_store_t *self, dc_str_t name, dc_str_t node)
{
    sqlite3_bind_text(self->delete_topic, 1, name.ptr, (int)name.len, SQLITE_STATIC);
    if (node.ptr)
        sqlite3_bind_text(self->delete_topic, 2, node.ptr, (int)node.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(self->delete_topic, 2);
    return dc_store__step_reset(self, self->delete_topic, "delete topic");
}

static int s_meta_key(const char *key)
{
    static const char *keys[DC_STORE_META_KEYS] = {"epoch", "raft_index", "change_seq",
                                                   "lease_seq", "event_seq"};
    for (int i = 0; i < DC_STORE_META_KEYS; i++)
        if (!strcmp(key, keys[i]))
            return i;
    return -1;
}

int dc_store_meta_set(dc_store_t *self, const char *key, uint64_t value)
{
    int k = s_meta_key(key);
    if (k >= 0 && self->meta_known[k] && self->meta_now[k] == value)
        return 0; /* the file holds it already */
    sqlite3_bind_text(self->meta_set, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(self->meta_set, 2, (sqlite3_int64)value);
    int rc = dc_store__step_reset(self, self->meta_set, "meta");
    if (rc == 0 && sqlite3_changes(self->db) == 0) {
        sqlite3_bind_text(self->meta_add, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(self->meta_add, 2, (sqlite3_int64)value);
        rc = dc_store__step_reset(self, self->meta_add, "meta");
    }
    if (k >= 0) {
        self->meta_known[k] = rc == 0;
        self->meta_now[k] = value;
        if (rc == 0 && sqlite3_get_autocommit(self->db)) { /* no transaction: committed */
            self->meta_committed[k] = value;
            self->meta_committed_known[k] = true;
        }
    }
    return rc;
}

void dc_store__meta_settled(dc_store_t *self, bool committed)
{
    for (int k = 0; k < DC_STORE_META_KEYS; k++) {
        if (committed) {
            self->meta_committed[k] = self->meta_now[k];
            self->meta_committed_known[k] = self->meta_known[k];
        } else {
            self->meta_now[k] = self->meta_committed[k];
            self->meta_known[k] = self->meta_committed_known[k];
        }
    }
}

void dc_store__meta_forget(dc_store_t *self)
{
    for (int k = 0; k < DC_STORE_META_KEYS; k++)
        self->meta_known[k] = self->meta_committed_known[k] = false;
}

int dc_store_put_lease(dc_store_t *self, uint64_t id, uint64_t ttl_ms, uint64_t renewed_at_ms,
                       const char *owner)
{
    sqlite3_bind_int64(self->put_lease, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(self->put_lease, 2, (sqlite3_int64)ttl_ms);
    sqlite3_bind_int64(self->put_lease, 3, (sqlite3_int64)renewed_at_ms);
    sqlite3_bind_text(self->put_lease, 4, owner ? owner : "", -1, SQLITE_STATIC);
    return dc_store__step_reset(self, self->put_lease, "put lease");
}

int dc_store_touch_lease(dc_store_t *self, uint64_t id, uint64_t renewed_at_ms)
{
    sqlite3_bind_int64(self->touch_lease, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(self->touch_lease, 2, (sqlite3_int64)renewed_at_ms);
    return dc_store__step_reset(self, self->touch_lease, "touch lease");
}

int dc_store_delete_lease(dc_store_t *self, uint64_t id)
{
    sqlite3_bind_int64(self->delete_lease, 1, (sqlite3_int64)id);
    return dc_store__step_reset(self, self->delete_lease, "delete lease");
}

int dc_store_load_leases(dc_store_t *self,
                         int (*fn)(void *arg, uint64_t id, uint64_t ttl_ms, uint64_t renewed_at_ms,
                                   const char *owner),
                         void *arg)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT id, ttl_ms, renewed_at_ms, owner FROM leases", -1,
                           &stmt, NULL) != SQLITE_OK) {
        dc_store__set_error(self, "load leases");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        if (fn(arg, (uint64_t)sqlite3_column_int64(stmt, 0), (uint64_t)sqlite3_column_int64(stmt, 1),
               (uint64_t)sqlite3_column_int64(stmt, 2),
               sqlite3_column_text(stmt, 3) ? (const char *)sqlite3_column_text(stmt, 3) : "") != 0)
            break;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        dc_store__set_error(self, "load leases");
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int dc_store_put_node(dc_store_t *self, const dc_stored_node_t *n)
{
    sqlite3_stmt *s = self->put_node;
    sqlite3_bind_text(s, 1, n->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, n->description, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, n->capabilities, (int)n->capabilities_size, SQLITE_STATIC);
    if (n->metadata)
        sqlite3_bind_blob(s, 4, n->metadata, (int)n->metadata_size, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 4);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)n->lease_id);
    sqlite3_bind_text(s, 6, n->owner ? n->owner : "", -1, SQLITE_STATIC);
    return dc_store__step_reset(self, s, "put node");
}

int dc_store_delete_node(dc_store_t *self, const char *name)
{
    sqlite3_bind_text(self->delete_node, 1, name, -1, SQLITE_STATIC);
    return dc_store__step_reset(self, self->delete_node, "delete node");
}

int dc_store_load_nodes(dc_store_t *self, int (*fn)(void *arg, const dc_stored_node_t *n),
                        void *arg)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db,
                           "SELECT name, description, capabilities, metadata, lease_id, owner"
                           " FROM nodes",
                           -1, &stmt, NULL) != SQLITE_OK) {
        dc_store__set_error(self, "load nodes");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        dc_stored_node_t n = {
            (const char *)sqlite3_column_text(stmt, 0),
            (const char *)sqlite3_column_text(stmt, 1),
            sqlite3_column_blob(stmt, 2),
            (size_t)sqlite3_column_bytes(stmt, 2),
            sqlite3_column_blob(stmt, 3),
            (size_t)sqlite3_column_bytes(stmt, 3),
            (uint64_t)sqlite3_column_int64(stmt, 4),
            sqlite3_column_text(stmt, 5) ? (const char *)sqlite3_column_text(stmt, 5) : "",
        };
        if (!n.name || !n.description || !n.capabilities)
            continue;
        if (fn(arg, &n) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        dc_store__set_error(self, "load nodes");
    sqlite3_finalize(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/*==== Provisional writes (an isolated member's) ====*/

/* Runs sql once for each row (seq, and op unless op_rows is false) in one
 * transaction committed at synchronous=FULL, the store's mode restored
 * after. */
static int s_provisional(dc_store_t *self, const char *sql, const dc_stored_provisional_t *rows,
                         size_t n, bool op_rows, const char *what)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        dc_store__set_error(self, what);
        return -1;
    }
    bool full = self->sync == DC_SYNC_FULL;
    int rc = full ? SQLITE_OK : dc_store__exec(self, "PRAGMA synchronous = FULL");
    if (rc == SQLITE_OK)
        rc = dc_store__exec(self, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK) {
        for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
            sqlite3_bind_int64(stmt, 1, (sqlite3_int64)rows[i].seq);
            if (op_rows)
                sqlite3_bind_blob(stmt, 2, rows[i].op, (int)rows[i].size, SQLITE_STATIC);
            rc = sqlite3_step(stmt) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
        }
        if (rc != SQLITE_OK) {
            dc_store__set_error(self, what);
            sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        } else
            rc = dc_store__exec(self, "COMMIT");
    }
    sqlite3_finalize(stmt);
    if (!full)
        dc_store__exec(self, "PRAGMA synchronous = NORMAL");
    return rc == SQLITE_OK ? 0 : -1;
}

int dc_store_put_provisionals(dc_store_t *self, const dc_stored_provisional_t *rows, size_t n)
{
    return s_provisional(self, "INSERT OR REPLACE INTO provisional (seq, op) VALUES (?1, ?2)",
                         rows, n, true, "put provisional");
}

int dc_store_put_provisional(dc_store_t *self, uint64_t seq, const void *op, size_t size)
{
    dc_stored_provisional_t row = {seq, op, size};
    return dc_store_put_provisionals(self, &row, 1);
}

int dc_store_delete_provisional(dc_store_t *self, uint64_t seq)
{
    dc_stored_provisional_t row = {seq, NULL, 0};
    return s_provisional(self, "DELETE FROM provisional WHERE seq = ?1", &row, 1, false,
                         "delete provisional");
}

int dc_store_load_provisional(dc_store_t *self,
                              int (*fn)(void *arg, uint64_t seq, const void *op, size_t size),
                              void *arg)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT seq, op FROM provisional ORDER BY seq", -1, &stmt,
                           NULL) != SQLITE_OK) {
        dc_store__set_error(self, "load provisional");
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        if (fn(arg, (uint64_t)sqlite3_column_int64(stmt, 0), sqlite3_column_blob(stmt, 1),
               (size_t)sqlite3_column_bytes(stmt, 1)) != 0)
            break;
    bool failed = rc != SQLITE_ROW && rc != SQLITE_DONE;
    if (failed)
        dc_store__set_error(self, "load provisional");
    sqlite3_finalize(stmt);
    return failed ? -1 : 0;
}
