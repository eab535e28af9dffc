/* replay_compare.h -- the replay's prediction beside the measured run:
 * tasks joined by the export's task ids (tasks.parquet's id and name =
 * trace_id, the run's CTS/invocations.jsonl). */
#ifndef TK_OPENDC_REPLAY_COMPARE_H
#define TK_OPENDC_REPLAY_COMPARE_H

#include "opendc/replay.h"

#include <stdio.h>

/* One measured task, epoch ms. */
struct rp_measured {
    int32_t id;
    int64_t enq, start, end;
};

struct rp_cmp {
    size_t matched;                    /* measured tasks the replay completed */
    int64_t makespan_meas_ms, makespan_pred_ms;   /* from the earliest submission */
    double makespan_error_pct;         /* (predicted - measured) / measured x 100 */
    double finish_mae_ms, start_mae_ms;
    double wait_mean_meas_ms, wait_mean_pred_ms;   /* start - submission */
};

/* Pure: the figures over the measured tasks the replay completed. */
void rp_compare(const struct rp_result *r, const struct rp_measured *m, size_t n, struct rp_cmp *out);

/* The run's tasks (RUN_DIR/CTS/invocations.jsonl, else RUN_DIR/<node>/CTS/...)
 * with the ids ODC_DIR/tasks.parquet gave them; *m malloc'd.  0, or -1
 * with err. */
int rp_measured_load(const char *run_dir, const char *odc_dir, struct rp_measured **m, size_t *n, char *err,
                     size_t errlen);

/* For tracekit export: replay ODC_DIR as experiment.json says, and print
 * the predicted makespan beside the measured one on out, with a WARNING
 * above 5% (naming the slot quantum when it is the main reason).  Quiet
 * (nothing printed) when the run's tasks cannot be read. */
void rp_export_note(const char *run_dir, const char *odc_dir, FILE *out);

/* The same figures: false (p zeroed) when the run's tasks cannot be read. */
struct rp_prediction {
    int64_t predicted_ms, measured_ms;   /* makespans, 1-s slots */
    double error_pct;                    /* (predicted - measured) / measured x 100 */
    bool warn;                           /* above 5% */
    bool slot_reason;                    /* 1-ms slots at least halve the gap: */
    int64_t ms_slots_predicted_ms;       /* ... the makespan with them */
    double ms_slots_error_pct;
};
bool rp_export_predict(const char *run_dir, const char *odc_dir, struct rp_prediction *p);
struct jbuf;
/* For tracekit export --json: a "prediction" member (null when quiet). */
void rp_export_json(const char *run_dir, const char *odc_dir, struct jbuf *b);

#endif
