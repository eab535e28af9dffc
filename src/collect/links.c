/* links.c -- node-to-node network measurements (see links.h). */
#include "collect/links.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <math.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ECHO_BYTES 64
#define BULK_CHUNK (64 * 1024)

/* ---------------------------------------------------------------- pure */

int links_parse_hostport(const char *s, int default_port, struct link_peer *out)
{
    memset(out, 0, sizeof *out);
    out->port = default_port;
    const char *host = s, *port = NULL;
    size_t hlen;
    if (s[0] == '[') {  /* [v6]:port */
        const char *close = strchr(s, ']');
        if (!close)
            return -1;
        host = s + 1;
        hlen = (size_t)(close - host);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return -1;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && strchr(s, ':') != colon)
            colon = NULL;  /* a bare IPv6 address: no port */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        if (colon)
            port = colon + 1;
    }
    if (hlen == 0 || hlen >= sizeof out->host)
        return -1;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    for (size_t i = 0; i < hlen; i++)
        if (out->host[i] == ' ' || out->host[i] == '/' || out->host[i] == ',')
            return -1;
    if (port) {
        int64_t v;
        if (!parse_i64(port, 0, 65535, &v))
            return -1;
        out->port = (int)v;
    }
    return 0;
}

int links_parse_peers(const char *list, int default_port, struct link_peer **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    char *copy = xstrdup(list), *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = str_trim(tok);
        if (!*tok)
            continue;
        struct link_peer p;
        if (links_parse_hostport(tok, default_port, &p) < 0 || p.port == 0) {
            snprintf(err, errlen, "bad peer '%s': expected HOST, HOST:PORT or [IPV6]:PORT (port 1-65535)",
                     tok);
            free(copy);
            free(*out);
            *out = NULL;
            return -1;
        }
        *out = xrealloc(*out, (size_t)(n + 1) * sizeof **out);
        (*out)[n++] = p;
    }
    free(copy);
    if (n == 0) {
        snprintf(err, errlen, "no peers in '%s': expected HOST[:PORT],...", list);
        return -1;
    }
    return n;
}

bool links_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || *s < '0' || *s > '9')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v == 0)
        return false;
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {{"", 0}, {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (strcmp(end, units[i].suffix))
            continue;
        if (v > (UINT64_MAX >> units[i].shift))
            return false;
        *out = (uint64_t)v << units[i].shift;
        return true;
    }
    return false;
}



static json_t *real3(double v)
{
    return json_real(round(v * 1000.0) / 1000.0);
}

json_t *links_entry_json(const struct link_result *r)
{
    json_t *e = json_object();
    json_object_set_new(e, "src", json_string(r->src));
    json_object_set_new(e, "dst", json_string(r->dst));
    json_object_set_new(e, "dst_addr", json_string(r->dst_addr));
    json_object_set_new(e, "rtt_ms_p50", real3(r->rtt_p50));
    json_object_set_new(e, "rtt_ms_p99", real3(r->rtt_p99));
    json_object_set_new(e, "connect_ms_p50", real3(r->connect_p50));
    json_object_set_new(e, "bandwidth_mbps", real3(r->bw_mbps));
    json_object_set_new(e, "ts_ms", json_integer(r->ts_ms));
    json_object_set_new(e, "samples", json_integer(r->samples));
    json_object_set_new(e, "iface", r->iface[0] ? json_string(r->iface) : json_null());
    return e;
}

static bool nonneg_number(const json_t *e, const char *key)
{
    json_t *v = json_object_get(e, key);
    return json_is_number(v) && json_number_value(v) >= 0;
}

bool links_entry_valid(const json_t *e)
{
    if (!json_is_object(e))
        return false;
    json_t *src = json_object_get(e, "src"), *dst = json_object_get(e, "dst");
    if (!json_is_string(src) || !json_is_string(dst) || !json_string_length(src) ||
        !json_string_length(dst))
        return false;
    if (!json_is_integer(json_object_get(e, "ts_ms")))
        return false;
    static const char *const nums[] = {"rtt_ms_p50", "rtt_ms_p99", "bandwidth_mbps"};
    for (size_t i = 0; i < ARRAY_LEN(nums); i++)
        if (!nonneg_number(e, nums[i]))
            return false;
    json_t *iface = json_object_get(e, "iface");
    return !iface || json_is_null(iface) || json_is_string(iface);
}

static bool same_link(const json_t *a, const json_t *b)
{
    const char *as = json_string_value(json_object_get(a, "src"));
    const char *ad = json_string_value(json_object_get(a, "dst"));
    const char *bs = json_string_value(json_object_get(b, "src"));
    const char *bd = json_string_value(json_object_get(b, "dst"));
    return as && ad && bs && bd && !strcmp(as, bs) && !strcmp(ad, bd);
}

json_t *links_merge(const json_t *old, const json_t *fresh)
{
    json_t *out = json_array();
    size_t i;
    json_t *e;
    if (json_is_array(old))
        json_array_foreach(old, i, e) {
            bool replaced = false;
            size_t j;
            json_t *f;
            json_array_foreach(fresh, j, f)
                if (same_link(e, f))
                    replaced = true;
            if (!replaced)
                json_array_append(out, e);
        }
    json_array_foreach(fresh, i, e)
        json_array_append(out, e);
    return out;
}

/* ---------------------------------------------------------------- sockets */

static int resolve(const char *host, int port, bool passive, struct addrinfo **res)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (passive)
        hints.ai_flags = AI_PASSIVE;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    return getaddrinfo(host, ps, &hints, res);
}

static void set_timeouts(int fd, double s)
{
    struct timeval tv = {.tv_sec = (time_t)s, .tv_usec = (suseconds_t)((s - floor(s)) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static void nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int send_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int recv_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = ECONNRESET;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Read up to a newline or EOF (NUL-terminated, newline dropped). */
static int recv_line(int fd, char *buf, size_t n)
{
    size_t len = 0;
    while (len + 1 < n) {
        ssize_t r = recv(fd, buf + len, 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0 || buf[len] == '\n')
            break;
        len++;
    }
    buf[len] = '\0';
    return len ? 0 : -1;
}

/* ---------------------------------------------------------------- server */

#define SERVE_DRAIN_NS (5 * 1000000000LL)   /* at stop: wait this long for the threads */

struct conn {
    int fd;
    char *node_id;            /* malloc'd: the thread's own copy, it may outlive the options */
    double idle_s;
    struct conn *next;        /* in serving, while the thread runs */
};

/* Connections being served, each thread's own included.  Static, not in
 * serve_loop's frame: the detached threads decrement it after serve_loop
 * may have returned.  serving lists them so that a stop can shut their
 * sockets down (a blocked recv returns) and wait for active to reach 0. */
static atomic_int active;
static pthread_mutex_t serving_mu = PTHREAD_MUTEX_INITIALIZER;
static struct conn *serving;

static void *serve_conn(void *arg)
{
    /* arg stays in serving until the end; its next is the list's (under the lock) */
    const struct conn *self = arg;
    struct conn c = {.fd = self->fd, .node_id = self->node_id, .idle_s = self->idle_s};
    nodelay(c.fd);
    set_timeouts(c.fd, c.idle_s);
    char mode;
    if (recv_all(c.fd, &mode, 1) == 0) {
        static __thread char buf[BULK_CHUNK];
        if (mode == 'H') {
            char *line = xasprintf("%s\n", c.node_id);
            send_all(c.fd, line, strlen(line));
            free(line);
        } else if (mode == 'E') {
            ssize_t r;
            while ((r = recv(c.fd, buf, sizeof buf, 0)) > 0 || (r < 0 && errno == EINTR))
                if (r > 0 && send_all(c.fd, buf, (size_t)r) < 0)
                    break;
        } else if (mode == 'S') {
            uint64_t total = 0;
            ssize_t r;
            while ((r = recv(c.fd, buf, sizeof buf, 0)) > 0 || (r < 0 && errno == EINTR))
                if (r > 0)
                    total += (uint64_t)r;
            if (r == 0) {
                char line[32];
                int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)total);
                send_all(c.fd, line, (size_t)n);
            }
        }
    }
    pthread_mutex_lock(&serving_mu);
    for (struct conn **pp = &serving; *pp; pp = &(*pp)->next)
        if (*pp == arg) {
            *pp = (*pp)->next;
            break;
        }
    pthread_mutex_unlock(&serving_mu);
    close(c.fd);
    free(c.node_id);
    free(arg);
    atomic_fetch_sub(&active, 1);
    return NULL;
}

/* At stop: end every connection (shutdown makes a blocked recv or send
 * return) and wait up to SERVE_DRAIN_NS for the threads to be gone. */
static void serve_drain(void)
{
    pthread_mutex_lock(&serving_mu);
    for (struct conn *c = serving; c; c = c->next)
        shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&serving_mu);
    int64_t until = now_mono_ns() + SERVE_DRAIN_NS;
    while (atomic_load(&active) > 0 && now_mono_ns() < until)
        sleep_ms(10);
    int left = atomic_load(&active);
    if (left > 0)
        log_warn("%d connections still open %d s after the stop", left,
                 (int)(SERVE_DRAIN_NS / 1000000000LL));
}

static void serve_loop(const struct links_serve_opts *o, int lfd, int sfd)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int cap = nofile_cap(o->max_conns, 1, NOFILE_RESERVE);   /* one descriptor a connection */
    struct accept_backoff bo = {0};
    uint64_t conns = 0;
    for (;;) {
        bool room = atomic_load(&active) < cap, can = room && accept_backoff_ready(&bo, now_mono_ns());
        if (!room)
            accept_backoff_full(&bo, cap);
        /* the listener only while a connection may be taken; else look again in 100 ms */
        struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = can ? lfd : -1, .events = POLLIN}};
        if (poll(pf, 2, can ? -1 : 100) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[0].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == sizeof si)
                log_info("received signal %u: stopping after %llu connections", si.ssi_signo,
                         (unsigned long long)conns);
            break;
        }
        if (!(pf[1].revents & POLLIN))
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN)
                accept_backoff_fail(&bo, "accept a client", errno);
            continue;
        }
        conns++;
        struct conn *c = xmalloc(sizeof *c);
        *c = (struct conn){.fd = fd, .node_id = xstrdup(o->node_id), .idle_s = o->idle_timeout_s};
        atomic_fetch_add(&active, 1);
        pthread_mutex_lock(&serving_mu);
        c->next = serving;
        serving = c;
        pthread_t t;
        int rc = pthread_create(&t, &attr, serve_conn, c);
        if (rc != 0) {
            serving = c->next;   /* still first: the lock is held */
            pthread_mutex_unlock(&serving_mu);
            atomic_fetch_sub(&active, 1);
            close(fd);
            free(c->node_id);
            free(c);
            accept_backoff_fail(&bo, "start a thread for a client", rc);
            continue;
        }
        pthread_mutex_unlock(&serving_mu);
    }
    pthread_attr_destroy(&attr);
    serve_drain();
}

int links_serve(const struct links_serve_opts *o, char *err, size_t errlen)
{
    const char *listen_on = o->listen, *node_id = o->node_id;
    struct link_peer at;
    if (links_parse_hostport(listen_on, LINKS_PORT, &at) < 0) {
        snprintf(err, errlen, "bad --listen '%s': expected HOST:PORT", listen_on);
        return -1;
    }
    struct addrinfo *res;
    int gai = resolve(at.host, at.port, true, &res);
    if (gai) {
        snprintf(err, errlen, "cannot resolve '%s': %s", at.host, gai_strerror(gai));
        return -1;
    }
    int lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd >= 0)
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, res->ai_addr, res->ai_addrlen) < 0 || listen(lfd, 128) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen_on, strerror(errno));
        if (lfd >= 0)
            close(lfd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);

    /* Block the stop signals in every thread; the main one reads them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);

    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?", port[16] = "?";
    if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    printf("listening on %s%s%s:%s (node %s)\n", ss.ss_family == AF_INET6 ? "[" : "", host,
           ss.ss_family == AF_INET6 ? "]" : "", port, node_id);
    fflush(stdout);

    serve_loop(o, lfd, sfd);
    close(lfd);
    close(sfd);
    return 0;
}

/* ---------------------------------------------------------------- client */

/* Connect with a deadline; *ms gets the time connect took.  fd or -1. */
static int connect_timed(const struct addrinfo *ai, double timeout_s, double *ms)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int64_t t0 = now_mono_ns();
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        int pr;
        do
            pr = poll(&pf, 1, (int)(timeout_s * 1000));
        while (pr < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (pr == 0) {
            soerr = ETIMEDOUT;
        } else if (pr > 0) {
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        } else {
            soerr = errno;
        }
        rc = soerr ? -1 : 0;
        errno = soerr;
    }
    if (rc < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (ms)
        *ms = (double)(now_mono_ns() - t0) / 1e6;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    set_timeouts(fd, timeout_s);
    nodelay(fd);
    return fd;
}

/* The interface that owns the socket's local address (the route's way out). */
static void local_iface(int fd, char *out, size_t n)
{
    out[0] = '\0';
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return;
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) < 0)
        return;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != ss.ss_family)
            continue;
        bool same = false;
        if (ss.ss_family == AF_INET)
            same = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
                   ((struct sockaddr_in *)&ss)->sin_addr.s_addr;
        else if (ss.ss_family == AF_INET6)
            same = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
                           &((struct sockaddr_in6 *)&ss)->sin6_addr, sizeof(struct in6_addr));
        if (same) {
            snprintf(out, n, "%s", i->ifa_name);
            break;
        }
    }
    freeifaddrs(ifs);
}

static int open_mode(const struct addrinfo *ai, const struct links_opts *o, char mode)
{
    int fd = connect_timed(ai, o->timeout_s, NULL);
    if (fd < 0)
        return -1;
    if (send_all(fd, &mode, 1) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int measure_addr(const struct addrinfo *ai, const struct links_opts *o,
                        struct link_result *r, char *err, size_t errlen)
{
    int fd = -1, rc = -1;
    const char *step = "connect";
    double *conn_ms = xcalloc((size_t)o->samples, sizeof *conn_ms);
    double *rtt_ms = xcalloc((size_t)o->samples, sizeof *rtt_ms);
    char *buf = xmalloc(BULK_CHUNK);

    /* who is there, and which interface leads to it */
    fd = open_mode(ai, o, 'H');
    if (fd < 0)
        goto fail;
    local_iface(fd, r->iface, sizeof r->iface);
    char name[160];
    step = "hello";
    if (recv_line(fd, name, sizeof name) < 0)
        goto fail;
    snprintf(r->dst, sizeof r->dst, "%s", name);
    close(fd);
    fd = -1;

    step = "connect";
    for (int i = 0; i < o->samples; i++) {
        int c = connect_timed(ai, o->timeout_s, &conn_ms[i]);
        if (c < 0)
            goto fail;
        close(c);
    }

    step = "echo";
    fd = open_mode(ai, o, 'E');
    if (fd < 0)
        goto fail;
    memset(buf, 'x', ECHO_BYTES);
    for (int i = -1; i < o->samples; i++) {  /* one warm-up round */
        int64_t t0 = now_mono_ns();
        if (send_all(fd, buf, ECHO_BYTES) < 0 || recv_all(fd, buf, ECHO_BYTES) < 0)
            goto fail;
        if (i >= 0)
            rtt_ms[i] = (double)(now_mono_ns() - t0) / 1e6;
    }
    close(fd);
    fd = -1;

    /* Bulk: until the size cap or the time cap; the time runs until the
     * server has counted every byte (its answer comes after our EOF). */
    step = "bulk transfer";
    fd = open_mode(ai, o, 'S');
    if (fd < 0)
        goto fail;
    memset(buf, 0x5a, BULK_CHUNK);
    int64_t t0 = now_mono_ns(), cap_ns = (int64_t)(o->bulk_s * 1e9);
    size_t sent = 0;
    while (sent < o->bytes && now_mono_ns() - t0 < cap_ns) {
        size_t n = o->bytes - sent < BULK_CHUNK ? o->bytes - sent : BULK_CHUNK;
        if (send_all(fd, buf, n) < 0)
            goto fail;
        sent += n;
    }
    shutdown(fd, SHUT_WR);
    char line[32];
    if (recv_line(fd, line, sizeof line) < 0)
        goto fail;
    double secs = (double)(now_mono_ns() - t0) / 1e9;
    int64_t got;
    if (!parse_i64(line, 0, INT64_MAX, &got) || (size_t)got != sent) {
        snprintf(err, errlen, "bulk transfer: sent %zu bytes, the server counted '%s'", sent, line);
        goto out;
    }
    r->bw_mbps = secs > 0 ? (double)got * 8.0 / secs / 1e6 : 0;
    r->samples = o->samples;
    size_t n = (size_t)o->samples;
    qsort(conn_ms, n, sizeof *conn_ms, cmp_double);
    qsort(rtt_ms, n, sizeof *rtt_ms, cmp_double);
    r->connect_p50 = stats_nearest_rank(conn_ms, n, 0.50);
    r->rtt_p50 = stats_nearest_rank(rtt_ms, n, 0.50);
    r->rtt_p99 = stats_nearest_rank(rtt_ms, n, 0.99);
    r->ts_ms = now_wall_ms();
    rc = 0;
    goto out;
fail:
    snprintf(err, errlen, "%s: %s", step, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    free(conn_ms);
    free(rtt_ms);
    free(buf);
    return rc;
}

int links_measure(const struct link_peer *p, const struct links_opts *o, struct link_result *r,
                  char *err, size_t errlen)
{
    struct addrinfo *res;
    int gai = resolve(p->host, p->port, false, &res);
    if (gai) {
        snprintf(err, errlen, "cannot resolve '%s': %s", p->host, gai_strerror(gai));
        return -1;
    }
    snprintf(r->dst_addr, sizeof r->dst_addr, strchr(p->host, ':') ? "[%s]:%d" : "%s:%d", p->host,
             p->port);
    int rc = -1;
    for (struct addrinfo *ai = res; ai && rc < 0; ai = ai->ai_next)
        rc = measure_addr(ai, o, r, err, errlen);
    freeaddrinfo(res);
    return rc;
}

/* ---------------------------------------------------------------- a run's links.json */

char *links_dump(const json_t *a)
{
    return json_dumps(a, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
}

/* Merge fresh into RUN_DIR/links.json.  0, or -1 after a log_error. */
static int merge_file(const char *run_dir, const json_t *fresh)
{
    if (mkdir_p(run_dir, TK_DIR_MODE) < 0) {
        log_error("cannot create run folder %s: %s", run_dir, strerror(errno));
        return -1;
    }
    char *path = path_join(run_dir, "links.json");
    json_t *old = NULL;
    if (file_exists(path)) {
        json_error_t jerr;
        old = json_load_file(path, 0, &jerr);
        if (!json_is_array(old))
            log_warn("%s is not a JSON array (%s): replacing it", path,
                     old ? "another JSON value" : jerr.text);
    }
    json_t *merged = links_merge(old, fresh);
    char *text = links_dump(merged);
    size_t len = strlen(text);
    text = xrealloc(text, len + 2);
    text[len++] = '\n';
    int rc = write_file_atomic(path, text, len);
    if (rc < 0)
        log_error("cannot write %s: %s", path, strerror(errno));
    else
        log_info("%zu link(s) written to %s", json_array_size(fresh), path);
    free(text);
    free(path);
    json_decref(old);
    json_decref(merged);
    return rc;
}

json_t *links_run(const struct links_job *j, bool *failed)
{
    char err[512];
    json_t *fresh = json_array();
    *failed = false;
    for (int i = 0; i < j->npeers; i++) {
        const struct link_peer *p = &j->peers[i];
        struct link_result r;
        memset(&r, 0, sizeof r);
        snprintf(r.src, sizeof r.src, "%s", j->src);
        if (links_measure(p, &j->opts, &r, err, sizeof err) < 0) {
            log_error("peer %s:%d: %s", p->host, p->port, err);
            *failed = true;
            continue;
        }
        log_info("%s -> %s (%s via %s): rtt p50 %.3f ms p99 %.3f ms, connect p50 %.3f ms, "
                 "%.1f Mbit/s", r.src, r.dst, r.dst_addr, r.iface[0] ? r.iface : "?", r.rtt_p50,
                 r.rtt_p99, r.connect_p50, r.bw_mbps);
        json_array_append_new(fresh, links_entry_json(&r));
    }
    if (json_array_size(fresh) && merge_file(j->run_dir, fresh) < 0)
        *failed = true;
    return fresh;
}

/* ---------------------------------------------------------------- CTS */

struct rate {
    double tx, rx;
    uint64_t n;
};

/* Mean tx/rx byte rates of iface over the run's host_metrics.jsonl
 * (baseline-free: every record is already a rate over its interval). */
static bool iface_rates(const char *run_dir, const char *iface, struct rate *out)
{
    memset(out, 0, sizeof *out);
    char *path = path_join(run_dir, "host_metrics.jsonl");
    struct jsonl_reader r;
    int orc = jsonl_reader_open(&r, path);
    free(path);
    if (orc < 0)
        return false;
    json_t *obj;
    while (jsonl_next(&r, &obj) == 1) {
        json_t *n = json_object_get(json_object_get(obj, "net"), iface);
        json_t *tx = json_object_get(n, "tx_bytes_ps"), *rx = json_object_get(n, "rx_bytes_ps");
        if (json_is_number(tx) && json_is_number(rx)) {
            out->tx += json_number_value(tx);
            out->rx += json_number_value(rx);
            out->n++;
        }
        json_decref(obj);
    }
    jsonl_reader_close(&r);
    if (!out->n)
        return false;
    out->tx /= (double)out->n;
    out->rx /= (double)out->n;
    return true;
}

int links_to_cts(const char *run_dir, const char *cts_dir, const char *node, size_t *good,
                 size_t *bad)
{
    *good = *bad = 0;
    char *path = path_join(run_dir, "links.json");
    if (!file_exists(path)) {
        free(path);
        return 0;
    }
    json_t *doc = json_load_file(path, 0, NULL);
    free(path);
    if (!json_is_array(doc)) {
        json_decref(doc);
        *bad = 1;
        return 1;
    }
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(doc, i, e) {
        if (!links_entry_valid(e)) {
            (*bad)++;
            continue;
        }
        json_t *c = json_deep_copy(e);
        const char *iface = json_string_value(json_object_get(e, "iface"));
        const char *src = json_string_value(json_object_get(e, "src"));
        struct rate rt;
        /* Only this node's interfaces are in this run's host metrics. */
        if (iface && (!node || !strcmp(node, src)) && iface_rates(run_dir, iface, &rt)) {
            json_object_set_new(c, "iface_tx_bytes_ps_mean", real3(rt.tx));
            json_object_set_new(c, "iface_rx_bytes_ps_mean", real3(rt.rx));
            json_object_set_new(c, "iface_samples", json_integer((json_int_t)rt.n));
        }
        json_array_append_new(out, c);
        (*good)++;
    }
    json_decref(doc);
    char *text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    json_decref(out);
    char *dst = path_join(cts_dir, "links.json");
    size_t len = strlen(text);
    text = xrealloc(text, len + 2);
    text[len++] = '\n';
    int rc = write_file_atomic(dst, text, len);
    free(dst);
    free(text);
    return rc < 0 ? -1 : 0;
}
