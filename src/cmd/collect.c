/* collect.c -- tracekit collect start|stop|status|run */
#include "cmd/commands.h"
#include "collect/cgstat.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "collect/nodemeta.h"
#include "collect/procfs.h"
#include "common/run.h"
#include "collect/sampler.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <regex.h>
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

#define DEFAULT_MATCH "^(ffmpeg|ffprobe)$"

static const char usage_text[] =
    "usage: tracekit collect start|stop|status|run [options]\n"
    "\n"
    "Sample processes (CPU time, RSS) and the host (CPU, memory, network) into\n"
    "logs/RUN_ID/{proc_metrics,host_metrics}.jsonl and node_meta.json.\n"
    "\n"
    "  start   start a background sampler for the run (refuses a second one)\n"
    "  stop    stop the run's sampler (only the process recorded in collector.json)\n"
    "  status  show the run's sampler and its statistics (exit 3 when not running)\n"
    "  run     sample in the foreground until SIGINT/SIGTERM or --duration-s\n"
    "\n"
    "Options (environment variable in brackets):\n"
    "  --run-id ID            run id [RUN_ID]; else run_id.env; else a new one (start/run)\n"
    "                         or the newest run folder (stop/status)\n"
    "  --node-id ID           node id [NODE_ID] (default: host name)\n"
    "  --stage NAME           stage [STAGE] (default: cloud)\n"
    "  --logs DIR             logs folder (default: logs)\n"
    "  --interval-ms MS       process sampling period [PROC_INTERVAL_MS] (default 200)\n"
    "  --pid-dir DIR          whitelist: sample the PIDs named by files in DIR\n"
    "                         [PROC_PID_DIR] (default: logs/RUN_ID/pids)\n"
    "  --no-pid-dir           scan /proc for processes whose name matches --match\n"
    "                         (also when PROC_PID_DIR is set but empty)\n"
    "  --match REGEX          POSIX extended regex on the process name, scan mode\n"
    "                         [PROC_MATCH] (default: " DEFAULT_MATCH ")\n"
    "  --host-interval-ms MS  host sampling period, 0 = off (default 1000)\n"
    "  --iface NAME           only this interface in host metrics and node_meta [IFACE]\n"
    "  --duration-s S         stop after S seconds\n"
    "  --realtime             sample with SCHED_FIFO priority (steadier ticks on a busy node)\n"
    "  --sync-ms MS           fsync period for the record files (default 2000)\n"
    "  --cgroup PATH[,PATH]   also sample these whole cgroups (relative to the cgroup mount\n"
    "                         roots, e.g. system.slice/nginx.service; repeatable) into\n"
    "                         cgroup_metrics.jsonl each host interval (each process\n"
    "                         interval with --host-interval-ms 0)\n"
    "  -h, --help             show this help\n";

#define MAX_CGROUPS 64

struct collect_opts {
    const char *cgroups[MAX_CGROUPS];
    int ncgroups;
    const char *run_id, *node_id, *stage, *logs, *pid_dir, *match, *iface;
    bool no_pid_dir, realtime;
    int64_t interval_ms, host_interval_ms, sync_ms;
    double duration_s;
};

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* Parse options; returns 0, or an exit code. */
static int parse_opts(int argc, char **argv, struct collect_opts *o)
{
    enum { O_RUN = 256, O_NODE, O_STAGE, O_LOGS, O_INTERVAL, O_PIDDIR, O_NOPID, O_MATCH,
           O_HOSTINT, O_IFACE, O_DURATION, O_RT, OPT_SYNC, O_CGROUP };
    static const struct option longopts[] = {
        {"run-id", required_argument, 0, O_RUN},
        {"node-id", required_argument, 0, O_NODE},
        {"stage", required_argument, 0, O_STAGE},
        {"logs", required_argument, 0, O_LOGS},
        {"interval-ms", required_argument, 0, O_INTERVAL},
        {"pid-dir", required_argument, 0, O_PIDDIR},
        {"no-pid-dir", no_argument, 0, O_NOPID},
        {"match", required_argument, 0, O_MATCH},
        {"host-interval-ms", required_argument, 0, O_HOSTINT},
        {"iface", required_argument, 0, O_IFACE},
        {"duration-s", required_argument, 0, O_DURATION},
        {"realtime", no_argument, 0, O_RT},
        {"sync-ms", required_argument, 0, OPT_SYNC},
        {"cgroup", required_argument, 0, O_CGROUP},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *interval = env_or("PROC_INTERVAL_MS", "200");
    const char *interval_src = getenv("PROC_INTERVAL_MS") && *getenv("PROC_INTERVAL_MS")
                                   ? "PROC_INTERVAL_MS" : "--interval-ms";
    const char *host_interval = "1000", *sync = "2000", *duration = NULL;
    const char *env_pid = getenv("PROC_PID_DIR");
    o->pid_dir = env_pid && *env_pid ? env_pid : NULL;
    o->no_pid_dir = env_pid && !*env_pid;
    o->match = env_or("PROC_MATCH", DEFAULT_MATCH);
    o->iface = env_or("IFACE", NULL);

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_RUN: o->run_id = optarg; break;
        case O_NODE: o->node_id = optarg; break;
        case O_STAGE: o->stage = optarg; break;
        case O_LOGS: o->logs = optarg; break;
        case O_INTERVAL: interval = optarg; interval_src = "--interval-ms"; break;
        case O_PIDDIR: o->pid_dir = optarg; o->no_pid_dir = false; break;
        case O_NOPID: o->no_pid_dir = true; break;
        case O_MATCH: o->match = optarg; break;
        case O_HOSTINT: host_interval = optarg; break;
        case O_IFACE: o->iface = optarg; break;
        case O_DURATION: duration = optarg; break;
        case O_RT: o->realtime = true; break;
        case OPT_SYNC: sync = optarg; break;
        case O_CGROUP:
            /* a comma list, split in place (argv strings are ours to change) */
            for (char *save = NULL, *t = strtok_r(optarg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!cgstat_path_valid(t)) {
                    cli_error("--cgroup '%s' is not a cgroup path: expected a path relative to the cgroup "
                              "mount roots like system.slice/x.service (no '..', not the root)", t);
                    return TK_EXIT_USAGE;
                }
                if (o->ncgroups == MAX_CGROUPS) {
                    cli_error("--cgroup: at most %d groups", MAX_CGROUPS);
                    return TK_EXIT_USAGE;
                }
                o->cgroups[o->ncgroups++] = t;
            }
            break;
        case 'h': fputs(usage_text, stdout); return -1;
        default:
            fprintf(stderr, "(see 'tracekit collect --help')\n");
            return TK_EXIT_USAGE;
        }
    }
    if (!parse_i64(interval, 1, 3600000, &o->interval_ms)) {
        cli_error("%s must be a whole number of milliseconds from 1 to 3600000, got '%s'",
                  interval_src, interval);
        return TK_EXIT_USAGE;
    }
    if (!parse_i64(host_interval, 0, 3600000, &o->host_interval_ms)) {
        cli_error("--host-interval-ms must be a whole number of milliseconds from 0 (off) to 3600000, got '%s'",
                  host_interval);
        return TK_EXIT_USAGE;
    }
    if (!parse_i64(sync, 0, 3600000, &o->sync_ms)) {
        cli_error("--sync-ms must be a whole number of milliseconds from 0 to 3600000, got '%s'", sync);
        return TK_EXIT_USAGE;
    }
    o->duration_s = 0;
    if (duration && !parse_double(duration, 0.001, 1e9, &o->duration_s)) {
        cli_error("--duration-s must be a positive number of seconds, got '%s'", duration);
        return TK_EXIT_USAGE;
    }
    return 0;
}

static int compile_match(const char *text, regex_t *re)
{
    int rc = regcomp(re, text, REG_EXTENDED | REG_NOSUB);
    if (rc) {
        char msg[256];
        regerror(rc, re, msg, sizeof msg);
        cli_error("--match/PROC_MATCH '%s' is not a valid POSIX extended regex: %s", text, msg);
        return -1;
    }
    return 0;
}

static uint64_t start_ticks_of(int pid, char *comm, size_t comm_len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    size_t n;
    char *text = read_file(path, &n);
    struct proc_stat st;
    uint64_t r = 0;
    /* A zombie is no longer a running sampler (its reaper may be slow). */
    if (text && procfs_parse_stat(text, n, &st) == 0 && st.state != 'Z' && st.state != 'X') {
        r = st.start_ticks;
        if (comm)
            snprintf(comm, comm_len, "%s", st.comm);
    }
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
                 start_ticks_of(r->pid, NULL, 0) == st;
}

static int do_stop(struct run_ctx *rc, const char *status_path)
{
    struct recorded r;
    read_recorded(status_path, &r);
    if (!r.doc) {
        cli_error("no collector has run for run '%s' (no %s)", rc->run_id, status_path);
        return TK_EXIT_FAIL;
    }
    if (!r.running) {
        cli_error("no collector is running for run '%s' (%s names pid %d, which is %s)",
                  rc->run_id, status_path, r.pid,
                  r.pid > 0 ? "stopped or now another process" : "unknown");
        json_decref(r.doc);
        return TK_EXIT_FAIL;
    }
    json_decref(r.doc);
    /* A pidfd pins the process we verified: the signal cannot reach a
     * process that reused the PID in between (original bug B21). */
    int pfd = (int)syscall(SYS_pidfd_open, r.pid, 0);
    if (pfd < 0 || syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0) < 0) {
        cli_error("cannot signal collector pid %d: %s", r.pid, strerror(errno));
        if (pfd >= 0)
            close(pfd);
        return TK_EXIT_FAIL;
    }
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    int ready = poll(&p, 1, 15000);
    if (ready <= 0) {
        log_warn("collector pid %d did not stop within 15 s; sending SIGKILL", r.pid);
        syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
        poll(&p, 1, 5000);
    }
    close(pfd);
    struct recorded after;
    read_recorded(status_path, &after);
    json_t *stats = after.doc ? json_object_get(after.doc, "stats") : NULL;
    printf("collector stopped (pid %d): %lld process samples of %lld processes, %lld host samples -> %s\n",
           r.pid, (long long)json_integer_value(json_object_get(stats, "proc_samples")),
           (long long)json_integer_value(json_object_get(stats, "processes_seen")),
           (long long)json_integer_value(json_object_get(stats, "host_samples")), rc->run_dir);
    json_decref(after.doc);
    return ready > 0 ? TK_EXIT_OK : TK_EXIT_FAIL;
}

static int do_status(struct run_ctx *rc, const char *status_path)
{
    struct recorded r;
    read_recorded(status_path, &r);
    if (!r.doc) {
        printf("run %s: no collector has run (no %s)\n", rc->run_id, status_path);
        return 3;
    }
    json_t *st = json_object_get(r.doc, "stats");
    printf("run %s: collector %s (pid %d, mode %s, interval %lld ms)\n", rc->run_id,
           r.running ? "running" : "not running", r.pid,
           json_string_value(json_object_get(r.doc, "mode")),
           (long long)json_integer_value(json_object_get(r.doc, "interval_ms")));
    const char *k;
    json_t *v;
    json_object_foreach(st, k, v) {
        if (json_is_integer(v))
            printf("  %-28s %lld\n", k, (long long)json_integer_value(v));
        else if (json_is_number(v))
            printf("  %-28s %.3f\n", k, json_number_value(v));
    }
    json_decref(r.doc);
    return r.running ? TK_EXIT_OK : 3;
}

static int write_node_meta(struct run_ctx *rc, const char *iface)
{
    struct node_meta m;
    node_meta_probe(&m, rc->run_id, rc->node_id, rc->stage, iface);
    struct jbuf b;
    jb_init(&b);
    node_meta_json(&m, &b);
    char *path = path_join(rc->run_dir, "node_meta.json");
    int r = write_file_atomic(path, b.p, b.len);
    if (r < 0)
        cli_error("cannot write %s: %s", path, strerror(errno));
    free(path);
    jb_free(&b);
    return r;
}

int cmd_collect(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
            fputs(usage_text, stdout);
            return TK_EXIT_OK;
        }
        cli_error("expected an action: start, stop, status or run (see 'tracekit collect --help')");
        return TK_EXIT_USAGE;
    }
    const char *action = argv[1];
    bool is_start = !strcmp(action, "start"), is_run = !strcmp(action, "run");
    bool is_stop = !strcmp(action, "stop"), is_status = !strcmp(action, "status");
    if (!is_start && !is_run && !is_stop && !is_status) {
        cli_error("unknown action '%s': expected start, stop, status or run", action);
        return TK_EXIT_USAGE;
    }
    struct collect_opts o = {0};
    int prc = parse_opts(argc - 1, argv + 1, &o);
    if (prc)
        return prc < 0 ? TK_EXIT_OK : prc;
    if (optind < argc - 1) {
        cli_error("unexpected argument '%s'", argv[optind + 1]);
        return TK_EXIT_USAGE;
    }

    struct run_ctx rc;
    char err[512];
    if (run_ctx_resolve(&rc, o.run_id, o.node_id, o.stage, o.logs,
                        (is_stop || is_status) ? RUNID_NEWEST : RUNID_NEW, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    char *status_path = path_join(rc.run_dir, "collector.json");
    int ret = TK_EXIT_FAIL;
    regex_t re;
    bool have_re = false;
    char *pid_dir = NULL;
    struct sampler *s = NULL;

    if (is_stop) {
        ret = do_stop(&rc, status_path);
        goto out;
    }
    if (is_status) {
        ret = do_status(&rc, status_path);
        goto out;
    }

    if (compile_match(o.match, &re) < 0) {
        ret = TK_EXIT_USAGE;
        goto out;
    }
    have_re = true;
    if (mkdir_p(rc.run_dir, 0755) < 0) {
        cli_error("cannot create run folder %s: %s", rc.run_dir, strerror(errno));
        goto out;
    }
    struct recorded r;
    read_recorded(status_path, &r);
    json_decref(r.doc);
    if (r.running) {
        cli_error("a collector is already running for run '%s' (pid %d); stop it first with "
                  "'tracekit collect stop --run-id %s'", rc.run_id, r.pid, rc.run_id);
        goto out;
    }
    if (write_node_meta(&rc, o.iface) < 0)
        goto out;
    if (!o.no_pid_dir)
        pid_dir = o.pid_dir ? xstrdup(o.pid_dir) : path_join(rc.run_dir, "pids");

    struct sampler_opts so = {
        .run_dir = rc.run_dir,
        .node_id = rc.node_id,
        .status_path = status_path,
        .interval_ms = (int)o.interval_ms,
        .host_interval_ms = (int)o.host_interval_ms,
        .pid_dir = pid_dir,
        .match = &re,
        .match_text = o.match,
        .iface = o.iface,
        .duration_s = o.duration_s,
        .realtime = o.realtime,
        .sync_every_ms = (int)o.sync_ms,
        .cgroups = o.cgroups,
        .ncgroups = o.ncgroups,
    };
    s = sampler_open(&so, err, sizeof err);
    if (!s) {
        cli_error("%s", err);
        goto out;
    }
    const char *mode = pid_dir ? "whitelist" : "scan";
    if (rc.run_id_source && !strcmp(rc.run_id_source, "new"))
        log_info("new run id %s (export RUN_ID=%s or write it to run_id.env so other commands use it)",
                 rc.run_id, rc.run_id);

    if (is_start) {
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0) {
            cli_error("pipe: %s", strerror(errno));
            goto out;
        }
        pid_t pid = fork();
        if (pid < 0) {
            cli_error("fork: %s", strerror(errno));
            goto out;
        }
        if (pid == 0) {
            close(ready[0]);
            setsid();
            char *logp = path_join(rc.run_dir, "collector.log");
            int lfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            int nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            free(logp);
            if (nfd >= 0)
                dup2(nfd, STDIN_FILENO);
            if (lfd >= 0) {
                dup2(lfd, STDOUT_FILENO);
                dup2(lfd, STDERR_FILENO);
            }
            if (nfd >= 0)
                close(nfd);
            if (lfd >= 0)
                close(lfd);
            int self = getpid();
            sampler_set_identity(s, self, start_ticks_of(self, NULL, 0));
            log_info("sampler started: run %s, node %s, mode %s, interval %lld ms", rc.run_id,
                     rc.node_id, mode, (long long)o.interval_ms);
            char one = 1;
            if (write(ready[1], &one, 1) != 1)
                _exit(1);
            close(ready[1]);
            ret = sampler_loop(s) == 0 ? TK_EXIT_OK : TK_EXIT_FAIL;
            sampler_close(s);
            s = NULL;
            log_info("sampler stopped");
            goto out;
        }
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
            cli_error("the sampler did not start; see %s/collector.log", rc.run_dir);
            goto out;
        }
        printf("proc sampler started (pid %d, mode=%s, interval=%.3fs) -> %s/proc_metrics.jsonl\n",
               pid, mode, (double)o.interval_ms / 1000.0, rc.run_dir);
        printf("collectors started -> %s (stop with: tracekit collect stop --run-id %s)\n",
               rc.run_dir, rc.run_id);
        ret = TK_EXIT_OK;
        goto out;
    }

    /* run: foreground */
    int self = getpid();
    sampler_set_identity(s, self, start_ticks_of(self, NULL, 0));
    log_info("sampling run %s (node %s, mode %s, interval %lld ms) -> %s", rc.run_id, rc.node_id,
             mode, (long long)o.interval_ms, rc.run_dir);
    ret = sampler_loop(s) == 0 ? TK_EXIT_OK : TK_EXIT_FAIL;
    sampler_close(s);
    s = NULL;
    struct recorded fin;
    read_recorded(status_path, &fin);
    json_t *st = fin.doc ? json_object_get(fin.doc, "stats") : NULL;
    log_info("stopped: %lld process samples of %lld processes, %lld host samples -> %s",
             (long long)json_integer_value(json_object_get(st, "proc_samples")),
             (long long)json_integer_value(json_object_get(st, "processes_seen")),
             (long long)json_integer_value(json_object_get(st, "host_samples")), rc.run_dir);
    json_decref(fin.doc);
out:
    sampler_close(s);
    if (have_re)
        regfree(&re);
    free(pid_dir);
    free(status_path);
    run_ctx_free(&rc);
    return ret;
}
