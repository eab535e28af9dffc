# flow_lib.sh -- the real scheduling plane for the t_flow*.sh tests (source
# after lib.sh and rq_lib.sh, after redis_start): a `tracekit scheduler`,
# `tracekit worker`s with their own node ids, `tracekit dispatch`, all the
# ASan binary, all given the URL with the password through the environment.
# $LOGS is the logs folder; every process is started here and tracked by PID.
LOGS=$T/logs

# start_sched RUN ARGS...: a scheduler in the background ($SP, log $T/RUN.sched.log).
start_sched() {
  local run=$1; shift
  env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" scheduler --run-id "$run" \
    --logs "$LOGS" "$@" >"$T/$run.sched.out" 2>"$T/$run.sched.log" &
  SP=$!
  track_pid "$SP"
}

# start_worker RUN NODE UNITS ARGS...: a worker for NODE with UNITS capacity
# units ($WP, log $T/RUN.NODE.log); no CPU binding (the tests share 2 CPUs).
start_worker() {
  local run=$1 node=$2 units=$3; shift 3
  env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" worker --run-id "$run" \
    --logs "$LOGS" --node-id "$node" --capacity-units "$units" --cpu-binding none \
    "$@" >"$T/$run.$node.out" 2>"$T/$run.$node.log" &
  WP=$!
  track_pid "$WP"
}

# wait_for SECONDS COMMAND...: poll until the command succeeds.
wait_for() {
  local n=$(($1 * 10)) i; shift
  for i in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# registered RUN NODE PID: NODE is owned by the worker with that PID.
registered() { test "$(rcli HGET "tk:$1:node:$2" worker)" = "$2:$3"; }

# dispatch RUN ARGS...: tracekit dispatch --wait in the foreground; its exit
# status; summary in $T/RUN.dispatch.json, log in $T/RUN.dispatch.log.
dispatch() {
  local run=$1; shift
  env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" dispatch --run-id "$run" \
    --logs "$LOGS" --wait --json "$@" >"$T/$run.dispatch.json" 2>"$T/$run.dispatch.log"
}

# check_records RUN EXPECTED_ATTEMPTS_JSON: the cross-file checks every flow
# test makes on LOGS/RUN:
#  - ledger.jsonl: every submitted task exactly once, same trace id and
#    ts_enqueue as submitted, status done iff rc 0, rc = the "exit K" of
#    its command (0 for other commands), timestamps in order (no negative
#    wait: ts_enqueue <= ts_place <= ts_start);
#  - each ledger line joined to exactly one events record (trace id,
#    attempt, node, rc = status), and no events record without a task;
#  - placements.jsonl: the ledger's node is the task's last placement;
#  - attempts as given ({"task_id": attempt}, default 1; '*': any, since a
#    Redis restart may reap a worker and re-run its tasks).
# Prints what is wrong and fails.
check_records() {
  python3 - "$LOGS/$1" "$2" <<'EOF'
import glob, json, re, sys
d, any_att = sys.argv[1], sys.argv[2] == "*"
want_att = {} if any_att else {int(k): v for k, v in json.loads(sys.argv[2]).items()}
sub = {r["task_id"]: r for r in map(json.loads, open(d + "/submitted.jsonl"))}
led = [json.loads(l) for l in open(d + "/ledger.jsonl")]
ids = [r["task_id"] for r in led]
assert sorted(ids) == sorted(sub), ("ledger ids", sorted(ids), sorted(sub))
assert len(ids) == len(set(ids)), "a task in the ledger twice"
ev = []
for f in glob.glob(d + "/events.*.jsonl"):
    ev += [json.loads(l) for l in open(f)]
by_trace = {}
for e in ev:
    by_trace.setdefault(e["trace_id"], []).append(e)
traces = {s["trace_id"] for s in sub.values()}
assert all(t in traces for t in by_trace), "an events record of no submitted task"
place = {}
for p in map(json.loads, open(d + "/placements.jsonl")):
    place[p["task_id"]] = p
for r in led:
    s = sub[r["task_id"]]
    m = re.search(r"exit (\d+)", " ".join(s["argv"]))
    rc = int(m.group(1)) if m else 0
    assert r["trace_id"] == s["trace_id"] and r["ts_enqueue"] == s["ts_enqueue"], (r, s)
    assert r["rc"] == rc and r["status"] == ("done" if rc == 0 else "failed"), ("rc", r, rc)
    assert (any_att and r["attempt"] >= 1) or r["attempt"] == want_att.get(r["task_id"], 1), \
        ("attempt", r)
    # ts_enqueue is stamped by the enqueue script with the Redis clock, the
    # clock of the other three: no negative wait (issue 21)
    assert r["ts_enqueue"] <= r["ts_place"], ("ts order", r)
    assert r["ts_place"] <= r["ts_start"] <= r["ts_end"], ("ts order", r)
    assert r["worker"].split(":")[0] == r["node"], r
    es = [e for e in by_trace.get(r["trace_id"], []) if e["attempt"] == r["attempt"]]
    assert len(es) == 1, ("events of the ledger's attempt", r, es)
    e = es[0]
    assert e["node"] == r["node"] and e["status"] == r["rc"], ("event vs ledger", e, r)
    assert e["ts_enqueue"] == r["ts_enqueue"], ("event ts_enqueue", e, r)
    assert place[r["task_id"]]["node"] == r["node"], ("placement", place[r["task_id"]], r)
EOF
}
