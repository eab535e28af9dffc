#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fstree.h"
#include "common/util.h"
#include "opendc/opendc_io.h"
#include "parquet/parquet.h"
#include "report/report.h"
#include "report/report_load.h"

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
    /* waits are not drawn in the lanes: one strip of how many wait, above them */
    assert_int_equal(count(b.p, "<rect class=\"w\""), 0);
    assert_int_equal(count(b.p, "<polygon class=\"wq\" data-waiting=\"2\""), 1);
    assert_non_null(strstr(b.p, "at most 1 waiting"));
    assert_int_equal(count(b.p, "<rect class=\"r c0 f\""), 1);
    assert_int_equal(count(b.p, "<title>"), 5);   /* the four bars and the waiting strip */
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

/* Power: P = 50 + 100 u on one node, none on the other; two apps' energy. */
static void test_power(void **state)
{
    (void)state;
    struct report r;
    report_init(&r, "t");
    r.width = 200;
    size_t n = report_add_node(&r, "pw", 2, json_pack("{s:{s:f,s:f,s:f,s:f,s:f,s:f}}", "power",
                                                        "energy_j", 1234.5, "mean_w", 98.7,
                                                        "idle_w", 50.0, "above_idle_j", 600.0,
                                                        "tasks_j", 450.0, "coverage", 1.0));
    size_t quiet = report_add_node(&r, "quiet", 2, NULL);
    for (int i = 0; i < 30; i++) {
        double u = (i % 3) / 2.0;
        struct rp_host h = {.ts = i * 1000, .cpu_pct = 100 * u, .mem_pct = NAN, .has_power = true,
                            .power_w = 50 + 100 * u};
        report_add_host(&r, n, &h);
        struct rp_host q = {.ts = i * 1000, .cpu_pct = 10, .mem_pct = NAN};
        report_add_host(&r, quiet, &q);
    }
    struct rp_task t = {.node = n, .app = report_app(&r, "enc"), .has_start = true,
                        .has_end = true, .start = 0, .end = 9000, .has_energy = true,
                        .energy_j = 300};
    report_add_task(&r, &t);
    t.energy_j = 100;
    report_add_task(&r, &t);
    t.app = report_app(&r, "idle");
    t.has_energy = false;
    report_add_task(&r, &t);
    report_layout(&r);
    struct jbuf b;
    jb_init(&b);
    report_power_html(&r, 0, 29000, &b);
    jb_append(&b, "", 1);
    assert_non_null(strstr(b.p, "<svg class=\"power\""));
    assert_non_null(strstr(b.p, "&#9679; linear: idle 50.0 W, max 150.0 W, RMSE 0.00 W"));
    assert_null(strstr(b.p, "data-node=\"quiet\""));
    assert_null(strstr(b.p, ">quiet &middot; power"));
    assert_non_null(strstr(b.p, "<td>pw</td><td>1234.5 J</td><td>98.7 W</td><td>50.0 W</td>"));
    assert_non_null(strstr(b.p, "<td>quiet</td><td>&ndash;</td>"));
    assert_non_null(strstr(b.p, "<td>enc</td><td>2 of 2</td><td>400.0 J</td><td>200.0 J</td>"));
    assert_non_null(strstr(b.p, "<td>idle</td><td>0 of 1</td><td>&ndash;</td>"));
    jb_free(&b);
    report_free(&r);

    /* no node with power: one note */
    report_init(&r, "t");
    quiet = report_add_node(&r, "quiet", 2, NULL);
    struct rp_host q = {.ts = 0, .cpu_pct = 10, .mem_pct = NAN};
    report_add_host(&r, quiet, &q);
    jb_init(&b);
    report_power_html(&r, 0, 1000, &b);
    jb_append(&b, "", 1);
    assert_non_null(strstr(b.p, "No power measured on any node"));
    assert_null(strstr(b.p, "<svg"));
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
    assert_int_equal(count(b.p, "http"), 4);   /* the SVG namespace of four charts */
    assert_int_equal(count(b.p, "<option "), 1);
    assert_int_equal(count(b.p, "<g class=\"tc\""), 1);
    assert_non_null(strstr(b.p, "Tasks without samples (1): u&lt;1&gt;"));
    assert_non_null(strstr(b.p, "<title>tracekit report: run&lt;&amp;&gt;</title>"));
    assert_non_null(strstr(b.p, "2 task(s): 2 ok, 0 failed"));
    jb_free(&b);
    report_free(&r);
}


/* ---- the loader, on folders written here ---- */

static void put(const char *dir, const char *rel, const char *text)
{
    char *p = path_join(dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    assert_int_equal(mkdir_p(p, 0755), 0);
    *slash = '/';
    assert_int_equal(write_file_atomic(p, text, strlen(text)), 0);
    free(p);
}

/* A parsed node: two tasks (the second failed, pinned by an integer
 * cpuset), three samples of which one has no CPU counters, two host lines
 * in the two CPU forms; the last invocation line is torn. */
static void cts_node(const char *dir, const char *run, const char *node_id, const char *host_file)
{
    char rel[256], text[512];
    snprintf(rel, sizeof rel, "%s/CTS/nodes.json", run);
    snprintf(text, sizeof text, "[{\"node_id\": \"%s\", \"cpu_cores\": 8, \"cpu_cores_online\": 4}]", node_id);
    put(dir, rel, text);
    snprintf(rel, sizeof rel, "%s/CTS/invocations.jsonl", run);
    put(dir, rel,
        "{\"trace_id\": \"a\", \"pid\": 10, \"ts_enqueue\": 1000, \"ts_start\": 1500, \"ts_end\": 4000, "
        "\"app\": \"ffmpeg\", \"cpuset\": \"0-1\", \"status\": 0, \"start_ticks\": 77}\n"
        "{\"trace_id\": \"b\", \"pid\": 11, \"ts_enqueue\": 1000, \"ts_start\": 2000, \"ts_end\": 3000, "
        "\"module_id\": \"resize\", \"cpuset\": 3, \"status\": 1}\n"
        "{\"trace_id\": \"c\", \"pid\": 1");
    snprintf(rel, sizeof rel, "%s/CTS/proc_metrics.jsonl", run);
    put(dir, rel,
        "{\"ts_ms\": 2000, \"pid\": 10, \"dt_ms\": 0, \"cpu_ms\": 0, \"start_ticks\": 77}\n"
        "{\"ts_ms\": 3000, \"pid\": 10, \"dt_ms\": 1000, \"cpu_ms\": 900, \"start_ticks\": 77}\n"
        "{\"ts_ms\": 3000, \"pid\": 11, \"rss_kb\": 100}\n");
    snprintf(rel, sizeof rel, "%s/CTS/%s", run, host_file);
    put(dir, rel,
        "{\"ts_ms\": 2000, \"cpu_util\": 50, \"mem_total_mb\": 1000, \"mem_available_mb\": 250}\n"
        "{\"ts_ms\": 3000, \"cpu_idle\": 0.5, \"cpu_iowait\": 0.1, \"mem_total_mb\": 1000, \"mem_used_mb\": 100}\n");
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/tk-report.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

static void test_heatmap(void **state)
{
    (void)state;
    struct report r;
    report_init(&r, "t");
    size_t n = report_add_node(&r, "n", 2, NULL);
    add(&r, n, "busy", "a", 0, 0, 1000, "0", false);
    add(&r, n, "idle", "b", 0, 500, 1000, "1", false);   /* no samples: only its run */
    for (int i = 1; i <= 5; i++) {   /* task "busy" (pid 100): 2 cores for 200 ms each */
        struct rp_sample sm = {.pid = 100, .ts = i * 200, .dt_ms = 200, .cpu_ms = 400};
        report_add_sample(&r, n, &sm);
    }
    report_layout(&r);
    struct jbuf b;
    jb_init(&b);
    report_heatmap_svg(&r, 0, 1000, &b);
    jb_append(&b, "", 1);
    assert_non_null(strstr(b.p, "data-rows=\"2\""));
    assert_int_equal(count(b.p, "<rect class=\"hm0\""), 2);
    assert_true(count(b.p, "<rect class=\"hx\" fill=\"#990000\"") >= 1);   /* the darkest: 2 cores */
    assert_non_null(strstr(b.p, "2 task(s), 1 with process samples"));
    assert_non_null(strstr(b.p, "2 cores"));   /* the legend's top */
    jb_free(&b);
    report_free(&r);
}

static void test_load_run(void **state)
{
    (void)state;
    char *dir = tmpdir();
    cts_node(dir, "r1", "cloud1", "host_metrics.jsonl");
    char *run = path_join(dir, "r1/");
    struct report_load_in in = {.input = run};
    struct report_load_out out;
    char err[512];
    assert_int_equal(report_load(&in, &out, err, sizeof err), 0);
    assert_false(out.input_is_workload);
    assert_false(out.has_workload);
    assert_string_equal(out.title, "r1");
    const struct report *r = &out.run;
    assert_int_equal(r->nnodes, 1);
    assert_string_equal(r->nodes[0].name, "cloud1");
    assert_int_equal(r->nodes[0].cores, 4);   /* the online cores win */
    assert_int_equal(r->ntasks, 2);           /* the torn last line is skipped */
    assert_string_equal(r->tasks[0].trace_id, "a");
    assert_string_equal(r->apps[r->tasks[0].app], "ffmpeg");
    assert_string_equal(r->tasks[0].cpuset, "0-1");
    assert_true(r->tasks[0].has_enq && r->tasks[0].enq == 1000);
    assert_true(r->tasks[0].has_st && r->tasks[0].start_ticks == 77);
    assert_false(r->tasks[0].failed);
    assert_string_equal(r->apps[r->tasks[1].app], "resize");
    assert_string_equal(r->tasks[1].cpuset, "3");
    assert_true(r->tasks[1].failed);
    assert_int_equal(r->nodes[0].nsamples, 2);   /* no CPU counters: left out */
    assert_int_equal(r->nodes[0].nhost, 2);
    assert_true(r->nodes[0].host[0].cpu_pct == 50 && r->nodes[0].host[0].mem_pct == 75);
    assert_true(fabs(r->nodes[0].host[1].cpu_pct - 40) < 1e-9 && r->nodes[0].host[1].mem_pct == 10);
    assert_null(r->nodes[0].audit);
    struct jbuf b;
    jb_init(&b);
    report_load_html(&out, &b);
    jb_append(&b, "", 1);
    assert_non_null(strstr(b.p, "<title>tracekit report: r1</title>"));
    assert_non_null(strstr(b.p, "2 task(s): 1 ok, 1 failed"));
    jb_free(&b);
    report_load_free(&out);
    free(run);
    assert_int_equal(fstree_rm_rf(dir), 0);
    free(dir);
}

static void test_load_experiment(void **state)
{
    (void)state;
    char *dir = tmpdir();
    /* two nodes (one with the original's resources.jsonl and an audit),
     * and a node folder not parsed yet: left out */
    cts_node(dir, "exp/b", "cloud2", "host_metrics.jsonl");
    cts_node(dir, "exp/a", "cloud1", "resources.jsonl");
    put(dir, "exp/a/CTS/audit.json", "{\"coverage\": {\"tasks\": 2}}");
    put(dir, "exp/c/node_meta.json", "{}");
    char *exp = path_join(dir, "exp");
    struct report r;
    report_init(&r, "exp");
    char err[512];
    assert_int_equal(report_load_run(&r, exp, err, sizeof err), 2);
    assert_int_equal(r.nnodes, 2);
    assert_string_equal(r.nodes[0].name, "cloud1");   /* folders by name */
    assert_string_equal(r.nodes[1].name, "cloud2");
    assert_int_equal(r.nodes[0].nhost, 2);
    assert_non_null(r.nodes[0].audit);
    assert_int_equal(r.ntasks, 4);
    assert_null(r.setup);   /* no controller records */
    report_free(&r);

    /* the controller's records at the top (from gather): the setup, and
     * the profiles the tasks are shown as */
    put(dir, "exp/submitted.jsonl",
        "{\"task_id\": 1, \"trace_id\": \"a\", \"profile\": \"medium480p\", \"cpu_units\": 2, "
        "\"ts_enqueue\": 1000}\n"
        "{\"task_id\": 2, \"trace_id\": \"b\", \"profile\": \"light1c\", \"cpu_units\": 1, "
        "\"ts_enqueue\": 5000}\n");
    put(dir, "exp/placements.jsonl", "{\"task_id\": 1, \"node\": \"cloud1\", \"policy\": \"Mem\"}\n");
    put(dir, "exp/ledger.jsonl", "{\"task_id\": 1, \"status\": \"done\", \"attempt\": 2, \"node\": "
        "\"cloud1\", \"worker\": \"cloud1:1\"}\n");
    report_init(&r, "exp");
    assert_int_equal(report_load_run(&r, exp, err, sizeof err), 2);
    assert_non_null(r.setup);
    assert_string_equal(r.apps[r.tasks[0].app], "medium480p");
    struct jbuf sb;
    jb_init(&sb);
    report_layout(&r);
    report_run_html(&r, &sb);
    jb_append(&sb, "", 1);
    assert_non_null(strstr(sb.p, "Experiment setup"));
    assert_non_null(strstr(sb.p, "medium480p \u00d71 (50%), light1c \u00d71 (50%)"));
    assert_non_null(strstr(sb.p, "Mem \u00d71 (100%)"));
    assert_non_null(strstr(sb.p, "done \u00d71 (100%); 1 retried"));
    assert_non_null(strstr(sb.p, "in 2 burst(s)"));
    assert_non_null(strstr(sb.p, "not recorded in the run&#39;s files"));
    jb_free(&sb);
    report_free(&r);

    /* no parsed node, no node folder at all */
    char *c = path_join(dir, "exp/c");
    report_init(&r, "c");
    assert_int_equal(report_load_run(&r, c, err, sizeof err), -1);
    assert_non_null(strstr(err, "no parsed node (CTS/) found"));
    report_free(&r);
    put(dir, "empty/readme.txt", "");
    char *empty = path_join(dir, "empty");
    struct report_load_in in = {.input = empty};
    struct report_load_out out;
    assert_int_equal(report_load(&in, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "neither a run folder"));
    free(empty);
    free(c);
    free(exp);
    assert_int_equal(fstree_rm_rf(dir), 0);
    free(dir);
}

static void test_load_workload(void **state)
{
    (void)state;
    char *dir = tmpdir();
    cts_node(dir, "r1", "cloud1", "host_metrics.jsonl");
    put(dir, "r1/node_meta.json", "{\"cpu_freq_mhz\": 2400, \"mem_mb\": 4096, \"cpu_cores\": 8}");
    char *run = path_join(dir, "r1"), *wl = path_join(dir, "wl");
    assert_false(report_load_is_workload(run));
    struct odc_opts oo = {0};
    struct odc_write_opts wo = {.codec = PQ_CODEC_SNAPPY, .input = run, .command_line = "test"};
    struct odc_input oin;
    struct odc_result ores;
    char err[1024];
    assert_int_equal(odc_export_dir(run, wl, &oo, &wo, &oin, &ores, err, sizeof err), 0);
    odc_result_free(&ores);
    odc_input_free(&oin);
    assert_true(report_load_is_workload(wl));

    /* the workload alone */
    struct report_load_in in = {.input = wl};
    struct report_load_out out;
    assert_int_equal(report_load(&in, &out, err, sizeof err), 0);
    assert_true(out.input_is_workload && out.has_workload);
    assert_int_equal(out.run.nnodes, 0);
    assert_int_equal(out.odc.ntasks, 2);
    assert_string_equal(out.odc.title, "wl");
    report_load_free(&out);

    /* a run and its workload on one page */
    in = (struct report_load_in){.input = run, .opendc = wl};
    assert_int_equal(report_load(&in, &out, err, sizeof err), 0);
    assert_false(out.input_is_workload);
    assert_true(out.has_workload);
    assert_int_equal(out.run.ntasks, 2);
    assert_int_equal(out.odc.ntasks, 2);
    report_load_free(&out);

    /* a broken workload: the error names the file */
    put(dir, "bad/tasks.parquet", "not parquet");
    char *bad = path_join(dir, "bad");
    in = (struct report_load_in){.input = bad};
    assert_true(report_load_is_workload(bad));
    assert_int_equal(report_load(&in, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "OpenDC workload"));
    assert_non_null(strstr(err, "bad/tasks.parquet"));
    free(bad);
    free(run);
    free(wl);
    assert_int_equal(fstree_rm_rf(dir), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpuset),        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_lanes),         cmocka_unit_test(test_stats),
        cmocka_unit_test(test_gantt_exact),   cmocka_unit_test(test_gantt_binned),
        cmocka_unit_test(test_proc_bins),     cmocka_unit_test(test_util_dense_host),
        cmocka_unit_test(test_page),          cmocka_unit_test(test_load_run),
        cmocka_unit_test(test_heatmap),         cmocka_unit_test(test_power),
        cmocka_unit_test(test_load_experiment), cmocka_unit_test(test_load_workload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
