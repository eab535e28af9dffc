/* verify.c -- tracekit verify opendc: options and orchestration only
 * (the checks are in opendc_verify.c). */
#include "cmd/commands.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "opendc/opendc_verify.h"

#include <stdio.h>
#include <string.h>

static const char *const usage[] = {"tracekit verify opendc --input DIR [--topology FILE]", NULL};
static const struct opt_verb formats[] = {
    {"opendc", "an OpenDC workload: tasks.parquet, fragments.parquet, topology.json"},
    {NULL, NULL},
};
static const struct opt_cmd cmd = {
    .name = "verify",
    .usage = usage,
    .description =
        "Read an OpenDC workload back (tasks.parquet, fragments.parquet, topology.json)\n"
        "and check it the way OpenDC will read it: schema (names, physical and logical\n"
        "types, repetition), unique ids, fragments of known tasks, positive durations,\n"
        "fragment durations summing to each task's duration, cpu_usage within\n"
        "cpu_count x core speed, tasks fitting the largest host, topology units.\n"
        "Prints one line per check and a summary; exits 1 if any check fails.\n",
    .verbs = formats,
    .verb_noun = "format",
};

int cmd_verify(int argc, char **argv)
{
    const char *input = NULL, *topology = NULL;
    struct opt opts[] = {
        OPT_STRING(0, "input", &input, "DIR", "the workload folder (required)"),
        OPT_STRING(0, "topology", &topology, "FILE",
                   "topology to check against (default DIR/topology.json)"),
        OPT_END(),
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    if (n < 0)
        return opt_exit_code(n);
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
