/* options.c -- the option groups commands share (see options.h). */
#include "cmd/options.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"
#include "sched/mix.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;

const struct opt run_options[] = {
    OPT_STRING_AT(RUN_ID_NEW, "run-id", struct run_opts, run_id, "ID",
                  "the run (default: $RUN_ID, else run_id.env, else a new id)"),
    OPT_STRING_AT(RUN_ID_NEWEST, "run-id", struct run_opts, run_id, "ID",
                  "the run (default: $RUN_ID, else run_id.env, else the newest folder under "
                  "the logs folder)"),
    OPT_STRING_AT(RUN_ID_REQUIRED, "run-id", struct run_opts, run_id, "ID",
                  "the run (default: $RUN_ID, else run_id.env; required)"),
    OPT_STRING_AT(RUN_NODE, "node-id", struct run_opts, node_id, "NAME",
                  "this node (default: $NODE_ID, else the host name)"),
    OPT_STRING_AT(RUN_STAGE, "stage", struct run_opts, stage, "NAME",
                  "stage in the records (default: $STAGE, else cloud)"),
    OPT_STRING_AT(RUN_LOGS, "logs", struct run_opts, logs, "DIR", "logs folder (default: logs)"),
    OPT_STRING_AT(RUN_PID_DIR, "pid-dir", struct run_opts, pid_dir, "DIR",
                  "sentinel folder for the collector (default: $PROC_PID_DIR, else "
                  "logs/RUN_ID/pids)"),
    OPT_END(),
};

int run_opts_resolve(const struct run_opts *o, enum run_id_fallback fb, struct run_ctx *ctx)
{
    char err[512];
    if (run_ctx_resolve(ctx, o->run_id, o->node_id, o->stage, o->logs, fb, err, sizeof err) < 0) {
        cli_error("%s", err);
        return -1;
    }
    return 0;
}

const char *run_opts_pid_dir(const struct run_opts *o)
{
    const char *env = getenv("PROC_PID_DIR");
    return o->pid_dir ? o->pid_dir : env && *env ? env : NULL;
}

const struct opt redis_options[] = {
    OPT_STRING_AT(0, "redis", struct redis_opts, url, "URL",
                  "redis://[USER][:PASSWORD@]HOST[:PORT][/DB] or unix://PATH (default: "
                  "$TRACEKIT_REDIS_URL, else redis://127.0.0.1:6379/0)"),
    OPT_STRING_AT(0, "redis-password-file", struct redis_opts, password_file, "F",
                  "the password, first line of F (keeps it out of ps)"),
    OPT_SECONDS_AT(REDIS_WAIT, "connect-timeout", struct redis_opts, connect_timeout_ms, "SEC",
                   "at start, keep trying to reach Redis for SEC with back-off, as when it "
                   "goes away mid-run (default 300; 0: fail at once)"),
    OPT_END(),
};

/* Take a variable that may hold the Redis password out of the environment
 * and overwrite its text where /proc/PID/environ reads it (the strings the
 * process started with), so neither children nor readers of that file
 * find it. */
static void scrub_env(const char *name)
{
    size_t n = strlen(name);
    char *copies[16];   /* execve allows a name twice: every copy goes */
    size_t k = 0;
    for (char **e = environ; e && *e && k < sizeof copies / sizeof *copies; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            copies[k++] = *e;
    unsetenv(name);
    while (k > 0) {
        char *text = copies[--k];
        explicit_bzero(text + n + 1, strlen(text + n + 1));
    }
}

int redis_opts_load(const struct redis_opts *o, struct redis_url *u)
{
    char err[512];
    int rc = redisurl_load(o->url, o->password_file, u, err, sizeof err);
    /* Whatever the outcome: the secret's copies in argv (which ps shows
     * every user) and in the environment go; then this process stops being
     * dumpable, so processes of the same uid -- the tasks it runs among
     * them -- cannot read its memory, /proc/PID/environ or /proc/PID/mem.
     * Its children are dumpable again after their exec. */
    if (o->url)
        redisurl_mask((char *)o->url); /* points into argv */
    scrub_env(REDISURL_ENV);
    scrub_env("REDISCLI_AUTH");
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        log_warn("cannot make this process non-dumpable (%s): processes of the same user may "
                 "read the Redis password from its memory", strerror(errno));
    if (rc < 0) {
        cli_error("%s", err);
        return -1;
    }
    return 0;
}

const struct opt policy_options[] = {
    OPT_STRING_AT(0, "weigher", struct policy_opts, weigher, "W",
                  "the original's: '' (first fit), instances (tasks on the node) or vcpu "
                  "(units in use)"),
    OPT_STRING_AT(0, "weigher-order", struct policy_opts, order, "min|max",
                  "prefer the smallest or largest value (default min; with max, ties go to "
                  "the largest node id)"),
    OPT_STRING_AT(POLICY_NAME, "policy", struct policy_opts, name, "NAME",
                  "an OpenDC policy: Mem, MemInv, CoreMem, CoreMemInv, ActiveServers, "
                  "ActiveServersInv, ProvisionedCores, ProvisionedCoresInv, Random, FilterOnly"),
    OPT_STRING_AT(0, "filters", struct policy_opts, filters, "LIST",
                  "a custom FilterScheduler: filters like "
                  "compute,vcpu:1.5,ram,instanceCount:8,vcpuCapacity"),
    OPT_STRING_AT(0, "weighers", struct policy_opts, weighers, "LIST",
                  "... and weighers like ram:-1,instanceCount,vcpu:2 (multiplier after ':', "
                  "default 1)"),
    OPT_INT_AT(0, "subset-size", struct policy_opts, subset, "N", 1, 1000000,
               "pick at random among the N best hosts (default 1)"),
    OPT_DOUBLE_AT(0, "cpu-allocation-ratio", struct policy_opts, cpu_ratio, "R", 0.01, 1000,
                  "overcommit of the vcpu filter and weigher"),
    OPT_DOUBLE_AT(0, "ram-allocation-ratio", struct policy_opts, ram_ratio, "R", 0.01, 1000,
                  "overcommit of the ram filter"),
    OPT_END(),
};

static int set_binding(const struct opt *o, const char *arg, void *value)
{
    (void)o;
    if (cpu_binding_parse(arg, value))
        return 0;
    cli_error("invalid --cpu-binding '%s': expected exclusive, shared or none", arg);
    return -1;
}

const struct opt runner_options[] = {
    OPT_CALLBACK_AT(0, "cpu-binding", struct runner_opts, binding, enum cpu_binding, "MODE",
                    "exclusive (default): each task pinned to free CPUs of its own; with more "
                    "capacity units than CPUs the tasks that find none run unpinned and their "
                    "records say so; shared: a cgroup CPU weight per task; none",
                    set_binding),
    OPT_INT_AT(0, "cpuweight-per-vcpu", struct runner_opts, cpuweight, "N", 1, 10000,
               "shared binding: cgroup weight = N x cpu_units (default 100)"),
    OPT_STRING_AT(0, "ffmpeg", struct runner_opts, ffmpeg, "PATH",
                  "ffmpeg for ffmpeg tasks (default: ffmpeg)"),
    OPT_STRING_AT(0, "task-output", struct runner_opts, task_output, "DIR|inherit|null",
                  "where a task's stdout/stderr go (default: one file per attempt, "
                  "logs/RUN_ID/task-output/task-ID.aN.log)"),
    OPT_DOUBLE_AT(0, "orphan-wait", struct runner_opts, orphan_wait, "SEC", 0, 86400,
                  "as 'tracekit exec': how long processes a task leaves behind may run on "
                  "(default 10)"),
    OPT_END(),
};

void runner_opts_apply(const struct runner_opts *o, const char *run_dir, struct runner_conf *rc,
                       enum runner_out *out, char **out_dir)
{
    rc->binding = o->binding;
    rc->cpuweight_per_vcpu = (int)o->cpuweight;
    rc->ffmpeg = o->ffmpeg;
    rc->orphan_wait_s = o->orphan_wait;
    *out_dir = NULL;
    if (o->task_output && !strcmp(o->task_output, "inherit")) {
        *out = RUNNER_OUT_INHERIT;
    } else if (o->task_output && !strcmp(o->task_output, "null")) {
        *out = RUNNER_OUT_NULL;
    } else {
        *out = RUNNER_OUT_FILE;
        *out_dir = o->task_output && *o->task_output ? xstrdup(o->task_output)
                                                      : path_join(run_dir, "task-output");
    }
}

static bool quiet_given;

bool verbosity_quiet(void)
{
    return quiet_given;
}

static int set_level(const struct opt *o, const char *arg, void *value)
{
    (void)arg;
    (void)value;
    if (o->short_name == 'q')
        quiet_given = true;
    log_set_level(o->short_name == 'q' ? LOG_WARN : LOG_DEBUG);
    return 0;
}

const struct opt verbosity_options[] = {
    {.type = OPT_T_CALLBACK, .short_name = 'q', .long_name = "quiet", .cb = set_level,
     .help = "only warnings and errors", .bits = VERBOSE_QUIET},
    {.type = OPT_T_CALLBACK, .short_name = 'v', .long_name = "verbose", .cb = set_level,
     .help = "debug messages", .bits = VERBOSE_DEBUG},
    OPT_END(),
};

/* ---- workload ---- */

/* Store arg when ok, else say what --NAME expects. */
static int take(const struct opt *o, const char *arg, void *value, bool ok, const char *expected)
{
    if (!ok) {
        cli_error("invalid --%s '%s': expected %s", o->long_name, arg, expected);
        return -1;
    }
    *(const char **)value = arg;
    return 0;
}

static int set_scale(const struct opt *o, const char *arg, void *value)
{
    const char *c = strchr(arg, ':');
    bool ok = c && c != arg && c[1];
    for (const char *p = arg; ok && *p; p++)
        ok = p == c || (*p >= '0' && *p <= '9');
    return take(o, arg, value, ok, "WIDTH:HEIGHT like 1280:720");
}

static int set_preset(const struct opt *o, const char *arg, void *value)
{
    bool ok = *arg && strlen(arg) <= 64;
    for (const char *p = arg; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '_' || *p == '-';
    return take(o, arg, value, ok, "an x264 preset name like veryfast");
}

static int set_mode(const struct opt *o, const char *arg, void *value)
{
    return take(o, arg, value, !strcmp(arg, "pulse") || !strcmp(arg, "fifo"), "pulse or fifo");
}

static int set_app(const struct opt *o, const char *arg, void *value)
{
    return take(o, arg, value, run_id_valid(arg), RUN_ID_RULE);
}

#define WL struct wlbuild_opts
const struct opt workload_options[] = {
    OPT_STRING_AT(WORKLOAD_FFMPEG, "inputs", WL, inputs, "DIR",
                  "input videos (*.mp4 directly in DIR, in name order), one ffmpeg task each"),
    OPT_STRING_AT(WORKLOAD_FFMPEG, "outputs", WL, outputs, "DIR",
                  "output folder prefix (paths as the workers see them)"),
    OPT_CALLBACK_AT(WORKLOAD_FFMPEG, "scale", WL, scale, const char *, "W:H",
                    "output size without --mix (default 1280:720)", set_scale),
    OPT_CALLBACK_AT(WORKLOAD_FFMPEG, "preset", WL, preset, const char *, "NAME",
                    "x264 preset without --mix (default veryfast)", set_preset),
    OPT_INT_AT(WORKLOAD_FFMPEG, "crf", WL, crf, "N", 0, 63, "quality without --mix (default 28)"),
    OPT_STRING_AT(WORKLOAD_NODES, "nodes", WL, nodes, "A,B,C",
                  "nodes for direct assignment (default cloud0,cloud1,cloud2)"),
    OPT_STRING_AT(WORKLOAD_POLICY, "policy", WL, policy, "NAME",
                  "rr3 (file i -> node i mod n), duration-greedy (lpt-duration: longest first to "
                  "the least loaded node), duration-online (online-duration: longest first, each "
                  "batch to the node with the smallest backlog); default rr3; ignored with --mix"),
    OPT_STRING_AT(WORKLOAD_FFMPEG, "ffprobe", WL, ffprobe, "PATH",
                  "for the durations of the duration policies (default ffprobe)"),
    OPT_STRING_AT(WORKLOAD_FFMPEG, "mix", WL, mix, "NAME=W,...",
                  "profile mix (medium480p, fast1080p, hevc1080p, light1c); an unknown "
                  "profile or a malformed item is an error"),
    OPT_FLAG_AT(WORKLOAD_FFMPEG, "allow-unknown-profile", WL, allow_unknown,
                "the original's --mix: unknown profiles run a 1280:720 transcode under their "
                "name, malformed items are skipped with a warning"),
    OPT_INT_AT(WORKLOAD_FFMPEG, "total", WL, total, "N", 0, MIX_MAX_TOTAL,
               "with --mix: N tasks, file idx mod files; 0 (default): one task per file, its "
               "profile drawn at random; with --command: N copies (default 1)"),
    OPT_INT_AT(WORKLOAD_FFMPEG, "seed", WL, seed, "N", INT64_MIN + 1, INT64_MAX,
               "random seed of --mix, and of the subset picks in 'tracekit local' (default 0, "
               "an ordinary seed)"),
    OPT_STRING_AT(WORKLOAD_LOCAL_NODES, "nodes", WL, nodes, "LIST",
                  "the nodes, NAME,NAME,... (default: one node named $NODE_ID or the host "
                  "name); tasks pinned to nodes (no --pending) use the same names"),
    OPT_STRING_AT(WORKLOAD_GENERIC, "command", WL, command, "'ARGV'",
                  "a command line (shell-like quoting, no expansions), run --total times "
                  "(default 1)"),
    OPT_STRING_AT(WORKLOAD_GENERIC, "tasks", WL, tasks, "FILE",
                  "one JSON object per line: {\"argv\": [...], \"cpu_units\": 1, \"mem_mb\": 0, "
                  "\"app\": \"NAME\", \"node\": \"NODE\", ...}; a bad line refuses the file"),
    OPT_INT_AT(WORKLOAD_GENERIC, "cpu-units", WL, cpu_units, "N", 0, 1000000,
               "units each task needs (default 1; a --tasks line may give its own)"),
    OPT_INT_AT(WORKLOAD_GENERIC, "mem-mb", WL, mem_mb, "N", 0, INT32_MAX,
               "memory each task needs, MiB (default 0: not accounted)"),
    OPT_CALLBACK_AT(WORKLOAD_GENERIC, "app", WL, app, const char *, "NAME",
                    "events.NAME.jsonl on the workers (default: the program)", set_app),
    OPT_STRING_AT(WORKLOAD_LOCAL_POLICY, "policy", WL, policy, "P",
                  "rr3, duration-greedy, duration-online (the dispatcher's, pins tasks to nodes "
                  "without --pending), or one of OpenDC's named scheduler policies (see "
                  "'tracekit scheduler --help')"),
    OPT_FLAG_AT(WORKLOAD_PACING, "pending", WL, pending,
                "leave the choice of node to the central scheduler"),
    OPT_CALLBACK_AT(WORKLOAD_PACING, "pending-mode", WL, pending_mode, const char *, "MODE",
                    "pulse (default): --pulse-size tasks, --pulse-spacing apart, then "
                    "--pulse-interval; fifo: keep q:pending below --pending-max, --batch-size "
                    "per --dribble-interval, so at most --batch-size / --dribble-interval "
                    "tasks a second however fast the cluster is: with the defaults 1 task/s "
                    "(2000 tasks take 33 min); raise --batch-size or lower --dribble-interval "
                    "for more", set_mode),
    OPT_INT_AT(WORKLOAD_PACING, "pulse-size", WL, pulse_size, "N", 1, 1000000,
               "tasks per pulse (default 10)"),
    OPT_SECONDS_AT(WORKLOAD_PACING, "pulse-interval", WL, pulse_interval_ms, "SEC",
                   "after each pulse (default 300)"),
    OPT_SECONDS_AT(WORKLOAD_PACING, "pulse-spacing", WL, pulse_spacing_ms, "SEC",
                   "between the tasks of a pulse (default 1, the original's)"),
    OPT_INT_AT(WORKLOAD_PACING, "pending-max", WL, pending_max, "N", 1, 100000000,
               "fifo: most tasks waiting in q:pending (default 6)"),
    OPT_INT_AT(WORKLOAD_PACING, "batch-size", WL, batch_size, "N", 1, 1000000,
               "tasks per step of fifo, --drip and duration-online (default 1; the rate is "
               "this / --dribble-interval tasks a second)"),
    OPT_SECONDS_AT(WORKLOAD_PACING, "dribble-interval", WL, dribble_ms, "SEC",
                   "between those steps (default 1)"),
    OPT_FLAG_AT(WORKLOAD_PACING, "drip", WL, drip,
                "--batch-size pinned tasks per --dribble-interval, a node's only while its "
                "backlog (pinned, not started) is below --backlog-limit; a task waits for room, "
                "never dropped"),
    OPT_INT_AT(WORKLOAD_PACING, "backlog-limit", WL, backlog_limit, "N", 1, 1000000,
               "per node, for --drip and duration-online (default 1)"),
    OPT_FLAG_AT(WORKLOAD_APPEND, "append", WL, append,
                "add these tasks to a run that has some already (its submitted.jsonl or "
                "ledger.jsonl), numbering on from the last; without it such a run is refused"),
    OPT_END(),
};
#undef WL

int workload_opts_check(struct wlbuild_opts *o)
{
    char err[1024];
    if (wlbuild_check(o, err, sizeof err) < 0) {
        cli_error("%s", err);
        return -1;
    }
    return 0;
}

int workload_opts_build(const struct wlbuild_opts *o, struct workload *w, struct pace_cfg *pc)
{
    char err[1024];
    int rc = wlbuild_tasks(o, w, err, sizeof err);
    if (rc == -2) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    if (rc < 0) {
        log_error("%s", err);
        return TK_EXIT_FAIL;
    }
    wlbuild_pace(o, pc);
    return 0;
}

int runner_opts_set_user(const struct opt *o, const char *arg, void *value)
{
    if (!getpwnam(arg)) {
        cli_error("invalid --%s '%s': expected a user name of this system", o->long_name, arg);
        return -1;
    }
    if (geteuid() != 0) {
        cli_error("--%s '%s' needs root: tracekit runs as uid %d and cannot start tasks as "
                  "another user (run it as root, or drop --%s)", o->long_name, arg,
                  (int)geteuid(), o->long_name);
        return -1;
    }
    *(const char **)value = arg;
    return 0;
}
