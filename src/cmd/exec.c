/* exec.c -- `tracekit exec`: run one command as a traced task.  Options and
 * their resolution only; the work is task_exec (task/task.c). */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"
#include "task/cgroup.h"
#include "task/launcher.h"
#include "task/profiles.h"
#include "task/task.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const usage[] = {
    "tracekit exec [OPTIONS] [--] COMMAND [ARGS...]",
    "tracekit exec [OPTIONS] --profile NAME --input FILE --output FILE",
    NULL,
};
static const struct opt_cmd cmd = {
    .name = "exec",
    .usage = usage,
    .description =
        "Run COMMAND as one traced task: it is registered for the collector (pids/PID)\n"
        "before it runs its own code, bound to CPUs as asked, and one record is appended\n"
        "to logs/RUN_ID/events.APP.jsonl when it ends (also when it cannot start: status\n"
        "127).  Exits with the command's status, 128+N when signal N killed it.\n"
        "SIGINT/SIGTERM/SIGHUP/SIGQUIT are passed on to the command.\n",
    .flags = OPT_ARGS | OPT_STOP_AT_ARG,
};

struct exec_args {
    struct run_opts run;
    struct task_args cpu;
    const char *app, *trace_id, *exec_id, *cgroup_parent, *profile, *input, *output, *ffmpeg, *user;
    int64_t attempt, units, parent;
    double orphan_wait;
    bool list_profiles, launcher;
};

/* --app, --trace-id and --cgroup-parent: checked, then kept as given. */
static int set_checked(const struct opt *o, const char *arg, void *value)
{
    static const struct {
        const char *name;
        bool (*ok)(const char *);
        const char *expected;
    } checks[] = {
        {"app", run_id_valid, RUN_ID_RULE},
        {"trace-id", task_trace_id_valid, "1-128 printable characters, no blanks"},
        {"exec-id", task_trace_id_valid, "1-128 printable characters, no blanks"},
        {"cgroup-parent", cgroup_path_valid,
         "a relative path like tracekit or a/b (letters, digits, ._-:@)"},
    };
    for (size_t i = 0; i < ARRAY_LEN(checks); i++) {
        if (strcmp(o->long_name, checks[i].name))
            continue;
        if (!checks[i].ok(arg)) {
            cli_error("invalid --%s '%s': expected %s", o->long_name, arg, checks[i].expected);
            return -1;
        }
        *(const char **)value = arg;
        return 0;
    }
    TK_BUG("no check for --%s", o->long_name);
}

/* The index of COMMAND in argv, or an opt_parse result below 0. */
static int parse_args(int argc, char **argv, struct exec_args *a)
{
    struct opt opts[] = {
        OPT_GROUP("Run:"),
        OPT_INCLUDE(run_options, &a->run,
                    RUN_ID_NEW | RUN_NODE | RUN_STAGE | RUN_LOGS | RUN_PID_DIR),
        OPT_GROUP("Record:"),
        OPT_CALLBACK(0, "app", &a->app, "NAME",
                     "write events.NAME.jsonl (default: the command's base name)", set_checked),
        OPT_CALLBACK(0, "trace-id", &a->trace_id, "ID", "(default: a new random UUID)",
                     set_checked),
        OPT_STRING(0, "ts-enqueue", &a->cpu.ts_enqueue, "MS",
                   "enqueue time, epoch ms (default: $TS_ENQUEUE, else ts_start)"),
        OPT_INT(0, "attempt", &a->attempt, "N", 1, 1000000,
                "attempt number to record (default: 1)"),
        OPT_CALLBACK(0, "exec-id", &a->exec_id, "ID",
                     "this execution's id to record (tracekit worker gives a new one to every "
                     "execution, so two runs of one attempt are told apart; default: none)",
                     set_checked),
        OPT_INT(0, "parent-pid", &a->parent, "PID", 1, INT32_MAX,
                "stop the command (SIGTERM) when PID, the process that started this exec, dies "
                "(tracekit worker passes its own)"),
        OPT_GROUP("CPU:"),
        OPT_STRING(0, "cpu-binding", &a->cpu.binding, "MODE",
                   "none: no binding (--cpuset still pins); exclusive: pin to --cpu-units CPUs no "
                   "other task holds (affinity + cpuset cgroup); shared: own cgroup with a CPU "
                   "weight, work-conserving unless --cpu-quota.  Default: shared if a weight or "
                   "quota is given, else none"),
        OPT_INT(0, "cpu-units", &a->units, "N", 1, CPU_SETSIZE,
                "CPUs the task needs (default: 1, or the profile's)"),
        OPT_STRING(0, "cpuset", &a->cpu.cpuset, "LIST",
                   "CPUs like 0-3,5: pin to them (none/shared), or the CPUs to choose from "
                   "(exclusive) (default: $CPUSET)"),
        OPT_STRING(0, "cpu-weight", &a->cpu.weight, "W",
                   "cgroup weight 1-10000 (default: $CPU_WEIGHT, else 100 x units)"),
        OPT_STRING(0, "cpu-quota", &a->cpu.quota, "PCT",
                   "CPU cap, percent of one CPU (default: $CPU_QUOTA, else none)"),
        OPT_CALLBACK(0, "cgroup-parent", &a->cgroup_parent, "PATH",
                     "parent of the task cgroups in each hierarchy (default: tracekit)",
                     set_checked),
        OPT_CALLBACK(0, "user", &a->user, "USER",
                     "run COMMAND as USER: its groups, gid and uid are set just before it "
                     "starts (needs root; the record, sentinel and cgroup are still ours)",
                     runner_opts_set_user),
        OPT_DOUBLE(0, "orphan-wait", &a->orphan_wait, "SEC", 0, 86400,
                   "how long processes the command leaves behind may run on before they are "
                   "terminated (default: 10); they are reaped and their CPU time counted"),
        OPT_GROUP("ffmpeg profiles:"),
        OPT_STRING(0, "profile", &a->profile, "NAME",
                   "build the ffmpeg command from a profile (--list-profiles)"),
        OPT_STRING(0, "input", &a->input, "FILE", "... reading FILE"),
        OPT_STRING(0, "output", &a->output, "FILE", "... writing FILE (its folder is created)"),
        OPT_STRING(0, "ffmpeg", &a->ffmpeg, "PATH", "ffmpeg to run (default: ffmpeg)"),
        OPT_FLAG(0, "list-profiles", &a->list_profiles, "print the profiles and exit"),
        OPT_GROUP("Worker:"),
        OPT_FLAG(0, "launcher", &a->launcher,
                 "serve tracekit worker (it starts one per worker): read exec command lines on "
                 "stdin, a socket, and start each as a fork of this process that the worker "
                 "reaps, instead of a new tracekit exec"),
        OPT_GROUP(""),
        OPT_INCLUDE(verbosity_options, NULL, VERBOSE_QUIET),
        OPT_END(),
    };
    return opt_parse(&cmd, opts, argc, argv, NULL);
}

/* The command (argv, NULL-terminated) or the profile.  0, or -1 after a
 * cli_error. */
static int resolve_command(const struct exec_args *a, char **argv, struct task_exec *x)
{
    if (a->profile) {
        x->profile = profile_find(a->profile);
        if (!x->profile)
            cli_error("unknown --profile '%s' (see 'tracekit exec --list-profiles')", a->profile);
        else if (!a->input || !a->output)
            cli_error("--profile needs --input FILE and --output FILE");
        else if (argv[0])
            cli_error("give either --profile or a COMMAND, not both (got '%s')", argv[0]);
        else
            return 0;
        return -1;
    }
    if (a->input || a->output) {
        cli_error("--input and --output go with --profile");
        return -1;
    }
    if (!argv[0]) {
        cli_error("no command given: tracekit exec [OPTIONS] -- COMMAND [ARGS...]");
        return -1;
    }
    x->task.argv = argv;
    return 0;
}

int cmd_exec(int argc, char **argv)
{
    struct exec_args a = {.cgroup_parent = "tracekit", .attempt = 1, .units = -1,
                          .orphan_wait = 10, .cpu.env = getenv};
    int n = parse_args(argc, argv, &a);
    if (n < 0)
        return opt_exit_code(n);
    if (a.list_profiles) {
        profile_print(stdout);
        return TK_EXIT_OK;
    }
    if (a.launcher) {
        if (argv[n]) {
            cli_error("--launcher takes no COMMAND (got '%s')", argv[n]);
            return TK_EXIT_USAGE;
        }
        return launcher_serve(STDIN_FILENO, cmd_exec);
    }
    struct task_exec x = {
        .task = {.app = a.app, .trace_id = a.trace_id, .cpu_units = (int)a.units,
                 .cgroup_parent = a.cgroup_parent, .attempt = (int)a.attempt, .exec_id = a.exec_id,
                 .orphan_wait_ms = (int)(a.orphan_wait * 1000), .user = a.user},
        .input = a.input, .output = a.output, .ffmpeg = a.ffmpeg, .parent = (pid_t)a.parent,
    };
    char err[512], warn[256];
    if (resolve_command(&a, argv + n, &x) < 0)
        return TK_EXIT_USAGE;
    if (task_args_apply(&a.cpu, &x.task, warn, sizeof warn, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    if (*warn)
        log_warn("%s", warn);
    struct run_ctx ctx;
    if (run_opts_resolve(&a.run, RUNID_NEW, &ctx) < 0)
        return TK_EXIT_USAGE;
    if (ctx.run_id_source && !strcmp(ctx.run_id_source, "new"))
        log_info("no RUN_ID given: using new run id %s", ctx.run_id);
    x.task.run_dir = ctx.run_dir;
    x.task.pid_dir = run_opts_pid_dir(&a.run);
    x.task.node = ctx.node_id;
    x.task.stage = ctx.stage;
    int rc = task_exec(&x);
    run_ctx_free(&ctx);
    return rc;
}
