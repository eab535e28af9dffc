/* launch.c -- starting a traced task: spawn, release, wait and reap with its
 * leftovers (see launch.h). */
#include "task/launch.h"
#include "collect/procid.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forward_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

int launch_status(int wstatus, int *signo)
{
    *signo = 0;
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) {
        *signo = WTERMSIG(wstatus);
        return 128 + *signo;
    }
    return 255;  /* not reached for WEXITED waits */
}

int spawn_init(struct spawn *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->pid = -1;
    sp->release_fd = sp->err_fd = sp->sig_fd = -1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    for (size_t i = 0; i < ARRAY_LEN(forward_signals); i++)
        sigaddset(&set, forward_signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, &sp->old_mask) < 0)
        return -1;
    sp->inited = true;
    /* An inherited SIGCHLD = SIG_IGN would auto-reap the command: no exit
     * status, no rusage.  The child gets the original disposition back. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    if (sigaction(SIGCHLD, &dfl, &sp->old_chld) < 0)
        return -1;
    sp->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sp->sig_fd < 0)
        return -1;
    /* Descendants the command leaves behind become our children, so they
     * are reaped (and their CPU counted) here instead of by init. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return -1;
    return 0;
}

int spawn_set_user(struct spawn *sp, const char *user, char *err, size_t errlen)
{
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        return errf(err, errlen, "unknown user '%s'%s%s", user, errno ? ": " : "",
                    errno ? strerror(errno) : "");
    if (geteuid() != 0)
        return errf(err, errlen, "cannot run tasks as user '%s': that needs root (this runs "
                    "as uid %d)", user, (int)geteuid());
    /* getgrouplist here: initgroups in the child after fork is not
     * async-signal-safe (NSS); setgroups is a plain system call */
    int n = 16;
    gid_t *g = xcalloc((size_t)n, sizeof *g);
    while (getgrouplist(user, pw->pw_gid, g, &n) < 0) {
        free(g);
        g = xcalloc((size_t)n, sizeof *g);
    }
    free(sp->groups);
    sp->groups = g;
    sp->ngroups = n;
    sp->uid = pw->pw_uid;
    sp->gid = pw->pw_gid;
    sp->as_user = true;
    return 0;
}

/* In the child: become the task user.  0, or -1 with errno. */
static int drop_to_user(const struct spawn *sp)
{
    if (!sp->as_user)
        return 0;
    if (setgroups((size_t)sp->ngroups, sp->groups) < 0 || setgid(sp->gid) < 0 ||
        setuid(sp->uid) < 0)
        return -1;
    /* make sure there is no way back (setuid from root drops all ids) */
    if (sp->uid != 0 && setuid(0) == 0) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

static ssize_t read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -1 : (ssize_t)got;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int spawn_fork(struct spawn *sp, char *const argv[])
{
    int rel[2], err[2];
    if (pipe2(rel, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(err, O_CLOEXEC) < 0) {
        int e = errno;
        close(rel[0]);
        close(rel[1]);
        errno = e;
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(rel[0]);
        close(rel[1]);
        close(err[0]);
        close(err[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        /* Child: wait until the parent has registered us.  EOF means the
         * parent gave up (or died): leave without running anything. */
        close(rel[1]);
        close(err[0]);
        char go;
        if (read_full(rel[0], &go, 1) != 1)
            _exit(127);
        sigaction(SIGCHLD, &sp->old_chld, NULL);
        sigprocmask(SIG_SETMASK, &sp->old_mask, NULL);
        if (drop_to_user(sp) == 0)
            execvp(argv[0], argv);
        int e = errno;
        ssize_t w = write(err[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(rel[0]);
    close(err[1]);
    sp->pid = pid;
    sp->release_fd = rel[1];
    sp->err_fd = err[0];
    return 0;
}

int spawn_release(struct spawn *sp)
{
    char go = 1;
    ssize_t w;
    /* A child that died while waiting must not take us down with SIGPIPE. */
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    do
        w = write(sp->release_fd, &go, 1);
    while (w < 0 && errno == EINTR);
    sigaction(SIGPIPE, &old, NULL);
    close(sp->release_fd);
    sp->release_fd = -1;
    /* EOF: exec succeeded (the pipe was close-on-exec); data: its errno. */
    int e = 0;
    ssize_t r = read_full(sp->err_fd, &e, sizeof e);
    close(sp->err_fd);
    sp->err_fd = -1;
    if (w != 1)
        return EPIPE;  /* the child is gone before exec */
    return r == (ssize_t)sizeof e ? (e ? e : EIO) : 0;
}

/* Our current children (descendants re-parented to us), from /proc. */
static size_t list_children(pid_t *out, size_t max)
{
    size_t n = 0;
    pid_t self = getpid();
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        int64_t pid;
        if (!parse_i64(e->d_name, 1, INT32_MAX, &pid))
            continue;
        pid_t ppid;
        if (procid_read((pid_t)pid, NULL, &ppid) == 0 && ppid == self)
            out[n++] = (pid_t)pid;
    }
    closedir(d);
    return n;
}

static int signal_children(int sig)
{
    pid_t kids[256];
    size_t n = list_children(kids, ARRAY_LEN(kids));
    for (size_t i = 0; i < n; i++)
        kill(kids[i], sig);
    return (int)n;
}

int spawn_wait(struct spawn *sp, int orphan_wait_ms, spawn_exit_cb cb, void *ud,
               struct spawn_result *res)
{
    memset(res, 0, sizeof *res);
    bool main_done = false;
    int64_t term_at = 0, kill_at = 0;  /* monotonic ms for the orphan phases */
    bool termed = false;
    int stop_signal = 0;               /* a signal we were asked to pass on */
    for (;;) {
        /* Reap whatever has exited; the command first noted, then reaped. */
        bool none_left = false;
        for (;;) {
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == ECHILD) {
                    none_left = true;
                    break;
                }
                return -1;
            }
            if (si.si_pid == 0)
                break;
            if (si.si_pid == sp->pid) {
                res->ts_end_ms = now_wall_ms();
                if (cb)
                    cb(ud, res->ts_end_ms);
                struct rusage ru;
                while (wait4(sp->pid, &res->wstatus, 0, &ru) < 0 && errno == EINTR)
                    ;
                main_done = true;
                int64_t now = now_mono_ns() / 1000000;
                /* After a forwarded stop request, leftovers are not waited for. */
                term_at = stop_signal ? now : orphan_wait_ms < 0 ? INT64_MAX : now + orphan_wait_ms;
            } else {
                while (waitpid(si.si_pid, NULL, 0) < 0 && errno == EINTR)
                    ;
                res->orphans++;
            }
        }
        if (none_left) {
            if (!main_done) {
                errno = ECHILD;  /* cannot happen: the command is our child */
                return -1;
            }
            break;
        }

        int timeout = -1;
        if (main_done) {
            int64_t now = now_mono_ns() / 1000000;
            if (!termed && now >= term_at) {
                res->orphans_signalled += signal_children(stop_signal ? stop_signal : SIGTERM);
                termed = true;
                kill_at = now + 2000;
            }
            if (termed && now >= kill_at)
                signal_children(SIGKILL);
            int64_t next = termed ? (now >= kill_at ? now + 100 : kill_at) : term_at;
            int64_t wait = next - now;
            timeout = next == INT64_MAX ? -1 : wait > 1000 ? 1000 : (int)(wait < 1 ? 1 : wait);
        }
        struct pollfd pfd = {sp->sig_fd, POLLIN, 0};
        int pr = poll(&pfd, 1, timeout);
        if (pr < 0 && errno != EINTR)
            return -1;
        struct signalfd_siginfo fi;
        while (read(sp->sig_fd, &fi, sizeof fi) == (ssize_t)sizeof fi) {
            int sig = (int)fi.ssi_signo;
            if (sig == SIGCHLD)
                continue;
            stop_signal = sig;
            if (!main_done) {
                /* A terminal's signal already reached the whole foreground
                 * process group, the command included: don't double it. */
                if (fi.ssi_code != SI_KERNEL) {
                    kill(sp->pid, sig);
                    res->forwarded = sig;
                }
            } else if (!termed) {
                term_at = 0;  /* stop waiting for leftovers */
            }
        }
    }
    getrusage(RUSAGE_CHILDREN, &res->ru);
    return 0;
}

void spawn_close(struct spawn *sp)
{
    if (sp->release_fd >= 0)
        close(sp->release_fd);  /* an unreleased child exits on EOF */
    if (sp->err_fd >= 0)
        close(sp->err_fd);
    if (sp->sig_fd >= 0)
        close(sp->sig_fd);
    sp->release_fd = sp->err_fd = sp->sig_fd = -1;
    free(sp->groups);
    sp->groups = NULL;
    sp->as_user = false;
    if (sp->inited) {
        sigaction(SIGCHLD, &sp->old_chld, NULL);
        sigprocmask(SIG_SETMASK, &sp->old_mask, NULL);
    }
    sp->inited = false;
}

int launch_command(char *const argv[], char **out, int quiet)
{
    int pfd[2] = {-1, -1};
    if (out && pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        if (out) {
            close(pfd[0]);
            close(pfd[1]);
        }
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            if (quiet)
                dup2(null, STDERR_FILENO);
        }
        if (out)
            dup2(pfd[1], STDOUT_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (out) {
        close(pfd[1]);
        size_t cap = 4096, len = 0;
        char *buf = xmalloc(cap);
        for (;;) {
            if (len + 1 >= cap && cap < (1u << 20)) {
                cap *= 2;
                buf = xrealloc(buf, cap);
            }
            char sink[512];
            bool full = len + 1 >= cap;
            ssize_t r = full ? read(pfd[0], sink, sizeof sink) : read(pfd[0], buf + len, cap - len - 1);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            if (!full)
                len += (size_t)r;
        }
        buf[len] = '\0';
        close(pfd[0]);
        *out = buf;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    int sig;
    return launch_status(st, &sig);
}
