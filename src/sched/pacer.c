/* pacer.c -- the dispatcher's pacing (see pacer.h). */
#include "sched/pacer.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

void pacer_init(struct pacer *p, const struct pace_cfg *c, const struct workload *w)
{
    memset(p, 0, sizeof *p);
    p->c = *c;
    if (p->c.pulse_size < 1)
        p->c.pulse_size = 1;
    if (p->c.batch_size < 1)
        p->c.batch_size = 1;
    p->w = w;
    p->sent = xcalloc(w->n ? w->n : 1, sizeof *p->sent);
    p->acc = xcalloc(w->nnodes ? w->nnodes : 1, sizeof *p->acc);
    p->added = xcalloc(w->nnodes ? w->nnodes : 1, sizeof *p->added);
}

void pacer_free(struct pacer *p)
{
    free(p->sent);
    free(p->acc);
    free(p->added);
    memset(p, 0, sizeof *p);
}

bool pacer_done(const struct pacer *p)
{
    return p->nsent == p->w->n;
}

unsigned pacer_needs(const struct pacer *p)
{
    switch (p->c.mode) {
    case PACE_FIFO: return PACE_NEED_QLEN;
    case PACE_DRIP:
    case PACE_ONLINE: return PACE_NEED_BACKLOG;
    default: return 0;
    }
}

static void release(struct pacer *p, size_t i, int node, size_t *idx, int *nodes, size_t *k)
{
    p->sent[i] = true;
    p->nsent++;
    idx[*k] = i;
    nodes[*k] = node;
    (*k)++;
    if (node >= 0)
        p->added[node]++;
    while (p->first < p->w->n && p->sent[p->first])
        p->first++;
}

/* online: the node with room and the smallest (backlog, accumulated
 * duration), first in node order on ties; -1 if none has room */
static int online_pick(const struct pacer *p, const int64_t *backlog)
{
    int best = -1;
    int64_t bb = 0;
    for (size_t i = 0; i < p->w->nnodes; i++) {
        int64_t b = (backlog ? backlog[i] : 0) + p->added[i];
        if (b >= p->c.backlog_limit)
            continue;
        if (best < 0 || b < bb || (b == bb && p->acc[i] < p->acc[best])) {
            best = (int)i;
            bb = b;
        }
    }
    return best;
}

size_t pacer_next(struct pacer *p, int64_t now_ms, int64_t qlen, const int64_t *backlog,
                  size_t *idx, int *node)
{
    const struct workload *w = p->w;
    size_t k = 0;
    if (pacer_done(p) || now_ms < p->next_ms)
        return 0;
    memset(p->added, 0, (w->nnodes ? w->nnodes : 1) * sizeof *p->added);
    switch (p->c.mode) {
    case PACE_ALL:
        while (!pacer_done(p))
            release(p, p->first, w->t[p->first].node, idx, node, &k);
        break;
    case PACE_PULSE:
        /* the original slept 1 s between the tasks of a pulse (spacing) */
        do {
            release(p, p->first, w->t[p->first].node, idx, node, &k);
            p->in_pulse++;
        } while (p->c.pulse_spacing_ms <= 0 && p->in_pulse < p->c.pulse_size && !pacer_done(p));
        if (p->in_pulse >= p->c.pulse_size || pacer_done(p)) {
            p->in_pulse = 0;
            p->pulses++;
            p->next_ms = now_ms + p->c.pulse_interval_ms;
        } else {
            p->next_ms = now_ms + p->c.pulse_spacing_ms;
        }
        break;
    case PACE_FIFO:
        while (!pacer_done(p) && (int64_t)k < p->c.batch_size &&
               qlen + (int64_t)k < p->c.pending_max)
            release(p, p->first, w->t[p->first].node, idx, node, &k);
        p->next_ms = now_ms + p->c.dribble_ms;
        break;
    case PACE_DRIP:
        /* a pinned task whose node is full waits (the original dropped it,
         * B14); tasks for other nodes may go past it */
        for (size_t i = p->first; i < w->n && (int64_t)k < p->c.batch_size; i++) {
            if (p->sent[i])
                continue;
            int nd = w->t[i].node;
            if (nd >= 0 && (backlog ? backlog[nd] : 0) + p->added[nd] >= p->c.backlog_limit)
                continue;
            release(p, i, nd, idx, node, &k);
        }
        p->next_ms = now_ms + p->c.dribble_ms;
        break;
    case PACE_ONLINE:
        while (!pacer_done(p) && (int64_t)k < p->c.batch_size) {
            int nd = online_pick(p, backlog);
            if (nd < 0)
                break;
            p->acc[nd] += w->t[p->first].duration;
            release(p, p->first, nd, idx, node, &k);
        }
        p->next_ms = now_ms + p->c.dribble_ms;
        break;
    }
    if (k > 0)
        p->batches++;
    return k;
}

bool pacer_pulse_pause(const struct pacer *p, uint64_t pulses_before, int64_t now_ms,
                       size_t *next_n, int64_t *wait_ms)
{
    if (p->c.mode != PACE_PULSE || p->pulses == pulses_before || pacer_done(p))
        return false;
    size_t left = p->w->n - p->nsent;
    *next_n = (int64_t)left < p->c.pulse_size ? left : (size_t)p->c.pulse_size;
    *wait_ms = p->next_ms > now_ms ? p->next_ms - now_ms : 0;
    return true;
}
