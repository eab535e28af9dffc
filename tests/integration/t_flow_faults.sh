#!/usr/bin/env bash
# The scheduling plane end to end under faults, with the Redis settings
# docs/redis.md asks for (appendonly yes, appendfsync always):
#  (c) kill -9 of a worker while it runs two tasks: both run again elsewhere
#      as attempt 2 with their trace ids, every task is done exactly once;
#  (d) redis-server killed (SIGKILL) mid-run and started again on the same
#      port and folder: dispatch --wait still completes, every task done
#      exactly once, the scheduler and the workers ride it out.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
source "$(dirname "$0")/flow_lib.sh"
rq_require
redis_start "appendonly yes" "appendfsync always"

# children PID: the PIDs of PID's children (read from ps, nothing is signalled)
children() { ps -o pid= --ppid "$1" | tr -d ' '; }
# running_tasks PID K: worker PID has K exec children, each running its
# command (a child that has become `sleep`: exec forks before it releases the
# command, and a worker killed before the release means exec never starts it
# and writes no record, the case t_worker_kill covers)
running_tasks() {
  local c g n=0
  for c in $(children "$1"); do
    for g in $(children "$c"); do
      [ "$(cat /proc/$g/comm 2>/dev/null)" = sleep ] && { n=$((n + 1)); break; }
    done
  done
  test "$n" = "$2"
}

# ---- (c) kill -9 of a worker mid-task ----
RUN=kill
N=12
declare -A wp
start_sched $RUN
for n in n1 n2 n3; do start_worker $RUN $n 2 --ttl 1; wp[$n]=$WP; done
for n in n1 n2 n3; do
  wait_for 30 registered $RUN $n "${wp[$n]}" || not_ok "$RUN: worker $n did not register"
done
printf '{"argv": ["sleep", "2"], "app": "k"}\n%.0s' $(seq 1 $N) >"$T/kill.jsonl"
dispatch $RUN --tasks "$T/kill.jsonl" --pending --pulse-size $N --pulse-spacing 0 --timeout 120 &
dp=$!
track_pid $dp
check "n2 runs two tasks" wait_for 60 running_tasks "${wp[n2]}" 2
victims=$(rcli LRANGE "tk:$RUN:inflight:n2:${wp[n2]}" 0 -1 | sort -n | tr '\n' ' ')
kill -9 "${wp[n2]}"
echo "# killed worker n2 (pid ${wp[n2]}) running tasks $victims"
check "two tasks were in flight on n2 ($victims)" test "$(echo $victims | wc -w)" = 2
wait_pid $dp 120
check "dispatch --wait: exit 0, every task done" test $? = 0
att=$(python3 -c 'import json,sys; print(json.dumps({int(v): 2 for v in sys.argv[1:]}))' $victims)
check_records $RUN "$att" \
  && ok "every task done exactly once; the two victims as attempt 2, elsewhere, same trace id" \
  || not_ok "records after kill -9 (want attempts $att)"
check "the victims did not run on n2 again; their attempt 1 was stopped with the worker" py '
import glob, json, sys
d, victims = sys.argv[1], [int(v) for v in sys.argv[2:]]
led = {r["task_id"]: r for r in map(json.loads, open(d + "/ledger.jsonl"))}
ev = [json.loads(l) for l in open(d + "/events.k.jsonl")]
for v in victims:
    r = led[v]
    assert r["node"] in ("n1", "n3"), r
    a1 = [e for e in ev if e["trace_id"] == r["trace_id"] and e["attempt"] == 1]
    assert len(a1) == 1 and a1[0]["node"] == "n2" and a1[0]["signal"] == 15, a1
assert len(ev) == len(led) + len(victims), (len(ev), len(led))
' "$LOGS/$RUN" $victims
check "the victims were requeued once each (stats)" test "$(rcli HGET tk:$RUN:stats requeued)" = 2
check "$RUN: rq audit consistent" env RQ_RUN=$RUN "$RQ" audit
for n in n1 n3; do kill -TERM "${wp[$n]}"; done
kill -TERM "$SP"
for p in "${wp[n1]}" "${wp[n3]}" "$SP"; do wait_pid "$p" 30; done

# ---- (d) Redis restart mid-run ----
RUN=restart
N=30
start_sched $RUN
for n in n1 n2 n3; do start_worker $RUN $n 2 --ttl 2; wp[$n]=$WP; done
for n in n1 n2 n3; do
  wait_for 30 registered $RUN $n "${wp[$n]}" || not_ok "$RUN: worker $n did not register"
done
printf '{"argv": ["sh", "-c", "sleep 0.3"], "app": "r"}\n%.0s' $(seq 1 $N) >"$T/restart.jsonl"
dispatch $RUN --tasks "$T/restart.jsonl" --pending --pulse-size $N --pulse-spacing 0 --timeout 150 &
dp=$!
track_pid $dp
results() { rcli LLEN "tk:$RUN:results" 2>/dev/null; }
some_done() { local k; k=$(results); [ "${k:-0}" -ge 6 ]; }
check "mid-run: some tasks done" wait_for 60 some_done
before=$(results)
redis_kill9
sleep 1
redis_spawn
after=$(results)
echo "# redis killed after $before of $N finished; $after in the ledger after the restart"
check "nothing acknowledged was lost ($after >= $before)" test "$after" -ge "$before"
check "... and the run was not over at the kill" test "$before" -lt $N
wait_pid $dp 150
check "dispatch --wait completes across the restart: exit 0" test $? = 0
check_records $RUN '*' && ok "every task done exactly once, joined to its events record and placement" \
  || not_ok "records after the Redis restart"
alive=0
for p in "$SP" "${wp[n1]}" "${wp[n2]}" "${wp[n3]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
check "the scheduler and the three workers are still running" test $alive = 4
check "$RUN: rq audit consistent" env RQ_RUN=$RUN "$RQ" audit
for f in sched n1 n2 n3 dispatch; do
  check "$f: one warning for the outage, one line for the recovery" \
    grep -q 'reconnected to Redis at redis://:\*\*\*@127.0.0.1' "$T/$RUN.$f.log"
done
for n in n1 n2 n3; do kill -TERM "${wp[$n]}"; done
kill -TERM "$SP"
rc=0
for p in "${wp[n1]}" "${wp[n2]}" "${wp[n3]}" "$SP"; do wait_pid "$p" 40 || rc=1; done
check "everyone exits 0 on SIGTERM after the restart" test $rc = 0
check "no password in any log" bash -c "! grep -rqF -- '$REDIS_PW' '$T'/*.log '$T'/*.out '$LOGS'"
