/* dispatch.h -- the engine of `tracekit dispatch`: put a task list into a
 * run's Redis queue (rq.h) as the pacer (pacer.h) releases it, writing each
 * stored task to RUN_DIR/submitted.jsonl; optionally wait until every task
 * has a result, and write the run's ledger to RUN_DIR/ledger.jsonl sorted
 * by task id.
 *
 * The pure parts take records, not Redis, so a unit test drives them
 * (tests/unit/test_dispatch.c): the tally of our tasks' results (outcome
 * counts, makespan and wait quantiles), the ledger's order, the summary
 * and the exit code.  Times are in ms, all of the Redis server's clock
 * (ts_enqueue is stamped by the enqueue script: docs/redis.md, "Tasks"). */
#ifndef TK_DISPATCH_H
#define TK_DISPATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jsonl.h"
#include "common/redisurl.h"
#include "sched/pacer.h"
#include "sched/workload.h"

/* ---- results, statistics, the ledger and the summary (pure) ---- */

/* What became of the tasks waited for. */
struct dispatch_outcome {
    int64_t done, failed, dead, rejected, unfinished;
    bool has_stats;                   /* the three below are set */
    double makespan_ms;               /* first ts_enqueue to last ts_end */
    double wait_p50_ms, wait_p95_ms;  /* ts_start - ts_enqueue, stats_quantile */
};

/* The results of one dispatch's tasks, as ledger records come in. */
struct dispatch_tally {
    const int64_t *ids;               /* our task ids, ascending (borrowed) */
    size_t n;
    json_t **rec;                     /* per id: its first record, or NULL */
    struct dispatch_outcome oc;       /* unfinished starts at n */
};

void dispatch_tally_init(struct dispatch_tally *t, const int64_t *ids, size_t n);
void dispatch_tally_free(struct dispatch_tally *t);
/* One ledger record (a JSON line).  Counted by its "status" (done, dead,
 * rejected; anything else is failed) when its task_id is ours and it is
 * that task's first record; true then.  Malformed, foreign and repeated
 * records are skipped. */
bool dispatch_tally_add(struct dispatch_tally *t, const char *line);
/* Makespan and wait quantiles of the records taken; has_stats stays false
 * without a ts_enqueue, a ts_end and one task with both ts_enqueue and
 * ts_start. */
void dispatch_tally_stats(struct dispatch_tally *t);

/* Sort a ledger's lines by task_id, in place; records with equal ids keep
 * their order, lines without a task id go to the end in theirs.  Returns
 * how many lines had no task id. */
size_t dispatch_ledger_sort(char **lines, size_t n);

/* What one dispatch did (dispatch_run fills it). */
struct dispatch_result {
    size_t tasks, enqueued, pinned;
    bool started;                     /* got to enqueueing: the summary means something */
    bool wait;                        /* asked to wait */
    bool waited;                      /* everything enqueued, then waited for */
    bool failed;                      /* Redis or the ledger failed */
    bool interrupted;                 /* SIGINT or SIGTERM */
    bool timed_out;
    struct dispatch_outcome oc;       /* when waited */
    int64_t elapsed_ms;
    char *submitted, *ledger;         /* paths (malloc'd); ledger NULL when not written */
};
void dispatch_result_free(struct dispatch_result *r);
/* TK_EXIT_OK: all enqueued (having waited: all done); else TK_EXIT_FAIL. */
int dispatch_exit_code(const struct dispatch_result *r);
/* The summary line on stderr (without "interrupted" or "timed out"). */
void dispatch_summary_text(const struct dispatch_result *r, const char *run_id, char *buf,
                           size_t len);
/* The summary as one JSON object (--json). */
void dispatch_summary_json(const struct dispatch_result *r, const char *run_id, struct jbuf *b);

/* ---- the engine (Redis) ---- */

struct dispatch_conf {
    const struct redis_url *redis;
    const char *run_id, *run_dir;
    const struct workload *w;         /* the tasks, in order */
    struct pace_cfg pace;
    bool online;                      /* duration-online: every node may get tasks */
    bool wait;                        /* wait for the results, write the ledger */
    int64_t timeout_ms;               /* of the wait; 0: none */
    bool quiet;                       /* no progress line, no summary */
};

/* Connect, enqueue as paced, wait if asked, log the summary.  SIGINT and
 * SIGTERM stop it early (their handlers are restored after).  Returns the
 * exit code; r is filled in any case (dispatch_result_free). */
int dispatch_run(const struct dispatch_conf *c, struct dispatch_result *r);

#endif
