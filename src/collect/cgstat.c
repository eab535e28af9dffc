/* cgstat.c -- whole-cgroup sampling and its CTS file (see cgstat.h). */
#include "collect/cgstat.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- pure */

bool cgstat_parse_usage_usec(const char *text, int64_t *usec)
{
    for (const char *l = text; l && *l;) {
        if (str_starts(l, "usage_usec ")) {
            char num[32];
            size_t n = strcspn(l + 11, "\n");
            if (n == 0 || n >= sizeof num)
                return false;
            memcpy(num, l + 11, n);
            num[n] = '\0';
            return parse_i64(num, 0, INT64_MAX, usec);
        }
        l = strchr(l, '\n');
        if (l)
            l++;
    }
    return false;
}

bool cgstat_path_valid(const char *rel)
{
    if (!rel)
        return false;
    while (*rel == '/')
        rel++;
    if (!*rel)
        return false;   /* the root is the host: use host metrics */
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < 0x20 || p[i] == '\\')
                return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

/* ---------------------------------------------------------------- reading */

static int open_in(const char *mount, const char *rel, const char *file)
{
    if (!mount)
        return -1;
    char *p = xasprintf("%s/%s/%s", mount, rel, file);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    free(p);
    return fd;
}

static ssize_t pread_all(int fd, char *buf, size_t n)
{
    ssize_t r;
    do
        r = pread(fd, buf, n - 1, 0);
    while (r < 0 && errno == EINTR);
    buf[r > 0 ? r : 0] = '\0';
    return r;
}

int cgstat_open(struct cgstat *c, const struct cgroup_sys *sys, const char *rel, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->cpu_fd = c->mem_fd = -1;
    while (*rel == '/')
        rel++;
    size_t n = strlen(rel);
    while (n && rel[n - 1] == '/')
        n--;
    char *r = xmalloc(n + 1);
    memcpy(r, rel, n);
    r[n] = '\0';
    /* v1 first: where a v1 controller is mounted, that is where it counts. */
    if ((c->cpu_fd = open_in(sys->v1_cpuacct, r, "cpuacct.usage")) >= 0)
        c->cpu_v = 1;
    else if ((c->cpu_fd = open_in(sys->v2, r, "cpu.stat")) >= 0)
        c->cpu_v = 2;
    if ((c->mem_fd = open_in(sys->v1_memory, r, "memory.usage_in_bytes")) >= 0)
        c->mem_v = 1;
    else if ((c->mem_fd = open_in(sys->v2, r, "memory.current")) >= 0)
        c->mem_v = 2;
    c->name = xasprintf("/%s", r);
    if (c->cpu_fd < 0) {
        snprintf(err, errlen, "no cgroup '%s': neither %s/%s/cpuacct.usage (v1) nor %s/%s/cpu.stat (v2) can be read",
                 c->name, sys->v1_cpuacct ? sys->v1_cpuacct : "(no v1 cpuacct mount)", r,
                 sys->v2 ? sys->v2 : "(no v2 mount)", r);
        free(r);
        cgstat_close(c);
        return -1;
    }
    free(r);
    return 0;
}

int cgstat_read(struct cgstat *c, int64_t *cpu_us, int64_t *mem_bytes)
{
    char buf[2048];
    *mem_bytes = -1;
    if (c->cpu_fd < 0 || pread_all(c->cpu_fd, buf, sizeof buf) <= 0)
        return -1;
    if (c->cpu_v == 1) {
        int64_t ns;
        if (!parse_i64(str_trim(buf), 0, INT64_MAX, &ns))
            return -1;
        *cpu_us = ns / 1000;
    } else if (!cgstat_parse_usage_usec(buf, cpu_us)) {
        return -1;
    }
    int64_t m;
    if (c->mem_fd >= 0 && pread_all(c->mem_fd, buf, sizeof buf) > 0 &&
        parse_i64(str_trim(buf), 0, INT64_MAX, &m))
        *mem_bytes = m;
    return 0;
}

void cgstat_close(struct cgstat *c)
{
    if (c->cpu_fd >= 0)
        close(c->cpu_fd);
    if (c->mem_fd >= 0)
        close(c->mem_fd);
    free(c->name);
    memset(c, 0, sizeof *c);
    c->cpu_fd = c->mem_fd = -1;
}

void cgstat_record(struct jbuf *b, const struct cgstat *c, const char *node, int64_t ts_ms,
                   int64_t mono_us, int64_t cpu_us, int64_t mem_bytes)
{
    jb_obj_open(b, NULL);
    jb_int(b, "ts_ms", ts_ms);
    jb_int(b, "mono_us", mono_us);
    jb_str(b, "node", node);
    jb_str(b, "cgroup", c->name);
    jb_int(b, "cpu_usage_us", cpu_us);
    jb_opt_int(b, "mem_bytes", mem_bytes >= 0, mem_bytes);
    jb_int(b, "cpu_cgroup_v", c->cpu_v);
    jb_opt_int(b, "mem_cgroup_v", c->mem_v > 0, c->mem_v);
    jb_obj_close(b);
}

/* ---------------------------------------------------------------- CTS */

int cgderive_feed(struct cgderive *d, const json_t *raw, struct jbuf *out)
{
    int64_t ts, cpu, mono = 0, mem = -1;
    const char *name = json_string_value(json_object_get(raw, "cgroup"));
    if (!name || !*name || !jsonl_ts(raw, "ts_ms", &ts, NULL) || !jsonl_int(raw, "cpu_usage_us", &cpu) || cpu < 0)
        return 0;
    bool has_mono = jsonl_int(raw, "mono_us", &mono);
    if (!jsonl_int(raw, "mem_bytes", &mem) || mem < 0)
        mem = -1;
    struct cgd_state *s = NULL;
    for (size_t i = 0; i < d->n && !s; i++)
        if (!strcmp(d->v[i].name, name))
            s = &d->v[i];
    bool baseline = false;
    if (!s) {
        d->v = xrealloc(d->v, (d->n + 1) * sizeof *d->v);
        s = &d->v[d->n++];
        memset(s, 0, sizeof *s);
        s->name = xstrdup(name);
        baseline = true;
    }
    double dt_ms = 0, cpu_ms = 0;
    if (!baseline) {
        dt_ms = has_mono && s->has_mono ? ((double)mono - (double)s->mono_us) / 1000.0
                                         : (double)(ts - s->ts_ms);  /* no int64 overflow */
        if (cpu < s->cpu_us || dt_ms <= 0) {
            /* the group was re-created, or the clock went back: restart */
            d->resets++;
            baseline = true;
            dt_ms = 0;
        } else {
            cpu_ms = (double)(cpu - s->cpu_us) / 1000.0;
        }
    }
    s->ts_ms = ts;
    s->mono_us = mono;
    s->has_mono = has_mono;
    s->cpu_us = cpu;

    jb_reset(out);
    jb_obj_open(out, NULL);
    jb_int(out, "ts_ms", ts);
    jb_str(out, "cgroup", name);
    jb_fixed(out, "dt_ms", dt_ms, 3);
    jb_fixed(out, "cpu_ms", cpu_ms, 3);
    if (baseline)
        jb_null(out, "cpu_util");
    else
        jb_fixed(out, "cpu_util", cpu_ms / dt_ms, 4);
    jb_int(out, "cpu_usage_us", cpu);
    jb_opt_int(out, "mem_bytes", mem >= 0, mem);
    const char *node = json_string_value(json_object_get(raw, "node"));
    if (node)
        jb_str(out, "node", node);
    jb_obj_close(out);
    return 1;
}

void cgderive_free(struct cgderive *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->v[i].name);
    free(d->v);
    memset(d, 0, sizeof *d);
}

int cgstat_to_cts(const char *run_dir, const char *cts_dir, struct cgstat_counts *k)
{
    memset(k, 0, sizeof *k);
    char *src = path_join(run_dir, "cgroup_metrics.jsonl");
    struct jsonl_reader r;
    int orc = jsonl_reader_open(&r, src);
    free(src);
    if (orc < 0)
        return errno == ENOENT ? 0 : -1;
    k->present = true;
    char *dst = path_join(cts_dir, "cgroup_metrics.jsonl");
    struct jbuf all, line;
    jb_init(&all);
    jb_init(&line);
    struct cgderive d = {0};
    json_t *obj;
    while (jsonl_next(&r, &obj) == 1) {
        if (cgderive_feed(&d, obj, &line)) {
            jb_append(&all, line.p, line.len);
            jb_newline(&all);
            k->good++;
        } else {
            k->invalid++;
        }
        json_decref(obj);
    }
    k->lines = r.lineno;
    k->malformed = r.malformed;
    k->torn = r.torn;
    k->resets = d.resets;
    jsonl_reader_close(&r);
    cgderive_free(&d);
    int rc = write_file_atomic(dst, all.p ? all.p : "", all.len);
    free(dst);
    jb_free(&all);
    jb_free(&line);
    return rc;
}
