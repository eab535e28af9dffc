/* log.c -- log lines on stderr and the log file, and the command-line error style (see log.h). */
#include "common/log.h"

#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *command = "tracekit";
static enum log_level min_level = LOG_INFO;
static FILE *log_file;
static void (*before_write)(void);

void log_set_before_write(void (*fn)(void)) { before_write = fn; }

void log_set_command(const char *name) { command = name; }
void log_set_level(enum log_level level) { min_level = level; }

int log_set_file(const char *path)
{
    log_close();
    if (!path)
        return 0;
    /* the log may sit in a run folder: never follow a planted symlink */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, TK_FILE_MODE);
    if (fd < 0)
        return -1;
    log_file = fdopen(fd, "a");
    if (!log_file) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return 0;
}

void log_close(void)
{
    if (log_file)
        fclose(log_file);
    log_file = NULL;
}

/* UTC with milliseconds: "2026-12-02T15:44:20.123Z". */
static void stamp_now(char *when, size_t cap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(when, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < min_level)
        return;
    char when[40];
    stamp_now(when, sizeof when);

    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    if (before_write)
        before_write();
    /* One write per line so concurrent processes do not interleave. */
    char line[2200];
    int len = snprintf(line, sizeof line, "%s %-5s %s: %s\n", when, names[level], command, msg);
    if (len > (int)sizeof line - 1)
        len = (int)sizeof line - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)len);
    (void)w;
    if (log_file) {
        fwrite(line, 1, (size_t)len, log_file);
        fflush(log_file);
    }
}

void cli_error(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (before_write)
        before_write();
    fprintf(stderr, "tracekit %s: error: %s\n", command, msg);
    /* A run's log file must also say why a command refused to start: the
     * user reading it later has no terminal (a worker started by a unit). */
    if (log_file) {
        char when[40];
        stamp_now(when, sizeof when);
        fprintf(log_file, "%s error %s: usage: %s\n", when, command, msg);
        fflush(log_file);
    }
}

bool cli_int(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (parse_i64(s, min, max, out))
        return true;
    cli_error("invalid %s '%s': expected an integer from %lld to %lld", opt, s, (long long)min,
              (long long)max);
    return false;
}

bool cli_double(const char *opt, const char *s, double min, double max, double *out)
{
    if (parse_double(s, min, max, out))
        return true;
    cli_error("invalid %s '%s': expected a number from %g to %g", opt, s, min, max);
    return false;
}

bool cli_seconds(const char *opt, const char *s, int64_t *ms)
{
    double d;
    if (!parse_double(s, 0, 7 * 86400, &d)) {
        cli_error("invalid %s '%s': expected seconds from 0 to 604800", opt, s);
        return false;
    }
    *ms = (int64_t)llround(d * 1000);
    return true;
}

bool log_limit_pass(struct log_limit *l, int64_t interval_ns, uint64_t *held)
{
    int64_t now = now_mono_ns();
    if (l->next_ns && now < l->next_ns) {
        l->held++;
        return false;
    }
    *held = l->held;
    l->held = 0;
    l->next_ns = now + interval_ns;
    return true;
}
