/* parse.c -- `tracekit parse`: one node's raw run files into CTS/ plus
 * the audit (work done in parse_run.c). */
#include "trace/audit.h"
#include "cmd/commands.h"
#include "trace/layout.h"
#include "common/log.h"
#include "trace/parse_run.h"
#include "common/progress.h"
#include "common/run.h"
#include "trace/ship.h"
#include "common/util.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit parse [--run-id ID] [--logs DIR] [--node-id N] [--stage S]\n"
            "                      [--interval-ms MS] [--dir DIR] [--quiet] [--json]\n"
            "                      [--strict] [--max-unsampled N] [--min-coverage F]\n"
            "                      [--max-cpu-error F] [--max-jitter-ms MS]\n"
            "                      [--ship [--redis URL] [--redis-password-file F]]\n"
            "\n"
            "Turn one node's raw run files (LOGS/RUN_ID/node_meta.json, proc_metrics.jsonl,\n"
            "events.*.jsonl, host_metrics.jsonl) into LOGS/RUN_ID/CTS/: invocations.jsonl,\n"
            "proc_metrics.jsonl, host_metrics.jsonl, nodes.json, audit_report.md, audit.json.\n"
            "Also merges events.*.jsonl into LOGS/RUN_ID/events.jsonl.  CTS/ is replaced as a\n"
            "whole; malformed or torn raw lines are skipped and counted in the audit.\n"
            "\n"
            "  --run-id ID         run to parse (default: RUN_ID, run_id.env, else the newest\n"
            "                      folder under the logs folder); folders RUN_ID(cN) of the\n"
            "                      original's experiment layout are parsed one by one\n"
            "  --logs DIR          logs folder (default logs)\n"
            "  --dir DIR           parse this run folder instead (or every node folder in it,\n"
            "                      e.g. an experiment made by 'tracekit gather')\n"
            "  --node-id N         node id when node_meta.json has none (default NODE_ID or\n"
            "                      the host name); given, it wins over node_meta.json\n"
            "  --stage S           stage likewise (default STAGE or cloud)\n"
            "  --interval-ms MS    sampling interval for the jitter figures (default: from\n"
            "                      node_meta.json or collector.json, else the median interval)\n"
            "  --quiet             print nothing but errors (and no progress line)\n"
            "  --json              print one JSON object at the end instead of the text:\n"
            "                      per folder its counts, files written and warnings\n"
            "  -h, --help          this text\n"
            "\n"
            "On a terminal, a progress line on stderr shows the lines read.\n"
            "\n"
            "Checks (exit status 1 when a limit is exceeded; any limit implies --strict):\n"
            "  --strict            check limits; alone it means --max-unsampled 0\n"
            "  --max-unsampled N   most tasks allowed without any sample\n"
            "  --min-coverage F    least share (0..1) of a sampled task's run time between\n"
            "                      its first and last sample\n"
            "  --max-cpu-error F   largest |CPU from samples - exact CPU| / exact CPU (0.1 = 10%%)\n"
            "  --max-jitter-ms MS  largest p99 of |dt - interval| over regular ticks\n"
            "\n"
            "Shipping to the controller (then 'tracekit gather --redis'):\n"
            "  --ship              after a successful parse, upload node_meta.json,\n"
            "                      events.*.jsonl and CTS/* to Redis under the run's keys, in\n"
            "                      512 KiB chunks with a SHA-256 per file; shipping again\n"
            "                      replaces this node's previous upload as a whole\n"
            "  --redis URL         redis://[:PASSWORD@]HOST[:PORT][/DB] (default\n"
            "                      $TRACEKIT_REDIS_URL, else redis://127.0.0.1:6379/0)\n"
            "  --redis-password-file F  the password, first line of F (keeps it out of ps)\n");
}

enum {
    OPT_RUN_ID = 1000, OPT_LOGS, OPT_NODE, OPT_STAGE, OPT_INTERVAL, OPT_DIR, OPT_STRICT,
    OPT_MAX_UNSAMPLED, OPT_MIN_COVERAGE, OPT_MAX_CPU_ERROR, OPT_MAX_JITTER, OPT_QUIET,
    OPT_SHIP, OPT_REDIS, OPT_REDIS_PWFILE, OPT_JSON,
};

static const struct option options[] = {
    {"run-id", required_argument, NULL, OPT_RUN_ID},
    {"logs", required_argument, NULL, OPT_LOGS},
    {"node-id", required_argument, NULL, OPT_NODE},
    {"stage", required_argument, NULL, OPT_STAGE},
    {"interval-ms", required_argument, NULL, OPT_INTERVAL},
    {"dir", required_argument, NULL, OPT_DIR},
    {"strict", no_argument, NULL, OPT_STRICT},
    {"max-unsampled", required_argument, NULL, OPT_MAX_UNSAMPLED},
    {"min-coverage", required_argument, NULL, OPT_MIN_COVERAGE},
    {"max-cpu-error", required_argument, NULL, OPT_MAX_CPU_ERROR},
    {"max-jitter-ms", required_argument, NULL, OPT_MAX_JITTER},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"json", no_argument, NULL, OPT_JSON},
    {"ship", no_argument, NULL, OPT_SHIP},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"redis-password-file", required_argument, NULL, OPT_REDIS_PWFILE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *nonempty_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* A folder's own name (for a node without node_meta.json and NODE_ID). */
static const char *folder_name(const char *path, char *buf, size_t len)
{
    snprintf(buf, len, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    char *s = strrchr(buf, '/');
    return s ? s + 1 : buf;
}

static void print_result(const char *dir, const struct parse_result *r)
{
    printf("[parse] %s: node %s, stage %s%s\n", dir, r->node ? r->node : "?",
           r->stage ? r->stage : "?", r->has_meta ? "" : " (no node_meta.json)");
    printf("[parse] events: %llu task(s) from %llu events.*.jsonl file(s), %llu line(s) skipped\n",
           (unsigned long long)r->events, (unsigned long long)r->event_files,
           (unsigned long long)r->events_skipped);
    printf("[parse] proc_metrics: %llu raw line(s) -> %llu record(s) for %llu process(es), "
           "%llu line(s) skipped\n",
           (unsigned long long)r->raw_lines, (unsigned long long)r->records,
           (unsigned long long)r->processes, (unsigned long long)r->raw_skipped);
    if (r->host_lines || r->host_skipped)
        printf("[parse] host_metrics: %llu line(s), %llu skipped\n",
               (unsigned long long)r->host_lines, (unsigned long long)r->host_skipped);
    printf("[parse] audit: %zu task(s), %zu without samples, %zu failed", r->tasks, r->unsampled,
           r->failed);
    if (!isnan(r->jitter_p99))
        printf("; tick jitter p99 %.3f ms (interval %.3f ms from %s)", r->jitter_p99,
               r->interval_ms, r->interval_source ? r->interval_source : "?");
    printf("\n[parse] wrote %s/ (invocations.jsonl, proc_metrics.jsonl, %snodes.json, "
           "audit_report.md, audit.json) in %.2f s\n",
           r->cts_dir, r->host_lines || r->host_skipped ? "host_metrics.jsonl, " : "",
           r->seconds);
}

/* One folder's figures for --json. */
static void json_result(struct jbuf *b, const char *dir, const struct parse_result *r, bool shipped,
                        bool ship)
{
    jb_obj_open(b, NULL);
    jb_str(b, "dir", dir);
    jb_bool(b, "ok", true);
    jb_str(b, "node", r->node);
    jb_str(b, "stage", r->stage);
    jb_bool(b, "node_meta", r->has_meta);
    jb_uint(b, "event_files", r->event_files);
    jb_uint(b, "events", r->events);
    jb_uint(b, "events_skipped", r->events_skipped);
    jb_uint(b, "proc_lines", r->raw_lines);
    jb_uint(b, "proc_skipped", r->raw_skipped);
    jb_uint(b, "proc_records", r->records);
    jb_uint(b, "processes", r->processes);
    jb_uint(b, "host_lines", r->host_lines);
    jb_uint(b, "host_skipped", r->host_skipped);
    jb_uint(b, "tasks", r->tasks);
    jb_uint(b, "unsampled", r->unsampled);
    jb_uint(b, "failed", r->failed);
    if (isnan(r->jitter_p99))
        jb_null(b, "jitter_p99_ms");
    else
        jb_double(b, "jitter_p99_ms", r->jitter_p99);
    jb_double(b, "interval_ms", r->interval_ms);
    jb_str(b, "cts_dir", r->cts_dir);
    jb_arr_open(b, "files");
    static const char *const names[] = {"invocations.jsonl", "proc_metrics.jsonl", "host_metrics.jsonl",
                                        "nodes.json", "audit_report.md", "audit.json"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (i == 2 && !r->host_lines && !r->host_skipped)
            continue;
        char *p = path_join(r->cts_dir, names[i]);
        jb_str(b, NULL, p);
        free(p);
    }
    jb_arr_close(b);
    jb_arr_open(b, "warnings");
    char w[256];
    if (r->events_skipped) {
        snprintf(w, sizeof w, "%llu events.*.jsonl line(s) skipped", (unsigned long long)r->events_skipped);
        jb_str(b, NULL, w);
    }
    if (r->raw_skipped) {
        snprintf(w, sizeof w, "%llu proc_metrics.jsonl line(s) skipped", (unsigned long long)r->raw_skipped);
        jb_str(b, NULL, w);
    }
    if (r->host_skipped) {
        snprintf(w, sizeof w, "%llu host metrics line(s) skipped", (unsigned long long)r->host_skipped);
        jb_str(b, NULL, w);
    }
    if (!r->has_meta)
        jb_str(b, NULL, "no node_meta.json");
    for (size_t k = 0; k < r->nviolations; k++) {
        snprintf(w, sizeof w, "limit exceeded: %s", r->violations[k]);
        jb_str(b, NULL, w);
    }
    jb_arr_close(b);
    jb_arr_open(b, "violations");
    for (size_t k = 0; k < r->nviolations; k++)
        jb_str(b, NULL, r->violations[k]);
    jb_arr_close(b);
    if (ship)
        jb_bool(b, "shipped", shipped);
    jb_double(b, "seconds", r->seconds);
    jb_obj_close(b);
}

/* Upload one parsed run folder (parse --ship).  The run id for the keys:
 * the one parsed, else node_meta.json's, else the folder's name.  Sets *rc
 * on failure; -1 when shipping cannot work at all (stop trying). */
static int ship_run(const char *dir, const char *run_id, const struct parse_result *r,
                    const char *redis, const char *pw_file, bool quiet, int *rc)
{
    char name[256], err[1024];
    char *meta_run = NULL;
    if (!run_id) {
        char *mp = path_join(dir, "node_meta.json");
        json_t *m = json_load_file(mp, 0, NULL);
        const char *v = json_string_value(json_object_get(m, "run_id"));
        if (v && run_id_valid(v))
            meta_run = xstrdup(v);
        json_decref(m);
        free(mp);
        run_id = meta_run ? meta_run : folder_name(dir, name, sizeof name);
    }
    if (!r->node || !run_id_valid(r->node)) {
        log_error("%s: cannot ship: node id '%s' is not usable in Redis keys (give --node-id)",
                  dir, r->node ? r->node : "");
        *rc = TK_EXIT_FAIL;
        free(meta_run);
        return 0;
    }
    bool usage;
    struct ship *q = ship_connect(redis, pw_file, run_id, &usage, err, sizeof err);
    if (!q) {
        if (usage)
            cli_error("%s", err);
        else
            log_error("cannot ship %s: %s", dir, err);
        *rc = usage ? TK_EXIT_USAGE : TK_EXIT_FAIL;
        free(meta_run);
        return -1;
    }
    struct ship_stats st;
    int64_t t0 = now_mono_ns();
    if (ship_upload(q, r->node, dir, SHIP_CHUNK_DEFAULT, &st, err, sizeof err) < 0) {
        log_error("shipping %s as node %s failed: %s", dir, r->node, err);
        *rc = TK_EXIT_FAIL;
    } else if (!quiet) {
        printf("[parse] shipped node %s of run %s: %zu file(s), %llu byte(s) in %llu chunk(s), "
               "upload %s, %.2f s\n",
               r->node, run_id, st.files, (unsigned long long)st.bytes,
               (unsigned long long)st.chunks, st.upload, (double)(now_mono_ns() - t0) / 1e9);
    }
    ship_close(q);
    free(meta_run);
    return 0;
}

int cmd_parse(int argc, char **argv)
{
    const char *run_id = NULL, *logs = NULL, *node = NULL, *stage = NULL, *dir = NULL;
    double interval = 0;
    bool quiet = false, ship = false, json = false;
    const char *redis = NULL, *pw_file = NULL;
    struct audit_limits lim;
    audit_limits_default(&lim);
    bool any_limit = false;

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_RUN_ID: run_id = optarg; break;
        case OPT_LOGS: logs = optarg; break;
        case OPT_NODE: node = optarg; break;
        case OPT_STAGE: stage = optarg; break;
        case OPT_DIR: dir = optarg; break;
        case OPT_QUIET: quiet = true; break;
        case OPT_JSON: json = true; break;
        case OPT_SHIP: ship = true; break;
        case OPT_REDIS: redis = optarg; break;
        case OPT_REDIS_PWFILE: pw_file = optarg; break;
        case OPT_STRICT: lim.strict = true; break;
        case OPT_INTERVAL:
            if (!parse_double(optarg, 0.001, 86400000, &interval)) {
                cli_error("--interval-ms '%s': expected a positive number of milliseconds", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case OPT_MAX_UNSAMPLED:
            if (!parse_i64(optarg, 0, INT64_MAX, &lim.max_unsampled)) {
                cli_error("--max-unsampled '%s': expected a whole number >= 0", optarg);
                return TK_EXIT_USAGE;
            }
            any_limit = true;
            break;
        case OPT_MIN_COVERAGE:
            if (!parse_double(optarg, 0, 1, &lim.min_coverage)) {
                cli_error("--min-coverage '%s': expected a share between 0 and 1 (e.g. 0.9)", optarg);
                return TK_EXIT_USAGE;
            }
            any_limit = true;
            break;
        case OPT_MAX_CPU_ERROR:
            if (!parse_double(optarg, 0, 1e9, &lim.max_cpu_error)) {
                cli_error("--max-cpu-error '%s': expected a relative error >= 0 (e.g. 0.1 for 10%%)",
                          optarg);
                return TK_EXIT_USAGE;
            }
            any_limit = true;
            break;
        case OPT_MAX_JITTER:
            if (!parse_double(optarg, 0, 1e9, &lim.max_jitter_ms)) {
                cli_error("--max-jitter-ms '%s': expected milliseconds >= 0", optarg);
                return TK_EXIT_USAGE;
            }
            any_limit = true;
            break;
        case 'h':
            usage(stdout);
            return TK_EXIT_OK;
        default:
            fprintf(stderr, "(see 'tracekit parse --help')\n");
            return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (the run is chosen with --run-id or --dir)", argv[optind]);
        return TK_EXIT_USAGE;
    }
    if (dir && logs) {
        cli_error("--dir '%s' and --logs '%s' both name the data: give one", dir, logs);
        return TK_EXIT_USAGE;
    }
    if ((redis || pw_file) && !ship) {
        cli_error("%s is for --ship: add --ship to upload the parsed run",
                  redis ? "--redis" : "--redis-password-file");
        return TK_EXIT_USAGE;
    }
    if (any_limit)
        lim.strict = true;
    else if (lim.strict)
        lim.max_unsampled = 0;
    if (run_id && !run_id_valid(run_id)) {
        cli_error("--run-id '%s': expected 1-128 letters, digits and ._-()+:", run_id);
        return TK_EXIT_USAGE;
    }
    if (node && !run_id_valid(node)) {
        cli_error("--node-id '%s': expected 1-128 letters, digits and ._-()+:", node);
        return TK_EXIT_USAGE;
    }

    struct run_ctx ctx = {0};
    char **dirs = NULL;
    size_t ndirs = 0;
    char *node_default = NULL;
    if (dir) {
        if (layout_is_run_dir(dir)) {
            dirs = xcalloc(2, sizeof *dirs);
            dirs[0] = xstrdup(dir);
            ndirs = 1;
        } else if (!(dirs = layout_node_dirs(dir, NULL, &ndirs))) {
            cli_error("--dir '%s': not a run folder (no node_meta.json or raw files) and no "
                      "node folders in it",
                      dir);
            return TK_EXIT_FAIL;
        }
        node_default = nonempty_env("NODE_ID") ? xstrdup(nonempty_env("NODE_ID")) : NULL;
    } else {
        char err[512];
        if (run_ctx_resolve(&ctx, run_id, node, stage, logs, RUNID_NEWEST, err, sizeof err) < 0) {
            cli_error("%s", err);
            return TK_EXIT_FAIL;
        }
        if (!quiet && !json) {
            if (!strcmp(ctx.run_id_source, "newest"))
                printf("[parse] RUN_ID=%s (the newest run folder under %s; give --run-id or set "
                       "RUN_ID to choose another)\n",
                       ctx.run_id, ctx.logs);
            else
                printf("[parse] RUN_ID=%s (from %s)\n", ctx.run_id, ctx.run_id_source);
        }
        if (is_dir(ctx.run_dir)) {
            dirs = xcalloc(2, sizeof *dirs);
            dirs[0] = xstrdup(ctx.run_dir);
            ndirs = 1;
        } else if (!(dirs = layout_node_dirs(ctx.logs, ctx.run_id, &ndirs))) {
            cli_error("no run folder '%s' (nor per-node folders %s(cN) in %s)", ctx.run_dir,
                      ctx.run_id, ctx.logs);
            run_ctx_free(&ctx);
            return TK_EXIT_FAIL;
        }
        node_default = xstrdup(ctx.node_id);
    }

    int rc = TK_EXIT_OK;
    struct jbuf jb;
    jb_init(&jb);
    jb_obj_open(&jb, NULL);
    jb_str(&jb, "command", "parse");
    jb_str(&jb, "run_id", ctx.run_id ? ctx.run_id : run_id);
    jb_arr_open(&jb, "runs");
    for (size_t i = 0; i < ndirs; i++) {
        char name[256];
        char label[300];
        snprintf(label, sizeof label, "parse %s", folder_name(dirs[i], name, sizeof name));
        struct progress *pg = progress_begin(label, quiet);
        struct parse_opts o = {
            .run_dir = dirs[i],
            .run_id = ndirs == 1 ? (ctx.run_id ? ctx.run_id : run_id) : NULL,
            .node_id = node,
            .node_default = node_default ? node_default : folder_name(dirs[i], name, sizeof name),
            .stage = stage,
            .stage_default = nonempty_env("STAGE") ? nonempty_env("STAGE") : "cloud",
            .interval_ms = interval,
            .limits = lim,
            .progress = pg,
        };
        struct parse_result r;
        char err[1024];
        int prc = parse_run(&o, &r, err, sizeof err);
        progress_end(pg);
        if (prc < 0) {
            log_error("%s", err);
            if (json) {
                jb_obj_open(&jb, NULL);
                jb_str(&jb, "dir", dirs[i]);
                jb_bool(&jb, "ok", false);
                jb_str(&jb, "error", err);
                jb_obj_close(&jb);
            }
            parse_result_free(&r);
            rc = TK_EXIT_FAIL;
            continue;
        }
        if (!quiet && !json)
            print_result(dirs[i], &r);
        for (size_t k = 0; k < r.nviolations; k++)
            fprintf(stderr, "tracekit parse: %s: limit exceeded: %s\n", dirs[i], r.violations[k]);
        if (r.nviolations)
            rc = TK_EXIT_FAIL;
        int before = rc;
        bool stop = ship && ship_run(dirs[i], o.run_id, &r, redis, pw_file, quiet || json, &rc) < 0;
        if (json)
            json_result(&jb, dirs[i], &r, ship && !stop && rc == before, ship);
        parse_result_free(&r);
        if (stop)
            break;  /* a refused connection or a wrong password: same for every folder */
    }
    jb_arr_close(&jb);
    jb_bool(&jb, "ok", rc == TK_EXIT_OK);
    jb_obj_close(&jb);
    if (json)
        printf("%.*s\n", (int)jb.len, jb.p);
    jb_free(&jb);
    layout_free_list(dirs);
    free(node_default);
    run_ctx_free(&ctx);
    return rc;
}
