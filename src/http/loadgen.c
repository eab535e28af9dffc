/* loadgen.c -- open-loop HTTP load (see loadgen.h).  One thread, epoll,
 * a timerfd for the schedule. */
#include "http/loadgen.h"
#include "common/jsonl.h"
#include "common/stats.h"
#include "common/util.h"
#include "http/http.h"
#include "http/proxy.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define RBUF 65536

int loadgen_parse_url(const char *url, struct loadgen_url *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (strncmp(url, "http://", 7)) {
        snprintf(err, errlen, "'%s': expected http://HOST:PORT/PATH (only http is supported)", url);
        return -1;
    }
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *path = slash ? slash : "/";
    if (hl == 0 || hl >= sizeof u->hostport || strlen(path) >= sizeof u->path) {
        snprintf(err, errlen, "'%s': host or path missing or too long", url);
        return -1;
    }
    memcpy(u->hostport, h, hl);
    strcpy(u->path, path);
    const char *port = NULL;
    if (h[0] == '[') {
        const char *rb = memchr(h, ']', hl);
        if (!rb || rb == h + 1) {
            snprintf(err, errlen, "'%s': unterminated [IPv6] host", url);
            return -1;
        }
        memcpy(u->host, h + 1, (size_t)(rb - h - 1));
        if (rb + 1 < h + hl) {
            if (rb[1] != ':') {
                snprintf(err, errlen, "'%s': expected ':' after the [IPv6] host", url);
                return -1;
            }
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(h, ':', hl);
        size_t n = colon ? (size_t)(colon - h) : hl;
        if (n == 0) {
            snprintf(err, errlen, "'%s': no host", url);
            return -1;
        }
        memcpy(u->host, h, n);
        if (colon)
            port = colon + 1;
    }
    if (port) {
        size_t pl = (size_t)(h + hl - port);
        char tmp[8];
        int64_t v;
        if (pl == 0 || pl >= sizeof tmp) {
            snprintf(err, errlen, "'%s': bad port", url);
            return -1;
        }
        memcpy(tmp, port, pl);
        tmp[pl] = '\0';
        if (!parse_i64(tmp, 1, 65535, &v)) {
            snprintf(err, errlen, "'%s': port '%s' is not a number 1-65535", url, tmp);
            return -1;
        }
        strcpy(u->port, tmp);
    } else {
        strcpy(u->port, "80");
    }
    return 0;
}


/* ---- the run ---- */

enum { C_DOWN, C_CONNECTING, C_IDLE, C_BUSY };

struct lconn {
    int fd;
    int state;
    bool rd, wr, hup;
    size_t out_off;               /* of the request being written */
    int64_t due;                  /* mono ns the request in flight was due */
    char *in;
    size_t in_len;
    bool have_head;
    struct http_body body;
    bool close_after;
};

struct run {
    const struct loadgen_opts *o;
    struct loadgen_result *r;
    int ep, tfd;
    char *req;
    size_t req_len;
    struct lconn *c;
    int nc;
    size_t lat_cap;
    bool head_req;
    /* the schedule */
    bool open_loop;
    int64_t t0, end, drain_end;   /* mono ns */
    uint64_t total;               /* requests due (open loop) */
    double interval_ns;
    uint64_t next;                /* next request index to send (open loop) */
    int64_t last_done;
    int reconnect_failures;
};

static void lc_close(struct run *x, struct lconn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(x->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = C_DOWN;
    c->in_len = 0;
    c->have_head = false;
}

static int lc_open(struct run *x, struct lconn *c)
{
    c->fd = socket(x->o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = C_IDLE;
    c->rd = c->wr = true;
    c->hup = false;
    if (connect(c->fd, (const struct sockaddr *)&x->o->addr, x->o->addr_len) < 0) {
        if (errno != EINPROGRESS) {
            close(c->fd);
            c->fd = -1;
            c->state = C_DOWN;
            return -1;
        }
        c->state = C_CONNECTING;
        c->wr = false;
    }
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    epoll_ctl(x->ep, EPOLL_CTL_ADD, c->fd, &e);
    return 0;
}

static void add_lat(struct run *x, double ms)
{
    struct loadgen_result *r = x->r;
    if (r->nlat == x->lat_cap) {
        x->lat_cap = x->lat_cap ? 2 * x->lat_cap : 4096;
        r->lat_ms = xrealloc(r->lat_ms, x->lat_cap * sizeof *r->lat_ms);
    }
    r->lat_ms[r->nlat++] = ms;
}

/* The request in flight on c failed. */
static void lc_fail(struct run *x, struct lconn *c)
{
    if (c->state == C_BUSY)
        x->r->errors++;
    lc_close(x, c);
}

static void lc_write(struct run *x, struct lconn *c)
{
    while (c->state == C_BUSY && c->wr && c->out_off < x->req_len) {
        ssize_t n = write(c->fd, x->req + c->out_off, x->req_len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            c->wr = false;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            lc_fail(x, c);
            return;
        }
    }
}

static void lc_send(struct run *x, struct lconn *c, int64_t due)
{
    c->state = C_BUSY;
    c->due = due;
    c->out_off = 0;
    c->have_head = false;
    x->r->sent++;
    lc_write(x, c);
}

/* Parse what arrived; true when a response completed. */
static bool lc_parse(struct run *x, struct lconn *c, int64_t now)
{
    size_t used = 0;
    if (!c->have_head) {
        struct http_head h;
        int rc = http_parse_response(c->in, c->in_len, &h);
        if (rc < 0 || (rc == 0 && c->in_len == RBUF)) {
            lc_fail(x, c);
            return false;
        }
        if (rc == 0)
            return false;
        used = h.len;
        if (h.status < 200) {   /* interim: skip it */
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
            return lc_parse(x, c, now);
        }
        c->have_head = true;
        x->r->status[h.status / 100 < 6 ? h.status / 100 : 0]++;
        c->close_after = !http_keep_alive(&h);
        enum http_body_kind k = http_response_body(&h, x->head_req);
        if (k == HB_CLOSE)
            c->close_after = true;
        http_body_init(&c->body, k, h.length);
    }
    long n = http_body_scan(&c->body, c->in + used, c->in_len - used);
    if (n < 0) {
        lc_fail(x, c);
        return false;
    }
    used += (size_t)n;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    if (!c->body.done)
        return false;
    x->r->completed++;
    add_lat(x, (double)(now - c->due) / 1e6);
    c->have_head = false;
    c->state = C_IDLE;
    if (c->close_after)
        lc_close(x, c);
    return true;
}

/* Read what there is; returns true when a response completed. */
static bool lc_read(struct run *x, struct lconn *c)
{
    bool done = false;
    while (c->fd >= 0 && c->rd) {
        ssize_t n = read(c->fd, c->in + c->in_len, RBUF - c->in_len);
        if (n > 0) {
            if ((size_t)n < RBUF - c->in_len && !c->hup)
                c->rd = false;   /* drained (edge-triggered); after a FIN, read on to EOF */
            c->in_len += (size_t)n;
            x->r->bytes_in += (uint64_t)n;
            if (c->state == C_BUSY)
                done |= lc_parse(x, c, now_mono_ns());
            else
                c->in_len = 0;   /* nothing was asked: drop it */
        } else if (n == 0) {
            if (c->state == C_BUSY && c->have_head && c->body.kind == HB_CLOSE) {
                c->body.done = true;
                x->r->completed++;
                add_lat(x, (double)(now_mono_ns() - c->due) / 1e6);
                done = true;
                lc_close(x, c);
            } else {
                lc_fail(x, c);
            }
        } else if (errno == EAGAIN) {
            c->rd = false;
        } else if (errno != EINTR) {
            lc_fail(x, c);
        }
    }
    return done;
}

static void arm(struct run *x, int64_t at_ns)
{
    struct itimerspec its = {0};
    if (at_ns > 0) {
        its.it_value.tv_sec = at_ns / 1000000000;
        its.it_value.tv_nsec = at_ns % 1000000000;
    }
    timerfd_settime(x->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}


/* The request every connection sends: head, blank line, body. */
static void build_request(struct run *x)
{
    const struct loadgen_opts *o = x->o;
    char *head = xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tracekit-load\r\n",
                           o->method, o->url->path, o->url->hostport);
    if (o->body_bytes) {
        char *h2 = xasprintf("%sContent-Type: application/octet-stream\r\nContent-Length: %zu\r\n",
                             head, o->body_bytes);
        free(head);
        head = h2;
    }
    size_t hl = strlen(head);
    x->req_len = hl + 2 + o->body_bytes;
    x->req = xmalloc(x->req_len);
    memcpy(x->req, head, hl);
    memcpy(x->req + hl, "\r\n", 2);
    memset(x->req + hl + 2, 'x', o->body_bytes);
    free(head);
}

/* epoll, the timer, the request and every connection.  0, or -1 with err. */
static int setup(struct run *x, char *err, size_t errlen)
{
    x->ep = epoll_create1(EPOLL_CLOEXEC);
    x->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (x->ep < 0 || x->tfd < 0) {
        snprintf(err, errlen, "cannot set up epoll: %s", strerror(errno));
        return -1;
    }
    struct epoll_event te = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(x->ep, EPOLL_CTL_ADD, x->tfd, &te);
    build_request(x);
    x->c = xcalloc((size_t)x->nc, sizeof *x->c);
    for (int i = 0; i < x->nc; i++) {
        x->c[i].fd = -1;
        x->c[i].in = xmalloc(RBUF);
    }
    for (int i = 0; i < x->nc; i++) {
        if (lc_open(x, &x->c[i]) < 0) {
            snprintf(err, errlen, "cannot connect to %s: %s", x->o->url->hostport,
                     strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void run_free(struct run *x)
{
    for (int i = 0; x->c && i < x->nc; i++) {
        lc_close(x, &x->c[i]);
        free(x->c[i].in);
    }
    free(x->c);
    free(x->req);
    if (x->ep >= 0)
        close(x->ep);
    if (x->tfd >= 0)
        close(x->tfd);
}

static void schedule_init(struct run *x)
{
    const struct loadgen_opts *o = x->o;
    x->open_loop = o->rate > 0;
    x->t0 = now_mono_ns();
    x->end = x->t0 + (int64_t)(o->duration_s * 1e9);
    x->drain_end = x->end + (int64_t)(o->drain_s * 1e9);
    x->total = x->open_loop ? (uint64_t)floor(o->rate * o->duration_s) : 0;
    x->interval_ns = x->open_loop ? 1e9 / o->rate : 0;
    x->last_done = x->t0;
}

static int64_t due_of(const struct run *x, uint64_t i)
{
    return x->t0 + (int64_t)((double)i * x->interval_ns);
}

/* Is there more to send? */
static bool more_to_send(const struct run *x, int64_t now)
{
    return x->open_loop ? x->next < x->total : now < x->end;
}

/* Reconnect closed connections while there is work, then send what is due
 * on idle connections (err: why reconnecting was given up). */
static void send_due(struct run *x, int64_t now, char *err, size_t errlen)
{
    bool sending = more_to_send(x, now);
    for (int i = 0; i < x->nc && sending; i++)
        if (x->c[i].state == C_DOWN && lc_open(x, &x->c[i]) < 0 &&
            ++x->reconnect_failures > 1000) {
            snprintf(err, errlen, "cannot reconnect to %s: %s", x->o->url->hostport,
                     strerror(errno));
            sending = false;
        }
    for (int i = 0; i < x->nc && sending; i++) {
        struct lconn *c = &x->c[i];
        if (c->state != C_IDLE)
            continue;
        if (!x->open_loop) {
            lc_send(x, c, now);
            continue;
        }
        int64_t due = due_of(x, x->next);
        if (x->next >= x->total || due > now)
            break;
        x->next++;
        lc_send(x, c, due);
    }
}

/* How long to wait for events: until the next due time when a connection
 * is free for it (open loop), else at most 100 ms. */
static int wait_ms(struct run *x, int64_t now)
{
    if (!x->open_loop || x->next >= x->total)
        return 100;
    bool free_conn = false;
    for (int i = 0; i < x->nc && !free_conn; i++)
        free_conn = x->c[i].state == C_IDLE;
    if (!free_conn)
        return 100;
    int64_t due = due_of(x, x->next);
    if (due <= now)
        return 0;
    arm(x, due);
    return 100;
}

/* One epoll event; false to leave the rest of the batch. */
static bool on_event(struct run *x, const struct epoll_event *e)
{
    struct lconn *c = e->data.ptr;
    if (!c) {
        uint64_t exp;
        return read(x->tfd, &exp, sizeof exp) >= 0 || errno == EAGAIN;
    }
    if (c->fd < 0)
        return true;
    uint32_t ev = e->events;
    if (c->state == C_CONNECTING && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            lc_fail(x, c);
            return true;
        }
        c->state = C_IDLE;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->rd = true;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->hup = true;
    if (ev & EPOLLOUT)
        c->wr = true;
    lc_write(x, c);
    if (c->fd >= 0 && lc_read(x, c))
        x->last_done = now_mono_ns();
    /* closed loop: the next request right away, on the same connection */
    if (!x->open_loop && c->state == C_IDLE && now_mono_ns() < x->end)
        lc_send(x, c, now_mono_ns());
    return true;
}

static void finish(struct run *x)
{
    struct loadgen_result *r = x->r;
    for (int i = 0; i < x->nc; i++)
        if (x->c[i].state == C_BUSY)
            r->unanswered++;
    r->scheduled = x->open_loop ? x->total : r->sent;
    r->unsent = x->open_loop ? x->total - x->next : 0;
    r->elapsed_s = (double)(x->last_done - x->t0) / 1e9;
    if (r->elapsed_s < x->o->duration_s && x->open_loop)
        r->elapsed_s = x->o->duration_s;
    if (r->nlat)
        qsort(r->lat_ms, r->nlat, sizeof *r->lat_ms, cmp_double);
}

int loadgen_run(const struct loadgen_opts *o, struct loadgen_result *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    struct run x = {.o = o, .r = r, .ep = -1, .tfd = -1, .nc = o->connections,
                    .head_req = !strcmp(o->method, "HEAD")};
    if (setup(&x, err, errlen) < 0) {
        run_free(&x);
        return -1;
    }
    schedule_init(&x);
    struct epoll_event evs[256];
    for (;;) {
        int64_t now = now_mono_ns();
        send_due(&x, now, err, errlen);
        int busy = 0;
        for (int i = 0; i < x.nc; i++)
            busy += x.c[i].state == C_BUSY || x.c[i].state == C_CONNECTING;
        bool more = more_to_send(&x, now);
        if (!more && (!busy || now > x.drain_end))
            break;
        int n = epoll_wait(x.ep, evs, ARRAY_LEN(evs), wait_ms(&x, now));
        for (int i = 0; i < n && on_event(&x, &evs[i]); i++)
            ;
    }
    finish(&x);
    run_free(&x);
    return 0;
}

void loadgen_result_free(struct loadgen_result *r)
{
    free(r->lat_ms);
    r->lat_ms = NULL;
}

/* ---- the target and the report ---- */

int loadgen_target(const char *url, struct loadgen_url *u, struct loadgen_opts *o, char *err,
                   size_t errlen)
{
    if (loadgen_parse_url(url, u, err, errlen) < 0)
        return -1;
    char hp[300];
    snprintf(hp, sizeof hp, strchr(u->host, ':') ? "[%s]:%s" : "%s:%s", u->host, u->port);
    if (proxy_parse_addr(hp, &o->addr, &o->addr_len, err, errlen) < 0)
        return -1;
    o->url = u;
    return 0;
}

struct summary {
    double rate;           /* achieved, completed per second */
    double p[5];           /* p50, p90, p99, p99.9, max (ms; NaN without any) */
};

static void summarize(const struct loadgen_result *r, struct summary *s)
{
    s->rate = r->elapsed_s > 0 ? (double)r->completed / r->elapsed_s : 0;
    static const double q[4] = {0.50, 0.90, 0.99, 0.999};
    for (int i = 0; i < 4; i++)
        s->p[i] = stats_nearest_rank(r->lat_ms, r->nlat, q[i]);
    s->p[4] = r->nlat ? r->lat_ms[r->nlat - 1] : NAN;
}

static void put_ms(struct jbuf *b, const char *key, double v)
{
    if (isnan(v))
        jb_null(b, key);
    else
        jb_fixed(b, key, v, 3);
}

static void report_json(const struct loadgen_opts *o, const char *url,
                        const struct loadgen_result *r, const struct summary *s, FILE *out)
{
    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_str(&b, "url", url);
    jb_str(&b, "mode", o->rate > 0 ? "open" : "closed");
    jb_double(&b, "rate", o->rate);
    jb_double(&b, "duration_s", o->duration_s);
    jb_int(&b, "connections", o->connections);
    jb_uint(&b, "scheduled", r->scheduled);
    jb_uint(&b, "sent", r->sent);
    jb_uint(&b, "completed", r->completed);
    jb_uint(&b, "errors", r->errors);
    jb_uint(&b, "unanswered", r->unanswered);
    jb_uint(&b, "unsent", r->unsent);
    jb_obj_open(&b, "status");
    static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++)
        jb_uint(&b, cls[i], r->status[i]);
    jb_obj_close(&b);
    jb_fixed(&b, "achieved_rate", s->rate, 1);
    jb_fixed(&b, "elapsed_s", r->elapsed_s, 3);
    static const char *const keys[5] = {"p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"};
    for (int i = 0; i < 5; i++)
        put_ms(&b, keys[i], s->p[i]);
    jb_obj_close(&b);
    fprintf(out, "%.*s\n", (int)b.len, b.p);
    jb_free(&b);
}

static void report_text(const struct loadgen_opts *o, const char *url,
                        const struct loadgen_result *r, const struct summary *s, FILE *out)
{
    fprintf(out, "%s: %s loop, %d connections, %.3g s", url, o->rate > 0 ? "open" : "closed",
            o->connections, o->duration_s);
    if (o->rate > 0)
        fprintf(out, ", %.6g req/s scheduled", o->rate);
    fprintf(out, "\nscheduled %llu  sent %llu  completed %llu  errors %llu  unanswered %llu  "
            "unsent %llu\n", (unsigned long long)r->scheduled, (unsigned long long)r->sent,
            (unsigned long long)r->completed, (unsigned long long)r->errors,
            (unsigned long long)r->unanswered, (unsigned long long)r->unsent);
    fprintf(out, "status 2xx %llu  3xx %llu  4xx %llu  5xx %llu  other %llu\n",
            (unsigned long long)r->status[2], (unsigned long long)r->status[3],
            (unsigned long long)r->status[4], (unsigned long long)r->status[5],
            (unsigned long long)(r->status[0] + r->status[1]));
    fprintf(out, "achieved %.1f req/s\n", s->rate);
    fprintf(out, "latency ms  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", s->p[0],
            s->p[1], s->p[2], s->p[3], s->p[4]);
}

void loadgen_report(const struct loadgen_opts *o, const char *url,
                    const struct loadgen_result *r, bool json, FILE *out)
{
    struct summary s;
    summarize(r, &s);
    if (json)
        report_json(o, url, r, &s, out);
    else
        report_text(o, url, r, &s, out);
}
