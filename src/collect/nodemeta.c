/* nodemeta.c -- node_meta.json: cores, memory, CPU model and frequency (see nodemeta.h). */
#include "collect/nodemeta.h"
#include "collect/power.h"
#include "collect/procfs.h"
#include "common/util.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

/* The nominal frequency: an explicit override, then the cpufreq maximum,
 * then the first "cpu MHz" of /proc/cpuinfo (what VMs usually have). */
static void probe_freq(struct node_meta *m, double cpuinfo_mhz)
{
    const char *env = getenv("CPU_FREQ_MHZ");
    double v;
    if (env && parse_double(env, 1, 1e6, &v)) {
        m->cpu_freq_mhz = v;
        m->cpu_freq_source = "CPU_FREQ_MHZ";
        return;
    }
    char *khz = read_file("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", NULL);
    if (khz) {
        double k = strtod(khz, NULL);
        free(khz);
        if (k > 0) {
            m->cpu_freq_mhz = k / 1000.0;
            m->cpu_freq_source = "cpuinfo_max_freq";
            return;
        }
    }
    if (cpuinfo_mhz > 0) {
        m->cpu_freq_mhz = cpuinfo_mhz;
        m->cpu_freq_source = "/proc/cpuinfo";
        return;
    }
    m->cpu_freq_mhz = 0;
    m->cpu_freq_source = "unknown";
}

void node_meta_probe(struct node_meta *m, const char *run_id, const char *node,
                     const char *stage, const char *iface)
{
    memset(m, 0, sizeof *m);
    copy(m->run_id, sizeof m->run_id, run_id);
    copy(m->node, sizeof m->node, node);
    copy(m->stage, sizeof m->stage, stage);
    if (gethostname(m->host, sizeof m->host - 1) < 0)
        copy(m->host, sizeof m->host, "localhost");

    if (iface && *iface) {
        copy(m->iface, sizeof m->iface, iface);
    } else {
        char *route = read_file("/proc/net/route", NULL);
        char *def = route ? procfs_parse_default_iface(route) : NULL;
        copy(m->iface, sizeof m->iface, def ? def : "lo");
        free(def);
        free(route);
    }

    cpu_set_t set;
    CPU_ZERO(&set);
    m->cpu_cores_online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        unsigned char bits[CPU_SETSIZE];
        for (int i = 0; i < CPU_SETSIZE; i++)
            bits[i] = CPU_ISSET(i, &set) ? 1 : 0;
        m->cpu_cores = CPU_COUNT(&set);
        procfs_format_cpulist(bits, CPU_SETSIZE, m->cpu_allowed, sizeof m->cpu_allowed);
    } else {
        m->cpu_cores = m->cpu_cores_online;
    }
    if (m->cpu_cores < 1)
        m->cpu_cores = 1;

    char *mem = read_file("/proc/meminfo", NULL);
    struct meminfo mi;
    if (mem && procfs_parse_meminfo(mem, &mi) == 0)
        m->mem_total_kb = mi.total_kb;
    free(mem);

    char *cpuinfo = read_file("/proc/cpuinfo", NULL);
    double mhz = 0;
    if (cpuinfo)
        procfs_parse_cpuinfo(cpuinfo, m->cpu_model, sizeof m->cpu_model, &mhz);
    free(cpuinfo);
    probe_freq(m, mhz);

    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    char *boot = read_file("/proc/sys/kernel/random/boot_id", NULL);
    if (boot)
        copy(m->boot_id, sizeof m->boot_id, str_trim(boot));
    free(boot);
    m->page_size = sysconf(_SC_PAGESIZE);
    m->clk_tck = sysconf(_SC_CLK_TCK);
    char *stat = read_file("/proc/stat", NULL);
    if (stat)
        m->btime = procfs_parse_btime(stat);
    free(stat);
}

void node_meta_json(const struct node_meta *m, struct jbuf *b)
{
    jb_obj_open(b, NULL);
    jb_str(b, "run_id", m->run_id);
    jb_str(b, "node", m->node);
    jb_str(b, "stage", m->stage);
    jb_str(b, "host", m->host);
    jb_str(b, "iface", m->iface);
    jb_int(b, "cpu_cores", m->cpu_cores);
    jb_int(b, "mem_mb", m->mem_total_kb / 1024);
    jb_str(b, "cpu_model", m->cpu_model);
    /* The original wrote an integer (truncated); keep that type. */
    jb_int(b, "cpu_freq_mhz", (int64_t)m->cpu_freq_mhz);
    jb_int(b, "cpu_cores_online", m->cpu_cores_online);
    jb_str(b, "cpu_allowed", m->cpu_allowed);
    jb_double(b, "cpu_freq_mhz_exact", m->cpu_freq_mhz);
    jb_str(b, "cpu_freq_source", m->cpu_freq_source);
    jb_int(b, "mem_total_kb", m->mem_total_kb);
    jb_str(b, "kernel", m->kernel);
    jb_str(b, "boot_id", m->boot_id);
    jb_int(b, "page_size", m->page_size);
    jb_int(b, "clk_tck", m->clk_tck);
    jb_int(b, "btime", m->btime);
    if (m->power)
        power_set_meta_json(m->power, b);
    jb_str(b, "tracekit_version", TK_VERSION);
    jb_int(b, "ts_ms", now_wall_ms());
    jb_obj_close(b);
}
