#!/usr/bin/env bash
# t_json_limits.sh -- hostile JSON lines (issue #13): a 1.2 KB line nested 20
# deep, a value nested 1000 deep and 10 MB lines never crash a command.  Task
# files are refused naming the line and the limit; event, proc and CTS lines
# are counted as malformed; implausible timestamps (INT64_MAX) are refused
# where they are read, so the ASan build never sees an overflow.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

python3 - <<'EOF'
import json
def nest(depth, inner):
    return "[" * (depth - 1) + inner + "]" * (depth - 1)
# 1.2 KB, 20 deep: a task line and an event line
pad = "x" * 1100
open("deep20.task", "w").write('{"argv": ["true"], "v": %s}' % nest(20, json.dumps(pad)))
open("deep1000.task", "w").write('{"argv": ["true"], "v": %s}' % nest(1000, "1"))
open("big.task", "w").write('{"argv": ["true"], "pad": "%s"}' % ("a" * (10 << 20)))
open("brackets.line", "w").write("[" * (10 << 20))
open("bigstr.line", "w").write('{"a": "' + "a" * (10 << 20))
EOF
good='{"argv": ["true"]}'

# survived RC ERRFILE: no signal and no sanitizer report
survived() { [ "$1" -lt 128 ] && ! grep -qE 'AddressSanitizer|runtime error|stack smashing' "$2"; }

# ---- task files: local --tasks and dispatch --tasks refuse the line ----
for kind in deep20 deep1000 big; do
  { echo "$good"; cat "$kind.task"; echo; } >"$kind.jsonl"
done
want_deep='line 2: nested deeper than 16 levels (the limit for a task line)'
want_big="line 2: $(wc -c <big.task) bytes, more than the 1048576 a task line may hold"
for cmd in local dispatch; do
  for kind in deep20 deep1000 big; do
    if [ "$cmd" = local ]; then
      "$TRACEKIT" local --run-id "l$kind" --logs logs --tasks "$kind.jsonl" --nodes a >out 2>err; rc=$?
    else  # the file is read before Redis is needed: no server here
      "$TRACEKIT" dispatch --run-id "d$kind" --logs logs --tasks "$kind.jsonl" \
        --redis redis://127.0.0.1:1 >out 2>err; rc=$?
    fi
    check "$cmd --tasks, $kind line: no crash (rc $rc)" survived "$rc" err
    want=$want_deep; [ "$kind" = big ] && want=$want_big
    check "$cmd --tasks, $kind line: exit 1 naming line 2 and the limit" \
      bash -c '[ "$0" = 1 ] && grep -qF "$1" err' "$rc" "$want"
  done
done

# ---- parse: hostile event and proc lines are counted, not fatal ----
# run1 gets the hostile lines, run2 (for report and export) is clean
mkdir -p logs/run1 logs/run2
python3 - <<'EOF'
import json, os
T0 = 1758580000000
def run(d, hostile, bad_ev, bad_ts):
  json.dump({"run_id": "run1", "node": "n1", "stage": "cloud", "cpu_cores": 2, "mem_mb": 1000,
             "cpu_model": "QEMU", "cpu_freq_mhz": 2400, "clk_tck": 100, "proc_interval_ms": 200},
            open(f"{d}/node_meta.json", "w"))
  ev = {"trace_id": "T1", "pid": 500, "ts_enqueue": T0 - 50, "ts_start": T0, "ts_end": T0 + 1000,
        "node": "n1", "stage": "cloud", "status": 0, "app": "x", "argv": ["x"], "cpu_user_ms": 1,
        "cpu_sys_ms": 0}
  huge = dict(ev, trace_id="T9", ts_end=9223372036854775807)
  neg = dict(ev, trace_id="T8", ts_start=-9223372036854775808)
  bad_ev = [json.dumps(huge), json.dumps(neg)] if bad_ev else []
  open(f"{d}/events.x.jsonl", "w").write("\n".join([json.dumps(ev)] + hostile + bad_ev) + "\n")
  pm = [json.dumps({"ts_ms": T0 + t, "pid": 500, "rss_kb": 10, "utime": t // 10, "stime": 0,
                    "start_ticks": 7, "mono_us": t * 1000}) for t in range(0, 1001, 200)]
  bad_ts = [] if not bad_ts else [json.dumps({"ts_ms": 9223372036854775807, "pid": 500, "rss_kb": 10, "utime": 1,
                        "stime": 0, "start_ticks": 7}),
            json.dumps({"ts_ms": -1, "pid": 500})]
  open(f"{d}/proc_metrics.jsonl", "w").write("\n".join(pm + hostile + bad_ts) + "\n")
hostile = [open(f).read() for f in ("deep20.task", "deep1000.task", "brackets.line", "bigstr.line")]
run("logs/run1", hostile, True, True)
run("logs/run2", [], False, False)
EOF
"$TRACEKIT" parse --logs logs --run-id run1 >out 2>err; rc=$?
check "parse with hostile lines: no crash (rc $rc)" survived "$rc" err
check "parse: exit 0" test "$rc" = 0
check "parse: deep, 10 MB and implausible-time lines counted as malformed/invalid" py '
import json
a = json.load(open("logs/run1/CTS/audit.json"))
sk = {x["file"]: x for x in a["skipped_lines"]}
e, p = sk["events.x.jsonl"], sk["proc_metrics.jsonl"]
assert e["malformed"] == 6, e
assert p["malformed"] == 4 and p["invalid"] == 2, p
inv = [json.loads(l) for l in open("logs/run1/CTS/invocations.jsonl")]
assert [i["trace_id"] for i in inv] == ["T1"], inv
'

# ---- report and export on a CTS folder with the same lines ----
"$TRACEKIT" parse --logs logs --run-id run2 >out 2>err
check "parse of the clean run2: exit 0" test $? = 0
C=logs/run2/CTS
for f in deep20.task deep1000.task brackets.line bigstr.line; do
  { cat "$f"; echo; } >>"$C/invocations.jsonl"
  { cat "$f"; echo; } >>"$C/host_metrics.jsonl"
  { cat "$f"; echo; } >>"$C/proc_metrics.jsonl"
done
python3 - "$C" <<'EOF'
import json, sys
T0 = 1758580000000
with open(f"{sys.argv[1]}/invocations.jsonl", "a") as f:
    f.write(json.dumps({"trace_id": "T7", "pid": 500, "ts_enqueue": T0, "ts_start": T0,
                        "ts_end": 9223372036854775807}) + "\n")
with open(f"{sys.argv[1]}/proc_metrics.jsonl", "a") as f:
    f.write(json.dumps({"ts_ms": 9223372036854775807, "pid": 500, "dt_ms": 200, "cpu_ms": 1}) + "\n")
with open(f"{sys.argv[1]}/host_metrics.jsonl", "a") as f:
    f.write(json.dumps({"ts_ms": 9223372036854775807, "cpu_util": 5.0}) + "\n")
    f.write(json.dumps({"ts_ms": -9223372036854775808, "cpu_util": 5.0}) + "\n")
EOF
"$TRACEKIT" report --input logs/run2 --output report.html >out 2>err; rc=$?
check "report with hostile lines: no crash (rc $rc)" survived "$rc" err
check "report: exit 0 and the malformed lines are reported" \
  bash -c '[ "$0" = 0 ] && grep -q "malformed line(s) skipped" err' "$rc"

"$TRACEKIT" export opendc --input logs/run2 --output odc >out 2>err; rc=$?
check "export with an INT64_MAX ts_end: no crash, no sanitizer report (rc $rc)" survived "$rc" err
check "export: exit 0, the INT64_MAX and hostile lines skipped and counted" \
  bash -c '[ "$0" = 0 ] && grep -q "invocations.jsonl line 6: no integer pid, ts_start and ts_end" odc/export_report.md &&
           grep -q "Input lines skipped: 5 invocation lines, 5 sample lines" odc/export_report.md' "$rc"

# ---- verify opendc: a 1000-deep topology.json ----
if [ -f odc/topology.json ]; then
  cp odc/topology.json topology.ok
  python3 -c 'print("{\"clusters\": " + "[" * 1000 + "]" * 1000 + "}")' >odc/topology.json
  "$TRACEKIT" verify opendc --input odc >out 2>err; rc=$?
  check "verify opendc with a 1000-deep topology.json: no crash (rc $rc)" survived "$rc" err
  check "verify opendc: it fails (exit 1)" test "$rc" = 1
fi
