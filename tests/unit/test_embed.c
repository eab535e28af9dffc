/* The in-memory scheduling plane of `tracekit local`: the same FIFO, pins,
 * capacity and ledger rules as the Redis scripts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/embed.h"
#include "sched/workload.h"

static void setup(struct embed *e, const char *weigher, int64_t ua, int64_t ub, int64_t par)
{
    struct emb_node n[2] = {
        {.id = "b", .units_total = ub, .parallel = par, .cores = 2, .ratio = 1},
        {.id = "a", .units_total = ua, .parallel = par, .cores = 2, .ratio = 1},
    };
    struct policy p;
    char err[256];
    assert_int_equal(policy_original(weigher, "min", &p, err, sizeof err), 0);
    assert_int_equal(embed_init(e, n, 2, &p, 0, "42", err, sizeof err), 0);
}

static int64_t enq(struct embed *e, const char *fields, int64_t ts)
{
    char trace[40], err[256];
    snprintf(trace, sizeof trace, "t%lld", (long long)ts);
    char *ef = workload_enqueue_fields(fields, trace, ts);
    int64_t id = embed_enqueue(e, ef, err, sizeof err);
    free(ef);
    return id;
}

static const char *place(struct embed *e, size_t *ti)
{
    enum emb_place r = embed_place(e, 1000, ti);
    if (r == EMB_EMPTY)
        return "empty";
    if (r == EMB_BLOCKED)
        return "blocked";
    if (r == EMB_NEVER)
        return "never";
    return e->nodes[e->tasks[*ti].node].id;
}

static void test_fifo_capacity_and_ledger(void **state)
{
    (void)state;
    struct embed e;
    setup(&e, "instances", 2, 2, 0);
    assert_int_equal(enq(&e, "{\"argv\": [\"x\"], \"cpu_units\": 1}", 10), 1);
    assert_int_equal(enq(&e, "{\"argv\": [\"y\"], \"cpu_units\": 2}", 11), 2);
    assert_int_equal(enq(&e, "{\"argv\": [\"z\"], \"cpu_units\": 2}", 12), 3);
    assert_int_equal(enq(&e, "{\"argv\": [\"w\"]}", 13), 4);
    size_t ti;
    /* nodes sorted by id; instances min, ties to the smallest id */
    assert_string_equal(place(&e, &ti), "a");  /* task 1: a 1 left */
    assert_string_equal(place(&e, &ti), "b");  /* task 2: b has 0 instances */
    assert_int_equal(ti, 1);
    assert_string_equal(place(&e, &ti), "blocked"); /* task 3 needs 2: a 1, b 0 */
    assert_string_equal(place(&e, &ti), "blocked"); /* strict FIFO: 4 waits behind 3 */
    assert_int_equal(e.qlen, 2);
    struct jbuf b;
    jb_init(&b);
    embed_started(&e, 1, 1001);
    embed_set_why(&e, 1, "no such file\nin/a.mp4", "out/task-2.a1.log");
    embed_finish(&e, 1, 3, 1500, &b);
    assert_string_equal(
        (b.p[b.len] = '\0', b.p),
        "{\"task_id\": 2, \"trace_id\": \"t11\", \"attempt\": 1, \"status\": \"failed\", "
        "\"rc\": 3, \"node\": \"b\", \"worker\": \"b:42\", \"ts_enqueue\": 11, "
        "\"ts_place\": 1000, \"ts_start\": 1001, \"ts_end\": 1500, "
        "\"error\": \"no such file\\nin/a.mp4\", \"log\": \"out/task-2.a1.log\"}");
    embed_finish(&e, 1, 0, 1600, &b); /* exactly once: a second finish changes nothing */
    assert_int_equal(e.failed, 1);
    assert_int_equal(e.done, 0);
    assert_int_equal(e.nodes[1].units_free, 2);
    assert_string_equal(place(&e, &ti), "b"); /* task 3 now fits on b */
    assert_string_equal(place(&e, &ti), "a"); /* task 4 */
    assert_string_equal(place(&e, &ti), "empty");
    /* the body as rq stores it, and as a worker receives it */
    assert_string_equal(e.tasks[0].body,
                        "{\"task_id\": 1, \"trace_id\": \"t10\", \"argv\": [\"x\"], "
                        "\"cpu_units\": 1, \"ts_enqueue\": 10}");
    char *w = embed_body(&e, 0);
    assert_string_equal(w, "{\"task_id\": 1, \"trace_id\": \"t10\", \"argv\": [\"x\"], "
                           "\"cpu_units\": 1, \"ts_enqueue\": 10, \"attempt\": 1}");
    free(w);
    jb_free(&b);
    embed_free(&e);
}

static void test_pins_parallel_never(void **state)
{
    (void)state;
    struct embed e;
    setup(&e, NULL, 4, 4, 1); /* first fit, --parallel 1 */
    enq(&e, "{\"argv\": [\"x\"], \"node\": \"b\"}", 1);
    enq(&e, "{\"argv\": [\"x\"]}", 2);
    enq(&e, "{\"argv\": [\"x\"]}", 3);
    enq(&e, "{\"argv\": [\"x\"], \"cpu_units\": 9}", 4);
    enq(&e, "{\"argv\": [\"x\"], \"node\": \"zz\"}", 5);
    size_t ti;
    assert_string_equal(place(&e, &ti), "b"); /* pinned, though a comes first */
    assert_string_equal(place(&e, &ti), "a");
    assert_string_equal(place(&e, &ti), "blocked"); /* both at --parallel 1 */
    int64_t bl[2];
    embed_backlog(&e, bl);
    assert_int_equal(bl[0] + bl[1], 0); /* the pinned one started */
    struct jbuf b;
    jb_init(&b);
    embed_finish(&e, 1, 0, 5, &b);
    assert_string_equal(place(&e, &ti), "a");
    assert_string_equal(place(&e, &ti), "never"); /* 9 units > any node */
    embed_reject(&e, "too big", 7, &b);
    assert_non_null(strstr((b.p[b.len] = '\0', b.p),
                           "\"attempt\": 0, \"status\": \"rejected\", \"rc\": null, \"node\": "
                           "\"\", \"worker\": \"\", \"ts_enqueue\": 4, \"ts_place\": null, "
                           "\"ts_start\": null, \"ts_end\": 7, \"reason\": \"too big\"}"));
    assert_string_equal(place(&e, &ti), "never"); /* pinned to an unknown node */
    assert_int_equal(e.rejected, 1);
    jb_free(&b);
    embed_free(&e);

    /* a node named twice */
    struct emb_node n[2] = {{.id = "a", .units_total = 1}, {.id = "a", .units_total = 1}};
    struct policy p;
    char err[256];
    policy_original(NULL, NULL, &p, err, sizeof err);
    assert_int_equal(embed_init(&e, n, 2, &p, 0, "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "'a' is given twice"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_capacity_and_ledger),
        cmocka_unit_test(test_pins_parallel_never),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
