/* worker.c -- `tracekit worker`: its options and their checks; the engine
 * that takes and runs the tasks placed on this node is sched/worker.c. */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"
#include "sched/legacy.h"
#include "sched/worker.h"

#include <stdlib.h>
#include <string.h>

static const char *const usage[] = {"tracekit worker --run-id ID [OPTIONS]", NULL};
static const struct opt_cmd cmd = {
    .name = "worker",
    .usage = usage,
    .description =
        "Run the tasks the scheduler places on this node: take each from Redis only when\n"
        "an executor slot is free, run it as 'tracekit exec' (same event records, PID\n"
        "sentinels and CPU binding), complete it at once, heartbeat while tasks run.\n"
        "SIGTERM/SIGINT: take nothing more, let running tasks finish (up to --grace),\n"
        "hand queued tasks back and return the node's capacity, exit 0; a second signal\n"
        "stops the running tasks too (their tasks go back to the queue).  Redis not\n"
        "reachable at start: retried with back-off for --connect-timeout.  One info line\n"
        "per finished task (at most one a second); a failed one with the end of its output.\n",
    .epilogue =
        "Writes logs/RUN_ID/clock.jsonl: the offset to the Redis server clock at start and\n"
        "every 60 s.  Children never see TRACEKIT_REDIS_URL or REDISCLI_AUTH: both leave\n"
        "the environment once read, the URL's password is masked in the worker's argv,\n"
        "and the worker is not dumpable, so a task of the same user cannot read its\n"
        "/proc/PID/environ or memory.  A task of the same user can still read the\n"
        "--redis-password-file: give --task-user to run tasks as another user.\n",
};

struct worker_args {
    struct run_opts run;
    struct redis_opts redis;
    struct runner_opts runner;
    const char *outputs, *task_user;
    char **allow_argv;  /* NULL-terminated, malloc'd; NULL: any program */
    int64_t parallel, capacity, mem_mb, maxdel, ttl_ms, lease_ms, grace_ms;
    double ratio;
    bool reset, clear;
};

static int set_ratio(const struct opt *o, const char *arg, void *value)
{
    (void)o;
    if (parse_double(arg, 0, 1000, value) && *(double *)value > 0)
        return 0;
    cli_error("invalid --allocation-ratio '%s': expected a number above 0 (like 1.25)", arg);
    return -1;
}

/* --ttl, --lease: seconds as OPT_SECONDS reads them, from 0.2 */
static int set_liveness(const struct opt *o, const char *arg, void *value)
{
    char name[32];
    snprintf(name, sizeof name, "--%s", o->long_name);
    if (!cli_seconds(name, arg, value))
        return -1;
    if (*(int64_t *)value >= 200)
        return 0;
    cli_error("invalid %s '%s': expected seconds from 0.2 to 604800", name, arg);
    return -1;
}

/* --allow-argv PROGRAM,...: names or paths, none empty. */
static int set_allow(const struct opt *o, const char *arg, void *value)
{
    (void)o;
    char ***list = value;
    size_t n = 0;
    char **v = NULL;
    for (const char *p = arg;; p++) {
        size_t len = strcspn(p, ",");
        if (len == 0) {
            cli_error("invalid --allow-argv '%s': expected programs (names or paths) separated "
                      "by commas, none empty", arg);
            argv_free(v);
            return -1;
        }
        v = xrealloc(v, (n + 2) * sizeof *v);
        v[n++] = xasprintf("%.*s", (int)len, p);
        v[n] = NULL;
        p += len;
        if (!*p)
            break;
    }
    argv_free(*list); /* given twice: the last one counts */
    *list = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct worker_args *a)
{
    struct opt opts[] = {
        OPT_GROUP("Redis:"),
        OPT_INCLUDE(redis_options, &a->redis, REDIS_WAIT),
        OPT_GROUP("Run:"),
        OPT_INCLUDE(run_options, &a->run,
                    RUN_ID_REQUIRED | RUN_NODE | RUN_STAGE | RUN_LOGS | RUN_PID_DIR),
        OPT_GROUP("Capacity (the original's flags):"),
        OPT_INT(0, "parallel", &a->parallel, "N", 0, 100000,
                "at most N tasks committed to this node (queued or running) and N executor "
                "slots (default 0: no limit beyond capacity; slots = capacity units)"),
        OPT_INT(0, "capacity-units", &a->capacity, "N", 0, 1000000,
                "capacity units (default 0: computed)"),
        OPT_CALLBACK(0, "allocation-ratio", &a->ratio, "R",
                     "capacity = max(1, trunc(R x CPUs this process may use)) (default 1.0)",
                     set_ratio),
        OPT_INT(0, "mem-mb", &a->mem_mb, "N", 0, INT64_C(1) << 40,
                "memory to account, MiB (default 0: not accounted)"),
        OPT_FLAG(0, "reset-capacity", &a->reset,
                 "accepted for compatibility: capacity is always recomputed from the tasks "
                 "committed to the node when the worker registers"),
        OPT_FLAG(0, "clear-queue", &a->clear,
                 "hand tasks already queued for this node back to q:pending at start (nothing "
                 "is deleted)"),
        OPT_GROUP("Tasks:"),
        OPT_INCLUDE(runner_options, &a->runner, 0),
        OPT_STRING(0, "outputs", &a->outputs, "DIR",
                   "write an ffmpeg task's output as DIR/<its base name> (default: the task's "
                   "own output path)"),
        OPT_CALLBACK(0, "allow-argv", &a->allow_argv, "PROGRAM,...",
                     "run a generic (argv) task only when its argv[0] is one of these names or "
                     "paths (or the same file found in $PATH); refuse the others as failed "
                     "(rc 127) without running them (default: any program)", set_allow),
        OPT_CALLBACK(0, "task-user", &a->task_user, "USER",
                     "run every task's command as USER (the worker must be root); its output "
                     "file is opened by the worker (default: as the worker's user)",
                     runner_opts_set_user),
        OPT_GROUP("Liveness:"),
        OPT_CALLBACK(0, "ttl", &a->ttl_ms, "SEC",
                     "reaped this long after the last heartbeat (from 0.2; default 3; "
                     "heartbeats every TTL/4)", set_liveness),
        OPT_CALLBACK(0, "lease", &a->lease_ms, "SEC",
                     "a running task's lease, renewed by heartbeats (from 0.2, at least TTL; "
                     "default 3 x TTL)", set_liveness),
        OPT_INT(0, "max-deliveries", &a->maxdel, "N", 1, 1000,
                "dead-letter a task after N deliveries, when this worker reaps a dead "
                "predecessor (default 3)"),
        OPT_SECONDS(0, "grace", &a->grace_ms, "SEC",
                    "on SIGTERM, wait at most SEC for running tasks (default: until they "
                    "finish)"),
        OPT_GROUP(""),
        OPT_INCLUDE(verbosity_options, NULL, VERBOSE_DEBUG | VERBOSE_QUIET),
        OPT_END(),
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    return n < 0 ? opt_exit_code(n) : -1;
}

int cmd_worker(int argc, char **argv)
{
    struct worker_args a = {.runner = RUNNER_OPTS_INIT, .maxdel = 3, .ttl_ms = 3000,
                            .lease_ms = -1, .grace_ms = -1, .ratio = 1.0,
                            .redis.connect_timeout_ms = REDIS_OPTS_WAIT_MS};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        argv_free(a.allow_argv);
        return rc;
    }
    if (a.lease_ms < 0)
        a.lease_ms = 3 * a.ttl_ms;
    if (a.lease_ms < a.ttl_ms) {
        cli_error("--lease %g is shorter than --ttl %g: a running task would be requeued "
                  "between two heartbeats", a.lease_ms / 1000.0, a.ttl_ms / 1000.0);
        argv_free(a.allow_argv);
        return TK_EXIT_USAGE;
    }
    struct run_ctx ctx;
    if (run_opts_resolve(&a.run, RUNID_REQUIRED, &ctx) < 0) {
        argv_free(a.allow_argv);
        return TK_EXIT_USAGE;
    }
    struct redis_url u;
    if (!run_id_valid(ctx.node_id)) {
        cli_error("invalid node id '%s': expected " RUN_ID_RULE, ctx.node_id);
        rc = TK_EXIT_USAGE;
    } else if (redis_opts_load(&a.redis, &u) < 0) {
        rc = TK_EXIT_USAGE;
    } else {
        struct worker_conf c = {
            .run = &ctx, .redis = &u, .parallel = a.parallel, .capacity_units = a.capacity,
            .ratio = a.ratio, .mem_mb = a.mem_mb, .clear_queue = a.clear,
            .ttl_ms = (int)a.ttl_ms, .lease_ms = (int)a.lease_ms,
            .max_deliveries = (int)a.maxdel, .grace_ms = a.grace_ms,
            .connect_wait_ms = a.redis.connect_timeout_ms,
        };
        char *out_dir;
        runner_opts_apply(&a.runner, ctx.run_dir, &c.runner, &c.out, &out_dir);
        c.runner.pid_dir = a.run.pid_dir;
        c.runner.outputs = a.outputs;
        c.runner.allow_argv = a.allow_argv;
        c.runner.task_user = a.task_user;
        c.out_dir = out_dir;
        legacy_keys_check(&u, 1000);   /* the original's bare keys: said once */
        rc = worker_run(&c, NULL);
        free(out_dir);
        redisurl_free(&u);
    }
    run_ctx_free(&ctx);
    argv_free(a.allow_argv);
    return rc;
}
