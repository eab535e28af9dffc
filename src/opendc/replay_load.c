/* replay_load.c -- an OpenDC workload folder into the replay model's input.
 * The loader follows ComputeWorkloadLoader.kt (opendc-compute-workload):
 * fragments joined to tasks by id in file order, tasks without fragments
 * dropped, memory = round(mem_capacity / 1000) MiB, tasks stably sorted by
 * submission time.  Hosts follow TopologyFactory.kt (opendc-sdk-runner):
 * clusters and hosts replicated by their counts, cpu.count packages merged,
 * units as UnitSerializer.kt reads them (a bare number is MHz or MiB). */
#include "opendc/replay_load.h"
#include "opendc/opendc_verify.h"
#include "common/jsonl.h"
#include "common/util.h"
#include "parquet/parquet.h"
#include "parquet/parquet_format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct raw {
    int32_t *id, *cores;
    int64_t *sub, *mem;
    double *cap;
    size_t n;
};

struct rawfrag {
    int32_t id;
    size_t row;
    int64_t dur;
    double usage;
};

static int read_cols(struct pq_reader *r, const char *file, const char *const *names, const int *types, int k,
                     int g, struct pq_column *c, char *err, size_t errlen)
{
    struct pq_want w[8] = {{0}};
    for (int i = 0; i < k && i < 8; i++)
        w[i] = (struct pq_want){names[i], types[i], true};
    if (pq_read_wanted(r, g, w, k, c, err, errlen) < 0)
        return -1;
    for (int i = 0; i < k; i++)
        if (c[i].nulls) {
            errf(err, errlen, "%s: column '%s' has nulls (verify opendc says which)", file, names[i]);
            for (int j = 0; j < k; j++)
                pq_reader_release(r, &c[j]);
            return -1;
        }
    return 0;
}

static int read_tasks(const char *dir, struct raw *t, char *err, size_t errlen)
{
    static const char *const names[] = {"id", "submission_time", "cpu_count", "cpu_capacity", "mem_capacity"};
    static const int types[] = {PQ_INT32, PQ_INT64, PQ_INT32, PQ_DOUBLE, PQ_INT64};
    char *path = path_join(dir, "tasks.parquet");
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    free(path);
    if (!r)
        return -1;
    size_t n = (size_t)pq_reader_num_rows(r);
    if (pq_reader_charge(r, ((uint64_t)n + 1) * 5 * sizeof(int64_t), "the tasks' arrays", err, errlen) < 0) {
        pq_reader_close(r);
        return -1;
    }
    t->id = xcalloc(n + 1, sizeof *t->id);
    t->cores = xcalloc(n + 1, sizeof *t->cores);
    t->sub = xcalloc(n + 1, sizeof *t->sub);
    t->mem = xcalloc(n + 1, sizeof *t->mem);
    t->cap = xcalloc(n + 1, sizeof *t->cap);
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[5];
        if (read_cols(r, "tasks.parquet", names, types, 5, g, c, err, errlen) < 0) {
            pq_reader_close(r);
            return -1;
        }
        for (size_t i = 0; i < c[0].n && t->n < n; i++, t->n++) {
            t->id[t->n] = c[0].v.i32[i];
            t->sub[t->n] = c[1].v.i64[i];
            t->cores[t->n] = c[2].v.i32[i];
            t->cap[t->n] = c[3].v.f64[i];
            t->mem[t->n] = c[4].v.i64[i];
        }
        for (int k = 0; k < 5; k++)
            pq_reader_release(r, &c[k]);
    }
    pq_reader_close(r);
    return 0;
}

static int read_frags(const char *dir, struct rawfrag **out, size_t *nout, char *err, size_t errlen)
{
    static const char *const names[] = {"id", "duration", "cpu_usage"};
    static const int types[] = {PQ_INT32, PQ_INT64, PQ_DOUBLE};
    char *path = path_join(dir, "fragments.parquet");
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    free(path);
    if (!r)
        return -1;
    size_t n = (size_t)pq_reader_num_rows(r), at = 0;
    if (pq_reader_charge(r, ((uint64_t)n + 1) * sizeof **out, "the fragments' array", err, errlen) < 0) {
        pq_reader_close(r);
        return -1;
    }
    struct rawfrag *f = xcalloc(n + 1, sizeof *f);
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[3];
        if (read_cols(r, "fragments.parquet", names, types, 3, g, c, err, errlen) < 0) {
            free(f);
            pq_reader_close(r);
            return -1;
        }
        for (size_t i = 0; i < c[0].n && at < n; i++, at++) {
            f[at] = (struct rawfrag){c[0].v.i32[i], at, c[1].v.i64[i], c[2].v.f64[i]};
            if (!(f[at].usage >= 0 && f[at].usage < 1e15) || f[at].dur > RP_MAX_MS / 1024) {
                errf(err, errlen, "fragments.parquet row %zu: cpu_usage %g MHz, duration %lld ms: expected a "
                     "finite cpu_usage >= 0 (and below 1e15) and a duration of at most %lld ms", at,
                     f[at].usage, (long long)f[at].dur, (long long)(RP_MAX_MS / 1024));
                for (int k = 0; k < 3; k++)
                    pq_reader_release(r, &c[k]);
                free(f);
                pq_reader_close(r);
                return -1;
            }
        }
        for (int k = 0; k < 3; k++)
            pq_reader_release(r, &c[k]);
    }
    pq_reader_close(r);
    *out = f;
    *nout = at;
    return 0;
}

static int cmp_frag(const void *a, const void *b)
{
    const struct rawfrag *x = a, *y = b;
    if (x->id != y->id)
        return (x->id > y->id) - (x->id < y->id);
    return (x->row > y->row) - (x->row < y->row);
}

static int cmp_task(const void *a, const void *b, void *ctx)
{
    const int64_t *sub = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (sub[i] != sub[j])
        return (sub[i] > sub[j]) - (sub[i] < sub[j]);
    return (i > j) - (i < j);   /* stable: file order among equal submissions */
}

static void raw_free(struct raw *t)
{
    free(t->id);
    free(t->cores);
    free(t->sub);
    free(t->mem);
    free(t->cap);
}

/* Join: each task takes the fragments with its id, in file order.  0, or
 * -1 with err: two tasks of one id. */
static int join(const struct raw *t, struct rawfrag *f, size_t nf, struct rp_workload *w, char *err,
                size_t errlen)
{
    qsort(f, nf, sizeof *f, cmp_frag);   /* (id, row): file order within a task */
    size_t *order = xcalloc(t->n + 1, sizeof *order);
    for (size_t i = 0; i < t->n; i++)
        order[i] = i;
    qsort_r(order, t->n, sizeof *order, cmp_task, t->sub);
    w->tasks = xcalloc(t->n + 1, sizeof *w->tasks);
    w->frags = xcalloc(nf + 1, sizeof *w->frags);
    /* By the first of an id's fragments: whether a task took them.  A
     * second task of that id is refused: copying the fragments per task made
     * n tasks of one id cost n x n fragments (a small file, hours of replay). */
    bool *taken = xcalloc(nf + 1, sizeof *taken);
    int rc = 0;
    for (size_t k = 0; k < t->n; k++) {
        size_t i = order[k], lo = 0, hi = nf;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (f[mid].id < t->id[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t end = lo;
        while (end < nf && f[end].id == t->id[i])
            end++;
        if (end == lo) {
            w->dropped++;
            continue;
        }
        if (taken[lo]) {
            rc = errf(err, errlen, "tasks.parquet: task id %d appears more than once (row %zu again): expected "
                      "unique ids (OpenDC's loader gives such tasks one fragment list and collides them)",
                      t->id[i], i);
            break;
        }
        taken[lo] = true;
        struct rp_task *x = &w->tasks[w->ntasks++];
        *x = (struct rp_task){.id = t->id[i], .sub_ms = t->sub[i], .cores = t->cores[i], .cap_mhz = t->cap[i],
                              .mem_mib = (int64_t)floor((double)t->mem[i] / 1000.0 + 0.5),
                              .frag0 = w->nfrags, .nfrag = end - lo};
        for (size_t j = lo; j < end; j++)
            w->frags[w->nfrags++] = (struct rp_frag){f[j].dur, f[j].usage};
    }
    free(taken);
    free(order);
    return rc;
}

int rp_load_workload(const char *dir, struct rp_workload *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    struct raw t = {0};
    struct rawfrag *f = NULL;
    size_t nf = 0;
    if (read_tasks(dir, &t, err, errlen) < 0 || read_frags(dir, &f, &nf, err, errlen) < 0) {
        raw_free(&t);
        return -1;
    }
    int rc = join(&t, f, nf, w, err, errlen);
    free(f);
    raw_free(&t);
    if (rc < 0)
        rp_workload_free(w);
    return rc;
}

void rp_workload_free(struct rp_workload *w)
{
    if (!w)
        return;
    free(w->tasks);
    free(w->frags);
    memset(w, 0, sizeof *w);
}


static int64_t count_of(const json_t *o)
{
    const json_t *c = json_object_get(o, "count");
    return c ? (json_is_integer(c) ? json_integer_value(c) : -1) : 1;
}

/* One host entry into h (name and type set by the caller). */
static int host_entry(const json_t *e, struct rp_host *h, char *err, size_t errlen)
{
    const json_t *cpu = json_object_get(e, "cpu"), *mem = json_object_get(e, "memory");
    const json_t *cores = json_object_get(cpu, "coreCount");
    int64_t packages = count_of(cpu);
    const json_t *size = json_object_get(mem, "size");
    if (!size)
        size = json_object_get(mem, "memorySize");   /* legacy key */
    double mhz = odc_unit_value(json_object_get(cpu, "coreSpeed"), odc_parse_frequency_mhz, NULL);
    double mib = odc_unit_value(size, odc_parse_size_mib, NULL);
    if (!json_is_integer(cores) || json_integer_value(cores) < 1 || packages < 1 ||
        json_integer_value(cores) * packages > INT32_MAX || mhz <= 0 || mib <= 0)
        return errf(err, errlen, "host %s: needs cpu.coreCount, cpu.coreSpeed and memory.size (verify opendc "
                    "says which is wrong)", json_string_value(json_object_get(e, "name")) ?: "?");
    h->cores = (int32_t)(json_integer_value(cores) * packages);
    h->core_mhz = mhz;
    h->mem_mib = mib > (double)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)mib;
    return 0;
}

static int type_of(char ***types, int *ntypes, const char *name)
{
    for (int i = 0; i < *ntypes; i++)
        if (!strcmp((*types)[i], name))
            return i;
    *types = xrealloc(*types, (size_t)(*ntypes + 1) * sizeof **types);
    (*types)[*ntypes] = xstrdup(name);
    return (*ntypes)++;
}

int rp_hosts_json(const json_t *topo, struct rp_host **hosts, size_t *n, char *err, size_t errlen)
{
    const json_t *clusters = json_object_get(topo, "clusters"), *c, *e;
    size_t ci, hi, cap = 0;
    char **types = NULL;
    int ntypes = 0, rc = 0;
    int *copies = NULL;   /* per type: copies named so far */
    *hosts = NULL;
    *n = 0;
    if (!json_array_size(clusters))
        return errf(err, errlen, "the topology has no \"clusters\"");
    json_array_foreach(clusters, ci, c) {
        if (count_of(c) > 1 << 20) {   /* copies of no host at all would loop for ever */
            rc = errf(err, errlen, "cluster %zu: count %lld: expected at most %u", ci, (long long)count_of(c),
                      1u << 20);
            break;
        }
        for (int64_t cc = 0; cc < count_of(c) && rc == 0 && json_array_size(json_object_get(c, "hosts")); cc++) {
            json_array_foreach(json_object_get(c, "hosts"), hi, e) {
                struct rp_host h = {0};
                const char *name = json_string_value(json_object_get(e, "name")) ?: "Host";
                if ((rc = host_entry(e, &h, err, errlen)) < 0)
                    break;
                int before = ntypes;
                h.type = type_of(&types, &ntypes, name);
                if (ntypes > before) {
                    copies = xrealloc(copies, (size_t)ntypes * sizeof *copies);
                    copies[h.type] = 0;
                }
                for (int64_t k = 0; k < count_of(e); k++) {
                    if (*n >= 1u << 20) {
                        rc = errf(err, errlen, "the topology has more than %u hosts", 1u << 20);
                        break;
                    }
                    ARRAY_GROW(*hosts, *n + 1, cap, 16);
                    /* names unique per run: the first host of a name keeps it, then name-0, name-1, ... */
                    if (copies[h.type]++ == 0)
                        snprintf(h.name, sizeof h.name, "%s", name);
                    else
                        snprintf(h.name, sizeof h.name, "%s-%d", name, copies[h.type] - 2);
                    (*hosts)[(*n)++] = h;
                }
            }
        }
    }
    for (int i = 0; i < ntypes; i++)
        free(types[i]);
    free(types);
    free(copies);
    if (rc < 0) {
        free(*hosts);
        *hosts = NULL;
        *n = 0;
    }
    return rc;
}

int rp_load_experiment(const char *dir, json_t **topo, struct rp_policy *p, bool *have_policy, int *scaling,
                       bool *have_scaling, char *err, size_t errlen)
{
    *topo = NULL;
    *have_policy = *have_scaling = false;
    char *path = path_join(dir, "experiment.json");
    if (!file_exists(path)) {
        free(path);
        return 0;
    }
    json_error_t je;
    json_t *root = jsonl_load_file(path, 0, &je);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = errf(err, errlen, "cannot read %s: %s", path, root ? "not a JSON object" : je.text);
        goto out;
    }
    json_t *t = json_array_get(json_object_get(root, "topologies"), 0);
    if (json_is_object(t) && json_object_get(t, "clusters"))
        *topo = json_incref(t);
    json_t *pol = json_array_get(json_object_get(root, "allocationPolicies"), 0);
    if (pol) {
        char e2[256];
        if (rp_policy_json(pol, p, e2, sizeof e2) < 0) {
            rc = errf(err, errlen, "%s: allocation policy: %s", path, e2);
            goto out;
        }
        *have_policy = true;
    }
    const char *sc = json_string_value(json_object_get(json_array_get(json_object_get(root, "workloads"), 0),
                                                       "scalingPolicy"));
    if (sc) {
        if (strcmp(sc, "NoDelay") && strcmp(sc, "Perfect")) {
            rc = errf(err, errlen, "%s: scalingPolicy %s is not NoDelay or Perfect", path, sc);
            goto out;
        }
        *scaling = !strcmp(sc, "Perfect") ? RP_PERFECT : RP_NODELAY;
        *have_scaling = true;
    }
out:
    if (rc < 0 && *topo) {
        json_decref(*topo);
        *topo = NULL;
    }
    json_decref(root);
    free(path);
    return rc;
}

/* --policy: a prefab name, a JSON object, or a file holding one. */
static int policy_arg(const char *a, struct rp_policy *p, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = NULL;
    if (a[0] == '{')
        j = jsonl_loads(a, 0, &je);
    else if (file_exists(a))
        j = jsonl_load_file(a, 0, &je);
    else
        return rp_policy_prefab(a, p, err, errlen);
    if (!j)
        return errf(err, errlen, "--policy: cannot read the JSON: %s", je.text);
    int rc = rp_policy_json(j, p, err, errlen);
    json_decref(j);
    return rc;
}

static int load_topology(const struct rp_setup *s, json_t *exp_topo, struct rp_replay *r, char *err,
                         size_t errlen)
{
    char *dflt = path_join(s->dir, "topology.json");
    const char *path = s->topology ? s->topology : file_exists(dflt) ? dflt : NULL;
    json_t *t = exp_topo;
    json_error_t je;
    r->topology_from = "experiment.json";
    if (path) {
        r->topology_from = s->topology ? "--topology" : "topology.json";
        if (!(t = jsonl_load_file(path, 0, &je))) {
            errf(err, errlen, "cannot read %s: %s", path, je.text);
            free(dflt);
            return -1;
        }
    }
    free(dflt);
    if (!t)
        return errf(err, errlen, "no topology: give --topology FILE (the folder has neither topology.json nor "
                    "an experiment.json with one)");
    int rc = rp_hosts_json(t, &r->hosts, &r->nhosts, err, errlen);
    if (t != exp_topo)
        json_decref(t);
    return rc;
}

int rp_replay_dir(const struct rp_setup *s, struct rp_replay *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    json_t *exp_topo = NULL;
    bool hp, hs;
    struct rp_policy ep;
    int escaling = RP_NODELAY;
    if (rp_load_experiment(s->dir, &exp_topo, &ep, &hp, &escaling, &hs, err, errlen) < 0)
        return -1;
    int rc = load_topology(s, exp_topo, r, err, errlen);
    json_decref(exp_topo);
    if (rc < 0)
        return -1;
    if (s->policy) {
        if (policy_arg(s->policy, &r->policy, err, errlen) < 0)
            return -1;
        r->policy_from = "--policy";
    } else if (hp) {
        r->policy = ep;
        r->policy_from = "experiment.json";
    } else {
        rp_policy_prefab("Mem", &r->policy, err, errlen);
        r->policy_from = "OpenDC's default";
    }
    r->scaling = s->scaling >= 0 ? s->scaling : hs ? escaling : RP_NODELAY;
    r->scaling_from = s->scaling >= 0 ? "--scaling" : hs ? "experiment.json" : "OpenDC's default";
    if (rp_load_workload(s->dir, &r->w, err, errlen) < 0)
        return -1;
    struct rp_input in = {.tasks = r->w.tasks, .ntasks = r->w.ntasks, .frags = r->w.frags,
                          .nfrags = r->w.nfrags, .hosts = r->hosts, .nhosts = r->nhosts, .policy = r->policy,
                          .scaling = r->scaling, .quantum_ms = s->quantum_ms};
    return rp_run(&in, &r->res, err, errlen);
}

void rp_replay_free(struct rp_replay *r)
{
    if (!r)
        return;
    rp_workload_free(&r->w);
    free(r->hosts);
    rp_result_free(&r->res);
    memset(r, 0, sizeof *r);
}
