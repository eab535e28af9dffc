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

struct progress;

struct progress *progress_begin(const char *label, bool quiet);
void progress_update(struct progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void progress_end(struct progress *p);

#endif
