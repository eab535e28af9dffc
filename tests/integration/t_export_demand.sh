#!/usr/bin/env bash
# tracekit export opendc --cpu-usage received|demand on a CTS run built
# here: two tasks pinned to one CPU, each receiving 0.5 core and waiting
# 0.5 core (run_delay_ms) per interval, and a third whose demand passes its
# cpu_count.  received gives ~0.5 core x MHz, demand ~1 core x MHz, held at
# cpu_count; verify passes on both; the report and summaries say which was
# used and repeat CTS/audit.json's host_cpu warning per node; an old CTS
# without run_delay_ms exports the same either way; bad values exit 2.
source "$(dirname "$0")/lib.sh"

make -C "$ROOT" -s build/bench/parquet/pqcat >"$T/make.log" 2>&1 ||
  { not_ok "build pqcat: $(tail -3 "$T/make.log")"; exit 1; }
PQCAT=$ROOT/build/bench/parquet/pqcat

# frags DIR: fragments.parquet of DIR as "id duration cpu_usage" lines.
frags() {
  $PQCAT "$1/fragments.parquet" | python3 -c "
import json, sys
for r in json.load(sys.stdin)['rows']:
    print(r['id'], r['duration'], round(float(r['cpu_usage']), 6))"
}
tasks() { $PQCAT "$1/tasks.parquet" | python3 -c "import json, sys; print(json.dumps(json.load(sys.stdin)['rows']))"; }

python3 - "$T" <<'EOF'
import json, os, sys
T0 = 1758580000000
root = sys.argv[1]

def jsonl(path, rows):
    with open(path, 'w') as f:
        for r in rows:
            f.write(json.dumps(r) + '\n')

def node(path, node_id, host_cpu):
    os.makedirs(f'{path}/CTS', exist_ok=True)
    json.dump([{"node_id": node_id, "stage": "cloud", "cpu_cores": 2, "mem_mb": 8192,
                "cpu_model": "QEMU Virtual CPU", "cpu_freq_mhz": 2400}], open(f'{path}/CTS/nodes.json', 'w'))
    if host_cpu is not None:
        json.dump({"host_cpu": host_cpu, "run_delay": {"tasks_with_delay": 3}},
                  open(f'{path}/CTS/audit.json', 'w'))

def inv(pid, trace, cpu, cpuset):
    r = {"trace_id": trace, "pid": pid, "ts_enqueue": T0, "ts_start": T0, "ts_end": T0 + 2000, "node": "vm0",
         "status": 0, "start_ticks": pid * 10, "attempt": 1, "cpu_user_ms": cpu, "cpu_sys_ms": 0,
         "max_rss_kb": 4096, "cpu_units": 1}
    if cpuset:
        r["cpuset"] = cpuset
    return r

# Per CTS interval (500 ms): a and b pinned to CPU 0, 250 ms CPU + 250 ms
# run delay each (0.5 + 0.5 core); b's last interval has no run delay; c
# (not pinned) 350 ms CPU + 250 ms delay: 1.2 cores of demand, cpu_count 1.
def samples(with_delay=True):
    pm = []
    for pid, cpu in ((101, 250), (102, 250), (103, 350)):
        base = {"ts_ms": T0, "pid": pid, "dt_ms": 0, "cpu_ms": 0, "rss_kb": 4000, "start_ticks": pid * 10}
        if with_delay:
            base["run_delay_ms"] = 0
        pm.append(base)
        for k in range(1, 5):
            r = {"ts_ms": T0 + 500 * k, "pid": pid, "dt_ms": 500, "cpu_ms": cpu, "rss_kb": 4000,
                 "start_ticks": pid * 10}
            if with_delay and not (pid == 102 and k == 4):
                r["run_delay_ms"] = 250.0
            pm.append(r)
    return pm

invs = [inv(101, "a", 1000, "0"), inv(102, "b", 1000, "0"), inv(103, "c", 1400, None)]

# The experiment: node vm0 whose audit warns (19.5% explained), node vm1
# explained 92.4% (no warning, no tasks of interest: one idle task).
p = f'{root}/exp/RUN(c0)'
node(p, 'vm0', {"host_samples": 20, "window_ms": 2000, "host_busy_cpu_ms": 15384.6, "traced_cpu_ms": 3000,
                "explained_pct": 19.5, "warning": True})
jsonl(f'{p}/CTS/invocations.jsonl', invs)
jsonl(f'{p}/CTS/proc_metrics.jsonl', samples())
p = f'{root}/exp/RUN(c1)'
node(p, 'vm1', {"host_samples": 20, "window_ms": 2000, "host_busy_cpu_ms": 108.2, "traced_cpu_ms": 100,
                "explained_pct": 92.4, "warning": False})
jsonl(f'{p}/CTS/invocations.jsonl', [dict(inv(201, "idle", 100, "1"), node="vm1")])
jsonl(f'{p}/CTS/proc_metrics.jsonl', [])

# The same run from an older parse: no run_delay_ms, no host_cpu.
p = f'{root}/old'
node(p, 'vm0', None)
jsonl(f'{p}/CTS/invocations.jsonl', invs)
jsonl(f'{p}/CTS/proc_metrics.jsonl', samples(with_delay=False))

# An audit without host samples, and one that is not JSON.
for name, audit in (('nohost', {"host_samples": 0, "window_ms": 0, "host_busy_cpu_ms": 0, "traced_cpu_ms": 0,
                                "explained_pct": None, "warning": False}), ('badaudit', None)):
    p = f'{root}/{name}'
    node(p, 'vm0', audit)
    if audit is None:
        open(f'{p}/CTS/audit.json', 'w').write('{"host_cpu": {"explained_pct": ')
    jsonl(f'{p}/CTS/invocations.jsonl', invs[:1])
    jsonl(f'{p}/CTS/proc_metrics.jsonl', samples()[:5])
EOF

# ---- received (the default) and demand ----
check "export, default usage" $TRACEKIT export opendc --input "$T/exp" --output "$T/def" --json
cp "$T/def/fragments.parquet" "$T/def.frags"
check "export --cpu-usage received" $TRACEKIT export opendc --input "$T/exp" --output "$T/rec" --cpu-usage received
check "export --cpu-usage demand" $TRACEKIT export opendc --input "$T/exp" --output "$T/dem" --cpu-usage demand
check "received is the default (fragments.parquet byte for byte)" cmp -s "$T/def.frags" "$T/rec/fragments.parquet"
check "tasks.parquet is the same in both modes (cpu_count from the received CPU)" cmp -s "$T/rec/tasks.parquet" "$T/dem/tasks.parquet"
frags "$T/rec" >"$T/rec.txt"
frags "$T/dem" >"$T/dem.txt"
tasks "$T/dem" >"$T/tasks.json"
check "received: a and b at 0.5 core x 2400 MHz for 2 s, c at 0.7 core" diff -u - "$T/rec.txt" <<'EOF'
101 2000 1200.0
102 2000 1200.0
103 2000 1680.0
201 2000 120.0
EOF
check "demand: a at 1 core x 2400 MHz; b at 1 core until its interval without run delay (kept at 0.5); c held at cpu_count 1" \
  diff -u - "$T/dem.txt" <<'EOF'
101 2000 2400.0
102 1500 2400.0
102 500 1200.0
103 2000 2400.0
201 2000 120.0
EOF
check "every task has cpu_count 1, cpu_capacity 2400 MHz" python3 -c "
import json
t = json.load(open('$T/tasks.json'))
assert [(r['id'], r['cpu_count'], float(r['cpu_capacity'])) for r in t] == [
    ('101', '1', 2400.0), ('102', '1', 2400.0), ('103', '1', 2400.0), ('201', '1', 2400.0)], t"
check "verify opendc passes on the received export" $TRACEKIT verify opendc --input "$T/rec"
check "verify opendc passes on the demand export" $TRACEKIT verify opendc --input "$T/dem"

# ---- export_report.md ----
R=$T/rec/export_report.md D=$T/dem/export_report.md
check "received report says received" grep -q "^- CPU usage: \*\*received\*\* (--cpu-usage received, the default)" "$R"
check "received report counts the run delay it leaves out" \
  grep -qF -- "- Run delay (waiting for a CPU): 2750.000 ms in 11 of 12 sampled fragments (one per CTS interval, before merging); 1 without run delay" "$R"
check "demand report says demand" grep -q "^- CPU usage: \*\*demand\*\* (--cpu-usage demand)" "$D"
check "demand report: fragments without run delay kept at received" \
  grep -qF -- "11 of 12 sampled fragments (one per CTS interval, before merging); 1 without run delay, kept at their received CPU" "$D"
check "demand report: delay added and left out at cpu_count" \
  grep -qF -- "- Demand: 2350.000 ms of run delay added to the fragments; 400.000 ms above the tasks' \`cpu_count\` left out (1 tasks)" "$D"
check "demand report lists the task held at cpu_count" grep -qF "| 103 | vm0 | 103 | 1758580000000 | c | 3 | 400.000 |" "$D"
expect_fail "received report has no demand section" grep -q "Run delay above cpu_count" "$R"
for f in "$R" "$D"; do
  m=$(basename "$(dirname "$f")")
  check "$m report: node vm0's host CPU figure" grep -qF -- "- vm0: traced CPU explains 19.5% of the host's busy CPU" "$f"
  check "$m report: node vm1's host CPU figure" grep -qF -- "- vm1: traced CPU explains 92.4% of the host's busy CPU" "$f"
  check "$m report: one WARNING, for vm0" test "$(grep -c "WARNING" "$f")" = 1
done
check "received report's warning points at demand" grep -qF "received CPU understates demand: see --cpu-usage demand" "$R"

# ---- console and --json summaries ----
$TRACEKIT export opendc --input "$T/exp" --output "$T/s1" >"$T/s1.out" 2>&1
$TRACEKIT export opendc --input "$T/exp" --output "$T/s2" --cpu-usage demand >"$T/s2.out" 2>&1
check "console summary says received" grep -q "^CPU usage: received (2750.000 ms of run delay not in it" "$T/s1.out"
check "console summary says demand" grep -q "^CPU usage: demand (received + 2350.000 ms of run delay; 1 of 12 sampled fragments without" "$T/s2.out"
check "console summary warns for vm0 only" \
  test "$(grep "^WARNING" "$T/s2.out")" = "WARNING: node vm0: traced CPU explains 19.5% of the host's busy CPU (untraced load shared its cores)"
$TRACEKIT export opendc --input "$T/exp" --output "$T/s3" --cpu-usage demand --json >"$T/s3.json"
check "--json says demand, the run delay and the host CPU per node" python3 -c "
import json
d = json.load(open('$T/s3.json'))
assert d['cpu_usage'] == 'demand', d
rd = d['run_delay']
assert (rd['sampled_fragments'], rd['fragments_without_run_delay']) == (12, 1), rd
assert (rd['run_delay_ms'], rd['demand_added_ms'], rd['demand_capped_ms']) == (2750, 2350, 400), rd
assert d['host_cpu'] == [{'node': 'vm0', 'explained_pct': 19.5, 'warning': True},
                         {'node': 'vm1', 'explained_pct': 92.4, 'warning': False}], d['host_cpu']"
$TRACEKIT export opendc --input "$T/exp" --output "$T/s4" --json >"$T/s4.json"
check "--json of the default says received" python3 -c "
import json
d = json.load(open('$T/s4.json'))
assert d['cpu_usage'] == 'received' and d['run_delay']['demand_added_ms'] == 0, d"

# ---- an older CTS without run_delay_ms ----
check "export of an old CTS, demand" $TRACEKIT export opendc --input "$T/old" --output "$T/old-d" --cpu-usage demand
check "export of an old CTS, received" $TRACEKIT export opendc --input "$T/old" --output "$T/old-r"
check "without run delay, demand exports the received CPU (fragments byte for byte)" cmp -s "$T/old-d/fragments.parquet" "$T/old-r/fragments.parquet"
check "old CTS: every sampled fragment counted without run delay" \
  grep -qF "0.000 ms in 0 of 12 sampled fragments (one per CTS interval, before merging); 12 without run delay, kept at their received CPU" "$T/old-d/export_report.md"
expect_fail "old CTS: no host CPU section without audit.json" grep -q "Host CPU explained" "$T/old-d/export_report.md"

# ---- audit.json without host samples, or unreadable ----
check "export with an audit without host samples" $TRACEKIT export opendc --input "$T/nohost" --output "$T/nh" --json
check "... the report says unknown" grep -qF -- "- vm0: unknown (no host samples)" "$T/nh/export_report.md"
expect_fail "... and warns of nothing" grep -q "WARNING" "$T/nh/export_report.md"
$TRACEKIT export opendc --input "$T/badaudit" --output "$T/ba" --json >"$T/ba.json" 2>"$T/ba.err"
rc=$?
check "an audit.json that is not JSON does not stop the export" test "$rc" = 0
check "... it is named among the warnings, and no host CPU figure is made up" python3 -c "
import json
d = json.load(open('$T/ba.json'))
assert d['host_cpu'] == [], d
assert any('audit.json' in w and 'not repeated' in w for w in d['warnings']), d['warnings']"

# ---- usage errors ----
$TRACEKIT export opendc --input "$T/exp" --output "$T/bad" --cpu-usage foo >"$T/bad.out" 2>&1
rc=$?
check "--cpu-usage foo exits 2" test "$rc" = 2
check "the message names the value and the choices" grep -qF -- "--cpu-usage: 'foo' is not received or demand" "$T/bad.out"
check "nothing written on a bad value" test ! -e "$T/bad"
$TRACEKIT export opendc --input "$T/exp" --output "$T/bad" --cpu-usage demand --upstream-compat >"$T/bad2.out" 2>&1
rc=$?
check "--cpu-usage demand with --upstream-compat exits 2" test "$rc" = 2
check "... saying why" grep -qF "cannot be combined with --upstream-compat" "$T/bad2.out"
check "--help documents --cpu-usage" sh -c "$TRACEKIT export --help | grep -q -- '--cpu-usage KIND'"
