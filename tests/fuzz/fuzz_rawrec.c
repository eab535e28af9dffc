/* fuzz_rawrec.c -- the raw proc_metrics scanner (trace/rawproc.c) and what
 * `parse` and the CTS derivation do with its records: the input is read as
 * a proc_metrics.jsonl file the way parse_run does (jsonl_next_line, then
 * raw_parse_line), every OK sample is fed to the CTS derivation (cts_feed)
 * and its record written (cts_rec_json); and the whole input is also one
 * line.  Properties: ok + invalid + malformed + blank = lines; an OK sample
 * has a plausible ts_ms; the fast path and jansson agree on every field of
 * every line the fast path accepts; a derived record is valid JSON with no
 * negative CPU or run delay.  The CTS sample reader (cts_sample_scan, what
 * export and report read CTS/proc_metrics.jsonl with) takes a line iff
 * jansson makes an object of it, and reads every field as jsonl_int,
 * jsonl_num and jsonl_ts do, bit for bit. */
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

/* Every field both parsers fill, issue #14's keys included. */
static bool same_sample(const struct raw_sample *a, const struct raw_sample *b)
{
#define SAME(f) (a->f == b->f)
    return SAME(ts_ms) && SAME(pid) && SAME(has_rss) && SAME(has_ticks) && SAME(has_start) &&
           SAME(has_cpu_ms) && SAME(has_mono) && SAME(has_comm) && SAME(has_run_delay) &&
           SAME(has_elapsed) && SAME(has_rss_peak) && SAME(has_us) && SAME(has_exit_code) &&
           SAME(has_time_err) && (!a->has_time_err || SAME(time_err_ms)) &&
           SAME(taskstats) && SAME(ev) && (!a->has_rss || SAME(rss_kb)) &&
           (!a->has_ticks || (SAME(utime) && SAME(stime))) &&
           (!a->has_start || SAME(start_ticks)) && (!a->has_cpu_ms || SAME(cpu_ms)) &&
           (!a->has_mono || SAME(mono_us)) && (!a->has_comm || !strcmp(a->comm, b->comm)) &&
           (!a->has_run_delay || SAME(run_delay_ms)) && (!a->has_elapsed || SAME(elapsed_ms)) &&
           (!a->has_rss_peak || SAME(rss_peak_kb)) &&
           (!a->has_us || (SAME(utime_us) && SAME(stime_us))) &&
           (!a->has_exit_code || SAME(exit_code));
#undef SAME
}

/* cts_sample_scan against jsonl_loadb + the jsonl_ field readers. */
static void check_cts_sample(const char *line, size_t len)
{
    struct cts_sample a, b;
    memset(&b, 0, sizeof b);
    bool ok = cts_sample_scan(line, len, &a);
    json_t *o = jsonl_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (ok != json_is_object(o))
        abort();
    if (ok) {
        b.has_ts = jsonl_ts(o, "ts_ms", &b.ts_ms, &b.bad_ts);
        b.has_pid = jsonl_int(o, "pid", &b.pid);
        b.has_dt = jsonl_num(o, "dt_ms", &b.dt_ms);
        b.has_cpu = jsonl_num(o, "cpu_ms", &b.cpu_ms);
        b.has_rss = jsonl_int(o, "rss_kb", &b.rss_kb);
        b.has_start = jsonl_int(o, "start_ticks", &b.start_ticks);
        b.has_delay = jsonl_num(o, "run_delay_ms", &b.delay_ms);
        b.has_before = jsonl_num(o, "cpu_before_ms", &b.cpu_before_ms);
#define SAME(h, f) (a.h == b.h && (!a.h || !memcmp(&a.f, &b.f, sizeof a.f)))
        if (!SAME(has_ts, ts_ms) || a.bad_ts != b.bad_ts || !SAME(has_pid, pid) || !SAME(has_dt, dt_ms) ||
            !SAME(has_cpu, cpu_ms) || !SAME(has_rss, rss_kb) || !SAME(has_start, start_ticks) ||
            !SAME(has_delay, delay_ms) || !SAME(has_before, cpu_before_ms))
            abort();
#undef SAME
    }
    json_decref(o);
}

static enum raw_result check_line(const char *line, size_t len, struct raw_sample *s)
{
    check_cts_sample(line, len);
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
        if (!o || raw_from_json(o, &slow) != RAW_OK || !same_sample(&fast, &slow) || r != RAW_OK)
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
            struct cts_rec rec[CTS_FEED_MAX];
            size_t n = cts_feed(&c, &s, rec);
            for (size_t k = 0; k < n; k++) {
                jb_reset(&b);
                cts_rec_json(&b, &rec[k]);
                json_t *v = json_loadb(b.p, b.len, 0, NULL);
                if (!v || !jb_ok(&b))
                    abort();
                /* never a negative interval, CPU or run delay */
                if (rec[k].has_dt && (rec[k].cpu_ms < 0 || (rec[k].has_delay && rec[k].delay_ms < 0)))
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
    /* cts_sample_next counts as jsonl_next does */
    struct jsonl_reader r1, r2;
    if (jsonl_reader_open(&r1, path) < 0 || jsonl_reader_open(&r2, path) < 0)
        abort();
    json_t *obj;
    struct cts_sample cs;
    while (jsonl_next(&r1, &obj) == 1)
        json_decref(obj);
    while (cts_sample_next(&r2, &cs) == 1)
        ;
    if (r1.lineno != r2.lineno || r1.good != r2.good || r1.blank != r2.blank || r1.malformed != r2.malformed ||
        r1.torn != r2.torn)
        abort();
    jsonl_reader_close(&r1);
    jsonl_reader_close(&r2);
    jb_free(&b);
    cts_free(&c);
    jsonl_reader_close(&r);
    unlink(path);
    free(path);
    struct raw_sample s;
    check_line((const char *)data, size, &s);
    return 0;
}
