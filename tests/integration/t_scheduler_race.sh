#!/usr/bin/env bash
# Two `tracekit scheduler` processes with different policies at once on one
# run: version-guarded placement keeps every invariant (no node ever
# oversubscribed, --parallel respected), then with workers draining the
# queue every task is done exactly once and both schedulers' records land
# whole in the one placements.jsonl they share.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start
export TRACEKIT_REDIS_URL=$RQ_URL
export RQ_RUN=race
LOGS=$T/logs
P=tk:race
N=600

placed() { "$RQ" counts | python3 -c 'import json,sys; print(json.load(sys.stdin)["placed"])'; }

"$RQ" register n1 w1 200 0 600000
"$RQ" register n2 w2 240 60 600000   # at most 60 tasks on n2
"$RQ" register n3 w3 160 0 600000
check "enqueue $N tasks of 1..3 units (1200 units for 600 free)" "$RQ" enqueue $N 3 0
$TRACEKIT scheduler --run-id race --logs "$LOGS" --policy Mem --batch 8 >/dev/null 2>"$T/s1.log" &
s1=$!; track_pid $s1
$TRACEKIT scheduler --run-id race --logs "$LOGS" --policy ActiveServers --batch 1 >/dev/null 2>"$T/s2.log" &
s2=$!; track_pid $s2
bad=0
for i in $(seq 1 10); do
  "$RQ" audit >>"$T/audit.out" 2>&1 || bad=$((bad + 1))
  sleep 0.1
done
# until placements stop: capacity (or n2's --parallel) runs out
last=-1
for i in $(seq 1 100); do
  now=$(placed)
  [ "$now" = "$last" ] && break
  last=$now
  sleep 0.5
done
check "audits while both place: all consistent" test "$bad" = 0
check "audit once the capacity ran out" "$RQ" audit
committed=$(( $(rcli LLEN $P:q:n1) + $(rcli LLEN $P:q:n2) + $(rcli LLEN $P:q:n3) ))
check "placed ($last) = tasks on the node queues ($committed)" test "$last" = "$committed"
check "placements happened ($last > 200)" test "$last" -gt 200
for n in n1 n2 n3; do
  cap=$(rcli HGET $P:node:$n cap)
  check "$n: free units never below 0 (cap $cap)" test "$cap" -ge 0
done
check "n2: --parallel 60 respected" test "$(rcli HGET $P:node:n2 run_count)" -le 60

# Workers drain the queue while both schedulers keep placing.
"$RQ" worker n1 w1 200 4 3000 $N >"$T/w1.out" 2>&1 & w1=$!
"$RQ" worker n2 w2 240 3 3000 $N >"$T/w2.out" 2>&1 & w2=$!
"$RQ" worker n3 w3 160 2 3000 $N >"$T/w3.out" 2>&1 & w3=$!
track_pid $w1; track_pid $w2; track_pid $w3
bad=0
for i in $(seq 1 5); do
  sleep 0.3
  "$RQ" audit >>"$T/audit2.out" 2>&1 || bad=$((bad + 1))
done
rc=0
for p in $w1 $w2 $w3; do wait_pid $p 180 || rc=1; done
check "workers finished" test $rc = 0
check "audits while draining: all consistent" test "$bad" = 0
check "every task done exactly once" "$RQ" verify $N
kill -TERM $s1 $s2
wait_pid $s1 30; r1=$?
wait_pid $s2 30; r2=$?
check "both schedulers exit 0 on SIGTERM" test "$r1$r2" = 00
total=$(placed)
py "
import json, re
lines = open('$LOGS/race/placements.jsonl').read().split('\n')
assert lines[-1] == '', 'file does not end with a newline'
recs = [json.loads(l) for l in lines[:-1]]
assert len(recs) == $total, (len(recs), $total)
ids = {r['task_id'] for r in recs}
assert ids == set(range(1, $N + 1)), 'tasks never placed: %s' % (set(range(1, $N + 1)) - ids)
by = {}
for r in recs:
    by.setdefault(r['scheduler'], set()).add(r['policy'])
st = [re.search(r'stopping: placed (\d+), conflicts (\d+)', open(f).read()) for f in ('$T/s1.log', '$T/s2.log')]
placed = [int(m.group(1)) for m in st]
conflicts = sum(int(m.group(2)) for m in st)
assert sum(placed) == len(recs), (placed, len(recs))
assert len(by) == 2 or conflicts > 0, (by, conflicts)
print('# records %d, per scheduler %s, refused decisions %d' % (len(recs), placed, conflicts))
" && ok "placements.jsonl: every line whole, every task, counts match both schedulers' stats" \
  || not_ok "placements.jsonl: every line whole, every task, counts match both schedulers' stats"
for n in n1 n2 n3; do
  check "$n: all capacity back" test "$(rcli HGET $P:node:$n cap)" = "$(rcli HGET $P:node:$n cap_total)"
done
