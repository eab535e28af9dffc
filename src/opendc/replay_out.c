/* replay_out.c -- task.parquet and host.parquet as OpenDC writes them
 * (telemetry/parquet/DfltTaskExportColumns.kt, DfltHostExportColumns.kt;
 * time bases: TaskTableReaderImpl.kt -- timestamp, schedule_time and
 * finish_time in simulated ms from the earliest submission,
 * timestamp_absolute = timestamp + that submission, submission_time the
 * task's original epoch ms).  One row per task and one per host, at the
 * end of the simulation: OpenDC writes one per export interval, and a
 * reader comparing runs takes the last. */
#include "opendc/replay_out.h"
#include "common/util.h"
#include "parquet/parquet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { T_TS, T_TSABS, T_ID, T_NAME, T_HOST, T_STATE, T_CORES, T_MEM, T_SUB, T_SCHED, T_FIN, T_DELAY, T_N };

static int write_tasks(const char *dir, const struct rp_replay *r, const struct pq_writer_opts *o, char *err,
                       size_t errlen)
{
    static const struct pq_col_spec cols[T_N] = {
        {"timestamp", PQ_INT64, PQ_LT_NONE, false, 0},
        {"timestamp_absolute", PQ_INT64, PQ_LT_NONE, false, 0},
        {"task_id", PQ_INT32, PQ_LT_NONE, false, 0},
        {"task_name", PQ_BYTE_ARRAY, PQ_LT_STRING, false, 0},
        {"host_name", PQ_BYTE_ARRAY, PQ_LT_STRING, false, 0},
        {"task_state", PQ_BYTE_ARRAY, PQ_LT_STRING, true, 0},
        {"cpu_count", PQ_INT32, PQ_LT_NONE, false, 0},
        {"mem_capacity", PQ_INT64, PQ_LT_NONE, false, 0},
        {"submission_time", PQ_INT64, PQ_LT_NONE, true, 0},
        {"schedule_time", PQ_INT64, PQ_LT_NONE, true, 0},
        {"finish_time", PQ_INT64, PQ_LT_NONE, true, 0},
        {"scheduling_delay", PQ_INT64, PQ_LT_NONE, true, 0},
    };
    char *path = path_join(dir, "task.parquet");
    struct pq_writer *w = pq_writer_open(path, cols, T_N, o, err, errlen);
    free(path);
    if (!w)
        return -1;
    const struct rp_result *x = &r->res;
    for (size_t i = 0; i < x->ntasks; i++) {
        const struct rp_out_task *t = &x->tasks[i];
        const struct rp_task *in = &r->w.tasks[i];
        char name[16];
        snprintf(name, sizeof name, "%d", t->id);   /* the loader keeps no names: the id */
        int64_t ts = t->finish_ms >= 0 ? t->finish_ms : x->makespan_ms;
        pq_put_i64(w, T_TS, ts);
        pq_put_i64(w, T_TSABS, ts + x->t0_ms);
        pq_put_i32(w, T_ID, t->id);
        pq_put_str(w, T_NAME, name);
        pq_put_str(w, T_HOST, t->host >= 0 ? r->hosts[t->host].name : "");
        pq_put_str(w, T_STATE, t->state == RP_COMPLETED ? "COMPLETED" : t->state == RP_TERMINATED ? "TERMINATED"
                                                                                                  : "PROVISIONING");
        pq_put_i32(w, T_CORES, in->cores);
        pq_put_i64(w, T_MEM, in->mem_mib);
        pq_put_i64(w, T_SUB, in->sub_ms);
        if (t->start_ms >= 0) {
            pq_put_i64(w, T_SCHED, t->start_ms);
            pq_put_i64(w, T_DELAY, t->start_ms - t->sub_ms);
        } else {
            pq_put_null(w, T_SCHED);
            pq_put_null(w, T_DELAY);
        }
        if (t->finish_ms >= 0)
            pq_put_i64(w, T_FIN, t->finish_ms);
        else
            pq_put_null(w, T_FIN);
        if (pq_end_row(w) < 0) {
            errf(err, errlen, "task.parquet: %s", pq_writer_error(w));
            pq_writer_abort(w);
            return -1;
        }
    }
    return pq_writer_close(w, err, errlen);
}

enum { H_TS, H_TSABS, H_NAME, H_CLUSTER, H_CORES, H_MEM, H_CAP, H_UTIL, H_ACTIVE, H_IDLE, H_UP, H_N };

static int write_hosts(const char *dir, const struct rp_replay *r, const struct pq_writer_opts *o, char *err,
                       size_t errlen)
{
    static const struct pq_col_spec cols[H_N] = {
        {"timestamp", PQ_INT64, PQ_LT_NONE, false, 0},
        {"timestamp_absolute", PQ_INT64, PQ_LT_NONE, false, 0},
        {"host_name", PQ_BYTE_ARRAY, PQ_LT_STRING, false, 0},
        {"cluster_name", PQ_BYTE_ARRAY, PQ_LT_STRING, false, 0},
        {"core_count", PQ_INT32, PQ_LT_NONE, false, 0},
        {"mem_capacity", PQ_INT64, PQ_LT_NONE, false, 0},
        {"cpu_capacity", PQ_FLOAT, PQ_LT_NONE, false, 0},
        {"cpu_utilization", PQ_FLOAT, PQ_LT_NONE, false, 0},
        {"cpu_time_active", PQ_INT64, PQ_LT_NONE, false, 0},
        {"cpu_time_idle", PQ_INT64, PQ_LT_NONE, false, 0},
        {"uptime", PQ_INT64, PQ_LT_NONE, false, 0},
    };
    char *path = path_join(dir, "host.parquet");
    struct pq_writer *w = pq_writer_open(path, cols, H_N, o, err, errlen);
    free(path);
    if (!w)
        return -1;
    const struct rp_result *x = &r->res;
    for (size_t h = 0; h < r->nhosts; h++) {
        const struct rp_host *H = &r->hosts[h];
        double cap = H->cores * H->core_mhz;
        /* cpu_time_*: core-ms, as OpenDC counts them (busy MHz.ms / MHz per core) */
        double active = H->core_mhz > 0 ? x->host_busy_mhz_ms[h] / H->core_mhz : 0;
        double total = (double)x->makespan_ms * H->cores;
        pq_put_i64(w, H_TS, x->makespan_ms);
        pq_put_i64(w, H_TSABS, x->makespan_ms + x->t0_ms);
        pq_put_str(w, H_NAME, H->name);
        pq_put_str(w, H_CLUSTER, "");
        pq_put_i32(w, H_CORES, H->cores);
        pq_put_i64(w, H_MEM, H->mem_mib);
        pq_put_float(w, H_CAP, (float)cap);
        pq_put_float(w, H_UTIL, (float)(cap > 0 && x->makespan_ms > 0
                                             ? x->host_busy_mhz_ms[h] / (cap * (double)x->makespan_ms) : 0));
        pq_put_i64(w, H_ACTIVE, (int64_t)(active + 0.5));
        pq_put_i64(w, H_IDLE, (int64_t)(total - active + 0.5));
        pq_put_i64(w, H_UP, x->makespan_ms);
        if (pq_end_row(w) < 0) {
            errf(err, errlen, "host.parquet: %s", pq_writer_error(w));
            pq_writer_abort(w);
            return -1;
        }
    }
    return pq_writer_close(w, err, errlen);
}

int rp_write_opendc_output(const char *dir, const struct rp_replay *r, char *err, size_t errlen)
{
    if (mkdir_p(dir, 0755) < 0)
        return errf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    o.codec = PQ_CODEC_SNAPPY;
    if (write_tasks(dir, r, &o, err, errlen) < 0)
        return -1;
    return write_hosts(dir, r, &o, err, errlen);
}
