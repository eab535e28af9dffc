/* pqwrite [OPTIONS] OUT.parquet -- write a deterministic test table with our
 * writer: every column kind it supports (REQUIRED and OPTIONAL INT32, INT64,
 * FLOAT, DOUBLE, BOOLEAN, STRING, TIMESTAMP(MILLIS,UTC); edge values such as
 * INT64_MIN, NaN, -0.0, empty and multi-byte strings; low- and
 * high-cardinality data so dictionary encoding both pays and does not), and
 * with --expect FILE the values it wrote, as JSON in the layout of
 * tests/tools/pqdump.mjs, for tests/tools/pqcompare.py.
 *
 *   --codec none|snappy|zstd   --dict auto|never|always   --page-version 1|2
 *   --rows N   --row-group-rows N   --page-values N   --dict-max-bytes N */
#include "common/jsonl.h"
#include "parquet/parquet.h"
#include "common/util.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C_I32, C_I64, C_F64, C_TS, C_STR, C_BOOL, C_I32O, C_I64O, C_F64O, C_F32O, C_BOOLO, C_STRO,
       C_TSO, C_NULL, C_HIGH, NCOLS };

static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static const char *const words[] = {"", "ffmpeg", "ffprobe", "\xc3\xa9t\xc3\xa9", "quote\"back\\slash",
                                    "tab\tnew\nline", "\xe6\x97\xa5\xe6\x9c\xac", "x"};

static double f64_of(uint64_t i, uint64_t h)
{
    switch (i % 53) {
    case 0: return NAN;
    case 1: return -0.0;
    case 2: return 0.0;
    case 3: return INFINITY;
    case 4: return -INFINITY;
    case 5: return 1e-310;   /* subnormal */
    case 6: return -1.7976931348623157e308;
    default: return (double)(int64_t)(h % 2000001) / 7.0 - 100000.0;
    }
}

static int64_t i64_of(uint64_t i, uint64_t h)
{
    if (i % 97 == 0) return INT64_MIN;
    if (i % 97 == 1) return INT64_MAX;
    return (int64_t)h >> (h % 50);
}

static int32_t i32_of(uint64_t i, uint64_t h)
{
    if (i % 89 == 0) return INT32_MIN;
    if (i % 89 == 1) return INT32_MAX;
    return (int32_t)(h % 7) - 3;   /* low cardinality */
}

static void put_float(struct jbuf *b, const char *k, double v)
{
    char s[40];
    if (isnan(v)) snprintf(s, sizeof s, "NaN");
    else if (isinf(v)) snprintf(s, sizeof s, v > 0 ? "Infinity" : "-Infinity");
    else snprintf(s, sizeof s, "%.17g", v);
    jb_str(b, k, s);
}

static void put_int(struct jbuf *b, const char *k, int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%" PRId64, v);
    jb_str(b, k, s);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: pqwrite [--codec none|snappy|zstd] [--dict auto|never|always] [--page-version 1|2]\n"
               "               [--rows N] [--row-group-rows N] [--page-values N] [--dict-max-bytes N]\n"
               "               [--expect FILE] OUT.parquet\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"codec", required_argument, 0, 'c'},       {"dict", required_argument, 0, 'd'},
        {"page-version", required_argument, 0, 'v'}, {"rows", required_argument, 0, 'n'},
        {"row-group-rows", required_argument, 0, 'g'}, {"page-values", required_argument, 0, 'p'},
        {"dict-max-bytes", required_argument, 0, 'm'}, {"expect", required_argument, 0, 'e'},
        {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    o.row_group_bytes = (size_t)1 << 40;   /* row groups by row count only */
    int dict = PQ_DICT_AUTO;
    int64_t rows = 1000, v;
    const char *expect = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (!strcmp(optarg, "none")) o.codec = PQ_CODEC_UNCOMPRESSED;
            else if (!strcmp(optarg, "snappy")) o.codec = PQ_CODEC_SNAPPY;
            else if (!strcmp(optarg, "zstd")) o.codec = PQ_CODEC_ZSTD;
            else { fprintf(stderr, "pqwrite: bad --codec '%s'\n", optarg); return 2; }
            break;
        case 'd':
            if (!strcmp(optarg, "auto")) dict = PQ_DICT_AUTO;
            else if (!strcmp(optarg, "never")) dict = PQ_DICT_NEVER;
            else if (!strcmp(optarg, "always")) dict = PQ_DICT_ALWAYS;
            else { fprintf(stderr, "pqwrite: bad --dict '%s'\n", optarg); return 2; }
            break;
        case 'v': case 'n': case 'g': case 'p': case 'm':
            if (!parse_i64(optarg, c == 'n' ? 0 : 1, INT32_MAX, &v)) {
                fprintf(stderr, "pqwrite: bad number '%s'\n", optarg);
                return 2;
            }
            if (c == 'v') o.page_version = (int)v;
            else if (c == 'n') rows = v;
            else if (c == 'g') o.row_group_rows = (size_t)v;
            else if (c == 'p') o.page_values = (size_t)v;
            else o.dict_max_bytes = (size_t)v;
            break;
        case 'e': expect = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const struct pq_col_spec cols[NCOLS] = {
        [C_I32] = {"i32", PQ_INT32, PQ_LT_NONE, false, dict},
        [C_I64] = {"i64", PQ_INT64, PQ_LT_NONE, false, dict},
        [C_F64] = {"f64", PQ_DOUBLE, PQ_LT_NONE, false, dict},
        [C_TS] = {"ts", PQ_INT64, PQ_LT_TIMESTAMP, false, dict},
        [C_STR] = {"str", PQ_BYTE_ARRAY, PQ_LT_STRING, false, dict},
        [C_BOOL] = {"bool", PQ_BOOLEAN, PQ_LT_NONE, false, dict},
        [C_I32O] = {"i32_opt", PQ_INT32, PQ_LT_NONE, true, dict},
        [C_I64O] = {"i64_opt", PQ_INT64, PQ_LT_NONE, true, dict},
        [C_F64O] = {"f64_opt", PQ_DOUBLE, PQ_LT_NONE, true, dict},
        [C_F32O] = {"f32_opt", PQ_FLOAT, PQ_LT_NONE, true, dict},
        [C_BOOLO] = {"bool_opt", PQ_BOOLEAN, PQ_LT_NONE, true, dict},
        [C_STRO] = {"str_opt", PQ_BYTE_ARRAY, PQ_LT_STRING, true, dict},
        [C_TSO] = {"ts_opt", PQ_INT64, PQ_LT_TIMESTAMP, true, dict},
        [C_NULL] = {"all_null", PQ_INT32, PQ_LT_NONE, true, dict},
        [C_HIGH] = {"name", PQ_BYTE_ARRAY, PQ_LT_STRING, true, dict},
    };
    char err[512];
    struct pq_writer *w = pq_writer_open(argv[optind], cols, NCOLS, &o, err, sizeof err);
    if (!w) {
        fprintf(stderr, "pqwrite: %s\n", err);
        return 1;
    }
    FILE *ef = expect ? fopen(expect, "w") : NULL;
    if (expect && !ef) {
        perror(expect);
        pq_writer_abort(w);
        return 1;
    }
    struct jbuf b;
    jb_init(&b);
    if (ef) {
        char num[32];
        jb_obj_open(&b, NULL);
        snprintf(num, sizeof num, "%" PRId64, rows);
        jb_str(&b, "num_rows", num);
        jb_str(&b, "created_by", "tracekit version " TK_VERSION);
        jb_arr_open(&b, "schema");
        for (int i = 0; i < NCOLS; i++) {
            jb_obj_open(&b, NULL);
            jb_str(&b, "name", cols[i].name);
            jb_str(&b, "type", pq_type_name(cols[i].type));
            jb_str(&b, "repetition", cols[i].optional ? "OPTIONAL" : "REQUIRED");
            if (cols[i].logical == PQ_LT_STRING) {
                jb_str(&b, "logical", "STRING");
                jb_str(&b, "converted", "UTF8");
            } else if (cols[i].logical == PQ_LT_TIMESTAMP) {
                jb_str(&b, "logical", "TIMESTAMP(MILLIS,UTC)");
                jb_str(&b, "converted", "TIMESTAMP_MILLIS");
            } else {
                jb_null(&b, "logical");
                jb_null(&b, "converted");
            }
            jb_obj_close(&b);
        }
        jb_arr_close(&b);
        jb_arr_open(&b, "row_groups");
        jb_arr_close(&b);
        fputs(b.p, ef);
        fputs(", \"rows\": [", ef);
    }
    char name[64];
    for (int64_t r = 0; r < rows; r++) {
        uint64_t i = (uint64_t)r, h = mix(i), h2 = mix(h);
        bool null = i % 3 == 1;
        int32_t i32 = i32_of(i, h);
        int64_t i64 = i64_of(i, h2), ts = 1758580000000 + r * 1000 + (int64_t)(h % 1000);
        double f64 = f64_of(i, h2);
        float f32 = (float)f64_of(i + 7, h);
        const char *s = words[h % ARRAY_LEN(words)];
        bool bv = h & 1;
        snprintf(name, sizeof name, "trace-%016" PRIx64 "-%" PRId64, h2, r);

        pq_put_i32(w, C_I32, i32);
        pq_put_i64(w, C_I64, i64);
        pq_put_double(w, C_F64, f64);
        pq_put_i64(w, C_TS, ts);
        pq_put_str(w, C_STR, s);
        pq_put_bool(w, C_BOOL, bv);
        if (null) {
            for (int k = C_I32O; k <= C_TSO; k++)
                pq_put_null(w, k);
        } else {
            pq_put_i32(w, C_I32O, i32);
            pq_put_i64(w, C_I64O, i64);
            pq_put_double(w, C_F64O, f64);
            pq_put_float(w, C_F32O, f32);
            pq_put_bool(w, C_BOOLO, !bv);
            pq_put_str(w, C_STRO, s);
            pq_put_i64(w, C_TSO, ts);
        }
        pq_put_null(w, C_NULL);
        if (i % 5 == 4)
            pq_put_null(w, C_HIGH);
        else
            pq_put_str(w, C_HIGH, name);
        if (pq_end_row(w) < 0) {
            fprintf(stderr, "pqwrite: %s\n", pq_writer_error(w));
            pq_writer_abort(w);
            return 1;
        }
        if (ef) {
            jb_reset(&b);
            jb_obj_open(&b, NULL);
            put_int(&b, "i32", i32);
            put_int(&b, "i64", i64);
            put_float(&b, "f64", f64);
            put_int(&b, "ts", ts);
            jb_str(&b, "str", s);
            jb_bool(&b, "bool", bv);
            if (null) {
                for (int k = C_I32O; k <= C_TSO; k++)
                    jb_null(&b, cols[k].name);
            } else {
                put_int(&b, "i32_opt", i32);
                put_int(&b, "i64_opt", i64);
                put_float(&b, "f64_opt", f64);
                put_float(&b, "f32_opt", f32);
                jb_bool(&b, "bool_opt", !bv);
                jb_str(&b, "str_opt", s);
                put_int(&b, "ts_opt", ts);
            }
            jb_null(&b, "all_null");
            if (i % 5 == 4)
                jb_null(&b, "name");
            else
                jb_str(&b, "name", name);
            jb_obj_close(&b);
            fputs(r ? ", " : "", ef);
            fputs(b.p, ef);
        }
    }
    jb_free(&b);
    if (ef) {
        fputs("]}\n", ef);
        if (fclose(ef) != 0) {
            perror(expect);
            pq_writer_abort(w);
            return 1;
        }
    }
    if (pq_writer_close(w, err, sizeof err) < 0) {
        fprintf(stderr, "pqwrite: %s\n", err);
        return 1;
    }
    return 0;
}
