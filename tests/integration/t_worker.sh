#!/bin/bash
# tracekit worker against a real redis-server: generic tasks run through
# tracekit exec exactly once, --parallel is respected, the children never
# see the Redis URL, SIGTERM drains, a wrong password fails fast.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start

export RQ_RUN=wk1
W=(env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" worker --run-id "$RQ_RUN"
   --logs "$T/logs" --ttl 1 --cpu-binding none)
R=$T/logs/$RQ_RUN

# ---- N generic tasks, --parallel 2 ----
tasks=()
for i in 1 2 3 4; do tasks+=("{\"argv\": [\"sleep\", \"0.3\"], \"app\": \"sleeper\"}"); done
for k in 0 3 5; do tasks+=("{\"argv\": [\"sh\", \"-c\", \"exit $k\"], \"app\": \"shx\"}"); done
tasks+=("{\"argv\": [\"env\"], \"app\": \"envdump\"}")
tasks+=("{\"argv\": 7}")                                  # a bad body: failed, rc 127
N=${#tasks[@]}
"$RQ" enqueue-json "${tasks[@]}" >"$T/ids" || not_ok "enqueue"
check "$N tasks enqueued" test "$(wc -l <"$T/ids")" = "$N"

"${W[@]}" --node-id n1 --parallel 2 --capacity-units 4 2>"$T/w1.err" & wpid=$!
track_pid "$wpid"
"$RQ" placer Mem 4 0 "$N" >"$T/placer.out" 2>&1 & pl=$!
track_pid "$pl"
wait_pid "$pl" 60
check "placer saw all $N tasks finish" grep -q "^placed $N " "$T/placer.out"

"$RQ" results >"$T/ledger"
py '
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
ids = sorted(r["task_id"] for r in L)
assert ids == list(range(1, int(sys.argv[2]) + 1)), ids
by = {r["task_id"]: r for r in L}
for i in range(1, 5): assert by[i]["status"] == "done" and by[i]["rc"] == 0, by[i]
assert by[5]["status"] == "done" and by[5]["rc"] == 0
assert by[6]["status"] == "failed" and by[6]["rc"] == 3, by[6]
assert by[7]["status"] == "failed" and by[7]["rc"] == 5, by[7]
assert by[8]["status"] == "done"
assert by[9]["status"] == "failed" and by[9]["rc"] == 127, by[9]
assert all(r["node"] == "n1" and r["attempt"] == 1 for r in L)
' "$T/ledger" "$N" && ok "ledger: every task once, with its rc and status" || not_ok "ledger: $(cat "$T/ledger")"
check "audit consistent" "$RQ" audit
grep -q "task 9: 'argv' must be a non-empty array of strings; completing it as failed" "$T/w1.err" \
  && ok "a bad body is logged with its task id and reason" || not_ok "bad body message: $(cat "$T/w1.err")"

# events records: one per run task, trace id and attempt as in Redis
py '
import json, sys, glob
ev = []
for f in glob.glob(sys.argv[1] + "/events.*.jsonl"):
    ev += [json.loads(l) for l in open(f)]
led = {r["trace_id"]: r for r in map(json.loads, open(sys.argv[2]))}
assert len(ev) == 8, len(ev)
for e in ev:
    r = led[e["trace_id"]]
    assert e["attempt"] == r["attempt"] == 1 and e["node"] == "n1", e
    assert e["status"] == r["rc"], (e, r)
    assert e["ts_enqueue"] == r["ts_enqueue"], (e, r)
# --parallel 2: never three tasks at once
pts = sorted([(e["ts_start"], 1) for e in ev] + [(e["ts_end"], -1) for e in ev], key=lambda x: (x[0], x[1]))
cur = peak = 0
for _, d in pts:
    cur += d; peak = max(peak, cur)
assert peak <= 2, peak
sl = [e for e in ev if e["app"] == "sleeper"]
assert len(sl) == 4
' "$R" "$T/ledger" && ok "events: one record per task, same trace id/attempt/rc; at most 2 at once" \
  || not_ok "events records"

# the child's environment: no URL, no password anywhere
envlog=$(ls "$R"/task-output/task-8.a1.log 2>/dev/null)
if [ -n "$envlog" ] && grep -q '^PATH=' "$envlog"; then
  expect_fail "task environment has no TRACEKIT_REDIS_URL" grep -q TRACEKIT_REDIS_URL "$envlog"
  expect_fail "task output has no password" grep -qF "$REDIS_PW" "$envlog"
else
  not_ok "env task output missing: $(ls "$R/task-output" 2>&1)"
fi
expect_fail "worker log has no password" grep -qF "$REDIS_PW" "$T/w1.err"
grep -q "worker run=[^ ]* node=n1 queue=q:n1 redis=redis://:\*\*\*@127.0.0.1:$REDIS_PORT/0 parallel=2 capacity_units=4" "$T/w1.err" \
  && ok "start-up line" || not_ok "start-up line: $(head -3 "$T/w1.err")"
check "clock.jsonl has a record" py '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert r and r[0]["node"] == "n1" and r[0]["ref"] == "redis" and abs(r[0]["offset_ms"]) < 1000 and r[0]["rtt_ms"] >= 0
' "$R/clock.jsonl"

# ---- an ffmpeg task (the original's fields) with --outputs; n1 runs with its own path ----
if command -v ffmpeg >/dev/null; then
  (cd "$T" && "$TRACEKIT" gen-inputs --output in --durations 1 --sizes 96x64 >/dev/null) || not_ok "gen-inputs"
  fid=$("$RQ" enqueue-json "{\"input\": \"$T/in/gen_96x64_1s.mp4\", \"output\": \"$T/out/sub/clip_h264.mp4\", \"_seq\": 0, \"scale\": \"64:48\", \"vcodec\": \"h264\", \"preset\": \"ultrafast\", \"crf\": 35, \"vthreads\": 1, \"fthreads\": 1, \"cpu_units\": 1}")
  "$RQ" place n1 >/dev/null || not_ok "place the ffmpeg task"
  for i in $(seq 1 300); do "$RQ" results | grep -q "\"task_id\": $fid," && break; sleep 0.1; done
  "$RQ" results | grep "\"task_id\": $fid," | grep -q '"status": "done"' \
    && ok "ffmpeg task done" || not_ok "ffmpeg task: $(cat "$R/task-output/task-$fid.a1.log" 2>&1 | tail -5)"
  check "ffmpeg output written where the task said (folder created)" test -s "$T/out/sub/clip_h264.mp4"
  py '
import json, sys
e = [json.loads(l) for l in open(sys.argv[1] + "/events.ffmpeg.jsonl")][-1]
a = e["argv"]
assert a[:3] == ["ffmpeg", "-y", "-nostdin"] and "scale=64:48" in a and "libx264" in a, a
assert a[a.index("-threads:v") + 1] == "1" and a[a.index("-crf") + 1] == "35", a
assert e["bytes_in"] > 0 and e["bytes_out"] > 0 and e["output"] == "clip_h264.mp4", e
' "$R" && ok "ffmpeg task: the original command line, bytes in/out in its record" || not_ok "ffmpeg record: $(tail -1 "$R/events.ffmpeg.jsonl")"
else
  skip "ffmpeg not installed"
fi

# ---- SIGTERM drain: the running task finishes; nothing new is taken ----
long=$("$RQ" enqueue-json '{"argv": ["sleep", "1.5"]}')
"$RQ" place n1 >/dev/null || not_ok "place for the drain"
for i in $(seq 1 100); do   # wait until it runs
  [ -e "$R/task-output/task-$long.a1.log" ] && break; sleep 0.05
done
kill -TERM "$wpid"
sleep 0.3                   # the worker is draining, still registered
late=$("$RQ" enqueue-json '{"argv": ["sleep", "0.1"]}')
"$RQ" place n1 >"$T/place.out" 2>&1
wait_pid "$wpid" 30; rc=$?
check "SIGTERM: worker exits 0" test "$rc" = 0
"$RQ" results >"$T/ledger2"
py '
import json, sys
by = {r["task_id"]: r for r in map(json.loads, open(sys.argv[1]))}
assert by[int(sys.argv[2])]["status"] == "done", by
assert int(sys.argv[3]) not in by, by
' "$T/ledger2" "$long" "$late" && ok "SIGTERM: the running task finished and counted, a task placed during the drain did not run" \
  || not_ok "drain ledger: $(tail -2 "$T/ledger2")"
check "SIGTERM: the task placed during the drain is back in q:pending" \
  test "$(rcli LRANGE "tk:$RQ_RUN:q:pending" 0 -1)" = "$late"
check "SIGTERM: capacity of n1 returned" test "$(rcli HGET "tk:$RQ_RUN:node:n1" cap)" = 4
check "SIGTERM: run_count of n1 is 0" test "$(rcli HGET "tk:$RQ_RUN:node:n1" run_count)" = 0
check "SIGTERM: n1 unregistered" test "$(rcli HGET "tk:$RQ_RUN:node:n1" worker)" = ""
check "audit consistent after the drain" "$RQ" audit
grep -q "left: 1 task(s) handed back" "$T/w1.err" && ok "drain logged" || not_ok "drain log: $(tail -3 "$T/w1.err")"

# ---- exclusive binding, allocation ratio 2 on one CPU: one task pinned, one unpinned ----
cpu0=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
ids=$("$RQ" enqueue-json '{"argv": ["sleep", "1"], "app": "pin"}' '{"argv": ["sleep", "1"], "app": "pin"}')
taskset -c "$cpu0" env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" worker --run-id "$RQ_RUN" \
  --logs "$T/logs" --ttl 1 --node-id n2 --allocation-ratio 2 --mem-mb 512 \
  --task-output null 2>"$T/w2.err" & w2=$!
track_pid "$w2"
# place the late task (head of q:pending) and both pins as soon as n2 has room
placed=0
for i in $(seq 1 200); do
  "$RQ" place n2 >/dev/null 2>&1 && placed=$((placed + 1))
  [ "$placed" = 3 ] && break
  sleep 0.05
done
check "the late task and both pins placed on n2" test "$placed" = 3
for i in $(seq 1 100); do   # both pins finished
  [ "$(grep -c . "$R/events.pin.jsonl" 2>/dev/null)" = 2 ] && break; sleep 0.1
done
kill -TERM "$w2"; wait_pid "$w2" 30
check "--mem-mb 512 registered" test "$(rcli HGET "tk:$RQ_RUN:node:n2" mem_total)" = 512
pin_ids=$(echo $ids)
check "--task-output null: no output files for n2's tasks" \
  sh -c "! ls '$R/task-output/' | grep -qE '^task-(${pin_ids// /|})\.a'"
grep -q "capacity_units=2 phys_cores=1 ratio=2" "$T/w2.err" && grep -q "2 slots on 1 CPUs with exclusive binding" "$T/w2.err" \
  && ok "ratio 2 on one CPU: 2 units, the start-up line says what exclusive binding will do" \
  || not_ok "ratio start-up: $(cat "$T/w2.err")"
py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.pin.jsonl")]
assert len(ev) == 2, ev
assert ev[0]["ts_start"] < ev[1]["ts_end"] and ev[1]["ts_start"] < ev[0]["ts_end"], "no overlap"
b = sorted(e["cpu_binding"] for e in ev)
assert b == ["exclusive", "none"], b
assert [e["cpuset"] for e in ev if e["cpu_binding"] == "exclusive"] == [sys.argv[2]], ev
' "$R" "$cpu0" && ok "ratio 2, exclusive: the task beyond the free CPUs runs unpinned and its record says none" \
  || not_ok "pin records: $(cat "$R/events.pin.jsonl" "$T/w2.err"; "$RQ" results | tail -4)"

# ---- parse: the node's latest clock offset in CTS/nodes.json ----
"$TRACEKIT" parse --dir "$R" --node-id n1 --quiet >"$T/parse.out" 2>&1 || not_ok "parse: $(cat "$T/parse.out")"
py '
import json, sys
n = json.load(open(sys.argv[1] + "/CTS/nodes.json"))[0]
last = [r for r in map(json.loads, open(sys.argv[1] + "/clock.jsonl")) if r["node"] == "n1"][-1]
assert n["node_id"] == "n1" and n["clock_ref"] == "redis", n
assert n["clock_offset_ms"] == last["offset_ms"] and n["clock_rtt_ms"] == last["rtt_ms"], (n, last)
' "$R" && ok "parse: nodes.json has the worker clock offset and round trip" || not_ok "nodes.json: $(cat "$R/CTS/nodes.json")"

# ---- wrong password: exit 1 at once, no password in the message ----
badurl="redis://:wrong-$REDIS_PW-x@127.0.0.1:$REDIS_PORT/0"
env -u RQ_URL TRACEKIT_REDIS_URL="$badurl" "$TRACEKIT" worker --run-id x --logs "$T/logs" \
  --node-id n9 >"$T/bad.out" 2>&1; rc=$?
check "wrong password: exit 1" test "$rc" = 1
grep -q "authentication failed" "$T/bad.out" && ok "wrong password: clear message" || not_ok "message: $(cat "$T/bad.out")"
expect_fail "wrong password: not in the message" grep -qF "wrong-$REDIS_PW" "$T/bad.out"

# ---- usage errors ----
"$TRACEKIT" worker --run-id x --cpu-binding pinned >"$T/u.out" 2>&1; rc=$?
check "bad --cpu-binding: exit 2" test "$rc" = 2
check "bad --cpu-binding: names the value" grep -q "'pinned'" "$T/u.out"
env -u RUN_ID "$TRACEKIT" worker --logs "$T/logs" >"$T/u2.out" 2>&1; rc=$?
check "no run id: exit 2" test "$rc" = 2
"$TRACEKIT" worker --help >"$T/help.out" && grep -q -- "--clear-queue" "$T/help.out" && ok "worker --help" || not_ok "worker --help"
