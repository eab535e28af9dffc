#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "task/cpubind.h"
#include "collect/procid.h"

static cpu_set_t L(const char *s)
{
    cpu_set_t set;
    char err[256];
    if (cpulist_parse(s, &set, err, sizeof err) < 0)
        fail_msg("bad list in test: %s", err);
    return set;
}

static void assert_list(const cpu_set_t *set, const char *want)
{
    char *got = cpulist_format(set);
    assert_string_equal(got, want);
    free(got);
}

static void test_cpulist_parse_format(void **state)
{
    (void)state;
    cpu_set_t s = L("0-3,5");
    assert_int_equal(CPU_COUNT(&s), 5);
    assert_true(CPU_ISSET(5, &s) && !CPU_ISSET(4, &s));
    assert_list(&s, "0-3,5");
    s = L(" 7 , 1-2,3\n");
    assert_list(&s, "1-3,7");
    s = L("4-4");
    assert_list(&s, "4");
    s = L("0,2,4,6");
    assert_list(&s, "0,2,4,6");
    s = L("1023");
    assert_list(&s, "1023");
    CPU_ZERO(&s);
    assert_list(&s, "");
}

static void test_cpulist_rejects(void **state)
{
    (void)state;
    const char *bad[] = {"", "a", "1-", "-1", "3-1", "1,,2", "1024", "0-1024", "1 2", "0x1",
                         "1,", "2-3-4"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cpu_set_t s;
        CPU_ZERO(&s);
        CPU_SET(9, &s);
        char err[256] = "";
        assert_int_equal(cpulist_parse(bad[i], &s, err, sizeof err), -1);
        assert_non_null(strstr(err, "bad CPU list item"));
        assert_true(CPU_ISSET(9, &s));  /* untouched */
    }
    char err[256];
    cpu_set_t s;
    cpulist_parse("0-3,x7", &s, err, sizeof err);
    assert_non_null(strstr(err, "'x7'"));
}

static void test_pick_simple(void **state)
{
    (void)state;
    cpu_set_t allowed = L("0-3"), busy, got;
    CPU_ZERO(&busy);
    assert_int_equal(cpu_pick(&allowed, &busy, NULL, 2, &got), 0);
    assert_list(&got, "0-1");
    busy = L("0");
    assert_int_equal(cpu_pick(&allowed, &busy, NULL, 2, &got), 0);
    assert_list(&got, "1-2");
    busy = L("0-2");
    assert_int_equal(cpu_pick(&allowed, &busy, NULL, 1, &got), 0);
    assert_list(&got, "3");
    /* not enough free: -1 and out untouched */
    CPU_ZERO(&got);
    CPU_SET(42, &got);
    assert_int_equal(cpu_pick(&allowed, &busy, NULL, 2, &got), -1);
    assert_true(CPU_ISSET(42, &got));
    assert_int_equal(cpu_pick(&allowed, &busy, NULL, 0, &got), -1);
    /* only allowed CPUs are used */
    allowed = L("2,5");
    CPU_ZERO(&busy);
    assert_int_equal(cpu_pick(&allowed, &busy, NULL, 2, &got), 0);
    assert_list(&got, "2,5");
}

/* 4 cores x 2 threads, siblings (0,4) (1,5) (2,6) (3,7) like many x86 boxes. */
static void smt_topology(int core_of[CPU_SETSIZE])
{
    for (int c = 0; c < CPU_SETSIZE; c++)
        core_of[c] = -1;
    for (int c = 0; c < 8; c++)
        core_of[c] = c % 4;
}

static void test_pick_prefers_whole_cores(void **state)
{
    (void)state;
    static int core_of[CPU_SETSIZE];
    smt_topology(core_of);
    cpu_set_t allowed = L("0-7"), busy, got;
    CPU_ZERO(&busy);
    /* 2 units: one whole core, both threads */
    assert_int_equal(cpu_pick(&allowed, &busy, core_of, 2, &got), 0);
    assert_list(&got, "0,4");
    /* 1 unit with core 0 half used: take its free sibling, keep whole cores free */
    busy = L("0");
    assert_int_equal(cpu_pick(&allowed, &busy, core_of, 1, &got), 0);
    assert_list(&got, "4");
    /* 2 units with cores 0 and 1 half used: a whole free core beats two halves */
    busy = L("0,1");
    assert_int_equal(cpu_pick(&allowed, &busy, core_of, 2, &got), 0);
    assert_list(&got, "2,6");
    /* 3 units: a whole core, then a CPU of a partly used core */
    busy = L("0");
    assert_int_equal(cpu_pick(&allowed, &busy, core_of, 3, &got), 0);
    assert_list(&got, "1,4-5");
}

static bool alive_odd(pid_t pid, uint64_t ticks, void *ud)
{
    (void)ticks;
    (*(int *)ud)++;
    return pid % 2 == 1;
}

static void test_leases_roundtrip_and_prune(void **state)
{
    (void)state;
    struct cpu_leases l;
    leases_parse("# tracekit cpu leases v1\n"
                 "0 101 5000 102 5001\n"
                 "1 200 6000 0 0\n"
                 "garbage line\n"
                 "2 300 7000 301 7001\n"
                 "3 400 8000 401 80", /* torn last line */
                 &l);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.malformed, 2);
    assert_int_equal(l.v[1].cpu, 1);
    assert_int_equal(l.v[1].holder, 200);
    assert_int_equal(l.v[2].task_ticks, 7001);
    cpu_set_t busy;
    leases_busy(&l, &busy);
    assert_list(&busy, "0-2");

    char *text = leases_format(&l);
    assert_string_equal(text, "# tracekit cpu leases v1\n0 101 5000 102 5001\n1 200 6000 0 0\n"
                              "2 300 7000 301 7001\n");
    struct cpu_leases back;
    leases_parse(text, &back);
    assert_int_equal(back.n, 3);
    assert_int_equal(back.malformed, 0);
    free(text);
    leases_free(&back);

    /* holder 101 alive; 200 dead, no task; 300 dead but task 301 alive */
    int calls = 0;
    assert_int_equal(leases_prune(&l, alive_odd, &calls), 1);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[0].cpu, 0);
    assert_int_equal(l.v[1].cpu, 2);
    assert_true(calls >= 3);

    assert_int_equal(leases_drop_holder(&l, 300, 9999), 0);  /* other start ticks */
    assert_int_equal(leases_drop_holder(&l, 300, 7000), 1);
    assert_int_equal(l.n, 1);
    leases_free(&l);
}

static void test_allocator_file(void **state)
{
    (void)state;
    char path[] = "/tmp/tk-cpus-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cpu_set_t pool = L("0-1"), got1, got2, got3;
    char err[256];
    /* the holder is this test process: only the exact (pid, ticks) pair is alive */
    uint64_t ticks = 0;
    assert_int_equal(procid_read(getpid(), &ticks, NULL), 0);
    assert_true(procid_alive(getpid(), ticks));
    assert_false(procid_alive(getpid(), ticks + 12345));
    struct cpu_holder me = {getpid(), ticks, 0, 0};
    assert_int_equal(cpualloc_acquire(path, &pool, 1, &me, &got1, err, sizeof err), 0);
    assert_int_equal(cpualloc_acquire(path, &pool, 1, &me, &got2, err, sizeof err), 0);
    assert_int_equal(CPU_COUNT(&got1), 1);
    assert_false(CPU_EQUAL(&got1, &got2));
    assert_int_equal(cpualloc_acquire(path, &pool, 1, &me, &got3, err, sizeof err), 1);
    assert_non_null(strstr(err, "need 1 free CPU out of 0-1"));
    /* a dead holder's lease is reclaimed: fake one with wrong start ticks */
    assert_int_equal(cpualloc_release(path, &me), 0);
    struct cpu_holder ghost = {getpid(), ticks + 12345, 0, 0};
    assert_int_equal(cpualloc_acquire(path, &pool, 2, &ghost, &got1, err, sizeof err), 0);
    assert_int_equal(cpualloc_acquire(path, &pool, 2, &me, &got2, err, sizeof err), 0);
    assert_list(&got2, "0-1");
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpulist_parse_format),
        cmocka_unit_test(test_cpulist_rejects),
        cmocka_unit_test(test_pick_simple),
        cmocka_unit_test(test_pick_prefers_whole_cores),
        cmocka_unit_test(test_leases_roundtrip_and_prune),
        cmocka_unit_test(test_allocator_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
