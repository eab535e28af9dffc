/* test_opendc.c -- the OpenDC export logic without files: fragment building
 * (coverage, CPU conservation, rounding, caps), ids, failed and retried
 * tasks, the original's worked example (upstream §9.8), topology, units. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opendc/opendc.h"
#include "opendc/opendc_verify.h"
#include "sched/policy.h"
#include "common/util.h"

static int64_t sum_dur(const struct odc_seg *s, size_t n)
{
    int64_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += s[i].dur;
    return d;
}

static double sum_cpu(const struct odc_seg *s, size_t n)
{
    double c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i].cpu_ms;
    return c;
}

static void test_fragments_no_samples(void **state)
{
    (void)state;
    struct odc_seg *s;
    struct odc_fill f;
    size_t n = odc_fragments(1000, 1850, NULL, 0, 425, 4, 0, &s, &f);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].dur, 850);
    assert_true(fabs(s[0].cpu_ms - 425) < 1e-9);
    assert_true(fabs(f.uncovered_ms - 850) < 1e-9);
    free(s);
    /* No exact total: zero CPU, not an invented load. */
    n = odc_fragments(1000, 1850, NULL, 0, -1, 4, 0, &s, &f);
    assert_int_equal(n, 1);
    assert_true(s[0].cpu_ms == 0);
    free(s);
}

/* The worked example's task A with an exact total: head and tail get what
 * the samples did not see. */
static void test_fragments_head_tail_filled(void **state)
{
    (void)state;
    const int64_t T = 1000000;
    struct odc_span sp[4];
    for (int k = 0; k < 4; k++)
        sp[k] = (struct odc_span){(double)(T + 1000 * k), (double)(T + 1000 * (k + 1)), 1850, 0, false};
    struct odc_seg *s;
    struct odc_fill f;
    size_t n = odc_fragments(T - 700, T + 4300, sp, 4, 8700, 4, 0, &s, &f);
    assert_int_equal(n, 3);   /* the four equal samples merge */
    assert_int_equal(s[0].dur, 700);
    assert_int_equal(s[1].dur, 4000);
    assert_int_equal(s[2].dur, 300);
    assert_true(fabs(s[0].cpu_ms / 700 - 1.3) < 1e-12);
    assert_true(fabs(s[1].cpu_ms / 4000 - 1.85) < 1e-12);
    assert_true(fabs(s[2].cpu_ms / 300 - 1.3) < 1e-12);
    assert_true(fabs(sum_cpu(s, n) - 8700) < 1e-9);
    assert_true(fabs(f.seen_cpu_ms - 7400) < 1e-9);
    assert_true(fabs(f.filled_cpu_ms - 1300) < 1e-9);
    assert_true(fabs(f.peak_cores - 1.85) < 1e-12);
    free(s);
    /* Without the exact total the unsampled time stays at zero. */
    n = odc_fragments(T - 700, T + 4300, sp, 4, -1, 4, 0, &s, &f);
    assert_int_equal(n, 3);
    assert_true(s[0].cpu_ms == 0 && s[2].cpu_ms == 0);
    assert_true(fabs(sum_cpu(s, n) - 7400) < 1e-9);
    free(s);
}

static void test_fragments_spread_and_scale(void **state)
{
    (void)state;
    struct odc_span sp[2] = {{0, 500, 250, 0, false}, {500, 1000, 250, 0, false}};
    struct odc_seg *s;
    struct odc_fill f;
    /* Fully covered, exact total above the samples (children's CPU): spread. */
    size_t n = odc_fragments(0, 1000, sp, 2, 600, 0, 0, &s, &f);
    assert_int_equal(n, 1);
    assert_true(fabs(s[0].cpu_ms - 600) < 1e-9);
    assert_true(fabs(f.spread_cpu_ms - 100) < 1e-9);
    free(s);
    /* Samples above the exact total: scaled down to it. */
    n = odc_fragments(0, 1000, sp, 2, 400, 0, 0, &s, &f);
    assert_true(fabs(sum_cpu(s, n) - 400) < 1e-9);
    assert_true(fabs(f.scale - 0.8) < 1e-12);
    free(s);
}

/* Spans reaching outside the window are clipped with their CPU; overlaps
 * keep the earlier span; fractional boundaries round to whole ms and the
 * durations still sum to the task's. */
static void test_fragments_clip_overlap_rounding(void **state)
{
    (void)state;
    struct odc_span sp[] = {
        {-100, 100, 400, 0, false},        /* half inside: 200 ms CPU inside */
        {100.4, 200.6, 100.2, 0, false},   /* fractional boundaries */
        {150, 250, 100, 0, false},         /* overlaps the previous one */
        {250, 250, 5, 0, false},           /* zero length: ignored */
        {900, 1100, 50, 0, false},         /* half inside */
        {300, 300.3, 1, 0, false},         /* rounds to nothing: its CPU is carried */
    };
    struct odc_seg *s;
    struct odc_fill f;
    size_t n = odc_fragments(0, 1000, sp, ARRAY_LEN(sp), -1, 0, 0, &s, &f);
    assert_int_equal(sum_dur(s, n), 1000);
    for (size_t i = 0; i < n; i++)
        assert_true(s[i].dur > 0);
    double seen = 200 + 100.2 + 100 * (250 - 200.6) / 100 + 25 + 1;
    assert_true(fabs(f.seen_cpu_ms - seen) < 1e-9);
    assert_true(fabs(sum_cpu(s, n) - seen) < 1e-9);
    free(s);
}

/* A spike above the core limit moves to fragments with room; CPU is kept. */
static void test_fragments_cap(void **state)
{
    (void)state;
    struct odc_span sp[] = {{0, 100, 250, 0, false}, {100, 1000, 450, 0, false}};   /* 2.5 cores, then 0.5 */
    struct odc_seg *s;
    struct odc_fill f;
    size_t n = odc_fragments(0, 1000, sp, 2, 700, 2, 0, &s, &f);
    assert_true(fabs(sum_cpu(s, n) - 700) < 1e-9);
    for (size_t i = 0; i < n; i++)
        assert_true(s[i].cpu_ms <= 2.0 * (double)s[i].dur + 1e-9);
    assert_true(fabs(f.capped_cpu_ms - 50) < 1e-9);
    assert_true(f.lost_cpu_ms == 0);
    free(s);
    /* More CPU than cores x time: the rest is lost, and said so. */
    n = odc_fragments(0, 1000, sp, 2, 3000, 2, 0, &s, &f);
    assert_true(fabs(sum_cpu(s, n) - 2000) < 1e-6);
    assert_true(fabs(f.lost_cpu_ms - 1000) < 1e-6);
    free(s);
}

/* ---- --cpu-usage demand: run delay on top of the received CPU ---- */

/* Each sampled interval gets its own delay, up to demand_cores; an interval
 * without run delay keeps its received CPU and is counted; received mode
 * adds nothing but counts the same. */
static void test_fragments_demand_per_interval(void **state)
{
    (void)state;
    struct odc_span sp[] = {
        {0, 1000, 500, 500, true},      /* 0.5 core + 0.5 waiting: 1 core */
        {1000, 2000, 500, 900, true},   /* 0.5 + 0.9 > 1 core: held at 1, 400 ms left out */
        {2000, 3000, 500, 0, false},    /* no run delay: stays at 0.5 */
    };
    struct odc_seg *s;
    struct odc_fill f;
    size_t n = odc_fragments(0, 3000, sp, 3, -1, 1, 0, &s, &f);
    assert_int_equal(n, 1);   /* received: one rate, merged */
    assert_int_equal(s[0].dur, 3000);
    assert_true(fabs(s[0].cpu_ms - 1500) < 1e-9);
    assert_int_equal(f.sampled, 3);
    assert_int_equal(f.no_delay, 1);
    assert_true(fabs(f.delay_ms - 1400) < 1e-9);
    assert_true(f.demand_added_ms == 0 && f.demand_capped_ms == 0);
    free(s);

    n = odc_fragments(0, 3000, sp, 3, -1, 1, 1, &s, &f);
    assert_int_equal(n, 2);   /* 1 core for 2 s (merged), then 0.5 */
    assert_int_equal(s[0].dur, 2000);
    assert_true(fabs(s[0].cpu_ms - 2000) < 1e-9);
    assert_true(fabs(s[0].delay_ms - 1000) < 1e-9);
    assert_int_equal(s[1].dur, 1000);
    assert_true(fabs(s[1].cpu_ms - 500) < 1e-9);
    assert_true(s[1].delay_ms == 0);
    assert_int_equal(f.no_delay, 1);
    assert_true(fabs(f.demand_added_ms - 1000) < 1e-9);
    assert_true(fabs(f.demand_capped_ms - 400) < 1e-9);
    assert_true(fabs(f.peak_cores - 1) < 1e-12);
    free(s);
}

/* The exact total is received CPU: sampled CPU above it is scaled down to
 * it, the run delay is not, and demand is never scaled back to received. */
static void test_fragments_demand_exact_total(void **state)
{
    (void)state;
    struct odc_span sp[] = {{0, 500, 300, 200, true}, {500, 1000, 300, 200, true}};
    struct odc_seg *s;
    struct odc_fill f;
    size_t n = odc_fragments(0, 1000, sp, 2, 480, 2, 2, &s, &f);
    assert_true(fabs(f.scale - 0.8) < 1e-12);
    assert_true(fabs(sum_cpu(s, n) - (480 + 400)) < 1e-9);
    assert_true(fabs(f.demand_added_ms - 400) < 1e-9);
    free(s);

    /* Exact total above the samples, with unsampled time: the rest fills the
     * gap as received CPU (no delay there), the sampled part gets its delay. */
    struct odc_span one[] = {{0, 500, 250, 250, true}};
    n = odc_fragments(0, 1000, one, 1, 500, 1, 1, &s, &f);
    assert_int_equal(n, 2);
    assert_true(fabs(s[0].cpu_ms - 500) < 1e-9 && s[0].dur == 500);   /* 0.5 + 0.5 waiting */
    assert_true(fabs(s[1].cpu_ms - 250) < 1e-9 && s[1].dur == 500);   /* the filled gap: 0.5 */
    assert_true(fabs(f.filled_cpu_ms - 250) < 1e-9);
    free(s);

    /* Fully covered, exact above the samples: the rest is spread, the delay
     * added on top, within the cores. */
    struct odc_span all[] = {{0, 1000, 400, 300, true}};
    n = odc_fragments(0, 1000, all, 1, 600, 1, 1, &s, &f);
    assert_int_equal(n, 1);
    assert_true(fabs(s[0].cpu_ms - 900) < 1e-9);
    assert_true(fabs(f.spread_cpu_ms - 200) < 1e-9);
    assert_true(f.demand_capped_ms == 0);
    free(s);
}

/* Received CPU above the core limit still moves to fragments with room
 * (it happened); demand above the limit is left out, not moved. */
static void test_fragments_demand_cap(void **state)
{
    (void)state;
    struct odc_span sp[] = {{0, 100, 250, 100, true}, {100, 1000, 450, 450, true}};
    struct odc_seg *s;
    struct odc_fill f;
    size_t n = odc_fragments(0, 1000, sp, 2, 700, 2, 2, &s, &f);
    assert_true(fabs(f.capped_cpu_ms - 50) < 1e-9);        /* received, moved */
    assert_true(fabs(f.demand_capped_ms - 100) < 1e-9);    /* the spike's delay: no room */
    assert_true(fabs(f.demand_added_ms - 450) < 1e-9);
    assert_true(fabs(sum_cpu(s, n) - (700 + 450)) < 1e-9);
    for (size_t i = 0; i < n; i++)
        assert_true(s[i].cpu_ms <= 2.0 * (double)s[i].dur + 1e-9);
    assert_int_equal(sum_dur(s, n), 1000);
    free(s);
}

static void test_helpers(void **state)
{
    (void)state;
    assert_int_equal(odc_cpuset_count("0-3,6"), 5);
    assert_int_equal(odc_cpuset_count("2"), 1);
    assert_int_equal(odc_cpuset_count("0,2,4-5"), 4);
    assert_int_equal(odc_cpuset_count(""), 0);
    assert_int_equal(odc_cpuset_count("3-1"), 0);
    assert_int_equal(odc_cpuset_count("a"), 0);
    assert_int_equal(odc_cpuset_count("1-"), 0);
    assert_true(odc_round_half_even(2.5) == 2 && odc_round_half_even(1.5) == 2);
    assert_true(odc_round_half_even(0.5) == 0 && odc_round_half_even(0.51) == 1);
    assert_true(odc_parse_frequency_mhz("2.4 GHz") == 2400);
    assert_true(odc_parse_frequency_mhz("2399MHz") == 2399);
    assert_true(odc_parse_frequency_mhz("2400") < 0);
    assert_true(odc_parse_frequency_mhz("2400 MHzz") < 0);
    assert_true(odc_parse_size_mib("16 GiB") == 16384);
    assert_true(odc_parse_size_mib("15923 MiB") == 15923);
    assert_true(odc_parse_size_mib("17179869184") < 0);
}

/* ---- odc_export on in-memory records ---- */

static const int64_t T = 1758580000000;

struct fixture {
    struct odc_node nodes[2];
    struct odc_inv invs[8];
    struct odc_sample samples[16];
    struct odc_input in;
};

static void node(struct fixture *x, int i, const char *id, int cores, double mhz, double raw)
{
    x->nodes[i] = (struct odc_node){.folder = (char *)id, .node_id = (char *)id, .cores = cores, .mhz = mhz,
                                    .raw_mhz = raw, .raw_cores = cores, .mem_mb = 16384, .cpu_model = (char *)""};
}

static struct odc_inv inv(int node_i, int64_t pid, int64_t start, int64_t end, const char *trace)
{
    return (struct odc_inv){.node = node_i, .pid = pid, .ts_enqueue = start - 2300, .has_enqueue = true,
                            .ts_start = start, .ts_end = end, .trace_id = (char *)trace, .max_rss_kb = -1};
}

static struct odc_sample smp(int node_i, int64_t pid, int64_t ts, double dt, double cpu, int64_t rss)
{
    return (struct odc_sample){.node = node_i, .pid = pid, .ts_ms = ts, .dt_ms = dt, .cpu_ms = cpu, .rss_kb = rss};
}

/* Upstream §9.8: 4 cores, raw 2399 MHz; task A pid 4242 sampled at 1.85
 * cores from T to T+4000, running T-700 .. T+4300; task B pid 777, 850 ms,
 * never sampled. */
static void worked_example(struct fixture *x)
{
    memset(x, 0, sizeof *x);
    node(x, 0, "vm0", 4, 2400, 2399);
    x->invs[0] = inv(0, 4242, T - 700, T + 4300, "a");
    x->invs[1] = inv(0, 777, T + 5000, T + 5850, "b");
    const int64_t rss[] = {50100, 50200, 50300, 50400, 50400};
    x->samples[0] = smp(0, 4242, T, 0, 0, rss[0]);
    for (int k = 1; k <= 4; k++)
        x->samples[k] = smp(0, 4242, T + 1000 * k, 1000, 1850, rss[k]);
    x->in = (struct odc_input){.nodes = x->nodes, .n_nodes = 1, .invs = x->invs, .n_invs = 2,
                               .samples = x->samples, .n_samples = 5};
}

static void test_upstream_compat_worked_example(void **state)
{
    (void)state;
    struct fixture x;
    worked_example(&x);
    struct odc_opts o = {.upstream_compat = true};
    struct odc_result r;
    char err[256];
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), 0);
    assert_int_equal(r.n_tasks, 2);
    const double a_usage = 1.85 * 2399;   /* 4438.150000000001, as Python computes it */
    assert_int_equal(r.tasks[0].id, 4242);
    assert_int_equal(r.tasks[0].submission_time, T - 700 - 2300);
    assert_int_equal(r.tasks[0].duration, 5000);
    assert_int_equal(r.tasks[0].cpu_count, 2);
    assert_true(r.tasks[0].cpu_capacity == a_usage);
    assert_int_equal(r.tasks[0].mem_capacity, 50400);
    assert_int_equal(r.tasks[1].id, 777);
    assert_int_equal(r.tasks[1].duration, 850);
    assert_int_equal(r.tasks[1].cpu_count, 1);
    assert_true(r.tasks[1].cpu_capacity == 599.75);
    assert_int_equal(r.tasks[1].mem_capacity, 65536);
    assert_int_equal(r.n_frags, 6);
    const int64_t durs[] = {700, 1000, 1000, 1000, 1000, 850};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(r.frags[i].id, i < 5 ? 4242 : 777);
        assert_int_equal(r.frags[i].duration, durs[i]);
        assert_true(r.frags[i].cpu_usage == (i < 5 ? a_usage : 599.75));
    }
    assert_string_equal(r.id_mode, "pid (auto; PIDs unique across nodes)");
    odc_result_free(&r);
}

static void test_ours_worked_example(void **state)
{
    (void)state;
    struct fixture x;
    worked_example(&x);
    /* With the exact totals our CTS adds. */
    x.invs[0].has_cpu = true;
    x.invs[0].cpu_ms = 8700;
    x.invs[1].has_cpu = true;
    x.invs[1].cpu_ms = 425;
    x.invs[1].max_rss_kb = 2048;
    struct odc_opts o = {0};
    struct odc_result r;
    char err[256];
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), 0);
    assert_int_equal(r.n_tasks, 2);
    /* Ordered by start: A (pid 4242) first. */
    assert_int_equal(r.tasks[0].id, 4242);
    assert_int_equal(r.tasks[0].cpu_count, 2);
    assert_true(r.tasks[0].cpu_capacity == 4800);
    assert_int_equal(r.tasks[0].mem_capacity, 50000);   /* 50400 KiB -> 50 MiB -> x1000 */
    assert_string_equal(r.tasks[0].name, "a");
    assert_int_equal(r.tasks[1].mem_capacity, 2000);
    assert_int_equal(r.n_frags, 4);
    assert_int_equal(r.frags[0].duration, 700);
    assert_true(fabs(r.frags[0].cpu_usage - 1.3 * 2400) < 1e-9);
    assert_true(fabs(r.frags[1].cpu_usage - 1.85 * 2400) < 1e-9);
    assert_int_equal(r.frags[3].id, 777);
    assert_int_equal(r.frags[3].duration, 850);
    assert_true(fabs(r.frags[3].cpu_usage - 1200) < 1e-9);
    assert_true(fabs(r.exported_cpu_mhz_ms / r.expected_cpu_mhz_ms - 1) < 1e-12);
    /* The unsampled task is noted. */
    size_t nos = 0;
    for (size_t i = 0; i < r.n_notes; i++)
        nos += r.notes[i].kind == ODC_N_NO_SAMPLES && r.notes[i].task_id == 777;
    assert_int_equal(nos, 1);
    odc_result_free(&r);

    /* --mem-unit mb */
    o.mem_unit = ODC_MEM_MB;
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), 0);
    assert_int_equal(r.tasks[0].mem_capacity, 50);
    odc_result_free(&r);
}

/* HTTP requests (tracekit proxy) share their service's process: a sampled
 * interval's CPU goes to the requests overlapping it by overlap, at most at
 * the interval's mean rate; one trace id is not a retry; 5xx fail, 404 not. */
static double task_cpu(const struct odc_result *r, size_t t, double mhz)
{
    double c = 0;
    for (size_t k = 0; k < r->tasks[t].n_frags; k++)
        c += r->frags[r->tasks[t].frag_start + k].cpu_usage * (double)r->frags[r->tasks[t].frag_start + k].duration;
    return c / mhz;
}

static void test_http_requests_share_cpu(void **state)
{
    (void)state;
    struct fixture x;
    memset(&x, 0, sizeof x);
    node(&x, 0, "vm0", 2, 1000, 1000);
    x.invs[0] = inv(0, 50, T + 10, T + 60, "t");
    x.invs[1] = inv(0, 50, T + 40, T + 140, "t");
    x.invs[2] = inv(0, 50, T + 300, T + 310, "t");
    const int64_t status[] = {200, 404, 503};
    for (int i = 0; i < 3; i++) {
        x.invs[i].http = true;
        x.invs[i].has_status = true;
        x.invs[i].status = status[i];
    }
    x.samples[0] = smp(0, 50, T, 0, 0, 1000);
    x.samples[1] = smp(0, 50, T + 100, 100, 80, 1000);
    x.samples[2] = smp(0, 50, T + 200, 100, 20, 1000);
    x.in = (struct odc_input){.nodes = x.nodes, .n_nodes = 1, .invs = x.invs, .n_invs = 3,
                              .samples = x.samples, .n_samples = 3};
    struct odc_opts o = {0};
    struct odc_result r;
    char err[256];
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), 0);
    assert_int_equal(r.n_tasks, 3);   /* same trace id, yet all kept */
    /* sample 1 (80 ms): overlaps 50 + 60 ms > 100 ms, so shared 50:60 */
    assert_true(fabs(task_cpu(&r, 0, 1000) - 80.0 * 50 / 110) < 1e-6);
    /* request 2 also gets 40 ms of sample 2 at its mean rate (0.2) */
    assert_true(fabs(task_cpu(&r, 1, 1000) - (80.0 * 60 / 110 + 8)) < 1e-6);
    assert_true(fabs(task_cpu(&r, 2, 1000)) < 1e-9);
    assert_false(r.tasks[0].failed || r.tasks[1].failed);
    assert_true(r.tasks[2].failed);
    odc_result_free(&r);
    o.exclude_failed = true;
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), 0);
    assert_int_equal(r.n_tasks, 2);
    odc_result_free(&r);
}

/* Two nodes, same PIDs (B24): distinct tasks, each with its own samples,
 * sequential ids in (node, start, pid) order; pid ids refused. */
static void test_colliding_pids(void **state)
{
    (void)state;
    struct fixture x;
    memset(&x, 0, sizeof x);
    node(&x, 0, "node-b", 2, 3000, 3000);
    node(&x, 1, "node-a", 2, 2000, 2000);
    x.invs[0] = inv(0, 100, T, T + 1000, "t1");
    x.invs[1] = inv(1, 100, T + 500, T + 1500, "t2");
    x.invs[2] = inv(1, 100, T, T + 400, "t3");   /* PID reused on node-a */
    for (int i = 0; i < 3; i++) {
        x.invs[i].has_cpu = true;
        x.invs[i].cpu_ms = 100.0 * (i + 1);
    }
    x.samples[0] = smp(0, 100, T + 1000, 1000, 100, 10);
    x.samples[1] = smp(1, 100, T + 1500, 1000, 200, 10);
    x.samples[2] = smp(1, 100, T + 400, 400, 300, 10);
    x.in = (struct odc_input){.nodes = x.nodes, .n_nodes = 2, .invs = x.invs, .n_invs = 3,
                              .samples = x.samples, .n_samples = 3};
    struct odc_opts o = {0};
    struct odc_result r;
    char err[256];
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), 0);
    assert_string_equal(r.id_mode, "sequential (auto: PID 100 belongs to more than one task)");
    assert_int_equal(r.n_tasks, 3);
    /* node-a before node-b; on node-a by start time. */
    assert_string_equal(r.tasks[0].name, "t3");
    assert_string_equal(r.tasks[1].name, "t2");
    assert_string_equal(r.tasks[2].name, "t1");
    for (int i = 0; i < 3; i++)
        assert_int_equal(r.tasks[i].id, i + 1);
    /* Each task's CPU is its own: 300, 200, 100 ms at its node's MHz. */
    const double cpu[] = {300, 200, 100}, mhz[] = {2000, 2000, 3000};
    for (int i = 0; i < 3; i++) {
        double sum = 0;
        for (size_t k = r.tasks[i].frag_start; k < r.tasks[i].frag_start + r.tasks[i].n_frags; k++)
            sum += r.frags[k].cpu_usage * (double)r.frags[k].duration;
        assert_true(fabs(sum - cpu[i] * mhz[i]) < 1e-6);
    }
    odc_result_free(&r);
    o.id_mode = ODC_ID_PID;
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "PID 100 belongs to more than one task"));
}

static void test_failed_retries_identity(void **state)
{
    (void)state;
    struct fixture x;
    memset(&x, 0, sizeof x);
    node(&x, 0, "n", 4, 2000, 2000);
    x.invs[0] = inv(0, 10, T, T + 1000, "job");      /* attempt 1, failed */
    x.invs[0].has_status = true;
    x.invs[0].status = 1;
    x.invs[0].attempt = 1;
    x.invs[1] = inv(0, 11, T + 2000, T + 3000, "job");   /* attempt 2, fine */
    x.invs[1].has_status = true;
    x.invs[1].attempt = 2;
    x.invs[2] = inv(0, 12, T, T + 2000, "other");    /* failed, no retry */
    x.invs[2].has_status = true;
    x.invs[2].status = 137;
    x.invs[3] = inv(0, 13, T + 5000, T + 5000, NULL);   /* 0 ms */
    /* Identity by start ticks: pid 20 twice, the samples carry which one. */
    x.invs[4] = inv(0, 20, T, T + 1000, "p1");
    x.invs[4].has_start_ticks = true;
    x.invs[4].start_ticks = 111;
    x.invs[5] = inv(0, 20, T + 1000, T + 2000, "p2");
    x.invs[5].has_start_ticks = true;
    x.invs[5].start_ticks = 222;
    x.samples[0] = smp(0, 20, T + 1000, 1000, 700, 5);   /* process 1's last read, at its end */
    x.samples[0].has_start_ticks = true;
    x.samples[0].start_ticks = 111;
    x.samples[1] = smp(0, 20, T + 2000, 1000, 300, 5);
    x.samples[1].has_start_ticks = true;
    x.samples[1].start_ticks = 222;
    x.in = (struct odc_input){.nodes = x.nodes, .n_nodes = 1, .invs = x.invs, .n_invs = 6,
                              .samples = x.samples, .n_samples = 2};
    struct odc_opts o = {0};
    struct odc_result r;
    char err[256];
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), 0);
    /* Kept: job attempt 2, other (failed, included), the 0 ms one, p1, p2. */
    assert_int_equal(r.n_tasks, 5);
    size_t kinds[ODC_N_KINDS] = {0};
    for (size_t i = 0; i < r.n_notes; i++)
        kinds[r.notes[i].kind]++;
    assert_int_equal(kinds[ODC_N_ATTEMPT_DROPPED], 1);
    assert_int_equal(kinds[ODC_N_FAILED_KEPT], 1);   /* 'other'; attempt 1 was replaced by attempt 2 */
    assert_int_equal(kinds[ODC_N_ZERO_DURATION], 1);
    for (size_t i = 0; i < r.n_tasks; i++) {
        const struct odc_task *t = &r.tasks[i];
        if (t->name && !strcmp(t->name, "p1"))
            assert_true(fabs(r.frags[t->frag_start].cpu_usage - 0.7 * 2000) < 1e-9);
        if (t->name && !strcmp(t->name, "p2"))
            assert_true(fabs(r.frags[t->frag_start].cpu_usage - 0.3 * 2000) < 1e-9);
        if (!t->name)
            assert_int_equal(t->duration, 1);
        if (t->name && !strcmp(t->name, "job"))
            assert_int_equal(t->pid, 11);
    }
    odc_result_free(&r);

    o.exclude_failed = true;
    o.all_attempts = true;
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), 0);
    assert_int_equal(r.n_tasks, 4);   /* both failed ones gone, attempt 2 kept */
    odc_result_free(&r);
    o.exclude_failed = false;
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), 0);
    assert_int_equal(r.n_tasks, 6);   /* every attempt */
    odc_result_free(&r);

    /* No invented frequency. */
    x.nodes[0].mhz = 0;
    assert_int_equal(odc_export(&x.in, &o, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "has no CPU frequency"));
}

/* Two tasks pinned to one CPU, each received 0.5 core and waited 0.5 core:
 * demand shows each at 1 core, received at 0.5; cpu_count and the tasks
 * are the same in both; a sample without run delay keeps its received CPU;
 * delay beyond cpu_count is noted. */
static void test_export_demand(void **state)
{
    (void)state;
    struct fixture x;
    memset(&x, 0, sizeof x);
    node(&x, 0, "vm0", 4, 2000, 2000);
    for (int j = 0; j < 2; j++) {
        x.invs[j] = inv(0, 100 + j, T, T + 3000, j ? "b" : "a");
        x.invs[j].cpuset_cpus = 1;
        x.invs[j].has_cpu = true;
        x.invs[j].cpu_ms = 1500;
        for (int k = 0; k < 3; k++) {
            struct odc_sample *sm = &x.samples[3 * j + k];
            *sm = smp(0, 100 + j, T + 1000 * (k + 1), 1000, 500, 1024);
            sm->has_delay = !(j == 1 && k == 2);   /* b's last interval: unknown */
            sm->delay_ms = sm->has_delay ? (j == 0 && k == 2 ? 800 : 500) : 0;
        }
    }
    x.in = (struct odc_input){.nodes = x.nodes, .n_nodes = 1, .invs = x.invs, .n_invs = 2,
                              .samples = x.samples, .n_samples = 6};
    struct odc_opts o = {0};
    struct odc_result rr, rd;
    char err[256];
    assert_int_equal(odc_export(&x.in, &o, &rr, err, sizeof err), 0);
    o.cpu_usage = ODC_USAGE_DEMAND;
    assert_int_equal(odc_export(&x.in, &o, &rd, err, sizeof err), 0);
    assert_int_equal(rr.n_tasks, 2);
    assert_int_equal(rd.n_tasks, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(rr.tasks[i].cpu_count, 1);
        assert_int_equal(rd.tasks[i].cpu_count, rr.tasks[i].cpu_count);
        assert_true(rd.tasks[i].cpu_capacity == rr.tasks[i].cpu_capacity);
        assert_int_equal(rd.tasks[i].duration, rr.tasks[i].duration);
    }
    /* received: one fragment each at 0.5 core */
    assert_int_equal(rr.n_frags, 2);
    assert_true(fabs(rr.frags[0].cpu_usage - 1000) < 1e-9 && rr.frags[0].duration == 3000);
    /* demand: a at 1 core for 3 s (its 800 ms interval held at 1 core), b at 1
     * core for 2 s then 0.5 (no run delay known) */
    assert_int_equal(rd.n_frags, 3);
    assert_int_equal(rd.frags[0].id, 100);
    assert_true(fabs(rd.frags[0].cpu_usage - 2000) < 1e-9 && rd.frags[0].duration == 3000);
    assert_true(fabs(rd.frags[1].cpu_usage - 2000) < 1e-9 && rd.frags[1].duration == 2000);
    assert_true(fabs(rd.frags[2].cpu_usage - 1000) < 1e-9 && rd.frags[2].duration == 1000);
    assert_int_equal(rd.sampled_frags, 6);
    assert_int_equal(rd.no_delay_frags, 1);
    assert_int_equal(rr.no_delay_frags, 1);
    assert_true(fabs(rd.delay_ms - 2800) < 1e-9 && fabs(rr.delay_ms - 2800) < 1e-9);
    assert_true(fabs(rd.demand_added_ms - 2500) < 1e-9 && rr.demand_added_ms == 0);
    assert_true(fabs(rd.demand_capped_ms - 300) < 1e-9);
    assert_int_equal(rd.n_demand_capped, 1);
    /* measured CPU stays received; the ratio says demand / received */
    assert_true(rd.measured_cpu_ms == rr.measured_cpu_ms);
    assert_true(fabs(rd.exported_cpu_mhz_ms / rd.expected_cpu_mhz_ms - 5500.0 / 3000) < 1e-12);
    size_t capped = 0;
    for (size_t i = 0; i < rd.n_notes; i++)
        capped += rd.notes[i].kind == ODC_N_DEMAND_CAPPED && rd.notes[i].task_id == 100 &&
                  fabs(rd.notes[i].value - 300) < 1e-9;
    assert_int_equal(capped, 1);
    for (size_t i = 0; i < rr.n_notes; i++)
        assert_int_not_equal(rr.notes[i].kind, ODC_N_DEMAND_CAPPED);
    odc_result_free(&rr);
    odc_result_free(&rd);
}

static const char *jstr(json_t *o, const char *a, const char *b)
{
    json_t *x = json_object_get(o, a);
    return json_string_value(b ? json_object_get(x, b) : x);
}

/* One host per node (even two identical ones), named by the node id, in
 * node order, count 1, each with a power model; a cluster per stage. */
static void test_topology(void **state)
{
    (void)state;
    struct odc_node n[4] = {
        {.node_id = "w2", .folder = "w2", .cores = 4, .mhz = 2400, .mem_mb = 16384, .cpu_model = "X",
         .stage = "cloud"},
        {.node_id = "w1", .folder = "w1", .cores = 8, .mhz = 2999.5, .mem_mb = 32768, .cpu_model = "",
         .stage = "cloud"},
        {.node_id = "w3", .folder = "w3", .cores = 4, .mhz = 2400, .mem_mb = 16384, .cpu_model = "X",
         .stage = "cloud"},
        {.node_id = "e1", .folder = "e1", .cores = 2, .mhz = 1000, .mem_mb = 1024, .cpu_model = "",
         .stage = "edge"},
    };
    for (size_t k = 0; k < 4; k++)
        n[k].power = odc_node_power(&n[k]);
    char *text = odc_topology_json(n, 4);
    json_error_t e;
    json_t *root = json_loads(text, 0, &e);
    assert_non_null(root);
    json_t *cl = json_object_get(root, "clusters");
    assert_int_equal(json_array_size(cl), 2);
    assert_string_equal(jstr(json_array_get(cl, 0), "name", NULL), "cloud");
    assert_string_equal(jstr(json_array_get(cl, 1), "name", NULL), "edge");
    json_t *hosts = json_object_get(json_array_get(cl, 0), "hosts");
    assert_int_equal(json_array_size(hosts), 3);
    const char *order[] = {"w2", "w1", "w3"};
    for (size_t k = 0; k < 3; k++) {
        json_t *h = json_array_get(hosts, k);
        assert_string_equal(jstr(h, "name", NULL), order[k]);
        assert_int_equal(json_integer_value(json_object_get(h, "count")), 1);
        assert_string_equal(jstr(h, "cpuPowerModel", "type"), "linear");
        assert_string_equal(jstr(h, "cpuPowerModel", "idlePower"), "200 W");
        assert_string_equal(jstr(h, "cpuPowerModel", "maxPower"), "400 W");
    }
    json_t *h0 = json_array_get(hosts, 0), *h1 = json_array_get(hosts, 1);
    assert_string_equal(jstr(h0, "cpu", "coreSpeed"), "2400 MHz");
    assert_string_equal(jstr(h0, "memory", "size"), "16384 MiB");
    assert_string_equal(jstr(h1, "cpu", "coreSpeed"), "2999.500 MHz");
    assert_null(json_object_get(json_object_get(h1, "cpu"), "modelName"));
    json_decref(root);
    free(text);

    /* two nodes with one id (gather names their folders apart): the folder */
    n[1].node_id = "w2";
    n[1].folder = "w2-hostB";
    assert_string_equal(odc_host_name(n, 4, 0), "w2");
    assert_string_equal(odc_host_name(n, 4, 1), "w2-hostB");
    n[0].stage = n[1].stage = n[2].stage = n[3].stage = NULL;
    json_t *t = odc_topology(n, 4);
    cl = json_object_get(t, "clusters");
    assert_int_equal(json_array_size(cl), 1);
    assert_string_equal(jstr(json_array_get(cl, 0), "name", NULL), "C01");
    json_decref(t);
}

/* The CPU power model from (utilisation, power) points P = 50 + 100 u:
 * the best by RMSE is linear near 50/150 W; --power-model square forces
 * square into the topology; a run that stayed low is extrapolated, saying
 * so; no points keep OpenDC's default, assumed. */
static void test_power_fit(void **state)
{
    (void)state;
    struct powerfit_point p[11];
    for (int i = 0; i <= 10; i++)
        p[i] = (struct powerfit_point){i / 10.0, 50 + 100 * (i / 10.0) + (i % 2 ? 0.5 : -0.5), 1};
    struct odc_power pw;
    odc_power_fit(&pw, p, 11, -1, "test");
    assert_false(pw.assumed);
    assert_true(pw.measured && pw.has_fit && !pw.forced);
    assert_string_equal(pw.type, "linear");
    assert_true(fabs(pw.idle_w - 50) < 1 && fabs(pw.max_w - 150) < 1);
    assert_true(pw.fit.cand[POWERFIT_SQUARE].ok && pw.fit.cand[POWERFIT_SQUARE].rmse_w > pw.fit.cand[0].rmse_w);
    assert_false(pw.fit.extrapolated);

    odc_power_fit(&pw, p, 11, POWERFIT_SQUARE, "test");
    assert_string_equal(pw.type, "square");
    assert_true(pw.forced && !pw.assumed);
    assert_true(pw.idle_w == pw.fit.cand[POWERFIT_SQUARE].idle_w && pw.max_w == pw.fit.cand[POWERFIT_SQUARE].max_w);
    struct odc_node n = {.node_id = "n1", .folder = "n1", .cores = 2, .mhz = 2000, .mem_mb = 1024,
                         .cpu_model = "", .stage = "", .power = pw};
    json_t *t = odc_topology(&n, 1);
    json_t *h = json_array_get(json_object_get(json_array_get(json_object_get(t, "clusters"), 0), "hosts"), 0);
    assert_string_equal(jstr(h, "cpuPowerModel", "type"), "square");
    char want[64];
    snprintf(want, sizeof want, "%.3f W", pw.max_w);
    assert_string_equal(jstr(h, "cpuPowerModel", "maxPower"), want);
    json_decref(t);
    char line[512];
    odc_power_describe(&pw, line, sizeof line);
    assert_non_null(strstr(line, "forced by --power-model"));

    /* up to 30% only: maxPower extrapolated, and said so */
    odc_power_fit(&pw, p, 4, -1, "test");
    assert_false(pw.assumed);
    assert_true(pw.fit.extrapolated);
    assert_non_null(strstr(pw.fit.notice, "maxPower extrapolated"));
    odc_power_describe(&pw, line, sizeof line);
    assert_non_null(strstr(line, "extrapolated"));

    /* no power: the default, assumed, and said so */
    odc_power_fit(&pw, NULL, 0, -1, "test");
    assert_true(pw.assumed && !pw.measured);
    assert_string_equal(pw.type, "linear");
    assert_true(pw.idle_w == 200 && pw.max_w == 400);
    odc_power_describe(&pw, line, sizeof line);
    assert_non_null(strstr(line, "recorded no power"));
    assert_non_null(strstr(line, "assumptions"));
    /* power, but no spread in utilisation: the default, with the fit's notice */
    for (int i = 0; i < 11; i++)
        p[i].util = 0.7;
    odc_power_fit(&pw, p, 11, -1, "test");
    assert_true(pw.assumed && pw.measured);
    odc_power_describe(&pw, line, sizeof line);
    assert_non_null(strstr(line, "did not vary"));
}

/* parse's fit in audit.json: the best by RMSE, a forced one, and what is
 * not a fit (refused, no power, a candidate with maxPower < idlePower). */
static void test_power_from_audit(void **state)
{
    (void)state;
    json_error_t e;
    json_t *a = json_loads("{\"measured\": true, \"fit\": {\"points\": 40, \"refused\": false, "
                           "\"extrapolated\": false, \"best\": \"linear\", \"candidates\": ["
                           "{\"type\": \"linear\", \"fitted\": true, \"idle_w\": 50.5, \"max_w\": 149, "
                           "\"rmse_w\": 1.5, \"r2\": 0.99},"
                           "{\"type\": \"square\", \"fitted\": true, \"idle_w\": 70, \"max_w\": 150, "
                           "\"rmse_w\": 9},"
                           "{\"type\": \"cubic\", \"fitted\": true, \"idle_w\": 90, \"max_w\": 80, "
                           "\"rmse_w\": 0.1},"
                           "{\"type\": \"sqrt\", \"fitted\": false}]}}", 0, &e);
    assert_non_null(a);
    struct odc_power pw;
    bool measured;
    assert_true(odc_power_from_audit(&pw, a, -1, &measured));
    assert_true(measured);
    assert_string_equal(pw.type, "linear");   /* cubic's maxPower < idlePower: not a fit */
    assert_true(pw.idle_w == 50.5 && pw.max_w == 149 && !pw.assumed && !pw.forced);
    assert_int_equal(pw.fit.n, 40);
    assert_true(pw.fit.cand[POWERFIT_LINEAR].r2 == 0.99 && isnan(pw.fit.cand[POWERFIT_SQUARE].r2));
    assert_false(pw.fit.cand[POWERFIT_CUBIC].ok);
    assert_true(odc_power_from_audit(&pw, a, POWERFIT_SQUARE, &measured));
    assert_string_equal(pw.type, "square");
    assert_true(pw.idle_w == 70 && pw.max_w == 150 && pw.forced);
    assert_false(odc_power_from_audit(&pw, a, POWERFIT_SQRT, &measured));
    assert_false(odc_power_from_audit(&pw, a, POWERFIT_CUBIC, &measured));
    json_object_set_new(json_object_get(a, "fit"), "refused", json_true());
    assert_false(odc_power_from_audit(&pw, a, -1, &measured));
    assert_true(measured);
    json_object_set_new(a, "measured", json_false());
    assert_false(odc_power_from_audit(&pw, a, -1, &measured));
    assert_false(measured);
    json_decref(a);
}

/* The run's policy into OpenDC's terms: prefab names OpenDC defines, the
 * filter form for the rest, compute first. */
static void test_policy_json(void **state)
{
    (void)state;
    struct policy p;
    char note[512], err[256];
    bool exact;
    assert_true(odc_policy_from_record("FilterOnly", &p));
    json_t *j = odc_policy_json(&p, &exact, note, sizeof note);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(s, "{\"type\":\"filter\",\"filters\":[{\"type\":\"compute\"},{\"type\":\"vcpu\","
                           "\"allocationRatio\":1.0},{\"type\":\"ram\",\"allocationRatio\":1.0}],"
                           "\"weighers\":[],\"subsetSize\":1}");
    assert_true(exact);
    free(s);
    json_decref(j);

    assert_true(odc_policy_from_record("MemInv", &p));
    j = odc_policy_json(&p, &exact, note, sizeof note);
    assert_string_equal(jstr(j, "type", NULL), "prefab");
    assert_string_equal(jstr(j, "prefabName", NULL), "MemInv");
    assert_false(exact);
    json_decref(j);

    /* a prefab with another ratio is no longer the prefab */
    policy_set_ratios(&p, 2.0, 0);
    j = odc_policy_json(&p, &exact, note, sizeof note);
    assert_string_equal(jstr(j, "type", NULL), "filter");
    json_t *w = json_array_get(json_object_get(j, "weighers"), 0);
    assert_string_equal(jstr(w, "type", NULL), "ram");
    assert_true(json_real_value(json_object_get(w, "multiplier")) == -1.0);
    json_decref(j);

    assert_true(odc_policy_from_record("instances-max", &p));
    j = odc_policy_json(&p, &exact, note, sizeof note);
    assert_string_equal(jstr(json_array_get(json_object_get(j, "filters"), 0), "type", NULL), "compute");
    assert_string_equal(jstr(json_array_get(json_object_get(j, "weighers"), 0), "type", NULL),
                        "instanceCount");
    assert_non_null(strstr(note, "largest node id"));
    json_decref(j);

    assert_false(odc_policy_from_record("custom", &p));
    assert_false(odc_policy_from_record(NULL, &p));
    assert_int_equal(policy_custom("vcpu:1.5,instanceCount:4", "coreRam:-1", 3, &p, err, sizeof err), 0);
    j = odc_policy_json(&p, &exact, note, sizeof note);
    s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(s, "{\"type\":\"filter\",\"filters\":[{\"type\":\"compute\"},{\"type\":\"vcpu\","
                           "\"allocationRatio\":1.5},{\"type\":\"instanceCount\",\"limit\":4},{\"type\":"
                           "\"ram\",\"allocationRatio\":1.0}],\"weighers\":[{\"type\":\"coreRam\","
                           "\"multiplier\":-1.0}],\"subsetSize\":3}");
    free(s);
    json_decref(j);
    assert_int_equal(odc_export_interval_ms(5000), 1000);
    assert_int_equal(odc_export_interval_ms(7200 * 1000), 10000);
    assert_int_equal(odc_export_interval_ms(86400 * 1000), 60000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fragments_no_samples),
        cmocka_unit_test(test_fragments_head_tail_filled),
        cmocka_unit_test(test_fragments_spread_and_scale),
        cmocka_unit_test(test_fragments_clip_overlap_rounding),
        cmocka_unit_test(test_fragments_cap),
        cmocka_unit_test(test_fragments_demand_per_interval),
        cmocka_unit_test(test_fragments_demand_exact_total),
        cmocka_unit_test(test_fragments_demand_cap),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_upstream_compat_worked_example),
        cmocka_unit_test(test_ours_worked_example),
        cmocka_unit_test(test_http_requests_share_cpu),
        cmocka_unit_test(test_colliding_pids),
        cmocka_unit_test(test_failed_retries_identity),
        cmocka_unit_test(test_export_demand),
        cmocka_unit_test(test_topology),
        cmocka_unit_test(test_power_fit),
        cmocka_unit_test(test_power_from_audit),
        cmocka_unit_test(test_policy_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
