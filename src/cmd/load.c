/* load.c -- `tracekit load`: open-loop HTTP load with latency
 * percentiles.  Option parsing and the report; the work is in loadgen.c. */
#include "cmd/commands.h"
#include "common/jsonl.h"
#include "common/stats.h"
#include "http/loadgen.h"
#include "common/log.h"
#include "http/proxy.h"
#include "common/util.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit load --url http://HOST:PORT/PATH --rate R --duration S [OPTIONS]\n"
            "\n"
            "Send HTTP/1.1 requests on keep-alive connections.  Open loop (--rate R): request\n"
            "i is due at i/R seconds whatever the responses do and its latency counts from\n"
            "then, so waiting for a busy connection is latency, not a lower rate.  Closed\n"
            "loop (--rate 0): every connection sends again as soon as it has its answer.\n"
            "Prints sent/completed/errors, the achieved rate and latency p50/p90/p99/p99.9/max.\n"
            "\n"
            "  --url URL            http://HOST[:PORT][/PATH[?QUERY]]\n"
            "  --rate R             requests per second, 0 for closed loop\n"
            "  --duration S         seconds of sending\n"
            "  --connections C      keep-alive connections (default: 16)\n"
            "  --method M           request method (default: GET)\n"
            "  --body-bytes N       send an N-byte body with Content-Length (default: none)\n"
            "  --drain S            after --duration, wait this long for answers (default: 5)\n"
            "  --json               one JSON object instead of text\n"
            "  -h, --help           this text\n"
            "Exit status 1 when no request completed.\n");
}

enum { OPT_URL = 256, OPT_RATE, OPT_DURATION, OPT_CONNS, OPT_METHOD, OPT_BODY, OPT_DRAIN, OPT_JSON };

static void put_ms(struct jbuf *b, const char *key, double v)
{
    if (isnan(v))
        jb_null(b, key);
    else
        jb_fixed(b, key, v, 3);
}

int cmd_load(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, OPT_URL},
        {"rate", required_argument, NULL, OPT_RATE},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"connections", required_argument, NULL, OPT_CONNS},
        {"method", required_argument, NULL, OPT_METHOD},
        {"body-bytes", required_argument, NULL, OPT_BODY},
        {"drain", required_argument, NULL, OPT_DRAIN},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url_s = NULL;
    struct loadgen_opts o;
    memset(&o, 0, sizeof o);
    o.method = "GET";
    o.connections = 16;
    o.drain_s = 5;
    o.rate = -1;
    o.duration_s = -1;
    bool json = false;
    int64_t v;
    char err[512];

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_URL: url_s = optarg; break;
        case OPT_RATE:
            if (!parse_double(optarg, 0, 10000000, &o.rate)) {
                cli_error("invalid --rate '%s': expected requests/s from 0 (closed loop) to 1e7", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case OPT_DURATION:
            if (!parse_double(optarg, 0.001, 86400, &o.duration_s)) {
                cli_error("invalid --duration '%s': expected seconds from 0.001 to 86400", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case OPT_CONNS:
            if (!parse_i64(optarg, 1, 10000, &v)) {
                cli_error("invalid --connections '%s': expected an integer from 1 to 10000", optarg);
                return TK_EXIT_USAGE;
            }
            o.connections = (int)v;
            break;
        case OPT_METHOD:
            if (!*optarg || strlen(optarg) > 15 || strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(optarg)) {
                cli_error("invalid --method '%s': expected an upper-case method such as GET or POST", optarg);
                return TK_EXIT_USAGE;
            }
            o.method = optarg;
            break;
        case OPT_BODY:
            if (!parse_i64(optarg, 0, 64 << 20, &v)) {
                cli_error("invalid --body-bytes '%s': expected an integer from 0 to 67108864", optarg);
                return TK_EXIT_USAGE;
            }
            o.body_bytes = (size_t)v;
            break;
        case OPT_DRAIN:
            if (!parse_double(optarg, 0, 3600, &o.drain_s)) {
                cli_error("invalid --drain '%s': expected seconds from 0 to 3600", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case OPT_JSON: json = true; break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default:
            if (optopt)
                cli_error("option '%s' needs a value (see 'tracekit load --help')", argv[optind - 1]);
            else
                cli_error("unknown option '%s' (see 'tracekit load --help')", argv[optind - 1]);
            return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see 'tracekit load --help')", argv[optind]);
        return TK_EXIT_USAGE;
    }
    if (!url_s || o.rate < 0 || o.duration_s < 0) {
        cli_error("--url, --rate and --duration are required (see 'tracekit load --help')");
        return TK_EXIT_USAGE;
    }
    struct loadgen_url url;
    if (loadgen_parse_url(url_s, &url, err, sizeof err) < 0) {
        cli_error("invalid --url %s", err);
        return TK_EXIT_USAGE;
    }
    char hp[300];
    snprintf(hp, sizeof hp, strchr(url.host, ':') ? "[%s]:%s" : "%s:%s", url.host, url.port);
    if (proxy_parse_addr(hp, &o.addr, &o.addr_len, err, sizeof err) < 0) {
        cli_error("invalid --url %s", err);
        return TK_EXIT_USAGE;
    }
    o.url = &url;

    struct loadgen_result r;
    if (loadgen_run(&o, &r, err, sizeof err) < 0) {
        log_error("%s", err);
        return TK_EXIT_FAIL;
    }
    double rate = r.elapsed_s > 0 ? (double)r.completed / r.elapsed_s : 0;
    double p[5] = {stats_nearest_rank(r.lat_ms, r.nlat, 0.50),
                   stats_nearest_rank(r.lat_ms, r.nlat, 0.90),
                   stats_nearest_rank(r.lat_ms, r.nlat, 0.99),
                   stats_nearest_rank(r.lat_ms, r.nlat, 0.999),
                   r.nlat ? r.lat_ms[r.nlat - 1] : NAN};
    if (json) {
        struct jbuf b;
        jb_init(&b);
        jb_obj_open(&b, NULL);
        jb_str(&b, "url", url_s);
        jb_str(&b, "mode", o.rate > 0 ? "open" : "closed");
        jb_double(&b, "rate", o.rate);
        jb_double(&b, "duration_s", o.duration_s);
        jb_int(&b, "connections", o.connections);
        jb_uint(&b, "scheduled", r.scheduled);
        jb_uint(&b, "sent", r.sent);
        jb_uint(&b, "completed", r.completed);
        jb_uint(&b, "errors", r.errors);
        jb_uint(&b, "unanswered", r.unanswered);
        jb_uint(&b, "unsent", r.unsent);
        jb_obj_open(&b, "status");
        static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
        for (int i = 0; i < 6; i++)
            jb_uint(&b, cls[i], r.status[i]);
        jb_obj_close(&b);
        jb_fixed(&b, "achieved_rate", rate, 1);
        jb_fixed(&b, "elapsed_s", r.elapsed_s, 3);
        put_ms(&b, "p50_ms", p[0]);
        put_ms(&b, "p90_ms", p[1]);
        put_ms(&b, "p99_ms", p[2]);
        put_ms(&b, "p999_ms", p[3]);
        put_ms(&b, "max_ms", p[4]);
        jb_obj_close(&b);
        printf("%.*s\n", (int)b.len, b.p);
        jb_free(&b);
    } else {
        printf("%s: %s loop, %d connections, %.3g s", url_s, o.rate > 0 ? "open" : "closed", o.connections,
               o.duration_s);
        if (o.rate > 0)
            printf(", %.6g req/s scheduled", o.rate);
        printf("\nscheduled %llu  sent %llu  completed %llu  errors %llu  unanswered %llu  unsent %llu\n",
               (unsigned long long)r.scheduled, (unsigned long long)r.sent, (unsigned long long)r.completed,
               (unsigned long long)r.errors, (unsigned long long)r.unanswered, (unsigned long long)r.unsent);
        printf("status 2xx %llu  3xx %llu  4xx %llu  5xx %llu  other %llu\n", (unsigned long long)r.status[2],
               (unsigned long long)r.status[3], (unsigned long long)r.status[4], (unsigned long long)r.status[5],
               (unsigned long long)(r.status[0] + r.status[1]));
        printf("achieved %.1f req/s\n", rate);
        printf("latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", p[0], p[1], p[2], p[3], p[4]);
    }
    int rc = r.completed ? TK_EXIT_OK : TK_EXIT_FAIL;
    loadgen_result_free(&r);
    return rc;
}
