/* options.h -- the option groups several commands share, as option tables
 * (common/opt.h) that a command includes with the bits it takes:
 *
 *     struct run_opts run = {0};
 *     struct opt opts[] = {
 *         OPT_GROUP("Run:"),
 *         OPT_INCLUDE(run_options, &run, RUN_ID_REQUIRED | RUN_LOGS | RUN_STAGE),
 *         OPT_INCLUDE(redis_options, &redis, 0),
 *         ...
 *
 * One declaration per option, so --run-id, --redis or --policy mean and
 * read the same in every command.  Used by src/cmd/ only. */
#ifndef TK_CMD_OPTIONS_H
#define TK_CMD_OPTIONS_H

#include "common/opt.h"
#include "common/redisurl.h"
#include "common/run.h"
#include "sched/policy.h"
#include "sched/wlbuild.h"
#include "task/runner.h"

/* ---- run: where the run's files live (common/run.h) ---- */

struct run_opts {
    const char *run_id, *node_id, *stage, *logs, *pid_dir;
};
enum {
    RUN_ID_NEW = 1 << 0,       /* --run-id; without one: a new id */
    RUN_ID_NEWEST = 1 << 1,    /* ...: the newest run folder */
    RUN_ID_REQUIRED = 1 << 2,  /* ...: an error */
    RUN_NODE = 1 << 3,         /* --node-id */
    RUN_STAGE = 1 << 4,        /* --stage */
    RUN_LOGS = 1 << 5,         /* --logs */
    RUN_PID_DIR = 1 << 6,      /* --pid-dir */
};
extern const struct opt run_options[];
/* run_ctx_resolve with these options (fb as the RUN_ID_* bit included).
 * 0, or -1 after a cli_error. */
int run_opts_resolve(const struct run_opts *o, enum run_id_fallback fb, struct run_ctx *ctx);
/* --pid-dir, else $PROC_PID_DIR when set and not empty, else NULL (the
 * run's pids/ folder). */
const char *run_opts_pid_dir(const struct run_opts *o);

/* ---- Redis: --redis URL and --redis-password-file F ---- */

struct redis_opts {
    const char *url, *password_file;
    int64_t connect_timeout_ms;  /* REDIS_WAIT: --connect-timeout (REDIS_OPTS_WAIT_MS) */
};
/* The bit of --connect-timeout, for the services (worker, scheduler) that
 * wait for Redis at start instead of failing at once. */
enum { REDIS_WAIT = 1 << 0 };
#define REDIS_OPTS_WAIT_MS 300000
extern const struct opt redis_options[];
/* redisurl_load with these options.  0, or -1 after a cli_error.  Then,
 * either way: the URL's password in argv is overwritten with '*' (o->url
 * must point into argv), TRACEKIT_REDIS_URL and REDISCLI_AUTH leave the
 * environment and their text is zeroed, and the process is made
 * non-dumpable (prctl PR_SET_DUMPABLE 0). */
int redis_opts_load(const struct redis_opts *o, struct redis_url *u);

/* ---- policy: the central scheduler's (sched/policy.h) ---- */

enum { POLICY_NAME = 1 << 0 };  /* --policy NAME (local reads --policy itself) */
extern const struct opt policy_options[];

/* ---- task runner: how a worker slot runs a task (task/runner.h) ---- */

struct runner_opts {
    enum cpu_binding binding;  /* --cpu-binding */
    int64_t cpuweight;         /* --cpuweight-per-vcpu */
    const char *ffmpeg;        /* --ffmpeg */
    const char *task_output;   /* --task-output DIR|inherit|null */
    double orphan_wait;        /* --orphan-wait SEC; < 0: exec's default */
};
#define RUNNER_OPTS_INIT {.binding = BIND_EXCLUSIVE, .cpuweight = 100, .orphan_wait = -1}
extern const struct opt runner_options[];
/* Put the options into rc, and say where task output goes: *out, and for
 * RUNNER_OUT_FILE the folder *out_dir (malloc'd; default RUN_DIR/task-output). */
void runner_opts_apply(const struct runner_opts *o, const char *run_dir, struct runner_conf *rc,
                       enum runner_out *out, char **out_dir);

/* OPT_CALLBACK for an option naming the user to run tasks as (exec --user,
 * worker --task-user): a user of this system, and we are root.  Stores
 * arg (const char *) into value. */
int runner_opts_set_user(const struct opt *o, const char *arg, void *value);

/* ---- verbosity: -q/--quiet and -v/--verbose set the log level ---- */

enum { VERBOSE_QUIET = 1 << 0, VERBOSE_DEBUG = 1 << 1 };
extern const struct opt verbosity_options[];
/* True once -q/--quiet was given (for progress lines and summaries). */
bool verbosity_quiet(void);

/* ---- workload: the dispatcher's tasks and pacing (sched/wlbuild.h), taken
 * by dispatch and local.  Include it once per help section with the bits of
 * that section; --nodes and --policy differ between the two commands. ---- */

enum {
    WORKLOAD_FFMPEG = 1 << 0,       /* --inputs --outputs --scale --preset --crf --ffprobe
                                     * --mix --total --seed */
    WORKLOAD_GENERIC = 1 << 1,      /* --command --tasks --cpu-units --mem-mb --app */
    WORKLOAD_PACING = 1 << 2,       /* --pending --pending-mode --pulse-* --pending-max
                                     * --batch-size --dribble-interval --drip --backlog-limit */
    WORKLOAD_NODES = 1 << 3,        /* --nodes of dispatch: cloud0,cloud1,cloud2 by default */
    WORKLOAD_POLICY = 1 << 4,       /* --policy of dispatch: rr3 or a duration policy */
    WORKLOAD_LOCAL_NODES = 1 << 5,  /* --nodes of local: this machine by default */
    WORKLOAD_LOCAL_POLICY = 1 << 6, /* --policy of local: also an OpenDC policy (the caller
                                     * moves such a name to policy_opts) */
    WORKLOAD_APPEND = 1 << 7,       /* --append: add to a run that has tasks already */
};
extern const struct opt workload_options[];
/* wlbuild_check.  0, or -1 after a cli_error. */
int workload_opts_check(struct wlbuild_opts *o);
/* The task list and its pacing (wlbuild_tasks, wlbuild_pace).  0, or the
 * exit code after an error message (TK_EXIT_USAGE or TK_EXIT_FAIL). */
int workload_opts_build(const struct wlbuild_opts *o, struct workload *w, struct pace_cfg *pc);

#endif
