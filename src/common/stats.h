/* stats.h -- order statistics, with one definition of each so that "p99"
 * means the same in every command.
 *
 * stats_quantile: linear interpolation between the two closest ranks,
 *   h = p * (n - 1), q = x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h])
 *   (Hyndman & Fan type 7; numpy's and R's default).  Used for every figure
 *   that summarises a trace: audit, report, dispatch waits, OpenDC capacity.
 * stats_nearest_rank: the smallest value with at least p * n values at or
 *   below it (rank ceil(p * n), at least 1): always a value that was
 *   observed.  Used for measured latencies (load, links), as wrk and
 *   HdrHistogram report them.
 * Both take p in [0, 1] (clamped) and return NAN for no values. */
#ifndef TK_STATS_H
#define TK_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Type 7 quantile of sorted[0..n) (ascending). */
double stats_quantile(const double *sorted, size_t n, double p);
/* The same of unsorted a[0..n) in O(n) by selection; reorders a. */
double stats_quantile_select(double *a, size_t n, double p);
/* Nearest-rank quantile of sorted[0..n) (ascending). */
double stats_nearest_rank(const double *sorted, size_t n, double p);
/* Nearest rank over a histogram of nbuckets buckets of the given width
 * (bucket i holds [i*width, (i+1)*width)): the upper edge of the bucket
 * holding that rank, so it never understates; 0 for an empty histogram. */
int64_t stats_hist_nearest_rank(const uint32_t *counts, int nbuckets, int64_t width, double p);

#endif
