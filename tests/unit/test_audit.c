#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trace/audit.h"
#include "trace/cts.h"
#include "common/util.h"

static void test_fmt_pct(void **state)
{
    (void)state;
    char buf[32];
    audit_fmt_pct(buf, sizeof buf, 5.0 / 6.0);
    assert_string_equal(buf, "83.33%");
    audit_fmt_pct(buf, sizeof buf, 0);
    assert_string_equal(buf, "0.00%");
}

/* Everything an audit needs, built in memory. */
struct fixture {
    struct cts c;
    struct audit a;
    struct cts_inv inv[8];
    size_t ninv;
};

static void setup(struct fixture *f)
{
    struct cts_opts o;
    cts_opts_default(&o);
    cts_init(&f->c, &o);
    audit_init(&f->a);
    f->ninv = 0;
}

static void sample(struct fixture *f, int64_t ts, int64_t pid, bool has_start, int64_t start,
                   int64_t ticks, double cpu_ms)
{
    struct raw_sample s;
    memset(&s, 0, sizeof s);
    s.ts_ms = ts;
    s.pid = pid;
    s.has_rss = true;
    s.rss_kb = 50100;
    s.has_ticks = true;
    s.utime = ticks;
    if (has_start) {
        s.has_start = true;
        s.start_ticks = start;
        s.has_cpu_ms = true;
        s.cpu_ms = cpu_ms;
        s.has_mono = true;
        s.mono_us = ts > -9000000000000000 && ts < 9000000000000000 ? ts * 1000 : ts;
        s.ev = RAW_EV_TICK;
    }
    struct cts_rec r[CTS_FEED_MAX];
    size_t n = cts_feed(&f->c, &s, r);
    for (size_t i = 0; i < n; i++)
        audit_add_rec(&f->a, &r[i]);
}

static void feed_raw(struct fixture *f, const struct raw_sample *s)
{
    struct cts_rec r[CTS_FEED_MAX];
    size_t n = cts_feed(&f->c, s, r);
    for (size_t i = 0; i < n; i++)
        audit_add_rec(&f->a, &r[i]);
}

/* One of ours with run delay (negative delay: none). */
static struct raw_sample ours(int64_t ts, int64_t pid, int64_t start, double cpu, double delay)
{
    struct raw_sample s;
    memset(&s, 0, sizeof s);
    s.ts_ms = ts;
    s.pid = pid;
    s.has_start = true;
    s.start_ticks = start;
    s.has_cpu_ms = true;
    s.cpu_ms = cpu;
    s.has_mono = true;
    s.mono_us = ts * 1000;
    s.has_rss = true;
    s.rss_kb = 2000;
    s.ev = RAW_EV_TICK;
    s.has_run_delay = delay >= 0;
    s.run_delay_ms = delay;
    return s;
}

static void host(struct fixture *f, const char *json)
{
    json_t *h = json_loads(json, 0, NULL);
    assert_non_null(h);
    audit_add_host(&f->a, h);
    json_decref(h);
}

static void event(struct fixture *f, const char *json)
{
    json_t *e = json_loads(json, 0, NULL);
    assert_non_null(e);
    cts_inv_from_event(e, &f->inv[f->ninv++]);
    json_decref(e);
}

static void teardown(struct fixture *f)
{
    audit_free(&f->a);
    cts_free(&f->c);
    for (size_t i = 0; i < f->ninv; i++)
        cts_inv_free(&f->inv[i]);
}

/* The example of the original's report (upstream spec §8.1), line for line. */
static void test_original_layout(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    for (int i = 0; i < 5; i++)
        sample(&f, 1758580000000 + i * 1000, 4242, false, 0, i * 185, 0);
    event(&f, "{\"trace_id\": \"6f1c\", \"ts_enqueue\": 1758579997000, \"ts_start\": 1758579999300, "
              "\"ts_end\": 1758580004300, \"pid\": 4242, \"status\": 0}");
    event(&f, "{\"trace_id\": \"77\", \"ts_enqueue\": 1758580009000, \"ts_start\": 1758580005000, "
              "\"ts_end\": 1758580006000, \"pid\": 777, \"status\": 0}");
    struct audit_context ctx = {.run_id = "r", .node = "cloud1gxie", .stage = "cloud"};
    audit_finish(&f.a, &ctx, &f.c, f.inv, f.ninv, NULL, 0);
    struct jbuf b;
    jb_init(&b);
    audit_render_md(&f.a, &b);
    const char *want =
        "# CTS Audit Report\n"
        "Node: cloud1gxie  |  Stage: cloud\n"
        "\n"
        "## Summary\n"
        "Invocations: 2\n"
        "Proc metrics samples: 5\n"
        "Distinct PIDs (invocations): 2\n"
        "Distinct PIDs (proc_metrics): 1\n"
        "PID match rate: 50.00%\n"
        "\n"
        "## Field completeness (missing counts / rate)\n"
        "- invocations.trace_id: 0 (0.00%)\n"
        "- invocations.ts_enqueue: 0 (0.00%)\n"
        "- invocations.ts_start: 0 (0.00%)\n"
        "- invocations.ts_end: 0 (0.00%)\n"
        "- invocations.pid: 0 (0.00%)\n"
        "- proc_metrics.ts_ms: 0 (0.00%)\n"
        "- proc_metrics.pid: 0 (0.00%)\n"
        "- proc_metrics.dt_ms: 0 (0.00%)\n"
        "- proc_metrics.cpu_ms: 0 (0.00%)\n"
        "- proc_metrics.rss_kb: 0 (0.00%)\n"
        "\n"
        "## Temporal consistency\n"
        "- invocations ts_enqueue \xe2\x89\xa4 ts_start \xe2\x89\xa4 ts_end violations: 1\n"
        "- proc_metrics per-pid strictly increasing ts_ms violations: 0\n"
        "- proc_metrics records with dt_ms < 0: 0\n"
        "\n"
        "## Cross-reference\n"
        "- invocations without matching proc_metrics PID: 1\n"
        "  sample unmatched PIDs: [777]\n";
    assert_true(b.len > strlen(want));
    assert_memory_equal(b.p, want, strlen(want));
    /* our sections follow, after a blank line */
    assert_true(str_starts(b.p + strlen(want), "\n## Sampling coverage (per task)\n"));
    jb_free(&b);
    teardown(&f);
}

static void test_figures_and_limits(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    /* task A: pid 10 (start ticks 100), sampled 1100..2900 every 200 ms, 100 ms CPU each */
    for (int i = 0; i < 10; i++)
        sample(&f, 1100 + i * 200, 10, true, 100, 0, i * 100.0);
    /* task C: pid 20, event without start_ticks; one late tick */
    const int64_t ts_c[] = {1000, 1200, 1410, 1800};
    for (int i = 0; i < 4; i++)
        sample(&f, ts_c[i], 20, true, 7, 0, i * 50.0);
    /* a process no task owns */
    sample(&f, 1000, 99, true, 1, 0, 0);
    sample(&f, 1200, 99, true, 1, 0, 5);
    event(&f, "{\"trace_id\": \"A\", \"ts_enqueue\": 900, \"ts_start\": 1000, \"ts_end\": 3000, "
              "\"pid\": 10, \"start_ticks\": 100, \"status\": 0, \"cpu_user_ms\": 800, "
              "\"cpu_sys_ms\": 200}");
    event(&f, "{\"trace_id\": \"B\", \"ts_enqueue\": 3900, \"ts_start\": 4000, \"ts_end\": 5000, "
              "\"pid\": 10, \"start_ticks\": 500, \"status\": 1, \"signal\": null, "
              "\"error\": null}");
    event(&f, "{\"trace_id\": \"C\", \"ts_enqueue\": 1500, \"ts_start\": 1000, \"ts_end\": 2000, "
              "\"pid\": 20, \"status\": 0}");
    struct audit_context ctx = {.run_id = "r", .node = "n1", .stage = "cloud", .interval_ms = 200,
                                .interval_source = "node_meta.json", .has_clock_offset = true,
                                .clock_offset_ms = -2.5};
    struct audit_file files[1] = {{.name = "proc_metrics.jsonl", .lines = 17, .good = 16, .torn = 1}};
    audit_finish(&f.a, &ctx, &f.c, f.inv, f.ninv, files, 1);
    const struct audit *a = &f.a;

    assert_int_equal(a->sampled, 2);
    assert_int_equal(a->unsampled, 1);
    assert_int_equal(a->failed, 1);
    assert_int_equal(a->idents_without_task, 1);
    const struct audit_task *ta = &a->tasks[0], *tb = &a->tasks[1], *tc = &a->tasks[2];
    assert_true(ta->has_coverage && fabs(ta->coverage - 0.9) < 1e-12);
    assert_true(ta->first_delay_ms == 100 && ta->last_gap_ms == 100);
    assert_true(ta->cpu_samples_ms == 900 && fabs(ta->cpu_rel_err + 0.1) < 1e-12);
    assert_true(tb->samples == 0 && !tb->has_coverage && tb->failed);
    assert_true(tc->samples == 4 && fabs(tc->coverage - 0.8) < 1e-12 && !tc->has_cpu_err);
    assert_true(a->cov_min == 0.8 && fabs(a->cov_p50 - 0.85) < 1e-12);
    /* jitter over the 12 on-grid intervals (9 x 200, 200, 210, 390 ms) */
    assert_int_equal(a->jitter_n, 13);  /* + the orphan's 200 ms */
    assert_true(a->jitter_p50 == 0 && a->jitter_max == 190);
    assert_int_equal(a->late_ticks, 1);
    /* pid 10: one process sampled, two tasks */
    assert_int_equal(a->nreuse, 1);
    assert_true(a->reuse[0].pid == 10 && a->reuse[0].idents == 1 && a->reuse[0].tasks == 2);
    /* C has no start_ticks and leads by 500 ms: the original wrapper's
     * early ts_start (B5), not clock skew */
    assert_int_equal(a->enqueue_after_start, 0);
    assert_int_equal(a->enqueue_after_early_start, 1);
    assert_true(a->max_early_start_ms == 500);

    struct audit_limits l;
    audit_limits_default(&l);
    l.strict = true;
    l.max_unsampled = 1;
    l.min_coverage = 0.5;
    l.max_cpu_error = 0.2;
    l.max_jitter_ms = 200;
    assert_int_equal(audit_check(&f.a, &l), 0);
    assert_true(a->passed);
    l.max_unsampled = 0;
    l.min_coverage = 0.85;
    l.max_cpu_error = 0.05;
    l.max_jitter_ms = 5;
    assert_int_equal(audit_check(&f.a, &l), 4);
    assert_false(a->passed);
    assert_non_null(strstr(a->violations[0], "1 task(s) without samples"));
    assert_non_null(strstr(a->violations[1], "lowest 80.00%, C"));
    assert_non_null(strstr(a->violations[2], "worst 10.00%, A"));
    assert_non_null(strstr(a->violations[3], "tick jitter p99"));

    struct jbuf b;
    jb_init(&b);
    audit_render_md(&f.a, &b);
    assert_non_null(strstr(b.p, "## Tasks without samples\n- B: pid 10, duration 1000 ms, status 1\n"));
    assert_non_null(strstr(b.p, "## Failed tasks\n- B: pid 10, status 1, signal -\n"));
    assert_non_null(strstr(b.p, "| A | 10 | 100 | 0 | 2000 | 10 | 90.00% | 100 | 100 | 1000 | 900 | -10.00% |\n"));
    assert_non_null(strstr(b.p, "- pid 10: 1 process(es), 2 task(s)\n"));
    assert_non_null(strstr(b.p, "Clock offset of this node (from node_meta.json): -2.5 ms\n"));
    assert_non_null(strstr(b.p, "| proc_metrics.jsonl | 17 | 16 | 0 | 1 | 0 |\n"));
    assert_non_null(strstr(b.p, "Interval: 200 ms (node_meta.json)\n"));
    assert_non_null(strstr(b.p, "- FAIL: "));

    jb_reset(&b);
    audit_render_json(&f.a, &b);
    json_error_t err;
    json_t *j = json_loads(b.p, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "coverage"), "unsampled")), 1);
    json_t *un = json_object_get(j, "unsampled_tasks");
    assert_int_equal(json_array_size(un), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(un, 0), "trace_id")), "B");
    json_t *jit = json_object_get(j, "jitter");
    assert_true(json_number_value(json_object_get(jit, "max_ms")) == 190);
    assert_true(json_number_value(json_object_get(jit, "interval_ms")) == 200);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(j, "skipped_lines"), 0), "torn")), 1);
    assert_true(json_is_false(json_object_get(json_object_get(j, "strict"), "passed")));
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "strict"), "violations")), 4);
    json_t *tasks = json_object_get(j, "tasks");
    assert_true(json_real_value(json_object_get(json_array_get(tasks, 0), "coverage")) == 0.9);
    json_decref(j);
    jb_free(&b);
    teardown(&f);
}

/* Issue #14: run delay per task, the host's busy CPU the traced processes
 * explain, the exit source; #18 item 15: the hint for processes no task claims. */
static void test_accounting(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    /* host: two intervals, 0..1000 and 1000..2000, 40% busy of 2 cores;
     * a repeated line and a memory-only line do not count; the original's
     * cpu_util line takes its dt from the previous line */
    host(&f, "{\"ts_ms\": 1000, \"dt_ms\": 1000, \"cpu_idle\": 0.5, \"cpu_iowait\": 0.1}");
    host(&f, "{\"ts_ms\": 1000, \"dt_ms\": 1000, \"cpu_idle\": 0.5, \"cpu_iowait\": 0.1}");
    host(&f, "{\"ts_ms\": 1500, \"mem_free_mb\": 100}");
    host(&f, "{\"ts_ms\": 2000, \"cpu_util\": 40}");
    for (int i = 0; i < 6; i++) {
        struct raw_sample s = ours(1000 + i * 200, 10, 100, i * 100.0, i * 25.0);
        feed_raw(&f, &s);
    }
    /* task B: no run delay; one interval 1900..2100, half inside the host's span */
    struct raw_sample s = ours(1900, 20, 7, 0, -1);
    feed_raw(&f, &s);
    s = ours(2100, 20, 7, 100, -1);
    feed_raw(&f, &s);
    /* task C: only its exit record, 100 ms long: waited 50% */
    s = ours(1500, 30, 300, 50, 50);
    s.ev = RAW_EV_EXIT;
    s.taskstats = true;
    s.has_elapsed = true;
    s.elapsed_ms = 100;
    s.has_rss = false;
    s.has_rss_peak = true;
    s.rss_peak_kb = 4321;
    feed_raw(&f, &s);
    /* a process no task claims */
    s = ours(1000, 99, 1, 0, -1);
    feed_raw(&f, &s);
    s = ours(1200, 99, 1, 0, -1);
    feed_raw(&f, &s);
    event(&f, "{\"trace_id\": \"A\", \"ts_start\": 1000, \"ts_end\": 2000, \"pid\": 10, \"start_ticks\": 100}");
    event(&f, "{\"trace_id\": \"B\", \"ts_start\": 1900, \"ts_end\": 2100, \"pid\": 20, \"start_ticks\": 7}");
    event(&f, "{\"trace_id\": \"C\", \"ts_start\": 1400, \"ts_end\": 1500, \"pid\": 30, \"start_ticks\": 300}");
    struct audit_context ctx = {.run_id = "r", .node = "n", .stage = "s", .cpu_cores = 2,
                                .collector_mode = "scan", .exit_source = "taskstats"};
    audit_finish(&f.a, &ctx, &f.c, f.inv, f.ninv, NULL, 0);
    const struct audit *a = &f.a;
    const struct audit_task *ta = &a->tasks[0], *tb = &a->tasks[1], *tc = &a->tasks[2];
    assert_true(ta->has_delay && ta->delay_ms == 125 && ta->wait_pct == 20);
    assert_true(!tb->has_delay && isnan(tb->wait_pct));
    assert_true(tc->has_delay && tc->delay_ms == 50 && tc->wait_pct == 50 && tc->samples == 2);
    assert_true(tc->has_rss && tc->max_rss_kb == 4321 && ta->max_rss_kb == 2000);
    assert_int_equal(a->tasks_with_delay, 2);
    assert_true(a->wait_p50 == 35 && a->wait_max == 50 && a->wait_worst == 2);
    /* host: 0.4 x 2000 ms x 2 cores = 1600 ms busy; traced 500 (A) + 50 (half of B) + 50 (C) */
    assert_int_equal(a->host_samples, 2);
    assert_true(a->host_window_ms == 2000 && a->host_busy_ms == 1600);
    assert_true(a->traced_cpu_ms == 600 && a->explained_pct == 37.5 && a->host_warning);
    assert_int_equal(a->idents_without_task, 1);

    struct jbuf b;
    jb_init(&b);
    audit_render_md(&f.a, &b);
    assert_non_null(strstr(b.p, "## Waiting for a CPU (run delay)\n"));
    assert_non_null(strstr(b.p, "Wait p50 / max: 35.00% / 50.00% (worst: C)\n"));
    assert_non_null(strstr(b.p, "Worst tasks:\n- C: waited for a CPU 50.00% of the time it was runnable "
                                "(50 ms of 100 ms)\n- A: waited for a CPU 20.00% of the time it was "
                                "runnable (125 ms of 625 ms)\n"));
    assert_non_null(strstr(b.p, "traced CPU explains 37.50% of the host's busy CPU\nWARNING: below 80%"));
    assert_non_null(strstr(b.p, "Exit source: taskstats"));
    assert_non_null(strstr(b.p, "Kernel exit records used: 1; processes seen only in their exit record: 1\n"));
    assert_non_null(strstr(b.p, "Sampled processes not belonging to any task: 1\nHint: in scan mode"));
    assert_non_null(strstr(b.p, "`tracekit exec`"));

    jb_reset(&b);
    audit_render_json(&f.a, &b);
    json_t *j = json_loads(b.p, 0, NULL);
    assert_non_null(j);
    json_t *rd = json_object_get(j, "run_delay"), *hc = json_object_get(j, "host_cpu"),
           *ex = json_object_get(j, "exits");
    assert_int_equal(json_integer_value(json_object_get(rd, "tasks_with_delay")), 2);
    assert_true(json_number_value(json_object_get(rd, "wait_pct_p50")) == 35);
    assert_string_equal(json_string_value(json_object_get(rd, "worst_trace_id")), "C");
    assert_true(json_number_value(json_object_get(hc, "host_busy_cpu_ms")) == 1600);
    assert_true(json_number_value(json_object_get(hc, "traced_cpu_ms")) == 600);
    assert_true(json_number_value(json_object_get(hc, "explained_pct")) == 37.5);
    assert_true(json_is_true(json_object_get(hc, "warning")));
    assert_string_equal(json_string_value(json_object_get(ex, "exit_source")), "taskstats");
    assert_int_equal(json_integer_value(json_object_get(ex, "processes_only_in_exit_record")), 1);
    json_t *t0 = json_array_get(json_object_get(j, "tasks"), 0), *t1 = json_array_get(json_object_get(j, "tasks"), 1);
    assert_true(json_number_value(json_object_get(t0, "run_delay_ms")) == 125);
    assert_true(json_number_value(json_object_get(t0, "wait_pct")) == 20);
    assert_true(json_is_null(json_object_get(t1, "run_delay_ms")) && json_is_null(json_object_get(t1, "wait_pct")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "coverage"), "collector_mode")), "scan");
    json_decref(j);
    jb_free(&b);
    teardown(&f);

    /* nothing known: no run delay, no host samples, the proc exit source, no hint outside scan mode */
    setup(&f);
    sample(&f, 1000, 5, true, 1, 0, 0);
    sample(&f, 1200, 5, true, 1, 0, 10);
    struct audit_context ctx2 = {.run_id = "r", .node = "n", .stage = "s", .cpu_cores = 2,
                                 .collector_mode = "whitelist", .exit_source = "proc"};
    audit_finish(&f.a, &ctx2, &f.c, NULL, 0, NULL, 0);
    jb_init(&b);
    audit_render_md(&f.a, &b);
    assert_non_null(strstr(b.p, "Run delay: unknown"));
    assert_non_null(strstr(b.p, "traced CPU explains: unknown (no host samples)\n"));
    assert_non_null(strstr(b.p, "Exit source: proc (final readings race the parent's reap; processes "
                                "shorter than one interval may be missing)\n"));
    assert_null(strstr(b.p, "Hint:"));
    assert_null(strstr(b.p, "WARNING"));
    jb_reset(&b);
    audit_render_json(&f.a, &b);
    j = json_loads(b.p, 0, NULL);
    hc = json_object_get(j, "host_cpu");
    assert_true(json_is_null(json_object_get(hc, "explained_pct")) && json_is_false(json_object_get(hc, "warning")));
    assert_true(json_is_null(json_object_get(json_object_get(j, "run_delay"), "wait_pct_max")));
    json_decref(j);
    jb_free(&b);
    teardown(&f);
}

/* Without a known interval the jitter is measured against the median dt. */
static void test_interval_from_median(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    const int64_t ts[] = {0, 100, 200, 300, 420, 520};
    for (int i = 0; i < 6; i++)
        sample(&f, ts[i], 5, true, 1, 0, i * 10.0);
    struct audit_context ctx = {.run_id = "r", .node = "n", .stage = "s"};
    audit_finish(&f.a, &ctx, &f.c, NULL, 0, NULL, 0);
    assert_true(f.a.interval_used == 100);
    assert_string_equal(f.a.interval_used_source, "median dt");
    assert_true(f.a.jitter_max == 20 && f.a.jitter_p50 == 0);
    assert_int_equal(f.a.late_ticks, 0);
    teardown(&f);
}

/* Values from files can be anything: no overflow (UBSan aborts on one). */
static void test_extreme_values(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    sample(&f, INT64_MIN, 1, false, 0, INT64_MAX, 0);
    sample(&f, INT64_MAX, 1, false, 0, INT64_MAX, 0);
    sample(&f, INT64_MIN, 1, true, INT64_MAX, 0, 0);
    sample(&f, INT64_MAX, 1, true, INT64_MAX, 0, 1e300);
    struct raw_sample s;
    memset(&s, 0, sizeof s);
    s.ts_ms = 0;
    s.pid = 2;
    s.has_ticks = true;
    s.utime = s.stime = INT64_MAX;
    s.has_mono = true;
    s.mono_us = INT64_MIN;
    struct cts_rec r[CTS_FEED_MAX];
    cts_feed(&f.c, &s, r);
    s.utime = INT64_MIN;
    s.mono_us = INT64_MAX;
    cts_feed(&f.c, &s, r);
    event(&f, "{\"trace_id\": \"x\", \"ts_enqueue\": 9223372036854775807, "
              "\"ts_start\": -9223372036854775808, \"ts_end\": 9223372036854775807, \"pid\": 1}");
    struct audit_context ctx = {.run_id = "r", .node = "n", .stage = "s"};
    audit_finish(&f.a, &ctx, &f.c, f.inv, f.ninv, NULL, 0);
    struct jbuf b;
    jb_init(&b);
    audit_render_md(&f.a, &b);
    audit_render_json(&f.a, &b);
    jb_free(&b);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_pct),
        cmocka_unit_test(test_original_layout),
        cmocka_unit_test(test_figures_and_limits),
        cmocka_unit_test(test_accounting),
        cmocka_unit_test(test_interval_from_median),
        cmocka_unit_test(test_extreme_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
