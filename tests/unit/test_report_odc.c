#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_odc.h"
#include "common/util.h"

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void task(struct report_odc *o, int32_t id, int64_t sub, int64_t dur, int32_t cores)
{
    struct report_odc_task t = {.id = id, .sub = sub, .dur = dur, .cpu_count = cores, .cpu_capacity = cores * 1000.0,
                         .mem = 1000};
    report_odc_add_task(o, &t);
}

static void test_finish_groups(void **state)
{
    (void)state;
    struct report_odc o;
    report_odc_init(&o, "w");
    task(&o, 7, 0, 300, 1);
    task(&o, 3, 0, 100, 1);
    task(&o, 9, 0, 50, 1);    /* no fragments */
    task(&o, 3, 0, 100, 1);   /* duplicate id */
    report_odc_add_frag(&o, 7, 100, 10);
    report_odc_add_frag(&o, 3, 60, 20);
    report_odc_add_frag(&o, 7, 200, 30);   /* interleaved with 3 */
    report_odc_add_frag(&o, 42, 5, 1);     /* no such task */
    report_odc_add_frag(&o, 3, 40, 40);
    report_odc_finish(&o);
    assert_int_equal(o.nfrags, 4);
    assert_int_equal(o.orphan_frags, 1);
    assert_int_equal(o.dup_ids, 1);
    assert_int_equal(o.no_frags, 2);       /* task 9 and the second 3 */
    assert_int_equal(o.sum_mismatch, 0);
    assert_true(o.interleaved);
    const struct report_odc_task *t7 = &o.tasks[0], *t3 = &o.tasks[1];
    assert_int_equal(t7->nfrag, 2);
    assert_int_equal(t7->frag_ms, 300);
    /* each task's fragments in file order */
    assert_true(o.frags[t7->frag0].mhz == 10 && o.frags[t7->frag0 + 1].mhz == 30);
    assert_int_equal(t3->nfrag, 2);
    assert_true(o.frags[t3->frag0].mhz == 20 && o.frags[t3->frag0 + 1].mhz == 40);
    report_odc_free(&o);
}

static void test_spread(void **state)
{
    (void)state;
    /* 1000 MHz for 150 ms then 500 MHz for 100 ms, from t=50, bins of 100 ms */
    struct report_odc_frag f[] = {{150, 1000}, {100, 500}};
    double acc[3] = {0};
    double w = report_odc_spread(f, 2, 50, 0, 100, 3, acc);
    assert_true(fabs(acc[0] - 50 * 1000.0) < 1e-6);
    assert_true(fabs(acc[1] - 100 * 1000.0) < 1e-6);
    assert_true(fabs(acc[2] - 100 * 500.0) < 1e-6);
    assert_true(fabs(w - (150 * 1000.0 + 100 * 500.0)) < 1e-6);
    /* what falls outside the bins is dropped, and not counted */
    double one[1] = {0};
    w = report_odc_spread(f, 2, 50, 0, 100, 1, one);
    assert_true(fabs(one[0] - 50 * 1000.0) < 1e-6 && fabs(w - 50 * 1000.0) < 1e-6);
    /* before t0 too; negative, NaN and zero-length fragments add nothing */
    struct report_odc_frag g[] = {{100, 1000}, {0, 5000}, {100, -3}, {100, NAN}, {100, 200}};
    double acc2[4] = {0};
    w = report_odc_spread(g, 5, -100, 0, 100, 4, acc2);
    assert_true(acc2[0] == 0 && acc2[1] == 0 && fabs(acc2[2] - 100 * 200.0) < 1e-6 && acc2[3] == 0);
    assert_true(fabs(w - 100 * 200.0) < 1e-6);
}

static void test_demand(void **state)
{
    (void)state;
    struct report_odc o;
    report_odc_init(&o, "w");
    task(&o, 1, 1000, 400, 1);
    task(&o, 2, 1200, 200, 2);
    report_odc_add_frag(&o, 1, 400, 1000);
    report_odc_add_frag(&o, 2, 200, 1500);
    report_odc_finish(&o);
    int64_t t0, t1;
    assert_true(report_odc_span(&o, &t0, &t1));
    assert_int_equal(t0, 1000);
    assert_int_equal(t1, 1400);
    double *v, bin;
    size_t nb = report_odc_demand(&o, t0, t1, 8, &v, &bin);   /* 4 bins of 100 ms */
    assert_int_equal(nb, 4);
    assert_true(fabs(bin - 100) < 1e-9);
    assert_true(fabs(v[0] - 1000) < 1e-6 && fabs(v[1] - 1000) < 1e-6);
    assert_true(fabs(v[2] - 2500) < 1e-6 && fabs(v[3] - 2500) < 1e-6);
    free(v);
    report_odc_free(&o);
}

static void test_topology(void **state)
{
    (void)state;
    struct report_odc o;
    report_odc_init(&o, "w");
    char err[300];
    const char *good = "{\"clusters\": [{\"name\": \"C01\", \"count\": 2, \"hosts\": ["
                       "{\"name\": \"H01\", \"count\": 3, \"cpu\": {\"coreCount\": 4, \"coreSpeed\": \"2.4 GHz\"},"
                       " \"memory\": {\"size\": \"16 GiB\"}},"
                       "{\"name\": \"H02\", \"cpu\": {\"coreCount\": 8, \"coreSpeed\": \"1000 MHz\"},"
                       " \"memory\": {\"size\": \"8192 MiB\"}}]}]}";
    assert_int_equal(report_odc_topology(&o, good, err, sizeof err), 0);
    assert_int_equal(o.nhosts, 2);
    assert_int_equal(o.hosts[0].count, 6);
    assert_int_equal(report_odc_cores(&o), 6 * 4 + 2 * 8);
    assert_true(fabs(report_odc_capacity_mhz(&o) - (24 * 2400.0 + 16 * 1000.0)) < 1e-6);
    assert_true(fabs(o.hosts[0].mib - 16384) < 1e-9);
    assert_int_equal(report_odc_topology(&o, "{\"clusters\": []}", err, sizeof err), -1);
    assert_int_equal(o.nhosts, 0);
    assert_int_equal(report_odc_topology(&o, "{\"clusters\": [{\"hosts\": [{\"cpu\": {\"coreCount\": 4}}]}]}", err,
                                  sizeof err), -1);
    assert_non_null(strstr(err, "coreSpeed"));
    assert_int_equal(report_odc_topology(&o, "not json", err, sizeof err), -1);
    assert_int_equal(report_odc_capacity_mhz(&o), 0);
    report_odc_free(&o);
}

static void test_section(void **state)
{
    (void)state;
    struct report_odc o;
    report_odc_init(&o, "w<1>");
    for (int i = 0; i < 5; i++) {
        task(&o, i, 1000 + i * 100, 300, 1 + i % 2);
        report_odc_add_frag(&o, i, 100, 500);
        report_odc_add_frag(&o, i, 200, 900);
    }
    report_odc_finish(&o);
    char err[200];
    assert_int_equal(report_odc_topology(&o, "{\"clusters\": [{\"hosts\": [{\"cpu\": {\"coreCount\": 1, "
                                      "\"coreSpeed\": \"1 GHz\"}, \"memory\": {\"size\": \"1 GiB\"}}]}]}",
                                  err, sizeof err), 0);
    struct jbuf b;
    jb_init(&b);
    report_odc_section_html(&o, &b);
    jb_append(&b, "", 1);
    assert_non_null(strstr(b.p, "OpenDC workload: w&lt;1&gt;"));
    assert_int_equal(count(b.p, "<svg class=\"gantt\""), 1);
    assert_int_equal(count(b.p, "data-mode=\"exact\""), 1);
    assert_int_equal(count(b.p, "<rect class=\"r c"), 5);          /* one bar per task */
    assert_int_equal(count(b.p, "<rect class=\"r c0"), 3);         /* 1 core */
    assert_int_equal(count(b.p, "<rect class=\"r c1"), 2);         /* 2 cores */
    assert_int_equal(count(b.p, "<svg class=\"demand\""), 1);
    assert_int_equal(count(b.p, "<line class=\"cap\""), 1 + 5);    /* capacity + each task's cpu_capacity */
    assert_int_equal(count(b.p, "<option value="), 5);
    assert_int_equal(count(b.p, "<g class=\"oc\""), 5);
    assert_int_equal(count(b.p, "style=\"display:none\""), 4);
    assert_null(strstr(b.p, "class=\"warn\""));
    jb_free(&b);

    /* dense: binned Gantt, curves limited, still one demand chart */
    o.exact_max = 3;
    o.curves_max = 2;
    jb_init(&b);
    report_odc_section_html(&o, &b);
    jb_append(&b, "", 1);
    assert_int_equal(count(b.p, "data-mode=\"binned\""), 1);
    assert_int_equal(count(b.p, "<option value="), 2);
    assert_non_null(strstr(b.p, "The first 2 of 5 tasks"));
    jb_free(&b);
    report_odc_free(&o);
}

static void test_cores_reserved(void **state)
{
    (void)state;
    /* Three 2-core tasks at once on one 2-core host of ample MHz: the MHz
     * fit, but OpenDC places on cpu_count, so two of them queue. */
    struct report_odc o;
    report_odc_init(&o, "w");
    for (int i = 0; i < 3; i++) {
        task(&o, i, 1000, 1000, 2);
        report_odc_add_frag(&o, i, 1000, 100);
    }
    task(&o, 3, 5000, 500, 2);   /* alone later: fits */
    report_odc_add_frag(&o, 3, 500, 100);
    report_odc_finish(&o);
    char err[200];
    assert_int_equal(report_odc_topology(&o, "{\"clusters\": [{\"hosts\": [{\"cpu\": {\"coreCount\": 2, "
                                             "\"coreSpeed\": \"10 GHz\"}, \"memory\": {\"size\": \"1 GiB\"}}]}]}",
                                         err, sizeof err), 0);
    int64_t peak;
    double over;
    report_odc_reserved(&o, &peak, &over);
    assert_int_equal(peak, 6);
    assert_true(over == 1000);
    struct jbuf b;
    jb_init(&b);
    report_odc_section_html(&o, &b);
    jb_append(&b, "", 1);
    assert_non_null(strstr(b.p, "peak 6 of 2"));
    assert_non_null(strstr(b.p, "tasks will queue"));
    assert_non_null(strstr(b.p, "asked for more in 0 of"));   /* the MHz alone say it fits */
    jb_free(&b);
    report_odc_free(&o);
}

static void test_many_fragments_binned(void **state)
{
    (void)state;
    struct report_odc o;
    report_odc_init(&o, "w");
    o.width = 100;   /* at most 50 steps per curve */
    task(&o, 1, 0, 10000, 1);
    for (int i = 0; i < 1000; i++)
        report_odc_add_frag(&o, 1, 10, i % 2 ? 1000 : 0);
    report_odc_finish(&o);
    assert_int_equal(o.sum_mismatch, 0);
    struct jbuf b;
    jb_init(&b);
    report_odc_section_html(&o, &b);
    jb_append(&b, "", 1);
    const char *pl = strstr(strstr(b.p, "<g class=\"oc\""), "<polyline class=\"cv\" points=\"");
    assert_non_null(pl);
    pl += strlen("<polyline class=\"cv\" points=\"");
    size_t pts = 0;
    for (const char *p = pl; *p && *p != '"'; p++)
        pts += *p == ',';
    assert_int_equal(pts, 2 * 50);   /* the mean of 20 fragments per step, 2 points per step */
    jb_free(&b);
    report_odc_free(&o);
}

/* Values no export writes, from a hand-made or corrupt file: never UB. */
static void test_absurd(void **state)
{
    (void)state;
    struct report_odc o;
    report_odc_init(&o, "odd");
    struct report_odc_task t[] = {
        {.id = INT32_MIN, .sub = INT64_MIN, .dur = INT64_MAX, .cpu_count = INT32_MIN, .cpu_capacity = NAN},
        {.id = 1, .sub = INT64_MAX, .dur = -5, .cpu_count = 0, .cpu_capacity = -1, .mem = INT64_MIN},
        {.id = 2, .sub = 0, .dur = 0, .cpu_count = INT32_MAX, .cpu_capacity = INFINITY, .mem = INT64_MAX},
    };
    for (size_t i = 0; i < 3; i++)
        report_odc_add_task(&o, &t[i]);
    report_odc_add_frag(&o, INT32_MIN, INT64_MAX, 1e308);
    report_odc_add_frag(&o, INT32_MIN, INT64_MAX, NAN);
    report_odc_add_frag(&o, 1, -100, -1e308);
    report_odc_add_frag(&o, 2, 0, INFINITY);
    report_odc_finish(&o);
    int64_t a, e;
    assert_true(report_odc_span(&o, &a, &e));
    assert_true(e > a);
    struct jbuf b;
    jb_init(&b);
    report_odc_section_html(&o, &b);
    assert_true(b.len > 0);
    jb_free(&b);
    report_odc_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finish_groups), cmocka_unit_test(test_spread),
        cmocka_unit_test(test_demand),        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_section),       cmocka_unit_test(test_many_fragments_binned),
        cmocka_unit_test(test_absurd),        cmocka_unit_test(test_cores_reserved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
