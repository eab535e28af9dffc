/* util.h -- small helpers every module needs: errors, clocks, strict number
 * parsing, paths.  Nothing here does I/O beyond the file system helpers. */
#ifndef TK_UTIL_H
#define TK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TK_VERSION "0.1.0"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes shared by all commands. */
enum {
    TK_EXIT_OK = 0,
    TK_EXIT_FAIL = 1,   /* the work failed */
    TK_EXIT_USAGE = 2,  /* bad command line */
};

/* Allocation that cannot fail (aborts with a message on OOM). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Clocks.  Wall-clock ms since the epoch, and monotonic ns/us. */
int64_t now_wall_ms(void);
int64_t now_mono_ns(void);
static inline int64_t now_mono_us(void) { return now_mono_ns() / 1000; }

/* Strict parsers: the whole string must be a number in [min, max].
 * They return false (and leave *out untouched) otherwise. */
bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
bool parse_double(const char *s, double min, double max, double *out);

/* Files and paths. */
int mkdir_p(const char *path, unsigned mode);       /* 0 or -1 with errno */
bool is_dir(const char *path);
bool file_exists(const char *path);
char *path_join(const char *a, const char *b);      /* malloc'd */
/* Read a whole (small) file into a NUL-terminated malloc'd buffer.
 * Returns NULL with errno set on failure; *len (if not NULL) gets the size. */
char *read_file(const char *path, size_t *len);
/* Write data to path atomically: temp file in the same folder, fsync, rename. */
int write_file_atomic(const char *path, const void *data, size_t len);
/* Trim ASCII white space in place; returns s. */
char *str_trim(char *s);
bool str_starts(const char *s, const char *prefix);

#endif
