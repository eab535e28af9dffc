/* wlopts.h -- the dispatcher's task options: what to run (ffmpeg tasks over
 * input files, a command, a JSONL file) and how to pace it.  Shared by
 * `tracekit dispatch` and `tracekit local`, so both take the same options
 * with the same meaning and build the same task list (workload.h).
 *
 * A command adds wlo_longopts to its own getopt table (their codes are
 * WLO_FIRST and up), passes those codes to wlo_set, then calls wlo_check
 * and wlo_build. */
#ifndef TK_WLOPTS_H
#define TK_WLOPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
extern const struct option wlo_longopts[];

struct wl_opts {
    const char *inputs, *outputs, *scale, *preset, *nodes_s, *policy_s, *mix_s, *mode_s;
    const char *command, *tasks_file, *app, *ffprobe;
    int64_t crf, total, seed, pulse_size, pending_max, batch, backlog_limit, cpu_units, mem_mb;
    int64_t pulse_interval_ms, pulse_spacing_ms, dribble_ms;
    bool pending, drip;
    /* set by wlo_check */
    enum wl_policy policy;
    char **nodes;
    size_t nnodes;
};

/* The original dispatcher's defaults (nodes cloud0,cloud1,cloud2, rr3, pulse
 * of 10 tasks 1 s apart every 300 s, ...). */
void wlo_init(struct wl_opts *o);
void wlo_free(struct wl_opts *o);
/* Take option c (WLO_FIRST <= c < WLO_END) with its argument.  0, or -1
 * after a usage message naming the value. */
int wlo_set(struct wl_opts *o, int c, const char *arg);
/* The checks across options, once all are read.  cmd names the command in
 * messages.  0, or -1 after a usage message. */
int wlo_check(struct wl_opts *o);
/* Build the task list: list --inputs, run ffprobe for duration policies,
 * read --tasks.  0; -1 on a failure (logged); -2 on a usage error (printed). */
int wlo_build(struct wl_opts *o, struct workload *w);
/* The pacing these options ask for. */
void wlo_pace(const struct wl_opts *o, struct pace_cfg *pc);

/* "a,b,c" -> node names (trimmed, empty items skipped, each a valid id,
 * none twice).  0, or -1 with err. */
int wlo_parse_nodes(const char *s, char ***out, size_t *n, char *err, size_t errlen);

#endif
