#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "collect/cgstat.h"
#include "trace/cts.h"
#include "trace/rawproc.h"

static void test_usage_usec(void **state)
{
    (void)state;
    int64_t u = -1;
    assert_true(cgstat_parse_usage_usec("usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n", &u));
    assert_int_equal(u, 123456);
    assert_true(cgstat_parse_usage_usec("nr_periods 0\nusage_usec 7", &u));
    assert_int_equal(u, 7);
    assert_false(cgstat_parse_usage_usec("user_usec 5\n", &u));
    assert_false(cgstat_parse_usage_usec("usage_usec x\n", &u));
    assert_false(cgstat_parse_usage_usec("", &u));
}

static void test_path_valid(void **state)
{
    (void)state;
    assert_true(cgstat_path_valid("system.slice/nginx.service"));
    assert_true(cgstat_path_valid("/tk/test"));
    assert_true(cgstat_path_valid("a"));
    assert_false(cgstat_path_valid("/"));
    assert_false(cgstat_path_valid(""));
    assert_false(cgstat_path_valid("a/../b"));
    assert_false(cgstat_path_valid("a//b"));
    assert_false(cgstat_path_valid("./a"));
    assert_false(cgstat_path_valid(NULL));
}

static int feed(struct cgderive *d, const char *text, struct jbuf *out)
{
    json_t *o = json_loads(text, 0, NULL);
    int r = cgderive_feed(d, o, out);
    json_decref(o);
    return r;
}

static json_t *line(const struct jbuf *b)
{
    return json_loadb(b->p, b->len, 0, NULL);
}

static void test_derive(void **state)
{
    (void)state;
    struct cgderive d = {0};
    struct jbuf b;
    jb_init(&b);
    assert_int_equal(feed(&d, "{\"ts_ms\":1000,\"mono_us\":5000000,\"cgroup\":\"/a\",\"cpu_usage_us\":100000,"
                              "\"mem_bytes\":4096}", &b), 1);
    json_t *o = line(&b);
    assert_true(json_number_value(json_object_get(o, "dt_ms")) == 0);
    assert_true(json_is_null(json_object_get(o, "cpu_util")));
    json_decref(o);
    /* another group has its own baseline */
    assert_int_equal(feed(&d, "{\"ts_ms\":1000,\"cgroup\":\"/b\",\"cpu_usage_us\":9}", &b), 1);
    /* 500 ms of monotonic time (the wall clock says 600), 250 ms CPU: 0.5 cores */
    assert_int_equal(feed(&d, "{\"ts_ms\":1600,\"mono_us\":5500000,\"cgroup\":\"/a\",\"cpu_usage_us\":350000}", &b), 1);
    o = line(&b);
    assert_true(json_number_value(json_object_get(o, "dt_ms")) == 500);
    assert_true(json_number_value(json_object_get(o, "cpu_ms")) == 250);
    assert_true(json_number_value(json_object_get(o, "cpu_util")) == 0.5);
    assert_true(json_is_null(json_object_get(o, "mem_bytes")));
    json_decref(o);
    /* counter went back (group re-created): a new baseline, counted */
    assert_int_equal(feed(&d, "{\"ts_ms\":2100,\"mono_us\":6000000,\"cgroup\":\"/a\",\"cpu_usage_us\":10}", &b), 1);
    o = line(&b);
    assert_true(json_number_value(json_object_get(o, "cpu_ms")) == 0);
    assert_true(json_is_null(json_object_get(o, "cpu_util")));
    json_decref(o);
    assert_int_equal(d.resets, 1);
    /* invalid records */
    assert_int_equal(feed(&d, "{\"ts_ms\":1,\"cpu_usage_us\":1}", &b), 0);
    assert_int_equal(feed(&d, "{\"ts_ms\":1,\"cgroup\":\"/a\",\"cpu_usage_us\":\"1\"}", &b), 0);
    assert_int_equal(feed(&d, "{\"ts_ms\":1.5,\"cgroup\":\"/a\",\"cpu_usage_us\":1}", &b), 0);
    assert_int_equal(feed(&d, "{\"ts_ms\":1,\"cgroup\":\"/a\",\"cpu_usage_us\":-1}", &b), 0);
    /* issue #13: an implausible time is invalid; hostile mono_us does not overflow */
    assert_int_equal(feed(&d, "{\"ts_ms\":9223372036854775807,\"cgroup\":\"/a\",\"cpu_usage_us\":1}", &b), 0);
    assert_int_equal(feed(&d, "{\"ts_ms\":3000,\"mono_us\":-9223372036854775808,\"cgroup\":\"/m\","
                              "\"cpu_usage_us\":1}", &b), 1);
    assert_int_equal(feed(&d, "{\"ts_ms\":3100,\"mono_us\":9223372036854775807,\"cgroup\":\"/m\","
                              "\"cpu_usage_us\":2}", &b), 1);
    cgderive_free(&d);
    jb_free(&b);
}

/* The first raw record's cgroup/container fields reach the CTS record, on
 * both parser paths, and only once per process. */
static void test_proc_meta_to_cts(void **state)
{
    (void)state;
    const char *lines[] = {
        "{\"ts_ms\":1000,\"pid\":7,\"utime\":0,\"stime\":0,\"start_ticks\":5,\"cgroup\":\"/docker/abc\","
        "\"container_id\":\"abc\",\"container_runtime\":\"docker\",\"ev\":\"new\"}",
        "{\"ts_ms\":1200,\"pid\":7,\"utime\":10,\"stime\":0,\"start_ticks\":5,\"ev\":\"tick\"}",
        /* an escape sends this one to jansson */
        "{\"ts_ms\":1000,\"pid\":8,\"utime\":0,\"stime\":0,\"start_ticks\":6,\"comm\":\"a\\u0062\","
        "\"cgroup\":\"/kubepods/pod1/x\",\"pod_uid\":\"u-1\"}",
    };
    struct cts c;
    struct cts_opts o;
    cts_opts_default(&o);
    cts_init(&c, &o);
    struct jbuf b;
    jb_init(&b);
    const char *want[] = {"/docker/abc", NULL, "/kubepods/pod1/x"};
    for (int i = 0; i < 3; i++) {
        struct raw_sample s;
        assert_int_equal(raw_parse_line(lines[i], strlen(lines[i]), &s), RAW_OK);
        struct cts_rec r[CTS_FEED_MAX];
        assert_int_equal(cts_feed(&c, &s, r), 1);
        jb_reset(&b);
        cts_rec_json(&b, &r[0]);
        json_t *j = line(&b);
        json_t *cg = json_object_get(j, "cgroup");
        if (want[i])
            assert_string_equal(json_string_value(cg), want[i]);
        else
            assert_null(cg);
        if (i == 0) {
            assert_string_equal(json_string_value(json_object_get(j, "container_id")), "abc");
            assert_string_equal(json_string_value(json_object_get(j, "container_runtime")), "docker");
        }
        if (i == 2) {
            assert_string_equal(json_string_value(json_object_get(j, "pod_uid")), "u-1");
            assert_null(json_object_get(j, "container_id"));
        }
        json_decref(j);
    }
    jb_free(&b);
    cts_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_usec),
        cmocka_unit_test(test_path_valid),
        cmocka_unit_test(test_derive),
        cmocka_unit_test(test_proc_meta_to_cts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
