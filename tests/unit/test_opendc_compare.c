/* test_opendc_compare.c -- tracekit compare's figures on hand-worked
 * numbers: makespan, wait and run distributions and per-task errors,
 * tasks on one side only, throughput windows (given and automatic), hosts
 * by name, energy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonl.h"
#include "opendc/opendc_compare.h"

static struct odc_cmp_task meas_t[] = {
    {1, 0, 100, 600, false},    /* wait 100, run 500 */
    {2, 0, 200, 1200, false},   /* wait 200, run 1000 */
    {3, 500, 500, 1500, false}, /* wait 0, run 1000 */
    {4, 0, 0, 400, false},      /* not in OpenDC's output */
};
static struct odc_cmp_task pred_t[] = {
    {3, 500, 2000, 3000, false}, /* wait 1500, run 1000 */
    {1, 0, 1000, 1500, false},   /* wait 1000, run 500 */
    {2, 0, 1000, 2000, false},   /* wait 1000, run 1000 */
    {5, 0, 0, 100, false},       /* not in the run */
    {6, 0, -1, -1, false},       /* terminated */
};

static void sides(struct odc_cmp_side *m, struct odc_cmp_side *p, struct odc_cmp_host *mh,
                  struct odc_cmp_host *ph)
{
    memset(m, 0, sizeof *m);
    memset(p, 0, sizeof *p);
    m->tasks = meas_t;
    m->ntasks = 4;
    p->tasks = pred_t;
    p->ntasks = 5;
    mh[0] = (struct odc_cmp_host){"a", 0.5};
    ph[0] = (struct odc_cmp_host){"b", 0.75};
    ph[1] = (struct odc_cmp_host){"a", 0.25};
    m->hosts = mh;
    m->nhosts = 1;
    p->hosts = ph;
    p->nhosts = 2;
    m->has_energy = p->has_energy = true;
    m->energy_j = 100;
    p->energy_j = 150;
}

static void test_figures(void **state)
{
    (void)state;
    struct odc_cmp_side m, p;
    struct odc_cmp_host mh[1], ph[2];
    sides(&m, &p, mh, ph);
    struct odc_cmp c;
    odc_compare(&m, &p, 1000, &c);
    assert_int_equal(c.matched, 3);
    assert_int_equal(c.meas_only, 1);
    assert_int_equal(c.pred_only, 1);
    /* measured: the last end of the matched tasks; predicted: of all it completed */
    assert_int_equal(c.makespan_meas_ms, 1500);
    assert_int_equal(c.makespan_pred_ms, 3000);
    assert_float_equal(c.makespan_error_pct, 100.0, 1e-9);
    /* waits 0, 100, 200 and 1000, 1000, 1500 (type 7 quantiles) */
    assert_float_equal(c.wait_meas.p50, 100, 1e-9);
    assert_float_equal(c.wait_meas.p90, 180, 1e-9);
    assert_float_equal(c.wait_meas.p99, 198, 1e-9);
    assert_float_equal(c.wait_meas.mean, 100, 1e-9);
    assert_float_equal(c.wait_pred.p50, 1000, 1e-9);
    assert_float_equal(c.wait_pred.p90, 1400, 1e-9);
    assert_float_equal(c.wait_pred.mean, 3500.0 / 3, 1e-9);
    assert_float_equal(c.wait_mae_ms, (900 + 800 + 1500) / 3.0, 1e-9);
    /* runs 500, 1000, 1000 on both sides */
    assert_float_equal(c.run_meas.p50, 1000, 1e-9);
    assert_float_equal(c.run_pred.mean, 2500.0 / 3, 1e-9);
    assert_float_equal(c.run_mae_ms, 0, 1e-9);
    assert_float_equal(c.finish_mae_ms, (900 + 800 + 1500) / 3.0, 1e-9);
    /* 1-s windows over 0..3000: every task either side completed */
    assert_int_equal(c.window_ms, 1000);
    assert_int_equal(c.nwin, 4);
    const uint32_t tm[4] = {2, 2, 0, 0}, tp[4] = {1, 1, 1, 1};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.thr_meas[i], tm[i]);
        assert_int_equal(c.thr_pred[i], tp[i]);
    }
    /* hosts by name, NAN where a side lacks one */
    assert_int_equal(c.nhosts, 2);
    assert_string_equal(c.hosts[0].name, "a");
    assert_float_equal(c.hosts[0].meas, 0.5, 1e-12);
    assert_float_equal(c.hosts[0].pred, 0.25, 1e-12);
    assert_string_equal(c.hosts[1].name, "b");
    assert_true(isnan(c.hosts[1].meas));
    assert_float_equal(c.hosts[1].pred, 0.75, 1e-12);
    assert_float_equal(c.energy_error_pct, 50.0, 1e-9);
    odc_cmp_free(&c);
}

static void test_auto_window_and_missing(void **state)
{
    (void)state;
    struct odc_cmp_side m, p;
    struct odc_cmp_host mh[1], ph[2];
    sides(&m, &p, mh, ph);
    p.has_energy = false;
    m.nhosts = 0;
    struct odc_cmp c;
    odc_compare(&m, &p, 0, &c);
    assert_int_equal(c.window_ms, 200);   /* 3000 ms: the smallest 1-2-5 step giving <= 20 windows */
    assert_int_equal(c.nwin, 16);
    const char *miss[8];
    size_t n = odc_cmp_missing(&c, miss, 8);
    bool energy = false, util = false;
    for (size_t i = 0; i < n; i++) {
        energy |= strstr(miss[i], "predicted energy") != NULL;
        util |= strstr(miss[i], "measured host utilisation") != NULL;
    }
    assert_true(energy && util);
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    odc_cmp_json(&c, &b);
    jb_obj_close(&b);
    json_t *o = jsonl_loadb(b.p, b.len, 0, NULL);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(json_object_get(o, "energy_j"), "predicted")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "makespan_ms"), "predicted")), 3000);
    json_decref(o);
    jb_free(&b);
    odc_cmp_free(&c);
}

static void test_nothing_matched(void **state)
{
    (void)state;
    struct odc_cmp_side m = {0}, p = {0};
    struct odc_cmp_task only = {9, 0, 0, 10, false};
    m.tasks = &only;
    m.ntasks = 1;
    struct odc_cmp c;
    odc_compare(&m, &p, 0, &c);
    assert_int_equal(c.matched, 0);
    assert_int_equal(c.meas_only, 1);
    assert_int_equal(c.makespan_meas_ms, 0);
    assert_float_equal(c.makespan_error_pct, 0, 0);
    odc_cmp_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figures),
        cmocka_unit_test(test_auto_window_and_missing),
        cmocka_unit_test(test_nothing_matched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
