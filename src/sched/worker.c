/* worker.c -- the engine of `tracekit worker` (worker.h): the job table, the
 * taker thread and the main loop around it.  Children are started with
 * posix_spawn only (this process has threads): the task launcher, and
 * tasks while it is down; the launcher (a single-threaded process) makes
 * the tasks' processes, as our children (task/launcher.h). */
#include "sched/worker.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/util.h"
#include "sched/rq.h"
#include "task/launcher.h"
#include "task/task.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
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
#define WORKER_ID_MAX 200

/* ---- the job table ---- */

void worker_jobs_init(struct worker_jobs *t, int slots)
{
    *t = (struct worker_jobs){.slots = slots};
}

void worker_jobs_free(struct worker_jobs *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].body);
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

static void job_remove(struct worker_jobs *t, size_t i)
{
    free(t->v[i].body);
    t->v[i] = t->v[--t->n];
}

static bool holds_slot(const struct worker_job *j)
{
    return j->st != WJ_FINISHED;
}

static bool being_stopped(const struct worker_job *j)
{
    return j->st == WJ_FENCED || j->st == WJ_ABANDONED;
}

int worker_jobs_occupied(const struct worker_jobs *t)
{
    int n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += holds_slot(&t->v[i]);
    return n;
}

bool worker_jobs_can_take(const struct worker_jobs *t)
{
    return !t->stop && !t->fenced && worker_jobs_occupied(t) < t->slots;
}

size_t worker_jobs_held(const struct worker_jobs *t, int64_t **ids)
{
    size_t n = 0;
    *ids = xmalloc((t->n + 1) * sizeof **ids);
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].gen == t->gen && t->v[i].st != WJ_ABANDONED)
            (*ids)[n++] = t->v[i].id;
    return n;
}

bool worker_jobs_add(struct worker_jobs *t, int gen, int64_t id, int attempt, const char *body)
{
    if (t->stop || gen != t->gen || worker_jobs_occupied(t) >= t->slots)
        return false;
    ARRAY_GROW(t->v, t->n + 1, t->cap, 16);
    t->v[t->n++] = (struct worker_job){.id = id, .attempt = attempt, .gen = gen,
                                       .st = WJ_QUEUED, .body = xstrdup(body)};
    runner_exec_id_new(t->v[t->n - 1].exec_id);
    return true;
}

struct worker_job *worker_jobs_next_queued(struct worker_jobs *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].st == WJ_QUEUED)
            return &t->v[i];
    return NULL;
}

void worker_job_started(struct worker_job *j, pid_t pid)
{
    if (j->st != WJ_QUEUED || pid <= 0)
        TK_BUG("task %lld started in state %d, pid %d", (long long)j->id, (int)j->st, (int)pid);
    j->st = WJ_RUNNING;
    j->pid = pid;
}

void worker_job_finished(struct worker_job *j, int rc)
{
    if (j->st != WJ_QUEUED && j->st != WJ_RUNNING)
        TK_BUG("task %lld finished in state %d", (long long)j->id, (int)j->st);
    j->st = WJ_FINISHED;
    j->rc = rc;
}

/* A copy without the body (it stays the table's). */
static void job_copy(const struct worker_job *j, struct worker_job *out)
{
    if (out) {
        *out = *j;
        out->body = NULL;
    }
}

enum worker_exit worker_jobs_exited(struct worker_jobs *t, pid_t pid, int rc,
                                    struct worker_job *job)
{
    for (size_t i = 0; i < t->n; i++) {
        struct worker_job *j = &t->v[i];
        if (j->pid != pid || (j->st != WJ_RUNNING && !being_stopped(j)))
            continue;
        if (j->st == WJ_RUNNING) {
            worker_job_finished(j, rc);
            job_copy(j, job);
            return WJ_EXIT_DONE;
        }
        job_copy(j, job);
        job_remove(t, i);
        return WJ_EXIT_STOPPED;
    }
    return WJ_EXIT_UNKNOWN;
}

bool worker_jobs_next_finished(const struct worker_jobs *t, struct worker_job *job)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].st == WJ_FINISHED) {
            job_copy(&t->v[i], job);
            return true;
        }
    }
    return false;
}

bool worker_jobs_completed(struct worker_jobs *t, int64_t id, int gen)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].id == id && t->v[i].gen == gen && t->v[i].st == WJ_FINISHED) {
            job_remove(t, i);
            return true;
        }
    }
    return false;
}

bool worker_jobs_see_fence(struct worker_jobs *t, int gen)
{
    if (gen != t->gen || t->fenced)
        return false;
    t->fenced = true;
    return true;
}

/* Every RUNNING job to `to`; their pids into *stop (malloc'd).  Returns
 * their count. */
static size_t stop_running(struct worker_jobs *t, enum worker_job_state to, pid_t **stop)
{
    size_t n = 0;
    *stop = xmalloc((t->n + 1) * sizeof **stop);
    for (size_t i = 0; i < t->n; i++) {
        struct worker_job *j = &t->v[i];
        if (j->st == WJ_RUNNING) {
            j->st = to;
            (*stop)[n++] = j->pid;
        }
    }
    return n;
}

size_t worker_jobs_fence(struct worker_jobs *t, pid_t **stop)
{
    t->gen++; /* from now on every job taken before is superseded */
    size_t n = stop_running(t, WJ_FENCED, stop); /* all of them are older */
    for (size_t i = 0; i < t->n;) {
        if (t->v[i].gen != t->gen && !being_stopped(&t->v[i]))
            job_remove(t, i);
        else
            i++;
    }
    t->fenced = true;
    return n;
}

void worker_jobs_registered(struct worker_jobs *t)
{
    t->fenced = false;
}

int worker_jobs_drain(struct worker_jobs *t, int64_t now_ms, int64_t grace_ms)
{
    t->stop = true;
    if (grace_ms >= 0)
        t->grace_at = now_ms + grace_ms;
    return worker_jobs_occupied(t);
}

bool worker_jobs_grace_over(const struct worker_jobs *t, int64_t now_ms)
{
    return t->grace_at && now_ms >= t->grace_at;
}

size_t worker_jobs_abandon(struct worker_jobs *t, pid_t **stop)
{
    t->stop = t->forced = true;
    t->grace_at = 0;
    return stop_running(t, WJ_ABANDONED, stop);
}

size_t worker_jobs_stopping(const struct worker_jobs *t, pid_t **pids)
{
    size_t n = 0;
    *pids = xmalloc((t->n + 1) * sizeof **pids);
    for (size_t i = 0; i < t->n; i++)
        if (being_stopped(&t->v[i]))
            (*pids)[n++] = t->v[i].pid;
    return n;
}

bool worker_jobs_idle(const struct worker_jobs *t)
{
    if (!t->stop)
        return false;
    for (size_t i = 0; i < t->n; i++)
        if (holds_slot(&t->v[i]))
            return false;
    return t->n == 0 || t->forced; /* what is left is FINISHED, not acknowledged */
}

void worker_id(const char *node, int pid, int gen, char *buf, size_t len)
{
    if (gen)
        snprintf(buf, len, "%s:%d.%d", node, pid, gen);
    else
        snprintf(buf, len, "%s:%d", node, pid);
}

/* ---- the engine: state ---- */

/* A Redis outage as one thread sees it: warn once, back off (common/redis's
 * redis_outage, from BACKOFF_MIN_MS doubling to BACKOFF_MAX_MS), say when it
 * is over.  The threads never sleep on it: they note when to try again. */
struct outage {
    const char *going_on;   /* in the warning: what goes on meanwhile */
    const char *back;       /* logged when Redis answers again */
    struct redis_outage st;
    bool down;
    int backoff_ms;         /* the wait before the next try */
    int64_t retry_at;       /* mono ms of the next try; 0: none due */
};

#define ACKED_MAX 1024

struct engine {
    struct log_limit done_log; /* one info line per finished task, at most one a second */
    /* shared by the two threads, under mu (the main thread, the only one
     * that changes jobs.gen, stop, forced and grace_at, reads those without) */
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* the taker waits on it for a slot */
    struct worker_jobs jobs;
    int efd;                /* eventfd: the taker wakes the main thread */
    /* the last completions Redis acknowledged (a ring): a task handed out
     * again with one of these attempts ran already, and Redis lost that */
    int64_t acked_id[ACKED_MAX];
    int acked_attempt[ACKED_MAX];
    size_t nacked;

    /* constant after start */
    const struct worker_conf *c;
    const char *node;
    int pid;
    int lease_ms;
    struct rq *tq;          /* the taker's connection */
    pthread_t taker;
    bool taker_on;          /* started and not joined */

    /* the main thread's */
    struct rq *q;
    int sfd;                /* signalfd: SIGCHLD, SIGTERM, SIGINT */
    struct runner_conf rc;
    struct starter launch;  /* starts the tasks (launcher.h): a launcher, or posix_spawn */
    struct rq_worker_info info;
    char wid[WORKER_ID_MAX]; /* info.worker: the id last registered */
    char *clock_path;
    struct outage redis;
    bool need_register;     /* fenced: register again under the next id */
    int64_t kill_at;        /* SIGKILL the children being stopped (mono ms; 0: none) */
    int exit_rc;
    struct worker_stats st;
};

static int64_t mono_ms(void)
{
    return now_mono_ns() / 1000000;
}

static void notify(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

static void outage_failed(struct outage *o, struct rq *q, const char *what)
{
    o->st.min_ms = BACKOFF_MIN_MS;
    o->st.max_ms = BACKOFF_MAX_MS;
    redis_outage_step(&o->st, now_mono_ns(), &o->backoff_ms);
    if (!o->down)
        log_warn("%s: %s; %strying again with back-off (up to %d s)", what, rq_error(q),
                 o->going_on, BACKOFF_MAX_MS / 1000);
    else
        log_debug("%s: %s; next try in %d ms", what, rq_error(q), o->backoff_ms);
    o->down = true;
    o->retry_at = mono_ms() + o->backoff_ms;
}

static void outage_over(struct outage *o)
{
    if (o->down)
        log_info("%s", o->back);
    redis_outage_end(&o->st, now_mono_ns());
    o->down = false;
    o->backoff_ms = 0;
    o->retry_at = 0;
}

/* The current worker id, under mu. */
static void current_id(struct engine *e, char *buf, size_t len)
{
    worker_id(e->node, e->pid, e->jobs.gen, buf, len);
}

/* SIGTERM or SIGKILL the process group of each pid. */
static void signal_all(const pid_t *pids, size_t n, int sig)
{
    for (size_t i = 0; i < n; i++)
        kill(-pids[i], sig);
}

/* ---- the taker thread ---- */

/* Under mu: wait until a take is due (a slot free, not fenced, no back-off
 * pending).  false when stopping. */
static bool taker_wait(struct engine *e, int64_t retry_at)
{
    for (;;) {
        if (e->jobs.stop)
            return false;
        int64_t now = mono_ms();
        if (now >= retry_at && worker_jobs_can_take(&e->jobs))
            return true;
        if (now < retry_at) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = ts.tv_nsec + (retry_at - now) % 1000 * 1000000;
            ts.tv_sec += (retry_at - now) / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&e->cv, &e->mu, &ts);
        } else {
            pthread_cond_wait(&e->cv, &e->mu);
        }
    }
}

/* Under mu: a task whose completion of this very attempt Redis
 * acknowledged is handed out again only when Redis lost acknowledged
 * writes (restarted from an older AOF or snapshot, a failover to a replica
 * that lagged): it runs twice with the same attempt; the execution ids tell
 * the two apart and parse/export keep the one the ledger names. */
static void warn_acked(struct engine *e, const struct rq_task *t)
{
    size_t n = e->nacked < ACKED_MAX ? e->nacked : ACKED_MAX;
    for (size_t i = 0; i < n; i++)
        if (e->acked_id[i] == t->id && e->acked_attempt[i] == t->attempt) {
            log_warn("task %lld attempt %d: handed out again after its completion was "
                     "acknowledged: Redis lost acknowledged writes (restarted from an older "
                     "AOF or snapshot?); it runs twice (ran twice: Redis lost acknowledged "
                     "writes), parse and export keep the execution the ledger names",
                     (long long)t->id, t->attempt);
            return;
        }
}

static void *taker_main(void *arg)
{
    struct engine *e = arg;
    struct outage o = {.going_on = "", .back = "taking tasks again"};
    pthread_mutex_lock(&e->mu);
    while (taker_wait(e, o.retry_at)) {
        /* held: every task this registration holds, so rq_take never hands
         * one of them out again */
        int64_t *held;
        size_t nheld = worker_jobs_held(&e->jobs, &held);
        int gen = e->jobs.gen;
        char id[WORKER_ID_MAX];
        current_id(e, id, sizeof id);
        pthread_mutex_unlock(&e->mu);

        struct rq_task t;
        int rc = rq_take(e->tq, id, e->node, held, nheld, TAKE_WAIT_MS, e->lease_ms, &t);
        free(held);

        pthread_mutex_lock(&e->mu);
        if (rc == RQ_TAKE_OK)
            warn_acked(e, &t);
        if (rc == RQ_TAKE_OK) {
            /* not added (stopping, superseded): it stays in flight, and
             * rq_leave or the reaper hands it back */
            if (worker_jobs_add(&e->jobs, gen, t.id, t.attempt, t.json))
                notify(e->efd);
            rq_task_free(&t);
        } else if (rc == RQ_TAKE_FENCED && worker_jobs_see_fence(&e->jobs, gen)) {
            notify(e->efd);
        }
        if (rc < 0)
            outage_failed(&o, e->tq, "cannot take tasks");
        else
            outage_over(&o);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---- the main thread: Redis ---- */

static void write_clock(struct engine *e)
{
    double off, rtt;
    if (rq_clock_offset(e->q, 5, &off, &rtt) != 0) {
        log_debug("clock offset not measured: %s", rq_error(e->q));
        return;
    }
    char id[WORKER_ID_MAX];
    pthread_mutex_lock(&e->mu);
    current_id(e, id, sizeof id);
    pthread_mutex_unlock(&e->mu);
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_int(&b, "ts_ms", now_wall_ms());
    jb_str(&b, "node", e->node);
    jb_str(&b, "worker", id);
    jb_str(&b, "ref", "redis");
    jb_fixed(&b, "offset_ms", off, 3);
    jb_fixed(&b, "rtt_ms", rtt, 3);
    jb_obj_close(&b);
    if (jsonl_append_line(e->clock_path, &b) < 0)
        log_warn("cannot append to %s: %s", e->clock_path, strerror(errno));
    jb_free(&b);
    log_debug("clock offset to Redis %.3f ms (round trip %.3f ms)", off, rtt);
}

/* Register the current worker id.  false if Redis failed (try again later,
 * unless initial) or refused (BUSY, CONFLICT: exit_rc is set). */
static bool do_register(struct engine *e, bool initial)
{
    pthread_mutex_lock(&e->mu);
    current_id(e, e->wid, sizeof e->wid);
    pthread_mutex_unlock(&e->mu);
    e->info.worker = e->wid;
    char *owner = NULL;
    int rc = rq_register(e->q, &e->info, &owner);
    if (rc < 0) {
        if (initial) {
            log_error("cannot register worker %s for node %s: %s", e->wid, e->node,
                      rq_error(e->q));
            e->exit_rc = TK_EXIT_FAIL;
        } else {
            outage_failed(&e->redis, e->q, "cannot register");
        }
        return false;
    }
    outage_over(&e->redis);
    if (rc == RQ_REG_BUSY)
        log_error("node %s is owned by worker %s, which is alive: one worker per node (stop it, "
                  "or give this one another --node-id)",
                  e->node, owner ? owner : "?");
    else if (rc == RQ_REG_CONFLICT)
        log_error("worker id %s is registered for node %s, not %s", e->wid, owner ? owner : "?",
                  e->node);
    free(owner);
    if (rc != RQ_REG_OK) {
        e->exit_rc = TK_EXIT_FAIL;
        return false;
    }
    pthread_mutex_lock(&e->mu);
    worker_jobs_registered(&e->jobs);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return true;
}

/* A failed task: the end of its log in why, said in one line; its log
 * file's path (malloc'd; NULL when tasks' output goes elsewhere). */
static char *failure(struct engine *e, const struct worker_job *j, char *why, size_t len)
{
    if (e->c->out != RUNNER_OUT_FILE)
        return NULL;
    char *log = runner_log_path(e->c->out_dir, j->id, j->attempt);
    char *abs = realpath(log, NULL);
    if (abs) {
        free(log);
        log = abs;
    }
    runner_log_reason(log, why, len);
    char line[TASK_TAIL_BYTES + 1];
    snprintf(line, sizeof line, "%s", why);
    for (char *p = line; *p; p++)
        if (*p == '\n')
            *p = '|';
    log_warn("task %lld attempt %d: failed, rc %d: %s (log %s)", (long long)j->id, j->attempt,
             j->rc, *line ? line : "no output", log);
    return log;
}

/* Send the completions of finished tasks (all of them: also after an
 * outage).  Returns false if Redis failed. */
static bool complete_finished(struct engine *e)
{
    for (;;) {
        struct worker_job j;
        char wid[WORKER_ID_MAX];
        pthread_mutex_lock(&e->mu);
        bool any = worker_jobs_next_finished(&e->jobs, &j);
        bool current = any && j.gen == e->jobs.gen;
        current_id(e, wid, sizeof wid);
        pthread_mutex_unlock(&e->mu);
        if (!any)
            return true;

        char why[TASK_TAIL_BYTES + 1] = "";
        char *log = j.rc != 0 && current ? failure(e, &j, why, sizeof why) : NULL;
        int r = current ? rq_complete_why(e->q, wid, j.id, j.attempt, j.exec_id, j.rc == 0, j.rc,
                                          why, log)
                        : RQ_DONE_SUPERSEDED;
        free(log);
        if (r < 0) {
            outage_failed(&e->redis, e->q, "cannot report a finished task");
            return false;
        }
        outage_over(&e->redis);
        if (r == RQ_DONE_SUPERSEDED || r == RQ_DONE_GONE) {
            log_warn("task %lld attempt %d: finished (rc %d) but %s; not counted",
                     (long long)j.id, j.attempt, j.rc,
                     r == RQ_DONE_GONE ? "the task no longer exists"
                                       : "it was requeued or delivered again meanwhile");
            e->st.not_counted++;
        } else {
            *(j.rc == 0 ? &e->st.done : &e->st.failed) += 1;
        }
        pthread_mutex_lock(&e->mu);
        if (r == RQ_DONE_OK || r == RQ_DONE_DUP) {
            e->acked_id[e->nacked % ACKED_MAX] = j.id;
            e->acked_attempt[e->nacked % ACKED_MAX] = j.attempt;
            e->nacked++;
        }
        worker_jobs_completed(&e->jobs, j.id, j.gen);
        pthread_mutex_unlock(&e->mu);
    }
}

static void heartbeat(struct engine *e)
{
    char id[WORKER_ID_MAX];
    pthread_mutex_lock(&e->mu);
    current_id(e, id, sizeof id);
    bool fenced = e->jobs.fenced;
    int gen = e->jobs.gen;
    pthread_mutex_unlock(&e->mu);
    if (fenced)
        return; /* nothing to renew until registered again */
    int r = rq_heartbeat(e->q, id, e->c->ttl_ms, e->lease_ms);
    if (r < 0) {
        outage_failed(&e->redis, e->q, "heartbeat failed");
        return;
    }
    outage_over(&e->redis);
    if (r == RQ_HB_FENCED) {
        pthread_mutex_lock(&e->mu);
        worker_jobs_see_fence(&e->jobs, gen);
        pthread_mutex_unlock(&e->mu);
        notify(e->efd); /* handled at the top of the next turn */
    }
}

/* ---- the main thread: children ---- */

/* Start what the taker handed over; a body that cannot be run finishes at
 * once as failed. */
static void start_queued(struct engine *e)
{
    char err[1024];
    pthread_mutex_lock(&e->mu);
    struct worker_job *j;
    while ((j = worker_jobs_next_queued(&e->jobs))) {
        struct runner_task t;
        if (runner_build(&e->rc, j->body, &t, err, sizeof err) != 0) {
            log_error("%s; completing it as failed (rc %d)", err, RUNNER_RC_BAD);
            worker_job_finished(j, RUNNER_RC_BAD);
            pthread_cond_broadcast(&e->cv); /* its slot is free: the taker may go on */
            continue;
        }
        runner_set_exec_id(&t, j->exec_id);
        pid_t pid = starter_spawn(&e->launch, &e->rc, j->body, j->exec_id, &t, e->c->out,
                                  e->c->out_dir, j->id, err, sizeof err);
        if (pid < 0) {
            log_error("task %lld: %s; completing it as failed (rc %d)", (long long)j->id, err,
                      RUNNER_RC_BAD);
            worker_job_finished(j, RUNNER_RC_BAD);
            pthread_cond_broadcast(&e->cv);
        } else {
            worker_job_started(j, pid);
            e->st.started++;
            log_debug("task %lld attempt %d: started, pid %d", (long long)j->id, j->attempt,
                      (int)pid);
        }
        runner_task_free(&t);
    }
    pthread_mutex_unlock(&e->mu);
}

/* " (and N more since the last line)", or "" */
static const char *held_text(uint64_t held, char *buf, size_t len)
{
    buf[0] = '\0';
    if (held)
        snprintf(buf, len, " (and %llu more done since the last line)", (unsigned long long)held);
    return buf;
}

static void reap_children(struct engine *e)
{
    pid_t pid;
    int rc;
    uint64_t held;
    char more[80];
    while (runner_reap(false, &pid, &rc) == 1) {
        if (starter_reaped(&e->launch, pid, rc))
            continue;
        struct worker_job j;
        pthread_mutex_lock(&e->mu);
        enum worker_exit x = worker_jobs_exited(&e->jobs, pid, rc, &j);
        if (x == WJ_EXIT_STOPPED)
            log_debug("task %lld attempt %d: stopped (rc %d)", (long long)j.id, j.attempt, rc);
        /* a failure is said with its reason when completed (failure()) */
        else if (x == WJ_EXIT_DONE && rc == 0 && log_limit_pass(&e->done_log, 1000000000LL, &held))
            log_info("task %lld attempt %d: done%s", (long long)j.id, j.attempt,
                     held_text(held, more, sizeof more));
        pthread_cond_broadcast(&e->cv); /* a slot is free */
        pthread_mutex_unlock(&e->mu);
    }
}

/* This worker was reaped while alive (fenced): its tasks went back to the
 * queue and may run elsewhere already, so stop ours and register again
 * under a new id. */
static void handle_fence(struct engine *e)
{
    char old_id[WORKER_ID_MAX], new_id[WORKER_ID_MAX];
    pid_t *stop;
    pthread_mutex_lock(&e->mu);
    current_id(e, old_id, sizeof old_id);
    size_t n = worker_jobs_fence(&e->jobs, &stop);
    signal_all(stop, n, SIGTERM);
    current_id(e, new_id, sizeof new_id);
    pthread_mutex_unlock(&e->mu);
    free(stop);
    e->st.fences++;
    log_warn("worker %s was fenced (reaped while alive: a long pause or a Redis outage); its "
             "tasks went back to the queue; stopping %zu running task(s), registering again as %s",
             old_id, n, new_id);
    if (n)
        e->kill_at = mono_ms() + KILL_AFTER_MS;
}

static void begin_stop(struct engine *e, int64_t grace_ms)
{
    pthread_mutex_lock(&e->mu);
    int n = worker_jobs_drain(&e->jobs, mono_ms(), grace_ms);
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    log_info("stopping: taking no more tasks; waiting for %d running task(s)%s", n,
             grace_ms >= 0 ? " (up to --grace)" : "");
}

static void force_stop(struct engine *e, const char *why)
{
    pid_t *stop;
    pthread_mutex_lock(&e->mu);
    size_t n = worker_jobs_abandon(&e->jobs, &stop);
    signal_all(stop, n, SIGTERM);
    pthread_mutex_unlock(&e->mu);
    free(stop);
    if (n)
        e->kill_at = mono_ms() + KILL_AFTER_MS;
    log_info("%s: stopping %zu running task(s); they go back to the queue", why, n);
}

static void kill_stopping(struct engine *e)
{
    pid_t *pids;
    pthread_mutex_lock(&e->mu);
    size_t n = worker_jobs_stopping(&e->jobs, &pids);
    signal_all(pids, n, SIGKILL);
    pthread_mutex_unlock(&e->mu);
    free(pids);
    e->kill_at = 0;
}

/* Fenced: register again under the next id; a refusal ends the worker. */
static void register_again(struct engine *e)
{
    if (!e->need_register || e->jobs.stop)
        return;
    if (do_register(e, false)) {
        e->need_register = false;
        log_info("registered again as %s", e->wid);
    } else if (e->exit_rc) {
        e->need_register = false;
        begin_stop(e, -1);
        force_stop(e, "cannot register again");
    }
}

/* ---- the main loop ---- */

struct timers {
    int hb_every;
    int64_t next_hb, next_clock;
};

static int64_t min_deadline(int64_t a, int64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

/* The next thing due (mono ms).  While Redis is down, its retry stands for
 * the heartbeat too. */
static int64_t next_due(const struct engine *e, const struct timers *tm)
{
    int64_t due = min_deadline(e->redis.down ? 0 : tm->next_hb, e->jobs.stop ? 0 : tm->next_clock);
    due = min_deadline(due, e->redis.retry_at);
    due = min_deadline(due, e->jobs.grace_at);
    return min_deadline(due, e->kill_at);
}

/* Wait until due for a signal or the taker; handle the signals (the first
 * SIGTERM/SIGINT drains, the second forces) and reap children.  -1 if poll
 * failed. */
static int wait_events(struct engine *e, int64_t due)
{
    int64_t now = mono_ms();
    int timeout = due > now ? (int)(due - now) : 0;
    struct pollfd fds[2] = {{e->sfd, POLLIN, 0}, {e->efd, POLLIN, 0}};
    if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
        log_error("poll: %s", strerror(errno));
        return -1;
    }
    if (fds[0].revents & POLLIN) {
        struct signalfd_siginfo si;
        while (read(e->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo == SIGCHLD)
                continue;
            if (!e->jobs.stop)
                begin_stop(e, e->c->grace_ms);
            else if (!e->jobs.forced)
                force_stop(e, "second signal");
        }
        reap_children(e);
    }
    if (fds[1].revents & POLLIN) {
        uint64_t v;
        ssize_t r = read(e->efd, &v, sizeof v);
        (void)r;
    }
    return 0;
}

/* Redis work of one turn: completions, registering again after a fence,
 * heartbeats (while Redis is down they are the probe, after the back-off),
 * the clock offset. */
static void redis_turn(struct engine *e, struct timers *tm)
{
    int64_t now = mono_ms();
    if ((!e->redis.down || now >= e->redis.retry_at) && complete_finished(e))
        register_again(e);
    if (e->redis.down ? now >= e->redis.retry_at : now >= tm->next_hb) {
        tm->next_hb = now + tm->hb_every;
        heartbeat(e);
    }
    if (!e->jobs.stop && now >= tm->next_clock) {
        if (!e->redis.down) /* else skip this one */
            write_clock(e);
        tm->next_clock = mono_ms() + CLOCK_EVERY_MS;
    }
}

static int main_loop(struct engine *e)
{
    struct timers tm = {.hb_every = e->c->ttl_ms / 4 > 0 ? e->c->ttl_ms / 4 : 1};
    tm.next_hb = mono_ms() + tm.hb_every;
    tm.next_clock = mono_ms() + CLOCK_EVERY_MS;
    for (;;) {
        if (wait_events(e, next_due(e, &tm)) < 0)
            return TK_EXIT_FAIL;
        /* fenced (seen by the taker or a heartbeat): stop that registration's
         * tasks, then register again under a new id */
        pthread_mutex_lock(&e->mu);
        bool fenced = e->jobs.fenced;
        pthread_mutex_unlock(&e->mu);
        if (fenced && !e->need_register) {
            handle_fence(e);
            e->need_register = true;
        }
        start_queued(e);
        redis_turn(e, &tm);
        if (worker_jobs_grace_over(&e->jobs, mono_ms()))
            force_stop(e, "--grace expired");
        if (e->kill_at && mono_ms() >= e->kill_at)
            kill_stopping(e);
        pthread_mutex_lock(&e->mu);
        bool idle = worker_jobs_idle(&e->jobs);
        pthread_mutex_unlock(&e->mu);
        if (idle)
            return e->exit_rc;
        /* nothing probed Redis this turn: never spin on a past deadline */
        if (e->redis.down && e->redis.retry_at <= mono_ms())
            e->redis.retry_at = mono_ms() + (e->redis.backoff_ms ? e->redis.backoff_ms
                                                                 : BACKOFF_MIN_MS);
    }
}

/* ---- start and end ---- */

static struct engine *engine_new(const struct worker_conf *c)
{
    struct engine *e = xcalloc(1, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    e->c = c;
    e->node = c->run->node_id;
    e->pid = (int)getpid();
    e->lease_ms = c->lease_ms;
    e->sfd = -1;
    e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    starter_init(&e->launch, c->runner.self_exe);

    int ncpu = runner_cpus();
    int64_t units = c->capacity_units > 0 ? c->capacity_units : (int64_t)floor(c->ratio * ncpu);
    if (units < 1)
        units = 1;
    worker_jobs_init(&e->jobs, c->parallel > 0 ? (int)c->parallel : (int)units);
    e->info = (struct rq_worker_info){
        .node = e->node, .cap_total = units, .phys = ncpu,
        .ratio = c->capacity_units > 0 ? (double)units / ncpu : c->ratio,
        .mem_total_mb = c->mem_mb, .parallel = c->parallel, .ttl_ms = c->ttl_ms,
        .max_deliveries = c->max_deliveries,
    };
    e->rc = c->runner;
    e->rc.run_id = c->run->run_id;
    e->rc.node = c->run->node_id;
    e->rc.stage = c->run->stage;
    e->rc.logs = c->run->logs;
    e->rc.parent = getpid(); /* the main thread spawns, and lives as long as the process */
    e->redis = (struct outage){.going_on = "running tasks go on, ",
                               .back = "Redis is reachable again"};
    return e;
}

/* Connect (one connection per thread), create the run folder, take the
 * signals: through a signalfd, blocked in every thread (the taker inherits
 * the mask) from before registering, so a SIGTERM from now on ends in a
 * clean leave; children get them reset by runner_spawn. */
static int engine_open(struct engine *e)
{
    char err[1024];
    struct rq_opts ro = {.run_id = e->c->run->run_id, .retry_ms = 30000};
    e->q = rq_open_wait(e->c->redis, &ro, e->c->connect_wait_ms, err, sizeof err);
    if (e->q)
        e->tq = rq_open(e->c->redis, &ro, err, sizeof err);
    if (!e->q || !e->tq) {
        log_error("%s", err);
        return -1;
    }
    const char *dir = e->c->run->run_dir;
    if (mkdir_p(dir, TK_DIR_MODE) < 0) {
        log_error("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    e->clock_path = path_join(dir, "clock.jsonl");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    e->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (e->sfd < 0 || e->efd < 0) {
        log_error("signalfd/eventfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Register (and with --clear-queue hand back what is queued), say so,
 * measure the clock, start the taker. */
static int engine_start(struct engine *e)
{
    if (!do_register(e, true))
        return -1;
    if (e->c->clear_queue) {
        int n = rq_leave(e->q, e->wid);
        if (n < 0 || !do_register(e, true)) {
            log_error("--clear-queue: %s", rq_error(e->q));
            return -1;
        }
        log_info("--clear-queue: %d task(s) queued for node %s handed back to q:pending", n,
                 e->node);
    }
    char *where = redisurl_describe(e->c->redis);
    log_info("worker run=%s node=%s queue=q:%s redis=%s parallel=%lld capacity_units=%lld "
             "phys_cores=%d ratio=%g slots=%d worker=%s", e->c->run->run_id,
             e->node, e->node, where, (long long)e->c->parallel, (long long)e->info.cap_total,
             (int)e->info.phys, e->info.ratio, e->jobs.slots, e->wid);
    free(where);
    if (e->rc.binding == BIND_EXCLUSIVE && e->jobs.slots > e->info.phys)
        log_info("%d slots on %d CPUs with exclusive binding: a task that finds no free CPUs "
                 "runs unpinned (its record says cpu_binding none)",
                 e->jobs.slots, (int)e->info.phys);
    write_clock(e);
    if (pthread_create(&e->taker, NULL, taker_main, e) != 0) {
        log_error("cannot start the taker thread");
        return -1;
    }
    e->taker_on = true;
    return 0;
}

/* Hand back whatever is still ours (queued on the node, in flight), return
 * the capacity, unregister, let the taker go.  -1 if Redis failed. */
static int engine_leave(struct engine *e)
{
    char id[WORKER_ID_MAX];
    pthread_mutex_lock(&e->mu);
    e->jobs.stop = true;
    pthread_cond_broadcast(&e->cv);
    current_id(e, id, sizeof id);
    pthread_mutex_unlock(&e->mu);
    int n = rq_leave(e->q, id);
    if (n < 0)
        log_error("cannot leave cleanly: %s; the scheduler's reaper hands this node's tasks "
                  "back once the liveness key expires",
                  rq_error(e->q));
    else
        log_info("left: %d task(s) handed back, capacity of node %s returned", n, e->node);
    e->st.handed_back = n < 0 ? 0 : n;
    /* the taker may sit in a BLMOVE for up to TAKE_WAIT_MS: nothing can
     * reach it any more (the node has no worker), so do not wait for it */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 200 * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(e->taker, NULL, &until) == 0)
        e->taker_on = false;
    else
        log_debug("the taker thread did not end in time; exiting anyway");
    return n < 0 ? -1 : 0;
}

/* A taker still blocked in Redis keeps its state (the engine and its
 * connection): the process exits soon. */
static void engine_close(struct engine *e)
{
    if (e->sfd >= 0)
        close(e->sfd);
    starter_close(&e->launch);
    rq_close(e->q);
    free(e->clock_path);
    if (e->taker_on)
        return;
    if (e->efd >= 0)
        close(e->efd);
    rq_close(e->tq);
    worker_jobs_free(&e->jobs);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

int worker_run(const struct worker_conf *c, struct worker_stats *st)
{
    struct engine *e = engine_new(c);
    int rc = TK_EXIT_FAIL;
    if (engine_open(e) == 0 && engine_start(e) == 0) {
        rc = main_loop(e);
        if (engine_leave(e) < 0)
            rc = TK_EXIT_FAIL;
    }
    if (st)
        *st = e->st;
    engine_close(e);
    return rc;
}
