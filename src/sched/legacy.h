/* legacy.h -- the original Tracekit's queue keys in our Redis database.
 * The original's dispatcher, scheduler and worker use bare keys (q:pending,
 * q:NODE, cap:NODE, ...); ours live under "tk:RUN_ID:" (docs/redis.md), so
 * a task the original's dispatcher queued is never picked up here.  The
 * scheduler and the worker call this once at start-up to say so. */
#ifndef TK_LEGACY_H
#define TK_LEGACY_H

#include <stdbool.h>

#include "common/redis.h"
#include "common/redisurl.h"

/* Whether c's database holds the original's keys (q:pending, or a cap:*
 * key without our prefix); when it does, one warning naming the keys found
 * and the migration step.  false when none (or Redis could not say). */
bool legacy_keys_warn(struct redis_conn *c);
/* The same on a connection of its own, opened and closed here: a server
 * that cannot be reached says nothing (the caller's own connection
 * reports it). */
bool legacy_keys_check(const struct redis_url *u, int connect_timeout_ms);

#endif
