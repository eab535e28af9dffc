/* fuzz_http.c -- the HTTP/1.1 framing of http.c: the request and response
 * head parsers, the chunked decoder and the record path.  The first byte
 * picks what the rest feeds:
 *   0  a request head: an accepted head holds no control character but HTAB
 *      and CRLF pairs (no bare CR, LF or NUL that an upstream could frame
 *      differently), a token method and a target without white space; its
 *      framing is at most one of chunked and Content-Length (none with
 *      Transfer-Encoding in HTTP/1.0); the head rewritten for the upstream
 *      parses again to the same method, target and framing.
 *   1  a response head: the same control character property.
 *   2  chunked bytes, fed in pieces whose sizes come from the input: never
 *      more bytes taken than given, never more payload than bytes taken,
 *      and the same outcome whatever the pieces.
 *   3  a round trip: the rest is data, encoded chunked here (chunk sizes,
 *      extensions and trailers from the data itself); decoding it takes every
 *      encoded byte, ends, and gives the data back.
 *   4  a record path: fits, holds no ';' '?' '#' without keep_query, and of
 *      an absolute-form target only the path (no authority, no userinfo). */
#include "fuzz.h"

#include "http/http.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

static bool tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* No control character but HTAB, and CR and LF only as CRLF pairs. */
static void check_no_ctl(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r') {
            if (i + 1 >= n || p[i + 1] != '\n')
                abort();
            i++;
        } else if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f) {
            abort();
        }
    }
}

static void request(const char *p, size_t n)
{
    struct http_head h;
    int rc = http_parse_request(p, n, &h);
    if (rc != 1)
        return;
    if (h.len > n || h.len < 4 || memcmp(p + h.len - 4, "\r\n\r\n", 4))
        abort();
    if (http_parse_request(p, h.len - 1, &h) != 0 || http_parse_request(p, n, &h) != 1)
        abort();   /* a head is complete only with its empty line */
    check_no_ctl(p, h.len);
    if (!h.method_len || !h.target_len)
        abort();
    for (size_t i = 0; i < h.method_len; i++)
        if (!tchar((unsigned char)h.method[i]))
            abort();
    for (size_t i = 0; i < h.target_len; i++)
        if ((unsigned char)h.target[i] <= ' ' || h.target[i] == 0x7f)
            abort();
    if (h.minor == 0 && (h.te || h.chunked || h.other_te))
        abort();
    if (h.chunked && h.other_te)
        abort();
    enum http_body_kind kind;
    if (http_request_body(&h, &kind) == 0) {
        if (h.te && h.has_length)
            abort();   /* one framing at most */
        if ((kind == HB_CHUNKED) != h.chunked || (kind == HB_LENGTH && !(h.has_length && h.length)))
            abort();
    } else if (!h.other_te && !(h.chunked && h.has_length)) {
        abort();
    }
    /* rewritten for the upstream: the same request, the same framing */
    static char out[4 * 65536];
    const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    size_t m = http_rewrite_request(p, &h, tp, out, sizeof out);
    if (!m)
        return;
    struct http_head h2;
    if (http_parse_request(out, m, &h2) != 1 || h2.len != m)
        abort();
    if (h2.method_len != h.method_len || memcmp(h2.method, h.method, h.method_len) ||
        h2.target_len != h.target_len || memcmp(h2.target, h.target, h.target_len) ||
        h2.chunked != h.chunked || h2.other_te != h.other_te || h2.has_length != h.has_length ||
        h2.length != h.length || h2.minor != h.minor)
        abort();
    if (!h2.traceparent || h2.traceparent_len != strlen(tp) || memcmp(h2.traceparent, tp, strlen(tp)))
        abort();
}

static void response(const char *p, size_t n)
{
    struct http_head h;
    if (http_parse_response(p, n, &h) != 1)
        return;
    if (h.len > n || h.status < 100 || h.status > 999)
        abort();
    check_no_ctl(p, h.len);
    if (h.chunked && h.other_te)
        abort();
}

/* Feed p in pieces (sizes from sz, cycled).  Returns the bytes taken, or
 * -1 when malformed; *payload gets the data bytes counted. */
static long feed(const char *p, size_t n, const uint8_t *sz, size_t nsz, bool *done, uint64_t *payload)
{
    struct http_body b;
    http_body_init(&b, HB_CHUNKED, 0);
    size_t off = 0, k = 0;
    while (off < n && !b.done) {
        size_t step = nsz ? (size_t)sz[k++ % nsz] % 17 + 1 : n - off;
        if (step > n - off)
            step = n - off;
        long r = http_body_scan(&b, p + off, step);
        if (r < 0)
            return -1;
        if ((size_t)r > step || ((size_t)r < step && !b.done))
            abort();   /* takes what it is given, short only at the end */
        off += (size_t)r;
        if (b.payload > off)
            abort();
    }
    *done = b.done;
    *payload = b.payload;
    return (long)off;
}

static void chunked(const uint8_t *d, size_t n)
{
    /* the first 4 bytes size the pieces, the rest is the body */
    size_t nsz = n < 4 ? n : 4;
    const char *p = (const char *)d + nsz;
    size_t len = n - nsz;
    bool done1, done2;
    uint64_t pay1, pay2;
    long a = feed(p, len, NULL, 0, &done1, &pay1);
    long b = feed(p, len, d, nsz, &done2, &pay2);
    if ((a < 0) != (b < 0))
        abort();
    if (a >= 0 && (a != b || done1 != done2 || pay1 != pay2))
        abort();
}

/* Encode data chunked: chunk sizes, extensions and trailers from the data. */
static size_t encode(const uint8_t *d, size_t n, char *out)
{
    size_t o = 0, i = 0;
    while (i < n) {
        size_t c = (size_t)d[i] % 37 + 1;
        if (c > n - i)
            c = n - i;
        o += (size_t)sprintf(out + o, d[i] & 0x40 ? "%zX" : "%zx", c);
        if (d[i] & 0x80)
            o += (size_t)sprintf(out + o, ";ext=%u\t", d[i]);
        out[o++] = '\r';
        out[o++] = '\n';
        memcpy(out + o, d + i, c);
        o += c;
        out[o++] = '\r';
        out[o++] = '\n';
        i += c;
    }
    o += (size_t)sprintf(out + o, "0\r\n");
    if (n && d[0] & 1)
        o += (size_t)sprintf(out + o, "X-Trailer: %zu\r\n", n);
    o += (size_t)sprintf(out + o, "\r\n");
    return o;
}

static void round_trip(const uint8_t *d, size_t n)
{
    char *enc = malloc(n * 16 + 64);
    uint8_t *back = malloc(n + 1);
    if (!enc || !back)
        abort();
    size_t m = encode(d, n, enc);
    /* byte by byte: a byte that raised the payload count is a data byte */
    struct http_body b;
    http_body_init(&b, HB_CHUNKED, 0);
    size_t got = 0, off = 0;
    while (off < m && !b.done) {
        uint64_t before = b.payload;
        long r = http_body_scan(&b, enc + off, 1);
        if (r != 1)
            abort();
        if (b.payload != before) {
            if (b.payload != before + 1 || got >= n)
                abort();
            back[got++] = (uint8_t)enc[off];
        }
        off++;
    }
    if (!b.done || off != m || got != n || memcmp(back, d, n))
        abort();
    /* and all at once */
    http_body_init(&b, HB_CHUNKED, 0);
    if (http_body_scan(&b, enc, m) != (long)m || !b.done || b.payload != n)
        abort();
    free(enc);
    free(back);
}

static void record_path(const char *p, size_t n)
{
    char out[64];
    for (int q = 0; q < 2; q++) {
        size_t k = http_record_path(p, n, q, out, sizeof out);
        if (k >= sizeof out || strlen(out) > k || (k > n + 1))
            abort();
        if (!q && strpbrk(out, ";?#"))
            abort();
        /* an absolute-form target keeps nothing of its authority (nor of
         * its userinfo): with keep_query, the path from the first '/', '?'
         * or '#' after "scheme://", and "/" first when it has none */
        if (q && n >= 7 && !memcmp(p, "http://", 7)) {
            const char *e = p + 7, *end = p + n;
            while (e < end && *e != '/' && *e != '?' && *e != '#')
                e++;
            char want[64];
            size_t w = 0;
            if (e == end || *e != '/')
                want[w++] = '/';
            while (e < end && w < sizeof want - 1)
                want[w++] = *e++;
            if (k != w || memcmp(out, want, w))
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 5) {
    case 0:
        request(p, n);
        break;
    case 1:
        response(p, n);
        break;
    case 2:
        chunked(data + 1, n);
        break;
    case 3:
        round_trip(data + 1, n);
        break;
    case 4:
        record_path(p, n);
        break;
    }
    return 0;
}
