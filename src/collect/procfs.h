/* procfs.h -- careful parsing of the /proc files the collector reads.
 * The parsers are pure (text in, struct out) so tests feed them recorded
 * text; the few readers below only open files. */
#ifndef TK_PROCFS_H
#define TK_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* /proc/PID/stat, the fields we use. */
struct proc_stat {
    int pid;
    char comm[64];         /* as the kernel prints it (up to 15 chars + any ')') */
    char state;
    int ppid;
    uint64_t utime, stime; /* clock ticks, all threads including exited ones */
    int64_t num_threads;
    uint64_t start_ticks;  /* field 22: start time in ticks since boot */
    int64_t rss_pages;     /* field 24 */
};

/* Parse one /proc/PID/stat line.  The comm may contain spaces and ')', so the
 * fields after it are found from the LAST ')'.  Returns 0 or -1. */
int procfs_parse_stat(const char *buf, size_t len, struct proc_stat *out);

/* /proc/PID/schedstat (this thread only): nanoseconds on a CPU, and
 * nanoseconds runnable but waiting for one (run delay; may be NULL). */
int procfs_parse_schedstat(const char *buf, uint64_t *run_ns, uint64_t *delay_ns);

/* Host CPU time from /proc/stat ("cpu " line), in ticks. */
struct cpu_times {
    uint64_t user, nice, system, idle, iowait, irq, softirq, steal;
};
int procfs_parse_cpu(const char *buf, struct cpu_times *out);
/* "btime" from /proc/stat (boot time, seconds since the epoch); 0 if absent. */
int64_t procfs_parse_btime(const char *buf);

/* /proc/meminfo values in kB; -1 where absent. */
struct meminfo {
    int64_t total_kb, free_kb, available_kb, buffers_kb, cached_kb;
};
int procfs_parse_meminfo(const char *buf, struct meminfo *out);

/* /proc/net/dev: one entry per interface. */
struct netdev {
    char name[32];
    uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
};
/* Fills up to max entries; returns how many were found (may exceed max). */
int procfs_parse_netdev(const char *buf, struct netdev *out, int max);

/* /proc/net/route: the interface of the default route (malloc'd) or NULL. */
char *procfs_parse_default_iface(const char *buf);

/* /proc/cpuinfo: first "model name" and first "cpu MHz" (0 if absent). */
void procfs_parse_cpuinfo(const char *buf, char *model, size_t model_len, double *mhz);

/* CPU list text ("0-3,6,8-9") from a bitmap of n CPUs. */
void procfs_format_cpulist(const unsigned char *set, int n, char *out, size_t outlen);

#endif
