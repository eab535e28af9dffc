/* test_dispatch.c -- the dispatch engine (sched/dispatch.h): the tally of
 * results (outcome counts, makespan, wait quantiles), the ledger's order,
 * the summary and exit code; then one dispatch against a private
 * redis-server, with the results already in the ledger. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/stats.h"
#include "common/util.h"
#include "redis_fixture.h"
#include "sched/dispatch.h"

/* ---- the ledger's order ---- */

static void test_ledger_sort(void **state)
{
    (void)state;
    const char *in[] = {
        "{\"task_id\": 3, \"status\": \"done\"}",
        "not json",
        "{\"task_id\": 1, \"status\": \"failed\"}",
        "{\"status\": \"done\"}",
        "{\"task_id\": 2}",
        "{\"task_id\": 1, \"status\": \"done\", \"again\": true}",
        "[1]",
        "{\"task_id\": 10}",
    };
    const char *want[] = {in[2], in[5], in[4], in[0], in[7], in[1], in[3], in[6]};
    size_t n = sizeof in / sizeof in[0];
    char *lines[8];
    for (size_t i = 0; i < n; i++)
        lines[i] = (char *)in[i];
    assert_int_equal(dispatch_ledger_sort(lines, n), 3);
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(lines[i], want[i]);  /* the same strings, moved */
    assert_int_equal(dispatch_ledger_sort(NULL, 0), 0);
}

/* ---- the tally ---- */

static void test_tally_outcomes(void **state)
{
    (void)state;
    const int64_t ids[] = {1, 2, 3, 4, 5, 6, 8};
    struct dispatch_tally t;
    dispatch_tally_init(&t, ids, 7);
    assert_int_equal(t.oc.unfinished, 7);
    assert_true(dispatch_tally_add(&t, "{\"task_id\": 1, \"status\": \"done\"}"));
    assert_true(dispatch_tally_add(&t, "{\"task_id\": 2, \"status\": \"failed\"}"));
    assert_true(dispatch_tally_add(&t, "{\"task_id\": 3, \"status\": \"dead\"}"));
    assert_true(dispatch_tally_add(&t, "{\"task_id\": 4, \"status\": \"rejected\"}"));
    assert_true(dispatch_tally_add(&t, "{\"task_id\": 5, \"status\": \"odd\"}")); /* failed */
    assert_true(dispatch_tally_add(&t, "{\"task_id\": 8}"));                      /* failed */
    /* not counted: repeated, foreign, malformed */
    assert_false(dispatch_tally_add(&t, "{\"task_id\": 1, \"status\": \"failed\"}"));
    assert_false(dispatch_tally_add(&t, "{\"task_id\": 7, \"status\": \"done\"}"));
    assert_false(dispatch_tally_add(&t, "{\"task_id\": \"6\", \"status\": \"done\"}"));
    assert_false(dispatch_tally_add(&t, "{\"status\": \"done\"}"));
    assert_false(dispatch_tally_add(&t, "garbage"));
    assert_false(dispatch_tally_add(&t, NULL));
    assert_int_equal(t.oc.done, 1);
    assert_int_equal(t.oc.failed, 3);
    assert_int_equal(t.oc.dead, 1);
    assert_int_equal(t.oc.rejected, 1);
    assert_int_equal(t.oc.unfinished, 1);  /* task 6 */
    dispatch_tally_stats(&t);
    assert_false(t.oc.has_stats);          /* no timestamps at all */
    dispatch_tally_free(&t);

    dispatch_tally_init(&t, NULL, 0);      /* nothing to wait for */
    assert_false(dispatch_tally_add(&t, "{\"task_id\": 1, \"status\": \"done\"}"));
    dispatch_tally_stats(&t);
    assert_false(t.oc.has_stats);
    assert_int_equal(t.oc.unfinished, 0);
    dispatch_tally_free(&t);
}

static void add(struct dispatch_tally *t, int64_t id, const char *status, int64_t enq,
                int64_t start, int64_t end)
{
    char line[256];
    int n = snprintf(line, sizeof line, "{\"task_id\": %lld, \"status\": \"%s\"", (long long)id,
                     status);
    if (enq >= 0)
        n += snprintf(line + n, sizeof line - (size_t)n, ", \"ts_enqueue\": %lld", (long long)enq);
    if (start >= 0)
        n += snprintf(line + n, sizeof line - (size_t)n, ", \"ts_start\": %lld", (long long)start);
    if (end >= 0)
        n += snprintf(line + n, sizeof line - (size_t)n, ", \"ts_end\": %lld", (long long)end);
    snprintf(line + n, sizeof line - (size_t)n, "}");
    assert_true(dispatch_tally_add(t, line));
}

static void test_tally_stats(void **state)
{
    (void)state;
    const int64_t ids[] = {1, 2, 3, 4, 5, 6};
    struct dispatch_tally t;
    dispatch_tally_init(&t, ids, 6);
    add(&t, 1, "done", 1000, 1100, 2000);  /* waited 100 */
    add(&t, 2, "done", 1010, 1510, 2500);  /* waited 500 */
    add(&t, 3, "failed", 1020, 1320, 1800); /* waited 300 */
    add(&t, 4, "rejected", 1030, -1, 3000); /* never started: no wait, but the last end */
    add(&t, 5, "done", -1, 1200, 2600);     /* no ts_enqueue: no wait */
    /* task 6 never finished: not in the statistics */
    dispatch_tally_stats(&t);
    assert_true(t.oc.has_stats);
    assert_true(t.oc.makespan_ms == 2000);  /* 1000 .. 3000 */
    const double waits[] = {100, 300, 500};
    assert_true(t.oc.wait_p50_ms == stats_quantile(waits, 3, 0.50));
    assert_true(t.oc.wait_p95_ms == stats_quantile(waits, 3, 0.95));
    assert_true(t.oc.wait_p50_ms == 300);
    assert_true(fabs(t.oc.wait_p95_ms - 480) < 1e-9);  /* type 7: 300 + 0.9 x 200 */
    assert_int_equal(t.oc.done, 3);
    assert_int_equal(t.oc.unfinished, 1);
    dispatch_tally_free(&t);

    /* finished tasks, but none with both ts_enqueue and ts_start */
    dispatch_tally_init(&t, ids, 6);
    add(&t, 1, "rejected", 1000, -1, 1500);
    add(&t, 2, "done", -1, 1100, 1700);
    dispatch_tally_stats(&t);
    assert_false(t.oc.has_stats);
    dispatch_tally_free(&t);

    /* a wait but no ts_end anywhere */
    dispatch_tally_init(&t, ids, 6);
    add(&t, 3, "dead", 1000, 1400, -1);
    dispatch_tally_stats(&t);
    assert_false(t.oc.has_stats);
    dispatch_tally_free(&t);
}

/* ---- the summary and the exit code ---- */

static void test_exit_code(void **state)
{
    (void)state;
    struct dispatch_result r = {.tasks = 3, .enqueued = 3};
    assert_int_equal(dispatch_exit_code(&r), TK_EXIT_OK);
    r.oc.failed = 1;  /* without --wait the outcome is not ours to judge */
    assert_int_equal(dispatch_exit_code(&r), TK_EXIT_OK);
    r.wait = r.waited = true;
    assert_int_equal(dispatch_exit_code(&r), TK_EXIT_FAIL);
    r.oc.failed = 0;
    r.oc.done = 3;
    assert_int_equal(dispatch_exit_code(&r), TK_EXIT_OK);
    r.oc.dead = 1;
    assert_int_equal(dispatch_exit_code(&r), TK_EXIT_FAIL);
    r.oc.dead = 0;
    r.oc.rejected = 1;
    assert_int_equal(dispatch_exit_code(&r), TK_EXIT_FAIL);
    r.oc.rejected = 0;
    r.timed_out = true;
    assert_int_equal(dispatch_exit_code(&r), TK_EXIT_FAIL);
    r.timed_out = false;
    r.interrupted = true;
    assert_int_equal(dispatch_exit_code(&r), TK_EXIT_FAIL);
    r.interrupted = false;
    r.failed = true;
    assert_int_equal(dispatch_exit_code(&r), TK_EXIT_FAIL);
}

static void test_summary(void **state)
{
    (void)state;
    char line[512];
    struct dispatch_result r = {.tasks = 5, .enqueued = 4, .pinned = 2, .started = true,
                                .elapsed_ms = 1234, .submitted = "logs/r/submitted.jsonl"};
    dispatch_summary_text(&r, "r", line, sizeof line);
    assert_string_equal(line, "enqueued 4 of 5 task(s) in run r (2 pinned to nodes); "
                              "logs/r/submitted.jsonl");
    struct jbuf b;
    jb_init(&b);
    dispatch_summary_json(&r, "r", &b);
    json_t *o = json_loads(b.p, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "enqueued")), 4);
    assert_int_equal(json_integer_value(json_object_get(o, "elapsed_ms")), 1234);
    assert_true(json_is_null(json_object_get(o, "done")));  /* not waited */
    assert_true(json_is_null(json_object_get(o, "wait_p50_ms")));
    assert_true(json_is_null(json_object_get(o, "ledger")));
    json_decref(o);

    r.wait = r.waited = true;
    r.enqueued = 5;
    r.oc = (struct dispatch_outcome){.done = 3, .failed = 1, .rejected = 1, .has_stats = true,
                                     .makespan_ms = 12345, .wait_p50_ms = 250,
                                     .wait_p95_ms = 1500};
    r.ledger = "logs/r/ledger.jsonl";
    dispatch_summary_text(&r, "r", line, sizeof line);
    assert_string_equal(line, "5 task(s) in run r: done 3, failed 1, dead 0, rejected 1, "
                              "unfinished 0; makespan 12.3 s, wait p50 0.250 s, p95 1.500 s; "
                              "ledger logs/r/ledger.jsonl");
    jb_reset(&b);
    dispatch_summary_json(&r, "r", &b);
    o = json_loads(b.p, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "done")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "unfinished")), 0);
    assert_int_equal(json_integer_value(json_object_get(o, "makespan_ms")), 12345);
    assert_true(json_real_value(json_object_get(o, "wait_p95_ms")) == 1500);
    assert_string_equal(json_string_value(json_object_get(o, "ledger")), "logs/r/ledger.jsonl");
    json_decref(o);
    jb_free(&b);

    r.oc.has_stats = false;
    r.ledger = NULL;
    dispatch_summary_text(&r, "r", line, sizeof line);
    assert_non_null(strstr(line, "unfinished 0; ledger not written"));
}

/* ---- one dispatch against Redis ---- */

static char *slurp(const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    size_t len;
    char *s = read_file(p, &len);
    free(p);
    return s;
}

static void rm_run(const char *dir)
{
    const char *files[] = {"submitted.jsonl", "ledger.jsonl"};
    for (size_t i = 0; i < 2; i++) {
        char *p = path_join(dir, files[i]);
        unlink(p);
        free(p);
    }
    rmdir(dir);
}

/* A private redis-server and a run folder, gone after the test even when
 * it fails. */
struct env {
    struct redis_fixture fx;
    char dir[32];
};

static int env_up(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    *state = e;
    snprintf(e->dir, sizeof e->dir, "/tmp/tk-dispatch-XXXXXX");
    if (!fixture_have_redis())
        return 0; /* the test skips */
    if (!mkdtemp(e->dir) || fixture_start(&e->fx, NULL) != 0)
        return -1;
    return 0;
}

static int env_down(void **state)
{
    struct env *e = *state;
    if (e->fx.dir[0])
        fixture_cleanup(&e->fx);
    rm_run(e->dir);
    free(e);
    return 0;
}

static void test_dispatch_run(void **state)
{
    struct env *e = *state;
    if (!e->fx.dir[0])
        skip();
    struct redis_fixture *fx = &e->fx;
    char url[256], err[512], *dir = e->dir;
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/0", fx->password, fx->port);
    struct redis_url u;
    assert_int_equal(redisurl_parse(url, &u, err, sizeof err), 0);
    struct workload w = {0};
    assert_int_equal(workload_from_command(&w, "true", 3, 1, 0, NULL, err, sizeof err), 0);
    /* the results are in before the tasks: out of order, one of another
     * run's task ids, one malformed */
    redisContext *c = fixture_raw(fx);
    const char *res[] = {
        "{\"task_id\": 3, \"status\": \"done\", \"ts_enqueue\": 10, \"ts_start\": 30, \"ts_end\": 90}",
        "oops",
        "{\"task_id\": 1, \"status\": \"done\", \"ts_enqueue\": 10, \"ts_start\": 20, \"ts_end\": 50}",
        "{\"task_id\": 2, \"status\": \"failed\", \"ts_enqueue\": 10, \"ts_start\": 50, \"ts_end\": 60}",
        "{\"task_id\": 99, \"status\": \"done\"}",
    };
    for (size_t i = 0; i < 5; i++)
        freeReplyObject(redisCommand(c, "RPUSH tk:d1:results %s", res[i]));
    redisFree(c);

    struct dispatch_conf conf = {.redis = &u, .run_id = "d1", .run_dir = dir, .w = &w,
                                 .pace = {.mode = PACE_ALL}, .wait = true, .timeout_ms = 5000,
                                 .quiet = true};
    struct dispatch_result r;
    assert_int_equal(dispatch_run(&conf, &r), TK_EXIT_FAIL);  /* task 2 failed */
    assert_true(r.started && r.waited && !r.failed && !r.timed_out && !r.interrupted);
    assert_int_equal(r.enqueued, 3);
    assert_int_equal(r.oc.done, 2);
    assert_int_equal(r.oc.failed, 1);
    assert_int_equal(r.oc.unfinished, 0);
    assert_true(r.oc.has_stats && r.oc.makespan_ms == 80 && r.oc.wait_p50_ms == 20);
    char *sub = slurp(dir, "submitted.jsonl"), *led = slurp(dir, "ledger.jsonl");
    assert_non_null(sub);
    assert_non_null(led);
    assert_non_null(strstr(sub, "\"task_id\": 3"));
    /* the whole ledger, by task id, the malformed line last */
    const char *p1 = strstr(led, "\"task_id\": 1"), *p2 = strstr(led, "\"task_id\": 2"),
               *p3 = strstr(led, "\"task_id\": 3"), *p99 = strstr(led, "\"task_id\": 99"),
               *bad = strstr(led, "oops\n");
    assert_true(p1 && p2 && p3 && p99 && bad);
    assert_true(p1 < p2 && p2 < p3 && p3 < p99 && p99 < bad);
    free(sub);
    free(led);
    dispatch_result_free(&r);

    /* no server: a failure before the first task, nothing started */
    fixture_stop(fx, false);
    conf.wait = false;
    assert_int_equal(dispatch_run(&conf, &r), TK_EXIT_FAIL);
    assert_true(r.failed && !r.started);
    dispatch_result_free(&r);

    workload_free(&w);
    redisurl_free(&u);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ledger_sort),
        cmocka_unit_test(test_tally_outcomes),
        cmocka_unit_test(test_tally_stats),
        cmocka_unit_test(test_exit_code),
        cmocka_unit_test(test_summary),
        cmocka_unit_test_setup_teardown(test_dispatch_run, env_up, env_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
