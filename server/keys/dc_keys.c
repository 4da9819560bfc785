/* dc_keys.c: the client key table (see the .h). */
#include "dc_keys.h"
#include "dc_log.h"
#include "dc_protocol.h"

#include <czmq.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

struct dc_keys {
    pthread_rwlock_t lock;
    char *dir;
    zhashx_t *roles; /* Z85 key -> dc_access_t (as a pointer-sized int) */
    struct timespec loaded_mtime;
};

const char *dc_access_name(dc_access_t access)
{
    switch (access) {
    case DC_ACCESS_READ:
        return "read";
    case DC_ACCESS_WRITE:
        return "write";
    case DC_ACCESS_ADMIN:
        return "admin";
    case DC_ACCESS_LOCAL:
        return "local";
    case DC_ACCESS_NONE:
        break;
    }
    return "none";
}

const char *dc_command_name(int64_t command)
{
    switch (command) {
    case DC_CMD_REGISTER_TOPIC:
        return "REGISTER";
    case DC_CMD_UNREGISTER_TOPIC:
        return "UNREGISTER";
    case DC_CMD_LOOKUP_TOPIC:
        return "LOOKUP";
    case DC_CMD_LIST_TOPICS:
        return "LIST";
    case DC_CMD_PING:
        return "PING";
    case DC_CMD_HEARTBEAT:
        return "HEARTBEAT";
    case DC_CMD_WAIT_TOPIC:
        return "WAIT_TOPIC";
    case DC_CMD_REVOKE_LEASE:
        return "REVOKE_LEASE";
    case DC_CMD_STATS:
        return "STATS";
    case DC_CMD_REGISTER_NODE:
        return "REGISTER_NODE";
    case DC_CMD_UNREGISTER_NODE:
        return "UNREGISTER_NODE";
    case DC_CMD_GET_NODE:
        return "GET_NODE";
    case DC_CMD_FIND_NODES:
        return "FIND_NODES";
    case DC_CMD_MEMBERS:
        return "MEMBERS";
    case DC_CMD_MEMBER_ADD:
        return "MEMBER_ADD";
    case DC_CMD_MEMBER_REMOVE:
        return "MEMBER_REMOVE";
    case DC_CMD_MEMBER_TRANSFER:
        return "MEMBER_TRANSFER";
    case DC_CMD_SUBSCRIBE:
        return "SUBSCRIBE";
    case DC_CMD_UNSUBSCRIBE:
        return "UNSUBSCRIBE";
    case DC_CMD_GRAPH:
        return "GRAPH";
    case DC_CMD_SHUTDOWN:
        return "SHUTDOWN";
    default:
        return "an unknown command";
    }
}

bool dc_access_allows(dc_access_t access, int64_t command)
{
    switch (command) {
    case DC_CMD_PING:
    case DC_CMD_LOOKUP_TOPIC:
    case DC_CMD_LIST_TOPICS:
    case DC_CMD_WAIT_TOPIC:
    case DC_CMD_STATS:
    case DC_CMD_GET_NODE:
    case DC_CMD_FIND_NODES:
    case DC_CMD_MEMBERS:
    case DC_CMD_GRAPH:
        return access >= DC_ACCESS_READ;
    case DC_CMD_REGISTER_TOPIC:
    case DC_CMD_UNREGISTER_TOPIC:
    case DC_CMD_HEARTBEAT:
    case DC_CMD_REVOKE_LEASE:
    case DC_CMD_REGISTER_NODE:
    case DC_CMD_UNREGISTER_NODE:
    case DC_CMD_SUBSCRIBE:
    case DC_CMD_UNSUBSCRIBE:
        return access >= DC_ACCESS_WRITE;
    case DC_CMD_SHUTDOWN:
    case DC_CMD_MEMBER_ADD:
    case DC_CMD_MEMBER_REMOVE:
    case DC_CMD_MEMBER_TRANSFER:
        return access >= DC_ACCESS_ADMIN;
    default:
        return access >= DC_ACCESS_READ; /* answered "Unknown command" */
    }
}

static dc_access_t s_role(const char *text)
{
    if (!text)
        return DC_ACCESS_NONE;
    if (!strcmp(text, "read"))
        return DC_ACCESS_READ;
    if (!strcmp(text, "write"))
        return DC_ACCESS_WRITE;
    if (!strcmp(text, "admin"))
        return DC_ACCESS_ADMIN;
    return DC_ACCESS_NONE;
}

static bool s_mtime(const char *dir, struct timespec *out)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return false;
    *out = st.st_mtim;
    return true;
}

/* The table dir holds now, or NULL (logged) when it cannot be read. */
static zhashx_t *s_load(const char *dir)
{
    zhashx_t *roles = zhashx_new();
    if (!roles || !dir)
        return roles;
    zdir_t *d = zdir_new(dir, "-");
    if (!d) {
        dc_error("cannot read the client keys in %s", dir);
        zhashx_destroy(&roles);
        return NULL;
    }
    zfile_t **files = zdir_flatten(d);
    for (size_t i = 0; files && files[i]; i++) {
        const char *path = zfile_filename(files[i], NULL);
        size_t n = strlen(path);
        if (n > 7 && !strcmp(path + n - 7, "_secret"))
            continue; /* a secret has no place here, and is not a client key */
        zcert_t *cert = zcert_load(path);
        if (!cert) {
            dc_warn("client key %s: not a czmq certificate, skipped", path);
            continue;
        }
        dc_access_t role = s_role(zcert_meta(cert, "role"));
        if (role == DC_ACCESS_NONE)
            dc_warn("client key %s: no role (read, write or admin) in its metadata, skipped", path);
        else
            zhashx_update(roles, zcert_public_txt(cert), (void *)(uintptr_t)role);
        zcert_destroy(&cert);
    }
    zdir_flatten_free(&files);
    zdir_destroy(&d);
    return roles;
}

dc_keys_t *dc_keys_new(const char *dir)
{
    dc_keys_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_rwlock_init(&self->lock, NULL);
    self->dir = dir ? strdup(dir) : NULL;
    if (dir)
        s_mtime(dir, &self->loaded_mtime);
    self->roles = s_load(dir);
    if (!self->roles || (dir && !self->dir)) {
        dc_keys_destroy(&self);
        return NULL;
    }
    if (dir)
        dc_info("client keys: %zu in %s", zhashx_size(self->roles), dir);
    return self;
}

void dc_keys_destroy(dc_keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dc_keys_t *self = *self_p;
    zhashx_destroy(&self->roles);
    pthread_rwlock_destroy(&self->lock);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

int dc_keys_reload(dc_keys_t *self)
{
    if (!self->dir)
        return 0;
    struct timespec mtime = {0};
    s_mtime(self->dir, &mtime);
    zhashx_t *roles = s_load(self->dir);
    if (!roles)
        return -1;
    pthread_rwlock_wrlock(&self->lock);
    zhashx_t *old = self->roles;
    self->roles = roles;
    self->loaded_mtime = mtime;
    pthread_rwlock_unlock(&self->lock);
    size_t before = zhashx_size(old), now = zhashx_size(roles);
    zhashx_destroy(&old);
    dc_info("client keys reloaded from %s: %zu (were %zu)", self->dir, now, before);
    return (int)now;
}

bool dc_keys_changed(dc_keys_t *self)
{
    struct timespec now;
    if (!self->dir || !s_mtime(self->dir, &now))
        return false;
    return now.tv_sec != self->loaded_mtime.tv_sec || now.tv_nsec != self->loaded_mtime.tv_nsec;
}

dc_access_t dc_keys_role(dc_keys_t *self, const char *key)
{
    if (!self || !key)
        return DC_ACCESS_NONE;
    pthread_rwlock_rdlock(&self->lock);
    dc_access_t role = (dc_access_t)(uintptr_t)zhashx_lookup(self->roles, key);
    pthread_rwlock_unlock(&self->lock);
    return role;
}
