/* replay.c -- the model of OpenDC HEAD's replay (see replay.h, docs/replay.md).
 *
 * Sources (atlarge-research/opendc, paths shortened):
 *   compute-simulator/.../service/ComputeService.java   queue, cycle, termination
 *   opendc-common/.../util/Pacer.java                    the scheduling slots
 *   compute-simulator/.../scheduler/FilterScheduler.kt   select(): pools, weighers
 *   compute-simulator/.../scheduler/SortedHostViewList.kt  the used-host list
 *   compute-simulator/.../scheduler/filters/(each).kt, weights/(each).kt
 *   compute-simulator/.../scheduler/ComputeSchedulers.kt the prefabs
 *   simulator-compute/.../engine/.../MaxMinFairnessFlowDistributor.java  sharing
 *   simulator-compute/.../workload/trace/SimTraceWorkload.java, scaling/NoDelayScaling.java,
 *   scaling/PerfectScaling.java                          fragments
 * No code is copied; each function names the one it models. */
#include "opendc/replay.h"
#include "common/util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* ---- max-min fair sharing (MaxMinFairnessFlowDistributor.java) ---- */

static int cmp_demand(const void *a, const void *b, void *ctx)
{
    const double *d = ctx;
    double x = d[*(const size_t *)a], y = d[*(const size_t *)b];
    return (x > y) - (x < y);
}

void rp_maxmin(double cap, const double *demand, size_t n, double *got)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += demand[i];
    if (total <= cap) {   /* enough for everyone: each gets its demand */
        for (size_t i = 0; i < n; i++)
            got[i] = demand[i];
        return;
    }
    size_t *ix = xmalloc((n + 1) * sizeof *ix);
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    qsort_r(ix, n, sizeof *ix, cmp_demand, (void *)demand);
    double left = cap;
    for (size_t k = 0; k < n; k++) {
        double share = left / (double)(n - k);
        double g = demand[ix[k]] < share ? demand[ix[k]] : share;
        got[ix[k]] = g;
        left -= g;
    }
    free(ix);
}

/* ---- the simulation state ---- */

struct hstate {
    int32_t avail_cores, prov_cores;   /* HostView: availableCpuCores, provisionedCpuCores */
    int64_t avail_mem;                 /* HostView: availableMemory (MiB) */
    int32_t instances;                 /* HostView: instanceCount */
    bool used;                         /* in usedHosts (else in emptyHostMap) */
    size_t *run;                       /* running task indices */
    size_t nrun, caprun;
    bool dirty;                        /* shares to recompute */
};

struct tstate {
    size_t frag;       /* current fragment (absolute index) */
    double rem;        /* perfect: remaining work (MHz x ms) */
    double got;        /* supplied MHz */
    bool fresh;        /* the fragment has just started: its end is not set yet */
    int64_t end;       /* simulated ms the current fragment ends */
};

struct sim {
    const struct rp_input *in;
    struct rp_result *out;
    struct hstate *h;
    struct tstate *ts;
    size_t *queue, qhead, qn;          /* FIFO of task indices */
    int *used;                         /* usedHosts, sorted (SortedHostViewList) */
    size_t nused;
    int **tlist;                       /* emptyHostMap: per host type, idle hosts in order */
    size_t *tlen;
    int ntypes;
    double *W;                         /* FilterScheduler's weight array, never reset */
    int *cand;                         /* candidates of one select() */
    double *wv;
    int64_t slot;                      /* pending scheduling cycle (Pacer), -1 none */
    int32_t max_cores;
    int64_t max_mem;
};

/* ---- filters (scheduler/filters/(each).kt): test and score ---- */

static bool ftest(const struct sim *s, const struct rp_filter *f, int hi, const struct rp_task *t)
{
    const struct rp_host *H = &s->in->hosts[hi];
    const struct hstate *h = &s->h[hi];
    switch (f->kind) {
    case RP_F_VCPU:   /* VCpuFilter.test */
        if (f->ratio == 1.0)
            return h->avail_cores >= t->cores;
        return t->cores <= H->cores && H->cores * f->ratio - h->prov_cores >= t->cores;
    case RP_F_RAM:    /* RamFilter.test */
        if (f->ratio == 1.0)
            return h->avail_mem >= t->mem_mib;
        return t->mem_mib <= H->mem_mib &&
               (double)H->mem_mib * f->ratio - (double)(H->mem_mib - h->avail_mem) >= (double)t->mem_mib;
    case RP_F_VCPU_CAPACITY:   /* VCpuCapacityFilter.test: per-core MHz */
        return H->core_mhz >= t->cap_mhz / t->cores;
    case RP_F_INSTANCE_COUNT:  /* InstanceCountFilter.test */
        return h->instances < f->limit;
    default:   /* ComputeFilter (hosts are always UP here), SameHost/DifferentHost (always true) */
        return true;
    }
}

static double fscore(const struct sim *s, const struct rp_filter *f, int hi)
{
    const struct rp_host *H = &s->in->hosts[hi];
    switch (f->kind) {
    case RP_F_VCPU:
        return f->ratio == 1.0 ? s->h[hi].avail_cores : H->cores * f->ratio;
    case RP_F_RAM:
        return f->ratio == 1.0 ? (double)s->h[hi].avail_mem : (double)H->mem_mib * f->ratio;
    default:
        return 0;
    }
}

/* SortedHostViewList's comparator: filter scores in filter order, ascending. */
static int hcmp(const struct sim *s, int a, int b)
{
    const struct rp_policy *p = &s->in->policy;
    for (int i = 0; i < p->nf; i++) {
        double x = fscore(s, &p->f[i], a), y = fscore(s, &p->f[i], b);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

/* SortedHostViewList.addSorted: java.util.Collections.binarySearch's index
 * (any equal element's, else the insertion point); without filters, append. */
static void used_add(struct sim *s, int hi)
{
    size_t at = s->nused;
    if (s->in->policy.nf > 0) {
        ptrdiff_t lo = 0, hi2 = (ptrdiff_t)s->nused - 1;
        at = SIZE_MAX;
        while (lo <= hi2) {
            ptrdiff_t mid = (lo + hi2) / 2;
            int c = hcmp(s, s->used[mid], hi);
            if (c < 0)
                lo = mid + 1;
            else if (c > 0)
                hi2 = mid - 1;
            else {
                at = (size_t)mid;
                break;
            }
        }
        if (at == SIZE_MAX)
            at = (size_t)lo;
    }
    memmove(s->used + at + 1, s->used + at, (s->nused - at) * sizeof *s->used);
    s->used[at] = hi;
    s->nused++;
}

static void used_remove(struct sim *s, int hi)
{
    for (size_t i = 0; i < s->nused; i++)
        if (s->used[i] == hi) {
            memmove(s->used + i, s->used + i + 1, (s->nused - i - 1) * sizeof *s->used);
            s->nused--;
            return;
        }
    TK_BUG("a used host not in the used list");
}

static bool all_filters(const struct sim *s, int from, int hi, const struct rp_task *t)
{
    const struct rp_policy *p = &s->in->policy;
    for (int i = from; i < p->nf; i++)
        if (!ftest(s, &p->f[i], hi, t))
            return false;
    return true;
}

/* ---- weighers (scheduler/weights/(each).kt) ---- */

static double weight(const struct sim *s, const struct rp_weigher *w, int hi, const struct rp_task *t)
{
    const struct rp_host *H = &s->in->hosts[hi];
    const struct hstate *h = &s->h[hi];
    switch (w->kind) {
    case RP_W_RAM:            return (double)h->avail_mem;                      /* RamWeigher */
    case RP_W_CORE_RAM:       return w->mult * (double)h->avail_mem / H->cores; /* CoreRamWeigher */
    case RP_W_INSTANCE_COUNT: return h->instances;                              /* InstanceCountWeigher */
    case RP_W_VCPU:           return 1.0 - h->prov_cores;                       /* VCpuWeigher(1.0) */
    case RP_W_VCPU_CAPACITY:  return H->cores * H->core_mhz - t->cap_mhz / t->cores;
    default: TK_BUG("weigher kind");
    }
}

/* FilterScheduler.select at HEAD (docs/replay.md "Selection"): the fitting
 * used hosts (lower bound on the first filter, the others tested), then
 * the first idle host of each type; the weighers accumulate into W, which
 * persists between calls.  The chosen host index, or -1. */
static int select_host(struct sim *s, const struct rp_task *t)
{
    const struct rp_policy *p = &s->in->policy;
    size_t nc = 0;
    if (p->nf == 0) {
        for (size_t i = 0; i < s->nused; i++)
            s->cand[nc++] = s->used[i];
    } else {
        /* SortedHostViewList.findIndex: lower bound on filter 1's test */
        size_t lo = 0, hi = s->nused;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (ftest(s, &p->f[0], s->used[mid], t))
                hi = mid;
            else
                lo = mid + 1;
        }
        for (size_t i = lo; i < s->nused; i++)
            if (all_filters(s, 1, s->used[i], t))
                s->cand[nc++] = s->used[i];
    }
    for (int ty = 0; ty < s->ntypes; ty++)
        if (s->tlen[ty] && all_filters(s, 0, s->tlist[ty][0], t))
            s->cand[nc++] = s->tlist[ty][0];
    if (nc == 0)
        return -1;
    if (p->nw == 0)
        return s->cand[0];
    double maxw = DBL_TRUE_MIN;
    size_t idx = 0;
    for (int k = 0; k < p->nw; k++) {
        /* HostWeigher.getWeights: min from +MAX, max from Double.MIN_VALUE */
        double mn = DBL_MAX, mx = DBL_TRUE_MIN;
        for (size_t i = 0; i < nc; i++) {
            s->wv[i] = weight(s, &p->w[k], s->cand[i], t);
            mn = s->wv[i] < mn ? s->wv[i] : mn;
            mx = s->wv[i] > mx ? s->wv[i] : mx;
        }
        if (mx - mn == 0)
            continue;
        double f = p->w[k].mult / (mx - mn);
        for (size_t i = 0; i < nc; i++) {
            s->W[i] += f * (s->wv[i] - mn);
            if (s->W[i] > maxw) {
                idx = i;
                maxw = s->wv[i];   /* HEAD compares with the raw weight from here on */
            }
        }
    }
    return s->cand[idx];
}

/* ---- host pools and bookkeeping (ComputeService.java, HostView) ---- */

static void request_cycle(struct sim *s, int64_t now)
{
    /* Pacer.enqueue: one pending cycle at the next multiple of the quantum
     * (now itself when on a slot). */
    if (s->slot >= 0)
        return;
    int64_t q = s->in->quantum_ms;
    s->slot = now + (q - now % q) % q;
}

static bool frag_has_work(const struct sim *s, const struct rp_frag *f)
{
    /* SimTraceWorkload: a fragment whose work is 0 is passed over at once.
     * NoDelayScaling counts work in ms, PerfectScaling in MHz x ms. */
    if (s->in->scaling == RP_PERFECT)
        return (int64_t)(f->usage_mhz * (double)f->dur_ms) > 0;
    return f->dur_ms > 0;
}

static void complete(struct sim *s, size_t ti, int64_t now);

/* Start the task's next fragment with work at or after ts->frag; the task
 * completes when there is none.  false when it completed. */
static bool next_fragment(struct sim *s, size_t ti, int64_t now)
{
    const struct rp_task *t = &s->in->tasks[ti];
    struct tstate *ts = &s->ts[ti];
    while (ts->frag < t->frag0 + t->nfrag && !frag_has_work(s, &s->in->frags[ts->frag]))
        ts->frag++;
    if (ts->frag >= t->frag0 + t->nfrag) {
        complete(s, ti, now);
        return false;
    }
    const struct rp_frag *f = &s->in->frags[ts->frag];
    ts->rem = f->usage_mhz * (double)f->dur_ms;
    ts->fresh = true;
    ts->end = now + f->dur_ms;   /* NoDelay: fixed; Perfect: set by the shares */
    s->h[s->out->tasks[ti].host].dirty = true;
    return true;
}

static void place(struct sim *s, size_t ti, int hi, int64_t now)
{
    const struct rp_task *t = &s->in->tasks[ti];
    struct hstate *h = &s->h[hi];
    h->instances++;
    h->prov_cores += t->cores;
    h->avail_cores -= t->cores;
    h->avail_mem -= t->mem_mib;
    if (!h->used) {   /* FilterScheduler: an idle host leaves emptyHostMap for usedHosts */
        int ty = s->in->hosts[hi].type;
        if (!s->tlen[ty] || s->tlist[ty][0] != hi)
            TK_BUG("an idle host chosen that is not first of its type");
        memmove(s->tlist[ty], s->tlist[ty] + 1, (s->tlen[ty] - 1) * sizeof **s->tlist);
        s->tlen[ty]--;
        h->used = true;
    } else {
        used_remove(s, hi);   /* SortedHostViewList.updateHost */
    }
    used_add(s, hi);
    ARRAY_GROW(h->run, h->nrun + 1, h->caprun, 8);
    h->run[h->nrun++] = ti;
    h->dirty = true;
    s->out->tasks[ti].host = hi;
    s->out->tasks[ti].start_ms = now;
    s->ts[ti].frag = t->frag0;
    next_fragment(s, ti, now);
}

static void complete(struct sim *s, size_t ti, int64_t now)
{
    const struct rp_task *t = &s->in->tasks[ti];
    int hi = s->out->tasks[ti].host;
    struct hstate *h = &s->h[hi];
    for (size_t i = 0; i < h->nrun; i++)
        if (h->run[i] == ti) {
            memmove(h->run + i, h->run + i + 1, (h->nrun - i - 1) * sizeof *h->run);
            h->nrun--;
            break;
        }
    h->instances--;
    h->prov_cores -= t->cores;
    h->avail_cores += t->cores;
    h->avail_mem += t->mem_mib;
    h->dirty = true;
    used_remove(s, hi);
    if (h->instances == 0) {   /* back to the end of its type's idle list */
        int ty = s->in->hosts[hi].type;
        s->tlist[ty][s->tlen[ty]++] = hi;
        h->used = false;
    } else {
        used_add(s, hi);
    }
    s->out->tasks[ti].finish_ms = now;
    s->out->tasks[ti].state = RP_COMPLETED;
    s->out->completed++;
    if (now > s->out->makespan_ms)
        s->out->makespan_ms = now;
    request_cycle(s, now);   /* ComputeService: a completion asks for a cycle */
}

/* ComputeService.doSchedule: the queue head only; a task no host could
 * ever hold is terminated, else the cycle stops (head-of-line blocking). */
static void cycle(struct sim *s, int64_t now)
{
    while (s->qhead < s->qn) {
        size_t ti = s->queue[s->qhead];
        const struct rp_task *t = &s->in->tasks[ti];
        int hi = select_host(s, t);
        if (hi >= 0) {
            s->qhead++;
            place(s, ti, hi, now);
        } else if (t->cores > s->max_cores || t->mem_mib > s->max_mem) {
            s->qhead++;
            s->out->tasks[ti].state = RP_TERMINATED;
            s->out->terminated++;
        } else {
            break;
        }
    }
}

/* The host's shares among its running tasks' current demands; under
 * Perfect the fragment ends when its remaining work is done at that rate
 * (PerfectScaling.getRemainingDuration: truncated to whole ms), computed
 * when the fragment starts and again whenever its supply changes. */
static void reshare(struct sim *s, int hi, int64_t now, double *dem, double *got)
{
    struct hstate *h = &s->h[hi];
    const struct rp_host *H = &s->in->hosts[hi];
    for (size_t i = 0; i < h->nrun; i++)
        dem[i] = s->in->frags[s->ts[h->run[i]].frag].usage_mhz;
    rp_maxmin(H->cores * H->core_mhz, dem, h->nrun, got);
    for (size_t i = 0; i < h->nrun; i++) {
        struct tstate *ts = &s->ts[h->run[i]];
        bool same = !ts->fresh && ts->got == got[i];
        ts->got = got[i];
        ts->fresh = false;
        /* A task whose supply did not change keeps its end (no new update,
         * so no new truncation). */
        if (s->in->scaling == RP_PERFECT && !same) {
            double left = got[i] > 0 ? ts->rem / got[i] : INFINITY;
            ts->end = left < (double)RP_MAX_MS ? now + (int64_t)left : INT64_MAX;
        }
    }
    h->dirty = false;
}

static int64_t next_event(const struct sim *s, size_t next_sub)
{
    int64_t tn = INT64_MAX;
    if (next_sub < s->in->ntasks)
        tn = s->in->tasks[next_sub].sub_ms - s->out->t0_ms;
    if (s->slot >= 0 && s->slot < tn)
        tn = s->slot;
    for (size_t hi = 0; hi < s->in->nhosts; hi++)
        for (size_t i = 0; i < s->h[hi].nrun; i++)
            if (s->ts[s->h[hi].run[i]].end < tn)
                tn = s->ts[s->h[hi].run[i]].end;
    return tn;
}

/* Progress from 'from' to 'to' at the current shares; fragments that end
 * by 'to' give way to the next (or complete their task). */
static void advance(struct sim *s, int64_t from, int64_t to)
{
    for (size_t hi = 0; hi < s->in->nhosts; hi++) {
        struct hstate *h = &s->h[hi];
        for (size_t i = 0; i < h->nrun; i++) {
            struct tstate *ts = &s->ts[h->run[i]];
            s->out->host_busy_mhz_ms[hi] += ts->got * (double)(to - from);
            ts->rem -= ts->got * (double)(to - from);
        }
        for (size_t i = 0; i < h->nrun;) {
            size_t ti = h->run[i];
            if (s->ts[ti].end > to) {
                i++;
                continue;
            }
            s->ts[ti].frag++;
            if (next_fragment(s, ti, to))
                i++;   /* else complete() removed it from run[] */
        }
    }
}

static void sim_init(struct sim *s, const struct rp_input *in, struct rp_result *out)
{
    memset(s, 0, sizeof *s);
    s->in = in;
    s->out = out;
    size_t nh = in->nhosts, nt = in->ntasks;
    s->h = xcalloc(nh + 1, sizeof *s->h);
    s->ts = xcalloc(nt + 1, sizeof *s->ts);
    s->queue = xcalloc(nt + 1, sizeof *s->queue);
    s->used = xcalloc(nh + 1, sizeof *s->used);
    s->cand = xcalloc(nh + 1, sizeof *s->cand);
    s->W = xcalloc(nh + 1, sizeof *s->W);
    s->wv = xcalloc(nh + 1, sizeof *s->wv);
    s->slot = -1;
    for (size_t i = 0; i < nh; i++)
        s->ntypes = in->hosts[i].type + 1 > s->ntypes ? in->hosts[i].type + 1 : s->ntypes;
    s->tlist = xcalloc((size_t)s->ntypes + 1, sizeof *s->tlist);
    s->tlen = xcalloc((size_t)s->ntypes + 1, sizeof *s->tlen);
    for (int ty = 0; ty < s->ntypes; ty++)
        s->tlist[ty] = xcalloc(nh + 1, sizeof **s->tlist);
    for (size_t i = 0; i < nh; i++) {   /* emptyHostMap in topology order */
        const struct rp_host *H = &in->hosts[i];
        s->h[i].avail_cores = H->cores;
        s->h[i].avail_mem = H->mem_mib;
        s->tlist[H->type][s->tlen[H->type]++] = (int)i;
        s->max_cores = H->cores > s->max_cores ? H->cores : s->max_cores;
        s->max_mem = H->mem_mib > s->max_mem ? H->mem_mib : s->max_mem;
    }
    out->ntasks = nt;
    out->nhosts = nh;
    out->tasks = xcalloc(nt + 1, sizeof *out->tasks);
    out->host_busy_mhz_ms = xcalloc(nh + 1, sizeof *out->host_busy_mhz_ms);
    out->t0_ms = nt ? in->tasks[0].sub_ms : 0;
    for (size_t i = 0; i < nt; i++) {
        out->t0_ms = in->tasks[i].sub_ms < out->t0_ms ? in->tasks[i].sub_ms : out->t0_ms;
        out->tasks[i] = (struct rp_out_task){.id = in->tasks[i].id, .host = -1, .start_ms = -1,
                                             .finish_ms = -1, .state = RP_PENDING};
    }
    for (size_t i = 0; i < nt; i++)
        out->tasks[i].sub_ms = in->tasks[i].sub_ms - out->t0_ms;
}

static void sim_free(struct sim *s)
{
    for (size_t i = 0; i < s->in->nhosts; i++)
        free(s->h[i].run);
    for (int ty = 0; ty < s->ntypes; ty++)
        free(s->tlist[ty]);
    free(s->tlist);
    free(s->tlen);
    free(s->h);
    free(s->ts);
    free(s->queue);
    free(s->used);
    free(s->cand);
    free(s->W);
    free(s->wv);
}

int rp_run(const struct rp_input *in, struct rp_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (in->quantum_ms <= 0)
        return errf(err, errlen, "the scheduling quantum must be at least 1 ms, not %lld",
                    (long long)in->quantum_ms);
    if (in->nhosts == 0)
        return errf(err, errlen, "the topology has no hosts");
    for (size_t i = 1; i < in->ntasks; i++)
        if (in->tasks[i].sub_ms < in->tasks[i - 1].sub_ms)
            return errf(err, errlen, "tasks must be sorted by submission (task %d)", in->tasks[i].id);
    /* Simulated times stay far from overflow: a span of submissions and
     * fragment durations below RP_MAX_MS each. */
    if (in->ntasks && (in->tasks[0].sub_ms < -RP_MAX_MS || in->tasks[in->ntasks - 1].sub_ms > RP_MAX_MS))
        return errf(err, errlen, "submission times beyond +-%lld ms: not epoch milliseconds",
                    (long long)RP_MAX_MS);
    for (size_t i = 0; i < in->nfrags; i++)
        if (in->frags[i].dur_ms > RP_MAX_MS / 1024 || !(in->frags[i].usage_mhz < 1e15))
            return errf(err, errlen, "fragment %zu: duration %lld ms or usage %g MHz out of range", i,
                        (long long)in->frags[i].dur_ms, in->frags[i].usage_mhz);
    size_t maxrun = 1;
    struct sim s;
    sim_init(&s, in, out);
    double *dem = xmalloc(sizeof *dem), *got = xmalloc(sizeof *got);
    size_t next_sub = 0;
    int64_t now = 0;
    for (;;) {
        int64_t tn = next_event(&s, next_sub);
        if (tn == INT64_MAX)
            break;
        advance(&s, now, tn);
        now = tn;
        /* ScenarioReplayer: each task submitted at submission - earliest;
         * ComputeService.schedule enqueues it and asks for a cycle. */
        while (next_sub < in->ntasks && in->tasks[next_sub].sub_ms - out->t0_ms <= now) {
            s.queue[s.qn++] = next_sub++;
            request_cycle(&s, now);
        }
        if (s.slot == now) {
            s.slot = -1;
            cycle(&s, now);
        }
        for (size_t hi = 0; hi < in->nhosts; hi++) {
            if (!s.h[hi].dirty)
                continue;
            if (s.h[hi].nrun > maxrun) {
                maxrun = s.h[hi].nrun;
                dem = xrealloc(dem, maxrun * sizeof *dem);
                got = xrealloc(got, maxrun * sizeof *got);
            }
            reshare(&s, (int)hi, now, dem, got);
        }
    }
    free(dem);
    free(got);
    sim_free(&s);
    return 0;
}

void rp_result_free(struct rp_result *r)
{
    if (!r)
        return;
    free(r->tasks);
    free(r->host_busy_mhz_ms);
    memset(r, 0, sizeof *r);
}

/* ---- policies (ComputeSchedulers.kt; the SDK's AllocationPolicySpec.kt) ---- */

static void add_f(struct rp_policy *p, int kind)
{
    p->f[p->nf++] = (struct rp_filter){.kind = kind, .ratio = 1.0, .limit = 0};
}

int rp_policy_prefab(const char *name, struct rp_policy *p, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        bool compute;
        int weigher;   /* -1: none */
        double mult;
    } prefabs[] = {
        {"Mem", false, RP_W_RAM, 1},           {"MemInv", true, RP_W_RAM, -1},
        {"CoreMem", true, RP_W_CORE_RAM, 1},   {"CoreMemInv", true, RP_W_CORE_RAM, -1},
        {"ActiveServers", true, RP_W_INSTANCE_COUNT, -1},
        {"ActiveServersInv", true, RP_W_INSTANCE_COUNT, 1},
        {"ProvisionedCores", true, RP_W_VCPU, 1}, {"ProvisionedCoresInv", true, RP_W_VCPU, -1},
        {"Random", true, -1, 0},
    };
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < ARRAY_LEN(prefabs); i++) {
        if (strcmp(name, prefabs[i].name))
            continue;
        snprintf(p->name, sizeof p->name, "%s", name);
        if (prefabs[i].compute)
            add_f(p, RP_F_COMPUTE);
        add_f(p, RP_F_VCPU);
        add_f(p, RP_F_RAM);
        if (prefabs[i].weigher >= 0)
            p->w[p->nw++] = (struct rp_weigher){prefabs[i].weigher, prefabs[i].mult};
        p->subset = prefabs[i].weigher >= 0 ? 1 : INT32_MAX;
        return 0;
    }
    return errf(err, errlen, "policy '%s' is not a prefab the model knows (Mem, MemInv, CoreMem, CoreMemInv, "
                "ActiveServers, ActiveServersInv, ProvisionedCores, ProvisionedCoresInv, Random; the "
                "memorizing, timeshift and GPU prefabs are not modelled)", name);
}

static int parse_filter(const json_t *x, size_t i, struct rp_filter *f, char *err, size_t errlen)
{
    static const struct { const char *name; int kind; } names[] = {
        {"compute", RP_F_COMPUTE}, {"vcpu", RP_F_VCPU}, {"ram", RP_F_RAM},
        {"vcpuCapacity", RP_F_VCPU_CAPACITY}, {"instanceCount", RP_F_INSTANCE_COUNT},
        {"sameHost", RP_F_SAME_HOST}, {"differentHost", RP_F_DIFFERENT_HOST},
    };
    const char *t = json_string_value(json_object_get(x, "type"));
    *f = (struct rp_filter){.kind = -1, .ratio = 1.0};
    for (size_t k = 0; t && k < ARRAY_LEN(names); k++)
        if (!strcmp(t, names[k].name))
            f->kind = names[k].kind;
    if (f->kind < 0)
        return errf(err, errlen, "filter %zu: type %s is not one the model knows (compute, vcpu, ram, "
                    "vcpuCapacity, instanceCount, sameHost, differentHost)", i, t ? t : "(none)");
    json_t *r = json_object_get(x, "allocationRatio");
    if (r && (!json_is_number(r) || json_number_value(r) <= 0))
        return errf(err, errlen, "filter %zu: allocationRatio must be a positive number", i);
    if (r)
        f->ratio = json_number_value(r);
    if (f->kind == RP_F_INSTANCE_COUNT) {
        json_t *l = json_object_get(x, "limit");
        if (!json_is_integer(l) || json_integer_value(l) < 1)
            return errf(err, errlen, "filter %zu: instanceCount needs a limit >= 1", i);
        f->limit = json_integer_value(l);
    }
    return 0;
}

static int parse_weigher(const json_t *x, size_t i, struct rp_weigher *w, char *err, size_t errlen)
{
    static const struct { const char *name; int kind; } names[] = {
        {"ram", RP_W_RAM}, {"coreRam", RP_W_CORE_RAM}, {"instanceCount", RP_W_INSTANCE_COUNT},
        {"vcpu", RP_W_VCPU}, {"vcpuCapacity", RP_W_VCPU_CAPACITY},
    };
    const char *t = json_string_value(json_object_get(x, "type"));
    *w = (struct rp_weigher){.kind = -1, .mult = 1.0};
    for (size_t k = 0; t && k < ARRAY_LEN(names); k++)
        if (!strcmp(t, names[k].name))
            w->kind = names[k].kind;
    if (w->kind < 0)
        return errf(err, errlen, "weigher %zu: type %s is not one the model knows (ram, coreRam, "
                    "instanceCount, vcpu, vcpuCapacity)", i, t ? t : "(none)");
    json_t *m = json_object_get(x, "multiplier");
    if (m && !json_is_number(m))
        return errf(err, errlen, "weigher %zu: multiplier must be a number", i);
    if (m)
        w->mult = json_number_value(m);
    return 0;
}

int rp_policy_json(const json_t *j, struct rp_policy *p, char *err, size_t errlen)
{
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!json_is_object(j) || !type)
        return errf(err, errlen, "an allocation policy is an object with a \"type\" (prefab or filter)");
    if (!strcmp(type, "prefab")) {
        const char *name = json_string_value(json_object_get(j, "prefabName"));
        return rp_policy_prefab(name ? name : "Mem", p, err, errlen);   /* PrefabAllocationPolicySpec: Mem */
    }
    if (strcmp(type, "filter"))
        return errf(err, errlen, "policy type '%s' is not modelled (prefab and filter are)", type);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "filter");
    json_t *fs = json_object_get(j, "filters"), *ws = json_object_get(j, "weighers"), *x;
    size_t i;
    if (json_array_size(fs) > RP_MAX_FILTERS || json_array_size(ws) > RP_MAX_WEIGHERS)
        return errf(err, errlen, "at most %d filters and %d weighers", RP_MAX_FILTERS, RP_MAX_WEIGHERS);
    json_array_foreach(fs, i, x) {
        if (parse_filter(x, i, &p->f[p->nf++], err, errlen) < 0)
            return -1;
    }
    json_array_foreach(ws, i, x) {
        if (parse_weigher(x, i, &p->w[p->nw++], err, errlen) < 0)
            return -1;
    }
    int64_t sub = 1;
    json_t *ss = json_object_get(j, "subsetSize");
    if (ss && (!json_is_integer(ss) || (sub = json_integer_value(ss)) < 1))
        return errf(err, errlen, "subsetSize must be an integer >= 1");
    p->subset = sub;
    return 0;
}
