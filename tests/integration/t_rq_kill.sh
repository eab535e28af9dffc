#!/usr/bin/env bash
# A worker killed with SIGKILL mid-task: within a few seconds its liveness
# key expires, the reaper returns its capacity and requeues its tasks, and
# every task still ends done exactly once.  A late completion of a
# superseded attempt is ignored.  SIGTERM hands tasks back (B12).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start

# --- kill -9 ---
export RQ_RUN=kill
P=tk:kill
N=16
"$RQ" enqueue $N 1 400   # 16 tasks of 1 unit, 400 ms each
"$RQ" worker n1 wa 2 2 1000 $N >"$T/wa.out" 2>&1 & wa=$!
"$RQ" worker n2 wb 2 2 1000 $N >"$T/wb.out" 2>&1 & wb=$!
sleep 0.3
"$RQ" placer Mem 4 0 $N >"$T/placer.out" 2>&1 & pl=$!
for i in $(seq 1 100); do   # until wa is running two tasks
  [ "$(rcli LLEN $P:inflight:wa)" = 2 ] && break
  sleep 0.02
done
check "worker A is running tasks" test "$(rcli LLEN $P:inflight:wa)" = 2
kill -9 $wa
wait $wa 2>/dev/null
killed=$(date +%s%N)
for i in $(seq 1 100); do
  [ "$(rcli HGET $P:stats requeued)" -ge 2 ] 2>/dev/null && break
  sleep 0.05
done
ms=$(( ($(date +%s%N) - killed) / 1000000 ))
check "its 2 tasks were requeued ${ms} ms after the kill (TTL 1 s)" test "$ms" -lt 3000
check "its node is down and its capacity returned" test "$(rcli HGET $P:node:n1 cap)" = 2 -a "$(rcli HSTRLEN $P:node:n1 worker)" = 0
wait_pid $pl 60; r1=$?
wait_pid $wb 60; r2=$?
check "scheduler and the surviving worker finished" test "$r1$r2" = 00
"$RQ" verify $N >"$T/verify.out" 2>&1
check "every task done exactly once" test $? = 0
check "the requeued tasks were retried as attempt 2" grep -q 'retried 2 ' "$T/verify.out"
check "the survivor did the requeued ones too" test "$(awk '{print $4}' "$T/wb.out")" -ge 2

# --- a late completion of a superseded attempt ---
export RQ_RUN=late
P=tk:late
"$RQ" enqueue 1 1 0
"$RQ" register n3 w3 2 0 400
"$RQ" place n3 >/dev/null
check "w3 takes the task: attempt 1" test "$("$RQ" take n3 w3)" = "1 1"
sleep 0.6   # w3 never heartbeats: it looks dead
check "the reaper requeues it" test "$("$RQ" reap 3)" = "1 1 0"
"$RQ" register n4 w4 2 0 60000
"$RQ" place n4 >/dev/null
check "w4 takes it again: attempt 2" test "$("$RQ" take n4 w4)" = "1 2"
check "w3's late completion is superseded" test "$("$RQ" complete w3 1 1)" = superseded
check "w4 completes attempt 2" test "$("$RQ" complete w4 1 2)" = ok
check "w3's late completion is still superseded" test "$("$RQ" complete w3 1 1)" = superseded
check "w4's retried completion is a duplicate" test "$("$RQ" complete w4 1 2)" = dup
"$RQ" counts >"$T/counts.json"
check "counted done once" test "$(json_field "$T/counts.json" done)" = 1
check "superseded completions counted" test "$(json_field "$T/counts.json" superseded)" = 2
check "one ledger record, attempt 2, consistent" "$RQ" verify 1
check "capacity returned once: n4 back to 2" test "$(rcli HGET $P:node:n4 cap)" = 2

# --- SIGTERM: stop, hand back, return capacity (B12) ---
export RQ_RUN=term
P=tk:term
"$RQ" enqueue 6 1 5000
"$RQ" worker n5 w5 4 2 2000 6 >"$T/w5.out" 2>&1 & w5=$!
sleep 0.3
"$RQ" placer Mem 4 500 0 >/dev/null 2>&1
check "w5 is running 2 tasks (--parallel 2: none wait on its node)" test "$(rcli LLEN $P:inflight:w5)$(rcli LLEN $P:q:n5)" = 20
kill -TERM $w5
wait_pid $w5 10
check "SIGTERM: the worker exits cleanly" test $? = 0
check "... handing back its 2 tasks" grep -q 'handed_back 2' "$T/w5.out"
check "... all 6 pending again, none lost" test "$(rcli LLEN $P:q:pending)" = 6
check "... capacity returned" test "$(rcli HGET $P:node:n5 cap)" = 4
check "... not counted as failed deliveries" test "$(rcli HGET $P:task:1 deliveries)" = 0
check "... consistent" "$RQ" audit
