/* parquet_format.c -- FileMetaData and PageHeader <-> Thrift compact. */
#include "parquet/parquet_format.h"
#include "common/util.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- an arena for decoded footers: one free for the whole tree ---- */

struct pq_arena_blk {
    struct pq_arena_blk *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

struct pq_arena {
    struct pq_arena_blk *head;
    size_t total, limit;        /* bytes handed out; the most allowed (0: no limit) */
    bool by_max;                /* limit is the caller's max, below the expansion limit */
};

static void *arena_alloc(struct pq_arena *a, size_t n)
{
    n = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    struct pq_arena_blk *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = xmalloc(sizeof *b + cap);
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

static char *arena_strndup(struct pq_arena *a, const uint8_t *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void pqf_file_meta_free(struct pq_file_meta *m)
{
    if (!m || !m->arena)
        return;
    for (struct pq_arena_blk *b = m->arena->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(m->arena);
    memset(m, 0, sizeof *m);
}

/* ---- decoding ---- */

#define STR_(x) #x
#define STR(x) STR_(x)

/* Decoder context: the Thrift reader plus where decoded memory goes (NULL for
 * page headers, whose byte strings point into the input). */
struct dec {
    struct tr r;
    struct pq_arena *a;
    const char *missing;   /* name of a missing required field */
};

/* Room for a list of n decoded elements.  Each element takes at least one
 * byte of the footer, but decodes into a struct of up to a few hundred bytes:
 * a footer of empty structs would expand ~200 times, so the arena is held to
 * PQF_FOOTER_EXPANSION times the footer's size and the list fails (NULL, the
 * reader's error set, so the caller's loop does not run) beyond it. */
static void *list_alloc(struct dec *d, uint32_t n, size_t elem)
{
    size_t need = (size_t)n * elem;
    if (d->a->limit && (need > d->a->limit || d->a->total > d->a->limit - need)) {
        tr_fail(&d->r, d->a->by_max ? "list decodes beyond the memory budget left for the footer"
                : "list decodes beyond " STR(PQF_FOOTER_EXPANSION) " times the footer's size");
        return NULL;
    }
    return arena_alloc(d->a, need);
}

static void need(struct dec *d, unsigned seen, unsigned mask, const char *const *names)
{
    if (d->r.err)
        return;   /* the first error is the one to report, not a field it skipped */
    for (unsigned i = 0; mask >> i; i++)
        if ((mask >> i & 1) && !(seen >> i & 1)) {
            if (!d->missing)
                d->missing = names[i];
            tr_fail(&d->r, "missing required field");
            return;
        }
}

static bool get_bytes(struct dec *d, uint8_t t, struct pq_bytes *b)
{
    const uint8_t *p;
    size_t n;
    if (!tr_binary(&d->r, t, &p, &n))
        return false;
    b->p = d->a ? (const uint8_t *)arena_strndup(d->a, p, n) : p;
    b->n = n;
    b->set = true;
    return true;
}

static const char *get_string(struct dec *d, uint8_t t)
{
    const uint8_t *p;
    size_t n;
    if (!tr_binary(&d->r, t, &p, &n))
        return NULL;
    return arena_strndup(d->a, p, n);
}

static bool get_enum(struct dec *d, uint8_t t, int *out)
{
    int32_t v;
    if (!tr_i32(&d->r, t, &v))
        return false;
    *out = v;
    return true;
}

static void dec_stats(struct dec *d, struct pq_stats *s)
{
    int16_t id;
    uint8_t t;
    memset(s, 0, sizeof *s);
    while (tr_field(&d->r, &id, &t)) {
        switch (id) {
        case 1: get_bytes(d, t, &s->max); break;
        case 2: get_bytes(d, t, &s->min); break;
        case 3: s->has_null_count = tr_i64(&d->r, t, &s->null_count); break;
        case 4: s->has_distinct_count = tr_i64(&d->r, t, &s->distinct_count); break;
        case 5: get_bytes(d, t, &s->max_value); break;
        case 6: get_bytes(d, t, &s->min_value); break;
        case 7: s->has_max_exact = tr_bool(&d->r, t, &s->max_exact); break;
        case 8: s->has_min_exact = tr_bool(&d->r, t, &s->min_exact); break;
        case 9: s->has_nan_count = tr_i64(&d->r, t, &s->nan_count); break;
        default: tr_skip(&d->r, t);
        }
    }
}

/* A union field whose value is a struct we only need the presence of
 * (StringType, MilliSeconds, ...): returns the chosen field id. */
static int dec_union_id(struct dec *d)
{
    int16_t id;
    uint8_t t;
    int chosen = 0;
    while (tr_field(&d->r, &id, &t)) {
        if (!chosen && t == TC_STRUCT)
            chosen = id;
        tr_skip(&d->r, t);
    }
    return chosen;
}

static void dec_time_like(struct dec *d, struct pq_logical *lt)
{
    int16_t id;
    uint8_t t;
    while (tr_field(&d->r, &id, &t)) {
        if (id == 1)
            tr_bool(&d->r, t, &lt->utc);
        else if (id == 2 && tr_struct(&d->r, t))
            lt->unit = dec_union_id(d);
        else
            tr_skip(&d->r, t);
    }
}

static void dec_logical(struct dec *d, struct pq_logical *lt)
{
    int16_t id;
    uint8_t t;
    memset(lt, 0, sizeof *lt);
    while (tr_field(&d->r, &id, &t)) {
        if (t != TC_STRUCT || lt->kind) {   /* a union holds one struct */
            tr_skip(&d->r, t);
            continue;
        }
        lt->kind = id;
        tr_struct(&d->r, t);
        int16_t fid;
        uint8_t ft;
        switch (id) {
        case PQ_LT_TIME:
        case PQ_LT_TIMESTAMP:
            dec_time_like(d, lt);
            break;
        case PQ_LT_DECIMAL:
            while (tr_field(&d->r, &fid, &ft)) {
                if (fid == 1) tr_i32(&d->r, ft, &lt->scale);
                else if (fid == 2) tr_i32(&d->r, ft, &lt->precision);
                else tr_skip(&d->r, ft);
            }
            break;
        case PQ_LT_INTEGER:
            while (tr_field(&d->r, &fid, &ft)) {
                int32_t bw;
                if (fid == 1) {
                    if (tr_i32(&d->r, ft, &bw))
                        lt->bit_width = bw;
                } else if (fid == 2) {
                    tr_bool(&d->r, ft, &lt->is_signed);
                } else {
                    tr_skip(&d->r, ft);
                }
            }
            break;
        default:   /* empty structs, and kinds we do not interpret */
            while (tr_field(&d->r, &fid, &ft))
                tr_skip(&d->r, ft);
        }
    }
}

static void dec_schema_elem(struct dec *d, struct pq_schema_elem *e)
{
    static const char *const names[] = {"", "", "", "", "SchemaElement.name"};
    int16_t id;
    uint8_t t;
    unsigned seen = 0;
    memset(e, 0, sizeof *e);
    while (tr_field(&d->r, &id, &t)) {
        bool ok = false;
        switch (id) {
        case 1: ok = e->has_type = get_enum(d, t, &e->type); break;
        case 2: ok = tr_i32(&d->r, t, &e->type_length); break;
        case 3: ok = e->has_repetition = get_enum(d, t, &e->repetition); break;
        case 4: ok = (e->name = get_string(d, t)) != NULL; break;
        case 5: ok = tr_i32(&d->r, t, &e->num_children); break;
        case 6: ok = e->has_converted = get_enum(d, t, &e->converted); break;
        case 7: ok = e->has_scale = tr_i32(&d->r, t, &e->scale); break;
        case 8: ok = e->has_precision = tr_i32(&d->r, t, &e->precision); break;
        case 9: ok = e->has_field_id = tr_i32(&d->r, t, &e->field_id); break;
        case 10:
            if ((ok = tr_struct(&d->r, t)))
                dec_logical(d, &e->logical);
            break;
        default: tr_skip(&d->r, t);
        }
        if (ok && id < 16)
            seen |= 1u << id;
    }
    need(d, seen, 1u << 4, names);
}

static void dec_column_meta(struct dec *d, struct pq_column_meta *c)
{
    static const char *const names[] = {
        "", "ColumnMetaData.type", "ColumnMetaData.encodings", "ColumnMetaData.path_in_schema",
        "ColumnMetaData.codec", "ColumnMetaData.num_values", "ColumnMetaData.total_uncompressed_size",
        "ColumnMetaData.total_compressed_size", "", "ColumnMetaData.data_page_offset"};
    int16_t id;
    uint8_t t, et;
    uint32_t n;
    unsigned seen = 0;
    memset(c, 0, sizeof *c);
    while (tr_field(&d->r, &id, &t)) {
        bool ok = false;
        switch (id) {
        case 1: ok = get_enum(d, t, &c->type); break;
        case 2:
            if ((ok = tr_list(&d->r, t, &et, &n))) {
                c->n_encodings = 0;  /* a list given twice: the last one counts */
                c->encodings = list_alloc(d, n, sizeof *c->encodings);
                for (uint32_t i = 0; i < n && !d->r.err; i++)
                    if (get_enum(d, et, &c->encodings[c->n_encodings]))
                        c->n_encodings++;
            }
            break;
        case 3:
            if ((ok = tr_list(&d->r, t, &et, &n))) {
                c->n_path = 0;  /* a list given twice: the last one counts */
                c->path = list_alloc(d, n, sizeof *c->path);
                for (uint32_t i = 0; i < n && !d->r.err; i++) {
                    const char *s = get_string(d, et);
                    if (s)
                        c->path[c->n_path++] = s;
                }
            }
            break;
        case 4: ok = get_enum(d, t, &c->codec); break;
        case 5: ok = tr_i64(&d->r, t, &c->num_values); break;
        case 6: ok = tr_i64(&d->r, t, &c->total_uncompressed_size); break;
        case 7: ok = tr_i64(&d->r, t, &c->total_compressed_size); break;
        case 9: ok = tr_i64(&d->r, t, &c->data_page_offset); break;
        case 10: ok = c->has_index_page_offset = tr_i64(&d->r, t, &c->index_page_offset); break;
        case 11: ok = c->has_dictionary_page_offset = tr_i64(&d->r, t, &c->dictionary_page_offset); break;
        case 12:
            if ((ok = c->has_stats = tr_struct(&d->r, t)))
                dec_stats(d, &c->stats);
            break;
        case 13:
            if ((ok = tr_list(&d->r, t, &et, &n))) {
                c->n_enc_stats = 0;  /* a list given twice: the last one counts */
                c->enc_stats = list_alloc(d, n, sizeof *c->enc_stats);
                for (uint32_t i = 0; i < n && !d->r.err; i++) {
                    if (!tr_struct(&d->r, et))
                        continue;
                    struct pq_encoding_stats *es = &c->enc_stats[c->n_enc_stats++];
                    int16_t fid;
                    uint8_t ft;
                    while (tr_field(&d->r, &fid, &ft)) {
                        if (fid == 1) get_enum(d, ft, &es->page_type);
                        else if (fid == 2) get_enum(d, ft, &es->encoding);
                        else if (fid == 3) tr_i32(&d->r, ft, &es->count);
                        else tr_skip(&d->r, ft);
                    }
                }
            }
            break;
        default: tr_skip(&d->r, t);
        }
        if (ok && id < 16)
            seen |= 1u << id;
    }
    need(d, seen, 0x2FE, names);   /* fields 1-7 and 9 */
}

static void dec_column_chunk(struct dec *d, struct pq_column_chunk *c)
{
    int16_t id;
    uint8_t t;
    memset(c, 0, sizeof *c);
    while (tr_field(&d->r, &id, &t)) {
        switch (id) {
        case 1: c->file_path = get_string(d, t); break;
        case 2: tr_i64(&d->r, t, &c->file_offset); break;
        case 3:
            if ((c->has_meta = tr_struct(&d->r, t)))
                dec_column_meta(d, &c->meta);
            break;
        default: tr_skip(&d->r, t);
        }
    }
}

static void dec_row_group(struct dec *d, struct pq_row_group *g)
{
    static const char *const names[] = {"", "RowGroup.columns", "RowGroup.total_byte_size",
                                        "RowGroup.num_rows"};
    int16_t id;
    uint8_t t, et;
    uint32_t n;
    unsigned seen = 0;
    memset(g, 0, sizeof *g);
    while (tr_field(&d->r, &id, &t)) {
        bool ok = false;
        switch (id) {
        case 1:
            if ((ok = tr_list(&d->r, t, &et, &n))) {
                g->n_columns = 0;  /* a list given twice: the last one counts */
                g->columns = list_alloc(d, n, sizeof *g->columns);
                for (uint32_t i = 0; i < n && !d->r.err; i++)
                    if (tr_struct(&d->r, et))
                        dec_column_chunk(d, &g->columns[g->n_columns++]);
            }
            break;
        case 2: ok = tr_i64(&d->r, t, &g->total_byte_size); break;
        case 3: ok = tr_i64(&d->r, t, &g->num_rows); break;
        case 5: ok = g->has_file_offset = tr_i64(&d->r, t, &g->file_offset); break;
        case 6: ok = g->has_total_compressed_size = tr_i64(&d->r, t, &g->total_compressed_size); break;
        case 7: {
            int32_t v;
            if ((ok = g->has_ordinal = tr_i32(&d->r, t, &v)))
                g->ordinal = (int16_t)v;
            break;
        }
        default: tr_skip(&d->r, t);
        }
        if (ok && id < 16)
            seen |= 1u << id;
    }
    need(d, seen, 0xE, names);
}

static void set_err(struct dec *d, const char *what, char *err, size_t errlen)
{
    if (d->missing)
        snprintf(err, errlen, "corrupt %s: missing required field %s", what, d->missing);
    else
        snprintf(err, errlen, "corrupt %s: %s at byte %zu", what, d->r.err, d->r.err_at);
}

size_t pqf_file_meta_bytes(const struct pq_file_meta *m) { return m->arena ? m->arena->total : 0; }

int pqf_decode_file_meta(const void *p, size_t n, struct pq_file_meta *m, char *err, size_t errlen)
{
    return pqf_decode_file_meta_max(p, n, 0, m, err, errlen);
}

int pqf_decode_file_meta_max(const void *p, size_t n, size_t max, struct pq_file_meta *m, char *err,
                             size_t errlen)
{
    static const char *const names[] = {"", "FileMetaData.version", "FileMetaData.schema",
                                        "FileMetaData.num_rows", "FileMetaData.row_groups"};
    struct dec d = {.a = xcalloc(1, sizeof(struct pq_arena))};
    int16_t id;
    uint8_t t, et;
    uint32_t cnt;
    unsigned seen = 0;

    memset(m, 0, sizeof *m);
    m->arena = d.a;
    d.a->limit = n * PQF_FOOTER_EXPANSION + 65536;
    if (max && max < d.a->limit) {
        d.a->limit = max;
        d.a->by_max = true;
    }
    tr_init(&d.r, p, n);
    tr_begin(&d.r);
    while (tr_field(&d.r, &id, &t)) {
        bool ok = false;
        switch (id) {
        case 1: ok = tr_i32(&d.r, t, &m->version); break;
        case 2:
            if ((ok = tr_list(&d.r, t, &et, &cnt))) {
                m->n_schema = 0;  /* a list given twice: the last one counts */
                m->schema = list_alloc(&d, cnt, sizeof *m->schema);
                for (uint32_t i = 0; i < cnt && !d.r.err; i++)
                    if (tr_struct(&d.r, et))
                        dec_schema_elem(&d, &m->schema[m->n_schema++]);
            }
            break;
        case 3: ok = tr_i64(&d.r, t, &m->num_rows); break;
        case 4:
            if ((ok = tr_list(&d.r, t, &et, &cnt))) {
                m->n_row_groups = 0;  /* a list given twice: the last one counts */
                m->row_groups = list_alloc(&d, cnt, sizeof *m->row_groups);
                for (uint32_t i = 0; i < cnt && !d.r.err; i++)
                    if (tr_struct(&d.r, et))
                        dec_row_group(&d, &m->row_groups[m->n_row_groups++]);
            }
            break;
        case 5:
            if (tr_list(&d.r, t, &et, &cnt)) {
                m->n_kv = 0;  /* a list given twice: the last one counts */
                m->kv = list_alloc(&d, cnt, sizeof *m->kv);
                for (uint32_t i = 0; i < cnt && !d.r.err; i++) {
                    if (!tr_struct(&d.r, et))
                        continue;
                    struct pq_kv *kv = &m->kv[m->n_kv];
                    int16_t fid;
                    uint8_t ft;
                    while (tr_field(&d.r, &fid, &ft)) {
                        if (fid == 1) kv->key = get_string(&d, ft);
                        else if (fid == 2) kv->value = get_string(&d, ft);
                        else tr_skip(&d.r, ft);
                    }
                    if (kv->key)
                        m->n_kv++;
                }
            }
            break;
        case 6: m->created_by = get_string(&d, t); break;
        case 7:
            if (tr_list(&d.r, t, &et, &cnt)) {
                m->n_column_orders = 0;  /* a list given twice: the last one counts */
                m->column_orders = list_alloc(&d, cnt, sizeof *m->column_orders);
                for (uint32_t i = 0; i < cnt && !d.r.err; i++)
                    if (tr_struct(&d.r, et))
                        m->column_orders[m->n_column_orders++] = dec_union_id(&d);
            }
            break;
        default: tr_skip(&d.r, t);
        }
        if (ok && id < 16)
            seen |= 1u << id;
    }
    if (!d.r.err)
        need(&d, seen, 0x1E, names);
    if (d.r.err) {
        set_err(&d, "footer", err, errlen);
        pqf_file_meta_free(m);
        return -1;
    }
    return 0;
}

/* The fields of the page header's inner structs, read by one loop: each
 * field's id, kind and place in struct pq_page_header, and the flag that
 * says it was present (-1: none). */
enum hkind { H_I32, H_ENUM, H_BOOL, H_STATS };
struct hfield {
    int16_t id;
    enum hkind kind;
    size_t off;
    ptrdiff_t has;
};
#define HF(id, kind, member, has) {id, kind, offsetof(struct pq_page_header, member), has}
#define HAS(member) ((ptrdiff_t)offsetof(struct pq_page_header, member))

static const struct hfield v1_fields[] = {
    HF(1, H_I32, v1.num_values, -1),   HF(2, H_ENUM, v1.encoding, -1),
    HF(3, H_ENUM, v1.def_encoding, -1), HF(4, H_ENUM, v1.rep_encoding, -1),
    HF(5, H_STATS, v1.stats, HAS(v1.has_stats)),
};
static const struct hfield dict_fields[] = {
    HF(1, H_I32, dict.num_values, -1), HF(2, H_ENUM, dict.encoding, -1),
    HF(3, H_BOOL, dict.is_sorted, HAS(dict.has_sorted)),
};
static const struct hfield v2_fields[] = {
    HF(1, H_I32, v2.num_values, -1), HF(2, H_I32, v2.num_nulls, -1),
    HF(3, H_I32, v2.num_rows, -1),   HF(4, H_ENUM, v2.encoding, -1),
    HF(5, H_I32, v2.def_len, -1),    HF(6, H_I32, v2.rep_len, -1),
    HF(7, H_BOOL, v2.is_compressed, -1), HF(8, H_STATS, v2.stats, HAS(v2.has_stats)),
};

/* Read one inner struct of h (its fields f[0..n)); returns the bit set of
 * the field ids present. */
static unsigned dec_hfields(struct dec *d, const struct hfield *f, size_t n,
                            struct pq_page_header *h)
{
    unsigned seen = 0;
    int16_t fid;
    uint8_t ft;
    while (tr_field(&d->r, &fid, &ft)) {
        const struct hfield *x = NULL;
        for (size_t i = 0; i < n && !x; i++)
            x = f[i].id == fid ? &f[i] : NULL;
        if (!x) {
            tr_skip(&d->r, ft);
            continue;
        }
        char *p = (char *)h + x->off;
        bool got = false;
        switch (x->kind) {
        case H_I32: got = tr_i32(&d->r, ft, (int32_t *)p); break;
        case H_ENUM: got = get_enum(d, ft, (int *)p); break;
        case H_BOOL: got = tr_bool(&d->r, ft, (bool *)p); break;
        case H_STATS:
            if ((got = tr_struct(&d->r, ft)))
                dec_stats(d, (struct pq_stats *)p);
            break;
        }
        if (got && x->has >= 0)
            *(bool *)((char *)h + x->has) = true;
        if (got && fid < 16)
            seen |= 1u << fid;
    }
    return seen;
}

int pqf_decode_page_header(const void *p, size_t n, struct pq_page_header *h, size_t *hdr_len,
                           char *err, size_t errlen)
{
    static const char *const names[] = {"", "PageHeader.type", "PageHeader.uncompressed_page_size",
                                        "PageHeader.compressed_page_size"};
    static const char *const v1names[] = {"", "DataPageHeader.num_values", "DataPageHeader.encoding",
                                          "DataPageHeader.definition_level_encoding",
                                          "DataPageHeader.repetition_level_encoding"};
    static const char *const dnames[] = {"", "DictionaryPageHeader.num_values",
                                         "DictionaryPageHeader.encoding"};
    static const char *const v2names[] = {
        "", "DataPageHeaderV2.num_values", "DataPageHeaderV2.num_nulls", "DataPageHeaderV2.num_rows",
        "DataPageHeaderV2.encoding", "DataPageHeaderV2.definition_levels_byte_length",
        "DataPageHeaderV2.repetition_levels_byte_length"};
    struct dec d = {.a = NULL};
    int16_t id;
    uint8_t t;
    unsigned seen = 0;

    memset(h, 0, sizeof *h);
    h->v2.is_compressed = true;
    tr_init(&d.r, p, n);
    tr_begin(&d.r);
    while (tr_field(&d.r, &id, &t)) {
        bool ok = false;
        switch (id) {
        case 1: ok = get_enum(&d, t, &h->type); break;
        case 2: ok = tr_i32(&d.r, t, &h->uncompressed_page_size); break;
        case 3: ok = tr_i32(&d.r, t, &h->compressed_page_size); break;
        case 4: ok = h->has_crc = tr_i32(&d.r, t, &h->crc); break;
        case 5:
            if ((h->has_v1 = tr_struct(&d.r, t)))
                need(&d, dec_hfields(&d, v1_fields, ARRAY_LEN(v1_fields), h), 0x1E, v1names);
            break;
        case 7:
            if ((h->has_dict = tr_struct(&d.r, t)))
                need(&d, dec_hfields(&d, dict_fields, ARRAY_LEN(dict_fields), h), 0x6, dnames);
            break;
        case 8:
            if ((h->has_v2 = tr_struct(&d.r, t)))
                need(&d, dec_hfields(&d, v2_fields, ARRAY_LEN(v2_fields), h), 0x7E, v2names);
            break;
        default: tr_skip(&d.r, t);
        }
        if (ok && id < 16)
            seen |= 1u << id;
    }
    if (!d.r.err)
        need(&d, seen, 0xE, names);
    if (d.r.err) {
        set_err(&d, "page header", err, errlen);
        return -1;
    }
    *hdr_len = tr_pos(&d.r);
    return 0;
}

/* ---- encoding ---- */

static void enc_bytes(struct tw *w, int16_t id, const struct pq_bytes *b)
{
    if (b->set)
        tw_binary(w, id, b->p, b->n);
}

static void enc_stats(struct tw *w, int16_t id, const struct pq_stats *s)
{
    tw_struct(w, id);
    enc_bytes(w, 1, &s->max);
    enc_bytes(w, 2, &s->min);
    if (s->has_null_count)
        tw_i64(w, 3, s->null_count);
    if (s->has_distinct_count)
        tw_i64(w, 4, s->distinct_count);
    enc_bytes(w, 5, &s->max_value);
    enc_bytes(w, 6, &s->min_value);
    if (s->has_max_exact)
        tw_bool(w, 7, s->max_exact);
    if (s->has_min_exact)
        tw_bool(w, 8, s->min_exact);
    if (s->has_nan_count)
        tw_i64(w, 9, s->nan_count);
    tw_end(w);
}

static void enc_logical(struct tw *w, const struct pq_logical *lt)
{
    tw_struct(w, 10);
    tw_struct(w, (int16_t)lt->kind);
    switch (lt->kind) {
    case PQ_LT_TIME:
    case PQ_LT_TIMESTAMP:
        tw_bool(w, 1, lt->utc);
        tw_struct(w, 2);
        tw_struct(w, (int16_t)lt->unit);   /* MILLIS / MICROS / NANOS: empty structs */
        tw_end(w);
        tw_end(w);
        break;
    case PQ_LT_DECIMAL:
        tw_i32(w, 1, lt->scale);
        tw_i32(w, 2, lt->precision);
        break;
    case PQ_LT_INTEGER:
        tw_i8(w, 1, (int8_t)lt->bit_width);
        tw_bool(w, 2, lt->is_signed);
        break;
    default:
        break;
    }
    tw_end(w);
    tw_end(w);
}

static void enc_schema_elem(struct tw *w, const struct pq_schema_elem *e)
{
    tw_begin(w);
    if (e->has_type)
        tw_i32(w, 1, e->type);
    if (e->type_length)
        tw_i32(w, 2, e->type_length);
    if (e->has_repetition)
        tw_i32(w, 3, e->repetition);
    tw_string(w, 4, e->name);
    if (e->num_children)
        tw_i32(w, 5, e->num_children);
    if (e->has_converted)
        tw_i32(w, 6, e->converted);
    if (e->has_scale)
        tw_i32(w, 7, e->scale);
    if (e->has_precision)
        tw_i32(w, 8, e->precision);
    if (e->has_field_id)
        tw_i32(w, 9, e->field_id);
    if (e->logical.kind)
        enc_logical(w, &e->logical);
    tw_end(w);
}

static void enc_column_meta(struct tw *w, const struct pq_column_meta *c)
{
    tw_struct(w, 3);
    tw_i32(w, 1, c->type);
    tw_list(w, 2, TC_I32, c->n_encodings);
    for (uint32_t i = 0; i < c->n_encodings; i++)
        tw_elem_i32(w, c->encodings[i]);
    tw_list(w, 3, TC_BINARY, c->n_path);
    for (uint32_t i = 0; i < c->n_path; i++)
        tw_elem_string(w, c->path[i]);
    tw_i32(w, 4, c->codec);
    tw_i64(w, 5, c->num_values);
    tw_i64(w, 6, c->total_uncompressed_size);
    tw_i64(w, 7, c->total_compressed_size);
    tw_i64(w, 9, c->data_page_offset);
    if (c->has_index_page_offset)
        tw_i64(w, 10, c->index_page_offset);
    if (c->has_dictionary_page_offset)
        tw_i64(w, 11, c->dictionary_page_offset);
    if (c->has_stats)
        enc_stats(w, 12, &c->stats);
    if (c->n_enc_stats) {
        tw_list(w, 13, TC_STRUCT, c->n_enc_stats);
        for (uint32_t i = 0; i < c->n_enc_stats; i++) {
            tw_begin(w);
            tw_i32(w, 1, c->enc_stats[i].page_type);
            tw_i32(w, 2, c->enc_stats[i].encoding);
            tw_i32(w, 3, c->enc_stats[i].count);
            tw_end(w);
        }
    }
    tw_end(w);
}

void pqf_encode_file_meta(struct bbuf *b, const struct pq_file_meta *m)
{
    struct tw w;
    tw_init(&w, b);
    tw_begin(&w);
    tw_i32(&w, 1, m->version);
    tw_list(&w, 2, TC_STRUCT, m->n_schema);
    for (uint32_t i = 0; i < m->n_schema; i++)
        enc_schema_elem(&w, &m->schema[i]);
    tw_i64(&w, 3, m->num_rows);
    tw_list(&w, 4, TC_STRUCT, m->n_row_groups);
    for (uint32_t i = 0; i < m->n_row_groups; i++) {
        const struct pq_row_group *g = &m->row_groups[i];
        tw_begin(&w);
        tw_list(&w, 1, TC_STRUCT, g->n_columns);
        for (uint32_t j = 0; j < g->n_columns; j++) {
            const struct pq_column_chunk *c = &g->columns[j];
            tw_begin(&w);
            if (c->file_path)
                tw_string(&w, 1, c->file_path);
            tw_i64(&w, 2, c->file_offset);
            if (c->has_meta)
                enc_column_meta(&w, &c->meta);
            tw_end(&w);
        }
        tw_i64(&w, 2, g->total_byte_size);
        tw_i64(&w, 3, g->num_rows);
        if (g->has_file_offset)
            tw_i64(&w, 5, g->file_offset);
        if (g->has_total_compressed_size)
            tw_i64(&w, 6, g->total_compressed_size);
        if (g->has_ordinal)
            tw_i32(&w, 7, g->ordinal);   /* i16 and i32 share the varint form */
        tw_end(&w);
    }
    if (m->n_kv) {
        tw_list(&w, 5, TC_STRUCT, m->n_kv);
        for (uint32_t i = 0; i < m->n_kv; i++) {
            tw_begin(&w);
            tw_string(&w, 1, m->kv[i].key);
            if (m->kv[i].value)
                tw_string(&w, 2, m->kv[i].value);
            tw_end(&w);
        }
    }
    if (m->created_by)
        tw_string(&w, 6, m->created_by);
    if (m->n_column_orders) {
        tw_list(&w, 7, TC_STRUCT, m->n_column_orders);
        for (uint32_t i = 0; i < m->n_column_orders; i++) {
            tw_begin(&w);
            tw_struct(&w, (int16_t)m->column_orders[i]);
            tw_end(&w);
            tw_end(&w);
        }
    }
    tw_end(&w);
}

void pqf_encode_page_header(struct bbuf *b, const struct pq_page_header *h)
{
    struct tw w;
    tw_init(&w, b);
    tw_begin(&w);
    tw_i32(&w, 1, h->type);
    tw_i32(&w, 2, h->uncompressed_page_size);
    tw_i32(&w, 3, h->compressed_page_size);
    if (h->has_crc)
        tw_i32(&w, 4, h->crc);
    if (h->has_v1) {
        tw_struct(&w, 5);
        tw_i32(&w, 1, h->v1.num_values);
        tw_i32(&w, 2, h->v1.encoding);
        tw_i32(&w, 3, h->v1.def_encoding);
        tw_i32(&w, 4, h->v1.rep_encoding);
        if (h->v1.has_stats)
            enc_stats(&w, 5, &h->v1.stats);
        tw_end(&w);
    }
    if (h->has_dict) {
        tw_struct(&w, 7);
        tw_i32(&w, 1, h->dict.num_values);
        tw_i32(&w, 2, h->dict.encoding);
        if (h->dict.has_sorted)
            tw_bool(&w, 3, h->dict.is_sorted);
        tw_end(&w);
    }
    if (h->has_v2) {
        tw_struct(&w, 8);
        tw_i32(&w, 1, h->v2.num_values);
        tw_i32(&w, 2, h->v2.num_nulls);
        tw_i32(&w, 3, h->v2.num_rows);
        tw_i32(&w, 4, h->v2.encoding);
        tw_i32(&w, 5, h->v2.def_len);
        tw_i32(&w, 6, h->v2.rep_len);
        tw_bool(&w, 7, h->v2.is_compressed);
        if (h->v2.has_stats)
            enc_stats(&w, 8, &h->v2.stats);
        tw_end(&w);
    }
    tw_end(&w);
}

/* ---- names ---- */

const char *pq_type_name(int type)
{
    static const char *const n[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE",
                                    "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return type >= 0 && type < (int)ARRAY_LEN(n) ? n[type] : "UNKNOWN_TYPE";
}

const char *pq_encoding_name(int enc)
{
    static const char *const n[] = {"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
                                    "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY",
                                    "DELTA_BYTE_ARRAY", "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return enc >= 0 && enc < (int)ARRAY_LEN(n) ? n[enc] : "UNKNOWN_ENCODING";
}

const char *pq_codec_name(int codec)
{
    static const char *const n[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD",
                                    "LZ4_RAW"};
    return codec >= 0 && codec < (int)ARRAY_LEN(n) ? n[codec] : "UNKNOWN_CODEC";
}

const char *pq_repetition_name(int rep)
{
    static const char *const n[] = {"REQUIRED", "OPTIONAL", "REPEATED"};
    return rep >= 0 && rep < (int)ARRAY_LEN(n) ? n[rep] : "UNKNOWN_REPETITION";
}
