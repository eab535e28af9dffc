/* rq.c -- the Redis transport of the scheduling plane; see rq.h and
 * docs/redis.md.  The state machine lives in the Lua scripts of rq_lua.h;
 * this file connects, authenticates, classifies errors, retries with
 * back-off, and converts between C structs and script arguments/replies. */
#include "sched/rq.h"

#include <errno.h>
#include <stdarg.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonl.h"
#include "common/log.h"
#include "common/uuid.h"
#include "sched/rq_lua.h"
#include "common/run.h"
#include "common/util.h"

enum {
    S_ENQUEUE, S_PLACE, S_TAKE, S_HEARTBEAT, S_COMPLETE, S_REAP, S_REGISTER, S_LEAVE,
    S_STATE, S_REJECT, S_AUDIT, S_COUNTS, S_COUNT
};

static const char *const script_body[S_COUNT] = {
    LUA_ENQUEUE, LUA_PLACE, LUA_TAKE, LUA_HEARTBEAT, LUA_COMPLETE, LUA_REAP,
    LUA_REGISTER, LUA_LEAVE, LUA_STATE, LUA_REJECT, LUA_AUDIT, LUA_COUNTS,
};

/* Ids reserved per INCRBY of the task counter. */
#define ID_BLOCK 64

struct rq {
    redisContext *c;
    struct redis_url url;
    char *desc;               /* redacted URL for messages */
    char *prefix;             /* "tk:RUN_ID:" */
    struct rq_opts o;
    char sha[S_COUNT][41];
    char err[512];
    unsigned reconnects;
    int64_t id_next, id_end;  /* reserved task ids [next, end) */
    unsigned jitter;
    uint32_t nonce;           /* with pid and batches: unique batch tokens */
    uint64_t batches;
};

const char *rq_error(const struct rq *q) { return q->err; }
const char *rq_prefix(const struct rq *q) { return q->prefix; }
unsigned rq_reconnects(const struct rq *q) { return q->reconnects; }

static void set_err(struct rq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct rq *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->err, sizeof q->err, fmt, ap);
    va_end(ap);
    /* Redis never echoes a password, but be sure no message ever does. */
    if (q->url.password && *q->url.password) {
        char *p;
        while ((p = strstr(q->err, q->url.password)) != NULL)
            memset(p, '*', strlen(q->url.password));
    }
}

static struct timeval tv_ms(int ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* ---- connecting ---- */

/* Map hiredis' connect/IO error text (strerror or gai_strerror) to a code
 * and a hint. */
static int classify_io(const redisContext *c, const char **what)
{
    const char *e = c->errstr;
    if (c->err == REDIS_ERR_OTHER && !strstr(e, "Connection")) {
        *what = "cannot resolve the host name";
        return RQ_EUNREACH;
    }
    if (!strcmp(e, strerror(ECONNREFUSED))) {
        *what = "connection refused (is redis-server running and listening there?)";
        return RQ_ECONN;
    }
    if (!strcmp(e, strerror(ETIMEDOUT)) || !strcmp(e, strerror(EAGAIN)) ||
        !strcmp(e, strerror(EINPROGRESS))) {
        *what = "no answer in time (host down, wrong address, or a firewall dropping packets?)";
        return RQ_ETIMEOUT;
    }
    if (!strcmp(e, strerror(EHOSTUNREACH)) || !strcmp(e, strerror(ENETUNREACH))) {
        *what = "host or network unreachable";
        return RQ_EUNREACH;
    }
    if (!strcmp(e, strerror(ENOENT))) {
        *what = "no socket at that path (is redis-server running with unixsocket set?)";
        return RQ_ECONN;
    }
    if (!strcmp(e, strerror(EACCES))) {
        *what = "permission denied on the socket";
        return RQ_ECONN;
    }
    *what = e;
    return RQ_ECONN;
}

/* One command during the handshake; returns the reply or NULL (error set). */
static redisReply *hs_command(struct rq *q, redisContext *c, int *code, int argc,
                              const char **argv)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r) {
        const char *what;
        *code = classify_io(c, &what);
        set_err(q, "Redis at %s: %s", q->desc, what);
    }
    return r;
}

static bool is_auth_error(const char *s)
{
    return !strncmp(s, "WRONGPASS", 9) || strstr(s, "invalid password") ||
           strstr(s, "invalid username-password");
}

/* Connect, authenticate, select the db.  0 or an RQ_E* code. */
static int connect_once(struct rq *q)
{
    struct timeval tv = tv_ms(q->o.connect_timeout_ms);
    redisContext *c = q->url.unix_socket ? redisConnectUnixWithTimeout(q->url.path, tv)
                                         : redisConnectWithTimeout(q->url.host, q->url.port, tv);
    if (!c) {
        set_err(q, "Redis at %s: out of memory", q->desc);
        return RQ_ECONN;
    }
    if (c->err) {
        const char *what;
        int code = classify_io(c, &what);
        set_err(q, "cannot connect to Redis at %s: %s", q->desc, what);
        redisFree(c);
        return code;
    }
    /* The handshake uses the connect timeout: a listener that never
     * answers is "unreachable" quickly, not after the op timeout. */
    redisSetTimeout(c, tv);
    int code = 0;
    redisReply *r = NULL;
    if (q->url.password) {
        const char *argv[3] = {"AUTH", q->url.user ? q->url.user : q->url.password,
                               q->url.password};
        r = hs_command(q, c, &code, q->url.user ? 3 : 2, argv);
        if (!r)
            goto fail;
        if (r->type == REDIS_REPLY_ERROR) {
            if (is_auth_error(r->str)) {
                set_err(q, "Redis at %s: authentication failed: wrong %s", q->desc,
                        q->url.user ? "user name or password" : "password");
                code = RQ_EAUTH;
                goto fail;
            }
            if (strstr(r->str, "without any password configured")) {
                log_warn("Redis at %s has no password set, but one was given: anyone who can "
                         "reach it can use it (set requirepass)", q->desc);
            } else {
                set_err(q, "Redis at %s: AUTH failed: %s", q->desc, r->str);
                code = RQ_EAUTH;
                goto fail;
            }
        }
        freeReplyObject(r);
        r = NULL;
    }
    const char *ping[1] = {"PING"};
    r = hs_command(q, c, &code, 1, ping);
    if (!r)
        goto fail;
    if (r->type == REDIS_REPLY_ERROR) {
        if (!strncmp(r->str, "NOAUTH", 6)) {
            set_err(q, "Redis at %s requires a password: give it in the URL "
                       "(redis://:PASSWORD@host) or with --redis-password-file", q->desc);
            code = RQ_EAUTH;
        } else if (!strncmp(r->str, "LOADING", 7)) {
            set_err(q, "Redis at %s is loading its data set", q->desc);
            code = RQ_ECONN; /* transient: a reconnect will try again */
        } else {
            set_err(q, "Redis at %s: PING failed: %s", q->desc, r->str);
            code = RQ_EPROTO;
        }
        goto fail;
    }
    freeReplyObject(r);
    r = NULL;
    if (q->url.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", q->url.db);
        const char *argv[2] = {"SELECT", db};
        r = hs_command(q, c, &code, 2, argv);
        if (!r)
            goto fail;
        if (r->type == REDIS_REPLY_ERROR) {
            set_err(q, "Redis at %s: cannot select database %d: %s", q->desc, q->url.db,
                    r->str);
            code = RQ_EPROTO;
            goto fail;
        }
        freeReplyObject(r);
        r = NULL;
    }
    redisSetTimeout(c, tv_ms(q->o.op_timeout_ms));
    q->c = c;
    return 0;
fail:
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return code ? code : RQ_ECONN;
}

static void drop_connection(struct rq *q)
{
    if (q->c)
        redisFree(q->c);
    q->c = NULL;
}

/* Back-off step k (0, 1, ...): min * 2^k capped at max, +-25% jitter. */
static int backoff_ms(struct rq *q, int k)
{
    int64_t ms = q->o.backoff_min_ms;
    for (int i = 0; i < k && ms < q->o.backoff_max_ms; i++)
        ms *= 2;
    if (ms > q->o.backoff_max_ms)
        ms = q->o.backoff_max_ms;
    int64_t j = ms / 4;
    if (j > 0)
        ms += (int64_t)(rand_r(&q->jitter) % (unsigned)(2 * j + 1)) - j;
    return (int)(ms < 1 ? 1 : ms);
}

/* Reply errors that mean "try again in a moment". */
static bool transient_reply(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           (!strncmp(r->str, "LOADING", 7) || !strncmp(r->str, "BUSY ", 5) ||
            !strncmp(r->str, "TRYAGAIN", 8) || !strncmp(r->str, "MASTERDOWN", 10));
}

/* Run `send` (which issues commands on q->c and collects replies) until it
 * gets through: on a lost connection or a transient error reply, reconnect
 * with back-off for up to retry_ms.  Authentication failures are final.
 * send returns 0 done, 1 connection/transient problem (retry), < 0 final. */
typedef int (*send_fn)(struct rq *q, void *arg);

static int with_retry(struct rq *q, send_fn send, void *arg)
{
    int64_t start = now_mono_ns(), last_warn = 0;
    int attempt = 0;
    bool warned = false;
    for (;;) {
        int rc;
        if (!q->c) {
            rc = connect_once(q);
            if (rc == 0) {
                q->reconnects++;
                if (warned)
                    log_info("reconnected to Redis at %s after %.1f s", q->desc,
                             (double)(now_mono_ns() - start) / 1e9);
            } else if (rc == RQ_EAUTH || rc == RQ_EPROTO) {
                return rc;
            }
        } else {
            rc = 0;
        }
        if (q->c) {
            rc = send(q, arg);
            if (rc <= 0)
                return rc;
        }
        /* Connection lost, refused, or a transient reply: retry? */
        int64_t elapsed_ms = (now_mono_ns() - start) / 1000000;
        if (q->o.retry_ms < 0 || elapsed_ms >= q->o.retry_ms) {
            if (q->o.retry_ms >= 0) {
                char why[sizeof q->err];
                memcpy(why, q->err, sizeof why);
                set_err(q, "%s (gave up after %.1f s)", why, (double)elapsed_ms / 1000);
            }
            return rc == 1 ? RQ_ECONN : rc;
        }
        if (!warned || now_mono_ns() - last_warn > 10 * 1000000000LL) {
            log_warn("%s; retrying", q->err);
            warned = true;
            last_warn = now_mono_ns();
        }
        sleep_ms(backoff_ms(q, attempt++));
    }
}

/* ---- commands ---- */

struct cmd_ctx {
    int argc;
    const char **argv;
    const size_t *lens;
    redisReply *reply;
    int script;  /* >= 0: argv[1] is that script's sha, reload on NOSCRIPT */
};

static int load_script(struct rq *q, int s);

/* After an I/O error: remember why and drop the connection. */
static int io_failed(struct rq *q)
{
    set_err(q, "lost the connection to Redis at %s: %s", q->desc, q->c->errstr);
    drop_connection(q);
    return 1;
}

static int send_one(struct rq *q, void *arg)
{
    struct cmd_ctx *x = arg;
    for (int tries = 0; tries < 2; tries++) {
        if (x->script >= 0)
            x->argv[1] = q->sha[x->script];
        redisReply *r = redisCommandArgv(q->c, x->argc, x->argv, x->lens);
        if (!r)
            return io_failed(q);
        if (x->script >= 0 && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
            /* Redis restarted (scripts are not persisted): load and rerun;
             * NOSCRIPT means the script did not run. */
            freeReplyObject(r);
            int lr = load_script(q, x->script);
            if (lr != 0)
                return lr;
            continue;
        }
        if (transient_reply(r)) {
            set_err(q, "Redis at %s: %s", q->desc, r->str);
            freeReplyObject(r);
            return 1;
        }
        x->reply = r;
        return 0;
    }
    set_err(q, "Redis at %s: script still missing after loading it", q->desc);
    return RQ_EPROTO;
}

static redisReply *command(struct rq *q, int argc, const char **argv, const size_t *lens,
                           int *rc)
{
    struct cmd_ctx x = {argc, argv, lens, NULL, -1};
    *rc = with_retry(q, send_one, &x);
    return x.reply;
}

static int load_script(struct rq *q, int s)
{
    size_t n = strlen(LUA_PRELUDE) + strlen(script_body[s]);
    char *text = xmalloc(n + 1);
    strcpy(text, LUA_PRELUDE);
    strcat(text, script_body[s]);
    redisReply *r = redisCommand(q->c, "SCRIPT LOAD %s", text);
    free(text);
    if (!r)
        return io_failed(q);
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING && r->len == 40) {
        memcpy(q->sha[s], r->str, 41);
    } else if (transient_reply(r)) {
        set_err(q, "Redis at %s: %s", q->desc, r->str);
        rc = 1;
    } else {
        set_err(q, "Redis at %s: SCRIPT LOAD failed: %s", q->desc,
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        rc = RQ_EPROTO;
    }
    freeReplyObject(r);
    return rc;
}

/* EVALSHA script 0 P args... (args may contain NULs: lens given). */
static redisReply *eval(struct rq *q, int s, int nargs, const char **args, const size_t *lens,
                        int *rc)
{
    const char *argv[64];
    size_t alen[64];
    if (nargs + 4 > 64) {
        *rc = RQ_EARG;
        return NULL;
    }
    argv[0] = "EVALSHA";
    argv[1] = q->sha[s];
    argv[2] = "0";
    argv[3] = q->prefix;
    for (int i = 0; i < 4; i++)
        alen[i] = strlen(argv[i]);
    alen[1] = 40;
    for (int i = 0; i < nargs; i++) {
        argv[4 + i] = args[i];
        alen[4 + i] = lens ? lens[i] : strlen(args[i]);
    }
    struct cmd_ctx x = {nargs + 4, argv, alen, NULL, s};
    *rc = with_retry(q, send_one, &x);
    if (x.reply && x.reply->type == REDIS_REPLY_ERROR) {
        set_err(q, "Redis at %s: script error: %s", q->desc, x.reply->str);
        freeReplyObject(x.reply);
        *rc = RQ_EPROTO;
        return NULL;
    }
    return x.reply;
}

/* ---- reply helpers ---- */

static bool rint_(const redisReply *r, int64_t *v)
{
    if (!r)
        return false;
    if (r->type == REDIS_REPLY_INTEGER) {
        *v = r->integer;
        return true;
    }
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        return parse_i64(r->str, INT64_MIN, INT64_MAX, v);
    return false;
}

static const char *rstr(const redisReply *r)
{
    if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS))
        return r->str;
    return "";
}

static bool is_array(const redisReply *r, size_t min)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= min;
}

static int bad_reply(struct rq *q, redisReply *r, const char *what)
{
    set_err(q, "Redis at %s: unexpected reply to %s", q->desc, what);
    if (r)
        freeReplyObject(r);
    return RQ_EPROTO;
}

/* ---- open / close ---- */

static int check_server(struct rq *q)
{
    int rc;
    const char *argv[2] = {"INFO", "server"};
    redisReply *r = command(q, 2, argv, NULL, &rc);
    if (!r)
        return rc;
    const char *v = r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
    int major = 0, minor = 0;
    if (v)
        sscanf(v + 14, "%d.%d", &major, &minor);
    freeReplyObject(r);
    if (major < 6 || (major == 6 && minor < 2)) {
        set_err(q, "Redis at %s is version %d.%d; Tracekit needs 6.2 or newer (LMOVE/BLMOVE)",
                q->desc, major, minor);
        return RQ_EPROTO;
    }
    return 0;
}

static int load_all(struct rq *q, void *arg)
{
    (void)arg;
    for (int s = 0; s < S_COUNT; s++) {
        int rc = load_script(q, s);
        if (rc)
            return rc;
    }
    return 0;
}

struct rq *rq_open(const struct redis_url *u, const struct rq_opts *o, char *err,
                   size_t errlen)
{
    if (!o->run_id || !run_id_valid(o->run_id)) {
        snprintf(err, errlen, "invalid run id for Redis keys: '%s'", o->run_id ? o->run_id : "");
        return NULL;
    }
    if (u->user && !u->password) {
        char *d = redisurl_describe(u);
        snprintf(err, errlen, "Redis URL %s names user '%s' but gives no password", d, u->user);
        free(d);
        return NULL;
    }
    struct rq *q = xcalloc(1, sizeof *q);
    q->o = *o;
    if (q->o.connect_timeout_ms <= 0)
        q->o.connect_timeout_ms = 2000;
    if (q->o.op_timeout_ms <= 0)
        q->o.op_timeout_ms = 5000;
    if (q->o.retry_ms == 0)
        q->o.retry_ms = 30000;
    if (q->o.backoff_min_ms <= 0)
        q->o.backoff_min_ms = 50;
    if (q->o.backoff_max_ms < q->o.backoff_min_ms)
        q->o.backoff_max_ms = q->o.backoff_min_ms > 2000 ? q->o.backoff_min_ms : 2000;
    q->o.run_id = NULL; /* not kept: the prefix is */
    q->url.unix_socket = u->unix_socket;
    q->url.host = u->host ? xstrdup(u->host) : NULL;
    q->url.path = u->path ? xstrdup(u->path) : NULL;
    q->url.port = u->port;
    q->url.db = u->db;
    q->url.user = u->user ? xstrdup(u->user) : NULL;
    q->url.password = u->password ? xstrdup(u->password) : NULL;
    q->desc = redisurl_describe(u);
    q->prefix = xasprintf("tk:%s:", o->run_id);
    q->jitter = (unsigned)getpid() ^ (unsigned)now_mono_ns();
    if (getrandom(&q->nonce, sizeof q->nonce, 0) != (ssize_t)sizeof q->nonce)
        q->nonce = (uint32_t)now_mono_ns();

    int rc = connect_once(q);
    if (rc == 0)
        rc = check_server(q);
    if (rc == 0)
        rc = with_retry(q, load_all, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "%s", q->err);
        rq_close(q);
        return NULL;
    }
    return q;
}

void rq_close(struct rq *q)
{
    if (!q)
        return;
    drop_connection(q);
    redisurl_free(&q->url);
    free(q->desc);
    free(q->prefix);
    free(q);
}

/* ---- enqueue ---- */

/* Reserve n consecutive task ids. */
static int reserve_ids(struct rq *q, size_t n, int64_t *first)
{
    if (q->id_end - q->id_next >= (int64_t)n) {
        *first = q->id_next;
        q->id_next += (int64_t)n;
        return 0;
    }
    int64_t want = n > ID_BLOCK ? (int64_t)n : ID_BLOCK;
    char key[300], by[24];
    snprintf(key, sizeof key, "%sseq", q->prefix);
    snprintf(by, sizeof by, "%lld", (long long)want);
    const char *argv[3] = {"INCRBY", key, by};
    int rc;
    redisReply *r = command(q, 3, argv, NULL, &rc);
    if (!r)
        return rc;
    int64_t end;
    if (!rint_(r, &end))
        return bad_reply(q, r, "INCRBY");
    freeReplyObject(r);
    /* ids (end - want, end]; the unused rest of an old block is dropped */
    q->id_next = end - want + 1;
    q->id_end = end + 1;
    *first = q->id_next;
    q->id_next += (int64_t)n;
    return 0;
}

struct enq_args {
    char id[24], cpu[24], mem[24], ts[24];
    char trace[160];
    char pin[132];  /* run_id_valid: at most 128 characters */
    char *body;
};

/* Build the stored body and the script arguments from the caller's fields. */
static int prepare_task(struct rq *q, const char *fields, int64_t id, struct enq_args *a)
{
    json_error_t je;
    json_t *o = json_loads(fields ? fields : "{}", 0, &je);
    if (!o || !json_is_object(o)) {
        set_err(q, "task fields must be a JSON object: %s", o ? "not an object" : je.text);
        json_decref(o);
        return RQ_EARG;
    }
    int64_t cpu = 1, mem = 0, ts = now_wall_ms();
    json_t *v = json_object_get(o, "cpu_units");
    if (v && !json_is_integer(v)) {
        set_err(q, "task field cpu_units must be an integer");
        goto bad;
    }
    if (v && json_integer_value(v) > 1)
        cpu = json_integer_value(v);
    v = json_object_get(o, "mem_mb");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 0)) {
        set_err(q, "task field mem_mb must be an integer >= 0");
        goto bad;
    }
    if (v)
        mem = json_integer_value(v);
    v = json_object_get(o, "ts_enqueue");
    if (v && !json_is_integer(v)) {
        set_err(q, "task field ts_enqueue must be an integer (ms)");
        goto bad;
    }
    if (v)
        ts = json_integer_value(v);
    v = json_object_get(o, "trace_id");
    if (v && (!json_is_string(v) || !json_string_length(v) ||
              json_string_length(v) >= sizeof a->trace)) {
        set_err(q, "task field trace_id must be a non-empty string (< %zu bytes)",
                sizeof a->trace);
        goto bad;
    }
    if (v)
        snprintf(a->trace, sizeof a->trace, "%s", json_string_value(v));
    else if (uuid_new(a->trace) < 0) {
        set_err(q, "cannot make a trace id: %s", strerror(errno));
        goto bad;
    }
    v = json_object_get(o, "node");
    if (v && !json_is_null(v) && (!json_is_string(v) || !run_id_valid(json_string_value(v)))) {
        set_err(q, "task field node must be a node id (1-128 letters, digits or ._-()+:) or "
                   "null, to pin the task to that node");
        goto bad;
    }
    snprintf(a->pin, sizeof a->pin, "%s", json_is_string(v) ? json_string_value(v) : "");
    snprintf(a->id, sizeof a->id, "%lld", (long long)id);
    snprintf(a->cpu, sizeof a->cpu, "%lld", (long long)cpu);
    snprintf(a->mem, sizeof a->mem, "%lld", (long long)mem);
    snprintf(a->ts, sizeof a->ts, "%lld", (long long)ts);

    struct jbuf b;
    jb_init(&b);
    jb_obj_open(&b, NULL);
    jb_int(&b, "task_id", id);
    jb_str(&b, "trace_id", a->trace);
    const char *k;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "task_id") && strcmp(k, "trace_id") && strcmp(k, "ts_enqueue") &&
            strcmp(k, "attempt"))
            jb_json(&b, k, v);
    }
    jb_int(&b, "ts_enqueue", ts);
    jb_obj_close(&b);
    a->body = xstrdup(b.p);
    jb_free(&b);
    json_decref(o);
    return 0;
bad:
    json_decref(o);
    return RQ_EARG;
}

#define ENQ_NARGS 7

static void enq_argv(struct enq_args *a, const char *argv[ENQ_NARGS])
{
    argv[0] = a->id;
    argv[1] = a->body;
    argv[2] = a->cpu;
    argv[3] = a->mem;
    argv[4] = a->trace;
    argv[5] = a->ts;
    argv[6] = a->pin;
}

int rq_enqueue(struct rq *q, const char *fields_json, int64_t *task_id)
{
    const char *fj = fields_json;
    int n = rq_enqueue_many(q, &fj, 1, task_id);
    return n == 1 ? 0 : n < 0 ? n : RQ_EPROTO;
}

/* Pipelined EVALSHA of one script over many argument sets.  All commands
 * are re-sent after a reconnect: every script is idempotent. */
struct batch {
    int script;
    size_t n;
    int nargs;
    const char **args;      /* n * nargs */
    redisReply **replies;   /* n */
};

static int send_batch(struct rq *q, void *arg)
{
    struct batch *b = arg;
    for (int tries = 0; tries < 2; tries++) {
        const char *argv[16];
        size_t alen[16];
        for (size_t i = 0; i < b->n; i++) {
            argv[0] = "EVALSHA";
            argv[1] = q->sha[b->script];
            argv[2] = "0";
            argv[3] = q->prefix;
            for (int k = 0; k < b->nargs; k++)
                argv[4 + k] = b->args[i * (size_t)b->nargs + (size_t)k];
            for (int k = 0; k < 4 + b->nargs; k++)
                alen[k] = strlen(argv[k]);
            if (redisAppendCommandArgv(q->c, 4 + b->nargs, argv, alen) != REDIS_OK)
                return io_failed(q);
        }
        bool noscript = false, transient = false;
        for (size_t i = 0; i < b->n; i++) {
            redisReply *r = NULL;
            if (redisGetReply(q->c, (void **)&r) != REDIS_OK || !r) {
                for (size_t k = 0; k < i; k++) {
                    freeReplyObject(b->replies[k]);
                    b->replies[k] = NULL;
                }
                return io_failed(q);
            }
            if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8))
                noscript = true;
            if (transient_reply(r)) {
                set_err(q, "Redis at %s: %s", q->desc, r->str);
                transient = true;
            }
            b->replies[i] = r;
        }
        if (!noscript && !transient)
            return 0;
        for (size_t i = 0; i < b->n; i++) {
            freeReplyObject(b->replies[i]);
            b->replies[i] = NULL;
        }
        if (transient)
            return 1;
        int lr = load_script(q, b->script);
        if (lr != 0)
            return lr;
    }
    set_err(q, "Redis at %s: script still missing after loading it", q->desc);
    return RQ_EPROTO;
}

static int run_batch(struct rq *q, struct batch *b)
{
    b->replies = xcalloc(b->n, sizeof *b->replies);
    int rc = with_retry(q, send_batch, b);
    if (rc == 0) {
        for (size_t i = 0; i < b->n; i++) {
            if (b->replies[i]->type == REDIS_REPLY_ERROR) {
                set_err(q, "Redis at %s: script error: %s", q->desc, b->replies[i]->str);
                rc = RQ_EPROTO;
                break;
            }
        }
    }
    if (rc != 0) {
        for (size_t i = 0; i < b->n; i++)
            if (b->replies[i])
                freeReplyObject(b->replies[i]);
        free(b->replies);
        b->replies = NULL;
    }
    return rc;
}

static void free_batch(struct batch *b)
{
    if (b->replies) {
        for (size_t i = 0; i < b->n; i++)
            freeReplyObject(b->replies[i]);
        free(b->replies);
    }
    b->replies = NULL;
}

int rq_enqueue_many(struct rq *q, const char *const *fields_json, size_t n, int64_t *ids)
{
    if (n == 0)
        return 0;
    int64_t first = 0;
    int rc = reserve_ids(q, n, &first);
    if (rc)
        return rc;
    struct enq_args *a = xcalloc(n, sizeof *a);
    const char **args = xmalloc(n * ENQ_NARGS * sizeof *args);
    size_t done = 0;
    for (; done < n; done++) {
        rc = prepare_task(q, fields_json[done], first + (int64_t)done, &a[done]);
        if (rc)
            break;
        enq_argv(&a[done], args + done * ENQ_NARGS);
    }
    if (rc == 0) {
        struct batch b = {S_ENQUEUE, n, ENQ_NARGS, args, NULL};
        rc = run_batch(q, &b);
        free_batch(&b);
    }
    for (size_t i = 0; i < done; i++)
        free(a[i].body);
    free(a);
    free(args);
    if (rc)
        return rc;
    if (ids)
        for (size_t i = 0; i < n; i++)
            ids[i] = first + (int64_t)i;
    return (int)n;
}

/* ---- scheduler side ---- */

void rq_state_free(struct rq_state *s)
{
    for (size_t i = 0; i < s->nhosts; i++) {
        free(s->hosts[i].node);
        free(s->hosts[i].worker);
    }
    free(s->hosts);
    for (size_t i = 0; i < s->nhead; i++)
        free(s->head[i].pin);
    free(s->head);
    memset(s, 0, sizeof *s);
}

static int cmp_host(const void *a, const void *b)
{
    return strcmp(((const struct rq_host *)a)->node, ((const struct rq_host *)b)->node);
}

int rq_state(struct rq *q, size_t nhead, struct rq_state *s)
{
    memset(s, 0, sizeof *s);
    char nh[24];
    snprintf(nh, sizeof nh, "%zu", nhead);
    const char *args[1] = {nh};
    int rc;
    redisReply *r = eval(q, S_STATE, 1, args, NULL, &rc);
    if (!r)
        return rc;
    int64_t v;
    size_t k = 0;
    if (!is_array(r, 3) || !rint_(r->element[k++], &s->ver) || !rint_(r->element[k++], &v))
        return bad_reply(q, r, "state");
    size_t nn = (size_t)v;
    if (r->elements < 2 + nn * 11 + 2)
        return bad_reply(q, r, "state");
    s->hosts = xcalloc(nn ? nn : 1, sizeof *s->hosts);
    s->nhosts = nn;
    for (size_t i = 0; i < nn; i++) {
        struct rq_host *h = &s->hosts[i];
        redisReply **e = r->element + k;
        int64_t up = 0;
        h->node = xstrdup(rstr(e[0]));
        rint_(e[1], &up);
        h->up = up != 0;
        h->worker = xstrdup(rstr(e[2]));
        int64_t *f[] = {&h->cap, &h->cap_total, &h->run_count, &h->mem, &h->mem_total, &h->phys};
        for (size_t j = 0; j < 6; j++)
            if (!rint_(e[3 + j], f[j]))
                *f[j] = 0;
        if (!parse_double(rstr(e[9]), 0, 1e6, &h->ratio))
            h->ratio = 1.0;
        if (!rint_(e[10], &h->parallel))
            h->parallel = 0;
        k += 11;
    }
    qsort(s->hosts, nn, sizeof *s->hosts, cmp_host);
    if (!rint_(r->element[k++], &v) || r->elements < k + (size_t)v * 4 + 1) {
        rq_state_free(s);
        return bad_reply(q, r, "state");
    }
    s->nhead = (size_t)v;
    s->head = xcalloc(s->nhead ? s->nhead : 1, sizeof *s->head);
    for (size_t i = 0; i < s->nhead; i++, k += 4) {
        rint_(r->element[k], &s->head[i].id);
        rint_(r->element[k + 1], &s->head[i].cpu_units);
        rint_(r->element[k + 2], &s->head[i].mem_mb);
        const char *pin = rstr(r->element[k + 3]);
        s->head[i].pin = *pin ? xstrdup(pin) : NULL;
    }
    rint_(r->element[k], &s->pending);
    freeReplyObject(r);
    return 0;
}

void rq_host_to_pol(const struct rq_host *h, struct pol_host *out)
{
    *out = (struct pol_host){
        .id = h->node,
        .up = h->up,
        .cores = h->phys,
        .units_total = h->cap_total,
        .units_free = h->cap,
        .mem_total_mb = h->mem_total,
        .mem_free_mb = h->mem_total > 0 ? h->mem : 0,
        .instances = h->run_count,
        .max_parallel = h->parallel,
        .core_mhz = 0,
    };
}

static enum rq_place_status place_status(const char *s)
{
    static const struct {
        const char *name;
        enum rq_place_status st;
    } map[] = {
        {"ok", RQ_P_OK},         {"already", RQ_P_ALREADY}, {"stale", RQ_P_STALE},
        {"version", RQ_P_VERSION}, {"nocap", RQ_P_NOCAP},   {"busy", RQ_P_BUSY},
        {"nomem", RQ_P_NOMEM},   {"down", RQ_P_DOWN},       {"unknown", RQ_P_UNKNOWN},
        {"gone", RQ_P_GONE},     {"pinned", RQ_P_PINNED},
    };
    for (size_t i = 0; i < ARRAY_LEN(map); i++)
        if (!strcmp(s, map[i].name))
            return map[i].st;
    return (enum rq_place_status)-1;
}

static int parse_place(struct rq *q, const redisReply *r, struct rq_place_res *res)
{
    if (!is_array(r, 2))
        return bad_reply(q, NULL, "place");
    int st = (int)place_status(rstr(r->element[0]));
    if (st < 0 || !rint_(r->element[1], &res->ver))
        return bad_reply(q, NULL, "place");
    res->st = (enum rq_place_status)st;
    res->cap_left = -1;
    if (r->elements >= 3)
        rint_(r->element[2], &res->cap_left);
    return 0;
}

int rq_place_many(struct rq *q, const struct rq_place_req *r, size_t n,
                  struct rq_place_res *res)
{
    if (n == 0)
        return 0;
    char token[64];
    snprintf(token, sizeof token, "%d.%08x.%llu", (int)getpid(), q->nonce,
             (unsigned long long)++q->batches);
    char (*num)[2][24] = xmalloc(n * sizeof *num);
    const char **args = xmalloc(n * 5 * sizeof *args);
    for (size_t i = 0; i < n; i++) {
        if (!run_id_valid(r[i].node)) {
            set_err(q, "invalid node id '%s'", r[i].node ? r[i].node : "");
            free(num);
            free(args);
            return RQ_EARG;
        }
        snprintf(num[i][0], 24, "%lld", (long long)r[i].task_id);
        if (r[i].expect_ver >= 0)
            snprintf(num[i][1], 24, "%lld", (long long)r[i].expect_ver);
        else
            num[i][1][0] = 0;
        args[i * 5] = num[i][0];
        args[i * 5 + 1] = r[i].node;
        args[i * 5 + 2] = num[i][1];
        args[i * 5 + 3] = token;
        args[i * 5 + 4] = i > 0 && r[i].expect_ver >= 0 ? "1" : "0";
    }
    struct batch b = {S_PLACE, n, 5, args, NULL};
    int rc = run_batch(q, &b);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = parse_place(q, b.replies[i], &res[i]);
    free_batch(&b);
    free(num);
    free(args);
    return rc;
}

int rq_place(struct rq *q, const struct rq_place_req *r, struct rq_place_res *res)
{
    return rq_place_many(q, r, 1, res);
}

int rq_reject(struct rq *q, int64_t task_id, const char *reason)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)task_id);
    const char *args[2] = {id, reason ? reason : ""};
    int rc;
    redisReply *r = eval(q, S_REJECT, 2, args, NULL, &rc);
    if (!r)
        return rc;
    int64_t v;
    if (!rint_(r, &v))
        return bad_reply(q, r, "reject");
    freeReplyObject(r);
    return (int)v;
}

int rq_wait(struct rq *q, int timeout_ms)
{
    char key[300], secs[24];
    snprintf(key, sizeof key, "%swake", q->prefix);
    snprintf(secs, sizeof secs, "%.3f", timeout_ms / 1000.0);
    const char *argv[3] = {"BLPOP", key, secs};
    int rc;
    if (q->c)
        redisSetTimeout(q->c, tv_ms(timeout_ms + q->o.op_timeout_ms));
    redisReply *r = command(q, 3, argv, NULL, &rc);
    if (q->c)
        redisSetTimeout(q->c, tv_ms(q->o.op_timeout_ms));
    if (!r)
        return rc;
    int woke = r->type == REDIS_REPLY_ARRAY;
    freeReplyObject(r);
    return woke;
}

int rq_reap(struct rq *q, int max_deliveries, struct rq_reap_stats *st)
{
    char md[16];
    snprintf(md, sizeof md, "%d", max_deliveries < 1 ? 1 : max_deliveries);
    const char *args[1] = {md};
    int rc;
    redisReply *r = eval(q, S_REAP, 1, args, NULL, &rc);
    if (!r)
        return rc;
    struct rq_reap_stats s = {0, 0, 0};
    if (!is_array(r, 3) || !rint_(r->element[0], &s.workers) ||
        !rint_(r->element[1], &s.requeued) || !rint_(r->element[2], &s.dead))
        return bad_reply(q, r, "reap");
    freeReplyObject(r);
    if (st)
        *st = s;
    return 0;
}

/* ---- worker side ---- */

static int check_ids(struct rq *q, const char *node, const char *worker)
{
    if (node && !run_id_valid(node)) {
        set_err(q, "invalid node id '%s'", node);
        return RQ_EARG;
    }
    if (worker && !run_id_valid(worker)) {
        set_err(q, "invalid worker id '%s'", worker);
        return RQ_EARG;
    }
    return 0;
}

int rq_register(struct rq *q, const struct rq_worker_info *w, char **owner)
{
    if (owner)
        *owner = NULL;
    int rc = check_ids(q, w->node, w->worker);
    if (rc)
        return rc;
    if (w->cap_total < 1 || w->ttl_ms < 100) {
        set_err(q, "register: capacity must be >= 1 and the liveness TTL >= 100 ms");
        return RQ_EARG;
    }
    char a[8][32];
    snprintf(a[0], 32, "%lld", (long long)w->cap_total);
    snprintf(a[1], 32, "%lld", (long long)w->phys);
    snprintf(a[2], 32, "%g", w->ratio > 0 ? w->ratio : 1.0);
    snprintf(a[3], 32, "%lld", (long long)(w->mem_total_mb > 0 ? w->mem_total_mb : 0));
    snprintf(a[4], 32, "%lld", (long long)(w->parallel > 0 ? w->parallel : 0));
    snprintf(a[5], 32, "%d", w->ttl_ms);
    snprintf(a[6], 32, "%d", w->max_deliveries < 1 ? 3 : w->max_deliveries);
    const char *args[9] = {w->node, w->worker, a[0], a[1], a[2], a[3], a[4], a[5], a[6]};
    redisReply *r = eval(q, S_REGISTER, 9, args, NULL, &rc);
    if (!r)
        return rc;
    if (!is_array(r, 2))
        return bad_reply(q, r, "register");
    const char *st = rstr(r->element[0]);
    int out;
    if (!strcmp(st, "ok")) {
        out = RQ_REG_OK;
    } else if (!strcmp(st, "busy") || !strcmp(st, "conflict")) {
        out = st[0] == 'b' ? RQ_REG_BUSY : RQ_REG_CONFLICT;
        if (owner)
            *owner = xstrdup(rstr(r->element[1]));
        if (out == RQ_REG_BUSY)
            set_err(q, "node %s already has a live worker (%s)", w->node, rstr(r->element[1]));
        else
            set_err(q, "worker id %s is registered for node %s", w->worker,
                    rstr(r->element[1]));
    } else {
        return bad_reply(q, r, "register");
    }
    freeReplyObject(r);
    return out;
}

int rq_heartbeat(struct rq *q, const char *worker, int ttl_ms, int lease_ms)
{
    int rc = check_ids(q, NULL, worker);
    if (rc)
        return rc;
    char t[16], l[16];
    snprintf(t, sizeof t, "%d", ttl_ms);
    snprintf(l, sizeof l, "%d", lease_ms);
    const char *args[3] = {worker, t, l};
    redisReply *r = eval(q, S_HEARTBEAT, 3, args, NULL, &rc);
    if (!r)
        return rc;
    if (!is_array(r, 1))
        return bad_reply(q, r, "heartbeat");
    int out = !strcmp(rstr(r->element[0]), "ok") ? RQ_HB_OK : RQ_HB_FENCED;
    freeReplyObject(r);
    return out;
}

void rq_task_free(struct rq_task *t)
{
    free(t->body);
    free(t->json);
    memset(t, 0, sizeof *t);
}

/* One TAKE script call.  1 task, 0 none, 2 fenced, < 0 error. */
static int take_once(struct rq *q, const char *worker, const char *node, const int64_t *held,
                     size_t nheld, int lease_ms, struct rq_task *t)
{
    if (nheld > 48) {
        set_err(q, "take: too many held tasks (%zu)", nheld);
        return RQ_EARG;
    }
    char l[16], md[16] = "3", ids[48][24];
    const char *args[60];
    snprintf(l, sizeof l, "%d", lease_ms);
    args[0] = worker;
    args[1] = node;
    args[2] = l;
    args[3] = md;
    for (size_t i = 0; i < nheld; i++) {
        snprintf(ids[i], sizeof ids[i], "%lld", (long long)held[i]);
        args[4 + i] = ids[i];
    }
    int rc;
    redisReply *r = eval(q, S_TAKE, 4 + (int)nheld, args, NULL, &rc);
    if (!r)
        return rc;
    if (!is_array(r, 1))
        return bad_reply(q, r, "take");
    const char *st = rstr(r->element[0]);
    int out;
    if (!strcmp(st, "none")) {
        out = RQ_TAKE_NONE;
    } else if (!strcmp(st, "fenced")) {
        out = RQ_TAKE_FENCED;
    } else if (!strcmp(st, "ok") && r->elements >= 7) {
        int64_t a = 0, d = 0;
        memset(t, 0, sizeof *t);
        if (!rint_(r->element[1], &t->id) || !rint_(r->element[2], &a) ||
            !rint_(r->element[3], &d) || r->element[4]->type != REDIS_REPLY_STRING)
            return bad_reply(q, r, "take");
        t->attempt = (int)a;
        t->deliveries = (int)d;
        rint_(r->element[5], &t->cpu_units);
        rint_(r->element[6], &t->mem_mb);
        t->body = xstrdup(r->element[4]->str);
        /* body + "attempt": the stored body always ends with '}' */
        size_t n = strlen(t->body);
        while (n && t->body[n - 1] != '}')
            n--;
        t->json = n ? xasprintf("%.*s, \"attempt\": %d}", (int)(n - 1), t->body, t->attempt)
                    : xstrdup(t->body);
        out = RQ_TAKE_OK;
    } else {
        return bad_reply(q, r, "take");
    }
    freeReplyObject(r);
    return out;
}

int rq_take(struct rq *q, const char *worker, const char *node, const int64_t *held,
            size_t nheld, int timeout_ms, int lease_ms, struct rq_task *t)
{
    int rc = check_ids(q, node, worker);
    if (rc)
        return rc;
    rc = take_once(q, worker, node, held, nheld, lease_ms, t);
    if (rc != RQ_TAKE_NONE || timeout_ms <= 0)
        return rc;
    /* Wait for work: BLMOVE parks the task in our in-flight list, then the
     * take script leases it.  Should this process die in between, the task
     * sits in the list of a worker that stops heartbeating: the reaper
     * hands it back. */
    char src[300], dst[300], secs[24];
    snprintf(src, sizeof src, "%sq:%s", q->prefix, node);
    snprintf(dst, sizeof dst, "%sinflight:%s", q->prefix, worker);
    snprintf(secs, sizeof secs, "%.3f", timeout_ms / 1000.0);
    const char *argv[6] = {"BLMOVE", src, dst, "LEFT", "RIGHT", secs};
    if (q->c)
        redisSetTimeout(q->c, tv_ms(timeout_ms + q->o.op_timeout_ms));
    redisReply *r = command(q, 6, argv, NULL, &rc);
    if (q->c)
        redisSetTimeout(q->c, tv_ms(q->o.op_timeout_ms));
    if (!r)
        return rc;
    bool moved = r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    if (!moved)
        return RQ_TAKE_NONE;
    return take_once(q, worker, node, held, nheld, lease_ms, t);
}

int rq_complete(struct rq *q, const char *worker, int64_t task_id, int attempt, bool ok, int rc_)
{
    int rc = check_ids(q, NULL, worker);
    if (rc)
        return rc;
    char id[24], a[16], code[16];
    snprintf(id, sizeof id, "%lld", (long long)task_id);
    snprintf(a, sizeof a, "%d", attempt);
    snprintf(code, sizeof code, "%d", rc_);
    const char *args[5] = {worker, id, a, ok ? "done" : "failed", code};
    redisReply *r = eval(q, S_COMPLETE, 5, args, NULL, &rc);
    if (!r)
        return rc;
    if (!is_array(r, 1))
        return bad_reply(q, r, "complete");
    const char *st = rstr(r->element[0]);
    int out = !strcmp(st, "ok")           ? RQ_DONE_OK
              : !strcmp(st, "dup")        ? RQ_DONE_DUP
              : !strcmp(st, "superseded") ? RQ_DONE_SUPERSEDED
                                          : RQ_DONE_GONE;
    freeReplyObject(r);
    return out;
}

int rq_leave(struct rq *q, const char *worker)
{
    int rc = check_ids(q, NULL, worker);
    if (rc)
        return rc;
    const char *args[1] = {worker};
    redisReply *r = eval(q, S_LEAVE, 1, args, NULL, &rc);
    if (!r)
        return rc;
    int64_t n;
    if (!rint_(r, &n))
        return bad_reply(q, r, "leave");
    freeReplyObject(r);
    return (int)n;
}

/* ---- clocks, counters, checks ---- */

static double wall_ms_precise(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int rq_clock_offset(struct rq *q, int samples, double *offset_ms, double *rtt_ms)
{
    double best_rtt = -1, best_off = 0;
    const char *argv[1] = {"TIME"};
    for (int i = 0; i < (samples < 1 ? 1 : samples); i++) {
        double t0 = wall_ms_precise();
        int rc;
        redisReply *r = command(q, 1, argv, NULL, &rc);
        double t1 = wall_ms_precise();
        if (!r)
            return rc;
        int64_t s, us;
        if (!is_array(r, 2) || !rint_(r->element[0], &s) || !rint_(r->element[1], &us))
            return bad_reply(q, r, "TIME");
        freeReplyObject(r);
        double server = (double)s * 1000.0 + (double)us / 1000.0;
        double rtt = t1 - t0;
        if (best_rtt < 0 || rtt < best_rtt) {
            best_rtt = rtt;
            best_off = server - (t0 + t1) / 2;
        }
    }
    *offset_ms = best_off;
    if (rtt_ms)
        *rtt_ms = best_rtt;
    return 0;
}

int rq_counts(struct rq *q, struct rq_counts *c)
{
    memset(c, 0, sizeof *c);
    int rc;
    redisReply *r = eval(q, S_COUNTS, 0, NULL, NULL, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY)
        return bad_reply(q, r, "counts");
    static const char *names[] = {"enqueued", "placed", "done", "failed", "dead", "rejected",
                                  "requeued", "superseded", "pending", "queued", "running"};
    int64_t *fields[] = {&c->enqueued, &c->placed, &c->done, &c->failed, &c->dead,
                         &c->rejected, &c->requeued, &c->superseded, &c->pending,
                         &c->queued, &c->running};
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        for (size_t k = 0; k < ARRAY_LEN(names); k++)
            if (!strcmp(rstr(r->element[i]), names[k]))
                rint_(r->element[i + 1], fields[k]);
    freeReplyObject(r);
    return 0;
}

long rq_results(struct rq *q, char ***lines)
{
    *lines = NULL;
    char key[300];
    snprintf(key, sizeof key, "%sresults", q->prefix);
    const char *argv[4] = {"LRANGE", key, "0", "-1"};
    int rc;
    redisReply *r = command(q, 4, argv, NULL, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY)
        return bad_reply(q, r, "LRANGE");
    char **out = xcalloc(r->elements ? r->elements : 1, sizeof *out);
    for (size_t i = 0; i < r->elements; i++)
        out[i] = xstrdup(rstr(r->element[i]));
    long n = (long)r->elements;
    freeReplyObject(r);
    *lines = out;
    return n;
}

int rq_audit(struct rq *q, char *msg, size_t len)
{
    int rc;
    redisReply *r = eval(q, S_AUDIT, 0, NULL, NULL, &rc);
    if (!r)
        return rc;
    if (!is_array(r, 1))
        return bad_reply(q, r, "audit");
    int out = strcmp(rstr(r->element[0]), "ok") != 0;
    snprintf(msg, len, "%s", out && r->elements > 1 ? rstr(r->element[1]) : "consistent");
    freeReplyObject(r);
    return out;
}

struct redisReply *rq_raw(struct rq *q, int argc, const char **argv, const size_t *lens,
                          int *rc)
{
    return command(q, argc, argv, lens, rc);
}

long rq_purge(struct rq *q)
{
    char match[300], cursor[32] = "0";
    snprintf(match, sizeof match, "%s*", q->prefix); /* run ids hold no glob characters */
    long deleted = 0;
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
        int rc;
        redisReply *r = command(q, 6, argv, NULL, &rc);
        if (!r)
            return rc;
        if (!is_array(r, 2) || !is_array(r->element[1], 0))
            return bad_reply(q, r, "SCAN");
        snprintf(cursor, sizeof cursor, "%s", rstr(r->element[0]));
        redisReply *keys = r->element[1];
        if (keys->elements) {
            const char **del = xmalloc((keys->elements + 1) * sizeof *del);
            del[0] = "UNLINK";
            for (size_t i = 0; i < keys->elements; i++)
                del[i + 1] = rstr(keys->element[i]);
            redisReply *d = command(q, (int)keys->elements + 1, del, NULL, &rc);
            free(del);
            int64_t n = 0;
            if (d && rint_(d, &n))
                deleted += (long)n;
            if (d)
                freeReplyObject(d);
            else {
                freeReplyObject(r);
                return rc;
            }
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    q->id_next = q->id_end = 0;
    return deleted;
}
