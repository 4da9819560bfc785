/* dc_envelope.h: where a client message's routing envelope ends.
 *
 * A REQ peer's message reaches a ROUTER as [identity...][""][body]; a DEALER
 * peer must send the empty delimiter itself. Only the frame sizes matter, so
 * this is a pure function: the front and the workers share it, and a fuzzer
 * drives it directly. */
#ifndef DC_ENVELOPE_H
#define DC_ENVELOPE_H

#include <stddef.h>

typedef enum {
    DC_ENVELOPE_OK,        /* [identity...][""][one body frame] */
    DC_ENVELOPE_MULTI_BODY, /* a valid envelope, then more than one body frame */
    DC_ENVELOPE_INVALID    /* no delimiter after an identity, or no body: drop it */
} dc_envelope_t;

/* Classifies a message of count frames with these sizes; *delimiter gets the
 * index of the empty frame when there is one. first is the index of the
 * first envelope frame (frames before it are internal routing). */
dc_envelope_t dc_envelope_check(const size_t *sizes, int count, int first, int *delimiter);

#endif
