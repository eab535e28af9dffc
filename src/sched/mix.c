/* mix.c -- `--mix` parsing, counts, seeded sequence and weighted draws.
 * See mix.h for the rules and where they differ from the original. */
#include "sched/mix.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/opt.h"
#include "common/util.h"

/* Large enough for any real mix, small enough that N * w fits in 128 bits
 * comfortably and that sums of weights cannot overflow int64. */
#define MIX_MAX_WEIGHT INT64_C(1000000000000)

/* Python int() on a trimmed string: [+-]digits, with single underscores
 * allowed between digits.  Returns 0 ok, -1 not an integer, -2 too large. */
static int parse_py_int(const char *s, int64_t *out)
{
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!isdigit((unsigned char)*s))
        return -1;
    int64_t v = 0;
    int big = 0;
    for (; *s; s++) {
        if (*s == '_') {
            if (!isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[-1]))
                return -1;
            continue;
        }
        if (!isdigit((unsigned char)*s))
            return -1;
        if (v > MIX_MAX_WEIGHT)
            big = 1;
        else
            v = v * 10 + (*s - '0');
    }
    if (big || v > MIX_MAX_WEIGHT)
        return -2;
    *out = neg ? -v : v;
    return 0;
}

static void add_entry(struct mix *m, const char *name, int64_t w)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->e[i].name, name) == 0) {
            m->e[i].weight = w; /* keep the first position, the last weight */
            m->duplicates++;
            return;
        }
    }
    m->e = xrealloc(m->e, (m->n + 1) * sizeof m->e[0]);
    m->e[m->n].name = xstrdup(name);
    m->e[m->n].weight = w;
    m->n++;
}

/* "'x', 'y=abc'": the items skipped, for the warning that names them */
static void note_skipped(struct mix *m, const char *item)
{
    m->skipped++;
    char *prev = m->skipped_text;
    m->skipped_text = prev ? xasprintf("%s, '%s'", prev, item) : xasprintf("'%s'", item);
    free(prev);
}

/* "a, b or c" */
static void known_list(const struct mix_names *names, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < names->nknown && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s", i == 0 ? "" : i + 1 == names->nknown
                              ? " or " : ", ", names->known[i]);
}

/* The strict rules' message for an unknown name: the known ones, the nearest. */
static int unknown_name(const struct mix_names *names, const char *name, char *err,
                        size_t errlen)
{
    char list[512];
    known_list(names, list, sizeof list);
    const char *near = opt_closest(name, names->known, names->nknown);
    char hint[160] = "";
    if (near)
        snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
    snprintf(err, errlen, "unknown profile '%s'%s (expected %s; --allow-unknown-profile runs "
             "unknown names as the original did, a 1280:720 transcode)", name, hint, list);
    return -1;
}

/* One "name=weight" item into m.  0, 1 (skipped), or -1 with err. */
static int parse_item(char *item, const struct mix_names *names, struct mix *m, char *err,
                      size_t errlen)
{
    bool strict = names && !names->lenient;
    char *eq = strchr(item, '=');
    char *name = eq ? (*eq = 0, str_trim(item)) : item, *wtext = eq ? str_trim(eq + 1) : "";
    int64_t w;
    int pr = eq ? parse_py_int(wtext, &w) : -1;
    if (pr == -2) {
        snprintf(err, errlen, "weight '%s' of '%s' is too large (max %lld)", wtext, name,
                 (long long)MIX_MAX_WEIGHT);
        return -1;
    }
    if (pr < 0 || !*name) {
        if (eq)
            *eq = '=';
        if (strict) {
            snprintf(err, errlen, "item '%s' is not NAME=WEIGHT (WEIGHT an integer)", item);
            return -1;
        }
        note_skipped(m, item);
        return 1;
    }
    for (char *c = name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    const char *cn = names && names->canon ? names->canon(name) : NULL;
    if (!cn && strict && names->known) {
        bool found = false;
        for (size_t i = 0; i < names->nknown && !found; i++)
            found = !strcmp(names->known[i], name);
        if (!found)
            return unknown_name(names, name, err, errlen);
    }
    add_entry(m, cn ? cn : name, w);
    return 0;
}

int mix_parse_names(const char *spec, const struct mix_names *names, struct mix *m, char *err,
                    size_t errlen)
{
    memset(m, 0, sizeof *m);
    char *copy = xstrdup(spec ? spec : "");
    char *save = NULL;
    int rc = 0;
    /* strtok_r folds ",," together; empty items are ignored (not counted
     * as skipped), like the original. */
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        item = str_trim(item);
        if (*item && (rc = parse_item(item, names, m, err, errlen)) < 0)
            break;
        rc = 0;
    }
    free(copy);
    if (rc == 0 && m->n == 0) {
        snprintf(err, errlen, "no usable name=weight item");
        rc = -1;
    }
    if (rc < 0)
        mix_free(m);
    return rc;
}

int mix_parse(const char *spec, mix_canon_fn canon, struct mix *m, char *err, size_t errlen)
{
    struct mix_names names = {.canon = canon, .lenient = true};
    return mix_parse_names(spec, &names, m, err, errlen);
}

void mix_free(struct mix *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->e[i].name);
    free(m->e);
    free(m->skipped_text);
    memset(m, 0, sizeof *m);
}

int64_t mix_weight_sum(const struct mix *m)
{
    int64_t s = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].weight > 0)
            s += m->e[i].weight;
    return s;
}

int mix_counts(const struct mix *m, int64_t total, int64_t *counts, char *err, size_t errlen)
{
    if (total < 1 || total > MIX_MAX_TOTAL) {
        snprintf(err, errlen, "--total %lld is out of range (1..%d)", (long long)total,
                 MIX_MAX_TOTAL);
        return -1;
    }
    int64_t wsum = mix_weight_sum(m);
    if (wsum <= 0) {
        snprintf(err, errlen, "--mix: all weights are zero or negative");
        return -1;
    }
    int64_t assigned = 0;
    for (size_t i = 0; i < m->n; i++) {
        int64_t w = m->e[i].weight > 0 ? m->e[i].weight : 0;
        counts[i] = (int64_t)((__int128)total * w / wsum);
        assigned += counts[i];
    }
    /* Remainder: one each, in descending weight order, ties in --mix order
     * (Python's sorted(..., reverse=True) is stable). The remainder is
     * always smaller than the number of positive weights. */
    int64_t rem = total - assigned;
    size_t *order = xmalloc(m->n * sizeof *order);
    for (size_t i = 0; i < m->n; i++)
        order[i] = i;
    for (size_t i = 1; i < m->n; i++) { /* insertion sort: stable, n is tiny */
        size_t v = order[i], j = i;
        while (j > 0 && m->e[order[j - 1]].weight < m->e[v].weight) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (size_t i = 0; rem > 0 && i < m->n; i++, rem--)
        counts[order[i]]++;
    free(order);
    return 0;
}

size_t *mix_sequence(const struct mix *m, int64_t total, int64_t seed, char *err, size_t errlen)
{
    int64_t *counts = xcalloc(m->n, sizeof *counts);
    if (mix_counts(m, total, counts, err, errlen) < 0) {
        free(counts);
        return NULL;
    }
    size_t *seq = xmalloc((size_t)total * sizeof *seq), k = 0;
    for (size_t i = 0; i < m->n; i++)
        for (int64_t c = 0; c < counts[i]; c++)
            seq[k++] = i;
    free(counts);
    struct pyrand r;
    pyrand_seed(&r, seed);
    pyrand_shuffle(&r, seq, k, sizeof *seq);
    return seq;
}

long mix_draw(const struct mix *m, struct pyrand *r)
{
    int64_t wsum = mix_weight_sum(m);
    if (wsum <= 0)
        return -1;
    int64_t x = pyrand_randint(r, 1, wsum), cum = 0;
    for (size_t i = 0; i < m->n; i++) {
        cum += m->e[i].weight > 0 ? m->e[i].weight : 0;
        if (x <= cum)
            return (long)i;
    }
    return (long)m->n - 1; /* not reached: x <= wsum */
}
