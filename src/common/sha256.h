/* sha256.h -- SHA-256 (FIPS 180-4), streaming; used to check files shipped
 * through Redis (parse --ship, gather --redis).  Pure, no I/O. */
#ifndef TK_SHA256_H
#define TK_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t len;        /* bytes hashed so far */
    uint8_t buf[64];
    size_t n;            /* bytes waiting in buf */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Finish and write 64 lower-case hex digits and a NUL to hex. */
void sha256_hex(struct sha256 *s, char hex[65]);

#endif
