/* pqcat FILE -- print a Parquet file read with our reader (src/parquet*.c)
 * as one JSON document: schema (name, physical type, repetition, logical and
 * converted type), row groups, and every value.  Same layout as
 * tests/tools/pqdump.mjs (the independent reader), so tests can compare the
 * two with tests/tools/pqcompare.py: integers as decimal strings, floating
 * point as "%.17g" strings, byte arrays without STRING annotation as hex. */
#include "common/jsonl.h"
#include "parquet/parquet.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *converted_name(int c)
{
    switch (c) {
    case PQ_CT_UTF8: return "UTF8";
    case PQ_CT_TIMESTAMP_MILLIS: return "TIMESTAMP_MILLIS";
    case PQ_CT_TIMESTAMP_MICROS: return "TIMESTAMP_MICROS";
    default: return "OTHER";
    }
}

static void put_float(struct jbuf *b, const char *key, double v)
{
    char s[40];
    if (isnan(v))
        snprintf(s, sizeof s, "NaN");
    else if (isinf(v))
        snprintf(s, sizeof s, v > 0 ? "Infinity" : "-Infinity");
    else
        snprintf(s, sizeof s, "%.17g", v);
    jb_str(b, key, s);
}

static void put_value(struct jbuf *b, const struct pq_leaf *l, const struct pq_column *c, size_t i)
{
    char s[64];
    if (c->valid && !c->valid[i]) {
        jb_null(b, l->name);
        return;
    }
    switch (c->type) {
    case PQ_BOOLEAN: jb_bool(b, l->name, c->v.b[i]); break;
    case PQ_INT32: snprintf(s, sizeof s, "%" PRId32, c->v.i32[i]); jb_str(b, l->name, s); break;
    case PQ_INT64: snprintf(s, sizeof s, "%" PRId64, c->v.i64[i]); jb_str(b, l->name, s); break;
    case PQ_FLOAT: put_float(b, l->name, c->v.f32[i]); break;
    case PQ_DOUBLE: put_float(b, l->name, c->v.f64[i]); break;
    default: {
        size_t n;
        const uint8_t *p = pq_column_bytes(c, i, &n);
        if (l->logical.kind == PQ_LT_STRING || (l->has_converted && l->converted == PQ_CT_UTF8)) {
            jb_strn(b, l->name, (const char *)p, n);
        } else {
            char *hex = malloc(2 * n + 1);
            for (size_t k = 0; k < n; k++)
                snprintf(hex + 2 * k, 3, "%02x", p[k]);
            hex[2 * n] = 0;
            jb_str(b, l->name, hex);
            free(hex);
        }
    }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: pqcat FILE\n");
        return argc == 2 ? 0 : 2;
    }
    char err[512];
    struct pq_reader *r = pq_reader_open(argv[1], err, sizeof err);
    if (!r) {
        fprintf(stderr, "pqcat: %s\n", err);
        return 1;
    }
    const struct pq_file_meta *m = pq_reader_meta(r);
    int nl = pq_reader_nleaves(r);
    struct jbuf b;
    jb_init(&b);
    char num[32], lt[64];
    jb_obj_open(&b, NULL);
    snprintf(num, sizeof num, "%" PRId64, pq_reader_num_rows(r));
    jb_str(&b, "num_rows", num);
    if (m->created_by)
        jb_str(&b, "created_by", m->created_by);
    else
        jb_null(&b, "created_by");
    jb_arr_open(&b, "schema");
    for (int i = 0; i < nl; i++) {
        const struct pq_leaf *l = pq_reader_leaf(r, i);
        jb_obj_open(&b, NULL);
        jb_str(&b, "name", l->name);
        jb_str(&b, "type", pq_type_name(l->type));
        jb_str(&b, "repetition", pq_repetition_name(l->repetition));
        if (l->logical.kind)
            jb_str(&b, "logical", pq_logical_str(&l->logical, lt, sizeof lt));
        else
            jb_null(&b, "logical");
        if (l->has_converted)
            jb_str(&b, "converted", converted_name(l->converted));
        else
            jb_null(&b, "converted");
        jb_obj_close(&b);
    }
    jb_arr_close(&b);
    jb_arr_open(&b, "row_groups");
    for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
        jb_obj_open(&b, NULL);
        snprintf(num, sizeof num, "%" PRId64, pq_reader_row_group_rows(r, g));
        jb_str(&b, "num_rows", num);
        jb_obj_close(&b);
    }
    jb_arr_close(&b);
    fputs(b.p, stdout);
    jb_reset(&b);
    fputs(", \"rows\": [", stdout);

    struct pq_column *cols = calloc((size_t)nl + 1, sizeof *cols);
    int rc = 0;
    bool first = true;
    for (int g = 0; g < pq_reader_num_row_groups(r) && !rc; g++) {
        for (int i = 0; i < nl; i++)
            if (pq_read_column(r, g, i, &cols[i], err, sizeof err) < 0) {
                fprintf(stderr, "pqcat: %s\n", err);
                rc = 1;
            }
        size_t n = rc ? 0 : (size_t)pq_reader_row_group_rows(r, g);
        for (size_t row = 0; row < n; row++) {
            jb_reset(&b);
            jb_obj_open(&b, NULL);
            for (int i = 0; i < nl; i++)
                put_value(&b, pq_reader_leaf(r, i), &cols[i], row);
            jb_obj_close(&b);
            if (!first)
                fputs(", ", stdout);
            first = false;
            fputs(b.p, stdout);
        }
        for (int i = 0; i < nl; i++)
            pq_reader_release(r, &cols[i]);
    }
    fputs("]}\n", stdout);
    free(cols);
    jb_free(&b);
    pq_reader_close(r);
    return rc;
}
