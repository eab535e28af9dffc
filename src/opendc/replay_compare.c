/* replay_compare.c -- the replay's prediction beside the measured run
 * (see replay_compare.h). */
#include "opendc/replay_compare.h"
#include "opendc/replay_load.h"
#include "common/jsonl.h"
#include "common/util.h"
#include "parquet/parquet.h"
#include "parquet/parquet_format.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_out_id(const void *a, const void *b, void *ctx)
{
    const struct rp_out_task *t = ctx;
    int32_t x = t[*(const size_t *)a].id, y = t[*(const size_t *)b].id;
    return (x > y) - (x < y);
}

void rp_compare(const struct rp_result *r, const struct rp_measured *m, size_t n, struct rp_cmp *out)
{
    memset(out, 0, sizeof *out);
    size_t *ix = xmalloc((r->ntasks + 1) * sizeof *ix);
    for (size_t i = 0; i < r->ntasks; i++)
        ix[i] = i;
    qsort_r(ix, r->ntasks, sizeof *ix, cmp_out_id, r->tasks);
    double fin = 0, st = 0, wm = 0, wp = 0;
    int64_t last = 0;
    for (size_t k = 0; k < n; k++) {
        size_t lo = 0, hi = r->ntasks;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (r->tasks[ix[mid]].id < m[k].id)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= r->ntasks || r->tasks[ix[lo]].id != m[k].id || r->tasks[ix[lo]].state != RP_COMPLETED)
            continue;
        const struct rp_out_task *t = &r->tasks[ix[lo]];
        int64_t ms = m[k].start - r->t0_ms, mf = m[k].end - r->t0_ms;
        fin += fabs((double)(t->finish_ms - mf));
        st += fabs((double)(t->start_ms - ms));
        wm += (double)(m[k].start - m[k].enq);
        wp += (double)(t->start_ms - t->sub_ms);
        last = mf > last ? mf : last;
        out->matched++;
    }
    free(ix);
    if (!out->matched)
        return;
    double c = (double)out->matched;
    out->makespan_meas_ms = last;
    out->makespan_pred_ms = r->makespan_ms;
    out->makespan_error_pct = last > 0 ? 100.0 * (double)(r->makespan_ms - last) / (double)last : 0;
    out->finish_mae_ms = fin / c;
    out->start_mae_ms = st / c;
    out->wait_mean_meas_ms = wm / c;
    out->wait_mean_pred_ms = wp / c;
}

/* trace_id -> id, from tasks.parquet's name column. */
struct name_id {
    char *name;
    int32_t id;
    size_t slot;   /* its entry in the measured array, SIZE_MAX before */
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct name_id *)a)->name, ((const struct name_id *)b)->name);
}

static int read_names(const char *odc_dir, struct name_id **out, size_t *n, char *err, size_t errlen)
{
    char *path = path_join(odc_dir, "tasks.parquet");
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    free(path);
    if (!r)
        return -1;
    int li = pq_reader_find(r, "id"), ln = pq_reader_find(r, "name");
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = 0;
    if (li < 0 || ln < 0)
        rc = errf(err, errlen, "%s/tasks.parquet has no name column (the trace ids): not a tracekit export",
                  odc_dir);
    /* OpenDC's types (id INT32, name a string): another type is an error
     * naming the column, never a join that silently finds nothing. */
    static const struct pq_want w[2] = {{"id", PQ_INT32, true}, {"name", PQ_BYTE_ARRAY, true}};
    for (int g = 0; rc == 0 && g < pq_reader_num_row_groups(r); g++) {
        struct pq_column c[2];
        if (pq_read_wanted(r, g, w, 2, c, err, errlen) < 0) {
            rc = -1;
            break;
        }
        const struct pq_column ci = c[0], cn = c[1];
        for (size_t i = 0; i < ci.n && i < cn.n; i++) {
            size_t len;
            const uint8_t *b = pq_column_bytes(&cn, i, &len);
            if ((cn.valid && !cn.valid[i]) || (ci.valid && !ci.valid[i]))
                continue;
            ARRAY_GROW(*out, *n + 1, cap, 64);
            (*out)[*n].name = xmalloc(len + 1);
            memcpy((*out)[*n].name, b, len);
            (*out)[*n].name[len] = 0;
            (*out)[*n].slot = SIZE_MAX;
            (*out)[(*n)++].id = ci.v.i32[i];
        }
        pq_reader_release(r, &c[0]);
        pq_reader_release(r, &c[1]);
    }
    pq_reader_close(r);
    if (*out)
        qsort(*out, *n, sizeof **out, cmp_name);
    if (rc == 0 && !*n)
        rc = errf(err, errlen, "%s/tasks.parquet has no task with a name (the trace ids): not a tracekit export",
                  odc_dir);
    return rc;
}

/* Lines of one invocations.jsonl joined to ids; the last attempt of a
 * trace id wins (the export's task is its last attempt). */
static void read_invocations(const char *path, struct name_id *ni, size_t nn, struct rp_measured **m,
                             size_t *n, size_t *cap)
{
    struct jsonl_reader rd;
    if (jsonl_reader_open(&rd, path) < 0)
        return;
    json_t *o;
    while (jsonl_next(&rd, &o) == 1) {
        const char *tid = jsonl_str(o, "trace_id");
        int64_t enq, start, end;
        bool has_enq = jsonl_ts(o, "ts_enqueue", &enq, NULL);
        if (tid && jsonl_ts(o, "ts_start", &start, NULL) && jsonl_ts(o, "ts_end", &end, NULL)) {
            struct name_id key = {.name = (char *)tid};
            struct name_id *hit = bsearch(&key, ni, nn, sizeof *ni, cmp_name);
            if (hit) {
                if (hit->slot == SIZE_MAX) {
                    ARRAY_GROW(*m, *n + 1, *cap, 64);
                    hit->slot = (*n)++;
                }
                (*m)[hit->slot] = (struct rp_measured){hit->id, has_enq ? enq : start, start, end};
            }
        }
        json_decref(o);
    }
    jsonl_reader_close(&rd);
}

int rp_measured_load(const char *run_dir, const char *odc_dir, struct rp_measured **m, size_t *n, char *err,
                     size_t errlen)
{
    struct name_id *ni;
    size_t nn, cap = 0;
    *m = NULL;
    *n = 0;
    if (read_names(odc_dir, &ni, &nn, err, errlen) < 0)
        return -1;
    char *p = path_join(run_dir, "CTS/invocations.jsonl");
    size_t files = 0;
    if (file_exists(p)) {
        read_invocations(p, ni, nn, m, n, &cap);
        files++;
    } else {   /* an experiment folder: its nodes' folders */
        DIR *d = opendir(run_dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char *q = xasprintf("%s/%s/CTS/invocations.jsonl", run_dir, e->d_name);
            if (file_exists(q)) {
                read_invocations(q, ni, nn, m, n, &cap);
                files++;
            }
            free(q);
        }
        if (d)
            closedir(d);
    }
    free(p);
    for (size_t i = 0; i < nn; i++)
        free(ni[i].name);
    free(ni);
    if (!files)
        return errf(err, errlen, "%s has no CTS/invocations.jsonl (nor NODE/CTS/invocations.jsonl): "
                    "expected a parsed run ('tracekit parse' writes CTS/)", run_dir);
    if (!*n)
        return errf(err, errlen, "no task of %s/CTS/invocations.jsonl has a trace id of %s/tasks.parquet",
                    run_dir, odc_dir);
    return 0;
}

/* Replay dir with quantum q (policy and scaling of experiment.json) and
 * compare; false when either side cannot be read. */
static bool replay_vs(const char *odc_dir, int64_t q, const struct rp_measured *m, size_t n, struct rp_cmp *c)
{
    struct rp_setup s = {.dir = odc_dir, .scaling = -1, .quantum_ms = q};
    struct rp_replay r;
    char err[512];
    bool ok = rp_replay_dir(&s, &r, err, sizeof err) == 0;
    if (ok)
        rp_compare(&r.res, m, n, c);
    rp_replay_free(&r);
    return ok && c->matched > 0;
}

bool rp_export_predict(const char *run_dir, const char *odc_dir, struct rp_prediction *p)
{
    struct rp_measured *m;
    size_t n;
    char err[512];
    struct rp_cmp c, c1;
    memset(p, 0, sizeof *p);
    if (rp_measured_load(run_dir, odc_dir, &m, &n, err, sizeof err) < 0 || !replay_vs(odc_dir, 1000, m, n, &c)) {
        free(m);
        return false;
    }
    p->predicted_ms = c.makespan_pred_ms;
    p->measured_ms = c.makespan_meas_ms;
    p->error_pct = c.makespan_error_pct;
    p->warn = fabs(c.makespan_error_pct) > 5;
    if (p->warn && replay_vs(odc_dir, 1, m, n, &c1) && fabs(c1.makespan_error_pct) < fabs(c.makespan_error_pct) / 2) {
        p->slot_reason = true;
        p->ms_slots_predicted_ms = c1.makespan_pred_ms;
        p->ms_slots_error_pct = c1.makespan_error_pct;
    }
    free(m);
    return true;
}

void rp_export_note(const char *run_dir, const char *odc_dir, FILE *out)
{
    struct rp_prediction p;
    if (!rp_export_predict(run_dir, odc_dir, &p))
        return;
    fprintf(out, "OpenDC (predicted by tracekit replay, docs/replay.md): makespan %.3f s; measured %.3f s (%+.1f%%)\n",
            (double)p.predicted_ms / 1000, (double)p.measured_ms / 1000, p.error_pct);
    if (p.slot_reason)
        fprintf(out, "WARNING: OpenDC's makespan will differ from the run's by %+.1f%%, mainly through its "
                "1-s scheduling slots (each submission and completion waits for the next one): with 1-ms "
                "slots the model gives %.3f s (%+.1f%%)\n", p.error_pct, (double)p.ms_slots_predicted_ms / 1000,
                p.ms_slots_error_pct);
    else if (p.warn)
        fprintf(out, "WARNING: OpenDC's makespan will differ from the run's by %+.1f%%; the per-task "
                "figures: tracekit replay --input %s --compare %s\n", p.error_pct, odc_dir, run_dir);
}

void rp_export_json(const char *run_dir, const char *odc_dir, struct jbuf *b)
{
    struct rp_prediction p;
    if (!rp_export_predict(run_dir, odc_dir, &p)) {
        jb_null(b, "prediction");
        return;
    }
    jb_obj_open(b, "prediction");
    jb_str(b, "by", "tracekit replay (docs/replay.md), 1-s slots");
    jb_int(b, "makespan_predicted_ms", p.predicted_ms);
    jb_int(b, "makespan_measured_ms", p.measured_ms);
    jb_double(b, "difference_pct", p.error_pct);
    jb_bool(b, "warning", p.warn);
    if (p.slot_reason) {
        jb_str(b, "reason", "OpenDC's 1-s scheduling slots (each submission and completion waits for the next one)");
        jb_int(b, "makespan_1ms_slots_ms", p.ms_slots_predicted_ms);
        jb_double(b, "difference_1ms_slots_pct", p.ms_slots_error_pct);
    } else {
        jb_null(b, "reason");
    }
    jb_obj_close(b);
}
