/* powerfit.h -- least-squares fits of OpenDC's CPU power models to measured
 * (host CPU utilisation, watts) pairs (pure: no I/O).
 *
 * The models are those of OpenDC's CpuPowerModels (read at HEAD): with the
 * utilisation u clamped to [0, 1],
 *     P(u) = idlePower + (maxPower - idlePower) x g(u),
 *     g = u (linear), u^2 (square), u^3 (cubic), sqrt(u) (sqrt),
 * written into a topology as PowerSpec {type, idlePower, maxPower} with
 * unit strings ("50.0 W").  Each model is linear in its two parameters,
 * so each fit is a weighted linear regression of P on g(u), constrained to
 * what PowerSpec accepts (maxPower >= idlePower >= 0).
 *
 * Units: utilisation as a fraction 0..1 of the whole host, watts, weights
 * in any unit (the interval lengths; 0 counts as 1).
 *
 * A run that never went above `util_needed` gives no maxPower without
 * extrapolating: the fit is refused with a notice saying so, unless
 * `extrapolate` is set, in which case it is made and the notice says that
 * maxPower was extrapolated. */
#ifndef TK_POWERFIT_H
#define TK_POWERFIT_H

#include <stdbool.h>
#include <stddef.h>

enum powerfit_model {
    POWERFIT_LINEAR,
    POWERFIT_SQUARE,
    POWERFIT_CUBIC,
    POWERFIT_SQRT,
    POWERFIT_NMODELS,
};

#define POWERFIT_UTIL_NEEDED 0.5   /* default: the run must reach 50% utilisation */
#define POWERFIT_MIN_POINTS 3

struct powerfit_point {
    double util;     /* 0..1 (values outside are clamped, as OpenDC does) */
    double watts;
    double weight;   /* e.g. the interval's seconds; <= 0 counts as 1 */
};

struct powerfit_opts {
    double util_needed;   /* highest utilisation must reach this (default POWERFIT_UTIL_NEEDED) */
    bool extrapolate;     /* fit anyway when it does not (the notice says so) */
    int forced;           /* a model to choose whatever its RMSE; -1 = the best by RMSE */
};

struct powerfit_cand {
    enum powerfit_model model;
    bool ok;              /* fitted */
    double idle_w, max_w; /* PowerSpec idlePower, maxPower */
    double rmse_w;        /* weighted root mean square error */
    double r2;            /* weighted coefficient of determination (NAN when P is constant) */
    bool clamped;         /* the unconstrained optimum broke maxPower >= idlePower >= 0 */
};

struct powerfit_result {
    size_t n;                     /* points used (finite ones) */
    double util_min, util_max;    /* clamped */
    bool refused;                 /* no candidate fitted; notice says why */
    bool extrapolated;            /* fitted although util_max < util_needed */
    int best;                     /* index into cand, -1 when refused */
    struct powerfit_cand cand[POWERFIT_NMODELS];
    char notice[256];             /* "" or one sentence for the user */
};

void powerfit_opts_default(struct powerfit_opts *o);
/* "linear", "square", "cubic", "sqrt". */
const char *powerfit_name(enum powerfit_model m);
/* The model of a name above; -1 when none. */
int powerfit_model_of(const char *name);
/* OpenDC's P(u) for the model (u clamped to [0, 1]). */
double powerfit_eval(enum powerfit_model m, double idle_w, double max_w, double util);
/* Fit every model to p[0..n).  Always fills r; returns 0 when a model was
 * chosen (r->best), -1 when refused (r->notice says why). */
int powerfit_fit(const struct powerfit_point *p, size_t n, const struct powerfit_opts *o,
                 struct powerfit_result *r);

#endif
