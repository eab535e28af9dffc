/* The dispatcher's task list and pacer.  Expected mix sequences were
 * computed with CPython 3.11 running the original dispatcher's arithmetic
 * (upstream §7.5). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "task/profiles.h"
#include "common/util.h"
#include "sched/pacer.h"
#include "sched/workload.h"

#define VEC "medium480p=3,fast1080p=2,hevc1080p=2,light1c=3"

static char *files4[] = {"in/a.mp4", "in/b.mp4", "in/c.mp4", "in/d.mp4"};
static char *nodes3[] = {"cloud0", "cloud1", "cloud2"};

static struct workload_files base(void)
{
    struct workload_files o = {.outputs = "out", .files = files4, .nfiles = 4, .nodes = nodes3,
                         .nnodes = 3, .scale = "1280:720", .preset = "veryfast", .crf = 28,
                         .policy = WORKLOAD_RR3};
    return o;
}

static const char *str_field(const char *fields, const char *key, char *buf, size_t len)
{
    json_t *o = json_loads(fields, 0, NULL);
    assert_non_null(o);
    json_t *v = json_object_get(o, key);
    if (!v) {
        json_decref(o);
        return NULL;
    }
    snprintf(buf, len, "%s", json_is_string(v) ? json_string_value(v) : "(not a string)");
    json_decref(o);
    return buf;
}

static void test_mix_vector(void **state)
{
    (void)state;
    struct workload_files o = base();
    o.mix = VEC;
    o.total = 100;
    o.seed = 20250901;
    struct workload w;
    char err[256], buf[256];
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), 0);
    assert_int_equal(w.n, 100);
    assert_string_equal(w.mix_counts, "medium480p=30 fast1080p=20 hevc1080p=20 light1c=30");
    static const char *first12[] = {"light1c", "light1c", "medium480p", "hevc1080p",
                                    "hevc1080p", "light1c", "light1c", "medium480p",
                                    "light1c", "medium480p", "medium480p", "medium480p"};
    for (size_t i = 0; i < 12; i++)
        assert_string_equal(str_field(w.t[i].fields, "profile", buf, sizeof buf), first12[i]);
    /* not pinned: the central scheduler decides */
    for (size_t i = 0; i < w.n; i++) {
        assert_int_equal(w.t[i].node, -1);
        assert_null(str_field(w.t[i].fields, "node", buf, sizeof buf));
    }
    /* task 3: file d, hevc1080p; exact text and key order */
    assert_string_equal(
        w.t[3].fields,
        "{\"input\": \"in/d.mp4\", \"output\": \"out/d_1920x1080_hevc_medium_n0003.mp4\", "
        "\"_seq\": 3, \"scale\": \"1920:1080\", \"vcodec\": \"hevc\", \"preset\": \"medium\", "
        "\"crf\": 28, \"vthreads\": 4, \"fthreads\": 4, \"cpu_units\": 4, "
        "\"profile\": \"hevc1080p\"}");
    assert_string_equal(str_field(w.t[0].fields, "output", buf, sizeof buf),
                        "out/a_854x480_h264_veryfast_n0000.mp4");
    workload_free(&w);

    o.total = 7;
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), 0);
    assert_string_equal(w.mix_counts, "medium480p=3 fast1080p=1 hevc1080p=1 light1c=2");
    static const char *seq7[] = {"fast1080p", "light1c", "medium480p", "light1c",
                                 "medium480p", "hevc1080p", "medium480p"};
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(str_field(w.t[i].fields, "profile", buf, sizeof buf), seq7[i]);
    workload_free(&w);
}

static void test_mix_pinned_and_total0(void **state)
{
    (void)state;
    struct workload_files o = base();
    o.mix = "Light_1C=1, foo=1";
    o.total = 5;
    o.seed = 0; /* an ordinary seed */
    o.pin = true;
    struct workload w;
    char err[512], buf[256];
    /* by default an unknown profile is an error naming it (#18) */
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown profile 'foo'"));
    o.allow_unknown = true;   /* --allow-unknown-profile: the original's fallback */
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(w.t[i].node, (int)(i % 3));
        assert_string_equal(str_field(w.t[i].fields, "node", buf, sizeof buf), nodes3[i % 3]);
    }
    /* alias canonicalised; an unknown name gets the original's fallback */
    bool seen_foo = false;
    for (size_t i = 0; i < 5; i++) {
        const char *p = str_field(w.t[i].fields, "profile", buf, sizeof buf);
        if (!strcmp(p, "foo")) {
            seen_foo = true;
            assert_non_null(strstr(w.t[i].fields, "\"scale\": \"1280:720\", \"vcodec\": \"h264\", "
                                                  "\"preset\": \"veryfast\", \"crf\": 28, "
                                                  "\"vthreads\": 2, \"fthreads\": 2, "
                                                  "\"cpu_units\": 1, \"profile\": \"foo\", "
                                                  "\"node\""));
        } else {
            assert_string_equal(p, "light1c");
        }
    }
    assert_true(seen_foo);
    workload_free(&w);

    /* --total 0: one task per file, drawn from Random(7) */
    o.mix = VEC;
    o.total = 0;
    o.seed = 7;
    o.pin = false;
    char *six[] = {"x/1.mp4", "x/2.mp4", "x/3.mp4", "x/4.mp4", "x/5.mp4", "x/6.mp4"};
    o.files = six;
    o.nfiles = 6;
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), 0);
    assert_int_equal(w.n, 6);
    static const char *draws[] = {"hevc1080p", "medium480p", "hevc1080p",
                                  "medium480p", "medium480p", "light1c"};
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(str_field(w.t[i].fields, "profile", buf, sizeof buf), draws[i]);
    assert_string_equal(str_field(w.t[0].fields, "output", buf, sizeof buf),
                        "out/1_1920x1080_hevc_medium.mp4");
    assert_string_equal(w.mix_counts, "medium480p=3 fast1080p=0 hevc1080p=2 light1c=1");
    workload_free(&w);

    /* all weights zero, and a mix with nothing usable */
    o.mix = "a=0,b=-1";
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "0 or less"));
    o.total = 3;
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), -1);
    o.mix = "nonsense";
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "no usable"));
}

static void test_rr3_and_greedy(void **state)
{
    (void)state;
    struct workload_files o = base();
    o.pin = true;
    o.scale = "640:360";
    o.crf = 30;
    struct workload w;
    char err[256];
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), 0);
    assert_int_equal(w.n, 4);
    int rr[] = {0, 1, 2, 0};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(w.t[i].node, rr[i]);
    assert_string_equal(w.t[3].fields,
                        "{\"input\": \"in/d.mp4\", \"output\": \"out/d_640x360_crf30.mp4\", "
                        "\"scale\": \"640:360\", \"preset\": \"veryfast\", \"crf\": 30, "
                        "\"node\": \"cloud0\"}");
    workload_free(&w);
    /* --pending: same tasks in file order, no node */
    o.pin = false;
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), 0);
    assert_int_equal(w.t[1].node, -1);
    assert_null(strstr(w.t[1].fields, "node"));
    assert_non_null(strstr(w.t[1].fields, "in/b.mp4"));
    workload_free(&w);

    /* greedy: longest first, to the least loaded node, ties -> first node */
    char *f6[] = {"v/a.mp4", "v/b.mp4", "v/c.mp4", "v/d.mp4", "v/e.mp4", "v/f.mp4"};
    double dur[] = {10, 30, 20, 10, 20, 0};
    o.files = f6;
    o.nfiles = 6;
    o.durations = dur;
    o.policy = WORKLOAD_GREEDY;
    o.pin = true;
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), 0);
    /* order b(30) c(20) e(20) a(10) d(10) f(0) (equal durations in file order)
     * b->0 (0,0,0) ; c->1 (30,0,0) ; e->2 (30,20,0) ; a->1 (30,20,20) ;
     * d->2 (30,30,20) ; f->0 (30,30,30): ties to the first */
    const char *want_in[] = {"v/b.mp4", "v/c.mp4", "v/e.mp4", "v/a.mp4", "v/d.mp4", "v/f.mp4"};
    int want_node[] = {0, 1, 2, 1, 2, 0};
    for (size_t i = 0; i < 6; i++) {
        char buf[64];
        assert_string_equal(str_field(w.t[i].fields, "input", buf, sizeof buf), want_in[i]);
        assert_int_equal(w.t[i].node, want_node[i]);
    }
    workload_free(&w);
    /* online: same order, nodes chosen later */
    o.policy = WORKLOAD_ONLINE;
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), 0);
    assert_int_equal(w.t[0].node, -1);
    assert_true(w.t[0].duration == 30);
    workload_free(&w);

    o.nfiles = 0;
    assert_int_equal(workload_from_files(&w, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "no input files"));

    enum workload_policy p;
    assert_true(workload_policy_parse("lpt-duration", &p) && p == WORKLOAD_GREEDY);
    assert_true(workload_policy_parse("online-duration", &p) && p == WORKLOAD_ONLINE);
    assert_false(workload_policy_parse("rr4", &p));
}

static void words_ok(const char *s, size_t n, ...)
{
    char **v;
    size_t k;
    char err[256];
    assert_int_equal(workload_split_words(s, &v, &k, err, sizeof err), 0);
    assert_int_equal(k, n);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(v[i], va_arg(ap, const char *));
    va_end(ap);
    assert_null(v[n]);
    argv_free(v);
}

static void test_split_words(void **state)
{
    (void)state;
    words_ok("sleep 1", 2, "sleep", "1");
    words_ok("  sh   -c  'echo \"hi there\"; exit 3' ", 3, "sh", "-c", "echo \"hi there\"; exit 3");
    words_ok("a\"b c\"d 'e'\"f\"", 2, "ab cd", "ef");
    words_ok("\"x\\\"y\\\\z\\n$\"", 1, "x\"y\\z\\n$");
    words_ok("one\\ word two\\'s", 2, "one word", "two's");
    words_ok("'' \"\" x", 3, "", "", "x");
    words_ok("a\\\nb", 1, "ab");
    char **v;
    size_t k;
    char err[256];
    assert_int_equal(workload_split_words("echo 'oops", &v, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "unbalanced single quote"));
    assert_int_equal(workload_split_words("echo \"oops\\\"", &v, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "unbalanced double quote"));
    assert_int_equal(workload_split_words("echo \\", &v, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "trailing backslash"));
    assert_int_equal(workload_split_words("   ", &v, &k, err, sizeof err), -1);
    assert_non_null(strstr(err, "no words"));
}

static void test_command_tasks(void **state)
{
    (void)state;
    struct workload w;
    char err[256];
    assert_int_equal(workload_from_command(&w, "sh -c 'exit 0'", 3, 2, 0, NULL, err, sizeof err), 0);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.t[2].fields, "{\"argv\": [\"sh\", \"-c\", \"exit 0\"], \"cpu_units\": 2}");
    workload_free(&w);
    assert_int_equal(workload_from_command(&w, "true", 0, 1, 512, "noop", err, sizeof err), 0);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.t[0].fields,
                        "{\"argv\": [\"true\"], \"cpu_units\": 1, \"mem_mb\": 512, \"app\": \"noop\"}");
    workload_free(&w);
    assert_int_equal(workload_from_command(&w, "x 'y", 1, 1, 0, NULL, err, sizeof err), -1);
}

static const char *jsonl_err(const char *text)
{
    static char err[512];
    struct workload w;
    if (workload_from_jsonl(&w, text, strlen(text), 1, 0, NULL, err, sizeof err) == 0) {
        workload_free(&w);
        return NULL;
    }
    return err;
}

static void test_jsonl(void **state)
{
    (void)state;
    const char *text = "{\"argv\": [\"true\"], \"x\": {\"k\": [1, 2.5]}, \"cpu_units\": 0}\n"
                       "\n"
                       "  \r\n"
                       "{\"name\": \"t2\", \"argv\": [\"sleep\", \"0\"], \"node\": \"edge1\","
                       " \"mem_mb\": 64}\r\n"
                       "{\"argv\": [\"a\"], \"node\": \"cloud0\", \"trace_id\": \"keep-me\"}";
    struct workload w;
    char err[256];
    assert_int_equal(workload_from_jsonl(&w, text, strlen(text), 1, 0, "batch", err, sizeof err), 0);
    assert_int_equal(w.n, 3);
    /* other fields kept in order, defaults appended */
    assert_string_equal(w.t[0].fields, "{\"argv\": [\"true\"], \"x\": {\"k\": [1, 2.5]}, "
                                       "\"cpu_units\": 0, \"app\": \"batch\"}");
    assert_string_equal(w.t[1].fields, "{\"name\": \"t2\", \"argv\": [\"sleep\", \"0\"], "
                                       "\"node\": \"edge1\", \"mem_mb\": 64, \"cpu_units\": 1, "
                                       "\"app\": \"batch\"}");
    assert_int_equal(w.t[0].node, -1);
    assert_int_equal(w.nnodes, 2);
    assert_string_equal(w.nodes[w.t[1].node], "edge1");
    assert_string_equal(w.nodes[w.t[2].node], "cloud0");
    workload_free(&w);

    const char *e;
    e = jsonl_err("{\"argv\": [\"a\"]}\n{\"argv\": [\"b\"]\n");
    assert_non_null(e);
    assert_non_null(strstr(e, "line 2: not valid JSON"));
    e = jsonl_err("\n\n[1]\n");
    assert_non_null(strstr(e, "line 3: expected a JSON object, got an array"));
    e = jsonl_err("{\"cmd\": \"x\"}");
    assert_non_null(strstr(e, "line 1: no \"argv\""));
    assert_non_null(strstr(jsonl_err("{\"argv\": []}"), "non-empty array of strings, got an "
                                                         "empty array"));
    assert_non_null(strstr(jsonl_err("{\"argv\": \"ls -l\"}"), "got a string"));
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"ls\", 3]}"), "element 1 is an integer"));
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"\"]}"), "empty string"));
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"a\"], \"cpu_units\": -1}"),
                           "\"cpu_units\" must be an integer >= 0, got a negative integer"));
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"a\"], \"cpu_units\": 1.5}"),
                           "got a number with a fraction"));
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"a\"], \"mem_mb\": \"1G\"}"),
                           "\"mem_mb\" must be an integer >= 0, got a string"));
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"a\"], \"node\": \"a b\"}"), "\"node\""));
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"a\"], \"app\": 3}"), "\"app\""));
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"a\"], \"ts_enqueue\": 3}"),
                           "\"ts_enqueue\" is set by the dispatcher"));
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"a\"], \"argv\": [\"b\"]}"),
                           "line 1: not valid JSON (duplicate"));
    assert_non_null(strstr(jsonl_err("\n \n"), "no tasks"));

    /* the worker's trace id rule (fuzz_tasks: dispatch took ids every worker refused) */
    assert_non_null(strstr(jsonl_err("{\"argv\": [\"a\"], \"trace_id\": \"a b\"}"),
                           "\"trace_id\" must be 1-128 printable characters without blanks"));
    assert_non_null(jsonl_err("{\"argv\": [\"a\"], \"trace_id\": \"a\\u0000b\"}"));
    assert_null(jsonl_err("{\"argv\": [\"a\"], \"trace_id\": \"a-b:c/1\"}"));

    /* issue #13: deep and huge lines are refused by line number and limit */
    char deep[200];
    snprintf(deep, sizeof deep, "{\"argv\": [\"a\"]}\n{\"argv\": [\"a\"], \"v\": %.*s1%.*s}",
             JSONL_MAX_DEPTH, "[[[[[[[[[[[[[[[[[[[[", JSONL_MAX_DEPTH, "]]]]]]]]]]]]]]]]]]]]");
    assert_non_null(strstr(jsonl_err(deep), "line 2: nested deeper than 16 levels (the limit "
                                            "for a task line)"));
    snprintf(deep, sizeof deep, "{\"argv\": [\"a\"], \"v\": %.*s1%.*s}", JSONL_MAX_DEPTH - 1,
             "[[[[[[[[[[[[[[[[[[[[", JSONL_MAX_DEPTH - 1, "]]]]]]]]]]]]]]]]]]]]");
    assert_null(jsonl_err(deep));  /* one level less: accepted */
    size_t n = WORKLOAD_LINE_MAX + 1;
    char *big = xmalloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"argv\": [\"a\"]}", 15);
    big[n] = '\0';
    const char *e2 = jsonl_err(big);
    assert_non_null(e2);
    assert_non_null(strstr(e2, "line 1: 1048577 bytes, more than the 1048576 a task line may hold"));
    free(big);
}

static void test_bodies(void **state)
{
    (void)state;
    /* no stamp (< 0): rq stamps it with the Redis clock (issue 21) */
    char *ns = workload_enqueue_fields("{\"crf\": 28}", "tr-0", -1);
    assert_string_equal(ns, "{\"crf\": 28, \"trace_id\": \"tr-0\"}");
    free(ns);

    char *f = workload_with_node("{\"input\": \"a\", \"crf\": 28}", "cloud1");
    assert_string_equal(f, "{\"input\": \"a\", \"crf\": 28, \"node\": \"cloud1\"}");
    char *e = workload_enqueue_fields(f, "tr-1", 1234);
    assert_string_equal(e, "{\"input\": \"a\", \"crf\": 28, \"node\": \"cloud1\", "
                           "\"trace_id\": \"tr-1\", \"ts_enqueue\": 1234}");
    struct jbuf b;
    jb_init(&b);
    assert_int_equal(workload_body(&b, 17, e), 0);
    assert_string_equal(b.p, "{\"task_id\": 17, \"trace_id\": \"tr-1\", \"input\": \"a\", "
                             "\"crf\": 28, \"node\": \"cloud1\", \"ts_enqueue\": 1234}");
    jb_free(&b);
    free(e);
    /* a trace id given by a --tasks line is kept */
    e = workload_enqueue_fields("{\"trace_id\": \"mine\", \"argv\": [\"x\"]}", "new", 5);
    jb_init(&b);
    assert_int_equal(workload_body(&b, 1, e), 0);
    assert_string_equal(b.p, "{\"task_id\": 1, \"trace_id\": \"mine\", \"argv\": [\"x\"], "
                             "\"ts_enqueue\": 5}");
    jb_free(&b);
    free(e);
    free(f);
    assert_null(workload_with_node("[1]", "x"));
}

/* ---- pacer, with a fake clock ---- */

static struct workload fake(size_t n, const int *node, const double *dur, size_t nnodes)
{
    struct workload w;
    memset(&w, 0, sizeof w);
    w.n = n;
    w.t = calloc(n, sizeof *w.t);
    for (size_t i = 0; i < n; i++) {
        w.t[i].fields = strdup("{}");
        w.t[i].node = node ? node[i] : -1;
        w.t[i].duration = dur ? dur[i] : 0;
    }
    w.nnodes = nnodes;
    w.nodes = calloc(nnodes ? nnodes : 1, sizeof *w.nodes);
    for (size_t i = 0; i < nnodes; i++)
        w.nodes[i] = strdup(nodes3[i]);
    return w;
}

static void test_pacer_all_and_pulse(void **state)
{
    (void)state;
    size_t idx[16];
    int nd[16];
    struct workload w = fake(5, (int[]){0, 1, 2, 0, 1}, NULL, 3);
    struct pace_cfg c = {.mode = PACE_ALL};
    struct pacer p;
    pacer_init(&p, &c, &w);
    assert_int_equal(pacer_needs(&p), 0);
    assert_int_equal(pacer_next(&p, 0, 0, NULL, idx, nd), 5);
    assert_int_equal(idx[4], 4);
    assert_int_equal(nd[3], 0);
    assert_true(pacer_done(&p));
    assert_int_equal(pacer_next(&p, 10, 0, NULL, idx, nd), 0);
    pacer_free(&p);

    /* pulses of 2, 1 s apart inside a pulse, 300 s after each */
    c = (struct pace_cfg){.mode = PACE_PULSE, .pulse_size = 2, .pulse_spacing_ms = 1000,
                          .pulse_interval_ms = 300000};
    pacer_init(&p, &c, &w);
    int64_t t = 5000;
    assert_int_equal(pacer_next(&p, t, 0, NULL, idx, nd), 1);
    assert_int_equal(idx[0], 0);
    assert_int_equal(p.next_ms, t + 1000);
    assert_int_equal(pacer_next(&p, t + 999, 0, NULL, idx, nd), 0); /* too early */
    assert_int_equal(pacer_next(&p, t + 1000, 0, NULL, idx, nd), 1);
    assert_int_equal(p.pulses, 1);
    assert_int_equal(p.next_ms, t + 1000 + 300000);
    t += 301000;
    assert_int_equal(pacer_next(&p, t, 0, NULL, idx, nd), 1);
    assert_int_equal(pacer_next(&p, t + 1000, 0, NULL, idx, nd), 1);
    t += 301000;
    assert_int_equal(pacer_next(&p, t, 0, NULL, idx, nd), 1);
    assert_int_equal(idx[0], 4);
    assert_true(pacer_done(&p));
    assert_int_equal(p.pulses, 3);
    pacer_free(&p);

    /* spacing 0: a whole pulse at once */
    c.pulse_spacing_ms = 0;
    c.pulse_size = 3;
    pacer_init(&p, &c, &w);
    assert_int_equal(pacer_next(&p, 0, 0, NULL, idx, nd), 3);
    assert_int_equal(p.next_ms, 300000);
    assert_int_equal(pacer_next(&p, 300000, 0, NULL, idx, nd), 2);
    assert_true(pacer_done(&p));
    pacer_free(&p);
    workload_free(&w);
}

static void test_pacer_fifo(void **state)
{
    (void)state;
    size_t idx[16];
    int nd[16];
    struct workload w = fake(10, NULL, NULL, 3);
    struct pace_cfg c = {.mode = PACE_FIFO, .batch_size = 4, .pending_max = 6, .dribble_ms = 1000};
    struct pacer p;
    pacer_init(&p, &c, &w);
    assert_int_equal(pacer_needs(&p), PACE_NEED_QLEN);
    assert_int_equal(pacer_next(&p, 0, 0, NULL, idx, nd), 4);      /* batch limit */
    assert_int_equal(pacer_next(&p, 1000, 4, NULL, idx, nd), 2);   /* 4 + 2 = pending_max */
    assert_int_equal(pacer_next(&p, 2000, 6, NULL, idx, nd), 0);   /* full: wait */
    assert_int_equal(p.next_ms, 3000);
    assert_int_equal(pacer_next(&p, 3000, 9, NULL, idx, nd), 0);
    assert_int_equal(pacer_next(&p, 4000, 1, NULL, idx, nd), 4);
    assert_int_equal(idx[3], 9);
    assert_true(pacer_done(&p));
    pacer_free(&p);
    workload_free(&w);
}

static void test_pacer_drip_waits(void **state)
{
    (void)state;
    size_t idx[16];
    int nd[16];
    /* B14: node 0's second and third tasks wait for room; none is dropped */
    int pins[] = {0, 0, 0, 1, -1};
    struct workload w = fake(5, pins, NULL, 3);
    struct pace_cfg c = {.mode = PACE_DRIP, .batch_size = 3, .dribble_ms = 500,
                         .backlog_limit = 1};
    struct pacer p;
    pacer_init(&p, &c, &w);
    assert_int_equal(pacer_needs(&p), PACE_NEED_BACKLOG);
    int64_t bl[3] = {0, 0, 0};
    assert_int_equal(pacer_next(&p, 0, 0, bl, idx, nd), 3);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 3); /* passes the waiting node-0 tasks */
    assert_int_equal(idx[2], 4);
    assert_int_equal(nd[2], -1);
    bl[0] = 1;
    bl[1] = 1;
    assert_int_equal(pacer_next(&p, 500, 0, bl, idx, nd), 0);
    assert_false(pacer_done(&p));
    bl[0] = 0;
    assert_int_equal(pacer_next(&p, 1000, 0, bl, idx, nd), 1);
    assert_int_equal(idx[0], 1);
    assert_int_equal(pacer_next(&p, 1500, 0, bl, idx, nd), 1);
    assert_int_equal(idx[0], 2);
    assert_true(pacer_done(&p));
    pacer_free(&p);
    workload_free(&w);
}

static void test_pacer_online(void **state)
{
    (void)state;
    size_t idx[16];
    int nd[16];
    double dur[] = {30, 20, 20, 10, 5};
    struct workload w = fake(5, NULL, dur, 3);
    struct pace_cfg c = {.mode = PACE_ONLINE, .batch_size = 10, .dribble_ms = 1000,
                         .backlog_limit = 1};
    struct pacer p;
    pacer_init(&p, &c, &w);
    int64_t bl[3] = {0, 0, 0};
    /* one per node (limit 1), in node order */
    assert_int_equal(pacer_next(&p, 0, 0, bl, idx, nd), 3);
    assert_int_equal(nd[0], 0);
    assert_int_equal(nd[1], 1);
    assert_int_equal(nd[2], 2);
    /* nothing has room: wait */
    bl[0] = bl[1] = bl[2] = 1;
    assert_int_equal(pacer_next(&p, 1000, 0, bl, idx, nd), 0);
    /* all free again: equal backlog, least accumulated duration (20, 20 < 30):
     * node 1 first (ties in node order), then node 2 */
    bl[0] = bl[1] = bl[2] = 0;
    assert_int_equal(pacer_next(&p, 2000, 0, bl, idx, nd), 2);
    assert_int_equal(idx[0], 3);
    assert_int_equal(nd[0], 1);
    assert_int_equal(nd[1], 2);
    assert_true(pacer_done(&p));
    pacer_free(&p);

    /* backlog first: node 0 idle beats node 1 with a smaller sum but a backlog */
    c.backlog_limit = 3;
    c.batch_size = 1;
    pacer_init(&p, &c, &w);
    int64_t bl2[3] = {0, 2, 1};
    assert_int_equal(pacer_next(&p, 0, 0, bl2, idx, nd), 1);
    assert_int_equal(nd[0], 0);
    /* node 0 now has a backlog of 1 like node 2, and more accumulated work */
    bl2[0] = 1;
    assert_int_equal(pacer_next(&p, 1000, 0, bl2, idx, nd), 1);
    assert_int_equal(nd[0], 2);
    pacer_free(&p);
    workload_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mix_vector),
        cmocka_unit_test(test_mix_pinned_and_total0),
        cmocka_unit_test(test_rr3_and_greedy),
        cmocka_unit_test(test_split_words),
        cmocka_unit_test(test_command_tasks),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_pacer_all_and_pulse),
        cmocka_unit_test(test_pacer_fifo),
        cmocka_unit_test(test_pacer_drip_waits),
        cmocka_unit_test(test_pacer_online),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
