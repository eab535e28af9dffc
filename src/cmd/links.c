/* links.c -- `tracekit links --serve | --peers HOST,...`: options and their
 * resolution only; the work is links_serve and links_run (collect/links.c). */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "collect/links.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const usage[] = {
    "tracekit links --serve [--listen HOST:PORT] [--node-id ID]",
    "tracekit links --peers HOST[:PORT],... [options]",
    NULL,
};
static const struct opt_cmd cmd = {
    .name = "links",
    .usage = usage,
    .description =
        "Measure the network between this node and its peers: TCP connect time, the\n"
        "round trip of a small echo (p50/p99 of --samples) and the throughput of a\n"
        "short bulk transfer, against 'tracekit links --serve' on each peer.  Results\n"
        "are merged into logs/RUN_ID/links.json (an entry per src/dst pair replaces\n"
        "the older one).\n",
    .epilogue = "Exit 0 when every peer was measured, 1 when one could not be (the others are\n"
                "still written), 2 on a usage error.\n",
};

struct links_args {
    struct run_opts run;
    struct links_opts measure;
    struct links_serve_opts srv;
    const char *peers;
    int64_t max_conns;
    bool serve, json;
};

/* --samples, --bytes, --bulk-s and --timeout-s into struct links_opts. */
static int set_measure(const struct opt *o, const char *arg, void *value)
{
    struct links_opts *m = value;
    int64_t n;
    uint64_t bytes;
    const char *name = o->long_name;
    if (!strcmp(name, "samples")) {
        if (parse_i64(arg, 1, 10000, &n)) {
            m->samples = (int)n;
            return 0;
        }
        cli_error("--samples must be a whole number from 1 to 10000, got '%s'", arg);
    } else if (!strcmp(name, "bytes")) {
        if (links_parse_size(arg, &bytes) && bytes <= (1ull << 40)) {
            m->bytes = (size_t)bytes;
            return 0;
        }
        cli_error("--bytes must be a positive byte count like 1048576, 512K or 16M (at most "
                  "1T), got '%s'", arg);
    } else {
        bool bulk = !strcmp(name, "bulk-s");
        double max = bulk ? 600 : 3600;
        if (parse_double(arg, 0.01, max, bulk ? &m->bulk_s : &m->timeout_s))
            return 0;
        cli_error("--%s must be a number of seconds from 0.01 to %g, got '%s'", name, max, arg);
    }
    return -1;
}

static int parse_args(int argc, char **argv, struct links_args *a)
{
    struct opt opts[] = {
        OPT_FLAG(0, "serve", &a->serve, "serve measurements until SIGTERM/SIGINT"),
        OPT_STRING(0, "listen", &a->srv.listen, "HOST:PORT",
                   "address to serve on (default 0.0.0.0:7420; port 0 = any)"),
        OPT_INT(0, "max-conns", &a->max_conns, "N", 1, 4096,
                "--serve: clients served at once, more wait in the backlog (default 128, capped "
                "below the open files limit with a warning)"),
        OPT_DOUBLE(0, "idle-timeout", &a->srv.idle_timeout_s, "SEC", 0.01, 3600,
                   "--serve: close a client silent this long (default 30)"),
        OPT_STRING(0, "peers", &a->peers, "LIST",
                   "comma list of HOST, HOST:PORT or [IPV6]:PORT (default port 7420)"),
        OPT_CALLBACK(0, "samples", &a->measure, "N",
                     "connect and echo samples per peer (default 20, 1-10000)", set_measure),
        OPT_CALLBACK(0, "bytes", &a->measure, "SIZE",
                     "bulk transfer cap, e.g. 16M (default 16M; K/M/G = KiB/MiB/GiB)",
                     set_measure),
        OPT_CALLBACK(0, "bulk-s", &a->measure, "S",
                     "bulk transfer time cap in seconds (default 1)", set_measure),
        OPT_CALLBACK(0, "timeout-s", &a->measure, "S",
                     "give up on a peer operation after S seconds (default 5)", set_measure),
        OPT_GROUP("Run:"),
        OPT_INCLUDE(run_options, &a->run, RUN_ID_NEW | RUN_LOGS | RUN_NODE),
        OPT_GROUP(""),
        OPT_FLAG(0, "json", &a->json, "also print the new entries on stdout as a JSON array"),
        OPT_END(),
    };
    return opt_parse(&cmd, opts, argc, argv, NULL);
}

static int serve(struct links_args *a, const char *node_id)
{
    char err[512];
    a->srv.node_id = node_id;
    a->srv.max_conns = (int)a->max_conns;
    if (links_serve(&a->srv, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_FAIL;
    }
    return TK_EXIT_OK;
}

static int measure(const struct links_args *a, const struct run_ctx *ctx)
{
    char err[512];
    struct link_peer *pv;
    int np = links_parse_peers(a->peers, LINKS_PORT, &pv, err, sizeof err);
    if (np < 0) {
        cli_error("--peers: %s", err);
        return TK_EXIT_USAGE;
    }
    struct links_job j = {.peers = pv, .npeers = np, .src = ctx->node_id,
                          .run_dir = ctx->run_dir, .opts = a->measure};
    bool failed;
    json_t *fresh = links_run(&j, &failed);
    free(pv);
    if (a->json) {
        char *text = links_dump(fresh);
        puts(text);
        free(text);
    }
    json_decref(fresh);
    return failed ? TK_EXIT_FAIL : TK_EXIT_OK;
}

int cmd_links(int argc, char **argv)
{
    struct links_args a = {
        .measure = {.samples = 20, .bytes = 16u << 20, .bulk_s = 1, .timeout_s = 5},
        .srv = {.listen = "0.0.0.0:7420", .idle_timeout_s = 30},
        .max_conns = 128,
    };
    int n = parse_args(argc, argv, &a);
    if (n < 0)
        return opt_exit_code(n);
    if (a.serve == (a.peers != NULL)) {
        cli_error("give exactly one of --serve or --peers HOST,... (see 'tracekit links --help')");
        return TK_EXIT_USAGE;
    }
    struct run_ctx ctx;
    if (run_opts_resolve(&a.run, RUNID_NEW, &ctx) < 0)
        return TK_EXIT_USAGE;
    int rc = a.serve ? serve(&a, ctx.node_id) : measure(&a, &ctx);
    run_ctx_free(&ctx);
    return rc;
}
