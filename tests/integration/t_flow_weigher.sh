#!/usr/bin/env bash
# The weighers end to end: the real scheduler, three real workers and the
# dispatcher, on a scripted scenario whose placements are derived by hand
# below.  The seven tasks fill the three nodes exactly and sleep 3 s, so all
# are placed before any finishes: every decision depends on the queue order
# alone.  Checked from placements.jsonl (node and cap_left of each task) and
# from the ledger and the events records (where each task really ran).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
source "$(dirname "$0")/flow_lib.sh"
rq_require
redis_start

# Nodes: n1 4 units, n2 3 units, n3 2 units (9 in all).
# Tasks, in queue order (units): 1 (2), 2 (1), 3 (1), 4 (2), 5 (1), 6 (1), 7 (1) = 9.
# Notation: node free-units/tasks after the placement.
#
# --weigher instances --weigher-order min (fewest tasks on the node, ties
# to the smallest id; only nodes with the units free):
#   1: all 0 tasks            -> n1 (2/1)
#   2: n1 1, n2 0, n3 0       -> n2 (2/1)
#   3: n1 1, n2 1, n3 0       -> n3 (1/1)
#   4 (2 units): n3 has 1 unit; n1 1 = n2 1 -> n1 (0/2)
#   5: n2 1 = n3 1 (n1 full)  -> n2 (1/2)
#   6: n2 2, n3 1             -> n3 (0/2)
#   7: only n2 has a unit     -> n2 (0/3)
INSTANCES_MIN="1:n1:2 2:n2:2 3:n3:1 4:n1:0 5:n2:1 6:n3:0 7:n2:0"
# --weigher vcpu --weigher-order max (most units in use, ties to the
# LARGEST id):
#   1: all 0 in use           -> n3 (0 free, 2 in use)
#   2: n1 0 = n2 0 (n3 full)  -> n2 (2 free, 1 in use)
#   3: n1 0, n2 1             -> n2 (1 free, 2 in use)
#   4 (2 units): only n1      -> n1 (2 free, 2 in use)
#   5: n1 2 = n2 2            -> n2 (0 free)
#   6: only n1                -> n1 (1 free)
#   7: only n1                -> n1 (0 free)
VCPU_MAX="1:n3:0 2:n2:2 3:n2:1 4:n1:2 5:n2:0 6:n1:1 7:n1:0"
# First fit, the default, for contrast: n1 takes 1 2 3, n2 4 5, n3 6 7.
FIRST_FIT="1:n1:2 2:n1:1 3:n1:0 4:n2:1 5:n2:0 6:n3:1 7:n3:0"

for u in 2 1 1 2 1 1 1; do
  printf '{"argv": ["sleep", "3"], "cpu_units": %d, "app": "w"}\n' "$u"
done >"$T/tasks.jsonl"

# got RUN: "task:node:cap_left ..." from placements.jsonl, in queue order
# (task ids are those of submitted.jsonl, in its order)
got() {
  python3 - "$LOGS/$1" <<'EOF'
import json, sys
sub = [json.loads(l)["task_id"] for l in open(sys.argv[1] + "/submitted.jsonl")]
pl = [json.loads(l) for l in open(sys.argv[1] + "/placements.jsonl")]
assert len(pl) == len(sub) and sorted(p["task_id"] for p in pl) == sorted(sub), pl
by = {p["task_id"]: p for p in pl}
print(" ".join(f"{i + 1}:{by[t]['node']}:{by[t]['cap_left']}" for i, t in enumerate(sub)))
EOF
}

scenario() {  # RUN WANT SCHEDULER-ARGS...
  local run=$1 want=$2 n; shift 2
  declare -A wp
  start_sched "$run" "$@"
  for spec in n1:4 n2:3 n3:2; do
    start_worker "$run" "${spec%:*}" "${spec#*:}" --ttl 2
    wp[${spec%:*}]=$WP
  done
  for n in n1 n2 n3; do
    wait_for 30 registered "$run" $n "${wp[$n]}" || not_ok "$run: worker $n did not register"
  done
  local t0=$(date +%s%N)
  dispatch "$run" --tasks "$T/tasks.jsonl" --pending --pulse-size 7 --pulse-spacing 0 --timeout 90
  local rc=$? ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "$run: dispatch --wait exits 0 (${ms} ms)" test $rc = 0
  local g
  g=$(got "$run")
  check "$run: placements as derived by hand ($want; got $g)" test "$g" = "$want"
  check_records "$run" '{}' && ok "$run: ledger and events agree with the placements" \
    || not_ok "$run: ledger/events/placements disagree"
  check "$run: all seven ran at once (placed before any finished)" py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.w.jsonl")]
assert len(ev) == 7, len(ev)
assert max(e["ts_start"] for e in ev) < min(e["ts_end"] for e in ev), ev
' "$LOGS/$run"
  check "$run: rq audit consistent" env RQ_RUN="$run" "$RQ" audit
  for n in n1 n2 n3; do kill -TERM "${wp[$n]}"; done
  kill -TERM "$SP"
  for n in n1 n2 n3; do wait_pid "${wp[$n]}" 30; done
  wait_pid "$SP" 30
}

scenario imin "$INSTANCES_MIN" --weigher instances --weigher-order min
scenario vmax "$VCPU_MAX" --weigher vcpu --weigher-order max
scenario ff "$FIRST_FIT"
check "the policy is named in each placement" py '
import json, sys
for run, name in (("imin", "instances-min"), ("vmax", "vcpu-max"), ("ff", "first-fit")):
    pol = {json.loads(l)["policy"] for l in open(sys.argv[1] + "/" + run + "/placements.jsonl")}
    assert pol == {name}, (run, pol)
' "$LOGS"
