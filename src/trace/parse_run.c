/* parse_run.c -- one run folder to CTS/ (see parse_run.h). */
#include "trace/parse_run.h"
#include "collect/cgstat.h"
#include "trace/cts.h"
#include "common/fstree.h"
#include "common/jsonl.h"
#include "trace/layout.h"
#include "collect/links.h"
#include "common/log.h"
#include "common/progress.h"
#include "trace/rawproc.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUT_FLUSH_BYTES (1u << 20)

/* ---- buffered output file: one write(2) per megabyte ---- */

struct outfile {
    int fd;
    char *path;
    struct jbuf buf;
    int failed_errno;
};

static int of_open(struct outfile *f, const char *dir, const char *name)
{
    memset(f, 0, sizeof *f);
    f->path = path_join(dir, name);
    f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int e = errno;
        free(f->path);
        f->path = NULL;
        errno = e;
        return -1;
    }
    jb_init(&f->buf);
    return 0;
}

static void of_flush(struct outfile *f)
{
    const char *p = f->buf.p;
    size_t n = f->buf.len;
    while (n && !f->failed_errno) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            f->failed_errno = errno;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
    f->buf.len = 0;
}

static void of_line(struct outfile *f, const struct jbuf *line)
{
    jb_append(&f->buf, line->p, line->len);
    jb_append(&f->buf, "\n", 1);
    if (f->buf.len >= OUT_FLUSH_BYTES)
        of_flush(f);
}

static void of_text(struct outfile *f, const char *s, size_t n)
{
    jb_append(&f->buf, s, n);
}

/* Flush, fsync, close.  0 or -1 with errno. */
static int of_close(struct outfile *f)
{
    int rc = 0;
    if (f->fd >= 0) {
        of_flush(f);
        if (!f->failed_errno && fsync(f->fd) < 0)
            f->failed_errno = errno;
        if (close(f->fd) < 0 && !f->failed_errno)
            f->failed_errno = errno;
        rc = f->failed_errno ? -1 : 0;
    }
    int e = f->failed_errno;
    free(f->path);
    jb_free(&f->buf);
    f->fd = -1;
    errno = e;
    return rc;
}

/* ---- the files list for the audit ---- */

struct files {
    struct audit_file *v;
    size_t n;
};

static struct audit_file *add_file(struct files *fs, const char *name)
{
    fs->v = xrealloc(fs->v, (fs->n + 1) * sizeof *fs->v);
    struct audit_file *f = &fs->v[fs->n++];
    memset(f, 0, sizeof *f);
    f->name = xstrdup(name);
    return f;
}

static void free_files(struct files *fs)
{
    for (size_t i = 0; i < fs->n; i++)
        free(fs->v[i].name);
    free(fs->v);
}

static void count_reader(struct audit_file *f, const struct jsonl_reader *r)
{
    f->lines = r->lineno;
    f->good = r->good;
    f->malformed = r->malformed;
    f->torn = r->torn;
}

/* ---- small JSON helpers ---- */

static const char *meta_str(const json_t *meta, const char *key)
{
    json_t *v = json_object_get(meta, key);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

static double positive(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) && json_number_value(v) > 0 ? json_number_value(v) : 0;
}

/* The sampling interval a collector recorded about itself. */
static double interval_of(const json_t *o)
{
    static const char *const keys[] = {"proc_interval_ms", "interval_ms"};
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        double v = positive(o, keys[i]);
        if (v > 0)
            return v;
    }
    json_t *opts = json_object_get(o, "options");
    return json_is_object(opts) ? interval_of(opts) : 0;
}

/* ---- events ---- */

/* File names of events.*.jsonl in dir, sorted like the original (by name). */
static char **event_files(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!layout_is_event_file(e->d_name))
            continue;
        v = xrealloc(v, (*n + 1) * sizeof *v);
        v[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, cmp_str);
    return v;
}

struct events {
    json_t **v;
    size_t n, cap;
};

static void read_events_file(const char *dir, const char *name, struct events *ev, struct files *fs,
                             struct progress *pg)
{
    char *path = path_join(dir, name);
    struct jsonl_reader r;
    struct audit_file *f = add_file(fs, name);
    if (jsonl_reader_open(&r, path) < 0) {
        log_warn("cannot read %s: %s", path, strerror(errno));
        f->unreadable = true;
        free(path);
        return;
    }
    json_t *obj;
    while (jsonl_next(&r, &obj) == 1) {
        if (ev->n == ev->cap) {
            ev->cap = ev->cap ? ev->cap * 2 : 64;
            ev->v = xrealloc(ev->v, ev->cap * sizeof *ev->v);
        }
        ev->v[ev->n++] = obj;
        progress_update(pg, "%s: %zu task event(s)", name, ev->n);
    }
    count_reader(f, &r);
    jsonl_reader_close(&r);
    free(path);
}

/* ---- proc_metrics ---- */

static int derive_proc(const char *path, struct outfile *out, struct cts *c, struct audit *a,
                       struct audit_file *f, struct progress *pg)
{
    struct jsonl_reader r;
    if (jsonl_reader_open(&r, path) < 0)
        return -1;
    struct jbuf line;
    jb_init(&line);
    const char *text;
    size_t len;
    bool complete;
    int rc;
    while ((rc = jsonl_next_line(&r, &text, &len, &complete)) == 1) {
        progress_update(pg, "proc_metrics.jsonl: %llu line(s) read", (unsigned long long)r.lineno);
        size_t i = 0;
        while (i < len && (text[i] == ' ' || text[i] == '\t'))
            i++;
        if (i == len)
            continue;
        struct raw_sample s;
        enum raw_result res = raw_parse_line(text, len, &s);
        if (res == RAW_MALFORMED) {
            if (complete)
                f->malformed++;
            else
                f->torn++;
            continue;
        }
        if (res == RAW_INVALID) {
            f->invalid++;
            continue;
        }
        f->good++;
        struct cts_rec rec;
        if (!cts_feed(c, &s, &rec))
            continue;
        jb_reset(&line);
        cts_rec_json(&line, &rec);
        of_line(out, &line);
        audit_add_rec(a, &rec);
    }
    f->lines = r.lineno;
    jb_free(&line);
    int e = errno;
    jsonl_reader_close(&r);
    errno = e;
    return rc < 0 ? -1 : 0;
}

/* ---- host metrics: our host_metrics.jsonl, or the original's resources.jsonl ---- */

static int copy_host(const char *run_dir, const char *tmp, const char *node, struct files *fs,
                     struct parse_result *res, struct progress *pg)
{
    static const char *const names[] = {"host_metrics.jsonl", "resources.jsonl"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char *path = path_join(run_dir, names[i]);
        struct jsonl_reader r;
        if (jsonl_reader_open(&r, path) < 0) {
            free(path);
            continue;
        }
        free(path);
        struct audit_file *f = add_file(fs, names[i]);
        struct outfile out;
        if (of_open(&out, tmp, "host_metrics.jsonl") < 0) {
            int e = errno;
            jsonl_reader_close(&r);
            errno = e;
            return -1;
        }
        struct jbuf line;
        jb_init(&line);
        json_t *obj;
        while (jsonl_next(&r, &obj) == 1) {
            if (!json_object_get(obj, "node") && node)
                json_object_set_new(obj, "node", json_string(node));
            jb_reset(&line);
            jb_json(&line, NULL, obj);
            of_line(&out, &line);
            json_decref(obj);
            progress_update(pg, "%s: %llu line(s) read", names[i], (unsigned long long)r.lineno);
        }
        count_reader(f, &r);
        res->host_lines = r.good;
        res->host_skipped = r.malformed + r.torn;
        jb_free(&line);
        jsonl_reader_close(&r);
        return of_close(&out);
    }
    return 0;
}

/* ---- infrastructure: links.json (tracekit links), cgroup_metrics.jsonl (collect --cgroup) ---- */

static int infra_to_cts(const char *run_dir, const char *tmp, const char *node, struct files *fs)
{
    size_t good, bad;
    int rc = links_to_cts(run_dir, tmp, node, &good, &bad);
    if (good || bad) {
        struct audit_file *f = add_file(fs, "links.json");
        f->lines = good + bad;
        f->good = good;
        if (rc == 1)
            f->malformed = bad;  /* not a JSON array at all */
        else
            f->invalid = bad;
    }
    if (rc < 0)
        return -1;
    struct cgstat_counts k;
    if (cgstat_to_cts(run_dir, tmp, &k) < 0)
        return -1;
    if (k.present) {
        struct audit_file *f = add_file(fs, "cgroup_metrics.jsonl");
        f->lines = k.lines;
        f->good = k.good;
        f->malformed = k.malformed;
        f->torn = k.torn;
        f->invalid = k.invalid;
    }
    return 0;
}

/* ---- the whole run ---- */

static int write_text(const char *dir, const char *name, const char *text, size_t len)
{
    struct outfile f;
    if (of_open(&f, dir, name) < 0)
        return -1;
    of_text(&f, text, len);
    return of_close(&f);
}

/* Last component of a folder path, trailing slashes ignored (malloc'd). */
static char *dir_base(const char *path)
{
    char *p = xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    char *s = strrchr(p, '/');
    char *b = xstrdup(s ? s + 1 : p);
    free(p);
    return b;
}
/* The worker's latest offset to the Redis clock, from dir/clock.jsonl
 * (cts_clock_latest).  Malformed lines are counted and reported. */
static bool clock_from_worker(const char *dir, const char *node, double *off, double *rtt)
{
    char *path = path_join(dir, "clock.jsonl");
    struct jsonl_reader rd;
    bool found = false;
    if (jsonl_reader_open(&rd, path) == 0) {
        json_t **v = NULL;
        size_t n = 0;
        json_t *o;
        while (jsonl_next(&rd, &o) == 1) {
            v = xrealloc(v, (n + 1) * sizeof *v);
            v[n++] = o;
        }
        if (rd.malformed + rd.torn)
            log_warn("%s: %llu malformed line(s) skipped", path,
                     (unsigned long long)(rd.malformed + rd.torn));
        found = cts_clock_latest(v, n, node, off, rtt);
        for (size_t i = 0; i < n; i++)
            json_decref(v[i]);
        free(v);
        jsonl_reader_close(&rd);
    }
    free(path);
    return found;
}

int parse_run(const struct parse_opts *o, struct parse_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->jitter_p99 = NAN;
    int64_t t0 = now_mono_ns();
    const char *dir = o->run_dir;
    if (!is_dir(dir)) {
        snprintf(err, errlen, "no run folder '%s'", dir);
        return -1;
    }
    char *meta_path = path_join(dir, "node_meta.json");
    bool meta_exists = file_exists(meta_path);
    if (!meta_exists && !layout_has_raw(dir)) {
        snprintf(err, errlen,
                 "nothing to parse in '%s': no node_meta.json, proc_metrics.jsonl, "
                 "events.*.jsonl or host_metrics.jsonl",
                 dir);
        free(meta_path);
        return -1;
    }

    /* A node folder shipped through Redis (parse --ship, gather --redis)
     * has clean traces but not the raw samples they came from: parsing it
     * again would replace CTS/ with one that has no samples. */
    char *cts_pm = path_join(dir, "CTS/proc_metrics.jsonl");
    char *raw_pm = path_join(dir, "proc_metrics.jsonl");
    char *raw_hm = path_join(dir, "host_metrics.jsonl");
    bool shipped = file_exists(cts_pm) && !file_exists(raw_pm) && !file_exists(raw_hm);
    free(cts_pm);
    free(raw_pm);
    free(raw_hm);
    if (shipped) {
        snprintf(err, errlen,
                 "'%s' has clean traces (CTS/) but not the raw samples they were made from "
                 "(proc_metrics.jsonl, host_metrics.jsonl), like a folder shipped through "
                 "Redis: parsing it again would lose its samples, so CTS/ is kept as it is",
                 dir);
        free(meta_path);
        return -1;
    }

    int rc = -1;
    struct files fs = {0};
    struct events ev = {0};
    struct cts_inv *invs = NULL;
    size_t ninv = 0;
    struct cts c;
    struct audit a;
    json_t *meta = NULL, *collector = NULL, *nodes = NULL;
    char *tmp = NULL, *final = NULL, *path = NULL;
    char *run_id = o->run_id ? xstrdup(o->run_id) : dir_base(dir);
    char **evfiles = NULL;
    size_t nevfiles = 0;
    struct jbuf text;
    jb_init(&text);
    struct outfile out = {.fd = -1};

    if (meta_exists) {
        struct audit_file *f = add_file(&fs, "node_meta.json");
        json_error_t jerr;
        meta = json_load_file(meta_path, JSON_DISABLE_EOF_CHECK, &jerr);
        f->lines = 1;
        if (!json_is_object(meta)) {
            log_warn("%s: not a JSON object (%s); parsing without node metadata", meta_path,
                     jerr.text);
            json_decref(meta);
            meta = NULL;
            f->unreadable = true;
        } else {
            f->good = 1;
        }
    }
    r->has_meta = meta != NULL;
    const char *node = o->node_id ? o->node_id
                       : meta_str(meta, "node") ? meta_str(meta, "node")
                                                : o->node_default;
    const char *stage = o->stage ? o->stage
                        : meta_str(meta, "stage") ? meta_str(meta, "stage")
                                                  : o->stage_default;
    r->node = node ? xstrdup(node) : NULL;
    r->stage = stage ? xstrdup(stage) : NULL;

    struct cts_opts copts;
    cts_opts_default(&copts);
    if (positive(meta, "clk_tck") > 0)
        copts.clk_tck = positive(meta, "clk_tck");
    double interval = 0;
    const char *interval_src = NULL;
    if (o->interval_ms > 0) {
        interval = o->interval_ms;
        interval_src = "--interval-ms";
    } else if (meta && interval_of(meta) > 0) {
        interval = interval_of(meta);
        interval_src = "node_meta.json";
    } else {
        path = path_join(dir, "collector.json");
        collector = json_load_file(path, 0, NULL);
        free(path);
        path = NULL;
        if (collector && interval_of(collector) > 0) {
            interval = interval_of(collector);
            interval_src = "collector.json";
        }
    }
    if (interval > 0)
        copts.gap_ms = 2 * interval;
    cts_init(&c, &copts);
    audit_init(&a);

    /* a fresh folder next to the final one */
    fstree_clean_stale(dir, "CTS.tmp.");
    fstree_clean_stale(dir, "CTS.old.");
    tmp = xasprintf("%s/CTS.tmp.%d", dir, (int)getpid());
    final = path_join(dir, "CTS");
    fstree_rm_rf(tmp);
    if (mkdir(tmp, 0755) < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }

    /* events: merge events.*.jsonl into events.jsonl like the original;
     * without them, read an events.jsonl a previous parse left */
    evfiles = event_files(dir, &nevfiles);
    for (size_t i = 0; i < nevfiles; i++)
        read_events_file(dir, evfiles[i], &ev, &fs, o->progress);
    if (nevfiles) {
        cts_events_sort(ev.v, ev.n);
        for (size_t i = 0; i < ev.n; i++)
            cts_event_defaults(ev.v[i], node, stage);
        jb_reset(&text);
        for (size_t i = 0; i < ev.n; i++) {
            jb_json(&text, NULL, ev.v[i]);
            jb_newline(&text);
        }
        path = path_join(dir, "events.jsonl");
        if (write_file_atomic(path, text.p, text.len) < 0) {
            snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
            goto done;
        }
        free(path);
        path = NULL;
    } else {
        path = path_join(dir, "events.jsonl");
        if (file_exists(path))
            read_events_file(dir, "events.jsonl", &ev, &fs, o->progress);
        free(path);
        path = NULL;
        for (size_t i = 0; i < ev.n; i++)
            cts_event_defaults(ev.v[i], node, stage);
    }
    r->event_files = nevfiles;
    r->events = ev.n;
    for (size_t i = 0; i < fs.n; i++)
        if (str_starts(fs.v[i].name, "events."))
            r->events_skipped += fs.v[i].malformed + fs.v[i].torn;

    /* invocations */
    if (of_open(&out, tmp, "invocations.jsonl") < 0)
        goto write_failed;
    invs = xcalloc(ev.n ? ev.n : 1, sizeof *invs);
    for (size_t i = 0; i < ev.n; i++) {
        jb_reset(&text);
        cts_inv_json(&text, ev.v[i]);
        of_line(&out, &text);
        cts_inv_from_event(ev.v[i], &invs[ninv++]);
    }
    if (of_close(&out) < 0)
        goto write_failed;

    /* proc_metrics */
    if (of_open(&out, tmp, "proc_metrics.jsonl") < 0)
        goto write_failed;
    path = path_join(dir, "proc_metrics.jsonl");
    if (file_exists(path)) {
        struct audit_file *f = add_file(&fs, "proc_metrics.jsonl");
        if (derive_proc(path, &out, &c, &a, f, o->progress) < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            of_close(&out);
            goto done;
        }
        r->raw_lines = f->lines;
        r->raw_skipped = f->malformed + f->torn + f->invalid;
    }
    free(path);
    path = NULL;
    if (of_close(&out) < 0)
        goto write_failed;
    cts_finish(&c);
    r->records = c.emitted;
    r->processes = c.nids;

    if (copy_host(dir, tmp, node, &fs, r, o->progress) < 0)
        goto write_failed;
    if (infra_to_cts(dir, tmp, node, &fs) < 0)
        goto write_failed;

    /* nodes.json: a one-element array, indent 2, no newline (like the original) */
    nodes = json_array();
    json_t *entry = cts_node_entry(meta, node, stage);
    if (o->node_id)
        json_object_set_new(entry, "node_id", json_string(o->node_id));
    if (o->stage)
        json_object_set_new(entry, "stage", json_string(o->stage));
    double clock_off = 0, clock_rtt = NAN;
    bool has_clock = clock_from_worker(dir, node, &clock_off, &clock_rtt);
    if (has_clock) { /* measured against the run's shared reference: preferred */
        json_object_set_new(entry, "clock_offset_ms", json_real(clock_off));
        json_object_set_new(entry, "clock_rtt_ms", isnan(clock_rtt) ? json_null()
                                                                    : json_real(clock_rtt));
        json_object_set_new(entry, "clock_ref", json_string("redis"));
    }
    json_array_append_new(nodes, entry);
    jb_reset(&text);
    cts_pretty_json(&text, nodes);
    if (write_text(tmp, "nodes.json", text.p, text.len) < 0)
        goto write_failed;

    /* the audit */
    struct audit_context ctx = {
        .run_id = run_id,
        .node = node,
        .stage = stage,
        .interval_ms = interval,
        .interval_source = interval_src,
    };
    ctx.has_clock_offset = has_clock;
    ctx.clock_offset_ms = clock_off;
    if (!has_clock)
        ctx.has_clock_offset = meta && cts_meta_clock_offset(meta, &ctx.clock_offset_ms);
    audit_finish(&a, &ctx, &c, invs, ninv, fs.v, fs.n);
    audit_check(&a, &o->limits);
    jb_reset(&text);
    audit_render_md(&a, &text);
    if (write_text(tmp, "audit_report.md", text.p, text.len) < 0)
        goto write_failed;
    jb_reset(&text);
    audit_render_json(&a, &text);
    jb_newline(&text);
    if (write_text(tmp, "audit.json", text.p, text.len) < 0)
        goto write_failed;

    if (fstree_sync_dir(tmp) < 0 || fstree_replace(tmp, final) < 0) {
        snprintf(err, errlen, "cannot put %s in place of %s: %s", tmp, final, strerror(errno));
        goto done;
    }

    r->cts_dir = xstrdup(final);
    r->tasks = ninv;
    r->unsampled = a.unsampled;
    r->failed = a.failed;
    r->interval_ms = a.interval_used;
    r->interval_source = a.interval_used > 0 ? a.interval_used_source : NULL;
    r->jitter_p99 = a.jitter_n ? a.jitter_p99 : NAN;
    r->violations = a.violations;  /* ownership moves to the result */
    r->nviolations = a.nviolations;
    a.violations = NULL;
    a.nviolations = 0;
    rc = 0;
    goto done;

write_failed:
    snprintf(err, errlen, "cannot write in %s: %s", tmp, strerror(errno));
done:
    if (rc < 0 && tmp)
        fstree_rm_rf(tmp);
    r->seconds = (double)(now_mono_ns() - t0) / 1e9;
    audit_free(&a);
    cts_free(&c);
    for (size_t i = 0; i < ninv; i++)
        cts_inv_free(&invs[i]);
    free(invs);
    for (size_t i = 0; i < ev.n; i++)
        json_decref(ev.v[i]);
    free(ev.v);
    for (size_t i = 0; i < nevfiles; i++)
        free(evfiles[i]);
    free(evfiles);
    free_files(&fs);
    json_decref(meta);
    json_decref(collector);
    json_decref(nodes);
    jb_free(&text);
    free(meta_path);
    free(tmp);
    free(final);
    free(path);
    free(run_id);
    return rc;
}

void parse_result_free(struct parse_result *r)
{
    free(r->cts_dir);
    free(r->node);
    free(r->stage);
    for (size_t i = 0; i < r->nviolations; i++)
        free(r->violations[i]);
    free(r->violations);
    memset(r, 0, sizeof *r);
}
