/* parquet_codec.c -- SNAPPY and ZSTD page compression through the system
 * libraries. */
#include "parquet/parquet_codec.h"
#include "parquet/parquet_format.h"

#include <snappy-c.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

/* Output bytes per input byte no valid stream exceeds (with a margin). */
#define SNAPPY_MAX_RATIO 24
#define ZSTD_MAX_RATIO 32768

bool pq_codec_supported(int codec)
{
    return codec == PQ_CODEC_UNCOMPRESSED || codec == PQ_CODEC_SNAPPY || codec == PQ_CODEC_ZSTD;
}

void pq_codec_ctx_free(struct pq_codec_ctx *c)
{
    ZSTD_freeCCtx(c->zc);
    ZSTD_freeDCtx(c->zd);
    c->zc = c->zd = NULL;
}

int pq_compress(struct pq_codec_ctx *c, int codec, int level, const void *in, size_t n,
                struct bbuf *out)
{
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        bb_append(out, in, n);
        return 0;
    case PQ_CODEC_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        uint8_t *q = bb_reserve(out, cap);
        if (snappy_compress(in, n, (char *)q, &cap) != SNAPPY_OK)
            return -1;
        out->len += cap;
        return 0;
    }
    case PQ_CODEC_ZSTD: {
        if (!c->zc && !(c->zc = ZSTD_createCCtx()))
            return -1;
        size_t cap = ZSTD_compressBound(n);
        uint8_t *q = bb_reserve(out, cap);
        size_t r = ZSTD_compressCCtx(c->zc, q, cap, in, n, level ? level : ZSTD_CLEVEL_DEFAULT);
        if (ZSTD_isError(r))
            return -1;
        out->len += r;
        return 0;
    }
    default:
        return -1;
    }
}

bool pq_decompressed_size_plausible(int codec, const void *in, size_t n, size_t expected)
{
    size_t len;
    unsigned long long z;
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        return n == expected;
    case PQ_CODEC_SNAPPY:
        /* The best snappy does is a 3-byte copy of 64 bytes: ~21 to 1. */
        if (expected / SNAPPY_MAX_RATIO > n)
            return false;
        return snappy_uncompressed_length(in, n, &len) == SNAPPY_OK && len == expected;
    case PQ_CODEC_ZSTD:
        /* The best zstd does is a 4-byte RLE block of 128 KiB: 32768 to 1. */
        if (expected / ZSTD_MAX_RATIO > n)
            return false;
        z = ZSTD_getFrameContentSize(in, n);
        if (z == ZSTD_CONTENTSIZE_ERROR)
            return false;
        /* Streaming writers may leave the size out of the frame header. */
        return z == ZSTD_CONTENTSIZE_UNKNOWN || z == expected;
    default:
        return false;
    }
}

int pq_decompress(struct pq_codec_ctx *c, int codec, const void *in, size_t n, void *out,
                  size_t expected, char *err, size_t errlen)
{
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        if (n != expected) {
            snprintf(err, errlen, "uncompressed page of %zu bytes, header says %zu", n, expected);
            return -1;
        }
        memcpy(out, in, n);
        return 0;
    case PQ_CODEC_SNAPPY: {
        size_t len;
        if (snappy_uncompressed_length(in, n, &len) != SNAPPY_OK) {
            snprintf(err, errlen, "corrupt SNAPPY page");
            return -1;
        }
        if (len != expected) {
            snprintf(err, errlen, "SNAPPY page decompresses to %zu bytes, header says %zu", len,
                     expected);
            return -1;
        }
        if (snappy_uncompress(in, n, out, &len) != SNAPPY_OK || len != expected) {
            snprintf(err, errlen, "corrupt SNAPPY page");
            return -1;
        }
        return 0;
    }
    case PQ_CODEC_ZSTD: {
        if (!c->zd && !(c->zd = ZSTD_createDCtx())) {
            snprintf(err, errlen, "cannot create a ZSTD context");
            return -1;
        }
        size_t r = ZSTD_decompressDCtx(c->zd, out, expected, in, n);
        if (ZSTD_isError(r)) {
            snprintf(err, errlen, "corrupt ZSTD page: %s", ZSTD_getErrorName(r));
            return -1;
        }
        if (r != expected) {
            snprintf(err, errlen, "ZSTD page decompresses to %zu bytes, header says %zu", r, expected);
            return -1;
        }
        return 0;
    }
    default:
        snprintf(err, errlen, "unsupported compression codec %s", pq_codec_name(codec));
        return -1;
    }
}
