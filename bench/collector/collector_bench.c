/* collector_bench -- what the collector costs, side by side with pidstat.
 *
 *   build/bench/collector/collector_bench [--procs 64,1000] [--interval-ms 100]
 *                                         [--seconds 10] [--churn 200]
 *                                         [--tracekit build/tracekit]
 *
 * For each process count it starts that many sleeping children (named
 * "tkbench"), then runs, one after the other, over the same children:
 *   1. tracekit collect run in whitelist mode (a sentinel per child),
 *   2. tracekit collect run in scan mode (--match ^tkbench$),
 *   3. both again with --exit-source proc: without the taskstats listener
 *      (the rows above use it when run as root, "+ts" in the tool name),
 *   3b. both again with --backend bpf (root, a kernel with BTF): the BPF task
 *      iterator instead of /proc reads ("bpf-" rows; the rows above use
 *      --backend proc),
 *   4. the floor: a bare loop that only preads each child's kept-open
 *      /proc/PID/stat; then the same loop also reading /proc/PID/schedstat,
 *      and the same loop also asking taskstats for the TGID (root): the
 *      two ways to get run delay and exact CPU,
 *   5. pidstat -u -r -p PIDS 1 (sysstat; 1 s is its shortest interval).
 * Meanwhile a churner starts and reaps --churn short untraced processes
 * per second, so the taskstats listener has exits to read and discard, as
 * on a busy node.
 * Each runs as our child, so wait4() gives its exact CPU time; cost per
 * process-sample = that CPU / samples written.  Tick jitter and drift come
 * from the collector's own monotonic timestamps in proc_metrics.jsonl. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect/taskstats.h"
#include "common/jsonl.h"
#include "common/util.h"

struct result {
    double cpu_ms;
    long samples;
    double us_per_sample;
    double p50, p99, max;  /* |tick interval - period|, µs */
    double drift_ms;       /* last tick - first tick - (ticks-1)*period */
    long ticks;
};

static pid_t spawn_sleeper(void)
{
    pid_t p = fork();
    if (p == 0) {
        prctl(PR_SET_NAME, "tkbench");
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;)
            pause();
    }
    return p;
}

/* Start and reap `rate` trivial processes per second until killed. */
static pid_t spawn_churner(int rate)
{
    pid_t p = fork();
    if (p != 0)
        return p;
    prctl(PR_SET_NAME, "tkchurn");
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long step = 1000000000L / rate;
    for (;;) {
        ts.tv_nsec += step;
        while (ts.tv_nsec >= 1000000000) {
            ts.tv_nsec -= 1000000000;
            ts.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        pid_t c = fork();
        if (c == 0)
            _exit(0);
        if (c > 0)
            waitpid(c, NULL, 0);
    }
}

static double run_and_measure(char **argv, const char *out_path, double *wall_s)
{
    int64_t t0 = now_mono_ns();
    pid_t p = fork();
    if (p == 0) {
        if (out_path) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(fd, 1);
        }
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    wait4(p, &st, 0, &ru);
    *wall_s = (double)(now_mono_ns() - t0) / 1e9;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "warning: %s exited with status %d\n", argv[0], WEXITSTATUS(st));
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Jitter and drift from the tick records of the first sampled process. */
static void tick_stats(const char *path, int period_ms, struct result *r)
{
    struct jsonl_reader rd;
    r->samples = 0;
    if (jsonl_reader_open(&rd, path) < 0)
        return;
    json_t *o;
    long want_pid = -1;
    size_t n = 0, cap = 1024;
    double *mono = xmalloc(cap * sizeof *mono);
    while (jsonl_next(&rd, &o) == 1) {
        r->samples++;
        const char *ev = json_string_value(json_object_get(o, "ev"));
        long pid = (long)json_integer_value(json_object_get(o, "pid"));
        if (want_pid < 0)
            want_pid = pid;
        if (pid == want_pid && ev && !strcmp(ev, "tick")) {
            if (n == cap)
                mono = xrealloc(mono, (cap *= 2) * sizeof *mono);
            mono[n++] = (double)json_integer_value(json_object_get(o, "mono_us"));
        }
        json_decref(o);
    }
    jsonl_reader_close(&rd);
    r->ticks = (long)n;
    if (n >= 3) {
        double *err = xmalloc(n * sizeof *err);
        for (size_t i = 1; i < n; i++)
            err[i - 1] = fabs(mono[i] - mono[i - 1] - period_ms * 1000.0);
        qsort(err, n - 1, sizeof *err, cmp_d);
        r->p50 = err[(size_t)(0.50 * (double)(n - 2))];
        r->p99 = err[(size_t)ceil(0.99 * (double)(n - 2))];
        r->max = err[n - 2];
        r->drift_ms = (mono[n - 1] - mono[0] - (double)(n - 1) * period_ms * 1000.0) / 1000.0;
        free(err);
    }
    free(mono);
}

/* The floor (variant 0): a bare loop on the same grid that only preads
 * each child's kept-open /proc/PID/stat, what any sampler must do; variant
 * 1 also preads /proc/PID/schedstat, variant 2 also asks taskstats for the
 * TGID (root only): the two ways to read run delay and exact CPU. */
static void floor_row(const pid_t *kids, int n, int interval, double seconds, int variant)
{
    static const char *names[] = {"floor", "+schedstat", "+tgid"};
    char why[256];
    struct tstats *ts = NULL;
    if (variant == 2 && !(ts = tstats_open(why, sizeof why))) {
        printf("%-12s %6d  skipped: %s\n", names[variant], n, why);
        return;
    }
    pid_t fp = fork();
    if (fp == 0) {
        int *fds = xcalloc((size_t)n * 2, sizeof *fds);
        for (int i = 0; i < n; i++) {
            char p[64];
            snprintf(p, sizeof p, "/proc/%d/stat", kids[i]);
            fds[2 * i] = open(p, O_RDONLY);
            snprintf(p, sizeof p, "/proc/%d/schedstat", kids[i]);
            fds[2 * i + 1] = variant == 1 ? open(p, O_RDONLY) : -1;
            if (fds[2 * i] < 0 || (variant == 1 && fds[2 * i + 1] < 0)) {
                fprintf(stderr, "%s: cannot open %d descriptors: %s\n", names[variant],
                        variant == 1 ? 2 * n : n, strerror(errno));
                _exit(1);
            }
        }
        char buf[4096];
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ticks = (long)(seconds * 1000 / interval);
        for (long k = 0; k < ticks; k++) {
            t.tv_nsec += (long)interval * 1000000;
            while (t.tv_nsec >= 1000000000) {
                t.tv_nsec -= 1000000000;
                t.tv_sec++;
            }
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
            for (int i = 0; i < n; i++) {
                struct tstats_rec r;
                if (pread(fds[2 * i], buf, sizeof buf, 0) < 0 ||
                    (variant == 1 && pread(fds[2 * i + 1], buf, sizeof buf, 0) < 0) ||
                    (variant == 2 && tstats_query(ts, kids[i], &r) < 0))
                    _exit(1);
            }
        }
        _exit(0);
    }
    tstats_close(ts);
    int st;
    struct rusage ru;
    wait4(fp, &st, 0, &ru);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("%-12s %6d  failed (above)\n", names[variant], n);
        fflush(stdout);
        return;
    }
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    long samples = (long)n * (long)(seconds * 1000 / interval);
    printf("%-12s %6d %9ld %10.1f %12.2f %9s %9s %9s %9s\n", names[variant], n, samples, cpu,
           cpu * 1000.0 / (double)samples, "-", "-", "-", "-");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *procs_list = "64,1000", *tracekit = "build/tracekit";
    int interval = 100, churn = 200;
    double seconds = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--procs") && i + 1 < argc)
            procs_list = argv[++i];
        else if (!strcmp(argv[i], "--interval-ms") && i + 1 < argc)
            interval = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--churn") && i + 1 < argc)
            churn = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tracekit") && i + 1 < argc)
            tracekit = argv[++i];
        else {
            fprintf(stderr, "usage: collector_bench [--procs 64,1000] [--interval-ms 100] "
                            "[--seconds 10] [--churn 200] [--tracekit build/tracekit]\n");
            return 2;
        }
    }
    char dir[] = "/tmp/tk-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int have_pidstat = access("/usr/bin/pidstat", X_OK) == 0;
    /* 10 000 processes need 3 descriptors each in the collector and 2 in the
     * +schedstat loop: raise the hard limit where we may (they inherit it),
     * and say when it stays too low (the collector then tracks fewer). */
    struct rlimit rl = {65536, 65536};
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0)
        printf("# descriptors: hard limit %llu (cannot raise it: %s): the collector tracks at "
               "most about %llu processes\n", (unsigned long long)rl.rlim_max, strerror(errno),
               (unsigned long long)rl.rlim_max / 3);
    printf("# collector benchmark: interval %d ms, %.0f s per run, %ld CPUs, %d untraced exits/s\n",
           interval, seconds, sysconf(_SC_NPROCESSORS_ONLN), churn);
    pid_t churner = churn > 0 ? spawn_churner(churn) : -1;
    printf("%-12s %6s %9s %10s %12s %9s %9s %9s %9s\n", "tool", "procs", "samples", "cpu_ms",
           "us/sample", "p50_us", "p99_us", "max_us", "drift_ms  pass_us");
    char *list = xstrdup(procs_list), *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int n = atoi(tok);
        pid_t *kids = xcalloc((size_t)n, sizeof *kids);
        for (int i = 0; i < n; i++)
            kids[i] = spawn_sleeper();
        char sec[32], iv[32];
        snprintf(sec, sizeof sec, "%g", seconds);
        snprintf(iv, sizeof iv, "%d", interval);
        for (int m = 0; m < 6; m++) {
            int mode = m & 1;
            bool proc = m == 2 || m == 3, bpf = m >= 4;
            char run_id[64];
            snprintf(run_id, sizeof run_id, "bench-%d-%s%s%s", n, mode ? "scan" : "whitelist",
                     proc ? "-proc" : "", bpf ? "-bpf" : "");
            char *run_dir = xasprintf("%s/%s", dir, run_id);
            char *pid_dir = xasprintf("%s/pids", run_dir);
            mkdir_p(pid_dir, 0755);
            if (mode == 0)
                for (int i = 0; i < n; i++) {
                    char *p = xasprintf("%s/%d", pid_dir, kids[i]);
                    close(open(p, O_WRONLY | O_CREAT, 0644));
                    free(p);
                }
            char *args[] = {(char *)tracekit, "collect", "run", "--logs", dir, "--run-id", run_id,
                            "--interval-ms", iv, "--duration-s", sec, "--host-interval-ms", "0",
                            "--exit-source", proc ? "proc" : "auto",
                            "--backend", bpf ? "bpf" : "proc",
                            mode ? "--no-pid-dir" : "--pid-dir", mode ? "--match" : pid_dir,
                            mode ? "^tkbench$" : NULL, NULL};
            double wall;
            double cpu = run_and_measure(args, NULL, &wall);
            struct result r = {0};
            char *pm = xasprintf("%s/proc_metrics.jsonl", run_dir);
            tick_stats(pm, interval, &r);
            char *st = xasprintf("%s/collector.json", run_dir);
            size_t len = 0;
            char *text = read_file(st, &len);
            bool ts = text && strstr(text, "\"exit_source\": \"taskstats\"");
            bool on_bpf = text && strstr(text, "\"backend\": \"bpf\"");
            /* The sampling passes alone (the collector's thread CPU over its
             * tick loops): without start-up, discovery and the exit records. */
            const char *pu = text ? strstr(text, "\"sampling_cpu_us_per_sample\": ") : NULL;
            double pass_us = pu ? atof(pu + strlen("\"sampling_cpu_us_per_sample\": ")) : 0;
            free(text);
            free(st);
            if (bpf && !on_bpf) {
                printf("%-12s %6d  skipped: --backend bpf refused (not root, no BTF, or not built)\n",
                       mode ? "bpf-scan" : "bpf-white", n);
                free(pm);
                free(run_dir);
                free(pid_dir);
                continue;
            }
            char tool[32];
            snprintf(tool, sizeof tool, "%s%s", mode ? (bpf ? "bpf-scan" : "tk-scan")
                                                     : (bpf ? "bpf-white" : "tk-white"),
                     ts ? "+ts" : "");
            printf("%-12s %6d %9ld %10.1f %12.2f %9.0f %9.0f %9.0f %9.2f %8.2f\n",
                   tool, n, r.samples, cpu,
                   r.samples ? cpu * 1000.0 / (double)r.samples : 0, r.p50, r.p99, r.max, r.drift_ms,
                   pass_us);
            fflush(stdout);
            free(pm);
            free(run_dir);
            free(pid_dir);
        }
        for (int v = 0; v < 3; v++)
            floor_row(kids, n, interval, seconds, v);
        if (have_pidstat && n <= 1000) {   /* its -p list and its cost grow too long beyond */
            size_t len = (size_t)n * 12 + 1;
            char *pids = xcalloc(len, 1);
            for (int i = 0; i < n; i++)
                snprintf(pids + strlen(pids), len - strlen(pids), "%s%d", i ? "," : "", kids[i]);
            char count[32];
            snprintf(count, sizeof count, "%d", (int)seconds);
            char *out = xasprintf("%s/pidstat-%d.txt", dir, n);
            char *args[] = {"pidstat", "-h", "-u", "-r", "-p", pids, "1", count, NULL};
            double wall;
            double cpu = run_and_measure(args, out, &wall);
            /* pidstat prints one line per process per second (-h). */
            long samples = (long)n * (long)seconds;
            printf("%-12s %6d %9ld %10.1f %12.2f %9s %9s %9s %9s\n", "pidstat", n, samples, cpu,
                   cpu * 1000.0 / (double)samples, "-", "-", "-", "-");
            fflush(stdout);
            free(out);
            free(pids);
        }
        for (int i = 0; i < n; i++)
            kill(kids[i], SIGKILL);
        for (int i = 0; i < n; i++)
            waitpid(kids[i], NULL, 0);
        free(kids);
    }
    free(list);
    if (churner > 0) {
        kill(churner, SIGKILL);
        waitpid(churner, NULL, 0);
    }
    char *rm[] = {"rm", "-rf", dir, NULL};
    double w;
    run_and_measure(rm, NULL, &w);
    return 0;
}
