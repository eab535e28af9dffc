/* http.h -- HTTP/1.1 message framing, shared by the proxy, the load generator
 * and the example service: head parsing, body framing (Content-Length,
 * chunked, until close) as an incremental scanner that never copies, and
 * W3C traceparent.  Pure: bytes in, structs out.
 *
 * The scanner only finds where a body ends; bodies are forwarded as they
 * are (chunk framing included), so a proxy streams them without buffering. */
#ifndef TK_HTTP_H
#define TK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the proxy, the service and the load generator need from a head. */
struct http_head {
    size_t len;                   /* bytes up to and including the empty line */
    const char *method, *target;  /* requests (not NUL-terminated) */
    size_t method_len, target_len;
    int status;                   /* responses */
    int minor;                    /* HTTP/1.minor */
    bool conn_close, conn_keep_alive;
    bool te;                      /* a Transfer-Encoding field was given */
    bool chunked;                 /* Transfer-Encoding whose last coding is chunked, once */
    bool other_te;                /* any other Transfer-Encoding (length unknown) */
    bool has_length;
    uint64_t length;
    bool expect_continue;
    const char *traceparent;      /* value, white space trimmed; NULL when absent */
    size_t traceparent_len;
};

/* Parse a request or response head at the start of buf.  Returns 1 when a
 * complete head was parsed (h->len set), 0 when more bytes are needed, -1
 * when it is malformed: a bad start line, header syntax (white space before
 * the colon, obsolete line folding), a control character other than HTAB in
 * a field value (a bare LF, CR or NUL: RFC 9110 5.5), a conflicting or bad
 * Content-Length, or (requests) Transfer-Encoding in HTTP/1.0 (RFC 9112
 * 6.1).  Framing conflicts a request may still carry (Transfer-Encoding
 * with Content-Length, a coding other than a final chunked) are refused by
 * http_request_body. */
int http_parse_request(const char *buf, size_t len, struct http_head *h);
int http_parse_response(const char *buf, size_t len, struct http_head *h);

/* Whether the connection stays open after this message (HTTP/1.1 default
 * keep-alive, HTTP/1.0 only with Connection: keep-alive). */
bool http_keep_alive(const struct http_head *h);

enum http_body_kind { HB_NONE, HB_LENGTH, HB_CHUNKED, HB_CLOSE };

/* Body framing of a request: -1 for a Transfer-Encoding that is not
 * chunked or one given together with Content-Length (RFC 9112 6.1: refuse). */
int http_request_body(const struct http_head *h, enum http_body_kind *kind);
/* Body framing of a response to a request with method `head_req` (HEAD):
 * none for HEAD, 1xx, 204 and 304; chunked; length; else until close. */
enum http_body_kind http_response_body(const struct http_head *h, bool head_req);

struct http_body {
    enum http_body_kind kind;
    uint64_t left;        /* LENGTH: bytes left; CHUNKED: data bytes left in the chunk */
    uint64_t size;        /* CHUNKED: chunk size being read */
    int state;            /* CHUNKED: decoder state */
    int digits;
    uint64_t payload;     /* body bytes without chunk framing, so far */
    bool done;
};

void http_body_init(struct http_body *b, enum http_body_kind kind, uint64_t length);
/* Scan the next len bytes of a body.  Returns how many of them belong to it
 * (fewer than len only when the body ends inside them; b->done is then
 * set), or -1 when the chunk framing is malformed.  HB_CLOSE never ends:
 * the caller ends it at EOF. */
long http_body_scan(struct http_body *b, const char *p, size_t len);

/* Copy a request head for the upstream: the request line and every header
 * except traceparent and the hop-by-hop Connection, Keep-Alive and
 * Proxy-Connection, then "traceparent: TP" (when tp is not NULL).  The
 * upstream connection is kept alive by HTTP/1.1's default.  Returns the
 * length written, or 0 when out is too small. */
size_t http_rewrite_request(const char *head, const struct http_head *h, const char *tp, char *out,
                            size_t cap);

/* The request target as a record's `path` (NUL-terminated in out, cut to
 * cap - 1 bytes; returns its length).  Never the userinfo of an
 * absolute-form target: "http://user:pass@host/a" records "/a" (scheme and
 * authority go, the path stays; "/" when it has none).  Path parameters
 * (";jsessionid=...") and the query and fragment may carry tokens: they are
 * kept only with keep_query (`proxy --log-query`). */
size_t http_record_path(const char *target, size_t n, bool keep_query, char *out, size_t cap);

/* ---- W3C Trace Context ---- */

struct traceparent {
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint8_t flags;
};

#define TP_LEN 55                /* "00-" 32 "-" 16 "-" 2 */

/* Parse a traceparent header value (version 00, or a later version read
 * as 00 as the spec asks).  False for anything invalid: uppercase hex,
 * version ff, all-zero ids, wrong lengths. */
bool traceparent_parse(const char *s, size_t n, struct traceparent *tp);
/* "00-TRACE-PARENT-FLAGS" plus NUL: out needs TP_LEN + 1 bytes. */
void traceparent_format(const struct traceparent *tp, char *out);
/* Lowercase hex of n bytes plus NUL: out needs 2n + 1 bytes. */
void traceparent_hex(const uint8_t *b, size_t n, char *out);

#endif
