/* cpubind.h -- how a task is bound to CPUs: the binding modes, CPU lists
 * ("0-3,5") and the free-CPU allocator for exclusive binding.
 *
 * The allocator is shared by every `tracekit exec` of a node through a small
 * state file guarded by flock(2): one lease per CPU, held by a (pid, start
 * ticks) holder (the exec process) and its task.  A lease whose holder and
 * task are both gone is free again, so a crashed exec never leaks CPUs.
 * Parsing, formatting and the choice of CPUs are pure functions; only
 * cpualloc_acquire/release touch files. */
#ifndef TK_CPUBIND_H
#define TK_CPUBIND_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How a task is bound to CPUs (tracekit exec --cpu-binding). */
enum cpu_binding { BIND_NONE, BIND_EXCLUSIVE, BIND_SHARED };
const char *cpu_binding_name(enum cpu_binding b);
/* "none" | "exclusive" | "shared"; returns false if s is none of them. */
bool cpu_binding_parse(const char *s, enum cpu_binding *out);

/* ---- CPU lists ---- */

/* Strict: comma-separated items "N" or "A-B" (A <= B), CPUs below
 * CPU_SETSIZE, blanks around items and a trailing newline allowed, at least
 * one CPU.  Returns 0, or -1 with a message naming the bad item in err. */
int cpulist_parse(const char *s, cpu_set_t *out, char *err, size_t errlen);
/* Shortest list text ("0-3,5"); "" for the empty set.  malloc'd. */
char *cpulist_format(const cpu_set_t *set);

/* ---- choosing CPUs (pure) ---- */

/* core_of[cpu] = an id shared by the hardware threads of one core (-1 or
 * NULL: every CPU is its own core).  Picks n CPUs out of allowed minus busy:
 * first whole free cores in CPU order, then CPUs of partly used cores (so
 * whole cores stay free for bigger tasks), then the rest in CPU order.
 * Returns 0, or -1 (out untouched) when fewer than n CPUs are free. */
int cpu_pick(const cpu_set_t *allowed, const cpu_set_t *busy, const int *core_of, int n,
             cpu_set_t *out);

/* ---- leases (pure) ---- */

struct cpu_lease {
    int cpu;
    pid_t holder;            /* the tracekit exec process */
    uint64_t holder_ticks;
    pid_t task;              /* the task it runs (0: not known yet) */
    uint64_t task_ticks;
};

struct cpu_leases {
    struct cpu_lease *v;
    size_t n, cap;
    size_t malformed;        /* lines skipped by leases_parse */
};

/* State file text: "# tracekit cpu leases v1" then one line per lease,
 * "CPU HOLDER HOLDER_TICKS TASK TASK_TICKS".  Bad lines are skipped and
 * counted (a torn file must not block the node). */
void leases_parse(const char *text, struct cpu_leases *out);
char *leases_format(const struct cpu_leases *l);
void leases_add(struct cpu_leases *l, const struct cpu_lease *x);
void leases_free(struct cpu_leases *l);
/* Drop leases for which alive() is false for both holder and task.
 * Returns how many were dropped. */
typedef bool (*lease_alive_fn)(pid_t pid, uint64_t start_ticks, void *ud);
size_t leases_prune(struct cpu_leases *l, lease_alive_fn alive, void *ud);
/* Drop the leases of one holder; returns how many. */
size_t leases_drop_holder(struct cpu_leases *l, pid_t holder, uint64_t holder_ticks);
void leases_busy(const struct cpu_leases *l, cpu_set_t *busy);

/* ---- the node-wide allocator (I/O) ---- */

struct cpu_holder {
    pid_t pid;
    uint64_t ticks;
    pid_t task;
    uint64_t task_ticks;
};

/* Lease n CPUs out of pool for holder.  Returns 0 with *got set; 1 when not
 * enough CPUs are free (err says which are busy); -1 on I/O errors (err). */
int cpualloc_acquire(const char *state_path, const cpu_set_t *pool, int n,
                     const struct cpu_holder *h, cpu_set_t *got, char *err, size_t errlen);
/* Give back every lease of this holder.  0 or -1 with errno. */
int cpualloc_release(const char *state_path, const struct cpu_holder *h);

/* core_of[] for this machine from sysfs (package and core id); entries
 * stay -1 where the topology is not readable. */
void cpu_topology_read(int core_of[CPU_SETSIZE]);

#endif
