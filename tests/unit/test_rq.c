/* test_rq.c -- the queue protocol (sched/rq.c) against a real, private redis-server
 * (started here, password-protected, on a random loopback port).
 *
 * Without arguments: cmocka tests of every script's semantics.
 * With arguments it is the driver of the t_rq*.sh integration tests (see
 * driver() below): they need several processes (concurrent schedulers,
 * workers killed with SIGKILL, a Redis restart), which a shell script
 * orchestrates better; building the driver here gets it the ASan/UBSan
 * build and leak checks for free.  The driver is at the end of the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "sched/policy.h"
#include "redis_fixture.h"
#include "common/redisurl.h"
#include "sched/rq.h"
#include "sched/placer.h"
#include "common/util.h"

static struct redis_fixture fx;
static char url_text[256];
static int run_seq;

/* ---- helpers ---- */

static struct rq *open_run(const char *run_id)
{
    struct redis_url u;
    char err[512];
    assert_int_equal(redisurl_parse(url_text, &u, err, sizeof err), 0);
    struct rq_opts o = {.run_id = run_id, .retry_ms = 5000, .backoff_min_ms = 10};
    struct rq *q = rq_open(&u, &o, err, sizeof err);
    redisurl_free(&u);
    if (!q)
        fail_msg("rq_open: %s", err);
    return q;
}

/* A fresh run id per test, so tests do not see each other's keys. */
static struct rq *fresh(void)
{
    char id[32];
    snprintf(id, sizeof id, "t%d-%d", getpid(), ++run_seq);
    return open_run(id);
}

static long long raw_int(const char *fmt, ...)
{
    redisContext *c = fixture_raw(&fx);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    long long v = -999999;
    if (r && r->type == REDIS_REPLY_INTEGER)
        v = r->integer;
    else if (r && r->type == REDIS_REPLY_STRING)
        v = atoll(r->str);
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return v;
}

static char *raw_str(const char *fmt, ...)
{
    redisContext *c = fixture_raw(&fx);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    char *s = xstrdup(r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
                          ? r->str
                          : "");
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return s;
}

static void reg(struct rq *q, const char *node, const char *worker, int64_t cap, int64_t par,
                int64_t mem, int ttl)
{
    struct rq_worker_info w = {node, worker, cap, cap, 1.0, mem, par, ttl, 3};
    assert_int_equal(rq_register(q, &w, NULL), RQ_REG_OK);
}

static int64_t enq(struct rq *q, const char *fields)
{
    int64_t id = 0;
    if (rq_enqueue(q, fields, &id) != 0)
        fail_msg("enqueue: %s", rq_error(q));
    return id;
}

static enum rq_place_status place(struct rq *q, int64_t id, const char *node, int64_t ver,
                                  int64_t *cap_left)
{
    struct rq_place_req r = {id, node, ver, NULL};
    struct rq_place_res res;
    if (rq_place(q, &r, &res) != 0)
        fail_msg("place: %s", rq_error(q));
    if (cap_left)
        *cap_left = res.cap_left;
    return res.st;
}

static void assert_consistent(struct rq *q)
{
    char msg[1024];
    int a = rq_audit(q, msg, sizeof msg);
    if (a != 0)
        fail_msg("audit: %s", msg);
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- opening (the connection itself: test_redis.c) ---- */

static void test_open(void **state)
{
    (void)state;
    char url[256], err[512];
    struct redis_url u;
    struct rq_opts o = {.run_id = "a b"};
    assert_int_equal(redisurl_parse(url_text, &u, err, sizeof err), 0);
    assert_null(rq_open(&u, &o, err, sizeof err));
    assert_non_null(strstr(err, "invalid run id for Redis keys: 'a b'"));
    redisurl_free(&u);
    /* the connection's errors come through, without the password */
    snprintf(url, sizeof url, "redis://:Wr0ngSecret@127.0.0.1:%d", fx.port);
    assert_int_equal(redisurl_parse(url, &u, err, sizeof err), 0);
    o.run_id = "conn";
    assert_null(rq_open(&u, &o, err, sizeof err));
    assert_non_null(strstr(err, "authentication failed: wrong password"));
    assert_null(strstr(err, "Wr0ngSecret"));
    redisurl_free(&u);
    /* the prefix, and the connection underneath */
    struct rq *q = open_run("conn");
    assert_string_equal(rq_prefix(q), "tk:conn:");
    assert_non_null(rq_conn(q));
    assert_int_equal(rq_reconnects(q), 0);
    rq_close(q);
}

/* ---- enqueue ---- */

static void test_enqueue_body(void **state)
{
    (void)state;
    struct rq *q = fresh();
    int64_t id = enq(q, "{\"input\": \"in/a.mp4\", \"cpu_units\": 2, \"trace_id\": \"tr-1\", "
                        "\"ts_enqueue\": 1758579997000, \"attempt\": 9, \"x\": [1, {\"y\": null}]}");
    assert_int_equal(id, 1);
    char *body = raw_str("HGET %stask:1 body", rq_prefix(q));
    assert_string_equal(body, "{\"task_id\": 1, \"trace_id\": \"tr-1\", \"input\": \"in/a.mp4\", "
                              "\"cpu_units\": 2, \"x\": [1, {\"y\": null}], "
                              "\"ts_enqueue\": 1758579997000}");
    free(body);
    assert_int_equal(raw_int("HGET %stask:1 cpu", rq_prefix(q)), 2);

    /* defaults: a UUID4 trace id, now as ts_enqueue, 1 unit */
    int64_t t0 = now_wall_ms();
    id = enq(q, "{\"argv\": [\"true\"], \"mem_mb\": 64}");
    assert_int_equal(id, 2);
    body = raw_str("HGET %stask:2 body", rq_prefix(q));
    char trace[64];
    long long ts;
    assert_int_equal(sscanf(body, "{\"task_id\": 2, \"trace_id\": \"%36[0-9a-f-]\", \"argv\": "
                                  "[\"true\"], \"mem_mb\": 64, \"ts_enqueue\": %lld}",
                            trace, &ts), 2);
    assert_int_equal(strlen(trace), 36);
    assert_int_equal(trace[14], '4');
    assert_true(ts >= t0 && ts <= now_wall_ms());
    free(body);
    assert_int_equal(raw_int("HGET %stask:2 cpu", rq_prefix(q)), 1);
    assert_int_equal(raw_int("HGET %stask:2 mem", rq_prefix(q)), 64);

    /* bad fields are refused, nothing is queued */
    int64_t dummy;
    assert_int_equal(rq_enqueue(q, "[1]", &dummy), RQ_EARG);
    assert_int_equal(rq_enqueue(q, "{\"cpu_units\": \"2\"}", &dummy), RQ_EARG);
    assert_int_equal(rq_enqueue(q, "{\"mem_mb\": -1}", &dummy), RQ_EARG);
    assert_int_equal(rq_enqueue(q, "{oops", &dummy), RQ_EARG);
    assert_non_null(strstr(rq_error(q), "JSON object"));

    /* many at once, ids consecutive, FIFO order kept */
    const char *many[3] = {"{\"n\": 1}", "{\"n\": 2}", "{\"n\": 3}"};
    int64_t ids[3];
    assert_int_equal(rq_enqueue_many(q, many, 3, ids), 3);
    assert_int_equal(ids[1], ids[0] + 1);
    assert_int_equal(raw_int("LLEN %sq:pending", rq_prefix(q)), 5);
    char *last = raw_str("LINDEX %sq:pending -1", rq_prefix(q));
    assert_int_equal(atoll(last), ids[2]);
    free(last);
    struct rq_counts c;
    assert_int_equal(rq_counts(q, &c), 0);
    assert_int_equal(c.enqueued, 5);
    assert_int_equal(c.pending, 5);
    assert_int_equal(c.queued, 0);
    assert_int_equal(c.running, 0);
    assert_consistent(q);
    assert_true(rq_purge(q) > 0);
    assert_int_equal(raw_int("EXISTS %sq:pending", rq_prefix(q)), 0);
    rq_close(q);
}

/* ---- placement ---- */

static void test_place_rules(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 3, 0, 0, 10000);
    reg(q, "n2", "w2", 10, 1, 0, 10000);   /* --parallel 1 */
    reg(q, "n3", "w3", 10, 0, 1000, 10000); /* 1000 MiB */
    int64_t a = enq(q, "{\"cpu_units\": 2}");
    int64_t b = enq(q, "{\"cpu_units\": 2}");
    int64_t c = enq(q, "{\"cpu_units\": 1, \"mem_mb\": 600}");
    int64_t d = enq(q, "{\"cpu_units\": 1, \"mem_mb\": 600}");
    int64_t left;

    struct rq_state st;
    assert_int_equal(rq_state(q, 10, &st), 0);
    int64_t ver = st.ver;
    assert_int_equal(st.nhosts, 3);
    assert_string_equal(st.hosts[0].node, "n1");
    assert_true(st.hosts[0].up);
    assert_int_equal(st.hosts[0].cap, 3);
    assert_int_equal(st.hosts[2].mem, 1000);
    assert_int_equal(st.nhead, 4);
    assert_int_equal(st.head[0].id, a);
    assert_int_equal(st.head[0].cpu_units, 2);
    assert_int_equal(st.head[2].mem_mb, 600);
    assert_int_equal(st.pending, 4);
    rq_state_free(&st);

    assert_int_equal(place(q, b, "n1", -1, NULL), RQ_P_STALE);   /* not the head */
    assert_int_equal(place(q, a, "n1", ver + 1, NULL), RQ_P_VERSION);
    assert_int_equal(place(q, a, "nX", -1, NULL), RQ_P_UNKNOWN);
    assert_int_equal(place(q, 999, "n1", -1, NULL), RQ_P_GONE);
    assert_int_equal(place(q, a, "n1", ver, &left), RQ_P_OK);
    assert_int_equal(left, 1);
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_STALE); /* another call: not its own */
    assert_int_equal(place(q, a, "n2", -1, NULL), RQ_P_STALE);
    assert_int_equal(place(q, b, "n1", -1, &left), RQ_P_NOCAP);  /* B7: never below 0 */
    assert_int_equal(left, 1);
    assert_int_equal(place(q, b, "n2", -1, NULL), RQ_P_OK);
    assert_int_equal(place(q, c, "n2", -1, NULL), RQ_P_BUSY);    /* B9: --parallel 1 */
    assert_int_equal(place(q, c, "n3", -1, NULL), RQ_P_OK);
    assert_int_equal(place(q, d, "n3", -1, NULL), RQ_P_NOMEM);   /* 400 MiB left */
    assert_int_equal(raw_int("HGET %snode:n3 mem", rq_prefix(q)), 400);
    assert_int_equal(raw_int("HGET %snode:n1 cap", rq_prefix(q)), 1);
    assert_int_equal(raw_int("HGET %snode:n2 run_count", rq_prefix(q)), 1);
    assert_int_equal(raw_int("LLEN %sq:n3", rq_prefix(q)), 1);
    assert_int_equal(raw_int("LINDEX %sq:pending 0", rq_prefix(q)), d);
    assert_consistent(q);

    /* a node whose worker stopped heartbeating is down */
    reg(q, "n4", "w4", 10, 0, 0, 150);
    msleep(250);
    assert_int_equal(place(q, d, "n4", -1, NULL), RQ_P_DOWN);
    assert_int_equal(rq_state(q, 1, &st), 0);
    assert_false(st.hosts[3].up);
    rq_state_free(&st);

    /* reject takes the head out for good, with a ledger record */
    assert_int_equal(rq_reject(q, a, "x"), 0); /* not the head */
    assert_int_equal(rq_reject(q, d, "needs 600 MiB"), 1);
    char **lines;
    long n = rq_results(q, &lines);
    assert_int_equal(n, 1);
    assert_non_null(strstr(lines[0], "\"status\": \"rejected\""));
    assert_non_null(strstr(lines[0], "\"reason\": \"needs 600 MiB\""));
    free(lines[0]);
    free(lines);
    assert_consistent(q);
    rq_purge(q);
    rq_close(q);
}

/* The snapshot reads no more queued tasks than there are free slots
 * (issue 21): a full cluster reads one, not the whole window. */
static void test_state_bounded_by_free_slots(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 2, 0, 0, 10000);
    reg(q, "n2", "w2", 10, 1, 0, 10000);   /* --parallel 1: one slot */
    int64_t ids[10];
    for (int i = 0; i < 10; i++)
        ids[i] = enq(q, "{\"cpu_units\": 1}");
    struct rq_state st;
    assert_int_equal(rq_state(q, 64, &st), 0);
    assert_int_equal(st.nhead, 3);          /* 2 units on n1 + 1 slot on n2 */
    assert_int_equal(st.pending, 10);
    assert_false(st.partial);
    int64_t seq = st.seq;
    rq_state_free(&st);
    /* only what changed: nothing, then the node a placement touched */
    assert_int_equal(rq_state_since(q, 64, seq, 1, &st), 0);
    assert_true(st.partial);
    assert_int_equal(st.nhosts, 0);
    assert_int_equal(st.nhead, 1);          /* the hint: 1 free slot elsewhere */
    rq_state_free(&st);
    assert_int_equal(place(q, ids[0], "n1", -1, NULL), RQ_P_OK);
    assert_int_equal(rq_state_since(q, 64, seq, 0, &st), 0);
    assert_int_equal(st.nhosts, 1);
    assert_string_equal(st.hosts[0].node, "n1");
    assert_int_equal(st.hosts[0].cap, 1);
    assert_true(st.seq > seq);
    rq_state_free(&st);
    assert_int_equal(place(q, ids[1], "n1", -1, NULL), RQ_P_OK);
    assert_int_equal(place(q, ids[2], "n2", -1, NULL), RQ_P_OK);
    assert_int_equal(rq_state(q, 64, &st), 0);
    assert_int_equal(st.nhead, 1);          /* full: the head only, to say why it waits */
    assert_int_equal(st.head[0].id, ids[3]);
    assert_int_equal(st.pending, 7);
    rq_state_free(&st);
    assert_int_equal(rq_state(q, 0, &st), 0);
    assert_int_equal(st.nhead, 1);
    rq_state_free(&st);
    rq_purge(q);
    rq_close(q);
}

/* Stamps (issue 21): the Redis clock at the enqueue, returned to the
 * caller; a given ts_enqueue is kept; a retry returns the stored one. */
static void test_enqueue_stamps(void **state)
{
    (void)state;
    struct rq *q = fresh();
    const char *f[3] = {"{\"n\": 1}", "{\"n\": 2, \"ts_enqueue\": 1758579997000}", "{\"n\": 3}"};
    int64_t ids[3], ts[3];
    int64_t t0 = now_wall_ms();
    assert_int_equal(rq_enqueue_stamped(q, f, 3, ids, ts), 3);
    int64_t t1 = now_wall_ms();
    assert_true(ts[0] >= t0 && ts[0] <= t1 && ts[2] >= ts[0] && ts[2] <= t1);
    assert_int_equal(ts[1], 1758579997000);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(raw_int("HGET %stask:%lld ts_enqueue", rq_prefix(q), (long long)ids[i]),
                         ts[i]);
        char *body = raw_str("HGET %stask:%lld body", rq_prefix(q), (long long)ids[i]);
        char want[64];
        snprintf(want, sizeof want, "\"ts_enqueue\": %lld}", (long long)ts[i]);
        assert_non_null(strstr(body, want));
        free(body);
    }
    rq_purge(q);
    rq_close(q);
}

/* ---- worker: take, complete, fencing ---- */

static void test_take_complete(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 4, 0, 0, 10000);
    int64_t a = enq(q, "{\"cpu_units\": 3, \"trace_id\": \"tr-a\"}");
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_OK);

    struct rq_task t;
    assert_int_equal(rq_take(q, "w2", "n1", NULL, 0, 0, 5000, &t), RQ_TAKE_FENCED); /* not n1's */
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 5000, &t), RQ_TAKE_OK);
    assert_int_equal(t.id, a);
    assert_int_equal(t.attempt, 1);
    assert_int_equal(t.deliveries, 1);
    assert_int_equal(t.cpu_units, 3);
    assert_non_null(strstr(t.json, "\"trace_id\": \"tr-a\""));
    size_t jl = strlen(t.json);
    assert_string_equal(t.json + jl - 15, ", \"attempt\": 1}");
    assert_int_equal(raw_int("LLEN %sinflight:w1", rq_prefix(q)), 1);
    assert_int_equal(raw_int("LLEN %sq:n1", rq_prefix(q)), 0);

    /* the reply was "lost": the same task comes back, same attempt */
    struct rq_task t2;
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 5000, &t2), RQ_TAKE_OK);
    assert_int_equal(t2.id, a);
    assert_int_equal(t2.attempt, 1);
    rq_task_free(&t2);
    /* when the caller holds it, there is nothing else */
    int64_t held = a;
    assert_int_equal(rq_take(q, "w1", "n1", &held, 1, 0, 5000, &t2), RQ_TAKE_NONE);
    assert_consistent(q);
    struct rq_counts rc0;
    assert_int_equal(rq_counts(q, &rc0), 0);
    assert_int_equal(rc0.running, 1);
    assert_int_equal(rc0.queued, 0);

    assert_int_equal(rq_complete(q, "w1", a, 2, true, 0), RQ_DONE_SUPERSEDED); /* wrong attempt */
    assert_int_equal(rq_complete(q, "w9", a, 1, true, 0), RQ_DONE_SUPERSEDED); /* wrong worker */
    assert_int_equal(rq_complete(q, "w1", a, 1, false, 3), RQ_DONE_OK);
    assert_int_equal(rq_complete(q, "w1", a, 1, false, 3), RQ_DONE_DUP);       /* retry */
    assert_int_equal(rq_complete(q, "w1", a, 2, true, 0), RQ_DONE_SUPERSEDED); /* not a retry */
    assert_int_equal(rq_complete(q, "w1", 999, 1, true, 0), RQ_DONE_GONE);
    assert_int_equal(raw_int("HGET %snode:n1 cap", rq_prefix(q)), 4);
    assert_int_equal(raw_int("HGET %snode:n1 run_count", rq_prefix(q)), 0);
    assert_int_equal(raw_int("LLEN %sinflight:w1", rq_prefix(q)), 0);
    struct rq_counts c;
    rq_counts(q, &c);
    assert_int_equal(c.failed, 1);
    assert_int_equal(c.done, 0);
    assert_int_equal(c.superseded, 3);
    char **lines;
    assert_int_equal(rq_results(q, &lines), 1);
    assert_non_null(strstr(lines[0], "\"task_id\": 1, \"trace_id\": \"tr-a\", \"attempt\": 1, "
                                     "\"status\": \"failed\", \"rc\": 3, \"node\": \"n1\", "
                                     "\"worker\": \"w1\", \"ts_enqueue\": "));
    free(lines[0]);
    free(lines);
    rq_task_free(&t);
    assert_consistent(q);
    rq_purge(q);
    rq_close(q);
}

struct later_place {
    int64_t id;
    int delay_ms;
};

static void *place_later(void *arg)
{
    struct later_place *lp = arg;
    char id[32];
    snprintf(id, sizeof id, "t%d-%d", getpid(), run_seq);
    struct rq *q = open_run(id);
    msleep(lp->delay_ms);
    struct rq_place_req r = {lp->id, "n1", -1, NULL};
    struct rq_place_res res;
    rq_place(q, &r, &res);
    rq_close(q);
    return NULL;
}

static void *enqueue_later(void *arg)
{
    (void)arg;
    char id[32];
    snprintf(id, sizeof id, "t%d-%d", getpid(), run_seq);
    struct rq *q = open_run(id);
    msleep(150);
    enq(q, "{}");
    rq_close(q);
    return NULL;
}

static void test_wait_for_news(void **state)
{
    (void)state;
    struct rq *q = fresh();
    enq(q, "{}"); /* a wake-up sent while nobody waited is kept */
    int64_t t0 = now_mono_ns();
    assert_int_equal(rq_wait(q, 1000), 1);
    assert_true(now_mono_ns() - t0 < 200000000LL);
    t0 = now_mono_ns();
    assert_int_equal(rq_wait(q, 200), 0); /* consumed: now it times out */
    assert_true(now_mono_ns() - t0 >= 150000000LL);
    pthread_t th;
    pthread_create(&th, NULL, enqueue_later, NULL);
    t0 = now_mono_ns();
    assert_int_equal(rq_wait(q, 3000), 1);
    int64_t waited = now_mono_ns() - t0;
    pthread_join(th, NULL);
    assert_true(waited >= 100000000LL && waited < 1500000000LL);
    /* completions wake too (capacity came back) */
    rq_purge(q);
    reg(q, "n1", "w1", 1, 0, 0, 10000);
    int64_t a = enq(q, "{}");
    /* two wake-ups are kept (registration, enqueue): two schedulers could
     * be woken by them */
    assert_int_equal(rq_wait(q, 1), 1);
    assert_int_equal(rq_wait(q, 1), 1);
    assert_int_equal(rq_wait(q, 1), 0);
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_OK);
    struct rq_task t;
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 5000, &t), RQ_TAKE_OK);
    assert_int_equal(rq_wait(q, 1), 0); /* placing and taking wake nobody */
    int64_t b = enq(q, "{}");
    assert_int_equal(rq_wait(q, 1), 1);
    assert_int_equal(rq_complete(q, "w1", a, 1, true, 0), RQ_DONE_OK);
    assert_int_equal(rq_wait(q, 1), 1); /* b waits for the units */
    rq_task_free(&t);
    /* with nothing waiting in q:pending a completion wakes nobody (issue
     * 21: the next enqueue does) */
    assert_int_equal(place(q, b, "n1", -1, NULL), RQ_P_OK);
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 5000, &t), RQ_TAKE_OK);
    assert_int_equal(rq_complete(q, "w1", b, 1, true, 0), RQ_DONE_OK);
    assert_int_equal(rq_wait(q, 1), 0);
    rq_task_free(&t);
    rq_purge(q);
    rq_close(q);
}

static void test_blocking_take(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 4, 0, 0, 10000);
    struct rq_task t;
    int64_t t0 = now_mono_ns();
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 300, 5000, &t), RQ_TAKE_NONE);
    int64_t waited = now_mono_ns() - t0;
    assert_true(waited >= 250000000LL && waited < 2000000000LL);

    struct later_place lp = {enq(q, "{}"), 150};
    pthread_t th;
    pthread_create(&th, NULL, place_later, &lp);
    t0 = now_mono_ns();
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 3000, 5000, &t), RQ_TAKE_OK);
    waited = now_mono_ns() - t0;
    pthread_join(th, NULL);
    assert_int_equal(t.id, lp.id);
    assert_true(waited >= 100000000LL && waited < 1500000000LL); /* woken by the placement */
    rq_task_free(&t);
    assert_consistent(q);
    rq_purge(q);
    rq_close(q);
}

/* ---- liveness: heartbeat, reaper, dead letters ---- */

static void test_reap_and_requeue(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 4, 0, 0, 300);
    reg(q, "n2", "w2", 4, 0, 0, 10000);
    int64_t a = enq(q, "{\"cpu_units\": 2}");
    int64_t b = enq(q, "{\"cpu_units\": 1}");
    int64_t c = enq(q, "{\"cpu_units\": 1}");
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_OK);
    assert_int_equal(place(q, b, "n1", -1, NULL), RQ_P_OK);
    struct rq_task t;
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 5000, &t), RQ_TAKE_OK);
    assert_int_equal(t.id, a);

    /* heartbeats keep w1 alive past its TTL */
    struct rq_reap_stats rs;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rq_heartbeat(q, "w1", 300, 5000), RQ_HB_OK);
        msleep(100);
    }
    assert_int_equal(rq_reap(q, 3, &rs), 0);
    assert_int_equal(rs.workers, 0);
    assert_int_equal(rs.requeued, 0);

    /* then w1 goes silent (think SIGKILL) */
    msleep(400);
    assert_int_equal(rq_reap(q, 3, &rs), 0);
    assert_int_equal(rs.workers, 1);
    assert_int_equal(rs.requeued, 2); /* a (running) and b (queued on n1) */
    assert_int_equal(rs.dead, 0);
    assert_int_equal(raw_int("HGET %snode:n1 cap", rq_prefix(q)), 4);
    assert_int_equal(raw_int("HGET %snode:n1 run_count", rq_prefix(q)), 0);
    /* back at the head, in their original order, ahead of c */
    assert_int_equal(raw_int("LINDEX %sq:pending 0", rq_prefix(q)), a);
    assert_int_equal(raw_int("LINDEX %sq:pending 1", rq_prefix(q)), b);
    assert_int_equal(raw_int("LINDEX %sq:pending 2", rq_prefix(q)), c);
    assert_consistent(q);

    /* w1 is fenced: heartbeat and take say so, a late completion changes nothing */
    assert_int_equal(rq_heartbeat(q, "w1", 300, 5000), RQ_HB_FENCED);
    assert_int_equal(rq_complete(q, "w1", a, 1, true, 0), RQ_DONE_SUPERSEDED);
    struct rq_task t2;
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 5000, &t2), RQ_TAKE_FENCED);

    /* the next delivery is attempt 2, elsewhere; the late attempt 1 stays ignored */
    assert_int_equal(place(q, a, "n2", -1, NULL), RQ_P_OK);
    assert_int_equal(rq_take(q, "w2", "n2", NULL, 0, 0, 5000, &t2), RQ_TAKE_OK);
    assert_int_equal(t2.id, a);
    assert_int_equal(t2.attempt, 2);
    assert_int_equal(rq_complete(q, "w1", a, 1, true, 0), RQ_DONE_SUPERSEDED);
    assert_int_equal(rq_complete(q, "w2", a, 2, true, 0), RQ_DONE_OK);
    assert_int_equal(rq_complete(q, "w1", a, 1, true, 0), RQ_DONE_SUPERSEDED);
    assert_int_equal(raw_int("HGET %snode:n2 cap", rq_prefix(q)), 4);
    struct rq_counts cnt;
    rq_counts(q, &cnt);
    assert_int_equal(cnt.done, 1);
    assert_int_equal(cnt.requeued, 2);
    assert_int_equal(cnt.superseded, 3);
    rq_task_free(&t);
    rq_task_free(&t2);

    /* a re-registered w1 gets n1 back with full capacity */
    reg(q, "n1", "w1", 4, 0, 0, 10000);
    assert_int_equal(raw_int("HGET %snode:n1 cap", rq_prefix(q)), 4);
    assert_consistent(q);
    rq_purge(q);
    rq_close(q);
}

static void test_dead_letter(void **state)
{
    (void)state;
    struct rq *q = fresh();
    int64_t a = enq(q, "{\"cpu_units\": 1}");
    struct rq_reap_stats rs;
    for (int round = 1; round <= 2; round++) {
        char w[16];
        snprintf(w, sizeof w, "w%d", round);
        reg(q, "n1", w, 2, 0, 0, 150);
        assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_OK);
        struct rq_task t;
        assert_int_equal(rq_take(q, w, "n1", NULL, 0, 0, 5000, &t), RQ_TAKE_OK);
        assert_int_equal(t.deliveries, round);
        rq_task_free(&t);
        msleep(250);
        assert_int_equal(rq_reap(q, 2, &rs), 0);
        assert_int_equal(rs.workers, 1);
        assert_int_equal(rs.dead, round == 2);
        assert_int_equal(rs.requeued, round == 1);
    }
    assert_int_equal(raw_int("LLEN %sq:pending", rq_prefix(q)), 0);
    assert_int_equal(raw_int("LINDEX %sdead 0", rq_prefix(q)), a);
    char **lines;
    assert_int_equal(rq_results(q, &lines), 1);
    assert_non_null(strstr(lines[0], "\"status\": \"dead\""));
    assert_non_null(strstr(lines[0], "\"attempt\": 2"));
    free(lines[0]);
    free(lines);
    assert_int_equal(rq_complete(q, "w2", a, 2, true, 0), RQ_DONE_SUPERSEDED);
    assert_consistent(q);
    rq_purge(q);
    rq_close(q);
}

static void test_lease_expiry(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 2, 0, 0, 10000);
    int64_t a = enq(q, "{}");
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_OK);
    struct rq_task t;
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 100, &t), RQ_TAKE_OK);
    rq_task_free(&t);
    struct rq_reap_stats rs;
    assert_int_equal(rq_reap(q, 3, &rs), 0);
    assert_int_equal(rs.requeued, 0);
    assert_int_equal(rq_heartbeat(q, "w1", 10000, 100), RQ_HB_OK); /* renews the lease */
    msleep(200);
    /* the worker is alive, but this lease ran out: only the task is requeued */
    assert_int_equal(rq_reap(q, 3, &rs), 0);
    assert_int_equal(rs.workers, 0);
    assert_int_equal(rs.requeued, 1);
    assert_int_equal(rq_complete(q, "w1", a, 1, true, 0), RQ_DONE_SUPERSEDED);
    assert_int_equal(rq_heartbeat(q, "w1", 10000, 100), RQ_HB_OK);
    assert_consistent(q);
    rq_purge(q);
    rq_close(q);
}

static void test_register_rules(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 4, 0, 0, 10000);
    struct rq_worker_info w = {"n1", "w2", 4, 4, 1.0, 0, 0, 10000, 3};
    char *owner;
    assert_int_equal(rq_register(q, &w, &owner), RQ_REG_BUSY);
    assert_string_equal(owner, "w1");
    free(owner);
    assert_non_null(strstr(rq_error(q), "already has a live worker"));
    w = (struct rq_worker_info){"n2", "w1", 4, 4, 1.0, 0, 0, 10000, 3};
    assert_int_equal(rq_register(q, &w, &owner), RQ_REG_CONFLICT);
    assert_string_equal(owner, "n1");
    free(owner);
    w.node = "bad node";
    assert_int_equal(rq_register(q, &w, NULL), RQ_EARG);

    /* B11: a stale cap is not kept; it is recomputed from committed tasks */
    int64_t a = enq(q, "{\"cpu_units\": 3}");
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_OK);
    raw_int("HSET %snode:n1 cap 77", rq_prefix(q));
    raw_int("HSET %snode:n1 run_count -5", rq_prefix(q));
    reg(q, "n1", "w1", 4, 0, 0, 10000); /* the same worker again (e.g. a retried call) */
    assert_int_equal(raw_int("HGET %snode:n1 cap", rq_prefix(q)), 1);
    assert_int_equal(raw_int("HGET %snode:n1 run_count", rq_prefix(q)), 1);
    assert_consistent(q);

    /* re-registering with a lower --parallel hands queued tasks back */
    reg(q, "n5", "w5", 10, 0, 0, 10000);
    int64_t x = enq(q, "{}"), y = enq(q, "{}"), z = enq(q, "{}");
    assert_int_equal(place(q, x, "n5", -1, NULL), RQ_P_OK);
    assert_int_equal(place(q, y, "n5", -1, NULL), RQ_P_OK);
    assert_int_equal(place(q, z, "n5", -1, NULL), RQ_P_OK);
    struct rq_task t;
    assert_int_equal(rq_take(q, "w5", "n5", NULL, 0, 0, 5000, &t), RQ_TAKE_OK);
    assert_int_equal(t.id, x);
    rq_task_free(&t);
    reg(q, "n5", "w5", 10, 2, 0, 10000);
    assert_int_equal(raw_int("LLEN %sq:n5", rq_prefix(q)), 1);
    assert_int_equal(raw_int("LINDEX %sq:n5 0", rq_prefix(q)), y);
    assert_int_equal(raw_int("LINDEX %sq:pending 0", rq_prefix(q)), z);
    assert_int_equal(raw_int("HGET %snode:n5 run_count", rq_prefix(q)), 2);
    assert_int_equal(raw_int("HGET %snode:n5 cap", rq_prefix(q)), 8);
    assert_consistent(q);
    reg(q, "n5", "w5", 10, 1, 0, 10000); /* the running task stays */
    assert_int_equal(raw_int("LLEN %sq:n5", rq_prefix(q)), 0);
    assert_int_equal(raw_int("LINDEX %sq:pending 0", rq_prefix(q)), y);
    assert_int_equal(raw_int("LINDEX %sq:pending 1", rq_prefix(q)), z);
    assert_int_equal(rq_complete(q, "w5", x, 1, true, 0), RQ_DONE_OK);
    assert_consistent(q);
    assert_int_equal(rq_reject(q, y, "test"), 1);
    assert_int_equal(rq_reject(q, z, "test"), 1);

    /* a new worker replacing a dead one takes over a clean node */
    reg(q, "n3", "w3", 2, 0, 0, 150);
    int64_t b = enq(q, "{}");
    assert_int_equal(place(q, a + 0, "n3", -1, NULL), RQ_P_STALE);
    assert_int_equal(place(q, b, "n3", -1, NULL), RQ_P_OK);
    msleep(250);
    reg(q, "n3", "w3b", 2, 0, 0, 10000);
    assert_int_equal(raw_int("HGET %snode:n3 cap", rq_prefix(q)), 2);
    assert_int_equal(raw_int("LINDEX %sq:pending 0", rq_prefix(q)), b);
    assert_consistent(q);
    rq_purge(q);
    rq_close(q);
}

static void test_leave(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 4, 0, 0, 10000);
    int64_t a = enq(q, "{}"), b = enq(q, "{}");
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_OK);
    assert_int_equal(place(q, b, "n1", -1, NULL), RQ_P_OK);
    struct rq_task t;
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 5000, &t), RQ_TAKE_OK);
    rq_task_free(&t);
    assert_int_equal(rq_leave(q, "w1"), 2);
    assert_int_equal(raw_int("LLEN %sq:pending", rq_prefix(q)), 2);
    assert_int_equal(raw_int("LINDEX %sq:pending 0", rq_prefix(q)), a);
    assert_int_equal(raw_int("HGET %stask:%lld deliveries", rq_prefix(q), (long long)a), 0);
    assert_int_equal(raw_int("HSTRLEN %snode:n1 worker", rq_prefix(q)), 0);
    assert_int_equal(raw_int("HGET %snode:n1 cap", rq_prefix(q)), 4);
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_DOWN);
    assert_consistent(q);
    rq_purge(q);
    rq_close(q);
}

/* ---- scheduler round ---- */

static void test_placer_round(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 4, 0, 0, 10000);
    reg(q, "n2", "w2", 4, 0, 0, 10000);
    reg(q, "n3", "w3", 4, 0, 0, 10000);
    for (int i = 0; i < 7; i++)
        enq(q, "{\"cpu_units\": 2}");
    struct policy p;
    char err[256];
    assert_int_equal(policy_named("ActiveServers", &p, err, sizeof err), 0);
    struct placer s;
    placer_init(&s, q, &p, 1, 16);
    /* spread: n1 n2 n3 n1 n2 n3; the 7th (2 units) fits nowhere: blocked */
    assert_int_equal(placer_round(&s), 6);
    assert_int_equal(s.blocked_id, 7);
    assert_false(s.blocked_forever);
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(raw_int("LLEN %sq:n%d", rq_prefix(q), i), 2);
        assert_int_equal(raw_int("LINDEX %sq:n%d 0", rq_prefix(q), i), i);
    }
    assert_int_equal(placer_round(&s), 0);
    assert_int_equal(s.st.placed, 6);
    assert_int_equal(s.st.blocked, 2);
    assert_consistent(q);
    placer_free(&s);

    /* FilterOnly stacks: a fresh run, 3 tasks of 2 units on 3 idle nodes */
    rq_purge(q);
    reg(q, "n1", "w1", 4, 0, 0, 10000);
    reg(q, "n2", "w2", 4, 0, 0, 10000);
    for (int i = 0; i < 3; i++)
        enq(q, "{\"cpu_units\": 2}");
    assert_int_equal(policy_named("FilterOnly", &p, err, sizeof err), 0);
    placer_init(&s, q, &p, 1, 1); /* one task per round */
    for (int i = 0; i < 3; i++)
        assert_int_equal(placer_round(&s), 1);
    assert_int_equal(raw_int("LLEN %sq:n1", rq_prefix(q)), 2);
    assert_int_equal(raw_int("LLEN %sq:n2", rq_prefix(q)), 1);
    /* one snapshot served all three rounds: the version check keeps it exact */
    assert_int_equal(s.st.snapshots, 1);

    /* a task bigger than any host is reported as never fitting */
    enq(q, "{\"cpu_units\": 5}");
    assert_int_equal(placer_round(&s), 0);
    assert_true(s.blocked_forever);
    assert_int_equal(s.st.snapshots, 2); /* the window was used up: read again */
    rq_reject(q, 4, "too big");
    placer_free(&s);

    /* A change behind the placer's back (capacity returned by a completion)
     * makes its next placement fail on the version; it reads the state
     * again and decides on the truth. */
    assert_int_equal(policy_named("ActiveServers", &p, err, sizeof err), 0);
    placer_init(&s, q, &p, 1, 1);
    enq(q, "{}");
    enq(q, "{}");
    assert_int_equal(placer_round(&s), 1); /* -> n2 (1 task vs n1's 2) */
    assert_int_equal(raw_int("LLEN %sq:n2", rq_prefix(q)), 2);
    struct rq_task t;
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 5000, &t), RQ_TAKE_OK);
    assert_int_equal(rq_complete(q, "w1", t.id, t.attempt, true, 0), RQ_DONE_OK);
    rq_task_free(&t);
    /* n1 now runs 1 task and has room, n2 runs 2: the truth says n1, the
     * old snapshot (n1 full) says n2 -- that placement is refused */
    assert_int_equal(placer_round(&s), 0);
    assert_int_equal(s.st.conflicts, 1);
    assert_int_equal(placer_round(&s), 1);
    assert_int_equal(raw_int("LLEN %sq:n1", rq_prefix(q)), 2);
    assert_int_equal(s.st.snapshots, 2);
    assert_consistent(q);
    placer_free(&s);
    rq_purge(q);
    rq_close(q);
}

/* ---- pinned tasks ("node" in the task fields) ---- */

struct placed_log {
    int n;
    int64_t id[16];
    char node[16][16];
    char pin[16][16];
};

static void log_placement(void *arg, const struct rq_head *t, const char *node, int64_t cap_left)
{
    struct placed_log *l = arg;
    (void)cap_left;
    if (l->n < 16) {
        l->id[l->n] = t->id;
        snprintf(l->node[l->n], 16, "%s", node);
        snprintf(l->pin[l->n], 16, "%s", t->pin ? t->pin : "");
        l->n++;
    }
}

static void test_pins(void **state)
{
    (void)state;
    struct rq *q = fresh();
    /* the pin must be a usable node id (or null: no pin) */
    int64_t id;
    assert_int_equal(rq_enqueue(q, "{\"node\": 3}", &id), RQ_EARG);
    assert_non_null(strstr(rq_error(q), "node"));
    assert_int_equal(rq_enqueue(q, "{\"node\": \"a b\"}", &id), RQ_EARG);
    assert_int_equal(rq_enqueue(q, "{\"node\": \"\"}", &id), RQ_EARG);
    int64_t free_ = enq(q, "{\"node\": null}");
    assert_int_equal(raw_int("HEXISTS %stask:%lld pin", rq_prefix(q), (long long)free_), 0);
    rq_reject(q, free_, "test");

    reg(q, "n1", "w1", 4, 0, 0, 10000);
    reg(q, "n2", "w2", 4, 0, 0, 300);
    int64_t a = enq(q, "{\"cpu_units\": 1, \"node\": \"n2\"}");
    int64_t b = enq(q, "{\"cpu_units\": 1}");
    char *body = raw_str("HGET %stask:%lld body", rq_prefix(q), (long long)a);
    assert_non_null(strstr(body, "\"node\": \"n2\"")); /* the body keeps the field */
    free(body);
    char *pin = raw_str("HGET %stask:%lld pin", rq_prefix(q), (long long)a);
    assert_string_equal(pin, "n2");
    free(pin);

    struct rq_state st;
    assert_int_equal(rq_state(q, 10, &st), 0);
    assert_int_equal(st.nhead, 2);
    assert_string_equal(st.head[0].pin, "n2");
    assert_null(st.head[1].pin);
    rq_state_free(&st);

    /* the placement script refuses any other node, before any other check */
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_PINNED);
    assert_int_equal(place(q, a, "nX", -1, NULL), RQ_P_PINNED);
    assert_int_equal(place(q, a, "n2", -1, NULL), RQ_P_OK);
    assert_int_equal(place(q, b, "n1", -1, NULL), RQ_P_OK);

    /* n2's worker takes it and dies: reaped, back at the head, still pinned */
    struct rq_task t;
    assert_int_equal(rq_take(q, "w2", "n2", NULL, 0, 0, 5000, &t), RQ_TAKE_OK);
    assert_int_equal(t.id, a);
    rq_task_free(&t);
    msleep(400);
    struct rq_reap_stats rs;
    assert_int_equal(rq_reap(q, 3, &rs), 0);
    assert_int_equal(rs.requeued, 1);
    assert_int_equal(raw_int("LINDEX %sq:pending 0", rq_prefix(q)), a);
    pin = raw_str("HGET %stask:%lld pin", rq_prefix(q), (long long)a);
    assert_string_equal(pin, "n2");
    free(pin);
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_PINNED);
    assert_consistent(q);

    /* the placer: a pinned head whose node is down blocks the queue (FIFO),
     * and nothing behind it is placed, even on the free n1 */
    int64_t c = enq(q, "{}");
    struct policy p;
    char err[256];
    assert_int_equal(policy_named("ActiveServers", &p, err, sizeof err), 0);
    struct placer s;
    struct placed_log pl = {0};
    placer_init(&s, q, &p, 1, 16);
    s.on_place = log_placement;
    s.cb_arg = &pl;
    assert_int_equal(placer_round(&s), 0);
    assert_int_equal(s.blocked_id, a);
    assert_int_equal(s.blocked_why, PB_PIN_DOWN);
    assert_false(s.blocked_forever);
    assert_non_null(strstr(s.blocked_reason, "pinned to node n2"));
    assert_int_equal(raw_int("LLEN %sq:pending", rq_prefix(q)), 2);

    /* n2 comes back: a goes there; then n1 (b) and n2 (a) run one task each,
     * so ActiveServers sends c to n1 (equal scores: the smaller id) */
    reg(q, "n2", "w2", 4, 0, 0, 10000);
    assert_int_equal(placer_round(&s), 2);
    assert_int_equal(pl.n, 2);
    assert_int_equal(pl.id[0], a);
    assert_string_equal(pl.node[0], "n2");
    assert_string_equal(pl.pin[0], "n2");
    assert_int_equal(pl.id[1], c);
    assert_string_equal(pl.node[1], "n1");
    assert_string_equal(pl.pin[1], "");

    /* pinned against the policy: ActiveServers would pick n2 (1 task vs 2),
     * the pin says n1 */
    int64_t d = enq(q, "{\"node\": \"n1\"}");
    assert_int_equal(placer_round(&s), 1);
    assert_string_equal(pl.node[2], "n1");
    assert_int_equal(pl.id[2], d);

    /* pinned to a node nobody registered: blocks, is not dropped */
    int64_t e = enq(q, "{\"node\": \"n9\"}");
    int64_t f = enq(q, "{}");
    assert_int_equal(placer_round(&s), 0);
    assert_int_equal(s.blocked_id, e);
    assert_int_equal(s.blocked_why, PB_PIN_UNKNOWN);
    assert_non_null(strstr(s.blocked_reason, "n9, which is not registered"));
    assert_int_equal(raw_int("LINDEX %sq:pending 0", rq_prefix(q)), e);
    assert_int_equal(raw_int("LINDEX %sq:pending 1", rq_prefix(q)), f);
    reg(q, "n9", "w9", 2, 0, 0, 10000);
    assert_int_equal(placer_round(&s), 2);
    assert_int_equal(pl.id[3], e);
    assert_string_equal(pl.node[3], "n9");
    assert_int_equal(pl.id[4], f);
    assert_string_equal(pl.node[4], "n2"); /* n2 and n9 run one task each, n1 three */

    /* pinned to a node too small for it: never fits (the scheduler may reject it) */
    int64_t g = enq(q, "{\"cpu_units\": 3, \"node\": \"n9\"}");
    assert_int_equal(placer_round(&s), 0);
    assert_int_equal(s.blocked_id, g);
    assert_true(s.blocked_forever);
    assert_int_equal(s.blocked_why, PB_NEVER);
    assert_string_equal(s.blocked_reason, "needs 3 unit(s); pinned to node n9, which has 2 unit(s)");
    /* ... and pinned to one that is full now: waits */
    rq_reject(q, g, "too big");
    int64_t h1 = enq(q, "{\"cpu_units\": 2, \"node\": \"n9\"}");
    assert_int_equal(placer_round(&s), 0);
    assert_int_equal(s.blocked_id, h1);
    assert_int_equal(s.blocked_why, PB_FULL);
    assert_false(s.blocked_forever);
    placer_free(&s);

    /* leave hands a pinned task back with its pin */
    struct rq_task t2;
    assert_int_equal(rq_take(q, "w1", "n1", NULL, 0, 0, 5000, &t2), RQ_TAKE_OK); /* b */
    rq_task_free(&t2);
    assert_int_equal(rq_leave(q, "w1"), 3); /* b (running), c and d (queued) */
    pin = raw_str("HGET %stask:%lld pin", rq_prefix(q), (long long)d);
    assert_string_equal(pin, "n1");
    free(pin);
    char *state_d = raw_str("HGET %stask:%lld state", rq_prefix(q), (long long)d);
    assert_string_equal(state_d, "pending");
    free(state_d);
    assert_consistent(q);

    /* the audit notices a pinned task on another node (only a bug could do this) */
    raw_int("HSET %stask:%lld pin n1", rq_prefix(q), (long long)f);
    char msg[1024];
    assert_int_equal(rq_audit(q, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "pinned to n1 but placed on n2"));
    rq_purge(q);
    rq_close(q);
}

/* ---- resilience ---- */

static void test_reconnect_and_noscript(void **state)
{
    (void)state;
    struct rq *q = fresh();
    reg(q, "n1", "w1", 4, 0, 0, 10000);
    unsigned before = rq_reconnects(q);
    /* another client kills our connection: the next call reconnects */
    raw_int("CLIENT KILL TYPE normal SKIPME no");
    int64_t a = enq(q, "{}");
    assert_true(rq_reconnects(q) > before);
    /* scripts flushed (as after a restart): reloaded on NOSCRIPT */
    raw_int("SCRIPT FLUSH");
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_OK);
    raw_int("SCRIPT FLUSH");
    /* pipelined path; the same request twice in one call stands for a
     * retry after a lost reply: the second finds its own placement */
    int64_t b = enq(q, "{}");
    struct rq_place_req r[2] = {{b, "n1", -1, NULL}, {b, "n1", -1, NULL}};
    struct rq_place_res res[2];
    assert_int_equal(rq_place_many(q, r, 2, res), 0);
    assert_int_equal(res[0].st, RQ_P_OK);
    assert_int_equal(res[1].st, RQ_P_ALREADY);

    /* a batch chained on versions: once one fails, the rest fail */
    int64_t c = enq(q, "{\"cpu_units\": 3}"), d = enq(q, "{}");
    struct rq_state st;
    assert_int_equal(rq_state(q, 2, &st), 0);
    struct rq_place_req ch[2] = {{c, "n1", st.ver, NULL}, {d, "n1", st.ver + 1, NULL}};
    assert_int_equal(rq_place_many(q, ch, 2, res), 0);
    assert_int_equal(res[0].st, RQ_P_NOCAP); /* 2 of 4 units left */
    assert_int_equal(res[1].st, RQ_P_STALE); /* d is not the head */
    rq_state_free(&st);
    ch[0] = (struct rq_place_req){c, "n2", -1, NULL};
    reg(q, "n2", "w2", 4, 0, 0, 10000);
    assert_int_equal(rq_state(q, 2, &st) == 0 && st.head[0].id == c, 1);
    ch[0].expect_ver = st.ver;
    ch[1] = (struct rq_place_req){d, "n1", st.ver + 1, NULL};
    assert_int_equal(rq_place_many(q, ch, 2, res), 0);
    assert_int_equal(res[0].st, RQ_P_OK);
    assert_int_equal(res[1].st, RQ_P_OK);
    rq_state_free(&st);
    assert_consistent(q);

    /* issue 21: at the snapshot's version the units, memory and pin it
     * read are trusted (the task hash is not read): a task that is not the
     * head is still refused and the queue left as it was; the head is
     * placed with its units, once */
    reg(q, "n9", "w9", 4, 0, 0, 10000); /* full after this */
    while (rq_wait(q, 1) == 1)
        ;
    int64_t e = enq(q, "{\"cpu_units\": 2, \"node\": \"n9\"}"), g = enq(q, "{}");
    assert_int_equal(rq_state(q, 2, &st) == 0 && st.nhead == 2 && st.head[0].id == e, 1);
    struct rq_place_req fp = {g, "n9", st.ver, &st.head[1]};
    assert_int_equal(rq_place_many(q, &fp, 1, res), 0);
    assert_int_equal(res[0].st, RQ_P_STALE);
    fp = (struct rq_place_req){e, "n1", st.ver, &st.head[0]};
    assert_int_equal(rq_place_many(q, &fp, 1, res), 0);
    assert_int_equal(res[0].st, RQ_P_PINNED);
    fp = (struct rq_place_req){e, "n9", st.ver, &st.head[0]};
    assert_int_equal(rq_place_many(q, &fp, 1, res), 0);
    assert_int_equal(res[0].st, RQ_P_OK);
    assert_int_equal(res[0].cap_left, 2);
    assert_int_equal(rq_place_many(q, &fp, 1, res), 0);
    assert_int_equal(res[0].st, RQ_P_STALE); /* placed once: not again */
    rq_state_free(&st);
    assert_consistent(q);
    /* a one-task enqueue's wake-up tells the task: the snapshot does not
     * read it and still has its units, memory and pin */
    assert_int_equal(rq_state(q, 2, &st) == 0 && st.nhead == 1 && st.head[0].id == g, 1);
    rq_state_free(&st);
    while (rq_wait(q, 1) == 1)
        ;
    int64_t h = enq(q, "{\"cpu_units\": 1, \"mem_mb\": 0, \"node\": \"n9\"}");
    assert_int_equal(rq_wait(q, 100), 1);
    /* (not read: a value changed behind its back, which never happens, is
     * not seen) */
    raw_int("HSET %stask:%lld cpu 3", rq_prefix(q), (long long)h);
    assert_int_equal(rq_state(q, 2, &st) == 0 && st.nhead == 2 && st.head[1].id == h, 1);
    assert_int_equal(st.head[1].cpu_units, 1);
    assert_string_equal(st.head[1].pin ? st.head[1].pin : "", "n9");
    rq_state_free(&st);
    raw_int("HSET %stask:%lld cpu 1", rq_prefix(q), (long long)h);
    assert_int_equal(place(q, g, "n9", -1, NULL), RQ_P_OK);
    /* h was not alone in q:pending; a task enqueued alone is taken as the
     * head by a partial snapshot without reading q:pending (a task pushed
     * behind its back, which an enqueue never does, is not seen; a full
     * snapshot sees it) */
    assert_int_equal(place(q, h, "n9", -1, NULL), RQ_P_OK);
    assert_int_equal(rq_state(q, 2, &st) == 0 && st.nhead == 0, 1);
    int64_t seq0 = st.seq;
    rq_state_free(&st);
    while (rq_wait(q, 1) == 1)
        ;
    int64_t m = enq(q, "{}");
    assert_int_equal(rq_wait(q, 100), 1);
    raw_int("RPUSH %sq:pending 999999", rq_prefix(q));
    assert_int_equal(rq_state_since(q, 4, seq0, 1, &st), 0);
    assert_int_equal(st.nhead == 1 && st.head[0].id == m, 1);
    rq_state_free(&st);
    assert_int_equal(rq_state(q, 4, &st) == 0 && st.nhead == 2, 1);
    rq_state_free(&st);
    raw_int("RPOP %sq:pending", rq_prefix(q));
    raw_int("DEL %stask:%lld", rq_prefix(q), (long long)m);
    raw_int("LREM %sq:pending 0 %lld", rq_prefix(q), (long long)m);
    assert_consistent(q);

    /* after a reconnect the placer does not trust its snapshot */
    struct policy p;
    char err[128];
    assert_int_equal(policy_named("Mem", &p, err, sizeof err), 0);
    struct placer s;
    placer_init(&s, q, &p, 1, 1);
    for (int i = 0; i < 3; i++)
        enq(q, "{}");
    assert_int_equal(placer_round(&s), 1);
    raw_int("CLIENT KILL TYPE normal SKIPME no");
    assert_int_equal(placer_round(&s), 1); /* reconnects inside the call */
    assert_int_equal(s.st.snapshots, 1);
    reg(q, "n3", "w3", 4, 0, 0, 10000);    /* n1 and n2 are full now */
    assert_int_equal(placer_round(&s), 1); /* a fresh snapshot: it sees n3 */
    assert_int_equal(s.st.snapshots, 2);
    placer_free(&s);
    assert_consistent(q);
    rq_purge(q);
    rq_close(q);
}

static void test_clock_and_audit(void **state)
{
    (void)state;
    struct rq *q = fresh();
    double off, rtt;
    assert_int_equal(rq_clock_offset(q, 5, &off, &rtt), 0);
    assert_true(off > -50 && off < 50); /* same machine */
    assert_true(rtt > 0 && rtt < 100);

    reg(q, "n1", "w1", 4, 2, 0, 10000);
    int64_t a = enq(q, "{\"cpu_units\": 2}");
    assert_int_equal(place(q, a, "n1", -1, NULL), RQ_P_OK);
    assert_consistent(q);
    char msg[1024];
    raw_int("HINCRBY %snode:n1 cap 1", rq_prefix(q)); /* what B7's lost update looked like */
    assert_int_equal(rq_audit(q, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "n1: cap 3 + committed 2 ~= cap_total 4"));
    raw_int("HINCRBY %snode:n1 cap -1", rq_prefix(q));
    raw_int("RPUSH %sq:pending %lld", rq_prefix(q), (long long)a); /* a duplicate */
    assert_int_equal(rq_audit(q, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "is in pending and in q:n1"));
    rq_purge(q);
    /* purge leaves other runs alone */
    raw_int("SET tk:other:x 1");
    assert_int_equal(raw_int("EXISTS tk:other:x"), 1);
    raw_int("DEL tk:other:x");
    rq_close(q);
}

static int setup(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR);
    if (fixture_start(&fx, "user alice on >alice-pw ~* &* +@all\n") != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return -1;
    }
    snprintf(url_text, sizeof url_text, "redis://:%s@127.0.0.1:%d/0", fx.password, fx.port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fixture_cleanup(&fx);
    return 0;
}

static int driver(int argc, char **argv);

int main(int argc, char **argv)
{
    if (argc > 1)
        return driver(argc - 1, argv + 1);
    if (!fixture_have_redis()) {
        printf("1..0 # SKIP redis-server not installed\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_enqueue_body),
        cmocka_unit_test(test_place_rules),
        cmocka_unit_test(test_state_bounded_by_free_slots),
        cmocka_unit_test(test_enqueue_stamps),
        cmocka_unit_test(test_take_complete),
        cmocka_unit_test(test_blocking_take),
        cmocka_unit_test(test_wait_for_news),
        cmocka_unit_test(test_reap_and_requeue),
        cmocka_unit_test(test_dead_letter),
        cmocka_unit_test(test_lease_expiry),
        cmocka_unit_test(test_register_rules),
        cmocka_unit_test(test_leave),
        cmocka_unit_test(test_placer_round),
        cmocka_unit_test(test_pins),
        cmocka_unit_test(test_reconnect_and_noscript),
        cmocka_unit_test(test_clock_and_audit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* ---- the process-level driver of the t_rq*.sh integration tests ----
 * A test tool, not a product command (`tracekit worker/scheduler/dispatch`
 * come later).
 *
 *   test_rq COMMAND ARGS...     (Redis from $RQ_URL, run id from $RQ_RUN,
 *                                password optionally from $RQ_PASSWORD_FILE)
 *   connect                      open and close; the error on failure
 *   enqueue N CPU_MAX SLEEP_MS   N tasks, cpu_units 1..CPU_MAX round robin
 *   register NODE WORKER CAP PARALLEL TTL_MS
 *   place NODE                   place the head task on NODE
 *   placer POLICY BATCH IDLE_MS EXPECT
 *                                placement rounds + reaping until EXPECT tasks
 *                                finished, or IDLE_MS without a placement
 *   worker NODE WORKER CAP PARALLEL TTL_MS EXPECT
 *                                PARALLEL threads take, "run" (sleep_ms) and
 *                                complete tasks until EXPECT finished;
 *                                SIGTERM: stop, leave (hand tasks back)
 *   take NODE WORKER             take one task, print "ID ATTEMPT", exit
 *   complete WORKER ID ATTEMPT   print ok|dup|superseded|gone
 *   fail WORKER ID ATTEMPT RC    complete as failed with status RC (the same output)
 *   reap MAXDEL                  print "WORKERS REQUEUED DEAD"
 *   audit | counts | verify N
 *   enqueue-file FILE            one task per line of FILE (JSON object fields,
 *                                e.g. {"cpu_units": 2, "mem_mb": 100, "node": "b"});
 *                                prints the ids, one a line
 *   register-mem NODE WORKER CAP PARALLEL TTL_MS MEM_MB
 *                                register with memory accounted (MiB)
 *   results                      the ledger, one JSON record a line
 *   enqueue-json JSON...         enqueue each argument as one task's fields,
 *                                print the ids
 *
 * Exit status 0 on success, 1 on failure, 2 on usage errors.  Headers it
 * needs are included at the top of the file. */

static struct rq *drv_open(void)
{
    const char *url = getenv("RQ_URL"), *run = getenv("RQ_RUN"), *pwf = getenv("RQ_PASSWORD_FILE");
    struct redis_url u;
    char err[512];
    if (redisurl_parse(redisurl_choose(url), &u, err, sizeof err) != 0 ||
        (pwf && redisurl_password_file(&u, pwf, err, sizeof err) != 0)) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    struct rq_opts o = {.run_id = run ? run : "itest", .connect_timeout_ms = 1000,
                        .retry_ms = 30000, .backoff_min_ms = 20, .backoff_max_ms = 500};
    struct rq *q = rq_open(&u, &o, err, sizeof err);
    redisurl_free(&u);
    if (!q)
        fprintf(stderr, "%s\n", err);
    return q;
}

static int64_t drv_num(const char *s)
{
    int64_t v;
    if (!s || !parse_i64(s, INT64_MIN, INT64_MAX, &v)) {
        fprintf(stderr, "not a number: %s\n", s ? s : "(missing)");
        exit(2);
    }
    return v;
}

static int64_t drv_finished(struct rq *q)
{
    struct rq_counts c;
    if (rq_counts(q, &c) != 0)
        return -1;
    return c.done + c.failed + c.dead + c.rejected;
}

static int drv_enqueue(struct rq *q, int64_t n, int64_t cpu_max, int64_t sleep_ms)
{
    enum { CHUNK = 256 };
    char *f[CHUNK];
    for (int64_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < CHUNK && i < n; k++, i++)
            f[k] = xasprintf("{\"n\": %lld, \"cpu_units\": %lld, \"sleep_ms\": %lld}",
                             (long long)i, (long long)(1 + i % cpu_max), (long long)sleep_ms);
        int rc = rq_enqueue_many(q, (const char *const *)f, k, NULL);
        for (size_t j = 0; j < k; j++)
            free(f[j]);
        if (rc < 0) {
            fprintf(stderr, "enqueue: %s\n", rq_error(q));
            return 1;
        }
    }
    return 0;
}

static int drv_placer(struct rq *q, const char *pol, int64_t batch, int64_t idle_ms,
                      int64_t expect)
{
    struct policy p;
    char err[256];
    if (policy_named(pol, &p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    struct placer s;
    placer_init(&s, q, &p, getpid(), (size_t)batch);
    int64_t last_progress = now_mono_ns(), last_reap = 0;
    for (;;) {
        int n = placer_round(&s);
        if (n < 0) {
            fprintf(stderr, "placer: %s\n", rq_error(q));
            placer_free(&s);
            return 1;
        }
        int64_t now = now_mono_ns();
        if (n > 0)
            last_progress = now;
        if (now - last_reap > 200000000LL) {
            struct rq_reap_stats rs;
            if (rq_reap(q, 3, &rs) == 0 && rs.requeued + rs.dead > 0)
                last_progress = now;
            last_reap = now;
        }
        if (expect > 0 && drv_finished(q) >= expect)
            break;
        if (idle_ms > 0 && now - last_progress > idle_ms * 1000000LL)
            break;
        if (n == 0 && rq_wait(q, 5) < 0) { /* idle or blocked: wait for news */
            fprintf(stderr, "placer: %s\n", rq_error(q));
            placer_free(&s);
            return 1;
        }
    }
    printf("placed %llu conflicts %llu rounds %llu snapshots %llu reconnects %u\n",
           (unsigned long long)s.st.placed, (unsigned long long)s.st.conflicts,
           (unsigned long long)s.st.rounds, (unsigned long long)s.st.snapshots,
           rq_reconnects(q));
    placer_free(&s);
    return 0;
}

/* ---- worker ---- */

static atomic_int drv_stop;

static void drv_on_term(int sig)
{
    (void)sig;
    atomic_store(&drv_stop, 1);
}

struct drv_worker {
    const char *node;
    char worker[96];
    int64_t cap, parallel, expect;
    int ttl_ms;
    pthread_mutex_t mu;       /* serialises rq_take and guards held */
    int64_t held[48];
    size_t nheld;
    int generation;           /* bumped on every re-registration */
    atomic_long done, superseded, fenced;
    atomic_uint reconnects;   /* summed over the threads' connections */
    atomic_int finished;
};

static int drv_register(struct rq *q, struct drv_worker *w)
{
    struct rq_worker_info info = {w->node, w->worker, w->cap, w->cap, 1.0, 0,
                                  w->parallel, w->ttl_ms, 3};
    int rc = rq_register(q, &info, NULL);
    if (rc != RQ_REG_OK)
        fprintf(stderr, "register %s: %s\n", w->worker, rq_error(q));
    return rc;
}

/* After being fenced (reaped while alive, e.g. across a long Redis outage):
 * register again under a new id.  Caller holds w->mu. */
static void drv_reregister(struct rq *q, struct drv_worker *w, int seen_generation)
{
    if (w->generation != seen_generation)
        return; /* another thread did it already */
    atomic_fetch_add(&w->fenced, 1);
    w->generation++;
    char *dash = strstr(w->worker, "-g");
    if (dash)
        *dash = 0;
    size_t len = strlen(w->worker);
    snprintf(w->worker + len, sizeof w->worker - len, "-g%d", w->generation);
    w->nheld = 0;
    drv_register(q, w);
}

static void held_remove(struct drv_worker *w, int64_t id)
{
    for (size_t i = 0; i < w->nheld; i++) {
        if (w->held[i] == id) {
            w->held[i] = w->held[--w->nheld];
            return;
        }
    }
}

static void *drv_heartbeat(void *arg)
{
    struct drv_worker *w = arg;
    struct rq *q = drv_open();
    if (!q)
        return NULL;
    while (!atomic_load(&w->finished) && !atomic_load(&drv_stop)) {
        pthread_mutex_lock(&w->mu);
        char id[96];
        snprintf(id, sizeof id, "%s", w->worker);
        int gen = w->generation;
        pthread_mutex_unlock(&w->mu);
        int rc = rq_heartbeat(q, id, w->ttl_ms, w->ttl_ms * 2);
        if (rc == RQ_HB_FENCED) {
            pthread_mutex_lock(&w->mu);
            drv_reregister(q, w, gen);
            pthread_mutex_unlock(&w->mu);
        }
        msleep(w->ttl_ms / 4);
    }
    atomic_fetch_add(&w->reconnects, rq_reconnects(q));
    rq_close(q);
    return NULL;
}

static void *drv_executor(void *arg)
{
    struct drv_worker *w = arg;
    struct rq *q = drv_open();
    if (!q)
        return NULL;
    while (!atomic_load(&drv_stop) && !atomic_load(&w->finished)) {
        struct rq_task t;
        pthread_mutex_lock(&w->mu);
        char id[96];
        snprintf(id, sizeof id, "%s", w->worker);
        int gen = w->generation;
        int rc = rq_take(q, id, w->node, w->held, w->nheld, 200, w->ttl_ms * 2, &t);
        if (rc == RQ_TAKE_OK && w->nheld < 48)
            w->held[w->nheld++] = t.id;
        else if (rc == RQ_TAKE_FENCED)
            drv_reregister(q, w, gen);
        pthread_mutex_unlock(&w->mu);
        if (rc < 0) {
            fprintf(stderr, "take: %s\n", rq_error(q));
            break;
        }
        if (rc != RQ_TAKE_OK) {
            if (w->expect > 0 && drv_finished(q) >= w->expect)
                atomic_store(&w->finished, 1);
            continue;
        }
        json_t *body = json_loads(t.json, 0, NULL);
        int64_t sleep_ms = json_integer_value(json_object_get(body, "sleep_ms"));
        json_decref(body);
        for (int64_t s = 0; s < sleep_ms && !atomic_load(&drv_stop); s += 20)
            msleep(sleep_ms - s < 20 ? (int)(sleep_ms - s) : 20);
        if (atomic_load(&drv_stop)) {
            rq_task_free(&t); /* left in flight: rq_leave hands it back */
            break;
        }
        rc = rq_complete(q, id, t.id, t.attempt, true, 0);
        pthread_mutex_lock(&w->mu);
        held_remove(w, t.id);
        pthread_mutex_unlock(&w->mu);
        if (rc == RQ_DONE_OK)
            atomic_fetch_add(&w->done, 1);
        else if (rc == RQ_DONE_SUPERSEDED)
            atomic_fetch_add(&w->superseded, 1);
        else if (rc < 0)
            fprintf(stderr, "complete: %s\n", rq_error(q));
        rq_task_free(&t);
    }
    atomic_fetch_add(&w->reconnects, rq_reconnects(q));
    rq_close(q);
    return NULL;
}

static int drv_worker_run(struct rq *q, char **argv)
{
    struct drv_worker w;
    memset(&w, 0, sizeof w);
    w.node = argv[0];
    snprintf(w.worker, sizeof w.worker, "%s", argv[1]);
    w.cap = drv_num(argv[2]);
    w.parallel = drv_num(argv[3]);
    w.ttl_ms = (int)drv_num(argv[4]);
    w.expect = drv_num(argv[5]);
    pthread_mutex_init(&w.mu, NULL);
    if (drv_register(q, &w) != RQ_REG_OK)
        return 1;
    struct sigaction sa = {.sa_handler = drv_on_term};
    sigaction(SIGTERM, &sa, NULL);
    size_t n = w.parallel > 0 ? (size_t)w.parallel : 1;
    pthread_t hb, ex[16];
    if (n > 16)
        n = 16;
    pthread_create(&hb, NULL, drv_heartbeat, &w);
    for (size_t i = 0; i < n; i++)
        pthread_create(&ex[i], NULL, drv_executor, &w);
    for (size_t i = 0; i < n; i++)
        pthread_join(ex[i], NULL);
    atomic_store(&w.finished, 1);
    pthread_join(hb, NULL);
    int handed_back = 0;
    if (atomic_load(&drv_stop))
        handed_back = rq_leave(q, w.worker); /* B12: nothing stays stuck */
    printf("worker %s: done %ld superseded %ld fenced %ld handed_back %d reconnects %u\n",
           w.worker, (long)atomic_load(&w.done), (long)atomic_load(&w.superseded),
           (long)atomic_load(&w.fenced), handed_back,
           rq_reconnects(q) + atomic_load(&w.reconnects));
    pthread_mutex_destroy(&w.mu);
    return handed_back < 0;
}

/* Every task 1..n finished exactly once, as done. */
static int drv_verify(struct rq *q, int64_t n)
{
    char **lines;
    long k = rq_results(q, &lines);
    if (k < 0) {
        fprintf(stderr, "%s\n", rq_error(q));
        return 1;
    }
    int *seen = xcalloc((size_t)n + 1, sizeof *seen);
    long bad = 0, retried = 0;
    for (long i = 0; i < k; i++) {
        json_t *o = json_loads(lines[i], 0, NULL);
        int64_t id = json_integer_value(json_object_get(o, "task_id"));
        const char *st = json_string_value(json_object_get(o, "status"));
        if (json_integer_value(json_object_get(o, "attempt")) > 1)
            retried++;
        if (!o || id < 1 || id > n || !st || strcmp(st, "done") != 0) {
            fprintf(stderr, "unexpected record: %s\n", lines[i]);
            bad++;
        } else if (seen[id]++) {
            fprintf(stderr, "task %lld recorded twice\n", (long long)id);
            bad++;
        }
        json_decref(o);
        free(lines[i]);
    }
    free(lines);
    long missing = 0;
    for (int64_t i = 1; i <= n; i++)
        missing += !seen[i];
    free(seen);
    char msg[1024];
    int a = rq_audit(q, msg, sizeof msg);
    printf("records %ld missing %ld bad %ld retried %ld audit %s\n", k, missing, bad, retried,
           a == 0 ? "ok" : msg);
    return (missing || bad || a != 0) ? 1 : 0;
}

/* Enqueue each line of a file (task fields), in order, one call each. */
static int drv_enqueue_file(struct rq *q, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        if (!*str_trim(line))
            continue;
        int64_t id;
        if (rq_enqueue(q, line, &id) != 0) {
            fprintf(stderr, "enqueue %s: %s\n", line, rq_error(q));
            rc = 1;
        } else {
            printf("%lld\n", (long long)id);
        }
    }
    free(line);
    fclose(f);
    return rc;
}

static int driver(int argc, char **argv)
{
    log_set_level(LOG_WARN);
    const char *cmd = argv[0];
    static const struct {
        const char *name;
        int nargs;
    } usage[] = {
        {"connect", 0}, {"enqueue", 3}, {"register", 5}, {"place", 1}, {"placer", 4},
        {"worker", 6},  {"take", 2},    {"complete", 3}, {"reap", 1},  {"audit", 0},
        {"counts", 0},  {"verify", 1},
        {"enqueue-file", 1}, {"register-mem", 6}, {"results", 0},
        {"enqueue-json", 1}, {"fail", 4},
    };
    size_t i;
    for (i = 0; i < ARRAY_LEN(usage); i++)
        if (!strcmp(cmd, usage[i].name))
            break;
    if (i == ARRAY_LEN(usage) || argc - 1 < usage[i].nargs) {
        fprintf(stderr, "usage: test_rq COMMAND ARGS (see the end of tests/unit/test_rq.c)\n");
        return 2;
    }
    struct rq *q = drv_open();
    if (!q)
        return 1;
    int rc = 0;
    char **a = argv + 1;
    if (!strcmp(cmd, "connect")) {
        printf("connected\n");
    } else if (!strcmp(cmd, "enqueue")) {
        rc = drv_enqueue(q, drv_num(a[0]), drv_num(a[1]), drv_num(a[2]));
    } else if (!strcmp(cmd, "register")) {
        struct rq_worker_info w = {a[0], a[1], drv_num(a[2]), drv_num(a[2]), 1.0, 0,
                                   drv_num(a[3]), (int)drv_num(a[4]), 3};
        rc = rq_register(q, &w, NULL) != RQ_REG_OK;
        if (rc)
            fprintf(stderr, "register: %s\n", rq_error(q));
    } else if (!strcmp(cmd, "place")) {
        struct rq_state st;
        rc = rq_state(q, 1, &st) != 0 || st.nhead == 0;
        if (!rc) {
            struct rq_place_req r = {st.head[0].id, a[0], -1, NULL};
            struct rq_place_res res;
            rc = rq_place(q, &r, &res) != 0 || res.st != RQ_P_OK;
            printf("place %lld -> %s: %s\n", (long long)r.task_id, a[0], rc ? "refused" : "ok");
        }
        rq_state_free(&st);
    } else if (!strcmp(cmd, "placer")) {
        rc = drv_placer(q, a[0], drv_num(a[1]), drv_num(a[2]), drv_num(a[3]));
    } else if (!strcmp(cmd, "worker")) {
        rc = drv_worker_run(q, a);
    } else if (!strcmp(cmd, "take")) {
        struct rq_task t;
        int r = rq_take(q, a[1], a[0], NULL, 0, 1000, 60000, &t);
        if (r == RQ_TAKE_OK) {
            printf("%lld %d\n", (long long)t.id, t.attempt);
            rq_task_free(&t);
        } else {
            printf("none\n");
            rc = 1;
        }
    } else if (!strcmp(cmd, "complete") || !strcmp(cmd, "fail")) {
        bool ok = !strcmp(cmd, "complete");
        int r = rq_complete(q, a[0], drv_num(a[1]), (int)drv_num(a[2]), ok,
                            ok ? 0 : (int)drv_num(a[3]));
        static const char *names[] = {"ok", "dup", "superseded", "gone"};
        printf("%s\n", r >= 0 && r <= 3 ? names[r] : rq_error(q));
        rc = r < 0;
    } else if (!strcmp(cmd, "reap")) {
        struct rq_reap_stats s;
        rc = rq_reap(q, (int)drv_num(a[0]), &s) != 0;
        printf("%lld %lld %lld\n", (long long)s.workers, (long long)s.requeued,
               (long long)s.dead);
    } else if (!strcmp(cmd, "audit")) {
        char msg[1024];
        rc = rq_audit(q, msg, sizeof msg) != 0;
        printf("%s\n", msg);
    } else if (!strcmp(cmd, "counts")) {
        struct rq_counts c;
        rc = rq_counts(q, &c) != 0;
        printf("{\"enqueued\": %lld, \"placed\": %lld, \"done\": %lld, \"failed\": %lld, "
               "\"dead\": %lld, \"requeued\": %lld, \"superseded\": %lld, \"pending\": %lld}\n",
               (long long)c.enqueued, (long long)c.placed, (long long)c.done,
               (long long)c.failed, (long long)c.dead, (long long)c.requeued,
               (long long)c.superseded, (long long)c.pending);
    } else if (!strcmp(cmd, "verify")) {
        rc = drv_verify(q, drv_num(a[0]));
    } else if (!strcmp(cmd, "enqueue-file")) {
        rc = drv_enqueue_file(q, a[0]);
    } else if (!strcmp(cmd, "register-mem")) {
        struct rq_worker_info w = {a[0], a[1], drv_num(a[2]), drv_num(a[2]), 1.0, drv_num(a[5]),
                                   drv_num(a[3]), (int)drv_num(a[4]), 3};
        rc = rq_register(q, &w, NULL) != RQ_REG_OK;
        if (rc)
            fprintf(stderr, "register: %s\n", rq_error(q));
    } else if (!strcmp(cmd, "enqueue-json")) {
        for (int k = 1; k < argc && !rc; k++) {
            int64_t id;
            rc = rq_enqueue(q, argv[k], &id) != 0;
            if (rc)
                fprintf(stderr, "enqueue %s: %s\n", argv[k], rq_error(q));
            else
                printf("%lld\n", (long long)id);
        }
    } else if (!strcmp(cmd, "results")) {
        char **lines;
        long k = rq_results(q, &lines);
        rc = k < 0;
        for (long j = 0; j < k; j++) {
            printf("%s\n", lines[j]);
            free(lines[j]);
        }
        if (k >= 0)
            free(lines);
    }
    rq_close(q);
    return rc;
}
