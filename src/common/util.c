/* util.c -- allocation, clocks, sleeps, strict numbers, comparators and paths (see util.h). */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <ctype.h>
#include <math.h>
#include <libgen.h>

_Noreturn void tk_bug(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tracekit: BUG at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

static void oom(void)
{
    fputs("tracekit: out of memory\n", stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom();
    return p;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        oom();
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    return s;
}

int64_t now_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

bool sleep_ms_or_stop(int64_t ms, const volatile sig_atomic_t *stop)
{
    while (ms > 0 && !*stop) {
        int64_t step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL); /* a signal ends it early: *stop is checked again */
        ms -= step;
    }
    return *stop != 0;
}

int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

size_t argv_len(char *const *argv)
{
    size_t n = 0;
    while (argv && argv[n])
        n++;
    return n;
}

double timeval_ms(const struct timeval *tv)
{
    return (double)tv->tv_sec * 1000.0 + (double)tv->tv_usec / 1000.0;
}

bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool parse_double(const char *s, double min, double max, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int mkdir_p(const char *path, unsigned mode)
{
    char *p = xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            int e = errno;
            free(p);
            errno = e;
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, mode);
    int e = errno;
    if (rc < 0 && e == EEXIST && is_dir(p))
        rc = 0;
    free(p);
    errno = e;
    return rc;
}

bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

char *path_join(const char *a, const char *b)
{
    if (!a || !*a)
        return xstrdup(b);
    if (b[0] == '/')
        return xstrdup(b);
    size_t la = strlen(a);
    return xasprintf("%s%s%s", a, a[la - 1] == '/' ? "" : "/", b);
}

char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = read_fd(fd, len);
    int e = errno;
    close(fd);
    errno = e;
    return buf;
}

char *read_fd(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int open_tmp_excl(const char *path, unsigned mode, char **tmp)
{
    for (int tries = 0; tries < 100; tries++) {
        uint32_t rnd;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
            rnd = (uint32_t)now_mono_ns() ^ ((uint32_t)getpid() << 16) ^ (uint32_t)tries;
        char *t = xasprintf("%s.tmp.%08x", path, rnd);
        int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0) {
            *tmp = t;
            return fd;
        }
        int e = errno;
        free(t);
        if (e != EEXIST) {
            errno = e;
            return -1;
        }
    }
    errno = EEXIST;
    return -1;
}

int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int pread_full(int fd, void *p, size_t n, uint64_t off)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = pread(fd, c, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return -1;
        }
        c += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len)
{
    char *tmp;
    int fd = open_tmp_excl(path, TK_FILE_MODE, &tmp);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) < 0)
        goto fail;
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    /* Make the rename itself durable. */
    char *dcopy = xstrdup(path);
    int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dcopy);
    free(tmp);
    return 0;
fail:;
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    errno = e;
    return -1;
}

int open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    int e = 0;
    if (fstat(fd, &st) < 0)
        e = errno;
    else if (!S_ISREG(st.st_mode))
        e = EINVAL;
    else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
        e = errno;
    if (e) {
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

const char *open_strerror(int e)
{
    if (e == ELOOP)
        return "it is a symbolic link (not followed)";
    if (e == EINVAL)
        return "not a regular file (a FIFO, a device or a folder)";
    return strerror(e);
}

char *str_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

bool str_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int nofile_cap(int want, int fds_per_conn, int reserve)
{
    if (want < 1)
        want = 1;
    if (fds_per_conn < 1)
        fds_per_conn = 1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return want;
    rlim_t need = (rlim_t)want * (rlim_t)fds_per_conn + (rlim_t)reserve;
    if (rl.rlim_cur < need && (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > rl.rlim_cur)) {
        struct rlimit up = {rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need,
                            rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = up.rlim_cur;
    }
    if (rl.rlim_cur >= need)
        return want;
    rlim_t room = rl.rlim_cur > (rlim_t)reserve ? (rl.rlim_cur - (rlim_t)reserve) / (rlim_t)fds_per_conn : 0;
    int cap = room >= 1 ? (int)room : 1;
    log_warn("--max-conns %d capped to %d: the open files limit (ulimit -n) is %llu; each "
             "connection needs %d and the server keeps %d",
             want, cap, (unsigned long long)rl.rlim_cur, fds_per_conn, reserve);
    return cap;
}

bool accept_backoff_fail(struct accept_backoff *b, const char *what, int err)
{
    if (err == EINTR || err == ECONNABORTED)
        return false;
    b->fails++;
    bool starved = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM || err == EAGAIN;
    if (starved)
        b->retry_at = now_mono_ns() + ACCEPT_RETRY_NS;
    uint64_t held;
    if (log_limit_pass(&b->warn, ACCEPT_WARN_NS, &held))
        log_warn("cannot %s: %s%s (%llu more such failures in the last %d s)", what, strerror(err),
                 starved ? "; waiting 1 s (raise ulimit -n or lower --max-conns)" : "",
                 (unsigned long long)held, (int)(ACCEPT_WARN_NS / 1000000000LL));
    return starved;
}

bool accept_backoff_ready(const struct accept_backoff *b, int64_t now)
{
    return now >= b->retry_at;
}

void accept_backoff_full(struct accept_backoff *b, int cap)
{
    uint64_t held;
    if (log_limit_pass(&b->full, ACCEPT_WARN_NS, &held))
        log_warn("%d connections at once (--max-conns): more wait in the backlog", cap);
}
