/* proxy.c -- the HTTP/1.1 reverse proxy (see proxy.h).
 *
 * A client connection carries one exchange at a time.  Its state is a few
 * flags and two buffers: q (bytes from the client) and r (bytes from the
 * upstream).  Of q, the first qfwd bytes are body bytes of the current
 * request, ready for the upstream (its head goes from hd, rewritten with
 * our traceparent); of r, the first rfwd bytes are ready for the client.
 * pump() moves bytes until nothing moves.  Bytes after the current request
 * (pipelining) wait in q until the response is out. */
#include "http/proxy.h"
#include "collect/procfs.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/util.h"
#include "http/http.h"
#include "http/sockowner.h"
#include "task/task.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (16 * 1024)
#define HD_SIZE (BUF_SIZE + 128)
#define PATH_MAX_REC 512
#define FLUSH_NS (200 * 1000000LL)
#define TICK_MS 100
#define DRAIN_NS (5 * 1000000000LL)

enum { K_LISTEN, K_CLIENT, K_UP, K_SIG };
enum { R_HEAD, R_BODY, R_DONE };

struct buf {
    char *p;
    size_t off, len;   /* data is p[off, off+len) */
};

struct conn;

struct up {
    int kind;
    int fd;
    bool connecting, rd, wr, hup;
    uint64_t served;              /* exchanges completed on this connection */
    struct conn *c;               /* owner, NULL when idle in the pool */
    struct up *prev, *next;       /* the idle pool */
};

struct conn {
    int kind;
    int fd;
    bool rd, wr, eof, hup;          /* hup: the peer's FIN was reported, read to EOF */
    bool active;                  /* an exchange is under way */
    int64_t since;                /* mono ns: accepted, last exchange ended, its next head began,
                                     or (in an exchange) the client last took response bytes */
    uint64_t served;              /* exchanges ended on this connection */
    struct conn *prev, *next;     /* all connections */
    struct buf q, r;
    size_t qfwd, rfwd;
    char *hd;
    size_t hd_len, hd_off;
    struct up *u;
    struct http_body qb, rb;
    int rstate;
    bool head_req, keep, up_keep, req_done, req_sent, retried;
    int64_t up_deadline;          /* mono ns */
    /* the record */
    char method[16];
    char path[PATH_MAX_REC];
    struct traceparent tp;        /* trace id and our span id */
    bool has_parent;
    uint8_t parent[8];
    int64_t w_enqueue, w_start, w_end;   /* wall ms, 0 = not reached */
    int64_t m_enqueue, m_start, m_end;   /* mono ns */
    uint64_t bytes_in, bytes_out;
    int status;
    const char *error;
};

struct proxy {
    const struct proxy_opts *o;
    char *events_path;            /* RUN_DIR/events.APP.jsonl */
    char *pid_dir;                /* the sentinel folder */
    int ep, lfd, sfd;
    int lkind, skind;
    bool listening, stopping;
    int64_t stop_at;
    int max_conns;                /* o->max_conns, capped by the open files limit */
    struct accept_backoff accept;  /* out of descriptors: when to accept again */
    uint64_t head_timeouts, idle_closed;
    size_t nconns;
    struct conn *conns;
    struct up *idle;
    struct conn *dead_c;          /* freed after the event batch */
    struct up *dead_u;
    struct jsonl_writer w;
    struct jbuf line;
    uint64_t rng[2];
    pid_t up_pid;
    uint64_t up_start_ticks;
    int64_t next_pid_check;
    bool pid_recheck;             /* the upstream refused us: it may have been replaced */
    uint64_t requests, errors;
};

/* ---- small helpers ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rnd(struct proxy *p)
{
    /* xorshift128+: ids need to be unique, not secret */
    uint64_t s1 = p->rng[0];
    const uint64_t s0 = p->rng[1];
    p->rng[0] = s0;
    s1 ^= s1 << 23;
    p->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return p->rng[1] + s0;
}

static void rnd_bytes(struct proxy *p, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t x = rnd(p);
        memcpy(b + i, &x, n - i < 8 ? n - i : 8);
    }
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int ep_add(struct proxy *p, int fd, uint32_t ev, void *ptr)
{
    struct epoll_event e = {.events = ev, .data.ptr = ptr};
    return epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &e);
}

static void buf_compact(struct buf *b)
{
    if (b->off && b->len)
        memmove(b->p, b->p + b->off, b->len);
    b->off = 0;
}

static size_t buf_room(struct buf *b)
{
    if (b->off + b->len == BUF_SIZE && b->off)
        buf_compact(b);
    return BUF_SIZE - b->off - b->len;
}

static void buf_consume(struct buf *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (!b->len)
        b->off = 0;
}

/* ---- the upstream PID ---- */

static void check_upstream_pid(struct proxy *p)
{
    const struct proxy_opts *o = p->o;
    pid_t pid = o->upstream_pid ? o->upstream_pid : sockowner_listener_pid((const struct sockaddr *)&o->upstream);
    if (!pid) {
        if (p->up_pid)
            log_info("upstream %s: no local listener any more", o->upstream_text);
        p->up_pid = 0;
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    size_t len;
    char *text = read_file(path, &len);
    struct proc_stat st;
    uint64_t ticks = 0;
    if (text && procfs_parse_stat(text, len, &st) == 0)
        ticks = st.start_ticks;
    free(text);
    if (pid == p->up_pid && ticks == p->up_start_ticks)
        return;
    p->up_pid = pid;
    p->up_start_ticks = ticks;
    log_info("upstream %s is process %d", o->upstream_text, (int)pid);
    if (p->pid_dir && ticks) {
        /* whitelist it for the collector, with its identity */
        char s[64];
        int n = task_sentinel_text(pid, ticks, s, sizeof s);
        char *f = xasprintf("%s/%d", p->pid_dir, (int)pid);
        if (write_file_atomic(f, s, (size_t)n) < 0)
            log_warn("cannot write the sentinel %s: %s", f, strerror(errno));
        free(f);
    }
}

/* ---- records ---- */

static void record(struct proxy *p, struct conn *c)
{
    const struct proxy_opts *o = p->o;
    struct jbuf *b = &p->line;
    char hex[33];
    jb_reset(b);
    jb_obj_open(b, NULL);
    /* the original's 19 keys, like tracekit exec's */
    traceparent_hex(c->tp.trace_id, 16, hex);
    jb_str(b, "trace_id", hex);
    traceparent_hex(c->tp.parent_id, 8, hex);
    jb_str(b, "span_id", hex);
    if (c->has_parent) {
        traceparent_hex(c->parent, 8, hex);
        jb_str(b, "parent_id", hex);
    } else {
        jb_null(b, "parent_id");
    }
    jb_str(b, "module_id", o->app);
    jb_null(b, "instance_id");
    jb_opt_int(b, "ts_enqueue", c->w_enqueue > 0, c->w_enqueue);
    jb_opt_int(b, "ts_start", c->w_start > 0, c->w_start);
    jb_opt_int(b, "ts_end", c->w_end > 0, c->w_end);
    jb_str(b, "node", o->node);
    jb_str(b, "stage", o->stage);
    jb_str(b, "method", c->method);
    jb_str(b, "path", c->path);
    jb_null(b, "input");
    jb_null(b, "output");
    jb_opt_int(b, "pid", p->up_pid > 0, p->up_pid);
    jb_null(b, "cpuset");
    jb_uint(b, "bytes_in", c->bytes_in);
    jb_uint(b, "bytes_out", c->bytes_out);
    jb_opt_int(b, "status", c->status > 0, c->status);
    /* ours */
    jb_opt_int(b, "start_ticks", p->up_pid > 0 && p->up_start_ticks, (int64_t)p->up_start_ticks);
    jb_str(b, "app", o->app);
    jb_str(b, "kind", "http");
    jb_str(b, "upstream", o->upstream_text);
    /* microsecond durations from the monotonic clock (the ts_* are whole ms) */
    jb_opt_int(b, "wait_us", c->m_start && c->m_enqueue, (c->m_start - c->m_enqueue) / 1000);
    jb_opt_int(b, "dur_us", c->m_end && c->m_start, (c->m_end - c->m_start) / 1000);
    jb_str(b, "error", c->error);
    jb_obj_close(b);
    jsonl_add(&p->w, b);
    p->requests++;
    p->errors += c->error != NULL;
}

static void flush_records(struct proxy *p)
{
    if (jsonl_flush(&p->w) < 0)
        log_warn("cannot write %s: %s", p->w.path, strerror(errno));
}

/* ---- connections ---- */

static void up_close(struct proxy *p, struct up *u)
{
    if (u->fd < 0)
        return;
    close(u->fd);
    u->fd = -1;
    if (!u->c) {   /* idle: unlink from the pool */
        if (u->prev)
            u->prev->next = u->next;
        else if (p->idle == u)
            p->idle = u->next;
        if (u->next)
            u->next->prev = u->prev;
    }
    u->c = NULL;
    u->next = p->dead_u;
    p->dead_u = u;
}

static struct up *up_connect(struct proxy *p, const char **err)
{
    const struct proxy_opts *o = p->o;
    int fd = socket(o->upstream.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = "cannot create a socket for the upstream";
        return NULL;
    }
    nodelay(fd);
    bool connecting = false;
    if (connect(fd, (const struct sockaddr *)&o->upstream, o->upstream_len) < 0) {
        if (errno != EINPROGRESS) {
            *err = errno == ECONNREFUSED ? "upstream refused the connection" : "cannot connect to the upstream";
            close(fd);
            return NULL;
        }
        connecting = true;
    }
    struct up *u = xcalloc(1, sizeof *u);
    u->kind = K_UP;
    u->fd = fd;
    u->connecting = connecting;
    u->rd = true;
    u->wr = !connecting;
    if (ep_add(p, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, u) < 0) {
        close(fd);
        free(u);
        *err = "epoll_ctl failed";
        return NULL;
    }
    return u;
}

static struct up *up_get(struct proxy *p, const char **err)
{
    struct up *u = p->idle;
    if (u) {
        p->idle = u->next;
        if (p->idle)
            p->idle->prev = NULL;
        u->next = u->prev = NULL;
        return u;
    }
    return up_connect(p, err);
}

static void up_release(struct proxy *p, struct up *u)
{
    u->c = NULL;
    u->served++;
    u->prev = NULL;
    u->next = p->idle;
    if (p->idle)
        p->idle->prev = u;
    p->idle = u;
}

static void conn_close(struct proxy *p, struct conn *c)
{
    if (c->fd < 0)
        return;
    if (c->u) {
        c->u->c = NULL;
        struct up *u = c->u;
        c->u = NULL;
        u->c = NULL;
        /* not idle: up_close must not unlink it from the pool */
        close(u->fd);
        u->fd = -1;
        u->next = p->dead_u;
        p->dead_u = u;
    }
    close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = p->dead_c;
    p->dead_c = c;
    p->nconns--;
}

static void free_dead(struct proxy *p)
{
    while (p->dead_c) {
        struct conn *c = p->dead_c;
        p->dead_c = c->next;
        free(c->q.p);
        free(c->r.p);
        free(c->hd);
        free(c);
    }
    while (p->dead_u) {
        struct up *u = p->dead_u;
        p->dead_u = u->next;
        free(u);
    }
}

/* End the exchange: the record, the upstream back to the pool or closed. */
static void exchange_end(struct proxy *p, struct conn *c)
{
    c->w_end = wall_ms();
    c->m_end = now_mono_ns();
    if (c->w_start && c->w_end < c->w_start)
        c->w_end = c->w_start;   /* a wall clock step must not reorder the record */
    record(p, c);
    struct up *u = c->u;
    c->u = NULL;
    if (u) {
        u->c = NULL;
        if (c->up_keep && c->req_sent && c->r.len == 0 && !u->connecting)
            up_release(p, u);
        else
            up_close(p, u);
    }
    c->active = false;
    c->r.off = c->r.len = 0;
    c->rfwd = 0;
    c->since = now_mono_ns();
    c->served++;
}

/* A canned response of ours (400, 502, 504...): the connection closes after it. */
static void respond(struct conn *c, int status, const char *reason, const char *why)
{
    c->r.off = 0;
    c->r.len = (size_t)snprintf(c->r.p, BUF_SIZE,
                                "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                                "Connection: close\r\n\r\n%s\n",
                                status, reason, strlen(why) + 1, why);
    c->rfwd = c->r.len;
    c->rstate = R_DONE;
    c->status = status;
    c->keep = false;
    c->up_keep = false;
}

/* The upstream failed: answer 502/504 if nothing was sent yet, else cut the
 * client off (the response it got is incomplete). */
static void up_fail(struct proxy *p, struct conn *c, int status, const char *why)
{
    struct up *u = c->u;
    bool nothing_back = c->bytes_out == 0 && c->rstate == R_HEAD && c->r.len == 0;
    /* A pooled connection the upstream had closed: resend a body-less request once. */
    if (u && u->served && nothing_back && c->qb.kind == HB_NONE && !c->retried && status == 502) {
        c->retried = true;
        c->u = NULL;
        up_close(p, u);
        const char *err;
        c->u = up_connect(p, &err);
        if (c->u) {
            c->u->c = c;
            c->hd_off = 0;
            c->req_sent = false;
            c->w_start = 0;
            return;
        }
    }
    if (c->u) {
        c->u->c = NULL;
        up_close(p, c->u);
        c->u = NULL;
    }
    c->error = why;
    p->pid_recheck = true;
    if (p->up_pid && !p->o->upstream_pid && kill(p->up_pid, 0) < 0 && errno == ESRCH)
        p->up_pid = 0;   /* gone: its requests must not be joined to a reused PID */
    if (c->bytes_out == 0) {
        respond(c, status, status == 504 ? "Gateway Timeout" : "Bad Gateway", why);
    } else {
        c->keep = false;
        exchange_end(p, c);
        conn_close(p, c);
    }
}

/* The client went away (or its request is unreadable) mid-exchange. */
static void client_gone(struct proxy *p, struct conn *c, const char *why)
{
    if (c->active) {
        c->error = why;
        if (!c->status)
            c->status = 499;   /* nginx's "client closed request" */
        exchange_end(p, c);
    }
    conn_close(p, c);
}

/* The record's path: never userinfo, ;params and the query only with
 * --log-query (they may carry tokens and session ids). */
static void copy_path(struct proxy *p, struct conn *c, const struct http_head *h)
{
    http_record_path(h->target, h->target_len, p->o->log_query, c->path, sizeof c->path);
}

/* A request head is complete at the start of q. */
static void exchange_start(struct proxy *p, struct conn *c, const struct http_head *h)
{
    memset(&c->tp, 0, sizeof c->tp);
    c->active = true;
    c->since = now_mono_ns();
    c->rstate = R_HEAD;
    c->req_done = c->req_sent = c->retried = false;
    c->has_parent = false;
    c->w_enqueue = c->w_start = c->w_end = 0;
    c->m_enqueue = c->m_start = c->m_end = 0;
    c->bytes_in = h->len;
    c->bytes_out = 0;
    c->status = 0;
    c->error = NULL;
    size_t ml = h->method_len < sizeof c->method ? h->method_len : sizeof c->method - 1;
    memcpy(c->method, h->method, ml);
    c->method[ml] = '\0';
    copy_path(p, c, h);
    c->head_req = h->method_len == 4 && !memcmp(h->method, "HEAD", 4);
    c->keep = http_keep_alive(h);
    c->up_keep = true;

    struct traceparent in;
    if (h->traceparent && traceparent_parse(h->traceparent, h->traceparent_len, &in)) {
        memcpy(c->tp.trace_id, in.trace_id, 16);
        memcpy(c->parent, in.parent_id, 8);
        c->has_parent = true;
        c->tp.flags = in.flags;
    } else {
        rnd_bytes(p, c->tp.trace_id, 16);
    }
    do
        rnd_bytes(p, c->tp.parent_id, 8);   /* our span: the parent of the next hop */
    while (!c->tp.parent_id[0] && !memcmp(c->tp.parent_id, c->tp.parent_id + 1, 7));

    enum http_body_kind kind;
    if (http_request_body(h, &kind) < 0) {
        buf_consume(&c->q, h->len);
        c->error = "request with an unsupported Transfer-Encoding";
        respond(c, 400, "Bad Request", c->error);
        return;
    }
    char tps[TP_LEN + 1];
    traceparent_format(&c->tp, tps);
    c->hd_len = http_rewrite_request(c->q.p + c->q.off, h, tps, c->hd, HD_SIZE);
    c->hd_off = 0;
    buf_consume(&c->q, h->len);
    c->qfwd = 0;
    http_body_init(&c->qb, kind, h->length);
    if (c->qb.done) {
        c->req_done = true;
        c->w_enqueue = wall_ms();
        c->m_enqueue = now_mono_ns();
    }
    const char *err = NULL;
    c->u = up_get(p, &err);
    if (!c->u) {
        c->error = err;
        respond(c, 502, "Bad Gateway", err);
        return;
    }
    c->u->c = c;
    c->up_deadline = now_mono_ns() + (int64_t)p->o->timeout_ms * 1000000;
}

static void response_head(struct proxy *p, struct conn *c)
{
    struct http_head h;
    int rc = http_parse_response(c->r.p + c->r.off + c->rfwd, c->r.len - c->rfwd, &h);
    if (rc == 0) {
        if (c->r.len == BUF_SIZE)
            up_fail(p, c, 502, "upstream response head too large");
        return;
    }
    if (rc < 0) {
        up_fail(p, c, 502, "malformed upstream response head");
        return;
    }
    c->rfwd += h.len;
    if (h.status < 200 && h.status != 101)
        return;   /* interim (100 Continue): forwarded, the real head follows */
    c->status = h.status;
    enum http_body_kind kind = h.status == 101 ? HB_CLOSE : http_response_body(&h, c->head_req);
    if (!http_keep_alive(&h) || kind == HB_CLOSE) {
        c->up_keep = false;
        /* the upstream's Connection: close reaches the client too */
        if (h.conn_close || kind == HB_CLOSE)
            c->keep = false;
    }
    http_body_init(&c->rb, kind, h.length);
    c->rstate = c->rb.done ? R_DONE : R_BODY;
}

/* A head we cannot parse, too large or too slow: record it, answer, close. */
static void exchange_start_bad(struct proxy *p, struct conn *c, int status)
{
    static const struct { int status; const char *reason, *why; } bad[] = {
        {400, "Bad Request", "malformed request head"},
        {408, "Request Timeout", "request head not complete within --header-timeout"},
        {431, "Request Header Fields Too Large", "request head too large"},
    };
    size_t k = 0;
    while (k + 1 < ARRAY_LEN(bad) && bad[k].status != status)
        k++;
    memset(&c->tp, 0, sizeof c->tp);
    rnd_bytes(p, c->tp.trace_id, 16);
    rnd_bytes(p, c->tp.parent_id, 8);
    c->active = true;
    c->has_parent = false;
    c->req_done = true;
    c->req_sent = false;
    c->w_enqueue = wall_ms();
    c->m_enqueue = now_mono_ns();
    c->w_start = c->w_end = c->m_start = c->m_end = 0;
    c->bytes_in = c->q.len;
    c->bytes_out = 0;
    strcpy(c->method, "-");
    c->path[0] = '\0';
    c->error = bad[k].why;
    c->q.off = c->q.len = 0;
    c->qfwd = 0;
    c->eof = true;   /* read no more: the connection closes after the answer */
    respond(c, bad[k].status, bad[k].reason, c->error);
}

/* Move bytes until nothing moves.  May close c. */
/* What a step of pump did: nothing, moved bytes, made pump start over
 * (after an upstream failure), or closed the client connection. */
enum step { S_IDLE, S_MOVED, S_AGAIN, S_GONE };

/* client -> q */
static enum step client_read(struct proxy *p, struct conn *c)
{
    size_t room = c->rd && !c->eof ? buf_room(&c->q) : 0;
    if (!room)
        return S_IDLE;
    ssize_t n = read(c->fd, c->q.p + c->q.off + c->q.len, room);
    if (n > 0) {
        if (!c->active && !c->q.len && c->served)
            c->since = now_mono_ns();   /* a keep-alive client starts its next head */
        c->q.len += (size_t)n;
        if ((size_t)n < room && !c->hup)
            c->rd = false;   /* drained: edge-triggered, new data brings a new event */
        return S_MOVED;
    }
    if (n == 0) {
        c->eof = true;
    } else if (errno == EAGAIN) {
        c->rd = false;
    } else if (errno != EINTR) {
        client_gone(p, c, "client connection error");
        return S_GONE;
    }
    return S_IDLE;
}

/* a new request */
static enum step request_start(struct proxy *p, struct conn *c)
{
    if (c->active || !c->q.len)
        return S_IDLE;
    struct http_head h;
    int rc = http_parse_request(c->q.p + c->q.off, c->q.len, &h);
    if (rc < 0 || (rc == 0 && c->q.len == BUF_SIZE)) {
        exchange_start_bad(p, c, rc < 0 ? 400 : 431);
        return S_MOVED;
    }
    if (rc == 1) {
        exchange_start(p, c, &h);
        return S_MOVED;
    }
    return S_IDLE;
}

/* request body: classify what arrived */
static enum step request_body(struct proxy *p, struct conn *c)
{
    if (!c->active || c->req_done || c->q.len <= c->qfwd)
        return S_IDLE;
    long n = http_body_scan(&c->qb, c->q.p + c->q.off + c->qfwd, c->q.len - c->qfwd);
    if (n < 0) {
        c->up_keep = false;
        c->error = "malformed chunked request body";
        if (c->u) {
            c->u->c = NULL;
            up_close(p, c->u);
            c->u = NULL;
        }
        if (c->bytes_out != 0) {
            client_gone(p, c, c->error);
            return S_GONE;
        }
        respond(c, 400, "Bad Request", c->error);
        return S_IDLE;
    }
    c->qfwd += (size_t)n;
    c->bytes_in += (uint64_t)n;
    if (c->qb.done) {
        c->req_done = true;
        c->w_enqueue = wall_ms();
        c->m_enqueue = now_mono_ns();
    }
    return S_IDLE;
}

/* hd + body -> upstream; ts_start once all of the request is sent */
static enum step upstream_write(struct proxy *p, struct conn *c)
{
    enum step r = S_IDLE;
    struct up *u = c->u;
    if (u && !u->connecting && u->wr && (c->hd_off < c->hd_len || c->qfwd)) {
        struct iovec iov[2];
        int k = 0;
        if (c->hd_off < c->hd_len)
            iov[k++] = (struct iovec){c->hd + c->hd_off, c->hd_len - c->hd_off};
        if (c->qfwd)
            iov[k++] = (struct iovec){c->q.p + c->q.off, c->qfwd};
        ssize_t n = writev(u->fd, iov, k);
        if (n > 0) {
            size_t left = (size_t)n, h = c->hd_len - c->hd_off;
            size_t take = left < h ? left : h;
            c->hd_off += take;
            left -= take;
            buf_consume(&c->q, left);
            c->qfwd -= left;
            r = S_MOVED;
        } else if (n < 0 && errno == EAGAIN) {
            u->wr = false;
        } else if (n < 0 && errno != EINTR) {
            up_fail(p, c, 502, "cannot send to the upstream");
            return S_AGAIN;
        }
    }
    if (c->active && c->req_done && !c->req_sent && c->u && c->hd_off == c->hd_len && !c->qfwd) {
        c->req_sent = true;
        c->w_start = wall_ms();
        c->m_start = now_mono_ns();
        if (c->w_start < c->w_enqueue)
            c->w_start = c->w_enqueue;
    }
    return r;
}

/* After up_fail: start over, unless the client connection went with it. */
static enum step failed(struct proxy *p, struct conn *c, const char *why)
{
    up_fail(p, c, 502, why);
    return c->fd < 0 ? S_GONE : S_AGAIN;
}

/* upstream -> r */
static enum step upstream_read(struct proxy *p, struct conn *c)
{
    struct up *u = c->u;
    size_t room = u && !u->connecting && u->rd && c->rstate != R_DONE ? buf_room(&c->r) : 0;
    if (!room)
        return S_IDLE;
    ssize_t n = read(u->fd, c->r.p + c->r.off + c->r.len, room);
    if (n > 0) {
        c->r.len += (size_t)n;
        if ((size_t)n < room && !u->hup)
            u->rd = false;
        c->up_deadline = now_mono_ns() + (int64_t)p->o->timeout_ms * 1000000;
        return S_MOVED;
    }
    if (n == 0 && c->rstate == R_BODY && c->rb.kind == HB_CLOSE) {
        c->rb.done = true;
        c->rstate = R_DONE;
        c->up_keep = false;
        u->c = NULL;
        up_close(p, u);
        c->u = NULL;
        return S_MOVED;
    }
    if (n == 0)
        return failed(p, c, c->rstate == R_HEAD
                                ? "upstream closed the connection before responding"
                                : "upstream closed the connection mid-response");
    if (errno == EAGAIN)
        u->rd = false;
    else if (errno != EINTR)
        return failed(p, c, "upstream connection error");
    return S_IDLE;
}

/* classify what the upstream sent: its head, then its body */
static enum step response_scan(struct proxy *p, struct conn *c)
{
    bool moved = false;
    if (c->rstate == R_HEAD && c->r.len > c->rfwd && c->u) {
        size_t before = c->rfwd;
        response_head(p, c);
        if (c->fd < 0)
            return S_GONE;
        moved = c->rfwd != before;
    }
    if (c->rstate == R_BODY && c->r.len > c->rfwd) {
        long n = http_body_scan(&c->rb, c->r.p + c->r.off + c->rfwd, c->r.len - c->rfwd);
        if (n < 0)
            return failed(p, c, "malformed chunked upstream response");
        c->rfwd += (size_t)n;
        if (c->rb.done) {
            c->rstate = R_DONE;
            if (c->r.len > c->rfwd)
                c->up_keep = false;   /* bytes after the response: do not reuse */
        }
        moved |= n > 0;
    }
    return moved ? S_MOVED : S_IDLE;
}

/* r -> client */
static enum step client_write(struct proxy *p, struct conn *c)
{
    if (!c->wr || !c->rfwd)
        return S_IDLE;
    ssize_t n = write(c->fd, c->r.p + c->r.off, c->rfwd);
    if (n > 0) {
        c->since = now_mono_ns();
        buf_consume(&c->r, (size_t)n);
        c->rfwd -= (size_t)n;
        c->bytes_out += (uint64_t)n;
        return S_MOVED;
    }
    if (n < 0 && errno == EAGAIN) {
        c->wr = false;
    } else if (n < 0 && errno != EINTR) {
        client_gone(p, c, "client closed the connection before the response was complete");
        return S_GONE;
    }
    return S_IDLE;
}

/* the exchange is over */
static enum step exchange_over(struct proxy *p, struct conn *c)
{
    if (!c->active || c->rstate != R_DONE || c->rfwd)
        return S_IDLE;
    if (!c->req_done) {
        c->keep = false;   /* answered before the body was read: cannot resync */
        c->up_keep = false;
    }
    exchange_end(p, c);
    if (!c->keep || p->stopping) {
        conn_close(p, c);
        return S_GONE;
    }
    return S_MOVED;
}

/* Move what can move on a client connection and its upstream, in order,
 * until nothing does. */
static void pump(struct proxy *p, struct conn *c)
{
    static enum step (*const steps[])(struct proxy *, struct conn *) = {
        client_read, request_start, request_body, upstream_write,
        upstream_read, response_scan, client_write, exchange_over,
    };
    for (;;) {
        bool moved = false;
        enum step s = S_IDLE;
        for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
            s = steps[i](p, c);
            if (s == S_AGAIN || s == S_GONE)
                break;
            moved |= s == S_MOVED;
        }
        if (s == S_GONE)
            return;
        if (s != S_AGAIN && !moved)
            break;
    }
    if (c->eof) {
        if (!c->active) {
            conn_close(p, c);   /* a plain keep-alive close, or a partial head */
        } else if (!c->req_done) {
            client_gone(p, c, "client closed the connection mid-request");
        } else {
            c->keep = false;    /* half-closed after its request: answer, then close */
        }
    }
}

/* ---- accepting, timers, the loop ---- */

static void listen_off(struct proxy *p)
{
    struct epoll_event e = {.events = 0, .data.ptr = &p->lkind};
    epoll_ctl(p->ep, EPOLL_CTL_MOD, p->lfd, &e);
    p->listening = false;
}

/* accept4 failed.  Out of descriptors or memory the listener stays readable,
 * so a level-triggered loop would spin: stop listening and retry later. */
static void accept_failed(struct proxy *p, int err)
{
    if (err != EAGAIN && accept_backoff_fail(&p->accept, "accept a client", err))
        listen_off(p);
}

static void accept_all(struct proxy *p)
{
    while (p->listening && p->nconns < (size_t)p->max_conns) {
        int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            accept_failed(p, errno);
            return;
        }
        nodelay(fd);
        struct conn *c = xcalloc(1, sizeof *c);
        c->kind = K_CLIENT;
        c->fd = fd;
        c->rd = c->wr = true;
        c->since = now_mono_ns();
        c->q.p = xmalloc(BUF_SIZE);
        c->r.p = xmalloc(BUF_SIZE);
        c->hd = xmalloc(HD_SIZE);
        if (ep_add(p, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, c) < 0) {
            log_warn("epoll_ctl: %s", strerror(errno));
            close(fd);
            free(c->q.p);
            free(c->r.p);
            free(c->hd);
            free(c);
            continue;
        }
        c->next = p->conns;
        if (p->conns)
            p->conns->prev = c;
        p->conns = c;
        p->nconns++;
    }
    if (p->listening && p->nconns >= (size_t)p->max_conns) {
        accept_backoff_full(&p->accept, p->max_conns);
        listen_off(p);   /* full: the rest wait in the backlog (level-triggered listener) */
    }
}

static void resume_accepting(struct proxy *p, int64_t now)
{
    if (p->listening || p->stopping || p->lfd < 0 || !accept_backoff_ready(&p->accept, now))
        return;
    if (p->nconns >= (size_t)p->max_conns)
        return;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &p->lkind};
    epoll_ctl(p->ep, EPOLL_CTL_MOD, p->lfd, &e);
    p->listening = true;
}

/* A client that holds a connection without using it: a head not complete
 * within --header-timeout (counted from the accept, or from the first byte
 * of a later head) is answered 408 and recorded; a keep-alive client silent
 * for --idle-timeout between requests is closed.  Either way its slot of
 * --max-conns is free again. */
static void client_timeouts(struct proxy *p, struct conn *c, int64_t now)
{
    if (c->active) {
        /* a client that stops reading its response holds its slot (and the
         * upstream connection) too: after --idle-timeout without taking a
         * byte it is cut off (the upstream's silence is --timeout's) */
        if (c->rfwd && !c->wr && now - c->since > (int64_t)p->o->idle_timeout_ms * 1000000)
            client_gone(p, c, "client did not read its response for --idle-timeout");
        return;
    }
    bool in_head = c->q.len || !c->served;
    int64_t limit = (int64_t)(in_head ? p->o->header_timeout_ms : p->o->idle_timeout_ms) * 1000000;
    if (now - c->since <= limit)
        return;
    if (!c->q.len) {
        p->idle_closed++;
        conn_close(p, c);
        return;
    }
    p->head_timeouts++;
    exchange_start_bad(p, c, 408);
    pump(p, c);
    if (c->fd >= 0 && c->active) {
        /* it does not read its answer either: record it and go */
        c->keep = false;
        exchange_end(p, c);
        conn_close(p, c);
    }
}

static void timers(struct proxy *p, int64_t now)
{
    for (struct conn *c = p->conns, *next; c; c = next) {
        next = c->next;
        if (c->active && c->u && c->rstate != R_DONE && now > c->up_deadline) {
            up_fail(p, c, 504, "upstream timed out");
            if (c->fd >= 0)
                pump(p, c);
        } else if (p->stopping && !c->active && !c->q.len) {
            conn_close(p, c);   /* idle keep-alive connection */
        } else {
            client_timeouts(p, c, now);
        }
    }
    if ((!p->up_pid || p->pid_recheck) && now >= p->next_pid_check && !p->o->upstream_pid) {
        p->pid_recheck = false;
        check_upstream_pid(p);
        p->next_pid_check = now + 2000000000LL;
    }
}

static void start_stopping(struct proxy *p)
{
    if (p->stopping)
        return;
    p->stopping = true;
    p->stop_at = now_mono_ns() + DRAIN_NS;
    if (p->lfd >= 0) {
        epoll_ctl(p->ep, EPOLL_CTL_DEL, p->lfd, NULL);
        close(p->lfd);
        p->lfd = -1;
    }
    p->listening = false;
}

static void on_event(struct proxy *p, struct epoll_event *e)
{
    int kind = *(int *)e->data.ptr;
    uint32_t ev = e->events;
    if (kind == K_LISTEN) {
        accept_all(p);
    } else if (kind == K_SIG) {
        struct signalfd_siginfo si;
        while (read(p->sfd, &si, sizeof si) == sizeof si) {
            log_info("signal %u: finishing requests under way, then stopping", si.ssi_signo);
            start_stopping(p);
        }
    } else if (kind == K_CLIENT) {
        struct conn *c = e->data.ptr;
        if (c->fd < 0)
            return;
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            c->rd = true;
        if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            c->hup = true;
        if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            c->wr = true;
        pump(p, c);
    } else {
        struct up *u = e->data.ptr;
        if (u->fd < 0)
            return;
        if (!u->c) {
            /* idle in the pool: anything readable is its close (or junk) */
            if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                up_close(p, u);
            else if (ev & EPOLLOUT)
                u->wr = true;
            return;
        }
        struct conn *c = u->c;
        if (u->connecting && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err) {
                up_fail(p, c, 502, err == ECONNREFUSED ? "upstream refused the connection"
                                                        : "cannot connect to the upstream");
                if (c->fd >= 0)
                    pump(p, c);
                return;
            }
            u->connecting = false;
        }
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            u->rd = true;
        if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            u->hup = true;
        if (ev & EPOLLOUT)
            u->wr = true;
        pump(p, c);
    }
}

int proxy_parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len, char *err,
                     size_t errlen)
{
    char host[256];
    const char *port;
    if (text[0] == '[') {
        const char *rb = strchr(text, ']');
        if (!rb || rb[1] != ':' || (size_t)(rb - text - 1) >= sizeof host) {
            snprintf(err, errlen, "'%s': expected HOST:PORT or [IPV6]:PORT", text);
            return -1;
        }
        memcpy(host, text + 1, (size_t)(rb - text - 1));
        host[rb - text - 1] = '\0';
        port = rb + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon || colon == text || (size_t)(colon - text) >= sizeof host) {
            snprintf(err, errlen, "'%s': expected HOST:PORT", text);
            return -1;
        }
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
        port = colon + 1;
    }
    int64_t pn;
    if (!parse_i64(port, 0, 65535, &pn)) {
        snprintf(err, errlen, "'%s': port '%s' is not a number 0-65535", text, port);
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "'%s': cannot resolve '%s': %s", text, host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int setup(struct proxy *p, const struct proxy_opts *o)
{
    /* each client may hold 2 descriptors: its socket and one to the upstream,
     * kept in the pool after it leaves */
    p->max_conns = nofile_cap(o->max_conns, 2, NOFILE_RESERVE);
    p->lfd = socket(o->listen.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (p->lfd < 0 || setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(p->lfd, (const struct sockaddr *)&o->listen, o->listen_len) < 0 || listen(p->lfd, 4096) < 0) {
        log_error("cannot listen: %s", strerror(errno));
        return -1;
    }
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    p->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN);
    p->lkind = K_LISTEN;
    p->skind = K_SIG;
    if (p->ep < 0 || p->sfd < 0 || ep_add(p, p->lfd, EPOLLIN, &p->lkind) < 0 ||
        ep_add(p, p->sfd, EPOLLIN, &p->skind) < 0) {
        log_error("cannot set up the event loop: %s", strerror(errno));
        return -1;
    }
    p->listening = true;
    if (jsonl_open(&p->w, p->events_path, 5000) < 0) {
        log_error("cannot open %s: %s", p->events_path, strerror(errno));
        return -1;
    }
    if (getrandom(p->rng, sizeof p->rng, 0) != sizeof p->rng) {
        p->rng[0] = (uint64_t)now_mono_ns();
        p->rng[1] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
    }
    p->rng[0] |= 1;
    return 0;
}

int proxy_run(const struct proxy_opts *o)
{
    struct proxy p = {.o = o, .ep = -1, .lfd = -1, .sfd = -1};
    jb_init(&p.line);
    p.w.fd = -1;
    int rc = TK_EXIT_FAIL;
    char *name = xasprintf("events.%s.jsonl", o->app);
    p.events_path = path_join(o->run_dir, name);
    free(name);
    p.pid_dir = task_make_dirs(o->run_dir, o->pid_dir);
    if (!p.pid_dir || setup(&p, o) < 0)
        goto out;
    check_upstream_pid(&p);
    p.next_pid_check = now_mono_ns() + 2000000000LL;
    if (!p.up_pid)
        log_warn("upstream %s: no local process found listening (yet); records get pid null until "
                 "one is (--upstream-pid names it)", o->upstream_text);
    log_info("proxying to %s, records in %s", o->upstream_text, p.events_path);
    int64_t last_flush = now_mono_ns(), last_tick = last_flush;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(p.ep, evs, ARRAY_LEN(evs), TICK_MS);
        if (n < 0 && errno != EINTR) {
            log_error("epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++)
            on_event(&p, &evs[i]);
        free_dead(&p);
        int64_t now = now_mono_ns();
        resume_accepting(&p, now);
        if (now - last_tick >= TICK_MS * 1000000LL || p.stopping) {
            timers(&p, now);
            free_dead(&p);
            last_tick = now;
        }
        if (now - last_flush >= FLUSH_NS) {
            flush_records(&p);
            last_flush = now;
        }
        if (p.stopping && (!p.nconns || now > p.stop_at))
            break;
    }
    /* what is still under way is recorded as cut off */
    while (p.conns) {
        struct conn *c = p.conns;
        if (c->active) {
            c->error = "proxy stopped";
            exchange_end(&p, c);
        }
        conn_close(&p, c);
    }
    while (p.idle)
        up_close(&p, p.idle);
    free_dead(&p);
    rc = TK_EXIT_OK;
    log_info("%llu requests, %llu with errors; %llu request heads timed out, %llu idle clients "
             "closed, %llu failed accepts",
             (unsigned long long)p.requests, (unsigned long long)p.errors,
             (unsigned long long)p.head_timeouts, (unsigned long long)p.idle_closed,
             (unsigned long long)p.accept.fails);
out:
    if (p.w.fd >= 0) {
        if (jsonl_sync(&p.w) < 0 || p.w.write_errors) {
            log_error("cannot write all records to %s", p.events_path);
            rc = TK_EXIT_FAIL;
        }
        jsonl_close(&p.w);
    }
    jb_free(&p.line);
    if (p.lfd >= 0)
        close(p.lfd);
    if (p.sfd >= 0)
        close(p.sfd);
    if (p.ep >= 0)
        close(p.ep);
    free(p.events_path);
    free(p.pid_dir);
    return rc;
}
