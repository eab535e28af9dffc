/* log.h -- one line per event on stderr (or a log file): time, level,
 * command, message.  Secrets never reach here: callers redact first. */
#ifndef TK_LOG_H
#define TK_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Name shown in every line ("collect", "exec", ...). */
void log_set_command(const char *name);
void log_set_level(enum log_level level);
/* Also append every line to this file (NULL to stop; created TK_FILE_MODE,
 * a symlink refused).  Returns 0 or -1 with errno. */
int log_set_file(const char *path);
void log_close(void);
/* Called before every line is written (progress.c clears its status line);
 * NULL for none. */
void log_set_before_write(void (*fn)(void));

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* A plain, untimed "tracekit COMMAND: error: ..." line for command-line
 * mistakes, where a timestamp would only be noise. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Option values: true, or false after a cli_error naming the option (as
 * given, e.g. "--parallel"), the value and the range expected. */
#include <stdbool.h>
#include <stdint.h>
bool cli_int(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out);
bool cli_double(const char *opt, const char *s, double min, double max, double *out);
/* Seconds (fractions allowed, 0 to 7 days) into milliseconds. */
bool cli_seconds(const char *opt, const char *s, int64_t *ms);

/* A warning that could repeat thousands of times a second (accept failing
 * with EMFILE) is written once per interval at most: log_limit_pass answers
 * whether a line may be written now and then sets *held to the number of
 * lines held back since the last one, for the line to say.  Zeroed to start. */
struct log_limit {
    int64_t next_ns;   /* monotonic */
    uint64_t held;
};
bool log_limit_pass(struct log_limit *l, int64_t interval_ns, uint64_t *held);
#endif
