/* A program outside the tree that uses the installed client library. */
#include <discod.h>
#include <stdio.h>

int main(void)
{
    discod_options_t o;
    discod_options_init(&o);
    printf("%s %d\n", discod_strerror(DISCOD_NOT_FOUND), o.timeout_ms);
    return 0;
}
