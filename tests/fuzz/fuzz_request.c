/* fuzz_request.c: libFuzzer target for the request decoder (and TopicInfo
 * blobs inside it). Whatever decodes must encode again and decode to the same
 * command: the codec may reject, never crash, leak or misread. */
#include "dc_request.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dc_request_t req;
    char err[DC_ERR_LEN];
    if (dc_request_decode(&req, data, size, err) != 0)
        return 0;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    if (dc_request_encode(&req, &buf) == 0) {
        dc_request_t again;
        if (dc_request_decode(&again, buf.data, buf.size, err) != 0 ||
            again.command != req.command)
            abort();
        dc_request_release(&again);
    }
    msgpack_sbuffer_destroy(&buf);
    dc_request_release(&req);
    return 0;
}
