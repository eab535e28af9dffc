/* gather.c -- `tracekit gather`: options and the run; the finding, naming,
 * copying and parsing of the nodes is trace/gather.c. */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/run.h"
#include "common/util.h"
#include "trace/gather.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const usage[] = {
    "tracekit gather [--run-id ID] --output DIR [--from DIR [--from DIR | DIR]...]",
    "                [--redis URL [--redis-password-file F]] [--quiet]",
    NULL,
};
static const struct opt_cmd cmd = {
    .name = "gather",
    .usage = usage,
    .description =
        "Collect the run folders of several nodes into one experiment folder, one\n"
        "sub-folder per node named by its node id (node_meta.json); nodes sharing an id\n"
        "get ID-HOST, or ID-1, ID-2, ... in a fixed order.  A node folder without CTS/\n"
        "but with raw files is parsed in place.  Writes DIR/gather.json (which node came\n"
        "from where, clock offsets).  With --redis, also (or instead) every node that\n"
        "shipped this run with 'tracekit parse --ship': its files are downloaded, sizes\n"
        "and SHA-256 checked, and laid out as with --from.  A node from Redis with an\n"
        "unsafe name or manifest, or a file failing its checks, is refused with an\n"
        "error naming it; the other nodes are still gathered, and the exit status is 1.\n"
        "The controller's records (ledger.jsonl, placements.jsonl, submitted.jsonl,\n"
        "workload.jsonl) go to the top of DIR: from a --from folder holding them (the\n"
        "controller's run folder, a node or not), or from Redis where 'dispatch --wait'\n"
        "shipped them.\n",
    .flags = OPT_ARGS,  /* "--from A B C": B and C are arguments */
};

int cmd_gather(int argc, char **argv)
{
    struct run_opts run = {0};
    struct redis_opts redis = {0};
    struct opt_list from = {0};
    const char *output = NULL;
    bool quiet = false;
    struct opt opts[] = {
        OPT_GROUP("Run:"),
        OPT_INCLUDE(run_options, &run, RUN_ID_REQUIRED),
        OPT_STRING(0, "output", &output, "DIR",
                   "experiment folder (created; node folders in it are replaced)"),
        OPT_LIST(0, "from", &from, "DIR",
                 "where a node's run is: the run folder itself, a folder holding RUN_ID/ or "
                 "logs/RUN_ID/, or an experiment folder with RUN_ID(cN) or node sub-folders; "
                 "repeat it, or list more folders after it"),
        OPT_GROUP("Redis (the nodes that shipped the run with 'tracekit parse --ship'):"),
        OPT_INCLUDE(redis_options, &redis, 0),
        OPT_GROUP("Output:"),
        OPT_FLAG(0, "quiet", &quiet, "print nothing but errors"),
        OPT_END(),
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    if (n < 0) {
        opt_list_free(&from);
        return opt_exit_code(n);
    }
    for (int i = n; i < argc; i++) {
        from.v = xrealloc(from.v, (from.n + 1) * sizeof *from.v);
        from.v[from.n++] = argv[i];
    }
    int rc = TK_EXIT_USAGE;
    struct run_ctx ctx = {0};
    if (!output || !*output)
        cli_error("--output DIR is required (the experiment folder to fill)");
    else if (redis.password_file && !redis.url)
        cli_error("--redis-password-file '%s' needs --redis URL", redis.password_file);
    else if (from.n == 0 && !redis.url)
        cli_error("--from DIR or --redis URL is required: the node run folders to collect, or "
                  "the Redis the nodes shipped to with 'tracekit parse --ship'");
    else if (run_opts_resolve(&run, RUNID_REQUIRED, &ctx) == 0)
        rc = TK_EXIT_OK;
    struct redis_url u = {0};
    if (rc == TK_EXIT_OK && redis.url && redis_opts_load(&redis, &u) < 0) {
        run_ctx_free(&ctx);
        rc = TK_EXIT_USAGE;
    }
    if (rc == TK_EXIT_OK) {
        struct gather_opts o = {
            .run_id = ctx.run_id,
            .output = output,
            .from = from.v,
            .nfrom = from.n,
            .redis = redis.url ? &u : NULL,
            .out = quiet ? NULL : stdout,
        };
        struct gather_result r;
        if (gather_run(&o, &r) < 0)
            rc = TK_EXIT_FAIL;
        run_ctx_free(&ctx);
    }
    redisurl_free(&u);
    opt_list_free(&from);
    return rc;
}
