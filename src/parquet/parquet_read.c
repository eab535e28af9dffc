/* parquet_read.c -- the Parquet reader: footer, schema, and one column chunk
 * at a time.  Every size and offset read from the file is checked against the
 * bytes actually there before it is used, and nothing is allocated from a
 * count in the file before that count has been checked. */
#include "common/log.h"
#include "common/util.h"
#include "parquet/parquet.h"
#include "parquet/parquet_codec.h"
#include "parquet/parquet_enc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Limits against absurd (corrupt) sizes. */
#define MAX_FOOTER ((size_t)256 << 20)
#define MAX_PAGE ((size_t)1 << 30)
#define MAX_CHUNK_VALUES ((int64_t)1 << 28)
#define MAX_SCHEMA_DEPTH 64
/* A data page may hold at most this many values, plus PAGE_VALUES_PER_BYTE
 * per byte of its (uncompressed) encoding: RLE runs and dictionaries expand
 * without limit in principle, real writers stop a page at 20 000 values (or
 * 1 MiB) -- a page of 2^26 values in a dozen bytes is a bomb, not data. */
#define PAGE_FREE_VALUES ((size_t)1 << 20)
#define PAGE_VALUES_PER_BYTE ((size_t)8192)
/* Scratch bytes per value of a page while it is decoded: a level, an index,
 * a value pointer and length, a boolean. */
#define SCRATCH_PER_VALUE (sizeof(uint32_t) * 3 + sizeof(void *) + 1)

struct pq_reader {
    int fd;
    char *path;
    int64_t size, footer_start;
    struct pq_file_meta meta;
    struct pq_leaf *leaves;
    int nleaves;
    struct pq_codec_ctx codec;
    uint8_t *chunk;             /* the column chunk's bytes */
    size_t chunk_cap;
    uint8_t *page;              /* a decompressed page */
    size_t page_cap;
    uint64_t budget, spent;     /* bytes: see pq_reader_charge */
};

uint64_t pq_read_budget_default(void)
{
    const char *v = getenv(PQ_BUDGET_ENV);
    int64_t mb;
    if (!v || !*v)   /* unset or empty: the default */
        return PQ_BUDGET_DEFAULT;
    if (parse_i64(v, 1, (int64_t)1 << 30, &mb))
        return (uint64_t)mb << 20;
    static char warned[64];   /* once per value, not once per file opened */
    if (strncmp(warned, v, sizeof warned - 1)) {
        snprintf(warned, sizeof warned, "%s", v);
        log_warn("ignoring %s='%s': expected a whole number of MiB from 1 to %lld; using the "
                 "default of %llu MiB", PQ_BUDGET_ENV, v, (long long)1 << 30,
                 (unsigned long long)(PQ_BUDGET_DEFAULT >> 20));
    }
    return PQ_BUDGET_DEFAULT;
}

/* The budget message: what needed how much, and how to raise it. */
static int over_budget(const struct pq_reader *r, uint64_t need, const char *what, char *err,
                       size_t errlen)
{
    return errf(err, errlen, "%s needs %.1f MiB, beyond the %llu MiB this file may use (%.1f MiB "
                "used so far); a corrupt or hostile file, or set %s=MiB to read a larger one", what,
                (double)need / (1 << 20), (unsigned long long)(r->budget >> 20),
                (double)r->spent / (1 << 20), PQ_BUDGET_ENV);
}

/* Could 'need' more bytes be spent (without spending them)? */
static bool affordable(const struct pq_reader *r, uint64_t need)
{
    return r->spent <= r->budget && need <= r->budget - r->spent;
}

int pq_reader_charge(struct pq_reader *r, uint64_t bytes, const char *what, char *err, size_t errlen)
{
    if (!affordable(r, bytes))
        return over_budget(r, bytes, what, err, errlen);
    r->spent += bytes;
    return 0;
}

void pq_reader_set_budget(struct pq_reader *r, uint64_t bytes) { r->budget = bytes; }

/* Charge 'bytes' for column c: spent until pq_reader_release(r, c). */
static int column_charge(struct pq_reader *r, struct pq_column *c, uint64_t bytes, const char *what,
                         char *err, size_t errlen)
{
    if (pq_reader_charge(r, bytes, what, err, errlen) < 0)
        return -1;
    c->charged += bytes;
    return 0;
}

static int read_at(int fd, void *buf, size_t n, int64_t off)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (k == 0) {
            errno = EIO;   /* the file shrank under us */
            return -1;
        }
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

static uint32_t u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- schema ---- */

struct walk {
    struct pq_reader *r;
    uint32_t i;
    char *err;
    size_t errlen;
    int cap;
};

static int walk(struct walk *k, const char *prefix, int depth, int def, int rep)
{
    const struct pq_file_meta *m = &k->r->meta;
    if (k->i >= m->n_schema)
        return errf(k->err, k->errlen, "corrupt schema: fewer elements than its groups declare");
    if (depth > MAX_SCHEMA_DEPTH)
        return errf(k->err, k->errlen, "corrupt schema: nested too deeply");
    const struct pq_schema_elem *e = &m->schema[k->i++];
    if (!e->name)
        return errf(k->err, k->errlen, "corrupt schema: element without a name");
    int repetition = e->has_repetition ? e->repetition : PQ_REQUIRED;
    if (repetition == PQ_OPTIONAL)
        def++;
    else if (repetition == PQ_REPEATED)
        def++, rep++;
    else if (repetition != PQ_REQUIRED)
        return errf(k->err, k->errlen, "schema element '%s': unsupported repetition %d", e->name,
                    repetition);
    char *name = prefix ? xasprintf("%s.%s", prefix, e->name) : xstrdup(e->name);
    if (e->num_children < 0) {
        free(name);
        return errf(k->err, k->errlen, "corrupt schema: '%s' has %d children", e->name, e->num_children);
    }
    if (e->num_children > 0) {
        for (int32_t c = 0; c < e->num_children; c++)
            if (walk(k, name, depth + 1, def, rep) < 0) {
                free(name);
                return -1;
            }
        free(name);
        return 0;
    }
    if (!e->has_type || e->type < PQ_BOOLEAN || e->type > PQ_FIXED_LEN_BYTE_ARRAY) {
        if (e->has_type)
            errf(k->err, k->errlen, "column '%s': unknown physical type %d", name, e->type);
        else
            errf(k->err, k->errlen, "column '%s': leaf without a physical type", name);
        free(name);
        return -1;
    }
    if (e->type == PQ_FIXED_LEN_BYTE_ARRAY && (e->type_length <= 0 || e->type_length > (1 << 20))) {
        errf(k->err, k->errlen, "column '%s': bad FIXED_LEN_BYTE_ARRAY length %d", name, e->type_length);
        free(name);
        return -1;
    }
    if (k->r->nleaves == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->r->leaves = xrealloc(k->r->leaves, (size_t)k->cap * sizeof *k->r->leaves);
    }
    struct pq_leaf *l = &k->r->leaves[k->r->nleaves++];
    memset(l, 0, sizeof *l);
    l->name = name;
    l->type = e->type;
    l->type_length = e->type == PQ_INT96 ? 12 : e->type_length;
    l->repetition = repetition;
    l->max_def = def;
    l->max_rep = rep;
    l->has_converted = e->has_converted;
    l->converted = e->converted;
    l->logical = e->logical;
    return 0;
}

static int check_layout(struct pq_reader *r, char *err, size_t errlen)
{
    const struct pq_file_meta *m = &r->meta;
    if (m->n_schema < 1)
        return errf(err, errlen, "corrupt footer: empty schema");
    struct walk k = {.r = r, .i = 1, .err = err, .errlen = errlen};
    for (int32_t c = 0; c < m->schema[0].num_children; c++)
        if (walk(&k, NULL, 1, 0, 0) < 0)
            return -1;
    if (k.i != m->n_schema)
        return errf(err, errlen, "corrupt schema: %u elements, the tree uses %u", m->n_schema, k.i);
    if (m->num_rows < 0)
        return errf(err, errlen, "corrupt footer: %lld rows", (long long)m->num_rows);

    int64_t rows = 0;
    for (uint32_t g = 0; g < m->n_row_groups; g++) {
        const struct pq_row_group *rg = &m->row_groups[g];
        if (rg->num_rows < 0 || rg->num_rows > MAX_CHUNK_VALUES)
            return errf(err, errlen, "row group %u: bad row count %lld", g, (long long)rg->num_rows);
        rows += rg->num_rows;
        if ((int)rg->n_columns != r->nleaves)
            return errf(err, errlen, "row group %u has %u column chunks, the schema %d columns", g,
                        rg->n_columns, r->nleaves);
        for (int c = 0; c < r->nleaves; c++) {
            const struct pq_column_chunk *cc = &rg->columns[c];
            const struct pq_leaf *l = &r->leaves[c];
            if (cc->file_path)
                return errf(err, errlen, "column '%s': data in another file (%s) is not supported",
                            l->name, cc->file_path);
            if (!cc->has_meta)
                return errf(err, errlen, "row group %u, column '%s': no column metadata", g, l->name);
            const struct pq_column_meta *cm = &cc->meta;
            if (cm->type != l->type)
                return errf(err, errlen, "row group %u, column '%s': chunk type %s, schema type %s", g,
                            l->name, pq_type_name(cm->type), pq_type_name(l->type));
            /* path_in_schema must name this leaf. */
            size_t pos = 0, len = strlen(l->name);
            bool same = cm->n_path > 0;
            for (uint32_t p = 0; p < cm->n_path && same; p++) {
                size_t n = strlen(cm->path[p]);
                if (pos + n > len || memcmp(l->name + pos, cm->path[p], n) != 0)
                    same = false;
                pos += n;
                if (same && p + 1 < cm->n_path && l->name[pos++] != '.')
                    same = false;
            }
            if (!same || pos != len)
                return errf(err, errlen, "row group %u: column chunk %d does not belong to column '%s'",
                            g, c, l->name);
            if (cm->num_values < 0 || cm->total_compressed_size < 0 || cm->data_page_offset < 4)
                return errf(err, errlen, "row group %u, column '%s': bad sizes or offsets", g, l->name);
        }
    }
    if (rows != m->num_rows)
        return errf(err, errlen, "corrupt footer: row groups hold %lld rows, the file says %lld",
                    (long long)rows, (long long)m->num_rows);
    return 0;
}

struct pq_reader *pq_reader_open(const char *path, char *err, size_t errlen)
{
    struct pq_reader *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(path);
    r->budget = pq_read_budget_default();
    /* A regular file only, never through a symlink: a FIFO planted in an
     * OpenDC output folder would block the read for ever, a link would
     * read outside it (docs/security.md). */
    r->fd = open_regular(path);
    struct stat st;
    uint8_t tail[8], head[4];
    char msg[400];
    if (r->fd < 0 || fstat(r->fd, &st) < 0) {
        errf(err, errlen, "cannot open %s: %s", path, open_strerror(errno));
        goto fail;
    }
    r->size = st.st_size;
    if (r->size < 12) {
        errf(err, errlen, "%s: not a Parquet file (%lld bytes)", path, (long long)r->size);
        goto fail;
    }
    if (read_at(r->fd, head, 4, 0) < 0 || read_at(r->fd, tail, 8, r->size - 8) < 0) {
        errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!memcmp(tail + 4, "PARE", 4)) {
        errf(err, errlen, "%s: encrypted Parquet files are not supported", path);
        goto fail;
    }
    if (memcmp(head, "PAR1", 4) || memcmp(tail + 4, "PAR1", 4)) {
        errf(err, errlen, "%s: not a Parquet file (no PAR1 magic)", path);
        goto fail;
    }
    uint32_t flen = u32le(tail);
    if (flen == 0 || flen > (uint64_t)r->size - 12 || flen > MAX_FOOTER) {
        errf(err, errlen, "%s: corrupt footer length %u", path, flen);
        goto fail;
    }
    r->footer_start = r->size - 8 - flen;
    /* The footer's bytes, then its decoded lists: held to what the budget
     * has left (and PQF_FOOTER_EXPANSION times the footer), charged at the
     * size they took. */
    char what[64];
    snprintf(what, sizeof what, "its footer of %u bytes", flen);
    if (pq_reader_charge(r, flen, what, msg, sizeof msg) < 0) {
        errf(err, errlen, "%s: %s", path, msg);
        goto fail;
    }
    uint8_t *footer = xmalloc(flen);
    if (read_at(r->fd, footer, flen, r->footer_start) < 0) {
        errf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        free(footer);
        goto fail;
    }
    uint64_t left = r->budget - r->spent;
    int rc = pqf_decode_file_meta_max(footer, flen, left ? (size_t)left : 1, &r->meta, msg, sizeof msg);
    free(footer);
    if (rc < 0) {
        errf(err, errlen, "%s: %s%s", path, msg, strstr(msg, "memory budget") ? "; set "
             PQ_BUDGET_ENV "=MiB to read a larger one" : "");
        goto fail;
    }
    r->spent += pqf_file_meta_bytes(&r->meta);   /* lists within 'left', strings within flen */
    if (check_layout(r, msg, sizeof msg) < 0) {
        errf(err, errlen, "%s: %s", path, msg);
        goto fail;
    }
    return r;
fail:
    pq_reader_close(r);
    return NULL;
}

void pq_reader_close(struct pq_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    for (int i = 0; i < r->nleaves; i++)
        free((char *)r->leaves[i].name);
    free(r->leaves);
    pqf_file_meta_free(&r->meta);
    pq_codec_ctx_free(&r->codec);
    free(r->chunk);
    free(r->page);
    free(r->path);
    free(r);
}

const struct pq_file_meta *pq_reader_meta(const struct pq_reader *r) { return &r->meta; }
int pq_reader_nleaves(const struct pq_reader *r) { return r->nleaves; }
int64_t pq_reader_num_rows(const struct pq_reader *r) { return r->meta.num_rows; }
int pq_reader_num_row_groups(const struct pq_reader *r) { return (int)r->meta.n_row_groups; }

const struct pq_leaf *pq_reader_leaf(const struct pq_reader *r, int i)
{
    return i >= 0 && i < r->nleaves ? &r->leaves[i] : NULL;
}

int pq_reader_find(const struct pq_reader *r, const char *name)
{
    for (int i = 0; i < r->nleaves; i++)
        if (!strcmp(r->leaves[i].name, name))
            return i;
    return -1;
}

int64_t pq_reader_row_group_rows(const struct pq_reader *r, int rg)
{
    return rg >= 0 && rg < (int)r->meta.n_row_groups ? r->meta.row_groups[rg].num_rows : -1;
}

void pq_column_free(struct pq_column *c)
{
    free(c->valid);
    free(c->v.any);
    free(c->off);
    free(c->data);
    memset(c, 0, sizeof *c);
}

void pq_reader_release(struct pq_reader *r, struct pq_column *c)
{
    r->spent -= c->charged <= r->spent ? c->charged : r->spent;
    pq_column_free(c);
}

/* ---- decoding a column chunk ---- */

/* Bytes per value in the output's dense array (0: byte-array output). */
static int out_width(int type)
{
    switch (type) {
    case PQ_BOOLEAN: return 1;
    case PQ_INT32: case PQ_FLOAT: return 4;
    case PQ_INT64: case PQ_DOUBLE: return 8;
    default: return 0;
    }
}

/* Bytes per PLAIN value for fixed-size types (0: length-prefixed, -1: bits). */
static int plain_width(const struct pq_leaf *l)
{
    switch (l->type) {
    case PQ_BOOLEAN: return -1;
    case PQ_BYTE_ARRAY: return 0;
    case PQ_INT32: case PQ_FLOAT: return 4;
    case PQ_INT64: case PQ_DOUBLE: return 8;
    default: return l->type_length;   /* INT96 (12), FIXED_LEN_BYTE_ARRAY */
    }
}

struct dict {
    bool present;
    size_t n;
    uint8_t *buf;               /* the decompressed dictionary page */
    const uint8_t **ptr;        /* entry i (fixed: buf + i * width) */
    uint32_t *len;
};

static void dict_free(struct dict *d)
{
    free(d->buf);
    free(d->ptr);
    free(d->len);
    memset(d, 0, sizeof *d);
}

/* State while decoding one chunk. */
struct cdec {
    struct pq_reader *r;
    const struct pq_leaf *l;
    struct pq_column *out;
    size_t total;               /* values in the chunk */
    size_t cap, data_cap;
    struct dict dict;
    uint32_t *levels, *idx;     /* scratch */
    size_t levels_cap, idx_cap;
    const uint8_t **vp;         /* scratch: non-null value pointers/lengths of a page */
    uint32_t *vl;
    size_t v_cap;
    uint64_t page_bytes;        /* sum of vl[] for byte-array output (page_values) */
    uint8_t *bools;
    size_t bools_cap;
    int64_t *delta;             /* scratch: DELTA_* integers (values, lengths, prefixes) */
    size_t delta_cap;
    uint8_t *dvals;             /* scratch: DELTA_BINARY_PACKED values, DELTA_BYTE_ARRAY strings */
    size_t dvals_cap;
    char *err;
    size_t errlen;
};

static void *grow_to(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    *cap = n;
    return xrealloc(p, n * elem);
}

static void out_reserve(struct cdec *d, size_t more)
{
    struct pq_column *c = d->out;
    size_t need = c->n + more;
    if (need <= d->cap)
        return;
    size_t cap = d->cap;
    size_t n = cap ? cap : 1024;
    while (n < need)
        n *= 2;
    if (n > d->total && need <= d->total)
        n = d->total;   /* exactly what was charged to the budget, no more */
    int w = out_width(c->type);
    if (w)
        c->v.any = xrealloc(c->v.any, n * (size_t)w);
    else
        c->off = xrealloc(c->off, (n + 1) * sizeof *c->off);
    if (d->l->max_def > 0)
        c->valid = xrealloc(c->valid, n);
    d->cap = n;
}

/* ---- the DELTA encodings (parquet-java's v2 writer, OpenDC's output) ---- */

static bool uleb(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (int sh = 0; sh < 64 && *pos < len; sh += 7) {
        uint8_t b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

static bool zigzag(const uint8_t *p, size_t len, size_t *pos, int64_t *v)
{
    uint64_t u;
    if (!uleb(p, len, pos, &u))
        return false;
    *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    return true;
}

/* DELTA_BINARY_PACKED: n values into out (wrapping 64-bit sums; an INT32
 * column's values are their low 32 bits, as the writer's int arithmetic
 * wraps); *used = the bytes it took (what follows is the next part of a
 * DELTA_(LENGTH_)BYTE_ARRAY page).  0, or -1 with d->err. */
static int delta_ints(struct cdec *d, const uint8_t *p, size_t len, size_t n, int64_t *out, size_t *used)
{
    size_t pos = 0;
    uint64_t block, nmini, total;
    int64_t first;
    if (!uleb(p, len, &pos, &block) || !uleb(p, len, &pos, &nmini) || !uleb(p, len, &pos, &total) ||
        !zigzag(p, len, &pos, &first))
        return errf(d->err, d->errlen, "truncated DELTA_BINARY_PACKED header");
    if (!block || block % 128 || block > 65536 || !nmini || block % nmini || (block / nmini) % 32 ||
        nmini > block)
        return errf(d->err, d->errlen, "bad DELTA_BINARY_PACKED block of %llu values in %llu miniblocks",
                    (unsigned long long)block, (unsigned long long)nmini);
    if (total < n)
        return errf(d->err, d->errlen, "DELTA_BINARY_PACKED holds %llu values, the page needs %zu",
                    (unsigned long long)total, n);
    size_t per = (size_t)(block / nmini), k = 0;
    uint64_t cur = (uint64_t)first;
    if (n)
        out[k++] = first;
    while (k < n) {
        int64_t mind;
        if (!zigzag(p, len, &pos, &mind) || len - pos < nmini)
            return errf(d->err, d->errlen, "truncated DELTA_BINARY_PACKED block");
        const uint8_t *widths = p + pos;
        pos += (size_t)nmini;
        for (size_t m = 0; m < nmini && k < n; m++) {
            unsigned bw = widths[m];
            if (bw > 64)
                return errf(d->err, d->errlen, "DELTA_BINARY_PACKED bit width %u", bw);
            size_t take = n - k < per ? n - k : per, bytes = per * bw / 8;
            if ((take * bw + 7) / 8 > len - pos)
                return errf(d->err, d->errlen, "truncated DELTA_BINARY_PACKED miniblock");
            for (size_t i = 0; i < take; i++) {
                uint64_t v = 0;
                size_t bit = i * bw;
                for (unsigned b = 0; b < bw; b++, bit++)
                    v |= (uint64_t)(p[pos + bit / 8] >> (bit % 8) & 1) << b;
                cur += (uint64_t)mind + v;
                out[k++] = (int64_t)cur;
            }
            pos += bytes < len - pos ? bytes : len - pos;
        }
    }
    *used = pos;
    return 0;
}

static int delta_scratch(struct cdec *d, size_t n, uint64_t bytes)
{
    if (!affordable(d->r, (uint64_t)n * sizeof *d->delta * 2 + bytes))
        return over_budget(d->r, (uint64_t)n * sizeof *d->delta * 2 + bytes, "a DELTA-encoded page", d->err,
                           d->errlen);
    d->delta = grow_to(d->delta, &d->delta_cap, 2 * n + 1, sizeof *d->delta);
    d->dvals = grow_to(d->dvals, &d->dvals_cap, (size_t)bytes + 1, 1);
    return 0;
}

/* DELTA_BINARY_PACKED values of an INT32/INT64 column. */
static int delta_fixed(struct cdec *d, const uint8_t *p, size_t len, size_t n)
{
    int w = d->l->type == PQ_INT32 ? 4 : d->l->type == PQ_INT64 ? 8 : 0;
    size_t used;
    if (!w)
        return errf(d->err, d->errlen, "DELTA_BINARY_PACKED on a %s column", pq_type_name(d->l->type));
    if (delta_scratch(d, n, (uint64_t)n * 8) < 0 || delta_ints(d, p, len, n, d->delta, &used) < 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        uint8_t *dst = d->dvals + k * (size_t)w;
        if (w == 4) {
            int32_t v = (int32_t)(uint32_t)(uint64_t)d->delta[k];
            memcpy(dst, &v, 4);
        } else {
            memcpy(dst, &d->delta[k], 8);
        }
        d->vp[k] = dst;
        d->vl[k] = (uint32_t)w;
    }
    d->page_bytes = (uint64_t)n * (uint64_t)w;
    return 0;
}

/* DELTA_LENGTH_BYTE_ARRAY (lengths, then the bytes) and DELTA_BYTE_ARRAY
 * (prefix lengths, then the suffixes as DELTA_LENGTH_BYTE_ARRAY; value k is
 * the first prefix[k] bytes of value k-1 and its suffix). */
static int delta_bytes(struct cdec *d, int enc, const uint8_t *p, size_t len, size_t n)
{
    if (d->l->type != PQ_BYTE_ARRAY)
        return errf(d->err, d->errlen, "%s on a %s column", pq_encoding_name(enc), pq_type_name(d->l->type));
    size_t used = 0, pos = 0;
    if (delta_scratch(d, n, 0) < 0)
        return -1;
    int64_t *pre = d->delta + n, *sl = d->delta;
    if (enc == PQ_ENC_DELTA_BYTE_ARRAY) {
        if (delta_ints(d, p, len, n, pre, &used) < 0)
            return -1;
        pos = used;
    }
    if (delta_ints(d, p + pos, len - pos, n, sl, &used) < 0)
        return -1;
    pos += used;
    uint64_t sum = 0, out = 0, prev = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t pk = enc == PQ_ENC_DELTA_BYTE_ARRAY ? (uint64_t)pre[k] : 0;
        if (sl[k] < 0 || (uint64_t)sl[k] > len - pos - sum || pk > prev || (k == 0 && pk))
            return errf(d->err, d->errlen, "%s value %zu: bad length or prefix", pq_encoding_name(enc), k);
        sum += (uint64_t)sl[k];
        prev = pk + (uint64_t)sl[k];
        if (prev > UINT32_MAX)
            return errf(d->err, d->errlen, "%s value %zu is too long", pq_encoding_name(enc), k);
        out += prev;
    }
    if (enc == PQ_ENC_DELTA_LENGTH_BYTE_ARRAY) {   /* the values are in the page */
        for (size_t k = 0; k < n; k++) {
            d->vp[k] = p + pos;
            d->vl[k] = (uint32_t)sl[k];
            pos += (size_t)sl[k];
        }
        d->page_bytes = sum;
        return 0;
    }
    if (delta_scratch(d, n, out) < 0)   /* the prefixes repeat bytes: charge them before */
        return -1;
    pre = d->delta + n;
    sl = d->delta;
    uint8_t *at = d->dvals;
    const uint8_t *last = at;
    for (size_t k = 0; k < n; k++) {
        size_t pk = (size_t)pre[k], s = (size_t)sl[k];
        memmove(at, last, pk);
        memcpy(at + pk, p + pos, s);
        pos += s;
        d->vp[k] = at;
        d->vl[k] = (uint32_t)(pk + s);
        last = at;
        at += pk + s;
    }
    d->page_bytes = out;
    return 0;
}

/* Gather the page's non-null values as (pointer, length) pairs. */
static int page_values(struct cdec *d, int enc, const uint8_t *p, size_t len, size_t nonnull)
{
    const struct pq_leaf *l = d->l;
    int pw = plain_width(l);
    d->page_bytes = 0;
    if (nonnull == 0)
        return 0;
    if (nonnull > d->v_cap) {
        size_t cap = d->v_cap;
        d->vp = grow_to(d->vp, &cap, nonnull, sizeof *d->vp);
        d->vl = xrealloc(d->vl, cap * sizeof *d->vl);
        d->v_cap = cap;
    }
    switch (enc) {
    case PQ_ENC_PLAIN:
        if (pw > 0) {
            if ((uint64_t)nonnull * (uint64_t)pw > len)
                return errf(d->err, d->errlen, "PLAIN page holds %zu bytes, %zu values need %llu", len,
                            nonnull, (unsigned long long)nonnull * (unsigned)pw);
            for (size_t k = 0; k < nonnull; k++) {
                d->vp[k] = p + k * (size_t)pw;
                d->vl[k] = (uint32_t)pw;
            }
            d->page_bytes = (uint64_t)nonnull * (uint64_t)pw;
        } else if (pw == 0) {
            size_t pos = 0;
            for (size_t k = 0; k < nonnull; k++) {
                if (len - pos < 4)
                    return errf(d->err, d->errlen, "PLAIN page ends after %zu of %zu values", k, nonnull);
                uint32_t n = u32le(p + pos);
                pos += 4;
                if (n > len - pos)
                    return errf(d->err, d->errlen, "value %zu: length %u beyond the page", k, n);
                d->vp[k] = p + pos;
                d->vl[k] = n;
                pos += n;
            }
            d->page_bytes = pos - 4 * (uint64_t)nonnull;
        } else {   /* booleans: bits, LSB first */
            if ((nonnull + 7) / 8 > len)
                return errf(d->err, d->errlen, "PLAIN boolean page too short");
            d->bools = grow_to(d->bools, &d->bools_cap, nonnull, 1);
            for (size_t k = 0; k < nonnull; k++) {
                d->bools[k] = p[k / 8] >> (k % 8) & 1;
                d->vp[k] = &d->bools[k];
                d->vl[k] = 1;
            }
        }
        return 0;
    case PQ_ENC_RLE: {   /* booleans only; always length-prefixed */
        if (pw != -1)
            return errf(d->err, d->errlen, "RLE encoding on a %s column", pq_type_name(l->type));
        if (len < 4 || u32le(p) > len - 4)
            return errf(d->err, d->errlen, "bad RLE boolean data length");
        d->idx = grow_to(d->idx, &d->idx_cap, nonnull, sizeof *d->idx);
        if (pq_rle_decode(p + 4, u32le(p), 1, d->idx, nonnull) < 0)
            return errf(d->err, d->errlen, "corrupt RLE boolean data");
        d->bools = grow_to(d->bools, &d->bools_cap, nonnull, 1);
        for (size_t k = 0; k < nonnull; k++) {
            d->bools[k] = (uint8_t)d->idx[k];
            d->vp[k] = &d->bools[k];
            d->vl[k] = 1;
        }
        return 0;
    }
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY: {
        if (!d->dict.present)
            return errf(d->err, d->errlen, "dictionary-encoded page without a dictionary page");
        if (len < 1 || p[0] > 32)
            return errf(d->err, d->errlen, "bad dictionary index bit width");
        d->idx = grow_to(d->idx, &d->idx_cap, nonnull, sizeof *d->idx);
        if (pq_rle_decode(p + 1, len - 1, p[0], d->idx, nonnull) < 0)
            return errf(d->err, d->errlen, "corrupt dictionary indices");
        uint64_t sum = 0;   /* a local: d->page_bytes would be stored per value */
        for (size_t k = 0; k < nonnull; k++) {
            uint32_t i = d->idx[k];
            if (i >= d->dict.n)
                return errf(d->err, d->errlen, "dictionary index %u out of range (%zu entries)", i,
                            d->dict.n);
            d->vp[k] = d->dict.ptr[i];
            d->vl[k] = d->dict.len[i];
            sum += d->dict.len[i];
        }
        d->page_bytes = sum;
        return 0;
    }
    case PQ_ENC_DELTA_BINARY_PACKED:
        return delta_fixed(d, p, len, nonnull);
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY:
    case PQ_ENC_DELTA_BYTE_ARRAY:
        return delta_bytes(d, enc, p, len, nonnull);
    default:
        return errf(d->err, d->errlen, "unsupported encoding %s", pq_encoding_name(enc));
    }
}

/* Append nv values (levels in d->levels when the column has them). */
static void scatter(struct cdec *d, size_t nv, bool has_levels)
{
    struct pq_column *c = d->out;
    const uint32_t max_def = (uint32_t)d->l->max_def;
    int w = out_width(c->type);
    out_reserve(d, nv);
    size_t k = 0;
    for (size_t i = 0; i < nv; i++) {
        size_t at = c->n + i;
        bool present = !has_levels || d->levels[i] == max_def;
        if (c->valid)
            c->valid[at] = present;
        if (w) {
            uint8_t *dst = (uint8_t *)c->v.any + at * (size_t)w;
            if (present) {
                memcpy(dst, d->vp[k], (size_t)w);
                k++;
            } else {
                memset(dst, 0, (size_t)w);
            }
        } else {
            uint64_t o = c->off[at];
            if (present) {
                size_t n = d->vl[k];
                if (n)
                    memcpy(c->data + o, d->vp[k], n);   /* reserved by charge_bytes */
                o += n;
                k++;
            }
            c->off[at + 1] = o;
        }
        if (!present)
            c->nulls++;
    }
    c->n += nv;
}

/* Definition levels -> d->levels; returns the non-null count or -1. */
static long levels(struct cdec *d, int enc, const uint8_t *p, size_t len, size_t nv)
{
    int bw = pq_bit_width((uint32_t)d->l->max_def);
    d->levels = grow_to(d->levels, &d->levels_cap, nv, sizeof *d->levels);
    if (enc == PQ_ENC_RLE) {
        if (pq_rle_decode(p, len, bw, d->levels, nv) < 0)
            return errf(d->err, d->errlen, "corrupt definition levels");
    } else if (enc == PQ_ENC_BIT_PACKED) {   /* deprecated: MSB first */
        if (((uint64_t)nv * (uint64_t)bw + 7) / 8 > len)
            return errf(d->err, d->errlen, "definition levels too short");
        for (size_t i = 0; i < nv; i++) {
            uint32_t v = 0;
            for (int b = 0; b < bw; b++) {
                size_t bit = i * (size_t)bw + (size_t)b;
                v = v << 1 | (uint32_t)(p[bit / 8] >> (7 - bit % 8) & 1);
            }
            d->levels[i] = v;
        }
    } else {
        return errf(d->err, d->errlen, "unsupported definition level encoding %s",
                    pq_encoding_name(enc));
    }
    long nonnull = 0;
    for (size_t i = 0; i < nv; i++) {
        if (d->levels[i] > (uint32_t)d->l->max_def)
            return errf(d->err, d->errlen, "definition level %u above the maximum %d", d->levels[i],
                        d->l->max_def);
        nonnull += d->levels[i] == (uint32_t)d->l->max_def;
    }
    return nonnull;
}

/* Decompress a page body into the reader's page buffer. */
static const uint8_t *inflate_page(struct cdec *d, int codec, const uint8_t *p, size_t n, size_t ulen)
{
    if (ulen > MAX_PAGE) {
        errf(d->err, d->errlen, "page of %zu bytes is too large", ulen);
        return NULL;
    }
    if (codec == PQ_CODEC_UNCOMPRESSED) {
        if (n != ulen) {
            errf(d->err, d->errlen, "uncompressed page of %zu bytes, header says %zu", n, ulen);
            return NULL;
        }
        return p;
    }
    struct pq_reader *r = d->r;
    char msg[200];
    /* Check before allocating what the header claims. */
    if (!pq_decompressed_size_plausible(codec, p, n, ulen)) {
        errf(d->err, d->errlen, "%s page does not decompress to the %zu bytes its header says",
             pq_codec_name(codec), ulen);
        return NULL;
    }
    r->page = grow_to(r->page, &r->page_cap, ulen + 1, 1);
    if (pq_decompress(&r->codec, codec, p, n, r->page, ulen, msg, sizeof msg) < 0) {
        errf(d->err, d->errlen, "%s", msg);
        return NULL;
    }
    return r->page;
}

/* Before decoding a data page of nv values whose encoding (uncompressed)
 * takes ulen bytes: is the claim plausible, and is there budget for the
 * page buffer and the scratch arrays? */
static int check_page_claim(struct cdec *d, size_t nv, size_t ulen)
{
    uint64_t most = PAGE_FREE_VALUES + (uint64_t)ulen * PAGE_VALUES_PER_BYTE;
    if (nv > most)
        return errf(d->err, d->errlen, "a data page claims %zu values in %zu bytes (at most %llu "
                    "expected): corrupt or a decompression bomb", nv, ulen, (unsigned long long)most);
    uint64_t need = (uint64_t)nv * SCRATCH_PER_VALUE + ulen;
    if (!affordable(d->r, need)) {
        char what[96];
        snprintf(what, sizeof what, "a data page of %zu values", nv);
        return over_budget(d->r, need, what, d->err, d->errlen);
    }
    return 0;
}

/* Charge the byte-array values of a page (copied into the output) to the
 * budget, and reserve room for them: dictionary entries repeat, so these can
 * be far more bytes than the page. */
static int charge_bytes(struct cdec *d, size_t nonnull)
{
    if (out_width(d->l->type))
        return 0;
    uint64_t sum = d->page_bytes;
    char what[96];
    snprintf(what, sizeof what, "%zu byte-array values of %llu bytes", nonnull,
             (unsigned long long)sum);
    if (column_charge(d->r, d->out, sum, what, d->err, d->errlen) < 0)
        return -1;
    if (sum) {
        struct pq_column *c = d->out;
        c->data = grow_to(c->data, &d->data_cap, (size_t)(c->off[c->n] + sum), 1);
    }
    return 0;
}

static int read_dict(struct cdec *d, const struct pq_page_header *h, const uint8_t *body, int codec)
{
    const struct pq_leaf *l = d->l;
    if (d->dict.present)
        return errf(d->err, d->errlen, "second dictionary page");
    if (d->out->n)
        return errf(d->err, d->errlen, "dictionary page after data pages");
    if (!h->has_dict || h->dict.num_values < 0)
        return errf(d->err, d->errlen, "dictionary page without a valid header");
    if (h->dict.encoding != PQ_ENC_PLAIN && h->dict.encoding != PQ_ENC_PLAIN_DICTIONARY)
        return errf(d->err, d->errlen, "unsupported dictionary encoding %s",
                    pq_encoding_name(h->dict.encoding));
    int pw = plain_width(l);
    if (pw < 0)
        return errf(d->err, d->errlen, "dictionary page for a BOOLEAN column");
    size_t ulen = (size_t)h->uncompressed_page_size;
    size_t n = (size_t)h->dict.num_values;
    uint64_t need = (uint64_t)ulen * 2 + (uint64_t)n * (sizeof *d->dict.ptr + sizeof *d->dict.len);
    if (!affordable(d->r, need)) {
        char what[96];
        snprintf(what, sizeof what, "a dictionary page of %zu entries in %zu bytes", n, ulen);
        return over_budget(d->r, need, what, d->err, d->errlen);
    }
    const uint8_t *p = inflate_page(d, codec, body, (size_t)h->compressed_page_size, ulen);
    if (!p)
        return -1;
    /* Each entry takes at least one byte (4 for byte arrays), so this bounds n. */
    if ((pw > 0 && (uint64_t)n * (uint64_t)pw > ulen) || (pw == 0 && (uint64_t)n * 4 > ulen))
        return errf(d->err, d->errlen, "dictionary page too short for %zu entries", n);
    d->dict.buf = xmalloc(ulen + 1);
    memcpy(d->dict.buf, p, ulen);
    d->dict.ptr = xmalloc((n ? n : 1) * sizeof *d->dict.ptr);
    d->dict.len = xmalloc((n ? n : 1) * sizeof *d->dict.len);
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (pw > 0) {
            d->dict.ptr[i] = d->dict.buf + i * (size_t)pw;
            d->dict.len[i] = (uint32_t)pw;
            continue;
        }
        if (ulen - pos < 4)
            return errf(d->err, d->errlen, "dictionary page ends after %zu of %zu entries", i, n);
        uint32_t len = u32le(d->dict.buf + pos);
        pos += 4;
        if (len > ulen - pos)
            return errf(d->err, d->errlen, "dictionary entry %zu longer than the page", i);
        d->dict.ptr[i] = d->dict.buf + pos;
        d->dict.len[i] = len;
        pos += len;
    }
    d->dict.n = n;
    d->dict.present = true;
    d->out->dict_page = true;
    return 0;
}

static int read_data_v1(struct cdec *d, const struct pq_page_header *h, const uint8_t *body, int codec,
                        size_t nv)
{
    size_t ulen = (size_t)h->uncompressed_page_size;
    if (check_page_claim(d, nv, ulen) < 0)
        return -1;
    const uint8_t *p = inflate_page(d, codec, body, (size_t)h->compressed_page_size, ulen);
    if (!p)
        return -1;
    size_t pos = 0;
    long nonnull = (long)nv;
    if (d->l->max_def > 0) {
        size_t len;
        if (h->v1.def_encoding == PQ_ENC_RLE) {
            if (ulen < 4 || u32le(p) > ulen - 4)
                return errf(d->err, d->errlen, "bad definition levels length");
            len = u32le(p);
            pos = 4;
        } else {
            len = ulen;
        }
        nonnull = levels(d, h->v1.def_encoding, p + pos, len, nv);
        if (nonnull < 0)
            return -1;
        if (h->v1.def_encoding == PQ_ENC_BIT_PACKED)
            len = (nv * (size_t)pq_bit_width((uint32_t)d->l->max_def) + 7) / 8;
        pos += len;
    }
    if (page_values(d, h->v1.encoding, p + pos, ulen - pos, (size_t)nonnull) < 0 ||
        charge_bytes(d, (size_t)nonnull) < 0)
        return -1;
    d->out->encodings |= 1u << (h->v1.encoding & 31);
    scatter(d, nv, d->l->max_def > 0);
    return 0;
}

static int read_data_v2(struct cdec *d, const struct pq_page_header *h, const uint8_t *body, int codec,
                        size_t nv)
{
    size_t clen = (size_t)h->compressed_page_size, ulen = (size_t)h->uncompressed_page_size;
    if (h->v2.def_len < 0 || h->v2.rep_len < 0 || h->v2.num_nulls < 0 ||
        (size_t)h->v2.def_len + (size_t)h->v2.rep_len > clen ||
        (size_t)h->v2.def_len + (size_t)h->v2.rep_len > ulen)
        return errf(d->err, d->errlen, "bad level lengths in a v2 page header");
    if (check_page_claim(d, nv, ulen) < 0)
        return -1;
    size_t lv = (size_t)h->v2.rep_len + (size_t)h->v2.def_len;
    long nonnull = (long)nv;
    if (d->l->max_def > 0) {
        nonnull = levels(d, PQ_ENC_RLE, body + h->v2.rep_len, (size_t)h->v2.def_len, nv);
        if (nonnull < 0)
            return -1;
    }
    if ((size_t)h->v2.num_nulls != nv - (size_t)nonnull)
        return errf(d->err, d->errlen, "v2 page says %d nulls, its levels %zu", h->v2.num_nulls,
                    nv - (size_t)nonnull);
    const uint8_t *p = body + lv;
    size_t n = clen - lv, vlen = ulen - lv;
    if (h->v2.is_compressed && codec != PQ_CODEC_UNCOMPRESSED) {
        p = inflate_page(d, codec, p, n, vlen);
        if (!p)
            return -1;
    } else if (n != vlen) {
        return errf(d->err, d->errlen, "uncompressed v2 page of %zu bytes, header says %zu", n, vlen);
    }
    if (page_values(d, h->v2.encoding, p, vlen, (size_t)nonnull) < 0 ||
        charge_bytes(d, (size_t)nonnull) < 0)
        return -1;
    d->out->encodings |= 1u << (h->v2.encoding & 31);
    scatter(d, nv, d->l->max_def > 0);
    return 0;
}

/* pq_read_column's work; messages in msg say what is wrong with the chunk. */
static int read_chunk(struct pq_reader *r, int rg, int leaf, struct pq_column *out, char *msg,
                      size_t msglen)
{
    const struct pq_leaf *l = &r->leaves[leaf];
    const struct pq_row_group *g = &r->meta.row_groups[rg];
    const struct pq_column_meta *cm = &g->columns[leaf].meta;
    if (l->max_rep > 0)
        return errf(msg, msglen, "repeated (nested) columns are not supported");
    if (!pq_codec_supported(cm->codec))
        return errf(msg, msglen, "unsupported compression %s", pq_codec_name(cm->codec));
    if (cm->num_values > MAX_CHUNK_VALUES)
        return errf(msg, msglen, "%lld values in one chunk is too many", (long long)cm->num_values);
    if (cm->num_values != g->num_rows)
        return errf(msg, msglen, "%lld values in a row group of %lld rows", (long long)cm->num_values,
                    (long long)g->num_rows);

    /* The decoded column: values (or offsets) and null flags, all before
     * anything is read or allocated. */
    int w = out_width(l->type);
    uint64_t out_bytes = (uint64_t)cm->num_values * (uint64_t)(w ? w : (int)sizeof *out->off) +
                         (l->max_def > 0 ? (uint64_t)cm->num_values : 0) + sizeof *out->off;
    char what[96];
    snprintf(what, sizeof what, "the column of %lld values", (long long)cm->num_values);
    if (column_charge(r, out, out_bytes, what, msg, msglen) < 0)
        return -1;

    int64_t start = cm->data_page_offset;
    if (cm->has_dictionary_page_offset && cm->dictionary_page_offset > 0 &&
        cm->dictionary_page_offset < start)
        start = cm->dictionary_page_offset;
    int64_t len = cm->total_compressed_size;
    if (start < 4 || len > r->footer_start || start > r->footer_start - len)
        return errf(msg, msglen, "chunk at %lld+%lld lies outside the data", (long long)start,
                    (long long)len);
    r->chunk = grow_to(r->chunk, &r->chunk_cap, (size_t)len + 1, 1);
    if (read_at(r->fd, r->chunk, (size_t)len, start) < 0)
        return errf(msg, msglen, "cannot read: %s", strerror(errno));

    struct cdec d = {.r = r, .l = l, .out = out, .total = (size_t)cm->num_values, .err = msg,
                     .errlen = msglen};
    out->type = l->type;
    if (!out_width(l->type)) {
        out->off = xcalloc(1, sizeof *out->off);   /* off[0] = 0 */
        out->data = xcalloc(1, 1);   /* never NULL: data + off[i] is defined when all are empty */
    }
    size_t pos = 0, total = (size_t)cm->num_values;
    int rc = 0;
    while (out->n < total) {
        struct pq_page_header h;
        size_t hl;
        if (pos >= (size_t)len) {
            rc = errf(msg, msglen, "chunk ends after %zu of %zu values", out->n, total);
            break;
        }
        if (pqf_decode_page_header(r->chunk + pos, (size_t)len - pos, &h, &hl, msg, msglen) < 0) {
            rc = -1;
            break;
        }
        pos += hl;
        if (h.compressed_page_size < 0 || (size_t)h.compressed_page_size > (size_t)len - pos ||
            h.uncompressed_page_size < 0) {
            rc = errf(msg, msglen, "page sizes %d/%d do not fit the chunk", h.compressed_page_size,
                      h.uncompressed_page_size);
            break;
        }
        const uint8_t *body = r->chunk + pos;
        pos += (size_t)h.compressed_page_size;
        size_t left = total - out->n;
        if (h.type == PQ_PAGE_DICTIONARY) {
            rc = read_dict(&d, &h, body, cm->codec);
        } else if (h.type == PQ_PAGE_DATA) {
            if (!h.has_v1 || h.v1.num_values < 0 || (size_t)h.v1.num_values > left)
                rc = errf(msg, msglen, "data page value count does not fit the chunk");
            else
                rc = read_data_v1(&d, &h, body, cm->codec, (size_t)h.v1.num_values);
            out->data_pages++;
        } else if (h.type == PQ_PAGE_DATA_V2) {
            if (!h.has_v2 || h.v2.num_values < 0 || (size_t)h.v2.num_values > left)
                rc = errf(msg, msglen, "data page value count does not fit the chunk");
            else
                rc = read_data_v2(&d, &h, body, cm->codec, (size_t)h.v2.num_values);
            out->data_pages++;
        }   /* index pages and unknown page types are skipped */
        if (rc < 0)
            break;
    }
    dict_free(&d.dict);
    free(d.levels);
    free(d.idx);
    free(d.vp);
    free(d.vl);
    free(d.bools);
    free(d.delta);
    free(d.dvals);
    if (rc < 0)
        return -1;
    if (l->max_def == 0) {
        free(out->valid);
        out->valid = NULL;
    }
    return 0;
}

int pq_read_column(struct pq_reader *r, int rg, int leaf, struct pq_column *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (rg < 0 || rg >= (int)r->meta.n_row_groups || leaf < 0 || leaf >= r->nleaves)
        return errf(err, errlen, "%s: no row group %d / column %d", r->path, rg, leaf);
    char msg[400];
    if (read_chunk(r, rg, leaf, out, msg, sizeof msg) < 0) {
        pq_reader_release(r, out);   /* nothing of it is kept */
        return errf(err, errlen, "%s: row group %d, column '%s': %s", r->path, rg,
                    r->leaves[leaf].name, msg);
    }
    return 0;
}

int pq_read_wanted(struct pq_reader *r, int rg, const struct pq_want *w, int n, struct pq_column *c,
                   char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].type = -1;
        int leaf = pq_reader_find(r, w[i].name);
        int rc = 0;
        if (leaf < 0 && w[i].required)
            rc = errf(err, errlen, "%s has no column '%s' (%s expected)", r->path, w[i].name,
                      pq_type_name(w[i].type));
        else if (leaf >= 0 && r->leaves[leaf].type != w[i].type)
            rc = errf(err, errlen, "%s: column '%s' is %s, %s expected", r->path, w[i].name,
                      pq_type_name(r->leaves[leaf].type), pq_type_name(w[i].type));
        else if (leaf >= 0)
            rc = pq_read_column(r, rg, leaf, &c[i], err, errlen);
        if (rc < 0) {
            while (i-- > 0)
                pq_reader_release(r, &c[i]);
            return -1;
        }
    }
    return 0;
}

const char *pq_logical_str(const struct pq_logical *lt, char *buf, size_t len)
{
    static const char *const units[] = {"?", "MILLIS", "MICROS", "NANOS"};
    const char *unit = lt->unit >= 0 && lt->unit <= 3 ? units[lt->unit] : "?";
    switch (lt->kind) {
    case PQ_LT_NONE: snprintf(buf, len, "%s", ""); break;
    case PQ_LT_STRING: snprintf(buf, len, "STRING"); break;
    case PQ_LT_MAP: snprintf(buf, len, "MAP"); break;
    case PQ_LT_LIST: snprintf(buf, len, "LIST"); break;
    case PQ_LT_ENUM: snprintf(buf, len, "ENUM"); break;
    case PQ_LT_DECIMAL: snprintf(buf, len, "DECIMAL(%d,%d)", lt->precision, lt->scale); break;
    case PQ_LT_DATE: snprintf(buf, len, "DATE"); break;
    case PQ_LT_TIME: snprintf(buf, len, "TIME(%s,%s)", unit, lt->utc ? "UTC" : "local"); break;
    case PQ_LT_TIMESTAMP: snprintf(buf, len, "TIMESTAMP(%s,%s)", unit, lt->utc ? "UTC" : "local"); break;
    case PQ_LT_INTEGER: snprintf(buf, len, "INT(%d,%s)", lt->bit_width, lt->is_signed ? "signed" : "unsigned"); break;
    case PQ_LT_UNKNOWN: snprintf(buf, len, "UNKNOWN"); break;
    case PQ_LT_JSON: snprintf(buf, len, "JSON"); break;
    case PQ_LT_BSON: snprintf(buf, len, "BSON"); break;
    case PQ_LT_UUID: snprintf(buf, len, "UUID"); break;
    case PQ_LT_FLOAT16: snprintf(buf, len, "FLOAT16"); break;
    default: snprintf(buf, len, "LOGICAL(%d)", lt->kind);
    }
    return buf;
}
