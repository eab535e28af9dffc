/* cpubind.c -- CPU lists, the exclusive-binding CPU allocator and its state
 * file (see cpubind.h). */
#include "task/cpubind.h"
#include "collect/procid.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ---- CPU lists ---- */

static bool parse_cpu_num(const char *s, size_t n, int *out)
{
    if (n == 0 || n > 5)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v >= CPU_SETSIZE)
        return false;
    *out = v;
    return true;
}

int cpulist_parse(const char *s, cpu_set_t *out, char *err, size_t errlen)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *a = p, *z = p + n;
        while (a < z && isspace((unsigned char)*a))
            a++;
        while (z > a && isspace((unsigned char)z[-1]))
            z--;
        const char *dash = memchr(a, '-', (size_t)(z - a));
        int lo, hi;
        bool ok = dash ? parse_cpu_num(a, (size_t)(dash - a), &lo) &&
                             parse_cpu_num(dash + 1, (size_t)(z - dash - 1), &hi) && lo <= hi
                       : parse_cpu_num(a, (size_t)(z - a), &lo) && ((hi = lo), true);
        if (!ok) {
            snprintf(err, errlen,
                     "bad CPU list item '%.*s' in '%s': expected N or A-B (A <= B, below %d), "
                     "comma-separated",
                     (int)n, p, s, CPU_SETSIZE);
            return -1;
        }
        for (int c = lo; c <= hi; c++)
            CPU_SET(c, &set);
        if (!end)
            break;
        p = end + 1;
    }
    *out = set;
    return 0;
}

char *cpulist_format(const cpu_set_t *set)
{
    struct jb {
        char *p;
        size_t len, cap;
    } b = {xmalloc(64), 0, 64};
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
            e++;
        char item[32];
        int n = e == c ? snprintf(item, sizeof item, "%s%d", b.len ? "," : "", c)
                       : snprintf(item, sizeof item, "%s%d-%d", b.len ? "," : "", c, e);
        if (b.len + (size_t)n + 1 > b.cap) {
            b.cap = (b.cap + (size_t)n + 1) * 2;
            b.p = xrealloc(b.p, b.cap);
        }
        memcpy(b.p + b.len, item, (size_t)n);
        b.len += (size_t)n;
        c = e;
    }
    b.p[b.len] = '\0';
    return b.p;
}

/* ---- choosing CPUs ---- */

static int core_key(const int *core_of, int cpu)
{
    return core_of && core_of[cpu] >= 0 ? core_of[cpu] : -1 - cpu;
}

int cpu_pick(const cpu_set_t *allowed, const cpu_set_t *busy, const int *core_of, int n,
             cpu_set_t *out)
{
    /* The allowed CPUs in order, with their core's allowed and free counts. */
    int cpus[CPU_SETSIZE], key[CPU_SETSIZE], total[CPU_SETSIZE], nfree[CPU_SETSIZE];
    bool isfree[CPU_SETSIZE], taken[CPU_SETSIZE];
    int m = 0, avail = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, allowed))
            continue;
        cpus[m] = c;
        key[m] = core_key(core_of, c);
        isfree[m] = !CPU_ISSET(c, busy);
        taken[m] = false;
        avail += isfree[m];
        m++;
    }
    if (n <= 0 || avail < n)
        return -1;
    for (int i = 0; i < m; i++) {
        total[i] = nfree[i] = 0;
        for (int j = 0; j < m; j++)
            if (key[j] == key[i]) {
                total[i]++;
                nfree[i] += isfree[j];
            }
    }

    int left = n;
    /* 1. whole free cores that fit, in CPU order */
    for (int i = 0; i < m && left > 0; i++) {
        if (!isfree[i] || taken[i] || nfree[i] != total[i] || total[i] > left)
            continue;
        for (int j = i; j < m; j++)
            if (key[j] == key[i]) {
                taken[j] = true;
                left--;
            }
    }
    /* 2. free CPUs of partly used cores, fullest core first */
    for (int want = 1; want <= m && left > 0; want++)
        for (int i = 0; i < m && left > 0; i++)
            if (isfree[i] && !taken[i] && nfree[i] < total[i] && nfree[i] == want) {
                taken[i] = true;
                left--;
            }
    /* 3. anything left, in CPU order */
    for (int i = 0; i < m && left > 0; i++)
        if (isfree[i] && !taken[i]) {
            taken[i] = true;
            left--;
        }
    CPU_ZERO(out);
    for (int i = 0; i < m; i++)
        if (taken[i])
            CPU_SET(cpus[i], out);
    return 0;
}

/* ---- leases ---- */

void leases_add(struct cpu_leases *l, const struct cpu_lease *x)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = *x;
}

void leases_free(struct cpu_leases *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

void leases_parse(const char *text, struct cpu_leases *out)
{
    memset(out, 0, sizeof *out);
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char line[160];
        if (n > 0 && p[0] != '#') {
            struct cpu_lease x;
            int cpu, holder, task, used = 0;
            unsigned long long ht, tt;
            bool ok = n < sizeof line;
            if (ok) {
                memcpy(line, p, n);
                line[n] = '\0';
                ok = sscanf(line, "%d %d %llu %d %llu%n", &cpu, &holder, &ht, &task, &tt,
                            &used) == 5 &&
                     line[used] == '\0' && cpu >= 0 && cpu < CPU_SETSIZE && holder > 0 &&
                     task >= 0 && nl;  /* an unterminated last line is torn */
            }
            if (ok) {
                x.cpu = cpu;
                x.holder = holder;
                x.holder_ticks = ht;
                x.task = task;
                x.task_ticks = tt;
                leases_add(out, &x);
            } else {
                out->malformed++;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
}

char *leases_format(const struct cpu_leases *l)
{
    size_t cap = 32 + l->n * 96;
    char *s = xmalloc(cap);
    size_t len = (size_t)snprintf(s, cap, "# tracekit cpu leases v1\n");
    for (size_t i = 0; i < l->n; i++) {
        const struct cpu_lease *x = &l->v[i];
        len += (size_t)snprintf(s + len, cap - len, "%d %d %" PRIu64 " %d %" PRIu64 "\n", x->cpu,
                                (int)x->holder, x->holder_ticks, (int)x->task, x->task_ticks);
    }
    return s;
}

size_t leases_prune(struct cpu_leases *l, lease_alive_fn alive, void *ud)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct cpu_lease *x = &l->v[i];
        bool live = alive(x->holder, x->holder_ticks, ud) ||
                    (x->task > 0 && alive(x->task, x->task_ticks, ud));
        if (live)
            l->v[kept++] = *x;
        else
            dropped++;
    }
    l->n = kept;
    return dropped;
}

size_t leases_drop_holder(struct cpu_leases *l, pid_t holder, uint64_t holder_ticks)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].holder == holder && l->v[i].holder_ticks == holder_ticks)
            dropped++;
        else
            l->v[kept++] = l->v[i];
    }
    l->n = kept;
    return dropped;
}

void leases_busy(const struct cpu_leases *l, cpu_set_t *busy)
{
    CPU_ZERO(busy);
    for (size_t i = 0; i < l->n; i++)
        CPU_SET(l->v[i].cpu, busy);
}

/* ---- the state file ---- */

static bool alive_proc(pid_t pid, uint64_t ticks, void *ud)
{
    (void)ud;
    return procid_alive(pid, ticks);
}

/* Open and lock the state file, read its leases and prune dead ones. */
static int state_open(const char *path, struct cpu_leases *l)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
    }
    char *text = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            text = xrealloc(text, cap);
        }
        ssize_t n = pread(fd, text + len, cap - len - 1, (off_t)len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(text);
            close(fd);
            errno = e;
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    text[len] = '\0';
    leases_parse(text, l);
    free(text);
    leases_prune(l, alive_proc, NULL);
    return fd;
}

/* Rewrite the whole file in place (we hold the lock) and unlock. */
static int state_store(int fd, const struct cpu_leases *l)
{
    char *text = leases_format(l);
    size_t len = strlen(text), off = 0;
    int rc = ftruncate(fd, 0);
    while (rc == 0 && off < len) {
        ssize_t w = pwrite(fd, text + off, len - off, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = -1;
        else
            off += (size_t)w;
    }
    int e = errno;
    free(text);
    close(fd);  /* also drops the lock */
    errno = e;
    return rc;
}

int cpualloc_acquire(const char *state_path, const cpu_set_t *pool, int n,
                     const struct cpu_holder *h, cpu_set_t *got, char *err, size_t errlen)
{
    struct cpu_leases l;
    int fd = state_open(state_path, &l);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open CPU lease file %s: %s", state_path, strerror(errno));
        return -1;
    }
    static int core_of[CPU_SETSIZE];
    cpu_topology_read(core_of);
    cpu_set_t busy;
    leases_busy(&l, &busy);
    if (cpu_pick(pool, &busy, core_of, n, got) < 0) {
        cpu_set_t busy_in_pool;
        CPU_AND(&busy_in_pool, &busy, pool);
        char *ps = cpulist_format(pool), *bs = cpulist_format(&busy_in_pool);
        snprintf(err, errlen, "need %d free CPU%s out of %s, but %s %s held by other tasks", n,
                 n == 1 ? "" : "s", ps, *bs ? bs : "none",
                 CPU_COUNT(&busy_in_pool) == 1 ? "is" : "are");
        free(ps);
        free(bs);
        state_store(fd, &l);  /* keep the pruning */
        leases_free(&l);
        return 1;
    }
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, got))
            continue;
        struct cpu_lease x = {c, h->pid, h->ticks, h->task, h->task_ticks};
        leases_add(&l, &x);
    }
    int rc = state_store(fd, &l);
    leases_free(&l);
    if (rc < 0) {
        snprintf(err, errlen, "cannot write CPU lease file %s: %s", state_path, strerror(errno));
        return -1;
    }
    return 0;
}

int cpualloc_release(const char *state_path, const struct cpu_holder *h)
{
    struct cpu_leases l;
    int fd = state_open(state_path, &l);
    if (fd < 0)
        return -1;
    leases_drop_holder(&l, h->pid, h->ticks);
    int rc = state_store(fd, &l);
    leases_free(&l);
    return rc;
}

void cpu_topology_read(int core_of[CPU_SETSIZE])
{
    for (int c = 0; c < CPU_SETSIZE; c++) {
        core_of[c] = -1;
        char path[96];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", c);
        char *core = read_file(path, NULL);
        if (!core) {
            if (c > 0 && errno == ENOENT) {
                /* CPU numbers can have holes; stop after a long gap only. */
                bool any = false;
                for (int d = c + 1; d < c + 8 && d < CPU_SETSIZE; d++) {
                    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d", d);
                    if (is_dir(path)) {
                        any = true;
                        break;
                    }
                }
                if (!any)
                    break;
            }
            continue;
        }
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id",
                 c);
        char *pkg = read_file(path, NULL);
        int64_t ci, pi = 0;
        if (parse_i64(str_trim(core), 0, 65535, &ci) &&
            (!pkg || parse_i64(str_trim(pkg), 0, 32767, &pi)))
            core_of[c] = (int)(pi * 65536 + ci);
        free(core);
        free(pkg);
    }
}

const char *cpu_binding_name(enum cpu_binding b)
{
    return b == BIND_EXCLUSIVE ? "exclusive" : b == BIND_SHARED ? "shared" : "none";
}

bool cpu_binding_parse(const char *s, enum cpu_binding *out)
{
    static const enum cpu_binding all[] = {BIND_NONE, BIND_EXCLUSIVE, BIND_SHARED};
    for (size_t i = 0; i < ARRAY_LEN(all); i++)
        if (!strcmp(s, cpu_binding_name(all[i]))) {
            *out = all[i];
            return true;
        }
    return false;
}
