/* collector.h -- the run's collector as a process (`tracekit collect`):
 * start a sampler in the background, run one in the foreground, stop it,
 * and say how it is.
 *
 * LOGS/RUN_ID/collector.json is the sampler's own status file (sampler.h):
 * its pid, start ticks, state and statistics.  A recorded sampler counts as
 * running only while its pid still has the recorded start ticks, so a
 * reused PID is never taken for it, and stop signals through a pidfd of the
 * process it checked (original bug B21).
 *
 * The functions return exit codes (TK_EXIT_*, and 3 for a collector that
 * is not running); on a failure err gets a sentence for the user ("" when
 * there is nothing more to say). */
#ifndef TK_COLLECTOR_H
#define TK_COLLECTOR_H

#include "collect/sampler.h"

#include <stddef.h>
#include <stdio.h>

struct collector_conf {
    const char *run_id, *node_id, *stage;
    const char *run_dir;        /* logs/RUN_ID (created) */
    struct sampler_opts so;     /* the sampler's settings; run_dir, node_id and status_path
                                   are set here */
};

/* Refuse when a sampler runs for the run; write node_meta.json; start the
 * sampler in a background process (its output in collector.log) and wait
 * until it runs; print where the records go on out.  The background
 * process returns too, with the sampler's result once it has stopped: the
 * caller returns that from main. */
int collector_start(const struct collector_conf *c, FILE *out, char *err, size_t errlen);

/* The same in the foreground, until SIGINT/SIGTERM or the duration ends. */
int collector_run(const struct collector_conf *c, char *err, size_t errlen);

/* Stop the run's sampler (SIGTERM; SIGKILL after 15 s) and print what it
 * recorded on out. */
int collector_stop(const char *run_id, const char *run_dir, FILE *out, char *err, size_t errlen);

/* Print the run's sampler and its statistics on out: 0 when it runs, 3
 * when it does not (or never ran). */
int collector_status(const char *run_id, const char *run_dir, FILE *out);

#endif
