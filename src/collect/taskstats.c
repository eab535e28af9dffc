/* taskstats.c -- exit records and TGID queries from the kernel's taskstats
 * interface (see taskstats.h).  libnl sets the sockets up and parses
 * attributes; the messages themselves are read and written by hand, so a
 * query costs two system calls and no allocation. */
#include "collect/taskstats.h"
#include "common/util.h"

#include <errno.h>
#include <linux/taskstats.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef AGROUP
#define AGROUP 0x20
#endif

/* Receive queue: exits queue up between two reads (the collector reads them
 * once per tick, not on every exit); 16 MiB hold about 12 000 records. */
#define RCV_BYTES (16 << 20)
/* Records read per system call. */
#define BATCH 16
#define SLOT 4096
#define QUERY_TIMEOUT_US 200000

struct tstats {
    struct nl_sock *query, *listen;
    int family;
    uint32_t seq;
    char cpumask[64];
    unsigned char buf[BATCH * SLOT] __attribute__((aligned(8)));
};

/* ---------------------------------------------------------------- decoding */

/* The fields we use from one struct taskstats attribute.  Older kernels
 * send a shorter struct, newer ones a longer: copy what both know. */
static void take_stats(const struct nlattr *a, struct taskstats *ts)
{
    memset(ts, 0, sizeof *ts);
    size_t n = (size_t)nla_len(a);
    memcpy(ts, nla_data(a), n < sizeof *ts ? n : sizeof *ts);
}

/* One AGGR_PID / AGGR_TGID nest: its id and its stats.  false when either
 * is missing. */
static bool aggr(struct nlattr *nest, int id_type, uint32_t *id, struct taskstats *ts)
{
    struct nlattr *tb[TASKSTATS_TYPE_MAX + 1];
    if (nla_parse_nested(tb, TASKSTATS_TYPE_MAX, nest, NULL) < 0 || !tb[id_type] ||
        !tb[TASKSTATS_TYPE_STATS] || nla_len(tb[id_type]) < (int)sizeof(uint32_t))
        return false;
    *id = nla_get_u32(tb[id_type]);
    take_stats(tb[TASKSTATS_TYPE_STATS], ts);
    return true;
}

static void fill_figures(struct tstats_rec *r, const struct taskstats *ts)
{
    r->cpu_ns = ts->cpu_run_virtual_total;
    r->utime_us = ts->ac_utime;
    r->stime_us = ts->ac_stime;
    r->delay_ns = ts->cpu_delay_total;
    /* Kernels that gate delay accounting leave the exact runtime at 0:
     * the tick-sampled times are then all there is. */
    if (r->cpu_ns == 0 && ts->cpu_run_real_total)
        r->cpu_ns = ts->cpu_run_real_total;
}

int tstats_decode(const void *msg, size_t len, struct tstats_rec *out)
{
    memset(out, 0, sizeof *out);
    if (len < NLMSG_HDRLEN + GENL_HDRLEN)
        return -1;
    struct nlmsghdr *nlh = (struct nlmsghdr *)msg;
    if (nlh->nlmsg_len < NLMSG_HDRLEN + GENL_HDRLEN || nlh->nlmsg_len > len)
        return -1;
    struct genlmsghdr *gh = nlmsg_data(nlh);
    if (gh->cmd != TASKSTATS_CMD_NEW)
        return 0;
    struct nlattr *tb[TASKSTATS_TYPE_MAX + 1];
    if (genlmsg_parse(nlh, 0, tb, TASKSTATS_TYPE_MAX, NULL) < 0)
        return -1;
    struct taskstats thr, grp;
    uint32_t tid = 0, tgid = 0;
    bool have_thr = tb[TASKSTATS_TYPE_AGGR_PID] && aggr(tb[TASKSTATS_TYPE_AGGR_PID], TASKSTATS_TYPE_PID, &tid, &thr);
    bool have_grp = tb[TASKSTATS_TYPE_AGGR_TGID] && aggr(tb[TASKSTATS_TYPE_AGGR_TGID], TASKSTATS_TYPE_TGID, &tgid, &grp);
    if (!have_thr && !have_grp)
        return tb[TASKSTATS_TYPE_AGGR_PID] || tb[TASKSTATS_TYPE_AGGR_TGID] ? -1 : 0;
    if (!have_thr) {
        /* A TGID query's reply: the group's totals only. */
        if (tgid == 0 || tgid > INT32_MAX)
            return -1;
        out->pid = (int)tgid;
        out->multi = true;
        fill_figures(out, &grp);
        return 1;
    }
    /* An exit message.  Only the group's last thread says AGROUP; the
     * others are threads of a process that goes on. */
    if (!(thr.ac_flag & AGROUP))
        return 0;
    uint32_t pid = have_grp ? tgid : tid;
    if (pid == 0 || pid > INT32_MAX)
        return -1;
    out->pid = (int)pid;
    out->group_exit = true;
    out->multi = have_grp;
    fill_figures(out, have_grp ? &grp : &thr);
    memcpy(out->comm, thr.ac_comm, sizeof out->comm - 1);
    out->comm[sizeof out->comm - 1] = '\0';
    out->hiwater_kb = thr.hiwater_rss;
    /* ac_tgetime (the group leader's age) is there since version 14; before
     * that the leader's own age is all there is. */
    out->elapsed_us = thr.ac_tgetime ? thr.ac_tgetime : thr.ac_etime;
    out->exit_code = thr.ac_exitcode;
    return 1;
}

void tstats_split(uint64_t cpu_ns, uint64_t utime_us, uint64_t stime_us, uint64_t *user_ns,
                  uint64_t *sys_ns)
{
    if (stime_us == 0) {
        *user_ns = cpu_ns;
    } else if (utime_us == 0) {
        *user_ns = 0;
    } else {
        /* cpu_ns * utime / (utime + stime) without overflow. */
        long double u = (long double)cpu_ns * (long double)utime_us / ((long double)utime_us + (long double)stime_us);
        *user_ns = (uint64_t)u;
    }
    *sys_ns = cpu_ns - *user_ns;
}

uint64_t tstats_start_ticks(uint64_t now_boot_ns, uint64_t elapsed_us, long clk_tck)
{
    uint64_t el_ns = elapsed_us * 1000;
    uint64_t start_ns = now_boot_ns > el_ns ? now_boot_ns - el_ns : 0;
    return (uint64_t)((unsigned __int128)start_ns * (uint64_t)clk_tck / 1000000000u);
}

void tstats_exit_time(int64_t lo, int64_t hi, uint64_t start_ticks, uint64_t elapsed_us, long clk_tck,
                      int64_t boot_minus_mono, int64_t *at, int64_t *err)
{
    if (lo >= hi) {
        *at = hi;
        *err = 0;
        return;
    }
    if (start_ticks) {
        /* Started within tick start_ticks: ended within one tick of start
         * + elapsed.  Keep what agrees with [lo, hi]. */
        int64_t tick = 1000000000 / clk_tck;
        int64_t e0 = (int64_t)start_ticks * tick + (int64_t)elapsed_us * 1000 - boot_minus_mono;
        if (e0 > lo)
            lo = e0 < hi ? e0 : hi;
        if (e0 + tick < hi)
            hi = e0 + tick > lo ? e0 + tick : lo;
    }
    *at = lo + (hi - lo) / 2;
    *err = (hi - lo) / 2;
}

/* ---------------------------------------------------------------- sockets */

static void nl_err(char *err, size_t errlen, const char *what, int nlerr)
{
    snprintf(err, errlen, "taskstats: %s: %s", what, nl_geterror(nlerr));
}

static struct nl_sock *connect_sock(char *err, size_t errlen)
{
    struct nl_sock *sk = nl_socket_alloc();
    if (!sk) {
        snprintf(err, errlen, "taskstats: out of memory");
        return NULL;
    }
    int rc = genl_connect(sk);
    if (rc < 0) {
        nl_err(err, errlen, "cannot open a generic netlink socket", rc);
        nl_socket_free(sk);
        return NULL;
    }
    return sk;
}

/* The possible CPUs, as the kernel wants the mask ("0-3"). */
static void possible_cpus(char *out, size_t n)
{
    size_t len = 0;
    char *text = read_file("/sys/devices/system/cpu/possible", &len);
    if (text && len > 0 && len < n) {
        memcpy(out, text, len);
        out[len] = '\0';
        out[strcspn(out, "\n")] = '\0';
    } else {
        long c = sysconf(_SC_NPROCESSORS_CONF);
        snprintf(out, n, "0-%ld", c > 0 ? c - 1 : 0);
    }
    free(text);
}

/* Send one TASKSTATS_CMD_GET on sk and wait for its reply; the reply is left in
 * t->buf.  Returns its length, or -1 with errno (ESRCH: no such process). */
static ssize_t request(struct tstats *t, struct nl_sock *sk, int attr, const void *val, size_t vlen)
{
    struct {
        struct nlmsghdr n;
        struct genlmsghdr g;
        unsigned char attrs[128];
    } req;
    size_t alen = NLA_HDRLEN + vlen;
    if (NLA_ALIGN(alen) > sizeof req.attrs)
        return errno = EINVAL, -1;
    memset(&req, 0, sizeof req);
    req.n.nlmsg_len = (uint32_t)(NLMSG_HDRLEN + GENL_HDRLEN + NLA_ALIGN(alen));
    req.n.nlmsg_type = (uint16_t)t->family;
    /* A query answers with its reply (or an error); a registration with
     * nothing unless asked for an acknowledgement. */
    req.n.nlmsg_flags = NLM_F_REQUEST | (attr == TASKSTATS_CMD_ATTR_TGID ? 0 : NLM_F_ACK);
    req.n.nlmsg_seq = ++t->seq;
    req.g.cmd = TASKSTATS_CMD_GET;
    req.g.version = TASKSTATS_GENL_VERSION;
    struct nlattr *a = (struct nlattr *)req.attrs;
    a->nla_type = (uint16_t)attr;
    a->nla_len = (uint16_t)alen;
    memcpy((char *)a + NLA_HDRLEN, val, vlen);
    int fd = nl_socket_get_fd(sk);
    if (send(fd, &req, req.n.nlmsg_len, 0) < 0)
        return -1;
    /* Read until our reply or our error; a late reply to an earlier
     * request that timed out is skipped by its sequence number. */
    for (;;) {
        ssize_t n = recv(fd, t->buf, sizeof t->buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        ssize_t reply = 0;
        int error = 0;
        bool ours = false;
        int left = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)t->buf; nlmsg_ok(h, left); h = nlmsg_next(h, &left)) {
            if (h->nlmsg_seq != t->seq)
                continue;
            ours = true;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = nlmsg_data(h);
                if (h->nlmsg_len >= NLMSG_HDRLEN + sizeof *e && e->error)
                    error = -e->error;
            } else if (h->nlmsg_type == t->family && !reply) {
                /* Keep the first reply at the start of the buffer. */
                if ((unsigned char *)h != t->buf)
                    memmove(t->buf, h, h->nlmsg_len);
                reply = h->nlmsg_len;
                break;
            }
        }
        if (error)
            return errno = error, -1;
        if (reply)
            return reply;
        if (ours)
            return 0;   /* the acknowledgement of a registration */
    }
}

struct tstats *tstats_open(char *err, size_t errlen)
{
    struct tstats *t = xcalloc(1, sizeof *t);
    t->query = connect_sock(err, errlen);
    if (!t->query)
        goto fail;
    t->family = genl_ctrl_resolve(t->query, TASKSTATS_GENL_NAME);
    if (t->family < 0) {
        nl_err(err, errlen, "the kernel has no TASKSTATS family (CONFIG_TASKSTATS)", t->family);
        goto fail;
    }
    struct timeval tv = {0, QUERY_TIMEOUT_US};
    setsockopt(nl_socket_get_fd(t->query), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* Ask about ourselves: the family answers only with CAP_NET_ADMIN. */
    struct tstats_rec self;
    if (tstats_query(t, getpid(), &self) < 0) {
        if (errno == EPERM || errno == EACCES)
            snprintf(err, errlen, "taskstats needs CAP_NET_ADMIN (run the collector as root)");
        else
            snprintf(err, errlen, "taskstats query failed: %s", strerror(errno));
        goto fail;
    }
    return t;
fail:
    tstats_close(t);
    return NULL;
}

int tstats_listen(struct tstats *t, char *err, size_t errlen)
{
    t->listen = connect_sock(err, errlen);
    if (!t->listen)
        return -1;
    int fd = nl_socket_get_fd(t->listen);
    int bytes = RCV_BYTES;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    struct timeval tv = {0, QUERY_TIMEOUT_US};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    possible_cpus(t->cpumask, sizeof t->cpumask);
    /* Register through the listening socket: the kernel sends to the
     * port that registered. */
    ssize_t rc = request(t, t->listen, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, t->cpumask,
                         strlen(t->cpumask) + 1);
    if (rc < 0) {
        snprintf(err, errlen, "taskstats: cannot register for exit records of CPUs %s: %s", t->cpumask,
                 strerror(errno));
        nl_socket_free(t->listen);
        t->listen = NULL;
        return -1;
    }
    nl_socket_set_nonblocking(t->listen);
    return fd;
}

int tstats_drain(struct tstats *t, void (*fn)(void *arg, const struct tstats_rec *r), void *arg,
                 uint64_t *overflows)
{
    if (!t || !t->listen)
        return 0;
    int fd = nl_socket_get_fd(t->listen), count = 0;
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    for (;;) {
        memset(mm, 0, sizeof mm);
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){t->buf + i * SLOT, SLOT};
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(fd, mm, BATCH, MSG_DONTWAIT, NULL);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                (*overflows)++;
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return count;
            return -1;
        }
        for (int i = 0; i < got; i++) {
            int left = (int)mm[i].msg_len;
            if (mm[i].msg_hdr.msg_flags & MSG_TRUNC)
                continue;
            for (struct nlmsghdr *h = iov[i].iov_base; nlmsg_ok(h, left); h = nlmsg_next(h, &left)) {
                struct tstats_rec r;
                if (h->nlmsg_type == t->family && tstats_decode(h, h->nlmsg_len, &r) == 1) {
                    fn(arg, &r);
                    count++;
                }
            }
        }
        if (got < BATCH)
            return count;
    }
}

int tstats_query(struct tstats *t, int tgid, struct tstats_rec *out)
{
    uint32_t id = (uint32_t)tgid;
    ssize_t n = request(t, t->query, TASKSTATS_CMD_ATTR_TGID, &id, sizeof id);
    if (n == 0)
        errno = EPROTO;
    if (n <= 0)
        return -1;
    if (tstats_decode(t->buf, (size_t)n, out) != 1 || out->pid != tgid)
        return errno = EPROTO, -1;
    return 0;
}

void tstats_close(struct tstats *t)
{
    if (!t)
        return;
    /* No deregistration: the socket may live on in a forked collector (the
     * registration belongs to the socket, not to a process), and the kernel
     * drops a listener whose socket is closed at its next send. */
    if (t->listen)
        nl_socket_free(t->listen);
    if (t->query)
        nl_socket_free(t->query);
    free(t);
}
