/* fstree.h -- whole-folder operations for parse and gather: remove a tree,
 * copy a tree, and put a freshly written folder in place of an old one
 * without ever leaving a half-written folder under the final name. */
#ifndef TK_FSTREE_H
#define TK_FSTREE_H

#include <stdbool.h>
#include <stddef.h>

/* Remove path and everything below it (symlinks are removed, not
 * followed).  Missing path is fine.  0 or -1 with errno. */
int fstree_rm_rf(const char *path);

/* Copy the folder src to dst (created; must not exist).  Regular files and
 * folders only; `skip` (may be NULL) names entries to leave out, relative
 * to src ("pids" skips src/pids).  *files gets the number of files copied.
 * 0, or -1 with errno and the failing path in err. */
int fstree_copy(const char *src, const char *dst, bool (*skip)(const char *rel), size_t *files,
                char *err, size_t errlen);

/* fsync a folder (makes renames inside it durable). */
int fstree_sync_dir(const char *path);

/* Put the folder `fresh` at `final`: a plain rename when final does not
 * exist, else an atomic exchange (renameat2 RENAME_EXCHANGE) and removal of
 * the old one; where the file system cannot exchange, final is renamed
 * aside first.  0 or -1 with errno. */
int fstree_replace(const char *fresh, const char *final);

/* Remove leftovers "<dir>/<prefix><pid>" of processes that no longer exist
 * (a parse that crashed mid-way).  Returns how many were removed. */
int fstree_clean_stale(const char *dir, const char *prefix);

#endif
