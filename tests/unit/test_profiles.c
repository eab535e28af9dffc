#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "task/profiles.h"

/* argv as one space-joined string, for exact comparisons */
static char *join(char **argv)
{
    size_t n = 1;
    for (char **a = argv; *a; a++)
        n += strlen(*a) + 1;
    char *s = calloc(1, n);
    for (char **a = argv; *a; a++) {
        if (a != argv)
            strcat(s, " ");
        strcat(s, *a);
    }
    return s;
}

static void expect_profile_argv(const char *name, const char *want, int units)
{
    const struct ffmpeg_profile *p = profile_find(name);
    assert_non_null(p);
    assert_int_equal(p->cpu_units, units);
    char **argv = ffmpeg_argv("ffmpeg", &p->p, "in.mp4", "out/o.mp4");
    char *got = join(argv);
    assert_string_equal(got, want);
    free(got);
    argv_free(argv);
}

/* The original §7.5 table, plus -y -nostdin (B33). */
static void test_profile_argv_exact(void **state)
{
    (void)state;
    expect_profile_argv("fast1080p",
                        "ffmpeg -y -nostdin -i in.mp4 -vf scale=1920:1080 -c:v libx264 -preset "
                        "fast -crf 28 -threads:v 2 -filter_threads 2 -c:a copy out/o.mp4",
                        2);
    expect_profile_argv("medium480p",
                        "ffmpeg -y -nostdin -i in.mp4 -vf scale=854:480 -c:v libx264 -preset "
                        "medium -crf 28 -threads:v 2 -filter_threads 2 -c:a copy out/o.mp4",
                        2);
    expect_profile_argv("hevc1080p",
                        "ffmpeg -y -nostdin -i in.mp4 -vf scale=1920:1080 -c:v libx265 -preset "
                        "medium -crf 28 -threads:v 4 -filter_threads 4 -c:a copy out/o.mp4",
                        4);
    expect_profile_argv("light1c",
                        "ffmpeg -y -nostdin -i in.mp4 -vf scale=854:480 -c:v libx264 -preset "
                        "veryfast -crf 28 -threads:v 1 -filter_threads 1 -c:a copy out/o.mp4",
                        1);
    expect_profile_argv("default",
                        "ffmpeg -y -nostdin -i in.mp4 -vf scale=1280:720 -c:v libx264 -preset "
                        "veryfast -crf 28 -c:a copy out/o.mp4",
                        1);
}

static void test_profile_names(void **state)
{
    (void)state;
    const struct ffmpeg_profile *l = profile_find("light1c");
    assert_ptr_equal(profile_find("light480p1c"), l);
    assert_ptr_equal(profile_find("light_1c"), l);
    assert_ptr_equal(profile_find("  LIGHT1C "), l);
    assert_null(profile_find("light2c"));
    assert_null(profile_find(""));
    assert_null(profile_find(NULL));
    /* the dispatcher's mix rule: unknown names fall back to 720p with 2/2 threads */
    const struct ffmpeg_profile *o = profile_for_mix_name("whatever");
    assert_string_equal(o->p.scale, "1280:720");
    assert_int_equal(o->p.vthreads, 2);
    assert_int_equal(o->p.fthreads, 2);
    assert_int_equal(o->cpu_units, 1);
    assert_ptr_equal(profile_for_mix_name("default"), o);
    assert_ptr_equal(profile_for_mix_name("Medium480p"), profile_find("medium480p"));
    size_t n;
    profile_table(&n);
    assert_int_equal(n, 5);
}

static void test_encoder(void **state)
{
    (void)state;
    assert_string_equal(ffmpeg_encoder("hevc"), "libx265");
    assert_string_equal(ffmpeg_encoder("H265"), "libx265");
    assert_string_equal(ffmpeg_encoder("h264"), "libx264");
    assert_string_equal(ffmpeg_encoder("vp9"), "libx264");
    assert_string_equal(ffmpeg_encoder(NULL), "libx264");
}

static void test_ffmpeg_files(void **state)
{
    (void)state;
    const char *in[8], *out;
    char *a1[] = {"/usr/bin/ffmpeg", "-y", "-i", "a.mp4", "-i", "b.wav", "-c:v", "libx264",
                  "dir/out.mp4", NULL};
    assert_int_equal(ffmpeg_files(a1, in, 8, &out), 2);
    assert_string_equal(in[0], "a.mp4");
    assert_string_equal(in[1], "b.wav");
    assert_string_equal(out, "dir/out.mp4");

    char *a2[] = {"ffmpeg", "-i", "a.mp4", "-f", "null", "-", NULL};  /* stdout */
    assert_int_equal(ffmpeg_files(a2, in, 8, &out), 1);
    assert_null(out);

    char *a3[] = {"ffmpeg", "-i", "a.mp4", NULL};  /* no output at all */
    assert_int_equal(ffmpeg_files(a3, in, 8, &out), 1);
    assert_null(out);

    char *a4[] = {"ffmpeg", "-version", NULL};
    assert_int_equal(ffmpeg_files(a4, in, 8, &out), 0);
    assert_null(out);

    char *a5[] = {"ffmpeg", "-i", NULL};  /* dangling -i */
    assert_int_equal(ffmpeg_files(a5, in, 8, &out), 0);
    assert_null(out);

    /* the profile builder's own command round-trips */
    char **b = ffmpeg_argv("ffmpeg", &profile_find("light1c")->p, "x/in.mp4", "y/out.mp4");
    assert_int_equal(ffmpeg_files(b, in, 1, &out), 1);
    assert_string_equal(in[0], "x/in.mp4");
    assert_string_equal(out, "y/out.mp4");
    argv_free(b);

    assert_true(is_ffmpeg_command("ffmpeg"));
    assert_true(is_ffmpeg_command("/usr/bin/ffmpeg"));
    assert_false(is_ffmpeg_command("ffprobe"));
    assert_false(is_ffmpeg_command("/opt/ffmpeg/bin/x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_argv_exact),
        cmocka_unit_test(test_profile_names),
        cmocka_unit_test(test_encoder),
        cmocka_unit_test(test_ffmpeg_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
