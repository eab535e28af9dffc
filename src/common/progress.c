/* progress.c -- the status line of progress.h. */
#include "common/progress.h"

#include "common/log.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define REDRAW_NS 250000000LL   /* 4 a second: readable, and cheap on a slow terminal */

struct progress {
    char label[64];
    int64_t last_ns;   /* when the line was last drawn; 0 = draw at the next update */
    size_t shown;      /* characters on the terminal now (0 = nothing shown) */
    int cols;
};

static struct progress *active;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void put(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return;   /* a closed terminal: nothing to do about it */
        s += w;
        n -= (size_t)w;
    }
}

/* "\r", spaces over what is shown, "\r": works on any terminal, even TERM=dumb. */
static void clear(struct progress *p)
{
    if (!p->shown)
        return;
    char buf[512];
    size_t n = p->shown < sizeof buf - 2 ? p->shown : sizeof buf - 2;
    buf[0] = '\r';
    memset(buf + 1, ' ', n);
    buf[n + 1] = '\r';
    put(buf, n + 2);
    p->shown = 0;
}

/* log.c calls this before writing a line. */
static void before_log(void)
{
    if (active) {
        clear(active);
        active->last_ns = 0;
    }
}

struct progress *progress_begin(const char *label, bool quiet)
{
    if (quiet || active || !isatty(STDERR_FILENO))
        return NULL;
    struct progress *p = xcalloc(1, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    struct winsize ws;
    p->cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 ? ws.ws_col : 80;
    if (p->cols > 400)
        p->cols = 400;
    active = p;
    log_set_before_write(before_log);
    return p;
}

void progress_update(struct progress *p, const char *fmt, ...)
{
    if (!p)
        return;
    int64_t now = mono_ns();
    if (p->last_ns && now - p->last_ns < REDRAW_NS)
        return;
    p->last_ns = now;
    char line[512];
    int n = snprintf(line, sizeof line, "\r%s: ", p->label);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    /* one column short of the width, so the terminal never wraps */
    if (len - 1 > (size_t)p->cols - 1)
        len = (size_t)p->cols;
    size_t text = len - 1;
    if (text < p->shown) {   /* blank the tail of a longer previous line */
        size_t pad = p->shown - text;
        if (len + pad > sizeof line)
            pad = sizeof line - len;
        memset(line + len, ' ', pad);
        len += pad;
    }
    put(line, len);
    p->shown = text;
}

void progress_end(struct progress *p)
{
    if (!p)
        return;
    clear(p);
    if (active == p) {
        active = NULL;
        log_set_before_write(NULL);
    }
    free(p);
}

double progress_eta(double mean_s, const double *running_s, size_t nrunning, size_t waiting)
{
    if (!(mean_s > 0) || (nrunning == 0 && waiting == 0))
        return -1;
    double sum = 0, max = 0, min = -1;
    for (size_t i = 0; i < nrunning; i++) {
        double r = mean_s - running_s[i];
        if (r < 0)
            r = 0;   /* overdue: any moment now */
        sum += r;
        if (r > max)
            max = r;
        if (min < 0 || r < min)
            min = r;
    }
    if (waiting == 0)
        return max >= 0.5 ? max : -1;
    size_t slots = nrunning ? nrunning : 1;
    double eta = (sum + (double)waiting * mean_s) / (double)slots;
    /* whole waves: the last waiting task starts when a slot frees and runs mean_s */
    size_t waves = (waiting + slots - 1) / slots;
    double by_waves = (min > 0 ? min : 0) + (double)waves * mean_s;
    if (by_waves > eta)
        eta = by_waves;
    return eta > max ? eta : max;
}
