/* proxy.c -- `tracekit proxy`: an HTTP/1.1 reverse proxy that records
 * every request.  Options and their resolution only; the work is
 * proxy_run (http/proxy.c). */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"
#include "http/proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const usage[] = {
    "tracekit proxy --listen HOST:PORT --upstream HOST:PORT [OPTIONS]", NULL};
static const struct opt_cmd cmd = {
    .name = "proxy",
    .usage = usage,
    .description =
        "Reverse proxy for an HTTP/1.1 service (keep-alive on both sides, chunked and\n"
        "Content-Length bodies streamed) that appends one record per request to\n"
        "logs/RUN_ID/events.APP.jsonl: trace id (from the request's W3C traceparent, else\n"
        "new; a traceparent with the same trace id and a new parent id goes upstream),\n"
        "ts_enqueue (request received), ts_start (sent upstream), ts_end (response\n"
        "sent), method, path, status, bytes, and the upstream's PID when it is a local\n"
        "process, which is also whitelisted for the collector (pids/PID).\n"
        "Upstream errors answer 502, silence past --timeout 504; both are recorded with\n"
        "`error`.  Clients are hostile: a malformed or ambiguous request head (a control\n"
        "character in a field, conflicting framing) answers 400 and is recorded, never\n"
        "forwarded; a slow head 408 (--header-timeout).  Runs until SIGINT/SIGTERM, then\n"
        "finishes requests under way (5 s).\n",
};

struct proxy_args {
    struct run_opts run;
    const char *listen, *upstream, *app;
    int64_t upstream_pid, max_conns;
    double timeout, header_timeout, idle_timeout;
    bool log_query;
};

static int set_app(const struct opt *o, const char *arg, void *value)
{
    (void)o;
    if (!run_id_valid(arg)) {
        cli_error("invalid --app '%s': expected " RUN_ID_RULE, arg);
        return -1;
    }
    *(const char **)value = arg;
    return 0;
}

static int parse_args(int argc, char **argv, struct proxy_args *a)
{
    struct opt opts[] = {
        OPT_STRING(0, "listen", &a->listen, "HOST:PORT",
                   "address to accept clients on ([::1]:8080 for IPv6)"),
        OPT_STRING(0, "upstream", &a->upstream, "HOST:PORT", "the service"),
        OPT_INT(0, "upstream-pid", &a->upstream_pid, "PID", 1, INT32_MAX,
                "the service's PID (default: the local process listening on the upstream "
                "address, looked up in /proc)"),
        OPT_INT(0, "max-conns", &a->max_conns, "N", 1, 1000000,
                "client connections at most; more wait in the backlog (default: 10000, capped "
                "to half the open files limit, ulimit -n, with a warning)"),
        OPT_DOUBLE(0, "timeout", &a->timeout, "SEC", 0.001, 86400,
                   "upstream silent this long: 504 (default: 60)"),
        OPT_DOUBLE(0, "header-timeout", &a->header_timeout, "SEC", 0.001, 86400,
                   "a client's request head not complete this long after it connected or began "
                   "the head: 408, recorded, closed (default: 10)"),
        OPT_DOUBLE(0, "idle-timeout", &a->idle_timeout, "SEC", 0.001, 86400,
                   "a keep-alive client silent this long between requests, or not reading its "
                   "response: closed (default: 60)"),
        OPT_FLAG(0, "log-query", &a->log_query,
                 "keep query strings and ;path parameters in `path` (default: cut off, since "
                 "they may carry tokens; userinfo is never kept)"),
        OPT_GROUP("Run:"),
        OPT_INCLUDE(run_options, &a->run,
                    RUN_ID_NEW | RUN_NODE | RUN_STAGE | RUN_LOGS | RUN_PID_DIR),
        OPT_CALLBACK(0, "app", &a->app, "NAME", "write events.NAME.jsonl (default: http)",
                     set_app),
        OPT_GROUP(""),
        OPT_INCLUDE(verbosity_options, NULL, VERBOSE_QUIET),
        OPT_END(),
    };
    return opt_parse(&cmd, opts, argc, argv, NULL);
}

/* --listen and --upstream into o.  0, or -1 after a cli_error. */
static int resolve_addrs(const struct proxy_args *a, struct proxy_opts *o)
{
    char err[512];
    if (!a->listen || !a->upstream) {
        cli_error("--listen HOST:PORT and --upstream HOST:PORT are required");
        return -1;
    }
    if (proxy_parse_addr(a->listen, &o->listen, &o->listen_len, err, sizeof err) < 0) {
        cli_error("invalid --listen %s", err);
        return -1;
    }
    if (proxy_parse_addr(a->upstream, &o->upstream, &o->upstream_len, err, sizeof err) < 0) {
        cli_error("invalid --upstream %s", err);
        return -1;
    }
    o->upstream_text = a->upstream;
    return 0;
}

int cmd_proxy(int argc, char **argv)
{
    struct proxy_args a = {.app = "http", .max_conns = 10000, .timeout = 60,
                           .header_timeout = 10, .idle_timeout = 60};
    int n = parse_args(argc, argv, &a);
    if (n < 0)
        return opt_exit_code(n);
    struct proxy_opts o = {
        .app = a.app, .upstream_pid = (pid_t)a.upstream_pid, .max_conns = (int)a.max_conns,
        .timeout_ms = (int)(a.timeout * 1000 + 0.5), .log_query = a.log_query,
        .header_timeout_ms = (int)(a.header_timeout * 1000 + 0.5),
        .idle_timeout_ms = (int)(a.idle_timeout * 1000 + 0.5),
    };
    if (resolve_addrs(&a, &o) < 0)
        return TK_EXIT_USAGE;
    struct run_ctx ctx;
    if (run_opts_resolve(&a.run, RUNID_NEW, &ctx) < 0)
        return TK_EXIT_USAGE;
    o.run_dir = ctx.run_dir;
    o.pid_dir = run_opts_pid_dir(&a.run);
    o.node = ctx.node_id;
    o.stage = ctx.stage;
    int rc = proxy_run(&o);
    run_ctx_free(&ctx);
    return rc;
}
