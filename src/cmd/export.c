/* export.c -- tracekit export opendc: options and the summary; the export
 * is opendc/opendc_io.c (odc_export_dir: read, build, write). */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/progress.h"
#include "common/util.h"
#include "opendc/opendc.h"
#include "opendc/opendc_io.h"
#include "opendc/replay_compare.h"
#include "parquet/parquet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const usage[] = {"tracekit export opendc --input DIR --output DIR [options]", NULL};
static const struct opt_verb formats[] = {
    {"opendc", "an OpenDC workload: tasks.parquet, fragments.parquet, topology.json, experiment.json"},
    {NULL, NULL},
};
static const struct opt_cmd cmd = {
    .name = "export",
    .usage = usage,
    .description =
        "Turn a parsed run into an OpenDC workload: tasks.parquet, fragments.parquet,\n"
        "topology.json (one host per node, with the CPU power model fitted to its\n"
        "measured power), experiment.json (OpenDC's experiment: the topology, the\n"
        "workload, the run's allocation policy; `opendc run experiment.json`) and\n"
        "export_report.md (every correction made, listed; each node's power model fits).\n"
        "DIR is one node's run folder (with CTS/, or the legacy cctf/) or an experiment\n"
        "folder with one sub-folder per node (e.g. RUN_ID(c0), RUN_ID(c1)).\n",
    .verbs = formats,
    .verb_noun = "export format",
    .epilogue = "The allocation policy in experiment.json is the one the run recorded\n"
                "(placements.jsonl); the policy options state it instead, as the scheduler\n"
                "was given them (needed for --filters/--weighers, which the run records as\n"
                "'custom').\n"
                "On a terminal, a progress line on stderr shows the lines read and rows written.\n",
};

/* An option taking one of a few words (--compression zstd). */
struct choice {
    const char *word;
    int value;
};
struct choice_opt {
    int *dst;
    const struct choice *choices;   /* {NULL} terminated */
};

static int set_choice(const struct opt *o, const char *arg, void *value)
{
    const struct choice_opt *c = value;
    char words[128] = "";
    size_t n = 0;
    while (c->choices[n].word)
        n++;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(arg, c->choices[i].word)) {
            *c->dst = c->choices[i].value;
            return 0;
        }
        size_t used = strlen(words);
        snprintf(words + used, sizeof words - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                 c->choices[i].word);
    }
    cli_error("--%s: '%s' is not %s", o->long_name, arg, words);
    return -1;
}

static const struct choice codecs[] = {
    {"snappy", PQ_CODEC_SNAPPY}, {"zstd", PQ_CODEC_ZSTD}, {"none", PQ_CODEC_UNCOMPRESSED}, {NULL, 0}};
static const struct choice mem_units[] = {{"kb", ODC_MEM_KB}, {"mb", ODC_MEM_MB}, {NULL, 0}};
static const struct choice id_modes[] = {
    {"auto", ODC_ID_AUTO}, {"pid", ODC_ID_PID}, {"sequential", ODC_ID_SEQUENTIAL}, {NULL, 0}};
static const struct choice failed_modes[] = {{"include", 0}, {"exclude", 1}, {NULL, 0}};
static const struct choice unsampled_modes[] = {
    {"keep", ODC_UNSAMPLED_KEEP}, {"drop", ODC_UNSAMPLED_DROP}, {"zero", ODC_UNSAMPLED_ZERO}, {NULL, 0}};
static const struct choice attempt_modes[] = {{"last", 0}, {"all", 1}, {NULL, 0}};
static const struct choice submissions[] = {
    {"enqueue", ODC_SUB_ENQUEUE}, {"start", ODC_SUB_START}, {"slot", ODC_SUB_SLOT}, {NULL, 0}};
static const struct choice power_models[] = {
    {"auto", ODC_POWER_AUTO},
    {"linear", ODC_POWER_FORCE + POWERFIT_LINEAR},
    {"square", ODC_POWER_FORCE + POWERFIT_SQUARE},
    {"cubic", ODC_POWER_FORCE + POWERFIT_CUBIC},
    {"sqrt", ODC_POWER_FORCE + POWERFIT_SQRT},
    {NULL, 0}};
static const struct choice cpu_usages[] = {
    {"received", ODC_USAGE_RECEIVED}, {"demand", ODC_USAGE_DEMAND}, {NULL, 0}};

/* "tracekit export opendc ...", for the report (malloc'd). */
static char *command_line(int argc, char **argv)
{
    struct jbuf b;
    jb_init(&b);
    jb_append(&b, "tracekit", strlen("tracekit"));
    for (int i = 0; i < argc; i++) {
        jb_append(&b, " ", 1);
        jb_append(&b, argv[i], strlen(argv[i]));
    }
    jb_append(&b, "", 1);
    return b.p;
}

/* The run delay, what demand did with it, and each node's host CPU figure. */
static void print_json_delay(struct jbuf *b, const struct odc_input *in, const struct odc_result *res)
{
    jb_obj_open(b, "run_delay");
    jb_uint(b, "sampled_fragments", res->sampled_frags);
    jb_uint(b, "fragments_without_run_delay", res->no_delay_frags);
    jb_fixed(b, "run_delay_ms", res->delay_ms, 3);
    jb_fixed(b, "demand_added_ms", res->demand_added_ms, 3);
    jb_fixed(b, "demand_capped_ms", res->demand_capped_ms, 3);
    jb_obj_close(b);
    jb_arr_open(b, "host_cpu");
    for (size_t k = 0; k < in->n_nodes; k++) {
        const struct odc_node *nd = &in->nodes[k];
        if (!nd->has_host_cpu)
            continue;
        jb_obj_open(b, NULL);
        jb_str(b, "node", nd->node_id);
        if (nd->has_explained)
            jb_fixed(b, "explained_pct", nd->explained_pct, 1);
        else
            jb_null(b, "explained_pct");
        jb_bool(b, "warning", nd->host_warning);
        jb_obj_close(b);
    }
    jb_arr_close(b);
}

/* Each node's cpuPowerModel, and the fit behind it. */
static void print_json_power(struct jbuf *b, const struct odc_input *in)
{
    jb_arr_open(b, "power_models");
    for (size_t k = 0; k < in->n_nodes; k++) {
        const struct odc_power *pw = &in->nodes[k].power;
        jb_obj_open(b, NULL);
        jb_str(b, "node", in->nodes[k].node_id);
        jb_str(b, "host", odc_host_name(in->nodes, in->n_nodes, k));
        jb_str(b, "type", pw->type);
        jb_double(b, "idle_w", pw->idle_w);
        jb_double(b, "max_w", pw->max_w);
        jb_bool(b, "assumed", pw->assumed);
        jb_bool(b, "measured", pw->measured);
        if (!pw->assumed) {
            jb_str(b, "chosen_by", pw->forced ? "--power-model" : "rmse");
            jb_str(b, "from", pw->from);
            jb_double(b, "rmse_w", pw->fit.cand[pw->fit.best].rmse_w);
            jb_bool(b, "extrapolated", pw->fit.extrapolated);
        }
        if (pw->has_fit && pw->fit.notice[0])
            jb_str(b, "notice", pw->fit.notice);
        jb_obj_close(b);
    }
    jb_arr_close(b);
}

static void print_json(const char *input, const char *output, const struct odc_opts *o,
                       const struct odc_input *in, const struct odc_result *res, size_t unsampled,
                       double ratio)
{
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "command", "export opendc");
    jb_bool(&b, "ok", true);
    jb_str(&b, "input", input);
    jb_str(&b, "output", output);
    jb_bool(&b, "upstream_compat", o->upstream_compat);
    jb_str(&b, "cpu_usage", o->cpu_usage == ODC_USAGE_DEMAND ? "demand" : "received");
    jb_uint(&b, "nodes", in->n_nodes);
    jb_uint(&b, "invocations", in->n_invs);
    jb_uint(&b, "samples", in->n_samples);
    jb_uint(&b, "tasks", res->n_tasks);
    jb_uint(&b, "fragments", res->n_frags);
    jb_uint(&b, "unsampled_tasks", unsampled);
    jb_str(&b, "task_ids", res->id_mode);
    jb_double(&b, "cpu_ratio", ratio);
    jb_obj_open(&b, "cpu_check");
    jb_uint(&b, "tasks_exact", res->n_exact);
    jb_uint(&b, "tasks_counter", res->n_counter);
    jb_uint(&b, "tasks_unsampled_no_total", res->n_blind);
    jb_double(&b, "counter_cpu_ms", res->counter_cpu_ms);
    jb_double(&b, "counter_exported_cpu_ms", res->counter_exported_ms);
    jb_double(&b, "zero_cpu_task_ms", res->zero_cpu_ms);
    jb_obj_close(&b);
    jb_uint(&b, "corrections", res->n_notes);
    jb_uint(&b, "skipped_lines", in->bad_inv_lines + in->bad_sample_lines);
    print_json_delay(&b, in, res);
    print_json_power(&b, in);
    rp_export_json(input, output, &b);   /* the replay's makespan beside the run's (docs/replay.md) */
    jb_arr_open(&b, "files");
    static const char *const files[] = {"tasks.parquet", "fragments.parquet", "topology.json",
                                        "experiment.json", "export_report.md"};
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        char *p = path_join(output, files[i]);
        jb_str(&b, NULL, p);
        free(p);
    }
    jb_arr_close(&b);
    jb_arr_open(&b, "warnings");
    for (size_t i = 0; i < in->n_notes; i++)
        jb_str(&b, NULL, in->notes[i]);
    jb_arr_close(&b);
    jb_obj_close(&b);
    printf("%.*s\n", (int)b.len, b.p);
    jb_free(&b);
}

/* The console's CPU check when some tasks have no exact total: those are
 * compared with their processes' own counters, and their unsampled time,
 * exported at 0 CPU, is said. */
static void print_no_exact(const struct odc_result *res, size_t unsampled, const char *output)
{
    if (res->n_exact)
        printf("CPU in fragments / exact totals: %.4f (%zu of %zu tasks); ",
               res->exact_cpu_ms > 0 ? res->exact_exported_ms / res->exact_cpu_ms : 1.0, res->n_exact,
               res->n_tasks);
    printf("%zu task%s without an exact total: %.0f ms of CPU exported, their processes' last counters "
           "say %.0f ms; %.0f ms of their time exported at 0 CPU (no sample and no exact total covers "
           "it); tasks without samples: %zu; corrections listed in %s/export_report.md\n",
           res->n_tasks - res->n_exact, res->n_tasks - res->n_exact == 1 ? "" : "s",
           res->counter_exported_ms, res->counter_cpu_ms, res->zero_cpu_ms, unsampled, output);
}

static void print_summary(const char *input, const char *output, bool json, const struct odc_opts *o,
                          const struct odc_input *in, const struct odc_result *res)
{
    size_t unsampled = 0;
    for (size_t i = 0; i < res->n_tasks; i++)
        unsampled += !res->tasks[i].sampled;
    double ratio = res->expected_cpu_mhz_ms > 0 ? res->exported_cpu_mhz_ms / res->expected_cpu_mhz_ms
                                                : 1.0;
    if (json) {
        print_json(input, output, o, in, res, unsampled, ratio);
        return;
    }
    printf("exported %zu tasks and %zu fragments from %zu node%s to %s (task ids: %s)\n",
           res->n_tasks, res->n_frags, in->n_nodes, in->n_nodes == 1 ? "" : "s", output,
           res->id_mode);
    for (size_t k = 0; k < in->n_nodes; k++) {
        char what[512];
        odc_power_describe(&in->nodes[k].power, what, sizeof what);
        printf("cpuPowerModel of %s: %s\n", odc_host_name(in->nodes, in->n_nodes, k), what);
    }
    if (!o->upstream_compat) {
        if (res->n_exact == res->n_tasks)
            printf("CPU in fragments / measured CPU: %.4f; tasks without samples: %zu; corrections "
                   "listed in %s/export_report.md\n",
                   ratio, unsampled, output);
        else
            print_no_exact(res, unsampled, output);
        if (res->n_blind && o->unsampled == ODC_UNSAMPLED_KEEP)
            printf("WARNING: %zu task%s without samples and without an exact CPU total exported at 0 CPU "
                   "(--unsampled drop leaves them out, --unsampled zero keeps them silently)\n",
                   res->n_blind, res->n_blind == 1 ? "" : "s");
        else if (res->n_blind && o->unsampled == ODC_UNSAMPLED_DROP)
            printf("%zu task%s without samples and without an exact CPU total dropped (--unsampled drop)\n",
                   res->n_blind, res->n_blind == 1 ? "" : "s");
        if (o->cpu_usage == ODC_USAGE_DEMAND)
            printf("CPU usage: demand (received + %.3f ms of run delay; %zu of %zu sampled fragments "
                   "without run delay kept at received)\n",
                   res->demand_added_ms, res->no_delay_frags, res->sampled_frags);
        else
            printf("CPU usage: received (%.3f ms of run delay not in it; --cpu-usage demand adds it)\n",
                   res->delay_ms);
        for (size_t k = 0; k < in->n_nodes; k++) {
            const struct odc_node *nd = &in->nodes[k];
            if (nd->host_warning && nd->has_explained)
                printf("WARNING: node %s: traced CPU explains %.1f%% of the host's busy CPU (untraced load "
                       "shared its cores)\n", nd->node_id, nd->explained_pct);
            else if (nd->host_warning)
                printf("WARNING: node %s: its audit warns that untraced load shared its cores\n",
                       nd->node_id);
        }
    }
    else
        printf("--upstream-compat: the original exporter's numbers; see %s/export_report.md\n",
               output);
}

/* The checks opt_parse cannot make; the policy options, when any is given,
 * into *pol.  0, or OPT_DONE_ERROR after cli_error. */
static int check_args(const char *input, const char *output, bool compat, int cpu_usage,
                      const struct policy_opts *po, struct policy *pol, bool *given)
{
    char perr[512];
    *given = po->name || po->weigher || po->order || po->filters || po->weighers || po->subset ||
             po->cpu_ratio > 0 || po->ram_ratio > 0;
    if (!input || !output)
        cli_error("%s is required (the parsed run, and where to write the workload)",
                  !input ? "--input DIR" : "--output DIR");
    else if (compat && cpu_usage == ODC_USAGE_DEMAND)
        cli_error("--cpu-usage demand cannot be combined with --upstream-compat (the original's "
                  "numbers are received CPU)");
    else if (*given && policy_from_opts(po, pol, perr, sizeof perr) < 0)
        cli_error("%s", perr);
    else
        return 0;
    return OPT_DONE_ERROR;
}

/* Export, then the summary.  An exit code. */
static int run(const char *input, const char *output, const struct odc_opts *o, int codec,
               const char *cmdline, bool quiet, bool json)
{
    struct odc_write_opts wo = {.codec = codec, .input = input, .command_line = cmdline,
                                .progress = progress_begin("export", quiet)};
    struct odc_input in;
    struct odc_result res;
    char err[1024];
    int rc = odc_export_dir(input, output, o, &wo, &in, &res, err, sizeof err);
    progress_end(wo.progress);
    if (rc < 0) {
        log_error("%s", err);
        return TK_EXIT_FAIL;
    }
    if (json || !quiet)
        print_summary(input, output, json, o, &in, &res);
    if (!json && !quiet)
        rp_export_note(input, output, stdout);   /* the replay's makespan beside the run's (docs/replay.md) */
    odc_result_free(&res);
    odc_input_free(&in);
    return TK_EXIT_OK;
}

int cmd_export(int argc, char **argv)
{
    const char *input = NULL, *output = NULL;
    bool quiet = false, json = false;
    int codec = PQ_CODEC_SNAPPY, mem_unit = ODC_MEM_KB, id_mode = ODC_ID_AUTO;
    int exclude_failed = 0, all_attempts = 0, cpu_usage = ODC_USAGE_RECEIVED;
    int submission = ODC_SUB_ENQUEUE, power_model = ODC_POWER_AUTO, unsampled = ODC_UNSAMPLED_KEEP;
    struct odc_opts o = {0};
    struct policy_opts popts = {0};
    struct policy pol;
    struct opt opts[] = {
        OPT_STRING(0, "input", &input, "DIR", "parsed run (required)"),
        OPT_STRING(0, "output", &output, "DIR", "where to write (created; files replaced)"),
        OPT_CALLBACK(0, "compression", &((struct choice_opt){&codec, codecs}), "C",
                     "snappy (default), zstd or none", set_choice),
        OPT_CALLBACK(0, "mem-unit", &((struct choice_opt){&mem_unit, mem_units}), "U",
                     "kb (default): mem_capacity = MiB x 1000, as OpenDC's loader divides by "
                     "1000; mb: MiB, as its docs say",
                     set_choice),
        OPT_CALLBACK(0, "task-id-mode", &((struct choice_opt){&id_mode, id_modes}), "M",
                     "auto (default: PIDs if unique, else 1, 2, ...), pid or sequential",
                     set_choice),
        OPT_CALLBACK(0, "failed", &((struct choice_opt){&exclude_failed, failed_modes}), "F",
                     "include (default) or exclude tasks with status != 0", set_choice),
        OPT_CALLBACK(0, "unsampled", &((struct choice_opt){&unsampled, unsampled_modes}), "U",
                     "a task with neither samples nor an exact CPU total: keep (default: at 0 CPU, "
                     "with a warning), zero (at 0 CPU, no warning) or drop",
                     set_choice),
        OPT_CALLBACK(0, "attempts", &((struct choice_opt){&all_attempts, attempt_modes}), "A",
                     "last (default: the last attempt per trace id) or all", set_choice),
        OPT_CALLBACK(0, "cpu-usage", &((struct choice_opt){&cpu_usage, cpu_usages}), "KIND",
                     "received (default: the CPU the tasks got; for OpenDC's NoDelay scaling) or "
                     "demand (received plus the time they waited for a CPU, within cpu_count; for "
                     "Perfect scaling when untraced load shared the cores)",
                     set_choice),
        OPT_CALLBACK(0, "submission", &((struct choice_opt){&submission, submissions}), "WHEN",
                     "enqueue (default: when the task was enqueued, else started), start (when it "
                     "started: the real scheduler's waits baked into the workload) or slot (enqueue "
                     "floored to OpenDC's 1-s scheduling grid from the first submission)",
                     set_choice),
        OPT_CALLBACK(0, "power-model", &((struct choice_opt){&power_model, power_models}), "TYPE",
                     "each host's cpuPowerModel, fitted to the node's measured power: auto (default: "
                     "the best by RMSE), linear, square, cubic or sqrt (that model, whatever its RMSE); "
                     "a node without power gets OpenDC's default",
                     set_choice),
        OPT_FLAG(0, "upstream-compat", &o.upstream_compat,
                 "the original exporter's numbers (to compare old traces; keeps its known flaws)"),
        OPT_FLAG(0, "quiet", &quiet, "print nothing but errors (and no progress line)"),
        OPT_FLAG(0, "json", &json,
                 "print one JSON object at the end instead of the text: counts, files written, "
                 "each host's power model, warnings"),
        OPT_GROUP("The run's policy, for experiment.json (default: as placements.jsonl records it):"),
        OPT_INCLUDE(policy_options, &popts, POLICY_NAME),
        OPT_END(),
    };
    char *cmdline = command_line(argc, argv);   /* before getopt reorders argv */
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    bool given = false;
    if (n >= 0)
        n = check_args(input, output, o.upstream_compat, cpu_usage, &popts, &pol, &given);
    if (n < 0) {
        free(cmdline);
        return opt_exit_code(n);
    }
    o.policy = given ? &pol : NULL;
    o.submission = (enum odc_submission)submission;
    o.power_model = power_model;
    o.mem_unit = (enum odc_mem_unit)mem_unit;
    o.id_mode = (enum odc_id_mode)id_mode;
    o.exclude_failed = exclude_failed;
    o.all_attempts = all_attempts;
    o.unsampled = unsampled;
    o.cpu_usage = (enum odc_cpu_usage)cpu_usage;
    int rc = run(input, output, &o, codec, cmdline, quiet, json);
    free(cmdline);
    return rc;
}
