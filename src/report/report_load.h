/* report_load.h -- what `tracekit report` draws, read from disk: the CTS
 * files of one run folder or of every node of an experiment folder into a
 * struct report (report.h), and an OpenDC workload into a struct
 * report_odc (report_odc.h); then the page of both.
 *
 *     struct report_load_in in = {.input = "logs/r1", .opendc = "opendc/r1"};
 *     struct report_load_out out;
 *     if (report_load(&in, &out, err, sizeof err) < 0) ...
 *     report_load_html(&out, &b);
 *     report_load_free(&out);
 *
 * Per node it reads CTS/nodes.json (name, cores), CTS/audit.json,
 * CTS/invocations.jsonl, CTS/proc_metrics.jsonl and CTS/host_metrics.jsonl
 * (the original's resources.jsonl when there is none); the legacy cctf/
 * works too.  Missing files are fine, malformed and torn lines are skipped:
 * both are said with log_warn, as is a node folder without CTS/. */
#ifndef TK_REPORT_LOAD_H
#define TK_REPORT_LOAD_H

#include "report/report.h"
#include "report/report_odc.h"
#include "opendc/opendc_compare.h"

#include <stdbool.h>

struct report_load_in {
    const char *input;     /* a parsed run folder, an experiment folder or an OpenDC workload */
    const char *opendc;    /* a workload drawn after the run, on the same page; NULL: none */
    const char *opendc_output;   /* OpenDC's output for that workload (with a run and opendc):
                                  * the comparison's section (tracekit compare); NULL: none */
};

struct report_load_out {
    bool input_is_workload;    /* input is an OpenDC workload: run is left empty */
    bool has_workload;         /* odc holds a workload (input's or opendc's) */
    char *title;               /* the page's: input's last path element (malloc'd) */
    struct report run;
    struct report_odc odc;
    bool has_cmp;              /* opendc_output given: */
    char *cmp_dir;             /* the output folder found there (malloc'd) */
    struct odc_cmp cmp;
};

/* Does dir hold an OpenDC workload (tasks.parquet)? */
bool report_load_is_workload(const char *dir);

/* The CTS of run_dir (one node) into r; false (said) when it has no CTS/. */
bool report_load_node(struct report *r, const char *run_dir);

/* The nodes of input, a run folder or an experiment folder, into r.
 * Returns how many nodes were loaded, or -1 with err when none was. */
int report_load_run(struct report *r, const char *input, char *err, size_t errlen);

/* Load what in names.  0, or -1 with err (out is freed then).  The checks
 * of a command line (folders exist, --opendc with a run) are the caller's. */
int report_load(const struct report_load_in *in, struct report_load_out *out, char *err,
                size_t errlen);
void report_load_free(struct report_load_out *out);

/* The whole page: the run's sections, then the workload's. */
void report_load_html(struct report_load_out *out, struct jbuf *b);

#endif
