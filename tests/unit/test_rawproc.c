#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/rawproc.h"
#include "common/util.h"

static enum raw_result parse(const char *line, struct raw_sample *s)
{
    return raw_parse_line(line, strlen(line), s);
}

static void test_collector_line(void **state)
{
    (void)state;
    struct raw_sample s;
    const char *l = "{\"ts_ms\": 1758580001000, \"pid\": 4242, \"rss_kb\": 50100, \"utime\": 190, "
                    "\"stime\": 7, \"start_ticks\": 123456, \"comm\": \"ffmpeg\", \"cpu_ms\": 1970.125, "
                    "\"mono_us\": 81234567890, \"threads\": 3, \"ev\": \"tick\"}";
    assert_int_equal(raw_parse_fast(l, strlen(l), &s), RAW_OK);
    assert_true(s.ts_ms == 1758580001000LL && s.pid == 4242);
    assert_true(s.has_rss && s.rss_kb == 50100);
    assert_true(s.has_ticks && s.utime == 190 && s.stime == 7);
    assert_true(s.has_start && s.start_ticks == 123456);
    assert_true(s.has_comm);
    assert_string_equal(s.comm, "ffmpeg");
    assert_true(s.has_cpu_ms && s.cpu_ms == 1970.125);
    assert_true(s.has_mono && s.mono_us == 81234567890LL);
    assert_int_equal(s.ev, RAW_EV_TICK);
}

static void test_original_line(void **state)
{
    (void)state;
    struct raw_sample s;
    assert_int_equal(parse("{\"ts_ms\": 1758580001000, \"pid\": 4242, \"rss_kb\": 50100, "
                           "\"utime\": 190, \"stime\": 7}",
                           &s),
                     RAW_OK);
    assert_true(s.has_ticks && s.has_rss);
    assert_false(s.has_start || s.has_cpu_ms || s.has_mono || s.has_comm);
    assert_int_equal(s.ev, RAW_EV_NONE);
}

static void test_fallback_and_errors(void **state)
{
    (void)state;
    struct raw_sample s;
    /* escapes and nesting are jansson's job, with the same result */
    const char *esc = "{\"ts_ms\": 1, \"pid\": 2, \"comm\": \"a\\\"b\\u00e9\", \"x\": {\"y\": [1]}}";
    assert_int_equal(raw_parse_fast(esc, strlen(esc), &s), RAW_FALLBACK);
    assert_int_equal(parse(esc, &s), RAW_OK);
    assert_string_equal(s.comm, "a\"b\xc3\xa9");
    /* a torn line, garbage, a non-object */
    assert_int_equal(parse("{\"ts_ms\": 17585800", &s), RAW_MALFORMED);
    assert_int_equal(parse("{\"ts_ms\": 1, \"pid\": 2} x", &s), RAW_MALFORMED);
    assert_int_equal(parse("[1, 2]", &s), RAW_MALFORMED);
    assert_int_equal(parse("{\"ts_ms\": 01, \"pid\": 2}", &s), RAW_MALFORMED);
    assert_int_equal(parse("{\"ts_ms\": 1, \"pid\": 2,}", &s), RAW_MALFORMED);
    /* objects without integer ts_ms/pid are invalid, not malformed */
    assert_int_equal(parse("{\"ts_ms\": 1.0, \"pid\": 2}", &s), RAW_INVALID);
    assert_int_equal(parse("{\"ts_ms\": 1}", &s), RAW_INVALID);
    assert_int_equal(parse("{\"ts_ms\": 1, \"pid\": \"2\"}", &s), RAW_INVALID);
    assert_int_equal(parse("{}", &s), RAW_INVALID);
    /* wrong types just drop the field; a later duplicate wins */
    assert_int_equal(parse("{\"ts_ms\": 1, \"pid\": 2, \"utime\": 5, \"stime\": \"x\", "
                           "\"rss_kb\": null, \"cpu_ms\": 3, \"cpu_ms\": null}",
                           &s),
                     RAW_OK);
    assert_false(s.has_ticks || s.has_rss || s.has_cpu_ms);
    /* out of int64 range: jansson refuses the line */
    assert_int_equal(parse("{\"ts_ms\": 99999999999999999999, \"pid\": 2}", &s), RAW_MALFORMED);
    /* issue #13: an implausible time (outside 1970..2200) is invalid, so
     * that no difference of two times can overflow later */
    assert_int_equal(parse("{\"ts_ms\": -9223372036854775808, \"pid\": 2}", &s), RAW_INVALID);
    assert_int_equal(parse("{\"ts_ms\": 9223372036854775807, \"pid\": 2}", &s), RAW_INVALID);
    assert_int_equal(parse("{\"ts_ms\": -1, \"pid\": 2}", &s), RAW_INVALID);
    assert_int_equal(parse("{\"ts_ms\": 7258118400001, \"pid\": 2}", &s), RAW_INVALID);
    assert_int_equal(parse("{\"ts_ms\": 7258118400000, \"pid\": 2, \"x\": [1]}", &s), RAW_OK);
    assert_true(s.ts_ms == 7258118400000);
}

static void same(const struct raw_sample *a, const struct raw_sample *b)
{
    assert_true(a->ts_ms == b->ts_ms && a->pid == b->pid);
    assert_int_equal(a->has_rss, b->has_rss);
    assert_int_equal(a->has_ticks, b->has_ticks);
    assert_int_equal(a->has_start, b->has_start);
    assert_int_equal(a->has_cpu_ms, b->has_cpu_ms);
    assert_int_equal(a->has_mono, b->has_mono);
    assert_int_equal(a->has_comm, b->has_comm);
    if (a->has_rss)
        assert_true(a->rss_kb == b->rss_kb);
    if (a->has_ticks)
        assert_true(a->utime == b->utime && a->stime == b->stime);
    if (a->has_cpu_ms)
        assert_true(a->cpu_ms == b->cpu_ms);
    if (a->has_comm)
        assert_string_equal(a->comm, b->comm);
    assert_int_equal(a->ev, b->ev);
}

/* The fast scanner and jansson agree on every line the scanner accepts. */
static void test_fast_matches_jansson(void **state)
{
    (void)state;
    const char *lines[] = {
        "{\"ts_ms\": 1758580001000, \"pid\": 4242, \"rss_kb\": 50100, \"utime\": 190, \"stime\": 7}",
        "{ \"pid\" : 3 , \"ts_ms\":5 ,\"cpu_ms\": -0.5e3, \"comm\": \"kworker/0:1\", \"ev\": \"exit\"}",
        "{\"ts_ms\": 5, \"pid\": 3, \"cpu_ms\": 123456789012345.6, \"mono_us\": 0, \"ev\": \"new\"}",
        "{\"ts_ms\": 5, \"pid\": 3, \"cpu_ms\": 0.1, \"threads\": true, \"x\": false, \"ev\": 7}",
        "{\"ts_ms\": 5, \"pid\": 3, \"comm\": \"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
        "{\"ts_ms\": 5, \"pid\": -3, \"cpu_ms\": 1E2, \"start_ticks\": 0, \"ev\": \"other\"}",
    };
    for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
        struct raw_sample f, j;
        assert_int_equal(raw_parse_fast(lines[i], strlen(lines[i]), &f), RAW_OK);
        json_t *o = json_loads(lines[i], 0, NULL);
        assert_non_null(o);
        assert_int_equal(raw_from_json(o, &j), RAW_OK);
        json_decref(o);
        same(&f, &j);
    }
}

/* Decimal fast path: same double as strtod for random short decimals. */
static void test_decimal_exact(void **state)
{
    (void)state;
    srand(7);
    for (int i = 0; i < 20000; i++) {
        int idig = 1 + rand() % 9, fdig = 1 + rand() % 6;
        char num[40];
        size_t n = 0;
        num[n++] = (char)('1' + rand() % 9);
        for (int k = 1; k < idig; k++)
            num[n++] = (char)('0' + rand() % 10);
        num[n++] = '.';
        for (int k = 0; k < fdig; k++)
            num[n++] = (char)('0' + rand() % 10);
        num[n] = '\0';
        char line[96];
        snprintf(line, sizeof line, "{\"ts_ms\": 1, \"pid\": 2, \"cpu_ms\": %s}", num);
        struct raw_sample s;
        assert_int_equal(raw_parse_fast(line, strlen(line), &s), RAW_OK);
        assert_true(s.cpu_ms == strtod(num, NULL));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collector_line),
        cmocka_unit_test(test_original_line),
        cmocka_unit_test(test_fallback_and_errors),
        cmocka_unit_test(test_fast_matches_jansson),
        cmocka_unit_test(test_decimal_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
