/* httpsvc.c -- a small HTTP/1.1 keep-alive service for experiments with
 * `tracekit proxy`: each request burns a tunable amount of CPU and answers
 * a tunable number of bytes.
 *
 *   GET /work?cpu_ms=5&bytes=1024   burn 5 ms of CPU, answer 1024 bytes
 *   GET /chunked?bytes=N            the same, the answer chunked
 *   anything else                   404
 *
 * Request bodies (Content-Length or chunked) are read and counted.  Every
 * answer echoes the traceparent it received in X-Traceparent ("-" for
 * none) and the body bytes in X-Body-Bytes, so tests can check what a
 * proxy forwarded.  epoll, one thread per --threads (SO_REUSEPORT). */
#include "http/http.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_MAX 65536

static double dflt_cpu_ms;
static int64_t dflt_bytes = 64;
static struct addrinfo *addr;
static char *filler;
#define FILLER_MAX (16 << 20)

struct cx {
    int fd;
    char in[IN_MAX];
    size_t in_len;
    bool have_head, close_after, head_req;
    struct http_body body;
    char tp[80];
    double cpu_ms;
    int64_t bytes;
    int kind;             /* 0 work, 1 chunked, 2 not found */
    char *out;
    size_t out_len, out_off, out_cap;
};

static void burn(double ms)
{
    if (ms <= 0)
        return;
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    double end = (double)a.tv_sec * 1e3 + (double)a.tv_nsec / 1e6 + ms;
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    while ((double)b.tv_sec * 1e3 + (double)b.tv_nsec / 1e6 < end);
}

static void out_add(struct cx *c, const char *p, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2;
        c->out = xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* Query parameter `name` as a number, or dflt. */
static double qparam(const char *q, size_t n, const char *name, double dflt)
{
    size_t nl = strlen(name);
    const char *p = q, *end = q + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > nl && !memcmp(p, name, nl) && p[nl] == '=') {
            char tmp[32];
            size_t vl = (size_t)(e - p - (ptrdiff_t)nl - 1);
            if (vl < sizeof tmp) {
                memcpy(tmp, p + nl + 1, vl);
                tmp[vl] = '\0';
                double v;
                if (parse_double(tmp, 0, 1e9, &v))
                    return v;
            }
        }
        p = e + 1;
    }
    return dflt;
}

static void head_done(struct cx *c, const struct http_head *h)
{
    c->have_head = true;
    c->close_after = !http_keep_alive(h);
    c->head_req = h->method_len == 4 && !memcmp(h->method, "HEAD", 4);
    size_t n = h->traceparent ? (h->traceparent_len < sizeof c->tp - 1 ? h->traceparent_len : sizeof c->tp - 1) : 1;
    memcpy(c->tp, h->traceparent ? h->traceparent : "-", n);
    c->tp[n] = '\0';
    const char *t = h->target, *qm = memchr(t, '?', h->target_len);
    size_t pl = qm ? (size_t)(qm - t) : h->target_len;
    const char *q = qm ? qm + 1 : t + h->target_len;
    size_t ql = (size_t)(t + h->target_len - q);
    c->kind = pl == 5 && !memcmp(t, "/work", 5) ? 0 : pl == 8 && !memcmp(t, "/chunked", 8) ? 1 : 2;
    c->cpu_ms = qparam(q, ql, "cpu_ms", dflt_cpu_ms);
    c->bytes = (int64_t)qparam(q, ql, "bytes", (double)dflt_bytes);
    if (c->bytes > FILLER_MAX)
        c->bytes = FILLER_MAX;
    enum http_body_kind k;
    if (http_request_body(h, &k) < 0)
        k = HB_CLOSE;   /* refused below */
    http_body_init(&c->body, k, h->length);
}

static void respond(struct cx *c)
{
    char head[512];
    const char *conn = c->close_after ? "Connection: close\r\n" : "";
    int n;
    if (c->kind == 2) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nX-Traceparent: %s\r\n"
                     "X-Body-Bytes: %llu\r\n%s\r\n",
                     c->tp, (unsigned long long)c->body.payload, conn);
        out_add(c, head, (size_t)n);
        if (!c->head_req)
            out_add(c, "not found\n", 10);
        return;
    }
    burn(c->cpu_ms);
    if (c->kind == 0) {
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %lld\r\n"
                     "X-Traceparent: %s\r\nX-Body-Bytes: %llu\r\n%s\r\n",
                     (long long)c->bytes, c->tp, (unsigned long long)c->body.payload, conn);
        out_add(c, head, (size_t)n);
        if (!c->head_req)
            out_add(c, filler, (size_t)c->bytes);
        return;
    }
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
                 "X-Traceparent: %s\r\nX-Body-Bytes: %llu\r\n%s\r\n",
                 c->tp, (unsigned long long)c->body.payload, conn);
    out_add(c, head, (size_t)n);
    if (c->head_req)
        return;
    for (int64_t left = c->bytes; left > 0;) {
        int64_t k = left < 1000 ? left : 1000;
        n = snprintf(head, sizeof head, "%llx\r\n", (unsigned long long)k);
        out_add(c, head, (size_t)n);
        out_add(c, filler, (size_t)k);
        out_add(c, "\r\n", 2);
        left -= k;
    }
    out_add(c, "0\r\n\r\n", 5);
}

/* Handle every complete request in c->in.  -1: close the connection. */
static int process(struct cx *c)
{
    size_t used = 0;
    for (;;) {
        if (!c->have_head) {
            struct http_head h;
            int rc = http_parse_request(c->in + used, c->in_len - used, &h);
            if (rc < 0 || (rc == 0 && c->in_len == IN_MAX && used == 0)) {
                static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                out_add(c, bad, sizeof bad - 1);
                return -1;
            }
            if (rc == 0)
                break;
            used += h.len;
            head_done(c, &h);
            if (c->body.kind == HB_CLOSE) {
                static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                out_add(c, bad, sizeof bad - 1);
                return -1;
            }
        }
        long n = http_body_scan(&c->body, c->in + used, c->in_len - used);
        if (n < 0)
            return -1;
        used += (size_t)n;
        if (!c->body.done)
            break;
        c->have_head = false;
        respond(c);
        if (c->close_after)
            break;
    }
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    return 0;
}

static void flush_out(struct cx *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n > 0)
            c->out_off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
}

static void cx_close(int ep, struct cx *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->out);
    free(c);
}

static int listen_socket(void)
{
    int fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, addr->ai_addr, addr->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "httpsvc: cannot listen: %s\n", strerror(errno));
        exit(1);
    }
    return fd;
}

static void *serve(void *arg)
{
    int lfd = (int)(intptr_t)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    struct epoll_event evs[128];
    for (;;) {
        int n = epoll_wait(ep, evs, 128, -1);
        for (int i = 0; i < n; i++) {
            struct cx *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = xcalloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                }
                continue;
            }
            bool close_now = false;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                ssize_t r = read(c->fd, c->in + c->in_len, IN_MAX - c->in_len);
                if (r > 0) {
                    c->in_len += (size_t)r;
                    if (process(c) < 0) {
                        c->close_after = true;
                        c->have_head = false;
                    }
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    close_now = true;
                }
            }
            if (!close_now) {
                flush_out(c);
                bool pending = c->out_len > 0;
                if (!pending && c->close_after && !c->have_head)
                    close_now = true;
                else {
                    struct epoll_event ce = {.events = (pending ? EPOLLOUT : EPOLLIN | EPOLLRDHUP), .data.ptr = c};
                    if (pending || (evs[i].events & EPOLLOUT))
                        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ce);
                }
            }
            if (close_now)
                cx_close(ep, c);
        }
    }
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: httpsvc [--listen HOST:PORT] [--cpu-ms MS] [--bytes N] [--threads N]\n"
            "  GET /work?cpu_ms=MS&bytes=N    burn MS ms of CPU, answer N bytes\n"
            "  GET /chunked?bytes=N           the same, chunked\n"
            "  defaults: --listen 127.0.0.1:8080 --cpu-ms 0 --bytes 64 --threads 1\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"cpu-ms", required_argument, NULL, 'c'},
        {"bytes", required_argument, NULL, 'b'},  {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *listen_s = "127.0.0.1:8080";
    int64_t threads = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': listen_s = optarg; break;
        case 'c':
            if (!parse_double(optarg, 0, 1e6, &dflt_cpu_ms)) {
                fprintf(stderr, "httpsvc: invalid --cpu-ms '%s': expected milliseconds >= 0\n", optarg);
                return 2;
            }
            break;
        case 'b':
            if (!parse_i64(optarg, 0, FILLER_MAX, &dflt_bytes)) {
                fprintf(stderr, "httpsvc: invalid --bytes '%s': expected 0 to %d\n", optarg, FILLER_MAX);
                return 2;
            }
            break;
        case 't':
            if (!parse_i64(optarg, 1, 64, &threads)) {
                fprintf(stderr, "httpsvc: invalid --threads '%s': expected 1 to 64\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    char host[256];
    const char *colon = strrchr(listen_s, ':');
    if (!colon || (size_t)(colon - listen_s) >= sizeof host) {
        fprintf(stderr, "httpsvc: invalid --listen '%s': expected HOST:PORT\n", listen_s);
        return 2;
    }
    memcpy(host, listen_s, (size_t)(colon - listen_s));
    host[colon - listen_s] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    if (getaddrinfo(h, colon + 1, &hints, &addr)) {
        fprintf(stderr, "httpsvc: invalid --listen '%s': cannot resolve\n", listen_s);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    filler = xmalloc(FILLER_MAX);
    memset(filler, 'a', FILLER_MAX);
    for (int64_t i = 1; i < threads; i++) {
        pthread_t t;
        pthread_create(&t, NULL, serve, (void *)(intptr_t)listen_socket());
    }
    serve((void *)(intptr_t)listen_socket());
    return 0;
}
