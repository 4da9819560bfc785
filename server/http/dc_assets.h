/* dc_assets.h: the dashboard's files, compiled into the binary from
 * server/http/dashboard/ (embed.cmake writes dc_assets.c at build time), so
 * the page needs nothing from the network or the file system. */
#ifndef DC_ASSETS_H
#define DC_ASSETS_H

#include <stddef.h>

typedef struct {
    const char *path; /* "/index.html", ... */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t size;
} dc_asset_t;

/* The asset served at path, or NULL. */
const dc_asset_t *dc_asset_find(const char *path);

#endif
