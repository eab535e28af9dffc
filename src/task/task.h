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
    const char *exec_id;        /* this execution's id (the worker's), or NULL */
    int orphan_wait_ms;
    const char *user;           /* run the command as this user (needs root); NULL: as us */
};

/* Run it; returns the exit status for tracekit exec (the command's status,
 * 128+N if killed by signal N, 127 if it could not start; 1 if it ran fine
 * but its record could not be written). */
int task_run(const struct task_opts *o);

/* ---- `tracekit exec` around task_run ---- */

struct ffmpeg_profile;

/* Settings exec takes as text: from its options, or when an option is not
 * given from the original's environment variables (read with env). */
struct task_args {
    const char *binding;     /* --cpu-binding, or NULL: shared with a weight or quota, else none */
    const char *cpuset;      /* --cpuset, else $CPUSET */
    const char *weight;      /* --cpu-weight, else $CPU_WEIGHT */
    const char *quota;       /* --cpu-quota, else $CPU_QUOTA: percent of one CPU ("50", "50%") */
    const char *ts_enqueue;  /* --ts-enqueue, else $TS_ENQUEUE (a bad one is ignored) */
    char *(*env)(const char *name);  /* getenv, or a test's; NULL: no environment */
};

/* Set o's cpuset, cpu_weight, cpu_quota, binding and ts_enqueue from a
 * (pure but for env).  Returns 0, or -1 with err naming the option or the
 * variable and its value ("invalid CPU_QUOTA 'abc': ...").  warn gets a
 * sentence about a variable that was ignored, else "". */
int task_args_apply(const struct task_args *a, struct task_opts *o, char *warn, size_t warnlen,
                    char *err, size_t errlen);

/* What exec runs: task.argv, or the ffmpeg command of a profile. */
struct task_exec {
    struct task_opts task;                /* pid_dir NULL: RUN_DIR/pids; cpu_units < 0: the
                                             profile's, else 1 */
    const struct ffmpeg_profile *profile; /* NULL: task.argv */
    const char *input, *output, *ffmpeg;  /* the profile's files (output's folder is made) */
    pid_t parent;                         /* > 0: SIGTERM to the task when this process dies;
                                             nothing runs when it is already gone */
};

/* Create the run and sentinel folders, build the command, run it with
 * task_run.  Returns task_run's status, or 1 (after a log_error) when
 * nothing could be run. */
int task_exec(const struct task_exec *x);

/* Create the run folder and the sentinel folder (pid_dir, or RUN_DIR/pids),
 * logging why not.  Returns the sentinel folder (malloc'd), or NULL. */
char *task_make_dirs(const char *run_dir, const char *pid_dir);

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
    const char *exec_id;                /* NULL: not recorded */
    const char *error;
};

/* One JSON object, keys in the documented order. */
void task_record_json(const struct task_record *r, struct jbuf *b);

/* ---- the reason of a failed task: the end of its output ---- */

#define TASK_TAIL_LINES 5
#define TASK_TAIL_BYTES 1024

/* The last lines of a task's output, for its record's "error" (pure): at
 * most TASK_TAIL_LINES non-empty lines and TASK_TAIL_BYTES bytes of the end
 * of buf, '\r' taken as a line break (ffmpeg's progress), empty lines and
 * trailing blanks dropped, never a cut character, invalid UTF-8 and control
 * characters but '\n' and '\t' replaced by '?'.  out (outlen >=
 * TASK_TAIL_BYTES + 1) gets it NUL-terminated; returns its length (0:
 * nothing printed). */
size_t task_output_tail(const char *buf, size_t n, char *out, size_t outlen);
/* A line of ffmpeg's or ffprobe's banner (version, build, configuration,
 * library versions; pure): printed before anything else, it filled the tail
 * of a task that failed at once (a missing input) and hid the line that says
 * why. */
bool task_output_banner(const char *line, size_t n);
/* buf without its banner lines, compacted in place; returns the new length. */
size_t task_output_drop_banner(char *buf, size_t n);
/* The same of what a regular file open on fd holds from offset from on,
 * banner lines left out (read with pread: the offset is not moved).  0 when
 * fd is not a regular file or holds nothing new. */
size_t task_fd_tail(int fd, int64_t from, char *out, size_t outlen);
/* ... of the file at path (a task's log: open_regular, no symlink). */
size_t task_file_tail(const char *path, char *out, size_t outlen);

/* ---- small pure helpers ---- */

/* Sentinel content "PID START_TICKS\n" (out >= 48 bytes); returns length. */
int task_sentinel_text(pid_t pid, uint64_t start_ticks, char *out, size_t outlen);
/* The app name from a command: base name of argv0. */
const char *task_app_name(const char *argv0);
/* A trace id exec accepts: 1-128 printable characters, no blanks. */
bool task_trace_id_valid(const char *s);

#endif
