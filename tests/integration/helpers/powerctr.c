/* powerctr.c -- test helper: a synthetic energy counter driven by the host's
 * real CPU utilisation.
 *
 *   powerctr FILE PERIOD_MS IDLE_W SPAN_W [START_UJ MAX_UJ]
 *
 * Every PERIOD_MS it reads /proc/stat and adds IDLE_W x dt + SPAN_W x the
 * busy CPU time of the period over the number of CPUs (busy = all but idle
 * and iowait, as tracekit's collector counts it) to a counter in
 * microjoules, i.e. P = IDLE_W + SPAN_W x u integrated; it writes the
 * counter to FILE (a new file renamed over it, so a reader never sees half a
 * number).  Busy time, not each period's ratio: busy time is accounted in
 * 10 ms ticks that arrive in lumps, and a short period without one would
 * lose them.  With MAX_UJ the counter wraps there (like powercap) and
 * max_energy_range_uj is written beside FILE.  Runs until SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int read_cpu(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return -1;
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    *busy = *total - v[3] - v[4];
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put(const char *path, unsigned long long v)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%llu\n", v);
    fclose(f);
    rename(tmp, path);
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 7) {
        fprintf(stderr, "usage: powerctr FILE PERIOD_MS IDLE_W SPAN_W [START_UJ MAX_UJ]\n");
        return 2;
    }
    const char *path = argv[1];
    long period = atol(argv[2]);
    double idle = atof(argv[3]), span = atof(argv[4]);
    unsigned long long ctr = argc == 7 ? strtoull(argv[5], NULL, 10) : 0;
    unsigned long long max = argc == 7 ? strtoull(argv[6], NULL, 10) : 0;
    if (max) {
        char range[4096];
        const char *slash = strrchr(path, '/');
        snprintf(range, sizeof range, "%.*smax_energy_range_uj",
                 slash ? (int)(slash - path + 1) : 0, path);
        put(range, max);
    }
    double hz = (double)sysconf(_SC_CLK_TCK), ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
    if (!(hz > 0) || !(ncpu > 0))
        return 1;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    unsigned long long b0, t0;
    if (read_cpu(&b0, &t0) < 0)
        return 1;
    double s0 = now_s();
    put(path, ctr);
    while (!stop) {
        usleep((useconds_t)period * 1000);
        unsigned long long b1, t1;
        if (read_cpu(&b1, &t1) < 0)
            return 1;
        double s1 = now_s();
        double busy_s = (double)(b1 - b0) / hz / ncpu;
        double uj = (idle * (s1 - s0) + span * busy_s) * 1e6;
        ctr += (unsigned long long)(uj + 0.5);
        if (max && ctr > max)
            ctr -= max;
        put(path, ctr);
        b0 = b1, t0 = t1, s0 = s1;
    }
    return 0;
}
