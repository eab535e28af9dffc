#!/usr/bin/env bash
# t_cts_delay.sh -- issue #14 on the trace side: `tracekit parse` of a run
# folder written by hand in the collector's new format (run_delay_ms in every
# sample, the kernel's taskstats exit records, host_metrics.jsonl, the
# exit_source in collector.json): CTS run_delay_ms per interval, the baseline
# made up for a process seen only in its exit record, and the audit's run
# delay, host CPU explained (with its < 80% warning) and exit source; #18 item
# 15: the scan-mode hint for sampled processes no task claims.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# write_run DIR EXIT_SOURCE DELAY IDLE: a scan-mode run; DELAY 0 leaves out every
# run_delay_ms and the taskstats records; IDLE is the host's idle fraction.
write_run() {
python3 - "$@" <<'EOF'
import json, os, sys
d, exit_source, delay, idle = sys.argv[1], sys.argv[2], sys.argv[3] == "1", float(sys.argv[4])
os.makedirs(d, exist_ok=True)
dump = json.dumps
T0 = 1758580000000
M0 = 81000000000
json.dump({"run_id": os.path.basename(d), "node": "n1", "stage": "cloud", "host": "h", "iface": "lo",
           "cpu_cores": 2, "mem_mb": 4000, "cpu_model": "x", "cpu_freq_mhz": 2000, "clk_tck": 100,
           "proc_interval_ms": 200}, open(f"{d}/node_meta.json", "w"))
json.dump({"state": "stopped", "pid": 1, "node": "n1", "mode": "scan", "exit_source": exit_source,
           "interval_ms": 200, "stats": {"exit_records": 2, "exit_records_unsampled": 1,
                                         "exit_overflows": 0}}, open(f"{d}/collector.json", "w"))
lines = []
def s(ts, pid, start, cpu, rd=None, ev="tick", comm="ffmpeg", **extra):
    o = {"ts_ms": T0 + ts, "pid": pid, "rss_kb": 5000, "utime": int(cpu // 10), "stime": 0,
         "start_ticks": start, "comm": comm, "cpu_ms": cpu, "mono_us": M0 + ts * 1000, "threads": 1}
    if rd is not None and delay:
        o["run_delay_ms"] = rd
    o["ev"] = ev
    o.update(extra)
    lines.append(dump(o))
def ts_exit(ts, pid, start, cpu, rd, elapsed, peak, comm="burn"):
    lines.append(dump({"ts_ms": T0 + ts, "pid": pid, "utime": int(cpu // 10), "stime": 0,
                       "start_ticks": start, "comm": comm, "cpu_ms": cpu, "mono_us": M0 + ts * 1000,
                       "run_delay_ms": rd, "utime_us": int(cpu * 1000), "stime_us": 0,
                       "rss_peak_kb": peak, "elapsed_ms": elapsed, "exit_code": 0,
                       "src": "taskstats", "ev": "exit"}))
# T1: pid 100, sampled every 200 ms (100 ms CPU, 25 ms run delay each), then its exit record
for i in range(6):
    s(i * 200, 100, 5000, 100.0 * i, 25.0 * i, ev="new" if i == 0 else "tick")
# a scan-mode process no task claims
for i in range(3):
    s(i * 200, 300, 5200, 100.0 * i, 1.0 * i, comm="ffmpeg")
if delay:
    ts_exit(1100, 100, 5000, 560.0, 140.0, 1500.0, 9000)
    # T2: pid 200 lived between two ticks: only its exit record
    ts_exit(700, 200, 5100, 30.835, 10.5, 41.024, 1368)
    s(800, 200, 5100, 31.0, 11.0)          # cannot happen after the exit record: ignored
else:
    s(1100, 100, 5000, 560.0, ev="exit")    # a /proc final reading
# T3: pid 400, a sample without run delay in the middle
s(1200, 400, 5300, 0.0, 0.0)
s(1400, 400, 5300, 100.0)
s(1600, 400, 5300, 200.0, 8.0)
s(1800, 400, 5300, 300.0, 9.0)
open(f"{d}/proc_metrics.jsonl", "w").write("\n".join(lines) + "\n")
host = [{"ts_ms": T0 + 1000, "mono_us": M0 + 1000000, "node": "n1", "dt_ms": 1000.0},
        {"ts_ms": T0 + 2000, "mono_us": M0 + 2000000, "node": "n1", "dt_ms": 1000.0}]
for h in host:
    h.update({"cpu_user": 0.5, "cpu_idle": idle, "cpu_iowait": 0.05, "cpu_util": 100 * (0.95 - idle)})
open(f"{d}/host_metrics.jsonl", "w").write("".join(dump(h) + "\n" for h in host))
def ev(tid, pid, start, a, b, cpu):
    return dump({"trace_id": tid, "ts_enqueue": T0 + a - 10, "ts_start": T0 + a, "ts_end": T0 + b,
                 "node": "n1", "stage": "cloud", "pid": pid, "status": 0, "start_ticks": start,
                 "signal": None, "cpu_user_ms": cpu, "cpu_sys_ms": 0, "max_rss_kb": 9000})
open(f"{d}/events.burn.jsonl", "w").write("\n".join([
    ev("T1", 100, 5000, -400, 1100, 560), ev("T2", 200, 5100, 655, 702, 31),
    ev("T3", 400, 5300, 1150, 1850, 300)]) + "\n")
EOF
}

write_run logs/d1 taskstats 1 0.2
out=$("$TRACEKIT" parse --logs logs --run-id d1 2>&1); rc=$?
check "parse of a run with run delay and kernel exit records exits 0" test "$rc" = 0
echo "$out" | sed 's/^/# /'
C=logs/d1/CTS
check "the parse summary repeats the host warning" grep -q "^\[parse\] WARNING: traced CPU explains only 36.4% of the host's busy CPU: untraced load shared the cores" <<<"$out"
check "parse --json lists the host warning" py '
import json, subprocess, sys
(r,) = json.loads(subprocess.run([sys.argv[1], "parse", "--logs", "logs", "--run-id", "d1", "--json"],
                                  capture_output=True, text=True).stdout)["runs"]
assert any(w.startswith("traced CPU explains only 36.4%") for w in r["warnings"]), r
' "$TRACEKIT"

check "CTS run_delay_ms: the interval's difference, 0 at the baseline, absent when an end lacks it" py '
import json
rows = [json.loads(l) for l in open("'"$C"'/proc_metrics.jsonl")]
by = {}
for r in rows: by.setdefault(r["pid"], []).append(r)
assert [r.get("run_delay_ms") for r in by[100]] == [0, 25, 25, 25, 25, 25, 15], by[100]
ex = by[100][-1]
assert ex["dt_ms"] == 100 and ex["cpu_ms"] == 60 and ex["rss_kb"] is None, ex
assert list(ex) == ["ts_ms", "pid", "dt_ms", "cpu_ms", "run_delay_ms", "rss_kb", "start_ticks", "comm"], list(ex)
# pid 400: no delay at 1400, so neither the 1400 nor the 1600 interval has one
assert [r.get("run_delay_ms") for r in by[400]] == [0, None, None, 1], by[400]
assert "run_delay_ms" not in by[400][1] and "run_delay_ms" not in by[400][2]
'
check "a process seen only in its exit record: baseline at exit - elapsed, one interval with all of it" py '
import json
T0 = 1758580000000
rows = [json.loads(l) for l in open("'"$C"'/proc_metrics.jsonl")]
p = [r for r in rows if r["pid"] == 200]
assert len(p) == 2, p    # the line after the exit record is ignored
b, e = p
assert b["ts_ms"] == T0 + 700 - 41 and b["dt_ms"] == 0 and b["cpu_ms"] == 0 and b["run_delay_ms"] == 0, b
assert b["start_ticks"] == 5100 and b["comm"] == "burn", b
assert e["ts_ms"] == T0 + 700 and e["dt_ms"] == 41.024 and e["cpu_ms"] == 30.835 and e["run_delay_ms"] == 10.5, e
'
check "audit.json: run delay and wait per task, null when unknown" py '
import json
a = json.load(open("'"$C"'/audit.json"))
t = {x["trace_id"]: x for x in a["tasks"]}
assert t["T1"]["run_delay_ms"] == 140 and t["T1"]["wait_pct"] == 20, t["T1"]
assert t["T1"]["measured_max_rss_kb"] == 9000 and t["T1"]["cpu_samples_ms"] == 560, t["T1"]
assert t["T2"]["run_delay_ms"] == 10.5 and abs(t["T2"]["wait_pct"] - 100 * 10.5 / 41.335) < 1e-9, t["T2"]
assert t["T2"]["samples"] == 2 and t["T2"]["measured_max_rss_kb"] == 1368, t["T2"]
assert t["T3"]["run_delay_ms"] == 1 and abs(t["T3"]["wait_pct"] - 100 / 101) < 1e-9, t["T3"]
rd = a["run_delay"]
assert rd["tasks_with_delay"] == 3 and rd["worst_trace_id"] == "T2", rd
assert abs(rd["wait_pct_max"] - 100 * 10.5 / 41.335) < 1e-9 and rd["wait_pct_p50"] == 20, rd
'
check "audit.json: host busy CPU from host_metrics x cores, traced CPU inside it, the warning" py '
import json
h = json.load(open("'"$C"'/audit.json"))["host_cpu"]
# busy 0.75 x 2000 ms x 2 cores; traced 560 (T1) + 30.835 (T2) + 200 (pid 300) + 300 (T3)
assert h["host_samples"] == 2 and h["window_ms"] == 2000 and h["cores"] == 2, h
assert h["host_busy_cpu_ms"] == 3000 and h["traced_cpu_ms"] == 1090.835, h
assert abs(h["explained_pct"] - 100 * 1090.835 / 3000) < 1e-9 and h["warning"] is True, h
'
check "audit.json: exit source, exit records used, processes only in their exit record" py '
import json
a = json.load(open("'"$C"'/audit.json"))
assert a["exits"] == {"exit_source": "taskstats", "exit_records": 2, "processes_only_in_exit_record": 1,
                      "lines_after_exit_ignored": 1}, a["exits"]
assert a["coverage"]["processes_without_task"] == 1 and a["coverage"]["collector_mode"] == "scan", a["coverage"]
'
M=$C/audit_report.md
check "audit_report.md: the run delay section with the worst task" grep -q "^- T2: waited for a CPU 25.40% of the time it was runnable (10.5 ms of 41.335 ms)$" "$M"
check "audit_report.md: run delay p50 / max" grep -q "^Wait p50 / max: 20.00% / 25.40% (worst: T2)$" "$M"
check "audit_report.md: traced CPU explains 36.36% of the host's busy CPU" grep -q "^traced CPU explains 36.36% of the host's busy CPU$" "$M"
check "audit_report.md: the < 80% warning points at the demand export" grep -q "^WARNING: below 80%: untraced load shared the cores.*--cpu-usage demand" "$M"
check "audit_report.md: taskstats named as the exit source" grep -q "^Exit source: taskstats" "$M"
check "audit_report.md: exit records counted" grep -q "^Kernel exit records used: 2; processes seen only in their exit record: 1$" "$M"
check "audit_report.md: scan mode hints at tracekit exec and the PID folder" grep -q "^Hint: in scan mode.*tracekit exec.*PID folder" "$M"
sed -n '/## Waiting/,/## Tick/p' "$M" | sed 's/^/# /'

# the same run from a collector without run delay or taskstats, on a quieter host
write_run logs/d2 proc 0 0.7
out=$("$TRACEKIT" parse --logs logs --run-id d2 2>&1); rc=$?
check "parse of a run without run delay exits 0" test "$rc" = 0
expect_fail "no host warning in the summary when traced CPU explains at least 80%" grep -q WARNING <<<"$out"
C=logs/d2/CTS
check "no run_delay_ms anywhere in CTS when the raw lines have none: the old record layout" py '
import json
rows = [json.loads(l) for l in open("'"$C"'/proc_metrics.jsonl")]
assert all(list(r) == ["ts_ms", "pid", "dt_ms", "cpu_ms", "rss_kb", "start_ticks", "comm"] for r in rows)
a = json.load(open("'"$C"'/audit.json"))
assert all(t["run_delay_ms"] is None and t["wait_pct"] is None for t in a["tasks"])
assert a["run_delay"]["tasks_with_delay"] == 0 and a["run_delay"]["worst_trace_id"] is None
assert a["exits"]["exit_source"] == "proc" and a["exits"]["exit_records"] == 0
# busy 0.25 x 2000 x 2 = 1000 ms; traced 560 + 200 + 300 = 1060: above 80%, no warning
assert a["host_cpu"]["host_busy_cpu_ms"] == 1000 and a["host_cpu"]["warning"] is False, a["host_cpu"]
'
M=$C/audit_report.md
check "audit_report.md without run delay says it is unknown" grep -q "^Run delay: unknown" "$M"
check "audit_report.md names the proc exit source and its race" grep -q "^Exit source: proc (final readings race the parent's reap; processes shorter than one interval may be missing)$" "$M"
expect_fail "no WARNING when traced CPU explains at least 80%" grep -q "^WARNING" "$M"

# no host samples at all
rm logs/d2/host_metrics.jsonl
"$TRACEKIT" parse --logs logs --run-id d2 >/dev/null 2>&1
check "without host samples the share is unknown" grep -q "^traced CPU explains: unknown (no host samples)$" logs/d2/CTS/audit_report.md

# A whitelisted task that ended before the collector read its sentinel: its
# exit record's start ticks were worked out from its exit (time_err_ms); parse
# takes the task's exact ones, so every join by (pid, start_ticks) finds it.
mkdir -p logs/d3
python3 - logs/d3 <<'PY'
import json, sys
d = sys.argv[1]; T0 = 1758580000000
json.dump({"run_id": "d3", "node": "n1", "stage": "cloud", "cpu_cores": 2, "clk_tck": 100}, open(f"{d}/node_meta.json", "w"))
open(f"{d}/proc_metrics.jsonl", "w").write(json.dumps(
    {"ts_ms": T0 + 40, "pid": 4300, "rss_kb": 0, "utime": 2, "stime": 0, "start_ticks": 1001, "comm": "quick",
     "cpu_ms": 20.5, "mono_us": 90000000, "run_delay_ms": 0.1, "utime_us": 20500, "stime_us": 0,
     "rss_peak_kb": 900, "elapsed_ms": 22.0, "exit_code": 0, "time_err_ms": 12.0, "src": "taskstats",
     "ev": "exit"}) + "\n")
open(f"{d}/events.quick.jsonl", "w").write(json.dumps(
    {"trace_id": "q1", "pid": 4300, "start_ticks": 1000, "ts_enqueue": T0, "ts_start": T0 + 15, "ts_end": T0 + 40,
     "status": 0, "cpu_user_ms": 20.6, "cpu_sys_ms": 0, "max_rss_kb": 900, "app": "quick"}) + "\n")
PY
"$TRACEKIT" parse --logs logs --run-id d3 --quiet
check "an exit record's estimated start ticks take its task's exact ones (the task is sampled)" py '
import json
r = [json.loads(l) for l in open("logs/d3/CTS/proc_metrics.jsonl")]
assert r and all(x["start_ticks"] == 1000 for x in r), r
a = json.load(open("logs/d3/CTS/audit.json"))
assert a["coverage"]["unsampled"] == 0 and a["tasks"][0]["samples"] >= 1, (a["coverage"], a["tasks"])'
