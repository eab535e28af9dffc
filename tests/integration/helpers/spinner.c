/* spinner.c -- test helper: burn CPU in N threads and report the truth.
 *
 *   spinner CPU_MS|wall:MS THREADS EVERY_MS REPORT
 *
 * With CPU_MS, spin until the process has used that much CPU; with
 * wall:MS, spin for that much wall time.  THREADS threads spin (the main
 * thread is one of them).  Every EVERY_MS (0 = never) the main thread
 * appends "at MONO_US CPU_US GAP_US" to REPORT (its process's getrusage,
 * read between two clock readings GAP_US apart: MONO_US is their middle),
 * and at the end "final PID CPU_US DELAY_US WALL_US": the process's own CPU
 * total just before exit, the main thread's run delay then (its
 * /proc/thread-self/schedstat) and the wall time it ran. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static long long delay_us(void)
{
    unsigned long long run = 0, delay = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &run, &delay) != 2)
            delay = 0;
        fclose(f);
    }
    return (long long)(delay / 1000);
}

static long long wall_end_us, cpu_end_us;

static long long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long long cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

static int done(void)
{
    if (wall_end_us)
        return mono_us() >= wall_end_us;
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000 >= cpu_end_us;
}

static void *spin(void *arg)
{
    volatile unsigned long x = 0;
    (void)arg;
    while (!done())
        for (int i = 0; i < 2000; i++)
            x += (unsigned long)i * 2654435761u;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: spinner CPU_MS|wall:MS THREADS EVERY_MS REPORT\n");
        return 2;
    }
    long long t0 = mono_us();
    if (strncmp(argv[1], "wall:", 5) == 0)
        wall_end_us = mono_us() + atoll(argv[1] + 5) * 1000;
    else
        cpu_end_us = atoll(argv[1]) * 1000;
    int threads = atoi(argv[2]);
    long long every = atoll(argv[3]) * 1000;
    FILE *rep = fopen(argv[4], "a");
    if (!rep || threads < 1 || threads > 64)
        return 2;
    setvbuf(rep, NULL, _IOLBF, 0);
    pthread_t t[64];
    for (int i = 1; i < threads; i++)
        pthread_create(&t[i], NULL, spin, NULL);
    long long next = mono_us() + every;
    volatile unsigned long x = 0;
    while (!done()) {
        for (int i = 0; i < 2000; i++)
            x += (unsigned long)i * 2654435761u;
        if (every && mono_us() >= next) {
            long long a = mono_us(), c = cpu_us(), b = mono_us();
            fprintf(rep, "at %lld %lld %lld\n", (a + b) / 2, c, b - a);
            next += every;
        }
    }
    for (int i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
    fprintf(rep, "final %d %lld %lld %lld\n", (int)getpid(), cpu_us(), delay_us(), mono_us() - t0);
    fclose(rep);
    return 0;
}
