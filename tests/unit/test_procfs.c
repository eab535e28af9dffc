#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "collect/procfs.h"
#include "collect/sampler.h"

/* A real line from this machine, and one whose comm has spaces and ')'. */
static const char stat_line[] =
    "7924 (bash) S 7921 7924 7921 0 -1 4194304 1043 2911 0 0 20 25 3 4 20 0 1 0 432738 "
    "9232384 756 18446744073709551615 1 1 0 0 0 0 65536 4 65538 0 0 0 17 1 0 0 0 0 0\n";
static const char tricky_line[] =
    "42 (a) b (c) d) R 1 42 42 0 -1 0 0 0 0 0 123456789012 7 0 0 20 0 12 0 99 0 -5 0\n";

static void test_parse_stat(void **state)
{
    (void)state;
    struct proc_stat st;
    assert_int_equal(procfs_parse_stat(stat_line, strlen(stat_line), &st), 0);
    assert_int_equal(st.pid, 7924);
    assert_string_equal(st.comm, "bash");
    assert_int_equal(st.state, 'S');
    assert_int_equal(st.ppid, 7921);
    assert_int_equal(st.utime, 20);
    assert_int_equal(st.stime, 25);
    assert_int_equal(st.num_threads, 1);
    assert_int_equal(st.start_ticks, 432738);
    assert_int_equal(st.rss_pages, 756);
}

static void test_parse_stat_tricky_comm(void **state)
{
    (void)state;
    struct proc_stat st;
    assert_int_equal(procfs_parse_stat(tricky_line, strlen(tricky_line), &st), 0);
    assert_string_equal(st.comm, "a) b (c) d");
    assert_int_equal(st.state, 'R');
    assert_int_equal(st.utime, 123456789012ULL);
    assert_int_equal(st.num_threads, 12);
    assert_int_equal(st.start_ticks, 99);
    assert_int_equal(st.rss_pages, -5);
}

static void test_parse_stat_rejects_truncated(void **state)
{
    (void)state;
    struct proc_stat st;
    assert_int_equal(procfs_parse_stat("12 (x) S 1 2 3", 14, &st), -1);
    assert_int_equal(procfs_parse_stat("garbage", 7, &st), -1);
    assert_int_equal(procfs_parse_stat(stat_line, 60, &st), -1);
}

static void test_parse_host_files(void **state)
{
    (void)state;
    const char *stat = "cpu  100 5 50 800 10 1 2 3 0 0\ncpu0 50 2 25 400 5 0 1 1 0 0\nbtime 1795421851\n";
    struct cpu_times c;
    assert_int_equal(procfs_parse_cpu(stat, &c), 0);
    assert_int_equal(c.user, 100);
    assert_int_equal(c.idle, 800);
    assert_int_equal(c.steal, 3);
    assert_int_equal(procfs_parse_btime(stat), 1795421851);

    const char *mem = "MemTotal:       24683620 kB\nMemFree:        24400000 kB\n"
                      "MemAvailable:   24300000 kB\nBuffers:            1000 kB\nCached:  5000 kB\n";
    struct meminfo m;
    assert_int_equal(procfs_parse_meminfo(mem, &m), 0);
    assert_int_equal(m.total_kb, 24683620);
    assert_int_equal(m.available_kb, 24300000);
    const char *old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 20 kB\n";
    assert_int_equal(procfs_parse_meminfo(old, &m), 0);
    assert_int_equal(m.available_kb, 130);  /* estimated on old kernels */

    const char *net =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
        "    lo:    3267      40    0    0    0     0          0         0     3267      40    0    0    0     0       0          0\n"
        "  eth0: 54831249   39000    0    0    0     0          0         0   125323    1200    0    0    0     0       0          0\n";
    struct netdev d[4];
    assert_int_equal(procfs_parse_netdev(net, d, 4), 2);
    assert_string_equal(d[1].name, "eth0");
    assert_int_equal(d[1].rx_bytes, 54831249);
    assert_int_equal(d[1].rx_packets, 39000);
    assert_int_equal(d[1].tx_bytes, 125323);
    assert_int_equal(d[1].tx_packets, 1200);

    const char *route = "Iface\tDestination\tGateway\nlo\t0000007F\t00000000\neth0\t00000000\t0101A8C0\n";
    char *iface = procfs_parse_default_iface(route);
    assert_string_equal(iface, "eth0");
    free(iface);

    char model[64];
    double mhz;
    procfs_parse_cpuinfo("processor\t: 0\nmodel name\t: AMD EPYC\ncpu MHz\t\t: 2096.017\n", model,
                         sizeof model, &mhz);
    assert_string_equal(model, "AMD EPYC");
    assert_true(mhz > 2096.0 && mhz < 2096.1);
}

static void test_cpulist(void **state)
{
    (void)state;
    unsigned char set[12] = {1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1};
    char out[64];
    procfs_format_cpulist(set, 12, out, sizeof out);
    assert_string_equal(out, "0-3,6,8-9,11");
}

static void test_parse_schedstat(void **state)
{
    (void)state;
    uint64_t run, delay = 7;
    assert_int_equal(procfs_parse_schedstat("446146 98765 2\n", &run, &delay), 0);
    assert_int_equal(run, 446146);
    assert_int_equal(delay, 98765);
    assert_int_equal(procfs_parse_schedstat("123 0 1\n", &run, NULL), 0);
    /* A truncated line has no run delay: refused, not read as 0. */
    assert_int_equal(procfs_parse_schedstat("446146\n", &run, &delay), -1);
    assert_int_equal(procfs_parse_schedstat("", &run, &delay), -1);
    assert_int_equal(procfs_parse_schedstat("x 1 2", &run, &delay), -1);
}

static void test_sentinel_and_percentiles(void **state)
{
    (void)state;
    assert_int_equal(sampler_parse_sentinel("4242 123456\n"), 123456);
    assert_int_equal(sampler_parse_sentinel(""), 0);
    assert_int_equal(sampler_parse_sentinel("4242"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_stat),
        cmocka_unit_test(test_parse_stat_tricky_comm),
        cmocka_unit_test(test_parse_stat_rejects_truncated),
        cmocka_unit_test(test_parse_host_files),
        cmocka_unit_test(test_cpulist),
        cmocka_unit_test(test_parse_schedstat),
        cmocka_unit_test(test_sentinel_and_percentiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
