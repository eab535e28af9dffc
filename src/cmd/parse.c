/* parse.c -- `tracekit parse`: one node's raw run files into CTS/ plus
 * the audit (work done in parse_run.c). */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "collect/procfs.h"
#include "common/log.h"
#include "common/jsonl.h"
#include "common/opt.h"
#include "common/progress.h"
#include "common/run.h"
#include "common/util.h"
#include "trace/audit.h"
#include "trace/layout.h"
#include "trace/parse_run.h"
#include "trace/ship.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const usage[] = {
    "tracekit parse [--run-id ID] [--logs DIR] [--node-id N] [--stage S]",
    "               [--interval-ms MS] [--dir DIR] [--quiet] [--json]",
    "               [--strict] [--max-unsampled N] [--min-coverage F]",
    "               [--max-cpu-error F] [--max-jitter-ms MS]",
    "               [--ship [--redis URL] [--redis-password-file F]]",
    NULL,
};
static const struct opt_cmd cmd = {
    .name = "parse",
    .usage = usage,
    .description =
        "Turn one node's raw run files (LOGS/RUN_ID/node_meta.json, proc_metrics.jsonl,\n"
        "events.*.jsonl, host_metrics.jsonl) into LOGS/RUN_ID/CTS/: invocations.jsonl,\n"
        "proc_metrics.jsonl, host_metrics.jsonl, nodes.json, audit_report.md, audit.json.\n"
        "Also merges events.*.jsonl into LOGS/RUN_ID/events.jsonl.  CTS/ is replaced as a\n"
        "whole; malformed or torn raw lines are skipped and counted in the audit.\n"
        "Folders RUN_ID(cN) of the original's experiment layout are parsed one by one.\n"
        "The node id and stage come from node_meta.json; --node-id and --stage, given,\n"
        "win over it.  On a terminal, a progress line on stderr shows the lines read.\n"
        "A run folder whose collector still records it (collector.json: running, and its\n"
        "pid alive with the same start ticks) is refused (exit 1) unless --force.\n",
};

/* What the command line asks for. */
struct parse_cli {
    struct run_opts run;
    struct redis_opts redis;
    struct redis_url url;       /* with --ship: parsed once, its secret hidden */
    const char *dir;
    double interval;
    bool quiet, json, ship, force, idle_share;
    struct audit_limits lim;
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

/* The audit's host warning (issue #14) in one line, for the summary and --json. */
static void host_warning_text(char *buf, size_t len, const struct parse_result *r)
{
    snprintf(buf, len,
             "traced CPU explains only %.1f%% of the host's busy CPU: untraced load shared the "
             "cores (see CTS/audit_report.md)",
             r->explained_pct);
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
    printf("\n");
    if (r->host_warning) {
        char w[256];
        host_warning_text(w, sizeof w, r);
        printf("[parse] WARNING: %s\n", w);
    }
    if (r->power[0])
        printf("[parse] power: %s\n", r->power);
    printf("[parse] wrote %s/ (invocations.jsonl, proc_metrics.jsonl, %snodes.json, "
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
    if (r->power[0])
        jb_str(b, "power", r->power);
    else
        jb_null(b, "power");
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
    if (r->host_warning) {
        host_warning_text(w, sizeof w, r);
        jb_str(b, NULL, w);
    }
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
                    const struct redis_url *u, bool quiet, int *rc)
{
    char name[256], err[1024];
    char *meta_run = NULL;
    if (!run_id) {
        char *mp = path_join(dir, "node_meta.json");
        json_t *m = jsonl_load_file(mp, 0, NULL);
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
    struct ship *q = ship_connect(u, run_id, err, sizeof err);
    if (!q) {
        log_error("cannot ship %s: %s", dir, err);
        *rc = TK_EXIT_FAIL;
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

/* The checks options cannot make alone: 0, or the exit code after a cli_error. */
static int check_args(struct parse_cli *c)
{
    struct audit_limits *l = &c->lim;
    if (c->dir && c->run.logs) {
        cli_error("--dir '%s' and --logs '%s' both name the data: give one", c->dir, c->run.logs);
        return TK_EXIT_USAGE;
    }
    if ((c->redis.url || c->redis.password_file) && !c->ship) {
        cli_error("%s is for --ship: add --ship to upload the parsed run",
                  c->redis.url ? "--redis" : "--redis-password-file");
        return TK_EXIT_USAGE;
    }
    if (l->max_unsampled >= 0 || !isnan(l->min_coverage) || !isnan(l->max_cpu_error) ||
        !isnan(l->max_jitter_ms))
        l->strict = true;   /* any limit implies --strict */
    else if (l->strict)
        l->max_unsampled = 0;
    if (c->run.run_id && !run_id_valid(c->run.run_id)) {
        cli_error("--run-id '%s': expected " RUN_ID_RULE, c->run.run_id);
        return TK_EXIT_USAGE;
    }
    if (c->run.node_id && !run_id_valid(c->run.node_id)) {
        cli_error("--node-id '%s': expected " RUN_ID_RULE, c->run.node_id);
        return TK_EXIT_USAGE;
    }
    return 0;
}

/* The folders to parse: --dir (itself, or its node folders), else the
 * run's folder (or its RUN_ID(cN) folders); the node id for a folder
 * without one in *node_default (malloc'd, or NULL: the folder's name).
 * NULL with *rc after a cli_error. */
static char **find_dirs(const struct parse_cli *c, struct run_ctx *ctx, char **node_default,
                        size_t *n, int *rc)
{
    char **dirs;
    *rc = TK_EXIT_FAIL;
    if (c->dir) {
        if (!(dirs = layout_run_dirs(c->dir, n)))
            cli_error("--dir '%s': not a run folder (no node_meta.json or raw files) and no "
                      "node folders in it",
                      c->dir);
        else if (nonempty_env("NODE_ID"))
            *node_default = xstrdup(nonempty_env("NODE_ID"));
        return dirs;
    }
    if (run_opts_resolve(&c->run, RUNID_NEWEST, ctx) < 0)
        return NULL;
    if (!c->quiet && !c->json) {
        if (!strcmp(ctx->run_id_source, "newest"))
            printf("[parse] RUN_ID=%s (the newest run folder under %s; give --run-id or set "
                   "RUN_ID to choose another)\n",
                   ctx->run_id, ctx->logs);
        else
            printf("[parse] RUN_ID=%s (from %s)\n", ctx->run_id, ctx->run_id_source);
    }
    if (is_dir(ctx->run_dir)) {
        dirs = xcalloc(2, sizeof *dirs);
        dirs[0] = xstrdup(ctx->run_dir);
        *n = 1;
    } else if (!(dirs = layout_node_dirs(ctx->logs, ctx->run_id, n))) {
        cli_error("no run folder '%s' (nor per-node folders %s(cN) in %s)", ctx->run_dir,
                  ctx->run_id, ctx->logs);
        return NULL;
    }
    *node_default = xstrdup(ctx->node_id);
    return dirs;
}

/* The pid of the collector recording dir when it still runs: collector.json
 * says running and that pid still has the recorded start ticks (a crashed
 * collector's stale "running", or a reused pid, does not count); else 0. */
static int collector_alive(const char *dir)
{
    char *path = path_join(dir, "collector.json");
    json_t *doc = jsonl_load_file(path, 0, NULL);
    free(path);
    const char *state = json_string_value(json_object_get(doc, "state"));
    json_int_t pid = json_integer_value(json_object_get(doc, "pid"));
    json_int_t ticks = json_integer_value(json_object_get(doc, "start_ticks"));
    int alive = 0;
    if (state && !strcmp(state, "running") && pid > 0 && pid < INT32_MAX && ticks > 0) {
        char sp[64];
        snprintf(sp, sizeof sp, "/proc/%lld/stat", (long long)pid);
        size_t n;
        char *text = read_file(sp, &n);
        struct proc_stat st;
        if (text && procfs_parse_stat(text, n, &st) == 0 && st.state != 'Z' &&
            st.state != 'X' && st.start_ticks == (uint64_t)ticks)
            alive = (int)pid;
        free(text);
    }
    json_decref(doc);
    return alive;
}

/* Parse (and ship) one folder; its figures go to jb for --json.  Returns
 * -1 when shipping cannot work at all (stop), else 0; *rc on failure. */
static int parse_one(const struct parse_cli *c, const char *dir, const char *run_id,
                     const char *node_default, struct jbuf *jb, int *rc)
{
    char name[256], label[300];
    int cpid = c->force ? 0 : collector_alive(dir);
    if (cpid) {
        log_error("the collector (pid %d) is still recording %s: parsing now would write a "
                  "cut-short trace; stop it first with 'tracekit collect stop --run-id %s' "
                  "(or --force to parse what is there)", cpid, dir,
                  run_id ? run_id : folder_name(dir, name, sizeof name));
        *rc = TK_EXIT_FAIL;
        return 0;
    }
    if (c->force && collector_alive(dir))
        log_warn("--force: the collector still records %s; the trace stops here", dir);
    snprintf(label, sizeof label, "parse %s", folder_name(dir, name, sizeof name));
    struct progress *pg = progress_begin(label, c->quiet);
    struct parse_opts o = {
        .run_dir = dir,
        .run_id = run_id,
        .node_id = c->run.node_id,
        .node_default = node_default ? node_default : folder_name(dir, name, sizeof name),
        .stage = c->run.stage,
        .stage_default = nonempty_env("STAGE") ? nonempty_env("STAGE") : "cloud",
        .interval_ms = c->interval,
        .limits = c->lim,
        .progress = pg,
        .idle_share = c->idle_share,
    };
    struct parse_result r;
    char err[1024];
    int prc = parse_run(&o, &r, err, sizeof err);
    progress_end(pg);
    if (prc < 0) {
        log_error("%s", err);
        if (c->json) {
            jb_obj_open(jb, NULL);
            jb_str(jb, "dir", dir);
            jb_bool(jb, "ok", false);
            jb_str(jb, "error", err);
            jb_obj_close(jb);
        }
        parse_result_free(&r);
        *rc = TK_EXIT_FAIL;
        return 0;
    }
    if (!c->quiet && !c->json)
        print_result(dir, &r);
    for (size_t k = 0; k < r.nviolations; k++)
        fprintf(stderr, "tracekit parse: error: %s: limit exceeded: %s\n", dir, r.violations[k]);
    if (r.nviolations)
        *rc = TK_EXIT_FAIL;
    int before = *rc;
    bool stop = c->ship && ship_run(dir, run_id, &r, &c->url, c->quiet || c->json, rc) < 0;
    if (c->json)
        json_result(jb, dir, &r, c->ship && !stop && *rc == before, c->ship);
    parse_result_free(&r);
    return stop ? -1 : 0;
}

/* Every folder; prints the --json object at the end.  The exit code. */
static int parse_dirs(const struct parse_cli *c, const char *run_id, char **dirs, size_t ndirs,
                      const char *node_default)
{
    int rc = TK_EXIT_OK;
    struct jbuf jb;
    jb_init(&jb);
    jb_obj_open(&jb, NULL);
    jb_str(&jb, "command", "parse");
    jb_str(&jb, "run_id", run_id);
    jb_arr_open(&jb, "runs");
    for (size_t i = 0; i < ndirs; i++)
        if (parse_one(c, dirs[i], ndirs == 1 ? run_id : NULL, node_default, &jb, &rc) < 0)
            break;  /* a refused connection or a wrong password: same for every folder */
    jb_arr_close(&jb);
    jb_bool(&jb, "ok", rc == TK_EXIT_OK);
    jb_obj_close(&jb);
    if (c->json)
        printf("%.*s\n", (int)jb.len, jb.p);
    jb_free(&jb);
    return rc;
}

int cmd_parse(int argc, char **argv)
{
    struct parse_cli c = {0};
    audit_limits_default(&c.lim);
    struct opt opts[] = {
        OPT_GROUP("Run:"),
        OPT_INCLUDE(run_options, &c.run, RUN_ID_NEWEST | RUN_LOGS | RUN_NODE | RUN_STAGE),
        OPT_STRING(0, "dir", &c.dir, "DIR",
                   "parse this run folder instead (or every node folder in it, e.g. an "
                   "experiment made by 'tracekit gather')"),
        OPT_DOUBLE(0, "interval-ms", &c.interval, "MS", 0.001, 86400000,
                   "sampling interval for the jitter figures (default: from node_meta.json or "
                   "collector.json, else the median interval)"),
        OPT_FLAG(0, "force", &c.force,
                 "parse even while the run's collector still records (default: refuse, "
                 "exit 1)"),
        OPT_FLAG(0, "idle-share", &c.idle_share,
                 "each task's energy_j also holds its share of the node's idle power by wall "
                 "time (default: only its share of the energy above idle, by CPU)"),
        OPT_GROUP("Output:"),
        OPT_FLAG(0, "quiet", &c.quiet, "print nothing but errors (and no progress line)"),
        OPT_FLAG(0, "json", &c.json,
                 "print one JSON object at the end instead of the text: per folder its counts, "
                 "files written and warnings"),
        OPT_GROUP("Checks (exit status 1 when a limit is exceeded; any limit implies --strict):"),
        OPT_FLAG(0, "strict", &c.lim.strict, "check limits; alone it means --max-unsampled 0"),
        OPT_INT(0, "max-unsampled", &c.lim.max_unsampled, "N", 0, INT64_MAX,
                "most tasks allowed without any sample"),
        OPT_DOUBLE(0, "min-coverage", &c.lim.min_coverage, "F", 0, 1,
                   "least share (0..1) of a sampled task's run time between its first and last "
                   "sample"),
        OPT_DOUBLE(0, "max-cpu-error", &c.lim.max_cpu_error, "F", 0, 1e9,
                   "largest |CPU from samples - exact CPU| / exact CPU (0.1 = 10%)"),
        OPT_DOUBLE(0, "max-jitter-ms", &c.lim.max_jitter_ms, "MS", 0, 1e9,
                   "largest p99 of |dt - interval| over regular ticks"),
        OPT_GROUP("Shipping to the controller (then 'tracekit gather --redis'):"),
        OPT_FLAG(0, "ship", &c.ship,
                 "after a successful parse, upload node_meta.json, events.*.jsonl and CTS/* to "
                 "Redis under the run's keys, in 512 KiB chunks with a SHA-256 per file; "
                 "shipping again replaces this node's previous upload as a whole"),
        OPT_INCLUDE(redis_options, &c.redis, 0),
        OPT_END(),
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    if (n < 0)
        return opt_exit_code(n);
    int rc = check_args(&c);
    if (rc)
        return rc;
    if (c.ship && redis_opts_load(&c.redis, &c.url) < 0)
        return TK_EXIT_USAGE;
    struct run_ctx ctx = {0};
    char *node_default = NULL;
    size_t ndirs = 0;
    char **dirs = find_dirs(&c, &ctx, &node_default, &ndirs, &rc);
    if (dirs)
        rc = parse_dirs(&c, ctx.run_id ? ctx.run_id : c.run.run_id, dirs, ndirs, node_default);
    layout_free_list(dirs);
    free(node_default);
    run_ctx_free(&ctx);
    redisurl_free(&c.url);
    return rc;
}
