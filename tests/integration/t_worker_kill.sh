#!/bin/bash
# tracekit worker under faults: kill -9 mid-task and a second worker on the
# same node (the task runs again as attempt 2, same trace id, counted once);
# one live worker per node; a paused worker that was reaped is fenced and
# registers again; --grace stops running tasks and hands them back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start

export RQ_RUN=wk2
P=tk:$RQ_RUN
W=(env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" worker --run-id "$RQ_RUN"
   --logs "$T/logs" --ttl 1 --cpu-binding none --node-id n1)
R=$T/logs/$RQ_RUN

# wait_for SECONDS COMMAND...: poll until the command succeeds
wait_for() {
  local n=$(($1 * 10)) i; shift
  for i in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}
running() { test "$(rcli LLEN "$P:inflight:$1")" = 1; }
owner() { rcli HGET "$P:node:n1" worker; }
no_owner() { test -z "$(owner)"; }

# the placer places and reaps (every 200 ms) until 3 tasks finished
"$RQ" placer Mem 1 0 3 >"$T/placer.out" 2>&1 & pl=$!
track_pid "$pl"

# ---- kill -9 mid-task, then a second worker on the same node ----
id1=$("$RQ" enqueue-json '{"argv": ["sleep", "3"], "app": "victim"}')
"${W[@]}" 2>"$T/wa.err" & wa=$!
track_pid "$wa"
check "worker A runs the task" wait_for 30 running "n1:$wa"
# The task is in flight as soon as the worker takes it; its `tracekit exec`
# has started the command once the sentinel (PID file) exists.  A kill
# before that is another case: exec sees its parent gone and never starts.
started() { [ -n "$(ls "$R/pids" 2>/dev/null)" ]; }
check "... and its exec started the command" wait_for 30 started
"${W[@]}" 2>"$T/busy.err"; rc=$?
check "a second live worker for n1: exit 1" test "$rc" = 1
grep -q "node n1 is owned by worker n1:$wa, which is alive" "$T/busy.err" \
  && ok "a second live worker: clear message" || not_ok "busy message: $(cat "$T/busy.err")"
kill -9 "$wa"; wait "$wa" 2>/dev/null
check "the reaper notices the dead worker" wait_for 20 no_owner
"${W[@]}" --clear-queue 2>"$T/wb.err" & wb=$!
track_pid "$wb"
check "worker B finishes the task" wait_for 60 sh -c "'$RQ' results | grep -q '\"task_id\": $id1,'"
"$RQ" results >"$T/ledger"
trace=$(rcli HGET "$P:task:$id1" trace)
py '
import json, sys, glob
led = [r for r in map(json.loads, open(sys.argv[1])) if r["task_id"] == int(sys.argv[2])]
assert len(led) == 1, led
r = led[0]
assert r["status"] == "done" and r["attempt"] == 2 and r["trace_id"] == sys.argv[3], r
assert r["worker"] == "n1:" + sys.argv[4], r
ev = [json.loads(l) for l in open(sys.argv[5] + "/events.victim.jsonl")]
a2 = [e for e in ev if e["attempt"] == 2]
assert len(a2) == 1 and a2[0]["trace_id"] == sys.argv[3] and a2[0]["status"] == 0, ev
# attempt 1 did not go on without its worker: exec --parent-pid stopped it
# (SIGTERM, recorded), or, when the worker died before exec had armed its
# parent-death signal, exec saw its parent gone and never started it
a1 = [e for e in ev if e["attempt"] == 1]
if a1:
    assert len(a1) == 1 and a1[0]["trace_id"] == sys.argv[3] and a1[0]["signal"] == 15, a1
else:
    log = open("%s/task-output/task-%s.a1.log" % (sys.argv[5], sys.argv[2])).read()
    assert "is gone; not starting the task" in log, log
' "$T/ledger" "$id1" "$trace" "$wb" "$R" \
  && ok "kill -9: attempt 1 was stopped with its worker, attempt 2 ran with the same trace id, counted once" \
  || not_ok "kill -9 ledger: $(cat "$T/ledger")"

# ---- a paused worker is reaped, then fenced: stops its task, registers again ----
id2=$("$RQ" enqueue-json '{"argv": ["sleep", "6"], "app": "paused"}')
check "worker B runs the second task" wait_for 30 running "n1:$wb"
kill -STOP "$wb"
check "the paused worker is reaped" wait_for 20 no_owner
kill -CONT "$wb"
check "worker B registers again as n1:$wb.1" wait_for 20 sh -c "test \"\$(REDISCLI_AUTH=$REDIS_PW redis-cli -p $REDIS_PORT HGET $P:node:n1 worker)\" = n1:$wb.1"
check "the task is done after the fence" wait_for 60 sh -c "'$RQ' results | grep -q '\"task_id\": $id2,'"
"$RQ" results | py '
import json, sys
r = [r for r in map(json.loads, sys.stdin) if r["task_id"] == int(sys.argv[1])]
assert len(r) == 1 and r[0]["status"] == "done" and r[0]["attempt"] == 2, r
assert r[0]["worker"] == "n1:" + sys.argv[2] + ".1", r
' "$id2" "$wb" && ok "fenced: the task counted once, as attempt 2 of the new registration" \
  || not_ok "fence ledger: $("$RQ" results | tail -1)"
grep -q "was fenced" "$T/wb.err" && ok "fence logged" || not_ok "fence log: $(cat "$T/wb.err")"
py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.paused.jsonl")]
a1 = [e for e in ev if e["attempt"] == 1]
assert len(a1) == 1 and a1[0]["status"] != 0, ev   # stopped by the fence
' "$R" && ok "fenced: the superseded attempt was stopped" || not_ok "fence events: $(cat "$R/events.paused.jsonl")"

# ---- --grace: SIGTERM waits at most that long, then stops the task and hands it back ----
kill -TERM "$wb"; wait_pid "$wb" 30
"${W[@]}" --grace 0.5 2>"$T/wc.err" & wc=$!
track_pid "$wc"
id3=$("$RQ" enqueue-json '{"argv": ["sleep", "30"], "app": "long"}')
check "worker C runs the long task" wait_for 30 running "n1:$wc"
start=$(date +%s%N)
kill -TERM "$wc"
wait_pid "$wc" 30; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "--grace: exit 0" test "$rc" = 0
check "--grace: stopped within 10 s ($ms ms)" test "$ms" -lt 10000
check "--grace: the task is back in q:pending, not in the ledger" \
  sh -c "test \"\$(REDISCLI_AUTH=$REDIS_PW redis-cli -p $REDIS_PORT LRANGE $P:q:pending 0 -1)\" = $id3 && ! '$RQ' results | grep -q '\"task_id\": $id3,'"
check "--grace: capacity returned" test "$(rcli HGET "$P:node:n1" cap)" = "$(rcli HGET "$P:node:n1" cap_total)"
check "audit consistent" "$RQ" audit
kill "$pl" 2>/dev/null
