/* runner.c -- a task body becomes a `tracekit exec` child (runner.h). */
#include "task/runner.h"

#include "common/jsonl.h"
#include "common/run.h"
#include "common/util.h"
#include "common/uuid.h"
#include "task/cgroup.h"
#include "task/cpubind.h"
#include "task/profiles.h"
#include "task/task.h"

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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* err = "task ID: why" (or "task (no task_id): why"); returns -1. */
static int bad(const struct runner_task *t, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(const struct runner_task *t, char *err, size_t errlen, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (t->id >= 0)
        snprintf(err, errlen, "task %lld: %s", (long long)t->id, why);
    else
        snprintf(err, errlen, "task (no task_id): %s", why);
    return -1;
}

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

/* A body's fields besides the command (pointing into the body's JSON). */
struct body_head {
    const char *trace;
    bool has_enq;
    int64_t ts_enqueue;
    const char *app, *cpuset;
};

/* task_id, attempt, cpu_units into t; the rest into h. */
static int parse_head(const json_t *o, struct runner_task *t, struct body_head *h, char *err,
                      size_t errlen)
{
    const json_t *v = json_object_get(o, "task_id");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(t, err, errlen, "'task_id' is missing or not an integer >= 0");
    t->id = json_integer_value(v);
    v = json_object_get(o, "attempt");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 1000000)
            return bad(t, err, errlen, "'attempt' must be an integer from 1 to 1000000");
        t->attempt = (int)json_integer_value(v);
    }
    v = json_object_get(o, "trace_id");
    if (v) {
        if (!json_is_string(v) || !task_trace_id_valid(json_string_value(v)))
            return bad(t, err, errlen,
                       "'trace_id' must be 1-128 printable characters without blanks");
        h->trace = json_string_value(v);
    }
    v = json_object_get(o, "ts_enqueue");
    h->has_enq = v != NULL && !json_is_null(v);
    if (h->has_enq && (!json_is_integer(v) || !jsonl_ts_valid(json_integer_value(v))))
        return bad(t, err, errlen, "'ts_enqueue' must be epoch milliseconds (an integer from 0, "
                   "1970, to %lld, 2200)", (long long)JSONL_TS_MAX_MS);
    h->ts_enqueue = h->has_enq ? json_integer_value(v) : 0;
    v = json_object_get(o, "cpu_units");
    t->cpu_units = 1;
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v))
            return bad(t, err, errlen, "'cpu_units' must be an integer");
        if (json_integer_value(v) > CPU_SETSIZE)
            return bad(t, err, errlen, "'cpu_units' %lld is more than %d CPUs",
                       (long long)json_integer_value(v), CPU_SETSIZE);
        if (json_integer_value(v) > 1)
            t->cpu_units = (int)json_integer_value(v); /* below 1 counts as 1, like rq */
    }
    if (!opt_str(o, "app", NULL, &h->app) || (h->app && !run_id_valid(h->app)))
        return bad(t, err, errlen, "'app' must be " RUN_ID_RULE);
    if (!opt_str(o, "cpuset", NULL, &h->cpuset))
        return bad(t, err, errlen, "'cpuset' must be a CPU list like 0-3,5");
    cpu_set_t set;
    char why[256];
    if (h->cpuset && cpulist_parse(h->cpuset, &set, why, sizeof why) < 0)
        return bad(t, err, errlen, "'cpuset': %s", why);
    return 0;
}

/* name looked up in $PATH as execvp does (malloc'd), or a copy of name
 * when it holds a '/'; NULL when not found. */
static char *which(const char *name)
{
    if (strchr(name, '/'))
        return xstrdup(name);
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin"; *p;) {
        size_t len = strcspn(p, ":");
        char *dir = len ? xasprintf("%.*s", (int)len, p) : xstrdup("."); /* '::' = here */
        char *f = path_join(dir, name);
        free(dir);
        if (access(f, X_OK) == 0)
            return f;
        free(f);
        p += len;
        if (*p == ':')
            p++;
    }
    return NULL;
}

bool runner_argv_allowed(char *const *allow, const char *program)
{
    if (!allow)
        return true;
    for (char *const *a = allow; *a; a++)
        if (!strcmp(*a, program))
            return true;
    char *mine = which(program);
    struct stat ms, ts;
    bool ok = false;
    if (mine && stat(mine, &ms) == 0) {
        for (char *const *a = allow; *a && !ok; a++) {
            char *theirs = which(*a);
            ok = theirs && stat(theirs, &ts) == 0 && ts.st_dev == ms.st_dev &&
                 ts.st_ino == ms.st_ino;
            free(theirs);
        }
    }
    free(mine);
    return ok;
}

/* A generic task's command: its argv. */
static int parse_argv(const struct runner_conf *c, const json_t *av, struct runner_task *t,
                      struct vec *cmd, char *err, size_t errlen)
{
    if (!json_is_array(av) || json_array_size(av) == 0)
        return bad(t, err, errlen, "'argv' must be a non-empty array of strings");
    size_t i;
    json_t *x;
    json_array_foreach(av, i, x) {
        if (!json_is_string(x))
            return bad(t, err, errlen, "'argv'[%zu] is not a string", i);
        push(cmd, json_string_value(x));
    }
    if (!*cmd->v[0])
        return bad(t, err, errlen, "'argv'[0] is empty");
    if (!runner_argv_allowed(c->allow_argv, cmd->v[0]))
        return bad(t, err, errlen, "refused: program '%.200s' is not in this worker's "
                   "--allow-argv list", cmd->v[0]);
    return 0;
}

/* scale, vcodec, preset, crf and the thread hints of an ffmpeg task. */
static int parse_params(const json_t *o, struct runner_task *t, struct ffmpeg_params *p,
                        char *err, size_t errlen)
{
    if (!opt_str(o, "scale", "1280:720", &p->scale))
        return bad(t, err, errlen, "'scale' must be a string like 1280:720");
    if (!opt_str(o, "vcodec", "h264", &p->vcodec))
        return bad(t, err, errlen, "'vcodec' must be a string (h264, hevc)");
    if (!opt_str(o, "preset", "veryfast", &p->preset))
        return bad(t, err, errlen, "'preset' must be a string like veryfast");
    const json_t *v = json_object_get(o, "crf");
    p->crf = 28;
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 63)
        p->crf = (int)json_integer_value(v);
    else if (json_is_string(v) && all_digits(json_string_value(v)) &&
             atoi(json_string_value(v)) <= 63)
        p->crf = atoi(json_string_value(v));
    else if (v && !json_is_null(v))
        return bad(t, err, errlen, "'crf' must be an integer from 0 to 63");
    p->vthreads = thread_hint(json_object_get(o, "vthreads"));
    p->fthreads = thread_hint(json_object_get(o, "fthreads"));
    return 0;
}

/* An ffmpeg task's command, from the original's fields (§7.3); its output
 * folder goes to t->output_dir. */
static int parse_ffmpeg(const struct runner_conf *c, const json_t *o, struct runner_task *t,
                        struct vec *cmd, char *err, size_t errlen)
{
    const char *in, *out;
    if (!opt_str(o, "input", NULL, &in) || !in || !opt_str(o, "output", NULL, &out) || !out)
        return bad(t, err, errlen, "neither 'argv' (a generic task) nor 'input' and 'output' "
                   "strings (an ffmpeg task)");
    struct ffmpeg_params p = {0};
    if (parse_params(o, t, &p, err, errlen) < 0)
        return -1;
    char *path = NULL;
    if (c->outputs) {
        const char *base = strrchr(out, '/');
        base = base ? base + 1 : out;
        if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
            return bad(t, err, errlen, "'output' '%s' has no file name", out);
        path = path_join(c->outputs, base);
    } else {
        path = xstrdup(out);
    }
    char **f = ffmpeg_argv(c->ffmpeg ? c->ffmpeg : "ffmpeg", &p, in, path);
    for (char **x = f; *x; x++)
        push(cmd, *x);
    argv_free(f);
    char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        *slash = '\0';
        t->output_dir = path;
    } else {
        free(path);
    }
    t->ffmpeg = true;
    return 0;
}

/* tracekit exec OPTIONS -q -- COMMAND */
static void exec_argv(const struct runner_conf *c, const struct runner_task *t,
                      const struct body_head *h, const struct vec *cmd, struct vec *a)
{
    push(a, "tracekit");
    push(a, "exec");
    push2(a, "--run-id", c->run_id);
    push2(a, "--node-id", c->node);
    push2(a, "--stage", c->stage);
    push2(a, "--logs", c->logs);
    if (c->pid_dir)
        push2(a, "--pid-dir", c->pid_dir);
    if (h->trace)
        push2(a, "--trace-id", h->trace);
    if (h->has_enq)
        pushf(a, "--ts-enqueue", "%lld", (long long)h->ts_enqueue);
    pushf(a, "--attempt", "%d", t->attempt);
    pushf(a, "--cpu-units", "%d", t->cpu_units);
    push2(a, "--cpu-binding", cpu_binding_name(c->binding));
    if (c->binding == BIND_SHARED)
        pushf(a, "--cpu-weight", "%d",
              cgroup_weight_clamp((long long)c->cpuweight_per_vcpu * t->cpu_units));
    else if (h->cpuset) /* the original drops it in shared mode */
        push2(a, "--cpuset", h->cpuset);
    if (c->parent > 0)
        pushf(a, "--parent-pid", "%d", (int)c->parent);
    if (c->orphan_wait_s >= 0)
        pushf(a, "--orphan-wait", "%g", c->orphan_wait_s);
    if (c->task_user)
        push2(a, "--user", c->task_user);
    const char *app = h->app ? h->app : t->ffmpeg ? "ffmpeg" : NULL;
    if (app)
        push2(a, "--app", app);
    push(a, "-q");
    push(a, "--");
    for (size_t i = 0; i < cmd->n; i++)
        push(a, cmd->v[i]);
}

int runner_build(const struct runner_conf *c, const char *body, struct runner_task *t,
                 char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->id = -1;
    t->attempt = 1;
    struct vec cmd = {0};
    struct body_head h = {0};
    json_error_t je;
    json_t *o = jsonl_loads(body, JSON_REJECT_DUPLICATES, &je);
    int rc;
    if (!o) {
        rc = bad(t, err, errlen, "the body is not JSON: %s", je.text);
    } else if (!json_is_object(o)) {
        rc = bad(t, err, errlen, "the body is not a JSON object");
    } else if ((rc = parse_head(o, t, &h, err, errlen)) == 0) {
        const json_t *av = json_object_get(o, "argv");
        rc = av ? parse_argv(c, av, t, &cmd, err, errlen)
                : parse_ffmpeg(c, o, t, &cmd, err, errlen);
    }
    if (rc == 0) {
        struct vec a = {0};
        t->path = c->self_exe ? xstrdup(c->self_exe) : self_path();
        exec_argv(c, t, &h, &cmd, &a);
        t->argv = a.v;
    } else {
        free(t->output_dir);
        t->output_dir = NULL;
    }
    argv_free(cmd.v);
    json_decref(o);
    return rc;
}

/* (runner.h) Made by the worker,
 * not by Redis, so that it stays unique when Redis loses writes and hands a
 * task out again with the same attempt number. */
void runner_exec_id_new(char out[17])
{
    char u[37];
    if (uuid_new(u) < 0) {   /* no randomness: time and a counter, still unique here */
        static unsigned n;
        snprintf(out, 17, "%010llx%06x", (unsigned long long)now_wall_ms(), ++n & 0xffffff);
        return;
    }
    size_t k = 0;
    for (const char *p = u; *p && k < 16; p++)
        if (*p != '-' && p != u + 14)   /* skip the version digit */
            out[k++] = *p;
    out[k] = '\0';
}

void runner_set_exec_id(struct runner_task *t, const char *id)
{
    size_t n = 0, at = 0;
    while (t->argv && t->argv[n])
        n++;
    while (at < n && strcmp(t->argv[at], "--"))
        at++;
    if (at == n)
        TK_BUG("no -- in the exec command line");
    char **v = xmalloc((n + 3) * sizeof *v);
    memcpy(v, t->argv, at * sizeof *v);
    v[at] = xstrdup("--exec-id");
    v[at + 1] = xstrdup(id);
    memcpy(v + at + 2, t->argv + at, (n - at + 1) * sizeof *v);
    free(t->argv);
    t->argv = v;
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

/* A log line of exec's own at info or debug level ("...Z info  exec: ..."). */
static bool exec_chatter(const char *line, size_t n)
{
    const char *tags[] = {"Z info  exec: ", "Z debug exec: "};
    for (size_t i = 0; i < 2; i++) {
        size_t k = strlen(tags[i]);
        for (size_t at = 0; at + k <= n && at < 40; at++)
            if (!memcmp(line + at, tags[i], k))
                return true;
    }
    return false;
}

size_t runner_log_reason(const char *path, char *out, size_t outlen)
{
    out[0] = '\0';
    int fd = open_regular(path);
    if (fd < 0)
        return 0;
    struct stat sb;
    size_t want = 8 * TASK_TAIL_BYTES;
    off_t start = fstat(fd, &sb) == 0 && sb.st_size > (off_t)want ? sb.st_size - (off_t)want : 0;
    char *buf = xmalloc(want), *keep = xmalloc(want);
    ssize_t got = pread(fd, buf, want, start);
    close(fd);
    size_t k = 0;
    for (ssize_t i = 0; i < got;) {
        char *nl = memchr(buf + i, '\n', (size_t)(got - i));
        size_t len = nl ? (size_t)(nl - (buf + i)) + 1 : (size_t)(got - i);
        if (!exec_chatter(buf + i, len)) {
            memcpy(keep + k, buf + i, len);
            k += len;
        }
        i += (ssize_t)len;
    }
    size_t n = task_output_tail(keep, task_output_drop_banner(keep, k), out, outlen);
    free(buf);
    free(keep);
    return n;
}

/* ---- spawning and reaping ---- */

void runner_spawnattr_init(posix_spawnattr_t *at)
{
    posix_spawnattr_init(at);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(at, &all);
    posix_spawnattr_setsigmask(at, &none);
    posix_spawnattr_setpgroup(at, 0);
    posix_spawnattr_setflags(at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                     POSIX_SPAWN_SETSIGMASK);
}

int runner_prepare_output(const struct runner_task *t, enum runner_out out, const char *out_dir,
                          char **log, char *err, size_t errlen)
{
    *log = NULL;
    if (t->output_dir) /* like the original; if this fails, ffmpeg says why */
        mkdir_p(t->output_dir, 0755);
    if (out != RUNNER_OUT_FILE)
        return 0;
    if (mkdir_p(out_dir, TK_DIR_MODE) < 0) {
        snprintf(err, errlen, "cannot create the task output folder %s: %s", out_dir,
                 strerror(errno));
        return -1;
    }
    *log = runner_log_path(out_dir, t->id, t->attempt);
    return 0;
}

pid_t runner_spawn(const struct runner_task *t, enum runner_out out, const char *out_dir,
                   char *err, size_t errlen)
{
    char *log;
    if (runner_prepare_output(t, out, out_dir, &log, err, errlen) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    runner_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out == RUNNER_OUT_FILE) {
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
                                         TK_FILE_MODE);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    } else if (out == RUNNER_OUT_NULL) {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    /* nothing else of ours: not the Redis connections (an authenticated
     * socket is as good as the password), not the signal or event fds */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
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
