/* collect.c -- `tracekit collect start|stop|status|run`: options, their
 * environment variables and the run's resolution only; the work is in
 * collect/collector.c (the process) and collect/sampler.c (the sampling). */
#include "cmd/commands.h"
#include "cmd/options.h"
#include "collect/cgstat.h"
#include "collect/collector.h"
#include "collect/power.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MATCH "^(ffmpeg|ffprobe)$"
#define MAX_CGROUPS 64

enum { V_START, V_STOP, V_STATUS, V_RUN };
static const struct opt_verb verbs[] = {
    [V_START] = {"start", "start a background sampler for the run (refuses a second one)"},
    [V_STOP] = {"stop", "stop the run's sampler (only the process recorded in collector.json)"},
    [V_STATUS] = {"status", "show the run's sampler and its statistics (written every 5 s: zeros\n"
                            "just after start; exit 3 when not running)"},
    [V_RUN] = {"run", "sample in the foreground until SIGINT/SIGTERM or --duration-s"},
    {NULL, NULL},
};
static const char *const usage[] = {"tracekit collect start|stop|status|run [options]", NULL};
static const struct opt_cmd cmd = {
    .name = "collect",
    .usage = usage,
    .description =
        "Sample processes (CPU time, RSS) and the host (CPU, memory, network, power) into\n"
        "logs/RUN_ID/{proc_metrics,host_metrics}.jsonl and node_meta.json.\n",
    .verbs = verbs,
    .epilogue = "CPU_FREQ_MHZ, when set, is the CPU frequency node_meta.json records (else the\n"
                "cpufreq maximum, else /proc/cpuinfo).  VM_IP (the original's), when set to an\n"
                "address other than 127.0.0.1 and neither --iface nor IFACE is given: the\n"
                "interface the route to it leaves by is taken as --iface.\n",
};

struct collect_args {
    struct run_opts run;
    const char *interval, *host_interval, *sync, *duration, *match, *iface, *pid_dir, *exit_source,
        *backend;
    bool no_pid_dir, realtime, no_energy;
    struct opt_list cgroups, counters, inputs;
};

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* --pid-dir DIR and --no-pid-dir: the last one given wins. */
static int set_pid_dir(const struct opt *o, const char *arg, void *value)
{
    struct collect_args *a = value;
    a->no_pid_dir = !arg;
    a->pid_dir = arg ? arg : a->pid_dir;
    (void)o;
    return 0;
}

static int parse_args(int argc, char **argv, struct collect_args *a, int *verb)
{
    struct opt opts[] = {
        OPT_GROUP("Run:"),
        OPT_STRING(0, "run-id", &a->run.run_id, "ID",
                   "the run (default: $RUN_ID, else run_id.env, else a new id for start and "
                   "run, the newest run folder for stop and status)"),
        OPT_INCLUDE(run_options, &a->run, RUN_NODE | RUN_STAGE | RUN_LOGS),
        OPT_GROUP("Sampling:"),
        OPT_STRING(0, "interval-ms", &a->interval, "MS",
                   "process sampling period (default: $PROC_INTERVAL_MS, else 200)"),
        OPT_CALLBACK(0, "pid-dir", a, "DIR",
                     "whitelist: sample the PIDs named by files in DIR (default: $PROC_PID_DIR, "
                     "else logs/RUN_ID/pids)", set_pid_dir),
        OPT_CALLBACK(0, "no-pid-dir", a, NULL,
                     "scan /proc for processes whose name matches --match (also when "
                     "PROC_PID_DIR is set but empty)", set_pid_dir),
        OPT_STRING(0, "match", &a->match, "REGEX",
                   "POSIX extended regex on the process name, scan mode, case-sensitive "
                   "(default: $PROC_MATCH, matched case-insensitively like the original's "
                   "re.search(..., IGNORECASE); else " DEFAULT_MATCH "). Python-only syntax "
                   "(\\d, \\w, (?i), lookarounds) is not POSIX: write [0-9], [[:alnum:]_]"),
        OPT_STRING(0, "host-interval-ms", &a->host_interval, "MS",
                   "host sampling period, 0 = off (default 1000)"),
        OPT_STRING(0, "iface", &a->iface, "NAME",
                   "only this interface in host metrics and node_meta (default: $IFACE)"),
        OPT_LIST(0, "cgroup", &a->cgroups, "PATH[,PATH]",
                 "also sample these whole cgroups (relative to the cgroup mount roots, e.g. "
                 "system.slice/nginx.service; repeatable) into cgroup_metrics.jsonl each host "
                 "interval (each process interval with --host-interval-ms 0)"),
        OPT_STRING(0, "duration-s", &a->duration, "S", "stop after S seconds"),
        OPT_FLAG(0, "realtime", &a->realtime,
                 "sample with SCHED_FIFO priority (steadier ticks on a busy node)"),
        OPT_STRING(0, "sync-ms", &a->sync, "MS",
                   "fsync period for the record files (default 2000)"),
        OPT_STRING(0, "exit-source", &a->exit_source, "SRC",
                   "where a process's final reading comes from: taskstats (the kernel's exit "
                   "records: exact CPU, run delay and peak RSS of every traced process, also "
                   "one that lived between two samples; needs root), proc (a last read of "
                   "/proc/PID/stat, which races the parent's reap), auto (taskstats when "
                   "allowed, else proc; the default)"),
        OPT_STRING(0, "backend", &a->backend, "HOW",
                   "how processes are read each tick: proc (a read of /proc per process), "
                   "bpf (a BPF task iterator reads every traced process in one pass; needs "
                   "root, a kernel with BTF and a tracekit built with 'make BPF=1': measured "
                   "and left out of the build, docs/benchmarks.md), auto (bpf when it can be "
                   "used, else proc; the default)"),
        OPT_GROUP("Power (each host interval; docs/formats.md):"),
        OPT_LIST(0, "energy-counter", &a->counters, "NAME=PATH",
                 "a cumulative energy counter in microjoules (powercap energy_uj, Scaphandre's "
                 "per-VM energy_uj, a PDU exporter's file) as power source NAME; wraps at "
                 "max_energy_range_uj when that file sits beside it (repeatable)"),
        OPT_LIST(0, "power-input", &a->inputs, "NAME=PATH",
                 "an instantaneous power reading in microwatts (hwmon power*_input) as power "
                 "source NAME (repeatable)"),
        OPT_FLAG(0, "no-energy", &a->no_energy,
                 "do not add the powercap zones of /sys/class/powercap (added by default)"),
        OPT_END(),
    };
    const char *env_pid = getenv("PROC_PID_DIR");
    a->pid_dir = env_pid && *env_pid ? env_pid : NULL;
    a->no_pid_dir = env_pid && !*env_pid;
    a->match = env_or("PROC_MATCH", DEFAULT_MATCH);
    a->iface = env_or("IFACE", NULL);
    return opt_parse(&cmd, opts, argc, argv, verb);
}

/* The periods and the duration.  0, or -1 after a cli_error. */
static int resolve_numbers(const struct collect_args *a, struct sampler_opts *so)
{
    const char *interval = a->interval ? a->interval : env_or("PROC_INTERVAL_MS", "200");
    const char *src = a->interval || !env_or("PROC_INTERVAL_MS", NULL) ? "--interval-ms"
                                                                        : "PROC_INTERVAL_MS";
    int64_t iv, hv, sv;
    if (!parse_i64(interval, 1, 3600000, &iv)) {
        cli_error("%s must be a whole number of milliseconds from 1 to 3600000, got '%s'", src,
                  interval);
    } else if (!parse_i64(a->host_interval, 0, 3600000, &hv)) {
        cli_error("--host-interval-ms must be a whole number of milliseconds from 0 (off) to "
                  "3600000, got '%s'", a->host_interval);
    } else if (!parse_i64(a->sync, 0, 3600000, &sv)) {
        cli_error("--sync-ms must be a whole number of milliseconds from 0 to 3600000, got '%s'",
                  a->sync);
    } else if (a->duration && !parse_double(a->duration, 0.001, 1e9, &so->duration_s)) {
        cli_error("--duration-s must be a positive number of seconds, got '%s'", a->duration);
    } else if (strcmp(a->backend, "auto") != 0 && strcmp(a->backend, "bpf") != 0 &&
               strcmp(a->backend, "proc") != 0) {
        cli_error("--backend must be auto, bpf or proc, got '%s'", a->backend);
    } else if (strcmp(a->exit_source, "auto") != 0 && strcmp(a->exit_source, "taskstats") != 0 &&
               strcmp(a->exit_source, "proc") != 0) {
        cli_error("--exit-source must be auto, taskstats or proc, got '%s'", a->exit_source);
    } else {
        so->exit_source = a->exit_source[0] == 't'   ? SAMPLER_EXIT_TASKSTATS
                          : a->exit_source[0] == 'p' ? SAMPLER_EXIT_PROC
                                                     : SAMPLER_EXIT_AUTO;
        so->backend = a->backend[0] == 'b'   ? SAMPLER_BACKEND_BPF
                      : a->backend[0] == 'p' ? SAMPLER_BACKEND_PROC
                                             : SAMPLER_BACKEND_AUTO;
        so->interval_ms = (int)iv;
        so->host_interval_ms = (int)hv;
        so->sync_every_ms = (int)sv;
        return 0;
    }
    return -1;
}

/* Each --cgroup, a comma list split in place (argv strings are ours to
 * change), into v.  The count, or -1 after a cli_error. */
static int resolve_cgroups(const struct opt_list *l, const char **v)
{
    int n = 0;
    for (size_t i = 0; i < l->n; i++) {
        char *save = NULL;
        for (char *t = strtok_r((char *)l->v[i], ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (!cgstat_path_valid(t)) {
                cli_error("--cgroup '%s' is not a cgroup path: expected a path relative to the "
                          "cgroup mount roots like system.slice/x.service (no '..', not the "
                          "root)", t);
                return -1;
            }
            if (n == MAX_CGROUPS) {
                cli_error("--cgroup: at most %d groups", MAX_CGROUPS);
                return -1;
            }
            v[n++] = t;
        }
    }
    return n;
}

/* --match is case-sensitive; a PROC_MATCH from the environment (the
 * original's variable, which it used with Python's re.search(..., re.I))
 * matches case-insensitively, like the original.  Both search anywhere in
 * the name (unanchored), as re.search does. */
static int compile_match(const char *text, bool from_env, regex_t *re)
{
    int rc = regcomp(re, text, REG_EXTENDED | REG_NOSUB | (from_env ? REG_ICASE : 0));
    if (rc) {
        char msg[256];
        regerror(rc, re, msg, sizeof msg);
        cli_error("--match/PROC_MATCH '%s' is not a valid POSIX extended regex: %s", text, msg);
        return -1;
    }
    return 0;
}

/* The name of the interface whose address the kernel picks to reach ip (a
 * UDP connect sends nothing), the original's `ip route get VM_IP`, into
 * out.  0, or -1 with err. */
static int route_iface(const char *ip, char *out, size_t n, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(ip, "9", &hints, &ai);
    if (g != 0)
        return errf(err, errlen, "not an IP address (%s)", gai_strerror(g));
    struct sockaddr_storage me;
    socklen_t len = sizeof me;
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
              getsockname(fd, (struct sockaddr *)&me, &len) == 0;
    if (!ok)
        errf(err, errlen, "no route to it (%s)", strerror(errno));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    if (!ok)
        return -1;
    struct ifaddrs *ifs = NULL, *i;
    if (getifaddrs(&ifs) < 0)
        return errf(err, errlen, "cannot list the interfaces (%s)", strerror(errno));
    for (i = ifs; i; i = i->ifa_next) {
        const struct sockaddr *sa = i->ifa_addr;
        if (!sa || sa->sa_family != me.ss_family)
            continue;
        bool same = sa->sa_family == AF_INET
                        ? ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
                              ((const struct sockaddr_in *)&me)->sin_addr.s_addr
                        : !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
                                  &((const struct sockaddr_in6 *)&me)->sin6_addr,
                                  sizeof(struct in6_addr));
        if (same) {
            snprintf(out, n, "%s", i->ifa_name);
            break;
        }
    }
    freeifaddrs(ifs);
    return i ? 0 : errf(err, errlen, "no interface holds the address the route uses");
}

/* VM_IP as the original read it: the interface routing to the controller,
 * when no interface is named.  A warning when it cannot be found. */
static void vm_ip_iface(struct collect_args *a, char *buf, size_t n)
{
    const char *vm = env_or("VM_IP", NULL);
    if (a->iface || !vm || !strcmp(vm, "127.0.0.1") || !strcmp(vm, "localhost"))
        return;
    char err[256];
    if (route_iface(vm, buf, n, err, sizeof err) < 0) {
        log_warn("VM_IP '%s': %s: interface not chosen by it (set IFACE or --iface)", vm, err);
        return;
    }
    log_info("VM_IP %s is reached through interface %s: taken as --iface", vm, buf);
    a->iface = buf;
}

/* start or run, with the sampler's settings in c. */
static int sample(int verb, const struct collect_args *a, struct collector_conf *c)
{
    char err[512] = "";
    regex_t re;
    const char *env_match = getenv("PROC_MATCH");
    if (compile_match(a->match, env_match && *env_match && a->match == env_match, &re) < 0)
        return TK_EXIT_USAGE;
    char *pid_dir = a->no_pid_dir ? NULL : a->pid_dir ? xstrdup(a->pid_dir)
                                                       : path_join(c->run_dir, "pids");
    c->so.pid_dir = pid_dir;
    c->so.match = &re;
    c->so.match_text = a->match;
    char vm_iface[IF_NAMESIZE + 1] = "";
    struct collect_args av = *a;
    vm_ip_iface(&av, vm_iface, sizeof vm_iface);
    c->so.iface = av.iface;
    c->so.realtime = a->realtime;
    struct power_set power;
    struct power_conf pc = {.counters = (const char *const *)a->counters.v,
                            .ncounters = (int)a->counters.n,
                            .inputs = (const char *const *)a->inputs.v,
                            .ninputs = (int)a->inputs.n, .no_energy = a->no_energy};
    int rc = TK_EXIT_USAGE;
    if (power_set_open(&power, &pc, err, sizeof err) == 0) {
        c->so.power = &power;
        rc = verb == V_START ? collector_start(c, stdout, err, sizeof err)
                             : collector_run(c, err, sizeof err);
        power_set_free(&power);
    }
    if (*err)
        cli_error("%s", err);
    regfree(&re);
    free(pid_dir);
    return rc;
}

int cmd_collect(int argc, char **argv)
{
    struct collect_args a = {.host_interval = "1000", .sync = "2000", .exit_source = "auto",
                             .backend = "auto"};
    const char *cgroups[MAX_CGROUPS];
    struct collector_conf c = {.so = {.cgroups = cgroups}};
    int verb = 0, rc = parse_args(argc, argv, &a, &verb);
    if (rc < 0)
        return opt_exit_code(rc);
    c.so.ncgroups = resolve_cgroups(&a.cgroups, cgroups);
    opt_list_free(&a.cgroups);
    bool existing = verb == V_STOP || verb == V_STATUS;
    struct run_ctx ctx;
    if (c.so.ncgroups < 0 || resolve_numbers(&a, &c.so) < 0 ||
        run_opts_resolve(&a.run, existing ? RUNID_NEWEST : RUNID_NEW, &ctx) < 0) {
        opt_list_free(&a.counters);
        opt_list_free(&a.inputs);
        return TK_EXIT_USAGE;
    }
    char err[512] = "";
    if (verb == V_STOP) {
        rc = collector_stop(ctx.run_id, ctx.run_dir, stdout, err, sizeof err);
    } else if (verb == V_STATUS) {
        rc = collector_status(ctx.run_id, ctx.run_dir, stdout);
    } else {
        if (ctx.run_id_source && !strcmp(ctx.run_id_source, "new"))
            log_info("new run id %s (export RUN_ID=%s or write it to run_id.env so other "
                     "commands use it)", ctx.run_id, ctx.run_id);
        c.run_id = ctx.run_id;
        c.node_id = ctx.node_id;
        c.stage = ctx.stage;
        c.run_dir = ctx.run_dir;
        rc = sample(verb, &a, &c);
    }
    opt_list_free(&a.counters);
    opt_list_free(&a.inputs);
    if (*err)
        cli_error("%s", err);
    run_ctx_free(&ctx);
    return rc;
}
