/* verify.c -- tracekit verify opendc: options and orchestration only
 * (the checks are in opendc_verify.c). */
#include "cmd/commands.h"
#include "common/log.h"
#include "opendc/opendc_verify.h"
#include "common/util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tracekit verify opendc --input DIR [--topology FILE]\n"
            "\n"
            "Read an OpenDC workload back (tasks.parquet, fragments.parquet, topology.json)\n"
            "and check it the way OpenDC will read it: schema (names, physical and logical\n"
            "types, repetition), unique ids, fragments of known tasks, positive durations,\n"
            "fragment durations summing to each task's duration, cpu_usage within\n"
            "cpu_count x core speed, tasks fitting the largest host, topology units.\n"
            "Prints one line per check and a summary; exits 1 if any check fails.\n"
            "\n"
            "  --input DIR        the workload folder (required)\n"
            "  --topology FILE    topology to check against (default DIR/topology.json)\n"
            "  -h, --help         this text\n");
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"input", required_argument, 0, 'i'},
                                         {"topology", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return TK_EXIT_OK;
    }
    if (argc < 2 || argv[1][0] == '-') {
        cli_error("missing the format: 'tracekit verify opendc --input DIR'");
        usage(stderr);
        return TK_EXIT_USAGE;
    }
    if (strcmp(argv[1], "opendc") != 0) {
        cli_error("unknown format '%s' (expected opendc)", argv[1]);
        return TK_EXIT_USAGE;
    }
    const char *input = NULL, *topology = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'i': input = optarg; break;
        case 't': topology = optarg; break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default: usage(stderr); return TK_EXIT_USAGE;
        }
    }
    if (optind < argc - 1) {
        cli_error("unexpected argument '%s'", argv[optind + 1]);
        return TK_EXIT_USAGE;
    }
    if (!input) {
        cli_error("--input DIR is required (the folder with tasks.parquet and fragments.parquet)");
        return TK_EXIT_USAGE;
    }
    if (!is_dir(input)) {
        cli_error("--input: '%s' is not a folder", input);
        return TK_EXIT_USAGE;
    }
    int failed = odc_verify(input, topology, stdout);
    printf("verify: %s\n", failed ? "FAILED" : "OK");
    return failed ? TK_EXIT_FAIL : TK_EXIT_OK;
}
