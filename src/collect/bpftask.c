/* bpftask.c -- loads the BPF task iterator and reads it (see bpftask.h). */
#include "collect/bpftask.h"
#include "common/pairmap.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void bpftask_fold(struct bpftask_proc *p, const struct bpftask_rec *r, long clk_tck)
{
    p->pid = (int)r->tgid;
    p->cpu_ns += r->runtime_ns;
    p->delay_ns += r->delay_ns;
    p->utime_ns += r->utime_ns;
    p->stime_ns += r->stime_ns;
    if (!r->leader)
        return;
    p->threads = (int)r->nr_threads;
    p->zombie = r->exit_state != 0;
    p->start_ticks = r->start_boottime / (1000000000u / (uint64_t)(clk_tck > 0 ? clk_tck : 100));
    p->rss_pages = (int64_t)r->rss_pages;
    memcpy(p->comm, r->comm, sizeof p->comm);
    p->comm[sizeof p->comm - 1] = '\0';
}

#ifdef TK_HAVE_BPF

/* Generated at build time from collect/bpf/tasks.bpf.c (build/bpf/, on the
 * include path like a library's header). */
#include <tasks.skel.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

_Static_assert(sizeof(struct bpftask_rec) == 88, "struct bpftask_rec is the program's tk_task");

struct bpftask {
    struct tasks_bpf *skel;
    struct bpf_link *link;
    long clk_tck;
    char *buf;
    size_t cap;
    struct bpftask_proc *procs;
    int nprocs, capprocs;
    struct pairmap index;   /* tgid -> slot in procs, for one pass */
};

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level, (void)fmt, (void)ap;
    return 0;
}

struct bpftask *bpftask_open(char *err, size_t errlen)
{
    if (geteuid() != 0) {
        errf(err, errlen, "the BPF backend needs root");
        return NULL;
    }
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
        errf(err, errlen, "the kernel has no BTF (/sys/kernel/btf/vmlinux: %s)", strerror(errno));
        return NULL;
    }
    libbpf_set_print(quiet);
    struct bpftask *b = xcalloc(1, sizeof *b);
    b->skel = tasks_bpf__open_and_load();
    if (!b->skel) {
        errf(err, errlen, "the kernel refused the BPF task iterator: %s", strerror(errno));
        free(b);
        return NULL;
    }
    b->link = bpf_program__attach_iter(b->skel->progs.tk_tasks, NULL);
    if (!b->link) {
        errf(err, errlen, "cannot attach the BPF task iterator: %s", strerror(errno));
        tasks_bpf__destroy(b->skel);
        free(b);
        return NULL;
    }
    b->clk_tck = sysconf(_SC_CLK_TCK);
    b->cap = 1 << 16;
    b->buf = xmalloc(b->cap);
    pairmap_init(&b->index);
    return b;
}

#define PID_BITS (ARRAY_LEN(((struct tasks_bpf *)0)->bss->traced) * 64)

int bpftask_trace(struct bpftask *b, int pid)
{
    if (pid <= 0 || (size_t)pid >= PID_BITS) {
        errno = ERANGE;
        return -1;
    }
    __atomic_fetch_or(&b->skel->bss->traced[pid / 64], 1ULL << (pid % 64), __ATOMIC_RELAXED);
    return 0;
}

void bpftask_untrace(struct bpftask *b, int pid)
{
    if (pid > 0 && (size_t)pid < PID_BITS)
        __atomic_fetch_and(&b->skel->bss->traced[pid / 64], ~(1ULL << (pid % 64)), __ATOMIC_RELAXED);
}

int bpftask_read(struct bpftask *b, void (*fn)(void *arg, const struct bpftask_proc *p), void *arg)
{
    int fd = bpf_iter_create(bpf_link__fd(b->link));
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        if (b->cap - len < 8192) {
            b->cap *= 2;
            b->buf = xrealloc(b->buf, b->cap);
        }
        ssize_t n = read(fd, b->buf + len, b->cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    /* Threads come in the kernel's PID order, not grouped: fold by tgid. */
    b->nprocs = 0;
    pairmap_free(&b->index);
    pairmap_init(&b->index);
    size_t nrec = len / sizeof(struct bpftask_rec);
    for (size_t i = 0; i < nrec; i++) {
        struct bpftask_rec r;
        memcpy(&r, b->buf + i * sizeof r, sizeof r);
        bool added;
        int64_t *slot = pairmap_put(&b->index, r.tgid, 0, b->nprocs, &added);
        if (added) {
            ARRAY_GROW(b->procs, b->nprocs + 1, b->capprocs, 64);
            memset(&b->procs[b->nprocs], 0, sizeof b->procs[0]);
            b->nprocs++;
        }
        bpftask_fold(&b->procs[*slot], &r, b->clk_tck);
    }
    for (int i = 0; i < b->nprocs; i++)
        fn(arg, &b->procs[i]);
    return b->nprocs;
}

void bpftask_close(struct bpftask *b)
{
    if (!b)
        return;
    bpf_link__destroy(b->link);
    tasks_bpf__destroy(b->skel);
    pairmap_free(&b->index);
    free(b->procs);
    free(b->buf);
    free(b);
}

bool bpftask_built(void) { return true; }

#else /* !TK_HAVE_BPF */

bool bpftask_built(void) { return false; }

struct bpftask *bpftask_open(char *err, size_t errlen)
{
    errf(err, errlen, "this tracekit was built without the BPF backend (it is built with "
                      "'make BPF=1'; docs/benchmarks.md says why it is left out)");
    return NULL;
}

int bpftask_trace(struct bpftask *b, int pid)
{
    (void)b, (void)pid;
    errno = ENOSYS;
    return -1;
}

void bpftask_untrace(struct bpftask *b, int pid) { (void)b, (void)pid; }

int bpftask_read(struct bpftask *b, void (*fn)(void *arg, const struct bpftask_proc *p), void *arg)
{
    (void)b, (void)fn, (void)arg;
    errno = ENOSYS;
    return -1;
}

void bpftask_close(struct bpftask *b) { (void)b; }

#endif
