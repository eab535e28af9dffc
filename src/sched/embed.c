/* embed.c -- the in-memory scheduling plane of `tracekit local`; the rules
 * mirror sched/rq_lua.h (place, complete, reject) and sched/placer.c. */
#include "sched/embed.h"

#include "common/util.h"
#include "sched/workload.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_node(const void *a, const void *b)
{
    return strcmp(((const struct emb_node *)a)->id, ((const struct emb_node *)b)->id);
}

int embed_init(struct embed *e, const struct emb_node *nodes, size_t n, const struct policy *p,
               int64_t seed, const char *worker_suffix, char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    e->nodes = xcalloc(n ? n : 1, sizeof *e->nodes);
    for (size_t i = 0; i < n; i++) {
        e->nodes[i] = nodes[i];
        e->nodes[i].id = xstrdup(nodes[i].id);
        e->nodes[i].units_free = nodes[i].units_total;
        e->nodes[i].mem_free = nodes[i].mem_total;
        e->nodes[i].instances = 0;
    }
    e->nnodes = n;
    qsort(e->nodes, n, sizeof *e->nodes, cmp_node);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(e->nodes[i - 1].id, e->nodes[i].id)) {
            snprintf(err, errlen, "node '%s' is given twice", e->nodes[i].id);
            embed_free(e);
            return -1;
        }
    e->pol = *p;
    pyrand_seed(&e->rng, seed);
    e->worker_suffix = worker_suffix;
    return 0;
}

void embed_free(struct embed *e)
{
    for (size_t i = 0; i < e->nnodes; i++)
        free(e->nodes[i].id);
    free(e->nodes);
    for (size_t i = 0; i < e->ntasks; i++) {
        free(e->tasks[i].trace_id);
        free(e->tasks[i].body);
        free(e->tasks[i].pin_name);
        free(e->tasks[i].error);
        free(e->tasks[i].log);
    }
    free(e->tasks);
    free(e->queue);
    memset(e, 0, sizeof *e);
}

int embed_node(const struct embed *e, const char *id)
{
    for (size_t i = 0; i < e->nnodes; i++)
        if (!strcmp(e->nodes[i].id, id))
            return (int)i;
    return -1;
}

/* An integer field as rq reads it (tonumber of the JSON value), else def. */
static int64_t int_field(json_t *o, const char *key, int64_t def)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (int64_t)json_real_value(v);
    return def;
}

int64_t embed_enqueue(struct embed *e, const char *fields, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = jsonl_loads(fields, JSON_DECODE_ANY, &je);
    const char *trace = json_string_value(json_object_get(o, "trace_id"));
    json_t *ts = json_object_get(o, "ts_enqueue");
    if (!json_is_object(o) || !trace || !json_is_integer(ts)) {
        snprintf(err, errlen, "task fields are not an object with trace_id and ts_enqueue: %s",
                 fields);
        json_decref(o);
        return -1;
    }
    if (e->ntasks == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->tasks = xrealloc(e->tasks, e->cap * sizeof *e->tasks);
    }
    struct emb_task *t = &e->tasks[e->ntasks];
    memset(t, 0, sizeof *t);
    t->id = e->id_base + (int64_t)e->ntasks + 1;
    t->trace_id = xstrdup(trace);
    t->ts_enqueue = json_integer_value(ts);
    t->cpu_units = int_field(o, "cpu_units", 1);
    if (t->cpu_units < 1)
        t->cpu_units = 1;
    t->mem_mb = int_field(o, "mem_mb", 0);
    if (t->mem_mb < 0)
        t->mem_mb = 0;
    const char *pin = json_string_value(json_object_get(o, "node"));
    t->pin = pin ? embed_node(e, pin) : -1;
    t->pin_name = pin ? xstrdup(pin) : NULL;
    t->node = -1;
    t->state = EMB_PENDING;
    json_decref(o);
    struct jbuf b;
    jb_init(&b);
    if (workload_body(&b, t->id, fields) < 0) {
        snprintf(err, errlen, "task fields are not a JSON object: %s", fields);
        jb_free(&b);
        free(t->trace_id);
        free(t->pin_name);
        return -1;
    }
    t->body = xasprintf("%.*s", (int)b.len, b.p);
    jb_free(&b);
    if (e->qhead + e->qlen == e->qcap) {
        if (e->qhead > 0) {
            memmove(e->queue, e->queue + e->qhead, e->qlen * sizeof *e->queue);
            e->qhead = 0;
        } else {
            e->qcap = e->qcap ? e->qcap * 2 : 64;
            e->queue = xrealloc(e->queue, e->qcap * sizeof *e->queue);
        }
    }
    e->queue[e->qhead + e->qlen++] = e->ntasks;
    e->ntasks++;
    return t->id;
}

static void to_pol(const struct emb_node *n, struct pol_host *h)
{
    memset(h, 0, sizeof *h);
    h->id = n->id;
    h->up = true;
    h->cores = n->cores;
    h->units_total = n->units_total;
    h->units_free = n->units_free;
    h->mem_total_mb = n->mem_total;
    h->mem_free_mb = n->mem_free;
    h->instances = n->instances;
    h->max_parallel = n->parallel;
}

enum emb_place embed_place(struct embed *e, int64_t now_ms, size_t *task)
{
    if (e->qlen == 0)
        return EMB_EMPTY;
    size_t ti = e->queue[e->qhead];
    struct emb_task *t = &e->tasks[ti];
    *task = ti;
    if (t->pin_name && t->pin < 0)
        return EMB_NEVER;
    struct pol_host *hosts = xcalloc(e->nnodes ? e->nnodes : 1, sizeof *hosts);
    for (size_t i = 0; i < e->nnodes; i++) {
        to_pol(&e->nodes[i], &hosts[i]);
        if (t->pin >= 0 && (int)i != t->pin)
            hosts[i].up = false; /* a pinned task is decided among its node only */
    }
    struct pol_task pt = {t->cpu_units, t->mem_mb, 0};
    long sel = policy_select(&e->pol, hosts, e->nnodes, &pt, &e->rng, NULL, NULL);
    enum emb_place r;
    if (sel < 0) {
        bool never = t->pin >= 0 ? policy_never_fits(&hosts[t->pin], 1, &pt)
                                 : policy_never_fits(hosts, e->nnodes, &pt);
        r = never ? EMB_NEVER : EMB_BLOCKED;
    } else {
        struct emb_node *n = &e->nodes[sel];
        n->units_free -= t->cpu_units;
        if (n->mem_total > 0)
            n->mem_free -= t->mem_mb;
        n->instances++;
        t->node = (int)sel;
        t->ts_place = now_ms;
        t->state = EMB_RUNNING;
        e->qhead++;
        e->qlen--;
        e->placed++;
        r = EMB_PLACED;
    }
    free(hosts);
    return r;
}

static void ledger(const struct embed *e, const struct emb_task *t, const char *status,
                   const char *reason, struct jbuf *b)
{
    jb_reset(b);
    jb_obj_open(b, NULL);
    jb_int(b, "task_id", t->id);
    jb_str(b, "trace_id", t->trace_id);
    jb_int(b, "attempt", t->node >= 0 ? 1 : 0);
    jb_str(b, "status", status);
    jb_opt_int(b, "rc", t->node >= 0, t->rc);
    const char *node = t->node >= 0 ? e->nodes[t->node].id : "";
    jb_str(b, "node", node);
    char worker[300] = "";
    if (t->node >= 0)
        snprintf(worker, sizeof worker, "%s:%s", node, e->worker_suffix);
    jb_str(b, "worker", worker);
    jb_int(b, "ts_enqueue", t->ts_enqueue);
    jb_opt_int(b, "ts_place", t->node >= 0, t->ts_place);
    jb_opt_int(b, "ts_start", t->ts_start > 0, t->ts_start);
    jb_int(b, "ts_end", t->ts_end);
    if (t->exec_id[0])
        jb_str(b, "exec_id", t->exec_id);
    if (reason)
        jb_str(b, "reason", reason);
    if (t->error)
        jb_str(b, "error", t->error);
    if (t->log)
        jb_str(b, "log", t->log);
    jb_obj_close(b);
}

void embed_set_why(struct embed *e, size_t task, const char *error, const char *log)
{
    struct emb_task *t = &e->tasks[task];
    free(t->error);
    free(t->log);
    t->error = error && *error ? xstrdup(error) : NULL;
    t->log = log && *log ? xstrdup(log) : NULL;
}

void embed_reject(struct embed *e, const char *reason, int64_t now_ms, struct jbuf *out)
{
    if (e->qlen == 0)
        return;
    struct emb_task *t = &e->tasks[e->queue[e->qhead]];
    e->qhead++;
    e->qlen--;
    t->state = EMB_REJECTED;
    t->ts_end = now_ms;
    e->rejected++;
    if (out)
        ledger(e, t, "rejected", reason, out);
}

void embed_started(struct embed *e, size_t task, int64_t now_ms)
{
    e->tasks[task].ts_start = now_ms;
}

void embed_finish(struct embed *e, size_t task, int rc, int64_t now_ms, struct jbuf *out)
{
    struct emb_task *t = &e->tasks[task];
    if (t->state != EMB_RUNNING)
        return; /* exactly once */
    struct emb_node *n = &e->nodes[t->node];
    n->units_free += t->cpu_units;
    if (n->mem_total > 0)
        n->mem_free += t->mem_mb;
    n->instances--;
    t->rc = rc;
    t->ts_end = now_ms;
    t->state = rc == 0 ? EMB_DONE : EMB_FAILED;
    if (rc == 0)
        e->done++;
    else
        e->failed++;
    if (out)
        ledger(e, t, rc == 0 ? "done" : "failed", NULL, out);
}

void embed_placement_json(const struct embed *e, size_t task, const char *scheduler,
                          struct jbuf *b)
{
    const struct emb_task *t = &e->tasks[task];
    const struct emb_node *n = &e->nodes[t->node];
    jb_reset(b);
    jb_obj_open(b, NULL);
    jb_int(b, "ts_ms", t->ts_place);
    jb_int(b, "task_id", t->id);
    jb_str(b, "node", n->id);
    jb_int(b, "cap_left", n->units_free);
    jb_str(b, "policy", e->pol.name);
    jb_str(b, "scheduler", scheduler);
    jb_obj_close(b);
}

void embed_backlog(const struct embed *e, int64_t *out)
{
    memset(out, 0, e->nnodes * sizeof *out);
    for (size_t i = 0; i < e->qlen; i++) {
        const struct emb_task *t = &e->tasks[e->queue[e->qhead + i]];
        if (t->pin >= 0)
            out[t->pin]++;
    }
}

char *embed_body(const struct embed *e, size_t task)
{
    const char *b = e->tasks[task].body;
    size_t n = strlen(b);
    while (n > 0 && b[n - 1] != '}')
        n--;
    return xasprintf("%.*s, \"attempt\": 1}", (int)(n ? n - 1 : 0), b);
}
