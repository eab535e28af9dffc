/* compare.c -- tracekit compare: OpenDC's output beside the measured run
 * (options and output only; the figures are opendc/opendc_compare.c). */
#include "cmd/commands.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "opendc/opendc_compare.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const usage[] = {
    "tracekit compare --run RUN_DIR --opendc-output DIR [--input EXPORT_DIR] [--scenario NAME] [--seed N]\n"
    "                 [--window-ms N] [--json]",
    NULL};
static const struct opt_cmd cmd = {
    .name = "compare",
    .usage = usage,
    .description =
        "Put OpenDC's output (task.parquet, host.parquet, powerSource.parquet; or what\n"
        "tracekit replay --opendc-output predicted) beside the measured run: makespan,\n"
        "per-task wait and run time (p50/p90/p99/mean and the per-task mean absolute\n"
        "error), tasks finished per window, per-host CPU utilisation and energy where both\n"
        "sides have it, and what either side lacks.  Tasks are joined through the export's\n"
        "ids (EXPORT_DIR/tasks.parquet: id and name = trace id) to RUN_DIR's\n"
        "CTS/invocations.jsonl, as tracekit replay --compare joins them.  Times are ms from\n"
        "the workload's clock 0 (the earliest submission); OpenDC's submission_time (epoch\n"
        "ms) is converted, never subtracted from its simulated times (docs/compare.md).\n"
        "DIR is OpenDC's raw-output/<scenario>/seed=<s>/ folder or any folder above it\n"
        "with one such output (else --scenario/--seed choose).  Rows that cannot be true\n"
        "(negative or absurd times, NaN) are left out of every figure, counted and said.\n",
    .epilogue = "Exit status: 0 compared, 1 an input could not be read (the message names the\n"
                "file and column), 2 a bad command line.\n",
};

static void print_json(const char *run, const char *dir, const struct odc_cmp *c)
{
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "run", run);
    jb_str(&b, "opendc_output", dir);
    odc_cmp_json(c, &b);
    jb_obj_close(&b);
    fwrite(b.p, 1, b.len, stdout);
    putchar('\n');
    jb_free(&b);
}

static int compare(const char *run, const char *input, const char *dir, int64_t window, bool json)
{
    struct odc_cmp_side pred, meas;
    int64_t t0 = 0;
    char err[1024];
    if (odc_cmp_load_pred(dir, &pred, &t0, err, sizeof err) < 0) {
        log_error("%s", err);
        return TK_EXIT_FAIL;
    }
    if (odc_cmp_load_meas(run, input, t0, &meas, err, sizeof err) < 0) {
        log_error("%s", err);
        odc_cmp_side_free(&pred);
        return TK_EXIT_FAIL;
    }
    struct odc_cmp c;
    odc_compare(&meas, &pred, window, &c);
    if (json) {
        print_json(run, dir, &c);
    } else {
        printf("compare: run %s beside %s\n", run, dir);
        odc_cmp_text(&c, stdout);
    }
    odc_cmp_free(&c);
    odc_cmp_side_free(&meas);
    odc_cmp_side_free(&pred);
    return TK_EXIT_OK;
}

int cmd_compare(int argc, char **argv)
{
    const char *run = NULL, *input = NULL, *out = NULL, *scenario = NULL;
    int64_t seed = -1, window = 0;
    bool json = false;
    struct opt opts[] = {
        OPT_STRING(0, "run", &run, "RUN_DIR", "the measured run (its CTS/, or its nodes' NODE/CTS/) (required)"),
        OPT_STRING(0, "input", &input, "EXPORT_DIR", "the export the simulation read (tasks.parquet: the "
                   "task ids' trace ids; default the nearest folder above DIR holding tasks.parquet)"),
        OPT_STRING(0, "opendc-output", &out, "DIR", "OpenDC's output folder (required)"),
        OPT_STRING(0, "scenario", &scenario, "NAME", "when DIR holds several outputs: the scenario folder"),
        OPT_INT(0, "seed", &seed, "N", 0, INT64_MAX, "when DIR holds several outputs: the seed=N folder"),
        OPT_INT(0, "window-ms", &window, "N", 1, 86400000, "throughput window in ms (default automatic: about "
                "20 windows over the longer makespan, 1-2-5 steps)"),
        OPT_FLAG(0, "json", &json, "one object on stdout instead of the table"),
        OPT_END(),
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    if (n < 0)
        return opt_exit_code(n);
    const char *need = !run ? "--run RUN_DIR" : !out ? "--opendc-output DIR" : NULL;
    if (need) {
        cli_error("%s is required", need);
        return TK_EXIT_USAGE;
    }
    const char *bad = !is_dir(run) ? run : input && !is_dir(input) ? input : !is_dir(out) ? out : NULL;
    if (bad) {
        log_error("'%s' is not a folder", bad);
        return TK_EXIT_FAIL;
    }
    char err[2048];
    char *dir = odc_cmp_find_output(out, scenario, seed, err, sizeof err);
    if (!dir) {
        log_error("--opendc-output: %s", err);
        return TK_EXIT_FAIL;
    }
    char *found = input ? NULL : odc_cmp_find_export(dir);
    int rc = TK_EXIT_FAIL;
    if (!input && !found)
        log_error("no export (tasks.parquet) in a folder above %s: give it with --input EXPORT_DIR", dir);
    else
        rc = compare(run, input ? input : found, dir, window, json);
    free(found);
    free(dir);
    return rc;
}
