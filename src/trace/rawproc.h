/* rawproc.h -- one raw proc_metrics.jsonl line into a struct.
 *
 * The raw file is the biggest input of `tracekit parse` (one line per process
 * per tick), so flat lines are read by a small hand-written scanner instead of
 * building a jansson tree per line.  Anything the scanner does not handle
 * (escapes, nested values, odd numbers, broken lines) goes to jansson, which
 * has the final word on what is valid JSON. */
#ifndef TK_RAWPROC_H
#define TK_RAWPROC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAW_COMM_MAX 64

enum raw_ev { RAW_EV_NONE, RAW_EV_TICK, RAW_EV_NEW, RAW_EV_EXIT, RAW_EV_OTHER };

/* A string in a raw line (not NUL-terminated); p == NULL when absent. */
struct raw_text {
    const char *p;
    size_t n;
};

/* One raw sample.  ts_ms and pid are always set; everything else has a
 * has_* flag because the original's lines carry only ts_ms, pid, rss_kb,
 * utime and stime.  An absent run_delay_ms is unknown, never 0. */
struct raw_sample {
    int64_t ts_ms, pid;
    bool has_rss, has_ticks, has_start, has_cpu_ms, has_mono, has_comm;
    bool has_run_delay, has_elapsed, has_rss_peak, has_us, has_exit_code, has_time_err;
    bool taskstats;                /* "src": "taskstats": the kernel's exit record */
    int64_t rss_kb;
    int64_t utime, stime;          /* clock ticks */
    int64_t start_ticks;
    double cpu_ms;                 /* cumulative */
    double run_delay_ms;           /* cumulative time runnable but waiting for a CPU */
    double elapsed_ms;             /* (exit records) wall time from start to exit */
    double time_err_ms;            /* (exit records) how far ts_ms and start_ticks may be off */
    int64_t rss_peak_kb;           /* (exit records) peak RSS */
    int64_t utime_us, stime_us;    /* (exit records) exact user / system CPU; has_us: both */
    int64_t exit_code;             /* (exit records) status << 8 | signal, as wait(2) */
    int64_t mono_us;
    char comm[RAW_COMM_MAX];
    enum raw_ev ev;
    /* Only in a process's first record: where it ran.  They point into the
     * line (fast path) or, after jansson, into a per-thread copy valid until
     * the next raw_parse_line call on the thread. */
    struct raw_text cgroup, container_id, container_runtime, pod_uid;
};

enum raw_result {
    RAW_OK,        /* *out is a usable sample */
    RAW_INVALID,   /* a JSON object, but ts_ms or pid is missing or not an integer,
                    * or ts_ms is outside JSONL_TS_MIN_MS..JSONL_TS_MAX_MS */
    RAW_FALLBACK,  /* (fast path only) not handled here: ask jansson */
    RAW_MALFORMED, /* not a JSON object at all */
};

/* A value of a flat JSON object, as raw_scan_flat reads it.  Numbers: an
 * integer that fits int64 is RAW_V_INT, any other number RAW_V_REAL (finite,
 * correctly rounded like strtod); s points into the line (no escapes). */
enum raw_vtype { RAW_V_NULL, RAW_V_INT, RAW_V_REAL, RAW_V_STR, RAW_V_BOOL };

struct raw_value {
    enum raw_vtype type;
    int64_t i;
    double d;
    const char *s;
    size_t slen;
};

typedef void raw_field_fn(void *ctx, const char *key, size_t klen, const struct raw_value *v);

/* The flat-line scanner itself: calls fn for each key/value pair of a flat
 * JSON object (strings without escapes or non-ASCII bytes, numbers jansson
 * reads the same way), in order, so a later duplicate key wins if fn
 * overwrites.  False when the line is anything else (nested values,
 * escapes, huge numbers, not an object, trailing bytes): then jansson must
 * decide, and whatever fn stored is to be thrown away.  Shared with the CTS
 * readers (cts_sample_scan). */
bool raw_scan_flat(const char *line, size_t len, raw_field_fn *fn, void *ctx);

/* Fast path for flat objects.  Never returns RAW_MALFORMED: when in doubt it
 * returns RAW_FALLBACK so that jansson decides. */
enum raw_result raw_parse_fast(const char *line, size_t len, struct raw_sample *out);
/* From a decoded object (the slow path; same rules as the fast one). */
enum raw_result raw_from_json(const json_t *obj, struct raw_sample *out);
/* Fast path, then jansson. */
enum raw_result raw_parse_line(const char *line, size_t len, struct raw_sample *out);

#endif
