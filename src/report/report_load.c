/* report_load.c -- CTS folders and OpenDC workloads into the report's
 * models, and the page of both (see report_load.h). */
#include "report/report_load.h"
#include "report/report_cmp.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"
#include "trace/cts.h"
#include "trace/layout.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- one node's CTS ---- */

/* Without our audit.json: the original parse's audit_report.md (at most
 * 64 KiB), and whether the raw samples are there to parse again. */
static void original_audit(struct rp_node *n, const char *run_dir, const char *cts)
{
    char *p = path_join(cts, "audit_report.md");
    FILE *f = fopen(p, "r");
    free(p);
    if (f) {
        size_t cap = 64 * 1024;
        char *text = xmalloc(cap + 1);
        size_t len = fread(text, 1, cap, f);
        text[len] = 0;
        fclose(f);
        if (len)
            n->orig_audit = text;
        else
            free(text);
    }
    p = path_join(run_dir, "proc_metrics.jsonl");
    n->has_raw = file_exists(p);
    free(p);
}

/* trace_id -> module_id of the raw events.*.jsonl in run_dir, into
 * r->event_apps: the app of tasks whose CTS record lacks it (the original's
 * parse wrote none). */
static void event_apps(struct report *r, const char *run_dir)
{
    DIR *d = opendir(run_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "events.", 7) || len < 13 || strcmp(e->d_name + len - 6, ".jsonl"))
            continue;
        char *p = path_join(run_dir, e->d_name);
        struct jsonl_reader rd;
        if (jsonl_reader_open(&rd, p) == 0) {
            json_t *o;
            while (jsonl_next(&rd, &o) == 1) {
                const char *tid = json_string_value(json_object_get(o, "trace_id"));
                const char *app = json_string_value(json_object_get(o, "app"));
                if (!app)
                    app = json_string_value(json_object_get(o, "module_id"));
                if (tid && app && *app) {
                    if (!r->event_apps)
                        r->event_apps = json_object();
                    json_object_set_new(r->event_apps, tid, json_string(app));
                }
                json_decref(o);
            }
            jsonl_reader_close(&rd);
        }
        free(p);
    }
    closedir(d);
}

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
    size_t i = report_add_node(r, name && *name ? name : base,
                               cores > 0 && cores < 1 << 20 ? (int)cores : 0, audit);
    if (!audit)
        original_audit(&r->nodes[i], run_dir, cts);
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
    if (!app && inv.trace_id)   /* a CTS the original parsed: its raw event says */
        app = json_string_value(json_object_get(r->event_apps, inv.trace_id));
    /* the profile the dispatcher gave it (submitted.jsonl) names it better */
    const char *prof = inv.trace_id ? json_string_value(json_object_get(r->profiles, inv.trace_id))
                                    : NULL;
    if (!prof)   /* a record that carries its own */
        prof = json_string_value(json_object_get(o, "profile"));
    if (prof && *prof && run_id_valid(prof))
        app = prof;
    const char *bind = json_string_value(json_object_get(o, "cpu_binding"));
    if (bind && *bind && json_object_size(r->bindings) < 64) {
        if (!r->bindings)
            r->bindings = json_object();
        json_int_t k = json_integer_value(json_object_get(r->bindings, bind));
        json_object_set_new(r->bindings, bind, json_integer(k + 1));
    }
    t.app = report_app(r, app);
    t.energy_j = jsonl_num_or(o, "energy_j", NAN);
    t.has_energy = isfinite(t.energy_j) && t.energy_j >= 0;
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

static void add_sample(struct report *r, size_t node, const struct cts_sample *cs)
{
    if (!cs->has_ts || !cs->has_pid || !cs->has_dt || !cs->has_cpu)
        return;   /* without CPU counters: nothing to draw */
    struct rp_sample s = {.ts = cs->ts_ms, .pid = cs->pid, .dt_ms = cs->dt_ms, .cpu_ms = cs->cpu_ms,
                          .has_st = cs->has_start, .start_ticks = cs->start_ticks};
    report_add_sample(r, node, &s);
}

static void add_host(struct report *r, size_t node, const json_t *o)
{
    struct rp_host h = {0, NAN, NAN, false, NAN};
    if (!jsonl_ts(o, "ts_ms", &h.ts, NULL))
        return;
    h.cpu_pct = jsonl_num_or(o, "cpu_util", NAN);
    double idle = jsonl_num_or(o, "cpu_idle", NAN), iowait = jsonl_num_or(o, "cpu_iowait", NAN);
    if (isnan(h.cpu_pct) && !isnan(idle))
        h.cpu_pct = 100 * (1 - idle - (isnan(iowait) ? 0 : iowait));
    double total = jsonl_num_or(o, "mem_total_mb", NAN);
    double avail = jsonl_num_or(o, "mem_available_mb", NAN);
    double used = jsonl_num_or(o, "mem_used_mb", NAN);
    if (total > 0 && !isnan(avail))
        h.mem_pct = 100 * (total - avail) / total;
    else if (total > 0 && !isnan(used))
        h.mem_pct = 100 * used / total;
    h.power_w = jsonl_num_or(o, "node_power_w", NAN);
    h.has_power = isfinite(h.power_w) && h.power_w >= 0;
    report_add_host(r, node, &h);
}

/* Open cts/name for reading; false when it cannot be (said unless missing). */
static bool read_open(struct jsonl_reader *rd, const char *cts, const char *name, char **path)
{
    *path = path_join(cts, name);
    if (jsonl_reader_open(rd, *path) == 0)
        return true;
    if (errno != ENOENT)
        log_warn("cannot read %s: %s", *path, open_strerror(errno));
    free(*path);
    return false;
}

/* After the last line (rc of the last read): what went wrong, then close. */
static void read_close(struct jsonl_reader *rd, char *path, int rc)
{
    if (rc < 0)
        log_warn("reading %s failed after %llu line(s): %s", path, (unsigned long long)rd->lineno,
                 strerror(errno));
    if (rd->malformed || rd->torn)
        log_warn("%s: %llu malformed line(s) skipped", path,
                 (unsigned long long)(rd->malformed + rd->torn));
    jsonl_reader_close(rd);
    free(path);
}

/* Every object of one JSONL file; a missing file is fine (count 0). */
static uint64_t read_jsonl(struct report *r, size_t node, const char *cts, const char *name,
                           void (*fn)(struct report *, size_t, const json_t *))
{
    struct jsonl_reader rd;
    char *p;
    if (!read_open(&rd, cts, name, &p))
        return 0;
    uint64_t n = 0;
    json_t *o;
    int rc;
    while ((rc = jsonl_next(&rd, &o)) == 1) {
        fn(r, node, o);
        json_decref(o);
        n++;
    }
    read_close(&rd, p, rc);
    return n;
}

/* CTS/proc_metrics.jsonl, the biggest file: read by parse's flat-line
 * scanner (cts_sample_scan), with read_jsonl's warnings. */
static void read_samples(struct report *r, size_t node, const char *cts)
{
    struct jsonl_reader rd;
    char *p;
    if (!read_open(&rd, cts, "proc_metrics.jsonl", &p))
        return;
    struct cts_sample cs;
    int rc;
    while ((rc = cts_sample_next(&rd, &cs)) == 1)
        add_sample(r, node, &cs);
    read_close(&rd, p, rc);
}

bool report_load_node(struct report *r, const char *run_dir)
{
    char *cts = layout_cts_dir(run_dir);
    if (!cts) {
        log_warn("%s: no CTS/ folder (run 'tracekit parse' first): left out", run_dir);
        return false;
    }
    size_t node = add_node(r, run_dir, cts);
    if (!r->nodes[node].audit)   /* not our parse's CTS (ours writes audit.json): the original's? */
        event_apps(r, run_dir);
    read_jsonl(r, node, cts, "invocations.jsonl", add_task);
    read_samples(r, node, cts);
    char *hp = path_join(cts, "host_metrics.jsonl");
    /* the original's parser called it resources.jsonl */
    read_jsonl(r, node, cts, file_exists(hp) ? "host_metrics.jsonl" : "resources.jsonl", add_host);
    free(hp);
    free(cts);
    return true;
}

/* ---- the controller's records: the experiment's setup ---- */

struct ctl {
    size_t sub, plc, led;                  /* lines */
    json_t *mix, *units, *argv0, *policy, *status, *nodes, *workers, *seed;
    size_t retried;
    size_t wl_bad;                         /* workload.jsonl objects without an integer seed */
    int64_t *enq;                          /* submitted ts_enqueue */
    size_t nenq, capenq;
};

static void bump(json_t **counts, const char *key)
{
    if (!key || !*key)
        return;
    if (!*counts)
        *counts = json_object();
    if (json_object_size(*counts) >= 1000 && !json_object_get(*counts, key))
        key = "(others)";
    json_int_t k = json_integer_value(json_object_get(*counts, key));
    json_object_set_new(*counts, key, json_integer(k + 1));
}

/* "a ×3 (60%), b ×2 (40%)" (malloc'd), the most frequent first. */
static char *counts_text(const json_t *counts)
{
    size_t n = json_object_size(counts), k = 0;
    const char **keys = xmalloc((n + 1) * sizeof *keys);
    json_int_t total = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)counts, key, v) {
        keys[k++] = key;
        total += json_integer_value(v);
    }
    for (size_t i = 1; i < k; i++)   /* insertion sort by count, stable */
        for (size_t j = i; j > 0 && json_integer_value(json_object_get(counts, keys[j])) >
                                        json_integer_value(json_object_get(counts, keys[j - 1])); j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    struct jbuf b;
    jb_init(&b);
    for (size_t i = 0; i < k && i < 20; i++) {
        json_int_t c = json_integer_value(json_object_get(counts, keys[i]));
        jb_printf(&b, "%s%s \u00d7%lld (%.0f%%)", i ? ", " : "", keys[i], (long long)c,
                  total ? 100.0 * (double)c / (double)total : 0.0);
    }
    if (k > 20)
        jb_printf(&b, ", and %zu more", k - 20);
    free(keys);
    char *out = xstrdup(b.p ? b.p : "");
    jb_free(&b);
    return out;
}

static void on_submitted(struct ctl *c, json_t *profiles, const json_t *o)
{
    c->sub++;
    const char *prof = json_string_value(json_object_get(o, "profile"));
    const char *tid = json_string_value(json_object_get(o, "trace_id"));
    if (prof && tid && run_id_valid(prof))
        json_object_set_new(profiles, tid, json_string(prof));
    bump(&c->mix, prof);
    if (!prof)
        bump(&c->argv0, json_string_value(json_array_get(json_object_get(o, "argv"), 0)));
    int64_t u, ts;
    char num[32];
    if (jsonl_int(o, "cpu_units", &u)) {
        snprintf(num, sizeof num, "%lld", (long long)u);
        bump(&c->units, num);
    }
    const json_t *seed = json_object_get(o, "seed");
    if (json_is_integer(seed)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(seed));
        bump(&c->seed, num);
    }
    if (jsonl_ts(o, "ts_enqueue", &ts, NULL)) {
        ARRAY_GROW(c->enq, c->nenq + 1, c->capenq, 64);
        c->enq[c->nenq++] = ts;
    }
}

static void on_placement(struct ctl *c, const json_t *o)
{
    c->plc++;
    bump(&c->policy, json_string_value(json_object_get(o, "policy")));
}

static void on_ledger(struct ctl *c, const json_t *o)
{
    c->led++;
    bump(&c->status, json_string_value(json_object_get(o, "status")));
    bump(&c->nodes, json_string_value(json_object_get(o, "node")));
    bump(&c->workers, json_string_value(json_object_get(o, "worker")));
    int64_t a;
    if (jsonl_int(o, "attempt", &a) && a > 1)
        c->retried++;
}

/* workload.jsonl: how dispatch or local drew the task list (its seed). */
static void on_workload(struct ctl *c, const json_t *o)
{
    int64_t seed;
    if (!jsonl_int(o, "seed", &seed)) {   /* wlbuild_record always writes one */
        c->wl_bad++;
        return;
    }
    const char *by = json_string_value(json_object_get(o, "by"));
    const char *mix = json_string_value(json_object_get(o, "mix"));
    char text[96];
    snprintf(text, sizeof text, "%lld (%s%s)", (long long)seed, by && run_id_valid(by) ? by : "?",
             mix ? ", drew the --mix order" : "");
    bump(&c->seed, text);
}

enum { CTL_SUB, CTL_PLC, CTL_LED, CTL_WL };

/* Every object of dir/name through on_*; whether the file was there. */
static bool read_ctl(struct ctl *c, json_t *profiles, const char *dir, const char *name, int which)
{
    char *p = path_join(dir, name);
    struct jsonl_reader rd;
    if (jsonl_reader_open(&rd, p) < 0) {
        if (errno != ENOENT)
            log_warn("cannot read %s: %s", p, open_strerror(errno));
        free(p);
        return false;
    }
    json_t *o;
    while (jsonl_next(&rd, &o) == 1) {
        if (which == CTL_SUB)
            on_submitted(c, profiles, o);
        else if (which == CTL_PLC)
            on_placement(c, o);
        else if (which == CTL_WL)
            on_workload(c, o);
        else
            on_ledger(c, o);
        json_decref(o);
    }
    if (rd.malformed || rd.torn)
        log_warn("%s: %llu malformed line(s) skipped", p,
                 (unsigned long long)(rd.malformed + rd.torn));
    if (which == CTL_WL && c->wl_bad)
        log_warn("%s: %zu line(s) without an integer \"seed\" skipped (the seed row leaves them out)", p,
                 c->wl_bad);
    jsonl_reader_close(&rd);
    free(p);
    return true;
}

static void row(json_t *rows, const char *label, char *text /* taken */)
{
    json_array_append_new(rows, json_pack("[ss]", label, text));
    free(text);
}

static char *wall_text(int64_t ms)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    char buf[64] = "?";
    if (gmtime_r(&sec, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return xasprintf("%s.%03d UTC", buf, (int)(ms % 1000));
}

/* How the tasks were let in: bursts of enqueues more than 1 s apart. */
static char *pacing_text(int64_t *enq, size_t n)
{
    qsort(enq, n, sizeof *enq, cmp_i64);
    size_t bursts = 1, biggest = 1, cur = 1;
    int64_t gap_max = 0;
    for (size_t i = 1; i < n; i++) {
        int64_t gap = enq[i] - enq[i - 1];
        gap_max = gap > gap_max ? gap : gap_max;
        if (gap > 1000) {
            bursts++;
            cur = 1;
        } else if (++cur > biggest) {
            biggest = cur;
        }
    }
    char *a = wall_text(enq[0]), *z = wall_text(enq[n - 1]);
    char *t = xasprintf("%zu task(s) enqueued from %s to %s (%.3f s), in %zu burst(s) (a pause "
                        "over 1 s starts the next), the largest of %zu task(s); longest pause %.3f s",
                        n, a, z, (double)(enq[n - 1] - enq[0]) / 1000, bursts, biggest,
                        (double)gap_max / 1000);
    free(a);
    free(z);
    return t;
}

/* The rows of the setup table from the controller's records in dir. */
static void ctl_rows(struct ctl *c, json_t *rows, const char *dir)
{
    row(rows, "controller records",
        xasprintf("%s: submitted.jsonl %zu line(s), placements.jsonl %zu, ledger.jsonl %zu", dir,
                  c->sub, c->plc, c->led));
    if (c->mix)
        row(rows, "mix (profiles submitted)", counts_text(c->mix));
    else if (c->argv0)
        row(rows, "tasks (no profiles: programs)", counts_text(c->argv0));
    row(rows, "seed", c->seed ? counts_text(c->seed) : xstrdup("not recorded in the run's files"));
    if (c->units)
        row(rows, "CPU units per task", counts_text(c->units));
    if (c->nenq)
        row(rows, "pacing (enqueue times)", pacing_text(c->enq, c->nenq));
    if (c->policy)
        row(rows, "placement policy (weigher)", counts_text(c->policy));
    if (c->status) {
        char *st = counts_text(c->status);
        row(rows, "outcome (ledger)", xasprintf("%s; %zu retried", st, c->retried));
        free(st);
    }
    if (c->nodes)
        row(rows, "tasks per node (ledger)", counts_text(c->nodes));
    if (c->workers)
        row(rows, "workers", xasprintf("%zu", json_object_size(c->workers)));
}

/* The controller's records at the top of input (an experiment folder
 * from gather, or a `local` run folder) into r's setup and profiles. */
static void load_controller(struct report *r, const char *input)
{
    struct ctl c = {0};
    json_t *profiles = json_object();
    bool any = read_ctl(&c, profiles, input, "submitted.jsonl", CTL_SUB);
    any |= read_ctl(&c, profiles, input, "placements.jsonl", CTL_PLC);
    any |= read_ctl(&c, profiles, input, "ledger.jsonl", CTL_LED);
    read_ctl(&c, profiles, input, "workload.jsonl", CTL_WL);
    if (any) {
        r->setup = json_array();
        ctl_rows(&c, r->setup, input);
    }
    if (json_object_size(profiles))
        r->profiles = profiles;
    else
        json_decref(profiles);
    json_t *all[] = {c.mix, c.units, c.argv0, c.policy, c.status, c.nodes, c.workers, c.seed};
    for (size_t i = 0; i < ARRAY_LEN(all); i++)
        json_decref(all[i]);
    free(c.enq);
}

/* ---- a run or an experiment ---- */

int report_load_run(struct report *r, const char *input, char *err, size_t errlen)
{
    size_t ndirs = 0;
    char **dirs = layout_run_dirs(input, &ndirs);
    if (!dirs) {
        snprintf(err, errlen,
                 "%s: neither a run folder, an experiment folder with node sub-folders, nor an "
                 "OpenDC workload (tasks.parquet)",
                 input);
        return -1;
    }
    load_controller(r, input);
    int loaded = 0;
    for (size_t i = 0; i < ndirs; i++)
        loaded += report_load_node(r, dirs[i]);
    layout_free_list(dirs);
    if (!loaded) {
        snprintf(err, errlen, "%s: no parsed node (CTS/) found", input);
        return -1;
    }
    return loaded;
}

bool report_load_is_workload(const char *dir)
{
    char *p = path_join(dir, "tasks.parquet");
    bool yes = file_exists(p);
    free(p);
    return yes;
}

/* The last path element ("logs/run1/" names run1), malloc'd. */
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

static int load_workload(struct report_odc *o, const char *dir, char *err, size_t errlen)
{
    char e[1024];
    if (report_odc_load(o, dir, e, sizeof e) < 0) {
        snprintf(err, errlen, "OpenDC workload %s: %s", dir, e);
        return -1;
    }
    if (o->topo_note)
        log_warn("%s: %s", dir, o->topo_note);
    return 0;
}

/* tracekit compare's figures for the section "Measured run vs OpenDC". */
static int load_cmp(const struct report_load_in *in, struct report_load_out *out, char *err, size_t errlen)
{
    char e[1024];
    struct odc_cmp_side pred, meas;
    int64_t t0;
    out->cmp_dir = odc_cmp_find_output(in->opendc_output, NULL, -1, e, sizeof e);
    if (!out->cmp_dir)
        return errf(err, errlen, "--opendc-output: %s", e);
    if (odc_cmp_load_pred(out->cmp_dir, &pred, &t0, e, sizeof e) < 0)
        return errf(err, errlen, "%s", e);
    if (odc_cmp_load_meas(in->input, in->opendc, t0, &meas, e, sizeof e) < 0) {
        odc_cmp_side_free(&pred);
        return errf(err, errlen, "%s", e);
    }
    odc_compare(&meas, &pred, 0, &out->cmp);
    odc_cmp_side_free(&meas);
    odc_cmp_side_free(&pred);
    out->has_cmp = true;
    return 0;
}

int report_load(const struct report_load_in *in, struct report_load_out *out, char *err,
                size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->input_is_workload = report_load_is_workload(in->input);
    const char *wdir = out->input_is_workload ? in->input : in->opendc;
    out->has_workload = wdir != NULL;
    out->title = base_name(in->input);
    report_init(&out->run, out->title);
    char *wtitle = wdir ? base_name(wdir) : NULL;
    report_odc_init(&out->odc, wtitle);
    free(wtitle);
    if ((!out->input_is_workload && report_load_run(&out->run, in->input, err, errlen) < 0) ||
        (wdir && load_workload(&out->odc, wdir, err, errlen) < 0) ||
        (in->opendc_output && load_cmp(in, out, err, errlen) < 0)) {
        report_load_free(out);
        return -1;
    }
    return 0;
}

void report_load_free(struct report_load_out *out)
{
    report_free(&out->run);
    report_odc_free(&out->odc);
    odc_cmp_free(&out->cmp);
    free(out->cmp_dir);
    free(out->title);
    memset(out, 0, sizeof *out);
}

/* The run's and the workload's charts on one time axis when the workload
 * keeps the run's clock (submission times within a day of the run). */
static void one_axis(struct report_load_out *out)
{
    int64_t a0, a1, w0, w1;
    if (out->input_is_workload || !out->has_workload || !report_span(&out->run, &a0, &a1) ||
        !report_odc_span(&out->odc, &w0, &w1) || w0 > a1 + 86400000 || w1 < a0 - 86400000)
        return;
    int64_t t0 = a0 < w0 ? a0 : w0, t1 = a1 > w1 ? a1 : w1;
    out->run.has_axis = out->odc.has_axis = true;
    out->run.axis0 = out->odc.axis0 = t0;
    out->run.axis1 = out->odc.axis1 = t1;
}

void report_load_html(struct report_load_out *out, struct jbuf *b)
{
    one_axis(out);
    report_html_begin(b, out->title);
    if (!out->input_is_workload) {
        report_layout(&out->run);
        report_run_html(&out->run, b);
    }
    if (out->has_cmp)
        report_cmp_section_html(&out->cmp, out->cmp_dir, out->run.width, b);
    if (out->has_workload)
        report_odc_section_html(&out->odc, b);
    report_html_end(b);
}
