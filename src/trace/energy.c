/* energy.c -- a node's power series, energy, idle power, power model fits
 * and the tasks' shares of its energy (see energy.h for the rules). */
#include "trace/energy.h"

#include "common/util.h"
#include "trace/cts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DT_MAX_MS 3600000.0
#define LOWEST_BAND 0.05

void energy_init(struct energy *e, const json_t *meta)
{
    memset(e, 0, sizeof *e);
    e->last_ts = INT64_MIN;
    e->idle_w = NAN;
    e->mean_w = NAN;
    json_t *s = json_object_get(meta, "power_sources");
    if (json_is_array(s))
        e->sources = json_incref(s);
    json_t *c = json_object_get(meta, "cpu_cores_online");
    if (!json_is_integer(c) || json_integer_value(c) <= 0)
        c = json_object_get(meta, "cpu_cores");
    if (json_is_integer(c) && json_integer_value(c) > 0 && json_integer_value(c) < 1000000)
        e->cores = (double)json_integer_value(c);
}

void energy_free(struct energy *e)
{
    json_decref(e->sources);
    free(e->h);
    free(e->p);
    free(e->task_j);
    free(e->task_idle_j);
    memset(e, 0, sizeof *e);
}

/* The node's power from a line's power_w: the in_total sources, all of
 * them present; without a source list, every value in it. */
static bool node_power(const struct energy *e, const json_t *pw, double *w)
{
    if (!json_is_object(pw))
        return false;
    double sum = 0;
    size_t n = 0;
    if (e->sources) {
        size_t i;
        json_t *src;
        json_array_foreach(e->sources, i, src) {
            if (!json_is_true(json_object_get(src, "in_total")))
                continue;
            json_t *v = json_object_get(pw, json_string_value(json_object_get(src, "name")));
            if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
                return false;
            sum += json_number_value(v);
            n++;
        }
    } else {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)pw, k, v) {
            if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0)
                return false;
            sum += json_number_value(v);
            n++;
        }
    }
    *w = sum;
    return n > 0;
}

bool energy_add_host(struct energy *e, const json_t *line, double *node_w)
{
    json_t *ts = json_object_get(line, "ts_ms");
    if (!json_is_integer(ts) || !jsonl_ts_valid(json_integer_value(ts)))
        return false;
    int64_t t = json_integer_value(ts);
    if (e->last_ts != INT64_MIN && t <= e->last_ts)
        return false;
    json_t *d = json_object_get(line, "dt_ms");
    double busy;
    if (!cts_host_busy(line, &busy))
        return false;
    double dt = json_is_number(d) ? json_number_value(d)
                : e->last_ts != INT64_MIN ? (double)(t - e->last_ts) : 0;
    e->last_ts = t;
    e->lines++;
    e->resets += json_array_size(json_object_get(line, "power_reset"));
    e->wraps += json_array_size(json_object_get(line, "power_wrap"));
    if (!(dt > 0 && dt <= DT_MAX_MS))
        return false;
    struct energy_hiv h = {(double)t - dt, (double)t, busy, false, 0};
    h.has_w = node_power(e, json_object_get(line, "power_w"), &h.w);
    ARRAY_GROW(e->h, e->nh + 1, e->caph, 64);
    e->h[e->nh++] = h;
    if (h.has_w && node_w)
        *node_w = h.w;
    return h.has_w;
}

bool energy_cts_point(const json_t *line, struct powerfit_point *p)
{
    json_t *w = json_object_get(line, "node_power_w");
    double busy;
    if (!json_is_number(w) || !isfinite(json_number_value(w)) || json_number_value(w) < 0 ||
        !cts_host_busy(line, &busy))
        return false;
    double dt = jsonl_num_or(line, "dt_ms", 0) / 1000.0;
    *p = (struct powerfit_point){busy, json_number_value(w),
                                 isfinite(dt) && dt > 0 ? dt : 0};
    return true;
}

void energy_add_proc(struct energy *e, size_t task, double lo_ms, double hi_ms, double cpu_ms)
{
    if (!(hi_ms > lo_ms) || !(cpu_ms >= 0) || !isfinite(cpu_ms))
        return;
    ARRAY_GROW(e->p, e->np + 1, e->capp, 256);
    e->p[e->np++] = (struct energy_piv){task, lo_ms, hi_ms, cpu_ms};
}

bool energy_has_power(const struct energy *e)
{
    return e->npower > 0;
}

static int cmp_hiv(const void *a, const void *b)
{
    const struct energy_hiv *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Fit and idle power from the intervals with power. */
static void fit_and_idle(struct energy *e)
{
    struct powerfit_point *pts = xcalloc(e->nh ? e->nh : 1, sizeof *pts);
    size_t n = 0;
    double umin = INFINITY;
    for (size_t i = 0; i < e->nh; i++)
        if (e->h[i].has_w) {
            pts[n++] = (struct powerfit_point){e->h[i].busy, e->h[i].w,
                                               (e->h[i].hi - e->h[i].lo) / 1000.0};
            umin = fmin(umin, e->h[i].busy);
        }
    struct powerfit_opts o;
    powerfit_opts_default(&o);
    e->fitted = powerfit_fit(pts, n, &o, &e->fit) == 0;
    /* the intercept needs the slope, not maxPower: fit it even when the
     * run stayed low (the fit shown stays refused) */
    struct powerfit_result lin;
    o.extrapolate = true;
    o.forced = POWERFIT_LINEAR;
    if (n && umin <= ENERGY_IDLE_FIT_UTIL_MAX && powerfit_fit(pts, n, &o, &lin) == 0) {
        e->has_idle = true;
        e->idle_w = lin.cand[POWERFIT_LINEAR].idle_w;
        e->idle_source = "linear fit intercept";
    } else if (n) {
        double sw = 0, s = 0;
        for (size_t i = 0; i < n; i++)
            if (pts[i].util <= umin + LOWEST_BAND)
                sw += pts[i].weight, s += pts[i].weight * pts[i].watts;
        e->has_idle = sw > 0;
        e->idle_w = sw > 0 ? s / sw : NAN;
        e->idle_source = "lowest-utilisation intervals";
    }
    free(pts);
}

/* Index of the first host interval ending after t (intervals sorted, disjoint). */
static size_t first_after(const struct energy *e, double t)
{
    size_t lo = 0, hi = e->nh;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (e->h[mid].hi <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static double overlap(double a0, double a1, double b0, double b1)
{
    double o = fmin(a1, b1) - fmax(a0, b0);
    return o > 0 ? o : 0;
}

/* The tasks' CPU in each host interval, then each task's share. */
static void attribute(struct energy *e)
{
    double *tcpu = xcalloc(e->nh ? e->nh : 1, sizeof *tcpu);
    for (int pass = 0; pass < 2; pass++)
        for (size_t k = 0; k < e->np; k++) {
            const struct energy_piv *p = &e->p[k];
            for (size_t i = first_after(e, p->lo); i < e->nh && e->h[i].lo < p->hi; i++) {
                const struct energy_hiv *h = &e->h[i];
                double c = p->cpu_ms * overlap(p->lo, p->hi, h->lo, h->hi) / (p->hi - p->lo);
                if (pass == 0) {
                    tcpu[i] += c;
                    continue;
                }
                if (isnan(e->task_j[p->task]))
                    e->task_j[p->task] = 0;
                if (!h->has_w)
                    continue;
                double dt = h->hi - h->lo, host = h->busy * e->cores * dt;
                double den = fmax(host, tcpu[i]);
                double above = fmax(0, h->w - e->idle_w) * dt / 1000.0;
                if (den > 0)
                    e->task_j[p->task] += above * c / den;
            }
        }
    free(tcpu);
}

/* Host time with power inside [a, b). */
static double covered(const struct energy *e, double a, double b)
{
    double c = 0;
    for (size_t i = first_after(e, a); i < e->nh && e->h[i].lo < b; i++)
        if (e->h[i].has_w)
            c += overlap(a, b, e->h[i].lo, e->h[i].hi);
    return c;
}

/* How many of sorted v[0..n) are below x (or at most x when `at_most`). */
static size_t index_of(const double *v, size_t n, double x, bool at_most)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid] < x || (at_most && v[mid] == x))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Idle power at each moment is shared equally by the tasks present then
 * (first to last sample): a sweep over their spans, S[j] the idle energy
 * per present task up to point j, each task's share S[end] - S[start]. */
static void idle_by_wall(struct energy *e)
{
    size_t nt = e->ntasks ? e->ntasks : 1, n = 0;
    double *lo = xmalloc(nt * sizeof *lo), *hi = xmalloc(nt * sizeof *hi);
    for (size_t t = 0; t < e->ntasks; t++)
        lo[t] = INFINITY, hi[t] = -INFINITY;
    for (size_t k = 0; k < e->np; k++) {
        lo[e->p[k].task] = fmin(lo[e->p[k].task], e->p[k].lo);
        hi[e->p[k].task] = fmax(hi[e->p[k].task], e->p[k].hi);
    }
    double *pts = xmalloc(2 * nt * sizeof *pts), *los = xmalloc(nt * sizeof *los);
    double *his = xmalloc(nt * sizeof *his), *S = xcalloc(2 * nt + 1, sizeof *S);
    size_t nspan = 0;
    for (size_t t = 0; t < e->ntasks; t++)
        if (hi[t] > lo[t]) {
            pts[n++] = lo[t], pts[n++] = hi[t];
            los[nspan] = lo[t], his[nspan++] = hi[t];
        }
    qsort(pts, n, sizeof *pts, cmp_double);
    qsort(los, nspan, sizeof *los, cmp_double);
    qsort(his, nspan, sizeof *his, cmp_double);
    for (size_t j = 0; j + 1 < n; j++) {
        double alive = (double)index_of(los, nspan, pts[j], true) -
                       (double)index_of(his, nspan, pts[j], true);
        double seg = alive > 0 ? e->idle_w * covered(e, pts[j], pts[j + 1]) / 1000.0 / alive : 0;
        S[j + 1] = S[j] + seg;
    }
    for (size_t t = 0; t < e->ntasks; t++)
        if (hi[t] > lo[t])
            e->task_idle_j[t] = S[index_of(pts, n, hi[t], false)] - S[index_of(pts, n, lo[t], false)];
    free(lo);
    free(hi);
    free(pts);
    free(los);
    free(his);
    free(S);
}

void energy_finish(struct energy *e, size_t ntasks, bool idle_share)
{
    if (e->nh)
        qsort(e->h, e->nh, sizeof *e->h, cmp_hiv);
    double wsum = 0;
    for (size_t i = 0; i < e->nh; i++) {
        double dt = e->h[i].hi - e->h[i].lo;
        e->window_ms += dt;
        if (!e->h[i].has_w)
            continue;
        e->npower++;
        e->covered_ms += dt;
        e->energy_j += e->h[i].w * dt / 1000.0;
        wsum += dt;
    }
    e->mean_w = wsum > 0 ? e->energy_j * 1000.0 / wsum : NAN;
    e->ntasks = ntasks;
    e->idle_share = idle_share;
    e->task_j = xmalloc((ntasks ? ntasks : 1) * sizeof *e->task_j);
    e->task_idle_j = xcalloc(ntasks ? ntasks : 1, sizeof *e->task_idle_j);
    for (size_t t = 0; t < ntasks; t++)
        e->task_j[t] = NAN;
    if (!e->npower)
        return;
    fit_and_idle(e);
    if (!e->has_idle)
        return;
    for (size_t i = 0; i < e->nh; i++)
        if (e->h[i].has_w)
            e->above_idle_j += fmax(0, e->h[i].w - e->idle_w) * (e->h[i].hi - e->h[i].lo) / 1000.0;
    if (e->cores > 0)
        attribute(e);
    if (idle_share)
        idle_by_wall(e);
    for (size_t t = 0; t < ntasks; t++) {
        if (isnan(e->task_j[t]))
            continue;
        e->attributed_j += e->task_j[t];
        e->idle_attributed_j += e->task_idle_j[t];
    }
}

double energy_task(const struct energy *e, size_t task)
{
    if (task >= e->ntasks || !e->has_idle || isnan(e->task_j[task]))
        return NAN;
    return e->task_j[task] + (e->idle_share ? e->task_idle_j[task] : 0);
}

/* ---- rendering ---- */

static void sources_md(const struct energy *e, struct jbuf *b)
{
    size_t i;
    json_t *s;
    jb_printf(b, "Sources:");
    if (!json_array_size(e->sources))
        jb_printf(b, " none listed in node_meta.json (every power_w value summed)");
    json_array_foreach(e->sources, i, s) {
        const char *name = json_string_value(json_object_get(s, "name"));
        const char *origin = json_string_value(json_object_get(s, "origin"));
        jb_printf(b, "%s %s (%s%s%s)", i ? "," : "", name ? name : "?", origin ? origin : "?",
                  json_is_true(json_object_get(s, "in_total")) ? ", in the node's total" : "",
                  json_is_false(json_object_get(s, "readable")) ? ", not readable" : "");
    }
    jb_printf(b, "\n\n");
}

static void fit_md(const struct energy *e, struct jbuf *b)
{
    jb_printf(b, "\nOpenDC CPU power models fitted to the %zu intervals (utilisation %.0f%% to "
              "%.0f%%):\n\n| model | idlePower W | maxPower W | RMSE W | R² | |\n"
              "|---|---:|---:|---:|---:|---|\n", e->fit.n, 100 * e->fit.util_min,
              100 * e->fit.util_max);
    for (int m = 0; m < POWERFIT_NMODELS; m++) {
        const struct powerfit_cand *c = &e->fit.cand[m];
        if (!c->ok) {
            jb_printf(b, "| %s | - | - | - | - | not fitted |\n", powerfit_name(c->model));
            continue;
        }
        jb_printf(b, "| %s | %.1f | %.1f | %.2f | %.4f | %s |\n", powerfit_name(c->model),
                  c->idle_w, c->max_w, c->rmse_w, c->r2,
                  m == e->fit.best ? "best (lowest RMSE)" : c->clamped ? "held to maxPower >= "
                  "idlePower >= 0" : "");
    }
    if (e->fit.notice[0])
        jb_printf(b, "\n%s.\n", e->fit.notice);
}

void energy_render_md(const struct energy *e, struct jbuf *b)
{
    jb_printf(b, "\n## Power and energy\n\n");
    if (!e->lines) {
        jb_printf(b, "No host metrics: no power.\n");
        return;
    }
    if (!e->npower) {
        jb_printf(b, "No power measured on this node (no power source, or none readable): no "
                  "energy figures.\n");
        return;
    }
    sources_md(e, b);
    jb_printf(b, "Host intervals with the node's power: %zu of %zu (%.1f%% of %.1f s); counter "
              "resets %llu (their intervals left out), wraps %llu\n\n", e->npower, e->nh,
              e->window_ms > 0 ? 100.0 * e->covered_ms / e->window_ms : 0, e->window_ms / 1000,
              (unsigned long long)e->resets, (unsigned long long)e->wraps);
    jb_printf(b, "Energy over the run: %.1f J (mean %.1f W over the covered intervals)\n\n",
              e->energy_j, e->mean_w);
    if (e->has_idle)
        jb_printf(b, "Idle power: %.1f W (%s); energy above idle %.1f J, of which the tasks' "
                  "CPU explains %.1f J (%.1f%%)%s\n", e->idle_w, e->idle_source, e->above_idle_j,
                  e->attributed_j, e->above_idle_j > 0 ? 100 * e->attributed_j / e->above_idle_j
                  : 0, e->cores > 0 ? "" : " (no core count in node_meta: not attributed)");
    if (e->idle_share)
        jb_printf(b, "Idle energy given to tasks by wall time (--idle-share): %.1f J\n",
                  e->idle_attributed_j);
    fit_md(e, b);
}

static void fit_json(const struct energy *e, struct jbuf *b)
{
    jb_obj_open(b, "fit");
    jb_uint(b, "points", e->fit.n);
    jb_bool(b, "refused", e->fit.refused);
    jb_bool(b, "extrapolated", e->fit.extrapolated);
    if (e->fit.best >= 0)
        jb_str(b, "best", powerfit_name((enum powerfit_model)e->fit.best));
    else
        jb_null(b, "best");
    if (e->fit.notice[0])
        jb_str(b, "notice", e->fit.notice);
    jb_arr_open(b, "candidates");
    for (int m = 0; m < POWERFIT_NMODELS; m++) {
        const struct powerfit_cand *c = &e->fit.cand[m];
        jb_obj_open(b, NULL);
        jb_str(b, "type", powerfit_name(c->model));
        jb_bool(b, "fitted", c->ok);
        if (c->ok) {
            jb_double(b, "idle_w", c->idle_w);
            jb_double(b, "max_w", c->max_w);
            jb_double(b, "rmse_w", c->rmse_w);
            if (isfinite(c->r2))
                jb_double(b, "r2", c->r2);
        }
        jb_obj_close(b);
    }
    jb_arr_close(b);
    jb_obj_close(b);
}

void energy_render_json(const struct energy *e, struct jbuf *b)
{
    jb_obj_open(b, "power");
    if (e->sources)
        jb_json(b, "sources", e->sources);
    jb_bool(b, "measured", e->npower > 0);
    jb_uint(b, "host_intervals", e->nh);
    jb_uint(b, "intervals_with_power", e->npower);
    jb_double(b, "coverage", e->window_ms > 0 ? e->covered_ms / e->window_ms : 0);
    jb_uint(b, "resets", e->resets);
    jb_uint(b, "wraps", e->wraps);
    if (e->npower) {
        jb_double(b, "energy_j", e->energy_j);
        jb_double(b, "mean_w", e->mean_w);
    }
    if (e->has_idle) {
        jb_double(b, "idle_w", e->idle_w);
        jb_str(b, "idle_source", e->idle_source);
        jb_double(b, "above_idle_j", e->above_idle_j);
        jb_double(b, "tasks_j", e->attributed_j);
        jb_bool(b, "idle_share", e->idle_share);
        if (e->idle_share)
            jb_double(b, "tasks_idle_j", e->idle_attributed_j);
    }
    if (e->npower)
        fit_json(e, b);
    jb_obj_close(b);
}
