#!/usr/bin/env bash
# tracekit compare, replay and report against hostile inputs: OpenDC output
# folders holding FIFOs, symlinks, empty and huge files, several outputs;
# Parquet whose known columns lie (types, negative or absurd times, NaN,
# duplicate and missing tasks, missing hosts), a run without CTS/.  Nothing
# may hang, crash, read outside or give a silently wrong figure: errors name
# the file and what was expected, dropped rows are counted and said.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/tools/need-hyparquet.sh"
cd "$T"
need_hyparquet
W() { (cd "$ROOT/tests" && node tools/pqwrite.mjs "$T/$1"); }
TO="timeout 60"

for i in 1 2 3 4; do echo '{"argv": ["sleep", "0.2"], "cpu_units": 1}'; done >tasks.jsonl
"$TRACEKIT" local --run-id r1 --logs logs --tasks tasks.jsonl --nodes a --capacity-units 2 \
  --interval-ms 100 --host-interval-ms 100 --quiet 2>local.err ||
  { not_ok "local run: $(tail -3 local.err)"; exit 0; }
"$TRACEKIT" parse --run-id r1 --logs logs --quiet
"$TRACEKIT" export opendc --input logs/r1 --output odc --quiet 2>export.err ||
  { not_ok "export: $(tail -3 export.err)"; exit 0; }
"$TRACEKIT" replay --input odc --opendc-output pred --output pred.jsonl >/dev/null
$TO "$TRACEKIT" compare --run logs/r1 --input odc --opendc-output pred --json >base.json 2>base.err
check "the base case compares" test $? -eq 0

# cmp NAME DIR: compare DIR, exit status in $rc, stderr in NAME.err, stdout in NAME.json
cmp() { $TO "$TRACEKIT" compare --run logs/r1 --input odc --opendc-output "$2" --json >"$1.json" 2>"$1.err"; rc=$?; }

# ---- the folder: FIFOs, symlinks, empty, huge, several outputs ----
for f in task host powerSource; do
  mkdir -p fifo_$f && cp pred/*.parquet fifo_$f/ && rm -f fifo_$f/$f.parquet && mkfifo fifo_$f/$f.parquet
  cmp fifo_$f fifo_$f
  check "a FIFO as $f.parquet: exit 1 at once (no hang), naming it: $(head -c 150 fifo_$f.err)" \
    sh -c "[ $rc -eq 1 ] && grep -q 'fifo_$f/$f.parquet: not a regular file' fifo_$f.err"
done
mkdir -p fifo_in && mkfifo fifo_in/tasks.parquet
$TO "$TRACEKIT" compare --run logs/r1 --input fifo_in --opendc-output pred >/dev/null 2>fifo_in.err; rc=$?
check "a FIFO as the export's tasks.parquet: exit 1, no hang" sh -c "[ $rc -eq 1 ] && grep -q 'not a regular file' fifo_in.err"
mkdir -p link && ln -s /etc/passwd link/task.parquet
cmp link link
check "task.parquet a symlink: not followed, said: $(head -c 150 link.err)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'symbolic link (not followed)' link.err"
mkdir -p outside/raw-output/0/seed=0 && cp pred/*.parquet outside/raw-output/0/seed=0/
mkdir -p linkdir/raw-output/0 && ln -s "$T/outside/raw-output/0/seed=0" linkdir/raw-output/0/seed=0
cmp linkdir linkdir
check "an output folder reached through a symlink is not searched (it may lead outside DIR)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'no task.parquet in linkdir' linkdir.err"
mkdir -p loop/a && ln -s .. loop/a/b
cmp loop loop
check "a symlink loop below DIR: exit 1 at once" test $rc -eq 1

# ---- empty files: 0 bytes, and Parquet of 0 rows ----
mkdir -p empty0 && cp pred/*.parquet empty0/ && : >empty0/task.parquet
cmp empty0 empty0
check "a 0-byte task.parquet: exit 1 naming it: $(head -c 150 empty0.err)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'empty0/task.parquet: not a Parquet file (0 bytes)' empty0.err"
cat >empty.spec <<'SPEC'
{"rows0/task.parquet": [{"name": "task_id", "type": "INT32", "data": []}, {"name": "timestamp", "type": "INT64", "data": []},
  {"name": "timestamp_absolute", "type": "INT64", "data": []}, {"name": "submission_time", "type": "INT64", "nullable": true, "data": []},
  {"name": "schedule_time", "type": "INT64", "nullable": true, "data": []}, {"name": "finish_time", "type": "INT64", "nullable": true, "data": []}],
 "hosts0/host.parquet": [{"name": "host_name", "type": "STRING", "data": []}, {"name": "cpu_utilization", "type": "FLOAT", "data": []}]}
SPEC
mkdir -p rows0 hosts0 && cp pred/task.parquet hosts0/ && W empty.spec
cmp rows0 rows0
check "a task.parquet of 0 rows (empty row-group list, element type 0 as hyparquet-writer writes it): 'has no rows', not 'corrupt footer'" \
  sh -c "[ $rc -eq 1 ] && grep -q 'rows0/task.parquet has no rows' rows0.err"
cmp hosts0 hosts0
check "a host.parquet of 0 rows: compared, host utilisation said missing" py '
import json
c = json.load(open("hosts0.json"))
assert c["matched"] == 4 and any("predicted host utilisation" in m for m in c["missing"]), c'

# ---- Parquet that lies: types, times, NaN, duplicates, missing tasks and hosts ----
py '
import json, os
L = [json.loads(l) for l in open("pred.jsonl")]
T0 = 1790000000000
def rows():
    return [dict(id=l["id"], ts=l["finish_ms"], sub=T0 + l["submission_ms"], sched=l["start_ms"], fin=l["finish_ms"],
                 state="COMPLETED") for l in L]
def task(rs, ts_type="INT64", id_type="INT32"):
    return [dict(name="timestamp", type=ts_type, data=[r["ts"] for r in rs]),
            dict(name="timestamp_absolute", type="INT64", data=[r.get("abs", T0 + r["ts"]) for r in rs]),
            dict(name="task_id", type=id_type, data=[r["id"] for r in rs]),
            dict(name="task_state", type="STRING", nullable=True, data=[r["state"] for r in rs]),
            dict(name="submission_time", type="INT64", nullable=True, data=[r["sub"] for r in rs]),
            dict(name="schedule_time", type="INT64", nullable=True, data=[r["sched"] for r in rs]),
            dict(name="finish_time", type="INT64", nullable=True, data=[r["fin"] for r in rs])]
def host(names=("vm",), n=1, util=0.25, active=100, idle=300, energy=1.0):
    return [dict(name="host_name", type="STRING", data=[names[i % len(names)] for i in range(n)]),
            dict(name="cpu_utilization", type="FLOAT", data=[util] * n),
            dict(name="cpu_time_active", type="INT64", data=[active] * n),
            dict(name="cpu_time_idle", type="INT64", data=[idle] * n),
            dict(name="energy_usage", type="FLOAT", data=[energy] * n)]
def power(e):
    return [dict(name="source_name", type="STRING", data=["p"] * len(e)), dict(name="energy_usage", type="FLOAT", data=e)]
spec = {}
def case(name, **files):
    os.makedirs("lie/" + name, exist_ok=True)
    for f, cols in files.items():
        spec["lie/%s/%s.parquet" % (name, f)] = cols
case("ok", task=task(rows()), host=host(), powerSource=power([5.0, 5.0]))
case("ts_double", task=[dict(c, type="DOUBLE", data=[float(x) for x in c["data"]]) if c["name"] == "timestamp" else c for c in task(rows())])
case("id_int64", task=task(rows(), id_type="INT64"))
r = rows(); r[0]["abs"] = 2**63 - 1; r[0]["ts"] = -2**63; case("origin_overflow", task=task(r))
r = rows(); r[1]["abs"] = T0 + r[1]["ts"] + 3600000; case("origin_two", task=task(r))
for what, v in (("sub_null", None), ("sub_min", -2**63), ("sub_max", 2**63 - 1), ("sub_late", None)):
    r = rows(); r[0]["sub"] = v if what != "sub_late" else T0 + r[0]["sched"] + 5000; case(what, task=task(r))
r = rows(); r[0]["fin"] = -5000; case("fin_negative", task=task(r))
r = rows(); r[0]["fin"] = r[0]["ts"] = 2**62; case("fin_absurd", task=task(r))
r = rows(); r[0]["sched"] = None; case("sched_null", task=task(r))
r = rows(); d = dict(r[0], state="TERMINATED"); r.append(d); case("dup_ts", task=task(r))
case("missing_tasks", task=task(rows()[:2]))
case("host_nan", task=task(rows()), host=host(util="NaN", energy="NaN"))
case("host_negative", task=task(rows()), host=host(active=-1000, idle=10, n=2) )
case("power_bad", task=task(rows()), host=host(), powerSource=power([-100.0, "NaN", "Inf", 5.0]))
case("many_hosts", task=task(rows()), host=host(names=["h%06d" % i for i in range(50000)], n=50000))
for cols in spec.values():
    for c in cols:
        if c["type"] == "INT64":
            c["data"] = [None if v is None else str(int(v)) for v in c["data"]]
json.dump(spec, open("lie.spec", "w"))'
W lie.spec 2>lie.node.err
check "pqwrite wrote the lying files" test -s lie/ok/task.parquet
cmp ok lie/ok
check "the base of the lies compares: 4 matched, energy 10 J, utilisation 0.25" py '
import json
c = json.load(open("ok.json"))
assert c["matched"] == 4 and c["energy_j"]["predicted"] == 10.0 and c["hosts"][0]["util_predicted"] == 0.25, c
assert c["dropped"] == [] and c["left_out"] == 0, c'
cmp ts_double lie/ts_double
check "timestamp as DOUBLE: exit 1 naming file, column and types" \
  sh -c "[ $rc -eq 1 ] && grep -q \"ts_double/task.parquet: column 'timestamp' is DOUBLE, INT64 expected\" ts_double.err"
cmp id_int64 lie/id_int64
check "task_id as INT64: exit 1 naming file, column and types" \
  sh -c "[ $rc -eq 1 ] && grep -q \"column 'task_id' is INT64, INT32 expected\" id_int64.err"
cmp origin_overflow lie/origin_overflow
check "timestamp_absolute - timestamp overflowing (INT64_MAX - INT64_MIN): exit 1 naming the row, no UB: $(head -c 200 origin_overflow.err)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'origin_overflow/task.parquet row 0: timestamp -9223372036854775808' origin_overflow.err &&
    ! grep -q 'runtime error' origin_overflow.err"
cmp origin_two lie/origin_two
check "rows with two origins: exit 1 naming the row (the figures would shift silently)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'origin_two/task.parquet row 1: timestamp_absolute - timestamp is' origin_two.err"
for c in sub_null sub_min sub_max sub_late fin_negative fin_absurd sched_null; do
  cmp $c lie/$c
  check "$c: the task is dropped and counted, not figured (nor called 'not completed'), no UB" py "
import json, sys
c = json.load(open('$c.json'))
assert $rc == 0 and 'runtime error' not in open('$c.err').read(), open('$c.err').read()[:300]
assert c['matched'] == 3 and c['measured_only'] == 0 and c['left_out'] == 1, c
assert [d['tasks'] for d in c['dropped']] == [1] and 'COMPLETED tasks' in c['dropped'][0]['why'], c['dropped']
b = json.load(open('ok.json'))
assert all(abs(w) < 1e12 for w in c['wait_ms']['predicted'].values()), c['wait_ms']
assert c['makespan_ms']['predicted'] <= b['makespan_ms']['predicted'], c['makespan_ms']"
done
"$TRACEKIT" compare --run logs/r1 --input odc --opendc-output lie/sub_null >sub_null.txt 2>&1
check "... the text says it: 'dropped: 1 task(s) of task.parquet'" grep -q '^dropped: 1 task(s) of task.parquet: COMPLETED' sub_null.txt
$TO "$TRACEKIT" report --input logs/r1 --opendc odc --opendc-output lie/sub_null --output sub_null.html --quiet 2>/dev/null
check "... and the report's comparison section: 'Dropped: 1 task(s) of task.parquet'" \
  grep -q 'Dropped: 1 task(s) of task.parquet: COMPLETED' sub_null.html
cmp dup_ts lie/dup_ts
check "two rows of a task_id at one timestamp: the last in file order counts, the other counted as dropped" py '
import json
c = json.load(open("dup_ts.json"))
assert c["matched"] == 3 and c["measured_only"] == 1, c
assert [d["rows"] for d in c["dropped"]] == [1] and "repeating" in c["dropped"][0]["why"], c["dropped"]'
cmp missing_tasks lie/missing_tasks
check "tasks missing from task.parquet: 2 matched, 2 measured only, said" py '
import json
c = json.load(open("missing_tasks.json"))
assert c["matched"] == 2 and c["measured_only"] == 2 and any("not completed in OpenDC" in m for m in c["missing"]), c'
cmp host_nan lie/host_nan
check "NaN cpu_utilization and energy_usage: the row dropped and counted; no NaN figure (utilisation and energy said missing)" py '
import json
c = json.load(open("host_nan.json"))
assert [d["rows"] for d in c["dropped"]] == [1] and c["dropped"][0]["why"].startswith("host.parquet"), c["dropped"]
assert c["energy_j"]["predicted"] is None and any("predicted energy" in m for m in c["missing"]), c
assert c["hosts"][0]["util_predicted"] is None, c["hosts"]'
cmp host_negative lie/host_negative
check "negative cpu_time_active: rows dropped and counted, no made-up utilisation" py '
import json
c = json.load(open("host_negative.json"))
assert [d["rows"] for d in c["dropped"]] == [2] and c["hosts"][0]["util_predicted"] is None, c'
cmp power_bad lie/power_bad
check "powerSource energy_usage -100, NaN, Inf, 5: 3 rows dropped, energy 5 J" py '
import json
c = json.load(open("power_bad.json"))
assert c["energy_j"]["predicted"] == 5.0, c["energy_j"]
assert [d["rows"] for d in c["dropped"]] == [3] and c["dropped"][0]["why"].startswith("powerSource.parquet"), c["dropped"]'
$TO "$TRACEKIT" compare --run logs/r1 --input odc --opendc-output lie/many_hosts --json >many_hosts.json 2>many_hosts.err; rc=$?
check "50000 hosts in host.parquet: compared within the timeout (was quadratic), every host listed" py "
import json
assert $rc == 0, $rc
c = json.load(open('many_hosts.json'))
assert len(c['hosts']) == 50001 and sum(h['util_measured'] is not None for h in c['hosts']) == 1, len(c['hosts'])"

# ---- the measured side ----
mkdir -p norun/raw && cp logs/r1/ledger.jsonl norun/
$TO "$TRACEKIT" compare --run norun --input odc --opendc-output pred >/dev/null 2>norun.err; rc=$?
check "a run folder without CTS/: exit 1 saying so and what to run: $(head -c 200 norun.err)" \
  sh -c "[ $rc -eq 1 ] && grep -q \"norun has no CTS/invocations.jsonl.*tracekit parse\" norun.err"
cp -r logs/r1 badhost && py '
import json
L = [json.loads(l) for l in open("badhost/CTS/host_metrics.jsonl")]
for i, l in enumerate(L):
    l["cpu_idle"] = -3.0 if i % 2 else l["cpu_idle"]
open("badhost/CTS/host_metrics.jsonl", "w").write("".join(json.dumps(l) + "\n" for l in L))
print("#", len(L) // 2, "lines with cpu_idle -3")'
$TO "$TRACEKIT" compare --run badhost --input odc --opendc-output pred --json >badhost.json 2>badhost.err
check "measured host lines with cpu_idle -3: dropped and counted, utilisation stays a share (was up to 400%)" py '
import json
c = json.load(open("badhost.json"))
d = [x for x in c["dropped"] if "host_metrics.jsonl" in x["why"]]
assert d and d[0]["rows"] > 0, c["dropped"]
assert all(h["util_measured"] is None or 0 <= h["util_measured"] <= 1 for h in c["hosts"]), c["hosts"]'
cp -r logs/r1 badinv && py '
import json
L = [json.loads(l) for l in open("badinv/CTS/invocations.jsonl")]
L[0]["ts_end"] = L[0]["ts_start"] - 500
open("badinv/CTS/invocations.jsonl", "w").write("".join(json.dumps(l) + "\n" for l in L))'
$TO "$TRACEKIT" compare --run badinv --input odc --opendc-output pred --json >badinv.json 2>badinv.err
check "a measured task ending before it started: dropped, counted, left out on both sides (was silently missing)" py '
import json
c = json.load(open("badinv.json"))
assert c["matched"] == 3 and c["measured_only"] == 0 and c["predicted_only"] == 0 and c["left_out"] == 1, c
assert [d["tasks"] for d in c["dropped"]] == [1] and "invocations.jsonl" in c["dropped"][0]["why"], c["dropped"]'

# ---- replay: a workload that lies ----
py '
import json, os
T0 = 1790000000000
def tasks(ids):
    n = len(ids)
    return [dict(name="id", type="INT32", data=ids), dict(name="submission_time", type="INT64", data=[str(T0 + i) for i in range(n)]),
            dict(name="duration", type="INT64", data=["1000"] * n), dict(name="cpu_count", type="INT32", data=[1] * n),
            dict(name="cpu_capacity", type="DOUBLE", data=[1000.0] * n), dict(name="mem_capacity", type="INT64", data=["1000"] * n)]
def frags(ids, usage=None):
    return [dict(name="id", type="INT32", data=ids), dict(name="duration", type="INT64", data=["1000"] * len(ids)),
            dict(name="cpu_usage", type="DOUBLE", data=usage or [500.0] * len(ids))]
spec = {}
topo = json.load(open("odc/topology.json"))
def case(name, t, f, tp=topo):
    os.makedirs("rp/" + name, exist_ok=True)
    spec["rp/%s/tasks.parquet" % name] = t; spec["rp/%s/fragments.parquet" % name] = f
    json.dump(tp, open("rp/%s/topology.json" % name, "w"))
ids = list(range(1, 6))
case("ok", tasks(ids), frags(ids))
case("dup_ids", tasks([7] * 30000), frags([7] * 30000))
case("usage_negative", tasks(ids), frags(ids, [500.0, -1e300, 500.0, 500.0, 500.0]))
case("usage_nan", tasks(ids), frags(ids, [500.0, 500.0, "NaN", 500.0, 500.0]))
t = json.loads(json.dumps(topo)); t["clusters"][0]["count"] = 2**62; t["clusters"][0]["hosts"][0]["count"] = 0
case("cluster_count", tasks(ids), frags(ids), t)
json.dump(spec, open("rp.spec", "w"))'
W rp.spec 2>rp.node.err
rp() { $TO "$TRACEKIT" replay --input "rp/$1" --json >"rp_$1.json" 2>"rp_$1.err"; rc=$?; }
rp ok
check "replay of the base workload: 5 tasks completed" py 'import json; assert json.load(open("rp_ok.json"))["completed"] == 5'
rp dup_ids
check "30000 tasks of one id (x 30000 fragments): refused at once naming tasks.parquet and the id (the copies cost 30000 x 30000 fragments): $(head -c 200 rp_dup_ids.err)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'tasks.parquet: task id 7 appears more than once' rp_dup_ids.err"
rp usage_negative
check "a negative cpu_usage: refused naming fragments.parquet and the row (it gave a busy share of -3e296)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'fragments.parquet row 1: cpu_usage -1e+300 MHz' rp_usage_negative.err"
rp usage_nan
check "a NaN cpu_usage: refused naming fragments.parquet and the row" \
  sh -c "[ $rc -eq 1 ] && grep -q 'fragments.parquet row 2: cpu_usage nan' rp_usage_nan.err"
rp cluster_count
check "a cluster of count 2^62 holding hosts of count 0: refused at once (it looped for ever)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'cluster 0: count 4611686018427387904: expected at most' rp_cluster_count.err"

# ---- report: a hostile workload.jsonl ----
rep() { rm -rf wl && cp -r logs/r1 wl && rm -f wl/workload.jsonl wl/report.html; }
rep
py '
lines = ["{\"seed\": \"7\", \"by\": 5, \"mix\": [1]}", "{\"seed\": 1.5e300}", "{\"seed\": 99999999999999999999999}",
         "[1, 2]", "null", "{\"seed\": " + "[" * 5000 + "]" * 5000 + "}",
         "{\"seed\": 3, \"by\": \"" + "x" * 2000000 + "\"}", "{\"seed\": 42, \"by\": \"dispatch\", \"mix\": \"a=1\"}"]
open("wl/workload.jsonl", "w").write("\n".join(lines) + "\n{\"seed\": 4, \"by\":")'
$TO "$TRACEKIT" report --input wl --output wl.html --quiet 2>wl.err; rc=$?
check "report with a hostile workload.jsonl (wrong types, huge and deep lines, torn last line): written, no crash" \
  sh -c "[ $rc -eq 0 ] && ! grep -q 'runtime error\|Sanitizer' wl.err"
check "... malformed lines counted (big integer, array, null, too deep, torn: 5)" grep -q 'workload.jsonl: 5 malformed line(s) skipped' wl.err
check "... lines without an integer seed counted (a string, 1.5e300: 2), not silently left out" \
  grep -q 'workload.jsonl: 2 line(s) without an integer "seed" skipped' wl.err
check "... the seed row shows the good lines only; the 2 MB 'by' is not printed" py '
import re
h = open("wl.html").read()
m = re.search(r"<th>seed</th><td>(.*?)</td>", h)
assert m and "42 (dispatch, drew the --mix order)" in m.group(1) and "3 (?)" in m.group(1), m and m.group(1)[:300]
assert "x" * 1000 not in h'
rep; py '
with open("wl/workload.jsonl", "w") as f:
    f.write("{\"seed\": 5, \"by\": \"local\", \"x\": \"" + "y" * (70 << 20) + "\"}\n{\"seed\": 6, \"by\": \"local\"}\n")'
/usr/bin/time -f %M -o wlbig.rss $TO "$TRACEKIT" report --input wl --output wlbig.html --quiet 2>wlbig.err; rc=$?
check "a 70 MB line in workload.jsonl: over the 64 MiB line limit, counted as malformed, the next line read (peak RSS $(cat wlbig.rss) KB)" \
  sh -c "[ $rc -eq 0 ] && grep -q 'workload.jsonl: 1 malformed line(s) skipped' wlbig.err && grep -q '6 (local)' wlbig.html"
rep; ln -s /etc/passwd wl/workload.jsonl
$TO "$TRACEKIT" report --input wl --output wl2.html --quiet 2>wl2.err
check "workload.jsonl a symlink: not followed, said plainly" grep -q 'workload.jsonl: it is a symbolic link (not followed)' wl2.err
rep; mkfifo wl/workload.jsonl
$TO "$TRACEKIT" report --input wl --output wl3.html --quiet 2>wl3.err; rc=$?
check "workload.jsonl a FIFO: no hang, said plainly" sh -c "[ $rc -eq 0 ] && grep -q 'workload.jsonl: not a regular file' wl3.err"

# ---- many outputs below DIR ----
for i in $(seq 1 300); do mkdir -p many/raw-output/s$i/seed=0 && cp pred/task.parquet many/raw-output/s$i/seed=0/; done
$TO "$TRACEKIT" compare --run logs/r1 --input odc --opendc-output many >/dev/null 2>many.err; rc=$?
check "300 outputs below DIR: exit 1, whole names listed, then how many more (no name cut off)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'many holds 300 outputs' many.err && grep -q 'seed=0 \.\.\. and [0-9]* more$' many.err"
"$TRACEKIT" compare --run logs/r1 --input odc --opendc-output many --scenario s17 --seed 0 --json >many17.json 2>&1
check "... --scenario s17 --seed 0 picks one" py 'import json; assert json.load(open("many17.json"))["opendc_output"].endswith("many/raw-output/s17/seed=0")'

# ---- the export that maps ids to trace ids ----
py '
import json, os
spec = {}
for d, idt, namet, names in (("ex_name_int", "INT32", "INT32", [1, 2]), ("ex_id_int64", "INT64", "STRING", ["a", "b"])):
    os.makedirs(d, exist_ok=True)
    spec[d + "/tasks.parquet"] = [dict(name="id", type=idt, data=["1", "2"] if idt == "INT64" else [1, 2]),
                                  dict(name="name", type=namet, data=names)]
json.dump(spec, open("ex.spec", "w"))'
W ex.spec 2>ex.node.err
for d in ex_name_int ex_id_int64; do
  $TO "$TRACEKIT" compare --run logs/r1 --input $d --opendc-output pred >/dev/null 2>$d.err; rc=$?
  check "export tasks.parquet with a wrongly typed id or name ($d): exit 1 naming file and column, no UB: $(head -c 160 $d.err)" \
    sh -c "[ $rc -eq 1 ] && grep -q \"$d/tasks.parquet: column '[a-z]*' is\" $d.err && ! grep -q 'runtime error' $d.err"
done

# ---- huge files: a 4 GiB sparse task.parquet with PAR1 at both ends ----
mkdir -p huge && truncate -s 4G huge/task.parquet && printf 'PAR1' | dd of=huge/task.parquet conv=notrunc 2>/dev/null
py '
import struct
f = open("huge/task.parquet", "r+b"); f.seek(4 * 2**30 - 8); f.write(struct.pack("<I", 2**31) + b"PAR1")'
cmp huge huge
check "a 4 GiB task.parquet claiming a 2 GiB footer: exit 1 at once naming it" \
  sh -c "[ $rc -eq 1 ] && grep -q 'huge/task.parquet: corrupt footer length 2147483648' huge.err"
py '
import struct
f = open("huge/task.parquet", "r+b"); f.seek(4 * 2**30 - 8); f.write(struct.pack("<I", 60 * 2**20) + b"PAR1")'
cmp huge2 huge
check "... claiming a 60 MiB footer of zeros: exit 1 naming it, no crash" \
  sh -c "[ $rc -eq 1 ] && grep -q 'huge/task.parquet: corrupt footer' huge2.err && ! grep -q Sanitizer huge2.err"
rm -f huge/task.parquet
