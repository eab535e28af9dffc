/* opendc_store.c -- the export's samples sorted out of memory (see opendc_store.h). */
#include "opendc/opendc_store.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Slack kept in a cache buffer before it is given back. */
#define IO_RECS 2048

/* The samples of one process in one sorted run: records at .. at + n - 1
 * of the runs file (in memory: of the chunk). */
struct seg {
    int node;
    int64_t pid;
    uint64_t at;
    size_t n;
    uint64_t first_dt_seq;
};

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
    int runs_fd;                /* sorted runs, one after another (-1: in memory, in chunk) */
    uint64_t written;           /* records in runs_fd */
    struct seg *segs;           /* each run's processes; after finish by (node, pid, run) */
    size_t nsegs, segs_cap;
    struct odc_proc *procs;     /* .seg0, .nseg: their segs */
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
    st->runs_fd = -1;
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
    free(st->chunk);
    free(st->per_node);
    free(st->segs);
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

/* The chunk's segments (it is sorted), at + i its records' positions. */
static void index_chunk(struct odc_store *st, uint64_t at)
{
    for (size_t i = 0; i < st->nchunk; i++) {
        const struct odc_sample *s = &st->chunk[i];
        struct seg *g = st->nsegs ? &st->segs[st->nsegs - 1] : NULL;
        if (!g || i == 0 || g->node != s->node || g->pid != s->pid) {
            ARRAY_GROW(st->segs, st->nsegs + 1, st->segs_cap, 64);
            g = &st->segs[st->nsegs++];
            *g = (struct seg){s->node, s->pid, at + i, 0, UINT64_MAX};
        }
        g->n++;
        if (s->dt_ms > 0 && s->seq < g->first_dt_seq)
            g->first_dt_seq = s->seq;
    }
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
    index_chunk(st, st->written);
    st->written += st->nchunk;
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

static int cmp_seg(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    if (x->node != y->node)
        return (x->node > y->node) - (x->node < y->node);
    if (x->pid != y->pid)
        return (x->pid > y->pid) - (x->pid < y->pid);
    return (x->at > y->at) - (x->at < y->at);   /* run order */
}

/* The processes from the segments (sorted). */
static void index_procs(struct odc_store *st)
{
    for (size_t i = 0; i < st->nsegs; i++) {
        const struct seg *g = &st->segs[i];
        struct odc_proc *p = st->nprocs ? &st->procs[st->nprocs - 1] : NULL;
        if (!p || p->node != g->node || p->pid != g->pid) {
            ARRAY_GROW(st->procs, st->nprocs + 1, st->procs_cap, 64);
            p = &st->procs[st->nprocs++];
            *p = (struct odc_proc){.node = g->node, .pid = g->pid, .first_dt_seq = UINT64_MAX, .seg0 = i};
        }
        p->n += g->n;
        p->nseg++;
        if (g->first_dt_seq < p->first_dt_seq)
            p->first_dt_seq = g->first_dt_seq;
    }
}

int odc_store_finish(struct odc_store *st, char *err, size_t errlen)
{
    if (st->runs_fd >= 0) {
        spill(st);
        free(st->chunk);
        st->chunk = NULL;
    } else if (st->nchunk) {
        /* it all fits in one chunk: sorted where it is */
        qsort(st->chunk, st->nchunk, sizeof *st->chunk, cmp_rec);
        index_chunk(st, 0);
    }
    if (st->err[0])
        return errf(err, errlen, "%s", st->err);
    if (st->nsegs)
        qsort(st->segs, st->nsegs, sizeof *st->segs, cmp_seg);
    index_procs(st);
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

/* p's samples from its segments into s->buf: each run's are sorted, and
 * runs are in file order, so the concatenation needs sorting only where
 * runs overlap in time (the collector's order: at their edges). */
static int load_proc(struct odc_store *st, struct slot *s, const struct odc_proc *p)
{
    if (p->n > s->cap || s->cap > 4 * p->n + IO_RECS) {   /* grown, or much too big: memory is the point */
        free(s->buf);
        s->cap = p->n;
        s->buf = xmalloc(s->cap * sizeof *s->buf);
    }
    size_t at = 0;
    bool sorted = true;
    for (size_t i = p->seg0; i < p->seg0 + p->nseg; i++) {
        const struct seg *g = &st->segs[i];
        if (pread_full(st->runs_fd, s->buf + at, g->n * sizeof *s->buf, g->at * sizeof *s->buf) < 0) {
            read_failed(st);
            return -1;
        }
        if (at && cmp_rec(&s->buf[at - 1], &s->buf[at]) > 0)
            sorted = false;
        at += g->n;
    }
    if (!sorted)
        qsort(s->buf, p->n, sizeof *s->buf, cmp_rec);
    return 0;
}

const struct odc_sample *odc_store_read(struct odc_store *st, const struct odc_proc *p, double **aux,
                                        bool *fresh)
{
    bool is_new;
    struct slot *s = slot_for(st, p, &is_new);
    if (is_new) {
        if (st->runs_fd >= 0 && load_proc(st, s, p) < 0)
            return NULL;
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
    return st->runs_fd >= 0 ? s->buf : st->chunk + st->segs[p->seg0].at;
}
