/* sampler.h -- the collector's engine: samples whitelisted (or regex-matched)
 * processes on a fixed grid of absolute deadlines, and the host on a second
 * grid, appending JSONL records (docs/formats.md).
 *
 * Design (see peers-and-limits.md §2.5): one thread, epoll over timerfds,
 * inotify (sentinels), pidfds (exits), the taskstats exit records (root)
 * and a signalfd.  Each tracked process
 * keeps /proc/PID/stat open; a kept fd is bound to the process, not to the
 * number, so a reused PID can never be read by mistake (the read fails with
 * ESRCH once the process is reaped). */
#ifndef TK_SAMPLER_H
#define TK_SAMPLER_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

struct power_set;

/* Where a process's final reading comes from (docs/formats.md, "Exit readings"). */
enum sampler_exit_source {
    SAMPLER_EXIT_AUTO,       /* taskstats when we may, else /proc */
    SAMPLER_EXIT_TASKSTATS,  /* taskstats or fail */
    SAMPLER_EXIT_PROC,       /* a last read of /proc/PID/stat (races the reap) */
};

/* How the processes are read each tick (docs/formats.md, collector.json "backend"). */
enum sampler_backend {
    SAMPLER_BACKEND_AUTO,    /* bpf when we may (root, BTF, built in), else proc */
    SAMPLER_BACKEND_BPF,     /* the BPF task iterator or fail */
    SAMPLER_BACKEND_PROC,    /* /proc/PID/{stat,schedstat} per process */
};

struct sampler_opts {
    const char *run_dir;       /* output folder (exists) */
    const char *node_id;
    const char *status_path;   /* collector.json, rewritten with live stats; may be NULL */
    int interval_ms;           /* process sampling period */
    int host_interval_ms;      /* host sampling period; 0 = off */
    const char *pid_dir;       /* whitelist folder; NULL = scan /proc with `match` */
    const regex_t *match;      /* scan mode filter on the process name */
    const char *match_text;    /* for collector.json */
    const char *iface;         /* only this interface in host metrics; NULL = all */
    double duration_s;         /* stop after this long; 0 = until a signal */
    bool realtime;             /* ask for SCHED_FIFO + mlockall */
    int sync_every_ms;         /* fdatasync period (flush happens every tick) */
    bool self_sample;          /* scan mode: sample the collector itself if it matches */
    const char *const *cgroups;/* whole cgroups to sample (relative to the mount roots) */
    int ncgroups;
    enum sampler_exit_source exit_source;
    enum sampler_backend backend;
    struct power_set *power;   /* power sources read each host interval (power.h); borrowed,
                                  NULL = none */
};

struct sampler;

/* Open output files, the pid folder watch and the timers.  Errors are
 * reported here (before any fork) with a message in err; returns NULL. */
struct sampler *sampler_open(const struct sampler_opts *o, char *err, size_t errlen);
/* Run until SIGTERM/SIGINT (blocked by sampler_open and read via signalfd)
 * or the duration ends.  Returns 0, or -1 on a fatal write error. */
int sampler_loop(struct sampler *s);
/* Flush, fsync, write the final status, free everything. */
void sampler_close(struct sampler *s);
/* Record our own identity in collector.json (after a daemon fork). */
void sampler_set_identity(struct sampler *s, int pid, uint64_t start_ticks);

/* Pure helpers (tested on their own). */
/* "PID START_TICKS" sentinel content; returns the start ticks or 0 if absent. */
uint64_t sampler_parse_sentinel(const char *text);

#endif
