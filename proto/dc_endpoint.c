/* dc_endpoint.c: the events endpoint beside an ipc endpoint (see the .h). */
#include "dc_endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *dc_events_beside(const char *endpoint)
{
    if (!endpoint || strncmp(endpoint, "ipc://", 6) != 0)
        return NULL;
    size_t n = strlen(endpoint);
    size_t stem = n > 5 && !strcmp(endpoint + n - 5, ".sock") ? n - 5 : n;
    size_t size = stem + sizeof "-events.sock";
    char *events = malloc(size);
    if (events)
        snprintf(events, size, "%.*s-events%s", (int)stem, endpoint, stem < n ? ".sock" : "");
    return events;
}
