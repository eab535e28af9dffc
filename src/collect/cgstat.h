/* cgstat.h -- sampling whole cgroups (`tracekit collect --cgroup PATH`).
 *
 * A cgroup is named relative to the cgroup mount roots ("system.slice/x",
 * "tk/test").  Its CPU comes from the v1 cpuacct hierarchy (cpuacct.usage,
 * ns) when the machine mounts one and the group exists there, else from v2
 * cpu.stat (usage_usec); its memory from v1 memory.usage_in_bytes, else v2
 * memory.current.  The files stay open; each sample is one pread per file.
 *
 * Raw records go to cgroup_metrics.jsonl (cumulative counters); parse
 * turns them into per-interval CPU and utilisation (docs/formats.md,
 * docs/cts.md). */
#ifndef TK_CGSTAT_H
#define TK_CGSTAT_H

#include "common/jsonl.h"
#include "task/cgroup.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct cgstat {
    char *name;          /* "/tk/test": the path as recorded */
    int cpu_v, mem_v;    /* hierarchy version of each file, 0 = not available */
    int cpu_fd, mem_fd;
};

/* Open the group's counters.  0, or -1 with a message in err (no such
 * group in any hierarchy, or no counter readable). */
int cgstat_open(struct cgstat *c, const struct cgroup_sys *sys, const char *rel, char *err, size_t errlen);
/* Cumulative CPU (µs) and memory (bytes; -1 when not available).
 * Returns 0, or -1 when the CPU counter cannot be read (group removed). */
int cgstat_read(struct cgstat *c, int64_t *cpu_us, int64_t *mem_bytes);
void cgstat_close(struct cgstat *c);
/* Append the raw record for one reading (no newline). */
void cgstat_record(struct jbuf *b, const struct cgstat *c, const char *node, int64_t ts_ms,
                   int64_t mono_us, int64_t cpu_us, int64_t mem_bytes);

/* ---- pure ---- */

/* usage_usec from the text of a v2 cpu.stat. */
bool cgstat_parse_usage_usec(const char *text, int64_t *usec);
/* True if rel is a usable relative cgroup path ("a/b", "/a/b"; no "..",
 * no empty name). */
bool cgstat_path_valid(const char *rel);

/* parse: raw records -> CTS records, per cgroup (first record a baseline:
 * dt_ms 0, cpu_ms 0; a counter that goes back starts a new baseline). */
struct cgderive {
    struct cgd_state {
        char *name;
        int64_t ts_ms, mono_us, cpu_us;
        bool has_mono;
    } *v;
    size_t n;
    uint64_t resets;
};

/* One raw record.  Returns 1 and fills out (a CTS line, no newline), or 0
 * when the record is invalid (no integer ts_ms/cpu_usage_us, a ts_ms outside
 * JSONL_TS_MIN_MS..JSONL_TS_MAX_MS, or no cgroup). */
int cgderive_feed(struct cgderive *d, const json_t *raw, struct jbuf *out);
void cgderive_free(struct cgderive *d);

/* parse: RUN/cgroup_metrics.jsonl -> CTS_DIR/cgroup_metrics.jsonl.
 * Returns 0 (nothing to do when the raw file is missing: *present false),
 * or -1 with errno on a read/write error.  lines/good/malformed/torn/invalid
 * are for the audit. */
struct cgstat_counts {
    bool present;
    uint64_t lines, good, malformed, torn, invalid, resets;
};
int cgstat_to_cts(const char *run_dir, const char *cts_dir, struct cgstat_counts *k);

#endif
