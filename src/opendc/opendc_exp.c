/* opendc_exp.c -- what OpenDC simulates the workload with: the topology
 * (one host per node, with its power model) and the experiment file (the
 * run's allocation policy in OpenDC's terms).  Key names and values are
 * those of OpenDC's SDK model at HEAD 691036deb (opendc-sdk/opendc-sdk-model:
 * topology/HostSpec.kt, PowerSpec.kt, experiment/ExperimentSpec.kt,
 * workload/WorkloadSpec.kt, scheduler/AllocationPolicySpec.kt,
 * HostFilterSpec.kt, HostWeigherSpec.kt, SchedulerNameSpec.kt,
 * export/ExportSpec.kt). */
#include "opendc/opendc.h"
#include "common/util.h"
#include "sched/policy.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- topology ---- */

struct odc_power odc_node_power(const struct odc_node *nd)
{
    (void)nd;   /* measured idle and full-load power: the energy issue (#16) */
    return (struct odc_power){.type = "linear", .idle_w = 200, .max_w = 400, .assumed = true};
}

const char *odc_host_name(const struct odc_node *nodes, size_t n, size_t k)
{
    for (size_t j = 0; j < n; j++)
        if (j != k && !strcmp(nodes[j].node_id, nodes[k].node_id))
            return nodes[k].folder;   /* gather made folder names unique */
    return nodes[k].node_id;
}

/* "2400 MHz", "2399.5 MHz": OpenDC reads a bare number as MHz too, but
 * says so with a warning; a unit leaves no doubt. */
static char *mhz_str(double mhz)
{
    if (mhz == floor(mhz))
        return xasprintf("%.0f MHz", mhz);
    return xasprintf("%.3f MHz", mhz);
}

static char *watts_str(double w)
{
    if (w == floor(w))
        return xasprintf("%.0f W", w);
    return xasprintf("%.3f W", w);
}

static json_t *host_json(const struct odc_node *nodes, size_t n, size_t k)
{
    const struct odc_node *nd = &nodes[k];
    char *speed = mhz_str(nd->mhz), *mem = xasprintf("%" PRId64 " MiB", nd->mem_mb);
    json_t *cpu = json_pack("{s:i, s:s}", "coreCount", nd->cores, "coreSpeed", speed);
    if (nd->cpu_model && *nd->cpu_model)
        json_object_set_new(cpu, "modelName", json_string(nd->cpu_model));
    struct odc_power pw = nd->power.type ? nd->power : odc_node_power(nd);
    char *idle = watts_str(pw.idle_w), *max = watts_str(pw.max_w);
    json_t *h = json_pack("{s:s, s:i, s:o, s:{s:s}, s:{s:s, s:s, s:s}}", "name", odc_host_name(nodes, n, k),
                          "count", 1, "cpu", cpu, "memory", "size", mem, "cpuPowerModel", "type", pw.type,
                          "idlePower", idle, "maxPower", max);
    free(speed);
    free(mem);
    free(idle);
    free(max);
    return h;
}

json_t *odc_topology(const struct odc_node *nodes, size_t n)
{
    json_t *clusters = json_array();
    bool *done = xcalloc(n + 1, sizeof *done);
    for (size_t k = 0; k < n; k++) {
        if (done[k])
            continue;
        const char *stage = nodes[k].stage ? nodes[k].stage : "";
        json_t *hosts = json_array();
        for (size_t j = k; j < n; j++) {
            const char *sj = nodes[j].stage ? nodes[j].stage : "";
            if (!done[j] && !strcmp(sj, stage)) {
                done[j] = true;
                json_array_append_new(hosts, host_json(nodes, n, j));
            }
        }
        json_array_append_new(clusters, json_pack("{s:s, s:i, s:o}", "name", *stage ? stage : "C01", "count", 1,
                                                  "hosts", hosts));
    }
    free(done);
    return json_pack("{s:o}", "clusters", clusters);
}

static char *dump(json_t *root)
{
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    char *out = xasprintf("%s\n", text);
    free(text);
    return out;
}

char *odc_topology_json(const struct odc_node *nodes, size_t n)
{
    json_t *root = odc_topology(nodes, n);
    char *out = dump(root);
    json_decref(root);
    return out;
}

/* ---- the allocation policy ---- */

bool odc_policy_from_record(const char *name, struct policy *p)
{
    char err[256];
    if (!name)
        return false;
    if (policy_named(name, p, err, sizeof err) == 0)
        return true;
    static const struct {
        const char *name, *weigher, *order;
    } orig[] = {
        {"first-fit", "", "min"},        {"instances-min", "instances", "min"},
        {"instances-max", "instances", "max"}, {"vcpu-min", "vcpu", "min"},
        {"vcpu-max", "vcpu", "max"},
    };
    for (size_t i = 0; i < ARRAY_LEN(orig); i++)
        if (!strcmp(name, orig[i].name))
            return policy_original(orig[i].weigher, orig[i].order, p, err, sizeof err) == 0;
    return false;
}

/* OpenDC's prefab of this name, when p is exactly it: same name, the
 * prefab's filters with ratio 1, the prefab's subset. */
static const char *prefab_of(const struct policy *p)
{
    struct policy ref;
    char err[256];
    if (p->select != PS_WEIGHED || policy_named(p->name, &ref, err, sizeof err) < 0 ||
        ref.select != PS_WEIGHED || p->nfilters != ref.nfilters || p->nweighers != ref.nweighers ||
        p->subset_size != ref.subset_size)
        return NULL;
    for (size_t i = 0; i < p->nfilters; i++)
        if (p->filters[i].kind != ref.filters[i].kind || p->filters[i].ratio != ref.filters[i].ratio)
            return NULL;
    for (size_t i = 0; i < p->nweighers; i++)
        if (p->weighers[i].kind != ref.weighers[i].kind ||
            p->weighers[i].multiplier != ref.weighers[i].multiplier ||
            p->weighers[i].ratio != ref.weighers[i].ratio)
            return NULL;
    for (const char *const *n = policy_names(); *n; n++)
        if (!strcmp(*n, ref.name))
            return *n;
    return NULL;
}

static bool has_kind(const struct policy *p, enum pol_filter_kind k)
{
    for (size_t i = 0; i < p->nfilters; i++)
        if (p->filters[i].kind == k)
            return true;
    return false;
}

/* The filters in OpenDC's terms, compute first (OpenDC binary-searches its
 * busy hosts on the first filter's score: only compute is safe there).  Our
 * always-on capacity check (free units, MiB, --parallel) is OpenDC's
 * vcpu(1) and ram(1) when a worker's units are its cores. */
static json_t *filters_json(const struct policy *p)
{
    json_t *f = json_array();
    json_array_append_new(f, json_pack("{s:s}", "type", "compute"));
    for (size_t i = 0; i < p->nfilters; i++) {
        const struct pol_filter *x = &p->filters[i];
        switch (x->kind) {
        case PF_VCPU:
            json_array_append_new(f, json_pack("{s:s, s:f}", "type", "vcpu", "allocationRatio", x->ratio));
            break;
        case PF_RAM:
            json_array_append_new(f, json_pack("{s:s, s:f}", "type", "ram", "allocationRatio", x->ratio));
            break;
        case PF_INSTANCE_COUNT:
            json_array_append_new(f, json_pack("{s:s, s:I}", "type", "instanceCount", "limit",
                                               (json_int_t)x->limit));
            break;
        case PF_VCPU_CAPACITY:
            json_array_append_new(f, json_pack("{s:s}", "type", "vcpuCapacity"));
            break;
        case PF_COMPUTE:   /* first, above */
        case PF_CAPACITY:  /* below */
            break;
        }
    }
    if (has_kind(p, PF_CAPACITY) && !has_kind(p, PF_VCPU))
        json_array_append_new(f, json_pack("{s:s, s:f}", "type", "vcpu", "allocationRatio", 1.0));
    if (has_kind(p, PF_CAPACITY) && !has_kind(p, PF_RAM))
        json_array_append_new(f, json_pack("{s:s, s:f}", "type", "ram", "allocationRatio", 1.0));
    return f;
}

static json_t *weighers_json(const struct policy *p)
{
    static const char *const names[] = {
        [PW_RAM] = "ram", [PW_CORE_RAM] = "coreRam", [PW_INSTANCE_COUNT] = "instanceCount",
        [PW_VCPU] = "vcpu", [PW_VCPU_CAPACITY] = "vcpuCapacity",
    };
    json_t *w = json_array();
    for (size_t i = 0; i < p->nweighers; i++)
        json_array_append_new(w, json_pack("{s:s, s:f}", "type", names[p->weighers[i].kind], "multiplier",
                                           p->weighers[i].multiplier));
    return w;
}

json_t *odc_policy_json(const struct policy *p, bool *exact, char *note, size_t notelen)
{
    const char *prefab = prefab_of(p);
    *exact = false;
    if (prefab) {
        snprintf(note, notelen, "OpenDC's prefab %s: the same filters and weighers, but OpenDC HEAD keeps "
                 "its weights across decisions and ignores subsetSize, so its choices depend on history "
                 "(only a policy without weighers decides as the real scheduler did)", prefab);
        return json_pack("{s:s, s:s}", "type", "prefab", "prefabName", prefab);
    }
    json_t *j = json_pack("{s:s, s:o, s:o, s:I}", "type", "filter", "filters", filters_json(p), "weighers",
                          weighers_json(p), "subsetSize",
                          (json_int_t)(p->subset_size > INT32_MAX ? INT32_MAX : p->subset_size));
    if (p->select == PS_BEST_FIT) {
        *exact = true;
        snprintf(note, notelen, "the filter form without weighers: OpenDC HEAD places as %s did (a busy "
                 "host with the fewest free cores that fits, else the first idle host in topology order)",
                 p->name);
    } else if (!p->nweighers) {
        snprintf(note, notelen, "the filter form without weighers, the nearest to %s: OpenDC takes the busy "
                 "host with the fewest free cores that fits, else the first idle host, where %s took the "
                 "first node with room%s", p->name, p->name,
                 p->subset_size > 1 ? " (OpenDC ignores subsetSize)" : "");
    } else {
        snprintf(note, notelen, "the filter form with %s's weighers; OpenDC HEAD keeps its weights across "
                 "decisions and ignores subsetSize, so its choices depend on history%s", p->name,
                 p->ties_high_id ? "; ties to the largest node id cannot be stated" : "");
    }
    return j;
}

/* ---- the experiment ---- */

int64_t odc_export_interval_ms(int64_t span_ms)
{
    if (span_ms <= 3600 * 1000)
        return 1000;
    if (span_ms <= 36000 * 1000)
        return 10 * 1000;
    return 60 * 1000;
}

char *odc_experiment_json(const struct odc_node *nodes, size_t n, const struct odc_experiment *e)
{
    char interval[32];
    snprintf(interval, sizeof interval, "%" PRId64 " ms", e->export_interval_ms);
    json_t *workload = json_pack("{s:s, s:{s:s, s:s}, s:f, s:s}", "type", "trace", "source", "type", "named",
                                 "name", ".", "sampleFraction", 1.0, "scalingPolicy", e->scaling);
    json_t *exportm = json_pack("{s:s, s:[s, s, s]}", "exportInterval", interval, "filesToExport", "task",
                                "host", "powerSource");
    json_t *root = json_pack("{s:s, s:[o], s:[o], s:[O], s:[o], s:i, s:i}", "name", e->name, "topologies",
                             odc_topology(nodes, n), "workloads", workload, "allocationPolicies", e->policy,
                             "exportModels", exportm, "runs", 1, "initialSeed", 0);
    char *out = dump(root);
    json_decref(root);
    return out;
}
