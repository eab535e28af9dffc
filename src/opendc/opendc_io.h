/* opendc_io.h -- the file side of the OpenDC export: reading a parsed run
 * (CTS folders) into an odc_input, and writing tasks.parquet,
 * fragments.parquet, topology.json and export_report.md. */
#ifndef TK_OPENDC_IO_H
#define TK_OPENDC_IO_H

#include "opendc/opendc.h"

#include <stdio.h>

struct progress;

/* Load DIR: one node folder (DIR/CTS/, or the legacy DIR/cctf/) or an
 * experiment folder with one sub-folder per node (DIR/NODE/CTS/, e.g. the
 * original's RUN_ID(c0), RUN_ID(c1) ...; ordered by the cN number, else by
 * name).  Per node: CTS/nodes.json, CTS/invocations.jsonl (the original five
 * fields, or ours with status, start_ticks, exact CPU totals ...),
 * CTS/proc_metrics.jsonl, and node_meta.json if present.  Malformed lines
 * are skipped and counted.  pg (NULL for none) shows the lines read.  The
 * samples go to in->store (opendc_store.h), sorted out of memory in
 * unlinked files in spill_dir (NULL: TMPDIR, else /tmp).
 * Returns 0, or -1 with a message in err. */
int odc_load(const char *dir, const char *spill_dir, struct odc_input *in, struct progress *pg, char *err,
             size_t errlen);

struct odc_write_opts {
    int codec;                 /* PQ_CODEC_* */
    const char *input;         /* for the report */
    const char *command_line;  /* for the report */
    struct progress *progress; /* rows written, on a terminal; NULL for none */
};

/* Write the export's files (tasks.parquet, fragments.parquet, topology.json,
 * links.json, export_report.md) as one set: into a staging folder
 * PARENT/.NAME.export.tmp.PID next to out_dir, with out_dir's other files
 * copied over, then swapped in place of out_dir (created if needed).  On any
 * failure the previous out_dir is untouched and the staging folder removed.
 * Returns 0, or -1 with a message in err. */
int odc_write(const char *out_dir, const struct odc_input *in, const struct odc_opts *o,
              const struct odc_result *res, const struct odc_write_opts *w, char *err, size_t errlen);

/* Each node's cpuPowerModel (opendc_power.c), from its CTS folder: parse's
 * fit in audit.json when it has the model wanted, else a refit of the
 * node's CTS host_metrics.jsonl (energy_cts_point); OpenDC's default when
 * the node recorded no power or no model could be fitted.  power_model:
 * odc_opts.power_model. */
void odc_power_load(struct odc_input *in, int power_model);
/* export_report.md: the power bullets of the simulation section (how many
 * hosts got a measured model; the energy figures that are assumptions), and
 * the section with every node's candidates (idle, max, RMSE, R^2), the one
 * chosen and the fit's notice. */
void odc_power_report_bullets(FILE *f, const struct odc_input *in);
void odc_power_report_section(FILE *f, const struct odc_input *in);

/* The whole export (`tracekit export opendc`): odc_load input (reading
 * w->progress), odc_power_load (o->power_model), refuse a run without invocations, odc_export, odc_write to
 * output.  0, with *in and *res the caller's to free (for its summary), or
 * -1 with err and both freed. */
int odc_export_dir(const char *input, const char *output, const struct odc_opts *o,
                   const struct odc_write_opts *w, struct odc_input *in, struct odc_result *res,
                   char *err, size_t errlen);

#endif
