/* local.h -- the engine of `tracekit local`: a whole run on one machine
 * with no Redis server.  It releases a task list as the pacer says
 * (pacer.h) into the in-memory scheduling plane (embed.h), places the head
 * of the queue with the central scheduler's policy, runs each placed task
 * at once through `tracekit exec` (runner.h) and reaps it, and writes
 * RUN_DIR/submitted.jsonl, placements.jsonl and ledger.jsonl as the Redis
 * flow does; the collector, when asked, samples the whole run.
 *
 * SIGINT, SIGTERM or SIGHUP: start no more tasks and wait for the running
 * ones; a second one terminates them (SIGKILL 5 s later). */
#ifndef TK_LOCAL_H
#define TK_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jsonl.h"
#include "common/run.h"
#include "sched/pacer.h"
#include "sched/policy.h"
#include "sched/workload.h"
#include "task/runner.h"

struct local_conf {
    const struct run_ctx *ctx;   /* the run: id, node id (scheduler name), stage, logs */
    const char *pid_dir;         /* NULL: exec's and the collector's default */
    const struct workload *w;    /* the tasks */
    struct pace_cfg pace;        /* when each is released */
    const struct policy *pol;    /* where each is placed */
    int64_t seed;                /* of the policy's subset picks */
    char *const *nodes;          /* node names; tasks pinned elsewhere are an error */
    size_t nnodes;
    int64_t capacity;            /* units per node; 0: logical CPUs x ratio / nodes */
    int64_t node_mem_mb;         /* per node; 0: not accounted */
    int64_t parallel;            /* tasks at once per node; 0: no limit but units */
    double ratio;                /* allocation ratio */
    bool reject;                 /* reject a task that can never be placed, and go on */
    struct runner_conf rc;       /* binding, weight, ffmpeg, orphan wait, self_exe (the
                                  * run's fields, node and parent are set here) */
    enum runner_out out;         /* where tasks' output goes */
    const char *out_dir;         /* ... the folder, for RUNNER_OUT_FILE */
    bool collect;                /* run the collector around the tasks */
    int64_t interval_ms, host_interval_ms;
    bool realtime;
    bool quiet;                  /* no progress line, no summary line */
    int64_t id_base;             /* --append: task ids follow the run's last, id_base */
};

struct local_result {
    bool ran;                    /* tasks were started: the summary means something */
    size_t tasks;
    uint64_t done, failed, rejected, not_run;
    double elapsed_s;
    bool collected;              /* the collector ran */
};

/* The units of each of n nodes: capacity, or cpus x ratio shared among
 * them (at least 1). */
int64_t local_node_units(int cpus, int64_t capacity, double ratio, size_t n);

/* Run it.  Returns the exit code: TK_EXIT_OK when every task succeeded (or
 * there was none), TK_EXIT_USAGE for a task pinned to an unknown node,
 * else TK_EXIT_FAIL.  r is filled in any case. */
int local_run(const struct local_conf *c, struct local_result *r);

/* The summary as one JSON object (--json). */
void local_summary_json(const struct local_conf *c, const struct local_result *r,
                        struct jbuf *b);

#endif
