/* fuzz_rawrec.c -- the raw proc_metrics scanner (trace/rawproc.c) and what
 * `parse` and the CTS derivation do with its records: the input is read as
 * a proc_metrics.jsonl file the way parse_run does (jsonl_next_line, then
 * raw_parse_line), every OK sample is fed to the CTS derivation (cts_feed)
 * and its record written (cts_rec_json); and the whole input is also one
 * line.  Properties: ok + invalid + malformed + blank = lines; an OK sample
 * has a plausible ts_ms; the fast path and jansson agree on every line the
 * fast path accepts; a derived record is valid JSON. */
#include "fuzz.h"

#include "common/jsonl.h"
#include "trace/cts.h"
#include "trace/rawproc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

static enum raw_result check_line(const char *line, size_t len, struct raw_sample *s)
{
    enum raw_result r = raw_parse_line(line, len, s);
    if (r == RAW_FALLBACK)
        abort();
    if (r == RAW_OK && !jsonl_ts_valid(s->ts_ms))
        abort();
    /* The fast path's verdict is jansson's: a line it takes must read the
     * same through the slow path. */
    struct raw_sample fast;
    if (raw_parse_fast(line, len, &fast) == RAW_OK) {
        json_t *o = jsonl_loadb(line, len, JSON_ALLOW_NUL, NULL);
        struct raw_sample slow;
        if (!o || raw_from_json(o, &slow) != RAW_OK || slow.ts_ms != fast.ts_ms ||
            slow.pid != fast.pid || r != RAW_OK)
            abort();
        json_decref(o);
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = fuzz_tmpfile(data, size, ".jsonl");
    struct jsonl_reader r;
    if (jsonl_reader_open(&r, path) < 0)
        abort();
    struct cts_opts o;
    cts_opts_default(&o);
    struct cts c;
    cts_init(&c, &o);
    struct jbuf b;
    jb_init(&b);
    uint64_t ok = 0, invalid = 0, malformed = 0, blank = 0;
    const char *line;
    size_t len;
    bool complete;
    int rc;
    while ((rc = jsonl_next_line(&r, &line, &len, &complete)) == 1) {
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len) {
            blank++;
            continue;
        }
        struct raw_sample s;
        switch (check_line(line, len, &s)) {
        case RAW_OK: {
            ok++;
            struct cts_rec rec;
            if (cts_feed(&c, &s, &rec)) {
                jb_reset(&b);
                cts_rec_json(&b, &rec);
                json_t *v = json_loadb(b.p, b.len, 0, NULL);
                if (!v || !jb_ok(&b))
                    abort();
                json_decref(v);
            }
            break;
        }
        case RAW_INVALID: invalid++; break;
        default: malformed++; break;
        }
    }
    if (rc < 0 || ok + invalid + malformed + blank != r.lineno)
        abort();
    jb_free(&b);
    cts_free(&c);
    jsonl_reader_close(&r);
    unlink(path);
    free(path);
    struct raw_sample s;
    check_line((const char *)data, size, &s);
    return 0;
}
