/* export.c -- tracekit export opendc: options and orchestration only
 * (opendc_io.c reads and writes, opendc.c decides). */
#include "cmd/commands.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "opendc/opendc.h"
#include "opendc/opendc_io.h"
#include "parquet/parquet.h"
#include "common/progress.h"
#include "common/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tracekit export opendc --input DIR --output DIR [options]\n"
            "\n"
            "Turn a parsed run into an OpenDC workload: tasks.parquet, fragments.parquet,\n"
            "topology.json and export_report.md (every correction made, listed).\n"
            "DIR is one node's run folder (with CTS/, or the legacy cctf/) or an experiment\n"
            "folder with one sub-folder per node (e.g. RUN_ID(c0), RUN_ID(c1)).\n"
            "\n"
            "  --input DIR                 parsed run (required)\n"
            "  --output DIR                where to write (created; files replaced)\n"
            "  --compression C             snappy (default), zstd or none\n"
            "  --mem-unit U                kb (default): mem_capacity = MiB x 1000, as OpenDC's\n"
            "                              loader divides by 1000; mb: MiB, as its docs say\n"
            "  --task-id-mode M            auto (default: PIDs if unique, else 1, 2, ...),\n"
            "                              pid or sequential\n"
            "  --failed F                  include (default) or exclude tasks with status != 0\n"
            "  --attempts A                last (default: the last attempt per trace id) or all\n"
            "  --upstream-compat           the original exporter's numbers (to compare old\n"
            "                              traces; keeps its known flaws)\n"
            "  --quiet                     print nothing but errors (and no progress line)\n"
            "  --json                      print one JSON object at the end instead of the\n"
            "                              text: counts, files written, warnings\n"
            "  -h, --help                  this text\n"
            "\n"
            "On a terminal, a progress line on stderr shows the lines read and rows written.\n");
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"input", required_argument, 0, 'i'},       {"output", required_argument, 0, 'o'},
        {"compression", required_argument, 0, 'c'}, {"mem-unit", required_argument, 0, 'm'},
        {"task-id-mode", required_argument, 0, 't'}, {"failed", required_argument, 0, 'f'},
        {"attempts", required_argument, 0, 'a'},    {"upstream-compat", no_argument, 0, 'u'},
        {"quiet", no_argument, 0, 'q'},             {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return TK_EXIT_OK;
    }
    if (argc < 2 || argv[1][0] == '-') {
        cli_error("missing the format: 'tracekit export opendc ...'");
        usage(stderr);
        return TK_EXIT_USAGE;
    }
    if (strcmp(argv[1], "opendc") != 0) {
        cli_error("unknown export format '%s' (expected opendc)", argv[1]);
        return TK_EXIT_USAGE;
    }
    const char *input = NULL, *output = NULL;
    bool quiet = false, json = false;
    struct odc_opts o = {0};
    struct odc_write_opts wo = {.codec = PQ_CODEC_SNAPPY};
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 'c':
            if (!strcmp(optarg, "snappy")) wo.codec = PQ_CODEC_SNAPPY;
            else if (!strcmp(optarg, "zstd")) wo.codec = PQ_CODEC_ZSTD;
            else if (!strcmp(optarg, "none")) wo.codec = PQ_CODEC_UNCOMPRESSED;
            else {
                cli_error("--compression: '%s' is not snappy, zstd or none", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case 'm':
            if (!strcmp(optarg, "kb")) o.mem_unit = ODC_MEM_KB;
            else if (!strcmp(optarg, "mb")) o.mem_unit = ODC_MEM_MB;
            else {
                cli_error("--mem-unit: '%s' is not kb or mb", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case 't':
            if (!strcmp(optarg, "auto")) o.id_mode = ODC_ID_AUTO;
            else if (!strcmp(optarg, "pid")) o.id_mode = ODC_ID_PID;
            else if (!strcmp(optarg, "sequential")) o.id_mode = ODC_ID_SEQUENTIAL;
            else {
                cli_error("--task-id-mode: '%s' is not auto, pid or sequential", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case 'f':
            if (!strcmp(optarg, "include")) o.exclude_failed = false;
            else if (!strcmp(optarg, "exclude")) o.exclude_failed = true;
            else {
                cli_error("--failed: '%s' is not include or exclude", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case 'a':
            if (!strcmp(optarg, "last")) o.all_attempts = false;
            else if (!strcmp(optarg, "all")) o.all_attempts = true;
            else {
                cli_error("--attempts: '%s' is not last or all", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case 'u': o.upstream_compat = true; break;
        case 'q': quiet = true; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default: usage(stderr); return TK_EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        cli_error("unexpected argument '%s'", argv[optind + 1]);
        return TK_EXIT_USAGE;
    }
    if (!input || !output) {
        cli_error("%s is required (the parsed run, and where to write the workload)",
                  !input ? "--input DIR" : "--output DIR");
        return TK_EXIT_USAGE;
    }

    char err[1024];
    struct odc_input in;
    struct progress *pg = progress_begin("export", quiet);
    if (odc_load(input, &in, pg, err, sizeof err) < 0) {
        progress_end(pg);
        log_error("%s", err);
        return TK_EXIT_FAIL;
    }
    if (in.n_invs == 0) {
        progress_end(pg);
        log_error("no invocations in %s (CTS/invocations.jsonl is empty): nothing to export", input);
        odc_input_free(&in);
        return TK_EXIT_FAIL;
    }
    progress_update(pg, "building fragments for %zu task(s)", in.n_invs);
    struct odc_result res;
    if (odc_export(&in, &o, &res, err, sizeof err) < 0) {
        progress_end(pg);
        log_error("%s", err);
        odc_input_free(&in);
        return TK_EXIT_FAIL;
    }
    /* The command line, for the report. */
    size_t len = 0;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *cmdline = xmalloc(len + 16);
    strcpy(cmdline, "tracekit");
    for (int i = 0; i < argc; i++) {
        strcat(cmdline, " ");
        strcat(cmdline, argv[i]);
    }
    wo.input = input;
    wo.command_line = cmdline;
    wo.progress = pg;
    int rc = odc_write(output, &in, &o, &res, &wo, err, sizeof err);
    progress_end(pg);
    free(cmdline);
    size_t unsampled = 0;
    for (size_t i = 0; i < res.n_tasks; i++)
        unsampled += !res.tasks[i].sampled;
    double ratio = res.expected_cpu_mhz_ms > 0 ? res.exported_cpu_mhz_ms / res.expected_cpu_mhz_ms : 1.0;
    if (rc < 0) {
        log_error("%s", err);
    } else if (json) {
        struct jbuf b;
        jb_init(&b);
        jb_obj_open(&b, NULL);
        jb_str(&b, "command", "export opendc");
        jb_bool(&b, "ok", true);
        jb_str(&b, "input", input);
        jb_str(&b, "output", output);
        jb_bool(&b, "upstream_compat", o.upstream_compat);
        jb_uint(&b, "nodes", in.n_nodes);
        jb_uint(&b, "invocations", in.n_invs);
        jb_uint(&b, "samples", in.n_samples);
        jb_uint(&b, "tasks", res.n_tasks);
        jb_uint(&b, "fragments", res.n_frags);
        jb_uint(&b, "unsampled_tasks", unsampled);
        jb_str(&b, "task_ids", res.id_mode);
        jb_double(&b, "cpu_ratio", ratio);
        jb_uint(&b, "corrections", res.n_notes);
        jb_uint(&b, "skipped_lines", in.bad_inv_lines + in.bad_sample_lines);
        jb_arr_open(&b, "files");
        static const char *const files[] = {"tasks.parquet", "fragments.parquet", "topology.json",
                                            "export_report.md"};
        for (size_t i = 0; i < ARRAY_LEN(files); i++) {
            char *p = path_join(output, files[i]);
            jb_str(&b, NULL, p);
            free(p);
        }
        jb_arr_close(&b);
        jb_arr_open(&b, "warnings");
        for (size_t i = 0; i < in.n_notes; i++)
            jb_str(&b, NULL, in.notes[i]);
        jb_arr_close(&b);
        jb_obj_close(&b);
        printf("%.*s\n", (int)b.len, b.p);
        jb_free(&b);
    } else if (!quiet) {
        printf("exported %zu tasks and %zu fragments from %zu node%s to %s (task ids: %s)\n", res.n_tasks,
               res.n_frags, in.n_nodes, in.n_nodes == 1 ? "" : "s", output, res.id_mode);
        if (!o.upstream_compat)
            printf("CPU in fragments / measured CPU: %.4f; tasks without samples: %zu; corrections listed in "
                   "%s/export_report.md\n",
                   ratio, unsampled, output);
        else
            printf("--upstream-compat: the original exporter's numbers; see %s/export_report.md\n", output);
    }
    odc_result_free(&res);
    odc_input_free(&in);
    return rc < 0 ? TK_EXIT_FAIL : TK_EXIT_OK;
}
