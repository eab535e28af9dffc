/* parse_run.c -- one run folder to CTS/ (see parse_run.h). */
#include "trace/parse_run.h"
#include "collect/cgstat.h"
#include "collect/links.h"
#include "common/fstree.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/run.h"
#include "common/util.h"
#include "trace/cts.h"
#include "trace/energy.h"
#include "trace/layout.h"
#include "trace/rawproc.h"

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
    f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, TK_FILE_MODE);
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
        /* a FIFO or a planted symlink is skipped, never waited on or followed */
        log_warn("cannot read %s: %s; skipped (counted as unreadable in audit.json)", path,
                 open_strerror(errno));
        f->unreadable = true;
        free(path);
        return;
    }
    json_t *obj;
    uint64_t bad_times = 0;
    while (jsonl_next(&r, &obj) == 1) {
        if (!cts_event_times_ok(obj)) {
            bad_times++;
            json_decref(obj);
            continue;
        }
        if (ev->n == ev->cap) {
            ev->cap = ev->cap ? ev->cap * 2 : 64;
            ev->v = xrealloc(ev->v, ev->cap * sizeof *ev->v);
        }
        ev->v[ev->n++] = obj;
        progress_update(pg, "%s: %zu task event(s)", name, ev->n);
    }
    count_reader(f, &r);
    f->good -= bad_times;
    f->malformed += bad_times;
    jsonl_reader_close(&r);
    free(path);
}

/* ---- proc_metrics ---- */

/* ---- the tasks' process intervals, for their energy ---- */

struct task_pid {
    int64_t pid;
    size_t inv;
};

struct task_match {
    const struct cts_inv *invs;
    struct task_pid *v;          /* by pid */
    size_t n;
    struct energy *en;
};

static int cmp_task_pid(const void *pa, const void *pb)
{
    const struct task_pid *x = pa, *y = pb;
    return x->pid < y->pid ? -1 : x->pid > y->pid ? 1 : x->inv < y->inv ? -1 : x->inv > y->inv;
}

static void task_match_init(struct task_match *m, const struct cts_inv *invs, size_t n,
                            struct energy *en)
{
    memset(m, 0, sizeof *m);
    m->invs = invs;
    m->en = en;
    m->v = xcalloc(n ? n : 1, sizeof *m->v);
    for (size_t i = 0; i < n; i++)
        if (invs[i].has_pid)
            m->v[m->n++] = (struct task_pid){invs[i].pid, i};
    qsort(m->v, m->n, sizeof *m->v, cmp_task_pid);
}

/* The task a CTS record belongs to: same PID, and the same start ticks
 * when both have them, else a time inside the task's window (1 s slack). */
static void task_match_rec(struct task_match *m, const struct cts_rec *r)
{
    if (!m || r->baseline || !r->has_dt || !(r->dt_ms > 0))
        return;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->v[mid].pid < r->pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < m->n && m->v[lo].pid == r->pid; lo++) {
        const struct cts_inv *v = &m->invs[m->v[lo].inv];
        bool ok = v->has_start_ticks && r->has_start
                      ? v->start_ticks == r->start_ticks
                      : !(v->has_start && v->has_end) ||
                            ((double)r->ts_ms >= (double)v->ts_start - 1000 &&
                             (double)r->ts_ms - r->dt_ms <= (double)v->ts_end + 1000);
        if (ok) {
            energy_add_proc(m->en, m->v[lo].inv, (double)r->ts_ms - r->dt_ms, (double)r->ts_ms,
                            r->cpu_ms);
            return;
        }
    }
}

/* An exit record of a process the collector never read (a whitelisted
 * task that ended before its sentinel was seen) has start ticks worked out
 * from its exit, up to time_err_ms off: take its task's exact ones (same
 * PID, within that), so that every join by (pid, start_ticks) finds it. */
static void task_match_start(const struct task_match *m, struct raw_sample *s, double clk_tck)
{
    if (!m || !s->taskstats || !s->has_time_err || !s->has_start)
        return;
    double tol = ceil(s->time_err_ms * clk_tck / 1000.0) + 1;
    const struct cts_inv *best = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const struct cts_inv *v = &m->invs[m->v[i].inv];
        if (m->v[i].pid != s->pid || !v->has_start_ticks)
            continue;
        double d = fabs((double)v->start_ticks - (double)s->start_ticks);
        if (d <= tol && (!best || d < fabs((double)best->start_ticks - (double)s->start_ticks)))
            best = v;
    }
    if (best)
        s->start_ticks = best->start_ticks;
}

static int derive_proc(const char *path, struct outfile *out, struct cts *c, struct audit *a,
                       struct audit_file *f, struct progress *pg, struct task_match *tm)
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
        task_match_start(tm, &s, c->o.clk_tck);
        struct cts_rec rec[CTS_FEED_MAX];
        size_t n = cts_feed(c, &s, rec);
        for (size_t k = 0; k < n; k++) {
            jb_reset(&line);
            cts_rec_json(&line, &rec[k]);
            of_line(out, &line);
            audit_add_rec(a, &rec[k]);
            task_match_rec(tm, &rec[k]);
        }
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
                     struct parse_result *res, struct progress *pg, struct energy *en)
{
    static const char *const names[] = {"host_metrics.jsonl", "resources.jsonl"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char *path = path_join(run_dir, names[i]);
        struct jsonl_reader r;
        if (jsonl_reader_open(&r, path) < 0) {
            if (errno != ENOENT) {
                log_warn("cannot read %s: %s; skipped", path, open_strerror(errno));
                add_file(fs, names[i])->unreadable = true;
            }
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
            double w;
            json_object_del(obj, "node_power_w");   /* ours only */
            if (energy_add_host(en, obj, &w))
                json_object_set_new(obj, "node_power_w", json_real(round(w * 1000) / 1000));
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

/* Anything to parse in dir, and not a folder whose raw samples are gone?
 * 0, or -1 with err. */
static int check_input(const char *dir, bool meta_exists, char *err, size_t errlen)
{
    if (!meta_exists && !layout_has_raw(dir)) {
        snprintf(err, errlen,
                 "nothing to parse in '%s': no node_meta.json, proc_metrics.jsonl, "
                 "events.*.jsonl or host_metrics.jsonl",
                 dir);
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
        return -1;
    }
    return 0;
}

/* Everything one parse holds; job_free frees it all. */
struct job {
    const struct parse_opts *o;
    struct parse_result *r;
    const char *dir;
    char *err;
    size_t errlen;
    struct files fs;
    struct events ev;
    struct cts_inv *invs;
    size_t ninv;
    size_t *inv_of;               /* event index -> index in invs, SIZE_MAX: dropped */
    struct cts c;
    struct audit a;
    struct energy en;
    json_t *meta, *collector;
    const char *node, *stage;      /* the options', node_meta.json's or the defaults */
    double interval;               /* 0: unknown */
    const char *interval_src;
    char *run_id, *tmp, *final;
    struct jbuf text;              /* scratch for whole files and lines */
};

static int write_failed(struct job *j)
{
    snprintf(j->err, j->errlen, "cannot write in %s: %s", j->tmp, strerror(errno));
    return -1;
}

/* node_meta.json (a broken one is a warning), and what follows from it:
 * node, stage, clock ticks, the sampling interval. */
static void read_meta(struct job *j, const char *meta_path, bool meta_exists)
{
    const struct parse_opts *o = j->o;
    if (meta_exists) {
        struct audit_file *f = add_file(&j->fs, "node_meta.json");
        json_error_t jerr;
        j->meta = jsonl_load_file(meta_path, JSON_DISABLE_EOF_CHECK, &jerr);
        f->lines = 1;
        if (!json_is_object(j->meta)) {
            log_warn("%s: not a JSON object (%s); parsing without node metadata", meta_path,
                     jerr.text);
            json_decref(j->meta);
            j->meta = NULL;
            f->unreadable = true;
        } else {
            f->good = 1;
        }
    }
    const json_t *meta = j->meta;
    j->r->has_meta = meta != NULL;
    j->node = o->node_id ? o->node_id
              : meta_str(meta, "node") ? meta_str(meta, "node")
                                       : o->node_default;
    j->stage = o->stage ? o->stage
               : meta_str(meta, "stage") ? meta_str(meta, "stage")
                                         : o->stage_default;
    j->r->node = j->node ? xstrdup(j->node) : NULL;
    j->r->stage = j->stage ? xstrdup(j->stage) : NULL;

    struct cts_opts copts;
    cts_opts_default(&copts);
    if (positive(meta, "clk_tck") > 0)
        copts.clk_tck = positive(meta, "clk_tck");
    /* collector.json: its mode and exit source for the audit, maybe the interval */
    char *path = path_join(j->dir, "collector.json");
    j->collector = jsonl_load_file(path, 0, NULL);
    free(path);
    if (o->interval_ms > 0) {
        j->interval = o->interval_ms;
        j->interval_src = "--interval-ms";
    } else if (meta && interval_of(meta) > 0) {
        j->interval = interval_of(meta);
        j->interval_src = "node_meta.json";
    } else if (j->collector && interval_of(j->collector) > 0) {
        j->interval = interval_of(j->collector);
        j->interval_src = "collector.json";
    }
    if (j->interval > 0)
        copts.gap_ms = 2 * j->interval;
    cts_init(&j->c, &copts);
}

/* A fresh RUN/CTS.tmp.PID next to the final RUN/CTS.  0 or -1 with err. */
static int make_tmp(struct job *j)
{
    fstree_clean_stale(j->dir, "CTS.tmp.");
    fstree_clean_stale(j->dir, "CTS.old.");
    j->tmp = xasprintf("%s/CTS.tmp.%d", j->dir, (int)getpid());
    j->final = path_join(j->dir, "CTS");
    fstree_rm_rf(j->tmp);
    if (mkdir(j->tmp, TK_DIR_MODE) < 0) {
        snprintf(j->err, j->errlen, "cannot create %s: %s", j->tmp, strerror(errno));
        return -1;
    }
    return 0;
}

/* Merge events.*.jsonl into RUN/events.jsonl like the original; without
 * them, read an events.jsonl a previous parse left.  0 or -1 with err. */
static int read_events(struct job *j)
{
    size_t nevfiles = 0;
    char **evfiles = event_files(j->dir, &nevfiles);
    for (size_t i = 0; i < nevfiles; i++)
        read_events_file(j->dir, evfiles[i], &j->ev, &j->fs, j->o->progress);
    for (size_t i = 0; i < nevfiles; i++)
        free(evfiles[i]);
    free(evfiles);
    char *path = path_join(j->dir, "events.jsonl");
    int rc = 0;
    if (nevfiles) {
        cts_events_sort(j->ev.v, j->ev.n);
        for (size_t i = 0; i < j->ev.n; i++)
            cts_event_defaults(j->ev.v[i], j->node, j->stage);
        jb_reset(&j->text);
        for (size_t i = 0; i < j->ev.n; i++) {
            jb_json(&j->text, NULL, j->ev.v[i]);
            jb_newline(&j->text);
        }
        if (write_file_atomic(path, j->text.p, j->text.len) < 0) {
            snprintf(j->err, j->errlen, "cannot write %s: %s", path, strerror(errno));
            rc = -1;
        }
    } else {
        if (file_exists(path))
            read_events_file(j->dir, "events.jsonl", &j->ev, &j->fs, j->o->progress);
        for (size_t i = 0; i < j->ev.n; i++)
            cts_event_defaults(j->ev.v[i], j->node, j->stage);
    }
    free(path);
    j->r->event_files = nevfiles;
    j->r->events = j->ev.n;
    for (size_t i = 0; i < j->fs.n; i++)
        if (str_starts(j->fs.v[i].name, "events."))
            j->r->events_skipped += j->fs.v[i].malformed + j->fs.v[i].torn;
    return rc;
}

/* One execution per task and attempt (docs/formats.md, "Executions"): when
 * Redis loses acknowledged writes an attempt runs twice (same trace id and
 * attempt, two exec_ids).  Kept: the execution the ledger names; without
 * one, the one that ended last.  The others are marked in drop and counted
 * in the audit as "ran twice: Redis lost acknowledged writes"; they stay in
 * events.jsonl.  Returns how many were dropped. */
static size_t pick_executions(struct job *j, bool *drop)
{
    json_t *named = run_ledger_execs(j->dir), *kept = json_object();
    size_t n = 0;
    for (size_t i = 0; i < j->ev.n; i++) {
        const json_t *e = j->ev.v[i];
        const char *t = jsonl_str(e, "trace_id");
        int64_t att = 0;
        if (!t || !jsonl_int(e, "attempt", &att))
            continue;
        char *key = xasprintf("%s/%lld", t, (long long)att);
        json_t *k = json_object_get(kept, key);
        if (!k) {
            json_object_set_new(kept, key, json_integer((json_int_t)i));
            free(key);
            continue;
        }
        size_t prev = (size_t)json_integer_value(k);
        const char *want = named ? jsonl_str(named, t) : NULL;
        const char *xp = jsonl_str(j->ev.v[prev], "exec_id"), *xi = jsonl_str(e, "exec_id");
        int64_t ep = 0, ei = 0;
        jsonl_int(j->ev.v[prev], "ts_end", &ep);
        jsonl_int(e, "ts_end", &ei);
        bool take_i = want ? (xi && !strcmp(xi, want)) && !(xp && !strcmp(xp, want)) : ei >= ep;
        drop[take_i ? prev : i] = true;
        if (take_i)
            json_object_set_new(kept, key, json_integer((json_int_t)i));
        n++;
        free(key);
    }
    json_decref(named);
    json_decref(kept);
    return n;
}

/* What the audit and the energy need from each execution kept
 * (pick_executions): j->invs, and for each event its index there (or
 * SIZE_MAX when dropped) in j->inv_of. */
static void read_invocations(struct job *j)
{
    j->invs = xcalloc(j->ev.n ? j->ev.n : 1, sizeof *j->invs);
    j->inv_of = xcalloc(j->ev.n ? j->ev.n : 1, sizeof *j->inv_of);
    bool *drop = xcalloc(j->ev.n ? j->ev.n : 1, sizeof *drop);
    j->a.ran_twice = pick_executions(j, drop);
    for (size_t i = 0; i < j->ev.n; i++) {
        j->inv_of[i] = drop[i] ? SIZE_MAX : j->ninv;
        if (!drop[i])
            cts_inv_from_event(j->ev.v[i], &j->invs[j->ninv++]);
    }
    free(drop);
}

/* CTS invocations.jsonl, one line per execution kept, with the task's
 * energy when the node's power was measured.  0 or -1 with err. */
static int write_invocations(struct job *j)
{
    struct outfile out;
    if (of_open(&out, j->tmp, "invocations.jsonl") < 0)
        return write_failed(j);
    for (size_t i = 0; i < j->ev.n; i++) {
        if (j->inv_of[i] == SIZE_MAX)
            continue;
        jb_reset(&j->text);
        cts_inv_json(&j->text, j->ev.v[i], energy_task(&j->en, j->inv_of[i]));
        of_line(&out, &j->text);
    }
    return of_close(&out) < 0 ? write_failed(j) : 0;
}

/* The host intervals, for the audit's share of the host's busy CPU that the
 * traced processes explain: read before the records (audit_add_host), from
 * the file copy_host copies. */
static void host_for_audit(struct job *j)
{
    static const char *const names[] = {"host_metrics.jsonl", "resources.jsonl"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char *path = path_join(j->dir, names[i]);
        struct jsonl_reader r;
        int rc = jsonl_reader_open(&r, path);
        free(path);
        if (rc < 0)
            continue;  /* copy_host says why when it is not just absent */
        json_t *obj;
        while (jsonl_next(&r, &obj) == 1) {
            audit_add_host(&j->a, obj);
            json_decref(obj);
        }
        jsonl_reader_close(&r);
        return;
    }
}

/* CTS proc_metrics.jsonl from the raw one (empty without it).  0 or -1 with err. */
static int write_proc(struct job *j)
{
    host_for_audit(j);
    struct outfile out;
    if (of_open(&out, j->tmp, "proc_metrics.jsonl") < 0)
        return write_failed(j);
    char *path = path_join(j->dir, "proc_metrics.jsonl");
    if (file_exists(path)) {
        struct audit_file *f = add_file(&j->fs, "proc_metrics.jsonl");
        struct task_match tm;
        task_match_init(&tm, j->invs, j->ninv, &j->en);
        int rc = derive_proc(path, &out, &j->c, &j->a, f, j->o->progress, &tm);
        free(tm.v);
        if (rc < 0) {
            snprintf(j->err, j->errlen, "cannot read %s: %s", path, open_strerror(errno));
            of_close(&out);
            free(path);
            return -1;
        }
        j->r->raw_lines = f->lines;
        j->r->raw_skipped = f->malformed + f->torn + f->invalid;
    }
    free(path);
    if (of_close(&out) < 0)
        return write_failed(j);
    cts_finish(&j->c);
    j->r->records = j->c.emitted;
    j->r->processes = j->c.nids;
    return 0;
}

/* The node's power sources and energy in its nodes.json entry. */
static void node_energy(const struct job *j, json_t *entry)
{
    const struct energy *e = &j->en;
    if (e->sources)
        json_object_set(entry, "power_sources", e->sources);
    if (!energy_has_power(e))
        return;
    json_object_set_new(entry, "energy_j", json_real(e->energy_j));
    json_object_set_new(entry, "power_mean_w", json_real(e->mean_w));
    json_object_set_new(entry, "power_coverage", json_real(e->window_ms > 0 ? e->covered_ms /
                                                                             e->window_ms : 0));
    if (e->has_idle) {
        json_object_set_new(entry, "idle_power_w", json_real(e->idle_w));
        json_object_set_new(entry, "idle_power_source", json_string(e->idle_source));
        json_object_set_new(entry, "energy_above_idle_j", json_real(e->above_idle_j));
    }
}

/* nodes.json: a one-element array, indent 2, no newline (like the
 * original), with the worker's clock offset when it measured one.
 * 0 or -1 with err. */
static int write_nodes(struct job *j, bool *has_clock, double *clock_off)
{
    json_t *nodes = json_array();
    json_t *entry = cts_node_entry(j->meta, j->node, j->stage);
    if (j->o->node_id)
        json_object_set_new(entry, "node_id", json_string(j->o->node_id));
    if (j->o->stage)
        json_object_set_new(entry, "stage", json_string(j->o->stage));
    double clock_rtt = NAN;
    *clock_off = 0;
    *has_clock = clock_from_worker(j->dir, j->node, clock_off, &clock_rtt);
    if (*has_clock) { /* measured against the run's shared reference: preferred */
        json_object_set_new(entry, "clock_offset_ms", json_real(*clock_off));
        json_object_set_new(entry, "clock_rtt_ms", isnan(clock_rtt) ? json_null()
                                                                     : json_real(clock_rtt));
        json_object_set_new(entry, "clock_ref", json_string("redis"));
    }
    node_energy(j, entry);
    json_array_append_new(nodes, entry);
    jb_reset(&j->text);
    cts_pretty_json(&j->text, nodes);
    json_decref(nodes);
    return write_text(j->tmp, "nodes.json", j->text.p, j->text.len) < 0 ? write_failed(j) : 0;
}

/* The audit, its limits checked: audit_report.md and audit.json.  0 or -1 with err. */
static int write_audit(struct job *j, bool has_clock, double clock_off)
{
    struct audit_context ctx = {
        .run_id = j->run_id,
        .node = j->node,
        .stage = j->stage,
        .interval_ms = j->interval,
        .interval_source = j->interval_src,
    };
    ctx.has_clock_offset = has_clock;
    ctx.clock_offset_ms = clock_off;
    ctx.cpu_cores = positive(j->meta, "cpu_cores");
    ctx.collector_mode = meta_str(j->collector, "mode");
    ctx.exit_source = meta_str(j->collector, "exit_source");
    ctx.energy = &j->en;
    if (!has_clock)
        ctx.has_clock_offset = j->meta && cts_meta_clock_offset(j->meta, &ctx.clock_offset_ms);
    audit_finish(&j->a, &ctx, &j->c, j->invs, j->ninv, j->fs.v, j->fs.n);
    audit_check(&j->a, &j->o->limits);
    jb_reset(&j->text);
    audit_render_md(&j->a, &j->text);
    if (write_text(j->tmp, "audit_report.md", j->text.p, j->text.len) < 0)
        return write_failed(j);
    jb_reset(&j->text);
    audit_render_json(&j->a, &j->text);
    jb_newline(&j->text);
    if (write_text(j->tmp, "audit.json", j->text.p, j->text.len) < 0)
        return write_failed(j);
    return 0;
}

/* Every file of CTS/, then the swap.  0 or -1 with err. */
static int write_cts(struct job *j)
{
    bool has_clock;
    double clock_off;
    if (make_tmp(j) < 0 || read_events(j) < 0)
        return -1;
    read_invocations(j);
    energy_init(&j->en, j->meta);
    if (write_proc(j) < 0)
        return -1;
    if (copy_host(j->dir, j->tmp, j->node, &j->fs, j->r, j->o->progress, &j->en) < 0 ||
        infra_to_cts(j->dir, j->tmp, j->node, &j->fs) < 0)
        return write_failed(j);
    energy_finish(&j->en, j->ninv, j->o->idle_share);
    if (write_invocations(j) < 0)
        return -1;
    if (write_nodes(j, &has_clock, &clock_off) < 0 || write_audit(j, has_clock, clock_off) < 0)
        return -1;
    if (fstree_sync_dir(j->tmp) < 0 || fstree_replace(j->tmp, j->final) < 0) {
        snprintf(j->err, j->errlen, "cannot put %s in place of %s: %s", j->tmp, j->final,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* The node's power in one line for parse's summary. */
static void power_line(const struct energy *e, char *buf, size_t len)
{
    *buf = 0;
    if (!energy_has_power(e))
        return;
    int n = snprintf(buf, len, "%.1f J over the run (mean %.1f W, %.0f%% of the time covered)",
                     e->energy_j, e->mean_w, e->window_ms > 0 ? 100 * e->covered_ms / e->window_ms
                                                               : 0);
    if (e->has_idle && n > 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, ", idle %.1f W (%s)", e->idle_w, e->idle_source);
    if (n > 0 && (size_t)n < len) {
        const struct powerfit_cand *c = e->fitted ? &e->fit.cand[e->fit.best] : NULL;
        if (c)
            snprintf(buf + n, len - (size_t)n, "; OpenDC model %s: idle %.1f W, max %.1f W, "
                     "RMSE %.2f W", powerfit_name(c->model), c->idle_w, c->max_w, c->rmse_w);
        else
            snprintf(buf + n, len - (size_t)n, "; no OpenDC model: %s", e->fit.notice);
    }
}

/* What the audit found, into the result (the violations move there). */
static void take_results(struct job *j)
{
    struct parse_result *r = j->r;
    struct audit *a = &j->a;
    r->cts_dir = xstrdup(j->final);
    r->tasks = j->ninv;
    r->unsampled = a->unsampled;
    r->failed = a->failed;
    r->interval_ms = a->interval_used;
    r->interval_source = a->interval_used > 0 ? a->interval_used_source : NULL;
    r->jitter_p99 = a->jitter_n ? a->jitter_p99 : NAN;
    r->explained_pct = a->explained_pct;
    r->host_warning = a->host_warning;
    r->violations = a->violations;
    r->nviolations = a->nviolations;
    power_line(&j->en, r->power, sizeof r->power);
    a->violations = NULL;
    a->nviolations = 0;
}

static void job_free(struct job *j)
{
    audit_free(&j->a);
    energy_free(&j->en);
    cts_free(&j->c);
    for (size_t i = 0; i < j->ninv; i++)
        cts_inv_free(&j->invs[i]);
    free(j->invs);
    free(j->inv_of);
    for (size_t i = 0; i < j->ev.n; i++)
        json_decref(j->ev.v[i]);
    free(j->ev.v);
    free_files(&j->fs);
    json_decref(j->meta);
    json_decref(j->collector);
    jb_free(&j->text);
    free(j->tmp);
    free(j->final);
    free(j->run_id);
}

int parse_run(const struct parse_opts *o, struct parse_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->jitter_p99 = r->explained_pct = NAN;
    int64_t t0 = now_mono_ns();
    if (!is_dir(o->run_dir)) {
        snprintf(err, errlen, "no run folder '%s'", o->run_dir);
        return -1;
    }
    char *meta_path = path_join(o->run_dir, "node_meta.json");
    bool meta_exists = file_exists(meta_path);
    if (check_input(o->run_dir, meta_exists, err, errlen) < 0) {
        free(meta_path);
        return -1;
    }
    struct job j = {.o = o, .r = r, .dir = o->run_dir, .err = err, .errlen = errlen};
    j.run_id = o->run_id ? xstrdup(o->run_id) : dir_base(o->run_dir);
    jb_init(&j.text);
    read_meta(&j, meta_path, meta_exists);
    free(meta_path);
    audit_init(&j.a);
    int rc = write_cts(&j);
    if (rc == 0)
        take_results(&j);
    else if (j.tmp)
        fstree_rm_rf(j.tmp);
    r->seconds = (double)(now_mono_ns() - t0) / 1e9;
    job_free(&j);
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
