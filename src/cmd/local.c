/* local.c -- `tracekit local`: a whole experiment on one machine with
 * no Redis server: the dispatcher's task list and pacing (wlbuild.c), the
 * central scheduler's placement (embed.c, same policies), worker slots that
 * run each task through `tracekit exec` (runner.c), and the collector.
 * Options here; the engine is sched/local.c. */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "common/log.h"
#include "common/util.h"
#include "sched/local.h"

#include <stdio.h>

static const char *const usage[] = {
    "tracekit local [OPTIONS] (--inputs DIR --outputs DIR [--mix SPEC --total N]",
    "               | --command 'ARGV...' [--total N] | --tasks FILE)",
    NULL,
};
static const struct opt_cmd cmd = {
    .name = "local",
    .usage = usage,
    .description =
        "Run a whole experiment on this machine without a Redis server: the dispatcher's\n"
        "tasks, the central scheduler's placement (same policies as 'tracekit scheduler')\n"
        "and worker slots that run every task through 'tracekit exec' (CPU binding,\n"
        "records), with the collector sampling them.  Writes the same files as the Redis\n"
        "flow into LOGS/RUN_ID/: events.APP.jsonl, submitted.jsonl, placements.jsonl,\n"
        "ledger.jsonl, and the collector's files.  Exits 0 when every task succeeded,\n"
        "1 otherwise (each failed task logged with the end of its output), 2 for a bad\n"
        "command line, a --mix profile typo or a run that has tasks already (--append adds\n"
        "to it).  SIGINT/SIGTERM: stop starting tasks, let running ones finish (a second\n"
        "one terminates them).  On a terminal a progress line shows the counts and an\n"
        "ETA from the durations of the tasks finished so far.\n",
    .flags = OPT_ARGS,
};

struct local_args {
    struct run_opts run;
    struct wlbuild_opts wl;
    struct policy_opts policy;
    struct runner_opts runner;
    int64_t capacity, node_mem, parallel, interval, host_interval;
    double ratio;
    bool reject, no_collect, realtime, json;
};

static int parse_opts(int argc, char **argv, struct local_args *a)
{
    struct opt opts[] = {
        OPT_GROUP("Run:"),
        OPT_INCLUDE(run_options, &a->run, RUN_ID_NEW | RUN_LOGS | RUN_STAGE | RUN_PID_DIR),
        OPT_GROUP("Tasks (as 'tracekit dispatch'):"),
        OPT_INCLUDE(workload_options, &a->wl,
                    WORKLOAD_FFMPEG | WORKLOAD_GENERIC | WORKLOAD_LOCAL_POLICY | WORKLOAD_PACING),
        OPT_INCLUDE(workload_options, &a->wl, WORKLOAD_APPEND),
        OPT_GROUP("Scheduler (as 'tracekit scheduler'):"),
        OPT_INCLUDE(policy_options, &a->policy, 0),
        OPT_FLAG(0, "reject-unplaceable", &a->reject,
                 "reject (ledger status rejected) a task bigger than every node and go on "
                 "(default: stop with an error)"),
        OPT_GROUP("Worker slots (as 'tracekit worker'):"),
        OPT_INCLUDE(workload_options, &a->wl, WORKLOAD_LOCAL_NODES),
        OPT_INT(0, "capacity-units", &a->capacity, "N", 1, 1000000,
                "units of each node (default: logical CPUs x --allocation-ratio, divided "
                "among the nodes)"),
        OPT_INT(0, "node-mem-mb", &a->node_mem, "N", 0, INT32_MAX,
                "memory of each node to account, MiB (default 0: not)"),
        OPT_DOUBLE(0, "allocation-ratio", &a->ratio, "R", 0.01, 1000,
                   "units per logical CPU without --capacity-units (default 1)"),
        OPT_INT(0, "parallel", &a->parallel, "N", 0, 100000,
                "most tasks at once per node (default: no limit but units)"),
        OPT_INCLUDE(runner_options, &a->runner, 0),
        OPT_GROUP("Collector:"),
        OPT_FLAG(0, "no-collect", &a->no_collect, "do not run the collector"),
        OPT_INT(0, "interval-ms", &a->interval, "MS", 10, 3600000,
                "process sampling period (default 200)"),
        OPT_INT(0, "host-interval-ms", &a->host_interval, "MS", 0, 3600000,
                "host sampling period (default 1000)"),
        OPT_FLAG(0, "realtime", &a->realtime, "sample with SCHED_FIFO priority"),
        OPT_GROUP(""),
        OPT_FLAG(0, "json", &a->json, "print the final summary as one JSON object on stdout"),
        OPT_INCLUDE(verbosity_options, NULL, VERBOSE_QUIET | VERBOSE_DEBUG),
        OPT_END(),
    };
    return opt_parse(&cmd, opts, argc, argv, NULL);
}

/* -1 to go on, else the exit code (after --help or an error). */
static int parse_args(int argc, char **argv, struct local_args *a, struct policy *pol)
{
    int n = parse_opts(argc, argv, a);
    if (n < 0)
        return opt_exit_code(n);
    if (n < argc) {
        cli_error("unexpected argument '%s' (a command goes in --command 'ARGV...')", argv[n]);
        return TK_EXIT_USAGE;
    }
    if (a->runner.task_output && !*a->runner.task_output) {
        cli_error("invalid --task-output '': expected DIR, inherit or null");
        return TK_EXIT_USAGE;
    }
    enum workload_policy wp;
    if (a->wl.policy && !workload_policy_parse(a->wl.policy, &wp)) {
        a->policy.name = a->wl.policy; /* not the dispatcher's: OpenDC's, by name */
        a->wl.policy = NULL;
    }
    char err[1024];
    if (policy_from_opts(&a->policy, pol, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    return -1;
}

int cmd_local(int argc, char **argv)
{
    struct local_args a = {.wl = WLBUILD_OPTS_INIT, .runner = RUNNER_OPTS_INIT,
                           .interval = 200, .host_interval = 1000, .ratio = 1};
    a.runner.orphan_wait = 10; /* exec's default, given explicitly as local always has */
    struct policy pol;
    struct run_ctx ctx = {0};
    struct workload w = {0};
    char *out_dir = NULL;
    int rc = parse_args(argc, argv, &a, &pol);
    if (rc >= 0)
        return rc;
    rc = TK_EXIT_USAGE;
    if (run_opts_resolve(&a.run, RUNID_NEW, &ctx) < 0)
        goto out;
    if (!a.wl.nodes)
        a.wl.nodes = ctx.node_id; /* default: this machine */
    if (workload_opts_check(&a.wl) < 0)
        goto out;
    int64_t last_id = 0;
    if (wlbuild_check_new_run(ctx.run_id, ctx.run_dir, a.wl.append, &last_id) < 0)
        goto out;
    struct local_conf c = {
        .ctx = &ctx, .pid_dir = a.run.pid_dir, .w = &w, .pol = &pol, .seed = a.wl.seed,
        .nodes = a.wl.node_names, .nnodes = a.wl.nnodes, .capacity = a.capacity,
        .node_mem_mb = a.node_mem, .parallel = a.parallel, .ratio = a.ratio, .reject = a.reject,
        .collect = !a.no_collect, .interval_ms = a.interval, .host_interval_ms = a.host_interval,
        .realtime = a.realtime, .quiet = verbosity_quiet(), .id_base = last_id,
    };
    if ((rc = workload_opts_build(&a.wl, &w, &c.pace)) != 0)
        goto out;
    wlbuild_record(&a.wl, &w, ctx.run_dir, "local");
    runner_opts_apply(&a.runner, ctx.run_dir, &c.rc, &c.out, &out_dir);
    c.out_dir = out_dir;
    struct local_result r;
    rc = local_run(&c, &r);
    if (a.json && r.ran) {
        struct jbuf b;
        jb_init(&b);
        local_summary_json(&c, &r, &b);
        printf("%.*s\n", (int)b.len, b.p);
        jb_free(&b);
    }
out:
    free(out_dir);
    workload_free(&w);
    wlbuild_free(&a.wl);
    run_ctx_free(&ctx);
    return rc;
}
