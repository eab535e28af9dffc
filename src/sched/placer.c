/* placer.c -- snapshot, decide, place; see placer.h. */
#include "sched/placer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void placer_init(struct placer *s, struct rq *q, const struct policy *p, int64_t seed,
                 size_t batch)
{
    memset(s, 0, sizeof *s);
    s->q = q;
    s->pol = *p;
    pyrand_seed(&s->rng, seed);
    s->batch = batch ? batch : 1;
}

static void drop_snapshot(struct placer *s)
{
    if (s->have)
        rq_state_free(&s->snap);
    free(s->hosts);
    s->hosts = NULL;
    s->have = false;
}

static void hosts_free(struct rq_host *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].node);
        free(h[i].worker);
    }
    free(h);
}

static struct rq_host *hosts_copy(const struct rq_host *h, size_t n)
{
    struct rq_host *c = xcalloc(n ? n : 1, sizeof *c);
    for (size_t i = 0; i < n; i++) {
        c[i] = h[i];
        c[i].node = xstrdup(h[i].node);
        c[i].worker = xstrdup(h[i].worker);
    }
    return c;
}

static void forget_known(struct placer *s)
{
    hosts_free(s->known, s->nknown);
    s->known = NULL;
    s->nknown = 0;
    s->known_ok = false;
}

void placer_free(struct placer *s)
{
    drop_snapshot(s);
    forget_known(s);
}

static int cmp_rq_host(const void *a, const void *b)
{
    return strcmp(((const struct rq_host *)a)->node, ((const struct rq_host *)b)->node);
}

/* Free slots of the nodes known (live nodes' units within --parallel): the
 * head a partial snapshot may need beyond the nodes it reads. */
static int64_t known_free(const struct placer *s)
{
    int64_t free_ = 0;
    for (size_t i = 0; i < s->nknown; i++) {
        const struct rq_host *h = &s->known[i];
        int64_t slots = h->cap;
        if (h->parallel > 0 && h->parallel - h->run_count < slots)
            slots = h->parallel - h->run_count;
        if (h->up && slots > 0)
            free_ += slots;
    }
    return free_;
}

/* The changed nodes of a partial snapshot into the known ones; then the
 * snapshot's hosts are all of them, as after a full read. */
static void merge_known(struct placer *s)
{
    if (!s->snap.partial) {
        hosts_free(s->known, s->nknown);
        s->known = hosts_copy(s->snap.hosts, s->snap.nhosts);
        s->nknown = s->snap.nhosts;
        return;
    }
    size_t added = 0;
    for (size_t i = 0; i < s->snap.nhosts; i++) {
        const struct rq_host *c = &s->snap.hosts[i];
        struct rq_host *k = bsearch(c, s->known, s->nknown, sizeof *s->known, cmp_rq_host);
        if (!k) {
            s->known = xrealloc(s->known, (s->nknown + 1) * sizeof *s->known);
            k = &s->known[s->nknown++];
            added++;
        } else {
            free(k->node);
            free(k->worker);
        }
        *k = *c;
        k->node = xstrdup(c->node);
        k->worker = xstrdup(c->worker);
    }
    if (added)
        qsort(s->known, s->nknown, sizeof *s->known, cmp_rq_host);
    hosts_free(s->snap.hosts, s->snap.nhosts);
    s->snap.hosts = hosts_copy(s->known, s->nknown);
    s->snap.nhosts = s->nknown;
}

static int read_snapshot(struct placer *s)
{
    drop_snapshot(s);
    /* read ahead: a few rounds' worth of queue head */
    size_t window = s->batch * 4 < 64 ? 64 : s->batch * 4;
    bool inc = s->known_ok && s->reconnects == rq_reconnects(s->q);
    int rc = rq_state_since(s->q, window, inc ? s->known_seq : 0, inc ? known_free(s) : 0,
                            &s->snap);
    if (rc) {
        forget_known(s);
        return rc;
    }
    merge_known(s);
    s->known_seq = s->snap.seq;
    s->known_ok = true;
    s->have = true;
    s->reconnects = rq_reconnects(s->q);
    s->st.snapshots++;
    s->hosts = xcalloc(s->snap.nhosts ? s->snap.nhosts : 1, sizeof *s->hosts);
    for (size_t i = 0; i < s->snap.nhosts; i++)
        rq_host_to_pol(&s->snap.hosts[i], &s->hosts[i]);
    s->next = 0;
    return 0;
}

/* Index of a node in the snapshot (hosts are sorted by id), or -1. */
static long find_host(const struct placer *s, const char *node)
{
    size_t lo = 0, hi = s->snap.nhosts;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->snap.hosts[mid].node, node);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void block(struct placer *s, const struct rq_head *hd, enum placer_block why,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void block(struct placer *s, const struct rq_head *hd, enum placer_block why,
                  const char *fmt, ...)
{
    s->blocked_id = hd->id;
    s->blocked_why = why;
    s->blocked_forever = why == PB_NEVER;
    int n = snprintf(s->blocked_reason, sizeof s->blocked_reason, "needs %lld unit(s)",
                     (long long)(hd->cpu_units < 1 ? 1 : hd->cpu_units));
    if (hd->mem_mb > 0 && n > 0 && (size_t)n < sizeof s->blocked_reason)
        n += snprintf(s->blocked_reason + n, sizeof s->blocked_reason - (size_t)n,
                      " and %lld MiB", (long long)hd->mem_mb);
    if (n > 0 && (size_t)n < sizeof s->blocked_reason) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->blocked_reason + n, sizeof s->blocked_reason - (size_t)n, fmt, ap);
        va_end(ap);
    }
}

/* " and N MiB" when memory is accounted, else "" */
static const char *mib(char buf[40], int64_t mem)
{
    if (mem <= 0)
        return "";
    snprintf(buf, 40, " and %lld MiB", (long long)mem);
    return buf;
}

/* The host for the head task, or -1 with the reason it blocks the queue. */
static long decide(struct placer *s, const struct rq_head *hd, const struct pol_task *t)
{
    size_t n = s->snap.nhosts;
    if (!hd->pin) {
        long h = policy_select(&s->pol, s->hosts, n, t, &s->rng, NULL, NULL);
        if (h >= 0)
            return h;
        int64_t units = 0, mem = 0;
        for (size_t i = 0; i < n; i++) {
            units = s->hosts[i].units_total > units ? s->hosts[i].units_total : units;
            mem = s->hosts[i].mem_total_mb > mem ? s->hosts[i].mem_total_mb : mem;
        }
        char m[40];
        if (n == 0)
            block(s, hd, PB_FULL, "; no node is registered");
        else if (policy_never_fits(s->hosts, n, t))
            block(s, hd, PB_NEVER, "; the largest node has %lld unit(s)%s", (long long)units,
                  mib(m, mem));
        else
            block(s, hd, PB_FULL, "; no node has room now");
        return -1;
    }
    /* pinned: the same policy, over that one node (no random draw) */
    long i = find_host(s, hd->pin);
    if (i < 0) {
        block(s, hd, PB_PIN_UNKNOWN, "; pinned to node %s, which is not registered", hd->pin);
        return -1;
    }
    const struct pol_host *h = &s->hosts[i];
    if (!h->up) {
        block(s, hd, PB_PIN_DOWN, "; pinned to node %s, which has no live worker", hd->pin);
        return -1;
    }
    if (policy_select(&s->pol, h, 1, t, &s->rng, NULL, NULL) == 0)
        return i;
    char m[40];
    if (policy_never_fits(h, 1, t))
        block(s, hd, PB_NEVER, "; pinned to node %s, which has %lld unit(s)%s", hd->pin,
              (long long)h->units_total, mib(m, h->mem_total_mb));
    else
        block(s, hd, PB_FULL, "; pinned to node %s, which has no room now", hd->pin);
    return -1;
}

/* Our own placements into the known nodes: checked against the version,
 * they were the only changes since known_seq, so the model stays exact
 * and the next snapshot need not read the nodes they touched again. */
static void know_placed(struct placer *s, const struct rq_head *hd, const char *node,
                        int64_t cap_left, int64_t ver)
{
    struct rq_host key = {.node = (char *)node};
    struct rq_host *k = bsearch(&key, s->known, s->nknown, sizeof *s->known, cmp_rq_host);
    if (!k || cap_left < 0) {
        s->known_ok = false;   /* cannot follow: read them all next time */
        return;
    }
    k->cap = cap_left;
    k->run_count++;
    if (k->mem_total > 0 && hd->mem_mb > 0)
        k->mem -= hd->mem_mb;
    s->known_seq = ver;
}

/* Whether the snapshot is used up with nothing more to place before some
 * change wakes us (every change that could make room or add a task wakes
 * the schedulers, rq_wait): no free slot left in the model, or every
 * pending task was read (issue 21: no snapshot read just to find that). */
static bool used_up(const struct placer *s)
{
    if (s->snap.pending >= 0 && s->snap.pending <= (int64_t)s->snap.nhead)
        return true;
    for (size_t i = 0; i < s->snap.nhosts; i++) {
        const struct pol_host *h = &s->hosts[i];
        int64_t slots = h->units_free;
        if (h->max_parallel > 0 && h->max_parallel - h->instances < slots)
            slots = h->max_parallel - h->instances;
        if (h->up && slots > 0)
            return false;
    }
    return true;
}

bool placer_used_up(const struct placer *s)
{
    return s->have && s->placed_all && s->next >= s->snap.nhead &&
           s->reconnects == rq_reconnects(s->q) && used_up(s);
}

int placer_round(struct placer *s)
{
    s->st.rounds++;
    s->blocked_id = 0;
    s->blocked_forever = false;
    s->blocked_why = PB_NONE;
    s->blocked_reason[0] = 0;
    /* A snapshot whose queue window is used up may be missing new tasks;
     * after a reconnect Redis may have restarted and lost its last writes,
     * version numbers included, so the version no longer proves anything. */
    if (!s->have || s->next >= s->snap.nhead || s->reconnects != rq_reconnects(s->q)) {
        int rc = read_snapshot(s);
        if (rc)
            return rc;
    }
    if (s->next >= s->snap.nhead) {
        s->st.idle++;
        drop_snapshot(s);
        return 0;
    }
    size_t avail = s->snap.nhead - s->next;
    size_t max = avail < s->batch ? avail : s->batch;
    struct rq_place_req *req = xcalloc(max, sizeof *req);
    size_t n = 0;
    for (; n < max; n++) {
        const struct rq_head *hd = &s->snap.head[s->next + n];
        struct pol_task t = {hd->cpu_units, hd->mem_mb, 0};
        long h = decide(s, hd, &t);
        if (h < 0)
            break;
        /* later decisions see this one's effect */
        policy_commit(&s->hosts[h], &t);
        req[n] = (struct rq_place_req){hd->id, s->snap.hosts[h].node, s->snap.ver + (int64_t)n, hd};
    }
    int placed = 0, rc = 0;
    bool stale = false;
    if (n) {
        struct rq_place_res *res = xcalloc(n, sizeof *res);
        rc = rq_place_many(s->q, req, n, res);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (res[i].st != RQ_P_OK && res[i].st != RQ_P_ALREADY) {
                /* the rest were decided on the same, now stale, state */
                s->st.conflicts++;
                stale = true;
                break;
            }
            placed++;
            s->snap.ver = res[i].ver;
            know_placed(s, &s->snap.head[s->next + i], req[i].node, res[i].cap_left,
                        res[i].ver);
            if (s->on_place)
                s->on_place(s->cb_arg, &s->snap.head[s->next + i], req[i].node,
                            res[i].cap_left);
        }
        free(res);
    }
    s->next += (size_t)placed;
    s->placed_all = placed > 0 && placed == (int)n && !rc;
    s->st.placed += (uint64_t)placed;
    if (s->blocked_id && !stale && placed == (int)n)
        s->st.blocked++;
    /* After a refusal or an error the model is wrong; when blocked it may be
     * out of date (capacity freed since): read a fresh one next round. */
    if (rc || stale || s->blocked_id)
        drop_snapshot(s);
    if (rc || stale)
        forget_known(s);
    free(req);
    return rc ? rc : placed;
}
