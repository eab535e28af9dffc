/* report.c -- `tracekit report`: options and the page's file; the loading
 * is report/report_load.c, the drawing report/report.c and report_odc.c. */
#include "cmd/commands.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "report/report_load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const usage[] = {
    "tracekit report --input DIR [--opendc DIR [--opendc-output DIR]] [--output FILE] [--quiet]",
    "tracekit report --opendc DIR [--output FILE] [--quiet]", NULL};
static const struct opt_cmd cmd = {
    .name = "report",
    .usage = usage,
    .description =
        "Write one self-contained HTML page (inline CSS and SVG, no network) about a\n"
        "parsed run: summary table, task timeline per node and CPU, host CPU and memory\n"
        "with the sampled processes' CPU, per-task CPU curves and the audit figures.\n"
        "For an OpenDC workload (tasks.parquet, fragments.parquet, topology.json, as\n"
        "written by 'tracekit export opendc'): its summary, the tasks as submitted, the\n"
        "CPU the fragments ask for against the topology's capacity, per-task curves.\n"
        "--opendc DIR alone draws that workload (as --input DIR would).  With a run,\n"
        "--opendc EXPORT and --opendc-output DIR (OpenDC's output for that export, or\n"
        "tracekit replay --opendc-output's), a section puts the run beside it: the figures\n"
        "of tracekit compare (docs/compare.md).\n",
};

/* The checks of the command line that need the disk: 0, or the exit code
 * after a cli_error. */
static int check_folders(const struct report_load_in *in)
{
    if (!is_dir(in->input)) {
        cli_error("--input '%s': not a folder", in->input);
        return TK_EXIT_FAIL;
    }
    if (in->opendc_output && (!in->opendc || report_load_is_workload(in->input))) {
        cli_error("--opendc-output '%s' goes with a run's --input and its export's --opendc", in->opendc_output);
        return TK_EXIT_USAGE;
    }
    if (in->opendc_output && !is_dir(in->opendc_output)) {
        cli_error("--opendc-output '%s': not a folder", in->opendc_output);
        return TK_EXIT_FAIL;
    }
    if (!in->opendc)
        return 0;
    if (report_load_is_workload(in->input)) {
        cli_error("--opendc '%s' goes with a run's --input, but --input '%s' is itself an OpenDC "
                  "workload",
                  in->opendc, in->input);
        return TK_EXIT_USAGE;
    }
    if (!is_dir(in->opendc)) {
        cli_error("--opendc '%s': not a folder", in->opendc);
        return TK_EXIT_FAIL;
    }
    if (!report_load_is_workload(in->opendc)) {
        cli_error("--opendc '%s': no tasks.parquet in it (expected the output of 'tracekit "
                  "export opendc')",
                  in->opendc);
        return TK_EXIT_FAIL;
    }
    return 0;
}

static void say_written(const char *dest, const struct report_load_out *r, size_t len)
{
    if (r->input_is_workload)
        printf("wrote %s (OpenDC workload: %zu task(s), %zu fragment(s), %.1f KiB)\n", dest,
               r->odc.ntasks, r->odc.nfrags, len / 1024.0);
    else if (r->has_workload)
        printf("wrote %s (%zu node(s), %zu task(s); OpenDC workload: %zu task(s), %zu "
               "fragment(s); %.1f KiB)\n",
               dest, r->run.nnodes, r->run.ntasks, r->odc.ntasks, r->odc.nfrags, len / 1024.0);
    else
        printf("wrote %s (%zu node(s), %zu task(s), %.1f KiB)\n", dest, r->run.nnodes,
               r->run.ntasks, len / 1024.0);
}

int cmd_report(int argc, char **argv)
{
    struct report_load_in in = {0};
    const char *output = NULL;
    bool quiet = false;
    struct opt opts[] = {
        OPT_STRING(0, "input", &in.input, "DIR",
                   "a parsed run folder (logs/RUN_ID with CTS/), an experiment folder with one "
                   "sub-folder per node (tracekit gather), or an OpenDC workload folder"),
        OPT_STRING(0, "opendc", &in.opendc, "DIR",
                   "also draw this OpenDC workload (e.g. the run's export) on the same page, "
                   "after the run, to compare the two"),
        OPT_STRING(0, "opendc-output", &in.opendc_output, "DIR",
                   "OpenDC's output for the --opendc export (raw-output/<scenario>/seed=<s>/, or a "
                   "folder above one): a section comparing it with the run"),
        OPT_STRING(0, "output", &output, "FILE",
                   "where to write (default DIR/report.html, DIR of --input)"),
        OPT_FLAG(0, "quiet", &quiet, "print nothing but errors"),
        OPT_END(),
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    if (n < 0)
        return opt_exit_code(n);
    if (!in.input && in.opendc && *in.opendc) {
        in.input = in.opendc;   /* the workload alone */
        in.opendc = NULL;
    }
    if (!in.input || !*in.input) {
        cli_error("--input DIR is required (a parsed run folder, an experiment folder or an "
                  "OpenDC workload)");
        return TK_EXIT_USAGE;
    }
    if (output && !*output) {
        cli_error("--output '': expected a file name");
        return TK_EXIT_USAGE;
    }
    if (in.opendc && !*in.opendc) {
        cli_error("--opendc '': expected an OpenDC workload folder");
        return TK_EXIT_USAGE;
    }
    int rc = check_folders(&in);
    if (rc)
        return rc;

    struct report_load_out r;
    char err[2048];
    if (report_load(&in, &r, err, sizeof err) < 0) {
        log_error("%s", err);
        return TK_EXIT_FAIL;
    }
    struct jbuf b;
    jb_init(&b);
    report_load_html(&r, &b);
    char *dflt = output ? NULL : path_join(in.input, "report.html");
    const char *dest = output ? output : dflt;
    if (write_file_atomic(dest, b.p, b.len) < 0) {
        log_error("cannot write %s: %s", dest, strerror(errno));
        rc = TK_EXIT_FAIL;
    } else if (!quiet) {
        say_written(dest, &r, b.len);
    }
    free(dflt);
    jb_free(&b);
    report_load_free(&r);
    return rc;
}
