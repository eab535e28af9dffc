/* procfs.c -- parsers and readers of /proc/PID/stat, status, io and the host
 * files (see procfs.h). */
#include "collect/procfs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unsigned decimal at *p, advancing past it; false if there is none. */
static bool take_u64(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    if (s >= end || !isdigit((unsigned char)*s))
        return false;
    uint64_t x = 0;
    while (s < end && isdigit((unsigned char)*s))
        x = x * 10 + (uint64_t)(*s++ - '0');
    *v = x;
    *p = s;
    return true;
}

static bool take_i64(const char **p, const char *end, int64_t *v)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    bool neg = s < end && *s == '-';
    if (neg)
        s++;
    uint64_t u;
    if (!take_u64(&s, end, &u))
        return false;
    *v = neg ? -(int64_t)u : (int64_t)u;
    *p = s;
    return true;
}

static bool skip_field(const char **p, const char *end)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    if (s >= end)
        return false;
    while (s < end && *s != ' ' && *s != '\n')
        s++;
    *p = s;
    return true;
}

int procfs_parse_stat(const char *buf, size_t len, struct proc_stat *out)
{
    const char *end = buf + len;
    const char *open = memchr(buf, '(', len);
    const char *close = NULL;
    for (const char *s = end - 1; s > buf; s--)
        if (*s == ')') {
            close = s;
            break;
        }
    if (!open || !close || close < open)
        return -1;

    const char *p = buf;
    uint64_t pid;
    if (!take_u64(&p, open, &pid))
        return -1;
    out->pid = (int)pid;
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof out->comm)
        n = sizeof out->comm - 1;
    memcpy(out->comm, open + 1, n);
    out->comm[n] = '\0';

    p = close + 1;
    while (p < end && *p == ' ')
        p++;
    if (p >= end)
        return -1;
    out->state = *p++;  /* field 3 */

    int64_t ppid;
    if (!take_i64(&p, end, &ppid))  /* 4 */
        return -1;
    out->ppid = (int)ppid;
    for (int f = 5; f <= 13; f++)   /* pgrp .. cmajflt */
        if (!skip_field(&p, end))
            return -1;
    if (!take_u64(&p, end, &out->utime) || !take_u64(&p, end, &out->stime))  /* 14, 15 */
        return -1;
    for (int f = 16; f <= 19; f++)  /* cutime cstime priority nice */
        if (!skip_field(&p, end))
            return -1;
    if (!take_i64(&p, end, &out->num_threads))  /* 20 */
        return -1;
    if (!skip_field(&p, end))                   /* 21 itrealvalue */
        return -1;
    if (!take_u64(&p, end, &out->start_ticks))  /* 22 */
        return -1;
    if (!skip_field(&p, end))                   /* 23 vsize */
        return -1;
    if (!take_i64(&p, end, &out->rss_pages))    /* 24 */
        return -1;
    return 0;
}

int procfs_parse_schedstat(const char *buf, uint64_t *run_ns, uint64_t *delay_ns)
{
    const char *p = buf, *end = buf + strlen(buf);
    uint64_t delay;
    if (!take_u64(&p, end, run_ns) || !take_u64(&p, end, &delay))
        return -1;
    if (delay_ns)
        *delay_ns = delay;
    return 0;
}

int procfs_parse_cpu(const char *buf, struct cpu_times *out)
{
    const char *line = buf;
    while (line && strncmp(line, "cpu ", 4) != 0) {
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    if (!line)
        return -1;
    const char *p = line + 4, *end = strchr(line, '\n');
    if (!end)
        end = line + strlen(line);
    uint64_t v[8] = {0};
    int got = 0;
    while (got < 8 && take_u64(&p, end, &v[got]))
        got++;
    if (got < 4)
        return -1;
    out->user = v[0];
    out->nice = v[1];
    out->system = v[2];
    out->idle = v[3];
    out->iowait = v[4];
    out->irq = v[5];
    out->softirq = v[6];
    out->steal = v[7];
    return 0;
}

int64_t procfs_parse_btime(const char *buf)
{
    const char *p = strstr(buf, "\nbtime ");
    if (!p)
        return 0;
    p += 7;
    uint64_t v;
    return take_u64(&p, p + strlen(p), &v) ? (int64_t)v : 0;
}

int procfs_parse_meminfo(const char *buf, struct meminfo *out)
{
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"MemTotal:", offsetof(struct meminfo, total_kb)},
        {"MemFree:", offsetof(struct meminfo, free_kb)},
        {"MemAvailable:", offsetof(struct meminfo, available_kb)},
        {"Buffers:", offsetof(struct meminfo, buffers_kb)},
        {"Cached:", offsetof(struct meminfo, cached_kb)},
    };
    out->total_kb = out->free_kb = out->available_kb = out->buffers_kb = out->cached_kb = -1;
    for (const char *line = buf; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            size_t kl = strlen(keys[i].key);
            if ((size_t)(end - line) > kl && memcmp(line, keys[i].key, kl) == 0) {
                const char *p = line + kl;
                uint64_t v;
                if (take_u64(&p, end, &v))
                    *(int64_t *)((char *)out + keys[i].off) = (int64_t)v;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (out->total_kb < 0)
        return -1;
    /* Kernels before 3.14 have no MemAvailable: estimate it like free(1) did. */
    if (out->available_kb < 0)
        out->available_kb = out->free_kb + (out->buffers_kb > 0 ? out->buffers_kb : 0) +
                            (out->cached_kb > 0 ? out->cached_kb : 0);
    return 0;
}

int procfs_parse_netdev(const char *buf, struct netdev *out, int max)
{
    int count = 0;
    for (const char *line = buf; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        const char *colon = memchr(line, ':', (size_t)(end - line));
        if (colon) {
            const char *s = line;
            while (s < colon && *s == ' ')
                s++;
            uint64_t v[10];
            const char *p = colon + 1;
            int got = 0;
            while (got < 10 && take_u64(&p, end, &v[got]))
                got++;
            if (got == 10 && colon > s) {
                if (count < max) {
                    struct netdev *d = &out[count];
                    size_t n = (size_t)(colon - s);
                    if (n >= sizeof d->name)
                        n = sizeof d->name - 1;
                    memcpy(d->name, s, n);
                    d->name[n] = '\0';
                    /* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets */
                    d->rx_bytes = v[0];
                    d->rx_packets = v[1];
                    d->tx_bytes = v[8];
                    d->tx_packets = v[9];
                }
                count++;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return count;
}

char *procfs_parse_default_iface(const char *buf)
{
    /* Iface Destination Gateway Flags ... ; the default route has Destination 00000000. */
    for (const char *line = buf; line && *line;) {
        const char *nl = strchr(line, '\n');
        char iface[64], dest[64];
        if (sscanf(line, "%63s %63s", iface, dest) == 2 && strcmp(dest, "00000000") == 0)
            return strdup(iface);
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

void procfs_parse_cpuinfo(const char *buf, char *model, size_t model_len, double *mhz)
{
    if (model_len)
        model[0] = '\0';
    *mhz = 0;
    bool have_model = false, have_mhz = false;
    for (const char *line = buf; line && *line && !(have_model && have_mhz);) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        const char *colon = memchr(line, ':', ll);
        if (colon) {
            size_t kl = (size_t)(colon - line);
            while (kl > 0 && (line[kl - 1] == ' ' || line[kl - 1] == '\t'))
                kl--;
            const char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vl = (size_t)(line + ll - v);
            if (!have_model && kl == 10 && strncmp(line, "model name", 10) == 0 && model_len) {
                if (vl >= model_len)
                    vl = model_len - 1;
                memcpy(model, v, vl);
                model[vl] = '\0';
                have_model = true;
            } else if (!have_mhz && kl == 7 && strncmp(line, "cpu MHz", 7) == 0) {
                *mhz = strtod(v, NULL);
                have_mhz = true;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
}

void procfs_format_cpulist(const unsigned char *set, int n, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (!set[i])
            continue;
        int j = i;
        while (j + 1 < n && set[j + 1])
            j++;
        int w = j > i ? snprintf(out + len, outlen - len, "%s%d-%d", len ? "," : "", i, j)
                      : snprintf(out + len, outlen - len, "%s%d", len ? "," : "", i);
        if (w < 0 || (size_t)w >= outlen - len)
            break;
        len += (size_t)w;
        i = j;
    }
}
