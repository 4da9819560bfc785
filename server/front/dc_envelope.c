/* dc_envelope.c: routing envelope checks (see the .h). */
#include "dc_envelope.h"

dc_envelope_t dc_envelope_check(const size_t *sizes, int count, int first, int *delimiter)
{
    *delimiter = -1;
    /* At least one identity frame precedes the delimiter. */
    for (int i = first + 1; i < count; i++) {
        if (sizes[i] == 0) {
            *delimiter = i;
            break;
        }
    }
    if (*delimiter < 0 || *delimiter == count - 1)
        return DC_ENVELOPE_INVALID;
    return *delimiter == count - 2 ? DC_ENVELOPE_OK : DC_ENVELOPE_MULTI_BODY;
}
