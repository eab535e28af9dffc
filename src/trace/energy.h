/* energy.h -- a node's measured power over a run: its series, its energy,
 * its idle power, the OpenDC power model fits, and each task's energy
 * (pure: JSON values in, figures out; parse_run.c does the I/O).
 *
 * The node's power in a host interval is the sum of the sources node_meta
 * marks in_total (all of the line's power_w when node_meta lists none); an
 * interval lacking one of them has no node power (a gap, never
 * interpolated).  Units: ms for times, W, J; utilisation 0..1 of the host.
 *
 * Idle power (docs/cts.md): the intercept of the linear fit when the run
 * went down to IDLE_FIT_UTIL_MAX utilisation and the fit could be made;
 * else the mean power of the lowest-utilisation intervals (within 5 points
 * of the lowest); else none.
 *
 * Task energy: in each host interval with power, the energy above idle,
 * max(0, P - idle) x dt, is shared by CPU: a task gets its CPU in the
 * interval over the host's busy CPU (cpu_util x cores x dt; the sum of the
 * tasks' CPU when that is larger).  A process interval straddling host
 * intervals is split by time.  With idle_share, a task also gets idle power
 * by wall time: at each moment (covered by host intervals with power) the
 * idle power is shared equally by the tasks present (first to last sample). */
#ifndef TK_ENERGY_H
#define TK_ENERGY_H

#include "common/jsonl.h"
#include "trace/powerfit.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENERGY_IDLE_FIT_UTIL_MAX 0.2

struct energy_hiv {
    double lo, hi;      /* ms */
    double busy;        /* 0..1 */
    bool has_w;
    double w;           /* node power */
};

struct energy_piv {
    size_t task;
    double lo, hi, cpu_ms;
};

struct energy {
    /* from node_meta */
    json_t *sources;            /* its power_sources array (a reference) or NULL */
    double cores;               /* CPUs /proc/stat's utilisation is over; 0 = unknown */
    /* fed */
    struct energy_hiv *h;
    size_t nh, caph;
    struct energy_piv *p;
    size_t np, capp;
    int64_t last_ts;
    uint64_t lines, resets, wraps;
    /* results (energy_finish) */
    size_t npower;              /* host intervals with node power */
    double window_ms, covered_ms;
    double energy_j, mean_w;    /* over the covered intervals */
    bool has_idle;
    double idle_w;
    const char *idle_source;
    double above_idle_j, attributed_j, idle_attributed_j;
    struct powerfit_result fit;
    bool fitted;
    size_t ntasks;
    double *task_j;             /* above idle, by CPU; NAN for a task without samples */
    double *task_idle_j;        /* by wall time; 0 without idle_share */
    bool idle_share;
};

/* meta: node_meta.json (may be NULL). */
void energy_init(struct energy *e, const json_t *meta);
void energy_free(struct energy *e);
/* One host_metrics line, in file order.  Returns true with *node_w when the
 * line's interval has node power. */
bool energy_add_host(struct energy *e, const json_t *line, double *node_w);
/* One process interval (a CTS record: [ts - dt, ts]) of task `task`. */
void energy_add_proc(struct energy *e, size_t task, double lo_ms, double hi_ms, double cpu_ms);
/* Fit, idle power, and the tasks' energies (ntasks of them). */
void energy_finish(struct energy *e, size_t ntasks, bool idle_share);
/* Does the node have power at all (some interval with node power)? */
bool energy_has_power(const struct energy *e);
/* A task's energy (plus its idle share when asked); NAN when unknown. */
double energy_task(const struct energy *e, size_t task);

/* One fit point from a CTS host_metrics line (node_power_w, the busy share
 * 1 - cpu_idle - cpu_iowait or cpu_util / 100, dt_ms / 1000 as the weight):
 * the points parse fitted, for a consumer that refits them (the OpenDC
 * export with a forced model or extrapolation allowed).  False when the line
 * has no node power or no utilisation. */
bool energy_cts_point(const json_t *line, struct powerfit_point *p);

/* The audit's power section (markdown) and "power" object (JSON). */
void energy_render_md(const struct energy *e, struct jbuf *b);
void energy_render_json(const struct energy *e, struct jbuf *b);

#endif
