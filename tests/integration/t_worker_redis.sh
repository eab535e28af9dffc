#!/bin/bash
# tracekit worker across a Redis restart (SIGKILL, AOF appendfsync always)
# after an outage longer than rq's 30 s retry budget: running tasks go on,
# every task still ends done exactly once, and the worker neither floods its
# log nor burns CPU while Redis is away (B13).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start "appendonly yes" "appendfsync always"

export RQ_RUN=wk4
P=tk:$RQ_RUN
N=6
tasks=()
for i in $(seq 1 $N); do tasks+=('{"argv": ["sleep", "1"], "app": "nap"}'); done
"$RQ" enqueue-json "${tasks[@]}" >/dev/null || not_ok "enqueue"
env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" worker --run-id "$RQ_RUN" \
  --logs "$T/logs" --ttl 2 --cpu-binding none --node-id n1 --parallel 2 2>"$T/w.err" & wpid=$!
track_pid "$wpid"
"$RQ" placer Mem 2 0 $N >"$T/placer.out" 2>&1 & pl=$!
track_pid "$pl"
for i in $(seq 1 100); do
  [ "$(rcli LLEN "$P:inflight:n1:$wpid" 2>/dev/null)" = 2 ] && break; sleep 0.05
done
check "two tasks running before the outage" test "$(rcli LLEN "$P:inflight:n1:$wpid")" = 2

cpu() { awk '{print $14 + $15}' "/proc/$wpid/stat"; }
c0=$(cpu)
redis_kill9
sleep 36                     # the running tasks end while Redis is away
c1=$(cpu)
wait "$pl" 2>/dev/null       # the test placer gave up after 30 s; the worker must not
check "worker still running after 36 s without Redis" kill -0 "$wpid"
redis_spawn
"$RQ" placer Mem 2 0 $N >"$T/placer2.out" 2>&1 & pl=$!
track_pid "$pl"
wait_pid "$pl" 120
check "placer saw all $N tasks finish" grep -q "^placed" "$T/placer2.out"
check "every task done exactly once, audit consistent" "$RQ" verify $N
ticks=$(getconf CLK_TCK)
check "worker CPU while Redis was down: $((c1 - c0)) ticks in 36 s (< 1 s)" test $((c1 - c0)) -lt "$ticks"
lines=$(grep -c . "$T/w.err")
check "worker log stays short across the outage ($lines lines)" test "$lines" -lt 30
grep -q "Redis" "$T/w.err" && ok "the outage is logged" || not_ok "outage log: $(cat "$T/w.err")"
expect_fail "no password in the worker log" grep -qF "$REDIS_PW" "$T/w.err"
kill -TERM "$wpid"; wait_pid "$wpid" 30
check "worker exits 0 after the outage" test $? = 0
