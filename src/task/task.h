/* task.h -- run one command as a traced task and append its record to
 * logs/RUN_ID/events.APP.jsonl (docs/formats.md).
 *
 * Order of events: fork (the child waits) -> read its start ticks -> write
 * the sentinel pids/PID -> CPU binding (leases, cgroups, affinity) -> take
 * ts_start -> release -> ... exit seen (ts_end, same wall clock) -> remove
 * the sentinel -> reap -> reap leftovers -> remove cgroups, free CPUs ->
 * write the record.  The record is written even if the command could not
 * be started (status 127 and `error`). */
#ifndef TK_TASK_H
#define TK_TASK_H

#include "common/jsonl.h"
#include "task/cpubind.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct task_opts {
    char **argv;                /* the command */
    bool ffmpeg;                /* measure ffmpeg files even if argv[0] is not "ffmpeg" */
    const char *app;            /* events.APP.jsonl; NULL = base name of argv[0] */
    const char *trace_id;       /* NULL = new UUIDv4 */
    bool has_ts_enqueue;
    int64_t ts_enqueue;
    int cpu_units;
    const char *cpuset;         /* --cpuset text, or NULL */
    enum cpu_binding binding;
    int cpu_weight;             /* -1 = default (shared: 100 x units) */
    int cpu_quota;              /* percent of one CPU, -1 = none */
    const char *cgroup_parent;
    const char *run_dir;        /* logs/RUN_ID (exists) */
    const char *pid_dir;        /* sentinel folder (exists) */
    const char *node, *stage;
    int attempt;
    int orphan_wait_ms;
};

/* Run it; returns the exit status for tracekit exec (the command's status,
 * 128+N if killed by signal N, 127 if it could not start; 1 if it ran fine
 * but its record could not be written). */
int task_run(const struct task_opts *o);

/* ---- the record (pure) ---- */

struct task_record {
    const char *trace_id;
    int64_t ts_enqueue, ts_start, ts_end;
    const char *node, *stage, *path;
    const char *input, *output;         /* base names, or NULL */
    pid_t pid;                          /* 0 = no process (fork failed) */
    const char *cpuset;                 /* CPUs the task was pinned to, or NULL */
    bool has_bytes;                     /* bytes_in/out measured (ffmpeg) */
    int64_t bytes_in, bytes_out;
    int status;
    bool has_start_ticks;
    uint64_t start_ticks;
    int signal;                         /* 0 = none */
    bool has_cpu;
    double cpu_user_ms, cpu_sys_ms;
    long max_rss_kb;                    /* < 0: unknown */
    char *const *argv;
    const char *app;
    int cpu_units;
    const char *cpu_binding;            /* what was in effect */
    const char *cpuset_applied;         /* task's affinity read back, or NULL */
    int cpu_weight_applied;             /* -1 = none */
    int cpu_quota_applied;              /* -1 = none */
    const char *cgroup;
    int attempt;
    const char *error;
};

/* One JSON object, keys in the documented order. */
void task_record_json(const struct task_record *r, struct jbuf *b);

/* ---- small pure helpers ---- */

/* Sentinel content "PID START_TICKS\n" (out >= 48 bytes); returns length. */
int task_sentinel_text(pid_t pid, uint64_t start_ticks, char *out, size_t outlen);
/* The app name from a command: base name of argv0. */
const char *task_app_name(const char *argv0);

#endif
