/* rq_lua.h -- the Lua scripts behind rq.c (included by rq.c only).
 *
 * Every script gets the key prefix "tk:RUN_ID:" as ARGV[1] and builds its
 * key names from it (single Redis instance; not Redis Cluster compatible).
 * Each script is one atomic step of the task state machine (docs/redis.md)
 * and is safe to run twice: a retry after a lost reply finds the work done
 * and says so instead of doing it again.
 *
 * Task hash P..task:ID fields: body, cpu, mem, trace, ts_enqueue, state
 * (pending|placed|running|done|failed|dead|rejected), node, worker,
 * attempt (fencing token, +1 per delivery), deliveries (crash count for the
 * dead-letter rule), lease (deadline, server ms), ts_place, ts_start, rc,
 * pin (the node the task may only be placed on; absent = any).  The pin is
 * set once at enqueue and never changed: requeue, reap and leave keep it. */
#ifndef TK_RQ_LUA_H
#define TK_RQ_LUA_H

/* Helpers shared by all scripts (prepended to each). */
static const char LUA_PRELUDE[] =
    "local P = ARGV[1]\n"
    "local function now_ms()\n"
    "  local t = redis.call('TIME')\n"
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    /* integers as text without an exponent (Lua numbers are doubles) */
    "local function int(v) return string.format('%d', v) end\n"
    "local function num(v) return tonumber(v) or 0 end\n"
    /* wake a scheduler waiting in rq_wait(): a list, so a wake-up sent
     * while nobody waits is not lost; at most 8 are kept, so a burst of
     * changes wakes several schedulers, and costs at most 8 idle rounds */
    "local function wake()\n"
    "  redis.call('RPUSH', P..'wake', 1)\n"
    "  redis.call('LTRIM', P..'wake', 0, 7)\n"
    "end\n"
    /* every state change other than a placement: new version, no batch of
     * placements can chain onto it (see LUA_PLACE), and a wake-up */
    "local function bump()\n"
    "  redis.call('DEL', P..'lastbatch')\n"
    "  wake()\n"
    "  return redis.call('INCR', P..'ver')\n"
    "end\n"
    /* one ledger line per finished task */
    "local function record(id, status, rc, reason, err, log, exec)\n"
    "  local f = redis.call('HMGET', P..'task:'..id, 'trace', 'attempt', 'node', 'worker',\n"
    "                       'ts_enqueue', 'ts_place', 'ts_start')\n"
    "  local s = '{\"task_id\": '..id..', \"trace_id\": '..cjson.encode(f[1] or '')..\n"
    "    ', \"attempt\": '..(f[2] or '0')..', \"status\": \"'..status..'\", \"rc\": '..\n"
    "    (rc and int(rc) or 'null')..', \"node\": '..cjson.encode(f[3] or '')..\n"
    "    ', \"worker\": '..cjson.encode(f[4] or '')..', \"ts_enqueue\": '..(f[5] or 'null')..\n"
    "    ', \"ts_place\": '..(f[6] or 'null')..', \"ts_start\": '..(f[7] or 'null')..\n"
    "    ', \"ts_end\": '..int(now_ms())\n"
    "  if exec and exec ~= '' then s = s..', \"exec_id\": '..cjson.encode(exec) end\n"
    "  if reason then s = s..', \"reason\": '..cjson.encode(reason) end\n"
    "  if err and err ~= '' then s = s..', \"error\": '..cjson.encode(err) end\n"
    "  if log and log ~= '' then s = s..', \"log\": '..cjson.encode(log) end\n"
    "  return s..'}'\n"
    "end\n"
    /* a node's state changed (units, memory, run_count, its worker, up):
     * schedulers read only the nodes touched since their last snapshot
     * (LUA_STATE, issue 21) */
    "local function touch(node)\n"
    "  redis.call('ZADD', P..'nodechg', redis.call('INCR', P..'nseq'), node)\n"
    "end\n"
    /* give a committed task's units, memory and run_count back to its node */
    "local function release(id)\n"
    "  local f = redis.call('HMGET', P..'task:'..id, 'node', 'cpu', 'mem')\n"
    "  local node = f[1]\n"
    "  if not node or node == '' then return end\n"
    "  touch(node)\n"
    "  redis.call('INCRBY', P..'cap:'..node, f[2])\n"
    "  if num(f[3]) > 0 and num(redis.call('GET', P..'mem_total:'..node)) > 0 then\n"
    "    redis.call('INCRBY', P..'mem:'..node, f[3])\n"
    "  end\n"
    "  if redis.call('DECR', P..'run_count:'..node) < 0 then\n"
    "    redis.call('SET', P..'run_count:'..node, 0)\n"
    "  end\n"
    "end\n"
    /* put a committed task back at the head of q:pending.  mode 'crash': a
     * delivery was lost (dead-letter after maxdel); 'return': the worker
     * gave it back (not counted); 'unsent': never delivered.  The caller
     * removes it from the list it was in.  Returns true if dead-lettered. */
    "local function requeue(id, mode, maxdel)\n"
    "  release(id)\n"
    "  local tk = P..'task:'..id\n"
    "  if mode == 'crash' and maxdel > 0 and num(redis.call('HGET', tk, 'deliveries')) >= maxdel then\n"
    "    redis.call('HSET', tk, 'state', 'dead', 'lease', 0)\n"
    "    redis.call('RPUSH', P..'dead', id)\n"
    "    redis.call('RPUSH', P..'results', record(id, 'dead', nil, 'delivered '..maxdel..' times'))\n"
    "    redis.call('HINCRBY', P..'stats', 'dead', 1)\n"
    "    return true\n"
    "  end\n"
    "  if mode == 'return' then redis.call('HINCRBY', tk, 'deliveries', -1) end\n"
    "  redis.call('HSET', tk, 'state', 'pending', 'node', '', 'worker', '', 'lease', 0)\n"
    "  redis.call('LPUSH', P..'q:pending', id)\n"
    "  redis.call('HINCRBY', P..'stats', 'requeued', 1)\n"
    "  return false\n"
    "end\n"
    /* remove a worker: its in-flight tasks and, if it owns its node, the
     * tasks queued on the node go back to q:pending (oldest at the head). */
    "local function reap_worker(W, mode, maxdel)\n"
    "  local node = redis.call('HGET', P..'workers', W)\n"
    "  local n, dead = 0, 0\n"
    "  if node and redis.call('GET', P..'worker:'..node) == W then\n"
    "    local q = redis.call('LRANGE', P..'q:'..node, 0, -1)\n"
    "    for i = #q, 1, -1 do requeue(q[i], 'unsent', 0); n = n + 1 end\n"
    "    redis.call('DEL', P..'q:'..node, P..'worker:'..node)\n"
    "    touch(node)\n"
    "  end\n"
    "  local inflight = P..'inflight:'..W\n"
    "  local ids = redis.call('LRANGE', inflight, 0, -1)\n"
    "  for i = #ids, 1, -1 do\n"
    "    local f = redis.call('HMGET', P..'task:'..ids[i], 'state', 'worker')\n"
    "    if f[1] == 'running' and f[2] == W then\n"
    "      if requeue(ids[i], mode, maxdel) then dead = dead + 1 else n = n + 1 end\n"
    "    elseif f[1] == 'placed' then\n"
    "      requeue(ids[i], 'unsent', 0); n = n + 1\n"
    "    end\n"
    "  end\n"
    "  redis.call('DEL', inflight, P..'alive:'..W)\n"
    "  redis.call('HDEL', P..'workers', W)\n"
    "  bump()\n"
    "  return n, dead\n"
    "end\n"
    /* first delivery of a task that sits in W's in-flight list */
    "local function lease(id, W, lease_ms)\n"
    "  local tk = P..'task:'..id\n"
    "  local now = now_ms()\n"
    "  local a = redis.call('HINCRBY', tk, 'attempt', 1)\n"
    "  local d = redis.call('HINCRBY', tk, 'deliveries', 1)\n"
    "  redis.call('HSET', tk, 'state', 'running', 'worker', W, 'lease', int(now + lease_ms),\n"
    "             'ts_start', int(now))\n"
    "  local f = redis.call('HMGET', tk, 'body', 'cpu', 'mem')\n"
    "  return {'ok', id, a, d, f[1], f[2], f[3]}\n"
    "end\n";

/* ARGV: P, id, body, cpu, mem, trace, ts_enqueue, pin ('' = none).
 * An empty ts_enqueue is stamped here, with the Redis server's clock at
 * the enqueue itself (issue 21: no invented stamps): the body then ends
 * just before the stamp's digits, and the script completes it.
 * Returns the task's ts_enqueue (also on a retry: the stored one). */
static const char LUA_ENQUEUE[] =
    "local tk = P..'task:'..ARGV[2]\n"
    "if redis.call('EXISTS', tk) == 1 then return redis.call('HGET', tk, 'ts_enqueue') end\n"
    "local ts, body = ARGV[7], ARGV[3]\n"
    "if ts == '' then ts = int(now_ms()); body = body..ts..'}' end\n"
    "redis.call('HSET', tk, 'body', body, 'cpu', ARGV[4], 'mem', ARGV[5], 'trace', ARGV[6],\n"
    "           'ts_enqueue', ts, 'state', 'pending', 'attempt', 0, 'deliveries', 0)\n"
    "if ARGV[8] and ARGV[8] ~= '' then redis.call('HSET', tk, 'pin', ARGV[8]) end\n"
    /* enqueued again after Redis lost it (rq_enqueue_again): the task
     * counter, which may have gone back too, must not hand its id out */
    "if num(redis.call('GET', P..'seq')) < tonumber(ARGV[2]) then\n"
    "  redis.call('SET', P..'seq', ARGV[2])\n"
    "end\n"
    "redis.call('RPUSH', P..'q:pending', ARGV[2])\n"
    "redis.call('HINCRBY', P..'stats', 'enqueued', 1)\n"
    "wake()\n"
    "return ts\n";

/* ARGV: P, id, node, expected version ('' = any), batch token, chain.
 * The token is unique per rq_place_many call.  With a version given, the
 * first placement of a batch needs the state to be at that version; the
 * i-th needs version + i *and* the last state change to be this batch's own
 * previous placement (lastbatch == token): then the state is exactly the
 * one the decisions were made on, even with other schedulers around.
 * A task pinned to a node is refused ('pinned') anywhere else.
 * Returns {status, version[, free units]}. */
static const char LUA_PLACE[] =
    "local id, node, token = ARGV[2], ARGV[3], ARGV[5]\n"
    "local tk = P..'task:'..id\n"
    "local ver = num(redis.call('GET', P..'ver'))\n"
    "local f = redis.call('HMGET', tk, 'state', 'node', 'cpu', 'mem', 'placed_by', 'pin')\n"
    "if not f[1] then return {'gone', ver} end\n"
    "if f[1] ~= 'pending' then\n"
    /* a retry of this very call after a lost reply */
    "  if f[2] == node and f[5] == token and (f[1] == 'placed' or f[1] == 'running') then\n"
    "    return {'already', ver}\n"
    "  end\n"
    "  return {'stale', ver}\n"
    "end\n"
    "if redis.call('LINDEX', P..'q:pending', 0) ~= id then return {'stale', ver} end\n"
    "if ARGV[4] ~= '' then\n"
    "  if tonumber(ARGV[4]) ~= ver then return {'version', ver} end\n"
    "  if ARGV[6] == '1' and redis.call('GET', P..'lastbatch') ~= token then\n"
    "    return {'version', ver}\n"
    "  end\n"
    "end\n"
    "if f[6] and f[6] ~= '' and f[6] ~= node then return {'pinned', ver} end\n"
    "if redis.call('SISMEMBER', P..'nodes', node) == 0 then return {'unknown', ver} end\n"
    "local w = redis.call('GET', P..'worker:'..node)\n"
    "if not w or redis.call('EXISTS', P..'alive:'..w) == 0 then return {'down', ver} end\n"
    "local need = num(f[3])\n"
    "local cap = num(redis.call('GET', P..'cap:'..node))\n"
    "if cap < need then return {'nocap', ver, cap} end\n"
    "local par = num(redis.call('GET', P..'parallel:'..node))\n"
    "if par > 0 and num(redis.call('GET', P..'run_count:'..node)) >= par then\n"
    "  return {'busy', ver, cap}\n"
    "end\n"
    "local mem = num(f[4])\n"
    "if mem > 0 and num(redis.call('GET', P..'mem_total:'..node)) > 0 then\n"
    "  if num(redis.call('GET', P..'mem:'..node)) < mem then return {'nomem', ver, cap} end\n"
    "  redis.call('DECRBY', P..'mem:'..node, mem)\n"
    "end\n"
    "redis.call('LPOP', P..'q:pending')\n"
    "redis.call('DECRBY', P..'cap:'..node, need)\n"
    "touch(node)\n"
    "redis.call('INCR', P..'run_count:'..node)\n"
    "redis.call('RPUSH', P..'q:'..node, id)\n"
    "redis.call('HSET', tk, 'state', 'placed', 'node', node, 'ts_place', int(now_ms()),\n"
    "           'placed_by', token)\n"
    "redis.call('HINCRBY', P..'stats', 'placed', 1)\n"
    "redis.call('SET', P..'lastbatch', token)\n"
    "return {'ok', redis.call('INCR', P..'ver'), cap - need}\n";

/* ARGV: P, worker, node, lease_ms, maxdel, held ids...
 * Returns {'ok', id, attempt, deliveries, body, cpu, mem} | {'none'} | {'fenced'}. */
static const char LUA_TAKE[] =
    "local W, node, lease_ms = ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
    "if redis.call('HGET', P..'workers', W) ~= node or redis.call('GET', P..'worker:'..node) ~= W then\n"
    "  reap_worker(W, 'crash', tonumber(ARGV[5]))\n"
    "  return {'fenced'}\n"
    "end\n"
    "local held = {}\n"
    "for i = 6, #ARGV do held[ARGV[i]] = true end\n"
    "local inflight = P..'inflight:'..W\n"
    /* a task already in our hands that the caller does not know about */
    "for _, id in ipairs(redis.call('LRANGE', inflight, 0, -1)) do\n"
    "  if not held[id] then\n"
    "    local tk = P..'task:'..id\n"
    "    local f = redis.call('HMGET', tk, 'state', 'node', 'worker')\n"
    "    if f[1] == 'placed' and f[2] == node then return lease(id, W, lease_ms) end\n"
    "    if f[1] == 'running' and f[3] == W then\n"
    "      redis.call('HSET', tk, 'lease', int(now_ms() + lease_ms))\n"
    "      local g = redis.call('HMGET', tk, 'attempt', 'deliveries', 'body', 'cpu', 'mem')\n"
    "      return {'ok', id, g[1], g[2], g[3], g[4], g[5]}\n"
    "    end\n"
    "    redis.call('LREM', inflight, 0, id)\n"
    "  end\n"
    "end\n"
    "local id = redis.call('LMOVE', P..'q:'..node, inflight, 'LEFT', 'RIGHT')\n"
    "if not id then return {'none'} end\n"
    "return lease(id, W, lease_ms)\n";

/* ARGV: P, worker, ttl_ms, lease_ms.  Returns {'ok', running} | {'fenced'}. */
static const char LUA_HEARTBEAT[] =
    "local W = ARGV[2]\n"
    "local node = redis.call('HGET', P..'workers', W)\n"
    "if not node or redis.call('GET', P..'worker:'..node) ~= W then return {'fenced'} end\n"
    /* back from the dead before a reap: the node is up again */
    "if redis.call('EXISTS', P..'alive:'..W) == 0 then touch(node) end\n"
    "redis.call('SET', P..'alive:'..W, node, 'PX', ARGV[3])\n"
    "local deadline = int(now_ms() + tonumber(ARGV[4]))\n"
    "local n = 0\n"
    "for _, id in ipairs(redis.call('LRANGE', P..'inflight:'..W, 0, -1)) do\n"
    "  local tk = P..'task:'..id\n"
    "  local f = redis.call('HMGET', tk, 'state', 'worker')\n"
    "  if f[1] == 'running' and f[2] == W then\n"
    "    redis.call('HSET', tk, 'lease', deadline); n = n + 1\n"
    "  end\n"
    "end\n"
    "return {'ok', n}\n";

/* ARGV: P, worker, id, attempt, 'done'|'failed', rc[, error, log, exec id].
 * Returns {'ok'} | {'dup'} | {'superseded', current attempt} | {'gone'}. */
static const char LUA_COMPLETE[] =
    "local W, id, attempt, status = ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "local tk = P..'task:'..id\n"
    "local f = redis.call('HMGET', tk, 'state', 'worker', 'attempt')\n"
    "if not f[1] then return {'gone'} end\n"
    "if f[2] == W and f[3] == attempt and (f[1] == 'done' or f[1] == 'failed') then\n"
    "  return {'dup'}\n"
    "end\n"
    "if f[1] ~= 'running' or f[2] ~= W or f[3] ~= attempt then\n"
    "  redis.call('HINCRBY', P..'stats', 'superseded', 1)\n"
    "  return {'superseded', f[3] or '0'}\n"
    "end\n"
    "release(id)\n"
    "redis.call('LREM', P..'inflight:'..W, 1, id)\n"
    "redis.call('HSET', tk, 'state', status, 'rc', ARGV[6], 'lease', 0)\n"
    "redis.call('RPUSH', P..'results', record(id, status, tonumber(ARGV[6]), nil, ARGV[7], "
    "ARGV[8], ARGV[9]))\n"
    "redis.call('HINCRBY', P..'stats', status, 1)\n"
    "bump()\n"
    "return {'ok'}\n";

/* ARGV: P, maxdel.  Returns {workers reaped, requeued, dead}. */
static const char LUA_REAP[] =
    "local maxdel = tonumber(ARGV[2])\n"
    "local ws = redis.call('HGETALL', P..'workers')\n"
    "local nw, nq, nd = 0, 0, 0\n"
    "local now = now_ms()\n"
    "for i = 1, #ws, 2 do\n"
    "  local W = ws[i]\n"
    "  if redis.call('EXISTS', P..'alive:'..W) == 0 then\n"
    "    local q, d = reap_worker(W, 'crash', maxdel)\n"
    "    nw = nw + 1; nq = nq + q; nd = nd + d\n"
    "  else\n"
    "    local inflight = P..'inflight:'..W\n"
    "    for _, id in ipairs(redis.call('LRANGE', inflight, 0, -1)) do\n"
    "      local f = redis.call('HMGET', P..'task:'..id, 'state', 'worker', 'lease')\n"
    "      if f[1] == 'running' and f[2] == W and num(f[3]) < now then\n"
    "        redis.call('LREM', inflight, 0, id)\n"
    "        if requeue(id, 'crash', maxdel) then nd = nd + 1 else nq = nq + 1 end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if nq + nd > 0 then bump() end\n"
    "return {nw, nq, nd}\n";

/* ARGV: P, node, worker, cap_total, phys, ratio, mem_total, parallel,
 * ttl_ms, maxdel.  Returns {'ok', cap} | {'busy', owner} | {'conflict', node}. */
static const char LUA_REGISTER[] =
    "local node, W = ARGV[2], ARGV[3]\n"
    "local prev = redis.call('HGET', P..'workers', W)\n"
    "if prev and prev ~= node then return {'conflict', prev} end\n"
    "local cur = redis.call('GET', P..'worker:'..node)\n"
    "if cur and cur ~= W then\n"
    "  if redis.call('EXISTS', P..'alive:'..cur) == 1 then return {'busy', cur} end\n"
    "  reap_worker(cur, 'crash', tonumber(ARGV[10]))\n"
    "end\n"
    /* a lower --parallel than what is committed: tasks still queued on the
     * node (youngest first) go back to the head of q:pending (B9) */
    "local par = tonumber(ARGV[8])\n"
    "if par > 0 then\n"
    "  local committed = redis.call('LLEN', P..'q:'..node)\n"
    "  for _, id in ipairs(redis.call('LRANGE', P..'inflight:'..W, 0, -1)) do\n"
    "    local f = redis.call('HMGET', P..'task:'..id, 'state', 'node')\n"
    "    if (f[1] == 'placed' or f[1] == 'running') and f[2] == node then\n"
    "      committed = committed + 1\n"
    "    end\n"
    "  end\n"
    "  while committed > par do\n"
    "    local id = redis.call('RPOP', P..'q:'..node)\n"
    "    if not id then break end\n"
    "    requeue(id, 'unsent', 0)\n"
    "    committed = committed - 1\n"
    "  end\n"
    "end\n"
    /* recompute from what is really committed to the node */
    "local used, usedmem, n = 0, 0, 0\n"
    "local function add(id)\n"
    "  local f = redis.call('HMGET', P..'task:'..id, 'state', 'node', 'cpu', 'mem')\n"
    "  if (f[1] == 'placed' or f[1] == 'running') and f[2] == node then\n"
    "    used = used + num(f[3]); usedmem = usedmem + num(f[4]); n = n + 1\n"
    "  end\n"
    "end\n"
    "for _, id in ipairs(redis.call('LRANGE', P..'q:'..node, 0, -1)) do add(id) end\n"
    "for _, id in ipairs(redis.call('LRANGE', P..'inflight:'..W, 0, -1)) do add(id) end\n"
    "local total, memtot = tonumber(ARGV[4]), tonumber(ARGV[7])\n"
    "if memtot <= 0 then usedmem = memtot end\n"
    "redis.call('SADD', P..'nodes', node)\n"
    "touch(node)\n"
    "redis.call('HSET', P..'workers', W, node)\n"
    "redis.call('SET', P..'worker:'..node, W)\n"
    "redis.call('SET', P..'alive:'..W, node, 'PX', ARGV[9])\n"
    "redis.call('MSET', P..'cap_total:'..node, ARGV[4], P..'cap:'..node, int(total - used),\n"
    "           P..'phys:'..node, ARGV[5], P..'ratio:'..node, ARGV[6],\n"
    "           P..'mem_total:'..node, ARGV[7], P..'mem:'..node, int(memtot - usedmem),\n"
    "           P..'parallel:'..node, ARGV[8], P..'run_count:'..node, int(n))\n"
    "bump()\n"
    "return {'ok', int(total - used)}\n";

/* ARGV: P, worker.  Returns the number of tasks handed back. */
static const char LUA_LEAVE[] =
    "local n = reap_worker(ARGV[2], 'return', 0)\n"
    "return n\n";

/* ARGV: P, nhead, since, hint.  Returns {ver, seq, full, nnodes, {node, up,
 * worker, cap, cap_total, run_count, mem, mem_total, phys, ratio, parallel}
 * x nnodes, nhead, {id, cpu, mem, pin ('' = none)} x nhead, pending}.
 * since 0: every node (full 1); else only the nodes touched after change
 * number `since` (full 0): the caller keeps the others from its last
 * snapshot, so a round costs what changed, not the number of nodes
 * (issue 21).  seq: the change number this snapshot is current to.
 * The head is bounded by the free slots: every task takes at least one
 * unit and one --parallel slot of a node with a live worker, and placement
 * is strict FIFO, so no more than that many can be placed before the state
 * changes; at least one is read, to say why the head waits.  hint: the
 * free slots of the nodes not read (the caller's count, >= 0). */
static const char LUA_STATE[] =
    "local out = {num(redis.call('GET', P..'ver'))}\n"
    "local since = tonumber(ARGV[3])\n"
    "out[#out + 1] = num(redis.call('GET', P..'nseq'))\n"
    "local nodes\n"
    "if since > 0 then\n"
    "  nodes = redis.call('ZRANGEBYSCORE', P..'nodechg', '('..int(since), '+inf')\n"
    "  out[#out + 1] = 0\n"
    "else\n"
    "  nodes = redis.call('SMEMBERS', P..'nodes')\n"
    "  out[#out + 1] = 1\n"
    "end\n"
    "out[#out + 1] = #nodes\n"
    "local free = num(ARGV[4])\n"
    "for _, n in ipairs(nodes) do\n"
    "  local w = redis.call('GET', P..'worker:'..n)\n"
    "  local up = 0\n"
    "  if w and redis.call('EXISTS', P..'alive:'..w) == 1 then up = 1 end\n"
    "  local v = redis.call('MGET', P..'cap:'..n, P..'cap_total:'..n, P..'run_count:'..n,\n"
    "                       P..'mem:'..n, P..'mem_total:'..n, P..'phys:'..n, P..'ratio:'..n,\n"
    "                       P..'parallel:'..n)\n"
    "  out[#out + 1] = n; out[#out + 1] = up; out[#out + 1] = w or ''\n"
    "  for i = 1, 8 do out[#out + 1] = v[i] or '0' end\n"
    "  if up == 1 then\n"
    "    local slots = num(v[1])\n"
    "    local par = num(v[8])\n"
    "    if par > 0 and par - num(v[3]) < slots then slots = par - num(v[3]) end\n"
    "    if slots > 0 then free = free + slots end\n"
    "  end\n"
    "end\n"
    "local want = tonumber(ARGV[2])\n"
    "if free < want then want = free end\n"
    "if want < 1 then want = 1 end\n"
    "local head = redis.call('LRANGE', P..'q:pending', 0, want - 1)\n"
    "out[#out + 1] = #head\n"
    "for _, id in ipairs(head) do\n"
    "  local f = redis.call('HMGET', P..'task:'..id, 'cpu', 'mem', 'pin')\n"
    "  out[#out + 1] = id; out[#out + 1] = f[1] or '1'; out[#out + 1] = f[2] or '0'\n"
    "  out[#out + 1] = f[3] or ''\n"
    "end\n"
    "out[#out + 1] = redis.call('LLEN', P..'q:pending')\n"
    "return out\n";

/* ARGV: P, ids...  Returns the ids that have no task hash (lost by Redis). */
static const char LUA_MISSING[] =
    "local out = {}\n"
    "for i = 2, #ARGV do\n"
    "  if redis.call('EXISTS', P..'task:'..ARGV[i]) == 0 then out[#out + 1] = ARGV[i] end\n"
    "end\n"
    "return out\n";

/* ARGV: P.  Counters in one atomic read: the stats hash (flat), then
 * LLEN q:pending, tasks queued on nodes (sum of LLEN q:NODE) and tasks in
 * flight (sum of LLEN inflight:WORKER). */
static const char LUA_COUNTS[] =
    "local out = redis.call('HGETALL', P..'stats')\n"
    "local queued, running = 0, 0\n"
    "for _, n in ipairs(redis.call('SMEMBERS', P..'nodes')) do\n"
    "  queued = queued + redis.call('LLEN', P..'q:'..n)\n"
    "end\n"
    "for _, w in ipairs(redis.call('HKEYS', P..'workers')) do\n"
    "  running = running + redis.call('LLEN', P..'inflight:'..w)\n"
    "end\n"
    "out[#out + 1] = 'pending'; out[#out + 1] = tostring(redis.call('LLEN', P..'q:pending'))\n"
    "out[#out + 1] = 'queued'; out[#out + 1] = tostring(queued)\n"
    "out[#out + 1] = 'running'; out[#out + 1] = tostring(running)\n"
    "return out\n";

/* ARGV: P, id, reason.  Returns 1 if the head was rejected, else 0. */
static const char LUA_REJECT[] =
    "local id = ARGV[2]\n"
    "if redis.call('LINDEX', P..'q:pending', 0) ~= id then return 0 end\n"
    "redis.call('LPOP', P..'q:pending')\n"
    "redis.call('HSET', P..'task:'..id, 'state', 'rejected')\n"
    "redis.call('RPUSH', P..'results', record(id, 'rejected', nil, ARGV[3]))\n"
    "redis.call('HINCRBY', P..'stats', 'rejected', 1)\n"
    "bump()\n"
    "return 1\n";

/* ARGV: P.  Returns {'ok'} or {'bad', what}. */
static const char LUA_AUDIT[] =
    "local problems = {}\n"
    "local function note(s) if #problems < 8 then problems[#problems + 1] = s end end\n"
    "local where = {}\n"
    "local function scan(key, label)\n"
    "  for _, id in ipairs(redis.call('LRANGE', key, 0, -1)) do\n"
    "    if where[id] then note('task '..id..' is in '..where[id]..' and in '..label) end\n"
    "    where[id] = label\n"
    "  end\n"
    "end\n"
    "scan(P..'q:pending', 'pending')\n"
    "local nodes = redis.call('SMEMBERS', P..'nodes')\n"
    "for _, n in ipairs(nodes) do scan(P..'q:'..n, 'q:'..n) end\n"
    "local ws = redis.call('HGETALL', P..'workers')\n"
    "local wnode = {}\n"
    "for i = 1, #ws, 2 do wnode[ws[i]] = ws[i + 1]; scan(P..'inflight:'..ws[i], 'inflight:'..ws[i]) end\n"
    "local used, usedmem, cnt = {}, {}, {}\n"
    "local function commit(node, f)\n"
    "  used[node] = (used[node] or 0) + num(f[4])\n"
    "  usedmem[node] = (usedmem[node] or 0) + num(f[5])\n"
    "  cnt[node] = (cnt[node] or 0) + 1\n"
    "end\n"
    "for i = 1, num(redis.call('GET', P..'seq')) do\n"
    "  local id = int(i)\n"
    "  local f = redis.call('HMGET', P..'task:'..id, 'state', 'node', 'worker', 'cpu', 'mem', 'pin')\n"
    "  local st, loc = f[1], where[id]\n"
    "  if (st == 'placed' or st == 'running') and f[6] and f[6] ~= '' and f[6] ~= f[2] then\n"
    "    note('task '..id..' is pinned to '..f[6]..' but placed on '..tostring(f[2]))\n"
    "  end\n"
    "  if st == 'pending' then\n"
    "    if loc ~= 'pending' then note('pending task '..id..' is in '..tostring(loc)) end\n"
    "  elseif st == 'placed' then\n"
    "    local w = loc and string.match(loc, '^inflight:(.*)$')\n"
    "    if loc ~= 'q:'..f[2] and not (w and wnode[w] == f[2]) then\n"
    "      note('placed task '..id..' is in '..tostring(loc))\n"
    "    end\n"
    "    commit(f[2], f)\n"
    "  elseif st == 'running' then\n"
    "    if loc ~= 'inflight:'..f[3] then note('running task '..id..' is in '..tostring(loc)) end\n"
    "    commit(f[2], f)\n"
    "  elseif st and loc then\n"
    "    note(st..' task '..id..' is still in '..loc)\n"
    "  end\n"
    "  where[id] = nil\n"
    "end\n"
    "for id, loc in pairs(where) do note('unknown task '..id..' in '..loc) end\n"
    "for _, n in ipairs(nodes) do\n"
    "  local v = redis.call('MGET', P..'cap:'..n, P..'cap_total:'..n, P..'run_count:'..n,\n"
    "                       P..'parallel:'..n, P..'mem:'..n, P..'mem_total:'..n)\n"
    "  local u, m, c = used[n] or 0, usedmem[n] or 0, cnt[n] or 0\n"
    "  if num(v[1]) + u ~= num(v[2]) then\n"
    "    note(n..': cap '..num(v[1])..' + committed '..u..' ~= cap_total '..num(v[2]))\n"
    "  end\n"
    "  if num(v[1]) < 0 then note(n..': cap '..num(v[1])..' < 0') end\n"
    "  if num(v[3]) ~= c then note(n..': run_count '..num(v[3])..' ~= committed '..c) end\n"
    "  if num(v[4]) > 0 and c > num(v[4]) then note(n..': '..c..' tasks > parallel '..num(v[4])) end\n"
    "  if num(v[6]) > 0 and num(v[5]) + m ~= num(v[6]) then\n"
    "    note(n..': mem '..num(v[5])..' + committed '..m..' ~= mem_total '..num(v[6]))\n"
    "  end\n"
    "end\n"
    "if #problems == 0 then return {'ok'} end\n"
    "return {'bad', table.concat(problems, '; ')}\n";

#endif
