/* dc_ipc.c: unix socket files (see the .h). */
#include "dc_ipc.h"
#include "dc_log.h"

#include <errno.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

const char *dc_ipc_path(const char *endpoint)
{
    return endpoint && strncmp(endpoint, "ipc://", 6) == 0 ? endpoint + 6 : NULL;
}

/* connect() result on path: 0 connected, else errno. */
static int s_connect(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof addr.sun_path)
        return ENAMETOOLONG;
    memcpy(addr.sun_path, path, len);
    socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    if (path[0] == '@') {
        addr.sun_path[0] = 0; /* abstract: no trailing NUL in the length */
        size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return errno;
    int rc = connect(fd, (struct sockaddr *)&addr, size) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

int dc_ipc_prepare(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    if (strlen(path) >= sizeof dir - 1) {
        dc_error("ipc path %s is longer than a unix socket path can be", path);
        return -1;
    }
    if (path[0] == '@')
        return 0;
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
                dc_error("cannot create %s: %s", dir, strerror(errno));
                return -1;
            }
            *p = '/';
        }
    }
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISSOCK(st.st_mode)) {
        int rc = s_connect(path);
        if (rc == 0 || rc == EAGAIN) {
            dc_error("another daemon is serving %s: not taking it over", path);
            return -1;
        }
    }
    if (unlink(path) != 0) {
        dc_error("cannot remove stale socket file %s: %s", path, strerror(errno));
        return -1;
    }
    dc_info("removed stale socket file %s", path);
    return 0;
}

int dc_ipc_secure(const char *path, unsigned mode, const char *group, bool required)
{
    if (path[0] == '@')
        return 0; /* abstract sockets have no file to protect */
    if (chmod(path, (mode_t)mode) != 0) {
        dc_error("cannot set mode %04o on %s: %s", mode, path, strerror(errno));
        return -1;
    }
    if (!group)
        return 0;
    struct group *g = getgrnam(group);
    if (!g) {
        if (required) {
            dc_error("group %s does not exist (for %s)", group, path);
            return -1;
        }
        return 0;
    }
    if (chown(path, (uid_t)-1, g->gr_gid) != 0) {
        if (required) {
            dc_error("cannot give %s to group %s: %s", path, group, strerror(errno));
            return -1;
        }
        /* The default group exists but this user is not in it (a developer
         * running build/server/discod on a robot with the package): the
         * socket keeps the user's own group. */
        dc_warn("cannot give %s to group %s (%s): it keeps this user's group; pass "
                "--ipc-group to choose one",
                path, group, strerror(errno));
    }
    return 0;
}

dc_probe_t dc_ipc_probe(const char *path)
{
    int rc = s_connect(path);
    if (rc == 0 || rc == EAGAIN || rc == EINPROGRESS)
        return DC_PROBE_ALIVE;
    if (rc == ECONNREFUSED || rc == ENOENT || rc == ENOTSOCK)
        return DC_PROBE_DEAD;
    return DC_PROBE_UNKNOWN;
}
