/* fuzz_tasks.c -- task JSON: the --tasks file parser of dispatch and local
 * (workload_from_jsonl), the bodies built from an accepted task (what
 * dispatch stores in Redis) and the worker's reading of a body
 * (runner_build), fed both the built bodies and the raw input (a body taken
 * from Redis is hostile too).  Properties: an accepted task is a JSON object
 * no longer than WORKLOAD_LINE_MAX plus what the parser appends, with a
 * non-empty argv of strings, counts >= 0, valid names; its body is accepted
 * by the worker with cpu_units >= 1 and an exec argv ending in the task's
 * argv. */
#include "fuzz.h"

#include <sched.h>

#include "common/jsonl.h"
#include "common/run.h"
#include "sched/workload.h"
#include "task/runner.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

static const struct runner_conf conf = {
    .self_exe = "/bin/true", .run_id = "r1", .node = "n1", .stage = "cloud", .logs = "logs",
    .orphan_wait_s = -1,
};

static void check_task(const struct workload *w, size_t i)
{
    const char *f = w->t[i].fields;
    if (strlen(f) > WORKLOAD_LINE_MAX + 256)
        abort();
    json_t *o = jsonl_loads(f, JSON_REJECT_DUPLICATES, NULL);
    const json_t *argv = json_object_get(o, "argv");
    if (!json_is_object(o) || !json_is_array(argv) || !json_array_size(argv))
        abort();
    size_t k;
    json_t *x;
    json_array_foreach(argv, k, x)
        if (!json_is_string(x))
            abort();
    const json_t *cpu = json_object_get(o, "cpu_units");
    if (!json_is_integer(cpu) || json_integer_value(cpu) < 0)
        abort();
    const char *node = json_string_value(json_object_get(o, "node"));
    if (node && (!run_id_valid(node) || w->t[i].node < 0 || strcmp(w->nodes[w->t[i].node], node)))
        abort();

    /* The body dispatch stores, as the worker reads it. */
    char *fields = workload_release(w, i, -1, "trace-1", 1758580000000);
    if (!fields)
        abort();
    struct jbuf b;
    jb_init(&b);
    if (workload_body(&b, (int64_t)i + 1, fields) < 0 || !jb_ok(&b))
        abort();
    struct runner_task t;
    char err[512];
    if (runner_build(&conf, b.p, &t, err, sizeof err) == 0) {
        if (t.cpu_units < 1 || !t.argv || t.id != (int64_t)i + 1)
            abort();
        size_t n = 0;
        while (t.argv[n])
            n++;
        size_t na = json_array_size(argv);
        if (n < na || strcmp(t.argv[n - na], json_string_value(json_array_get(argv, 0))))
            abort();
    } else if (json_integer_value(cpu) <= CPU_SETSIZE) {
        /* only cpu_units, app, cpuset and ffmpeg-only fields may be refused */
        if (!strstr(err, "cpu_units") && !strstr(err, "cpuset") && !strstr(err, "'app'") &&
            !strstr(err, "argv"))
            abort();
    }
    runner_task_free(&t);
    jb_free(&b);
    free(fields);
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct workload w;
    char err[512];
    if (workload_from_jsonl(&w, (const char *)data, size, 1, 0, NULL, err, sizeof err) == 0) {
        for (size_t i = 0; i < w.n; i++)
            check_task(&w, i);
        workload_free(&w);
    } else if (strncmp(err, "line ", 5) && strncmp(err, "no tasks", 8)) {
        abort();  /* every refusal names the line */
    }
    /* The input as a body taken from Redis. */
    char *body = fuzz_cstr(data, size);
    struct runner_task t;
    if (runner_build(&conf, body, &t, err, sizeof err) == 0 && (t.cpu_units < 1 || !t.argv))
        abort();
    runner_task_free(&t);
    free(body);
    return 0;
}
