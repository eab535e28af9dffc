#!/usr/bin/env bash
# tracekit exec + tracekit collect (whitelist): every task is sampled from its
# first moment, its final counters are read, and no sentinel is left behind.
source "$(dirname "$0")/lib.sh"
cd "$T"
export RUN_ID=ec
"$TRACEKIT" collect start --interval-ms 100 --host-interval-ms 0 >/dev/null
pid=$(python3 -c 'import json;print(json.load(open("logs/ec/collector.json"))["pid"])')
track_pid "$pid"
burn='import time
t=time.process_time()
while time.process_time()-t < float(__import__("sys").argv[1]): pass'
# Four tasks, two at a time, of 30 ms to 600 ms.
for s in 0.03 0.6 0.2 0.05; do
  "$TRACEKIT" exec --quiet --app burn -- python3 -c "$burn" "$s" &
  [ "$s" = 0.6 ] && wait
done
wait
sleep 0.2
"$TRACEKIT" collect stop >/dev/null
check "every task of the run has process samples from its first moment" python3 - <<'PY'
import json, sys
events = [json.loads(l) for l in open("logs/ec/events.burn.jsonl")]
samples = {}
for l in open("logs/ec/proc_metrics.jsonl"):
    o = json.loads(l)
    samples.setdefault((o["pid"], o["start_ticks"]), []).append(o)
bad = []
for e in events:
    got = samples.get((e["pid"], e["start_ticks"]), [])
    if not got:
        bad.append(f'{e["pid"]}: no samples'); continue
    first = min(o["ts_ms"] for o in got)
    # The first reading is taken when the sentinel appears, before the task
    # runs its own code: within a few ms of ts_start, never a tick later.
    if first - e["ts_start"] > 20:
        bad.append(f'{e["pid"]}: first sample {first - e["ts_start"]} ms after start')
    if e["status"] != 0:
        bad.append(f'{e["pid"]}: status {e["status"]}')
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad or len(events) != 4 else 0)
PY
check "no sentinel is left behind" test -z "$(ls logs/ec/pids)"
check "the last sample of a task never exceeds its exact CPU total" python3 - <<'PY'
import json, sys
events = {(e["pid"], e["start_ticks"]): e for e in map(json.loads, open("logs/ec/events.burn.jsonl"))}
last = {}
for o in map(json.loads, open("logs/ec/proc_metrics.jsonl")):
    last[(o["pid"], o["start_ticks"])] = max(last.get((o["pid"], o["start_ticks"]), 0), o["cpu_ms"])
bad = [k for k, e in events.items() if last.get(k, 0) > e["cpu_user_ms"] + e["cpu_sys_ms"] + 1]
sys.exit(1 if bad else 0)
PY
