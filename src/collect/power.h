/* power.h -- the node's power sources, read each host interval into
 * host_metrics.jsonl ("power_w", "energy_j"; docs/formats.md).
 *
 * A source is either a cumulative energy counter in microjoules
 * (`--energy-counter NAME=PATH`: powercap/RAPL energy_uj, Scaphandre's per-VM
 * energy_uj, a PDU exporter's file) or an instantaneous power reading in
 * microwatts (`--power-input NAME=PATH`: hwmon power*_input).  Unless
 * --no-energy, every powercap zone under /sys/class/powercap is added too.
 *
 * Rules:
 *  - a counter that goes back is a wrap when max_energy_range_uj sits beside
 *    it and the wrapped step is under half the range (delta = range - prev +
 *    cur), else a reset: that interval has no power for the source, the
 *    count goes up, the next interval starts from the new value;
 *  - a power input's interval power is the mean of its two readings;
 *  - a source missing or unreadable at the start is one warning and is listed
 *    in node_meta.json as not readable; a read failing later is one warning
 *    per source and a missing value in those intervals;
 *  - `in_total` marks the sources whose sum is the node's power: the named
 *    ones when any is given; else powercap psys when present, else the
 *    package and dram zones (core and uncore are inside package).
 * Files are opened for every read (an exporter may replace its file). */
#ifndef TK_POWER_H
#define TK_POWER_H

#include "common/jsonl.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum power_kind { POWER_ENERGY_UJ, POWER_INPUT_UW };

/* What one reading did to a counter. */
enum power_step { POWER_FIRST, POWER_OK, POWER_WRAP, POWER_RESET };

struct power_src {
    char name[64];
    char *path;               /* malloc'd */
    enum power_kind kind;
    const char *origin;       /* "option" or "powercap" */
    bool in_total;
    uint64_t max_range_uj;    /* 0 = unknown */
    bool readable;            /* the first read worked */
    char error[160];          /* why not, when not */
    /* state */
    bool have_prev, warned;
    uint64_t prev;            /* last reading (uJ or uW) */
    int64_t prev_us;
    double joules;            /* since the first reading */
    uint64_t wraps, resets, read_errors;
    /* the last interval */
    bool has_w;
    double w;
    enum power_step step;
};

struct power_set {
    struct power_src *v;
    int n, cap;
};

/* The configuration from the command line (strings are borrowed). */
struct power_conf {
    const char *const *counters;   /* NAME=PATH */
    int ncounters;
    const char *const *inputs;     /* NAME=PATH */
    int ninputs;
    bool no_energy;                /* no powercap zones */
    const char *powercap_root;     /* NULL = /sys/class/powercap */
};

/* ---- pure ---- */

/* Split "NAME=PATH": name into name[0..nlen), *path points into arg.  The
 * name is 1-63 characters of [A-Za-z0-9_.:-].  0, or -1 with err. */
int power_spec_split(const char *arg, char *name, size_t nlen, const char **path, char *err,
                     size_t errlen);
/* A whole non-negative decimal number (surrounding blanks allowed). */
bool power_parse_u64(const char *text, uint64_t *v);
/* The energy between two counter readings (see the rules above). */
enum power_step power_counter_delta(uint64_t prev, uint64_t cur, uint64_t max_range,
                                    uint64_t *delta_uj);
/* One reading of source s at mono_us (uJ or uW by its kind): updates its
 * totals and its last interval. */
void power_src_feed(struct power_src *s, uint64_t value, int64_t mono_us);

/* ---- with I/O ---- */

/* The sources of conf, each probed once (missing or unreadable: one
 * warning); says once when the node has none.  0, or -1 with err for a bad
 * NAME=PATH or a repeated name. */
int power_set_open(struct power_set *ps, const struct power_conf *conf, char *err,
                   size_t errlen);
void power_set_free(struct power_set *ps);
/* Add one source (probing it); the set's in_total flags are not updated. */
void power_set_add(struct power_set *ps, enum power_kind kind, const char *name, const char *path,
                   const char *origin);
/* How many sources were readable at the start. */
int power_set_readable(const struct power_set *ps);
/* Read every readable source (NULL ps: nothing). */
void power_set_sample(struct power_set *ps, int64_t mono_us);
/* The interval's fields of a host_metrics line: "power_w", "energy_j" and,
 * when one happened, "power_reset"/"power_wrap" (names).  Nothing when ps
 * has no readable source. */
void power_set_json(const struct power_set *ps, struct jbuf *b);
/* node_meta.json's "power_sources" array. */
void power_set_meta_json(const struct power_set *ps, struct jbuf *b);

#endif
