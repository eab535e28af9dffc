/* dispatch.c -- `tracekit dispatch`: put a run's tasks into Redis (the
 * original dispatcher, §7.5), paced as asked, and optionally wait for them.
 * Options and I/O here; the task list and the pacing are in workload.c. */
#include "trace/audit.h"
#include "cmd/commands.h"
#include "common/jsonl.h"
#include "common/stats.h"
#include "common/uuid.h"
#include "task/launch.h"
#include "common/log.h"
#include "sched/mix.h"
#include "common/progress.h"
#include "common/redisurl.h"
#include "sched/rq.h"
#include "common/run.h"
#include "task/task.h"
#include "common/util.h"
#include "sched/wlbuild.h"
#include "sched/pacer.h"
#include "sched/workload.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit dispatch --run-id ID --inputs DIR --outputs DIR [OPTIONS]\n"
            "       tracekit dispatch --run-id ID --command 'PROGRAM ARGS...' [--total N] [OPTIONS]\n"
            "       tracekit dispatch --run-id ID --tasks FILE.jsonl [OPTIONS]\n"
            "\n"
            "Enqueue a run's tasks in Redis for the central scheduler and the workers, paced as\n"
            "asked, writing each stored task to logs/RUN_ID/submitted.jsonl.  With --wait, wait\n"
            "until every task of this dispatch has finished and write logs/RUN_ID/ledger.jsonl.\n"
            "Exit status: 0 all enqueued (with --wait: all done), 1 a failure (a task failed,\n"
            "died or was rejected, a timeout, Redis), 2 a bad command line.\n"
            "\n"
            "ffmpeg tasks (the original's dispatcher), one per *.mp4 file in --inputs:\n"
            "  --inputs DIR           input videos (*.mp4 directly in DIR, in name order)\n"
            "  --outputs DIR          output folder prefix (paths as the workers see them)\n"
            "  --scale W:H            (default 1280:720)\n"
            "  --preset NAME          (default veryfast)\n"
            "  --crf N                (default 28); these three are used without --mix\n"
            "  --nodes A,B,C          nodes for direct assignment (default cloud0,cloud1,cloud2)\n"
            "  --policy NAME          rr3 (file i -> node i mod n), duration-greedy (lpt-duration:\n"
            "                         longest first to the least loaded node), duration-online\n"
            "                         (online-duration: longest first, each batch to the node with\n"
            "                         the smallest backlog); default rr3; ignored with --mix\n"
            "  --ffprobe PATH         for the durations of the duration policies (default ffprobe)\n"
            "  --mix NAME=W,...       profile mix (medium480p, fast1080p, hevc1080p, light1c)\n"
            "  --total N              with --mix: N tasks, file idx mod files; 0 (default): one\n"
            "                         task per file, its profile drawn at random\n"
            "  --seed N               random seed for --mix (default 0, an ordinary seed)\n"
            "Generic tasks:\n"
            "  --command 'ARGV'       a command line (shell-like quoting, no expansions), run\n"
            "                         --total times (default 1)\n"
            "  --tasks FILE           one JSON object per line: {\"argv\": [...], \"cpu_units\": 1,\n"
            "                         \"mem_mb\": 0, \"app\": \"NAME\", \"node\": \"NODE\", ...}; a bad\n"
            "                         line refuses the file\n"
            "  --cpu-units N          units each task needs (default 1)\n"
            "  --mem-mb N             memory each task needs, MiB (default 0: not accounted)\n"
            "  --app NAME             events.NAME.jsonl on the workers (default: the program)\n"
            "Pacing (default: everything at once; without --pending, ffmpeg tasks are pinned to\n"
            "their node and the scheduler places each only there):\n"
            "  --pending              leave the choice of node to the central scheduler\n"
            "  --pending-mode MODE    pulse (default): --pulse-size tasks, --pulse-spacing apart,\n"
            "                         then --pulse-interval; fifo: keep q:pending below\n"
            "                         --pending-max, --batch-size per --dribble-interval\n"
            "  --pulse-size N         (default 10)\n"
            "  --pulse-interval SEC   (default 300)\n"
            "  --pulse-spacing SEC    between the tasks of a pulse (default 1, the original's)\n"
            "  --pending-max N        (default 6)\n"
            "  --batch-size N         (default 1)\n"
            "  --dribble-interval SEC (default 1)\n"
            "  --drip                 --batch-size pinned tasks per --dribble-interval, a node's\n"
            "                         only while its backlog (pinned, not started) is below\n"
            "                         --backlog-limit; a task waits for room, never dropped\n"
            "  --backlog-limit N      (default 1)\n"
            "Waiting:\n"
            "  --wait                 wait until every task has finished; write ledger.jsonl\n"
            "  --timeout SEC          give up waiting after SEC (exit 1)\n"
            "  --json                 print the final summary as one JSON object on stdout\n"
            "Run and Redis:\n"
            "  --run-id ID            the run (Redis key prefix); default $RUN_ID, run_id.env\n"
            "  --logs DIR             logs folder (default logs)\n"
            "  --redis URL            default $TRACEKIT_REDIS_URL, else redis://127.0.0.1:6379/0\n"
            "  --redis-password-file F  the password, first line of F (keeps it out of ps)\n"
            "\n"
            "  -q, --quiet            only warnings and errors\n"
            "  -v, --verbose          debug messages\n"
            "  -h, --help             this text\n");
}

enum { OPT_WAIT = 256, OPT_TIMEOUT, OPT_JSON, OPT_REDIS, OPT_PWFILE, OPT_RUN_ID, OPT_LOGS };

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
    stop_sig = sig;
}

/* Everything one dispatch holds. */
struct disp {
    struct rq *q;
    const char *prefix;
    struct workload w;
    struct pacer p;
    struct jsonl_writer sub;
    char *sub_path;
    int64_t *ids;            /* task ids in enqueue order (ascending) */
    size_t nids;
    int64_t prev_ts;
    size_t npinned;
    /* pinned tasks not started yet (drip, online) */
    int64_t *out_id;
    int *out_node;
    size_t nout;
    int64_t *backlog;        /* per node */
    int64_t qlen;
    bool tty, quiet;
    struct progress *prog;   /* the status line on a terminal, or NULL */
    int64_t t0_ms, last_progress_ms;
};

/* ---- Redis ---- */

static struct rq *connect_redis(const char *url, const char *pw_file, const char *run_id,
                                bool *usage_err, char *err, size_t errlen)
{
    struct redis_url u;
    *usage_err = true;
    if (redisurl_load(url, pw_file, &u, err, errlen) < 0)
        return NULL;
    *usage_err = false;
    /* fail fast at the start; later, ride out a Redis restart */
    struct rq_opts o = {.run_id = run_id, .retry_ms = 30000};
    struct rq *q = rq_open(&u, &o, err, errlen);
    if (q) {
        char *desc = redisurl_describe(&u);
        log_debug("connected to Redis at %s, run %s", desc, run_id);
        free(desc);
    }
    redisurl_free(&u);
    return q;
}

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
static void warn_unregistered(struct disp *d, const char *run_id, bool online)
{
    int rc;
    redisReply *r = cmd2(d, "SMEMBERS", "nodes", NULL, &rc);
    if (!r)
        return;
    bool *used = xcalloc(d->w.nnodes ? d->w.nnodes : 1, sizeof *used);
    for (size_t i = 0; i < d->w.n; i++)
        if (d->w.t[i].node >= 0)
            used[d->w.t[i].node] = true;
    for (size_t k = 0; k < d->w.nnodes; k++) {
        if (!used[k] && !online)
            continue;
        bool found = false;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && !found; i++)
            found = r->element[i]->str && !strcmp(r->element[i]->str, d->w.nodes[k]);
        if (!found)
            log_warn("tasks are pinned to node %s, which has no registered worker in run %s: "
                     "they wait at the head of q:pending, holding up the tasks behind them, "
                     "until one registers (tracekit worker --node-id %s --run-id %s)",
                     d->w.nodes[k], run_id, d->w.nodes[k], run_id);
    }
    free(used);
    freeReplyObject(r);
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
    memset(d->backlog, 0, (d->w.nnodes ? d->w.nnodes : 1) * sizeof *d->backlog);
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

static int enqueue(struct disp *d, const size_t *idx, const int *node, size_t k)
{
    char *ef[CHUNK];
    int64_t ids[CHUNK];
    struct jbuf b;
    jb_init(&b);
    for (size_t s = 0; s < k; s += CHUNK) {
        size_t m = k - s < CHUNK ? k - s : CHUNK;
        for (size_t j = 0; j < m; j++) {
            const struct workload_task *t = &d->w.t[idx[s + j]];
            int nd = node[s + j];
            char *pinned = nd >= 0 && t->node < 0 ? workload_with_node(t->fields, d->w.nodes[nd]) : NULL;
            char trace[37];
            if (uuid_new(trace) < 0) {
                log_error("cannot make a trace id: %s", strerror(errno));
                for (size_t x = 0; x < j; x++)
                    free(ef[x]);
                free(pinned);
                jb_free(&b);
                return -1;
            }
            ef[j] = workload_enqueue_fields(pinned ? pinned : t->fields, trace,
                                      workload_stamp(&d->prev_ts, now_wall_ms()));
            free(pinned);
        }
        int n = rq_enqueue_many(d->q, (const char *const *)ef, m, ids);
        if (n < 0) {
            log_error("enqueue failed after %zu of %zu tasks: %s", d->nids, d->w.n,
                      rq_error(d->q));
            for (size_t j = 0; j < m; j++)
                free(ef[j]);
            jb_free(&b);
            return -1;
        }
        for (size_t j = 0; j < m; j++) {
            jb_reset(&b);
            workload_body(&b, ids[j], ef[j]);
            jsonl_add(&d->sub, &b);
            free(ef[j]);
            d->ids[d->nids++] = ids[j];
            int nd = node[s + j];
            if (nd >= 0) {
                d->npinned++;
                d->out_id[d->nout] = ids[j];
                d->out_node[d->nout++] = nd;
            }
        }
        if (jsonl_flush(&d->sub) < 0)
            log_warn("cannot write %s: %s", d->sub_path, strerror(errno));
        /* only drip and online need to follow pinned tasks */
        if (!(pacer_needs(&d->p) & PACE_NEED_BACKLOG))
            d->nout = 0;
    }
    jb_free(&b);
    return 0;
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
                    d->nids, d->w.n, (long long)c.pending, (long long)c.queued,
                    (long long)c.running, (long long)c.done,
                    (long long)(c.failed + c.dead + c.rejected),
                    (long long)((now - d->t0_ms) / 1000));
}

static void progress_stop(struct disp *d)
{
    progress_end(d->prog);
    d->prog = NULL;
}

static void backlog_text(struct disp *d, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < d->w.nnodes && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%s:%lld", i ? ", " : "", d->w.nodes[i],
                              (long long)d->backlog[i]);
}

/* the original's line per pulse or batch (without a TTY progress line) */
static void step_log(struct disp *d, size_t k, uint64_t pulses_before, size_t in_pulse)
{
    if (d->tty || d->quiet || k == 0)
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
            size_t o = 0;
            for (size_t i = 0; i < d->w.nnodes && o < sizeof bl; i++) {
                size_t n = 0;
                for (size_t t = 0; t < d->w.n; t++)
                    n += d->w.t[t].node == (int)i;
                o += (size_t)snprintf(bl + o, sizeof bl - o, "%s%s=%zu", i ? ", " : "",
                                      d->w.nodes[i], n);
            }
            log_info("enqueued %zu tasks: %s", d->nids, bl);
        }
        break;
    }
}

static int run_pacer(struct disp *d)
{
    size_t *idx = xmalloc((d->w.n ? d->w.n : 1) * sizeof *idx);
    int *node = xmalloc((d->w.n ? d->w.n : 1) * sizeof *node);
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
            if (d->p.pulses != pulses)
                in_pulse = 0;
        }
        progress(d, false);
        if (pacer_done(&d->p))
            break;
        int64_t wait = d->p.next_ms - now_wall_ms();
        if (d->tty && wait > 250)
            wait = 250;
        sleep_ms_or_stop(wait, &stop_sig);
    }
    free(idx);
    free(node);
    if (jsonl_sync(&d->sub) < 0)
        log_warn("cannot write %s: %s", d->sub_path, strerror(errno));
    return rc;
}

/* ---- waiting and the ledger ---- */

struct outcome {
    int64_t done, failed, dead, rejected, unfinished;
    bool has_stats;
    double makespan_ms, wait_p50_ms, wait_p95_ms;
};

/* Read the ledger from `*off` on; count and keep our tasks' records. */
static int poll_results(struct disp *d, long *off, bool *fin, json_t **rec, struct outcome *oc)
{
    char start[24];
    snprintf(start, sizeof start, "%ld", *off);
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
    for (size_t i = 0; i < r->elements; i++) {
        json_t *o = r->element[i]->str ? json_loads(r->element[i]->str, 0, NULL) : NULL;
        int64_t id = 0;
        bool has = o && jsonl_int(o, "task_id", &id);
        int64_t *hit = has ? bsearch(&id, d->ids, d->nids, sizeof *d->ids, cmp_i64) : NULL;
        if (!hit || fin[hit - d->ids]) {
            json_decref(o);
            continue;
        }
        fin[hit - d->ids] = true;
        rec[hit - d->ids] = o;
        const char *st = json_string_value(json_object_get(o, "status"));
        if (st && !strcmp(st, "done"))
            oc->done++;
        else if (st && !strcmp(st, "dead"))
            oc->dead++;
        else if (st && !strcmp(st, "rejected"))
            oc->rejected++;
        else
            oc->failed++;
        oc->unfinished--;
    }
    *off += (long)r->elements;
    freeReplyObject(r);
    return 0;
}

/* Makespan (first enqueue to last end) and waits (start - enqueue) of our
 * finished tasks.  ts_enqueue is this host's clock, ts_start and ts_end the
 * Redis server's (docs/redis.md, "Clocks"). */
static void task_stats(struct disp *d, json_t **rec, struct outcome *oc)
{
    double *waits = xmalloc((d->nids ? d->nids : 1) * sizeof *waits);
    size_t nw = 0;
    int64_t first = INT64_MAX, last = INT64_MIN;
    for (size_t i = 0; i < d->nids; i++) {
        if (!rec[i])
            continue;
        int64_t e = 0, s = 0, end = 0;
        bool he = jsonl_int(rec[i], "ts_enqueue", &e), hs = jsonl_int(rec[i], "ts_start", &s),
             hn = jsonl_int(rec[i], "ts_end", &end);
        if (he && e < first)
            first = e;
        if (hn && end > last)
            last = end;
        if (he && hs)
            waits[nw++] = (double)(s - e);
    }
    if (first != INT64_MAX && last != INT64_MIN && nw > 0) {
        oc->has_stats = true;
        oc->makespan_ms = (double)(last - first);
        qsort(waits, nw, sizeof *waits, cmp_double);
        oc->wait_p50_ms = stats_quantile(waits, nw, 0.50);
        oc->wait_p95_ms = stats_quantile(waits, nw, 0.95);
    }
    free(waits);
}

struct ledger_line {
    int64_t id;
    char *text;
};

static int cmp_ledger(const void *a, const void *b)
{
    const struct ledger_line *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The run's whole ledger, sorted by task id, replacing the file at once: a
 * later --wait in the same run rewrites it with a superset, never appends
 * a task twice. */
static int write_ledger(struct disp *d, const char *path)
{
    char **lines;
    long n = rq_results(d->q, &lines);
    if (n < 0) {
        log_error("cannot read the ledger: %s", rq_error(d->q));
        return -1;
    }
    struct ledger_line *v = xcalloc(n ? (size_t)n : 1, sizeof *v);
    long malformed = 0;
    for (long i = 0; i < n; i++) {
        json_t *o = json_loads(lines[i], 0, NULL);
        if (!o || !jsonl_int(o, "task_id", &v[i].id)) {
            v[i].id = INT64_MAX; /* kept, at the end */
            malformed++;
        }
        v[i].text = lines[i];
        json_decref(o);
    }
    qsort(v, (size_t)n, sizeof *v, cmp_ledger);
    struct jbuf b;
    jb_init(&b);
    for (long i = 0; i < n; i++) {
        jb_append(&b, v[i].text, strlen(v[i].text));
        jb_append(&b, "\n", 1);
        free(v[i].text);
    }
    free(v);
    free(lines);
    if (malformed)
        log_warn("%ld ledger record(s) without a task id (kept at the end of %s)", malformed,
                 path);
    int rc = write_file_atomic(path, b.p ? b.p : "", b.len);
    if (rc < 0)
        log_error("cannot write %s: %s", path, strerror(errno));
    jb_free(&b);
    return rc;
}

/* 0 all finished, 1 timed out or interrupted, -1 Redis error */
static int wait_all(struct disp *d, int64_t timeout_ms, struct outcome *oc)
{
    bool *fin = xcalloc(d->nids ? d->nids : 1, sizeof *fin);
    json_t **rec = xcalloc(d->nids ? d->nids : 1, sizeof *rec);
    oc->unfinished = (int64_t)d->nids;
    long off = 0;
    int64_t start = now_wall_ms();
    int rc = 0;
    while (oc->unfinished > 0) {
        if (poll_results(d, &off, fin, rec, oc) < 0) {
            log_error("Redis: %s", rq_error(d->q));
            rc = -1;
            break;
        }
        progress(d, false);
        if (oc->unfinished == 0)
            break;
        if (stop_sig || (timeout_ms > 0 && now_wall_ms() - start >= timeout_ms)) {
            rc = 1;
            break;
        }
        sleep_ms_or_stop(200, &stop_sig);
    }
    task_stats(d, rec, oc);
    for (size_t i = 0; i < d->nids; i++)
        json_decref(rec[i]);
    free(rec);
    free(fin);
    return rc;
}

/* ---- inputs ---- */

static void summary_json(struct disp *d, const char *run_id, bool waited, const struct outcome *oc,
                         const char *ledger)
{
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "run_id", run_id);
    jb_int(&b, "tasks", (int64_t)d->w.n);
    jb_int(&b, "enqueued", (int64_t)d->nids);
    jb_int(&b, "pinned", (int64_t)d->npinned);
    jb_opt_int(&b, "done", waited, oc->done);
    jb_opt_int(&b, "failed", waited, oc->failed);
    jb_opt_int(&b, "dead", waited, oc->dead);
    jb_opt_int(&b, "rejected", waited, oc->rejected);
    jb_opt_int(&b, "unfinished", waited, oc->unfinished);
    jb_opt_int(&b, "makespan_ms", oc->has_stats, (int64_t)llround(oc->makespan_ms));
    if (oc->has_stats) {
        jb_double(&b, "wait_p50_ms", oc->wait_p50_ms);
        jb_double(&b, "wait_p95_ms", oc->wait_p95_ms);
    } else {
        jb_null(&b, "wait_p50_ms");
        jb_null(&b, "wait_p95_ms");
    }
    jb_int(&b, "elapsed_ms", now_wall_ms() - d->t0_ms);
    jb_str(&b, "submitted", d->sub_path);
    jb_str(&b, "ledger", ledger);
    jb_obj_close(&b);
    printf("%s\n", b.p);
    fflush(stdout);
    jb_free(&b);
}

int cmd_dispatch(int argc, char **argv)
{
    static const struct option own[] = {
        {"wait", no_argument, NULL, OPT_WAIT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"json", no_argument, NULL, OPT_JSON},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"redis-password-file", required_argument, NULL, OPT_PWFILE},
        {"run-id", required_argument, NULL, OPT_RUN_ID},
        {"logs", required_argument, NULL, OPT_LOGS},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct option longopts[WLO_COUNT + sizeof own / sizeof own[0]];
    memcpy(longopts, wlopts_longopts, WLO_COUNT * sizeof *longopts);
    memcpy(longopts + WLO_COUNT, own, sizeof own);
    struct wlopts o;
    wlopts_init(&o);
    const char *redis = NULL, *pw_file = NULL, *run_id = NULL, *logs = NULL;
    int64_t timeout_ms = 0;
    bool wait = false, json = false, quiet = false;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "qvh", longopts, NULL)) != -1) {
        if (c >= WLO_FIRST && c < WLO_END) {
            if (wlopts_set(&o, c, optarg) < 0)
                return TK_EXIT_USAGE;
            continue;
        }
        switch (c) {
        case OPT_WAIT: wait = true; break;
        case OPT_TIMEOUT:
            if (!cli_seconds("--timeout", optarg, &timeout_ms))
                return TK_EXIT_USAGE;
            break;
        case OPT_JSON: json = true; break;
        case OPT_REDIS: redis = optarg; break;
        case OPT_PWFILE: pw_file = optarg; break;
        case OPT_RUN_ID: run_id = optarg; break;
        case OPT_LOGS: logs = optarg; break;
        case 'q': quiet = true; log_set_level(LOG_WARN); break;
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default:
            if (optopt)
                cli_error("option '%s' needs a value (see 'tracekit dispatch --help')",
                          argv[optind - 1]);
            else
                cli_error("unknown option '%s' (see 'tracekit dispatch --help')",
                          argv[optind - 1]);
            return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (a command goes in --command 'ARGV...')",
                  argv[optind]);
        return TK_EXIT_USAGE;
    }
    if (wlopts_check(&o) < 0) {
        wlopts_free(&o);
        return TK_EXIT_USAGE;
    }
    if (timeout_ms > 0 && !wait) {
        cli_error("--timeout goes with --wait");
        wlopts_free(&o);
        return TK_EXIT_USAGE;
    }
    char err[1024];

    struct run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    struct disp d;
    memset(&d, 0, sizeof d);
    int rc = TK_EXIT_FAIL;
    char *ledger = NULL;
    if (run_ctx_resolve(&ctx, run_id, NULL, NULL, logs, RUNID_REQUIRED, err, sizeof err) < 0) {
        cli_error("%s", err);
        rc = TK_EXIT_USAGE;
        goto out;
    }

    /* the task list, before touching Redis */
    int br = wlopts_build(&o, &d.w);
    if (br < 0) {
        rc = br == -2 ? TK_EXIT_USAGE : TK_EXIT_FAIL;
        goto out;
    }
    struct pace_cfg pc;
    wlopts_pace(&o, &pc);
    pacer_init(&d.p, &pc, &d.w);
    d.ids = xmalloc(d.w.n * sizeof *d.ids);
    d.out_id = xmalloc(d.w.n * sizeof *d.out_id);
    d.out_node = xmalloc(d.w.n * sizeof *d.out_node);
    d.backlog = xcalloc(d.w.nnodes ? d.w.nnodes : 1, sizeof *d.backlog);
    d.quiet = quiet;
    d.tty = !quiet && isatty(STDERR_FILENO);
    d.prog = progress_begin("dispatch", quiet);

    bool usage_err;
    d.q = connect_redis(redis, pw_file, ctx.run_id, &usage_err, err, sizeof err);
    if (!d.q) {
        if (usage_err) {
            cli_error("%s", err);
            rc = TK_EXIT_USAGE;
        } else {
            log_error("%s", err);
        }
        goto out;
    }
    d.prefix = rq_prefix(d.q);
    warn_unregistered(&d, ctx.run_id, o.policy == WORKLOAD_ONLINE);

    if (mkdir_p(ctx.run_dir, 0755) < 0) {
        log_error("cannot create %s: %s", ctx.run_dir, strerror(errno));
        goto out;
    }
    d.sub_path = path_join(ctx.run_dir, "submitted.jsonl");
    if (jsonl_open(&d.sub, d.sub_path, 200) < 0) {
        log_error("cannot open %s: %s", d.sub_path, strerror(errno));
        free(d.sub_path);
        d.sub_path = NULL;
        goto out;
    }

    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    d.t0_ms = now_wall_ms();
    log_debug("dispatching %zu task(s) to run %s", d.w.n, ctx.run_id);

    int pr = run_pacer(&d);
    bool interrupted = stop_sig != 0;
    if (!d.tty && !quiet && pr == 0 && !interrupted) {
        if (pc.mode == PACE_PULSE)
            log_info("[pending-pulse] done, total enqueued=%zu", d.nids);
        else if (pc.mode == PACE_FIFO)
            log_info("[pending] done, total enqueued=%zu", d.nids);
    }
    struct outcome oc;
    memset(&oc, 0, sizeof oc);
    int wr = 0;
    bool waited = pr == 0 && !interrupted && wait;
    if (waited) {
        wr = wait_all(&d, timeout_ms, &oc);
        if (wr >= 0) {
            ledger = path_join(ctx.run_dir, "ledger.jsonl");
            if (write_ledger(&d, ledger) < 0)
                wr = -1;
        }
    }
    progress_stop(&d);
    interrupted = stop_sig != 0;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    if (pr < 0 || wr < 0) {
        rc = TK_EXIT_FAIL;
    } else if (interrupted) {
        log_error("interrupted: %zu of %zu task(s) enqueued%s", d.nids, d.w.n,
                  wait && d.nids == d.w.n ? ", stopped waiting (the tasks go on)" : "");
        rc = TK_EXIT_FAIL;
    } else if (wait && wr == 1) {
        log_error("timed out after %.1f s: %lld of %zu task(s) not finished", timeout_ms / 1000.0,
                  (long long)oc.unfinished, d.nids);
        rc = TK_EXIT_FAIL;
    } else if (wait) {
        rc = oc.failed + oc.dead + oc.rejected > 0 ? TK_EXIT_FAIL : TK_EXIT_OK;
    } else {
        rc = TK_EXIT_OK;
    }
    if (!quiet) {
        if (waited) {
            char stats[200] = "";
            if (oc.has_stats)
                snprintf(stats, sizeof stats, "; makespan %.1f s, wait p50 %.3f s, p95 %.3f s",
                         oc.makespan_ms / 1000, oc.wait_p50_ms / 1000, oc.wait_p95_ms / 1000);
            log_info("%zu task(s) in run %s: done %lld, failed %lld, dead %lld, rejected %lld, "
                     "unfinished %lld%s; ledger %s",
                     d.nids, ctx.run_id, (long long)oc.done, (long long)oc.failed,
                     (long long)oc.dead, (long long)oc.rejected, (long long)oc.unfinished,
                     stats, ledger ? ledger : "not written");
        } else {
            log_info("enqueued %zu of %zu task(s) in run %s (%zu pinned to nodes); %s",
                     d.nids, d.w.n, ctx.run_id, d.npinned, d.sub_path);
        }
    }
    if (json)
        summary_json(&d, ctx.run_id, waited, &oc, ledger);

out:
    if (d.sub_path) {
        jsonl_close(&d.sub);
        free(d.sub_path);
    }
    if (d.q)
        rq_close(d.q);
    pacer_free(&d.p);
    workload_free(&d.w);
    free(d.ids);
    free(d.out_id);
    free(d.out_node);
    free(d.backlog);
    free(ledger);
    wlopts_free(&o);
    run_ctx_free(&ctx);
    return rc;
}
