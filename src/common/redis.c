/* redis.c -- one connection to a Redis server: connect, authenticate,
 * classify errors, retry with back-off, scripts by SHA, reply readers; see
 * redis.h. */
#include "common/redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/run.h"
#include "common/util.h"

struct script {
    char *body;
    char sha[41];
};

struct redis_conn {
    redisContext *ctx;        /* NULL while disconnected */
    struct redis_url url;
    char *desc;               /* redacted URL for messages */
    struct redis_conn_opts o;
    char err[512];
    unsigned reconnects;
    unsigned jitter;
    int block_ms;             /* extra reply timeout of the command in flight */
    struct script *scripts;
    size_t nscripts, scripts_cap;
};

const char *redis_error(const struct redis_conn *c) { return c->err; }
const char *redis_describe(const struct redis_conn *c) { return c->desc; }
unsigned redis_reconnects(const struct redis_conn *c) { return c->reconnects; }

void redis_set_error(struct redis_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
}

static struct timeval tv_ms(int ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

int redis_backoff_ms(int min_ms, int max_ms, int k, unsigned *seed)
{
    int64_t ms = min_ms;
    for (int i = 0; i < k && ms < max_ms; i++)
        ms *= 2;
    if (ms > max_ms)
        ms = max_ms;
    int64_t j = ms / 4;
    if (seed && j > 0)
        ms += (int64_t)(rand_r(seed) % (unsigned)(2 * j + 1)) - j;
    return (int)(ms < 1 ? 1 : ms);
}

char *redis_run_prefix(const char *run_id)
{
    return run_id && run_id_valid(run_id) ? xasprintf("tk:%s:", run_id) : NULL;
}

/* ---- connecting ---- */

/* Map hiredis' connect/IO error text (strerror or gai_strerror) to a class
 * and a hint. */
static int classify_io(const redisContext *ctx, const char **what)
{
    const char *e = ctx->errstr;
    if (ctx->err == REDIS_ERR_OTHER && !strstr(e, "Connection")) {
        *what = "cannot resolve the host name";
        return REDIS_EUNREACH;
    }
    if (!strcmp(e, strerror(ECONNREFUSED))) {
        *what = "connection refused (is redis-server running and listening there?)";
        return REDIS_ECONN;
    }
    if (!strcmp(e, strerror(ETIMEDOUT)) || !strcmp(e, strerror(EAGAIN)) ||
        !strcmp(e, strerror(EINPROGRESS))) {
        *what = "no answer in time (host down, wrong address, or a firewall dropping packets?)";
        return REDIS_ETIMEOUT;
    }
    if (!strcmp(e, strerror(EHOSTUNREACH)) || !strcmp(e, strerror(ENETUNREACH))) {
        *what = "host or network unreachable";
        return REDIS_EUNREACH;
    }
    if (!strcmp(e, strerror(ENOENT))) {
        *what = "no socket at that path (is redis-server running with unixsocket set?)";
        return REDIS_ECONN;
    }
    if (!strcmp(e, strerror(EACCES))) {
        *what = "permission denied on the socket";
        return REDIS_ECONN;
    }
    *what = e;
    return REDIS_ECONN;
}

/* One command during the handshake; returns the reply or NULL (error set,
 * *code the class). */
static redisReply *hs_command(struct redis_conn *c, redisContext *ctx, int *code, int argc,
                              const char **argv)
{
    redisReply *r = redisCommandArgv(ctx, argc, argv, NULL);
    if (!r) {
        const char *what;
        *code = classify_io(ctx, &what);
        redis_set_error(c, "Redis at %s: %s", c->desc, what);
    }
    return r;
}

static bool is_auth_error(const char *s)
{
    return !strncmp(s, "WRONGPASS", 9) || strstr(s, "invalid password") ||
           strstr(s, "invalid username-password");
}

/* AUTH [user] password.  0 or a REDIS_E* code (error set). */
static int hs_auth(struct redis_conn *c, redisContext *ctx)
{
    const struct redis_url *u = &c->url;
    const char *argv[3] = {"AUTH", u->user ? u->user : u->password, u->password};
    int code = 0;
    redisReply *r = hs_command(c, ctx, &code, u->user ? 3 : 2, argv);
    if (!r)
        return code;
    if (r->type != REDIS_REPLY_ERROR) {
        code = 0;
    } else if (is_auth_error(r->str)) {
        redis_set_error(c, "Redis at %s: authentication failed: wrong %s", c->desc,
                        u->user ? "user name or password" : "password");
        code = REDIS_EAUTH;
    } else if (strstr(r->str, "without any password configured")) {
        log_warn("Redis at %s has no password set, but one was given: anyone who can reach it "
                 "can use it (set requirepass)", c->desc);
    } else {
        redis_set_error(c, "Redis at %s: AUTH failed: %s", c->desc, r->str);
        code = REDIS_EAUTH;
    }
    freeReplyObject(r);
    return code;
}

/* PING: a password required, the data set loading.  0 or a code. */
static int hs_ping(struct redis_conn *c, redisContext *ctx)
{
    const char *ping[1] = {"PING"};
    int code = 0;
    redisReply *r = hs_command(c, ctx, &code, 1, ping);
    if (!r)
        return code;
    if (r->type == REDIS_REPLY_ERROR) {
        if (!strncmp(r->str, "NOAUTH", 6)) {
            redis_set_error(c, "Redis at %s requires a password: give it in the URL "
                               "(redis://:PASSWORD@host) or with --redis-password-file",
                            c->desc);
            code = REDIS_EAUTH;
        } else if (!strncmp(r->str, "LOADING", 7)) {
            redis_set_error(c, "Redis at %s is loading its data set", c->desc);
            code = REDIS_ECONN; /* transient: a reconnect will try again */
        } else {
            redis_set_error(c, "Redis at %s: PING failed: %s", c->desc, r->str);
            code = REDIS_EPROTO;
        }
    }
    freeReplyObject(r);
    return code;
}

static int hs_select(struct redis_conn *c, redisContext *ctx)
{
    char db[16];
    snprintf(db, sizeof db, "%d", c->url.db);
    const char *argv[2] = {"SELECT", db};
    int code = 0;
    redisReply *r = hs_command(c, ctx, &code, 2, argv);
    if (!r)
        return code;
    if (r->type == REDIS_REPLY_ERROR) {
        redis_set_error(c, "Redis at %s: cannot select database %d: %s", c->desc, c->url.db,
                        r->str);
        code = REDIS_EPROTO;
    }
    freeReplyObject(r);
    return code;
}

/* Connect, authenticate, select the db.  0 or a REDIS_E* code. */
static int connect_once(struct redis_conn *c)
{
    struct timeval tv = tv_ms(c->o.connect_timeout_ms);
    redisContext *ctx = c->url.unix_socket
                            ? redisConnectUnixWithTimeout(c->url.path, tv)
                            : redisConnectWithTimeout(c->url.host, c->url.port, tv);
    if (!ctx) {
        redis_set_error(c, "Redis at %s: out of memory", c->desc);
        return REDIS_ECONN;
    }
    if (ctx->err) {
        const char *what;
        int code = classify_io(ctx, &what);
        redis_set_error(c, "cannot connect to Redis at %s: %s", c->desc, what);
        redisFree(ctx);
        return code;
    }
    /* The handshake uses the connect timeout: a listener that never
     * answers is "unreachable" quickly, not after the op timeout. */
    redisSetTimeout(ctx, tv);
    int code = c->url.password ? hs_auth(c, ctx) : 0;
    if (code == 0)
        code = hs_ping(c, ctx);
    if (code == 0 && c->url.db)
        code = hs_select(c, ctx);
    if (code != 0) {
        redisFree(ctx);
        return code;
    }
    redisSetTimeout(ctx, tv_ms(c->o.op_timeout_ms));
    c->ctx = ctx;
    return 0;
}

static void drop_connection(struct redis_conn *c)
{
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
}

/* After an I/O error: remember why and drop the connection; 1 (retry). */
static int io_failed(struct redis_conn *c)
{
    redis_set_error(c, "lost the connection to Redis at %s: %s", c->desc, c->ctx->errstr);
    drop_connection(c);
    return 1;
}

/* Reply errors that mean "try again in a moment". */
static bool transient_reply(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           (!strncmp(r->str, "LOADING", 7) || !strncmp(r->str, "BUSY ", 5) ||
            !strncmp(r->str, "TRYAGAIN", 8) || !strncmp(r->str, "MASTERDOWN", 10));
}

/* ---- retrying ---- */

/* send issues commands on c->ctx and collects replies: 0 done, 1
 * connection/transient problem (retry), < 0 final. */
typedef int (*send_fn)(struct redis_conn *c, void *arg);

/* Run send until it gets through: on a lost connection or a transient
 * error reply, reconnect with back-off for up to retry_ms.  Authentication
 * and protocol failures are final. */
static int with_retry(struct redis_conn *c, send_fn send, void *arg)
{
    int64_t start = now_mono_ns(), last_warn = 0;
    int attempt = 0;
    bool warned = false;
    for (;;) {
        int rc = 0;
        if (!c->ctx) {
            rc = connect_once(c);
            if (rc == 0) {
                c->reconnects++;
                if (warned)
                    log_info("reconnected to Redis at %s after %.1f s", c->desc,
                             (double)(now_mono_ns() - start) / 1e9);
            } else if (rc == REDIS_EAUTH || rc == REDIS_EPROTO) {
                return rc;
            }
        }
        if (c->ctx) {
            rc = send(c, arg);
            if (rc <= 0)
                return rc;
        }
        /* Connection lost, refused, or a transient reply: retry? */
        int64_t elapsed_ms = (now_mono_ns() - start) / 1000000;
        if (c->o.retry_ms < 0 || elapsed_ms >= c->o.retry_ms) {
            if (c->o.retry_ms >= 0) {
                char why[sizeof c->err];
                memcpy(why, c->err, sizeof why);
                redis_set_error(c, "%s (gave up after %.1f s)", why, (double)elapsed_ms / 1000);
            }
            return rc == 1 ? REDIS_ECONN : rc;
        }
        if (!warned || now_mono_ns() - last_warn > 10 * 1000000000LL) {
            log_warn("%s; retrying", c->err);
            warned = true;
            last_warn = now_mono_ns();
        }
        sleep_ms(redis_backoff_ms(c->o.backoff_min_ms, c->o.backoff_max_ms, attempt++,
                                  &c->jitter));
    }
}

/* ---- commands ---- */

static int load_script(struct redis_conn *c, size_t s)
{
    redisReply *r = redisCommand(c->ctx, "SCRIPT LOAD %s", c->scripts[s].body);
    if (!r)
        return io_failed(c);
    int rc = 0;
    if (r->type == REDIS_REPLY_STRING && r->len == 40) {
        memcpy(c->scripts[s].sha, r->str, 41);
    } else if (transient_reply(r)) {
        redis_set_error(c, "Redis at %s: %s", c->desc, r->str);
        rc = 1;
    } else {
        redis_set_error(c, "Redis at %s: SCRIPT LOAD failed: %s", c->desc,
                        r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        rc = REDIS_EPROTO;
    }
    freeReplyObject(r);
    return rc;
}

struct cmd_ctx {
    int argc;
    const char **argv;
    const size_t *lens;
    redisReply *reply;
    int script;  /* >= 0: argv[1] is that script's sha, reload on NOSCRIPT */
};

static bool is_noscript(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8);
}

static int send_one(struct redis_conn *c, void *arg)
{
    struct cmd_ctx *x = arg;
    for (int tries = 0; tries < 2; tries++) {
        if (x->script >= 0)
            x->argv[1] = c->scripts[x->script].sha;
        if (c->block_ms > 0)
            redisSetTimeout(c->ctx, tv_ms(c->o.op_timeout_ms + c->block_ms));
        redisReply *r = redisCommandArgv(c->ctx, x->argc, x->argv, x->lens);
        if (!r)
            return io_failed(c);
        if (c->block_ms > 0)
            redisSetTimeout(c->ctx, tv_ms(c->o.op_timeout_ms));
        if (x->script >= 0 && is_noscript(r)) {
            /* Redis restarted (scripts are not persisted): load and rerun;
             * NOSCRIPT means the script did not run. */
            freeReplyObject(r);
            int lr = load_script(c, (size_t)x->script);
            if (lr != 0)
                return lr;
            continue;
        }
        if (transient_reply(r)) {
            redis_set_error(c, "Redis at %s: %s", c->desc, r->str);
            freeReplyObject(r);
            return 1;
        }
        x->reply = r;
        return 0;
    }
    redis_set_error(c, "Redis at %s: script still missing after loading it", c->desc);
    return REDIS_EPROTO;
}

struct redisReply *redis_command(struct redis_conn *c, int argc, const char **argv,
                                 const size_t *lens, int *rc)
{
    struct cmd_ctx x = {argc, argv, lens, NULL, -1};
    *rc = with_retry(c, send_one, &x);
    return x.reply;
}

struct redisReply *redis_command_blocking(struct redis_conn *c, int block_ms, int argc,
                                          const char **argv, const size_t *lens, int *rc)
{
    c->block_ms = block_ms > 0 ? block_ms : 0;
    redisReply *r = redis_command(c, argc, argv, lens, rc);
    c->block_ms = 0;
    return r;
}

/* ---- scripts ---- */

static int send_load(struct redis_conn *c, void *arg)
{
    return load_script(c, *(size_t *)arg);
}

int redis_script_add(struct redis_conn *c, const char *body)
{
    ARRAY_GROW(c->scripts, c->nscripts + 1, c->scripts_cap, 16);
    size_t s = c->nscripts++;
    c->scripts[s] = (struct script){.body = xstrdup(body)};
    int rc = with_retry(c, send_load, &s);
    return rc < 0 ? rc : (int)s;
}

const char *redis_script_sha(const struct redis_conn *c, int script)
{
    if (script < 0 || (size_t)script >= c->nscripts)
        TK_BUG("no script %d", script);
    return c->scripts[script].sha;
}

/* arguments of one script call (rq's enqueue sends 128 tasks x 7) */
enum { EVAL_MAX_ARGV = 1024 };

/* argv/alen of EVALSHA sha 0 args... (argv[1] is set when sent). */
static int eval_argv(struct redis_conn *c, int script, int nargs, const char **args,
                     const size_t *lens, const char **argv, size_t *alen)
{
    (void)redis_script_sha(c, script);
    if (nargs < 0 || nargs + 3 > EVAL_MAX_ARGV) {
        redis_set_error(c, "Redis at %s: a script call with %d arguments (at most %d)", c->desc,
                        nargs, EVAL_MAX_ARGV - 3);
        return REDIS_EARG;
    }
    argv[0] = "EVALSHA";
    argv[1] = NULL;
    argv[2] = "0";
    alen[0] = 7;
    alen[1] = 40;
    alen[2] = 1;
    for (int i = 0; i < nargs; i++) {
        argv[3 + i] = args[i];
        alen[3 + i] = lens ? lens[i] : strlen(args[i]);
    }
    return 0;
}

struct redisReply *redis_eval(struct redis_conn *c, int script, int nargs, const char **args,
                              const size_t *lens, int *rc)
{
    const char *argv[EVAL_MAX_ARGV];
    size_t alen[EVAL_MAX_ARGV];
    *rc = eval_argv(c, script, nargs, args, lens, argv, alen);
    if (*rc)
        return NULL;
    struct cmd_ctx x = {nargs + 3, argv, alen, NULL, script};
    *rc = with_retry(c, send_one, &x);
    if (x.reply && x.reply->type == REDIS_REPLY_ERROR) {
        redis_set_error(c, "Redis at %s: script error: %s", c->desc, x.reply->str);
        freeReplyObject(x.reply);
        *rc = REDIS_ESCRIPT;
        return NULL;
    }
    return x.reply;
}

struct batch {
    int script;
    size_t n;
    int nargs;
    const char **args;      /* n * nargs */
    redisReply **replies;   /* n */
};

static void free_replies(redisReply **r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i])
            freeReplyObject(r[i]);
        r[i] = NULL;
    }
}

/* Append every call, then read every reply.  0, 1 (retry), or -1 with
 * NOSCRIPT seen (load and send again). */
static int batch_round(struct redis_conn *c, struct batch *b)
{
    const char *argv[EVAL_MAX_ARGV];
    size_t alen[EVAL_MAX_ARGV];
    for (size_t i = 0; i < b->n; i++) {
        const char **args = b->nargs ? b->args + i * (size_t)b->nargs : NULL;
        eval_argv(c, b->script, b->nargs, args, NULL, argv, alen);
        argv[1] = c->scripts[b->script].sha;
        if (redisAppendCommandArgv(c->ctx, 3 + b->nargs, argv, alen) != REDIS_OK)
            return io_failed(c);
    }
    bool noscript = false, transient = false;
    for (size_t i = 0; i < b->n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c->ctx, (void **)&r) != REDIS_OK || !r) {
            free_replies(b->replies, i);
            return io_failed(c);
        }
        noscript |= is_noscript(r);
        if (transient_reply(r)) {
            redis_set_error(c, "Redis at %s: %s", c->desc, r->str);
            transient = true;
        }
        b->replies[i] = r;
    }
    if (!noscript && !transient)
        return 0;
    free_replies(b->replies, b->n);
    return transient ? 1 : -1;
}

static int send_batch(struct redis_conn *c, void *arg)
{
    struct batch *b = arg;
    for (int tries = 0; tries < 2; tries++) {
        int rc = batch_round(c, b);
        if (rc >= 0)
            return rc;
        int lr = load_script(c, (size_t)b->script);
        if (lr != 0)
            return lr;
    }
    redis_set_error(c, "Redis at %s: script still missing after loading it", c->desc);
    return REDIS_EPROTO;
}

int redis_eval_many(struct redis_conn *c, int script, size_t n, int nargs, const char **args,
                    struct redisReply **replies)
{
    const char *argv[EVAL_MAX_ARGV];
    size_t alen[EVAL_MAX_ARGV];
    memset(replies, 0, n * sizeof *replies);
    if (n == 0)
        return 0;
    int rc = eval_argv(c, script, nargs, args, NULL, argv, alen);
    if (rc)
        return rc;
    struct batch b = {script, n, nargs, args, (redisReply **)replies};
    rc = with_retry(c, send_batch, &b);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (b.replies[i]->type == REDIS_REPLY_ERROR) {
            redis_set_error(c, "Redis at %s: script error: %s", c->desc, b.replies[i]->str);
            rc = REDIS_ESCRIPT;
        }
    }
    if (rc != 0)
        free_replies(b.replies, n);
    return rc;
}

/* ---- open / close ---- */

static int check_server(struct redis_conn *c)
{
    int rc;
    const char *argv[2] = {"INFO", "server"};
    redisReply *r = redis_command(c, 2, argv, NULL, &rc);
    if (!r)
        return rc;
    const char *v = r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
    int major = 0, minor = 0;
    if (v)
        sscanf(v + 14, "%d.%d", &major, &minor);
    freeReplyObject(r);
    if (major < 6 || (major == 6 && minor < 2)) {
        redis_set_error(c, "Redis at %s is version %d.%d; Tracekit needs 6.2 or newer "
                           "(LMOVE/BLMOVE)", c->desc, major, minor);
        return REDIS_EPROTO;
    }
    return 0;
}

static void copy_url(struct redis_url *d, const struct redis_url *u)
{
    d->unix_socket = u->unix_socket;
    d->host = u->host ? xstrdup(u->host) : NULL;
    d->path = u->path ? xstrdup(u->path) : NULL;
    d->port = u->port;
    d->db = u->db;
    d->user = u->user ? xstrdup(u->user) : NULL;
    d->password = u->password ? xstrdup(u->password) : NULL;
}

int redis_open(const struct redis_url *u, const struct redis_conn_opts *o, struct redis_conn **out,
               char *err, size_t errlen)
{
    *out = NULL;
    if (u->user && !u->password) {
        /* the "user" may be a password typed in the wrong place: not shown */
        snprintf(err, errlen, "the Redis URL names a user but gives no password");
        return REDIS_EAUTH;
    }
    struct redis_conn *c = xcalloc(1, sizeof *c);
    c->o = o ? *o : (struct redis_conn_opts){0};
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 2000;
    if (c->o.op_timeout_ms <= 0)
        c->o.op_timeout_ms = 5000;
    if (c->o.retry_ms == 0)
        c->o.retry_ms = 30000;
    if (c->o.backoff_min_ms <= 0)
        c->o.backoff_min_ms = 50;
    if (c->o.backoff_max_ms < c->o.backoff_min_ms)
        c->o.backoff_max_ms = c->o.backoff_min_ms > 2000 ? c->o.backoff_min_ms : 2000;
    copy_url(&c->url, u);
    c->desc = redisurl_describe(u);
    c->jitter = (unsigned)getpid() ^ (unsigned)now_mono_ns();
    int rc = connect_once(c);
    if (rc == 0)
        rc = check_server(c);
    if (rc != 0) {
        snprintf(err, errlen, "%s", c->err);
        redis_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void redis_close(struct redis_conn *c)
{
    if (!c)
        return;
    drop_connection(c);
    redisurl_free(&c->url);
    free(c->desc);
    for (size_t i = 0; i < c->nscripts; i++)
        free(c->scripts[i].body);
    free(c->scripts);
    free(c);
}

/* ---- replies ---- */

bool redis_reply_int(const struct redisReply *r, int64_t *v)
{
    if (!r)
        return false;
    if (r->type == REDIS_REPLY_INTEGER) {
        *v = r->integer;
        return true;
    }
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        return r->str && strlen(r->str) == r->len && parse_i64(r->str, INT64_MIN, INT64_MAX, v);
    return false;
}

const char *redis_reply_str(const struct redisReply *r)
{
    if (r && r->str && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS))
        return r->str;
    return "";
}

bool redis_reply_array(const struct redisReply *r, size_t min)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= min &&
           (r->elements == 0 || r->element);
}

const struct redisReply *redis_reply_elem(const struct redisReply *r, size_t i)
{
    return redis_reply_array(r, 0) && i < r->elements ? r->element[i] : NULL;
}

bool redis_reply_count(const struct redisReply *r, size_t i, size_t per, size_t *n)
{
    int64_t v;
    if (!redis_reply_int(redis_reply_elem(r, i), &v) || v < 0)
        return false;
    size_t room = r->elements - i - 1; /* element i exists */
    if ((uint64_t)v > room / (per ? per : 1))
        return false;
    *n = (size_t)v;
    return true;
}

int redis_bad_reply(struct redis_conn *c, struct redisReply *r, const char *what)
{
    redis_set_error(c, "Redis at %s: unexpected reply to %s", c->desc, what);
    if (r)
        freeReplyObject(r);
    return REDIS_EPROTO;
}

/* ---- outages ---- */

enum redis_outage_note redis_outage_step(struct redis_outage *o, int64_t now_ns, int *wait_ms)
{
    enum redis_outage_note note = REDIS_OUTAGE_QUIET;
    if (!o->on) {
        *o = (struct redis_outage){.min_ms = o->min_ms, .max_ms = o->max_ms, .on = true,
                                   .since_ns = now_ns, .last_log_ns = now_ns};
        note = REDIS_OUTAGE_BEGIN;
    } else if (now_ns - o->last_log_ns > REDIS_OUTAGE_REMIND_S * 1000000000LL) {
        o->last_log_ns = now_ns;
        note = REDIS_OUTAGE_REMIND;
    }
    *wait_ms = redis_backoff_ms(o->min_ms ? o->min_ms : REDIS_OUTAGE_MIN_MS,
                                o->max_ms ? o->max_ms : REDIS_OUTAGE_MAX_MS, o->failures, NULL);
    if (o->failures < 64)
        o->failures++;
    return note;
}

double redis_outage_end(struct redis_outage *o, int64_t now_ns)
{
    if (!o->on)
        return -1;
    o->on = false;
    return (double)(now_ns - o->since_ns) / 1e9;
}

bool redis_outage_failed(struct redis_outage *o, int rc, const char *why,
                         const volatile sig_atomic_t *stop)
{
    if (rc == REDIS_EAUTH) {
        log_error("%s", why);
        return false;
    }
    int wait_ms;
    int64_t now = now_mono_ns();
    switch (redis_outage_step(o, now, &wait_ms)) {
    case REDIS_OUTAGE_BEGIN:
        log_warn("Redis: %s; retrying with back-off", why);
        break;
    case REDIS_OUTAGE_REMIND:
        log_warn("Redis still failing after %.0f s: %s", (double)(now - o->since_ns) / 1e9, why);
        break;
    case REDIS_OUTAGE_QUIET:
        break;
    }
    sleep_ms_or_stop(wait_ms, stop);
    return true;
}

void redis_outage_ok(struct redis_outage *o)
{
    double s = redis_outage_end(o, now_mono_ns());
    if (s >= 0)
        log_info("Redis answers again after %.1f s", s);
}
