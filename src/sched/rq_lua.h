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
 * set once at enqueue and never changed: requeue, reap and leave keep it.
 * Node hash P..node:NODE (key layout 2) fields: cap, cap_total, run_count,
 * mem, mem_total, phys, ratio, parallel, worker (owner; '' none), alive and
 * lease (the owner's liveness and lease deadlines, server ms). */
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
     * while nobody waits is not lost; the newest 8 are kept (trimmed only
     * when longer: one command per wake-up), so a burst of changes wakes
     * several schedulers and costs at most 8 idle rounds */
    /* what: '1', or what a scheduler can know without reading it (an
     * enqueue of one task: 'id cpu mem pin', LUA_STATE) */
    "local function wake(what)\n"
    "  if redis.call('RPUSH', P..'wake', what or 1) > 8 then redis.call('LTRIM', P..'wake', -8, -1) end\n"
    "end\n"
    /* the new state version of this script's changes: one INCR per script
     * however many changes; it is also the change number of the nodes the
     * script touches (P nodechg), so a snapshot at version V has every node
     * change numbered <= V (layout 2, issue 21) */
    "local newver\n"
    "local function ver()\n"
    "  if not newver then newver = redis.call('INCR', P..'ver') end\n"
    "  return newver\n"
    "end\n"
    /* every state change other than an enqueue or a placement: a new
     * version (placements decided before it are refused) and a wake-up.
     * The version is always the highest score in P nodechg (a change that
     * touched no node scores the member ''), so a partial snapshot reads
     * it from there (LUA_STATE) */
    "local woke, touched\n"
    "local function bump()\n"
    "  if not woke then woke = true; wake() end\n"
    "  local v = ver()\n"
    "  if not touched then touched = true; redis.call('ZADD', P..'nodechg', v, '') end\n"
    "  return v\n"
    "end\n"
    /* one ledger line per finished task; f: the task's trace, attempt,
     * node, worker, ts_enqueue, ts_place, ts_start if the caller read them */
    "local function record(id, status, rc, reason, err, log, exec, f)\n"
    "  f = f or redis.call('HMGET', P..'task:'..id, 'trace', 'attempt', 'node', 'worker',\n"
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
    "  touched = true\n"
    "  redis.call('ZADD', P..'nodechg', ver(), node)\n"
    "end\n"
    /* give a committed task's units, memory and run_count back to its node
     * (the hash P node:NODE, key layout 2) */
    "local function release_node(node, cpu, mem)\n"
    "  if not node or node == '' then return end\n"
    "  local nk = P..'node:'..node\n"
    "  touch(node)\n"
    "  redis.call('HINCRBY', nk, 'cap', num(cpu))\n"
    "  if num(mem) > 0 and num(redis.call('HGET', nk, 'mem_total')) > 0 then\n"
    "    redis.call('HINCRBY', nk, 'mem', num(mem))\n"
    "  end\n"
    "  if redis.call('HINCRBY', nk, 'run_count', -1) < 0 then\n"
    "    redis.call('HSET', nk, 'run_count', 0)\n"
    "  end\n"
    "end\n"
    "local function release(id)\n"
    "  local f = redis.call('HMGET', P..'task:'..id, 'node', 'cpu', 'mem')\n"
    "  release_node(f[1], f[2], f[3])\n"
    "end\n"
    /* the node's worker is alive: its owner's liveness deadline (server ms,
     * renewed by heartbeats) is in the future */
    "local function alive(deadline, now) return num(deadline) > now end\n"
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
    "  if node and redis.call('HGET', P..'node:'..node, 'worker') == W then\n"
    "    local q = redis.call('LRANGE', P..'q:'..node, 0, -1)\n"
    "    for i = #q, 1, -1 do requeue(q[i], 'unsent', 0); n = n + 1 end\n"
    "    redis.call('DEL', P..'q:'..node)\n"
    "    redis.call('HSET', P..'node:'..node, 'worker', '', 'alive', 0)\n"
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
    "  redis.call('DEL', inflight)\n"
    "  redis.call('HDEL', P..'workers', W)\n"
    "  bump()\n"
    "  return n, dead\n"
    "end\n"
    /* delivery of a task that sits in W's in-flight list; f: its attempt,
     * deliveries, body, cpu, mem */
    "local function lease(id, W, lease_ms, f)\n"
    "  local now = now_ms()\n"
    "  local a, d = num(f[1]) + 1, num(f[2]) + 1\n"
    "  redis.call('HSET', P..'task:'..id, 'attempt', a, 'deliveries', d, 'state', 'running',\n"
    "             'worker', W, 'lease', int(now + lease_ms), 'ts_start', int(now))\n"
    "  return {'ok', id, a, d, f[3], f[4], f[5]}\n"
    "end\n";

/* The key layout these scripts use (P layout; docs/redis.md, "Keys"):
 * 2 = one hash P node:NODE per node (issue 21); 1 = the strings cap:NODE,
 * worker:NODE, alive:WORKER... of older builds, never mixed with it. */
#define RQ_LAYOUT "2"

/* ARGV: P, raise, then 7 per task: id, body, cpu, mem, trace, ts_enqueue,
 * pin ('' = none).  All of a batch in one call: one RPUSH, one stamp, one
 * wake-up.  An empty ts_enqueue is stamped here, with the Redis server's
 * clock at the enqueue itself (issue 21: no invented stamps): the body then
 * ends just before the stamp's digits, and the script completes it.
 * raise '1' (rq_enqueue_again: Redis lost these tasks): the task counter,
 * which may have gone back too, is raised to the id so it is not handed
 * out again.  A task that exists is left alone (a retry).
 * Returns each task's ts_enqueue (on a retry: the stored one). */
static const char LUA_ENQUEUE[] =
    "local raise = ARGV[2] == '1'\n"
    "local out, ids, stamp, known = {}, {}, nil, nil\n"
    "for i = 3, #ARGV - 6, 7 do\n"
    "  local id = ARGV[i]\n"
    "  local tk = P..'task:'..id\n"
    "  if redis.call('EXISTS', tk) == 1 then\n"
    "    out[#out + 1] = redis.call('HGET', tk, 'ts_enqueue')\n"
    "  else\n"
    "    local ts, body = ARGV[i + 5], ARGV[i + 1]\n"
    "    if ts == '' then\n"
    "      stamp = stamp or int(now_ms())\n"
    "      ts = stamp; body = body..ts..'}'\n"
    "    end\n"
    "    if ARGV[i + 6] ~= '' then\n"
    "      redis.call('HSET', tk, 'body', body, 'cpu', ARGV[i + 2], 'mem', ARGV[i + 3],\n"
    "                 'trace', ARGV[i + 4], 'ts_enqueue', ts, 'state', 'pending', 'attempt', 0,\n"
    "                 'deliveries', 0, 'pin', ARGV[i + 6])\n"
    "    else\n"
    "      redis.call('HSET', tk, 'body', body, 'cpu', ARGV[i + 2], 'mem', ARGV[i + 3],\n"
    "                 'trace', ARGV[i + 4], 'ts_enqueue', ts, 'state', 'pending', 'attempt', 0,\n"
    "                 'deliveries', 0)\n"
    "    end\n"
    "    if raise and num(redis.call('GET', P..'seq')) < tonumber(id) then\n"
    "      redis.call('SET', P..'seq', id)\n"
    "    end\n"
    "    ids[#ids + 1] = id\n"
    "    known = i\n"
    "    out[#out + 1] = ts\n"
    "  end\n"
    "end\n"
    "local len = 0\n"
    "for i = 1, #ids, 1000 do\n"
    "  len = redis.call('RPUSH', P..'q:pending', unpack(ids, i, math.min(i + 999, #ids)))\n"
    "end\n"
    "if #ids > 0 then\n"
    "  redis.call('HINCRBY', P..'stats', 'enqueued', #ids)\n"
    /* one task: the wake-up tells its units, memory and pin, which never
     * change, and whether it is alone in q:pending, so the scheduler it
     * wakes need not read them (issue 21; LUA_STATE) */
    "  if #ids == 1 then\n"
    "    local i = known\n"
    "    wake(ids[1]..' '..ARGV[i + 2]..' '..ARGV[i + 3]..' '..(len == 1 and 1 or 0)..' '..ARGV[i + 6])\n"
    "  else wake() end\n"
    "end\n"
    "return out\n";

/* ARGV: P, batch token, expected version ('' = any), then per placement
 * id, node, cpu, mem, pin, applied in order in this one call.  cpu, mem,
 * pin: the task's as the caller's snapshot read them (they never change
 * after the enqueue); cpu '' = not known.  The token is unique per
 * rq_place_many call.  With a version, the state must be at that version
 * (nothing changed since the decisions were made), and after a refusal the
 * rest of the batch is not placed ('stale': decided on a head that did not
 * move).  At that version with cpu known, the task hash is not read (issue
 * 21): the head of q:pending popped is the task, and only pending tasks
 * are in q:pending; anything else reads it to say why.  A task pinned to a
 * node is refused ('pinned') anywhere else.
 * Each placement takes its node's units, memory and --parallel slot in the
 * node hash (read once per node), moves the task to q:NODE and counts it;
 * the node is touched once, the version raised by the number placed.
 * Returns {version after, status, free units (-1: not read)} x placements}. */
static const char LUA_PLACE[] =
    "local token, expect = ARGV[2], ARGV[3]\n"
    "local n = math.floor((#ARGV - 3) / 5)\n"
    /* raised first (one command), set back below unless all are placed */
    "local base = redis.call('INCRBY', P..'ver', n) - n\n"
    "local placed, stop, now = 0, false, nil\n"
    "local hosts, horder, queued = {}, {}, {}\n"
    "local res = {}\n"
    "local function host(node)\n"
    "  local h = hosts[node]\n"
    "  if h then return h end\n"
    "  local v = redis.call('HMGET', P..'node:'..node, 'cap_total', 'worker', 'alive', 'cap',\n"
    "                       'parallel', 'run_count', 'mem', 'mem_total')\n"
    "  now = now or now_ms()\n"
    "  h = {known = v[1] ~= false, up = v[2] and v[2] ~= '' and alive(v[3], now), cap = num(v[4]),\n"
    "       owner = v[2] or '',\n"
    "       par = num(v[5]), run = num(v[6]), mem = num(v[7]), memtot = num(v[8]), ids = {}}\n"
    "  hosts[node] = h\n"
    "  return h\n"
    "end\n"
    /* why task id cannot be placed: it is not the pending head */
    "local function why_not(id, node)\n"
    "  local f = redis.call('HMGET', P..'task:'..id, 'state', 'node', 'placed_by')\n"
    "  if not f[1] then return 'gone' end\n"
    /* a retry of this very call after a lost reply */
    "  if f[1] ~= 'pending' and f[2] == node and f[3] == token and\n"
    "     (f[1] == 'placed' or f[1] == 'running') then\n"
    "    return 'already'\n"
    "  end\n"
    "  if f[1] == 'pending' and expect ~= '' and tonumber(expect) ~= base then return 'version' end\n"
    "  return 'stale'\n"
    "end\n"
    "local function place(id, node, kcpu, kmem, kpin)\n"
    "  local tk = P..'task:'..id\n"
    "  local fast = kcpu ~= '' and expect ~= '' and tonumber(expect) == base\n"
    "  local f\n"
    "  if fast then f = {'pending', '', kcpu, kmem, '', kpin}\n"
    "  else f = redis.call('HMGET', tk, 'state', 'node', 'cpu', 'mem', 'placed_by', 'pin') end\n"
    "  if not f[1] then return 'gone' end\n"
    "  if f[1] ~= 'pending' then\n"
    "    if f[2] == node and f[5] == token and (f[1] == 'placed' or f[1] == 'running') then\n"
    "      return 'already'\n"
    "    end\n"
    "    return 'stale'\n"
    "  end\n"
    "  if expect ~= '' and tonumber(expect) ~= base then return 'version' end\n"
    "  if f[6] and f[6] ~= '' and f[6] ~= node then return 'pinned' end\n"
    "  local h = host(node)\n"
    "  if not h.known then return 'unknown' end\n"
    "  if not h.up then return 'down' end\n"
    /* the head: popped (it is ours in all but races), pushed back if not */
    "  local head = redis.call('LPOP', P..'q:pending')\n"
    "  local need, mem = num(f[3]), num(f[4])\n"
    "  local why\n"
    "  if head ~= id then why = fast and 'read' or 'stale'\n"
    "  elseif h.cap < need then why = 'nocap'\n"
    "  elseif h.par > 0 and h.run >= h.par then why = 'busy'\n"
    "  elseif mem > 0 and h.memtot > 0 and h.mem < mem then why = 'nomem' end\n"
    "  if why then\n"
    "    if head then redis.call('LPUSH', P..'q:pending', head) end\n"
    "    if why == 'read' then return why_not(id, node) end\n"
    "    return why, h.cap\n"
    "  end\n"
    "  if mem > 0 and h.memtot > 0 then h.mem = h.mem - mem end\n"
    "  h.cap = h.cap - need; h.run = h.run + 1\n"
    "  if #h.ids == 0 then horder[#horder + 1] = node end\n"
    "  h.ids[#h.ids + 1] = id\n"
    "  placed = placed + 1\n"
    "  redis.call('HSET', tk, 'state', 'placed', 'node', node, 'ts_place', int(now),\n"
    "             'placed_by', token, 'worker', h.owner)\n"
    "  return 'ok', h.cap\n"
    "end\n"
    "for i = 4, 3 + 5 * n, 5 do\n"
    "  local st, cap = 'stale', nil\n"
    "  if not stop then st, cap = place(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]) end\n"
    "  if st ~= 'ok' and st ~= 'already' and expect ~= '' then stop = true end\n"
    "  res[#res + 1] = st; res[#res + 1] = cap or -1\n"
    "end\n"
    "local v = base + placed\n"
    "if placed < n then redis.call('SET', P..'ver', v) end\n"
    "if placed > 0 then\n"
    "  local z = {}\n"
    "  for _, node in ipairs(horder) do\n"
    "    local h = hosts[node]\n"
    "    redis.call('HSET', P..'node:'..node, 'cap', h.cap, 'run_count', h.run, 'mem', h.mem)\n"
    "    redis.call('RPUSH', P..'q:'..node, unpack(h.ids))\n"
    "    z[#z + 1] = v; z[#z + 1] = node\n"
    "  end\n"
    "  redis.call('ZADD', P..'nodechg', unpack(z))\n"
    "  redis.call('HINCRBY', P..'stats', 'placed', placed)\n"
    "end\n"
    "local out = {v}\n"
    "for i = 1, #res do out[#out + 1] = res[i] end\n"
    "return out\n";

/* ARGV: P, worker, node, lease_ms, maxdel, id, held ids...
 * id: the task BLMOVE just moved into the in-flight list (leased directly);
 * '' : look through the in-flight list first (a task already in our hands
 * that the caller does not know about: a reply lost to a reconnect), then
 * LMOVE from q:NODE.
 * Returns {'ok', id, attempt, deliveries, body, cpu, mem, from} | {'none'}
 * | {'fenced'}; from 'held': found in the in-flight list (look again). */
static const char LUA_TAKE[] =
    "local W, node, lease_ms = ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
    "local F = {'state', 'node', 'worker', 'attempt', 'deliveries', 'body', 'cpu', 'mem'}\n"
    "local function fields(id) return redis.call('HMGET', P..'task:'..id, unpack(F)) end\n"
    "local function give(id, f, from)\n"
    "  local r = lease(id, W, lease_ms, {f[4], f[5], f[6], f[7], f[8]})\n"
    "  r[8] = from\n"
    "  return r\n"
    "end\n"
    "local inflight = P..'inflight:'..W\n"
    /* the task just moved: placed for this worker (LUA_PLACE names the
     * node's owner in it; a node changes owner only by reaping the old
     * one, which sends the tasks queued on it back to q:pending), so W
     * still owns the node: no separate fencing read (issue 21) */
    "local f0\n"
    "if ARGV[6] ~= '' then\n"
    "  f0 = fields(ARGV[6])\n"
    "  if f0[1] == 'placed' and f0[2] == node and f0[3] == W then return give(ARGV[6], f0, 'new') end\n"
    "end\n"
    "if redis.call('HGET', P..'node:'..node, 'worker') ~= W then\n"
    "  reap_worker(W, 'crash', tonumber(ARGV[5]))\n"
    "  return {'fenced'}\n"
    "end\n"
    "if f0 and f0[1] == 'placed' and f0[2] == node then return give(ARGV[6], f0, 'new') end\n"
    "local held = {}\n"
    "for i = 7, #ARGV do held[ARGV[i]] = true end\n"
    "for _, id in ipairs(redis.call('LRANGE', inflight, 0, -1)) do\n"
    "  if not held[id] then\n"
    "    local f = fields(id)\n"
    "    if f[1] == 'placed' and f[2] == node then return give(id, f, 'held') end\n"
    "    if f[1] == 'running' and f[3] == W then\n"
    "      redis.call('HSET', P..'task:'..id, 'lease', int(now_ms() + lease_ms))\n"
    "      return {'ok', id, f[4], f[5], f[6], f[7], f[8], 'held'}\n"
    "    end\n"
    "    redis.call('LREM', inflight, 0, id)\n"
    "  end\n"
    "end\n"
    "local id = redis.call('LMOVE', P..'q:'..node, inflight, 'LEFT', 'RIGHT')\n"
    "if not id then return {'none'} end\n"
    "return give(id, fields(id), 'new')\n";

/* ARGV: P, worker, ttl_ms, lease_ms, node ('' = look it up).
 * Returns {'ok'} | {'fenced'}.  Renews the worker's liveness and its
 * lease in its node's hash: one write whatever it runs (issue 21).  A
 * running task's lease is the later of its own (set when taken) and its
 * worker's, so this renews every task the worker runs, as a write per task
 * did before. */
static const char LUA_HEARTBEAT[] =
    "local W, node = ARGV[2], ARGV[5]\n"
    "if node == '' then node = redis.call('HGET', P..'workers', W) end\n"
    "if not node then return {'fenced'} end\n"
    "local nk = P..'node:'..node\n"
    "local v = redis.call('HMGET', nk, 'worker', 'alive')\n"
    "if v[1] ~= W then return {'fenced'} end\n"
    "local now = now_ms()\n"
    /* back from the dead before a reap: the node is up again */
    "if not alive(v[2], now) then touch(node) end\n"
    "redis.call('HSET', nk, 'alive', int(now + tonumber(ARGV[3])),\n"
    "           'lease', int(now + tonumber(ARGV[4])))\n"
    "return {'ok'}\n";

/* ARGV: P, worker, id, attempt, 'done'|'failed', rc[, error, log, exec id].
 * Returns {'ok'} | {'dup'} | {'superseded', current attempt} | {'gone'}.
 * Wakes schedulers only when tasks wait in q:pending (else the units it
 * returns have nothing to take them; the next enqueue wakes them). */
static const char LUA_COMPLETE[] =
    "local W, id, attempt, status = ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "local tk = P..'task:'..id\n"
    "local f = redis.call('HMGET', tk, 'state', 'worker', 'attempt', 'node', 'cpu', 'mem',\n"
    "                     'trace', 'ts_enqueue', 'ts_place', 'ts_start')\n"
    "if not f[1] then return {'gone'} end\n"
    "if f[2] == W and f[3] == attempt and (f[1] == 'done' or f[1] == 'failed') then\n"
    "  return {'dup'}\n"
    "end\n"
    "if f[1] ~= 'running' or f[2] ~= W or f[3] ~= attempt then\n"
    "  redis.call('HINCRBY', P..'stats', 'superseded', 1)\n"
    "  return {'superseded', f[3] or '0'}\n"
    "end\n"
    "release_node(f[4], f[5], f[6])\n"
    "redis.call('LREM', P..'inflight:'..W, 1, id)\n"
    "redis.call('HSET', tk, 'state', status, 'rc', ARGV[6], 'lease', 0)\n"
    "redis.call('RPUSH', P..'results', record(id, status, tonumber(ARGV[6]), nil, ARGV[7],\n"
    "           ARGV[8], ARGV[9], {f[7], f[3], f[4], f[2], f[8], f[9], f[10]}))\n"
    "redis.call('HINCRBY', P..'stats', status, 1)\n"
    "if redis.call('LLEN', P..'q:pending') > 0 then wake() end\n"
    "return {'ok'}\n";

/* ARGV: P, maxdel.  Returns {workers reaped, requeued, dead, next}: next
 * = ms until the earliest liveness or lease deadline of the live workers
 * (-1: none), before which nothing can be found dead.  A live worker's
 * in-flight tasks are read only when its own lease (heartbeats) ran out:
 * a running task's lease is the later of its own and its worker's. */
static const char LUA_REAP[] =
    "local maxdel = tonumber(ARGV[2])\n"
    "local ws = redis.call('HGETALL', P..'workers')\n"
    "local nw, nq, nd, nxt = 0, 0, 0, -1\n"
    "local now = now_ms()\n"
    "local function soon(t) if t > now and (nxt < 0 or t - now < nxt) then nxt = t - now end end\n"
    "for i = 1, #ws, 2 do\n"
    "  local W = ws[i]\n"
    "  local v = redis.call('HMGET', P..'node:'..ws[i + 1], 'worker', 'alive', 'lease')\n"
    "  if v[1] ~= W or not alive(v[2], now) then\n"
    "    local q, d = reap_worker(W, 'crash', maxdel)\n"
    "    nw = nw + 1; nq = nq + q; nd = nd + d\n"
    "  else\n"
    "    local wl = num(v[3])\n"
    "    soon(num(v[2])); soon(wl)\n"
    "    if wl < now then\n"
    "      local inflight = P..'inflight:'..W\n"
    "      for _, id in ipairs(redis.call('LRANGE', inflight, 0, -1)) do\n"
    "        local f = redis.call('HMGET', P..'task:'..id, 'state', 'worker', 'lease')\n"
    "        if f[1] == 'running' and f[2] == W then\n"
    "          if num(f[3]) < now then\n"
    "            redis.call('LREM', inflight, 0, id)\n"
    "            if requeue(id, 'crash', maxdel) then nd = nd + 1 else nq = nq + 1 end\n"
    "          else\n"
    "            soon(num(f[3]))\n"
    "          end\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if nq + nd > 0 then bump() end\n"
    "return {nw, nq, nd, nxt}\n";

/* ARGV: P, node, worker, cap_total, phys, ratio, mem_total, parallel,
 * ttl_ms, maxdel.  Returns {'ok', cap} | {'busy', owner} | {'conflict', node}
 * | {'layout', the run's layout}: the run was started by a build with
 * another key layout (docs/redis.md), which must not be mixed with it. */
static const char LUA_REGISTER[] =
    "local node, W = ARGV[2], ARGV[3]\n"
    "local lay = redis.call('GET', P..'layout')\n"
    "if lay and lay ~= '" RQ_LAYOUT "' then return {'layout', lay} end\n"
    "if redis.call('EXISTS', P..'worker:'..node, P..'cap_total:'..node) > 0 then\n"
    "  return {'layout', '1'}\n"
    "end\n"
    "local nk = P..'node:'..node\n"
    "local prev = redis.call('HGET', P..'workers', W)\n"
    "if prev and prev ~= node then return {'conflict', prev} end\n"
    "local now = now_ms()\n"
    "local v = redis.call('HMGET', nk, 'worker', 'alive')\n"
    "local cur = v[1]\n"
    "if cur and cur ~= '' and cur ~= W then\n"
    "  if alive(v[2], now) then return {'busy', cur} end\n"
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
    "redis.call('SET', P..'layout', '" RQ_LAYOUT "')\n"
    "redis.call('SADD', P..'nodes', node)\n"
    "touch(node)\n"
    "redis.call('HSET', P..'workers', W, node)\n"
    "redis.call('HSET', nk, 'worker', W, 'alive', int(now + tonumber(ARGV[9])),\n"
    "           'cap_total', ARGV[4], 'cap', int(total - used), 'phys', ARGV[5],\n"
    "           'ratio', ARGV[6], 'mem_total', ARGV[7], 'mem', int(memtot - usedmem),\n"
    "           'parallel', ARGV[8], 'run_count', int(n))\n"
    "bump()\n"
    "return {'ok', int(total - used)}\n";

/* ARGV: P, worker.  Returns the number of tasks handed back. */
static const char LUA_LEAVE[] =
    "local n = reap_worker(ARGV[2], 'return', 0)\n"
    "return n\n";

/* ARGV: P, nhead, since, hint, alone, known ids...  Returns {ver, seq, full, nnodes, {node, up,
 * worker, cap, cap_total, run_count, mem, mem_total, phys, ratio, parallel}
 * x nnodes, nhead, {id, cpu, mem, pin ('' = none)} x nhead, pending}.
 * since 0: every node (full 1); else only the nodes touched after change
 * number `since` (full 0): the caller keeps the others from its last
 * snapshot, so a round costs what changed, not the number of nodes
 * (issue 21).  seq: the change number this snapshot is current to (the
 * version: every change of a node is numbered with the version it made).
 * The head is bounded by the free slots: every task takes at least one
 * unit and one --parallel slot of a node with a live worker, and placement
 * is strict FIFO, so no more than that many can be placed before the state
 * changes; at least one is read, to say why the head waits.  hint: the
 * free slots of the nodes not read (the caller's count, >= 0).  pending:
 * LLEN q:pending (read only when the head read is not all of it); -1 in a
 * partial snapshot whose head read was not all of it (more than nhead).
 * known ids: tasks whose units, memory and pin the caller knows (from a
 * wake-up, rq_wait): for those the head says '' instead of reading them.
 * alone: a task the wake-up said was alone in q:pending when enqueued
 * ('' none): a partial snapshot takes it as the head without reading
 * q:pending (tasks enqueued after it wake the schedulers again; a head
 * that moved meanwhile, e.g. a requeue, makes the placement 'stale' and
 * the next snapshot a full one).
 * A node registered under another key layout is an error (docs/redis.md). */
static const char LUA_STATE[] =
    "local since = tonumber(ARGV[3])\n"
    "local nodes, v0, full = {}, since, 0\n"
    "if since > 0 then\n"
    /* the version is the highest change number (see bump) */
    "  local z = redis.call('ZRANGEBYSCORE', P..'nodechg', '('..int(since), '+inf', 'WITHSCORES')\n"
    "  for i = 1, #z, 2 do\n"
    "    if z[i] ~= '' then nodes[#nodes + 1] = z[i] end\n"
    "    if tonumber(z[i + 1]) > v0 then v0 = tonumber(z[i + 1]) end\n"
    "  end\n"
    "else\n"
    "  v0 = num(redis.call('GET', P..'ver'))\n"
    "  nodes = redis.call('SMEMBERS', P..'nodes')\n"
    "  full = 1\n"
    "  local lay = redis.call('GET', P..'layout')\n"
    "  if #nodes > 0 and lay ~= '" RQ_LAYOUT "' then\n"
    "    return redis.error_reply('the workers of this run use Redis key layout '..(lay or '1')..\n"
    "      ' (another tracekit version); this scheduler uses layout " RQ_LAYOUT ": run the '..\n"
    "      'same tracekit version everywhere')\n"
    "  end\n"
    "end\n"
    "local out = {v0, v0, full, #nodes}\n"
    "local free = num(ARGV[4])\n"
    "local now\n"
    "for _, n in ipairs(nodes) do\n"
    "  local v = redis.call('HMGET', P..'node:'..n, 'worker', 'alive', 'cap', 'cap_total',\n"
    "                       'run_count', 'mem', 'mem_total', 'phys', 'ratio', 'parallel')\n"
    "  now = now or now_ms()\n"
    "  local up = 0\n"
    "  if v[1] and v[1] ~= '' and alive(v[2], now) then up = 1 end\n"
    "  out[#out + 1] = n; out[#out + 1] = up; out[#out + 1] = v[1] or ''\n"
    "  for i = 3, 10 do out[#out + 1] = v[i] or '0' end\n"
    "  if up == 1 then\n"
    "    local slots = num(v[3])\n"
    "    local par = num(v[10])\n"
    "    if par > 0 and par - num(v[5]) < slots then slots = par - num(v[5]) end\n"
    "    if slots > 0 then free = free + slots end\n"
    "  end\n"
    "end\n"
    "local want = tonumber(ARGV[2])\n"
    "if free < want then want = free end\n"
    "if want < 1 then want = 1 end\n"
    "local head\n"
    "if since > 0 and ARGV[5] ~= '' then head = {ARGV[5]}\n"
    "else head = redis.call('LRANGE', P..'q:pending', 0, want - 1) end\n"
    "out[#out + 1] = #head\n"
    "local known = {}\n"
    "for i = 6, #ARGV do known[ARGV[i]] = true end\n"
    "for _, id in ipairs(head) do\n"
    "  local f = {'', '', ''}\n"
    "  if not known[id] then f = redis.call('HMGET', P..'task:'..id, 'cpu', 'mem', 'pin') end\n"
    "  out[#out + 1] = id; out[#out + 1] = f[1] or '1'; out[#out + 1] = f[2] or '0'\n"
    "  out[#out + 1] = f[3] or ''\n"
    "end\n"
    "if #head < want then out[#out + 1] = #head\n"
    "elseif since == 0 then out[#out + 1] = redis.call('LLEN', P..'q:pending')\n"
    "else out[#out + 1] = -1 end\n"
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
    "  local v = redis.call('HMGET', P..'node:'..n, 'cap', 'cap_total', 'run_count',\n"
    "                       'parallel', 'mem', 'mem_total')\n"
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
