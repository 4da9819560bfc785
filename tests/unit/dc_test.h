/* dc_test.h: the few macros the unit tests share. Each test program counts
 * its checks and ends with "N passed, N failed", exiting non-zero on failure. */
#ifndef DC_TEST_H
#define DC_TEST_H

#include <stdio.h>
#include <string.h>

static int dc_test_passed, dc_test_failed;

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (cond)                                                                  \
            dc_test_passed++;                                                      \
        else {                                                                     \
            dc_test_failed++;                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                          \
    } while (0)

#define CHECK_STR(view, literal) \
    CHECK((view).len == strlen(literal) && memcmp((view).ptr, literal, (view).len) == 0)

#define DC_TEST_END()                                                    \
    do {                                                                 \
        printf("%d passed, %d failed\n", dc_test_passed, dc_test_failed); \
        return dc_test_failed ? 1 : 0;                                   \
    } while (0)

#endif
