/* opendc_compare.c -- the measured run beside OpenDC's output: the pure
 * figures (see opendc_compare.h). */
#include "opendc/opendc_compare.h"
#include "common/jsonl.h"
#include "common/stats.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void odc_cmp_side_free(struct odc_cmp_side *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nhosts; i++)
        free(s->hosts[i].name);
    free(s->hosts);
    free(s->tasks);
    memset(s, 0, sizeof *s);
}

void odc_cmp_free(struct odc_cmp *c)
{
    if (!c)
        return;
    free(c->thr_meas);
    free(c->thr_pred);
    for (size_t i = 0; i < c->nhosts; i++)
        free(c->hosts[i].name);
    free(c->hosts);
    memset(c, 0, sizeof *c);
}

static int cmp_task_id(const void *a, const void *b)
{
    int32_t x = ((const struct odc_cmp_task *)a)->id, y = ((const struct odc_cmp_task *)b)->id;
    return (x > y) - (x < y);
}

static bool done(const struct odc_cmp_task *t)
{
    return t && t->start >= 0 && t->end >= t->start;
}

static void dist(double *v, size_t n, struct odc_cmp_dist *d)
{
    memset(d, 0, sizeof *d);
    d->n = n;
    if (!n)
        return;
    qsort(v, n, sizeof *v, cmp_double);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    d->mean = s / (double)n;
    d->p50 = stats_quantile(v, n, 0.50);
    d->p90 = stats_quantile(v, n, 0.90);
    d->p99 = stats_quantile(v, n, 0.99);
}

/* 1, 2, 5 x 10^k ms, the smallest giving at most 20 windows over span. */
static int64_t auto_window(int64_t span)
{
    int64_t w = 1;
    for (;;) {
        for (int m = 0; m < 3; m++) {
            int64_t c = w * (m == 0 ? 1 : m == 1 ? 2 : 5);
            if (span / 20 + (span % 20 != 0) <= c)   /* span <= 20 c, without overflow */
                return c;
        }
        if (w > INT64_MAX / 100)
            return w;
        w *= 10;
    }
}

static void throughput(const struct odc_cmp_side *meas, const struct odc_cmp_side *pred, int64_t window_ms,
                       struct odc_cmp *c)
{
    int64_t span = c->makespan_meas_ms > c->makespan_pred_ms ? c->makespan_meas_ms : c->makespan_pred_ms;
    c->window_ms = window_ms > 0 ? window_ms : auto_window(span > 0 ? span : 1);
    c->nwin = (size_t)(span / c->window_ms) + 1;
    if (c->nwin > 100000)   /* a window far too small for the run: keep the output readable */
        c->nwin = 100000;
    c->thr_meas = xcalloc(c->nwin, sizeof *c->thr_meas);
    c->thr_pred = xcalloc(c->nwin, sizeof *c->thr_pred);
    const struct odc_cmp_side *sides[2] = {meas, pred};
    uint32_t *out[2] = {c->thr_meas, c->thr_pred};
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sides[s]->ntasks; i++) {
            const struct odc_cmp_task *t = &sides[s]->tasks[i];
            if (!done(t) || t->end < 0)
                continue;
            size_t w = (size_t)(t->end / c->window_ms);
            out[s][w < c->nwin ? w : c->nwin - 1]++;
        }
}

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(((const struct odc_cmp_hostpair *)a)->name, ((const struct odc_cmp_hostpair *)b)->name);
}

/* Either side's hosts by name: sorted, then a measured and a predicted
 * entry of one name merged (O(n log n): OpenDC may report many hosts). */
static void host_pairs(const struct odc_cmp_side *meas, const struct odc_cmp_side *pred, struct odc_cmp *c)
{
    size_t n = meas->nhosts + pred->nhosts;
    struct odc_cmp_hostpair *all = xcalloc(n + 1, sizeof *all);
    for (size_t i = 0; i < meas->nhosts; i++)
        all[i] = (struct odc_cmp_hostpair){meas->hosts[i].name, meas->hosts[i].util, NAN};
    for (size_t i = 0; i < pred->nhosts; i++)
        all[meas->nhosts + i] = (struct odc_cmp_hostpair){pred->hosts[i].name, NAN, pred->hosts[i].util};
    qsort(all, n, sizeof *all, cmp_pair);
    c->hosts = xcalloc(n + 1, sizeof *c->hosts);
    for (size_t i = 0; i < n; i++) {
        struct odc_cmp_hostpair *last = c->nhosts ? &c->hosts[c->nhosts - 1] : NULL;
        if (last && !strcmp(last->name, all[i].name)) {   /* the same host on the other side */
            last->meas = isnan(last->meas) ? all[i].meas : last->meas;
            last->pred = isnan(last->pred) ? all[i].pred : last->pred;
            continue;
        }
        c->hosts[c->nhosts++] = (struct odc_cmp_hostpair){xstrdup(all[i].name), all[i].meas, all[i].pred};
    }
    free(all);
}

static const char *const drop_why[ODC_DROP_N] = {
    [ODC_DROP_TASK_TIMES] = "task.parquet: COMPLETED tasks whose last row lacks 0 <= submission <= schedule <= "
                            "finish (ms from the origin, each a time between 1970 and 2200)",
    [ODC_DROP_TASK_DUP] = "task.parquet: rows repeating a task_id's timestamp (the last in file order kept)",
    [ODC_DROP_HOST] = "host.parquet: rows with a negative cpu_time_active or cpu_time_idle, a cpu_utilization "
                      "outside 0..1, or a negative or non-finite energy_usage",
    [ODC_DROP_POWER] = "powerSource.parquet: rows with a null, negative or non-finite energy_usage",
    [ODC_DROP_MEAS_TIMES] = "the run's CTS/invocations.jsonl: tasks without ts_enqueue <= ts_start <= ts_end",
    [ODC_DROP_HOST_METRICS] = "the run's CTS/host_metrics.jsonl: lines with cpu_idle or cpu_iowait outside 0..1, "
                              "or their sum above 1",
};

static bool task_drop(int k)
{
    return k == ODC_DROP_TASK_TIMES || k == ODC_DROP_MEAS_TIMES;
}

const char *odc_cmp_drop_why(int reason)
{
    return reason >= 0 && reason < ODC_DROP_N ? drop_why[reason] : "?";
}

size_t odc_cmp_dropped(const struct odc_cmp *c, char **out, size_t max)
{
    size_t n = 0;
    for (int k = 0; k < ODC_DROP_N && n < max; k++)
        if (c->dropped[k])
            out[n++] = xasprintf("%zu %s of %s", c->dropped[k], task_drop(k) ? "task(s)" : "row(s)", drop_why[k]);
    if (c->invalid && n < max)
        out[n++] = xasprintf("%zu task(s) left out of every figure: their row on one side was dropped", c->invalid);
    return n;
}

void odc_compare(const struct odc_cmp_side *meas, const struct odc_cmp_side *pred, int64_t window_ms,
                 struct odc_cmp *c)
{
    memset(c, 0, sizeof *c);
    struct odc_cmp_task *p = xmalloc((pred->ntasks + 1) * sizeof *p);
    if (pred->ntasks)
        memcpy(p, pred->tasks, pred->ntasks * sizeof *p);
    qsort(p, pred->ntasks, sizeof *p, cmp_task_id);
    size_t cap = meas->ntasks + 1;
    double *v[4];
    for (int k = 0; k < 4; k++)
        v[k] = xmalloc(cap * sizeof *v[k]);
    double wae = 0, rae = 0, fae = 0;
    size_t left_done = 0;
    int64_t last = 0;
    for (size_t i = 0; i < meas->ntasks; i++) {
        const struct odc_cmp_task *m = &meas->tasks[i];
        const struct odc_cmp_task *t = bsearch(m, p, pred->ntasks, sizeof *p, cmp_task_id);
        if ((t && t->invalid) || m->invalid) {   /* counted as dropped, not as "not completed" */
            c->invalid++;
            left_done += t && done(t);   /* OpenDC completed it: not "OpenDC only" either */
            continue;
        }
        if (!done(m) || !done(t)) {
            c->meas_only += done(m);
            continue;
        }
        double wm = (double)(m->start - m->sub), wp = (double)(t->start - t->sub);
        double rm = (double)(m->end - m->start), rp = (double)(t->end - t->start);
        v[0][c->matched] = wm;
        v[1][c->matched] = wp;
        v[2][c->matched] = rm;
        v[3][c->matched] = rp;
        wae += fabs(wp - wm);
        rae += fabs(rp - rm);
        fae += fabs((double)t->end - (double)m->end);
        last = m->end > last ? m->end : last;
        c->matched++;
    }
    for (size_t i = 0; i < pred->ntasks; i++) {
        const struct odc_cmp_task *t = &pred->tasks[i];
        if (done(t))
            c->makespan_pred_ms = t->end > c->makespan_pred_ms ? t->end : c->makespan_pred_ms;
    }
    for (size_t i = 0; i < pred->ntasks; i++)   /* done there, not matched here */
        c->pred_only += done(&pred->tasks[i]);
    left_done += c->matched;
    c->pred_only -= left_done <= c->pred_only ? left_done : c->pred_only;
    free(p);
    dist(v[0], c->matched, &c->wait_meas);
    dist(v[1], c->matched, &c->wait_pred);
    dist(v[2], c->matched, &c->run_meas);
    dist(v[3], c->matched, &c->run_pred);
    for (int k = 0; k < 4; k++)
        free(v[k]);
    if (c->matched) {
        double n = (double)c->matched;
        c->makespan_meas_ms = last;
        c->makespan_error_pct = last > 0 ? 100.0 * (double)(c->makespan_pred_ms - last) / (double)last : 0;
        c->wait_mae_ms = wae / n;
        c->run_mae_ms = rae / n;
        c->finish_mae_ms = fae / n;
    }
    throughput(meas, pred, window_ms, c);
    host_pairs(meas, pred, c);
    c->has_energy_meas = meas->has_energy;
    c->has_energy_pred = pred->has_energy;
    c->energy_meas_j = meas->energy_j;
    c->energy_pred_j = pred->energy_j;
    if (meas->has_energy && pred->has_energy && meas->energy_j > 0)
        c->energy_error_pct = 100.0 * (pred->energy_j - meas->energy_j) / meas->energy_j;
    for (int k = 0; k < ODC_DROP_N; k++)
        c->dropped[k] = meas->dropped[k] + pred->dropped[k];
}

/* ---- output ---- */

static void dist_json(struct jbuf *b, const char *key, const struct odc_cmp_dist *d)
{
    jb_obj_open(b, key);
    jb_double(b, "p50", d->n ? d->p50 : NAN);
    jb_double(b, "p90", d->n ? d->p90 : NAN);
    jb_double(b, "p99", d->n ? d->p99 : NAN);
    jb_double(b, "mean", d->n ? d->mean : NAN);
    jb_obj_close(b);
}

size_t odc_cmp_missing(const struct odc_cmp *c, const char **out, size_t max)
{
    size_t n = 0;
    bool um = false, up = false;
    for (size_t i = 0; i < c->nhosts; i++) {
        um |= !isnan(c->hosts[i].meas);
        up |= !isnan(c->hosts[i].pred);
    }
    const char *all[] = {
        !c->has_energy_meas ? "measured energy: no node of the run recorded power (CTS/nodes.json energy_j)"
                            : NULL,
        !c->has_energy_pred ? "predicted energy: no powerSource.parquet and no energy_usage in host.parquet "
                              "(tracekit replay predicts none)" : NULL,
        !um ? "measured host utilisation: no CTS/host_metrics.jsonl interval inside the run's window" : NULL,
        !up ? "predicted host utilisation: no host.parquet (or no host rows)" : NULL,
        c->meas_only ? "some measured tasks are not completed in OpenDC's output (terminated or absent)" : NULL,
        c->pred_only ? "some tasks OpenDC completed are not in the run's invocations.jsonl" : NULL,
    };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i] && n < max)
            out[n++] = all[i];
    return n;
}

void odc_cmp_json(const struct odc_cmp *c, struct jbuf *b)
{
    jb_uint(b, "matched", c->matched);
    jb_uint(b, "measured_only", c->meas_only);
    jb_uint(b, "predicted_only", c->pred_only);
    jb_obj_open(b, "makespan_ms");
    jb_int(b, "measured", c->makespan_meas_ms);
    jb_int(b, "predicted", c->makespan_pred_ms);
    jb_double(b, "error_pct", c->matched ? c->makespan_error_pct : NAN);
    jb_obj_close(b);
    const char *keys[2] = {"wait_ms", "run_ms"};
    const struct odc_cmp_dist *d[2][2] = {{&c->wait_meas, &c->wait_pred}, {&c->run_meas, &c->run_pred}};
    double mae[2] = {c->wait_mae_ms, c->run_mae_ms};
    for (int k = 0; k < 2; k++) {
        jb_obj_open(b, keys[k]);
        dist_json(b, "measured", d[k][0]);
        dist_json(b, "predicted", d[k][1]);
        jb_double(b, "mae", c->matched ? mae[k] : NAN);
        jb_obj_close(b);
    }
    jb_double(b, "finish_mae_ms", c->matched ? c->finish_mae_ms : NAN);
    jb_obj_open(b, "throughput");
    jb_int(b, "window_ms", c->window_ms);
    const uint32_t *thr[2] = {c->thr_meas, c->thr_pred};
    for (int s = 0; s < 2; s++) {
        jb_arr_open(b, s ? "predicted" : "measured");
        for (size_t i = 0; i < c->nwin; i++)
            jb_uint(b, NULL, thr[s][i]);
        jb_arr_close(b);
    }
    jb_obj_close(b);
    jb_arr_open(b, "hosts");
    for (size_t i = 0; i < c->nhosts; i++) {
        jb_obj_open(b, NULL);
        jb_str(b, "name", c->hosts[i].name);
        jb_double(b, "util_measured", c->hosts[i].meas);
        jb_double(b, "util_predicted", c->hosts[i].pred);
        jb_obj_close(b);
    }
    jb_arr_close(b);
    jb_obj_open(b, "energy_j");
    jb_double(b, "measured", c->has_energy_meas ? c->energy_meas_j : NAN);
    jb_double(b, "predicted", c->has_energy_pred ? c->energy_pred_j : NAN);
    jb_double(b, "error_pct", c->has_energy_meas && c->has_energy_pred && c->energy_meas_j > 0
                                  ? c->energy_error_pct : NAN);
    jb_obj_close(b);
    const char *miss[8];
    size_t nm = odc_cmp_missing(c, miss, 8);
    jb_arr_open(b, "missing");
    for (size_t i = 0; i < nm; i++)
        jb_str(b, NULL, miss[i]);
    jb_arr_close(b);
    jb_arr_open(b, "dropped");
    for (int k = 0; k < ODC_DROP_N; k++) {
        if (!c->dropped[k])
            continue;
        jb_obj_open(b, NULL);
        jb_uint(b, task_drop(k) ? "tasks" : "rows", c->dropped[k]);
        jb_str(b, "why", drop_why[k]);
        jb_obj_close(b);
    }
    jb_arr_close(b);
    jb_uint(b, "left_out", c->invalid);
}

static void cell(FILE *f, double v, double scale)
{
    if (isnan(v))
        fprintf(f, " %12s", "-");
    else
        fprintf(f, " %12.1f", v * scale);
}

static void row3(FILE *f, const char *what, double m, double p, bool pct)
{
    fprintf(f, "  %-28s", what);
    cell(f, m, 1);
    cell(f, p, 1);
    if (pct && m != 0 && !isnan(m) && !isnan(p))
        fprintf(f, " %+9.1f%%", 100 * (p - m) / m);
    fputc('\n', f);
}

void odc_cmp_text(const struct odc_cmp *c, FILE *f)
{
    fprintf(f, "%zu tasks matched (%zu completed only in the run, %zu only in OpenDC's output)\n", c->matched,
            c->meas_only, c->pred_only);
    fprintf(f, "  %-28s %12s %12s %10s\n", "", "measured", "OpenDC", "error");
    row3(f, "makespan (ms)", (double)c->makespan_meas_ms, (double)c->makespan_pred_ms, true);
    const char *names[2] = {"wait", "run"};
    const struct odc_cmp_dist *d[2][2] = {{&c->wait_meas, &c->wait_pred}, {&c->run_meas, &c->run_pred}};
    double mae[2] = {c->wait_mae_ms, c->run_mae_ms};
    for (int k = 0; k < 2; k++) {
        char what[64];
        const double *m = &d[k][0]->p50, *p = &d[k][1]->p50;
        static const char *const q[4] = {"p50", "p90", "p99", "mean"};
        for (int j = 0; j < 4; j++) {
            snprintf(what, sizeof what, "%s %s (ms)", names[k], q[j]);
            row3(f, what, m[j], p[j], false);
        }
        fprintf(f, "  %-28s %25.1f\n", k ? "run: per-task MAE (ms)" : "wait: per-task MAE (ms)", mae[k]);
    }
    fprintf(f, "  %-28s %25.1f\n", "finish: per-task MAE (ms)", c->finish_mae_ms);
    fprintf(f, "tasks finished per %lld ms (from the earliest submission):\n", (long long)c->window_ms);
    for (size_t i = 0; i < c->nwin; i++)
        fprintf(f, "  %8lld ms %12u %12u\n", (long long)((int64_t)i * c->window_ms), c->thr_meas[i], c->thr_pred[i]);
    fprintf(f, "host CPU utilisation (%%):\n");
    for (size_t i = 0; i < c->nhosts; i++) {
        fprintf(f, "  %-28s", c->hosts[i].name);
        cell(f, c->hosts[i].meas, 100);
        cell(f, c->hosts[i].pred, 100);
        fputc('\n', f);
    }
    if (c->has_energy_meas || c->has_energy_pred)
        row3(f, "energy (J)", c->has_energy_meas ? c->energy_meas_j : NAN,
             c->has_energy_pred ? c->energy_pred_j : NAN, c->has_energy_meas && c->has_energy_pred);
    const char *miss[8];
    size_t nm = odc_cmp_missing(c, miss, 8);
    for (size_t i = 0; i < nm; i++)
        fprintf(f, "missing: %s\n", miss[i]);
    char *drop[ODC_DROP_N + 1];
    size_t nd = odc_cmp_dropped(c, drop, ODC_DROP_N + 1);
    for (size_t i = 0; i < nd; i++) {
        fprintf(f, "dropped: %s\n", drop[i]);
        free(drop[i]);
    }
}
