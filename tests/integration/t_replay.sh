#!/usr/bin/env bash
# tracekit replay: the model of OpenDC's replay on a real tracekit local run
# exported (its 1-s slots make the makespan at least the run's rounded up to
# them; 1-ms slots bring it close to the measured run), its outputs, the
# policy and scaling taken from experiment.json, usage errors, and OpenDC's
# own 1K-task fixture.
. "$(dirname "$0")/lib.sh"
cd "$T"

for i in 1 2 3 4 5 6; do echo '{"argv": ["sleep", "0.3"], "cpu_units": 1, "app": "s"}'; done >tasks.jsonl
"$TRACEKIT" local --run-id r1 --logs logs --tasks tasks.jsonl --nodes a --capacity-units 2 \
  --interval-ms 100 --quiet 2>local.err ||
  { not_ok "local run: $(tail -3 local.err)"; exit 0; }
"$TRACEKIT" parse --run-id r1 --logs logs --quiet
"$TRACEKIT" export opendc --input logs/r1 --output odc --quiet 2>export.err ||
  { not_ok "export: $(tail -3 export.err)"; exit 0; }
measured=$(py '
import json
L = [json.loads(l) for l in open("logs/r1/CTS/invocations.jsonl")]
print(max(l["ts_end"] for l in L) - min(l["ts_enqueue"] for l in L))')
echo "# measured makespan $measured ms"

"$TRACEKIT" replay --input odc --json --output slots.jsonl >slots.json 2>replay.err
check "replay runs on the export" test $? -eq 0
check "replay: the policy and scaling of experiment.json" sh -c \
  "'$TRACEKIT' replay --input odc | grep -q 'policy filter (experiment.json), scaling NoDelay (experiment.json)'"
check "replay --json: 6 tasks completed, one host" py '
import json
d = json.load(open("slots.json"))
assert d["tasks"] == 6 and d["completed"] == 6 and d["terminated"] == 0 and d["dropped"] == 0, d
assert len(d["hosts"]) == 1 and 0 < d["hosts"][0]["busy"] <= 1, d
assert d["quantum_ms"] == 1000 and d["scaling"] == "NoDelay", d'
check "replay: makespan at least the run rounded up to the 1-s slots" py "
import json, math
d = json.load(open('slots.json'))
print('# predicted', d['makespan_ms'], 'ms on 1-s slots')
assert d['makespan_ms'] >= math.ceil($measured / 1000) * 1000, d['makespan_ms']"
check "replay --output: one line per task of the export, starts on slots" py '
import json
L = [json.loads(l) for l in open("slots.jsonl")]
assert len(L) == 6 and len({l["id"] for l in L}) == 6, L
for l in L:
    assert set(l) == {"id", "host", "submission_ms", "start_ms", "finish_ms", "state"}, l
    assert l["state"] == "COMPLETED" and l["host"] == L[0]["host"], l
    assert l["start_ms"] % 1000 == 0 and l["submission_ms"] <= l["start_ms"] < l["finish_ms"], l
assert min(l["submission_ms"] for l in L) == 0'
# Without the slots only the real dispatcher's gaps between one task's end
# and the next one's start (not in the workload) separate the two.
check "replay --quantum-ms 1: within 25% of the measured run, closer than with slots" sh -c "
'$TRACEKIT' replay --input odc --quantum-ms 1 --json >q1.json && python3 -c \"
import json
p = json.load(open('q1.json'))['makespan_ms']
s = json.load(open('slots.json'))['makespan_ms']
print('# predicted', p, 'ms on 1-ms slots, measured', $measured)
assert abs(p - $measured) <= max(0.25 * $measured, 150) and abs(p - $measured) < abs(s - $measured), p\""
check "replay --scaling perfect --policy Mem" sh -c \
  "'$TRACEKIT' replay --input odc --scaling perfect --policy Mem --json | grep -q '\"policy\":\"Mem\",\"scaling\":\"Perfect\"'"
cat >pol.json <<'P'
{"type": "filter", "filters": [{"type": "compute"}, {"type": "vcpu"}], "weighers": [{"type": "ram", "multiplier": -1}]}
P
check "replay --policy FILE" "$TRACEKIT" replay --input odc --policy pol.json --json

# ---- errors ----
"$TRACEKIT" replay --input odc --policy NoSuchPrefab >/dev/null 2>err; rc=$?
check "an unknown prefab: exit 1, named" sh -c "test $rc -eq 1 && grep -q NoSuchPrefab err"
"$TRACEKIT" replay --input odc --scaling fast >/dev/null 2>err; rc=$?
check "a bad --scaling: usage error" test "$rc" -eq 2
"$TRACEKIT" replay >/dev/null 2>err; rc=$?
check "no --input: usage error" test "$rc" -eq 2
mkdir empty
"$TRACEKIT" replay --input empty >/dev/null 2>err; rc=$?
check "a folder without a workload: exit 1" test "$rc" -eq 1

# ---- OpenDC's own fixture ----
FIX=/work/shared/fixtures/opendc/taskScaling_1K_tasks
if [ -f "$FIX/tasks.parquet" ]; then
  cat >topo.json <<'P'
{"clusters": [{"name": "C", "hosts": [{"name": "H", "count": 8, "cpu": {"coreCount": 16, "coreSpeed": "2.1 GHz"}, "memory": {"size": "128 GiB"}}]}]}
P
  check "replay of OpenDC's 1K-task fixture: every task completes" sh -c \
    "'$TRACEKIT' replay --input '$FIX' --topology topo.json --json | grep -q '\"tasks\":1000,\"completed\":1000'"
else
  skip "OpenDC's 1K-task fixture: $FIX is not on this machine"
fi

# ---- --compare and the export's line ----
"$TRACEKIT" replay --input odc --quantum-ms 1 --compare logs/r1 --json >cmp.json 2>cmp.err
check "replay --compare: all tasks joined, figures against the run" py "
import json
c = json.load(open('cmp.json'))['compare']
assert c['matched'] == 6 and c['makespan_measured_ms'] == $measured, c
assert c['makespan_predicted_ms'] == json.load(open('q1.json'))['makespan_ms'], c
assert abs(c['makespan_error_pct'] - 100.0 * (c['makespan_predicted_ms'] - $measured) / $measured) < 1e-6, c
assert 0 <= c['start_mae_ms'] < 300 and 0 <= c['finish_mae_ms'] < 300, c
assert set(c['wait_mean_ms']) == {'measured', 'predicted'}, c"
"$TRACEKIT" replay --input odc --compare empty >/dev/null 2>err; rc=$?
check "replay --compare on a folder without the run: exit 1" test "$rc" -eq 1
"$TRACEKIT" export opendc --input logs/r1 --output odc2 >export.out 2>&1
check "export prints the predicted makespan beside the measured one" \
  grep -q "makespan .* s; measured .* s" export.out
check "export warns above 5%, naming the 1-s slots" grep -q "WARNING: OpenDC's makespan .* 1-s scheduling slots" export.out

# ---- --opendc-output: OpenDC's output columns and time bases ----
make -C "$ROOT" -s build/bench/parquet/pqcat >make.log 2>&1 || not_ok "build pqcat: $(tail -3 make.log)"
"$TRACEKIT" replay --input odc --opendc-output pout --output slots2.jsonl >/dev/null 2>pout.err
check "replay --opendc-output writes task.parquet and host.parquet" test -s pout/task.parquet -a -s pout/host.parquet
"$ROOT/build/bench/parquet/pqcat" pout/task.parquet >task.json && "$ROOT/build/bench/parquet/pqcat" pout/host.parquet >host.json
check "task.parquet: OpenDC's columns, types and time bases" py '
import json
d = json.load(open("task.json"))
types = {s["name"]: (s["type"], s["repetition"]) for s in d["schema"]}
for c, t in {"task_id": "INT32", "timestamp": "INT64", "timestamp_absolute": "INT64", "host_name": "BYTE_ARRAY",
             "task_state": "BYTE_ARRAY", "submission_time": "INT64", "schedule_time": "INT64",
             "finish_time": "INT64", "scheduling_delay": "INT64", "cpu_count": "INT32", "mem_capacity": "INT64"}.items():
    assert types[c][0] == t, (c, types[c])
rows = d["rows"]
t0 = min(int(r["submission_time"]) for r in rows)
out = {l["id"]: l for l in map(json.loads, open("slots2.jsonl"))}
for r in rows:
    o = out[int(r["task_id"])]
    assert int(r["timestamp_absolute"]) - int(r["timestamp"]) == t0, r   # sim ms + earliest submission
    assert int(r["submission_time"]) - t0 == o["submission_ms"], r        # epoch ms, not simulated
    assert int(r["schedule_time"]) == o["start_ms"] and int(r["finish_time"]) == o["finish_ms"], r
    assert int(r["scheduling_delay"]) == o["start_ms"] - o["submission_ms"], r
    assert r["task_state"] == "COMPLETED" and r["host_name"] == o["host"], r'
check "host.parquet: one row per host, utilisation and core-ms" py '
import json
rows = json.load(open("host.json"))["rows"]
assert len(rows) == 1, rows
h = rows[0]
assert int(h["core_count"]) >= 1 and 0 < float(h["cpu_utilization"]) <= 1, h
assert int(h["cpu_time_active"]) + int(h["cpu_time_idle"]) == int(h["uptime"]) * int(h["core_count"]), h'

# ---- against an independent model (tests/tools/odc_model.py: time-stepped,
# written from ../shared/reference/opendc.md, not from replay.c) ----
"$ROOT/build/bench/parquet/pqcat" odc/tasks.parquet >mt.json && "$ROOT/build/bench/parquet/pqcat" odc/fragments.parquet >mf.json
for sc in nodelay perfect; do
  for q in 1000 1; do
    python3 "$ROOT/tests/tools/odc_model.py" mt.json mf.json odc/topology.json "$sc" "$q" >model.json
    "$TRACEKIT" replay --input odc --scaling "$sc" --quantum-ms "$q" --output mine.jsonl --json >mine.json
    check "replay agrees with the independent model on the run ($sc, $q-ms slots): makespan within 1%, finish within 50 ms" py '
import json
m = json.load(open("model.json")); r = json.load(open("mine.json"))
mine = {str(l["id"]): l["finish_ms"] for l in map(json.loads, open("mine.jsonl"))}
assert set(mine) == set(m["finish"]), (sorted(mine), sorted(m["finish"]))
err = sum(abs(mine[k] - v) for k, v in m["finish"].items()) / len(mine)
print("# model", m["makespan_ms"], "replay", r["makespan_ms"], "mean finish difference", err, "ms")
assert abs(r["makespan_ms"] - m["makespan_ms"]) <= 0.01 * m["makespan_ms"] and err <= 50, (r, m)'
  done
done

# Two hosts, queueing, head-of-line blocking (bench/replay/rpgen: 20 tasks of 1-4 cores, 2 x 30-s fragments).
make -C "$ROOT" -s build/bench/replay/rpgen >make.log 2>&1 || not_ok "build rpgen: $(tail -3 make.log)"
"$ROOT/build/bench/replay/rpgen" syn 20 2 2
"$ROOT/build/bench/parquet/pqcat" syn/tasks.parquet >mt.json && "$ROOT/build/bench/parquet/pqcat" syn/fragments.parquet >mf.json
for sc in nodelay perfect; do
  python3 "$ROOT/tests/tools/odc_model.py" mt.json mf.json syn/topology.json "$sc" 1000 >model.json
  "$TRACEKIT" replay --input syn --topology syn/topology.json --policy '{"type":"filter","filters":[{"type":"compute"},{"type":"vcpu"},{"type":"ram"}]}' \
    --scaling "$sc" --output mine.jsonl --json >mine.json
  check "replay agrees with the independent model on 2 busy hosts ($sc): makespan within 1%, finish within 50 ms" py '
import json
m = json.load(open("model.json")); r = json.load(open("mine.json"))
mine = {str(l["id"]): l["finish_ms"] for l in map(json.loads, open("mine.jsonl"))}
assert set(mine) == set(m["finish"])
err = sum(abs(mine[k] - v) for k, v in m["finish"].items()) / len(mine)
print("# model", m["makespan_ms"], "replay", r["makespan_ms"], "mean finish difference", err, "ms")
assert abs(r["makespan_ms"] - m["makespan_ms"]) <= 0.01 * m["makespan_ms"] and err <= 50, (r, m)'
done

# The six pinned sleeps asked for one CPU each and used almost none: each
# exports cpu_count 1 (a few ms of CPU in a few ms without samples once
# claimed two cores, and the replay serialised them).
"$ROOT/build/bench/parquet/pqcat" odc/tasks.parquet >counts.json
check "each pinned 1-unit task exports cpu_count 1" py '
import json
c = [int(r["cpu_count"]) for r in json.load(open("counts.json"))["rows"]]
assert c == [1] * 6, c'
