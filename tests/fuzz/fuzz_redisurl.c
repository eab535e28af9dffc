/* fuzz_redisurl.c -- the Redis URL parser, its describer and the redactor:
 * no crash on any input, the text messages are built from does not depend
 * on the password, and neither does the redacted text: the input's bytes
 * are also used as a password, put in every place a URL can carry one, and
 * the redacted URL, the masked URL and the parse error must come out the
 * same as with a neutral password. */
#include "fuzz.h"

#include <stdbool.h>

#include "common/redisurl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

/* Where a URL carries a password ("%s"); port_like: a password of 1-5
 * digits there reads as a port (not a secret, so shown). */
static const struct form {
    const char *fmt;
    bool port_like;
} forms[] = {
    {"redis://:%s@h:1/0", false},           /* userinfo password */
    {"redis://alice:%s@h:1/0", false},      /* ... after an ACL user */
    {"redis://%s@h:1/0", false},            /* a lone token: the user's place */
    {"redis://%%3A%s@h", false},            /* ... with an encoded ':' */
    {"redis://h:1/0?password=%s", false},   /* query */
    {"redis://h/0?db=1&PASSWORD=%s&db=1", false},
    {"redis://h?pass%%77ord=%s", false},    /* a misspelt key */
    {"unix:///s.sock?password=%s&db=2", false},
    {"unix://bob:%s@/s.sock", false},
    {"redis://:%s", true},                  /* the '@host' part missing */
    {"redis://:%s/0", true},
    {"redis://h:%s", true},
    {"redis:/:%s", false},                  /* a typo in the scheme */
};

static char *fmt_url(const struct form *f, const char *pw)
{
    size_t n = strlen(f->fmt) + strlen(pw) + 1;
    char *s = malloc(n);
    if (!s)
        abort();
    snprintf(s, n, f->fmt, pw);
    return s;
}

/* The parse error of url ("" if it parses). */
static void parse_err(const char *url, char *err, size_t errlen)
{
    struct redis_url u;
    err[0] = 0;
    if (redisurl_load(url, NULL, &u, err, errlen) == 0)
        redisurl_free(&u);
}

static bool all_digits(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n >= 1 && n <= max && strspn(s, "0123456789") == n;
}

/* Check one URL form with password text pw (non-empty, without the
 * characters that structure a URL). */
static void check_form(const struct form *f, const char *pw)
{
    if (f->port_like && all_digits(pw, 5))
        return;
    char *url = fmt_url(f, pw);
    char *neutral = fmt_url(f, "Z");
    /* the redacted text does not depend on the password */
    char *r1 = redisurl_redact(url), *r2 = redisurl_redact(neutral);
    if (strcmp(r1, r2) != 0) {
        fprintf(stderr, "redact(%s) = %s, but redact(%s) = %s\n", url, r1, neutral, r2);
        abort();
    }
    /* the mask hides the same characters, in place */
    char zs[3 * 64 + 1];
    memset(zs, 'Z', strlen(pw));
    zs[strlen(pw)] = 0;
    char *m1 = strdup(url), *m2 = fmt_url(f, zs);
    if (!m1)
        abort();
    redisurl_mask(m1);
    redisurl_mask(m2);
    if (strcmp(m1, m2) != 0) {
        fprintf(stderr, "mask(%s) = %s, but %s with another password\n", url, m1, m2);
        abort();
    }
    /* an error message shows the password only if it is part of the
     * message's own words */
    char e1[512], e2[512];
    parse_err(url, e1, sizeof e1);
    parse_err(neutral, e2, sizeof e2);
    if (strstr(e1, pw) && !strstr(e2, pw)) {
        fprintf(stderr, "the error for %s shows the password: %s\n", url, e1);
        abort();
    }
    free(m1);
    free(m2);
    free(r1);
    free(r2);
    free(neutral);
    free(url);
}

/* The input (up to its first NUL, at most 64 bytes) as a password: as it is
 * when it holds none of the characters that structure a URL, and always
 * percent-encoded. */
static void check_password(const uint8_t *data, size_t size)
{
    char pw[65], enc[3 * 64 + 1];
    size_t n = 0;
    while (n < size && n < 64 && data[n])
        pw[n] = (char)data[n], n++;
    pw[n] = 0;
    if (n == 0)
        return;
    char *o = enc;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)pw[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            *o++ = (char)c;
        else
            o += sprintf(o, "%%%02X", c);
    }
    *o = 0;
    bool raw = strcspn(pw, ":/?#@&=%[]") == n;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        check_form(&forms[i], enc);
        if (raw)
            check_form(&forms[i], pw);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = fuzz_cstr(data, size);
    char err[256];
    struct redis_url u = {0};
    char *red = redisurl_redact(url);
    if (redisurl_parse(url, &u, err, sizeof err) == 0) {
        /* The described text must not depend on the password: describing
         * the same URL with another password gives the same text. */
        char *d = redisurl_describe(&u);
        char *pw = u.password;
        u.password = (char *)"another password";
        char *d2 = redisurl_describe(&u);
        u.password = pw;
        if (pw && strcmp(d, d2) != 0)
            abort();
        free(d2);
        free(d);
    }
    redisurl_free(&u);
    free(red);
    free(url);
    check_password(data, size);
    return 0;
}
