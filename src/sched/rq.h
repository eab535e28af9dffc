/* rq.h -- the queue protocol of the scheduling plane on Redis: a reliable
 * task queue with atomic placement, leases renewed by heartbeats, fenced
 * completions, a reaper and a dead-letter list.  One struct rq is one
 * connection (common/redis.h); use one per thread.
 *
 * All keys live under "tk:RUN_ID:" and keep the original's names where the
 * concept survives (q:pending, q:NODE; a node's cap, cap_total, run_count,
 * phys, ratio are fields of one hash node:NODE, key layout 2);
 * docs/redis.md lists every key and the state machine.
 * Every state change is one Lua script (EVALSHA; reloaded after NOSCRIPT),
 * so it happens completely or not at all, and every script can be re-run
 * after a lost reply without doing its work twice: the connection
 * reconnects with exponential back-off and retries, also across a Redis
 * restart.
 *
 * Task life:  enqueue -> pending -> (place) placed on q:NODE -> (take)
 * running with a lease {worker, attempt, deadline} -> (complete) done or
 * failed.  A worker that stops heartbeating is reaped: its tasks go back to
 * the head of q:pending (after max deliveries: the dead list) and its
 * node's capacity is returned.  A completion from a superseded attempt is
 * recognised and changes nothing. */
#ifndef TK_RQ_H
#define TK_RQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redis.h"
#include "common/redisurl.h"
#include "sched/policy.h"

/* Return codes (negative) of every rq call: the connection's error classes
 * (common/redis.h); rq_error() has the message. */
enum {
    RQ_ECONN = REDIS_ECONN,       /* refused, reset, lost (after the retry budget) */
    RQ_ETIMEOUT = REDIS_ETIMEOUT, /* no answer in time */
    RQ_EAUTH = REDIS_EAUTH,       /* wrong user/password, or a password is required */
    RQ_EUNREACH = REDIS_EUNREACH, /* cannot resolve or reach the host */
    RQ_EPROTO = REDIS_EPROTO,     /* unexpected reply, old server */
    RQ_EARG = REDIS_EARG,         /* bad argument (id, JSON) */
    RQ_ESCRIPT = REDIS_ESCRIPT,   /* a script failed */
    RQ_ELAYOUT = -20,             /* the run's keys are of another key layout
                                     (another tracekit version): permanent */
};

/* The connection's options (struct redis_conn_opts) plus the run. */
struct rq_opts {
    const char *run_id;      /* key prefix tk:RUN_ID: (required) */
    int connect_timeout_ms;  /* per attempt; default 2000 */
    int op_timeout_ms;       /* per command; default 5000 */
    int retry_ms;            /* how long a call keeps reconnecting after the
                                connection is lost; 0 = default 30000,
                                < 0 = do not retry */
    int backoff_min_ms;      /* default 50 */
    int backoff_max_ms;      /* default 2000 */
};

struct rq;

/* Connect, AUTH [user] password, SELECT db, check the server (>= 6.2) and
 * load the scripts.  One attempt: a refused connection, a wrong password or
 * an unreachable host fails at once with a message (never the password).
 * Returns NULL with the message in err. */
struct rq *rq_open(const struct redis_url *u, const struct rq_opts *o, char *err,
                   size_t errlen);
/* rq_open, retrying with back-off (0.5 s doubling to 10 s) while the
 * server is down or unreachable, for up to wait_ms (a worker that boots
 * before the controller): a warning at the first failure and every 30 s,
 * an info line once connected.  A wrong password or an old server fails at
 * once.  NULL with err after the last attempt. */
struct rq *rq_open_wait(const struct redis_url *u, const struct rq_opts *o, int64_t wait_ms,
                        char *err, size_t errlen);
void rq_close(struct rq *q);
const char *rq_error(const struct rq *q);
const char *rq_prefix(const struct rq *q);
/* Reconnections done so far (for logs and tests). */
unsigned rq_reconnects(const struct rq *q);
/* The connection underneath (owned by q). */
struct redis_conn *rq_conn(struct rq *q);

/* Run, node and worker ids must pass run_id_valid() (run.h): safe in keys,
 * JSON, glob patterns and file names. */

/* ---- dispatcher side ---- */

/* Enqueue one task.  fields: a JSON object with the task's own fields
 * (upstream §7.3: input, output, cpu_units, ... or argv, mem_mb).  rq assigns
 * task_id and fills in trace_id (a UUID4) and ts_enqueue (the Redis server's
 * clock at the enqueue, ms) unless the fields carry them; the stored body is
 *   {"task_id": N, "trace_id": "...", <fields in order>, "ts_enqueue": T}.
 * cpu_units (default 1, < 1 -> 1) and mem_mb (default 0) drive placement;
 * "node" (a node id, or null) pins the task: it may be placed only on that
 * node (rq_place answers RQ_P_PINNED for any other); kept across requeues.
 * Safe to retry: the id is fixed before the call.  0 or < 0. */
int rq_enqueue(struct rq *q, const char *fields_json, int64_t *task_id);
/* n tasks in one pipelined round trip; ids may be NULL.  Returns how many
 * were enqueued (n) or < 0; on error some may have been enqueued. */
int rq_enqueue_many(struct rq *q, const char *const *fields_json, size_t n, int64_t *ids);
/* The same, with each task's ts_enqueue in ts (may be NULL): a task
 * without one in its fields is stamped with the Redis server's clock
 * (TIME) inside the enqueue script, so the stamp is the real enqueue time
 * on the clock that stamps ts_place, ts_start and ts_end; tasks enqueued
 * in one ms share the stamp, and task_id keeps their order. */
int rq_enqueue_stamped(struct rq *q, const char *const *fields_json, size_t n, int64_t *ids,
                       int64_t *ts);

/* Which of these task ids have no task in Redis any more (Redis lost the
 * enqueue: restarted from older data).  Returns how many, written to
 * missing (room for n), or < 0. */
int rq_missing(struct rq *q, const int64_t *ids, size_t n, int64_t *missing);
/* Enqueue again, with the same ids, tasks Redis lost: fields as enqueued
 * (with their trace_id and ts_enqueue, which they keep).  A task that
 * exists is left alone.  Returns n or < 0. */
int rq_enqueue_again(struct rq *q, const char *const *fields_json, const int64_t *ids,
                     size_t n);

/* ---- scheduler side ---- */

struct rq_host {
    char *node, *worker;        /* worker: "" if none */
    bool up;                    /* the node's worker is alive */
    int64_t cap, cap_total, run_count, mem, mem_total, phys, parallel;
    double ratio;
};

struct rq_head {
    int64_t id, cpu_units, mem_mb;
    char *pin;                  /* the only node it may go to; NULL = any */
};

struct rq_state {
    int64_t ver;                /* state version, for rq_place's expect_ver */
    int64_t seq;                /* node change number it is current to (rq_state_since) */
    bool partial;               /* hosts holds only the nodes changed since `since` */
    struct rq_host *hosts;      /* sorted by node id */
    size_t nhosts;
    struct rq_head *head;       /* first tasks of q:pending */
    size_t nhead;
    int64_t pending;            /* LLEN q:pending; -1 in a partial snapshot:
                                   more than nhead (not counted) */
};

/* One consistent snapshot: hosts, the first pending tasks (at most nhead,
 * and no more than the free slots, at least one), version.  RQ_ELAYOUT:
 * the run's nodes were registered with another key layout. */
int rq_state(struct rq *q, size_t nhead, struct rq_state *s);
/* The same, reading only the nodes changed after change number `since`
 * (s->partial; since 0: all, as rq_state), the caller keeping the others
 * from the snapshot whose s->seq it passes; hint: the free slots of the
 * nodes it keeps (bounds the head read).  Nodes are never unregistered
 * from a run, so a partial snapshot never drops one. */
int rq_state_since(struct rq *q, size_t nhead, int64_t since, int64_t hint,
                   struct rq_state *s);
void rq_state_free(struct rq_state *s);
/* Host i of the snapshot as the policy sees it (id points into s). */
void rq_host_to_pol(const struct rq_host *h, struct pol_host *out);

enum rq_place_status {
    RQ_P_OK,        /* placed */
    RQ_P_ALREADY,   /* this very call placed it already (retried after a lost reply) */
    RQ_P_STALE,     /* the task is no longer at the head of q:pending */
    RQ_P_VERSION,   /* the state changed since expect_ver */
    RQ_P_NOCAP,     /* not enough free units */
    RQ_P_BUSY,      /* the node's --parallel is reached */
    RQ_P_NOMEM,     /* not enough free memory */
    RQ_P_DOWN,      /* the node has no live worker */
    RQ_P_UNKNOWN,   /* no such node */
    RQ_P_GONE,      /* no such task */
    RQ_P_PINNED,    /* the task is pinned to another node */
};

struct rq_place_req {
    int64_t task_id;     /* must be the head of q:pending */
    const char *node;
    int64_t expect_ver;  /* < 0: do not check the version; in a batch the
                            first request's is checked once for the whole
                            batch (one script call), whose placements are
                            applied in order until one is refused */
    const struct rq_head *task; /* optional: the task's units, memory and pin
                            as a snapshot of expect_ver read them (they never
                            change); the script then does not read the task
                            hash when the version and the head match */
};

struct rq_place_res {
    enum rq_place_status st;
    int64_t ver;         /* the version after the call */
    int64_t cap_left;    /* the node's free units (OK, NOCAP, BUSY) */
};

/* Atomically: check the task is the head, may go to the node (its pin), the
 * node is up, has the units, memory and a --parallel slot; then take the
 * units and memory, move the task to q:NODE and count it in run_count (B7,
 * B8, B9). */
int rq_place(struct rq *q, const struct rq_place_req *r, struct rq_place_res *res);
/* Several placements in one script call, applied in order.  With a
 * version, once one fails every later one fails too (RQ_P_STALE: they were
 * decided on a state that no longer exists); the version rises by one per
 * placement (res[i].ver). */
int rq_place_many(struct rq *q, const struct rq_place_req *r, size_t n,
                  struct rq_place_res *res);
/* Take the head task out of the queue for good (e.g. it can never fit):
 * recorded as status "rejected" with the reason.  1 done, 0 not the head. */
int rq_reject(struct rq *q, int64_t task_id, const char *reason);

/* Wait up to timeout_ms for something a scheduler cares about (a task
 * enqueued, a task finished, capacity returned, a worker joined or was
 * reaped) instead of polling.  1 woken, 0 timed out, < 0 error. */
int rq_wait(struct rq *q, int timeout_ms);

struct rq_reap_stats {
    int64_t workers;    /* workers found dead and removed */
    int64_t requeued;   /* tasks put back at the head of q:pending */
    int64_t dead;       /* tasks moved to the dead-letter list */
    int64_t next_ms;    /* ms until the earliest liveness or lease deadline of
                           a live worker (nothing is found dead before); -1 none */
};
/* Reap workers whose liveness deadline passed and leases that ran out;
 * max_deliveries (>= 1) sends a task to the dead list instead. */
int rq_reap(struct rq *q, int max_deliveries, struct rq_reap_stats *st);

/* ---- worker side ---- */

struct rq_worker_info {
    const char *node, *worker;
    int64_t cap_total;      /* capacity units */
    int64_t phys;           /* logical CPUs */
    double ratio;           /* allocation ratio */
    int64_t mem_total_mb;   /* 0 = do not account memory */
    int64_t parallel;       /* max tasks committed to the node; 0 = no limit */
    int ttl_ms;             /* liveness: reaped this long after the last heartbeat */
    int max_deliveries;     /* used when reaping a dead predecessor */
};

enum { RQ_REG_OK = 0, RQ_REG_BUSY = 1, RQ_REG_CONFLICT = 2 };
/* Register (or re-register) a worker as the owner of its node.  A dead
 * previous owner is reaped first; capacity and run_count are recomputed
 * from the tasks actually committed to the node (no stale SETNX, B11).
 * With a --parallel lower than what is committed, tasks still queued on the
 * node go back to the head of q:pending.
 * RQ_REG_BUSY: another live worker owns the node; RQ_REG_CONFLICT: this
 * worker id is registered for another node.  *owner (may be NULL) gets the
 * other worker's id (malloc'd). */
int rq_register(struct rq *q, const struct rq_worker_info *w, char **owner);

enum { RQ_HB_OK = 0, RQ_HB_FENCED = 1 };
/* Renew the worker's liveness (ttl_ms) and the leases of its running tasks
 * (now + lease_ms; one lease per worker, in its node's hash).  RQ_HB_FENCED: this worker was reaped; stop, and
 * register again (its running tasks were requeued). */
int rq_heartbeat(struct rq *q, const char *worker, int ttl_ms, int lease_ms);

struct rq_task {
    int64_t id;
    int attempt;         /* 1 for the first delivery */
    int deliveries;
    int64_t cpu_units, mem_mb;
    char *body;          /* as enqueued */
    char *json;          /* body with "attempt": N appended */
};
void rq_task_free(struct rq_task *t);

enum { RQ_TAKE_NONE = 0, RQ_TAKE_OK = 1, RQ_TAKE_FENCED = 2 };
/* Take the next task of the node into this worker's in-flight list with a
 * lease (now + lease_ms), waiting up to timeout_ms (0 = do not wait).
 * held: ids this worker is running already; a task of its in-flight list
 * not among them (a reply lost to a reconnect) is returned first, with its
 * attempt unchanged: the list is looked through at the first take on this
 * connection, after a reconnect, while it finds such tasks and with
 * timeout_ms 0; otherwise BLMOVE, then one script call leases what it
 * moved (issue 21).  So the takes of one worker (all its threads) must be
 * serialised, and held must list every task the worker holds. */
int rq_take(struct rq *q, const char *worker, const char *node, const int64_t *held,
            size_t nheld, int timeout_ms, int lease_ms, struct rq_task *t);

enum { RQ_DONE_OK = 0, RQ_DONE_DUP = 1, RQ_DONE_SUPERSEDED = 2, RQ_DONE_GONE = 3 };
/* Finish attempt `attempt` of a task: return its units and memory, drop it
 * from run_count and the in-flight list, record done/failed exactly once
 * (RQ_DONE_DUP: this very completion was recorded before -- a retry).
 * RQ_DONE_SUPERSEDED: the attempt was requeued or re-delivered; nothing
 * changed. */
int rq_complete(struct rq *q, const char *worker, int64_t task_id, int attempt, bool ok,
                int rc);
/* The same, with the execution's id ("exec_id" of the ledger record and
 * the events record: an attempt may run twice when Redis loses writes) and
 * why a failed task failed: "error" (the end of its output) and "log" (its
 * log file on the worker's node); NULL or "" leaves a field out. */
int rq_complete_why(struct rq *q, const char *worker, int64_t task_id, int attempt,
                    const char *exec_id, bool ok, int rc, const char *error, const char *log);

/* Leave: hand back everything not completed (queued on the node and in
 * flight) to the head of q:pending without counting a delivery, return the
 * capacity and unregister (SIGTERM, B12).  Returns the tasks handed back. */
int rq_leave(struct rq *q, const char *worker);

/* ---- clocks, counters, checks ---- */

/* Offset of the Redis server clock (TIME) to this host's CLOCK_REALTIME,
 * server - local, in ms, from the sample with the smallest round trip
 * (NTP-style midpoint).  rtt_ms (may be NULL) gets that round trip. */
/* The scheduler says it is alive: KEY scheduler = who, expiring after
 * ttl_ms (it renews it every round).  0 or a REDIS_E* code. */
int rq_scheduler_beat(struct rq *q, const char *who, int ttl_ms);
/* Whether a scheduler is alive in the run (its beat has not expired) and
 * how many nodes have registered workers.  0 or a REDIS_E* code. */
int rq_presence(struct rq *q, bool *scheduler, long long *workers);

int rq_clock_offset(struct rq *q, int samples, double *offset_ms, double *rtt_ms);

struct rq_counts {
    int64_t enqueued, placed, done, failed, dead, rejected, requeued, superseded;
    int64_t pending;     /* LLEN q:pending */
    int64_t queued;      /* placed on a node, not yet taken (sum of LLEN q:NODE) */
    int64_t running;     /* taken by a worker (sum of LLEN inflight:WORKER) */
};
/* One atomic read of the counters. */
int rq_counts(struct rq *q, struct rq_counts *c);

/* The ledger: one JSON record per finished task (done, failed, dead,
 * rejected), oldest first.  Returns the count, *lines malloc'd (free each
 * and the array). */
long rq_results(struct rq *q, char ***lines);

/* Check every invariant in one atomic read: each task in exactly one place
 * that matches its state, and per node cap + committed units = cap_total,
 * cap >= 0, run_count = committed tasks <= parallel, memory likewise.
 * Blocks Redis for O(tasks): for tests and diagnosis.  0 consistent, 1 not
 * (why in msg), < 0 error. */
int rq_audit(struct rq *q, char *msg, size_t len);

/* ---- raw commands ---- */

/* redis_command() on this connection: reconnect/retry as every other call
 * (so it must be safe to repeat: SET, GET, UNLINK...).  lens may be NULL
 * (C strings).  Returns the hiredis reply (free with freeReplyObject; an
 * error reply is returned as is) or NULL with *rc < 0 and rq_error() set. */
struct redisReply *rq_raw(struct rq *q, int argc, const char **argv, const size_t *lens,
                          int *rc);

/* Delete every key of this run (SCAN + UNLINK, never KEYS).  Returns the
 * number of keys deleted or < 0. */
long rq_purge(struct rq *q);

#endif
