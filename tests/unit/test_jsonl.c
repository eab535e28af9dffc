#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/jsonl.h"
#include "common/util.h"

static void test_builder_python_spacing(void **state)
{
    (void)state;
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_int(&b, "ts_ms", 1758580001000);
    jb_int(&b, "neg", -42);
    jb_str(&b, "s", "a\"b\\c\n\x01");
    jb_null(&b, "n");
    jb_bool(&b, "t", true);
    jb_arr_open(&b, "arr");
    jb_int(&b, NULL, 1);
    jb_int(&b, NULL, 2);
    jb_arr_close(&b);
    jb_obj_open(&b, "o");
    jb_fixed(&b, "x", 1.5, 3);
    jb_obj_close(&b);
    jb_obj_close(&b);
    assert_string_equal(b.p, "{\"ts_ms\": 1758580001000, \"neg\": -42, \"s\": \"a\\\"b\\\\c\\n\\u0001\", "
                             "\"n\": null, \"t\": true, \"arr\": [1, 2], \"o\": {\"x\": 1.500}}");
    jb_free(&b);
}

/* Any bytes make valid JSON: well-formed UTF-8 is kept, a broken, overlong
 * or surrogate sequence (a process name from /proc, a string cut at a byte
 * limit) becomes U+FFFD, so no reader refuses the line (fuzz_rawrec). */
static void test_builder_any_bytes(void **state)
{
    (void)state;
    static const struct { const char *in, *out; } cases[] = {
        {"caf\xc3\xa9 \xe1\x97\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe1\x97\xa9 \xf0\x9f\x98\x80\""},
        {"a\xe1\x97", "\"a\\ufffd\\ufffd\""},          /* cut mid-sequence */
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},             /* overlong '/' */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""}, /* a surrogate */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* above U+10FFFF */
        {"x\xff\x7f", "\"x\\ufffd\\u007f\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct jbuf b;
        jb_init(&b);
        jb_str(&b, NULL, cases[i].in);
        assert_string_equal(b.p, cases[i].out);
        json_t *v = json_loadb(b.p, b.len, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        json_decref(v);
        jb_free(&b);
    }
}

static void test_doubles_round_trip(void **state)
{
    (void)state;
    struct jbuf b;
    jb_init(&b);
    const double vals[] = {4438.150000000001, 0.1, 1.0, -2.5, 1e-7, 123456789.125, 0.0};
    const char *want[] = {"4438.150000000001", "0.1", "1.0", "-2.5", "1e-07", "123456789.125", "0.0"};
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        jb_reset(&b);
        jb_double(&b, NULL, vals[i]);
        assert_string_equal(b.p, want[i]);
        assert_true(strtod(b.p, NULL) == vals[i]);
    }
    jb_reset(&b);
    jb_fixed(&b, NULL, -0.0004, 3);
    assert_string_equal(b.p, "0.000");
    jb_reset(&b);
    jb_fixed(&b, NULL, 12.3456, 2);
    assert_string_equal(b.p, "12.35");
    jb_reset(&b);
    jb_double(&b, NULL, 0.0 / 0.0);
    assert_string_equal(b.p, "null");
    jb_free(&b);
}

static char *tmpfile_path(void)
{
    char *p = xstrdup("/tmp/tk-jsonl-XXXXXX");
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    close(fd);
    return p;
}

/* Issue #13: first[] was written past its end by values deeper than 16. */
static void test_builder_refuses_deep_nesting(void **state)
{
    (void)state;
    struct jbuf b;
    jb_init(&b);
    for (int i = 0; i < 1000; i++)
        jb_arr_open(&b, NULL);
    jb_int(&b, NULL, 7);
    for (int i = 0; i < 1000; i++)
        jb_arr_close(&b);
    assert_false(jb_ok(&b));
    assert_int_equal(b.depth, 0);
    /* JB_MAX_DEPTH empty arrays: the refused part is left out whole */
    assert_int_equal(b.len, 2 * JB_MAX_DEPTH);
    json_t *v = json_loads(b.p, 0, NULL);
    assert_non_null(v);
    json_decref(v);
    jb_reset(&b);
    assert_true(jb_ok(&b));

    /* jb_json: a jansson value 1000 deep (built by hand: no parser limit) */
    json_t *deep = json_integer(1);
    for (int i = 0; i < 1000; i++) {
        json_t *a = json_array();
        json_array_append_new(a, deep);
        deep = a;
    }
    jb_obj_open(&b, NULL);
    jb_int(&b, "before", 1);
    assert_int_equal(jb_json(&b, "deep", deep), -1);
    jb_int(&b, "after", 2);
    jb_obj_close(&b);
    assert_false(jb_ok(&b));
    v = json_loads(b.p, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "after")), 2);
    json_decref(v);
    json_decref(deep);

    /* exactly JB_MAX_DEPTH levels is fine */
    jb_reset(&b);
    for (int i = 0; i < JB_MAX_DEPTH; i++)
        jb_obj_open(&b, i ? "k" : NULL);
    for (int i = 0; i < JB_MAX_DEPTH; i++)
        jb_obj_close(&b);
    assert_true(jb_ok(&b));
    jb_free(&b);
}

static char *nested(int depth, const char *inner)
{
    size_t n = strlen(inner);
    char *s = xmalloc(2 * (size_t)depth + n + 1);
    memset(s, '[', (size_t)depth);
    memcpy(s + depth, inner, n);
    memset(s + depth + n, ']', (size_t)depth);
    s[2 * depth + n] = '\0';
    return s;
}

static void test_reader_depth_limit(void **state)
{
    (void)state;
    char *ok = nested(JSONL_MAX_DEPTH - 1, "1"), *deep = nested(JSONL_MAX_DEPTH, "1");
    char *bomb = nested(1000, "1");
    json_error_t je;
    char *s = xasprintf("{\"a\": %s}", ok);
    json_t *v = jsonl_loads(s, 0, &je);
    assert_non_null(v);
    json_decref(v);
    free(s);
    s = xasprintf("{\"a\": %s}", deep);
    assert_null(jsonl_loads(s, 0, &je));
    assert_string_equal(je.text, "nested deeper than 16 levels");
    assert_int_equal(je.position, 6 + JSONL_MAX_DEPTH);
    /* brackets inside strings are text */
    assert_int_equal(jsonl_text_depth("{\"a\": \"[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"}", 36, 16), 1);

    char path[] = "/tmp/tk-jsonl-deep.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"a\": %s}\n{\"a\": %s}\n{\"a\": %s}\n", ok, deep, bomb);
    fputc('{', f);  /* a 10 MB line, then a good one */
    for (int i = 0; i < 10 << 20; i++)
        fputc('[', f);
    fprintf(f, "\n{\"ok\": true}\n");
    fclose(f);
    struct jsonl_reader r;
    assert_int_equal(jsonl_reader_open(&r, path), 0);
    json_t *o;
    int good = 0;
    while (jsonl_next(&r, &o) == 1) {
        good++;
        json_decref(o);
    }
    assert_int_equal(good, 2);
    assert_int_equal(r.malformed, 3);
    assert_int_equal(r.lineno, 5);
    jsonl_reader_close(&r);
    unlink(path);
    free(s);
    free(ok);
    free(deep);
    free(bomb);
}

static void test_timestamps(void **state)
{
    (void)state;
    json_t *o = json_loads("{\"a\": 1758580000000, \"big\": 9223372036854775807, \"neg\": -1, "
                           "\"r\": 1.7e12, \"s\": \"1\", \"top\": 7258118400000, "
                           "\"over\": 7258118400001}", 0, NULL);
    int64_t v = 0;
    bool bad = true;
    assert_true(jsonl_ts(o, "a", &v, &bad));
    assert_true(v == 1758580000000 && !bad);
    assert_true(jsonl_ts(o, "r", &v, &bad) && v == 1700000000000);
    assert_true(jsonl_ts(o, "top", &v, NULL));
    assert_false(jsonl_ts(o, "big", &v, &bad));
    assert_true(bad);
    assert_false(jsonl_ts(o, "neg", &v, &bad));
    assert_true(bad);
    assert_false(jsonl_ts(o, "over", &v, NULL));
    assert_false(jsonl_ts(o, "s", &v, &bad));
    assert_false(bad);  /* not an integer: absent, not implausible */
    assert_false(jsonl_ts(o, "missing", &v, &bad));
    assert_false(bad);
    json_decref(o);
}

static void test_writer_closes_torn_line_and_reader_counts(void **state)
{
    (void)state;
    char *path = tmpfile_path();
    /* A previous writer died mid-line. */
    FILE *f = fopen(path, "w");
    fputs("{\"a\": 1}\nnot json\n{\"b\": 2", f);
    fclose(f);

    struct jsonl_writer w;
    assert_int_equal(jsonl_open(&w, path, 1000), 0);
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_int(&b, "c", 3);
    jb_obj_close(&b);
    jsonl_add(&w, &b);
    assert_int_equal(jsonl_close(&w), 0);
    /* And a new torn line at the end. */
    f = fopen(path, "a");
    fputs("{\"d\": ", f);
    fclose(f);

    struct jsonl_reader r;
    assert_int_equal(jsonl_reader_open(&r, path), 0);
    json_t *o;
    int keys = 0;
    while (jsonl_next(&r, &o) == 1) {
        keys++;
        json_decref(o);
    }
    assert_int_equal(keys, 2);       /* a, c */
    assert_int_equal(r.malformed, 2); /* "not json", the old torn {"b": 2 now closed by '\n' */
    assert_int_equal(r.torn, 1);      /* the new unterminated last line */
    jsonl_reader_close(&r);
    jb_free(&b);
    unlink(path);
    free(path);
}

static void test_append_line(void **state)
{
    (void)state;
    char *path = tmpfile_path();
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "x", "y");
    jb_obj_close(&b);
    assert_int_equal(jsonl_append_line(path, &b), 0);
    assert_int_equal(jsonl_append_line(path, &b), 0);
    char *text = read_file(path, NULL);
    assert_string_equal(text, "{\"x\": \"y\"}\n{\"x\": \"y\"}\n");
    free(text);
    jb_free(&b);
    unlink(path);
    free(path);
}

/* Processes appending to one file at once (a worker's tasks all write
 * events.APP.jsonl): every record on a line of its own, no blank lines.
 * Records of 3000 bytes straddle pages, so another appender can see the
 * file's size in the middle of one (the size grows page by page). */
static void test_append_line_concurrent(void **state)
{
    (void)state;
    enum { PROCS = 4, EACH = 150 };
    char *path = tmpfile_path();
    char pad[3001];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    pid_t kids[PROCS];
    for (int k = 0; k < PROCS; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            struct jbuf b;
            jb_init(&b);
            int ok = 1;
            for (int i = 0; ok && i < EACH; i++) {
                jb_reset(&b);
                jb_obj_open(&b, NULL);
                jb_int(&b, "k", k);
                jb_int(&b, "i", i);
                jb_str(&b, "pad", pad + (i * 37 + k * 11) % 1000);
                jb_obj_close(&b);
                ok = jsonl_append_line(path, &b) == 0;
            }
            jb_free(&b);
            _exit(ok ? 0 : 1);
        }
    }
    for (int k = 0; k < PROCS; k++) {
        int st;
        assert_int_equal(waitpid(kids[k], &st, 0), kids[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    struct jsonl_reader r;
    assert_int_equal(jsonl_reader_open(&r, path), 0);
    json_t *o;
    while (jsonl_next(&r, &o) == 1)
        json_decref(o);
    assert_int_equal(r.good, PROCS * EACH);
    assert_int_equal(r.blank, 0);
    assert_int_equal(r.malformed + r.torn, 0);
    jsonl_reader_close(&r);
    unlink(path);
    free(path);
}

/* A symlink planted at a JSONL file's name (the collector's and exec's
 * appends, any reader) is never followed; a FIFO is refused at once. */
/* A line over JSONL_MAX_LINE is never held whole (the buffer stays at the
 * limit; getline grew it to the line's size, a few GB from a hostile file):
 * it comes back as one byte no parser takes, counted as oversized and
 * malformed; the lines around it, CRLF and a torn last line read as before. */
static void test_oversized_line(void **state)
{
    (void)state;
    char path[] = "/tmp/tk-jsonl-big-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "{\"a\": 1}\r\n{\"s\": \"");
    for (size_t i = 0; i < JSONL_MAX_LINE + 100; i++)
        fputc('x', f);
    fprintf(f, "\"}\n\n{\"b\": 2}\n{\"c\": 3");
    fclose(f);
    struct jsonl_reader r;
    assert_int_equal(jsonl_reader_open(&r, path), 0);
    json_t *o;
    assert_int_equal(jsonl_next(&r, &o), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "a")), 1);
    json_decref(o);
    assert_int_equal(jsonl_next(&r, &o), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "b")), 2);
    json_decref(o);
    assert_true(r.cap <= JSONL_MAX_LINE + 1);
    assert_int_equal(r.oversized, 1);
    assert_int_equal(r.malformed, 1);
    assert_int_equal(r.blank, 1);
    assert_int_equal(jsonl_next(&r, &o), 0);   /* the torn last line */
    assert_int_equal(r.torn, 1);
    assert_int_equal(r.lineno, 5);
    jsonl_reader_close(&r);
    unlink(path);
}

static void test_planted_links_and_fifos(void **state)
{
    (void)state;
    char dir[] = "/tmp/tk-jsonl-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *victim = xasprintf("%s/victim", dir), *link = xasprintf("%s/proc_metrics.jsonl", dir);
    char *fifo = xasprintf("%s/events.x.jsonl", dir);
    assert_int_equal(write_file_atomic(victim, "precious\n", 9), 0);
    assert_int_equal(symlink(victim, link), 0);
    struct jsonl_writer w;
    assert_int_equal(jsonl_open(&w, link, 0), -1);
    assert_int_equal(errno, ELOOP);
    struct jbuf line;
    jb_init(&line);
    jb_obj_open(&line, NULL);
    jb_obj_close(&line);
    assert_int_equal(jsonl_append_line(link, &line), -1);
    jb_free(&line);
    struct jsonl_reader r;
    assert_int_equal(jsonl_reader_open(&r, link), -1);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(jsonl_reader_open(&r, fifo), -1);  /* returns: no writer is waited for */
    assert_int_equal(errno, EINVAL);
    json_error_t je;
    assert_null(jsonl_load_file(fifo, 0, &je));
    assert_non_null(strstr(je.text, "not a regular file"));
    char *t = read_file(victim, NULL);
    assert_string_equal(t, "precious\n");
    free(t);
    unlink(fifo);
    unlink(link);
    unlink(victim);
    rmdir(dir);
    free(fifo);
    free(link);
    free(victim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builder_python_spacing),
        cmocka_unit_test(test_builder_any_bytes),
        cmocka_unit_test(test_doubles_round_trip),
        cmocka_unit_test(test_builder_refuses_deep_nesting),
        cmocka_unit_test(test_reader_depth_limit),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_writer_closes_torn_line_and_reader_counts),
        cmocka_unit_test(test_append_line),
        cmocka_unit_test(test_append_line_concurrent),
        cmocka_unit_test(test_planted_links_and_fifos),
        cmocka_unit_test(test_oversized_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
