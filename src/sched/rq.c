/* rq.c -- the queue protocol of the scheduling plane on a Redis connection
 * (common/redis.c); see rq.h and docs/redis.md.  The state machine lives in
 * the Lua scripts of rq_lua.h; this file converts between C structs and
 * script arguments and replies. */
#include "sched/rq.h"

#include "common/log.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonl.h"
#include "common/run.h"
#include "common/util.h"
#include "common/uuid.h"
#include "sched/rq_lua.h"

enum {
    S_ENQUEUE, S_PLACE, S_TAKE, S_HEARTBEAT, S_COMPLETE, S_REAP, S_REGISTER, S_LEAVE,
    S_STATE, S_REJECT, S_AUDIT, S_COUNTS, S_MISSING, S_COUNT
};

static const char *const script_body[S_COUNT] = {
    LUA_ENQUEUE, LUA_PLACE, LUA_TAKE, LUA_HEARTBEAT, LUA_COMPLETE, LUA_REAP,
    LUA_REGISTER, LUA_LEAVE, LUA_STATE, LUA_REJECT, LUA_AUDIT, LUA_COUNTS, LUA_MISSING,
};

/* Ids reserved per INCRBY of the task counter. */
#define ID_BLOCK 64

struct rq {
    struct redis_conn *c;
    char *prefix;             /* "tk:RUN_ID:" */
    int script[S_COUNT];      /* handles of redis_script_add */
    int64_t id_next, id_end;  /* reserved task ids [next, end) */
    uint32_t nonce;           /* with pid and batches: unique batch tokens */
    uint64_t batches;
    bool take_look;           /* rq_take looks through the in-flight list first */
    char reg_worker[160];     /* the worker registered last on this connection */
    char reg_node[160];       /* ... and its node (heartbeats skip a look-up) */
    unsigned take_reconnects; /* reconnects when it last did */
    /* tasks a wake-up told (rq_wait): units, memory, pin never change, so
     * the snapshot does not read them again (a ring of the newest) */
    struct rq_head known[8];
    size_t known_next;
    int64_t alone;            /* the last wake-up's task was alone in q:pending */
    int64_t head_max;         /* the highest task id a snapshot returned */
};

const char *rq_error(const struct rq *q) { return redis_error(q->c); }
const char *rq_prefix(const struct rq *q) { return q->prefix; }
unsigned rq_reconnects(const struct rq *q) { return redis_reconnects(q->c); }
struct redis_conn *rq_conn(struct rq *q) { return q->c; }

/* EVALSHA of script s with the key prefix as ARGV[1], then args. */
static redisReply *eval(struct rq *q, int s, int nargs, const char **args, int *rc)
{
    if (nargs < 0) {
        redis_set_error(q->c, "a script call with %d arguments", nargs);
        *rc = RQ_EARG;
        return NULL;
    }
    const char *small[64];
    const char **a = nargs + 1 <= (int)ARRAY_LEN(small) ? small
                                                        : xmalloc((size_t)(nargs + 1) * sizeof *a);
    a[0] = q->prefix;
    for (int i = 0; i < nargs; i++)
        a[1 + i] = args[i];
    redisReply *r = redis_eval(q->c, q->script[s], nargs + 1, a, NULL, rc);
    if (a != small)
        free(a);
    return r;
}

/* remember a task a wake-up told: "id cpu mem alone pin" (pin may be
 * empty; alone: 1 if it was alone in q:pending) */
static void know_task(struct rq *q, const char *w)
{
    long long id, cpu, mem;
    int alone, end = 0;
    q->alone = 0;
    if (!w || sscanf(w, "%lld %lld %lld %d %n", &id, &cpu, &mem, &alone, &end) != 4 || end == 0 ||
        id <= 0)
        return;
    q->alone = alone == 1 ? id : 0;
    struct rq_head *k = &q->known[q->known_next++ % ARRAY_LEN(q->known)];
    free(k->pin);
    *k = (struct rq_head){id, cpu, mem, w[end] ? xstrdup(w + end) : NULL};
}

static const struct rq_head *known_task(const struct rq *q, int64_t id)
{
    for (size_t i = 0; i < ARRAY_LEN(q->known); i++)
        if (q->known[i].id == id && id > 0)
            return &q->known[i];
    return NULL;
}

/* ---- open / close ---- */

/* rq_open, with the REDIS_E* class of a failure in *rc. */
static struct rq *open_rc(const struct redis_url *u, const struct rq_opts *o, int *rc, char *err,
                          size_t errlen)
{
    *rc = REDIS_EARG;
    char *prefix = redis_run_prefix(o->run_id);
    if (!prefix) {
        snprintf(err, errlen, "invalid run id for Redis keys: '%s'", o->run_id ? o->run_id : "");
        return NULL;
    }
    struct redis_conn_opts ro = {
        .connect_timeout_ms = o->connect_timeout_ms, .op_timeout_ms = o->op_timeout_ms,
        .retry_ms = o->retry_ms, .backoff_min_ms = o->backoff_min_ms,
        .backoff_max_ms = o->backoff_max_ms,
    };
    struct redis_conn *c;
    if ((*rc = redis_open(u, &ro, &c, err, errlen)) != 0) {
        free(prefix);
        return NULL;
    }
    struct rq *q = xcalloc(1, sizeof *q);
    q->c = c;
    q->prefix = prefix;
    q->take_look = true;
    if (getrandom(&q->nonce, sizeof q->nonce, 0) != (ssize_t)sizeof q->nonce)
        q->nonce = (uint32_t)now_mono_ns();
    for (int s = 0; s < S_COUNT; s++) {
        char *text = xasprintf("%s%s", LUA_PRELUDE, script_body[s]);
        q->script[s] = redis_script_add(c, text);
        free(text);
        if (q->script[s] < 0) {
            *rc = q->script[s];
            snprintf(err, errlen, "%s", redis_error(c));
            rq_close(q);
            return NULL;
        }
    }
    return q;
}

struct rq *rq_open(const struct redis_url *u, const struct rq_opts *o, char *err,
                   size_t errlen)
{
    int rc;
    return open_rc(u, o, &rc, err, errlen);
}

struct rq *rq_open_wait(const struct redis_url *u, const struct rq_opts *o, int64_t wait_ms,
                        char *err, size_t errlen)
{
    int64_t t0 = now_mono_ns(), backoff = 500, next_note = 0;
    for (;;) {
        int rc;
        struct rq *q = open_rc(u, o, &rc, err, errlen);
        int64_t waited = (now_mono_ns() - t0) / 1000000;
        if (q) {
            if (next_note)
                log_info("connected to Redis after %.0f s", waited / 1000.0);
            return q;
        }
        bool transient = rc == REDIS_ECONN || rc == REDIS_ETIMEOUT || rc == REDIS_EUNREACH;
        if (!transient || waited >= wait_ms) {
            if (transient && wait_ms > 0) {
                size_t n = strlen(err);
                snprintf(err + n, errlen - n, " (gave up after %.0f s of retries, "
                         "--connect-timeout)", waited / 1000.0);
            }
            return NULL;
        }
        if (waited >= next_note) {
            log_warn("%s; retrying for up to %.0f s more (--connect-timeout)", err,
                     (wait_ms - waited) / 1000.0);
            next_note = waited + 30000;
        }
        int64_t pause = backoff < wait_ms - waited ? backoff : wait_ms - waited;
        sleep_ms(pause);
        backoff = backoff * 2 < 10000 ? backoff * 2 : 10000;
    }
}

void rq_close(struct rq *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < ARRAY_LEN(q->known); i++)
        free(q->known[i].pin);
    redis_close(q->c);
    free(q->prefix);
    free(q);
}

/* ---- enqueue ---- */

/* Reserve n consecutive task ids. */
static int reserve_ids(struct rq *q, size_t n, int64_t *first)
{
    if (q->id_end - q->id_next >= (int64_t)n) {
        *first = q->id_next;
        q->id_next += (int64_t)n;
        return 0;
    }
    int64_t want = n > ID_BLOCK ? (int64_t)n : ID_BLOCK;
    char key[300], by[24];
    snprintf(key, sizeof key, "%sseq", q->prefix);
    snprintf(by, sizeof by, "%lld", (long long)want);
    const char *argv[3] = {"INCRBY", key, by};
    int rc;
    redisReply *r = redis_command(q->c, 3, argv, NULL, &rc);
    if (!r)
        return rc;
    int64_t end;
    if (!redis_reply_int(r, &end))
        return redis_bad_reply(q->c, r, "INCRBY");
    freeReplyObject(r);
    /* ids (end - want, end]; the unused rest of an old block is dropped */
    q->id_next = end - want + 1;
    q->id_end = end + 1;
    *first = q->id_next;
    q->id_next += (int64_t)n;
    return 0;
}

struct enq_args {
    char id[24], cpu[24], mem[24], ts[24];
    char trace[160];
    char pin[132];  /* run_id_valid: at most 128 characters */
    char *body;
};

/* Build the stored body and the script arguments from the caller's fields. */
static int prepare_task(struct rq *q, const char *fields, int64_t id, struct enq_args *a)
{
    json_error_t je;
    json_t *o = jsonl_loads(fields ? fields : "{}", 0, &je);
    if (!o || !json_is_object(o)) {
        redis_set_error(q->c, "task fields must be a JSON object: %s",
                        o ? "not an object" : je.text);
        json_decref(o);
        return RQ_EARG;
    }
    int64_t cpu = 1, mem = 0, ts = -1;   /* -1: stamped by the script */
    json_t *v = json_object_get(o, "cpu_units");
    if (v && !json_is_integer(v)) {
        redis_set_error(q->c, "task field cpu_units must be an integer");
        goto bad;
    }
    if (v && json_integer_value(v) > 1)
        cpu = json_integer_value(v);
    v = json_object_get(o, "mem_mb");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
        redis_set_error(q->c, "task field mem_mb must be an integer >= 0");
        goto bad;
    }
    if (v)
        mem = json_integer_value(v);
    v = json_object_get(o, "ts_enqueue");
    if (v && !json_is_integer(v)) {
        redis_set_error(q->c, "task field ts_enqueue must be an integer (ms)");
        goto bad;
    }
    if (v)
        ts = json_integer_value(v);
    v = json_object_get(o, "trace_id");
    if (v && (!json_is_string(v) || !json_string_length(v) ||
              json_string_length(v) >= sizeof a->trace)) {
        redis_set_error(q->c, "task field trace_id must be a non-empty string (< %zu bytes)",
                        sizeof a->trace);
        goto bad;
    }
    if (v)
        snprintf(a->trace, sizeof a->trace, "%s", json_string_value(v));
    else if (uuid_new(a->trace) < 0) {
        redis_set_error(q->c, "cannot make a trace id: %s", strerror(errno));
        goto bad;
    }
    v = json_object_get(o, "node");
    if (v && !json_is_null(v) && (!json_is_string(v) || !run_id_valid(json_string_value(v)))) {
        redis_set_error(q->c, "task field node must be a node id (" RUN_ID_RULE
                              ") or null, to pin the task to that node");
        goto bad;
    }
    snprintf(a->pin, sizeof a->pin, "%s", json_is_string(v) ? json_string_value(v) : "");
    snprintf(a->id, sizeof a->id, "%lld", (long long)id);
    snprintf(a->cpu, sizeof a->cpu, "%lld", (long long)cpu);
    snprintf(a->mem, sizeof a->mem, "%lld", (long long)mem);
    if (ts >= 0)
        snprintf(a->ts, sizeof a->ts, "%lld", (long long)ts);

    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_int(&b, "task_id", id);
    jb_str(&b, "trace_id", a->trace);
    const char *k;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "task_id") && strcmp(k, "trace_id") && strcmp(k, "ts_enqueue") &&
            strcmp(k, "attempt"))
            jb_json(&b, k, v);
    }
    jb_int(&b, "ts_enqueue", ts < 0 ? 0 : ts);
    jb_obj_close(&b);
    if (ts < 0) {   /* end before the stamp: "..., "ts_enqueue": " */
        if (b.len < 2 || strcmp(b.p + b.len - 2, "0}"))
            TK_BUG("unexpected body end");
        b.p[b.len - 2] = '\0';
    }
    a->body = xstrdup(b.p);
    jb_free(&b);
    json_decref(o);
    return 0;
bad:
    json_decref(o);
    return RQ_EARG;
}

#define ENQ_NARGS 7
#define ENQ_CALL 128  /* tasks per ENQUEUE call */

static void enq_argv(struct enq_args *a, const char *argv[ENQ_NARGS])
{
    argv[0] = a->id;
    argv[1] = a->body;
    argv[2] = a->cpu;
    argv[3] = a->mem;
    argv[4] = a->trace;
    argv[5] = a->ts;
    argv[6] = a->pin;
}

/* Tasks with the ids first.. (or ids) in one ENQUEUE script call (one
 * batch: one RPUSH, one stamp, one wake-up); ts (may be NULL) gets each
 * task's ts_enqueue.  raise: Redis lost them (rq_enqueue_again). */
static int enqueue_batch(struct rq *q, const char *const *fields_json, size_t n, int64_t first,
                         const int64_t *ids, int64_t *ts, bool raise)
{
    struct enq_args *a = xcalloc(n, sizeof *a);
    const char **args = xmalloc((1 + n * ENQ_NARGS) * sizeof *args);
    size_t done = 0;
    int rc = 0;
    for (; done < n; done++) {
        rc = prepare_task(q, fields_json[done], ids ? ids[done] : first + (int64_t)done,
                          &a[done]);
        if (rc)
            break;
        enq_argv(&a[done], args + 1 + done * ENQ_NARGS);
    }
    /* ENQ_CALL tasks per call (sent again after a reconnect: the script
     * skips what exists) */
    for (size_t s = 0; rc == 0 && s < n; s += ENQ_CALL) {
        size_t m = n - s < ENQ_CALL ? n - s : ENQ_CALL;
        /* the flag goes where the previous call's last argument was */
        args[s * ENQ_NARGS] = raise ? "1" : "0";
        redisReply *r = eval(q, S_ENQUEUE, (int)(1 + m * ENQ_NARGS), args + s * ENQ_NARGS, &rc);
        if (r && !redis_reply_array(r, m))
            rc = redis_bad_reply(q->c, r, "enqueue");
        else if (r) {
            for (size_t i = 0; rc == 0 && ts && i < m; i++)
                if (!redis_reply_int(r->element[i], &ts[s + i]))
                    rc = redis_bad_reply(q->c, NULL, "enqueue");
            freeReplyObject(r);
        }
    }
    for (size_t i = 0; i < done; i++)
        free(a[i].body);
    free(a);
    free(args);
    return rc;
}

int rq_enqueue(struct rq *q, const char *fields_json, int64_t *task_id)
{
    const char *fj = fields_json;
    int n = rq_enqueue_many(q, &fj, 1, task_id);
    return n == 1 ? 0 : n < 0 ? n : RQ_EPROTO;
}

int rq_enqueue_many(struct rq *q, const char *const *fields_json, size_t n, int64_t *ids)
{
    return rq_enqueue_stamped(q, fields_json, n, ids, NULL);
}

int rq_enqueue_stamped(struct rq *q, const char *const *fields_json, size_t n, int64_t *ids,
                       int64_t *ts)
{
    if (n == 0)
        return 0;
    int64_t first = 0;
    int rc = reserve_ids(q, n, &first);
    if (rc)
        return rc;
    rc = enqueue_batch(q, fields_json, n, first, NULL, ts, false);
    if (rc)
        return rc;
    if (ids)
        for (size_t i = 0; i < n; i++)
            ids[i] = first + (int64_t)i;
    return (int)n;
}

int rq_missing(struct rq *q, const int64_t *ids, size_t n, int64_t *missing)
{
    size_t found = 0;
    for (size_t s = 0; s < n; s += 60) {
        size_t m = n - s < 60 ? n - s : 60;
        char buf[60][24];
        const char *args[60];
        for (size_t i = 0; i < m; i++) {
            snprintf(buf[i], sizeof buf[i], "%lld", (long long)ids[s + i]);
            args[i] = buf[i];
        }
        int rc;
        redisReply *r = eval(q, S_MISSING, (int)m, args, &rc);
        if (!r)
            return rc;
        if (r->type != REDIS_REPLY_ARRAY)
            return redis_bad_reply(q->c, r, "missing");
        for (size_t i = 0; i < r->elements; i++)
            if (redis_reply_int(r->element[i], &missing[found]))
                found++;
        freeReplyObject(r);
    }
    return (int)found;
}

int rq_enqueue_again(struct rq *q, const char *const *fields_json, const int64_t *ids, size_t n)
{
    if (n == 0)
        return 0;
    int rc = enqueue_batch(q, fields_json, n, 0, ids, NULL, true);
    return rc ? rc : (int)n;
}

/* ---- scheduler side ---- */

void rq_state_free(struct rq_state *s)
{
    for (size_t i = 0; i < s->nhosts; i++) {
        free(s->hosts[i].node);
        free(s->hosts[i].worker);
    }
    free(s->hosts);
    for (size_t i = 0; i < s->nhead; i++)
        free(s->head[i].pin);
    free(s->head);
    memset(s, 0, sizeof *s);
}

static int cmp_host(const void *a, const void *b)
{
    return strcmp(((const struct rq_host *)a)->node, ((const struct rq_host *)b)->node);
}

/* One host of the STATE reply: 11 elements from e. */
static void parse_host(redisReply **e, struct rq_host *h)
{
    int64_t up = 0;
    h->node = xstrdup(redis_reply_str(e[0]));
    redis_reply_int(e[1], &up);
    h->up = up != 0;
    h->worker = xstrdup(redis_reply_str(e[2]));
    int64_t *f[] = {&h->cap, &h->cap_total, &h->run_count, &h->mem, &h->mem_total, &h->phys};
    for (size_t j = 0; j < ARRAY_LEN(f); j++)
        if (!redis_reply_int(e[3 + j], f[j]))
            *f[j] = 0;
    if (!parse_double(redis_reply_str(e[9]), 0, 1e6, &h->ratio))
        h->ratio = 1.0;
    if (!redis_reply_int(e[10], &h->parallel))
        h->parallel = 0;
}

int rq_state(struct rq *q, size_t nhead, struct rq_state *s)
{
    return rq_state_since(q, nhead, 0, 0, s);
}

int rq_state_since(struct rq *q, size_t nhead, int64_t since, int64_t hint, struct rq_state *s)
{
    memset(s, 0, sizeof *s);
    char nh[24], si[24], hi[24];
    snprintf(nh, sizeof nh, "%zu", nhead);
    snprintf(si, sizeof si, "%lld", (long long)(since > 0 ? since : 0));
    snprintf(hi, sizeof hi, "%lld", (long long)(hint > 0 ? hint : 0));
    /* the task the last wake-up said was alone: used once, by a partial
     * snapshot (LUA_STATE) */
    char alone[24] = "", ids[ARRAY_LEN(q->known)][24];
    /* (not a task an earlier snapshot returned: then the wake-up is older
     * than what this scheduler knows, and the task likely placed) */
    if (since > 0 && q->alone > q->head_max && known_task(q, q->alone))
        snprintf(alone, sizeof alone, "%lld", (long long)q->alone);
    q->alone = 0;
    const char *args[4 + ARRAY_LEN(q->known)] = {nh, si, hi, alone};
    int na = 4;
    for (size_t i = 0; i < ARRAY_LEN(q->known); i++)
        if (q->known[i].id > 0) {
            snprintf(ids[i], sizeof ids[i], "%lld", (long long)q->known[i].id);
            args[na++] = ids[i];
        }
    int rc;
    redisReply *r = eval(q, S_STATE, na, args, &rc);
    if (!r)
        return rc == RQ_ESCRIPT && strstr(rq_error(q), "key layout") ? RQ_ELAYOUT : rc;
    /* ver, seq, full, nhosts, 11 per host, nhead, 4 per task, pending */
    size_t nn, nt;
    int64_t full = 1;
    if (!redis_reply_array(r, 5) || !redis_reply_int(r->element[0], &s->ver) ||
        !redis_reply_int(r->element[1], &s->seq) || !redis_reply_int(r->element[2], &full) ||
        !redis_reply_count(r, 3, 11, &nn) || !redis_reply_count(r, 4 + nn * 11, 4, &nt) ||
        !redis_reply_array(r, 4 + nn * 11 + 1 + nt * 4 + 1))
        return redis_bad_reply(q->c, r, "state");
    s->partial = full == 0;
    s->hosts = xcalloc(nn ? nn : 1, sizeof *s->hosts);
    s->nhosts = nn;
    for (size_t i = 0; i < nn; i++)
        parse_host(r->element + 4 + i * 11, &s->hosts[i]);
    qsort(s->hosts, nn, sizeof *s->hosts, cmp_host);
    size_t k = 4 + nn * 11 + 1;
    s->nhead = nt;
    s->head = xcalloc(nt ? nt : 1, sizeof *s->head);
    for (size_t i = 0; i < nt; i++, k += 4) {
        redis_reply_int(r->element[k], &s->head[i].id);
        if (s->head[i].id > q->head_max)
            q->head_max = s->head[i].id;
        const struct rq_head *kn = known_task(q, s->head[i].id);
        if (kn && !*redis_reply_str(r->element[k + 1])) {  /* not read: known */
            s->head[i].cpu_units = kn->cpu_units;
            s->head[i].mem_mb = kn->mem_mb;
            s->head[i].pin = kn->pin ? xstrdup(kn->pin) : NULL;
            continue;
        }
        redis_reply_int(r->element[k + 1], &s->head[i].cpu_units);
        redis_reply_int(r->element[k + 2], &s->head[i].mem_mb);
        const char *pin = redis_reply_str(r->element[k + 3]);
        s->head[i].pin = *pin ? xstrdup(pin) : NULL;
    }
    redis_reply_int(r->element[k], &s->pending);
    freeReplyObject(r);
    return 0;
}

void rq_host_to_pol(const struct rq_host *h, struct pol_host *out)
{
    *out = (struct pol_host){
        .id = h->node,
        .up = h->up,
        .cores = h->phys,
        .units_total = h->cap_total,
        .units_free = h->cap,
        .mem_total_mb = h->mem_total,
        .mem_free_mb = h->mem_total > 0 ? h->mem : 0,
        .instances = h->run_count,
        .max_parallel = h->parallel,
        .core_mhz = 0,
    };
}

static enum rq_place_status place_status(const char *s)
{
    static const struct {
        const char *name;
        enum rq_place_status st;
    } map[] = {
        {"ok", RQ_P_OK},         {"already", RQ_P_ALREADY}, {"stale", RQ_P_STALE},
        {"version", RQ_P_VERSION}, {"nocap", RQ_P_NOCAP},   {"busy", RQ_P_BUSY},
        {"nomem", RQ_P_NOMEM},   {"down", RQ_P_DOWN},       {"unknown", RQ_P_UNKNOWN},
        {"gone", RQ_P_GONE},     {"pinned", RQ_P_PINNED},
    };
    for (size_t i = 0; i < ARRAY_LEN(map); i++)
        if (!strcmp(s, map[i].name))
            return map[i].st;
    return (enum rq_place_status)-1;
}

int rq_place_many(struct rq *q, const struct rq_place_req *r, size_t n,
                  struct rq_place_res *res)
{
    if (n == 0)
        return 0;
    char token[64], ver[24] = "";
    snprintf(token, sizeof token, "%d.%08x.%llu", (int)getpid(), q->nonce,
             (unsigned long long)++q->batches);
    /* one script call: the batch is checked against the first request's
     * version once, and applied in order (LUA_PLACE) */
    if (r[0].expect_ver >= 0)
        snprintf(ver, sizeof ver, "%lld", (long long)r[0].expect_ver);
    /* per placement: id, node, then units, memory, pin as the caller
     * knows them ('' units: unknown, the script reads the task hash) */
    char (*num)[3][24] = xmalloc(n * sizeof *num);
    const char **args = xmalloc((2 + 5 * n) * sizeof *args);
    args[0] = token;
    args[1] = ver;
    for (size_t i = 0; i < n; i++) {
        if (!run_id_valid(r[i].node)) {
            redis_set_error(q->c, "invalid node id '%s'", r[i].node ? r[i].node : "");
            free(num);
            free(args);
            return RQ_EARG;
        }
        const struct rq_head *t = r[i].task && r[i].task->id == r[i].task_id ? r[i].task : NULL;
        snprintf(num[i][0], 24, "%lld", (long long)r[i].task_id);
        num[i][1][0] = num[i][2][0] = '\0';
        if (t) {
            snprintf(num[i][1], 24, "%lld", (long long)t->cpu_units);
            snprintf(num[i][2], 24, "%lld", (long long)t->mem_mb);
        }
        const char **a = args + 2 + 5 * i;
        a[0] = num[i][0];
        a[1] = r[i].node;
        a[2] = num[i][1];
        a[3] = num[i][2];
        a[4] = t && t->pin ? t->pin : "";
    }
    int rc;
    redisReply *rep = eval(q, S_PLACE, (int)(2 + 5 * n), args, &rc);
    free(num);
    free(args);
    if (!rep)
        return rc;
    int64_t v;
    if (!redis_reply_array(rep, 1 + 2 * n) || !redis_reply_int(rep->element[0], &v))
        return redis_bad_reply(q->c, rep, "place");
    /* the version after each placement: one more per placement */
    int64_t base = v;
    for (size_t i = 0; i < n; i++) {
        int st = (int)place_status(redis_reply_str(rep->element[1 + 2 * i]));
        if (st < 0)
            return redis_bad_reply(q->c, rep, "place");
        res[i].st = (enum rq_place_status)st;
        if (!redis_reply_int(rep->element[2 + 2 * i], &res[i].cap_left))
            res[i].cap_left = -1;
        if (st == RQ_P_OK)
            base--;
    }
    for (size_t i = 0; i < n; i++) {
        if (res[i].st == RQ_P_OK)
            base++;
        res[i].ver = res[i].st == RQ_P_OK ? base : v;
    }
    freeReplyObject(rep);
    return 0;
}

int rq_place(struct rq *q, const struct rq_place_req *r, struct rq_place_res *res)
{
    return rq_place_many(q, r, 1, res);
}

int rq_reject(struct rq *q, int64_t task_id, const char *reason)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)task_id);
    const char *args[2] = {id, reason ? reason : ""};
    int rc;
    redisReply *r = eval(q, S_REJECT, 2, args, &rc);
    if (!r)
        return rc;
    int64_t v;
    if (!redis_reply_int(r, &v))
        return redis_bad_reply(q->c, r, "reject");
    freeReplyObject(r);
    return (int)v;
}

int rq_wait(struct rq *q, int timeout_ms)
{
    char key[300], secs[24];
    snprintf(key, sizeof key, "%swake", q->prefix);
    snprintf(secs, sizeof secs, "%.3f", timeout_ms / 1000.0);
    const char *argv[3] = {"BLPOP", key, secs};
    int rc;
    redisReply *r = redis_command_blocking(q->c, timeout_ms, 3, argv, NULL, &rc);
    if (!r)
        return rc;
    int woke = r->type == REDIS_REPLY_ARRAY;
    if (woke)
        know_task(q, r->elements == 2 ? redis_reply_str(r->element[1]) : NULL);
    freeReplyObject(r);
    return woke;
}

int rq_reap(struct rq *q, int max_deliveries, struct rq_reap_stats *st)
{
    char md[16];
    snprintf(md, sizeof md, "%d", max_deliveries < 1 ? 1 : max_deliveries);
    const char *args[1] = {md};
    int rc;
    redisReply *r = eval(q, S_REAP, 1, args, &rc);
    if (!r)
        return rc;
    struct rq_reap_stats s = {0, 0, 0, -1};
    if (!redis_reply_array(r, 4) || !redis_reply_int(r->element[0], &s.workers) ||
        !redis_reply_int(r->element[1], &s.requeued) || !redis_reply_int(r->element[2], &s.dead) ||
        !redis_reply_int(r->element[3], &s.next_ms))
        return redis_bad_reply(q->c, r, "reap");
    freeReplyObject(r);
    if (st)
        *st = s;
    return 0;
}

/* ---- worker side ---- */

static int check_ids(struct rq *q, const char *node, const char *worker)
{
    if (node && !run_id_valid(node)) {
        redis_set_error(q->c, "invalid node id '%s'", node);
        return RQ_EARG;
    }
    if (worker && !run_id_valid(worker)) {
        redis_set_error(q->c, "invalid worker id '%s'", worker);
        return RQ_EARG;
    }
    return 0;
}

int rq_register(struct rq *q, const struct rq_worker_info *w, char **owner)
{
    if (owner)
        *owner = NULL;
    int rc = check_ids(q, w->node, w->worker);
    if (rc)
        return rc;
    if (w->cap_total < 1 || w->ttl_ms < 100) {
        redis_set_error(q->c, "register: capacity must be >= 1 and the liveness TTL >= 100 ms");
        return RQ_EARG;
    }
    char a[8][32];
    snprintf(a[0], 32, "%lld", (long long)w->cap_total);
    snprintf(a[1], 32, "%lld", (long long)w->phys);
    snprintf(a[2], 32, "%g", w->ratio > 0 ? w->ratio : 1.0);
    snprintf(a[3], 32, "%lld", (long long)(w->mem_total_mb > 0 ? w->mem_total_mb : 0));
    snprintf(a[4], 32, "%lld", (long long)(w->parallel > 0 ? w->parallel : 0));
    snprintf(a[5], 32, "%d", w->ttl_ms);
    snprintf(a[6], 32, "%d", w->max_deliveries < 1 ? 3 : w->max_deliveries);
    const char *args[9] = {w->node, w->worker, a[0], a[1], a[2], a[3], a[4], a[5], a[6]};
    redisReply *r = eval(q, S_REGISTER, 9, args, &rc);
    if (!r)
        return rc;
    if (!redis_reply_array(r, 2))
        return redis_bad_reply(q->c, r, "register");
    const char *st = redis_reply_str(r->element[0]);
    int out;
    if (!strcmp(st, "ok")) {
        out = RQ_REG_OK;
        snprintf(q->reg_worker, sizeof q->reg_worker, "%s", w->worker);
        snprintf(q->reg_node, sizeof q->reg_node, "%s", w->node);
    } else if (!strcmp(st, "busy") || !strcmp(st, "conflict")) {
        out = st[0] == 'b' ? RQ_REG_BUSY : RQ_REG_CONFLICT;
        if (owner)
            *owner = xstrdup(redis_reply_str(r->element[1]));
        if (out == RQ_REG_BUSY)
            redis_set_error(q->c, "node %s already has a live worker (%s)", w->node,
                            redis_reply_str(r->element[1]));
        else
            redis_set_error(q->c, "worker id %s is registered for node %s", w->worker,
                            redis_reply_str(r->element[1]));
    } else if (!strcmp(st, "layout")) {
        redis_set_error(q->c, "the run's keys (%s*) use Redis key layout %s (another tracekit "
                        "version); this worker uses layout %s: run the same tracekit version "
                        "everywhere", q->prefix, redis_reply_str(r->element[1]), RQ_LAYOUT);
        freeReplyObject(r);
        return RQ_ELAYOUT;
    } else {
        return redis_bad_reply(q->c, r, "register");
    }
    freeReplyObject(r);
    return out;
}

int rq_heartbeat(struct rq *q, const char *worker, int ttl_ms, int lease_ms)
{
    int rc = check_ids(q, NULL, worker);
    if (rc)
        return rc;
    char t[16], l[16];
    snprintf(t, sizeof t, "%d", ttl_ms);
    snprintf(l, sizeof l, "%d", lease_ms);
    const char *args[4] = {worker, t, l, !strcmp(worker, q->reg_worker) ? q->reg_node : ""};
    redisReply *r = eval(q, S_HEARTBEAT, 4, args, &rc);
    if (!r)
        return rc;
    if (!redis_reply_array(r, 1))
        return redis_bad_reply(q->c, r, "heartbeat");
    int out = !strcmp(redis_reply_str(r->element[0]), "ok") ? RQ_HB_OK : RQ_HB_FENCED;
    freeReplyObject(r);
    return out;
}

void rq_task_free(struct rq_task *t)
{
    free(t->body);
    free(t->json);
    memset(t, 0, sizeof *t);
}

/* One TAKE script call; moved: the task BLMOVE just moved ("" = look
 * through the in-flight list, then LMOVE).  1 task, 0 none, 2 fenced,
 * < 0 error. */
static int take_once(struct rq *q, const char *worker, const char *node, const char *moved,
                     const int64_t *held, size_t nheld, int lease_ms, struct rq_task *t)
{
    if (nheld > 48) {
        redis_set_error(q->c, "take: too many held tasks (%zu)", nheld);
        return RQ_EARG;
    }
    char l[16], md[16] = "3", ids[48][24];
    const char *args[60];
    snprintf(l, sizeof l, "%d", lease_ms);
    args[0] = worker;
    args[1] = node;
    args[2] = l;
    args[3] = md;
    args[4] = moved;
    for (size_t i = 0; i < nheld; i++) {
        snprintf(ids[i], sizeof ids[i], "%lld", (long long)held[i]);
        args[5 + i] = ids[i];
    }
    int rc;
    unsigned reconnects = rq_reconnects(q);
    redisReply *r = eval(q, S_TAKE, 5 + (int)nheld, args, &rc);
    if (!r)
        return rc;
    if (!redis_reply_array(r, 1))
        return redis_bad_reply(q->c, r, "take");
    const char *st = redis_reply_str(r->element[0]);
    int out;
    if (!strcmp(st, "none")) {
        out = RQ_TAKE_NONE;
    } else if (!strcmp(st, "fenced")) {
        out = RQ_TAKE_FENCED;
    } else if (!strcmp(st, "ok") && r->elements >= 7) {
        int64_t a = 0, d = 0;
        memset(t, 0, sizeof *t);
        if (!redis_reply_int(r->element[1], &t->id) || !redis_reply_int(r->element[2], &a) ||
            !redis_reply_int(r->element[3], &d) || r->element[4]->type != REDIS_REPLY_STRING)
            return redis_bad_reply(q->c, r, "take");
        t->attempt = (int)a;
        t->deliveries = (int)d;
        redis_reply_int(r->element[5], &t->cpu_units);
        redis_reply_int(r->element[6], &t->mem_mb);
        t->body = xstrdup(r->element[4]->str);
        /* body + "attempt": the stored body always ends with '}' */
        size_t n = strlen(t->body);
        while (n && t->body[n - 1] != '}')
            n--;
        t->json = n ? xasprintf("%.*s, \"attempt\": %d}", (int)(n - 1), t->body, t->attempt)
                    : xstrdup(t->body);
        out = RQ_TAKE_OK;
        /* found in the in-flight list: there may be more */
        if (r->elements >= 8 && !strcmp(redis_reply_str(r->element[7]), "held"))
            q->take_look = true;
    } else {
        return redis_bad_reply(q->c, r, "take");
    }
    freeReplyObject(r);
    /* a reconnect during the call: a reply may have been lost */
    if (rq_reconnects(q) != reconnects)
        q->take_look = true;
    return out;
}

int rq_take(struct rq *q, const char *worker, const char *node, const int64_t *held,
            size_t nheld, int timeout_ms, int lease_ms, struct rq_task *t)
{
    int rc = check_ids(q, node, worker);
    if (rc)
        return rc;
    /* Look through the in-flight list (a task in our hands the caller does
     * not know: a reply lost to a reconnect) at the first take, after a
     * reconnect and while it finds some; else straight to BLMOVE, and the
     * take script leases what it moved (issue 21: one script call). */
    if (timeout_ms <= 0 || q->take_look || q->take_reconnects != rq_reconnects(q)) {
        q->take_look = false;
        q->take_reconnects = rq_reconnects(q);
        rc = take_once(q, worker, node, "", held, nheld, lease_ms, t);
        if (rc != RQ_TAKE_NONE || timeout_ms <= 0)
            return rc;
    }
    /* Wait for work: BLMOVE parks the task in our in-flight list, then the
     * take script leases it.  Should this process die in between, the task
     * sits in the list of a worker that stops heartbeating: the reaper
     * hands it back. */
    char src[300], dst[300], secs[24];
    snprintf(src, sizeof src, "%sq:%s", q->prefix, node);
    snprintf(dst, sizeof dst, "%sinflight:%s", q->prefix, worker);
    snprintf(secs, sizeof secs, "%.3f", timeout_ms / 1000.0);
    const char *argv[6] = {"BLMOVE", src, dst, "LEFT", "RIGHT", secs};
    unsigned reconnects = rq_reconnects(q);
    redisReply *r = redis_command_blocking(q->c, timeout_ms, 6, argv, NULL, &rc);
    if (rq_reconnects(q) != reconnects)
        q->take_look = true;
    if (!r)
        return rc;
    char moved[64] = "";
    if (r->type == REDIS_REPLY_STRING)
        snprintf(moved, sizeof moved, "%s", r->str);
    freeReplyObject(r);
    if (!moved[0])
        return RQ_TAKE_NONE;
    return take_once(q, worker, node, moved, held, nheld, lease_ms, t);
}

int rq_complete(struct rq *q, const char *worker, int64_t task_id, int attempt, bool ok, int rc_)
{
    return rq_complete_why(q, worker, task_id, attempt, NULL, ok, rc_, NULL, NULL);
}

int rq_complete_why(struct rq *q, const char *worker, int64_t task_id, int attempt,
                    const char *exec_id, bool ok, int rc_, const char *error, const char *log)
{
    int rc = check_ids(q, NULL, worker);
    if (rc)
        return rc;
    char id[24], a[16], code[16];
    snprintf(id, sizeof id, "%lld", (long long)task_id);
    snprintf(a, sizeof a, "%d", attempt);
    snprintf(code, sizeof code, "%d", rc_);
    const char *args[8] = {worker, id, a, ok ? "done" : "failed", code, error ? error : "",
                           log ? log : "", exec_id ? exec_id : ""};
    redisReply *r = eval(q, S_COMPLETE, 8, args, &rc);
    if (!r)
        return rc;
    if (!redis_reply_array(r, 1))
        return redis_bad_reply(q->c, r, "complete");
    const char *st = redis_reply_str(r->element[0]);
    int out = !strcmp(st, "ok")           ? RQ_DONE_OK
              : !strcmp(st, "dup")        ? RQ_DONE_DUP
              : !strcmp(st, "superseded") ? RQ_DONE_SUPERSEDED
                                          : RQ_DONE_GONE;
    freeReplyObject(r);
    return out;
}

int rq_leave(struct rq *q, const char *worker)
{
    int rc = check_ids(q, NULL, worker);
    if (rc)
        return rc;
    const char *args[1] = {worker};
    redisReply *r = eval(q, S_LEAVE, 1, args, &rc);
    if (!r)
        return rc;
    int64_t n;
    if (!redis_reply_int(r, &n))
        return redis_bad_reply(q->c, r, "leave");
    freeReplyObject(r);
    return (int)n;
}

/* ---- clocks, counters, checks ---- */

static double wall_ms_precise(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int rq_clock_offset(struct rq *q, int samples, double *offset_ms, double *rtt_ms)
{
    double best_rtt = -1, best_off = 0;
    const char *argv[1] = {"TIME"};
    for (int i = 0; i < (samples < 1 ? 1 : samples); i++) {
        double t0 = wall_ms_precise();
        int rc;
        redisReply *r = redis_command(q->c, 1, argv, NULL, &rc);
        double t1 = wall_ms_precise();
        if (!r)
            return rc;
        int64_t s, us;
        if (!redis_reply_array(r, 2) || !redis_reply_int(r->element[0], &s) ||
            !redis_reply_int(r->element[1], &us))
            return redis_bad_reply(q->c, r, "TIME");
        freeReplyObject(r);
        double server = (double)s * 1000.0 + (double)us / 1000.0;
        double rtt = t1 - t0;
        if (best_rtt < 0 || rtt < best_rtt) {
            best_rtt = rtt;
            best_off = server - (t0 + t1) / 2;
        }
    }
    *offset_ms = best_off;
    if (rtt_ms)
        *rtt_ms = best_rtt;
    return 0;
}

int rq_counts(struct rq *q, struct rq_counts *c)
{
    memset(c, 0, sizeof *c);
    int rc;
    redisReply *r = eval(q, S_COUNTS, 0, NULL, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY)
        return redis_bad_reply(q->c, r, "counts");
    static const char *names[] = {"enqueued", "placed", "done", "failed", "dead", "rejected",
                                  "requeued", "superseded", "pending", "queued", "running"};
    int64_t *fields[] = {&c->enqueued, &c->placed, &c->done, &c->failed, &c->dead,
                         &c->rejected, &c->requeued, &c->superseded, &c->pending,
                         &c->queued, &c->running};
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        for (size_t k = 0; k < ARRAY_LEN(names); k++)
            if (!strcmp(redis_reply_str(r->element[i]), names[k]))
                redis_reply_int(r->element[i + 1], fields[k]);
    freeReplyObject(r);
    return 0;
}

long rq_results(struct rq *q, char ***lines)
{
    *lines = NULL;
    char key[300];
    snprintf(key, sizeof key, "%sresults", q->prefix);
    const char *argv[4] = {"LRANGE", key, "0", "-1"};
    int rc;
    redisReply *r = redis_command(q->c, 4, argv, NULL, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY)
        return redis_bad_reply(q->c, r, "LRANGE");
    char **out = xcalloc(r->elements ? r->elements : 1, sizeof *out);
    for (size_t i = 0; i < r->elements; i++)
        out[i] = xstrdup(redis_reply_str(r->element[i]));
    long n = (long)r->elements;
    freeReplyObject(r);
    *lines = out;
    return n;
}

int rq_audit(struct rq *q, char *msg, size_t len)
{
    int rc;
    redisReply *r = eval(q, S_AUDIT, 0, NULL, &rc);
    if (!r)
        return rc;
    if (!redis_reply_array(r, 1))
        return redis_bad_reply(q->c, r, "audit");
    int out = strcmp(redis_reply_str(r->element[0]), "ok") != 0;
    snprintf(msg, len, "%s",
             out && r->elements > 1 ? redis_reply_str(r->element[1]) : "consistent");
    freeReplyObject(r);
    return out;
}

struct redisReply *rq_raw(struct rq *q, int argc, const char **argv, const size_t *lens,
                          int *rc)
{
    return redis_command(q->c, argc, argv, lens, rc);
}

int rq_scheduler_beat(struct rq *q, const char *who, int ttl_ms)
{
    char key[300], px[24];
    snprintf(key, sizeof key, "%sscheduler", q->prefix);
    snprintf(px, sizeof px, "%d", ttl_ms);
    const char *argv[5] = {"SET", key, who, "PX", px};
    int rc;
    redisReply *r = redis_command(q->c, 5, argv, NULL, &rc);
    if (!r)
        return rc;
    freeReplyObject(r);
    return 0;
}

int rq_presence(struct rq *q, bool *scheduler, long long *workers)
{
    char key[300], nodes[300];
    snprintf(key, sizeof key, "%sscheduler", q->prefix);
    snprintf(nodes, sizeof nodes, "%snodes", q->prefix);
    const char *a1[2] = {"EXISTS", key}, *a2[2] = {"SCARD", nodes};
    int rc;
    redisReply *r = redis_command(q->c, 2, a1, NULL, &rc);
    if (!r)
        return rc;
    *scheduler = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    freeReplyObject(r);
    r = redis_command(q->c, 2, a2, NULL, &rc);
    if (!r)
        return rc;
    *workers = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
    return 0;
}

long rq_purge(struct rq *q)
{
    char match[300], cursor[32] = "0";
    snprintf(match, sizeof match, "%s*", q->prefix); /* run ids hold no glob characters */
    long deleted = 0;
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
        int rc;
        redisReply *r = redis_command(q->c, 6, argv, NULL, &rc);
        if (!r)
            return rc;
        if (!redis_reply_array(r, 2) || !redis_reply_array(r->element[1], 0))
            return redis_bad_reply(q->c, r, "SCAN");
        snprintf(cursor, sizeof cursor, "%s", redis_reply_str(r->element[0]));
        redisReply *keys = r->element[1];
        if (keys->elements) {
            const char **del = xmalloc((keys->elements + 1) * sizeof *del);
            del[0] = "UNLINK";
            for (size_t i = 0; i < keys->elements; i++)
                del[i + 1] = redis_reply_str(keys->element[i]);
            redisReply *d = redis_command(q->c, (int)keys->elements + 1, del, NULL, &rc);
            free(del);
            int64_t n = 0;
            if (d && redis_reply_int(d, &n))
                deleted += (long)n;
            if (d)
                freeReplyObject(d);
            else {
                freeReplyObject(r);
                return rc;
            }
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    q->id_next = q->id_end = 0;
    return deleted;
}
