/* launch.h -- start a command as a traced task, in three steps:
 *
 *   spawn_init()     block SIGCHLD and the signals to forward, open a
 *                    signalfd, become a child subreaper;
 *   spawn_fork()     fork; the child waits on a pipe and has not run any of
 *                    the command's code yet;
 *   ...              the caller registers the child (sentinel, cgroups,
 *                    affinity) while it waits;
 *   spawn_release()  let it exec; exec failure comes back over a CLOEXEC pipe;
 *   spawn_wait()     forward SIGINT/SIGTERM/SIGHUP/SIGQUIT, note the exit
 *                    (waitid WNOWAIT, the child still a zombie), call back,
 *                    reap it, then reap descendants it left behind.
 *
 * CPU totals come from RUSAGE_CHILDREN once every descendant is reaped, so
 * the spawning process must have no other children (tracekit exec is one
 * process per task). */
#ifndef TK_LAUNCH_H
#define TK_LAUNCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

struct spawn {
    pid_t pid;
    int release_fd;        /* write end of the release pipe */
    int err_fd;            /* read end of the exec-error pipe */
    int sig_fd;            /* signalfd for SIGCHLD + forwarded signals */
    sigset_t old_mask;
    struct sigaction old_chld;  /* restored in the child before exec */
    bool inited;
    bool as_user;          /* spawn_set_user: the child takes these ids before exec */
    uid_t uid;
    gid_t gid;
    gid_t *groups;         /* supplementary groups (malloc'd) */
    int ngroups;
};

struct spawn_result {
    int wstatus;            /* of the command, from wait4 */
    int64_t ts_end_ms;      /* wall clock when its exit was seen */
    struct rusage ru;       /* RUSAGE_CHILDREN: command + all reaped descendants */
    int orphans;            /* descendants left behind by the command, reaped here */
    int orphans_signalled;  /* ... of which we had to terminate */
    int forwarded;          /* last signal forwarded to the command, or 0 */
};

int spawn_init(struct spawn *sp);
/* After spawn_init, before spawn_fork: the child runs the command as user
 * (a name from the user database): its groups, its gid, then its uid, set
 * in the child before exec (only root can).  0, or -1 with err. */
int spawn_set_user(struct spawn *sp, const char *user, char *err, size_t errlen);
/* Returns 0, or -1 with errno (fork failed). */
int spawn_fork(struct spawn *sp, char *const argv[]);
/* Returns 0 when the command is running, else the errno of the failed exec
 * (the child then exits 127; spawn_wait still reaps it). */
int spawn_release(struct spawn *sp);
/* Called once the command has exited, before it is reaped. */
typedef void (*spawn_exit_cb)(void *ud, int64_t ts_end_ms);
/* orphan_wait_ms: how long descendants may run on after the command exits
 * before they get SIGTERM (and SIGKILL 2 s later); -1 = wait for them. */
int spawn_wait(struct spawn *sp, int orphan_wait_ms, spawn_exit_cb cb, void *ud,
               struct spawn_result *res);
/* Close the fds and restore the signal mask. */
void spawn_close(struct spawn *sp);

/* ---- pure helpers ---- */

/* Exit status as a shell reports it: the exit code, or 128+N when killed by
 * signal N (*signo = N, else 0). */
int launch_status(int wstatus, int *signo);

#endif

/* ---- plain helper commands (not traced) ---- */

/* Run argv (PATH lookup), stdin from /dev/null.  If out is not NULL its
 * stdout is captured (up to 1 MiB, NUL-terminated, malloc'd); if quiet, its
 * stderr goes to /dev/null.  Returns the exit status (128+N if killed, 127
 * if it could not start), or -1 if fork failed. */
int launch_command(char *const argv[], char **out, int quiet);
