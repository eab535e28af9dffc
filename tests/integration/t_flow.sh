#!/usr/bin/env bash
# The scheduling plane end to end: the real `tracekit scheduler`, three
# `tracekit worker`s (nodes n1 n2 n3, 1, 2 and 3 capacity units) and
# `tracekit dispatch --pending --wait` of 40 generic tasks, some failing,
# against a private password-protected redis-server.  Every task is in the
# ledger exactly once with its status and rc, joined to its events record
# and its placement; no node ran more tasks than its units; the dispatcher's
# exit status says whether any failed; rq's audit is consistent.  Then a
# wrong password for each of the three commands: fast, clear, not shown.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
source "$(dirname "$0")/flow_lib.sh"
rq_require
redis_start

# ---- (a) 40 tasks, 3 workers ----
RUN=flow
N=40
start_sched $RUN
declare -A wpid
for spec in n1:1 n2:2 n3:3; do
  start_worker $RUN "${spec%:*}" "${spec#*:}" --ttl 2
  wpid[${spec%:*}]=$WP
done
for n in n1 n2 n3; do
  check "worker $n registered" wait_for 30 registered $RUN $n "${wpid[$n]}"
done
# task i sleeps 0, 0.1 or 0.2 s; every 7th fails with its own exit code
for i in $(seq 1 $N); do
  k=0; [ $((i % 7)) = 3 ] && k=$((i % 5 + 1))
  printf '{"argv": ["sh", "-c", "sleep 0.$((RANDOM %% 3)); exit %d"], "app": "flow"}\n' "$k"
done >"$T/tasks.jsonl"
fails=$(grep -vc 'exit 0' "$T/tasks.jsonl")
start=$(date +%s%N)
dispatch $RUN --tasks "$T/tasks.jsonl" --pending --pulse-size $N --pulse-spacing 0 --timeout 120
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "# $N tasks through 3 workers in $ms ms"
check "dispatch --wait: exit 1 because $fails tasks failed" test "$rc" = 1
check "dispatch summary: $((N - fails)) done, $fails failed, nothing unfinished" py '
import json, sys
s = json.load(open(sys.argv[1]))
assert (s["tasks"], s["enqueued"], s["done"], s["failed"], s["dead"], s["unfinished"]) == \
    (int(sys.argv[2]), int(sys.argv[2]), int(sys.argv[2]) - int(sys.argv[3]), int(sys.argv[3]), 0, 0), s
' "$T/$RUN.dispatch.json" $N "$fails"
check_records $RUN '{}' && ok "ledger: all $N tasks once, right status/rc, joined to events and placements" \
  || not_ok "ledger/events/placements disagree"
# the controller's records reach the experiment folder through Redis (#18 item 7)
shipped=$(rcli SISMEMBER tk:flow:ship:nodes controller)
check "dispatch --wait ships the controller's records (member: $shipped)" \
  bash -c '[ "$1" = 1 ] && grep -q "shipped the controller.s records (4 file(s))" "$2"' _ "$shipped" "$T/$RUN.dispatch.log"
NODE_ID=n1 env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" parse --logs "$LOGS" --run-id $RUN --ship --quiet \
  >"$T/ship.log" 2>&1
env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" gather --run-id $RUN --output "$T/exp" --redis "$RQ_URL" \
  >"$T/gather.log" 2>&1; rc=$?
check "gather --redis puts the controller's records at the top of the experiment, not in a node (rc $rc)" \
  bash -c 'for f in ledger placements submitted workload; do cmp -s "$1/$f.jsonl" "$2/$f.jsonl" || exit 1; done; [ "$(ls -d "$2"/*/ | wc -l)" = 1 ] && [ ! -e "$2/controller" ]' \
  _ "$LOGS/$RUN" "$T/exp"
check "the three nodes ran tasks, each at most its units at once" py '
import glob, json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.flow.jsonl")]
cap = {"n1": 1, "n2": 2, "n3": 3}
assert {e["node"] for e in ev} == set(cap), {e["node"] for e in ev}
for n, c in cap.items():
    pts = sorted([(e["ts_start"], 1) for e in ev if e["node"] == n] +
                 [(e["ts_end"], -1) for e in ev if e["node"] == n])
    cur = peak = 0
    for _, d in pts:
        cur += d; peak = max(peak, cur)
    assert peak <= c, (n, peak, c)
' "$LOGS/$RUN"
check "ledger workers are the three worker processes" py '
import json, sys
w = {r["worker"] for r in map(json.loads, open(sys.argv[1]))}
assert w <= set(sys.argv[2:]), (w, sys.argv[2:])
' "$LOGS/$RUN/ledger.jsonl" "n1:${wpid[n1]}" "n2:${wpid[n2]}" "n3:${wpid[n3]}"
check "rq audit consistent" env RQ_RUN=$RUN "$RQ" audit

# the same plane, a batch where nothing fails: exit 0
printf '{"argv": ["sh", "-c", "exit 0"], "app": "ok"}\n%.0s' 1 2 3 4 5 6 >"$T/ok.jsonl"
dispatch $RUN --tasks "$T/ok.jsonl" --pending --pulse-size 6 --pulse-spacing 0 --timeout 60 --append
check "a second dispatch of 6 tasks that succeed: exit 0" test $? = 0
check "... the ledger holds both dispatches' $((N + 6)) tasks, each once" py '
import json, sys
ids = [r["task_id"] for r in map(json.loads, open(sys.argv[1] + "/ledger.jsonl"))]
sub = [r["task_id"] for r in map(json.loads, open(sys.argv[1] + "/submitted.jsonl"))]
assert len(sub) == int(sys.argv[2]) and sorted(ids) == sorted(sub), (ids, sub)
' "$LOGS/$RUN" $((N + 6))
check_records $RUN '{}' && ok "... all of it joined to events and placements" \
  || not_ok "records after the second dispatch"

# SIGTERM: everyone leaves cleanly, the capacity is returned
for n in n1 n2 n3; do kill -TERM "${wpid[$n]}"; done
rc=0; for n in n1 n2 n3; do wait_pid "${wpid[$n]}" 30 || rc=1; done
check "workers exit 0 on SIGTERM" test $rc = 0
kill -TERM "$SP"; wait_pid "$SP" 30
check "scheduler exits 0 on SIGTERM" test $? = 0
check "rq audit consistent after everyone left" env RQ_RUN=$RUN "$RQ" audit
check "no password in any log or output" bash -c "! grep -rqF -- '$REDIS_PW' '$T'/*.log '$T'/*.out '$T'/*.json '$LOGS'"

# ---- (e) a wrong password, for each of the three commands ----
printf 'Wr0ng-pw-file\n' >"$T/badpw"; chmod 600 "$T/badpw"
wrong() {  # NAME ARGS...: run a command with a wrong password; checks
  local name=$1; shift
  local t0 ms rc
  t0=$(date +%s%N)
  timeout 20 "$@" >"$T/wrong.out" 2>"$T/wrong.err"
  rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "$name: exit 1" test "$rc" = 1
  check "$name: fails fast ($ms ms < 3000)" test "$ms" -lt 3000
  check "$name: says authentication failed, names the server" \
    grep -q "authentication failed.*127.0.0.1:$REDIS_PORT\|127.0.0.1:$REDIS_PORT.*authentication failed" "$T/wrong.err"
  check "$name: no password in stdout/stderr" \
    bash -c "! grep -qF -e Wr0ng-pw -e '$REDIS_PW' '$T/wrong.out' '$T/wrong.err'"
}
bad_url="redis://:Wr0ng-pw-url@127.0.0.1:$REDIS_PORT/0"
file_url="redis://127.0.0.1:$REDIS_PORT/0"
for how in url file; do
  if [ $how = url ]; then E=(env -u RQ_URL TRACEKIT_REDIS_URL="$bad_url"); A=()
  else E=(env -u RQ_URL -u TRACEKIT_REDIS_URL); A=(--redis "$file_url" --redis-password-file "$T/badpw"); fi
  wrong "scheduler, password in the $how" "${E[@]}" "$TRACEKIT" scheduler --run-id pw "${A[@]}" --logs "$LOGS"
  wrong "worker, password in the $how" "${E[@]}" "$TRACEKIT" worker --run-id pw "${A[@]}" --logs "$LOGS" --node-id n9 --cpu-binding none
  wrong "dispatch, password in the $how" "${E[@]}" "$TRACEKIT" dispatch --run-id pw "${A[@]}" --logs "$LOGS" --command true --wait
done
check "the wrong passwords wrote nothing to Redis" test "$(rcli --scan --pattern 'tk:pw:*' | wc -l)" = 0
