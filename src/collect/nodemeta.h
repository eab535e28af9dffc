/* nodemeta.h -- what a node is: cores, memory, CPU model and frequency,
 * kernel, boot id.  Read from /proc and /sys directly (no lscpu, so no
 * locale dependence: original bug B23). */
#ifndef TK_NODEMETA_H
#define TK_NODEMETA_H

#include <stdint.h>

#include "common/jsonl.h"

struct power_set;

struct node_meta {
    char run_id[129], node[129], stage[64], host[256], iface[64];
    int cpu_cores;          /* CPUs this process may use (the original's nproc) */
    int cpu_cores_online;
    char cpu_allowed[256];  /* CPU list */
    int64_t mem_total_kb;
    char cpu_model[128];
    double cpu_freq_mhz;
    const char *cpu_freq_source;
    char kernel[200];
    char boot_id[64];
    long page_size, clk_tck;
    int64_t btime;
    const struct power_set *power;  /* the power sources (collect/power.h); NULL = none */
};

/* Probe this machine.  iface: NULL = interface of the default route, else "lo". */
void node_meta_probe(struct node_meta *m, const char *run_id, const char *node,
                     const char *stage, const char *iface);
/* The JSON object (the original's nine fields first; "power_sources" when
 * m->power is set). */
void node_meta_json(const struct node_meta *m, struct jbuf *b);

#endif
