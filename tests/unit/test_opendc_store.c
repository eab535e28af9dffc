#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opendc/opendc_store.h"
#include "common/util.h"

/* The order the store promises: (node, pid, ts_ms, seq). */
static int cmp_ref(const void *a, const void *b)
{
    const struct odc_sample *x = a, *y = b;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* n samples as the collector writes them: ticks in time order, the
 * processes of a tick together, a few of them out of order and with equal
 * times (ties keep file order), on 3 nodes. */
static struct odc_sample *make_samples(size_t n, unsigned seed)
{
    struct odc_sample *v = xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        struct odc_sample *s = &v[i];
        s->node = (int)((seed >> 8) % 3);
        s->pid = 1000 + (int64_t)(i % 97) + (int64_t)((seed >> 20) % 2) * 100000;
        s->ts_ms = 1758580000000LL + (int64_t)(i / 97) * 100 + (int64_t)((seed >> 12) % 4) * 50;
        s->dt_ms = (seed >> 4) % 5 ? 100.5 : 0;
        s->cpu_ms = (double)(i % 1000) / 8;
        s->rss_kb = (int64_t)i;
        s->has_start_ticks = (seed >> 3) & 1;
        s->start_ticks = (int64_t)(seed % 1000);
        s->seq = i;
    }
    return v;
}

/* The cursor over [t0, t1] gives exactly want's samples (sorted) in that
 * window, in order. */
static void check_cursor(struct odc_cursor *c, const struct odc_proc *pr, const struct odc_sample *want, size_t n,
                         int64_t t0, int64_t t1)
{
    odc_cursor_seek(c, pr, t0, t1);
    for (size_t k = 0; k < n; k++) {
        if (want[k].ts_ms < t0 || want[k].ts_ms > t1)
            continue;
        const struct odc_sample *got = odc_cursor_next(c);
        assert_non_null(got);
        assert_memory_equal(got, &want[k], sizeof *got);
    }
    assert_null(odc_cursor_next(c));
    assert_null(odc_cursor_next(c));
}

/* Everything the store says agrees with a sort in memory. */
static void check_store(size_t n, const char *dir, bool shuffle)
{
    struct odc_sample *v = make_samples(n, 7);
    unsigned seed = 99;
    for (size_t i = n; shuffle && i > 1; i--) {   /* runs that overlap in time all along */
        seed = seed * 1103515245u + 12345u;
        size_t j = (seed >> 8) % i;
        struct odc_sample t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        v[i].seq = i;   /* the file order */
    struct odc_store *st = odc_store_new(dir);
    for (size_t i = 0; i < n; i++) {
        struct odc_sample s = v[i];
        s.seq = 999999999;   /* the store numbers them itself */
        odc_store_add(st, &s);
    }
    char err[256];
    assert_int_equal(odc_store_finish(st, err, sizeof err), 0);
    assert_int_equal(odc_store_count(st), n);
    uint64_t per_node[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        per_node[v[i].node]++;
    for (int k = 0; k < 3; k++)
        assert_int_equal(odc_store_node_count(st, k), per_node[k]);
    assert_int_equal(odc_store_node_count(st, 3), 0);
    qsort(v, n, sizeof *v, cmp_ref);
    size_t np;
    const struct odc_proc *procs = odc_store_procs(st, &np);
    struct odc_cursor *cur = odc_cursor_new(st);
    size_t at = 0;
    for (size_t p = 0; p < np; p++) {
        const struct odc_proc *pr = &procs[p];
        assert_true(pr->n > 0);
        assert_true(odc_store_find(st, pr->node, pr->pid) == pr);
        uint64_t first_dt = UINT64_MAX;
        for (size_t k = at; k < at + pr->n; k++) {
            assert_int_equal(v[k].node, pr->node);
            assert_int_equal(v[k].pid, pr->pid);
            if (v[k].dt_ms > 0 && v[k].seq < first_dt)
                first_dt = v[k].seq;
        }
        assert_int_equal(pr->first_dt_seq, first_dt);
        assert_true(at + pr->n == n || v[at + pr->n].node != pr->node || v[at + pr->n].pid != pr->pid);
        double *aux;
        bool fresh;
        const struct odc_sample *got = odc_store_read(st, pr, &aux, &fresh);
        assert_non_null(got);
        assert_memory_equal(got, &v[at], pr->n * sizeof *got);
        assert_true(fresh);
        aux[0] = 42;
        /* cursors: the whole process, a window inside (edges on samples,
         * and between them), before and after it, an empty one */
        const struct odc_sample *w = &v[at];
        int64_t a = w[pr->n / 3].ts_ms, b = w[pr->n - 1 - pr->n / 4].ts_ms;
        check_cursor(cur, pr, w, pr->n, INT64_MIN, INT64_MAX);
        check_cursor(cur, pr, w, pr->n, a, b);
        check_cursor(cur, pr, w, pr->n, a + 1, b - 1);
        check_cursor(cur, pr, w, pr->n, w[0].ts_ms - 1000, w[0].ts_ms);
        check_cursor(cur, pr, w, pr->n, w[pr->n - 1].ts_ms + 1, INT64_MAX);
        check_cursor(cur, pr, w, pr->n, b, a - 1);
        at += pr->n;
    }
    assert_int_equal(at, n);
    odc_cursor_seek(cur, NULL, 0, 1);
    assert_null(odc_cursor_next(cur));
    odc_cursor_free(cur);
    odc_cursor_free(NULL);
    assert_null(odc_store_find(st, 1, 5));
    assert_null(odc_store_find(st, 7, 1000));
    /* the cache: the last ODC_STORE_CACHE processes are kept with their
     * values, an older one comes back fresh (aux zeroed) */
    double *aux;
    bool fresh;
    if (np > ODC_STORE_CACHE) {
        assert_non_null(odc_store_read(st, &procs[np - 1], &aux, &fresh));
        assert_false(fresh);
        assert_true(aux[0] == 42);
        assert_non_null(odc_store_read(st, &procs[0], &aux, &fresh));
        assert_true(fresh);
        assert_true(aux[0] == 0);
    }
    assert_null(odc_store_error(st));
    odc_store_free(st);
    free(v);
}

/* Fits one chunk: sorted in memory, no file */
static void test_store_in_memory(void **state)
{
    (void)state;
    check_store(5000, "/nonexistent-folder", false);   /* never opened */
    check_store(5000, NULL, true);
    check_store(0, NULL, false);
}

/* More than one chunk: sorted runs in a file, a process's parts merged
 * (runs in time order, and shuffled) */
static void test_store_spilled(void **state)
{
    (void)state;
    check_store(2 * ODC_STORE_CHUNK + 4321, NULL, false);
    check_store(2 * ODC_STORE_CHUNK + 7, NULL, true);
}

/* A folder the runs cannot be written to: an error naming it */
static void test_store_no_folder(void **state)
{
    (void)state;
    struct odc_store *st = odc_store_new("/nonexistent-folder");
    struct odc_sample s = {.pid = 1, .ts_ms = 5};
    for (size_t i = 0; i < ODC_STORE_CHUNK + 1; i++)
        odc_store_add(st, &s);
    char err[256];
    assert_int_equal(odc_store_finish(st, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-folder"));
    odc_store_free(st);
    odc_store_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_in_memory),
        cmocka_unit_test(test_store_spilled),
        cmocka_unit_test(test_store_no_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
