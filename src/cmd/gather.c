/* gather.c -- `tracekit gather`: copy every node's run folder into one
 * experiment folder, one sub-folder per node, and parse the ones that have
 * raw files but no CTS/ yet. */
#include "cmd/commands.h"
#include "trace/cts.h"
#include "common/fstree.h"
#include "trace/layout.h"
#include "common/log.h"
#include "trace/parse_run.h"
#include "common/run.h"
#include "trace/ship.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit gather [--run-id ID] --output DIR [--from DIR [--from DIR | DIR]...]\n"
            "                       [--redis URL [--redis-password-file F]] [--quiet]\n"
            "\n"
            "Collect the run folders of several nodes into one experiment folder, one\n"
            "sub-folder per node named by its node id (node_meta.json); nodes sharing an id\n"
            "get ID-HOST, or ID-1, ID-2, ... in a fixed order.  A node folder without CTS/\n"
            "but with raw files is parsed in place.  Writes DIR/gather.json (which node came\n"
            "from where, clock offsets).\n"
            "\n"
            "  --run-id ID   the run (default: RUN_ID, else run_id.env)\n"
            "  --output DIR  experiment folder (created; node folders in it are replaced)\n"
            "  --from DIR    where a node's run is: the run folder itself, a folder holding\n"
            "                RUN_ID/ or logs/RUN_ID/, or an experiment folder with RUN_ID(cN)\n"
            "                or node sub-folders; repeat it, or list more folders after it\n"
            "  --redis URL   also (or instead) take every node that shipped this run with\n"
            "                'tracekit parse --ship': files are downloaded, sizes and SHA-256\n"
            "                checked, and laid out as with --from.  URL as redis://[:PW@]HOST:PORT/DB\n"
            "  --redis-password-file F  the Redis password, first line of F\n"
            "  --quiet       print nothing but errors\n"
            "  -h, --help    this text\n");
}

enum { OPT_RUN_ID = 1000, OPT_OUTPUT, OPT_FROM, OPT_QUIET, OPT_REDIS, OPT_REDIS_PWFILE };

static const struct option options[] = {
    {"run-id", required_argument, NULL, OPT_RUN_ID},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"from", required_argument, NULL, OPT_FROM},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"redis-password-file", required_argument, NULL, OPT_REDIS_PWFILE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct node {
    char *source;       /* real path of the node's run folder (for Redis: the download) */
    char *shipped;      /* Redis: "URL (redacted) node N"; NULL for --from */
    json_t *meta;
    bool has_offset;
    double offset_ms;
    bool reparsed;
    size_t files;
};

/* Transient things a run folder may hold: sentinels and half-written CTS. */
static bool skip_entry(const char *rel)
{
    return !strcmp(rel, "pids") || str_starts(rel, "CTS.tmp.") || str_starts(rel, "CTS.old.");
}

/* Is `inner` the folder `outer` or below it (both real paths)? */
static bool within(const char *inner, const char *outer)
{
    size_t n = strlen(outer);
    return !strncmp(inner, outer, n) && (inner[n] == '\0' || inner[n] == '/' || !strcmp(outer, "/"));
}

static json_t *load_meta(const char *dir)
{
    char *p = path_join(dir, "node_meta.json");
    json_t *m = file_exists(p) ? json_load_file(p, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    if (m && !json_is_object(m)) {
        json_decref(m);
        m = NULL;
    }
    free(p);
    return m;
}

static const char *str_of(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

static int gather_one(const char *out_real, struct node *n, const char *name, const char *run_id,
                      bool quiet)
{
    char *final = path_join(out_real, name);
    char *prefix = xasprintf(".%s.tmp.", name);
    fstree_clean_stale(out_real, prefix);
    char *tmp = xasprintf("%s/%s%d", out_real, prefix, (int)getpid());
    free(prefix);
    fstree_rm_rf(tmp);
    int rc = -1;
    char err[PATH_MAX + 64];
    if (fstree_copy(n->source, tmp, skip_entry, &n->files, err, sizeof err) < 0) {
        log_error("copying %s to %s failed at %s: %s", n->source, final, err, strerror(errno));
        fstree_rm_rf(tmp);
        goto out;
    }
    if (fstree_sync_dir(tmp) < 0 || fstree_replace(tmp, final) < 0) {
        log_error("cannot put %s in place of %s: %s", tmp, final, strerror(errno));
        fstree_rm_rf(tmp);
        goto out;
    }
    rc = 0;
    char *cts = path_join(final, "CTS");
    bool need_parse = !is_dir(cts) && layout_has_raw(final);
    free(cts);
    if (need_parse) {
        struct parse_opts o = {
            .run_dir = final,
            .run_id = run_id,
            .node_default = name,
            .stage_default = "cloud",
        };
        audit_limits_default(&o.limits);
        struct parse_result r;
        char perr[1024];
        if (parse_run(&o, &r, perr, sizeof perr) < 0) {
            log_error("parsing %s: %s", final, perr);
            rc = -1;
        } else {
            n->reparsed = true;
            if (!quiet)
                printf("[gather]   parsed: %llu task(s), %llu record(s), %zu without samples -> %s\n",
                       (unsigned long long)r.events, (unsigned long long)r.records, r.unsampled,
                       r.cts_dir);
        }
        parse_result_free(&r);
    }
out:
    free(tmp);
    free(final);
    return rc;
}

int cmd_gather(int argc, char **argv)
{
    const char *run_id = NULL, *output = NULL, *redis = NULL, *pw_file = NULL;
    bool quiet = false;
    const char **from = xcalloc((size_t)argc + 1, sizeof *from);
    size_t nfrom = 0;

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_RUN_ID: run_id = optarg; break;
        case OPT_OUTPUT: output = optarg; break;
        case OPT_FROM: from[nfrom++] = optarg; break;
        case OPT_QUIET: quiet = true; break;
        case OPT_REDIS: redis = optarg; break;
        case OPT_REDIS_PWFILE: pw_file = optarg; break;
        case 'h':
            usage(stdout);
            free(from);
            return TK_EXIT_OK;
        default:
            fprintf(stderr, "(see 'tracekit gather --help')\n");
            free(from);
            return TK_EXIT_USAGE;
        }
    }
    /* "--from A B C": getopt leaves B and C as operands */
    for (int i = optind; i < argc; i++)
        from[nfrom++] = argv[i];
    if (!output || !*output) {
        cli_error("--output DIR is required (the experiment folder to fill)");
        free(from);
        return TK_EXIT_USAGE;
    }
    if (pw_file && !redis) {
        cli_error("--redis-password-file '%s' needs --redis URL", pw_file);
        free(from);
        return TK_EXIT_USAGE;
    }
    if (nfrom == 0 && !redis) {
        cli_error("--from DIR or --redis URL is required: the node run folders to collect, or "
                  "the Redis the nodes shipped to with 'tracekit parse --ship'");
        free(from);
        return TK_EXIT_USAGE;
    }
    struct run_ctx ctx;
    char err[1024];
    if (run_ctx_resolve(&ctx, run_id, NULL, NULL, NULL, RUNID_REQUIRED, err, sizeof err) < 0) {
        cli_error("%s", err);
        free(from);
        return TK_EXIT_USAGE;
    }

    int rc = TK_EXIT_FAIL;
    struct node *nodes = NULL;
    struct layout_node *names = NULL;
    size_t nn = 0;
    char *out_real = NULL, *staging = NULL;
    struct ship *q = NULL;

    bool created = !is_dir(output);
    if (mkdir_p(output, 0755) < 0 || !(out_real = realpath(output, NULL))) {
        log_error("cannot create the experiment folder %s: %s", output, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < nfrom; i++) {
        size_t k;
        char **runs = layout_find_runs(from[i], ctx.run_id, &k, err, sizeof err);
        if (!runs) {
            log_error("--from %s", err);
            goto done;
        }
        for (size_t j = 0; j < k; j++) {
            char *real = realpath(runs[j], NULL);
            if (!real) {
                log_error("%s: %s", runs[j], strerror(errno));
                layout_free_list(runs);
                goto done;
            }
            if (within(real, out_real) || within(out_real, real)) {
                log_error("%s and the experiment folder %s overlap: give a separate --output",
                          runs[j], output);
                if (created)
                    rmdir(out_real);  /* leave the source as it was */
                free(real);
                layout_free_list(runs);
                goto done;
            }
            bool dup = false;
            for (size_t m = 0; m < nn && !dup; m++)
                dup = !strcmp(nodes[m].source, real);
            if (dup) {
                log_warn("%s named twice; copied once", runs[j]);
                free(real);
                continue;
            }
            nodes = xrealloc(nodes, (nn + 1) * sizeof *nodes);
            struct node *n = &nodes[nn++];
            memset(n, 0, sizeof *n);
            n->source = real;
            n->meta = load_meta(real);
            n->has_offset = n->meta && cts_meta_clock_offset(n->meta, &n->offset_ms);
            const char *mrun = str_of(n->meta, "run_id");
            if (mrun && strcmp(mrun, ctx.run_id) != 0)
                log_warn("%s: node_meta.json says run %s, not %s", real, mrun, ctx.run_id);
        }
        layout_free_list(runs);
    }

    if (redis) {
        /* downloads go to a private folder in the experiment, then the usual
         * copy puts each in place (a failed download never replaces a node) */
        bool usage;
        q = ship_connect(redis, pw_file, ctx.run_id, &usage, err, sizeof err);
        if (!q) {
            if (usage) {
                cli_error("%s", err);
                rc = TK_EXIT_USAGE;
            } else {
                log_error("%s", err);
            }
            goto done;
        }
        char *desc = redisurl_redact(redisurl_choose(redis));
        char **shipped;
        size_t ns;
        if (ship_list(q, &shipped, &ns, err, sizeof err) < 0) {
            log_error("%s", err);
            free(desc);
            goto done;
        }
        if (ns == 0) {
            log_error("no node shipped run %s to Redis at %s (run 'tracekit parse --ship' on "
                      "the nodes, with the same run id and Redis)", ctx.run_id, desc);
            free(desc);
            free(shipped);
            goto done;
        }
        fstree_clean_stale(out_real, ".redis.tmp.");
        staging = xasprintf("%s/.redis.tmp.%d", out_real, (int)getpid());
        fstree_rm_rf(staging);
        bool failed = mkdir_p(staging, 0700) < 0;
        if (failed)
            log_error("cannot create %s: %s", staging, strerror(errno));
        for (size_t i = 0; i < ns && !failed; i++) {
            char *dst = path_join(staging, shipped[i]);
            struct ship_stats st;
            int64_t t0 = now_mono_ns();
            if (ship_download(q, shipped[i], dst, &st, err, sizeof err) < 0) {
                log_error("downloading from Redis at %s: %s", desc, err);
                failed = true;
                free(dst);
                break;
            }
            if (!quiet)
                printf("[gather] downloaded node %s from Redis: %zu file(s), %llu byte(s), "
                       "checksums ok, %.2f s\n",
                       shipped[i], st.files, (unsigned long long)st.bytes,
                       (double)(now_mono_ns() - t0) / 1e9);
            nodes = xrealloc(nodes, (nn + 1) * sizeof *nodes);
            struct node *n = &nodes[nn++];
            memset(n, 0, sizeof *n);
            n->source = dst;
            n->shipped = xasprintf("%s node %s", desc, shipped[i]);
            n->meta = load_meta(dst);
            n->has_offset = n->meta && cts_meta_clock_offset(n->meta, &n->offset_ms);
        }
        for (size_t i = 0; i < ns; i++)
            free(shipped[i]);
        free(shipped);
        free(desc);
        if (failed)
            goto done;
    }

    names = xcalloc(nn, sizeof *names);
    for (size_t i = 0; i < nn; i++) {
        names[i].node_id = str_of(nodes[i].meta, "node");
        names[i].host = str_of(nodes[i].meta, "host");
        names[i].source = nodes[i].source;
    }
    layout_assign_names(names, nn);

    rc = TK_EXIT_OK;
    for (size_t i = 0; i < nn; i++) {
        if (!quiet)
            printf("[gather] %s <- %s\n", names[i].name,
                   nodes[i].shipped ? nodes[i].shipped : nodes[i].source);
        if (gather_one(out_real, &nodes[i], names[i].name, ctx.run_id, quiet) < 0)
            rc = TK_EXIT_FAIL;
    }

    /* gather.json: what came from where, and the clocks */
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "run_id", ctx.run_id);
    jb_arr_open(&b, "nodes");
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < nn; i++) {
        jb_obj_open(&b, NULL);
        jb_str(&b, "folder", names[i].name);
        jb_str(&b, "node_id", names[i].node_id);
        jb_str(&b, "host", names[i].host);
        jb_str(&b, "source", nodes[i].shipped ? nodes[i].shipped : nodes[i].source);
        jb_str(&b, "via", nodes[i].shipped ? "redis" : "folder");
        jb_uint(&b, "files", nodes[i].files);
        jb_bool(&b, "parsed_here", nodes[i].reparsed);
        if (nodes[i].has_offset) {
            cts_put_ms(&b, "clock_offset_ms", nodes[i].offset_ms);
            lo = fmin(lo, nodes[i].offset_ms);
            hi = fmax(hi, nodes[i].offset_ms);
        } else {
            jb_null(&b, "clock_offset_ms");
        }
        jb_obj_close(&b);
    }
    jb_arr_close(&b);
    if (hi >= lo)
        cts_put_ms(&b, "clock_offset_spread_ms", hi - lo);
    else
        jb_null(&b, "clock_offset_spread_ms");
    jb_obj_close(&b);
    jb_newline(&b);
    char *manifest = path_join(out_real, "gather.json");
    if (write_file_atomic(manifest, b.p, b.len) < 0) {
        log_error("cannot write %s: %s", manifest, strerror(errno));
        rc = TK_EXIT_FAIL;
    }
    if (!quiet) {
        if (hi >= lo)
            printf("[gather] clock offsets recorded by the nodes differ by up to %.3f ms\n", hi - lo);
        printf("[gather] %zu node(s) in %s (see gather.json)\n", nn, output);
    }
    free(manifest);
    jb_free(&b);

done:
    for (size_t i = 0; i < nn; i++) {
        free(nodes[i].source);
        free(nodes[i].shipped);
        json_decref(nodes[i].meta);
        if (names)
            free(names[i].name);
    }
    free(nodes);
    free(names);
    if (staging)
        fstree_rm_rf(staging);
    free(staging);
    if (q)
        ship_close(q);
    free(out_real);
    free(from);
    run_ctx_free(&ctx);
    return rc;
}
