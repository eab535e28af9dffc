/* options.c -- the option groups commands share (see options.h). */
#include "cmd/options.h"
#include "common/log.h"
#include "common/util.h"

#include <string.h>

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

const struct opt redis_options[] = {
    OPT_STRING_AT(0, "redis", struct redis_opts, url, "URL",
                  "redis://[USER][:PASSWORD@]HOST[:PORT][/DB] or unix://PATH (default: "
                  "$TRACEKIT_REDIS_URL, else redis://127.0.0.1:6379/0)"),
    OPT_STRING_AT(0, "redis-password-file", struct redis_opts, password_file, "F",
                  "the password, first line of F (keeps it out of ps)"),
    OPT_END(),
};

int redis_opts_load(const struct redis_opts *o, struct redis_url *u)
{
    char err[512];
    if (redisurl_load(o->url, o->password_file, u, err, sizeof err) < 0) {
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

static int set_level(const struct opt *o, const char *arg, void *value)
{
    (void)arg;
    (void)value;
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
