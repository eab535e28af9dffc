/* replay.c -- tracekit replay: options and output only (the model is
 * opendc/replay.c, the files opendc/replay_load.c). */
#include "cmd/commands.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "opendc/replay_compare.h"
#include "opendc/replay_load.h"
#include "opendc/replay_out.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const usage[] = {
    "tracekit replay --input DIR [--topology FILE] [--policy NAME|JSON|FILE] [--scaling nodelay|perfect]\n"
    "                [--quantum-ms N] [--output FILE.jsonl] [--compare RUN_DIR]\n"
    "                [--opendc-output DIR] [--json]",
    NULL};
static const struct opt_cmd cmd = {
    .name = "replay",
    .usage = usage,
    .description =
        "Predict what OpenDC HEAD will compute for an exported workload, without OpenDC:\n"
        "a model of its loader, compute service (FIFO queue, head-of-line blocking,\n"
        "scheduling cycles on 1-s slots, tasks fitting no host terminated), FilterScheduler\n"
        "(filters, weighers, prefabs), max-min fair sharing of each host and the NoDelay\n"
        "and Perfect scaling policies (docs/replay.md: every rule and its OpenDC source).\n"
        "Without --policy or --scaling it takes them from DIR/experiment.json when there\n"
        "is one (else OpenDC's defaults: prefab Mem, NoDelay); the topology is --topology,\n"
        "else DIR/topology.json, else experiment.json's.  Prints the predicted makespan\n"
        "and per-host busy share; times are ms from the earliest submission.  --compare\n"
        "puts the measured run beside it, tasks joined by the export's ids (trace ids).\n",
};

static const char *state_name(int s)
{
    return s == RP_COMPLETED ? "COMPLETED" : s == RP_TERMINATED ? "TERMINATED" : "PENDING";
}

static int write_tasks(const char *path, const struct rp_replay *r)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (size_t i = 0; i < r->res.ntasks; i++) {
        const struct rp_out_task *t = &r->res.tasks[i];
        fprintf(f, "{\"id\":%d,\"host\":", t->id);
        if (t->host >= 0)
            fprintf(f, "\"%s\"", r->hosts[t->host].name);   /* topology names: no quotes or escapes checked */
        else
            fputs("null", f);
        fprintf(f, ",\"submission_ms\":%" PRId64 ",\"start_ms\":%" PRId64 ",\"finish_ms\":%" PRId64
                   ",\"state\":\"%s\"}\n", t->sub_ms, t->start_ms, t->finish_ms, state_name(t->state));
    }
    bool bad = ferror(f);
    return fclose(f) == 0 && !bad ? 0 : -1;
}

static double busy(const struct rp_replay *r, size_t h)
{
    const struct rp_host *H = &r->hosts[h];
    double span = (double)r->res.makespan_ms * H->cores * H->core_mhz;
    return span > 0 ? r->res.host_busy_mhz_ms[h] / span : 0;
}

static void print_summary(const struct rp_replay *r, int64_t quantum, bool json, const struct rp_cmp *c)
{
    const struct rp_result *x = &r->res;
    if (json) {
        json_t *hosts = json_array();
        for (size_t h = 0; h < r->nhosts; h++)
            json_array_append_new(hosts, json_pack("{s:s,s:f}", "name", r->hosts[h].name, "busy", busy(r, h)));
        json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:s,s:I,s:o}", "tasks", (json_int_t)x->ntasks,
                              "completed", (json_int_t)x->completed, "terminated", (json_int_t)x->terminated,
                              "dropped", (json_int_t)r->w.dropped, "makespan_ms", (json_int_t)x->makespan_ms,
                              "policy", r->policy.name, "scaling",
                              r->scaling == RP_PERFECT ? "Perfect" : "NoDelay", "quantum_ms",
                              (json_int_t)quantum, "hosts", hosts);
        if (c)
            json_object_set_new(o, "compare", json_pack("{s:I,s:I,s:I,s:f,s:f,s:f,s:{s:f,s:f}}", "matched",
                                                        (json_int_t)c->matched, "makespan_measured_ms",
                                                        (json_int_t)c->makespan_meas_ms, "makespan_predicted_ms",
                                                        (json_int_t)c->makespan_pred_ms, "makespan_error_pct",
                                                        c->makespan_error_pct, "finish_mae_ms", c->finish_mae_ms,
                                                        "start_mae_ms", c->start_mae_ms, "wait_mean_ms",
                                                        "measured", c->wait_mean_meas_ms, "predicted",
                                                        c->wait_mean_pred_ms));
        json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
        return;
    }
    printf("replay: %zu tasks (%zu completed, %zu terminated, %zu dropped without fragments) on %zu hosts\n",
           x->ntasks, x->completed, x->terminated, r->w.dropped, r->nhosts);
    printf("policy %s (%s), scaling %s (%s), topology from %s, %" PRId64 " ms slots\n", r->policy.name,
           r->policy_from, r->scaling == RP_PERFECT ? "Perfect" : "NoDelay", r->scaling_from, r->topology_from,
           quantum);
    printf("predicted makespan: %.3f s\n", (double)x->makespan_ms / 1000);
    for (size_t h = 0; h < r->nhosts; h++)
        printf("  host %-20s busy %5.1f%%\n", r->hosts[h].name, 100 * busy(r, h));
    if (c)
        printf("measured: %zu tasks matched, makespan %.3f s (prediction %+.1f%%); mean |error| finish %.0f ms, "
               "start %.0f ms; mean wait measured %.0f ms, predicted %.0f ms\n", c->matched,
               (double)c->makespan_meas_ms / 1000, c->makespan_error_pct, c->finish_mae_ms, c->start_mae_ms,
               c->wait_mean_meas_ms, c->wait_mean_pred_ms);
}

int cmd_replay(int argc, char **argv)
{
    const char *input = NULL, *topology = NULL, *policy = NULL, *scaling = NULL, *output = NULL,
               *compare = NULL, *odc_out = NULL;
    int64_t quantum = 1000;
    bool json = false;
    struct opt opts[] = {
        OPT_STRING(0, "input", &input, "DIR", "the exported workload folder (required)"),
        OPT_STRING(0, "topology", &topology, "FILE", "hosts (default DIR/topology.json, else experiment.json's)"),
        OPT_STRING(0, "policy", &policy, "NAME|JSON|FILE",
                   "allocation policy: a prefab name, OpenDC's JSON form or a file with it (default "
                   "experiment.json's, else Mem)"),
        OPT_STRING(0, "scaling", &scaling, "nodelay|perfect", "fragment scaling (default experiment.json's, "
                   "else nodelay)"),
        OPT_INT(0, "quantum-ms", &quantum, "N", 1, 86400000, "scheduling slot in ms (default 1000, OpenDC's)"),
        OPT_STRING(0, "output", &output, "FILE.jsonl", "one line per task: id, host, submission_ms, "
                   "start_ms, finish_ms, state"),
        OPT_STRING(0, "compare", &compare, "RUN_DIR", "the measured run (its CTS/invocations.jsonl): "
                   "makespan error, mean finish and start error, mean wait"),
        OPT_STRING(0, "opendc-output", &odc_out, "DIR", "also write task.parquet and host.parquet with "
                   "OpenDC's output columns and time bases"),
        OPT_FLAG(0, "json", &json, "one summary object on stdout instead of text"),
        OPT_END(),
    };
    int n = opt_parse(&cmd, opts, argc, argv, NULL);
    if (n < 0)
        return opt_exit_code(n);
    if (!input || !is_dir(input)) {
        if (input)
            cli_error("--input: '%s' is not a folder", input);
        else
            cli_error("--input DIR is required (the folder with tasks.parquet and fragments.parquet)");
        return TK_EXIT_USAGE;
    }
    int sc = -1;
    if (scaling && strcasecmp(scaling, "nodelay") && strcasecmp(scaling, "perfect")) {
        cli_error("invalid --scaling '%s': expected nodelay or perfect", scaling);
        return TK_EXIT_USAGE;
    }
    if (scaling)
        sc = strcasecmp(scaling, "perfect") ? RP_NODELAY : RP_PERFECT;
    struct rp_setup s = {.dir = input, .topology = topology, .policy = policy, .scaling = sc,
                         .quantum_ms = quantum};
    struct rp_replay r;
    char err[512];
    int rc = TK_EXIT_OK;
    if (rp_replay_dir(&s, &r, err, sizeof err) < 0) {
        log_error("%s", err);
        rc = TK_EXIT_FAIL;
    } else if (output && write_tasks(output, &r) < 0) {
        log_error("cannot write %s: %s", output, strerror(errno));
        rc = TK_EXIT_FAIL;
    } else if (odc_out && rp_write_opendc_output(odc_out, &r, err, sizeof err) < 0) {
        log_error("--opendc-output: %s", err);
        rc = TK_EXIT_FAIL;
    } else if (compare) {
        struct rp_measured *m;
        size_t nm;
        struct rp_cmp c;
        if (rp_measured_load(compare, input, &m, &nm, err, sizeof err) < 0) {
            log_error("--compare: %s", err);
            rc = TK_EXIT_FAIL;
        } else {
            rp_compare(&r.res, m, nm, &c);
            print_summary(&r, quantum, json, &c);
        }
        free(m);
    } else {
        print_summary(&r, quantum, json, NULL);
    }
    rp_replay_free(&r);
    return rc;
}
