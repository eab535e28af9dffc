/* loadgen.h -- the HTTP load generator behind `tracekit load`.
 *
 * Open loop: request i is due at t0 + i/rate whatever the responses do, and
 * its latency is measured from that due time, so a stalled server shows up
 * as latency instead of as a lower send rate (no coordinated omission).
 * Requests wait for a free connection (one request in flight on each of C
 * keep-alive connections); that wait is part of their latency.
 * Closed loop (rate 0): each connection sends its next request as soon as
 * the previous response is in, for maximum throughput. */
#ifndef TK_LOADGEN_H
#define TK_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct loadgen_url {
    char host[256];        /* without brackets */
    char port[8];
    char hostport[300];    /* the Host header */
    char path[2048];       /* starts with '/' */
};

/* http://HOST[:PORT][/PATH]; IPv6 as [::1].  0, or -1 with a message. */
int loadgen_parse_url(const char *url, struct loadgen_url *u, char *err, size_t errlen);

struct loadgen_opts {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    const struct loadgen_url *url;
    const char *method;
    double rate;           /* requests/s; 0 = closed loop */
    double duration_s;
    int connections;
    size_t body_bytes;     /* request body (POST/PUT), Content-Length */
    double drain_s;        /* after duration: wait this long for responses in flight */
};

struct loadgen_result {
    uint64_t scheduled;    /* due within the duration (open loop) */
    uint64_t sent, completed;
    uint64_t errors;       /* connection errors, malformed responses */
    uint64_t unanswered;   /* in flight when the drain time ran out */
    uint64_t unsent;       /* due but never sent (no free connection in time) */
    uint64_t status[6];    /* by class: [1] 1xx ... [5] 5xx, [0] other */
    uint64_t bytes_in;
    double elapsed_s;      /* first due time to last completion */
    double *lat_ms;        /* completed requests' latencies, sorted */
    size_t nlat;
};

/* Parse url into u and resolve its host into o's address (o->url = u).
 * 0, or -1 with a message in err. */
int loadgen_target(const char *url, struct loadgen_url *u, struct loadgen_opts *o, char *err,
                   size_t errlen);

int loadgen_run(const struct loadgen_opts *o, struct loadgen_result *r, char *err, size_t errlen);
void loadgen_result_free(struct loadgen_result *r);

/* What `tracekit load` prints: counts, the achieved rate and latency
 * p50/p90/p99/p99.9/max (nearest rank), as text or one JSON object. */
void loadgen_report(const struct loadgen_opts *o, const char *url,
                    const struct loadgen_result *r, bool json, FILE *out);

#endif
