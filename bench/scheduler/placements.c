/* placements.c -- how fast the central scheduler can place tasks through
 * Redis, and the enqueue-to-start latency with 3 workers of no-op tasks.
 *
 *   build/bench/scheduler/placements [N]
 *
 * Starts a private redis-server on loopback (like the tests) unless
 * BENCH_REDIS_URL is set, then measures, each on a fresh run:
 *  - enqueue rate (pipelined, 256 per round trip);
 *  - atomic placements/s with the placer (snapshot + version-guarded Lua
 *    placements) at batch sizes 1, 16 and 64;
 *  - the original scheduler's non-atomic command sequence (LINDEX, KEYS
 *    cap:*, GET per host, GET, SET, LPOP, INCR, RPUSH), issued from C, for
 *    comparison with the ~2 000/s the Python original reached;
 *  - enqueue-to-start latency (p50/p99) with a dispatcher at a fixed rate,
 *    the placer, and 3 workers (4 slots each) taking and completing no-op
 *    tasks;
 * with Redis persistence off, and again with appendfsync always. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tests/unit/redis_fixture.h"
#include "common/log.h"
#include "sched/placer.h"
#include "sched/policy.h"
#include "common/redisurl.h"
#include "sched/rq.h"
#include "common/util.h"

static char url_text[256];

static struct rq *bopen(const char *run)
{
    struct redis_url u;
    char err[512];
    if (redisurl_parse(url_text, &u, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    struct rq_opts o = {.run_id = run};
    struct rq *q = rq_open(&u, &o, err, sizeof err);
    redisurl_free(&u);
    if (!q) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return q;
}

static double secs_since(int64_t t0)
{
    return (double)(now_mono_ns() - t0) / 1e9;
}

static void enqueue_noop(struct rq *q, long n, double *rate)
{
    enum { CHUNK = 256 };
    char *f[CHUNK];
    for (int i = 0; i < CHUNK; i++)
        f[i] = "{\"argv\": [\"true\"], \"cpu_units\": 1}";
    int64_t t0 = now_mono_ns();
    for (long done = 0; done < n;) {
        size_t k = (size_t)(n - done < CHUNK ? n - done : CHUNK);
        if (rq_enqueue_many(q, (const char *const *)f, k, NULL) < 0) {
            fprintf(stderr, "enqueue: %s\n", rq_error(q));
            exit(1);
        }
        done += (long)k;
    }
    if (rate)
        *rate = (double)n / secs_since(t0);
}

static void register_nodes(struct rq *q, int64_t cap, int64_t parallel)
{
    for (int i = 1; i <= 3; i++) {
        char node[8], worker[8];
        snprintf(node, sizeof node, "n%d", i);
        snprintf(worker, sizeof worker, "w%d", i);
        /* as many cores as units: the vcpu filter must not be the limit */
        struct rq_worker_info w = {node, worker, cap, cap, 1.0, 0, parallel, 600000, 3};
        if (rq_register(q, &w, NULL) != RQ_REG_OK) {
            fprintf(stderr, "register: %s\n", rq_error(q));
            exit(1);
        }
    }
}

/* Atomic placements per second at one batch size. */
static double bench_placer(size_t batch, long n)
{
    char run[32];
    snprintf(run, sizeof run, "bench-b%zu", batch);
    struct rq *q = bopen(run);
    rq_purge(q);
    enqueue_noop(q, n, NULL);
    register_nodes(q, 1000000000, 0);
    struct policy p;
    char err[128];
    policy_named("ActiveServers", &p, err, sizeof err);
    struct placer s;
    placer_init(&s, q, &p, 1, batch);
    int64_t t0 = now_mono_ns();
    long placed = 0;
    while (placed < n) {
        int k = placer_round(&s);
        if (k < 0 || s.blocked_id) {
            fprintf(stderr, "placer: %s\n", k < 0 ? rq_error(q) : "blocked (capacity?)");
            exit(1);
        }
        placed += k;
    }
    double rate = (double)placed / secs_since(t0);
    placer_free(&s);
    char msg[256];
    if (rq_audit(q, msg, sizeof msg) != 0)
        fprintf(stderr, "audit after the run: %s\n", msg);
    rq_purge(q);
    rq_close(q);
    return rate;
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) {
        fprintf(stderr, "redis: %s\n", c->errstr);
        exit(1);
    }
    return r;
}

/* The original scheduler's per-task commands (upstream §7.6, capacity-only
 * path), first fit, without its 50 ms sleeps. */
static double bench_original(const struct redis_fixture *fx, long n)
{
    redisContext *c = fixture_raw(fx);
    freeReplyObject(cmd(c, "SELECT 9"));
    freeReplyObject(cmd(c, "FLUSHDB"));
    const char *task = "{\"input\": \"inputs/ffmpeg/a.mp4\", \"output\": \"outputs/a.mp4\", "
                       "\"cpu_units\": 1, \"ts_enqueue\": 1758579997000}";
    for (long i = 0; i < n; i++)
        redisAppendCommand(c, "RPUSH q:pending %s", task);
    for (long i = 0; i < n; i++) {
        redisReply *r;
        redisGetReply(c, (void **)&r);
        freeReplyObject(r);
    }
    for (int i = 1; i <= 3; i++)
        freeReplyObject(cmd(c, "SET cap:cloud%d 1000000000", i));
    int64_t t0 = now_mono_ns();
    for (long i = 0; i < n; i++) {
        redisReply *head = cmd(c, "LINDEX q:pending 0");
        redisReply *slots = cmd(c, "LLEN slots:available");
        redisReply *keys = cmd(c, "KEYS cap:*");
        const char *best = NULL;
        for (size_t k = 0; k < keys->elements; k++) {
            redisReply *v = cmd(c, "GET %s", keys->element[k]->str);
            if (atoll(v->str) >= 1 && (!best || strcmp(keys->element[k]->str, best) < 0))
                best = keys->element[k]->str;
            freeReplyObject(v);
        }
        redisReply *cap = cmd(c, "GET %s", best);
        long long left = atoll(cap->str) - 1;
        freeReplyObject(cmd(c, "SET %s %lld", best, left));
        freeReplyObject(cmd(c, "LPOP q:pending"));
        freeReplyObject(cmd(c, "INCR run_count:%s", best + 4));
        freeReplyObject(cmd(c, "RPUSH q:%s %s", best + 4, head->str));
        freeReplyObject(cap);
        freeReplyObject(keys);
        freeReplyObject(slots);
        freeReplyObject(head);
    }
    double rate = (double)n / secs_since(t0);
    freeReplyObject(cmd(c, "FLUSHDB"));
    redisFree(c);
    return rate;
}

/* ---- enqueue-to-start latency ---- */

struct lat {
    atomic_long started, target;
    atomic_int stop;
    int rate;               /* tasks per second from the dispatcher */
    double *samples;        /* ms, one per started task */
    pthread_mutex_t mu;
    long nsamples;
};

static void *dispatcher(void *arg)
{
    struct lat *l = arg;
    struct rq *q = bopen("bench-lat");
    int64_t t0 = now_mono_ns();
    for (long i = 0; i < l->target; i++) {
        /* evenly spaced arrivals */
        int64_t due = t0 + (int64_t)((double)i * 1e9 / l->rate);
        struct timespec ts = {due / 1000000000, due % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        char f[96];
        snprintf(f, sizeof f, "{\"argv\": [\"true\"], \"cpu_units\": 1, \"ts_enqueue\": %lld}",
                 (long long)now_wall_ms());
        int64_t id;
        if (rq_enqueue(q, f, &id) != 0) {
            fprintf(stderr, "enqueue: %s\n", rq_error(q));
            exit(1);
        }
    }
    rq_close(q);
    return NULL;
}

static void *scheduler(void *arg)
{
    struct lat *l = arg;
    struct rq *q = bopen("bench-lat");
    struct policy p;
    char err[128];
    policy_named("ActiveServers", &p, err, sizeof err);
    struct placer s;
    placer_init(&s, q, &p, 1, 16);
    while (!atomic_load(&l->stop)) {
        int k = placer_round(&s);
        if (k < 0 || (k == 0 && rq_wait(q, 20) < 0)) {
            fprintf(stderr, "placer: %s\n", rq_error(q));
            exit(1);
        }
    }
    placer_free(&s);
    rq_close(q);
    return NULL;
}

struct wslot {
    struct lat *l;
    const char *node, *worker;
    pthread_mutex_t *take_mu;
};

static double precise_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *worker_slot(void *arg)
{
    struct wslot *w = arg;
    struct rq *q = bopen("bench-lat");
    while (!atomic_load(&w->l->stop)) {
        struct rq_task t;
        /* one slot takes at a time per worker; no-op tasks hold nothing */
        pthread_mutex_lock(w->take_mu);
        int rc = rq_take(q, w->worker, w->node, NULL, 0, 100, 60000, &t);
        pthread_mutex_unlock(w->take_mu);
        if (rc < 0) {
            fprintf(stderr, "take: %s\n", rq_error(q));
            exit(1);
        }
        if (rc != RQ_TAKE_OK)
            continue;
        double started = precise_wall_ms();
        const char *ts = strstr(t.body, "\"ts_enqueue\": ");
        double enq = ts ? atof(ts + 14) : started;
        pthread_mutex_lock(&w->l->mu);
        if (w->l->nsamples < w->l->target)
            w->l->samples[w->l->nsamples++] = started - enq;
        pthread_mutex_unlock(&w->l->mu);
        if (rq_complete(q, w->worker, t.id, t.attempt, true, 0) < 0) {
            fprintf(stderr, "complete: %s\n", rq_error(q));
            exit(1);
        }
        rq_task_free(&t);
        if (atomic_fetch_add(&w->l->started, 1) + 1 >= w->l->target)
            atomic_store(&w->l->stop, 1);
    }
    rq_close(q);
    return NULL;
}

static void bench_latency(int rate, long n, double *p50, double *p99, double *max)
{
    struct rq *q = bopen("bench-lat");
    rq_purge(q);
    register_nodes(q, 4, 4);
    rq_close(q);
    struct lat l = {.rate = rate};
    atomic_store(&l.target, n);
    l.samples = xcalloc((size_t)n, sizeof *l.samples);
    pthread_mutex_init(&l.mu, NULL);
    pthread_t d, s, w[12];
    struct wslot ws[12];
    pthread_mutex_t take_mu[3];
    static const char *nodes[] = {"n1", "n2", "n3"}, *workers[] = {"w1", "w2", "w3"};
    for (int i = 0; i < 3; i++)
        pthread_mutex_init(&take_mu[i], NULL);
    for (int i = 0; i < 12; i++) {
        ws[i] = (struct wslot){&l, nodes[i % 3], workers[i % 3], &take_mu[i % 3]};
        pthread_create(&w[i], NULL, worker_slot, &ws[i]);
    }
    pthread_create(&s, NULL, scheduler, &l);
    pthread_create(&d, NULL, dispatcher, &l);
    pthread_join(d, NULL);
    for (int i = 0; i < 12; i++)
        pthread_join(w[i], NULL);
    atomic_store(&l.stop, 1);
    pthread_join(s, NULL);
    qsort(l.samples, (size_t)l.nsamples, sizeof *l.samples, cmp_double);
    /* ts_enqueue has ms resolution: shift by half a ms to be unbiased */
    *p50 = l.samples[l.nsamples / 2] - 0.5;
    *p99 = l.samples[(long)((double)l.nsamples * 0.99)] - 0.5;
    *max = l.samples[l.nsamples - 1] - 0.5;
    free(l.samples);
    pthread_mutex_destroy(&l.mu);
    q = bopen("bench-lat");
    rq_purge(q);
    rq_close(q);
}

static void machine(void)
{
    char model[512] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            snprintf(model, sizeof model, "%s", c ? str_trim(c + 1) : line);
            break;
        }
    }
    if (f)
        fclose(f);
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d", gmtime(&now));
    printf("# %s, %ld CPUs (%s), ", when, sysconf(_SC_NPROCESSORS_ONLN), model);
}

static void run_all(const struct redis_fixture *fx, const char *label, long n)
{
    printf("\n## Redis %s\n", label);
    struct rq *q = bopen("bench-enq");
    rq_purge(q);
    double enq_rate;
    enqueue_noop(q, n, &enq_rate);
    rq_purge(q);
    rq_close(q);
    printf("enqueue (pipelined, 256/round trip): %8.0f tasks/s\n", enq_rate);
    static const size_t batches[] = {1, 16, 64};
    for (size_t i = 0; i < ARRAY_LEN(batches); i++) {
        long m = batches[i] == 1 ? n / 5 : n;
        printf("atomic placements, batch %2zu:         %8.0f /s  (%ld tasks)\n", batches[i],
               bench_placer(batches[i], m), m);
    }
    if (fx) {
        long m = n / 10;
        printf("original command sequence (from C):  %8.0f /s  (%ld tasks, not atomic)\n",
               bench_original(fx, m), m);
    }
    static const int rates[] = {500, 2000};
    for (size_t i = 0; i < ARRAY_LEN(rates); i++) {
        double p50, p99, mx;
        long m = rates[i] * 5;
        bench_latency(rates[i], m, &p50, &p99, &mx);
        printf("enqueue->start at %4d tasks/s, 3 workers x 4 slots: p50 %.2f ms, p99 %.2f ms, "
               "max %.2f ms (%ld tasks)\n", rates[i], p50, p99, mx, m);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 50000;
    setvbuf(stdout, NULL, _IOLBF, 0);
    log_set_level(LOG_ERROR);
    machine();
    const char *env = getenv("BENCH_REDIS_URL");
    if (env) {
        printf("Redis at %s\n", "BENCH_REDIS_URL");
        snprintf(url_text, sizeof url_text, "%s", env);
        run_all(NULL, "given by BENCH_REDIS_URL", n);
        return 0;
    }
    char ver[64] = "?";
    struct redis_fixture fx;
    if (fixture_start(&fx, NULL) != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    redisContext *c = fixture_raw(&fx);
    redisReply *r = redisCommand(c, "INFO server");
    const char *v = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
    if (v)
        sscanf(v + 14, "%63[0-9.]", ver);
    if (r)
        freeReplyObject(r);
    redisFree(c);
    printf("redis-server %s on loopback TCP\n", ver);
    snprintf(url_text, sizeof url_text, "redis://:%s@127.0.0.1:%d/0", fx.password, fx.port);
    run_all(&fx, "without persistence (save \"\", appendonly no)", n);
    fixture_cleanup(&fx);

    if (fixture_start(&fx, "appendonly yes\nappendfsync always\n") != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    snprintf(url_text, sizeof url_text, "redis://:%s@127.0.0.1:%d/0", fx.password, fx.port);
    run_all(&fx, "with appendonly yes, appendfsync always", n);
    fixture_stop(&fx, false);
    /* the AOF folder */
    char path[200];
    snprintf(path, sizeof path, "%s/appendonlydir", fx.dir);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (e->d_name[0] != '.')
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(path);
    fixture_cleanup(&fx);
    return 0;
}
