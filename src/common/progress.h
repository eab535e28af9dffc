/* progress.h -- one status line on stderr, rewritten in place, for long
 * work run at a terminal (parse, export; later dispatch and local).
 *
 *     struct progress *p = progress_begin("export", quiet);
 *     for (...)
 *         progress_update(p, "tasks.parquet %zu/%zu rows", i, n);
 *     progress_end(p);
 *
 * progress_begin returns NULL -- and every call then does nothing, so
 * callers never test -- when quiet is set or stderr is not a terminal
 * (a pipe, a file, a service's journal): logs stay clean.  Otherwise
 * progress_update draws "LABEL: TEXT" at once the first time, then at most
 * 4 times a second (calls in between return before formatting, so calling
 * it per row is cheap); the line is cut to the terminal's width.  A log
 * line (log.h) written meanwhile first clears the progress line, which
 * comes back with the next update.  progress_end clears the line and frees.
 * One line at a time: a second progress_begin before progress_end returns
 * NULL. */
#ifndef TK_PROGRESS_H
#define TK_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

struct progress;

struct progress *progress_begin(const char *label, bool quiet);
void progress_update(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_end(struct progress *p);

/* The time left, in seconds, of tasks run in parallel, from the durations
 * seen so far (pure): mean_s is the mean duration of the finished tasks,
 * running_s[] how long each running task has run, waiting the tasks not
 * started yet.  A running task is expected to end at the mean; the waiting
 * ones run mean_s each on as many slots as run now (at least one).
 * Returns -1 when there is no honest figure: no task finished yet
 * (mean_s <= 0), or the running tasks have all outrun the mean and nothing
 * waits (the figure would count down to 0 s and stay there). */
double progress_eta(double mean_s, const double *running_s, size_t nrunning, size_t waiting);

#endif
