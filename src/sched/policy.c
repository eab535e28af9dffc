/* policy.c -- filters, weighers and the pick; see policy.h.
 *
 * The weighing follows OpenStack Nova and OpenDC's FilterScheduler as it was
 * before OpenDC PR #371 (opendc.md §3.7): per weigher, raw values over the
 * feasible hosts are min-max normalised, a weigher whose range is 0 adds
 * nothing, the normalised value times the multiplier is summed per host,
 * hosts are sorted by score (descending), and the pick is uniform among the
 * first `subset_size`.  OpenDC HEAD's quirks (a weight array never reset,
 * subset ignored) are not reproduced; PS_BEST_FIT reproduces what HEAD does
 * for a policy without weighers, the one deterministic HEAD policy. */
#include "sched/policy.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

static int64_t need_units(const struct pol_task *t)
{
    return t->cpu_units < 1 ? 1 : t->cpu_units;
}

/* Units provisioned to running/queued tasks (the original's "vcpu" metric:
 * max(0, cap_total - cap), 0 when cap_total is unknown). */
static int64_t provisioned(const struct pol_host *h)
{
    int64_t p = h->units_total - h->units_free;
    return p > 0 ? p : 0;
}

static int64_t core_count(const struct pol_host *h)
{
    return h->cores > 0 ? h->cores : h->units_total;
}

bool policy_filter_pass(const struct pol_filter *f, const struct pol_host *h,
                        const struct pol_task *t)
{
    int64_t need = need_units(t);
    switch (f->kind) {
    case PF_COMPUTE:
        return h->up;
    case PF_CAPACITY:
        /* exactly what the placement script enforces, memory included:
         * a host it would refuse must never be chosen */
        if (h->units_free < need)
            return false;
        if (h->mem_total_mb > 0 && t->mem_mb > 0 && h->mem_free_mb < t->mem_mb)
            return false;
        return h->max_parallel <= 0 || h->instances < h->max_parallel;
    case PF_VCPU: {
        int64_t cores = core_count(h);
        if (f->ratio == 1.0)
            return cores - provisioned(h) >= need;
        return need <= cores && (double)cores * f->ratio - (double)provisioned(h) >= (double)need;
    }
    case PF_RAM: {
        if (h->mem_total_mb <= 0 || t->mem_mb <= 0)
            return true;
        if (f->ratio == 1.0)
            return h->mem_free_mb >= t->mem_mb;
        double used = (double)(h->mem_total_mb - h->mem_free_mb);
        return t->mem_mb <= h->mem_total_mb &&
               (double)h->mem_total_mb * f->ratio - used >= (double)t->mem_mb;
    }
    case PF_INSTANCE_COUNT:
        return h->instances < f->limit;
    case PF_VCPU_CAPACITY:
        if (t->mhz_per_core <= 0 || h->core_mhz <= 0)
            return true;
        return h->core_mhz >= t->mhz_per_core;
    }
    return false;
}

double policy_weigher_raw(const struct pol_weigher *w, const struct pol_host *h,
                          const struct pol_task *t)
{
    switch (w->kind) {
    case PW_RAM:
        return (double)h->mem_free_mb;
    case PW_CORE_RAM: {
        /* OpenDC multiplies by the multiplier here *and* when normalising,
         * which cancels a negative sign; Nova's intent is applied once. */
        int64_t c = core_count(h);
        return c > 0 ? (double)h->mem_free_mb / (double)c : 0.0;
    }
    case PW_INSTANCE_COUNT:
        return (double)h->instances;
    case PW_VCPU:
        /* OpenDC: allocationRatio - provisionedCpuCores (not coreCount x
         * ratio); after normalisation only "fewer provisioned" matters. */
        return w->ratio - (double)provisioned(h);
    case PW_VCPU_CAPACITY:
        return h->core_mhz * (double)core_count(h) - t->mhz_per_core;
    }
    return 0.0;
}

/* ---- sorting: qsort() takes no context, so the comparators read one that
 * is set (thread-locally) for the duration of a single qsort call ---- */

struct sort_ctx {
    const struct pol_host *hosts;
    bool ties_high_id;
};
static _Thread_local const struct sort_ctx *g_sort;

static int cmp_id(const struct pol_host *a, const struct pol_host *b, bool high_first)
{
    int c = strcmp(a->id, b->id);
    return high_first ? -c : c;
}

static int cmp_weighed(const void *pa, const void *pb)
{
    const struct pol_rank *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return cmp_id(&g_sort->hosts[a->host], &g_sort->hosts[b->host], g_sort->ties_high_id);
}

static int64_t free_cores(const struct pol_host *h)
{
    return core_count(h) - provisioned(h);
}

/* Busy hosts first, tightest fit (fewest free cores, then least free
 * memory) first; then idle hosts by id. */
static int cmp_best_fit(const void *pa, const void *pb)
{
    const struct pol_host *a = &g_sort->hosts[((const struct pol_rank *)pa)->host];
    const struct pol_host *b = &g_sort->hosts[((const struct pol_rank *)pb)->host];
    bool abusy = a->instances > 0, bbusy = b->instances > 0;
    if (abusy != bbusy)
        return abusy ? -1 : 1;
    if (abusy) {
        int64_t fa = free_cores(a), fb = free_cores(b);
        if (fa != fb)
            return fa < fb ? -1 : 1;
        if (a->mem_free_mb != b->mem_free_mb)
            return a->mem_free_mb < b->mem_free_mb ? -1 : 1;
    }
    return cmp_id(a, b, false);
}

long policy_select(const struct policy *p, const struct pol_host *hosts, size_t n,
                   const struct pol_task *t, struct pyrand *rng, struct pol_rank *ranked,
                   size_t *nranked)
{
    struct pol_rank *r = ranked ? ranked : xmalloc((n ? n : 1) * sizeof *r);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = true;
        for (size_t f = 0; f < p->nfilters && ok; f++)
            ok = policy_filter_pass(&p->filters[f], &hosts[i], t);
        if (ok)
            r[k++] = (struct pol_rank){.host = i, .score = 0.0};
    }
    if (p->select == PS_WEIGHED) {
        for (size_t w = 0; w < p->nweighers; w++) {
            const struct pol_weigher *wg = &p->weighers[w];
            double lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < k; i++) {
                double v = policy_weigher_raw(wg, &hosts[r[i].host], t);
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            if (k == 0 || !(hi - lo > 0))
                continue; /* a weigher with no range contributes nothing */
            for (size_t i = 0; i < k; i++) {
                double v = policy_weigher_raw(wg, &hosts[r[i].host], t);
                r[i].score += wg->multiplier * (v - lo) / (hi - lo);
            }
        }
    }
    struct sort_ctx ctx = {hosts, p->ties_high_id};
    g_sort = &ctx;
    qsort(r, k, sizeof *r, p->select == PS_WEIGHED ? cmp_weighed : cmp_best_fit);
    g_sort = NULL;

    long chosen = -1;
    if (k > 0) {
        size_t pick = 0;
        size_t sub = p->select == PS_WEIGHED ? p->subset_size : 1;
        if (sub > k)
            sub = k;
        if (sub > 1 && rng)
            pick = (size_t)pyrand_randbelow(rng, sub);
        chosen = (long)r[pick].host;
    }
    if (nranked)
        *nranked = k;
    if (!ranked)
        free(r);
    return chosen;
}

void policy_commit(struct pol_host *h, const struct pol_task *t)
{
    h->units_free -= need_units(t);
    if (h->mem_total_mb > 0 && t->mem_mb > 0)
        h->mem_free_mb -= t->mem_mb;
    h->instances++;
}

bool policy_never_fits(const struct pol_host *hosts, size_t n, const struct pol_task *t)
{
    if (n == 0)
        return false;
    int64_t need = need_units(t);
    for (size_t i = 0; i < n; i++) {
        const struct pol_host *h = &hosts[i];
        bool cpu = h->units_total >= need;
        bool mem = t->mem_mb <= 0 || h->mem_total_mb <= 0 || h->mem_total_mb >= t->mem_mb;
        if (cpu && mem)
            return false;
    }
    return true;
}

/* ---- building policies ---- */

static void init(struct policy *p, const char *name, enum pol_select sel)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->select = sel;
    p->subset_size = 1;
}

static void add_filter(struct policy *p, enum pol_filter_kind k, double ratio, int64_t limit)
{
    if (p->nfilters < POL_MAX_FILTERS)
        p->filters[p->nfilters++] = (struct pol_filter){k, ratio, limit};
}

static void add_weigher(struct policy *p, enum pol_weigher_kind k, double mult)
{
    if (p->nweighers < POL_MAX_WEIGHERS)
        p->weighers[p->nweighers++] = (struct pol_weigher){k, mult, 1.0};
}

static bool has_filter(const struct policy *p, enum pol_filter_kind k)
{
    for (size_t i = 0; i < p->nfilters; i++)
        if (p->filters[i].kind == k)
            return true;
    return false;
}

/* The filters of every OpenDC prefab: Compute, VCpu(1.0), Ram(1.0).  OpenDC's
 * "Mem" leaves out Compute; with no failures in a simulation that makes no
 * difference, and here a host without a live worker can never run a task,
 * so every policy keeps it.  The capacity check mirrors what the placement
 * script enforces, so a chosen host is never refused for capacity. */
static void prefab_filters(struct policy *p)
{
    add_filter(p, PF_COMPUTE, 1.0, 0);
    add_filter(p, PF_VCPU, 1.0, 0);
    add_filter(p, PF_RAM, 1.0, 0);
    add_filter(p, PF_CAPACITY, 1.0, 0);
}

static const struct prefab {
    const char *name;
    int weigher;   /* -1 none, else enum pol_weigher_kind */
    double mult;
    int kind;      /* 0 weighed, 1 random, 2 best fit */
} prefabs[] = {
    {"Mem", PW_RAM, 1.0, 0},
    {"MemInv", PW_RAM, -1.0, 0},
    {"CoreMem", PW_CORE_RAM, 1.0, 0},
    {"CoreMemInv", PW_CORE_RAM, -1.0, 0},
    {"ActiveServers", PW_INSTANCE_COUNT, -1.0, 0},
    {"ActiveServersInv", PW_INSTANCE_COUNT, 1.0, 0},
    {"ProvisionedCores", PW_VCPU, 1.0, 0},
    {"ProvisionedCoresInv", PW_VCPU, -1.0, 0},
    {"Random", -1, 0.0, 1},
    {"FilterOnly", -1, 0.0, 2},
};

static const char *const names[] = {
    "Mem", "MemInv", "CoreMem", "CoreMemInv", "ActiveServers", "ActiveServersInv",
    "ProvisionedCores", "ProvisionedCoresInv", "Random", "FilterOnly", NULL,
};

const char *const *policy_names(void)
{
    return names;
}

int policy_named(const char *name, struct policy *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < ARRAY_LEN(prefabs); i++) {
        const struct prefab *f = &prefabs[i];
        if (strcasecmp(name, f->name) != 0)
            continue;
        init(p, f->name, f->kind == 2 ? PS_BEST_FIT : PS_WEIGHED);
        prefab_filters(p);
        if (f->weigher >= 0)
            add_weigher(p, (enum pol_weigher_kind)f->weigher, f->mult);
        if (f->kind == 1)
            p->subset_size = POL_SUBSET_ALL;
        return 0;
    }
    static const char *const unsupported[] = {
        "TaskNumMemorizing", "Timeshift", "ProvisionedCpuGpuCores", "ProvisionedCpuGpuCoresInv",
        "GpuTaskMemorizing",
    };
    for (size_t i = 0; i < ARRAY_LEN(unsupported); i++) {
        if (strcasecmp(name, unsupported[i]) == 0) {
            snprintf(err, errlen,
                     "policy '%s' is an OpenDC policy this scheduler does not implement "
                     "(memorizing, carbon time-shift and GPU policies are not supported)",
                     name);
            return -1;
        }
    }
    snprintf(err, errlen,
             "unknown policy '%s' (known: Mem, MemInv, CoreMem, CoreMemInv, ActiveServers, "
             "ActiveServersInv, ProvisionedCores, ProvisionedCoresInv, Random, FilterOnly)",
             name);
    return -1;
}

int policy_original(const char *weigher, const char *order, struct policy *p, char *err,
                    size_t errlen)
{
    bool max;
    if (!order || !strcmp(order, "min"))
        max = false;
    else if (!strcmp(order, "max"))
        max = true;
    else {
        snprintf(err, errlen, "--weigher-order must be min or max, not '%s'", order);
        return -1;
    }
    if (!weigher || !*weigher) {
        init(p, "first-fit", PS_WEIGHED);
    } else if (!strcmp(weigher, "instances")) {
        init(p, max ? "instances-max" : "instances-min", PS_WEIGHED);
        add_weigher(p, PW_INSTANCE_COUNT, max ? 1.0 : -1.0);
        p->ties_high_id = max;
    } else if (!strcmp(weigher, "vcpu")) {
        init(p, max ? "vcpu-max" : "vcpu-min", PS_WEIGHED);
        /* vcpu weight = ratio - used units: +1 prefers the least used */
        add_weigher(p, PW_VCPU, max ? -1.0 : 1.0);
        p->ties_high_id = max;
    } else {
        snprintf(err, errlen, "--weigher must be '', instances or vcpu, not '%s'", weigher);
        return -1;
    }
    /* The original's only test was cap >= need; a dead worker's node is
     * excluded here as well (B11). */
    add_filter(p, PF_COMPUTE, 1.0, 0);
    add_filter(p, PF_CAPACITY, 1.0, 0);
    return 0;
}

/* Split "name[:number]" into a lower-case name and an optional number. */
static int split_item(char *item, char **name, double *num, bool *has_num, char *err,
                      size_t errlen)
{
    char *colon = strchr(item, ':');
    *has_num = false;
    if (colon) {
        *colon = 0;
        char *v = str_trim(colon + 1);
        if (!parse_double(v, -1e9, 1e9, num)) {
            snprintf(err, errlen, "'%s': '%s' is not a number", str_trim(item), v);
            return -1;
        }
        *has_num = true;
    }
    *name = str_trim(item);
    for (char *c = *name; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return 0;
}

static int parse_filters(struct policy *p, const char *spec, char *err, size_t errlen)
{
    char *copy = xstrdup(spec), *save = NULL;
    int rc = 0;
    for (char *it = strtok_r(copy, ",", &save); it && !rc; it = strtok_r(NULL, ",", &save)) {
        char *name;
        double v = 1.0;
        bool has;
        if (split_item(it, &name, &v, &has, err, errlen) < 0) {
            rc = -1;
            break;
        }
        if (!*name)
            continue;
        if (p->nfilters >= POL_MAX_FILTERS - 2) {
            snprintf(err, errlen, "too many filters (max %d)", POL_MAX_FILTERS - 2);
            rc = -1;
        } else if (!strcmp(name, "compute")) {
            add_filter(p, PF_COMPUTE, 1.0, 0);
        } else if (!strcmp(name, "vcpu") || !strcmp(name, "ram")) {
            if (has && v <= 0) {
                snprintf(err, errlen, "%s: allocation ratio must be > 0", name);
                rc = -1;
            } else {
                add_filter(p, name[0] == 'v' ? PF_VCPU : PF_RAM, has ? v : 1.0, 0);
            }
        } else if (!strcmp(name, "instancecount")) {
            if (!has || v < 1 || v != floor(v)) {
                snprintf(err, errlen, "instanceCount needs a whole limit >= 1 (instanceCount:N)");
                rc = -1;
            } else {
                add_filter(p, PF_INSTANCE_COUNT, 1.0, (int64_t)v);
            }
        } else if (!strcmp(name, "vcpucapacity")) {
            add_filter(p, PF_VCPU_CAPACITY, 1.0, 0);
        } else if (!strcmp(name, "capacity")) {
            /* added below in any case */
        } else {
            snprintf(err, errlen,
                     "unknown filter '%s' (compute, vcpu[:ratio], ram[:ratio], "
                     "instanceCount:N, vcpuCapacity)", name);
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

static int parse_weighers(struct policy *p, const char *spec, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum pol_weigher_kind kind;
    } known[] = {
        {"ram", PW_RAM},           {"coreram", PW_CORE_RAM},
        {"instancecount", PW_INSTANCE_COUNT}, {"instances", PW_INSTANCE_COUNT},
        {"vcpu", PW_VCPU},         {"vcpucapacity", PW_VCPU_CAPACITY},
    };
    char *copy = xstrdup(spec), *save = NULL;
    int rc = 0;
    for (char *it = strtok_r(copy, ",", &save); it && !rc; it = strtok_r(NULL, ",", &save)) {
        char *name;
        double v = 1.0;
        bool has;
        if (split_item(it, &name, &v, &has, err, errlen) < 0) {
            rc = -1;
            break;
        }
        if (!*name)
            continue;
        size_t i;
        for (i = 0; i < ARRAY_LEN(known); i++)
            if (!strcmp(name, known[i].name))
                break;
        if (i == ARRAY_LEN(known)) {
            snprintf(err, errlen,
                     "unknown weigher '%s' (ram, coreRam, instanceCount, vcpu, vcpuCapacity)",
                     name);
            rc = -1;
        } else if (p->nweighers >= POL_MAX_WEIGHERS) {
            snprintf(err, errlen, "too many weighers (max %d)", POL_MAX_WEIGHERS);
            rc = -1;
        } else {
            add_weigher(p, known[i].kind, v);
        }
    }
    free(copy);
    return rc;
}

int policy_custom(const char *filters, const char *weighers, size_t subset_size,
                  struct policy *p, char *err, size_t errlen)
{
    init(p, "custom", PS_WEIGHED);
    if (subset_size < 1) {
        snprintf(err, errlen, "subset size must be >= 1");
        return -1;
    }
    p->subset_size = subset_size;
    if (parse_filters(p, filters ? filters : "compute,vcpu,ram", err, errlen) < 0)
        return -1;
    if (!has_filter(p, PF_CAPACITY))
        add_filter(p, PF_CAPACITY, 1.0, 0);
    /* a node without a live worker can run nothing, and the placement
     * script refuses it: choosing it would only stall the queue */
    if (!has_filter(p, PF_COMPUTE))
        add_filter(p, PF_COMPUTE, 1.0, 0);
    if (weighers && parse_weighers(p, weighers, err, errlen) < 0)
        return -1;
    return 0;
}

void policy_set_ratios(struct policy *p, double cpu_ratio, double ram_ratio)
{
    for (size_t i = 0; i < p->nfilters; i++) {
        if (p->filters[i].kind == PF_VCPU && cpu_ratio > 0)
            p->filters[i].ratio = cpu_ratio;
        if (p->filters[i].kind == PF_RAM && ram_ratio > 0)
            p->filters[i].ratio = ram_ratio;
    }
    for (size_t i = 0; i < p->nweighers; i++)
        if (p->weighers[i].kind == PW_VCPU && cpu_ratio > 0)
            p->weighers[i].ratio = cpu_ratio;
}

void policy_describe(const struct policy *p, char *buf, size_t len)
{
    static const char *fnames[] = {"compute", "capacity", "vcpu", "ram", "instanceCount",
                                   "vcpuCapacity"};
    static const char *wnames[] = {"ram", "coreRam", "instanceCount", "vcpu", "vcpuCapacity"};
    size_t o = 0;
#define PUT(...)                                                                  \
    do {                                                                          \
        int w_ = snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__);           \
        if (w_ > 0)                                                               \
            o += (size_t)w_;                                                      \
    } while (0)
    PUT("%s: filters ", p->name);
    for (size_t i = 0; i < p->nfilters; i++) {
        const struct pol_filter *f = &p->filters[i];
        PUT("%s%s", i ? "," : "", fnames[f->kind]);
        if (f->kind == PF_VCPU || f->kind == PF_RAM)
            PUT("(%g)", f->ratio);
        else if (f->kind == PF_INSTANCE_COUNT)
            PUT("(%lld)", (long long)f->limit);
    }
    if (p->select == PS_BEST_FIT) {
        PUT("; best fit on busy hosts, else first idle host");
    } else {
        PUT("; weighers ");
        if (!p->nweighers)
            PUT("none");
        for (size_t i = 0; i < p->nweighers; i++)
            PUT("%s%s(%+g)", i ? "," : "", wnames[p->weighers[i].kind],
                p->weighers[i].multiplier);
        if (p->subset_size == POL_SUBSET_ALL)
            PUT("; subset all");
        else
            PUT("; subset %zu", p->subset_size);
        if (p->ties_high_id)
            PUT("; ties to the largest id");
    }
#undef PUT
    if (len && o >= len)
        buf[len - 1] = 0;
}

static bool policy_uses(const struct policy *p, int filter, int weigher)
{
    for (size_t i = 0; i < p->nfilters; i++)
        if ((int)p->filters[i].kind == filter)
            return true;
    for (size_t i = 0; i < p->nweighers; i++)
        if ((int)p->weighers[i].kind == weigher)
            return true;
    return false;
}

int policy_from_opts(const struct policy_opts *o, struct policy *p, char *err, size_t errlen)
{
    const char *orig = o->weigher ? "--weigher" : o->order ? "--weigher-order" : NULL;
    const char *custom = o->filters ? "--filters" : o->weighers ? "--weighers" : NULL;
    if (o->name && (orig || custom)) {
        snprintf(err, errlen, "--policy and %s cannot be combined: --policy names a whole policy",
                 orig ? orig : custom);
        return -1;
    }
    if (orig && custom) {
        snprintf(err, errlen,
                 "%s and %s cannot be combined: choose the original's weigher or a custom "
                 "filter scheduler",
                 orig, custom);
        return -1;
    }
    int rc = o->name  ? policy_named(o->name, p, err, errlen)
             : custom ? policy_custom(o->filters, o->weighers, 1, p, err, errlen)
                      : policy_original(o->weigher, o->order, p, err, errlen);
    if (rc < 0)
        return -1;
    if (o->subset) {
        if (p->select != PS_WEIGHED) {
            snprintf(err, errlen,
                     "--subset-size does not apply to policy %s (it picks one best-fit host)",
                     p->name);
            return -1;
        }
        p->subset_size = (size_t)o->subset;
    }
    if (o->cpu_ratio > 0 && !policy_uses(p, PF_VCPU, PW_VCPU)) {
        snprintf(err, errlen,
                 "--cpu-allocation-ratio needs a vcpu filter or weigher, which policy %s does "
                 "not have (use --policy or --filters)",
                 p->name);
        return -1;
    }
    if (o->ram_ratio > 0 && !policy_uses(p, PF_RAM, -1)) {
        snprintf(err, errlen,
                 "--ram-allocation-ratio needs a ram filter, which policy %s does not have "
                 "(use --policy or --filters)",
                 p->name);
        return -1;
    }
    policy_set_ratios(p, o->cpu_ratio, o->ram_ratio);
    return 0;
}
