/* proxy.c -- `tracekit proxy`: an HTTP/1.1 reverse proxy that records
 * every request.  Option parsing only; the work is in proxy.c. */
#include "cmd/commands.h"
#include "common/log.h"
#include "http/proxy.h"
#include "common/run.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit proxy --listen HOST:PORT --upstream HOST:PORT [OPTIONS]\n"
            "\n"
            "Reverse proxy for an HTTP/1.1 service (keep-alive on both sides, chunked and\n"
            "Content-Length bodies streamed) that appends one record per request to\n"
            "logs/RUN_ID/events.APP.jsonl: trace id (from the request's W3C traceparent, else\n"
            "new; a traceparent with the same trace id and a new parent id goes upstream),\n"
            "ts_enqueue (request received), ts_start (sent upstream), ts_end (response\n"
            "sent), method, path, status, bytes, and the upstream's PID when it is a local\n"
            "process, which is also whitelisted for the collector (pids/PID).\n"
            "Upstream errors answer 502, silence past --timeout 504; both are recorded with\n"
            "`error`.  Runs until SIGINT/SIGTERM, then finishes requests under way (5 s).\n"
            "\n"
            "  --listen HOST:PORT   address to accept clients on ([::1]:8080 for IPv6)\n"
            "  --upstream HOST:PORT the service\n"
            "  --run-id ID          run folder (default: $RUN_ID, run_id.env, else a new id)\n"
            "  --node-id NAME       node in the records (default: $NODE_ID, else the host name)\n"
            "  --stage NAME         stage in the records (default: $STAGE, else cloud)\n"
            "  --logs DIR           logs folder (default: logs)\n"
            "  --app NAME           write events.NAME.jsonl (default: http)\n"
            "  --upstream-pid PID   the service's PID (default: the local process listening\n"
            "                       on the upstream address, looked up in /proc)\n"
            "  --pid-dir DIR        sentinel folder (default: $PROC_PID_DIR, else\n"
            "                       logs/RUN_ID/pids)\n"
            "  --max-conns N        client connections at most; more wait in the backlog\n"
            "                       (default: 10000)\n"
            "  --timeout SEC        upstream silent this long: 504 (default: 60)\n"
            "  --log-query          keep query strings in `path` (default: cut off, since\n"
            "                       they may carry tokens)\n"
            "  -q, --quiet          only warnings and errors on stderr\n"
            "  -h, --help           this text\n");
}

enum {
    OPT_LISTEN = 256, OPT_UPSTREAM, OPT_RUN_ID, OPT_NODE_ID, OPT_STAGE, OPT_LOGS, OPT_APP,
    OPT_UP_PID, OPT_PID_DIR, OPT_MAX_CONNS, OPT_TIMEOUT, OPT_LOG_QUERY,
};

int cmd_proxy(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"upstream", required_argument, NULL, OPT_UPSTREAM},
        {"run-id", required_argument, NULL, OPT_RUN_ID},
        {"node-id", required_argument, NULL, OPT_NODE_ID},
        {"stage", required_argument, NULL, OPT_STAGE},
        {"logs", required_argument, NULL, OPT_LOGS},
        {"app", required_argument, NULL, OPT_APP},
        {"upstream-pid", required_argument, NULL, OPT_UP_PID},
        {"pid-dir", required_argument, NULL, OPT_PID_DIR},
        {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"log-query", no_argument, NULL, OPT_LOG_QUERY},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *listen_s = NULL, *upstream_s = NULL, *run_id = NULL, *node = NULL, *stage = NULL;
    const char *logs = NULL, *pid_dir = NULL;
    struct proxy_opts o;
    memset(&o, 0, sizeof o);
    o.app = "http";
    o.max_conns = 10000;
    o.timeout_ms = 60000;
    int64_t v;
    double d;
    char err[512];

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_LISTEN: listen_s = optarg; break;
        case OPT_UPSTREAM: upstream_s = optarg; break;
        case OPT_RUN_ID: run_id = optarg; break;
        case OPT_NODE_ID: node = optarg; break;
        case OPT_STAGE: stage = optarg; break;
        case OPT_LOGS: logs = optarg; break;
        case OPT_PID_DIR: pid_dir = optarg; break;
        case OPT_APP:
            if (!run_id_valid(optarg)) {
                cli_error("invalid --app '%s': expected 1-128 letters, digits or ._-()+:", optarg);
                return TK_EXIT_USAGE;
            }
            o.app = optarg;
            break;
        case OPT_UP_PID:
            if (!parse_i64(optarg, 1, INT32_MAX, &v)) {
                cli_error("invalid --upstream-pid '%s': expected a process id", optarg);
                return TK_EXIT_USAGE;
            }
            o.upstream_pid = (pid_t)v;
            break;
        case OPT_MAX_CONNS:
            if (!parse_i64(optarg, 1, 1000000, &v)) {
                cli_error("invalid --max-conns '%s': expected an integer from 1 to 1000000", optarg);
                return TK_EXIT_USAGE;
            }
            o.max_conns = (int)v;
            break;
        case OPT_TIMEOUT:
            if (!parse_double(optarg, 0.001, 86400, &d)) {
                cli_error("invalid --timeout '%s': expected seconds from 0.001 to 86400", optarg);
                return TK_EXIT_USAGE;
            }
            o.timeout_ms = (int)(d * 1000 + 0.5);
            break;
        case OPT_LOG_QUERY: o.log_query = true; break;
        case 'q': log_set_level(LOG_WARN); break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default:
            if (optopt)
                cli_error("option '%s' needs a value (see 'tracekit proxy --help')", argv[optind - 1]);
            else
                cli_error("unknown option '%s' (see 'tracekit proxy --help')", argv[optind - 1]);
            return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see 'tracekit proxy --help')", argv[optind]);
        return TK_EXIT_USAGE;
    }
    if (!listen_s || !upstream_s) {
        cli_error("--listen HOST:PORT and --upstream HOST:PORT are required");
        return TK_EXIT_USAGE;
    }
    if (proxy_parse_addr(listen_s, &o.listen, &o.listen_len, err, sizeof err) < 0) {
        cli_error("invalid --listen %s", err);
        return TK_EXIT_USAGE;
    }
    if (proxy_parse_addr(upstream_s, &o.upstream, &o.upstream_len, err, sizeof err) < 0) {
        cli_error("invalid --upstream %s", err);
        return TK_EXIT_USAGE;
    }
    o.upstream_text = upstream_s;

    struct run_ctx ctx;
    if (run_ctx_resolve(&ctx, run_id, node, stage, logs, RUNID_NEW, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    int rc = TK_EXIT_FAIL;
    if (!pid_dir) {
        const char *e = getenv("PROC_PID_DIR");
        pid_dir = e && *e ? e : NULL;
    }
    char *pids = pid_dir ? xstrdup(pid_dir) : path_join(ctx.run_dir, "pids");
    char *name = xasprintf("events.%s.jsonl", o.app);
    char *events = path_join(ctx.run_dir, name);
    if (mkdir_p(ctx.run_dir, 0755) < 0) {
        log_error("cannot create %s: %s", ctx.run_dir, strerror(errno));
        goto out;
    }
    if (mkdir_p(pids, 0755) < 0) {
        log_error("cannot create the sentinel folder %s: %s", pids, strerror(errno));
        goto out;
    }
    o.events_path = events;
    o.pid_dir = pids;
    o.node = ctx.node_id;
    o.stage = ctx.stage;
    rc = proxy_run(&o);
out:
    free(pids);
    free(name);
    free(events);
    run_ctx_free(&ctx);
    return rc;
}
