/* test_bpftask.c -- the BPF backend's pure part: the program's record
 * layout, and folding thread records into a process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/types.h>
#include <string.h>

#include "collect/bpf/tasks.h"
#include "collect/bpftask.h"

#define SAME(f) assert_int_equal(offsetof(struct tk_task, f), offsetof(struct bpftask_rec, f))

static void test_layout_is_the_programs(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct tk_task), sizeof(struct bpftask_rec));
    SAME(tgid); SAME(tid); SAME(runtime_ns); SAME(delay_ns); SAME(utime_ns); SAME(stime_ns);
    SAME(start_boottime); SAME(rss_pages); SAME(nr_threads); SAME(exit_state); SAME(leader);
    SAME(comm);
}

static void test_fold_sums_threads_and_takes_the_leaders_fields(void **state)
{
    (void)state;
    struct bpftask_rec lead = {.tgid = 42, .tid = 42, .runtime_ns = 5000000, .delay_ns = 700,
                               .utime_ns = 4000000, .stime_ns = 1000000,
                               .start_boottime = 123456789012ULL, .rss_pages = 300,
                               .nr_threads = 2, .exit_state = 0, .leader = 1};
    memcpy(lead.comm, "ffmpeg\0\0\0\0\0\0\0\0\0\0", 16);
    struct bpftask_rec thr = {.tgid = 42, .tid = 43, .runtime_ns = 2000000, .delay_ns = 300,
                              .utime_ns = 2000000, .nr_threads = 99, .rss_pages = 7};
    struct bpftask_proc p;
    memset(&p, 0, sizeof p);
    bpftask_fold(&p, &thr, 100);   /* threads may come before their leader */
    bpftask_fold(&p, &lead, 100);
    assert_int_equal(p.pid, 42);
    assert_int_equal(p.cpu_ns, 7000000);
    assert_int_equal(p.delay_ns, 1000);
    assert_int_equal(p.utime_ns, 6000000);
    assert_int_equal(p.stime_ns, 1000000);
    assert_int_equal(p.threads, 2);          /* the leader's count, not a thread's */
    assert_int_equal(p.rss_pages, 300);
    assert_int_equal(p.start_ticks, 12345);  /* ns since boot / (1e9 / USER_HZ), as /proc */
    assert_string_equal(p.comm, "ffmpeg");
    assert_false(p.zombie);
    lead.exit_state = 16;                    /* EXIT_ZOMBIE */
    bpftask_fold(&p, &lead, 100);
    assert_true(p.zombie);
}

static void test_fold_keeps_comm_terminated(void **state)
{
    (void)state;
    struct bpftask_rec r = {.tgid = 1, .tid = 1, .leader = 1};
    memset(r.comm, 'x', sizeof r.comm);      /* hostile: no NUL */
    struct bpftask_proc p;
    memset(&p, 0, sizeof p);
    bpftask_fold(&p, &r, 0);
    assert_int_equal(strlen(p.comm), 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_is_the_programs),
        cmocka_unit_test(test_fold_sums_threads_and_takes_the_leaders_fields),
        cmocka_unit_test(test_fold_keeps_comm_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
