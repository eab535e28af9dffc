/* test_opt.c -- the option layer (common/opt.h) and the shared groups
 * (cmd/options.h): values, ranges, includes, verbs, messages and --help. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/options.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"

/* Run opt_parse on a NULL-terminated word list; *err gets what it printed
 * on stderr (malloc'd). */
static int parse(const struct opt_cmd *c, const struct opt *o, char **err, int *verb, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, verb);
    for (char *w; (w = va_arg(ap, char *)) != NULL;)
        argv[argc++] = w;
    va_end(ap);
    argv[argc] = NULL;
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    int rc = opt_parse(c, o, argc, argv, verb);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long n = ftell(tmp);
    rewind(tmp);
    *err = xcalloc(1, (size_t)n + 1);
    if (n > 0 && fread(*err, 1, (size_t)n, tmp) != (size_t)n)
        fail();
    fclose(tmp);
    return rc;
}

static const char *const usage[] = {"tracekit demo [OPTIONS]", NULL};
static const struct opt_cmd demo = {.name = "demo", .usage = usage};

static void test_values(void **state)
{
    (void)state;
    bool flag = false;
    const char *s = NULL;
    int64_t i = 7, ms = 0;
    double d = 0;
    struct opt_list l = {0};
    struct opt o[] = {
        OPT_FLAG('f', "flag", &flag, "a flag"),
        OPT_STRING(0, "name", &s, "NAME", "a string"),
        OPT_INT(0, "count", &i, "N", 1, 10, "an integer"),
        OPT_DOUBLE(0, "ratio", &d, "R", 0.5, 2, "a number"),
        OPT_SECONDS(0, "wait", &ms, "SEC", "seconds"),
        OPT_LIST(0, "from", &l, "DIR", "repeatable"),
        OPT_END(),
    };
    char *err;
    int rc = parse(&demo, o, &err, NULL, "demo", "-f", "--name", "x", "--count=10", "--ratio",
                   "1.5", "--wait", "0.25", "--from", "a", "--from=b", NULL);
    assert_int_equal(rc, 12);
    assert_true(flag);
    assert_string_equal(s, "x");
    assert_int_equal(i, 10);
    assert_true(d == 1.5);
    assert_int_equal(ms, 250);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0], "a");
    assert_string_equal(l.v[1], "b");
    assert_string_equal(err, "");
    free(err);
    opt_list_free(&l);
    /* abbreviations getopt allows still work */
    rc = parse(&demo, o, &err, NULL, "demo", "--cou", "3", NULL);
    assert_int_equal(rc, 3);
    assert_int_equal(i, 3);
    free(err);
}

static void test_errors(void **state)
{
    (void)state;
    int64_t i = 0;
    bool flag = false;
    struct opt o[] = {
        OPT_INT(0, "parallel", &i, "N", 0, 100, "slots"),
        OPT_FLAG(0, "pending", &flag, "pending"),
        OPT_END(),
    };
    struct {
        const char *args[3];
        const char *want;
    } cases[] = {
        {{"--paralel", "2"}, "unknown option '--paralel'; did you mean '--parallel'?"},
        {{"--bogus"}, "unknown option '--bogus' (see 'tracekit demo --help')"},
        {{"--parallel=x"}, "invalid --parallel 'x': expected an integer from 0 to 100"},
        {{"--parallel", "101"}, "invalid --parallel '101'"},
        {{"--parallel"}, "option '--parallel' needs a value"},
        {{"--pending=1"}, "option '--pending' takes no value"},
        {{"--p"}, "ambiguous option '--p': could be --parallel, --pending"},
        {{"word"}, "unexpected argument 'word'"},
        {{"-x"}, "unknown option '-x'"},
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        char *err;
        int rc = parse(&demo, o, &err, NULL, "demo", cases[k].args[0], cases[k].args[1],
                       cases[k].args[2], NULL);
        assert_int_equal(rc, OPT_DONE_ERROR);
        if (!strstr(err, cases[k].want))
            fail_msg("%s: got '%s', want '%s'", cases[k].args[0], err, cases[k].want);
        assert_non_null(strstr(err, "tracekit demo: error: "));
        free(err);
    }
    assert_int_equal(opt_exit_code(OPT_DONE_ERROR), 2);
    assert_int_equal(opt_exit_code(OPT_DONE_HELP), 0);
}

static void test_args_and_verbs(void **state)
{
    (void)state;
    bool q = false;
    struct opt o[] = {OPT_FLAG('q', "quiet", &q, "quiet"), OPT_END()};
    /* OPT_STOP_AT_ARG: options end at the command */
    struct opt_cmd exec = {.name = "exec", .usage = usage, .flags = OPT_ARGS | OPT_STOP_AT_ARG};
    char *err;
    int rc = parse(&exec, o, &err, NULL, "exec", "-q", "ls", "-q", NULL);
    assert_int_equal(rc, 2);
    free(err);
    /* verbs: the first word, before or after the options */
    static const struct opt_verb verbs[] = {{"start", "s"}, {"stop", "t"}, {NULL, NULL}};
    struct opt_cmd coll = {.name = "collect", .usage = usage, .verbs = verbs};
    int verb = -1;
    rc = parse(&coll, o, &err, &verb, "collect", "stop", "-q", NULL);
    assert_int_equal(rc, 3);
    assert_int_equal(verb, 1);
    free(err);
    rc = parse(&coll, o, &err, &verb, "collect", "-q", "start", NULL);
    assert_int_equal(verb, 0);
    free(err);
    rc = parse(&coll, o, &err, &verb, "collect", NULL);
    assert_int_equal(rc, OPT_DONE_ERROR);
    assert_non_null(strstr(err, "expected an action: start or stop"));
    free(err);
    rc = parse(&coll, o, &err, &verb, "collect", "strat", NULL);
    assert_non_null(strstr(err, "unknown action 'strat'; did you mean 'start'?"));
    free(err);
    coll.verb_noun = "export format";
    rc = parse(&coll, o, &err, &verb, "collect", "csv", NULL);
    assert_non_null(strstr(err, "unknown export format 'csv' (expected start or stop)"));
    free(err);
}

static void test_include_bits(void **state)
{
    (void)state;
    struct run_opts run = {0};
    struct redis_opts redis = {0};
    struct opt o[] = {
        OPT_INCLUDE(run_options, &run, RUN_ID_REQUIRED | RUN_LOGS),
        OPT_INCLUDE(redis_options, &redis, 0),
        OPT_END(),
    };
    char *err;
    int rc = parse(&demo, o, &err, NULL, "demo", "--run-id", "r1", "--logs", "L", "--redis",
                   "redis://h", NULL);
    assert_int_equal(rc, 7);
    assert_string_equal(run.run_id, "r1");
    assert_string_equal(run.logs, "L");
    assert_string_equal(redis.url, "redis://h");
    free(err);
    /* an entry whose bit was not taken is not an option */
    rc = parse(&demo, o, &err, NULL, "demo", "--node-id", "n", NULL);
    assert_int_equal(rc, OPT_DONE_ERROR);
    assert_non_null(strstr(err, "unknown option '--node-id'"));
    free(err);
}

static char *help_of(const struct opt_cmd *c, const struct opt *o)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    opt_usage(c, o, f);
    fclose(f);
    return buf;
}

static void test_help(void **state)
{
    (void)state;
    const char *s = NULL;
    int64_t n = 0;
    struct opt o[] = {
        OPT_GROUP("Things:"),
        OPT_STRING(0, "name", &s, "NAME", "a name that is described at such a length that the "
                   "text cannot fit on one line of eighty columns and wraps"),
        OPT_INT(0, "a-rather-long-option-name", &n, "N", 0, 9, "short text"),
        OPT_END(),
    };
    struct opt_cmd c = {.name = "demo", .usage = usage, .description = "What it does.",
                        .epilogue = "After."};
    char *h = help_of(&c, o);
    assert_non_null(strstr(h, "usage: tracekit demo [OPTIONS]\n\nWhat it does.\n\nThings:\n"));
    /* wrapped at 80 columns, continuation under the text column */
    char *p = h;
    for (char *nl; (nl = strchr(p, '\n')); p = nl + 1)
        assert_true(nl - p <= 80);
    assert_non_null(strstr(h, "  --name NAME  a name"));
    /* a term too long for the column: its text on the next line */
    assert_non_null(strstr(h, "  --a-rather-long-option-name N\n               short text\n"));
    assert_non_null(strstr(h, "  -h, --help   this text\n\nAfter.\n"));
    free(h);
}

static void test_policy_help_names_every_policy(void **state)
{
    (void)state;
    const char *help = NULL;
    for (const struct opt *o = policy_options; o->type != OPT_T_END; o++)
        if (!strcmp(o->long_name, "policy"))
            help = o->help;
    assert_non_null(help);
    size_t n = 0;
    for (const char *const *p = policy_names(); *p; p++, n++) {
        char word[64];
        snprintf(word, sizeof word, " %s,", *p);
        if (!strstr(help, word) && !strstr(help, *p))
            fail_msg("--policy help does not name %s", *p);
    }
    assert_true(n > 5);
}

static void test_distance(void **state)
{
    (void)state;
    assert_int_equal(opt_distance("parallel", "parallel"), 0);
    assert_int_equal(opt_distance("paralel", "parallel"), 1);
    assert_int_equal(opt_distance("parlalel", "parallel"), 1); /* a swap */
    assert_int_equal(opt_distance("", "abc"), 3);
    assert_int_equal(opt_distance("kitten", "sitting"), 3);
}

int main(void)
{
    log_set_command("demo");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_args_and_verbs),
        cmocka_unit_test(test_include_bits),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_policy_help_names_every_policy),
        cmocka_unit_test(test_distance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
