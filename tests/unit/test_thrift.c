/* test_thrift.c -- Thrift compact protocol: exact bytes from the spec,
 * round trips, skipping of unknown fields of every type, and bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parquet/thrift.h"

static void test_varint_and_zigzag(void **state)
{
    (void)state;
    struct bbuf b;
    bb_init(&b);
    bb_varint(&b, 50399);   /* the example of thrift-compact-protocol.md */
    assert_int_equal(b.len, 3);
    assert_int_equal(b.p[0], 0xDF);
    assert_int_equal(b.p[1], 0x89);
    assert_int_equal(b.p[2], 0x03);
    assert_int_equal(zigzag64(0), 0);
    assert_int_equal(zigzag64(-1), 1);
    assert_int_equal(zigzag64(1), 2);
    assert_int_equal(zigzag64(-2), 3);
    const int64_t vals[] = {0, 1, -1, 63, -64, 64, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++)
        assert_true(unzigzag64(zigzag64(vals[i])) == vals[i]);
    /* A 64-bit value takes ten bytes; an eleventh is corrupt. */
    bb_reset(&b);
    bb_varint(&b, UINT64_MAX);
    assert_int_equal(b.len, 10);
    bb_free(&b);
}

/* Field headers: short form for id deltas 1..15, long form otherwise. */
static void test_exact_bytes(void **state)
{
    (void)state;
    struct bbuf b;
    struct tw w;
    bb_init(&b);
    tw_init(&w, &b);
    tw_begin(&w);
    tw_i32(&w, 1, 5);          /* 0x15 0x0A */
    tw_bool(&w, 2, true);      /* 0x11 */
    tw_bool(&w, 3, false);     /* 0x12 */
    tw_i64(&w, 20, -3);        /* delta 17: 0x06, zigzag id 40 = 0x28, value 5 */
    tw_string(&w, 21, "ab");   /* 0x18 0x02 'a' 'b' */
    tw_list(&w, 22, TC_I32, 2); /* 0x19 0x25 */
    tw_elem_i32(&w, 1);
    tw_elem_i32(&w, -1);
    tw_end(&w);
    const uint8_t want[] = {0x15, 0x0A, 0x11, 0x12, 0x06, 0x28, 0x05, 0x18, 0x02, 'a', 'b',
                            0x19, 0x25, 0x02, 0x01, 0x00};
    assert_int_equal(b.len, sizeof want);
    assert_memory_equal(b.p, want, sizeof want);
    bb_free(&b);
}

/* Everything the encoder writes, read back. */
static void test_round_trip(void **state)
{
    (void)state;
    struct bbuf b;
    struct tw w;
    bb_init(&b);
    tw_init(&w, &b);
    tw_begin(&w);
    tw_i8(&w, 1, -7);
    tw_i32(&w, 2, INT32_MIN);
    tw_i64(&w, 3, INT64_MAX);
    tw_double(&w, 4, -1.5e300);
    tw_binary(&w, 5, "\0\1\2", 3);
    tw_list(&w, 6, TC_BINARY, 20);   /* long list form */
    for (int i = 0; i < 20; i++)
        tw_elem_string(&w, i % 2 ? "odd" : "even");
    tw_struct(&w, 300);
    tw_i32(&w, 1, 42);
    tw_end(&w);
    tw_list(&w, 301, TC_STRUCT, 2);
    for (int i = 0; i < 2; i++) {
        tw_begin(&w);
        tw_i64(&w, 1, i);
        tw_end(&w);
    }
    tw_end(&w);

    struct tr r;
    tr_init(&r, b.p, b.len);
    tr_begin(&r);
    int16_t id;
    uint8_t t, et;
    uint32_t n;
    int seen = 0;
    while (tr_field(&r, &id, &t)) {
        int32_t i32;
        int64_t i64;
        double d;
        const uint8_t *p;
        size_t len;
        switch (id) {
        case 1: assert_true(tr_i32(&r, t, &i32)); assert_int_equal(i32, -7); break;
        case 2: assert_true(tr_i32(&r, t, &i32)); assert_true(i32 == INT32_MIN); break;
        case 3: assert_true(tr_i64(&r, t, &i64)); assert_true(i64 == INT64_MAX); break;
        case 4: assert_true(tr_double(&r, t, &d)); assert_true(d == -1.5e300); break;
        case 5:
            assert_true(tr_binary(&r, t, &p, &len));
            assert_int_equal(len, 3);
            assert_memory_equal(p, "\0\1\2", 3);
            break;
        case 6:
            assert_true(tr_list(&r, t, &et, &n));
            assert_int_equal(n, 20);
            for (uint32_t i = 0; i < n; i++) {
                assert_true(tr_binary(&r, et, &p, &len));
                assert_int_equal(len, i % 2 ? 3 : 4);
            }
            break;
        case 300:
            assert_true(tr_struct(&r, t));
            while (tr_field(&r, &id, &t)) {
                assert_int_equal(id, 1);
                assert_true(tr_i32(&r, t, &i32));
                assert_int_equal(i32, 42);
            }
            break;
        case 301:
            assert_true(tr_list(&r, t, &et, &n));
            assert_int_equal(n, 2);
            for (uint32_t i = 0; i < n; i++) {
                assert_true(tr_struct(&r, et));
                while (tr_field(&r, &id, &t)) {
                    assert_true(tr_i64(&r, t, &i64));
                    assert_int_equal(i64, i);
                }
            }
            break;
        default: fail_msg("unexpected field %d", id);
        }
        seen++;
    }
    assert_null(r.err);
    assert_int_equal(seen, 8);
    assert_int_equal(tr_pos(&r), b.len);
    bb_free(&b);
}

/* A struct whose first fields are of every wire type, unknown to the
 * reader, hand-encoded (maps, sets, UUIDs, bool lists and nested lists are
 * never written by our encoder), followed by the one field it wants. */
static void build_unknown(struct bbuf *b)
{
    /* field 1: bool true (in the header) */
    bb_byte(b, 0x11);
    /* field 2: i8 */
    bb_byte(b, 0x13);
    bb_byte(b, 0x80);
    /* field 3: i16 -2 */
    bb_byte(b, 0x14);
    bb_byte(b, 0x03);
    /* field 4: double */
    bb_byte(b, 0x17);
    const uint8_t one[8] = {0, 0, 0, 0, 0, 0, 0xF0, 0x3F};
    bb_append(b, one, 8);
    /* field 5: map<i32, binary> of 2 entries */
    bb_byte(b, 0x1B);
    bb_varint(b, 2);
    bb_byte(b, 0x58);
    bb_varint(b, zigzag64(1));
    bb_varint(b, 1);
    bb_byte(b, 'x');
    bb_varint(b, zigzag64(2));
    bb_varint(b, 2);
    bb_append(b, "yz", 2);
    /* field 6: empty map */
    bb_byte(b, 0x1B);
    bb_byte(b, 0x00);
    /* field 7: set<bool> of 3, element type 1 (as Java writes) */
    bb_byte(b, 0x1A);
    bb_byte(b, 0x31);
    bb_append(b, "\1\2\1", 3);
    /* field 8: list<bool> of 2, element type 2 (as the spec says) */
    bb_byte(b, 0x19);
    bb_byte(b, 0x22);
    bb_append(b, "\1\0", 2);
    /* field 9: uuid */
    bb_byte(b, 0x1D);
    for (int i = 0; i < 16; i++)
        bb_byte(b, (uint8_t)i);
    /* field 10: list<list<i64>>: [[1, 2], []] */
    bb_byte(b, 0x19);
    bb_byte(b, 0x29);
    bb_byte(b, 0x26);
    bb_varint(b, 2);
    bb_varint(b, 4);
    bb_byte(b, 0x06);
    /* field 11: struct { 1: struct { 5: binary "deep" }, 2: i64 } */
    bb_byte(b, 0x1C);
    bb_byte(b, 0x1C);
    bb_byte(b, 0x58);
    bb_varint(b, 4);
    bb_append(b, "deep", 4);
    bb_byte(b, 0x00);
    bb_byte(b, 0x16);
    bb_varint(b, 99);
    bb_byte(b, 0x00);
    /* field 1000 (long form): the one the reader wants, i32 1234 */
    bb_byte(b, 0x05);
    bb_varint(b, zigzag64(1000));
    bb_varint(b, zigzag64(1234));
    bb_byte(b, 0x00);
}

static void test_skip_unknown(void **state)
{
    (void)state;
    struct bbuf b;
    bb_init(&b);
    build_unknown(&b);
    struct tr r;
    tr_init(&r, b.p, b.len);
    tr_begin(&r);
    int16_t id;
    uint8_t t;
    int32_t v = 0;
    int fields = 0;
    while (tr_field(&r, &id, &t)) {
        fields++;
        if (id == 1000)
            assert_true(tr_i32(&r, t, &v));
        else
            tr_skip(&r, t);
    }
    assert_null(r.err);
    assert_int_equal(fields, 12);
    assert_int_equal(v, 1234);
    assert_int_equal(tr_pos(&r), b.len);

    /* Every proper prefix is an error, never a read past the end. */
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.p, n);
        tr_init(&r, copy, n);
        tr_begin(&r);
        while (tr_field(&r, &id, &t))
            tr_skip(&r, t);
        assert_non_null(r.err);
        free(copy);
    }
    bb_free(&b);
}

/* A known field id with an unexpected wire type is skipped, not misread. */
static void test_type_mismatch_skipped(void **state)
{
    (void)state;
    struct bbuf b;
    struct tw w;
    bb_init(&b);
    tw_init(&w, &b);
    tw_begin(&w);
    tw_string(&w, 1, "not an int");
    tw_i32(&w, 2, 77);
    tw_end(&w);
    struct tr r;
    tr_init(&r, b.p, b.len);
    tr_begin(&r);
    int16_t id;
    uint8_t t;
    int32_t a = -1, c = -1;
    while (tr_field(&r, &id, &t)) {
        if (id == 1)
            assert_false(tr_i32(&r, t, &a));
        else
            assert_true(tr_i32(&r, t, &c));
    }
    assert_null(r.err);
    assert_int_equal(a, -1);
    assert_int_equal(c, 77);
    bb_free(&b);
}

static const char *decode_all(const uint8_t *p, size_t n)
{
    struct tr r;
    tr_init(&r, p, n);
    tr_begin(&r);
    int16_t id;
    uint8_t t;
    while (tr_field(&r, &id, &t))
        tr_skip(&r, t);
    return r.err;
}

static void test_bounds(void **state)
{
    (void)state;
    uint8_t buf[512];

    /* 200 nested structs: refused at the depth limit. */
    for (int i = 0; i < 200; i++)
        buf[i] = 0x1C;
    memset(buf + 200, 0, 200);
    assert_string_equal(decode_all(buf, 400), "structs nested too deeply");

    /* 200 nested lists. */
    buf[0] = 0x19;
    for (int i = 1; i < 200; i++)
        buf[i] = 0x19;
    buf[200] = 0x00;
    assert_non_null(decode_all(buf, 201));

    /* A list claiming a million elements in 3 bytes. */
    const uint8_t biglist[] = {0x19, 0xF5, 0xC0, 0x84, 0x3D, 0x00};
    assert_string_equal(decode_all(biglist, sizeof biglist), "list longer than its data");

    /* An empty list whose element type is 0, as hyparquet-writer writes a
     * file of no rows' row groups: read (the type of no elements says
     * nothing); a list of one element of type 0 is still refused. */
    const uint8_t empty0[] = {0x19, 0x00, 0x00};
    assert_null(decode_all(empty0, sizeof empty0));
    const uint8_t one0[] = {0x19, 0x10, 0x00, 0x00};
    assert_string_equal(decode_all(one0, sizeof one0), "unknown list element type");

    /* A binary claiming more bytes than there are. */
    const uint8_t bigbin[] = {0x18, 0x10, 'a', 0x00};
    assert_string_equal(decode_all(bigbin, sizeof bigbin), "binary longer than its data");

    /* Unknown wire type 14. */
    const uint8_t badtype[] = {0x1E, 0x00};
    assert_string_equal(decode_all(badtype, sizeof badtype), "unknown field type");

    /* An eleven-byte varint. */
    const uint8_t longvar[] = {0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x00};
    assert_string_equal(decode_all(longvar, sizeof longvar), "varint too long");

    /* A field id beyond i16 in long form. */
    const uint8_t bigid[] = {0x05, 0x80, 0x80, 0x04, 0x02, 0x00};
    assert_string_equal(decode_all(bigid, sizeof bigid), "field id out of range");

    /* An i64 value read as i32 is out of range. */
    struct tr r;
    const uint8_t big32[] = {0x16, 0x80, 0x80, 0x80, 0x80, 0x20, 0x00};
    tr_init(&r, big32, sizeof big32);
    tr_begin(&r);
    int16_t id;
    uint8_t t;
    int32_t v = 5;
    assert_true(tr_field(&r, &id, &t));
    assert_false(tr_i32(&r, t, &v));
    assert_string_equal(r.err, "i32 out of range");
    assert_int_equal(v, 5);

    /* Random bytes never crash the skipper. */
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 64) + 1;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        (void)decode_all(buf, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_and_zigzag),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_skip_unknown),
        cmocka_unit_test(test_type_mismatch_skipped),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
