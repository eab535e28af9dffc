/* runner.c -- a task body becomes a `tracekit exec` child (runner.h). */
#include "task/runner.h"

#include "task/cgroup.h"
#include "task/cpubind.h"
#include "task/profiles.h"
#include "common/run.h"
#include "common/util.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

/* ---- the exec argv (pure) ---- */

struct vec {
    char **v;
    size_t n, cap;
};

static void push(struct vec *a, const char *s)
{
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? 2 * a->cap : 48;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->n++] = xstrdup(s);
    a->v[a->n] = NULL;
}

static void push2(struct vec *a, const char *opt, const char *val)
{
    push(a, opt);
    push(a, val);
}

static void pushf(struct vec *a, const char *opt, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void pushf(struct vec *a, const char *opt, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    push2(a, opt, buf);
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The original's "if its text is all digits" for vthreads/fthreads: an
 * integer >= 0 or a digit string; anything else is ignored (0 = not given,
 * which is also what ffmpeg does with 0: automatic). */
static int thread_hint(const json_t *v)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 4096)
        return (int)json_integer_value(v);
    if (json_is_string(v) && all_digits(json_string_value(v)) &&
        strlen(json_string_value(v)) <= 4)
        return atoi(json_string_value(v));
    return 0;
}

/* Optional string field: default if absent, error if present and not a
 * non-empty string. */
static bool opt_str(const json_t *o, const char *key, const char *def, const char **out)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return true;
    }
    if (!json_is_string(v) || !json_string_length(v))
        return false;
    *out = json_string_value(v);
    return true;
}

#define BAD(...)                                                                               \
    do {                                                                                       \
        char why_[512];                                                                        \
        snprintf(why_, sizeof why_, __VA_ARGS__);                                              \
        if (t->id >= 0)                                                                        \
            snprintf(err, errlen, "task %lld: %s", (long long)t->id, why_);                   \
        else                                                                                   \
            snprintf(err, errlen, "task (no task_id): %s", why_);                              \
        goto fail;                                                                             \
    } while (0)

/* This binary's path.  readlink rather than exec'ing "/proc/self/exe"
 * itself: under valgrind (and similar launchers) that link names the
 * launcher, while readlink is answered with the program's own path. */
static char *self_path(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return xstrdup("/proc/self/exe");
    buf[n] = '\0';
    return xstrdup(buf);
}

int runner_build(const struct runner_conf *c, const char *body, struct runner_task *t,
                 char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->id = -1;
    t->attempt = 1;
    struct vec a = {0};
    struct vec cmd = {0};
    json_error_t je;
    json_t *o = json_loads(body, JSON_REJECT_DUPLICATES, &je);
    if (!o)
        BAD("the body is not JSON: %s", je.text);
    if (!json_is_object(o))
        BAD("the body is not a JSON object");

    const json_t *v = json_object_get(o, "task_id");
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        t->id = json_integer_value(v);
    else
        BAD("'task_id' is missing or not an integer >= 0");
    v = json_object_get(o, "attempt");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
            BAD("'attempt' must be an integer from 1 to 1000000");
        t->attempt = (int)json_integer_value(v);
    }
    const char *trace = NULL;
    v = json_object_get(o, "trace_id");
    if (v) {
        if (!json_is_string(v) || !task_trace_id_valid(json_string_value(v)))
            BAD("'trace_id' must be 1-128 printable characters without blanks");
        trace = json_string_value(v);
    }
    v = json_object_get(o, "ts_enqueue");
    bool has_enq = v != NULL && !json_is_null(v);
    if (has_enq && (!json_is_integer(v) || json_integer_value(v) < 0))
        BAD("'ts_enqueue' must be epoch milliseconds (an integer >= 0)");
    int64_t ts_enqueue = has_enq ? json_integer_value(v) : 0;
    v = json_object_get(o, "cpu_units");
    t->cpu_units = 1;
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v))
            BAD("'cpu_units' must be an integer");
        if (json_integer_value(v) > CPU_SETSIZE)
            BAD("'cpu_units' %lld is more than %d CPUs", (long long)json_integer_value(v),
                CPU_SETSIZE);
        if (json_integer_value(v) > 1)
            t->cpu_units = (int)json_integer_value(v); /* below 1 counts as 1, like rq */
    }
    const char *app = NULL;
    if (!opt_str(o, "app", NULL, &app) || (app && !run_id_valid(app)))
        BAD("'app' must be 1-128 letters, digits or ._-()+:");
    const char *cpuset = NULL;
    if (!opt_str(o, "cpuset", NULL, &cpuset))
        BAD("'cpuset' must be a CPU list like 0-3,5");
    if (cpuset) {
        cpu_set_t set;
        char why[256];
        if (cpulist_parse(cpuset, &set, why, sizeof why) < 0)
            BAD("'cpuset': %s", why);
    }

    /* the command: argv, or ffmpeg from the original's fields (§7.3) */
    const json_t *av = json_object_get(o, "argv");
    if (av) {
        if (!json_is_array(av) || json_array_size(av) == 0)
            BAD("'argv' must be a non-empty array of strings");
        size_t i;
        json_t *x;
        json_array_foreach(av, i, x) {
            if (!json_is_string(x))
                BAD("'argv'[%zu] is not a string", i);
            push(&cmd, json_string_value(x));
        }
        if (!*cmd.v[0])
            BAD("'argv'[0] is empty");
    } else {
        const char *in, *out;
        if (!opt_str(o, "input", NULL, &in) || !in || !opt_str(o, "output", NULL, &out) || !out)
            BAD("neither 'argv' (a generic task) nor 'input' and 'output' strings (an ffmpeg "
                "task)");
        struct ffmpeg_params p = {0};
        if (!opt_str(o, "scale", "1280:720", &p.scale))
            BAD("'scale' must be a string like 1280:720");
        if (!opt_str(o, "vcodec", "h264", &p.vcodec))
            BAD("'vcodec' must be a string (h264, hevc)");
        if (!opt_str(o, "preset", "veryfast", &p.preset))
            BAD("'preset' must be a string like veryfast");
        v = json_object_get(o, "crf");
        p.crf = 28;
        if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 63)
            p.crf = (int)json_integer_value(v);
        else if (json_is_string(v) && all_digits(json_string_value(v)) &&
                 atoi(json_string_value(v)) <= 63)
            p.crf = atoi(json_string_value(v));
        else if (v && !json_is_null(v))
            BAD("'crf' must be an integer from 0 to 63");
        p.vthreads = thread_hint(json_object_get(o, "vthreads"));
        p.fthreads = thread_hint(json_object_get(o, "fthreads"));
        char *path = NULL;
        if (c->outputs) {
            const char *base = strrchr(out, '/');
            base = base ? base + 1 : out;
            if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
                BAD("'output' '%s' has no file name", out);
            path = path_join(c->outputs, base);
        } else {
            path = xstrdup(out);
        }
        char **f = ffmpeg_argv(c->ffmpeg ? c->ffmpeg : "ffmpeg", &p, in, path);
        for (char **x = f; *x; x++)
            push(&cmd, *x);
        argv_free(f);
        char *slash = strrchr(path, '/');
        if (slash && slash != path) {
            *slash = '\0';
            t->output_dir = path;
        } else {
            free(path);
        }
        t->ffmpeg = true;
        if (!app)
            app = "ffmpeg";
    }

    t->path = c->self_exe ? xstrdup(c->self_exe) : self_path();
    push(&a, "tracekit");
    push(&a, "exec");
    push2(&a, "--run-id", c->run_id);
    push2(&a, "--node-id", c->node);
    push2(&a, "--stage", c->stage);
    push2(&a, "--logs", c->logs);
    if (c->pid_dir)
        push2(&a, "--pid-dir", c->pid_dir);
    if (trace)
        push2(&a, "--trace-id", trace);
    if (has_enq)
        pushf(&a, "--ts-enqueue", "%lld", (long long)ts_enqueue);
    pushf(&a, "--attempt", "%d", t->attempt);
    pushf(&a, "--cpu-units", "%d", t->cpu_units);
    push2(&a, "--cpu-binding", cpu_binding_name(c->binding));
    if (c->binding == BIND_SHARED)
        pushf(&a, "--cpu-weight", "%d",
              cgroup_weight_clamp((long long)c->cpuweight_per_vcpu * t->cpu_units));
    else if (cpuset) /* the original drops it in shared mode */
        push2(&a, "--cpuset", cpuset);
    if (c->parent > 0)
        pushf(&a, "--parent-pid", "%d", (int)c->parent);
    if (c->orphan_wait_s >= 0)
        pushf(&a, "--orphan-wait", "%g", c->orphan_wait_s);
    if (app)
        push2(&a, "--app", app);
    push(&a, "-q");
    push(&a, "--");
    for (size_t i = 0; i < cmd.n; i++)
        push(&a, cmd.v[i]);
    argv_free(cmd.v);
    json_decref(o);
    t->argv = a.v;
    return 0;
fail:
    argv_free(cmd.v);
    argv_free(a.v);
    json_decref(o);
    free(t->output_dir);
    t->output_dir = NULL;
    free(t->path);
    t->path = NULL;
    return -1;
}

void runner_task_free(struct runner_task *t)
{
    argv_free(t->argv);
    free(t->output_dir);
    free(t->path);
    t->argv = NULL;
    t->output_dir = NULL;
    t->path = NULL;
}

char **runner_env(char *const *env)
{
    size_t n = 0;
    while (env && env[n])
        n++;
    char **out = xcalloc(n + 1, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (str_starts(env[i], "TRACEKIT_REDIS_URL=") || str_starts(env[i], "REDISCLI_AUTH="))
            continue;
        out[k++] = env[i];
    }
    out[k] = NULL;
    return out;
}

int runner_rc(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return RUNNER_RC_BAD;
}

char *runner_log_path(const char *dir, int64_t id, int attempt)
{
    return xasprintf("%s/task-%lld.a%d.log", dir, (long long)id, attempt);
}

/* ---- spawning and reaping ---- */

pid_t runner_spawn(const struct runner_task *t, enum runner_out out, const char *out_dir,
                   char *err, size_t errlen)
{
    if (t->output_dir) /* like the original; if this fails, ffmpeg says why */
        mkdir_p(t->output_dir, 0755);
    char *log = NULL;
    if (out == RUNNER_OUT_FILE) {
        if (mkdir_p(out_dir, 0755) < 0) {
            snprintf(err, errlen, "cannot create the task output folder %s: %s", out_dir,
                     strerror(errno));
            return -1;
        }
        log = runner_log_path(out_dir, t->id, t->attempt);
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out == RUNNER_OUT_FILE) {
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    } else if (out == RUNNER_OUT_NULL) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    /* nothing else of ours: not the Redis connections (an authenticated
     * socket is as good as the password), not the signal or event fds */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
    char **env = runner_env(environ);
    pid_t pid;
    int rc = posix_spawn(&pid, t->path, &fa, &at, t->argv, env);
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start tracekit exec%s%s: %s", log ? " with output to " : "",
                 log ? log : "", strerror(rc));
        free(log);
        return -1;
    }
    free(log);
    return pid;
}

int runner_reap(bool block, pid_t *pid, int *rc)
{
    int st;
    pid_t p;
    do
        p = waitpid(-1, &st, block ? 0 : WNOHANG);
    while (p < 0 && errno == EINTR);
    if (p < 0)
        return -1;
    if (p == 0)
        return 0;
    *pid = p;
    *rc = runner_rc(st);
    return 1;
}

int runner_cpus(void)
{
    cpu_set_t mine;
    int n = sched_getaffinity(0, sizeof mine, &mine) == 0 ? CPU_COUNT(&mine) : 0;
    if (n < 1)
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n;
}
