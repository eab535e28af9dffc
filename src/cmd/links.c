/* links.c -- tracekit links --serve | --peers HOST,... */
#include "cmd/commands.h"
#include "collect/links.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: tracekit links --serve [--listen HOST:PORT] [--node-id ID]\n"
    "       tracekit links --peers HOST[:PORT],... [options]\n"
    "\n"
    "Measure the network between this node and its peers: TCP connect time, the\n"
    "round trip of a small echo (p50/p99 of --samples) and the throughput of a\n"
    "short bulk transfer, against 'tracekit links --serve' on each peer.  Results\n"
    "are merged into logs/RUN_ID/links.json (an entry per src/dst pair replaces\n"
    "the older one).\n"
    "\n"
    "  --serve                serve measurements until SIGTERM/SIGINT\n"
    "  --listen HOST:PORT     address to serve on (default 0.0.0.0:7420; port 0 = any)\n"
    "  --peers LIST           comma list of HOST, HOST:PORT or [IPV6]:PORT (default port 7420)\n"
    "  --samples N            connect and echo samples per peer (default 20, 1-10000)\n"
    "  --bytes SIZE           bulk transfer cap, e.g. 16M (default 16M; K/M/G = KiB/MiB/GiB)\n"
    "  --bulk-s S             bulk transfer time cap in seconds (default 1)\n"
    "  --timeout-s S          give up on a peer operation after S seconds (default 5)\n"
    "  --run-id ID            run id [RUN_ID]; else run_id.env; else a new one\n"
    "  --logs DIR             logs folder (default: logs)\n"
    "  --node-id ID           this node's id, the entries' src [NODE_ID] (default: host name)\n"
    "  --json                 also print the new entries on stdout as a JSON array\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit 0 when every peer was measured, 1 when one could not be (the others are\n"
    "still written), 2 on a usage error.\n";

int cmd_links(int argc, char **argv)
{
    enum { O_SERVE = 256, O_LISTEN, O_PEERS, O_SAMPLES, O_BYTES, O_BULK, O_TIMEOUT, O_RUN, O_LOGS,
           O_NODE, O_JSON };
    static const struct option longopts[] = {
        {"serve", no_argument, 0, O_SERVE},
        {"listen", required_argument, 0, O_LISTEN},
        {"peers", required_argument, 0, O_PEERS},
        {"samples", required_argument, 0, O_SAMPLES},
        {"bytes", required_argument, 0, O_BYTES},
        {"bulk-s", required_argument, 0, O_BULK},
        {"timeout-s", required_argument, 0, O_TIMEOUT},
        {"run-id", required_argument, 0, O_RUN},
        {"logs", required_argument, 0, O_LOGS},
        {"node-id", required_argument, 0, O_NODE},
        {"json", no_argument, 0, O_JSON},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    bool serve = false, as_json = false;
    const char *listen_on = "0.0.0.0:7420", *peers = NULL, *samples = "20", *bytes = "16M",
               *bulk = "1", *timeout = "5", *run_id = NULL, *logs = NULL, *node = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_SERVE: serve = true; break;
        case O_LISTEN: listen_on = optarg; break;
        case O_PEERS: peers = optarg; break;
        case O_SAMPLES: samples = optarg; break;
        case O_BYTES: bytes = optarg; break;
        case O_BULK: bulk = optarg; break;
        case O_TIMEOUT: timeout = optarg; break;
        case O_RUN: run_id = optarg; break;
        case O_LOGS: logs = optarg; break;
        case O_NODE: node = optarg; break;
        case O_JSON: as_json = true; break;
        case 'h': fputs(usage_text, stdout); return TK_EXIT_OK;
        default:
            fprintf(stderr, "(see 'tracekit links --help')\n");
            return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see 'tracekit links --help')", argv[optind]);
        return TK_EXIT_USAGE;
    }
    if (serve == (peers != NULL)) {
        cli_error("give exactly one of --serve or --peers HOST,... (see 'tracekit links --help')");
        return TK_EXIT_USAGE;
    }
    struct links_opts lo;
    int64_t ns;
    uint64_t nbytes;
    if (!parse_i64(samples, 1, 10000, &ns)) {
        cli_error("--samples must be a whole number from 1 to 10000, got '%s'", samples);
        return TK_EXIT_USAGE;
    }
    if (!links_parse_size(bytes, &nbytes) || nbytes > (1ull << 40)) {
        cli_error("--bytes must be a positive byte count like 1048576, 512K or 16M (at most 1T), got '%s'",
                  bytes);
        return TK_EXIT_USAGE;
    }
    if (!parse_double(bulk, 0.01, 600, &lo.bulk_s)) {
        cli_error("--bulk-s must be a number of seconds from 0.01 to 600, got '%s'", bulk);
        return TK_EXIT_USAGE;
    }
    if (!parse_double(timeout, 0.01, 3600, &lo.timeout_s)) {
        cli_error("--timeout-s must be a number of seconds from 0.01 to 3600, got '%s'", timeout);
        return TK_EXIT_USAGE;
    }
    lo.samples = (int)ns;
    lo.bytes = (size_t)nbytes;

    char err[512];
    struct run_ctx rc;
    if (run_ctx_resolve(&rc, run_id, node, NULL, logs, RUNID_NEW, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    int status = TK_EXIT_OK;
    if (serve) {
        if (links_serve(listen_on, rc.node_id, err, sizeof err) < 0) {
            cli_error("%s", err);
            status = TK_EXIT_FAIL;
        }
        run_ctx_free(&rc);
        return status;
    }

    struct link_peer *pv;
    int np = links_parse_peers(peers, LINKS_PORT, &pv, err, sizeof err);
    if (np < 0) {
        cli_error("--peers: %s", err);
        run_ctx_free(&rc);
        return TK_EXIT_USAGE;
    }
    json_t *fresh = json_array();
    for (int i = 0; i < np; i++) {
        struct link_result r;
        memset(&r, 0, sizeof r);
        snprintf(r.src, sizeof r.src, "%s", rc.node_id);
        if (links_measure(&pv[i], &lo, &r, err, sizeof err) < 0) {
            log_error("peer %s:%d: %s", pv[i].host, pv[i].port, err);
            status = TK_EXIT_FAIL;
            continue;
        }
        log_info("%s -> %s (%s via %s): rtt p50 %.3f ms p99 %.3f ms, connect p50 %.3f ms, %.1f Mbit/s",
                 r.src, r.dst, r.dst_addr, r.iface[0] ? r.iface : "?", r.rtt_p50, r.rtt_p99,
                 r.connect_p50, r.bw_mbps);
        json_array_append_new(fresh, links_entry_json(&r));
    }
    free(pv);

    if (json_array_size(fresh)) {
        if (mkdir_p(rc.run_dir, 0755) < 0) {
            cli_error("cannot create run folder %s: %s", rc.run_dir, strerror(errno));
            status = TK_EXIT_FAIL;
            goto out;
        }
        char *path = path_join(rc.run_dir, "links.json");
        json_t *old = NULL;
        if (file_exists(path)) {
            json_error_t jerr;
            old = json_load_file(path, 0, &jerr);
            if (!json_is_array(old))
                log_warn("%s is not a JSON array (%s): replacing it", path,
                         old ? "another JSON value" : jerr.text);
        }
        json_t *merged = links_merge(old, fresh);
        char *text = json_dumps(merged, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
        size_t len = strlen(text);
        text = xrealloc(text, len + 2);
        text[len++] = '\n';
        if (write_file_atomic(path, text, len) < 0) {
            cli_error("cannot write %s: %s", path, strerror(errno));
            status = TK_EXIT_FAIL;
        } else {
            log_info("%zu link(s) written to %s", json_array_size(fresh), path);
        }
        free(text);
        free(path);
        json_decref(old);
        json_decref(merged);
    }
    if (as_json) {
        char *text = json_dumps(fresh, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
        puts(text);
        free(text);
    }
out:
    json_decref(fresh);
    run_ctx_free(&rc);
    return status;
}
