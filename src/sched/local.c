/* local.c -- the engine of `tracekit local` (see local.h): the event loop
 * that releases, places, runs and reaps tasks on this machine through the
 * in-memory plane (embed.c), and the collector around it. */
#include "sched/local.h"

#include "common/log.h"
#include "common/progress.h"
#include "common/util.h"
#include "common/uuid.h"
#include "sched/embed.h"
#include "task/launch.h"
#include "task/launcher.h"
#include "task/task.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* One local run. */
struct local {
    const struct local_conf *c;
    const struct workload *w;
    struct embed e;
    struct pacer p;
    struct runner_conf rc;
    struct starter launch;     /* starts the tasks (task/launcher.h): a launcher, or posix_spawn */
    struct {
        pid_t pid;             /* the exec child */
        size_t task;           /* its task index */
    } *run;                    /* the running tasks (at most one per task) */
    int *wnode;                /* workload node index -> embed node index */
    int64_t *backlog;          /* per workload node */
    size_t *idx;
    int *pnode;
    size_t running, released;
    struct jsonl_writer sub, plc, led;
    int nopen;                 /* of sub, plc, led, in that order */
    struct jbuf line;
    char scheduler[300];
    char pidtxt[32];           /* the ledger's worker suffix (embed keeps a pointer) */
    int stopping;              /* signals seen */
    int64_t kill_at;           /* wall ms to SIGKILL the running tasks; 0: not */
    struct progress *prog;
    int64_t t0;
    double dur_sum_s;          /* durations of the tasks finished so far, for the ETA */
    size_t ndur;
    bool failed_io;
};

int64_t local_node_units(int cpus, int64_t capacity, double ratio, size_t n)
{
    int64_t units = capacity > 0 ? capacity : (int64_t)floor(ratio * cpus / (double)n);
    return units < 1 ? 1 : units;
}

/* ---- the plane and the files ---- */

/* The nodes (this machine's CPUs shared among them) and the pins.  0, or
 * TK_EXIT_USAGE after an error message. */
static int plane_init(struct local *l, int64_t *units)
{
    const struct local_conf *c = l->c;
    int ncpu = runner_cpus();
    *units = local_node_units(ncpu, c->capacity, c->ratio, c->nnodes);
    int64_t cores = ncpu / (int64_t)c->nnodes > 0 ? ncpu / (int64_t)c->nnodes : 1;
    struct emb_node *nodes = xcalloc(c->nnodes, sizeof *nodes);
    for (size_t i = 0; i < c->nnodes; i++)
        nodes[i] = (struct emb_node){.id = c->nodes[i], .units_total = *units,
                                     .mem_total = c->node_mem_mb, .parallel = c->parallel,
                                     .cores = cores, .ratio = c->ratio};
    char err[512];
    snprintf(l->pidtxt, sizeof l->pidtxt, "%d", (int)getpid());
    int er = embed_init(&l->e, nodes, c->nnodes, c->pol, c->seed, l->pidtxt, err, sizeof err);
    free(nodes);
    if (er < 0) {
        cli_error("invalid --nodes: %s", err);
        return TK_EXIT_USAGE;
    }
    l->wnode = xcalloc(l->w->nnodes ? l->w->nnodes : 1, sizeof *l->wnode);
    for (size_t i = 0; i < l->w->nnodes; i++)
        l->wnode[i] = embed_node(&l->e, l->w->nodes[i]);
    for (size_t i = 0; i < l->w->n; i++) {
        int nd = l->w->t[i].node;
        if (nd < 0 || l->wnode[nd] >= 0)
            continue;
        char list[1024] = "";
        for (size_t k = 0, o = 0; k < c->nnodes && o < sizeof list; k++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", k ? "," : "", c->nodes[k]);
        cli_error("task %zu is pinned to node '%s', which is not one of --nodes (%s)", i + 1,
                  l->w->nodes[nd], list);
        return TK_EXIT_USAGE;
    }
    return 0;
}

static int open_w(struct jsonl_writer *w, const char *dir, const char *name)
{
    char *p = path_join(dir, name);
    int r = jsonl_open(w, p, 200);
    if (r < 0)
        log_error("cannot open %s: %s", p, strerror(errno));
    free(p);
    return r;
}

/* submitted.jsonl, placements.jsonl and ledger.jsonl.  0, or -1 (logged). */
static int files_open(struct local *l, const char *run_dir)
{
    if (mkdir_p(run_dir, TK_DIR_MODE) < 0) {
        log_error("cannot create %s: %s", run_dir, strerror(errno));
        return -1;
    }
    struct jsonl_writer *w[] = {&l->sub, &l->plc, &l->led};
    const char *names[] = {"submitted.jsonl", "placements.jsonl", "ledger.jsonl"};
    for (; l->nopen < 3; l->nopen++)
        if (open_w(w[l->nopen], run_dir, names[l->nopen]) < 0)
            return -1;
    return 0;
}

/* 0, or -1 when one of them could not be written. */
static int files_close(struct local *l)
{
    struct jsonl_writer *w[] = {&l->sub, &l->plc, &l->led};
    int rc = 0;
    for (int i = 0; i < l->nopen; i++)
        if (jsonl_close(w[i]) < 0 && rc == 0)
            rc = -1;
    l->nopen = 0;
    return rc;
}

/* ---- the collector ---- */

/* The tracekit binary, for `tracekit collect`.  false when unknown. */
static bool self_exe(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* Start the collector with `tracekit collect start`, which returns once the
 * background sampler watches the sentinel folder, so no task can start
 * unseen; `collect stop` ends it (the sampler is not our child). */
static int start_collector(const struct local_conf *c)
{
    const struct run_ctx *ctx = c->ctx;
    char iv[32], hv[32], self[4096];
    snprintf(iv, sizeof iv, "%lld", (long long)c->interval_ms);
    snprintf(hv, sizeof hv, "%lld", (long long)c->host_interval_ms);
    if (!self_exe(self, sizeof self))
        return -1;
    char *argv[20] = {self, "collect", "start", "--run-id", ctx->run_id, "--node-id",
                      ctx->node_id, "--stage", ctx->stage, "--logs", ctx->logs,
                      "--interval-ms", iv, "--host-interval-ms", hv};
    int n = 15;
    if (c->pid_dir) {
        argv[n++] = "--pid-dir";
        argv[n++] = (char *)c->pid_dir;
    }
    if (c->realtime)
        argv[n++] = "--realtime";
    argv[n] = NULL;
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
    if (!self_exe(self, sizeof self))
        return -1;
    char *argv[] = {self, "collect", "stop", "--run-id", ctx->run_id, "--logs", ctx->logs, NULL};
    char *out = NULL;
    int st = launch_command(argv, &out, 0);
    if (out && *out)
        log_info("%s", str_trim(out));
    free(out);
    return st == 0 ? 0 : -1;
}

/* ---- release, place, run, reap ---- */

/* Release what the pacer lets go now into the embedded queue. */
static int release(struct local *l, int64_t now)
{
    if (pacer_done(&l->p) || now < l->p.next_ms)
        return 0;
    int64_t eb[l->e.nnodes ? l->e.nnodes : 1];
    embed_backlog(&l->e, eb);
    for (size_t i = 0; i < l->w->nnodes; i++) {
        l->backlog[i] = l->wnode[i] >= 0 ? eb[l->wnode[i]] : 0;
        /* running tasks have started: not backlog, like the Redis flow */
    }
    uint64_t pulses = l->p.pulses;
    size_t k = pacer_next(&l->p, now, (int64_t)l->e.qlen, l->backlog, l->idx, l->pnode);
    size_t next_n;
    int64_t wait_ms;
    if (!l->c->quiet && pacer_pulse_pause(&l->p, pulses, now, &next_n, &wait_ms))
        log_info("next pulse of %zu task(s) in %.0f s (--pulse-interval); %zu of %zu released",
                 next_n, wait_ms / 1000.0, l->released + k, l->w->n);
    char err[512];
    for (size_t j = 0; j < k; j++) {
        char trace[37];
        if (uuid_new(trace) < 0) {
            log_error("cannot make a trace id: %s", strerror(errno));
            return -1;
        }
        /* the real release time; task ids keep the order (issue 21) */
        char *ef = workload_release(l->w, l->idx[j], l->pnode[j], trace, now_wall_ms());
        int64_t id = embed_enqueue(&l->e, ef, err, sizeof err);
        free(ef);
        if (id < 0) {
            log_error("%s", err);
            return -1;
        }
        jb_reset(&l->line);
        const char *body = l->e.tasks[id - l->e.id_base - 1].body;
        jb_append(&l->line, body, strlen(body));
        jsonl_add(&l->sub, &l->line);
        l->released++;
    }
    if (k && jsonl_flush(&l->sub) < 0)
        l->failed_io = true;
    return 0;
}

/* A failed task's reason and log file into its ledger record, and said. */
static void why_failed(struct local *l, size_t ti, int rc)
{
    const struct emb_task *t = &l->e.tasks[ti];
    char why[TASK_TAIL_BYTES + 1] = "", line[TASK_TAIL_BYTES + 1];
    char *log = NULL;
    if (l->c->out == RUNNER_OUT_FILE && l->c->out_dir) {
        log = runner_log_path(l->c->out_dir, t->id, 1);
        runner_log_reason(log, why, sizeof why);
    }
    embed_set_why(&l->e, ti, why, log);
    snprintf(line, sizeof line, "%s", why);
    for (char *p = line; *p; p++)
        if (*p == '\n')
            *p = '|';
    log_error("task %lld on %s failed, rc %d: %s%s%s", (long long)t->id,
              l->e.nodes[t->node].id, rc, *line ? line : "no output", log ? "; log " : "",
              log ? log : "");
    free(log);
}

static void finish(struct local *l, size_t ti, int rc)
{
    if (rc != 0 && (rc != RUNNER_RC_BAD || l->run[l->running - 1].pid >= 0)) /* 127 from exec */
        why_failed(l, ti, rc);
    embed_finish(&l->e, ti, rc, now_wall_ms(), &l->line);
    const struct emb_task *ft = &l->e.tasks[ti];
    if (ft->ts_start > 0 && ft->ts_end >= ft->ts_start && rc != RUNNER_RC_BAD) {
        l->dur_sum_s += (ft->ts_end - ft->ts_start) / 1000.0;
        l->ndur++;
    }
    jsonl_add(&l->led, &l->line);
    if (jsonl_flush(&l->led) < 0)
        l->failed_io = true;
    for (size_t i = 0; i < l->running; i++)
        if (l->run[i].task == ti) {
            l->run[i] = l->run[--l->running];
            break;
        }
    const struct emb_task *t = &l->e.tasks[ti];
    if (rc == 0)
        log_debug("task %lld on %s: done", (long long)t->id, l->e.nodes[t->node].id);
}

/* The head can never be placed: reject it (0), or stop (-1). */
static int never(struct local *l, const struct emb_task *t)
{
    char why[400];
    if (t->pin_name && t->pin < 0)
        snprintf(why, sizeof why, "pinned to node '%s', which is not one of --nodes",
                 t->pin_name);
    else
        snprintf(why, sizeof why, "needs %lld unit(s) and %lld MiB, more than any node can give%s",
                 (long long)t->cpu_units, (long long)t->mem_mb,
                 t->pin >= 0 ? " (its pinned node)" : "");
    if (!l->c->reject) {
        log_error("task %lld %s (--reject-unplaceable skips such tasks)", (long long)t->id, why);
        return -1;
    }
    log_warn("task %lld rejected: %s", (long long)t->id, why);
    embed_reject(&l->e, why, now_wall_ms(), &l->line);
    jsonl_add(&l->led, &l->line);
    return 0;
}

/* The worker slot: the task runs as soon as it is placed (a node's slots
 * are its units, or --parallel, which placement already respects). */
static void start(struct local *l, size_t ti)
{
    const struct emb_task *t = &l->e.tasks[ti];
    char err[1024];
    l->rc.node = l->e.nodes[t->node].id;
    char *body = embed_body(&l->e, ti);
    struct runner_task rt;
    pid_t pid = -1;
    if (runner_build(&l->rc, body, &rt, err, sizeof err) == 0) {
        char *xid = l->e.tasks[ti].exec_id;
        runner_exec_id_new(xid);   /* as a worker does */
        runner_set_exec_id(&rt, xid);
        pid = starter_spawn(&l->launch, &l->rc, body, xid, &rt, l->c->out, l->c->out_dir, t->id,
                            err, sizeof err);
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

/* Place and start tasks while the head fits.  -1: a task can never run. */
static int place(struct local *l)
{
    for (;;) {
        size_t ti;
        enum emb_place r = embed_place(&l->e, now_wall_ms(), &ti);
        if (r == EMB_EMPTY || r == EMB_BLOCKED)
            return 0;
        const struct emb_task *t = &l->e.tasks[ti];
        if (r == EMB_NEVER) {
            if (never(l, t) < 0)
                return -1;
            continue;
        }
        embed_placement_json(&l->e, ti, l->scheduler, &l->line);
        jsonl_add(&l->plc, &l->line);
        log_debug("dispatch -> node=%s task=%lld cpu_units=%lld cap_left=%lld",
                  l->e.nodes[t->node].id, (long long)t->id, (long long)t->cpu_units,
                  (long long)l->e.nodes[t->node].units_free);
        start(l, ti);
    }
}

static void reap(struct local *l)
{
    pid_t pid;
    int rc;
    while (runner_reap(false, &pid, &rc) == 1) {
        if (starter_reaped(&l->launch, pid, rc))
            continue; /* the launcher: the tasks it started go on */
        for (size_t i = 0; i < l->running; i++)
            if (l->run[i].pid == pid) {
                finish(l, l->run[i].task, rc);
                break;
            }
    }
}

static void signal_children(struct local *l, int sig)
{
    for (size_t i = 0; i < l->running; i++)
        kill(-l->run[i].pid, sig); /* runner_spawn gives each its own process group */
}

/* ---- the event loop ---- */

/* The signals read from sfd: the first stops new tasks, the second the
 * running ones. */
static void on_signals(struct local *l, int sfd)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGCHLD)
            continue;
        l->stopping++;
        if (l->stopping == 1) {
            log_warn("%s: starting no more tasks; waiting for %zu running (again to stop "
                     "them)", strsignal((int)si.ssi_signo), l->running);
        } else if (l->stopping == 2) {
            log_warn("%s: stopping %zu running task(s)", strsignal((int)si.ssi_signo),
                     l->running);
            signal_children(l, SIGTERM);
            l->kill_at = now_wall_ms() + 5000;
        }
    }
}

/* How long to wait for a signal: until the pacer's next step or the
 * SIGKILL, at most 250 ms (the progress line). */
static int poll_timeout(struct local *l)
{
    int timeout = 250;
    if (!l->stopping && !pacer_done(&l->p)) {
        int64_t wait = l->p.next_ms - now_wall_ms();
        if (wait < timeout)
            timeout = wait < 0 ? 0 : (int)wait;
    }
    if (l->kill_at) {
        int64_t wait = l->kill_at - now_wall_ms();
        if (wait <= 0) {
            signal_children(l, SIGKILL);
            l->kill_at = 0;
        } else if (wait < timeout) {
            timeout = (int)wait;
        }
    }
    return timeout;
}

/* "3/10 done, 0 failed, 2 running, 5 waiting; 12 s elapsed, ETA 30 s": the
 * ETA from the durations of the tasks finished so far (progress_eta), left
 * out while there is no honest figure. */
static void show_progress(struct local *l)
{
    if (!l->prog)
        return;
    uint64_t fin = l->e.done + l->e.failed + l->e.rejected;
    double el = (now_mono_ns() - l->t0) / 1e9;
    int64_t now = now_wall_ms();
    double run_s[l->running ? l->running : 1];
    for (size_t i = 0; i < l->running; i++) {
        const struct emb_task *t = &l->e.tasks[l->run[i].task];
        run_s[i] = t->ts_start > 0 ? (now - t->ts_start) / 1000.0 : 0;
    }
    size_t waiting = l->w->n - (size_t)fin - l->running;
    double eta = progress_eta(l->ndur ? l->dur_sum_s / (double)l->ndur : 0, run_s, l->running,
                              waiting);
    char etatxt[48] = "";
    if (eta >= 0)
        snprintf(etatxt, sizeof etatxt, ", ETA %.0f s", ceil(eta));
    progress_update(l->prog, "%llu/%zu done, %llu failed, %zu running, %zu waiting; "
                    "%.0f s elapsed%s", (unsigned long long)l->e.done, l->w->n,
                    (unsigned long long)l->e.failed, l->running, waiting, floor(el), etatxt);
}

/* Until every task has run, or a stop.  true when a task could not be
 * released or placed (the run stopped early). */
static bool loop(struct local *l, int sfd)
{
    bool fatal = false;
    for (;;) {
        int64_t now = now_wall_ms();
        if (!l->stopping && (release(l, now) < 0 || place(l) < 0)) {
            fatal = true;
            l->stopping = 1;
        }
        show_progress(l);
        if (l->running == 0 && (l->stopping || (pacer_done(&l->p) && l->e.qlen == 0)))
            break;
        struct pollfd pfd = {sfd, POLLIN, 0};
        if (poll(&pfd, 1, poll_timeout(l)) < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            break;
        }
        on_signals(l, sfd);
        reap(l);
    }
    return fatal;
}

/* The loop with its signals taken through a signalfd.  0, 1 (fatal), or
 * -1 when none could be made (nothing ran). */
static int run_tasks(struct local *l)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
        log_error("signalfd: %s", strerror(errno));
        sigprocmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    l->prog = progress_begin("local", l->c->quiet);
    l->t0 = now_mono_ns();
    bool fatal = loop(l, sfd);
    starter_close(&l->launch);
    progress_end(l->prog);
    l->prog = NULL;
    close(sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return fatal ? 1 : 0;
}

/* ---- one run ---- */

static void local_free(struct local *l)
{
    jb_free(&l->line);
    pacer_free(&l->p);
    embed_free(&l->e);
    free(l->run);
    free(l->wnode);
    free(l->backlog);
    free(l->idx);
    free(l->pnode);
}

/* The run's state for a workload of at least one task. */
static void local_init(struct local *l)
{
    const struct local_conf *c = l->c;
    pacer_init(&l->p, &c->pace, l->w);
    l->run = xcalloc(l->w->n, sizeof *l->run);
    l->backlog = xcalloc(l->w->nnodes ? l->w->nnodes : 1, sizeof *l->backlog);
    l->idx = xmalloc(l->w->n * sizeof *l->idx);
    l->pnode = xmalloc(l->w->n * sizeof *l->pnode);
    snprintf(l->scheduler, sizeof l->scheduler, "%s:%d", c->ctx->node_id, (int)getpid());
    /* the worker side: every task through `tracekit exec` */
    l->rc = c->rc;
    l->rc.run_id = c->ctx->run_id;
    l->rc.stage = c->ctx->stage;
    l->rc.logs = c->ctx->logs;
    l->rc.pid_dir = c->pid_dir;
    l->rc.parent = getpid();
    starter_init(&l->launch, l->rc.self_exe);
}

/* The tasks, between the files and the collector.  The exit code. */
static int run(struct local *l, int64_t units, struct local_result *r)
{
    const struct local_conf *c = l->c;
    const struct run_ctx *ctx = c->ctx;
    if (ctx->run_id_source && !strcmp(ctx->run_id_source, "new"))
        log_info("no RUN_ID given: using new run id %s", ctx->run_id);
    if (c->collect && start_collector(c) < 0) {
        log_error("cannot start the collector (see %s/collector.log); --no-collect runs "
                  "without it", ctx->run_dir);
        return TK_EXIT_FAIL;
    }
    r->collected = c->collect;
    char desc[300];
    policy_describe(c->pol, desc, sizeof desc);
    log_info("local run %s: %zu task(s) on %zu node(s) of %lld unit(s); policy %s", ctx->run_id,
             l->w->n, l->e.nnodes, (long long)units, desc);
    int tr = run_tasks(l);
    if (tr >= 0) {
        r->ran = true;
        r->done = l->e.done;
        r->failed = l->e.failed;
        r->rejected = l->e.rejected;
        r->not_run = l->w->n - (l->e.done + l->e.failed + l->e.rejected);
        r->elapsed_s = (now_mono_ns() - l->t0) / 1e9;
        if (!c->quiet)
            log_info("run %s: %llu done, %llu failed, %llu rejected, %llu not run, in %.1f s; "
                     "ledger %s/ledger.jsonl",
                     ctx->run_id, (unsigned long long)r->done, (unsigned long long)r->failed,
                     (unsigned long long)r->rejected, (unsigned long long)r->not_run,
                     r->elapsed_s, ctx->run_dir);
    }
    if (c->collect && stop_collector(ctx) < 0)
        log_warn("cannot stop the collector cleanly: 'tracekit collect stop --run-id %s'",
                 ctx->run_id);
    if (tr != 0)
        return TK_EXIT_FAIL;
    return r->failed + r->rejected + r->not_run > 0 || l->failed_io ? TK_EXIT_FAIL : TK_EXIT_OK;
}

int local_run(const struct local_conf *c, struct local_result *r)
{
    memset(r, 0, sizeof *r);
    r->tasks = c->w->n;
    struct local l = {.c = c, .w = c->w};
    jb_init(&l.line);
    int64_t units;
    int rc = plane_init(&l, &units);
    if (rc == 0 && c->w->n == 0)
        log_warn("no task to run");
    if (rc != 0 || c->w->n == 0) {
        local_free(&l);
        return rc;
    }
    local_init(&l);
    l.e.id_base = c->id_base;
    rc = TK_EXIT_FAIL;
    if (files_open(&l, c->ctx->run_dir) == 0)
        rc = run(&l, units, r);
    if (files_close(&l) < 0) {
        log_error("cannot write the run's files in %s: %s", c->ctx->run_dir, strerror(errno));
        rc = TK_EXIT_FAIL;
    }
    local_free(&l);
    return rc;
}

void local_summary_json(const struct local_conf *c, const struct local_result *r,
                        struct jbuf *b)
{
    jb_obj_open(b, NULL);
    jb_str(b, "run_id", c->ctx->run_id);
    jb_str(b, "run_dir", c->ctx->run_dir);
    jb_int(b, "tasks", (int64_t)r->tasks);
    jb_int(b, "done", (int64_t)r->done);
    jb_int(b, "failed", (int64_t)r->failed);
    jb_int(b, "rejected", (int64_t)r->rejected);
    jb_int(b, "not_run", (int64_t)r->not_run);
    jb_fixed(b, "elapsed_s", r->elapsed_s, 3);
    jb_str(b, "policy", c->pol->name);
    jb_bool(b, "collected", r->collected);
    jb_obj_close(b);
}
