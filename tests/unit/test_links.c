#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/links.h"
#include "common/util.h"

static void test_peers(void **state)
{
    (void)state;
    struct link_peer *p;
    char err[256];
    int n = links_parse_peers("10.0.0.2, nodeb:9000,[fe80::1]:81,::1", 7420, &p, err, sizeof err);
    assert_int_equal(n, 4);
    assert_string_equal(p[0].host, "10.0.0.2");
    assert_int_equal(p[0].port, 7420);
    assert_string_equal(p[1].host, "nodeb");
    assert_int_equal(p[1].port, 9000);
    assert_string_equal(p[2].host, "fe80::1");
    assert_int_equal(p[2].port, 81);
    assert_string_equal(p[3].host, "::1");   /* bare IPv6: no port */
    assert_int_equal(p[3].port, 7420);
    free(p);

    static const char *const bad[] = {"a:70000", "a:x", ":80", "a:0", "[::1", "[::1]x", "a b", ",,"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(links_parse_peers(bad[i], 7420, &p, err, sizeof err), -1);
        assert_null(p);
        assert_true(strlen(err) > 0);
    }
    /* the error names the bad peer */
    links_parse_peers("good,b:99999", 7420, &p, err, sizeof err);
    assert_non_null(strstr(err, "b:99999"));
}

static void test_size(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(links_parse_size("1048576", &v));
    assert_int_equal(v, 1048576);
    assert_true(links_parse_size("16M", &v));
    assert_int_equal(v, 16u << 20);
    assert_true(links_parse_size("512KiB", &v));
    assert_int_equal(v, 512u << 10);
    assert_true(links_parse_size("2G", &v));
    assert_int_equal(v, 2ull << 30);
    assert_false(links_parse_size("0", &v));
    assert_false(links_parse_size("-1M", &v));
    assert_false(links_parse_size("16MB", &v));
    assert_false(links_parse_size("M", &v));
    assert_false(links_parse_size("", &v));
}

static json_t *entry(const char *src, const char *dst, double rtt)
{
    struct link_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.src, sizeof r.src, "%s", src);
    snprintf(r.dst, sizeof r.dst, "%s", dst);
    r.rtt_p50 = r.rtt_p99 = rtt;
    r.bw_mbps = 100;
    r.ts_ms = 1700000000000;
    r.samples = 5;
    return links_entry_json(&r);
}

static void test_merge(void **state)
{
    (void)state;
    json_t *old = json_array(), *fresh = json_array();
    json_array_append_new(old, entry("a", "b", 1));
    json_array_append_new(old, entry("a", "c", 2));
    json_array_append_new(old, entry("b", "a", 3));
    json_array_append_new(fresh, entry("a", "c", 20));
    json_array_append_new(fresh, entry("a", "d", 30));
    json_t *m = links_merge(old, fresh);
    assert_int_equal(json_array_size(m), 4);
    /* kept in order, the replaced one gone, the fresh ones at the end */
    assert_true(json_real_value(json_object_get(json_array_get(m, 0), "rtt_ms_p50")) == 1);
    assert_true(json_real_value(json_object_get(json_array_get(m, 1), "rtt_ms_p50")) == 3);
    assert_true(json_real_value(json_object_get(json_array_get(m, 2), "rtt_ms_p50")) == 20);
    assert_true(json_real_value(json_object_get(json_array_get(m, 3), "rtt_ms_p50")) == 30);
    assert_int_equal(json_array_size(old), 3);   /* inputs untouched */
    json_decref(m);
    /* no old file, or one that is not an array */
    m = links_merge(NULL, fresh);
    assert_int_equal(json_array_size(m), 2);
    json_decref(m);
    json_t *obj = json_object();
    m = links_merge(obj, fresh);
    assert_int_equal(json_array_size(m), 2);
    json_decref(m);
    json_decref(obj);
    json_decref(old);
    json_decref(fresh);
}

static void test_entry_valid(void **state)
{
    (void)state;
    json_t *e = entry("a", "b", 1.5);
    assert_true(links_entry_valid(e));
    assert_true(json_is_null(json_object_get(e, "iface")));
    json_object_set_new(e, "iface", json_string("eth0"));
    assert_true(links_entry_valid(e));
    json_object_set_new(e, "iface", json_integer(3));
    assert_false(links_entry_valid(e));
    json_object_del(e, "iface");
    json_object_set_new(e, "rtt_ms_p50", json_real(-1));
    assert_false(links_entry_valid(e));
    json_object_set_new(e, "rtt_ms_p50", json_string("1"));
    assert_false(links_entry_valid(e));
    json_object_set_new(e, "rtt_ms_p50", json_integer(1));
    assert_true(links_entry_valid(e));
    json_object_set_new(e, "src", json_string(""));
    assert_false(links_entry_valid(e));
    json_object_set_new(e, "src", json_string("a"));
    json_object_del(e, "ts_ms");
    assert_false(links_entry_valid(e));
    json_decref(e);
    assert_false(links_entry_valid(NULL));
    json_t *arr = json_array();
    assert_false(links_entry_valid(arr));
    json_decref(arr);
}

/* links_to_cts: valid entries copied, invalid counted, interface rates added
 * from host_metrics.jsonl for this node's links only. */
static void test_to_cts(void **state)
{
    (void)state;
    char dir[] = "/tmp/tk-links-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *cts = path_join(dir, "CTS");
    assert_int_equal(mkdir_p(cts, 0755), 0);
    size_t good = 9, bad = 9;
    assert_int_equal(links_to_cts(dir, cts, "a", &good, &bad), 0);   /* no links.json */
    assert_int_equal(good + bad, 0);

    json_t *arr = json_array();
    json_t *e = entry("a", "b", 20);
    json_object_set_new(e, "iface", json_string("veth0"));
    json_array_append_new(arr, e);
    e = entry("c", "a", 5);   /* another node's link: no rates from our host metrics */
    json_object_set_new(e, "iface", json_string("veth0"));
    json_array_append_new(arr, e);
    json_array_append_new(arr, json_string("junk"));
    char *lp = path_join(dir, "links.json");
    assert_int_equal(json_dump_file(arr, lp, 0), 0);
    json_decref(arr);
    char *hp = path_join(dir, "host_metrics.jsonl");
    const char *host = "{\"ts_ms\":1,\"net\":{\"veth0\":{\"rx_bytes_ps\":100.0,\"tx_bytes_ps\":1000.0}}}\n"
                       "{\"ts_ms\":2,\"net\":{\"veth0\":{\"rx_bytes_ps\":300.0,\"tx_bytes_ps\":3000.0}}}\n"
                       "{\"ts_ms\":3,\"net\":{\"lo\":{\"rx_bytes_ps\":1.0,\"tx_bytes_ps\":1.0}}}\n";
    assert_int_equal(write_file_atomic(hp, host, strlen(host)), 0);
    assert_int_equal(links_to_cts(dir, cts, "a", &good, &bad), 0);
    assert_int_equal(good, 2);
    assert_int_equal(bad, 1);
    char *op = path_join(cts, "links.json");
    json_t *out = json_load_file(op, 0, NULL);
    assert_int_equal(json_array_size(out), 2);
    json_t *ab = json_array_get(out, 0), *ca = json_array_get(out, 1);
    assert_true(json_number_value(json_object_get(ab, "iface_tx_bytes_ps_mean")) == 2000);
    assert_true(json_number_value(json_object_get(ab, "iface_rx_bytes_ps_mean")) == 200);
    assert_int_equal(json_integer_value(json_object_get(ab, "iface_samples")), 2);
    assert_null(json_object_get(ca, "iface_tx_bytes_ps_mean"));
    json_decref(out);

    /* not an array: one bad entry, nothing written */
    unlink(op);
    assert_int_equal(write_file_atomic(lp, "{}", 2), 0);
    assert_int_equal(links_to_cts(dir, cts, "a", &good, &bad), 1);
    assert_int_equal(good, 0);
    assert_int_equal(bad, 1);
    assert_false(file_exists(op));

    unlink(lp);
    unlink(hp);
    rmdir(cts);
    rmdir(dir);
    free(op);
    free(lp);
    free(hp);
    free(cts);
}

/* A peer nobody serves: logged, counted as failed, links.json untouched. */
static void test_run_unreachable(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_links_run_XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct link_peer p = {"127.0.0.1", 1};
    struct links_job j = {.peers = &p, .npeers = 1, .src = "a", .run_dir = dir,
                          .opts = {.samples = 2, .bytes = 1024, .bulk_s = 0.1, .timeout_s = 0.5}};
    bool failed = false;
    json_t *fresh = links_run(&j, &failed);
    assert_true(failed);
    assert_true(json_is_array(fresh));
    assert_int_equal(json_array_size(fresh), 0);
    char *text = links_dump(fresh);
    assert_string_equal(text, "[]");
    free(text);
    json_decref(fresh);
    char *path = path_join(dir, "links.json");
    assert_false(file_exists(path));
    free(path);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peers),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_entry_valid),
        cmocka_unit_test(test_to_cts),
        cmocka_unit_test(test_run_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
