/* dispatch.c -- the engine of `tracekit dispatch` (see dispatch.h): the
 * tally of results, the ledger's order and the summary (pure), then the
 * pacer loop, result polling and the ledger against Redis. */
#include "sched/dispatch.h"

#include "common/log.h"
#include "common/progress.h"
#include "common/stats.h"
#include "common/util.h"
#include "common/uuid.h"
#include "sched/rq.h"
#include "task/task.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the tally of results ---- */

void dispatch_tally_init(struct dispatch_tally *t, const int64_t *ids, size_t n)
{
    memset(t, 0, sizeof *t);
    t->ids = ids;
    t->n = n;
    t->rec = xcalloc(n ? n : 1, sizeof *t->rec);
    t->oc.unfinished = (int64_t)n;
}

void dispatch_tally_free(struct dispatch_tally *t)
{
    for (size_t i = 0; t->rec && i < t->n; i++)
        json_decref(t->rec[i]);
    free(t->rec);
    t->rec = NULL;
}

bool dispatch_tally_add(struct dispatch_tally *t, const char *line)
{
    json_t *o = line ? jsonl_loads(line, 0, NULL) : NULL;
    int64_t id = 0;
    bool has = o && jsonl_int(o, "task_id", &id);
    const int64_t *hit = has && t->n ? bsearch(&id, t->ids, t->n, sizeof *t->ids, cmp_i64) : NULL;
    if (!hit || t->rec[hit - t->ids]) {
        json_decref(o);
        return false;
    }
    t->rec[hit - t->ids] = o;
    const char *st = json_string_value(json_object_get(o, "status"));
    if (st && !strcmp(st, "done"))
        t->oc.done++;
    else if (st && !strcmp(st, "dead"))
        t->oc.dead++;
    else if (st && !strcmp(st, "rejected"))
        t->oc.rejected++;
    else
        t->oc.failed++;
    t->oc.unfinished--;
    return true;
}

void dispatch_tally_stats(struct dispatch_tally *t)
{
    double *waits = xmalloc((t->n ? t->n : 1) * sizeof *waits);
    size_t nw = 0;
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (size_t i = 0; i < t->n; i++) {
        if (!t->rec[i])
            continue;
        int64_t e = 0, s = 0, end = 0;
        bool he = jsonl_int(t->rec[i], "ts_enqueue", &e), hs = jsonl_int(t->rec[i], "ts_start", &s),
             hn = jsonl_int(t->rec[i], "ts_end", &end);
        if (he && e < first)
            first = e;
        if (hn && end > last)
            last = end;
        if (he && hs)
            waits[nw++] = (double)(s - e);
    }
    if (first != INT64_MAX && last != INT64_MIN && nw > 0) {
        t->oc.has_stats = true;
        t->oc.makespan_ms = (double)(last - first);
        qsort(waits, nw, sizeof *waits, cmp_double);
        t->oc.wait_p50_ms = stats_quantile(waits, nw, 0.50);
        t->oc.wait_p95_ms = stats_quantile(waits, nw, 0.95);
    }
    free(waits);
}

/* ---- the ledger's order ---- */

struct ledger_line {
    bool bad;      /* no task id: after every good line */
    int64_t id;
    size_t at;     /* position given: ties keep their order */
    char *text;
};

static int cmp_ledger(const void *a, const void *b)
{
    const struct ledger_line *x = a, *y = b;
    if (x->bad != y->bad)
        return x->bad ? 1 : -1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

size_t dispatch_ledger_sort(char **lines, size_t n)
{
    struct ledger_line *v = xcalloc(n ? n : 1, sizeof *v);
    size_t malformed = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = jsonl_loads(lines[i], 0, NULL);
        v[i].bad = !o || !jsonl_int(o, "task_id", &v[i].id);
        malformed += v[i].bad;
        v[i].at = i;
        v[i].text = lines[i];
        json_decref(o);
    }
    qsort(v, n, sizeof *v, cmp_ledger);
    for (size_t i = 0; i < n; i++)
        lines[i] = v[i].text;
    free(v);
    return malformed;
}

/* ---- the summary ---- */

void dispatch_result_free(struct dispatch_result *r)
{
    free(r->submitted);
    free(r->ledger);
    r->submitted = r->ledger = NULL;
}

int dispatch_exit_code(const struct dispatch_result *r)
{
    if (r->failed || r->interrupted || r->timed_out)
        return TK_EXIT_FAIL;
    if (r->wait && r->oc.failed + r->oc.dead + r->oc.rejected > 0)
        return TK_EXIT_FAIL;
    return TK_EXIT_OK;
}

void dispatch_summary_text(const struct dispatch_result *r, const char *run_id, char *buf,
                           size_t len)
{
    if (!r->waited) {
        snprintf(buf, len, "enqueued %zu of %zu task(s) in run %s (%zu pinned to nodes); %s",
                 r->enqueued, r->tasks, run_id, r->pinned, r->submitted);
        return;
    }
    const struct dispatch_outcome *oc = &r->oc;
    char stats[200] = "";
    if (oc->has_stats)
        snprintf(stats, sizeof stats, "; makespan %.1f s, wait p50 %.3f s, p95 %.3f s",
                 oc->makespan_ms / 1000, oc->wait_p50_ms / 1000, oc->wait_p95_ms / 1000);
    snprintf(buf, len, "%zu task(s) in run %s: done %lld, failed %lld, dead %lld, rejected %lld, "
             "unfinished %lld%s; ledger %s",
             r->enqueued, run_id, (long long)oc->done, (long long)oc->failed,
             (long long)oc->dead, (long long)oc->rejected, (long long)oc->unfinished, stats,
             r->ledger ? r->ledger : "not written");
}

void dispatch_summary_json(const struct dispatch_result *r, const char *run_id, struct jbuf *b)
{
    const struct dispatch_outcome *oc = &r->oc;
    bool w = r->waited;
    jb_obj_open(b, NULL);
    jb_str(b, "run_id", run_id);
    jb_int(b, "tasks", (int64_t)r->tasks);
    jb_int(b, "enqueued", (int64_t)r->enqueued);
    jb_int(b, "pinned", (int64_t)r->pinned);
    jb_opt_int(b, "done", w, oc->done);
    jb_opt_int(b, "failed", w, oc->failed);
    jb_opt_int(b, "dead", w, oc->dead);
    jb_opt_int(b, "rejected", w, oc->rejected);
    jb_opt_int(b, "unfinished", w, oc->unfinished);
    jb_opt_int(b, "makespan_ms", oc->has_stats, (int64_t)llround(oc->makespan_ms));
    if (oc->has_stats) {
        jb_double(b, "wait_p50_ms", oc->wait_p50_ms);
        jb_double(b, "wait_p95_ms", oc->wait_p95_ms);
    } else {
        jb_null(b, "wait_p50_ms");
        jb_null(b, "wait_p95_ms");
    }
    jb_int(b, "elapsed_ms", r->elapsed_ms);
    jb_str(b, "submitted", r->submitted);
    jb_str(b, "ledger", r->ledger);
    jb_obj_close(b);
}

/* ---- the engine ---- */

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
    stop_sig = sig;
}

/* Everything one dispatch holds. */
struct disp {
    const struct dispatch_conf *c;
    const struct workload *w;
    struct rq *q;
    const char *prefix;
    struct pacer p;
    struct jsonl_writer sub;
    char *sub_path;          /* NULL until submitted.jsonl is open */
    int64_t *ids;            /* task ids in enqueue order (ascending) */
    char **fields;           /* per id: its fields as stored (trace id, stamp), to
                                enqueue again a task Redis lost */
    size_t nids;
    size_t npinned;
    /* pinned tasks not started yet (drip, online) */
    int64_t *out_id;
    int *out_node;
    size_t nout;
    int64_t *backlog;        /* per node */
    int64_t qlen;
    bool tty;
    struct progress *prog;   /* the status line on a terminal, or NULL */
    int64_t t0_ms, last_progress_ms;
    /* who serves the run: a scheduler, workers (presence()) */
    int64_t next_presence_ms, sched_seen_ms, next_sched_warn_ms, next_worker_warn_ms;
    bool all_unpinned;       /* no task names its node: any registered worker will do */
    unsigned reconnects_seen; /* rq_reconnects() when Redis last had all our tasks */
};

/* How long the run may go without a live scheduler before a warning, and
 * how often the warnings repeat. */
#define NO_SCHEDULER_WARN_MS 10000
#define PRESENCE_REPEAT_MS 60000

/* ---- Redis ---- */

static redisReply *cmd2(struct disp *d, const char *verb, const char *key, const char *arg,
                        int *rc)
{
    char *k = xasprintf("%s%s", d->prefix, key);
    const char *argv[3] = {verb, k, arg};
    redisReply *r = rq_raw(d->q, arg ? 3 : 2, argv, NULL, rc);
    free(k);
    if (r && r->type == REDIS_REPLY_ERROR) {
        log_error("Redis: %s %s: %s", verb, key, r->str);
        freeReplyObject(r);
        *rc = RQ_EPROTO;
        return NULL;
    }
    return r;
}

/* Pinned nodes without a registered worker: their tasks would wait at the
 * head of q:pending (and hold up everything behind them) until one joins. */
static void warn_unregistered(struct disp *d)
{
    int rc;
    redisReply *r = cmd2(d, "SMEMBERS", "nodes", NULL, &rc);
    if (!r)
        return;
    const struct workload *w = d->w;
    const char *run_id = d->c->run_id;
    bool *used = xcalloc(w->nnodes ? w->nnodes : 1, sizeof *used);
    for (size_t i = 0; i < w->n; i++)
        if (w->t[i].node >= 0)
            used[w->t[i].node] = true;
    for (size_t k = 0; k < w->nnodes; k++) {
        if (!used[k] && !d->c->online)
            continue;
        bool found = false;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && !found; i++)
            found = r->element[i]->str && !strcmp(r->element[i]->str, w->nodes[k]);
        if (!found)
            log_warn("tasks are pinned to node %s, which has no registered worker in run %s: "
                     "they wait at the head of q:pending, holding up the tasks behind them, "
                     "until one registers (tracekit worker --node-id %s --run-id %s)",
                     w->nodes[k], run_id, w->nodes[k], run_id);
    }
    free(used);
    freeReplyObject(r);
}

/* A dispatch into a run nobody serves (a mistyped run id, no scheduler
 * started) would wait in silence: say so, every minute while it lasts. */
static void presence(struct disp *d)
{
    int64_t now = now_wall_ms();
    if (now < d->next_presence_ms)
        return;
    d->next_presence_ms = now + 2000;
    bool sched;
    long long workers;
    if (rq_presence(d->q, &sched, &workers) < 0)
        return;   /* an outage: the calls around say so */
    const char *run_id = d->c->run_id;
    if (sched)
        d->sched_seen_ms = now;
    else if (now - d->sched_seen_ms >= NO_SCHEDULER_WARN_MS && now >= d->next_sched_warn_ms) {
        log_warn("no scheduler has been seen in run %s for %.0f s: the tasks wait in q:pending "
                 "until one runs ('tracekit scheduler --run-id %s'; is the run id right?)",
                 run_id, (now - d->sched_seen_ms) / 1000.0, run_id);
        d->next_sched_warn_ms = now + PRESENCE_REPEAT_MS;
    }
    if (workers == 0 && d->all_unpinned && now >= d->next_worker_warn_ms) {
        log_warn("no worker registered in run %s: the tasks wait until one does ('tracekit "
                 "worker --run-id %s' on each node; is the run id right?)", run_id, run_id);
        d->next_worker_warn_ms = now + PRESENCE_REPEAT_MS;
    }
}

static int read_qlen(struct disp *d)
{
    int rc;
    redisReply *r = cmd2(d, "LLEN", "q:pending", NULL, &rc);
    if (!r)
        return rc;
    d->qlen = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return 0;
}

/* Backlog of a node = our tasks pinned to it that have not started: state
 * pending (in q:pending) or placed (in q:NODE).  At most backlog-limit per
 * node are outstanding, so one HGET each is cheap and exact. */
static int read_backlog(struct disp *d)
{
    memset(d->backlog, 0, (d->w->nnodes ? d->w->nnodes : 1) * sizeof *d->backlog);
    size_t keep = 0;
    for (size_t i = 0; i < d->nout; i++) {
        char key[48];
        snprintf(key, sizeof key, "task:%lld", (long long)d->out_id[i]);
        int rc;
        redisReply *r = cmd2(d, "HGET", key, "state", &rc);
        if (!r)
            return rc;
        bool waiting = r->type == REDIS_REPLY_STRING &&
                       (!strcmp(r->str, "pending") || !strcmp(r->str, "placed"));
        freeReplyObject(r);
        if (waiting) {
            d->backlog[d->out_node[i]]++;
            d->out_id[keep] = d->out_id[i];
            d->out_node[keep++] = d->out_node[i];
        }
    }
    d->nout = keep;
    return 0;
}

/* ---- enqueue ---- */

enum { CHUNK = 256 };

/* Note the tasks Redis stored: submitted.jsonl (with the stamps Redis
 * gave), our ids, pinned ones. */
static void enqueued(struct disp *d, char *const *ef, const int64_t *ids, const int64_t *ts,
                     const int *node, size_t m, struct jbuf *b)
{
    for (size_t j = 0; j < m; j++) {
        jb_reset(b);
        char *stamped = workload_enqueue_fields(ef[j], NULL, ts[j]);
        workload_body(b, ids[j], stamped ? stamped : ef[j]);
        jsonl_add(&d->sub, b);
        d->fields[d->nids] = stamped ? stamped : xstrdup(ef[j]);
        d->ids[d->nids++] = ids[j];
        if (node[j] >= 0) {
            d->npinned++;
            d->out_id[d->nout] = ids[j];
            d->out_node[d->nout++] = node[j];
        }
    }
    if (jsonl_flush(&d->sub) < 0)
        log_warn("cannot write %s: %s", d->sub_path, strerror(errno));
    /* only drip and online need to follow pinned tasks */
    if (!(pacer_needs(&d->p) & PACE_NEED_BACKLOG))
        d->nout = 0;
}

static int enqueue(struct disp *d, const size_t *idx, const int *node, size_t k)
{
    char *ef[CHUNK];
    int64_t ids[CHUNK], ts[CHUNK];
    struct jbuf b;
    jb_init(&b);
    int rc = 0;
    for (size_t s = 0; s < k && rc == 0; s += CHUNK) {
        size_t m = k - s < CHUNK ? k - s : CHUNK, made = 0;
        for (; made < m; made++) {
            char trace[37];
            if (uuid_new(trace) < 0) {
                log_error("cannot make a trace id: %s", strerror(errno));
                rc = -1;
                break;
            }
            /* no ts_enqueue: the enqueue script stamps the real time */
            ef[made] = workload_release(d->w, idx[s + made], node[s + made], trace, -1);
        }
        if (rc == 0 && rq_enqueue_stamped(d->q, (const char *const *)ef, m, ids, ts) < 0) {
            log_error("enqueue failed after %zu of %zu tasks: %s", d->nids, d->w->n,
                      rq_error(d->q));
            rc = -1;
        }
        if (rc == 0)
            enqueued(d, ef, ids, ts, node + s, m, &b);
        for (size_t j = 0; j < made; j++)
            free(ef[j]);
    }
    jb_free(&b);
    return rc;
}

/* ---- progress ---- */

/* The counts come from Redis, so they are read at most 4 times a second,
 * the rate progress.h draws at. */
static void progress(struct disp *d, bool force)
{
    int64_t now = now_wall_ms();
    if (!d->prog || (!force && now - d->last_progress_ms < 250))
        return;
    d->last_progress_ms = now;
    struct rq_counts c;
    if (rq_counts(d->q, &c) != 0)
        return;
    progress_update(d->prog,
                    "enqueued %zu/%zu  pending %lld  queued %lld  running %lld  done %lld  "
                    "failed %lld  %llds",
                    d->nids, d->w->n, (long long)c.pending, (long long)c.queued,
                    (long long)c.running, (long long)c.done,
                    (long long)(c.failed + c.dead + c.rejected),
                    (long long)((now - d->t0_ms) / 1000));
}

static void backlog_text(struct disp *d, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d->w->nnodes && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s:%lld", i ? ", " : "", d->w->nodes[i],
                              (long long)d->backlog[i]);
}

/* "n1=2, n2=1": tasks pinned to each node */
static void pinned_text(struct disp *d, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d->w->nnodes && o < len; i++) {
        size_t n = 0;
        for (size_t t = 0; t < d->w->n; t++)
            n += d->w->t[t].node == (int)i;
        o += (size_t)snprintf(buf + o, len - o, "%s%s=%zu", i ? ", " : "", d->w->nodes[i], n);
    }
}

/* the original's line per pulse or batch (without a TTY progress line) */
static void step_log(struct disp *d, size_t k, uint64_t pulses_before, size_t in_pulse)
{
    if (d->tty || d->c->quiet || k == 0)
        return;
    char bl[512];
    switch (d->p.c.mode) {
    case PACE_PULSE:
        if (d->p.pulses != pulses_before)
            log_info("[pending-pulse] enqueued pulse=%zu, total=%zu", in_pulse, d->nids);
        break;
    case PACE_FIFO:
        log_info("[pending] enqueued batch=%zu, total=%zu, qlen=%lld", k, d->nids,
                 (long long)d->qlen);
        break;
    case PACE_DRIP:
        backlog_text(d, bl, sizeof bl);
        log_info("[drip] enqueued batch=%zu, total=%zu, backlog=%s", k, d->nids, bl);
        break;
    case PACE_ONLINE:
        backlog_text(d, bl, sizeof bl);
        log_info("[online] batch=%zu, total=%zu, backlog=%s", k, d->nids, bl);
        break;
    case PACE_ALL:
        if (d->npinned) {
            pinned_text(d, bl, sizeof bl);
            log_info("enqueued %zu tasks: %s", d->nids, bl);
        }
        break;
    }
}

static int run_pacer(struct disp *d)
{
    size_t *idx = xmalloc((d->w->n ? d->w->n : 1) * sizeof *idx);
    int *node = xmalloc((d->w->n ? d->w->n : 1) * sizeof *node);
    size_t in_pulse = 0;
    int rc = 0;
    while (!pacer_done(&d->p) && !stop_sig) {
        int64_t now = now_wall_ms();
        if (now >= d->p.next_ms) {
            unsigned need = pacer_needs(&d->p);
            if (((need & PACE_NEED_QLEN) && read_qlen(d) < 0) ||
                ((need & PACE_NEED_BACKLOG) && read_backlog(d) < 0)) {
                log_error("Redis: %s", rq_error(d->q));
                rc = -1;
                break;
            }
            uint64_t pulses = d->p.pulses;
            size_t k = pacer_next(&d->p, now, d->qlen, d->backlog, idx, node);
            if (k && enqueue(d, idx, node, k) < 0) {
                rc = -1;
                break;
            }
            in_pulse += k;
            step_log(d, k, pulses, in_pulse);
            size_t next_n;
            int64_t wait_ms;
            if (!d->c->quiet && pacer_pulse_pause(&d->p, pulses, now, &next_n, &wait_ms))
                log_info("[pending-pulse] next pulse of %zu task(s) in %.0f s (--pulse-interval);"
                         " %zu of %zu enqueued", next_n, wait_ms / 1000.0, d->nids, d->w->n);
            if (d->p.pulses != pulses)
                in_pulse = 0;
        }
        progress(d, false);
        if (pacer_done(&d->p))
            break;
        presence(d);
        int64_t wait = d->p.next_ms - now_wall_ms();
        if (d->tty && wait > 250)
            wait = 250;
        if (wait > 2000)
            wait = 2000;   /* the presence checks */
        sleep_ms_or_stop(wait, &stop_sig);
    }
    free(idx);
    free(node);
    if (jsonl_sync(&d->sub) < 0)
        log_warn("cannot write %s: %s", d->sub_path, strerror(errno));
    return rc;
}

/* ---- waiting and the ledger ---- */

/* A task of ours that did not end done, at error level as its record comes
 * in: node, reason (the end of its output), log file. */
static void say_failure(const char *line)
{
    json_t *o = jsonl_loads(line, 0, NULL);
    const char *status = json_string_value(json_object_get(o, "status"));
    if (status && strcmp(status, "done")) {
        const char *node = json_string_value(json_object_get(o, "node"));
        const char *err = json_string_value(json_object_get(o, "error"));
        const char *reason = json_string_value(json_object_get(o, "reason"));
        const char *log = json_string_value(json_object_get(o, "log"));
        json_t *rc = json_object_get(o, "rc");
        char why[TASK_TAIL_BYTES + 1];
        snprintf(why, sizeof why, "%s", err && *err ? err : reason && *reason ? reason
                                                                              : "no output");
        for (char *p = why; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = '|';
        char rctext[32] = "";
        if (json_is_integer(rc))
            snprintf(rctext, sizeof rctext, ", rc %lld", (long long)json_integer_value(rc));
        log_error("task %lld %s%s%s%s: %s%s%s%s%s", (long long)json_integer_value(
                  json_object_get(o, "task_id")), status, node && *node ? " on " : "",
                  node && *node ? node : "", rctext, why, log ? "; log " : "",
                  log && node && *node ? node : "", log && node && *node ? ":" : "",
                  log ? log : "");
    }
    json_decref(o);
}

/* Where the reading of the results list stands.  The list only grows
 * while Redis keeps its writes, but a restart from an older AOF (a host
 * crash with appendfsync everysec loses the last second) cuts it back, and
 * the records appended after the restart would sit below a remembered
 * offset.  So the last record read is kept too: when the list is shorter
 * than the offset or holds another record there, it is read again from
 * the start into a fresh tally. */
struct results_pos {
    long off;
    char *last;              /* the record at off - 1 (malloc'd), NULL at 0 */
};

static void pos_reset(struct results_pos *p)
{
    free(p->last);
    p->last = NULL;
    p->off = 0;
}

/* 1 when the list no longer starts with what was read (a rollback), 0 when
 * it does, < 0 on a Redis error. */
static int rolled_back(struct disp *d, const struct results_pos *p)
{
    if (p->off == 0)
        return 0;
    char at[24];
    snprintf(at, sizeof at, "%ld", p->off - 1);
    char *k = xasprintf("%sresults", d->prefix);
    const char *argv[3] = {"LINDEX", k, at};
    int rc;
    redisReply *r = rq_raw(d->q, 3, argv, NULL, &rc);
    free(k);
    if (!r)
        return rc;
    int out = r->type != REDIS_REPLY_STRING || strcmp(r->str, p->last) != 0;
    freeReplyObject(r);
    return out;
}

/* A fresh tally of our tasks from ledger lines (a rollback, or the end). */
static void tally_from(struct dispatch_tally *t, const int64_t *ids, size_t n, char **lines,
                       long nl)
{
    dispatch_tally_free(t);
    dispatch_tally_init(t, ids, n);
    for (long i = 0; i < nl; i++)
        dispatch_tally_add(t, lines[i]);
}

/* Read the run's results from p->off on into the tally; after a rollback,
 * the whole list into a fresh one.  0, 1 when it saw a rollback, < 0 on a
 * Redis error. */
static int poll_results(struct disp *d, struct results_pos *p, struct dispatch_tally *t)
{
    int rb = rolled_back(d, p);
    if (rb < 0)
        return rb;
    if (rb) {
        log_warn("the results list of run %s is shorter than before or changed (Redis lost "
                 "acknowledged writes: restarted from an older AOF or snapshot?); reading it "
                 "again from the start", d->c->run_id);
        pos_reset(p);
        tally_from(t, d->ids, d->nids, NULL, 0);
    }
    char start[24];
    snprintf(start, sizeof start, "%ld", p->off);
    char *k = xasprintf("%sresults", d->prefix);
    const char *argv[4] = {"LRANGE", k, start, "-1"};
    int rc;
    redisReply *r = rq_raw(d->q, 4, argv, NULL, &rc);
    free(k);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return RQ_EPROTO;
    }
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->str && dispatch_tally_add(t, r->element[i]->str))
            say_failure(r->element[i]->str);
    if (r->elements > 0 && r->element[r->elements - 1]->str) {
        free(p->last);
        p->last = xstrdup(r->element[r->elements - 1]->str);
        p->off += (long)r->elements;
    }
    freeReplyObject(r);
    return rb;
}

/* Tasks of ours without a result that Redis no longer has at all (it lost
 * their enqueue: restarted from older data) are enqueued again, same ids,
 * trace ids and stamps.  0, or < 0 on a Redis error. */
static int heal(struct disp *d, const struct dispatch_tally *t)
{
    int64_t *open = xmalloc((t->n ? t->n : 1) * sizeof *open);
    int64_t *gone = xmalloc((t->n ? t->n : 1) * sizeof *gone);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (!t->rec[i])
            open[n++] = t->ids[i];
    int k = n ? rq_missing(d->q, open, n, gone) : 0;
    if (k > 0) {
        const char **f = xmalloc((size_t)k * sizeof *f);
        for (int i = 0; i < k; i++) {
            const int64_t *hit = bsearch(&gone[i], d->ids, d->nids, sizeof *d->ids, cmp_i64);
            f[i] = hit ? d->fields[hit - d->ids] : "{}";
        }
        log_warn("%d task(s) of this dispatch are gone from Redis (it lost acknowledged "
                 "writes: restarted from an older AOF or snapshot?); enqueuing them again with "
                 "their ids, trace ids and enqueue times", k);
        int rc = rq_enqueue_again(d->q, f, gone, (size_t)k);
        free(f);
        k = rc < 0 ? rc : 0;
    }
    free(open);
    free(gone);
    return k < 0 ? k : 0;
}

/* 0 all finished, 1 timed out or interrupted, -1 Redis error.  Redis can
 * only lose writes across a restart (or a failover), which the connection
 * sees as a reconnect: after one, and after the results list shrank, it
 * checks that Redis still has every task it waits for (heal). */
static int wait_all(struct disp *d, struct results_pos *p, struct dispatch_tally *t,
                    int64_t start)
{
    int64_t timeout_ms = d->c->timeout_ms;
    bool check = false;
    while (t->oc.unfinished > 0) {
        if (check || rq_reconnects(d->q) != d->reconnects_seen) {
            check = false;
            d->reconnects_seen = rq_reconnects(d->q);
            if (heal(d, t) < 0) {
                log_error("Redis: %s", rq_error(d->q));
                return -1;
            }
        }
        int pr = poll_results(d, p, t);
        if (pr < 0) {
            log_error("Redis: %s", rq_error(d->q));
            return -1;
        }
        if (pr == 1)
            check = true;    /* enqueues may be lost too */
        progress(d, false);
        if (t->oc.unfinished == 0)
            break;
        if (stop_sig || (timeout_ms > 0 && now_wall_ms() - start >= timeout_ms))
            return 1;
        presence(d);
        sleep_ms_or_stop(200, &stop_sig);
    }
    return 0;
}

/* The run's whole ledger, sorted by task id, replacing the file at once: a
 * later --wait in the same run rewrites it with a superset, never appends
 * a task twice.  The lines are sorted in place. */
static int write_ledger(const char *path, char **lines, long n)
{
    size_t malformed = dispatch_ledger_sort(lines, (size_t)n);
    struct jbuf b;
    jb_init(&b);
    for (long i = 0; i < n; i++) {
        jb_append(&b, lines[i], strlen(lines[i]));
        jb_append(&b, "\n", 1);
    }
    if (malformed)
        log_warn("%zu ledger record(s) without a task id (kept at the end of %s)", malformed,
                 path);
    int rc = write_file_atomic(path, b.p ? b.p : "", b.len);
    if (rc < 0)
        log_error("cannot write %s: %s", path, strerror(errno));
    jb_free(&b);
    return rc;
}

static void lines_free(char **lines, long n)
{
    for (long i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

/* Wait for our tasks, then write the ledger: r's outcome, ledger, failed
 * and timed_out.  The summary is the tally of the very lines written to the
 * ledger, so the two always agree; when that read finds tasks unfinished
 * that the polls had seen finished (Redis rolled back in between), the
 * wait goes on from it. */
static void wait_and_write(struct disp *d, struct dispatch_result *r)
{
    struct dispatch_tally t;
    struct results_pos p = {0};
    dispatch_tally_init(&t, d->ids, d->nids);
    int64_t start = now_wall_ms();
    int wr;
    for (;;) {
        wr = wait_all(d, &p, &t, start);
        if (wr < 0)
            break;
        char **lines;
        long n = rq_results(d->q, &lines);
        if (n < 0) {
            log_error("cannot read the ledger: %s", rq_error(d->q));
            wr = -1;
            break;
        }
        tally_from(&t, d->ids, d->nids, lines, n);
        if (wr == 0 && t.oc.unfinished > 0) {
            log_warn("%lld task(s) seen finished are not in the ledger any more (Redis lost "
                     "acknowledged writes); waiting for them again", (long long)t.oc.unfinished);
            pos_reset(&p);
            p.off = n;
            p.last = n ? xstrdup(lines[n - 1]) : NULL;
            lines_free(lines, n);
            continue;
        }
        r->ledger = path_join(d->c->run_dir, "ledger.jsonl");
        if (write_ledger(r->ledger, lines, n) < 0)
            wr = -1;
        lines_free(lines, n);
        break;
    }
    dispatch_tally_stats(&t);
    r->oc = t.oc;
    dispatch_tally_free(&t);
    pos_reset(&p);
    r->failed = wr < 0;
    r->timed_out = wr == 1 && !stop_sig;
}

/* ---- one dispatch ---- */

/* Everything before the first enqueue: Redis, the run folder,
 * submitted.jsonl.  0, or -1 (logged). */
static int disp_open(struct disp *d, const struct dispatch_conf *c)
{
    memset(d, 0, sizeof *d);
    d->c = c;
    d->w = c->w;
    pacer_init(&d->p, &c->pace, c->w);
    d->ids = xmalloc((c->w->n ? c->w->n : 1) * sizeof *d->ids);
    d->fields = xcalloc(c->w->n ? c->w->n : 1, sizeof *d->fields);
    d->out_id = xmalloc((c->w->n ? c->w->n : 1) * sizeof *d->out_id);
    d->out_node = xmalloc((c->w->n ? c->w->n : 1) * sizeof *d->out_node);
    d->backlog = xcalloc(c->w->nnodes ? c->w->nnodes : 1, sizeof *d->backlog);
    d->tty = !c->quiet && isatty(STDERR_FILENO);
    d->prog = progress_begin("dispatch", c->quiet);

    char err[1024];
    /* fail fast at the start; later, ride out a Redis restart */
    struct rq_opts o = {.run_id = c->run_id, .retry_ms = 30000};
    d->q = rq_open(c->redis, &o, err, sizeof err);
    if (!d->q) {
        log_error("%s", err);
        return -1;
    }
    char *desc = redisurl_describe(c->redis);
    log_debug("connected to Redis at %s, run %s", desc, c->run_id);
    free(desc);
    d->prefix = rq_prefix(d->q);
    d->reconnects_seen = rq_reconnects(d->q);
    warn_unregistered(d);
    d->all_unpinned = true;
    for (size_t i = 0; i < c->w->n && d->all_unpinned; i++)
        d->all_unpinned = c->w->t[i].node < 0;
    d->sched_seen_ms = now_wall_ms();

    if (mkdir_p(c->run_dir, TK_DIR_MODE) < 0) {
        log_error("cannot create %s: %s", c->run_dir, strerror(errno));
        return -1;
    }
    char *path = path_join(c->run_dir, "submitted.jsonl");
    if (jsonl_open(&d->sub, path, 200) < 0) {
        log_error("cannot open %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    d->sub_path = path;
    return 0;
}

static void disp_close(struct disp *d)
{
    progress_end(d->prog);
    if (d->sub_path) {
        jsonl_close(&d->sub);
        free(d->sub_path);
    }
    rq_close(d->q);
    pacer_free(&d->p);
    for (size_t i = 0; d->fields && i < d->nids; i++)
        free(d->fields[i]);
    free(d->fields);
    free(d->ids);
    free(d->out_id);
    free(d->out_node);
    free(d->backlog);
}

/* The last lines on stderr: why it failed, and the summary. */
static void report(const struct dispatch_conf *c, const struct dispatch_result *r)
{
    if (!r->failed && r->interrupted)
        log_error("interrupted: %zu of %zu task(s) enqueued%s", r->enqueued, r->tasks,
                  c->wait && r->enqueued == r->tasks ? ", stopped waiting (the tasks go on)" : "");
    else if (!r->failed && r->timed_out)
        log_error("timed out after %.1f s: %lld of %zu task(s) not finished",
                  c->timeout_ms / 1000.0, (long long)r->oc.unfinished, r->enqueued);
    if (!c->quiet) {
        char line[1024];
        dispatch_summary_text(r, c->run_id, line, sizeof line);
        log_info("%s", line);
    }
}

int dispatch_run(const struct dispatch_conf *c, struct dispatch_result *r)
{
    memset(r, 0, sizeof *r);
    r->tasks = c->w->n;
    r->wait = c->wait;
    stop_sig = 0;
    struct disp d;
    if (disp_open(&d, c) < 0) {
        r->failed = true;
        disp_close(&d);
        return TK_EXIT_FAIL;
    }
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    d.t0_ms = now_wall_ms();
    log_debug("dispatching %zu task(s) to run %s", c->w->n, c->run_id);
    r->started = true;

    int pr = run_pacer(&d);
    if (!d.tty && !c->quiet && pr == 0 && !stop_sig) {
        if (c->pace.mode == PACE_PULSE)
            log_info("[pending-pulse] done, total enqueued=%zu", d.nids);
        else if (c->pace.mode == PACE_FIFO)
            log_info("[pending] done, total enqueued=%zu", d.nids);
    }
    r->enqueued = d.nids;
    r->pinned = d.npinned;
    r->submitted = xstrdup(d.sub_path);
    r->waited = pr == 0 && !stop_sig && c->wait;
    if (r->waited)
        wait_and_write(&d, r);
    progress_end(d.prog);
    d.prog = NULL;
    r->interrupted = stop_sig != 0;
    r->failed |= pr < 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    report(c, r);
    r->elapsed_ms = now_wall_ms() - d.t0_ms;
    disp_close(&d);
    return dispatch_exit_code(r);
}
