/* placer.h -- the central scheduler's placement loop body: keep a snapshot
 * of the hosts and of the first tasks of q:pending (read in one script
 * call), decide the queue head in FIFO order with a policy, and apply the
 * decisions with pipelined placement scripts, each guarded by the
 * snapshot's version, so a decision made on stale state is refused, never
 * applied (optimistic concurrency, like Nova's claim-and-retry).
 *
 * The snapshot is kept across rounds and updated with the effect of every
 * placement, which the version check makes exact: enqueues only append to
 * the queue, and every other change bumps the version, which makes the next
 * placement fail and the snapshot be read again.  In steady state a round
 * costs one round trip for up to `batch` placements.
 *
 * Strict FIFO like the original and OpenDC's FilterScheduler: when the head
 * fits nowhere the round stops there (head-of-line blocking).  A task pinned
 * to a node (rq_head.pin) is decided among that node only, with the same
 * policy filters; while its node is unknown, down or full it blocks the
 * queue like any head that fits nowhere. */
#ifndef TK_PLACER_H
#define TK_PLACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/policy.h"
#include "sched/pyrand.h"
#include "sched/rq.h"

struct placer_stats {
    uint64_t rounds;     /* placer_round calls */
    uint64_t snapshots;  /* snapshots read */
    uint64_t placed;     /* tasks placed */
    uint64_t conflicts;  /* placements refused because the state moved */
    uint64_t idle;       /* rounds with an empty queue */
    uint64_t blocked;    /* rounds that stopped at a head that fits nowhere */
};

/* Why the round stopped at the head (placer.blocked_why). */
enum placer_block {
    PB_NONE,
    PB_FULL,         /* fits nowhere now; capacity may come back */
    PB_NEVER,        /* bigger than every registered host (or than its pinned node) */
    PB_PIN_UNKNOWN,  /* pinned to a node that is not registered */
    PB_PIN_DOWN,     /* pinned to a node without a live worker */
};

/* Called once per placement, in queue order; task points into the snapshot
 * and is valid during the call only. */
typedef void (*placer_cb)(void *arg, const struct rq_head *task, const char *node,
                          int64_t cap_left);

struct placer {
    struct rq *q;
    struct policy pol;
    struct pyrand rng;      /* subset picks; seeded, so runs repeat */
    size_t batch;           /* placements per round trip (>= 1) */
    struct placer_stats st;
    int64_t blocked_id;     /* head that fits nowhere now (0: none) */
    bool blocked_forever;   /* ... and never will (blocked_why == PB_NEVER) */
    enum placer_block blocked_why;
    char blocked_reason[320]; /* e.g. "needs 9 units; the largest node has 8" */
    placer_cb on_place;
    void *cb_arg;
    /* the snapshot */
    bool have;
    struct rq_state snap;
    struct pol_host *hosts; /* snap.hosts as the policy sees them, kept current */
    size_t next;            /* first snap.head entry not yet placed */
    unsigned reconnects;    /* rq_reconnects() when the snapshot was read */
    bool placed_all;        /* the last round placed all it decided */
    /* the nodes as last read, kept across snapshots: a snapshot reads only
     * the nodes changed since known_seq (rq_state_since), until a refusal,
     * an error or a reconnect says the model may be wrong (issue 21) */
    struct rq_host *known;
    size_t nknown;
    int64_t known_seq;
    bool known_ok;
};

void placer_init(struct placer *s, struct rq *q, const struct policy *p, int64_t seed,
                 size_t batch);
void placer_free(struct placer *s);
/* One round.  Returns the number of tasks placed (>= 0) or an rq error.
 * 0 means idle or blocked: wait (rq_wait) before the next round. */
int placer_round(struct placer *s);
/* After a round that placed all it decided: the snapshot is used up and
 * nothing more can be placed until some change wakes the schedulers (no
 * free slot left, or every pending task was read), so wait (rq_wait)
 * instead of reading a snapshot only to find that (issue 21). */
bool placer_used_up(const struct placer *s);

#endif
