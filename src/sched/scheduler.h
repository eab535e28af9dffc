/* scheduler.h -- the central scheduler (`tracekit scheduler`): takes the
 * run's queue in FIFO order, places each task with a policy through
 * placer.c, reaps workers that stopped heartbeating, appends one line per
 * placement to RUN_DIR/placements.jsonl, and rides out Redis outages.
 * SIGTERM/SIGINT end it after the round. */
#ifndef TK_SCHEDULER_H
#define TK_SCHEDULER_H

#include "common/redisurl.h"
#include "common/run.h"
#include "sched/policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scheduler_conf {
    const struct run_ctx *run;      /* run id and folder */
    const struct redis_url *redis;
    const struct policy *policy;
    int64_t seed;                   /* of the policy's subset picks */
    size_t batch;                   /* placements per Redis round trip */
    int reap_ms;                    /* look for dead workers this often */
    int max_deliveries;             /* a task whose worker died this often: dead letter */
    bool reject_unplaceable;        /* reject a task that can never be placed */
    int64_t connect_wait_ms;        /* at start, retry an unreachable Redis this long */
};

struct scheduler_stats {
    uint64_t placed, conflicts, rounds;
    int64_t workers, requeued, dead, rejected;  /* reaped workers; their tasks; rejected */
};

/* Place until SIGTERM/SIGINT (TK_EXIT_OK) or a failure that cannot be
 * ridden out: Redis refusing the password, placements.jsonl not
 * writable (TK_EXIT_FAIL, logged).  *st (if not NULL) gets the counts. */
int scheduler_run(const struct scheduler_conf *c, struct scheduler_stats *st);

#endif
