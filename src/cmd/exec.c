/* exec.c -- `tracekit exec`: run one command as a traced task.
 * Option parsing only; the work is in task.c. */
#include "task/cgroup.h"
#include "cmd/commands.h"
#include "task/cpubind.h"
#include "common/log.h"
#include "task/profiles.h"
#include "common/run.h"
#include "task/task.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit exec [OPTIONS] [--] COMMAND [ARGS...]\n"
            "       tracekit exec [OPTIONS] --profile NAME --input FILE --output FILE\n"
            "\n"
            "Run COMMAND as one traced task: it is registered for the collector (pids/PID)\n"
            "before it runs its own code, bound to CPUs as asked, and one record is appended\n"
            "to logs/RUN_ID/events.APP.jsonl when it ends (also when it cannot start: status\n"
            "127).  Exits with the command's status, 128+N when signal N killed it.\n"
            "SIGINT/SIGTERM/SIGHUP/SIGQUIT are passed on to the command.\n"
            "\n"
            "Run:\n"
            "  --run-id ID          run folder (default: $RUN_ID, run_id.env, else a new id)\n"
            "  --node-id NAME       node in the record (default: $NODE_ID, else the host name)\n"
            "  --stage NAME         stage in the record (default: $STAGE, else cloud)\n"
            "  --logs DIR           logs folder (default: logs)\n"
            "  --pid-dir DIR        sentinel folder (default: $PROC_PID_DIR, else logs/RUN_ID/pids)\n"
            "Record:\n"
            "  --app NAME           write events.NAME.jsonl (default: the command's base name)\n"
            "  --trace-id ID        (default: a new random UUID)\n"
            "  --ts-enqueue MS      enqueue time, epoch ms (default: $TS_ENQUEUE, else ts_start)\n"
            "  --attempt N          attempt number to record (default: 1)\n"
            "  --parent-pid PID     stop the command (SIGTERM) when PID, the process that\n"
            "                       started this exec, dies (tracekit worker passes its own)\n"
            "CPU:\n"
            "  --cpu-binding MODE   none: no binding (--cpuset still pins);\n"
            "                       exclusive: pin to --cpu-units CPUs no other task holds\n"
            "                       (affinity + cpuset cgroup); shared: own cgroup with a CPU\n"
            "                       weight, work-conserving unless --cpu-quota.  Default:\n"
            "                       shared if a weight or quota is given, else none\n"
            "  --cpu-units N        CPUs the task needs (default: 1, or the profile's)\n"
            "  --cpuset LIST        CPUs like 0-3,5: pin to them (none/shared), or the CPUs to\n"
            "                       choose from (exclusive) (default: $CPUSET)\n"
            "  --cpu-weight W       cgroup weight 1-10000 (default: $CPU_WEIGHT, else 100 x units)\n"
            "  --cpu-quota PCT      CPU cap, percent of one CPU (default: $CPU_QUOTA, else none)\n"
            "  --cgroup-parent PATH parent of the task cgroups in each hierarchy (default: tracekit)\n"
            "  --orphan-wait SEC    how long processes the command leaves behind may run on\n"
            "                       before they are terminated (default: 10); they are reaped\n"
            "                       and their CPU time counted\n"
            "ffmpeg profiles:\n"
            "  --profile NAME       build the ffmpeg command from a profile (--list-profiles)\n"
            "  --input FILE         ... reading FILE\n"
            "  --output FILE        ... writing FILE (its folder is created)\n"
            "  --ffmpeg PATH        ffmpeg to run (default: ffmpeg)\n"
            "  --list-profiles      print the profiles and exit\n"
            "\n"
            "  -q, --quiet          only warnings and errors on stderr\n"
            "  -h, --help           this text\n");
}

static void list_profiles(void)
{
    size_t n;
    const struct ffmpeg_profile *t = profile_table(&n);
    printf("%-12s %-10s %-8s %-9s %4s %8s %8s %9s\n", "profile", "scale", "vcodec", "preset",
           "crf", "vthreads", "fthreads", "cpu_units");
    for (size_t i = 0; i < n; i++)
        printf("%-12s %-10s %-8s %-9s %4d %8d %8d %9d\n", t[i].name, t[i].p.scale, t[i].p.vcodec,
               t[i].p.preset, t[i].p.crf, t[i].p.vthreads, t[i].p.fthreads, t[i].cpu_units);
    printf("aliases: light480p1c, light_1c -> light1c; every command has -y -nostdin\n");
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* "50" or "50%" */
static bool parse_pct(const char *s, int64_t *out)
{
    char buf[32];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n + 1);
    if (buf[n - 1] == '%')
        buf[n - 1] = '\0';
    return parse_i64(buf, 1, 100000, out);
}

static bool printable_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f)
            return false;
    return true;
}

enum {
    OPT_RUN_ID = 256, OPT_NODE_ID, OPT_STAGE, OPT_LOGS, OPT_PID_DIR, OPT_APP, OPT_TRACE_ID,
    OPT_TS_ENQUEUE, OPT_ATTEMPT, OPT_BINDING, OPT_UNITS, OPT_CPUSET, OPT_WEIGHT, OPT_QUOTA,
    OPT_CG_PARENT, OPT_ORPHAN_WAIT, OPT_PROFILE, OPT_INPUT, OPT_OUTPUT, OPT_FFMPEG,
    OPT_LIST_PROFILES, OPT_PARENT_PID,
};

int cmd_exec(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run-id", required_argument, NULL, OPT_RUN_ID},
        {"node-id", required_argument, NULL, OPT_NODE_ID},
        {"stage", required_argument, NULL, OPT_STAGE},
        {"logs", required_argument, NULL, OPT_LOGS},
        {"pid-dir", required_argument, NULL, OPT_PID_DIR},
        {"app", required_argument, NULL, OPT_APP},
        {"trace-id", required_argument, NULL, OPT_TRACE_ID},
        {"ts-enqueue", required_argument, NULL, OPT_TS_ENQUEUE},
        {"attempt", required_argument, NULL, OPT_ATTEMPT},
        {"cpu-binding", required_argument, NULL, OPT_BINDING},
        {"cpu-units", required_argument, NULL, OPT_UNITS},
        {"cpuset", required_argument, NULL, OPT_CPUSET},
        {"cpu-weight", required_argument, NULL, OPT_WEIGHT},
        {"cpu-quota", required_argument, NULL, OPT_QUOTA},
        {"cgroup-parent", required_argument, NULL, OPT_CG_PARENT},
        {"orphan-wait", required_argument, NULL, OPT_ORPHAN_WAIT},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"input", required_argument, NULL, OPT_INPUT},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"ffmpeg", required_argument, NULL, OPT_FFMPEG},
        {"list-profiles", no_argument, NULL, OPT_LIST_PROFILES},
        {"parent-pid", required_argument, NULL, OPT_PARENT_PID},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *run_id = NULL, *node = NULL, *stage = NULL, *logs = NULL, *pid_dir = NULL;
    const char *binding_s = NULL, *cpuset = NULL, *weight_s = NULL, *quota_s = NULL;
    const char *ts_enqueue_s = NULL, *profile_s = NULL, *input = NULL, *output = NULL;
    const char *ffmpeg = "ffmpeg";
    int64_t parent = 0;
    struct task_opts o;
    memset(&o, 0, sizeof o);
    o.cgroup_parent = "tracekit";
    o.attempt = 1;
    o.cpu_units = -1;
    o.orphan_wait_ms = 10000;
    int64_t v;
    double d;
    char err[512];
    cpu_set_t set;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_RUN_ID: run_id = optarg; break;
        case OPT_NODE_ID: node = optarg; break;
        case OPT_STAGE: stage = optarg; break;
        case OPT_LOGS: logs = optarg; break;
        case OPT_PID_DIR: pid_dir = optarg; break;
        case OPT_APP:
            if (!run_id_valid(optarg)) {
                cli_error("invalid --app '%s': expected 1-128 letters, digits or ._-()+:", optarg);
                return TK_EXIT_USAGE;
            }
            o.app = optarg;
            break;
        case OPT_TRACE_ID:
            if (!printable_id(optarg)) {
                cli_error("invalid --trace-id '%s': expected 1-128 printable characters, no blanks",
                          optarg);
                return TK_EXIT_USAGE;
            }
            o.trace_id = optarg;
            break;
        case OPT_TS_ENQUEUE: ts_enqueue_s = optarg; break;
        case OPT_ATTEMPT:
            if (!parse_i64(optarg, 1, 1000000, &v)) {
                cli_error("invalid --attempt '%s': expected an integer from 1 to 1000000", optarg);
                return TK_EXIT_USAGE;
            }
            o.attempt = (int)v;
            break;
        case OPT_BINDING: binding_s = optarg; break;
        case OPT_UNITS:
            if (!parse_i64(optarg, 1, CPU_SETSIZE, &v)) {
                cli_error("invalid --cpu-units '%s': expected an integer from 1 to %d", optarg,
                          CPU_SETSIZE);
                return TK_EXIT_USAGE;
            }
            o.cpu_units = (int)v;
            break;
        case OPT_CPUSET: cpuset = optarg; break;
        case OPT_WEIGHT: weight_s = optarg; break;
        case OPT_QUOTA: quota_s = optarg; break;
        case OPT_CG_PARENT:
            if (!cgroup_path_valid(optarg)) {
                cli_error("invalid --cgroup-parent '%s': expected a relative path like tracekit "
                          "or a/b (letters, digits, ._-:@)",
                          optarg);
                return TK_EXIT_USAGE;
            }
            o.cgroup_parent = optarg;
            break;
        case OPT_ORPHAN_WAIT:
            if (!parse_double(optarg, 0, 86400, &d)) {
                cli_error("invalid --orphan-wait '%s': expected seconds from 0 to 86400", optarg);
                return TK_EXIT_USAGE;
            }
            o.orphan_wait_ms = (int)(d * 1000);
            break;
        case OPT_PROFILE: profile_s = optarg; break;
        case OPT_INPUT: input = optarg; break;
        case OPT_OUTPUT: output = optarg; break;
        case OPT_FFMPEG: ffmpeg = optarg; break;
        case OPT_LIST_PROFILES: list_profiles(); return TK_EXIT_OK;
        case OPT_PARENT_PID:
            if (!parse_i64(optarg, 1, INT32_MAX, &parent)) {
                cli_error("invalid --parent-pid '%s': expected a process id", optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case 'q': log_set_level(LOG_WARN); break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        default:
            if (optopt)
                cli_error("option '%s' needs a value (see 'tracekit exec --help')",
                          argv[optind - 1]);
            else
                cli_error("unknown option '%s' (see 'tracekit exec --help')", argv[optind - 1]);
            return TK_EXIT_USAGE;
        }
    }

    /* the command, or a profile */
    const struct ffmpeg_profile *prof = NULL;
    char **built = NULL;
    if (profile_s) {
        prof = profile_find(profile_s);
        if (!prof) {
            cli_error("unknown --profile '%s' (see 'tracekit exec --list-profiles')", profile_s);
            return TK_EXIT_USAGE;
        }
        if (!input || !output) {
            cli_error("--profile needs --input FILE and --output FILE");
            return TK_EXIT_USAGE;
        }
        if (optind < argc) {
            cli_error("give either --profile or a COMMAND, not both (got '%s')", argv[optind]);
            return TK_EXIT_USAGE;
        }
    } else if (input || output) {
        cli_error("--input and --output go with --profile");
        return TK_EXIT_USAGE;
    } else if (optind >= argc) {
        cli_error("no command given: tracekit exec [OPTIONS] -- COMMAND [ARGS...]");
        return TK_EXIT_USAGE;
    }
    if (o.cpu_units < 0)
        o.cpu_units = prof ? prof->cpu_units : 1;

    /* values that may come from the original's environment variables */
    const char *from;
    if (!cpuset && (cpuset = env_nonempty("CPUSET")))
        from = "CPUSET";
    else
        from = "--cpuset";
    if (cpuset) {
        if (cpulist_parse(cpuset, &set, err, sizeof err) < 0) {
            cli_error("invalid %s: %s", from, err);
            return TK_EXIT_USAGE;
        }
        o.cpuset = cpuset;
    }
    o.cpu_weight = -1;
    from = weight_s ? "--cpu-weight" : "CPU_WEIGHT";
    if (weight_s || (weight_s = env_nonempty("CPU_WEIGHT"))) {
        if (!parse_i64(weight_s, CGROUP_WEIGHT_MIN, CGROUP_WEIGHT_MAX, &v)) {
            cli_error("invalid %s '%s': expected an integer from %d to %d", from, weight_s,
                      CGROUP_WEIGHT_MIN, CGROUP_WEIGHT_MAX);
            return TK_EXIT_USAGE;
        }
        o.cpu_weight = (int)v;
    }
    o.cpu_quota = -1;
    from = quota_s ? "--cpu-quota" : "CPU_QUOTA";
    if (quota_s || (quota_s = env_nonempty("CPU_QUOTA"))) {
        if (!parse_pct(quota_s, &v)) {
            cli_error("invalid %s '%s': expected a percentage of one CPU from 1 to 100000", from,
                      quota_s);
            return TK_EXIT_USAGE;
        }
        o.cpu_quota = (int)v;
    }
    bool want_cg = o.cpu_weight >= 0 || o.cpu_quota >= 0;
    if (binding_s) {
        if (!cpu_binding_parse(binding_s, &o.binding)) {
            cli_error("invalid --cpu-binding '%s': expected none, exclusive or shared", binding_s);
            return TK_EXIT_USAGE;
        }
        if (want_cg && o.binding != BIND_SHARED) {
            cli_error("a CPU weight or quota needs --cpu-binding shared (got '%s')", binding_s);
            return TK_EXIT_USAGE;
        }
    } else {
        o.binding = want_cg ? BIND_SHARED : BIND_NONE;
    }
    o.has_ts_enqueue = false;
    if (ts_enqueue_s) {
        if (!parse_i64(ts_enqueue_s, 0, INT64_MAX, &o.ts_enqueue)) {
            cli_error("invalid --ts-enqueue '%s': expected epoch milliseconds", ts_enqueue_s);
            return TK_EXIT_USAGE;
        }
        o.has_ts_enqueue = true;
    } else if ((ts_enqueue_s = env_nonempty("TS_ENQUEUE"))) {
        if (parse_i64(ts_enqueue_s, 0, INT64_MAX, &o.ts_enqueue))
            o.has_ts_enqueue = true;
        else
            log_warn("ignoring TS_ENQUEUE='%s' (not epoch milliseconds); using ts_start",
                     ts_enqueue_s);
    }

    /* a worker killed with SIGKILL: its tasks run again elsewhere, so this
     * attempt must not go on (two ffmpeg writing one output); SIGTERM is
     * passed on to the command like any other, and the record says so */
    if (parent > 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != (pid_t)parent) {
            log_error("the parent process %lld is gone; not starting the task", (long long)parent);
            return TK_EXIT_FAIL;
        }
    }

    struct run_ctx ctx;
    if (run_ctx_resolve(&ctx, run_id, node, stage, logs, RUNID_NEW, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    int rc = TK_EXIT_FAIL;
    char *pids = NULL;
    if (!pid_dir)
        pid_dir = env_nonempty("PROC_PID_DIR");
    pids = pid_dir ? xstrdup(pid_dir) : path_join(ctx.run_dir, "pids");
    if (mkdir_p(ctx.run_dir, 0755) < 0) {
        log_error("cannot create %s: %s", ctx.run_dir, strerror(errno));
        goto out;
    }
    if (mkdir_p(pids, 0755) < 0) {
        log_error("cannot create the sentinel folder %s: %s", pids, strerror(errno));
        goto out;
    }
    if (prof) {
        struct ffmpeg_params p = prof->p;
        built = ffmpeg_argv(ffmpeg, &p, input, output);
        char *dir = xstrdup(output), *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (mkdir_p(dir, 0755) < 0)
                log_warn("cannot create the output folder %s: %s", dir, strerror(errno));
        }
        free(dir);
        o.argv = built;
        o.ffmpeg = true;
        if (!o.app)
            o.app = "ffmpeg";
    } else {
        o.argv = argv + optind;
    }
    if (ctx.run_id_source && !strcmp(ctx.run_id_source, "new"))
        log_info("no RUN_ID given: using new run id %s", ctx.run_id);
    o.run_dir = ctx.run_dir;
    o.pid_dir = pids;
    o.node = ctx.node_id;
    o.stage = ctx.stage;
    rc = task_run(&o);
out:
    argv_free(built);
    free(pids);
    run_ctx_free(&ctx);
    return rc;
}
