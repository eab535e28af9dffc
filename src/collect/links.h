/* links.h -- measuring the network between nodes (`tracekit links`).
 *
 * Every node runs a small TCP server (links_serve); a node measures each
 * peer with links_measure: TCP connect time, the round trip of a small echo
 * (N samples each, p50/p99) and the throughput of a short bulk transfer.
 * Results go to logs/RUN_ID/links.json (an array; see docs/formats.md).
 *
 * Protocol (one byte chooses the mode after connect):
 *   'H'  the server answers its node id and a newline, then closes
 *   'E'  echo: every byte read is written back, until EOF
 *   'S'  sink: the server reads until EOF, then answers "<bytes>\n"
 * A connection that sends nothing and closes is a connect-time sample. */
#ifndef TK_LINKS_H
#define TK_LINKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINKS_PORT 7420
#define LINKS_IFACE_MAX 32

struct link_peer {
    char host[256];
    int port;
};

/* "HOST[:PORT],..." (IPv6 literals as [ADDR]:PORT).  Returns the count (>0)
 * and a malloc'd array in *out, or -1 with a message in err. */
int links_parse_peers(const char *list, int default_port, struct link_peer **out, char *err,
                      size_t errlen);
/* "HOST:PORT" or "HOST" (port 0 = keep default_port) into one peer.  0 or -1. */
int links_parse_hostport(const char *s, int default_port, struct link_peer *out);
/* A byte count: "1048576", "512K", "16M", "1G" (also KiB/MiB/GiB; powers of
 * 1024).  false when not a whole positive count. */
bool links_parse_size(const char *s, uint64_t *out);

struct link_result {
    char src[160], dst[160], dst_addr[300];
    double rtt_p50, rtt_p99, connect_p50, bw_mbps;
    int64_t ts_ms;
    int samples;
    char iface[LINKS_IFACE_MAX];   /* interface the route to the peer leaves by; "" if unknown */
};

json_t *links_entry_json(const struct link_result *r);
/* Is e a usable links.json entry (src, dst strings; rtt_ms_p50, ts_ms numbers)? */
bool links_entry_valid(const json_t *e);
/* Add fresh entries to old (an array, or NULL), replacing any with the same
 * src and dst.  Returns a new array; old and fresh are left as they are. */
json_t *links_merge(const json_t *old, const json_t *fresh);

/* ---- I/O ---- */

struct links_serve_opts {
    const char *listen;       /* "HOST:PORT", port 0 = any */
    const char *node_id;
    int max_conns;            /* served at once, more wait in the backlog; capped below
                                 the open files limit (a warning says so) */
    double idle_timeout_s;    /* a client silent this long (its first byte too): closed */
};

/* Serve until SIGTERM/SIGINT, one thread per connection.  Prints
 * "listening on ADDR:PORT" once bound.  Clients are hostile: at most
 * max_conns at once, each closed when idle; out of descriptors it stops
 * accepting for a second (no busy loop), warning once per 10 s. */
int links_serve(const struct links_serve_opts *o, char *err, size_t errlen);

struct links_opts {
    int samples;            /* connect and echo samples */
    size_t bytes;           /* bulk transfer size cap */
    double bulk_s;          /* bulk transfer time cap */
    double timeout_s;       /* per operation */
};

int links_measure(const struct link_peer *p, const struct links_opts *o, struct link_result *r,
                  char *err, size_t errlen);

/* `tracekit links --peers`: what to measure, and where the results go. */
struct links_job {
    const struct link_peer *peers;
    int npeers;
    const char *src;        /* this node: the entries' src */
    const char *run_dir;    /* logs/RUN_ID (created): results merged into its links.json */
    struct links_opts opts;
};

/* Measure every peer (each result or failure logged), then merge the new
 * entries into RUN_DIR/links.json.  Returns the new entries (a JSON array;
 * the caller decrefs it); *failed is set when a peer could not be measured
 * or links.json could not be written. */
json_t *links_run(const struct links_job *j, bool *failed);

/* links.json's text for a JSON value: indented, keys in order (malloc'd). */
char *links_dump(const json_t *a);

/* CTS: copy RUN/links.json into CTS_DIR/links.json keeping the valid entries
 * and adding each linked interface's mean tx/rx rates from the run's
 * host_metrics.jsonl (entries whose src is node, or all when node is NULL).
 * good and bad count entries; returns 0 (also when there
 * is no links.json: *good = *bad = 0, nothing written), -1 on a write error,
 * 1 when links.json exists but is not a JSON array (*bad = 1). */
int links_to_cts(const char *run_dir, const char *cts_dir, const char *node, size_t *good,
                 size_t *bad);

#endif
