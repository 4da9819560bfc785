/* dc_principal.c: a request's sender in its route frame (see the .h). */
#include "dc_principal.h"

#include <string.h>

size_t dc_principal_frame(int index, const dc_principal_t *p, uint8_t *out)
{
    out[0] = (uint8_t)index;
    out[1] = (uint8_t)((unsigned)p->access | (p->here ? 0x80u : 0u));
    size_t n = strnlen(p->key, DC_KEY_LEN);
    memcpy(out + 2, p->key, n);
    return 2 + n;
}

int dc_principal_parse(const uint8_t *data, size_t size, dc_principal_t *p)
{
    memset(p, 0, sizeof *p);
    p->access = DC_ACCESS_LOCAL;
    p->here = true;
    if (size < 1 || size > 2 + DC_KEY_LEN)
        return -1;
    if (size >= 2) {
        if ((data[1] & 0x7f) > DC_ACCESS_LOCAL)
            return -1;
        p->access = (dc_access_t)(data[1] & 0x7f);
        p->here = (data[1] & 0x80) != 0;
        memcpy(p->key, data + 2, size - 2);
    }
    return data[0];
}
