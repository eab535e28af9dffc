/* parquet.c -- the Parquet writer (the reader is in parquet_read.c).
 *
 * File layout: "PAR1", then per row group one column chunk per column
 * ([dictionary page] data pages...), then the footer (FileMetaData, Thrift
 * compact), its length (u32 LE) and "PAR1".  Values are buffered per column
 * for one page; finished pages (header + compressed body) are buffered per
 * column for one row group, since a column chunk must be contiguous in the
 * file.  Memory is therefore bounded by the row group limits. */
#include "parquet/parquet.h"
#include "common/util.h"
#include "parquet/parquet_codec.h"
#include "parquet/parquet_enc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest min/max statistic we store for byte arrays (longer ones are
 * truncated to a bound that is still valid, and flagged inexact). */
#define PQ_STAT_MAX 64
#define OUTBUF_SIZE ((size_t)1 << 20)

void pq_writer_opts_default(struct pq_writer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->codec = PQ_CODEC_UNCOMPRESSED;
    o->page_version = 1;
    o->row_group_rows = (size_t)1 << 20;
    o->row_group_bytes = (size_t)32 << 20;
    o->page_bytes = (size_t)1 << 20;
    o->page_values = 20000;
    o->dict_max_bytes = (size_t)1 << 20;
}

/* Running statistics of a page or a column chunk. */
struct wstats {
    int64_t nulls, nans;
    int64_t imin, imax;          /* INT32, INT64, BOOLEAN */
    double dmin, dmax;           /* FLOAT, DOUBLE (NaN excluded) */
    bool bany;                   /* BYTE_ARRAY: bmin/bmax are set */
    struct bbuf bmin, bmax;
};

/* Statistics as bytes, ready for a header or the footer. */
struct statval {
    uint8_t min[PQ_STAT_MAX], max[PQ_STAT_MAX];
    size_t nmin, nmax;
    bool has_min, has_max, min_exact, max_exact;
    int64_t nulls, nans;
};

struct wcol {
    char *name;
    const char *path[1];
    int type, logical;
    bool optional;
    int dict_mode;
    int width;                   /* PLAIN bytes per value; 0 for BYTE_ARRAY and BOOLEAN */

    /* the page being filled */
    size_t pn, pnonnull;         /* values (with nulls), non-null values */
    uint8_t *defs;               /* definition level per value (OPTIONAL only) */
    size_t defs_cap;
    struct bbuf plain;           /* PLAIN values, when not dictionary-encoding */
    size_t bool_bits;
    uint32_t *idx;               /* dictionary indices, when dictionary-encoding */
    size_t idx_cap;
    struct wstats ps;

    /* the column chunk being filled */
    bool dict_on;
    struct pq_dict dict;
    struct bbuf chunk;           /* finished data pages */
    int64_t c_values, c_nulls, c_uncompressed;
    int pages_dict, pages_plain;
    struct wstats cs;
    size_t rows;                 /* values given in this row group, current row included */
};

/* What the footer needs about one written column chunk. */
struct chunk_rec {
    int type, codec;
    int64_t num_values, total_uncompressed, total_compressed;
    int64_t data_page_offset, dict_page_offset;
    bool has_dict;
    int enc[4];
    int n_enc;
    struct pq_encoding_stats es[3];
    int n_es;
    struct statval st;
    bool has_stats;
};

struct rg_rec {
    int64_t rows, total_byte_size, file_offset, total_compressed;
};

struct pq_writer {
    struct pq_writer_opts o;
    char *path, *tmp;
    int fd;
    int64_t pos;                 /* bytes written to the file (logically) */
    struct bbuf out;             /* output buffer */
    int ncols;
    struct wcol *cols;
    size_t rg_rows;              /* rows in the current row group */
    int64_t rows;                /* rows in the file */
    size_t buffered;             /* encoded bytes held for the current row group */
    struct chunk_rec *recs;      /* ncols per finished row group */
    struct rg_rec *rgs;
    size_t n_rgs, cap_rgs;
    struct bbuf lv, vals, body, cbuf, hdr;  /* scratch */
    uint32_t *lvtmp;
    size_t lvtmp_cap;
    struct pq_codec_ctx codec;
    bool failed;
    char err[512];
};

static void wfail(struct pq_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wfail(struct pq_writer *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->err, sizeof w->err, fmt, ap);
    va_end(ap);
    w->failed = true;
}

/* ---- output ---- */

static void out_flush(struct pq_writer *w)
{
    if (w->out.len && !w->failed && write_all(w->fd, w->out.p, w->out.len) < 0)
        wfail(w, "cannot write %s: %s", w->tmp, strerror(errno));
    bb_reset(&w->out);
}

static void out_write(struct pq_writer *w, const void *p, size_t n)
{
    w->pos += (int64_t)n;
    if (w->out.len + n > OUTBUF_SIZE)
        out_flush(w);
    if (n >= OUTBUF_SIZE) {
        if (!w->failed && write_all(w->fd, p, n) < 0)
            wfail(w, "cannot write %s: %s", w->tmp, strerror(errno));
        return;
    }
    bb_append(&w->out, p, n);
}

/* ---- statistics ---- */

static void stats_reset(struct wstats *s)
{
    s->nulls = s->nans = 0;
    s->imin = INT64_MAX;
    s->imax = INT64_MIN;
    s->dmin = INFINITY;
    s->dmax = -INFINITY;
    s->bany = false;
    bb_reset(&s->bmin);
    bb_reset(&s->bmax);
}

static int bytes_cmp(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;  /* an empty value may have no buffer (NULL) */
    return c ? c : (na > nb) - (na < nb);
}

static inline void stats_bytes(struct wstats *s, const uint8_t *p, size_t n)
{
    if (!s->bany || bytes_cmp(p, n, s->bmin.p, s->bmin.len) < 0) {
        bb_reset(&s->bmin);
        bb_append(&s->bmin, p, n);
    }
    if (!s->bany || bytes_cmp(p, n, s->bmax.p, s->bmax.len) > 0) {
        bb_reset(&s->bmax);
        bb_append(&s->bmax, p, n);
    }
    s->bany = true;
}

static void stats_merge(struct wstats *into, const struct wstats *s)
{
    into->nulls += s->nulls;
    into->nans += s->nans;
    if (s->imin < into->imin)
        into->imin = s->imin;
    if (s->imax > into->imax)
        into->imax = s->imax;
    if (s->dmin < into->dmin)
        into->dmin = s->dmin;
    if (s->dmax > into->dmax)
        into->dmax = s->dmax;
    if (s->bany) {
        stats_bytes(into, s->bmin.p, s->bmin.len);
        stats_bytes(into, s->bmax.p, s->bmax.len);
    }
}

/* Encode statistics as PLAIN bytes (without length prefix for byte arrays). */
static void stats_values(int type, const struct wstats *s, struct statval *sv)
{
    memset(sv, 0, sizeof *sv);
    sv->nulls = s->nulls;
    sv->nans = s->nans;
    switch (type) {
    case PQ_INT32:
    case PQ_INT64:
    case PQ_BOOLEAN:
        if (s->imin > s->imax)
            return;   /* no non-null value */
        if (type == PQ_INT32) {
            int32_t lo = (int32_t)s->imin, hi = (int32_t)s->imax;
            memcpy(sv->min, &lo, 4);
            memcpy(sv->max, &hi, 4);
            sv->nmin = sv->nmax = 4;
        } else if (type == PQ_INT64) {
            memcpy(sv->min, &s->imin, 8);
            memcpy(sv->max, &s->imax, 8);
            sv->nmin = sv->nmax = 8;
        } else {
            sv->min[0] = (uint8_t)s->imin;
            sv->max[0] = (uint8_t)s->imax;
            sv->nmin = sv->nmax = 1;
        }
        break;
    case PQ_FLOAT:
    case PQ_DOUBLE: {
        if (!(s->dmin <= s->dmax))
            return;   /* no value, or NaN only */
        /* Zero bounds are written as -0.0 (min) and +0.0 (max), so readers
         * need not know which zero the page holds (parquet.thrift). */
        double lo = s->dmin == 0 ? -0.0 : s->dmin, hi = s->dmax == 0 ? 0.0 : s->dmax;
        if (type == PQ_FLOAT) {
            float flo = (float)lo, fhi = (float)hi;
            memcpy(sv->min, &flo, 4);
            memcpy(sv->max, &fhi, 4);
            sv->nmin = sv->nmax = 4;
        } else {
            memcpy(sv->min, &lo, 8);
            memcpy(sv->max, &hi, 8);
            sv->nmin = sv->nmax = 8;
        }
        break;
    }
    case PQ_BYTE_ARRAY: {
        if (!s->bany)
            return;
        /* A prefix is a valid lower bound. */
        sv->nmin = s->bmin.len < PQ_STAT_MAX ? s->bmin.len : PQ_STAT_MAX;
        if (sv->nmin)  /* an empty minimum may have no buffer */
            memcpy(sv->min, s->bmin.p, sv->nmin);
        sv->min_exact = sv->nmin == s->bmin.len;
        sv->has_min = true;
        /* An upper bound: a prefix with its last byte below 0xFF incremented. */
        if (s->bmax.len <= PQ_STAT_MAX) {
            if (s->bmax.len)
                memcpy(sv->max, s->bmax.p, s->bmax.len);
            sv->nmax = s->bmax.len;
            sv->max_exact = true;
            sv->has_max = true;
        } else {
            size_t n = PQ_STAT_MAX;
            memcpy(sv->max, s->bmax.p, n);
            while (n && sv->max[n - 1] == 0xFF)
                n--;
            if (n) {
                sv->max[n - 1]++;
                sv->nmax = n;
                sv->has_max = true;
            }
        }
        return;
    }
    default:
        return;
    }
    sv->has_min = sv->has_max = true;
    sv->min_exact = sv->max_exact = true;
}

static void stats_to_pq(int type, const struct statval *sv, struct pq_stats *ps)
{
    memset(ps, 0, sizeof *ps);
    ps->has_null_count = true;
    ps->null_count = sv->nulls;
    if (type == PQ_FLOAT || type == PQ_DOUBLE) {
        ps->has_nan_count = true;
        ps->nan_count = sv->nans;
    }
    if (sv->has_min) {
        ps->min_value = (struct pq_bytes){sv->min, sv->nmin, true};
        ps->has_min_exact = true;
        ps->min_exact = sv->min_exact;
    }
    if (sv->has_max) {
        ps->max_value = (struct pq_bytes){sv->max, sv->nmax, true};
        ps->has_max_exact = true;
        ps->max_exact = sv->max_exact;
    }
    /* The deprecated fields use signed order: right for numbers only. */
    if (type != PQ_BYTE_ARRAY) {
        ps->min = ps->min_value;
        ps->max = ps->max_value;
    }
}

/* ---- open ---- */

static bool spec_ok(const struct pq_col_spec *s, char *err, size_t errlen)
{
    if (!s->name || !*s->name) {
        snprintf(err, errlen, "a column has no name");
        return false;
    }
    switch (s->type) {
    case PQ_BOOLEAN:
    case PQ_INT32:
    case PQ_INT64:
    case PQ_FLOAT:
    case PQ_DOUBLE:
    case PQ_BYTE_ARRAY:
        break;
    default:
        snprintf(err, errlen, "column '%s': cannot write physical type %s (expected BOOLEAN, INT32, "
                 "INT64, FLOAT, DOUBLE or BYTE_ARRAY)", s->name, pq_type_name(s->type));
        return false;
    }
    if (s->logical == PQ_LT_STRING && s->type != PQ_BYTE_ARRAY) {
        snprintf(err, errlen, "column '%s': STRING needs BYTE_ARRAY, not %s", s->name,
                 pq_type_name(s->type));
        return false;
    }
    if (s->logical == PQ_LT_TIMESTAMP && s->type != PQ_INT64) {
        snprintf(err, errlen, "column '%s': TIMESTAMP needs INT64, not %s", s->name,
                 pq_type_name(s->type));
        return false;
    }
    if (s->logical != PQ_LT_NONE && s->logical != PQ_LT_STRING && s->logical != PQ_LT_TIMESTAMP) {
        snprintf(err, errlen, "column '%s': unsupported logical type %d (expected none, STRING or "
                 "TIMESTAMP)", s->name, s->logical);
        return false;
    }
    if (s->dict != PQ_DICT_AUTO && s->dict != PQ_DICT_NEVER && s->dict != PQ_DICT_ALWAYS) {
        snprintf(err, errlen, "column '%s': bad dictionary mode %d", s->name, s->dict);
        return false;
    }
    return true;
}

static void col_chunk_reset(struct wcol *c)
{
    c->dict_on = c->dict_mode != PQ_DICT_NEVER && c->type != PQ_BOOLEAN;
    pq_dict_clear(&c->dict);
    bb_reset(&c->chunk);
    c->c_values = c->c_nulls = c->c_uncompressed = 0;
    c->pages_dict = c->pages_plain = 0;
    stats_reset(&c->cs);
    c->rows = 0;
}

struct pq_writer *pq_writer_open(const char *path, const struct pq_col_spec *cols, int ncols,
                                 const struct pq_writer_opts *opts, char *err, size_t errlen)
{
    struct pq_writer_opts o;
    if (opts)
        o = *opts;
    else
        pq_writer_opts_default(&o);
    if (ncols < 1) {
        snprintf(err, errlen, "a Parquet file needs at least one column");
        return NULL;
    }
    for (int i = 0; i < ncols; i++) {
        if (!spec_ok(&cols[i], err, errlen))
            return NULL;
        for (int j = 0; j < i; j++)
            if (!strcmp(cols[i].name, cols[j].name)) {
                snprintf(err, errlen, "column name '%s' used twice", cols[i].name);
                return NULL;
            }
    }
    if (!pq_codec_supported(o.codec)) {
        snprintf(err, errlen, "unsupported compression %s (expected UNCOMPRESSED, SNAPPY or ZSTD)",
                 pq_codec_name(o.codec));
        return NULL;
    }
    if (o.page_version != 1 && o.page_version != 2) {
        snprintf(err, errlen, "bad data page version %d (expected 1 or 2)", o.page_version);
        return NULL;
    }
    struct pq_writer_opts d;
    pq_writer_opts_default(&d);
    if (!o.row_group_rows) o.row_group_rows = d.row_group_rows;
    if (!o.row_group_bytes) o.row_group_bytes = d.row_group_bytes;
    if (!o.page_bytes) o.page_bytes = d.page_bytes;
    if (!o.page_values) o.page_values = d.page_values;
    if (!o.dict_max_bytes) o.dict_max_bytes = d.dict_max_bytes;
    /* Page value counts are i32 in the page header. */
    if (o.page_values > (size_t)INT32_MAX)
        o.page_values = INT32_MAX;

    struct pq_writer *w = xcalloc(1, sizeof *w);
    w->o = o;
    w->path = xstrdup(path);
    w->tmp = xasprintf("%s.tmp.XXXXXX", path);
    w->fd = mkstemp(w->tmp);
    if (w->fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", w->tmp, strerror(errno));
        free(w->tmp);
        free(w->path);
        free(w);
        return NULL;
    }
    /* mkstemp makes the file 0600; give it the usual mode. */
    mode_t um = umask(0);
    umask(um);
    if (fchmod(w->fd, 0666 & ~um) < 0) { /* not fatal: the data is what matters */ }

    w->ncols = ncols;
    w->cols = xcalloc((size_t)ncols, sizeof *w->cols);
    for (int i = 0; i < ncols; i++) {
        struct wcol *c = &w->cols[i];
        c->name = xstrdup(cols[i].name);
        c->path[0] = c->name;
        c->type = cols[i].type;
        c->logical = cols[i].logical;
        c->optional = cols[i].optional;
        c->dict_mode = cols[i].dict;
        c->width = c->type == PQ_INT32 || c->type == PQ_FLOAT ? 4
                   : c->type == PQ_INT64 || c->type == PQ_DOUBLE ? 8 : 0;
        pq_dict_init(&c->dict, c->width);
        stats_reset(&c->ps);
        col_chunk_reset(c);
    }
    out_write(w, "PAR1", 4);
    return w;
}

/* ---- pages ---- */

/* Would dictionary encoding of the current (first) page be smaller than
 * PLAIN?  Counts the dictionary page too, as a one-page chunk needs it. */
static bool dict_pays(const struct wcol *c)
{
    size_t bw = (size_t)pq_bit_width(c->dict.count ? c->dict.count - 1 : 0);
    size_t dict_size = pq_dict_plain_size(&c->dict) + (c->pnonnull * (bw ? bw : 1) + 7) / 8 + 1;
    size_t plain_size;
    if (c->width) {
        plain_size = c->pnonnull * (size_t)c->width;
    } else {
        plain_size = 0;
        for (size_t i = 0; i < c->pnonnull; i++) {
            const uint8_t *q = c->dict.data.p + c->dict.keys[c->idx[i]];
            plain_size += 4 + ((size_t)q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16 | (size_t)q[3] << 24);
        }
    }
    return dict_size < plain_size;
}

/* Turn the page's dictionary indices back into PLAIN values. */
static void page_to_plain(struct wcol *c)
{
    bb_reset(&c->plain);
    for (size_t i = 0; i < c->pnonnull; i++) {
        if (c->width) {
            bb_append(&c->plain, &c->dict.keys[c->idx[i]], (size_t)c->width);
        } else {
            const uint8_t *q = c->dict.data.p + c->dict.keys[c->idx[i]];
            size_t n = (size_t)q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16 | (size_t)q[3] << 24;
            bb_append(&c->plain, q, 4 + n);
        }
    }
}

static void count_encoding(struct chunk_rec *r, int page_type, int enc, int count)
{
    if (!count)
        return;
    r->es[r->n_es++] = (struct pq_encoding_stats){page_type, enc, count};
}

static void add_encoding(struct chunk_rec *r, int enc)
{
    for (int i = 0; i < r->n_enc; i++)
        if (r->enc[i] == enc)
            return;
    r->enc[r->n_enc++] = enc;
}

static void flush_page(struct pq_writer *w, struct wcol *c)
{
    if (!c->pn)
        return;
    /* A page of nulls only needs no dictionary (and an empty dictionary
     * page would only puzzle readers). */
    bool use_dict = c->dict_on && c->dict.count > 0;
    if (use_dict && c->dict_mode == PQ_DICT_AUTO && c->pages_dict == 0 && !dict_pays(c)) {
        page_to_plain(c);
        pq_dict_clear(&c->dict);
        c->dict_on = use_dict = false;
    }

    /* Definition levels (no repetition levels: columns are flat). */
    bb_reset(&w->lv);
    if (c->optional) {
        if (w->lvtmp_cap < c->pn) {
            w->lvtmp_cap = c->pn;
            w->lvtmp = xrealloc(w->lvtmp, w->lvtmp_cap * sizeof *w->lvtmp);
        }
        for (size_t i = 0; i < c->pn; i++)
            w->lvtmp[i] = c->defs[i];
        pq_rle_encode(&w->lv, w->lvtmp, c->pn, 1);
    }

    /* Values. */
    struct bbuf *vals = &c->plain;
    if (use_dict) {
        int bw = pq_bit_width(c->dict.count ? c->dict.count - 1 : 0);
        if (bw == 0)
            bw = 1;   /* some readers mishandle width 0 */
        bb_reset(&w->vals);
        bb_byte(&w->vals, (uint8_t)bw);
        pq_rle_encode(&w->vals, c->idx, c->pnonnull, bw);
        vals = &w->vals;
    }

    /* Body: v1 compresses [levels length, levels, values] as one; v2 keeps
     * the levels outside the compressed part. */
    struct pq_page_header h = {0};
    struct statval sv;
    size_t uncompressed;
    bb_reset(&w->cbuf);
    int rc;
    if (w->o.page_version == 1) {
        bb_reset(&w->body);
        if (c->optional) {
            bb_u32le(&w->body, (uint32_t)w->lv.len);
            bb_append(&w->body, w->lv.p, w->lv.len);
        }
        bb_append(&w->body, vals->p, vals->len);
        uncompressed = w->body.len;
        rc = pq_compress(&w->codec, w->o.codec, w->o.zstd_level, w->body.p, w->body.len, &w->cbuf);
        h.type = PQ_PAGE_DATA;
        h.has_v1 = true;
        h.v1.num_values = (int32_t)c->pn;
        h.v1.encoding = use_dict ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN;
        h.v1.def_encoding = PQ_ENC_RLE;
        h.v1.rep_encoding = PQ_ENC_RLE;
        if (!w->o.no_stats) {
            stats_values(c->type, &c->ps, &sv);
            h.v1.has_stats = true;
            stats_to_pq(c->type, &sv, &h.v1.stats);
        }
    } else {
        bb_append(&w->cbuf, w->lv.p, w->lv.len);
        uncompressed = w->lv.len + vals->len;
        rc = pq_compress(&w->codec, w->o.codec, w->o.zstd_level, vals->p, vals->len, &w->cbuf);
        h.type = PQ_PAGE_DATA_V2;
        h.has_v2 = true;
        h.v2.num_values = (int32_t)c->pn;
        h.v2.num_nulls = (int32_t)(c->pn - c->pnonnull);
        h.v2.num_rows = (int32_t)c->pn;
        h.v2.encoding = use_dict ? PQ_ENC_RLE_DICTIONARY : PQ_ENC_PLAIN;
        h.v2.def_len = (int32_t)w->lv.len;
        h.v2.rep_len = 0;
        h.v2.is_compressed = w->o.codec != PQ_CODEC_UNCOMPRESSED;
        if (!w->o.no_stats) {
            stats_values(c->type, &c->ps, &sv);
            h.v2.has_stats = true;
            stats_to_pq(c->type, &sv, &h.v2.stats);
        }
    }
    if (rc < 0)
        wfail(w, "column '%s': %s compression failed", c->name, pq_codec_name(w->o.codec));
    if (uncompressed > INT32_MAX || w->cbuf.len > INT32_MAX)
        wfail(w, "column '%s': page too large", c->name);
    h.uncompressed_page_size = (int32_t)uncompressed;
    h.compressed_page_size = (int32_t)w->cbuf.len;

    size_t before = c->chunk.len;
    pqf_encode_page_header(&c->chunk, &h);
    size_t hdr_len = c->chunk.len - before;
    bb_append(&c->chunk, w->cbuf.p, w->cbuf.len);
    c->c_uncompressed += (int64_t)(hdr_len + uncompressed);
    w->buffered += hdr_len + w->cbuf.len;
    c->c_values += (int64_t)c->pn;
    c->c_nulls += (int64_t)(c->pn - c->pnonnull);
    if (use_dict)
        c->pages_dict++;
    else
        c->pages_plain++;

    stats_merge(&c->cs, &c->ps);
    stats_reset(&c->ps);
    c->pn = c->pnonnull = 0;
    c->bool_bits = 0;
    bb_reset(&c->plain);
}

/* ---- values ---- */

static struct wcol *col_for(struct pq_writer *w, int col, int type, const char *what)
{
    if (col < 0 || col >= w->ncols) {
        wfail(w, "column index %d out of range (the file has %d columns)", col, w->ncols);
        return NULL;
    }
    struct wcol *c = &w->cols[col];
    if (c->type != type) {
        wfail(w, "column '%s' is %s, got a %s value", c->name, pq_type_name(c->type), what);
        return NULL;
    }
    return c;
}

/* Bookkeeping common to every value: level, counts. */
static inline void value_begin(struct wcol *c, bool defined)
{
    if (c->optional) {
        if (c->pn == c->defs_cap) {
            c->defs_cap = c->defs_cap ? c->defs_cap * 2 : 1024;
            c->defs = xrealloc(c->defs, c->defs_cap);
        }
        c->defs[c->pn] = defined;
    }
    c->pn++;
    c->rows++;
    if (defined)
        c->pnonnull++;
}

static inline void add_index(struct wcol *c, uint32_t i)
{
    if (c->pnonnull >= c->idx_cap) {
        c->idx_cap = c->idx_cap ? c->idx_cap * 2 : 1024;
        c->idx = xrealloc(c->idx, c->idx_cap * sizeof *c->idx);
    }
    c->idx[c->pnonnull - 1] = i;
}

static inline void value_end(struct pq_writer *w, struct wcol *c)
{
    if (c->dict_on && pq_dict_plain_size(&c->dict) > w->o.dict_max_bytes) {
        /* Pages written so far keep the dictionary; the rest are PLAIN. */
        flush_page(w, c);
        c->dict_on = false;
        return;
    }
    size_t bytes = c->dict_on ? c->pnonnull * 4 : c->plain.len;
    if (c->pn >= w->o.page_values || bytes >= w->o.page_bytes)
        flush_page(w, c);
}

static void put_fixed(struct pq_writer *w, struct wcol *c, uint64_t bits)
{
    value_begin(c, true);
    if (c->dict_on) {
        add_index(c, pq_dict_put(&c->dict, bits));
    } else {
        uint8_t *q = bb_reserve(&c->plain, 8);
        memcpy(q, &bits, (size_t)c->width);
        c->plain.len += (size_t)c->width;
    }
    value_end(w, c);
}

void pq_put_i32(struct pq_writer *w, int col, int32_t v)
{
    struct wcol *c = col_for(w, col, PQ_INT32, "INT32");
    if (!c)
        return;
    if (v < c->ps.imin) c->ps.imin = v;
    if (v > c->ps.imax) c->ps.imax = v;
    put_fixed(w, c, (uint32_t)v);
}

void pq_put_i64(struct pq_writer *w, int col, int64_t v)
{
    struct wcol *c = col_for(w, col, PQ_INT64, "INT64");
    if (!c)
        return;
    if (v < c->ps.imin) c->ps.imin = v;
    if (v > c->ps.imax) c->ps.imax = v;
    put_fixed(w, c, (uint64_t)v);
}

/* Page statistics of a floating-point value; NaN is counted, never a min/max. */
static void note_real(struct wcol *c, double v)
{
    if (isnan(v)) {
        c->ps.nans++;
        return;
    }
    if (v < c->ps.dmin)
        c->ps.dmin = v;
    if (v > c->ps.dmax)
        c->ps.dmax = v;
}

void pq_put_float(struct pq_writer *w, int col, float v)
{
    struct wcol *c = col_for(w, col, PQ_FLOAT, "FLOAT");
    if (!c)
        return;
    note_real(c, v);
    uint32_t bits;
    memcpy(&bits, &v, 4);
    put_fixed(w, c, bits);
}

void pq_put_double(struct pq_writer *w, int col, double v)
{
    struct wcol *c = col_for(w, col, PQ_DOUBLE, "DOUBLE");
    if (!c)
        return;
    note_real(c, v);
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put_fixed(w, c, bits);
}

void pq_put_bool(struct pq_writer *w, int col, bool v)
{
    struct wcol *c = col_for(w, col, PQ_BOOLEAN, "BOOLEAN");
    if (!c)
        return;
    if (v < c->ps.imin) c->ps.imin = v;
    if (v > c->ps.imax) c->ps.imax = v;
    value_begin(c, true);
    /* PLAIN booleans: bit-packed, LSB first. */
    if (c->bool_bits % 8 == 0)
        bb_byte(&c->plain, 0);
    if (v)
        c->plain.p[c->plain.len - 1] |= (uint8_t)(1u << (c->bool_bits % 8));
    c->bool_bits++;
    value_end(w, c);
}

void pq_put_bytes(struct pq_writer *w, int col, const void *p, size_t n)
{
    struct wcol *c = col_for(w, col, PQ_BYTE_ARRAY, "BYTE_ARRAY");
    if (!c)
        return;
    if (n > INT32_MAX) {
        wfail(w, "column '%s': value of %zu bytes is too long", c->name, n);
        return;
    }
    stats_bytes(&c->ps, p, n);
    value_begin(c, true);
    if (c->dict_on) {
        add_index(c, pq_dict_put_bytes(&c->dict, p, (uint32_t)n));
    } else {
        bb_u32le(&c->plain, (uint32_t)n);
        bb_append(&c->plain, p, n);
    }
    value_end(w, c);
}

void pq_put_str(struct pq_writer *w, int col, const char *s)
{
    pq_put_bytes(w, col, s, strlen(s));
}

void pq_put_null(struct pq_writer *w, int col)
{
    if (col < 0 || col >= w->ncols) {
        wfail(w, "column index %d out of range (the file has %d columns)", col, w->ncols);
        return;
    }
    struct wcol *c = &w->cols[col];
    if (!c->optional) {
        wfail(w, "column '%s' is REQUIRED, got a null", c->name);
        return;
    }
    c->ps.nulls++;
    value_begin(c, false);
    value_end(w, c);
}

/* ---- row groups ---- */

static void write_chunk(struct pq_writer *w, struct wcol *c, struct chunk_rec *r)
{
    memset(r, 0, sizeof *r);
    r->type = c->type;
    r->codec = w->o.codec;
    r->num_values = c->c_values;
    int64_t start = w->pos;
    int64_t uncompressed = c->c_uncompressed;

    if (c->pages_dict) {
        /* The dictionary page goes first; data pages refer to it. */
        bb_reset(&w->body);
        pq_dict_write_plain(&c->dict, &w->body);
        bb_reset(&w->cbuf);
        if (pq_compress(&w->codec, w->o.codec, w->o.zstd_level, w->body.p, w->body.len, &w->cbuf) < 0)
            wfail(w, "column '%s': %s compression failed", c->name, pq_codec_name(w->o.codec));
        if (w->body.len > INT32_MAX || w->cbuf.len > INT32_MAX)
            wfail(w, "column '%s': dictionary page too large", c->name);
        struct pq_page_header h = {0};
        h.type = PQ_PAGE_DICTIONARY;
        h.uncompressed_page_size = (int32_t)w->body.len;
        h.compressed_page_size = (int32_t)w->cbuf.len;
        h.has_dict = true;
        h.dict.num_values = (int32_t)c->dict.count;
        h.dict.encoding = PQ_ENC_PLAIN;
        bb_reset(&w->hdr);
        pqf_encode_page_header(&w->hdr, &h);
        out_write(w, w->hdr.p, w->hdr.len);
        out_write(w, w->cbuf.p, w->cbuf.len);
        uncompressed += (int64_t)(w->hdr.len + w->body.len);
        r->has_dict = true;
        r->dict_page_offset = start;
        add_encoding(r, PQ_ENC_PLAIN);
        add_encoding(r, PQ_ENC_RLE_DICTIONARY);
        count_encoding(r, PQ_PAGE_DICTIONARY, PQ_ENC_PLAIN, 1);
    }
    r->data_page_offset = w->pos;
    out_write(w, c->chunk.p, c->chunk.len);
    if (c->pages_plain)
        add_encoding(r, PQ_ENC_PLAIN);
    add_encoding(r, PQ_ENC_RLE);   /* definition/repetition level encoding */
    int dpt = w->o.page_version == 1 ? PQ_PAGE_DATA : PQ_PAGE_DATA_V2;
    count_encoding(r, dpt, PQ_ENC_RLE_DICTIONARY, c->pages_dict);
    count_encoding(r, dpt, PQ_ENC_PLAIN, c->pages_plain);
    r->total_uncompressed = uncompressed;
    r->total_compressed = w->pos - start;
    if (!w->o.no_stats) {
        stats_values(c->type, &c->cs, &r->st);
        r->has_stats = true;
    }
}

static void flush_row_group(struct pq_writer *w)
{
    if (!w->rg_rows)
        return;
    for (int i = 0; i < w->ncols; i++)
        flush_page(w, &w->cols[i]);
    if (w->n_rgs == w->cap_rgs) {
        w->cap_rgs = w->cap_rgs ? w->cap_rgs * 2 : 8;
        w->rgs = xrealloc(w->rgs, w->cap_rgs * sizeof *w->rgs);
        w->recs = xrealloc(w->recs, w->cap_rgs * (size_t)w->ncols * sizeof *w->recs);
    }
    struct rg_rec *g = &w->rgs[w->n_rgs];
    struct chunk_rec *recs = &w->recs[w->n_rgs * (size_t)w->ncols];
    g->rows = (int64_t)w->rg_rows;
    g->file_offset = w->pos;
    g->total_byte_size = 0;
    for (int i = 0; i < w->ncols; i++) {
        write_chunk(w, &w->cols[i], &recs[i]);
        g->total_byte_size += recs[i].total_uncompressed;
        col_chunk_reset(&w->cols[i]);
    }
    g->total_compressed = w->pos - g->file_offset;
    w->n_rgs++;
    w->rg_rows = 0;
    w->buffered = 0;
}

int pq_end_row(struct pq_writer *w)
{
    if (w->failed)
        return -1;
    for (int i = 0; i < w->ncols; i++) {
        struct wcol *c = &w->cols[i];
        if (c->rows != w->rg_rows + 1) {
            wfail(w, "row %lld: column '%s' got %s", (long long)w->rows + 1, c->name,
                  c->rows <= w->rg_rows ? "no value" : "more than one value");
            return -1;
        }
    }
    w->rg_rows++;
    w->rows++;
    if (w->rg_rows >= w->o.row_group_rows || w->buffered >= w->o.row_group_bytes)
        flush_row_group(w);
    return w->failed ? -1 : 0;
}

const char *pq_writer_error(const struct pq_writer *w) { return w->failed ? w->err : NULL; }
int64_t pq_writer_rows(const struct pq_writer *w) { return w->rows; }

/* ---- footer and close ---- */

static void fill_meta(struct chunk_rec *r, struct wcol *c, struct pq_column_meta *m)
{
    memset(m, 0, sizeof *m);
    m->type = r->type;
    m->encodings = r->enc;
    m->n_encodings = (uint32_t)r->n_enc;
    m->path = c->path;
    m->n_path = 1;
    m->codec = r->codec;
    m->num_values = r->num_values;
    m->total_uncompressed_size = r->total_uncompressed;
    m->total_compressed_size = r->total_compressed;
    m->data_page_offset = r->data_page_offset;
    m->has_dictionary_page_offset = r->has_dict;
    m->dictionary_page_offset = r->dict_page_offset;
    m->has_stats = r->has_stats;
    if (r->has_stats)
        stats_to_pq(r->type, &r->st, &m->stats);
    m->enc_stats = r->es;
    m->n_enc_stats = (uint32_t)r->n_es;
}

static void write_footer(struct pq_writer *w)
{
    struct pq_file_meta m = {0};
    m.version = 1;
    m.n_schema = (uint32_t)w->ncols + 1;
    m.schema = xcalloc(m.n_schema, sizeof *m.schema);
    m.schema[0].name = "schema";
    m.schema[0].num_children = w->ncols;
    int *orders = xcalloc((size_t)w->ncols, sizeof *orders);
    for (int i = 0; i < w->ncols; i++) {
        struct wcol *c = &w->cols[i];
        struct pq_schema_elem *e = &m.schema[i + 1];
        e->name = c->name;
        e->has_type = true;
        e->type = c->type;
        e->has_repetition = true;
        e->repetition = c->optional ? PQ_OPTIONAL : PQ_REQUIRED;
        if (c->logical == PQ_LT_STRING) {
            e->has_converted = true;
            e->converted = PQ_CT_UTF8;
            e->logical.kind = PQ_LT_STRING;
        } else if (c->logical == PQ_LT_TIMESTAMP) {
            e->has_converted = true;
            e->converted = PQ_CT_TIMESTAMP_MILLIS;
            e->logical.kind = PQ_LT_TIMESTAMP;
            e->logical.utc = true;
            e->logical.unit = PQ_UNIT_MILLIS;
        }
        orders[i] = 1;   /* TYPE_ORDER: how min_value/max_value were computed */
    }
    m.column_orders = orders;
    m.n_column_orders = (uint32_t)w->ncols;
    m.num_rows = w->rows;
    m.n_row_groups = (uint32_t)w->n_rgs;
    m.row_groups = xcalloc(w->n_rgs ? w->n_rgs : 1, sizeof *m.row_groups);
    struct pq_column_chunk *ccs = xcalloc(w->n_rgs * (size_t)w->ncols + 1, sizeof *ccs);
    for (size_t g = 0; g < w->n_rgs; g++) {
        struct pq_row_group *rg = &m.row_groups[g];
        rg->columns = &ccs[g * (size_t)w->ncols];
        rg->n_columns = (uint32_t)w->ncols;
        rg->num_rows = w->rgs[g].rows;
        rg->total_byte_size = w->rgs[g].total_byte_size;
        rg->has_file_offset = true;
        rg->file_offset = w->rgs[g].file_offset;
        rg->has_total_compressed_size = true;
        rg->total_compressed_size = w->rgs[g].total_compressed;
        rg->has_ordinal = g <= INT16_MAX;
        rg->ordinal = (int16_t)g;
        for (int i = 0; i < w->ncols; i++) {
            rg->columns[i].file_offset = 0;   /* no metadata outside the footer */
            rg->columns[i].has_meta = true;
            fill_meta(&w->recs[g * (size_t)w->ncols + (size_t)i], &w->cols[i], &rg->columns[i].meta);
        }
    }
    char *created = w->o.created_by ? NULL : xasprintf("tracekit version %s", TK_VERSION);
    m.created_by = w->o.created_by ? w->o.created_by : created;

    bb_reset(&w->body);
    pqf_encode_file_meta(&w->body, &m);
    out_write(w, w->body.p, w->body.len);
    uint8_t tail[8] = {(uint8_t)w->body.len, (uint8_t)(w->body.len >> 8), (uint8_t)(w->body.len >> 16),
                       (uint8_t)(w->body.len >> 24), 'P', 'A', 'R', '1'};
    out_write(w, tail, 8);
    free(created);
    free(ccs);
    free(m.row_groups);
    free(orders);
    free(m.schema);
}

static void writer_free(struct pq_writer *w)
{
    for (int i = 0; i < w->ncols; i++) {
        struct wcol *c = &w->cols[i];
        free(c->name);
        free(c->defs);
        free(c->idx);
        bb_free(&c->plain);
        bb_free(&c->chunk);
        bb_free(&c->ps.bmin);
        bb_free(&c->ps.bmax);
        bb_free(&c->cs.bmin);
        bb_free(&c->cs.bmax);
        pq_dict_free(&c->dict);
    }
    free(w->cols);
    free(w->recs);
    free(w->rgs);
    free(w->lvtmp);
    bb_free(&w->out);
    bb_free(&w->lv);
    bb_free(&w->vals);
    bb_free(&w->body);
    bb_free(&w->cbuf);
    bb_free(&w->hdr);
    pq_codec_ctx_free(&w->codec);
    free(w->path);
    free(w->tmp);
    free(w);
}

void pq_writer_abort(struct pq_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    writer_free(w);
}

static int sync_dir(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int pq_writer_close(struct pq_writer *w, char *err, size_t errlen)
{
    for (int i = 0; i < w->ncols && !w->failed; i++)
        if (w->cols[i].rows != w->rg_rows)
            wfail(w, "row %lld is incomplete: column '%s' has no value", (long long)w->rows + 1,
                  w->cols[i].name);
    if (!w->failed)
        flush_row_group(w);
    if (!w->failed)
        write_footer(w);
    out_flush(w);
    if (!w->failed && w->o.sync && fsync(w->fd) < 0)
        wfail(w, "cannot sync %s: %s", w->tmp, strerror(errno));
    if (close(w->fd) < 0)
        wfail(w, "cannot write %s: %s", w->tmp, strerror(errno));
    w->fd = -1;
    if (!w->failed && rename(w->tmp, w->path) < 0)
        wfail(w, "cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
    if (!w->failed && w->o.sync && sync_dir(w->path) < 0)
        wfail(w, "cannot sync the folder of %s: %s", w->path, strerror(errno));
    if (w->failed) {
        snprintf(err, errlen, "%s", w->err);
        unlink(w->tmp);
        writer_free(w);
        return -1;
    }
    writer_free(w);
    return 0;
}
