#!/usr/bin/env bash
# tracekit scheduler under faults: a worker that stops heartbeating is
# reaped and its tasks are placed elsewhere; Redis killed for longer than
# rq's own retry budget (30 s) does not make the scheduler exit, spin or
# spam its log, and it resumes when Redis is back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start
export TRACEKIT_REDIS_URL=$RQ_URL
LOGS=$T/logs
export RQ_RUN=faults

placed() { "$RQ" counts | python3 -c 'import json,sys; print(json.load(sys.stdin)["placed"])'; }
wait_placed() {  # N SECONDS
  local i
  for i in $(seq 1 $(($2 * 10))); do
    [ "$(placed 2>/dev/null)" -ge "$1" ] 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

$TRACEKIT scheduler --run-id faults --logs "$LOGS" >"$T/s.out" 2>"$T/s.log" &
SP=$!
track_pid $SP

# ---- (c) a worker that never heartbeats ----
# n1's worker registers with a 3 s liveness TTL and never renews it.  First
# fit puts all three tasks on n1; the fake worker takes task 1 (running).
printf '{"cpu_units": 1}\n{"cpu_units": 1}\n{"cpu_units": 1}\n' >"$T/three.jsonl"
"$RQ" enqueue-file "$T/three.jsonl" >/dev/null
"$RQ" register n1 w1 3 0 3000
t0=$(date +%s%N)
check "the tasks are placed on n1" wait_placed 3 20
check "w1 takes task 1" test "$("$RQ" take n1 w1)" = "1 1"
"$RQ" register n2 w2 4 0 600000
# n1's liveness expires 3 s after registration; the scheduler reaps every
# 200 ms and places the three tasks again, on n2.
check "after n1's worker went silent, its tasks are placed again" wait_placed 6 20
secs=$(( ($(date +%s%N) - t0) / 1000000000 ))
check "... within a few seconds of the 3 s TTL (${secs} s <= 10)" test $secs -le 10
py "
import json
recs = [json.loads(l) for l in open('$LOGS/faults/placements.jsonl')]
got = [(r['task_id'], r['node']) for r in recs]
assert got == [(1, 'n1'), (2, 'n1'), (3, 'n1'), (1, 'n2'), (2, 'n2'), (3, 'n2')], got
" && ok "placements: 1-3 on n1, then 1-3 on n2" || not_ok "placements: 1-3 on n1, then 1-3 on n2"
check "the reap is logged with its counts" \
  grep -q "reaped 1 dead worker(s): 3 task(s) requeued, 0 sent to the dead-letter list" "$T/s.log"
check "n1's capacity is back, nothing committed there" test "$(rcli HGET tk:faults:node:n1 run_count)" = 0
# take and complete one at a time (each driver call is a new process that
# holds nothing, so an uncompleted take would be handed out again)
for i in 1 2 3; do
  "$RQ" take n2 w2 >"$T/take"
  cat "$T/take" >>"$T/takes"
  read -r id a <"$T/take"
  "$RQ" complete w2 "$id" "$a" >/dev/null
done
check "task 1 is delivered again as attempt 2" grep -qx "1 2" "$T/takes"
check "w1's late completion of attempt 1 changes nothing" test "$("$RQ" complete w1 1 1)" = superseded
check "all three done exactly once" "$RQ" verify 3

# ---- Redis down for longer than rq's retry budget ----
lines_before=$(wc -l <"$T/s.log")
ticks_before=$(cpu_ticks $SP)
redis_kill9
sleep 38
check "Redis gone for 38 s: the scheduler is still running" kill -0 $SP
ticks=$(( $(cpu_ticks $SP) - ticks_before ))
hz=$(getconf CLK_TCK)
check "... without spinning (CPU $ticks ticks of $((38 * hz)) in 38 s)" test $ticks -lt $((4 * hz))
new_lines=$(( $(wc -l <"$T/s.log") - lines_before ))
check "... nor spamming its log ($new_lines lines in 38 s)" test $new_lines -le 8
check "... and said that it retries" grep -q "retrying" "$T/s.log"
redis_spawn   # same port, empty data set (this test server has no persistence)
"$RQ" register n3 w3 2 0 600000
"$RQ" enqueue-file "$T/three.jsonl" >/dev/null
check "Redis back: the scheduler places new work" wait_placed 2 30
check "... on n3 (2 units), the third waits" test "$(rcli LLEN tk:faults:q:pending)" = 1
check "... audit consistent" "$RQ" audit
kill -TERM $SP
wait_pid $SP 30
check "SIGTERM: exit 0" test $? = 0
check "the stats line counts the reaped worker" grep -q "reaped 1 worker(s) (3 task(s) requeued" "$T/s.log"
check "no password in the log" bash -c "! grep -qF '$REDIS_PW' '$T/s.log'"
