#!/usr/bin/env bash
# The core commands leak nothing and make no invalid accesses under valgrind
# (release build; the ASan build covers the rest of the suite).
source "$(dirname "$0")/lib.sh"
cd "$T"
vg() { # desc, expected exit code, args...
  local d=$1 want=$2 rc; shift 2
  valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
       --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
       "$TRACEKIT_RELEASE" "$@" >"$T/vg.out" 2>"$T/vg.err"
  rc=$?
  if [ "$rc" = "$want" ]; then
    ok "valgrind clean: $d"
  else
    not_ok "valgrind: $d (rc=$rc, expected $want)"; grep -E '==[0-9]+==' "$T/vg.err" | head -20
  fi
}
sleep 5 & sl=$!; track_pid $sl
mkdir -p logs/vg/pids && echo "$sl" > logs/vg/pids/$sl
vg "collect run (whitelist)" 0 collect run --run-id vg --interval-ms 50 --duration-s 1 --host-interval-ms 200
vg "collect run (scan)" 0 collect run --run-id vg2 --no-pid-dir --match '^sleep$' --interval-ms 50 --duration-s 0.5
vg "collect status (not running: exit 3)" 3 collect status --run-id vg
vg "collect --help" 0 collect --help
vg "exec" 0 exec --run-id vg --quiet -- /bin/true
vg "exec of a missing command (status 127)" 127 exec --run-id vg --quiet -- /nonexistent/cmd
vg "parse" 0 parse --run-id vg --quiet
mkdir -p od
vg "export opendc" 0 export opendc --input logs/vg --output od
vg "verify opendc" 0 verify opendc --input od
vg "replay (compare, OpenDC-shaped output)" 0 replay --input od --compare logs/vg --opendc-output odo --output od.jsonl --json
printf '{"argv": ["true"]}\n{"argv": ["sh", "-c", "exit 2"], "cpu_units": 2}\n{"argv": ["true"], "node": "b"}\n' >vg.jsonl
vg "local (tasks, pins, a failure: exit 1)" 1 local --run-id vgl --quiet --tasks vg.jsonl --nodes a,b \
  --capacity-units 2 --cpu-binding none --weigher instances --no-collect
vg "local with the collector" 0 local --run-id vgl2 --quiet --command true --total 3 --cpu-binding none \
  --interval-ms 50
