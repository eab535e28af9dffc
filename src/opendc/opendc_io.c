/* opendc_io.c -- reading CTS folders, writing the OpenDC workload files. */
#include "opendc/opendc_io.h"
#include "opendc/opendc_store.h"
#include "collect/links.h"
#include "common/fstree.h"
#include "common/jsonl.h"
#include "common/progress.h"
#include "common/run.h"
#include "common/util.h"
#include "parquet/parquet.h"
#include "sched/policy.h"
#include "trace/cts.h"
#include "trace/layout.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- loading ---- */

static void add_note(struct odc_input *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_note(struct odc_input *in, const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        return;
    in->notes = xrealloc(in->notes, (in->n_notes + 1) * sizeof *in->notes);
    in->notes[in->n_notes++] = s;
}

/* Sort key of a node folder: the N of "RUN_ID(cN)", else by name. */
struct folder {
    char *name;
    long cn;   /* -1: no (cN) suffix */
};

static long cn_of(const char *name)
{
    size_t n = strlen(name);
    if (n < 4 || name[n - 1] != ')')
        return -1;
    const char *open = strrchr(name, '(');
    if (!open || open[1] != 'c' || !open[2])
        return -1;
    char *end;
    long v = strtol(open + 2, &end, 10);
    return end == name + n - 1 && v >= 0 ? v : -1;
}

static int cmp_folder(const void *a, const void *b)
{
    const struct folder *x = a, *y = b;
    if ((x->cn < 0) != (y->cn < 0))
        return x->cn < 0 ? 1 : -1;
    if (x->cn != y->cn)
        return (x->cn > y->cn) - (x->cn < y->cn);
    return strcmp(x->name, y->name);
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    return json_load_file(path, 0, &e);
}

/* A node's values: CTS/nodes.json first, node_meta.json (the collector's
 * raw values, which the original's exporter used) where it lacks them. */
static void node_values(struct odc_input *in, struct odc_node *nd, const char *folder, const char *cts,
                        const char *label)
{
    char *meta_path = path_join(folder, "node_meta.json");
    json_t *meta = file_exists(meta_path) ? load_json(meta_path) : NULL;
    if (file_exists(meta_path) && !json_is_object(meta))
        add_note(in, "%s: not a JSON object, ignored", meta_path);
    free(meta_path);

    /* CTS/nodes.json: an array of node records (a lone object is accepted). */
    char *nodes_path = path_join(cts, "nodes.json");
    json_t *nodes = load_json(nodes_path);
    json_t *rec = json_is_array(nodes) ? json_array_get(nodes, 0) : nodes;
    if (!json_is_object(rec)) {
        add_note(in, "%s: missing or not a node record; node values from node_meta.json", nodes_path);
        rec = NULL;
    } else if (json_is_array(nodes) && json_array_size(nodes) > 1) {
        add_note(in, "%s: %zu node records, the first one is used for this folder", nodes_path,
                 json_array_size(nodes));
    }
    free(nodes_path);

    int64_t v;
    double d;
    const char *s = rec ? jsonl_str(rec, "node_id") : NULL;
    if (!s && meta)
        s = jsonl_str(meta, "node");
    nd->node_id = xstrdup(s ? s : label);
    if (rec && jsonl_int(rec, "cpu_cores", &v) && v > 0)
        nd->cores = (int)v;
    if (meta && jsonl_int(meta, "cpu_cores", &v) && v > 0) {
        nd->raw_cores = (int)v;
        if (!nd->cores)
            nd->cores = (int)v;
    }
    /* node_meta.json's MHz (as the node measured it) wins over nodes.json's,
     * which the original's parse rounded (2596 -> 2600): the same MHz
     * whichever parse wrote CTS/ */
    if (meta && jsonl_num(meta, "cpu_freq_mhz", &d) && d > 0)
        nd->raw_mhz = nd->mhz = d;
    else if (rec && jsonl_num(rec, "cpu_freq_mhz", &d) && d > 0)
        nd->mhz = d;
    if (!nd->raw_mhz)
        nd->raw_mhz = nd->mhz;
    if (!nd->raw_cores)
        nd->raw_cores = nd->cores;
    if ((rec && jsonl_int(rec, "mem_mb", &v) && v > 0) || (meta && jsonl_int(meta, "mem_mb", &v) && v > 0))
        nd->mem_mb = v;
    s = rec ? jsonl_str(rec, "cpu_model") : NULL;
    if (!s && meta)
        s = jsonl_str(meta, "cpu_model");
    nd->cpu_model = xstrdup(s ? s : "");
    s = rec ? jsonl_str(rec, "stage") : NULL;
    if (!s && meta)
        s = jsonl_str(meta, "stage");
    nd->stage = xstrdup(s ? s : "");
    nd->power = odc_node_power(nd);
    json_decref(nodes);
    json_decref(meta);
}

/* links.json (tracekit links): measured links, exported beside the topology. */
static void load_links(struct odc_input *in, const char *cts)
{
    char *path = path_join(cts, "links.json");
    if (file_exists(path)) {
        json_t *links = load_json(path);
        size_t i, bad = 0;
        json_t *e;
        if (!in->links)
            in->links = json_array();
        json_array_foreach(links, i, e) {
            if (links_entry_valid(e))
                json_array_append(in->links, e);
            else
                bad++;
        }
        if (!json_is_array(links) || bad)
            add_note(in, "%s: %s", path, json_is_array(links) ? "invalid link entries skipped" : "not a JSON array");
        json_decref(links);
    }
    free(path);
}

/* One invocations.jsonl line; false when it lacks pid, ts_start or ts_end
 * or one of its times is implausible (see JSONL_TS_MAX_MS). */
static bool inv_of(const json_t *o, struct odc_inv *iv)
{
    bool bad_enq;
    if (!jsonl_int(o, "pid", &iv->pid) || !jsonl_ts(o, "ts_start", &iv->ts_start, NULL) ||
        !jsonl_ts(o, "ts_end", &iv->ts_end, NULL))
        return false;
    iv->has_enqueue = jsonl_ts(o, "ts_enqueue", &iv->ts_enqueue, &bad_enq);
    if (bad_enq)
        return false;
    const char *tid = jsonl_str(o, "trace_id");
    iv->trace_id = tid ? xstrdup(tid) : NULL;
    iv->has_status = jsonl_int(o, "status", &iv->status);
    iv->has_start_ticks = jsonl_int(o, "start_ticks", &iv->start_ticks);
    jsonl_int(o, "attempt", &iv->attempt);
    const char *xid = jsonl_str(o, "exec_id");
    iv->exec_id = xid ? xstrdup(xid) : NULL;
    double u, sy;
    if (jsonl_num(o, "cpu_user_ms", &u) && jsonl_num(o, "cpu_sys_ms", &sy) && u >= 0 && sy >= 0) {
        iv->has_cpu = true;
        iv->cpu_ms = u + sy;
    }
    if (!jsonl_int(o, "max_rss_kb", &iv->max_rss_kb) || iv->max_rss_kb < 0)
        iv->max_rss_kb = -1;
    jsonl_num(o, "cpu_units", &iv->cpu_units);
    const char *cs = jsonl_str(o, "cpuset");
    iv->cpuset_cpus = cs ? odc_cpuset_count(cs) : 0;
    const char *kind = jsonl_str(o, "kind");
    iv->http = kind && !strcmp(kind, "http");
    json_t *e = json_object_get(o, "error");
    iv->has_error = e && !json_is_null(e);
    return true;
}

/* CTS/invocations.jsonl of node idx.  0, or -1 with err. */
static int load_invocations(struct odc_input *in, int idx, const char *cts, const char *label,
                            struct progress *pg, char *err, size_t errlen)
{
    char *path = path_join(cts, "invocations.jsonl");
    struct jsonl_reader r;
    if (jsonl_reader_open(&r, path) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    json_t *o;
    size_t cap = in->n_invs;
    while (jsonl_next(&r, &o) == 1) {
        struct odc_inv iv = {.node = idx, .line = (long)r.lineno, .max_rss_kb = -1};
        bool ok = inv_of(o, &iv);
        json_decref(o);
        if (!ok) {
            if (in->bad_inv_lines++ < 20)
                add_note(in, "%s line %ld: no integer pid, ts_start and ts_end (times in ms "
                         "from 1970 to 2200); skipped", path, iv.line);
            continue;
        }
        if (in->n_invs == cap) {
            cap = cap ? cap * 2 : 256;
            in->invs = xrealloc(in->invs, cap * sizeof *in->invs);
        }
        in->invs[in->n_invs++] = iv;
        progress_update(pg, "%s: invocations.jsonl %zu task(s)", label, in->n_invs);
    }
    if (r.malformed || r.torn)
        add_note(in, "%s: %llu malformed and %llu torn lines skipped", path, (unsigned long long)r.malformed,
                 (unsigned long long)r.torn);
    in->bad_inv_lines += r.malformed + r.torn;
    jsonl_reader_close(&r);
    free(path);
    return 0;
}

/* CTS/proc_metrics.jsonl of node idx (may be missing: then no task has
 * samples).  0, or -1 with err. */
static int load_samples(struct odc_input *in, int idx, const char *cts, const char *label,
                        struct progress *pg, char *err, size_t errlen)
{
    char *path = path_join(cts, "proc_metrics.jsonl");
    struct jsonl_reader r;
    if (!file_exists(path)) {
        add_note(in, "%s: missing; no samples for this node", path);
        free(path);
        return 0;
    }
    if (jsonl_reader_open(&r, path) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    uint64_t bad = 0;
    struct cts_sample cs;
    while (cts_sample_next(&r, &cs) == 1) {
        progress_update(pg, "%s: proc_metrics.jsonl %llu line(s)", label, (unsigned long long)r.lineno);
        if (!cs.has_pid || !cs.has_ts || !cs.has_dt || !cs.has_cpu) {
            bad++;
            continue;
        }
        struct odc_sample sm = {.node = idx, .pid = cs.pid, .ts_ms = cs.ts_ms, .dt_ms = cs.dt_ms,
                                .cpu_ms = cs.cpu_ms, .rss_kb = cs.has_rss ? cs.rss_kb : -1,
                                .has_start_ticks = cs.has_start, .start_ticks = cs.start_ticks};
        /* Absent or negative: unknown, never 0 (the CTS holds it at >= 0). */
        sm.has_delay = cs.has_delay && cs.delay_ms >= 0;
        sm.delay_ms = sm.has_delay ? cs.delay_ms : 0;
        sm.cpu_before_ms = cs.has_before && cs.cpu_before_ms > 0 ? cs.cpu_before_ms : 0;
        odc_store_add(in->store, &sm);
        in->n_samples++;
    }
    bad += r.malformed + r.torn;
    if (bad)
        add_note(in, "%s: %llu lines without ts_ms, pid, dt_ms, cpu_ms or malformed, skipped", path,
                 (unsigned long long)bad);
    in->bad_sample_lines += bad;
    jsonl_reader_close(&r);
    free(path);
    return 0;
}

/* CTS/audit.json's host_cpu (parse writes it): how much of the host's busy
 * CPU the traced processes explain.  Absent in older runs: nothing said. */
static void load_host_cpu(struct odc_input *in, struct odc_node *nd, const char *cts)
{
    char *path = path_join(cts, "audit.json");
    if (!file_exists(path)) {
        free(path);
        return;
    }
    json_error_t je;
    json_t *audit = jsonl_load_file(path, 0, &je);
    json_t *h = json_is_object(audit) ? json_object_get(audit, "host_cpu") : NULL;
    if (!audit)
        add_note(in, "%s: %s; its host CPU figures are not repeated", path, je.text);
    else if (json_is_object(h)) {
        nd->has_host_cpu = true;
        nd->has_explained = jsonl_num(h, "explained_pct", &nd->explained_pct) && nd->explained_pct >= 0;
        json_t *wv = json_object_get(h, "warning");
        nd->host_warning = json_is_true(wv);
    }
    json_decref(audit);
    free(path);
}

static int load_node(struct odc_input *in, const char *folder, const char *label, struct progress *pg, char *err,
                     size_t errlen)
{
    char *cts = layout_cts_dir(folder);
    int idx = (int)in->n_nodes;
    in->nodes = xrealloc(in->nodes, (in->n_nodes + 1) * sizeof *in->nodes);
    struct odc_node *nd = &in->nodes[in->n_nodes++];
    memset(nd, 0, sizeof *nd);
    nd->folder = xstrdup(label);
    node_values(in, nd, folder, cts, label);
    load_links(in, cts);
    load_host_cpu(in, nd, cts);
    int rc = load_invocations(in, idx, cts, label, pg, err, errlen);
    if (rc == 0)
        rc = load_samples(in, idx, cts, label, pg, err, errlen);
    nd->cts = cts;   /* odc_power_load */
    return rc;
}

/* FOLDER/placements.jsonl (tracekit scheduler, tracekit local): the
 * policy the run placed its tasks with.  The first name is kept; other
 * names are counted (several schedulers of one run). */
static void load_policy(struct odc_input *in, const char *folder)
{
    char *path = path_join(folder, "placements.jsonl");
    struct jsonl_reader r;
    if (!file_exists(path) || jsonl_reader_open(&r, path) < 0) {
        free(path);
        return;
    }
    json_t *o;
    while (jsonl_next(&r, &o) == 1) {
        const char *name = jsonl_str(o, "policy");
        if (name && !in->policy) {
            in->policy = xstrdup(name);
            in->policy_file = xstrdup(path);
            in->n_policy_names = 1;
        } else if (name && strcmp(name, in->policy) != 0 && in->n_policy_names < 2) {
            add_note(in, "%s: policy %s as well as %s; experiment.json uses %s", path, name, in->policy,
                     in->policy);
            in->n_policy_names = 2;
        }
        json_decref(o);
    }
    jsonl_reader_close(&r);
    free(path);
}

static int load_dir(const char *dir, struct odc_input *in, struct progress *pg, char *err, size_t errlen);

/* The executions DIR/ledger.jsonl names (dispatch --wait; gather puts it at
 * the experiment's top): ledger_pick, so that of two executions of one
 * attempt the export keeps the same one as parse. */
static void mark_ledger_picks(struct odc_input *in, const char *dir)
{
    json_t *m = run_ledger_execs(dir);
    for (size_t i = 0; m && i < in->n_invs && json_object_size(m); i++) {
        struct odc_inv *v = &in->invs[i];
        const char *want = v->trace_id ? jsonl_str(m, v->trace_id) : NULL;
        v->ledger_pick = want && v->exec_id && !strcmp(want, v->exec_id);
    }
    json_decref(m);
}

int odc_load(const char *dir, const char *spill_dir, struct odc_input *in, struct progress *pg, char *err,
             size_t errlen)
{
    memset(in, 0, sizeof *in);
    in->store = odc_store_new(spill_dir);
    int rc = load_dir(dir, in, pg, err, errlen);
    if (rc == 0) {
        progress_update(pg, "sorting %zu sample(s)", in->n_samples);
        rc = odc_store_finish(in->store, err, errlen);
    }
    if (rc < 0) {
        odc_input_free(in);
        return -1;
    }
    if (rc == 0) {
        char *cts = layout_cts_dir(dir);   /* one node: DIR is its run folder */
        load_policy(in, dir);
        for (size_t k = 0; k < in->n_nodes && !cts; k++) {
            char *p = path_join(dir, in->nodes[k].folder);
            if (is_dir(p))
                load_policy(in, p);
            free(p);
        }
        free(cts);
    }
    return rc;
}

/* in: zeroed but for its store. */
static int load_dir(const char *dir, struct odc_input *in, struct progress *pg, char *err, size_t errlen)
{
    if (!is_dir(dir)) {
        snprintf(err, errlen, "input %s is not a folder", dir);
        return -1;
    }
    char *cts = layout_cts_dir(dir);
    if (cts) {
        free(cts);
        char *copy = xstrdup(dir);
        const char *base = strrchr(copy, '/');
        while (base && base[1] == 0 && base > copy) {   /* trailing slashes */
            *(char *)base = 0;
            base = strrchr(copy, '/');
        }
        int rc = load_node(in, dir, base ? base + 1 : copy, pg, err, errlen);
        free(copy);
        if (rc < 0)
            odc_input_free(in);
        else
            mark_ledger_picks(in, dir);
        return rc;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
        return -1;
    }
    struct folder *f = NULL;
    size_t nf = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = path_join(dir, e->d_name);
        char *c = is_dir(p) ? layout_cts_dir(p) : NULL;
        if (c) {
            f = xrealloc(f, (nf + 1) * sizeof *f);
            f[nf++] = (struct folder){xstrdup(e->d_name), cn_of(e->d_name)};
        }
        free(c);
        free(p);
    }
    closedir(d);
    if (!nf) {
        snprintf(err, errlen, "no node folder in %s: expected %s/CTS/ (one node) or %s/NODE/CTS/ (one "
                 "sub-folder per node; the legacy cctf/ also works); run 'tracekit parse' first", dir, dir, dir);
        return -1;
    }
    qsort(f, nf, sizeof *f, cmp_folder);
    int rc = 0;
    for (size_t i = 0; i < nf; i++) {
        char *p = path_join(dir, f[i].name);
        if (rc == 0)
            rc = load_node(in, p, f[i].name, pg, err, errlen);
        free(p);
        free(f[i].name);
    }
    free(f);
    if (rc < 0)
        odc_input_free(in);
    else
        mark_ledger_picks(in, dir);
    return rc;
}

/* ---- writing ---- */

/* Both workload files: the chosen codec, fsynced before they are renamed in place. */
static struct pq_writer *open_workload_file(const char *path, const struct pq_col_spec *cols,
                                            int ncols, int codec, char *err, size_t errlen)
{
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    o.codec = codec;
    o.sync = true;
    return pq_writer_open(path, cols, ncols, &o, err, errlen);
}

static int write_tasks(const char *path, const struct odc_result *res, int codec, struct progress *pg, char *err,
                       size_t errlen)
{
    static const struct pq_col_spec cols[] = {
        {"id", PQ_INT32, PQ_LT_NONE, false, PQ_DICT_AUTO},
        {"submission_time", PQ_INT64, PQ_LT_TIMESTAMP, false, PQ_DICT_AUTO},
        {"duration", PQ_INT64, PQ_LT_NONE, false, PQ_DICT_AUTO},
        {"cpu_count", PQ_INT32, PQ_LT_NONE, false, PQ_DICT_AUTO},
        {"cpu_capacity", PQ_DOUBLE, PQ_LT_NONE, false, PQ_DICT_AUTO},
        {"mem_capacity", PQ_INT64, PQ_LT_NONE, false, PQ_DICT_AUTO},
        {"name", PQ_BYTE_ARRAY, PQ_LT_STRING, true, PQ_DICT_AUTO},
    };
    struct pq_writer *w = open_workload_file(path, cols, (int)ARRAY_LEN(cols), codec, err, errlen);
    if (!w)
        return -1;
    for (size_t i = 0; i < res->n_tasks; i++) {
        const struct odc_task *t = &res->tasks[i];
        pq_put_i32(w, 0, t->id);
        pq_put_i64(w, 1, t->submission_time);
        pq_put_i64(w, 2, t->duration);
        pq_put_i32(w, 3, t->cpu_count);
        pq_put_double(w, 4, t->cpu_capacity);
        pq_put_i64(w, 5, t->mem_capacity);
        if (t->name)
            pq_put_str(w, 6, t->name);
        else
            pq_put_null(w, 6);
        progress_update(pg, "tasks.parquet %zu/%zu row(s)", i + 1, res->n_tasks);
        if (pq_end_row(w) < 0) {
            snprintf(err, errlen, "%s: %s", path, pq_writer_error(w));
            pq_writer_abort(w);
            return -1;
        }
    }
    return pq_writer_close(w, err, errlen);
}

static int write_fragments(const char *path, const struct odc_result *res, int codec, struct progress *pg,
                           char *err, size_t errlen)
{
    static const struct pq_col_spec cols[] = {
        {"id", PQ_INT32, PQ_LT_NONE, false, PQ_DICT_AUTO},
        {"duration", PQ_INT64, PQ_LT_NONE, false, PQ_DICT_AUTO},
        {"cpu_usage", PQ_DOUBLE, PQ_LT_NONE, false, PQ_DICT_AUTO},
    };
    struct pq_writer *w = open_workload_file(path, cols, (int)ARRAY_LEN(cols), codec, err, errlen);
    if (!w)
        return -1;
    struct odc_frag buf[1024];
    for (size_t i = 0; i < res->n_frags; i++) {
        size_t k = i % ARRAY_LEN(buf);
        if (k == 0 && odc_frags_read(res, i, buf, res->n_frags - i < ARRAY_LEN(buf) ? res->n_frags - i
                                                                                      : ARRAY_LEN(buf)) < 0) {
            snprintf(err, errlen, "cannot read the fragments' temporary file: %s",
                     errno ? strerror(errno) : "short read");
            pq_writer_abort(w);
            return -1;
        }
        pq_put_i32(w, 0, buf[k].id);
        pq_put_i64(w, 1, buf[k].duration);
        pq_put_double(w, 2, buf[k].cpu_usage);
        progress_update(pg, "fragments.parquet %zu/%zu row(s)", i + 1, res->n_frags);
        if (pq_end_row(w) < 0) {
            snprintf(err, errlen, "%s: %s", path, pq_writer_error(w));
            pq_writer_abort(w);
            return -1;
        }
    }
    return pq_writer_close(w, err, errlen);
}

/* ---- the report ---- */

static size_t count_kind(const struct odc_result *res, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < res->n_notes; i++)
        n += res->notes[i].kind == kind;
    return n;
}

#define LIST_MAX 50

/* A section listing the notes of one kind. */
struct rep {
    FILE *f;
    const struct odc_input *in;
    const struct odc_result *res;
    char none[1024];   /* titles of the empty sections */
};

static void section(struct rep *rp, int kind, const char *title, const char *explain, const char *value_head,
                    const char *value_fmt)
{
    FILE *f = rp->f;
    const struct odc_input *in = rp->in;
    const struct odc_result *res = rp->res;
    size_t n = count_kind(res, kind), shown = 0;
    if (!n) {   /* listed in one line at the end */
        size_t used = strlen(rp->none);
        snprintf(rp->none + used, sizeof rp->none - used, "%s%s", used ? "; " : "", title);
        return;
    }
    fprintf(f, "### %s: %zu\n\n", title, n);
    fprintf(f, "%s\n\n", explain);
    if (value_head)
        fprintf(f, "| task id | node | pid | start (ms) | trace id | line | %s |\n", value_head);
    else
        fprintf(f, "| task id | node | pid | start (ms) | trace id | line |\n");
    fprintf(f, "|---:|---|---:|---:|---|---:|%s\n", value_head ? "---:|" : "");
    for (size_t i = 0; i < res->n_notes && shown < LIST_MAX; i++) {
        const struct odc_note *x = &res->notes[i];
        if (x->kind != kind)
            continue;
        shown++;
        char id[16] = "-";   /* not exported */
        if (x->task_id >= 0)
            snprintf(id, sizeof id, "%d", x->task_id);
        fprintf(f, "| %s | %s | %" PRId64 " | %" PRId64 " | %s | %ld |", id, in->nodes[x->node].node_id, x->pid,
                x->ts_start, x->trace_id ? x->trace_id : "", x->line);
        if (value_head) {
            fputc(' ', f);
            fprintf(f, value_fmt, x->value);
            fputs(" |", f);
        }
        fputc('\n', f);
    }
    if (n > shown)
        fprintf(f, "\n... and %zu more.\n", n - shown);
    fputc('\n', f);
}

/* export_report.md: the input, the options and what they mean. */
static void report_head(FILE *f, const struct odc_input *in, const struct odc_opts *o,
                        const struct odc_result *res, const struct odc_write_opts *w)
{
    fprintf(f, "# OpenDC export report\n\n");
    fprintf(f, "- Input: `%s`\n", w->input);
    if (w->command_line)
        fprintf(f, "- Command: `%s`\n", w->command_line);
    fprintf(f, "- Written: `tasks.parquet` (%zu tasks), `fragments.parquet` (%zu fragments), `topology.json`, "
               "`experiment.json`, this report; compression %s\n", res->n_tasks, res->n_frags,
            pq_codec_name(w->codec));
    if (in->links && json_array_size(in->links))
        fprintf(f, "- Written: `links.json` (%zu measured links, beside `topology.json`: OpenDC ignores "
                   "keys it does not know, but `opendc --strict` refuses them)\n", json_array_size(in->links));
    fprintf(f, "- Task ids: %s; %s\n", res->id_mode,
            o->upstream_compat ? "tasks in input order, as the original" : "tasks ordered by node, start time, PID");
    if (o->upstream_compat) {
        fprintf(f, "- **Mode: --upstream-compat.** The numbers are those of the original exporter "
                   "(upstream-tracekit §9.4–9.6), with its known flaws: no fragment for the time after the "
                   "last sample (B25, fragment durations sum to less than the task's), unsampled tasks get "
                   "an invented load of 0.25 × MHz (B26), `cpu_capacity` capped at 2400 MHz per core (B27), "
                   "`mem_capacity` = peak RSS in KB (at least 1024, 65536 without samples), the raw "
                   "`node_meta.json` MHz (2400 if missing). Failed tasks and retries are kept as the "
                   "original did. Use it to compare with old exports only; `tracekit verify opendc` "
                   "reports the flaws.\n");
    } else {
        fprintf(f, "- `mem_capacity`: %s\n",
                o->mem_unit == ODC_MEM_KB
                    ? "peak RSS in MiB (rounded up) × 1000 — OpenDC's loader divides by 1000 (\"KB to MB\") "
                      "and compares the result with host memory in MiB"
                    : "peak RSS in MiB (rounded up), as OpenDC's documentation says (--mem-unit mb); note "
                      "OpenDC's loader divides it by 1000 again");
        fprintf(f, "- `cpu_capacity` = `cpu_count` × the node's MHz per core; `cpu_usage` in MHz summed "
                   "over cores\n");
        if (o->cpu_usage == ODC_USAGE_DEMAND)
            fprintf(f, "- CPU usage: **demand** (--cpu-usage demand): each sampled fragment carries its "
                       "received CPU plus its run delay (time runnable but waiting for a CPU), at most "
                       "`cpu_count` cores; fragments without run delay keep the received CPU\n");
        else
            fprintf(f, "- CPU usage: **received** (--cpu-usage received, the default): what the tasks got; "
                       "time they waited for a CPU is not in it (--cpu-usage demand adds it)\n");
        fprintf(f, "- Failed tasks (status ≠ 0): %s; retried attempts: %s\n",
                o->exclude_failed ? "excluded" : "included", o->all_attempts ? "all kept" : "last kept");
    }
}

/* One row per node: its values and what it holds. */
static void report_nodes(FILE *f, const struct odc_input *in, const struct odc_opts *o)
{
    fprintf(f, "\n## Nodes\n\n| folder | node | cores | MHz per core | memory MiB | CPU model | invocations | samples |\n"
               "|---|---|---:|---:|---:|---|---:|---:|\n");
    for (size_t k = 0; k < in->n_nodes; k++) {
        size_t ni = 0, ns = 0;
        for (size_t i = 0; i < in->n_invs; i++)
            ni += in->invs[i].node == (int)k;
        if (in->store)
            ns = odc_store_node_count(in->store, (int)k);
        for (size_t i = 0; !in->store && i < in->n_samples; i++)
            ns += in->samples[i].node == (int)k;
        const struct odc_node *nd = &in->nodes[k];
        fprintf(f, "| %s | %s | %d | %g | %" PRId64 " | %s | %zu | %zu |\n", nd->folder, nd->node_id, nd->cores,
                o->upstream_compat ? (nd->raw_mhz > 0 ? nd->raw_mhz : 2400) : nd->mhz, nd->mem_mb,
                nd->cpu_model, ni, ns);
    }
    bool any = false;
    for (size_t k = 0; k < in->n_nodes; k++)
        any |= in->nodes[k].has_host_cpu;
    if (!any || o->upstream_compat)
        return;
    fprintf(f, "\nHost CPU explained by traced processes (CTS/audit.json `host_cpu`):\n\n");
    for (size_t k = 0; k < in->n_nodes; k++) {
        const struct odc_node *nd = &in->nodes[k];
        if (!nd->has_host_cpu)
            fprintf(f, "- %s: unknown (no `host_cpu` in its audit.json)\n", nd->node_id);
        else if (!nd->has_explained)
            fprintf(f, "- %s: unknown (no host samples)\n", nd->node_id);
        else
            fprintf(f, "- %s: traced CPU explains %.1f%% of the host's busy CPU\n", nd->node_id,
                    nd->explained_pct);
        if (nd->has_host_cpu && nd->host_warning)
            fprintf(f, "  - **WARNING**: untraced load shared this node's cores, so the tasks received "
                       "less CPU than they demanded; %s\n",
                    o->cpu_usage == ODC_USAGE_DEMAND
                        ? "this export uses --cpu-usage demand, which adds the time they waited for a CPU"
                        : "received CPU understates demand: see --cpu-usage demand");
    }
}

/* The run delay in the sampled intervals, and what demand did with it. */
static void report_delay(FILE *f, const struct odc_opts *o, const struct odc_result *res)
{
    size_t with = res->sampled_frags - res->no_delay_frags;
    fprintf(f, "- Run delay (waiting for a CPU): %.3f ms in %zu of %zu sampled fragments (one per CTS "
               "interval, before merging); %zu without run delay%s\n",
            res->delay_ms, with, res->sampled_frags, res->no_delay_frags,
            o->cpu_usage == ODC_USAGE_DEMAND ? ", kept at their received CPU" : "");
    if (o->cpu_usage == ODC_USAGE_DEMAND)
        fprintf(f, "- Demand: %.3f ms of run delay added to the fragments; %.3f ms above the tasks' "
                   "`cpu_count` left out (%zu tasks)\n",
                res->demand_added_ms, res->demand_capped_ms, res->n_demand_capped);
}

/* Tasks, time and CPU, summed. */
static void report_totals(FILE *f, const struct odc_input *in, const struct odc_opts *o,
                          const struct odc_result *res)
{
    int64_t task_ms = 0, frag_ms = res->frag_ms;
    for (size_t i = 0; i < res->n_tasks; i++)
        task_ms += res->tasks[i].duration;
    size_t sampled = 0, failed = 0;
    for (size_t i = 0; i < res->n_tasks; i++) {
        sampled += res->tasks[i].sampled;
        failed += res->tasks[i].failed;
    }

    fprintf(f, "\n## Totals\n\n");
    fprintf(f, "- Tasks: %zu exported (%zu with samples, %zu without; %zu failed); %zu invocations read\n",
            res->n_tasks, sampled, res->n_tasks - sampled, failed, in->n_invs);
    fprintf(f, "- Task time: %" PRId64 " ms; fragment time: %" PRId64 " ms%s\n", task_ms, frag_ms,
            task_ms == frag_ms ? " (equal)" : " (**not equal**)");
    if (!o->upstream_compat) {
        fprintf(f, "- CPU measured: %.3f ms (exact totals from the task events for %zu of %zu tasks, "
                   "else the sampled CPU)\n", res->measured_cpu_ms, res->n_exact, res->n_tasks);
        fprintf(f, "- CPU seen by samples inside the tasks: %.3f ms; time without samples: %.0f ms, given "
                   "%.3f ms of CPU from the exact totals\n", res->seen_cpu_ms, res->uncovered_ms,
                res->filled_cpu_ms);
        double ratio = res->expected_cpu_mhz_ms > 0 ? res->exported_cpu_mhz_ms / res->expected_cpu_mhz_ms : 1;
        fprintf(f, "- Σ cpu_usage × duration = %.6g MHz·ms = %.4f × measured CPU × MHz%s\n",
                res->exported_cpu_mhz_ms, ratio,
                o->cpu_usage == ODC_USAGE_DEMAND ? " (demand: the run delay added is on top of it)" : "");
        report_delay(f, o, res);
    } else {
        fprintf(f, "- Σ cpu_usage × duration = %.6g MHz·ms\n", res->exported_cpu_mhz_ms);
    }
}

/* Where each task's cpu_count came from, and the task time left at 0 CPU. */
static void report_counts(FILE *f, const struct odc_opts *o, const struct odc_result *res)
{
    if (o->upstream_compat)
        return;
    fprintf(f, "- Independent check: %.3f ms of CPU exported for the %zu tasks with an exact total, which "
               "say %.3f ms; %.3f ms for the %zu sampled tasks without one, whose processes' last cumulative "
               "counters (CPU before the first sample + sampled) say %.3f ms; %.0f ms of task time "
               "exported at 0 CPU (no sample and no exact total covers it)\n",
            res->exact_exported_ms, res->n_exact, res->exact_cpu_ms, res->counter_exported_ms, res->n_counter,
            res->counter_cpu_ms, res->zero_cpu_ms);
    fprintf(f, "\n## cpu_count\n\nFrom the request (cpuset, else cpu_units) when there is one, else the "
               "highest rate a sampled interval shows beyond tick quantisation (its CPU less 20 ms: two "
               "10-ms ticks) or the rate given to unsampled time, at least 1, at most the node's cores.\n\n"
               "| task id | trace id | cpu_count | from |\n|---:|---|---:|---|\n");
    for (size_t i = 0; i < res->n_tasks; i++) {
        const struct odc_task *t = &res->tasks[i];
        fprintf(f, "| %d | %s | %d | %s |\n", t->id, t->name ? t->name : "", t->cpu_count,
                t->count_from ? t->count_from : "");
    }
}

/* Every correction made, by kind, then the input lines skipped. */
static void report_corrections(FILE *f, const struct odc_input *in, const struct odc_opts *o,
                               const struct odc_result *res)
{
    fprintf(f, "\n## Corrections\n\n");
    struct rep rp = {.f = f, .in = in, .res = res};
    section(&rp, ODC_N_NO_SAMPLES, "Tasks without samples",
            o->upstream_compat ? "Exported with the original's synthetic fragment (half the task's capacity)."
                               : "One fragment over the whole task at its exact average CPU (CPU ms / "
                                 "duration); with no exact total either, zero CPU — never an invented load.",
            "exact CPU ms (-1: unknown)", "%.3f");
    section(&rp, ODC_N_FAILED_KEPT, "Failed tasks kept", "status ≠ 0; exported like the others "
            "(--failed exclude drops them).", "status", "%.0f");
    section(&rp, ODC_N_FAILED_DROPPED, "Failed tasks excluded", "status ≠ 0; not exported "
            "(--failed exclude).", "status", "%.0f");
    section(&rp, ODC_N_ATTEMPT_DROPPED, "Earlier attempts of retried tasks dropped",
            "Same trace id as a later attempt; only the last attempt is exported (--attempts all keeps "
            "every one).", "attempt", "%.0f");
    section(&rp, ODC_N_RAN_TWICE, "Executions that ran twice: Redis lost acknowledged writes",
            "Same trace id and attempt as another execution (Redis restarted from older data handed "
            "the task out again); the one the ledger names is exported, else the one that ended "
            "last.", "attempt", "%.0f");
    section(&rp, ODC_N_BAD_INVOCATION, "Invocations skipped", "ts_end before ts_start.", NULL, NULL);
    section(&rp, ODC_N_ZERO_DURATION, "Zero-duration tasks given 1 ms",
            "OpenDC runs a task for the sum of its fragment durations; 0 ms is raised to 1 ms.", NULL, NULL);
    section(&rp, ODC_N_NO_EXACT_CPU, "Time without samples left at zero CPU",
            "The invocation has no exact CPU total (cpu_user_ms, cpu_sys_ms: an original CTS file), so the "
            "CPU of unsampled time is unknown and not invented: those fragments carry 0 MHz.",
            "unsampled ms", "%.0f");
    section(&rp, ODC_N_SCALED, "Sampled CPU above the exact total, scaled down",
            "The samples add up to more CPU than the task's exact total; they were scaled to it.",
            "scale", "%.4f");
    section(&rp, ODC_N_CAPPED, "CPU moved to stay within the task's cores",
            "A fragment asked for more cores than the task's cpuset, its cpu_count (a peak within tick "
            "noise) or the node has; the excess moved to "
            "fragments of the same task with room.", "CPU ms moved", "%.3f");
    section(&rp, ODC_N_LOST, "CPU that did not fit within the task's cores",
            "More CPU than cores × duration: the excess is not exported.", "CPU ms", "%.3f");
    section(&rp, ODC_N_CORES_RAISED, "cpu_count raised above the request",
            "The task used more cores than its cpu_units asked for (no cpuset limited it).", "cpu_count", "%.0f");
    section(&rp, ODC_N_NO_MEMORY, "Tasks without a memory measurement",
            "No max_rss_kb and no rss_kb sample: mem_capacity 0 (fits any host).", NULL, NULL);
    if (o->cpu_usage == ODC_USAGE_DEMAND)
        section(&rp, ODC_N_DEMAND_CAPPED, "Run delay above cpu_count left out",
                "Received CPU plus run delay asked for more cores than the task's `cpu_count`; the "
                "demand is held at `cpu_count` × MHz and the rest is not exported (not moved: it is demand "
                "the task's cores could not serve).", "run delay ms", "%.3f");

    if (*rp.none)
        fprintf(f, "None of these: %s.\n\n", rp.none);
    fprintf(f, "### Input lines skipped: %" PRIu64 " invocation lines, %" PRIu64 " sample lines\n\n",
            in->bad_inv_lines, in->bad_sample_lines);
    for (size_t i = 0; i < in->n_notes; i++)
        fprintf(f, "- %s\n", in->notes[i]);
}

/* The allocation policy experiment.json gets, and where it came from. */
struct exp_policy {
    json_t *json;
    bool exact;
    char source[1024];
    char note[768];
};

static void resolve_policy(const struct odc_input *in, const struct odc_opts *o, struct exp_policy *ep)
{
    struct policy p;
    char err[256];
    bool known = false;
    if (o->policy) {
        p = *o->policy;
        known = true;
        snprintf(ep->source, sizeof ep->source, "as given to the export (%s)", p.name);
    } else if (in->policy && odc_policy_from_record(in->policy, &p)) {
        known = true;
        snprintf(ep->source, sizeof ep->source, "the run's policy %s, from `%s`", in->policy, in->policy_file);
    }
    if (known) {
        ep->json = odc_policy_json(&p, &ep->exact, ep->note, sizeof ep->note);
        return;
    }
    if (policy_named("FilterOnly", &p, err, sizeof err) < 0)
        TK_BUG("FilterOnly is a named policy");
    ep->json = odc_policy_json(&p, &ep->exact, ep->note, sizeof ep->note);
    ep->exact = false;
    snprintf(ep->note, sizeof ep->note, "OpenDC HEAD's one history-free policy: a busy host with the "
             "fewest free cores that fits, else the first idle host in topology order");
    if (in->policy)
        snprintf(ep->source, sizeof ep->source, "**not the run's**: `%s` records policy `%s`, which does not "
                 "say its filters and weighers; give the export the scheduler's own `--filters`/`--weighers` "
                 "(or `--policy`); until then the filter form without weighers", in->policy_file, in->policy);
    else
        snprintf(ep->source, sizeof ep->source, "**not the run's**: the run recorded no policy (no "
                 "`placements.jsonl`: not placed by `tracekit scheduler` or `tracekit local`); the filter "
                 "form without weighers, the deterministic one");
}

/* The topology and experiment.json: what OpenDC will simulate with. */
static void report_sim(FILE *f, const struct odc_input *in, const struct odc_opts *o,
                       const struct odc_result *res, const struct exp_policy *ep)
{
    fprintf(f, "\n## OpenDC simulation (`topology.json`, `experiment.json`)\n\n");
    fprintf(f, "- Topology: one host per node, named by its node id, `count` 1, in node order (OpenDC's "
               "`host_name` in its outputs is the node id); one cluster per stage\n");
    odc_power_report_bullets(f, in);
    fprintf(f, "- Scaling policy: `%s` (%s)\n", o->cpu_usage == ODC_USAGE_DEMAND ? "Perfect" : "NoDelay",
            o->cpu_usage == ODC_USAGE_DEMAND ? "--cpu-usage demand: fragments carry demand"
                                              : "fragments replay their measured durations");
    char *pj = json_dumps(ep->json, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    fprintf(f, "- Allocation policy: `%s` — %s; %s\n", pj ? pj : "?", ep->source, ep->note);
    free(pj);
    static const char *const sub[] = {"the enqueue time (else the start), as measured",
                                      "the measured start: the real scheduler's waits are baked into the "
                                      "workload, OpenDC only adds its own",
                                      "the enqueue time floored to OpenDC's 1-s grid from the first "
                                      "submission"};
    fprintf(f, "- `submission_time`: %s (--submission %s). OpenDC schedules on 1-s slots of simulated time "
               "from the earliest submission (not settable): %zu of %zu tasks are submitted between slots "
               "and wait for the next, %.1f ms per task on average; every completion also waits for the next slot "
               "before the queue moves\n", sub[o->submission],
            o->submission == ODC_SUB_START ? "start" : o->submission == ODC_SUB_SLOT ? "slot" : "enqueue",
            res->n_off_slot, res->n_tasks, res->slot_wait_mean_ms);
    fprintf(f, "- Run: `opendc run experiment.json` in this folder (the workload is the folder itself, "
               "named `.` relative to the file)\n");
}

static char *report(const struct odc_input *in, const struct odc_opts *o, const struct odc_result *res,
                    const struct odc_write_opts *w, const struct exp_policy *ep, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    report_head(f, in, o, res, w);
    report_nodes(f, in, o);
    report_totals(f, in, o, res);
    report_counts(f, o, res);
    report_sim(f, in, o, res, ep);
    odc_power_report_section(f, in);
    report_corrections(f, in, o, res);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Every file of the export into the (new, empty or carried-over) folder
 * out_dir.  0 or -1 with err. */
/* experiment.json.  0 or -1 with err. */
static int write_experiment(const char *out_dir, const char *name, const struct odc_input *in,
                            const struct odc_opts *o, const struct odc_result *res,
                            const struct exp_policy *ep, char *err, size_t errlen)
{
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (size_t i = 0; i < res->n_tasks; i++) {
        const struct odc_task *t = &res->tasks[i];
        first = t->submission_time < first ? t->submission_time : first;
        last = t->ts_start + t->duration > last ? t->ts_start + t->duration : last;
    }
    struct odc_experiment e = {.name = name, .scaling = o->cpu_usage == ODC_USAGE_DEMAND ? "Perfect" : "NoDelay",
                               .policy = ep->json,
                               .export_interval_ms = odc_export_interval_ms(last > first ? last - first : 0)};
    char *text = odc_experiment_json(in->nodes, in->n_nodes, &e);
    char *p = path_join(out_dir, "experiment.json");
    int rc = write_file_atomic(p, text, strlen(text));
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno));
    free(text);
    free(p);
    return rc;
}

static int write_set(const char *out_dir, const char *name, const struct odc_input *in,
                     const struct odc_opts *o, const struct odc_result *res,
                     const struct odc_write_opts *w, const struct exp_policy *ep, char *err,
                     size_t errlen)
{
    char *p = path_join(out_dir, "tasks.parquet");
    int rc = write_tasks(p, res, w->codec, w->progress, err, errlen);
    free(p);
    if (rc < 0)
        return -1;
    p = path_join(out_dir, "fragments.parquet");
    rc = write_fragments(p, res, w->codec, w->progress, err, errlen);
    free(p);
    if (rc < 0)
        return -1;

    char *topo = odc_topology_json(in->nodes, in->n_nodes);
    p = path_join(out_dir, "topology.json");
    rc = write_file_atomic(p, topo, strlen(topo));
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno));
    free(topo);
    free(p);
    if (rc < 0 || write_experiment(out_dir, name, in, o, res, ep, err, errlen) < 0)
        return -1;

    /* The measured links go beside topology.json rather than into it:
     * OpenDC ignores keys it does not know, but refuses them under
     * `opendc --strict`. */
    if (in->links && json_array_size(in->links)) {
        char *lt = json_dumps(in->links, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
        char *text_nl = xasprintf("%s\n", lt);
        p = path_join(out_dir, "links.json");
        rc = write_file_atomic(p, text_nl, strlen(text_nl));
        if (rc < 0)
            snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno));
        free(lt);
        free(text_nl);
        free(p);
        if (rc < 0)
            return -1;
    }

    size_t len;
    char *text = report(in, o, res, w, ep, &len);
    p = path_join(out_dir, "export_report.md");
    rc = text ? write_file_atomic(p, text, len) : -1;
    if (rc < 0)
        snprintf(err, errlen, "cannot write %s: %s", p, strerror(errno));
    free(text);
    free(p);
    return rc;
}

/* The files an export writes: an old export's copies are not carried over
 * (a links.json of an earlier run must not outlive it). */
static bool export_file(const char *rel)
{
    static const char *const names[] = {"tasks.parquet", "fragments.parquet", "topology.json",
                                        "experiment.json", "links.json", "export_report.md"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (!strcmp(rel, names[i]))
            return true;
    return false;
}

/* 0 when every entry of dir is a regular file; else -1 with err naming the
 * first that is not.  The export replaces its folder as a whole and carries
 * only files over: a sub-folder (an experiment exported into itself, copied
 * on every export) or a link would be lost or followed. */
static int only_files(const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d)
        return errf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = path_join(dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
            rc = errf(err, errlen, "cannot export into %s: it holds '%s', which is not a regular "
                      "file (the export replaces the folder as a whole, keeping only files): "
                      "give --output a folder of its own", dir, e->d_name);
        free(p);
    }
    closedir(d);
    return rc;
}

/* out_dir without trailing slashes, resolved when it exists ("." has no
 * parent to stage next to).  malloc'd. */
static char *final_path(const char *out_dir)
{
    char *real = realpath(out_dir, NULL);
    if (real)
        return real;
    char *p = xstrdup(out_dir);
    for (size_t n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
        p[n - 1] = '\0';
    return p;
}

/* The folder out_dir is in (final: final_path(out_dir)).  malloc'd. */
static char *parent_of(const char *final)
{
    const char *slash = strrchr(final, '/');
    char *parent = xstrdup(!slash ? "." : slash == final ? "/" : final);
    if (slash && slash != final)
        parent[slash - final] = '\0';
    return parent;
}

int odc_write(const char *out_dir, const struct odc_input *in, const struct odc_opts *o,
              const struct odc_result *res, const struct odc_write_opts *w, char *err, size_t errlen)
{
    /* The whole set is written into a staging folder next to out_dir, which
     * then takes its place in one rename (as parse does for CTS/): a failure
     * at any point (a full disk, a signal) leaves the previous export whole
     * and no partial file under the final name.  Other files of out_dir
     * are carried over, and the folder keeps its mode. */
    char *final = final_path(out_dir);
    char *slash = strrchr(final, '/');
    char *parent = parent_of(final);
    const char *base = slash ? slash + 1 : final;
    char *prefix = xasprintf(".%s.export.tmp.", base);
    char *stage = xasprintf("%s/%s%d", parent, prefix, (int)getpid());
    int rc = -1;
    struct stat st;
    bool existed = false;
    char what[512];
    if (mkdir_p(parent, 0755) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", parent, strerror(errno));
        goto out;
    }
    fstree_clean_stale(parent, prefix);
    fstree_rm_rf(stage);
    if (stat(final, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "cannot write the export to %s: it is not a folder", final);
            goto out;
        }
        if (only_files(final, err, errlen) < 0)
            goto out;
        if (fstree_copy(final, stage, export_file, NULL, what, sizeof what) < 0) {
            snprintf(err, errlen, "cannot stage the export in %s: %s: %s", stage, what, strerror(errno));
            goto out;
        }
        existed = true;
    } else if (errno != ENOENT || mkdir(stage, 0755) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", stage, strerror(errno));
        goto out;
    }
    struct exp_policy ep = {0};
    resolve_policy(in, o, &ep);
    int ws = write_set(stage, base, in, o, res, w, &ep, err, errlen);
    json_decref(ep.json);
    if (ws < 0)
        goto out;
    /* After writing: a read-only folder stays one, yet gets its new set. */
    if (existed && chmod(stage, st.st_mode & 07777) < 0) {
        snprintf(err, errlen, "cannot set the mode of %s: %s", stage, strerror(errno));
        goto out;
    }
    if (fstree_sync_dir(stage) < 0 || fstree_replace(stage, final) < 0) {
        snprintf(err, errlen, "cannot put the export in place of %s: %s", final, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        fstree_rm_rf(stage);
    free(stage);
    free(prefix);
    free(parent);
    free(final);
    return rc;
}

/* ---- the whole export ---- */

int odc_export_dir(const char *input, const char *output, const struct odc_opts *o,
                   const struct odc_write_opts *w, struct odc_input *in, struct odc_result *res,
                   char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    /* the samples' temporary files beside the output (a /tmp in memory
     * would hold them in RAM), else in TMPDIR */
    char *final = final_path(output), *parent = parent_of(final);
    int lrc = odc_load(input, is_dir(parent) ? parent : NULL, in, w->progress, err, errlen);
    free(parent);
    free(final);
    if (lrc < 0)
        return -1;
    odc_power_load(in, o->power_model);
    int rc = -1;
    if (in->n_invs == 0) {
        snprintf(err, errlen, "no invocations in %s (CTS/invocations.jsonl is empty): nothing to export",
                 input);
        odc_input_free(in);
        return -1;
    }
    progress_update(w->progress, "building fragments for %zu task(s)", in->n_invs);
    if (odc_export(in, o, res, err, errlen) == 0)
        rc = odc_write(output, in, o, res, w, err, errlen);
    if (rc < 0) {
        odc_result_free(res);
        odc_input_free(in);
    }
    return rc;
}
