/* fragbench -- how fast our Parquet writer writes an OpenDC fragments table
 * (id INT32, duration INT64, cpu_usage DOUBLE, all REQUIRED), and how much
 * memory it needs.  Prints one line:
 *   rows=N codec=C seconds=S rows_per_s=R file_bytes=B peak_rss_kb=K
 * The data look like an export: tasks of ~100 fragments, mostly 1000 ms
 * fragments, CPU usage varying per fragment.  Generating it is part of the
 * timed loop (a few ns per row).
 *
 *   fragbench [--rows N] [--codec none|snappy|zstd] [--dict auto|never] [--sync] OUT */
#include "parquet/parquet.h"
#include "common/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"rows", required_argument, 0, 'n'},
                                         {"codec", required_argument, 0, 'c'},
                                         {"dict", required_argument, 0, 'd'},
                                         {"sync", no_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    int64_t rows = 10000000;
    int dict = PQ_DICT_AUTO;
    const char *codec = "none";
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!parse_i64(optarg, 0, INT64_MAX / 2, &rows)) {
                fprintf(stderr, "fragbench: bad --rows '%s'\n", optarg);
                return 2;
            }
            break;
        case 'c':
            codec = optarg;
            if (!strcmp(optarg, "none")) o.codec = PQ_CODEC_UNCOMPRESSED;
            else if (!strcmp(optarg, "snappy")) o.codec = PQ_CODEC_SNAPPY;
            else if (!strcmp(optarg, "zstd")) o.codec = PQ_CODEC_ZSTD;
            else { fprintf(stderr, "fragbench: bad --codec '%s' (none, snappy or zstd)\n", optarg); return 2; }
            break;
        case 'd':
            if (!strcmp(optarg, "auto")) dict = PQ_DICT_AUTO;
            else if (!strcmp(optarg, "never")) dict = PQ_DICT_NEVER;
            else { fprintf(stderr, "fragbench: bad --dict '%s' (auto or never)\n", optarg); return 2; }
            break;
        case 's': o.sync = true; break;
        case 'h':
            printf("usage: fragbench [--rows N] [--codec none|snappy|zstd] [--dict auto|never] [--sync] OUT\n");
            return 0;
        default: return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: fragbench [--rows N] [--codec none|snappy|zstd] [--dict auto|never] [--sync] OUT\n");
        return 2;
    }
    const struct pq_col_spec cols[3] = {
        {"id", PQ_INT32, PQ_LT_NONE, false, dict},
        {"duration", PQ_INT64, PQ_LT_NONE, false, dict},
        {"cpu_usage", PQ_DOUBLE, PQ_LT_NONE, false, dict},
    };
    char err[512];
    int64_t t0 = now_mono_ns();
    struct pq_writer *w = pq_writer_open(argv[optind], cols, 3, &o, err, sizeof err);
    if (!w) {
        fprintf(stderr, "fragbench: %s\n", err);
        return 1;
    }
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int64_t i = 0; i < rows; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pq_put_i32(w, 0, (int32_t)(i / 100));
        pq_put_i64(w, 1, i % 100 == 99 ? (int64_t)(x % 1000) + 1 : 1000);
        pq_put_double(w, 2, (double)(x % 4800000) / 1000.0);
        if (pq_end_row(w) < 0) {
            fprintf(stderr, "fragbench: %s\n", pq_writer_error(w));
            pq_writer_abort(w);
            return 1;
        }
    }
    if (pq_writer_close(w, err, sizeof err) < 0) {
        fprintf(stderr, "fragbench: %s\n", err);
        return 1;
    }
    double secs = (double)(now_mono_ns() - t0) / 1e9;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct stat st;
    stat(argv[optind], &st);
    printf("rows=%lld codec=%s dict=%s sync=%d seconds=%.3f rows_per_s=%.0f file_bytes=%lld peak_rss_kb=%ld\n",
           (long long)rows, codec, dict == PQ_DICT_AUTO ? "auto" : "never", o.sync, secs,
           secs > 0 ? (double)rows / secs : 0, (long long)st.st_size, ru.ru_maxrss);
    return 0;
}
