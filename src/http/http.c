/* http.c -- HTTP/1.1 framing (see http.h). */
#include "http/http.h"

#include <string.h>

static bool ieq(const char *a, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != lit[i])
            return false;
    }
    return true;
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Comma-separated tokens of a header value, trimmed. */
static bool next_token(const char **p, const char *end, const char **tok, size_t *n)
{
    const char *s = *p;
    while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
        s++;
    if (s == end)
        return false;
    const char *t = s;
    while (s < end && *s != ',')
        s++;
    const char *e = s;
    while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *tok = t;
    *n = (size_t)(e - t);
    *p = s;
    return true;
}

/* RFC 9110 5.5: a field value holds no control character but HTAB.  A bare
 * LF, a CR or a NUL that one parser takes as a line end and another does not
 * is how requests are smuggled past a proxy. */
static bool is_ctl(char ch)
{
    unsigned char c = (unsigned char)ch;
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool has_ctl(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_ctl(v[i]))
            return true;
    return false;
}

static int header(struct http_head *h, const char *name, size_t nlen, const char *v, size_t vlen)
{
    if (has_ctl(v, vlen))
        return -1;
    if (ieq(name, nlen, "content-length")) {
        if (vlen == 0 || vlen > 18)
            return -1;
        uint64_t x = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -1;
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        if (h->has_length && h->length != x)
            return -1;   /* two different lengths: a smuggling attempt */
        h->has_length = true;
        h->length = x;
    } else if (ieq(name, nlen, "transfer-encoding")) {
        /* Only a final chunked frames a body, applied once (RFC 9112 6.1):
         * a coding after chunked, or a second chunked, in this field or a
         * later one, leaves the length unknown (see te_finish). */
        const char *p = v, *t;
        size_t n;
        h->te = true;
        while (next_token(&p, v + vlen, &t, &n)) {
            if (h->chunked)
                h->other_te = true;
            if (ieq(t, n, "chunked"))
                h->chunked = true;
        }
    } else if (ieq(name, nlen, "connection")) {
        const char *p = v, *t;
        size_t n;
        while (next_token(&p, v + vlen, &t, &n)) {
            if (ieq(t, n, "close"))
                h->conn_close = true;
            else if (ieq(t, n, "keep-alive"))
                h->conn_keep_alive = true;
        }
    } else if (ieq(name, nlen, "expect")) {
        h->expect_continue = ieq(v, vlen, "100-continue");
    } else if (ieq(name, nlen, "traceparent")) {
        h->traceparent = v;
        h->traceparent_len = vlen;
    }
    return 0;
}

/* After the last field: chunked only when it is the final coding, applied
 * once; every other Transfer-Encoding is other_te. */
static void te_finish(struct http_head *h)
{
    if (h->te && !h->chunked)
        h->other_te = true;
    if (h->other_te)
        h->chunked = false;
}

/* Header lines from p (just after the start line) to the empty line. */
static int headers(struct http_head *h, const char *p, const char *end)
{
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol + 1 >= end || eol[1] != '\n')
            return -1;
        if (eol == p) {
            te_finish(h);
            return 0;   /* the empty line */
        }
        if (*p == ' ' || *p == '\t')
            return -1;  /* obsolete line folding */
        const char *colon = p;
        while (colon < eol && is_tchar((unsigned char)*colon))
            colon++;
        if (colon == p || colon == eol || *colon != ':')
            return -1;
        const char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (header(h, p, (size_t)(colon - p), v, (size_t)(ve - v)) < 0)
            return -1;
        p = eol + 2;
    }
    return -1;
}

/* Find the end of the head; 0 when incomplete. */
static size_t head_end(const char *buf, size_t len)
{
    const char *e = memmem(buf, len, "\r\n\r\n", 4);
    return e ? (size_t)(e - buf) + 4 : 0;
}

static bool version(const char *p, const char *end, int *minor)
{
    if (end - p != 8 || memcmp(p, "HTTP/1.", 7) || p[7] < '0' || p[7] > '9')
        return false;
    *minor = p[7] - '0';
    return true;
}

int http_parse_request(const char *buf, size_t len, struct http_head *h)
{
    memset(h, 0, sizeof *h);
    size_t n = head_end(buf, len);
    if (!n)
        return 0;
    const char *end = buf + n, *eol = memchr(buf, '\r', n);
    if (eol[1] != '\n')
        return -1;   /* a bare CR in the request line */
    const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
    if (!sp1 || sp1 == buf)
        return -1;
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
    if (!sp2 || sp2 == sp1 + 1)
        return -1;
    for (const char *c = buf; c < sp1; c++)
        if (!is_tchar((unsigned char)*c))
            return -1;
    for (const char *c = sp1 + 1; c < sp2; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return -1;
    if (!version(sp2 + 1, eol, &h->minor))
        return -1;
    h->method = buf;
    h->method_len = (size_t)(sp1 - buf);
    h->target = sp1 + 1;
    h->target_len = (size_t)(sp2 - sp1 - 1);
    if (headers(h, eol + 2, end) < 0)
        return -1;
    /* RFC 9112 6.1: a Transfer-Encoding in an HTTP/1.0 message is a sign of
     * a smuggling attempt (1.0 servers ignore it and read Content-Length). */
    if (h->minor == 0 && h->te)
        return -1;
    h->len = n;
    return 1;
}

int http_parse_response(const char *buf, size_t len, struct http_head *h)
{
    memset(h, 0, sizeof *h);
    size_t n = head_end(buf, len);
    if (!n)
        return 0;
    const char *end = buf + n, *eol = memchr(buf, '\r', n);
    if (eol[1] != '\n' || has_ctl(buf, (size_t)(eol - buf)))
        return -1;
    if (eol - buf < 12 || !version(buf, buf + 8, &h->minor) || buf[8] != ' ')
        return -1;
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9')
            return -1;
        st = st * 10 + (buf[i] - '0');
    }
    if (st < 100 || (eol - buf > 12 && buf[12] != ' '))
        return -1;
    h->status = st;
    if (headers(h, eol + 2, end) < 0)
        return -1;
    h->len = n;
    return 1;
}

bool http_keep_alive(const struct http_head *h)
{
    if (h->conn_close)
        return false;
    return h->minor >= 1 || h->conn_keep_alive;
}

int http_request_body(const struct http_head *h, enum http_body_kind *kind)
{
    if (h->other_te || (h->chunked && h->has_length))
        return -1;
    *kind = h->chunked ? HB_CHUNKED : h->has_length && h->length ? HB_LENGTH : HB_NONE;
    return 0;
}

enum http_body_kind http_response_body(const struct http_head *h, bool head_req)
{
    if (head_req || h->status < 200 || h->status == 204 || h->status == 304)
        return HB_NONE;
    if (h->chunked)
        return HB_CHUNKED;
    if (h->has_length && !h->other_te)
        return h->length ? HB_LENGTH : HB_NONE;
    return HB_CLOSE;
}

/* ---- chunked decoding ---- */

enum {
    CS_SIZE,          /* hex digits of the chunk size */
    CS_EXT,           /* chunk extension, up to CR */
    CS_SIZE_LF,
    CS_DATA,
    CS_DATA_CR,
    CS_DATA_LF,
    CS_TRAILER_START, /* start of a trailer line or the final empty line */
    CS_TRAILER,
    CS_TRAILER_LF,
    CS_END_LF,
};

void http_body_init(struct http_body *b, enum http_body_kind kind, uint64_t length)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->left = length;
    b->state = CS_SIZE;
    b->done = kind == HB_NONE || (kind == HB_LENGTH && length == 0);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static long scan_chunked(struct http_body *b, const char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        char c = p[i];
        switch (b->state) {
        case CS_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                if (++b->digits > 15)
                    return -1;
                b->size = b->size * 16 + (uint64_t)v;
            } else if (b->digits && (c == ';' || c == ' ' || c == '\t')) {
                b->state = CS_EXT;
            } else if (b->digits && c == '\r') {
                b->state = CS_SIZE_LF;
            } else {
                return -1;
            }
            i++;
            break;
        }
        case CS_EXT:
            if (c == '\r')
                b->state = CS_SIZE_LF;
            else if (is_ctl(c))
                return -1;
            i++;
            break;
        case CS_SIZE_LF:
            if (c != '\n')
                return -1;
            i++;
            b->left = b->size;
            b->state = b->size ? CS_DATA : CS_TRAILER_START;
            break;
        case CS_DATA: {
            /* data in bulk: the common case costs no per-byte work */
            size_t take = len - i < b->left ? len - i : (size_t)b->left;
            i += take;
            b->left -= take;
            b->payload += take;
            if (!b->left)
                b->state = CS_DATA_CR;
            break;
        }
        case CS_DATA_CR:
            if (c != '\r')
                return -1;
            b->state = CS_DATA_LF;
            i++;
            break;
        case CS_DATA_LF:
            if (c != '\n')
                return -1;
            b->state = CS_SIZE;
            b->size = 0;
            b->digits = 0;
            i++;
            break;
        case CS_TRAILER_START:
            if (c != '\r' && is_ctl(c))
                return -1;
            b->state = c == '\r' ? CS_END_LF : CS_TRAILER;
            i++;
            break;
        case CS_TRAILER:
            /* no bare LF or NUL: the trailer section must end where the
             * upstream's parser thinks it ends */
            if (c == '\r')
                b->state = CS_TRAILER_LF;
            else if (is_ctl(c))
                return -1;
            i++;
            break;
        case CS_TRAILER_LF:
            if (c != '\n')
                return -1;
            b->state = CS_TRAILER_START;
            i++;
            break;
        case CS_END_LF:
            if (c != '\n')
                return -1;
            b->done = true;
            return (long)(i + 1);
        }
    }
    return (long)i;
}

long http_body_scan(struct http_body *b, const char *p, size_t len)
{
    if (b->done)
        return 0;
    switch (b->kind) {
    case HB_NONE:
        b->done = true;
        return 0;
    case HB_LENGTH: {
        size_t take = len < b->left ? len : (size_t)b->left;
        b->left -= take;
        b->payload += take;
        b->done = b->left == 0;
        return (long)take;
    }
    case HB_CHUNKED:
        return scan_chunked(b, p, len);
    case HB_CLOSE:
        b->payload += len;
        return (long)len;
    }
    return -1;
}

size_t http_rewrite_request(const char *head, const struct http_head *h, const char *tp, char *out,
                            size_t cap)
{
    const char *p = head, *end = head + h->len;
    const char *eol = memchr(p, '\r', h->len);
    size_t n = (size_t)(eol - p) + 2, o = 0;
    if (n > cap)
        return 0;
    memcpy(out, p, n);
    o = n;
    p = eol + 2;
    while (p < end) {
        eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == p)
            break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        size_t nl = (size_t)(colon - p);
        if (!ieq(p, nl, "traceparent") && !ieq(p, nl, "connection") && !ieq(p, nl, "keep-alive") &&
            !ieq(p, nl, "proxy-connection")) {
            n = (size_t)(eol - p) + 2;
            if (o + n > cap)
                return 0;
            memcpy(out + o, p, n);
            o += n;
        }
        p = eol + 2;
    }
    if (tp) {
        size_t tl = strlen(tp);
        if (o + 13 + tl + 2 > cap)
            return 0;
        memcpy(out + o, "traceparent: ", 13);
        memcpy(out + o + 13, tp, tl);
        memcpy(out + o + 13 + tl, "\r\n", 2);
        o += 13 + tl + 2;
    }
    if (o + 2 > cap)
        return 0;
    memcpy(out + o, "\r\n", 2);
    return o + 2;
}

/* Length of "scheme://" at the start of t, or 0 (RFC 3986 3.1). */
static size_t scheme_len(const char *t, size_t n)
{
    size_t i = 0;
    while (i < n && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
                     (i && ((t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '-' || t[i] == '.'))))
        i++;
    return i && n - i >= 3 && !memcmp(t + i, "://", 3) ? i + 3 : 0;
}

size_t http_record_path(const char *target, size_t n, bool keep_query, char *out, size_t cap)
{
    const char *t = target, *end = target + n;
    size_t s = scheme_len(t, n);
    if (s) {
        /* absolute-form: the authority (and its userinfo) goes */
        t += s;
        while (t < end && *t != '/' && *t != '?' && *t != '#')
            t++;
    } else if (t < end && *t != '/') {
        /* authority-form (CONNECT) or junk: nothing up to an '@' */
        const char *at = NULL;
        for (const char *c = t; c < end; c++)
            if (*c == '@')
                at = c;
        if (at)
            t = at + 1;
    }
    size_t o = 0;
    if (s && (t == end || *t != '/') && o + 1 < cap)
        out[o++] = '/';
    bool param = false;
    for (; t < end && o + 1 < cap; t++) {
        if (!keep_query && (*t == '?' || *t == '#'))
            break;
        if (!keep_query && *t == ';')
            param = true;    /* up to the next segment */
        else if (*t == '/')
            param = false;
        if (!param)
            out[o++] = *t;
    }
    if (cap)
        out[o] = '\0';
    return o;
}

/* ---- traceparent ---- */

static bool lowhex(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i += 2) {
        int a = hexval(s[i]), b = hexval(s[i + 1]);
        if (a < 0 || b < 0 || (s[i] >= 'A' && s[i] <= 'F') || (s[i + 1] >= 'A' && s[i + 1] <= 'F'))
            return false;
        out[i / 2] = (uint8_t)(a * 16 + b);
    }
    return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

bool traceparent_parse(const char *s, size_t n, struct traceparent *tp)
{
    uint8_t ver;
    if (n < TP_LEN || !lowhex(s, 2, &ver) || ver == 0xff)
        return false;
    /* version 00 is exactly 55 chars; later versions may append "-..." */
    if ((ver == 0 && n != TP_LEN) || (n > TP_LEN && s[TP_LEN] != '-'))
        return false;
    if (s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    struct traceparent t;
    if (!lowhex(s + 3, 32, t.trace_id) || !lowhex(s + 36, 16, t.parent_id) || !lowhex(s + 53, 2, &t.flags))
        return false;
    if (all_zero(t.trace_id, 16) || all_zero(t.parent_id, 8))
        return false;
    *tp = t;
    return true;
}

void traceparent_hex(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void traceparent_format(const struct traceparent *tp, char *out)
{
    memcpy(out, "00-", 3);
    traceparent_hex(tp->trace_id, 16, out + 3);
    out[35] = '-';
    traceparent_hex(tp->parent_id, 8, out + 36);
    out[52] = '-';
    traceparent_hex(&tp->flags, 1, out + 53);
}
