/* procid.c -- a process's (pid, start ticks) identity from /proc/PID/stat (see procid.h). */
#include "collect/procid.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int procid_parse_stat(const char *text, uint64_t *start_ticks, pid_t *ppid)
{
    const char *p = strrchr(text, ')');
    if (!p || p[1] != ' ')
        return -1;
    p += 2;
    /* p is at field 3 (state); walk to fields 4 and 22. */
    uint64_t ticks = 0;
    long long parent = -1;
    for (int field = 3; field <= 22; field++) {
        if (!*p)
            return -1;
        const char *end = strchr(p, ' ');
        if (field == 4 || field == 22) {
            char *e;
            errno = 0;
            unsigned long long v = strtoull(p, &e, 10);
            if (errno || e == p || (*e != ' ' && *e != '\n' && *e != '\0'))
                return -1;
            if (field == 4)
                parent = (long long)v;
            else
                ticks = v;
        }
        if (field < 22) {
            if (!end)
                return -1;
            p = end + 1;
        }
    }
    if (start_ticks)
        *start_ticks = ticks;
    if (ppid)
        *ppid = (pid_t)parent;
    return 0;
}

int procid_read(pid_t pid, uint64_t *start_ticks, pid_t *ppid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            errno = ESRCH;
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n <= 0) {
        errno = n < 0 ? e : ESRCH;
        return -1;
    }
    buf[n] = '\0';
    if (procid_parse_stat(buf, start_ticks, ppid) < 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

bool procid_alive(pid_t pid, uint64_t start_ticks)
{
    uint64_t t;
    if (pid <= 0 || procid_read(pid, &t, NULL) < 0)
        return false;
    return t == start_ticks;
}
