/* sampler.c -- the collector's sampling loop: ticks, process table, host and
 * cgroup records (see sampler.h). */
#include "collect/sampler.h"
#include "collect/bpftask.h"
#include "collect/cgstat.h"
#include "collect/container.h"
#include "collect/power.h"
#include "collect/procfs.h"
#include "collect/taskstats.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/pairmap.h"
#include "common/stats.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* epoll tags: the low 32 bits carry a PID for pidfd events. */
enum { EV_TICK = 1, EV_HOST, EV_INOTIFY, EV_SIGNAL, EV_EXIT };
#define EV_TAG(type, pid) (((uint64_t)(type) << 32) | (uint32_t)(pid))

#define HIST_BUCKETS 2000   /* 10 µs buckets up to 20 ms; the last one collects the rest */
#define HIST_WIDTH_US 10
#define RESCAN_MS 2000      /* healing rescan of the pid folder (missed inotify events) */
#define RECHECK_MS 1000     /* scan mode: re-read the name of rejected processes (exec) */
#define STATUS_MS 5000
#define MAX_NET 64
#define MAX_THREADS 4096    /* threads followed per process for run delay (/proc mode) */
#define DONE_MAX 4096       /* exits remembered, to ignore their zombies */
#define STAT_REUSE_NS 1000000000LL  /* an idle process's stat line is reused at most this long */

/* One thread's run delay at the last reading (/proc mode, multi-threaded). */
struct thr_delay {
    int tid;
    uint64_t delay_ns;
};

/* One tracked process. */
struct tproc {
    int pid;
    uint64_t start_ticks;
    int stat_fd, sched_fd, pidfd;
    bool multi;      /* has had more than one thread: schedstat no longer covers it */
    bool gone;
    bool ended;      /* its taskstats exit record is written: no more lines */
    uint64_t last_ticks;   /* utime+stime at the last schedstat read */
    double last_sched_ms;  /* runtime then; < 0 = not read yet */
    double last_delay_ms;  /* run delay then */
    struct procmeta *meta; /* cgroup and container, until written in a record */
    /* /proc mode, multi-threaded: run delay summed over the threads */
    int proc_fd;           /* /proc/PID, bound to the process; -1 until needed */
    struct thr_delay *thr;
    int nthr;
    uint64_t thr_delay_ns; /* accumulated: never goes back when a thread ends */
    /* Single-threaded: the last full reading, reused while schedstat shows
     * the process has not been on a CPU since (see sample_proc). */
    struct proc_stat last;
    int64_t last_stat_ns;  /* monotonic time of it; 0 = none to reuse */
    uint64_t last_run_ns, last_wait_ns;   /* schedstat read just before it */
    double last_cpu_ms, last_out_delay_ms; /* what its record said */
    /* BPF backend */
    uint64_t bt_tick;      /* the tick whose pass saw it */
    uint64_t bt_cpu_ns, bt_delay_ns, bt_user_ns, bt_sys_ns;  /* last written: never go back */
};

/* Read once per process when it is first tracked, written in its first
 * record only: the per-sample cost stays one pointer test. */
struct procmeta {
    char cgroup[512];
    struct container ct;
};

struct hoststate {
    int fd_stat, fd_mem, fd_net;
    bool have_prev;
    int64_t prev_mono_us;
    struct cpu_times prev_cpu;
    struct netdev prev_net[MAX_NET];
    int prev_nnet;
};

struct sampler {
    struct sampler_opts o;
    int epfd, tick_fd, host_fd, ino_fd, sig_fd, dir_fd;
    struct jsonl_writer procw, hostw, cgw;
    struct cgstat *cgs;
    int ncgs;
    struct jbuf line;
    struct tproc *procs;
    int nprocs, capprocs;
    struct pairmap index;     /* pid -> slot in procs */
    struct pairmap rejected;  /* scan mode: pid -> last check (ms) */
    struct pairmap done;      /* (pid, start_ticks) whose exit record is written */
    struct pairmap gone_wl;   /* pid -> sentinel's start ticks: whitelisted, gone before tracked */
    struct tstats *ts;        /* taskstats, when exit_source is taskstats */
    struct bpftask *bt;       /* the BPF task iterator, when the backend is bpf */
    int ts_fd;
    int64_t drained_mono_ns;  /* the last read of exit records began then */
    int prompt_pid;           /* its pidfd just said it ended: its record is read now */
    struct hoststate host;
    long clk_tck, page_kb;
    int self_pid;
    uint64_t self_start_ticks;
    int64_t start_mono_ns, end_mono_ns, interval_ns;
    int64_t next_deadline_ns, last_tick_ns, last_rescan_ms, last_status_ms;
    char buf[4096];
    /* statistics */
    int64_t started_ms;
    uint64_t ticks, overruns, proc_samples, host_samples, seen, exited, stale, read_errors;
    uint64_t exit_records, exit_unsampled, exit_overflows;
    uint32_t late_hist[HIST_BUCKETS], gap_hist[HIST_BUCKETS];
    int64_t late_max_us, gap_max_us;
    double sample_cpu_ns;     /* CPU spent in sampling passes (thread CPU clock) */
    uint64_t sampled_in_passes;
};

/* ---------------------------------------------------------------- helpers */

uint64_t sampler_parse_sentinel(const char *text)
{
    unsigned long long pid, start;
    if (text && sscanf(text, "%llu %llu", &pid, &start) == 2)
        return start;
    return 0;
}


static void hist_add(uint32_t *h, int64_t *max, int64_t us)
{
    if (us < 0)
        us = -us;
    if (us > *max)
        *max = us;
    int64_t b = us / HIST_WIDTH_US;
    h[b >= HIST_BUCKETS ? HIST_BUCKETS - 1 : b]++;
}

static ssize_t pread_text(int fd, char *buf, size_t n)
{
    ssize_t r;
    do
        r = pread(fd, buf, n - 1, 0);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        buf[r] = '\0';
    return r;
}

static int open_proc(int pid, const char *file)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static bool parse_pid_name(const char *name, int *pid)
{
    int64_t v;
    if (!parse_i64(name, 1, INT32_MAX, &v))
        return false;
    *pid = (int)v;
    return true;
}

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- process samples */

/* Run delay of a multi-threaded process without taskstats: the threads'
 * schedstat, each thread's growth added to a total that never goes back
 * when a thread ends.  Threads that began and ended between two readings
 * are missed.  Returns the total in ms, or -1 when it cannot be read. */
static double thread_delay_ms(struct tproc *p, uint64_t start_ticks)
{
    if (p->proc_fd < 0) {
        p->proc_fd = open_proc(p->pid, "");
        if (p->proc_fd < 0)
            return -1;
        /* Bound to the process read a moment ago, unless the PID was reused
         * in between: its start time says. */
        char text[1024];
        int fd = openat(p->proc_fd, "stat", O_RDONLY | O_CLOEXEC);
        struct proc_stat st;
        ssize_t n = fd >= 0 ? pread_text(fd, text, sizeof text) : -1;
        if (fd >= 0)
            close(fd);
        if (n <= 0 || procfs_parse_stat(text, (size_t)n, &st) < 0 || st.start_ticks != start_ticks) {
            close(p->proc_fd);
            p->proc_fd = -1;
            return -1;
        }
    }
    int dfd = openat(p->proc_fd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    struct thr_delay *now = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < MAX_THREADS) {
        int tid;
        if (!parse_pid_name(e->d_name, &tid))
            continue;
        char path[48], text[128];
        snprintf(path, sizeof path, "%d/schedstat", tid);
        int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        uint64_t run, delay;
        bool ok = pread_text(fd, text, sizeof text) > 0 && procfs_parse_schedstat(text, &run, &delay) == 0;
        close(fd);
        if (!ok)
            continue;
        ARRAY_GROW(now, n + 1, cap, 16);
        now[n++] = (struct thr_delay){tid, delay};
    }
    closedir(d);
    /* Each thread's growth since the last reading; a new thread counts whole. */
    for (int i = 0; i < n; i++) {
        uint64_t before = 0;
        for (int j = 0; j < p->nthr; j++)
            if (p->thr[j].tid == now[i].tid) {
                before = p->thr[j].delay_ns;
                break;
            }
        if (now[i].delay_ns > before)
            p->thr_delay_ns += now[i].delay_ns - before;
    }
    free(p->thr);
    p->thr = now;
    p->nthr = n;
    return (double)p->thr_delay_ns / 1e6;
}

/* CPU ms and run delay ms (-1 = unknown) of one reading of p, st being its
 * /proc/PID/stat just read. */
static void read_cpu(struct sampler *s, struct tproc *p, const struct proc_stat *st, const char *ev,
                     const uint64_t *fresh, double *cpu_ms, double *delay_ms)
{
    double tick_ms = (double)(st->utime + st->stime) * 1000.0 / (double)s->clk_tck;
    double tick = 1000.0 / (double)s->clk_tck;
    *cpu_ms = tick_ms;
    *delay_ms = -1;
    if (st->num_threads > 1)
        p->multi = true;
    if (!p->multi && p->sched_fd >= 0) {
        /* Usually sample_proc has just read schedstat (fresh).  Else it
         * costs another read: utime+stime is the same runtime truncated to
         * ticks, so while it has not moved the process ran less than one
         * tick since the last exact reading: reuse that reading and re-read
         * when it moves. */
        uint64_t ticks = st->utime + st->stime;
        if (fresh) {
            p->last_sched_ms = (double)fresh[0] / 1e6;
            p->last_delay_ms = (double)fresh[1] / 1e6;
            p->last_ticks = ticks;
        } else if (p->last_sched_ms < 0 || ticks != p->last_ticks || ev[0] != 't') {
            uint64_t ns, delay;
            char sb[128];
            if (pread_text(p->sched_fd, sb, sizeof sb) > 0 && procfs_parse_schedstat(sb, &ns, &delay) == 0) {
                p->last_sched_ms = (double)ns / 1e6;
                p->last_delay_ms = (double)delay / 1e6;
                p->last_ticks = ticks;
            } else if (p->last_sched_ms >= 0) {
                /* Not readable any more (a zombie): the counters, and the
                 * last run delay read. */
                *cpu_ms = p->last_sched_ms > tick_ms ? p->last_sched_ms : tick_ms;
                *delay_ms = p->last_delay_ms;
                return;
            }
        }
        /* The leader's runtime must explain the tick counters; if it does
         * not, threads ran before we saw the process: counters only. */
        if (p->last_sched_ms >= 0 && p->last_sched_ms + tick + 1.0 >= tick_ms) {
            *cpu_ms = p->last_sched_ms > tick_ms ? p->last_sched_ms : tick_ms;
            *delay_ms = p->last_delay_ms;
            return;
        }
        if (p->last_sched_ms >= 0)
            p->multi = true;
    }
    if (p->sched_fd >= 0) {
        close(p->sched_fd);
        p->sched_fd = -1;
    }
    if (!p->multi)
        return;
    struct tstats_rec r;
    if (s->ts && tstats_query(s->ts, p->pid, &r) == 0) {
        /* Every thread's exact runtime, exited ones included; the tick
         * counters can only be behind it (truncated), never a tick ahead. */
        double exact = (double)r.cpu_ns / 1e6;
        if (exact + tick >= tick_ms)
            *cpu_ms = exact > tick_ms ? exact : tick_ms;
        *delay_ms = (double)r.delay_ns / 1e6;
    } else {
        *delay_ms = thread_delay_ms(p, st->start_ticks);
    }
}

/* One process record (docs/formats.md, proc_metrics.jsonl). */
static void write_sample(struct sampler *s, struct tproc *p, const struct proc_stat *st,
                         const char *ev, double cpu_ms, double delay_ms)
{
    struct timespec wall, mono;
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    struct jbuf *b = &s->line;
    jb_reset(b);
    jb_obj_open(b, NULL);
    jb_int(b, "ts_ms", (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000);
    jb_int(b, "pid", p->pid);
    jb_int(b, "rss_kb", st->rss_pages > 0 ? st->rss_pages * s->page_kb : 0);
    jb_uint(b, "utime", st->utime);
    jb_uint(b, "stime", st->stime);
    jb_uint(b, "start_ticks", st->start_ticks);
    jb_str(b, "comm", st->comm);
    jb_fixed(b, "cpu_ms", cpu_ms, 3);
    jb_int(b, "mono_us", (int64_t)mono.tv_sec * 1000000 + mono.tv_nsec / 1000);
    jb_int(b, "threads", st->num_threads);
    if (delay_ms >= 0)
        jb_fixed(b, "run_delay_ms", delay_ms, 3);
    if (p->meta) {
        jb_str(b, "cgroup", p->meta->cgroup);
        if (p->meta->ct.id[0])
            jb_str(b, "container_id", p->meta->ct.id);
        if (p->meta->ct.runtime)
            jb_str(b, "container_runtime", p->meta->ct.runtime);
        if (p->meta->ct.pod_uid[0])
            jb_str(b, "pod_uid", p->meta->ct.pod_uid);
        free(p->meta);
        p->meta = NULL;
    }
    jb_str(b, "ev", ev);
    jb_obj_close(b);
    jsonl_add(&s->procw, b);
    s->proc_samples++;
}

/* Read one process and queue its record.  Returns false when it is gone.
 *
 * A single-threaded process's /proc/PID/schedstat (its nanosecond runtime
 * and run delay) is read first: it costs well under half of a stat read.
 * When neither has moved since the last full reading, the process has not
 * been on a CPU since, so nothing in its stat line can have changed but its
 * RSS (reclaim can shrink a sleeping process): that line is reused, and
 * re-read at least every STAT_REUSE_NS.  Sleeping processes, the common
 * case, cost one small read. */
static bool sample_proc(struct sampler *s, struct tproc *p, const char *ev)
{
    uint64_t fresh[2];
    bool have_fresh = false;
    if (!p->multi && p->sched_fd >= 0 && !p->ended) {
        char sb[128];
        have_fresh = pread_text(p->sched_fd, sb, sizeof sb) > 0 &&
                     procfs_parse_schedstat(sb, &fresh[0], &fresh[1]) == 0;
        if (have_fresh && p->last_stat_ns && ev[0] == 't' && fresh[0] == p->last_run_ns &&
            fresh[1] == p->last_wait_ns && now_mono_ns() - p->last_stat_ns < STAT_REUSE_NS) {
            write_sample(s, p, &p->last, ev, p->last_cpu_ms, p->last_out_delay_ms);
            return true;
        }
    }
    ssize_t n = pread_text(p->stat_fd, s->buf, sizeof s->buf);
    if (n <= 0)
        return false;  /* ESRCH: reaped (a reused PID is never read through this fd) */
    if (p->ended)
        return true;   /* a zombie whose exit record is written */
    struct proc_stat st;
    if (procfs_parse_stat(s->buf, (size_t)n, &st) < 0) {
        s->read_errors++;
        return true;
    }
    if (st.state == 'Z' || st.state == 'X')
        ev = "exit";
    double cpu_ms, delay_ms;
    read_cpu(s, p, &st, ev, have_fresh ? fresh : NULL, &cpu_ms, &delay_ms);
    p->last_stat_ns = 0;
    if (have_fresh && !p->multi && ev[0] != 'e') {
        /* schedstat was read before stat: the line is current for as long
         * as schedstat stays the same. */
        p->last = st;
        p->last_stat_ns = now_mono_ns();
        p->last_run_ns = fresh[0];
        p->last_wait_ns = fresh[1];
        p->last_cpu_ms = cpu_ms;
        p->last_out_delay_ms = delay_ms;
    }
    write_sample(s, p, &st, ev, cpu_ms, delay_ms);
    return true;
}

static struct tproc *find(struct sampler *s, int pid);

/* BPF backend: one process of the tick's pass, written as /proc would have
 * shown it.  A process the pass did not see (reaped, or its PID now names
 * another process) is left to /proc, which finds out which. */
static void on_bpf_proc(void *arg, const struct bpftask_proc *bp)
{
    struct sampler *s = arg;
    struct tproc *p = find(s, bp->pid);
    if (!p || p->gone || bp->start_ticks != p->start_ticks)
        return;
    p->bt_tick = s->ticks;
    if (p->ended)
        return;   /* a zombie whose exit record is written */
    /* A thread ending during the pass may move its time into the group's
     * totals after they were read: a total never goes back. */
    uint64_t cpu = bp->cpu_ns > p->bt_cpu_ns ? bp->cpu_ns : p->bt_cpu_ns;
    uint64_t delay = bp->delay_ns > p->bt_delay_ns ? bp->delay_ns : p->bt_delay_ns;
    uint64_t user, sys;
    tstats_split(cpu, bp->utime_ns / 1000, bp->stime_ns / 1000, &user, &sys);
    /* As the kernel's cputime_adjust: neither part goes back either. */
    if (sys < p->bt_sys_ns) {
        sys = p->bt_sys_ns;
        user = cpu - sys;
    } else if (user < p->bt_user_ns) {
        user = p->bt_user_ns;
        sys = cpu - user;
    }
    p->bt_cpu_ns = cpu;
    p->bt_delay_ns = delay;
    p->bt_user_ns = user;
    p->bt_sys_ns = sys;
    uint64_t ns_per_tick = 1000000000u / (uint64_t)s->clk_tck;
    struct proc_stat st = {
        .pid = bp->pid,
        .utime = user / ns_per_tick,
        .stime = sys / ns_per_tick,
        .num_threads = bp->threads,
        .start_ticks = bp->start_ticks,
        .rss_pages = bp->rss_pages,
    };
    memcpy(st.comm, bp->comm, sizeof bp->comm);
    write_sample(s, p, &st, bp->zombie ? "exit" : "tick", (double)cpu / 1e6, (double)delay / 1e6);
}

static void untrack(struct sampler *s, struct tproc *p)
{
    if (p->gone)
        return;
    p->gone = true;
    if (p->pidfd >= 0) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
        close(p->pidfd);
    }
    if (p->stat_fd >= 0)
        close(p->stat_fd);
    if (p->sched_fd >= 0)
        close(p->sched_fd);
    if (p->proc_fd >= 0)
        close(p->proc_fd);
    free(p->meta);
    free(p->thr);
    p->meta = NULL;
    p->thr = NULL;
    p->pidfd = p->stat_fd = p->sched_fd = p->proc_fd = -1;
    pairmap_del(&s->index, p->pid, 0);
    if (s->bt)
        bpftask_untrace(s->bt, p->pid);
    s->exited++;
}

/* Drop untracked slots, keeping the index in step. */
static void compact(struct sampler *s)
{
    int j = 0;
    for (int i = 0; i < s->nprocs; i++) {
        if (s->procs[i].gone)
            continue;
        if (i != j) {
            s->procs[j] = s->procs[i];
            *pairmap_put(&s->index, s->procs[j].pid, 0, 0, NULL) = j;
        }
        j++;
    }
    s->nprocs = j;
}

static struct tproc *find(struct sampler *s, int pid)
{
    int64_t *slot = pairmap_get(&s->index, pid, 0);
    return slot ? &s->procs[*slot] : NULL;
}

/* The process's cgroup and container.  Read by PID, so it is read before
 * the first sample: that sample's read through the kept stat fd proves the
 * process was still alive, so the PID still named it. */
static struct procmeta *read_meta(int pid)
{
    int fd = open_proc(pid, "cgroup");
    if (fd < 0)
        return NULL;
    char text[4096];
    ssize_t n = pread_text(fd, text, sizeof text);
    close(fd);
    struct procmeta *m = xcalloc(1, sizeof *m);
    int version;
    if (n <= 0 || container_cgroup_path(text, m->cgroup, sizeof m->cgroup, &version) < 0) {
        free(m);
        return NULL;
    }
    container_recognise(m->cgroup, &m->ct);
    return m;
}

/* Start tracking pid.  want_start != 0 binds to that exact process.
 * Returns 1 tracked, 0 not (gone, or another process now has the PID). */
static int track(struct sampler *s, int pid, uint64_t want_start, const char *ev)
{
    if (find(s, pid))
        return 1;
    int fd = open_proc(pid, "stat");
    if (fd < 0)
        return 0;
    ssize_t n = pread_text(fd, s->buf, sizeof s->buf);
    struct proc_stat st;
    if (n <= 0 || procfs_parse_stat(s->buf, (size_t)n, &st) < 0 ||
        (want_start && st.start_ticks != want_start)) {
        close(fd);
        return 0;
    }
    if (pairmap_get(&s->done, pid, (int64_t)st.start_ticks)) {
        close(fd);   /* a zombie whose exit record is written */
        return 1;
    }
    if (s->nprocs == s->capprocs) {
        s->capprocs = s->capprocs ? s->capprocs * 2 : 64;
        s->procs = xrealloc(s->procs, (size_t)s->capprocs * sizeof *s->procs);
    }
    struct tproc *p = &s->procs[s->nprocs];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->start_ticks = st.start_ticks;
    p->stat_fd = fd;
    p->multi = st.num_threads > 1;
    p->sched_fd = p->multi ? -1 : open_proc(pid, "schedstat");
    p->last_sched_ms = -1;
    p->last_delay_ms = -1;
    p->proc_fd = -1;
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (p->pidfd >= 0) {
        struct epoll_event e = {.events = EPOLLIN, .data.u64 = EV_TAG(EV_EXIT, pid)};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, p->pidfd, &e) < 0) {
            close(p->pidfd);
            p->pidfd = -1;
        }
    }
    p->meta = read_meta(pid);
    if (s->bt && bpftask_trace(s->bt, pid) < 0)
        s->read_errors++;   /* its ticks are read from /proc instead */
    *pairmap_put(&s->index, pid, 0, 0, NULL) = s->nprocs;
    s->nprocs++;
    s->seen++;
    /* First reading right away: a process that lives less than one interval
     * is still recorded, and the baseline is as early as possible. */
    if (!sample_proc(s, p, ev))
        untrack(s, p);
    return 1;
}

/* ---------------------------------------------------------------- whitelist */

static void remove_sentinel(struct sampler *s, const char *name)
{
    if (unlinkat(s->dir_fd, name, 0) == 0)
        s->stale++;
}

/* The start ticks a sentinel names (0 when it names none or is gone).  Not
 * through a link, and never blocking on a FIFO planted in the folder. */
static uint64_t sentinel_start(struct sampler *s, const char *name)
{
    char text[128];
    int fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    return sampler_parse_sentinel(text);
}

static void sentinel_added(struct sampler *s, const char *name)
{
    int pid;
    if (!parse_pid_name(name, &pid) || find(s, pid))
        return;
    uint64_t want = sentinel_start(s, name);
    if (!track(s, pid, want, "new")) {
        /* Gone already, or the PID now belongs to another: its exit record
         * may still be queued, and it is ours. */
        if (s->ts) {
            if (s->gone_wl.len >= DONE_MAX) {
                pairmap_free(&s->gone_wl);
                pairmap_init(&s->gone_wl);
            }
            *pairmap_put(&s->gone_wl, pid, 0, 0, NULL) = (int64_t)want;
        }
        remove_sentinel(s, name);
    }
}

static void sentinel_removed(struct sampler *s, const char *name)
{
    int pid;
    struct tproc *p;
    if (!parse_pid_name(name, &pid) || !(p = find(s, pid)))
        return;
    /* The task is over: read it once more (an unreaped process still shows
     * its final counters) and stop following it. */
    sample_proc(s, p, "exit");
    untrack(s, p);
}

static void rescan_pid_dir(struct sampler *s)
{
    int fd = dup(s->dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    rewinddir(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            sentinel_added(s, e->d_name);
    closedir(d);
}

static void drain_exits(struct sampler *s);

/* Sentinel events, then the exit records, then the sentinels removed.  New
 * sentinels first, so that an exit record finds its process tracked (or
 * known gone); removals last, so that a task's exit record is read before
 * its sentinel's removal ends its tracking. */
static void handle_inotify(struct sampler *s)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(s->ino_fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->mask & IN_Q_OVERFLOW)
                rescan_pid_dir(s);
            else if (ev->len && (ev->mask & (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)))
                sentinel_added(s, ev->name);
            p += sizeof *ev + ev->len;
        }
        drain_exits(s);
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->len && (ev->mask & (IN_DELETE | IN_MOVED_FROM)))
                sentinel_removed(s, ev->name);
            p += sizeof *ev + ev->len;
        }
    }
    drain_exits(s);
}

/* Before deciding that processes have gone: the pending sentinel events and
 * exit records. */
static void catch_up(struct sampler *s)
{
    if (s->o.pid_dir)
        handle_inotify(s);
    else
        drain_exits(s);
}

/* ---------------------------------------------------------------- exit records */

static uint64_t now_boot_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Start ticks from an exit record are worked out from its age: the same
 * process within two ticks. */
/* An exited process we did not track: is it ours to record (whitelisted,
 * or matching in scan mode)?  Its start ticks, and whether they are exact
 * (else worked out from its age: see exit_time). */
static bool untracked_start(struct sampler *s, const struct tstats_rec *r, uint64_t est, uint64_t *start,
                            bool *exact)
{
    *start = est;
    *exact = false;
    if (s->o.pid_dir) {
        /* Whitelisted but never tracked: its sentinel came when it had gone
         * (sentinel_added).  No system call for the machine's other exits. */
        int64_t *w = pairmap_get(&s->gone_wl, r->pid, 0);
        if (!w)
            return false;
        uint64_t want = (uint64_t)*w;
        pairmap_del(&s->gone_wl, r->pid, 0);
        if (!want) {
            /* Read while its writer was still writing it: once more. */
            char name[24];
            snprintf(name, sizeof name, "%d", r->pid);
            want = sentinel_start(s, name);
        }
        if (want) {
            *start = want;
            *exact = true;
        }
        return true;
    }
    if (regexec(s->o.match, r->comm, 0, NULL, 0) != 0)
        return false;
    /* Not reaped yet?  Then its stat has the exact start. */
    int fd = open_proc(r->pid, "stat");
    if (fd >= 0) {
        ssize_t n = pread_text(fd, s->buf, sizeof s->buf);
        close(fd);
        struct proc_stat st;
        if (n > 0 && procfs_parse_stat(s->buf, (size_t)n, &st) == 0 && st.start_ticks <= est + 2) {
            *start = st.start_ticks;
            *exact = true;
        }
    }
    return true;
}

/* When the process ended (tstats_exit_time): exit records are read once per
 * tick, and at once when a traced process's pidfd says it ended. */
static void exit_time(const struct sampler *s, const struct tstats_rec *r, uint64_t start_ticks, bool exact,
                      int64_t now_mono, int64_t now_boot, int64_t *at, int64_t *err)
{
    if (r->pid == s->prompt_pid) {
        *at = now_mono;
        *err = 0;
        return;
    }
    tstats_exit_time(s->drained_mono_ns, now_mono, exact ? start_ticks : 0, r->elapsed_us, s->clk_tck,
                     now_boot - now_mono, at, err);
}

/* The exit line (docs/formats.md, "Exit readings"); at/err: exit_time. */
static void write_exit(struct sampler *s, const struct tstats_rec *r, uint64_t start_ticks, int64_t at,
                       int64_t err, int64_t now_mono)
{
    uint64_t user_ns, sys_ns;
    tstats_split(r->cpu_ns, r->utime_us, r->stime_us, &user_ns, &sys_ns);
    uint64_t ns_per_tick = 1000000000u / (uint64_t)s->clk_tck;
    struct jbuf *b = &s->line;
    jb_reset(b);
    jb_obj_open(b, NULL);
    jb_int(b, "ts_ms", now_wall_ms() - (now_mono - at) / 1000000);
    jb_int(b, "pid", r->pid);
    jb_int(b, "rss_kb", 0);   /* as the original's readers expect; the memory is gone */
    jb_uint(b, "utime", user_ns / ns_per_tick);
    jb_uint(b, "stime", sys_ns / ns_per_tick);
    jb_uint(b, "start_ticks", start_ticks);
    jb_str(b, "comm", r->comm);
    jb_fixed(b, "cpu_ms", (double)r->cpu_ns / 1e6, 3);
    jb_int(b, "mono_us", at / 1000);
    jb_fixed(b, "run_delay_ms", (double)r->delay_ns / 1e6, 3);
    jb_uint(b, "utime_us", user_ns / 1000);
    jb_uint(b, "stime_us", sys_ns / 1000);
    jb_uint(b, "rss_peak_kb", r->hiwater_kb);
    jb_fixed(b, "elapsed_ms", (double)r->elapsed_us / 1e3, 3);
    jb_uint(b, "exit_code", r->exit_code);
    if (err >= 1000000)
        jb_fixed(b, "time_err_ms", (double)err / 1e6, 1);
    jb_str(b, "src", "taskstats");
    jb_str(b, "ev", "exit");
    jb_obj_close(b);
    jsonl_add(&s->procw, b);
}

/* One group's exit from the kernel: record it when the process is ours. */
static void on_exit_rec(void *arg, const struct tstats_rec *r)
{
    struct sampler *s = arg;
    if (r->pid == s->self_pid)
        return;
    int64_t now_mono = now_mono_ns(), now_boot = (int64_t)now_boot_ns(), at, err;
    uint64_t start;
    bool exact = true;
    /* A tracked process cannot have given its PID away before its exit
     * record: it is not reaped before the record is queued. */
    struct tproc *p = find(s, r->pid);
    bool sampled = p && !p->ended;
    if (sampled) {
        start = p->start_ticks;
    } else if (!untracked_start(s, r, tstats_start_ticks((uint64_t)now_boot, r->elapsed_us, s->clk_tck),
                                &start, &exact)) {
        return;
    }
    exit_time(s, r, start, exact, now_mono, now_boot, &at, &err);
    if (!exact)   /* the start from the middle of the window */
        start = tstats_start_ticks((uint64_t)(now_boot - (now_mono - at)), r->elapsed_us, s->clk_tck);
    if (pairmap_get(&s->done, r->pid, (int64_t)start))
        return;
    if (s->done.len >= DONE_MAX) {
        pairmap_free(&s->done);
        pairmap_init(&s->done);
    }
    *pairmap_put(&s->done, r->pid, (int64_t)start, 0, NULL) = now_wall_ms();
    write_exit(s, r, start, at, err, now_mono);
    s->exit_records++;
    if (sampled)
        p->ended = true;
    else
        s->exit_unsampled++;
}

/* Read the exit records the kernel has queued.  Called before anything
 * that could decide a process has gone (a failed read, a removed sentinel,
 * its pidfd): the kernel queues the record before the parent can reap. */
static void drain_exits(struct sampler *s)
{
    if (!s->ts)
        return;
    uint64_t before = s->exit_overflows, written = s->exit_records;
    int64_t started = now_mono_ns();
    if (tstats_drain(s->ts, on_exit_rec, s, &s->exit_overflows) < 0)
        s->read_errors++;
    /* Records queued after this one's start are read next time. */
    s->drained_mono_ns = started;
    if (s->exit_overflows > before)
        log_warn("the kernel dropped taskstats exit records (its queue overflowed): processes that "
                 "ended meanwhile may have no exit record (%llu overflow(s) so far)",
                 (unsigned long long)s->exit_overflows);
    if (s->exit_records > written)
        jsonl_flush(&s->procw);
}

/* ---------------------------------------------------------------- scan mode */

static void scan_proc(struct sampler *s, int64_t now_ms)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        int pid;
        if (!parse_pid_name(e->d_name, &pid) || find(s, pid))
            continue;
        if (pid == s->self_pid && !s->o.self_sample)
            continue;
        int64_t *last = pairmap_get(&s->rejected, pid, 0);
        if (last && now_ms - *last < RECHECK_MS)
            continue;
        int fd = open_proc(pid, "stat");
        if (fd < 0)
            continue;
        ssize_t n = pread_text(fd, s->buf, sizeof s->buf);
        close(fd);
        struct proc_stat st;
        if (n <= 0 || procfs_parse_stat(s->buf, (size_t)n, &st) < 0)
            continue;
        if (regexec(s->o.match, st.comm, 0, NULL, 0) == 0) {
            pairmap_del(&s->rejected, pid, 0);
            track(s, pid, st.start_ticks, "new");
        } else {
            *pairmap_put(&s->rejected, pid, 0, 0, NULL) = now_ms;
        }
    }
    closedir(d);
    /* Forget rejected PIDs that no longer exist, so the map stays small. */
    if (s->rejected.len > 4096) {
        pairmap_free(&s->rejected);
        pairmap_init(&s->rejected);
    }
}

/* ---------------------------------------------------------------- host */

static void host_open(struct sampler *s)
{
    s->host.fd_stat = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    s->host.fd_mem = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
    s->host.fd_net = open("/proc/net/dev", O_RDONLY | O_CLOEXEC);
}

static void sample_host(struct sampler *s)
{
    struct hoststate *h = &s->host;
    static char text[65536];
    struct cpu_times cpu;
    struct meminfo mem;
    struct netdev net[MAX_NET];
    int nnet = 0;
    int64_t mono_us = now_mono_us(), wall = now_wall_ms();
    if (pread_text(h->fd_stat, text, sizeof text) <= 0 || procfs_parse_cpu(text, &cpu) < 0)
        return;
    power_set_sample(s->o.power, mono_us);
    bool have_mem = pread_text(h->fd_mem, text, sizeof text) > 0 && procfs_parse_meminfo(text, &mem) == 0;
    if (h->fd_net >= 0 && pread_text(h->fd_net, text, sizeof text) > 0) {
        nnet = procfs_parse_netdev(text, net, MAX_NET);
        if (nnet > MAX_NET)
            nnet = MAX_NET;
    }
    if (!h->have_prev) {
        h->have_prev = true;
        goto keep;
    }
    double dt_s = (double)(mono_us - h->prev_mono_us) / 1e6;
    if (dt_s <= 0)
        goto keep;
    struct cpu_times *o = &h->prev_cpu;
#define D(f) ((double)(cpu.f >= o->f ? cpu.f - o->f : 0))
    double du = D(user), dn = D(nice), ds = D(system), di = D(idle), dw = D(iowait), dq = D(irq),
           dsq = D(softirq), dst = D(steal);
#undef D
    double tot = du + dn + ds + di + dw + dq + dsq + dst;
    if (tot <= 0)
        tot = 1;

    struct jbuf *b = &s->line;
    jb_reset(b);
    jb_obj_open(b, NULL);
    jb_int(b, "ts_ms", wall);
    jb_int(b, "mono_us", mono_us);
    jb_str(b, "node", s->o.node_id);
    jb_fixed(b, "dt_ms", dt_s * 1000.0, 3);
    jb_fixed(b, "cpu_user", du / tot, 4);
    jb_fixed(b, "cpu_nice", dn / tot, 4);
    jb_fixed(b, "cpu_system", ds / tot, 4);
    jb_fixed(b, "cpu_idle", di / tot, 4);
    jb_fixed(b, "cpu_iowait", dw / tot, 4);
    jb_fixed(b, "cpu_irq", dq / tot, 4);
    jb_fixed(b, "cpu_softirq", dsq / tot, 4);
    jb_fixed(b, "cpu_steal", dst / tot, 4);
    jb_fixed(b, "cpu_util", 100.0 * (1.0 - (di + dw) / tot), 2);
    if (have_mem) {
        jb_int(b, "mem_total_mb", mem.total_kb / 1024);
        jb_int(b, "mem_available_mb", mem.available_kb / 1024);
        jb_int(b, "mem_used_mb", (mem.total_kb - mem.available_kb) / 1024);
        jb_int(b, "mem_free_mb", mem.free_kb / 1024);
    }
    jb_obj_open(b, "net");
    for (int i = 0; i < nnet; i++) {
        if (s->o.iface && strcmp(s->o.iface, net[i].name) != 0)
            continue;
        const struct netdev *prev = NULL;
        for (int j = 0; j < h->prev_nnet; j++)
            if (strcmp(h->prev_net[j].name, net[i].name) == 0)
                prev = &h->prev_net[j];
        jb_obj_open(b, net[i].name);
        /* Counters can reset (interface re-created): a negative delta is 0. */
#define RATE(f) (prev && net[i].f >= prev->f ? (double)(net[i].f - prev->f) / dt_s : 0.0)
        jb_fixed(b, "rx_bytes_ps", RATE(rx_bytes), 1);
        jb_fixed(b, "tx_bytes_ps", RATE(tx_bytes), 1);
        jb_fixed(b, "rx_packets_ps", RATE(rx_packets), 1);
        jb_fixed(b, "tx_packets_ps", RATE(tx_packets), 1);
#undef RATE
        jb_uint(b, "rx_bytes", net[i].rx_bytes);
        jb_uint(b, "tx_bytes", net[i].tx_bytes);
        jb_obj_close(b);
    }
    jb_obj_close(b);
    power_set_json(s->o.power, b);
    jb_obj_close(b);
    jsonl_add(&s->hostw, b);
    jsonl_flush(&s->hostw);
    s->host_samples++;
keep:
    h->prev_mono_us = mono_us;
    h->prev_cpu = cpu;
    memcpy(h->prev_net, net, (size_t)nnet * sizeof net[0]);
    h->prev_nnet = nnet;
}

/* ---------------------------------------------------------------- cgroups */

/* One reading of every --cgroup group (cumulative counters; parse derives
 * the intervals).  A group that can no longer be read is dropped once. */
static void sample_cgroups(struct sampler *s)
{
    if (!s->ncgs)
        return;
    int64_t wall = now_wall_ms(), mono = now_mono_us();
    for (int i = 0; i < s->ncgs; i++) {
        struct cgstat *c = &s->cgs[i];
        int64_t cpu, mem;
        if (c->cpu_fd < 0)
            continue;
        if (cgstat_read(c, &cpu, &mem) < 0) {
            log_warn("cgroup %s can no longer be read (removed?): no more samples of it", c->name);
            close(c->cpu_fd);
            c->cpu_fd = -1;
            s->read_errors++;
            continue;
        }
        jb_reset(&s->line);
        cgstat_record(&s->line, c, s->o.node_id, wall, mono, cpu, mem);
        jsonl_add(&s->cgw, &s->line);
    }
    jsonl_flush(&s->cgw);
}

/* ---------------------------------------------------------------- status */

static void write_status(struct sampler *s, const char *state)
{
    if (!s->o.status_path)
        return;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_ms = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "state", state);
    jb_int(&b, "pid", s->self_pid);
    jb_uint(&b, "start_ticks", s->self_start_ticks);
    jb_str(&b, "node", s->o.node_id);
    jb_str(&b, "mode", s->o.pid_dir ? "whitelist" : "scan");
    jb_str(&b, "exit_source", s->ts ? "taskstats" : "proc");
    jb_str(&b, "backend", s->bt ? "bpf" : "proc");
    jb_str(&b, "pid_dir", s->o.pid_dir);
    jb_str(&b, "match", s->o.pid_dir ? NULL : s->o.match_text);
    jb_int(&b, "interval_ms", s->o.interval_ms);
    jb_int(&b, "host_interval_ms", s->o.host_interval_ms);
    jb_int(&b, "started_ms", s->started_ms);
    jb_int(&b, "updated_ms", now_wall_ms());
    jb_obj_open(&b, "stats");
    jb_uint(&b, "ticks", s->ticks);
    jb_uint(&b, "overruns", s->overruns);
    jb_uint(&b, "proc_samples", s->proc_samples);
    jb_uint(&b, "host_samples", s->host_samples);
    jb_uint(&b, "processes_seen", s->seen);
    jb_uint(&b, "processes_ended", s->exited);
    jb_int(&b, "processes_tracked", s->nprocs);
    jb_uint(&b, "stale_sentinels_removed", s->stale);
    jb_uint(&b, "read_errors", s->read_errors);
    jb_uint(&b, "exit_records", s->exit_records);
    jb_uint(&b, "exit_records_unsampled", s->exit_unsampled);
    jb_uint(&b, "exit_overflows", s->exit_overflows);
    jb_uint(&b, "write_errors", s->procw.write_errors + s->hostw.write_errors + s->cgw.write_errors);
    jb_int(&b, "tick_late_us_p50", stats_hist_nearest_rank(s->late_hist, HIST_BUCKETS, HIST_WIDTH_US, 0.50));
    jb_int(&b, "tick_late_us_p99", stats_hist_nearest_rank(s->late_hist, HIST_BUCKETS, HIST_WIDTH_US, 0.99));
    jb_int(&b, "tick_late_us_max", s->late_max_us);
    jb_int(&b, "interval_err_us_p50", stats_hist_nearest_rank(s->gap_hist, HIST_BUCKETS, HIST_WIDTH_US, 0.50));
    jb_int(&b, "interval_err_us_p99", stats_hist_nearest_rank(s->gap_hist, HIST_BUCKETS, HIST_WIDTH_US, 0.99));
    jb_int(&b, "interval_err_us_max", s->gap_max_us);
    jb_fixed(&b, "cpu_ms", cpu_ms, 3);
    jb_fixed(&b, "sampling_cpu_us_per_sample",
             s->sampled_in_passes ? s->sample_cpu_ns / 1e3 / (double)s->sampled_in_passes : 0, 3);
    jb_obj_close(&b);
    jb_obj_close(&b);
    jb_newline(&b);
    if (write_file_atomic(s->o.status_path, b.p, b.len) < 0)
        log_warn("cannot write %s: %s", s->o.status_path, strerror(errno));
    jb_free(&b);
    s->last_status_ms = now_wall_ms();
}

void sampler_set_identity(struct sampler *s, int pid, uint64_t start_ticks)
{
    s->self_pid = pid;
    s->self_start_ticks = start_ticks;
    write_status(s, "running");
}

/* ---------------------------------------------------------------- life cycle */

static int arm_timer(int fd, int64_t first_ns, int64_t period_ns)
{
    struct itimerspec its = {
        .it_value = {first_ns / 1000000000, first_ns % 1000000000},
        .it_interval = {period_ns / 1000000000, period_ns % 1000000000},
    };
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int watch(struct sampler *s, int fd, uint64_t tag)
{
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e);
}

/* Exit records from taskstats (root), else /proc's last reading. */
static int open_exit_source(struct sampler *s, char *err, size_t errlen)
{
    if (s->o.exit_source == SAMPLER_EXIT_PROC)
        return 0;
    char why[256] = "";
    s->ts = tstats_open(why, sizeof why);
    if (s->ts && (s->ts_fd = tstats_listen(s->ts, why, sizeof why)) < 0) {
        tstats_close(s->ts);
        s->ts = NULL;
    }
    if (!s->ts) {
        if (s->o.exit_source == SAMPLER_EXIT_TASKSTATS)
            return errf(err, errlen, "--exit-source taskstats: %s", why);
        log_info("final readings from /proc/PID/stat (%s)", why);
        return 0;
    }
    s->drained_mono_ns = now_mono_ns();
    /* Not watched: waking on every exit of the machine would cost more than
     * all the sampling.  The records wait in the socket's queue; every tick,
     * sentinel event and pidfd event reads them first. */
    return 0;
}

/* The BPF task iterator (root, BTF, built in), else /proc. */
static int open_backend(struct sampler *s, char *err, size_t errlen)
{
    if (s->o.backend == SAMPLER_BACKEND_PROC ||
        (s->o.backend == SAMPLER_BACKEND_AUTO && !bpftask_built()))
        return 0;
    char why[256] = "";
    s->bt = bpftask_open(why, sizeof why);
    if (s->bt)
        return 0;
    if (s->o.backend == SAMPLER_BACKEND_BPF)
        return errf(err, errlen, "--backend bpf: %s", why);
    log_info("sampling through /proc (%s)", why);
    return 0;
}

struct sampler *sampler_open(const struct sampler_opts *o, char *err, size_t errlen)
{
    struct sampler *s = xcalloc(1, sizeof *s);
    s->o = *o;
    s->epfd = s->tick_fd = s->host_fd = s->ino_fd = s->sig_fd = s->dir_fd = -1;
    s->procw.fd = s->hostw.fd = s->cgw.fd = -1;
    s->host.fd_stat = s->host.fd_mem = s->host.fd_net = -1;
    s->clk_tck = sysconf(_SC_CLK_TCK);
    s->page_kb = sysconf(_SC_PAGESIZE) / 1024;
    s->self_pid = getpid();
    pairmap_init(&s->index);
    pairmap_init(&s->rejected);
    pairmap_init(&s->done);
    pairmap_init(&s->gone_wl);
    s->ts_fd = -1;
    jb_init(&s->line);

    /* Enough descriptors for 3 per tracked process. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    char *path = path_join(o->run_dir, "proc_metrics.jsonl");
    int rc = jsonl_open(&s->procw, path, o->sync_every_ms);
    if (rc < 0)
        snprintf(err, errlen, "cannot open %s for appending: %s", path, strerror(errno));
    free(path);
    if (rc < 0)
        goto fail;
    if (o->host_interval_ms > 0) {
        path = path_join(o->run_dir, "host_metrics.jsonl");
        rc = jsonl_open(&s->hostw, path, o->sync_every_ms);
        if (rc < 0)
            snprintf(err, errlen, "cannot open %s for appending: %s", path, strerror(errno));
        free(path);
        if (rc < 0)
            goto fail;
        host_open(s);
    }
    if (o->ncgroups > 0) {
        struct cgroup_sys sys;
        cgroup_sys_detect(&sys);
        s->cgs = xcalloc((size_t)o->ncgroups, sizeof *s->cgs);
        for (; s->ncgs < o->ncgroups; s->ncgs++)
            if (cgstat_open(&s->cgs[s->ncgs], &sys, o->cgroups[s->ncgs], err, errlen) < 0)
                break;
        cgroup_sys_free(&sys);
        if (s->ncgs < o->ncgroups)
            goto fail;
        path = path_join(o->run_dir, "cgroup_metrics.jsonl");
        rc = jsonl_open(&s->cgw, path, o->sync_every_ms);
        if (rc < 0)
            snprintf(err, errlen, "cannot open %s for appending: %s", path, strerror(errno));
        free(path);
        if (rc < 0)
            goto fail;
    }

    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->epfd < 0 || s->tick_fd < 0) {
        snprintf(err, errlen, "cannot create timers: %s", strerror(errno));
        goto fail;
    }
    watch(s, s->tick_fd, EV_TAG(EV_TICK, 0));
    if (open_exit_source(s, err, errlen) < 0 || open_backend(s, err, errlen) < 0)
        goto fail;
    if (o->host_interval_ms > 0) {
        s->host_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        watch(s, s->host_fd, EV_TAG(EV_HOST, 0));
    }

    if (o->pid_dir) {
        if (mkdir_p(o->pid_dir, TK_DIR_MODE) < 0) {
            snprintf(err, errlen, "cannot create pid folder %s: %s", o->pid_dir, strerror(errno));
            goto fail;
        }
        s->dir_fd = open(o->pid_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (s->dir_fd < 0 || s->ino_fd < 0 ||
            inotify_add_watch(s->ino_fd, o->pid_dir,
                              IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM) < 0) {
            snprintf(err, errlen, "cannot watch pid folder %s: %s", o->pid_dir, strerror(errno));
            goto fail;
        }
        watch(s, s->ino_fd, EV_TAG(EV_INOTIFY, 0));
    }

    /* Block the stop signals now (before any daemon fork) so none is lost;
     * the signalfd itself is made in sampler_loop: a signalfd registered in
     * epoll keeps waking the process that registered it, not a forked child. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return s;
fail:
    sampler_close(s);
    return NULL;
}

static void go_realtime(void)
{
    struct sched_param sp = {.sched_priority = 10};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
        log_warn("real-time priority refused (%s): sampling with normal priority", strerror(errno));
    else
        log_info("sampling with SCHED_FIFO priority 10");
    if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
        log_warn("mlockall refused (%s)", strerror(errno));
}

static void do_tick(struct sampler *s)
{
    uint64_t expirations = 0;
    if (read(s->tick_fd, &expirations, sizeof expirations) != sizeof expirations)
        return;
    int64_t now = now_mono_ns();
    /* The deadline that just fired is the latest one not after now. */
    if (expirations > 1)
        s->overruns += expirations - 1;
    s->next_deadline_ns += (int64_t)expirations * s->interval_ns;
    int64_t deadline = s->next_deadline_ns - s->interval_ns;
    hist_add(s->late_hist, &s->late_max_us, (now - deadline) / 1000);
    if (s->last_tick_ns)
        hist_add(s->gap_hist, &s->gap_max_us, (now - s->last_tick_ns - s->interval_ns) / 1000);
    s->last_tick_ns = now;
    s->ticks++;
    catch_up(s);

    double c0 = thread_cpu_ns();
    int removed = 0, sampled = 0;
    if (s->bt && bpftask_read(s->bt, on_bpf_proc, s) < 0)
        s->read_errors++;   /* this tick from /proc */
    for (int i = 0; i < s->nprocs; i++) {
        struct tproc *p = &s->procs[i];
        if (p->gone)
            continue;
        if ((s->bt && p->bt_tick == s->ticks) || sample_proc(s, p, "tick")) {
            sampled++;
        } else {
            if (s->o.pid_dir) {
                char name[24];
                snprintf(name, sizeof name, "%d", p->pid);
                remove_sentinel(s, name);
            }
            untrack(s, p);
            removed++;
        }
    }
    jsonl_flush(&s->procw);
    s->sample_cpu_ns += thread_cpu_ns() - c0;
    s->sampled_in_passes += (uint64_t)sampled;
    if (removed || s->nprocs != (int)s->index.len)
        compact(s);
    /* Discovery after the samples, so it never delays them; processes found
     * now get their first reading at once. */
    int64_t now_ms = now_wall_ms();
    if (s->o.pid_dir) {
        if (now_ms - s->last_rescan_ms >= RESCAN_MS) {
            rescan_pid_dir(s);
            s->last_rescan_ms = now_ms;
        }
    } else {
        scan_proc(s, now_ms);
    }
    jsonl_flush(&s->procw);
    if (s->host_fd < 0)
        sample_cgroups(s);
    if (now_ms - s->last_status_ms >= STATUS_MS)
        write_status(s, "running");
}

static void handle_exit_event(struct sampler *s, int pid)
{
    s->prompt_pid = pid;
    catch_up(s);
    s->prompt_pid = 0;
    struct tproc *p = find(s, pid);
    if (!p)
        return;
    /* The process has ended; until its parent reaps it, stat still shows
     * the final counters.  Record them now rather than at the next tick. */
    sample_proc(s, p, "exit");
    jsonl_flush(&s->procw);
    /* Keep tracking until the sentinel goes or the fd reports ESRCH, but
     * stop listening on the pidfd (it stays readable). */
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, p->pidfd, NULL);
    close(p->pidfd);
    p->pidfd = -1;
}

int sampler_loop(struct sampler *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->sig_fd < 0 || watch(s, s->sig_fd, EV_TAG(EV_SIGNAL, 0)) < 0) {
        log_error("cannot watch signals: %s", strerror(errno));
        return -1;
    }
    if (s->o.realtime)
        go_realtime();
    s->started_ms = now_wall_ms();
    s->interval_ns = (int64_t)s->o.interval_ms * 1000000;
    s->start_mono_ns = now_mono_ns();
    s->end_mono_ns = s->o.duration_s > 0 ? s->start_mono_ns + (int64_t)(s->o.duration_s * 1e9) : 0;
    s->next_deadline_ns = s->start_mono_ns + s->interval_ns;
    arm_timer(s->tick_fd, s->next_deadline_ns, s->interval_ns);
    if (s->host_fd >= 0) {
        int64_t hp = (int64_t)s->o.host_interval_ms * 1000000;
        sample_host(s);  /* baseline */
        arm_timer(s->host_fd, s->start_mono_ns + hp, hp);
    }
    sample_cgroups(s);   /* baseline */
    if (s->o.pid_dir) {
        rescan_pid_dir(s);
        s->last_rescan_ms = now_wall_ms();
    } else {
        scan_proc(s, now_wall_ms());
    }
    jsonl_flush(&s->procw);
    write_status(s, "running");

    int rc = 0;
    bool stop = false;
    while (!stop) {
        int timeout = -1;
        if (s->end_mono_ns) {
            int64_t left = s->end_mono_ns - now_mono_ns();
            if (left <= 0)
                break;
            timeout = (int)((left + 999999) / 1000000);
        }
        struct epoll_event evs[64];
        int n = epoll_wait(s->epfd, evs, 64, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error("epoll_wait: %s", strerror(errno));
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            switch ((int)(tag >> 32)) {
            case EV_TICK:
                do_tick(s);
                break;
            case EV_HOST: {
                uint64_t x;
                if (read(s->host_fd, &x, sizeof x) == sizeof x) {
                    sample_host(s);
                    sample_cgroups(s);
                }
                break;
            }
            case EV_INOTIFY:
                handle_inotify(s);
                jsonl_flush(&s->procw);
                break;
            case EV_EXIT:
                handle_exit_event(s, (int)(uint32_t)tag);
                break;

            case EV_SIGNAL: {
                struct signalfd_siginfo si;
                if (read(s->sig_fd, &si, sizeof si) == sizeof si) {
                    log_info("received signal %u: stopping", si.ssi_signo);
                    stop = true;
                }
                break;
            }
            }
        }
        if (s->procw.write_errors + s->hostw.write_errors + s->cgw.write_errors > 0 && rc == 0) {
            log_error("writing records failed: %s", strerror(errno));
            rc = -1;
            break;
        }
    }
    catch_up(s);         /* the exits up to the stop */
    sample_cgroups(s);   /* the totals up to the stop */
    return rc;
}

void sampler_close(struct sampler *s)
{
    if (!s)
        return;
    if (s->procw.fd >= 0 && jsonl_close(&s->procw) < 0)
        log_error("closing proc_metrics.jsonl: %s", strerror(errno));
    if (s->hostw.fd >= 0 && jsonl_close(&s->hostw) < 0)
        log_error("closing host_metrics.jsonl: %s", strerror(errno));
    if (s->cgw.fd >= 0 && jsonl_close(&s->cgw) < 0)
        log_error("closing cgroup_metrics.jsonl: %s", strerror(errno));
    for (int i = 0; i < s->ncgs; i++)
        cgstat_close(&s->cgs[i]);
    free(s->cgs);
    if (s->started_ms)
        write_status(s, "stopped");
    for (int i = 0; i < s->nprocs; i++)
        untrack(s, &s->procs[i]);
    free(s->procs);
    bpftask_close(s->bt);
    pairmap_free(&s->index);
    pairmap_free(&s->rejected);
    pairmap_free(&s->done);
    pairmap_free(&s->gone_wl);
    tstats_close(s->ts);
    jb_free(&s->line);
    int fds[] = {s->epfd, s->tick_fd, s->host_fd, s->ino_fd, s->sig_fd, s->dir_fd,
                 s->host.fd_stat, s->host.fd_mem, s->host.fd_net};
    for (size_t i = 0; i < ARRAY_LEN(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(s);
}
