/* opendc.h -- turning a parsed run (CTS records) into an OpenDC workload:
 * tasks, fragments and a topology.  Pure logic: the records come in as C
 * structs (opendc_input.c reads them from disk), the result goes out as C
 * structs (opendc_write.c writes the files).
 *
 * What the export guarantees, unlike the original exporter (upstream §9,
 * bugs B24-B29):
 *  - task identity is (node folder, pid, start_ticks or ts_start); ids are
 *    assigned in (node, ts_start, pid) order, so they are deterministic;
 *  - a task's fragments cover its whole duration: their durations sum to
 *    the task's duration exactly;
 *  - time not covered by samples (head, tail, gaps) carries the CPU the
 *    samples did not see (the exact total from the task's event minus the
 *    sampled CPU, never negative), so sum(cpu_usage x duration) equals the
 *    measured CPU x the node's MHz per core;
 *  - a task without samples gets one fragment at its exact average; without
 *    an exact total it gets zero CPU, never an invented load;
 *  - the node's own MHz, never a constant;
 *  - failed tasks and retried attempts are kept or dropped by option, and
 *    every correction is counted and listed for the report;
 *  - --cpu-usage demand adds each sampled interval's run delay (time spent
 *    waiting for a CPU) to its received CPU, within the task's cpu_count;
 *    the exact totals still govern the received part only.
 * --upstream-compat instead reproduces the original's numbers (§9.4-9.6). */
#ifndef TK_OPENDC_H
#define TK_OPENDC_H

#include "trace/powerfit.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- input ---- */

/* A host's CPU power model, OpenDC's PowerSpec (topology cpuPowerModel), in
 * watts.  type is one of OpenDC's PowerModelType names.  A measured one is
 * a fit (trace/powerfit.h) to the node's (host CPU utilisation, power)
 * intervals; fit keeps every candidate for the report. */
struct odc_power {
    const char *type;      /* "linear", ... (static) */
    double idle_w, max_w;
    bool assumed;          /* OpenDC's default, not measured on the node */
    bool measured;         /* the node recorded power (some interval with node power) */
    bool has_fit;          /* fit holds the fit made (refused or not) */
    bool forced;           /* --power-model chose type, not the RMSE */
    const char *from;      /* where the fit came from: "CTS/audit.json" or
                              "CTS/host_metrics.jsonl" (static); NULL without a fit */
    struct powerfit_result fit;
};

struct odc_node {
    char *folder;          /* node folder name (or "." for a single node) */
    char *node_id;         /* nodes.json node_id (else the folder name) */
    int cores;             /* nodes.json cpu_cores (0 = unknown) */
    double mhz;            /* MHz per core used for the export (0 = unknown) */
    double raw_mhz;        /* node_meta.json cpu_freq_mhz (upstream-compat) */
    int raw_cores;         /* node_meta.json cpu_cores (upstream-compat) */
    int64_t mem_mb;        /* nodes.json mem_mb */
    char *cpu_model;
    char *stage;           /* nodes.json / node_meta.json stage ("" if unknown) */
    char *cts;             /* its CTS folder (NULL when not read from disk) */
    struct odc_power power; /* the topology's cpuPowerModel (odc_power_load, else odc_node_power) */
    /* CTS/audit.json host_cpu, when present: how much of the host's busy
     * CPU the traced processes explain (the export repeats its warning). */
    bool has_host_cpu;
    bool has_explained;    /* explained_pct is a number (not null) */
    double explained_pct;
    bool host_warning;     /* audit's "warning": explained_pct below 80 */
};

struct odc_inv {
    int node;              /* index into nodes */
    long line;             /* line in invocations.jsonl (for messages) */
    char *trace_id;        /* NULL if absent */
    int64_t pid;
    int64_t ts_enqueue, ts_start, ts_end;
    bool has_enqueue;
    bool has_status;
    int64_t status;
    bool has_start_ticks;
    int64_t start_ticks;
    int64_t attempt;       /* 0 if absent */
    bool has_cpu;          /* cpu_user_ms and cpu_sys_ms both present */
    double cpu_ms;         /* cpu_user_ms + cpu_sys_ms */
    int64_t max_rss_kb;    /* -1 if absent */
    double cpu_units;      /* 0 if absent */
    int cpuset_cpus;       /* CPUs in cpuset, 0 if absent/unparsable */
    bool http;             /* kind "http": a request through tracekit proxy */
    bool has_error;        /* error not null */
    char *exec_id;         /* the worker's execution id; NULL if absent */
    bool ledger_pick;      /* the execution the run's ledger.jsonl names (issue 21) */
};

struct odc_store;

struct odc_sample {
    int node;
    bool has_start_ticks;
    bool has_delay;        /* run_delay_ms present (absent: unknown, never 0) */
    int64_t pid;
    int64_t ts_ms;
    double dt_ms, cpu_ms;
    int64_t rss_kb;        /* -1 if absent */
    int64_t start_ticks;
    double delay_ms;       /* run delay in the interval: runnable, waiting for a CPU */
    double cpu_before_ms;  /* a baseline's cpu_before_ms: CPU since the process started (0: none) */
    uint64_t seq;          /* file order (set by odc_store_add; in odc_input.samples: the index) */
};

struct odc_input {
    struct odc_node *nodes;
    size_t n_nodes;
    struct odc_inv *invs;
    size_t n_invs;
    /* The samples: in memory (a caller filling odc_input itself; odc_export
     * sorts them into a store of its own), or, from odc_load, in a store
     * (opendc_store.h: sorted, out of memory) with samples NULL. */
    struct odc_sample *samples;
    size_t n_samples;
    struct odc_store *store;
    /* What the loader skipped, for the report. */
    uint64_t bad_inv_lines, bad_sample_lines;
    char **notes;          /* loader remarks (malformed lines, missing files) */
    size_t n_notes;
    json_t *links;         /* valid CTS links.json entries of every node, or NULL */
    /* The scheduling policy the run recorded (placements.jsonl "policy"):
     * the first name seen, the file it came from, how many distinct names. */
    char *policy;          /* NULL: none recorded */
    char *policy_file;
    size_t n_policy_names;
};

void odc_input_free(struct odc_input *in);
/* Number of CPUs in a cpuset list such as "0-3,6" (0 if it does not parse). */
int odc_cpuset_count(const char *s);

/* ---- options ---- */

enum odc_mem_unit { ODC_MEM_KB, ODC_MEM_MB };
enum odc_id_mode { ODC_ID_AUTO, ODC_ID_PID, ODC_ID_SEQUENTIAL };

/* What a fragment's cpu_usage says: the CPU the task received (measured),
 * or what it demanded (received plus the time it waited for a CPU). */
enum odc_cpu_usage { ODC_USAGE_RECEIVED, ODC_USAGE_DEMAND };

/* What submission_time says.  OpenDC schedules on 1-s slots of simulated
 * time counted from the earliest submission (its Pacer): a task submitted
 * between slots waits for the next one.
 *  ENQUEUE: when the task was enqueued (else started), as measured;
 *  START:   when it started (the real scheduler's waits baked in);
 *  SLOT:    the enqueue time floored to the 1-s grid from the first. */
enum odc_submission { ODC_SUB_ENQUEUE, ODC_SUB_START, ODC_SUB_SLOT };

/* Which CPU power model the topology gets: the best fit by RMSE, or one
 * forced (ODC_POWER_FORCE + a powerfit_model). */
#define ODC_POWER_AUTO 0
#define ODC_POWER_FORCE 1

struct odc_opts {
    int power_model;               /* ODC_POWER_AUTO, or ODC_POWER_FORCE + POWERFIT_* */
    enum odc_mem_unit mem_unit;
    enum odc_cpu_usage cpu_usage;
    enum odc_submission submission;
    const struct policy *policy;   /* the run's policy as stated on the command line;
                                      NULL: the one the run recorded */
    enum odc_id_mode id_mode;
    bool exclude_failed;
    bool all_attempts;     /* keep every attempt of a retried trace id */
    bool upstream_compat;
    /* A task with neither samples nor an exact total: kept at 0 CPU with a
     * console warning (KEEP, default), kept silently (ZERO), or dropped. */
    enum { ODC_UNSAMPLED_KEEP, ODC_UNSAMPLED_DROP, ODC_UNSAMPLED_ZERO } unsampled;
};

/* ---- the fragment builder (exposed for tests) ---- */

/* A sampled interval of a task: [t0, t1] ms with cpu_ms of CPU time in it,
 * and delay_ms of run delay when has_delay (else unknown). */
struct odc_span {
    double t0, t1, cpu_ms;
    double delay_ms;
    bool has_delay;
};

/* A fragment before MHz: a whole number of ms and the CPU ms in it
 * (delay_ms of which is run delay added as demand). */
struct odc_seg {
    int64_t dur;
    double cpu_ms;
    double delay_ms;
};

struct odc_fill {
    double seen_cpu_ms;       /* CPU inside the task's window, from samples */
    double total_cpu_ms;      /* what the fragments carry (before any cap loss) */
    double uncovered_ms;      /* time without samples */
    double filled_cpu_ms;     /* CPU placed into uncovered time */
    double spread_cpu_ms;     /* CPU spread over the whole task (no uncovered time) */
    double scale;             /* < 1 when samples exceeded the exact total */
    double capped_cpu_ms;     /* CPU moved to stay under the core limit */
    double lost_cpu_ms;       /* CPU that did not fit under the limit at all */
    double peak_cores;        /* highest fragment rate, in cores */
    size_t sampled;           /* sampled intervals inside the window */
    size_t no_delay;          /* of those, without run delay (unknown) */
    double delay_ms;          /* run delay in those intervals */
    double demand_added_ms;   /* run delay added to the fragments (demand) */
    double demand_capped_ms;  /* run delay left out: above demand_cores */
};

/* Fragments covering [start, end] (end > start) exactly.  spans may be in any
 * order, overlap, or reach outside the window (they are clipped, their CPU
 * and run delay scaled to the part inside).  exact_cpu_ms < 0: unknown
 * (uncovered time then carries zero CPU).  cap_cores > 0 limits every
 * fragment's rate; CPU above it moves to fragments with room.
 * demand_cores > 0 (--cpu-usage demand): then each sampled interval's run
 * delay is added to its CPU, up to demand_cores per fragment (the rest is
 * left out, not moved: demand the task's cores could not serve).  The
 * received CPU is settled first (scaled to the exact total, the rest
 * filled in, capped), the delay added after: the exact total, which is
 * received CPU, never scales demand down.  Returns the number of segments
 * (malloc'd in *out), consecutive equal rates merged. */
size_t odc_fragments(int64_t start, int64_t end, const struct odc_span *spans, size_t n,
                     double exact_cpu_ms, double cap_cores, double demand_cores,
                     struct odc_seg **out, struct odc_fill *fill);

/* Python's round(): half to even. */
double odc_round_half_even(double x);

/* ---- output ---- */

struct odc_task {
    int32_t id;
    char *name;               /* trace id, or NULL */
    int64_t submission_time;
    int64_t duration;
    int32_t cpu_count;
    const char *count_from;   /* static: "cpuset", "cpu_units", "peak", "default", "node cores" */
    double cpu_capacity;
    int64_t mem_capacity;
    size_t frag_start, n_frags;
    /* where it came from */
    int node;
    int64_t pid;
    int64_t ts_start;
    bool failed;
    bool sampled;             /* had samples with CPU data */
    double measured_cpu_ms;   /* exact total, else sampled */
    bool exact_cpu;
};

struct odc_frag {
    int32_t id;
    int64_t duration;
    double cpu_usage;
};

/* A correction, for the report. */
struct odc_note {
    int kind;                 /* enum odc_note_kind */
    int node;
    int64_t pid;
    int64_t ts_start;
    const char *trace_id;     /* points into the input */
    int32_t task_id;          /* -1 when not exported */
    double value;             /* kind-specific */
    long line;
};

enum odc_note_kind {
    ODC_N_NO_SAMPLES,         /* value: exact CPU ms, or -1 unknown */
    ODC_N_FAILED_KEPT,        /* value: status */
    ODC_N_FAILED_DROPPED,
    ODC_N_ATTEMPT_DROPPED,    /* value: attempt number */
    ODC_N_BAD_INVOCATION,     /* value unused; line set */
    ODC_N_ZERO_DURATION,
    ODC_N_NO_EXACT_CPU,       /* uncovered time left at zero CPU; value: uncovered ms */
    ODC_N_SCALED,             /* samples above the exact total; value: scale */
    ODC_N_CAPPED,             /* value: CPU ms moved */
    ODC_N_LOST,               /* value: CPU ms that did not fit */
    ODC_N_CORES_RAISED,       /* cpu_count above the request; value: new count */
    ODC_N_NO_MEMORY,
    ODC_N_DEMAND_CAPPED,      /* demand: run delay above cpu_count left out; value: ms */
    ODC_N_RAN_TWICE,          /* same attempt ran again (Redis lost writes); value: attempt */
    ODC_N_KINDS
};

/* Fragments written out of memory (odc_export of a loaded odc_input, our
 * numbers): the first n of them are in fd, an unlinked file. */
struct odc_frag_spill {
    int fd;
    size_t n;
};

struct odc_result {
    struct odc_task *tasks;
    size_t n_tasks;
    /* The fragments: all in frags, or with spill the first spill->n in its
     * file and the rest in frags; read them with odc_frags_read. */
    struct odc_frag *frags;
    size_t n_frags;
    struct odc_frag_spill *spill;
    int64_t frag_ms;          /* sum of the fragments' durations */
    struct odc_note *notes;
    size_t n_notes;
    char id_mode[160];        /* what was used and why */
    /* totals */
    double measured_cpu_ms;   /* sum over tasks of their measured CPU */
    double exported_cpu_mhz_ms; /* sum of cpu_usage x duration */
    double expected_cpu_mhz_ms; /* sum of measured CPU x node MHz */
    /* An independent check of the fragments: tasks with an exact total
     * (exec's wait4, the event's cpu_user_ms + cpu_sys_ms) against it; the
     * others against their process's own counter (CPU before its first
     * sample + the sampled CPU), in CPU ms. */
    double exact_cpu_ms, exact_exported_ms;
    size_t n_blind;           /* tasks with neither samples nor an exact total (kept or dropped) */
    size_t n_counter;         /* sampled tasks without an exact total */
    double counter_cpu_ms, counter_exported_ms;
    double zero_cpu_ms;       /* task time exported at 0 CPU: no sample and no exact total covers it */
    double uncovered_ms, filled_cpu_ms, seen_cpu_ms;
    size_t n_exact;           /* tasks with an exact CPU total */
    /* run delay (every mode counts it; demand adds it) */
    size_t sampled_frags;     /* sampled intervals inside tasks (fragments before merging) */
    size_t no_delay_frags;    /* of those, without run delay: received CPU kept */
    double delay_ms;          /* run delay in those intervals */
    double demand_added_ms;   /* of it, added to the fragments (demand) */
    double demand_capped_ms;  /* of it, above the task's cpu_count, left out (demand) */
    size_t n_demand_capped;   /* tasks with some delay left out (demand) */
    /* OpenDC's 1-s scheduling slots: the mean wait from a task's
     * submission_time to the next slot (0 on a slot), and how many wait. */
    double slot_wait_mean_ms;
    size_t n_off_slot;
};

/* Every node has MHz, cores and memory?  0, or -1 with a message naming the
 * node and what it lacks (nothing is invented). */
int odc_check_nodes(const struct odc_input *in, char *err, size_t errlen);

/* Build the workload.  Returns 0, or -1 with a message in err (e.g. pid ids
 * asked for but PIDs collide, or a node without a CPU frequency). */
int odc_export(const struct odc_input *in, const struct odc_opts *o, struct odc_result *res,
               char *err, size_t errlen);
void odc_result_free(struct odc_result *res);
/* Fragments first .. first + n - 1 (< res->n_frags) into buf.  0, or -1
 * with errno (0: the file was short). */
int odc_frags_read(const struct odc_result *res, size_t first, struct odc_frag *buf, size_t n);

/* ---- the simulation's files (opendc_exp.c) ---- */

#define ODC_SLOT_MS 1000   /* OpenDC's scheduling quantum (ComputeSteps.kt, not settable) */

/* OpenDC's default CPU power model written out (linear, 200 W idle, 400 W
 * at full load; PowerSpec.DEFAULT) with assumed set: what a node without a
 * measured model gets. */
struct odc_power odc_node_power(const struct odc_node *nd);

/* The model fitted to a node's (utilisation, power) points (energy_cts_point
 * of its CTS host lines): powerfit_fit with maxPower extrapolated when the
 * run stayed low (fit.extrapolated and fit.notice say so), the best by RMSE
 * or `forced` (a powerfit_model; -1 for the best).  Without a fit (no
 * points, or refused: fit.notice says why), OpenDC's default with assumed
 * set.  from: what the points came from (static), kept in pw->from. */
void odc_power_fit(struct odc_power *pw, const struct powerfit_point *p, size_t n, int forced,
                   const char *from);
/* The model from a CTS audit.json "power" object (parse's fit: every
 * candidate's idle, max, RMSE and R^2): true with *pw set when it holds a
 * fit of the model wanted (forced, or the best by RMSE when -1); false
 * when it does not (no fit, refused, that model not fitted, bad values),
 * *pw then untouched.  *measured: the object says the node recorded power. */
bool odc_power_from_audit(struct odc_power *pw, const json_t *power, int forced, bool *measured);
/* One line for a person: "linear, idle 50.2 W, max 149.8 W (best of 4 by
 * RMSE: 1.23 W)", or the default and why it was written.  Into buf. */
void odc_power_describe(const struct odc_power *pw, char *buf, size_t len);

/* The host name of node k in the topology: its node id, or its folder name
 * when another node has the same id (OpenDC would rename the second). */
const char *odc_host_name(const struct odc_node *nodes, size_t n, size_t k);

/* The topology (OpenDC SDK format, unit strings): one host entry per node,
 * named by odc_host_name, count 1, in node order, with its cpuPowerModel;
 * one cluster per stage (named after it; "C01" when unknown), in order of
 * first appearance.  New reference. */
json_t *odc_topology(const struct odc_node *nodes, size_t n);
/* The same as indented text.  Returns malloc'd JSON text. */
char *odc_topology_json(const struct odc_node *nodes, size_t n);

struct policy;

/* The policy a run recorded in placements.jsonl ("Mem", "FilterOnly",
 * "first-fit", "instances-max", "vcpu-min", ...) back as a policy; false
 * for a name that does not say its filters and weighers ("custom"). */
bool odc_policy_from_record(const char *name, struct policy *p);

/* OpenDC's allocation policy for p, in the SDK experiment format: the
 * prefab of the same name when p is one with its defaults, else the
 * "filter" form with p's filters and weighers.  *exact: OpenDC HEAD decides
 * as p does (only the filter form without weighers is history-free there);
 * note receives what differs.  New reference. */
json_t *odc_policy_json(const struct policy *p, bool *exact, char *note, size_t notelen);

struct odc_experiment {
    const char *name;            /* the experiment's name (OpenDC's output sub-folder) */
    const char *scaling;         /* "NoDelay" or "Perfect" */
    json_t *policy;              /* borrowed: odc_policy_json */
    int64_t export_interval_ms;  /* odc_export_interval_ms */
};

/* OpenDC's export interval for a run of span_ms: 1 s up to an hour, 10 s up
 * to ten hours, else 60 s (a row per host and task per interval). */
int64_t odc_export_interval_ms(int64_t span_ms);

/* experiment.json: OpenDC's SDK experiment, self-contained: the topology
 * inline, the workload the folder it sits in ({"type": "named", "name":
 * "."}), one allocation policy, an export model writing task, host and
 * powerSource outputs.  Only keys OpenDC's ExperimentSpec knows (it decodes
 * under `opendc --strict` too).  Returns malloc'd JSON text. */
char *odc_experiment_json(const struct odc_node *nodes, size_t n, const struct odc_experiment *e);

#endif
