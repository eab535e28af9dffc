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
    {"opendc", "an OpenDC workload: tasks.parquet, fragments.parquet, topology.json, experiment.json"},
    {NULL, NULL},
};
static const struct opt_cmd cmd = {
    .name = "verify",
    .usage = usage,
    .description =
        "Read an OpenDC workload back (tasks.parquet, fragments.parquet, topology.json,\n"
        "experiment.json) and check it the way OpenDC will read it.  FAIL where OpenDC\n"
        "refuses the files or silently drops or terminates tasks: the schema (names,\n"
        "physical and logical types, repetition), duplicate ids, tasks without\n"
        "fragments, tasks fitting no host, a topology or experiment it cannot decode.\n"
        "WARN, with the reason, where OpenDC accepts what may surprise: legacy topology\n"
        "keys and bare numbers (read as OpenDC reads them), hosts without a power\n"
        "model, no topology.json (the workload is checked alone), fragment sums other\n"
        "than the duration, cpu_usage above cpu_count x core speed, a mem_capacity\n"
        "OpenDC rounds to 0 MiB (an --mem-unit mb export).\n"
        "Prints one line per check and a summary; exits 1 if any check fails\n"
        "(warnings alone exit 0).\n",
    .verbs = formats,
    .verb_noun = "format",
};

int cmd_verify(int argc, char **argv)
{
    const char *input = NULL, *topology = NULL;
    struct opt opts[] = {
        OPT_STRING(0, "input", &input, "DIR", "the workload folder (required)"),
        OPT_STRING(0, "topology", &topology, "FILE",
                   "topology to check against (default DIR/topology.json, if there is one)"),
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
    printf("verify: %s\n", failed ? "FAILED" : "OK (see the WARN lines, if any)");
    return failed ? TK_EXIT_FAIL : TK_EXIT_OK;
}
