/* parse_run.h -- parse one node's run folder into RUN/CTS/ (the I/O around
 * cts.c and audit.c; used by `tracekit parse` and `tracekit gather`).
 *
 * Reads node_meta.json, proc_metrics.jsonl, events.*.jsonl (or an
 * events.jsonl left by the original when there are none) and
 * host_metrics.jsonl (or the original's resources.jsonl), and collector.json
 * (mode, exit source and interval for the audit); writes
 * RUN/events.jsonl and RUN/CTS/{invocations.jsonl, proc_metrics.jsonl,
 * host_metrics.jsonl, nodes.json, audit_report.md, audit.json}.  CTS is
 * written as RUN/CTS.tmp.PID and swapped in at the end, so readers see the
 * old folder or the new one, never a half-written one. */
#ifndef TK_PARSE_RUN_H
#define TK_PARSE_RUN_H

#include "trace/audit.h"

struct progress;

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct parse_opts {
    const char *run_dir;
    const char *run_id;          /* for the reports; NULL = the folder's name */
    const char *node_id;         /* --node-id: wins over node_meta.json; NULL if not given */
    const char *node_default;    /* when neither gives one (NODE_ID or host name) */
    const char *stage;           /* --stage: wins over node_meta.json */
    const char *stage_default;
    double interval_ms;          /* --interval-ms, 0 = from the run's files */
    struct audit_limits limits;
    struct progress *progress;   /* lines read, on a terminal (progress.h); NULL for none */
    bool idle_share;             /* tasks' energy_j includes their share of idle power */
};

struct parse_result {
    char *cts_dir;               /* where the CTS files are */
    char *node, *stage;
    uint64_t raw_lines, raw_skipped, records, processes;
    uint64_t event_files, events, events_skipped;
    uint64_t host_lines, host_skipped;
    bool has_meta;
    size_t tasks, unsampled, failed;
    double interval_ms;
    const char *interval_source;
    double jitter_p99;           /* NAN if not measured */
    double explained_pct;        /* traced CPU / host busy CPU x 100; NAN if unknown */
    bool host_warning;           /* explained_pct below AUDIT_EXPLAINED_MIN_PCT */
    char **violations;           /* --strict findings (empty when within limits) */
    size_t nviolations;
    double seconds;              /* wall time of the parse */
    char power[320];             /* the node's energy, idle power and best power model in one
                                    line; "" without power */
};

/* 0 on success (also when limits are exceeded: see r->nviolations), -1 on
 * failure with a message in err. */
int parse_run(const struct parse_opts *o, struct parse_result *r, char *err, size_t errlen);
void parse_result_free(struct parse_result *r);

#endif
