/* launcher.c -- a task launcher and the policy around it (launcher.h). */
#include "task/launcher.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define KILLED_REPLY_MS 2000  /* after killing a silent launcher: a task process may still answer */

static int64_t mono_ms(void)
{
    return now_mono_ns() / 1000000;
}

void launcher_init(struct launcher *l)
{
    *l = (struct launcher){.pid = -1, .fd = -1};
}

int launcher_open(struct launcher *l, const char *path, char *err, size_t errlen)
{
    launcher_init(l);
    /* the binary by its name (not /proc/self/exe): the processes are
     * called tracekit, as a spawned exec is */
    char self[4096];
    if (!path) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = '\0';
        path = n > 0 ? self : "/proc/self/exe";
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return errf(err, errlen, "cannot start the task launcher: socketpair: %s",
                    strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    runner_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    /* stdout and stderr stay ours: tasks with inherited output get them */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    char *argv[] = {"tracekit", "exec", "--launcher", NULL};
    char **env = runner_env(environ);
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, &at, argv, env);
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return errf(err, errlen, "cannot start the task launcher %s: %s", path, strerror(rc));
    }
    l->pid = pid;
    l->fd = sv[0];
    l->started_ms = mono_ms();
    return 0;
}

/* The launcher failed: kill it (reaped by the caller, it is its child). */
static pid_t fail(struct launcher *l, pid_t how, char *err, size_t errlen, const char *fmt,
                  const char *what)
{
    snprintf(err, errlen, fmt, what);
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    if (l->pid > 0)
        kill(l->pid, SIGKILL);
    return how;
}

/* One reply within ms: 1 with *v, 0 at end of file, -1 on timeout or error. */
static int read_reply(int fd, int ms, int32_t *v)
{
    int64_t until = mono_ms() + ms;
    for (;;) {
        int64_t left = until - mono_ms();
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, left > 0 ? (int)left : 0);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            return -1;
        ssize_t n = recv(fd, v, sizeof *v, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            return 0;
        return n == (ssize_t)sizeof *v ? 1 : -1;
    }
}

/* "MODE\0LOG\0ARGV...\0" into buf; its length, or 0 if it does not fit. */
static size_t message(const struct runner_task *t, enum runner_out out, const char *log,
                      char *buf, size_t cap)
{
    const char *head[2] = {out == RUNNER_OUT_FILE ? "f" : out == RUNNER_OUT_NULL ? "n" : "i",
                           log ? log : ""};
    size_t len = 0;
    for (size_t i = 0; i < 2 || t->argv[i - 2]; i++) {
        const char *s = i < 2 ? head[i] : t->argv[i - 2];
        size_t n = strlen(s) + 1;
        if (n > cap - len)
            return 0;
        memcpy(buf + len, s, n);
        len += n;
    }
    return len;
}

pid_t launcher_spawn(struct launcher *l, const struct runner_task *t, enum runner_out out,
                     const char *out_dir, char *err, size_t errlen)
{
    if (l->fd < 0)
        return fail(l, LAUNCHER_DOWN, err, errlen, "%s", "the task launcher is not running");
    char *log;
    if (runner_prepare_output(t, out, out_dir, &log, err, errlen) < 0)
        return -1;
    char *buf = xmalloc(LAUNCHER_MSG_MAX);
    size_t len = message(t, out, log, buf, LAUNCHER_MSG_MAX);
    ssize_t w = -1;
    if (len) {
        do
            w = send(l->fd, buf, len, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
    }
    free(buf);
    if (!len) {
        free(log);
        snprintf(err, errlen, "the command line is longer than the launcher takes (%d bytes)",
                 LAUNCHER_MSG_MAX);
        return LAUNCHER_DOWN;  /* not a failure of the launcher: it stays */
    }
    if (w != (ssize_t)len) {
        free(log);
        return fail(l, LAUNCHER_DOWN, err, errlen, "cannot write to the task launcher: %s",
                    strerror(errno));
    }
    int32_t v;
    int r = read_reply(l->fd, LAUNCHER_REPLY_MS, &v);
    if (r < 0) {
        /* silent: kill it; a task process it made still answers (or closes) */
        kill(l->pid, SIGKILL);
        r = read_reply(l->fd, KILLED_REPLY_MS, &v);
        if (r < 0) {
            free(log);
            return fail(l, LAUNCHER_UNSURE, err, errlen, "%s",
                        "the task launcher did not answer in time");
        }
    }
    if (r == 0) {
        free(log);
        return fail(l, LAUNCHER_DOWN, err, errlen, "%s", "the task launcher has ended");
    }
    if (v > 0) {
        free(log);
        return (pid_t)v;
    }
    snprintf(err, errlen, "cannot start tracekit exec%s%s: %s", log ? " with output to " : "",
             log ? log : "", strerror(-v));
    free(log);
    return -1;
}

void launcher_close(struct launcher *l)
{
    if (l->fd >= 0)
        close(l->fd);
    if (l->pid > 0) {
        kill(l->pid, SIGKILL);
        while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    launcher_init(l);
}

/* ---- starting tasks through a launcher ---- */

void starter_init(struct starter *s, const char *self_exe)
{
    launcher_init(&s->l);
    s->launch_at = 0;
    s->self_exe = self_exe;
}

/* The launcher ended (reaped as rc): close our end; the next task starts a
 * new one, after LAUNCHER_RETRY_MS if it ran for less than that.  Tasks it
 * started are ours and go on. */
static void ended(struct starter *s, int rc)
{
    int64_t now = mono_ms();
    if (s->l.fd >= 0)
        log_warn("the task launcher (pid %d) ended (rc %d); running tasks go on, the next one "
                 "starts a new launcher", (int)s->l.pid, rc);
    if (now - s->l.started_ms < LAUNCHER_RETRY_MS)
        s->launch_at = now + LAUNCHER_RETRY_MS;
    s->l.pid = -1;
    launcher_close(&s->l);
}

bool starter_reaped(struct starter *s, pid_t pid, int rc)
{
    if (pid <= 0 || pid != s->l.pid)
        return false;
    ended(s, rc);
    return true;
}

pid_t starter_spawn(struct starter *s, const struct runner_conf *rc, const char *body,
                    char exec_id[17], struct runner_task *t, enum runner_out out,
                    const char *out_dir, int64_t task_id, char *err, size_t errlen)
{
    if (s->l.pid < 0 && mono_ms() >= s->launch_at) {
        if (launcher_open(&s->l, s->self_exe, err, errlen) < 0) {
            log_warn("%s; starting tasks one tracekit exec each for now", err);
            s->launch_at = mono_ms() + LAUNCHER_RETRY_MS;
        } else {
            log_debug("task launcher started, pid %d", (int)s->l.pid);
        }
    }
    if (s->l.fd >= 0) {
        pid_t pid = launcher_spawn(&s->l, t, out, out_dir, err, errlen);
        if (pid >= -1)
            return pid;
        if (s->l.fd < 0)
            log_warn("task %lld: %s (pid %d); starting it as a tracekit exec of its own",
                     (long long)task_id, err, (int)s->l.pid);
        if (pid == LAUNCHER_UNSURE) {
            runner_exec_id_new(exec_id);
            runner_task_free(t);
            if (runner_build(rc, body, t, err, errlen) != 0)
                return -1;
            runner_set_exec_id(t, exec_id);
        }
    }
    return runner_spawn(t, out, out_dir, err, errlen);
}

void starter_close(struct starter *s)
{
    launcher_close(&s->l);
    s->launch_at = 0;
}

/* ---- the launcher ---- */

static void reply(int fd, int32_t v)
{
    ssize_t w = send(fd, &v, sizeof v, MSG_NOSIGNAL);
    (void)w;
}

/* In the task process (a child of the worker): its process group, its
 * output, the reply, nothing else of the launcher's, then exec's code. */
static void task_main(int fd, int out, int argc, char **argv, launcher_run_fn run)
{
    if (setpgid(0, 0) < 0 || (out >= 0 && (dup2(out, STDOUT_FILENO) < 0 ||
                                           dup2(out, STDERR_FILENO) < 0))) {
        reply(fd, -errno);
        _exit(127);
    }
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    reply(fd, (int32_t)getpid());
    if (null < 0 || dup2(null, STDIN_FILENO) < 0)
        _exit(127);  /* cannot happen; replied already: like an exec that died at once */
    /* not closefrom(3): the log file (--log-file, $TRACEKIT_LOG_FILE) is
     * open, close-on-exec, as in an exec of its own; the launcher has
     * nothing else (launcher_open spawns it with fds 0-2 only) */
    close(null);
    if (fd != STDIN_FILENO)
        close(fd);
    if (out > STDERR_FILENO)
        close(out);
    int rc = run(argc, argv);
    log_close();
    exit(rc);
}

/* One message: 0, or -1 when it is malformed (the launcher ends). */
static int serve_one(int fd, char *buf, size_t len, launcher_run_fn run)
{
    if (len < 2 || buf[len - 1] != '\0')
        return -1;
    char *p = buf, *end = buf + len;
    char mode = *p;
    p += strlen(p) + 1;
    if (p >= end)
        return -1;
    const char *log = p;
    p += strlen(p) + 1;
    if (p >= end)
        return -1;
    char **argv = xmalloc((len + 1) * sizeof *argv);
    int argc = 0;
    for (; p < end; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;
    if (argc < 2) {
        free(argv);
        return -1;
    }
    int out = -1;
    if (mode == 'f')
        out = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, TK_FILE_MODE);
    else if (mode == 'n')
        out = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (mode != 'i' && out < 0) {
        reply(fd, -errno);
        free(argv);
        return 0;
    }
    /* CLONE_PARENT: the worker's child, as if it had spawned it.  A raw
     * clone, like fork without its handlers: this process has one thread
     * and holds no lock. */
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), NULL, NULL, NULL, 0);
    if (pid == 0)
        task_main(fd, out, argc - 1, argv + 1, run);
    if (pid < 0)
        reply(fd, -errno);
    if (out >= 0)
        close(out);
    free(argv);
    return 0;
}

int launcher_serve(int fd, launcher_run_fn run)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char *buf = xmalloc(LAUNCHER_MSG_MAX);
    int rc = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, LAUNCHER_MSG_MAX, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("task launcher: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (n == 0)
            break;
        if (serve_one(fd, buf, (size_t)n, run) < 0) {
            log_error("task launcher: a malformed message (%zd bytes)", n);
            rc = 1;
            break;
        }
    }
    free(buf);
    return rc;
}
