/* pyrand.h -- a Mersenne Twister (MT19937) that produces exactly the numbers
 * CPython's random.Random(int) produces, so `--seed N` gives the same task
 * sequence as the original Python dispatcher (§7.5 of the upstream notes).
 *
 * Only the operations the original used are provided: integer seeding,
 * getrandbits, _randbelow (rejection sampling on the bit length), randint,
 * shuffle (Fisher-Yates from the last index down) and random(). */
#ifndef TK_PYRAND_H
#define TK_PYRAND_H

#include <stddef.h>
#include <stdint.h>

#define PYRAND_N 624

struct pyrand {
    uint32_t mt[PYRAND_N];
    int mti;
};

/* random.Random(seed): Python seeds with |seed|, so -5 and 5 are the same
 * generator.  Seed 0 is an ordinary seed here (the original treated 0 as
 * "unseeded"; callers decide what 0 means on their command line). */
void pyrand_seed(struct pyrand *r, int64_t seed);
/* Seed from the magnitude directly (covers 0 .. 2^64-1). */
void pyrand_seed_u64(struct pyrand *r, uint64_t magnitude);

/* One raw 32-bit output (genrand_uint32). */
uint32_t pyrand_u32(struct pyrand *r);
/* random.getrandbits(k) for 0 <= k <= 64. */
uint64_t pyrand_getrandbits(struct pyrand *r, unsigned k);
/* random._randbelow(n): uniform in [0, n) for n >= 1 (returns 0 for n = 0). */
uint64_t pyrand_randbelow(struct pyrand *r, uint64_t n);
/* random.randint(a, b) with a <= b (b - a must fit in 63 bits). */
int64_t pyrand_randint(struct pyrand *r, int64_t a, int64_t b);
/* random.shuffle on an array of n elements of `size` bytes each. */
void pyrand_shuffle(struct pyrand *r, void *base, size_t n, size_t size);
/* random.random(): 53-bit float in [0, 1). */
double pyrand_random(struct pyrand *r);

#endif
