/* report.c -- lanes, aggregation and the HTML/SVG of `tracekit report`.
 * Everything here works on memory; report_load.c does the reading. */
#include "report/report.h"

#include "common/stats.h"
#include "common/util.h"
#include "trace/audit.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NCOLOURS 10           /* apps beyond this share the "other" colour */
#define GANTT_LEFT 96
#define WAIT_H 22              /* the waiting strip above a node's lanes */
#define GANTT_TOP (24 + WAIT_H)
#define MAX_TASK_CPUS 256     /* a task is drawn on at most this many CPU lanes */

static const char *const palette[NCOLOURS + 1] = {
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
    "#edc948", "#9c755f", "#ff9da7", "#bab0ac", "#e15759", "#777777",
};

/* ---- building ---- */

void report_init(struct report *r, const char *title)
{
    memset(r, 0, sizeof *r);
    r->title = xstrdup(title ? title : "run");
    r->width = 1100;
    r->exact_max = 4000;
    r->curves_max = 50;
}

void report_free(struct report *r)
{
    for (size_t i = 0; i < r->nnodes; i++) {
        struct rp_node *n = &r->nodes[i];
        free(n->name);
        free(n->host);
        free(n->samples);
        free(n->lanes);
        json_decref(n->audit);
        free(n->orig_audit);
    }
    for (size_t i = 0; i < r->ntasks; i++) {
        free(r->tasks[i].trace_id);
        free(r->tasks[i].cpuset);
    }
    for (size_t i = 0; i < r->napps; i++)
        free(r->apps[i]);
    json_decref(r->setup);
    json_decref(r->bindings);
    json_decref(r->profiles);
    json_decref(r->event_apps);
    free(r->nodes);
    free(r->tasks);
    free(r->apps);
    free(r->title);
    memset(r, 0, sizeof *r);
}

#define GROW(arr, n, cap)                                                   \
    do {                                                                    \
        if ((n) == (cap)) {                                                 \
            (cap) = (cap) ? (cap) * 2 : 16;                                 \
            (arr) = xrealloc((arr), (cap) * sizeof *(arr));                 \
        }                                                                   \
    } while (0)

size_t report_add_node(struct report *r, const char *name, int cores, json_t *audit)
{
    GROW(r->nodes, r->nnodes, r->capnodes);
    struct rp_node *n = &r->nodes[r->nnodes];
    memset(n, 0, sizeof *n);
    n->name = xstrdup(name ? name : "node");
    n->cores = cores > 0 ? cores : 0;
    n->audit = audit;
    return r->nnodes++;
}

size_t report_app(struct report *r, const char *name)
{
    if (!name || !*name)
        name = "unknown";
    for (size_t i = 0; i < r->napps; i++)
        if (!strcmp(r->apps[i], name))
            return i;
    GROW(r->apps, r->napps, r->capapps);
    r->apps[r->napps] = xstrdup(name);
    return r->napps++;
}

void report_add_task(struct report *r, const struct rp_task *t)
{
    GROW(r->tasks, r->ntasks, r->captasks);
    struct rp_task *d = &r->tasks[r->ntasks++];
    *d = *t;
    d->trace_id = t->trace_id ? xstrdup(t->trace_id) : NULL;
    d->cpuset = t->cpuset ? xstrdup(t->cpuset) : NULL;
    d->lane = -1;
}

void report_add_sample(struct report *r, size_t node, const struct rp_sample *s)
{
    struct rp_node *n = &r->nodes[node];
    GROW(n->samples, n->nsamples, n->capsamples);
    n->samples[n->nsamples++] = *s;
}

void report_add_host(struct report *r, size_t node, const struct rp_host *h)
{
    struct rp_node *n = &r->nodes[node];
    GROW(n->host, n->nhost, n->caphost);
    n->host[n->nhost++] = *h;
}

/* ---- cpusets and lanes ---- */

int report_parse_cpuset(const char *s, int *cpus, int max)
{
    if (!s)
        return -1;
    int n = 0;
    const char *p = s;
    while (*p == ' ')
        p++;
    if (!*p)
        return -1;
    while (*p) {
        char *e;
        long a = strtol(p, &e, 10);
        if (e == p || a < 0 || a > 65535)
            return -1;
        long b = a;
        p = e;
        if (*p == '-') {
            p++;
            b = strtol(p, &e, 10);
            if (e == p || b < a || b > 65535)
                return -1;
            p = e;
        }
        for (long c = a; c <= b; c++)
            if (n < max)
                cpus[n++] = (int)c;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
        else if (*p)
            return -1;
    }
    return n;
}

/* a - b in ms without int64 overflow on absurd timestamps (exact below 2^53) */
static double dms(int64_t a, int64_t b)
{
    return (double)a - (double)b;
}

static bool drawable(const struct rp_task *t)
{
    return t->has_start && t->has_end && t->end >= t->start;
}

static const struct report *sort_ctx;   /* qsort has no context argument */

static int cmp_task_start(const void *a, const void *b)
{
    const struct rp_task *x = &sort_ctx->tasks[*(const size_t *)a];
    const struct rp_task *y = &sort_ctx->tasks[*(const size_t *)b];
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

static int cmp_sample(const void *a, const void *b)
{
    const struct rp_sample *x = a, *y = b;
    if (x->pid != y->pid)
        return x->pid < y->pid ? -1 : 1;
    if (x->has_st != y->has_st)
        return x->has_st ? 1 : -1;
    if (x->has_st && x->start_ticks != y->start_ticks)
        return x->start_ticks < y->start_ticks ? -1 : 1;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

static int cmp_host(const void *a, const void *b)
{
    const struct rp_host *x = a, *y = b;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

/* Min-heap of greedy lanes by the end of their last task. */
struct lane_heap {
    int64_t *end;
    int *lane;
    size_t n;
};

static void heap_swap(struct lane_heap *h, size_t i, size_t j)
{
    int64_t e = h->end[i];
    h->end[i] = h->end[j];
    h->end[j] = e;
    int l = h->lane[i];
    h->lane[i] = h->lane[j];
    h->lane[j] = l;
}

static void heap_down(struct lane_heap *h, size_t i)
{
    for (;;) {
        size_t m = i, l = 2 * i + 1, rr = l + 1;
        if (l < h->n && h->end[l] < h->end[m])
            m = l;
        if (rr < h->n && h->end[rr] < h->end[m])
            m = rr;
        if (m == i)
            return;
        heap_swap(h, i, m);
        i = m;
    }
}

static void heap_push(struct lane_heap *h, int64_t end, int lane)
{
    size_t i = h->n++;
    h->end[i] = end;
    h->lane[i] = lane;
    while (i > 0 && h->end[(i - 1) / 2] > h->end[i]) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* Lane of a CPU on a node (CPU lanes come first, sorted). */
static int cpu_lane(const struct rp_node *n, int cpu)
{
    size_t lo = 0, hi = n->nlanes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (!n->lanes[mid].is_cpu || n->lanes[mid].cpu >= cpu)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo < n->nlanes && n->lanes[lo].is_cpu && n->lanes[lo].cpu == cpu ? (int)lo : -1;
}

static void layout_node(struct report *r, size_t ni)
{
    struct rp_node *n = &r->nodes[ni];
    int cpus[MAX_TASK_CPUS];
    /* CPU lanes: every CPU some task of this node was bound to */
    int *all = NULL;
    size_t nall = 0, capall = 0, ntask = 0, nfree = 0;
    for (size_t i = 0; i < r->ntasks; i++) {
        const struct rp_task *t = &r->tasks[i];
        if (t->node != ni)
            continue;
        ntask++;
        if (!drawable(t))
            continue;
        int k = report_parse_cpuset(t->cpuset, cpus, MAX_TASK_CPUS);
        if (k <= 0) {
            nfree++;
            continue;
        }
        for (int j = 0; j < k; j++) {
            GROW(all, nall, capall);
            all[nall++] = cpus[j];
        }
    }
    n->ntasks = ntask;
    if (nall)
        qsort(all, nall, sizeof *all, cmp_int);
    size_t ncpu = 0;
    for (size_t i = 0; i < nall; i++)
        if (i == 0 || all[i] != all[i - 1])
            all[ncpu++] = all[i];
    n->lanes = xcalloc(ncpu + (nfree ? nfree : 1), sizeof *n->lanes);
    for (size_t i = 0; i < ncpu; i++)
        n->lanes[i] = (struct rp_lane){.is_cpu = true, .cpu = all[i]};
    n->nlanes = ncpu;
    free(all);

    /* greedy lanes for tasks without a cpuset, in start order */
    size_t *order = xmalloc((nfree ? nfree : 1) * sizeof *order), k = 0;
    for (size_t i = 0; i < r->ntasks; i++) {
        struct rp_task *t = &r->tasks[i];
        if (t->node != ni || !drawable(t))
            continue;
        if (report_parse_cpuset(t->cpuset, cpus, 1) > 0)
            t->lane = cpu_lane(n, cpus[0]);
        else
            order[k++] = i;
    }
    sort_ctx = r;
    qsort(order, k, sizeof *order, cmp_task_start);
    struct lane_heap h = {xmalloc((k ? k : 1) * sizeof *h.end), xmalloc((k ? k : 1) * sizeof *h.lane), 0};
    for (size_t i = 0; i < k; i++) {
        struct rp_task *t = &r->tasks[order[i]];
        if (h.n && h.end[0] <= t->start) {
            t->lane = h.lane[0];
            h.end[0] = t->end;
            heap_down(&h, 0);
        } else {
            t->lane = (int)n->nlanes;
            n->lanes[n->nlanes] = (struct rp_lane){.is_cpu = false, .cpu = (int)(n->nlanes - ncpu)};
            n->nlanes++;
            heap_push(&h, t->end, t->lane);
        }
    }
    free(h.end);
    free(h.lane);
    free(order);
    if (n->nsamples)
        qsort(n->samples, n->nsamples, sizeof *n->samples, cmp_sample);
    if (n->nhost)
        qsort(n->host, n->nhost, sizeof *n->host, cmp_host);
}

void report_layout(struct report *r)
{
    for (size_t i = 0; i < r->nnodes; i++) {
        free(r->nodes[i].lanes);
        r->nodes[i].lanes = NULL;
        r->nodes[i].nlanes = 0;
    }
    for (size_t i = 0; i < r->ntasks; i++)
        r->tasks[i].lane = -1;
    for (size_t i = 0; i < r->nnodes; i++)
        layout_node(r, i);
}

/* ---- figures ---- */

static double mean_of(const double *a, size_t n)
{
    if (!n)
        return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i];
    return s / (double)n;
}

void report_stats(const struct report *r, size_t app, struct rp_stats *s)
{
    memset(s, 0, sizeof *s);
    double *wait = xmalloc((r->ntasks + 1) * sizeof *wait);
    double *run = xmalloc((r->ntasks + 1) * sizeof *run);
    for (size_t i = 0; i < r->ntasks; i++) {
        const struct rp_task *t = &r->tasks[i];
        if (app != (size_t)-1 && t->app != app)
            continue;
        s->tasks++;
        if (t->failed)
            s->failed++;
        else
            s->ok++;
        /* negative waits (enqueued after start: clock skew) are not waits */
        if (t->has_enq && t->has_start && t->start >= t->enq)
            wait[s->nwait++] = dms(t->start, t->enq);
        if (drawable(t))
            run[s->nrun++] = dms(t->end, t->start);
    }
    s->wait_mean = mean_of(wait, s->nwait);
    s->run_mean = mean_of(run, s->nrun);
    s->wait_p95 = stats_quantile_select(wait, s->nwait, 0.95);
    s->run_p95 = stats_quantile_select(run, s->nrun, 0.95);
    free(wait);
    free(run);
}

bool report_span(const struct report *r, int64_t *t0, int64_t *t1)
{
    int64_t lo = INT64_MAX, hi = INT64_MIN;
#define SEE(v) do { if ((v) < lo) lo = (v); if ((v) > hi) hi = (v); } while (0)
    for (size_t i = 0; i < r->ntasks; i++) {
        const struct rp_task *t = &r->tasks[i];
        if (t->has_enq && (!t->has_start || t->enq <= t->start))
            SEE(t->enq);
        if (t->has_start)
            SEE(t->start);
        if (t->has_end)
            SEE(t->end);
    }
    for (size_t i = 0; i < r->nnodes; i++) {
        const struct rp_node *n = &r->nodes[i];
        for (size_t j = 0; j < n->nhost; j++)
            SEE(n->host[j].ts);
        for (size_t j = 0; j < n->nsamples; j++)
            SEE(n->samples[j].ts);
    }
#undef SEE
    if (lo > hi)
        return false;
    *t0 = lo;
    *t1 = hi > lo ? hi : lo + 1;
    return true;
}

/* ---- text ---- */

static void lit(struct jbuf *b, const char *s)
{
    jb_append(b, s, strlen(s));
}

void report_html_escape(struct jbuf *b, const char *s)
{
    if (!s)
        return;
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&': lit(b, "&amp;"); break;
        case '<': lit(b, "&lt;"); break;
        case '>': lit(b, "&gt;"); break;
        case '"': lit(b, "&quot;"); break;
        case '\'': lit(b, "&#39;"); break;
        default:
            /* control characters would make the XML of the SVG invalid */
            if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n')
                lit(b, "?");
            else
                jb_append(b, p, 1);
        }
    }
}

void report_dur(struct jbuf *b, double ms)
{
    if (isnan(ms))
        lit(b, "&ndash;");
    else if (fabs(ms) < 1000)
        jb_printf(b, "%.0f ms", ms);
    else if (fabs(ms) < 120000)
        jb_printf(b, "%.2f s", ms / 1000);
    else if (fabs(ms) < 7200000)
        jb_printf(b, "%.1f min", ms / 60000);
    else
        jb_printf(b, "%.2f h", ms / 3600000);
}

/* An axis value with its unit: cores ("0.5 cores", "1 core") or MHz. */
static void unit_value(struct jbuf *b, double v, enum rp_unit u)
{
    if (u == RP_CORES)
        jb_printf(b, "%.2g core%s", v, v == 1 ? "" : "s");
    else
        report_mhz(b, v);
}

void report_mhz(struct jbuf *b, double v)
{
    if (fabs(v) >= 1e6)
        jb_printf(b, "%.3g THz", v / 1e6);
    else if (fabs(v) >= 1000)
        jb_printf(b, "%.3g GHz", v / 1000);
    else
        jb_printf(b, "%.3g MHz", v);
}

static void pct(struct jbuf *b, double v)
{
    if (isnan(v))
        lit(b, "&ndash;");
    else
        jb_printf(b, "%.1f%%", v);
}

const char *report_colour(size_t app)
{
    return palette[app < NCOLOURS ? app : NCOLOURS];
}

static int colour(size_t app)
{
    return app < NCOLOURS ? (int)app : NCOLOURS;
}

/* ---- time axis ---- */

struct xmap {
    double t0;
    double scale;   /* px per ms */
    double left;
    int width;
};

static struct xmap xmap_make(double t0, double t1, double left, int width)
{
    struct xmap m = {t0, (double)width / (t1 > t0 ? t1 - t0 : 1), left, width};
    return m;
}

static double xofd(const struct xmap *m, double t)
{
    return m->left + (t - m->t0) * m->scale;
}

static double xof(const struct xmap *m, int64_t t)
{
    return xofd(m, (double)t);
}

/* A "nice" step (1, 2, 5 x 10^k) near span/target. */
static double nice_step(double span, int target)
{
    double raw = span / target;
    if (raw <= 0)
        return 1;
    double p = pow(10, floor(log10(raw)));
    double f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* Tick marks and labels (time since the start of the chart) at y, in ms,
 * s, min or h by the span. */
static void time_axis(struct jbuf *b, const struct xmap *m, double y)
{
    double span = (double)m->width / m->scale;
    double unit = span >= 7200000 ? 3600000 : span >= 120000 ? 60000 : span >= 1500 ? 1000 : 1;
    const char *uname = unit == 3600000 ? "h" : unit == 60000 ? "min" : unit == 1000 ? "s" : "ms";
    double step = nice_step(span / unit, 10) * unit;
    jb_printf(b, "<g class=\"ax\"><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", m->left, y,
        m->left + m->width, y);
    for (double v = 0; v <= span + step / 2 && step > 0; v += step) {
        double x = m->left + v * m->scale;
        if (x > m->left + m->width + 0.5)
            break;
        jb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x, y, x, y + 4);
        jb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g%s</text>", x, y + 15, v / unit, uname);
    }
    lit(b, "</g>");
}

/* ---- Gantt ---- */

/* Rows drawn for a node: one per lane, or lanes folded onto GANTT_ROWS_MAX
 * rows when there are more (hundreds of greedy lanes of a workload where
 * everything overlaps), so the chart stays a screen high. */
#define GANTT_ROWS_MAX 210

static size_t gantt_rows(size_t nlanes)
{
    return nlanes > GANTT_ROWS_MAX ? GANTT_ROWS_MAX : nlanes;
}

static size_t row_of(size_t lane, size_t nlanes)
{
    return nlanes > GANTT_ROWS_MAX ? lane * GANTT_ROWS_MAX / nlanes : lane;
}

static double lane_height(size_t nrows)
{
    double h = 420.0 / (double)(nrows ? nrows : 1);
    return h > 18 ? 18 : h < 2 ? 2 : h;
}

static void lane_label(struct jbuf *b, const struct rp_node *n, size_t row, double y, double lh)
{
    if (lh < 9 && row % (size_t)ceil(9 / lh))
        return;   /* too tight for every label */
    jb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", GANTT_LEFT - 6, y + lh * 0.75);
    if (n->nlanes > GANTT_ROWS_MAX) {
        /* first lane of this row .. last lane of this row */
        size_t a = (row * n->nlanes + GANTT_ROWS_MAX - 1) / GANTT_ROWS_MAX;
        size_t e = ((row + 1) * n->nlanes + GANTT_ROWS_MAX - 1) / GANTT_ROWS_MAX - 1;
        jb_printf(b, "lanes %zu-%zu", a, e);
    } else if (n->lanes[row].is_cpu) {
        jb_printf(b, "cpu %d", n->lanes[row].cpu);
    } else {
        jb_printf(b, "lane %d", n->lanes[row].cpu);
    }
    lit(b, "</text>");
}

static void task_title(struct jbuf *b, const struct report *r, const struct rp_task *t)
{
    lit(b, "<title>");
    report_html_escape(b, t->trace_id ? t->trace_id : "(no trace_id)");
    lit(b, " &middot; ");
    report_html_escape(b, r->apps[t->app]);
    lit(b, " &middot; run ");
    report_dur(b, dms(t->end, t->start));
    if (t->has_enq && t->enq <= t->start) {
        lit(b, ", wait ");
        report_dur(b, dms(t->start, t->enq));
    }
    if (t->failed)
        lit(b, " &middot; FAILED");
    lit(b, "</title>");
}

static void gantt_exact(struct jbuf *b, const struct report *r, size_t ni, const struct xmap *m, double lh)
{
    const struct rp_node *n = &r->nodes[ni];
    int cpus[MAX_TASK_CPUS];
    for (size_t i = 0; i < r->ntasks; i++) {
        const struct rp_task *t = &r->tasks[i];
        if (t->node != ni || t->lane < 0)
            continue;
        int k = report_parse_cpuset(t->cpuset, cpus, MAX_TASK_CPUS);
        for (int j = 0; j < (k > 0 ? k : 1); j++) {
            int lane = k > 0 ? cpu_lane(n, cpus[j]) : t->lane;
            if (lane < 0)
                continue;
            double y = GANTT_TOP + (double)row_of((size_t)lane, n->nlanes) * lh;
            double x0 = xof(m, t->start), x1 = xof(m, t->end);
            jb_printf(b, "<rect class=\"r c%d%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">",
                colour(t->app), t->failed ? " f" : "", x0, y + lh * 0.1, x1 - x0 < 0.5 ? 0.5 : x1 - x0,
                lh * 0.8);
            task_title(b, r, t);
            lit(b, "</rect>");
        }
    }
}

/* Add the part of [a, b) (px, relative to the plot) falling in each column. */
static void spread(double *cols, int ncols, int stride, int off, double a, double bb)
{
    if (bb <= a)
        bb = a + 0.01;   /* an instant task still shows up */
    if (a < 0)
        a = 0;
    if (bb > ncols)
        bb = ncols;
    if (a >= ncols)
        return;
    for (int c = (int)a; c < ncols && c < bb; c++) {
        double lo = a > c ? a : c, hi = bb < c + 1 ? bb : c + 1;
        if (hi > lo)
            cols[(size_t)c * stride + off] += hi - lo;
    }
}

/* Too many tasks to draw one by one: per lane and pixel column, the app
 * with the most run time there, merged into runs of equal columns;
 * failures the same way. */
static void gantt_binned(struct jbuf *b, const struct report *r, size_t ni, const struct xmap *m, double lh)
{
    const struct rp_node *n = &r->nodes[ni];
    int W = m->width, C = NCOLOURS + 1, stride = C + 2;   /* + wait, failed */
    int cpus[MAX_TASK_CPUS];
    size_t nrows = gantt_rows(n->nlanes);
    double *g = xcalloc((size_t)W * stride * (nrows ? nrows : 1), sizeof *g);
    for (size_t i = 0; i < r->ntasks; i++) {
        const struct rp_task *t = &r->tasks[i];
        if (t->node != ni || t->lane < 0)
            continue;
        int k = report_parse_cpuset(t->cpuset, cpus, MAX_TASK_CPUS);
        for (int j = 0; j < (k > 0 ? k : 1); j++) {
            int lane = k > 0 ? cpu_lane(n, cpus[j]) : t->lane;
            if (lane < 0)
                continue;
            double *cols = g + row_of((size_t)lane, n->nlanes) * W * stride;
            double a = xof(m, t->start) - m->left, e = xof(m, t->end) - m->left;
            spread(cols, W, stride, colour(t->app), a, e);
            if (t->failed)
                spread(cols, W, stride, C + 1, a, e);
        }
    }
    for (size_t l = 0; l < nrows; l++) {
        double *cols = g + l * W * stride;
        double y = GANTT_TOP + (double)l * lh;
        /* run segments: dominant colour per column, equal neighbours merged */
        int start = -1, cur = -1;
        for (int c = 0; c <= W; c++) {
            int best = -1;
            if (c < W) {
                double bv = 0;
                for (int k = 0; k < C; k++)
                    if (cols[(size_t)c * stride + k] > bv) {
                        bv = cols[(size_t)c * stride + k];
                        best = k;
                    }
            }
            if (best != cur) {
                if (cur >= 0)
                    jb_printf(b, "<rect class=\"r c%d\" x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>", cur,
                        m->left + start, y + lh * 0.1, c - start, lh * 0.8);
                cur = best;
                start = c;
            }
        }
        /* failure strips: columns where any is present */
        for (int which = C + 1; which <= C + 1; which++) {
            start = -1;
            for (int c = 0; c <= W; c++) {
                bool on = c < W && cols[(size_t)c * stride + which] > 0;
                if (on && start < 0)
                    start = c;
                if (!on && start >= 0) {
                    jb_printf(b, "<rect class=\"fm\" x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>",
                            m->left + start, y, c - start, lh * 0.12 > 1 ? lh * 0.12 : 1);
                    start = -1;
                }
            }
        }
    }
    free(g);
}

/* Waiting tasks are not on any CPU yet: instead of a bar in the lane they
 * will get, the node's number of waiting tasks over time (mean per column
 * pair) in one strip above the lanes. */
static void wait_strip(struct jbuf *b, const struct report *r, size_t ni, const struct xmap *m)
{
    int nb = m->width / 2 > 0 ? m->width / 2 : 1;
    double *v = xcalloc((size_t)nb + 1, sizeof *v), bin = 2 / m->scale, vmax = 0;
    size_t waiting = 0;
    for (size_t i = 0; i < r->ntasks; i++) {
        const struct rp_task *t = &r->tasks[i];
        if (t->node != ni || !t->has_enq || !t->has_start || t->enq >= t->start)
            continue;
        waiting++;
        double a = (xof(m, t->enq) - m->left) / 2, e = (xof(m, t->start) - m->left) / 2;
        for (int k = a < 0 ? 0 : (int)a; k < nb && k < e; k++)
            v[k] += fmin(e, k + 1) - fmax(a, k);
    }
    double y0 = 24, hgt = WAIT_H - 6;
    if (!waiting) {   /* nothing ever waited (an OpenDC workload as submitted): an empty strip */
        free(v);
        return;
    }
    jb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">waiting</text>", GANTT_LEFT - 6,
        y0 + hgt * 0.75);
    for (int k = 0; k < nb; k++)
        vmax = fmax(vmax, v[k]);
    if (waiting && vmax > 0) {
        jb_printf(b, "<polygon class=\"wq\" data-waiting=\"%zu\" points=\"%.1f,%.1f", waiting, m->left,
            y0 + hgt);
        for (int k = 0; k < nb; k++) {
            double y = y0 + hgt - v[k] / vmax * hgt;
            jb_printf(b, " %.1f,%.1f %.1f,%.1f", m->left + 2.0 * k, y, m->left + 2.0 * (k + 1), y);
        }
        jb_printf(b, " %.1f,%.1f\"><title>tasks waiting (enqueued, not started): at most %.3g at "
            "once (mean per %.3g ms)</title></polygon>", m->left + 2.0 * nb, y0 + hgt, vmax, bin);
        jb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">at most %.3g waiting</text>",
            m->left + m->width - 4, y0 + 9, vmax);
    }
    jb_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", GANTT_LEFT,
        y0 + hgt, m->left + m->width, y0 + hgt);
    free(v);
}

/* "2026-12-02 13:15:36.718 UTC" for epoch ms. */
static void wall(struct jbuf *b, int64_t ms)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    char buf[64];
    if (ms <= 0 || !gmtime_r(&sec, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm)) {
        lit(b, "&ndash;");
        return;
    }
    jb_printf(b, "%s.%03d UTC", buf, (int)(ms % 1000));
}

void report_gantt_svg(const struct report *r, size_t ni, int64_t t0, int64_t t1, struct jbuf *b)
{
    const struct rp_node *n = &r->nodes[ni];
    size_t nrows = gantt_rows(n->nlanes);
    double lh = lane_height(nrows);
    struct xmap m = xmap_make(t0, t1, GANTT_LEFT, r->width);
    double h = GANTT_TOP + (double)nrows * lh + 24;
    bool binned = n->ntasks > r->exact_max;
    jb_printf(b, "<svg class=\"gantt\" data-node=\"");
    report_html_escape(b, n->name);
    jb_printf(b, "\" data-mode=\"%s\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
           "xmlns=\"http://www.w3.org/2000/svg\">",
        binned ? "binned" : "exact", GANTT_LEFT + r->width + 30, h, GANTT_LEFT + r->width + 30, h);
    jb_printf(b, "<text class=\"hd\" x=\"4\" y=\"14\">");
    report_html_escape(b, n->name);
    jb_printf(b, " &middot; %zu task(s), %zu lane(s)%s%s &middot; 0 = ", n->ntasks, n->nlanes,
        nrows < n->nlanes ? " folded onto fewer rows" : "", binned ? " &middot; aggregated per pixel column" : "");
    wall(b, t0);
    lit(b, "</text>");
    wait_strip(b, r, ni, &m);
    for (size_t l = 0; l < nrows; l++) {
        double y = GANTT_TOP + (double)l * lh;
        if (l % 2)
            jb_printf(b, "<rect class=\"band\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>", GANTT_LEFT, y,
                r->width, lh);
        lane_label(b, n, l, y, lh);
    }
    lit(b, "<g class=\"tasks\">");
    if (binned)
        gantt_binned(b, r, ni, &m, lh);
    else
        gantt_exact(b, r, ni, &m, lh);
    lit(b, "</g>");
    time_axis(b, &m, GANTT_TOP + (double)nrows * lh + 2);
    lit(b, "</svg>");
}

/* ---- utilisation ---- */

#define UTIL_H 150
#define UTIL_TOP 22

static double yof_pct(double v)
{
    if (v < 0)
        v = 0;
    if (v > 100)
        v = 100;
    return UTIL_TOP + UTIL_H * (1 - v / 100);
}

/* Host series as a polyline, averaged per pixel column when dense. */
static void host_line(struct jbuf *b, const struct rp_node *n, const struct xmap *m, bool mem, const char *cls)
{
    bool any = false;
    int lastcol = INT32_MIN;
    double sum = 0;
    int cnt = 0;
    for (size_t i = 0; i <= n->nhost; i++) {
        int col = INT32_MAX;
        double v = NAN;
        if (i < n->nhost) {
            v = mem ? n->host[i].mem_pct : n->host[i].cpu_pct;
            if (isnan(v))
                continue;
            col = (int)floor(xof(m, n->host[i].ts));
        }
        if (col != lastcol && cnt) {
            if (!any)
                jb_printf(b, "<polyline class=\"%s\" points=\"", cls);
            any = true;
            jb_printf(b, "%d,%.1f ", lastcol, yof_pct(sum / cnt));
            sum = 0;
            cnt = 0;
        }
        lastcol = col;
        if (i < n->nhost) {
            sum += v;
            cnt++;
        }
    }
    if (any)
        lit(b, "\"/>");
}

/* Sum of the sampled processes' CPU as a share of the node, in bins. */
size_t report_proc_bins(const struct rp_node *n, int64_t t0, int64_t t1, int width, double **out_pct,
                        double *bin_ms_out)
{
    double span = dms(t1, t0);
    /* bins no finer than the sampling interval, else every tick shows as a spike */
    double *dts = xmalloc((n->nsamples + 1) * sizeof *dts);
    size_t nd = 0;
    for (size_t i = 0; i < n->nsamples; i++)
        if (n->samples[i].dt_ms > 0)
            dts[nd++] = n->samples[i].dt_ms;
    double interval = nd ? stats_quantile_select(dts, nd, 0.5) : 0;
    free(dts);
    double bin = span / (width / 2.0);
    if (bin < interval)
        bin = interval;
    if (bin <= 0)
        bin = 1;
    size_t nb = (size_t)ceil(span / bin) + 1;
    double *cpu = xcalloc(nb, sizeof *cpu);
    for (size_t i = 0; i < n->nsamples; i++) {
        const struct rp_sample *s = &n->samples[i];
        if (!(s->dt_ms > 0) || !(s->cpu_ms > 0))
            continue;
        double a = (dms(s->ts, t0) - s->dt_ms) / bin, e = dms(s->ts, t0) / bin;
        if (a < 0)
            a = 0;
        if (a >= (double)nb)
            continue;
        double per = s->cpu_ms / (e - a > 0 ? e - a : 1);
        for (size_t k = (size_t)a; k < nb && (double)k < e; k++) {
            double lo = a > (double)k ? a : (double)k, hi = e < (double)(k + 1) ? e : (double)(k + 1);
            if (hi > lo)
                cpu[k] += per * (hi - lo);
        }
    }
    double cores = n->cores > 0 ? n->cores : 1;
    for (size_t k = 0; k < nb; k++)
        cpu[k] = cpu[k] / bin / cores * 100;
    *out_pct = cpu;
    *bin_ms_out = bin;
    return nb;
}

/* A binned series as a filled step area: bin k covers [t0 + k bin, t0 +
 * (k+1) bin) ms, clipped to the plot; y from top (ymax) to top + h (0). */
static void bins_polygon(struct jbuf *b, const struct xmap *m, double t0, double bin, const double *v, size_t nb,
                         double top, double h, double ymax, const char *cls)
{
#define YOF(x) (top + h * (1 - ((x) < 0 ? 0 : (x) > ymax ? 1 : (x) / ymax)))
    jb_printf(b, "<polygon class=\"%s\" points=\"%.1f,%.1f ", cls, m->left, YOF(0.0));
    for (size_t k = 0; k < nb; k++) {
        double xa = xofd(m, t0) + (double)k * bin * m->scale, xb = xa + bin * m->scale;
        if (xa > m->left + m->width)
            break;
        if (xb > m->left + m->width)
            xb = m->left + m->width;
        jb_printf(b, "%.1f,%.1f %.1f,%.1f ", xa, YOF(v[k]), xb, YOF(v[k]));
        if (k + 1 == nb || xb >= m->left + m->width)
            jb_printf(b, "%.1f,%.1f", xb, YOF(0.0));
    }
    lit(b, "\"/>");
#undef YOF
}

void report_series_svg(struct jbuf *b, int width, const struct rp_series *s)
{
    struct xmap m = xmap_make(s->t0, s->t1 > s->t0 ? s->t1 : s->t0 + 1, GANTT_LEFT, width);
    double ymax = s->ymax;
    if (!(ymax > 0)) {
        for (size_t k = 0; k < s->nb; k++)
            if (s->v[k] > ymax)
                ymax = s->v[k];
        if (!isnan(s->limit) && s->limit > ymax)
            ymax = s->limit;
        ymax *= 1.05;
    }
    if (!(ymax > 0))
        ymax = 1;
    double step = nice_step(ymax, 4);
    ymax = ceil(ymax / step - 1e-9) * step;
    int H = UTIL_TOP + UTIL_H + 24;
    jb_printf(b, "<svg class=\"%s\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
           "xmlns=\"http://www.w3.org/2000/svg\"><text class=\"hd\" x=\"4\" y=\"14\">",
        s->cls, GANTT_LEFT + width + 30, H, GANTT_LEFT + width + 30, H);
    report_html_escape(b, s->title);
    lit(b, "</text>");
    for (double v = 0; v <= ymax * (1 + 1e-9); v += step) {
        double y = UTIL_TOP + UTIL_H * (1 - v / ymax);
        jb_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", GANTT_LEFT, y,
            GANTT_LEFT + width, y);
        jb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", GANTT_LEFT - 6, y + 4);
        unit_value(b, v, s->unit);
        lit(b, "</text>");
    }
    if (s->nb)
        bins_polygon(b, &m, s->t0, s->bin_ms, s->v, s->nb, UTIL_TOP, UTIL_H, ymax, "ps");
    if (!isnan(s->limit) && s->limit > 0) {
        double y = UTIL_TOP + UTIL_H * (1 - s->limit / ymax);
        jb_printf(b, "<line class=\"cap\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", GANTT_LEFT, y,
            GANTT_LEFT + width, y);
    }
    time_axis(b, &m, UTIL_TOP + UTIL_H + 2);
    lit(b, "</svg>");
}

void report_util_svg(const struct report *r, size_t ni, int64_t t0, int64_t t1, struct jbuf *b)
{
    const struct rp_node *n = &r->nodes[ni];
    struct xmap m = xmap_make(t0, t1, GANTT_LEFT, r->width);
    int H = UTIL_TOP + UTIL_H + 24;
    jb_printf(b, "<svg class=\"util\" data-node=\"");
    report_html_escape(b, n->name);
    jb_printf(b, "\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">",
        GANTT_LEFT + r->width + 30, H, GANTT_LEFT + r->width + 30, H);
    jb_printf(b, "<text class=\"hd\" x=\"4\" y=\"14\">");
    report_html_escape(b, n->name);
    if (n->cores)
        jb_printf(b, " &middot; %d core(s)", n->cores);
    else
        lit(b, " &middot; cores unknown: process CPU shown in % of one core");
    lit(b, "</text>");
    for (int v = 0; v <= 100; v += 25) {
        jb_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", GANTT_LEFT, yof_pct(v),
            GANTT_LEFT + r->width, yof_pct(v));
        jb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>", GANTT_LEFT - 6, yof_pct(v) + 4, v);
    }
    if (n->nsamples) {
        double *p, bin;
        size_t nb = report_proc_bins(n, t0, t1, r->width, &p, &bin);
        bins_polygon(b, &m, (double)t0, bin, p, nb, UTIL_TOP, UTIL_H, 100, "ps");
        free(p);
    }
    host_line(b, n, &m, false, "hc");
    host_line(b, n, &m, true, "hm");
    time_axis(b, &m, UTIL_TOP + UTIL_H + 2);
    lit(b, "</svg>");
}

/* ---- per-task CPU curves ---- */

/* The samples of one task: [*lo, *hi) in the node's sorted samples, and
 * whether each one matches (time window when there are no start ticks). */
static void task_samples(const struct rp_node *n, const struct rp_task *t, size_t *lo, size_t *hi)
{
    struct rp_sample key = {.pid = t->pid, .has_st = t->has_st, .start_ticks = t->start_ticks, .ts = INT64_MIN};
    size_t a = 0, z = n->nsamples;
    while (a < z) {
        size_t mid = (a + z) / 2;
        if (cmp_sample(&n->samples[mid], &key) < 0)
            a = mid + 1;
        else
            z = mid;
    }
    size_t e = a;
    while (e < n->nsamples && n->samples[e].pid == t->pid && n->samples[e].has_st == t->has_st &&
           (!t->has_st || n->samples[e].start_ticks == t->start_ticks))
        e++;
    *lo = a;
    *hi = e;
}

/* Without start ticks only the task's own window (plus a tick) counts. */
static bool sample_in_task(const struct rp_sample *s, const struct rp_task *t)
{
    if (t->has_st)
        return true;
    return s->ts >= t->start && (double)s->ts <= (double)t->end + (s->dt_ms > 0 ? s->dt_ms : 1000);
}

static size_t curve_points(const struct rp_node *n, const struct rp_task *t, size_t *lo, size_t *hi,
                           double *vmax)
{
    size_t cnt = 0;
    *vmax = 0;
    if (!t->has_pid || !drawable(t))
        return 0;
    task_samples(n, t, lo, hi);
    for (size_t i = *lo; i < *hi; i++) {
        const struct rp_sample *s = &n->samples[i];
        if (!(s->dt_ms > 0) || !sample_in_task(s, t))
            continue;
        double v = s->cpu_ms / s->dt_ms;
        if (v > *vmax)
            *vmax = v;
        cnt++;
    }
    return cnt;
}

void report_curves_html(const struct report *r, struct jbuf *b)
{
    size_t *pick = xmalloc((r->curves_max + 1) * sizeof *pick), np = 0, with = 0;
    size_t lo, hi;
    double vmax;
    for (size_t i = 0; i < r->ntasks; i++) {
        const struct rp_task *t = &r->tasks[i];
        if (!curve_points(&r->nodes[t->node], t, &lo, &hi, &vmax))
            continue;
        with++;
        if (np < r->curves_max)
            pick[np++] = i;
    }
    if (!np) {
        lit(b, "<p class=\"note\">No task has process samples: nothing to draw.</p>");
        free(pick);
        return;
    }
    if (with > np)
        jb_printf(b, "<p class=\"note\">The first %zu of %zu sampled tasks are offered.</p>", np, with);
    else
        jb_printf(b, "<p class=\"note\">%zu sampled task(s).</p>", np);
    lit(b, "<label>Task <select id=\"tsel\">");
    for (size_t k = 0; k < np; k++) {
        const struct rp_task *t = &r->tasks[pick[k]];
        jb_printf(b, "<option value=\"%zu\">", k);
        report_html_escape(b, t->trace_id ? t->trace_id : "(no trace_id)");
        lit(b, " &middot; ");
        report_html_escape(b, r->apps[t->app]);
        lit(b, " &middot; ");
        report_html_escape(b, r->nodes[t->node].name);
        jb_printf(b, " &middot; pid %lld</option>", (long long)t->pid);
    }
    lit(b, "</select></label>");
    report_curve_svg_open(b, r->width);
    struct rp_step *st = NULL;
    size_t cap = 0;
    for (size_t k = 0; k < np; k++) {
        const struct rp_task *t = &r->tasks[pick[k]];
        const struct rp_node *n = &r->nodes[t->node];
        curve_points(n, t, &lo, &hi, &vmax);
        /* the window covers the samples that overlap the task */
        struct rp_curve c = {.cls = "tc", .k = k, .w0 = (double)t->start, .w1 = (double)t->end,
                             .run0 = (double)t->start, .run1 = (double)t->end,
                             .ymax = ceil(vmax > 1 ? vmax : 1), .unit = RP_CORES, .limit = NAN};
        size_t ns = 0;
        for (size_t i = lo; i < hi; i++) {
            const struct rp_sample *s = &n->samples[i];
            if (!(s->dt_ms > 0) || !sample_in_task(s, t))
                continue;
            if ((double)s->ts - s->dt_ms < c.w0)
                c.w0 = (double)s->ts - s->dt_ms;
            if ((double)s->ts > c.w1)
                c.w1 = (double)s->ts;
            GROW(st, ns, cap);
            st[ns++] = (struct rp_step){(double)s->ts - s->dt_ms, (double)s->ts, s->cpu_ms / s->dt_ms};
        }
        report_curve_group(b, r->width, &c, st, ns);
    }
    free(st);
    lit(b, "</svg>");
    free(pick);
}

/* ---- every task's CPU at once: a heat map ---- */

#define HEAT_ROWS_MAX 400     /* more tasks share rows (the mean of theirs) */
#define HEAT_SHADES 7

static const char *const heat_shade[HEAT_SHADES] = {
    "#fde9c9", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#990000",
};

static int cmp_task_node_start(const void *pa, const void *pb)
{
    const struct rp_task *a = *(const struct rp_task *const *)pa, *b = *(const struct rp_task *const *)pb;
    if (a->node != b->node)
        return a->node < b->node ? -1 : 1;
    return a->start < b->start ? -1 : a->start > b->start;
}

/* The cores task t used in each of nb bins of bin ms from t0, added to v
 * (scaled by w).  Returns whether it had a sample. */
static bool heat_task(const struct report *r, const struct rp_task *t, double t0, double bin, int nb,
                      double *v, double w)
{
    const struct rp_node *n = &r->nodes[t->node];
    size_t lo, hi;
    double vmax;
    if (!curve_points(n, t, &lo, &hi, &vmax))
        return false;
    for (size_t i = lo; i < hi; i++) {
        const struct rp_sample *sm = &n->samples[i];
        if (!(sm->dt_ms > 0) || !sample_in_task(sm, t))
            continue;
        double a = ((double)sm->ts - sm->dt_ms - t0) / bin, e = ((double)sm->ts - t0) / bin;
        double rate = sm->cpu_ms / sm->dt_ms;   /* cores */
        for (int k = a < 0 ? 0 : (int)a; k < nb && k < e; k++)
            v[k] += w * rate * (fmin(e, k + 1) - fmax(a, k));
    }
    return true;
}

static void heat_legend(struct jbuf *b, double vmax)
{
    lit(b, "<p class=\"note\">cores used:");
    for (int k = 0; k < HEAT_SHADES; k++) {
        jb_printf(b, "<span class=\"key\" style=\"background:%s\"></span>", heat_shade[k]);
        unit_value(b, vmax * (k + 1) / HEAT_SHADES, RP_CORES);
    }
    lit(b, "<span class=\"key\" style=\"background:#f4f4f4\"></span>running, no CPU sampled</p>");
}

void report_heatmap_svg(const struct report *r, int64_t t0, int64_t t1, struct jbuf *b)
{
    const struct rp_task **tv = xmalloc((r->ntasks + 1) * sizeof *tv);
    size_t nt = 0;
    for (size_t i = 0; i < r->ntasks; i++)
        if (drawable(&r->tasks[i]))
            tv[nt++] = &r->tasks[i];
    if (!nt) {
        lit(b, "<p class=\"note\">No task with a start and an end: nothing to draw.</p>");
        free(tv);
        return;
    }
    qsort(tv, nt, sizeof *tv, cmp_task_node_start);
    size_t rows = nt > HEAT_ROWS_MAX ? HEAT_ROWS_MAX : nt;
    int nb = r->width / 3;
    double bin = (double)(t1 > t0 ? t1 - t0 : 1) / nb;
    double *v = xcalloc(rows * (size_t)nb, sizeof *v), vmax = 0;
    size_t sampled = 0;
    for (size_t i = 0; i < nt; i++) {
        size_t row = i * rows / nt, first = (row * nt + rows - 1) / rows,
               last = ((row + 1) * nt + rows - 1) / rows;
        sampled += heat_task(r, tv[i], (double)t0, bin, nb, v + row * nb, 1.0 / (double)(last - first));
    }
    for (size_t k = 0; k < rows * (size_t)nb; k++)
        vmax = fmax(vmax, v[k]);
    vmax = vmax > 0 ? vmax : 1;
    double rh = 600.0 / (double)rows;
    rh = rh > 14 ? 14 : rh < 1.5 ? 1.5 : rh;
    struct xmap m = xmap_make((double)t0, (double)t1, GANTT_LEFT, r->width);
    double h = 24 + (double)rows * rh + 24;
    jb_printf(b, "<p class=\"note\">%zu task(s), %zu with process samples, one row each%s, sorted "
        "by node and start; darker = more cores; the grey is the task's run.</p>", nt, sampled,
        rows < nt ? " (several per row, their mean)" : "");
    heat_legend(b, vmax);
    jb_printf(b, "<svg class=\"heat\" data-rows=\"%zu\" width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
        "xmlns=\"http://www.w3.org/2000/svg\"><text class=\"hd\" x=\"4\" y=\"14\">CPU of every task "
        "&middot; 0 = ", rows, GANTT_LEFT + r->width + 30, h, GANTT_LEFT + r->width + 30, h);
    wall(b, t0);
    lit(b, "</text>");
    for (size_t i = 0; i < nt;) {   /* a row's run: its tasks' first start to last end */
        size_t row = i * rows / nt, e = i;
        int64_t a = tv[i]->start, z = tv[i]->end;
        for (; e < nt && e * rows / nt == row; e++) {
            a = tv[e]->start < a ? tv[e]->start : a;
            z = tv[e]->end > z ? tv[e]->end : z;
        }
        double y = 24 + (double)row * rh, x0 = xof(&m, a), x1 = xof(&m, z);
        jb_printf(b, "<rect class=\"hm0\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.2f\"/>", x0,
            y, x1 - x0 < 0.5 ? 0.5 : x1 - x0, rh * 0.9);
        if (rh >= 9 && rows == nt) {
            jb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", GANTT_LEFT - 6, y + rh * 0.75);
            report_html_escape(b, r->apps[tv[i]->app]);
            lit(b, "</text>");
        }
        i = e;
    }
    for (size_t row = 0; row < rows; row++) {
        double y = 24 + (double)row * rh;
        for (int k = 0; k < nb;) {
            double x = v[row * nb + k];
            int shade = x > 0 ? (int)ceil(x / vmax * HEAT_SHADES) - 1 : -1, e = k + 1;
            shade = shade >= HEAT_SHADES ? HEAT_SHADES - 1 : shade;
            while (e < nb && shade >= 0) {   /* merge equal neighbours */
                double y2 = v[row * nb + e];
                int s2 = y2 > 0 ? (int)ceil(y2 / vmax * HEAT_SHADES) - 1 : -1;
                if ((s2 >= HEAT_SHADES ? HEAT_SHADES - 1 : s2) != shade)
                    break;
                e++;
            }
            if (shade >= 0)
                jb_printf(b, "<rect class=\"hx\" fill=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.2f\"/>", heat_shade[shade], m.left + k * bin * m.scale, y,
                    (e - k) * bin * m.scale, rh * 0.9);
            k = e;
        }
    }
    time_axis(b, &m, 24 + (double)rows * rh + 2);
    lit(b, "</svg>");
    free(v);
    free(tv);
}

#define CURVE_H 160
#define CURVE_TOP 12

void report_curve_svg_open(struct jbuf *b, int width)
{
    int w = GANTT_LEFT + width + 30, h = CURVE_TOP + CURVE_H + 24;
    jb_printf(b, "<svg class=\"curve\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
           "xmlns=\"http://www.w3.org/2000/svg\">", w, h, w, h);
}

void report_curve_group(struct jbuf *b, int width, const struct rp_curve *c, const struct rp_step *s, size_t n)
{
    int W = width, H = CURVE_H, top = CURVE_TOP;
    struct xmap m = xmap_make(c->w0, c->w1 > c->w0 ? c->w1 : c->w0 + 1, GANTT_LEFT, W);
    double ymax = c->ymax > 0 ? c->ymax : 1;
    jb_printf(b, "<g class=\"%s\" id=\"%s-%zu\"%s>", c->cls, c->cls, c->k, c->k ? " style=\"display:none\"" : "");
    for (int g = 0; g <= 4; g++) {
        double v = ymax * g / 4, y = top + H * (1 - v / ymax);
        jb_printf(b, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", GANTT_LEFT, y,
            GANTT_LEFT + W, y);
        jb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", GANTT_LEFT - 6, y + 4);
        unit_value(b, v, c->unit);
        lit(b, "</text>");
    }
    double xs = xofd(&m, c->run0), xe = xofd(&m, c->run1);
    jb_printf(b, "<rect class=\"run\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>", xs, top,
        xe - xs > 0.5 ? xe - xs : 0.5, H);
    if (!isnan(c->limit) && c->limit > 0 && c->limit <= ymax) {
        double y = top + H * (1 - c->limit / ymax);
        jb_printf(b, "<line class=\"cap\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", GANTT_LEFT, y,
            GANTT_LEFT + W, y);
    }
    lit(b, "<polyline class=\"cv\" points=\"");
    for (size_t i = 0; i < n; i++) {
        double v = s[i].v < 0 ? 0 : s[i].v > ymax ? ymax : s[i].v;
        double y = top + H * (1 - v / ymax);
        jb_printf(b, "%.1f,%.1f %.1f,%.1f ", xofd(&m, s[i].t0), y, xofd(&m, s[i].t1), y);
    }
    lit(b, "\"/>");
    time_axis(b, &m, top + H + 2);
    lit(b, "</g>");
}

/* ---- the page ---- */

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;background:#fff}"
    "h1{font-size:20px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
    "table{border-collapse:collapse;margin:6px 0 12px}td,th{border:1px solid #ddd;padding:3px 8px;"
    "text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}"
    ".note{color:#666;font-size:13px}.warn{color:#a33}table.kv th,table.kv td{text-align:left}"
    "svg{display:block;margin:6px 0 14px;width:100%;height:auto}"
    ".wq{fill:#b9b9b9;stroke:#999;stroke-width:.5}.hm0{fill:#f4f4f4}"
    "@media print{body{margin:0}svg{break-inside:avoid}h2{break-after:avoid}}"
    "svg text{font:11px sans-serif;fill:#444}svg .hd{font-weight:bold;fill:#222}"
    ".ax line{stroke:#888}.grid{stroke:#eee}.band{fill:#f7f7f7}"
    ".w{fill:#c8c8c8}.f{stroke:#d00;stroke-width:1.5}.fm{fill:#d00}"
    ".hc{fill:none;stroke:#1f4e9c;stroke-width:1.5}.hm{fill:none;stroke:#2a9d3a;stroke-width:1.5}"
    ".ps{fill:#f28e2b;fill-opacity:.45;stroke:none}.cv{fill:none;stroke:#d4561c;stroke-width:1.5}"
    ".cap{stroke:#d00;stroke-width:1.5;stroke-dasharray:6 4}.run{fill:#eef3fa}.key{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
    "vertical-align:-1px}";

/* Toggles the pre-rendered curve groups of each selector (select#tsel
 * shows g.tc, select#osel g.oc); nothing else runs. */
static const char script[] =
    "(function(){function bind(sel,cls){var s=document.getElementById(sel);if(!s)return;"
    "s.addEventListener('change',function(){var g=document.querySelectorAll('g.'+cls);"
    "for(var i=0;i<g.length;i++)g[i].style.display=(g[i].id===cls+'-'+s.value)?'':'none';});}"
    "bind('tsel','tc');bind('osel','oc');})();";

static const json_t *jpath(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    return b ? json_object_get(v, b) : v;
}

/* A number from audit.json: ms, share (x100 %), or count. */
static void jcell(struct jbuf *b, const json_t *v, char kind)
{
    lit(b, "<td>");
    if (!json_is_number(v)) {
        lit(b, "&ndash;");
    } else if (kind == '%') {
        pct(b, json_number_value(v) * 100);
    } else if (kind == 'p') {
        pct(b, json_number_value(v));
    } else if (kind == 'm') {
        jb_printf(b, "%.3g ms", json_number_value(v));
    } else {
        jb_printf(b, "%.0f", json_number_value(v));
    }
    lit(b, "</td>");
}

static void task_list(struct jbuf *b, const json_t *arr, const char *what)
{
    size_t n = json_array_size(arr);
    if (!n)
        return;
    jb_printf(b, "<p>%s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 20; i++) {
        const json_t *t = json_array_get(arr, i);
        lit(b, i ? ", " : " ");
        const char *id = json_string_value(json_object_get(t, "trace_id"));
        report_html_escape(b, id ? id : "(no trace_id)");
        const json_t *st = json_object_get(t, "status"), *sg = json_object_get(t, "signal");
        if (json_is_integer(sg))
            jb_printf(b, " (signal %lld)", (long long)json_integer_value(sg));
        else if (json_is_integer(st) && json_integer_value(st))
            jb_printf(b, " (status %lld)", (long long)json_integer_value(st));
    }
    if (n > 20)
        jb_printf(b, ", &hellip; %zu more", n - 20);
    lit(b, "</p>");
}

/* Wait for a CPU (#14's run delay), per task: the worst ten of a node. */
static int cmp_wait_desc(const void *pa, const void *pb)
{
    double a = json_number_value(json_object_get(*(json_t *const *)pa, "wait_pct"));
    double b = json_number_value(json_object_get(*(json_t *const *)pb, "wait_pct"));
    return a < b ? 1 : a > b ? -1 : 0;
}

static void wait_list(struct jbuf *b, const json_t *tasks)
{
    size_t n = json_array_size(tasks), k = 0;
    json_t **v = xmalloc((n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        if (json_is_number(json_object_get(json_array_get(tasks, i), "wait_pct")))
            v[k++] = json_array_get(tasks, i);
    qsort(v, k, sizeof *v, cmp_wait_desc);
    if (k)
        jb_printf(b, "<p>Waiting for a CPU (run delay), the %s%zu of %zu task(s) with a figure:",
                  k > 10 ? "worst 10 " : "", k > 10 ? (size_t)10 : k, k);
    for (size_t i = 0; i < k && i < 10; i++) {
        const char *id = json_string_value(json_object_get(v[i], "trace_id"));
        lit(b, i ? "; " : " ");
        report_html_escape(b, id ? id : "(no trace_id)");
        jb_printf(b, " waited for a CPU %.1f%% of the time it was runnable",
                  json_number_value(json_object_get(v[i], "wait_pct")));
        const json_t *d = json_object_get(v[i], "run_delay_ms");
        if (json_is_number(d)) {
            lit(b, " (");
            report_dur(b, json_number_value(d));
            lit(b, ")");
        }
    }
    if (k)
        lit(b, "</p>");
    free(v);
}

/* #14's node-level figures: the host CPU traced processes explain (a
 * warning below 80%), and which exit readings were used. */
static void audit_host_notes(struct jbuf *b, const char *node, const json_t *a)
{
    const json_t *hc = json_object_get(a, "host_cpu");
    const json_t *ex = json_object_get(json_object_get(a, "exits"), "exit_source");
    double x = json_number_value(json_object_get(hc, "explained_pct"));
    bool warn = json_is_true(json_object_get(hc, "warning")) ||
                (json_is_number(json_object_get(hc, "explained_pct")) && x < 80);
    if (warn) {
        lit(b, "<p class=\"warn\">WARNING ");
        report_html_escape(b, node);
        jb_printf(b, ": traced CPU explains only %.1f%% of the host's busy CPU. Untraced load shared "
                  "the cores: the CPU the tasks received understates what they asked for (see "
                  "<code>tracekit export opendc --cpu-usage demand</code>).</p>", x);
    }
    if (json_is_string(ex) && !strcmp(json_string_value(ex), "proc")) {
        lit(b, "<p class=\"note\">");
        report_html_escape(b, node);
        lit(b, ": exit readings from /proc (final readings race the parent's reap; processes "
               "shorter than one interval may be missing).</p>");
    }
}

static void audit_section(const struct report *r, struct jbuf *b)
{
    lit(b, "<h2>Audit</h2><table><tr><th>node</th><th>tasks</th><th>sampled</th><th>unsampled</th>"
           "<th>coverage min</th><th>coverage p50</th><th>jitter p50</th><th>jitter p99</th>"
           "<th>jitter max</th><th>CPU error p50</th><th>CPU error max</th><th>failed</th>"
           "<th>host CPU explained</th><th>wait for CPU p50</th><th>wait for CPU max</th>"
           "<th>exit readings</th></tr>");
    for (size_t i = 0; i < r->nnodes; i++) {
        const json_t *a = r->nodes[i].audit;
        lit(b, "<tr><td>");
        report_html_escape(b, r->nodes[i].name);
        lit(b, "</td>");
        if (!a) {
            lit(b, r->nodes[i].orig_audit ? "<td colspan=\"15\">no audit.json (parsed by the original: its "
                                            "audit_report.md below"
                                          : "<td colspan=\"15\">no audit.json");
            lit(b, r->nodes[i].has_raw ? "; re-parse the raw files with <code>tracekit parse</code> for "
                                         "ours)</td></tr>"
                                       : r->nodes[i].orig_audit ? ")</td></tr>" : "</td></tr>");
            continue;
        }
        jcell(b, jpath(a, "coverage", "tasks"), 'n');
        jcell(b, jpath(a, "coverage", "sampled"), 'n');
        jcell(b, jpath(a, "coverage", "unsampled"), 'n');
        jcell(b, jpath(a, "coverage", "min"), '%');
        jcell(b, jpath(a, "coverage", "p50"), '%');
        jcell(b, jpath(a, "jitter", "p50_ms"), 'm');
        jcell(b, jpath(a, "jitter", "p99_ms"), 'm');
        jcell(b, jpath(a, "jitter", "max_ms"), 'm');
        jcell(b, jpath(a, "cpu_error", "abs_p50"), '%');
        jcell(b, jpath(a, "cpu_error", "abs_max"), '%');
        jb_printf(b, "<td>%zu</td>", json_array_size(json_object_get(a, "failed_tasks")));
        jcell(b, jpath(a, "host_cpu", "explained_pct"), 'p');
        jcell(b, jpath(a, "run_delay", "wait_pct_p50"), 'p');
        jcell(b, jpath(a, "run_delay", "wait_pct_max"), 'p');
        const char *src = json_string_value(jpath(a, "exits", "exit_source"));
        lit(b, "<td>");
        report_html_escape(b, src ? src : "\xe2\x80\x93");
        lit(b, "</td></tr>");
    }
    lit(b, "</table>");
    for (size_t i = 0; i < r->nnodes; i++) {
        if (r->nodes[i].audit || !r->nodes[i].orig_audit)
            continue;
        lit(b, "<details><summary>");
        report_html_escape(b, r->nodes[i].name);
        lit(b, ": the original parse's audit_report.md</summary><pre>");
        report_html_escape(b, r->nodes[i].orig_audit);
        lit(b, "</pre></details>");
    }
    for (size_t i = 0; i < r->nnodes; i++)
        if (r->nodes[i].audit)
            audit_host_notes(b, r->nodes[i].name, r->nodes[i].audit);
    for (size_t i = 0; i < r->nnodes; i++) {
        const json_t *a = r->nodes[i].audit;
        size_t nu = json_array_size(json_object_get(a, "unsampled_tasks"));
        size_t nf = json_array_size(json_object_get(a, "failed_tasks"));
        bool waits = json_is_number(jpath(a, "run_delay", "wait_pct_max"));
        if (!nu && !nf && !waits)
            continue;
        lit(b, "<h3>");
        report_html_escape(b, r->nodes[i].name);
        lit(b, "</h3>");
        task_list(b, json_object_get(a, "unsampled_tasks"), "Tasks without samples");
        task_list(b, json_object_get(a, "failed_tasks"), "Failed tasks");
        wait_list(b, json_object_get(a, "tasks"));
    }
}

static void stats_row(struct jbuf *b, const char *name, const struct rp_stats *s, int col)
{
    lit(b, "<tr><td>");
    if (col >= 0)
        jb_printf(b, "<span class=\"key\" style=\"background:%s\"></span>", palette[col]);
    report_html_escape(b, name);
    jb_printf(b, "</td><td>%zu</td><td>%zu</td><td>%zu</td><td>", s->tasks, s->ok, s->failed);
    report_dur(b, s->wait_mean);
    lit(b, "</td><td>");
    report_dur(b, s->wait_p95);
    lit(b, "</td><td>");
    report_dur(b, s->run_mean);
    lit(b, "</td><td>");
    report_dur(b, s->run_p95);
    lit(b, "</td></tr>");
}

static void summary_section(const struct report *r, struct jbuf *b)
{
    struct rp_stats all;
    report_stats(r, (size_t)-1, &all);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < r->ntasks; i++) {
        const struct rp_task *t = &r->tasks[i];
        int64_t a = t->has_enq && (!t->has_start || t->enq <= t->start) ? t->enq : t->start;
        if ((t->has_enq || t->has_start) && a < lo)
            lo = a;
        if (t->has_end && t->end > hi)
            hi = t->end;
    }
    lit(b, "<h2>Summary</h2><p>Makespan (first enqueue to last end): <b>");
    report_dur(b, hi >= lo ? dms(hi, lo) : NAN);
    jb_printf(b, "</b> &middot; %zu node(s) &middot; %zu task(s): %zu ok, %zu failed</p>", r->nnodes, all.tasks,
        all.ok, all.failed);
    if (hi >= lo) {
        lit(b, "<p>From ");
        wall(b, lo);
        lit(b, " to ");
        wall(b, hi);
        lit(b, "</p>");
    }
    lit(b, "<table><tr><th>app</th><th>tasks</th><th>ok</th><th>failed</th><th>wait mean</th>"
           "<th>wait p95</th><th>run mean</th><th>run p95</th></tr>");
    for (size_t a = 0; a < r->napps; a++) {
        struct rp_stats s;
        report_stats(r, a, &s);
        stats_row(b, r->apps[a], &s, colour(a));
    }
    stats_row(b, "all", &all, -1);
    lit(b, "</table><p class=\"note\">wait = ts_start &minus; ts_enqueue.</p>");

    lit(b, "<table><tr><th>node</th><th>cores</th><th>host CPU mean</th><th>host CPU peak</th>"
           "<th>memory mean</th><th>sampled process CPU mean</th><th>not covered by samples</th></tr>");
    for (size_t i = 0; i < r->nnodes; i++) {
        const struct rp_node *n = &r->nodes[i];
        double cs = 0, cmax = NAN, ms = 0;
        size_t cn = 0, mn = 0;
        int64_t h0 = INT64_MAX, h1 = INT64_MIN;
        for (size_t j = 0; j < n->nhost; j++) {
            if (!isnan(n->host[j].cpu_pct)) {
                cs += n->host[j].cpu_pct;
                cn++;
                if (isnan(cmax) || n->host[j].cpu_pct > cmax)
                    cmax = n->host[j].cpu_pct;
                if (n->host[j].ts < h0)
                    h0 = n->host[j].ts;
                if (n->host[j].ts > h1)
                    h1 = n->host[j].ts;
            }
            if (!isnan(n->host[j].mem_pct)) {
                ms += n->host[j].mem_pct;
                mn++;
            }
        }
        /* sampled CPU over the host series' span, as a share of the node */
        double proc = NAN;
        if (cn > 1 && n->cores > 0 && h1 > h0) {
            double sum = 0;
            for (size_t j = 0; j < n->nsamples; j++)
                if (n->samples[j].ts > h0 && n->samples[j].ts <= h1 && n->samples[j].cpu_ms > 0)
                    sum += n->samples[j].cpu_ms;
            proc = sum / dms(h1, h0) / n->cores * 100;
        }
        double cmean = cn ? cs / (double)cn : NAN;
        lit(b, "<tr><td>");
        report_html_escape(b, n->name);
        if (n->cores)
            jb_printf(b, "</td><td>%d</td><td>", n->cores);
        else
            lit(b, "</td><td>&ndash;</td><td>");
        pct(b, cmean);
        lit(b, "</td><td>");
        pct(b, cmax);
        lit(b, "</td><td>");
        pct(b, mn ? ms / (double)mn : NAN);
        lit(b, "</td><td>");
        pct(b, proc);
        lit(b, "</td><td>");
        pct(b, isnan(proc) || isnan(cmean) ? NAN : cmean - proc);
        lit(b, "</td></tr>");
    }
    lit(b, "</table>");
}

/* The most tasks running at once on node ni (what its slots allowed). */
static size_t peak_running(const struct report *r, size_t ni)
{
    int64_t *ev = xmalloc((2 * r->ntasks + 1) * sizeof *ev);
    size_t n = 0, cur = 0, peak = 0;
    for (size_t i = 0; i < r->ntasks; i++) {
        const struct rp_task *t = &r->tasks[i];
        if (t->node == ni && drawable(t)) {
            ev[n++] = t->start * 2 + 1;   /* an end before a start at the same ms */
            ev[n++] = t->end * 2;
        }
    }
    qsort(ev, n, sizeof *ev, cmp_i64);
    for (size_t i = 0; i < n; i++) {
        cur = ev[i] & 1 ? cur + 1 : cur - (cur > 0);
        peak = cur > peak ? cur : peak;
    }
    free(ev);
    return peak;
}

/* The experiment's setup, from the controller's records (report_load) and
 * the tasks: mix, policy, pacing, binding, the parallelism seen. */
static void setup_section(const struct report *r, struct jbuf *b)
{
    lit(b, "<h2>Experiment setup</h2><table class=\"kv\">");
    size_t n = json_array_size(r->setup);
    for (size_t i = 0; i < n; i++) {
        const json_t *row = json_array_get(r->setup, i);
        lit(b, "<tr><th>");
        report_html_escape(b, json_string_value(json_array_get(row, 0)));
        lit(b, "</th><td>");
        report_html_escape(b, json_string_value(json_array_get(row, 1)));
        lit(b, "</td></tr>");
    }
    if (json_object_size(r->bindings)) {
        lit(b, "<tr><th>CPU binding</th><td>");
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach(r->bindings, k, v) {
            lit(b, first ? "" : ", ");
            report_html_escape(b, k);
            jb_printf(b, " &times;%lld", (long long)json_integer_value(v));
            first = false;
        }
        lit(b, "</td></tr>");
    }
    lit(b, "<tr><th>tasks running at once (most)</th><td>");
    for (size_t i = 0; i < r->nnodes; i++) {
        lit(b, i ? ", " : "");
        report_html_escape(b, r->nodes[i].name);
        jb_printf(b, ": %zu", peak_running(r, i));
        if (r->nodes[i].cores)
            jb_printf(b, " on %d core(s)", r->nodes[i].cores);
    }
    lit(b, "</td></tr></table>");
    if (!n)
        lit(b, "<p class=\"note\">No controller records (ledger.jsonl, placements.jsonl, "
               "submitted.jsonl) next to the nodes: give the controller's folder to "
               "<code>tracekit gather</code> for the mix, policy and pacing.</p>");
}

void report_legend(const struct report *r, struct jbuf *b, bool waits)
{
    lit(b, "<p class=\"note\">");
    for (size_t a = 0; a < r->napps && a < NCOLOURS; a++) {
        jb_printf(b, "<span class=\"key\" style=\"background:%s\"></span>", palette[a]);
        report_html_escape(b, r->apps[a]);
    }
    if (r->napps > NCOLOURS)
        jb_printf(b, "<span class=\"key\" style=\"background:%s\"></span>other", palette[NCOLOURS]);
    if (waits)
        lit(b, "<span class=\"key\" style=\"background:#b9b9b9\"></span>tasks waiting (enqueued, not "
               "started; the strip above each node's lanes)"
               "<span class=\"key\" style=\"background:#fff;border:2px solid #d00\"></span>failed");
    lit(b, "</p>");
}

void report_html_begin(struct jbuf *b, const char *title)
{
    lit(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>tracekit report: ");
    report_html_escape(b, title);
    jb_printf(b, "</title><style>%s", css);
    for (int c = 0; c <= NCOLOURS; c++)
        jb_printf(b, ".c%d{fill:%s}", c, palette[c]);
    lit(b, "</style></head><body><h1>tracekit report: ");
    report_html_escape(b, title);
    lit(b, "</h1>");
}

void report_html_end(struct jbuf *b)
{
    jb_printf(b, "<script>%s</script></body></html>\n", script);
}

void report_run_html(const struct report *r, struct jbuf *b)
{
    summary_section(r, b);
    setup_section(r, b);
    audit_section(r, b);

    int64_t t0 = 0, t1 = 1;
    bool any = report_span(r, &t0, &t1);
    if (any && r->has_axis) {
        t0 = r->axis0;
        t1 = r->axis1;
    }
    lit(b, "<h2>Timeline</h2>");
    if (!any) {
        lit(b, "<p class=\"note\">No timed data.</p>");
    } else {
        jb_printf(b, "<p class=\"note\">One row per CPU of the tasks' cpusets, else per greedy lane; a node "
               "with more than %zu tasks is drawn per pixel column (the app with most run time wins).</p>",
            r->exact_max);
        report_legend(r, b, true);
        for (size_t i = 0; i < r->nnodes; i++)
            report_gantt_svg(r, i, t0, t1, b);
        lit(b, "<h2>Host utilisation</h2><p class=\"note\"><span class=\"key\" style=\"background:#1f4e9c\">"
               "</span>host CPU <span class=\"key\" style=\"background:#2a9d3a\"></span>memory used "
               "<span class=\"key\" style=\"background:#f28e2b;opacity:.45\"></span>sum of sampled process "
               "CPU (the gap up to the host CPU line is load no sampled process accounts for)</p>");
        for (size_t i = 0; i < r->nnodes; i++)
            report_util_svg(r, i, t0, t1, b);
        report_power_html(r, t0, t1, b);
    }
    if (any) {
        lit(b, "<h2>CPU of every task</h2>");
        report_heatmap_svg(r, t0, t1, b);
    }
    lit(b, "<h2>Task CPU usage, one at a time</h2>");
    report_curves_html(r, b);
}

void report_render_html(const struct report *r, struct jbuf *b)
{
    report_html_begin(b, r->title);
    report_run_html(r, b);
    report_html_end(b);
}
