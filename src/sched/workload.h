/* workload.h -- what `tracekit dispatch` enqueues (pure, no I/O; when is
 * pacer.h).
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
 */
#ifndef TK_WORKLOAD_H
#define TK_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/jsonl.h"

struct workload_task {
    char *fields;     /* JSON object text */
    int node;         /* index into workload.nodes when pinned, else -1 */
    double duration;  /* seconds (duration policies), else 0 */
};

struct workload {
    struct workload_task *t;
    size_t n;
    char **nodes;     /* node names (--nodes, then names only --tasks lines give) */
    size_t nnodes;
    /* --mix: tasks per profile, "medium480p=30 fast1080p=20 ..." (malloc'd),
     * and items mix_parse skipped or merged (for warnings) */
    char *mix_counts;
    size_t mix_skipped, mix_duplicates;
    char *mix_skipped_text;     /* the skipped items, "'x', 'y=abc'" (malloc'd) */
};

void workload_free(struct workload *w);

enum workload_policy { WORKLOAD_RR3, WORKLOAD_GREEDY, WORKLOAD_ONLINE };
/* rr3 | duration-greedy (lpt-duration) | duration-online (online-duration). */
bool workload_policy_parse(const char *s, enum workload_policy *p);
#define WORKLOAD_POLICY_NAMES "rr3, duration-greedy (lpt-duration), duration-online (online-duration)"

/* Tasks over input files. */
struct workload_files {
    const char *outputs;        /* output folder prefix */
    char *const *files;         /* input paths, sorted by name */
    size_t nfiles;
    const double *durations;    /* seconds per file (duration policies), or NULL */
    char *const *nodes;         /* --nodes */
    size_t nnodes;
    const char *scale, *preset; /* non-mix modes */
    int crf;
    enum workload_policy policy;      /* ignored with mix */
    const char *mix;            /* NULL or "" = no mix */
    bool allow_unknown;         /* --allow-unknown-profile: the original's lenient mix */
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
int workload_from_files(struct workload *w, const struct workload_files *o, char *err, size_t errlen);

/* `total` copies of one generic task: {"argv": [...], "cpu_units": U
 * [, "mem_mb": M] [, "app": A]} (mem_mb when > 0, app when not NULL). */
int workload_from_command(struct workload *w, const char *command, int64_t total, int64_t cpu_units,
                    int64_t mem_mb, const char *app, char *err, size_t errlen);

/* JSONL tasks, one object per line (blank lines skipped): argv (non-empty
 * array of strings) required; cpu_units integer >= 0 (default def_cpu),
 * mem_mb integer >= 0, app and node names; trace_id a string; other fields
 * kept in order; task_id, ts_enqueue and attempt are the dispatcher's.
 * Missing cpu_units (and mem_mb / app when defaults are given) are appended.
 * A line longer than WORKLOAD_LINE_MAX bytes or nested deeper than
 * JSONL_MAX_DEPTH is bad.  Any bad line refuses the whole file: -1 with err
 * "line N: ...". */
#define WORKLOAD_LINE_MAX (1024 * 1024)
int workload_from_jsonl(struct workload *w, const char *buf, size_t len, int64_t def_cpu,
                  int64_t def_mem, const char *def_app, char *err, size_t errlen);

/* Split a command line into words like a POSIX shell without expansions:
 * blanks separate, '...' is literal, "..." keeps \" \\ \$ \` and drops
 * \newline, a backslash outside quotes escapes the next character.  *argv is
 * NULL-terminated (argv_free).  0, or -1 with err (unbalanced quote,
 * trailing backslash, no words). */
int workload_split_words(const char *s, char ***argv, size_t *argc, char *err, size_t errlen);

/* fields with "node": NODE appended (malloc'd). */
char *workload_with_node(const char *fields, const char *node);
/* fields with "trace_id" (unless NULL or there) and "ts_enqueue" (unless
 * < 0: rq_enqueue_stamped stamps it with the Redis clock) set, for
 * rq_enqueue_many (rq keeps both) (malloc'd). */
char *workload_enqueue_fields(const char *fields, const char *trace_id, int64_t ts_enqueue);
/* The fields to enqueue for task `task` as the pacer releases it to node
 * (pacer_next's node[]; -1: none): pinned there unless the task names its
 * node already, with trace_id and ts_enqueue appended (malloc'd). */
char *workload_release(const struct workload *w, size_t task, int node, const char *trace_id,
                       int64_t ts_enqueue);
/* The body rq stores for fields from workload_enqueue_fields:
 * {"task_id": ID, "trace_id": T, <fields in order>, "ts_enqueue": TS}
 * (the line written to submitted.jsonl).  0, or -1 if fields is not an object. */
int workload_body(struct jbuf *b, int64_t task_id, const char *fields);

#endif
