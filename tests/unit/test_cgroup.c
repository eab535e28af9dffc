#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "task/cgroup.h"

/* This machine's layout: hybrid, v1 controllers, an empty unified v2. */
static const char *hybrid =
    "24 30 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
    "31 24 0:26 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
    "32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate\n"
    "33 31 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd\n"
    "36 31 0:31 / /sys/fs/cgroup/cpuset rw shared:15 - cgroup cgroup rw,cpuset\n"
    "37 31 0:32 / /sys/fs/cgroup/cpu rw shared:16 - cgroup cgroup rw,cpu\n"
    "38 31 0:33 / /sys/fs/cgroup/cpuacct rw shared:17 - cgroup cgroup rw,cpuacct\n"
    "39 31 0:34 / /sys/fs/cgroup/memory rw shared:18 - cgroup cgroup rw,memory\n";

static void test_mountinfo_hybrid(void **state)
{
    (void)state;
    struct cgroup_sys s;
    cgroup_parse_mountinfo(hybrid, &s);
    assert_string_equal(s.v2, "/sys/fs/cgroup/unified");
    assert_string_equal(s.v1_cpu, "/sys/fs/cgroup/cpu");
    assert_string_equal(s.v1_cpuset, "/sys/fs/cgroup/cpuset");
    assert_string_equal(s.v1_cpuacct, "/sys/fs/cgroup/cpuacct");
    assert_string_equal(s.v1_memory, "/sys/fs/cgroup/memory");
    assert_false(s.v2_cpu);
    cgroup_sys_free(&s);
}

static void test_mountinfo_other_layouts(void **state)
{
    (void)state;
    struct cgroup_sys s;
    /* pure v2 (systemd default today) */
    cgroup_parse_mountinfo("29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 "
                       "rw,nsdelegate,memory_recursiveprot\n",
                       &s);
    assert_string_equal(s.v2, "/sys/fs/cgroup");
    assert_null(s.v1_cpu);
    assert_null(s.v1_cpuset);
    cgroup_sys_free(&s);
    /* older v1 with cpu,cpuacct co-mounted, an escaped blank, optional fields */
    cgroup_parse_mountinfo("40 31 0:35 / /sys/fs/cgroup/cpu,cpuacct rw shared:20 master:3 - cgroup "
                       "cgroup rw,cpu,cpuacct\n"
                       "41 31 0:36 / /mnt/my\\040sets rw - cgroup none rw,cpuset\n"
                       "42 31 0:37 / /x rw - cgroup none rw,cpuacct",
                       &s);
    assert_string_equal(s.v1_cpu, "/sys/fs/cgroup/cpu,cpuacct");
    assert_string_equal(s.v1_cpuacct, "/sys/fs/cgroup/cpu,cpuacct");   /* the first one */
    assert_null(s.v1_memory);
    assert_string_equal(s.v1_cpuset, "/mnt/my sets");
    assert_null(s.v2);
    cgroup_sys_free(&s);
    /* garbage does not crash */
    cgroup_parse_mountinfo("nonsense\n - \n1 2 3 4\n", &s);
    assert_null(s.v2);
    assert_null(s.v1_cpu);
    cgroup_sys_free(&s);
}

static void test_list_has(void **state)
{
    (void)state;
    assert_true(cgroup_list_has("cpuset cpu io memory\n", "cpu"));
    assert_true(cgroup_list_has("rw,cpu,cpuacct", "cpuacct"));
    assert_false(cgroup_list_has("rw,cpuset,cpuacct", "cpu"));
    assert_false(cgroup_list_has("", "cpu"));
    assert_false(cgroup_list_has(NULL, "cpu"));
}

static void test_conversions(void **state)
{
    (void)state;
    assert_int_equal(cgroup_weight_clamp(0), 1);
    assert_int_equal(cgroup_weight_clamp(400), 400);
    assert_int_equal(cgroup_weight_clamp(100LL * 1024), 10000);
    assert_int_equal(cgroup_v1_shares(100), 1024);
    assert_int_equal(cgroup_v1_shares(200), 2048);
    assert_int_equal(cgroup_v1_shares(1), 10);
    assert_int_equal(cgroup_v1_shares(10000), 102400);
    assert_int_equal(cgroup_quota_us(50), 50000);
    assert_int_equal(cgroup_quota_us(250), 250000);
    assert_int_equal(cgroup_quota_us(1), 1000);  /* kernel minimum */
    assert_true(cgroup_path_valid("tracekit"));
    assert_true(cgroup_path_valid("a/b-c_d.e"));
    assert_false(cgroup_path_valid("/abs"));
    assert_false(cgroup_path_valid("a/../b"));
    assert_false(cgroup_path_valid("a//b"));
    assert_false(cgroup_path_valid("a/"));
    assert_false(cgroup_path_valid("."));
    assert_false(cgroup_path_valid("sp ace"));
    assert_false(cgroup_path_valid(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mountinfo_hybrid),
        cmocka_unit_test(test_mountinfo_other_layouts),
        cmocka_unit_test(test_list_has),
        cmocka_unit_test(test_conversions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
