#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fstree.h"
#include "common/jsonl.h"
#include "common/util.h"
#include "collect/procid.h"
#include "task/launch.h"
#include "task/task.h"

static void test_status_mapping(void **state)
{
    (void)state;
    int sig = -1;
    assert_int_equal(launch_status(0, &sig), 0);
    assert_int_equal(sig, 0);
    assert_int_equal(launch_status(3 << 8, &sig), 3);
    assert_int_equal(launch_status(127 << 8, &sig), 127);
    assert_int_equal(sig, 0);
    assert_int_equal(launch_status(15, &sig), 143);  /* killed by SIGTERM */
    assert_int_equal(sig, 15);
    assert_int_equal(launch_status(9 | 0x80, &sig), 137);  /* SIGKILL, core flag */
    assert_int_equal(sig, 9);
    assert_true(WIFSIGNALED(9 | 0x80));
    struct timeval tv = {2, 345678};
    assert_true(timeval_ms(&tv) == 2345.678);
}

static void test_binding_names(void **state)
{
    (void)state;
    enum cpu_binding b;
    assert_true(cpu_binding_parse("exclusive", &b));
    assert_int_equal(b, BIND_EXCLUSIVE);
    assert_true(cpu_binding_parse("shared", &b));
    assert_int_equal(b, BIND_SHARED);
    assert_true(cpu_binding_parse("none", &b));
    assert_int_equal(b, BIND_NONE);
    assert_false(cpu_binding_parse("Shared", &b));
    assert_false(cpu_binding_parse("", &b));
    assert_string_equal(cpu_binding_name(BIND_SHARED), "shared");
}

static void test_sentinel_and_stat(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(task_sentinel_text(4242, 123456, buf, sizeof buf), 12);
    assert_string_equal(buf, "4242 123456\n");

    uint64_t ticks = 0;
    pid_t ppid = 0;
    /* a command name with blanks and parentheses */
    const char *stat = "77 (a) b (c)) S 12 77 77 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 "
                       "987654 1000 200 18446744073709551615\n";
    assert_int_equal(procid_parse_stat(stat, &ticks, &ppid), 0);
    assert_int_equal(ticks, 987654);
    assert_int_equal(ppid, 12);
    assert_int_equal(procid_parse_stat("77 (x) S 1 2 3", &ticks, &ppid), -1);
    assert_int_equal(procid_parse_stat("no parens", &ticks, &ppid), -1);
    assert_int_equal(ticks, 987654);  /* untouched on failure */

    assert_string_equal(task_app_name("/usr/bin/ffmpeg"), "ffmpeg");
    assert_string_equal(task_app_name("python3"), "python3");
    assert_string_equal(task_app_name("./x/"), "./x/");
}

static void test_record_json(void **state)
{
    (void)state;
    char *argv[] = {"ffmpeg", "-i", "in \"q\".mp4", "out.mp4", NULL};
    struct task_record r = {
        .trace_id = "t-1", .ts_enqueue = 1000, .ts_start = 1500, .ts_end = 2500,
        .node = "cloud1", .stage = "cloud", .path = "ffmpeg", .input = "in \"q\".mp4",
        .output = "out.mp4", .pid = 4242, .cpuset = "0-1", .has_bytes = true, .bytes_in = 10,
        .bytes_out = 20, .status = 143, .has_start_ticks = true, .start_ticks = 99, .signal = 15,
        .has_cpu = true, .cpu_user_ms = 12.3456, .cpu_sys_ms = 0.5, .max_rss_kb = 2048,
        .argv = argv, .app = "ffmpeg", .cpu_units = 2, .cpu_binding = "exclusive",
        .cpuset_applied = "0-1", .cpu_weight_applied = -1, .cpu_quota_applied = 50,
        .cgroup = "/tracekit/task-4242-99", .attempt = 2, .error = NULL,
    };
    struct jbuf b;
    jb_init(&b);
    task_record_json(&r, &b);
    jb_append(&b, "", 1);
    assert_string_equal(
        b.p,
        "{\"trace_id\": \"t-1\", \"span_id\": null, \"parent_id\": null, \"module_id\": \"ffmpeg\", "
        "\"instance_id\": null, \"ts_enqueue\": 1000, \"ts_start\": 1500, \"ts_end\": 2500, "
        "\"node\": \"cloud1\", \"stage\": \"cloud\", \"method\": \"CLI\", \"path\": \"ffmpeg\", "
        "\"input\": \"in \\\"q\\\".mp4\", \"output\": \"out.mp4\", \"pid\": 4242, \"cpuset\": "
        "\"0-1\", \"bytes_in\": 10, \"bytes_out\": 20, \"status\": 143, \"start_ticks\": 99, "
        "\"signal\": 15, \"cpu_user_ms\": 12.346, \"cpu_sys_ms\": 0.500, \"max_rss_kb\": 2048, "
        "\"argv\": [\"ffmpeg\", \"-i\", \"in \\\"q\\\".mp4\", \"out.mp4\"], \"app\": \"ffmpeg\", "
        "\"cpu_units\": 2, \"cpu_binding\": \"exclusive\", \"cpuset_applied\": \"0-1\", "
        "\"cpu_weight_applied\": null, \"cpu_quota_applied\": 50, \"cgroup\": "
        "\"/tracekit/task-4242-99\", \"attempt\": 2, \"error\": null}");

    /* a command that never started: nulls where nothing was measured */
    struct task_record f = {
        .trace_id = "t-2", .ts_enqueue = 5, .ts_start = 5, .ts_end = 5, .node = "n",
        .stage = "s", .path = "nope", .status = 127, .max_rss_kb = -1, .argv = argv + 3,
        .app = "nope", .cpu_units = 1, .cpu_binding = "none", .cpu_weight_applied = -1,
        .cpu_quota_applied = -1, .attempt = 1, .error = "cannot start",
    };
    jb_reset(&b);
    task_record_json(&f, &b);
    jb_append(&b, "", 1);
    json_error_t je;
    json_t *o = json_loads(b.p, 0, &je);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "pid")));
    assert_true(json_is_null(json_object_get(o, "bytes_in")));
    assert_true(json_is_null(json_object_get(o, "cpu_user_ms")));
    assert_true(json_is_null(json_object_get(o, "signal")));
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 127);
    assert_string_equal(json_string_value(json_object_get(o, "error")), "cannot start");
    assert_int_equal(json_object_size(o), 34);
    json_decref(o);
    jb_free(&b);
}

/* A fake environment for task_args_apply. */
static const char *fake_env[8];
static char *env_get(const char *name)
{
    for (size_t i = 0; fake_env[i]; i += 2)
        if (!strcmp(fake_env[i], name))
            return (char *)fake_env[i + 1];
    return NULL;
}

static void test_trace_id_valid(void **state)
{
    (void)state;
    assert_true(task_trace_id_valid("abc-123"));
    assert_false(task_trace_id_valid(""));
    assert_false(task_trace_id_valid("a b"));
    assert_false(task_trace_id_valid("a\tb"));
    char longid[130];
    memset(longid, 'x', 129);
    longid[129] = '\0';
    assert_false(task_trace_id_valid(longid));
    longid[128] = '\0';
    assert_true(task_trace_id_valid(longid));
}

static void test_args_defaults(void **state)
{
    (void)state;
    struct task_args a = {.env = env_get};
    struct task_opts o;
    char warn[256], err[256];
    memset(fake_env, 0, sizeof fake_env);
    assert_int_equal(task_args_apply(&a, &o, warn, sizeof warn, err, sizeof err), 0);
    assert_int_equal(o.binding, BIND_NONE);
    assert_null(o.cpuset);
    assert_int_equal(o.cpu_weight, -1);
    assert_int_equal(o.cpu_quota, -1);
    assert_false(o.has_ts_enqueue);
    assert_string_equal(warn, "");
    /* a weight or a quota alone means shared */
    a.quota = "50%";
    assert_int_equal(task_args_apply(&a, &o, warn, sizeof warn, err, sizeof err), 0);
    assert_int_equal(o.binding, BIND_SHARED);
    assert_int_equal(o.cpu_quota, 50);
}

static void test_args_environment(void **state)
{
    (void)state;
    struct task_args a = {.env = env_get};
    struct task_opts o;
    char warn[256], err[256];
    const char *env[] = {"CPUSET", "0-1", "CPU_WEIGHT", "300", "TS_ENQUEUE", "1700000000000", NULL};
    memcpy(fake_env, env, sizeof env);
    assert_int_equal(task_args_apply(&a, &o, warn, sizeof warn, err, sizeof err), 0);
    assert_string_equal(o.cpuset, "0-1");
    assert_int_equal(o.cpu_weight, 300);
    assert_int_equal(o.binding, BIND_SHARED);
    assert_true(o.has_ts_enqueue);
    assert_int_equal(o.ts_enqueue, 1700000000000LL);
    /* options win over the environment */
    a.weight = "20";
    a.ts_enqueue = "5";
    assert_int_equal(task_args_apply(&a, &o, warn, sizeof warn, err, sizeof err), 0);
    assert_int_equal(o.cpu_weight, 20);
    assert_int_equal(o.ts_enqueue, 5);
    /* a bad TS_ENQUEUE is ignored with a warning; a bad --ts-enqueue is an error */
    a.ts_enqueue = NULL;
    fake_env[5] = "soon";
    assert_int_equal(task_args_apply(&a, &o, warn, sizeof warn, err, sizeof err), 0);
    assert_false(o.has_ts_enqueue);
    assert_non_null(strstr(warn, "ignoring TS_ENQUEUE='soon'"));
    a.ts_enqueue = "soon";
    assert_int_equal(task_args_apply(&a, &o, warn, sizeof warn, err, sizeof err), -1);
    assert_string_equal(err, "invalid --ts-enqueue 'soon': expected epoch milliseconds between "
                             "1970 and 2200");
    a.ts_enqueue = "9223372036854775807";  /* readers would drop the record */
    assert_int_equal(task_args_apply(&a, &o, warn, sizeof warn, err, sizeof err), -1);
    memset(fake_env, 0, sizeof fake_env);
}

static void test_args_errors(void **state)
{
    (void)state;
    struct task_opts o;
    char warn[256], err[256];
    memset(fake_env, 0, sizeof fake_env);
    fake_env[0] = "CPU_QUOTA";
    fake_env[1] = "abc";
    struct task_args a = {.env = env_get};
    assert_int_equal(task_args_apply(&a, &o, warn, sizeof warn, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid CPU_QUOTA 'abc'"));
    a.quota = "abc";
    assert_int_equal(task_args_apply(&a, &o, warn, sizeof warn, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid --cpu-quota 'abc'"));
    memset(fake_env, 0, sizeof fake_env);
    struct task_args b = {.cpuset = "3-1", .env = env_get};
    assert_int_equal(task_args_apply(&b, &o, warn, sizeof warn, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid --cpuset"));
    assert_non_null(strstr(err, "'3-1'"));
    struct task_args c = {.binding = "exclusive", .weight = "100"};
    assert_int_equal(task_args_apply(&c, &o, warn, sizeof warn, err, sizeof err), -1);
    assert_string_equal(err, "a CPU weight or quota needs --cpu-binding shared (got 'exclusive')");
    struct task_args d = {.binding = "loose"};
    assert_int_equal(task_args_apply(&d, &o, warn, sizeof warn, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid --cpu-binding 'loose'"));
    struct task_args e = {.weight = "0"};
    assert_int_equal(task_args_apply(&e, &o, warn, sizeof warn, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid --cpu-weight '0'"));
    struct task_args f = {.binding = "exclusive"};  /* no env function: none is read */
    assert_int_equal(task_args_apply(&f, &o, warn, sizeof warn, err, sizeof err), 0);
    assert_int_equal(o.binding, BIND_EXCLUSIVE);
}

/* task_exec: the folders are made, the command runs, its record is
 * appended; a parent that is gone means nothing runs. */
/* the reason of a failed task: its output's last lines, bounded, valid UTF-8 */
static void test_output_tail(void **state)
{
    (void)state;
    char out[TASK_TAIL_BYTES + 1];
    const char *a = "one\ntwo\nthree\nfour\nfive\nsix\nseven\n\n";
    assert_int_equal(task_output_tail(a, strlen(a), out, sizeof out), 25);
    assert_string_equal(out, "three\nfour\nfive\nsix\nseven");
    /* ffmpeg's \r progress lines are lines; empty ones go */
    const char *b = "frame=1\rframe=2\r\r\nin/a.mp4: No such file or directory\r\n";
    task_output_tail(b, strlen(b), out, sizeof out);
    assert_string_equal(out, "frame=1\nframe=2\nin/a.mp4: No such file or directory");
    /* invalid UTF-8, controls -> '?'; a character cut at the start is dropped */
    const char *c = "\xa9ok \xff\x01\tt\xc3\xa9\n";
    task_output_tail(c, strlen(c), out, sizeof out);
    assert_string_equal(out, "ok ??\tt\xc3\xa9");
    assert_int_equal(task_output_tail("\n \n", 3, out, sizeof out), 0);
    assert_string_equal(out, "");
    /* one long line: its last TASK_TAIL_BYTES bytes, never half of an 'é' */
    size_t n = 3 * TASK_TAIL_BYTES + 1;
    char *big = malloc(n + 1);
    big[0] = 'x';
    for (size_t i = 1; i < n; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[n] = '\0';
    size_t len = task_output_tail(big, n, out, sizeof out);
    assert_true(len <= TASK_TAIL_BYTES && len >= TASK_TAIL_BYTES - 1);
    assert_true(((unsigned char)out[0] & 0xc0) != 0x80);
    free(big);
    /* a small buffer bounds it too */
    char small[8];
    assert_int_equal(task_output_tail("abcdefghij", 10, small, sizeof small), 7);
    assert_string_equal(small, "defghij");
}

/* ffmpeg's banner does not fill the reason of a task that failed at once */
static void test_output_banner(void **state)
{
    (void)state;
    char buf[] = "ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers\n"
                 "  built with gcc 12 (Debian 12.2.0-14+deb12u1)\n"
                 "  configuration: --prefix=/usr --enable-gpl\n"
                 "  libavutil      57. 28.100 / 57. 28.100\n"
                 "  libavcodec     59. 37.100 / 59. 37.100\n"
                 "  libswscale      6.  7.100 /  6.  7.100\n"
                 "  libpostproc    56.  6.100 / 56.  6.100\n"
                 "in/a.mp4: No such file or directory\n";
    char out[TASK_TAIL_BYTES + 1];
    size_t n = task_output_drop_banner(buf, strlen(buf));
    assert_int_equal(task_output_tail(buf, n, out, sizeof out), 35);
    assert_string_equal(out, "in/a.mp4: No such file or directory");
    /* other lines, also ones that start alike, stay */
    char keep[] = "  libx264 error: bad\nframe=1\rffmpeg: done\n";
    assert_int_equal(task_output_drop_banner(keep, strlen(keep)), strlen(keep));
    assert_false(task_output_banner("  library / x", 5));
    assert_true(task_output_banner("  built with gcc", 16));
}

static void test_exec(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_task_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *run_dir = path_join(dir, "logs/r1");
    char *argv[] = {"sh", "-c", "exit 3", NULL};
    struct task_exec x = {
        .task = {.argv = argv, .app = "shx", .cpu_units = -1, .binding = BIND_NONE,
                 .cpu_weight = -1, .cpu_quota = -1, .run_dir = run_dir, .node = "n1",
                 .stage = "cloud", .attempt = 2, .orphan_wait_ms = 1000},
    };
    assert_int_equal(task_exec(&x), 3);
    char *pids = path_join(run_dir, "pids");
    assert_true(is_dir(pids));
    char *events = path_join(run_dir, "events.shx.jsonl");
    char *text = read_file(events, NULL);
    assert_non_null(text);
    json_t *o = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "status")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "cpu_units")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "node")), "n1");
    json_decref(o);
    free(text);

    x.parent = 1;  /* not our parent (unless we are a child of init: then it runs) */
    if (getppid() != 1) {
        assert_int_equal(task_exec(&x), 1);
        text = read_file(events, NULL);
        assert_int_equal(strchr(text, '\n') - text + 1, (long)strlen(text));  /* one record */
        free(text);
        prctl(PR_SET_PDEATHSIG, 0);  /* task_exec set it for this process */
    }
    assert_int_equal(fstree_rm_rf(dir), 0);
    free(events);
    free(pids);
    free(run_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_binding_names),
        cmocka_unit_test(test_sentinel_and_stat),
        cmocka_unit_test(test_record_json),
        cmocka_unit_test(test_trace_id_valid),
        cmocka_unit_test(test_args_defaults),
        cmocka_unit_test(test_args_environment),
        cmocka_unit_test(test_args_errors),
        cmocka_unit_test(test_exec),
        cmocka_unit_test(test_output_tail),
        cmocka_unit_test(test_output_banner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
