/* parquet.h -- a small Parquet writer and reader for flat tables, written
 * from the public format specification (apache/parquet-format).
 *
 * Writer: REQUIRED and OPTIONAL columns of BOOLEAN, INT32, INT64, FLOAT,
 * DOUBLE and BYTE_ARRAY, with the STRING and TIMESTAMP(MILLIS, UTC) logical
 * types; PLAIN or dictionary encoding (RLE_DICTIONARY data pages, a PLAIN
 * dictionary page, falling back to PLAIN when the dictionary grows too large
 * or does not pay); definition levels in the RLE/bit-packed hybrid; data
 * pages v1 (or v2); UNCOMPRESSED, SNAPPY or ZSTD; a row group is flushed
 * every N rows (or bytes), so memory stays bounded however many rows are
 * written; min/max/null-count statistics per page and per column chunk.
 * The file is written under a temporary name and renamed when complete.
 *
 *     struct pq_writer *w = pq_writer_open("f.parquet", cols, 3, &opts, err, sizeof err);
 *     for (...) { pq_put_i32(w, 0, id); pq_put_i64(w, 1, d); pq_put_double(w, 2, u);
 *                 if (pq_end_row(w) < 0) ... }
 *     if (pq_writer_close(w, err, sizeof err) < 0) ...
 *
 * Reader: any flat column (no repeated levels) of any physical type, PLAIN,
 * PLAIN_DICTIONARY/RLE_DICTIONARY, RLE (booleans), DELTA_BINARY_PACKED,
 * DELTA_LENGTH_BYTE_ARRAY and DELTA_BYTE_ARRAY (parquet-java's v2 writer:
 * OpenDC's output) encodings, data pages
 * v1 and v2, UNCOMPRESSED/SNAPPY/ZSTD; one column chunk at a time.  Everything
 * read from the file is bound-checked; a corrupt file gives an error message,
 * never a crash.  A few bytes of RLE or dictionary data can claim millions of
 * values, so what one reader decodes is held to a memory budget (bytes, over
 * the reader's life: footer, decoded columns, what callers charge for their
 * own copies) and checked before anything is allocated: a bomb fails fast
 * with a message naming the file, the column and the claim. */
#ifndef TK_PARQUET_H
#define TK_PARQUET_H

#include "parquet/parquet_format.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- writer ---- */

enum pq_dict_mode {
    PQ_DICT_AUTO = 0,  /* dictionary unless the first page shows it does not pay */
    PQ_DICT_NEVER,     /* PLAIN only */
    PQ_DICT_ALWAYS,    /* dictionary until it outgrows dict_max_bytes */
};

struct pq_col_spec {
    const char *name;
    enum pq_type type;          /* BOOLEAN, INT32, INT64, FLOAT, DOUBLE, BYTE_ARRAY */
    enum pq_logical_kind logical; /* NONE; STRING (BYTE_ARRAY); TIMESTAMP (INT64, millis, UTC) */
    bool optional;              /* OPTIONAL (nullable) instead of REQUIRED */
    enum pq_dict_mode dict;     /* BOOLEAN columns are always PLAIN */
};

struct pq_writer_opts {
    int codec;                  /* PQ_CODEC_UNCOMPRESSED, _SNAPPY or _ZSTD */
    int zstd_level;             /* 0 = library default */
    int page_version;           /* 1 (default) or 2 */
    size_t row_group_rows;      /* flush a row group after this many rows */
    size_t row_group_bytes;     /* ... or once this many encoded bytes are buffered */
    size_t page_bytes;          /* target uncompressed data page size */
    size_t page_values;         /* at most this many values per data page */
    size_t dict_max_bytes;      /* dictionary page size limit before falling back to PLAIN */
    bool no_stats;              /* do not write statistics */
    bool sync;                  /* fsync the file (and its folder) before renaming it */
    const char *created_by;     /* default "tracekit version X" */
};

/* Defaults: UNCOMPRESSED, v1 pages, 1 Mi rows or 32 MiB per row group,
 * 1 MiB / 20 000-value pages, 1 MiB dictionaries, statistics on, no fsync. */
void pq_writer_opts_default(struct pq_writer_opts *o);

struct pq_writer;

/* Create path (through a temporary file in the same folder).  NULL with a
 * message in err on a bad schema or an I/O error.  opts may be NULL. */
struct pq_writer *pq_writer_open(const char *path, const struct pq_col_spec *cols, int ncols,
                                 const struct pq_writer_opts *opts, char *err, size_t errlen);

/* One value per column per row, then pq_end_row.  A value of the wrong type,
 * a null in a REQUIRED column, or a column given twice or not at all makes
 * pq_end_row (and pq_writer_close) fail with a message. */
void pq_put_i32(struct pq_writer *w, int col, int32_t v);
void pq_put_i64(struct pq_writer *w, int col, int64_t v);
void pq_put_float(struct pq_writer *w, int col, float v);
void pq_put_double(struct pq_writer *w, int col, double v);
void pq_put_bool(struct pq_writer *w, int col, bool v);
void pq_put_bytes(struct pq_writer *w, int col, const void *p, size_t n);
void pq_put_str(struct pq_writer *w, int col, const char *s);
void pq_put_null(struct pq_writer *w, int col);
/* Returns 0, or -1 after an error (see pq_writer_error). */
int pq_end_row(struct pq_writer *w);
const char *pq_writer_error(const struct pq_writer *w);
/* Rows accepted so far. */
int64_t pq_writer_rows(const struct pq_writer *w);

/* Flush, write the footer, rename into place, free.  0, or -1 with err set
 * (the temporary file is removed). */
int pq_writer_close(struct pq_writer *w, char *err, size_t errlen);
/* Give up: remove the temporary file and free. */
void pq_writer_abort(struct pq_writer *w);

/* ---- reader ---- */

/* A leaf column of the file's schema. */
struct pq_leaf {
    const char *name;           /* dotted path from the root ("a.b") */
    int type;                   /* enum pq_type */
    int type_length;            /* FIXED_LEN_BYTE_ARRAY width */
    int repetition;             /* of the leaf element itself */
    int max_def, max_rep;       /* levels (max_rep > 0: not readable here) */
    bool has_converted;
    int converted;
    struct pq_logical logical;
};

/* One column chunk, decoded.  Fixed-width values are dense arrays with a
 * zero in null slots; byte-array values (BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY,
 * INT96) are data[off[i] .. off[i+1]). */
struct pq_column {
    int type;
    size_t n;                   /* values, nulls included (= rows) */
    size_t nulls;
    uint8_t *valid;             /* 1 = present; NULL when the column cannot hold nulls */
    union {
        int32_t *i32;
        int64_t *i64;
        float *f32;
        double *f64;
        uint8_t *b;             /* BOOLEAN: 0/1 per value */
        void *any;
    } v;
    uint64_t *off;              /* n + 1 offsets */
    uint8_t *data;              /* not NULL for byte-array columns, even when all are empty */
    /* How it was stored, for tools and tests. */
    unsigned encodings;         /* bit (1 << encoding) per data-page encoding seen */
    int data_pages;
    bool dict_page;
    uint64_t charged;           /* bytes charged to the reader's budget (pq_reader_release) */
};

struct pq_reader;

/* The default memory budget of a reader: 512 MiB, or $TRACEKIT_PARQUET_MAX_MB
 * MiB (for real files larger than that). */
#define PQ_BUDGET_DEFAULT ((uint64_t)512 << 20)
#define PQ_BUDGET_ENV "TRACEKIT_PARQUET_MAX_MB"
uint64_t pq_read_budget_default(void);

/* A regular file only (open_regular: not through a symlink, never blocking
 * on a FIFO).  NULL with err naming the file. */
struct pq_reader *pq_reader_open(const char *path, char *err, size_t errlen);
/* Replace the budget (bytes; what was spent stays spent). */
void pq_reader_set_budget(struct pq_reader *r, uint64_t bytes);
/* Spend 'bytes' of the budget on 'what' (a caller's own per-row arrays):
 * 0, or -1 with a message in err when that would exceed it. */
int pq_reader_charge(struct pq_reader *r, uint64_t bytes, const char *what, char *err, size_t errlen);
void pq_reader_close(struct pq_reader *r);
const struct pq_file_meta *pq_reader_meta(const struct pq_reader *r);
int pq_reader_nleaves(const struct pq_reader *r);
const struct pq_leaf *pq_reader_leaf(const struct pq_reader *r, int i);
/* Leaf index by dotted name, or -1. */
int pq_reader_find(const struct pq_reader *r, const char *name);
int64_t pq_reader_num_rows(const struct pq_reader *r);
int pq_reader_num_row_groups(const struct pq_reader *r);
int64_t pq_reader_row_group_rows(const struct pq_reader *r, int rg);

/* Decode leaf 'leaf' of row group 'rg' into out.  The decoded column is
 * charged to the budget (out->charged).  A caller that reads one row group at
 * a time frees each column with pq_reader_release, which gives the charge
 * back; pq_column_free leaves it spent (for callers that keep what they
 * derive from the column).  Returns 0, or -1 with a message in err. */
int pq_read_column(struct pq_reader *r, int rg, int leaf, struct pq_column *out, char *err,
                   size_t errlen);
void pq_column_free(struct pq_column *c);

/* Columns wanted by name, for the readers of fixed tables (replay_load,
 * opendc_compare_load): the physical type each must have (an INT64 column
 * with a logical type such as TIMESTAMP is still INT64), and whether the file
 * must hold it. */
struct pq_want {
    const char *name;
    int type;                   /* enum pq_type */
    bool required;
};
/* Read row group rg's columns w[0..n) into c[0..n): a column the file lacks
 * and need not have is left zeroed with type -1.  0, or -1 with err naming
 * the file, the column, the type expected and the type found (nothing of c
 * is kept then). */
int pq_read_wanted(struct pq_reader *r, int rg, const struct pq_want *w, int n, struct pq_column *c,
                   char *err, size_t errlen);
/* pq_column_free, and give c->charged back to r's budget.  c was read from r;
 * accepts a zeroed column. */
void pq_reader_release(struct pq_reader *r, struct pq_column *c);

/* Value i of a byte-array column. */
static inline const uint8_t *pq_column_bytes(const struct pq_column *c, size_t i, size_t *len)
{
    *len = (size_t)(c->off[i + 1] - c->off[i]);
    return c->data + c->off[i];
}

/* Text for a logical type, e.g. "STRING", "TIMESTAMP(MILLIS,UTC)"; "" for none. */
const char *pq_logical_str(const struct pq_logical *lt, char *buf, size_t len);

#endif
