#!/usr/bin/env bash
# tracekit compare: a real tracekit local run exported, replayed with
# --opendc-output and compared (the makespan error equals replay --compare's);
# OpenDC-shaped output written by an independent writer (hyparquet-writer)
# with OpenDC's column types, OPTIONAL columns, v2 pages, dictionary and
# DELTA encodings, ZSTD, several rows per task and host, submission_time in
# epoch ms; folder choice, usage errors, bad files.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/tools/need-hyparquet.sh"
cd "$T"
need_hyparquet
make -C "$ROOT" -s build/bench/parquet/pqcat >"$T/make.log" 2>&1 ||
  { not_ok "build pqcat: $(tail -3 "$T/make.log")"; exit 1; }

for i in 1 2 3 4 5 6; do echo '{"argv": ["sleep", "0.3"], "cpu_units": 1, "app": "s"}'; done >tasks.jsonl
"$TRACEKIT" local --run-id r1 --logs logs --tasks tasks.jsonl --nodes a --capacity-units 2 \
  --interval-ms 100 --host-interval-ms 100 --quiet 2>local.err ||
  { not_ok "local run: $(tail -3 local.err)"; exit 0; }
"$TRACEKIT" parse --run-id r1 --logs logs --quiet
"$TRACEKIT" export opendc --input logs/r1 --output odc --quiet 2>export.err ||
  { not_ok "export: $(tail -3 export.err)"; exit 0; }
"$TRACEKIT" replay --input odc --compare logs/r1 --opendc-output pred --output pred.jsonl --json >replay.json
check "replay --opendc-output --compare runs" test $? -eq 0

"$TRACEKIT" compare --run logs/r1 --input odc --opendc-output pred --json >cmp.json 2>cmp.err
check "compare reads what replay --opendc-output wrote" test $? -eq 0
check "compare: makespan and its error equal replay --compare's; wait means too" py '
import json
r = json.load(open("replay.json"))["compare"]; c = json.load(open("cmp.json"))
print("# makespan measured", c["makespan_ms"]["measured"], "predicted", c["makespan_ms"]["predicted"],
      "error %.3f%%" % c["makespan_ms"]["error_pct"])
assert c["matched"] == r["matched"] == 6, c
assert c["makespan_ms"]["measured"] == r["makespan_measured_ms"], c
assert c["makespan_ms"]["predicted"] == r["makespan_predicted_ms"], c
assert abs(c["makespan_ms"]["error_pct"] - r["makespan_error_pct"]) < 1e-9, c
assert abs(c["wait_ms"]["measured"]["mean"] - r["wait_mean_ms"]["measured"]) < 1e-6, c
assert abs(c["wait_ms"]["predicted"]["mean"] - r["wait_mean_ms"]["predicted"]) < 1e-6, c
assert abs(c["finish_mae_ms"] - r["finish_mae_ms"]) < 1e-6, c
assert sum(c["throughput"]["measured"]) == 6 and sum(c["throughput"]["predicted"]) == 6, c
h = c["hosts"]; assert len(h) == 1 and h[0]["util_predicted"] is not None, h
assert h[0]["util_measured"] is not None and 0 <= h[0]["util_measured"] <= 1, h
assert c["energy_j"]["predicted"] is None and any("predicted energy" in m for m in c["missing"]), c'
check "compare: the text table" sh -c "'$TRACEKIT' compare --run logs/r1 --input odc --opendc-output pred |
  grep -q 'makespan (ms)'"

"$TRACEKIT" export opendc --input logs/r1 --output odc2 --json >export.json 2>/dev/null
check "export opendc --json: the replay's prediction (predicted, measured, difference, the slot reason)" py '
import json
p = json.load(open("export.json"))["prediction"]; r = json.load(open("replay.json"))["compare"]
assert p["makespan_predicted_ms"] == r["makespan_predicted_ms"] and p["makespan_measured_ms"] == r["makespan_measured_ms"], p
assert abs(p["difference_pct"] - r["makespan_error_pct"]) < 1e-9, p
assert p["warning"] == (abs(p["difference_pct"]) > 5), p
if p["reason"] is not None:
    assert "1-s scheduling slots" in p["reason"] and abs(p["difference_1ms_slots_pct"]) < abs(p["difference_pct"]) / 2, p'

"$TRACEKIT" report --input logs/r1 --opendc odc --opendc-output pred --output r.html --quiet
check "report --opendc-output: the section with compare's figures" py '
import json, re
h = open("r.html").read(); c = json.load(open("cmp.json"))
m = re.search(r"<section id=\"compare\">.*?</section>", h, re.S)
assert m, "no section"
sec = m.group(0)
assert "<th>makespan (ms)</th><td>%.1f</td><td>%.1f</td>" % (c["makespan_ms"]["measured"], c["makespan_ms"]["predicted"]) in sec, sec[:600]
assert "<svg" in sec and "Host CPU utilisation" in sec and "Missing: predicted energy" in sec, sec[-800:]'
"$TRACEKIT" report --input logs/r1 --opendc-output pred --output r2.html --quiet 2>/dev/null
check "report --opendc-output without --opendc: usage error (exit 2)" test $? -eq 2

# OpenDC-shaped output: the replay's schedule shifted by 1 s, each task with
# an earlier RUNNING row (the last row counts), submission_time in epoch ms.
py '
import json
L = [json.loads(l) for l in open("pred.jsonl")]
t0 = 1790000000000   # any epoch: the writer states it through timestamp_absolute - timestamp
tasks = []
for l in L:
    base = dict(task_id=l["id"], task_name=str(l["id"]), host_name="vm", cpu_count=1, mem_capacity=1,
                submission_time=t0 + l["submission_ms"])
    tasks.append(dict(base, timestamp=l["start_ms"] + 1000, timestamp_absolute=t0 + l["start_ms"] + 1000,
                      task_state="RUNNING", schedule_time=l["start_ms"] + 1000, finish_time=None,
                      scheduling_delay=l["start_ms"] - l["submission_ms"] + 1000))
    tasks.append(dict(base, timestamp=l["finish_ms"] + 1000, timestamp_absolute=t0 + l["finish_ms"] + 1000,
                      task_state="COMPLETED", schedule_time=l["start_ms"] + 1000, finish_time=l["finish_ms"] + 1000,
                      scheduling_delay=l["start_ms"] - l["submission_ms"] + 1000))
hosts = [dict(timestamp=300 * (i + 1), timestamp_absolute=t0 + 300 * (i + 1), host_name="vm", cluster_name="C01",
              core_count=2, mem_capacity=24000, cpu_capacity=5198.0, cpu_utilization=0.5,
              cpu_time_active=100 + i % 7, cpu_time_idle=500 - i % 7, power_draw=200.0, energy_usage=0.5,
              uptime=300, boot_time=None) for i in range(300)]
power = [dict(timestamp=300 * (i + 1), timestamp_absolute=t0 + 300 * (i + 1), source_name="powersource-%04d" % (i % 3),
              cluster_name="C01", power_draw=210.0, energy_usage=0.25) for i in range(300)]
json.dump(dict(tasks=tasks, hosts=hosts, power=power), open("spec.json", "w"))'
mkdir -p out/raw-output/sc1/seed=0 out/raw-output/sc2/seed=0
node "$ROOT/tests/tools/odc_output.mjs" spec.json out/raw-output/sc1/seed=0 2>node.err
check "hyparquet-writer wrote OpenDC-shaped task, host and powerSource files" test $? -eq 0
cp out/raw-output/sc1/seed=0/*.parquet out/raw-output/sc2/seed=0/
for f in task host powerSource; do
  node "$ROOT/tests/tools/pqdump.mjs" out/raw-output/sc1/seed=0/$f.parquet >$f.hy.json 2>>node.err
  "$ROOT/build/bench/parquet/pqcat" out/raw-output/sc1/seed=0/$f.parquet >$f.ours.json 2>$f.err
  check "our reader reads OpenDC-shaped $f.parquet (DELTA, dictionary, v2, ZSTD) as hyparquet does" \
    python3 "$ROOT/tests/tools/pqcompare.py" $f.hy.json $f.ours.json
done
check "the files have OpenDC's shapes: OPTIONAL submission_time, REQUIRED task_id" py '
import json
s = {c["name"]: c for c in json.load(open("task.hy.json"))["schema"]}
assert s["submission_time"]["repetition"] == "OPTIONAL" and s["submission_time"]["type"] == "INT64", s
assert s["task_id"]["repetition"] == "REQUIRED" and s["task_id"]["type"] == "INT32", s
assert s["task_state"]["repetition"] == "OPTIONAL", s'
(cd "$ROOT/tests" && node --input-type=module -e "
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet'
for (const f of process.argv.slice(1)) {
  const md = await parquetMetadataAsync(await asyncBufferFromFile(f))
  for (const c of md.row_groups[0].columns)
    console.log(c.meta_data.path_in_schema.join('.'), c.meta_data.codec, c.meta_data.encodings.join(','))
}" "$T"/out/raw-output/sc1/seed=0/*.parquet) >enc.txt 2>&1
check "... written with v2-writer encodings: DELTA_BINARY_PACKED, DELTA_BYTE_ARRAY, RLE_DICTIONARY, ZSTD" sh -c "
  grep -q '^timestamp ZSTD DELTA_BINARY_PACKED' enc.txt && grep -q '^source_name ZSTD DELTA_BYTE_ARRAY' enc.txt &&
  grep -q '^host_name ZSTD .*RLE_DICTIONARY' enc.txt"

expect_fail "several outputs below DIR: an error listing them" sh -c \
  "'$TRACEKIT' compare --run logs/r1 --input odc --opendc-output out 2>several.err"
check "... naming sc1 and sc2 and --scenario" sh -c "grep -q 'sc1/seed=0' several.err && grep -q 'sc2/seed=0' several.err &&
  grep -q -- '--scenario' several.err"
"$TRACEKIT" compare --run logs/r1 --input odc --opendc-output out --scenario sc1 --seed 0 --json >odc.json 2>odc.err
check "compare --scenario sc1 --seed 0 reads the OpenDC-shaped files" test $? -eq 0
check "OpenDC-shaped: times converted (epoch submission_time, simulated schedule/finish), last rows, sums" py '
import json
c = json.load(open("odc.json")); r = json.load(open("cmp.json"))
assert c["matched"] == 6, c
assert c["makespan_ms"]["predicted"] == r["makespan_ms"]["predicted"] + 1000, (c["makespan_ms"], r["makespan_ms"])
assert abs(c["wait_ms"]["predicted"]["mean"] - (r["wait_ms"]["predicted"]["mean"] + 1000)) < 1e-6, c
assert abs(c["run_ms"]["predicted"]["mean"] - r["run_ms"]["predicted"]["mean"]) < 1e-6, c
assert c["wait_ms"]["measured"] == r["wait_ms"]["measured"], c
act = sum(100 + i % 7 for i in range(300)); idle = sum(500 - i % 7 for i in range(300))
h = {x["name"]: x for x in c["hosts"]}
assert abs(h["vm"]["util_predicted"] - act / (act + idle)) < 1e-9, h
assert abs(c["energy_j"]["predicted"] - 75.0) < 1e-6, c["energy_j"]'

# energy as parse writes it when the node's power was measured (cts.md: nodes.json energy_j)
cp -r logs/r1 powered && py '
import json
n = json.load(open("powered/CTS/nodes.json")); n[0]["energy_j"] = 60.0
json.dump(n, open("powered/CTS/nodes.json", "w"))'
"$TRACEKIT" compare --run powered --input odc --opendc-output out/raw-output/sc1/seed=0 --json >energy.json
check "energy: nodes.json energy_j beside powerSource.parquet energy_usage" py '
import json
e = json.load(open("energy.json"))["energy_j"]
assert e["measured"] == 60.0 and abs(e["predicted"] - 75.0) < 1e-6 and abs(e["error_pct"] - 25.0) < 1e-6, e'

mkdir -p odc/output/odc/raw-output/0/seed=0 && cp out/raw-output/sc1/seed=0/*.parquet odc/output/odc/raw-output/0/seed=0/
"$TRACEKIT" compare --run logs/r1 --opendc-output odc/output --json >below.json 2>below.err
check "without --input: the export above OpenDC's output (opendc run in the export's folder)" py '
import json
a = json.load(open("below.json")); b = json.load(open("odc.json"))
assert a["opendc_output"].endswith("odc/output/odc/raw-output/0/seed=0"), a["opendc_output"]
a.pop("opendc_output"); b.pop("opendc_output"); assert a == b, (a, b)'
"$TRACEKIT" compare --run logs/r1 --opendc-output pred 2>noexport.err
check "without --input and no export above DIR: exit 1, saying --input" sh -c "test $? -eq 1 && grep -q -- '--input EXPORT_DIR' noexport.err"
expect_fail "compare without --run: usage error" "$TRACEKIT" compare --input odc --opendc-output pred 2>/dev/null
"$TRACEKIT" compare --input odc --opendc-output pred >/dev/null 2>&1
check "... exit 2" test $? -eq 2
mkdir -p bad && cp odc/tasks.parquet bad/task.parquet
"$TRACEKIT" compare --run logs/r1 --input odc --opendc-output bad 2>bad.err
check "a task.parquet without task_id: exit 1" test $? -eq 1
check "... naming the file and the column" sh -c "grep -q 'task.parquet' bad.err && grep -q 'task_id' bad.err"
