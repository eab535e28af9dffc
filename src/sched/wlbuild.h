/* wlopts.h -- the dispatcher's task options: what to run (ffmpeg tasks over
 * input files, a command, a JSONL file) and how to pace it.  Shared by
 * `tracekit dispatch` and `tracekit local`, so both take the same options
 * with the same meaning and build the same task list (workload.h).
 *
 * A command adds wlopts_longopts to its own getopt table (their codes are
 * WLO_FIRST and up), passes those codes to wlopts_set, then calls wlopts_check
 * and wlopts_build. */
#ifndef TK_WLOPTS_H
#define TK_WLOPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched/pacer.h"
#include "sched/workload.h"

enum {
    WLO_FIRST = 1000,
    WLO_INPUTS = WLO_FIRST, WLO_OUTPUTS, WLO_SCALE, WLO_PRESET, WLO_CRF, WLO_NODES, WLO_POLICY,
    WLO_MIX, WLO_TOTAL, WLO_SEED, WLO_PENDING, WLO_PENDING_MODE, WLO_PULSE_SIZE,
    WLO_PULSE_INTERVAL, WLO_PULSE_SPACING, WLO_PENDING_MAX, WLO_DRIP, WLO_BATCH_SIZE,
    WLO_DRIBBLE, WLO_BACKLOG, WLO_COMMAND, WLO_TASKS, WLO_CPU_UNITS, WLO_MEM_MB, WLO_APP,
    WLO_FFPROBE,
    WLO_END
};

/* The options above, NULL-terminated; WLO_COUNT entries before the end. */
#define WLO_COUNT (WLO_END - WLO_FIRST)
extern const struct option wlopts_longopts[];

struct wlopts {
    const char *inputs, *outputs, *scale, *preset, *nodes_s, *policy_s, *mix_s, *mode_s;
    const char *command, *tasks_file, *app, *ffprobe;
    int64_t crf, total, seed, pulse_size, pending_max, batch, backlog_limit, cpu_units, mem_mb;
    int64_t pulse_interval_ms, pulse_spacing_ms, dribble_ms;
    bool pending, drip;
    /* set by wlopts_check */
    enum workload_policy policy;
    char **nodes;
    size_t nnodes;
};

/* The original dispatcher's defaults (nodes cloud0,cloud1,cloud2, rr3, pulse
 * of 10 tasks 1 s apart every 300 s, ...). */
void wlopts_init(struct wlopts *o);
void wlopts_free(struct wlopts *o);
/* Take option c (WLO_FIRST <= c < WLO_END) with its argument.  0, or -1
 * after a usage message naming the value. */
int wlopts_set(struct wlopts *o, int c, const char *arg);
/* The checks across options, once all are read.  cmd names the command in
 * messages.  0, or -1 after a usage message. */
int wlopts_check(struct wlopts *o);
/* Build the task list: list --inputs, run ffprobe for duration policies,
 * read --tasks.  0; -1 on a failure (logged); -2 on a usage error (printed). */
int wlopts_build(struct wlopts *o, struct workload *w);
/* The pacing these options ask for. */
void wlopts_pace(const struct wlopts *o, struct pace_cfg *pc);

/* "a,b,c" -> node names (trimmed, empty items skipped, each a valid id,
 * none twice).  0, or -1 with err. */
int wlopts_parse_nodes(const char *s, char ***out, size_t *n, char *err, size_t errlen);

#endif
