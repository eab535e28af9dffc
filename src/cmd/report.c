/* report.c -- `tracekit report`: read the CTS files of one run folder or
 * of every node of an experiment folder, and/or an exported OpenDC workload
 * (report_odc.c), and write one self-contained HTML page (report.c draws it). */
#include "cmd/commands.h"
#include "trace/cts.h"
#include "common/jsonl.h"
#include "trace/layout.h"
#include "common/log.h"
#include "report/report.h"
#include "report/report_odc.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit report --input DIR [--opendc DIR] [--output FILE] [--quiet]\n"
            "\n"
            "Write one self-contained HTML page (inline CSS and SVG, no network) about a\n"
            "parsed run: summary table, task timeline per node and CPU, host CPU and memory\n"
            "with the sampled processes' CPU, per-task CPU curves and the audit figures.\n"
            "For an OpenDC workload (tasks.parquet, fragments.parquet, topology.json, as\n"
            "written by 'tracekit export opendc'): its summary, the tasks as submitted, the\n"
            "CPU the fragments ask for against the topology's capacity, per-task curves.\n"
            "\n"
            "  --input DIR    a parsed run folder (logs/RUN_ID with CTS/), an experiment\n"
            "                 folder with one sub-folder per node (tracekit gather), or an\n"
            "                 OpenDC workload folder\n"
            "  --opendc DIR   also draw this OpenDC workload (e.g. the run's export) on\n"
            "                 the same page, after the run, to compare the two\n"
            "  --output FILE  where to write (default DIR/report.html, DIR of --input)\n"
            "  --quiet        print nothing but errors\n"
            "  -h, --help     this text\n");
}

enum { OPT_INPUT = 1000, OPT_OUTPUT, OPT_QUIET, OPT_OPENDC };

static const struct option options[] = {
    {"input", required_argument, NULL, OPT_INPUT},
    {"opendc", required_argument, NULL, OPT_OPENDC},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Name and cores of a node from CTS/nodes.json; the folder name otherwise. */
static size_t add_node(struct report *r, const char *run_dir, const char *cts)
{
    char *p = path_join(cts, "nodes.json");
    json_error_t je;
    json_t *nodes = json_load_file(p, 0, &je);
    free(p);
    const json_t *n0 = json_array_get(nodes, 0);
    const char *name = json_string_value(json_object_get(n0, "node_id"));
    const char *slash = strrchr(run_dir, '/');
    char *base = xstrdup(slash && slash[1] ? slash + 1 : run_dir);
    int64_t cores = 0;
    if (!jsonl_int(n0, "cpu_cores_online", &cores))
        jsonl_int(n0, "cpu_cores", &cores);
    p = path_join(cts, "audit.json");
    json_t *audit = file_exists(p) ? json_load_file(p, 0, &je) : NULL;
    if (file_exists(p) && !audit)
        log_warn("%s: not readable JSON (%s): audit figures left out", p, je.text);
    free(p);
    size_t i = report_add_node(r, name && *name ? name : base, cores > 0 && cores < 1 << 20 ? (int)cores : 0,
                               audit);
    free(base);
    json_decref(nodes);
    return i;
}

static void add_task(struct report *r, size_t node, const json_t *o)
{
    struct cts_inv inv;
    cts_inv_from_event(o, &inv);
    struct rp_task t = {
        .trace_id = inv.trace_id, .node = node,
        .has_enq = inv.has_enqueue, .has_start = inv.has_start, .has_end = inv.has_end,
        .enq = inv.ts_enqueue, .start = inv.ts_start, .end = inv.ts_end,
        .has_pid = inv.has_pid, .pid = inv.pid,
        .has_st = inv.has_start_ticks, .start_ticks = inv.start_ticks,
        .failed = cts_inv_failed(&inv),
    };
    const char *app = json_string_value(json_object_get(o, "app"));
    if (!app)
        app = json_string_value(json_object_get(o, "module_id"));
    t.app = report_app(r, app);
    const json_t *cs = json_object_get(o, "cpuset");
    char num[32];
    if (json_is_string(cs)) {
        t.cpuset = (char *)json_string_value(cs);
    } else if (json_is_integer(cs)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(cs));
        t.cpuset = num;
    }
    report_add_task(r, &t);
    cts_inv_free(&inv);
}

static void add_sample(struct report *r, size_t node, const json_t *o)
{
    struct rp_sample s = {0};
    if (!jsonl_int(o, "ts_ms", &s.ts) || !jsonl_int(o, "pid", &s.pid))
        return;
    s.dt_ms = jsonl_num_or(o, "dt_ms", NAN);
    s.cpu_ms = jsonl_num_or(o, "cpu_ms", NAN);
    if (isnan(s.dt_ms) || isnan(s.cpu_ms))
        return;   /* no CPU counters: nothing to draw */
    s.has_st = jsonl_int(o, "start_ticks", &s.start_ticks);
    report_add_sample(r, node, &s);
}

static void add_host(struct report *r, size_t node, const json_t *o)
{
    struct rp_host h = {0, NAN, NAN};
    if (!jsonl_int(o, "ts_ms", &h.ts))
        return;
    h.cpu_pct = jsonl_num_or(o, "cpu_util", NAN);
    if (isnan(h.cpu_pct) && !isnan(jsonl_num_or(o, "cpu_idle", NAN)))
        h.cpu_pct = 100 * (1 - jsonl_num_or(o, "cpu_idle", NAN) - (isnan(jsonl_num_or(o, "cpu_iowait", NAN)) ? 0 : jsonl_num_or(o, "cpu_iowait", NAN)));
    double total = jsonl_num_or(o, "mem_total_mb", NAN), avail = jsonl_num_or(o, "mem_available_mb", NAN), used = jsonl_num_or(o, "mem_used_mb", NAN);
    if (total > 0 && !isnan(avail))
        h.mem_pct = 100 * (total - avail) / total;
    else if (total > 0 && !isnan(used))
        h.mem_pct = 100 * used / total;
    report_add_host(r, node, &h);
}

/* Every object of one JSONL file; a missing file is fine (count 0). */
static uint64_t read_jsonl(struct report *r, size_t node, const char *cts, const char *name,
                           void (*fn)(struct report *, size_t, const json_t *))
{
    char *p = path_join(cts, name);
    struct jsonl_reader rd;
    uint64_t n = 0;
    if (jsonl_reader_open(&rd, p) < 0) {
        if (errno != ENOENT)
            log_warn("cannot read %s: %s", p, strerror(errno));
        free(p);
        return 0;
    }
    json_t *o;
    int rc;
    while ((rc = jsonl_next(&rd, &o)) == 1) {
        fn(r, node, o);
        json_decref(o);
        n++;
    }
    if (rc < 0)
        log_warn("reading %s failed after %llu line(s): %s", p, (unsigned long long)rd.lineno, strerror(errno));
    if (rd.malformed || rd.torn)
        log_warn("%s: %llu malformed line(s) skipped", p, (unsigned long long)(rd.malformed + rd.torn));
    jsonl_reader_close(&rd);
    free(p);
    return n;
}

static bool load_node(struct report *r, const char *run_dir)
{
    char *cts = layout_cts_dir(run_dir);
    if (!cts) {
        log_warn("%s: no CTS/ folder (run 'tracekit parse' first): left out", run_dir);
        return false;
    }
    size_t node = add_node(r, run_dir, cts);
    read_jsonl(r, node, cts, "invocations.jsonl", add_task);
    read_jsonl(r, node, cts, "proc_metrics.jsonl", add_sample);
    char *hp = path_join(cts, "host_metrics.jsonl");
    /* the original's parser called it resources.jsonl */
    read_jsonl(r, node, cts, file_exists(hp) ? "host_metrics.jsonl" : "resources.jsonl", add_host);
    free(hp);
    free(cts);
    return true;
}

/* The last path element ("logs/run1/" names run1). */
static char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    while (slash && !slash[1] && slash > path) {
        const char *q = slash - 1;
        while (q > path && *q != '/')
            q--;
        slash = *q == '/' ? q : NULL;
    }
    char *t = xstrdup(slash ? slash + 1 : path);
    t[strcspn(t, "/")] = '\0';
    if (!*t) {
        free(t);
        t = xstrdup(path);
    }
    return t;
}

static bool is_workload(const char *dir)
{
    char *p = path_join(dir, "tasks.parquet");
    bool yes = file_exists(p);
    free(p);
    return yes;
}

/* The run part: 1 on success, 0 when nothing could be loaded (said). */
static bool load_run(struct report *r, const char *input)
{
    char **dirs;
    size_t ndirs = 0;
    if (layout_is_run_dir(input)) {
        dirs = xcalloc(2, sizeof *dirs);
        dirs[0] = xstrdup(input);
        ndirs = 1;
    } else {
        dirs = layout_node_dirs(input, NULL, &ndirs);
    }
    if (!dirs || !ndirs) {
        log_error("%s: neither a run folder, an experiment folder with node sub-folders, nor an OpenDC "
                  "workload (tasks.parquet)", input);
        layout_free_list(dirs);
        return false;
    }
    size_t loaded = 0;
    for (size_t i = 0; i < ndirs; i++)
        loaded += load_node(r, dirs[i]);
    layout_free_list(dirs);
    if (!loaded)
        log_error("%s: no parsed node (CTS/) found", input);
    return loaded > 0;
}

static bool load_workload(struct report_odc *o, const char *dir)
{
    char err[1024];
    if (report_odc_load(o, dir, err, sizeof err) < 0) {
        log_error("OpenDC workload %s: %s", dir, err);
        return false;
    }
    if (o->topo_note)
        log_warn("%s: %s", dir, o->topo_note);
    return true;
}

int cmd_report(int argc, char **argv)
{
    const char *input = NULL, *output = NULL, *opendc = NULL;
    bool quiet = false;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_INPUT: input = optarg; break;
        case OPT_OUTPUT: output = optarg; break;
        case OPT_OPENDC: opendc = optarg; break;
        case OPT_QUIET: quiet = true; break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default: fprintf(stderr, "(see 'tracekit report --help')\n"); return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (the data is named with --input DIR)", argv[optind]);
        return TK_EXIT_USAGE;
    }
    if (!input || !*input) {
        cli_error("--input DIR is required (a parsed run folder, an experiment folder or an OpenDC workload)");
        return TK_EXIT_USAGE;
    }
    if (output && !*output) {
        cli_error("--output '': expected a file name");
        return TK_EXIT_USAGE;
    }
    if (opendc && !*opendc) {
        cli_error("--opendc '': expected an OpenDC workload folder");
        return TK_EXIT_USAGE;
    }
    if (!is_dir(input)) {
        cli_error("--input '%s': not a folder", input);
        return TK_EXIT_FAIL;
    }
    bool input_is_workload = is_workload(input);
    if (opendc && input_is_workload) {
        cli_error("--opendc '%s' goes with a run's --input, but --input '%s' is itself an OpenDC workload",
                  opendc, input);
        return TK_EXIT_USAGE;
    }
    if (opendc && !is_dir(opendc)) {
        cli_error("--opendc '%s': not a folder", opendc);
        return TK_EXIT_FAIL;
    }
    if (opendc && !is_workload(opendc)) {
        cli_error("--opendc '%s': no tasks.parquet in it (expected the output of 'tracekit export opendc')",
                  opendc);
        return TK_EXIT_FAIL;
    }

    char *title = base_name(input);
    struct report r;
    report_init(&r, title);
    struct report_odc o;
    const char *wdir = input_is_workload ? input : opendc;
    char *wtitle = wdir ? base_name(wdir) : NULL;
    report_odc_init(&o, wtitle);
    free(wtitle);
    bool ok = input_is_workload || load_run(&r, input);
    if (ok && wdir)
        ok = load_workload(&o, wdir);
    if (!ok) {
        report_free(&r);
        report_odc_free(&o);
        free(title);
        return TK_EXIT_FAIL;
    }

    struct jbuf b;
    jb_init(&b);
    report_html_begin(&b, title);
    free(title);
    if (!input_is_workload) {
        report_layout(&r);
        report_run_html(&r, &b);
    }
    if (wdir)
        report_odc_section_html(&o, &b);
    report_html_end(&b);
    char *dflt = output ? NULL : path_join(input, "report.html");
    const char *dest = output ? output : dflt;
    int rc = TK_EXIT_OK;
    if (write_file_atomic(dest, b.p, b.len) < 0) {
        log_error("cannot write %s: %s", dest, strerror(errno));
        rc = TK_EXIT_FAIL;
    } else if (!quiet) {
        if (input_is_workload)
            printf("wrote %s (OpenDC workload: %zu task(s), %zu fragment(s), %.1f KiB)\n", dest, o.ntasks,
                   o.nfrags, b.len / 1024.0);
        else if (wdir)
            printf("wrote %s (%zu node(s), %zu task(s); OpenDC workload: %zu task(s), %zu fragment(s); %.1f KiB)\n",
                   dest, r.nnodes, r.ntasks, o.ntasks, o.nfrags, b.len / 1024.0);
        else
            printf("wrote %s (%zu node(s), %zu task(s), %.1f KiB)\n", dest, r.nnodes, r.ntasks, b.len / 1024.0);
    }
    free(dflt);
    jb_free(&b);
    report_free(&r);
    report_odc_free(&o);
    return rc;
}
