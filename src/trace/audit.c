/* audit.c -- audit figures, audit_report.md and audit.json (see audit.h). */
#include "trace/audit.h"
#include "trace/energy.h"
#include "common/stats.h"
#include "common/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Samples within this much of a task's window belong to it when there is no
 * start_ticks to match on (the original's ts_start can be early by up to
 * 1 s, bug B5). */
#define MATCH_SLACK_MS 1000.0
/* An interval longer than this many sampling intervals is a late or missed tick. */
#define LATE_FACTOR 1.5
/* Lists in the report stop after this many rows (audit.json has them all). */
#define MD_LIST_MAX 50

void audit_limits_default(struct audit_limits *l)
{
    l->strict = false;
    l->max_unsampled = -1;
    l->min_coverage = NAN;
    l->max_cpu_error = NAN;
    l->max_jitter_ms = NAN;
}

void audit_init(struct audit *a)
{
    memset(a, 0, sizeof *a);
    pairmap_init(&a->pid_last);
    a->cov_min = a->cov_p50 = NAN;
    a->cpu_err_p50 = a->cpu_err_max = NAN;
    a->jitter_p50 = a->jitter_p99 = a->jitter_max = NAN;
    a->wait_p50 = a->wait_max = NAN;
    a->host_busy_ms = a->explained_pct = NAN;
    a->host_last_ts = INT64_MIN;
}

void audit_free(struct audit *a)
{
    pairmap_free(&a->pid_last);
    free(a->dts);
    free(a->unmatched_sample);
    free(a->tasks);
    free(a->reuse);
    free(a->host);
    for (size_t i = 0; i < a->nviolations; i++)
        free(a->violations[i]);
    free(a->violations);
    memset(a, 0, sizeof *a);
}

/* A host interval longer than this is not believed (a day). */
#define HOST_DT_MAX_MS 86400000.0

void audit_add_host(struct audit *a, const json_t *line)
{
    if (a->host_merged)
        TK_BUG("audit_add_host after the first audit_add_rec");
    json_t *ts = json_object_get(line, "ts_ms");
    if (!json_is_integer(ts) || !jsonl_ts_valid(json_integer_value(ts)))
        return;
    int64_t t = json_integer_value(ts);
    if (a->host_last_ts != INT64_MIN && t <= a->host_last_ts)
        return;  /* a repeated line, or a clock that stepped back: counted once */
    double busy, dt;
    json_t *d = json_object_get(line, "dt_ms");
    if (!cts_host_busy(line, &busy))
        return;  /* a memory line of the original's resources.jsonl */
    if (json_is_number(d))
        dt = json_number_value(d);
    else
        dt = a->host_last_ts != INT64_MIN ? (double)t - (double)a->host_last_ts : 0;
    a->host_last_ts = t;
    if (!(dt > 0 && dt <= HOST_DT_MAX_MS))
        return;
    ARRAY_GROW(a->host, a->nhost + 1, a->cap_host, 64);
    a->host[a->nhost++] = (struct audit_host_iv){(double)t - dt, (double)t};
    a->host_samples++;
    a->host_busy_frac_ms += busy * dt;
}

static int cmp_iv(const void *pa, const void *pb)
{
    const struct audit_host_iv *x = pa, *y = pb;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The host intervals as a sorted union of disjoint spans. */
static void host_merge(struct audit *a)
{
    a->host_merged = true;
    if (!a->nhost)
        return;
    qsort(a->host, a->nhost, sizeof *a->host, cmp_iv);
    size_t k = 0;
    for (size_t i = 1; i < a->nhost; i++) {
        if (a->host[i].lo <= a->host[k].hi)
            a->host[k].hi = fmax(a->host[k].hi, a->host[i].hi);
        else
            a->host[++k] = a->host[i];
    }
    a->nspan = k + 1;
    for (size_t i = 0; i < a->nspan; i++)
        a->host_window_ms += a->host[i].hi - a->host[i].lo;
}

/* The record's CPU inside the host spans, a partial overlap in proportion. */
static void traced_cpu(struct audit *a, const struct cts_rec *r)
{
    if (!a->host_merged)
        host_merge(a);
    if (!a->nspan || !r->has_dt || r->baseline || !(r->dt_ms > 0) || !(r->cpu_ms > 0))
        return;
    double hi = (double)r->ts_ms, lo = hi - r->dt_ms;
    size_t l = 0, h = a->nspan;
    while (l < h) {  /* the first span ending after lo */
        size_t m = l + (h - l) / 2;
        if (a->host[m].hi <= lo)
            l = m + 1;
        else
            h = m;
    }
    double in = 0;
    for (size_t i = l; i < a->nspan && a->host[i].lo < hi; i++) {
        /* dt less what lies outside: exact for a record wholly inside (the
         * times are ~1.7e12, their differences would round) */
        double ov = r->dt_ms - fmax(0, a->host[i].lo - lo) - fmax(0, hi - a->host[i].hi);
        in += ov > 0 ? ov : 0;
    }
    if (in > 0)
        a->traced_cpu_ms += r->cpu_ms * fmin(1.0, in / r->dt_ms);
}

void audit_add_rec(struct audit *a, const struct cts_rec *r)
{
    a->pm_lines++;
    traced_cpu(a, r);
    if (!r->has_dt) {
        a->pm_miss_dt++;
        a->pm_miss_cpu++;
    }
    if (!r->has_rss)
        a->pm_miss_rss++;
    if (r->has_dt && r->dt_ms < 0)
        a->dt_negative++;
    bool added;
    int64_t *last = pairmap_put(&a->pid_last, r->pid, 0, r->ts_ms, &added);
    if (!added) {
        if (r->ts_ms <= *last)
            a->ts_not_increasing++;
        *last = r->ts_ms;
    }
    if (r->has_dt && r->on_grid && !r->baseline) {
        if (a->ndts == a->cap_dts) {
            a->cap_dts = a->cap_dts ? a->cap_dts * 2 : 4096;
            a->dts = xrealloc(a->dts, a->cap_dts * sizeof *a->dts);
        }
        a->dts[a->ndts++] = r->dt_ms;
    }
}

void audit_fmt_pct(char *buf, size_t len, double rate)
{
    snprintf(buf, len, "%.2f%%", rate * 100.0);
}

/* a - b for values read from files: saturates instead of overflowing. */
static int64_t sub_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* ---- the original's checks ---- */

static void original_checks(struct audit *a)
{
    struct pairmap inv_pids, unmatched;
    pairmap_init(&inv_pids);
    pairmap_init(&unmatched);
    for (size_t i = 0; i < a->ninv; i++) {
        const struct cts_inv *v = &a->invs[i];
        a->miss_trace_id += v->miss_trace_id;
        a->miss_enqueue += v->miss_enqueue;
        a->miss_start += v->miss_start;
        a->miss_end += v->miss_end;
        a->miss_pid += v->miss_pid;
        if (!(v->has_enqueue && v->has_start && v->has_end && v->ts_enqueue <= v->ts_start &&
              v->ts_start <= v->ts_end))
            a->order_violations++;
        if (!v->has_pid)
            continue;
        bool added;
        pairmap_put(&inv_pids, v->pid, 0, 0, &added);
        if (!added)
            continue;
        a->inv_pids++;
        if (pairmap_get(&a->pid_last, v->pid, 0))
            a->both_pids++;
        else
            pairmap_put(&unmatched, v->pid, 0, 0, NULL);
    }
    a->pm_pids = a->pid_last.len;
    a->pid_match_rate = a->inv_pids ? (double)a->both_pids / (double)a->inv_pids : 0.0;
    a->unmatched_pids = unmatched.len;
    if (unmatched.len) {
        int64_t *all = xcalloc(unmatched.len, sizeof *all);
        size_t n = 0;
        for (size_t i = 0; i < unmatched.cap; i++)
            if (unmatched.slots[i].used)
                all[n++] = unmatched.slots[i].a;
        qsort(all, n, sizeof *all, cmp_i64);
        a->nunmatched_sample = n < 10 ? n : 10;
        a->unmatched_sample = all;
    }
    pairmap_free(&inv_pids);
    pairmap_free(&unmatched);
}

/* ---- tasks vs samples ---- */

/* Does identity `id` belong to task `v`?  Same PID, and the same start
 * ticks when both sides have them, else samples inside the task's window. */
static bool ident_matches(const struct cts_ident *id, const struct cts_inv *v, double slack)
{
    if (v->has_start_ticks && id->has_start)
        return v->start_ticks == id->start_ticks;
    if (id->records == 0)
        return false;
    if (!v->has_start || !v->has_end)
        return true;
    return (double)id->first_ts_ms <= (double)v->ts_end + slack &&
           (double)id->end_ts_ms >= (double)v->ts_start - slack;
}

/* Run delay and RSS of one more process of a task. */
static void task_add_ident(struct audit_task *k, const struct cts_ident *id)
{
    if (id->delay_records) {
        k->has_delay = true;
        k->delay_ms += id->delay_sum_ms;
        k->delay_cpu_ms += id->delay_cpu_ms;
    }
    if (id->has_rss && (!k->has_rss || id->max_rss_kb > k->max_rss_kb)) {
        k->has_rss = true;
        k->max_rss_kb = id->max_rss_kb;
    }
}

static void task_wait(struct audit_task *k)
{
    double all = k->delay_ms + k->delay_cpu_ms;
    k->wait_pct = k->has_delay && all > 0 ? 100.0 * k->delay_ms / all : NAN;
}

/* p50 / max of wait_pct over the tasks that have one. */
static void delay_summary(struct audit *a)
{
    double *w = xcalloc(a->ninv ? a->ninv : 1, sizeof *w);
    size_t n = 0;
    for (size_t t = 0; t < a->ninv; t++) {
        const struct audit_task *k = &a->tasks[t];
        a->tasks_with_delay += k->has_delay;
        if (isnan(k->wait_pct))
            continue;
        if (n == 0 || k->wait_pct > a->wait_max) {
            a->wait_max = k->wait_pct;
            a->wait_worst = t;
        }
        w[n++] = k->wait_pct;
    }
    qsort(w, n, sizeof *w, cmp_double);
    if (n)
        a->wait_p50 = stats_quantile(w, n, 0.5);
    free(w);
}

/* The host's busy CPU and the share the traced records explain. */
static void host_summary(struct audit *a)
{
    if (!a->host_merged)
        host_merge(a);
    if (!(a->ctx.cpu_cores > 0) || !a->host_samples)
        return;
    a->host_busy_ms = a->host_busy_frac_ms * a->ctx.cpu_cores;
    if (a->host_busy_ms > 0) {
        a->explained_pct = 100.0 * a->traced_cpu_ms / a->host_busy_ms;
        a->host_warning = a->explained_pct < AUDIT_EXPLAINED_MIN_PCT;
    }
}

static void match_tasks(struct audit *a)
{
    const struct cts *c = a->cts;
    size_t nids = c ? c->nids : 0;
    /* pid -> first identity, then a chain through next[] */
    struct pairmap head;
    pairmap_init(&head);
    size_t *next = xcalloc(nids ? nids : 1, sizeof *next);
    bool *owned = xcalloc(nids ? nids : 1, sizeof *owned);
    for (size_t i = nids; i-- > 0;) {
        bool added;
        int64_t *h = pairmap_put(&head, c->ids[i].pid, 0, (int64_t)i, &added);
        next[i] = added ? SIZE_MAX : (size_t)*h;
        *h = (int64_t)i;
    }
    double slack = fmax(MATCH_SLACK_MS, 2 * a->interval_used);

    a->tasks = xcalloc(a->ninv ? a->ninv : 1, sizeof *a->tasks);
    double *cov = xcalloc(a->ninv ? a->ninv : 1, sizeof *cov);
    double *err = xcalloc(a->ninv ? a->ninv : 1, sizeof *err);
    size_t ncov = 0, nerr = 0;
    for (size_t t = 0; t < a->ninv; t++) {
        const struct cts_inv *v = &a->invs[t];
        struct audit_task *k = &a->tasks[t];
        k->inv = t;
        k->failed = cts_inv_failed(v);
        a->failed += k->failed;
        k->has_window = v->has_start && v->has_end && v->ts_end > v->ts_start;
        if (k->has_window)
            k->duration_ms = sub_sat(v->ts_end, v->ts_start);
        int64_t first = INT64_MAX, last = INT64_MIN;
        int64_t *h = v->has_pid ? pairmap_get(&head, v->pid, 0) : NULL;
        for (size_t i = h ? (size_t)*h : SIZE_MAX; i != SIZE_MAX; i = next[i]) {
            const struct cts_ident *id = &c->ids[i];
            if (!ident_matches(id, v, slack))
                continue;
            owned[i] = true;
            k->idents++;
            k->samples += id->records;
            k->cpu_samples_ms += id->cpu_sum_ms;
            if (id->records) {
                first = id->first_ts_ms < first ? id->first_ts_ms : first;
                last = id->end_ts_ms > last ? id->end_ts_ms : last;
            }
            task_add_ident(k, id);
        }
        task_wait(k);
        if (k->samples == 0) {
            a->unsampled++;
            continue;
        }
        a->sampled++;
        if (k->has_window) {
            int64_t lo = first > v->ts_start ? first : v->ts_start;
            int64_t hi = last < v->ts_end ? last : v->ts_end;
            k->has_coverage = true;
            k->coverage = hi > lo ? (double)sub_sat(hi, lo) / (double)k->duration_ms : 0.0;
            cov[ncov++] = k->coverage;
        }
        if (v->has_start)
            k->first_delay_ms = sub_sat(first, v->ts_start);
        if (v->has_end)
            k->last_gap_ms = sub_sat(v->ts_end, last);
        if (v->has_cpu && v->cpu_exact_ms > 0) {
            k->has_cpu_err = true;
            k->cpu_rel_err = (k->cpu_samples_ms - v->cpu_exact_ms) / v->cpu_exact_ms;
            double e = fabs(k->cpu_rel_err);
            if (nerr == 0 || e > a->cpu_err_max) {
                a->cpu_err_max = e;
                a->cpu_err_worst = t;
            }
            err[nerr++] = e;
        }
    }
    qsort(cov, ncov, sizeof *cov, cmp_double);
    if (ncov) {
        a->cov_min = cov[0];
        a->cov_p50 = stats_quantile(cov, ncov, 0.5);
    }
    qsort(err, nerr, sizeof *err, cmp_double);
    a->cpu_compared = nerr;
    if (nerr)
        a->cpu_err_p50 = stats_quantile(err, nerr, 0.5);
    for (size_t i = 0; i < nids; i++)
        if (!owned[i] && c->ids[i].records)
            a->idents_without_task++;
    free(cov);
    free(err);
    free(next);
    free(owned);
    pairmap_free(&head);
}

/* k-th smallest (0-based) of a[0..n), n > 0; reorders a so that every
 * element after position k is >= a[k] (quickselect, Hoare partition). */

static void jitter(struct audit *a)
{
    size_t n = a->ndts;
    if (n == 0)
        return;
    /* 1M intervals: selection instead of sorting, twice as fast */
    double *d = xmalloc(n * sizeof *d);
    if (!(a->interval_used > 0)) {
        memcpy(d, a->dts, n * sizeof *d);
        a->interval_used = stats_quantile_select(d, n, 0.5);
        a->interval_used_source = "median dt";
    }
    double mx = 0;
    for (size_t i = 0; i < n; i++) {
        if (a->dts[i] > LATE_FACTOR * a->interval_used)
            a->late_ticks++;
        d[i] = fabs(a->dts[i] - a->interval_used);
        mx = d[i] > mx ? d[i] : mx;
    }
    a->jitter_n = n;
    a->jitter_p50 = stats_quantile_select(d, n, 0.5);
    a->jitter_p99 = stats_quantile_select(d, n, 0.99);
    a->jitter_max = mx;
    free(d);
}

static void pid_reuse(struct audit *a)
{
    struct pairmap m;  /* pid -> index into reuse[] (all PIDs first) */
    pairmap_init(&m);
    size_t cap = 0, n = 0;
    struct audit_reuse *r = NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t count = pass == 0 ? (a->cts ? a->cts->nids : 0) : a->ninv;
        for (size_t i = 0; i < count; i++) {
            int64_t pid;
            if (pass == 0) {
                if (a->cts->ids[i].records == 0)
                    continue;
                pid = a->cts->ids[i].pid;
            } else {
                if (!a->invs[i].has_pid)
                    continue;
                pid = a->invs[i].pid;
            }
            bool added;
            int64_t *slot = pairmap_put(&m, pid, 0, (int64_t)n, &added);
            if (added) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    r = xrealloc(r, cap * sizeof *r);
                }
                r[n++] = (struct audit_reuse){.pid = pid};
            }
            if (pass == 0)
                r[*slot].idents++;
            else
                r[*slot].tasks++;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (r[i].idents > 1 || r[i].tasks > 1)
            r[k++] = r[i];
    a->reuse = r;
    a->nreuse = k;
    pairmap_free(&m);
    /* by PID, for a stable report */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && r[j - 1].pid > r[j].pid; j--) {
            struct audit_reuse t = r[j];
            r[j] = r[j - 1];
            r[j - 1] = t;
        }
}

void audit_finish(struct audit *a, const struct audit_context *ctx, const struct cts *cts,
                  const struct cts_inv *invs, size_t ninv, struct audit_file *files,
                  size_t nfiles)
{
    a->ctx = *ctx;
    a->cts = cts;
    a->invs = invs;
    a->ninv = ninv;
    a->files = files;
    a->nfiles = nfiles;
    a->interval_used = ctx->interval_ms > 0 ? ctx->interval_ms : 0;
    a->interval_used_source = ctx->interval_ms > 0 ? ctx->interval_source : NULL;

    original_checks(a);
    jitter(a);  /* first: matching uses the interval */
    match_tasks(a);
    delay_summary(a);
    host_summary(a);
    pid_reuse(a);
    for (size_t i = 0; i < ninv; i++) {
        const struct cts_inv *v = &invs[i];
        if (v->has_enqueue && v->has_start && v->ts_enqueue > v->ts_start) {
            int64_t lead = sub_sat(v->ts_enqueue, v->ts_start);
            if (!v->has_start_ticks && lead <= 1000) {
                if (a->enqueue_after_early_start == 0 || lead > a->max_early_start_ms)
                    a->max_early_start_ms = lead;
                a->enqueue_after_early_start++;
                continue;
            }
            if (a->enqueue_after_start == 0 || lead > a->max_enqueue_lead_ms)
                a->max_enqueue_lead_ms = lead;
            a->enqueue_after_start++;
        }
    }
}

/* ---- limits ---- */

static void violation(struct audit *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(struct audit *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        s = xstrdup("(out of memory)");
    a->violations = xrealloc(a->violations, (a->nviolations + 1) * sizeof *a->violations);
    a->violations[a->nviolations++] = s;
}

static const char *task_name(const struct audit *a, size_t t)
{
    return a->invs[t].trace_id ? a->invs[t].trace_id : "(no trace_id)";
}

size_t audit_check(struct audit *a, const struct audit_limits *l)
{
    a->checked = l->strict;
    if (!l->strict) {
        a->passed = true;
        return 0;
    }
    if (l->max_unsampled >= 0 && (int64_t)a->unsampled > l->max_unsampled)
        violation(a, "%zu task(s) without samples, more than --max-unsampled %lld", a->unsampled,
                  (long long)l->max_unsampled);
    if (!isnan(l->min_coverage)) {
        size_t n = 0, worst = 0;
        for (size_t t = 0; t < a->ninv; t++) {
            const struct audit_task *k = &a->tasks[t];
            if (k->has_coverage && k->coverage < l->min_coverage) {
                if (n == 0 || k->coverage < a->tasks[worst].coverage)
                    worst = t;
                n++;
            }
        }
        if (n)
            violation(a, "%zu task(s) with sampling coverage below --min-coverage %g (lowest %.2f%%, %s)",
                      n, l->min_coverage, a->tasks[worst].coverage * 100, task_name(a, worst));
    }
    if (!isnan(l->max_cpu_error)) {
        size_t n = 0;
        for (size_t t = 0; t < a->ninv; t++)
            n += a->tasks[t].has_cpu_err && fabs(a->tasks[t].cpu_rel_err) > l->max_cpu_error;
        if (n)
            violation(a, "%zu task(s) with |CPU error| above --max-cpu-error %g (worst %.2f%%, %s)", n,
                      l->max_cpu_error, a->cpu_err_max * 100, task_name(a, a->cpu_err_worst));
    }
    if (!isnan(l->max_jitter_ms) && a->jitter_n && a->jitter_p99 > l->max_jitter_ms) {
        char v[32];
        cts_fmt_ms(v, a->jitter_p99);
        violation(a, "tick jitter p99 %s ms above --max-jitter-ms %g", v, l->max_jitter_ms);
    }
    a->passed = a->nviolations == 0;
    return a->nviolations;
}

/* ---- audit_report.md ---- */

/* Text for a table cell: '|' and line breaks would break the row. */
static void md_cell(struct jbuf *b, const char *s)
{
    jb_append(b, " ", 1);
    if (!s)
        s = "-";
    for (; *s; s++) {
        if (*s == '|')
            jb_append(b, "\\|", 2);
        else if (*s == '\n' || *s == '\r')
            jb_append(b, " ", 1);
        else
            jb_append(b, s, 1);
    }
    jb_append(b, " |", 2);
}

static const char *ms_text(char *buf, double v)
{
    if (isnan(v))
        return "-";
    cts_fmt_ms(buf, v);
    return buf;
}

static const char *pct_text(char *buf, double rate)
{
    if (isnan(rate))
        return "-";
    audit_fmt_pct(buf, 32, rate);
    return buf;
}

static void miss_line(struct jbuf *b, const char *name, uint64_t n, uint64_t total)
{
    char p[32];
    audit_fmt_pct(p, sizeof p, total ? (double)n / (double)total : 0.0);
    jb_printf(b, "- %s: %llu (%s)\n", name, (unsigned long long)n, p);
}

static void md_original(const struct audit *a, struct jbuf *b)
{
    char p[32];
    jb_printf(b, "# CTS Audit Report\nNode: %s  |  Stage: %s\n\n", a->ctx.node ? a->ctx.node : "None",
        a->ctx.stage ? a->ctx.stage : "None");
    audit_fmt_pct(p, sizeof p, a->pid_match_rate);
    jb_printf(b,
        "## Summary\nInvocations: %zu\nProc metrics samples: %llu\nDistinct PIDs (invocations): %zu\n"
        "Distinct PIDs (proc_metrics): %zu\nPID match rate: %s\n\n",
        a->ninv, (unsigned long long)a->pm_lines, a->inv_pids, a->pm_pids, p);
    jb_printf(b, "## Field completeness (missing counts / rate)\n");
    miss_line(b, "invocations.trace_id", a->miss_trace_id, a->ninv);
    miss_line(b, "invocations.ts_enqueue", a->miss_enqueue, a->ninv);
    miss_line(b, "invocations.ts_start", a->miss_start, a->ninv);
    miss_line(b, "invocations.ts_end", a->miss_end, a->ninv);
    miss_line(b, "invocations.pid", a->miss_pid, a->ninv);
    miss_line(b, "proc_metrics.ts_ms", 0, a->pm_lines);
    miss_line(b, "proc_metrics.pid", 0, a->pm_lines);
    miss_line(b, "proc_metrics.dt_ms", a->pm_miss_dt, a->pm_lines);
    miss_line(b, "proc_metrics.cpu_ms", a->pm_miss_cpu, a->pm_lines);
    miss_line(b, "proc_metrics.rss_kb", a->pm_miss_rss, a->pm_lines);
    jb_printf(b,
        "\n## Temporal consistency\n"
        "- invocations ts_enqueue \xe2\x89\xa4 ts_start \xe2\x89\xa4 ts_end violations: %zu\n"
        "- proc_metrics per-pid strictly increasing ts_ms violations: %llu\n"
        "- proc_metrics records with dt_ms < 0: %llu\n",
        a->order_violations, (unsigned long long)a->ts_not_increasing,
        (unsigned long long)a->dt_negative);
    jb_printf(b, "\n## Cross-reference\n- invocations without matching proc_metrics PID: %zu\n",
        a->unmatched_pids);
    if (a->unmatched_pids) {
        jb_printf(b, "  sample unmatched PIDs: [");
        for (size_t i = 0; i < a->nunmatched_sample; i++)
            jb_printf(b, "%s%lld", i ? ", " : "", (long long)a->unmatched_sample[i]);
        jb_printf(b, "]\n");
    }
}

static void md_coverage(const struct audit *a, struct jbuf *b)
{
    char x[32], y[32], z[32], w[32];
    jb_printf(b, "\n## Sampling coverage (per task)\n");
    jb_printf(b, "Tasks: %zu, with samples: %zu, without samples: %zu\n", a->ninv, a->sampled, a->unsampled);
    jb_printf(b,
        "Coverage = share of the task's run time (ts_start..ts_end) between its first and last "
        "sample.\n");
    jb_printf(b, "Coverage min / p50: %s / %s\n", pct_text(x, a->cov_min), pct_text(y, a->cov_p50));
    if (a->idents_without_task)
        jb_printf(b, "Sampled processes not belonging to any task: %zu\n", a->idents_without_task);
    if (a->idents_without_task && a->ctx.collector_mode && !strcmp(a->ctx.collector_mode, "scan"))
        jb_printf(b,
            "Hint: in scan mode every process whose name matches --match is sampled, but only a task "
            "record ties it to a task: start them through `tracekit exec`, or whitelist them in the "
            "PID folder (a file named by the PID in logs/RUN_ID/pids/).\n");
    if (a->ninv == 0)
        return;
    jb_printf(b,
        "\n| trace_id | pid | start_ticks | status | duration ms | samples | coverage | "
        "first-sample delay ms | last-sample gap ms | CPU exact ms | CPU samples ms | CPU error |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t t = 0; t < a->ninv; t++) {
        const struct audit_task *k = &a->tasks[t];
        const struct cts_inv *v = &a->invs[t];
        jb_append(b, "|", 1);
        md_cell(b, v->trace_id);
        snprintf(x, sizeof x, "%lld", (long long)v->pid);
        md_cell(b, v->has_pid ? x : NULL);
        snprintf(x, sizeof x, "%lld", (long long)v->start_ticks);
        md_cell(b, v->has_start_ticks ? x : NULL);
        snprintf(x, sizeof x, "%lld", (long long)v->status);
        md_cell(b, v->has_status ? x : NULL);
        snprintf(x, sizeof x, "%lld", (long long)k->duration_ms);
        md_cell(b, k->has_window ? x : NULL);
        snprintf(x, sizeof x, "%llu", (unsigned long long)k->samples);
        md_cell(b, x);
        md_cell(b, k->has_coverage ? pct_text(x, k->coverage) : NULL);
        snprintf(x, sizeof x, "%lld", (long long)k->first_delay_ms);
        md_cell(b, k->samples && v->has_start ? x : NULL);
        snprintf(x, sizeof x, "%lld", (long long)k->last_gap_ms);
        md_cell(b, k->samples && v->has_end ? x : NULL);
        md_cell(b, v->has_cpu ? ms_text(y, v->cpu_exact_ms) : NULL);
        md_cell(b, k->samples ? ms_text(z, k->cpu_samples_ms) : NULL);
        md_cell(b, k->has_cpu_err ? pct_text(w, k->cpu_rel_err) : NULL);
        jb_append(b, "\n", 1);
    }
}

/* A section listing the tasks `pick` picks (count of them), at most
 * MD_LIST_MAX, each as `line` writes it. */
static void md_task_list(const struct audit *a, struct jbuf *b, const char *title, size_t count,
                         bool (*pick)(const struct audit *, size_t),
                         void (*line)(const struct audit *, size_t, struct jbuf *))
{
    jb_printf(b, "\n## %s\n", title);
    if (count == 0) {
        jb_printf(b, "- none\n");
        return;
    }
    size_t shown = 0;
    for (size_t t = 0; t < a->ninv; t++) {
        if (!pick(a, t))
            continue;
        if (shown++ == MD_LIST_MAX) {
            jb_printf(b, "- ... and %zu more (see audit.json)\n", count - MD_LIST_MAX);
            break;
        }
        line(a, t, b);
    }
}

/* "123" and a unit into buf[32], or "-" when there is no value. */
static const char *int_or_dash(char *buf, bool has, int64_t v, const char *unit)
{
    if (!has)
        return "-";
    snprintf(buf, 32, "%lld%s", (long long)v, unit);
    return buf;
}

static bool is_unsampled(const struct audit *a, size_t t)
{
    return !a->tasks[t].samples;
}

static void unsampled_line(const struct audit *a, size_t t, struct jbuf *b)
{
    const struct audit_task *k = &a->tasks[t];
    const struct cts_inv *v = &a->invs[t];
    char pid[32], dur[32], st[32];
    jb_printf(b, "- %s: pid %s, duration %s, status %s\n", task_name(a, t),
              int_or_dash(pid, v->has_pid, v->pid, ""), int_or_dash(dur, k->has_window, k->duration_ms, " ms"),
              int_or_dash(st, v->has_status, v->status, ""));
}

static void md_unsampled(const struct audit *a, struct jbuf *b)
{
    md_task_list(a, b, "Tasks without samples", a->unsampled, is_unsampled, unsampled_line);
}

static void md_cpu(const struct audit *a, struct jbuf *b)
{
    char x[32], y[32];
    jb_printf(b, "\n## CPU from samples vs exact CPU\n");
    jb_printf(b,
        "Exact CPU = cpu_user_ms + cpu_sys_ms of the task's event; CPU from samples = sum of its "
        "cpu_ms records.\n");
    jb_printf(b, "Tasks compared: %zu\n", a->cpu_compared);
    if (a->cpu_compared)
        jb_printf(b, "Relative error |samples - exact| / exact, p50 / max: %s / %s (worst: %s)\n", pct_text(x, a->cpu_err_p50),
            pct_text(y, a->cpu_err_max), task_name(a, a->cpu_err_worst));
}

/* Worst tasks shown by wait_pct. */
#define MD_WORST_WAIT 10

static int cmp_wait(const void *pa, const void *pb, void *arg)
{
    const struct audit *a = arg;
    size_t x = *(const size_t *)pa, y = *(const size_t *)pb;
    double wx = a->tasks[x].wait_pct, wy = a->tasks[y].wait_pct;
    if (wx != wy)
        return wx > wy ? -1 : 1;
    return x < y ? -1 : x > y;
}

static void md_delay(const struct audit *a, struct jbuf *b)
{
    char x[32], y[32], z[32];
    jb_printf(b, "\n## Waiting for a CPU (run delay)\n");
    if (a->tasks_with_delay == 0) {
        jb_printf(b, "Run delay: unknown (no run_delay_ms in the raw samples: an older collector, or "
                     "it could not read it)\n");
        return;
    }
    jb_printf(b,
        "Run delay = time a task's processes were runnable but waiting for a CPU (run_delay_ms of "
        "its records); wait = run delay / (run delay + CPU of the same records).\n");
    jb_printf(b, "Tasks with a known run delay: %zu of %zu\n", a->tasks_with_delay, a->ninv);
    if (isnan(a->wait_max))
        return;
    jb_printf(b, "Wait p50 / max: %s / %s (worst: %s)\n", pct_text(x, a->wait_p50 / 100),
        pct_text(y, a->wait_max / 100), task_name(a, a->wait_worst));
    size_t *idx = xcalloc(a->ninv, sizeof *idx), n = 0;
    for (size_t t = 0; t < a->ninv; t++)
        if (!isnan(a->tasks[t].wait_pct))
            idx[n++] = t;
    qsort_r(idx, n, sizeof *idx, cmp_wait, (void *)a);
    jb_printf(b, "Worst tasks:\n");
    for (size_t i = 0; i < n && i < MD_WORST_WAIT; i++) {
        const struct audit_task *k = &a->tasks[idx[i]];
        jb_printf(b, "- %s: waited for a CPU %s of the time it was runnable (%s ms of %s ms)\n",
            task_name(a, idx[i]), pct_text(x, k->wait_pct / 100), ms_text(y, k->delay_ms),
            ms_text(z, k->delay_ms + k->delay_cpu_ms));
    }
    free(idx);
}

static void md_host(const struct audit *a, struct jbuf *b)
{
    char x[32], y[32], z[32];
    jb_printf(b, "\n## Host CPU explained by traced processes\n");
    if (!a->host_samples) {
        jb_printf(b, "traced CPU explains: unknown (no host samples)\n");
        return;
    }
    jb_printf(b,
        "Host busy CPU = (1 - idle - iowait) x interval x cores over host_metrics.jsonl; traced CPU "
        "= cpu_ms of the records inside those intervals.\n");
    jb_printf(b, "Host samples: %zu over %s ms; traced CPU: %s ms\n", a->host_samples,
        ms_text(x, a->host_window_ms), ms_text(y, a->traced_cpu_ms));
    if (!(a->ctx.cpu_cores > 0)) {
        jb_printf(b, "traced CPU explains: unknown (no cpu_cores in node_meta.json)\n");
        return;
    }
    jb_printf(b, "Host busy CPU: %s ms (%g cores)\n", ms_text(x, a->host_busy_ms), a->ctx.cpu_cores);
    if (isnan(a->explained_pct)) {
        jb_printf(b, "traced CPU explains: unknown (the host was idle)\n");
        return;
    }
    jb_printf(b, "traced CPU explains %s of the host's busy CPU\n", pct_text(z, a->explained_pct / 100));
    if (a->host_warning)
        jb_printf(b,
            "WARNING: below %.0f%%: untraced load shared the cores with the traced processes, so the "
            "CPU they received understates what they demanded; to simulate what they wanted, see "
            "`tracekit export opendc --cpu-usage demand` (and the run delay above).\n",
            AUDIT_EXPLAINED_MIN_PCT);
}

static void md_exits(const struct audit *a, struct jbuf *b)
{
    const char *src = a->ctx.exit_source;
    jb_printf(b, "\n## Process exits\n");
    if (src && !strcmp(src, "taskstats"))
        jb_printf(b, "Exit source: taskstats (the kernel's exit records: exact final CPU, run delay "
                     "and peak RSS of every traced process, also of those that lived between two "
                     "samples)\n");
    else if (src && !strcmp(src, "proc"))
        jb_printf(b, "Exit source: proc (final readings race the parent's reap; processes shorter "
                     "than one interval may be missing)\n");
    else
        jb_printf(b, "Exit source: unknown (collector.json does not say)\n");
    const struct cts *c = a->cts;
    jb_printf(b, "Kernel exit records used: %llu; processes seen only in their exit record: %llu\n",
        (unsigned long long)(c ? c->exit_records : 0), (unsigned long long)(c ? c->exit_only : 0));
    if (c && c->after_exit)
        jb_printf(b, "Lines after a process's kernel exit record (ignored): %llu\n",
            (unsigned long long)c->after_exit);
}

static void md_jitter(const struct audit *a, struct jbuf *b)
{
    char x[32], y[32], z[32], w[32];
    jb_printf(b, "\n## Tick jitter\n");
    if (a->interval_used > 0)
        jb_printf(b, "Interval: %s ms (%s)\n", ms_text(x, a->interval_used),
            a->interval_used_source ? a->interval_used_source : "?");
    else
        jb_printf(b, "Interval: unknown\n");
    jb_printf(b, "Intervals measured: %zu\n", a->jitter_n);
    if (a->jitter_n) {
        jb_printf(b, "Jitter |dt - interval| p50 / p99 / max: %s / %s / %s ms\n", ms_text(y, a->jitter_p50),
            ms_text(z, a->jitter_p99), ms_text(w, a->jitter_max));
        jb_printf(b, "Intervals longer than %.1f x interval (late or missed ticks): %zu\n", LATE_FACTOR,
            a->late_ticks);
    }
    if (a->cts) {
        const struct cts *c = a->cts;
        jb_printf(b, "Raw samples folded into the next record (same timestamp): %llu\n",
            (unsigned long long)c->merged);
        jb_printf(b, "Clock steps back (interval restarted, CPU kept): %llu\n",
            (unsigned long long)c->steps_back);
        jb_printf(b, "CPU counter dips held at the previous value: %llu\n", (unsigned long long)c->cpu_dips);
        jb_printf(b, "Raw samples without CPU counters: %llu\n", (unsigned long long)c->no_cpu);
        jb_printf(b, "CPU of folded samples after a process's last record (not in any record): %s ms\n",
            ms_text(x, c->cpu_carried_ms));
    }
}

static bool is_failed(const struct audit *a, size_t t)
{
    return a->tasks[t].failed;
}

static void failed_line(const struct audit *a, size_t t, struct jbuf *b)
{
    const struct cts_inv *v = &a->invs[t];
    char pid[32], st[32], sig[32];
    jb_printf(b, "- %s: pid %s, status %s, signal %s", task_name(a, t),
              int_or_dash(pid, v->has_pid, v->pid, ""), int_or_dash(st, v->has_status, v->status, ""),
              int_or_dash(sig, v->has_signal, v->signal, ""));
    if (v->error) {
        jb_printf(b, ", error: ");
        for (const char *s = v->error; *s; s++)
            jb_append(b, *s == '\n' ? " " : s, 1);
    }
    jb_printf(b, "\n");
}

static void md_failed(const struct audit *a, struct jbuf *b)
{
    md_task_list(a, b, "Failed tasks", a->failed, is_failed, failed_line);
}

static void md_reuse(const struct audit *a, struct jbuf *b)
{
    jb_printf(b, "\n## PID reuse\n");
    size_t splits = a->cts ? (size_t)a->cts->splits : 0;
    jb_printf(b, "PIDs seen as more than one process or used by more than one task: %zu\n", a->nreuse);
    if (splits)
        jb_printf(b, "Raw lines without start_ticks split into a new process (counters reset or name changed): %zu\n",
            splits);
    for (size_t i = 0; i < a->nreuse && i < MD_LIST_MAX; i++)
        jb_printf(b, "- pid %lld: %zu process(es), %zu task(s)\n", (long long)a->reuse[i].pid,
            a->reuse[i].idents, a->reuse[i].tasks);
    if (a->nreuse > MD_LIST_MAX)
        jb_printf(b, "- ... and %zu more (see audit.json)\n", a->nreuse - MD_LIST_MAX);
}

static void md_clock(const struct audit *a, struct jbuf *b)
{
    char x[32];
    jb_printf(b, "\n## Clock\n");
    if (a->ctx.has_clock_offset)
        jb_printf(b, "Clock offset of this node (from node_meta.json): %s ms\n",
            ms_text(x, a->ctx.clock_offset_ms));
    else
        jb_printf(b, "Clock offset of this node: not recorded\n");
    jb_printf(b, "Tasks enqueued after they started (ts_enqueue > ts_start): %zu", a->enqueue_after_start);
    if (a->enqueue_after_start)
        jb_printf(b, " (up to %lld ms: the enqueuing clock is ahead of this node's by at least that much)",
            (long long)a->max_enqueue_lead_ms);
    jb_printf(b, "\n");
    if (a->enqueue_after_early_start)
        jb_printf(b, "Tasks whose ts_start is early (ts_enqueue > ts_start by up to %lld ms, no start_ticks): %zu "
                  "-- the original ffmpeg wrapper computes ts_start from btime and the process's start "
                  "ticks, up to 1 s early (original bug B5); not a clock difference between nodes\n",
                  (long long)a->max_early_start_ms, a->enqueue_after_early_start);
    if (a->cts)
        jb_printf(b, "Wall-clock steps seen against the monotonic clock: %llu\n",
            (unsigned long long)a->cts->wall_steps);
}

static void md_files(const struct audit *a, struct jbuf *b)
{
    jb_printf(b, "\n## Skipped raw lines\n");
    if (a->nfiles == 0) {
        jb_printf(b, "- no raw files\n");
        return;
    }
    jb_printf(b, "| file | lines | used | malformed | torn last line | invalid |\n|---|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < a->nfiles; i++) {
        const struct audit_file *f = &a->files[i];
        if (f->unreadable) {
            jb_printf(b, "| %s | - | 0 | unreadable | - | - |\n", f->name);
            continue;
        }
        jb_printf(b, "| %s | %llu | %llu | %llu | %llu | %llu |\n", f->name, (unsigned long long)f->lines,
            (unsigned long long)f->good, (unsigned long long)f->malformed,
            (unsigned long long)f->torn, (unsigned long long)f->invalid);
    }
}

static void md_limits(const struct audit *a, struct jbuf *b)
{
    if (!a->checked)
        return;
    jb_printf(b, "\n## Thresholds (--strict)\n");
    if (a->passed)
        jb_printf(b, "- all within limits\n");
    for (size_t i = 0; i < a->nviolations; i++)
        jb_printf(b, "- FAIL: %s\n", a->violations[i]);
}

/* Executions of one attempt beyond the first (parse keeps one). */
static void md_ran_twice(const struct audit *a, struct jbuf *b)
{
    if (!a->ran_twice)
        return;
    char line[400];
    snprintf(line, sizeof line,
             "\n## Executions that ran twice\n\n- %zu execution(s) left out, %s: the same "
             "attempt of a task ran again after Redis was restarted from older data; "
             "invocations.jsonl keeps the execution the ledger names (else the one that "
             "ended last), events.jsonl keeps all\n", a->ran_twice, AUDIT_RAN_TWICE_WHY);
    jb_append(b, line, strlen(line));
}

void audit_render_md(const struct audit *a, struct jbuf *b)
{
    md_original(a, b);
    md_coverage(a, b);
    md_unsampled(a, b);
    md_cpu(a, b);
    md_delay(a, b);
    md_host(a, b);
    md_jitter(a, b);
    md_exits(a, b);
    md_failed(a, b);
    md_ran_twice(a, b);
    md_reuse(a, b);
    md_clock(a, b);
    if (a->ctx.energy)
        energy_render_md(a->ctx.energy, b);
    md_files(a, b);
    md_limits(a, b);
}

/* ---- audit.json ---- */

static void j_num(struct jbuf *b, const char *key, double v)
{
    if (isnan(v))
        jb_null(b, key);
    else
        jb_double(b, key, v);
}

static void j_ms(struct jbuf *b, const char *key, double v)
{
    if (isnan(v))
        jb_null(b, key);
    else
        cts_put_ms(b, key, v);
}

/* The original's figures: summary, missing fields, order, cross-reference. */
static void j_original(const struct audit *a, struct jbuf *b)
{
    jb_obj_open(b, "summary");
    jb_uint(b, "invocations", a->ninv);
    jb_uint(b, "proc_metrics_samples", a->pm_lines);
    jb_uint(b, "distinct_pids_invocations", a->inv_pids);
    jb_uint(b, "distinct_pids_proc_metrics", a->pm_pids);
    jb_double(b, "pid_match_rate", a->pid_match_rate);
    jb_obj_close(b);

    jb_obj_open(b, "missing");
    jb_uint(b, "invocations.trace_id", a->miss_trace_id);
    jb_uint(b, "invocations.ts_enqueue", a->miss_enqueue);
    jb_uint(b, "invocations.ts_start", a->miss_start);
    jb_uint(b, "invocations.ts_end", a->miss_end);
    jb_uint(b, "invocations.pid", a->miss_pid);
    jb_uint(b, "proc_metrics.ts_ms", 0);
    jb_uint(b, "proc_metrics.pid", 0);
    jb_uint(b, "proc_metrics.dt_ms", a->pm_miss_dt);
    jb_uint(b, "proc_metrics.cpu_ms", a->pm_miss_cpu);
    jb_uint(b, "proc_metrics.rss_kb", a->pm_miss_rss);
    jb_obj_close(b);

    jb_obj_open(b, "temporal");
    jb_uint(b, "invocation_order_violations", a->order_violations);
    jb_uint(b, "proc_metrics_ts_not_increasing", a->ts_not_increasing);
    jb_uint(b, "proc_metrics_dt_negative", a->dt_negative);
    jb_obj_close(b);

    jb_obj_open(b, "cross_reference");
    jb_uint(b, "unmatched_pids", a->unmatched_pids);
    jb_arr_open(b, "sample_unmatched_pids");
    for (size_t i = 0; i < a->nunmatched_sample; i++)
        jb_int(b, NULL, a->unmatched_sample[i]);
    jb_arr_close(b);
    jb_obj_close(b);
}

/* Sampling coverage, and the tasks without samples. */
static void j_coverage(const struct audit *a, struct jbuf *b)
{
    jb_obj_open(b, "coverage");
    jb_uint(b, "tasks", a->ninv);
    jb_uint(b, "sampled", a->sampled);
    jb_uint(b, "unsampled", a->unsampled);
    j_num(b, "min", a->cov_min);
    j_num(b, "p50", a->cov_p50);
    jb_uint(b, "processes_without_task", a->idents_without_task);
    jb_str(b, "collector_mode", a->ctx.collector_mode);
    jb_obj_close(b);

    jb_arr_open(b, "unsampled_tasks");
    for (size_t t = 0; t < a->ninv; t++) {
        if (a->tasks[t].samples)
            continue;
        jb_obj_open(b, NULL);
        jb_str(b, "trace_id", a->invs[t].trace_id);
        jb_opt_int(b, "pid", a->invs[t].has_pid, a->invs[t].pid);
        jb_opt_int(b, "duration_ms", a->tasks[t].has_window, a->tasks[t].duration_ms);
        jb_opt_int(b, "status", a->invs[t].has_status, a->invs[t].status);
        jb_obj_close(b);
    }
    jb_arr_close(b);
}

/* CPU error, tick jitter, and how the raw samples became records. */
static void j_cpu_jitter(const struct audit *a, struct jbuf *b)
{
    jb_obj_open(b, "cpu_error");
    jb_uint(b, "tasks_compared", a->cpu_compared);
    j_num(b, "abs_p50", a->cpu_err_p50);
    j_num(b, "abs_max", a->cpu_err_max);
    if (a->cpu_compared)
        jb_str(b, "worst_trace_id", a->invs[a->cpu_err_worst].trace_id);
    else
        jb_null(b, "worst_trace_id");
    jb_obj_close(b);

    jb_obj_open(b, "jitter");
    j_ms(b, "interval_ms", a->interval_used > 0 ? a->interval_used : NAN);
    jb_str(b, "interval_source", a->interval_used > 0 ? a->interval_used_source : NULL);
    jb_uint(b, "intervals", a->jitter_n);
    j_ms(b, "p50_ms", a->jitter_p50);
    j_ms(b, "p99_ms", a->jitter_p99);
    j_ms(b, "max_ms", a->jitter_max);
    jb_uint(b, "late_ticks", a->late_ticks);
    jb_obj_close(b);

    jb_obj_open(b, "derivation");
    const struct cts *c = a->cts;
    jb_uint(b, "raw_samples", c ? c->raw : 0);
    jb_uint(b, "records", c ? c->emitted : 0);
    jb_uint(b, "processes", c ? c->nids : 0);
    jb_uint(b, "merged_same_timestamp", c ? c->merged : 0);
    jb_uint(b, "clock_steps_back", c ? c->steps_back : 0);
    jb_uint(b, "cpu_dips", c ? c->cpu_dips : 0);
    jb_uint(b, "no_cpu_counters", c ? c->no_cpu : 0);
    jb_uint(b, "pid_splits_without_start_ticks", c ? c->splits : 0);
    cts_put_ms(b, "cpu_carried_ms", c ? c->cpu_carried_ms : 0);
    jb_uint(b, "run_delay_dips", c ? c->delay_dips : 0);
    jb_obj_close(b);
}

/* Issue #14: run delay, the host's CPU explained, where exits came from. */
static void j_accounting(const struct audit *a, struct jbuf *b)
{
    jb_obj_open(b, "run_delay");
    jb_uint(b, "tasks_with_delay", a->tasks_with_delay);
    j_num(b, "wait_pct_p50", a->wait_p50);
    j_num(b, "wait_pct_max", a->wait_max);
    jb_str(b, "worst_trace_id", isnan(a->wait_max) ? NULL : a->invs[a->wait_worst].trace_id);
    jb_obj_close(b);

    jb_obj_open(b, "host_cpu");
    jb_uint(b, "host_samples", a->host_samples);
    j_ms(b, "window_ms", a->host_window_ms);
    j_num(b, "cores", a->ctx.cpu_cores > 0 ? a->ctx.cpu_cores : NAN);
    j_ms(b, "host_busy_cpu_ms", a->host_busy_ms);
    j_ms(b, "traced_cpu_ms", a->traced_cpu_ms);
    j_num(b, "explained_pct", a->explained_pct);
    jb_bool(b, "warning", a->host_warning);
    jb_obj_close(b);

    const struct cts *c = a->cts;
    jb_obj_open(b, "exits");
    jb_str(b, "exit_source", a->ctx.exit_source);
    jb_uint(b, "exit_records", c ? c->exit_records : 0);
    jb_uint(b, "processes_only_in_exit_record", c ? c->exit_only : 0);
    jb_uint(b, "lines_after_exit_ignored", c ? c->after_exit : 0);
    jb_obj_close(b);
}

/* Failed tasks, PID reuse and the clock. */
static void j_failed_reuse_clock(const struct audit *a, struct jbuf *b)
{
    jb_arr_open(b, "failed_tasks");
    for (size_t t = 0; t < a->ninv; t++) {
        const struct cts_inv *v = &a->invs[t];
        if (!a->tasks[t].failed)
            continue;
        jb_obj_open(b, NULL);
        jb_str(b, "trace_id", v->trace_id);
        jb_opt_int(b, "pid", v->has_pid, v->pid);
        jb_opt_int(b, "status", v->has_status, v->status);
        jb_opt_int(b, "signal", v->has_signal, v->signal);
        jb_str(b, "error", v->error);
        jb_obj_close(b);
    }
    jb_arr_close(b);

    jb_arr_open(b, "pid_reuse");
    for (size_t i = 0; i < a->nreuse; i++) {
        jb_obj_open(b, NULL);
        jb_int(b, "pid", a->reuse[i].pid);
        jb_uint(b, "processes", a->reuse[i].idents);
        jb_uint(b, "tasks", a->reuse[i].tasks);
        jb_obj_close(b);
    }
    jb_arr_close(b);

    jb_obj_open(b, "clock");
    j_ms(b, "offset_ms", a->ctx.has_clock_offset ? a->ctx.clock_offset_ms : NAN);
    jb_uint(b, "enqueue_after_start", a->enqueue_after_start);
    jb_opt_int(b, "max_enqueue_lead_ms", a->enqueue_after_start > 0, a->max_enqueue_lead_ms);
    jb_uint(b, "early_start_b5", a->enqueue_after_early_start);
    jb_opt_int(b, "max_early_start_ms", a->enqueue_after_early_start > 0, a->max_early_start_ms);
    jb_uint(b, "wall_steps", a->cts ? a->cts->wall_steps : 0);
    jb_obj_close(b);
}

/* The raw files' line counts, and every task's figures. */
static void j_files_tasks(const struct audit *a, struct jbuf *b)
{
    jb_arr_open(b, "skipped_lines");
    for (size_t i = 0; i < a->nfiles; i++) {
        const struct audit_file *f = &a->files[i];
        jb_obj_open(b, NULL);
        jb_str(b, "file", f->name);
        jb_uint(b, "lines", f->lines);
        jb_uint(b, "used", f->good);
        jb_uint(b, "malformed", f->malformed);
        jb_uint(b, "torn", f->torn);
        jb_uint(b, "invalid", f->invalid);
        jb_bool(b, "unreadable", f->unreadable);
        jb_obj_close(b);
    }
    jb_arr_close(b);

    jb_arr_open(b, "tasks");
    for (size_t t = 0; t < a->ninv; t++) {
        const struct audit_task *k = &a->tasks[t];
        const struct cts_inv *v = &a->invs[t];
        jb_obj_open(b, NULL);
        jb_str(b, "trace_id", v->trace_id);
        jb_opt_int(b, "pid", v->has_pid, v->pid);
        jb_opt_int(b, "start_ticks", v->has_start_ticks, v->start_ticks);
        jb_opt_int(b, "status", v->has_status, v->status);
        jb_bool(b, "failed", k->failed);
        jb_opt_int(b, "duration_ms", k->has_window, k->duration_ms);
        jb_uint(b, "samples", k->samples);
        jb_uint(b, "processes", k->idents);
        j_num(b, "coverage", k->has_coverage ? k->coverage : NAN);
        jb_opt_int(b, "first_sample_delay_ms", k->samples && v->has_start, k->first_delay_ms);
        jb_opt_int(b, "last_sample_gap_ms", k->samples && v->has_end, k->last_gap_ms);
        j_ms(b, "cpu_exact_ms", v->has_cpu ? v->cpu_exact_ms : NAN);
        j_ms(b, "cpu_samples_ms", k->samples ? k->cpu_samples_ms : NAN);
        j_num(b, "cpu_rel_error", k->has_cpu_err ? k->cpu_rel_err : NAN);
        j_ms(b, "run_delay_ms", k->has_delay ? k->delay_ms : NAN);
        j_num(b, "wait_pct", k->wait_pct);
        jb_opt_int(b, "measured_max_rss_kb", k->has_rss, k->max_rss_kb);
        jb_obj_close(b);
    }
    jb_arr_close(b);
}

void audit_render_json(const struct audit *a, struct jbuf *b)
{
    jb_obj_open(b, NULL);
    jb_str(b, "run_id", a->ctx.run_id);
    jb_str(b, "node", a->ctx.node);
    jb_str(b, "stage", a->ctx.stage);
    j_original(a, b);
    j_coverage(a, b);
    j_cpu_jitter(a, b);
    j_accounting(a, b);
    j_failed_reuse_clock(a, b);
    j_files_tasks(a, b);
    if (a->ctx.energy)
        energy_render_json(a->ctx.energy, b);
    jb_obj_open(b, "ran_twice");
    jb_int(b, "count", (int64_t)a->ran_twice);
    jb_str(b, "why", AUDIT_RAN_TWICE_WHY);
    jb_obj_close(b);

    jb_obj_open(b, "strict");
    jb_bool(b, "checked", a->checked);
    jb_bool(b, "passed", a->checked ? a->passed : true);
    jb_arr_open(b, "violations");
    for (size_t i = 0; i < a->nviolations; i++)
        jb_str(b, NULL, a->violations[i]);
    jb_arr_close(b);
    jb_obj_close(b);
    jb_obj_close(b);
}
