/* taskstats.h -- the kernel's per-process accounting over generic netlink
 * (family TASKSTATS; Documentation/accounting/taskstats.rst).
 *
 * Two uses, both root only (CAP_NET_ADMIN):
 *  - exit records: the kernel sends one message per exiting thread to every
 *    listener registered for the CPU it ran on; the last thread of a group
 *    carries the group's totals.  They arrive before the parent can reap the
 *    process, so no final reading races the reap, and a process that lived
 *    between two samples is still seen.
 *  - a TGID query: exact runtime and run delay of a live thread group, all
 *    threads including exited ones, in one round trip.
 *
 * The decoding (message bytes to struct tstats_rec) is pure; the rest opens
 * and reads sockets. */
#ifndef TK_TASKSTATS_H
#define TK_TASKSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One process's figures, from an exit message or a TGID query. */
struct tstats_rec {
    int pid;               /* thread group id */
    bool group_exit;       /* the whole group ended (exit messages) */
    bool multi;            /* the group had more than one thread (totals from its TGID record) */
    char comm[32];
    uint64_t cpu_ns;       /* runtime of all threads, ns (sum_exec_runtime) */
    uint64_t utime_us, stime_us;   /* tick-sampled split of the same time */
    uint64_t delay_ns;     /* run delay: runnable but waiting for a CPU */
    uint64_t hiwater_kb;   /* peak RSS (0 when not given: TGID queries) */
    uint64_t elapsed_us;   /* group leader's start to now (exit messages) */
    uint32_t exit_code;    /* wait(2) status word */
};

/* Decode one generic netlink message (nlmsghdr first) from the family.
 * Returns 1 with *out filled when it is a group's exit record (or a TGID
 * query reply), 0 for a message to ignore (one thread of a group that goes
 * on, another command), -1 when it is malformed. */
int tstats_decode(const void *msg, size_t len, struct tstats_rec *out);

/* The user/system split of exact runtime cpu_ns in the ratio of the
 * tick-sampled utime:stime, as the kernel's cputime_adjust does for /proc and
 * getrusage. */
void tstats_split(uint64_t cpu_ns, uint64_t utime_us, uint64_t stime_us, uint64_t *user_ns,
                  uint64_t *sys_ns);

/* Start ticks (/proc/PID/stat field 22) of a process that has run for
 * elapsed_us up to boottime now_boot_ns: exact to one tick. */
uint64_t tstats_start_ticks(uint64_t now_boot_ns, uint64_t elapsed_us, long clk_tck);

/* When a process ended, in monotonic ns, and how far that may be off
 * (*err, either way).  Its record was read in [lo, hi] (the previous read
 * and now); start_ticks (0 = unknown) and elapsed_us narrow the window to
 * one tick; the middle of what is left.  boot_minus_mono: CLOCK_BOOTTIME
 * minus CLOCK_MONOTONIC now (start ticks count boot time). */
void tstats_exit_time(int64_t lo, int64_t hi, uint64_t start_ticks, uint64_t elapsed_us, long clk_tck,
                      int64_t boot_minus_mono, int64_t *at, int64_t *err);

struct tstats;

/* Connect and resolve the family.  NULL with a reason in err when the
 * kernel has no taskstats or we lack the privilege. */
struct tstats *tstats_open(char *err, size_t errlen);
/* Register for exit records of every CPU (a second socket; non-blocking).
 * Returns its descriptor, or -1 with err.  Records wait in its receive
 * queue until tstats_drain. */
int tstats_listen(struct tstats *t, char *err, size_t errlen);
/* Read every pending exit record, calling fn for each group exit.  Returns
 * the number of records, or -1 on a socket error.  A receive queue that
 * overflowed (the kernel dropped records) adds one to *overflows. */
int tstats_drain(struct tstats *t, void (*fn)(void *arg, const struct tstats_rec *r), void *arg,
                 uint64_t *overflows);
/* Query a live thread group: cpu_ns, delay_ns, utime/stime (utime_us and
 * stime_us are the group's tick-sampled times).  0, or -1 (gone, error). */
int tstats_query(struct tstats *t, int tgid, struct tstats_rec *out);
void tstats_close(struct tstats *t);

#endif
