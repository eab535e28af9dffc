/* util.h -- small helpers every module needs: allocation, programmer errors,
 * clocks and sleeps, strict number parsing, comparators, paths.  Nothing
 * here does I/O beyond the file system helpers.  Unlike other modules, its
 * names carry no file prefix: they are the project's vocabulary. */
#ifndef TK_UTIL_H
#define TK_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/log.h"

#define TK_VERSION "0.1.0"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A programmer error: print where and why, then abort.  For states the code
 * itself rules out, never for bad input (that gets an error message). */
#define TK_BUG(...) tk_bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void tk_bug(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Make room for n elements in the array p of capacity cap (both lvalues):
 * the capacity at least doubles, starting at min_cap.  Like git's
 * ALLOC_GROW.  Usage: ARRAY_GROW(v, len + 1, cap, 16); v[len++] = x; */
#define ARRAY_GROW(p, n, cap, min_cap)                                                  \
    do {                                                                                \
        if ((size_t)(n) > (size_t)(cap)) {                                              \
            size_t grow_to_ = (size_t)(cap) ? (size_t)(cap) * 2 : (size_t)(min_cap);    \
            if (grow_to_ < (size_t)(n))                                                 \
                grow_to_ = (size_t)(n);                                                 \
            (p) = xrealloc((p), grow_to_ * sizeof *(p));                                \
            (cap) = grow_to_;                                                           \
        }                                                                               \
    } while (0)

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

/* Sleep ms milliseconds; a signal does not cut it short. */
void sleep_ms(int64_t ms);
/* Sleep up to ms milliseconds in steps of at most 100 ms, returning early
 * once *stop is non-zero (set by a signal handler).  true if it was. */
bool sleep_ms_or_stop(int64_t ms, const volatile sig_atomic_t *stop);

/* Format a message into err (errlen bytes) and return -1, for the
 * "0, or -1 with err" convention: return errf(err, errlen, "bad '%s'", s); */
int errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Strict parsers: the whole string must be a number in [min, max].
 * They return false (and leave *out untouched) otherwise. */
bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
bool parse_double(const char *s, double min, double max, double *out);

/* A struct timeval in milliseconds. */
struct timeval;
double timeval_ms(const struct timeval *tv);

/* NULL-terminated argument vectors of malloc'd strings: free every string
 * and the array (NULL is fine); count the strings. */
void argv_free(char **argv);
size_t argv_len(char *const *argv);

/* qsort comparators, ascending: arrays of int, int64_t, double (NaN
 * last) and char * (strcmp). */
int cmp_int(const void *a, const void *b);
int cmp_i64(const void *a, const void *b);
int cmp_double(const void *a, const void *b);
int cmp_str(const void *a, const void *b);

/* Files and paths.
 *
 * What tracekit writes under logs/ and in run folders holds task argv and
 * task output: files are created TK_FILE_MODE and folders TK_DIR_MODE
 * (group may read, others nothing), and the user's umask still wins when it
 * is stricter (the modes are passed to open/mkdir, never chmod'ed).  Files
 * in a run folder may have been planted by another local user: appends and
 * creations use O_NOFOLLOW (a symlink there is an error, ELOOP, never
 * followed), temporary files O_EXCL, and readers take regular files only
 * (open_regular). */
#define TK_FILE_MODE 0640
#define TK_DIR_MODE 0750

int mkdir_p(const char *path, unsigned mode);       /* 0 or -1 with errno */
bool is_dir(const char *path);
bool file_exists(const char *path);
char *path_join(const char *a, const char *b);      /* malloc'd */
/* Read a whole (small) file into a NUL-terminated malloc'd buffer.
 * Returns NULL with errno set on failure; *len (if not NULL) gets the size. */
char *read_file(const char *path, size_t *len);
/* The same from an open fd, to its end (the fd stays open). */
char *read_fd(int fd, size_t *len);
/* Write data to path atomically: a fresh temporary file in the same folder
 * (random name, O_EXCL|O_NOFOLLOW, TK_FILE_MODE), fsync, rename.  0 or -1
 * with errno. */
int write_file_atomic(const char *path, const void *data, size_t len);
/* write(2) all n bytes of p, going on after EINTR and short writes.  0, or
 * -1 with errno. */
int write_all(int fd, const void *p, size_t n);
/* pread(2) all n bytes at off, going on after EINTR and short reads.  0,
 * or -1 with errno (0 when the file ended first). */
int pread_full(int fd, void *p, size_t n, uint64_t off);

/* Create a fresh temporary file "PATH.tmp.XXXXXXXX" next to path (random
 * suffix, O_EXCL|O_NOFOLLOW, mode masked by the umask), open for writing.
 * The fd, *tmp its name (malloc'd); or -1 with errno. */
int open_tmp_excl(const char *path, unsigned mode, char **tmp);
/* Open an existing regular file for reading without blocking on a FIFO
 * and without following a symlink at the last component: O_NONBLOCK is
 * cleared again once it is known to be a regular file.  The fd, or -1 with
 * errno (ELOOP: a symlink; EINVAL: not a regular file; see open_strerror). */
int open_regular(const char *path);
/* strerror, but saying what open_regular's ELOOP and EINVAL mean. */
const char *open_strerror(int e);
/* Trim ASCII white space in place; returns s. */
char *str_trim(char *s);
bool str_starts(const char *s, const char *prefix);

/* Servers that accept clients under the open files limit (the proxy, links
 * serve).  nofile_cap: want connections (--max-conns), each holding
 * fds_per_conn descriptors, plus reserve of the server's own, within
 * RLIMIT_NOFILE.  The soft limit is raised towards the hard one first; a
 * cap below want is said in a warning.  Returns the cap, at least 1. */
#define NOFILE_RESERVE 16   /* std streams, listener, epoll/signalfd, log, records, /proc reads */
int nofile_cap(int want, int fds_per_conn, int reserve);

/* After accept4 (or starting a thread for a client) failed: out of
 * descriptors, threads or memory, the listener stays readable and polling
 * it at once would spin, so no accepting for ACCEPT_RETRY_NS; a warning
 * once per ACCEPT_WARN_NS at most.  Zeroed to start. */
#define ACCEPT_RETRY_NS (1000 * 1000000LL)
#define ACCEPT_WARN_NS (10 * 1000000000LL)
struct accept_backoff {
    int64_t retry_at;          /* monotonic ns; accept again from then */
    uint64_t fails;            /* failures counted (the ignored ones not) */
    struct log_limit warn, full;
};
/* err from accept4 or pthread_create, what: "accept a client".  EINTR and
 * ECONNABORTED are ignored (false); EAGAIN counts as out of resources (as
 * pthread_create means it): a caller of a non-blocking accept4 does not
 * pass it.  true when the caller must stop accepting until ready. */
bool accept_backoff_fail(struct accept_backoff *b, const char *what, int err);
/* Whether accepting may go on at now (monotonic ns). */
bool accept_backoff_ready(const struct accept_backoff *b, int64_t now);
/* cap connections are open: a warning (rate-limited) that more wait. */
void accept_backoff_full(struct accept_backoff *b, int cap);

#endif
