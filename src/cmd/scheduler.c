/* scheduler.c -- `tracekit scheduler`: its options; the loop that places
 * the queued tasks is sched/scheduler.c (docs/redis.md, "Running the
 * scheduler"). */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"
#include "sched/legacy.h"
#include "sched/policy.h"
#include "sched/scheduler.h"

#include <string.h>

static int ignored(const struct opt *o, const char *arg, void *value)
{
    (void)value;
    if (!strcmp(o->long_name, "pending"))
        log_warn("--pending %s is ignored: every key of a run is under tk:RUN_ID: (the "
                 "queue is tk:RUN_ID:q:pending), so choose the queue with --run-id", arg);
    else if (!strcmp(o->long_name, "scan-pending"))
        log_warn("--scan-pending %s is ignored (the original did not use it either): "
                 "placement is strict FIFO", arg);
    else
        log_warn("--%s %s is ignored: there is no slots list any more; each worker's "
                 "--parallel is enforced by the placement script itself (B9, B10)",
                 o->long_name, arg);
    return 0;
}

static const char *const usage[] = {"tracekit scheduler --run-id ID [--redis URL] [OPTIONS]",
                                    NULL};
static const struct opt_cmd cmd = {
    .name = "scheduler",
    .usage = usage,
    .description =
        "The central scheduler: takes the tasks of the run's queue (q:pending) in FIFO\n"
        "order, chooses a node for each with a policy and places it there atomically\n"
        "(free units, memory and the worker's --parallel checked and taken in one step).\n"
        "Reaps workers that stopped heartbeating: their tasks go back to the queue.\n"
        "Appends one line per placement to LOGS/RUN_ID/placements.jsonl.  Several\n"
        "schedulers may run at once.  SIGTERM/SIGINT: finish the round and exit 0.\n"
        "Redis not reachable at start: retried with back-off for --connect-timeout.  One\n"
        "info line per placement (at most one a second, with a count of the rest).\n",
};

struct sched_args {
    struct run_opts run;
    struct redis_opts redis;
    struct policy_opts policy;
    int64_t seed, batch, reap_ms, maxdel;
    bool reject;
};

static int parse_args(int argc, char **argv, struct sched_args *a)
{
    struct opt opts[] = {
        OPT_GROUP("Run:"),
        OPT_INCLUDE(run_options, &a->run, RUN_ID_REQUIRED),
        OPT_INCLUDE(redis_options, &a->redis, REDIS_WAIT),
        OPT_INCLUDE(run_options, &a->run, RUN_LOGS),
        OPT_STRING(0, "stage", &a->run.stage, "NAME", "accepted like the other commands; not "
                   "used here"),
        OPT_GROUP("Policy (one of three forms; default: first fit, the smallest node id):"),
        OPT_INCLUDE(policy_options, &a->policy, POLICY_NAME),
        OPT_INT(0, "seed", &a->seed, "N", INT64_MIN, INT64_MAX,
                "seed of the subset picks (default 0)"),
        OPT_GROUP("Loop:"),
        OPT_INT(0, "batch", &a->batch, "N", 1, 1024, "placements per Redis round trip "
                "(default 64)"),
        OPT_INT(0, "reap-interval", &a->reap_ms, "MS", 10, 600000,
                "look for dead workers every MS ms while a liveness or lease deadline is "
                "near, else when the earliest is due, at least once a second (default 200)"),
        OPT_INT(0, "max-deliveries", &a->maxdel, "N", 1, 1000,
                "a task whose worker died N times goes to the dead-letter list (default 3)"),
        OPT_FLAG(0, "reject-unplaceable", &a->reject,
                 "reject (ledger status \"rejected\") a task bigger than every registered "
                 "node or than its pinned node, instead of letting it block the queue"),
        OPT_GROUP("The original's options, accepted and ignored with a warning:"),
        OPT_CALLBACK(0, "pending", NULL, "KEY", "the queue is tk:RUN_ID:q:pending (choose it "
                     "with --run-id)", ignored),
        OPT_CALLBACK(0, "slots", NULL, "KEY", "there is no slots list: each worker's "
                     "--parallel is enforced by the placement script (B9, B10)", ignored),
        OPT_CALLBACK(0, "scan-slots", NULL, "N", "likewise", ignored),
        OPT_CALLBACK(0, "scan-pending", NULL, "N", "placement is strict FIFO (the original "
                     "ignored it too)", ignored),
        OPT_GROUP(""),
        OPT_INCLUDE(verbosity_options, NULL, VERBOSE_DEBUG | VERBOSE_QUIET),
        OPT_END(),
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    return n < 0 ? opt_exit_code(n) : -1;
}

int cmd_scheduler(int argc, char **argv)
{
    struct sched_args a = {.batch = 64, .reap_ms = 200, .maxdel = 3,
                           .redis.connect_timeout_ms = REDIS_OPTS_WAIT_MS};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    struct policy pol;
    char err[512];
    if (policy_from_opts(&a.policy, &pol, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    if (!a.run.node_id)
        a.run.node_id = "scheduler";
    struct run_ctx ctx;
    if (run_opts_resolve(&a.run, RUNID_REQUIRED, &ctx) < 0)
        return TK_EXIT_USAGE;
    struct redis_url u;
    if (redis_opts_load(&a.redis, &u) < 0) {
        run_ctx_free(&ctx);
        return TK_EXIT_USAGE;
    }
    struct scheduler_conf c = {.run = &ctx, .redis = &u, .policy = &pol, .seed = a.seed,
                               .batch = (size_t)a.batch, .reap_ms = (int)a.reap_ms,
                               .max_deliveries = (int)a.maxdel, .reject_unplaceable = a.reject,
                               .connect_wait_ms = a.redis.connect_timeout_ms};
    legacy_keys_check(&u, 1000);   /* the original's bare keys: said once */
    rc = scheduler_run(&c, NULL);
    redisurl_free(&u);
    run_ctx_free(&ctx);
    return rc;
}
