#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "common/fstree.h"
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

static void test_plan(void **state)
{
    (void)state;
    struct geninputs_item *v;
    char err[256];
    int n = geninputs_plan("1, 2.5", "160x120,96x64", "testsrc2,gradient", &v, err, sizeof err);
    assert_int_equal(n, 8);
    /* size, then duration, then pattern */
    assert_int_equal(v[0].w, 160);
    assert_true(v[0].secs == 1);
    assert_string_equal(v[0].pat->name, "testsrc2");
    assert_string_equal(v[1].pat->name, "smptehdbars");
    assert_true(v[2].secs == 2.5);
    assert_int_equal(v[4].w, 96);
    assert_int_equal(v[7].h, 64);
    free(v);
    assert_int_equal(geninputs_plan("1", "853x480", "testsrc2", &v, err, sizeof err), -1);
    assert_null(v);
    assert_non_null(strstr(err, "invalid size '853x480' in --sizes"));
    assert_int_equal(geninputs_plan("0", "854x480", "testsrc2", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid duration '0' in --durations"));
    assert_int_equal(geninputs_plan("1", "854x480", "rainbow", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown pattern 'rainbow'"));
    assert_int_equal(geninputs_plan(",", "854x480", "noise", &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "need at least one item"));
}

/* A missing ffmpeg: every file fails, nothing is left behind. */
static void test_run_without_ffmpeg(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_geninputs_XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct geninputs_item *v;
    char err[256];
    int n = geninputs_plan("1", "96x64", "testsrc2,noise", &v, err, sizeof err);
    assert_int_equal(n, 2);
    char *out = path_join(dir, "in");
    struct geninputs_job j = {.outdir = out, .items = v, .nitems = n, .fps = 30,
                              .preset = "veryfast", .bps = 100000,
                              .ffmpeg = "/nonexistent/ffmpeg", .ffprobe = "/nonexistent/ffprobe"};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct geninputs_summary sum;
    assert_int_equal(geninputs_run(&j, f, &sum), 0);
    fclose(f);
    assert_int_equal(sum.made, 0);
    assert_int_equal(sum.kept, 0);
    assert_int_equal(sum.failed, 2);
    assert_int_equal(len, 0);
    assert_true(is_dir(out));
    DIR *d = opendir(out);  /* nothing was left behind */
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        assert_true(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."));
    closedir(d);
    assert_int_equal(fstree_rm_rf(dir), 0);
    free(text);
    free(out);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_rates),
        cmocka_unit_test(test_names_and_patterns),
        cmocka_unit_test(test_ffmpeg_args),
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_run_without_ffmpeg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
