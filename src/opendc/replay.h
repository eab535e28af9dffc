/* replay.h -- a model of how OpenDC HEAD replays a workload (docs/replay.md):
 * workload + topology + allocation policy in, schedule out.  Pure: no
 * files (replay_load.c reads them).  Every rule cites the OpenDC source it
 * follows; what is not modelled is listed in docs/replay.md. */
#ifndef TK_OPENDC_REPLAY_H
#define TK_OPENDC_REPLAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A task as ComputeWorkloadLoader.kt builds it: memory already in MiB
 * (round(mem_capacity / 1000)), its fragments frag[frag0 .. frag0+nfrag). */
struct rp_task {
    int32_t id;
    int64_t sub_ms;      /* epoch ms, as in tasks.parquet */
    int32_t cores;       /* cpu_count */
    double cap_mhz;      /* cpu_capacity */
    int64_t mem_mib;
    size_t frag0, nfrag;
};

/* Bound on simulated ms (about 146 years): sums of a few stay in int64. */
#define RP_MAX_MS (INT64_C(1) << 52)

struct rp_frag {
    int64_t dur_ms;
    double usage_mhz;
};

/* One simulated host (a topology host entry, replicated by its counts). */
struct rp_host {
    char name[64];      /* unique, as OpenDC names copies */
    int type;           /* index of the host entry's name (FilterScheduler's host type) */
    int32_t cores;
    double core_mhz;
    int64_t mem_mib;
};

enum { RP_F_COMPUTE, RP_F_VCPU, RP_F_RAM, RP_F_VCPU_CAPACITY, RP_F_INSTANCE_COUNT, RP_F_SAME_HOST,
       RP_F_DIFFERENT_HOST };
enum { RP_W_RAM, RP_W_CORE_RAM, RP_W_INSTANCE_COUNT, RP_W_VCPU, RP_W_VCPU_CAPACITY };
enum { RP_MAX_FILTERS = 8, RP_MAX_WEIGHERS = 8 };

struct rp_filter {
    int kind;
    double ratio;        /* allocationRatio (vcpu, ram) */
    int64_t limit;       /* instanceCount */
};
struct rp_weigher {
    int kind;
    double mult;
};
struct rp_policy {
    char name[64];       /* prefab name, or "filter" */
    struct rp_filter f[RP_MAX_FILTERS];
    int nf;
    struct rp_weigher w[RP_MAX_WEIGHERS];
    int nw;
    int64_t subset;      /* accepted, unused at HEAD */
};

enum { RP_NODELAY, RP_PERFECT };
enum { RP_PENDING, RP_COMPLETED, RP_TERMINATED };

struct rp_input {
    const struct rp_task *tasks;   /* in loader order (sorted by submission) */
    size_t ntasks;
    const struct rp_frag *frags;
    size_t nfrags;
    const struct rp_host *hosts;   /* in the order OpenDC builds them */
    size_t nhosts;
    struct rp_policy policy;
    int scaling;
    int64_t quantum_ms;            /* > 0 */
};

struct rp_out_task {
    int32_t id;
    int host;            /* -1 when never placed */
    int64_t sub_ms, start_ms, finish_ms;   /* ms from the earliest submission; -1 if none */
    int state;
};

struct rp_result {
    struct rp_out_task *tasks;     /* ntasks, input order; malloc'd */
    size_t ntasks;
    int64_t t0_ms;                 /* the earliest submission (epoch ms) = simulated 0 */
    int64_t makespan_ms;           /* last finish (simulated ms) */
    size_t completed, terminated;
    double *host_busy_mhz_ms;      /* nhosts: supplied MHz x ms; malloc'd */
    size_t nhosts;
};

/* Run the model.  0, or -1 with err (an input the model cannot run). */
int rp_run(const struct rp_input *in, struct rp_result *out, char *err, size_t errlen);
void rp_result_free(struct rp_result *r);

/* A policy from a prefab name ("Mem", "MemInv", ...), or from OpenDC's SDK
 * JSON form ({"type":"prefab","prefabName":...} or {"type":"filter",
 * "filters":[...],"weighers":[...],"subsetSize":N}).  0, or -1 with err. */
int rp_policy_prefab(const char *name, struct rp_policy *p, char *err, size_t errlen);
int rp_policy_json(const json_t *j, struct rp_policy *p, char *err, size_t errlen);

/* Max-min fair shares of cap among demand[0..n) into got (MaxMinFairness-
 * FlowDistributor.java): the smallest demands first, each the lesser of
 * its demand and an equal share of what is left. */
void rp_maxmin(double cap, const double *demand, size_t n, double *got);

#endif
