/* cgroup.c -- per-task cgroups on v1 and v2: detection, creation, attach,
 * removal (see cgroup.h). */
#include "task/cgroup.h"
#include "collect/procid.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- detection ---- */

bool cgroup_list_has(const char *list, const char *ctrl)
{
    size_t n = strlen(ctrl);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',' || *p == '\n')
            p++;
        size_t len = strcspn(p, " ,\n");
        if (len == n && memcmp(p, ctrl, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* mountinfo escapes blanks and backslashes as \ooo. */
static char *unescape(const char *s, size_t n)
{
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 3 < n + 1 && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            *o++ = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

int cgroup_parse_mountinfo(const char *text, struct cgroup_sys *out)
{
    memset(out, 0, sizeof *out);
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *l = xmalloc(len + 1);
        memcpy(l, line, len);
        l[len] = '\0';
        line = nl ? nl + 1 : NULL;

        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
        char *sep = strstr(l, " - ");
        char *fields[5];
        int nf = 0;
        char *save = NULL;
        if (sep) {
            *sep = '\0';
            for (char *f = strtok_r(l, " ", &save); f && nf < 5; f = strtok_r(NULL, " ", &save))
                fields[nf++] = f;
        }
        if (nf == 5) {
            char *rest = sep + 3, *fstype = strtok_r(rest, " ", &save);
            char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
            char *super = source ? strtok_r(NULL, " ", &save) : NULL;
            const char *mnt = fields[4];
            if (fstype && !strcmp(fstype, "cgroup2") && !out->v2) {
                out->v2 = unescape(mnt, strlen(mnt));
            } else if (fstype && !strcmp(fstype, "cgroup") && super) {
                if (cgroup_list_has(super, "cpu") && !out->v1_cpu)
                    out->v1_cpu = unescape(mnt, strlen(mnt));
                if (cgroup_list_has(super, "cpuset") && !out->v1_cpuset)
                    out->v1_cpuset = unescape(mnt, strlen(mnt));
                if (cgroup_list_has(super, "cpuacct") && !out->v1_cpuacct)
                    out->v1_cpuacct = unescape(mnt, strlen(mnt));
                if (cgroup_list_has(super, "memory") && !out->v1_memory)
                    out->v1_memory = unescape(mnt, strlen(mnt));
            }
        }
        free(l);
    }
    return 0;
}

void cgroup_sys_detect(struct cgroup_sys *out)
{
    char *text = read_file("/proc/self/mountinfo", NULL);
    cgroup_parse_mountinfo(text ? text : "", out);
    free(text);
    if (out->v2) {
        char *p = path_join(out->v2, "cgroup.controllers");
        char *ctl = read_file(p, NULL);
        out->v2_cpu = ctl && cgroup_list_has(ctl, "cpu");
        out->v2_cpuset = ctl && cgroup_list_has(ctl, "cpuset");
        free(ctl);
        free(p);
    }
}

void cgroup_sys_free(struct cgroup_sys *s)
{
    free(s->v2);
    free(s->v1_cpu);
    free(s->v1_cpuset);
    free(s->v1_cpuacct);
    free(s->v1_memory);
    memset(s, 0, sizeof *s);
}

/* ---- conversions ---- */

int cgroup_weight_clamp(long long w)
{
    return w < CGROUP_WEIGHT_MIN ? CGROUP_WEIGHT_MIN : w > CGROUP_WEIGHT_MAX ? CGROUP_WEIGHT_MAX : (int)w;
}

long long cgroup_v1_shares(int weight)
{
    long long s = (long long)weight * 1024 / 100;
    return s < 2 ? 2 : s > 262144 ? 262144 : s;
}

long long cgroup_quota_us(int pct)
{
    long long q = (long long)pct * CGROUP_PERIOD_US / 100;
    return q < 1000 ? 1000 : q;
}

bool cgroup_path_valid(const char *path)
{
    if (!path || !*path || strlen(path) > 200 || path[0] == '/')
        return false;
    const char *p = path;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        for (size_t i = 0; i < n; i++) {
            char c = p[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-' || c == ':' || c == '@';
            if (!ok)
                return false;
        }
        if (!p[n])
            return true;
        p += n + 1;
    }
}

/* ---- file helpers ---- */

static int write_str(const char *dir, const char *file, const char *value)
{
    char *p = path_join(dir, file);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    free(p);
    if (fd < 0)
        return -1;
    size_t n = strlen(value);
    ssize_t w = write(fd, value, n);
    int e = errno;
    close(fd);
    if (w != (ssize_t)n) {
        errno = w < 0 ? e : EIO;
        return -1;
    }
    return 0;
}

static char *read_trimmed(const char *dir, const char *file)
{
    char *p = path_join(dir, file);
    char *v = read_file(p, NULL);
    free(p);
    if (v) {
        char *t = str_trim(v);
        memmove(v, t, strlen(t) + 1);
    }
    return v;
}

/* A stale group of the same name (a crashed run) is empty: remove it. */
static int mkdir_fresh(const char *dir)
{
    if (mkdir(dir, 0755) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    if (rmdir(dir) < 0) {
        errno = EEXIST;
        return -1;
    }
    return mkdir(dir, 0755);
}

/* v2: enable a controller for the children of root and of every level of
 * parent, creating the levels. */
static int v2_prepare(const char *root, const char *parent, const char *ctrl)
{
    char *plus = xasprintf("+%s", ctrl);
    char *dir = xstrdup(root);
    int rc = 0;
    const char *p = parent;
    for (;;) {
        char *ctl = read_trimmed(dir, "cgroup.subtree_control");
        if (!ctl || !cgroup_list_has(ctl, ctrl))
            rc = write_str(dir, "cgroup.subtree_control", plus);
        free(ctl);
        if (rc < 0 || !*p)
            break;
        size_t n = strcspn(p, "/");
        char *next = xasprintf("%s/%.*s", dir, (int)n, p);
        free(dir);
        dir = next;
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            rc = -1;
            break;
        }
        p += n + (p[n] == '/');
    }
    int e = errno;
    free(dir);
    free(plus);
    errno = e;
    return rc;
}

/* v1 cpuset: every level needs cpus and mems before a task can join;
 * a new level starts empty, so copy them down from its parent. */
static int v1_cpuset_prepare(const char *root, const char *parent)
{
    char *dir = xstrdup(root);
    int rc = 0;
    for (const char *p = parent; *p && rc == 0;) {
        size_t n = strcspn(p, "/");
        char *next = xasprintf("%s/%.*s", dir, (int)n, p);
        if (mkdir(next, 0755) < 0 && errno != EEXIST)
            rc = -1;
        for (int i = 0; rc == 0 && i < 2; i++) {
            const char *f = i ? "cpuset.mems" : "cpuset.cpus";
            char *have = read_trimmed(next, f);
            if (!have || !*have) {
                char *up = read_trimmed(dir, f);
                rc = up && *up ? write_str(next, f, up) : -1;
                if (!up)
                    errno = ENOENT;
                free(up);
            }
            free(have);
        }
        free(dir);
        dir = next;
        p += n + (p[n] == '/');
    }
    int e = errno;
    free(dir);
    errno = e;
    return rc;
}

static void add_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append one reason to err ("; " between reasons). */
static void add_err(char *err, size_t errlen, const char *fmt, ...)
{
    size_t used = strlen(err);
    if (used + 3 >= errlen)
        return;
    if (used) {
        memcpy(err + used, "; ", 3);
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

/* A killed exec cannot remove its task's groups: remove empty groups of
 * tasks that are gone ("task-PID-TICKS" whose process no longer exists).
 * rmdir fails harmlessly on a group that still has processes. */
static void sweep_stale(const char *pdir)
{
    DIR *d = opendir(pdir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid, used = 0;
        uint64_t ticks;
        if (sscanf(e->d_name, "task-%d-%" SCNu64 "%n", &pid, &ticks, &used) != 2 ||
            e->d_name[used] != '\0' || procid_alive(pid, ticks))
            continue;
        char *p = path_join(pdir, e->d_name);
        rmdir(p);
        free(p);
    }
    closedir(d);
}

/* ---- the task's groups ---- */

static int create_cpu(const struct cgroup_sys *sys, const struct cgroup_request *rq, struct cgroup_task *t,
                      char *err, size_t errlen)
{
    bool v2 = sys->v2 && sys->v2_cpu;
    const char *root = v2 ? sys->v2 : sys->v1_cpu;
    if (!root) {
        add_err(err, errlen, "no cgroup cpu controller is available (neither cgroup v2 with "
                "'cpu' nor a v1 'cpu' hierarchy)");
        return -1;
    }
    char *pdir = xasprintf("%s/%s", root, rq->parent);
    char *dir = xasprintf("%s/%s", pdir, rq->name);
    int rc = v2 ? v2_prepare(root, rq->parent, "cpu") : mkdir_p(pdir, 0755);
    if (rc < 0) {
        add_err(err, errlen, "cannot prepare cgroup %s: %s", pdir, strerror(errno));
        goto out;
    }
    sweep_stale(pdir);
    if (mkdir_fresh(dir) < 0) {
        add_err(err, errlen, "cannot create cgroup %s: %s", dir, strerror(errno));
        rc = -1;
        goto out;
    }
    t->cpu_dir = xstrdup(dir);
    t->cpu_version = v2 ? "v2" : "v1";
    if (rq->weight >= 0) {
        char *v = v2 ? xasprintf("%d", rq->weight) : xasprintf("%lld", cgroup_v1_shares(rq->weight));
        const char *f = v2 ? "cpu.weight" : "cpu.shares";
        if (write_str(dir, f, v) == 0) {
            t->weight = rq->weight;
        } else {
            add_err(err, errlen, "cannot set %s: %s", f, strerror(errno));
            rc = -1;
        }
        free(v);
    }
    if (rq->quota_pct >= 0) {
        long long q = cgroup_quota_us(rq->quota_pct);
        char *v = v2 ? xasprintf("%lld %d", q, CGROUP_PERIOD_US) : xasprintf("%lld", q);
        char *period = xasprintf("%d", CGROUP_PERIOD_US);
        int w = v2 ? write_str(dir, "cpu.max", v)
                   : (write_str(dir, "cpu.cfs_period_us", period) == 0
                          ? write_str(dir, "cpu.cfs_quota_us", v)
                          : -1);
        if (w == 0) {
            t->quota_pct = rq->quota_pct;
        } else {
            add_err(err, errlen, "cannot set the CPU quota in %s: %s", dir, strerror(errno));
            rc = -1;
        }
        free(v);
        free(period);
    }
out:
    free(pdir);
    free(dir);
    return rc;
}

static int create_cpuset(const struct cgroup_sys *sys, const struct cgroup_request *rq,
                         struct cgroup_task *t, char *err, size_t errlen)
{
    bool v2 = sys->v2 && sys->v2_cpuset;
    const char *root = v2 ? sys->v2 : sys->v1_cpuset;
    if (!root) {
        add_err(err, errlen, "no cpuset controller is available");
        return -1;
    }
    char *dir = xasprintf("%s/%s/%s", root, rq->parent, rq->name);
    int rc = v2 ? v2_prepare(root, rq->parent, "cpuset") : v1_cpuset_prepare(root, rq->parent);
    if (rc < 0) {
        add_err(err, errlen, "cannot prepare the cpuset parent for %s: %s", dir, strerror(errno));
        goto out;
    }
    {
        char *parent_dir = xasprintf("%s/%s", root, rq->parent);
        sweep_stale(parent_dir);
        free(parent_dir);
    }
    if (t->cpu_dir && !strcmp(t->cpu_dir, dir)) {
        t->cpuset_dir = xstrdup(dir);  /* v2: one group holds both */
    } else if (mkdir_fresh(dir) < 0) {
        add_err(err, errlen, "cannot create cgroup %s: %s", dir, strerror(errno));
        rc = -1;
        goto out;
    } else {
        t->cpuset_dir = xstrdup(dir);
    }
    if (!v2) {
        char *pdir = xasprintf("%s/%s", root, rq->parent);
        char *mems = read_trimmed(pdir, "cpuset.mems");
        free(pdir);
        if (!mems || write_str(dir, "cpuset.mems", mems) < 0) {
            add_err(err, errlen, "cannot set cpuset.mems in %s: %s", dir, strerror(errno));
            rc = -1;
        }
        free(mems);
    }
    if (rc == 0 && write_str(dir, "cpuset.cpus", rq->cpus) < 0) {
        add_err(err, errlen, "cannot set cpuset.cpus in %s: %s", dir, strerror(errno));
        rc = -1;
    }
    if (rc == 0) {
        t->cpuset = true;
    } else if (t->cpuset_dir && (!t->cpu_dir || strcmp(t->cpuset_dir, t->cpu_dir))) {
        rmdir(t->cpuset_dir);  /* a cpuset group without CPUs cannot hold the task */
        free(t->cpuset_dir);
        t->cpuset_dir = NULL;
    } else {
        free(t->cpuset_dir);
        t->cpuset_dir = NULL;
    }
out:
    free(dir);
    return rc;
}

int cgroup_task_create(const struct cgroup_sys *sys, const struct cgroup_request *rq, struct cgroup_task *t,
                   char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->weight = t->quota_pct = -1;
    err[0] = '\0';
    if (!cgroup_path_valid(rq->parent) || !cgroup_path_valid(rq->name)) {
        snprintf(err, errlen, "invalid cgroup path '%s/%s'", rq->parent, rq->name);
        return -1;
    }
    int rc = 0;
    if (rq->weight >= 0 || rq->quota_pct >= 0)
        rc |= create_cpu(sys, rq, t, err, errlen);
    if (rq->cpus)
        rc |= create_cpuset(sys, rq, t, err, errlen);
    if (t->cpu_dir || t->cpuset_dir)
        t->rel = xasprintf("/%s/%s", rq->parent, rq->name);
    return rc ? -1 : 0;
}

static int attach_one(const char *dir, pid_t pid)
{
    char v[32];
    snprintf(v, sizeof v, "%d\n", (int)pid);
    return write_str(dir, "cgroup.procs", v);
}

int cgroup_task_attach(struct cgroup_task *t, pid_t pid, char *err, size_t errlen)
{
    int rc = 0;
    err[0] = '\0';
    if (t->cpu_dir && attach_one(t->cpu_dir, pid) < 0) {
        add_err(err, errlen, "cannot move the task into %s: %s", t->cpu_dir, strerror(errno));
        if (t->cpuset_dir && !strcmp(t->cpuset_dir, t->cpu_dir)) {
            free(t->cpuset_dir);
            t->cpuset_dir = NULL;
            t->cpuset = false;
        }
        rmdir(t->cpu_dir);
        free(t->cpu_dir);
        t->cpu_dir = NULL;
        t->weight = t->quota_pct = -1;
        rc = -1;
    }
    if (t->cpuset_dir && (!t->cpu_dir || strcmp(t->cpuset_dir, t->cpu_dir)) &&
        attach_one(t->cpuset_dir, pid) < 0) {
        add_err(err, errlen, "cannot move the task into %s: %s", t->cpuset_dir, strerror(errno));
        rmdir(t->cpuset_dir);
        free(t->cpuset_dir);
        t->cpuset_dir = NULL;
        t->cpuset = false;
        rc = -1;
    }
    if (!t->cpu_dir && !t->cpuset_dir) {
        free(t->rel);
        t->rel = NULL;
    }
    return rc;
}

/* rmdir, retrying briefly: the kernel may still hold a just-reaped task. */
static int rmdir_retry(const char *dir)
{
    for (int i = 0; i < 50; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return -1;
        struct timespec ts = {0, 4 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int cgroup_task_remove(struct cgroup_task *t)
{
    int rc = 0;
    if (t->cpuset_dir && (!t->cpu_dir || strcmp(t->cpuset_dir, t->cpu_dir)))
        rc |= rmdir_retry(t->cpuset_dir);
    if (t->cpu_dir)
        rc |= rmdir_retry(t->cpu_dir);
    free(t->rel);
    free(t->cpu_dir);
    free(t->cpuset_dir);
    memset(t, 0, sizeof *t);
    t->weight = t->quota_pct = -1;
    return rc ? -1 : 0;
}
