/* test_power.c -- the collector's power sources: NAME=PATH, counter wraps
 * and resets mid-run, power inputs, powercap discovery and which zones make
 * the node's total, the host_metrics and node_meta fields. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collect/power.h"
#include "common/fstree.h"
#include "common/util.h"

static void test_spec(void **state)
{
    (void)state;
    char name[64], err[256];
    const char *path;
    assert_int_equal(power_spec_split("pdu-1=/x/energy_uj", name, sizeof name, &path, err,
                                      sizeof err), 0);
    assert_string_equal(name, "pdu-1");
    assert_string_equal(path, "/x/energy_uj");
    assert_int_equal(power_spec_split("a=b=c", name, sizeof name, &path, err, sizeof err), 0);
    assert_string_equal(path, "b=c");
    const char *bad[] = {"nopath", "=/x", "n=", "a b=/x", "a/b=/x",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(power_spec_split(bad[i], name, sizeof name, &path, err, sizeof err), -1);
    uint64_t v;
    assert_true(power_parse_u64("123456\n", &v) && v == 123456);
    assert_true(power_parse_u64(" 0 ", &v) && v == 0);
    assert_false(power_parse_u64("-5", &v));
    assert_false(power_parse_u64("12x", &v));
    assert_false(power_parse_u64("", &v));
    assert_false(power_parse_u64("99999999999999999999999", &v));
}

static void test_delta(void **state)
{
    (void)state;
    uint64_t d;
    assert_int_equal(power_counter_delta(100, 250, 0, &d), POWER_OK);
    assert_int_equal(d, 150);
    /* near the top of a 1000 uJ range, back to 40: wrapped by 90 */
    assert_int_equal(power_counter_delta(950, 40, 1000, &d), POWER_WRAP);
    assert_int_equal(d, 90);
    /* back from the middle of the range: not a wrap but a reset */
    assert_int_equal(power_counter_delta(400, 40, 1000, &d), POWER_RESET);
    assert_int_equal(d, 0);
    /* no range known: every step back is a reset */
    assert_int_equal(power_counter_delta(950, 40, 0, &d), POWER_RESET);
    /* a value above the stated range: a reset, never a huge wrap */
    assert_int_equal(power_counter_delta(5000, 40, 1000, &d), POWER_RESET);
}

/* 100 W for 5 s with a wrap in the middle, then a reset, then 100 W again. */
static void test_counter_run(void **state)
{
    (void)state;
    struct power_src s = {.kind = POWER_ENERGY_UJ, .max_range_uj = 262143328850ULL};
    uint64_t v = 262143328850ULL - 250000000ULL;   /* 250 J below the top */
    int64_t t = 1000000;
    power_src_feed(&s, v, t);
    assert_int_equal(s.step, POWER_FIRST);
    assert_false(s.has_w);
    for (int i = 0; i < 5; i++) {   /* +100 J per second */
        v += 100000000ULL;
        if (v > s.max_range_uj)
            v -= s.max_range_uj;
        t += 1000000;
        power_src_feed(&s, v, t);
        assert_true(s.has_w);
        assert_true(fabs(s.w - 100) < 1e-9);
    }
    assert_int_equal(s.wraps, 1);
    assert_true(fabs(s.joules - 500) < 1e-6);
    /* reset: the counter starts over at 7 J; that interval has no power */
    t += 1000000;
    power_src_feed(&s, 7000000, t);
    assert_int_equal(s.step, POWER_RESET);
    assert_false(s.has_w);
    assert_int_equal(s.resets, 1);
    assert_true(fabs(s.joules - 500) < 1e-6);
    t += 500000;   /* half a second at 100 W from the new value */
    power_src_feed(&s, 7000000 + 50000000, t);
    assert_int_equal(s.step, POWER_OK);
    assert_true(fabs(s.w - 100) < 1e-9 && fabs(s.joules - 550) < 1e-6);
    /* the same time twice: no interval */
    power_src_feed(&s, 7000000 + 60000000, t);
    assert_false(s.has_w);
}

static void test_input_run(void **state)
{
    (void)state;
    struct power_src s = {.kind = POWER_INPUT_UW};
    power_src_feed(&s, 40000000, 0);
    power_src_feed(&s, 60000000, 2000000);   /* mean of 40 and 60 W for 2 s */
    assert_true(s.has_w && fabs(s.w - 50) < 1e-9 && fabs(s.joules - 100) < 1e-9);
}

static char *dir;

static void put(const char *rel, const char *text)
{
    char *p = path_join(dir, rel);
    char *slash = strrchr(p, '/');
    *slash = 0;
    mkdir_p(p, 0755);
    *slash = '/';
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/test_power.XXXXXX";
    dir = xstrdup(mkdtemp(tmpl));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fstree_rm_rf(dir);
    free(dir);
    return 0;
}

static struct power_src *by_name(struct power_set *ps, const char *name)
{
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->v[i].name, name))
            return &ps->v[i];
    return NULL;
}

static void test_powercap(void **state)
{
    (void)state;
    put("pc/intel-rapl:0/name", "package-0\n");
    put("pc/intel-rapl:0/energy_uj", "1000\n");
    put("pc/intel-rapl:0/max_energy_range_uj", "262143328850\n");
    put("pc/intel-rapl:0:0/name", "core\n");
    put("pc/intel-rapl:0:0/energy_uj", "500\n");
    put("pc/intel-rapl:0:1/name", "dram\n");
    put("pc/intel-rapl:0:1/energy_uj", "10\n");
    put("pc/intel-rapl-mmio:0/name", "package-0\n");
    put("pc/intel-rapl-mmio:0/energy_uj", "1000\n");
    put("pc/intel-rapl:1/name", "package-1\n");
    put("pc/intel-rapl:1/energy_uj", "not a number\n");
    char *root = path_join(dir, "pc");
    struct power_set ps;
    struct power_conf conf = {.powercap_root = root};
    char err[256];
    assert_int_equal(power_set_open(&ps, &conf, err, sizeof err), 0);
    assert_int_equal(ps.n, 4);   /* the mmio twin left out */
    assert_int_equal(power_set_readable(&ps), 3);
    struct power_src *pkg = by_name(&ps, "package-0"), *core = by_name(&ps, "core"),
                     *dram = by_name(&ps, "dram"), *bad = by_name(&ps, "package-1");
    assert_non_null(pkg);
    assert_non_null(core);
    assert_non_null(dram);
    assert_non_null(bad);
    assert_true(pkg->max_range_uj == 262143328850ULL && dram->max_range_uj == 0);
    assert_true(pkg->in_total && dram->in_total && !core->in_total && !bad->in_total);
    assert_false(bad->readable);
    assert_string_equal(bad->error, "not a whole number");

    /* one interval: 2 J of package in 1 s; the json has power and energy */
    power_set_sample(&ps, 1000000);
    put("pc/intel-rapl:0/energy_uj", "2001000\n");
    power_set_sample(&ps, 2000000);
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    power_set_json(&ps, &b);
    jb_obj_close(&b);
    assert_non_null(strstr(b.p, "\"power_w\": {\"package-0\": 2.000, \"core\": 0.000, "
                                "\"dram\": 0.000}"));
    assert_non_null(strstr(b.p, "\"energy_j\": {\"package-0\": 2.000"));
    assert_null(strstr(b.p, "power_reset"));
    /* a reset of package-0 is named in the line */
    put("pc/intel-rapl:0/energy_uj", "5\n");
    power_set_sample(&ps, 3000000);
    jb_reset(&b);
    jb_obj_open(&b, NULL);
    power_set_json(&ps, &b);
    jb_obj_close(&b);
    assert_non_null(strstr(b.p, "\"power_reset\": [\"package-0\"]"));
    assert_null(strstr(b.p, "\"package-0\": 0.000}"));
    jb_reset(&b);
    power_set_meta_json(&ps, &b);
    assert_non_null(strstr(b.p, "\"name\": \"package-1\", \"kind\": \"energy_uj\""));
    assert_non_null(strstr(b.p, "\"readable\": false, \"in_total\": false, \"error\""));
    jb_free(&b);
    power_set_free(&ps);

    /* psys alone is the total; named sources win over powercap */
    put("pc/intel-rapl:2/name", "psys\n");
    put("pc/intel-rapl:2/energy_uj", "1\n");
    assert_int_equal(power_set_open(&ps, &conf, err, sizeof err), 0);
    assert_true(by_name(&ps, "psys")->in_total && !by_name(&ps, "package-0")->in_total);
    power_set_free(&ps);
    char *pdu = path_join(dir, "pc/intel-rapl:0/energy_uj");
    char *spec = xasprintf("pdu=%s", pdu);
    const char *counters[] = {spec};
    conf.counters = counters;
    conf.ncounters = 1;
    assert_int_equal(power_set_open(&ps, &conf, err, sizeof err), 0);
    assert_true(by_name(&ps, "pdu")->in_total && !by_name(&ps, "psys")->in_total);
    power_set_free(&ps);
    conf.no_energy = true;
    assert_int_equal(power_set_open(&ps, &conf, err, sizeof err), 0);
    assert_int_equal(ps.n, 1);
    power_set_free(&ps);
    const char *twice[] = {spec, spec};
    conf.counters = twice;
    conf.ncounters = 2;
    assert_int_equal(power_set_open(&ps, &conf, err, sizeof err), -1);
    assert_non_null(strstr(err, "given twice"));
    free(spec);
    free(pdu);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_delta),
        cmocka_unit_test(test_counter_run),
        cmocka_unit_test(test_input_run),
        cmocka_unit_test_setup_teardown(test_powercap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
