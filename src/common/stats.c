/* stats.c -- quantiles (see stats.h for the definitions). */
#include "common/stats.h"

#include <math.h>

static double clamp01(double p)
{
    return p <= 0 ? 0 : p >= 1 ? 1 : p;
}

double stats_quantile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double pos = clamp01(p) * (double)(n - 1);
    size_t lo = (size_t)pos;
    double frac = pos - (double)lo;
    if (lo + 1 >= n)
        return sorted[n - 1];
    return sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac;
}

/* k-th smallest (0-based) of a[0..n), n > 0; reorders a so that every
 * element after position k is >= a[k] (quickselect, Hoare partition). */
static double select_kth(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi];
        double pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = lo, j = hi;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            double t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        /* now a[lo..j] <= pivot <= a[j+1..hi] */
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
    return a[k];
}

double stats_quantile_select(double *a, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double pos = clamp01(p) * (double)(n - 1);
    size_t lo = (size_t)pos;
    double frac = pos - (double)lo;
    double v = select_kth(a, n, lo);
    if (frac == 0 || lo + 1 >= n)
        return v;
    double next = a[lo + 1];  /* the smallest of the elements after lo */
    for (size_t i = lo + 2; i < n; i++)
        next = a[i] < next ? a[i] : next;
    return v + (next - v) * frac;
}

double stats_nearest_rank(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double rank = ceil(clamp01(p) * (double)n);
    size_t i = rank < 1 ? 0 : (size_t)rank - 1;
    return sorted[i < n ? i : n - 1];
}

int64_t stats_hist_nearest_rank(const uint32_t *counts, int nbuckets, int64_t width, double p)
{
    uint64_t total = 0;
    for (int i = 0; i < nbuckets; i++)
        total += counts[i];
    if (!total)
        return 0;
    uint64_t want = (uint64_t)ceil(clamp01(p) * (double)total);
    if (want == 0)
        want = 1;
    uint64_t acc = 0;
    for (int i = 0; i < nbuckets; i++) {
        acc += counts[i];
        if (acc >= want)
            return (int64_t)(i + 1) * width;  /* upper edge: never under-state */
    }
    return (int64_t)nbuckets * width;
}
