/* test_energy.c -- a node's power from its sources, the idle power, the
 * energy, and two tasks with a known CPU split sharing the energy above
 * idle (their process intervals not aligned with the host's). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/energy.h"

#define T0 1790000000000LL

static json_t *meta(void)
{
    json_error_t je;
    return json_loads("{\"cpu_cores\": 2, \"power_sources\": ["
                      "{\"name\": \"pkg\", \"origin\": \"powercap\", \"in_total\": true},"
                      "{\"name\": \"core\", \"origin\": \"powercap\", \"in_total\": false},"
                      "{\"name\": \"dram\", \"origin\": \"powercap\", \"in_total\": true}]}",
                      0, &je);
}

static json_t *host_line(int64_t ts, double dt, double busy, double pkg, double dram,
                         const char *extra)
{
    char text[512], d[64] = "";
    if (dram >= 0)
        snprintf(d, sizeof d, ", \"dram\": %.6f", dram);
    snprintf(text, sizeof text, "{\"ts_ms\": %lld, \"dt_ms\": %.3f, \"cpu_idle\": %.6f, "
             "\"cpu_iowait\": 0, \"power_w\": {\"pkg\": %.6f, \"core\": 1%s}%s}",
             (long long)ts, dt, 1 - busy, pkg, d, extra);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    return j;
}

static void test_node_power(void **state)
{
    (void)state;
    json_t *m = meta();
    struct energy e;
    energy_init(&e, m);
    double w = 0;
    json_t *l = host_line(T0, 1000, 0.5, 40, 5, "");
    assert_true(energy_add_host(&e, l, &w));
    assert_true(fabs(w - 45) < 1e-9);   /* pkg + dram; core is inside pkg */
    json_decref(l);
    l = host_line(T0 + 1000, 1000, 0.5, 40, -1, ", \"power_reset\": [\"dram\"]");
    assert_false(energy_add_host(&e, l, &w));   /* dram missing: a gap */
    json_decref(l);
    l = host_line(T0 + 1000, 1000, 0.5, 40, 5, "");
    assert_false(energy_add_host(&e, l, &w));   /* repeated time: ignored */
    json_decref(l);
    l = host_line(T0 + 2000, 1000, 0.5, 40, 5, ", \"power_wrap\": [\"pkg\"]");
    assert_true(energy_add_host(&e, l, &w));
    json_decref(l);
    energy_finish(&e, 0, false);
    assert_int_equal(e.resets, 1);
    assert_int_equal(e.wraps, 1);
    assert_int_equal(e.npower, 2);
    assert_int_equal(e.nh, 3);
    assert_true(fabs(e.energy_j - 90) < 1e-9);
    assert_true(fabs(e.covered_ms / e.window_ms - 2.0 / 3) < 1e-9);
    energy_free(&e);
    json_decref(m);
}

/* 2 cores, P = 50 + 100 u.  5 s idle, then 20 s with task 0 at 0.8 core and
 * task 1 at 0.4 core, sampled every 200 ms from an offset of 70 ms. */
static void run_split(struct energy *e, bool idle_share)
{
    json_t *m = meta();
    energy_init(e, m);
    json_decref(m);
    for (int i = 1; i <= 25; i++) {
        double busy = i <= 5 ? 0 : 0.6;
        json_t *l = host_line(T0 + i * 1000, 1000, busy, 50 + 100 * busy - 2, 2, "");
        energy_add_host(e, l, NULL);
        json_decref(l);
    }
    for (int k = 0; k < 100; k++) {
        double lo = (double)T0 + 5000 + 70 + k * 200, hi = lo + 200;
        if (hi > (double)T0 + 25000)
            hi = (double)T0 + 25000;
        energy_add_proc(e, 0, lo, hi, 0.8 * (hi - lo));
        energy_add_proc(e, 1, lo, hi, 0.4 * (hi - lo));
    }
    energy_finish(e, 3, idle_share);
}

static void test_split(void **state)
{
    (void)state;
    struct energy e;
    run_split(&e, false);
    assert_true(e.has_idle);
    assert_string_equal(e.idle_source, "linear fit intercept");
    assert_true(fabs(e.idle_w - 50) < 1e-6);
    assert_true(e.fitted);
    assert_true(fabs(e.above_idle_j - 1200) < 1e-6);   /* 60 W x 20 s */
    double a = energy_task(&e, 0), b = energy_task(&e, 1);
    assert_true(isnan(energy_task(&e, 2)));   /* no samples */
    /* the 70 ms offset loses the first 70 ms of CPU: within 2% */
    assert_true(fabs(a + b - e.above_idle_j) / e.above_idle_j < 0.02);
    assert_true(fabs(a / b - 2) < 0.02);
    assert_true(fabs(e.attributed_j - (a + b)) < 1e-9);
    struct jbuf jb;
    jb_init(&jb);
    energy_render_md(&e, &jb);
    assert_non_null(strstr(jb.p, "Idle power: 50.0 W (linear fit intercept)"));
    assert_non_null(strstr(jb.p, "| linear | 50.0 | 150.0 | 0.00 | 1.0000 |"));
    jb_reset(&jb);
    energy_render_json(&e, &jb);
    assert_non_null(strstr(jb.p, "\"type\": \"linear\", \"fitted\": true, \"idle_w\": 50"));
    jb_free(&jb);
    energy_free(&e);

    /* with the idle share: the two tasks were there together, 50 W each half */
    run_split(&e, true);
    double ia = energy_task(&e, 0) - e.task_j[0], ib = energy_task(&e, 1) - e.task_j[1];
    assert_true(fabs(ia - ib) < 1e-6);
    assert_true(fabs(ia + ib - 50 * 19.93) < 1.0);
    energy_free(&e);
}

/* The utilisation never low: idle from the lowest intervals; no fit when
 * the run never went above 50%. */
static void test_idle_lowest(void **state)
{
    (void)state;
    struct energy e;
    energy_init(&e, NULL);
    for (int i = 1; i <= 10; i++) {
        double busy = i <= 3 ? 0.30 : 0.40;
        json_t *l = host_line(T0 + i * 1000, 1000, busy, 50 + 100 * busy, -1, "");
        assert_true(energy_add_host(&e, l, NULL));   /* no source list: all summed */
        json_decref(l);
    }
    energy_finish(&e, 0, false);
    assert_string_equal(e.idle_source, "lowest-utilisation intervals");
    assert_true(fabs(e.idle_w - 81) < 1e-6);   /* (80 + 1 core) at 30% */
    assert_false(e.fitted);
    assert_true(e.fit.refused);
    struct jbuf jb;
    jb_init(&jb);
    energy_render_md(&e, &jb);
    assert_non_null(strstr(jb.p, "never went above 40%"));
    jb_free(&jb);
    energy_free(&e);
}

/* The points a CTS host line gives back, as parse fitted them. */
static void test_cts_point(void **state)
{
    (void)state;
    json_error_t je;
    json_t *l = json_loads("{\"ts_ms\": 1790000000000, \"dt_ms\": 500, \"cpu_idle\": 0.25, "
                           "\"cpu_iowait\": 0.05, \"cpu_util\": 70, \"node_power_w\": 120.5}",
                           0, &je);
    struct powerfit_point p;
    assert_true(energy_cts_point(l, &p));
    assert_true(fabs(p.util - 0.7) < 1e-12 && p.watts == 120.5 && p.weight == 0.5);
    json_object_del(l, "cpu_idle");
    assert_true(energy_cts_point(l, &p) && fabs(p.util - 0.7) < 1e-12);
    json_object_del(l, "node_power_w");
    assert_false(energy_cts_point(l, &p));
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_power),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_idle_lowest),
        cmocka_unit_test(test_cts_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
