#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fstree.h"
#include "trace/layout.h"
#include "common/util.h"

static void names_of(struct layout_node *n, size_t k, const char **want)
{
    layout_assign_names(n, k);
    for (size_t i = 0; i < k; i++) {
        assert_string_equal(n[i].name, want[i]);
        free(n[i].name);
        n[i].name = NULL;
    }
}

static void test_assign_names(void **state)
{
    (void)state;
    /* distinct ids: kept */
    struct layout_node a[] = {{"cloud1", "h1", "/x/1", NULL}, {"cloud2", "h2", "/x/2", NULL}};
    names_of(a, 2, (const char *[]){"cloud1", "cloud2"});

    /* the original's "vm0" everywhere, hosts differ: ID-HOST */
    struct layout_node b[] = {{"vm0", "cloud2gxie", "/e/b", NULL}, {"vm0", "cloud1gxie", "/e/a", NULL}};
    names_of(b, 2, (const char *[]){"vm0-cloud2gxie", "vm0-cloud1gxie"});

    /* same host too: numbered by source path, whatever the input order */
    struct layout_node c[] = {{"vm0", "h", "/e/run(c1)", NULL}, {"vm0", "h", "/e/run(c0)", NULL}};
    names_of(c, 2, (const char *[]){"vm0-2", "vm0-1"});
    struct layout_node c2[] = {{"vm0", "h", "/e/run(c0)", NULL}, {"vm0", "h", "/e/run(c1)", NULL}};
    names_of(c2, 2, (const char *[]){"vm0-1", "vm0-2"});

    /* no node_meta: the folder name; unsafe characters replaced */
    struct layout_node d[] = {{NULL, NULL, "/e/run(c3)", NULL}, {"a/b c", NULL, "/e/q", NULL}};
    names_of(d, 2, (const char *[]){"run(c3)", "a_b_c"});

    /* a made-up name that equals another node's real id */
    struct layout_node e[] = {{"n", NULL, "/1", NULL}, {"n", NULL, "/2", NULL}, {"n-1", NULL, "/3", NULL}};
    layout_assign_names(e, 3);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(e[i].name, e[j].name);
    assert_string_equal(e[2].name, "n-1");  /* the real id wins */
    assert_string_equal(e[1].name, "n-2");
    assert_string_equal(e[0].name, "n-1-2");
    for (size_t i = 0; i < 3; i++)
        free(e[i].name);

    char *s = layout_safe_name("..");
    assert_string_equal(s, "_.");
    free(s);
    s = layout_safe_name("");
    assert_string_equal(s, "node");
    free(s);
}

static void touch(const char *dir, const char *rel)
{
    char *p = path_join(dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    assert_int_equal(mkdir_p(p, 0755), 0);
    *slash = '/';
    assert_int_equal(write_file_atomic(p, "{}", 2), 0);
    free(p);
}

static void test_experiment_layout(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/tk-layout.XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    /* the original's experiment folder: R(c0) .. R(c10), one with only cctf/ */
    touch(dir, "exp/R(c10)/node_meta.json");
    touch(dir, "exp/R(c9)/proc_metrics.jsonl");
    touch(dir, "exp/R(c0)/cctf/invocations.jsonl");
    touch(dir, "exp/other/x.txt");
    char *exp = path_join(dir, "exp");
    size_t n;
    char **l = layout_node_dirs(exp, "R", &n);
    assert_int_equal(n, 3);
    assert_non_null(strstr(l[0], "R(c0)"));
    assert_non_null(strstr(l[1], "R(c9)"));
    assert_non_null(strstr(l[2], "R(c10)"));
    char *cts = layout_cts_dir(l[0]);
    assert_non_null(strstr(cts, "/cctf"));
    free(cts);
    assert_null(layout_cts_dir(l[1]));
    layout_free_list(l);

    /* gather --from: the run folder, DIR/RUN_ID, DIR/logs/RUN_ID, RUN_ID(cN) */
    char err[256];
    l = layout_find_runs(exp, "R", &n, err, sizeof err);
    assert_int_equal(n, 3);
    layout_free_list(l);
    touch(dir, "w1/logs/R/events.ffmpeg.jsonl");
    char *w1 = path_join(dir, "w1");
    l = layout_find_runs(w1, "R", &n, err, sizeof err);
    assert_int_equal(n, 1);
    assert_non_null(strstr(l[0], "w1/logs/R"));
    assert_true(layout_is_run_dir(l[0]) && layout_has_raw(l[0]));
    layout_free_list(l);
    assert_null(layout_find_runs(w1, "other", &n, err, sizeof err));
    assert_non_null(strstr(err, "no run folder"));
    assert_null(layout_find_runs("/nonexistent/x", "R", &n, err, sizeof err));

    free(w1);
    free(exp);
    assert_int_equal(fstree_rm_rf(dir), 0);
    assert_false(file_exists(dir));
}

static void test_replace_folder(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/tk-replace.XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char *fresh = path_join(dir, "new"), *final = path_join(dir, "CTS");
    touch(dir, "new/a.jsonl");
    assert_int_equal(fstree_replace(fresh, final), 0);  /* nothing to replace */
    touch(dir, "new/b.jsonl");
    assert_int_equal(fstree_replace(fresh, final), 0);  /* exchange, old one removed */
    char *a = path_join(final, "a.jsonl"), *b = path_join(final, "b.jsonl");
    assert_false(file_exists(a));
    assert_true(file_exists(b));
    assert_false(file_exists(fresh));

    size_t files;
    char err[256];
    char *copy = path_join(dir, "copy");
    assert_int_equal(fstree_copy(final, copy, NULL, &files, err, sizeof err), 0);
    assert_int_equal(files, 1);
    free(a);
    free(b);
    free(copy);
    free(fresh);
    free(final);
    assert_int_equal(fstree_rm_rf(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assign_names),
        cmocka_unit_test(test_experiment_layout),
        cmocka_unit_test(test_replace_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
