/* wlbuild.h -- the task list the dispatcher's options describe: ffmpeg
 * tasks over input files, copies of a command or a JSONL file of tasks,
 * and how to pace them.  The I/O around the pure workload.c (listing
 * --inputs, ffprobe for the duration policies, reading --tasks).  Shared
 * by `tracekit dispatch` and `tracekit local`, which take the same options
 * (cmd/options.c, workload_options) with the same meaning:
 *
 *     struct wlbuild_opts o = WLBUILD_OPTS_INIT;  (filled by the option layer)
 *     wlbuild_check(&o, err, errlen);              the checks across options
 *     wlbuild_tasks(&o, &w, err, errlen);          the task list
 *     wlbuild_pace(&o, &pc);                       its pacing
 *     wlbuild_record(&o, &w, run_dir, "dispatch"); workload.jsonl
 *     wlbuild_free(&o); */
#ifndef TK_WLBUILD_H
#define TK_WLBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/pacer.h"
#include "sched/workload.h"

/* The options as given (strings point into argv), then what wlbuild_check
 * makes of them.  Times in ms. */
struct wlbuild_opts {
    const char *inputs, *outputs, *scale, *preset, *mix, *ffprobe;
    const char *nodes;          /* NULL: WLBUILD_NODES_DEFAULT */
    const char *policy;         /* a workload policy name, or NULL */
    const char *command, *tasks, *app;
    int64_t crf, total, seed, cpu_units, mem_mb;   /* total < 0: not given */
    bool pending, drip;
    bool allow_unknown;         /* --allow-unknown-profile */
    bool append;                /* --append: the run may have tasks already */
    const char *pending_mode;   /* "pulse" or "fifo" */
    int64_t pulse_size, pulse_interval_ms, pulse_spacing_ms, pending_max, batch_size;
    int64_t dribble_ms, backlog_limit;
    /* set by wlbuild_check */
    enum workload_policy wpolicy;
    char **node_names;
    size_t nnodes;
};

#define WLBUILD_NODES_DEFAULT "cloud0,cloud1,cloud2"
/* The original dispatcher's defaults: rr3, pulses of 10 tasks 1 s apart
 * every 300 s, ... */
#define WLBUILD_OPTS_INIT                                                                   \
    {.scale = "1280:720", .preset = "veryfast", .ffprobe = "ffprobe", .crf = 28, .total = -1, \
     .cpu_units = 1, .pending_mode = "pulse", .pulse_size = 10, .pulse_interval_ms = 300000, \
     .pulse_spacing_ms = 1000, .pending_max = 6, .batch_size = 1, .dribble_ms = 1000,       \
     .backlog_limit = 1, .wpolicy = WORKLOAD_RR3}

void wlbuild_free(struct wlbuild_opts *o);
/* The checks across options, once all are read: one source of tasks, what
 * goes with what, the policy and the nodes (into wpolicy, node_names).
 * 0, or -1 with err (a usage error). */
int wlbuild_check(struct wlbuild_opts *o, char *err, size_t errlen);
/* Build the task list of checked options: list --inputs, run ffprobe for
 * duration policies, read --tasks.  0; -1 on a failure, -2 on a usage
 * error, both with err. */
int wlbuild_tasks(const struct wlbuild_opts *o, struct workload *w, char *err, size_t errlen);
/* The tasks a run folder already holds: records of submitted.jsonl and
 * ledger.jsonl (*n, 0 when neither exists) and their largest task_id
 * (*max_id, 0 when none).  A run id used twice would merge two experiments
 * (duplicate task ids, task logs overwritten): dispatch and local refuse
 * such a run unless --append, which numbers on from *max_id. */
void wlbuild_run_tasks(const char *run_dir, size_t *n, int64_t *max_id);
/* That check with its message: 0 when the run is new or append is set,
 * else -1 after a cli_error naming the run, its files and what to do. */
int wlbuild_check_new_run(const char *run_id, const char *run_dir, bool append,
                          int64_t *max_id);
/* The pacing these options ask for. */
void wlbuild_pace(const struct wlbuild_opts *o, struct pace_cfg *pc);
/* Appends one line to run_dir/workload.jsonl saying how `by` ("dispatch",
 * "local") built w: its seed, mix, source and size.  submitted.jsonl holds
 * only what Redis holds, so the seed a run was drawn with lives here.
 * 0, or -1 after a warning (the run goes on without it). */
int wlbuild_record(const struct wlbuild_opts *o, const struct workload *w, const char *run_dir,
                   const char *by);

#endif
