/* ship.h -- a node's run files through Redis: `parse --ship` uploads them,
 * `gather --redis` downloads them (docs/cts.md, "Shipping through Redis").
 *
 * Keys, under the run's prefix tk:RUN_ID: (redis_run_prefix, docs/redis.md):
 *   ship:nodes          set of the node ids that shipped
 *   ship:m:NODE         the node's manifest (JSON, below)
 *   ship:c:UPLOAD:F:C   chunk C of file F of one upload (raw bytes)
 * An upload writes every chunk under a fresh upload id first, then swaps
 * the manifest in one command (SET ... GET) and only then deletes the
 * previous upload's chunks: a reader sees the old upload or the new one,
 * and a chunk that vanished under it is reported, never mixed in. */
#ifndef TK_SHIP_H
#define TK_SHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redis.h"

#define SHIP_CHUNK_DEFAULT (512 * 1024)

/* The controller's records of a run (the dispatcher's, the scheduler's):
 * shipped from a run folder's top level like the event files, and put at
 * the top of the experiment folder by `tracekit gather`. */
#define SHIP_CONTROLLER_FILES "ledger.jsonl", "placements.jsonl", "submitted.jsonl", "workload.jsonl"
/* The name the controller's records are shipped under by `dispatch --wait`
 * (a folder holding nothing else is not taken for a node by gather). */
#define SHIP_CONTROLLER_NODE "controller"

/* Is name one of SHIP_CONTROLLER_FILES? */
bool ship_controller_file(const char *name);

/* ---- the manifest (pure) ---- */

struct ship_file {
    char *name;          /* relative: "node_meta.json", "CTS/audit.json" */
    uint64_t size;
    uint64_t chunks;
    char sha256[65];
};

struct ship_manifest {
    char *node, *upload;
    uint64_t chunk_size;
    int64_t shipped_ms;
    struct ship_file *files;
    size_t nfiles;
};

/* May this relative name be written below a node folder?  A plain file
 * name, or CTS/NAME; no "..", no hidden files, no slashes elsewhere. */
bool ship_name_ok(const char *name);
/* Chunks of a file of `size` bytes (an empty file still has none). */
uint64_t ship_chunks(uint64_t size, uint64_t chunk_size);
/* Manifest as compact JSON (malloc'd). */
char *ship_manifest_json(const struct ship_manifest *m);
/* Parse and check a manifest (pure; its text comes from Redis, hostile):
 * the node is a valid name (run_id_valid), every file name passes
 * ship_name_ok, sizes are non-negative and the chunk counts match them,
 * checksums are 64 hex digits, no name twice.  0, or -1 with err naming the
 * bad value. */
int ship_manifest_parse(const char *json, struct ship_manifest *m, char *err, size_t errlen);
void ship_manifest_free(struct ship_manifest *m);

/* ---- Redis I/O ---- */

struct ship_stats {
    size_t files;
    uint64_t bytes, chunks;
    char upload[64];
};

/* A connection for shipping one run's files. */
struct ship {
    struct redis_conn *c;
    char *prefix;        /* tk:RUN_ID: */
};

/* Connect for shipping to u (the command parsed it: redis_opts_load).
 * NULL with err (never the password).  Close with ship_close. */
struct ship *ship_connect(const struct redis_url *u, const char *run_id, char *err,
                          size_t errlen);
void ship_close(struct ship *q);

/* Upload run_dir's node_meta.json, events.*.jsonl, the controller's records
 * (ship_controller_file) and CTS/ files as node `node`.  0 or -1 with err
 * (never a password). */
int ship_upload(struct ship *q, const char *node, const char *run_dir, uint64_t chunk_size,
                struct ship_stats *st, char *err, size_t errlen);
/* Connect to u and upload only the controller's records of run_dir as the
 * pseudo-node SHIP_CONTROLLER_NODE (`dispatch --wait`), so that `gather
 * --redis` puts them in the experiment folder.  A run folder with none
 * uploads an empty manifest.  0 or -1 with err. */
int ship_controller(const struct redis_url *u, const char *run_id, const char *run_dir,
                    struct ship_stats *st, char *err, size_t errlen);
/* The members of the run's set of shipped nodes, sorted, unchecked: any
 * client that can write to Redis can add one, so check each with
 * run_id_valid before it names anything.  NULL-terminated, malloc'd (free
 * with layout_free_list or free each).  -1 with err. */
int ship_list(struct ship *q, char ***nodes, size_t *n, char *err, size_t errlen);
/* Download node's files into dst, a folder this call creates (it must not
 * exist), checking sizes and SHA-256: each file goes to a fresh
 * O_EXCL|O_NOFOLLOW temporary file and is renamed to its name only once
 * verified.  A node that is not a valid name, or whose manifest names
 * another node, is refused.  0 or -1 with err naming the node and the
 * file or value. */
int ship_download(struct ship *q, const char *node, const char *dst,
                  struct ship_stats *st, char *err, size_t errlen);

#endif
