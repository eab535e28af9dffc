/* runner.h -- how a worker (and `tracekit local`) runs one task: the task
 * body as a worker receives it becomes the argv of a `tracekit exec` child,
 * which is spawned in its own process group with a clean environment.
 *
 * The pure part (runner_build, runner_env, runner_rc) is unit-tested; the
 * I/O part is runner_spawn and runner_reap.  The caller owns the loop: it
 * spawns, keeps pid -> task, and reaps (SIGCHLD, signalfd, a thread, ...). */
#ifndef TK_RUNNER_H
#define TK_RUNNER_H

#include "task/task.h"

#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* rc of a task whose body could not be turned into a command, or whose
 * child could not be started (like a shell's "command not found"). */
#define RUNNER_RC_BAD 127

struct runner_conf {
    const char *self_exe;       /* the tracekit binary (NULL: "/proc/self/exe") */
    const char *run_id, *node, *stage, *logs;
    const char *pid_dir;        /* NULL: exec's default (logs/RUN_ID/pids) */
    enum cpu_binding binding;
    int cpuweight_per_vcpu;     /* shared: --cpu-weight = this x units (clamped 1-10000) */
    const char *ffmpeg;         /* NULL: "ffmpeg" */
    const char *outputs;        /* NULL: a task's own output path; else DIR/base name */
    double orphan_wait_s;       /* < 0: exec's default */
    pid_t parent;               /* > 0: exec --parent-pid (the spawning thread must live
                                   as long as this process: PR_SET_PDEATHSIG) */
    char *const *allow_argv;    /* NULL-terminated: the programs a generic (argv) task may
                                   run, by name or path; NULL: any */
    const char *task_user;      /* exec --user: run the command as this user (NULL: as us) */
};

struct runner_task {
    int64_t id;                 /* task_id (-1 if the body has none) */
    int attempt;
    int cpu_units;              /* >= 1 */
    bool ffmpeg;
    char *output_dir;           /* folder to create before an ffmpeg task, or NULL */
    char *path;                 /* the binary to run (conf self_exe) */
    char **argv;                /* tracekit exec ... -- COMMAND (NULL-terminated) */
};

/* Build the exec argv from a body ({"task_id", "trace_id", <fields>,
 * "ts_enqueue", "attempt"}; docs/redis.md, "Running a worker").  Returns 0,
 * or -1 with err = "task ID: what is wrong" (t->id and t->attempt are set
 * as far as they could be read, the rest is empty).  A generic task whose
 * argv[0] is not allowed by c->allow_argv is refused that way too. */
int runner_build(const struct runner_conf *c, const char *body, struct runner_task *t,
                 char *err, size_t errlen);
/* A new execution id in out: 16 hex digits of a UUID4's randomness (a
 * time and a counter when there is no randomness). */
void runner_exec_id_new(char out[17]);
/* Add "--exec-id ID" to a built task's exec command line (before "--"):
 * the worker's id of this execution (docs/formats.md, "Executions"). */
void runner_set_exec_id(struct runner_task *t, const char *id);
void runner_task_free(struct runner_task *t);

/* A copy of env (NULL-terminated) without the variables that carry the
 * Redis password (TRACEKIT_REDIS_URL, REDISCLI_AUTH).  The strings are
 * shared with env; free only the array. */
char **runner_env(char *const *env);

/* May a generic task run program (its argv[0]) under allow (NULL: any)?
 * Yes when it is one of the entries, or when both are the same file (device
 * and inode) once a name without '/' is looked up in $PATH as exec's execvp
 * does: "true" and "/bin/true" where /bin/true is the one $PATH finds. */
bool runner_argv_allowed(char *const *allow, const char *program);

/* Logical CPUs this process may run on (its affinity; else the online
 * count; at least 1): what a worker's capacity is computed from. */
int runner_cpus(void);

/* Exit status of a child as a task rc: its code, 128+N if signal N. */
int runner_rc(int wstatus);

/* Where a task's stdout and stderr go. */
enum runner_out { RUNNER_OUT_FILE, RUNNER_OUT_INHERIT, RUNNER_OUT_NULL };

/* DIR/task-ID.aATTEMPT.log (malloc'd). */
char *runner_log_path(const char *dir, int64_t id, int attempt);
/* Why a task failed, from its log file (runner_log_path): the end of its
 * output (task_output_tail), without the info and debug lines of the
 * `tracekit exec` around it.  out gets "" when there is nothing to say
 * (no file, empty).  Returns the length. */
size_t runner_log_reason(const char *path, char *out, size_t outlen);

/* Initialises at as every process tracekit starts for a task is started:
 * its own process group, every signal at its default, an empty signal
 * mask.  The caller destroys it. */
void runner_spawnattr_init(posix_spawnattr_t *at);

/* Before a task starts: its output folder (t->output_dir, made if it can
 * be) and, with out == RUNNER_OUT_FILE, out_dir, and *log =
 * out_dir/task-ID.aATTEMPT.log (malloc'd; else NULL).  0, or -1 with err. */
int runner_prepare_output(const struct runner_task *t, enum runner_out out, const char *out_dir,
                          char **log, char *err, size_t errlen);

/* Create the task's output folder, then posix_spawn t->argv with: its own
 * process group, every signal at its default, an empty signal mask,
 * runner_env(environ), stdin /dev/null, stdout and stderr to
 * out_dir/task-ID.aATTEMPT.log (out == RUNNER_OUT_FILE, out_dir is
 * created), inherited or /dev/null.  Safe in a multi-threaded process.
 * Returns the pid, or -1 with err. */
pid_t runner_spawn(const struct runner_task *t, enum runner_out out, const char *out_dir,
                   char *err, size_t errlen);

/* Reap one exited child: 1 with *pid and *rc, 0 when none has exited (or
 * block: wait for one), -1 when there are no children (errno ECHILD). */
int runner_reap(bool block, pid_t *pid, int *rc);

#endif
