#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "task/geninputs.h"
#include "task/profiles.h"

static void test_sizes_and_rates(void **state)
{
    (void)state;
    int w = 0, h = 0;
    assert_true(geninputs_parse_size("854x480", &w, &h));
    assert_int_equal(w, 854);
    assert_int_equal(h, 480);
    assert_false(geninputs_parse_size("853x480", &w, &h));  /* odd: not yuv420p */
    assert_false(geninputs_parse_size("854X480", &w, &h));
    assert_false(geninputs_parse_size("x480", &w, &h));
    assert_false(geninputs_parse_size("854x", &w, &h));
    assert_false(geninputs_parse_size("8x8", &w, &h));
    assert_false(geninputs_parse_size("10000x480", &w, &h));
    assert_int_equal(w, 854);
    int64_t b = 0;
    assert_true(geninputs_parse_bitrate("2M", &b));
    assert_int_equal(b, 2000000);
    assert_true(geninputs_parse_bitrate("800k", &b));
    assert_int_equal(b, 800000);
    assert_true(geninputs_parse_bitrate("1500000", &b));
    assert_int_equal(b, 1500000);
    assert_false(geninputs_parse_bitrate("2G", &b));
    assert_false(geninputs_parse_bitrate("1k", &b));  /* below 10k */
    assert_false(geninputs_parse_bitrate("M", &b));
    assert_false(geninputs_parse_bitrate("", &b));
}

static void test_names_and_patterns(void **state)
{
    (void)state;
    char *n = geninputs_name(854, 480, 10, "testsrc2");
    assert_string_equal(n, "gen_854x480_10s.mp4");
    free(n);
    n = geninputs_name(1920, 1080, 1.5, "mandelbrot");
    assert_string_equal(n, "gen_1920x1080_1.5s_mandelbrot.mp4");
    free(n);
    assert_ptr_equal(geninputs_pattern_find("moving"), geninputs_pattern_find("testsrc2"));
    assert_ptr_equal(geninputs_pattern_find("gradient"), geninputs_pattern_find("smptehdbars"));
    assert_null(geninputs_pattern_find("rainbow"));
    char *f = geninputs_filter(geninputs_pattern_find("testsrc2"), 320, 240, 25);
    assert_string_equal(f, "testsrc2=size=320x240:rate=25,noise=alls=5:allf=t");
    free(f);
    f = geninputs_filter(geninputs_pattern_find("mandelbrot"), 320, 240, 30);
    assert_non_null(strstr(f, "mandelbrot=size=320x240:rate=30"));
    free(f);
}

static void test_ffmpeg_args(void **state)
{
    (void)state;
    char **v = geninputs_ffmpeg_argv("ffmpeg", geninputs_pattern_find("testsrc2"), 160, 120, 30, 2, "veryfast",
                              2000000, "d/.x.part");
    size_t n = argv_len(v);
    assert_string_equal(v[n - 1], "d/.x.part");
    assert_string_equal(v[n - 2], "mp4");  /* -f mp4: the temp name has no .mp4 */
    bool nostdin = false, keyint = false, t2 = false;
    for (size_t i = 0; i < n; i++) {
        nostdin |= !strcmp(v[i], "-nostdin");
        keyint |= !strcmp(v[i], "keyint=90:min-keyint=60:scenecut=40");
        t2 |= !strcmp(v[i], "-t") && !strcmp(v[i + 1], "2");
    }
    assert_true(nostdin && keyint && t2);
    argv_free(v);
}

static void test_probe(void **state)
{
    (void)state;
    struct geninputs_probe p;
    assert_true(geninputs_probe_parse("codec_name=h264\nwidth=854\nheight=480\nduration=10.000000\n", &p));
    assert_string_equal(p.codec, "h264");
    assert_true(geninputs_probe_matches(&p, 854, 480, 10, 30));
    assert_false(geninputs_probe_matches(&p, 854, 480, 20, 30));
    assert_false(geninputs_probe_matches(&p, 1280, 720, 10, 30));
    p.duration = 10.4;
    assert_true(geninputs_probe_matches(&p, 854, 480, 10, 30));
    strcpy(p.codec, "hevc");
    assert_false(geninputs_probe_matches(&p, 854, 480, 10, 30));
    /* truncated file: ffprobe prints no duration */
    assert_false(geninputs_probe_parse("codec_name=h264\nwidth=854\nheight=480\nduration=N/A\n", &p));
    assert_false(geninputs_probe_parse("", &p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_rates),
        cmocka_unit_test(test_names_and_patterns),
        cmocka_unit_test(test_ffmpeg_args),
        cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
