/* embed.h -- the scheduling plane of `tracekit local`, in memory: the same
 * FIFO queue, the same placement rule and the same ledger as the Redis flow
 * (rq + placer + worker), for one machine and no server.
 *
 * Pure: no I/O and no clock of its own; times are passed in.  What the
 * Redis flow does in its scripts is done here in the same order, so a
 * deterministic policy places the same tasks on the same nodes:
 *   - strict FIFO: only the head of the queue is placed; when it fits
 *     nowhere, nothing behind it is (head-of-line blocking);
 *   - a pinned task ("node" field) is decided among its node only;
 *   - placing takes the task's units (at least 1) and memory and counts it
 *     in the node's instances; --parallel caps instances (B9);
 *   - finishing gives them back and writes one ledger line, exactly once. */
#ifndef TK_EMBED_H
#define TK_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jsonl.h"
#include "sched/policy.h"
#include "sched/pyrand.h"

struct emb_node {
    char *id;
    int64_t units_total, units_free;
    int64_t mem_total, mem_free;   /* MiB; 0 total = not accounted */
    int64_t instances;             /* placed and not finished */
    int64_t parallel;              /* 0 = no limit */
    int64_t cores;                 /* logical CPUs behind the node */
    double ratio;                  /* allocation ratio */
};

enum emb_state { EMB_PENDING, EMB_RUNNING, EMB_DONE, EMB_FAILED, EMB_REJECTED };

struct emb_task {
    int64_t id;                    /* 1, 2, ... in enqueue order */
    char *trace_id;
    char *body;                    /* {"task_id", "trace_id", <fields>, "ts_enqueue"} */
    int64_t cpu_units, mem_mb;     /* as placement counts them (units >= 1) */
    int pin;                       /* node index, or -1 */
    char *pin_name;                /* the pinned node's name (may be unknown) */
    enum emb_state state;
    int node;                      /* where it was placed, -1 before */
    int64_t ts_enqueue, ts_place, ts_start, ts_end;
    int rc;
    char *error, *log;             /* a failed task's end of output and log file, or NULL */
    char exec_id[17];              /* its execution's id (docs/formats.md), "" = none */
};

struct embed {
    struct emb_node *nodes;        /* sorted by id, like the Redis snapshot */
    size_t nnodes;
    struct emb_task *tasks;        /* by id - id_base - 1 */
    size_t ntasks, cap;
    int64_t id_base;               /* task ids are id_base + 1, + 2, ... (--append) */
    size_t *queue;                 /* pending task indices, FIFO */
    size_t qhead, qlen, qcap;
    struct policy pol;
    struct pyrand rng;
    const char *worker_suffix;     /* ledger "worker": NODE:SUFFIX */
    uint64_t placed, done, failed, rejected;
};

/* nodes: n entries, copied and sorted by id.  0 or -1 (duplicate id). */
int embed_init(struct embed *e, const struct emb_node *nodes, size_t n, const struct policy *p,
               int64_t seed, const char *worker_suffix, char *err, size_t errlen);
void embed_free(struct embed *e);
/* Node index by id, or -1. */
int embed_node(const struct embed *e, const char *id);

/* Enqueue a task from the fields a dispatcher sends (workload_enqueue_fields:
 * the task's fields with trace_id and ts_enqueue; cpu_units, mem_mb and node
 * read as rq reads them).  The body is stored as rq stores it (workload_body).
 * Returns the task id (1, 2, ...) or -1 with err. */
int64_t embed_enqueue(struct embed *e, const char *fields, char *err, size_t errlen);
/* The body of a task (index) as a worker receives it: with "attempt": 1
 * (malloc'd). */
char *embed_body(const struct embed *e, size_t task);

enum emb_place { EMB_PLACED, EMB_EMPTY, EMB_BLOCKED, EMB_NEVER };
/* Decide the head of the queue.  EMB_PLACED: *task (index) is placed on
 * tasks[*task].node at now_ms.  EMB_BLOCKED: it fits nowhere now.
 * EMB_NEVER: it can never fit (bigger than every node, or pinned to an
 * unknown node): the caller may embed_reject it. */
enum emb_place embed_place(struct embed *e, int64_t now_ms, size_t *task);
/* Take the head out for good (status "rejected", reason).  Ledger line in
 * out (may be NULL). */
void embed_reject(struct embed *e, const char *reason, int64_t now_ms, struct jbuf *out);
/* The task started (its command was released). */
void embed_started(struct embed *e, size_t task, int64_t now_ms);
/* The task ended with rc (done iff 0): capacity back, ledger line in out. */
void embed_finish(struct embed *e, size_t task, int rc, int64_t now_ms, struct jbuf *out);
/* Why a task failed, for its ledger record ("error", "log"), before
 * embed_finish; copied, NULL or "" leaves a field out. */
void embed_set_why(struct embed *e, size_t task, const char *error, const char *log);

/* The placement line (placements.jsonl). */
void embed_placement_json(const struct embed *e, size_t task, const char *scheduler,
                          struct jbuf *out);
/* Tasks pinned to each node and not started (drip/online backlog); out has
 * nnodes slots. */
void embed_backlog(const struct embed *e, int64_t *out);

#endif
