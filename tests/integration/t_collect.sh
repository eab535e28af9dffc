#!/usr/bin/env bash
# tracekit collect: accuracy against the kernel, short processes, the tick
# grid, files and fields, life cycle (start/stop/status), bad input.
source "$(dirname "$0")/lib.sh"
cd "$T"

python3 "$ROOT/tests/integration/collect_driver.py" "$TRACEKIT" "$T/logs"

# --- life cycle ---
out=$("$TRACEKIT" collect start --run-id life --interval-ms 100 2>&1)
check "start prints where the records go" grep -q "logs/life/proc_metrics.jsonl" <<<"$out"
pid=$(python3 -c 'import json;print(json.load(open("logs/life/collector.json"))["pid"])')
track_pid "$pid"
check "status of a running collector exits 0" "$TRACEKIT" collect status --run-id life
expect_fail "a second start for the same run is refused" "$TRACEKIT" collect start --run-id life
err=$("$TRACEKIT" collect start --run-id life 2>&1)
check "the refusal names the running pid" grep -q "pid $pid" <<<"$err"
sleep 0.5
out=$("$TRACEKIT" collect stop --run-id life)
check "stop reports what was recorded" grep -q "collector stopped (pid $pid)" <<<"$out"
# Gone, or a zombie waiting for its reaper (we are not its parent).
check "the sampler process is gone after stop" bash -c "! ps -o stat= -p $pid | grep -qv Z"
"$TRACEKIT" collect status --run-id life >/dev/null; rc=$?
check "status of a stopped collector exits 3" test "$rc" = 3
expect_fail "stop with no sampler running fails" "$TRACEKIT" collect stop --run-id life
err=$("$TRACEKIT" collect stop --run-id life 2>&1)
check "...and says no collector is running" grep -q "no collector is running" <<<"$err"
expect_fail "stop for a run that never had a collector fails" "$TRACEKIT" collect stop --run-id never

# A stale collector.json naming a live process that is not the sampler:
# stop must not signal it (original bug B21).
sleep 30 & victim=$!; track_pid $victim
mkdir -p logs/stale
printf '{"state": "running", "pid": %d, "start_ticks": 1}\n' "$victim" > logs/stale/collector.json
expect_fail "stop refuses a pid whose start time does not match" "$TRACEKIT" collect stop --run-id stale
check "...and leaves that process alone" kill -0 $victim

# SIGKILL leaves a torn line at worst; the next sampler starts on a new line.
"$TRACEKIT" collect start --run-id torn --interval-ms 50 >/dev/null
pid=$(python3 -c 'import json;print(json.load(open("logs/torn/collector.json"))["pid"])')
sleep 0.3; kill -9 "$pid"; sleep 0.1
printf '{"ts_ms": 1, "pid": ' >> logs/torn/proc_metrics.jsonl
sleep 300 & sl=$!; track_pid $sl
echo "$sl" > logs/torn/pids/$sl
"$TRACEKIT" collect run --run-id torn --interval-ms 50 --duration-s 0.5 2>/dev/null
check "after a torn line, new records are whole lines" python3 -c '
import json,sys
lines=open("logs/torn/proc_metrics.jsonl").read().split("\n")
bad=[l for l in lines if l.strip() and not l.startswith("{\"ts_ms\": 1, \"pid\": ") and not json.loads(l)]
good=[json.loads(l) for l in lines if l.startswith("{") and l.endswith("}")]
sys.exit(0 if len(good)>=5 and lines[-1]=="" else 1)'

# --- scan mode, and the regex is never mangled (original bug B1) ---
sleep 2 & sl=$!; track_pid $sl
"$TRACEKIT" collect run --run-id scan --no-pid-dir --match '^sleep$|^nomatch$' --interval-ms 50 --duration-s 0.6 --host-interval-ms 0 2>/dev/null
check "scan mode samples processes whose name matches" grep -q "\"pid\": $sl," logs/scan/proc_metrics.jsonl
check "scan mode does not sample the collector itself" bash -c "! grep -q '\"comm\": \"tracekit\"' logs/scan/proc_metrics.jsonl"
# make must pass a PROC_MATCH with '$|' through unchanged, from the
# environment and from the command line.
mkdir -p mk && cd mk
for how in env cmdline; do
  if [ $how = env ]; then
    PROC_MATCH='^ffmpeg$|^ffprobe$' PROC_PID_DIR= RUN_ID=mk$how make -s -C "$ROOT" --no-print-directory start-collect >/dev/null
  else
    PROC_PID_DIR= make -s -C "$ROOT" --no-print-directory start-collect RUN_ID=mk$how 'PROC_MATCH=^ffmpeg$|^ffprobe$' >/dev/null
  fi
  m=$(python3 -c "import json;print(json.load(open('$ROOT/logs/mk$how/collector.json'))['match'])")
  "$TRACEKIT_RELEASE" collect stop --logs "$ROOT/logs" --run-id mk$how >/dev/null 2>&1 || \
    RUN_ID=mk$how make -s -C "$ROOT" --no-print-directory stop-collect >/dev/null
  rm -rf "$ROOT/logs/mk$how"
  check "make start-collect ($how) passes PROC_MATCH unexpanded" test "$m" = '^ffmpeg$|^ffprobe$'
done
rmdir "$ROOT/logs" 2>/dev/null
cd "$T"

# --- bad input: clear error, non-zero exit ---
bad() { # desc, expected text, args...
  local d=$1 want=$2; shift 2
  local out rc
  out=$("$TRACEKIT" "$@" 2>&1); rc=$?
  if [ $rc -ne 0 ] && grep -qF -- "$want" <<<"$out"; then ok "$d"; else not_ok "$d (rc=$rc: $out)"; fi
}
bad "unknown flag" "unknown option '--bogus'" collect run --bogus
bad "bad regex names the regex" "'(ffmpeg' is not a valid POSIX extended regex" collect run --run-id x --no-pid-dir --match '(ffmpeg'
bad "interval 0" "--interval-ms must be a whole number of milliseconds from 1" collect run --run-id x --interval-ms 0
bad "negative interval" "got '-5'" collect run --run-id x --interval-ms -5
export PROC_INTERVAL_MS=abc
bad "interval from PROC_INTERVAL_MS names the variable" "PROC_INTERVAL_MS must be" collect run --run-id x
unset PROC_INTERVAL_MS
bad "unwritable logs folder" "cannot create run folder" collect run --run-id x --logs /proc/version/logs
bad "missing action" "expected an action" collect
bad "unknown action" "unknown action 'begin'" collect begin
bad "invalid run id" "invalid run id '../x'" collect run --run-id ../x
check "--help exits 0 and shows the options" bash -c "'$TRACEKIT' collect --help | grep -q -- --interval-ms"
