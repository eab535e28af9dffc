/* layout.h -- where run data lives, in our layout and the original's:
 * logs/RUN_ID/ run folders, CTS/ or legacy cctf/ inside them, and
 * experiment folders with one sub-folder per node (ours, named by node id,
 * or the original's RUN_ID(cN)). */
#ifndef TK_LAYOUT_H
#define TK_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

/* Does dir hold one node's run: node_meta.json, raw proc_metrics/events
 * files, or a CTS/cctf folder? */
bool layout_is_run_dir(const char *dir);
/* Is name a task event file, events.APP.jsonl (not the merged events.jsonl)? */
bool layout_is_event_file(const char *name);
/* Does dir hold raw files parse can read (proc_metrics.jsonl, events)? */
bool layout_has_raw(const char *dir);
/* The CTS folder of a run ("CTS", else legacy "cctf"), malloc'd; NULL if none. */
char *layout_cts_dir(const char *run_dir);

/* Node folders directly inside dir, in a stable order (RUN_ID(cN) by N,
 * then the rest by name).  With run_id, only "RUN_ID(cN)" folders count;
 * without, every sub-folder that is a run folder.  NULL-terminated,
 * malloc'd (free with layout_free_list); *n gets the count. */
char **layout_node_dirs(const char *dir, const char *run_id, size_t *n);
void layout_free_list(char **list);

/* The run folders one `gather --from DIR` names: DIR itself if it is a
 * run folder, else DIR/RUN_ID, DIR/logs/RUN_ID, else DIR's RUN_ID(cN)
 * folders, else DIR's node sub-folders.  NULL (with a message) if none. */
char **layout_find_runs(const char *from, const char *run_id, size_t *n, char *err, size_t errlen);

/* ---- naming nodes in an experiment folder (pure) ---- */

struct layout_node {
    const char *node_id;   /* from node_meta.json, may be NULL */
    const char *host;      /* from node_meta.json, may be NULL */
    const char *source;    /* the folder it comes from (tie-breaker) */
    char *name;            /* out: folder name, malloc'd */
};

/* Folder-safe version of s ("node" if nothing is left), malloc'd. */
char *layout_safe_name(const char *s);
/* Give every node a distinct folder name: its node id; nodes sharing an id
 * get "ID-HOST" when their hosts differ, else "ID-1", "ID-2", ... in the
 * order of (host, source).  Same input set, same names, whatever the order. */
void layout_assign_names(struct layout_node *nodes, size_t n);

#endif
