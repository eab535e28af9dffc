#!/usr/bin/env bash
# bench/scheduler/launch.sh -- what starting a task costs a worker (issue 21
# item 5): a private redis-server (no persistence), one `tracekit worker`
# (--capacity-units 4, --cpu-binding none, --task-output null) and TASKS
# tasks of `true` dispatched at once with --wait; ROUNDS times for each
# binary (BASELINE=/path/to/another/tracekit measures that one too, each
# round right before this one: the machine's load changes).  Reports per
# round, from /proc (clock ticks) and the events records:
#   children_ms/task  CPU of the worker's children: every tracekit exec (or
#                     task process) with its task, plus the task launcher
#                     while it runs (utime + stime) / TASKS
#   task_ms/task      the tasks' own CPU (events cpu_user_ms + cpu_sys_ms)
#   exec_ms/task      children - task: the overhead (the issue's target <= 1 ms)
#   worker_ms/task    the worker's own utime + stime / TASKS
#   bench/scheduler/launch.sh [TASKS=500] [ROUNDS=3]
# The local mode: the same TASKS tasks through one `tracekit local` (4
# units, --cpu-binding none, --task-output null, --no-collect), no Redis;
# children_ms/task is then local's children (from wait4 of local: it and all
# it reaped, minus its own utime + stime read from /proc just before it
# ends), and the last column local_ms/task:
#   bench/scheduler/launch.sh local [TASKS=500] [ROUNDS=3]
set -u
cd "$(dirname "$0")/../.."
MODE=worker
[ "${1:-}" = local ] && { MODE=local; shift; }
N=${1:-500}; ROUNDS=${2:-3}
make -s build/tracekit >/dev/null || exit 1
W=$(mktemp -d /tmp/tk-bench-launch.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
for _ in $(seq 1 "$N"); do echo '{"argv": ["true"], "app": "b"}'; done >"$W/tasks.jsonl"

# the tasks' own CPU from the records; one line of figures.  LOGS N LABEL OWN_TICKS CHILD_TICKS
figures() {
  python3 - "$@" "$(getconf CLK_TCK)" <<'PY'
import glob, json, sys
d, n, label, wu, wc, hz = sys.argv[1:]
n, tick = int(n), 1000.0 / int(hz)
ev = [json.loads(l) for f in glob.glob(d + "/events.*.jsonl") for l in open(f)]
task = sum((e.get("cpu_user_ms") or 0) + (e.get("cpu_sys_ms") or 0) for e in ev)
print("%-8s %5d %8.3f %8.3f %8.3f %8.3f" % (label, len(ev), float(wc) * tick / n, task / n,
      (float(wc) * tick - task) / n, float(wu) * tick / n))
PY
}

# one_local TK LABEL RUN: one round of `tracekit local`
one_local() {
  local tk=$1 label=$2 run=$3 own all
  read -r own all < <(python3 - "$tk" "$run" "$W" <<'PY'
import os, subprocess, sys, time
tk, run, w = sys.argv[1:]
p = subprocess.Popen([tk, "local", "--run-id", run, "--logs", w + "/logs", "--tasks",
                      w + "/tasks.jsonl", "--capacity-units", "4", "--cpu-binding", "none",
                      "--task-output", "null", "--no-collect", "-q"],
                     stdout=subprocess.DEVNULL, stderr=open(w + "/" + run + ".err", "w"))
own = 0
while True:
    try:  # its own utime + stime, the last seen
        f = open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()
        if f[0] != "Z":
            own = int(f[11]) + int(f[12])
    except OSError:
        pass
    pid, st, ru = os.wait4(p.pid, os.WNOHANG)
    if pid:
        break
    time.sleep(0.02)
hz = os.sysconf("SC_CLK_TCK")
print(own, (ru.ru_utime + ru.ru_stime) * hz)
PY
)
  figures "$W/logs/$run" "$N" "$label" "$own" "$(python3 -c "print($all - $own)")"
}

# rounds ONE WHAT LASTCOL RUN: ROUNDS rounds of ONE (baseline first), with the header
rounds() {
  echo "# $(date -u +%FT%TZ) $(uname -n) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg); $N tasks of true, $2"
  echo "# binary   tasks children_ms/task task_ms/task exec_ms/task $3"
  for r in $(seq 1 "$ROUNDS"); do
    [ -n "${BASELINE:-}" ] && "$1" "$BASELINE" baseline "$4-b$r"
    "$1" build/tracekit this "$4-$r"
  done
}
if [ "$MODE" = local ]; then
  rounds one_local "tracekit local, 4 units" local_ms/task local
  exit 0
fi

. bench/scheduler/redis_lib.sh
bench_redis_start no
# wcpu PID: its utime+stime, and its children's: reaped (cutime+cstime) and running
wcpu() { { cut -d' ' -f14-17 "/proc/$1/stat"
           for k in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
             sed 's/.*) //' "/proc/$k/stat" 2>/dev/null | awk '{print 0, 0, $12, $13}'; done; } |
         awk '{u += $1 + $2; c += $3 + $4} END {print u + 0, c + 0}'; }

# one TK LABEL RUN: one round
one() {
  local tk=$1 label=$2 run=$3
  "$tk" scheduler --run-id "$run" --logs "$W/logs" --batch 64 -q & local sp=$!
  "$tk" worker --run-id "$run" --logs "$W/logs" --node-id n1 --capacity-units 4 \
    --cpu-binding none --task-output null -q & local wp=$!
  pids+=("$sp" "$wp")
  for _ in $(seq 200); do
    [ -n "$(REDISCLI_AUTH=$PW redis-cli -p "$PORT" HGET "tk:$run:node:n1" worker)$(REDISCLI_AUTH=$PW redis-cli -p "$PORT" GET "tk:$run:worker:n1")" ] && break
    sleep 0.05
  done
  read -r u0 c0 <<<"$(wcpu "$wp")"
  "$tk" dispatch --run-id "$run" --logs "$W/logs" --tasks "$W/tasks.jsonl" --pending \
    --pending-mode pulse --pulse-size "$N" --pulse-spacing 0 --wait --timeout 600 -q >/dev/null 2>"$W/$run.err" ||
    { echo "# dispatch $run: exit $?" >&2; tail -3 "$W/$run.err" >&2; }
  read -r u1 c1 <<<"$(wcpu "$wp")"
  kill -TERM "$sp" "$wp" 2>/dev/null
  wait "$sp" "$wp" 2>/dev/null
  figures "$W/logs/$run" "$N" "$label" "$((u1 - u0))" "$((c1 - c0))"
}

rounds one "1 worker, 4 slots" worker_ms/task launch
