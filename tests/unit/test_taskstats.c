/* test_taskstats.c -- decoding taskstats messages as the kernel builds
 * them (built here with libnl), the CPU split and the start estimate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/taskstats.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <string.h>

#include "collect/taskstats.h"

#define FAMILY 31

static struct taskstats stats(uint32_t pid, uint32_t tgid, uint8_t flag, uint64_t cpu_ns)
{
    struct taskstats t;
    memset(&t, 0, sizeof t);
    t.version = TASKSTATS_VERSION;
    t.ac_pid = pid;
    t.ac_tgid = tgid;
    t.ac_flag = flag;
    strcpy(t.ac_comm, "burn");
    t.cpu_run_virtual_total = cpu_ns;
    t.cpu_run_real_total = cpu_ns / 4000000 * 4000000;
    t.cpu_delay_total = 1500000;
    t.ac_utime = 30000;
    t.ac_stime = 10000;
    t.hiwater_rss = 1368;
    t.ac_etime = 31024;
    t.ac_tgetime = 31500;
    t.ac_exitcode = 3 << 8;
    return t;
}

static void put_aggr(struct nl_msg *m, int aggr, int id_type, uint32_t id, const struct taskstats *t, size_t len)
{
    struct nlattr *n = nla_nest_start(m, aggr);
    nla_put_u32(m, id_type, id);
    nla_put(m, TASKSTATS_TYPE_STATS, (int)len, t);
    nla_nest_end(m, n);
}

/* A message as the kernel sends it: the exiting thread, and the group's
 * record when thr_only is false and grp != NULL. */
static struct nl_msg *message(const struct taskstats *thr, uint32_t tid, const struct taskstats *grp,
                              uint32_t tgid, size_t len)
{
    struct nl_msg *m = nlmsg_alloc();
    genlmsg_put(m, 0, 0, FAMILY, 0, 0, TASKSTATS_CMD_NEW, TASKSTATS_VERSION);
    if (thr)
        put_aggr(m, TASKSTATS_TYPE_AGGR_PID, TASKSTATS_TYPE_PID, tid, thr, len);
    if (grp)
        put_aggr(m, TASKSTATS_TYPE_AGGR_TGID, TASKSTATS_TYPE_TGID, tgid, grp, len);
    return m;
}

static int decode(struct nl_msg *m, struct tstats_rec *r)
{
    struct nlmsghdr *h = nlmsg_hdr(m);
    int rc = tstats_decode(h, h->nlmsg_len, r);
    nlmsg_free(m);
    return rc;
}

static void test_single_thread_exit(void **state)
{
    (void)state;
    struct taskstats t = stats(4242, 4242, 0x20, 30834822);
    struct tstats_rec r;
    assert_int_equal(decode(message(&t, 4242, NULL, 0, sizeof t), &r), 1);
    assert_int_equal(r.pid, 4242);
    assert_true(r.group_exit);
    assert_false(r.multi);
    assert_string_equal(r.comm, "burn");
    assert_int_equal(r.cpu_ns, 30834822);
    assert_int_equal(r.delay_ns, 1500000);
    assert_int_equal(r.hiwater_kb, 1368);
    assert_int_equal(r.elapsed_us, 31500);
    assert_int_equal(r.exit_code, 3 << 8);
}

static void test_thread_of_a_live_group_is_ignored(void **state)
{
    (void)state;
    struct taskstats t = stats(4243, 4242, 0, 1000);
    struct tstats_rec r;
    assert_int_equal(decode(message(&t, 4243, NULL, 0, sizeof t), &r), 0);
}

static void test_group_exit_takes_group_totals(void **state)
{
    (void)state;
    /* The last thread is not the leader: the record is still the group's. */
    struct taskstats thr = stats(4244, 4242, 0x20, 50000000);
    struct taskstats grp = stats(0, 0, 0, 201585965);
    grp.cpu_delay_total = 106076609;
    grp.hiwater_rss = 0;
    struct tstats_rec r;
    assert_int_equal(decode(message(&thr, 4244, &grp, 4242, sizeof thr), &r), 1);
    assert_int_equal(r.pid, 4242);
    assert_true(r.multi);
    assert_int_equal(r.cpu_ns, 201585965);
    assert_int_equal(r.delay_ns, 106076609);
    assert_int_equal(r.hiwater_kb, 1368);   /* from the thread: the group record has none */
}

static void test_query_reply(void **state)
{
    (void)state;
    struct taskstats grp = stats(0, 0, 0, 400000000);
    struct tstats_rec r;
    assert_int_equal(decode(message(NULL, 0, &grp, 777, sizeof grp), &r), 1);
    assert_int_equal(r.pid, 777);
    assert_false(r.group_exit);
    assert_int_equal(r.cpu_ns, 400000000);
}

static void test_older_and_newer_structs(void **state)
{
    (void)state;
    /* An old kernel's shorter struct (version 8 ended before ac_btime64):
     * what it has is read, the rest is 0. */
    struct taskstats t = stats(10, 10, 0x20, 5000000);
    struct tstats_rec r;
    size_t v8 = offsetof(struct taskstats, ac_btime64);
    assert_int_equal(decode(message(&t, 10, NULL, 0, v8), &r), 1);
    assert_int_equal(r.cpu_ns, 5000000);
    assert_int_equal(r.elapsed_us, 31024);   /* no ac_tgetime: the leader's own age */
    /* A newer kernel's longer struct: the known prefix is read. */
    unsigned char big[sizeof t + 64];
    memset(big, 0xee, sizeof big);
    memcpy(big, &t, sizeof t);
    assert_int_equal(decode(message((struct taskstats *)big, 10, NULL, 0, sizeof big), &r), 1);
    assert_int_equal(r.cpu_ns, 5000000);
}

static void test_gated_delay_accounting(void **state)
{
    (void)state;
    /* Kernels that gate delay accounting leave the exact runtime 0: the
     * tick-sampled total stands in. */
    struct taskstats t = stats(11, 11, 0x20, 0);
    t.cpu_run_real_total = 28000000;
    struct tstats_rec r;
    assert_int_equal(decode(message(&t, 11, NULL, 0, sizeof t), &r), 1);
    assert_int_equal(r.cpu_ns, 28000000);
}

static void test_malformed(void **state)
{
    (void)state;
    struct tstats_rec r;
    unsigned char junk[64] = {0};
    assert_int_equal(tstats_decode(junk, 8, &r), -1);
    /* nlmsg_len larger than the buffer */
    struct nlmsghdr *h = (struct nlmsghdr *)junk;
    h->nlmsg_len = 4096;
    assert_int_equal(tstats_decode(junk, sizeof junk, &r), -1);
    /* An AGGR_PID without its stats */
    struct nl_msg *m = nlmsg_alloc();
    genlmsg_put(m, 0, 0, FAMILY, 0, 0, TASKSTATS_CMD_NEW, TASKSTATS_VERSION);
    struct nlattr *n = nla_nest_start(m, TASKSTATS_TYPE_AGGR_PID);
    nla_put_u32(m, TASKSTATS_TYPE_PID, 5);
    nla_nest_end(m, n);
    assert_int_equal(decode(m, &r), -1);
    /* pid 0 */
    struct taskstats t = stats(0, 0, 0x20, 1);
    assert_int_equal(decode(message(&t, 0, NULL, 0, sizeof t), &r), -1);
}

static void test_split_and_start(void **state)
{
    (void)state;
    uint64_t u, s;
    tstats_split(30000000, 30000, 10000, &u, &s);
    assert_int_equal(u, 22500000);
    assert_int_equal(s, 7500000);
    tstats_split(30000000, 0, 0, &u, &s);
    assert_int_equal(u, 30000000);
    assert_int_equal(s, 0);
    tstats_split(30000000, 0, 4000, &u, &s);
    assert_int_equal(u, 0);
    assert_int_equal(s, 30000000);
    /* No overflow on large totals. */
    tstats_split(UINT64_C(18000000000000000000), 3, 1, &u, &s);
    assert_int_equal(u, UINT64_C(13500000000000000000));
    /* Started 31.5 ms before boot time 633.3125 s: tick 63328 at 100 Hz. */
    assert_int_equal(tstats_start_ticks(UINT64_C(633312500000), 31500, 100), 63328);
    assert_int_equal(tstats_start_ticks(1000, 5000, 100), 0);
}

static void test_exit_time(void **state)
{
    (void)state;
    int64_t at, err;
    /* Read at a tick: only known to be in [1 s, 1.2 s]. */
    tstats_exit_time(1000000000, 1200000000, 0, 31000, 100, 0, &at, &err);
    assert_int_equal(at, 1100000000);
    assert_int_equal(err, 100000000);
    /* Started in tick 100 (1.00-1.01 s), ran 131 ms: ended 1.131-1.141 s. */
    tstats_exit_time(1000000000, 1200000000, 100, 131000, 100, 0, &at, &err);
    assert_int_equal(at, 1136000000);
    assert_int_equal(err, 5000000);
    /* Boot time ahead of monotonic time (a suspend): shifted back. */
    tstats_exit_time(1000000000, 1200000000, 150, 131000, 100, 500000000, &at, &err);
    assert_int_equal(at, 1136000000);
    /* A start that disagrees with the window: kept inside it. */
    tstats_exit_time(1000000000, 1200000000, 10, 0, 100, 0, &at, &err);
    assert_true(at >= 1000000000 && at <= 1200000000);
    tstats_exit_time(1000000000, 1200000000, 500, 0, 100, 0, &at, &err);
    assert_true(at >= 1000000000 && at <= 1200000000);
    /* An empty window: now. */
    tstats_exit_time(5, 5, 0, 0, 100, 0, &at, &err);
    assert_int_equal(at, 5);
    assert_int_equal(err, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_thread_exit),
        cmocka_unit_test(test_thread_of_a_live_group_is_ignored),
        cmocka_unit_test(test_group_exit_takes_group_totals),
        cmocka_unit_test(test_query_reply),
        cmocka_unit_test(test_older_and_newer_structs),
        cmocka_unit_test(test_gated_delay_accounting),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_split_and_start),
        cmocka_unit_test(test_exit_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
