/* progress_eta: the time left of a local run from the task durations seen so far. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "common/progress.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_no_figure(void **state)
{
    (void)state;
    double r[] = {3};
    /* nothing finished yet: no mean, no ETA (not "0 s") */
    NEAR(progress_eta(0, r, 1, 5), -1);
    /* the last task has outrun the mean: no countdown stuck at 0 s */
    double late[] = {9};
    NEAR(progress_eta(6, late, 1, 0), -1);
    NEAR(progress_eta(6, NULL, 0, 0), -1);
}

static void test_running_and_waiting(void **state)
{
    (void)state;
    /* the last task, 2 s into a mean of 6: 4 s left (not elapsed/finished) */
    double r1[] = {2};
    NEAR(progress_eta(6, r1, 1, 0), 4);
    /* two slots both free soon, three waiting: two more waves of 10 s */
    double r2[] = {10, 10};
    NEAR(progress_eta(10, r2, 2, 3), 20);
    /* one waiting, slots free at 0 and 5: it starts at once, 10 s */
    double r3[] = {10, 5};
    NEAR(progress_eta(10, r3, 2, 1), 10);
    /* paced: nothing runs, 4 wait, one slot assumed */
    NEAR(progress_eta(2, NULL, 0, 4), 8);
    /* an overdue task does not make the rest negative */
    double r4[] = {30, 1};
    NEAR(progress_eta(10, r4, 2, 0), 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_figure),
        cmocka_unit_test(test_running_and_waiting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
