/* opendc_verify.c -- check an exported OpenDC workload. */
#include "opendc/opendc_verify.h"
#include "collect/links.h"
#include "common/jsonl.h"
#include "common/util.h"
#include "parquet/parquet.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct vctx {
    FILE *out;
    int failed, passed, warned;
};

static void say(struct vctx *v, const char *tag, const char *check, const char *fmt, va_list ap)
{
    fprintf(v->out, "%-4s %s: ", tag, check);
    vfprintf(v->out, fmt, ap);
    fputc('\n', v->out);
}

static void pass(struct vctx *v, const char *check, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pass(struct vctx *v, const char *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(v, "pass", check, fmt, ap);
    va_end(ap);
    v->passed++;
}

/* OpenDC rejects the file, or silently drops or terminates tasks. */
static void fail(struct vctx *v, const char *check, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct vctx *v, const char *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(v, "FAIL", check, fmt, ap);
    va_end(ap);
    v->failed++;
}

/* OpenDC accepts it, but not the way a user may expect: the reason follows. */
static void warn(struct vctx *v, const char *check, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn(struct vctx *v, const char *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(v, "WARN", check, fmt, ap);
    va_end(ap);
    v->warned++;
}

static void info(struct vctx *v, const char *check, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void info(struct vctx *v, const char *check, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(v, "note", check, fmt, ap);
    va_end(ap);
}

/* Count items failing a condition and show the first. */
struct tally {
    size_t n;
    char first[200];
};

static void tally(struct tally *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tally(struct tally *c, const char *fmt, ...)
{
    if (c->n++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->first, sizeof c->first, fmt, ap);
        va_end(ap);
    }
}

/* ---- units (OpenDC's UnitSerializer: a number, optional space, a unit) ---- */

static double parse_unit(const char *s, const char *const *units, const double *scale, size_t n)
{
    if (!s)
        return -1;
    char *end;
    double x = strtod(s, &end);
    if (end == s || !isfinite(x) || x < 0)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(end, units[i]))
            return x * scale[i];
    return -1;
}

double odc_parse_frequency_mhz(const char *s)
{
    static const char *const u[] = {"Hz", "kHz", "MHz", "GHz", "Hertz", "kHertz", "MHertz", "GHertz"};
    static const double k[] = {1e-6, 1e-3, 1, 1e3, 1e-6, 1e-3, 1, 1e3};
    double x = parse_unit(s, u, k, ARRAY_LEN(u));
    return x > 0 ? x : -1;
}

double odc_parse_size_mib(const char *s)
{
    static const char *const u[] = {"B", "KiB", "KB", "MiB", "MB", "GiB", "GB", "TiB", "TB"};
    static const double k[] = {1.0 / 1048576, 1.0 / 1024, 1000.0 / 1048576, 1, 1e6 / 1048576, 1024,
                               1e9 / 1048576, 1048576, 1e12 / 1048576};
    if (!s)
        return -1;
    char *end;
    double x = strtod(s, &end);
    if (end == s || !isfinite(x) || x <= 0)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < ARRAY_LEN(u); i++)   /* OpenDC's byte units are case-sensitive */
        if (!strcmp(end, u[i]))
            return x * k[i];
    return -1;
}

double odc_parse_power_w(const char *s)
{
    static const char *const u[] = {"W", "Watts", "kW", "KWatts", "kWatts"};
    static const double k[] = {1, 1, 1e3, 1e3, 1e3};
    return parse_unit(s, u, k, ARRAY_LEN(u));
}

/* A unit value the way OpenDC's UnitSerializer reads it: a JSON number, or
 * a string that is a number, is taken in the default unit (MHz, MiB, W)
 * with a warning; else a number with a unit.  *bare says which; -1 when it
 * does not parse (OpenDC refuses the file). */
double odc_unit_value(const json_t *j, double (*parse)(const char *), bool *bare)
{
    bool b;
    if (!bare)
        bare = &b;
    *bare = false;
    if (json_is_number(j)) {
        *bare = true;
        return json_number_value(j);
    }
    const char *s = json_string_value(j);
    if (!s)
        return -1;
    char *end;
    double x = strtod(s, &end);
    if (end != s && !*end && isfinite(x)) {
        *bare = true;
        return x;
    }
    return parse(s);
}

/* ---- topology ---- */

struct topo {
    bool ok;          /* read: tasks can be checked against it */
    bool missing;     /* no topology file */
    double max_mhz;
    int64_t max_cores;
    double max_mib;
    int64_t hosts;
};

/* A count (OpenDC: a Kotlin Int, default 1); -1 when it is not one. */
static int64_t count_of(json_t *o)
{
    json_t *c = json_object_get(o, "count");
    if (!c)
        return 1;
    return json_is_integer(c) && json_integer_value(c) <= INT32_MAX ? json_integer_value(c) : -1;
}

/* What OpenDC would say of a topology, gathered over all hosts. */
struct topo_tallies {
    struct tally legacy, bare, no_power, bad_power;
};

/* The host's cpuPowerModel (SDK: type; legacy: modelType). */
static void check_power(struct vctx *v, const char *label, json_t *h, struct topo_tallies *tt)
{
    static const char *const types[] = {"constant", "linear", "square", "cubic", "sqrt", "mse", "asymptotic"};
    json_t *pm = json_object_get(h, "cpuPowerModel");
    if (!pm) {
        tally(&tt->no_power, "%s", label);
        return;
    }
    const char *type = json_string_value(json_object_get(pm, "type"));
    if (!type && (type = json_string_value(json_object_get(pm, "modelType"))))
        tally(&tt->legacy, "%s: cpuPowerModel.modelType", label);
    bool known = !type;   /* absent: linear */
    for (size_t i = 0; type && i < ARRAY_LEN(types); i++)
        known |= !strcmp(type, types[i]);
    bool bi, bm;
    json_t *ji = json_object_get(pm, "idlePower"), *jm = json_object_get(pm, "maxPower");
    double idle = odc_unit_value(ji, odc_parse_power_w, &bi), max = odc_unit_value(jm, odc_parse_power_w, &bm);
    if (!known)
        fail(v, "topology", "%s: cpuPowerModel type '%s' is not one of OpenDC's (constant, linear, square, "
             "cubic, sqrt, mse, asymptotic)", label, type);
    else if (idle < 0 || max < 0)
        fail(v, "topology", "%s: cpuPowerModel needs idlePower and maxPower in W (OpenDC refuses it)", label);
    else if (max < idle)
        fail(v, "topology", "%s: cpuPowerModel maxPower %.1f W is below idlePower %.1f W (OpenDC refuses it)",
             label, max, idle);
    else if (bi || bm)
        tally(&tt->bare, "%s: cpuPowerModel power %s", label, bi ? "idlePower" : "maxPower");
}

/* One host entry: its cores, MHz and MiB into t. */
static void check_host(struct vctx *v, json_t *h, const char *label, int64_t ccount, struct topo *t,
                       struct topo_tallies *tt)
{
    int64_t hcount = count_of(h);
    json_t *cpu = json_object_get(h, "cpu"), *mem = json_object_get(h, "memory");
    json_t *cores = json_object_get(cpu, "coreCount"), *speed = json_object_get(cpu, "coreSpeed");
    int64_t packages = cpu ? count_of(cpu) : 1;
    if (hcount < 1)
        fail(v, "topology", "%s: count must be a positive integer", label);
    if (!json_is_integer(cores) || json_integer_value(cores) < 1 || json_integer_value(cores) > INT32_MAX ||
        packages < 1) {
        fail(v, "topology", "%s: cpu.coreCount must be a positive integer", label);
        return;
    }
    bool bare;
    double mhz = odc_unit_value(speed, odc_parse_frequency_mhz, &bare);
    if (mhz <= 0)
        fail(v, "topology", "%s: cpu.coreSpeed %s is not a frequency (Hz, kHz, MHz, GHz)", label,
             json_is_string(speed) ? json_string_value(speed) : "(missing)");
    else if (bare)
        tally(&tt->bare, "%s: cpu.coreSpeed %g read as MHz", label, mhz);
    json_t *size = json_object_get(mem, "size");
    const char *key = "size";
    if (!size && (size = json_object_get(mem, "memorySize"))) {
        key = "memorySize";
        tally(&tt->legacy, "%s: memory.memorySize", label);
    }
    double mib = odc_unit_value(size, odc_parse_size_mib, &bare);
    if (mib <= 0)
        fail(v, "topology", "%s: memory.%s %s is not a size (B, KiB, KB, MiB, MB, GiB, GB, ...)", label, key,
             json_is_string(size) ? json_string_value(size) : "(missing)");
    else if (bare)
        tally(&tt->bare, "%s: memory.%s %g read as MiB", label, key, mib);
    static const char *const legacy_keys[] = {"cpuDistributionPolicy", "gpuDistributionPolicy"};
    for (size_t i = 0; i < ARRAY_LEN(legacy_keys); i++)
        if (json_object_get(h, legacy_keys[i]))
            tally(&tt->legacy, "%s: %s", label, legacy_keys[i]);
    if (json_object_get(cpu, "arch"))
        tally(&tt->legacy, "%s: cpu.arch", label);
    check_power(v, label, h, tt);
    int64_t n = json_integer_value(cores) * packages;
    t->max_cores = n > t->max_cores ? n : t->max_cores;
    t->max_mhz = mhz > t->max_mhz ? mhz : t->max_mhz;
    t->max_mib = mib > t->max_mib ? mib : t->max_mib;
    if (hcount > 0 && ccount > 0)   /* each below 2^31: the product fits, the sum saturates */
        t->hosts = t->hosts > INT64_MAX - hcount * ccount ? INT64_MAX : t->hosts + hcount * ccount;
}

static void topology_warnings(struct vctx *v, const struct topo_tallies *tt)
{
    if (tt->legacy.n)
        warn(v, "topology", "%zu legacy key(s) (first: %s): OpenDC reads this topology only with `opendc "
             "--legacy`, which renames them (memorySize -> size, modelType -> type, ...); checked as it "
             "reads them", tt->legacy.n, tt->legacy.first);
    if (tt->bare.n)
        warn(v, "topology", "%zu bare number(s) (first: %s): OpenDC takes a number without a unit as MHz, "
             "MiB or W and warns; write the unit", tt->bare.n, tt->bare.first);
    if (tt->no_power.n)
        warn(v, "topology", "%zu host(s) without cpuPowerModel (first: %s): OpenDC assumes linear, 200 W "
             "idle, 400 W at full load; its energy figures are assumptions", tt->no_power.n,
             tt->no_power.first);
}

static struct topo check_topology(struct vctx *v, const char *path, bool given)
{
    struct topo t = {0};
    const char *chk = "topology";
    if (!given && !file_exists(path)) {
        t.missing = true;
        warn(v, chk, "no %s: the workload is checked alone (OpenDC needs a topology in the experiment; "
             "fits against hosts are not checked)", path);
        return t;
    }
    json_error_t e;
    json_t *root = jsonl_load_file(path, 0, &e);
    if (!root) {
        fail(v, chk, "cannot read %s: %s (line %d)", path, e.text, e.line);
        return t;
    }
    int bad = v->failed;
    json_t *clusters = json_object_get(root, "clusters");
    if (!json_is_array(clusters) || json_array_size(clusters) == 0) {
        fail(v, chk, "%s: no \"clusters\" array", path);
        json_decref(root);
        return t;
    }
    struct topo_tallies tt = {0};
    size_t ci, hi;
    json_t *c, *h;
    json_array_foreach(clusters, ci, c) {
        json_t *hosts = json_object_get(c, "hosts");
        int64_t ccount = count_of(c);
        if (ccount < 1)
            fail(v, chk, "cluster %zu: count must be a positive integer", ci);
        if (!json_is_array(hosts) || json_array_size(hosts) == 0) {
            fail(v, chk, "cluster %zu: no hosts", ci);
            continue;
        }
        json_array_foreach(hosts, hi, h) {
            const char *name = json_string_value(json_object_get(h, "name"));
            char label[128];
            snprintf(label, sizeof label, "cluster %zu host %s", ci, name ? name : "?");
            check_host(v, h, label, ccount, &t, &tt);
        }
    }
    json_decref(root);
    topology_warnings(v, &tt);
    t.ok = v->failed == bad && t.hosts > 0;
    if (t.ok)
        pass(v, chk, "%" PRId64 " hosts; largest: %" PRId64 " cores, %.0f MHz per core, %.0f MiB", t.hosts,
             t.max_cores, t.max_mhz, t.max_mib);
    return t;
}

/* ---- schema ---- */

enum { LR_ANY, LR_TS_MILLIS, LR_STRING };

struct want {
    const char *name;
    int type;
    bool required;   /* OpenDC declares it REQUIRED */
    bool base;       /* our export must have it */
    int logical;
};

static const struct want task_cols[] = {
    {"id", PQ_INT32, true, true, LR_ANY},
    {"submission_time", PQ_INT64, true, true, LR_TS_MILLIS},
    {"duration", PQ_INT64, true, true, LR_ANY},
    {"cpu_count", PQ_INT32, true, true, LR_ANY},
    {"cpu_capacity", PQ_DOUBLE, true, true, LR_ANY},
    {"mem_capacity", PQ_INT64, true, true, LR_ANY},
    {"name", PQ_BYTE_ARRAY, false, false, LR_STRING},
    {"gpu_count", PQ_INT32, false, false, LR_ANY},
    {"gpu_capacity", PQ_DOUBLE, false, false, LR_ANY},
    {"deferrable", PQ_BOOLEAN, false, false, LR_ANY},
    {"deadline", PQ_INT64, false, false, LR_ANY},
    {"parents.list.element", PQ_INT32, false, false, LR_ANY},
    {"children.list.element", PQ_INT32, false, false, LR_ANY},
};

static const struct want frag_cols[] = {
    {"id", PQ_INT32, true, true, LR_ANY},
    {"duration", PQ_INT64, true, true, LR_ANY},
    {"cpu_usage", PQ_DOUBLE, true, true, LR_ANY},
    {"gpu_usage", PQ_DOUBLE, false, false, LR_ANY},
};

static bool check_schema(struct vctx *v, struct pq_reader *r, const char *file, const struct want *w, size_t n)
{
    char chk[64];
    snprintf(chk, sizeof chk, "schema %s", file);
    int bad = v->failed;
    for (size_t i = 0; i < n; i++) {
        int k = pq_reader_find(r, w[i].name);
        if (k < 0) {
            for (int j = 0; j < pq_reader_nleaves(r); j++)
                if (!strcasecmp(pq_reader_leaf(r, j)->name, w[i].name))
                    fail(v, chk, "column '%s' is not '%s': OpenDC matches names exactly",
                         pq_reader_leaf(r, j)->name, w[i].name);
            if (w[i].base)
                fail(v, chk, "no column '%s' (%s %s)", w[i].name, pq_type_name(w[i].type),
                     w[i].required ? "REQUIRED" : "OPTIONAL");
            continue;
        }
        const struct pq_leaf *l = pq_reader_leaf(r, k);
        char lt[64];
        pq_logical_str(&l->logical, lt, sizeof lt);
        if (l->type != w[i].type)
            fail(v, chk, "'%s' is %s; OpenDC reads it as %s with strict typing, the read fails", w[i].name,
                 pq_type_name(l->type), pq_type_name(w[i].type));
        if (w[i].required && l->repetition != PQ_REQUIRED)
            fail(v, chk, "'%s' is %s; OpenDC declares it REQUIRED and rejects a nullable column", w[i].name,
                 pq_repetition_name(l->repetition));
        if (w[i].logical == LR_TS_MILLIS && l->logical.kind &&
            !(l->logical.kind == PQ_LT_TIMESTAMP && l->logical.unit == PQ_UNIT_MILLIS))
            fail(v, chk, "'%s' is %s; OpenDC reads the value as epoch milliseconds", w[i].name, lt);
        if (w[i].logical == LR_STRING && l->logical.kind && l->logical.kind != PQ_LT_STRING)
            fail(v, chk, "'%s' is %s, expected STRING", w[i].name, lt);
    }
    for (int j = 0; j < pq_reader_nleaves(r); j++) {
        const char *name = pq_reader_leaf(r, j)->name;
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = !strcmp(name, w[i].name);
        if (!known) {
            if (!strncmp(name, "parents.", 8) || !strncmp(name, "children.", 9))
                fail(v, chk, "'%s': OpenDC reads only the 3-level list <name>.list.element (INT32); this "
                     "one would be read as empty", name);
            else
                info(v, chk, "column '%s' is not read by OpenDC", name);
        }
    }
    if (v->failed != bad)
        return false;
    pass(v, chk, "%d columns; names, physical types, repetition and logical types as OpenDC reads them",
         pq_reader_nleaves(r));
    return true;
}

/* ---- values ---- */

struct tasks {
    size_t n;
    int32_t *id, *count;
    int64_t *dur, *mem, *sub;
    double *cap;
    int64_t *frag_ms;
    size_t *nfrag;
    double *cpu;           /* per task: sum of cpu_usage x duration of its fragments */
    size_t *order;   /* indices sorted by id */
};

static int cmp_by_id(const void *a, const void *b, void *ctx)
{
    const int32_t *ids = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (ids[i] != ids[j])
        return (ids[i] > ids[j]) - (ids[i] < ids[j]);
    return (i > j) - (i < j);
}

/* First task with this id, or SIZE_MAX. */
static size_t find_task(const struct tasks *t, int32_t id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->id[t->order[mid]] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n && t->id[t->order[lo]] == id ? t->order[lo] : SIZE_MAX;
}

static int read_col(struct pq_reader *r, int g, const char *name, struct pq_column *c, char *err, size_t errlen)
{
    return pq_read_column(r, g, pq_reader_find(r, name), c, err, errlen);
}

static bool load_tasks(struct vctx *v, struct pq_reader *r, struct tasks *t)
{
    size_t n = (size_t)pq_reader_num_rows(r);
    char err[512];
    /* The row count is the file's claim: charge the nine per-task arrays to
     * the reader's budget before allocating them. */
    if (pq_reader_charge(r, ((uint64_t)n + 1) * 9 * sizeof(int64_t), "the tasks' arrays", err,
                         sizeof err) < 0) {
        fail(v, "read tasks.parquet", "tasks.parquet: %lld tasks: %s",
             (long long)pq_reader_num_rows(r), err);
        return false;
    }
    t->n = n;
    t->id = xcalloc(n + 1, sizeof *t->id);
    t->count = xcalloc(n + 1, sizeof *t->count);
    t->dur = xcalloc(n + 1, sizeof *t->dur);
    t->mem = xcalloc(n + 1, sizeof *t->mem);
    t->sub = xcalloc(n + 1, sizeof *t->sub);
    t->cap = xcalloc(n + 1, sizeof *t->cap);
    t->frag_ms = xcalloc(n + 1, sizeof *t->frag_ms);
    t->nfrag = xcalloc(n + 1, sizeof *t->nfrag);
    t->cpu = xcalloc(n + 1, sizeof *t->cpu);
    t->order = xcalloc(n + 1, sizeof *t->order);
    size_t at = 0;
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[6];
        static const char *const names[] = {"id", "duration", "cpu_count", "cpu_capacity", "mem_capacity",
                                            "submission_time"};
        int k;
        for (k = 0; k < 6; k++)
            if (read_col(r, g, names[k], &c[k], err, sizeof err) < 0)
                break;
        if (k < 6) {
            fail(v, "read tasks.parquet", "%s", err);
            while (k-- > 0)
                pq_reader_release(r, &c[k]);
            return false;
        }
        for (size_t i = 0; i < c[0].n; i++, at++) {
            t->id[at] = c[0].v.i32[i];
            t->dur[at] = c[1].v.i64[i];
            t->count[at] = c[2].v.i32[i];
            t->cap[at] = c[3].v.f64[i];
            t->mem[at] = c[4].v.i64[i];
            t->sub[at] = c[5].v.i64[i];
        }
        for (k = 0; k < 6; k++)
            pq_reader_release(r, &c[k]);
    }
    for (size_t i = 0; i < n; i++)
        t->order[i] = i;
    qsort_r(t->order, n, sizeof *t->order, cmp_by_id, t->id);
    return true;
}

static void free_tasks(struct tasks *t)
{
    free(t->id);
    free(t->count);
    free(t->dur);
    free(t->mem);
    free(t->sub);
    free(t->cap);
    free(t->frag_ms);
    free(t->nfrag);
    free(t->cpu);
    free(t->order);
}

/* FAIL: OpenDC rejects or drops; WARN: it accepts, with the reason. */
static void report_tally(struct vctx *v, const char *check, const struct tally *c, const char *ok_text,
                         const char *what, bool fatal)
{
    if (c->n && fatal)
        fail(v, check, "%zu %s (first: %s)", c->n, what, c->first);
    else if (c->n)
        warn(v, check, "%zu %s (first: %s)", c->n, what, c->first);
    else
        pass(v, check, "%s", ok_text);
}

static void check_tasks(struct vctx *v, const struct tasks *t, const struct topo *topo)
{
    struct tally dup = {0}, dur = {0}, sub = {0}, cnt = {0}, big = {0}, cap = {0}, mem = {0}, mem0 = {0};
    for (size_t i = 1; i < t->n; i++)
        if (t->id[t->order[i]] == t->id[t->order[i - 1]])
            tally(&dup, "id %d", t->id[t->order[i]]);
    for (size_t i = 0; i < t->n; i++) {
        /* OpenDC: mem_capacity / 1000, Kotlin roundToLong (half up), as MiB */
        int64_t mib = t->mem[i] >= 0 ? (int64_t)floor((double)t->mem[i] / 1000.0 + 0.5) : -1;
        if (t->dur[i] <= 0)
            tally(&dur, "task %d: %" PRId64 " ms", t->id[i], t->dur[i]);
        if (t->sub[i] < 100000000000LL)   /* before 1973 in ms: probably seconds */
            tally(&sub, "task %d: %" PRId64, t->id[i], t->sub[i]);
        if (t->count[i] < 1)
            tally(&cnt, "task %d: %d cores", t->id[i], t->count[i]);
        if (topo->ok && t->count[i] > topo->max_cores)
            tally(&big, "task %d: %d cores", t->id[i], t->count[i]);
        if (!(t->cap[i] >= 0) || (topo->ok && t->cap[i] > t->count[i] * topo->max_mhz * (1 + 1e-9)))
            tally(&cap, "task %d: %.3f MHz for %d cores", t->id[i], t->cap[i], t->count[i]);
        if (topo->ok && mib > topo->max_mib)
            tally(&mem, "task %d: %" PRId64, t->id[i], t->mem[i]);
        if (t->mem[i] < 0 || (t->mem[i] > 0 && mib == 0))
            tally(&mem0, "task %d: %" PRId64, t->id[i], t->mem[i]);
    }
    report_tally(v, "task ids", &dup, "unique", "duplicate ids (OpenDC merges their fragments)", true);
    report_tally(v, "task durations", &dur, "all positive",
                 "tasks with duration <= 0 (OpenDC runs a task by its fragments; duration only informs "
                 "the time-shift schedulers)", false);
    report_tally(v, "submission times", &sub, "epoch milliseconds", "submission times too small for epoch ms "
                 "(seconds? OpenDC reads epoch ms)", false);
    report_tally(v, "cpu_count", &cnt, "at least 1", "tasks with cpu_count < 1 (OpenDC reserves no core for "
                 "them: they fit anywhere)", false);
    report_tally(v, "mem_capacity", &mem0, "none that OpenDC rounds to 0 MiB",
                 "tasks whose mem_capacity OpenDC rounds to 0 MiB (it divides by 1000 and reads MiB: an "
                 "--mem-unit mb export?); memory never constrains them", false);
    if (!topo->ok) {
        info(v, "tasks vs topology", "not checked: %s", topo->missing ? "no topology" : "no usable topology");
        return;
    }
    report_tally(v, "cpu_count fits", &big, "at most the largest host's cores",
                 "tasks with cpu_count above the largest host's cores (OpenDC terminates them)", true);
    report_tally(v, "cpu_capacity", &cap, "within cpu_count x core speed",
                 "tasks with cpu_capacity above cpu_count x core speed (OpenDC only compares it per core "
                 "in the vcpuCapacity filter)", false);
    report_tally(v, "mem_capacity fits", &mem, "fits the largest host (mem_capacity / 1000 in MiB)",
                 "tasks needing more memory than the largest host (OpenDC terminates them)", true);
}

static void check_fragments(struct vctx *v, struct pq_reader *r, struct tasks *t, const struct topo *topo,
                            int64_t *frag_rows, double *mhz_ms)
{
    struct tally orphan = {0}, dur = {0}, usage = {0}, over = {0}, none = {0}, sum = {0};
    size_t switches = 0;
    int32_t prev = 0;
    bool first = true;
    char err[512];
    *frag_rows = 0;
    *mhz_ms = 0;
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[3];
        static const char *const names[] = {"id", "duration", "cpu_usage"};
        int k;
        for (k = 0; k < 3; k++)
            if (read_col(r, g, names[k], &c[k], err, sizeof err) < 0)
                break;
        if (k < 3) {
            fail(v, "read fragments.parquet", "%s", err);
            while (k-- > 0)
                pq_reader_release(r, &c[k]);
            return;
        }
        for (size_t i = 0; i < c[0].n; i++) {
            int32_t id = c[0].v.i32[i];
            int64_t d = c[1].v.i64[i];
            double u = c[2].v.f64[i];
            size_t row = (size_t)*frag_rows + 1;
            (*frag_rows)++;
            if (!first && id != prev)
                switches++;
            first = false;
            prev = id;
            if (d <= 0)
                tally(&dur, "row %zu, task %d: %" PRId64 " ms", row, id, d);
            size_t k2 = find_task(t, id);
            if (k2 == SIZE_MAX) {
                tally(&orphan, "row %zu: id %d", row, id);
                continue;
            }
            if (!(u >= 0) || !isfinite(u))
                tally(&usage, "row %zu, task %d: %.3f MHz", row, id, u);
            else if (topo->ok && u > t->count[k2] * topo->max_mhz * (1 + 1e-9))
                tally(&over, "row %zu, task %d: %.3f MHz, %d cores", row, id, u, t->count[k2]);
            t->frag_ms[k2] += d;
            t->nfrag[k2]++;
            if (u > 0 && isfinite(u))
                t->cpu[k2] += u * (double)d;
            *mhz_ms += u * (double)d;
        }
        for (k = 0; k < 3; k++)
            pq_reader_release(r, &c[k]);
    }
    for (size_t i = 0; i < t->n; i++) {
        if (!t->nfrag[i])
            tally(&none, "task %d", t->id[i]);
        else if (t->frag_ms[i] != t->dur[i])
            tally(&sum, "task %d: fragments %" PRId64 " ms, duration %" PRId64 " ms", t->id[i], t->frag_ms[i],
                  t->dur[i]);
    }
    report_tally(v, "fragment ids", &orphan, "every fragment belongs to a task",
                 "fragments whose id is no task (OpenDC ignores them)", false);
    report_tally(v, "fragment durations", &dur, "all positive",
                 "fragments with duration <= 0 (OpenDC skips them at once)", false);
    report_tally(v, "cpu_usage values", &usage, "finite and >= 0", "fragments with cpu_usage < 0 or not a "
                 "number", false);
    if (topo->ok)
        report_tally(v, "cpu_usage", &over, "within cpu_count x core speed",
                     "fragments using more than cpu_count x core speed (cpu_count reserves cores, it does "
                     "not cap usage: OpenDC gives them what the host has)", false);
    report_tally(v, "tasks with fragments", &none, "every task has at least one",
                 "tasks without fragments (OpenDC silently drops them)", true);
    struct tally idle = {0};
    for (size_t i = 0; i < t->n; i++)
        if (t->nfrag[i] && !(t->cpu[i] > 0))
            tally(&idle, "task %d, %" PRId64 " ms", t->id[i], t->dur[i]);
    report_tally(v, "tasks with CPU", &idle, "every task uses some CPU",
                 "tasks with 0 CPU in every fragment (no samples and no exact total: the export kept them "
                 "at 0, OpenDC runs them idle; `tracekit export opendc --unsampled drop` leaves them out)",
                 false);
    report_tally(v, "fragment sums", &sum, "each task's fragments sum to its duration",
                 "tasks whose fragment durations do not sum to their duration (OpenDC runs them for the "
                 "fragments' sum)", false);
    if (switches + 1 > t->n && t->n)
        info(v, "fragment order", "fragments of different tasks interleave (%zu id changes for %zu tasks); "
             "OpenDC replays each task's fragments in file order", switches, t->n);
}

/* links.json beside the topology (tracekit links), when the export has one. */
static void check_links(struct vctx *v, const char *dir)
{
    char *path = path_join(dir, "links.json");
    if (!file_exists(path)) {
        free(path);
        return;
    }
    json_error_t e;
    json_t *root = json_load_file(path, 0, &e);
    if (!json_is_array(root)) {
        fail(v, "links", "%s: not a JSON array (%s)", path, root ? "another JSON value" : e.text);
    } else {
        size_t i, bad = 0;
        json_t *l;
        json_array_foreach(root, i, l)
            if (!links_entry_valid(l) && bad++ == 0)
                fail(v, "links", "%s entry %zu: needs src, dst, ts_ms and non-negative rtt_ms_p50, "
                     "rtt_ms_p99, bandwidth_mbps", path, i);
        if (!bad)
            pass(v, "links", "%zu measured links", json_array_size(root));
    }
    json_decref(root);
    free(path);
}

/* ---- experiment.json (names from OpenDC HEAD 691036deb: opendc-sdk-model's
 * SchedulerNameSpec.kt, HostFilterSpec.kt, HostWeigherSpec.kt,
 * ScalingPolicySpec.kt, AllocationPolicySpec.kt, ResourceReference.kt) ---- */

static bool one_of(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(s, names[i]))
            return true;
    return false;
}

/* One allocation policy: false (with a FAIL) when OpenDC cannot decode it. */
static bool check_policy(struct vctx *v, json_t *p)
{
    static const char *const prefabs[] = {
        "Mem", "MemInv", "CoreMem", "CoreMemInv", "ActiveServers", "ActiveServersInv", "ProvisionedCores",
        "ProvisionedCoresInv", "Random", "TaskNumMemorizing", "Timeshift", "ProvisionedCpuGpuCores",
        "ProvisionedCpuGpuCoresInv", "GpuTaskMemorizing"};
    static const char *const filters[] = {"compute", "sameHost", "differentHost", "instanceCount", "ram",
                                          "vcpuCapacity", "vcpu", "vgpu"};
    static const char *const weighers[] = {"ram", "coreRam", "instanceCount", "vcpuCapacity", "vcpu", "vgpu"};
    const char *chk = "experiment policy", *type = json_string_value(json_object_get(p, "type"));
    if (type && !strcmp(type, "prefab")) {
        json_t *name = json_object_get(p, "prefabName");
        if (!name && json_object_get(p, "scheduler"))
            warn(v, chk, "\"scheduler\" is not a key of a prefab policy: OpenDC ignores it and uses Mem "
                 "(the key is prefabName)");
        if (name && !one_of(json_string_value(name), prefabs, ARRAY_LEN(prefabs))) {
            fail(v, chk, "prefabName %s is not one of OpenDC's prefabs (Mem, MemInv, CoreMem, ..., Random, "
                 "TaskNumMemorizing, Timeshift, ...): the file does not decode",
                 json_is_string(name) ? json_string_value(name) : "(not a string)");
            return false;
        }
        return true;
    }
    if (!type || (strcmp(type, "filter") && strcmp(type, "timeshift"))) {
        fail(v, chk, "type %s is not prefab, filter or timeshift: the file does not decode", type ? type : "(none)");
        return false;
    }
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(p, "filters"), i, x) {
        const char *t = json_string_value(json_object_get(x, "type"));
        int64_t limit;
        if (!one_of(t, filters, ARRAY_LEN(filters)) ||
            (!strcmp(t, "instanceCount") && !(jsonl_int(x, "limit", &limit) && limit >= 1))) {
            fail(v, chk, "filter %zu (%s) is not one of OpenDC's (compute, vcpu, ram, instanceCount with a "
                 "limit >= 1, vcpuCapacity, vgpu, sameHost, differentHost)", i, t ? t : "no type");
            return false;
        }
    }
    json_array_foreach(json_object_get(p, "weighers"), i, x) {
        const char *t = json_string_value(json_object_get(x, "type"));
        if (!one_of(t, weighers, ARRAY_LEN(weighers))) {
            fail(v, chk, "weigher %zu (%s) is not one of OpenDC's (ram, coreRam, instanceCount, vcpu, "
                 "vcpuCapacity, vgpu)", i, t ? t : "no type");
            return false;
        }
    }
    return true;
}

/* A trace workload's source, relative to the experiment file's folder. */
static bool check_workload(struct vctx *v, const char *dir, json_t *w)
{
    const char *chk = "experiment workload";
    const char *type = json_string_value(json_object_get(w, "type"));
    const char *scaling = json_string_value(json_object_get(w, "scalingPolicy"));
    static const char *const scalings[] = {"NoDelay", "Perfect"};
    if (scaling && !one_of(scaling, scalings, ARRAY_LEN(scalings))) {
        fail(v, chk, "scalingPolicy %s is not NoDelay or Perfect: the file does not decode", scaling);
        return false;
    }
    if (!type || strcmp(type, "trace"))
        return true;
    json_t *src = json_object_get(w, "source");
    const char *st = json_string_value(json_object_get(src, "type"));
    const char *name = json_string_value(json_object_get(src, "name"));
    if (!st || strcmp(st, "named") || !name)
        return true;   /* a uri: where it points is the reader's machine's business */
    char *base = name[0] == '/' ? xstrdup(name) : path_join(dir, name);
    char *tp = path_join(base, "tasks.parquet");
    bool ok = file_exists(tp);
    if (!ok)
        fail(v, chk, "source %s: no %s (OpenDC resolves a named source against the experiment file's "
             "folder)", name, tp);
    free(tp);
    free(base);
    return ok;
}

static void check_experiment(struct vctx *v, const char *dir)
{
    char *path = path_join(dir, "experiment.json");
    if (!file_exists(path)) {
        free(path);
        return;
    }
    json_error_t e;
    json_t *root = jsonl_load_file(path, 0, &e);
    json_t *tops = json_object_get(root, "topologies"), *wls = json_object_get(root, "workloads");
    json_t *pols = json_object_get(root, "allocationPolicies");
    int bad = v->failed;
    if (!json_is_object(root))
        fail(v, "experiment", "cannot read %s: %s", path, root ? "not a JSON object" : e.text);
    else if (!json_array_size(tops) || !json_array_size(wls))
        fail(v, "experiment", "%s: OpenDC needs \"topologies\" and \"workloads\", each a non-empty array",
             path);
    else {
        size_t i;
        json_t *x;
        json_array_foreach(wls, i, x)
            check_workload(v, dir, x);
        json_array_foreach(pols, i, x)
            check_policy(v, x);
        if (v->failed == bad) {
            char *pj = json_dumps(json_array_get(pols, 0), JSON_COMPACT | JSON_PRESERVE_ORDER);
            pass(v, "experiment", "%zu topology, %zu workload(s), allocation policy %s", json_array_size(tops),
                 json_array_size(wls), pj ? pj : "(default: prefab Mem)");
            free(pj);
        }
    }
    json_decref(root);
    free(path);
}

int odc_verify(const char *dir, const char *topology, FILE *out)
{
    struct vctx v = {.out = out};
    char err[512];
    char *tp = path_join(dir, "tasks.parquet"), *fp = path_join(dir, "fragments.parquet");
    char *topo_path = topology ? xstrdup(topology) : path_join(dir, "topology.json");

    struct topo topo = check_topology(&v, topo_path, topology != NULL);
    check_experiment(&v, dir);
    check_links(&v, dir);
    struct pq_reader *tr = pq_reader_open(tp, err, sizeof err);
    struct pq_reader *fr = pq_reader_open(fp, err + 256, sizeof err - 256);
    if (!tr)
        fail(&v, "read tasks.parquet", "%s", err);
    if (!fr)
        fail(&v, "read fragments.parquet", "%s", err + 256);
    bool ts = tr && check_schema(&v, tr, "tasks.parquet", task_cols, ARRAY_LEN(task_cols));
    bool fs = fr && check_schema(&v, fr, "fragments.parquet", frag_cols, ARRAY_LEN(frag_cols));

    struct tasks t = {0};
    int64_t frag_rows = 0;
    double mhz_ms = 0;
    int64_t task_ms = 0;
    if (ts && load_tasks(&v, tr, &t)) {
        check_tasks(&v, &t, &topo);
        for (size_t i = 0; i < t.n; i++)
            task_ms += t.dur[i];
        if (fs)
            check_fragments(&v, fr, &t, &topo, &frag_rows, &mhz_ms);
        else if (fr)
            fail(&v, "fragments", "not checked: schema errors");
    } else if (tr) {
        fail(&v, "tasks", "not checked: schema errors");
    }
    fprintf(out, "summary: %zu tasks (%" PRId64 " ms), %" PRId64 " fragments, %.1f core-seconds at the largest "
                 "host's speed, %" PRId64 " hosts; %d checks passed, %d warnings, %d failed\n",
            t.n, task_ms, frag_rows, topo.max_mhz > 0 ? mhz_ms / topo.max_mhz / 1000 : 0, topo.hosts, v.passed,
            v.warned, v.failed);
    free_tasks(&t);
    pq_reader_close(tr);
    pq_reader_close(fr);
    free(tp);
    free(fp);
    free(topo_path);
    return v.failed;
}
