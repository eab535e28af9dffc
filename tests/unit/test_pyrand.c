/* Expected values were computed with CPython 3.11 (random module). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "sched/pyrand.h"

static void test_getrandbits32_vectors(void **state)
{
    (void)state;
    struct pyrand r;
    /* random.Random(20250901).getrandbits(32) x3, upstream §7.5 */
    pyrand_seed(&r, 20250901);
    assert_int_equal(pyrand_getrandbits(&r, 32), 129133910U);
    assert_int_equal(pyrand_getrandbits(&r, 32), 2317123230U);
    assert_int_equal(pyrand_getrandbits(&r, 32), 3919194037U);

    pyrand_seed(&r, 0); /* seed 0 is a real seed: one zero key word */
    assert_int_equal(pyrand_u32(&r), 3626764237U);
    assert_int_equal(pyrand_u32(&r), 1654615998U);
    assert_int_equal(pyrand_u32(&r), 3255389356U);

    pyrand_seed(&r, (INT64_C(1) << 40) + 5); /* two key words */
    assert_int_equal(pyrand_u32(&r), 2166296868U);
    assert_int_equal(pyrand_u32(&r), 2220160828U);
    assert_int_equal(pyrand_u32(&r), 1153647273U);

    pyrand_seed(&r, -7); /* Python uses |seed| */
    assert_int_equal(pyrand_u32(&r), 1390851128U);
    assert_int_equal(pyrand_u32(&r), 4071050724U);

    pyrand_seed_u64(&r, UINT64_MAX);
    assert_int_equal(pyrand_u32(&r), 93740670U);
    assert_int_equal(pyrand_u32(&r), 1068495656U);
}

static void test_getrandbits_widths(void **state)
{
    (void)state;
    struct pyrand r;
    pyrand_seed(&r, 42);
    /* [r.getrandbits(k) for k in (1, 7, 31, 33, 64)] */
    assert_int_equal(pyrand_getrandbits(&r, 1), 1);
    assert_int_equal(pyrand_getrandbits(&r, 7), 14);
    assert_int_equal(pyrand_getrandbits(&r, 31), 53710184);
    assert_true(pyrand_getrandbits(&r, 33) == UINT64_C(3184935163));
    assert_true(pyrand_getrandbits(&r, 64) == UINT64_C(4117511471858006928));
    assert_int_equal(pyrand_getrandbits(&r, 0), 0);
}

static void test_randbelow_randint(void **state)
{
    (void)state;
    struct pyrand r;
    pyrand_seed(&r, 42);
    /* [r._randbelow(n) for n in (1, 2, 3, 10, 1000, 2**33+1, 2**64-1)] */
    assert_true(pyrand_randbelow(&r, 1) == 0);
    assert_true(pyrand_randbelow(&r, 2) == 0);
    assert_true(pyrand_randbelow(&r, 3) == 2);
    assert_true(pyrand_randbelow(&r, 10) == 4);
    assert_true(pyrand_randbelow(&r, 1000) == 250);
    assert_true(pyrand_randbelow(&r, (UINT64_C(1) << 33) + 1) == UINT64_C(958682846));
    assert_true(pyrand_randbelow(&r, UINT64_MAX) == UINT64_C(1890702223848595625));

    pyrand_seed(&r, 42);
    static const int64_t want[] = {2, 1, 5, 4, 4, 3, 2, 9, 2, 10}; /* randint(1, 10) */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(pyrand_randint(&r, 1, 10), want[i]);
    assert_int_equal(pyrand_randint(&r, 5, 5), 5);
}

static void test_shuffle(void **state)
{
    (void)state;
    struct pyrand r;
    pyrand_seed(&r, 5);
    int v[20];
    for (int i = 0; i < 20; i++)
        v[i] = i;
    pyrand_shuffle(&r, v, 20, sizeof v[0]);
    /* l = list(range(20)); random.Random(5).shuffle(l) */
    static const int want[20] = {4, 9, 6, 5, 14, 17, 18, 1, 2, 15, 10, 3, 12, 7, 13, 0, 16, 11, 8, 19};
    assert_memory_equal(v, want, sizeof want);

    /* Element size other than int (strings through pointers). */
    pyrand_seed(&r, 5);
    const char *s[20];
    static const char *names = "abcdefghijklmnopqrst";
    char store[20][2];
    for (int i = 0; i < 20; i++) {
        store[i][0] = names[i];
        store[i][1] = 0;
        s[i] = store[i];
    }
    pyrand_shuffle(&r, s, 20, sizeof s[0]);
    for (int i = 0; i < 20; i++)
        assert_int_equal(s[i][0], names[want[i]]);

    /* 0 and 1 elements draw nothing: the next output is unchanged. */
    struct pyrand a, b;
    pyrand_seed(&a, 9);
    pyrand_seed(&b, 9);
    pyrand_shuffle(&a, v, 1, sizeof v[0]);
    pyrand_shuffle(&a, v, 0, sizeof v[0]);
    assert_int_equal(pyrand_u32(&a), pyrand_u32(&b));
}

static void test_random_float(void **state)
{
    (void)state;
    struct pyrand r;
    pyrand_seed(&r, 1);
    assert_true(pyrand_random(&r) == 0.13436424411240122); /* random.Random(1).random() */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getrandbits32_vectors),
        cmocka_unit_test(test_getrandbits_widths),
        cmocka_unit_test(test_randbelow_randint),
        cmocka_unit_test(test_shuffle),
        cmocka_unit_test(test_random_float),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
