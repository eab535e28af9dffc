/* local.c -- `tracekit local`: a whole experiment on one machine with
 * no Redis server: the dispatcher's task list and pacing (workload.c), the
 * central scheduler's placement (embed.c, same policies), worker slots that
 * run each task through `tracekit exec` (runner.c), and the collector.
 * Writes the same files as the Redis flow. */
#include "cmd/commands.h"
#include "common/uuid.h"
#include "task/cpubind.h"
#include "sched/embed.h"
#include "common/jsonl.h"
#include "task/launch.h"
#include "common/log.h"
#include "sched/policy.h"
#include "common/progress.h"
#include "common/run.h"
#include "task/runner.h"
#include "task/task.h"
#include "common/util.h"
#include "sched/wlbuild.h"
#include "sched/pacer.h"
#include "sched/workload.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit local [OPTIONS] (--inputs DIR --outputs DIR [--mix SPEC --total N]\n"
            "                      | --command 'ARGV...' [--total N] | --tasks FILE)\n"
            "\n"
            "Run a whole experiment on this machine without a Redis server: the dispatcher's\n"
            "tasks, the central scheduler's placement (same policies as 'tracekit scheduler')\n"
            "and worker slots that run every task through 'tracekit exec' (CPU binding,\n"
            "records), with the collector sampling them.  Writes the same files as the Redis\n"
            "flow into LOGS/RUN_ID/: events.APP.jsonl, submitted.jsonl, placements.jsonl,\n"
            "ledger.jsonl, and the collector's files.  Exits 0 when every task succeeded,\n"
            "1 otherwise.  SIGINT/SIGTERM: stop starting tasks, let running ones finish\n"
            "(a second one terminates them).\n"
            "\n"
            "Run:\n"
            "  --run-id ID            (default: $RUN_ID, run_id.env, else a new id)\n"
            "  --logs DIR             logs folder (default: logs)\n"
            "  --stage NAME           (default: $STAGE, else cloud)\n"
            "  --pid-dir DIR          sentinel folder (default: logs/RUN_ID/pids)\n"
            "Tasks (as 'tracekit dispatch'):\n"
            "  --inputs DIR           *.mp4 files for ffmpeg tasks\n"
            "  --outputs DIR          output folder prefix of ffmpeg tasks\n"
            "  --mix SPEC             profile mix name=weight,... (see 'tracekit dispatch')\n"
            "  --total N              tasks of the mix or copies of --command (0: one per file)\n"
            "  --seed N               shuffle and subset picks (default 0, reproducible)\n"
            "  --scale W:H            without --mix (default 1280:720)\n"
            "  --preset NAME          without --mix (default veryfast)\n"
            "  --crf N                without --mix (default 28)\n"
            "  --command 'ARGV...'    a generic task, split like a shell does (no expansions)\n"
            "  --tasks FILE           JSONL tasks: {\"argv\": [...], \"cpu_units\": N, ...}\n"
            "  --cpu-units N          units of --command tasks / default of --tasks (default 1)\n"
            "  --mem-mb N             memory each task needs, MiB (default 0)\n"
            "  --app NAME             app name of --command tasks (events.NAME.jsonl)\n"
            "  --policy P             rr3, duration-greedy, duration-online (the dispatcher's, pins\n"
            "                         tasks to nodes without --pending), or one of OpenDC's named\n"
            "                         scheduler policies (see 'tracekit scheduler --help')\n"
            "  --pending              every task goes through the central scheduler (no pins)\n"
            "  --pending-mode M       pulse or fifo (with --pending; default: all at once)\n"
            "  --pulse-size N         pacing, as 'tracekit dispatch' (default 10)\n"
            "  --pulse-spacing SEC    (default 1)\n"
            "  --pulse-interval SEC   (default 300)\n"
            "  --pending-max N        (default 6)\n"
            "  --batch-size N         (default 1)\n"
            "  --dribble-interval SEC (default 1)\n"
            "  --drip                 pinned tasks in batches, a node's only while its backlog\n"
            "                         is below --backlog-limit\n"
            "  --backlog-limit N      (default 1)\n"
            "  --ffprobe PATH         for duration policies (default: ffprobe)\n"
            "Scheduler (as 'tracekit scheduler'):\n"
            "  --weigher W            '' (first fit), instances or vcpu\n"
            "  --weigher-order O      min or max (default min)\n"
            "  --filters LIST         OpenDC filters, e.g. compute,vcpu:1.5,ram\n"
            "  --weighers LIST        OpenDC weighers, e.g. ram:-1,instanceCount:0.5\n"
            "  --subset-size N        pick among the N best hosts (default 1)\n"
            "  --cpu-allocation-ratio R  overcommit of the vcpu filter and weigher\n"
            "  --ram-allocation-ratio R  overcommit of the ram filter\n"
            "  --reject-unplaceable   reject (ledger status rejected) a task bigger than every\n"
            "                         node and go on (default: stop with an error)\n"
            "Worker slots (as 'tracekit worker'):\n"
            "  --nodes LIST           the nodes, NAME,NAME,... (default: one node named $NODE_ID\n"
            "                         or the host name); tasks pinned to nodes (no --pending)\n"
            "                         use the same names\n"
            "  --capacity-units N     units of each node (default: logical CPUs x\n"
            "                         --allocation-ratio, divided among the nodes)\n"
            "  --node-mem-mb N        memory of each node to account, MiB (default 0: not)\n"
            "  --allocation-ratio R   (default 1)\n"
            "  --parallel N           most tasks at once per node (default: no limit but units)\n"
            "  --cpu-binding MODE     exclusive (default), shared or none\n"
            "  --cpuweight-per-vcpu N shared binding: cgroup weight per unit (default 100)\n"
            "  --ffmpeg PATH          (default: ffmpeg)\n"
            "  --task-output WHERE    DIR, inherit or null (default LOGS/RUN_ID/task-output)\n"
            "  --orphan-wait SEC      as 'tracekit exec' (default 10)\n"
            "Collector:\n"
            "  --no-collect           do not run the collector\n"
            "  --interval-ms MS       process sampling period (default 200)\n"
            "  --host-interval-ms MS  host sampling period (default 1000)\n"
            "  --realtime             sample with SCHED_FIFO priority\n"
            "\n"
            "  --json                 print the final summary as one JSON object on stdout\n"
            "  -q, --quiet            only warnings and errors\n"
            "  -v, --verbose          debug messages (one line per placement)\n"
            "  -h, --help             this text\n");
}

enum {
    OPT_RUN_ID = 256, OPT_LOGS, OPT_STAGE, OPT_PID_DIR, OPT_WEIGHER, OPT_ORDER, OPT_FILTERS,
    OPT_WEIGHERS, OPT_SUBSET, OPT_CPU_RATIO, OPT_RAM_RATIO, OPT_REJECT, OPT_CAPACITY,
    OPT_NODE_MEM, OPT_RATIO, OPT_PARALLEL, OPT_BINDING, OPT_CPUWEIGHT, OPT_FFMPEG,
    OPT_TASK_OUTPUT, OPT_ORPHAN_WAIT, OPT_NO_COLLECT, OPT_INTERVAL, OPT_HOST_INTERVAL,
    OPT_REALTIME, OPT_JSON,
};

/* One local run. */
struct local {
    struct embed e;
    struct workload w;
    struct pacer p;
    struct runner_conf rc;
    enum runner_out out;
    const char *out_dir;
    struct {
        pid_t pid;             /* the exec child */
        size_t task;           /* its task index */
    } *run;                    /* the running tasks (at most one per task) */
    int *wnode;                /* workload node index -> embed node index */
    int64_t *backlog;          /* per workload node */
    size_t *idx;
    int *pnode;
    int64_t prev_ts;
    size_t running, released;
    struct jsonl_writer sub, plc, led;
    struct jbuf line;
    char scheduler[300];
    bool reject;
    int stopping;              /* signals seen */
    struct progress *prog;
    int64_t t0;
    bool failed_io;
};

static int open_w(struct jsonl_writer *w, const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    int r = jsonl_open(w, p, 200);
    if (r < 0)
        log_error("cannot open %s: %s", p, strerror(errno));
    free(p);
    return r;
}

/* Release what the pacer lets go now into the embedded queue. */
static int release(struct local *l, int64_t now)
{
    if (pacer_done(&l->p) || now < l->p.next_ms)
        return 0;
    int64_t eb[l->e.nnodes ? l->e.nnodes : 1];
    embed_backlog(&l->e, eb);
    for (size_t i = 0; i < l->w.nnodes; i++) {
        l->backlog[i] = l->wnode[i] >= 0 ? eb[l->wnode[i]] : 0;
        /* running tasks have started: not backlog, like the Redis flow */
    }
    size_t k = pacer_next(&l->p, now, (int64_t)l->e.qlen, l->backlog, l->idx, l->pnode);
    char err[512];
    for (size_t j = 0; j < k; j++) {
        const struct workload_task *t = &l->w.t[l->idx[j]];
        int nd = l->pnode[j];
        char *pinned = nd >= 0 && t->node < 0 ? workload_with_node(t->fields, l->w.nodes[nd]) : NULL;
        char trace[37];
        if (uuid_new(trace) < 0) {
            log_error("cannot make a trace id: %s", strerror(errno));
            free(pinned);
            return -1;
        }
        char *ef = workload_enqueue_fields(pinned ? pinned : t->fields, trace,
                                     workload_stamp(&l->prev_ts, now_wall_ms()));
        free(pinned);
        int64_t id = embed_enqueue(&l->e, ef, err, sizeof err);
        free(ef);
        if (id < 0) {
            log_error("%s", err);
            return -1;
        }
        jb_reset(&l->line);
        jb_append(&l->line, l->e.tasks[id - 1].body, strlen(l->e.tasks[id - 1].body));
        jsonl_add(&l->sub, &l->line);
        l->released++;
    }
    if (k && jsonl_flush(&l->sub) < 0)
        l->failed_io = true;
    return 0;
}

static void finish(struct local *l, size_t ti, int rc)
{
    embed_finish(&l->e, ti, rc, now_wall_ms(), &l->line);
    jsonl_add(&l->led, &l->line);
    if (jsonl_flush(&l->led) < 0)
        l->failed_io = true;
    for (size_t i = 0; i < l->running; i++)
        if (l->run[i].task == ti) {
            l->run[i] = l->run[--l->running];
            break;
        }
    const struct emb_task *t = &l->e.tasks[ti];
    if (rc != 0)
        log_info("task %lld on %s: failed, rc %d", (long long)t->id, l->e.nodes[t->node].id, rc);
    else
        log_debug("task %lld on %s: done", (long long)t->id, l->e.nodes[t->node].id);
}

/* Place and start tasks while the head fits.  -1: a task can never run. */
static int place(struct local *l)
{
    char err[1024];
    for (;;) {
        size_t ti;
        enum emb_place r = embed_place(&l->e, now_wall_ms(), &ti);
        if (r == EMB_EMPTY || r == EMB_BLOCKED)
            return 0;
        const struct emb_task *t = &l->e.tasks[ti];
        if (r == EMB_NEVER) {
            char why[400];
            if (t->pin_name && t->pin < 0)
                snprintf(why, sizeof why, "pinned to node '%s', which is not one of --nodes",
                         t->pin_name);
            else
                snprintf(why, sizeof why,
                         "needs %lld unit(s) and %lld MiB, more than any node can give%s",
                         (long long)t->cpu_units, (long long)t->mem_mb,
                         t->pin >= 0 ? " (its pinned node)" : "");
            if (!l->reject) {
                log_error("task %lld %s (--reject-unplaceable skips such tasks)",
                          (long long)t->id, why);
                return -1;
            }
            log_warn("task %lld rejected: %s", (long long)t->id, why);
            embed_reject(&l->e, why, now_wall_ms(), &l->line);
            jsonl_add(&l->led, &l->line);
            continue;
        }
        embed_placement_json(&l->e, ti, l->scheduler, &l->line);
        jsonl_add(&l->plc, &l->line);
        log_debug("dispatch -> node=%s task=%lld cpu_units=%lld cap_left=%lld",
                  l->e.nodes[t->node].id, (long long)t->id, (long long)t->cpu_units,
                  (long long)l->e.nodes[t->node].units_free);
        /* the worker slot: the task runs as soon as it is placed (a node's
         * slots are its units, or --parallel, which placement already
         * respects) */
        l->rc.node = l->e.nodes[t->node].id;
        char *body = embed_body(&l->e, ti);
        struct runner_task rt;
        pid_t pid = -1;
        if (runner_build(&l->rc, body, &rt, err, sizeof err) == 0) {
            pid = runner_spawn(&rt, l->out, l->out_dir, err, sizeof err);
            runner_task_free(&rt);
        }
        free(body);
        embed_started(&l->e, ti, now_wall_ms());
        l->run[l->running].pid = pid;
        l->run[l->running++].task = ti;
        if (pid < 0) {
            log_error("%s; task %lld failed (rc %d)", err, (long long)t->id, RUNNER_RC_BAD);
            finish(l, ti, RUNNER_RC_BAD);
        }
    }
}

static void reap(struct local *l)
{
    pid_t pid;
    int rc;
    while (runner_reap(false, &pid, &rc) == 1)
        for (size_t i = 0; i < l->running; i++)
            if (l->run[i].pid == pid) {
                finish(l, l->run[i].task, rc);
                break;
            }
}

static void signal_children(struct local *l, int sig)
{
    for (size_t i = 0; i < l->running; i++)
        kill(-l->run[i].pid, sig); /* runner_spawn gives each its own process group */
}

/* Start the collector with `tracekit collect start`, which returns once the
 * background sampler watches the sentinel folder, so no task can start
 * unseen; `collect stop` ends it (the sampler is not our child). */
static int start_collector(const struct run_ctx *ctx, const char *pid_dir, int64_t interval,
                             int64_t host_interval, bool realtime)
{
    char iv[32], hv[32];
    snprintf(iv, sizeof iv, "%lld", (long long)interval);
    snprintf(hv, sizeof hv, "%lld", (long long)host_interval);
    char *argv[20];
    int n = 0;
    argv[n++] = "tracekit";
    argv[n++] = "collect";
    argv[n++] = "start";
    argv[n++] = "--run-id";
    argv[n++] = ctx->run_id;
    argv[n++] = "--node-id";
    argv[n++] = ctx->node_id;
    argv[n++] = "--stage";
    argv[n++] = ctx->stage;
    argv[n++] = "--logs";
    argv[n++] = ctx->logs;
    argv[n++] = "--interval-ms";
    argv[n++] = iv;
    argv[n++] = "--host-interval-ms";
    argv[n++] = hv;
    if (pid_dir) {
        argv[n++] = "--pid-dir";
        argv[n++] = (char *)pid_dir;
    }
    if (realtime)
        argv[n++] = "--realtime";
    argv[n] = NULL;
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return -1;
    self[len] = '\0';
    argv[0] = self;
    char *out = NULL; /* its "started" lines: stdout is for --json */
    int st = launch_command(argv, &out, 0);
    if (out && *out)
        log_debug("collector: %s", str_trim(out));
    free(out);
    return st == 0 ? 0 : -1;
}

static int stop_collector(const struct run_ctx *ctx)
{
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return -1;
    self[len] = '\0';
    char *argv[] = {self, "collect", "stop", "--run-id", ctx->run_id, "--logs", ctx->logs, NULL};
    char *out = NULL;
    int st = launch_command(argv, &out, 0);
    if (out && *out)
        log_info("%s", str_trim(out));
    free(out);
    return st == 0 ? 0 : -1;
}

int cmd_local(int argc, char **argv)
{
    static const struct option own[] = {
        {"run-id", required_argument, NULL, OPT_RUN_ID},
        {"logs", required_argument, NULL, OPT_LOGS},
        {"stage", required_argument, NULL, OPT_STAGE},
        {"pid-dir", required_argument, NULL, OPT_PID_DIR},
        {"weigher", required_argument, NULL, OPT_WEIGHER},
        {"weigher-order", required_argument, NULL, OPT_ORDER},
        {"filters", required_argument, NULL, OPT_FILTERS},
        {"weighers", required_argument, NULL, OPT_WEIGHERS},
        {"subset-size", required_argument, NULL, OPT_SUBSET},
        {"cpu-allocation-ratio", required_argument, NULL, OPT_CPU_RATIO},
        {"ram-allocation-ratio", required_argument, NULL, OPT_RAM_RATIO},
        {"reject-unplaceable", no_argument, NULL, OPT_REJECT},
        {"capacity-units", required_argument, NULL, OPT_CAPACITY},
        {"node-mem-mb", required_argument, NULL, OPT_NODE_MEM},
        {"allocation-ratio", required_argument, NULL, OPT_RATIO},
        {"parallel", required_argument, NULL, OPT_PARALLEL},
        {"cpu-binding", required_argument, NULL, OPT_BINDING},
        {"cpuweight-per-vcpu", required_argument, NULL, OPT_CPUWEIGHT},
        {"ffmpeg", required_argument, NULL, OPT_FFMPEG},
        {"task-output", required_argument, NULL, OPT_TASK_OUTPUT},
        {"orphan-wait", required_argument, NULL, OPT_ORPHAN_WAIT},
        {"no-collect", no_argument, NULL, OPT_NO_COLLECT},
        {"interval-ms", required_argument, NULL, OPT_INTERVAL},
        {"host-interval-ms", required_argument, NULL, OPT_HOST_INTERVAL},
        {"realtime", no_argument, NULL, OPT_REALTIME},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct option longopts[WLO_COUNT + sizeof own / sizeof own[0]];
    memcpy(longopts, wlopts_longopts, WLO_COUNT * sizeof *longopts);
    memcpy(longopts + WLO_COUNT, own, sizeof own);

    struct wlopts o;
    wlopts_init(&o);
    o.nodes_s = NULL; /* default: this machine */
    struct policy_opts po = {0};
    const char *run_id = NULL, *logs = NULL, *stage = NULL, *pid_dir = NULL;
    const char *task_output = NULL, *binding_s = "exclusive", *sched_policy = NULL;
    int64_t capacity = 0, node_mem = 0, parallel = 0, cpuweight = 100;
    int64_t interval = 200, host_interval = 1000;
    double ratio = 1.0, orphan_wait = 10;
    bool reject = false, collect = true, realtime = false, json = false, quiet = false;
    struct local l;
    memset(&l, 0, sizeof l);
    l.rc.ffmpeg = "ffmpeg";

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
        if (c == WLO_POLICY) {
            enum workload_policy wp;
            if (!workload_policy_parse(optarg, &wp)) {
                sched_policy = optarg; /* not the dispatcher's: OpenDC's, by name */
                continue;
            }
        }
        if (c >= WLO_FIRST && c < WLO_END) {
            if (wlopts_set(&o, c, optarg) < 0)
                return TK_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case OPT_RUN_ID: run_id = optarg; break;
        case OPT_LOGS: logs = optarg; break;
        case OPT_STAGE: stage = optarg; break;
        case OPT_PID_DIR: pid_dir = optarg; break;
        case OPT_WEIGHER: po.weigher = optarg; break;
        case OPT_ORDER: po.order = optarg; break;
        case OPT_FILTERS: po.filters = optarg; break;
        case OPT_WEIGHERS: po.weighers = optarg; break;
        case OPT_SUBSET:
            if (!cli_int("--subset-size", optarg, 1, 1000000, &po.subset))
                return TK_EXIT_USAGE;
            break;
        case OPT_CPU_RATIO:
            if (!cli_double("--cpu-allocation-ratio", optarg, 0.01, 1000, &po.cpu_ratio))
                return TK_EXIT_USAGE;
            break;
        case OPT_RAM_RATIO:
            if (!cli_double("--ram-allocation-ratio", optarg, 0.01, 1000, &po.ram_ratio))
                return TK_EXIT_USAGE;
            break;
        case OPT_REJECT: reject = true; break;
        case OPT_CAPACITY:
            if (!cli_int("--capacity-units", optarg, 1, 1000000, &capacity))
                return TK_EXIT_USAGE;
            break;
        case OPT_NODE_MEM:
            if (!cli_int("--node-mem-mb", optarg, 0, INT32_MAX, &node_mem))
                return TK_EXIT_USAGE;
            break;
        case OPT_RATIO:
            if (!cli_double("--allocation-ratio", optarg, 0.01, 1000, &ratio))
                return TK_EXIT_USAGE;
            break;
        case OPT_PARALLEL:
            if (!cli_int("--parallel", optarg, 0, 100000, &parallel))
                return TK_EXIT_USAGE;
            break;
        case OPT_BINDING: binding_s = optarg; break;
        case OPT_CPUWEIGHT:
            if (!cli_int("--cpuweight-per-vcpu", optarg, 1, 10000, &cpuweight))
                return TK_EXIT_USAGE;
            break;
        case OPT_FFMPEG: l.rc.ffmpeg = optarg; break;
        case OPT_TASK_OUTPUT: task_output = optarg; break;
        case OPT_ORPHAN_WAIT:
            if (!cli_double("--orphan-wait", optarg, 0, 86400, &orphan_wait))
                return TK_EXIT_USAGE;
            break;
        case OPT_NO_COLLECT: collect = false; break;
        case OPT_INTERVAL:
            if (!cli_int("--interval-ms", optarg, 10, 3600000, &interval))
                return TK_EXIT_USAGE;
            break;
        case OPT_HOST_INTERVAL:
            if (!cli_int("--host-interval-ms", optarg, 0, 3600000, &host_interval))
                return TK_EXIT_USAGE;
            break;
        case OPT_REALTIME: realtime = true; break;
        case OPT_JSON: json = true; break;
        case 'q': quiet = true; log_set_level(LOG_WARN); break;
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default:
            if (optopt)
                cli_error("option '%s' needs a value (see 'tracekit local --help')",
                          argv[optind - 1]);
            else
                cli_error("unknown option '%s' (see 'tracekit local --help')", argv[optind - 1]);
            return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (a command goes in --command 'ARGV...')",
                  argv[optind]);
        return TK_EXIT_USAGE;
    }
    if (!cpu_binding_parse(binding_s, &l.rc.binding)) {
        cli_error("invalid --cpu-binding '%s': expected exclusive, shared or none", binding_s);
        return TK_EXIT_USAGE;
    }
    if (task_output && strcmp(task_output, "inherit") && strcmp(task_output, "null") &&
        !*task_output) {
        cli_error("invalid --task-output '': expected DIR, inherit or null");
        return TK_EXIT_USAGE;
    }
    po.name = sched_policy;
    struct policy pol;
    char err[1024];
    if (policy_from_opts(&po, &pol, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    struct run_ctx ctx;
    if (run_ctx_resolve(&ctx, run_id, NULL, stage, logs, RUNID_NEW, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    if (!o.nodes_s)
        o.nodes_s = ctx.node_id;
    int rc = TK_EXIT_USAGE;
    bool collecting = false;
    if (wlopts_check(&o) < 0)
        goto out_early;
    rc = TK_EXIT_FAIL;

    /* the nodes: this machine's CPUs shared among them */
    int ncpu = runner_cpus();
    int64_t units = capacity > 0 ? capacity : (int64_t)floor(ratio * ncpu / (double)o.nnodes);
    if (units < 1)
        units = 1;
    int64_t cores = ncpu / (int64_t)o.nnodes > 0 ? ncpu / (int64_t)o.nnodes : 1;
    struct emb_node *nodes = xcalloc(o.nnodes, sizeof *nodes);
    for (size_t i = 0; i < o.nnodes; i++)
        nodes[i] = (struct emb_node){.id = o.nodes[i], .units_total = units,
                                     .mem_total = node_mem, .parallel = parallel,
                                     .cores = cores, .ratio = ratio};
    char pidtxt[32];
    snprintf(pidtxt, sizeof pidtxt, "%d", (int)getpid());
    int er = embed_init(&l.e, nodes, o.nnodes, &pol, o.seed, pidtxt, err, sizeof err);
    free(nodes);
    if (er < 0) {
        cli_error("invalid --nodes: %s", err);
        rc = TK_EXIT_USAGE;
        goto out_early;
    }
    snprintf(l.scheduler, sizeof l.scheduler, "%s:%d", ctx.node_id, (int)getpid());
    l.reject = reject;

    int br = wlopts_build(&o, &l.w);
    if (br < 0) {
        rc = br == -2 ? TK_EXIT_USAGE : TK_EXIT_FAIL;
        goto out;
    }
    l.wnode = xcalloc(l.w.nnodes ? l.w.nnodes : 1, sizeof *l.wnode);
    for (size_t i = 0; i < l.w.nnodes; i++)
        l.wnode[i] = embed_node(&l.e, l.w.nodes[i]);
    for (size_t i = 0; i < l.w.n; i++)
        if (l.w.t[i].node >= 0 && l.wnode[l.w.t[i].node] < 0) {
            cli_error("task %zu is pinned to node '%s', which is not one of --nodes (%s)", i + 1,
                      l.w.nodes[l.w.t[i].node], o.nodes_s);
            rc = TK_EXIT_USAGE;
            goto out;
        }
    if (l.w.n == 0) {
        log_warn("no task to run");
        rc = TK_EXIT_OK;
        goto out;
    }
    struct pace_cfg pc;
    wlopts_pace(&o, &pc);
    pacer_init(&l.p, &pc, &l.w);
    l.run = xcalloc(l.w.n, sizeof *l.run);
    l.backlog = xcalloc(l.w.nnodes ? l.w.nnodes : 1, sizeof *l.backlog);
    l.idx = xmalloc(l.w.n * sizeof *l.idx);
    l.pnode = xmalloc(l.w.n * sizeof *l.pnode);
    jb_init(&l.line);

    /* the worker side: every task through `tracekit exec` */
    l.rc.run_id = ctx.run_id;
    l.rc.stage = ctx.stage;
    l.rc.logs = ctx.logs;
    l.rc.pid_dir = pid_dir;
    l.rc.cpuweight_per_vcpu = (int)cpuweight;
    l.rc.orphan_wait_s = orphan_wait;
    l.rc.parent = getpid();
    char *out_dir = NULL;
    if (!task_output || (strcmp(task_output, "inherit") && strcmp(task_output, "null"))) {
        l.out = RUNNER_OUT_FILE;
        out_dir = task_output ? xstrdup(task_output) : path_join(ctx.run_dir, "task-output");
    } else {
        l.out = strcmp(task_output, "null") ? RUNNER_OUT_INHERIT : RUNNER_OUT_NULL;
    }
    l.out_dir = out_dir;
    if (mkdir_p(ctx.run_dir, 0755) < 0) {
        log_error("cannot create %s: %s", ctx.run_dir, strerror(errno));
        goto out_dir;
    }
    if (open_w(&l.sub, ctx.run_dir, "submitted.jsonl") < 0)
        goto out_dir;
    if (open_w(&l.plc, ctx.run_dir, "placements.jsonl") < 0) {
        jsonl_close(&l.sub);
        goto out_dir;
    }
    if (open_w(&l.led, ctx.run_dir, "ledger.jsonl") < 0) {
        jsonl_close(&l.sub);
        jsonl_close(&l.plc);
        goto out_dir;
    }
    if (ctx.run_id_source && !strcmp(ctx.run_id_source, "new"))
        log_info("no RUN_ID given: using new run id %s", ctx.run_id);
    if (collect) {
        if (start_collector(&ctx, pid_dir, interval, host_interval, realtime) < 0) {
            log_error("cannot start the collector (see %s/collector.log); --no-collect runs "
                      "without it", ctx.run_dir);
            goto out_files;
        }
        collecting = true;
    }
    char desc[300];
    policy_describe(&pol, desc, sizeof desc);
    log_info("local run %s: %zu task(s) on %zu node(s) of %lld unit(s); policy %s", ctx.run_id,
             l.w.n, l.e.nnodes, (long long)units, desc);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigset_t old;
    sigprocmask(SIG_BLOCK, &set, &old);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        sigprocmask(SIG_SETMASK, &old, NULL);
        goto out_collect;
    }
    l.prog = progress_begin("local", quiet);
    l.t0 = now_mono_ns();
    int64_t kill_at = 0;
    bool fatal = false;
    for (;;) {
        int64_t now = now_wall_ms();
        if (!l.stopping && release(&l, now) < 0) {
            fatal = true;
            l.stopping = 1;
        }
        if (!l.stopping && place(&l) < 0) {
            fatal = true;
            l.stopping = 1;
        }
        uint64_t fin = l.e.done + l.e.failed + l.e.rejected;
        double el = (now_mono_ns() - l.t0) / 1e9;
        double eta = fin > 0 ? el / (double)fin * (double)(l.w.n - fin) : 0;
        progress_update(l.prog, "%llu/%zu done, %llu failed, %zu running, %zu queued, %.0f s%s%.0f s",
                        (unsigned long long)l.e.done, l.w.n, (unsigned long long)l.e.failed,
                        l.running, l.e.qlen, el, fin > 0 ? ", ETA " : "", fin > 0 ? eta : 0.0);
        if (l.running == 0 && (l.stopping || (pacer_done(&l.p) && l.e.qlen == 0)))
            break;
        int timeout = 250;
        if (!l.stopping && !pacer_done(&l.p)) {
            int64_t wait = l.p.next_ms - now_wall_ms();
            if (wait < timeout)
                timeout = wait < 0 ? 0 : (int)wait;
        }
        if (kill_at) {
            int64_t wait = kill_at - now_wall_ms();
            if (wait <= 0) {
                signal_children(&l, SIGKILL);
                kill_at = 0;
            } else if (wait < timeout) {
                timeout = (int)wait;
            }
        }
        struct pollfd pfd = {sfd, POLLIN, 0};
        if (poll(&pfd, 1, timeout) < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            break;
        }
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo == SIGCHLD)
                continue;
            l.stopping++;
            if (l.stopping == 1) {
                log_warn("%s: starting no more tasks; waiting for %zu running (again to stop "
                         "them)", strsignal((int)si.ssi_signo), l.running);
            } else if (l.stopping == 2) {
                log_warn("%s: stopping %zu running task(s)", strsignal((int)si.ssi_signo),
                         l.running);
                signal_children(&l, SIGTERM);
                kill_at = now_wall_ms() + 5000;
            }
        }
        reap(&l);
    }
    progress_end(l.prog);
    close(sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    uint64_t unrun = l.w.n - (l.e.done + l.e.failed + l.e.rejected);
    double el = (now_mono_ns() - l.t0) / 1e9;
    if (fatal)
        rc = TK_EXIT_FAIL;
    else
        rc = l.e.failed + l.e.rejected + unrun > 0 || l.failed_io ? TK_EXIT_FAIL : TK_EXIT_OK;
    if (!quiet)
        log_info("run %s: %llu done, %llu failed, %llu rejected, %llu not run, in %.1f s; "
                 "ledger %s/ledger.jsonl",
                 ctx.run_id, (unsigned long long)l.e.done, (unsigned long long)l.e.failed,
                 (unsigned long long)l.e.rejected, (unsigned long long)unrun, el, ctx.run_dir);
    if (json) {
        struct jbuf b;
        jb_init(&b);
        jb_obj_open(&b, NULL);
        jb_str(&b, "run_id", ctx.run_id);
        jb_str(&b, "run_dir", ctx.run_dir);
        jb_int(&b, "tasks", (int64_t)l.w.n);
        jb_int(&b, "done", (int64_t)l.e.done);
        jb_int(&b, "failed", (int64_t)l.e.failed);
        jb_int(&b, "rejected", (int64_t)l.e.rejected);
        jb_int(&b, "not_run", (int64_t)unrun);
        jb_fixed(&b, "elapsed_s", el, 3);
        jb_str(&b, "policy", pol.name);
        jb_bool(&b, "collected", collecting);
        jb_obj_close(&b);
        printf("%.*s\n", (int)b.len, b.p);
        jb_free(&b);
    }
out_collect:
    if (collecting && stop_collector(&ctx) < 0)
        log_warn("cannot stop the collector cleanly: 'tracekit collect stop --run-id %s'",
                 ctx.run_id);
out_files:
    if (jsonl_close(&l.sub) < 0 || jsonl_close(&l.plc) < 0 || jsonl_close(&l.led) < 0) {
        log_error("cannot write the run's files in %s: %s", ctx.run_dir, strerror(errno));
        rc = TK_EXIT_FAIL;
    }
out_dir:
    free(out_dir);
out:
    jb_free(&l.line);
    pacer_free(&l.p);
    workload_free(&l.w);
    embed_free(&l.e);
    free(l.run);
    free(l.wnode);
    free(l.backlog);
    free(l.idx);
    free(l.pnode);
out_early:
    wlopts_free(&o);
    run_ctx_free(&ctx);
    return rc;
}
