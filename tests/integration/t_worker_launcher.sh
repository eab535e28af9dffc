#!/bin/bash
# tracekit worker's task launcher (issue 21 item 5): one `tracekit exec
# --launcher` per worker starts every task's exec as a fork of itself, so
# tracekit is exec'd once per worker, not once per task (seen through /proc:
# each task's exec process carries the launcher's command line, and the
# worker keeps one launcher); the records are exec's as before; kill -9 of
# the launcher: the task in flight goes on and is recorded, later tasks
# still run, a new launcher starts; kill -9 of the worker still ends a task
# through the parent-death signal.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rq_lib.sh"
. "$(dirname "$0")/launcher_lib.sh"
rq_require
redis_start

export RQ_RUN=wl1
P=tk:$RQ_RUN
W=(env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" worker --run-id "$RQ_RUN"
   --logs "$T/logs" --ttl 1 --cpu-binding none --node-id n1 --capacity-units 2)
R=$T/logs/$RQ_RUN

wait_for() {
  local n=$(($1 * 10)) i; shift
  for i in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}
# a task's command runs once exec wrote its sentinel (pids/PID)
started() { [ -n "$(ls "$R/pids" 2>/dev/null)" ]; }
probe_task() { python3 -c 'import json,sys; print(json.dumps({"argv": ["sh", "-c", sys.argv[1]], "app": "probe"}))' "$PROBE"; }

"$RQ" placer Mem 1 0 19 >"$T/placer.out" 2>&1 & pl=$!
track_pid "$pl"
"${W[@]}" 2>"$T/w.err" & wp=$!
track_pid "$wp"
check "the worker registers" wait_for 30 sh -c "test -n \"\$(REDISCLI_AUTH=$REDIS_PW redis-cli -p $REDIS_PORT HGET $P:node:n1 worker)\""

# ---- 12 tasks: one launcher, no exec of tracekit per task ----
for _ in $(seq 12); do "$RQ" enqueue-json "$(probe_task)" >>"$T/ids"; done
check "12 tasks done" wait_for 60 sh -c "test \"\$('$RQ' results | grep -c '\"status\": \"done\"')\" = 12"
l1=$(launchers "$wp")
check "the worker has one task launcher (${l1:-none})" test "$(echo "$l1" | grep -c .)" = 1
cat "$R"/task-output/task-*.a1.log >"$T/probe.out" 2>/dev/null
probe_forks "$T/probe.out" "$wp" 12 \
  && ok "each task's exec is a fork of the launcher and a child of the worker (no exec of tracekit per task)" \
  || not_ok "task processes: $(head -c 400 "$T/probe.out")"
py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.probe.jsonl")]
assert len(ev) == 12, len(ev)
assert all(e["status"] == 0 and e["attempt"] == 1 and e.get("exec_id") for e in ev), ev
assert len({e["exec_id"] for e in ev}) == 12, ev
assert all(e["cpu_user_ms"] is not None and e["ts_end"] >= e["ts_start"] for e in ev), ev
' "$R" && ok "12 records by exec, each with its own exec id" \
  || not_ok "records: $(head -c 600 "$R/events.probe.jsonl")"
l1b=$(launchers "$wp")
check "the same launcher (pid $l1) is still there, reused" test -n "$l1" -a "$l1b" = "$l1"

# ---- kill -9 of the launcher with a task in flight ----
sleep 5.2   # the launcher has lived over 5 s: it is started again with the next task
"$RQ" enqueue-json '{"argv": ["sh", "-c", "sleep 1.5; echo slept"], "app": "inflight"}' >"$T/id_inflight"
check "the in-flight task runs" wait_for 30 started
[ -n "$l1" ] && kill -9 "$l1"
check "the in-flight task is done after the launcher died" wait_for 30 sh -c "test \"\$('$RQ' results | grep -c '\"status\": \"done\"')\" = 13"
py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.inflight.jsonl")]
assert len(ev) == 1 and ev[0]["status"] == 0 and ev[0]["ts_end"] - ev[0]["ts_start"] >= 1400, ev
' "$R" && ok "... and recorded by its exec (status 0, the whole 1.5 s)" \
  || not_ok "in-flight record: $(cat "$R/events.inflight.jsonl" 2>&1)"
check "the worker says the launcher ended" wait_for 10 grep -q "the task launcher (pid $l1) ended" "$T/w.err"
for _ in 1 2 3; do "$RQ" enqueue-json '{"argv": ["true"], "app": "after"}' >/dev/null; done
check "tasks after the launcher's death are done" wait_for 30 sh -c "test \"\$('$RQ' results | grep -c '\"status\": \"done\"')\" = 16"
l2=$(launchers "$wp")
check "a new launcher runs (${l2:-none}, was $l1)" sh -c "test -n '$l2' && test '$l2' != '$l1'"
check "the worker is alive" kill -0 "$wp"

# ---- kill -9 of the worker: its task ends (parent-death), the launcher too ----
"$RQ" enqueue-json '{"argv": ["sleep", "30"], "app": "orphan"}' >/dev/null
check "the long task runs" wait_for 30 started
kill -9 "$wp"; wait "$wp" 2>/dev/null
check "the task's exec recorded it ended by SIGTERM" wait_for 20 test -s "$R/events.orphan.jsonl"
py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.orphan.jsonl")]
assert len(ev) == 1 and ev[0]["signal"] == 15, ev
' "$R" && ok "kill -9 of the worker: the task stopped through the parent-death signal" \
  || not_ok "orphan record: $(cat "$R/events.orphan.jsonl" 2>&1)"
check "the launcher is gone with its worker" wait_for 10 sh -c "! kill -0 $l2 2>/dev/null"

# ---- a log file ($TRACEKIT_LOG_FILE) stays exec's in the task processes ----
env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" TRACEKIT_LOG_FILE="$T/all.log" "$TRACEKIT" worker \
  --run-id "$RQ_RUN" --logs "$T/logs" --ttl 1 --cpu-binding none --node-id n2 --grace 0.5 \
  2>"$T/w2.err" & w2=$!  # (--grace: it may get the orphan task again)
track_pid "$w2"
for _ in 1 2 3; do
  "$RQ" enqueue-json '{"argv": ["no-such-command-tk"], "app": "missing"}' >/dev/null
done
check "three tasks of a missing command end as failed" wait_for 60 sh -c "test \"\$('$RQ' results | grep -c '\"status\": \"failed\"')\" = 3"
check "... each exec logged why into the log file" \
  test "$(grep -c "^[^ ]* error exec: cannot run 'no-such-command-tk'" "$T/all.log")" = 3
py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.missing.jsonl")]
assert len(ev) == 3 and all(e["status"] == 127 for e in ev), ev
' "$R" && ok "... and the records are whole (status 127)" \
  || not_ok "missing records: $(cat "$R/events.missing.jsonl" 2>&1)"
kill -TERM "$w2"; wait_pid "$w2" 30 >/dev/null
kill "$pl" 2>/dev/null || true
