/* Expected sequences were computed with CPython 3.11 running the original
 * dispatcher's arithmetic (upstream §7.5). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sched/mix.h"

#define VEC "medium480p=3,fast1080p=2,hevc1080p=2,light1c=3"

static void test_parse_rules(void **state)
{
    (void)state;
    struct mix m;
    char err[256];
    assert_int_equal(mix_parse(" Medium480P = 3 ,,bogus, x=1.5, =4, y=abc, z=-2,w=+1_0,\t", NULL,
                               &m, err, sizeof err), 0);
    assert_int_equal(m.n, 3);
    assert_string_equal(m.e[0].name, "medium480p");
    assert_int_equal(m.e[0].weight, 3);
    assert_string_equal(m.e[1].name, "z");
    assert_int_equal(m.e[1].weight, -2);
    assert_string_equal(m.e[2].name, "w");
    assert_int_equal(m.e[2].weight, 10);
    /* bogus (no '='), x=1.5, =4 (empty name), y=abc */
    assert_int_equal(m.skipped, 4);
    assert_int_equal(m.duplicates, 0);
    assert_int_equal(mix_weight_sum(&m), 13);
    mix_free(&m);

    /* Python int() rejects these underscores. */
    assert_int_equal(mix_parse("a=1__0,b=_1,c=1_,d=2", NULL, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 1);
    assert_int_equal(m.skipped, 3);
    mix_free(&m);

    assert_int_equal(mix_parse(" , ,", NULL, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "no usable"));
    assert_int_equal(mix_parse("a=99999999999999999999", NULL, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "too large"));
    assert_int_equal(mix_parse(NULL, NULL, &m, err, sizeof err), -1);
}

static const char *canon(const char *name)
{
    if (!strcmp(name, "light_1c") || !strcmp(name, "light480p1c"))
        return "light1c";
    return NULL;
}

/* dispatch's and local's rules: a typo or a malformed item is an error naming it */
static void test_strict_names(void **state)
{
    (void)state;
    static const char *const known[] = {"medium480p", "fast1080p", "hevc1080p", "light1c"};
    struct mix_names names = {.canon = canon, .known = known, .nknown = 4};
    struct mix m;
    char err[512];
    assert_int_equal(mix_parse_names("medum480p=1", &names, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown profile 'medum480p'; did you mean 'medium480p'?"));
    assert_non_null(strstr(err, "medium480p, fast1080p, hevc1080p or light1c"));
    assert_int_equal(mix_parse_names("medium480p=1, light1c", &names, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "item 'light1c' is not NAME=WEIGHT"));
    assert_int_equal(mix_parse_names("medium480p=1,y=abc", &names, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "item 'y=abc'"));
    assert_int_equal(mix_parse_names("zzz=1", &names, &m, err, sizeof err), -1);
    assert_null(strstr(err, "did you mean"));
    /* aliases are known; names are lower-cased first */
    assert_int_equal(mix_parse_names("Light_1C=2,FAST1080P=1", &names, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.e[0].name, "light1c");
    mix_free(&m);
    /* lenient: the original's rules, the skipped items named */
    names.lenient = true;
    assert_int_equal(mix_parse_names("medum480p=1,light1c,y=abc", &names, &m, err, sizeof err), 0);
    assert_int_equal(m.n, 1);
    assert_string_equal(m.e[0].name, "medum480p");
    assert_int_equal(m.skipped, 2);
    assert_string_equal(m.skipped_text, "'light1c', 'y=abc'");
    mix_free(&m);
}

static void test_duplicates_merge(void **state)
{
    (void)state;
    struct mix m;
    char err[256];
    /* B18: the original counted a repeated name twice.  Here: one entry at
     * the first position, last weight wins; aliases merge too. */
    assert_int_equal(mix_parse("light1c=1,fast1080p=2,LIGHT_1C=5,fast1080p=3", canon, &m, err,
                               sizeof err), 0);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.e[0].name, "light1c");
    assert_int_equal(m.e[0].weight, 5);
    assert_string_equal(m.e[1].name, "fast1080p");
    assert_int_equal(m.e[1].weight, 3);
    assert_int_equal(m.duplicates, 2);
    int64_t c[2];
    assert_int_equal(mix_counts(&m, 8, c, err, sizeof err), 0);
    assert_int_equal(c[0], 5);
    assert_int_equal(c[1], 3);
    mix_free(&m);
}

static void test_counts_vectors(void **state)
{
    (void)state;
    struct mix m;
    char err[256];
    int64_t c[4];
    assert_int_equal(mix_parse(VEC, NULL, &m, err, sizeof err), 0);
    assert_int_equal(mix_counts(&m, 100, c, err, sizeof err), 0);
    assert_int_equal(c[0], 30);
    assert_int_equal(c[1], 20);
    assert_int_equal(c[2], 20);
    assert_int_equal(c[3], 30);
    assert_int_equal(mix_counts(&m, 7, c, err, sizeof err), 0);
    assert_int_equal(c[0], 3);
    assert_int_equal(c[1], 1);
    assert_int_equal(c[2], 1);
    assert_int_equal(c[3], 2);
    assert_int_equal(mix_counts(&m, 0, c, err, sizeof err), -1);
    assert_int_equal(mix_counts(&m, MIX_MAX_TOTAL + 1, c, err, sizeof err), -1);
    mix_free(&m);

    /* Remainder goes by descending weight; ties keep --mix order; weights
     * <= 0 get nothing.  x=5,y=0,z=-2,w=2 total 9 -> 7/0/0/2. */
    assert_int_equal(mix_parse("x=5,y=0,z=-2,w=2", NULL, &m, err, sizeof err), 0);
    assert_int_equal(mix_counts(&m, 9, c, err, sizeof err), 0);
    assert_int_equal(c[0], 7);
    assert_int_equal(c[1], 0);
    assert_int_equal(c[2], 0);
    assert_int_equal(c[3], 2);
    mix_free(&m);
    assert_int_equal(mix_parse("a=1,b=2,c=2,d=1", NULL, &m, err, sizeof err), 0);
    assert_int_equal(mix_counts(&m, 3, c, err, sizeof err), 0); /* 0/2/1/0 */
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 2);
    assert_int_equal(c[2], 1);
    assert_int_equal(c[3], 0);
    mix_free(&m);

    /* All weights <= 0: an error, not a short sequence (B18). */
    assert_int_equal(mix_parse("a=0,b=-1", NULL, &m, err, sizeof err), 0);
    assert_int_equal(mix_counts(&m, 5, c, err, sizeof err), -1);
    assert_non_null(strstr(err, "zero"));
    mix_free(&m);
}

static void test_sequence_vectors(void **state)
{
    (void)state;
    struct mix m;
    char err[256];
    assert_int_equal(mix_parse(VEC, NULL, &m, err, sizeof err), 0);
    size_t *seq = mix_sequence(&m, 100, 20250901, err, sizeof err);
    assert_non_null(seq);
    /* All 100 entries of Random(20250901).shuffle over the sorted sequence;
     * the first 12 are the ones listed in upstream §7.5. */
    static const size_t want[100] = {
        3, 3, 0, 2, 2, 3, 3, 0, 3, 0, 0, 0, 1, 1, 3, 2, 2, 0, 1, 1, 3, 1, 0, 3, 3,
        0, 0, 0, 3, 2, 3, 1, 1, 2, 0, 1, 3, 1, 2, 0, 3, 2, 3, 0, 3, 1, 3, 0, 3, 2,
        0, 2, 3, 3, 0, 0, 0, 1, 0, 3, 3, 0, 2, 1, 1, 0, 2, 2, 1, 2, 2, 1, 3, 1, 0,
        0, 3, 3, 3, 1, 3, 2, 0, 2, 2, 2, 0, 3, 1, 0, 1, 1, 0, 3, 0, 0, 3, 3, 2, 0};
    assert_memory_equal(seq, want, sizeof want);
    static const char *first12[12] = {"light1c", "light1c", "medium480p", "hevc1080p",
                                      "hevc1080p", "light1c", "light1c", "medium480p",
                                      "light1c", "medium480p", "medium480p", "medium480p"};
    for (int i = 0; i < 12; i++)
        assert_string_equal(m.e[seq[i]].name, first12[i]);
    free(seq);

    /* total 7: fast1080p light1c medium480p light1c medium480p hevc1080p medium480p */
    seq = mix_sequence(&m, 7, 20250901, err, sizeof err);
    static const size_t want7[7] = {1, 3, 0, 3, 0, 2, 0};
    assert_memory_equal(seq, want7, sizeof want7);
    free(seq);
    mix_free(&m);

    /* Seed 0 is Random(0) here, reproducible (the original: unseeded). */
    assert_int_equal(mix_parse("a=1,b=1,c=1", NULL, &m, err, sizeof err), 0);
    seq = mix_sequence(&m, 5, 0, err, sizeof err);
    static const size_t want0[5] = {1, 0, 0, 2, 1}; /* b a a c b */
    assert_memory_equal(seq, want0, sizeof want0);
    free(seq);
    assert_null(mix_sequence(&m, -1, 0, err, sizeof err));
    mix_free(&m);

    assert_int_equal(mix_parse("x=5,y=0,z=-2,w=2", NULL, &m, err, sizeof err), 0);
    seq = mix_sequence(&m, 9, 1, err, sizeof err);
    static const size_t want1[9] = {0, 0, 3, 0, 0, 0, 3, 0, 0};
    assert_memory_equal(seq, want1, sizeof want1);
    free(seq);
    mix_free(&m);
}

static void test_total0_draws(void **state)
{
    (void)state;
    struct mix m;
    char err[256];
    assert_int_equal(mix_parse(VEC, NULL, &m, err, sizeof err), 0);
    struct pyrand r;
    pyrand_seed(&r, 20250901);
    /* randint(1, 10) per file, first cumulative weight >= draw */
    static const long want[15] = {0, 3, 1, 0, 3, 1, 2, 2, 0, 1, 3, 1, 3, 3, 2};
    for (int i = 0; i < 15; i++)
        assert_int_equal(mix_draw(&m, &r), want[i]);
    mix_free(&m);

    /* A zero-weight entry is never drawn; all zero -> -1 instead of a crash. */
    assert_int_equal(mix_parse("a=0,b=4,c=0", NULL, &m, err, sizeof err), 0);
    for (int i = 0; i < 50; i++)
        assert_int_equal(mix_draw(&m, &r), 1);
    mix_free(&m);
    assert_int_equal(mix_parse("a=0,b=-4", NULL, &m, err, sizeof err), 0);
    assert_int_equal(mix_draw(&m, &r), -1);
    mix_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_rules),
        cmocka_unit_test(test_duplicates_merge),
        cmocka_unit_test(test_strict_names),
        cmocka_unit_test(test_counts_vectors),
        cmocka_unit_test(test_sequence_vectors),
        cmocka_unit_test(test_total0_draws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
