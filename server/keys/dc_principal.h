/* dc_principal.h: who sent a request, as everything past the front sees it:
 * an access level and, for a client key, the key (the owner of what it
 * registers). The key table that grants them is dc_keys.h; the state
 * machine (entries, changes, nodes, write ops) needs only this. */
#ifndef DC_PRINCIPAL_H
#define DC_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    DC_ACCESS_NONE = 0, /* not a known key */
    DC_ACCESS_READ = 1,
    DC_ACCESS_WRITE = 2,
    DC_ACCESS_ADMIN = 3,
    DC_ACCESS_LOCAL = 4 /* ipc, or insecure tcp: no key */
} dc_access_t;

/* A Z85 public key: 40 characters and a NUL. */
#define DC_KEY_LEN 40

/* Who sent a request: its access and, for a key, the key (the owner of what
 * it registers; "" for local clients, the "ipc side"). */
typedef struct {
    dc_access_t access;
    char key[DC_KEY_LEN + 1];
    bool here; /* sent from this computer (ipc, the datagram channel, or tcp from one of
                  its own addresses): what an isolated member still takes (dc_island.h) */
} dc_principal_t;

/* The first frame of a request's route inside the daemon:
 * [endpoint index][access, 0x80 set when here][key: 0 or 40 bytes]. Writes it into out (at
 * least 2 + DC_KEY_LEN bytes); returns its size. */
size_t dc_principal_frame(int index, const dc_principal_t *p, uint8_t *out);

/* Reads such a frame. Returns the endpoint index (-1 when malformed) and
 * fills p (local when the frame holds just the index). */
int dc_principal_parse(const uint8_t *data, size_t size, dc_principal_t *p);

#endif
