#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "task/runner.h"
#include "common/util.h"

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

#define HEAD "tracekit exec --run-id R1 --node-id n1 --stage cloud --logs L "

static const struct runner_conf base = {
    .self_exe = "/x/tracekit", .run_id = "R1", .node = "n1", .stage = "cloud", .logs = "L",
    .binding = BIND_EXCLUSIVE, .cpuweight_per_vcpu = 100, .orphan_wait_s = -1,
};

/* body -> the full exec command line */
static void test_build_table(void **state)
{
    (void)state;
    struct runner_conf shared = base, outs = base, misc = base;
    shared.binding = BIND_SHARED;
    shared.cpuweight_per_vcpu = 3000;
    outs.outputs = "/out";
    outs.ffmpeg = "/usr/bin/ffmpeg";
    misc.binding = BIND_NONE;
    misc.pid_dir = "/p";
    misc.orphan_wait_s = 2.5;
    misc.parent = 4242;
    struct {
        const struct runner_conf *c;
        const char *body;
        const char *want;
        int units, attempt;
        const char *outdir;
    } tab[] = {
        /* generic, everything rq adds */
        {&base,
         "{\"task_id\": 7, " "\"trace_id\": \"abc\", \"argv\": [\"sh\", \"-c\", \"exit 3\"], "
         "\"cpu_units\": 2, \"ts_enqueue\": 1758579997000, \"attempt\": 2}",
         HEAD "--trace-id abc --ts-enqueue 1758579997000 --attempt 2 --cpu-units 2 "
              "--cpu-binding exclusive -q -- sh -c exit 3",
         2, 2, NULL},
        /* generic with app and mem_mb, cpu_units below 1 counts as 1 */
        {&base, "{\"task_id\": 1, \"argv\": [\"sleep\", \"0.2\"], \"cpu_units\": 0, \"app\": "
                "\"sleeper\", \"mem_mb\": 64}",
         HEAD "--attempt 1 --cpu-units 1 --cpu-binding exclusive --app sleeper -q -- sleep 0.2",
         1, 1, NULL},
        /* shared: weight = per-vcpu x units, clamped to 10000 */
        {&shared, "{\"task_id\": 2, \"argv\": [\"true\"], \"cpu_units\": 4, \"attempt\": 1}",
         HEAD "--attempt 1 --cpu-units 4 --cpu-binding shared --cpu-weight 10000 -q -- true", 4,
         1, NULL},
        /* none, pid dir, orphan wait, a cpuset carried by the task */
        {&misc, "{\"task_id\": 3, \"argv\": [\"true\"], \"cpuset\": \"0-1\"}",
         "tracekit exec --run-id R1 --node-id n1 --stage cloud --logs L --pid-dir /p "
         "--attempt 1 --cpu-units 1 --cpu-binding none --cpuset 0-1 --parent-pid 4242 "
         "--orphan-wait 2.5 -q -- true",
         1, 1, NULL},
        /* ffmpeg, mix mode: every field */
        {&base,
         "{\"task_id\": 9, \"input\": \"in/a.mp4\", \"output\": \"outputs/sub/a_out.mp4\", "
         "\"_seq\": 0, \"scale\": \"854:480\", \"vcodec\": \"hevc\", \"preset\": \"fast\", "
         "\"crf\": 30, \"vthreads\": 2, \"fthreads\": \"1\", \"cpu_units\": 4, "
         "\"profile\": \"hevc1080p\", \"ts_enqueue\": 5, \"attempt\": 1}",
         HEAD "--ts-enqueue 5 --attempt 1 --cpu-units 4 --cpu-binding exclusive --app ffmpeg -q "
              "-- ffmpeg -y -nostdin -i in/a.mp4 -vf scale=854:480 -c:v libx265 -preset fast "
              "-crf 30 -threads:v 2 -filter_threads 1 -c:a copy outputs/sub/a_out.mp4",
         4, 1, "outputs/sub"},
        /* ffmpeg, original defaults; thread hints that are not integers are ignored */
        {&base,
         "{\"task_id\": 10, \"input\": \"a.mp4\", \"output\": \"b.mp4\", \"vthreads\": \"x\", "
         "\"fthreads\": 1.5, \"vcodec\": \"H265\"}",
         HEAD "--attempt 1 --cpu-units 1 --cpu-binding exclusive --app ffmpeg -q -- ffmpeg -y "
              "-nostdin -i a.mp4 -vf scale=1280:720 -c:v libx265 -preset veryfast -crf 28 "
              "-c:a copy b.mp4",
         1, 1, NULL},
        /* --outputs DIR and --ffmpeg PATH */
        {&outs,
         "{\"task_id\": 11, \"input\": \"a.mp4\", \"output\": \"outputs/x/b.mp4\", "
         "\"crf\": \"23\", \"app\": \"enc\"}",
         HEAD "--attempt 1 --cpu-units 1 --cpu-binding exclusive --app enc -q -- "
              "/usr/bin/ffmpeg -y -nostdin -i a.mp4 -vf scale=1280:720 -c:v libx264 "
              "-preset veryfast -crf 23 -c:a copy /out/b.mp4",
         1, 1, "/out"},
    };
    for (size_t i = 0; i < ARRAY_LEN(tab); i++) {
        struct runner_task t;
        char err[512] = "";
        int rc = runner_build(tab[i].c, tab[i].body, &t, err, sizeof err);
        if (rc != 0)
            fail_msg("row %zu: %s", i, err);
        char *got = join(t.argv);
        if (strcmp(got, tab[i].want) != 0)
            fail_msg("row %zu:\n got  %s\n want %s", i, got, tab[i].want);
        assert_string_equal(t.path, "/x/tracekit");
        assert_int_equal(t.cpu_units, tab[i].units);
        assert_int_equal(t.attempt, tab[i].attempt);
        if (tab[i].outdir)
            assert_string_equal(t.output_dir, tab[i].outdir);
        else
            assert_null(t.output_dir);
        free(got);
        runner_task_free(&t);
    }
}

/* bad bodies: a clear message with the task id and the field */
static void test_build_errors(void **state)
{
    (void)state;
    struct runner_conf outs = base;
    outs.outputs = "/out";
    struct {
        const struct runner_conf *c;
        const char *body, *want;
    } tab[] = {
        {&base, "{\"task_id\": 5", "task (no task_id): the body is not JSON"},
        {&base, "[1]", "task (no task_id): the body is not a JSON object"},
        {&base, "{\"argv\": [\"true\"]}", "task (no task_id): 'task_id' is missing"},
        {&base, "{\"task_id\": 4}", "task 4: neither 'argv'"},
        {&base, "{\"task_id\": 4, \"argv\": []}", "task 4: 'argv' must be a non-empty array"},
        {&base, "{\"task_id\": 4, \"argv\": \"ls -l\"}", "task 4: 'argv' must be a non-empty"},
        {&base, "{\"task_id\": 4, \"argv\": [\"ls\", 3]}", "task 4: 'argv'[1] is not a string"},
        {&base, "{\"task_id\": 4, \"argv\": [\"\"]}", "task 4: 'argv'[0] is empty"},
        {&base, "{\"task_id\": 4, \"argv\": [\"true\"], \"cpu_units\": \"2\"}",
         "task 4: 'cpu_units' must be an integer"},
        {&base, "{\"task_id\": 4, \"argv\": [\"true\"], \"cpu_units\": 99999}",
         "task 4: 'cpu_units' 99999 is more than"},
        {&base, "{\"task_id\": 4, \"argv\": [\"true\"], \"attempt\": 0}",
         "task 4: 'attempt' must be an integer"},
        {&base, "{\"task_id\": 4, \"argv\": [\"true\"], \"trace_id\": \"a b\"}",
         "task 4: 'trace_id' must be"},
        {&base, "{\"task_id\": 4, \"argv\": [\"true\"], \"ts_enqueue\": \"now\"}",
         "task 4: 'ts_enqueue' must be"},
        {&base, "{\"task_id\": 4, \"argv\": [\"true\"], \"app\": \"a/b\"}",
         "task 4: 'app' must be"},
        {&base, "{\"task_id\": 4, \"argv\": [\"true\"], \"cpuset\": \"3-1\"}",
         "task 4: 'cpuset': "},
        {&base, "{\"task_id\": 4, \"input\": \"a\", \"output\": 5}", "task 4: neither"},
        {&base, "{\"task_id\": 4, \"input\": \"a\", \"output\": \"b\", \"crf\": \"high\"}",
         "task 4: 'crf' must be an integer"},
        {&base, "{\"task_id\": 4, \"input\": \"a\", \"output\": \"b\", \"scale\": 720}",
         "task 4: 'scale' must be a string"},
        {&outs, "{\"task_id\": 4, \"input\": \"a\", \"output\": \"x/\"}",
         "task 4: 'output' 'x/' has no file name"},
        {&base, "{\"task_id\": 4, \"task_id\": 5, \"argv\": [\"true\"]}",
         "task (no task_id): the body is not JSON"},
    };
    for (size_t i = 0; i < ARRAY_LEN(tab); i++) {
        struct runner_task t;
        char err[512] = "";
        if (runner_build(tab[i].c, tab[i].body, &t, err, sizeof err) == 0)
            fail_msg("row %zu accepted: %s", i, tab[i].body);
        if (strncmp(err, tab[i].want, strlen(tab[i].want)) != 0)
            fail_msg("row %zu:\n got  %s\n want %s...", i, err, tab[i].want);
        assert_null(t.argv);
        assert_null(t.output_dir);
        runner_task_free(&t);
    }
}

/* --allow-argv: generic tasks whose program is not listed are refused;
 * ffmpeg tasks (the worker's own --ffmpeg) are not affected; --task-user
 * becomes exec --user. */
static void test_allow_argv(void **state)
{
    (void)state;
    char *allow[] = {"true", "/opt/tool", NULL};
    struct runner_conf c = base;
    c.allow_argv = allow;
    c.task_user = "nobody";
    struct runner_task t;
    char err[512] = "";
    assert_int_equal(runner_build(&c, "{\"task_id\": 3, \"argv\": [\"true\", \"x\"]}", &t,
                                  err, sizeof err), 0);
    char *line = join(t.argv);
    assert_non_null(strstr(line, " --user nobody -q -- true x"));
    free(line);
    /* the execution id goes before "--", never into the command (issue 21) */
    char x1[17], x2[17];
    runner_exec_id_new(x1);
    runner_exec_id_new(x2);
    assert_int_equal(strlen(x1), 16);
    assert_int_equal(strspn(x1, "0123456789abcdef"), 16);
    assert_string_not_equal(x1, x2);
    runner_set_exec_id(&t, x1);
    line = join(t.argv);
    char *want = xasprintf(" --user nobody -q --exec-id %s -- true x", x1);
    assert_non_null(strstr(line, want));
    free(want);
    free(line);
    runner_task_free(&t);
    assert_int_equal(runner_build(&c, "{\"task_id\": 3, \"argv\": [\"sh\", \"-c\", \"id\"]}",
                                  &t, err, sizeof err), -1);
    assert_string_equal(err, "task 3: refused: program 'sh' is not in this worker's "
                             "--allow-argv list");
    assert_null(t.argv);
    assert_int_equal(runner_build(&c, "{\"task_id\": 3, \"input\": \"a\", \"output\": \"b\"}",
                                  &t, err, sizeof err), 0);
    runner_task_free(&t);

    /* by name, by path, and the same file found in $PATH */
    assert_true(runner_argv_allowed(NULL, "anything"));
    assert_true(runner_argv_allowed(allow, "/opt/tool"));
    assert_false(runner_argv_allowed(allow, "tool"));           /* not in $PATH */
    assert_false(runner_argv_allowed(allow, "/tmp/evil/true")); /* not the same file */
    assert_false(runner_argv_allowed(allow, "./true"));
    char *t_path = NULL;
    const char *dirs[] = {"/usr/bin/true", "/bin/true"};
    for (size_t i = 0; i < ARRAY_LEN(dirs) && !t_path; i++)
        if (access(dirs[i], X_OK) == 0)
            t_path = (char *)dirs[i];
    if (t_path)
        assert_true(runner_argv_allowed(allow, t_path));
    char *none[] = {NULL};
    assert_false(runner_argv_allowed(none, "true"));
}

static void test_env_and_rc(void **state)
{
    (void)state;
    char *env[] = {"PATH=/bin", "TRACEKIT_REDIS_URL=redis://:pw@h/0", "REDISCLI_AUTH=pw",
                   "TRACEKIT_REDIS_URLX=kept", "HOME=/root", NULL};
    char **e = runner_env(env);
    char *got = join(e);
    assert_string_equal(got, "PATH=/bin TRACEKIT_REDIS_URLX=kept HOME=/root");
    free(got);
    free(e);
    char *none[] = {NULL};
    e = runner_env(none);
    assert_null(e[0]);
    free(e);

    assert_int_equal(runner_rc(3 << 8), 3);
    assert_int_equal(runner_rc(0), 0);
    assert_int_equal(runner_rc(SIGKILL), 128 + SIGKILL);
    char *p = runner_log_path("logs/R/task-output", 17, 2);
    assert_string_equal(p, "logs/R/task-output/task-17.a2.log");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_table),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_allow_argv),
        cmocka_unit_test(test_env_and_rc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
