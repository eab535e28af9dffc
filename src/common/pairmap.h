/* pairmap.h -- the project's hash map: open addressing with linear probing,
 * from a pair of int64 keys (PID and start ticks; or a PID and 0) to an
 * int64 value.  Used by the parser (which only adds) and the collector
 * (which also removes the processes that exit). */
#ifndef TK_PAIRMAP_H
#define TK_PAIRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pairmap_slot {
    int64_t a, b, value;
    bool used;
};

struct pairmap {
    struct pairmap_slot *slots;
    size_t cap, len;   /* cap is a power of two */
};

void pairmap_init(struct pairmap *m);
void pairmap_free(struct pairmap *m);
/* Pointer to the value of (a, b), or NULL. */
int64_t *pairmap_get(const struct pairmap *m, int64_t a, int64_t b);
/* Pointer to the value of (a, b), inserting `init` first if missing;
 * *added (if not NULL) says whether it was inserted.  The pointer is valid
 * until the next insertion. */
int64_t *pairmap_put(struct pairmap *m, int64_t a, int64_t b, int64_t init, bool *added);
/* Remove (a, b) if present (backward-shift deletion: no tombstones, so
 * lookups stay short however often entries come and go). */
void pairmap_del(struct pairmap *m, int64_t a, int64_t b);

#endif
