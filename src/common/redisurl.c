/* redisurl.c -- parse, redact and describe Redis URLs; see redisurl.h. */
#include "common/redisurl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/util.h"

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s)); /* do not leave it in freed memory */
        free(s);
    }
}

void redisurl_free(struct redis_url *u)
{
    free(u->host);
    free(u->path);
    free(u->user);
    free_secret(u->password);
    memset(u, 0, sizeof *u);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Percent-decode s[0..n) into a new string; NULL on a bad escape or an
 * encoded NUL (which C strings, and AUTH here, cannot carry). */
static char *pct_decode(const char *s, size_t n)
{
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *o++ = s[i];
            continue;
        }
        int a = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
        int b = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
        if (a < 0 || b < 0 || (a == 0 && b == 0)) {
            explicit_bzero(out, n + 1);
            free(out);
            return NULL;
        }
        *o++ = (char)(a * 16 + b);
        i += 2;
    }
    *o = 0;
    return out;
}

static bool parse_db(const char *s, size_t n, int *db)
{
    char buf[16];
    int64_t v;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (!isdigit((unsigned char)buf[0]) || !parse_i64(buf, 0, 1000000, &v))
        return false;
    *db = (int)v;
    return true;
}

/* Scheme kinds. */
enum { SCH_TCP, SCH_UNIX };

static int fail(char *err, size_t errlen, const char *url, const char *fmt, const char *arg)
{
    char what[256];
    snprintf(what, sizeof what, fmt, arg ? arg : "");
    char *red = redisurl_redact(url);
    snprintf(err, errlen, "bad Redis URL '%s': %s", red, what);
    free(red);
    return -1;
}

/* Query string "k=v&k=v": password and db. */
static int parse_query(const char *q, struct redis_url *u, bool *db_set, const char *url,
                       char *err, size_t errlen)
{
    const char *p = q;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        const char *v = eq ? eq + 1 : p + len;
        size_t vlen = eq ? len - klen - 1 : 0;
        if (len == 0) {
            /* "a=1&&b=2" or a trailing '&': nothing to do */
        } else if (klen == 8 && !strncasecmp(p, "password", 8)) {
            if (u->password)
                return fail(err, errlen, url, "the password is given twice", NULL);
            u->password = pct_decode(v, vlen);
            if (!u->password)
                return fail(err, errlen, url, "bad percent-encoding in the password", NULL);
        } else if (klen == 2 && !strncasecmp(p, "db", 2)) {
            int db;
            if (!parse_db(v, vlen, &db))
                return fail(err, errlen, url, "db must be a number >= 0", NULL);
            if (*db_set && db != u->db)
                return fail(err, errlen, url, "the db is given twice", NULL);
            u->db = db;
            *db_set = true;
        } else if (!eq) {
            /* no '=': it might be a stray secret, so do not echo it */
            return fail(err, errlen, url, "an option without '=' (known: db, password)", NULL);
        } else {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(klen < 60 ? klen : 60), p);
            return fail(err, errlen, url, "unknown option '%s' (known: db, password)", key);
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return 0;
}

/* userinfo "user:password", "user", ":password" (all percent-encoded). */
static int parse_userinfo(const char *s, size_t n, struct redis_url *u, const char *url,
                          char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    size_t ulen = colon ? (size_t)(colon - s) : n;
    if (ulen) {
        u->user = pct_decode(s, ulen);
        if (!u->user)
            return fail(err, errlen, url, "bad percent-encoding in the user name", NULL);
    }
    if (colon) {
        u->password = pct_decode(colon + 1, n - ulen - 1);
        if (!u->password)
            return fail(err, errlen, url, "bad percent-encoding in the password", NULL);
        if (!*u->password) {
            free_secret(u->password);
            u->password = NULL; /* "user:@host" = no password */
        }
    }
    return 0;
}

static int parse_hostport(const char *s, size_t n, struct redis_url *u, const char *url,
                          char *err, size_t errlen)
{
    const char *port = NULL;
    size_t hlen = n;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return fail(err, errlen, url, "missing ']' after an IPv6 address", NULL);
        u->host = xasprintf("%.*s", (int)(close - s - 1), s + 1);
        const char *rest = close + 1;
        size_t rlen = n - (size_t)(rest - s);
        if (rlen && *rest != ':')
            return fail(err, errlen, url, "unexpected text after ']'", NULL);
        if (rlen)
            port = rest + 1;
        hlen = 0;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
        }
    }
    if (!u->host) {
        for (size_t i = 0; i < hlen; i++)
            if (!isalnum((unsigned char)s[i]) && !strchr(".-_", s[i]))
                return fail(err, errlen, url, "invalid character in the host name", NULL);
        u->host = hlen ? xasprintf("%.*s", (int)hlen, s) : xstrdup("127.0.0.1");
    }
    if (port) {
        size_t plen = n - (size_t)(port - s);
        char buf[8];
        int64_t v;
        if (plen == 0 || plen >= sizeof buf)
            return fail(err, errlen, url, "the port must be a number 1..65535", NULL);
        memcpy(buf, port, plen);
        buf[plen] = 0;
        if (!isdigit((unsigned char)buf[0]) || !parse_i64(buf, 1, 65535, &v))
            return fail(err, errlen, url, "the port must be a number 1..65535", NULL);
        u->port = (int)v;
    }
    return 0;
}

int redisurl_parse(const char *url, struct redis_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (!url || !*url)
        url = REDISURL_DEFAULT;

    const char *sep = strstr(url, "://");
    if (!sep) {
        fail(err, errlen, url, "expected redis://HOST[:PORT][/DB] or unix:///PATH", NULL);
        return -1;
    }
    size_t slen = (size_t)(sep - url);
    int kind;
    if (slen == 5 && !strncasecmp(url, "redis", 5)) {
        kind = SCH_TCP;
    } else if ((slen == 4 && !strncasecmp(url, "unix", 4)) ||
               (slen == 10 && !strncasecmp(url, "redis+unix", 10))) {
        kind = SCH_UNIX;
    } else if (slen == 6 && !strncasecmp(url, "rediss", 6)) {
        fail(err, errlen, url,
             "rediss:// (TLS) is not supported by this build; reach Redis over a private "
             "network, an SSH tunnel or stunnel and use redis://", NULL);
        return -1;
    } else {
        fail(err, errlen, url, "unknown scheme (use redis://, unix:// or redis+unix://)", NULL);
        return -1;
    }
    const char *rest = sep + 3;
    if (strchr(rest, '#')) {
        fail(err, errlen, url, "'#' is not allowed (percent-encode it as %%23)", NULL);
        goto bad;
    }
    /* Userinfo ends at the last '@' before the query: '@' and '/' in an
     * unencoded password still parse. */
    const char *q = strchr(rest, '?');
    const char *end = q ? q : rest + strlen(rest);
    const char *at = NULL;
    for (const char *c = rest; c < end; c++)
        if (*c == '@')
            at = c;
    if (at && parse_userinfo(rest, (size_t)(at - rest), u, url, err, errlen) < 0)
        goto bad;
    const char *hp = at ? at + 1 : rest;
    bool db_set = false;

    if (kind == SCH_UNIX) {
        u->unix_socket = true;
        if (hp == end || *hp != '/') {
            fail(err, errlen, url, "the unix socket path must be absolute (unix:///path)", NULL);
            goto bad;
        }
        u->path = pct_decode(hp, (size_t)(end - hp));
        if (!u->path) {
            fail(err, errlen, url, "bad percent-encoding in the socket path", NULL);
            goto bad;
        }
    } else {
        const char *slash = memchr(hp, '/', (size_t)(end - hp));
        const char *hend = slash ? slash : end;
        if (parse_hostport(hp, (size_t)(hend - hp), u, url, err, errlen) < 0)
            goto bad;
        if (slash && slash + 1 < end) {
            if (!parse_db(slash + 1, (size_t)(end - slash - 1), &u->db)) {
                fail(err, errlen, url, "the path must be a database number (/0, /1, ...)",
                     NULL);
                goto bad;
            }
            db_set = true;
        }
    }
    if (q && parse_query(q + 1, u, &db_set, url, err, errlen) < 0)
        goto bad;
    return 0;
bad:
    redisurl_free(u);
    return -1;
}

int redisurl_password_file(struct redis_url *u, const char *path, char *err, size_t errlen)
{
    if (u->password) {
        snprintf(err, errlen, "the password is given both in the Redis URL and in %s", path);
        return -1;
    }
    struct stat st;
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "cannot read the Redis password file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        log_warn("Redis password file %s is readable by group or others (chmod 600 it)", path);
    /* one line: strip a single trailing "\n" or "\r\n" */
    if (len && text[len - 1] == '\n')
        text[--len] = 0;
    if (len && text[len - 1] == '\r')
        text[--len] = 0;
    if (len == 0 || memchr(text, '\n', len) || strlen(text) != len) {
        snprintf(err, errlen, "Redis password file %s must hold exactly one non-empty line",
                 path);
        explicit_bzero(text, len);
        free(text);
        return -1;
    }
    u->password = text;
    return 0;
}

const char *redisurl_choose(const char *arg)
{
    if (arg && *arg)
        return arg;
    const char *env = getenv(REDISURL_ENV);
    return env && *env ? env : REDISURL_DEFAULT;
}

/* ---- redaction ----
 * Three rules each mark characters as secret; every run of marked
 * characters becomes "***".  Using the rules on the raw text (rather than
 * a parse) keeps passwords hidden even in URLs that do not parse:
 *  A. userinfo: before the last '@' anywhere (a password may hold '/', '?'
 *     or '#'), everything after the first ':' -- or all of it when there
 *     is no ':' (a password typed where the user name goes, or an encoded
 *     ':' as in "%3Apw");
 *  B. query: the value of every item but db=..., and every item without '='
 *     (a stray secret, or a misspelt "password");
 *  C. no '@' at all: after the ':' of HOST:PORT when what follows is not a
 *     port number -- up to the query, as the '@host' part may be missing
 *     ("redis://:pw") and the password may hold '/'. */
static void hide_userinfo(const char *url, bool *hide)
{
    const char *at = strrchr(url, '@');
    const char *sep = strstr(url, "://");
    const char *start = sep && (!at || sep < at) ? sep + 3 : url;
    if (at) {
        const char *colon = memchr(start, ':', (size_t)(at - start));
        for (const char *c = colon ? colon + 1 : start; c < at; c++)
            hide[c - url] = true;
        return;
    }
    const char *end = start + strcspn(start, "?");
    const char *c = start;
    if (*c == '[') { /* an IPv6 address: its ':' are not a port's */
        const char *close = memchr(c, ']', (size_t)(end - c));
        c = close ? close + 1 : end;
    }
    const char *colon = c + strcspn(c, ":/?");
    if (colon >= end || *colon != ':')
        return;
    size_t plen = strcspn(colon + 1, "/?");
    bool port = plen >= 1 && plen <= 5 && strspn(colon + 1, "0123456789") == plen;
    if (!port)
        for (c = colon + 1; c < end; c++)
            hide[c - url] = true;
}

static void hide_query(const char *url, size_t n, bool *hide)
{
    const char *q = strchr(url, '?');
    for (const char *p = q ? q + 1 : url + n; *p;) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        size_t from = 0; /* no '=': all of it */
        if (eq)
            from = eq - p == 2 && !strncasecmp(p, "db", 2) ? len : (size_t)(eq - p) + 1;
        for (size_t k = from; k < len; k++)
            hide[p - url + (ptrdiff_t)k] = true;
        p += len;
        if (*p == '&')
            p++;
    }
}

/* hide[i]: url[i] may be part of a secret (calloc'd, n + 1 entries). */
static bool *secret_chars(const char *url, size_t n)
{
    bool *hide = xcalloc(n + 1, sizeof *hide);
    hide_userinfo(url, hide);
    hide_query(url, n, hide);
    return hide;
}

char *redisurl_redact(const char *url)
{
    if (!url)
        return xstrdup("");
    size_t n = strlen(url);
    bool *hide = secret_chars(url, n);
    /* worst case every other character is a hidden run: 3 bytes for 1 */
    char *out = xmalloc(3 * n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (!hide[i])
            *o++ = url[i];
        else if (i == 0 || !hide[i - 1]) {
            memcpy(o, "***", 3);
            o += 3;
        }
    }
    *o = 0;
    free(hide);
    return out;
}

void redisurl_mask(char *url)
{
    if (!url)
        return;
    size_t n = strlen(url);
    bool *hide = secret_chars(url, n);
    for (size_t i = 0; i < n; i++)
        if (hide[i])
            url[i] = '*';
    free(hide);
}

char *redisurl_describe(const struct redis_url *u)
{
    const char *pw = u->password ? ":***" : "";
    const char *user = u->user ? u->user : "";
    const char *at = (u->user || u->password) ? "@" : "";
    if (u->unix_socket)
        return xasprintf("unix://%s%s%s%s?db=%d", user, pw, at, u->path, u->db);
    bool v6 = strchr(u->host, ':') != NULL;
    return xasprintf("redis://%s%s%s%s%s%s:%d/%d", user, pw, at, v6 ? "[" : "", u->host,
                     v6 ? "]" : "", u->port, u->db);
}

int redisurl_load(const char *arg, const char *pw_file, struct redis_url *u, char *err,
                  size_t errlen)
{
    if (redisurl_parse(redisurl_choose(arg), u, err, errlen) < 0)
        return -1;
    if (pw_file && redisurl_password_file(u, pw_file, err, errlen) < 0) {
        redisurl_free(u);
        return -1;
    }
    if (u->user && !u->password) {
        /* "redis://TOKEN@host": an ACL user without its password, or a
         * password typed where the user goes (redis-py would take it as a
         * user name).  Either way it cannot AUTH: refuse, without echoing
         * the token. */
        char *red = redisurl_redact(redisurl_choose(arg));
        errf(err, errlen, "the Redis URL '%s' has a user name but no password: write "
             "redis://:PASSWORD@HOST for a password, redis://USER:PASSWORD@HOST or "
             "--redis-password-file for an ACL user", red);
        free(red);
        redisurl_free(u);
        return -1;
    }
    return 0;
}
