/* worker.h -- the engine of `tracekit worker`: take the tasks the
 * scheduler places on this node from Redis and run each as a `tracekit
 * exec` child (task/runner.h); docs/redis.md, "Running a worker".
 *
 * Two parts:
 *   - the job table (worker_jobs_*): what the worker holds and in which
 *     state, its registration (generation), occupancy, drain.  Pure: no
 *     locks, no Redis, no processes, no clock of its own (times in ms are
 *     passed in), so a unit test drives it with made-up runner results;
 *   - the engine (worker_run): two threads around that table, one Redis
 *     connection each.  The taker waits in rq_take whenever a slot is free
 *     (late binding); the main thread spawns, reaps, completes, heartbeats,
 *     measures the clock offset, and handles signals and fencing.
 *
 * A job's life:
 *
 *     taken -> QUEUED -> RUNNING -> FINISHED -> gone (completion acknowledged)
 *              QUEUED ------------> FINISHED    rc 127: the body cannot run
 *                        RUNNING -> FENCED      its registration was reaped while
 *                                               alive: the child is stopped, the
 *                                               attempt never completed
 *                        RUNNING -> ABANDONED   a forced drain (second signal,
 *                                               --grace): likewise
 *     FENCED, ABANDONED -> gone when the child is reaped
 *     QUEUED, FINISHED  -> gone when their registration is fenced
 *
 * Every state but FINISHED holds one of the `slots` executor slots; nothing
 * is taken while they are all held, while draining, or while fenced. */
#ifndef TK_WORKER_H
#define TK_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/redisurl.h"
#include "common/run.h"
#include "task/runner.h"

/* ---- the job table ---- */

enum worker_job_state {
    WJ_QUEUED,     /* taken, not started yet */
    WJ_RUNNING,    /* its child runs */
    WJ_FINISHED,   /* ended (rc); its completion is not acknowledged by Redis yet */
    WJ_FENCED,     /* its registration was fenced: the child is being stopped */
    WJ_ABANDONED,  /* stopped by a forced drain: the child is being stopped */
};

struct worker_job {
    int64_t id;
    int attempt;
    char exec_id[17];          /* this execution: 16 random hex digits, new at each take */
    int gen;                   /* the registration it was taken under */
    enum worker_job_state st;
    pid_t pid;                 /* RUNNING, FENCED, ABANDONED */
    int rc;                    /* FINISHED: the task's rc (runner_rc) */
    char *body;                /* as taken, with "attempt" (owned by the table) */
};

struct worker_jobs {
    struct worker_job *v;
    size_t n, cap;
    int slots;                 /* executor slots: jobs holding one never exceed it */
    int gen;                   /* the current registration: 0, +1 at each fence */
    bool fenced;               /* the current registration was fenced: take nothing */
    bool stop;                 /* draining: take nothing more */
    bool forced;               /* the drain stopped the running children */
    int64_t grace_at;          /* draining: force at this time (ms); 0: no limit */
};

void worker_jobs_init(struct worker_jobs *t, int slots);
void worker_jobs_free(struct worker_jobs *t);

/* Jobs holding a slot (all but FINISHED). */
int worker_jobs_occupied(const struct worker_jobs *t);
/* May the taker take one more: not draining, not fenced, a slot free. */
bool worker_jobs_can_take(const struct worker_jobs *t);
/* The ids the current registration holds (for rq_take), into *ids
 * (malloc'd, may be empty).  Returns their count. */
size_t worker_jobs_held(const struct worker_jobs *t, int64_t **ids);
/* A task taken under registration gen.  false (nothing changes) when the
 * table does not take it: draining, gen superseded, or no slot free; the
 * task then stays in the worker's in-flight list in Redis, where the next
 * take or rq_leave hands it out again. */
bool worker_jobs_add(struct worker_jobs *t, int gen, int64_t id, int attempt, const char *body);

/* The next QUEUED job, or NULL; the caller starts it and says how it went
 * with worker_job_started or worker_job_finished (valid until the table
 * changes). */
struct worker_job *worker_jobs_next_queued(struct worker_jobs *t);
void worker_job_started(struct worker_job *j, pid_t pid);
/* Ended without a child, or the child exited with rc: FINISHED. */
void worker_job_finished(struct worker_job *j, int rc);

enum worker_exit {
    WJ_EXIT_UNKNOWN,  /* not a child of a job */
    WJ_EXIT_DONE,     /* a RUNNING job ended: now FINISHED, to complete */
    WJ_EXIT_STOPPED,  /* a FENCED or ABANDONED job's child is gone: removed */
};
/* Child pid exited with rc.  *job (may be NULL) gets a copy of the job
 * (body NULL). */
enum worker_exit worker_jobs_exited(struct worker_jobs *t, pid_t pid, int rc,
                                    struct worker_job *job);

/* The next FINISHED job to complete, copied into *job (body NULL);
 * false when there is none. */
bool worker_jobs_next_finished(const struct worker_jobs *t, struct worker_job *job);
/* Redis answered the completion of job (id, gen), whatever it said
 * (counted, a duplicate, superseded, gone): the job is removed and never
 * completed again.  false if it was no longer there as FINISHED. */
bool worker_jobs_completed(struct worker_jobs *t, int64_t id, int gen);

/* The current registration was seen fenced (by a take under gen, or a
 * heartbeat).  true if that is news. */
bool worker_jobs_see_fence(struct worker_jobs *t, int gen);
/* Handle a fence: a new registration (gen + 1); the old one's RUNNING jobs
 * become FENCED (their pids into *stop, malloc'd: SIGTERM them), its
 * QUEUED and FINISHED jobs are dropped (their tasks went back to the queue
 * and may run elsewhere already).  Stays fenced until
 * worker_jobs_registered.  Returns the count of pids. */
size_t worker_jobs_fence(struct worker_jobs *t, pid_t **stop);
/* Registered (again): takes may go on. */
void worker_jobs_registered(struct worker_jobs *t);

/* Begin draining at now_ms (> 0; first SIGTERM): take nothing more (what
 * Redis has queued for the node, or a take that races the signal, is handed
 * back by rq_leave); jobs taken already run and may finish until now_ms +
 * grace_ms (grace_ms < 0: no limit).  Returns the jobs holding a slot. */
int worker_jobs_drain(struct worker_jobs *t, int64_t now_ms, int64_t grace_ms);
/* The grace is over at now_ms. */
bool worker_jobs_grace_over(const struct worker_jobs *t, int64_t now_ms);
/* Force the drain (second signal, grace over, or cannot go on): every
 * RUNNING job becomes ABANDONED, pids into *stop (malloc'd: SIGTERM them).
 * Returns their count. */
size_t worker_jobs_abandon(struct worker_jobs *t, pid_t **stop);
/* Children being stopped (FENCED, ABANDONED), into *pids (malloc'd: SIGKILL
 * them when they take too long).  Returns their count. */
size_t worker_jobs_stopping(const struct worker_jobs *t, pid_t **pids);
/* Draining and nothing left: no job holds a slot, and every completion is
 * acknowledged (or the drain was forced: those are left to rq_leave). */
bool worker_jobs_idle(const struct worker_jobs *t);

/* The worker id of registration gen: NODE:PID, then NODE:PID.GEN. */
void worker_id(const char *node, int pid, int gen, char *buf, size_t len);

/* ---- the engine ---- */

struct worker_conf {
    const struct run_ctx *run;      /* run id, node id, stage, logs, run folder */
    const struct redis_url *redis;
    struct runner_conf runner;      /* how a task runs; run, node, stage, logs and parent
                                       are set by worker_run */
    enum runner_out out;            /* where a task's stdout/stderr go */
    const char *out_dir;            /* RUNNER_OUT_FILE: the folder */
    int64_t parallel;               /* max tasks committed to the node and executor
                                       slots; 0: no limit, slots = capacity units */
    int64_t capacity_units;         /* 0: max(1, trunc(ratio x CPUs)) */
    double ratio;                   /* allocation ratio */
    int64_t mem_mb;                 /* memory to account; 0: not accounted */
    bool clear_queue;               /* hand tasks queued for the node back at start */
    int ttl_ms;                     /* liveness; heartbeats every ttl_ms / 4 */
    int lease_ms;                   /* a running task's lease (>= ttl_ms) */
    int max_deliveries;             /* when reaping a dead predecessor */
    int64_t grace_ms;               /* SIGTERM: wait this long for running tasks; < 0: no limit */
    int64_t connect_wait_ms;        /* at start, retry an unreachable Redis this long */
};

struct worker_stats {
    int64_t started;                /* children spawned */
    int64_t done, failed;           /* completions sent, by rc */
    int64_t not_counted;            /* completions Redis refused: superseded or gone */
    int64_t fences;                 /* times this worker was fenced */
    int64_t handed_back;            /* tasks handed back when leaving */
};

/* Register as the node's worker, run what is placed on it until SIGTERM or
 * SIGINT (then drain: see --help), hand back what is left and leave.
 * Logs what it does; SIGTERM, SIGINT and SIGCHLD are blocked in the calling
 * thread from then on.  Returns TK_EXIT_OK or TK_EXIT_FAIL; *st (may be
 * NULL) gets what happened. */
int worker_run(const struct worker_conf *c, struct worker_stats *st);

#endif
