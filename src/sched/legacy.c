/* legacy.c -- see legacy.h. */
#include "sched/legacy.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

/* The first key matching pattern (SCAN, at most rounds rounds), into key. */
static bool scan_one(struct redis_conn *c, const char *pattern, int rounds, char *key, size_t keylen)
{
    char cursor[32] = "0";
    for (int i = 0; i < rounds; i++) {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"};
        int rc;
        struct redisReply *r = redis_command(c, 6, argv, NULL, &rc);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            if (r)
                freeReplyObject(r);
            return false;
        }
        bool found = r->element[1]->elements > 0 && r->element[1]->element[0]->type == REDIS_REPLY_STRING;
        if (found)
            snprintf(key, keylen, "%s", r->element[1]->element[0]->str);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        freeReplyObject(r);
        if (found)
            return true;
        if (strcmp(cursor, "0") == 0)
            return false;
    }
    return false;
}

bool legacy_keys_warn(struct redis_conn *c)
{
    const char *argv[] = {"EXISTS", "q:pending"};
    int rc;
    struct redisReply *r = redis_command(c, 2, argv, NULL, &rc);
    bool pending = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
    if (r)
        freeReplyObject(r);
    char cap[256] = "";
    bool has_cap = scan_one(c, "cap:*", 64, cap, sizeof cap);
    if (!pending && !has_cap)
        return false;
    char found[320];
    snprintf(found, sizeof found, "%s%s%s", pending ? "q:pending" : "", pending && has_cap ? ", " : "",
             has_cap ? cap : "");
    log_warn("%s holds the original Tracekit's queue keys (%s): tracekit does not read them (its keys are "
             "tk:RUN_ID:...), so tasks the original's dispatcher queued will not run here. To migrate: stop "
             "the original's dispatcher, scheduler and workers, delete their keys (q:*, slots:available, "
             "cap:*, cap_total:*, run_count:*, phys:*, ratio:*) and submit with `tracekit dispatch` "
             "(docs/guide.md, \"Coming from the original\")",
             redis_describe(c), found);
    return true;
}

bool legacy_keys_check(const struct redis_url *u, int connect_timeout_ms)
{
    struct redis_conn_opts o = {.connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : 2000,
                                .retry_ms = -1};
    struct redis_conn *c;
    char err[256];
    if (redis_open(u, &o, &c, err, sizeof err) != 0)
        return false;
    bool found = legacy_keys_warn(c);
    redis_close(c);
    return found;
}
