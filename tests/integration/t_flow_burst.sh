#!/usr/bin/env bash
# Enqueue stamps are real (issue 21): a burst of 2000 tasks is stamped by
# the enqueue script with the Redis clock, so
#  - every stamp lies between the Redis time just before the dispatch
#    started and the Redis time once all 2000 were in (the old "previous +
#    1 ms" rule spread them over at least 1999 ms, ahead of the clock);
#  - no ledger record has a negative wait (ts_enqueue <= ts_place <= ts_start);
#  - task ids keep the order (stamps never decrease with the id);
#  - the OpenDC export's submission_time spread equals the ledger's
#    ts_enqueue spread, i.e. the real enqueue spread.
# The release binary runs the plane (2000 ASan execs would take minutes).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
TRACEKIT=$ROOT/build/tracekit
[ -x "$TRACEKIT" ] || { not_ok "$TRACEKIT missing (run make)"; exit 1; }
source "$(dirname "$0")/flow_lib.sh"
make -C "$ROOT" -s build/bench/parquet/pqcat >"$T/make.log" 2>&1 ||
  { not_ok "build pqcat: $(tail -3 "$T/make.log")"; exit 1; }
redis_start "appendonly no"

RUN=burst
N=2000
redis_ms() { rcli TIME | python3 -c 'import sys; s, us = sys.stdin.read().split(); print(int(s) * 1000 + int(us) // 1000)'; }
start_sched $RUN
declare -A wp
for n in n1 n2; do start_worker $RUN $n 4 --task-output null; wp[$n]=$WP; done
for n in n1 n2; do
  wait_for 30 registered $RUN $n "${wp[$n]}" || not_ok "worker $n did not register"
done
printf '{"argv": ["true"], "app": "burst"}\n%.0s' $(seq 1 $N) >"$T/burst.jsonl"
t0=$(redis_ms)
dispatch $RUN --tasks "$T/burst.jsonl" --timeout 300 &
dp=$!
track_pid $dp
all_in() { [ "$(rcli HGET tk:$RUN:stats enqueued)" = $N ]; }
wait_for 60 all_in
t1=$(redis_ms)
wait_pid $dp 300
check "dispatch --wait: exit 0" test $? = 0
echo "# Redis clock: dispatch started at +0, all $N in by +$((t1 - t0)) ms"
check "stamps are the real enqueue times; no negative wait; ids keep the order" py '
import json, sys
t0, t1, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
led = sorted((json.loads(l) for l in open(sys.argv[1] + "/ledger.jsonl")), key=lambda r: r["task_id"])
sub = {r["task_id"]: r["ts_enqueue"] for r in map(json.loads, open(sys.argv[1] + "/submitted.jsonl"))}
assert len(led) == n, len(led)
e = [r["ts_enqueue"] for r in led]
assert t0 <= min(e) and max(e) <= t1, ("stamps outside the enqueue window", t0, min(e), max(e), t1)
assert all(a <= b for a, b in zip(e, e[1:])), "a stamp decreases with the task id"
neg = [r for r in led if not r["ts_enqueue"] <= r["ts_place"] <= r["ts_start"]]
assert not neg, ("negative wait", len(neg), neg[:2])
assert all(sub[r["task_id"]] == r["ts_enqueue"] for r in led), "submitted.jsonl disagrees"
print("# ts_enqueue spread %d ms" % (max(e) - min(e)))
' "$LOGS/$RUN" "$t0" "$t1" $N
for n in n1 n2; do kill -TERM "${wp[$n]}"; done
kill -TERM "$SP"
for p in "${wp[n1]}" "${wp[n2]}" "$SP"; do wait_pid "$p" 40; done
check "parse" env NODE_ID=n1 "$TRACEKIT" parse --logs "$LOGS" --run-id $RUN --quiet
# no collector ran: give the node the figures the export asks for (CPU frequency, cores, memory)
python3 - "$LOGS/$RUN/CTS/nodes.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for n in (d if isinstance(d, list) else d.get("nodes", [d])):
    n.update(cpu_freq_mhz=2000, cpu_cores=8, mem_mb=16000)
json.dump(d, open(sys.argv[1], "w"))
PY
"$TRACEKIT" export opendc --input "$LOGS/$RUN" --output "$T/odc" >"$T/export.out" 2>&1
rc=$?
[ $rc = 0 ] || tail -3 "$T/export.out"
check "export opendc (exit $rc)" test $rc = 0
"$ROOT/build/bench/parquet/pqcat" "$T/odc/tasks.parquet" >"$T/tasks.json"
check "submission_time spread in the export = the real enqueue spread" py '
import json, sys
led = [json.loads(l) for l in open(sys.argv[1] + "/ledger.jsonl")]
e = [r["ts_enqueue"] for r in led]
rows = json.load(open(sys.argv[2]))["rows"]
s = [int(r["submission_time"]) for r in rows]   # pqcat prints INT64 as text
assert len(s) == len(led), (len(s), len(led))
assert max(s) - min(s) == max(e) - min(e), (max(s) - min(s), max(e) - min(e))
' "$LOGS/$RUN" "$T/tasks.json"
