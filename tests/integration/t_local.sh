#!/usr/bin/env bash
# tracekit local: a whole experiment on one machine without Redis, and the
# same records as the Redis flow (scheduler + workers + dispatch) for the same
# tasks and a deterministic policy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rq_lib.sh"
. "$(dirname "$0")/launcher_lib.sh"
cd "$T"

# ---- a run with failures, pins and the collector ----
cat >tasks.jsonl <<'EOF'
{"argv": ["sleep", "0.4"], "cpu_units": 1, "app": "sleeper"}
{"argv": ["sh", "-c", "exit 3"], "cpu_units": 2, "app": "shx"}
{"argv": ["sleep", "0.2"], "node": "b", "app": "sleeper"}
{"argv": ["no-such-program-tk"], "app": "missing"}
{"argv": ["true"], "cpu_units": 1}
EOF
"$TRACEKIT" local --run-id l1 --logs logs --tasks tasks.jsonl --nodes a,b --capacity-units 2 \
  --weigher instances --cpu-binding none --interval-ms 100 --seed 7 --json >l1.json 2>l1.err
rc=$?
check "local: exit 1 when a task failed" test "$rc" -eq 1
R=logs/l1
py '
import json, sys
L = [json.loads(l) for l in open(sys.argv[1] + "/ledger.jsonl")]
ids = sorted(r["task_id"] for r in L)
assert ids == [1, 2, 3, 4, 5], ids
by = {r["task_id"]: r for r in L}
assert by[1]["status"] == "done" and by[2]["rc"] == 3 and by[2]["status"] == "failed"
assert by[4]["status"] == "failed" and by[4]["rc"] == 127, by[4]
assert by[3]["node"] == "b", by[3]
for r in L:
    assert r["ts_enqueue"] <= r["ts_place"] <= r["ts_start"] <= r["ts_end"], r
    assert r["worker"] == r["node"] + ":" + r["worker"].split(":")[1]
S = [json.loads(l) for l in open(sys.argv[1] + "/submitted.jsonl")]
assert [s["task_id"] for s in S] == [1, 2, 3, 4, 5]
assert all(s["trace_id"] == by[s["task_id"]]["trace_id"] for s in S)
P = [json.loads(l) for l in open(sys.argv[1] + "/placements.jsonl")]
assert sorted(p["task_id"] for p in P) == [1, 2, 3, 4, 5]
assert all(p["node"] == by[p["task_id"]]["node"] for p in P)
' "$R" && ok "local: ledger, submitted and placements agree, each task once" || not_ok "local: ledger/submitted/placements"
py '
import json, sys, glob
by = {json.loads(l)["trace_id"]: json.loads(l) for l in open(sys.argv[1] + "/ledger.jsonl")}
ev = [json.loads(l) for f in glob.glob(sys.argv[1] + "/events.*.jsonl") for l in open(f)]
assert len(ev) == 5, len(ev)
for e in ev:
    r = by[e["trace_id"]]
    assert e["node"] == r["node"] and e["status"] == r["rc"] and e["attempt"] == 1, (e, r)
    assert e["ts_enqueue"] == r["ts_enqueue"]
' "$R" && ok "local: every task has its exec record (node, status, trace id)" || not_ok "local: exec records"
check "local: the collector sampled the tasks" test -s "$R/proc_metrics.jsonl"
check "local: the collector was stopped" grep -q '"state": "stopped"' "$R/collector.json"
py 'import json,sys; d=json.load(open(sys.argv[1])); assert d["done"]==3 and d["failed"]==2 and d["not_run"]==0, d' l1.json \
  && ok "local --json summary" || not_ok "local --json summary: $(cat l1.json)"
"$TRACEKIT" parse --run-id l1 --logs logs --quiet
check "local: the run parses" test -s "$R/CTS/invocations.jsonl"
py '
import json, sys
w = [json.loads(l) for l in open(sys.argv[1] + "/workload.jsonl")]
assert len(w) == 1 and w[0]["seed"] == 7 and w[0]["by"] == "local" and w[0]["tasks"] == 5, w
assert w[0]["source"] == "tasks" and w[0]["append"] is False, w
' "$R" && ok "local: workload.jsonl records the seed and how the tasks were built" || not_ok "local: workload.jsonl"
"$TRACEKIT" report --input "$R" --quiet
check "report: the setup's seed row comes from workload.jsonl" grep -q "seed</th><td>7 (local)" "$R/report.html"

# ---- errors ----
"$TRACEKIT" local --run-id l2 --logs logs --tasks tasks.jsonl --nodes a 2>err; rc=$?
check "a task pinned to a node not in --nodes: usage error" test "$rc" -eq 2
check "... naming the node" grep -q "pinned to node 'b', which is not one of --nodes" err
"$TRACEKIT" local --run-id l3 --logs logs --command 'sleep 0.1' --cpu-units 5 --capacity-units 2 --no-collect 2>err; rc=$?
check "a task bigger than every node: exit 1" test "$rc" -eq 1
check "... saying why" grep -q "needs 5 unit(s)" err
"$TRACEKIT" local --run-id l4 --logs logs --command 'true' --total 3 --cpu-units 5 --capacity-units 2 \
  --reject-unplaceable --no-collect 2>err; rc=$?
check "--reject-unplaceable: rejected in the ledger" test "$(grep -c '"status": "rejected"' logs/l4/ledger.jsonl)" = 3
expect_fail "unknown --policy" "$TRACEKIT" local --command true --policy NoSuch --no-collect
"$TRACEKIT" local --command true --weigher instances --policy Mem 2>err; rc=$?
check "--weigher with an OpenDC --policy: usage error naming both" bash -c "[ $rc -eq 2 ] && grep -q -- '--policy and --weigher' err"

# ---- SIGTERM: no new tasks, running ones finish ----
"$TRACEKIT" local --run-id l5 --logs logs --command 'sleep 1' --total 4 --capacity-units 1 \
  --cpu-binding none --no-collect 2>l5.err & lp=$!
track_pid "$lp"
sleep 0.6
kill -TERM "$lp"
wait_pid "$lp" 20; rc=$?
check "SIGTERM: exit 1 (tasks not run)" test "$rc" -eq 1
check "SIGTERM: the running task finished done" test "$(grep -c '"status": "done"' logs/l5/ledger.jsonl)" = 1
check "SIGTERM: nothing else started" test "$(wc -l <logs/l5/ledger.jsonl)" = 1

# ---- the task launcher (issue 21 item 5): one per run, not a tracekit exec per task ----
python3 -c 'import json,sys
for _ in range(12): print(json.dumps({"argv": ["sh", "-c", sys.argv[1]], "app": "probe"}))' "sleep 0.2; $PROBE" >probe.jsonl
"$TRACEKIT" local --run-id ll --logs logs --tasks probe.jsonl --capacity-units 3 --cpu-binding none \
  --no-collect 2>ll.err & lp=$!
track_pid "$lp"
: >ll.launchers
while kill -0 "$lp" 2>/dev/null; do launchers "$lp" >>ll.launchers; sleep 0.05; done
wait_pid "$lp" 30; rc=$?
check "launcher run: exit 0" test "$rc" -eq 0
check "launcher run: one launcher for the whole run ($(sort -u ll.launchers | tr '\n' ' '))" \
  test "$(sort -u ll.launchers | grep -c .)" = 1
cat logs/ll/task-output/task-*.a1.log >ll.probe 2>/dev/null
probe_forks ll.probe "$lp" 12 && ok "launcher run: each task's exec is a fork of the launcher and a child of local" \
  || not_ok "launcher run: task processes: $(head -c 400 ll.probe)"
py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1] + "/events.probe.jsonl")]
assert len(ev) == 12 and all(e["status"] == 0 and e.get("exec_id") for e in ev), ev
assert len({e["exec_id"] for e in ev}) == 12, ev
L = [json.loads(l) for l in open(sys.argv[1] + "/ledger.jsonl")]
assert len(L) == 12 and all(r["status"] == "done" for r in L), L
' logs/ll && ok "launcher run: 12 records, distinct exec ids, all done" \
  || not_ok "launcher run: records: $(head -c 600 logs/ll/events.probe.jsonl)"
check "launcher run: the launcher is gone after the run" \
  sh -c "! kill -0 $(sort -u ll.launchers | head -1) 2>/dev/null"

# kill -9 of the launcher mid-run: every task still runs and is recorded
"$TRACEKIT" local --run-id lk --logs logs --command 'sleep 0.4' --total 8 --capacity-units 2 \
  --cpu-binding none --no-collect 2>lk.err & lp=$!
track_pid "$lp"
lk=
for _ in $(seq 100); do lk=$(launchers "$lp" | head -1); [ -n "$lk" ] && break; sleep 0.05; done
sleep 0.2
[ -n "$lk" ] && kill -9 "$lk"
wait_pid "$lp" 30; rc=$?
check "kill -9 of the launcher (${lk:-none found}): local exits 0" test -n "$lk" -a "$rc" -eq 0
check "... all 8 tasks done" test "$(grep -c '"status": "done"' logs/lk/ledger.jsonl)" = 8
check "... 8 records by exec" test "$(cat logs/lk/events.*.jsonl | grep -c '"status": 0')" = 8
check "... local says the launcher ended" grep -q "the task launcher (pid $lk) ended" lk.err

# SIGINT twice: the tasks the launcher started are stopped (their process
# groups), recorded by their exec; the launcher does not outlive local
"$TRACEKIT" local --run-id li --logs logs --command 'sleep 30' --total 4 --capacity-units 2 \
  --cpu-binding none --no-collect 2>li.err & lp=$!
track_pid "$lp"
li=
for _ in $(seq 100); do li=$(launchers "$lp" | head -1); [ -n "$li" ] && break; sleep 0.05; done
for _ in $(seq 100); do [ "$(ls logs/li/pids 2>/dev/null | wc -l)" = 2 ] && break; sleep 0.05; done
kill -INT "$lp"; sleep 0.3; kill -INT "$lp"
wait_pid "$lp" 15; rc=$?
check "SIGINT twice: local ends (exit $rc), the 2 running tasks stopped" test "$rc" -eq 1
py '
import glob, json, sys
ev = [json.loads(l) for f in glob.glob(sys.argv[1] + "/events.*.jsonl") for l in open(f)]
assert len(ev) == 2 and all(e["signal"] == 15 for e in ev), ev
' logs/li && ok "... each recorded by its exec as ended by SIGTERM" \
  || not_ok "SIGINT records: $(cat logs/li/events.*.jsonl 2>&1 | head -c 600)"
check "... the launcher (${li:-none found}) is gone" sh -c "test -n '$li' && ! kill -0 $li 2>/dev/null"

# ---- the same tasks through Redis: same records, same placements ----
if ! command -v redis-server >/dev/null; then skip "redis-server not installed"; exit 0; fi
rq_require
redis_start
cat >same.jsonl <<'EOF'
{"argv": ["sleep", "1.5"], "cpu_units": 1, "app": "s"}
{"argv": ["sleep", "1.5"], "cpu_units": 2, "app": "s"}
{"argv": ["sleep", "1.5"], "cpu_units": 1, "app": "s"}
{"argv": ["sleep", "1.5"], "cpu_units": 1, "app": "s"}
{"argv": ["sh", "-c", "sleep 1.5; exit 4"], "cpu_units": 1, "app": "s"}
EOF
# instances min, ties to the smallest id, 3 units each:
#   1 -> a (0/0); 2 -> b (a has 1); 3 -> a (1/1, tie); 4 -> b (2/1); 5 -> a (2/2, tie; a has 1 unit)
export TRACEKIT_REDIS_URL=$RQ_URL
unset RQ_URL
for n in a b; do
  "$TRACEKIT" worker --run-id rf --logs flow --node-id "$n" --capacity-units 3 --cpu-binding none \
    --task-output null 2>"w$n.err" & track_pid $!
done
for i in $(seq 1 100); do
  [ "$(rcli SCARD tk:rf:nodes)" = 2 ] && break; sleep 0.1
done
"$TRACEKIT" scheduler --run-id rf --logs flow --weigher instances 2>sched.err & sp=$!
track_pid "$sp"
"$TRACEKIT" dispatch --run-id rf --logs flow --tasks same.jsonl --pending --wait --timeout 60 2>disp.err
rc=$?
check "redis flow: dispatch --wait exit 1 (one task fails)" test "$rc" -eq 1
kill -TERM "$sp"
"$TRACEKIT" local --run-id lf --logs flow --tasks same.jsonl --pending --nodes a,b --capacity-units 3 \
  --weigher instances --cpu-binding none --task-output null --no-collect 2>local.err
check "local flow: exit 1 (one task fails)" test $? -eq 1
py '
import json, sys, glob
def load(run):
    L = {json.loads(l)["task_id"]: json.loads(l) for l in open("flow/%s/ledger.jsonl" % run)}
    E = {}
    for f in glob.glob("flow/%s/events.*.jsonl" % run):
        for l in open(f):
            e = json.loads(l); E[e["trace_id"]] = e
    S = [json.loads(l) for l in open("flow/%s/submitted.jsonl" % run)]
    P = [json.loads(l) for l in open("flow/%s/placements.jsonl" % run)]
    return L, E, S, P
Lr, Er, Sr, Pr = load("rf")
Ll, El, Sl, Pl = load("lf")
want = {1: "a", 2: "b", 3: "a", 4: "b", 5: "a"}
assert {i: r["node"] for i, r in Lr.items()} == want, Lr
assert {i: r["node"] for i, r in Ll.items()} == want, Ll
assert {i: (r["status"], r["rc"]) for i, r in Lr.items()} == {i: (r["status"], r["rc"]) for i, r in Ll.items()}
for a, b in ((Lr[1], Ll[1]), (next(iter(Er.values())), next(iter(El.values())))):
    assert list(a) == list(b), (list(a), list(b))
strip = lambda s: {k: v for k, v in s.items() if k not in ("trace_id", "ts_enqueue")}
assert [strip(s) for s in Sr] == [strip(s) for s in Sl], (Sr, Sl)
assert [list(p) for p in Pr] == [list(p) for p in Pl]
assert sorted((p["task_id"], p["node"]) for p in Pr) == sorted((p["task_id"], p["node"]) for p in Pl)
assert len(Er) == len(El) == 5
' && ok "local gives the same records as the Redis flow (fields, placements, statuses)" \
  || not_ok "local vs Redis flow differ"
