#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/redisurl.h"

struct good {
    const char *url;
    int unix_socket;
    const char *host;  /* or path */
    int port, db;
    const char *user, *password;
    const char *described;
};

static const struct good goods[] = {
    {NULL, 0, "127.0.0.1", 6379, 0, NULL, NULL, "redis://127.0.0.1:6379/0"},
    {"", 0, "127.0.0.1", 6379, 0, NULL, NULL, "redis://127.0.0.1:6379/0"},
    {"redis://localhost", 0, "localhost", 6379, 0, NULL, NULL, "redis://localhost:6379/0"},
    /* both of the original's documented forms */
    {"redis://:s3cret@10.0.0.5:6380/2", 0, "10.0.0.5", 6380, 2, NULL, "s3cret",
     "redis://:***@10.0.0.5:6380/2"},
    {"redis://10.0.0.5:6379/0?password=s3cret", 0, "10.0.0.5", 6379, 0, NULL, "s3cret",
     "redis://:***@10.0.0.5:6379/0"},
    /* ACL user, percent-encoded password with ':' '@' '%' */
    {"redis://alice:p%3Aw%40d%25@h-1.example:7000/3", 0, "h-1.example", 7000, 3, "alice",
     "p:w@d%", "redis://alice:***@h-1.example:7000/3"},
    /* unencoded '@' and '/' in a password still parse */
    {"redis://:a@b/c@host/1", 0, "host", 6379, 1, NULL, "a@b/c", "redis://:***@host:6379/1"},
    {"REDIS://[::1]:6390", 0, "::1", 6390, 0, NULL, NULL, "redis://[::1]:6390/0"},
    {"redis://[::1]/4", 0, "::1", 6379, 4, NULL, NULL, "redis://[::1]:6379/4"},
    {"redis://host/", 0, "host", 6379, 0, NULL, NULL, "redis://host:6379/0"},
    {"redis://host?db=5", 0, "host", 6379, 5, NULL, NULL, "redis://host:6379/5"},
    {"redis://host/5?db=5&", 0, "host", 6379, 5, NULL, NULL, "redis://host:6379/5"},
    {"redis://user:@host", 0, "host", 6379, 0, "user", NULL, "redis://user@host:6379/0"},
    {"redis://@host", 0, "host", 6379, 0, NULL, NULL, "redis://host:6379/0"},
    {"redis://:6390", 0, "127.0.0.1", 6390, 0, NULL, NULL, "redis://127.0.0.1:6390/0"},
    {"unix:///run/redis/redis.sock?db=2&password=pw", 1, "/run/redis/redis.sock", 0, 2, NULL,
     "pw", "unix://:***@/run/redis/redis.sock?db=2"},
    {"redis+unix:///tmp/r%20s.sock", 1, "/tmp/r s.sock", 0, 0, NULL, NULL,
     "unix:///tmp/r s.sock?db=0"},
    {"unix://bob:pw@/tmp/r.sock", 1, "/tmp/r.sock", 0, 0, "bob", "pw",
     "unix://bob:***@/tmp/r.sock?db=0"},
    {"redis://h?PASSWORD=x%26y", 0, "h", 6379, 0, NULL, "x&y", "redis://:***@h:6379/0"},
};

static void test_parse_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
        const struct good *g = &goods[i];
        struct redis_url u;
        char err[256] = "";
        if (redisurl_parse(g->url, &u, err, sizeof err) != 0)
            fail_msg("case %zu (%s): %s", i, g->url ? g->url : "NULL", err);
        assert_int_equal(u.unix_socket, g->unix_socket);
        assert_string_equal(g->unix_socket ? u.path : u.host, g->host);
        if (!g->unix_socket)
            assert_int_equal(u.port, g->port);
        assert_int_equal(u.db, g->db);
        if (g->user)
            assert_string_equal(u.user, g->user);
        else
            assert_null(u.user);
        if (g->password)
            assert_string_equal(u.password, g->password);
        else
            assert_null(u.password);
        char *d = redisurl_describe(&u);
        if (strcmp(d, g->described) != 0)
            fail_msg("case %zu: described as %s, want %s", i, d, g->described);
        free(d);
        redisurl_free(&u);
    }
}

struct bad {
    const char *url;
    const char *msg;  /* part of the message */
};

static const struct bad bads[] = {
    {"rediss://:pw@host:6380/0", "TLS"},
    {"http://host", "unknown scheme"},
    {"host:6379", "expected redis://"},
    {"redis://host:0", "port"},
    {"redis://host:65536", "port"},
    {"redis://host:", "port"},
    {"redis://host:63x9", "port"},
    {"redis://host:+80", "port"},
    {"redis://ho st", "invalid character"},
    {"redis://host/abc", "database number"},
    {"redis://host/1/2", "database number"},
    {"redis://host/-1", "database number"},
    {"redis://host?db=x", "db must be"},
    {"redis://host/1?db=2", "db is given twice"},
    {"redis://:pw@host?password=pw2", "password is given twice"},
    {"redis://host?timeout=5", "unknown option 'timeout'"},
    {"redis://host?secretvalue", "without '='"},
    {"redis://:p%zzw@host", "percent-encoding"},
    {"redis://:p%00w@host", "percent-encoding"},
    {"redis://:pw%4@host", "percent-encoding"},
    {"redis://[::1", "']'"},
    {"redis://[::1]x", "after ']'"},
    {"unix://relative/path.sock", "absolute"},
    {"unix://", "absolute"},
    {"redis://:p#w@host", "'#'"},
    /* a password where the port goes (the '@host' part missing), a misspelt
     * key: the message must not show it */
    {"redis://:SECRETX", "port"},
    {"redis://:SECRETX/0", "port"},
    {"redis://host:SECRETX", "port"},
    {"redis:/:SECRETX", "expected redis://"},
    {"redis://h?pass%77ord=SECRETX", "unknown option"},
};

static void test_parse_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        struct redis_url u;
        char err[512] = "";
        if (redisurl_parse(bads[i].url, &u, err, sizeof err) != -1)
            fail_msg("case %zu (%s) parsed", i, bads[i].url);
        if (!strstr(err, bads[i].msg))
            fail_msg("case %zu (%s): message '%s' lacks '%s'", i, bads[i].url, err,
                     bads[i].msg);
        /* the message quotes the URL, never the password */
        if (strstr(err, "pw") || strstr(err, "secretvalue") || strstr(err, "p%zzw") ||
            strstr(err, "SECRETX"))
            fail_msg("case %zu: password in message '%s'", i, err);
        assert_non_null(strstr(err, "bad Redis URL '"));
    }
}

static void test_redact(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"redis://localhost:6379/0", "redis://localhost:6379/0"},
        {"redis://:pw@h:1/0", "redis://:***@h:1/0"},
        {"redis://alice:pw@h", "redis://alice:***@h"},
        {"redis://pw@h", "redis://***@h"}, /* maybe a password in the user's place */
        {"redis://h/0?password=pw", "redis://h/0?password=***"},
        {"redis://h/0?db=1&Password=pw&password=x", "redis://h/0?db=1&Password=***&password=***"},
        {"redis://:a/b@h", "redis://:***@h"},
        {"redis://:a?b@h/0", "redis://:***"},   /* '?b@h/0' may be part of it */
        {"redis://h/0?password=p@ss", "redis://***"},
        {"redis://h?secret", "redis://h?***"},
        {"redis://h?a=1&&pw&db=2", "redis://h?a=***&&***&db=2"}, /* only db is shown */
        {"redis://h?pass%77ord=pw", "redis://h?pass%77ord=***"},
        /* the password in the user's place, percent-encoded or not */
        {"redis://%3Apw@h", "redis://***@h"},
        {"redis://p%3Aw@h:1", "redis://***@h:1"},
        /* the '@host' part missing: what follows ':' is not a port */
        {"redis://:pw", "redis://:***"},
        {"redis://:pw/0", "redis://:***"},
        {"redis://:pw?db=1", "redis://:***?db=1"},
        {"redis://h:pw", "redis://h:***"},
        {"redis:/:pw", "redis:***"},
        {"h:pw", "h:***"},
        {"redis://h:6379/0", "redis://h:6379/0"},
        {"redis://:6379", "redis://:6379"},
        {"redis://[::1]:6379/0", "redis://[::1]:6379/0"},
        {"redis://[::1]", "redis://[::1]"},
        {"redis://[::1]:pw", "redis://[::1]:***"},
        {"unix:///a:b/s.sock", "unix:///a:b/s.sock"},
        {"redis://:a#b@h", "redis://:***@h"},
        {"unix:///s.sock?password=pw&db=1", "unix:///s.sock?password=***&db=1"},
        {"garbage:pw@host", "garbage:***@host"},
        {"pw@host", "***@host"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = redisurl_redact(cases[i].in);
        if (strcmp(r, cases[i].out) != 0)
            fail_msg("redact(%s) = %s, want %s", cases[i].in, r, cases[i].out);
        free(r);
    }
    char *r = redisurl_redact(NULL);
    assert_string_equal(r, "");
    free(r);

    /* redisurl_mask: the same characters, overwritten in place */
    char m[] = "redis://alice:pw@h:1/0?password=x&db=2";
    redisurl_mask(m);
    assert_string_equal(m, "redis://alice:**@h:1/0?password=*&db=2");
    char m2[] = "redis://:pw";
    redisurl_mask(m2);
    assert_string_equal(m2, "redis://:**");
    redisurl_mask(NULL);
}

static char *write_tmp(const char *text, mode_t mode)
{
    char *path = strdup("/tmp/tk-pwfile-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    fchmod(fd, mode);
    close(fd);
    return path;
}

static void test_password_file(void **state)
{
    (void)state;
    struct redis_url u;
    char err[256];
    char *f = write_tmp("s3 cret:@/\r\n", 0600);
    assert_int_equal(redisurl_parse("redis://alice@h:7000/1", &u, err, sizeof err), 0);
    assert_int_equal(redisurl_password_file(&u, f, err, sizeof err), 0);
    assert_string_equal(u.password, "s3 cret:@/");
    assert_string_equal(u.user, "alice");
    /* a second password is an error, not a silent override */
    assert_int_equal(redisurl_password_file(&u, f, err, sizeof err), -1);
    assert_non_null(strstr(err, "both"));
    redisurl_free(&u);
    unlink(f);
    free(f);

    static const char *badtexts[] = {"", "\n", "two\nlines\n"};
    for (size_t i = 0; i < 3; i++) {
        f = write_tmp(badtexts[i], 0600);
        assert_int_equal(redisurl_parse("redis://h", &u, err, sizeof err), 0);
        assert_int_equal(redisurl_password_file(&u, f, err, sizeof err), -1);
        assert_non_null(strstr(err, "exactly one non-empty line"));
        assert_null(strstr(err, "two"));
        assert_null(u.password);
        redisurl_free(&u);
        unlink(f);
        free(f);
    }
    assert_int_equal(redisurl_parse("redis://h", &u, err, sizeof err), 0);
    assert_int_equal(redisurl_password_file(&u, "/nonexistent/pw", err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot read"));
    redisurl_free(&u);
}

/* A lone token before '@' is a user name without a password, or a password
 * typed where the user goes: refused, and never echoed. */
static void test_lone_user(void **state)
{
    (void)state;
    static const char *urls[] = {"redis://SECRETX@h:1/0", "redis://%3ASECRETX@h",
                                 "unix://SECRETX@/tmp/r.sock"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        struct redis_url u;
        char err[512] = "";
        if (redisurl_load(urls[i], NULL, &u, err, sizeof err) != -1)
            fail_msg("%s loaded", urls[i]);
        if (strstr(err, "SECRETX") || !strstr(err, "has a user name but no password"))
            fail_msg("%s: message '%s'", urls[i], err);
    }
    /* with the password from a file it is an ACL user */
    struct redis_url u;
    char err[512];
    char *f = write_tmp("pw1\n", 0600);
    assert_int_equal(redisurl_load("redis://alice@h", f, &u, err, sizeof err), 0);
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "pw1");
    redisurl_free(&u);
    unlink(f);
    free(f);
}

static void test_choose(void **state)
{
    (void)state;
    unsetenv(REDISURL_ENV);
    assert_string_equal(redisurl_choose(NULL), REDISURL_DEFAULT);
    setenv(REDISURL_ENV, "redis://envhost", 1);
    assert_string_equal(redisurl_choose(""), "redis://envhost");
    assert_string_equal(redisurl_choose("redis://arg"), "redis://arg");

    /* redisurl_load: choose, parse, then the password file */
    struct redis_url u;
    char err[256];
    char *f = write_tmp("pw1\n", 0600);
    assert_int_equal(redisurl_load(NULL, f, &u, err, sizeof err), 0);
    assert_string_equal(u.host, "envhost");
    assert_string_equal(u.password, "pw1");
    redisurl_free(&u);
    assert_int_equal(redisurl_load("redis://:pw0@h", f, &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "both"));   /* nothing left to free */
    assert_int_equal(redisurl_load("rediss://h", NULL, &u, err, sizeof err), -1);
    unlink(f);
    free(f);
    unsetenv(REDISURL_ENV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_lone_user),
        cmocka_unit_test(test_choose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
