/* dc_listen.c: the accept backlog of discod's listening sockets (see the .h). */
#include "dc_listen.h"

#include <stdio.h>

int dc_listen_backlog(void)
{
    int value = 0;
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    if (f) {
        if (fscanf(f, "%d", &value) != 1)
            value = 0;
        fclose(f);
    }
    return value < 1024 ? 1024 : value > 65535 ? 65535 : value;
}

void dc_listen_prepare(zsock_t *sock)
{
    zsock_set_backlog(sock, dc_listen_backlog());
}
