/* bench_parse.c -- how fast `tracekit parse` turns raw samples into CTS.
 *
 * Writes a synthetic run (PROCS processes x TICKS ticks of raw
 * proc_metrics lines in the collector's format, one task event per
 * process, node_meta.json), times the line reader both ways (the fast
 * scanner and a jansson tree per line) on that file, then runs
 * `tracekit parse` on it as a child process and reports rows/s.
 *
 *   build/bench/parse/bench_parse [--procs N] [--ticks N] [--legacy]
 *                                 [--tracekit PATH] [--dir DIR] [--keep]
 */
#include "common/fstree.h"
#include "common/jsonl.h"
#include "trace/rawproc.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define RUN_ID "bench"
#define T0_MS 1758580000000LL
#define INTERVAL_MS 200

static int write_run(const char *run_dir, long procs, long ticks, bool legacy)
{
    if (mkdir_p(run_dir, 0755) < 0)
        return -1;
    char *p = path_join(run_dir, "node_meta.json");
    const char *meta =
        "{\"run_id\": \"bench\", \"node\": \"bench1\", \"stage\": \"cloud\", \"host\": \"bench1\", "
        "\"iface\": \"lo\", \"cpu_cores\": 2, \"mem_mb\": 23540, \"cpu_model\": \"synthetic\", "
        "\"cpu_freq_mhz\": 2400, \"clk_tck\": 100, \"proc_interval_ms\": 200}";
    int rc = write_file_atomic(p, meta, strlen(meta));
    free(p);
    if (rc < 0)
        return -1;

    p = path_join(run_dir, "proc_metrics.jsonl");
    FILE *f = fopen(p, "w");
    free(p);
    if (!f)
        return -1;
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    struct jbuf b;
    jb_init(&b);
    unsigned seed = 12345;
    for (long t = 0; t < ticks; t++) {
        for (long i = 0; i < procs; i++) {
            seed = seed * 1103515245u + 12345u;
            int64_t ts = T0_MS + t * INTERVAL_MS + (int64_t)(seed >> 28);  /* 0-15 ms jitter */
            int64_t ticks_used = t * 15 + (int64_t)(seed >> 30);            /* ~75% of a core */
            jb_reset(&b);
            jb_obj_open(&b, NULL);
            jb_int(&b, "ts_ms", ts);
            jb_int(&b, "pid", 10000 + i);
            jb_int(&b, "rss_kb", 50000 + (int64_t)(seed >> 20) % 1000);
            jb_int(&b, "utime", ticks_used * 9 / 10);
            jb_int(&b, "stime", ticks_used - ticks_used * 9 / 10);
            if (!legacy) {
                jb_int(&b, "start_ticks", 500000 + i);
                jb_str(&b, "comm", "ffmpeg");
                jb_fixed(&b, "cpu_ms", (double)ticks_used * 10.0 + (double)(seed >> 29) * 0.125, 3);
                jb_int(&b, "mono_us", (ts - T0_MS) * 1000 + 81234567890LL + (int64_t)(seed >> 22) % 1000);
                jb_int(&b, "threads", 3);
                jb_str(&b, "ev", t == 0 ? "new" : "tick");
            }
            jb_obj_close(&b);
            jb_newline(&b);
            fwrite(b.p, 1, b.len, f);
        }
    }
    if (fclose(f) != 0) {
        jb_free(&b);
        return -1;
    }

    p = path_join(run_dir, "events.ffmpeg.jsonl");
    f = fopen(p, "w");
    free(p);
    if (!f) {
        jb_free(&b);
        return -1;
    }
    for (long i = 0; i < procs; i++) {
        char id[40];
        snprintf(id, sizeof id, "bench-%06ld", i);
        jb_reset(&b);
        jb_obj_open(&b, NULL);
        jb_str(&b, "trace_id", id);
        jb_int(&b, "ts_enqueue", T0_MS - 500);
        jb_int(&b, "ts_start", T0_MS - 100);
        jb_int(&b, "ts_end", T0_MS + ticks * INTERVAL_MS + 50);
        jb_str(&b, "node", "bench1");
        jb_str(&b, "stage", "cloud");
        jb_int(&b, "pid", 10000 + i);
        jb_int(&b, "status", 0);
        if (!legacy) {
            jb_int(&b, "start_ticks", 500000 + i);
            jb_null(&b, "signal");
            jb_double(&b, "cpu_user_ms", (double)ticks * 135.0);
            jb_double(&b, "cpu_sys_ms", (double)ticks * 15.0);
            jb_int(&b, "max_rss_kb", 51000);
        }
        jb_obj_close(&b);
        jb_newline(&b);
        fwrite(b.p, 1, b.len, f);
    }
    jb_free(&b);
    return fclose(f) == 0 ? 0 : -1;
}

/* Seconds to read every line of the raw file one way or the other. */
static double time_reader(const char *path, bool fast, uint64_t *ok)
{
    struct jsonl_reader r;
    if (jsonl_reader_open(&r, path) < 0)
        return -1;
    const char *line;
    size_t len;
    bool complete;
    *ok = 0;
    int64_t t0 = now_mono_ns();
    while (jsonl_next_line(&r, &line, &len, &complete) == 1) {
        struct raw_sample s;
        if (fast) {
            *ok += raw_parse_line(line, len, &s) == RAW_OK;
        } else {
            json_t *o = json_loadb(line, len, 0, NULL);
            *ok += o && raw_from_json(o, &s) == RAW_OK;
            json_decref(o);
        }
    }
    double sec = (double)(now_mono_ns() - t0) / 1e9;
    jsonl_reader_close(&r);
    return sec;
}

static int run_parse(const char *tracekit, const char *logs, double *sec)
{
    char *argv[] = {(char *)tracekit, "parse", "--logs", (char *)logs, "--run-id", RUN_ID,
                    "--quiet", NULL};
    pid_t pid;
    int64_t t0 = now_mono_ns();
    int err = posix_spawn(&pid, tracekit, NULL, NULL, argv, environ);
    if (err) {
        fprintf(stderr, "bench_parse: cannot run %s: %s\n", tracekit, strerror(err));
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    *sec = (double)(now_mono_ns() - t0) / 1e9;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_parse: tracekit parse failed (status %d)\n", st);
        return -1;
    }
    return 0;
}

static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long n = 0;
    int c;
    while ((c = getc_unlocked(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    long procs = 200, ticks = 5000;
    const char *tracekit = "build/tracekit", *dir = NULL;
    bool keep = false, legacy = false;
    static const struct option opts[] = {
        {"procs", required_argument, NULL, 'p'}, {"ticks", required_argument, NULL, 't'},
        {"tracekit", required_argument, NULL, 'k'}, {"dir", required_argument, NULL, 'd'},
        {"keep", no_argument, NULL, 'K'}, {"legacy", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    int c;
    int64_t v;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
        case 't':
            if (!parse_i64(optarg, 1, 100000000, &v)) {
                fprintf(stderr, "bench_parse: --%s '%s': expected a positive whole number\n",
                        c == 'p' ? "procs" : "ticks", optarg);
                return 2;
            }
            *(c == 'p' ? &procs : &ticks) = (long)v;
            break;
        case 'k': tracekit = optarg; break;
        case 'd': dir = optarg; break;
        case 'K': keep = true; break;
        case 'L': legacy = true; break;
        case 'h':
            printf("usage: bench_parse [--procs N] [--ticks N] [--legacy] [--tracekit PATH] "
                   "[--dir DIR] [--keep]\n");
            return 0;
        default:
            return 2;
        }
    }
    char *tmpdir = NULL;
    if (!dir) {
        char tmpl[] = "/tmp/tk-bench-parse.XXXXXX";
        if (!mkdtemp(tmpl)) {
            perror("bench_parse: mkdtemp");
            return 1;
        }
        tmpdir = xstrdup(tmpl);
        dir = tmpdir;
    }
    char *run_dir = xasprintf("%s/%s", dir, RUN_ID);
    char *raw = path_join(run_dir, "proc_metrics.jsonl");
    char *cts = path_join(run_dir, "CTS/proc_metrics.jsonl");
    int rc = 1;
    long samples = procs * ticks;

    int64_t t0 = now_mono_ns();
    if (write_run(run_dir, procs, ticks, legacy) < 0) {
        fprintf(stderr, "bench_parse: cannot write %s: %s\n", run_dir, strerror(errno));
        goto out;
    }
    struct stat st;
    stat(raw, &st);
    printf("wrote %ld raw samples (%ld processes x %ld ticks, %s format, %.1f MB) in %.2f s\n",
           samples, procs, ticks, legacy ? "original" : "collector", (double)st.st_size / 1e6,
           (double)(now_mono_ns() - t0) / 1e9);

    uint64_t okf, okj;
    double fast = time_reader(raw, true, &okf), slow = time_reader(raw, false, &okj);
    printf("line reader: fast path %.2f s (%.0f lines/s), jansson per line %.2f s (%.0f lines/s)\n",
           fast, (double)okf / fast, slow, (double)okj / slow);

    double best = 0;
    for (int i = 0; i < 3; i++) {
        double sec;
        if (run_parse(tracekit, dir, &sec) < 0)
            goto out;
        printf("tracekit parse run %d: %.2f s (%.0f rows/s)\n", i + 1, sec, (double)samples / sec);
        if (i == 0 || sec < best)
            best = sec;
    }
    long out_lines = count_lines(cts);
    printf("best: %.2f s for %ld raw samples = %.0f rows/s; CTS proc_metrics lines: %ld\n", best,
           samples, (double)samples / best, out_lines);
    rc = out_lines == samples ? 0 : 1;
    if (rc)
        fprintf(stderr, "bench_parse: expected %ld CTS lines\n", samples);
out:
    if (!keep && tmpdir)
        fstree_rm_rf(tmpdir);
    else
        printf("kept %s\n", dir);
    free(run_dir);
    free(raw);
    free(cts);
    free(tmpdir);
    return rc;
}
