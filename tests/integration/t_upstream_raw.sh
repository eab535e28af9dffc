#!/usr/bin/env bash
# t_upstream_raw.sh -- a run in the original Tracekit's raw format (upstream
# §5.4-5.5, §6.4: node_meta.json, proc_metrics.jsonl with utime/stime in
# ticks and no start_ticks, events.ffmpeg.jsonl without CPU totals), made
# here from that documented format: a task first sampled 5 s late keeps the
# CPU it used before its first sample; a single-threaded task sampled at
# 200 ms with 10-ms ticks exports cpu_count 1; a task without samples is
# warned about by export and verify.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/tools/need-hyparquet.sh"
cd "$T" || exit 1

R=logs/orig1
mkdir -p "$R"
python3 - "$R" <<'EOF'
import json, sys
d = sys.argv[1]
T0 = 1758580000000
meta = {"run_id": "orig1", "node": "vm0", "stage": "cloud", "host": "h", "iface": "lo",
        "cpu_cores": 4, "mem_mb": 15997, "cpu_model": "QEMU", "cpu_freq_mhz": 2399}
open(f"{d}/node_meta.json", "w").write(json.dumps(meta))
lines = []
def sample(ts, pid, cpu_ms):
    # the original: utime/stime in 10-ms ticks (truncated), no start_ticks
    t = int(cpu_ms // 10)
    lines.append({"ts_ms": T0 + ts, "pid": pid, "rss_kb": 50000, "utime": t - t // 10, "stime": t // 10})
# A: pid 4242, one thread at 1 core from 0 to 10000 ms (true CPU 10000 ms);
# the original wrapper registered it 5 s late: first sample at 5000 ms.
# Every 200 ms; the counters are read up to 15 ms after ts_ms and in whole
# 10-ms ticks, so intervals show 19 or 21 ticks: 0.95 or 1.05 cores.
def run(pid, t0, t1):
    k = 0
    t = t0
    while t < t1 - 150:
        sample(t, pid, min(t + (15 if k % 2 else 0), t1))
        t += 200
        k += 1
    sample(t1 - 10, pid, t1 - 10)
run(4242, 5000, 10000)
# B: pid 4343, one thread at 1 core from 0 to 4000 ms, sampled from the start
run(4343, 0, 4000)
lines.sort(key=lambda o: (o["ts_ms"], o["pid"]))
with open(f"{d}/proc_metrics.jsonl", "w") as f:
    for o in lines:
        f.write(json.dumps(o) + "\n")
def ev(pid, start, end, name):
    # B5: the original wrapper's ts_start can be up to 1 s early (from btime)
    return {"trace_id": name, "span_id": None, "parent_id": None, "module_id": "ffmpeg",
            "instance_id": None, "ts_enqueue": T0 + start - 300, "ts_start": T0 + start,
            "ts_end": T0 + end, "node": "vm0", "stage": "cloud", "method": "CLI", "path": "ffmpeg",
            "input": "in.mp4", "output": "out.mp4", "pid": pid, "cpuset": None,
            "bytes_in": 1, "bytes_out": 1, "status": 0}
with open(f"{d}/events.ffmpeg.jsonl", "w") as f:
    f.write(json.dumps(ev(4242, -400, 10000, "late")) + "\n")
    f.write(json.dumps(ev(4343, 0, 4000, "single")) + "\n")
    e = ev(4444, 500, 2500, "nosamples")
    e["ts_enqueue"] = e["ts_start"] + 400   # B5: ts_start early, before the enqueue
    f.write(json.dumps(e) + "\n")
EOF

"$TRACEKIT" parse --logs logs --run-id orig1 >parse.out 2>&1
check "parse reads the original's raw run" test -s "$R/CTS/proc_metrics.jsonl"
check "the baseline of the late task carries the CPU before its first sample" \
  grep -q '"pid": *4242.*"cpu_before_ms": *5000' "$R/CTS/proc_metrics.jsonl"

check "the audit names the original wrapper's early ts_start (B5), not clock skew" \
  grep -q "Tasks whose ts_start is early (ts_enqueue > ts_start by up to 400 ms, no start_ticks): 1 .*B5" "$R/CTS/audit_report.md"
check "... and counts no task as enqueued after it started" \
  grep -q "Tasks enqueued after they started (ts_enqueue > ts_start): 0$" "$R/CTS/audit_report.md"

"$TRACEKIT" export opendc --input "$R" --output out >export.out 2>&1
check "export succeeds" test -s out/tasks.parquet
out=$(cat export.out)
check "the console line does not claim 1.0000 against the sampled CPU itself" \
  bash -c '! grep -q "measured CPU: 1.0000" export.out'
check "it compares with the processes' own counters and says how much task time is at 0 CPU" \
  grep -Eq "3 tasks without an exact total: 139[0-9][0-9] ms of CPU exported, their processes' last counters say 139[0-9][0-9] ms; 2020 ms of their time exported at 0 CPU" export.out
check "it warns about the task without samples" grep -q 'WARNING: 1 task without samples' export.out

# per task: exported CPU (MHz·ms / MHz) and cpu_count, read with hyparquet
need_hyparquet
node "$ROOT/tests/tools/pqdump.mjs" out/tasks.parquet out/fragments.parquet 2>pq.err ||
  not_ok "hyparquet cannot read the export: $(head -3 pq.err)"
python3 - out >tasks.txt <<'EOF'
import json, sys
t = json.load(open(f"{sys.argv[1]}/tasks.parquet.json"))["rows"]
f = json.load(open(f"{sys.argv[1]}/fragments.parquet.json"))["rows"]
for task in t:
    count = int(task["cpu_count"]); mhz = float(task["cpu_capacity"]) / count
    cpu = sum(int(x["duration"]) * float(x["cpu_usage"]) for x in f if x["id"] == task["id"]) / mhz
    print(task["id"], count, round(cpu, 1), task["duration"], task["name"])
EOF
read -r _ cA cpuA _ < <(grep ' late$' tasks.txt)
check "the late task's exported CPU is within 2% of its true 10000 ms (got ${cpuA:-none})" \
  awk -v c="${cpuA:-0}" 'BEGIN{exit !(c >= 9800 && c <= 10200)}'
read -r _ cB _ < <(grep ' single$' tasks.txt)
check "a single-threaded task sampled at 200 ms exports cpu_count 1 (got ${cB:-none})" test "${cB:-0}" = 1
check "so does the late one (got ${cA:-none})" test "${cA:-0}" = 1
check "export_report.md says where each task's cpu_count came from" \
  grep -Eq '^\| [0-9]+ \| late \| 1 \| peak \|' out/export_report.md

"$TRACEKIT" verify opendc --input out >verify.out 2>&1
check "verify warns on the task without samples" grep -Eq 'WARN.*tasks with CPU.*1 tasks with 0 CPU' verify.out

"$TRACEKIT" export opendc --input "$R" --output out2 --unsampled drop >export2.out 2>&1
check "--unsampled drop leaves it out" grep -q '^exported 2 tasks' export2.out
check "... and the report lists it" grep -A8 'Tasks without samples' out2/export_report.md | grep -q nosamples
"$TRACEKIT" export opendc --input "$R" --output out3 --unsampled zero >export3.out 2>&1
check "--unsampled zero keeps it without the warning" \
  bash -c 'grep -q "^exported 3 tasks" export3.out && ! grep -q WARNING export3.out'

# the original's parse rounds the MHz in nodes.json (2399 -> 2400); node_meta.json's wins
python3 - "$R/CTS/nodes.json" <<'EOF'
import json, sys
n = json.load(open(sys.argv[1])); n[0]["cpu_freq_mhz"] = 2400
json.dump(n, open(sys.argv[1], "w"))
EOF
"$TRACEKIT" export opendc --input "$R" --output out4 >/dev/null 2>&1
check "the MHz comes from node_meta.json whichever parse wrote nodes.json" \
  grep -Eq '^\| [^|]+ \| vm0 \| 4 \| 2399 \|' out4/export_report.md

# ---- a folder the original's parse produced (CTS/ without our audit.json) ----
O=logs/origparsed
mkdir -p "$O/CTS"
cp "$R/node_meta.json" "$R/proc_metrics.jsonl" "$R/events.ffmpeg.jsonl" "$O/"
python3 - "$R" "$O" <<'EOF'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
# the original's invocations: trace_id, pid, ts_enqueue, ts_start, ts_end only (upstream §8)
with open(f"{dst}/CTS/invocations.jsonl", "w") as f:
    for l in open(f"{src}/events.ffmpeg.jsonl"):
        e = json.loads(l)
        f.write(json.dumps({k: e[k] for k in ("trace_id", "pid", "ts_enqueue", "ts_start", "ts_end")}) + "\n")
with open(f"{dst}/CTS/proc_metrics.jsonl", "w") as f:
    for l in open(f"{src}/CTS/proc_metrics.jsonl"):
        r = json.loads(l)
        f.write(json.dumps({k: r.get(k) for k in ("ts_ms", "pid", "dt_ms", "cpu_ms", "rss_kb")}) + "\n")
json.dump([{"node_id": "vm0", "stage": "cloud", "cpu_cores": 4, "mem_mb": 15997, "cpu_model": "QEMU",
            "cpu_freq_mhz": 2400}], open(f"{dst}/CTS/nodes.json", "w"))
open(f"{dst}/CTS/audit_report.md", "w").write("# CTS Audit Report\n\nRun: orig1\n\n## Summary\n- Invocations: 3 (ORIGINAL-AUDIT-MARK)\n")
EOF
"$TRACEKIT" report --input "$O" --output orig.html >report.out 2>&1
check "report of an original-parsed folder: the app from the original's events (module_id ffmpeg)" \
  bash -c 'grep -q ">ffmpeg<" orig.html && ! grep -q ">unknown<" orig.html'
check "... shows the original's audit_report.md when ours is absent" grep -q 'ORIGINAL-AUDIT-MARK' orig.html
check "... and advises re-parsing the raw files" grep -q 're-parse the raw files with <code>tracekit parse</code>' orig.html
"$TRACEKIT" export opendc --input "$R" --output out5 --json >export5.json 2>/dev/null
check "--json has the same check" python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["cpu_check"]
assert c["tasks_exact"] == 0 and c["tasks_counter"] == 2 and c["tasks_unsampled_no_total"] == 1, c
assert abs(c["zero_cpu_task_ms"] - 2020) < 1 and abs(c["counter_exported_cpu_ms"] - c["counter_cpu_ms"]) < 1, c
' export5.json
