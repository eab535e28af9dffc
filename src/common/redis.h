/* redis.h -- one connection to a Redis server, under the queue protocol
 * (sched/rq.h) and trace shipping (trace/ship.h): connect from a struct
 * redis_url, AUTH [user] password, SELECT, timeouts, error classes,
 * reconnect-and-retry with exponential back-off, Lua scripts called by SHA
 * (loaded again after NOSCRIPT), bounds-checked reply readers, and no
 * password in any message.  One struct redis_conn per thread.
 *
 * Every call that talks to the server reconnects with back-off and resends
 * after a lost connection or a transient error reply (LOADING, BUSY,
 * TRYAGAIN, MASTERDOWN) for up to retry_ms, so what it sends must be safe
 * to repeat (SET, GET, UNLINK, an idempotent script).  Authentication and
 * protocol errors are final.  Replies are hiredis' redisReply: free them
 * with freeReplyObject.  Their contents are hostile input: read them with
 * the redis_reply_* helpers, which check types and bounds.
 *
 * Times are milliseconds. */
#ifndef TK_REDIS_H
#define TK_REDIS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redisurl.h"

/* Error classes: the (negative) return codes of every call; redis_error()
 * has the message. */
enum redis_err {
    REDIS_ECONN = -1,     /* refused, reset, lost (after the retry budget) */
    REDIS_ETIMEOUT = -2,  /* no answer in time */
    REDIS_EAUTH = -3,     /* wrong user/password, or a password is required */
    REDIS_EUNREACH = -4,  /* cannot resolve or reach the host */
    REDIS_EPROTO = -5,    /* unexpected reply, old server, unknown database */
    REDIS_EARG = -6,      /* bad argument from the caller */
    REDIS_ESCRIPT = -7,   /* a script answered with an error */
};

struct redis_conn_opts {
    int connect_timeout_ms;  /* per attempt; default 2000 */
    int op_timeout_ms;       /* per command; default 5000 */
    int retry_ms;            /* how long a call keeps reconnecting after the
                                connection is lost; 0 = default 30000,
                                < 0 = do not retry */
    int backoff_min_ms;      /* default 50 */
    int backoff_max_ms;      /* default 2000 */
};

struct redis_conn;
struct redisReply;

/* Connect, AUTH [user] password, PING, SELECT db, and check the server
 * (>= 6.2).  One attempt: a refused connection, a wrong password or an
 * unreachable host fails at once.  Returns 0 with *out, or a REDIS_E* code
 * with the message in err (never the password). */
int redis_open(const struct redis_url *u, const struct redis_conn_opts *o, struct redis_conn **out,
               char *err, size_t errlen);
void redis_close(struct redis_conn *c);
/* The message of the last failure (until the next call). */
const char *redis_error(const struct redis_conn *c);
/* The server's URL for messages, password as "***" (owned by c). */
const char *redis_describe(const struct redis_conn *c);
/* Reconnections done so far (for logs and tests). */
unsigned redis_reconnects(const struct redis_conn *c);
/* Set the message redis_error() returns.  Build it from redis_describe()
 * (never from the URL or the password): the text is not scrubbed. */
void redis_set_error(struct redis_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One command, with reconnect and retry.  lens may be NULL (C strings).
 * Returns the reply (an error reply as is) or NULL with *rc < 0. */
struct redisReply *redis_command(struct redis_conn *c, int argc, const char **argv,
                                 const size_t *lens, int *rc);
/* The same for a command that blocks up to block_ms on the server (BLPOP,
 * BLMOVE): the reply timeout is op_timeout_ms + block_ms. */
struct redisReply *redis_command_blocking(struct redis_conn *c, int block_ms, int argc,
                                          const char **argv, const size_t *lens, int *rc);

/* ---- Lua scripts ---- */

/* Register a script (body copied) and load it (SCRIPT LOAD, with retry).
 * Returns its handle (>= 0) for redis_eval, or < 0. */
int redis_script_add(struct redis_conn *c, const char *body);
/* The loaded script's SHA-1 (40 hex digits; owned by c). */
const char *redis_script_sha(const struct redis_conn *c, int script);
/* EVALSHA script 0 args... (no keys: scripts build their key names), loaded
 * again and rerun after NOSCRIPT (a restarted or flushed server; NOSCRIPT
 * means it did not run).  lens may be NULL.  An error reply is
 * REDIS_ESCRIPT.  Returns the reply or NULL with *rc < 0. */
struct redisReply *redis_eval(struct redis_conn *c, int script, int nargs, const char **args,
                              const size_t *lens, int *rc);
/* n calls of one script in one pipelined round trip; args holds n sets of
 * nargs C strings.  After a reconnect every call is sent again: the script
 * must be idempotent.  On success replies[0..n) are set (free each), none
 * is an error reply; on failure none is kept.  0 or < 0. */
int redis_eval_many(struct redis_conn *c, int script, size_t n, int nargs, const char **args,
                    struct redisReply **replies);

/* ---- replies (hostile input: every reader checks type and bounds) ---- */

/* An integer reply, or a string/status one that is exactly an integer. */
bool redis_reply_int(const struct redisReply *r, int64_t *v);
/* A string or status reply's text, else "" (points into r). */
const char *redis_reply_str(const struct redisReply *r);
/* An array of at least min elements. */
bool redis_reply_array(const struct redisReply *r, size_t min);
/* Element i of an array reply, or NULL (not an array, out of range). */
const struct redisReply *redis_reply_elem(const struct redisReply *r, size_t i);
/* Element i of array r is a count n of records of per (>= 1) elements
 * that follow it and fit in r: 0 <= n, i + 1 + n * per <= elements. */
bool redis_reply_count(const struct redisReply *r, size_t i, size_t per, size_t *n);
/* Set "Redis at URL: unexpected reply to WHAT", free r (may be NULL),
 * return REDIS_EPROTO. */
int redis_bad_reply(struct redis_conn *c, struct redisReply *r, const char *what);

/* ---- helpers ---- */

/* Back-off step k (0, 1, ...): min_ms * 2^k capped at max_ms, +-25% jitter
 * from *seed (NULL: none). */
int redis_backoff_ms(int min_ms, int max_ms, int k, unsigned *seed);
/* The key prefix of a run, "tk:RUN_ID:" (malloc'd), or NULL if the id is
 * not valid (run_id_valid: safe in keys and glob patterns). */
char *redis_run_prefix(const char *run_id);

/* ---- riding out an outage ----
 * For a loop that must go on while Redis is away (the scheduler): warn
 * once when calls start failing, remind every 60 s, wait 500 ms doubling
 * to 10 s between tries, and say when it answers again.  Zero it to start. */
struct redis_outage {
    int min_ms, max_ms;    /* the back-off's range (0: REDIS_OUTAGE_MIN_MS, _MAX_MS) */
    bool on;
    int64_t since_ns, last_log_ns;
    int failures;          /* in this outage */
};

enum redis_outage_note {
    REDIS_OUTAGE_QUIET,    /* nothing to log */
    REDIS_OUTAGE_BEGIN,    /* the first failure */
    REDIS_OUTAGE_REMIND,   /* still failing, 60 s after the last line */
};
#define REDIS_OUTAGE_MIN_MS 500
#define REDIS_OUTAGE_MAX_MS 10000
#define REDIS_OUTAGE_REMIND_S 60

/* Pure: a failure at now_ns.  *wait_ms gets how long to wait before the
 * next try; returns what to log. */
enum redis_outage_note redis_outage_step(struct redis_outage *o, int64_t now_ns, int *wait_ms);
/* Pure: a success at now_ns.  The outage's length in seconds if one ended,
 * else < 0. */
double redis_outage_end(struct redis_outage *o, int64_t now_ns);
/* A call failed with rc (a REDIS_E* code), why being its message: an
 * authentication error is final (logged, false); otherwise log as
 * redis_outage_step says, wait (ending early once *stop is set), true. */
bool redis_outage_failed(struct redis_outage *o, int rc, const char *why,
                         const volatile sig_atomic_t *stop);
/* A call succeeded: log the end of an outage, if any. */
void redis_outage_ok(struct redis_outage *o);

#endif
