#!/usr/bin/env bash
# bench/scheduler/run.sh -- the scheduling plane with the real commands: a
# private redis-server on loopback (password, NO persistence: `save ""`,
# appendonly no -- the figures are for the queue, not for fsyncs), one
# `tracekit scheduler`, three `tracekit worker`s (n1 n2 n3, --capacity-units
# 8 each, --cpu-binding none, --task-output null) and `tracekit dispatch
# --command true` at fixed open-loop rates (one pulse, --pulse-spacing apart).
# Reports, per rate, from the events records and the ledger (ms clocks, one
# machine):
#   enqueue->start  events ts_start - ts_enqueue   (the issue's target: p99 <= 5 ms)
#   enqueue->place  ledger ts_place - ts_enqueue
#   place->take     ledger ts_start - ts_place     (ledger ts_start = the take, Redis clock)
#   take->start     events ts_start - ledger ts_start (tracekit exec start-up)
# then, against the same server, the C bench (build/bench/scheduler/placements,
# atomic placements/s at batch 1/16/64 and its in-process latency figures).
# BASELINE=/path/to/another/tracekit measures that binary too, each rate
# right before this one (the machine's load changes from minute to minute;
# e.g. a `make STATIC_LIBS=0` build copied aside).
#   bench/scheduler/run.sh [TASKS_AT_HIGH_RATE=1000] [HIGH_SPACING=0.01] [LOW_SPACING=0.05] [C_BENCH_N=20000]
set -u
cd "$(dirname "$0")/../.."
NH=${1:-1000}; SH=${2:-0.01}; SL=${3:-0.05}; NC=${4:-20000}
make -s build/tracekit build/bench/scheduler/placements >/dev/null || exit 1
BASE=${BASELINE:-}
W=$(mktemp -d /tmp/tk-bench-sched.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "# kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT

. bench/scheduler/redis_lib.sh
bench_redis_start no

echo "# $(date -u +%FT%TZ) $(uname -n) nproc=$(nproc) cpu=\"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\" kernel=$(uname -r)"
echo "# $(redis-server --version | cut -d' ' -f1-3), no persistence; release build; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# run TK RUN TASKS SPACING: one measured run of binary TK on a fresh run id
run() {
  local TK=$1 run=$2 n=$3 sp=$4 node
  local lp=()
  "$TK" scheduler --run-id "$run" --logs "$W/logs" -q & lp+=($!)
  for node in n1 n2 n3; do
    "$TK" worker --run-id "$run" --logs "$W/logs" --node-id $node --capacity-units 8 \
      --cpu-binding none --task-output null -q & lp+=($!)
  done
  pids+=("${lp[@]}")
  for node in n1 n2 n3; do
    for _ in $(seq 100); do
      [ -n "$(REDISCLI_AUTH=$PW redis-cli -p "$PORT" HGET "tk:$run:node:$node" worker)$(REDISCLI_AUTH=$PW redis-cli -p "$PORT" GET "tk:$run:worker:$node")" ] && break
      sleep 0.05
    done
  done
  "$TK" dispatch --run-id "$run" --logs "$W/logs" --command true --total "$n" --pending \
    --pending-mode pulse --pulse-size "$n" --pulse-spacing "$sp" --wait --timeout 600 -q \
    --json >"$W/$run.json" || echo "# dispatch $run: exit $?" >&2
  kill -TERM "${lp[@]}" 2>/dev/null
  wait "${lp[@]}" 2>/dev/null
  python3 - "$W/logs/$run" "$n" "$sp" "$TK" <<'EOF'
import json, sys
d, n, sp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def load(path):  # malformed lines are counted and shown, not dropped silently
    good, bad = [], []
    for i, l in enumerate(open(path), 1):
        try:
            good.append(json.loads(l))
        except ValueError:
            bad.append((i, l[:120]))
    if bad:
        print(f"  {path}: {len(bad)} malformed line(s), e.g. {bad[:3]}")
    return good
led = {r["trace_id"]: r for r in load(d + "/ledger.jsonl")}
ev = load(d + "/events.true.jsonl")
assert len(led) == n and len(ev) == n and all(r["status"] == "done" for r in led.values()), \
    (len(led), len(ev))
def pct(xs, p):  # linear interpolation, like the dispatcher
    xs = sorted(xs); k = (len(xs) - 1) * p / 100; f = int(k)
    return xs[f] + (xs[min(f + 1, len(xs) - 1)] - xs[f]) * (k - f)
rows = {
    "enqueue->start": [e["ts_start"] - e["ts_enqueue"] for e in ev],
    "enqueue->place": [r["ts_place"] - r["ts_enqueue"] for r in led.values()],
    "place->take":    [r["ts_start"] - r["ts_place"] for r in led.values()],
    "take->start":    [e["ts_start"] - led[e["trace_id"]]["ts_start"] for e in ev],
}
print(f"{n} no-op tasks at {1 / sp:.0f}/s (3 workers x 8 units), {sys.argv[4]}:")
for k, xs in rows.items():
    print(f"  {k:15s} p50 {pct(xs, 50):5.1f} ms  p99 {pct(xs, 99):5.1f} ms  max {max(xs):5d} ms")
EOF
}
for rate in "hi $NH $SH" "lo $((NH / 5)) $SL"; do
  set -- $rate
  [ -n "$BASE" ] && run "$BASE" "base-$1" "$2" "$3"
  run "$PWD/build/tracekit" "$1" "$2" "$3"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "# the C bench (build/bench/scheduler/placements $NC) against the same server:"
BENCH_REDIS_URL=$TRACEKIT_REDIS_URL build/bench/scheduler/placements "$NC" | grep -v '^#\|^Redis at'
