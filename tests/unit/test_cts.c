#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/cts.h"
#include "common/util.h"

/* A raw sample with CPU from ticks (no start_ticks, no mono: the original's). */
static struct raw_sample orig(int64_t ts, int64_t pid, int64_t ticks)
{
    struct raw_sample s;
    memset(&s, 0, sizeof s);
    s.ts_ms = ts;
    s.pid = pid;
    s.has_ticks = true;
    s.utime = ticks;
    s.has_rss = true;
    s.rss_kb = 1000;
    return s;
}

/* One of ours: start_ticks, cpu_ms, mono_us. */
static struct raw_sample ours(int64_t ts, int64_t mono_ms, int64_t pid, int64_t start, double cpu_ms)
{
    struct raw_sample s = orig(ts, pid, 0);
    s.has_ticks = false;
    s.has_start = true;
    s.start_ticks = start;
    s.has_cpu_ms = true;
    s.cpu_ms = cpu_ms;
    s.has_mono = true;
    s.mono_us = mono_ms * 1000;
    s.ev = RAW_EV_TICK;
    return s;
}

struct run {
    struct cts c;
    struct cts_rec recs[32];
    int n;
};

static void start(struct run *r, double clk_tck)
{
    struct cts_opts o;
    cts_opts_default(&o);
    o.clk_tck = clk_tck;
    cts_init(&r->c, &o);
    r->n = 0;
}

static void feed(struct run *r, struct raw_sample s)
{
    struct cts_rec rec[CTS_FEED_MAX];
    size_t n = cts_feed(&r->c, &s, rec);
    for (size_t i = 0; i < n; i++)
        r->recs[r->n++] = rec[i];
}

static double cpu_total(const struct run *r)
{
    double t = 0;
    for (int i = 0; i < r->n; i++)
        t += r->recs[i].cpu_ms;
    return t;
}

static void test_baseline_and_ticks(void **state)
{
    (void)state;
    struct run r;
    start(&r, 100);
    feed(&r, orig(1000, 7, 10));
    feed(&r, orig(2000, 7, 195));
    feed(&r, orig(3000, 7, 295));
    assert_int_equal(r.n, 3);
    assert_true(r.recs[0].baseline && r.recs[0].dt_ms == 0 && r.recs[0].cpu_ms == 0);
    assert_true(r.recs[1].dt_ms == 1000 && r.recs[1].cpu_ms == 1850);
    assert_true(r.recs[2].cpu_ms == 1000);
    assert_int_equal(r.c.nids, 1);
    assert_true(r.c.ids[0].cpu_sum_ms == 2850 && r.c.ids[0].records == 3);
    assert_true(r.c.ids[0].first_ts_ms == 1000 && r.c.ids[0].end_ts_ms == 3000);
    /* the baseline keeps the CPU used before it: 10 ticks since the start */
    assert_true(r.recs[0].has_before && r.recs[0].cpu_before_ms == 100);
    assert_false(r.recs[1].has_before);
    struct jbuf b;
    jb_init(&b);
    cts_rec_json(&b, &r.recs[0]);
    assert_non_null(strstr(b.p, "\"cpu_ms\": 0, \"cpu_before_ms\": 100, \"rss_kb\""));
    jb_reset(&b);
    cts_rec_json(&b, &r.recs[1]);
    assert_null(strstr(b.p, "cpu_before_ms"));
    jb_free(&b);
    cts_free(&r.c);

    /* another USER_HZ */
    start(&r, 250);
    feed(&r, orig(1000, 7, 0));
    feed(&r, orig(2000, 7, 125));
    assert_true(r.recs[1].cpu_ms == 500);
    cts_free(&r.c);
}

static void test_cpu_ms_wins_over_ticks(void **state)
{
    (void)state;
    struct run r;
    start(&r, 100);
    struct raw_sample a = orig(1000, 7, 0), b = orig(1200, 7, 100);
    a.has_cpu_ms = b.has_cpu_ms = true;
    a.cpu_ms = 0.5;
    b.cpu_ms = 123.625;  /* exact schedstat, not 100 ticks */
    feed(&r, a);
    feed(&r, b);
    assert_true(fabs(r.recs[1].cpu_ms - 123.125) < 1e-9);
    cts_free(&r.c);
}

/* Same timestamp twice: no dt 0 record, and its CPU is carried. */
static void test_equal_timestamps_keep_cpu(void **state)
{
    (void)state;
    struct run r;
    start(&r, 100);
    feed(&r, orig(1000, 7, 0));
    feed(&r, orig(2000, 7, 10));
    feed(&r, orig(2000, 7, 15));  /* a duplicate sampler, or a coarse clock */
    feed(&r, orig(3000, 7, 30));
    assert_int_equal(r.n, 3);
    assert_int_equal(r.c.merged, 1);
    for (int i = 1; i < r.n; i++)
        assert_true(r.recs[i].dt_ms > 0);
    assert_true(r.recs[1].cpu_ms == 100 && r.recs[2].cpu_ms == 200);
    assert_true(cpu_total(&r) == 300);  /* all 30 ticks */
    cts_finish(&r.c);
    assert_true(r.c.cpu_carried_ms == 0);
    /* a folded sample at the very end: its CPU is reported, not lost */
    feed(&r, orig(3000, 7, 32));
    cts_finish(&r.c);
    assert_true(r.c.cpu_carried_ms == 20);
    cts_free(&r.c);

    /* with mono_us too */
    start(&r, 100);
    feed(&r, ours(1000, 50, 7, 9, 0));
    feed(&r, ours(1001, 50, 7, 9, 4));
    feed(&r, ours(1200, 250, 7, 9, 40));
    assert_int_equal(r.n, 2);
    assert_true(r.recs[1].dt_ms == 200 && r.recs[1].cpu_ms == 40);
    cts_free(&r.c);
}

/* The wall clock steps: intervals come from mono_us when there is one; without
 * it a backwards step restarts the interval and keeps the CPU. */
static void test_wall_clock_step(void **state)
{
    (void)state;
    struct run r;
    start(&r, 100);
    feed(&r, ours(1000, 100, 7, 9, 0));
    feed(&r, ours(1200, 300, 7, 9, 20));
    feed(&r, ours(1200 - 3600000, 500, 7, 9, 40));  /* NTP stepped back an hour */
    feed(&r, ours(1200 + 3600000, 700, 7, 9, 60));  /* and forward two */
    assert_int_equal(r.n, 4);
    for (int i = 1; i < 4; i++)
        assert_true(r.recs[i].dt_ms == 200 && r.recs[i].cpu_ms == 20);
    assert_int_equal(r.c.wall_steps, 2);
    assert_int_equal(r.c.steps_back, 0);
    cts_free(&r.c);

    start(&r, 100);
    feed(&r, orig(10000, 7, 0));
    feed(&r, orig(11000, 7, 10));
    feed(&r, orig(5000, 7, 20));   /* stepped back: no record */
    feed(&r, orig(6000, 7, 30));
    assert_int_equal(r.n, 3);
    assert_int_equal(r.c.steps_back, 1);
    assert_true(r.recs[2].dt_ms == 1000 && r.recs[2].cpu_ms == 200);  /* both intervals' CPU */
    assert_true(cpu_total(&r) == 300);
    cts_free(&r.c);
}

/* PID reuse: by start_ticks when present, else by counters going backwards
 * or a new comm after a pause. */
static void test_pid_reuse(void **state)
{
    (void)state;
    struct run r;
    start(&r, 100);
    feed(&r, ours(1000, 100, 7, 500, 0));
    feed(&r, ours(1200, 300, 7, 500, 100));
    feed(&r, ours(5000, 4100, 7, 900, 3));     /* another process, same PID */
    feed(&r, ours(5200, 4300, 7, 900, 50));
    assert_int_equal(r.c.nids, 2);
    assert_true(r.recs[2].baseline && r.recs[2].cpu_ms == 0 && r.recs[2].ident == 1);
    assert_true(r.recs[3].cpu_ms == 47);
    assert_true(r.c.ids[0].start_ticks == 500 && r.c.ids[1].start_ticks == 900);
    cts_free(&r.c);

    /* original lines: the counter resets */
    start(&r, 100);
    feed(&r, orig(1000, 7, 0));
    feed(&r, orig(2000, 7, 500));
    feed(&r, orig(3000, 7, 20));   /* fewer ticks than before: a new process */
    feed(&r, orig(4000, 7, 70));
    assert_int_equal(r.c.nids, 2);
    assert_int_equal(r.c.splits, 1);
    assert_true(r.recs[2].baseline && r.recs[3].cpu_ms == 500);
    assert_true(r.c.ids[0].cpu_sum_ms == 5000 && r.c.ids[1].cpu_sum_ms == 500);
    cts_free(&r.c);

    /* comm changes: right after exec (no pause) it is the same process,
     * after a pause longer than gap_ms it is not */
    start(&r, 100);
    struct raw_sample s = orig(1000, 7, 0);
    s.has_comm = true;
    strcpy(s.comm, "systemd-run");
    feed(&r, s);
    s = orig(1200, 7, 5);
    s.has_comm = true;
    strcpy(s.comm, "ffmpeg");
    feed(&r, s);
    assert_int_equal(r.c.nids, 1);
    s = orig(9000, 7, 50);
    s.has_comm = true;
    strcpy(s.comm, "python3");
    feed(&r, s);
    assert_int_equal(r.c.nids, 2);
    cts_free(&r.c);
}

static void test_missing_fields(void **state)
{
    (void)state;
    struct run r;
    start(&r, 100);
    struct raw_sample s = orig(1000, 7, 0);
    s.has_ticks = false;
    s.has_rss = false;
    feed(&r, s);       /* no counters at all */
    feed(&r, orig(2000, 7, 10));
    feed(&r, orig(3000, 7, 30));
    assert_int_equal(r.n, 3);
    assert_false(r.recs[0].has_dt);
    assert_int_equal(r.c.no_cpu, 1);
    assert_true(r.recs[1].baseline);
    assert_true(r.recs[2].cpu_ms == 200);

    struct jbuf b;
    jb_init(&b);
    cts_rec_json(&b, &r.recs[0]);
    assert_string_equal(b.p, "{\"ts_ms\": 1000, \"pid\": 7, \"dt_ms\": null, \"cpu_ms\": null, "
                             "\"rss_kb\": null, \"start_ticks\": null}");
    jb_reset(&b);
    cts_rec_json(&b, &r.recs[2]);
    assert_string_equal(b.p, "{\"ts_ms\": 3000, \"pid\": 7, \"dt_ms\": 1000, \"cpu_ms\": 200, "
                             "\"rss_kb\": 1000, \"start_ticks\": null}");
    cts_free(&r.c);

    start(&r, 100);
    s = ours(1000, 100, 7, 9, 0);
    strcpy(s.comm, "ffmpeg");
    s.has_comm = true;
    struct cts_rec rec[CTS_FEED_MAX];
    assert_int_equal(cts_feed(&r.c, &s, rec), 1);
    s.ts_ms = 1200;
    s.mono_us = 300250;
    s.cpu_ms = 12.5;
    assert_int_equal(cts_feed(&r.c, &s, rec), 1);
    jb_reset(&b);
    cts_rec_json(&b, &rec[0]);  /* rec.comm points into s */
    assert_string_equal(b.p, "{\"ts_ms\": 1200, \"pid\": 7, \"dt_ms\": 200.25, \"cpu_ms\": 12.5, "
                             "\"rss_kb\": 1000, \"start_ticks\": 9, \"comm\": \"ffmpeg\"}");
    jb_free(&b);
    cts_free(&r.c);
}

/* cpu_ms switching source can dip: hold the high-water mark, never negative. */
static void test_cpu_dip(void **state)
{
    (void)state;
    struct run r;
    start(&r, 100);
    feed(&r, ours(1000, 100, 7, 9, 1000));
    feed(&r, ours(1200, 300, 7, 9, 990));
    feed(&r, ours(1400, 500, 7, 9, 1100));
    assert_int_equal(r.c.cpu_dips, 1);
    assert_int_equal(r.c.nids, 1);
    assert_true(r.recs[1].cpu_ms == 0 && r.recs[2].cpu_ms == 100);
    cts_free(&r.c);
}

/* One of ours with run delay. */
static struct raw_sample delayed(int64_t ts, int64_t pid, double cpu_ms, double delay_ms)
{
    struct raw_sample s = ours(ts, ts - 1000, pid, 9, cpu_ms);
    s.has_run_delay = true;
    s.run_delay_ms = delay_ms;
    return s;
}

/* run_delay_ms per interval: a difference like CPU, held at the high-water
 * mark, written only when both ends had it. */
static void test_run_delay(void **state)
{
    (void)state;
    struct run r;
    start(&r, 100);
    feed(&r, delayed(1000, 7, 0, 5));
    feed(&r, delayed(1200, 7, 100, 25.5));
    feed(&r, delayed(1400, 7, 200, 20));          /* dips: held */
    feed(&r, delayed(1600, 7, 300, 40));
    feed(&r, ours(1800, 800, 7, 9, 400));         /* no run delay: unknown */
    feed(&r, delayed(2000, 7, 500, 60));          /* start had none: unknown */
    feed(&r, delayed(2200, 7, 600, 61.25));
    assert_int_equal(r.n, 7);
    assert_true(r.recs[0].baseline && r.recs[0].has_delay && r.recs[0].delay_ms == 0);
    assert_true(r.recs[1].has_delay && r.recs[1].delay_ms == 20.5);
    assert_true(r.recs[2].has_delay && r.recs[2].delay_ms == 0);
    assert_true(r.recs[3].has_delay && r.recs[3].delay_ms == 14.5);  /* from 25.5, not 20 */
    assert_false(r.recs[4].has_delay);
    assert_false(r.recs[5].has_delay);
    assert_true(r.recs[6].has_delay && r.recs[6].delay_ms == 1.25);
    assert_int_equal(r.c.delay_dips, 1);
    const struct cts_ident *id = &r.c.ids[0];
    assert_int_equal(id->delay_records, 4);
    assert_true(id->delay_sum_ms == 36.25 && id->delay_cpu_ms == 400);

    struct jbuf b;
    jb_init(&b);
    cts_rec_json(&b, &r.recs[1]);
    assert_string_equal(b.p, "{\"ts_ms\": 1200, \"pid\": 7, \"dt_ms\": 200, \"cpu_ms\": 100, "
                             "\"run_delay_ms\": 20.5, \"rss_kb\": 1000, \"start_ticks\": 9}");
    jb_reset(&b);
    cts_rec_json(&b, &r.recs[0]);
    assert_string_equal(b.p, "{\"ts_ms\": 1000, \"pid\": 7, \"dt_ms\": 0, \"cpu_ms\": 0, "
                             "\"run_delay_ms\": 0, \"rss_kb\": 1000, \"start_ticks\": 9}");
    jb_free(&b);
    cts_free(&r.c);

    /* a folded sample's delay lands in the next record, like its CPU */
    start(&r, 100);
    feed(&r, delayed(1000, 7, 0, 0));
    feed(&r, delayed(1000, 7, 10, 3));
    feed(&r, delayed(1200, 7, 20, 8));
    assert_int_equal(r.n, 2);
    assert_true(r.recs[1].delay_ms == 8 && r.recs[1].cpu_ms == 20);
    cts_free(&r.c);
}

/* The kernel's exit record of a process never sampled. */
static struct raw_sample exit_rec(int64_t ts, int64_t pid, int64_t start, double cpu, double delay,
                                  double elapsed)
{
    struct raw_sample s = ours(ts, ts - 1000, pid, start, cpu);
    s.has_rss = false;
    s.ev = RAW_EV_EXIT;
    s.taskstats = true;
    s.has_run_delay = true;
    s.run_delay_ms = delay;
    s.has_elapsed = true;
    s.elapsed_ms = elapsed;
    s.has_rss_peak = true;
    s.rss_peak_kb = 1368;
    return s;
}

static void test_exit_only_process(void **state)
{
    (void)state;
    struct run r;
    start(&r, 100);
    feed(&r, exit_rec(5000, 42, 77, 30.835, 0.079, 31.024));
    assert_int_equal(r.n, 2);
    const struct cts_rec *b0 = &r.recs[0], *b1 = &r.recs[1];
    assert_true(b0->baseline && b0->ts_ms == 5000 - 31 && b0->dt_ms == 0 && b0->cpu_ms == 0);
    assert_true(b0->has_delay && b0->delay_ms == 0 && !b0->has_rss && b0->start_ticks == 77);
    assert_true(!b1->baseline && b1->ts_ms == 5000 && b1->dt_ms == 31.024);
    assert_true(b1->cpu_ms == 30.835 && b1->has_delay && b1->delay_ms == 0.079 && !b1->on_grid);
    assert_int_equal(r.c.exit_only, 1);
    assert_int_equal(r.c.exit_records, 1);
    const struct cts_ident *id = &r.c.ids[0];
    assert_true(id->exit_only && id->records == 2 && id->first_ts_ms == 4969 && id->end_ts_ms == 5000);
    assert_true(id->cpu_sum_ms == 30.835 && id->has_rss && id->max_rss_kb == 1368);
    assert_true(id->delay_records == 1 && id->delay_sum_ms == 0.079);
    /* nothing after it counts */
    feed(&r, ours(5200, 4200, 42, 77, 50));
    assert_int_equal(r.n, 2);
    assert_int_equal(r.c.after_exit, 1);
    cts_free(&r.c);

    /* a sub-millisecond life: the baseline is still 1 ms earlier */
    start(&r, 100);
    feed(&r, exit_rec(5000, 43, 78, 0.3, 0, 0.4));
    assert_int_equal(r.n, 2);
    assert_true(r.recs[0].ts_ms == 4999 && r.recs[1].dt_ms == 0.4 && r.recs[1].cpu_ms == 0.3);
    cts_free(&r.c);

    /* sampled before: the exit record is the last interval, and the peak RSS counts */
    start(&r, 100);
    feed(&r, delayed(1000, 7, 0, 0));
    struct raw_sample e = exit_rec(1150, 7, 9, 40, 2, 1500);
    e.mono_us = 150000;
    feed(&r, e);
    assert_int_equal(r.n, 2);
    assert_true(r.recs[1].dt_ms == 150 && r.recs[1].cpu_ms == 40 && r.recs[1].delay_ms == 2);
    assert_int_equal(r.c.exit_only, 0);
    assert_true(r.c.ids[0].max_rss_kb == 1368);
    cts_free(&r.c);

    /* without elapsed_ms (or a /proc exit reading) it is a plain baseline */
    start(&r, 100);
    e = exit_rec(5000, 44, 79, 30, 1, 0);
    e.has_elapsed = false;
    feed(&r, e);
    e = exit_rec(5000, 45, 80, 30, 1, 0);   /* elapsed 0: no interval to make */
    feed(&r, e);
    e = exit_rec(5000, 46, 81, 30, 1, 20);
    e.taskstats = false;
    feed(&r, e);
    assert_int_equal(r.n, 3);
    for (int i = 0; i < 3; i++)
        assert_true(r.recs[i].baseline);
    assert_int_equal(r.c.exit_only, 0);
    cts_free(&r.c);
}

static void test_fmt_ms(void **state)
{
    (void)state;
    const double v[] = {0, 1000, 1000.2, 0.125, 1850.0004, -1.5, 0.0005, 81234.5678, 12.1};
    const char *w[] = {"0", "1000", "1000.2", "0.125", "1850", "-1.5", "0.001", "81234.568", "12.1"};
    char buf[32];
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        assert_int_equal(cts_fmt_ms(buf, v[i]), strlen(w[i]));
        assert_string_equal(buf, w[i]);
    }
    size_t len = cts_fmt_ms(buf, -1e300);
    assert_int_equal(len, strlen(buf));
    assert_true(strtod(buf, NULL) == -1e300);
}

static void test_events_sort_and_invocation(void **state)
{
    (void)state;
    const char *src[] = {
        "{\"trace_id\": \"c\", \"ts_enqueue\": 300, \"pid\": 1}",
        "{\"trace_id\": \"a\", \"ts_enqueue\": 0, \"ts_start\": 100, \"pid\": 9}",
        "{\"trace_id\": \"b\", \"ts_enqueue\": 100, \"pid\": 2}",
        "{\"trace_id\": \"d\", \"ts_enqueue\": 100, \"pid\": 2}",
        "{\"trace_id\": \"e\"}",
    };
    json_t *ev[5];
    for (int i = 0; i < 5; i++)
        ev[i] = json_loads(src[i], 0, NULL);
    cts_events_sort(ev, 5);
    /* no time sorts first; a's ts_enqueue 0 is falsy so its ts_start counts;
     * then by pid; b before d (stable) */
    const char *want = "ebdac";
    for (int i = 0; i < 5; i++)
        assert_int_equal(json_string_value(json_object_get(ev[i], "trace_id"))[0], want[i]);
    cts_event_defaults(ev[0], "n1", "edge");
    assert_string_equal(json_string_value(json_object_get(ev[0], "node")), "n1");
    for (int i = 0; i < 5; i++)
        json_decref(ev[i]);

    json_t *e = json_loads(
        "{\"trace_id\": \"t\", \"span_id\": null, \"module_id\": \"ffmpeg\", \"ts_enqueue\": 1, "
        "\"ts_start\": 2, \"ts_end\": 5, \"node\": \"n\", \"stage\": \"cloud\", \"pid\": 42, "
        "\"cpuset\": \"0-3\", \"status\": 137, \"start_ticks\": 99, \"signal\": 9, "
        "\"cpu_user_ms\": 1200.5, \"cpu_sys_ms\": 99.5, \"max_rss_kb\": 5000, \"app\": \"ffmpeg\", "
        "\"cpu_units\": 2, \"cpu_binding\": \"exclusive\", \"cpuset_applied\": \"2-3\", "
        "\"cpu_weight_applied\": null, \"attempt\": 1, \"error\": null}",
        0, NULL);
    struct jbuf b;
    jb_init(&b);
    cts_inv_json(&b, e, NAN);
    assert_string_equal(b.p,
                        "{\"trace_id\": \"t\", \"pid\": 42, \"ts_enqueue\": 1, \"ts_start\": 2, "
                        "\"ts_end\": 5, \"node\": \"n\", \"stage\": \"cloud\", \"status\": 137, "
                        "\"signal\": 9, \"start_ticks\": 99, \"attempt\": 1, \"cpu_user_ms\": 1200.5, "
                        "\"cpu_sys_ms\": 99.5, \"max_rss_kb\": 5000, \"cpu_units\": 2, "
                        "\"cpuset\": \"2-3\", \"cpu_weight\": null, \"cpu_binding\": \"exclusive\", "
                        "\"app\": \"ffmpeg\", \"error\": null}");
    struct cts_inv inv;
    cts_inv_from_event(e, &inv);
    assert_true(inv.has_pid && inv.pid == 42 && inv.has_start_ticks && inv.start_ticks == 99);
    assert_true(inv.has_cpu && inv.cpu_exact_ms == 1300);
    assert_true(cts_inv_failed(&inv));
    assert_false(inv.miss_trace_id || inv.miss_enqueue || inv.miss_pid);
    cts_inv_free(&inv);
    json_decref(e);

    /* the original's 19 keys: nothing ours, status 0, not failed */
    e = json_loads("{\"trace_id\": null, \"ts_enqueue\": 1, \"ts_start\": 2.7, \"pid\": 4, "
                   "\"status\": 0, \"cpuset\": null}",
                   0, NULL);
    cts_inv_from_event(e, &inv);
    assert_true(inv.miss_trace_id && inv.miss_end && !inv.miss_start);
    assert_true(inv.has_start && inv.ts_start == 2);
    assert_false(cts_inv_failed(&inv) || inv.has_cpu || inv.has_start_ticks);
    cts_inv_free(&inv);
    json_decref(e);

    /* HTTP requests (tracekit proxy): a 404 is served, a 5xx or an error failed;
     * the invocation carries what the request was */
    static const struct { const char *json; bool failed; } http[] = {
        {"{\"kind\": \"http\", \"status\": 404, \"method\": \"GET\", \"path\": \"/x\", \"error\": null}", false},
        {"{\"kind\": \"http\", \"status\": 503, \"error\": null}", true},
        {"{\"kind\": \"http\", \"status\": 499, \"error\": \"client closed\"}", true},
    };
    for (size_t i = 0; i < ARRAY_LEN(http); i++) {
        e = json_loads(http[i].json, 0, NULL);
        cts_inv_from_event(e, &inv);
        assert_true(inv.http);
        assert_int_equal(cts_inv_failed(&inv), http[i].failed);
        cts_inv_free(&inv);
        if (i == 0) {
            jb_reset(&b);
            cts_inv_json(&b, e, NAN);
            assert_non_null(strstr(b.p, "\"error\": null, \"kind\": \"http\", \"method\": \"GET\", "
                                        "\"path\": \"/x\", \"bytes_in\": null, \"bytes_out\": null, \"dur_us\": null}"));
        }
        json_decref(e);
    }
    jb_free(&b);
}

static void test_nodes_json(void **state)
{
    (void)state;
    json_t *meta = json_loads(
        "{\"run_id\": \"r\", \"node\": \"cloud1\", \"stage\": \"cloud\", \"host\": \"h1\", "
        "\"iface\": \"ens2\", \"cpu_cores\": 4, \"mem_mb\": 15997, \"cpu_model\": \"QEMU\", "
        "\"cpu_freq_mhz\": 2399, \"boot_id\": \"b-1\", \"clk_tck\": 100, \"clock_offset_ms\": 1.25}",
        0, NULL);
    json_t *arr = json_array();
    json_array_append_new(arr, cts_node_entry(meta, "ignored", "ignored"));
    struct jbuf b;
    jb_init(&b);
    cts_pretty_json(&b, arr);
    assert_string_equal(b.p, "[\n  {\n    \"node_id\": \"cloud1\",\n    \"stage\": \"cloud\",\n"
                             "    \"cpu_cores\": 4,\n    \"mem_mb\": 15997,\n    \"cpu_model\": \"QEMU\",\n"
                             "    \"cpu_freq_mhz\": 2399,\n    \"host\": \"h1\",\n    \"boot_id\": \"b-1\",\n"
                             "    \"clk_tck\": 100,\n    \"run_id\": \"r\",\n"
                             "    \"clock_offset_ms\": 1.25\n  }\n]");
    json_decref(arr);
    json_decref(meta);

    /* no node_meta.json: the fallbacks, raw nulls */
    json_t *e = cts_node_entry(NULL, "n2", "edge");
    jb_reset(&b);
    jb_json(&b, NULL, e);
    assert_string_equal(b.p, "{\"node_id\": \"n2\", \"stage\": \"edge\", \"cpu_cores\": null, "
                             "\"mem_mb\": null, \"cpu_model\": null, \"cpu_freq_mhz\": null}");
    json_decref(e);
    jb_free(&b);
}

/* clock.jsonl: the latest record of the node; one other node stands in */
static void test_clock_latest(void **state)
{
    (void)state;
    const char *lines[] = {
        "{\"ts_ms\": 100, \"node\": \"n1\", \"offset_ms\": 1.5, \"rtt_ms\": 0.2}",
        "{\"ts_ms\": 300, \"node\": \"n2\", \"offset_ms\": 9.0, \"rtt_ms\": 0.1}",
        "{\"ts_ms\": 200, \"node\": \"n1\", \"offset_ms\": -2.25, \"rtt_ms\": 0.3}",
        "{\"ts_ms\": 150, \"node\": \"n1\", \"offset_ms\": 7}",
        "{\"ts_ms\": 900, \"node\": \"n1\", \"offset_ms\": \"x\"}",
    };
    json_t *v[5];
    for (size_t i = 0; i < 5; i++)
        v[i] = json_loads(lines[i], 0, NULL);
    double off, rtt;
    assert_true(cts_clock_latest(v, 5, "n1", &off, &rtt));
    assert_true(off == -2.25 && rtt == 0.3);
    assert_true(cts_clock_latest(v, 5, "n2", &off, &rtt));
    assert_true(off == 9.0 && rtt == 0.1);
    /* unknown node, records of two nodes: none */
    assert_false(cts_clock_latest(v, 5, "n3", &off, &rtt));
    /* unknown node, records of one node only: theirs */
    assert_true(cts_clock_latest(v, 1, "host", &off, &rtt));
    assert_true(off == 1.5);
    assert_true(cts_clock_latest(v + 3, 1, NULL, &off, &rtt));
    assert_true(off == 7 && isnan(rtt));
    assert_false(cts_clock_latest(v, 0, "n1", &off, &rtt));
    for (size_t i = 0; i < 5; i++)
        json_decref(v[i]);
}

/* ---- reading CTS samples ---- */

/* What jsonl_next + jsonl_int/jsonl_num/jsonl_ts make of a line: the
 * reference cts_sample_scan must match field by field.  false: malformed. */
static bool ref_sample(const char *line, struct cts_sample *s)
{
    memset(s, 0, sizeof *s);
    json_t *o = jsonl_loadb(line, strlen(line), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return false;
    }
    s->has_ts = jsonl_ts(o, "ts_ms", &s->ts_ms, &s->bad_ts);
    s->has_pid = jsonl_int(o, "pid", &s->pid);
    s->has_dt = jsonl_num(o, "dt_ms", &s->dt_ms);
    s->has_cpu = jsonl_num(o, "cpu_ms", &s->cpu_ms);
    s->has_rss = jsonl_int(o, "rss_kb", &s->rss_kb);
    s->has_start = jsonl_int(o, "start_ticks", &s->start_ticks);
    s->has_delay = jsonl_num(o, "run_delay_ms", &s->delay_ms);
    s->has_before = jsonl_num(o, "cpu_before_ms", &s->cpu_before_ms);
    json_decref(o);
    return true;
}

static void assert_same_sample(const struct cts_sample *a, const struct cts_sample *b)
{
    assert_int_equal(a->has_ts, b->has_ts);
    assert_int_equal(a->bad_ts, b->bad_ts);
    assert_int_equal(a->has_pid, b->has_pid);
    assert_int_equal(a->has_dt, b->has_dt);
    assert_int_equal(a->has_cpu, b->has_cpu);
    assert_int_equal(a->has_rss, b->has_rss);
    assert_int_equal(a->has_start, b->has_start);
    assert_int_equal(a->has_delay, b->has_delay);
    assert_int_equal(a->has_before, b->has_before);
    if (a->has_ts)
        assert_int_equal(a->ts_ms, b->ts_ms);
    if (a->has_pid)
        assert_int_equal(a->pid, b->pid);
    if (a->has_rss)
        assert_int_equal(a->rss_kb, b->rss_kb);
    if (a->has_start)
        assert_int_equal(a->start_ticks, b->start_ticks);
    /* bit for bit: the export's output must not change by one ulp */
    assert_memory_equal(&a->dt_ms, &b->dt_ms, a->has_dt ? sizeof a->dt_ms : 0);
    assert_memory_equal(&a->cpu_ms, &b->cpu_ms, a->has_cpu ? sizeof a->cpu_ms : 0);
    assert_memory_equal(&a->delay_ms, &b->delay_ms, a->has_delay ? sizeof a->delay_ms : 0);
    assert_memory_equal(&a->cpu_before_ms, &b->cpu_before_ms, a->has_before ? sizeof a->cpu_before_ms : 0);
}

/* Each line read both ways; want_fast: whether the flat scanner takes it
 * (else jansson must have decided). */
static void check_scan(const char *line, bool want_object, int want_fast)
{
    struct cts_sample got, ref;
    bool ok = cts_sample_scan(line, strlen(line), &got);
    assert_int_equal(ok, want_object);
    assert_int_equal(ref_sample(line, &ref), want_object);
    if (ok)
        assert_same_sample(&got, &ref);
    if (want_fast >= 0) {
        struct raw_sample rs;
        assert_int_equal(raw_parse_fast(line, strlen(line), &rs) != RAW_FALLBACK, want_fast);
    }
}

/* The flat lines parse writes: every field read, by the fast path */
static void test_sample_scan_flat(void **state)
{
    (void)state;
    const char *line = "{\"ts_ms\": 1758580000013, \"pid\": 10000, \"dt_ms\": 200.125, \"cpu_ms\": 30.75, "
                       "\"run_delay_ms\": 0.5, \"rss_kb\": 50389, \"start_ticks\": 500000, \"comm\": \"ffmpeg\", "
                       "\"cgroup\": \"/a/b\"}";
    struct cts_sample s;
    assert_true(cts_sample_scan(line, strlen(line), &s));
    assert_true(s.has_ts && s.ts_ms == 1758580000013LL && s.has_pid && s.pid == 10000);
    assert_true(s.has_dt && s.dt_ms == 200.125 && s.has_cpu && s.cpu_ms == 30.75);
    assert_true(s.has_delay && s.delay_ms == 0.5 && s.has_rss && s.rss_kb == 50389);
    assert_true(s.has_start && s.start_ticks == 500000 && !s.has_before && !s.bad_ts);
    check_scan(line, true, 1);
    check_scan("{\"ts_ms\": 1758580000013, \"pid\": 1, \"dt_ms\": 0, \"cpu_ms\": 0, \"cpu_before_ms\": 20.625}",
               true, 1);
    /* reals strtod would round: the scanner's shortcut and strtod agree */
    check_scan("{\"ts_ms\": 1, \"pid\": 1, \"dt_ms\": 0.1, \"cpu_ms\": 199.99999999999997, "
               "\"run_delay_ms\": 1e-3, \"cpu_before_ms\": 123456789.123456789}", true, 1);
    check_scan("{}", true, 1);
    check_scan("  {\"pid\" :7 , \"ts_ms\":0}  ", true, 1);
}

/* jsonl_int's rule and the other corners, fast path and fallback alike */
static void test_sample_scan_rules(void **state)
{
    (void)state;
    struct cts_sample s;
    /* an integral real is an integer (below 2^53), a fraction is absent */
    const char *l = "{\"ts_ms\": 1.758e12, \"pid\": 10000.0, \"rss_kb\": 1.5, \"start_ticks\": 1e300}";
    assert_true(cts_sample_scan(l, strlen(l), &s));
    assert_true(s.has_ts && s.ts_ms == 1758000000000LL && s.has_pid && s.pid == 10000);
    assert_false(s.has_rss);
    assert_false(s.has_start);
    assert_int_equal(s.rss_kb, 0);   /* absent: 0, as jsonl_int leaves it */
    check_scan(l, true, 1);
    /* a time outside 1970..2200: bad, not a time */
    l = "{\"ts_ms\": 99999999999999, \"pid\": 1}";
    assert_true(cts_sample_scan(l, strlen(l), &s));
    assert_true(s.bad_ts && !s.has_ts);
    check_scan(l, true, 1);
    check_scan("{\"ts_ms\": -1, \"pid\": 1}", true, 1);
    /* a later duplicate key wins, also when it is of another type */
    l = "{\"pid\": 1, \"pid\": 2, \"dt_ms\": 5, \"dt_ms\": \"x\", \"ts_ms\": 99999999999999, \"ts_ms\": 3}";
    assert_true(cts_sample_scan(l, strlen(l), &s));
    assert_true(s.pid == 2 && !s.has_dt && s.has_ts && s.ts_ms == 3 && !s.bad_ts);
    check_scan(l, true, 1);
    /* other types: absent */
    check_scan("{\"ts_ms\": \"1\", \"pid\": true, \"dt_ms\": null, \"cpu_ms\": false, \"rss_kb\": null}", true, 1);
}

/* Lines the scanner leaves to jansson, which has the last word */
static void test_sample_scan_fallback(void **state)
{
    (void)state;
    struct cts_sample s;
    /* an escape in a string, non-ASCII, a nested value: still read */
    const char *l = "{\"ts_ms\": 5, \"pid\": 9, \"dt_ms\": 1, \"cpu_ms\": 2, \"comm\": \"a\\\"b\"}";
    assert_true(cts_sample_scan(l, strlen(l), &s));
    assert_true(s.pid == 9 && s.has_cpu && s.cpu_ms == 2);
    check_scan(l, true, 0);
    check_scan("{\"ts_ms\": 5, \"pid\": 9, \"comm\": \"\xc3\xa9t\xc3\xa9\"}", true, 0);
    check_scan("{\"ts_ms\": 5, \"pid\": 9, \"labels\": {\"a\": [1, 2]}, \"cpu_ms\": 3.5}", true, 0);
    check_scan("{\"p\\u0069d\": 12, \"ts_ms\": 5}", true, 0);   /* an escaped key is still "pid" */
    l = "{\"p\\u0069d\": 12, \"ts_ms\": 5}";
    assert_true(cts_sample_scan(l, strlen(l), &s));
    assert_true(s.has_pid && s.pid == 12);
    /* numbers jansson refuses: the line is malformed */
    check_scan("{\"ts_ms\": 5, \"pid\": 99999999999999999999}", false, 0);
    check_scan("{\"ts_ms\": 5, \"cpu_ms\": 1e999}", false, 0);
    check_scan("{\"ts_ms\": 5, \"pid\": 012}", false, 0);
    /* not an object, broken, trailing bytes */
    check_scan("[1, 2]", false, 0);
    check_scan("42", false, 0);
    check_scan("{\"ts_ms\": 5, \"pid\": 9", false, 0);
    check_scan("{\"ts_ms\": 5} x", false, 0);
    check_scan("{\"ts_ms\": 5,}", false, 0);
    check_scan("", false, 0);
    /* nested deeper than JSONL_MAX_DEPTH: malformed, like jsonl_next */
    char deep[64] = "{\"a\": ";
    for (int i = 0; i < 20; i++)
        strcat(deep, "[");
    for (int i = 0; i < 20; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    assert_false(cts_sample_scan(deep, strlen(deep), &s));
}

/* cts_sample_next counts lines as jsonl_next does */
static void test_sample_next_counts(void **state)
{
    (void)state;
    char path[] = "/tmp/test_cts_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"ts_ms\": 1, \"pid\": 2, \"dt_ms\": 3, \"cpu_ms\": 4}\n"
                       "\n   \t\n"
                       "not json\n"
                       "{\"ts_ms\": 5, \"pid\": 6}\r\n"
                       "[1]\n"
                       "{\"ts_ms\": 7, \"pid\": 8, \"comm\": \"x\\ty\"}\n"
                       "{\"ts_ms\": 9, \"pi";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct jsonl_reader r;
    assert_int_equal(jsonl_reader_open(&r, path), 0);
    struct cts_sample s;
    int64_t pids[3];
    int n = 0;
    while (cts_sample_next(&r, &s) == 1) {
        assert_true(n < 3);
        pids[n++] = s.pid;
    }
    assert_int_equal(n, 3);
    assert_true(pids[0] == 2 && pids[1] == 6 && pids[2] == 8);
    assert_int_equal(r.lineno, 8);
    assert_int_equal(r.good, 3);
    assert_int_equal(r.blank, 2);
    assert_int_equal(r.malformed, 2);
    assert_int_equal(r.torn, 1);
    jsonl_reader_close(&r);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_and_ticks),
        cmocka_unit_test(test_cpu_ms_wins_over_ticks),
        cmocka_unit_test(test_equal_timestamps_keep_cpu),
        cmocka_unit_test(test_wall_clock_step),
        cmocka_unit_test(test_pid_reuse),
        cmocka_unit_test(test_missing_fields),
        cmocka_unit_test(test_cpu_dip),
        cmocka_unit_test(test_run_delay),
        cmocka_unit_test(test_exit_only_process),
        cmocka_unit_test(test_fmt_ms),
        cmocka_unit_test(test_events_sort_and_invocation),
        cmocka_unit_test(test_nodes_json),
        cmocka_unit_test(test_clock_latest),
        cmocka_unit_test(test_sample_scan_flat),
        cmocka_unit_test(test_sample_scan_rules),
        cmocka_unit_test(test_sample_scan_fallback),
        cmocka_unit_test(test_sample_next_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
