/* test_local.c -- the engine of `tracekit local` (sched/local.h): node
 * sizing, the summary, the errors before anything runs, and one small run
 * through the tracekit binary next to this test (build/asan/tracekit). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/fstree.h"
#include "common/util.h"
#include "sched/local.h"

static void test_node_units(void **state)
{
    (void)state;
    assert_int_equal(local_node_units(8, 0, 1, 2), 4);
    assert_int_equal(local_node_units(8, 0, 1.5, 2), 6);
    assert_int_equal(local_node_units(8, 0, 1, 3), 2);   /* floor(8 / 3) */
    assert_int_equal(local_node_units(2, 0, 1, 4), 1);   /* at least one */
    assert_int_equal(local_node_units(8, 5, 1, 2), 5);   /* --capacity-units wins */
}

/* A run of tasks given as command lines, on nodes a and b. */
struct fixture {
    char dir[32];
    char *logs, *run_dir;
    struct run_ctx ctx;
    struct workload w;
    struct policy pol;
    char *nodes[2];
    struct local_conf c;
};

static int up(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    *state = f;
    snprintf(f->dir, sizeof f->dir, "/tmp/tk-local-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->logs = path_join(f->dir, "logs");
    f->run_dir = path_join(f->logs, "l1");
    f->ctx = (struct run_ctx){.run_id = "l1", .run_id_source = "--run-id", .node_id = "a",
                              .stage = "cloud", .logs = f->logs, .run_dir = f->run_dir};
    char err[256];
    if (policy_original("instances", "min", &f->pol, err, sizeof err) < 0)
        return -1;
    f->nodes[0] = "a";
    f->nodes[1] = "b";
    f->c = (struct local_conf){.ctx = &f->ctx, .w = &f->w, .pace = {.mode = PACE_ALL},
                               .pol = &f->pol, .nodes = f->nodes, .nnodes = 2, .capacity = 2,
                               .ratio = 1, .out = RUNNER_OUT_NULL, .quiet = true,
                               .rc = {.binding = BIND_NONE, .orphan_wait_s = -1}};
    return 0;
}

static int down(void **state)
{
    struct fixture *f = *state;
    workload_free(&f->w);
    if (strncmp(f->dir, "/tmp/tk-local-", 14) == 0 && fstree_rm_rf(f->dir) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(f->run_dir);
    free(f->logs);
    free(f);
    return 0;
}

static void tasks(struct fixture *f, const char *jsonl)
{
    char err[256];
    workload_free(&f->w);
    if (workload_from_jsonl(&f->w, jsonl, strlen(jsonl), 1, 0, NULL, err, sizeof err) < 0)
        fail_msg("%s", err);
}

static void test_before_running(void **state)
{
    struct fixture *f = *state;
    struct local_result r;
    /* nothing to run: fine, and no file written */
    assert_int_equal(local_run(&f->c, &r), TK_EXIT_OK);
    assert_false(r.ran);
    assert_int_equal(access(f->run_dir, F_OK), -1);
    /* a task pinned to a node that is not one of the nodes: a usage error */
    tasks(f, "{\"argv\": [\"true\"]}\n{\"argv\": [\"true\"], \"node\": \"c\"}\n");
    assert_int_equal(local_run(&f->c, &r), TK_EXIT_USAGE);
    assert_false(r.ran);
    assert_int_equal(access(f->run_dir, F_OK), -1);
}

static size_t count_lines(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    size_t len, n = 0;
    char *s = read_file(p, &len);
    free(p);
    for (size_t i = 0; s && i < len; i++)
        n += s[i] == '\n';
    free(s);
    return n;
}

static void test_run(void **state)
{
    struct fixture *f = *state;
    char self[4096], exe[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    snprintf(exe, sizeof exe, "%s/tracekit", dirname(self));
    if (access(exe, X_OK) != 0)
        skip(); /* make asan builds it */
    f->c.rc.self_exe = exe;
    /* 3 fits on no node (2 units each): rejected; 4 fails with rc 3 */
    tasks(f, "{\"argv\": [\"true\"], \"app\": \"t\"}\n"
             "{\"argv\": [\"true\"], \"node\": \"b\", \"app\": \"t\"}\n"
             "{\"argv\": [\"true\"], \"cpu_units\": 3, \"app\": \"t\"}\n"
             "{\"argv\": [\"sh\", \"-c\", \"exit 3\"], \"app\": \"t\"}\n");
    f->c.reject = true;
    struct local_result r;
    assert_int_equal(local_run(&f->c, &r), TK_EXIT_FAIL);
    assert_true(r.ran);
    assert_false(r.collected);
    assert_int_equal(r.tasks, 4);
    assert_int_equal(r.done, 2);
    assert_int_equal(r.failed, 1);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(r.not_run, 0);
    assert_int_equal(count_lines(f->run_dir, "submitted.jsonl"), 4);
    assert_int_equal(count_lines(f->run_dir, "placements.jsonl"), 3);
    assert_int_equal(count_lines(f->run_dir, "ledger.jsonl"), 4);
    assert_int_equal(count_lines(f->run_dir, "events.t.jsonl"), 3);

    struct jbuf b;
    jb_init(&b);
    local_summary_json(&f->c, &r, &b);
    json_t *o = json_loads(b.p, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "run_id")), "l1");
    assert_int_equal(json_integer_value(json_object_get(o, "done")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "rejected")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "policy")), f->pol.name);
    assert_true(json_is_false(json_object_get(o, "collected")));
    json_decref(o);
    jb_free(&b);

    /* without --reject-unplaceable the big task stops the run */
    f->c.reject = false;
    f->ctx.run_id = "l2";
    free(f->run_dir);
    f->run_dir = path_join(f->logs, "l2");
    f->ctx.run_dir = f->run_dir;
    assert_int_equal(local_run(&f->c, &r), TK_EXIT_FAIL);
    assert_true(r.ran);
    assert_int_equal(r.rejected, 0);
    assert_true(r.not_run >= 1);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_units),
        cmocka_unit_test_setup_teardown(test_before_running, up, down),
        cmocka_unit_test_setup_teardown(test_run, up, down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
