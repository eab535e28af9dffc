/* fuzz_jsonl.c -- the JSONL reader and the builder: the input is read as a
 * JSONL file (torn last line tolerated, malformed lines counted), every
 * object read is written back with jb_json and must parse back equal; the
 * same value is written again under extra levels of our own, where a part
 * deeper than JB_MAX_DEPTH must be refused (jb_ok false) and the text must
 * still be valid JSON.  The input's first line is also fed to the builder
 * as a script of opens and closes (any depth, unbalanced): nothing may be
 * written out of bounds. */
#include "fuzz.h"

#include "common/jsonl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

/* The value written back by our builder reads back as the same value. */
static void round_trip(const json_t *o)
{
    struct jbuf b;
    jb_init(&b);
    if (jb_json(&b, NULL, o) != 0 || !jb_ok(&b))
        abort();  /* read values are at most JSONL_MAX_DEPTH deep */
    json_error_t je;
    json_t *back = json_loadb(b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    /* NaN cannot be read, and jansson reals are finite: equal means equal */
    if (!back || !json_equal(o, back))
        abort();
    json_decref(back);

    /* Wrapped in enough levels to push the deepest part past the limit. */
    jb_reset(&b);
    int wrap = JB_MAX_DEPTH - JSONL_MAX_DEPTH + 1;
    for (int i = 0; i < wrap; i++)
        jb_arr_open(&b, NULL);
    int rc = jb_json(&b, NULL, o);
    for (int i = 0; i < wrap; i++)
        jb_arr_close(&b);
    if ((rc != 0) != !jb_ok(&b) || b.depth != 0)
        abort();
    back = json_loadb(b.p, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!back)
        abort();  /* what is refused is left out whole: still JSON */
    if (rc == 0) {
        json_t *x = back;
        for (int i = 0; i < wrap; i++)
            x = json_array_get(x, 0);
        if (!json_equal(o, x))
            abort();
    }
    json_decref(back);
    jb_free(&b);
}

/* Opens and closes as the bytes say ('[' or '{' opens an array, ']' or
 * '}' closes one if open, another byte is a value), at any depth: the
 * builder stays in bounds (ASan), its depth comes back to 0 and the text is
 * JSON, with jb_ok false exactly when the script went past JB_MAX_DEPTH. */
static void script(const uint8_t *p, size_t n)
{
    struct jbuf b;
    jb_init(&b);
    int depth = 1, max = 1;
    jb_arr_open(&b, NULL);
    for (size_t i = 0; i < n && i < 4096; i++) {
        if (p[i] == '[' || p[i] == '{') {
            jb_arr_open(&b, NULL);
            if (++depth > max)
                max = depth;
        } else if ((p[i] == ']' || p[i] == '}') && depth > 1) {
            jb_arr_close(&b);
            depth--;
        } else {
            jb_int(&b, NULL, p[i]);
        }
    }
    while (depth-- > 0)
        jb_arr_close(&b);
    if (b.depth != 0 || jb_ok(&b) != (max <= JB_MAX_DEPTH))
        abort();
    json_t *v = json_loadb(b.p, b.len, JSON_DECODE_ANY, NULL);
    if (!v)
        abort();
    json_decref(v);
    jb_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = fuzz_tmpfile(data, size, ".jsonl");
    struct jsonl_reader r;
    if (jsonl_reader_open(&r, path) < 0)
        abort();
    json_t *o;
    int rc;
    while ((rc = jsonl_next(&r, &o)) == 1) {
        round_trip(o);
        json_decref(o);
    }
    if (rc < 0)
        abort();
    /* every line is exactly one of: an object, blank, malformed, torn */
    if (r.good + r.blank + r.malformed + r.torn != r.lineno)
        abort();
    jsonl_reader_close(&r);
    unlink(path);
    free(path);
    const uint8_t *nl = memchr(data, '\n', size);
    script(data, nl ? (size_t)(nl - data) : size);
    return 0;
}
