/* test_powerfit.c -- OpenDC's power models fitted back from points made
 * with them, the constraints, the refusal to extrapolate, forcing a model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trace/powerfit.h"

#define N 41

static void make(struct powerfit_point *p, enum powerfit_model m, double idle, double max,
                 double umax, double noise)
{
    srand(7);
    for (int i = 0; i < N; i++) {
        double u = umax * i / (N - 1);
        double e = noise * ((double)rand() / RAND_MAX - 0.5) * 2;
        p[i] = (struct powerfit_point){u, powerfit_eval(m, idle, max, u) + e, 1.0};
    }
}

static void test_formulas(void **state)
{
    (void)state;
    /* OpenDC: idle + (max - idle) * g(clamp(u)) */
    assert_true(powerfit_eval(POWERFIT_LINEAR, 50, 150, 0.5) == 100);
    assert_true(powerfit_eval(POWERFIT_SQUARE, 50, 150, 0.5) == 75);
    assert_true(powerfit_eval(POWERFIT_CUBIC, 50, 150, 0.5) == 62.5);
    assert_true(fabs(powerfit_eval(POWERFIT_SQRT, 50, 150, 0.25) - 100) < 1e-12);
    assert_true(powerfit_eval(POWERFIT_LINEAR, 50, 150, 1.7) == 150);   /* clamped */
    assert_true(powerfit_eval(POWERFIT_LINEAR, 50, 150, -0.2) == 50);
    assert_string_equal(powerfit_name(POWERFIT_SQRT), "sqrt");
    assert_int_equal(powerfit_model_of("cubic"), POWERFIT_CUBIC);
    assert_int_equal(powerfit_model_of("mse"), -1);
}

/* Each model's own points give back its parameters and win by RMSE. */
static void test_recovers_each_model(void **state)
{
    (void)state;
    struct powerfit_point p[N];
    for (int m = 0; m < POWERFIT_NMODELS; m++) {
        make(p, (enum powerfit_model)m, 42, 180, 1.0, 0);
        struct powerfit_result r;
        assert_int_equal(powerfit_fit(p, N, NULL, &r), 0);
        assert_int_equal(r.best, m);
        assert_true(fabs(r.cand[m].idle_w - 42) < 1e-6);
        assert_true(fabs(r.cand[m].max_w - 180) < 1e-6);
        assert_true(r.cand[m].rmse_w < 1e-6);
        assert_true(fabs(r.cand[m].r2 - 1) < 1e-9);
        for (int k = 0; k < POWERFIT_NMODELS; k++)
            if (k != m) {
                assert_true(r.cand[k].ok);
                assert_true(r.cand[k].rmse_w > r.cand[m].rmse_w);
                assert_true(r.cand[k].r2 < 1);
            }
    }
}

/* Noise of +-5 W: linear within 1 W of the truth, RMSE about the noise's. */
static void test_noise(void **state)
{
    (void)state;
    struct powerfit_point p[N];
    make(p, POWERFIT_LINEAR, 50, 150, 1.0, 5);
    struct powerfit_result r;
    assert_int_equal(powerfit_fit(p, N, NULL, &r), 0);
    assert_int_equal(r.best, POWERFIT_LINEAR);
    assert_true(fabs(r.cand[0].idle_w - 50) < 2 && fabs(r.cand[0].max_w - 150) < 2);
    assert_true(r.cand[0].rmse_w > 1 && r.cand[0].rmse_w < 5);
    assert_true(r.cand[0].r2 > 0.95);
}

/* Weights: a heavy point pulls the fit; weight 0 counts as 1. */
static void test_weights(void **state)
{
    (void)state;
    struct powerfit_point p[] = {{0, 50, 1}, {1, 150, 1}, {0.5, 120, 0}, {0.5, 100, 1000}};
    struct powerfit_result r;
    assert_int_equal(powerfit_fit(p, 4, NULL, &r), 0);
    /* the heavy (0.5, 100) point sits on the line through the ends */
    assert_true(fabs(r.cand[0].idle_w - 50) < 0.1 && fabs(r.cand[0].max_w - 150) < 0.2);
    p[3].weight = 1;
    assert_int_equal(powerfit_fit(p, 4, NULL, &r), 0);
    assert_true(r.cand[0].idle_w > 51);
}

static void test_refuses_extrapolation(void **state)
{
    (void)state;
    struct powerfit_point p[N];
    make(p, POWERFIT_LINEAR, 50, 150, 0.3, 0);
    struct powerfit_result r;
    assert_int_equal(powerfit_fit(p, N, NULL, &r), -1);
    assert_true(r.refused);
    assert_int_equal(r.best, -1);
    assert_non_null(strstr(r.notice, "never went above 30%"));
    struct powerfit_opts o;
    powerfit_opts_default(&o);
    o.extrapolate = true;
    assert_int_equal(powerfit_fit(p, N, &o, &r), 0);
    assert_true(r.extrapolated);
    assert_non_null(strstr(r.notice, "extrapolated"));
    assert_true(fabs(r.cand[0].max_w - 150) < 1e-6);
    o.extrapolate = false;
    o.util_needed = 0.25;
    assert_int_equal(powerfit_fit(p, N, &o, &r), 0);
    assert_false(r.extrapolated);
    assert_string_equal(r.notice, "");
}

static void test_degenerate(void **state)
{
    (void)state;
    struct powerfit_point flat[] = {{0.8, 100, 1}, {0.8, 101, 1}, {0.8, 99, 1}};
    struct powerfit_result r;
    assert_int_equal(powerfit_fit(flat, 3, NULL, &r), -1);
    assert_non_null(strstr(r.notice, "did not vary"));
    assert_int_equal(powerfit_fit(flat, 2, NULL, &r), -1);
    assert_non_null(strstr(r.notice, "at least"));
    struct powerfit_point nan[] = {{NAN, 1, 1}, {0, NAN, 1}, {0, 1, 1}, {1, 2, 1}};
    assert_int_equal(powerfit_fit(nan, 4, NULL, &r), -1);   /* 2 usable */
    assert_int_equal(r.n, 2);
    /* power falling with load: slope held at 0 (maxPower >= idlePower) */
    struct powerfit_point down[] = {{0, 100, 1}, {0.5, 90, 1}, {1, 80, 1}};
    assert_int_equal(powerfit_fit(down, 3, NULL, &r), 0);
    assert_true(r.cand[0].clamped);
    assert_true(fabs(r.cand[0].idle_w - 90) < 1e-9 && r.cand[0].max_w == r.cand[0].idle_w);
    /* a negative intercept is held at 0 */
    struct powerfit_point neg[] = {{0.5, 10, 1}, {0.75, 60, 1}, {1, 110, 1}};
    assert_int_equal(powerfit_fit(neg, 3, NULL, &r), 0);
    assert_true(r.cand[0].clamped && r.cand[0].idle_w == 0 && r.cand[0].max_w > 0);
}

static void test_forced(void **state)
{
    (void)state;
    struct powerfit_point p[N];
    make(p, POWERFIT_LINEAR, 50, 150, 1.0, 0);
    struct powerfit_opts o;
    powerfit_opts_default(&o);
    o.forced = POWERFIT_CUBIC;
    struct powerfit_result r;
    assert_int_equal(powerfit_fit(p, N, &o, &r), 0);
    assert_int_equal(r.best, POWERFIT_CUBIC);
    assert_true(r.cand[POWERFIT_CUBIC].rmse_w > r.cand[POWERFIT_LINEAR].rmse_w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formulas),
        cmocka_unit_test(test_recovers_each_model),
        cmocka_unit_test(test_noise),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_refuses_extrapolation),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_forced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
