/* pyrand.c -- MT19937 with CPython's seeding and integer helpers.
 *
 * The generator is the reference algorithm of Matsumoto and Nishimura
 * (1998).  CPython seeds an int by init_by_array() over the 32-bit words of
 * |seed|, least significant word first, with one zero word for seed 0; the
 * helpers below follow CPython's _randommodule.c / random.py semantics. */
#include "sched/pyrand.h"

#include <string.h>

#define MT_M 397
#define MATRIX_A 0x9908b0dfU
#define UPPER_MASK 0x80000000U
#define LOWER_MASK 0x7fffffffU

static void init_genrand(struct pyrand *r, uint32_t s)
{
    r->mt[0] = s;
    for (int i = 1; i < PYRAND_N; i++)
        r->mt[i] = 1812433253U * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = PYRAND_N;
}

static void init_by_array(struct pyrand *r, const uint32_t *key, size_t len)
{
    init_genrand(r, 19650218U);
    size_t i = 1, j = 0;
    size_t k = PYRAND_N > len ? PYRAND_N : len;
    for (; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525U)) + key[j] +
                   (uint32_t)j;
        i++;
        j++;
        if (i >= PYRAND_N) {
            r->mt[0] = r->mt[PYRAND_N - 1];
            i = 1;
        }
        if (j >= len)
            j = 0;
    }
    for (k = PYRAND_N - 1; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941U)) -
                   (uint32_t)i;
        i++;
        if (i >= PYRAND_N) {
            r->mt[0] = r->mt[PYRAND_N - 1];
            i = 1;
        }
    }
    r->mt[0] = 0x80000000U; /* non-zero initial state is guaranteed */
}

void pyrand_seed_u64(struct pyrand *r, uint64_t magnitude)
{
    uint32_t key[2] = {(uint32_t)magnitude, (uint32_t)(magnitude >> 32)};
    /* As many words as the number needs; 0 still uses one (zero) word. */
    init_by_array(r, key, key[1] ? 2 : 1);
}

void pyrand_seed(struct pyrand *r, int64_t seed)
{
    /* |INT64_MIN| does not fit in int64_t, but does in uint64_t. */
    uint64_t mag = seed < 0 ? (uint64_t)0 - (uint64_t)seed : (uint64_t)seed;
    pyrand_seed_u64(r, mag);
}

uint32_t pyrand_u32(struct pyrand *r)
{
    static const uint32_t mag01[2] = {0x0U, MATRIX_A};
    uint32_t y;
    if (r->mti >= PYRAND_N) {
        int kk;
        for (kk = 0; kk < PYRAND_N - MT_M; kk++) {
            y = (r->mt[kk] & UPPER_MASK) | (r->mt[kk + 1] & LOWER_MASK);
            r->mt[kk] = r->mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 0x1U];
        }
        for (; kk < PYRAND_N - 1; kk++) {
            y = (r->mt[kk] & UPPER_MASK) | (r->mt[kk + 1] & LOWER_MASK);
            r->mt[kk] = r->mt[kk + (MT_M - PYRAND_N)] ^ (y >> 1) ^ mag01[y & 0x1U];
        }
        y = (r->mt[PYRAND_N - 1] & UPPER_MASK) | (r->mt[0] & LOWER_MASK);
        r->mt[PYRAND_N - 1] = r->mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 0x1U];
        r->mti = 0;
    }
    y = r->mt[r->mti++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= (y >> 18);
    return y;
}

uint64_t pyrand_getrandbits(struct pyrand *r, unsigned k)
{
    if (k == 0)
        return 0;
    if (k > 64)
        k = 64;
    if (k <= 32)
        return pyrand_u32(r) >> (32 - k);
    /* CPython fills 32-bit words from the least significant end and keeps
     * the top bits of the last word. */
    uint64_t lo = pyrand_u32(r);
    uint64_t hi = pyrand_u32(r) >> (64 - k);
    return lo | (hi << 32);
}

static unsigned bit_length(uint64_t n)
{
    return n ? 64 - (unsigned)__builtin_clzll(n) : 0;
}

uint64_t pyrand_randbelow(struct pyrand *r, uint64_t n)
{
    if (n == 0)
        return 0;
    /* Python uses k = n.bit_length(), not (n - 1)'s, so n = 1 draws 1 bit. */
    unsigned k = bit_length(n);
    uint64_t v = pyrand_getrandbits(r, k);
    while (v >= n)
        v = pyrand_getrandbits(r, k);
    return v;
}

int64_t pyrand_randint(struct pyrand *r, int64_t a, int64_t b)
{
    if (b <= a)
        return a;
    uint64_t width = (uint64_t)b - (uint64_t)a + 1;
    return (int64_t)((uint64_t)a + pyrand_randbelow(r, width));
}

static void swap_bytes(unsigned char *x, unsigned char *y, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        unsigned char t = x[i];
        x[i] = y[i];
        y[i] = t;
    }
}

void pyrand_shuffle(struct pyrand *r, void *base, size_t n, size_t size)
{
    unsigned char *p = base;
    /* for i in reversed(range(1, n)): j = randbelow(i + 1); swap(i, j) */
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)pyrand_randbelow(r, (uint64_t)i + 1);
        if (j != i)
            swap_bytes(p + i * size, p + j * size, size);
    }
}

double pyrand_random(struct pyrand *r)
{
    uint32_t a = pyrand_u32(r) >> 5, b = pyrand_u32(r) >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}
