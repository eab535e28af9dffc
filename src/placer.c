/* placer.c -- snapshot, decide, place; see placer.h. */
#include "placer.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

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

void placer_free(struct placer *s)
{
    drop_snapshot(s);
}

static int read_snapshot(struct placer *s)
{
    drop_snapshot(s);
    /* read ahead: a few rounds' worth of queue head */
    size_t window = s->batch * 4 < 64 ? 64 : s->batch * 4;
    int rc = rq_state(s->q, window, &s->snap);
    if (rc)
        return rc;
    s->have = true;
    s->reconnects = rq_reconnects(s->q);
    s->st.snapshots++;
    s->hosts = xcalloc(s->snap.nhosts ? s->snap.nhosts : 1, sizeof *s->hosts);
    for (size_t i = 0; i < s->snap.nhosts; i++)
        rq_host_to_pol(&s->snap.hosts[i], &s->hosts[i]);
    s->next = 0;
    return 0;
}

int placer_round(struct placer *s)
{
    s->st.rounds++;
    s->blocked_id = 0;
    s->blocked_forever = false;
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
        long h = policy_select(&s->pol, s->hosts, s->snap.nhosts, &t, &s->rng, NULL, NULL);
        if (h < 0) {
            s->blocked_id = hd->id;
            s->blocked_forever = policy_never_fits(s->hosts, s->snap.nhosts, &t);
            break;
        }
        /* later decisions see this one's effect */
        policy_commit(&s->hosts[h], &t);
        req[n] = (struct rq_place_req){hd->id, s->snap.hosts[h].node, s->snap.ver + (int64_t)n};
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
            if (s->on_place)
                s->on_place(s->cb_arg, req[i].task_id, req[i].node, res[i].cap_left);
        }
        free(res);
    }
    s->next += (size_t)placed;
    s->st.placed += (uint64_t)placed;
    if (s->blocked_id && !stale && placed == (int)n)
        s->st.blocked++;
    /* After a refusal or an error the model is wrong; when blocked it may be
     * out of date (capacity freed since): read a fresh one next round. */
    if (rc || stale || s->blocked_id)
        drop_snapshot(s);
    free(req);
    return rc ? rc : placed;
}
