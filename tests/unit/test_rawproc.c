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
    assert_int_equal(a->has_run_delay, b->has_run_delay);
    assert_int_equal(a->has_elapsed, b->has_elapsed);
    assert_int_equal(a->has_rss_peak, b->has_rss_peak);
    assert_int_equal(a->has_us, b->has_us);
    assert_int_equal(a->has_exit_code, b->has_exit_code);
    assert_int_equal(a->taskstats, b->taskstats);
    if (a->has_run_delay)
        assert_true(a->run_delay_ms == b->run_delay_ms);
    if (a->has_elapsed)
        assert_true(a->elapsed_ms == b->elapsed_ms);
    if (a->has_rss_peak)
        assert_true(a->rss_peak_kb == b->rss_peak_kb);
    if (a->has_us)
        assert_true(a->utime_us == b->utime_us && a->stime_us == b->stime_us);
    if (a->has_exit_code)
        assert_true(a->exit_code == b->exit_code);
}

/* The kernel's exit record (issue #14), as formats.md shows it. */
#define EXIT_LINE                                                                               \
    "{\"ts_ms\": 1758580001234, \"pid\": 4242, \"utime\": 3, \"stime\": 0, "                    \
    "\"start_ticks\": 123456, \"comm\": \"burn\", \"cpu_ms\": 30.835, \"mono_us\": 81234567890, " \
    "\"run_delay_ms\": 0.079, \"utime_us\": 30835, \"stime_us\": 0, \"rss_peak_kb\": 1368, "      \
    "\"elapsed_ms\": 31.024, \"exit_code\": 0, \"src\": \"taskstats\", \"ev\": \"exit\"}"

static void test_exit_record(void **state)
{
    (void)state;
    struct raw_sample s;
    const char *l = EXIT_LINE;
    assert_int_equal(raw_parse_fast(l, strlen(l), &s), RAW_OK);
    assert_true(s.taskstats && s.ev == RAW_EV_EXIT);
    assert_true(s.has_run_delay && s.run_delay_ms == 0.079);
    assert_true(s.has_elapsed && s.elapsed_ms == 31.024);
    assert_true(s.has_rss_peak && s.rss_peak_kb == 1368 && !s.has_rss);
    assert_true(s.has_us && s.utime_us == 30835 && s.stime_us == 0);
    assert_true(s.has_exit_code && s.exit_code == 0);
    assert_true(s.has_cpu_ms && s.cpu_ms == 30.835);
    /* a sample: run delay only, an integer counts; no src is not taskstats */
    assert_int_equal(parse("{\"ts_ms\": 5, \"pid\": 3, \"run_delay_ms\": 12, \"ev\": \"exit\"}", &s),
                     RAW_OK);
    assert_true(s.has_run_delay && s.run_delay_ms == 12 && !s.taskstats && !s.has_elapsed);
    /* wrong types drop the field: absent run delay is unknown, never 0 */
    assert_int_equal(parse("{\"ts_ms\": 5, \"pid\": 3, \"run_delay_ms\": \"1\", \"elapsed_ms\": null, "
                           "\"rss_peak_kb\": 1.5, \"utime_us\": 1, \"exit_code\": true, "
                           "\"src\": \"proc\"}",
                           &s),
                     RAW_OK);
    assert_false(s.has_run_delay || s.has_elapsed || s.has_rss_peak || s.has_us || s.has_exit_code ||
                 s.taskstats);
    assert_int_equal(parse("{\"ts_ms\": 5, \"pid\": 3, \"src\": \"taskstats\", \"src\": 1}", &s), RAW_OK);
    assert_false(s.taskstats);  /* a later duplicate wins */
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
        EXIT_LINE,
        "{\"ts_ms\": 5, \"pid\": 3, \"run_delay_ms\": 1.5e-3, \"elapsed_ms\": -2, \"src\": \"taskstat\"}",
        "{\"ts_ms\": 5, \"pid\": 3, \"run_delay_ms\": 81234.5678, \"utime_us\": 7, \"stime_us\": 8}",
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
        cmocka_unit_test(test_exit_record),
        cmocka_unit_test(test_fast_matches_jansson),
        cmocka_unit_test(test_decimal_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
