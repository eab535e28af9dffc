/* opendc.c -- CTS records -> OpenDC tasks and fragments. */
#include "opendc/opendc.h"
#include "opendc/opendc_store.h"
#include "common/stats.h"
#include "common/util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- small helpers ---- */

void odc_input_free(struct odc_input *in)
{
    for (size_t i = 0; i < in->n_nodes; i++) {
        free(in->nodes[i].folder);
        free(in->nodes[i].node_id);
        free(in->nodes[i].cpu_model);
        free(in->nodes[i].stage);
        free(in->nodes[i].cts);
    }
    for (size_t i = 0; i < in->n_invs; i++) {
        free(in->invs[i].trace_id);
        free(in->invs[i].exec_id);
    }
    for (size_t i = 0; i < in->n_notes; i++)
        free(in->notes[i]);
    free(in->nodes);
    free(in->invs);
    free(in->samples);
    odc_store_free(in->store);
    free(in->notes);
    json_decref(in->links);
    free(in->policy);
    free(in->policy_file);
    memset(in, 0, sizeof *in);
}

int odc_cpuset_count(const char *s)
{
    /* "0-3,6,8-9": count the CPUs, reject anything else. */
    int n = 0;
    const char *p = s;
    if (!s || !*s)
        return 0;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10);
        if (end == p || a < 0)
            return 0;
        long b = a;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a)
                return 0;
            p = end;
        }
        if (b - a > 65536)
            return 0;
        n += (int)(b - a + 1);
        if (*p == ',')
            p++;
        else if (*p)
            return 0;
    }
    return n;
}

double odc_round_half_even(double x)
{
    double r = nearbyint(x);   /* the default rounding mode: to nearest, ties to even */
    return r;
}

/* ---- fragments ---- */

struct fseg {
    double t0, t1, cpu, delay;
    bool gap;
};

static int cmp_span(const void *a, const void *b)
{
    const struct odc_span *x = a, *y = b;
    return (x->t0 > y->t0) - (x->t0 < y->t0);
}

/* The spans inside [S, E], CPU scaled to the part inside, sorted, overlaps
 * cut (the earlier span keeps the time).  malloc'd; *k the count, *seen
 * their CPU. */
static struct odc_span *clip_spans(double S, double E, const struct odc_span *spans, size_t n,
                                   size_t *k, double *seen)
{
    struct odc_span *s = xmalloc((n ? n : 1) * sizeof *s);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double len = spans[i].t1 - spans[i].t0;
        double cpu = spans[i].cpu_ms;
        if (!(len > 0) || !(cpu >= 0))
            continue;   /* baselines, NaN, negative */
        double a = spans[i].t0 > S ? spans[i].t0 : S, b = spans[i].t1 < E ? spans[i].t1 : E;
        if (!(b > a))
            continue;
        bool has_delay = spans[i].has_delay && spans[i].delay_ms >= 0;
        double part = (b - a) / len;
        s[m++] = (struct odc_span){a, b, cpu * part, has_delay ? spans[i].delay_ms * part : 0, has_delay};
    }
    qsort(s, m, sizeof *s, cmp_span);
    /* Overlaps (should not happen within one process) keep the earlier span. */
    size_t w = 0;
    double cursor = S;
    *seen = 0;
    for (size_t i = 0; i < m; i++) {
        if (s[i].t1 <= cursor)
            continue;
        if (s[i].t0 < cursor) {
            double part = (s[i].t1 - cursor) / (s[i].t1 - s[i].t0);
            s[i].cpu_ms *= part;
            s[i].delay_ms *= part;
            s[i].t0 = cursor;
        }
        s[w++] = s[i];
        *seen += s[i].cpu_ms;
        cursor = s[i].t1;
    }
    *k = w;
    return s;
}

/* Sampled spans and the gaps between them over [S, E], in time order
 * (malloc'd, *ng of them); *uncovered the gaps' length. */
static struct fseg *with_gaps(const struct odc_span *s, size_t k, double S, double E, size_t *ng,
                              double *uncovered)
{
    struct fseg *g = xmalloc((2 * k + 1) * sizeof *g);
    size_t n = 0;
    double cursor = S;
    *uncovered = 0;
    for (size_t i = 0; i < k; i++) {
        if (s[i].t0 > cursor) {
            g[n++] = (struct fseg){cursor, s[i].t0, 0, 0, true};
            *uncovered += s[i].t0 - cursor;
        }
        g[n++] = (struct fseg){s[i].t0, s[i].t1, s[i].cpu_ms, s[i].delay_ms, false};
        cursor = s[i].t1;
    }
    if (cursor < E) {
        g[n++] = (struct fseg){cursor, E, 0, 0, true};
        *uncovered += E - cursor;
    }
    *ng = n;
    return g;
}

/* Whole milliseconds: round the boundaries, keep both ends exact, and
 * carry the CPU (and run delay) of a segment that rounds to nothing into
 * the next.  malloc'd, *no of them; their delay_ms is the run delay not
 * yet added. */
static struct odc_seg *whole_ms(const struct fseg *g, size_t ng, int64_t start, int64_t end,
                                size_t *no)
{
    struct odc_seg *o = xmalloc(ng * sizeof *o);
    size_t n = 0;
    int64_t r0 = start;
    double carry = 0, carry_delay = 0;
    for (size_t i = 0; i < ng; i++) {
        int64_t r1 = i + 1 == ng ? end : llround(g[i].t1);
        if (r1 < r0)
            r1 = r0;
        if (r1 > end)
            r1 = end;
        double cpu = g[i].cpu + carry, delay = g[i].delay + carry_delay;
        if (r1 == r0) {
            carry = cpu;
            carry_delay = delay;
            continue;
        }
        carry = carry_delay = 0;
        o[n++] = (struct odc_seg){r1 - r0, cpu, delay};
        r0 = r1;
    }
    if (carry > 0 && n > 0)
        o[n - 1].cpu_ms += carry;
    if (carry_delay > 0 && n > 0)
        o[n - 1].delay_ms += carry_delay;
    *no = n;
    return o;
}

/* Keep every fragment at or under the core limit: move the excess into
 * fragments with room, in proportion to their room. */
static void cap_rates(struct odc_seg *o, size_t no, double cap_cores, double total,
                      struct odc_fill *f)
{
    for (int round = 0; round < 64; round++) {
        double excess = 0, room = 0;
        for (size_t i = 0; i < no; i++) {
            double lim = cap_cores * (double)o[i].dur;
            if (o[i].cpu_ms > lim) {
                excess += o[i].cpu_ms - lim;
                o[i].cpu_ms = lim;
            } else {
                room += lim - o[i].cpu_ms;
            }
        }
        if (excess <= 1e-9 * (total + 1))
            break;
        if (room <= 0) {
            f->lost_cpu_ms += excess;
            break;
        }
        double share = excess < room ? excess : room;
        for (size_t i = 0; i < no; i++) {
            double lim = cap_cores * (double)o[i].dur;
            if (o[i].cpu_ms < lim)
                o[i].cpu_ms += share * (lim - o[i].cpu_ms) / room;
        }
        f->capped_cpu_ms += share;
        if (share < excess) {
            f->lost_cpu_ms += excess - share;
            break;
        }
    }
}

/* --cpu-usage demand: each fragment's run delay on top of its received
 * CPU, up to demand_cores; what does not fit is left out (it is demand the
 * task's cores could not serve, not CPU that happened elsewhere).  Without
 * demand (demand_cores <= 0) no delay is added.  delay_ms becomes the
 * delay added. */
static void add_demand(struct odc_seg *o, size_t no, double demand_cores, struct odc_fill *f)
{
    for (size_t i = 0; i < no; i++) {
        double delay = o[i].delay_ms;
        o[i].delay_ms = 0;
        if (!(demand_cores > 0) || !(delay > 0))
            continue;
        double room = demand_cores * (double)o[i].dur - o[i].cpu_ms;
        double add = room <= 0 ? 0 : delay < room ? delay : room;
        o[i].cpu_ms += add;
        o[i].delay_ms = add;
        f->demand_added_ms += add;
        f->demand_capped_ms += delay - add;
    }
}

/* Merge neighbours with the same rate; the peak rate and the total CPU
 * into f.  Returns the count left. */
static size_t merge_equal(struct odc_seg *o, size_t no, struct odc_fill *f)
{
    size_t w = 0;
    for (size_t i = 0; i < no; i++) {
        if (w > 0) {
            double ra = o[w - 1].cpu_ms / (double)o[w - 1].dur, rb = o[i].cpu_ms / (double)o[i].dur;
            if (fabs(ra - rb) <= 1e-12 * fmax(fabs(ra), fabs(rb))) {
                o[w - 1].dur += o[i].dur;
                o[w - 1].cpu_ms += o[i].cpu_ms;
                o[w - 1].delay_ms += o[i].delay_ms;
                continue;
            }
        }
        o[w++] = o[i];
    }
    for (size_t i = 0; i < w; i++) {
        double rate = o[i].cpu_ms / (double)o[i].dur;
        if (rate > f->peak_cores)
            f->peak_cores = rate;
        f->total_cpu_ms += o[i].cpu_ms;
    }
    return w;
}

size_t odc_fragments(int64_t start, int64_t end, const struct odc_span *spans, size_t n,
                     double exact_cpu_ms, double cap_cores, double demand_cores,
                     struct odc_seg **out, struct odc_fill *f)
{
    const double S = (double)start, E = (double)end, D = E - S;
    memset(f, 0, sizeof *f);
    f->scale = 1;
    size_t k;
    double seen;
    struct odc_span *s = clip_spans(S, E, spans, n, &k, &seen);
    f->seen_cpu_ms = seen;
    f->sampled = k;
    for (size_t i = 0; i < k; i++) {
        f->no_delay += !s[i].has_delay;
        f->delay_ms += s[i].delay_ms;
    }

    /* The exact total wins over sampled CPU.  It is received CPU: only the
     * received part is scaled, never the run delay. */
    double total = exact_cpu_ms >= 0 ? exact_cpu_ms : seen;
    if (exact_cpu_ms >= 0 && seen > exact_cpu_ms && seen > 0) {
        f->scale = exact_cpu_ms / seen;
        for (size_t i = 0; i < k; i++)
            s[i].cpu_ms *= f->scale;
        seen = exact_cpu_ms;
    }
    size_t ng;
    double uncovered;
    struct fseg *g = with_gaps(s, k, S, E, &ng, &uncovered);
    free(s);
    f->uncovered_ms = uncovered;

    /* CPU the samples did not see goes where no sample looked; if they looked
     * everywhere, it is spread over the whole task. */
    double rest = total - seen;
    if (rest > 0) {
        if (uncovered > 0) {
            for (size_t i = 0; i < ng; i++)
                if (g[i].gap)
                    g[i].cpu = rest * (g[i].t1 - g[i].t0) / uncovered;
            f->filled_cpu_ms = rest;
        } else {
            for (size_t i = 0; i < ng; i++)
                g[i].cpu += rest * (g[i].t1 - g[i].t0) / D;
            f->spread_cpu_ms = rest;
        }
    }
    size_t no;
    struct odc_seg *o = whole_ms(g, ng, start, end, &no);
    free(g);
    if (cap_cores > 0)
        cap_rates(o, no, cap_cores, total, f);
    add_demand(o, no, demand_cores, f);
    *out = o;
    return merge_equal(o, no, f);
}

/* ---- the export ---- */

struct builder {
    const struct odc_input *in;
    const struct odc_opts *o;
    struct odc_result *res;
    size_t cap_tasks, cap_frags, cap_notes;
    int spill_errno;          /* writing res->spill failed (0: no) */
};

static void note(struct builder *b, int kind, const struct odc_inv *inv, int32_t task_id, double value)
{
    struct odc_result *r = b->res;
    if (r->n_notes == b->cap_notes) {
        b->cap_notes = b->cap_notes ? b->cap_notes * 2 : 64;
        r->notes = xrealloc(r->notes, b->cap_notes * sizeof *r->notes);
    }
    r->notes[r->n_notes++] = (struct odc_note){kind, inv->node, inv->pid, inv->ts_start, inv->trace_id,
                                               task_id, value, inv->line};
}

static struct odc_task *new_task(struct builder *b)
{
    struct odc_result *r = b->res;
    if (r->n_tasks == b->cap_tasks) {
        b->cap_tasks = b->cap_tasks ? b->cap_tasks * 2 : 64;
        r->tasks = xrealloc(r->tasks, b->cap_tasks * sizeof *r->tasks);
    }
    struct odc_task *t = &r->tasks[r->n_tasks++];
    memset(t, 0, sizeof *t);
    return t;
}

/* Fragments held in memory between two writes to res->spill. */
#define FRAG_SPILL_AT 32768

static void add_frag(struct builder *b, int32_t id, int64_t dur, double usage)
{
    struct odc_result *r = b->res;
    size_t at = r->n_frags - (r->spill ? r->spill->n : 0);
    if (r->spill && at == FRAG_SPILL_AT) {
        if (!b->spill_errno && write_all(r->spill->fd, r->frags, at * sizeof *r->frags) < 0)
            b->spill_errno = errno ? errno : EIO;
        r->spill->n += at;
        at = 0;
    }
    if (at == b->cap_frags) {
        b->cap_frags = b->cap_frags ? b->cap_frags * 2 : 256;
        r->frags = xrealloc(r->frags, b->cap_frags * sizeof *r->frags);
    }
    r->frags[at] = (struct odc_frag){id, dur, usage};
    r->n_frags++;
    r->frag_ms += dur;
}

/* The samples by process: in->store (odc_load's), or a store made here of
 * in->samples (a caller filling odc_input itself); NULL with err when
 * that store could not spill. */
static struct odc_store *index_samples(const struct odc_input *in, bool *own, char *err, size_t errlen)
{
    *own = !in->store;
    if (in->store)
        return in->store;
    struct odc_store *st = odc_store_new(NULL);
    for (size_t i = 0; i < in->n_samples; i++)
        odc_store_add(st, &in->samples[i]);
    if (odc_store_finish(st, err, errlen) < 0) {
        odc_store_free(st);
        return NULL;
    }
    return st;
}

/* The samples of a process, sorted by (ts_ms, file order), and the
 * caller's per-sample values kept with them (aux; fresh: just zeroed). */
struct proc_samples {
    const struct odc_proc *p;
    const struct odc_sample *s;
    size_t n;
    double *aux;
    bool fresh;
};

/* ps for (node, pid): none (n 0) when it has no samples or they could not be
 * read (the store keeps the error for the end of the export). */
static void read_proc(struct odc_store *st, const struct odc_proc *p, struct proc_samples *ps)
{
    memset(ps, 0, sizeof *ps);
    ps->p = p;
    if (p && (ps->s = odc_store_read(st, p, &ps->aux, &ps->fresh)))
        ps->n = p->n;
}

/* First position in ps with ts_ms >= ts. */
static size_t lower_ts(const struct proc_samples *ps, int64_t ts)
{
    size_t lo = 0, hi = ps->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->s[mid].ts_ms < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#define JOIN_SLACK_MS 60000

/* t -/+ JOIN_SLACK_MS, saturated: opendc_io refuses implausible times, but a
 * caller filling odc_input itself may not. */
static int64_t slack_before(int64_t t) { return t < INT64_MIN + JOIN_SLACK_MS ? INT64_MIN : t - JOIN_SLACK_MS; }
static int64_t slack_after(int64_t t) { return t > INT64_MAX - JOIN_SLACK_MS ? INT64_MAX : t + JOIN_SLACK_MS; }

/* Does sample s belong to invocation v?  By process identity when both
 * carry start ticks, else by time window (the original CTS). */
static bool belongs(const struct odc_inv *v, const struct odc_sample *s)
{
    if (v->has_start_ticks && s->has_start_ticks)
        return v->start_ticks == s->start_ticks;
    return s->ts_ms >= v->ts_start && s->ts_ms <= v->ts_end;
}

/* Exec tasks fail with a non-zero status; HTTP requests with a 5xx or an
 * error (client gone, upstream failed). */
static bool inv_failed(const struct odc_inv *v)
{
    if (v->http)
        return (v->has_status && v->status >= 500) || v->has_error;
    return v->has_status && v->status != 0;
}

/* An HTTP request's window in the export: at least 1 ms, like its task. */
static int64_t req_end(const struct odc_inv *v)
{
    return v->ts_end > v->ts_start ? v->ts_end : v->ts_start + 1;
}

/* The samples of a request's process whose interval overlaps the request
 * (positions in ps into *out).  A service's requests share its process, so
 * a sample is matched by overlap, not by its end time falling inside. */
static size_t req_samples(const struct proc_samples *ps, const struct odc_inv *v, size_t **out, size_t *cap)
{
    size_t n = 0;
    double a = (double)v->ts_start, b = (double)req_end(v);
    for (size_t p = lower_ts(ps, v->ts_start); p < ps->n; p++) {
        const struct odc_sample *sm = &ps->s[p];
        if ((double)sm->ts_ms - sm->dt_ms >= b)
            break;
        if (!(sm->dt_ms > 0) || fmin((double)sm->ts_ms, b) - fmax((double)sm->ts_ms - sm->dt_ms, a) <= 0)
            continue;
        if (v->has_start_ticks && sm->has_start_ticks && sm->start_ticks != v->start_ticks)
            continue;
        if (n == *cap) {
            *cap = *cap ? 2 * *cap : 16;
            *out = xrealloc(*out, *cap * sizeof **out);
        }
        (*out)[n++] = p;
    }
    return n;
}

/* Deterministic task order: node id, node folder, ts_start, pid. */
static int cmp_task_order(const void *a, const void *b, void *ctx)
{
    const struct odc_input *in = ctx;
    const struct odc_inv *x = &in->invs[*(const size_t *)a], *y = &in->invs[*(const size_t *)b];
    int c = strcmp(in->nodes[x->node].node_id, in->nodes[y->node].node_id);
    if (c)
        return c;
    if (x->node != y->node)
        return (x->node > y->node) - (x->node < y->node);
    if (x->ts_start != y->ts_start)
        return (x->ts_start > y->ts_start) - (x->ts_start < y->ts_start);
    if (x->pid != y->pid)
        return (x->pid > y->pid) - (x->pid < y->pid);
    return (x->line > y->line) - (x->line < y->line);
}

/* Retries: by trace id, then attempt; two executions of one attempt (Redis
 * lost writes) put the one the ledger names last, else the one that ended
 * last, as parse does (docs/formats.md, "Executions"); then start. */
static int cmp_attempt(const void *a, const void *b, void *ctx)
{
    const struct odc_inv *invs = ctx;
    const struct odc_inv *x = &invs[*(const size_t *)a], *y = &invs[*(const size_t *)b];
    int c = strcmp(x->trace_id, y->trace_id);
    if (c)
        return c;
    if (x->attempt != y->attempt)
        return (x->attempt > y->attempt) - (x->attempt < y->attempt);
    if (x->ledger_pick != y->ledger_pick)
        return x->ledger_pick ? 1 : -1;
    if (x->ts_end != y->ts_end)
        return (x->ts_end > y->ts_end) - (x->ts_end < y->ts_end);
    if (x->ts_start != y->ts_start)
        return (x->ts_start > y->ts_start) - (x->ts_start < y->ts_start);
    return (x->line > y->line) - (x->line < y->line);
}

static int64_t mem_capacity(int64_t kib, enum odc_mem_unit u)
{
    int64_t mib = (kib + 1023) / 1024;
    /* OpenDC divides by 1000 ("KB to MB") and compares with host MiB. */
    return u == ODC_MEM_MB ? mib : mib * 1000;
}

/* Which invocations become tasks: valid ones, the last attempt of each
 * trace id, then failed ones by option; in task order.  malloc'd, *nk of
 * them (indices into in->invs). */
static size_t *select_invocations(struct builder *b, size_t *nk)
{
    const struct odc_input *in = b->in;
    size_t *keep = xmalloc((in->n_invs ? in->n_invs : 1) * sizeof *keep);
    size_t n = 0;
    for (size_t i = 0; i < in->n_invs; i++) {
        if (in->invs[i].ts_end < in->invs[i].ts_start) {
            note(b, ODC_N_BAD_INVOCATION, &in->invs[i], -1, 0);
            continue;
        }
        keep[n++] = i;
    }
    if (!b->o->all_attempts) {
        size_t *withid = xmalloc((n ? n : 1) * sizeof *withid), nw = 0, nn = 0;
        for (size_t i = 0; i < n; i++)
            if (in->invs[keep[i]].trace_id && *in->invs[keep[i]].trace_id && !in->invs[keep[i]].http)
                withid[nw++] = keep[i];   /* HTTP requests of one trace are not retries */
            else
                keep[nn++] = keep[i];
        qsort_r(withid, nw, sizeof *withid, cmp_attempt, (void *)in->invs);
        for (size_t i = 0; i < nw; i++) {
            if (i + 1 < nw && !strcmp(in->invs[withid[i]].trace_id, in->invs[withid[i + 1]].trace_id)) {
                const struct odc_inv *v = &in->invs[withid[i]];
                bool same = v->attempt == in->invs[withid[i + 1]].attempt;
                note(b, same ? ODC_N_RAN_TWICE : ODC_N_ATTEMPT_DROPPED, v, -1, (double)v->attempt);
                continue;
            }
            keep[nn++] = withid[i];
        }
        n = nn;
        free(withid);
    }
    size_t nf = 0;
    for (size_t i = 0; i < n; i++) {
        const struct odc_inv *v = &in->invs[keep[i]];
        /* Kept failed ones are noted later, with their task id. */
        if (inv_failed(v) && b->o->exclude_failed) {
            note(b, ODC_N_FAILED_DROPPED, v, -1, (double)v->status);
            continue;
        }
        keep[nf++] = keep[i];
    }
    qsort_r(keep, nf, sizeof *keep, cmp_task_order, (void *)in);
    *nk = nf;
    return keep;
}

/* Ids: the PID when asked for or when PIDs are unique, else 1, 2, ...
 * Says which in res->id_mode.  1 for PIDs, 0 for sequential, -1 with err
 * when PIDs were asked for but cannot serve. */
static int choose_ids(struct builder *b, const size_t *keep, size_t nk, char *err, size_t errlen)
{
    const struct odc_input *in = b->in;
    struct odc_result *res = b->res;
    int64_t *pids = xmalloc((nk ? nk : 1) * sizeof *pids);
    for (size_t i = 0; i < nk; i++)
        pids[i] = in->invs[keep[i]].pid;
    qsort(pids, nk, sizeof *pids, cmp_i64);
    int64_t dup = -1, bad = -1;
    for (size_t i = 0; i < nk; i++) {
        if (i > 0 && pids[i] == pids[i - 1] && dup < 0)
            dup = pids[i];
        if ((pids[i] < 0 || pids[i] > INT32_MAX) && bad < 0)
            bad = pids[i];
    }
    free(pids);
    if (b->o->id_mode == ODC_ID_PID) {
        if (dup >= 0)
            snprintf(err, errlen, "--task-id-mode pid: PID %lld belongs to more than one task (PIDs "
                     "repeat across nodes or over time); use --task-id-mode sequential or auto",
                     (long long)dup);
        else if (bad >= 0)
            snprintf(err, errlen, "--task-id-mode pid: PID %lld does not fit OpenDC's INT32 id; use "
                     "--task-id-mode sequential or auto", (long long)bad);
        else
            snprintf(res->id_mode, sizeof res->id_mode, "pid (forced)");
        return dup >= 0 || bad >= 0 ? -1 : 1;
    }
    if (b->o->id_mode == ODC_ID_SEQUENTIAL)
        snprintf(res->id_mode, sizeof res->id_mode, "sequential (forced)");
    else if (dup >= 0)
        snprintf(res->id_mode, sizeof res->id_mode, "sequential (auto: PID %lld belongs to more than one task)",
                 (long long)dup);
    else if (bad >= 0)
        snprintf(res->id_mode, sizeof res->id_mode, "sequential (auto: PID %lld does not fit INT32)",
                 (long long)bad);
    else
        snprintf(res->id_mode, sizeof res->id_mode, "pid (auto: PIDs unique)");
    return b->o->id_mode == ODC_ID_AUTO && dup < 0 && bad < 0;
}

/* A loaded run's fragments go out of memory (res->spill, in the store's
 * folder).  0, or -1 with err. */
static int spill_frags(struct builder *b, char *err, size_t errlen)
{
    if (!b->in->store)
        return 0;
    int fd = odc_store_tmpfile(b->in->store);
    if (fd < 0)
        return errf(err, errlen, "%s", odc_store_error(b->in->store));
    b->res->spill = xmalloc(sizeof *b->res->spill);
    *b->res->spill = (struct odc_frag_spill){fd, 0};
    return 0;
}

/* 0, or -1 with err: the samples or the fragments' file failed. */
static int export_error(struct builder *b, struct odc_store *st, char *err, size_t errlen)
{
    if (odc_store_error(st))
        return errf(err, errlen, "%s", odc_store_error(st));
    if (b->spill_errno)
        return errf(err, errlen, "cannot write the fragments' temporary file: %s", strerror(b->spill_errno));
    return 0;
}

/* What export_ours keeps between tasks. */
struct ours {
    struct builder *b;
    struct odc_store *st;
    bool own_st;
    const size_t *keep;
    struct http_ref *http;   /* the kept HTTP requests by (node, pid, position in keep) */
    size_t n_http;
    struct odc_span *spans;
    size_t span_cap;
    size_t *rs, rs_cap;    /* scratch: a request's samples */
    struct odc_cursor *cur;  /* an exec task's samples */
};

/* A kept HTTP request: keep[pos] is on node, its process pid. */
struct http_ref {
    int node;
    int64_t pid;
    size_t pos;
};

static int cmp_http_ref(const void *a, const void *b)
{
    const struct http_ref *x = a, *y = b;
    if (x->node != y->node)
        return (x->node > y->node) - (x->node < y->node);
    if (x->pid != y->pid)
        return (x->pid > y->pid) - (x->pid < y->pid);
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static void http_refs(struct ours *w, size_t nk)
{
    const struct odc_input *in = w->b->in;
    for (size_t i = 0; i < nk; i++) {
        const struct odc_inv *v = &in->invs[w->keep[i]];
        if (!v->http)
            continue;
        w->http = xrealloc(w->http, (w->n_http + 1) * sizeof *w->http);
        w->http[w->n_http++] = (struct http_ref){v->node, v->pid, i};
    }
    if (w->n_http)
        qsort(w->http, w->n_http, sizeof *w->http, cmp_http_ref);
}

/* HTTP requests share their service's process: each sampled interval's
 * CPU is shared among the requests overlapping it, in proportion to the
 * overlap, at most at the interval's mean rate (idle time keeps its
 * share).  occ[s] (ps->aux) = total request time overlapping sample s,
 * summed over the kept requests in their order, when ps was (re)loaded. */
static void request_occupancy(struct ours *w, const struct proc_samples *ps)
{
    const struct odc_input *in = w->b->in;
    if (!ps->fresh || !ps->n || !w->n_http)
        return;
    size_t lo = 0, hi = w->n_http;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct http_ref *h = &w->http[mid];
        if (h->node < ps->p->node || (h->node == ps->p->node && h->pid < ps->p->pid))
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < w->n_http && w->http[lo].node == ps->p->node && w->http[lo].pid == ps->p->pid; lo++) {
        const struct odc_inv *v = &in->invs[w->keep[w->http[lo].pos]];
        size_t n = req_samples(ps, v, &w->rs, &w->rs_cap);
        for (size_t k = 0; k < n; k++) {
            const struct odc_sample *sm = &ps->s[w->rs[k]];
            ps->aux[w->rs[k]] += fmin((double)sm->ts_ms, (double)req_end(v)) -
                                 fmax((double)sm->ts_ms - sm->dt_ms, (double)v->ts_start);
        }
    }
}

/* Room for one more span in w->spans. */
static void span_room(struct ours *w, size_t ns)
{
    if (ns == w->span_cap) {
        w->span_cap *= 2;
        w->spans = xrealloc(w->spans, w->span_cap * sizeof *w->spans);
    }
}

/* The task's samples: its process's intervals with CPU data, into
 * w->spans; the count, and its highest RSS in *rss (-1: none).  Without an
 * exact total, a baseline's cpu_before_ms (the CPU the process had used when
 * it was first sampled) becomes one span from the task's start to that
 * sample, so a task sampled late keeps its head.  *counter: the process's
 * own total (CPU before its first sample + the sampled CPU), an independent
 * figure to compare the fragments with. */
static size_t task_spans(struct ours *w, const struct odc_inv *v, int64_t *rss, double *counter)
{
    size_t ns = 0;
    *rss = -1;
    if (v->http) {
        struct proc_samples ps;
        read_proc(w->st, odc_store_find(w->st, v->node, v->pid), &ps);
        request_occupancy(w, &ps);
        size_t n = req_samples(&ps, v, &w->rs, &w->rs_cap);
        if (n > w->span_cap) {
            w->span_cap = n;
            w->spans = xrealloc(w->spans, w->span_cap * sizeof *w->spans);
        }
        for (size_t k = 0; k < n; k++) {
            const struct odc_sample *sm = &ps.s[w->rs[k]];
            if (sm->rss_kb > *rss)
                *rss = sm->rss_kb;
            /* odc_fragments clips the span to the request: cpu x overlap / dt */
            double share = sm->dt_ms / fmax(ps.aux[w->rs[k]], sm->dt_ms);
            double in_req = fmin((double)sm->ts_ms, (double)req_end(v)) -
                            fmax((double)sm->ts_ms - sm->dt_ms, (double)v->ts_start);
            if (in_req > 0 && sm->dt_ms > 0)   /* the part odc_fragments keeps */
                *counter += sm->cpu_ms * share * fmin(1, in_req / sm->dt_ms);
            w->spans[ns++] = (struct odc_span){(double)sm->ts_ms - sm->dt_ms, (double)sm->ts_ms, sm->cpu_ms * share,
                                               sm->has_delay ? sm->delay_ms * share : 0, sm->has_delay};
        }
        return ns;
    }
    /* A process's samples lie within its life; the slack only guards
     * against clock differences (what lies outside is clipped anyway).
     * Only the task's window is read, never held: a cursor. */
    odc_cursor_seek(w->cur, odc_store_find(w->st, v->node, v->pid), slack_before(v->ts_start),
                    slack_after(v->ts_end));
    for (const struct odc_sample *sm; (sm = odc_cursor_next(w->cur));) {
        if (!belongs(v, sm))
            continue;
        if (sm->rss_kb > *rss)
            *rss = sm->rss_kb;
        if (!(sm->dt_ms > 0)) {
            /* the baseline read of a process */
            if (v->has_cpu || !(sm->cpu_before_ms > 0) || sm->ts_ms <= v->ts_start)
                continue;
            span_room(w, ns);
            w->spans[ns++] = (struct odc_span){(double)v->ts_start, (double)sm->ts_ms, sm->cpu_before_ms, 0, false};
            *counter += sm->cpu_before_ms;
            continue;
        }
        span_room(w, ns);
        *counter += sm->cpu_ms;
        w->spans[ns++] = (struct odc_span){(double)sm->ts_ms - sm->dt_ms, (double)sm->ts_ms, sm->cpu_ms,
                                           sm->has_delay ? sm->delay_ms : 0, sm->has_delay};
    }
    return ns;
}

/* The corrections odc_fragments made, noted. */
static void note_fill(struct builder *b, const struct odc_inv *v, int32_t id, size_t ns, double exact,
                      const struct odc_fill *fill)
{
    if (inv_failed(v))
        note(b, ODC_N_FAILED_KEPT, v, id, v->has_status ? (double)v->status : 0);
    if (ns == 0)
        note(b, ODC_N_NO_SAMPLES, v, id, exact);
    else if (exact < 0 && fill->uncovered_ms >= 1)
        note(b, ODC_N_NO_EXACT_CPU, v, id, fill->uncovered_ms);
    if (fill->scale < 1 - 1e-9)
        note(b, ODC_N_SCALED, v, id, fill->scale);
    if (fill->capped_cpu_ms > 1e-6)
        note(b, ODC_N_CAPPED, v, id, fill->capped_cpu_ms);
    if (fill->lost_cpu_ms > 1e-6)
        note(b, ODC_N_LOST, v, id, fill->lost_cpu_ms);
}

/* CPU ms a sampled interval can show beyond what ran: utime and stime are
 * each read in whole clock ticks (10 ms at the usual 100 Hz), so the
 * difference of two reads can be off by up to two ticks. */
#define TICK_SLACK_MS 20.0

/* The highest rate, in cores, the spans show beyond tick quantisation. */
static double real_peak(const struct odc_span *sp, size_t n)
{
    double peak = 0;
    for (size_t i = 0; i < n; i++) {
        double dt = sp[i].t1 - sp[i].t0;
        double r = dt > 0 ? (sp[i].cpu_ms - TICK_SLACK_MS) / dt : 0;
        if (r > peak)
            peak = r;
    }
    return peak;
}

/* cpu_count: what the task asked for (cpuset, else cpu_units), else its
 * peak beyond tick noise (sampled intervals, and the rate given to time
 * without samples), within the node; *from says which. */
static int cpu_count(struct builder *b, const struct odc_inv *v, const struct odc_node *nd, int32_t id,
                     double peak_cores, const char **from)
{
    int requested = v->cpuset_cpus > 0 ? v->cpuset_cpus : v->cpu_units > 0 ? (int)ceil(v->cpu_units) : 0;
    int need = (int)ceil(peak_cores - 1e-6);
    int count = requested > need ? requested : need;
    *from = requested > 0 && count == requested ? (v->cpuset_cpus > 0 ? "cpuset" : "cpu_units")
            : need >= 1                          ? "peak"
                                                 : "default";
    if (count < 1)
        count = 1;
    if (nd->cores > 0 && count > nd->cores) {
        count = nd->cores;
        *from = "node cores";
    }
    if (requested > 0 && count > requested)
        note(b, ODC_N_CORES_RAISED, v, id, count);
    return count;
}

/* The independent check of a task's fragments: against its exact total,
 * else its process's counter (counter < 0: not sampled); zero_ms: its time
 * left at 0 CPU when it has no exact total. */
static void check_totals(struct odc_result *res, double exact, double counter, const struct odc_seg *segs,
                         size_t nseg, double zero_ms)
{
    double exported = 0;
    for (size_t k = 0; k < nseg; k++)
        exported += segs[k].cpu_ms - segs[k].delay_ms;
    if (exact >= 0) {
        res->exact_cpu_ms += exact;
        res->exact_exported_ms += exported;
        return;
    }
    res->zero_cpu_ms += zero_ms;
    if (counter >= 0) {
        res->n_counter++;
        res->counter_cpu_ms += counter;
        res->counter_exported_ms += exported;
    }
}

/* One invocation as a task with its fragments. */
static void export_task(struct ours *w, const struct odc_inv *v, int32_t id)
{
    struct builder *b = w->b;
    struct odc_result *res = b->res;
    const struct odc_node *nd = &b->in->nodes[v->node];
    int64_t end = v->ts_end;
    if (end == v->ts_start) {
        end = v->ts_start + 1;   /* OpenDC runs a task for the sum of its fragments */
        note(b, ODC_N_ZERO_DURATION, v, id, 0);
    }
    int64_t rss;
    double counter = 0;
    size_t ns = task_spans(w, v, &rss, &counter);
    double exact = v->has_cpu ? v->cpu_ms : -1;
    if (ns == 0 && exact < 0) {
        res->n_blind++;
        if (b->o->unsampled == ODC_UNSAMPLED_DROP) {
            note(b, ODC_N_NO_SAMPLES, v, -1, -1);
            return;
        }
    }
    double cap = nd->cores > 0 ? nd->cores : 0;
    if (v->cpuset_cpus > 0 && (cap == 0 || v->cpuset_cpus < cap))
        cap = v->cpuset_cpus;   /* pinned: it cannot have used more */
    struct odc_seg *segs;
    struct odc_fill fill;
    size_t nseg = odc_fragments(v->ts_start, end, w->spans, ns, exact, cap, 0, &segs, &fill);
    double peak = ns ? real_peak(w->spans, ns) : fill.peak_cores;
    /* The rate given to time without samples is the exact total less the
     * sampled CPU: as quantised as a sampled interval (a few ms of ticks
     * spread over a few ms of time must not claim cores). */
    double unsampled_rate = fill.uncovered_ms > 0 ? (fill.filled_cpu_ms - TICK_SLACK_MS) / fill.uncovered_ms : 0;
    if (ns && unsampled_rate > peak)
        peak = unsampled_rate;
    else if (!ns && fill.uncovered_ms > 0)
        peak = fill.filled_cpu_ms / fill.uncovered_ms;   /* no samples: the total's own rate */
    if (v->cpuset_cpus > 0 && peak > v->cpuset_cpus)
        peak = v->cpuset_cpus;   /* pinned: it cannot have used more */
    const char *from;
    int count = cpu_count(b, v, nd, id, peak, &from);
    if (fill.peak_cores > count + 1e-9) {
        /* peaks within tick noise: held at cpu_count, the excess moved */
        cap = count;
        free(segs);
        nseg = odc_fragments(v->ts_start, end, w->spans, ns, exact, cap, 0, &segs, &fill);
    }
    note_fill(b, v, id, ns, exact, &fill);
    if (b->o->cpu_usage == ODC_USAGE_DEMAND) {
        /* cpu_count comes from the received CPU (the same tasks table in
         * both modes); the demand is held within it.  The received part of
         * the second pass is the first's, so its corrections are noted once. */
        free(segs);
        nseg = odc_fragments(v->ts_start, end, w->spans, ns, exact, cap, count, &segs, &fill);
        if (fill.demand_capped_ms > 1e-6)
            note(b, ODC_N_DEMAND_CAPPED, v, id, fill.demand_capped_ms);
    }
    int64_t kib = v->max_rss_kb >= 0 ? v->max_rss_kb : rss;
    if (kib < 0)
        note(b, ODC_N_NO_MEMORY, v, id, 0);

    struct odc_task *t = new_task(b);
    t->id = id;
    t->name = v->trace_id ? xstrdup(v->trace_id) : NULL;
    t->submission_time = v->has_enqueue ? v->ts_enqueue : v->ts_start;
    t->duration = end - v->ts_start;
    t->cpu_count = count;
    t->count_from = from;
    t->cpu_capacity = count * nd->mhz;
    t->mem_capacity = kib < 0 ? 0 : mem_capacity(kib, b->o->mem_unit);
    t->frag_start = res->n_frags;
    t->n_frags = nseg;
    t->node = v->node;
    t->pid = v->pid;
    t->ts_start = v->ts_start;
    t->failed = inv_failed(v);
    t->sampled = ns > 0;
    t->exact_cpu = exact >= 0;
    t->measured_cpu_ms = exact >= 0 ? exact : fill.seen_cpu_ms;
    for (size_t k = 0; k < nseg; k++) {
        double usage = segs[k].cpu_ms / (double)segs[k].dur * nd->mhz;
        add_frag(b, id, segs[k].dur, usage);
        res->exported_cpu_mhz_ms += usage * (double)segs[k].dur;
    }
    check_totals(res, exact, ns ? counter : -1, segs, nseg, ns ? fill.uncovered_ms : (double)t->duration);
    free(segs);
    res->measured_cpu_ms += t->measured_cpu_ms;
    res->expected_cpu_mhz_ms += t->measured_cpu_ms * nd->mhz;
    res->uncovered_ms += fill.uncovered_ms;
    res->filled_cpu_ms += fill.filled_cpu_ms + fill.spread_cpu_ms;
    res->seen_cpu_ms += fill.seen_cpu_ms;
    res->n_exact += t->exact_cpu;
    res->sampled_frags += fill.sampled;
    res->no_delay_frags += fill.no_delay;
    res->delay_ms += fill.delay_ms;
    res->demand_added_ms += fill.demand_added_ms;
    res->demand_capped_ms += fill.demand_capped_ms;
    res->n_demand_capped += fill.demand_capped_ms > 1e-6;
}

static int export_ours(struct builder *b, char *err, size_t errlen)
{
    const struct odc_input *in = b->in;
    size_t nk;
    size_t *keep = select_invocations(b, &nk);
    int use_pid = choose_ids(b, keep, nk, err, errlen);
    if (use_pid < 0) {
        free(keep);
        return -1;
    }
    struct ours w = {.b = b, .keep = keep, .span_cap = 64};
    if (!(w.st = index_samples(in, &w.own_st, err, errlen))) {
        free(keep);
        return -1;
    }
    if (spill_frags(b, err, errlen) < 0) {
        if (w.own_st)
            odc_store_free(w.st);
        free(keep);
        return -1;
    }
    w.spans = xmalloc(w.span_cap * sizeof *w.spans);
    w.cur = odc_cursor_new(w.st);
    http_refs(&w, nk);
    for (size_t i = 0; i < nk; i++) {
        const struct odc_inv *v = &in->invs[keep[i]];
        export_task(&w, v, use_pid ? (int32_t)v->pid : (int32_t)(i + 1));
    }
    int rc = export_error(b, w.st, err, errlen);
    odc_cursor_free(w.cur);
    free(w.spans);
    free(w.http);
    free(w.rs);
    if (w.own_st)
        odc_store_free(w.st);
    free(keep);
    return rc;
}

/* ---- --upstream-compat: the original exporter's numbers (§9.3-9.6) ---- */

struct pid_row {
    int64_t pid;
    size_t row;
};

static int cmp_pid_row(const void *a, const void *b)
{
    const struct pid_row *x = a, *y = b;
    if (x->pid != y->pid)
        return (x->pid > y->pid) - (x->pid < y->pid);
    return (x->row > y->row) - (x->row < y->row);
}

/* The highest row with this pid in a sorted pid_row array, or SIZE_MAX. */
static size_t last_row(const struct pid_row *v, size_t n, int64_t pid)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].pid <= pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && v[lo - 1].pid == pid ? v[lo - 1].row : SIZE_MAX;
}

/* A task id's fragments, for §9.6: how many, and their cpu_usage's 95th
 * percentile. */
struct id_stat {
    int32_t id;
    size_t n;
    double q95;
};

static int cmp_id_stat(const void *a, const void *b)
{
    const struct id_stat *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static struct id_stat *find_id(struct id_stat *v, size_t n, int32_t id)
{
    struct id_stat key = {.id = id};
    return n ? bsearch(&key, v, n, sizeof *v, cmp_id_stat) : NULL;
}

/* The id of a PID: its position among the distinct PIDs + 1, or the PID. */
static int32_t pid_id(const int64_t *seen, size_t n, bool seq, int64_t pid)
{
    size_t k = 0;
    while (k < n && seen[k] != pid)
        k++;
    return (int32_t)(seq ? (int64_t)k + 1 : pid);
}

/* What export_upstream keeps between its passes. */
struct upstream {
    struct builder *b;
    struct odc_store *st;
    bool own_st;
    struct odc_cursor *cur;  /* a task's window of its process's samples */
    int64_t *seen;         /* distinct PIDs in row order (§9.3 ids) */
    size_t nseen;
    bool seq;              /* sequential ids */
    struct pid_row *last;  /* the tasks by (pid, row) */
    /* The fragments go out as they are made (to res->spill when the
     * samples come from a loaded store); what §9.6 needs of them is kept
     * by task id (ids: each id once, with its count when it got
     * fragments from samples, the synthetic one's usage in q95 else)
     * and recomputed from the samples, one id at a time, into use. */
    struct id_stat *ids;
    size_t nids, ids_cap;
    struct pid_row *by_id; /* (task id, position in seen), sorted */
    bool collect;          /* upstream_task_frags into use, not the result */
    double *use;
    size_t nuse, use_cap;
};

/* One fragment of task id: into the result (and the exported total, in
 * the fragments' order), or only its usage into u->use. */
static void upstream_emit(struct upstream *u, int32_t id, int64_t dur, double usage)
{
    if (u->collect) {
        ARRAY_GROW(u->use, u->nuse + 1, u->use_cap, 256);
        u->use[u->nuse++] = usage;
        return;
    }
    add_frag(u->b, id, dur, usage);
    u->b->res->exported_cpu_mhz_ms += usage * (double)dur;
}

/* id got a fragment (n: from samples; else the synthetic one, usage). */
static void upstream_id(struct upstream *u, int32_t id, bool synthetic, double usage)
{
    if (u->nids && u->ids[u->nids - 1].id == id)
        return;
    ARRAY_GROW(u->ids, u->nids + 1, u->ids_cap, 64);
    u->ids[u->nids++] = (struct id_stat){id, synthetic ? 1 : 0, synthetic ? usage : 0};
}

/* Valid invocations in node order, file order (the loader keeps that
 * order), malloc'd; §9.3: ids keyed by PID, a PID seen twice anywhere is
 * a conflict. */
static size_t *upstream_rows(struct upstream *u, size_t *nr)
{
    struct builder *b = u->b;
    const struct odc_input *in = b->in;
    const struct odc_opts *o = b->o;
    size_t *rows = xmalloc((in->n_invs ? in->n_invs : 1) * sizeof *rows), n = 0;
    for (size_t i = 0; i < in->n_invs; i++) {
        if (in->invs[i].ts_end < in->invs[i].ts_start) {
            note(b, ODC_N_BAD_INVOCATION, &in->invs[i], -1, 0);
            continue;
        }
        rows[n++] = i;
    }
    u->seen = xmalloc((n ? n : 1) * sizeof *u->seen);
    bool conflict = false;
    for (size_t i = 0; i < n; i++) {
        int64_t pid = in->invs[rows[i]].pid;
        size_t k;
        for (k = 0; k < u->nseen && u->seen[k] != pid; k++)
            ;
        if (k < u->nseen)
            conflict = true;
        else
            u->seen[u->nseen++] = pid;
    }
    u->seq = o->id_mode == ODC_ID_SEQUENTIAL || (o->id_mode == ODC_ID_AUTO && conflict);
    snprintf(b->res->id_mode, sizeof b->res->id_mode, "%s", o->id_mode == ODC_ID_PID ? "pid (forced)"
             : o->id_mode == ODC_ID_SEQUENTIAL ? "sequential (forced)"
             : conflict ? "sequential (auto; PID conflicts detected across nodes)"
                        : "pid (auto; PIDs unique across nodes)");
    *nr = n;
    return rows;
}

/* §9.4: the first pass, one task per invocation. */
static void upstream_task(struct upstream *u, const struct odc_inv *v)
{
    const struct odc_input *in = u->b->in;
    const struct odc_node *nd = &in->nodes[v->node];
    double freq = nd->raw_mhz > 0 ? nd->raw_mhz : 2400;
    int cores = nd->raw_cores;
    /* its samples in [ts_start, ts_end]: those with dt > 0 for the CPU,
     * all for the memory */
    size_t nw = 0, nm = 0;
    double peak = 0, sum = 0;
    int64_t mem = -1;
    odc_cursor_seek(u->cur, odc_store_find(u->st, v->node, v->pid), v->ts_start, v->ts_end);
    for (const struct odc_sample *s; (s = odc_cursor_next(u->cur));) {
        nm++;
        if (s->rss_kb > mem)
            mem = s->rss_kb;
        if (!(s->dt_ms > 0))
            continue;
        nw++;
        double r = s->cpu_ms / fmax(s->dt_ms, 1);
        if (r > peak)
            peak = r;
        sum += s->cpu_ms;
    }
    int cores_used = 1;
    double per_core;
    if (nw == 0) {
        per_core = fmax(0.5 * freq, 0.1);
    } else {
        cores_used = (int)floor(peak + 0.5);
        if (cores_used < 1)
            cores_used = 1;
        if (cores > 0 && cores_used > cores)
            cores_used = cores;
        double dur = (double)(v->ts_end - v->ts_start);
        if (dur > 0) {
            double util = sum / dur / cores_used;
            per_core = freq * fmin(fmax(util, 0), 1);
        } else {
            per_core = freq * 0.1;
        }
        per_core = fmax(per_core, 1.0);
    }
    struct odc_task *t = new_task(u->b);
    t->id = pid_id(u->seen, u->nseen, u->seq, v->pid);
    t->name = v->trace_id ? xstrdup(v->trace_id) : NULL;
    t->submission_time = v->has_enqueue ? v->ts_enqueue : v->ts_start;
    t->duration = v->ts_end - v->ts_start;
    t->cpu_count = cores_used;
    t->cpu_capacity = cores_used * per_core;
    t->mem_capacity = nm && mem >= 0 ? (mem > 1024 ? mem : 1024) : 65536;
    t->node = v->node;
    t->pid = v->pid;
    t->ts_start = v->ts_start;
    t->sampled = nw > 0;
    if (!t->sampled)
        note(u->b, ODC_N_NO_SAMPLES, v, t->id, -1);
}

/* §9.5: the fragments of task t from its PID's samples on node x, to
 * upstream_emit. */
static void upstream_task_frags(struct upstream *u, int node, int64_t pid, const struct odc_task *t)
{
    const struct odc_input *in = u->b->in;
    const struct odc_node *tn = &in->nodes[t->node];
    double freq = tn->raw_mhz > 0 ? tn->raw_mhz : 2400;
    double cores = tn->raw_cores > 0 ? tn->raw_cores : INFINITY;
    int64_t ts_start = t->ts_start, ts_end = t->ts_start + t->duration;
    size_t nw = 0;
    odc_cursor_seek(u->cur, odc_store_find(u->st, node, pid), ts_start, ts_end);
    for (const struct odc_sample *s; (s = odc_cursor_next(u->cur));) {
        if (!(s->dt_ms > 0))
            continue;
        double ws = (double)s->ts_ms - s->dt_ms, cpu = s->cpu_ms;
        if (nw++ == 0 && ws > (double)ts_start)   /* before the first sample */
            upstream_emit(u, t->id, llround(ws - (double)ts_start),
                          fmax(fmin(s->cpu_ms / s->dt_ms, cores) * freq, 0.1));
        if (ws < (double)ts_start) {
            cpu *= ((double)s->ts_ms - (double)ts_start) / s->dt_ms;
            ws = (double)ts_start;
        }
        double d = (double)s->ts_ms - ws;
        if (d <= 0)
            continue;
        double c = fmin(fmax(cpu / d, 0), cores);
        upstream_emit(u, t->id, llround(d), fmax(c * freq, 0.1));
    }
    if (nw == 0)
        upstream_emit(u, t->id, ts_end - ts_start, t->cpu_capacity * 0.5);
}

/* §9.5: per node, its PIDs in order of first appearance, each to the last
 * invocation with that PID (global). */
static void upstream_frags(struct upstream *u)
{
    const struct odc_input *in = u->b->in;
    struct odc_result *res = u->b->res;
    u->last = xmalloc((res->n_tasks ? res->n_tasks : 1) * sizeof *u->last);
    for (size_t k = 0; k < res->n_tasks; k++)
        u->last[k] = (struct pid_row){res->tasks[k].pid, k};
    qsort(u->last, res->n_tasks, sizeof *u->last, cmp_pid_row);
    size_t np;
    const struct odc_proc *procs = odc_store_procs(u->st, &np);
    struct pid_row *first = xmalloc((np ? np : 1) * sizeof *first);
    for (size_t nd_i = 0; nd_i < in->n_nodes; nd_i++) {
        /* This node's PIDs with dt > 0 samples, in order of first appearance
         * (pid_row used as (first sample's file order, pid)). */
        size_t nf = 0;
        for (size_t p = 0; p < np; p++)
            if (procs[p].node == (int)nd_i && procs[p].first_dt_seq != UINT64_MAX)
                first[nf++] = (struct pid_row){(int64_t)procs[p].first_dt_seq, (size_t)procs[p].pid};
        qsort(first, nf, sizeof *first, cmp_pid_row);   /* by first sample index */
        for (size_t f = 0; f < nf; f++) {
            int64_t pid = (int64_t)first[f].row;
            size_t t_i = last_row(u->last, res->n_tasks, pid);
            if (t_i != SIZE_MAX) {
                upstream_task_frags(u, (int)nd_i, pid, &res->tasks[t_i]);
                upstream_id(u, res->tasks[t_i].id, false, 0);
            }
        }
    }
    free(first);
    qsort(u->ids, u->nids, sizeof *u->ids, cmp_id_stat);
    size_t w = 0;
    for (size_t k = 0; k < u->nids; k++)
        if (!w || u->ids[w - 1].id != u->ids[k].id)
            u->ids[w++] = u->ids[k];
    u->nids = w;
}

/* Every task id without a fragment: one synthetic fragment at half its
 * capacity (once per id). */
static void upstream_missing_frags(struct upstream *u)
{
    struct odc_result *res = u->b->res;
    size_t n_real = u->nids;
    for (size_t k = 0; k < res->n_tasks; k++) {
        const struct odc_task *t = &res->tasks[k];
        if (find_id(u->ids, n_real, t->id))
            continue;
        bool did = false;
        for (size_t j = n_real; j < u->nids && !did; j++)
            did = u->ids[j].id == t->id;
        if (!did) {
            upstream_emit(u, t->id, t->duration, t->cpu_capacity * 0.5);
            ARRAY_GROW(u->ids, u->nids + 1, u->ids_cap, 64);
            u->ids[u->nids++] = (struct id_stat){t->id, 1, t->cpu_capacity * 0.5};
        }
    }
    qsort(u->ids, u->nids, sizeof *u->ids, cmp_id_stat);
}

/* The count and 95th percentile of the usages of an id that got its
 * fragments from samples: upstream_frags again for its PIDs, the usages
 * kept (the fragments of one task id at a time). */
static void upstream_id_stat(struct upstream *u, struct id_stat *is)
{
    const struct odc_input *in = u->b->in;
    struct odc_result *res = u->b->res;
    u->collect = true;
    u->nuse = 0;
    size_t lo = 0, hi = u->nseen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (u->by_id[mid].pid < is->id)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < u->nseen && u->by_id[lo].pid == is->id; lo++) {
        int64_t pid = u->seen[u->by_id[lo].row];
        size_t t_i = last_row(u->last, res->n_tasks, pid);
        for (size_t nd_i = 0; t_i != SIZE_MAX && nd_i < in->n_nodes; nd_i++) {
            const struct odc_proc *p = odc_store_find(u->st, (int)nd_i, pid);
            if (p && p->first_dt_seq != UINT64_MAX)
                upstream_task_frags(u, (int)nd_i, pid, &res->tasks[t_i]);
        }
    }
    u->collect = false;
    is->n = u->nuse;
    qsort(u->use, u->nuse, sizeof *u->use, cmp_double);
    is->q95 = stats_quantile(u->use, u->nuse, 0.95); /* the original's (pandas) */
}

/* §9.6: post-processing of the tasks table. */
static void upstream_post(struct upstream *u)
{
    const struct odc_input *in = u->b->in;
    struct odc_result *res = u->b->res;
    /* every id's figures before any task changes (they come from the
     * tasks); a PID's id is pid_id's: its position in seen, or itself */
    u->by_id = xmalloc((u->nseen ? u->nseen : 1) * sizeof *u->by_id);
    for (size_t k = 0; k < u->nseen; k++)
        u->by_id[k] = (struct pid_row){u->seq ? (int32_t)((int64_t)k + 1) : (int32_t)u->seen[k], k};
    qsort(u->by_id, u->nseen, sizeof *u->by_id, cmp_pid_row);
    for (size_t k = 0; k < u->nids; k++)
        if (!u->ids[k].n)
            upstream_id_stat(u, &u->ids[k]);
    for (size_t k = 0; k < res->n_tasks; k++) {
        struct odc_task *t = &res->tasks[k];
        const struct odc_node *tn = &in->nodes[t->node];
        const struct id_stat *is = find_id(u->ids, u->nids, t->id);
        t->n_frags = is ? is->n : 0;
        if (t->n_frags)
            t->cpu_capacity = is->q95;
        double freq = tn->raw_mhz;   /* the raw value, no default, here */
        if (freq > 0) {
            double c = odc_round_half_even(t->cpu_capacity / freq);
            t->cpu_count = c < 1 ? 1 : (int32_t)c;
            if (tn->raw_cores > 0 && t->cpu_count > tn->raw_cores)
                t->cpu_count = tn->raw_cores;
            if (t->cpu_count == 1 && fabs(t->cpu_capacity - freq) <= 200)
                t->cpu_capacity = odc_round_half_even(freq / 100) * 100;
        }
        t->cpu_capacity = fmin(t->cpu_capacity, 2400.0 * t->cpu_count);
    }
}

static int export_upstream(struct builder *b, char *err, size_t errlen)
{
    const struct odc_input *in = b->in;
    struct upstream u = {.b = b};
    if (spill_frags(b, err, errlen) < 0 || !(u.st = index_samples(in, &u.own_st, err, errlen)))
        return -1;
    u.cur = odc_cursor_new(u.st);
    size_t nr;
    size_t *rows = upstream_rows(&u, &nr);
    for (size_t i = 0; i < nr; i++)
        upstream_task(&u, &in->invs[rows[i]]);
    upstream_frags(&u);
    upstream_missing_frags(&u);
    upstream_post(&u);
    int rc = export_error(b, u.st, err, errlen);
    odc_cursor_free(u.cur);
    free(u.seen);
    free(u.last);
    free(u.by_id);
    free(u.ids);
    free(u.use);
    free(rows);
    if (u.own_st)
        odc_store_free(u.st);
    return rc;
}

int odc_check_nodes(const struct odc_input *in, char *err, size_t errlen)
{
    for (size_t k = 0; k < in->n_nodes; k++) {
        const struct odc_node *nd = &in->nodes[k];
        const char *what = !(nd->mhz > 0) ? "CPU frequency (cpu_freq_mhz; set CPU_FREQ_MHZ when collecting)"
                           : nd->cores <= 0 ? "core count (cpu_cores)"
                           : nd->mem_mb <= 0 ? "memory size (mem_mb)" : NULL;
        if (what) {
            snprintf(err, errlen, "node '%s' (folder %s) has no %s in CTS/nodes.json or node_meta.json; "
                     "the export will not invent one", nd->node_id, nd->folder, what);
            return -1;
        }
    }
    return 0;
}

/* --submission start|slot, and the wait to OpenDC's next 1-s slot that
 * the chosen times leave: its slots are counted from the earliest
 * submission (simulated time 0), a task submitted between two waits for
 * the next (Pacer.java). */
static void submissions(const struct odc_opts *o, struct odc_result *res)
{
    if (o->submission == ODC_SUB_START)
        for (size_t i = 0; i < res->n_tasks; i++)
            res->tasks[i].submission_time = res->tasks[i].ts_start;
    int64_t t0 = INT64_MAX;
    for (size_t i = 0; i < res->n_tasks; i++)
        if (res->tasks[i].submission_time < t0)
            t0 = res->tasks[i].submission_time;
    double wait = 0;
    for (size_t i = 0; i < res->n_tasks; i++) {
        struct odc_task *t = &res->tasks[i];
        int64_t off = (t->submission_time - t0) % ODC_SLOT_MS;
        if (o->submission == ODC_SUB_SLOT)
            t->submission_time -= off;
        else if (off) {
            wait += (double)(ODC_SLOT_MS - off);
            res->n_off_slot++;
        }
    }
    res->slot_wait_mean_ms = res->n_tasks ? wait / (double)res->n_tasks : 0;
}

int odc_export(const struct odc_input *in, const struct odc_opts *o, struct odc_result *res,
               char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    if (odc_check_nodes(in, err, errlen) < 0)
        return -1;
    struct builder b = {.in = in, .o = o, .res = res};
    int rc = o->upstream_compat ? export_upstream(&b, err, errlen) : export_ours(&b, err, errlen);
    if (rc < 0)
        odc_result_free(res);
    else
        submissions(o, res);
    return rc;
}

int odc_frags_read(const struct odc_result *res, size_t first, struct odc_frag *buf, size_t n)
{
    size_t ns = res->spill ? res->spill->n : 0;
    if (first < ns) {
        size_t k = n < ns - first ? n : ns - first;
        if (pread_full(res->spill->fd, buf, k * sizeof *buf, (uint64_t)first * sizeof *buf) < 0)
            return -1;
        first += k;
        buf += k;
        n -= k;
    }
    if (n)
        memcpy(buf, res->frags + (first - ns), n * sizeof *buf);
    return 0;
}

void odc_result_free(struct odc_result *res)
{
    for (size_t i = 0; i < res->n_tasks; i++)
        free(res->tasks[i].name);
    free(res->tasks);
    free(res->frags);
    if (res->spill)
        close(res->spill->fd);
    free(res->spill);
    free(res->notes);
    memset(res, 0, sizeof *res);
}
