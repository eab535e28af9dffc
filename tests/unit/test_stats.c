/* test_stats.c -- the quantile definitions of common/stats.h, with values
 * worked out by hand (numpy.quantile for type 7). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "common/stats.h"
#include "common/util.h"

static void test_quantile(void **state)
{
    (void)state;
    const double s[] = {1, 2, 3, 4};
    assert_true(stats_quantile(s, 4, 0.5) == 2.5);
    assert_true(fabs(stats_quantile(s, 4, 0.99) - 3.97) < 1e-12);
    assert_true(fabs(stats_quantile(s, 4, 0.95) - 3.85) < 1e-12);  /* pandas' .quantile(0.95) */
    assert_true(stats_quantile(s, 4, 0) == 1 && stats_quantile(s, 4, 1) == 4);
    assert_true(stats_quantile(s, 4, -1) == 1 && stats_quantile(s, 4, 2) == 4);  /* clamped */
    assert_true(stats_quantile(s, 1, 0.99) == 1);
    const double one[] = {599.75};
    assert_true(stats_quantile(one, 1, 0.95) == 599.75);
    assert_true(isnan(stats_quantile(s, 0, 0.5)));
}

static void test_quantile_select(void **state)
{
    (void)state;
    /* selection gives the same as sorting, duplicates included */
    srand(3);
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + (size_t)(rand() % 200);
        double *a = malloc(n * sizeof *a), *sorted = malloc(n * sizeof *a);
        for (size_t i = 0; i < n; i++)
            a[i] = sorted[i] = (double)(rand() % (round % 2 ? 5 : 1000));
        qsort(sorted, n, sizeof *sorted, cmp_double);
        const double ps[] = {0, 0.25, 0.5, 0.9, 0.99, 1};
        for (size_t k = 0; k < ARRAY_LEN(ps); k++)
            assert_true(stats_quantile_select(a, n, ps[k]) == stats_quantile(sorted, n, ps[k]));
        free(a);
        free(sorted);
    }
    assert_true(isnan(stats_quantile_select(NULL, 0, 0.5)));
}

static void test_nearest_rank(void **state)
{
    (void)state;
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i + 1;
    assert_true(stats_nearest_rank(v, 100, 0.50) == 50);
    assert_true(stats_nearest_rank(v, 100, 0.99) == 99);
    assert_true(stats_nearest_rank(v, 100, 0.999) == 100);
    assert_true(stats_nearest_rank(v, 100, 1) == 100);
    assert_true(stats_nearest_rank(v, 1, 0.5) == 1);
    assert_true(stats_nearest_rank(v, 3, 0.5) == 2);   /* ceil(1.5) = 2 */
    assert_true(isnan(stats_nearest_rank(v, 0, 0.5)));
    /* ten values: p0 and p10 are the first, p11 the second */
    assert_true(stats_nearest_rank(v, 10, 0.0) == 1);
    assert_true(stats_nearest_rank(v, 10, 0.10) == 1);
    assert_true(stats_nearest_rank(v, 10, 0.11) == 2);
    assert_true(stats_nearest_rank(v, 10, 0.99) == 10);
    /* 100 samples: p99 is the 99th value, one outlier does not move it */
    double w[100];
    for (int i = 0; i < 100; i++)
        w[i] = i == 42 ? 1000 : 20.0 + i * 0.01;
    qsort(w, 100, sizeof *w, cmp_double);
    assert_true(stats_nearest_rank(w, 100, 0.99) < 21);
}

static void test_hist_nearest_rank(void **state)
{
    (void)state;
    uint32_t h[10] = {0};
    h[0] = 90;
    h[5] = 9;
    h[9] = 1;
    assert_int_equal(stats_hist_nearest_rank(h, 10, 10, 0.5), 10);
    assert_int_equal(stats_hist_nearest_rank(h, 10, 10, 0.99), 60);
    assert_int_equal(stats_hist_nearest_rank(h, 10, 10, 1.0), 100);
    uint32_t empty[4] = {0};
    assert_int_equal(stats_hist_nearest_rank(empty, 4, 10, 0.5), 0);
}

static void test_comparators(void **state)
{
    (void)state;
    double d[] = {3, NAN, -1, 2};
    qsort(d, 4, sizeof *d, cmp_double);
    assert_true(d[0] == -1 && d[1] == 2 && d[2] == 3 && isnan(d[3]));
    int64_t i[] = {5, INT64_MIN, INT64_MAX, 0};
    qsort(i, 4, sizeof *i, cmp_i64);
    assert_true(i[0] == INT64_MIN && i[1] == 0 && i[2] == 5 && i[3] == INT64_MAX);
    const char *s[] = {"b", "a", "c"};
    qsort(s, 3, sizeof *s, cmp_str);
    assert_string_equal(s[0], "a");
    assert_string_equal(s[2], "c");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_quantile_select),
        cmocka_unit_test(test_nearest_rank),
        cmocka_unit_test(test_hist_nearest_rank),
        cmocka_unit_test(test_comparators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
