#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "common/util.h"

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void add(struct report *r, size_t node, const char *id, const char *app, int64_t enq, int64_t a,
                int64_t b, const char *cpuset, bool failed)
{
    struct rp_task t = {.trace_id = (char *)id, .node = node, .app = report_app(r, app), .has_enq = enq >= 0,
                        .enq = enq, .has_start = true, .start = a, .has_end = true, .end = b, .has_pid = true,
                        .pid = 100 + (int64_t)r->ntasks, .failed = failed, .cpuset = (char *)cpuset};
    report_add_task(r, &t);
}

static void test_cpuset(void **state)
{
    (void)state;
    int c[8];
    assert_int_equal(report_parse_cpuset("0-3,8", c, 8), 5);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[3], 3);
    assert_int_equal(c[4], 8);
    assert_int_equal(report_parse_cpuset("5", c, 8), 1);
    assert_int_equal(c[0], 5);
    assert_int_equal(report_parse_cpuset("0-15", c, 8), 8);   /* capped at max */
    assert_int_equal(report_parse_cpuset("", c, 8), -1);
    assert_int_equal(report_parse_cpuset("x", c, 8), -1);
    assert_int_equal(report_parse_cpuset("3-1", c, 8), -1);
    assert_int_equal(report_parse_cpuset("1,", c, 8), 1);
    assert_int_equal(report_parse_cpuset("1;2", c, 8), -1);
    assert_int_equal(report_parse_cpuset(NULL, c, 8), -1);
}

static void test_escape(void **state)
{
    (void)state;
    struct jbuf b;
    jb_init(&b);
    report_html_escape(&b, "<a&\"b'>\x01");
    jb_append(&b, "", 1);
    assert_string_equal(b.p, "&lt;a&amp;&quot;b&#39;&gt;?");
    jb_free(&b);
}

static void test_lanes(void **state)
{
    (void)state;
    struct report r;
    report_init(&r, "t");
    size_t n = report_add_node(&r, "n1", 4, NULL);
    add(&r, n, "a", "x", -1, 0, 10, NULL, false);
    add(&r, n, "b", "x", -1, 5, 15, NULL, false);
    add(&r, n, "c", "x", -1, 10, 20, NULL, false);   /* fits after a */
    add(&r, n, "d", "y", -1, 0, 30, "3", false);
    add(&r, n, "e", "y", -1, 0, 30, "1", false);
    report_layout(&r);
    const struct rp_node *nd = &r.nodes[n];
    assert_int_equal(nd->nlanes, 4);   /* cpu 1, cpu 3, two greedy lanes */
    assert_true(nd->lanes[0].is_cpu && nd->lanes[0].cpu == 1);
    assert_true(nd->lanes[1].is_cpu && nd->lanes[1].cpu == 3);
    assert_false(nd->lanes[2].is_cpu);
    assert_int_equal(r.tasks[0].lane, 2);
    assert_int_equal(r.tasks[1].lane, 3);
    assert_int_equal(r.tasks[2].lane, 2);
    assert_int_equal(r.tasks[3].lane, 1);
    assert_int_equal(r.tasks[4].lane, 0);
    report_free(&r);
}

static void test_stats(void **state)
{
    (void)state;
    struct report r;
    report_init(&r, "t");
    size_t n = report_add_node(&r, "n1", 2, NULL);
    add(&r, n, "a", "x", 0, 100, 1100, NULL, false);    /* wait 100, run 1000 */
    add(&r, n, "b", "x", 0, 300, 2300, NULL, true);     /* wait 300, run 2000 */
    add(&r, n, "c", "y", 500, 400, 500, NULL, false);   /* enqueued after start: no wait */
    struct rp_stats s;
    report_stats(&r, 0, &s);
    assert_int_equal(s.tasks, 2);
    assert_int_equal(s.ok, 1);
    assert_int_equal(s.failed, 1);
    assert_true(fabs(s.wait_mean - 200) < 1e-9);
    assert_true(fabs(s.wait_p95 - 290) < 1e-9);
    assert_true(fabs(s.run_mean - 1500) < 1e-9);
    report_stats(&r, 1, &s);
    assert_int_equal(s.nwait, 0);
    assert_true(isnan(s.wait_mean));
    report_stats(&r, (size_t)-1, &s);
    assert_int_equal(s.tasks, 3);
    int64_t t0, t1;
    assert_true(report_span(&r, &t0, &t1));
    assert_int_equal(t0, 0);
    assert_int_equal(t1, 2300);
    report_free(&r);
}

static void test_gantt_exact(void **state)
{
    (void)state;
    struct report r;
    report_init(&r, "t");
    size_t n = report_add_node(&r, "n<1>", 2, NULL);
    add(&r, n, "t<1>", "a&b", 0, 100, 500, "0", false);
    add(&r, n, "t2", "a&b", 100, 100, 600, "1", true);   /* no wait */
    add(&r, n, "t3", "c", 200, 600, 900, "0-1", false);  /* two CPUs: two bars */
    report_layout(&r);
    struct jbuf b;
    jb_init(&b);
    report_gantt_svg(&r, n, 0, 1000, &b);
    jb_append(&b, "", 1);
    assert_int_equal(count(b.p, "<rect class=\"r c"), 4);
    assert_int_equal(count(b.p, "<rect class=\"w\""), 3);
    assert_int_equal(count(b.p, "<rect class=\"r c0 f\""), 1);
    assert_int_equal(count(b.p, "<title>"), 4);
    assert_non_null(strstr(b.p, "t&lt;1&gt; &middot; a&amp;b"));
    assert_non_null(strstr(b.p, "data-node=\"n&lt;1&gt;\""));
    assert_null(strstr(b.p, "<1>"));
    assert_non_null(strstr(b.p, "data-mode=\"exact\""));
    jb_free(&b);
    report_free(&r);
}

static void test_gantt_binned(void **state)
{
    (void)state;
    struct report r;
    report_init(&r, "t");
    r.width = 200;
    r.exact_max = 100;
    size_t n = report_add_node(&r, "n", 1, NULL);
    /* 20 000 back-to-back 1 ms tasks of alternating apps on one CPU */
    for (int i = 0; i < 20000; i++)
        add(&r, n, "t", i % 2 ? "a" : "b", i, i, i + 1, "0", i == 7000);
    report_layout(&r);
    struct jbuf b;
    jb_init(&b);
    report_gantt_svg(&r, n, 0, 20000, &b);
    jb_append(&b, "", 1);
    assert_non_null(strstr(b.p, "data-mode=\"binned\""));
    size_t runs = count(b.p, "<rect class=\"r c");
    assert_true(runs >= 1 && runs <= 200);
    assert_int_equal(count(b.p, "<rect class=\"fm\""), 1);
    assert_int_equal(count(b.p, "<title>"), 0);
    assert_true(b.len < 40000);
    jb_free(&b);
    report_free(&r);
}

static void test_proc_bins(void **state)
{
    (void)state;
    struct report r;
    report_init(&r, "t");
    size_t n = report_add_node(&r, "n", 2, NULL);
    /* one process using 2 cores from 0 to 1000 ms, sampled every 100 ms */
    for (int i = 1; i <= 10; i++) {
        struct rp_sample s = {.pid = 1, .ts = i * 100, .dt_ms = 100, .cpu_ms = 200};
        report_add_sample(&r, n, &s);
    }
    double *p, bin;
    size_t nb = report_proc_bins(&r.nodes[n], 0, 2000, 1000, &p, &bin);
    assert_true(fabs(bin - 100) < 1e-9);   /* not finer than the sampling interval */
    assert_true(nb >= 20);
    assert_true(fabs(p[0] - 100) < 1e-9);
    assert_true(fabs(p[9] - 100) < 1e-9);
    assert_true(fabs(p[10]) < 1e-9);
    free(p);
    report_free(&r);
}

static void test_util_dense_host(void **state)
{
    (void)state;
    struct report r;
    report_init(&r, "t");
    r.width = 100;
    size_t n = report_add_node(&r, "n", 2, NULL);
    for (int i = 0; i < 5000; i++) {
        struct rp_host h = {.ts = i, .cpu_pct = 50, .mem_pct = NAN};
        report_add_host(&r, n, &h);
    }
    report_layout(&r);
    struct jbuf b;
    jb_init(&b);
    report_util_svg(&r, n, 0, 5000, &b);
    jb_append(&b, "", 1);
    const char *pl = strstr(b.p, "class=\"hc\" points=\"");
    assert_non_null(pl);
    size_t pts = 0;
    for (const char *q = pl + 19; *q && *q != '"'; q++)
        pts += *q == ',';
    assert_true(pts >= 99 && pts <= 101);   /* one point per pixel column */
    assert_null(strstr(b.p, "class=\"hm\""));   /* no memory figures: no line */
    jb_free(&b);
    report_free(&r);
}

static void test_page(void **state)
{
    (void)state;
    struct report r;
    report_init(&r, "run<&>");
    size_t n = report_add_node(&r, "n1", 2, json_pack("{s:{s:i,s:i,s:i}, s:[{s:s,s:i}], s:[]}", "coverage",
                                                        "tasks", 2, "sampled", 1, "unsampled", 1,
                                                        "unsampled_tasks", "trace_id", "u<1>", "pid", 5,
                                                        "failed_tasks"));
    add(&r, n, "a", "x", 0, 0, 1000, NULL, false);
    add(&r, n, "u<1>", "x", 0, 0, 1000, NULL, false);
    for (int i = 0; i <= 5; i++) {
        struct rp_sample s = {.pid = 100, .ts = i * 200, .dt_ms = i ? 200 : 0, .cpu_ms = i ? 100 : 0};
        report_add_sample(&r, n, &s);
    }
    report_layout(&r);
    struct jbuf b;
    jb_init(&b);
    report_render_html(&r, &b);
    jb_append(&b, "", 1);
    assert_int_equal(count(b.p, "<script>"), 1);
    assert_int_equal(count(b.p, "http"), 3);   /* the SVG namespace of three charts */
    assert_int_equal(count(b.p, "<option "), 1);
    assert_int_equal(count(b.p, "<g class=\"tc\""), 1);
    assert_non_null(strstr(b.p, "Tasks without samples (1): u&lt;1&gt;"));
    assert_non_null(strstr(b.p, "<title>tracekit report: run&lt;&amp;&gt;</title>"));
    assert_non_null(strstr(b.p, "2 task(s): 2 ok, 0 failed"));
    jb_free(&b);
    report_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpuset),        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_lanes),         cmocka_unit_test(test_stats),
        cmocka_unit_test(test_gantt_exact),   cmocka_unit_test(test_gantt_binned),
        cmocka_unit_test(test_proc_bins),     cmocka_unit_test(test_util_dense_host),
        cmocka_unit_test(test_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
