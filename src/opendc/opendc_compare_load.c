/* opendc_compare_load.c -- the two sides of tracekit compare read from their
 * files: OpenDC's output folder (task.parquet, host.parquet,
 * powerSource.parquet) and the measured run (see opendc_compare.h).
 *
 * OpenDC's time bases (opendc-compute-simulator): TaskTableReaderImpl.kt
 * record() sets timestamp = the simulated clock (ms from 0, the earliest
 * submission: ScenarioReplayer.kt) and timestamp_absolute = timestamp +
 * startTime (that submission's epoch ms); submission_time is
 * ServiceTask.java's submittedAt, the workload's own submission_time (epoch
 * ms, ComputeWorkloadLoader.kt), while schedule_time and finish_time are
 * scheduledAt/finishedAt, read from the service's simulated clock
 * (ServiceTask.java: this.service.getClock().millis()).  So the origin is
 * timestamp_absolute - timestamp, submission_time is converted to simulated
 * ms by subtracting it, and schedule_time - submission_time is never taken.
 * Host and power-source rows hold what happened since the previous row
 * (HostTableReaderImpl.kt, PowerSourceTableReaderImpl.kt: value - previous):
 * their cpu_time_* and energy_usage are summed. */
#include "opendc/opendc_compare.h"
#include "opendc/replay_compare.h"
#include "common/jsonl.h"
#include "common/pairmap.h"
#include "common/util.h"
#include "parquet/parquet.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- finding the output folder ---- */

struct found {
    char **p;
    size_t n, cap;
};

static bool matches(const char *path, const char *scenario, int64_t seed)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (seed >= 0) {
        char want[32];
        snprintf(want, sizeof want, "seed=%lld", (long long)seed);
        if (strcmp(base, want))
            return false;
    }
    if (scenario) {
        if (base == path)
            return false;
        const char *end = base - 1, *s = end;
        while (s > path && s[-1] != '/')
            s--;
        if ((size_t)(end - s) != strlen(scenario) || strncmp(s, scenario, (size_t)(end - s)))
            return false;
    }
    return true;
}

static void walk(const char *dir, int depth, const char *scenario, int64_t seed, struct found *f)
{
    char *t = path_join(dir, "task.parquet");
    if (file_exists(t) && matches(dir, scenario, seed)) {
        ARRAY_GROW(f->p, f->n + 1, f->cap, 8);
        f->p[f->n++] = xstrdup(dir);
    }
    free(t);
    if (depth == 0)
        return;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *sub = path_join(dir, e->d_name);
        struct stat st;   /* never through a symlink: it could lead outside DIR */
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            walk(sub, depth - 1, scenario, seed, f);
        free(sub);
    }
    if (d)
        closedir(d);
}

char *odc_cmp_find_output(const char *dir, const char *scenario, int64_t seed, char *err, size_t errlen)
{
    char *t = path_join(dir, "task.parquet");
    bool here = file_exists(t);
    free(t);
    if (here)
        return xstrdup(dir);
    struct found f = {0};
    walk(dir, 4, scenario, seed, &f);
    if (f.n == 1) {
        char *p = f.p[0];
        free(f.p);
        return p;
    }
    if (!f.n) {
        errf(err, errlen, "no task.parquet in %s nor below it (raw-output/<scenario>/seed=<s>/)%s", dir,
             scenario || seed >= 0 ? " for that --scenario/--seed" : "");
        return NULL;
    }
    qsort(f.p, f.n, sizeof *f.p, cmp_str);
    size_t at = (size_t)snprintf(err, errlen, "%s holds %zu outputs; choose one with --scenario and --seed "
                                 "(or give its folder):", dir, f.n);
    for (size_t i = 0; i < f.n; i++) {
        /* whole names only, and room left to say how many did not fit */
        if (at < errlen && strlen(f.p[i]) + 40 < errlen - at)
            at += (size_t)snprintf(err + at, errlen - at, " %s", f.p[i]);
        else if (at < errlen)
            at += (size_t)snprintf(err + at, errlen - at, " ... and %zu more", f.n - i), at = errlen;
        free(f.p[i]);
    }
    free(f.p);
    return NULL;
}

char *odc_cmp_find_export(const char *out_dir)
{
    char *p = realpath(out_dir, NULL);
    while (p) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p) {
            free(p);
            return NULL;
        }
        *slash = 0;
        char *t = path_join(p, "tasks.parquet");
        bool here = file_exists(t);
        free(t);
        if (here)
            return p;
    }
    return NULL;
}

/* ---- OpenDC's output ---- */

struct prow {
    int32_t id;
    bool completed, has_sub, has_sched, has_fin;
    int64_t ts, sub, sched, fin;
    size_t row;   /* in the file: the last of equal (id, timestamp) rows is kept */
};

static int cmp_prow(const void *a, const void *b)
{
    const struct prow *x = a, *y = b;
    if (x->id != y->id)
        return (x->id > y->id) - (x->id < y->id);
    if (x->ts != y->ts)
        return (x->ts > y->ts) - (x->ts < y->ts);
    return (x->row > y->row) - (x->row < y->row);
}

static bool is_str(const struct pq_column *c, size_t i, const char *s)
{
    size_t len;
    const uint8_t *b = pq_column_bytes(c, i, &len);
    return (!c->valid || c->valid[i]) && len == strlen(s) && !memcmp(b, s, len);
}

static bool valid_at(const struct pq_column *c, size_t i)
{
    return !c->valid || c->valid[i];
}

enum { PT_ID, PT_TS, PT_TSABS, PT_SUB, PT_SCHED, PT_FIN, PT_STATE, PT_N };

/* Row i's origin (timestamp_absolute - timestamp): every row has OpenDC's
 * one origin, the earliest submission, a time between 1970 and 2200. */
static int origin(const struct pq_column *c, size_t i, size_t row, int64_t *t0, bool *have, char *err,
                  size_t errlen)
{
    int64_t ts = c[PT_TS].v.i64[i], abs = c[PT_TSABS].v.i64[i], o;
    if (ts < 0 || __builtin_sub_overflow(abs, ts, &o) || !jsonl_ts_valid(o))
        return errf(err, errlen, "task.parquet row %zu: timestamp %lld, timestamp_absolute %lld: expected "
                    "timestamp >= 0 (simulated ms) and timestamp_absolute - timestamp an epoch ms between "
                    "1970 and 2200 (the earliest submission)", row, (long long)ts, (long long)abs);
    if (*have && o != *t0)
        return errf(err, errlen, "task.parquet row %zu: timestamp_absolute - timestamp is %lld, row 0's is "
                    "%lld: expected one origin (the earliest submission) in every row", row, (long long)o,
                    (long long)*t0);
    *t0 = o;
    *have = true;
    return 0;
}

static int task_rows(struct pq_reader *r, struct prow **rows, size_t *n, int64_t *t0, char *err, size_t errlen)
{
    static const struct pq_want w[PT_N] = {
        {"task_id", PQ_INT32, true},         {"timestamp", PQ_INT64, true},
        {"timestamp_absolute", PQ_INT64, true}, {"submission_time", PQ_INT64, true},
        {"schedule_time", PQ_INT64, true},   {"finish_time", PQ_INT64, true},
        {"task_state", PQ_BYTE_ARRAY, false},
    };
    size_t cap = 0;
    bool have_t0 = false;
    int rc = 0;
    for (int g = 0; rc == 0 && g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[PT_N];
        if (pq_read_wanted(r, g, w, PT_N, c, err, errlen) < 0)
            return -1;
        for (size_t i = 0; i < c[PT_ID].n && rc == 0; i++) {
            if ((rc = origin(c, i, *n, t0, &have_t0, err, errlen)) < 0)
                break;
            ARRAY_GROW(*rows, *n + 1, cap, 1024);
            struct prow *p = &(*rows)[*n];
            *p = (struct prow){.id = c[PT_ID].v.i32[i], .ts = c[PT_TS].v.i64[i], .row = (*n)++,
                               .has_sub = valid_at(&c[PT_SUB], i), .has_sched = valid_at(&c[PT_SCHED], i),
                               .has_fin = valid_at(&c[PT_FIN], i)};
            p->sub = p->has_sub ? c[PT_SUB].v.i64[i] : 0;   /* epoch ms: converted by the caller */
            p->sched = p->has_sched ? c[PT_SCHED].v.i64[i] : 0;
            p->fin = p->has_fin ? c[PT_FIN].v.i64[i] : 0;
            p->completed = c[PT_STATE].type < 0 ? p->has_fin : is_str(&c[PT_STATE], i, "COMPLETED");
        }
        for (int k = 0; k < PT_N; k++)
            pq_reader_release(r, &c[k]);
    }
    return rc;
}

/* A task's state from its last row: a completed task needs
 * 0 <= submission <= schedule <= finish (ms from the origin), each a time
 * between 1970 and 2200 once the origin is added; else it is dropped. */
static struct odc_cmp_task task_of(const struct prow *p, int64_t t0, size_t *dropped)
{
    struct odc_cmp_task t = {p->id, -1, -1, -1, false};
    int64_t sub = -1;
    bool sub_ok = p->has_sub && jsonl_ts_valid(p->sub) && !__builtin_sub_overflow(p->sub, t0, &sub);
    if (sub_ok)
        t.sub = sub;
    if (!p->completed)
        return t;
    if (!sub_ok || !p->has_sched || !p->has_fin || sub < 0 || p->sched < sub || p->fin < p->sched ||
        !jsonl_ts_valid(t0 + p->fin)) {   /* t0 and fin are at most 2200's epoch ms: no overflow */
        dropped[ODC_DROP_TASK_TIMES]++;
        t.invalid = true;
        return t;
    }
    t.start = p->sched;
    t.end = p->fin;
    return t;
}

static int load_tasks(const char *dir, struct odc_cmp_side *s, int64_t *t0, char *err, size_t errlen)
{
    char *path = path_join(dir, "task.parquet");
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    if (!r) {
        free(path);
        return -1;
    }
    struct prow *rows = NULL;
    size_t n = 0;
    char e2[768];
    int rc = task_rows(r, &rows, &n, t0, e2, sizeof e2);
    pq_reader_close(r);
    if (rc < 0 && !strncmp(e2, "task.parquet", 12))
        errf(err, errlen, "%s%s", path, e2 + 12);   /* the row's sentence, with the file's path */
    else if (rc < 0)
        errf(err, errlen, "%s", e2);
    else if (!n)
        rc = errf(err, errlen, "%s has no rows", path);
    free(path);
    if (rc < 0) {
        free(rows);
        return -1;
    }
    qsort(rows, n, sizeof *rows, cmp_prow);   /* each task's last row is its state at the end */
    s->tasks = xmalloc(n * sizeof *s->tasks);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && rows[i + 1].id == rows[i].id) {
            s->dropped[ODC_DROP_TASK_DUP] += rows[i + 1].ts == rows[i].ts;
            continue;
        }
        s->tasks[s->ntasks++] = task_of(&rows[i], *t0, s->dropped);
    }
    free(rows);
    return 0;
}

/* Something at path, a symlink included (opening it then says what it is). */
static bool present(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

enum { PH_NAME, PH_ACTIVE, PH_IDLE, PH_UTIL, PH_ENERGY, PH_N };

struct hacc {
    double active, idle, util, energy;
    size_t rows, util_rows;
    int64_t next;   /* the next host of the same name hash, -1: none */
};

struct hosts {
    struct odc_cmp_side *s;
    struct hacc *acc;
    size_t cap;
    struct pairmap by_hash;   /* (FNV-1a of the name, its length) -> the first host with them */
};

static uint64_t fnv1a(const uint8_t *b, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* The accumulator of the host named b[0..len), added when new. */
static struct hacc *host_acc(struct hosts *H, const uint8_t *b, size_t len)
{
    struct odc_cmp_side *s = H->s;
    bool added;
    int64_t *first = pairmap_put(&H->by_hash, (int64_t)fnv1a(b, len), (int64_t)len, (int64_t)s->nhosts, &added);
    if (!added) {
        for (int64_t h = *first; h >= 0; h = H->acc[h].next)
            if (!memcmp(s->hosts[h].name, b, len))
                return &H->acc[h];
    }
    size_t h = s->nhosts, cap = H->cap;
    ARRAY_GROW(s->hosts, h + 1, H->cap, 16);
    if (H->cap != cap)
        H->acc = xrealloc(H->acc, H->cap * sizeof *H->acc);
    s->hosts[h].name = xmalloc(len + 1);
    memcpy(s->hosts[h].name, b, len);
    s->hosts[h].name[len] = 0;
    H->acc[h] = (struct hacc){.next = -1};
    if (!added) {   /* a hash collision: chain it after the first */
        int64_t k = *first;
        while (H->acc[k].next >= 0)
            k = H->acc[k].next;
        H->acc[k].next = (int64_t)h;
    }
    s->nhosts++;
    return &H->acc[h];
}

/* Row i of a host.parquet row group into its host; false: a row of
 * negative or non-finite figures (dropped). */
static bool host_row(struct hosts *H, const struct pq_column *c, size_t i)
{
    bool times = c[PH_ACTIVE].type >= 0 && c[PH_IDLE].type >= 0;
    bool util = c[PH_UTIL].type >= 0 && valid_at(&c[PH_UTIL], i);
    bool energy = c[PH_ENERGY].type >= 0 && valid_at(&c[PH_ENERGY], i);
    double a = times ? (double)c[PH_ACTIVE].v.i64[i] : 0, d = times ? (double)c[PH_IDLE].v.i64[i] : 0;
    double u = util ? c[PH_UTIL].v.f32[i] : 0, e = energy ? c[PH_ENERGY].v.f32[i] : 0;
    /* cpu_utilization is usage / capacity: above 1 only by a FLOAT's rounding */
    if (a < 0 || d < 0 || !(u >= 0 && u <= 1 + 1e-6) || !(e >= 0 && isfinite(e)))
        return false;
    size_t len;
    const uint8_t *b = pq_column_bytes(&c[PH_NAME], i, &len);
    struct hacc *x = host_acc(H, b, len);
    x->active += a;
    x->idle += d;
    x->util += u;
    x->util_rows += util;
    x->energy += e;
    x->rows++;
    return true;
}

static int load_hosts(const char *dir, struct odc_cmp_side *s, char *err, size_t errlen)
{
    static const struct pq_want w[PH_N] = {
        {"host_name", PQ_BYTE_ARRAY, true}, {"cpu_time_active", PQ_INT64, false},
        {"cpu_time_idle", PQ_INT64, false}, {"cpu_utilization", PQ_FLOAT, false},
        {"energy_usage", PQ_FLOAT, false},
    };
    char *path = path_join(dir, "host.parquet");
    if (!present(path)) {
        free(path);
        return 0;   /* said as "missing" by the report */
    }
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    free(path);
    if (!r)
        return -1;
    struct hosts H = {.s = s};
    pairmap_init(&H.by_hash);
    bool energy = false, times = false;
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[PH_N];
        if (pq_read_wanted(r, g, w, PH_N, c, err, errlen) < 0) {
            pq_reader_close(r);
            free(H.acc);
            pairmap_free(&H.by_hash);
            return -1;
        }
        energy = c[PH_ENERGY].type >= 0;
        times = c[PH_ACTIVE].type >= 0 && c[PH_IDLE].type >= 0;
        for (size_t i = 0; i < c[PH_NAME].n; i++)
            s->dropped[ODC_DROP_HOST] += !host_row(&H, c, i);
        for (int k = 0; k < PH_N; k++)
            pq_reader_release(r, &c[k]);
    }
    pq_reader_close(r);
    pairmap_free(&H.by_hash);
    double e = 0;
    for (size_t h = 0; h < s->nhosts; h++) {
        const struct hacc *a = &H.acc[h];
        s->hosts[h].util = times && a->active + a->idle > 0 ? a->active / (a->active + a->idle)
                                                            : a->util_rows ? a->util / (double)a->util_rows : NAN;
        e += a->energy;
    }
    free(H.acc);
    if (energy && s->nhosts) {
        s->has_energy = true;
        s->energy_j = e;
        s->energy_from = "host.parquet energy_usage";
    }
    return 0;
}

static int load_power(const char *dir, struct odc_cmp_side *s, char *err, size_t errlen)
{
    static const struct pq_want w[1] = {{"energy_usage", PQ_FLOAT, true}};
    char *path = path_join(dir, "powerSource.parquet");
    if (!present(path)) {
        free(path);
        return 0;
    }
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    free(path);
    if (!r)
        return -1;
    double e = 0;
    size_t good = 0;
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c;
        if (pq_read_wanted(r, g, w, 1, &c, err, errlen) < 0) {
            pq_reader_close(r);
            return -1;
        }
        for (size_t i = 0; i < c.n; i++) {
            double v = valid_at(&c, i) ? c.v.f32[i] : NAN;
            if (v >= 0 && isfinite(v)) {
                e += v;
                good++;
            } else {
                s->dropped[ODC_DROP_POWER]++;
            }
        }
        pq_reader_release(r, &c);
    }
    pq_reader_close(r);
    if (!good)
        return 0;   /* no row to sum: the host's energy, if any, stands */
    s->has_energy = true;   /* the power sources feed the hosts: their energy is the datacenter's */
    s->energy_j = e;
    s->energy_from = "powerSource.parquet energy_usage";
    return 0;
}

int odc_cmp_load_pred(const char *dir, struct odc_cmp_side *s, int64_t *t0, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (load_tasks(dir, s, t0, err, errlen) < 0 || load_hosts(dir, s, err, errlen) < 0 ||
        load_power(dir, s, err, errlen) < 0) {
        odc_cmp_side_free(s);
        return -1;
    }
    return 0;
}

/* ---- the measured run ---- */

/* A node's busy share of [lo, hi] from its host_metrics.jsonl lines
 * (each [ts_ms - dt_ms, ts_ms]; busy = 1 - cpu_idle - cpu_iowait). */
static void node_util(const char *path, int64_t lo, int64_t hi, const char *fallback, struct odc_cmp_side *s,
                      size_t *cap)
{
    struct jsonl_reader rd;
    if (jsonl_reader_open(&rd, path) < 0)
        return;
    json_t *o;
    double busy = 0, cover = 0;
    char *node = NULL;
    while (jsonl_next(&rd, &o) == 1) {
        int64_t ts;
        double dt, idle, iow = 0;
        if (jsonl_ts(o, "ts_ms", &ts, NULL) && jsonl_num(o, "dt_ms", &dt) && jsonl_num(o, "cpu_idle", &idle) &&
            dt > 0) {
            jsonl_num(o, "cpu_iowait", &iow);
            if (!(idle >= 0 && iow >= 0 && idle + iow <= 1 + 1e-9)) {   /* shares of the CPU's time */
                s->dropped[ODC_DROP_HOST_METRICS]++;
                json_decref(o);
                continue;
            }
            double a = (double)ts - dt > (double)lo ? (double)ts - dt : (double)lo;
            double b = (double)ts < (double)hi ? (double)ts : (double)hi;
            if (b > a) {
                busy += (b - a) * fmax(0, 1 - idle - iow);   /* fmax: rounding of the sum */
                cover += b - a;
            }
            if (!node && jsonl_str(o, "node"))
                node = xstrdup(jsonl_str(o, "node"));
        }
        json_decref(o);
    }
    jsonl_reader_close(&rd);
    if (cover <= 0) {
        free(node);
        return;
    }
    ARRAY_GROW(s->hosts, s->nhosts + 1, *cap, 8);
    s->hosts[s->nhosts++] = (struct odc_cmp_host){node ? node : xstrdup(fallback), busy / cover};
}

/* Σ energy_j of CTS/nodes.json; false when a node lacks it. */
static void node_energy(const char *path, struct odc_cmp_side *s, bool *all)
{
    json_t *a = jsonl_load_file(path, 0, NULL);
    size_t i;
    json_t *n;
    if (!json_is_array(a)) {
        *all = false;
        json_decref(a);
        return;
    }
    json_array_foreach(a, i, n) {
        double e;
        if (jsonl_num(n, "energy_j", &e))
            s->energy_j += e;
        else
            *all = false;
    }
    json_decref(a);
}

int odc_cmp_load_meas(const char *run_dir, const char *export_dir, int64_t t0, struct odc_cmp_side *s,
                      char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    struct rp_measured *m;
    size_t n, cap = 0;
    if (rp_measured_load(run_dir, export_dir, &m, &n, err, errlen) < 0)
        return -1;
    s->tasks = xmalloc((n + 1) * sizeof *s->tasks);
    for (size_t i = 0; i < n; i++) {   /* times validated by jsonl_ts: no overflow */
        bool bad = !(m[i].enq <= m[i].start && m[i].start <= m[i].end);
        s->tasks[i] = (struct odc_cmp_task){m[i].id, m[i].enq - t0, m[i].start - t0, m[i].end - t0, bad};
        s->dropped[ODC_DROP_MEAS_TIMES] += bad;
    }
    s->ntasks = n;
    free(m);
    int64_t horizon = 0;
    for (size_t i = 0; i < n; i++)
        horizon = s->tasks[i].end > horizon ? s->tasks[i].end : horizon;
    bool all = true;
    size_t nodes = 0;
    char *cts = path_join(run_dir, "CTS");
    if (is_dir(cts)) {
        char *hm = path_join(cts, "host_metrics.jsonl"), *nj = path_join(cts, "nodes.json");
        node_util(hm, t0, t0 + horizon, "node", s, &cap);
        node_energy(nj, s, &all);
        nodes++;
        free(hm);
        free(nj);
    } else {   /* an experiment folder: its nodes' folders */
        DIR *d = opendir(run_dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char *hm = xasprintf("%s/%s/CTS/host_metrics.jsonl", run_dir, e->d_name);
            char *nj = xasprintf("%s/%s/CTS/nodes.json", run_dir, e->d_name);
            if (e->d_name[0] != '.' && file_exists(nj)) {
                node_util(hm, t0, t0 + horizon, e->d_name, s, &cap);
                node_energy(nj, s, &all);
                nodes++;
            }
            free(hm);
            free(nj);
        }
        if (d)
            closedir(d);
    }
    free(cts);
    s->has_energy = nodes > 0 && all;
    s->energy_from = "CTS/nodes.json energy_j";
    if (!s->has_energy)
        s->energy_j = 0;
    return 0;
}
