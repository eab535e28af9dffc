/* audit.h -- how far a CTS trace can be trusted (pure: no I/O).
 *
 * Fed with the CTS proc_metrics records as they are derived, then finished
 * with the process identities and the task invocations, it computes the
 * original's checks (Summary, Field completeness, Temporal consistency,
 * Cross-reference; same lines, same numbers) plus per-task sampling
 * coverage, tasks without samples, sampled vs exact CPU, tick jitter, failed
 * tasks, PID reuse, clock figures and skipped raw lines, and (issue #14)
 * the run delay of every task, the share of the host's busy CPU the traced
 * processes explain, and where the exit readings came from.  The result renders
 * as audit_report.md and audit.json, and can be checked against limits
 * (`tracekit parse --strict`). */
#ifndef TK_AUDIT_H
#define TK_AUDIT_H

#include "common/jsonl.h"
#include "common/pairmap.h"
#include "trace/cts.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lines read from one raw file. */
struct audit_file {
    char *name;
    uint64_t lines, good, malformed, torn, invalid;
    bool unreadable;   /* a single-object file (node_meta.json) that did not parse */
};

/* Figures for one task (one invocation). */
struct audit_task {
    size_t inv;                     /* index into the invocations */
    uint64_t samples;               /* CTS records of the matching process(es) */
    size_t idents;
    bool has_window;                /* ts_start/ts_end numeric and duration > 0 */
    int64_t duration_ms;
    bool has_coverage;              /* has_window and samples > 0 */
    double coverage;                /* share of the run time between first and last sample */
    int64_t first_delay_ms, last_gap_ms;
    bool has_cpu_err;
    double cpu_samples_ms, cpu_rel_err;
    bool failed;
    bool has_delay;                 /* some record of its processes had run_delay_ms */
    double delay_ms, delay_cpu_ms;  /* run delay and CPU of those records */
    double wait_pct;                /* 100 x delay / (delay + their CPU); NAN: unknown or both 0 */
    bool has_rss;
    int64_t max_rss_kb;             /* largest rss_kb sample or rss_peak_kb exit record */
};

struct audit_limits {
    bool strict;
    int64_t max_unsampled;          /* -1: not checked */
    double min_coverage;            /* NAN: not checked */
    double max_cpu_error;
    double max_jitter_ms;           /* checked against p99 */
};

void audit_limits_default(struct audit_limits *l);

struct energy;

struct audit_context {
    const char *run_id, *node, *stage;
    double interval_ms;             /* sampling interval, 0 if unknown */
    const char *interval_source;    /* where interval_ms came from */
    bool has_clock_offset;
    double clock_offset_ms;         /* recorded by the collector */
    double cpu_cores;               /* node_meta.json cpu_cores, 0 if unknown */
    const char *collector_mode;     /* collector.json mode ("scan", "whitelist"), NULL if unknown */
    const char *exit_source;        /* collector.json exit_source ("taskstats", "proc"), NULL */
    const struct energy *energy;    /* the node's power and energy (energy.h), NULL if not read */
};

/* One host_metrics.jsonl interval. */
struct audit_host_iv {
    double lo, hi;                  /* ts_ms - dt_ms, ts_ms */
};

struct audit {
    /* streaming part (audit_add_rec) */
    struct pairmap pid_last;        /* pid -> last ts_ms (the original's per-PID check) */
    uint64_t pm_lines;
    uint64_t pm_miss_dt, pm_miss_cpu, pm_miss_rss;
    uint64_t ts_not_increasing, dt_negative;
    double *dts;                    /* on-grid dt_ms values */
    size_t ndts, cap_dts;
    /* host intervals (audit_add_host), merged into a sorted union before
     * the first record; the records' CPU inside them */
    struct audit_host_iv *host;
    size_t nhost, cap_host, nspan;
    bool host_merged;
    int64_t host_last_ts;           /* previous host line, for lines without dt_ms */
    size_t host_samples;
    double host_busy_frac_ms;       /* sum of busy fraction x dt_ms */
    double host_window_ms;          /* length of the union */
    double traced_cpu_ms;

    /* results (audit_finish) */
    struct audit_context ctx;
    const struct cts_inv *invs;
    size_t ninv;
    const struct cts *cts;
    struct audit_file *files;
    size_t nfiles;

    size_t inv_pids, pm_pids, both_pids;
    double pid_match_rate;
    size_t miss_trace_id, miss_enqueue, miss_start, miss_end, miss_pid;
    size_t order_violations;
    size_t unmatched_pids;
    int64_t *unmatched_sample;      /* up to 10 smallest */
    size_t nunmatched_sample;

    struct audit_task *tasks;       /* one per invocation */
    size_t sampled, unsampled, failed;
    double cov_min, cov_p50;        /* over tasks with coverage; NAN if none */
    size_t cpu_compared;
    double cpu_err_p50, cpu_err_max;    /* |relative error|; NAN if none */
    size_t cpu_err_worst;               /* task index */
    size_t idents_without_task;

    double interval_used;           /* interval the jitter is measured against */
    const char *interval_used_source;
    size_t jitter_n, late_ticks;
    double jitter_p50, jitter_p99, jitter_max;

    struct audit_reuse {
        int64_t pid;
        size_t idents, tasks;
    } *reuse;
    size_t nreuse;

    size_t enqueue_after_start;      /* ts_enqueue > ts_start */
    int64_t max_enqueue_lead_ms;
    /* of those, events without start_ticks (the original's ffmpeg wrapper),
     * led by at most 1 s: its ts_start is computed from btime, up to 1 s
     * early (original bug B5), not a clock difference */
    size_t enqueue_after_early_start;
    int64_t max_early_start_ms;

    size_t tasks_with_delay;         /* tasks whose run delay is known */
    double wait_p50, wait_max;       /* wait_pct over tasks; NAN if none */
    size_t wait_worst;               /* task index */
    double host_busy_ms;             /* busy fraction x dt x cores; NAN without cores */
    double explained_pct;            /* 100 x traced / busy; NAN when unknown */
    bool host_warning;               /* explained_pct < AUDIT_EXPLAINED_MIN_PCT */

    /* set by the caller (parse): executions left out because their attempt
     * of the same task ran again -- Redis lost acknowledged writes */
    size_t ran_twice;

    /* limits (audit_check) */
    bool checked, passed;
    char **violations;
    size_t nviolations;
};

void audit_init(struct audit *a);
void audit_free(struct audit *a);
/* Below this share of the host's busy CPU explained by traced processes,
 * the audit warns. */
#define AUDIT_EXPLAINED_MIN_PCT 80.0

/* One host_metrics.jsonl line (or the original's resources.jsonl): busy =
 * 1 - cpu_idle - cpu_iowait (else cpu_util / 100) over dt_ms (else the time
 * since the previous line).  Lines without them are not counted.  All host
 * lines come before the first audit_add_rec. */
void audit_add_host(struct audit *a, const json_t *line);
/* One CTS proc_metrics record, in file order. */
void audit_add_rec(struct audit *a, const struct cts_rec *r);
/* Compute all figures.  invs, cts and files must outlive the audit;
 * files are owned by the caller. */
void audit_finish(struct audit *a, const struct audit_context *ctx, const struct cts *cts,
                  const struct cts_inv *invs, size_t ninv, struct audit_file *files,
                  size_t nfiles);
/* Check the limits; returns the number of violations (also kept in a). */
size_t audit_check(struct audit *a, const struct audit_limits *l);

/* audit_report.md and audit.json. */
/* How the audit names executions left out as duplicates. */
#define AUDIT_RAN_TWICE_WHY "ran twice: Redis lost acknowledged writes"

void audit_render_md(const struct audit *a, struct jbuf *out);
void audit_render_json(const struct audit *a, struct jbuf *out);

/* Python's "{:.2%}". */
void audit_fmt_pct(char *buf, size_t len, double rate);

#endif
