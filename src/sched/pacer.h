/* pacer.h -- when the dispatcher releases each task of a workload (pure, no
 * I/O): everything at once, pulses, a FIFO kept below a length, drip-fed
 * pinned batches, or the duration-online policy's per-node batches.  The
 * caller reads what pacer_needs() asks for (the queue length, the nodes'
 * backlogs) and enqueues what pacer_next() releases; a task is never
 * dropped (B14). */
#ifndef TK_PACER_H
#define TK_PACER_H

#include "sched/workload.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pace_mode {
    PACE_ALL,     /* everything at once */
    PACE_PULSE,   /* --pending --pending-mode pulse */
    PACE_FIFO,    /* --pending --pending-mode fifo */
    PACE_DRIP,    /* --drip */
    PACE_ONLINE,  /* --policy duration-online */
};

struct pace_cfg {
    enum pace_mode mode;
    int64_t pulse_size;        /* >= 1 */
    int64_t pulse_spacing_ms;  /* between tasks inside a pulse (0: all at once) */
    int64_t pulse_interval_ms; /* after each pulse */
    int64_t batch_size;        /* >= 1 (fifo, drip, online) */
    int64_t pending_max;       /* fifo: push only while LLEN q:pending < this */
    int64_t dribble_ms;        /* fifo, drip, online: between batches */
    int64_t backlog_limit;     /* drip, online: per node */
};

/* What pacer_next needs read before the call. */
enum { PACE_NEED_QLEN = 1, PACE_NEED_BACKLOG = 2 };

struct pacer {
    struct pace_cfg c;
    const struct workload *w;
    bool *sent;
    size_t nsent, first;       /* tasks released; first not released */
    int64_t next_ms;           /* do not call before this (0: now) */
    int64_t in_pulse;          /* tasks of the current pulse released */
    uint64_t pulses, batches;  /* completed pulses; steps that released tasks */
    double *acc;               /* online: accumulated duration per node */
    int64_t *added;            /* scratch: released per node in this step */
};

void pacer_init(struct pacer *p, const struct pace_cfg *c, const struct workload *w);
void pacer_free(struct pacer *p);
bool pacer_done(const struct pacer *p);
unsigned pacer_needs(const struct pacer *p);
/* Release the tasks that may be enqueued at now_ms, given LLEN q:pending
 * (qlen, fifo) and each node's backlog (tasks pinned to it not started yet;
 * drip and online).  idx[] gets task indices in order, node[] the node of
 * each (pinned, or chosen by online; -1 none); both have room for w->n.
 * Returns how many; p->next_ms says when to call again. */
size_t pacer_next(struct pacer *p, int64_t now_ms, int64_t qlen, const int64_t *backlog,
                  size_t *idx, int *node);

/* After a pacer_next that ended a pulse (p->pulses moved past pulses_before)
 * with tasks left: true, with the size of the next pulse and the wait
 * before it, for the "next pulse of N in S s" line (a pause of
 * --pulse-interval, 300 s by default, must not look like a hang). */
bool pacer_pulse_pause(const struct pacer *p, uint64_t pulses_before, int64_t now_ms,
                       size_t *next_n, int64_t *wait_ms);

#endif
