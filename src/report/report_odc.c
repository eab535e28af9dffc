/* report_odc.c -- reading an OpenDC workload for `tracekit report` and
 * drawing it with report.c's pieces (Gantt, binned series, curves). */
#include "report/report_odc.h"

#include "common/util.h"
#include "opendc/opendc_verify.h"
#include "parquet/parquet.h"
#include "report/report.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GROW(arr, n, cap)                                                   \
    do {                                                                    \
        if ((n) == (cap)) {                                                 \
            (cap) = (cap) ? (cap) * 2 : 16;                                 \
            (arr) = xrealloc((arr), (cap) * sizeof *(arr));                 \
        }                                                                   \
    } while (0)

static void lit(struct jbuf *b, const char *s)
{
    jb_append(b, s, strlen(s));
}

void report_odc_init(struct report_odc *o, const char *title)
{
    memset(o, 0, sizeof *o);
    o->title = xstrdup(title ? title : "workload");
    o->width = 1100;
    o->exact_max = 4000;
    o->curves_max = 50;
}

static void free_hosts(struct report_odc *o)
{
    for (size_t i = 0; i < o->nhosts; i++)
        free(o->hosts[i].name);
    free(o->hosts);
    o->hosts = NULL;
    o->nhosts = 0;
}

void report_odc_free(struct report_odc *o)
{
    for (size_t i = 0; i < o->ntasks; i++)
        free(o->tasks[i].name);
    free(o->tasks);
    free(o->frags);
    free(o->frag_id);
    free_hosts(o);
    free(o->topo_note);
    free(o->title);
    memset(o, 0, sizeof *o);
}

void report_odc_add_task(struct report_odc *o, const struct report_odc_task *t)
{
    GROW(o->tasks, o->ntasks, o->captasks);
    struct report_odc_task *d = &o->tasks[o->ntasks++];
    *d = *t;
    d->name = t->name ? xstrdup(t->name) : NULL;
    d->frag0 = d->nfrag = 0;
    d->frag_ms = 0;
}

void report_odc_add_frag(struct report_odc *o, int32_t id, int64_t dur, double mhz)
{
    if (o->nfrags == o->capfrags) {
        o->capfrags = o->capfrags ? o->capfrags * 2 : 64;
        o->frags = xrealloc(o->frags, o->capfrags * sizeof *o->frags);
        o->frag_id = xrealloc(o->frag_id, o->capfrags * sizeof *o->frag_id);
    }
    o->frags[o->nfrags] = (struct report_odc_frag){dur, mhz};
    o->frag_id[o->nfrags++] = id;
}

static int cmp_by_id(const void *a, const void *b, void *ctx)
{
    const struct report_odc_task *t = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (t[i].id != t[j].id)
        return t[i].id < t[j].id ? -1 : 1;
    return (i > j) - (i < j);
}

/* Group the fragments per task (a stable counting sort on the task index),
 * the way OpenDC replays them: a task's fragments in file order. */
void report_odc_finish(struct report_odc *o)
{
    size_t n = o->ntasks;
    size_t *order = xmalloc((n + 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, n, sizeof *order, cmp_by_id, o->tasks);
    o->dup_ids = 0;
    for (size_t i = 1; i < n; i++)
        o->dup_ids += o->tasks[order[i]].id == o->tasks[order[i - 1]].id;

    size_t *owner = xmalloc((o->nfrags + 1) * sizeof *owner);
    size_t *count = xcalloc(n + 1, sizeof *count);
    o->orphan_frags = 0;
    size_t switches = 0;
    for (size_t f = 0; f < o->nfrags; f++) {
        int32_t id = o->frag_id[f];
        if (f && id != o->frag_id[f - 1])
            switches++;
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (o->tasks[order[mid]].id < id)
                lo = mid + 1;
            else
                hi = mid;
        }
        /* a duplicated id: its fragments go to the first task with it */
        owner[f] = lo < n && o->tasks[order[lo]].id == id ? order[lo] : SIZE_MAX;
        if (owner[f] == SIZE_MAX)
            o->orphan_frags++;
        else
            count[owner[f]]++;
    }
    o->interleaved = n && switches + 1 > n;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        o->tasks[i].frag0 = at;
        o->tasks[i].nfrag = 0;
        o->tasks[i].frag_ms = 0;
        at += count[i];
    }
    struct report_odc_frag *g = xmalloc((at + 1) * sizeof *g);
    for (size_t f = 0; f < o->nfrags; f++) {
        if (owner[f] == SIZE_MAX)
            continue;
        struct report_odc_task *t = &o->tasks[owner[f]];
        g[t->frag0 + t->nfrag++] = o->frags[f];
        if (__builtin_add_overflow(t->frag_ms, o->frags[f].dur, &t->frag_ms))   /* absurd: saturate */
            t->frag_ms = o->frags[f].dur > 0 ? INT64_MAX : INT64_MIN;
    }
    o->no_frags = o->sum_mismatch = 0;
    for (size_t i = 0; i < n; i++) {
        if (!o->tasks[i].nfrag)
            o->no_frags++;
        else if (o->tasks[i].frag_ms != o->tasks[i].dur)
            o->sum_mismatch++;
    }
    free(o->frags);
    free(o->frag_id);
    o->frags = g;
    o->nfrags = at;
    o->capfrags = at + 1;
    o->frag_id = NULL;
    free(count);
    free(owner);
    free(order);
}

/* ---- reading ---- */

static int64_t clamp_i64(double x)
{
    if (!(x == x))
        return 0;
    if (x >= 9.2e18)
        return INT64_MAX;
    if (x <= -9.2e18)
        return INT64_MIN;
    return (int64_t)x;
}

/* Value i of a numeric column as a double / int64 (0 for a null): the
 * report takes any numeric type; verify is the one that insists on OpenDC's. */
static double num_f64(const struct pq_column *c, size_t i)
{
    if (c->valid && !c->valid[i])
        return 0;
    switch (c->type) {
    case PQ_INT32: return c->v.i32[i];
    case PQ_INT64: return (double)c->v.i64[i];
    case PQ_FLOAT: return c->v.f32[i];
    case PQ_DOUBLE: return c->v.f64[i];
    case PQ_BOOLEAN: return c->v.b[i];
    default: return 0;
    }
}

static int64_t num_i64(const struct pq_column *c, size_t i)
{
    if (c->valid && !c->valid[i])
        return 0;
    if (c->type == PQ_INT64)
        return c->v.i64[i];
    return clamp_i64(num_f64(c, i));
}

static int32_t to_i32(int64_t v)
{
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

static bool numeric(int type)
{
    return type == PQ_INT32 || type == PQ_INT64 || type == PQ_FLOAT || type == PQ_DOUBLE || type == PQ_BOOLEAN;
}

/* Leaf indexes of the named columns; -1 for an optional one that is absent. */
static int find_cols(struct pq_reader *r, const char *file, const char *const *names, const bool *need, int *leaf,
                     int n, char *err, size_t errlen)
{
    for (int k = 0; k < n; k++) {
        leaf[k] = pq_reader_find(r, names[k]);
        if (leaf[k] >= 0 && strcmp(names[k], "name") &&
            !numeric(pq_reader_leaf(r, leaf[k])->type)) {
            snprintf(err, errlen, "%s: column '%s' is %s, expected a number", file, names[k],
                     pq_type_name(pq_reader_leaf(r, leaf[k])->type));
            return -1;
        }
        if (leaf[k] < 0 && need[k]) {
            snprintf(err, errlen, "%s: no column '%s' (is this an OpenDC workload? 'tracekit verify opendc' "
                     "checks it)", file, names[k]);
            return -1;
        }
        if (leaf[k] >= 0 && pq_reader_leaf(r, leaf[k])->max_rep > 0) {
            snprintf(err, errlen, "%s: column '%s' is repeated, expected a flat column", file, names[k]);
            return -1;
        }
    }
    return 0;
}

static int load_tasks(struct report_odc *o, const char *path, char *err, size_t errlen)
{
    static const char *const names[] = {"id", "submission_time", "duration", "cpu_count", "cpu_capacity",
                                        "mem_capacity", "name"};
    static const bool need[] = {true, true, true, false, false, false, false};
    enum { N = 7 };
    char e[512];
    struct pq_reader *r = pq_reader_open(path, e, sizeof e);
    if (!r) {
        snprintf(err, errlen, "%s", e);
        return -1;
    }
    int leaf[N];
    int rc = find_cols(r, path, names, need, leaf, N, err, errlen);
    for (int g = 0; rc == 0 && g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[N];
        memset(c, 0, sizeof c);
        for (int k = 0; k < N && rc == 0; k++)
            if (leaf[k] >= 0 && pq_read_column(r, g, leaf[k], &c[k], e, sizeof e) < 0) {
                snprintf(err, errlen, "%s", e);   /* names the file already */
                rc = -1;
            }
        for (int k = 1; k < N && rc == 0; k++)
            if (leaf[k] >= 0 && c[k].n != c[0].n) {
                snprintf(err, errlen, "%s: row group %d: column '%s' has %zu values, 'id' %zu", path, g, names[k],
                         c[k].n, c[0].n);
                rc = -1;
            }
        bool has_name = leaf[6] >= 0 && (c[6].type == PQ_BYTE_ARRAY || c[6].type == PQ_FIXED_LEN_BYTE_ARRAY);
        for (size_t i = 0; rc == 0 && i < c[0].n; i++) {
            struct report_odc_task t = {
                .id = to_i32(num_i64(&c[0], i)), .sub = num_i64(&c[1], i), .dur = num_i64(&c[2], i),
                .cpu_count = leaf[3] >= 0 ? to_i32(num_i64(&c[3], i)) : 0,
                .cpu_capacity = leaf[4] >= 0 ? num_f64(&c[4], i) : 0,
                .mem = leaf[5] >= 0 ? num_i64(&c[5], i) : 0,
            };
            char *nm = NULL;
            if (has_name && (!c[6].valid || c[6].valid[i])) {
                size_t len;
                const uint8_t *p = pq_column_bytes(&c[6], i, &len);
                nm = xmalloc(len + 1);
                memcpy(nm, p, len);
                nm[len] = '\0';   /* an embedded NUL ends the name early: fine for a label */
            }
            t.name = nm;
            report_odc_add_task(o, &t);
            free(nm);
        }
        for (int k = 0; k < N; k++)
            if (leaf[k] >= 0)
                pq_reader_release(r, &c[k]);
    }
    pq_reader_close(r);
    return rc;
}

static int load_frags(struct report_odc *o, const char *path, char *err, size_t errlen)
{
    static const char *const names[] = {"id", "duration", "cpu_usage"};
    static const bool need[] = {true, true, true};
    char e[512];
    struct pq_reader *r = pq_reader_open(path, e, sizeof e);
    if (!r) {
        snprintf(err, errlen, "%s", e);
        return -1;
    }
    int leaf[3];
    int rc = find_cols(r, path, names, need, leaf, 3, err, errlen);
    for (int g = 0; rc == 0 && g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[3];
        memset(c, 0, sizeof c);
        for (int k = 0; k < 3 && rc == 0; k++)
            if (pq_read_column(r, g, leaf[k], &c[k], e, sizeof e) < 0) {
                snprintf(err, errlen, "%s", e);   /* names the file already */
                rc = -1;
            }
        for (int k = 1; k < 3 && rc == 0; k++)
            if (c[k].n != c[0].n) {
                snprintf(err, errlen, "%s: row group %d: column '%s' has %zu values, 'id' %zu", path, g, names[k],
                         c[k].n, c[0].n);
                rc = -1;
            }
        for (size_t i = 0; rc == 0 && i < c[0].n; i++)
            report_odc_add_frag(o, to_i32(num_i64(&c[0], i)), num_i64(&c[1], i), num_f64(&c[2], i));
        for (int k = 0; k < 3; k++)
            pq_reader_release(r, &c[k]);
    }
    pq_reader_close(r);
    return rc;
}

static int64_t count_of(const json_t *o)
{
    const json_t *c = json_object_get(o, "count");
    if (!c)
        return 1;
    return json_is_integer(c) && json_integer_value(c) > 0 ? json_integer_value(c) : -1;
}

int report_odc_topology(struct report_odc *o, const char *text, char *err, size_t errlen)
{
    free_hosts(o);
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root) {
        snprintf(err, errlen, "not JSON (%s, line %d)", je.text, je.line);
        return -1;
    }
    const json_t *clusters = json_object_get(root, "clusters");
    int rc = 0;
    if (!json_is_array(clusters) || !json_array_size(clusters)) {
        snprintf(err, errlen, "no \"clusters\" array");
        rc = -1;
    }
    size_t ci, hi;
    const json_t *c, *h;
    json_array_foreach(clusters, ci, c) {
        int64_t cc = count_of(c);
        json_array_foreach(json_object_get(c, "hosts"), hi, h) {
            if (rc)
                break;
            const json_t *cpu = json_object_get(h, "cpu"), *cores = json_object_get(cpu, "coreCount");
            int64_t hc = count_of(h), pk = cpu ? count_of(cpu) : 1;
            double mhz = odc_parse_frequency_mhz(json_string_value(json_object_get(cpu, "coreSpeed")));
            if (json_is_number(json_object_get(cpu, "coreSpeed")))   /* bare: OpenDC reads MHz */
                mhz = json_number_value(json_object_get(cpu, "coreSpeed"));
            const json_t *mem = json_object_get(h, "memory"), *size = json_object_get(mem, "size");
            double mib = json_is_number(size) ? json_number_value(size) : odc_parse_size_mib(json_string_value(size));
            if (cc < 1 || hc < 1 || pk < 1 || !json_is_integer(cores) || json_integer_value(cores) < 1 ||
                json_integer_value(cores) > 1 << 20 || !(mhz > 0) || cc > 1 << 20 || hc > 1 << 20) {
                snprintf(err, errlen, "cluster %zu host %zu: needs positive counts, cpu.coreCount and a "
                         "cpu.coreSpeed such as \"2400 MHz\"", ci, hi);
                rc = -1;
                break;
            }
            o->hosts = xrealloc(o->hosts, (o->nhosts + 1) * sizeof *o->hosts);   /* few entries */
            o->hosts[o->nhosts++] = (struct report_odc_host){
                .name = xstrdup(json_is_string(json_object_get(h, "name")) ?
                                json_string_value(json_object_get(h, "name")) : "host"),
                .count = cc * hc, .cores = json_integer_value(cores) * (pk > 1 << 10 ? 1 << 10 : pk),
                .mhz = mhz, .mib = mib > 0 ? mib : NAN};
        }
    }
    json_decref(root);
    if (rc || !o->nhosts) {
        if (!rc)
            snprintf(err, errlen, "no hosts");
        free_hosts(o);
        return -1;
    }
    return 0;
}

int report_odc_load(struct report_odc *o, const char *dir, char *err, size_t errlen)
{
    char *tp = path_join(dir, "tasks.parquet"), *fp = path_join(dir, "fragments.parquet");
    char *topo = path_join(dir, "topology.json");
    int rc = load_tasks(o, tp, err, errlen);
    if (rc == 0)
        rc = load_frags(o, fp, err, errlen);
    if (rc == 0) {
        report_odc_finish(o);
        size_t len;
        char *text = read_file(topo, &len);
        char e[300];
        if (!text) {
            o->topo_note = xstrdup("no topology.json: capacity unknown");
        } else if (report_odc_topology(o, text, e, sizeof e) < 0) {
            size_t n = strlen(e) + 64;
            o->topo_note = xmalloc(n);
            snprintf(o->topo_note, n, "topology.json not usable: %s", e);
        }
        free(text);
    }
    free(tp);
    free(fp);
    free(topo);
    return rc;
}

/* ---- figures ---- */

bool report_odc_span(const struct report_odc *o, int64_t *t0, int64_t *t1)
{
    if (!o->ntasks)
        return false;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < o->ntasks; i++) {
        const struct report_odc_task *t = &o->tasks[i];
        double e = (double)t->sub + (double)(t->frag_ms > t->dur ? t->frag_ms : t->dur);
        if ((double)t->sub < lo)
            lo = (double)t->sub;
        if (e > hi)
            hi = e;
    }
    *t0 = clamp_i64(lo);
    *t1 = clamp_i64(hi) > *t0 ? clamp_i64(hi) : *t0 + 1;
    return true;
}

int64_t report_odc_cores(const struct report_odc *o)
{
    int64_t n = 0;
    for (size_t i = 0; i < o->nhosts; i++)
        n += o->hosts[i].count * o->hosts[i].cores;
    return n;
}

struct resv_ev {
    int64_t t, d;   /* time, change in cores reserved */
};

static int cmp_resv(const void *a, const void *b)
{
    const struct resv_ev *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->d > y->d) - (x->d < y->d);   /* ends before starts at one instant */
}

void report_odc_reserved(const struct report_odc *o, int64_t *peak, double *over_ms)
{
    struct resv_ev *ev = xmalloc((2 * o->ntasks + 1) * sizeof *ev);
    size_t n = 0;
    for (size_t i = 0; i < o->ntasks; i++) {
        const struct report_odc_task *t = &o->tasks[i];
        if (t->dur <= 0 || t->cpu_count <= 0)
            continue;
        ev[n++] = (struct resv_ev){t->sub, t->cpu_count};
        ev[n++] = (struct resv_ev){t->sub + t->dur, -(int64_t)t->cpu_count};
    }
    qsort(ev, n, sizeof *ev, cmp_resv);
    int64_t cores = report_odc_cores(o), now = 0;
    *peak = 0;
    *over_ms = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && cores > 0 && now > cores)
            *over_ms += (double)ev[i].t - (double)ev[i - 1].t;
        now += ev[i].d;
        if (now > *peak)
            *peak = now;
    }
    free(ev);
}

double report_odc_capacity_mhz(const struct report_odc *o)
{
    double s = 0;
    for (size_t i = 0; i < o->nhosts; i++)
        s += (double)o->hosts[i].count * (double)o->hosts[i].cores * o->hosts[i].mhz;
    return s;
}

double report_odc_spread(const struct report_odc_frag *f, size_t n, double start, double t0, double bin_ms, size_t nb,
                  double *acc)
{
    double at = start - t0, added = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)f[i].dur, u = f[i].mhz;
        double a = at, e = at + (d > 0 ? d : 0);
        at = e;
        if (!(u > 0) || !isfinite(u) || e <= a || !(bin_ms > 0))
            continue;
        double ka = a / bin_ms, ke = e / bin_ms;
        if (ke <= 0 || ka >= (double)nb)
            continue;
        if (ka < 0)
            ka = 0;
        if (ke > (double)nb)
            ke = (double)nb;
        for (size_t k = (size_t)ka; k < nb && (double)k < ke; k++) {
            double lo = ka > (double)k ? ka : (double)k, hi = ke < (double)(k + 1) ? ke : (double)(k + 1);
            if (hi > lo) {
                acc[k] += u * (hi - lo) * bin_ms;
                added += u * (hi - lo) * bin_ms;
            }
        }
    }
    return added;
}

size_t report_odc_demand(const struct report_odc *o, int64_t t0, int64_t t1, int width, double **mhz, double *bin_ms)
{
    double span = (double)t1 - (double)t0;
    size_t nb = width > 2 ? (size_t)width / 2 : 1;
    double bin = span > 0 ? span / (double)nb : 1;
    double *v = xcalloc(nb, sizeof *v);
    for (size_t i = 0; i < o->ntasks; i++)
        report_odc_spread(o->frags + o->tasks[i].frag0, o->tasks[i].nfrag, (double)o->tasks[i].sub, (double)t0, bin, nb,
                   v);
    for (size_t k = 0; k < nb; k++)
        v[k] /= bin;
    *mhz = v;
    *bin_ms = bin;
    return nb;
}

/* ---- the page ---- */

static void utc(struct jbuf *b, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char buf[64];
    if (ms < 0 || ms > 253402300799000LL || !gmtime_r(&s, &tm) ||
        !strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm)) {
        jb_printf(b, "%lld ms", (long long)ms);
        return;
    }
    lit(b, buf);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Distinct cpu_count values, ascending (malloc'd). */
static size_t cpu_classes(const struct report_odc *o, int32_t **out)
{
    int32_t *v = xmalloc((o->ntasks + 1) * sizeof *v);
    for (size_t i = 0; i < o->ntasks; i++)
        v[i] = o->tasks[i].cpu_count;
    qsort(v, o->ntasks, sizeof *v, cmp_i32);
    size_t n = 0;
    for (size_t i = 0; i < o->ntasks; i++)
        if (!n || v[i] != v[n - 1])
            v[n++] = v[i];
    *out = v;
    return n;
}

static size_t class_of(const int32_t *cls, size_t n, int32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cls[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static double work_of(const struct report_odc *o, const struct report_odc_task *t)
{
    double w = 0;
    for (size_t j = 0; j < t->nfrag; j++)
        if (o->frags[t->frag0 + j].mhz > 0 && isfinite(o->frags[t->frag0 + j].mhz))
            w += o->frags[t->frag0 + j].mhz * (double)o->frags[t->frag0 + j].dur;
    return w;
}

static void row_kv(struct jbuf *b, const char *k)
{
    lit(b, "<tr><th>");
    lit(b, k);
    lit(b, "</th><td>");
}

/* CPU work (MHz x ms) in a unit that reads: MHz·s, GHz·s or GHz·h, and
 * as time on one core of the topology's speed when it is known. */
static void cpu_work(struct jbuf *b, double mhz_ms, double core_mhz)
{
    double ghz_s = mhz_ms / 1e6;
    if (ghz_s < 1)
        jb_printf(b, "%.3g MHz&middot;s", mhz_ms / 1000);
    else if (ghz_s < 36000)
        jb_printf(b, "%.3g GHz&middot;s", ghz_s);
    else
        jb_printf(b, "%.3g GHz&middot;h", ghz_s / 3600);
    if (core_mhz > 0) {
        lit(b, " = ");
        report_dur(b, mhz_ms / core_mhz);
        lit(b, " of one ");
        report_mhz(b, core_mhz);
        lit(b, " core");
    }
}

/* mem_capacity as OpenDC reads it (the stored value / 1000, in MiB). */
static void odc_mem(struct jbuf *b, double stored)
{
    double mib = stored / 1000;
    if (mib >= 1024)
        jb_printf(b, "%.3g GiB", mib / 1024);
    else
        jb_printf(b, "%.3g MiB", mib);
}

/* The key figures: counts, span, task time, work, demand against capacity,
 * memory. */
static void summary_figures(const struct report_odc *o, const double *dem, size_t nb, struct jbuf *b)
{
    int64_t t0 = 0, t1 = 0;
    bool any = report_odc_span(o, &t0, &t1);
    double total_ms = 0, work = 0;
    int64_t *mem = xmalloc((o->ntasks + 1) * sizeof *mem);
    for (size_t i = 0; i < o->ntasks; i++) {
        total_ms += (double)o->tasks[i].dur;
        work += work_of(o, &o->tasks[i]);
        mem[i] = o->tasks[i].mem;
    }
    qsort(mem, o->ntasks, sizeof *mem, cmp_i64);
    double cap = report_odc_capacity_mhz(o), peak = 0, mean = 0;
    size_t over = 0;
    for (size_t k = 0; k < nb; k++) {
        mean += dem[k];
        if (dem[k] > peak)
            peak = dem[k];
        over += cap > 0 && dem[k] > cap * (1 + 1e-9);
    }
    mean = nb ? mean / (double)nb : 0;

    lit(b, "<table class=\"kv\">");
    row_kv(b, "tasks");
    jb_printf(b, "%zu</td></tr>", o->ntasks);
    row_kv(b, "fragments");
    jb_printf(b, "%zu</td></tr>", o->nfrags);
    if (any) {
        row_kv(b, "first submission");
        utc(b, t0);
        lit(b, "</td></tr>");
        row_kv(b, "span as submitted");
        report_dur(b, (double)t1 - (double)t0);
        lit(b, " (first submission to last submission + duration)</td></tr>");
    }
    row_kv(b, "task time");
    report_dur(b, total_ms);
    lit(b, " (sum of durations)</td></tr>");
    row_kv(b, "CPU work");
    cpu_work(b, work, o->nhosts ? o->hosts[0].mhz : NAN);
    lit(b, " (sum of cpu_usage &times; duration)</td></tr>");
    row_kv(b, "CPU asked for");
    lit(b, "mean ");
    report_mhz(b, mean);
    lit(b, ", peak ");
    report_mhz(b, peak);
    jb_printf(b, " (in %zu bins of ", nb);
    report_dur(b, nb && any ? ((double)t1 - (double)t0) / (double)nb : NAN);
    lit(b, ")</td></tr>");
    row_kv(b, "capacity");
    if (cap > 0) {
        report_mhz(b, cap);
        jb_printf(b, " (%lld cores); asked for more in %zu of %zu bins</td></tr>", (long long)report_odc_cores(o), over, nb);
        int64_t peak_cores;
        double over_ms;
        report_odc_reserved(o, &peak_cores, &over_ms);
        row_kv(b, "cores reserved");
        jb_printf(b, "peak %lld of %lld (the cpu_count of the tasks running as submitted)", (long long)peak_cores,
                  (long long)report_odc_cores(o));
        if (over_ms > 0) {
            lit(b, "; <b>more than the hosts have for ");
            report_dur(b, over_ms);
            lit(b, "</b>: OpenDC places tasks on cpu_count, not MHz, so tasks will queue then "
                   "even where the MHz fit");
        }
        lit(b, "</td></tr>");
    } else {
        report_html_escape(b, o->topo_note ? o->topo_note : "unknown");
        lit(b, "</td></tr>");
    }
    if (o->ntasks) {
        row_kv(b, "mem_capacity");
        lit(b, "min ");
        odc_mem(b, (double)mem[0]);
        lit(b, ", median ");
        odc_mem(b, (double)mem[o->ntasks / 2]);
        lit(b, ", max ");
        odc_mem(b, (double)mem[o->ntasks - 1]);
        jb_printf(b, " as OpenDC reads it (stored: %lld, %lld, %lld; OpenDC divides by 1000, tracekit "
                  "writes MiB &times; 1000 by default)</td></tr>",
                  (long long)mem[0], (long long)mem[o->ntasks / 2], (long long)mem[o->ntasks - 1]);
    }
    lit(b, "</table>");
    free(mem);
}

/* What report_odc_finish found that OpenDC will read differently. */
static void summary_warnings(const struct report_odc *o, struct jbuf *b)
{
    if (!(o->orphan_frags || o->dup_ids || o->no_frags || o->sum_mismatch || o->interleaved))
        return;
    lit(b, "<p class=\"warn\">What OpenDC will do differently from what the files seem to say:");
    if (o->orphan_frags)
        jb_printf(b, " %llu fragment(s) whose id is no task (ignored);", (unsigned long long)o->orphan_frags);
    if (o->dup_ids)
        jb_printf(b, " %llu task(s) repeating an earlier id (their fragments merge; drawn on the first);",
                  (unsigned long long)o->dup_ids);
    if (o->no_frags)
        jb_printf(b, " %llu task(s) without fragments (dropped);", (unsigned long long)o->no_frags);
    if (o->sum_mismatch)
        jb_printf(b, " %llu task(s) whose fragments do not sum to their duration;",
                  (unsigned long long)o->sum_mismatch);
    if (o->interleaved)
        lit(b, " fragments of different tasks interleave (each task's are replayed in file order);");
    lit(b, " <code>tracekit verify opendc</code> says more.</p>");
}

/* One row per cpu_count class: tasks, time, capacity and use. */
static void summary_classes(const struct report_odc *o, const int32_t *cls, size_t ncls, struct jbuf *b)
{
    lit(b, "<table><tr><th>cpu_count</th><th>tasks</th><th>task time</th><th>cpu_capacity mean</th>"
           "<th>CPU used mean</th><th>used / capacity</th><th>mem_capacity mean</th></tr>");
    for (size_t c = 0; c < ncls; c++) {
        size_t n = 0;
        double d = 0, capsum = 0, w = 0, m = 0;
        for (size_t i = 0; i < o->ntasks; i++) {
            const struct report_odc_task *t = &o->tasks[i];
            if (t->cpu_count != cls[c])
                continue;
            n++;
            d += (double)t->dur;
            capsum += t->cpu_capacity;
            w += work_of(o, t);
            m += (double)t->mem;
        }
        double used = d > 0 ? w / d : NAN, capm = n ? capsum / (double)n : NAN;
        jb_printf(b, "<tr><td><span class=\"key\" style=\"background:%s\"></span>%d</td><td>%zu</td><td>",
                  report_colour(c), cls[c], n);
        report_dur(b, d);
        lit(b, "</td><td>");
        report_mhz(b, capm);
        lit(b, "</td><td>");
        if (isnan(used))
            lit(b, "&ndash;");
        else
            report_mhz(b, used);
        lit(b, "</td><td>");
        if (isnan(used) || !(capm > 0))
            lit(b, "&ndash;");
        else
            jb_printf(b, "%.1f%%", 100 * used / capm);
        lit(b, "</td><td>");
        odc_mem(b, n ? m / (double)n : 0);
        lit(b, "</td></tr>");
    }
    lit(b, "</table><p class=\"note\">CPU used mean: the fragments' CPU work over the tasks' time.</p>");
}

/* The topology's hosts. */
static void summary_hosts(const struct report_odc *o, struct jbuf *b)
{
    if (!o->nhosts)
        return;
    lit(b, "<table><tr><th>host</th><th>count</th><th>cores</th><th>core speed</th><th>memory</th></tr>");
    for (size_t i = 0; i < o->nhosts; i++) {
        const struct report_odc_host *h = &o->hosts[i];
        lit(b, "<tr><td>");
        report_html_escape(b, h->name);
        jb_printf(b, "</td><td>%lld</td><td>%lld</td><td>", (long long)h->count, (long long)h->cores);
        report_mhz(b, h->mhz);
        if (isnan(h->mib))
            lit(b, "</td><td>&ndash;</td></tr>");
        else
            jb_printf(b, "</td><td>%.0f MiB</td></tr>", h->mib);
    }
    lit(b, "</table>");
}

static void summary(const struct report_odc *o, const int32_t *cls, size_t ncls, const double *dem, size_t nb,
                    struct jbuf *b)
{
    summary_figures(o, dem, nb, b);
    summary_warnings(o, b);
    summary_classes(o, cls, ncls, b);
    summary_hosts(o, b);
}

/* The tasks as a run report's node, so report.c draws the Gantt. */
static void gantt(const struct report_odc *o, const int32_t *cls, size_t ncls, int64_t t0, int64_t t1, struct jbuf *b)
{
    struct report g;
    report_init(&g, o->title);
    g.width = o->width;
    g.exact_max = o->exact_max;
    char name[64];
    for (size_t c = 0; c < ncls; c++) {
        snprintf(name, sizeof name, "%d core%s", cls[c], cls[c] == 1 ? "" : "s");
        report_app(&g, name);
    }
    report_add_node(&g, "workload", (int)(report_odc_cores(o) < 1 << 20 ? report_odc_cores(o) : 0), NULL);
    for (size_t i = 0; i < o->ntasks; i++) {
        const struct report_odc_task *t = &o->tasks[i];
        char id[32];
        snprintf(id, sizeof id, "task %d", t->id);
        struct rp_task rt = {
            .trace_id = t->name ? t->name : id, .node = 0, .app = class_of(cls, ncls, t->cpu_count),
            .has_start = true, .has_end = true, .start = t->sub,
            .end = clamp_i64((double)t->sub + (double)(t->dur > 0 ? t->dur : 0)),
        };
        report_add_task(&g, &rt);
    }
    report_layout(&g);
    report_legend(&g, b, false);
    report_gantt_svg(&g, 0, t0, t1, b);
    report_free(&g);
}

static double nice_ceil(double v)
{
    if (!(v > 0))
        return 1;
    double p = pow(10, floor(log10(v)));
    double f = v / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
}

static void curves(const struct report_odc *o, struct jbuf *b)
{
    size_t np = 0, with = 0;
    size_t *pick = xmalloc((o->curves_max + 1) * sizeof *pick);
    for (size_t i = 0; i < o->ntasks; i++) {
        if (!o->tasks[i].nfrag)
            continue;
        with++;
        if (np < o->curves_max)
            pick[np++] = i;
    }
    if (!np) {
        lit(b, "<p class=\"note\">No task has fragments: nothing to draw.</p>");
        free(pick);
        return;
    }
    if (with > np)
        jb_printf(b, "<p class=\"note\">The first %zu of %zu tasks with fragments are offered (file order); "
                  "dashed: the task's cpu_capacity.</p>", np, with);
    else
        jb_printf(b, "<p class=\"note\">%zu task(s) with fragments; dashed: the task's cpu_capacity.</p>", np);
    lit(b, "<label>Task <select id=\"osel\">");
    for (size_t k = 0; k < np; k++) {
        const struct report_odc_task *t = &o->tasks[pick[k]];
        jb_printf(b, "<option value=\"%zu\">id %d", k, t->id);
        if (t->name) {
            lit(b, " &middot; ");
            report_html_escape(b, t->name);
        }
        jb_printf(b, " &middot; %d core%s &middot; %zu fragment%s</option>", t->cpu_count,
                  t->cpu_count == 1 ? "" : "s", t->nfrag, t->nfrag == 1 ? "" : "s");
    }
    lit(b, "</select></label>");
    report_curve_svg_open(b, o->width);
    size_t maxsteps = (size_t)(o->width > 2 ? o->width / 2 : 1);
    struct rp_step *st = xmalloc((maxsteps + 1) * sizeof *st);
    double *acc = xmalloc((maxsteps + 1) * sizeof *acc);
    for (size_t k = 0; k < np; k++) {
        const struct report_odc_task *t = &o->tasks[pick[k]];
        const struct report_odc_frag *f = o->frags + t->frag0;
        double a = (double)t->sub, len = (double)(t->frag_ms > t->dur ? t->frag_ms : t->dur);
        size_t ns = 0;
        double peak = 0;
        if (t->nfrag <= maxsteps) {
            double at = a;
            for (size_t j = 0; j < t->nfrag; j++) {
                double d = f[j].dur > 0 ? (double)f[j].dur : 0;
                st[ns++] = (struct rp_step){at, at + d, f[j].mhz};
                at += d;
                if (f[j].mhz > peak)
                    peak = f[j].mhz;
            }
        } else {
            /* too many fragments for the pixels: the mean per bin */
            double bin = len > 0 ? len / (double)maxsteps : 1;
            memset(acc, 0, maxsteps * sizeof *acc);
            report_odc_spread(f, t->nfrag, a, a, bin, maxsteps, acc);
            for (size_t j = 0; j < maxsteps; j++) {
                st[ns++] = (struct rp_step){a + (double)j * bin, a + (double)(j + 1) * bin, acc[j] / bin};
                if (acc[j] / bin > peak)
                    peak = acc[j] / bin;
            }
        }
        struct rp_curve c = {.cls = "oc", .k = k, .w0 = a, .w1 = a + (len > 0 ? len : 1), .run0 = a,
                             .run1 = a + (double)t->dur, .unit = RP_MHZ, .limit = t->cpu_capacity};
        c.ymax = nice_ceil((peak > t->cpu_capacity ? peak : t->cpu_capacity) * 1.05);
        report_curve_group(b, o->width, &c, st, ns);
    }
    lit(b, "</svg>");
    free(acc);
    free(st);
    free(pick);
}

void report_odc_section_html(const struct report_odc *o, struct jbuf *b)
{
    lit(b, "<section id=\"opendc\"><h2>OpenDC workload: ");
    report_html_escape(b, o->title);
    lit(b, "</h2><p class=\"note\">What the simulator reads: tasks.parquet, fragments.parquet and "
           "topology.json. Tasks are drawn as submitted: from submission_time for their duration, their "
           "fragments played back to back; OpenDC starts a task when a host has room, so queueing comes "
           "on top.</p>");
    int32_t *cls;
    size_t ncls = cpu_classes(o, &cls);
    int64_t t0 = 0, t1 = 1;
    bool any = report_odc_span(o, &t0, &t1);
    if (any && o->has_axis) {
        t0 = o->axis0;
        t1 = o->axis1;
    }
    double *dem = NULL, bin = 1;
    size_t nb = any ? report_odc_demand(o, t0, t1, o->width, &dem, &bin) : 0;
    summary(o, cls, ncls, dem, nb, b);
    if (any) {
        lit(b, "<h3>Tasks as submitted</h3>");
        jb_printf(b, "<p class=\"note\">Greedy lanes in submission order, coloured by cpu_count; more than %zu "
                  "tasks are drawn per pixel column.</p>", o->exact_max);
        gantt(o, cls, ncls, t0, t1, b);
        lit(b, "<h3>CPU asked for</h3><p class=\"note\"><span class=\"key\" style=\"background:#f28e2b;"
               "opacity:.45\"></span>sum of the fragments' cpu_usage, every task played from its submission "
               "(mean per bin)");
        if (report_odc_capacity_mhz(o) > 0)
            lit(b, " <span class=\"key\" style=\"background:#d00\"></span>the topology's capacity (cores "
                   "&times; core speed)");
        lit(b, "</p>");
        struct rp_series s = {.cls = "demand", .title = "CPU asked for (MHz)", .t0 = (double)t0, .t1 = (double)t1,
                              .bin_ms = bin, .v = dem, .nb = nb, .unit = RP_MHZ,
                              .limit = report_odc_capacity_mhz(o) > 0 ? report_odc_capacity_mhz(o) : NAN};
        report_series_svg(b, o->width, &s);
    }
    lit(b, "<h3>Task CPU usage (fragments)</h3>");
    curves(o, b);
    lit(b, "</section>");
    free(dem);
    free(cls);
}
