/* wlbuild.c -- the task list the dispatcher's options describe (shared by
 * dispatch and local): the checks across those options, and the I/O around
 * workload.c (listing input files, ffprobe, --tasks). */
#include "sched/wlbuild.h"

#include "common/jsonl.h"
#include "common/log.h"
#include "common/run.h"
#include "common/util.h"
#include "task/launch.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* "a,b,c" -> node names (trimmed, empty items skipped, each a valid id,
 * none twice; malloc'd).  0, or -1 with err. */
static int parse_nodes(const char *s, char ***out, size_t *n, char *err, size_t errlen)
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
            bad = "expected node names of " RUN_ID_RULE;
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

void wlbuild_free(struct wlbuild_opts *o)
{
    for (size_t i = 0; i < o->nnodes; i++)
        free(o->node_names[i]);
    free(o->node_names);
    o->node_names = NULL;
    o->nnodes = 0;
}

/* A usage error: the sentence in err, and -1. */
#define USAGE(...) (snprintf(err, errlen, __VA_ARGS__), -1)

int wlbuild_check(struct wlbuild_opts *o, char *err, size_t errlen)
{
    int sources = !!o->inputs + !!o->command + !!o->tasks;
    if (sources == 0)
        return USAGE("nothing to run: give --inputs DIR --outputs DIR (ffmpeg tasks), "
                     "--command 'PROGRAM ARGS...' or --tasks FILE");
    if (sources > 1)
        return USAGE("give only one of --inputs, --command and --tasks");
    if (o->inputs && !o->outputs)
        return USAGE("--inputs needs --outputs DIR (where the workers write the results)");
    if (!o->inputs && (o->mix || o->outputs))
        return USAGE("--%s goes with --inputs (ffmpeg tasks)", o->mix ? "mix" : "outputs");
    if (o->tasks && o->total >= 0)
        return USAGE("--total goes with --mix or --command; a --tasks file gives its own tasks");
    if (o->policy && !workload_policy_parse(o->policy, &o->wpolicy))
        return USAGE("unknown --policy '%s': expected %s", o->policy, WORKLOAD_POLICY_NAMES);
    if (o->policy && (o->mix || !o->inputs)) {
        if (!o->inputs)
            return USAGE("--policy %s assigns input files to nodes; it goes with --inputs",
                         o->policy);
        log_warn("--policy %s is ignored with --mix (as in the original): mix tasks go to "
                 "node idx mod n, or to the scheduler with --pending", o->policy);
        o->wpolicy = WORKLOAD_RR3;
    }
    if (o->pending && o->drip)
        return USAGE("--drip paces tasks pinned to nodes; with --pending the scheduler "
                     "chooses nodes: give one of them");
    if (o->wpolicy == WORKLOAD_ONLINE && (o->pending || o->drip))
        return USAGE("--policy duration-online chooses nodes as tasks go out, in batches of "
                     "--batch-size; it does not combine with --%s",
                     o->pending ? "pending" : "drip");
    return parse_nodes(o->nodes ? o->nodes : WLBUILD_NODES_DEFAULT, &o->node_names, &o->nnodes,
                       err, errlen);
}

/* ffmpeg tasks over the *.mp4 files of --inputs.  0, -1 or -2 (usage). */
static int from_files(const struct wlbuild_opts *o, struct workload *w, char *err, size_t errlen)
{
    size_t nfiles = 0;
    char **files = list_inputs(o->inputs, &nfiles);
    if (!files) {
        snprintf(err, errlen, "cannot read --inputs %s: %s", o->inputs, strerror(errno));
        return -1;
    }
    int rc = -1;
    double *durs = NULL;
    if (nfiles == 0) {
        snprintf(err, errlen, "no mp4 files under %s (expected *.mp4 files directly in that "
                 "folder; 'tracekit gen-inputs --output %s' makes some)", o->inputs, o->inputs);
        goto out;
    }
    if (!o->mix && o->wpolicy != WORKLOAD_RR3) {
        durs = xcalloc(nfiles, sizeof *durs);
        for (size_t i = 0; i < nfiles; i++)
            durs[i] = probe_duration(o->ffprobe, files[i]);
    }
    struct workload_files f = {
        .outputs = o->outputs, .files = files, .nfiles = nfiles, .durations = durs,
        .nodes = o->node_names, .nnodes = o->nnodes, .scale = o->scale, .preset = o->preset,
        .crf = (int)o->crf, .policy = o->wpolicy, .mix = o->mix,
        .allow_unknown = o->allow_unknown, .total = o->total < 0 ? 0 : o->total, .seed = o->seed,
        .pin = !o->pending && o->wpolicy != WORKLOAD_ONLINE,
    };
    char why[1024];
    if (workload_from_files(w, &f, why, sizeof why) < 0) {
        if (o->mix)
            snprintf(err, errlen, "invalid --mix '%s': %s", o->mix, why);
        else
            snprintf(err, errlen, "%s", why);
        rc = -2;
        goto out;
    }
    if (w->mix_skipped)
        log_warn("--mix: %zu item(s) ignored (not NAME=INTEGER): %s", w->mix_skipped,
                 w->mix_skipped_text ? w->mix_skipped_text : "");
    if (w->mix_duplicates)
        log_warn("--mix: %zu name(s) given twice; the last weight counts", w->mix_duplicates);
    if (w->mix_counts)
        log_info("mix: %s (seed %lld)", w->mix_counts, (long long)o->seed);
    if (mkdir_p(o->outputs, 0755) < 0)
        log_warn("cannot create --outputs %s here: %s (the workers create it too)",
                 o->outputs, strerror(errno));
    rc = 0;
out:
    free(durs);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return rc;
}

int wlbuild_tasks(const struct wlbuild_opts *o, struct workload *w, char *err, size_t errlen)
{
    char why[1024];
    if (o->inputs)
        return from_files(o, w, err, errlen);
    if (o->command) {
        if (workload_from_command(w, o->command, o->total < 0 ? 1 : o->total, o->cpu_units,
                                  o->mem_mb, o->app, why, sizeof why) < 0) {
            snprintf(err, errlen, "invalid --command: %s", why);
            return -2;
        }
        return 0;
    }
    size_t len;
    char *buf = read_file(o->tasks, &len);
    if (!buf) {
        snprintf(err, errlen, "cannot read --tasks %s: %s", o->tasks, strerror(errno));
        return -1;
    }
    int r = workload_from_jsonl(w, buf, len, o->cpu_units, o->mem_mb, o->app, why, sizeof why);
    free(buf);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s; no task was run", o->tasks, why);
        return -1;
    }
    return 0;
}

static void scan_ids(const char *path, size_t *n, int64_t *max_id)
{
    int fd = open_regular(path);
    if (fd < 0)
        return;
    size_t len;
    char *buf = read_fd(fd, &len);
    close(fd);
    if (!buf)
        return;
    for (char *line = buf, *next; line < buf + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        next = nl ? nl + 1 : buf + len;
        json_t *o = jsonl_loadb(line, (size_t)(next - line), 0, NULL);
        if (!o)
            continue;
        (*n)++;
        json_int_t id = json_integer_value(json_object_get(o, "task_id"));
        if (id > *max_id)
            *max_id = id;
        json_decref(o);
    }
    free(buf);
}

void wlbuild_run_tasks(const char *run_dir, size_t *n, int64_t *max_id)
{
    *n = 0;
    *max_id = 0;
    const char *names[] = {"submitted.jsonl", "ledger.jsonl"};
    for (size_t i = 0; i < 2; i++) {
        char *p = path_join(run_dir, names[i]);
        scan_ids(p, n, max_id);
        free(p);
    }
}

int wlbuild_check_new_run(const char *run_id, const char *run_dir, bool append,
                          int64_t *max_id)
{
    size_t n;
    wlbuild_run_tasks(run_dir, &n, max_id);
    if (n == 0 || append)
        return 0;
    cli_error("run %s already has tasks (ids up to %lld in %s/submitted.jsonl or "
              "ledger.jsonl): running more under the same id would merge two experiments; "
              "give a new --run-id, or --append to add these tasks to it", run_id,
              (long long)*max_id, run_dir);
    return -1;
}

void wlbuild_pace(const struct wlbuild_opts *o, struct pace_cfg *pc)
{
    memset(pc, 0, sizeof *pc);
    pc->mode = o->wpolicy == WORKLOAD_ONLINE ? PACE_ONLINE
               : o->pending ? (!strcmp(o->pending_mode, "fifo") ? PACE_FIFO : PACE_PULSE)
               : o->drip    ? PACE_DRIP
                            : PACE_ALL;
    pc->pulse_size = o->pulse_size;
    pc->pulse_spacing_ms = o->pulse_spacing_ms;
    pc->pulse_interval_ms = o->pulse_interval_ms;
    pc->batch_size = o->batch_size;
    pc->pending_max = o->pending_max;
    pc->dribble_ms = o->dribble_ms;
    pc->backlog_limit = o->backlog_limit;
}

int wlbuild_record(const struct wlbuild_opts *o, const struct workload *w, const char *run_dir,
                   const char *by)
{
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_int(&b, "ts_ms", now_wall_ms());
    jb_str(&b, "by", by);
    jb_int(&b, "seed", o->seed);
    jb_str(&b, "source", o->inputs ? "inputs" : o->command ? "command" : "tasks");
    jb_uint(&b, "tasks", w->n);
    if (o->mix)
        jb_str(&b, "mix", o->mix);
    if (w->mix_counts)
        jb_str(&b, "mix_counts", w->mix_counts);
    if (o->policy)
        jb_str(&b, "policy", o->policy);
    jb_bool(&b, "append", o->append);
    jb_obj_close(&b);
    char *p = path_join(run_dir, "workload.jsonl");
    int rc = mkdir_p(run_dir, TK_DIR_MODE) < 0 ? -1 : jsonl_append_line(p, &b);
    if (rc < 0)
        log_warn("cannot write %s: %s (the run goes on; its seed is not recorded)", p,
                 strerror(errno));
    free(p);
    jb_free(&b);
    return rc < 0 ? -1 : 0;
}
