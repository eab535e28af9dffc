/* test_redis.c -- the Redis connection (common/redis.c): connecting with a
 * password against a real, private redis-server (redis_fixture.h), error
 * classes, retry, scripts and NOSCRIPT, and as pure logic the reply
 * readers on hostile replies, back-off and outages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/redis.h"
#include "common/redisurl.h"
#include "common/util.h"
#include "redis_fixture.h"

static struct redis_fixture fx;
static bool have_server;

/* ---- helpers ---- */

/* redis_open on a URL; the class (0 on success), the message in err. */
static int open_url(const char *url, const struct redis_conn_opts *o, struct redis_conn **c,
                    char *err, size_t len)
{
    struct redis_url u;
    if (redisurl_parse(url, &u, err, len) != 0)
        return -100;
    int rc = redis_open(&u, o, c, err, len);
    redisurl_free(&u);
    return rc;
}

static int try_url(const char *url, char *err, size_t len)
{
    struct redis_conn_opts o = {.connect_timeout_ms = 1000};
    struct redis_conn *c = NULL;
    int rc = open_url(url, &o, &c, err, len);
    assert_true(rc == 0 ? c != NULL : c == NULL);
    redis_close(c);
    return rc;
}

static struct redis_conn *open_fx(const struct redis_fixture *f, int retry_ms)
{
    char url[256], err[512];
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/0", f->password, f->port);
    struct redis_conn_opts o = {.retry_ms = retry_ms, .backoff_min_ms = 20,
                                .backoff_max_ms = 100};
    struct redis_conn *c = NULL;
    if (open_url(url, &o, &c, err, sizeof err) != 0)
        fail_msg("redis_open: %s", err);
    return c;
}

static void raw(const char *cmd)
{
    redisContext *c = fixture_raw(&fx);
    redisReply *r = redisCommand(c, cmd);
    if (r)
        freeReplyObject(r);
    redisFree(c);
}

/* A reply as hiredis parses it from wire bytes. */
static redisReply *resp(const char *wire, size_t n)
{
    redisReader *rd = redisReaderCreate();
    assert_int_equal(redisReaderFeed(rd, wire, n), REDIS_OK);
    void *r = NULL;
    assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
    redisReaderFree(rd);
    assert_non_null(r);
    return r;
}
#define RESP(s) resp(s, sizeof(s) - 1)

#define NEED_SERVER()                                                                  \
    do {                                                                               \
        if (!have_server)                                                              \
            skip();                                                                    \
    } while (0)

/* ---- connecting ---- */

static void test_connect_classes(void **state)
{
    (void)state;
    NEED_SERVER();
    char url[256], err[512];
    /* right password, in both URL forms, through a unix socket, an ACL user */
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/0", fx.password, fx.port);
    assert_int_equal(try_url(url, err, sizeof err), 0);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/2?password=%s", fx.port, fx.password);
    assert_int_equal(try_url(url, err, sizeof err), 0);
    snprintf(url, sizeof url, "unix://%s?password=%s&db=1", fx.sock, fx.password);
    assert_int_equal(try_url(url, err, sizeof err), 0);
    snprintf(url, sizeof url, "redis://alice:alice-pw@127.0.0.1:%d", fx.port);
    assert_int_equal(try_url(url, err, sizeof err), 0);

    /* wrong password: the auth class, fast, and neither password in the message */
    snprintf(url, sizeof url, "redis://:Wr0ngSecret@127.0.0.1:%d", fx.port);
    int64_t t0 = now_mono_ns();
    assert_int_equal(try_url(url, err, sizeof err), REDIS_EAUTH);
    assert_true(now_mono_ns() - t0 < 2000000000LL);
    assert_non_null(strstr(err, "authentication failed: wrong password"));
    assert_null(strstr(err, "Wr0ngSecret"));
    assert_null(strstr(err, fx.password));
    assert_non_null(strstr(err, ":***@"));
    snprintf(url, sizeof url, "redis://alice:nope-pw@127.0.0.1:%d", fx.port);
    assert_int_equal(try_url(url, err, sizeof err), REDIS_EAUTH);
    assert_non_null(strstr(err, "wrong user name or password"));
    assert_null(strstr(err, "nope-pw"));
    snprintf(url, sizeof url, "redis://mallory:%s@127.0.0.1:%d", fx.password, fx.port);
    assert_int_equal(try_url(url, err, sizeof err), REDIS_EAUTH);
    assert_null(strstr(err, fx.password));

    /* no password; a user without one */
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", fx.port);
    assert_int_equal(try_url(url, err, sizeof err), REDIS_EAUTH);
    assert_non_null(strstr(err, "requires a password"));
    snprintf(url, sizeof url, "redis://alice@127.0.0.1:%d", fx.port);
    assert_int_equal(try_url(url, err, sizeof err), REDIS_EAUTH);
    assert_non_null(strstr(err, "no password"));
    /* ... which may be a password typed where the user goes: not echoed */
    snprintf(url, sizeof url, "redis://%s@127.0.0.1:%d", fx.password, fx.port);
    assert_int_equal(try_url(url, err, sizeof err), REDIS_EAUTH);
    assert_null(strstr(err, fx.password));

    /* messages are built from the redacted URL, not scrubbed afterwards:
     * a password that is a common word does not garble them */
    snprintf(url, sizeof url, "redis://:Redis@127.0.0.1:%d", fixture_free_port());
    assert_int_equal(try_url(url, err, sizeof err), REDIS_ECONN);
    assert_non_null(strstr(err, "cannot connect to Redis at redis://:***@127.0.0.1:"));
    snprintf(url, sizeof url, "redis://:connection@127.0.0.1:%d", fixture_free_port());
    assert_int_equal(try_url(url, err, sizeof err), REDIS_ECONN);
    assert_non_null(strstr(err, "connection refused"));

    /* nothing listening */
    snprintf(url, sizeof url, "redis://:pw@127.0.0.1:%d", fixture_free_port());
    assert_int_equal(try_url(url, err, sizeof err), REDIS_ECONN);
    assert_non_null(strstr(err, "connection refused"));
    snprintf(url, sizeof url, "unix://%s/nosuch.sock?password=pw", fx.dir);
    assert_int_equal(try_url(url, err, sizeof err), REDIS_ECONN);
    assert_non_null(strstr(err, "no socket"));

    /* a database that does not exist */
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/999", fx.password, fx.port);
    assert_int_equal(try_url(url, err, sizeof err), REDIS_EPROTO);
    assert_non_null(strstr(err, "cannot select database 999"));
    assert_null(strstr(err, fx.password));
}

/* A listener that accepts and never answers: a timeout, not a hang. */
static void test_connect_timeout(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    char url[128], err[512];
    snprintf(url, sizeof url, "redis://:pw@127.0.0.1:%d", ntohs(a.sin_port));
    int64_t t0 = now_mono_ns();
    assert_int_equal(try_url(url, err, sizeof err), REDIS_ETIMEOUT);
    int64_t took = now_mono_ns() - t0;
    close(fd);
    assert_true(took >= 900000000LL && took < 3000000000LL);
    assert_non_null(strstr(err, "no answer in time"));
    assert_null(strstr(err, "pw@"));
}

/* ---- commands ---- */

static void test_commands(void **state)
{
    (void)state;
    NEED_SERVER();
    struct redis_conn *c = open_fx(&fx, 5000);
    assert_non_null(strstr(redis_describe(c), ":***@127.0.0.1"));
    /* binary values pass through with lengths */
    const char *set[3] = {"SET", "test_redis:bin", "a\0b"};
    size_t lens[3] = {3, 14, 3};
    int rc;
    redisReply *r = redis_command(c, 3, set, lens, &rc);
    assert_non_null(r);
    freeReplyObject(r);
    const char *get[2] = {"GET", "test_redis:bin"};
    r = redis_command(c, 2, get, NULL, &rc);
    assert_true(r && r->type == REDIS_REPLY_STRING && r->len == 3 && !memcmp(r->str, "a\0b", 3));
    freeReplyObject(r);
    /* an error reply is returned as is */
    const char *bad[2] = {"NOSUCHCOMMAND", "x"};
    r = redis_command(c, 2, bad, NULL, &rc);
    assert_true(r && r->type == REDIS_REPLY_ERROR);
    freeReplyObject(r);
    /* killed by another client: the next call reconnects */
    unsigned before = redis_reconnects(c);
    raw("CLIENT KILL TYPE normal SKIPME no");
    r = redis_command(c, 2, get, NULL, &rc);
    assert_non_null(r);
    freeReplyObject(r);
    assert_true(redis_reconnects(c) > before);
    /* a blocking command may outlast the op timeout */
    redis_close(c);
    char url[256], err[512];
    snprintf(url, sizeof url, "redis://:%s@127.0.0.1:%d/0", fx.password, fx.port);
    struct redis_conn_opts o = {.op_timeout_ms = 100, .retry_ms = -1};
    assert_int_equal(open_url(url, &o, &c, err, sizeof err), 0);
    const char *blpop[3] = {"BLPOP", "test_redis:empty", "0.4"};
    int64_t t0 = now_mono_ns();
    r = redis_command_blocking(c, 400, 3, blpop, NULL, &rc);
    assert_true(now_mono_ns() - t0 >= 350000000LL);
    assert_true(r && r->type == REDIS_REPLY_NIL);
    freeReplyObject(r);
    /* ... and after it the op timeout is back: the same wait now fails */
    r = redis_command(c, 3, blpop, NULL, &rc);
    assert_null(r);
    assert_true(rc < 0);
    redis_close(c);
    raw("DEL test_redis:bin");
}

/* A server that stays away: calls give up after the retry budget with a
 * clear error; when it is back, the same handle works again. */
static void test_retry_budget(void **state)
{
    (void)state;
    NEED_SERVER();
    struct redis_fixture f2;
    assert_int_equal(fixture_start(&f2, NULL), 0);
    struct redis_conn *c = open_fx(&f2, 400);
    fixture_stop(&f2, true);
    const char *ping[1] = {"PING"};
    int rc;
    int64_t t0 = now_mono_ns();
    assert_null(redis_command(c, 1, ping, NULL, &rc));
    int64_t took = now_mono_ns() - t0;
    assert_int_equal(rc, REDIS_ECONN);
    assert_true(took >= 350000000LL && took < 2000000000LL);
    assert_non_null(strstr(redis_error(c), "connection refused"));
    assert_non_null(strstr(redis_error(c), "gave up after"));
    assert_null(strstr(redis_error(c), f2.password));
    assert_int_equal(fixture_spawn(&f2), 0); /* same port */
    redisReply *r = redis_command(c, 1, ping, NULL, &rc);
    assert_non_null(r);
    freeReplyObject(r);
    assert_true(redis_reconnects(c) >= 1);
    redis_close(c);
    fixture_cleanup(&f2);
}

/* ---- scripts ---- */

static void test_scripts(void **state)
{
    (void)state;
    NEED_SERVER();
    struct redis_conn *c = open_fx(&fx, 5000);
    int echo = redis_script_add(c, "return ARGV[1] .. ':' .. #ARGV");
    int boom = redis_script_add(c, "return redis.error_reply('boom')");
    assert_true(echo >= 0 && boom >= 0 && echo != boom);
    assert_int_equal(strlen(redis_script_sha(c, echo)), 40);
    const char *args[2] = {"hi", "x"};
    int rc;
    redisReply *r = redis_eval(c, echo, 2, args, NULL, &rc);
    assert_string_equal(redis_reply_str(r), "hi:2");
    freeReplyObject(r);

    /* after SCRIPT FLUSH (as after a restart) the script is loaded again */
    raw("SCRIPT FLUSH");
    r = redis_eval(c, echo, 1, args, NULL, &rc);
    assert_string_equal(redis_reply_str(r), "hi:1");
    freeReplyObject(r);
    raw("SCRIPT FLUSH");
    const char *many[6] = {"a", "1", "b", "2", "c", "3"};
    redisReply *rep[3];
    assert_int_equal(redis_eval_many(c, echo, 3, 2, many, rep), 0);
    assert_string_equal(redis_reply_str(rep[0]), "a:2");
    assert_string_equal(redis_reply_str(rep[2]), "c:2");
    for (int i = 0; i < 3; i++)
        freeReplyObject(rep[i]);

    /* a script's error reply is the script class, with its message */
    assert_null(redis_eval(c, boom, 0, NULL, NULL, &rc));
    assert_int_equal(rc, REDIS_ESCRIPT);
    assert_non_null(strstr(redis_error(c), "script error: "));
    assert_non_null(strstr(redis_error(c), "boom"));
    assert_int_equal(redis_eval_many(c, boom, 2, 0, NULL, rep), REDIS_ESCRIPT);
    assert_null(rep[0]);
    /* too many arguments, a body that does not compile */
    enum { LOTS = 1100 };   /* over redis.c's EVAL_MAX_ARGV (1024) */
    static const char *lots[LOTS];
    for (int i = 0; i < LOTS; i++)
        lots[i] = "x";
    assert_null(redis_eval(c, echo, LOTS, lots, NULL, &rc));
    assert_int_equal(rc, REDIS_EARG);
    assert_int_equal(redis_script_add(c, "this is not lua"), REDIS_EPROTO);
    assert_non_null(strstr(redis_error(c), "SCRIPT LOAD failed"));
    r = RESP("$3\r\nabc\r\n");
    assert_int_equal(redis_bad_reply(c, r, "TEST"), REDIS_EPROTO);
    assert_non_null(strstr(redis_error(c), "unexpected reply to TEST"));
    redis_close(c);
}

/* ---- pure ---- */

static void test_replies_hostile(void **state)
{
    (void)state;
    int64_t v = 0;
    redisReply *r = RESP(":42\r\n");
    assert_true(redis_reply_int(r, &v) && v == 42);
    assert_string_equal(redis_reply_str(r), "");
    assert_false(redis_reply_array(r, 0));
    assert_null(redis_reply_elem(r, 0));
    freeReplyObject(r);
    r = RESP("$2\r\n-7\r\n");
    assert_true(redis_reply_int(r, &v) && v == -7);
    freeReplyObject(r);
    r = RESP("+12\r\n");
    assert_true(redis_reply_int(r, &v) && v == 12);
    assert_string_equal(redis_reply_str(r), "12");
    freeReplyObject(r);
    /* not numbers: text, a NUL inside, too big, nil, an error */
#define W(s) {s, sizeof(s) - 1}
    static const struct {
        const char *wire;
        size_t len;
    } bad[] = {W("$3\r\nabc\r\n"), W("$3\r\n4\0002\r\n"), W("$20\r\n99999999999999999999\r\n"),
               W("$-1\r\n"), W("-ERR 5\r\n"), W("$0\r\n\r\n"), W("*1\r\n:1\r\n")};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        r = resp(bad[i].wire, bad[i].len);
        v = 99;
        assert_false(redis_reply_int(r, &v));
        assert_int_equal(v, 99);
        freeReplyObject(r);
    }
#undef W
    assert_false(redis_reply_int(NULL, &v));
    assert_string_equal(redis_reply_str(NULL), "");
    r = RESP("-ERR secret\r\n");
    assert_string_equal(redis_reply_str(r), ""); /* an error is not a value */
    freeReplyObject(r);

    /* arrays and bounds */
    r = RESP("*3\r\n:1\r\n$1\r\nx\r\n*0\r\n");
    assert_true(redis_reply_array(r, 3));
    assert_false(redis_reply_array(r, 4));
    assert_string_equal(redis_reply_str(redis_reply_elem(r, 1)), "x");
    assert_true(redis_reply_array(redis_reply_elem(r, 2), 0));
    assert_null(redis_reply_elem(r, 3));
    assert_null(redis_reply_elem(r, SIZE_MAX));
    freeReplyObject(r);
    r = RESP("*-1\r\n");
    assert_false(redis_reply_array(r, 0));
    freeReplyObject(r);
    assert_false(redis_reply_array(NULL, 0));

    /* counts of records that must fit in the reply */
    size_t n = 0;
    r = RESP("*5\r\n:2\r\n:1\r\n:2\r\n:3\r\n:4\r\n");
    assert_true(redis_reply_count(r, 0, 2, &n) && n == 2);
    assert_false(redis_reply_count(r, 0, 3, &n));   /* 6 elements needed */
    assert_true(redis_reply_count(r, 1, 3, &n) && n == 1);
    assert_false(redis_reply_count(r, 4, 1, &n));   /* 4 records after the last */
    assert_false(redis_reply_count(r, 5, 1, &n));   /* no element 5 */
    freeReplyObject(r);
    const char *counts[] = {"*2\r\n:-1\r\n:0\r\n", "*2\r\n:9223372036854775807\r\n:0\r\n",
                            "*2\r\n:1537228672809129302\r\n:0\r\n", "*2\r\n$1\r\nx\r\n:0\r\n"};
    for (size_t i = 0; i < ARRAY_LEN(counts); i++) {
        r = resp(counts[i], strlen(counts[i]));
        n = 77;
        assert_false(redis_reply_count(r, 0, 12, &n)); /* negative, overflowing, not a number */
        assert_int_equal(n, 77);
        freeReplyObject(r);
    }
    r = RESP("*1\r\n$1\r\n0\r\n");
    assert_true(redis_reply_count(r, 0, 11, &n) && n == 0);
    freeReplyObject(r);
    assert_false(redis_reply_count(NULL, 0, 1, &n));
}

static void test_prefix(void **state)
{
    (void)state;
    char *p = redis_run_prefix("run-1");
    assert_string_equal(p, "tk:run-1:");
    free(p);
    assert_null(redis_run_prefix(NULL));
    assert_null(redis_run_prefix(""));
    assert_null(redis_run_prefix("a b"));
    assert_null(redis_run_prefix("a*"));
    assert_null(redis_run_prefix(".."));
}

static void test_backoff(void **state)
{
    (void)state;
    const int want[] = {50, 100, 200, 400, 800, 1600, 2000, 2000};
    for (int k = 0; k < (int)ARRAY_LEN(want); k++)
        assert_int_equal(redis_backoff_ms(50, 2000, k, NULL), want[k]);
    assert_int_equal(redis_backoff_ms(50, 2000, 1000000, NULL), 2000);
    assert_int_equal(redis_backoff_ms(0, 0, 3, NULL), 1);
    unsigned seed = 7;
    for (int i = 0; i < 200; i++) {
        int ms = redis_backoff_ms(400, 1000, 1, &seed);
        assert_true(ms >= 600 && ms <= 1000);
    }
}

static void test_outage_sequence(void **state)
{
    (void)state;
    const int64_t S = 1000000000LL;
    struct redis_outage o = {0};
    const int waits[] = {500, 1000, 2000, 4000, 8000, 10000, 10000};
    int64_t t = 5 * S;
    int w;
    assert_true(redis_outage_end(&o, t) < 0); /* no outage yet */
    for (size_t i = 0; i < ARRAY_LEN(waits); i++) {
        enum redis_outage_note note = redis_outage_step(&o, t + (int64_t)i * S, &w);
        assert_int_equal(note, i == 0 ? REDIS_OUTAGE_BEGIN : REDIS_OUTAGE_QUIET);
        assert_int_equal(w, waits[i]);
    }
    /* a reminder once 60 s passed since the last line, then 60 s later */
    assert_int_equal(redis_outage_step(&o, t + 60 * S, &w), REDIS_OUTAGE_QUIET);
    assert_int_equal(redis_outage_step(&o, t + 61 * S, &w), REDIS_OUTAGE_REMIND);
    assert_int_equal(w, 10000);
    assert_int_equal(redis_outage_step(&o, t + 100 * S, &w), REDIS_OUTAGE_QUIET);
    assert_int_equal(redis_outage_step(&o, t + 122 * S, &w), REDIS_OUTAGE_REMIND);
    /* it ends: its length, once; the next failure starts over */
    double len = redis_outage_end(&o, t + 130 * S);
    assert_true(len > 129.99 && len < 130.01);
    assert_true(redis_outage_end(&o, t + 131 * S) < 0);
    assert_int_equal(redis_outage_step(&o, t + 200 * S, &w), REDIS_OUTAGE_BEGIN);
    assert_int_equal(w, 500);

    /* the logging wrapper: auth errors are final; others wait (cut short) */
    struct redis_outage o2 = {0};
    volatile sig_atomic_t stop = 1;
    assert_false(redis_outage_failed(&o2, REDIS_EAUTH, "wrong password", &stop));
    assert_false(o2.on);
    int64_t t0 = now_mono_ns();
    assert_true(redis_outage_failed(&o2, REDIS_ECONN, "refused", &stop));
    assert_true(now_mono_ns() - t0 < 200000000LL);
    assert_true(o2.on);
    redis_outage_ok(&o2);
    assert_false(o2.on);
}

static int setup(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR);
    have_server = fixture_have_redis() &&
                  fixture_start(&fx, "user alice on >alice-pw ~* &* +@all\n") == 0;
    if (!have_server)
        fprintf(stderr, "# redis-server not available: the server tests are skipped\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (have_server)
        fixture_cleanup(&fx);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_classes),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_retry_budget),
        cmocka_unit_test(test_scripts),
        cmocka_unit_test(test_replies_hostile),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_outage_sequence),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
