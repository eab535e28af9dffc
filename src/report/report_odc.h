/* report_odc.h -- the OpenDC views of `tracekit report`: an exported
 * workload folder (tasks.parquet, fragments.parquet, topology.json) read
 * with our Parquet reader, then drawn with report.c's pieces, so a user
 * sees what the simulator will get: a summary, the tasks as submitted (a
 * Gantt), the CPU the fragments ask for over time against the topology's
 * capacity, and per-task CPU curves from the fragments.
 *
 *     struct report_odc o;
 *     report_odc_init(&o);
 *     if (report_odc_load(&o, dir, err, sizeof err) < 0) ...     (or rpo_add_* + report_odc_finish)
 *     report_odc_section_html(&o, &b);
 *     report_odc_free(&o);
 */
#ifndef TK_REPORT_ODC_H
#define TK_REPORT_ODC_H

#include "common/jsonl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct report_odc_task {
    int32_t id;
    char *name;              /* the optional name column; NULL when absent */
    int64_t sub, dur;        /* submission_time (epoch ms), duration (ms) */
    int32_t cpu_count;
    double cpu_capacity;     /* MHz */
    int64_t mem;             /* mem_capacity as stored */
    size_t frag0, nfrag;     /* set by report_odc_finish: frags[frag0 .. frag0 + nfrag) */
    int64_t frag_ms;         /* set by report_odc_finish: its fragments' durations summed */
};

/* One fragment: duration ms at cpu_usage MHz. */
struct report_odc_frag {
    int64_t dur;
    double mhz;
};

/* One host entry of topology.json: count x (cores at mhz, mib memory). */
struct report_odc_host {
    char *name;
    int64_t count;           /* hosts of this kind (host count x cluster count) */
    int64_t cores;           /* per host (coreCount x cpu count) */
    double mhz, mib;
};

struct report_odc {
    char *title;             /* the folder, for headings */
    struct report_odc_task *tasks;
    size_t ntasks, captasks;
    struct report_odc_frag *frags;  /* after report_odc_finish: grouped per task, each task's in file order */
    size_t nfrags, capfrags;
    int32_t *frag_id;        /* before report_odc_finish: the task id of each fragment */
    /* what report_odc_finish found, for the summary */
    uint64_t orphan_frags;   /* fragments whose id is no task (OpenDC ignores them) */
    uint64_t dup_ids;        /* tasks whose id an earlier task already had */
    uint64_t no_frags;       /* tasks without fragments (OpenDC drops them) */
    uint64_t sum_mismatch;   /* tasks whose fragments do not sum to their duration */
    bool interleaved;        /* fragments of different tasks mixed in the file */
    struct report_odc_host *hosts;
    size_t nhosts;
    char *topo_note;         /* why there is no usable topology; NULL when there is */
    /* rendering choices (defaults as struct report's) */
    int width;
    size_t exact_max, curves_max;
    bool has_axis;           /* draw over [axis0, axis1] ms (the run's and the workload's span) */
    int64_t axis0, axis1;
};

void report_odc_init(struct report_odc *o, const char *title);
void report_odc_free(struct report_odc *o);

/* Read DIR/tasks.parquet, DIR/fragments.parquet and DIR/topology.json (a
 * missing or unusable topology is noted, not an error), then report_odc_finish.
 * Returns 0, or -1 with a message naming the file in err. */
int report_odc_load(struct report_odc *o, const char *dir, char *err, size_t errlen);
/* Parse topology.json text (OpenDC's SDK format, units in strings). 0, or
 * -1 with the reason in err (the hosts are then left empty). */
int report_odc_topology(struct report_odc *o, const char *json_text, char *err, size_t errlen);

/* Building by hand (the loader and the tests): tasks and fragments in file
 * order, then report_odc_finish to group the fragments per task. */
void report_odc_add_task(struct report_odc *o, const struct report_odc_task *t);   /* copies the name */
void report_odc_add_frag(struct report_odc *o, int32_t id, int64_t dur, double mhz);
void report_odc_finish(struct report_odc *o);

/* Earliest submission and latest submission + duration; false if no task. */
bool report_odc_span(const struct report_odc *o, int64_t *t0, int64_t *t1);
/* The topology's CPU: total cores and MHz (0 without a topology). */
int64_t report_odc_cores(const struct report_odc *o);
/* Cores reserved (cpu_count) by the tasks running as submitted, each from
 * its submission for its duration: the peak, and the time (ms) more were
 * reserved than the hosts have (OpenDC then queues tasks: it places on
 * cpu_count, not on MHz). */
void report_odc_reserved(const struct report_odc *o, int64_t *peak, double *over_ms);
double report_odc_capacity_mhz(const struct report_odc *o);

/* Add the CPU work (MHz x ms) of fragments f[0..n), played back to back
 * from start, into nb bins of bin_ms from t0 (split where a fragment
 * straddles bins; what falls outside is dropped).  Returns the work added. */
double report_odc_spread(const struct report_odc_frag *f, size_t n, double start, double t0, double bin_ms, size_t nb,
                  double *acc);
/* The MHz asked for by all tasks, each played from its submission, as the
 * mean per bin over [t0, t1]: about width/2 bins.  Returns the bin count;
 * *mhz (malloc'd) gets the values, *bin_ms the bin length. */
size_t report_odc_demand(const struct report_odc *o, int64_t t0, int64_t t1, int width, double **mhz, double *bin_ms);

/* The OpenDC part of the page: <section id="opendc"> with the summary,
 * the Gantt (report_gantt_svg), the demand chart and the task curves
 * (<select id="osel">, groups g.oc). */
void report_odc_section_html(const struct report_odc *o, struct jbuf *b);

#endif
