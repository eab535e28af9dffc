/* test_parquet_bounds.c -- the reader's defences against bombs (issue #13):
 * a data page's values against its bytes, the memory budget (decoded
 * columns, dictionaries, byte-array copies, its environment variable), the
 * footer's expansion, snappy/zstd size claims, thrift list lengths and
 * nesting; the DELTA encodings (parquet-java's v2 writer, OpenDC's output)
 * on the specification's hand-worked bytes and against prefix bombs.  Each
 * file is built here, page by page, with the format encoders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/log.h"
#include "common/util.h"
#include "parquet/parquet.h"
#include "parquet/parquet_codec.h"
#include "parquet/parquet_format.h"
#include "parquet/thrift.h"

static char path[64];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/tk-pqb-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void put_varint(struct bbuf *b, uint64_t v)
{
    do {
        uint8_t c = v & 0x7F;
        v >>= 7;
        if (v)
            c |= 0x80;
        bb_append(b, &c, 1);
    } while (v);
}

/* One column "v" of 'type' (REQUIRED), 'groups' row groups of 'rows' rows
 * that all point to one chunk: a PLAIN dictionary page holding 'dict'
 * (dict_n entries), then one RLE_DICTIONARY data page of 'nv' values: bit
 * width 0 (all index 0) and RLE runs of 'run' values each. */
static void write_dict_groups(int type, const void *dict, size_t dict_len, int dict_n, int64_t rows,
                              int32_t nv, uint32_t run, int groups)
{
    struct bbuf b;
    bb_init(&b);
    bb_append(&b, "PAR1", 4);
    int64_t dict_off = (int64_t)b.len;
    struct pq_page_header dh = {.type = PQ_PAGE_DICTIONARY, .uncompressed_page_size = (int32_t)dict_len,
                                .compressed_page_size = (int32_t)dict_len, .has_dict = true,
                                .dict = {.num_values = dict_n, .encoding = PQ_ENC_PLAIN}};
    pqf_encode_page_header(&b, &dh);
    bb_append(&b, dict, dict_len);
    int64_t data_off = (int64_t)b.len;
    struct bbuf body;
    bb_init(&body);
    uint8_t zero = 0;
    bb_append(&body, &zero, 1);   /* bit width 0 */
    for (uint32_t left = (uint32_t)nv; left;) {
        uint32_t k = left < run ? left : run;
        put_varint(&body, (uint64_t)k << 1);
        left -= k;
    }
    struct pq_page_header ph = {.type = PQ_PAGE_DATA, .uncompressed_page_size = (int32_t)body.len,
                                .compressed_page_size = (int32_t)body.len, .has_v1 = true,
                                .v1 = {.num_values = nv, .encoding = PQ_ENC_RLE_DICTIONARY,
                                       .def_encoding = PQ_ENC_RLE, .rep_encoding = PQ_ENC_RLE}};
    pqf_encode_page_header(&b, &ph);
    bb_append(&b, body.p, body.len);
    bb_free(&body);

    struct pq_schema_elem schema[2] = {
        {.name = "schema", .num_children = 1},
        {.name = "v", .has_type = true, .type = type, .has_repetition = true, .repetition = PQ_REQUIRED},
    };
    int enc[] = {PQ_ENC_PLAIN, PQ_ENC_RLE_DICTIONARY};
    const char *cpath[] = {"v"};
    struct pq_column_chunk cc = {.file_offset = dict_off, .has_meta = true,
                                 .meta = {.type = type, .encodings = enc, .n_encodings = 2, .path = cpath,
                                          .n_path = 1, .codec = PQ_CODEC_UNCOMPRESSED, .num_values = rows,
                                          .total_uncompressed_size = (int64_t)b.len - dict_off,
                                          .total_compressed_size = (int64_t)b.len - dict_off,
                                          .data_page_offset = data_off,
                                          .has_dictionary_page_offset = true,
                                          .dictionary_page_offset = dict_off}};
    struct pq_row_group *rg = xcalloc((size_t)groups, sizeof *rg);
    for (int g = 0; g < groups; g++)
        rg[g] = (struct pq_row_group){.columns = &cc, .n_columns = 1, .total_byte_size = 1, .num_rows = rows};
    struct pq_file_meta m = {.version = 1, .schema = schema, .n_schema = 2, .num_rows = rows * groups,
                             .row_groups = rg, .n_row_groups = groups, .created_by = "bounds test"};
    size_t at = b.len;
    pqf_encode_file_meta(&b, &m);
    free(rg);
    uint32_t flen = (uint32_t)(b.len - at);
    uint8_t tail[8] = {(uint8_t)flen, (uint8_t)(flen >> 8), (uint8_t)(flen >> 16), (uint8_t)(flen >> 24),
                       'P', 'A', 'R', '1'};
    bb_append(&b, tail, 8);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.p, 1, b.len, f), b.len);
    fclose(f);
    bb_free(&b);
}

static void write_dict_file(int type, const void *dict, size_t dict_len, int dict_n, int64_t rows,
                            int32_t nv, uint32_t run)
{
    write_dict_groups(type, dict, dict_len, dict_n, rows, nv, run, 1);
}

/* Read column 0 of row group 0 with a budget (0: the default); 0 or -1,
 * the message in err. */
static int read_it(uint64_t budget, struct pq_column *c, char *err, size_t errlen)
{
    struct pq_reader *r = pq_reader_open(path, err, errlen);
    assert_non_null(r);
    if (budget)
        pq_reader_set_budget(r, budget);
    int rc = pq_read_column(r, 0, 0, c, err, errlen);
    pq_reader_close(r);
    return rc;
}

static const int64_t zero64 = 0;

/* err must contain want (and is printed when it does not). */
#define assert_has(err, want)                                                   \
    do {                                                                        \
        if (!strstr((err), (want))) {                                           \
            print_error("message: %s\nexpected in it: %s\n", (err), (want));   \
            fail();                                                             \
        }                                                                       \
    } while (0)

static void test_page_values_against_bytes(void **state)
{
    (void)state;
    char err[512];
    struct pq_column c;
    /* The bomb: one run of 2^26 values in a 5-byte page (INT32: the column,
     * 256 MiB, is within the default budget; the page is not). */
    write_dict_file(PQ_INT32, &zero64, 4, 1, 1 << 26, 1 << 26, 1u << 26);
    assert_int_equal(read_it(0, &c, err, sizeof err), -1);
    assert_has(err, "row group 0, column 'v': a data page claims 67108864 values in 5 bytes");
    assert_has(err, path);
    /* At the bound: 2^20 + 8192 per byte of the page decodes (the page of
     * 2^20 + 8192 * 5 values is 5 bytes: width byte and a 4-byte run). */
    int32_t most = (1 << 20) + 8192 * 5;
    write_dict_file(PQ_INT64, &zero64, 8, 1, most, most, (uint32_t)most);
    assert_int_equal(read_it(0, &c, err, sizeof err), 0);
    assert_int_equal(c.n, (size_t)most);
    assert_int_equal(c.v.i64[most - 1], 0);
    pq_column_free(&c);
    /* One more value over it fails. */
    write_dict_file(PQ_INT64, &zero64, 8, 1, most + 1, most + 1, (uint32_t)most + 1);
    assert_int_equal(read_it(0, &c, err, sizeof err), -1);
    assert_has(err, "claims 1089537 values in 5 bytes (at most 1089536 expected)");
    /* Many short runs make a long page, not a suspicious one. */
    write_dict_file(PQ_INT64, &zero64, 8, 1, 2000000, 2000000, 1000);
    assert_int_equal(read_it(0, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 2000000);
    pq_column_free(&c);
}

static void test_budget_decoded_column(void **state)
{
    (void)state;
    char err[512];
    struct pq_column c;
    write_dict_file(PQ_INT64, &zero64, 8, 1, 1 << 20, 1 << 20, 1000);
    /* 2^20 INT64 values are 8 MiB: over a 4 MiB budget, inside a 16 MiB one. */
    assert_int_equal(read_it((uint64_t)4 << 20, &c, err, sizeof err), -1);
    assert_has(err, "column 'v': the column of 1048576 values needs 8.0 MiB, beyond the 4 MiB");
    assert_has(err, PQ_BUDGET_ENV);
    assert_null(c.v.any);
    /* 8 MiB of values and 21 MiB of page scratch fit in 32. */
    assert_int_equal(read_it((uint64_t)32 << 20, &c, err, sizeof err), 0);
    pq_column_free(&c);

    /* Spent stays spent: with 36 MiB the first read fits, the second (8 MiB
     * more kept, the same scratch) does not. */
    struct pq_reader *r = pq_reader_open(path, err, sizeof err);
    assert_non_null(r);
    pq_reader_set_budget(r, (uint64_t)36 << 20);
    assert_int_equal(pq_read_column(r, 0, 0, &c, err, sizeof err), 0);
    pq_column_free(&c);
    assert_int_equal(pq_read_column(r, 0, 0, &c, err, sizeof err), -1);
    assert_has(err, "a data page of 1048576 values needs 21.0 MiB, beyond the 36 MiB this file may use "
                    "(16.0 MiB used so far)");
    /* The failed read gave its 8 MiB back (8.1 MiB kept); callers charge
     * their own arrays against what is left. */
    assert_int_equal(pq_reader_charge(r, (uint64_t)27 << 20, "twenty-seven", err, sizeof err), 0);
    assert_int_equal(pq_reader_charge(r, (uint64_t)1 << 20, "one more", err, sizeof err), -1);
    assert_has(err, "one more needs 1.0 MiB");
    pq_reader_close(r);
}

/* A reader that streams (reads a row group, releases it) reads a file of
 * any size within a budget that bounds one row group; one that keeps its
 * columns runs out. */
static void test_budget_release(void **state)
{
    (void)state;
    char err[512];
    struct pq_column c;
    /* 16 row groups of 65536 INT64 (512 KiB decoded each, 8 MiB in all)
     * against 4 MiB.  Strings too: 256 copies of a 4 KiB entry a group. */
    write_dict_groups(PQ_INT64, &zero64, 8, 1, 65536, 65536, 1000, 16);
    for (int keep = 0; keep < 2; keep++) {
        struct pq_reader *r = pq_reader_open(path, err, sizeof err);
        assert_non_null(r);
        pq_reader_set_budget(r, (uint64_t)4 << 20);
        int g, rc = 0;
        for (g = 0; g < pq_reader_num_row_groups(r) && rc == 0; g++) {
            rc = pq_read_column(r, g, 0, &c, err, sizeof err);
            if (rc == 0) {
                assert_int_equal(c.n, 65536);
                assert_true(c.charged >= 65536 * 8);
            }
            if (keep)
                pq_column_free(&c);
            else
                pq_reader_release(r, &c);
        }
        if (keep) {
            assert_int_equal(rc, -1);
            assert_has(err, "beyond the 4 MiB");
            assert_true(g > 1 && g < 16);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(g, 16);
        }
        pq_reader_close(r);
    }

    size_t elen = 4096;
    uint8_t *entry = xcalloc(1, 4 + elen);
    entry[1] = 0x10;   /* length 4096, little-endian */
    write_dict_groups(PQ_BYTE_ARRAY, entry, 4 + elen, 1, 256, 256, 256, 16);
    free(entry);
    struct pq_reader *r = pq_reader_open(path, err, sizeof err);
    assert_non_null(r);
    pq_reader_set_budget(r, (uint64_t)4 << 20);
    for (int g = 0; g < 16; g++) {
        assert_int_equal(pq_read_column(r, g, 0, &c, err, sizeof err), 0);
        assert_true(c.charged >= 256 * elen);
        pq_reader_release(r, &c);
    }
    pq_reader_close(r);
}

/* The footer is charged what it decodes into, not a guess of 17 times its
 * size: a footer of 4000 row groups (~200 KB, ~1.5 MB decoded) fits 2 MiB,
 * where 17 times its size did not; the same file with 1 MiB
 * fails on its lists, naming the budget and the variable. */
static void test_budget_footer(void **state)
{
    (void)state;
    char err[512];
    write_dict_groups(PQ_INT64, &zero64, 8, 1, 1000, 1000, 1000, 4000);
    setenv(PQ_BUDGET_ENV, "2", 1);
    struct pq_reader *r = pq_reader_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    assert_int_equal(pq_reader_num_row_groups(r), 4000);

    struct pq_column c;
    assert_int_equal(pq_read_column(r, 3999, 0, &c, err, sizeof err), 0);
    pq_reader_release(r, &c);
    pq_reader_close(r);
    setenv(PQ_BUDGET_ENV, "1", 1);
    r = pq_reader_open(path, err, sizeof err);
    unsetenv(PQ_BUDGET_ENV);
    assert_null(r);
    assert_has(err, "list decodes beyond the memory budget left for the footer");
    assert_has(err, "set " PQ_BUDGET_ENV "=MiB");
}

static void test_budget_byte_arrays(void **state)
{
    (void)state;
    char err[512];
    struct pq_column c;
    /* One 64 KiB dictionary entry repeated 4096 times: 256 MiB of copies
     * from a file of 64 KiB. */
    size_t elen = 65536;
    uint8_t *entry = xcalloc(1, 4 + elen);
    entry[0] = 0, entry[1] = 0, entry[2] = 1, entry[3] = 0;   /* length 65536, little-endian */
    write_dict_file(PQ_BYTE_ARRAY, entry, 4 + elen, 1, 4096, 4096, 4096);
    free(entry);
    assert_int_equal(read_it((uint64_t)64 << 20, &c, err, sizeof err), -1);
    assert_has(err, "4096 byte-array values of 268435456 bytes needs 256.0 MiB");
    assert_int_equal(read_it((uint64_t)300 << 20, &c, err, sizeof err), 0);
    size_t len;
    pq_column_bytes(&c, 4095, &len);
    assert_int_equal(len, elen);
    pq_column_free(&c);
}

static void test_budget_default_and_env(void **state)
{
    (void)state;
    unsetenv(PQ_BUDGET_ENV);
    assert_int_equal(pq_read_budget_default(), PQ_BUDGET_DEFAULT);
    setenv(PQ_BUDGET_ENV, "3", 1);
    assert_int_equal(pq_read_budget_default(), (uint64_t)3 << 20);
    setenv(PQ_BUDGET_ENV, "", 1);
    assert_int_equal(pq_read_budget_default(), PQ_BUDGET_DEFAULT);
    /* A bad value is not silently ignored: a warning names it and the
     * default used instead. */
    char logp[sizeof path + 8];
    snprintf(logp, sizeof logp, "%s.log", path);
    unlink(logp);
    assert_int_equal(log_set_file(logp), 0);
    const char *bad[] = {"0", "-5", "12x", "abc", " 7", "99999999999999999999"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        setenv(PQ_BUDGET_ENV, bad[i], 1);
        assert_int_equal(pq_read_budget_default(), PQ_BUDGET_DEFAULT);
    }
    log_set_file(NULL);
    size_t loglen;
    char *logt = read_file(logp, &loglen);
    assert_non_null(logt);
    unlink(logp);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char want[80];
        snprintf(want, sizeof want, "ignoring %s='%s'", PQ_BUDGET_ENV, bad[i]);
        assert_has(logt, want);
    }
    assert_has(logt, "using the default of 512 MiB");
    free(logt);
    /* The environment reaches a reader opened without a budget set. */
    write_dict_file(PQ_INT64, &zero64, 8, 1, 1 << 20, 1 << 20, 1000);
    setenv(PQ_BUDGET_ENV, "4", 1);
    char err[512];
    struct pq_column c;
    assert_int_equal(read_it(0, &c, err, sizeof err), -1);
    assert_has(err, "beyond the 4 MiB");
    unsetenv(PQ_BUDGET_ENV);
    assert_int_equal(read_it(0, &c, err, sizeof err), 0);
    pq_column_free(&c);
}

/* A footer whose row group lists n empty ColumnChunk structs: one byte each
 * in the file, a few hundred decoded. */
static void test_footer_expansion(void **state)
{
    (void)state;
    struct bbuf b;
    bb_init(&b);
    uint32_t n = 200000;
    uint8_t h[] = {0x49, 0x1C};   /* field 4 (row_groups): list of 1 struct */
    bb_append(&b, h, 2);
    uint8_t l[] = {0x19, 0xFC};   /* field 1 (columns): list of >= 15 structs */
    bb_append(&b, l, 2);
    put_varint(&b, n);
    for (uint32_t i = 0; i < n; i++)
        bb_append(&b, "", 1);      /* an empty struct: its stop byte */
    uint8_t end[] = {0, 0};         /* end of RowGroup, end of FileMetaData */
    bb_append(&b, end, 2);
    struct pq_file_meta m;
    char err[256];
    assert_int_equal(pqf_decode_file_meta(b.p, b.len, &m, err, sizeof err), -1);
    bb_free(&b);
    assert_has(err, "list decodes beyond 16 times the footer's size");
}

static void test_codec_size_claims(void **state)
{
    (void)state;
    /* A snappy preamble claiming 1 GiB in 6 bytes. */
    uint8_t claim[6] = {0x80, 0x80, 0x80, 0x80, 0x04, 0x00};
    assert_false(pq_decompressed_size_plausible(PQ_CODEC_SNAPPY, claim, sizeof claim, (size_t)1 << 30));
    /* Real streams at their best ratio still pass. */
    size_t n = (size_t)1 << 20;
    uint8_t *zeros = xcalloc(1, n);
    size_t cap = snappy_max_compressed_length(n);
    char *sc = xmalloc(cap);
    assert_int_equal(snappy_compress((char *)zeros, n, sc, &cap), SNAPPY_OK);
    assert_true(pq_decompressed_size_plausible(PQ_CODEC_SNAPPY, sc, cap, n));
    free(sc);
    size_t zcap = ZSTD_compressBound(n);
    char *zc = xmalloc(zcap);
    size_t zn = ZSTD_compress(zc, zcap, zeros, n, 19);
    assert_false(ZSTD_isError(zn));
    assert_true(pq_decompressed_size_plausible(PQ_CODEC_ZSTD, zc, zn, n));
    /* ... a zstd claim beyond 32768 to 1 does not. */
    assert_false(pq_decompressed_size_plausible(PQ_CODEC_ZSTD, zc, zn, zn * 32768 + 32768));
    free(zc);
    free(zeros);
}

static void test_thrift_lists_and_depth(void **state)
{
    (void)state;
    /* A list of 1000 i32 in 3 bytes. */
    uint8_t lst[] = {0x19, 0xF5, 0xE8, 0x07, 0x00};
    struct tr r;
    tr_init(&r, lst, sizeof lst);
    tr_begin(&r);
    int16_t id;
    uint8_t t, et;
    uint32_t n;
    assert_true(tr_field(&r, &id, &t));
    assert_false(tr_list(&r, t, &et, &n));
    assert_non_null(r.err);
    assert_has(r.err, "list longer than its data");
    /* A binary longer than the bytes left. */
    uint8_t bin[] = {0x18, 0xFF, 0x7F, 'a'};
    tr_init(&r, bin, sizeof bin);
    tr_begin(&r);
    const uint8_t *p;
    size_t len;
    assert_true(tr_field(&r, &id, &t));
    assert_false(tr_binary(&r, t, &p, &len));
    assert_has(r.err, "binary longer than its data");
    /* 1000 nested structs: refused at the depth limit, skipped or decoded. */
    uint8_t deep[2001];
    for (int i = 0; i < 1000; i++)
        deep[i] = 0x1C;   /* field +1, struct */
    memset(deep + 1000, 0, 1001);
    tr_init(&r, deep, sizeof deep);
    tr_begin(&r);
    assert_true(tr_field(&r, &id, &t));
    tr_skip(&r, t);
    assert_non_null(r.err);
    assert_has(r.err, "nested too deeply");
    struct pq_file_meta m;
    char err[256];
    assert_int_equal(pqf_decode_file_meta(deep, sizeof deep, &m, err, sizeof err), -1);
    assert_has(err, "nested too deeply");
}

/* ---- DELTA_BINARY_PACKED, DELTA_BYTE_ARRAY ---- */

/* One REQUIRED column "v" of 'type', one row group of nv rows, one v1 data
 * page of 'enc' holding body. */
static void write_page_file(int type, int enc, const void *body, size_t len, int32_t nv)
{
    struct bbuf b;
    bb_init(&b);
    bb_append(&b, "PAR1", 4);
    int64_t off = (int64_t)b.len;
    struct pq_page_header ph = {.type = PQ_PAGE_DATA, .uncompressed_page_size = (int32_t)len,
                                .compressed_page_size = (int32_t)len, .has_v1 = true,
                                .v1 = {.num_values = nv, .encoding = enc, .def_encoding = PQ_ENC_RLE,
                                       .rep_encoding = PQ_ENC_RLE}};
    pqf_encode_page_header(&b, &ph);
    bb_append(&b, body, len);
    struct pq_schema_elem schema[2] = {
        {.name = "schema", .num_children = 1},
        {.name = "v", .has_type = true, .type = type, .has_repetition = true, .repetition = PQ_REQUIRED},
    };
    int encs[] = {enc};
    const char *cpath[] = {"v"};
    struct pq_column_chunk cc = {.file_offset = off, .has_meta = true,
                                 .meta = {.type = type, .encodings = encs, .n_encodings = 1, .path = cpath,
                                          .n_path = 1, .codec = PQ_CODEC_UNCOMPRESSED, .num_values = nv,
                                          .total_uncompressed_size = (int64_t)b.len - off,
                                          .total_compressed_size = (int64_t)b.len - off, .data_page_offset = off}};
    struct pq_row_group rg = {.columns = &cc, .n_columns = 1, .total_byte_size = 1, .num_rows = nv};
    struct pq_file_meta m = {.version = 2, .schema = schema, .n_schema = 2, .num_rows = nv, .row_groups = &rg,
                             .n_row_groups = 1, .created_by = "bounds test"};
    size_t at = b.len;
    pqf_encode_file_meta(&b, &m);
    uint32_t flen = (uint32_t)(b.len - at);
    uint8_t tail[8] = {(uint8_t)flen, (uint8_t)(flen >> 8), (uint8_t)(flen >> 16), (uint8_t)(flen >> 24),
                       'P', 'A', 'R', '1'};
    bb_append(&b, tail, 8);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.p, 1, b.len, f), b.len);
    fclose(f);
    bb_free(&b);
}

/* 7, 5, 3, 1, 2, 3, 4, 5 (the format specification's example): block 128,
 * 4 miniblocks, first 7; deltas -2 -2 -2 1 1 1 1 = min -2 + 0 0 0 3 3 3 3 in
 * 2 bits, LSB first: 0xC0 0x3F, the miniblock padded to 32 values. */
static const uint8_t delta_7531[] = {0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 2, 0, 0, 0,
                                     0xC0, 0x3F, 0, 0, 0, 0, 0, 0};

static void test_delta_binary_packed(void **state)
{
    (void)state;
    static const int64_t want[8] = {7, 5, 3, 1, 2, 3, 4, 5};
    struct pq_column c;
    char err[512];
    write_page_file(PQ_INT64, PQ_ENC_DELTA_BINARY_PACKED, delta_7531, sizeof delta_7531, 8);
    assert_int_equal(read_it(0, &c, err, sizeof err), 0);
    assert_int_equal(c.n, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(c.v.i64[i], want[i]);
    pq_column_free(&c);
    write_page_file(PQ_INT32, PQ_ENC_DELTA_BINARY_PACKED, delta_7531, sizeof delta_7531, 8);
    assert_int_equal(read_it(0, &c, err, sizeof err), 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(c.v.i32[i], want[i]);
    pq_column_free(&c);
    /* cut inside the miniblock: an error, not a read past the page */
    write_page_file(PQ_INT64, PQ_ENC_DELTA_BINARY_PACKED, delta_7531, 10, 8);
    assert_int_equal(read_it(0, &c, err, sizeof err), -1);
    assert_has(err, "truncated DELTA_BINARY_PACKED");
    /* a header claiming fewer values than the page */
    uint8_t few[sizeof delta_7531];
    memcpy(few, delta_7531, sizeof few);
    few[3] = 0x04;
    write_page_file(PQ_INT64, PQ_ENC_DELTA_BINARY_PACKED, few, sizeof few, 8);
    assert_int_equal(read_it(0, &c, err, sizeof err), -1);
    assert_has(err, "holds 4 values, the page needs 8");
    /* not on a double column */
    write_page_file(PQ_DOUBLE, PQ_ENC_DELTA_BINARY_PACKED, delta_7531, sizeof delta_7531, 8);
    assert_int_equal(read_it(0, &c, err, sizeof err), -1);
    assert_has(err, "DELTA_BINARY_PACKED on a DOUBLE column");
}

/* apple, applesauce, apricot, banana: prefix lengths 0 5 2 0 (first 0,
 * min delta -3, 8 0 1 in 4 bits), suffix lengths 5 5 5 6 (first 5, min 0,
 * 0 0 1 in 1 bit), then the suffixes. */
static const uint8_t dba[] = {
    0x80, 0x01, 0x04, 0x04, 0x00, 0x05, 4, 0, 0, 0, 0x08, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x80, 0x01, 0x04, 0x04, 0x0a, 0x00, 1, 0, 0, 0, 0x04, 0, 0, 0,
    'a', 'p', 'p', 'l', 'e', 's', 'a', 'u', 'c', 'e', 'r', 'i', 'c', 'o', 't', 'b', 'a', 'n', 'a', 'n', 'a'};

static void test_delta_byte_array(void **state)
{
    (void)state;
    static const char *const want[4] = {"apple", "applesauce", "apricot", "banana"};
    struct pq_column c;
    char err[512];
    write_page_file(PQ_BYTE_ARRAY, PQ_ENC_DELTA_BYTE_ARRAY, dba, sizeof dba, 4);
    assert_int_equal(read_it(0, &c, err, sizeof err), 0);
    for (size_t i = 0; i < 4; i++) {
        size_t len;
        const uint8_t *v = pq_column_bytes(&c, i, &len);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(v, want[i], len);
    }
    pq_column_free(&c);
    /* the suffix part alone is DELTA_LENGTH_BYTE_ARRAY: apple sauce ricot banana */
    write_page_file(PQ_BYTE_ARRAY, PQ_ENC_DELTA_LENGTH_BYTE_ARRAY, dba + 26, sizeof dba - 26, 4);
    assert_int_equal(read_it(0, &c, err, sizeof err), 0);
    size_t len;
    const uint8_t *v = pq_column_bytes(&c, 1, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(v, "sauce", 5);
    pq_column_free(&c);
    /* a prefix longer than the value before it */
    uint8_t bad[sizeof dba];
    memcpy(bad, dba, sizeof bad);
    bad[10] = 0x0f;   /* prefix lengths 0 12 ...: "apple" has 5 bytes */
    write_page_file(PQ_BYTE_ARRAY, PQ_ENC_DELTA_BYTE_ARRAY, bad, sizeof bad, 4);
    assert_int_equal(read_it(0, &c, err, sizeof err), -1);
    assert_has(err, "bad length or prefix");
    /* suffixes claiming more bytes than the page has */
    write_page_file(PQ_BYTE_ARRAY, PQ_ENC_DELTA_BYTE_ARRAY, dba, sizeof dba - 3, 4);
    assert_int_equal(read_it(0, &c, err, sizeof err), -1);
    assert_has(err, "bad length or prefix");
}

/* A prefix bomb: one 1000-byte value, then n - 1 values repeating it whole
 * with empty suffixes: 100 MB from a page of a few kB, refused by the
 * budget before it is allocated. */
static void test_delta_prefix_bomb(void **state)
{
    (void)state;
    const uint32_t n = 100001;
    struct bbuf b;
    bb_init(&b);
    /* prefix lengths: 0, then 1000 x (n - 1): first 0, deltas 1000 then 0 */
    put_varint(&b, 128);
    put_varint(&b, 4);
    put_varint(&b, n);
    put_varint(&b, 0);
    for (uint32_t done = 1; done < n; done += 128) {
        put_varint(&b, 0);   /* min delta 0 */
        uint8_t w[4] = {done == 1 ? 10 : 0, 0, 0, 0};
        bb_append(&b, w, 4);
        if (done == 1) {     /* 1000 in 10 bits, then 31 zeros: 40 bytes */
            uint8_t mb[40] = {0xE8, 0x03};
            bb_append(&b, mb, sizeof mb);
        }
    }
    /* suffix lengths: 1000, then 0s: first 1000, deltas -1000 then 0 */
    put_varint(&b, 128);
    put_varint(&b, 4);
    put_varint(&b, n);
    put_varint(&b, 2000);   /* zigzag 1000 */
    for (uint32_t done = 1; done < n; done += 128) {
        put_varint(&b, done == 1 ? 1999 : 0);   /* min delta -1000 on the first block, then 0 */
        uint8_t w[4] = {0, 0, 0, 0};
        if (done == 1)   /* relative to -1000: 0 for the first delta, 1000 for the others */
            memset(w, 10, sizeof w);
        bb_append(&b, w, 4);
        for (int m = 0; done == 1 && m < 4; m++) {
            uint8_t mb[40] = {0};
            for (int i = m == 0; i < 32; i++)
                for (int k = 0; k < 10; k++)
                    if (1000 >> k & 1)
                        mb[(i * 10 + k) / 8] |= (uint8_t)(1 << ((i * 10 + k) % 8));
            bb_append(&b, mb, sizeof mb);
        }
    }
    uint8_t data[1000];
    memset(data, 'x', sizeof data);
    bb_append(&b, data, sizeof data);
    write_page_file(PQ_BYTE_ARRAY, PQ_ENC_DELTA_BYTE_ARRAY, b.p, b.len, (int32_t)n);
    bb_free(&b);
    struct pq_column c;
    char err[512];
    assert_int_equal(read_it((uint64_t)16 << 20, &c, err, sizeof err), -1);
    assert_has(err, "a DELTA-encoded page needs");
    assert_has(err, PQ_BUDGET_ENV);
    /* with room for it, it decodes: every value the 1000 bytes */
    assert_int_equal(read_it((uint64_t)512 << 20, &c, err, sizeof err), 0);
    size_t len;
    pq_column_bytes(&c, n - 1, &len);
    assert_int_equal(len, 1000);
    pq_column_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_values_against_bytes),
        cmocka_unit_test(test_budget_decoded_column),
        cmocka_unit_test(test_budget_release),
        cmocka_unit_test(test_budget_footer),
        cmocka_unit_test(test_budget_byte_arrays),
        cmocka_unit_test(test_budget_default_and_env),
        cmocka_unit_test(test_footer_expansion),
        cmocka_unit_test(test_codec_size_claims),
        cmocka_unit_test(test_thrift_lists_and_depth),
        cmocka_unit_test(test_delta_binary_packed),
        cmocka_unit_test(test_delta_byte_array),
        cmocka_unit_test(test_delta_prefix_bomb),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
