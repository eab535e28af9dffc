#!/usr/bin/env bash
# tracekit scheduler against a real redis-server: exact placements for each
# weigher on a scripted scenario, pinned tasks, --reject-unplaceable, the
# options, and a wrong password.  Workers are faked with the test_rq driver
# (register only: tasks stay on the nodes, so every decision depends only
# on the sequence), the scheduler is the real (ASan) binary.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start
export TRACEKIT_REDIS_URL=$RQ_URL
LOGS=$T/logs

placed() { RQ_RUN=$1 "$RQ" counts | python3 -c 'import json,sys; print(json.load(sys.stdin)["placed"])'; }

# wait_placed RUN N SECONDS: until N tasks of RUN were placed.
wait_placed() {
  local i
  for i in $(seq 1 $(($3 * 10))); do
    [ "$(placed "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# start_sched RUN ARGS...: a scheduler in the background (pid in $SP, log in $T/RUN.log).
start_sched() {
  local run=$1; shift
  $TRACEKIT scheduler --run-id "$run" --logs "$LOGS" "$@" >"$T/$run.out" 2>"$T/$run.log" &
  SP=$!
  track_pid $SP
}

# stop_sched: SIGTERM, and its exit status.
stop_sched() { kill -TERM "$SP"; wait_pid "$SP" 20; }

# nodes RUN: the node of every placement, in task id order ("1:c 2:a ...").
nodes() {
  python3 - "$LOGS/$1/placements.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join(f"{r['task_id']}:{r['node']}" for r in sorted(recs, key=lambda r: r["task_id"])))
EOF
}

# ---- (a) the weigher scenario ----
# Nodes (units = logical CPUs here, memory in MiB):
#   a: 8 units, 4000 MiB    b: 4 units, 8000 MiB    c: 6 units, 2000 MiB
# Tasks (units, MiB), in queue order; task 1 is pinned to c so that c starts
# with one task (2 units, 1000 MiB) under every policy:
#   1 (2,1000)->c  2 (1,500)  3 (3,1000)  4 (2,3000)  5 (1,0)  6 (2,500)  7 (4,0)  8 (1,100)
# Notation below: node free-units/tasks/free-MiB after each placement.
# State after 1: a 8/0/4000  b 4/0/8000  c 4/1/1000.
#
# first fit (smallest id that has the units and the memory):
#   2->a (7/1/3500)  3->a (4/2/2500)  4: a lacks MiB (2500<3000) ->b (2/1/5000)
#   5->a (3/3/2500)  6->a (1/4/2000)  7: a 1, b 2 units ->c (0/2/1000)  8->a
FIRST_FIT="1:c 2:a 3:a 4:b 5:a 6:a 7:c 8:a"
# --weigher instances --weigher-order min (fewest tasks, ties smallest id):
#   2: a0 b0 c1 ->a (7/1/3500)  3: a1 b0 c1 ->b (1/1/7000)
#   4: b has 1 unit, c 1000 MiB ->a (5/2/500)  5: a2 b1 c1 ->b (0/2)
#   6: a2 c1 ->c (2/2/500)  7: only a has 4 units ->a (1/3/500)  8: a3 c2 ->c
INSTANCES_MIN="1:c 2:a 3:b 4:a 5:b 6:c 7:a 8:c"
# --weigher vcpu --weigher-order max (most units in use, ties LARGEST id):
#   in use after 1: a0 b0 c2.  2: ->c (3/2/500, 3 in use)
#   3: c lacks MiB; a0 b0 tie ->b (1/1/7000, 3 in use)  4: only a fits ->a (6/1/1000, 2)
#   5: a2 b3 c3 -> tie b,c ->c (2/3/500, 4)  6: a2 c4 ->c (0/4/0, 6)
#   7: only a ->a (2/2/1000, 6)  8: a6 b3 ->a
VCPU_MAX="1:c 2:c 3:b 4:a 5:c 6:c 7:a 8:a"
# --policy Mem (OpenDC: filters compute, vcpu, ram; most free MiB first):
#   2: b8000 ->b (3/1/7500)  3: b7500 ->b (0/2/6500)  4: a4000 (c lacks MiB) ->a (6/1/1000)
#   5: a1000 = c1000 (b full): no range, smallest id ->a (5/2/1000)  6: same ->a (3/3/500)
#   7: only c has 4 units ->c (0/2/1000)  8: only a has units ->a
MEM="1:c 2:b 3:b 4:a 5:a 6:a 7:c 8:a"
# --policy ActiveServers (fewest tasks, -1 x instanceCount): the same choices as
# instances/min here (same idea, plus OpenDC's vcpu and ram filters, which agree)
ACTIVE="$INSTANCES_MIN"

cat >"$T/scenario.jsonl" <<'EOF'
{"cpu_units": 2, "mem_mb": 1000, "node": "c"}
{"cpu_units": 1, "mem_mb": 500}
{"cpu_units": 3, "mem_mb": 1000}
{"cpu_units": 2, "mem_mb": 3000}
{"cpu_units": 1}
{"cpu_units": 2, "mem_mb": 500}
{"cpu_units": 4}
{"cpu_units": 1, "mem_mb": 100}
EOF

scenario() {  # RUN WANT SCHEDULER-ARGS...
  local run=$1 want=$2; shift 2
  export RQ_RUN=$run
  "$RQ" register-mem a wa 8 0 600000 4000
  "$RQ" register-mem b wb 4 0 600000 8000
  "$RQ" register-mem c wc 6 0 600000 2000
  "$RQ" enqueue-file "$T/scenario.jsonl" >/dev/null
  start_sched "$run" "$@"
  wait_placed "$run" 8 30
  stop_sched; local rc=$?
  check "$run: scheduler exits 0 on SIGTERM" test $rc = 0
  local got
  got=$(nodes "$run")
  check "$run: placements as derived by hand ($want; got $got)" test "$got" = "$want"
  check "$run: audit consistent" "$RQ" audit
  check "$run: stats printed on exit" grep -q "stopping: placed 8, conflicts 0" "$T/$run.log"
}
scenario ff "$FIRST_FIT"
scenario imin "$INSTANCES_MIN" --weigher instances --weigher-order min
scenario vmax "$VCPU_MAX" --weigher vcpu --weigher-order max
scenario mem "$MEM" --policy Mem
scenario active "$ACTIVE" --policy ActiveServers

check "start-up line: redacted URL, run, policy" \
  grep -q "scheduler: redis=redis://:\*\*\*@127.0.0.1:$REDIS_PORT/0 run=mem policy=Mem: filters compute,vcpu(1),ram(1),capacity; weighers ram(+1); subset 1" "$T/mem.log"
check "no password in any log" bash -c "! grep -rqF '$REDIS_PW' '$T'/*.log '$T'/*.out"
py "
import json
recs = [json.loads(l) for l in open('$LOGS/vmax/placements.jsonl')]
r = recs[0]
assert list(r) == ['ts_ms', 'task_id', 'node', 'cap_left', 'policy', 'scheduler'], list(r)
assert r['policy'] == 'vcpu-max' and r['cap_left'] == 4, r
assert all(x['scheduler'] == r['scheduler'] and ':' in x['scheduler'] for x in recs)
" && ok "placements.jsonl records have the spec8 fields" || not_ok "placements.jsonl records have the spec8 fields"

# -v: one debug line per placement, like the original's "dispatch -> ..."
export RQ_RUN=verbose
"$RQ" register n1 w1 4 0 600000
printf '{"cpu_units": 3}\n' >"$T/one.jsonl"
"$RQ" enqueue-file "$T/one.jsonl" >/dev/null
start_sched verbose -v
wait_placed verbose 1 30
stop_sched
check "-v logs each placement" grep -q "dispatch -> node=n1 task=1 cpu_units=3 cap_left=1" "$T/verbose.log"
check "without -v no dispatch lines" bash -c "! grep -q 'dispatch ->' '$T/ff.log'"

# ---- (b) pinned tasks ----
# First fit would put everything on a; the pins say otherwise.  Task 4 is
# pinned to a node nobody has registered: it blocks the queue (strict FIFO,
# task 5 behind it waits too) and is not dropped; once zz registers, both go.
export RQ_RUN=pins
"$RQ" register a wa 8 0 600000
"$RQ" register b wb 8 0 600000
cat >"$T/pins.jsonl" <<'EOF'
{"cpu_units": 1, "node": "b"}
{"cpu_units": 1}
{"cpu_units": 2, "node": "b"}
{"cpu_units": 1, "node": "zz"}
{"cpu_units": 1}
EOF
"$RQ" enqueue-file "$T/pins.jsonl" >/dev/null
start_sched pins
wait_placed pins 3 30
sleep 1.5   # several rounds (one per reap interval) while task 4 blocks
check "pins: tasks pinned to b land on b, the free one on a" test "$(nodes pins)" = "1:b 2:a 3:b"
check "pins: the head pinned to an absent node stays pending, the next behind it" \
  test "$(rcli LRANGE tk:pins:q:pending 0 -1 | tr '\n' ' ')" = "4 5 "
check "pins: one warning naming the task and its node" \
  test "$(grep -c 'task 4 waits: needs 1 unit(s); pinned to node zz, which is not registered' "$T/pins.log")" = 1
"$RQ" register zz wz 2 0 600000
wait_placed pins 5 30
stop_sched
check "pins: once zz registers, 4 goes there and 5 follows" test "$(nodes pins)" = "1:b 2:a 3:b 4:zz 5:a"
check "pins: audit consistent" "$RQ" audit

# ---- (d) --reject-unplaceable ----
# Task 1 needs more units than any node; task 3 more than its pinned node.
cat >"$T/big.jsonl" <<'EOF'
{"cpu_units": 9}
{"cpu_units": 1}
{"cpu_units": 5, "node": "a"}
{"cpu_units": 2}
EOF
export RQ_RUN=noreject
"$RQ" register a wa 4 0 600000
"$RQ" register b wb 6 0 600000
"$RQ" enqueue-file "$T/big.jsonl" >/dev/null
start_sched noreject
sleep 2
check "without --reject-unplaceable the big head blocks the queue" test "$(placed noreject)" = 0
check "... with one warning naming the task and its needs" \
  test "$(grep -c 'task 1 can never be placed (needs 9 unit(s); the largest node has 6 unit(s))' "$T/noreject.log")" = 1
stop_sched
check "... and nothing rejected" test "$("$RQ" results | wc -l)" = 0

export RQ_RUN=reject
"$RQ" register a wa 4 0 600000
"$RQ" register b wb 6 0 600000
"$RQ" enqueue-file "$T/big.jsonl" >/dev/null
start_sched reject --reject-unplaceable
wait_placed reject 2 30
stop_sched
check "--reject-unplaceable: the others are placed" test "$(nodes reject)" = "2:a 4:a"
"$RQ" results >"$T/reject.ledger"
py "
import json
recs = [json.loads(l) for l in open('$T/reject.ledger')]
assert [(r['task_id'], r['status']) for r in recs] == [(1, 'rejected'), (3, 'rejected')], recs
assert recs[0]['reason'] == 'unplaceable: needs 9 unit(s); the largest node has 6 unit(s)', recs[0]
assert recs[1]['reason'] == 'unplaceable: needs 5 unit(s); pinned to node a, which has 4 unit(s)', recs[1]
" && ok "--reject-unplaceable: ledger records with the reason" || not_ok "--reject-unplaceable: ledger records with the reason"
check "--reject-unplaceable: logged" grep -q "rejected task 1: needs 9 unit(s)" "$T/reject.log"
check "reject: audit consistent" "$RQ" audit

# ---- options ----
(cd "$T" && env -u RUN_ID $TRACEKIT scheduler >/dev/null 2>"$T/norun.err")
check "no run id: usage error (exit 2), says how to give one" \
  bash -c "test $? = 2 && grep -q 'no run id: give --run-id' '$T/norun.err'"
usage_err() {  # DESCRIPTION EXPECTED-TEXT ARGS...
  local d=$1 want=$2; shift 2
  $TRACEKIT scheduler --run-id x "$@" >/dev/null 2>"$T/usage.err"
  local rc=$?
  if [ $rc = 2 ] && grep -qF -- "$want" "$T/usage.err"; then ok "$d"; else not_ok "$d (rc $rc: $(cat "$T/usage.err"))"; fi
}
usage_err "--policy with --weigher names both" "--policy and --weigher cannot be combined" --policy Mem --weigher vcpu
usage_err "--policy with --filters names both" "--policy and --filters cannot be combined" --filters compute --policy Mem
usage_err "--weigher-order with --weighers names both" "--weigher-order and --weighers cannot be combined" --weigher-order max --weighers ram
usage_err "unknown policy" "unknown policy 'Nope'" --policy Nope
usage_err "bad weigher" "--weigher must be '', instances or vcpu, not 'cpu'" --weigher cpu
usage_err "bad --batch" "invalid --batch '0'" --batch 0
usage_err "bad --reap-interval" "invalid --reap-interval 'soon'" --reap-interval soon
usage_err "ratio without a vcpu filter" "--cpu-allocation-ratio needs a vcpu filter" --cpu-allocation-ratio 2
usage_err "subset with FilterOnly" "--subset-size does not apply to policy FilterOnly" --policy FilterOnly --subset-size 2
usage_err "unknown option" "unknown option '--bogus'" --bogus
usage_err "missing value" "option '--policy' needs a value" --policy
$TRACEKIT scheduler --help >"$T/help.out"
check "--help lists the OpenDC policies" grep -q "ProvisionedCoresInv, Random, FilterOnly" "$T/help.out"

# the original's options: accepted, one warning each, and the scheduler runs
export RQ_RUN=legacy
"$RQ" register n1 w1 4 0 600000
"$RQ" enqueue-file "$T/one.jsonl" >/dev/null
start_sched legacy --pending q:pending --slots slots:available --scan-slots 4 --scan-pending 1
wait_placed legacy 1 30
stop_sched
check "--pending: one warning, explained" test "$(grep -c -- '--pending q:pending is ignored: every key of a run is under tk:RUN_ID:' "$T/legacy.log")" = 1
check "--slots, --scan-slots: one warning each" test "$(grep -c 'is ignored: there is no slots list' "$T/legacy.log")" = 2
check "--scan-pending: one warning" test "$(grep -c -- '--scan-pending 1 is ignored' "$T/legacy.log")" = 1
check "... and the task was placed" test "$(nodes legacy)" = "1:n1"

# ---- (e) wrong password / no server: exit 1 fast, clear, no password shown ----
start=$(date +%s%N)
TRACEKIT_REDIS_URL="redis://:wrong-secret-42@127.0.0.1:$REDIS_PORT/0" \
  $TRACEKIT scheduler --run-id x --logs "$LOGS" >/dev/null 2>"$T/auth.err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "wrong password: exit 1 (got $rc)" test $rc = 1
check "wrong password: fast (${ms} ms < 5000)" test $ms -lt 5000
check "wrong password: clear message" grep -q "authentication failed: wrong password" "$T/auth.err"
check "wrong password: not shown" bash -c "! grep -q wrong-secret-42 '$T/auth.err'"
printf 'wrong-secret-43\n' >"$T/pw"; chmod 600 "$T/pw"
$TRACEKIT scheduler --run-id x --logs "$LOGS" --redis "redis://127.0.0.1:$REDIS_PORT/0" \
  --redis-password-file "$T/pw" >/dev/null 2>"$T/auth2.err"
check "wrong password from a file: exit 1" test $? = 1
check "... clear message, no password" bash -c "grep -q 'authentication failed' '$T/auth2.err' && ! grep -q wrong-secret-43 '$T/auth2.err'"
port=$(redis_free_port)
$TRACEKIT scheduler --run-id x --logs "$LOGS" --redis "redis://:pw-77@127.0.0.1:$port/0" \
  --connect-timeout 0 >/dev/null 2>"$T/refused.err"
check "no server, --connect-timeout 0: exit 1" test $? = 1
check "no server: says connection refused, no password" \
  bash -c "grep -q 'connection refused' '$T/refused.err' && ! grep -q pw-77 '$T/refused.err'"
