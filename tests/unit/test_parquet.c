/* test_parquet.c -- Parquet encodings, footer/page-header round trips, the
 * writer and reader together (every type, codec, encoding and page version),
 * statistics, writer errors, the real OpenDC fixtures, and corrupt files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parquet/parquet.h"
#include "parquet/parquet_codec.h"
#include "parquet/parquet_enc.h"
#include "parquet/parquet_format.h"
#include "common/util.h"

#define FIXTURES "/work/shared/fixtures/opendc"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tk-pq-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    /* Remove the files the tests made (flat folder). */
    static const char *const names[] = {"a.parquet", "b.parquet", "c.parquet", "bad.parquet"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char *p = path_join(tmpdir, names[i]);
        unlink(p);
        free(p);
    }
    rmdir(tmpdir);
    return 0;
}

static char *tmp(const char *name) { return path_join(tmpdir, name); }

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- encodings ---- */

static void test_bitpack_spec_example(void **state)
{
    (void)state;
    /* Encodings.md: 0..7 with bit width 3 -> 10001000 11000110 11111010. */
    uint32_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    struct bbuf b;
    bb_init(&b);
    pq_bitpack(&b, v, 8, 3);
    assert_int_equal(b.len, 3);
    assert_int_equal(b.p[0], 0x88);
    assert_int_equal(b.p[1], 0xC6);
    assert_int_equal(b.p[2], 0xFA);
    /* As a hybrid run: header (1 group << 1 | 1), then the packed bytes. */
    bb_reset(&b);
    pq_rle_encode(&b, v, 8, 3);
    assert_int_equal(b.len, 4);
    assert_int_equal(b.p[0], 0x03);
    uint32_t out[8];
    assert_int_equal(pq_rle_decode(b.p, b.len, 3, out, 8), 4);
    assert_memory_equal(out, v, sizeof v);
    bb_free(&b);
}

static void test_rle_runs(void **state)
{
    (void)state;
    uint32_t v[100];
    for (int i = 0; i < 100; i++)
        v[i] = 5;
    struct bbuf b;
    bb_init(&b);
    pq_rle_encode(&b, v, 100, 3);
    /* One RLE run: varint(100 << 1) = C8 01, value in one byte. */
    assert_int_equal(b.len, 3);
    assert_int_equal(b.p[0], 0xC8);
    assert_int_equal(b.p[1], 0x01);
    assert_int_equal(b.p[2], 0x05);
    /* Mixed: 3 singles then a run: one bit-packed group, then an RLE run. */
    uint32_t m[30] = {1, 2, 3};
    for (int i = 3; i < 30; i++)
        m[i] = 6;
    bb_reset(&b);
    pq_rle_encode(&b, m, 30, 3);
    uint32_t out[30];
    assert_true(pq_rle_decode(b.p, b.len, 3, out, 30) > 0);
    assert_memory_equal(out, m, sizeof m);
    assert_int_equal(b.p[0], 0x03);            /* 1 bit-packed group */
    assert_int_equal(b.p[4], (30 - 8) << 1);   /* RLE run of the other 22 */
    bb_free(&b);
}

static void test_rle_round_trip_random(void **state)
{
    (void)state;
    struct bbuf b;
    bb_init(&b);
    enum { N = 3000 };
    uint32_t *v = malloc(N * sizeof *v), *out = malloc(N * sizeof *out);
    for (int bw = 0; bw <= 32; bw++) {
        uint64_t mask = bw == 32 ? 0xFFFFFFFFu : ((uint64_t)1 << bw) - 1;
        for (int pattern = 0; pattern < 3; pattern++) {
            size_t n = (size_t)(rnd() % N) + 1;
            for (size_t i = 0; i < n; i++) {
                if (pattern == 0)
                    v[i] = (uint32_t)(rnd() & mask);                        /* noise */
                else if (pattern == 1)
                    v[i] = i && rnd() % 10 ? v[i - 1] : (uint32_t)(rnd() & mask); /* runs */
                else
                    v[i] = (uint32_t)((i / 9) & mask);                     /* runs of 9 */
            }
            bb_reset(&b);
            pq_rle_encode(&b, v, n, bw);
            memset(out, 0xAB, N * sizeof *out);
            long used = pq_rle_decode(b.p, b.len, bw, out, n);
            assert_int_equal(used, (long)b.len);
            assert_memory_equal(out, v, n * sizeof *v);
            /* Too few bytes for the values: an error, not a read past the end. */
            if (b.len > 0 && n > 8 && bw > 0)
                assert_int_equal(pq_rle_decode(b.p, b.len / 2, bw, out, n), -1);
        }
    }
    free(v);
    free(out);
    bb_free(&b);
}

static void test_rle_malformed(void **state)
{
    (void)state;
    uint32_t out[16];
    const uint8_t zero_run[] = {0x00, 0x01};          /* RLE run of length 0 */
    assert_int_equal(pq_rle_decode(zero_run, sizeof zero_run, 1, out, 4), -1);
    const uint8_t wide[] = {0x10, 0x05};              /* value 5 with bit width 2 */
    assert_int_equal(pq_rle_decode(wide, sizeof wide, 2, out, 8), -1);
    const uint8_t shortpack[] = {0x03, 0xFF};         /* 8 values of 3 bits need 3 bytes */
    assert_int_equal(pq_rle_decode(shortpack, sizeof shortpack, 3, out, 8), -1);
    const uint8_t ok[] = {0x10, 0x01};
    assert_int_equal(pq_rle_decode(ok, sizeof ok, 33, out, 8), -1);
    assert_int_equal(pq_rle_decode(ok, 0, 1, out, 1), -1);
    /* A header whose varint never ends. */
    const uint8_t endless[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(pq_rle_decode(endless, sizeof endless, 1, out, 1), -1);
    /* Reading fewer values than a run holds is fine. */
    assert_int_equal(pq_rle_decode(ok, sizeof ok, 1, out, 3), 2);
    assert_int_equal(out[2], 1);
}

static void test_dictionary(void **state)
{
    (void)state;
    struct pq_dict d;
    pq_dict_init(&d, 8);
    for (uint64_t round = 0; round < 2; round++)
        for (uint64_t i = 0; i < 5000; i++)
            assert_int_equal(pq_dict_put(&d, i * 1000003), i);   /* grows past 2048 slots */
    assert_int_equal(d.count, 5000);
    assert_int_equal(pq_dict_plain_size(&d), 40000);
    struct bbuf b;
    bb_init(&b);
    pq_dict_write_plain(&d, &b);
    uint64_t v;
    memcpy(&v, b.p + 8 * 4999, 8);
    assert_true(v == 4999ULL * 1000003);
    pq_dict_free(&d);

    pq_dict_init(&d, 0);
    assert_int_equal(pq_dict_put_bytes(&d, "abc", 3), 0);
    assert_int_equal(pq_dict_put_bytes(&d, "", 0), 1);
    assert_int_equal(pq_dict_put_bytes(&d, "abd", 3), 2);
    assert_int_equal(pq_dict_put_bytes(&d, "abc", 3), 0);
    assert_int_equal(pq_dict_put_bytes(&d, "", 0), 1);
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        assert_int_equal(pq_dict_put_bytes(&d, key, (uint32_t)strlen(key)), 3 + i);
    }
    snprintf(key, sizeof key, "key-%d", 1234);
    assert_int_equal(pq_dict_put_bytes(&d, key, (uint32_t)strlen(key)), 3 + 1234);
    bb_reset(&b);
    pq_dict_write_plain(&d, &b);
    const uint8_t want[] = {3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'd'};
    assert_memory_equal(b.p, want, sizeof want);
    assert_int_equal(b.len, pq_dict_plain_size(&d));
    pq_dict_clear(&d);
    assert_int_equal(pq_dict_put_bytes(&d, "abd", 3), 0);
    pq_dict_free(&d);
    bb_free(&b);
}

static void test_codecs(void **state)
{
    (void)state;
    struct pq_codec_ctx cx = {0};
    char text[5000], out[5000], err[200];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "tracekit"[i % 8] + (char)(i % 97 == 0);
    const int codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_ZSTD};
    for (size_t c = 0; c < 3; c++) {
        struct bbuf b;
        bb_init(&b);
        assert_int_equal(pq_compress(&cx, codecs[c], 0, text, sizeof text, &b), 0);
        if (codecs[c] != PQ_CODEC_UNCOMPRESSED)
            assert_true(b.len < sizeof text / 4);
        assert_int_equal(pq_decompress(&cx, codecs[c], b.p, b.len, out, sizeof out, err, sizeof err), 0);
        assert_memory_equal(out, text, sizeof text);
        /* The wrong expected size, and corrupt data, are errors. */
        assert_int_equal(pq_decompress(&cx, codecs[c], b.p, b.len, out, sizeof out - 1, err, sizeof err), -1);
        if (codecs[c] != PQ_CODEC_UNCOMPRESSED) {
            memset(b.p + b.len / 2, 0xEE, b.len - b.len / 2);
            (void)pq_decompress(&cx, codecs[c], b.p, b.len, out, sizeof out, err, sizeof err);
            assert_int_equal(pq_decompress(&cx, codecs[c], b.p, 3, out, sizeof out, err, sizeof err), -1);
        }
        bb_free(&b);
    }
    assert_int_equal(pq_decompress(&cx, PQ_CODEC_GZIP, text, 10, out, 10, err, sizeof err), -1);
    assert_string_equal(err, "unsupported compression codec GZIP");
    pq_codec_ctx_free(&cx);
}

/* ---- footer and page header ---- */

static void test_footer_round_trip(void **state)
{
    (void)state;
    struct pq_schema_elem schema[4] = {
        {.name = "schema", .num_children = 3},
        {.name = "id", .has_type = true, .type = PQ_INT32, .has_repetition = true, .repetition = PQ_REQUIRED,
         .logical = {.kind = PQ_LT_INTEGER, .bit_width = 16, .is_signed = true}},
        {.name = "t", .has_type = true, .type = PQ_INT64, .has_repetition = true, .repetition = PQ_OPTIONAL,
         .has_converted = true, .converted = PQ_CT_TIMESTAMP_MILLIS,
         .logical = {.kind = PQ_LT_TIMESTAMP, .utc = true, .unit = PQ_UNIT_MILLIS}},
        {.name = "s", .has_type = true, .type = PQ_BYTE_ARRAY, .has_repetition = true, .repetition = PQ_OPTIONAL,
         .has_converted = true, .converted = PQ_CT_UTF8, .logical = {.kind = PQ_LT_STRING}},
    };
    int enc[] = {PQ_ENC_PLAIN, PQ_ENC_RLE_DICTIONARY, PQ_ENC_RLE};
    const char *path[] = {"s"};
    struct pq_encoding_stats es[] = {{PQ_PAGE_DICTIONARY, PQ_ENC_PLAIN, 1}, {PQ_PAGE_DATA, PQ_ENC_RLE_DICTIONARY, 7}};
    struct pq_column_chunk cc[3] = {0};
    for (int i = 0; i < 3; i++) {
        cc[i].has_meta = true;
        cc[i].meta.type = schema[i + 1].type;
        cc[i].meta.encodings = enc;
        cc[i].meta.n_encodings = 3;
        cc[i].meta.path = path;
        cc[i].meta.n_path = 1;
        cc[i].meta.codec = PQ_CODEC_SNAPPY;
        cc[i].meta.num_values = 1000 + i;
        cc[i].meta.total_uncompressed_size = 5000000000LL;
        cc[i].meta.total_compressed_size = 123;
        cc[i].meta.data_page_offset = 4 + i;
    }
    cc[2].meta.has_dictionary_page_offset = true;
    cc[2].meta.dictionary_page_offset = 4;
    cc[2].meta.has_stats = true;
    cc[2].meta.stats = (struct pq_stats){.min_value = {(const uint8_t *)"apple", 5, true},
                                         .max_value = {(const uint8_t *)"pear", 4, true},
                                         .has_null_count = true, .null_count = 9,
                                         .has_max_exact = true, .max_exact = true};
    cc[2].meta.enc_stats = es;
    cc[2].meta.n_enc_stats = 2;
    struct pq_row_group rg = {.columns = cc, .n_columns = 3, .total_byte_size = 77, .num_rows = 1000,
                              .has_file_offset = true, .file_offset = 4, .has_ordinal = true, .ordinal = 0};
    struct pq_kv kv[] = {{"k1", "v1"}, {"k2", NULL}};
    int orders[] = {1, 1, 1};
    struct pq_file_meta m = {.version = 1, .schema = schema, .n_schema = 4, .num_rows = 1000,
                             .row_groups = &rg, .n_row_groups = 1, .kv = kv, .n_kv = 2,
                             .created_by = "tracekit test", .column_orders = orders, .n_column_orders = 3};
    struct bbuf b;
    bb_init(&b);
    pqf_encode_file_meta(&b, &m);

    struct pq_file_meta d;
    char err[256];
    assert_int_equal(pqf_decode_file_meta(b.p, b.len, &d, err, sizeof err), 0);
    assert_int_equal(d.version, 1);
    assert_int_equal(d.n_schema, 4);
    assert_string_equal(d.schema[0].name, "schema");
    assert_int_equal(d.schema[0].num_children, 3);
    assert_int_equal(d.schema[1].logical.kind, PQ_LT_INTEGER);
    assert_int_equal(d.schema[1].logical.bit_width, 16);
    assert_true(d.schema[1].logical.is_signed);
    assert_int_equal(d.schema[2].logical.kind, PQ_LT_TIMESTAMP);
    assert_int_equal(d.schema[2].logical.unit, PQ_UNIT_MILLIS);
    assert_true(d.schema[2].logical.utc);
    assert_int_equal(d.schema[2].converted, PQ_CT_TIMESTAMP_MILLIS);
    assert_int_equal(d.schema[3].repetition, PQ_OPTIONAL);
    assert_int_equal(d.schema[3].logical.kind, PQ_LT_STRING);
    assert_int_equal(d.num_rows, 1000);
    assert_int_equal(d.n_row_groups, 1);
    const struct pq_column_meta *c = &d.row_groups[0].columns[2].meta;
    assert_int_equal(c->n_encodings, 3);
    assert_int_equal(c->encodings[1], PQ_ENC_RLE_DICTIONARY);
    assert_string_equal(c->path[0], "s");
    assert_true(c->total_uncompressed_size == 5000000000LL);
    assert_true(c->has_dictionary_page_offset);
    assert_true(c->has_stats);
    assert_int_equal(c->stats.min_value.n, 5);
    assert_memory_equal(c->stats.min_value.p, "apple", 5);
    assert_memory_equal(c->stats.max_value.p, "pear", 4);
    assert_int_equal(c->stats.null_count, 9);
    assert_false(c->stats.min.set);
    assert_int_equal(c->n_enc_stats, 2);
    assert_int_equal(c->enc_stats[1].count, 7);
    assert_int_equal(d.n_kv, 2);
    assert_string_equal(d.kv[0].value, "v1");
    assert_null(d.kv[1].value);
    assert_string_equal(d.created_by, "tracekit test");
    assert_int_equal(d.n_column_orders, 3);
    assert_int_equal(d.column_orders[2], 1);
    pqf_file_meta_free(&d);

    /* Every proper prefix fails cleanly. */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(pqf_decode_file_meta(b.p, n, &d, err, sizeof err), -1);

    /* Without num_rows the footer is corrupt, and the message says why. */
    struct bbuf b2;
    struct tw w;
    bb_init(&b2);
    tw_init(&w, &b2);
    tw_begin(&w);
    tw_i32(&w, 1, 1);
    tw_list(&w, 2, TC_STRUCT, 0);
    tw_list(&w, 4, TC_STRUCT, 0);
    tw_end(&w);
    assert_int_equal(pqf_decode_file_meta(b2.p, b2.len, &d, err, sizeof err), -1);
    assert_string_equal(err, "corrupt footer: missing required field FileMetaData.num_rows");
    bb_free(&b2);
    bb_free(&b);
}

static void test_page_header_round_trip(void **state)
{
    (void)state;
    struct bbuf b;
    bb_init(&b);
    struct pq_page_header h = {.type = PQ_PAGE_DATA_V2, .uncompressed_page_size = 100,
                               .compressed_page_size = 60, .has_crc = true, .crc = -5, .has_v2 = true};
    h.v2.num_values = 10;
    h.v2.num_nulls = 3;
    h.v2.num_rows = 10;
    h.v2.encoding = PQ_ENC_RLE_DICTIONARY;
    h.v2.def_len = 4;
    h.v2.is_compressed = false;
    h.v2.has_stats = true;
    h.v2.stats.has_null_count = true;
    h.v2.stats.null_count = 3;
    pqf_encode_page_header(&b, &h);
    bb_append(&b, "trailing page body", 18);
    struct pq_page_header d;
    size_t hl;
    char err[200];
    assert_int_equal(pqf_decode_page_header(b.p, b.len, &d, &hl, err, sizeof err), 0);
    assert_int_equal(hl, b.len - 18);
    assert_int_equal(d.type, PQ_PAGE_DATA_V2);
    assert_true(d.has_crc && d.crc == -5);
    assert_true(d.has_v2 && !d.has_v1);
    assert_int_equal(d.v2.num_nulls, 3);
    assert_int_equal(d.v2.def_len, 4);
    assert_false(d.v2.is_compressed);
    assert_int_equal(d.v2.stats.null_count, 3);

    bb_reset(&b);
    struct pq_page_header dict = {.type = PQ_PAGE_DICTIONARY, .uncompressed_page_size = 8,
                                  .compressed_page_size = 8, .has_dict = true};
    dict.dict.num_values = 2;
    dict.dict.encoding = PQ_ENC_PLAIN;
    pqf_encode_page_header(&b, &dict);
    assert_int_equal(pqf_decode_page_header(b.p, b.len, &d, &hl, err, sizeof err), 0);
    assert_true(d.has_dict);
    assert_int_equal(d.dict.num_values, 2);
    assert_true(d.v2.is_compressed);   /* the Thrift default when absent */

    /* A data page header without its encoding is corrupt. */
    bb_reset(&b);
    struct tw w;
    tw_init(&w, &b);
    tw_begin(&w);
    tw_i32(&w, 1, PQ_PAGE_DATA);
    tw_i32(&w, 2, 10);
    tw_i32(&w, 3, 10);
    tw_struct(&w, 5);
    tw_i32(&w, 1, 3);
    tw_end(&w);
    tw_end(&w);
    assert_int_equal(pqf_decode_page_header(b.p, b.len, &d, &hl, err, sizeof err), -1);
    assert_string_equal(err, "corrupt page header: missing required field DataPageHeader.encoding");
    bb_free(&b);
}

/* ---- writer + reader ---- */

enum { K_ID, K_SUB, K_DUR, K_CPU, K_NAME, K_OPT, K_FLAG, K_F32, NK };
static const struct pq_col_spec kcols[NK] = {
    {"id", PQ_INT32, PQ_LT_NONE, false, PQ_DICT_AUTO},
    {"submission_time", PQ_INT64, PQ_LT_TIMESTAMP, false, PQ_DICT_AUTO},
    {"duration", PQ_INT64, PQ_LT_NONE, false, PQ_DICT_AUTO},
    {"cpu_usage", PQ_DOUBLE, PQ_LT_NONE, false, PQ_DICT_AUTO},
    {"name", PQ_BYTE_ARRAY, PQ_LT_STRING, true, PQ_DICT_AUTO},
    {"opt", PQ_INT64, PQ_LT_NONE, true, PQ_DICT_AUTO},
    {"flag", PQ_BOOLEAN, PQ_LT_NONE, true, PQ_DICT_AUTO},
    {"f32", PQ_FLOAT, PQ_LT_NONE, false, PQ_DICT_AUTO},
};

/* Value of row r, column k (a name of NULL is a null). */
static int32_t v_id(int64_t r) { return (int32_t)(r / 10); }                /* repeats: dict pays */
static int64_t v_sub(int64_t r) { return 1758580000000 + r * 37; }           /* unique */
static int64_t v_dur(int64_t r) { return r % 4 ? 1000 : 250; }
static double v_cpu(int64_t r) { return r % 11 == 0 ? -0.0 : (double)r * 0.125 - 3; }
static const char *v_name(int64_t r, char *buf)
{
    if (r % 7 == 3)
        return NULL;
    snprintf(buf, 32, "node-%lld", (long long)(r % 13));
    return buf;
}
static bool v_opt_null(int64_t r) { return r % 5 == 0; }
static float v_f32(int64_t r) { return (float)r / 3.0f; }

static void write_table(const char *path, int64_t rows, const struct pq_writer_opts *o, int dict)
{
    struct pq_col_spec cols[NK];
    memcpy(cols, kcols, sizeof cols);
    for (int i = 0; i < NK; i++)
        cols[i].dict = dict;
    char err[256], buf[32];
    struct pq_writer *w = pq_writer_open(path, cols, NK, o, err, sizeof err);
    assert_non_null(w);
    for (int64_t r = 0; r < rows; r++) {
        pq_put_i32(w, K_ID, v_id(r));
        pq_put_i64(w, K_SUB, v_sub(r));
        pq_put_i64(w, K_DUR, v_dur(r));
        pq_put_double(w, K_CPU, v_cpu(r));
        const char *n = v_name(r, buf);
        if (n)
            pq_put_str(w, K_NAME, n);
        else
            pq_put_null(w, K_NAME);
        if (v_opt_null(r))
            pq_put_null(w, K_OPT);
        else
            pq_put_i64(w, K_OPT, -r);
        if (r % 3 == 2)
            pq_put_null(w, K_FLAG);
        else
            pq_put_bool(w, K_FLAG, r % 2);
        pq_put_float(w, K_F32, v_f32(r));
        assert_int_equal(pq_end_row(w), 0);
    }
    assert_int_equal(pq_writer_rows(w), rows);
    assert_int_equal(pq_writer_close(w, err, sizeof err), 0);
}

/* Read everything back and compare with the generators. */
static void check_table(const char *path, int64_t rows, int64_t rg_rows)
{
    char err[256], buf[32];
    struct pq_reader *r = pq_reader_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    assert_int_equal(pq_reader_num_rows(r), rows);
    assert_int_equal(pq_reader_nleaves(r), NK);
    int64_t groups = rows ? (rows + rg_rows - 1) / rg_rows : 0;
    assert_int_equal(pq_reader_num_row_groups(r), groups);
    for (int k = 0; k < NK; k++) {
        const struct pq_leaf *l = pq_reader_leaf(r, k);
        assert_string_equal(l->name, kcols[k].name);
        assert_int_equal(l->type, kcols[k].type);
        assert_int_equal(l->repetition, kcols[k].optional ? PQ_OPTIONAL : PQ_REQUIRED);
        assert_int_equal(l->max_def, kcols[k].optional);
        assert_int_equal(l->logical.kind, kcols[k].logical);
    }
    assert_true(pq_reader_leaf(r, K_SUB)->logical.utc);
    assert_int_equal(pq_reader_leaf(r, K_SUB)->logical.unit, PQ_UNIT_MILLIS);
    assert_int_equal(pq_reader_find(r, "cpu_usage"), K_CPU);
    assert_int_equal(pq_reader_find(r, "nope"), -1);
    int64_t base = 0;
    for (int g = 0; g < groups; g++) {
        int64_t n = pq_reader_row_group_rows(r, g);
        assert_int_equal(n, g < groups - 1 ? rg_rows : rows - rg_rows * (groups - 1));
        struct pq_column c[NK];
        for (int k = 0; k < NK; k++)
            if (pq_read_column(r, g, k, &c[k], err, sizeof err) < 0)
                fail_msg("%s", err);
        for (int64_t i = 0; i < n; i++) {
            int64_t row = base + i;
            assert_int_equal(c[K_ID].v.i32[i], v_id(row));
            assert_int_equal(c[K_SUB].v.i64[i], v_sub(row));
            assert_int_equal(c[K_DUR].v.i64[i], v_dur(row));
            double want = v_cpu(row);
            assert_memory_equal(&c[K_CPU].v.f64[i], &want, 8);   /* -0.0 kept */
            const char *name = v_name(row, buf);
            assert_int_equal(c[K_NAME].valid[i], name != NULL);
            if (name) {
                size_t len;
                const uint8_t *p = pq_column_bytes(&c[K_NAME], i, &len);
                assert_int_equal(len, strlen(name));
                assert_memory_equal(p, name, len);
            }
            assert_int_equal(c[K_OPT].valid[i], !v_opt_null(row));
            assert_int_equal(c[K_OPT].v.i64[i], v_opt_null(row) ? 0 : -row);
            assert_int_equal(c[K_FLAG].valid[i], row % 3 != 2);
            if (row % 3 != 2)
                assert_int_equal(c[K_FLAG].v.b[i], row % 2);
            assert_true(c[K_F32].v.f32[i] == v_f32(row));
        }
        assert_null(c[K_ID].valid);
        assert_int_equal(c[K_NAME].n, n);
        for (int k = 0; k < NK; k++)
            pq_column_free(&c[k]);
        base += n;
    }
    pq_reader_close(r);
}

static void test_round_trip_all_options(void **state)
{
    (void)state;
    char *p = tmp("a.parquet");
    const int codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_ZSTD};
    const int dicts[] = {PQ_DICT_AUTO, PQ_DICT_NEVER, PQ_DICT_ALWAYS};
    for (int c = 0; c < 3; c++)
        for (int d = 0; d < 3; d++)
            for (int v = 1; v <= 2; v++) {
                struct pq_writer_opts o;
                pq_writer_opts_default(&o);
                o.codec = codecs[c];
                o.page_version = v;
                o.row_group_rows = 1000;
                o.page_values = 128;
                write_table(p, 2500, &o, dicts[d]);
                check_table(p, 2500, 1000);
            }
    free(p);
}

static void test_empty_and_single_row(void **state)
{
    (void)state;
    char *p = tmp("a.parquet");
    write_table(p, 0, NULL, PQ_DICT_AUTO);
    check_table(p, 0, 1);
    write_table(p, 1, NULL, PQ_DICT_AUTO);
    check_table(p, 1, 1 << 20);
    free(p);
}

/* Dictionary where it pays, PLAIN where it does not, and PLAIN after the
 * dictionary outgrows its limit. */
static void test_encoding_choice(void **state)
{
    (void)state;
    char *p = tmp("b.parquet");
    char err[256];
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    o.page_values = 100;
    write_table(p, 3000, &o, PQ_DICT_AUTO);
    struct pq_reader *r = pq_reader_open(p, err, sizeof err);
    assert_non_null(r);
    struct pq_column c;
    assert_int_equal(pq_read_column(r, 0, K_ID, &c, err, sizeof err), 0);
    assert_true(c.dict_page);                                 /* 300 ids, each 10 times */
    assert_int_equal(c.encodings, 1u << PQ_ENC_RLE_DICTIONARY);
    assert_int_equal(c.data_pages, 30);
    pq_column_free(&c);
    assert_int_equal(pq_read_column(r, 0, K_SUB, &c, err, sizeof err), 0);
    assert_false(c.dict_page);                                /* unique: PLAIN */
    assert_int_equal(c.encodings, 1u << PQ_ENC_PLAIN);
    pq_column_free(&c);
    assert_int_equal(pq_read_column(r, 0, K_FLAG, &c, err, sizeof err), 0);
    assert_int_equal(c.encodings, 1u << PQ_ENC_PLAIN);       /* booleans: always PLAIN */
    pq_column_free(&c);
    const struct pq_column_meta *m = &pq_reader_meta(r)->row_groups[0].columns[K_ID].meta;
    assert_true(m->has_dictionary_page_offset);
    assert_true(m->dictionary_page_offset < m->data_page_offset);
    assert_int_equal(m->n_enc_stats, 2);
    pq_reader_close(r);

    /* A 1 KiB dictionary limit: dictionary pages first, then PLAIN. */
    o.dict_max_bytes = 1024;
    write_table(p, 3000, &o, PQ_DICT_ALWAYS);
    check_table(p, 3000, 1 << 20);
    r = pq_reader_open(p, err, sizeof err);
    assert_int_equal(pq_read_column(r, 0, K_SUB, &c, err, sizeof err), 0);
    assert_true(c.dict_page);
    assert_int_equal(c.encodings, 1u << PQ_ENC_PLAIN | 1u << PQ_ENC_RLE_DICTIONARY);
    pq_column_free(&c);
    m = &pq_reader_meta(r)->row_groups[0].columns[K_SUB].meta;
    assert_int_equal(m->n_encodings, 3);   /* PLAIN, RLE_DICTIONARY, RLE */
    pq_reader_close(r);
    free(p);
}

static void test_statistics(void **state)
{
    (void)state;
    char *p = tmp("c.parquet");
    char err[256];
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    o.row_group_rows = 100;
    write_table(p, 150, &o, PQ_DICT_AUTO);
    struct pq_reader *r = pq_reader_open(p, err, sizeof err);
    assert_non_null(r);
    const struct pq_file_meta *fm = pq_reader_meta(r);
    assert_string_equal(fm->created_by, "tracekit version " TK_VERSION);
    assert_int_equal(fm->n_column_orders, NK);
    const struct pq_row_group *g1 = &fm->row_groups[1];   /* rows 100..149 */
    const struct pq_stats *s = &g1->columns[K_ID].meta.stats;
    int32_t i32;
    memcpy(&i32, s->min_value.p, 4);
    assert_int_equal(i32, 10);
    memcpy(&i32, s->max_value.p, 4);
    assert_int_equal(i32, 14);
    assert_true(s->min.set && s->max.set);   /* deprecated fields too, for numbers */
    assert_true(s->has_null_count && s->null_count == 0);
    s = &g1->columns[K_SUB].meta.stats;
    int64_t i64;
    memcpy(&i64, s->max_value.p, 8);
    assert_int_equal(i64, v_sub(149));
    s = &g1->columns[K_CPU].meta.stats;
    double d;
    memcpy(&d, s->min_value.p, 8);
    assert_true(d == 0 && signbit(d));   /* v_cpu(110) is -0.0, the rest above 9 */
    memcpy(&d, s->max_value.p, 8);
    assert_true(d == v_cpu(149));
    assert_true(s->has_nan_count && s->nan_count == 0);
    s = &g1->columns[K_NAME].meta.stats;
    assert_int_equal(s->null_count, 7);   /* rows 101, 108, ..., 143 */
    assert_int_equal(s->min_value.n, 6);
    assert_memory_equal(s->min_value.p, "node-0", 6);
    assert_memory_equal(s->max_value.p, "node-9", 6);
    assert_false(s->min.set);   /* no signed-order stats for byte arrays */
    s = &g1->columns[K_OPT].meta.stats;
    assert_int_equal(s->null_count, 10);
    memcpy(&i64, s->min_value.p, 8);
    assert_int_equal(i64, -149);
    pq_reader_close(r);

    /* Zero bounds are -0.0 / +0.0; NaNs are counted, not compared; long
     * strings get truncated, inexact bounds. */
    struct pq_col_spec cols[2] = {{"x", PQ_DOUBLE, 0, false, 0}, {"s", PQ_BYTE_ARRAY, PQ_LT_STRING, false, 0}};
    struct pq_writer *w = pq_writer_open(p, cols, 2, NULL, err, sizeof err);
    char big[100];
    memset(big, 'z', sizeof big);
    big[99] = 0;
    const double xs[] = {0.0, NAN, 0.0};
    for (int i = 0; i < 3; i++) {
        pq_put_double(w, 0, xs[i]);
        pq_put_str(w, 1, i == 1 ? big : "a");
        pq_end_row(w);
    }
    assert_int_equal(pq_writer_close(w, err, sizeof err), 0);
    r = pq_reader_open(p, err, sizeof err);
    s = &pq_reader_meta(r)->row_groups[0].columns[0].meta.stats;
    memcpy(&d, s->min_value.p, 8);
    assert_true(d == 0 && signbit(d));
    memcpy(&d, s->max_value.p, 8);
    assert_true(d == 0 && !signbit(d));
    assert_int_equal(s->nan_count, 1);
    s = &pq_reader_meta(r)->row_groups[0].columns[1].meta.stats;
    assert_int_equal(s->min_value.n, 1);
    assert_true(s->min_exact);
    assert_int_equal(s->max_value.n, 64);
    assert_int_equal(s->max_value.p[63], 'z' + 1);
    assert_false(s->max_exact);
    pq_reader_close(r);
    free(p);
}

static void test_writer_errors(void **state)
{
    (void)state;
    char *p = tmp("bad.parquet");
    char err[256];
    struct pq_col_spec bad[2] = {{"x", PQ_INT32, PQ_LT_STRING, false, 0}, {"x", PQ_INT32, 0, false, 0}};
    assert_null(pq_writer_open(p, bad, 1, NULL, err, sizeof err));
    assert_string_equal(err, "column 'x': STRING needs BYTE_ARRAY, not INT32");
    bad[0].logical = PQ_LT_NONE;
    assert_null(pq_writer_open(p, bad, 2, NULL, err, sizeof err));
    assert_string_equal(err, "column name 'x' used twice");
    assert_null(pq_writer_open(p, bad, 0, NULL, err, sizeof err));
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    o.codec = PQ_CODEC_BROTLI;
    assert_null(pq_writer_open(p, bad, 1, &o, err, sizeof err));
    assert_string_equal(err, "unsupported compression BROTLI (expected UNCOMPRESSED, SNAPPY or ZSTD)");
    assert_null(pq_writer_open("/nonexistent-dir/x.parquet", bad, 1, NULL, err, sizeof err));

    /* Wrong type, a null in a REQUIRED column, a missing value: the row
     * fails, and close removes the temporary file and writes nothing. */
    struct pq_writer *w = pq_writer_open(p, bad, 1, NULL, err, sizeof err);
    pq_put_i64(w, 0, 5);
    assert_int_equal(pq_end_row(w), -1);
    assert_string_equal(pq_writer_error(w), "column 'x' is INT32, got a INT64 value");
    assert_int_equal(pq_writer_close(w, err, sizeof err), -1);
    assert_false(file_exists(p));
    w = pq_writer_open(p, bad, 1, NULL, err, sizeof err);
    pq_put_null(w, 0);
    assert_int_equal(pq_end_row(w), -1);
    assert_string_equal(pq_writer_error(w), "column 'x' is REQUIRED, got a null");
    pq_writer_abort(w);
    w = pq_writer_open(p, bad, 1, NULL, err, sizeof err);
    pq_put_i32(w, 0, 1);
    assert_int_equal(pq_end_row(w), 0);
    assert_int_equal(pq_end_row(w), -1);
    assert_string_equal(pq_writer_error(w), "row 2: column 'x' got no value");
    pq_writer_abort(w);
    w = pq_writer_open(p, bad, 1, NULL, err, sizeof err);
    pq_put_i32(w, 0, 1);
    pq_put_i32(w, 0, 2);
    assert_int_equal(pq_end_row(w), -1);
    assert_string_equal(pq_writer_error(w), "row 1: column 'x' got more than one value");
    pq_writer_abort(w);
    assert_false(file_exists(p));
    /* A row left half-done at close. */
    w = pq_writer_open(p, bad, 1, NULL, err, sizeof err);
    pq_put_i32(w, 0, 1);
    assert_int_equal(pq_writer_close(w, err, sizeof err), -1);
    assert_string_equal(err, "row 1 is incomplete: column 'x' has no value");
    assert_false(file_exists(p));
    free(p);
}

/* Bounded memory: many row groups, each column chunk flushed in turn. */
static void test_many_row_groups(void **state)
{
    (void)state;
    char *p = tmp("a.parquet");
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    o.row_group_rows = 64;
    o.codec = PQ_CODEC_SNAPPY;
    write_table(p, 64 * 40 + 3, &o, PQ_DICT_AUTO);
    check_table(p, 64 * 40 + 3, 64);
    free(p);
}

/* ---- the real OpenDC fixtures (written by pyarrow) ---- */

struct fixture {
    const char *file;
    int64_t rows;
    int64_t sums[6];   /* per column: sum of values (doubles: as integers) */
    int64_t first_submission, last_submission;
};

static void check_fixture(const struct fixture *f, bool tasks)
{
    static const char *const tcols[] = {"id", "submission_time", "duration", "cpu_count", "cpu_capacity",
                                        "mem_capacity"};
    static const int ttypes[] = {PQ_INT32, PQ_INT64, PQ_INT64, PQ_INT32, PQ_DOUBLE, PQ_INT64};
    static const char *const fcols[] = {"id", "duration", "cpu_usage"};
    static const int ftypes[] = {PQ_INT32, PQ_INT64, PQ_DOUBLE};
    char err[256];
    char *path = path_join(FIXTURES, f->file);
    struct pq_reader *r = pq_reader_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    int ncols = tasks ? 6 : 3;
    assert_int_equal(pq_reader_num_rows(r), f->rows);
    assert_int_equal(pq_reader_nleaves(r), ncols);
    assert_string_equal(pq_reader_meta(r)->created_by, "parquet-cpp-arrow version 24.0.0");
    for (int k = 0; k < ncols; k++) {
        const struct pq_leaf *l = pq_reader_leaf(r, k);
        assert_string_equal(l->name, tasks ? tcols[k] : fcols[k]);
        assert_int_equal(l->type, tasks ? ttypes[k] : ftypes[k]);
        assert_int_equal(l->repetition, PQ_REQUIRED);
        int64_t sum = 0, n = 0;
        for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
            struct pq_column c;
            if (pq_read_column(r, g, k, &c, err, sizeof err) < 0)
                fail_msg("%s", err);
            assert_true(c.dict_page);   /* pyarrow: SNAPPY, dictionary-encoded */
            assert_true(c.encodings & (1u << PQ_ENC_RLE_DICTIONARY));
            for (size_t i = 0; i < c.n; i++)
                sum += l->type == PQ_INT32 ? c.v.i32[i] : l->type == PQ_INT64 ? c.v.i64[i] : (int64_t)c.v.f64[i];
            if (tasks && k == 1) {
                assert_int_equal(c.v.i64[0], f->first_submission);
                assert_int_equal(c.v.i64[c.n - 1], f->last_submission);
            }
            n += (int64_t)c.n;
            pq_column_free(&c);
        }
        assert_int_equal(n, f->rows);
        assert_int_equal(sum, f->sums[k]);
    }
    pq_reader_close(r);
    free(path);
}

static void test_opendc_fixtures(void **state)
{
    (void)state;
    /* Sums cross-checked with hyparquet (tests/tools/pqdump.mjs). */
    const struct fixture tasks[] = {
        {"taskScaling_100_tasks/tasks.parquet", 100,
         {4950, 170537569237730, 360000000, 100, 100000, 1000000}, 1706612566062, 1705637152328},
        {"taskScaling_1K_tasks/tasks.parquet", 1000,
         {499500, 1705386208792979, 3600000000, 1000, 1000000, 10000000}, 1705602890754, 1706514181506},
        {"fragmentScaling_100_fragments/tasks.parquet", 1000,
         {499500, 1705373201727600, 3600000000, 1000, 1000000, 10000000}, 1705822542783, 1705506683822},
    };
    const struct fixture frags[] = {
        {"taskScaling_100_tasks/fragments.parquet", 100, {4950, 360000000, 100000}, 0, 0},
        {"taskScaling_1K_tasks/fragments.parquet", 1000, {499500, 3600000000, 1000000}, 0, 0},
        {"fragmentScaling_100_fragments/fragments.parquet", 100000, {49950000, 3600000000, 100000000}, 0, 0},
    };
    for (int i = 0; i < 3; i++) {
        check_fixture(&tasks[i], true);
        check_fixture(&frags[i], false);
    }
}

/* ---- corrupt files ---- */

static void read_everything(const char *path)
{
    char err[256];
    struct pq_reader *r = pq_reader_open(path, err, sizeof err);
    if (!r)
        return;
    for (int g = 0; g < pq_reader_num_row_groups(r); g++)
        for (int k = 0; k < pq_reader_nleaves(r); k++) {
            struct pq_column c;
            if (pq_read_column(r, g, k, &c, err, sizeof err) == 0)
                pq_column_free(&c);
        }
    pq_reader_close(r);
}

/* Write a test file.  Unlink first: rewriting a truncated file makes ext4
 * flush it to disk on close, which made this test slow. */
static void put_file(const char *path, const void *p, size_t n)
{
    unlink(path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void mutate_and_read(const char *src, const char *dst, int stride)
{
    size_t n;
    char *data = read_file(src, &n);
    assert_non_null(data);
    uint8_t *copy = malloc(n);
    const uint8_t flips[] = {0xFF, 0x01, 0x80};
    for (size_t pos = 0; pos < n; pos += (size_t)stride) {
        memcpy(copy, data, n);
        copy[pos] ^= flips[pos % 3];
        put_file(dst, copy, n);
        read_everything(dst);
    }
    /* Truncations. */
    for (size_t len = 0; len < n; len += n / 50 + 1) {
        put_file(dst, data, len);
        char err[256];
        struct pq_reader *r = pq_reader_open(dst, err, sizeof err);
        assert_null(r);   /* the footer is gone */
    }
    free(copy);
    free(data);
}

/* Issue #13: an empty first value left the min statistic without a
 * buffer, and the next value was compared with memcmp(NULL, ..., 0). */
static void test_empty_string_statistics(void **state)
{
    (void)state;
    char path[] = "/tmp/tk-pq-empty.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const struct pq_col_spec col = {"trace_id", PQ_BYTE_ARRAY, PQ_LT_STRING, false, PQ_DICT_NEVER};
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    char err[256];
    struct pq_writer *w = pq_writer_open(path, &col, 1, &o, err, sizeof err);
    assert_non_null(w);
    const char *vals[] = {"", "b", "", "a"};
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        pq_put_str(w, 0, vals[i]);
        assert_int_equal(pq_end_row(w), 0);
    }
    assert_int_equal(pq_writer_close(w, err, sizeof err), 0);
    unlink(path);
}

static void test_corrupt_files(void **state)
{
    (void)state;
    char *p = tmp("a.parquet"), *bad = tmp("bad.parquet");
    struct pq_writer_opts o;
    pq_writer_opts_default(&o);
    o.page_values = 16;
    o.row_group_rows = 40;
    const int codecs[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_ZSTD};
    for (int c = 0; c < 3; c++) {
        o.codec = codecs[c];
        o.page_version = c == 2 ? 2 : 1;
        write_table(p, 90, &o, c == 1 ? PQ_DICT_ALWAYS : PQ_DICT_AUTO);
        mutate_and_read(p, bad, 1);
    }
    mutate_and_read(FIXTURES "/taskScaling_100_tasks/tasks.parquet", bad, 3);

    /* Random footers and page headers. */
    uint8_t buf[300];
    struct pq_file_meta m;
    struct pq_page_header h;
    char err[256];
    size_t hl;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rnd() % sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rnd();
        if (pqf_decode_file_meta(buf, n, &m, err, sizeof err) == 0)
            pqf_file_meta_free(&m);
        (void)pqf_decode_page_header(buf, n, &h, &hl, err, sizeof err);
    }

    /* Not Parquet at all. */
    put_file(bad, "PAR1 this is not a parquet file PAR1", 36);
    assert_null(pq_reader_open(bad, err, sizeof err));
    assert_non_null(strstr(err, "corrupt footer length"));
    put_file(bad, "hello, world", 12);
    assert_null(pq_reader_open(bad, err, sizeof err));
    assert_non_null(strstr(err, "not a Parquet file"));
    free(p);
    free(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bitpack_spec_example),
        cmocka_unit_test(test_rle_runs),
        cmocka_unit_test(test_rle_round_trip_random),
        cmocka_unit_test(test_rle_malformed),
        cmocka_unit_test(test_dictionary),
        cmocka_unit_test(test_codecs),
        cmocka_unit_test(test_footer_round_trip),
        cmocka_unit_test(test_page_header_round_trip),
        cmocka_unit_test(test_round_trip_all_options),
        cmocka_unit_test(test_empty_and_single_row),
        cmocka_unit_test(test_encoding_choice),
        cmocka_unit_test(test_statistics),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_many_row_groups),
        cmocka_unit_test(test_opendc_fixtures),
        cmocka_unit_test(test_empty_string_statistics),
        cmocka_unit_test(test_corrupt_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
