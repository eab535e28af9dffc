/* thrift.c -- Thrift compact protocol encoder and bounded decoder. */
#include "parquet/thrift.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* ---- byte buffer ---- */

void bb_init(struct bbuf *b)
{
    b->p = NULL;
    b->len = b->cap = 0;
}

void bb_free(struct bbuf *b)
{
    free(b->p);
    bb_init(b);
}

uint8_t *bb_reserve(struct bbuf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    return b->p + b->len;
}

void bb_append(struct bbuf *b, const void *p, size_t n)
{
    if (!n)
        return;
    memcpy(bb_reserve(b, n), p, n);
    b->len += n;
}

void bb_u32le(struct bbuf *b, uint32_t v)
{
    uint8_t *q = bb_reserve(b, 4);
    q[0] = (uint8_t)v;
    q[1] = (uint8_t)(v >> 8);
    q[2] = (uint8_t)(v >> 16);
    q[3] = (uint8_t)(v >> 24);
    b->len += 4;
}

void bb_varint(struct bbuf *b, uint64_t v)
{
    uint8_t *q = bb_reserve(b, 10);
    size_t n = 0;
    while (v >= 0x80) {
        q[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    q[n++] = (uint8_t)v;
    b->len += n;
}

/* ---- encoder ---- */

void tw_init(struct tw *w, struct bbuf *b)
{
    w->b = b;
    w->depth = 0;
}

void tw_begin(struct tw *w)
{
    /* Our own schemas nest a handful of levels; deeper is a programming error. */
    if (w->depth >= TW_MAX_DEPTH)
        TK_BUG("thrift struct nested deeper than %d", TW_MAX_DEPTH);
    w->last[w->depth++] = 0;
}

void tw_end(struct tw *w)
{
    if (w->depth <= 0)
        TK_BUG("tw_end without tw_begin");
    bb_byte(w->b, TC_STOP);
    w->depth--;
}

static void field_header(struct tw *w, int16_t id, uint8_t type)
{
    int16_t *last = &w->last[w->depth - 1];
    int delta = id - *last;
    if (delta > 0 && delta <= 15) {
        bb_byte(w->b, (uint8_t)(delta << 4 | type));
    } else {
        bb_byte(w->b, type);
        bb_varint(w->b, zigzag64(id));
    }
    *last = id;
}

void tw_i8(struct tw *w, int16_t id, int8_t v)
{
    field_header(w, id, TC_I8);
    bb_byte(w->b, (uint8_t)v);   /* a raw byte, not a varint */
}

void tw_i32(struct tw *w, int16_t id, int32_t v)
{
    field_header(w, id, TC_I32);
    bb_varint(w->b, zigzag64(v));
}

void tw_i64(struct tw *w, int16_t id, int64_t v)
{
    field_header(w, id, TC_I64);
    bb_varint(w->b, zigzag64(v));
}

void tw_bool(struct tw *w, int16_t id, bool v)
{
    field_header(w, id, v ? TC_TRUE : TC_FALSE);
}

void tw_double(struct tw *w, int16_t id, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    field_header(w, id, TC_DOUBLE);
    uint8_t *q = bb_reserve(w->b, 8);
    for (int i = 0; i < 8; i++)   /* little endian, unlike the binary protocol */
        q[i] = (uint8_t)(u >> (8 * i));
    w->b->len += 8;
}

void tw_binary(struct tw *w, int16_t id, const void *p, size_t n)
{
    field_header(w, id, TC_BINARY);
    tw_elem_binary(w, p, n);
}

void tw_string(struct tw *w, int16_t id, const char *s)
{
    tw_binary(w, id, s, strlen(s));
}

void tw_struct(struct tw *w, int16_t id)
{
    field_header(w, id, TC_STRUCT);
    tw_begin(w);
}

void tw_list(struct tw *w, int16_t id, enum tc_type elem, uint32_t n)
{
    field_header(w, id, TC_LIST);
    if (n < 15) {
        bb_byte(w->b, (uint8_t)(n << 4 | elem));
    } else {
        bb_byte(w->b, (uint8_t)(0xF0 | elem));
        bb_varint(w->b, n);
    }
}

void tw_elem_i32(struct tw *w, int32_t v) { bb_varint(w->b, zigzag64(v)); }
void tw_elem_i64(struct tw *w, int64_t v) { bb_varint(w->b, zigzag64(v)); }

void tw_elem_binary(struct tw *w, const void *p, size_t n)
{
    bb_varint(w->b, n);
    bb_append(w->b, p, n);
}

void tw_elem_string(struct tw *w, const char *s) { tw_elem_binary(w, s, strlen(s)); }

/* ---- decoder ---- */

void tr_init(struct tr *r, const void *p, size_t n)
{
    r->start = r->p = p;
    r->end = r->start + n;
    r->err = NULL;
    r->err_at = 0;
    r->depth = 0;
}

void tr_fail(struct tr *r, const char *why)
{
    if (!r->err) {
        r->err = why;
        r->err_at = tr_pos(r);
    }
    r->p = r->end;   /* nothing more can be read */
}

static uint8_t get_byte(struct tr *r)
{
    if (r->err)
        return 0;
    if (r->p >= r->end) {
        tr_fail(r, "truncated");
        return 0;
    }
    return *r->p++;
}

static uint64_t get_varint(struct tr *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t c = get_byte(r);
        if (r->err)
            return 0;
        /* The tenth byte may only carry the top bit of a 64-bit value. */
        if (shift == 63 && c > 1) {
            tr_fail(r, "varint too long");
            return 0;
        }
        v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80))
            return v;
    }
    tr_fail(r, "varint too long");
    return 0;
}

void tr_begin(struct tr *r)
{
    if (r->err)
        return;
    if (r->depth >= TR_MAX_DEPTH) {
        tr_fail(r, "structs nested too deeply");
        return;
    }
    r->last[r->depth++] = 0;
}

bool tr_field(struct tr *r, int16_t *id, uint8_t *type)
{
    if (r->err || r->depth <= 0)
        return false;
    uint8_t c = get_byte(r);
    if (r->err)
        return false;
    uint8_t t = c & 0x0F;
    if (t == TC_STOP) {
        if (c != 0) {
            tr_fail(r, "bad field header");
            return false;
        }
        r->depth--;
        return false;
    }
    if (t > TC_UUID) {
        tr_fail(r, "unknown field type");
        return false;
    }
    int16_t *last = &r->last[r->depth - 1];
    int fid;
    if (c >> 4) {
        fid = *last + (c >> 4);
    } else {
        int64_t v = unzigzag64(get_varint(r));
        if (r->err)
            return false;
        fid = (int)v;
        if (v < INT16_MIN || v > INT16_MAX) {
            tr_fail(r, "field id out of range");
            return false;
        }
    }
    if (fid > INT16_MAX) {
        tr_fail(r, "field id out of range");
        return false;
    }
    *last = (int16_t)fid;
    *id = (int16_t)fid;
    *type = t;
    return true;
}

bool tr_struct(struct tr *r, uint8_t t)
{
    if (t != TC_STRUCT) {
        tr_skip(r, t);
        return false;
    }
    tr_begin(r);
    return !r->err;
}

static size_t left(const struct tr *r) { return (size_t)(r->end - r->p); }

static bool list_header(struct tr *r, uint8_t *elem, uint32_t *n)
{
    uint8_t c = get_byte(r);
    uint64_t size = c >> 4;
    if (size == 15)
        size = get_varint(r);
    if (r->err)
        return false;
    *elem = c & 0x0F;
    /* Every element takes at least one byte, so a count above the bytes left
     * is corrupt -- and callers may safely allocate n elements. */
    if (size > left(r) || size > INT32_MAX) {
        tr_fail(r, "list longer than its data");
        return false;
    }
    /* An empty list's element type says nothing: hyparquet-writer (and
     * other compact-protocol writers) leave it 0 in a file of no rows. */
    if (size > 0 && (*elem == TC_STOP || *elem > TC_UUID)) {
        tr_fail(r, "unknown list element type");
        return false;
    }
    *n = (uint32_t)size;
    return true;
}

static void skip_n(struct tr *r, size_t n)
{
    if (r->err)
        return;
    if (n > left(r)) {
        tr_fail(r, "truncated");
        return;
    }
    r->p += n;
}

/* Skip one value.  'elem' distinguishes bool list elements (one byte) from
 * bool fields (no bytes). */
static void skip_value(struct tr *r, uint8_t t, bool elem)
{
    if (r->err)
        return;
    switch (t) {
    case TC_TRUE:
    case TC_FALSE:
        if (elem)
            skip_n(r, 1);
        return;
    case TC_I8:
        skip_n(r, 1);
        return;
    case TC_I16:
    case TC_I32:
    case TC_I64:
        get_varint(r);
        return;
    case TC_DOUBLE:
        skip_n(r, 8);
        return;
    case TC_UUID:
        skip_n(r, 16);
        return;
    case TC_BINARY: {
        uint64_t n = get_varint(r);
        if (!r->err && n > left(r))
            tr_fail(r, "binary longer than its data");
        else
            skip_n(r, (size_t)n);
        return;
    }
    case TC_LIST:
    case TC_SET: {
        uint8_t et;
        uint32_t n;
        if (r->depth >= TR_MAX_DEPTH) {
            tr_fail(r, "values nested too deeply");
            return;
        }
        if (!list_header(r, &et, &n))
            return;
        r->depth++;   /* counts list nesting against the same limit */
        for (uint32_t i = 0; i < n && !r->err; i++)
            skip_value(r, et, true);
        r->depth--;
        return;
    }
    case TC_MAP: {
        uint64_t n = get_varint(r);
        if (r->err || n == 0)
            return;
        uint8_t kv = get_byte(r);
        uint8_t kt = kv >> 4, vt = kv & 0x0F;
        if (r->err)
            return;
        if (n > left(r) || kt == TC_STOP || kt > TC_UUID || vt == TC_STOP || vt > TC_UUID) {
            tr_fail(r, "bad map header");
            return;
        }
        if (r->depth >= TR_MAX_DEPTH) {
            tr_fail(r, "values nested too deeply");
            return;
        }
        r->depth++;
        for (uint64_t i = 0; i < n && !r->err; i++) {
            skip_value(r, kt, true);
            skip_value(r, vt, true);
        }
        r->depth--;
        return;
    }
    case TC_STRUCT: {
        int16_t id;
        uint8_t ft;
        tr_begin(r);
        while (tr_field(r, &id, &ft))
            skip_value(r, ft, false);
        return;
    }
    default:
        tr_fail(r, "unknown value type");
    }
}

void tr_skip(struct tr *r, uint8_t t) { skip_value(r, t, false); }

static bool is_int_type(uint8_t t) { return t == TC_I8 || t == TC_I16 || t == TC_I32 || t == TC_I64; }

/* Read any integer wire type as int64 (I8 is a raw byte, the rest varints). */
static int64_t get_int(struct tr *r, uint8_t t)
{
    if (t == TC_I8)
        return (int8_t)get_byte(r);
    return unzigzag64(get_varint(r));
}

bool tr_i32(struct tr *r, uint8_t t, int32_t *out)
{
    if (!is_int_type(t)) {
        tr_skip(r, t);
        return false;
    }
    int64_t v = get_int(r, t);
    if (r->err)
        return false;
    if (v < INT32_MIN || v > INT32_MAX) {
        tr_fail(r, "i32 out of range");
        return false;
    }
    *out = (int32_t)v;
    return true;
}

bool tr_i64(struct tr *r, uint8_t t, int64_t *out)
{
    if (!is_int_type(t)) {
        tr_skip(r, t);
        return false;
    }
    int64_t v = get_int(r, t);
    if (r->err)
        return false;
    *out = v;
    return true;
}

bool tr_double(struct tr *r, uint8_t t, double *out)
{
    if (t != TC_DOUBLE) {
        tr_skip(r, t);
        return false;
    }
    if (left(r) < 8) {
        tr_fail(r, "truncated");
        return false;
    }
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    memcpy(out, &u, 8);
    return true;
}

bool tr_bool(struct tr *r, uint8_t t, bool *out)
{
    if (t != TC_TRUE && t != TC_FALSE) {
        tr_skip(r, t);
        return false;
    }
    if (r->err)
        return false;
    *out = t == TC_TRUE;
    return true;
}

bool tr_binary(struct tr *r, uint8_t t, const uint8_t **p, size_t *n)
{
    if (t != TC_BINARY) {
        tr_skip(r, t);
        return false;
    }
    uint64_t len = get_varint(r);
    if (r->err)
        return false;
    if (len > left(r)) {
        tr_fail(r, "binary longer than its data");
        return false;
    }
    *p = r->p;
    *n = (size_t)len;
    r->p += len;
    return true;
}

bool tr_list(struct tr *r, uint8_t t, uint8_t *elem, uint32_t *n)
{
    if (t != TC_LIST && t != TC_SET) {
        tr_skip(r, t);
        return false;
    }
    return list_header(r, elem, n);
}
