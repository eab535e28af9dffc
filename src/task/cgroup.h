/* cgroup.h -- a per-task cgroup for CPU weight/quota (shared binding) and a
 * CPU set (exclusive binding), on cgroup v2 or v1, whichever the machine
 * has for the controller in question (hybrid machines mix them).
 *
 * The task is attached by its parent before it is released to exec, so it
 * never runs outside the group; the group is removed after the reap.
 * Mount detection and the value conversions are pure; the rest writes to
 * the cgroup file systems. */
#ifndef TK_CGROUP_H
#define TK_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cgroup_sys {
    char *v2;             /* cgroup2 mount point, or NULL */
    bool v2_cpu;          /* the v2 root offers the "cpu" controller */
    bool v2_cpuset;       /* ... and "cpuset" */
    char *v1_cpu;         /* mount point of the v1 hierarchy with "cpu" */
    char *v1_cpuset;      /* ... with "cpuset" */
    char *v1_cpuacct;     /* ... with "cpuacct" (often the same as v1_cpu) */
    char *v1_memory;      /* ... with "memory" */
};

/* Fill mount points from the text of /proc/self/mountinfo (pure; the v2
 * controller flags are left false).  Returns 0. */
int cgroup_parse_mountinfo(const char *text, struct cgroup_sys *out);
/* True if the space-separated controller list names ctrl. */
bool cgroup_list_has(const char *list, const char *ctrl);
/* Read /proc/self/mountinfo and the v2 root's cgroup.controllers. */
void cgroup_sys_detect(struct cgroup_sys *out);
void cgroup_sys_free(struct cgroup_sys *s);

/* ---- conversions (pure) ---- */

#define CGROUP_WEIGHT_MIN 1
#define CGROUP_WEIGHT_MAX 10000
int cgroup_weight_clamp(long long w);
/* v1 cpu.shares for a v2-style weight (100 = 1024 shares), in [2, 262144]. */
long long cgroup_v1_shares(int weight);
#define CGROUP_PERIOD_US 100000
/* CFS quota for a percentage of one CPU over CGROUP_PERIOD_US (at least 1000 us). */
long long cgroup_quota_us(int pct);
/* True if name is a safe relative cgroup path ("a/b", no "." or ".."). */
bool cgroup_path_valid(const char *path);

/* ---- a task's groups ---- */

struct cgroup_request {
    const char *parent;   /* relative to each hierarchy's root, e.g. "tracekit" */
    const char *name;     /* the task's group under parent */
    int weight;           /* v2-style weight, or -1 for none */
    int quota_pct;        /* percent of one CPU, or -1 for none (work-conserving) */
    const char *cpus;     /* CPU list for a cpuset group, or NULL */
};

struct cgroup_task {
    char *rel;            /* "/parent/name": what the record calls `cgroup` */
    char *cpu_dir;        /* group with the weight/quota (v1 cpu or v2), or NULL */
    char *cpuset_dir;     /* group with the CPU set (may be the same dir on v2), or NULL */
    int weight;           /* applied, or -1 */
    int quota_pct;        /* applied, or -1 */
    bool cpuset;          /* the CPU set was applied */
    const char *cpu_version;  /* "v1"/"v2" for the cpu group */
};

/* Create the groups and write the settings.  Whatever could be applied is
 * kept and described in t; returns 0 if everything asked for was applied,
 * else -1 with one line in err saying what was not and why. */
int cgroup_task_create(const struct cgroup_sys *sys, const struct cgroup_request *rq, struct cgroup_task *t,
                   char *err, size_t errlen);
/* Move pid into the groups.  A group that cannot take it is removed and its
 * settings are marked not applied (returns -1 with err). */
int cgroup_task_attach(struct cgroup_task *t, pid_t pid, char *err, size_t errlen);
/* Remove the groups (after the task and all its descendants are reaped)
 * and free t.  Returns 0, or -1 if a group could not be removed. */
int cgroup_task_remove(struct cgroup_task *t);

#endif
