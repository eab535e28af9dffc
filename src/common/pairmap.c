/* pairmap.c -- the hash map of pairmap.h. */
#include "common/pairmap.h"
#include "common/util.h"

#include <stdlib.h>

static inline uint64_t mix(int64_t a, int64_t b)
{
    /* splitmix64 finaliser over both keys: PIDs are small and dense, so the
     * raw values would cluster in the low bits. */
    uint64_t x = (uint64_t)a * 0x9e3779b97f4a7c15ULL ^ (uint64_t)b;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

void pairmap_init(struct pairmap *m)
{
    m->cap = 64;
    m->len = 0;
    m->slots = xcalloc(m->cap, sizeof *m->slots);
}

void pairmap_free(struct pairmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = 0;
}

static struct pairmap_slot *find(const struct pairmap *m, int64_t a, int64_t b)
{
    size_t mask = m->cap - 1;
    for (size_t i = mix(a, b) & mask;; i = (i + 1) & mask) {
        struct pairmap_slot *s = &m->slots[i];
        if (!s->used || (s->a == a && s->b == b))
            return s;
    }
}

int64_t *pairmap_get(const struct pairmap *m, int64_t a, int64_t b)
{
    struct pairmap_slot *s = find(m, a, b);
    return s->used ? &s->value : NULL;
}

static void grow(struct pairmap *m)
{
    struct pairmap old = *m;
    m->cap = old.cap * 2;
    m->len = 0;
    m->slots = xcalloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.slots[i].used)
            continue;
        struct pairmap_slot *s = find(m, old.slots[i].a, old.slots[i].b);
        *s = old.slots[i];
        m->len++;
    }
    free(old.slots);
}

int64_t *pairmap_put(struct pairmap *m, int64_t a, int64_t b, int64_t init, bool *added)
{
    struct pairmap_slot *s = find(m, a, b);
    if (s->used) {
        if (added)
            *added = false;
        return &s->value;
    }
    if ((m->len + 1) * 4 > m->cap * 3) {  /* keep the load under 3/4 */
        grow(m);
        s = find(m, a, b);
    }
    s->used = true;
    s->a = a;
    s->b = b;
    s->value = init;
    m->len++;
    if (added)
        *added = true;
    return &s->value;
}

void pairmap_del(struct pairmap *m, int64_t a, int64_t b)
{
    struct pairmap_slot *s = find(m, a, b);
    if (!s->used)
        return;
    size_t mask = m->cap - 1, i = (size_t)(s - m->slots);
    s->used = false;
    m->len--;
    /* Move back every entry after the hole that probed past it. */
    for (size_t j = (i + 1) & mask; m->slots[j].used; j = (j + 1) & mask) {
        size_t home = mix(m->slots[j].a, m->slots[j].b) & mask;
        bool between = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (between)
            continue;
        m->slots[i] = m->slots[j];
        m->slots[j].used = false;
        i = j;
    }
}
