/* parquet_enc.c -- RLE/bit-packing hybrid, bit packing, dictionary builder. */
#include "parquet/parquet_enc.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

void pq_bitpack(struct bbuf *out, const uint32_t *v, size_t count, int bw)
{
    if (bw == 0)
        return;
    uint8_t *q = bb_reserve(out, count * (size_t)bw / 8 + 1);
    uint64_t mask = bw == 32 ? 0xFFFFFFFFu : ((uint64_t)1 << bw) - 1;
    uint64_t acc = 0;
    int nbits = 0;
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        acc |= (v[i] & mask) << nbits;
        nbits += bw;
        while (nbits >= 8) {
            q[k++] = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    if (nbits)   /* only when count is not a multiple of 8 */
        q[k++] = (uint8_t)acc;
    out->len += k;
}

/* Length of the run of equal values starting at v[i], at most cap. */
static size_t run_len(const uint32_t *v, size_t i, size_t n, size_t cap)
{
    size_t j = i + 1;
    size_t lim = n - i > cap ? i + cap : n;
    while (j < lim && v[j] == v[i])
        j++;
    return j - i;
}

/* Longest run or bit-packed stretch we put behind one header (the format
 * allows up to 2^31 - 1 values). */
#define MAX_RUN ((size_t)1 << 30)

void pq_rle_encode(struct bbuf *out, const uint32_t *v, size_t n, int bw)
{
    size_t vbytes = ((size_t)bw + 7) / 8;
    size_t i = 0;
    while (i < n) {
        size_t r = run_len(v, i, n, MAX_RUN);
        if (r >= 8) {
            bb_varint(out, (uint64_t)r << 1);
            for (size_t k = 0; k < vbytes; k++)
                bb_byte(out, (uint8_t)(v[i] >> (8 * k)));
            i += r;
            continue;
        }
        /* Bit-pack groups of 8 until a run of 8 starts at a group boundary. */
        size_t start = i, groups = 0;
        while (i < n && groups * 8 < MAX_RUN) {
            i += 8;
            groups++;
            if (i >= n || run_len(v, i, n, 8) >= 8)
                break;
        }
        bb_varint(out, (uint64_t)groups << 1 | 1);
        size_t full = (n - start) / 8 < groups ? (n - start) / 8 : groups;
        pq_bitpack(out, v + start, full * 8, bw);
        if (full < groups) {   /* last group: pad with zeros */
            uint32_t pad[8] = {0};
            memcpy(pad, v + start + full * 8, (n - start - full * 8) * sizeof *pad);
            pq_bitpack(out, pad, 8, bw);
        }
        if (i > n)
            i = n;
    }
}

static int get_uleb(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {   /* headers fit in 32 bits */
        if (*pos >= len)
            return -1;
        uint8_t c = p[(*pos)++];
        v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

long pq_rle_decode(const uint8_t *p, size_t len, int bw, uint32_t *out, size_t count)
{
    if (bw < 0 || bw > 32)
        return -1;
    const uint64_t mask = bw == 32 ? 0xFFFFFFFFu : ((uint64_t)1 << bw) - 1;
    const size_t vbytes = ((size_t)bw + 7) / 8;
    size_t pos = 0, got = 0;
    while (got < count) {
        uint64_t h;
        if (get_uleb(p, len, &pos, &h) < 0 || h > 0xFFFFFFFFu)
            return -1;
        if (h & 1) {
            uint64_t nvals = (h >> 1) * 8;
            uint64_t nbytes = (h >> 1) * (uint64_t)bw;
            size_t take = nvals < count - got ? (size_t)nvals : count - got;
            /* Tolerate a last group cut short after the values we need. */
            size_t need = (take * (size_t)bw + 7) / 8;
            if (need > len - pos)
                return -1;
            const uint8_t *q = p + pos;
            uint64_t acc = 0;
            int nb = 0;
            size_t qi = 0;
            for (size_t k = 0; k < take; k++) {
                while (nb < bw) {
                    acc |= (uint64_t)q[qi++] << nb;
                    nb += 8;
                }
                out[got + k] = (uint32_t)(acc & mask);
                acc >>= bw;
                nb -= bw;
            }
            got += take;
            pos += nbytes < len - pos ? (size_t)nbytes : len - pos;
        } else {
            uint64_t r = h >> 1;
            if (r == 0 || vbytes > len - pos)
                return -1;
            uint64_t val = 0;
            for (size_t k = 0; k < vbytes; k++)
                val |= (uint64_t)p[pos + k] << (8 * k);
            pos += vbytes;
            if (val & ~mask)
                return -1;
            size_t take = r < count - got ? (size_t)r : count - got;
            for (size_t k = 0; k < take; k++)
                out[got + k] = (uint32_t)val;
            got += take;
        }
    }
    return (long)pos;
}

/* ---- dictionary ---- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = mix64(h ^ w);
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    return mix64(h ^ w ^ ((uint64_t)n << 56));
}

void pq_dict_init(struct pq_dict *d, int width)
{
    memset(d, 0, sizeof *d);
    d->width = width;
    bb_init(&d->data);
}

void pq_dict_free(struct pq_dict *d)
{
    free(d->slots);
    free(d->keys);
    free(d->hashes);
    bb_free(&d->data);
    pq_dict_init(d, d->width);
}

void pq_dict_clear(struct pq_dict *d)
{
    if (d->slots)
        memset(d->slots, 0, ((size_t)d->mask + 1) * sizeof *d->slots);
    d->count = 0;
    bb_reset(&d->data);
}

static uint64_t entry_hash(const struct pq_dict *d, uint32_t i)
{
    return d->width ? mix64(d->keys[i]) : d->hashes[i];
}

/* Keep the table at most half full. */
static void grow(struct pq_dict *d)
{
    if (d->count + 1 >= d->cap) {
        d->cap = d->cap ? d->cap * 2 : 1024;
        d->keys = xrealloc(d->keys, (size_t)d->cap * sizeof *d->keys);
        if (!d->width)
            d->hashes = xrealloc(d->hashes, (size_t)d->cap * sizeof *d->hashes);
    }
    if (d->slots && (uint64_t)(d->count + 1) * 2 <= (uint64_t)d->mask + 1)
        return;
    size_t n = d->slots ? ((size_t)d->mask + 1) * 2 : 2048;
    free(d->slots);
    d->slots = xcalloc(n, sizeof *d->slots);
    d->mask = (uint32_t)(n - 1);
    for (uint32_t i = 0; i < d->count; i++) {
        uint32_t s = (uint32_t)entry_hash(d, i) & d->mask;
        while (d->slots[s])
            s = (s + 1) & d->mask;
        d->slots[s] = i + 1;
    }
}

uint32_t pq_dict_put(struct pq_dict *d, uint64_t bits)
{
    if (!d->slots)
        grow(d);
    uint32_t s = (uint32_t)mix64(bits) & d->mask;
    for (;;) {
        uint32_t e = d->slots[s];
        if (!e)
            break;
        if (d->keys[e - 1] == bits)
            return e - 1;
        s = (s + 1) & d->mask;
    }
    if ((uint64_t)(d->count + 1) * 2 > (uint64_t)d->mask + 1 || d->count + 1 >= d->cap) {
        grow(d);
        s = (uint32_t)mix64(bits) & d->mask;
        while (d->slots[s])
            s = (s + 1) & d->mask;
    }
    d->keys[d->count] = bits;
    d->slots[s] = d->count + 1;
    return d->count++;
}

uint32_t pq_dict_put_bytes(struct pq_dict *d, const void *p, uint32_t n)
{
    if (!d->slots)
        grow(d);
    uint64_t h = hash_bytes(p, n);
    uint32_t s = (uint32_t)h & d->mask;
    for (;;) {
        uint32_t e = d->slots[s];
        if (!e)
            break;
        if (d->hashes[e - 1] == h) {
            const uint8_t *q = d->data.p + d->keys[e - 1];
            uint32_t len = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                           (uint32_t)q[3] << 24;
            if (len == n && memcmp(q + 4, p, n) == 0)
                return e - 1;
        }
        s = (s + 1) & d->mask;
    }
    if ((uint64_t)(d->count + 1) * 2 > (uint64_t)d->mask + 1 || d->count + 1 >= d->cap) {
        grow(d);
        s = (uint32_t)h & d->mask;
        while (d->slots[s])
            s = (s + 1) & d->mask;
    }
    d->keys[d->count] = d->data.len;
    d->hashes[d->count] = h;
    bb_u32le(&d->data, n);
    bb_append(&d->data, p, n);
    d->slots[s] = d->count + 1;
    return d->count++;
}

size_t pq_dict_plain_size(const struct pq_dict *d)
{
    return d->width ? (size_t)d->count * (size_t)d->width : d->data.len;
}

void pq_dict_write_plain(const struct pq_dict *d, struct bbuf *out)
{
    if (!d->width) {
        bb_append(out, d->data.p, d->data.len);
        return;
    }
    uint8_t *q = bb_reserve(out, (size_t)d->count * (size_t)d->width);
    for (uint32_t i = 0; i < d->count; i++) {
        memcpy(q, &d->keys[i], (size_t)d->width);   /* low bytes: little endian */
        q += d->width;
    }
    out->len += (size_t)d->count * (size_t)d->width;
}
