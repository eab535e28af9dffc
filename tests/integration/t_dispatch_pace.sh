#!/usr/bin/env bash
# tracekit dispatch pacing and --wait against a real redis-server, with the
# scheduler and workers played by build/asan/test_rq (place/placer/take/
# complete/fail): fifo keeps q:pending below --pending-max, pulses are spaced
# as asked, --drip makes a task wait for its node instead of dropping it
# (B14), and --wait writes the ledger and reflects failures in the exit code.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start
export TRACEKIT_REDIS_URL=$RQ_URL
cd "$T" || exit 1

enqueued() { local v; v=$(rcli hget "tk:$1:stats" enqueued); echo "${v:-0}"; }
running() { kill -0 "$1" 2>/dev/null; }
# take_one RUN NODE WORKER: print "ID ATTEMPT" of the next task of NODE (retrying)
take_one() {
  local i out
  for i in $(seq 1 30); do
    out=$(RQ_RUN=$1 "$RQ" take "$2" "$3") && { echo "$out"; return 0; }
  done
  return 1
}

# ---- fifo: never more than --pending-max tasks in q:pending ----
RQ_RUN=fifo "$RQ" register n1 w1 100 0 600000
"$TRACEKIT" dispatch --run-id fifo --command true --total 6 --pending --pending-mode fifo \
  --pending-max 2 --batch-size 5 --dribble-interval 0.1 2>"$T/fifo.err" &
disp=$!
track_pid "$disp"
max=0
sample() {  # sample LLEN q:pending for $1 tenths of a second
  local i n
  for i in $(seq 1 "$1"); do
    n=$(rcli llen tk:fifo:q:pending)
    [ "${n:-0}" -gt "$max" ] && max=$n
    sleep 0.05
  done
}
sample 20
check "fifo: 2 of 6 enqueued while nothing is placed" test "$(enqueued fifo)" -eq 2
check "fifo: the dispatcher waits for room" running "$disp"
RQ_RUN=fifo "$RQ" place n1 >/dev/null
sample 20
check "fifo: one placed -> one more enqueued" test "$(enqueued fifo)" -eq 3
RQ_RUN=fifo "$RQ" placer FilterOnly 4 2500 0 >/dev/null &
placer=$!
track_pid "$placer"
for i in $(seq 1 100); do running "$disp" || break; sample 2; done
wait_pid "$disp" 5
check "fifo: dispatcher exits 0 once all are in" test $? -eq 0
check "fifo: q:pending never held more than --pending-max (max $max)" test "$max" -le 2
check "fifo: all 6 enqueued" test "$(wc -l <logs/fifo/submitted.jsonl)" -eq 6
check "fifo: the original's batch lines" grep -q '\[pending\] enqueued batch=2, total=2, qlen=0' "$T/fifo.err"
check "fifo: the original's end line" grep -q '\[pending\] done, total enqueued=6' "$T/fifo.err"
wait_pid "$placer" 10

# ---- pulses: 2 tasks 0.3 s apart, then 1 s ----
"$TRACEKIT" dispatch --run-id pulse --command true --total 5 --pending --pulse-size 2 \
  --pulse-spacing 0.3 --pulse-interval 1 2>"$T/pulse.err"
check "pulse: exits 0" test $? -eq 0
check "pulse: gaps follow --pulse-spacing and --pulse-interval" py '
import json,sys
ts=[json.loads(l)["ts_enqueue"] for l in open(sys.argv[1])]
g=[b-a for a,b in zip(ts, ts[1:])]
assert len(ts) == 5, ts
inside=[g[0], g[2]]; between=[g[1], g[3]]
assert all(250 <= x <= 1500 for x in inside), g
assert all(950 <= x <= 3000 for x in between), g' logs/pulse/submitted.jsonl
check "pulse: the original's lines" grep -q 'enqueued pulse=2, total=4' "$T/pulse.err"
check "pulse: last pulse" grep -q 'enqueued pulse=1, total=5' "$T/pulse.err"

# ---- drip: a task whose node is busy waits (the original dropped it, B14) ----
mkdir in
for f in a b c d; do : >"in/$f.mp4"; done
RQ_RUN=drip "$RQ" register n1 w1 8 0 600000
RQ_RUN=drip "$RQ" register n2 w2 8 0 600000
"$TRACEKIT" dispatch --run-id drip --inputs in --outputs outdir --nodes n1,n2 --drip \
  --batch-size 4 --dribble-interval 0.1 --backlog-limit 1 2>"$T/drip.err" &
disp=$!
track_pid "$disp"
sleep 1.5
check "drip: one task per node while both are backlogged" test "$(enqueued drip)" -eq 2
check "drip: the dispatcher waits" running "$disp"
RQ_RUN=drip "$RQ" place n1 >/dev/null
sleep 1
check "drip: placed but not started still counts as backlog" test "$(enqueued drip)" -eq 2
take_one drip n1 w1 >/dev/null
sleep 1.5
check "drip: n1's task started -> n1's next task enqueued" test "$(enqueued drip)" -eq 3
RQ_RUN=drip "$RQ" place n2 >/dev/null
take_one drip n2 w2 >/dev/null
wait_pid "$disp" 20
check "drip: exits 0" test $? -eq 0
check "drip: every task enqueued, none dropped, each on its node" py '
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert [(r["input"], r["node"]) for r in rows] == [("in/a.mp4","n1"),("in/b.mp4","n2"),
    ("in/c.mp4","n1"),("in/d.mp4","n2")], rows' logs/drip/submitted.jsonl
check "drip: the original's batch lines with backlogs" grep -q '\[drip\] enqueued batch=2, total=2, backlog=n1:0, n2:0' "$T/drip.err"

# ---- duration-online: longest first, each to the node with room ----
mkdir in3
for f in a b c; do : >"in3/$f.mp4"; done
cat >"$T/ffprobe" <<'EOF2'
#!/bin/sh
for a; do f=$a; done
case "$f" in */a.mp4) echo 10 ;; */b.mp4) echo 30 ;; */c.mp4) echo 20 ;; esac
EOF2
chmod +x "$T/ffprobe"
RQ_RUN=onl "$RQ" register n1 w1 8 0 600000
RQ_RUN=onl "$RQ" register n2 w2 8 0 600000
"$TRACEKIT" dispatch --run-id onl --inputs in3 --outputs outdir --nodes n1,n2 \
  --policy duration-online --ffprobe "$T/ffprobe" --batch-size 4 --dribble-interval 0.1 \
  2>"$T/onl.err" &
disp=$!
track_pid "$disp"
sleep 1.5
check "online: one task per node (limit 1)" test "$(enqueued onl)" -eq 2
RQ_RUN=onl "$RQ" place n1 >/dev/null
take_one onl n1 w1 >/dev/null
wait_pid "$disp" 20
check "online: exits 0" test $? -eq 0
check "online: b(30)->n1, c(20)->n2, then a(10) to n1, which freed up" py '
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert [(r["input"], r["node"]) for r in rows] == [("in3/b.mp4","n1"),("in3/c.mp4","n2"),
    ("in3/a.mp4","n1")], rows
assert list(rows[0].keys())[-2:] == ["node", "ts_enqueue"]' logs/onl/submitted.jsonl
check "online: the original's batch line" grep -q '\[online\] batch=2, total=2, backlog=n1:0, n2:0' "$T/onl.err"

# ---- --wait: a fake worker completes 3 tasks and fails 1 ----
fake_worker() {  # RUN N FAIL_AT
  local i id att
  for i in $(seq 1 "$2"); do
    read -r id att < <(take_one "$1" n1 w1) || return 1
    if [ "$i" -eq "$3" ]; then
      RQ_RUN=$1 "$RQ" fail w1 "$id" "$att" 3 >/dev/null
    else
      RQ_RUN=$1 "$RQ" complete w1 "$id" "$att" >/dev/null
    fi
  done
}
for run in wf wok; do
  RQ_RUN=$run "$RQ" register n1 w1 8 0 600000
  "$TRACEKIT" dispatch --run-id $run --command "sh -c true" --total 4 --wait --timeout 120 \
    --json >"$T/$run.json" 2>"$T/$run.err" &
  disp=$!
  track_pid "$disp"
  RQ_RUN=$run "$RQ" placer FilterOnly 4 20000 4 >/dev/null &
  track_pid $!
  if [ $run = wf ]; then fake_worker $run 4 3; else fake_worker $run 4 0; fi
  wait_pid "$disp" 60
  echo $? >"$T/$run.rc"
done
check "--wait with a failed task: exit 1" test "$(cat "$T/wf.rc")" -eq 1
check "--wait with all done: exit 0" test "$(cat "$T/wok.rc")" -eq 0
check "--wait: ledger.jsonl has each task once, sorted, one failed with rc 3" py '
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert [r["task_id"] for r in rows] == [1, 2, 3, 4], rows
st=sorted((r["status"], r["rc"]) for r in rows)
assert st == [("done",0),("done",0),("done",0),("failed",3)], st
for r in rows:
    assert r["ts_enqueue"] <= r["ts_place"] + 1000 and r["ts_start"] <= r["ts_end"]' logs/wf/ledger.jsonl
check "--wait --json: counts, makespan and waits" py '
import json,sys
s=json.load(open(sys.argv[1]))
assert (s["done"], s["failed"], s["dead"], s["rejected"], s["unfinished"]) == (3,1,0,0,0), s
assert s["makespan_ms"] >= 0 and s["wait_p50_ms"] is not None and s["wait_p95_ms"] >= s["wait_p50_ms"]
assert s["ledger"].endswith("logs/wf/ledger.jsonl")' "$T/wf.json"
check "--wait: summary line on stderr" grep -q 'done 3, failed 1, dead 0, rejected 0, unfinished 0' "$T/wf.err"
check "--wait all done: 4 ledger lines" test "$(wc -l <logs/wok/ledger.jsonl)" -eq 4

# ---- --wait --timeout with nobody working ----
start=$(date +%s)
"$TRACEKIT" dispatch --run-id idle --command true --total 2 --wait --timeout 1 2>"$T/idle.err"
rc=$?
check "--timeout: exit 1" test "$rc" -eq 1
check "--timeout: within a few seconds" test $(( $(date +%s) - start )) -lt 15
check "--timeout: says how many are unfinished" grep -q 'timed out after 1.0 s: 2 of 2 task(s) not finished' "$T/idle.err"
check "--timeout: the summary still counts them" grep -q 'done 0, failed 0, dead 0, rejected 0, unfinished 2' "$T/idle.err"
check "--timeout: the ledger is written anyway" test -f logs/idle/ledger.jsonl

# ---- on a terminal: one progress line rewritten in place ----
if command -v script >/dev/null; then
  TRACEKIT=$TRACEKIT script -qfec "\"\$TRACEKIT\" dispatch --run-id tty --command true --total 3 --wait --timeout 1" \
    "$T/typescript" >/dev/null 2>&1
  check "tty: progress line with the counts" grep -qa $'\rdispatch: enqueued 3/3  pending 3  queued 0  running 0  done 0  failed 0' "$T/typescript"
else
  skip "script(1) not installed: no terminal test"
fi
