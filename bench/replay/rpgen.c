/* rpgen.c -- a synthetic OpenDC workload for bench/replay/run.sh:
 * rpgen DIR TASKS FRAGS_PER_TASK HOSTS writes DIR/tasks.parquet,
 * DIR/fragments.parquet (the export's schema) and DIR/topology.json
 * (HOSTS hosts of 16 cores at 2.1 GHz, 128 GiB).  Tasks arrive every
 * 100 ms with 1-4 cores, 30-s fragments of varying usage; deterministic. */
#include "common/util.h"
#include "parquet/parquet.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: rpgen DIR TASKS FRAGS_PER_TASK HOSTS\n");
        return 2;
    }
    const char *dir = argv[1];
    long nt = atol(argv[2]), nf = atol(argv[3]), nh = atol(argv[4]);
    static const struct pq_col_spec tc[] = {
        {"id", PQ_INT32, PQ_LT_NONE, false, 0},         {"submission_time", PQ_INT64, PQ_LT_NONE, false, 0},
        {"duration", PQ_INT64, PQ_LT_NONE, false, 0},   {"cpu_count", PQ_INT32, PQ_LT_NONE, false, 0},
        {"cpu_capacity", PQ_DOUBLE, PQ_LT_NONE, false, 0}, {"mem_capacity", PQ_INT64, PQ_LT_NONE, false, 0},
    };
    static const struct pq_col_spec fc[] = {
        {"id", PQ_INT32, PQ_LT_NONE, false, 0},
        {"duration", PQ_INT64, PQ_LT_NONE, false, 0},
        {"cpu_usage", PQ_DOUBLE, PQ_LT_NONE, false, 0},
    };
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    char err[512];
    mkdir_p(dir, 0755);
    char *tp = path_join(dir, "tasks.parquet"), *fp = path_join(dir, "fragments.parquet");
    struct pq_writer *t = pq_writer_open(tp, tc, 6, &o, err, sizeof err);
    struct pq_writer *f = t ? pq_writer_open(fp, fc, 3, &o, err, sizeof err) : NULL;
    if (!f) {
        fprintf(stderr, "rpgen: %s\n", err);
        return 1;
    }
    unsigned seed = 1;
    for (long i = 0; i < nt; i++) {
        int cores = 1 + (int)(i % 4);
        pq_put_i32(t, 0, (int32_t)(i + 1));
        pq_put_i64(t, 1, 1700000000000LL + i * 100);
        pq_put_i64(t, 2, nf * 30000);
        pq_put_i32(t, 3, cores);
        pq_put_double(t, 4, cores * 2100.0);
        pq_put_i64(t, 5, 4096000);
        pq_end_row(t);
        for (long k = 0; k < nf; k++) {
            seed = seed * 1103515245u + 12345u;
            pq_put_i32(f, 0, (int32_t)(i + 1));
            pq_put_i64(f, 1, 30000);
            pq_put_double(f, 2, cores * 2100.0 * (double)(seed >> 16 & 1023) / 1023.0);
            pq_end_row(f);
        }
    }
    if (pq_writer_close(t, err, sizeof err) < 0 || pq_writer_close(f, err, sizeof err) < 0) {
        fprintf(stderr, "rpgen: %s\n", err);
        return 1;
    }
    char *topo = path_join(dir, "topology.json");
    FILE *j = fopen(topo, "w");
    if (!j)
        return 1;
    fprintf(j, "{\"clusters\": [{\"name\": \"C\", \"hosts\": [{\"name\": \"H\", \"count\": %ld, \"cpu\": "
               "{\"coreCount\": 16, \"coreSpeed\": \"2.1 GHz\"}, \"memory\": {\"size\": \"128 GiB\"}}]}]}\n", nh);
    fclose(j);
    free(tp);
    free(fp);
    free(topo);
    return 0;
}
