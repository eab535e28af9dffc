/* gather.h -- several nodes' run folders into one experiment folder
 * (`tracekit gather`): where each node's run is (--from folders, or the
 * nodes that shipped it through Redis, ship.h), one sub-folder per node
 * named by its node id, each copied in whole and swapped into place, the
 * ones with raw files but no CTS/ parsed there (parse_run.h), and
 * DIR/gather.json saying which node came from where and the clock offsets
 * the nodes recorded.
 *
 *     struct gather_opts o = {.run_id = "r1", .output = "exp", .from = dirs, .nfrom = 2,
 *                             .out = stdout};
 *     struct gather_result r;
 *     if (gather_run(&o, &r) < 0) ...
 */
#ifndef TK_GATHER_H
#define TK_GATHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct redis_url;

struct gather_opts {
    const char *run_id;               /* the run (required) */
    const char *output;               /* the experiment folder (created; node folders replaced) */
    const char *const *from;          /* folders naming node runs (gather_find_runs) */
    size_t nfrom;
    const struct redis_url *redis;    /* also take the nodes that shipped the run here; NULL: none */
    FILE *out;                        /* what is done, "[gather] ..." lines; NULL: quiet */
};

struct gather_result {
    size_t nodes;                     /* node folders written (or tried) */
    size_t refused;                   /* nodes from Redis refused (bad name or manifest, a
                                         file that failed its checks): gather fails */
};

/* Gather.  0, or -1 after log_error (a node that fails to copy or parse
 * does not stop the others; gather.json is still written). */
int gather_run(const struct gather_opts *o, struct gather_result *r);

/* ---- the parts, for tests ---- */

/* The run folders one `--from DIR` names: DIR itself if it is a run
 * folder, else DIR/RUN_ID, DIR/logs/RUN_ID, else DIR's RUN_ID(cN) folders,
 * else DIR's node sub-folders.  NULL-terminated, malloc'd (free with
 * layout_free_list), *n the count; NULL with err when there is none. */
char **gather_find_runs(const char *from, const char *run_id, size_t *n, char *err, size_t errlen);

struct gather_name {
    const char *node_id;   /* from node_meta.json, may be NULL */
    const char *host;      /* from node_meta.json, may be NULL */
    const char *source;    /* the folder it comes from (tie-breaker; its name without an id) */
    char *name;            /* out: the folder name, malloc'd */
};

/* Folder-safe version of s ("node" if nothing is left), malloc'd. */
char *gather_safe_name(const char *s);
/* Give every node a distinct folder name (pure): its node id; nodes sharing
 * an id get "ID-HOST" when their hosts differ, else "ID-1", "ID-2", ... in
 * the order of (host, source).  Same input set, same names, whatever the
 * order. */
void gather_assign_names(struct gather_name *nodes, size_t n);

#endif
