/* replay_load.h -- the files of an OpenDC workload folder read into the
 * replay model's input (replay.h): the workload as ComputeWorkloadLoader.kt
 * builds it, the hosts as OpenDC's TopologyFactory.kt builds them, and the
 * policy and scaling of experiment.json. */
#ifndef TK_OPENDC_REPLAY_LOAD_H
#define TK_OPENDC_REPLAY_LOAD_H

#include "opendc/replay.h"

struct rp_workload {
    struct rp_task *tasks;   /* malloc'd, sorted by submission (stable) */
    size_t ntasks;
    struct rp_frag *frags;   /* malloc'd, grouped by task */
    size_t nfrags;
    size_t dropped;          /* tasks without fragments (OpenDC drops them) */
};

/* DIR/tasks.parquet and DIR/fragments.parquet.  0, or -1 with err naming
 * the file: a fragment's cpu_usage not finite and >= 0 or its duration
 * beyond RP_MAX_MS / 1024 (and the row), two tasks of one id (OpenDC's
 * loader gives them one fragment list and collides them: ids are unique). */
int rp_load_workload(const char *dir, struct rp_workload *w, char *err, size_t errlen);
void rp_workload_free(struct rp_workload *w);

/* Hosts of a topology object (SDK or legacy keys), in the order OpenDC
 * builds them; *hosts malloc'd.  0, or -1 with err. */
int rp_hosts_json(const json_t *topo, struct rp_host **hosts, size_t *n, char *err, size_t errlen);

/* What DIR/experiment.json says, when there is one: its first topology
 * (*topo, a new reference, or NULL), first allocation policy (*have_policy)
 * and the first workload's scalingPolicy (*have_scaling).  0 (also when
 * there is no file), or -1 with err. */
int rp_load_experiment(const char *dir, json_t **topo, struct rp_policy *p, bool *have_policy, int *scaling,
                       bool *have_scaling, char *err, size_t errlen);


/* The whole replay of a folder: what the command asks, in. */
struct rp_setup {
    const char *dir;          /* tasks.parquet, fragments.parquet, [topology.json], [experiment.json] */
    const char *topology;     /* NULL: DIR/topology.json, else experiment.json's */
    const char *policy;       /* NULL: experiment.json's, else prefab Mem; a name, JSON or a file */
    int scaling;              /* -1: experiment.json's, else NoDelay */
    int64_t quantum_ms;
};
struct rp_replay {
    struct rp_workload w;
    struct rp_host *hosts;    /* malloc'd */
    size_t nhosts;
    struct rp_policy policy;
    int scaling;
    const char *policy_from, *scaling_from, *topology_from;   /* static text: where each came from */
    struct rp_result res;
};
/* Read, set up and run.  0, or -1 with err. */
int rp_replay_dir(const struct rp_setup *s, struct rp_replay *r, char *err, size_t errlen);
void rp_replay_free(struct rp_replay *r);

#endif
