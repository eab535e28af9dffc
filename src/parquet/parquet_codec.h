/* parquet_codec.h -- page compression for Parquet: UNCOMPRESSED, SNAPPY
 * (libsnappy's raw format, as Parquet uses it) and ZSTD (one frame per page). */
#ifndef TK_PARQUET_CODEC_H
#define TK_PARQUET_CODEC_H

#include "parquet/thrift.h"

#include <stdbool.h>
#include <stddef.h>

/* Library contexts, owned by one writer or reader (zero-initialise; free
 * with pq_codec_ctx_free).  Creating a ZSTD context per page would cost
 * more than compressing a small page. */
struct pq_codec_ctx {
    void *zc;   /* ZSTD_CCtx */
    void *zd;   /* ZSTD_DCtx */
};

void pq_codec_ctx_free(struct pq_codec_ctx *c);

/* Codecs this build can write and read. */
bool pq_codec_supported(int codec);

/* Compress in[0..n) and append to out (reset by the caller).  level is for
 * ZSTD (0 = library default).  Returns 0, or -1 on a library failure. */
int pq_compress(struct pq_codec_ctx *c, int codec, int level, const void *in, size_t n,
                struct bbuf *out);

/* A cheap check, before allocating 'expected' bytes for a page, that in[0..n)
 * can decompress to that size (the header of a corrupt page may claim any
 * size).  False means it certainly cannot. */
bool pq_decompressed_size_plausible(int codec, const void *in, size_t n, size_t expected);

/* Decompress in[0..n) into exactly 'expected' bytes at out (which has room
 * for them).  Returns 0, or -1 with a message in err when the data is
 * corrupt or does not decompress to exactly that size. */
int pq_decompress(struct pq_codec_ctx *c, int codec, const void *in, size_t n, void *out,
                  size_t expected, char *err, size_t errlen);

#endif
