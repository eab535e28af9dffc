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
        if (at < errlen)
            at += (size_t)snprintf(err + at, errlen - at, " %s", f.p[i]);
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
    int64_t ts, sub, sched, fin;
    bool completed;
};

static int cmp_prow(const void *a, const void *b)
{
    const struct prow *x = a, *y = b;
    if (x->id != y->id)
        return (x->id > y->id) - (x->id < y->id);
    return (x->ts > y->ts) - (x->ts < y->ts);
}

static bool is_str(const struct pq_column *c, size_t i, const char *s)
{
    size_t len;
    const uint8_t *b = pq_column_bytes(c, i, &len);
    return (!c->valid || c->valid[i]) && len == strlen(s) && !memcmp(b, s, len);
}

enum { PT_ID, PT_TS, PT_TSABS, PT_SUB, PT_SCHED, PT_FIN, PT_STATE, PT_N };

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
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[PT_N];
        if (pq_read_wanted(r, g, w, PT_N, c, err, errlen) < 0)
            return -1;
        for (size_t i = 0; i < c[PT_ID].n; i++) {
            bool has_sub = !c[PT_SUB].valid || c[PT_SUB].valid[i];
            if (!have_t0) {
                *t0 = c[PT_TSABS].v.i64[i] - c[PT_TS].v.i64[i];
                have_t0 = true;
            }
            ARRAY_GROW(*rows, *n + 1, cap, 1024);
            struct prow *p = &(*rows)[(*n)++];
            p->id = c[PT_ID].v.i32[i];
            p->ts = c[PT_TS].v.i64[i];
            p->sub = has_sub ? c[PT_SUB].v.i64[i] - *t0 : -1;   /* epoch ms -> simulated ms */
            p->sched = !c[PT_SCHED].valid || c[PT_SCHED].valid[i] ? c[PT_SCHED].v.i64[i] : -1;
            p->fin = !c[PT_FIN].valid || c[PT_FIN].valid[i] ? c[PT_FIN].v.i64[i] : -1;
            p->completed = c[PT_STATE].type < 0 ? p->fin >= 0 : is_str(&c[PT_STATE], i, "COMPLETED");
        }
        for (int k = 0; k < PT_N; k++)
            pq_reader_release(r, &c[k]);
    }
    return 0;
}

static int load_tasks(const char *dir, struct odc_cmp_side *s, int64_t *t0, char *err, size_t errlen)
{
    char *path = path_join(dir, "task.parquet");
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    free(path);
    if (!r)
        return -1;
    struct prow *rows = NULL;
    size_t n = 0;
    int rc = task_rows(r, &rows, &n, t0, err, errlen);
    pq_reader_close(r);
    if (rc == 0 && !n)
        rc = errf(err, errlen, "%s/task.parquet has no rows", dir);
    if (rc < 0) {
        free(rows);
        return -1;
    }
    qsort(rows, n, sizeof *rows, cmp_prow);   /* each task's last row is its state at the end */
    s->tasks = xmalloc(n * sizeof *s->tasks);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && rows[i + 1].id == rows[i].id)
            continue;
        const struct prow *p = &rows[i];
        s->tasks[s->ntasks++] = (struct odc_cmp_task){p->id, p->sub, p->completed ? p->sched : -1,
                                                      p->completed ? p->fin : -1};
    }
    free(rows);
    return 0;
}

enum { PH_NAME, PH_ACTIVE, PH_IDLE, PH_UTIL, PH_ENERGY, PH_N };

struct hacc {
    double active, idle, util, energy;
    size_t rows;
    bool times;
};

static int load_hosts(const char *dir, struct odc_cmp_side *s, char *err, size_t errlen)
{
    static const struct pq_want w[PH_N] = {
        {"host_name", PQ_BYTE_ARRAY, true}, {"cpu_time_active", PQ_INT64, false},
        {"cpu_time_idle", PQ_INT64, false}, {"cpu_utilization", PQ_FLOAT, false},
        {"energy_usage", PQ_FLOAT, false},
    };
    char *path = path_join(dir, "host.parquet");
    if (!file_exists(path)) {
        free(path);
        return 0;   /* said as "missing" by the report */
    }
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    free(path);
    if (!r)
        return -1;
    struct hacc *acc = NULL;
    size_t cap = 0;
    bool energy = false;
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[PH_N];
        if (pq_read_wanted(r, g, w, PH_N, c, err, errlen) < 0) {
            pq_reader_close(r);
            free(acc);
            return -1;
        }
        energy = c[PH_ENERGY].type >= 0;
        for (size_t i = 0; i < c[PH_NAME].n; i++) {
            size_t len, h = 0;
            const uint8_t *b = pq_column_bytes(&c[PH_NAME], i, &len);
            while (h < s->nhosts && (strlen(s->hosts[h].name) != len || memcmp(s->hosts[h].name, b, len)))
                h++;
            if (h == s->nhosts) {
                ARRAY_GROW(s->hosts, s->nhosts + 1, cap, 16);
                acc = xrealloc(acc, cap * sizeof *acc);
                s->hosts[h].name = xmalloc(len + 1);
                memcpy(s->hosts[h].name, b, len);
                s->hosts[h].name[len] = 0;
                memset(&acc[h], 0, sizeof acc[h]);
                s->nhosts++;
            }
            struct hacc *a = &acc[h];
            a->times = c[PH_ACTIVE].type >= 0 && c[PH_IDLE].type >= 0;
            if (a->times) {
                a->active += (double)c[PH_ACTIVE].v.i64[i];
                a->idle += (double)c[PH_IDLE].v.i64[i];
            }
            a->util += c[PH_UTIL].type >= 0 ? c[PH_UTIL].v.f32[i] : NAN;
            a->energy += energy ? c[PH_ENERGY].v.f32[i] : 0;
            a->rows++;
        }
        for (int k = 0; k < PH_N; k++)
            pq_reader_release(r, &c[k]);
    }
    pq_reader_close(r);
    double e = 0;
    for (size_t h = 0; h < s->nhosts; h++) {
        const struct hacc *a = &acc[h];
        s->hosts[h].util = a->times && a->active + a->idle > 0 ? a->active / (a->active + a->idle)
                                                               : a->rows ? a->util / (double)a->rows : NAN;
        e += a->energy;
    }
    free(acc);
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
    if (!file_exists(path)) {
        free(path);
        return 0;
    }
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    free(path);
    if (!r)
        return -1;
    double e = 0;
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c;
        if (pq_read_wanted(r, g, w, 1, &c, err, errlen) < 0) {
            pq_reader_close(r);
            return -1;
        }
        for (size_t i = 0; i < c.n; i++)
            e += c.v.f32[i];
        pq_reader_release(r, &c);
    }
    pq_reader_close(r);
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
            double a = (double)ts - dt > (double)lo ? (double)ts - dt : (double)lo;
            double b = (double)ts < (double)hi ? (double)ts : (double)hi;
            if (b > a) {
                busy += (b - a) * fmax(0, 1 - idle - iow);
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
    for (size_t i = 0; i < n; i++)
        s->tasks[i] = (struct odc_cmp_task){m[i].id, m[i].enq - t0, m[i].start - t0, m[i].end - t0};
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
