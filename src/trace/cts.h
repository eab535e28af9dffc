/* cts.h -- turning raw records into CTS records (pure: no I/O).
 *
 * proc_metrics: raw cumulative counters in, one interval record per sample
 * out, per process identity.  An identity is (pid, start_ticks); raw lines
 * without start_ticks (the original collector's) fall back to the PID, split
 * into a new identity when the tick counter goes backwards or the comm
 * changes after a pause.
 *
 * Rules (each fixes a weakness of the original parser):
 *  - dt_ms and cpu_ms come from one clock: dt from mono_us when both samples
 *    have it, else from ts_ms; CPU from cpu_ms when present, else
 *    (utime+stime) x 1000 / clk_tck.
 *  - the first sample of an identity is a baseline (dt_ms 0, cpu_ms 0), as in
 *    the original; no other record has dt_ms 0: a sample with the same time
 *    as the previous one is merged into the next record (its CPU is carried,
 *    never dropped), and a sample from a wall clock that stepped back restarts
 *    the interval without losing CPU either.
 *  - CPU never goes negative: a counter that dips (cpu_ms switching from
 *    schedstat to ticks) is held at its high-water mark.
 *  - run_delay_ms (time runnable but waiting for a CPU) is the difference of
 *    the cumulative values like CPU, held at the high-water mark the same
 *    way, and written only when both ends of the interval had it (the
 *    baseline: 0 when its raw line had it).
 *  - an identity whose first raw line is the kernel's exit record (taskstats,
 *    with elapsed_ms: a process that lived between two samples) gets a
 *    baseline at its start (exit - elapsed), then the exit record as one
 *    interval with all its CPU and run delay.  Lines after a taskstats exit
 *    record of the same identity are ignored (counted).
 *
 * Invocations, the merged events.jsonl and nodes.json are built here too. */
#ifndef TK_CTS_H
#define TK_CTS_H

#include "common/jsonl.h"
#include "common/pairmap.h"
#include "trace/rawproc.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct cts_opts {
    double clk_tck;   /* USER_HZ of the node (node_meta.clk_tck), default 100 */
    double gap_ms;    /* no start_ticks: a comm change after a pause longer than this = new process */
    double step_ms;   /* |wall delta - monotonic delta| above this counts as a wall-clock step */
};

void cts_opts_default(struct cts_opts *o);

/* One process identity: derivation state plus what the audit needs. */
struct cts_ident {
    int64_t pid, start_ticks;
    bool has_start;
    char comm[RAW_COMM_MAX];

    /* derivation state */
    bool started;                 /* baseline emitted */
    int64_t last_ts_ms, last_mono_us;
    bool last_has_mono, last_on_grid;
    double cpu_base;              /* cumulative CPU the next delta starts from */
    bool delay_ok;                /* delay_base known: the interval's start had run_delay_ms */
    double delay_base;            /* cumulative run delay the next delta starts from */
    bool closed;                  /* a taskstats exit record was its last line */
    uint64_t lines;               /* raw samples fed */
    /* last raw sample seen (also merged ones), for the no-start_ticks split */
    int64_t seen_ts_ms, seen_mono_us;
    bool seen_has_mono, seen_has_ticks, seen_has_cum;
    double seen_ticks, seen_cum;

    /* aggregates */
    uint64_t records;             /* CTS records with a time (baseline included) */
    int64_t first_ts_ms, end_ts_ms;
    double cpu_sum_ms;            /* sum of the records' cpu_ms */
    double cum_first, cum_last;   /* cumulative CPU at first/last record */
    bool has_rss;
    int64_t max_rss_kb;           /* rss_kb of its records and rss_peak_kb of its exit record */
    uint64_t delay_records;       /* records (not the baseline) with run_delay_ms */
    double delay_sum_ms;          /* their run delay */
    double delay_cpu_ms;          /* their cpu_ms */
    bool exit_only;               /* first seen in its exit record: baseline made up */

    /* where it ran (the collector's first record), NULL when not recorded */
    char *cgroup, *container_id, *container_runtime, *pod_uid;
    bool meta_pending;            /* not yet written in a CTS record */
};

/* One derived record. */
struct cts_rec {
    int64_t ts_ms, pid;
    bool baseline;
    bool has_dt;                  /* false only when the raw line had no CPU counters */
    double dt_ms, cpu_ms;
    bool has_before;              /* baseline from a sample: cpu_before_ms is known */
    double cpu_before_ms;         /* the first sample's cumulative CPU: used since the process started */
    bool has_delay;               /* both ends of the interval had run_delay_ms */
    double delay_ms;              /* run delay in the interval */
    bool has_rss, has_start;
    int64_t rss_kb, start_ticks;
    const char *comm;             /* NULL when the raw line had none */
    size_t ident;                 /* index into cts.ids */
    bool on_grid;                 /* both ends are regular ticks: usable for jitter */
    const struct cts_ident *meta; /* write its cgroup/container fields (first record) or NULL */
};

struct cts {
    struct cts_opts o;
    struct cts_ident *ids;
    size_t nids, cap;
    struct pairmap by_key;        /* (pid, start_ticks | CTS_NO_START) -> current identity */
    uint64_t raw;                 /* samples fed */
    uint64_t emitted;
    uint64_t merged;              /* same time as the previous sample: folded into the next */
    uint64_t steps_back;          /* clock went backwards: interval restarted */
    uint64_t wall_steps;          /* wall clock disagreed with the monotonic clock */
    uint64_t cpu_dips;            /* cumulative CPU went down within one identity */
    uint64_t splits;              /* no start_ticks: PID judged reused */
    uint64_t no_cpu;              /* raw samples without any CPU counter */
    uint64_t delay_dips;          /* cumulative run delay went down within one identity */
    uint64_t exit_records;        /* taskstats exit records used */
    uint64_t exit_only;           /* identities first seen in their exit record */
    uint64_t after_exit;          /* lines after an identity's taskstats exit record: ignored */
    double cpu_carried_ms;        /* (cts_finish) CPU of folded samples with no record after them */
};

#define CTS_NO_START INT64_MIN

void cts_init(struct cts *c, const struct cts_opts *o);
void cts_free(struct cts *c);
/* Records one raw sample can give: a made-up baseline and the exit record. */
#define CTS_FEED_MAX 2

/* Feed one raw sample (in file order).  Returns how many CTS records are to
 * be written, in order, from out[0..n): 0 when the sample was folded into
 * the next one (or ignored), 2 for the exit record of a process never seen
 * before (its baseline first).  out[i].comm points into *s or into c (valid
 * until the next call). */
size_t cts_feed(struct cts *c, const struct raw_sample *s, struct cts_rec out[static CTS_FEED_MAX]);
/* After the last sample: add up the CPU that was being carried to a next
 * record that never came (folded samples at the very end), so the audit can
 * show it instead of losing it silently. */
void cts_finish(struct cts *c);
/* The CTS proc_metrics line (no newline):
 * ts_ms, pid, dt_ms, cpu_ms[, run_delay_ms][, cpu_before_ms], rss_kb, start_ticks[, comm]. */
void cts_rec_json(struct jbuf *b, const struct cts_rec *r);

/* Milliseconds with up to three decimals, no trailing zeros ("1850",
 * "1000.2", "0.125").  buf needs 32 bytes; returns the length. */
size_t cts_fmt_ms(char *buf, double v);
void cts_put_ms(struct jbuf *b, const char *key, double v);

/* ---- events and invocations ---- */

/* Stable sort of task events the way the original merged them: by the first
 * truthy of ts_ms, ts_enqueue, ts_start (else 0), then pid (default 0). */
void cts_events_sort(json_t **evs, size_t n);
/* Add "node"/"stage" to an event that lacks them (like the original). */
void cts_event_defaults(json_t *ev, const char *node, const char *stage);

/* What the audit needs from one task event. */
struct cts_inv {
    char *trace_id;                     /* NULL when absent or not a string */
    bool has_pid;
    int64_t pid;
    bool has_enqueue, has_start, has_end;   /* numeric */
    int64_t ts_enqueue, ts_start, ts_end;
    /* the original's completeness check: value null or key absent */
    bool miss_trace_id, miss_enqueue, miss_start, miss_end, miss_pid;
    bool has_start_ticks;
    int64_t start_ticks;
    bool has_status, has_signal;
    int64_t status, signal;
    char *error;                        /* NULL when null/absent */
    bool has_cpu;                       /* cpu_user_ms and cpu_sys_ms both numeric */
    double cpu_exact_ms;
    bool has_max_rss;
    int64_t max_rss_kb;
    bool http;                          /* kind "http" (tracekit proxy): status is an HTTP status */
};

/* A time outside JSONL_TS_MIN_MS..JSONL_TS_MAX_MS counts as absent. */
void cts_inv_from_event(const json_t *ev, struct cts_inv *inv);
/* False when one of the event's times is a number outside the plausible
 * range (see JSONL_TS_MAX_MS): `parse` counts such an event as malformed. */
bool cts_event_times_ok(const json_t *ev);
void cts_inv_free(struct cts_inv *inv);
/* A task failed if it exited non-zero, was killed, or could not start;
 * an HTTP request if it got a 5xx status or has an error (a client that
 * went away, an upstream that failed). */
bool cts_inv_failed(const struct cts_inv *inv);
/* The CTS invocations line (no newline) for one event.  HTTP requests
 * (kind "http") also carry kind, method, path, bytes_in, bytes_out, dur_us;
 * energy_j (J, 3 decimals) ends the line unless it is NAN (not measured). */
void cts_inv_json(struct jbuf *b, const json_t *ev, double energy_j);

/* ---- reading CTS proc_metrics.jsonl ----
 *
 * The readers of CTS samples (export, report) read them with the flat-line
 * scanner `parse` uses (raw_scan_flat), falling back to jansson for any line
 * it does not handle, so a line reads exactly as jsonl_next + jsonl_int /
 * jsonl_num / jsonl_ts read it: an integer field may be an integral real
 * below 2^53, a number is finite, a later duplicate key wins, a field of
 * another type is absent (its value then 0). */
struct cts_sample {
    bool has_ts, bad_ts;          /* bad_ts: an integer outside the plausible range (jsonl_ts) */
    bool has_pid, has_dt, has_cpu, has_rss, has_start, has_delay, has_before;
    int64_t ts_ms, pid, rss_kb, start_ticks;
    double dt_ms, cpu_ms, delay_ms, cpu_before_ms;   /* delay_ms: run_delay_ms */
};

/* One line.  true: a JSON object, read into *out; false: not a JSON object
 * (or nested deeper than JSONL_MAX_DEPTH): malformed. */
bool cts_sample_scan(const char *line, size_t len, struct cts_sample *out);
/* The next sample of a proc_metrics.jsonl reader, with jsonl_next's
 * counting (blank, malformed, torn, good, lineno).  1 = *out set, 0 = EOF,
 * -1 = I/O error (errno). */
int cts_sample_next(struct jsonl_reader *r, struct cts_sample *out);

/* ---- host lines ---- */

/* The share of the host's CPU that was busy in one host_metrics line
 * (1 - cpu_idle - cpu_iowait, else cpu_util / 100), held to 0..1.  false
 * when the line has neither (a memory-only line of the original's
 * resources.jsonl) or it is not finite. */
bool cts_host_busy(const json_t *line, double *busy);

/* ---- nodes.json ---- */

/* One nodes.json entry from node_meta.json (meta may be NULL): the
 * original's node_id, stage, cpu_cores, mem_mb, cpu_model, cpu_freq_mhz with
 * raw values, then what else the collector recorded.  node/stage fill in
 * what the meta lacks. */
json_t *cts_node_entry(const json_t *meta, const char *node, const char *stage);
/* Pretty-print a JSON value with 2-space indent like Python's indent=2
 * (no trailing newline, floats in shortest form). */
void cts_pretty_json(struct jbuf *b, const json_t *v);
/* The clock offset recorded in node_meta (clock_offset_ms, or
 * clock_offset_us / 1000).  false when there is none. */
bool cts_meta_clock_offset(const json_t *meta, double *ms);
/* The worker's latest offset to the Redis server clock from clock.jsonl
 * records (docs/formats.md): the one with the largest ts_ms (the later line
 * on a tie) among those of `node`; when no record is of `node` and all are
 * of one other node (a run folder parsed without its node id), theirs.
 * false when there is none.  *rtt_ms is NAN when the record has none. */
bool cts_clock_latest(json_t *const *recs, size_t n, const char *node, double *offset_ms,
                      double *rtt_ms);

#endif
