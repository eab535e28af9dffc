#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "http/loadgen.h"
#include "http/sockowner.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_request_head(void **state)
{
    (void)state;
    struct http_head h;
    const char req[] = "POST /a/b?x=1 HTTP/1.1\r\nHost: h\r\ncontent-length: 12\r\n"
                       "Connection: keep-alive, Close\r\nTraceparent:  00-abc \r\n\r\nBODY";
    assert_int_equal(http_parse_request(S(req), &h), 1);
    assert_int_equal(h.len, sizeof req - 1 - 4);
    assert_int_equal(h.method_len, 4);
    assert_memory_equal(h.method, "POST", 4);
    assert_int_equal(h.target_len, 8);
    assert_memory_equal(h.target, "/a/b?x=1", 8);
    assert_true(h.has_length && h.length == 12);
    assert_true(h.conn_close && h.conn_keep_alive);
    assert_false(http_keep_alive(&h));
    assert_int_equal(h.traceparent_len, 6);
    assert_memory_equal(h.traceparent, "00-abc", 6);
    enum http_body_kind k;
    assert_int_equal(http_request_body(&h, &k), 0);
    assert_int_equal(k, HB_LENGTH);

    /* incomplete, then every byte prefix is "need more" */
    for (size_t n = 0; n < h.len; n++)
        assert_int_equal(http_parse_request(req, n, &h), 0);
    /* malformed */
    assert_int_equal(http_parse_request(S("GET /\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/2.0\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\n folded\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), &h), -1);
    /* TE + CL, or a TE we cannot frame: refused */
    assert_int_equal(http_parse_request(S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"), &h), 1);
    assert_int_equal(http_request_body(&h, &k), -1);
    assert_int_equal(http_parse_request(S("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), &h), 1);
    assert_int_equal(http_request_body(&h, &k), -1);
    assert_int_equal(http_parse_request(S("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), &h), 1);
    assert_int_equal(http_request_body(&h, &k), 0);
    assert_int_equal(k, HB_CHUNKED);
    /* HTTP/1.0: close unless keep-alive */
    assert_int_equal(http_parse_request(S("GET / HTTP/1.0\r\n\r\n"), &h), 1);
    assert_false(http_keep_alive(&h));
    assert_int_equal(http_parse_request(S("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), &h), 1);
    assert_true(http_keep_alive(&h));
}

/* Framing an upstream would read differently from us: refused (issue #13). */
static void test_request_smuggling(void **state)
{
    (void)state;
    struct http_head h;
    enum http_body_kind k;
    /* a bare LF, a CR, a NUL or another CTL in a field value */
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nX: a\nContent-Length: 5\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 27, &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nX: a\tb \x80\r\n\r\n"), &h), 1);  /* HTAB, obs-text */
    /* a bare CR after the request line; a bare LF in the target */
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\rX\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET /a\nb HTTP/1.1\r\n\r\n"), &h), -1);
    /* white space before the colon, obs-fold (also after a first field) */
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("GET / HTTP/1.1\r\nHost: x\r\n\tmore\r\n\r\n"), &h), -1);
    /* Transfer-Encoding in HTTP/1.0, in any form */
    assert_int_equal(http_parse_request(S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("POST / HTTP/1.0\r\nTransfer-Encoding:\r\n\r\n"), &h), -1);
    /* Content-Length: duplicates that agree pass, others and lists do not */
    assert_int_equal(http_parse_request(S("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"), &h), 1);
    assert_int_equal(http_parse_request(S("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_request(S("POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n"), &h), -1);
    /* Transfer-Encoding other than one final chunked: parsed, then refused */
    static const char *const bad_te[] = {
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad_te / sizeof *bad_te; i++) {
        assert_int_equal(http_parse_request(bad_te[i], strlen(bad_te[i]), &h), 1);
        assert_false(h.chunked && !h.other_te && !h.has_length);
        assert_int_equal(http_request_body(&h, &k), -1);
    }
    /* a list split over two fields is one list: gzip then chunked is fine */
    assert_int_equal(http_parse_request(S("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n"), &h), 1);
    assert_int_equal(http_request_body(&h, &k), 0);
    assert_int_equal(k, HB_CHUNKED);
    /* a response whose TE does not end in chunked is read until close */
    assert_int_equal(http_parse_response(S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 4\r\n\r\n"), &h), 1);
    assert_int_equal(http_response_body(&h, false), HB_CLOSE);
    assert_int_equal(http_parse_response(S("HTTP/1.1 200 OK\r\nX: a\nb\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_response(S("HTTP/1.1 200 O\x01K\r\n\r\n"), &h), -1);
}

static void test_response_head(void **state)
{
    (void)state;
    struct http_head h;
    assert_int_equal(http_parse_response(S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"), &h), 1);
    assert_int_equal(h.status, 200);
    assert_int_equal(http_response_body(&h, false), HB_LENGTH);
    assert_int_equal(http_response_body(&h, true), HB_NONE);   /* HEAD */
    assert_int_equal(http_parse_response(S("HTTP/1.1 204 No Content\r\n\r\n"), &h), 1);
    assert_int_equal(http_response_body(&h, false), HB_NONE);
    assert_int_equal(http_parse_response(S("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n"), &h), 1);
    assert_int_equal(http_response_body(&h, false), HB_NONE);
    assert_int_equal(http_parse_response(S("HTTP/1.1 100 Continue\r\n\r\n"), &h), 1);
    assert_int_equal(http_response_body(&h, false), HB_NONE);
    assert_int_equal(http_parse_response(S("HTTP/1.0 200 OK\r\n\r\n"), &h), 1);
    assert_int_equal(http_response_body(&h, false), HB_CLOSE);
    assert_false(http_keep_alive(&h));
    assert_int_equal(http_parse_response(S("HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n"), &h), 1);
    assert_int_equal(http_response_body(&h, false), HB_CHUNKED);
    assert_int_equal(http_parse_response(S("HTTP/1.1 2x0 OK\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_response(S("HTTP/1.1 200OK\r\n\r\n"), &h), -1);
    assert_int_equal(http_parse_response(S("HTTP/1.1 200 OK\r\n"), &h), 0);
}

/* Feed a chunked body in pieces of `step` bytes; returns bytes consumed. */
static long feed(struct http_body *b, const char *p, size_t n, size_t step)
{
    size_t off = 0;
    while (off < n && !b->done) {
        size_t k = n - off < step ? n - off : step;
        long r = http_body_scan(b, p + off, k);
        if (r < 0)
            return -1;
        off += (size_t)r;
        if ((size_t)r < k && !b->done)
            return -2;   /* must only stop short at the end */
    }
    return (long)off;
}

static void test_chunked(void **state)
{
    (void)state;
    const char body[] = "5\r\nhello\r\n1A;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
    size_t n = sizeof body - 1;
    for (size_t step = 1; step <= n; step++) {
        struct http_body b;
        http_body_init(&b, HB_CHUNKED, 0);
        assert_int_equal(feed(&b, body, n, step), (long)(n - 4));
        assert_true(b.done);
        assert_int_equal(b.payload, 31);
    }
    struct http_body b;
    static const char *const bad[] = {"x\r\n", "5\r\nhelloXX", "5\nhello", "\r\n", "10000000000000000\r\n",
                                      "0\r\n\rX"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        http_body_init(&b, HB_CHUNKED, 0);
        assert_int_equal(http_body_scan(&b, bad[i], strlen(bad[i])), -1);
    }
    /* no trailers */
    http_body_init(&b, HB_CHUNKED, 0);
    assert_int_equal(http_body_scan(&b, S("0\r\n\r\n")), 5);
    assert_true(b.done);
    /* Content-Length stops at the end */
    http_body_init(&b, HB_LENGTH, 3);
    assert_int_equal(http_body_scan(&b, S("ab")), 2);
    assert_false(b.done);
    assert_int_equal(http_body_scan(&b, S("cdef")), 1);
    assert_true(b.done);
    http_body_init(&b, HB_NONE, 0);
    assert_true(b.done);
}

static void test_chunked_hostile(void **state)
{
    (void)state;
    struct http_body b;
    /* a bare LF or NUL in an extension or a trailer (where an upstream that
     * takes LF for a line end would see the message end), a chunk size of
     * 16 digits (2^64 and over: 15 at most, so the size never wraps) */
    static const char *const bad[] = {
        "5;a\nb\r\n",         "5;a\x01\r\n",          "0\r\nX: a\nb\r\n\r\n",
        "0\r\n\n\r\n",        "0\r\nX: \x7f\r\n\r\n", "1\r\na\n\r\n",
        "fffffffffffffffff\r\n", "0x5\r\n",               "-1\r\n",
        " 5\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        http_body_init(&b, HB_CHUNKED, 0);
        assert_int_equal(http_body_scan(&b, bad[i], strlen(bad[i])), -1);
    }
    http_body_init(&b, HB_CHUNKED, 0);
    assert_int_equal(http_body_scan(&b, "0;a\0\r\n\r\n", 8), -1);
    /* the largest size accepted: 15 hex digits */
    http_body_init(&b, HB_CHUNKED, 0);
    assert_int_equal(http_body_scan(&b, S("fffffffffffffff\r\nab")), 19);
    assert_int_equal(b.left, 0xfffffffffffffffULL - 2);
    /* HTAB in an extension and a trailer is fine */
    http_body_init(&b, HB_CHUNKED, 0);
    assert_int_equal(http_body_scan(&b, S("1;\ta\r\nz\r\n0\r\nX:\t1\r\n\r\n")), 20);
    assert_true(b.done);
}

static void test_record_path(void **state)
{
    (void)state;
    char out[64];
    static const struct { const char *target; bool q; const char *want; } cases[] = {
        {"/a/b?x=1", false, "/a/b"},
        {"/a/b?x=1", true, "/a/b?x=1"},
        {"http://user:pass@host:8080/a/b?t=1", false, "/a/b"},
        {"http://user:pass@host:8080/a/b?t=1", true, "/a/b?t=1"},
        {"HTTPS://u:p@h", false, "/"},
        {"http://u:p@h?q", true, "/?q"},
        {"/app;jsessionid=ABC123/x;v=1?y", false, "/app/x"},
        {"/app;jsessionid=ABC123", true, "/app;jsessionid=ABC123"},
        {"/a#frag", false, "/a"},
        {"user:pw@host:443", false, "host:443"},
        {"*", false, "*"},
        {"", false, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = http_record_path(cases[i].target, strlen(cases[i].target), cases[i].q, out, sizeof out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
    /* cut to the room given */
    assert_int_equal(http_record_path(S("/abcdef"), false, out, 4), 3);
    assert_string_equal(out, "/ab");
}

static void test_rewrite(void **state)
{
    (void)state;
    const char req[] = "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\ntraceparent: old\r\n"
                       "Keep-Alive: 5\r\nAccept: */*\r\n\r\n";
    struct http_head h;
    assert_int_equal(http_parse_request(S(req), &h), 1);
    char out[256];
    size_t n = http_rewrite_request(req, &h, "00-t-p-01", out, sizeof out);
    const char want[] = "GET /x HTTP/1.1\r\nHost: h\r\nAccept: */*\r\ntraceparent: 00-t-p-01\r\n\r\n";
    assert_int_equal(n, sizeof want - 1);
    assert_memory_equal(out, want, n);
    assert_int_equal(http_rewrite_request(req, &h, "00-t-p-01", out, 20), 0);
}

static void test_traceparent(void **state)
{
    (void)state;
    struct traceparent tp;
    const char ok[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert_true(traceparent_parse(S(ok), &tp));
    assert_int_equal(tp.trace_id[0], 0x4b);
    assert_int_equal(tp.parent_id[7], 0xb7);
    assert_int_equal(tp.flags, 1);
    char out[TP_LEN + 1];
    traceparent_format(&tp, out);
    assert_string_equal(out, ok);
    /* a later version with more fields is read as 00 */
    assert_true(traceparent_parse(S("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"), &tp));
    static const char *const bad[] = {
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   /* upper case */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   /* version ff */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   /* zero parent id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", /* 00 with extra */
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",    /* short */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bg-01",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(traceparent_parse(bad[i], strlen(bad[i]), &tp));
}

static void test_url(void **state)
{
    (void)state;
    struct loadgen_url u;
    char err[256];
    assert_int_equal(loadgen_parse_url("http://127.0.0.1:8080/work?cpu_ms=5", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.hostport, "127.0.0.1:8080");
    assert_string_equal(u.path, "/work?cpu_ms=5");
    assert_int_equal(loadgen_parse_url("http://[::1]:81", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.path, "/");
    assert_int_equal(loadgen_parse_url("http://example", &u, err, sizeof err), 0);
    assert_string_equal(u.port, "80");
    assert_int_equal(loadgen_parse_url("https://x/", &u, err, sizeof err), -1);
    assert_int_equal(loadgen_parse_url("http://x:99999/", &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "99999"));
    assert_int_equal(loadgen_parse_url("http://:80/", &u, err, sizeof err), -1);
}

static void test_target(void **state)
{
    (void)state;
    struct loadgen_url u;
    struct loadgen_opts o = {0};
    char err[256];
    assert_int_equal(loadgen_target("http://127.0.0.1:8080/x", &u, &o, err, sizeof err), 0);
    assert_ptr_equal(o.url, &u);
    assert_int_equal(o.addr.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&o.addr)->sin_port), 8080);
    assert_int_equal(loadgen_target("http://[::1]:81/", &u, &o, err, sizeof err), 0);
    assert_int_equal(o.addr.ss_family, AF_INET6);
    assert_int_equal(loadgen_target("ftp://x", &u, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "'ftp://x'"));
}

static char *report(const struct loadgen_opts *o, const struct loadgen_result *r, bool json)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    loadgen_report(o, "http://h/", r, json, f);
    fclose(f);
    return text;
}

static void test_report(void **state)
{
    (void)state;
    double lat[4] = {1, 2, 3, 40};
    struct loadgen_opts o = {.rate = 4, .duration_s = 1, .connections = 2};
    struct loadgen_result r = {.scheduled = 4, .sent = 4, .completed = 4,
                               .status = {0, 0, 3, 0, 1, 0}, .elapsed_s = 2, .lat_ms = lat,
                               .nlat = 4};
    char *t = report(&o, &r, false);
    assert_string_equal(t,
        "http://h/: open loop, 2 connections, 1 s, 4 req/s scheduled\n"
        "scheduled 4  sent 4  completed 4  errors 0  unanswered 0  unsent 0\n"
        "status 2xx 3  3xx 0  4xx 1  5xx 0  other 0\n"
        "achieved 2.0 req/s\n"
        "latency ms  p50 2.000  p90 40.000  p99 40.000  p99.9 40.000  max 40.000\n");
    free(t);
    t = report(&o, &r, true);
    assert_string_equal(t,
        "{\"url\": \"http://h/\", \"mode\": \"open\", \"rate\": 4.0, \"duration_s\": 1.0, "
        "\"connections\": 2, \"scheduled\": 4, \"sent\": 4, \"completed\": 4, \"errors\": 0, "
        "\"unanswered\": 0, \"unsent\": 0, \"status\": {\"other\": 0, \"1xx\": 0, \"2xx\": 3, "
        "\"3xx\": 0, \"4xx\": 1, \"5xx\": 0}, \"achieved_rate\": 2.0, \"elapsed_s\": 2.000, "
        "\"p50_ms\": 2.000, \"p90_ms\": 40.000, \"p99_ms\": 40.000, \"p999_ms\": 40.000, "
        "\"max_ms\": 40.000}\n");
    free(t);
    /* nothing completed: null latencies */
    struct loadgen_result none = {0};
    o.rate = 0;
    t = report(&o, &none, true);
    assert_non_null(strstr(t, "\"mode\": \"closed\""));
    assert_non_null(strstr(t, "\"p50_ms\": null"));
    assert_non_null(strstr(t, "\"max_ms\": null}"));
    free(t);
}

/* A keep-alive server for one connection: "ok" to every request head. */
static void *serve_ok(void *arg)
{
    int lfd = *(int *)arg;
    int fd = accept(lfd, NULL, NULL);
    char buf[4096];
    size_t have = 0;
    ssize_t n;
    while (fd >= 0 && (n = read(fd, buf + have, sizeof buf - have)) > 0) {
        have += (size_t)n;
        char *end;
        while ((end = memmem(buf, have, "\r\n\r\n", 4))) {
            size_t used = (size_t)(end + 4 - buf);
            memmove(buf, buf + used, have - used);
            have -= used;
            const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if (write(fd, ok, sizeof ok - 1) < 0)
                break;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void test_run_closed_loop(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve_ok, &lfd), 0);
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    struct loadgen_url u;
    struct loadgen_opts o = {.method = "GET", .rate = 0, .duration_s = 0.2, .connections = 1,
                             .drain_s = 1};
    assert_int_equal(loadgen_target(url, &u, &o, err, sizeof err), 0);
    struct loadgen_result r;
    assert_int_equal(loadgen_run(&o, &r, err, sizeof err), 0);
    pthread_join(th, NULL);
    close(lfd);
    assert_true(r.completed > 0);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.status[2], r.completed);
    assert_int_equal(r.sent, r.completed + r.unanswered);
    assert_int_equal(r.nlat, r.completed);
    for (size_t i = 1; i < r.nlat; i++)
        assert_true(r.lat_ms[i - 1] <= r.lat_ms[i]);  /* sorted */
    loadgen_result_free(&r);
}

static void test_listen_inode(void **state)
{
    (void)state;
    const char tcp[] =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0\n"
        "   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0 100 0 0 10 0\n"
        "   2: 0100007F:1F92 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0 100 0 0 10 0\n";
    const unsigned char lo[4] = {127, 0, 0, 1}, other[4] = {10, 0, 0, 1};
    assert_int_equal(sockowner_listen_inode(tcp, false, lo, 8080), 111);
    assert_int_equal(sockowner_listen_inode(tcp, false, other, 8080), 0);   /* bound to 127.0.0.1 only */
    assert_int_equal(sockowner_listen_inode(tcp, false, other, 8081), 222); /* wildcard */
    assert_int_equal(sockowner_listen_inode(tcp, false, lo, 8082), 0);      /* established, not listening */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_head), cmocka_unit_test(test_response_head),
        cmocka_unit_test(test_request_smuggling), cmocka_unit_test(test_chunked_hostile),
        cmocka_unit_test(test_record_path),
        cmocka_unit_test(test_chunked),      cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_traceparent),
        cmocka_unit_test(test_url),          cmocka_unit_test(test_listen_inode),
        cmocka_unit_test(test_target),       cmocka_unit_test(test_report),
        cmocka_unit_test(test_run_closed_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
