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
sleep 4 & sl=$!; track_pid $sl
"$TRACEKIT" collect run --run-id scan --no-pid-dir --match '^sleep$|^nomatch$' --interval-ms 50 --duration-s 0.6 --host-interval-ms 0 2>/dev/null
check "scan mode samples processes whose name matches" grep -q "\"pid\": $sl," logs/scan/proc_metrics.jsonl
check "scan mode does not sample the collector itself" bash -c "! grep -q '\"comm\": \"tracekit\"' logs/scan/proc_metrics.jsonl"
# PROC_MATCH (the original's variable) matches case-insensitively, like its
# re.search(..., re.IGNORECASE); --match stays case-sensitive
PROC_MATCH='^SLEEP$' "$TRACEKIT" collect run --run-id scanenv --no-pid-dir --interval-ms 50 --duration-s 0.4 --host-interval-ms 0 2>/dev/null
check "PROC_MATCH from the environment matches case-insensitively" grep -q "\"pid\": $sl," logs/scanenv/proc_metrics.jsonl
"$TRACEKIT" collect run --run-id scancli --no-pid-dir --match '^SLEEP$' --interval-ms 50 --duration-s 0.4 --host-interval-ms 0 2>/dev/null
check "--match is case-sensitive" bash -c "! grep -q '\"pid\": $sl,' logs/scancli/proc_metrics.jsonl"
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

# --- idle processes cost one small read a sample (#19), and a process that
# wakes from idle is read fresh the same tick ---
mkdir -p logs/idle/pids
for i in $(seq 20); do sleep 30 & sl=$!; track_pid $sl; : >logs/idle/pids/$sl; done
python3 -c '
import os, resource, sys, time
time.sleep(0.6)
t0 = time.process_time()
while time.process_time() - t0 < 0.3: pass
ru = resource.getrusage(resource.RUSAGE_SELF)
open("waker.txt", "w").write("%d %.3f" % (os.getpid(), (ru.ru_utime + ru.ru_stime) * 1e3))
time.sleep(0.6)' & wk=$!; track_pid $wk
: >logs/idle/pids/$wk
"$TRACEKIT" collect start --run-id idle --interval-ms 50 --host-interval-ms 0 >/dev/null
cpid=$(py 'import json;print(json.load(open("logs/idle/collector.json"))["pid"])'); track_pid "$cpid"
wait $wk
sleep 0.5
rchar=$(awk '/^rchar:/ {print $2}' /proc/$cpid/io)
"$TRACEKIT" collect stop --run-id idle >/dev/null
check "idle processes: under 150 bytes read per process-sample (schedstat, not the stat line)" py "
n = sum(1 for l in open('logs/idle/proc_metrics.jsonl'))
print(f'# {$rchar} bytes read for {n} samples', flush=True)
assert n >= 20 * 15 and $rchar / n < 150, ($rchar, n)"
check "a process waking from idle: its readings after the burst within 1 ms + 1% of its own rusage" py "
import json
pid, ms = open('waker.txt').read().split(); pid = int(pid); ms = float(ms)
s = [json.loads(l) for l in open('logs/idle/proc_metrics.jsonl')]
s = [o for o in s if o['pid'] == pid and o['ev'] == 'tick']
late = [o for o in s if o['cpu_ms'] >= ms - 1.0]
# the readings while it sleeps after the burst (not its exit, which adds the
# interpreter's teardown)
sleep = [o for o in late if o['mono_us'] - late[0]['mono_us'] <= 400000]
assert len(sleep) >= 3 and all(abs(o['cpu_ms'] - ms) <= 1.0 + 0.01 * ms for o in sleep), (ms, sleep)"

# --- backends: proc by default build; bpf only when built in (make BPF=1), as root ---
"$TRACEKIT" collect run --run-id bep --backend proc --host-interval-ms 0 --duration-s 0.2 2>/dev/null
check "--backend proc: collector.json says backend proc" grep -q '"backend": "proc"' logs/bep/collector.json
"$TRACEKIT" collect run --run-id bea --host-interval-ms 0 --duration-s 0.2 2>/dev/null
check "--backend auto (the default): collector.json names the backend used" \
  grep -Eq '"backend": "(proc|bpf)"' logs/bea/collector.json
if "$TRACEKIT" collect run --run-id beb --backend bpf --host-interval-ms 0 --duration-s 0.2 2>beb.err; then
  check "--backend bpf: collector.json says backend bpf" grep -q '"backend": "bpf"' logs/beb/collector.json
else
  check "--backend bpf where it cannot be used: refused, saying why" grep -q -- "--backend bpf: ." beb.err
fi

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
bad "unknown backend names the choices" "--backend must be auto, bpf or proc, got 'ebpf'" collect run --run-id x --backend ebpf
check "--help exits 0 and shows the options" bash -c "'$TRACEKIT' collect --help | grep -q -- --interval-ms"
