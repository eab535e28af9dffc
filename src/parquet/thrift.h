/* thrift.h -- the Thrift compact protocol, as far as Parquet needs it: an
 * encoder that appends to a growable byte buffer, and a pull decoder that
 * bound-checks every byte, skips fields it does not know, and limits nesting.
 *
 * Wire format (apache/thrift doc/specs/thrift-compact-protocol.md): integers
 * are zigzag ULEB128 varints, a field header is one byte (id delta << 4 | type)
 * or a type byte followed by a zigzag i16 id, booleans live in the field
 * header, binary is a varint length plus bytes, lists have a size/type byte
 * (long form: 0xF? plus a varint size), structs end with a zero byte.
 *
 * Decoding pattern:
 *
 *     int16_t id; uint8_t t;
 *     tr_begin(r);                         // or tr_struct() for a field value
 *     while (tr_field(r, &id, &t)) {
 *         switch (id) {
 *         case 1: tr_i32(r, t, &x->a); break;
 *         default: tr_skip(r, t);
 *         }
 *     }
 *     if (r->err) ...
 *
 * A value of the wrong wire type for a known field id is skipped like an
 * unknown field (the getter returns false), so a newer or odd writer never
 * makes us misread the bytes that follow. */
#ifndef TK_THRIFT_H
#define TK_THRIFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- a growable byte buffer (also used by the Parquet modules) ---- */

struct bbuf {
    uint8_t *p;
    size_t len, cap;
};

void bb_init(struct bbuf *b);
void bb_free(struct bbuf *b);
static inline void bb_reset(struct bbuf *b) { b->len = 0; }
/* Make room for n more bytes; returns a pointer to the free space. */
uint8_t *bb_reserve(struct bbuf *b, size_t n);
void bb_append(struct bbuf *b, const void *p, size_t n);
static inline void bb_byte(struct bbuf *b, uint8_t c)
{
    if (b->len == b->cap)
        bb_reserve(b, 1);
    b->p[b->len++] = c;
}
void bb_u32le(struct bbuf *b, uint32_t v);
void bb_varint(struct bbuf *b, uint64_t v);

/* ---- wire types ---- */

enum tc_type {
    TC_STOP = 0,
    TC_TRUE = 1,    /* field type of a bool field that is true */
    TC_FALSE = 2,   /* ... false; also the element type of bool lists */
    TC_I8 = 3,
    TC_I16 = 4,
    TC_I32 = 5,
    TC_I64 = 6,
    TC_DOUBLE = 7,
    TC_BINARY = 8,
    TC_LIST = 9,
    TC_SET = 10,
    TC_MAP = 11,
    TC_STRUCT = 12,
    TC_UUID = 13,
};

static inline uint64_t zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t unzigzag64(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* ---- encoder ---- */

#define TW_MAX_DEPTH 32

struct tw {
    struct bbuf *b;
    int depth;
    int16_t last[TW_MAX_DEPTH];   /* last field id written, per open struct */
};

void tw_init(struct tw *w, struct bbuf *b);
/* Open a struct that is not a field value: the outermost one, or a list
 * element.  Every tw_begin/tw_struct is closed by tw_end (writes STOP). */
void tw_begin(struct tw *w);
void tw_end(struct tw *w);
/* Fields of the innermost open struct, in increasing id order. */
void tw_i8(struct tw *w, int16_t id, int8_t v);
void tw_i32(struct tw *w, int16_t id, int32_t v);
void tw_i64(struct tw *w, int16_t id, int64_t v);
void tw_bool(struct tw *w, int16_t id, bool v);
void tw_double(struct tw *w, int16_t id, double v);
void tw_binary(struct tw *w, int16_t id, const void *p, size_t n);
void tw_string(struct tw *w, int16_t id, const char *s);
void tw_struct(struct tw *w, int16_t id);    /* then fields, then tw_end */
/* A list field header; then exactly n elements of type elem. */
void tw_list(struct tw *w, int16_t id, enum tc_type elem, uint32_t n);
void tw_elem_i32(struct tw *w, int32_t v);
void tw_elem_i64(struct tw *w, int64_t v);
void tw_elem_binary(struct tw *w, const void *p, size_t n);
void tw_elem_string(struct tw *w, const char *s);
/* Struct elements: tw_begin ... tw_end. */

/* ---- decoder ---- */

#define TR_MAX_DEPTH 64

struct tr {
    const uint8_t *start, *p, *end;
    const char *err;      /* first error (static text), NULL while fine */
    size_t err_at;        /* byte offset of the error */
    int depth;
    int16_t last[TR_MAX_DEPTH];
};

void tr_init(struct tr *r, const void *p, size_t n);
static inline size_t tr_pos(const struct tr *r) { return (size_t)(r->p - r->start); }
/* Record an error (the first one wins); decoding then yields nothing. */
void tr_fail(struct tr *r, const char *why);

/* Enter the outermost struct (or a struct list element whose element type
 * the caller checked). */
void tr_begin(struct tr *r);
/* Next field of the innermost struct: false at its STOP (the struct is then
 * closed) or on error. */
bool tr_field(struct tr *r, int16_t *id, uint8_t *type);
/* Enter a struct field value; false (value skipped) if t is not a struct. */
bool tr_struct(struct tr *r, uint8_t t);
/* Skip one value of wire type t (nested values included). */
void tr_skip(struct tr *r, uint8_t t);

/* Scalar getters for a value of wire type t (a field's type or a list's
 * element type).  On a type mismatch the value is skipped and false is
 * returned with *out unchanged; out-of-range integers are an error. */
bool tr_i32(struct tr *r, uint8_t t, int32_t *out);
bool tr_i64(struct tr *r, uint8_t t, int64_t *out);
bool tr_double(struct tr *r, uint8_t t, double *out);
/* A bool field: the value is in the type (TC_TRUE / TC_FALSE). */
bool tr_bool(struct tr *r, uint8_t t, bool *out);
/* Binary/string: *p points into the input buffer (not NUL-terminated). */
bool tr_binary(struct tr *r, uint8_t t, const uint8_t **p, size_t *n);
/* A list or set field: element type and count (count is checked against the
 * bytes left, so callers may allocate n elements). */
bool tr_list(struct tr *r, uint8_t t, uint8_t *elem, uint32_t *n);

#endif
