#!/usr/bin/env bash
# tracekit export opendc / verify opendc on CTS folders built here: the
# original's worked example (upstream §9.8) in --upstream-compat mode with
# its exact numbers, the same run in our mode, our extended CTS with exact
# CPU totals, two nodes with colliding PIDs, failed and retried tasks, the
# legacy cctf/ layout, usage errors; files read back by our reader and by
# hyparquet; verify on our output, on broken output and on OpenDC's fixtures.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/need-hyparquet.sh"

need_hyparquet
make -C "$ROOT" -s build/bench/parquet/pqcat >"$T/make.log" 2>&1 ||
  { not_ok "build pqcat: $(tail -3 "$T/make.log")"; exit 1; }
PQCAT=$ROOT/build/bench/parquet/pqcat

# rows FILE: the rows of a Parquet file as JSON (our reader).
rows() { $PQCAT "$1" | python3 -c "import json, sys; print(json.dumps(json.load(sys.stdin)['rows']))"; }
# verifies DIR [ARGS]: tracekit verify opendc, its report kept in $T/verify.out.
verifies() { local d=$1; shift; $TRACEKIT verify opendc --input "$d" "$@" >"$T/verify.out" 2>&1; }
# pycheck DESC PYTHON: ok if the snippet exits 0; $T/t.json and $T/f.json
# hold the rows of the current tasks and fragments.
pycheck() { check "$1" python3 -c "
import json, math, sys
t = json.load(open('$T/t.json')); f = json.load(open('$T/f.json'))
$2"; }
load() { rows "$1/tasks.parquet" >"$T/t.json" && rows "$1/fragments.parquet" >"$T/f.json"; }

# ---- fixtures ----
python3 - "$T" <<'EOF'
import json, os, sys
T0 = 1758580000000
root = sys.argv[1]

def node(path, node_id, cores=4, mhz=2400, raw_mhz=2399, mem=16384, cts='CTS', meta=True):
    os.makedirs(f'{path}/{cts}', exist_ok=True)
    if meta:
        json.dump({"run_id": "r1", "node": node_id, "stage": "cloud", "host": node_id, "iface": "lo",
                   "cpu_cores": cores, "mem_mb": mem - 387, "cpu_model": "QEMU Virtual CPU", "cpu_freq_mhz": raw_mhz},
                  open(f'{path}/node_meta.json', 'w'))
    json.dump([{"node_id": node_id, "stage": "cloud", "cpu_cores": cores, "mem_mb": mem,
                "cpu_model": "QEMU Virtual CPU", "cpu_freq_mhz": mhz}], open(f'{path}/{cts}/nodes.json', 'w'), indent=2)

def jsonl(path, rows):
    with open(path, 'w') as f:
        for r in rows:
            f.write(json.dumps(r) + '\n')

# 1. The worked example (upstream §9.8), original 5-field CTS.
p = f'{root}/example'
node(p, 'vm0')
jsonl(f'{p}/CTS/invocations.jsonl', [
    {"trace_id": "a", "pid": 4242, "ts_enqueue": T0 - 3000, "ts_start": T0 - 700, "ts_end": T0 + 4300},
    {"trace_id": "b", "pid": 777, "ts_enqueue": T0 + 4000, "ts_start": T0 + 5000, "ts_end": T0 + 5850}])
pm = [{"ts_ms": T0, "pid": 4242, "dt_ms": 0, "cpu_ms": 0, "rss_kb": 50100}]
for k, rss in zip(range(1, 5), [50200, 50300, 50400, 50400]):
    pm.append({"ts_ms": T0 + 1000 * k, "pid": 4242, "dt_ms": 1000, "cpu_ms": 1850, "rss_kb": rss})
jsonl(f'{p}/CTS/proc_metrics.jsonl', pm)

# 2. The same run with our CTS fields: exact CPU totals, status, start ticks.
p = f'{root}/extended'
node(p, 'vm0')
jsonl(f'{p}/CTS/invocations.jsonl', [
    {"trace_id": "a", "pid": 4242, "ts_enqueue": T0 - 3000, "ts_start": T0 - 700, "ts_end": T0 + 4300, "node": "vm0",
     "status": 0, "start_ticks": 5000, "attempt": 1, "cpu_user_ms": 8000.0, "cpu_sys_ms": 700.0, "max_rss_kb": 51200,
     "cpu_units": 2, "cpuset": "0-1", "cpu_weight": None},
    {"trace_id": "b", "pid": 777, "ts_enqueue": T0 + 4000, "ts_start": T0 + 5000, "ts_end": T0 + 5850, "node": "vm0",
     "status": 0, "start_ticks": 5600, "attempt": 1, "cpu_user_ms": 400, "cpu_sys_ms": 25, "max_rss_kb": 2048,
     "cpu_units": 1, "cpuset": "2", "cpu_weight": None},
    {"trace_id": "c", "pid": 900, "ts_enqueue": T0, "ts_start": T0 + 100, "ts_end": T0 + 2100, "node": "vm0",
     "status": 1, "start_ticks": 5100, "attempt": 1, "cpu_user_ms": 150, "cpu_sys_ms": 50, "max_rss_kb": 1000,
     "cpu_units": 1, "cpuset": "3", "cpu_weight": None},
    {"trace_id": "c", "pid": 901, "ts_enqueue": T0, "ts_start": T0 + 2200, "ts_end": T0 + 3200, "node": "vm0",
     "status": 0, "start_ticks": 5300, "attempt": 2, "cpu_user_ms": 900, "cpu_sys_ms": 0, "max_rss_kb": 1000,
     "cpu_units": 1, "cpuset": "3", "cpu_weight": None},
    {"trace_id": "d", "pid": 902, "ts_enqueue": T0, "ts_start": T0 + 3300, "ts_end": T0 + 3300, "node": "vm0",
     "status": 0, "start_ticks": 5400, "attempt": 1, "cpu_user_ms": 0, "cpu_sys_ms": 0, "max_rss_kb": 800,
     "cpu_units": 1, "cpuset": "3", "cpu_weight": None}])
pm = [{"ts_ms": T0, "pid": 4242, "dt_ms": 0, "cpu_ms": 0, "rss_kb": 50100, "start_ticks": 5000}]
for k in range(1, 5):
    pm.append({"ts_ms": T0 + 1000 * k, "pid": 4242, "dt_ms": 1000.0, "cpu_ms": 1850.0, "rss_kb": 50400, "start_ticks": 5000})
# pid 900's samples, and a torn last line.
pm.append({"ts_ms": T0 + 1100, "pid": 900, "dt_ms": 1000, "cpu_ms": 100, "rss_kb": 900, "start_ticks": 5100})
jsonl(f'{p}/CTS/proc_metrics.jsonl', pm)
with open(f'{p}/CTS/proc_metrics.jsonl', 'a') as f:
    f.write('{"ts_ms": 17585800')

# 3. Two nodes, folders RUN(c1) and RUN(c0), the same PIDs on both.
for c, nid, mhz in ((1, 'node-b', 3000), (0, 'node-a', 2000)):
    p = f'{root}/multi/RUN(c{c})'
    node(p, nid, cores=2, mhz=mhz, raw_mhz=mhz, mem=8192)
    jsonl(f'{p}/CTS/invocations.jsonl', [
        {"trace_id": f"{nid}-1", "pid": 100, "ts_enqueue": T0, "ts_start": T0 + 10, "ts_end": T0 + 1010,
         "status": 0, "cpu_user_ms": 500, "cpu_sys_ms": 0, "max_rss_kb": 4096},
        {"trace_id": f"{nid}-2", "pid": 200, "ts_enqueue": T0, "ts_start": T0 + 5, "ts_end": T0 + 505,
         "status": 0, "cpu_user_ms": 250, "cpu_sys_ms": 0, "max_rss_kb": 4096}])
    jsonl(f'{p}/CTS/proc_metrics.jsonl', [
        {"ts_ms": T0 + 510, "pid": 100, "dt_ms": 500, "cpu_ms": 250 * (c + 1) / 2, "rss_kb": 4000}])

# 4. The legacy cctf/ layout, no node_meta.json.
p = f'{root}/legacy/20250922002(c0)'
node(p, 'vm0', cts='cctf', meta=False)
jsonl(f'{p}/cctf/invocations.jsonl', [
    {"trace_id": "x", "pid": 5, "ts_enqueue": T0, "ts_start": T0, "ts_end": T0 + 100}])
jsonl(f'{p}/cctf/proc_metrics.jsonl', [])

# 5. A node without a CPU frequency anywhere.
p = f'{root}/nofreq'
node(p, 'vm0', mhz=0, raw_mhz=0)
jsonl(f'{p}/CTS/invocations.jsonl', [
    {"trace_id": "x", "pid": 5, "ts_enqueue": T0, "ts_start": T0, "ts_end": T0 + 100}])
EOF

# ---- 1. --upstream-compat reproduces the worked example (§9.8) ----
check "export --upstream-compat of the worked example" $TRACEKIT export opendc --input "$T/example" --output "$T/compat" --upstream-compat
load "$T/compat"
pycheck "compat tasks: ids 4242/777, cpu_count 2/1, cpu_capacity 1.85 x 2399 / 599.75, mem 50400/65536" "
a, b = t
exp = [('4242', '5000', '2', 1.85 * 2399, '50400', str($(python3 -c "print(1758580000000 - 3000)"))),
       ('777', '850', '1', 599.75, '65536', str(1758580004000))]
for row, (i, d, c, cap, mem, sub) in zip(t, exp):
    assert (row['id'], row['duration'], row['cpu_count'], row['mem_capacity'], row['submission_time']) == (i, d, c, mem, sub), row
    assert float(row['cpu_capacity']) == cap, row
"
pycheck "compat fragments: head 700 ms + 4 x 1000 ms at 4438.150000000001 MHz, task B 850 ms at 599.75 (no tail: B25)" "
got = [(r['id'], int(r['duration']), float(r['cpu_usage'])) for r in f]
assert got == [('4242', 700, 1.85 * 2399)] + [('4242', 1000, 1.85 * 2399)] * 4 + [('777', 850, 599.75)], got
assert repr(1.85 * 2399) == '4438.150000000001'
"
$TRACEKIT verify opendc --input "$T/compat" >"$T/verify.out" 2>&1; rc=$?
# OpenDC runs a task for its fragments' sum, never by its duration: a warning (#15), not a failure
check "verify warns of the original's missing tail (B25) and exits 0" sh -c "test $rc = 0 && grep -q 'WARN fragment sums: 1 tasks.*task 4242: fragments 4700 ms, duration 5000 ms' '$T/verify.out'"
check "the compat report says what it reproduces" grep -q "Mode: --upstream-compat" "$T/compat/export_report.md"

# ---- 2. our mode on the same original CTS ----
check "export of the original-format run" $TRACEKIT export opendc --input "$T/example" --output "$T/ours"
load "$T/ours"
# node_meta.json says 2399 MHz, CTS/nodes.json 2400 (the original parse rounds): node_meta.json wins (#20)
pycheck "ours: fragments cover the whole task; unsampled time stays at 0 MHz without an exact total" "
got = [(r['id'], int(r['duration']), float(r['cpu_usage'])) for r in f]
assert got == [('4242', 700, 0.0), ('4242', 4000, 1.85 * 2399), ('4242', 300, 0.0), ('777', 850, 0.0)], got
assert [(r['cpu_count'], float(r['cpu_capacity']), r['mem_capacity']) for r in t] == [('2', 4798.0, '50000'), ('1', 2399.0, '0')]
"
check "verify passes on our export" verifies "$T/ours"
check "report lists the task without samples" grep -q "| 777 | vm0 | 777 | 1758580005000 | b | 2 | -1.000 |" "$T/ours/export_report.md"
check "report lists the time left at zero CPU" grep -q "### Time without samples left at zero CPU: 1" "$T/ours/export_report.md"

# ---- 3. our CTS with exact totals ----
check "export of the extended run (zstd)" $TRACEKIT export opendc --input "$T/extended" --output "$T/ext" --compression zstd
load "$T/ext"
pycheck "head and tail carry the exact total minus the sampled CPU; sum(cpu_usage x duration) = CPU x MHz" "
a = [r for r in f if r['id'] == '4242']
assert [(int(r['duration']), round(float(r['cpu_usage']), 6)) for r in a] == [(700, round(1.3 * 2399, 6)), (4000, round(1.85 * 2399, 6)), (300, round(1.3 * 2399, 6))], a
exact = {'4242': 8700, '777': 425, '901': 900, '902': 0}   # 900: attempt 1 of c, dropped
for tid, cpu in exact.items():
    s = sum(float(r['cpu_usage']) * int(r['duration']) for r in f if r['id'] == tid)
    assert abs(s - cpu * 2399) <= 0.01 * cpu * 2399 + 1e-9, (tid, s, cpu)
for row in t:
    assert sum(int(r['duration']) for r in f if r['id'] == row['id']) == int(row['duration']), row
"
pycheck "cpuset gives cpu_count; max_rss_kb gives mem_capacity (MiB x 1000); trace id is the name" "
by = {r['name']: r for r in t}
assert (by['a']['cpu_count'], by['a']['mem_capacity']) == ('2', '50000'), by['a']
assert (by['b']['cpu_count'], by['b']['mem_capacity']) == ('1', '2000'), by['b']
assert by['c']['id'] == '901' and by['d']['duration'] == '1', (by['c'], by['d'])
"
check "verify passes on the extended export" verifies "$T/ext"
check "report: earlier attempt of trace c dropped" grep -q "| - | vm0 | 900 | 1758580000100 | c | 3 | 1 |" "$T/ext/export_report.md"
check "report: zero-duration task raised to 1 ms" grep -q "### Zero-duration tasks given 1 ms: 1" "$T/ext/export_report.md"
check "report: the torn sample line is counted" grep -q "0 invocation lines, 1 sample lines" "$T/ext/export_report.md"
check "export --attempts all keeps both attempts" $TRACEKIT export opendc --input "$T/extended" --output "$T/ext-all" --attempts all
check "... and --failed exclude drops the failed one" $TRACEKIT export opendc --input "$T/extended" --output "$T/ext-nf" --attempts all --failed exclude --task-id-mode sequential
load "$T/ext-all"
pycheck "--attempts all: 5 tasks" "assert len(t) == 5, len(t)"
load "$T/ext-nf"
pycheck "--failed exclude: 4 tasks, sequential ids 1..4 in start order" "
assert [(r['id'], r['name']) for r in t] == [('1', 'a'), ('2', 'c'), ('3', 'd'), ('4', 'b')], t"
check "report lists the excluded failed task" grep -q "### Failed tasks excluded: 1" "$T/ext-nf/export_report.md"

# ---- 4. two nodes with colliding PIDs ----
check "export of two nodes with the same PIDs" $TRACEKIT export opendc --input "$T/multi" --output "$T/multi-out" --mem-unit mb
load "$T/multi-out"
pycheck "node-a (c0) first, by start time; sequential ids; each task its own node's MHz" "
assert [(r['id'], r['name']) for r in t] == [('1', 'node-a-2'), ('2', 'node-a-1'), ('3', 'node-b-2'), ('4', 'node-b-1')], t
assert [r['mem_capacity'] for r in t] == ['4'] * 4
cpu = {r['name']: sum(float(x['cpu_usage']) * int(x['duration']) for x in f if x['id'] == r['id']) for r in t}
assert abs(cpu['node-a-1'] - 500 * 2000) < 1e-6 and abs(cpu['node-b-1'] - 500 * 3000) < 1e-6, cpu
"
# #15: one host per node, named by its node id, in node order (c0 first), cluster 'cloud' (the stage)
check "topology: one host per node named by node id, count 1, unit strings, a power model each" python3 -c "
import json; d = json.load(open('$T/multi-out/topology.json'))
assert [c['name'] for c in d['clusters']] == ['cloud'], d
h = d['clusters'][0]['hosts']
assert [(x['name'], x['count'], x['cpu']['coreCount'], x['cpu']['coreSpeed'], x['memory']['size']) for x in h] == [('node-a', 1, 2, '2000 MHz', '8192 MiB'), ('node-b', 1, 2, '3000 MHz', '8192 MiB')], h
assert all(x['cpuPowerModel'] == {'type': 'linear', 'idlePower': '200 W', 'maxPower': '400 W'} for x in h), h"
check "no placements.jsonl: experiment.json has the filter form, and the report says it is not the run's" sh -c "
python3 $ROOT/tests/tools/odc_experiment.py '$T/multi-out/experiment.json' &&
grep -q '\"weighers\": \[\]' '$T/multi-out/experiment.json' &&
grep -q \"not the run's\*\*: the run recorded no policy\" '$T/multi-out/export_report.md'"
echo '{"ts_ms": 1758580000000, "task_id": 1, "node": "node-a", "cap_left": 1, "policy": "instances-max", "scheduler": "c:1"}' >"$T/multi/RUN(c1)/placements.jsonl"
$TRACEKIT export opendc --input "$T/multi" --output "$T/multi-im" --quiet
check "a node folder's placements.jsonl with the original's instances-max: instanceCount +1 in the filter form" python3 -c "
import json; p = json.load(open('$T/multi-im/experiment.json'))['allocationPolicies'][0]
assert p['type'] == 'filter' and p['weighers'] == [{'type': 'instanceCount', 'multiplier': 1.0}], p"
echo '{"ts_ms": 1758580000000, "task_id": 1, "node": "node-a", "cap_left": 1, "policy": "custom", "scheduler": "c:1"}' >"$T/multi/RUN(c1)/placements.jsonl"
$TRACEKIT export opendc --input "$T/multi" --output "$T/multi-cu" --quiet
check "policy 'custom' (its lists not recorded): the report asks for --filters/--weighers" grep -q "records policy \`custom\`, which does not say its filters and weighers" "$T/multi-cu/export_report.md"
rm "$T/multi/RUN(c1)/placements.jsonl"
expect_fail "--task-id-mode pid refuses colliding PIDs" $TRACEKIT export opendc --input "$T/multi" --output "$T/x" --task-id-mode pid
$TRACEKIT export opendc --input "$T/multi" --output "$T/x" --task-id-mode pid >/dev/null 2>"$T/err"
check "... naming the PID" grep -q "PID 100 belongs to more than one task" "$T/err"
check "verify passes on the two-node export" verifies "$T/multi-out"

# ---- 5. legacy layout; inputs that cannot be exported ----
check "legacy cctf/ folders are read" $TRACEKIT export opendc --input "$T/legacy" --output "$T/legacy-out" --compression none
check "... and verify" verifies "$T/legacy-out"
$TRACEKIT export opendc --input "$T/nofreq" --output "$T/x" >/dev/null 2>"$T/err"; rc=$?
check "no CPU frequency: exit 1, no invented 2400 MHz" test "$rc" = 1
check "... the message names the node and the field" grep -q "node 'vm0' (folder nofreq) has no CPU frequency" "$T/err"
mkdir -p "$T/empty"
$TRACEKIT export opendc --input "$T/empty" --output "$T/x" >/dev/null 2>"$T/err"; rc=$?
check "no node folder: exit 1 with a hint" sh -c "test $rc = 1 && grep -q 'no node folder in' '$T/err'"

# ---- 6. usage ----
check "export --help exits 0 with usage on stdout" sh -c "$TRACEKIT export --help | grep -q 'usage: tracekit export opendc'"
check "verify --help exits 0" sh -c "$TRACEKIT verify --help | grep -q 'usage: tracekit verify opendc'"
$TRACEKIT export opendc --input "$T/example" --output "$T/x" --compression lz4 >/dev/null 2>"$T/err"; rc=$?
check "bad --compression: exit 2, names the value" sh -c "test $rc = 2 && grep -q \"'lz4' is not snappy, zstd or none\" '$T/err'"
$TRACEKIT export csv --input "$T/example" >/dev/null 2>"$T/err"; rc=$?
check "unknown format: exit 2" sh -c "test $rc = 2 && grep -q \"unknown export format 'csv'\" '$T/err'"
$TRACEKIT export opendc --output "$T/x" >/dev/null 2>"$T/err"; rc=$?
check "missing --input: exit 2" sh -c "test $rc = 2 && grep -q 'input DIR is required' '$T/err'"
$TRACEKIT verify opendc --input "$T/nope" >/dev/null 2>"$T/err"; rc=$?
check "verify of a missing folder: exit 2" test "$rc" = 2

# ---- 7. the files through hyparquet (independent reader) ----
node "$ROOT/tests/tools/pqdump.mjs" "$T/ext/tasks.parquet" "$T/ext/fragments.parquet" 2>"$T/err" ||
  not_ok "hyparquet cannot read the export: $(head -3 "$T/err")"
check "hyparquet: OpenDC's schema (types, repetition, TIMESTAMP(MILLIS,UTC), STRING)" python3 -c "
import json
t = json.load(open('$T/ext/tasks.parquet.json')); f = json.load(open('$T/ext/fragments.parquet.json'))
s = [(c['name'], c['type'], c['repetition'], c['logical']) for c in t['schema']]
assert s == [('id', 'INT32', 'REQUIRED', None), ('submission_time', 'INT64', 'REQUIRED', 'TIMESTAMP(MILLIS,UTC)'),
             ('duration', 'INT64', 'REQUIRED', None), ('cpu_count', 'INT32', 'REQUIRED', None),
             ('cpu_capacity', 'DOUBLE', 'REQUIRED', None), ('mem_capacity', 'INT64', 'REQUIRED', None),
             ('name', 'BYTE_ARRAY', 'OPTIONAL', 'STRING')], s
assert [(c['name'], c['type'], c['repetition']) for c in f['schema']] == [('id', 'INT32', 'REQUIRED'), ('duration', 'INT64', 'REQUIRED'), ('cpu_usage', 'DOUBLE', 'REQUIRED')]
"
$PQCAT "$T/ext/tasks.parquet" >"$T/ours-t.json"; $PQCAT "$T/ext/fragments.parquet" >"$T/ours-f.json"
check "hyparquet reads every task value as our reader does" python3 "$ROOT/tests/tools/pqcompare.py" "$T/ext/tasks.parquet.json" "$T/ours-t.json"
check "hyparquet reads every fragment value as our reader does" python3 "$ROOT/tests/tools/pqcompare.py" "$T/ext/fragments.parquet.json" "$T/ours-f.json"

# ---- 8. verify catches broken workloads ----
cp -r "$T/ours" "$T/bad-topo"
python3 -c "
import json; p = '$T/bad-topo/topology.json'; d = json.load(open(p))
h = d['clusters'][0]['hosts'][0]; h['cpu']['coreSpeed'] = 2400; h['memory'] = {'memorySize': 17179869184}
json.dump(d, open(p, 'w'))"
$TRACEKIT verify opendc --input "$T/bad-topo" >"$T/verify.out" 2>&1; rc=$?
# OpenDC reads both (bare numbers as MHz/MiB; memorySize under --legacy): warnings (#15), and the
# 17179869184 "bytes" read as MiB make a host so large that every task fits
check "verify: bare-number core speed and legacy memorySize warn, read as OpenDC reads them (exit 0)" sh -c "test $rc = 0 && grep -q 'WARN topology: .* bare number.*coreSpeed 2400 read as MHz' '$T/verify.out' && grep -q 'WARN topology: .*legacy key.*memory.memorySize' '$T/verify.out' && grep -q 'pass topology: .*17179869184 MiB' '$T/verify.out'"
mkdir -p "$T/bad-schema"
make -C "$ROOT" -s build/bench/parquet/pqwrite >/dev/null 2>&1
"$ROOT/build/bench/parquet/pqwrite" --rows 10 "$T/bad-schema/tasks.parquet"
cp "$T/ours/fragments.parquet" "$T/ours/topology.json" "$T/bad-schema/"
$TRACEKIT verify opendc --input "$T/bad-schema" >"$T/verify.out" 2>&1; rc=$?
check "verify: a tasks file without OpenDC's columns fails" sh -c "test $rc = 1 && grep -q \"FAIL schema tasks.parquet: no column 'id' (INT32 REQUIRED)\" '$T/verify.out'"
mkdir -p "$T/bad-frag"
cp "$T/ours/tasks.parquet" "$T/ours/topology.json" "$T/bad-frag/"
cp "$T/multi-out/fragments.parquet" "$T/bad-frag/"
$TRACEKIT verify opendc --input "$T/bad-frag" >"$T/verify.out" 2>&1; rc=$?
check "verify: tasks without fragments fail (OpenDC drops them), fragments of unknown tasks warn (ignored)" sh -c "test $rc = 1 && grep -q 'WARN fragment ids' '$T/verify.out' && grep -q 'FAIL tasks with fragments' '$T/verify.out'"

# ---- 9. verify reads OpenDC's own fixtures (pyarrow, SNAPPY, dictionary) ----
fx=/work/shared/fixtures/opendc/fragmentScaling_100_fragments
cat >"$T/topo-1ghz.json" <<'EOF'
{"clusters": [{"name": "C01", "hosts": [{"name": "H01", "count": 2, "cpu": {"coreCount": 16, "coreSpeed": "1 GHz"}, "memory": {"size": "64 GiB"}}]}]}
EOF
$TRACEKIT verify opendc --input "$fx" --topology "$T/topo-1ghz.json" >"$T/verify.out" 2>&1; rc=$?
check "verify passes on OpenDC's fragmentScaling fixture (1000 tasks, 100000 fragments)" sh -c "test $rc = 0 && grep -q 'summary: 1000 tasks (3600000000 ms), 100000 fragments' '$T/verify.out'"
