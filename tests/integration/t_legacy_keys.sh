#!/bin/bash
# The original Tracekit's bare queue keys (q:pending, cap:NODE) in the Redis
# database our scheduler and worker use (a real redis-server with a
# password): each says so once at start-up and names the migration step;
# without them, nothing is said.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start

# start CMD LOG ARGS...: tracekit CMD in the background, stopped after its start-up.
run_briefly() {
  local cmd=$1 log=$2; shift 2
  env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" "$cmd" --run-id lg1 --logs "$T/logs" "$@" \
    >/dev/null 2>"$log" &
  local p=$!
  track_pid "$p"
  local i
  for i in $(seq 1 20); do
    grep -q 'original Tracekit' "$log" 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  kill -TERM "$p" 2>/dev/null
  wait "$p" 2>/dev/null
}

run_briefly worker "$T/w0.err" --node-id n1 --cpu-binding none
expect_fail "worker: no notice on a database without the original's keys" grep -q 'original Tracekit' "$T/w0.err"
run_briefly scheduler "$T/s0.err"
expect_fail "scheduler: no notice either" grep -q 'original Tracekit' "$T/s0.err"

# what the original's worker and dispatcher leave behind (upstream §7.2)
rcli SET cap:vm0 4 >/dev/null
rcli RPUSH q:pending '{"id": 1, "cmd": "ffmpeg"}' >/dev/null
run_briefly worker "$T/w1.err" --node-id n1 --cpu-binding none
check "worker: says it finds the original's keys" grep -q "holds the original Tracekit's queue keys (q:pending, cap:vm0)" "$T/w1.err"
check "... once" test "$(grep -c 'original Tracekit' "$T/w1.err")" = 1
check "... naming the migration step" grep -q 'delete their keys .* submit with `tracekit dispatch`' "$T/w1.err"
check "... without the password" bash -c '! grep -q "$0" "$1"' "$REDIS_PW" "$T/w1.err"
run_briefly scheduler "$T/s1.err"
check "scheduler: says it too, once" test "$(grep -c "holds the original Tracekit's queue keys" "$T/s1.err")" = 1
check "the original's keys are left as they were" test "$(rcli LLEN q:pending)" = 1
rcli DEL q:pending >/dev/null
run_briefly worker "$T/w2.err" --node-id n1 --cpu-binding none
check "a cap:* key alone is enough" grep -q "queue keys (cap:vm0)" "$T/w2.err"
