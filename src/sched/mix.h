/* mix.h -- the dispatcher's `--mix name=weight,...` profile mix: parsing,
 * per-name task counts for `--total N`, the seeded shuffled sequence, and the
 * weighted draw used when `--total 0` (one task per input file).
 *
 * Only names and weights live here; what a name means (scale, codec,
 * cpu_units) is the profile table's business.  The arithmetic and the random
 * draws reproduce the original Python dispatcher exactly (upstream §7.5), so
 * the same `--mix --total --seed` gives the same task sequence.
 *
 * Deliberate differences from the original (bug B18):
 *  - names are lower-cased (and optionally canonicalised, e.g. aliases)
 *    before anything else, so `Light1c=1,light1c=2` is one name;
 *  - a name given twice is one entry at its first position whose weight is
 *    the last one given (the original counted it twice); `duplicates` says
 *    how many such items there were so the command can warn;
 *  - all weights <= 0 is an error in both modes (the original crashed with
 *    --total 0 and silently produced fewer than N tasks with --total N);
 *  - seed 0 is an ordinary seed: Random(0), reproducible.  The original
 *    treated --seed 0 as "unseeded" (a different sequence every run). */
#ifndef TK_MIX_H
#define TK_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/pyrand.h"

/* Largest --total accepted (the sequence is held in memory). */
#define MIX_MAX_TOTAL 10000000

struct mix_entry {
    char *name;      /* lower-cased (and canonical) name */
    int64_t weight;  /* as given; <= 0 means "never chosen" */
};

struct mix {
    struct mix_entry *e;
    size_t n;
    size_t skipped;     /* items ignored: no '=', empty name, weight not an integer */
    char *skipped_text; /* those items, "'x', 'y=abc'" (malloc'd), or NULL */
    size_t duplicates;  /* items whose name was already given */
};

/* Maps a lower-cased name to its canonical spelling (e.g. "light_1c" ->
 * "light1c"), or returns NULL to keep it.  May be NULL. */
typedef const char *(*mix_canon_fn)(const char *name);

/* The names a mix may use.  Strict (lenient false, what dispatch and local
 * do unless --allow-unknown-profile): a malformed item, and a name that
 * canon does not map and that is not in known[], is an error naming the
 * item, the known names and the nearest one ("did you mean").  Lenient
 * (the original's rules): malformed items are skipped and counted, any
 * name is taken. */
struct mix_names {
    mix_canon_fn canon;             /* may be NULL */
    const char *const *known;       /* canonical names; NULL: any name */
    size_t nknown;
    bool lenient;
};

/* Parse "name=weight,...".  Items are trimmed; empty items are ignored.
 * An item without '=', with an empty name or a weight that is not an
 * integer (Python int(): optional sign, digits, single '_' between digits)
 * is malformed: skipped and counted (lenient, or names NULL), else an error.
 * Returns 0, or -1 with a message in err when an item breaks the strict
 * rules, no item is usable or a weight is out of range. */
int mix_parse_names(const char *spec, const struct mix_names *names, struct mix *m, char *err,
                    size_t errlen);
/* mix_parse_names with the lenient rules and canon. */
int mix_parse(const char *spec, mix_canon_fn canon, struct mix *m, char *err, size_t errlen);
void mix_free(struct mix *m);

/* Sum of max(0, weight). */
int64_t mix_weight_sum(const struct mix *m);

/* Tasks per entry for --total N (N >= 1): floor(N * w / W), then the
 * remainder one each to entries in descending weight order (stable).
 * counts has m->n slots.  Returns 0, or -1 with err (all weights <= 0,
 * N out of range). */
int mix_counts(const struct mix *m, int64_t total, int64_t *counts, char *err, size_t errlen);

/* The task sequence for --total N: entry indices, each entry repeated by its
 * count in --mix order, then shuffled like random.Random(seed).shuffle.
 * Returns a malloc'd array of N indices, or NULL with err. */
size_t *mix_sequence(const struct mix *m, int64_t total, int64_t seed, char *err, size_t errlen);

/* --total 0: one weighted draw, randint(1, W) and the first entry whose
 * cumulative weight reaches it.  Returns the entry index, or -1 if all
 * weights are <= 0.  Draw successive files from the same generator. */
long mix_draw(const struct mix *m, struct pyrand *r);

#endif
