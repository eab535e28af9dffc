#!/usr/bin/env bash
# t_parse.sh -- `tracekit parse` on runs written by the test itself: torn and
# malformed lines, a PID reused by two tasks, a task without samples, a failed
# task, the original's raw files and audit layout, --strict exit codes.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# ---- command line ----
check "parse --help exits 0 with usage on stdout" bash -c '"$0" parse --help | grep -q "^usage: tracekit parse"' "$TRACEKIT"
out=$("$TRACEKIT" parse --min-coverage 1.5 2>&1); rc=$?
check "--min-coverage 1.5 is a usage error naming the value" test "$rc" = 2 -a -n "$(echo "$out" | grep "'1.5'")"
out=$("$TRACEKIT" parse --max-unsampled -1 2>&1); rc=$?
check "--max-unsampled -1 is a usage error" test "$rc" = 2
out=$("$TRACEKIT" parse --logs "$T/nologs" --run-id nope 2>&1); rc=$?
check "a missing run folder fails with exit 1 and names it" test "$rc" = 1 -a -n "$(echo "$out" | grep "nologs/nope")"
mkdir -p empty/logs/e
out=$("$TRACEKIT" parse --logs empty/logs --run-id e 2>&1); rc=$?
check "an empty run folder fails: nothing to parse" test "$rc" = 1 -a -n "$(echo "$out" | grep "nothing to parse")"

# ---- a run in the collector's format ----
R=logs/run1
mkdir -p "$R/pids"
python3 - "$R" <<'EOF'
import json, sys
d = sys.argv[1]
def dump(o): return json.dumps(o)
meta = {"run_id": "run1", "node": "cloud1", "stage": "cloud", "host": "h1", "iface": "lo",
        "cpu_cores": 2, "mem_mb": 15997, "cpu_model": "QEMU", "cpu_freq_mhz": 2399,
        "cpu_cores_online": 2, "cpu_allowed": "0-1", "cpu_freq_source": "/proc/cpuinfo",
        "mem_total_kb": 16381000, "kernel": "6.1", "boot_id": "b1", "page_size": 4096,
        "clk_tck": 100, "btime": 1758500000, "tracekit_version": "0.1.0", "ts_ms": 1,
        "proc_interval_ms": 200, "clock_offset_ms": 1.5}
open(f"{d}/node_meta.json", "w").write(dump(meta))
T0 = 1758580000000
lines = []
def s(ts, pid, start, cpu, comm="ffmpeg", ev="tick"):
    lines.append(dump({"ts_ms": T0 + ts, "pid": pid, "rss_kb": 1000 + ts // 100, "utime": int(cpu // 10),
                       "stime": 0, "start_ticks": start, "comm": comm, "cpu_ms": cpu,
                       "mono_us": 5000000 + ts * 1000, "threads": 1, "ev": ev}))
# task T1: pid 500, start_ticks 1000, 0..1000 ms, samples 100..900
for i, ts in enumerate(range(100, 1000, 200)):
    s(ts, 500, 1000, 150.0 * i, ev="new" if i == 0 else "tick")
lines.append('{"ts_ms": 1758580000950, "pid": 500, "rss_kb": 1')   # malformed (complete line)
# task T2 reuses pid 500 (start_ticks 2000), 2000..3000 ms
for i, ts in enumerate(range(2100, 3000, 200)):
    s(ts, 500, 2000, 100.0 * i)
s(2900, 500, 2000, 400.0)                       # same timestamp again: merged, no dt 0 record
# task T4 fails (killed), pid 700, 1000..2000 ms
for i, ts in enumerate(range(1100, 2000, 200)):
    s(ts, 700, 3000, 50.0 * i)
open(f"{d}/proc_metrics.jsonl", "w").write("\n".join(lines) + "\n" +
     '{"ts_ms": 1758580003000, "pid": 700, "rss')  # torn last line
def ev(tid, pid, start_ticks, a, b, status=0, signal=None, cpu=(0, 0), app="ffmpeg", enq=None):
    return dump({"trace_id": tid, "span_id": None, "parent_id": None, "module_id": app,
                 "instance_id": None, "ts_enqueue": T0 + (a - 50 if enq is None else enq),
                 "ts_start": T0 + a, "ts_end": T0 + b, "node": "cloud1", "stage": "cloud",
                 "method": "CLI", "path": app, "input": "in.mp4", "output": "out.mp4", "pid": pid,
                 "cpuset": None, "bytes_in": 1, "bytes_out": 2, "status": status,
                 "start_ticks": start_ticks, "signal": signal, "cpu_user_ms": cpu[0],
                 "cpu_sys_ms": cpu[1], "max_rss_kb": 2000, "argv": [app], "app": app,
                 "cpu_units": 1, "cpu_binding": "none", "cpuset_applied": "0", "cpu_weight_applied": None,
                 "cpu_quota_applied": None, "cgroup": None, "attempt": 1, "error": None})
open(f"{d}/events.ffmpeg.jsonl", "w").write("\n".join([
    ev("T2", 500, 2000, 2000, 3000, cpu=(300, 100)),
    ev("T1", 500, 1000, 0, 1000, cpu=(550, 50)),
    "not json at all",
]) + "\n")
open(f"{d}/events.other.jsonl", "w").write("\n".join([
    ev("T4", 700, 3000, 1000, 2000, status=137, signal=9, cpu=(180, 20), app="other"),
    ev("T3", 600, 4000, 4000, 5000, cpu=(100, 0), app="other"),
]) + "\n")
h = {"ts_ms": T0, "mono_us": 1, "node": "cloud1", "dt_ms": 1000.2, "cpu_user": 0.1, "cpu_util": 15.5,
     "net": {"lo": {"rx_bytes_ps": 1.0}}}
open(f"{d}/host_metrics.jsonl", "w").write(dump(h) + "\n" + dump(h) + "\n" + '{"ts_ms": 17')
EOF
touch "$R/pids/500"

out=$("$TRACEKIT" parse --logs logs --run-id run1 2>&1); rc=$?
check "parse of the run exits 0" test "$rc" = 0
echo "$out" | sed 's/^/# /'
check "the summary says where the files are" grep -q "wrote logs/run1/CTS/" <<<"$out"
check "the summary counts skipped lines" grep -q "1 line(s) skipped" <<<"$out"
C=$R/CTS
check "CTS has the six files and nothing else" test "$(ls "$C" | tr '\n' ' ')" = "audit.json audit_report.md host_metrics.jsonl invocations.jsonl nodes.json proc_metrics.jsonl "
check "no temporary folder is left" test -z "$(ls "$R" | grep -E 'CTS\.(tmp|old)')"

check "proc_metrics: one baseline per process identity, pid 500 twice (start_ticks 1000, 2000)" py '
import json
rows = [json.loads(l) for l in open("'"$C"'/proc_metrics.jsonl")]
base = [(r["pid"], r["start_ticks"]) for r in rows if r["dt_ms"] == 0]
assert base == [(500, 1000), (500, 2000), (700, 3000)], base
assert list(rows[0]) == ["ts_ms", "pid", "dt_ms", "cpu_ms", "rss_kb", "start_ticks", "comm"], list(rows[0])
cpu = {}
for r in rows: cpu[(r["pid"], r["start_ticks"])] = cpu.get((r["pid"], r["start_ticks"]), 0) + r["cpu_ms"]
assert cpu == {(500, 1000): 600, (500, 2000): 400, (700, 3000): 200}, cpu
assert len(rows) == 5 + 5 + 5, len(rows)
'
check "proc_metrics: dt from the monotonic clock, no dt 0 after the baseline" py '
import json
rows = [json.loads(l) for l in open("'"$C"'/proc_metrics.jsonl")]
seen = set()
for r in rows:
    k = (r["pid"], r["start_ticks"])
    if k in seen: assert r["dt_ms"] == 200, r
    seen.add(k)
'
check "invocations: one per task event with status, signal, start_ticks, placement" py '
import json
rows = [json.loads(l) for l in open("'"$C"'/invocations.jsonl")]
assert [r["trace_id"] for r in rows] == ["T1", "T4", "T2", "T3"], [r["trace_id"] for r in rows]
assert list(rows[0])[:5] == ["trace_id", "pid", "ts_enqueue", "ts_start", "ts_end"]
t4 = rows[1]
assert t4["status"] == 137 and t4["signal"] == 9 and t4["start_ticks"] == 3000 and t4["node"] == "cloud1"
assert t4["cpuset"] == "0" and t4["cpu_units"] == 1 and t4["app"] == "other" and t4["attempt"] == 1
'
check "events.jsonl merges both event files in time order" py '
import json
rows = [json.loads(l) for l in open("'"$R"'/events.jsonl")]
assert [r["trace_id"] for r in rows] == ["T1", "T4", "T2", "T3"]
assert len(rows[0]) == 34, len(rows[0])
'
check "nodes.json keeps raw values and our fields" py '
import json
n = json.load(open("'"$C"'/nodes.json"))
assert len(n) == 1 and n[0]["node_id"] == "cloud1" and n[0]["mem_mb"] == 15997 and n[0]["cpu_freq_mhz"] == 2399
assert n[0]["boot_id"] == "b1" and n[0]["clk_tck"] == 100 and n[0]["clock_offset_ms"] == 1.5
assert list(n[0])[:6] == ["node_id", "stage", "cpu_cores", "mem_mb", "cpu_model", "cpu_freq_mhz"]
assert not open("'"$C"'/nodes.json").read().endswith("\n")
'
check "host_metrics.jsonl: the good lines copied" py '
import json
rows = [json.loads(l) for l in open("'"$C"'/host_metrics.jsonl")]
assert len(rows) == 2 and rows[0]["net"]["lo"]["rx_bytes_ps"] == 1.0
'
check "audit.json: the task without samples, the failed task, PID reuse, skipped lines" py '
import json
a = json.load(open("'"$C"'/audit.json"))
assert [t["trace_id"] for t in a["unsampled_tasks"]] == ["T3"], a["unsampled_tasks"]
f = a["failed_tasks"]
assert len(f) == 1 and f[0]["trace_id"] == "T4" and f[0]["status"] == 137 and f[0]["signal"] == 9, f
assert a["pid_reuse"] == [{"pid": 500, "processes": 2, "tasks": 2}], a["pid_reuse"]
sk = {x["file"]: x for x in a["skipped_lines"]}
assert sk["proc_metrics.jsonl"]["torn"] == 1 and sk["proc_metrics.jsonl"]["malformed"] == 1, sk
assert sk["events.ffmpeg.jsonl"]["malformed"] == 1 and sk["host_metrics.jsonl"]["torn"] == 1, sk
assert a["derivation"]["merged_same_timestamp"] == 1
assert a["jitter"]["interval_ms"] == 200 and a["jitter"]["interval_source"] == "node_meta.json"
assert a["jitter"]["max_ms"] == 0 and a["clock"]["offset_ms"] == 1.5
t = {x["trace_id"]: x for x in a["tasks"]}
assert abs(t["T1"]["coverage"] - 0.8) < 1e-9 and t["T1"]["first_sample_delay_ms"] == 100
assert t["T1"]["last_sample_gap_ms"] == 100 and t["T1"]["cpu_samples_ms"] == 600
assert t["T1"]["cpu_exact_ms"] == 600 and t["T1"]["cpu_rel_error"] == 0.0
assert t["T2"]["cpu_samples_ms"] == 400 and t["T2"]["samples"] == 5
assert t["T3"]["samples"] == 0 and t["T3"]["coverage"] is None
assert a["summary"]["invocations"] == 4 and a["summary"]["distinct_pids_invocations"] == 3
'
M=$C/audit_report.md
check "audit_report.md: the original sections" bash -c 'grep -q "^## Summary$" "$0" && grep -q "^## Field completeness (missing counts / rate)$" "$0" && grep -q "^## Temporal consistency$" "$0" && grep -q "^## Cross-reference$" "$0" && grep -q "^Node: cloud1  |  Stage: cloud$" "$0"' "$M"
check "audit_report.md: unsampled task listed" grep -q "^- T3: pid 600, duration 1000 ms, status 0$" "$M"
check "audit_report.md: failed task listed" grep -q "^- T4: pid 700, status 137, signal 9$" "$M"
check "audit_report.md: PID reuse listed" grep -q "^- pid 500: 2 process(es), 2 task(s)$" "$M"
check "audit_report.md: torn and malformed lines counted" grep -q "^| proc_metrics.jsonl | 18 | 16 | 1 | 1 | 0 |$" "$M"
check "audit_report.md: unmatched PID in the original's list syntax" grep -q "^  sample unmatched PIDs: \[600\]$" "$M"

# ---- --strict ----
"$TRACEKIT" parse --logs logs --run-id run1 --quiet --strict 2>err.txt; rc=$?
check "--strict fails (exit 1) with a task without samples" test "$rc" = 1
check "--strict says why on stderr" grep -q "1 task(s) without samples" err.txt
check "audit.json records the failed check" py '
import json; a = json.load(open("'"$C"'/audit.json")); assert a["strict"]["passed"] is False'
"$TRACEKIT" parse --logs logs --run-id run1 --quiet --max-unsampled 1 --min-coverage 0.75 --max-cpu-error 0.01 --max-jitter-ms 1; rc=$?
check "within all limits: exit 0" test "$rc" = 0
"$TRACEKIT" parse --logs logs --run-id run1 --quiet --max-unsampled 1 --min-coverage 0.9 2>err.txt; rc=$?
check "--min-coverage 0.9 fails (tasks at 80%)" test "$rc" = 1 -a -n "$(grep 'below --min-coverage' err.txt)"
check "audit_report.md shows the failed threshold" grep -q "^- FAIL: 3 task(s) with sampling coverage below" "$M"

# ---- RUN_ID resolution said out loud ----
out=$("$TRACEKIT" parse --logs logs 2>&1)
check "without a run id the newest folder is used and said" grep -q "RUN_ID=run1 (the newest run folder" <<<"$out"
echo "RUN_ID=run1" >run_id.env
out=$("$TRACEKIT" parse --logs logs 2>&1)
check "run_id.env is used and said" grep -q "RUN_ID=run1 (from run_id.env)" <<<"$out"
rm run_id.env
out=$(RUN_ID=run1 "$TRACEKIT" parse --logs logs 2>&1)
check "RUN_ID from the environment is used and said" grep -q "RUN_ID=run1 (from RUN_ID)" <<<"$out"

# ---- re-parse replaces CTS as a whole; stale temporary folders go ----
echo junk >"$C/stray.txt"
mkdir -p "$R/CTS.tmp.999999999"
"$TRACEKIT" parse --logs logs --run-id run1 --quiet
check "a re-parse leaves no stray file in CTS/" test ! -e "$C/stray.txt"
check "a dead parse's CTS.tmp folder is removed" test ! -e "$R/CTS.tmp.999999999"
cp "$C/proc_metrics.jsonl" asan.jsonl
"$TRACEKIT_RELEASE" parse --logs logs --run-id run1 --quiet
check "release and ASan builds write the same CTS proc_metrics" cmp -s asan.jsonl "$C/proc_metrics.jsonl"

# ---- the original's files and audit layout (upstream spec §8.1) ----
O=old/logs/20250922002
mkdir -p "$O"
printf '%s' '{"run_id": "20250922002", "node": "cloud1gxie", "stage": "cloud", "host": "cloud1gxie", "iface": "ens2", "cpu_cores": 4, "mem_mb": 15997, "cpu_model": "QEMU Virtual CPU version 2.5+", "cpu_freq_mhz": 2399}' >"$O/node_meta.json"
for i in 0 1 2 3 4; do
  echo "{\"ts_ms\": $((1758580000000 + i * 1000)), \"pid\": 4242, \"rss_kb\": 50100, \"utime\": $((i * 180)), \"stime\": $((i * 5))}"
done >"$O/proc_metrics.jsonl"
cat >"$O/events.ffmpeg.jsonl" <<'EOF'
{"trace_id": "6f1c2a9e-0d4b-4c8e-9a51-3b7e2f1d0c11", "span_id": null, "parent_id": null, "module_id": "ffmpeg", "instance_id": null, "ts_enqueue": 1758579997000, "ts_start": 1758579999300, "ts_end": 1758580004300, "node": "vm0", "stage": "cloud", "method": "CLI", "path": "ffmpeg", "input": "gen_854x480_10s.mp4", "output": "gen_854x480_10s_854x480_h264_medium_n0000.mp4", "pid": 4242, "cpuset": null, "bytes_in": 212984, "bytes_out": 150000, "status": 0}
{"trace_id": "0d4b6f1c-2a9e-4c8e-9a51-3b7e2f1d0c12", "span_id": null, "parent_id": null, "module_id": "ffmpeg", "instance_id": null, "ts_enqueue": 1758580009000, "ts_start": 1758580005000, "ts_end": 1758580006000, "node": "vm0", "stage": "cloud", "method": "CLI", "path": "ffmpeg", "input": "gen_854x480_10s.mp4", "output": "x.mp4", "pid": 777, "cpuset": null, "bytes_in": 212984, "bytes_out": 150000, "status": 0}
EOF
"$TRACEKIT" parse --logs old/logs --run-id 20250922002 --quiet; rc=$?
check "the original's raw files parse" test "$rc" = 0
cat >want.md <<'EOF'
# CTS Audit Report
Node: cloud1gxie  |  Stage: cloud

## Summary
Invocations: 2
Proc metrics samples: 5
Distinct PIDs (invocations): 2
Distinct PIDs (proc_metrics): 1
PID match rate: 50.00%

## Field completeness (missing counts / rate)
- invocations.trace_id: 0 (0.00%)
- invocations.ts_enqueue: 0 (0.00%)
- invocations.ts_start: 0 (0.00%)
- invocations.ts_end: 0 (0.00%)
- invocations.pid: 0 (0.00%)
- proc_metrics.ts_ms: 0 (0.00%)
- proc_metrics.pid: 0 (0.00%)
- proc_metrics.dt_ms: 0 (0.00%)
- proc_metrics.cpu_ms: 0 (0.00%)
- proc_metrics.rss_kb: 0 (0.00%)

## Temporal consistency
- invocations ts_enqueue ≤ ts_start ≤ ts_end violations: 1
- proc_metrics per-pid strictly increasing ts_ms violations: 0
- proc_metrics records with dt_ms < 0: 0

## Cross-reference
- invocations without matching proc_metrics PID: 1
  sample unmatched PIDs: [777]
EOF
check "audit_report.md reproduces the original's report on its example" cmp -s want.md <(head -n "$(wc -l <want.md)" "$O/CTS/audit_report.md")
check "the original's example: CTS proc_metrics like the original's (dt 1000, cpu 1850)" py '
import json
rows = [json.loads(l) for l in open("'"$O"'/CTS/proc_metrics.jsonl")]
assert [(r["dt_ms"], r["cpu_ms"]) for r in rows] == [(0, 0)] + [(1000, 1850)] * 4, rows
assert rows[1] == {"ts_ms": 1758580001000, "pid": 4242, "dt_ms": 1000, "cpu_ms": 1850, "rss_kb": 50100, "start_ticks": None}
'

# ---- the original's experiment layout: RUN_ID(cN) folders ----
mkdir -p exp/logs
cp -r "$O" "exp/logs/X(c0)"; cp -r "$O" "exp/logs/X(c1)"
rm -rf "exp/logs/X(c0)/CTS" "exp/logs/X(c1)/CTS"
out=$("$TRACEKIT" parse --logs exp/logs --run-id X 2>&1); rc=$?
check "--run-id X parses every X(cN) folder" test "$rc" = 0 -a -f "exp/logs/X(c0)/CTS/audit.json" -a -f "exp/logs/X(c1)/CTS/audit.json"

# ---- no node_meta.json, a broken one ----
N=nometa/logs/r
mkdir -p "$N"; cp "$O/proc_metrics.jsonl" "$N/"
"$TRACEKIT" parse --logs nometa/logs --run-id r --node-id n9 --stage edge --quiet; rc=$?
check "without node_meta.json: parsed, node id from --node-id" py '
import json
n = json.load(open("'"$N"'/CTS/nodes.json"))
assert '"$rc"' == 0 and n[0]["node_id"] == "n9" and n[0]["stage"] == "edge" and n[0]["cpu_cores"] is None
'
echo '{"run_id": "r", "node": ' >"$N/node_meta.json"
out=$("$TRACEKIT" parse --logs nometa/logs --run-id r --quiet 2>&1); rc=$?
check "a broken node_meta.json is a warning, not a failure" test "$rc" = 0 -a -n "$(echo "$out" | grep node_meta.json)"
check "the broken node_meta.json shows in the audit" grep -q "^| node_meta.json | - | 0 | unreadable" "$N/CTS/audit_report.md"

# ---- garbage never makes parse fail ----
mkdir -p fuzz/logs/f
python3 - fuzz/logs/f <<'EOF2'
import json, random, sys
d = sys.argv[1]
random.seed(7)
base = {"ts_ms": 1758580001000, "pid": 1, "rss_kb": 1, "utime": 1, "stime": 1, "start_ticks": 1,
        "comm": "ffmpeg", "cpu_ms": 1.5, "mono_us": 81234567890, "threads": 3, "ev": "tick"}
odd = ['null', 'true', '-0', '1e999', '-9223372036854775808', '9223372036854775808', '"\\u0000"',
       '[]', '{}', '1.5', '"x"', '-1', '""', '"\\u00e9"', '18446744073709551616']
out = []
for i in range(4000):
    o = dict(base, ts_ms=base["ts_ms"] + i * 7, pid=random.randrange(4), utime=random.randrange(-5, 10**6),
             mono_us=base["mono_us"] + random.randrange(-10**6, 10**7))
    s = json.dumps(o)
    r = random.random()
    if r < 0.3:
        k = random.choice(list(base))
        s = s.replace(json.dumps({k: o[k]})[1:-1], '"%s": %s' % (k, random.choice(odd)))
    elif r < 0.5:
        p = random.randrange(len(s)); s = s[:p] + chr(random.randrange(1, 127)) + s[p + 1:]
    elif r < 0.6:
        s = s[:random.randrange(len(s))]
    out.append(s)
open(f"{d}/proc_metrics.jsonl", "w").write("\n".join(out))
ev = [json.dumps({"trace_id": random.choice(["a", None, 5]), "pid": random.choice([0, 1, None, "x", 1.5]),
                  "ts_enqueue": random.choice([None, 1, "s", 1e30]), "ts_start": random.choice([1, None, 2**63 - 1]),
                  "ts_end": random.choice([2, None, 2.5]), "status": random.choice([0, 1, None, "x"]),
                  "cpu_user_ms": random.choice([1, None, 1e308]), "cpu_sys_ms": random.choice([1, 1e308]),
                  "error": random.choice([None, "boom", {"a": 1}])}) for _ in range(200)]
open(f"{d}/events.a.jsonl", "w").write("\n".join(ev) + "\n")
EOF2
"$TRACEKIT" parse --logs fuzz/logs --run-id f --quiet 2>/dev/null; rc=$?
check "random garbage in the raw files: parse still succeeds (ASan/UBSan clean)" test "$rc" = 0
check "and every output is valid JSON" py '
import json
d = "fuzz/logs/f/CTS/"
json.load(open(d + "audit.json")); json.load(open(d + "nodes.json"))
for f in ("proc_metrics.jsonl", "invocations.jsonl"):
    for l in open(d + f): json.loads(l)
'

# A folder with clean traces but no raw samples (as shipped through Redis)
# is not parsed again: that would replace CTS/ with one without samples.
mkdir -p "$T/shipped/CTS"
echo '{"node_id": "n9", "stage": "cloud"}' >"$T/shipped/node_meta.json"
echo '{"ts_ms": 1, "pid": 5, "dt_ms": 0, "cpu_ms": 0, "rss_kb": 1}' >"$T/shipped/CTS/proc_metrics.jsonl"
echo '{"trace_id": "x", "pid": 5, "ts_enqueue": 1, "ts_start": 1, "ts_end": 2}' >"$T/shipped/events.a.jsonl"
"$TRACEKIT" parse --dir "$T/shipped" --quiet 2>"$T/shipped.err"; rc=$?
check "a shipped folder (CTS/, no raw samples) is not parsed again: exit 1" test "$rc" -eq 1
check "... saying why" grep -q "parsing it again would lose its samples" "$T/shipped.err"
check "... and its samples are kept" test "$(wc -l <"$T/shipped/CTS/proc_metrics.jsonl")" = 1
