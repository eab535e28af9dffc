/* opendc_compare.h -- OpenDC's output (or tracekit replay's prediction of it)
 * beside the measured run: makespan, per-task wait and run time, throughput
 * over time, per-host CPU utilisation and energy (docs/compare.md).
 *
 * odc_compare is pure: two sides of tasks, hosts and energy in, figures out.
 * Every time is in ms from one origin, the workload's clock 0 (the earliest
 * submission_time of the export, which is OpenDC's simulated 0); the loader
 * converts each side's time base to it.  A time of -1 is "none". */
#ifndef TK_OPENDC_COMPARE_H
#define TK_OPENDC_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct odc_cmp_task {
    int32_t id;                /* the export's task id */
    int64_t sub, start, end;   /* ms from the origin; -1: none */
    bool invalid;              /* its row on this side was dropped (odc_cmp_drop): in no figure */
};

/* Rows of OpenDC's output left out of the figures, by reason (each counted
 * and said: odc_cmp_drop_why). */
enum odc_cmp_drop {
    ODC_DROP_TASK_TIMES,   /* a COMPLETED task without 0 <= submission <= schedule <= finish */
    ODC_DROP_TASK_DUP,     /* a second row of a task_id at the same timestamp */
    ODC_DROP_HOST,         /* a host row with negative or non-finite figures */
    ODC_DROP_POWER,        /* a power-source row with a negative or non-finite energy */
    ODC_DROP_HOST_METRICS, /* a measured host line with cpu_idle or cpu_iowait outside 0..1 */
    ODC_DROP_MEAS_TIMES,   /* a measured task without ts_enqueue <= ts_start <= ts_end */
    ODC_DROP_N
};
/* What a reason means, naming the file (static text). */
const char *odc_cmp_drop_why(int reason);

struct odc_cmp_host {
    char *name;                /* malloc'd */
    double util;               /* 0..1 of the host's CPU over the side's window; NAN: unknown */
};

struct odc_cmp_side {
    struct odc_cmp_task *tasks;   /* malloc'd */
    size_t ntasks;
    struct odc_cmp_host *hosts;   /* malloc'd */
    size_t nhosts;
    bool has_energy;
    double energy_j;
    const char *energy_from;      /* static text: where energy_j comes from */
    size_t dropped[ODC_DROP_N];   /* rows left out, by reason */
};
void odc_cmp_side_free(struct odc_cmp_side *s);

struct odc_cmp_dist {
    size_t n;
    double p50, p90, p99, mean;   /* ms */
};

struct odc_cmp_hostpair {
    char *name;                   /* malloc'd (the figures outlive the sides) */
    double meas, pred;            /* NAN: that side lacks it */
};

struct odc_cmp {
    size_t matched;               /* tasks both sides completed */
    size_t meas_only, pred_only;  /* completed on one side only (or absent from the other) */
    int64_t makespan_meas_ms, makespan_pred_ms;   /* last end of the matched tasks; of all predicted */
    double makespan_error_pct;    /* (pred - meas) / meas x 100; as tracekit replay --compare */
    struct odc_cmp_dist wait_meas, wait_pred, run_meas, run_pred;   /* wait = start - sub, run = end - start */
    double wait_mae_ms, run_mae_ms, finish_mae_ms;   /* mean |pred - meas| per matched task */
    int64_t window_ms;            /* throughput window */
    size_t nwin;
    uint32_t *thr_meas, *thr_pred;   /* malloc'd: tasks ending in [i w, (i+1) w) */
    struct odc_cmp_hostpair *hosts;  /* malloc'd: hosts of either side, by name */
    size_t nhosts;
    bool has_energy_meas, has_energy_pred;
    double energy_meas_j, energy_pred_j, energy_error_pct;
    size_t dropped[ODC_DROP_N];   /* OpenDC's rows left out, by reason */
    size_t invalid;               /* tasks left out of every figure: a row dropped on either side */
};

/* window_ms 0: automatic (a 1-2-5 step giving about 20 windows over the
 * longer makespan).  out freed with odc_cmp_free. */
void odc_compare(const struct odc_cmp_side *meas, const struct odc_cmp_side *pred, int64_t window_ms,
                 struct odc_cmp *out);
void odc_cmp_free(struct odc_cmp *c);

struct jbuf;
/* The figures as members of an open JSON object (docs/compare.md). */
void odc_cmp_json(const struct odc_cmp *c, struct jbuf *b);
/* The figures as a table. */
void odc_cmp_text(const struct odc_cmp *c, FILE *f);
/* What either side lacks, as sentences (static text); returns how many (at most max). */
size_t odc_cmp_missing(const struct odc_cmp *c, const char **out, size_t max);
/* The rows left out, one malloc'd sentence each ("N row(s) of ..."); returns how many (at most max). */
size_t odc_cmp_dropped(const struct odc_cmp *c, char **out, size_t max);

/* ---- the files (opendc_compare_load.c) ---- */

/* Where OpenDC's output files are: DIR itself when it holds task.parquet,
 * else the one folder below it (raw-output/<scenario>/seed=<s>/, at most 4
 * levels down) holding one, narrowed by scenario and seed (NULL / -1: any).
 * Malloc'd path, or NULL with err (none, or several: they are listed). */
char *odc_cmp_find_output(const char *dir, const char *scenario, int64_t seed, char *err, size_t errlen);

/* The export above an output folder: the nearest folder above out_dir
 * holding tasks.parquet (where `opendc run experiment.json` ran, its output
 * in output/<experiment>/raw-output/...).  Malloc'd, or NULL. */
char *odc_cmp_find_export(const char *out_dir);

/* The predicted side from an output folder: task.parquet (the last row of
 * each task_id), host.parquet, powerSource.parquet when present.  *t0 is
 * OpenDC's clock 0 in epoch ms (timestamp_absolute - timestamp), which every
 * row must share and which must lie between 1970 and 2200; times beyond
 * that range, negative figures and NaN are rows dropped (s->dropped).
 * 0, or -1 with err naming the file and column. */
int odc_cmp_load_pred(const char *dir, struct odc_cmp_side *s, int64_t *t0, char *err, size_t errlen);

/* The measured side: the run's tasks joined to the export's ids (as tracekit
 * replay --compare joins them), its hosts' utilisation from
 * CTS/host_metrics.jsonl over [t0, the last task's end] and its energy from
 * CTS/nodes.json (the whole run).  0, or -1 with err. */
int odc_cmp_load_meas(const char *run_dir, const char *export_dir, int64_t t0, struct odc_cmp_side *s,
                      char *err, size_t errlen);

#endif
