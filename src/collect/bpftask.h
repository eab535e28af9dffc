/* bpftask.h -- the collector's BPF backend (collect --backend bpf): a BPF
 * task iterator (collect/bpf/tasks.bpf.c) that reads every traced process
 * in one pass over the kernel's tasks per tick, instead of one /proc read
 * per process.
 *
 * Root only, and only on a kernel with BTF (/sys/kernel/btf/vmlinux): the
 * program is compiled once against the build machine's BTF and relocated
 * (CO-RE) to the running kernel's at load time.  Measured and not kept
 * (docs/benchmarks.md, "A BPF backend (#19)"): built only with `make BPF=1`
 * (TK_HAVE_BPF), for measuring it again; otherwise bpftask_open says so and
 * the collector uses /proc.
 *
 * Units: ns, pages, clock ticks where named. */
#ifndef TK_BPFTASK_H
#define TK_BPFTASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One traced process as one pass saw it: its threads summed. */
struct bpftask_proc {
    int pid;
    int threads;
    bool zombie;              /* the leader has exited (/proc's state Z) */
    uint64_t start_ticks;     /* /proc/PID/stat field 22 */
    uint64_t cpu_ns;          /* runtime of every thread, exited ones included */
    uint64_t delay_ns;        /* run delay, the same way */
    uint64_t utime_ns, stime_ns;  /* tick-sampled split of the same time */
    int64_t rss_pages;
    char comm[16];
};

/* One thread's record as the program writes it (collect/bpf/tasks.h). */
struct bpftask_rec {
    uint32_t tgid, tid;
    uint64_t runtime_ns, delay_ns, utime_ns, stime_ns;
    uint64_t start_boottime, rss_pages;
    uint32_t nr_threads, exit_state, leader, pad;
    char comm[16];
};

/* Pure: add one thread's record to its process (zeroed before the first). */
void bpftask_fold(struct bpftask_proc *p, const struct bpftask_rec *r, long clk_tck);

struct bpftask;

/* Whether this tracekit has the backend at all (make BPF=1). */
bool bpftask_built(void);

/* Load and attach the iterator.  NULL with a reason in err (not built in,
 * not root, no BTF, the kernel refused the program). */
struct bpftask *bpftask_open(char *err, size_t errlen);
/* Trace / stop tracing a thread group.  0, or -1 (errno). */
int bpftask_trace(struct bpftask *b, int pid);
void bpftask_untrace(struct bpftask *b, int pid);
/* One pass: calls fn once per traced process found.  Returns the number of
 * processes, or -1 (errno) when the pass could not be read. */
int bpftask_read(struct bpftask *b, void (*fn)(void *arg, const struct bpftask_proc *p), void *arg);
void bpftask_close(struct bpftask *b);

#endif
