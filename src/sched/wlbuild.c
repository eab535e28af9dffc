/* wlopts.c -- the dispatcher's task options, shared by dispatch and local:
 * parsing and checking them, and building the task list they describe
 * (the I/O around workload.c: listing input files, ffprobe, --tasks). */
#include "sched/wlbuild.h"

#include "task/launch.h"
#include "common/log.h"
#include "sched/mix.h"
#include "common/run.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const struct option wlopts_longopts[] = {
    {"inputs", required_argument, NULL, WLO_INPUTS},
    {"outputs", required_argument, NULL, WLO_OUTPUTS},
    {"scale", required_argument, NULL, WLO_SCALE},
    {"preset", required_argument, NULL, WLO_PRESET},
    {"crf", required_argument, NULL, WLO_CRF},
    {"nodes", required_argument, NULL, WLO_NODES},
    {"policy", required_argument, NULL, WLO_POLICY},
    {"mix", required_argument, NULL, WLO_MIX},
    {"total", required_argument, NULL, WLO_TOTAL},
    {"seed", required_argument, NULL, WLO_SEED},
    {"pending", no_argument, NULL, WLO_PENDING},
    {"pending-mode", required_argument, NULL, WLO_PENDING_MODE},
    {"pulse-size", required_argument, NULL, WLO_PULSE_SIZE},
    {"pulse-interval", required_argument, NULL, WLO_PULSE_INTERVAL},
    {"pulse-spacing", required_argument, NULL, WLO_PULSE_SPACING},
    {"pending-max", required_argument, NULL, WLO_PENDING_MAX},
    {"drip", no_argument, NULL, WLO_DRIP},
    {"batch-size", required_argument, NULL, WLO_BATCH_SIZE},
    {"dribble-interval", required_argument, NULL, WLO_DRIBBLE},
    {"backlog-limit", required_argument, NULL, WLO_BACKLOG},
    {"command", required_argument, NULL, WLO_COMMAND},
    {"tasks", required_argument, NULL, WLO_TASKS},
    {"cpu-units", required_argument, NULL, WLO_CPU_UNITS},
    {"mem-mb", required_argument, NULL, WLO_MEM_MB},
    {"app", required_argument, NULL, WLO_APP},
    {"ffprobe", required_argument, NULL, WLO_FFPROBE},
    {NULL, 0, NULL, 0},
};

/* *.mp4 regular files directly in dir, sorted by name (paths dir/NAME). */
static char **list_inputs(const char *dir, size_t *n)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return NULL;
    char **v = NULL;
    size_t k = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".mp4"))
            continue;
        char *path = path_join(dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            v = xrealloc(v, (k + 1) * sizeof *v);
            v[k++] = path;
        } else {
            free(path);
        }
    }
    closedir(dp);
    if (k > 1)
        qsort(v, k, sizeof *v, cmp_str);
    if (!v)
        v = xcalloc(1, sizeof *v);
    *n = k;
    return v;
}

/* Seconds, or 0 with a warning when ffprobe fails (as the original). */
static double probe_duration(const char *ffprobe, const char *path)
{
    char *argv[] = {(char *)ffprobe, "-v", "error", "-show_entries", "format=duration",
                    "-of", "default=noprint_wrappers=1:nokey=1", (char *)path, NULL};
    char *out = NULL;
    int st = launch_command(argv, &out, 1);
    double d;
    bool ok = st == 0 && out && parse_double(str_trim(out), 0, 1e9, &d);
    free(out);
    if (!ok) {
        log_warn("cannot read the duration of %s with %s (status %d): counting it as 0 s", path,
                 ffprobe, st);
        return 0;
    }
    return d;
}

static bool scale_ok(const char *s)
{
    const char *c = strchr(s, ':');
    if (!c || c == s || !c[1])
        return false;
    for (const char *p = s; *p; p++)
        if (p != c && (*p < '0' || *p > '9'))
            return false;
    return true;
}

static bool word_ok(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

int wlopts_parse_nodes(const char *s, char ***out, size_t *n, char *err, size_t errlen)
{
    char *copy = xstrdup(s), *save = NULL;
    char **v = NULL;
    size_t k = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = str_trim(tok);
        if (!*tok)
            continue;
        const char *bad = NULL;
        if (!run_id_valid(tok))
            bad = "expected node names of 1-128 letters, digits or ._-()+:";
        for (size_t i = 0; i < k && !bad; i++)
            if (!strcmp(v[i], tok))
                bad = "a node is named twice";
        if (bad) {
            snprintf(err, errlen, "invalid --nodes '%s' at '%s': %s", s, tok, bad);
            for (size_t i = 0; i < k; i++)
                free(v[i]);
            free(v);
            free(copy);
            return -1;
        }
        v = xrealloc(v, (k + 1) * sizeof *v);
        v[k++] = xstrdup(tok);
    }
    free(copy);
    if (k == 0) {
        snprintf(err, errlen, "no nodes provided (--nodes '%s'): expected a comma list like "
                              "cloud0,cloud1", s);
        free(v);
        return -1;
    }
    *out = v;
    *n = k;
    return 0;
}

void wlopts_init(struct wlopts *o)
{
    memset(o, 0, sizeof *o);
    o->scale = "1280:720";
    o->preset = "veryfast";
    o->nodes_s = "cloud0,cloud1,cloud2";
    o->mode_s = "pulse";
    o->ffprobe = "ffprobe";
    o->crf = 28;
    o->total = -1;
    o->pulse_size = 10;
    o->pending_max = 6;
    o->batch = 1;
    o->backlog_limit = 1;
    o->cpu_units = 1;
    o->pulse_interval_ms = 300000;
    o->pulse_spacing_ms = 1000;
    o->dribble_ms = 1000;
    o->policy = WORKLOAD_RR3;
}

void wlopts_free(struct wlopts *o)
{
    for (size_t i = 0; i < o->nnodes; i++)
        free(o->nodes[i]);
    free(o->nodes);
    o->nodes = NULL;
    o->nnodes = 0;
}

int wlopts_set(struct wlopts *o, int c, const char *arg)
{
    switch (c) {
    case WLO_INPUTS: o->inputs = arg; break;
    case WLO_OUTPUTS: o->outputs = arg; break;
    case WLO_SCALE:
        if (!scale_ok(arg)) {
            cli_error("invalid --scale '%s': expected WIDTH:HEIGHT like 1280:720", arg);
            return -1;
        }
        o->scale = arg;
        break;
    case WLO_PRESET:
        if (!word_ok(arg)) {
            cli_error("invalid --preset '%s': expected an x264 preset name like veryfast", arg);
            return -1;
        }
        o->preset = arg;
        break;
    case WLO_CRF: return cli_int("--crf", arg, 0, 63, &o->crf) ? 0 : -1;
    case WLO_NODES: o->nodes_s = arg; break;
    case WLO_POLICY: o->policy_s = arg; break;
    case WLO_MIX: o->mix_s = arg; break;
    case WLO_TOTAL: return cli_int("--total", arg, 0, MIX_MAX_TOTAL, &o->total) ? 0 : -1;
    case WLO_SEED: return cli_int("--seed", arg, INT64_MIN + 1, INT64_MAX, &o->seed) ? 0 : -1;
    case WLO_PENDING: o->pending = true; break;
    case WLO_PENDING_MODE:
        if (strcmp(arg, "pulse") && strcmp(arg, "fifo")) {
            cli_error("invalid --pending-mode '%s': expected pulse or fifo", arg);
            return -1;
        }
        o->mode_s = arg;
        break;
    case WLO_PULSE_SIZE: return cli_int("--pulse-size", arg, 1, 1000000, &o->pulse_size) ? 0 : -1;
    case WLO_PULSE_INTERVAL:
        return cli_seconds("--pulse-interval", arg, &o->pulse_interval_ms) ? 0 : -1;
    case WLO_PULSE_SPACING:
        return cli_seconds("--pulse-spacing", arg, &o->pulse_spacing_ms) ? 0 : -1;
    case WLO_PENDING_MAX:
        return cli_int("--pending-max", arg, 1, 100000000, &o->pending_max) ? 0 : -1;
    case WLO_DRIP: o->drip = true; break;
    case WLO_BATCH_SIZE: return cli_int("--batch-size", arg, 1, 1000000, &o->batch) ? 0 : -1;
    case WLO_DRIBBLE: return cli_seconds("--dribble-interval", arg, &o->dribble_ms) ? 0 : -1;
    case WLO_BACKLOG:
        return cli_int("--backlog-limit", arg, 1, 1000000, &o->backlog_limit) ? 0 : -1;
    case WLO_COMMAND: o->command = arg; break;
    case WLO_TASKS: o->tasks_file = arg; break;
    case WLO_CPU_UNITS: return cli_int("--cpu-units", arg, 0, 1000000, &o->cpu_units) ? 0 : -1;
    case WLO_MEM_MB: return cli_int("--mem-mb", arg, 0, INT32_MAX, &o->mem_mb) ? 0 : -1;
    case WLO_APP:
        if (!run_id_valid(arg)) {
            cli_error("invalid --app '%s': expected 1-128 letters, digits or ._-()+:", arg);
            return -1;
        }
        o->app = arg;
        break;
    case WLO_FFPROBE: o->ffprobe = arg; break;
    default: return -1;
    }
    return 0;
}

int wlopts_check(struct wlopts *o)
{
    int sources = !!o->inputs + !!o->command + !!o->tasks_file;
    if (sources == 0) {
        cli_error("nothing to run: give --inputs DIR --outputs DIR (ffmpeg tasks), "
                  "--command 'PROGRAM ARGS...' or --tasks FILE");
        return -1;
    }
    if (sources > 1) {
        cli_error("give only one of --inputs, --command and --tasks");
        return -1;
    }
    if (o->inputs && !o->outputs) {
        cli_error("--inputs needs --outputs DIR (where the workers write the results)");
        return -1;
    }
    if (!o->inputs && (o->mix_s || o->outputs)) {
        cli_error("--%s goes with --inputs (ffmpeg tasks)", o->mix_s ? "mix" : "outputs");
        return -1;
    }
    if (o->tasks_file && o->total >= 0) {
        cli_error("--total goes with --mix or --command; a --tasks file gives its own tasks");
        return -1;
    }
    if (o->policy_s && !workload_policy_parse(o->policy_s, &o->policy)) {
        cli_error("unknown --policy '%s': expected %s", o->policy_s, WORKLOAD_POLICY_NAMES);
        return -1;
    }
    if (o->policy_s && (o->mix_s || !o->inputs)) {
        if (!o->inputs) {
            cli_error("--policy %s assigns input files to nodes; it goes with --inputs",
                      o->policy_s);
            return -1;
        }
        log_warn("--policy %s is ignored with --mix (as in the original): mix tasks go to "
                 "node idx mod n, or to the scheduler with --pending", o->policy_s);
        o->policy = WORKLOAD_RR3;
    }
    if (o->pending && o->drip) {
        cli_error("--drip paces tasks pinned to nodes; with --pending the scheduler chooses "
                  "nodes: give one of them");
        return -1;
    }
    if (o->policy == WORKLOAD_ONLINE && (o->pending || o->drip)) {
        cli_error("--policy duration-online chooses nodes as tasks go out, in batches of "
                  "--batch-size; it does not combine with --%s",
                  o->pending ? "pending" : "drip");
        return -1;
    }
    char err[512];
    if (wlopts_parse_nodes(o->nodes_s, &o->nodes, &o->nnodes, err, sizeof err) < 0) {
        cli_error("%s", err);
        return -1;
    }
    return 0;
}

int wlopts_build(struct wlopts *o, struct workload *w)
{
    char err[1024];
    int rc = -1;
    char **files = NULL;
    size_t nfiles = 0;
    double *durs = NULL;
    if (o->inputs) {
        files = list_inputs(o->inputs, &nfiles);
        if (!files) {
            log_error("cannot read --inputs %s: %s", o->inputs, strerror(errno));
            return -1;
        }
        if (nfiles == 0) {
            log_error("no mp4 files under %s (expected *.mp4 files directly in that folder; "
                      "'tracekit gen-inputs --output %s' makes some)", o->inputs, o->inputs);
            goto out;
        }
        if (!o->mix_s && o->policy != WORKLOAD_RR3) {
            durs = xcalloc(nfiles, sizeof *durs);
            for (size_t i = 0; i < nfiles; i++)
                durs[i] = probe_duration(o->ffprobe, files[i]);
        }
        struct workload_files f = {
            .outputs = o->outputs, .files = files, .nfiles = nfiles, .durations = durs,
            .nodes = o->nodes, .nnodes = o->nnodes, .scale = o->scale, .preset = o->preset,
            .crf = (int)o->crf, .policy = o->policy, .mix = o->mix_s,
            .total = o->total < 0 ? 0 : o->total, .seed = o->seed,
            .pin = !o->pending && o->policy != WORKLOAD_ONLINE,
        };
        if (workload_from_files(w, &f, err, sizeof err) < 0) {
            if (o->mix_s)
                cli_error("invalid --mix '%s': %s", o->mix_s, err);
            else
                cli_error("%s", err);
            rc = -2;
            goto out;
        }
        if (w->mix_skipped)
            log_warn("--mix: %zu item(s) ignored (not NAME=INTEGER)", w->mix_skipped);
        if (w->mix_duplicates)
            log_warn("--mix: %zu name(s) given twice; the last weight counts", w->mix_duplicates);
        if (w->mix_counts)
            log_info("mix: %s (seed %lld)", w->mix_counts, (long long)o->seed);
        if (mkdir_p(o->outputs, 0755) < 0)
            log_warn("cannot create --outputs %s here: %s (the workers create it too)",
                     o->outputs, strerror(errno));
    } else if (o->command) {
        if (workload_from_command(w, o->command, o->total < 0 ? 1 : o->total, o->cpu_units, o->mem_mb,
                            o->app, err, sizeof err) < 0) {
            cli_error("invalid --command: %s", err);
            rc = -2;
            goto out;
        }
    } else {
        size_t len;
        char *buf = read_file(o->tasks_file, &len);
        if (!buf) {
            log_error("cannot read --tasks %s: %s", o->tasks_file, strerror(errno));
            goto out;
        }
        int r = workload_from_jsonl(w, buf, len, o->cpu_units, o->mem_mb, o->app, err, sizeof err);
        free(buf);
        if (r < 0) {
            log_error("%s: %s; no task was run", o->tasks_file, err);
            goto out;
        }
    }
    rc = 0;
out:
    free(durs);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return rc;
}

void wlopts_pace(const struct wlopts *o, struct pace_cfg *pc)
{
    memset(pc, 0, sizeof *pc);
    pc->mode = o->policy == WORKLOAD_ONLINE ? PACE_ONLINE
               : o->pending           ? (!strcmp(o->mode_s, "fifo") ? PACE_FIFO : PACE_PULSE)
               : o->drip              ? PACE_DRIP
                                      : PACE_ALL;
    pc->pulse_size = o->pulse_size;
    pc->pulse_spacing_ms = o->pulse_spacing_ms;
    pc->pulse_interval_ms = o->pulse_interval_ms;
    pc->batch_size = o->batch;
    pc->pending_max = o->pending_max;
    pc->dribble_ms = o->dribble_ms;
    pc->backlog_limit = o->backlog_limit;
}
