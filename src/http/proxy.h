/* proxy.h -- the HTTP/1.1 reverse proxy behind `tracekit proxy`.
 *
 * One thread, one epoll set, non-blocking sockets, edge-triggered: each
 * socket is added once and the connection remembers whether it may read or
 * write, so the hot path makes no epoll_ctl calls.  Bodies stream through
 * (http.h only finds where they end); upstream connections are kept in a
 * pool and reused.  One record per request goes to events.APP.jsonl,
 * batched: one write(2) per flush (every 200 ms), fsync at exit. */
#ifndef TK_PROXY_H
#define TK_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct proxy_opts {
    struct sockaddr_storage listen, upstream;
    socklen_t listen_len, upstream_len;
    const char *upstream_text;    /* HOST:PORT, for messages */
    const char *run_dir;          /* logs/RUN_ID: records go to events.APP.jsonl */
    const char *pid_dir;          /* sentinel folder for the upstream PID; NULL: RUN_DIR/pids
                                     (both folders are created) */
    const char *node, *stage, *app;
    pid_t upstream_pid;           /* 0: find the local listener */
    int max_conns;                /* capped below the open files limit (a warning says so) */
    int timeout_ms;               /* upstream silent this long: 504 */
    int header_timeout_ms;        /* a request head not complete this long: 408, closed */
    int idle_timeout_ms;          /* a keep-alive client silent this long between requests: closed */
    bool log_query;               /* keep the query string and ;params in `path` */
};

/* Run until SIGINT/SIGTERM.  Returns the exit code. */
int proxy_run(const struct proxy_opts *o);

/* HOST:PORT or [V6]:PORT into a socket address (numeric or resolvable
 * host).  Returns 0, or -1 with a message in err. */
int proxy_parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len, char *err,
                     size_t errlen);

#endif
