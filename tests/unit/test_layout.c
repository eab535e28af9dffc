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

    /* layout_run_dirs: a run folder is itself, else its node folders */
    touch(dir, "w1/logs/R/events.ffmpeg.jsonl");
    char *w1 = path_join(dir, "w1/logs/R");
    l = layout_run_dirs(w1, &n);
    assert_int_equal(n, 1);
    assert_string_equal(l[0], w1);
    assert_true(layout_is_run_dir(l[0]) && layout_has_raw(l[0]));
    layout_free_list(l);
    l = layout_run_dirs(exp, &n);
    assert_int_equal(n, 3);   /* without a run id: every run folder, "other" is none */
    assert_non_null(strstr(l[0], "R(c0)"));
    layout_free_list(l);
    char *empty = path_join(dir, "exp/other");
    assert_null(layout_run_dirs(empty, &n));
    assert_int_equal(n, 0);
    free(empty);

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
        cmocka_unit_test(test_experiment_layout),
        cmocka_unit_test(test_replace_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
