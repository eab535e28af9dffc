/* burn.c -- test helper: burn a known amount of CPU and report the truth.
 *
 *   burn MS [CHILDREN [ORPHAN_MS]] REPORT
 *
 * Spins until its own CPU time reaches MS, optionally forks CHILDREN that
 * each burn MS and are waited for, optionally leaves one orphan (detached
 * grandchild) burning ORPHAN_MS after this process exits.  Appends
 * "total_us" lines to REPORT: the CPU time (user+sys, from getrusage) of
 * this process and its waited children, and one line from the orphan. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long cpu_us(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

static void spin(long ms)
{
    struct timespec ts;
    volatile unsigned long x = 0;
    for (;;) {
        for (int i = 0; i < 10000; i++)
            x += (unsigned long)i * 2654435761u;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        if (ts.tv_sec * 1000L + ts.tv_nsec / 1000000L >= ms)
            break;
    }
}

static void report(const char *path, const char *who, long long us)
{
    FILE *f = fopen(path, "a");
    if (!f)
        exit(3);
    fprintf(f, "%s %lld\n", who, us);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: burn MS [CHILDREN [ORPHAN_MS]] REPORT\n");
        return 2;
    }
    long ms = atol(argv[1]);
    int kids = argc >= 4 ? atoi(argv[2]) : 0;
    long orphan_ms = argc >= 5 ? atol(argv[3]) : 0;
    const char *rep = argv[argc - 1];

    if (orphan_ms > 0) {
        pid_t p = fork();
        if (p == 0) {
            if (fork() == 0) {   /* grandchild: outlives us */
                setsid();
                usleep(100000);  /* let the parent exit first */
                spin(orphan_ms);
                report(rep, "orphan", cpu_us(RUSAGE_SELF));
                _exit(0);
            }
            _exit(0);
        }
        waitpid(p, NULL, 0);
    }
    for (int i = 0; i < kids; i++)
        if (fork() == 0) {
            spin(ms);
            _exit(0);
        }
    spin(ms);
    while (wait(NULL) > 0)
        ;
    report(rep, "main", cpu_us(RUSAGE_SELF) + cpu_us(RUSAGE_CHILDREN));
    return 0;
}
