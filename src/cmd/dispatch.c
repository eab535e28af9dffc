/* dispatch.c -- `tracekit dispatch`: put a run's tasks into Redis (the
 * original dispatcher, §7.5), paced as asked, and optionally wait for them.
 * Options here; the task list is sched/wlbuild.c, the engine
 * sched/dispatch.c. */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "common/log.h"
#include "common/util.h"
#include "sched/dispatch.h"
#include "trace/ship.h"

#include <stdio.h>

static const char *const usage[] = {
    "tracekit dispatch --run-id ID --inputs DIR --outputs DIR [OPTIONS]",
    "tracekit dispatch --run-id ID --command 'PROGRAM ARGS...' [--total N] [OPTIONS]",
    "tracekit dispatch --run-id ID --tasks FILE.jsonl [OPTIONS]",
    NULL,
};
static const struct opt_cmd cmd = {
    .name = "dispatch",
    .usage = usage,
    .description =
        "Enqueue a run's tasks in Redis for the central scheduler and the workers, paced as\n"
        "asked, writing each stored task to logs/RUN_ID/submitted.jsonl.  With --wait, wait\n"
        "until every task of this dispatch has finished, write logs/RUN_ID/ledger.jsonl and\n"
        "ship the controller's records to Redis for 'tracekit gather --redis'.\n"
        "With --wait each failed task is logged at error level with its node, the end of\n"
        "its output and its log file.  A run that has tasks already (submitted.jsonl or\n"
        "ledger.jsonl in its folder) is refused unless --append.  With --pending, a run\n"
        "without a live scheduler or registered worker is warned about every minute.\n"
        "Exit status: 0 all enqueued (with --wait: all done), 1 a failure (a task failed,\n"
        "died or was rejected, a timeout, Redis), 2 a bad command line (also a --mix\n"
        "profile typo, a used run id).\n",
    .flags = OPT_ARGS,
};

struct dispatch_args {
    struct wlbuild_opts wl;
    struct run_opts run;
    struct redis_opts redis;
    bool wait, json;
    int64_t timeout_ms;
};

/* -1 to go on, else the exit code (after --help or an error). */
static int parse_args(int argc, char **argv, struct dispatch_args *a)
{
    struct opt opts[] = {
        OPT_GROUP("ffmpeg tasks (the original's dispatcher), one per *.mp4 file in --inputs:"),
        OPT_INCLUDE(workload_options, &a->wl, WORKLOAD_FFMPEG | WORKLOAD_NODES | WORKLOAD_POLICY),
        OPT_GROUP("Generic tasks:"),
        OPT_INCLUDE(workload_options, &a->wl, WORKLOAD_GENERIC),
        OPT_GROUP("Pacing (default: everything at once, ffmpeg tasks pinned to their node, the\n"
                  "scheduler placing each only there; --pending alone: the original's pulses of\n"
                  "10 tasks 1 s apart, then a pause of 300 s):"),
        OPT_INCLUDE(workload_options, &a->wl, WORKLOAD_PACING),
        OPT_GROUP("Waiting:"),
        OPT_FLAG(0, "wait", &a->wait, "wait until every task has finished; write ledger.jsonl"),
        OPT_SECONDS(0, "timeout", &a->timeout_ms, "SEC", "give up waiting after SEC (exit 1)"),
        OPT_FLAG(0, "json", &a->json, "print the final summary as one JSON object on stdout"),
        OPT_GROUP("Run and Redis:"),
        OPT_INCLUDE(run_options, &a->run, RUN_ID_REQUIRED | RUN_LOGS),
        OPT_INCLUDE(workload_options, &a->wl, WORKLOAD_APPEND),
        OPT_INCLUDE(redis_options, &a->redis, 0),
        OPT_GROUP(""),
        OPT_INCLUDE(verbosity_options, NULL, VERBOSE_QUIET | VERBOSE_DEBUG),
        OPT_END(),
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    if (n < 0)
        return opt_exit_code(n);
    if (n < argc) {
        cli_error("unexpected argument '%s' (a command goes in --command 'ARGV...')", argv[n]);
        return TK_EXIT_USAGE;
    }
    if (workload_opts_check(&a->wl) < 0)
        return TK_EXIT_USAGE;
    if (a->timeout_ms > 0 && !a->wait) {
        cli_error("--timeout goes with --wait");
        return TK_EXIT_USAGE;
    }
    return -1;
}

/* The controller's records to Redis, for 'tracekit gather --redis' (#18). */
static void ship_records(const struct redis_url *u, const struct run_ctx *ctx)
{
    struct ship_stats st;
    char err[512];
    if (ship_controller(u, ctx->run_id, ctx->run_dir, &st, err, sizeof err) < 0)
        log_warn("the controller's records were not shipped: %s (gather them with --from %s)",
                 err, ctx->run_dir);
    else
        log_info("shipped the controller's records (%zu file(s)) for 'tracekit gather --redis'",
                 st.files);
}

int cmd_dispatch(int argc, char **argv)
{
    struct dispatch_args a = {.wl = WLBUILD_OPTS_INIT};
    struct run_ctx ctx = {0};
    struct redis_url u = {0};
    struct workload w = {0};
    struct dispatch_conf c = {.w = &w, .redis = &u};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        goto out;
    rc = TK_EXIT_USAGE;
    if (run_opts_resolve(&a.run, RUNID_REQUIRED, &ctx) < 0)
        goto out;
    int64_t last_id = 0; /* Redis numbers on by itself */
    if (wlbuild_check_new_run(ctx.run_id, ctx.run_dir, a.wl.append, &last_id) < 0)
        goto out;
    /* the task list, before touching Redis */
    if ((rc = workload_opts_build(&a.wl, &w, &c.pace)) != 0)
        goto out;
    for (int i = 0; i < 2; i++) {
        const char *dir = i ? a.wl.outputs : a.wl.inputs;
        if (dir && dir[0] != '/')
            log_warn("--%s %s is a relative path: each worker resolves it in its own working "
                     "folder, not in this one; give an absolute path that every node sees",
                     i ? "outputs" : "inputs", dir);
    }
    rc = TK_EXIT_USAGE;
    if (redis_opts_load(&a.redis, &u) < 0)
        goto out;
    c.run_id = ctx.run_id;
    c.run_dir = ctx.run_dir;
    c.online = a.wl.wpolicy == WORKLOAD_ONLINE;
    c.wait = a.wait;
    c.timeout_ms = a.timeout_ms;
    c.quiet = verbosity_quiet();
    wlbuild_record(&a.wl, &w, ctx.run_dir, "dispatch");
    struct dispatch_result r;
    rc = dispatch_run(&c, &r);
    if (r.ledger)
        ship_records(&u, &ctx);
    if (a.json && r.started) {
        struct jbuf b;
        jb_init(&b);
        dispatch_summary_json(&r, ctx.run_id, &b);
        printf("%s\n", b.p);
        fflush(stdout);
        jb_free(&b);
    }
    dispatch_result_free(&r);
out:
    redisurl_free(&u);
    workload_free(&w);
    wlbuild_free(&a.wl);
    run_ctx_free(&ctx);
    return rc;
}
