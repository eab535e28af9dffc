/* opendc_store.h -- the export's samples out of memory.
 *
 * CTS/proc_metrics.jsonl is written by `parse` in the collector's order:
 * one line per process per tick, all processes of a tick together (time
 * order, processes interleaved), so no single pass meets a task's samples
 * together.  The store sorts them by (node, pid, ts_ms, file order) with an
 * external sort: samples are gathered in chunks of ODC_STORE_CHUNK, each
 * chunk sorted and written as a run to an unlinked temporary file with the
 * place of each process in it; the export then reads one process at a time,
 * its part of every run (pread), merged (the runs of a time-ordered file
 * overlap only at their edges).  A store whose samples fit in one chunk
 * never touches a file.  Memory: one chunk while loading, and one
 * directory entry per process per run; then either a cursor (a block of
 * each run, whatever the process's length: exec tasks and
 * --upstream-compat read only their time window this way) or a few whole
 * processes (odc_store_read, ODC_STORE_CACHE: the services whose HTTP
 * requests share their samples).  Whatever order the file has (hand-made,
 * other tools), the result is the same.
 *
 * Rules: odc_store_add in file order (node by node, line by line; that order
 * breaks ties of equal (pid, ts_ms) and is each sample's seq), then
 * odc_store_finish once, then reads.  I/O errors (a full disk) are kept and
 * reported by odc_store_finish or odc_store_read. */
#ifndef TK_OPENDC_STORE_H
#define TK_OPENDC_STORE_H

#include "opendc/opendc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Samples per sorted run (and the most held in memory while loading). */
#define ODC_STORE_CHUNK 131072

/* One process (node, pid) of the store, with n samples. */
struct odc_proc {
    int node;
    int64_t pid;
    size_t n;
    uint64_t first_dt_seq;   /* seq of its first sample with dt_ms > 0 (UINT64_MAX: none) */
    size_t seg0, nseg;       /* the store's: where its samples are */
};

struct odc_store;

/* A store spilling to unlinked files in dir (NULL: TMPDIR, else /tmp).
 * malloc'd; odc_store_free. */
struct odc_store *odc_store_new(const char *dir);
void odc_store_free(struct odc_store *st);
/* Add one sample (its seq is set here: the count added before it). */
void odc_store_add(struct odc_store *st, const struct odc_sample *s);
/* Sort and index.  0, or -1 with err (the temporary file could not be
 * created or written). */
int odc_store_finish(struct odc_store *st, char *err, size_t errlen);
/* Samples added. */
uint64_t odc_store_count(const struct odc_store *st);
/* Samples added of node k. */
uint64_t odc_store_node_count(const struct odc_store *st, int node);
/* The processes, sorted by (node, pid); borrowed from st. */
const struct odc_proc *odc_store_procs(const struct odc_store *st, size_t *n);
/* The process of (node, pid), or NULL. */
const struct odc_proc *odc_store_find(const struct odc_store *st, int node, int64_t pid);
/* The samples of p (p->n of them), sorted by (ts_ms, seq): borrowed, valid
 * until the ODC_STORE_CACHE-th later read of another process.  *aux (may
 * be NULL): p->n doubles kept with them for the caller, zeroed and *fresh
 * set when the samples were (re)loaded.  NULL on an I/O error
 * (odc_store_error says why). */
const struct odc_sample *odc_store_read(struct odc_store *st, const struct odc_proc *p, double **aux,
                                        bool *fresh);
/* An unlinked file in st's folder (O_TMPFILE, else a name removed at
 * once), for more of the export's data (its fragments).  The fd, or -1
 * (odc_store_error says why). */
int odc_store_tmpfile(struct odc_store *st);
/* Set when a read failed (a message), NULL otherwise. */
const char *odc_store_error(const struct odc_store *st);

/* A cursor: one process's samples in a time window, in (ts_ms, seq)
 * order, without holding them: a block of each run at a time (memory:
 * CUR_RECS records per run the process is in), each run's part found by
 * its first and last times and a binary search. */
struct odc_cursor;

/* malloc'd; odc_cursor_free.  st must outlive it. */
struct odc_cursor *odc_cursor_new(struct odc_store *st);
void odc_cursor_free(struct odc_cursor *c);
/* Start over at p's samples with t0 <= ts_ms <= t1 (p NULL: none). */
void odc_cursor_seek(struct odc_cursor *c, const struct odc_proc *p, int64_t t0, int64_t t1);
/* The next sample, borrowed until the next call; NULL at the end, or on a
 * read error (odc_store_error says why). */
const struct odc_sample *odc_cursor_next(struct odc_cursor *c);

/* Processes whose samples odc_store_read keeps at once. */
#define ODC_STORE_CACHE 4

#endif
