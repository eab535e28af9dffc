/* worker.c -- `tracekit worker`: take the tasks placed on this node from
 * Redis and run each as a `tracekit exec` child (runner.c).
 *
 * Two threads, one Redis connection each (hiredis is not thread-safe):
 *   the taker waits in rq_take (BLMOVE) whenever an executor slot is free
 *     (late binding) and hands what it took to the main thread;
 *   the main thread owns the children and everything else: it spawns, reaps
 *     (SIGCHLD through a signalfd), completes at once, heartbeats, measures
 *     the clock offset, and handles SIGTERM/SIGINT and fencing.
 * Children are started with posix_spawn only (this process has threads). */
#include "cmd/commands.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/redisurl.h"
#include "sched/rq.h"
#include "common/run.h"
#include "task/runner.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define TAKE_WAIT_MS 2000     /* one BLMOVE; the taker re-checks its stop flag after it */
#define KILL_AFTER_MS 5000    /* SIGTERM -> SIGKILL for children we stop */
#define CLOCK_EVERY_MS 60000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit worker --run-id ID [OPTIONS]\n"
            "\n"
            "Run the tasks the scheduler places on this node: take each from Redis only when\n"
            "an executor slot is free, run it as 'tracekit exec' (same event records, PID\n"
            "sentinels and CPU binding), complete it at once, heartbeat while tasks run.\n"
            "SIGTERM/SIGINT: take nothing more, let running tasks finish (up to --grace),\n"
            "hand queued tasks back and return the node's capacity, exit 0; a second signal\n"
            "stops the running tasks too (their tasks go back to the queue).\n"
            "\n"
            "Redis:\n"
            "  --redis URL              redis://[USER][:PASSWORD@]HOST[:PORT][/DB] or unix://\n"
            "                           (default: $TRACEKIT_REDIS_URL, else %s)\n"
            "  --redis-password-file F  the password, first line of F (keeps it out of ps)\n"
            "Run:\n"
            "  --run-id ID              the run (required: $RUN_ID or run_id.env also work)\n"
            "  --node-id NAME           this node (default: $NODE_ID, else the host name)\n"
            "  --stage NAME             stage in the records (default: $STAGE, else cloud)\n"
            "  --logs DIR               logs folder (default: logs)\n"
            "  --pid-dir DIR            sentinel folder for the collector (default: exec's,\n"
            "                           logs/RUN_ID/pids)\n"
            "Capacity (the original's flags):\n"
            "  --parallel N             at most N tasks committed to this node (queued or\n"
            "                           running) and N executor slots (default 0: no limit\n"
            "                           beyond capacity; slots = capacity units)\n"
            "  --capacity-units N       capacity units (default 0: computed)\n"
            "  --allocation-ratio R     capacity = max(1, trunc(R x CPUs this process may use))\n"
            "                           (default 1.0)\n"
            "  --mem-mb N               memory to account, MiB (default 0: not accounted)\n"
            "  --reset-capacity         accepted for compatibility: capacity is always\n"
            "                           recomputed from the tasks committed to the node when\n"
            "                           the worker registers\n"
            "  --clear-queue            hand tasks already queued for this node back to\n"
            "                           q:pending at start (nothing is deleted)\n"
            "Tasks:\n"
            "  --cpu-binding MODE       exclusive (default): each task pinned to free CPUs of\n"
            "                           its own; with capacity above the CPUs (--allocation-\n"
            "                           ratio > 1) the tasks that find no free CPUs run\n"
            "                           unpinned and their records say so; shared: a cgroup\n"
            "                           CPU weight per task; none\n"
            "  --cpuweight-per-vcpu N   shared: weight = N x cpu_units, 1-10000 (default 100)\n"
            "  --outputs DIR            write an ffmpeg task's output as DIR/<its base name>\n"
            "                           (default: the task's own output path)\n"
            "  --ffmpeg PATH            ffmpeg for ffmpeg tasks (default: ffmpeg)\n"
            "  --task-output DIR|inherit|null\n"
            "                           where a task's stdout/stderr go (default: one file per\n"
            "                           attempt, logs/RUN_ID/task-output/task-ID.aN.log)\n"
            "  --orphan-wait SEC        passed to exec: how long leftovers of a task may run\n"
            "Liveness:\n"
            "  --ttl SEC                reaped this long after the last heartbeat (default 3;\n"
            "                           heartbeats every TTL/4)\n"
            "  --lease SEC              a running task's lease, renewed by heartbeats\n"
            "                           (default 3 x TTL)\n"
            "  --max-deliveries N       dead-letter a task after N deliveries, when this worker\n"
            "                           reaps a dead predecessor (default 3)\n"
            "  --grace SEC              on SIGTERM, wait at most SEC for running tasks\n"
            "                           (default: until they finish)\n"
            "\n"
            "  -q, --quiet              only warnings and errors\n"
            "  -v, --verbose            debug messages\n"
            "  -h, --help               this text\n"
            "\n"
            "Writes logs/RUN_ID/clock.jsonl: the offset to the Redis server clock at start and\n"
            "every 60 s.  Children never see TRACEKIT_REDIS_URL or REDISCLI_AUTH.\n",
            REDISURL_DEFAULT);
}

/* ---- state shared by the two threads (under mu) ---- */

enum job_state {
    J_QUEUED,     /* taken, not started yet */
    J_RUNNING,    /* child running */
    J_FINISHED,   /* child gone, completion not yet acknowledged by Redis */
    J_ABANDONED,  /* child being stopped; its attempt does not count */
};

struct job {
    int64_t id;
    int attempt;
    int gen;            /* registration it was taken under */
    enum job_state st;
    pid_t pid;
    int rc;
    char *body;
};

struct worker {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *jobs;
    size_t njobs, cap;
    int slots;
    bool stop;          /* take nothing more */
    bool fenced;        /* the taker was told it is fenced */
    bool taker_done;
    int gen;
    char id[200];       /* current worker id */
    int efd;            /* taker -> main */

    /* constant after start */
    const char *node;
    int lease_ms;
    struct rq *tq;      /* the taker's connection */
};

static int occupied(const struct worker *w)
{
    int n = 0;
    for (size_t i = 0; i < w->njobs; i++)
        n += w->jobs[i].st != J_FINISHED;
    return n;
}

static struct job *job_find(struct worker *w, int64_t id, int gen)
{
    for (size_t i = 0; i < w->njobs; i++)
        if (w->jobs[i].id == id && w->jobs[i].gen == gen)
            return &w->jobs[i];
    return NULL;
}

static struct job *job_by_pid(struct worker *w, pid_t pid)
{
    for (size_t i = 0; i < w->njobs; i++)
        if (w->jobs[i].pid == pid && (w->jobs[i].st == J_RUNNING || w->jobs[i].st == J_ABANDONED))
            return &w->jobs[i];
    return NULL;
}

static void job_remove(struct worker *w, struct job *j)
{
    free(j->body);
    *j = w->jobs[--w->njobs];
}

static void notify(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

static int64_t mono_ms(void)
{
    return now_mono_ns() / 1000000;
}

/* ---- the taker thread ---- */

static void *taker_main(void *arg)
{
    struct worker *w = arg;
    int backoff = 0;
    int64_t retry_at = 0;
    bool warned = false;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && (w->fenced || occupied(w) >= w->slots || mono_ms() < retry_at)) {
            if (mono_ms() < retry_at) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                int64_t ms = retry_at - mono_ms();
                ts.tv_sec += ms / 1000;
                ts.tv_nsec += (ms % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&w->cv, &w->mu, &ts);
            } else {
                pthread_cond_wait(&w->cv, &w->mu);
            }
        }
        if (w->stop)
            break;
        /* held: every task this registration holds, so rq_take never hands
         * one of them out again */
        size_t nheld = 0;
        int64_t *held = xmalloc((w->njobs + 1) * sizeof *held);
        for (size_t i = 0; i < w->njobs; i++)
            if (w->jobs[i].gen == w->gen && w->jobs[i].st != J_ABANDONED)
                held[nheld++] = w->jobs[i].id;
        char id[sizeof w->id];
        memcpy(id, w->id, sizeof id);
        int gen = w->gen;
        pthread_mutex_unlock(&w->mu);

        struct rq_task t;
        int rc = rq_take(w->tq, id, w->node, held, nheld, TAKE_WAIT_MS, w->lease_ms, &t);
        free(held);

        pthread_mutex_lock(&w->mu);
        if (rc == RQ_TAKE_OK) {
            /* stopping: leave it in flight, rq_leave hands it back; an old
             * registration: superseded already */
            if (!w->stop && gen == w->gen) {
                if (w->njobs == w->cap) {
                    w->cap = w->cap ? 2 * w->cap : 16;
                    w->jobs = xrealloc(w->jobs, w->cap * sizeof *w->jobs);
                }
                w->jobs[w->njobs++] = (struct job){t.id, t.attempt, gen, J_QUEUED, 0, 0,
                                                   xstrdup(t.json)};
                notify(w->efd);
            }
            rq_task_free(&t);
        } else if (rc == RQ_TAKE_FENCED) {
            if (gen == w->gen && !w->fenced) {
                w->fenced = true;
                notify(w->efd);
            }
        } else if (rc < 0) {
            backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2)
                              : BACKOFF_MIN_MS;
            if (!warned)
                log_warn("cannot take tasks: %s; trying again with back-off (up to %d s)",
                         rq_error(w->tq), BACKOFF_MAX_MS / 1000);
            else
                log_debug("take still failing: %s; next try in %d ms", rq_error(w->tq), backoff);
            warned = true;
            retry_at = mono_ms() + backoff;
        }
        if (rc >= 0) {
            if (warned)
                log_info("taking tasks again");
            warned = false;
            backoff = 0;
            retry_at = 0;
        }
    }
    w->taker_done = true;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- the main thread ---- */

struct main_ctx {
    struct worker *w;
    struct rq *q;
    const struct runner_conf *rc;
    enum runner_out out;
    const char *out_dir;
    struct rq_worker_info info;
    char wid[200];         /* info.worker: the id last registered */
    int pid;
    char *clock_path;
    int ttl_ms;
    bool redis_down;
    int64_t retry_at;      /* next try of failed completions, heartbeat, register */
    int backoff;
    bool stopping, forced;
    bool need_register;    /* fenced: register again under the new id */
    int64_t grace_at, kill_at;
    int exit_rc;
};

/* Redis failed in the main thread: log once per outage, back off. */
static void main_redis_failed(struct main_ctx *m, const char *what)
{
    m->backoff = m->backoff ? (m->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : m->backoff * 2)
                            : BACKOFF_MIN_MS;
    if (!m->redis_down)
        log_warn("%s: %s; running tasks go on, trying again with back-off (up to %d s)", what,
                 rq_error(m->q), BACKOFF_MAX_MS / 1000);
    else
        log_debug("%s: %s; next try in %d ms", what, rq_error(m->q), m->backoff);
    m->redis_down = true;
    m->retry_at = mono_ms() + m->backoff;
}

static void main_redis_ok(struct main_ctx *m)
{
    if (m->redis_down)
        log_info("Redis is reachable again");
    m->redis_down = false;
    m->backoff = 0;
    m->retry_at = 0;
}

static void write_clock(struct main_ctx *m)
{
    double off, rtt;
    if (rq_clock_offset(m->q, 5, &off, &rtt) != 0) {
        log_debug("clock offset not measured: %s", rq_error(m->q));
        return;
    }
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_int(&b, "ts_ms", now_wall_ms());
    jb_str(&b, "node", m->info.node);
    pthread_mutex_lock(&m->w->mu);
    jb_str(&b, "worker", m->w->id);
    pthread_mutex_unlock(&m->w->mu);
    jb_str(&b, "ref", "redis");
    jb_fixed(&b, "offset_ms", off, 3);
    jb_fixed(&b, "rtt_ms", rtt, 3);
    jb_obj_close(&b);
    if (jsonl_append_line(m->clock_path, &b) < 0)
        log_warn("cannot append to %s: %s", m->clock_path, strerror(errno));
    jb_free(&b);
    log_debug("clock offset to Redis %.3f ms (round trip %.3f ms)", off, rtt);
}

/* Send the completions of finished tasks (all of them: also after an
 * outage).  Returns false if Redis failed. */
static bool complete_finished(struct main_ctx *m)
{
    struct worker *w = m->w;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        struct job *j = NULL;
        for (size_t i = 0; i < w->njobs && !j; i++)
            if (w->jobs[i].st == J_FINISHED)
                j = &w->jobs[i];
        if (!j) {
            pthread_mutex_unlock(&w->mu);
            return true;
        }
        int64_t id = j->id;
        int attempt = j->attempt, rc = j->rc, gen = j->gen;
        char wid[sizeof w->id];
        memcpy(wid, w->id, sizeof wid);
        bool current = gen == w->gen;
        pthread_mutex_unlock(&w->mu);

        int r = current ? rq_complete(m->q, wid, id, attempt, rc == 0, rc) : RQ_DONE_SUPERSEDED;
        if (r < 0) {
            main_redis_failed(m, "cannot report a finished task");
            return false;
        }
        main_redis_ok(m);
        if (r == RQ_DONE_SUPERSEDED || r == RQ_DONE_GONE)
            log_warn("task %lld attempt %d: finished (rc %d) but %s; not counted", (long long)id,
                     attempt, rc,
                     r == RQ_DONE_GONE ? "the task no longer exists"
                                       : "it was requeued or delivered again meanwhile");
        pthread_mutex_lock(&w->mu);
        j = job_find(w, id, gen);
        if (j && j->st == J_FINISHED)
            job_remove(w, j);
        pthread_mutex_unlock(&w->mu);
    }
}

/* Start what the taker handed over; a body that cannot be run finishes at
 * once as failed. */
static void start_queued(struct main_ctx *m)
{
    struct worker *w = m->w;
    char err[1024];
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->njobs; i++) {
        struct job *j = &w->jobs[i];
        if (j->st != J_QUEUED)
            continue;
        struct runner_task t;
        if (runner_build(m->rc, j->body, &t, err, sizeof err) != 0) {
            log_error("%s; completing it as failed (rc %d)", err, RUNNER_RC_BAD);
            j->st = J_FINISHED;
            j->rc = RUNNER_RC_BAD;
            continue;
        }
        pid_t pid = runner_spawn(&t, m->out, m->out_dir, err, sizeof err);
        if (pid < 0) {
            log_error("task %lld: %s; completing it as failed (rc %d)", (long long)j->id, err,
                      RUNNER_RC_BAD);
            j->st = J_FINISHED;
            j->rc = RUNNER_RC_BAD;
        } else {
            j->st = J_RUNNING;
            j->pid = pid;
            log_debug("task %lld attempt %d: started, pid %d", (long long)j->id, j->attempt,
                      (int)pid);
        }
        runner_task_free(&t);
    }
    pthread_mutex_unlock(&w->mu);
}

static void reap_children(struct main_ctx *m)
{
    struct worker *w = m->w;
    pid_t pid;
    int rc;
    while (runner_reap(false, &pid, &rc) == 1) {
        pthread_mutex_lock(&w->mu);
        struct job *j = job_by_pid(w, pid);
        if (j && j->st == J_ABANDONED) {
            log_debug("task %lld attempt %d: stopped (rc %d)", (long long)j->id, j->attempt, rc);
            job_remove(w, j);
        } else if (j) {
            j->st = J_FINISHED;
            j->rc = rc;
            if (rc != 0)
                log_info("task %lld attempt %d: failed, rc %d", (long long)j->id, j->attempt, rc);
            else
                log_debug("task %lld attempt %d: done", (long long)j->id, j->attempt);
        }
        pthread_cond_broadcast(&w->cv); /* a slot is free */
        pthread_mutex_unlock(&w->mu);
    }
}

/* SIGTERM every running child (its process group), mark it abandoned. */
static int stop_children(struct worker *w, bool all_gens)
{
    int n = 0;
    for (size_t i = 0; i < w->njobs; i++) {
        struct job *j = &w->jobs[i];
        if (j->st == J_RUNNING && (all_gens || j->gen != w->gen)) {
            kill(-j->pid, SIGTERM);
            j->st = J_ABANDONED;
            n++;
        }
    }
    return n;
}

static void kill_abandoned(struct worker *w)
{
    for (size_t i = 0; i < w->njobs; i++)
        if (w->jobs[i].st == J_ABANDONED)
            kill(-w->jobs[i].pid, SIGKILL);
}

/* This worker was reaped while alive (fenced): its tasks went back to the
 * queue and may run elsewhere already, so stop ours and register again
 * under a new id. */
static void handle_fence(struct main_ctx *m)
{
    struct worker *w = m->w;
    pthread_mutex_lock(&w->mu);
    int old = w->gen;
    char old_id[sizeof w->id];
    memcpy(old_id, w->id, sizeof old_id);
    w->gen++; /* from now on every job of `old` is superseded */
    int stopped = stop_children(w, false);
    for (size_t i = 0; i < w->njobs;) {
        if (w->jobs[i].gen == old && w->jobs[i].st != J_ABANDONED)
            job_remove(w, &w->jobs[i]);
        else
            i++;
    }
    snprintf(w->id, sizeof w->id, "%s:%d.%d", m->info.node, m->pid, w->gen);
    w->fenced = true;
    pthread_mutex_unlock(&w->mu);
    log_warn("worker %s was fenced (reaped while alive: a long pause or a Redis outage); its "
             "tasks went back to the queue; stopping %d running task(s), registering again as %s",
             old_id, stopped, w->id);
    if (stopped)
        m->kill_at = mono_ms() + KILL_AFTER_MS;
}

/* Register w->id; false if Redis failed (try again later, unless initial).
 * BUSY/CONFLICT are fatal: exit_rc is set. */
static bool do_register(struct main_ctx *m, bool initial)
{
    struct worker *w = m->w;
    pthread_mutex_lock(&w->mu);
    memcpy(m->wid, w->id, sizeof m->wid);
    pthread_mutex_unlock(&w->mu);
    const char *id = m->wid;
    m->info.worker = m->wid;
    char *owner = NULL;
    int rc = rq_register(m->q, &m->info, &owner);
    if (rc < 0) {
        if (initial)
            log_error("cannot register worker %s for node %s: %s", id, m->info.node,
                      rq_error(m->q));
        else
            main_redis_failed(m, "cannot register");
        if (initial)
            m->exit_rc = TK_EXIT_FAIL;
        return false;
    }
    main_redis_ok(m);
    if (rc == RQ_REG_BUSY)
        log_error("node %s is owned by worker %s, which is alive: one worker per node (stop it, "
                  "or give this one another --node-id)",
                  m->info.node, owner ? owner : "?");
    else if (rc == RQ_REG_CONFLICT)
        log_error("worker id %s is registered for node %s, not %s", id, owner ? owner : "?",
                  m->info.node);
    free(owner);
    if (rc != RQ_REG_OK) {
        m->exit_rc = TK_EXIT_FAIL;
        return false;
    }
    pthread_mutex_lock(&w->mu);
    w->fenced = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return true;
}

static void begin_stop(struct main_ctx *m, double grace_s)
{
    struct worker *w = m->w;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    int n = occupied(w);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    m->stopping = true;
    if (grace_s >= 0)
        m->grace_at = mono_ms() + (int64_t)(grace_s * 1000);
    log_info("stopping: taking no more tasks; waiting for %d running task(s)%s", n,
             grace_s >= 0 ? " (up to --grace)" : "");
}

static void force_stop(struct main_ctx *m, const char *why)
{
    struct worker *w = m->w;
    pthread_mutex_lock(&w->mu);
    int n = stop_children(w, true);
    pthread_mutex_unlock(&w->mu);
    m->forced = true;
    m->grace_at = 0;
    if (n)
        m->kill_at = mono_ms() + KILL_AFTER_MS;
    log_info("%s: stopping %d running task(s); they go back to the queue", why, n);
}

static int64_t min_deadline(int64_t a, int64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

static int main_loop(struct main_ctx *m, int sfd, double grace_s)
{
    struct worker *w = m->w;
    int hb_every = m->ttl_ms / 4 > 0 ? m->ttl_ms / 4 : 1;
    int64_t next_hb = mono_ms() + hb_every, next_clock = mono_ms() + CLOCK_EVERY_MS;
    for (;;) {
        int64_t now = mono_ms();
        /* while Redis is down, retry_at stands for the heartbeat too */
        int64_t due = min_deadline(m->redis_down ? 0 : next_hb, m->stopping ? 0 : next_clock);
        due = min_deadline(due, m->retry_at);
        due = min_deadline(due, m->grace_at);
        due = min_deadline(due, m->kill_at);
        int timeout = due > now ? (int)(due - now) : 0;
        struct pollfd fds[2] = {{sfd, POLLIN, 0}, {w->efd, POLLIN, 0}};
        if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            return TK_EXIT_FAIL;
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                if (si.ssi_signo == SIGCHLD)
                    continue;
                if (!m->stopping)
                    begin_stop(m, grace_s);
                else if (!m->forced)
                    force_stop(m, "second signal");
            }
            reap_children(m);
        }
        if (fds[1].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(w->efd, &v, sizeof v);
            (void)r;
        }
        now = mono_ms();
        /* fenced (seen by the taker or a heartbeat): stop that registration's
         * tasks, then register again under a new id */
        pthread_mutex_lock(&w->mu);
        bool fenced = w->fenced;
        pthread_mutex_unlock(&w->mu);
        if (fenced && !m->need_register) {
            handle_fence(m);
            m->need_register = true;
        }
        start_queued(m);
        bool redis_try = !m->redis_down || now >= m->retry_at;
        if (redis_try && complete_finished(m) && m->need_register && !m->stopping) {
            if (do_register(m, false)) {
                m->need_register = false;
                log_info("registered again as %s", m->info.worker);
            } else if (m->exit_rc) {
                m->need_register = false;
                begin_stop(m, -1);
                force_stop(m, "cannot register again");
            }
        }
        /* heartbeats; while Redis is down they are the probe, after the back-off */
        if (m->redis_down ? now >= m->retry_at : now >= next_hb) {
            next_hb = now + hb_every;
            pthread_mutex_lock(&w->mu);
            char id[sizeof w->id];
            memcpy(id, w->id, sizeof id);
            fenced = w->fenced;
            pthread_mutex_unlock(&w->mu);
            int r = fenced ? RQ_HB_OK : rq_heartbeat(m->q, id, m->ttl_ms, w->lease_ms);
            if (r < 0) {
                main_redis_failed(m, "heartbeat failed");
            } else if (!fenced) {
                main_redis_ok(m);
                if (r == RQ_HB_FENCED) {
                    pthread_mutex_lock(&w->mu);
                    w->fenced = true;
                    pthread_mutex_unlock(&w->mu);
                    notify(w->efd); /* handled at the top of the next turn */
                }
            }
        }
        if (!m->stopping && now >= next_clock) {
            if (!m->redis_down) /* else skip this one */
                write_clock(m);
            next_clock = mono_ms() + CLOCK_EVERY_MS;
        }
        if (m->grace_at && mono_ms() >= m->grace_at)
            force_stop(m, "--grace expired");
        if (m->kill_at && mono_ms() >= m->kill_at) {
            pthread_mutex_lock(&w->mu);
            kill_abandoned(w);
            pthread_mutex_unlock(&w->mu);
            m->kill_at = 0;
        }
        if (m->stopping) {
            pthread_mutex_lock(&w->mu);
            bool busy = false, unsent = false;
            for (size_t i = 0; i < w->njobs; i++) {
                busy |= w->jobs[i].st != J_FINISHED;
                unsent |= w->jobs[i].st == J_FINISHED;
            }
            pthread_mutex_unlock(&w->mu);
            if (!busy && (!unsent || m->forced))
                return m->exit_rc;
        }
        /* nothing probed Redis this turn: never spin on a past deadline */
        if (m->redis_down && m->retry_at <= mono_ms())
            m->retry_at = mono_ms() + (m->backoff ? m->backoff : BACKOFF_MIN_MS);
    }
}

/* ---- the command ---- */

enum {
    OPT_REDIS = 256, OPT_PWFILE, OPT_RUN_ID, OPT_NODE_ID, OPT_STAGE, OPT_LOGS, OPT_PID_DIR,
    OPT_OUTPUTS, OPT_PARALLEL, OPT_RATIO, OPT_BINDING, OPT_WEIGHT, OPT_CAPACITY, OPT_RESET,
    OPT_CLEAR, OPT_MEM, OPT_TTL, OPT_LEASE, OPT_MAXDEL, OPT_FFMPEG, OPT_TASK_OUTPUT, OPT_GRACE,
    OPT_ORPHAN_WAIT,
};

static bool opt_seconds(const char *name, const char *s, double min, double *out)
{
    if (!parse_double(s, min, 86400 * 365, out)) {
        cli_error("invalid %s '%s': expected seconds from %g", name, s, min);
        return false;
    }
    return true;
}

int cmd_worker(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, OPT_REDIS},
        {"redis-password-file", required_argument, NULL, OPT_PWFILE},
        {"run-id", required_argument, NULL, OPT_RUN_ID},
        {"node-id", required_argument, NULL, OPT_NODE_ID},
        {"stage", required_argument, NULL, OPT_STAGE},
        {"logs", required_argument, NULL, OPT_LOGS},
        {"pid-dir", required_argument, NULL, OPT_PID_DIR},
        {"outputs", required_argument, NULL, OPT_OUTPUTS},
        {"parallel", required_argument, NULL, OPT_PARALLEL},
        {"allocation-ratio", required_argument, NULL, OPT_RATIO},
        {"cpu-binding", required_argument, NULL, OPT_BINDING},
        {"cpuweight-per-vcpu", required_argument, NULL, OPT_WEIGHT},
        {"capacity-units", required_argument, NULL, OPT_CAPACITY},
        {"reset-capacity", no_argument, NULL, OPT_RESET},
        {"clear-queue", no_argument, NULL, OPT_CLEAR},
        {"mem-mb", required_argument, NULL, OPT_MEM},
        {"ttl", required_argument, NULL, OPT_TTL},
        {"lease", required_argument, NULL, OPT_LEASE},
        {"max-deliveries", required_argument, NULL, OPT_MAXDEL},
        {"ffmpeg", required_argument, NULL, OPT_FFMPEG},
        {"task-output", required_argument, NULL, OPT_TASK_OUTPUT},
        {"grace", required_argument, NULL, OPT_GRACE},
        {"orphan-wait", required_argument, NULL, OPT_ORPHAN_WAIT},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url_arg = NULL, *pw_file = NULL, *run_id = NULL, *node = NULL, *stage = NULL;
    const char *logs = NULL, *task_output = NULL;
    struct runner_conf rc = {.binding = BIND_EXCLUSIVE, .cpuweight_per_vcpu = 100,
                             .orphan_wait_s = -1};
    int64_t parallel = 0, capacity = 0, mem_mb = 0, maxdel = 3, v;
    double ratio = 1.0, ttl_s = 3, lease_s = -1, grace_s = -1;
    bool clear_queue = false;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+qvh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_REDIS: url_arg = optarg; break;
        case OPT_PWFILE: pw_file = optarg; break;
        case OPT_RUN_ID: run_id = optarg; break;
        case OPT_NODE_ID: node = optarg; break;
        case OPT_STAGE: stage = optarg; break;
        case OPT_LOGS: logs = optarg; break;
        case OPT_PID_DIR: rc.pid_dir = optarg; break;
        case OPT_OUTPUTS: rc.outputs = optarg; break;
        case OPT_PARALLEL:
            if (!cli_int("--parallel", optarg, 0, 100000, &parallel))
                return TK_EXIT_USAGE;
            break;
        case OPT_RATIO:
            if (!parse_double(optarg, 0, 1000, &ratio) || ratio <= 0) {
                cli_error("invalid --allocation-ratio '%s': expected a number above 0 (like "
                          "1.25)", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case OPT_BINDING:
            if (!cpu_binding_parse(optarg, &rc.binding)) {
                cli_error("invalid --cpu-binding '%s': expected exclusive, shared or none",
                          optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case OPT_WEIGHT:
            if (!cli_int("--cpuweight-per-vcpu", optarg, 1, 10000, &v))
                return TK_EXIT_USAGE;
            rc.cpuweight_per_vcpu = (int)v;
            break;
        case OPT_CAPACITY:
            if (!cli_int("--capacity-units", optarg, 0, 1000000, &capacity))
                return TK_EXIT_USAGE;
            break;
        case OPT_RESET: break; /* always: see --help */
        case OPT_CLEAR: clear_queue = true; break;
        case OPT_MEM:
            if (!cli_int("--mem-mb", optarg, 0, INT64_C(1) << 40, &mem_mb))
                return TK_EXIT_USAGE;
            break;
        case OPT_TTL:
            if (!opt_seconds("--ttl", optarg, 0.2, &ttl_s))
                return TK_EXIT_USAGE;
            break;
        case OPT_LEASE:
            if (!opt_seconds("--lease", optarg, 0.2, &lease_s))
                return TK_EXIT_USAGE;
            break;
        case OPT_MAXDEL:
            if (!cli_int("--max-deliveries", optarg, 1, 1000, &maxdel))
                return TK_EXIT_USAGE;
            break;
        case OPT_FFMPEG: rc.ffmpeg = optarg; break;
        case OPT_TASK_OUTPUT: task_output = optarg; break;
        case OPT_GRACE:
            if (!opt_seconds("--grace", optarg, 0, &grace_s))
                return TK_EXIT_USAGE;
            break;
        case OPT_ORPHAN_WAIT:
            if (!parse_double(optarg, 0, 86400, &rc.orphan_wait_s)) {
                cli_error("invalid --orphan-wait '%s': expected seconds from 0 to 86400", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case 'q': log_set_level(LOG_WARN); break;
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default:
            if (optopt)
                cli_error("option '%s' needs a value (see 'tracekit worker --help')",
                          argv[optind - 1]);
            else
                cli_error("unknown option '%s' (see 'tracekit worker --help')", argv[optind - 1]);
            return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see 'tracekit worker --help')", argv[optind]);
        return TK_EXIT_USAGE;
    }
    int ttl_ms = (int)(ttl_s * 1000);
    int lease_ms = lease_s > 0 ? (int)(lease_s * 1000) : 3 * ttl_ms;
    if (lease_ms < ttl_ms) {
        cli_error("--lease %g is shorter than --ttl %g: a running task would be requeued "
                  "between two heartbeats", lease_ms / 1000.0, ttl_s);
        return TK_EXIT_USAGE;
    }

    char err[1024];
    struct run_ctx ctx;
    if (run_ctx_resolve(&ctx, run_id, node, stage, logs, RUNID_REQUIRED, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    if (!run_id_valid(ctx.node_id)) {
        cli_error("invalid node id '%s': expected 1-128 letters, digits or ._-()+:", ctx.node_id);
        run_ctx_free(&ctx);
        return TK_EXIT_USAGE;
    }
    char *out_dir = NULL;
    enum runner_out out = RUNNER_OUT_FILE;
    if (task_output && !strcmp(task_output, "inherit"))
        out = RUNNER_OUT_INHERIT;
    else if (task_output && !strcmp(task_output, "null"))
        out = RUNNER_OUT_NULL;
    else
        out_dir = task_output ? xstrdup(task_output) : path_join(ctx.run_dir, "task-output");

    /* connect: one connection per thread */
    int exit_rc = TK_EXIT_FAIL;
    struct rq *q = NULL, *tq = NULL;
    struct redis_url u;
    bool have_url = false;
    char *where = NULL, *clock_path = NULL;
    if (redisurl_load(url_arg, pw_file, &u, err, sizeof err) < 0) {
        cli_error("%s", err);
        exit_rc = TK_EXIT_USAGE;
        goto out;
    }
    have_url = true;
    where = redisurl_describe(&u);
    struct rq_opts ro = {.run_id = ctx.run_id, .retry_ms = 30000};
    q = rq_open(&u, &ro, err, sizeof err);
    if (q)
        tq = rq_open(&u, &ro, err, sizeof err);
    if (!q || !tq) {
        log_error("%s", err);
        goto out;
    }
    if (mkdir_p(ctx.run_dir, 0755) < 0) {
        log_error("cannot create %s: %s", ctx.run_dir, strerror(errno));
        goto out;
    }
    clock_path = path_join(ctx.run_dir, "clock.jsonl");
    /* from here on tq belongs to the worker state (freed at out_w) */

    int ncpu = runner_cpus();
    int64_t units = capacity > 0 ? capacity : (int64_t)floor(ratio * ncpu);
    if (units < 1)
        units = 1;
    int slots = parallel > 0 ? (int)parallel : (int)units;

    struct worker *w = xcalloc(1, sizeof *w);
    bool taker_running = false;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->slots = slots;
    w->node = ctx.node_id;
    w->lease_ms = lease_ms;
    w->tq = tq;
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    snprintf(w->id, sizeof w->id, "%s:%d", ctx.node_id, (int)getpid());

    rc.run_id = ctx.run_id;
    rc.node = ctx.node_id;
    rc.stage = ctx.stage;
    rc.logs = ctx.logs;
    rc.parent = getpid(); /* the main thread spawns, and lives as long as the process */
    struct main_ctx m = {
        .w = w, .q = q, .rc = &rc, .out = out, .out_dir = out_dir, .pid = (int)getpid(),
        .clock_path = clock_path, .ttl_ms = ttl_ms,
        .info = {ctx.node_id, NULL, units, ncpu, capacity > 0 ? (double)units / ncpu : ratio,
                 mem_mb, parallel, ttl_ms, (int)maxdel},
    };
    /* signals: through a signalfd, blocked in every thread (the taker
     * inherits the mask) from before registering, so a SIGTERM from now on
     * ends in a clean leave; children get them reset by runner_spawn */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || w->efd < 0) {
        log_error("signalfd/eventfd: %s", strerror(errno));
        goto out_w;
    }
    if (!do_register(&m, true))
        goto out_sfd;
    if (clear_queue) {
        int n = rq_leave(q, w->id);
        if (n < 0 || !do_register(&m, true)) {
            log_error("--clear-queue: %s", rq_error(q));
            goto out_sfd;
        }
        log_info("--clear-queue: %d task(s) queued for node %s handed back to q:pending", n,
                 ctx.node_id);
    }
    log_info("worker node=%s queue=q:%s redis=%s parallel=%lld capacity_units=%lld "
             "phys_cores=%d ratio=%g slots=%d worker=%s",
             ctx.node_id, ctx.node_id, where, (long long)parallel, (long long)units, ncpu,
             m.info.ratio, slots, w->id);
    if (rc.binding == BIND_EXCLUSIVE && slots > ncpu)
        log_info("%d slots on %d CPUs with exclusive binding: a task that finds no free CPUs "
                 "runs unpinned (its record says cpu_binding none)",
                 slots, ncpu);
    write_clock(&m);

    pthread_t taker;
    if (pthread_create(&taker, NULL, taker_main, w) != 0) {
        log_error("cannot start the taker thread");
        goto out_sfd;
    }
    taker_running = true;

    exit_rc = main_loop(&m, sfd, grace_s);

    /* hand back whatever is still ours (queued on the node, in flight),
     * return the capacity, unregister */
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    char id[sizeof w->id];
    memcpy(id, w->id, sizeof id);
    pthread_mutex_unlock(&w->mu);
    int n = rq_leave(q, id);
    if (n < 0) {
        log_error("cannot leave cleanly: %s; the scheduler's reaper hands this node's tasks "
                  "back once the liveness key expires",
                  rq_error(q));
        exit_rc = TK_EXIT_FAIL;
    } else {
        log_info("left: %d task(s) handed back, capacity of node %s returned", n, ctx.node_id);
    }
    /* the taker may sit in a BLMOVE for up to TAKE_WAIT_MS: nothing can
     * reach it any more (the node has no worker), so do not wait for it */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(taker, NULL, &until) == 0)
        taker_running = false;
    else
        log_debug("the taker thread did not end in time; exiting anyway");
out_sfd:
    close(sfd);
out_w:
    /* a taker still blocked in Redis keeps its state: the process exits */
    if (!taker_running) {
        close(w->efd);
        for (size_t i = 0; i < w->njobs; i++)
            free(w->jobs[i].body);
        free(w->jobs);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        rq_close(tq);
    }
    tq = NULL;
out:
    rq_close(tq);
    rq_close(q);
    free(where);
    free(clock_path);
    free(out_dir);
    if (have_url)
        redisurl_free(&u);
    run_ctx_free(&ctx);
    return exit_rc;
}
