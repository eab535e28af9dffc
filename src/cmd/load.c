/* load.c -- `tracekit load`: open-loop HTTP load with latency percentiles.
 * Options only; the work and the report are in http/loadgen.c. */
#include "cmd/commands.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "http/loadgen.h"

#include <stdio.h>
#include <string.h>

static const char *const usage[] = {
    "tracekit load --url http://HOST:PORT/PATH --rate R --duration S [OPTIONS]", NULL};
static const struct opt_cmd cmd = {
    .name = "load",
    .usage = usage,
    .description =
        "Send HTTP/1.1 requests on keep-alive connections.  Open loop (--rate R): request\n"
        "i is due at i/R seconds whatever the responses do and its latency counts from\n"
        "then, so waiting for a busy connection is latency, not a lower rate.  Closed\n"
        "loop (--rate 0): every connection sends again as soon as it has its answer.\n"
        "Prints sent/completed/errors, the achieved rate and latency p50/p90/p99/p99.9/max.\n",
    .epilogue = "Exit status 1 when no request completed.\n",
};

struct load_args {
    struct loadgen_opts o;
    const char *url;
    int64_t connections, body_bytes;
    bool json;
};

static int set_method(const struct opt *o, const char *arg, void *value)
{
    (void)o;
    if (!*arg || strlen(arg) > 15 || strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(arg)) {
        cli_error("invalid --method '%s': expected an upper-case method such as GET or POST", arg);
        return -1;
    }
    *(const char **)value = arg;
    return 0;
}

static int parse_args(int argc, char **argv, struct load_args *a)
{
    struct opt opts[] = {
        OPT_STRING(0, "url", &a->url, "URL", "http://HOST[:PORT][/PATH[?QUERY]]"),
        OPT_DOUBLE(0, "rate", &a->o.rate, "R", 0, 10000000,
                   "requests per second, 0 for closed loop"),
        OPT_DOUBLE(0, "duration", &a->o.duration_s, "S", 0.001, 86400, "seconds of sending"),
        OPT_INT(0, "connections", &a->connections, "C", 1, 10000,
                "keep-alive connections (default: 16)"),
        OPT_CALLBACK(0, "method", &a->o.method, "M", "request method (default: GET)", set_method),
        OPT_INT(0, "body-bytes", &a->body_bytes, "N", 0, 64 << 20,
                "send an N-byte body with Content-Length (default: none)"),
        OPT_DOUBLE(0, "drain", &a->o.drain_s, "S", 0, 3600,
                   "after --duration, wait this long for answers (default: 5)"),
        OPT_FLAG(0, "json", &a->json, "one JSON object instead of text"),
        OPT_END(),
    };
    return opt_parse(&cmd, opts, argc, argv, NULL);
}

int cmd_load(int argc, char **argv)
{
    struct load_args a = {
        .o = {.method = "GET", .drain_s = 5, .rate = -1, .duration_s = -1},
        .connections = 16,
    };
    int n = parse_args(argc, argv, &a);
    if (n < 0)
        return opt_exit_code(n);
    if (!a.url || a.o.rate < 0 || a.o.duration_s < 0) {
        cli_error("--url, --rate and --duration are required (see 'tracekit load --help')");
        return TK_EXIT_USAGE;
    }
    a.o.connections = (int)a.connections;
    a.o.body_bytes = (size_t)a.body_bytes;
    char err[512];
    struct loadgen_url url;
    if (loadgen_target(a.url, &url, &a.o, err, sizeof err) < 0) {
        cli_error("invalid --url %s", err);
        return TK_EXIT_USAGE;
    }
    struct loadgen_result r;
    if (loadgen_run(&a.o, &r, err, sizeof err) < 0) {
        log_error("%s", err);
        return TK_EXIT_FAIL;
    }
    loadgen_report(&a.o, a.url, &r, a.json, stdout);
    int rc = r.completed ? TK_EXIT_OK : TK_EXIT_FAIL;
    loadgen_result_free(&r);
    return rc;
}
