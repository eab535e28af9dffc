#!/usr/bin/env bash
# Placement under concurrency: two schedulers with different policies race
# for the same queue head while an auditor checks every invariant
# atomically; capacity and --parallel are never exceeded (B7, B8, B9).  Then
# workers drain the queue while both keep placing: every task is done
# exactly once and all capacity comes back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start
export RQ_RUN=hammer
N=3000
P=tk:hammer

check "enqueue $N tasks of 1..3 units" "$RQ" enqueue $N 3 0
# Phase 1: no completions, so ~1500 placements are contended until the
# capacity runs out.  Both schedulers start first and wait (there are no
# nodes yet); registering the nodes wakes both at once.
"$RQ" placer Mem 8 1500 0 >"$T/p1.out" 2>&1 & p1=$!
"$RQ" placer ActiveServers 1 1500 0 >"$T/p2.out" 2>&1 & p2=$!
sleep 0.5
"$RQ" register n1 w1 1000 0 600000
"$RQ" register n2 w2 1200 300 600000   # at most 300 tasks on n2
"$RQ" register n3 w3 800 0 600000
bad=0
for i in $(seq 1 10); do
  "$RQ" audit >>"$T/audit.out" 2>&1 || bad=$((bad + 1))
  sleep 0.05
done
wait_pid $p1 30; r1=$?
wait_pid $p2 30; r2=$?
check "both schedulers finished" test "$r1$r2" = 00
check "audits during the race all consistent" test "$bad" = 0
check "audit after the race" "$RQ" audit
placed=$(( $(awk '{print $2}' "$T/p1.out") + $(awk '{print $2}' "$T/p2.out") ))
committed=$(( $(rcli LLEN $P:q:n1) + $(rcli LLEN $P:q:n2) + $(rcli LLEN $P:q:n3) ))
check "placed ($placed) = tasks on the node queues ($committed)" test "$placed" = "$committed"
# Evidence that they really raced: both placed tasks, or one had decisions
# refused because the other had changed the state.
conflicts=$(( $(awk '{print $4}' "$T/p1.out") + $(awk '{print $4}' "$T/p2.out") ))
both=$([ "$(awk '{print $2}' "$T/p1.out")" -gt 0 ] && [ "$(awk '{print $2}' "$T/p2.out")" -gt 0 ] && echo 1 || echo 0)
check "the schedulers raced (both placed: $both, refused decisions: $conflicts)" test "$both" = 1 -o "$conflicts" -gt 0
for n in n1 n2 n3; do
  cap=$(rcli HGET $P:node:$n cap)
  check "$n: free units never below 0 (cap $cap)" test "$cap" -ge 0
done
check "n2: --parallel 300 respected" test "$(rcli HGET $P:node:n2 run_count)" -le 300
check "the rest is still pending" test "$(rcli LLEN $P:q:pending)" = $((N - placed))

# Phase 2: workers complete tasks while both schedulers keep placing.
"$RQ" worker n1 w1 1000 4 3000 $N >"$T/w1.out" 2>&1 & w1=$!
"$RQ" worker n2 w2 1200 3 3000 $N >"$T/w2.out" 2>&1 & w2=$!
"$RQ" worker n3 w3 800 2 3000 $N >"$T/w3.out" 2>&1 & w3=$!
"$RQ" placer Mem 8 0 $N >"$T/p3.out" 2>&1 & p3=$!
"$RQ" placer ActiveServers 1 0 $N >"$T/p4.out" 2>&1 & p4=$!
bad=0
for i in $(seq 1 5); do
  sleep 0.3
  "$RQ" audit >>"$T/audit2.out" 2>&1 || bad=$((bad + 1))
done
rc=0
for p in $w1 $w2 $w3 $p3 $p4; do wait_pid $p 120 || rc=1; done
check "workers and schedulers finished" test $rc = 0
check "audits while draining all consistent" test "$bad" = 0
check "every task done exactly once, nothing else recorded" "$RQ" verify $N
for n in n1 n2 n3; do
  check "$n: all capacity back" test "$(rcli HGET $P:node:$n cap)" = "$(rcli HGET $P:node:$n cap_total)"
  check "$n: run_count back to 0" test "$(rcli HGET $P:node:$n run_count)" = 0
done
done_sum=$(cat "$T"/w?.out | awk '{s += $4} END {print s}')
check "workers completed $N tasks between them ($done_sum)" test "$done_sum" = $N
