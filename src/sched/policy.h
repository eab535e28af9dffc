/* policy.h -- pure host selection for the central scheduler: OpenDC's
 * FilterScheduler (filters, then weighers min-max normalised and multiplied
 * by a signed multiplier, summed, best first, a pick among the best
 * `subset_size`), OpenDC's named policies, and the original scheduler's
 * `--weigher ''|instances|vcpu --weigher-order min|max`.
 *
 * No I/O: the caller passes a snapshot of the hosts and the task at the head
 * of the queue; the result is an index into the hosts array.  Determinism:
 * the only randomness is the pick inside the subset, drawn from a seeded
 * pyrand, and no number is drawn when the subset has one host.
 *
 * Units: a host's CPU is counted in the worker's capacity units
 * (`cap_total`, logical CPUs x the worker's allocation ratio) and `cores`
 * (logical CPUs, OpenDC's coreCount); memory in MiB.  See docs/redis.md for
 * where each number comes from and how this compares with OpenDC. */
#ifndef TK_POLICY_H
#define TK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/pyrand.h"

struct pol_host {
    const char *id;         /* node id */
    bool up;                /* has a live worker */
    int64_t cores;          /* logical CPUs; 0 = unknown (units_total is used) */
    int64_t units_total;    /* capacity units (cap_total) */
    int64_t units_free;     /* free capacity units (cap) */
    int64_t mem_total_mb;   /* 0 = unknown: RAM filters pass */
    int64_t mem_free_mb;
    int64_t instances;      /* tasks committed to the host: queued there or running */
    int64_t max_parallel;   /* the worker's --parallel; 0 = no limit */
    double core_mhz;        /* per-core speed; 0 = unknown */
};

struct pol_task {
    int64_t cpu_units;      /* < 1 counts as 1, like the original */
    int64_t mem_mb;         /* 0 = none */
    double mhz_per_core;    /* for the vcpuCapacity filter/weigher; 0 = none */
};

enum pol_filter_kind {
    PF_COMPUTE,        /* host up */
    PF_CAPACITY,       /* free units and MiB >= need, --parallel not reached (always on) */
    PF_VCPU,           /* OpenDC VCpuFilter(ratio) on cores and provisioned units */
    PF_RAM,            /* OpenDC RamFilter(ratio) */
    PF_INSTANCE_COUNT, /* instances < limit */
    PF_VCPU_CAPACITY,  /* host per-core MHz >= task per-core MHz */
};

enum pol_weigher_kind {
    PW_RAM,            /* free MiB */
    PW_CORE_RAM,       /* free MiB per core */
    PW_INSTANCE_COUNT, /* instances */
    PW_VCPU,           /* ratio - provisioned units (OpenDC's formula) */
    PW_VCPU_CAPACITY,  /* host MHz - task MHz per core */
};

struct pol_filter {
    enum pol_filter_kind kind;
    double ratio;       /* PF_VCPU, PF_RAM */
    int64_t limit;      /* PF_INSTANCE_COUNT */
};

struct pol_weigher {
    enum pol_weigher_kind kind;
    double multiplier;  /* sign: + prefers a high raw value, - a low one */
    double ratio;       /* PW_VCPU */
};

enum pol_select {
    PS_WEIGHED,   /* Nova, and OpenDC before PR #371 (see opendc.md §3.7) */
    PS_BEST_FIT,  /* OpenDC HEAD without weighers: busy host with the fewest
                     free cores (then MiB) that fits, else the first idle one */
};

#define POL_MAX_FILTERS 8
#define POL_MAX_WEIGHERS 8
#define POL_SUBSET_ALL ((size_t)-1)

struct policy {
    char name[40];
    enum pol_select select;
    struct pol_filter filters[POL_MAX_FILTERS];
    size_t nfilters;
    struct pol_weigher weighers[POL_MAX_WEIGHERS];
    size_t nweighers;
    size_t subset_size;  /* >= 1; POL_SUBSET_ALL = any feasible host */
    bool ties_high_id;   /* equal scores: largest id first (original "max" order) */
};

/* One feasible host in rank order. */
struct pol_rank {
    size_t host;   /* index into the hosts array */
    double score;  /* summed weights (PS_WEIGHED), 0 otherwise */
};

/* Named OpenDC policies (case-insensitive, like OpenDC's prefab lookup):
 * Mem, MemInv, CoreMem, CoreMemInv, ActiveServers, ActiveServersInv,
 * ProvisionedCores, ProvisionedCoresInv, Random, and FilterOnly (OpenDC
 * HEAD's filter policy without weighers).  Returns 0, or -1 with err. */
int policy_named(const char *name, struct policy *p, char *err, size_t errlen);
/* NULL-terminated list of the accepted names, for --help. */
const char *const *policy_names(void);

/* The original scheduler: weigher "" (or NULL) = first fit (smallest node
 * id), "instances" (run_count) or "vcpu" (units in use); order "min" or
 * "max" (NULL = min).  With "max", equal metrics go to the largest id, like
 * the original's descending tuple sort.  Returns 0 or -1 with err. */
int policy_original(const char *weigher, const char *order, struct policy *p, char *err,
                    size_t errlen);

/* A custom FilterScheduler: filters "compute,vcpu:1.5,ram:1.0,
 * instanceCount:8,vcpuCapacity" and weighers "ram:-1,instanceCount:1,
 * coreRam,vcpu:1,vcpuCapacity" (multiplier after ':', default 1).  Names are
 * OpenDC's SDK types, case-insensitive.  The capacity and compute checks
 * are always added (the placement script enforces both).
 * Returns 0 or -1 with err. */
int policy_custom(const char *filters, const char *weighers, size_t subset_size,
                  struct policy *p, char *err, size_t errlen);

/* A policy from command-line options, as `tracekit scheduler` and
 * `tracekit local` take them: exactly one of --policy NAME, the original's
 * --weigher/--weigher-order, or --filters/--weighers; then --subset-size
 * and the allocation ratios, each refused where the policy has no use for
 * it.  Returns 0, or -1 with a usage message naming the options. */
struct policy_opts {
    const char *weigher, *order;     /* --weigher, --weigher-order */
    const char *name;                /* --policy */
    const char *filters, *weighers;  /* --filters, --weighers */
    int64_t subset;                  /* --subset-size; 0 = not given */
    double cpu_ratio, ram_ratio;     /* 0 = not given */
};
int policy_from_opts(const struct policy_opts *o, struct policy *p, char *err, size_t errlen);

/* Overcommit for the vcpu and ram filters (and the vcpu weigher);
 * a value <= 0 leaves that ratio unchanged. */
void policy_set_ratios(struct policy *p, double cpu_ratio, double ram_ratio);

/* One line such as "Mem: filters compute,vcpu(1),ram(1),capacity;
 * weighers ram(+1); subset 1". */
void policy_describe(const struct policy *p, char *buf, size_t len);

/* Filter, weigh and pick.  ranked (n slots, may be NULL) receives the
 * feasible hosts best first and *nranked their count.  Returns the chosen
 * host's index, or -1 if no host passes the filters.  rng may be NULL when
 * subset_size is 1. */
long policy_select(const struct policy *p, const struct pol_host *hosts, size_t n,
                   const struct pol_task *t, struct pyrand *rng, struct pol_rank *ranked,
                   size_t *nranked);

/* Apply a placement to a host snapshot, as the placement script does:
 * the task's units (at least 1) and memory are taken, instances + 1.  Lets a
 * scheduler decide several queued tasks from one snapshot. */
void policy_commit(struct pol_host *h, const struct pol_task *t);

/* True if no host could ever take the task, even empty (needs more units
 * or memory than the largest host): waiting for it would block the queue
 * forever.  False when there are no hosts at all (they may still come). */
bool policy_never_fits(const struct pol_host *hosts, size_t n, const struct pol_task *t);

/* Exposed for tests and for explaining decisions in logs. */
bool policy_filter_pass(const struct pol_filter *f, const struct pol_host *h,
                        const struct pol_task *t);
double policy_weigher_raw(const struct pol_weigher *w, const struct pol_host *h,
                          const struct pol_task *t);

#endif
