#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fstree.h"
#include "common/util.h"
#include "trace/gather.h"
#include "trace/layout.h"

/* ---- naming ---- */

static void names_of(struct gather_name *n, size_t k, const char **want)
{
    gather_assign_names(n, k);
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
    struct gather_name a[] = {{"cloud1", "h1", "/x/1", NULL}, {"cloud2", "h2", "/x/2", NULL}};
    names_of(a, 2, (const char *[]){"cloud1", "cloud2"});

    /* the original's "vm0" everywhere, hosts differ: ID-HOST */
    struct gather_name b[] = {{"vm0", "cloud2gxie", "/e/b", NULL}, {"vm0", "cloud1gxie", "/e/a", NULL}};
    names_of(b, 2, (const char *[]){"vm0-cloud2gxie", "vm0-cloud1gxie"});

    /* same host too: numbered by source path, whatever the input order */
    struct gather_name c[] = {{"vm0", "h", "/e/run(c1)", NULL}, {"vm0", "h", "/e/run(c0)", NULL}};
    names_of(c, 2, (const char *[]){"vm0-2", "vm0-1"});
    struct gather_name c2[] = {{"vm0", "h", "/e/run(c0)", NULL}, {"vm0", "h", "/e/run(c1)", NULL}};
    names_of(c2, 2, (const char *[]){"vm0-1", "vm0-2"});

    /* one host missing: not all distinct, so numbered; by (host, source) */
    struct gather_name c3[] = {{"vm0", "h2", "/e/a", NULL}, {"vm0", NULL, "/e/b", NULL},
                               {"vm0", "h1", "/e/c", NULL}};
    names_of(c3, 3, (const char *[]){"vm0-3", "vm0-1", "vm0-2"});

    /* no node_meta: the folder name; unsafe characters replaced */
    struct gather_name d[] = {{NULL, NULL, "/e/run(c3)", NULL}, {"a/b c", NULL, "/e/q", NULL}};
    names_of(d, 2, (const char *[]){"run(c3)", "a_b_c"});

    /* a made-up name that equals another node's real id */
    struct gather_name e[] = {{"n", NULL, "/1", NULL}, {"n", NULL, "/2", NULL}, {"n-1", NULL, "/3", NULL}};
    gather_assign_names(e, 3);
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(e[i].name, e[j].name);
    assert_string_equal(e[2].name, "n-1");  /* the real id wins */
    assert_string_equal(e[1].name, "n-2");
    assert_string_equal(e[0].name, "n-1-2");
    for (size_t i = 0; i < 3; i++)
        free(e[i].name);

    char *s = gather_safe_name("..");
    assert_string_equal(s, "_.");
    free(s);
    s = gather_safe_name("");
    assert_string_equal(s, "node");
    free(s);
    s = gather_safe_name(".hidden");
    assert_string_equal(s, "_hidden");
    free(s);
}

/* ---- folders built in a temp dir ---- */

static void put(const char *dir, const char *rel, const char *text)
{
    char *p = path_join(dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    assert_int_equal(mkdir_p(p, 0755), 0);
    *slash = '/';
    assert_int_equal(write_file_atomic(p, text, strlen(text)), 0);
    free(p);
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/tk-gather.XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return xstrdup(tmpl);
}

/* The run folders --from DIR names, as paths relative to dir. */
static void runs_are(const char *dir, const char *from, const char *run_id, const char **want, size_t n)
{
    char *f = path_join(dir, from), err[512];
    size_t k;
    char **l = gather_find_runs(f, run_id, &k, err, sizeof err);
    assert_non_null(l);
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++) {
        char *w = path_join(dir, want[i]);
        assert_string_equal(l[i], w);
        free(w);
    }
    assert_null(l[n]);
    layout_free_list(l);
    free(f);
}

static void test_find_runs(void **state)
{
    (void)state;
    char *dir = tmpdir();
    /* a run folder itself (node_meta.json, raw files, or CTS/) */
    put(dir, "a/node_meta.json", "{}");
    runs_are(dir, "a", "R", (const char *[]){"a"}, 1);
    put(dir, "cts-only/CTS/nodes.json", "[]");
    runs_are(dir, "cts-only", "R", (const char *[]){"cts-only"}, 1);
    /* DIR/RUN_ID and DIR/logs/RUN_ID */
    put(dir, "w1/R/proc_metrics.jsonl", "");
    runs_are(dir, "w1", "R", (const char *[]){"w1/R"}, 1);
    put(dir, "w2/logs/R/events.ffmpeg.jsonl", "");
    runs_are(dir, "w2", "R", (const char *[]){"w2/logs/R"}, 1);
    /* the original's experiment: R(cN) by N, other folders ignored */
    put(dir, "exp/R(c10)/node_meta.json", "{}");
    put(dir, "exp/R(c9)/proc_metrics.jsonl", "");
    put(dir, "exp/R(c0)/x.txt", "");   /* a R(cN) folder counts even without run files */
    put(dir, "exp/S(c1)/node_meta.json", "{}");
    runs_are(dir, "exp", "R", (const char *[]){"exp/R(c0)", "exp/R(c9)", "exp/R(c10)"}, 3);
    /* no R(cN): every node sub-folder that is a run folder, by name */
    put(dir, "ours/cloud2/node_meta.json", "{}");
    put(dir, "ours/cloud1/CTS/nodes.json", "[]");
    put(dir, "ours/notes/readme.txt", "");
    runs_are(dir, "ours", "R", (const char *[]){"ours/cloud1", "ours/cloud2"}, 2);

    char err[512];
    size_t n;
    char *p = path_join(dir, "ours/notes");
    assert_null(gather_find_runs(p, "R", &n, err, sizeof err));
    assert_non_null(strstr(err, "no run folder"));
    assert_non_null(strstr(err, "logs/R"));
    free(p);
    p = path_join(dir, "nowhere");
    assert_null(gather_find_runs(p, "R", &n, err, sizeof err));
    assert_non_null(strstr(err, "is not a folder"));
    free(p);
    assert_int_equal(fstree_rm_rf(dir), 0);
    free(dir);
}

/* ---- a whole gather ---- */

static json_t *load(const char *dir, const char *rel)
{
    char *p = path_join(dir, rel);
    json_t *j = json_load_file(p, 0, NULL);
    free(p);
    assert_non_null(j);
    return j;
}

static bool exists(const char *dir, const char *rel)
{
    char *p = path_join(dir, rel);
    bool yes = file_exists(p);
    free(p);
    return yes;
}

static void node(const char *dir, const char *folder, const char *id, const char *host, double offset)
{
    char rel[256], meta[512];
    snprintf(rel, sizeof rel, "%s/node_meta.json", folder);
    snprintf(meta, sizeof meta, "{\"run_id\": \"R\", \"node\": \"%s\", \"host\": \"%s\", \"clock_offset_ms\": %g}",
             id, host, offset);
    put(dir, rel, meta);
    snprintf(rel, sizeof rel, "%s/CTS/nodes.json", folder);
    put(dir, rel, "[]");
    snprintf(rel, sizeof rel, "%s/pids/123", folder);   /* sentinels are not copied */
    put(dir, rel, "");
}

static void test_gather_run(void **state)
{
    (void)state;
    char *dir = tmpdir();
    /* two nodes sharing an id on different hosts, and the same one named twice */
    node(dir, "n1", "vm0", "hostb", 1.5);
    node(dir, "n2", "vm0", "hosta", -2);
    /* a node with raw files only: parsed in place */
    put(dir, "n3/node_meta.json", "{\"run_id\": \"R\", \"node\": \"cloud3\"}");
    put(dir, "n3/events.ffmpeg.jsonl",
        "{\"trace_id\": \"t1\", \"pid\": 10, \"ts_enqueue\": 1000, \"ts_start\": 1100, \"ts_end\": 1900}\n");
    put(dir, "n3/proc_metrics.jsonl", "");
    char *n1 = path_join(dir, "n1"), *n2 = path_join(dir, "n2"), *n3 = path_join(dir, "n3");
    char *out = path_join(dir, "exp");
    const char *from[] = {n1, n2, n1, n3};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct gather_opts o = {.run_id = "R", .output = out, .from = from, .nfrom = 4, .out = f};
    struct gather_result r;
    assert_int_equal(gather_run(&o, &r), 0);
    fclose(f);
    assert_int_equal(r.nodes, 3);
    assert_non_null(strstr(text, "[gather] vm0-hostb <- "));
    assert_non_null(strstr(text, "[gather]   parsed: 1 task(s)"));
    assert_non_null(strstr(text, "differ by up to 3.500 ms"));
    assert_non_null(strstr(text, "[gather] 3 node(s) in "));
    free(text);

    assert_true(exists(out, "vm0-hostb/node_meta.json"));
    assert_true(exists(out, "vm0-hosta/CTS/nodes.json"));
    assert_false(exists(out, "vm0-hostb/pids/123"));
    assert_true(exists(out, "cloud3/CTS/invocations.jsonl"));
    assert_false(exists(n3, "CTS"));   /* the source is left as it was */
    json_t *g = load(out, "gather.json");
    assert_string_equal(json_string_value(json_object_get(g, "run_id")), "R");
    json_t *nodes = json_object_get(g, "nodes");
    assert_int_equal(json_array_size(nodes), 3);
    json_t *first = json_array_get(nodes, 0);
    assert_string_equal(json_string_value(json_object_get(first, "folder")), "vm0-hostb");
    assert_string_equal(json_string_value(json_object_get(first, "source")), n1);
    assert_string_equal(json_string_value(json_object_get(first, "via")), "folder");
    assert_false(json_is_true(json_object_get(first, "parsed_here")));
    assert_true(json_is_true(json_object_get(json_array_get(nodes, 2), "parsed_here")));
    assert_true(json_is_null(json_object_get(json_array_get(nodes, 2), "clock_offset_ms")));
    assert_true(json_real_value(json_object_get(g, "clock_offset_spread_ms")) == 3.5);
    json_decref(g);

    /* an experiment folder inside a source is refused, the source untouched */
    char *inside = path_join(n1, "exp");
    const char *from1[] = {n1};
    struct gather_opts o2 = {.run_id = "R", .output = inside, .from = from1, .nfrom = 1};
    assert_int_equal(gather_run(&o2, &r), -1);
    assert_false(is_dir(inside));
    /* a --from naming no run */
    put(dir, "empty/readme.txt", "");
    char *empty = path_join(dir, "empty"), *out2 = path_join(dir, "exp2");
    const char *none[] = {empty};
    struct gather_opts o3 = {.run_id = "R", .output = out2, .from = none, .nfrom = 1};
    assert_int_equal(gather_run(&o3, &r), -1);
    free(empty);
    free(out2);
    free(inside);
    free(n1);
    free(n2);
    free(n3);
    free(out);
    assert_int_equal(fstree_rm_rf(dir), 0);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assign_names),
        cmocka_unit_test(test_find_runs),
        cmocka_unit_test(test_gather_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
