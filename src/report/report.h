/* report.h -- the model behind `tracekit report` and its HTML/SVG rendering
 * (pure: no I/O).  report_load.c loads CTS files into a struct report; this
 * module lays tasks out into lanes, aggregates what is too dense to draw one
 * by one, and writes one self-contained HTML page (inline CSS and SVG, one
 * small inline script for the task selector). */
#ifndef TK_REPORT_H
#define TK_REPORT_H

#include "common/jsonl.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One task invocation. */
struct rp_task {
    char *trace_id;        /* may be NULL */
    size_t node, app;      /* indexes into report.nodes / report.apps */
    bool has_enq, has_start, has_end;
    int64_t enq, start, end;
    bool has_pid, has_st;
    int64_t pid, start_ticks;
    bool failed;
    char *cpuset;          /* applied CPU list ("0-1,4"), NULL if none */
    int lane;              /* set by report_layout; -1 = not drawable */
    bool has_energy;
    double energy_j;       /* its share of the node's energy (invocations.jsonl) */
};

/* One CTS proc_metrics record (the baseline, dt 0, is kept but adds nothing). */
struct rp_sample {
    int64_t pid, start_ticks;
    bool has_st;
    int64_t ts;
    double dt_ms, cpu_ms;
};

/* One host_metrics line; NAN where the line lacked the figure. */
struct rp_host {
    int64_t ts;
    double cpu_pct, mem_pct;
    bool has_power;
    double power_w;        /* the node's power (CTS node_power_w) */
};

struct rp_lane {
    bool is_cpu;           /* a CPU from the tasks' cpusets, else a greedy lane */
    int cpu;
};

struct rp_node {
    char *name;
    int cores;             /* 0 = unknown */
    struct rp_host *host;
    size_t nhost, caphost;
    struct rp_sample *samples;
    size_t nsamples, capsamples;
    json_t *audit;         /* CTS/audit.json, owned; NULL if missing */
    char *orig_audit;      /* without it: the original parse's CTS/audit_report.md (owned, or NULL) */
    bool has_raw;          /* the run folder still has raw samples: re-parsing gives our audit */
    /* report_layout */
    struct rp_lane *lanes;
    size_t nlanes;
    size_t ntasks;
};

struct report {
    char *title;
    struct rp_node *nodes;
    size_t nnodes, capnodes;
    struct rp_task *tasks;
    size_t ntasks, captasks;
    char **apps;
    size_t napps, capapps;
    /* the experiment's setup (report_load, from the controller's records),
     * owned, NULL if none: rows [label, text]; CPU binding -> tasks; and
     * trace_id -> profile (submitted.jsonl), the app a task is shown as */
    json_t *setup, *bindings, *profiles;
    /* trace_id -> module_id from the run folders' raw events.*.jsonl: the
     * app of a task whose CTS record has none (a CTS the original parsed) */
    json_t *event_apps;
    /* rendering choices */
    int width;                 /* plot width in px (default 1100) */
    size_t exact_max;          /* a node with more tasks gets a binned Gantt (default 4000) */
    size_t curves_max;         /* tasks offered in the CPU-curve selector (default 50) */
    bool has_axis;             /* draw over [axis0, axis1] ms instead of the run's own span */
    int64_t axis0, axis1;
};

void report_init(struct report *r, const char *title);
void report_free(struct report *r);
/* Returns the node's index; takes ownership of audit. */
size_t report_add_node(struct report *r, const char *name, int cores, json_t *audit);
/* Index of an app name (added if new); NULL/empty = "unknown". */
size_t report_app(struct report *r, const char *name);
/* Copies t (and its strings). */
void report_add_task(struct report *r, const struct rp_task *t);
void report_add_sample(struct report *r, size_t node, const struct rp_sample *s);
void report_add_host(struct report *r, size_t node, const struct rp_host *h);

/* CPUs of a cpuset list ("0-3,8,10-11") into cpus[max]; returns how many,
 * or -1 when the text is not a CPU list. */
int report_parse_cpuset(const char *s, int *cpus, int max);

/* Give every task a lane on its node: the first CPU of its cpuset when it
 * has one, else the first greedy lane free at its start (lanes after the
 * CPU lanes).  Sorts each node's samples for the per-task curves. */
void report_layout(struct report *r);

/* Figures for the summary table. */
struct rp_stats {
    size_t tasks, ok, failed;
    size_t nwait, nrun;
    double wait_mean, wait_p95, run_mean, run_p95;   /* ms; NAN if none */
};
/* app == (size_t)-1: all tasks. */
void report_stats(const struct report *r, size_t app, struct rp_stats *s);
/* First and last time of anything in the report; false if there is none. */
bool report_span(const struct report *r, int64_t *t0, int64_t *t1);

/* Sum of a node's sampled process CPU in % of the node (of one core when
 * cores are unknown), in bins over [t0, t1]: about width/2 bins, none
 * shorter than the median sampling interval.  Returns the bin count; *pct
 * (malloc'd) gets the values, *bin_ms the bin length. */
size_t report_proc_bins(const struct rp_node *n, int64_t t0, int64_t t1, int width, double **pct,
                        double *bin_ms);

/* Pieces of the page (each appends to b). */
void report_html_escape(struct jbuf *b, const char *s);
void report_gantt_svg(const struct report *r, size_t node, int64_t t0, int64_t t1, struct jbuf *b);
void report_util_svg(const struct report *r, size_t node, int64_t t0, int64_t t1, struct jbuf *b);
/* Per-task CPU curves: a <select> plus one SVG group per offered task. */
void report_curves_html(const struct report *r, struct jbuf *b);
/* Every task's CPU at once, one row per task (or the mean of several when
 * there are more than 400), coloured by the cores it used per bin over
 * [t0, t1]: printable, unlike the selector. */
void report_heatmap_svg(const struct report *r, int64_t t0, int64_t t1, struct jbuf *b);
/* Power and energy (report_power.c): each node's power beside its CPU over
 * [t0, t1], the OpenDC power models fitted to its points (trace/powerfit.h),
 * energy per node (from its audit) and per app (the tasks' energy_j). */
void report_power_html(const struct report *r, int64_t t0, int64_t t1, struct jbuf *b);
/* Colour keys of the apps; waits adds the wait and failure keys. */
void report_legend(const struct report *r, struct jbuf *b, bool waits);

/* The page: begin (head, styles, <h1>), any sections, end (the one script).
 * report_run_html writes the sections of a run: summary, experiment
 * setup, audit, timeline, utilisation, every task's CPU, task curves.
 * report_render_html is the three in a row. */
void report_html_begin(struct jbuf *b, const char *title);
void report_run_html(const struct report *r, struct jbuf *b);
void report_html_end(struct jbuf *b);
void report_render_html(const struct report *r, struct jbuf *b);

/* ---- drawing pieces shared with the OpenDC views (report_odc.c) ---- */

/* "850 ms", "12.3 s", "4.2 min", "1.50 h"; a dash for NAN. */
void report_dur(struct jbuf *b, double ms);
/* The colour of app (class) number i; the last one is shared by the rest. */
const char *report_colour(size_t i);
/* "950 MHz", "2.4 GHz". */
void report_mhz(struct jbuf *b, double mhz);

enum rp_unit { RP_CORES, RP_MHZ };

/* A piecewise-constant value over [t0, t1) ms. */
struct rp_step {
    double t0, t1, v;
};

/* One curve of a selector: <g class="CLS" id="CLS-K">, hidden unless k is
 * 0 (the page script shows the chosen one).  Drawn inside the SVG opened
 * by report_curve_svg_open (close it with "</svg>"). */
struct rp_curve {
    const char *cls;       /* "tc" (run tasks) or "oc" (workload tasks) */
    size_t k;
    double w0, w1;         /* time window shown, ms */
    double run0, run1;     /* shaded: the task's run */
    double ymax;
    enum rp_unit unit;
    double limit;          /* a dashed line (e.g. the task's cpu_capacity); NAN: none */
};
void report_curve_svg_open(struct jbuf *b, int width);
void report_curve_group(struct jbuf *b, int width, const struct rp_curve *c, const struct rp_step *s, size_t n);

/* A binned series as a filled area over time, with an optional dashed
 * limit (a capacity), in its own <svg class="CLS">. */
struct rp_series {
    const char *cls;
    const char *title;     /* heading inside the chart (escaped here) */
    double t0, t1;         /* ms: the time axis */
    double bin_ms;         /* bin k covers [t0 + k bin_ms, t0 + (k+1) bin_ms) */
    const double *v;
    size_t nb;
    enum rp_unit unit;
    double limit;          /* NAN: none */
    double ymax;           /* 0: from the values and the limit */
};
void report_series_svg(struct jbuf *b, int width, const struct rp_series *s);

#endif
