/* task.c -- one traced task from start to record: sentinel, binding, run, totals (see task.h). */
#include "task/task.h"
#include "collect/procid.h"
#include "common/log.h"
#include "common/util.h"
#include "common/uuid.h"
#include "task/cgroup.h"
#include "task/cpubind.h"
#include "task/launch.h"
#include "task/profiles.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- pure helpers ---- */

int task_sentinel_text(pid_t pid, uint64_t start_ticks, char *out, size_t outlen)
{
    return snprintf(out, outlen, "%d %" PRIu64 "\n", (int)pid, start_ticks);
}

const char *task_app_name(const char *argv0)
{
    const char *base = strrchr(argv0, '/');
    return base && base[1] ? base + 1 : argv0;
}

bool task_trace_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || *s == 0x7f)
            return false;
    return true;
}

void task_record_json(const struct task_record *r, struct jbuf *b)
{
    jb_obj_open(b, NULL);
    /* the original's 19 keys */
    jb_str(b, "trace_id", r->trace_id);
    jb_null(b, "span_id");
    jb_null(b, "parent_id");
    jb_str(b, "module_id", r->app);
    jb_null(b, "instance_id");
    jb_int(b, "ts_enqueue", r->ts_enqueue);
    jb_int(b, "ts_start", r->ts_start);
    jb_int(b, "ts_end", r->ts_end);
    jb_str(b, "node", r->node);
    jb_str(b, "stage", r->stage);
    jb_str(b, "method", "CLI");
    jb_str(b, "path", r->path);
    jb_str(b, "input", r->input);
    jb_str(b, "output", r->output);
    jb_opt_int(b, "pid", r->pid > 0, r->pid);
    jb_str(b, "cpuset", r->cpuset);
    jb_opt_int(b, "bytes_in", r->has_bytes, r->bytes_in);
    jb_opt_int(b, "bytes_out", r->has_bytes, r->bytes_out);
    jb_int(b, "status", r->status);
    /* ours */
    jb_opt_int(b, "start_ticks", r->has_start_ticks, (int64_t)r->start_ticks);
    jb_opt_int(b, "signal", r->signal > 0, r->signal);
    if (r->has_cpu) {
        jb_fixed(b, "cpu_user_ms", r->cpu_user_ms, 3);
        jb_fixed(b, "cpu_sys_ms", r->cpu_sys_ms, 3);
    } else {
        jb_null(b, "cpu_user_ms");
        jb_null(b, "cpu_sys_ms");
    }
    jb_opt_int(b, "max_rss_kb", r->max_rss_kb >= 0, r->max_rss_kb);
    jb_arr_open(b, "argv");
    for (char *const *a = r->argv; a && *a; a++)
        jb_str(b, NULL, *a);
    jb_arr_close(b);
    jb_str(b, "app", r->app);
    jb_int(b, "cpu_units", r->cpu_units);
    jb_str(b, "cpu_binding", r->cpu_binding);
    jb_str(b, "cpuset_applied", r->cpuset_applied);
    jb_opt_int(b, "cpu_weight_applied", r->cpu_weight_applied >= 0, r->cpu_weight_applied);
    jb_opt_int(b, "cpu_quota_applied", r->cpu_quota_applied >= 0, r->cpu_quota_applied);
    jb_str(b, "cgroup", r->cgroup);
    jb_int(b, "attempt", r->attempt);
    if (r->exec_id)
        jb_str(b, "exec_id", r->exec_id);
    jb_str(b, "error", r->error);
    jb_obj_close(b);
}

/* ---- I/O ---- */

/* Atomic for readers: the collector sees no file or a complete one.  Not
 * fsynced: a sentinel only matters while this process is alive. */
static int sentinel_write(const char *dir, pid_t pid, uint64_t ticks, char **path_out)
{
    char text[64];
    int len = task_sentinel_text(pid, ticks, text, sizeof text);
    char *tmp = xasprintf("%s/.%d.tmp", dir, (int)pid);
    char *path = xasprintf("%s/%d", dir, (int)pid);
    unlink(tmp); /* a leftover of a dead process with our pid, or a planted link */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, TK_FILE_MODE);
    int rc = -1;
    if (fd >= 0) {
        rc = write(fd, text, (size_t)len) == len ? 0 : -1;
        if (close(fd) < 0)
            rc = -1;
        if (rc == 0)
            rc = rename(tmp, path);
        if (rc < 0) {
            int e = errno;
            unlink(tmp);
            errno = e;
        }
    }
    free(tmp);
    if (rc == 0)
        *path_out = path;
    else
        free(path);
    return rc;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : 0;
}

static char *affinity_text(pid_t pid)
{
    cpu_set_t set;
    if (sched_getaffinity(pid, sizeof set, &set) < 0)
        return NULL;
    return cpulist_format(&set);
}

struct binding {
    enum cpu_binding applied;
    char *pinned;               /* CPU list the task was pinned to */
    struct cgroup_task cg;
    bool has_cg;
    bool leased;
    struct cpu_holder holder;
    char *state_path;
};

static void warn_binding(const char *mode, const char *what)
{
    log_warn("%s CPU binding: %s; the record says what was applied", mode, what);
}

/* Pin pid to cpus with sched_setaffinity; false (with a warning) if refused. */
static bool pin(pid_t pid, const cpu_set_t *cpus, const char *mode)
{
    if (sched_setaffinity(pid, sizeof *cpus, cpus) == 0)
        return true;
    char *l = cpulist_format(cpus);
    char *msg = xasprintf("cannot pin the task to CPUs %s: %s", l, strerror(errno));
    warn_binding(mode, msg);
    free(msg);
    free(l);
    return false;
}

/* Everything between fork and release. */
static void bind_task(const struct task_opts *o, pid_t pid, uint64_t ticks, struct binding *bd)
{
    char err[1024];
    cpu_set_t want;
    bool has_want = false;
    if (o->cpuset) {
        if (cpulist_parse(o->cpuset, &want, err, sizeof err) == 0)
            has_want = true;
        else
            warn_binding(cpu_binding_name(o->binding), err);  /* checked by the caller */
    }
    char *name = xasprintf("task-%d-%" PRIu64, (int)pid, ticks);
    struct cgroup_sys sys;
    bool need_cg = o->binding != BIND_NONE;
    if (need_cg)
        cgroup_sys_detect(&sys);

    if (o->binding == BIND_EXCLUSIVE) {
        cpu_set_t pool, got;
        if (sched_getaffinity(0, sizeof pool, &pool) < 0)
            CPU_ZERO(&pool);
        if (has_want)
            CPU_AND(&pool, &pool, &want);
        uint64_t self_ticks = 0;
        procid_read(getpid(), &self_ticks, NULL);
        bd->holder = (struct cpu_holder){getpid(), self_ticks, pid, ticks};
        bd->state_path = path_join(o->run_dir, "cpus.state");
        int rc = 1;
        if (CPU_COUNT(&pool) < o->cpu_units) {
            char *l = cpulist_format(&pool);
            snprintf(err, sizeof err, "need %d CPUs but this task may only use %d (%s)",
                     o->cpu_units, CPU_COUNT(&pool), *l ? l : "none");
            free(l);
        } else {
            rc = cpualloc_acquire(bd->state_path, &pool, o->cpu_units, &bd->holder, &got, err,
                                  sizeof err);
        }
        if (rc != 0) {
            char *msg = xasprintf("%s; running the task unpinned", err);
            warn_binding("exclusive", msg);
            free(msg);
        } else {
            bd->leased = true;
            char *list = cpulist_format(&got);
            struct cgroup_request rq = {o->cgroup_parent, name, -1, -1, list};
            int crc = cgroup_task_create(&sys, &rq, &bd->cg, err, sizeof err);
            if (crc == 0 || bd->cg.rel)
                crc |= cgroup_task_attach(&bd->cg, pid, err, sizeof err);
            bd->has_cg = bd->cg.rel != NULL;
            if (crc != 0) {
                char *msg = xasprintf("%s; pinning with sched_setaffinity only", err);
                warn_binding("exclusive", msg);
                free(msg);
            }
            if (pin(pid, &got, "exclusive")) {
                bd->applied = BIND_EXCLUSIVE;
                bd->pinned = list;
                list = NULL;
            }
            free(list);
        }
    } else {
        if (o->binding == BIND_SHARED) {
            int weight = o->cpu_weight >= 0 ? o->cpu_weight : cgroup_weight_clamp(100LL * o->cpu_units);
            struct cgroup_request rq = {o->cgroup_parent, name, weight, o->cpu_quota, NULL};
            int crc = cgroup_task_create(&sys, &rq, &bd->cg, err, sizeof err);
            if (bd->cg.rel)
                crc |= cgroup_task_attach(&bd->cg, pid, err, sizeof err);
            bd->has_cg = bd->cg.rel != NULL;
            if (crc != 0)
                warn_binding("shared", err);
            if (bd->cg.cpu_dir)
                bd->applied = BIND_SHARED;
        }
        if (has_want && pin(pid, &want, cpu_binding_name(o->binding)))
            bd->pinned = cpulist_format(&want);
    }
    if (need_cg)
        cgroup_sys_free(&sys);
    free(name);
}

static void unbind_task(struct binding *bd)
{
    if (bd->has_cg && cgroup_task_remove(&bd->cg) < 0)
        log_warn("could not remove the task's cgroup: %s", strerror(errno));
    if (bd->leased && cpualloc_release(bd->state_path, &bd->holder) < 0)
        log_warn("could not give back CPUs in %s: %s", bd->state_path, strerror(errno));
    free(bd->pinned);
    free(bd->state_path);
}

struct exit_ctx {
    char *sentinel;
};

static void on_exit_seen(void *ud, int64_t ts_end_ms)
{
    (void)ts_end_ms;
    struct exit_ctx *x = ud;
    if (x->sentinel && unlink(x->sentinel) < 0 && errno != ENOENT)
        log_warn("cannot remove sentinel %s: %s", x->sentinel, strerror(errno));
}

/* The record's fields known before the run.  0, or -1 (logged) when no
 * trace id can be made. */
static int record_init(const struct task_opts *o, struct task_record *r, char trace[37])
{
    memset(r, 0, sizeof *r);
    if (o->trace_id) {
        r->trace_id = o->trace_id;
    } else {
        if (uuid_new(trace) < 0) {
            log_error("cannot get random bytes for a trace id: %s", strerror(errno));
            return -1;
        }
        r->trace_id = trace;
    }
    r->app = o->app ? o->app : task_app_name(o->argv[0]);
    r->path = task_app_name(o->argv[0]);
    r->node = o->node;
    r->stage = o->stage;
    r->argv = o->argv;
    r->cpu_units = o->cpu_units;
    r->attempt = o->attempt;
    r->exec_id = o->exec_id;
    r->max_rss_kb = -1;
    r->cpu_weight_applied = r->cpu_quota_applied = -1;
    r->cpu_binding = "none";
    return 0;
}

/* ffmpeg: what it reads, measured before it runs; *output: what it writes. */
static void measure_inputs(const struct task_opts *o, struct task_record *r, const char **output)
{
    const char *inputs[64];
    *output = NULL;
    if (!o->ffmpeg && !is_ffmpeg_command(o->argv[0]))
        return;
    size_t nin = ffmpeg_files(o->argv, inputs, ARRAY_LEN(inputs), output);
    r->has_bytes = true;
    for (size_t i = 0; i < nin; i++)
        r->bytes_in += file_size(inputs[i]);
    r->input = nin ? task_app_name(inputs[nin - 1]) : NULL;
    r->output = *output ? task_app_name(*output) : NULL;
}

/* The child waits: register it before it runs any of its own code. */
static void register_child(const struct task_opts *o, pid_t pid, struct task_record *r,
                           struct exit_ctx *ex)
{
    r->pid = pid;
    if (procid_read(pid, &r->start_ticks, NULL) == 0)
        r->has_start_ticks = true;
    else
        log_warn("cannot read /proc/%d/stat: %s", (int)pid, strerror(errno));
    if (r->has_start_ticks && sentinel_write(o->pid_dir, pid, r->start_ticks, &ex->sentinel) < 0)
        log_warn("cannot write the sentinel for pid %d in %s: %s (the collector will not "
                 "sample this task)", (int)pid, o->pid_dir, strerror(errno));
}

/* What the run and the binding gave. */
static void record_result(struct task_record *r, const struct spawn_result *res, int exec_err,
                          const struct binding *bd, const char *applied)
{
    r->ts_end = res->ts_end_ms;
    r->status = launch_status(res->wstatus, &r->signal);
    if (exec_err) {
        r->status = 127;
        r->signal = 0;
    }
    r->has_cpu = true;
    r->cpu_user_ms = timeval_ms(&res->ru.ru_utime);
    r->cpu_sys_ms = timeval_ms(&res->ru.ru_stime);
    r->max_rss_kb = res->ru.ru_maxrss;
    r->cpu_binding = cpu_binding_name(bd->applied);
    r->cpuset = bd->pinned;
    r->cpuset_applied = applied;
    r->cpu_weight_applied = bd->has_cg ? bd->cg.weight : -1;
    r->cpu_quota_applied = bd->has_cg ? bd->cg.quota_pct : -1;
    r->cgroup = bd->has_cg ? bd->cg.rel : NULL;
}

/* Append the record to events.APP.jsonl.  The exit status: the task's, or
 * 1 when it ran fine but the record could not be written. */
static int record_write(const struct task_opts *o, const struct task_record *r)
{
    struct jbuf b;
    jb_init(&b);
    task_record_json(r, &b);
    char *fname = xasprintf("events.%s.jsonl", r->app);
    char *events = path_join(o->run_dir, fname);
    int status = r->status;
    if (jsonl_append_line(events, &b) < 0) {
        log_error("cannot append the record to %s: %s", events, open_strerror(errno));
        if (status == 0)
            status = 1;
    } else {
        char how[48] = "";
        if (r->signal)
            snprintf(how, sizeof how, " (killed by signal %d)", r->signal);
        log_info("%s pid %d: status %d%s, %" PRId64 " ms, cpu %.1f ms -> %s", r->app, (int)r->pid,
                 r->status, how, r->ts_end - r->ts_start, r->cpu_user_ms + r->cpu_sys_ms, events);
    }
    jb_free(&b);
    free(fname);
    free(events);
    return status;
}

int task_run(const struct task_opts *o)
{
    struct task_record r;
    char trace[37];
    if (record_init(o, &r, trace) < 0)
        return 127;
    const char *output;
    measure_inputs(o, &r, &output);

    char *error = NULL, *applied = NULL, *told = NULL;
    sigset_t caller;
    bool held = false;
    struct binding bd;
    memset(&bd, 0, sizeof bd);
    struct exit_ctx ex = {NULL};
    struct spawn sp;
    char why[256];
    if (spawn_init(&sp) < 0) {
        error = xasprintf("cannot prepare to run '%s': %s", o->argv[0], strerror(errno));
    } else if (o->user && spawn_set_user(&sp, o->user, why, sizeof why) < 0) {
        error = xasprintf("cannot run '%s': %s", o->argv[0], why);
    } else if (spawn_fork(&sp, o->argv) < 0) {
        error = xasprintf("cannot start '%s': fork: %s", o->argv[0], strerror(errno));
    }
    if (error) {
        r.ts_start = r.ts_end = now_wall_ms();
        r.status = 127;
        spawn_close(&sp);
    } else {
        register_child(o, sp.pid, &r, &ex);
        bind_task(o, sp.pid, r.start_ticks, &bd);
        applied = affinity_text(sp.pid);

        struct stat esb;   /* the task's output: where it starts in our stderr */
        int64_t err_from = fstat(STDERR_FILENO, &esb) == 0 && S_ISREG(esb.st_mode)
                               ? (int64_t)esb.st_size : -1;
        r.ts_start = now_wall_ms();
        int exec_err = spawn_release(&sp);
        if (exec_err)
            error = xasprintf("cannot run '%s': %s", o->argv[0], strerror(exec_err));
        struct spawn_result res;
        memset(&res, 0, sizeof res);
        if (spawn_wait(&sp, o->orphan_wait_ms, on_exit_seen, &ex, &res) < 0) {
            log_error("waiting for pid %d failed: %s", (int)sp.pid, strerror(errno));
            res.ts_end_ms = now_wall_ms();
            res.wstatus = 127 << 8;
        }
        /* Keep the forwarded signals blocked until the record is out: a
         * SIGTERM that comes as the command ends (the worker's death through
         * the parent-death signal) would otherwise end exec before it
         * records the attempt.  Pending ones act once the record is written. */
        caller = sp.old_mask;
        held = sigprocmask(SIG_BLOCK, NULL, &sp.old_mask) == 0;
        spawn_close(&sp);
        on_exit_seen(&ex, 0);  /* no-op unless the wait failed */
        record_result(&r, &res, exec_err, &bd, applied);
        if (res.orphans_signalled)
            log_warn("terminated %d process%s the command left running", res.orphans_signalled,
                     res.orphans_signalled == 1 ? "" : "es");
        if (r.has_bytes)
            r.bytes_out = file_size(output);
        char tail[TASK_TAIL_BYTES + 1];
        if (!error && r.status != 0 && err_from >= 0 &&
            task_fd_tail(STDERR_FILENO, err_from, tail, sizeof tail) > 0)
            told = xstrdup(tail);   /* why it failed, in the record (not logged again) */
    }
    r.ts_enqueue = o->has_ts_enqueue ? o->ts_enqueue : r.ts_start;
    r.error = error ? error : told;
    if (error)
        log_error("%s", error);
    int status = record_write(o, &r);
    /* After the reap (cgroups must be empty); the record used their names. */
    unbind_task(&bd);
    if (held)
        sigprocmask(SIG_SETMASK, &caller, NULL);
    free(ex.sentinel);
    free(error);
    free(told);
    free(applied);
    return status;
}

/* ---- `tracekit exec` ---- */

/* The option's value, else the variable's (unless empty); *from names the
 * one used. */
static const char *given_or_env(const struct task_args *a, const char *given, const char *opt,
                                const char *var, const char **from)
{
    *from = given ? opt : var;
    if (given)
        return given;
    const char *v = a->env ? a->env(var) : NULL;
    return v && *v ? v : NULL;
}

/* "50" or "50%" */
static bool parse_pct(const char *s, int64_t *out)
{
    char buf[32];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n + 1);
    if (buf[n - 1] == '%')
        buf[n - 1] = '\0';
    return parse_i64(buf, 1, 100000, out);
}

static int apply_cpu(const struct task_args *a, struct task_opts *o, char *err, size_t errlen)
{
    const char *from, *v;
    int64_t n;
    o->cpuset = NULL;
    if ((v = given_or_env(a, a->cpuset, "--cpuset", "CPUSET", &from))) {
        cpu_set_t set;
        char why[256];
        if (cpulist_parse(v, &set, why, sizeof why) < 0)
            return errf(err, errlen, "invalid %s: %s", from, why);
        o->cpuset = v;
    }
    o->cpu_weight = -1;
    if ((v = given_or_env(a, a->weight, "--cpu-weight", "CPU_WEIGHT", &from))) {
        if (!parse_i64(v, CGROUP_WEIGHT_MIN, CGROUP_WEIGHT_MAX, &n))
            return errf(err, errlen, "invalid %s '%s': expected an integer from %d to %d", from, v,
                        CGROUP_WEIGHT_MIN, CGROUP_WEIGHT_MAX);
        o->cpu_weight = (int)n;
    }
    o->cpu_quota = -1;
    if ((v = given_or_env(a, a->quota, "--cpu-quota", "CPU_QUOTA", &from))) {
        if (!parse_pct(v, &n))
            return errf(err, errlen, "invalid %s '%s': expected a percentage of one CPU from 1 "
                        "to 100000", from, v);
        o->cpu_quota = (int)n;
    }
    bool want_cg = o->cpu_weight >= 0 || o->cpu_quota >= 0;
    if (!a->binding) {
        o->binding = want_cg ? BIND_SHARED : BIND_NONE;
        return 0;
    }
    if (!cpu_binding_parse(a->binding, &o->binding))
        return errf(err, errlen, "invalid --cpu-binding '%s': expected none, exclusive or shared",
                    a->binding);
    if (want_cg && o->binding != BIND_SHARED)
        return errf(err, errlen, "a CPU weight or quota needs --cpu-binding shared (got '%s')",
                    a->binding);
    return 0;
}

int task_args_apply(const struct task_args *a, struct task_opts *o, char *warn, size_t warnlen,
                    char *err, size_t errlen)
{
    warn[0] = '\0';
    if (apply_cpu(a, o, err, errlen) < 0)
        return -1;
    o->has_ts_enqueue = false;
    const char *from, *v = given_or_env(a, a->ts_enqueue, "--ts-enqueue", "TS_ENQUEUE", &from);
    if (!v)
        return 0;
    /* the range every reader accepts (jsonl_ts_valid): a record with any
     * other time would be written only to be dropped */
    if (parse_i64(v, JSONL_TS_MIN_MS, JSONL_TS_MAX_MS, &o->ts_enqueue))
        o->has_ts_enqueue = true;
    else if (a->ts_enqueue)
        return errf(err, errlen, "invalid --ts-enqueue '%s': expected epoch milliseconds between "
                    "1970 and 2200", v);
    else
        snprintf(warn, warnlen, "ignoring TS_ENQUEUE='%s' (not epoch milliseconds between 1970 "
                 "and 2200); using ts_start", v);
    return 0;
}

char *task_make_dirs(const char *run_dir, const char *pid_dir)
{
    if (mkdir_p(run_dir, TK_DIR_MODE) < 0) {
        log_error("cannot create %s: %s", run_dir, strerror(errno));
        return NULL;
    }
    char *pids = pid_dir ? xstrdup(pid_dir) : path_join(run_dir, "pids");
    if (mkdir_p(pids, TK_DIR_MODE) < 0) {
        log_error("cannot create the sentinel folder %s: %s", pids, strerror(errno));
        free(pids);
        return NULL;
    }
    return pids;
}

/* The profile's ffmpeg command (malloc'd), its output folder made. */
static char **profile_command(const struct task_exec *x)
{
    struct ffmpeg_params p = x->profile->p;
    char **argv = ffmpeg_argv(x->ffmpeg ? x->ffmpeg : "ffmpeg", &p, x->input, x->output);
    char *dir = xstrdup(x->output), *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir_p(dir, 0755) < 0)
            log_warn("cannot create the output folder %s: %s", dir, strerror(errno));
    }
    free(dir);
    return argv;
}

int task_exec(const struct task_exec *x)
{
    /* a worker killed with SIGKILL: its tasks run again elsewhere, so this
     * attempt must not go on (two ffmpeg writing one output); SIGTERM is
     * passed on to the command like any other, and the record says so */
    if (x->parent > 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != x->parent) {
            log_error("the parent process %lld is gone; not starting the task",
                      (long long)x->parent);
            return 1;
        }
    }
    struct task_opts o = x->task;
    if (o.cpu_units < 0)
        o.cpu_units = x->profile ? x->profile->cpu_units : 1;
    char *pids = task_make_dirs(o.run_dir, o.pid_dir);
    if (!pids)
        return 1;
    o.pid_dir = pids;
    char **built = NULL;
    if (x->profile) {
        o.argv = built = profile_command(x);
        o.ffmpeg = true;
        if (!o.app)
            o.app = "ffmpeg";
    }
    int rc = task_run(&o);
    argv_free(built);
    free(pids);
    return rc;
}

/* ---- the end of a task's output ---- */

static bool is_break(char c)
{
    return c == '\n' || c == '\r';
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    uint32_t cp = len == 1 ? p[0] : len == 2 ? (p[0] & 0x1fu) : len == 3 ? (p[0] & 0x0fu)
                                                                          : (p[0] & 0x07u);
    for (size_t i = 1; i < len; i++)
        cp = cp << 6 | (p[i] & 0x3fu);
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;   /* overlong, beyond Unicode, a surrogate */
    return len;
}

size_t task_output_tail(const char *buf, size_t n, char *out, size_t outlen)
{
    size_t end = n, max = outlen - 1 < TASK_TAIL_BYTES ? outlen - 1 : TASK_TAIL_BYTES;
    while (end > 0 && (is_break(buf[end - 1]) || buf[end - 1] == ' ' || buf[end - 1] == '\t'))
        end--;
    size_t start = end, lines = 0;
    while (start > 0 && end - start < max) {
        if (is_break(buf[start - 1]) && start < end && !is_break(buf[start]) &&
            ++lines >= TASK_TAIL_LINES)
            break;
        start--;
    }
    while (start < end && ((unsigned char)buf[start] & 0xc0) == 0x80)
        start++;   /* never half a character */
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)buf;
    for (size_t i = start; i < end && o < max;) {
        if (is_break(buf[i])) {
            if (o > 0 && out[o - 1] != '\n')
                out[o++] = '\n';
            i++;
            continue;
        }
        size_t len = utf8_len(p + i, end - i);
        if (len == 0 || (len == 1 && ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f))) {
            out[o++] = '?';
            i += len ? len : 1;
        } else if (o + len <= max) {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
        } else {
            break;
        }
    }
    while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == ' '))
        o--;
    out[o] = '\0';
    return o;
}

bool task_output_banner(const char *line, size_t n)
{
    static const char *const heads[] = {"ffmpeg version ", "ffprobe version ", "  built with ",
                                        "  configuration: "};
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        size_t k = strlen(heads[i]);
        if (n >= k && !memcmp(line, heads[i], k))
            return true;
    }
    /* "  libavutil      57. 28.100 / 57. 28.100" */
    return n > 5 && !memcmp(line, "  lib", 5) && memmem(line, n, " / ", 3) != NULL;
}

size_t task_output_drop_banner(char *buf, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && !is_break(buf[j]))
            j++;
        if (j < n)
            j++;   /* with its line break */
        if (!task_output_banner(buf + i, j - i)) {
            memmove(buf + o, buf + i, j - i);
            o += j - i;
        }
        i = j;
    }
    return o;
}

size_t task_fd_tail(int fd, int64_t from, char *out, size_t outlen)
{
    out[0] = '\0';
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= from)
        return 0;
    int64_t start = sb.st_size - 4 * TASK_TAIL_BYTES;
    if (start < from)
        start = from;
    if (start < 0)
        start = 0;
    size_t want = (size_t)(sb.st_size - start);
    char *buf = xmalloc(want);
    ssize_t got = pread(fd, buf, want, (off_t)start);
    if (got < 0 && errno == EBADF) {
        /* open for writing only (a task log, 2>FILE): the same file again, to read */
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
        int rfd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        struct stat rsb;
        if (rfd >= 0 && fstat(rfd, &rsb) == 0 && rsb.st_ino == sb.st_ino &&
            rsb.st_dev == sb.st_dev)
            got = pread(rfd, buf, want, (off_t)start);
        if (rfd >= 0)
            close(rfd);
    }
    size_t n = got > 0 ? task_output_tail(buf, task_output_drop_banner(buf, (size_t)got), out, outlen)
                       : 0;
    free(buf);
    return n;
}

size_t task_file_tail(const char *path, char *out, size_t outlen)
{
    out[0] = '\0';
    int fd = open_regular(path);
    if (fd < 0)
        return 0;
    size_t n = task_fd_tail(fd, 0, out, outlen);
    close(fd);
    return n;
}
