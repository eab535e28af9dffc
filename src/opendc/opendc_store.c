/* opendc_store.c -- the export's samples sorted out of memory (see opendc_store.h). */
#include "opendc/opendc_store.h"
#include "common/util.h"

#include <errno.h>
#include <stddef.h>
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
    int64_t ts0, ts1;      /* its first and last ts_ms */
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
            *g = (struct seg){s->node, s->pid, at + i, 0, UINT64_MAX, s->ts_ms, s->ts_ms};
        }
        g->n++;
        g->ts1 = s->ts_ms;
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

/* ---- cursors ---- */

/* Records a cursor buffers per run. */
#define CUR_RECS 128

/* One run's part of the cursor's window: rec[i .. n - 1] buffered, at ..
 * end - 1 still in the file. */
struct cur_seg {
    const struct odc_sample *rec;
    size_t i, n;
    uint64_t at, end;
};

struct odc_cursor {
    struct odc_store *st;
    int64_t t1;
    struct cur_seg *segs;
    size_t nsegs, segs_cap;
    struct odc_sample *buf;     /* file mode: CUR_RECS per segment */
    size_t buf_cap;
    size_t *heap;               /* segments by their next record */
    size_t nheap, heap_cap;
    struct odc_sample out;
};

struct odc_cursor *odc_cursor_new(struct odc_store *st)
{
    struct odc_cursor *c = xcalloc(1, sizeof *c);
    c->st = st;
    return c;
}

void odc_cursor_free(struct odc_cursor *c)
{
    if (!c)
        return;
    free(c->segs);
    free(c->buf);
    free(c->heap);
    free(c);
}

/* Segment k's next record, read in when its buffer is spent; NULL at its
 * end (or on a read error, kept in the store). */
static const struct odc_sample *seg_head(struct odc_cursor *c, size_t k)
{
    struct cur_seg *g = &c->segs[k];
    if (g->i < g->n)
        return &g->rec[g->i];
    if (g->at >= g->end)
        return NULL;
    size_t n = g->end - g->at < CUR_RECS ? (size_t)(g->end - g->at) : CUR_RECS;
    struct odc_sample *b = c->buf + k * CUR_RECS;
    if (pread_full(c->st->runs_fd, b, n * sizeof *b, g->at * sizeof *b) < 0) {
        read_failed(c->st);
        g->at = g->end;
        return NULL;
    }
    g->rec = b;
    g->i = 0;
    g->n = n;
    g->at += n;
    return &g->rec[0];
}

/* ts_ms of record k of the store. */
static int rec_ts(struct odc_store *st, uint64_t k, int64_t *ts)
{
    if (st->runs_fd < 0) {
        *ts = st->chunk[k].ts_ms;
        return 0;
    }
    if (pread_full(st->runs_fd, ts, sizeof *ts, k * sizeof(struct odc_sample) +
                   offsetof(struct odc_sample, ts_ms)) < 0) {
        read_failed(st);
        return -1;
    }
    return 0;
}

/* The first record of g with ts_ms >= t0 (g is sorted by ts_ms). */
static uint64_t seg_lower(struct odc_store *st, const struct seg *g, int64_t t0)
{
    if (g->ts0 >= t0)
        return g->at;
    uint64_t lo = g->at, hi = g->at + g->n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int64_t ts;
        if (rec_ts(st, mid, &ts) < 0)
            return g->at + g->n;
        if (ts < t0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool head_less(struct odc_cursor *c, size_t a, size_t b)
{
    return cmp_rec(&c->segs[a].rec[c->segs[a].i], &c->segs[b].rec[c->segs[b].i]) < 0;
}

static void sift_down(struct odc_cursor *c, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->nheap && head_less(c, c->heap[l], c->heap[m]))
            m = l;
        if (r < c->nheap && head_less(c, c->heap[r], c->heap[m]))
            m = r;
        if (m == i)
            return;
        size_t t = c->heap[i];
        c->heap[i] = c->heap[m];
        c->heap[m] = t;
        i = m;
    }
}

void odc_cursor_seek(struct odc_cursor *c, const struct odc_proc *p, int64_t t0, int64_t t1)
{
    struct odc_store *st = c->st;
    c->nsegs = c->nheap = 0;
    c->t1 = t1;
    if (!p || t1 < t0)
        return;
    ARRAY_GROW(c->segs, p->nseg, c->segs_cap, 8);
    if (st->runs_fd >= 0 && p->nseg * CUR_RECS > c->buf_cap) {
        free(c->buf);
        c->buf_cap = p->nseg * CUR_RECS;
        c->buf = xmalloc(c->buf_cap * sizeof *c->buf);
    }
    for (size_t i = p->seg0; i < p->seg0 + p->nseg; i++) {
        const struct seg *g = &st->segs[i];
        if (g->ts1 < t0 || g->ts0 > t1)
            continue;
        struct cur_seg *cs = &c->segs[c->nsegs];
        *cs = (struct cur_seg){NULL, 0, 0, seg_lower(st, g, t0), g->at + g->n};
        if (st->runs_fd < 0) {   /* in memory: the whole part at once */
            cs->rec = st->chunk + cs->at;
            cs->n = (size_t)(cs->end - cs->at);
            cs->at = cs->end;
        }
        if (seg_head(c, c->nsegs))
            c->nsegs++;
    }
    ARRAY_GROW(c->heap, c->nsegs, c->heap_cap, 8);
    for (size_t k = 0; k < c->nsegs; k++)
        c->heap[k] = k;
    c->nheap = c->nsegs;
    for (size_t k = c->nheap / 2; k-- > 0;)
        sift_down(c, k);
}

const struct odc_sample *odc_cursor_next(struct odc_cursor *c)
{
    if (!c->nheap)
        return NULL;
    size_t k = c->heap[0];
    struct cur_seg *g = &c->segs[k];
    const struct odc_sample *s = &g->rec[g->i];
    if (s->ts_ms > c->t1) {
        c->nheap = 0;
        return NULL;
    }
    c->out = *s;
    g->i++;
    if (!seg_head(c, k))
        c->heap[0] = c->heap[--c->nheap];
    sift_down(c, 0);
    return &c->out;
}
