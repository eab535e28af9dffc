/* parquet_enc.h -- Parquet's value encodings (apache/parquet-format
 * Encodings.md): the RLE / bit-packing hybrid used for definition levels and
 * dictionary indices, LSB-first bit packing, and the dictionary builder.
 * Pure functions over memory buffers; every decoder is bounded by its input. */
#ifndef TK_PARQUET_ENC_H
#define TK_PARQUET_ENC_H

#include "parquet/thrift.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Plain encoding writes native memory: Parquet is little endian. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Parquet code assumes a little-endian host");

/* Bits needed to store max (0 for 0). */
static inline int pq_bit_width(uint32_t max)
{
    return max ? 32 - __builtin_clz(max) : 0;
}

/* Pack count values (a multiple of 8) of bw bits each, LSB first, appending
 * count * bw / 8 bytes. */
void pq_bitpack(struct bbuf *out, const uint32_t *v, size_t count, int bw);

/* Append the RLE/bit-packed hybrid encoding of n values of bw bits (0..32).
 * Runs of 8 or more equal values become RLE runs, the rest bit-packed groups
 * of 8 (the last group padded with zeros).  No length prefix. */
void pq_rle_encode(struct bbuf *out, const uint32_t *v, size_t n, int bw);

/* Decode exactly count values from the hybrid encoding in p[0..len).
 * Returns the number of input bytes used, or -1 if the data is truncated,
 * malformed, or bw is out of range.  Extra padding values in the last
 * bit-packed group are ignored. */
long pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t count);

/* ---- dictionary builder (one per column chunk) ---- */

struct pq_dict {
    int width;            /* 4 or 8: fixed-width values (bits in keys); 0: byte arrays */
    uint32_t count;       /* entries */
    uint32_t *slots;      /* open addressing: entry index + 1, 0 = empty */
    uint32_t mask;        /* slots - 1 */
    uint64_t *keys;       /* fixed: the value bits; bytes: offset of the entry in data */
    uint64_t *hashes;     /* bytes only: entry hashes, to avoid re-hashing on growth */
    uint32_t cap;         /* capacity of keys/hashes */
    struct bbuf data;     /* bytes only: entries PLAIN-encoded (u32 length + bytes) */
};

void pq_dict_init(struct pq_dict *d, int width);
void pq_dict_free(struct pq_dict *d);
void pq_dict_clear(struct pq_dict *d);
/* Index of the value, added if new. */
uint32_t pq_dict_put(struct pq_dict *d, uint64_t bits);
uint32_t pq_dict_put_bytes(struct pq_dict *d, const void *p, uint32_t n);
/* Size of the dictionary page body (PLAIN encoding of all entries). */
size_t pq_dict_plain_size(const struct pq_dict *d);
/* Append the dictionary page body. */
void pq_dict_write_plain(const struct pq_dict *d, struct bbuf *out);

#endif
