/* collector.c -- the run's collector process: start, run, stop, status (see collector.h). */
#include "collect/collector.h"
#include "collect/nodemeta.h"
#include "collect/procfs.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

enum { EXIT_NOT_RUNNING = 3 };

static uint64_t start_ticks_of(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    size_t n;
    char *text = read_file(path, &n);
    struct proc_stat st;
    uint64_t r = 0;
    /* A zombie is no longer a running sampler (its reaper may be slow). */
    if (text && procfs_parse_stat(text, n, &st) == 0 && st.state != 'Z' && st.state != 'X')
        r = st.start_ticks;
    free(text);
    return r;
}

/* The sampler recorded in collector.json, if that process is still it. */
struct recorded {
    json_t *doc;
    int pid;
    bool running;   /* state says running and the PID is still that process */
};

static void read_recorded(const char *path, struct recorded *r)
{
    memset(r, 0, sizeof *r);
    r->doc = json_load_file(path, 0, NULL);
    if (!r->doc)
        return;
    r->pid = (int)json_integer_value(json_object_get(r->doc, "pid"));
    uint64_t st = (uint64_t)json_integer_value(json_object_get(r->doc, "start_ticks"));
    const char *state = json_string_value(json_object_get(r->doc, "state"));
    r->running = r->pid > 0 && st && state && !strcmp(state, "running") &&
                 start_ticks_of(r->pid) == st;
}

/* A statistic of collector.json's "stats" (0 if absent). */
static long long stat_of(const struct recorded *r, const char *key)
{
    json_t *st = r->doc ? json_object_get(r->doc, "stats") : NULL;
    return (long long)json_integer_value(json_object_get(st, key));
}

static char *status_path(const char *run_dir)
{
    return path_join(run_dir, "collector.json");
}

/* ---- stop and status ---- */

/* SIGTERM through a pidfd, which pins the process we verified: the signal
 * cannot reach a process that reused the PID in between.  1 when it
 * stopped, 0 when it needed SIGKILL, -1 with err. */
static int terminate(int pid, char *err, size_t errlen)
{
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pfd < 0 || syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0) < 0) {
        snprintf(err, errlen, "cannot signal collector pid %d: %s", pid, strerror(errno));
        if (pfd >= 0)
            close(pfd);
        return -1;
    }
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    int ready = poll(&p, 1, 15000);
    if (ready <= 0) {
        log_warn("collector pid %d did not stop within 15 s; sending SIGKILL", pid);
        syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
        poll(&p, 1, 5000);
    }
    close(pfd);
    return ready > 0;
}

int collector_stop(const char *run_id, const char *run_dir, FILE *out, char *err, size_t errlen)
{
    char *path = status_path(run_dir);
    struct recorded r;
    read_recorded(path, &r);
    int rc = TK_EXIT_FAIL;
    if (!r.doc) {
        snprintf(err, errlen, "no collector has run for run '%s' (no %s)", run_id, path);
    } else if (!r.running) {
        snprintf(err, errlen, "no collector is running for run '%s' (%s names pid %d, which is %s)",
                 run_id, path, r.pid, r.pid > 0 ? "stopped or now another process" : "unknown");
    } else {
        int stopped = terminate(r.pid, err, errlen);
        if (stopped >= 0) {
            struct recorded after;
            read_recorded(path, &after);
            fprintf(out, "collector stopped (pid %d): %lld process samples of %lld processes, "
                    "%lld host samples -> %s\n", r.pid, stat_of(&after, "proc_samples"),
                    stat_of(&after, "processes_seen"), stat_of(&after, "host_samples"), run_dir);
            json_decref(after.doc);
            *err = '\0';
            rc = stopped ? TK_EXIT_OK : TK_EXIT_FAIL;
        }
    }
    json_decref(r.doc);
    free(path);
    return rc;
}

int collector_status(const char *run_id, const char *run_dir, FILE *out)
{
    char *path = status_path(run_dir);
    struct recorded r;
    read_recorded(path, &r);
    if (!r.doc) {
        fprintf(out, "run %s: no collector has run (no %s)\n", run_id, path);
        free(path);
        return EXIT_NOT_RUNNING;
    }
    free(path);
    json_t *st = json_object_get(r.doc, "stats");
    fprintf(out, "run %s: collector %s (pid %d, mode %s, interval %lld ms)\n", run_id,
            r.running ? "running" : "not running", r.pid,
            json_string_value(json_object_get(r.doc, "mode")),
            (long long)json_integer_value(json_object_get(r.doc, "interval_ms")));
    const char *k;
    json_t *v;
    json_object_foreach(st, k, v) {
        if (json_is_integer(v))
            fprintf(out, "  %-28s %lld\n", k, (long long)json_integer_value(v));
        else if (json_is_number(v))
            fprintf(out, "  %-28s %.3f\n", k, json_number_value(v));
    }
    json_decref(r.doc);
    return r.running ? TK_EXIT_OK : EXIT_NOT_RUNNING;
}

/* ---- start and run ---- */

static int write_node_meta(const struct collector_conf *c, char *err, size_t errlen)
{
    struct node_meta m;
    node_meta_probe(&m, c->run_id, c->node_id, c->stage, c->so.iface);
    m.power = c->so.power;
    struct jbuf b;
    jb_init(&b);
    node_meta_json(&m, &b);
    char *path = path_join(c->run_dir, "node_meta.json");
    int r = write_file_atomic(path, b.p, b.len);
    if (r < 0)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    free(path);
    jb_free(&b);
    return r;
}

/* The folder, no sampler running, node_meta.json, then the sampler opened
 * (before any fork, so its errors reach the user) with its status file at
 * path (which must outlive it).  NULL with err. */
static struct sampler *prepare(const struct collector_conf *c, const char *path, char *err,
                               size_t errlen)
{
    if (mkdir_p(c->run_dir, TK_DIR_MODE) < 0) {
        snprintf(err, errlen, "cannot create run folder %s: %s", c->run_dir, strerror(errno));
        return NULL;
    }
    struct sampler_opts so = c->so;
    struct recorded r;
    read_recorded(path, &r);
    json_decref(r.doc);
    struct sampler *s = NULL;
    if (r.running)
        snprintf(err, errlen, "a collector is already running for run '%s' (pid %d); stop it "
                 "first with 'tracekit collect stop --run-id %s'", c->run_id, r.pid, c->run_id);
    else if (write_node_meta(c, err, errlen) == 0) {
        so.run_dir = c->run_dir;
        so.node_id = c->node_id;
        so.status_path = path;
        s = sampler_open(&so, err, errlen);
    }
    return s;
}

static const char *mode_of(const struct collector_conf *c)
{
    return c->so.pid_dir ? "whitelist" : "scan";
}

/* collector.json names this process as the sampler. */
static void claim(struct sampler *s)
{
    int self = getpid();
    sampler_set_identity(s, self, start_ticks_of(self));
}

/* Sample until the end; the exit code. */
static int sample(struct sampler *s)
{
    int rc = sampler_loop(s) == 0 ? TK_EXIT_OK : TK_EXIT_FAIL;
    sampler_close(s);
    return rc;
}

/* The background process: stdin from /dev/null, output to collector.log,
 * a session of its own; tells the parent through ready once it samples. */
static int background(const struct collector_conf *c, struct sampler *s, int ready)
{
    setsid();
    char *logp = path_join(c->run_dir, "collector.log");
    int lfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, TK_FILE_MODE);
    int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    free(logp);
    if (nfd >= 0) {
        dup2(nfd, STDIN_FILENO);
        close(nfd);
    }
    if (lfd >= 0) {
        dup2(lfd, STDOUT_FILENO);
        dup2(lfd, STDERR_FILENO);
        close(lfd);
    }
    claim(s);
    log_info("sampler started: run %s, node %s, mode %s, interval %d ms", c->run_id, c->node_id,
             mode_of(c), c->so.interval_ms);
    char one = 1;
    if (write(ready, &one, 1) != 1)
        _exit(1);
    close(ready);
    int rc = sample(s);
    log_info("sampler stopped");
    return rc;
}

/* Fork the background process and wait until it samples: in the parent
 * its pid, or -1 with err; in the background process 0 once it is done,
 * with its exit code in *rc. */
static pid_t fork_sampler(const struct collector_conf *c, struct sampler *s, int *rc, char *err,
                          size_t errlen)
{
    int ready[2];
    pid_t pid = -1;
    if (pipe2(ready, O_CLOEXEC) < 0)
        snprintf(err, errlen, "pipe: %s", strerror(errno));
    else if ((pid = fork()) < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(ready[0]);
        close(ready[1]);
    }
    if (pid == 0) {
        close(ready[0]);
        *rc = background(c, s, ready[1]);
        return 0;
    }
    sampler_close(s);
    if (pid < 0)
        return -1;
    close(ready[1]);
    char one = 0;
    ssize_t got;
    do
        got = read(ready[0], &one, 1);
    while (got < 0 && errno == EINTR);
    close(ready[0]);
    if (got != 1) {
        int st;
        waitpid(pid, &st, WNOHANG);
        snprintf(err, errlen, "the sampler did not start; see %s/collector.log", c->run_dir);
        return -1;
    }
    return pid;
}

int collector_start(const struct collector_conf *c, FILE *out, char *err, size_t errlen)
{
    char *path = status_path(c->run_dir);
    struct sampler *s = prepare(c, path, err, errlen);
    int rc = TK_EXIT_FAIL;
    pid_t pid = s ? fork_sampler(c, s, &rc, err, errlen) : -1;
    free(path);
    if (pid <= 0)
        return rc;
    fprintf(out, "proc sampler started (pid %d, mode=%s, interval=%.3fs) -> "
            "%s/proc_metrics.jsonl\n", pid, mode_of(c), (double)c->so.interval_ms / 1000.0,
            c->run_dir);
    fprintf(out, "collectors started -> %s (stop with: tracekit collect stop --run-id %s)\n",
            c->run_dir, c->run_id);
    return TK_EXIT_OK;
}

int collector_run(const struct collector_conf *c, char *err, size_t errlen)
{
    char *path = status_path(c->run_dir);
    struct sampler *s = prepare(c, path, err, errlen);
    if (!s) {
        free(path);
        return TK_EXIT_FAIL;
    }
    claim(s);
    log_info("sampling run %s (node %s, mode %s, interval %d ms) -> %s", c->run_id, c->node_id,
             mode_of(c), c->so.interval_ms, c->run_dir);
    int rc = sample(s);
    struct recorded fin;
    read_recorded(path, &fin);
    log_info("stopped: %lld process samples of %lld processes, %lld host samples -> %s",
             stat_of(&fin, "proc_samples"), stat_of(&fin, "processes_seen"),
             stat_of(&fin, "host_samples"), c->run_dir);
    json_decref(fin.doc);
    free(path);
    return rc;
}
