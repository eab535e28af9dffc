/* uuid.c -- random UUIDs (see uuid.h). */
#include "common/uuid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

void uuid_format(const unsigned char bytes[16], char out[37])
{
    unsigned char b[16];
    memcpy(b, bytes, 16);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);  /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);  /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

int uuid_new(char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    uuid_format(b, out);
    return 0;
}
