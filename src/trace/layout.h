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
/* dir itself when it is a run folder, else its node folders
 * (layout_node_dirs without a run id); NULL when neither. */
char **layout_run_dirs(const char *dir, size_t *n);
void layout_free_list(char **list);

#endif
