#!/usr/bin/env bash
# bench/scheduler/e2e.sh -- the scheduling plane end to end at scale (issue
# 21): a private redis-server with AOF (appendonly yes, appendfsync
# everysec), one `tracekit scheduler` (first fit, --batch 64), W `tracekit
# worker` processes (4 capacity units each, --cpu-binding none,
# --task-output null) and `tracekit dispatch --wait` with a burst of
# TASKS tasks, for each W, each task kind and each cluster state:
#   kind  true | sleep (sleep 0.05)
#   full  the whole burst at once (one pulse, no spacing): a backlog of
#         TASKS - 4W tasks waits in q:pending the whole run
#   free  the same tasks dispatched at about half the cluster's rate
#         (--pulse-spacing), so the backlog stays near 0
# Reports per run (one line, also as JSON in $OUT when set):
#   tasks/s         TASKS / (last ts_end - first ts_enqueue), ledger
#   redis_cmds/task every command Redis ran (INFO commandstats, the calls of
#                   scripts included), whole run / TASKS -- exact
#   redis_cpu_ms/task  Redis' used_cpu_user + used_cpu_sys / TASKS
#   sched_cpu_ms/task  the scheduler's utime + stime / TASKS
#   exec_ms/task    CPU of the workers' children (tracekit exec and its task,
#                   cutime + cstime; the task launcher's utime + stime) minus the tasks' own CPU (events
#                   cpu_user_ms + cpu_sys_ms), / TASKS: what starting a task
#                   costs
#   worker_ms/task  the workers' own utime + stime / TASKS
#   wait p50/p99    events ts_start - ts_enqueue (one machine, one clock)
# CPU figures come from /proc (clock ticks, 10 ms): on a shared machine they
# and tasks/s vary from run to run; the command counts do not.
#   bench/scheduler/e2e.sh [TASKS=2000] [W list="4 16 32"] [kinds="true sleep"] [states="full free"]
# TK=/path/to/tracekit measures another binary (default build/tracekit).
set -u
cd "$(dirname "$0")/../.."
N=${1:-2000}; WS=${2:-"4 16 32"}; KINDS=${3:-"true sleep"}; STATES=${4:-"full free"}
TK=${TK:-build/tracekit}
[ "$TK" = build/tracekit ] && { make -s build/tracekit >/dev/null || exit 1; }
W=$(mktemp -d /tmp/tk-bench-e2e.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then echo "# kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
. bench/scheduler/redis_lib.sh
bench_redis_start yes
rcli() { REDISCLI_AUTH=$PW redis-cli -p "$PORT" "$@"; }
# cpu PID...: utime+stime and cutime+cstime, ticks, summed
cpu() { local p; for p in "$@"; do cut -d' ' -f14-17 "/proc/$p/stat" 2>/dev/null; done |
        awk '{u += $1 + $2; c += $3 + $4} END {print u + 0, c + 0}'; }
# wcpu WORKER...: the same, the children still running counted as reaped
# (the worker's task launcher lives as long as the worker: its CPU is part
# of starting the tasks)
wcpu() { local p k; for p in "$@"; do cut -d' ' -f14-17 "/proc/$p/stat" 2>/dev/null
           for k in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
             sed 's/.*) //' "/proc/$k/stat" 2>/dev/null | awk '{print 0, 0, $12, $13}'; done; done |
         awk '{u += $1 + $2; c += $3 + $4} END {print u + 0, c + 0}'; }
redis_state() { rcli INFO commandstats | awk -F'[=,:]' '/^cmdstat_/ {s += $3} END {printf "%d ", s}'
                rcli INFO cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.3f\n", s}'; }

echo "# $(date -u +%FT%TZ) $(uname -n) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg) $(redis-server --version | cut -d' ' -f3) AOF everysec; binary $TK"
echo "# W kind state: tasks/s redis_cmds/task redis_cpu_ms/task sched_cpu_ms/task exec_ms/task worker_ms/task wait_p50_ms wait_p99_ms"
for w in $WS; do for kind in $KINDS; do for state in $STATES; do
  run=e2e-$w-$kind-$state
  argv='"true"'; [ "$kind" = sleep ] && argv='"sleep", "0.05"'
  line="{\"argv\": [$argv], \"app\": \"b\"}"
  for _ in $(seq 1 "$N"); do echo "$line"; done >"$W/$run.jsonl"
  # free: dispatch at about half of what the slots allow (true: ~150 tasks/s
  # on 2 shared CPUs whatever W; sleep: 4W slots / 50 ms)
  sp=0
  if [ "$state" = free ]; then
    if [ "$kind" = true ]; then sp=0.012; else sp=$(python3 -c "print(round(2 * 0.05 / (4 * $w), 4))"); fi
  fi
  "$TK" scheduler --run-id "$run" --logs "$W/logs" --batch 64 -q & sp_pid=$!
  wp=()
  for i in $(seq 1 "$w"); do
    "$TK" worker --run-id "$run" --logs "$W/logs" --node-id "n$i" --capacity-units 4 \
      --cpu-binding none --task-output null -q & wp+=($!)
  done
  pids+=("$sp_pid" "${wp[@]}")
  for i in $(seq 1 "$w"); do
    for _ in $(seq 200); do
      # key layout 2 (node hash) or 1 (TK= an older build)
      [ -n "$(rcli HGET "tk:$run:node:n$i" worker)$(rcli GET "tk:$run:worker:n$i")" ] && break
      sleep 0.05
    done
  done
  sleep 0.5
  rcli CONFIG RESETSTAT >/dev/null   # commandstats from 0 (used_cpu is not reset)
  read -r c0 r0 <<<"$(redis_state)"
  read -r s0 _ <<<"$(cpu "$sp_pid")"
  read -r wu0 wc0 <<<"$(wcpu "${wp[@]}")"
  "$TK" dispatch --run-id "$run" --logs "$W/logs" --tasks "$W/$run.jsonl" --pending \
    --pending-mode pulse --pulse-size "$N" --pulse-spacing "$sp" --wait --timeout 900 -q 2>"$W/$run.err" \
    --json >"$W/$run.json" || { echo "# dispatch $run: exit $?" >&2; tail -3 "$W/$run.err" >&2; }
  read -r c1 r1 <<<"$(redis_state)"
  # DIAG=1: the commands that cost most, per task
  [ "${DIAG:-0}" = 1 ] && rcli INFO commandstats | awk -F'[_=,:]' -v n="$N" \
    '/^cmdstat_/ {printf "#   %6.2f/task %s\n", $4 / n, $2}' | sort -k2 -rn | head -16
  read -r s1 _ <<<"$(cpu "$sp_pid")"
  read -r wu1 wc1 <<<"$(wcpu "${wp[@]}")"
  kill -TERM "$sp_pid" "${wp[@]}" 2>/dev/null
  wait "$sp_pid" "${wp[@]}" 2>/dev/null
  python3 - "$W/logs/$run" "$N" "$w" "$kind" "$state" "$((c1 - c0))" "$r0" "$r1" "$((s1 - s0))" \
    "$((wu1 - wu0))" "$((wc1 - wc0))" "$(getconf CLK_TCK)" "${OUT:-}" <<'PY'
import glob, json, sys
d, n, w, kind, state, cmds, r0, r1, sched, wu, wc, hz, out = sys.argv[1:]
n, cmds, hz = int(n), int(cmds), int(hz)
tick = 1000.0 / hz
led = [json.loads(l) for l in open(d + "/ledger.jsonl")]
ev = [json.loads(l) for f in glob.glob(d + "/events.*.jsonl") for l in open(f)]
def q(v, p):
    v = sorted(v); k = (len(v) - 1) * p; i = int(k)
    return v[i] if i + 1 >= len(v) else v[i] + (v[i + 1] - v[i]) * (k - i)
span = max(r["ts_end"] for r in led) - min(r["ts_enqueue"] for r in led)
waits = [e["ts_start"] - e["ts_enqueue"] for e in ev]
task_cpu = sum((e.get("cpu_user_ms") or 0) + (e.get("cpu_sys_ms") or 0) for e in ev)
row = dict(W=int(w), kind=kind, state=state, tasks=len(led), done=sum(r["status"] == "done" for r in led),
           tasks_per_s=round(len(led) / span * 1000, 1), redis_cmds_per_task=round(cmds / n, 1),
           redis_cpu_ms_per_task=round((float(r1) - float(r0)) * 1000 / n, 3),
           sched_cpu_ms_per_task=round(int(sched) * tick / n, 3),
           exec_ms_per_task=round((int(wc) * tick - task_cpu) / n, 3),
           worker_ms_per_task=round(int(wu) * tick / n, 3),
           wait_p50_ms=round(q(waits, 0.5), 1), wait_p99_ms=round(q(waits, 0.99), 1))
print("%(W)d %(kind)s %(state)s: %(tasks_per_s)s %(redis_cmds_per_task)s %(redis_cpu_ms_per_task)s "
      "%(sched_cpu_ms_per_task)s %(exec_ms_per_task)s %(worker_ms_per_task)s %(wait_p50_ms)s %(wait_p99_ms)s" % row
      + ("" if row["done"] == n else "  (only %d of %d done)" % (row["done"], n)))
if out:
    open(out, "a").write(json.dumps(row) + "\n")
PY
  rcli --scan --pattern "tk:$run:*" | xargs -r -n 500 sh -c 'REDISCLI_AUTH='"$PW"' redis-cli -p '"$PORT"' UNLINK "$@" >/dev/null' _
done; done; done
