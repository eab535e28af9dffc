/* launcher.h -- a task launcher: one long-lived `tracekit exec --launcher`
 * per worker (and per `tracekit local` run) that starts each task's `tracekit exec` as a fork
 * of itself instead of a new program (no exec of tracekit, no dynamic
 * loader per task: docs/benchmarks.md, "Starting a task").
 *
 * The worker (launcher_open) spawns it with a SOCK_SEQPACKET socket as its
 * stdin and sends it one message per task: where the output goes and the
 * exec command line that runner_build made (the same one runner_spawn
 * would start).  The launcher creates the task's process with
 * clone(CLONE_PARENT): a child of the worker, not of the launcher, so the
 * worker reaps it, reads its exit status and signals its process group
 * exactly as it does a posix_spawn'd `tracekit exec`, and the task does not
 * depend on the launcher (it may die; the task goes on and records).  That
 * process takes its own process group, its stdout/stderr, stdin
 * /dev/null, replies its pid to the worker, closes the socket and runs
 * `tracekit exec` with the command line (cmd_exec, through the callback):
 * its --parent-pid is the worker, so the parent-death signal, the
 * forwarded signals and the record are exec's own.
 *
 * Messages: "MODE\0LOG\0ARG0\0ARG1\0...ARGn\0" (MODE f: LOG is the file for
 * stdout and stderr, i: inherited, n: /dev/null); one reply per message, an
 * int32: the task process's pid, or -errno when it could not be started. */
#ifndef TK_LAUNCHER_H
#define TK_LAUNCHER_H

#include "task/runner.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LAUNCHER_MSG_MAX 65536       /* bigger command lines go through runner_spawn */
#define LAUNCHER_REPLY_MS 10000      /* a launcher that does not answer for this long is killed */

/* launcher_spawn's results below 0 besides -1 (task not started: err) */
#define LAUNCHER_DOWN (-2)           /* nothing started: start it another way */
#define LAUNCHER_UNSURE (-3)         /* no answer: it may have started (give it a new exec id) */

struct launcher {
    pid_t pid;                       /* the launcher process (-1: none, or reaped) */
    int fd;                          /* our end of its socket (-1: not usable) */
    int64_t started_ms;              /* monotonic ms when it was spawned */
};

/* A launcher that is not running (pid and fd -1). */
void launcher_init(struct launcher *l);
/* Spawn `path exec --launcher` (path: the tracekit binary, NULL: this one) with the
 * environment runner_spawn gives exec, in its own process group.  Must be
 * called by the thread that spawns the tasks and lives as long as the
 * process (the tasks' parent-death signal follows it).  0, or -1 with err. */
int launcher_open(struct launcher *l, const char *path, char *err, size_t errlen);
/* Start t as runner_spawn(t, out, out_dir) would, through the launcher.
 * Returns the pid (a child of ours), -1 with err when the task cannot be
 * started (its output file, fork), or LAUNCHER_DOWN / LAUNCHER_UNSURE with
 * err when the launcher failed (it is then killed and l->fd is -1; the
 * caller reaps l->pid). */
pid_t launcher_spawn(struct launcher *l, const struct runner_task *t, enum runner_out out,
                     const char *out_dir, char *err, size_t errlen);
/* Close the socket; kill and reap the launcher if it still runs. */
void launcher_close(struct launcher *l);

/* ---- starting tasks through a launcher (the worker and `tracekit local`) ----
 *
 * The policy around a launcher: it is started when due; a task starts
 * through it, else (launcher down, not startable, or a command line too
 * long for it) as a tracekit exec of its own (runner_spawn); a launcher
 * that failed or ended within LAUNCHER_RETRY_MS of its start is not
 * started again before LAUNCHER_RETRY_MS; a task it may have started
 * without saying so (LAUNCHER_UNSURE) gets a new exec id and is built
 * again before it starts the other way.  The caller reaps its children and
 * hands every pid to starter_reaped first. */
#define LAUNCHER_RETRY_MS 5000       /* a launcher that failed or ended early: runner_spawn meanwhile */

struct starter {
    struct launcher l;               /* l.pid: the launcher, to recognise when reaped */
    int64_t launch_at;               /* monotonic ms: (re)start the launcher not before */
    const char *self_exe;            /* the tracekit binary (NULL: this one); borrowed */
};

/* No launcher yet; the first starter_spawn starts one. */
void starter_init(struct starter *s, const char *self_exe);
/* Start the task of body (built by runner_build(rc, body) into t, with
 * exec id exec_id set) as runner_spawn(t, out, out_dir) would.  When the
 * launcher may have started it, exec_id is renewed and t rebuilt.
 * Returns the pid, or -1 with err (task_id names it in messages). */
pid_t starter_spawn(struct starter *s, const struct runner_conf *rc, const char *body,
                    char exec_id[17], struct runner_task *t, enum runner_out out,
                    const char *out_dir, int64_t task_id, char *err, size_t errlen);
/* pid (reaped with status rc): true if it was the launcher (logged, closed,
 * started again with a later task); false: not ours, the caller's. */
bool starter_reaped(struct starter *s, pid_t pid, int rc);
/* Close the launcher (killed and reaped if it still runs). */
void starter_close(struct starter *s);

/* The launcher's side (`tracekit exec --launcher`): serve the messages on
 * fd until end of file; each task process returns run(argc, argv) (argv[0]
 * is "exec") as its exit status.  Returns the exit status of the launcher
 * (0 at end of file). */
typedef int (*launcher_run_fn)(int argc, char **argv);
int launcher_serve(int fd, launcher_run_fn run);

#endif
