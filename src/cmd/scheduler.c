/* scheduler.c -- `tracekit scheduler`: the central scheduler.  Options
 * and the loop only: placement rounds are placer.c, host choice policy.c,
 * the Redis side rq.c (docs/redis.md, "Running the scheduler"). */
#include "cmd/commands.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "sched/placer.h"
#include "sched/policy.h"
#include "common/redisurl.h"
#include "sched/rq.h"
#include "common/run.h"
#include "common/util.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tracekit scheduler --run-id ID [--redis URL] [OPTIONS]\n"
            "\n"
            "The central scheduler: takes the tasks of the run's queue (q:pending) in FIFO\n"
            "order, chooses a node for each with a policy and places it there atomically\n"
            "(free units, memory and the worker's --parallel checked and taken in one step).\n"
            "Reaps workers that stopped heartbeating: their tasks go back to the queue.\n"
            "Appends one line per placement to LOGS/RUN_ID/placements.jsonl.  Several\n"
            "schedulers may run at once.  SIGTERM/SIGINT: finish the round and exit 0.\n"
            "\n"
            "Run:\n"
            "  --run-id ID              the run (Redis key prefix tk:ID:); default $RUN_ID,\n"
            "                           else run_id.env; required\n"
            "  --redis URL              redis://[USER][:PASSWORD@]HOST[:PORT][/DB] or unix://PATH\n"
            "                           (default $TRACEKIT_REDIS_URL, else redis://127.0.0.1:6379/0)\n"
            "  --redis-password-file F  the password, first line of F (keeps it out of ps)\n"
            "  --logs DIR               logs folder (default: logs)\n"
            "  --stage NAME             accepted like the other commands; not used here\n"
            "Policy (one of three forms; default: first fit, the smallest node id):\n"
            "  --weigher W              the original's: '' (first fit), instances (tasks on the\n"
            "                           node) or vcpu (units in use)\n"
            "  --weigher-order min|max  prefer the smallest or largest value (default min;\n"
            "                           with max, ties go to the largest node id)\n"
            "  --policy NAME            an OpenDC policy:");
    int col = 41;
    for (const char *const *n = policy_names(); *n; n++) {
        int w = (int)strlen(*n) + 2;
        if (col + w > 80) {
            fprintf(out, "%s\n                          ", n == policy_names() ? "" : ",");
            col = 26;
        } else if (n != policy_names()) {
            fputc(',', out);
        }
        fprintf(out, " %s", *n);
        col += w;
    }
    fprintf(out,
            "\n"
            "  --filters LIST           a custom FilterScheduler: filters like\n"
            "                           compute,vcpu:1.5,ram,instanceCount:8,vcpuCapacity\n"
            "  --weighers LIST          ... and weighers like ram:-1,instanceCount,vcpu:2\n"
            "                           (multiplier after ':', default 1)\n"
            "  --subset-size N          pick at random among the N best hosts (default 1)\n"
            "  --cpu-allocation-ratio R overcommit of the vcpu filter and weigher\n"
            "  --ram-allocation-ratio R overcommit of the ram filter\n"
            "  --seed N                 seed of the subset picks (default 0)\n"
            "Loop:\n"
            "  --batch N                placements per Redis round trip (default 64)\n"
            "  --reap-interval MS       look for dead workers every MS ms (default 200)\n"
            "  --max-deliveries N       a task whose worker died N times goes to the\n"
            "                           dead-letter list (default 3)\n"
            "  --reject-unplaceable     reject (ledger status \"rejected\") a task bigger than\n"
            "                           every registered node or than its pinned node, instead\n"
            "                           of letting it block the queue\n"
            "The original's options, accepted and ignored with a warning:\n"
            "  --pending KEY            the queue is tk:RUN_ID:q:pending (choose it with --run-id)\n"
            "  --slots KEY              there is no slots list: each worker's --parallel is\n"
            "                           enforced by the placement script (B9, B10)\n"
            "  --scan-slots N           likewise\n"
            "  --scan-pending N         placement is strict FIFO (the original ignored it too)\n"
            "\n"
            "  -v, --verbose            debug lines, one per placement\n"
            "  -q, --quiet              only warnings and errors\n"
            "  -h, --help               this text\n");
}

/* ---- the loop ---- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

struct sched {
    struct jsonl_writer out;
    bool out_open;
    uint64_t write_errors_logged;
    const char *policy;     /* name in the records */
    char *who;              /* HOST:PID */
    struct jbuf line;
    int64_t last_flush_ns;
};

static void on_place(void *arg, const struct rq_head *t, const char *node, int64_t cap_left)
{
    struct sched *s = arg;
    struct jbuf *b = &s->line;
    jb_reset(b);
    jb_obj_open(b, NULL);
    jb_int(b, "ts_ms", now_wall_ms());
    jb_int(b, "task_id", t->id);
    jb_str(b, "node", node);
    jb_int(b, "cap_left", cap_left);
    jb_str(b, "policy", s->policy);
    jb_str(b, "scheduler", s->who);
    jb_obj_close(b);
    if (s->out_open)
        jsonl_add(&s->out, b);
    log_debug("dispatch -> node=%s task=%lld cpu_units=%lld cap_left=%lld%s%s", node,
              (long long)t->id, (long long)(t->cpu_units < 1 ? 1 : t->cpu_units),
              (long long)cap_left, t->pin ? " pinned=" : "", t->pin ? t->pin : "");
}

static void flush_placements(struct sched *s, bool sync)
{
    if (!s->out_open)
        return;
    int rc = sync ? jsonl_sync(&s->out) : jsonl_flush(&s->out);
    s->last_flush_ns = now_mono_ns();
    if (rc < 0 && s->out.write_errors > s->write_errors_logged) {
        /* once per new error, not per round: the disk may stay full */
        log_error("cannot write %s: %s (%llu write error(s) so far; lines are kept and "
                  "written again)", s->out.path, strerror(errno),
                  (unsigned long long)s->out.write_errors);
        s->write_errors_logged = s->out.write_errors;
    }
}

/* Sleep up to ms, returning early on SIGTERM/SIGINT. */
static void nap(int ms)
{
    while (ms > 0 && !stop_flag) {
        int step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

struct loop_opts {
    int reap_ms;
    int max_deliveries;
    bool reject_unplaceable;
};

struct loop_stats {
    int64_t workers, requeued, dead, rejected;
};

/* After an rq error: true to go on (transient), false to give up. */
struct outage {
    bool on;
    int64_t since_ns, last_log_ns;
    int backoff_ms;
};

static bool rq_failed(struct rq *q, int rc, struct outage *o)
{
    if (rc == RQ_EAUTH) {
        log_error("%s", rq_error(q));
        return false;
    }
    int64_t now = now_mono_ns();
    if (!o->on) {
        log_warn("Redis: %s; retrying with back-off", rq_error(q));
        o->on = true;
        o->since_ns = o->last_log_ns = now;
        o->backoff_ms = 500;
    } else if (now - o->last_log_ns > 60 * 1000000000LL) {
        log_warn("Redis still failing after %.0f s: %s", (double)(now - o->since_ns) / 1e9,
                 rq_error(q));
        o->last_log_ns = now;
    }
    nap(o->backoff_ms);
    o->backoff_ms = o->backoff_ms * 2 > 10000 ? 10000 : o->backoff_ms * 2;
    return true;
}

static void rq_ok(struct outage *o)
{
    if (o->on)
        log_info("Redis answers again after %.1f s", (double)(now_mono_ns() - o->since_ns) / 1e9);
    o->on = false;
}

/* The head blocks the queue: reject it, or say so once. */
static int handle_blocked(struct rq *q, const struct placer *pl, const struct loop_opts *lo,
                          struct loop_stats *ls, int64_t *told_id, enum placer_block *told_why)
{
    if (pl->blocked_forever && lo->reject_unplaceable) {
        char reason[400];
        snprintf(reason, sizeof reason, "unplaceable: %s", pl->blocked_reason);
        int rc = rq_reject(q, pl->blocked_id, reason);
        if (rc == 1) {
            log_warn("rejected task %lld: %s", (long long)pl->blocked_id, pl->blocked_reason);
            ls->rejected++;
        }
        return rc; /* 0: no longer the head (another scheduler moved it) */
    }
    if (pl->blocked_id == *told_id && pl->blocked_why == *told_why)
        return 0;
    *told_id = pl->blocked_id;
    *told_why = pl->blocked_why;
    switch (pl->blocked_why) {
    case PB_NEVER:
        log_warn("task %lld can never be placed (%s); it blocks the queue until a bigger node "
                 "registers (or run with --reject-unplaceable)",
                 (long long)pl->blocked_id, pl->blocked_reason);
        break;
    case PB_PIN_UNKNOWN:
    case PB_PIN_DOWN:
        log_warn("task %lld waits: %s; the queue waits behind it", (long long)pl->blocked_id,
                 pl->blocked_reason);
        break;
    default:
        log_debug("task %lld waits: %s", (long long)pl->blocked_id, pl->blocked_reason);
        break;
    }
    return 0;
}

static int run_loop(struct rq *q, struct placer *pl, struct sched *s, const struct loop_opts *lo,
                    struct loop_stats *ls)
{
    struct outage o = {0};
    int64_t next_reap = 0, told_id = 0;
    enum placer_block told_why = PB_NONE;
    while (!stop_flag) {
        int n = placer_round(pl);
        if (n < 0) {
            if (!rq_failed(q, n, &o))
                return -1;
            continue;
        }
        rq_ok(&o);
        if (pl->blocked_id) {
            int rc = handle_blocked(q, pl, lo, ls, &told_id, &told_why);
            if (rc < 0 && !rq_failed(q, rc, &o))
                return -1;
            if (rc == 1)
                n = 1; /* the queue moved: no wait, place what is behind at once */
        } else {
            told_id = 0;
            told_why = PB_NONE;
        }
        int64_t now = now_mono_ns();
        if (now >= next_reap) {
            struct rq_reap_stats rs;
            int rc = rq_reap(q, lo->max_deliveries, &rs);
            if (rc < 0) {
                if (!rq_failed(q, rc, &o))
                    return -1;
                continue;
            }
            if (rs.workers || rs.requeued || rs.dead)
                log_info("reaped %lld dead worker(s): %lld task(s) requeued, %lld sent to the "
                         "dead-letter list", (long long)rs.workers, (long long)rs.requeued,
                         (long long)rs.dead);
            ls->workers += rs.workers;
            ls->requeued += rs.requeued;
            ls->dead += rs.dead;
            next_reap = now + (int64_t)lo->reap_ms * 1000000;
        }
        if (n > 0) {
            if (now - s->last_flush_ns > 200 * 1000000LL)
                flush_placements(s, false);
            continue; /* maybe more to place */
        }
        /* idle or blocked: flush, then wait for news (a wake-up from an
         * enqueue, completion, registration or reap) until the next reap */
        flush_placements(s, false);
        int64_t wait = (next_reap - now_mono_ns()) / 1000000;
        wait = wait < 1 ? 1 : wait > 1000 ? 1000 : wait;
        int rc = rq_wait(q, (int)wait);
        if (rc < 0 && !rq_failed(q, rc, &o))
            return -1;
    }
    return 0;
}

/* ---- options ---- */

enum {
    OPT_REDIS = 256, OPT_PWFILE, OPT_RUN_ID, OPT_LOGS, OPT_STAGE, OPT_WEIGHER, OPT_ORDER,
    OPT_POLICY, OPT_FILTERS, OPT_WEIGHERS, OPT_SUBSET, OPT_CPU_RATIO, OPT_RAM_RATIO, OPT_SEED,
    OPT_BATCH, OPT_REAP, OPT_MAXDEL, OPT_REJECT, OPT_PENDING, OPT_SLOTS, OPT_SCAN_SLOTS,
    OPT_SCAN_PENDING,
};

int cmd_scheduler(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, OPT_REDIS},
        {"redis-password-file", required_argument, NULL, OPT_PWFILE},
        {"run-id", required_argument, NULL, OPT_RUN_ID},
        {"logs", required_argument, NULL, OPT_LOGS},
        {"stage", required_argument, NULL, OPT_STAGE},
        {"weigher", required_argument, NULL, OPT_WEIGHER},
        {"weigher-order", required_argument, NULL, OPT_ORDER},
        {"policy", required_argument, NULL, OPT_POLICY},
        {"filters", required_argument, NULL, OPT_FILTERS},
        {"weighers", required_argument, NULL, OPT_WEIGHERS},
        {"subset-size", required_argument, NULL, OPT_SUBSET},
        {"cpu-allocation-ratio", required_argument, NULL, OPT_CPU_RATIO},
        {"ram-allocation-ratio", required_argument, NULL, OPT_RAM_RATIO},
        {"seed", required_argument, NULL, OPT_SEED},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"reap-interval", required_argument, NULL, OPT_REAP},
        {"max-deliveries", required_argument, NULL, OPT_MAXDEL},
        {"reject-unplaceable", no_argument, NULL, OPT_REJECT},
        {"pending", required_argument, NULL, OPT_PENDING},
        {"slots", required_argument, NULL, OPT_SLOTS},
        {"scan-slots", required_argument, NULL, OPT_SCAN_SLOTS},
        {"scan-pending", required_argument, NULL, OPT_SCAN_PENDING},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *redis = NULL, *pw_file = NULL, *run_id = NULL, *logs = NULL, *stage = NULL;
    const char *weigher = NULL, *order = NULL, *policy_name = NULL, *filters = NULL,
               *weighers = NULL;
    int64_t subset = 0, seed = 0, batch = 64, reap_ms = 200, maxdel = 3;
    double cpu_ratio = 0, ram_ratio = 0;
    struct loop_opts lo = {0};
    char err[512];

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":vqh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_REDIS: redis = optarg; break;
        case OPT_PWFILE: pw_file = optarg; break;
        case OPT_RUN_ID: run_id = optarg; break;
        case OPT_LOGS: logs = optarg; break;
        case OPT_STAGE: stage = optarg; break;
        case OPT_WEIGHER: weigher = optarg; break;
        case OPT_ORDER: order = optarg; break;
        case OPT_POLICY: policy_name = optarg; break;
        case OPT_FILTERS: filters = optarg; break;
        case OPT_WEIGHERS: weighers = optarg; break;
        case OPT_SUBSET:
            if (!cli_int("--subset-size", optarg, 1, 1000000, &subset))
                return TK_EXIT_USAGE;
            break;
        case OPT_CPU_RATIO:
            if (!cli_double("--cpu-allocation-ratio", optarg, 0.01, 1000, &cpu_ratio))
                return TK_EXIT_USAGE;
            break;
        case OPT_RAM_RATIO:
            if (!cli_double("--ram-allocation-ratio", optarg, 0.01, 1000, &ram_ratio))
                return TK_EXIT_USAGE;
            break;
        case OPT_SEED:
            if (!cli_int("--seed", optarg, INT64_MIN, INT64_MAX, &seed))
                return TK_EXIT_USAGE;
            break;
        case OPT_BATCH:
            if (!cli_int("--batch", optarg, 1, 1024, &batch))
                return TK_EXIT_USAGE;
            break;
        case OPT_REAP:
            if (!parse_i64(optarg, 10, 600000, &reap_ms)) {
                cli_error("invalid --reap-interval '%s': expected milliseconds from 10 to 600000",
                          optarg);
                return TK_EXIT_USAGE;
            }
            break;
        case OPT_MAXDEL:
            if (!cli_int("--max-deliveries", optarg, 1, 1000, &maxdel))
                return TK_EXIT_USAGE;
            break;
        case OPT_REJECT: lo.reject_unplaceable = true; break;
        case OPT_PENDING:
            log_warn("--pending %s is ignored: every key of a run is under tk:RUN_ID: (the "
                     "queue is tk:RUN_ID:q:pending), so choose the queue with --run-id", optarg);
            break;
        case OPT_SLOTS:
        case OPT_SCAN_SLOTS:
            log_warn("--%s %s is ignored: there is no slots list any more; each worker's "
                     "--parallel is enforced by the placement script itself (B9, B10)",
                     c == OPT_SLOTS ? "slots" : "scan-slots", optarg);
            break;
        case OPT_SCAN_PENDING:
            log_warn("--scan-pending %s is ignored (the original did not use it either): "
                     "placement is strict FIFO", optarg);
            break;
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'q': log_set_level(LOG_WARN); break;
        case 'h': usage(stdout); return TK_EXIT_OK;
        case ':':
            cli_error("option '%s' needs a value (see 'tracekit scheduler --help')",
                      argv[optind - 1]);
            return TK_EXIT_USAGE;
        default:
            cli_error("unknown option '%s' (see 'tracekit scheduler --help')", argv[optind - 1]);
            return TK_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("unexpected argument '%s' (see 'tracekit scheduler --help')", argv[optind]);
        return TK_EXIT_USAGE;
    }

    struct policy_opts po = {weigher, order, policy_name, filters, weighers, subset, cpu_ratio,
                             ram_ratio};
    struct policy pol;
    if (policy_from_opts(&po, &pol, err, sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    lo.reap_ms = (int)reap_ms;
    lo.max_deliveries = (int)maxdel;

    struct run_ctx ctx;
    if (run_ctx_resolve(&ctx, run_id, "scheduler", stage, logs, RUNID_REQUIRED, err,
                        sizeof err) < 0) {
        cli_error("%s", err);
        return TK_EXIT_USAGE;
    }
    struct redis_url u;
    if (redisurl_load(redis, pw_file, &u, err, sizeof err) < 0) {
        cli_error("%s", err);
        run_ctx_free(&ctx);
        return TK_EXIT_USAGE;
    }
    char *desc = redisurl_describe(&u);
    int rc = TK_EXIT_FAIL;
    struct sched s = {0};
    jb_init(&s.line);
    struct rq_opts ro = {.run_id = ctx.run_id, .retry_ms = 30000};
    struct rq *q = rq_open(&u, &ro, err, sizeof err);
    redisurl_free(&u);
    if (!q) {
        log_error("%s", err);
        goto out;
    }
    if (mkdir_p(ctx.run_dir, 0755) < 0) {
        log_error("cannot create %s: %s", ctx.run_dir, strerror(errno));
        goto out;
    }
    char *path = path_join(ctx.run_dir, "placements.jsonl");
    if (jsonl_open(&s.out, path, 1000) < 0) {
        log_error("cannot open %s: %s", path, strerror(errno));
        free(path);
        goto out;
    }
    free(path);
    s.out_open = true;
    char *host = host_name();
    s.who = xasprintf("%s:%d", host, (int)getpid());
    free(host);
    s.policy = pol.name;
    s.last_flush_ns = now_mono_ns();

    char describe[512];
    policy_describe(&pol, describe, sizeof describe);
    log_info("redis=%s run=%s policy=%s", desc, ctx.run_id, describe);

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waits end early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct placer pl;
    placer_init(&pl, q, &pol, seed, (size_t)batch);
    pl.on_place = on_place;
    pl.cb_arg = &s;
    struct loop_stats ls = {0};
    int lr = run_loop(q, &pl, &s, &lo, &ls);
    flush_placements(&s, true);
    log_info("stopping: placed %llu, conflicts %llu, rounds %llu, reaped %lld worker(s) "
             "(%lld task(s) requeued, %lld dead-lettered), rejected %lld",
             (unsigned long long)pl.st.placed, (unsigned long long)pl.st.conflicts,
             (unsigned long long)pl.st.rounds, (long long)ls.workers, (long long)ls.requeued,
             (long long)ls.dead, (long long)ls.rejected);
    placer_free(&pl);
    rc = lr == 0 ? TK_EXIT_OK : TK_EXIT_FAIL;
out:
    if (s.out_open && jsonl_close(&s.out) < 0 && rc == TK_EXIT_OK) {
        log_error("cannot write placements.jsonl: %s", strerror(errno));
        rc = TK_EXIT_FAIL;
    }
    jb_free(&s.line);
    free(s.who);
    rq_close(q);
    free(desc);
    run_ctx_free(&ctx);
    return rc;
}
