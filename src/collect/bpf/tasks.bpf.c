/* tasks.bpf.c -- a BPF task iterator: one pass over the kernel's tasks per
 * read, writing a struct tk_task (tasks.h) for every thread of a traced
 * process (its thread group id's bit set in `traced`).  Built with
 * clang against the running kernel's BTF (CO-RE); loaded by bpftask.c. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "tasks.h"

char LICENSE[] SEC("license") = "GPL";

/* One bit per PID (PID_MAX_LIMIT on 64-bit): set when the thread group is
 * traced.  In .bss, which user space maps: marking a process costs it no
 * system call, and a visit costs the program one load. */
#define TK_PID_BITS (4 * 1024 * 1024)
__u64 traced[TK_PID_BITS / 64];

/* MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES: get_mm_rss(), each read as
 * percpu_counter_read_positive() as /proc reads them. */
static __u64 rss_pages(struct mm_struct *mm)
{
    __s64 f = mm->rss_stat[0].count, a = mm->rss_stat[1].count, s = mm->rss_stat[3].count;
    return (__u64)(f > 0 ? f : 0) + (__u64)(a > 0 ? a : 0) + (__u64)(s > 0 ? s : 0);
}

/* Loads through the task pointer are direct (the verifier makes them
 * fault-safe), not helper calls: they are most of the cost of a visit. */
SEC("iter/task")
int tk_tasks(struct bpf_iter__task *ctx)
{
    struct seq_file *seq = ctx->meta->seq;
    struct task_struct *t = ctx->task;
    if (!t)
        return 0;
    __u32 tgid = t->tgid;
    if (tgid >= TK_PID_BITS || !(traced[tgid / 64] & (1ULL << (tgid % 64))))
        return 0;
    struct tk_task r = {};
    r.tgid = tgid;
    r.tid = t->pid;
    r.runtime_ns = t->se.sum_exec_runtime;
    r.delay_ns = t->sched_info.run_delay;
    r.utime_ns = t->utime;
    r.stime_ns = t->stime;
    if (t->pid == t->tgid) {
        struct signal_struct *sig = t->signal;
        r.leader = 1;
        r.runtime_ns += sig->sum_sched_runtime;
        r.utime_ns += sig->utime;
        r.stime_ns += sig->stime;
        struct taskstats *st = sig->stats;
        if (st)
            r.delay_ns += st->cpu_delay_total;
        r.nr_threads = sig->nr_threads;
        r.exit_state = t->exit_state;
        r.start_boottime = t->start_boottime;
        struct mm_struct *mm = t->mm;
        if (mm)
            r.rss_pages = rss_pages(mm);
        bpf_probe_read_kernel(r.comm, sizeof r.comm, t->comm);
    }
    bpf_seq_write(seq, &r, sizeof r);
    return 0;
}
