/* scheduler.c -- the central scheduler's loop: placement rounds (placer.c),
 * reaping dead workers, rejecting or reporting what blocks the queue, and
 * placements.jsonl; riding out Redis outages (common/redis.c). */
#include "sched/scheduler.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/util.h"
#include "sched/placer.h"
#include "sched/rq.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the loop ---- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* The scheduler's presence key expires this long after its last renewal. */
#define SCHED_BEAT_TTL_MS 8000

struct sched {
    struct jsonl_writer out;
    bool out_open;
    uint64_t write_errors_logged;
    const char *policy;     /* name in the records */
    char *who;              /* HOST:PID */
    struct jbuf line;
    int64_t last_flush_ns;
    struct log_limit place_log;   /* one info line per placement, at most one a second */
};

static void on_place(void *arg, const struct rq_head *t, const char *node, int64_t cap_left)
{
    struct sched *s = arg;
    struct jbuf *b = &s->line;
    jb_reset(b);
    jb_obj_open(b, NULL);
    jb_int(b, "ts_ms", now_wall_ms());
    jb_int(b, "task_id", t->id);
    jb_str(b, "node", node);
    jb_int(b, "cap_left", cap_left);
    jb_str(b, "policy", s->policy);
    jb_str(b, "scheduler", s->who);
    jb_obj_close(b);
    if (s->out_open)
        jsonl_add(&s->out, b);
    log_debug("dispatch -> node=%s task=%lld cpu_units=%lld cap_left=%lld%s%s", node,
              (long long)t->id, (long long)(t->cpu_units < 1 ? 1 : t->cpu_units),
              (long long)cap_left, t->pin ? " pinned=" : "", t->pin ? t->pin : "");
    uint64_t held;
    if (log_limit_pass(&s->place_log, 1000000000LL, &held)) {
        char more[64] = "";
        if (held)
            snprintf(more, sizeof more, " (and %llu more since the last line)",
                     (unsigned long long)held);
        log_info("placed task %lld on %s: %lld unit(s), %lld left there%s%s%s",
                 (long long)t->id, node, (long long)(t->cpu_units < 1 ? 1 : t->cpu_units),
                 (long long)cap_left, t->pin ? ", pinned to " : "", t->pin ? t->pin : "", more);
    }
}

static void flush_placements(struct sched *s, bool sync)
{
    if (!s->out_open)
        return;
    int rc = sync ? jsonl_sync(&s->out) : jsonl_flush(&s->out);
    s->last_flush_ns = now_mono_ns();
    if (rc < 0 && s->out.write_errors > s->write_errors_logged) {
        /* once per new error, not per round: the disk may stay full */
        log_error("cannot write %s: %s (%llu write error(s) so far; lines are kept and "
                  "written again)", s->out.path, strerror(errno),
                  (unsigned long long)s->out.write_errors);
        s->write_errors_logged = s->out.write_errors;
    }
}

/* After an rq error: true to go on (transient), false to give up. */
static bool rq_failed(struct rq *q, int rc, struct redis_outage *o)
{
    if (rc == RQ_ELAYOUT) {   /* another tracekit version's keys: never mixed */
        log_error("%s", rq_error(q));
        return false;
    }
    return redis_outage_failed(o, rc, rq_error(q), &stop_flag);
}

/* The head blocks the queue: reject it, or say so once. */
static int handle_blocked(struct rq *q, const struct placer *pl, const struct scheduler_conf *lo,
                          struct scheduler_stats *ls, int64_t *told_id, enum placer_block *told_why)
{
    if (pl->blocked_forever && lo->reject_unplaceable) {
        char reason[400];
        snprintf(reason, sizeof reason, "unplaceable: %s", pl->blocked_reason);
        int rc = rq_reject(q, pl->blocked_id, reason);
        if (rc == 1) {
            log_warn("rejected task %lld: %s", (long long)pl->blocked_id, pl->blocked_reason);
            ls->rejected++;
        }
        return rc; /* 0: no longer the head (another scheduler moved it) */
    }
    if (pl->blocked_id == *told_id && pl->blocked_why == *told_why)
        return 0;
    *told_id = pl->blocked_id;
    *told_why = pl->blocked_why;
    switch (pl->blocked_why) {
    case PB_NEVER:
        log_warn("task %lld can never be placed (%s); it blocks the queue until a bigger node "
                 "registers (or run with --reject-unplaceable)",
                 (long long)pl->blocked_id, pl->blocked_reason);
        break;
    case PB_PIN_UNKNOWN:
    case PB_PIN_DOWN:
        log_warn("task %lld waits: %s; the queue waits behind it", (long long)pl->blocked_id,
                 pl->blocked_reason);
        break;
    default:
        log_debug("task %lld waits: %s", (long long)pl->blocked_id, pl->blocked_reason);
        break;
    }
    return 0;
}

static int run_loop(struct rq *q, struct placer *pl, struct sched *s, const struct scheduler_conf *lo,
                    struct scheduler_stats *ls)
{
    struct redis_outage o = {0};
    int64_t next_reap = 0, told_id = 0, next_beat = 0;
    enum placer_block told_why = PB_NONE;
    while (!stop_flag) {
        int n = placer_round(pl);
        if (n < 0) {
            if (!rq_failed(q, n, &o))
                return -1;
            continue;
        }
        redis_outage_ok(&o);
        if (pl->blocked_id) {
            int rc = handle_blocked(q, pl, lo, ls, &told_id, &told_why);
            if (rc < 0 && !rq_failed(q, rc, &o))
                return -1;
            if (rc == 1)
                n = 1; /* the queue moved: no wait, place what is behind at once */
        } else {
            told_id = 0;
            told_why = PB_NONE;
        }
        int64_t now = now_mono_ns();
        if (now >= next_beat) {
            /* for dispatch's "no scheduler has been seen in run X" */
            int rc = rq_scheduler_beat(q, s->who, SCHED_BEAT_TTL_MS);
            if (rc < 0 && !rq_failed(q, rc, &o))
                return -1;
            next_beat = now + SCHED_BEAT_TTL_MS / 4 * 1000000LL;
        }
        if (now >= next_reap) {
            struct rq_reap_stats rs;
            int rc = rq_reap(q, lo->max_deliveries, &rs);
            if (rc < 0) {
                if (!rq_failed(q, rc, &o))
                    return -1;
                continue;
            }
            if (rs.workers || rs.requeued || rs.dead)
                log_info("reaped %lld dead worker(s): %lld task(s) requeued, %lld sent to the "
                         "dead-letter list", (long long)rs.workers, (long long)rs.requeued,
                         (long long)rs.dead);
            ls->workers += rs.workers;
            ls->requeued += rs.requeued;
            ls->dead += rs.dead;
            /* nothing can be found dead before the earliest deadline: wait
             * for it, up to a second (a worker registering meanwhile with a
             * shorter TTL is reaped at most that late) */
            int64_t gap = rs.next_ms > 1000 ? 1000 : rs.next_ms;
            if (gap < lo->reap_ms)
                gap = lo->reap_ms;
            next_reap = now + gap * 1000000;
        }
        if (n > 0 && !placer_used_up(pl)) {
            if (now - s->last_flush_ns > 200 * 1000000LL)
                flush_placements(s, false);
            continue; /* maybe more to place */
        }
        /* idle or blocked: flush, then wait for news (a wake-up from an
         * enqueue, completion, registration or reap) until the next reap */
        flush_placements(s, false);
        int64_t wait = (next_reap - now_mono_ns()) / 1000000;
        wait = wait < 1 ? 1 : wait > 1000 ? 1000 : wait;
        int rc = rq_wait(q, (int)wait);
        if (rc < 0 && !rq_failed(q, rc, &o))
            return -1;
    }
    return 0;
}

int scheduler_run(const struct scheduler_conf *c, struct scheduler_stats *st)
{
    const struct run_ctx *ctx = c->run;
    const struct redis_url *u = c->redis;
    const struct policy *pol = c->policy;
    char err[512];
    char *desc = redisurl_describe(u);
    int rc = TK_EXIT_FAIL;
    struct sched s = {0};
    jb_init(&s.line);
    struct rq_opts ro = {.run_id = ctx->run_id, .retry_ms = 30000};
    struct rq *q = rq_open_wait(u, &ro, c->connect_wait_ms, err, sizeof err);
    if (!q) {
        log_error("%s", err);
        goto out;
    }
    if (mkdir_p(ctx->run_dir, TK_DIR_MODE) < 0) {
        log_error("cannot create %s: %s", ctx->run_dir, strerror(errno));
        goto out;
    }
    char *path = path_join(ctx->run_dir, "placements.jsonl");
    if (jsonl_open(&s.out, path, 1000) < 0) {
        log_error("cannot open %s: %s", path, strerror(errno));
        free(path);
        goto out;
    }
    free(path);
    s.out_open = true;
    char *host = host_name();
    s.who = xasprintf("%s:%d", host, (int)getpid());
    free(host);
    s.policy = pol->name;
    s.last_flush_ns = now_mono_ns();

    char describe[512];
    policy_describe(pol, describe, sizeof describe);
    log_info("redis=%s run=%s policy=%s", desc, ctx->run_id, describe);

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waits end early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct placer pl;
    placer_init(&pl, q, pol, c->seed, c->batch);
    pl.on_place = on_place;
    pl.cb_arg = &s;
    struct scheduler_stats ls = {0};
    int lr = run_loop(q, &pl, &s, c, &ls);
    flush_placements(&s, true);
    log_info("stopping: placed %llu, conflicts %llu, rounds %llu, reaped %lld worker(s) "
             "(%lld task(s) requeued, %lld dead-lettered), rejected %lld",
             (unsigned long long)pl.st.placed, (unsigned long long)pl.st.conflicts,
             (unsigned long long)pl.st.rounds, (long long)ls.workers, (long long)ls.requeued,
             (long long)ls.dead, (long long)ls.rejected);
    ls.placed = pl.st.placed;
    ls.conflicts = pl.st.conflicts;
    ls.rounds = pl.st.rounds;
    if (st)
        *st = ls;
    placer_free(&pl);
    rc = lr == 0 ? TK_EXIT_OK : TK_EXIT_FAIL;
out:
    if (s.out_open && jsonl_close(&s.out) < 0 && rc == TK_EXIT_OK) {
        log_error("cannot write placements.jsonl: %s", strerror(errno));
        rc = TK_EXIT_FAIL;
    }
    jb_free(&s.line);
    free(s.who);
    rq_close(q);
    free(desc);
    return rc;
}
