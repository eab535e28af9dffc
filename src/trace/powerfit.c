/* powerfit.c -- OpenDC's CPU power models fitted to measured points by
 * weighted least squares (see powerfit.h for the models and the rules). */
#include "trace/powerfit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const names[POWERFIT_NMODELS] = {"linear", "square", "cubic", "sqrt"};

void powerfit_opts_default(struct powerfit_opts *o)
{
    o->util_needed = POWERFIT_UTIL_NEEDED;
    o->extrapolate = false;
    o->forced = -1;
}

const char *powerfit_name(enum powerfit_model m)
{
    return (unsigned)m < POWERFIT_NMODELS ? names[m] : "?";
}

int powerfit_model_of(const char *name)
{
    for (int i = 0; name && i < POWERFIT_NMODELS; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

static double clamp01(double u)
{
    return u < 0 ? 0 : u > 1 ? 1 : u;
}

static double shape(enum powerfit_model m, double u)
{
    u = clamp01(u);
    switch (m) {
    case POWERFIT_LINEAR: return u;
    case POWERFIT_SQUARE: return u * u;
    case POWERFIT_CUBIC: return u * u * u;
    case POWERFIT_SQRT: return sqrt(u);
    default: return NAN;
    }
}

double powerfit_eval(enum powerfit_model m, double idle_w, double max_w, double util)
{
    return idle_w + (max_w - idle_w) * shape(m, util);
}

static bool usable(const struct powerfit_point *q)
{
    return isfinite(q->util) && isfinite(q->watts) && isfinite(q->weight);
}

static double weight(const struct powerfit_point *q)
{
    return q->weight > 0 ? q->weight : 1.0;
}

/* One model: P = a + b g(u) with b >= 0 and a >= 0 (PowerSpec rejects
 * maxPower < idlePower; negative idle power is not physical). */
static void fit_one(const struct powerfit_point *p, size_t n, enum powerfit_model m,
                    struct powerfit_cand *c)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        if (!usable(&p[i]))
            continue;
        double w = weight(&p[i]), x = shape(m, p[i].util), y = p[i].watts;
        sw += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
    }
    memset(c, 0, sizeof *c);
    c->model = m;
    c->rmse_w = c->r2 = NAN;
    double den = sw * sxx - sx * sx;
    if (!(sw > 0) || !(den > 1e-12 * sw * sw))
        return;  /* no spread in g(u): the slope is undetermined */
    double b = (sw * sxy - sx * sy) / den, a = (sy - b * sx) / sw;
    if (b < 0) {
        b = 0, a = sy / sw, c->clamped = true;
    }
    if (a < 0) {
        a = 0, b = sxx > 0 ? sxy / sxx : 0, c->clamped = true;
        if (b < 0)
            b = 0;
    }
    double mean = sy / sw, ssr = 0, sst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!usable(&p[i]))
            continue;
        double w = weight(&p[i]), e = p[i].watts - (a + b * shape(m, p[i].util));
        double d = p[i].watts - mean;
        ssr += w * e * e, sst += w * d * d;
    }
    c->ok = true;
    c->idle_w = a;
    c->max_w = a + b;
    c->rmse_w = sqrt(ssr / sw);
    c->r2 = sst > 0 ? 1.0 - ssr / sst : NAN;
}

int powerfit_fit(const struct powerfit_point *p, size_t n, const struct powerfit_opts *o,
                 struct powerfit_result *r)
{
    struct powerfit_opts dflt;
    if (!o) {
        powerfit_opts_default(&dflt);
        o = &dflt;
    }
    memset(r, 0, sizeof *r);
    r->best = -1;
    r->util_min = INFINITY;
    r->util_max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!usable(&p[i]))
            continue;
        double u = clamp01(p[i].util);
        r->n++;
        r->util_min = fmin(r->util_min, u);
        r->util_max = fmax(r->util_max, u);
    }
    for (int m = 0; m < POWERFIT_NMODELS; m++) {
        r->cand[m].model = (enum powerfit_model)m;
        r->cand[m].rmse_w = r->cand[m].r2 = NAN;
    }
    if (r->n < POWERFIT_MIN_POINTS) {
        snprintf(r->notice, sizeof r->notice, "only %zu measured interval(s) with power: at "
                 "least %d are needed for a fit", r->n, POWERFIT_MIN_POINTS);
        r->refused = true;
        return -1;
    }
    if (r->util_max < o->util_needed) {
        if (!o->extrapolate) {
            snprintf(r->notice, sizeof r->notice, "the run never went above %.0f%% CPU "
                     "utilisation (%.0f%% needed): maxPower would be extrapolated, so no model "
                     "was fitted", 100 * r->util_max, 100 * o->util_needed);
            r->refused = true;
            return -1;
        }
        r->extrapolated = true;
        snprintf(r->notice, sizeof r->notice, "maxPower extrapolated: the run never went above "
                 "%.0f%% CPU utilisation", 100 * r->util_max);
    }
    for (int m = 0; m < POWERFIT_NMODELS; m++) {
        fit_one(p, n, (enum powerfit_model)m, &r->cand[m]);
        if (!r->cand[m].ok)
            continue;
        if (o->forced == m || (o->forced < 0 && (r->best < 0 ||
                                                 r->cand[m].rmse_w < r->cand[r->best].rmse_w)))
            r->best = m;
    }
    if (r->best < 0) {
        snprintf(r->notice, sizeof r->notice, "%s", o->forced >= 0 && r->cand[0].ok
                 ? "the forced model could not be fitted"
                 : "the utilisation did not vary (all intervals at one level): no slope to fit");
        r->refused = true;
        return -1;
    }
    return 0;
}
