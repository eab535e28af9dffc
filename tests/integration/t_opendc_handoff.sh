#!/usr/bin/env bash
# t_opendc_handoff.sh -- a real two-node run handed to OpenDC (issue #15): a
# `tracekit scheduler` (--policy FilterOnly) and two `tracekit worker`s (n1,
# n2, each with its own logs folder and collector, as two machines would)
# through a private password-protected redis-server, `dispatch --wait`,
# `gather`, `export opendc`.  topology.json: two hosts named n1 and n2,
# count 1, in node order, each with a cpuPowerModel; experiment.json decodes
# as OpenDC HEAD's ExperimentSpec (tests/tools/odc_experiment.py, written from
# its source) with the run's policy in OpenDC's filter form; the policy
# options and --cpu-usage demand change it; --submission start|slot; verify
# exits 0, and warns on an --mem-unit mb export.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
source "$(dirname "$0")/flow_lib.sh"
rq_require
redis_start
CHECK="python3 $ROOT/tests/tools/odc_experiment.py"
make -C "$ROOT" -s build/bench/parquet/pqcat >/dev/null 2>&1
PQCAT=$ROOT/build/bench/parquet/pqcat
cd "$T" || exit 1

RUN=handoff
W1=$T/w1/logs W2=$T/w2/logs   # two machines: a logs folder each; the controller is n1
export CPU_FREQ_MHZ=2000      # the collectors' node_meta.json: no guessing from this VM
for n in 1 2; do
  "$TRACEKIT" collect start --run-id $RUN --logs "$T/w$n/logs" --node-id n$n --stage cloud \
    --interval-ms 100 --host-interval-ms 0 >"$T/collect$n.out" 2>&1
  check "collector of n$n started" test $? = 0
done
LOGS=$W1 start_sched $RUN --policy FilterOnly
LOGS=$W1 start_worker $RUN n1 2 --ttl 2; W1P=$WP
LOGS=$W2 start_worker $RUN n2 2 --ttl 2; W2P=$WP
check "worker n1 registered" wait_for 30 registered $RUN n1 "$W1P"
check "worker n2 registered" wait_for 30 registered $RUN n2 "$W2P"
# six tasks that burn CPU for ~0.3 s each, two units per node: both nodes run some
for i in 1 2 3 4 5 6; do
  printf '{"argv": ["sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done"], "app": "burn"}\n'
done >"$T/tasks.jsonl"
LOGS=$W1 dispatch $RUN --tasks "$T/tasks.jsonl" --pending --pulse-size 6 --pulse-spacing 0 --timeout 120
check "dispatch --wait: all six tasks done (exit 0)" test $? = 0
for p in "$W1P" "$W2P" "$SP"; do kill -TERM "$p"; done
for p in "$W1P" "$W2P" "$SP"; do wait_pid "$p" 30; done
for n in 1 2; do "$TRACEKIT" collect stop --run-id $RUN --logs "$T/w$n/logs" >/dev/null 2>&1; done
check "the scheduler recorded its policy in n1's placements.jsonl" grep -q '"policy": *"FilterOnly"' "$W1/$RUN/placements.jsonl"
check "both nodes ran tasks" py "
import glob, json
nodes = {json.loads(l)['node'] for f in glob.glob('$T/w*/logs/$RUN/events.*.jsonl') for l in open(f)}
assert nodes == {'n1', 'n2'}, nodes"

"$TRACEKIT" gather --run-id $RUN --output exp --from "$W1/$RUN" --from "$W2/$RUN" --quiet
check "gather of the two nodes exits 0" test $? = 0
"$TRACEKIT" export opendc --input exp --output odc --quiet
check "export opendc of the gathered run exits 0" test $? = 0

check "topology.json: two hosts named n1, n2 (node ids), count 1, in node order, cluster 'cloud'" py "
import json
d = json.load(open('odc/topology.json'))
assert [c['name'] for c in d['clusters']] == ['cloud'], d
h = d['clusters'][0]['hosts']
assert [(x['name'], x['count']) for x in h] == [('n1', 1), ('n2', 1)], h
assert all(x['cpu']['coreSpeed'] == '2000 MHz' and x['memory']['size'].endswith(' MiB') for x in h), h"
check "each host has a cpuPowerModel: OpenDC's default written out" py "
import json
h = json.load(open('odc/topology.json'))['clusters'][0]['hosts']
assert [x['cpuPowerModel'] for x in h] == [{'type': 'linear', 'idlePower': '200 W', 'maxPower': '400 W'}] * 2, h"
check "export_report.md says the energy figures will be assumptions" grep -q "Energy figures will be assumptions" odc/export_report.md
check "experiment.json decodes as OpenDC HEAD's ExperimentSpec, strictly (topology.json too)" $CHECK odc/experiment.json odc/topology.json
check "experiment.json: the run's FilterOnly as OpenDC's filter form, NoDelay, the folder as workload" py "
import json
e = json.load(open('odc/experiment.json'))
assert e['allocationPolicies'] == [{'type': 'filter', 'filters': [{'type': 'compute'},
    {'type': 'vcpu', 'allocationRatio': 1.0}, {'type': 'ram', 'allocationRatio': 1.0}], 'weighers': [],
    'subsetSize': 1}], e['allocationPolicies']
w = e['workloads'][0]
assert w['type'] == 'trace' and w['source'] == {'type': 'named', 'name': '.'} and w['scalingPolicy'] == 'NoDelay', w
assert e['topologies'] == [json.load(open('odc/topology.json'))]
assert e['name'] == 'odc' and e['exportModels'][0]['filesToExport'] == ['task', 'host', 'powerSource'], e"
check "the report names the policy's source and the 1-s slot" sh -c "grep -q \"the run's policy FilterOnly, from .*placements.jsonl\" odc/export_report.md && grep -q 'OpenDC schedules on 1-s slots' odc/export_report.md"
"$TRACEKIT" verify opendc --input odc >verify.out 2>&1
check "verify opendc passes on the export, experiment.json included" sh -c "test $? = 0 && grep -q '^pass experiment: ' verify.out"

# the checker can fail: OpenDC's doc trap and a name it does not define
py "
import json
e = json.load(open('odc/experiment.json'))
e['allocationPolicies'] = [{'type': 'prefab', 'prefabName': 'FilterOnly'}]
json.dump(e, open('bad1.json', 'w'))
e['allocationPolicies'] = [{'type': 'prefab', 'scheduler': 'Mem'}]
json.dump(e, open('bad2.json', 'w'))"
expect_fail "the checker refuses prefabName FilterOnly (no such OpenDC prefab)" $CHECK bad1.json
expect_fail "... and the README's \"scheduler\" key under --strict" $CHECK bad2.json
mkdir -p badexp && cp odc/tasks.parquet odc/fragments.parquet odc/topology.json badexp/ && cp bad1.json badexp/experiment.json
"$TRACEKIT" verify opendc --input badexp >verify.out 2>&1
check "verify fails an experiment.json with prefabName FilterOnly" sh -c "test $? = 1 && grep -q 'FAIL experiment policy: prefabName FilterOnly' verify.out"

# the policy as stated on the command line, and demand -> Perfect
"$TRACEKIT" export opendc --input exp --output odc-mem --policy Mem --cpu-usage demand --quiet
check "--policy Mem: OpenDC's prefab Mem; --cpu-usage demand: Perfect; still decodes" py "
import json, subprocess
e = json.load(open('odc-mem/experiment.json'))
assert e['allocationPolicies'] == [{'type': 'prefab', 'prefabName': 'Mem'}], e['allocationPolicies']
assert e['workloads'][0]['scalingPolicy'] == 'Perfect'
subprocess.run('$CHECK odc-mem/experiment.json'.split(), check=True)"
"$TRACEKIT" export opendc --input exp --output odc-custom --filters vcpu:2,ram --weighers instanceCount:-1 --quiet
check "--filters/--weighers: the filter form with them, compute first; decodes" py "
import json, subprocess
p = json.load(open('odc-custom/experiment.json'))['allocationPolicies'][0]
assert [f['type'] for f in p['filters']] == ['compute', 'vcpu', 'ram'] and p['filters'][1]['allocationRatio'] == 2.0, p
assert p['weighers'] == [{'type': 'instanceCount', 'multiplier': -1.0}], p
subprocess.run('$CHECK odc-custom/experiment.json'.split(), check=True)"
"$TRACEKIT" export opendc --input exp --output x --policy NoSuch 2>err.txt; rc=$?
check "an unknown --policy is a usage error (exit 2)" sh -c "test $rc = 2 && grep -q \"unknown policy 'NoSuch'\" err.txt"

# --submission: start = the measured start; slot = on OpenDC's 1-s grid from the first
"$TRACEKIT" export opendc --input exp --output odc-start --submission start --quiet
"$TRACEKIT" export opendc --input exp --output odc-slot --submission slot --quiet
for d in odc odc-start odc-slot; do $PQCAT $d/tasks.parquet >$d.tasks.json; done
check "--submission: enqueue (default) from ts_enqueue, start from ts_start, slot floored to 1 s from the first" py "
import glob, json
inv = {}
for f in glob.glob('exp/*/CTS/invocations.jsonl'):
    for l in open(f):
        r = json.loads(l); inv[r['trace_id']] = r
rows = {d: {r['name']: int(r['submission_time']) for r in json.load(open(d + '.tasks.json'))['rows']}
        for d in ('odc', 'odc-start', 'odc-slot')}
assert len(rows['odc']) == 6, rows
assert all(rows['odc'][k] == inv[k]['ts_enqueue'] for k in inv), (rows['odc'], inv)
assert all(rows['odc-start'][k] == inv[k]['ts_start'] for k in inv)
t0 = min(rows['odc'].values())
assert all(rows['odc-slot'][k] == t0 + (v - t0) // 1000 * 1000 for k, v in rows['odc'].items()), rows"
check "the slot export says no task waits for a slot" grep -q "0 of 6 tasks are submitted between slots" odc-slot/export_report.md

# --mem-unit mb: OpenDC divides by 1000 again, small tasks read as 0 MiB
"$TRACEKIT" export opendc --input exp --output odc-mb --mem-unit mb --quiet
"$TRACEKIT" verify opendc --input odc-mb >verify.out 2>&1; rc=$?
sed 's/^/# /' verify.out | grep -v '^# pass'
check "verify warns on an --mem-unit mb export (0 MiB in OpenDC), exits 0" sh -c "test $rc = 0 && grep -q '^WARN mem_capacity: 6 tasks whose mem_capacity OpenDC rounds to 0 MiB' verify.out"
"$TRACEKIT" verify opendc --input odc >verify.out 2>&1
check "... and not on the default kb export" grep -q '^pass mem_capacity: none that OpenDC rounds to 0 MiB' verify.out
