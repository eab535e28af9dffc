/* opendc_store.c -- the export's samples sorted out of memory (see opendc_store.h). */
#include "opendc/opendc_store.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Records read or written per system call while merging. */
#define IO_RECS 2048

struct slot {
    const struct odc_proc *p;   /* NULL: empty */
    struct odc_sample *buf;     /* file mode: its samples */
    size_t cap;
    double *aux;
    size_t aux_cap;
    uint64_t used;              /* LRU clock */
};

struct odc_store {
    char *dir;
    struct odc_sample *chunk;   /* samples not yet in a run; after finish in memory mode: all */
    size_t nchunk;
    uint64_t n;
    uint64_t *per_node;
    size_t n_nodes;
    int runs_fd;                /* sorted runs, one after another (-1: none yet) */
    uint64_t *run_end;          /* record count at the end of each run */
    size_t nruns;
    int fd;                     /* the sorted samples (-1: in memory, in chunk) */
    struct odc_proc *procs;
    size_t nprocs, procs_cap;
    struct slot cache[ODC_STORE_CACHE];
    uint64_t clock;
    char err[256];
};

static int cmp_rec(const void *a, const void *b)
{
    const struct odc_sample *x = a, *y = b;
    if (x->node != y->node)
        return (x->node > y->node) - (x->node < y->node);
    if (x->pid != y->pid)
        return (x->pid > y->pid) - (x->pid < y->pid);
    if (x->ts_ms != y->ts_ms)
        return (x->ts_ms > y->ts_ms) - (x->ts_ms < y->ts_ms);
    return (x->seq > y->seq) - (x->seq < y->seq);
}

struct odc_store *odc_store_new(const char *dir)
{
    struct odc_store *st = xcalloc(1, sizeof *st);
    const char *tmp = getenv("TMPDIR");
    st->dir = xstrdup(dir ? dir : tmp && *tmp ? tmp : "/tmp");
    st->runs_fd = st->fd = -1;
    return st;
}

void odc_store_free(struct odc_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < ODC_STORE_CACHE; i++) {
        free(st->cache[i].buf);
        free(st->cache[i].aux);
    }
    if (st->runs_fd >= 0)
        close(st->runs_fd);
    if (st->fd >= 0)
        close(st->fd);
    free(st->chunk);
    free(st->per_node);
    free(st->run_end);
    free(st->procs);
    free(st->dir);
    free(st);
}

int odc_store_tmpfile(struct odc_store *st)
{
    int fd = open(st->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char *path = xasprintf("%s/.tracekit-samples.XXXXXX", st->dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    else
        snprintf(st->err, sizeof st->err, "cannot create a temporary file in %s for the samples: %s", st->dir,
                 strerror(errno));
    free(path);
    return fd;
}

static void read_failed(struct odc_store *st)
{
    if (!st->err[0])
        snprintf(st->err, sizeof st->err, "cannot read the samples' temporary file in %s: %s", st->dir,
                 errno ? strerror(errno) : "short read");
}

static int write_recs(struct odc_store *st, int fd, const struct odc_sample *v, size_t n)
{
    if (write_all(fd, v, n * sizeof *v) < 0) {
        if (!st->err[0])
            snprintf(st->err, sizeof st->err, "cannot write the samples' temporary file in %s: %s", st->dir,
                     strerror(errno));
        return -1;
    }
    return 0;
}

/* The chunk sorted and appended to the runs file as one run. */
static void spill(struct odc_store *st)
{
    if (st->err[0] || !st->nchunk)
        return;
    if (st->runs_fd < 0 && (st->runs_fd = odc_store_tmpfile(st)) < 0)
        return;
    qsort(st->chunk, st->nchunk, sizeof *st->chunk, cmp_rec);
    if (write_recs(st, st->runs_fd, st->chunk, st->nchunk) < 0)
        return;
    st->run_end = xrealloc(st->run_end, (st->nruns + 1) * sizeof *st->run_end);
    st->run_end[st->nruns++] = st->n;
    st->nchunk = 0;
}

void odc_store_add(struct odc_store *st, const struct odc_sample *s)
{
    if (!st->chunk)
        st->chunk = xmalloc(ODC_STORE_CHUNK * sizeof *st->chunk);
    if (st->nchunk == ODC_STORE_CHUNK)
        spill(st);
    if (st->err[0])
        return;
    struct odc_sample *d = &st->chunk[st->nchunk++];
    *d = *s;
    d->seq = st->n++;
    if (s->node >= 0 && (size_t)s->node >= st->n_nodes) {
        size_t n = (size_t)s->node + 1;
        st->per_node = xrealloc(st->per_node, n * sizeof *st->per_node);
        memset(st->per_node + st->n_nodes, 0, (n - st->n_nodes) * sizeof *st->per_node);
        st->n_nodes = n;
    }
    if (s->node >= 0)
        st->per_node[s->node]++;
}

/* The directory entry of sample s, which follows the previous one in sorted order. */
static void index_rec(struct odc_store *st, const struct odc_sample *s, uint64_t pos)
{
    struct odc_proc *p = st->nprocs ? &st->procs[st->nprocs - 1] : NULL;
    if (!p || p->node != s->node || p->pid != s->pid) {
        ARRAY_GROW(st->procs, st->nprocs + 1, st->procs_cap, 64);
        p = &st->procs[st->nprocs++];
        *p = (struct odc_proc){s->node, s->pid, pos, 0, UINT64_MAX};
    }
    p->n++;
    if (s->dt_ms > 0 && s->seq < p->first_dt_seq)
        p->first_dt_seq = s->seq;
}

/* One run being merged: a window of IO_RECS records. */
struct run {
    uint64_t next, end;         /* records of the runs file */
    struct odc_sample *buf;
    size_t at, len;
};

static int run_fill(struct odc_store *st, struct run *r)
{
    size_t want = r->end - r->next < IO_RECS ? (size_t)(r->end - r->next) : IO_RECS;
    if (pread_full(st->runs_fd, r->buf, want * sizeof *r->buf, r->next * sizeof *r->buf) < 0) {
        read_failed(st);
        return -1;
    }
    r->next += want;
    r->at = 0;
    r->len = want;
    return 0;
}

/* Heap of run indices by their current record. */
static bool run_less(const struct run *rs, size_t a, size_t b)
{
    return cmp_rec(&rs[a].buf[rs[a].at], &rs[b].buf[rs[b].at]) < 0;
}

static void sift_down(const struct run *rs, size_t *heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && run_less(rs, heap[l], heap[m]))
            m = l;
        if (l + 1 < n && run_less(rs, heap[l + 1], heap[m]))
            m = l + 1;
        if (m == i)
            return;
        size_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

/* The runs merged into st->fd, indexed on the way. */
static int merge(struct odc_store *st)
{
    if ((st->fd = odc_store_tmpfile(st)) < 0)
        return -1;
    struct run *rs = xcalloc(st->nruns, sizeof *rs);
    size_t *heap = xmalloc(st->nruns * sizeof *heap), nh = 0;
    struct odc_sample *out = xmalloc(IO_RECS * sizeof *out);
    size_t nout = 0;
    uint64_t pos = 0;
    int rc = 0;
    for (size_t i = 0; i < st->nruns && rc == 0; i++) {
        rs[i] = (struct run){i ? st->run_end[i - 1] : 0, st->run_end[i], xmalloc(IO_RECS * sizeof *rs[i].buf), 0, 0};
        if (rs[i].next < rs[i].end && (rc = run_fill(st, &rs[i])) == 0)
            heap[nh++] = i;
    }
    for (size_t i = nh; i-- > 0;)
        sift_down(rs, heap, nh, i);
    while (rc == 0 && nh) {
        struct run *r = &rs[heap[0]];
        out[nout] = r->buf[r->at++];
        index_rec(st, &out[nout++], pos++);
        if (nout == IO_RECS) {
            rc = write_recs(st, st->fd, out, nout);
            nout = 0;
        }
        if (r->at == r->len) {
            if (r->next < r->end)
                rc = rc ? rc : run_fill(st, r);
            else
                heap[0] = heap[--nh];
        }
        sift_down(rs, heap, nh, 0);
    }
    if (rc == 0 && nout)
        rc = write_recs(st, st->fd, out, nout);
    for (size_t i = 0; i < st->nruns; i++)
        free(rs[i].buf);
    free(rs);
    free(heap);
    free(out);
    return rc;
}

int odc_store_finish(struct odc_store *st, char *err, size_t errlen)
{
    if (st->runs_fd >= 0)
        spill(st);
    if (!st->err[0] && st->runs_fd < 0) {
        /* it all fits in one chunk: sorted where it is */
        if (st->nchunk)
            qsort(st->chunk, st->nchunk, sizeof *st->chunk, cmp_rec);
        for (size_t i = 0; i < st->nchunk; i++)
            index_rec(st, &st->chunk[i], i);
    } else if (!st->err[0]) {
        free(st->chunk);
        st->chunk = NULL;
        merge(st);
        close(st->runs_fd);
        st->runs_fd = -1;
    }
    if (st->err[0])
        return errf(err, errlen, "%s", st->err);
    return 0;
}

uint64_t odc_store_count(const struct odc_store *st)
{
    return st->n;
}

uint64_t odc_store_node_count(const struct odc_store *st, int node)
{
    return node >= 0 && (size_t)node < st->n_nodes ? st->per_node[node] : 0;
}

const struct odc_proc *odc_store_procs(const struct odc_store *st, size_t *n)
{
    *n = st->nprocs;
    return st->procs;
}

const struct odc_proc *odc_store_find(const struct odc_store *st, int node, int64_t pid)
{
    size_t lo = 0, hi = st->nprocs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct odc_proc *p = &st->procs[mid];
        if (p->node < node || (p->node == node && p->pid < pid))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < st->nprocs && st->procs[lo].node == node && st->procs[lo].pid == pid ? &st->procs[lo] : NULL;
}

const char *odc_store_error(const struct odc_store *st)
{
    return st->err[0] ? st->err : NULL;
}

/* The slot holding p, or the least recently used one (emptied). */
static struct slot *slot_for(struct odc_store *st, const struct odc_proc *p, bool *fresh)
{
    struct slot *lru = &st->cache[0];
    for (size_t i = 0; i < ODC_STORE_CACHE; i++) {
        struct slot *s = &st->cache[i];
        if (s->p == p) {
            *fresh = false;
            s->used = ++st->clock;
            return s;
        }
        if (s->used < lru->used)
            lru = s;
    }
    *fresh = true;
    lru->p = NULL;
    lru->used = ++st->clock;
    return lru;
}

const struct odc_sample *odc_store_read(struct odc_store *st, const struct odc_proc *p, double **aux,
                                        bool *fresh)
{
    bool is_new;
    struct slot *s = slot_for(st, p, &is_new);
    if (is_new) {
        if (st->fd >= 0) {
            if (p->n > s->cap || s->cap > 4 * p->n + IO_RECS) {   /* grown, or much too big: memory is the point */
                free(s->buf);
                s->cap = p->n;
                s->buf = xmalloc(s->cap * sizeof *s->buf);
            }
            if (pread_full(st->fd, s->buf, p->n * sizeof *s->buf, p->first * sizeof *s->buf) < 0) {
                read_failed(st);
                return NULL;
            }
        }
        if (p->n > s->aux_cap || s->aux_cap > 4 * p->n + IO_RECS) {
            free(s->aux);
            s->aux_cap = p->n;
            s->aux = xmalloc(s->aux_cap * sizeof *s->aux);
        }
        memset(s->aux, 0, p->n * sizeof *s->aux);
        s->p = p;
    }
    if (aux)
        *aux = s->aux;
    if (fresh)
        *fresh = is_new;
    return st->fd >= 0 ? s->buf : st->chunk + p->first;
}
