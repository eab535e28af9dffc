/* workload.h -- what `tracekit dispatch` enqueues, and when (pure, no I/O).
 *
 * The task list: one JSON object of task fields per task (docs/redis.md,
 * "Tasks"), built from input files (the original's --mix and --policy
 * modes, upstream §7.3/§7.5), from a --command repeated --total times, or
 * from a JSONL file of generic tasks.  Keys are in the original's order:
 *   mix:     input, output, _seq, scale, vcodec, preset, crf, vthreads,
 *            fthreads, cpu_units, profile [, node]
 *   rr3 and duration policies: input, output, scale, preset, crf [, node]
 *   command: argv, cpu_units [, mem_mb] [, app]
 * "node" pins a task to one node (the original's direct-to-node modes); it
 * is never set with --pending, where the central scheduler decides.
 *
 * The pacer decides how many tasks may be enqueued now and when to look
 * again (pulse, fifo, drip, duration-online), from a clock and the queue
 * lengths the caller reads; it never drops a task (B14). */
#ifndef TK_WORKLOAD_H
#define TK_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jsonl.h"

struct wl_task {
    char *fields;     /* JSON object text */
    int node;         /* index into workload.nodes when pinned, else -1 */
    double duration;  /* seconds (duration policies), else 0 */
};

struct workload {
    struct wl_task *t;
    size_t n;
    char **nodes;     /* node names (--nodes, then names only --tasks lines give) */
    size_t nnodes;
    /* --mix: tasks per profile, "medium480p=30 fast1080p=20 ..." (malloc'd),
     * and items mix_parse skipped or merged (for warnings) */
    char *mix_counts;
    size_t mix_skipped, mix_duplicates;
};

void wl_free(struct workload *w);

enum wl_policy { WL_RR3, WL_GREEDY, WL_ONLINE };
/* rr3 | duration-greedy (lpt-duration) | duration-online (online-duration). */
bool wl_policy_parse(const char *s, enum wl_policy *p);
#define WL_POLICY_NAMES "rr3, duration-greedy (lpt-duration), duration-online (online-duration)"

/* Tasks over input files. */
struct wl_files {
    const char *outputs;        /* output folder prefix */
    char *const *files;         /* input paths, sorted by name */
    size_t nfiles;
    const double *durations;    /* seconds per file (duration policies), or NULL */
    char *const *nodes;         /* --nodes */
    size_t nnodes;
    const char *scale, *preset; /* non-mix modes */
    int crf;
    enum wl_policy policy;      /* ignored with mix */
    const char *mix;            /* NULL or "" = no mix */
    int64_t total;              /* mix: tasks; 0 = one per file */
    int64_t seed;
    bool pin;                   /* direct-to-node (no --pending): set "node" */
};

/* Build the task list.  rr3: file order, file i -> nodes[i % n].  Duration
 * policies: longest first (stable); greedy: each to the node with the least
 * accumulated duration (ties: first in --nodes order); online: no node yet
 * (the pacer chooses).  Mix with total N: task idx takes files[idx % nfiles],
 * profile seq[idx], nodes[idx % n]; total 0: one task per file, profile
 * drawn per file.  0, or -1 with err. */
int wl_from_files(struct workload *w, const struct wl_files *o, char *err, size_t errlen);

/* `total` copies of one generic task: {"argv": [...], "cpu_units": U
 * [, "mem_mb": M] [, "app": A]} (mem_mb when > 0, app when not NULL). */
int wl_from_command(struct workload *w, const char *command, int64_t total, int64_t cpu_units,
                    int64_t mem_mb, const char *app, char *err, size_t errlen);

/* JSONL tasks, one object per line (blank lines skipped): argv (non-empty
 * array of strings) required; cpu_units integer >= 0 (default def_cpu),
 * mem_mb integer >= 0, app and node names; trace_id a string; other fields
 * kept in order; task_id, ts_enqueue and attempt are the dispatcher's.
 * Missing cpu_units (and mem_mb / app when defaults are given) are appended.
 * Any bad line refuses the whole file: -1 with err "line N: ...". */
int wl_from_jsonl(struct workload *w, const char *buf, size_t len, int64_t def_cpu,
                  int64_t def_mem, const char *def_app, char *err, size_t errlen);

/* Split a command line into words like a POSIX shell without expansions:
 * blanks separate, '...' is literal, "..." keeps \" \\ \$ \` and drops
 * \newline, a backslash outside quotes escapes the next character.  *argv is
 * NULL-terminated (argv_free).  0, or -1 with err (unbalanced quote,
 * trailing backslash, no words). */
int wl_split_words(const char *s, char ***argv, size_t *argc, char *err, size_t errlen);

/* fields with "node": NODE appended (malloc'd). */
char *wl_with_node(const char *fields, const char *node);
/* fields with "trace_id" and "ts_enqueue" appended, for rq_enqueue_many
 * (rq keeps both, so the dispatcher knows them) (malloc'd). */
char *wl_enqueue_fields(const char *fields, const char *trace_id, int64_t ts_enqueue);
/* The body rq stores for fields from wl_enqueue_fields:
 * {"task_id": ID, "trace_id": T, <fields in order>, "ts_enqueue": TS}
 * (the line written to submitted.jsonl).  0, or -1 if fields is not an object. */
int wl_body(struct jbuf *b, int64_t task_id, const char *fields);

/* The original's ts_enqueue rule: now, but strictly greater than the
 * previous stamp of this dispatcher (else previous + 1). */
int64_t wl_stamp(int64_t *prev, int64_t now_ms);

/* ---- pacing ---- */

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

#endif
