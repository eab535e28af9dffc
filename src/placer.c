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

int placer_round(struct placer *s)
{
    struct rq_state st;
    int rc = rq_state(s->q, s->batch, &st);
    if (rc)
        return rc;
    s->st.rounds++;
    s->blocked_id = 0;
    s->blocked_forever = false;
    if (st.nhead == 0) {
        s->st.idle++;
        rq_state_free(&st);
        return 0;
    }
    struct pol_host *ph = xcalloc(st.nhosts ? st.nhosts : 1, sizeof *ph);
    for (size_t i = 0; i < st.nhosts; i++)
        rq_host_to_pol(&st.hosts[i], &ph[i]);
    struct rq_place_req *req = xcalloc(st.nhead, sizeof *req);
    size_t n = 0;
    for (size_t i = 0; i < st.nhead; i++) {
        struct pol_task t = {st.head[i].cpu_units, st.head[i].mem_mb, 0};
        long h = policy_select(&s->pol, ph, st.nhosts, &t, &s->rng, NULL, NULL);
        if (h < 0) {
            s->blocked_id = st.head[i].id;
            s->blocked_forever = policy_never_fits(ph, st.nhosts, &t);
            s->st.blocked++;
            break;
        }
        /* later decisions of this round see this one's effect */
        policy_commit(&ph[h], &t);
        req[n] = (struct rq_place_req){st.head[i].id, st.hosts[h].node, st.ver + (int64_t)n};
        n++;
    }
    int placed = 0;
    if (n) {
        struct rq_place_res *res = xcalloc(n, sizeof *res);
        rc = rq_place_many(s->q, req, n, res);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (res[i].st != RQ_P_OK && res[i].st != RQ_P_ALREADY) {
                /* the rest were decided on the same, now stale, state */
                s->st.conflicts++;
                break;
            }
            placed++;
            if (s->on_place)
                s->on_place(s->cb_arg, req[i].task_id, req[i].node, res[i].cap_left);
        }
        free(res);
    }
    s->st.placed += (uint64_t)placed;
    free(req);
    free(ph);
    rq_state_free(&st);
    return rc ? rc : placed;
}
