/* tasks.h -- the record the task iterator (tasks.bpf.c) writes for each
 * thread of a traced process, shared by the BPF program and bpftask.c.
 * Units: ns; pages; comm as the kernel keeps it (16 bytes, NUL-terminated). */
#ifndef TK_BPF_TASKS_H
#define TK_BPF_TASKS_H

struct tk_task {
    __u32 tgid, tid;
    __u64 runtime_ns;    /* on a CPU: this thread (se.sum_exec_runtime); the leader's
                            record adds the group's exited threads */
    __u64 delay_ns;      /* run delay, the same way (exited threads: taskstats' totals) */
    __u64 utime_ns, stime_ns;  /* tick-sampled split, the same way */
    /* The leader's record only (leader = 1): */
    __u64 start_boottime;      /* ns since boot, as /proc's start time */
    __u64 rss_pages;           /* file + anon + shmem, as /proc's RSS */
    __u32 nr_threads, exit_state;
    __u32 leader, pad;
    char comm[16];
};

#endif
