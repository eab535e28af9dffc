#!/usr/bin/env bash
# t_mistakes.sh -- the mistakes that silently cost an experiment (#18): each
# gets its clear message and exit status.  A mistyped --mix profile, parse
# while the collector records, a run id used twice, a --pending dispatch
# nobody serves, a failed task's reason, the silent pulse pause, Redis down
# when a worker or scheduler starts, and mistyped commands.  The Redis parts
# start their own redis-server (rq_lib.sh), stopped by PID.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/rq_lib.sh"
cd "$T" || exit 1
mkdir in
for f in a b; do : >"in/$f.mp4"; done
ABS_IN=$T/in

# ---- 11: a mistyped command gets "did you mean", in the common format ----
"$TRACEKIT" pase 2>err.txt; rc=$?
check "mistyped command: exit 2" test "$rc" = 2
check "... 'tracekit: error: unknown command' with did you mean 'parse'" \
  grep -q "^tracekit: error: unknown command 'pase'; did you mean 'parse'?" err.txt
"$TRACEKIT" help dispach 2>err.txt
check "help of a mistyped command: did you mean 'dispatch'" grep -q "did you mean 'dispatch'" err.txt

# ---- 1: a misspelled --mix profile is an error, not the default transcode ----
"$TRACEKIT" local --run-id m1 --inputs in --outputs out --mix medum480p=1 --no-collect 2>err.txt
rc=$?
check "--mix medum480p=1: exit 2" test "$rc" = 2
check "... names the item, the nearest and the known profiles" grep -q \
  "unknown profile 'medum480p'; did you mean 'medium480p'? (expected medium480p, fast1080p, hevc1080p or light1c" err.txt
check "... and --allow-unknown-profile" grep -q -- "--allow-unknown-profile" err.txt
expect_fail "... no run was started" test -e logs/m1/submitted.jsonl
"$TRACEKIT" local --run-id m2 --inputs in --outputs out --mix "medium480p=1,light1c" --no-collect 2>err.txt
rc=$?
check "--mix 'medium480p=1,light1c': exit 2" test "$rc" = 2
check "... names the malformed item" grep -q "item 'light1c' is not NAME=WEIGHT" err.txt

# ---- 2: parse refuses a run whose collector still records it ----
"$TRACEKIT" local --run-id p1 --command true --no-collect -q || not_ok "local p1 failed"
sleep 300 &
SLEEPER=$!
track_pid "$SLEEPER"
ticks=$(awk '{print $22}' "/proc/$SLEEPER/stat")
printf '{"state": "running", "pid": %d, "start_ticks": %s}\n' "$SLEEPER" "$ticks" >logs/p1/collector.json
"$TRACEKIT" parse --run-id p1 >out.txt 2>err.txt; rc=$?
check "parse while the collector runs: exit 1" test "$rc" = 1
check "... naming its pid and 'tracekit collect stop'" \
  grep -q "the collector (pid $SLEEPER) is still recording logs/p1.*'tracekit collect stop --run-id p1'" err.txt
expect_fail "... and no trace written" test -e logs/p1/CTS/invocations.jsonl
"$TRACEKIT" parse --run-id p1 --force >out.txt 2>err.txt; rc=$?
check "parse --force: exit 0, a trace" test "$rc" = 0 -a -s logs/p1/CTS/invocations.jsonl
"$TRACEKIT" local --run-id p2 --command true --no-collect -q || not_ok "local p2 failed"
printf '{"state": "running", "pid": %d, "start_ticks": %s}\n' "$SLEEPER" "$((ticks + 1))" >logs/p2/collector.json
"$TRACEKIT" parse --run-id p2 >out.txt 2>err.txt; rc=$?
check "a stale 'running' (same pid, other start ticks) does not block parse" test "$rc" = 0
kill "$SLEEPER"; wait "$SLEEPER" 2>/dev/null
"$TRACEKIT" collect start --run-id p3 --interval-ms 100 >/dev/null 2>&1
if "$TRACEKIT" collect status --run-id p3 >/dev/null 2>&1; then
  "$TRACEKIT" parse --run-id p3 >out.txt 2>err.txt; rc=$?
  check "parse while a real collector runs: exit 1" test "$rc" = 1
  "$TRACEKIT" collect stop --run-id p3 >/dev/null 2>&1
  "$TRACEKIT" parse --run-id p3 >out.txt 2>err.txt; rc=$?
  check "... and after 'collect stop': exit 0" test "$rc" = 0
else
  skip "a real collector could not start here (see logs/p3/collector.log)"
fi

# ---- 3: a run id used twice is refused; --append numbers on ----
"$TRACEKIT" local --run-id r1 --command true --total 2 --no-collect -q; rc=$?
check "local r1: exit 0" test "$rc" = 0
"$TRACEKIT" local --run-id r1 --command true --no-collect -q 2>err.txt; rc=$?
check "local with a used run id: exit 2" test "$rc" = 2
check "... saying what is there and what to do" \
  grep -q "run r1 already has tasks (ids up to 2 in logs/r1/submitted.jsonl or ledger.jsonl).*--append" err.txt
"$TRACEKIT" local --run-id r1 --command true --total 2 --no-collect -q --append; rc=$?
check "local --append: exit 0" test "$rc" = 0
check "... ids numbered on: 1..4 once each, a task log each" py '
import json
ids = sorted(json.loads(l)["task_id"] for l in open("logs/r1/ledger.jsonl"))
assert ids == [1, 2, 3, 4], ids
import os
assert sorted(os.listdir("logs/r1/task-output")) == ["task-%d.a1.log" % i for i in (1, 2, 3, 4)]'

# ---- 5 (local): a failed task says why ----
"$TRACEKIT" local --run-id f1 --command "sh -c 'echo frame=1; echo in/a.mp4: No such file or directory >&2; exit 3'" \
  --no-collect 2>err.txt; rc=$?
check "local, a failing task: exit 1" test "$rc" = 1
check "... the reason at error level, with the log" \
  grep -q "error local: task 1 on .* failed, rc 3: frame=1|in/a.mp4: No such file or directory; log logs/f1/task-output/task-1.a1.log" err.txt
check "... in the ledger (error, log) and the exec event (error)" py '
import json, glob
r = json.loads(open("logs/f1/ledger.jsonl").readline())
assert r["error"] == "frame=1\nin/a.mp4: No such file or directory", r
assert r["log"] == "logs/f1/task-output/task-1.a1.log", r
e = json.loads(open(glob.glob("logs/f1/events.*.jsonl")[0]).readline())
assert e["error"] == "frame=1\nin/a.mp4: No such file or directory", e'
# a command not found exits 127 like a runner that could not start: still said, with why
"$TRACEKIT" local --run-id f2 --command "tk-no-such-program x" --no-collect 2>err.txt; rc=$?
check "local, a command not found: exit 1" test "$rc" = 1
check "... the reason at error level (cannot run), with the log" \
  grep -q "error local: task 1 on .* failed, rc 127: .*cannot run 'tk-no-such-program': No such file or directory; log logs/f2/task-output/task-1.a1.log" err.txt
check "... in the ledger's error" py '
import json
r = json.loads(open("logs/f2/ledger.jsonl").readline())
assert "cannot run" in r.get("error", ""), r'

# ffmpeg failing at once (a missing input): the reason is its error, not its banner
cat >banner.sh <<'SH'
printf 'ffmpeg version 5.1.9 Copyright (c) 2000-2026 the FFmpeg developers\n  built with gcc 12\n' >&2
printf '  configuration: --prefix=/usr --enable-gpl\n  libavutil      57. 28.100 / 57. 28.100\n' >&2
printf '  libavcodec     59. 37.100 / 59. 37.100\n  libswscale      6.  7.100 /  6.  7.100\n' >&2
printf 'in/a.mp4: No such file or directory\n' >&2
exit 1
SH
"$TRACEKIT" local --run-id f3 --command "sh banner.sh" --no-collect 2>err.txt; rc=$?
check "local, ffmpeg's banner then its error: exit 1" test "$rc" = 1
check "... the reason is the error line alone" \
  grep -q "error local: task 1 on .* failed, rc 1: in/a.mp4: No such file or directory; log" err.txt
check "... in the ledger and the exec event too" py '
import json, glob
r = json.loads(open("logs/f3/ledger.jsonl").readline())
e = json.loads(open(glob.glob("logs/f3/events.*.jsonl")[0]).readline())
assert r["error"] == e["error"] == "in/a.mp4: No such file or directory", (r, e)'

# ---- the Redis parts ----
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  skip "redis-server not installed: items 4, 5 (Redis), 6 and 9"; exit 0
fi
REDIS_PORT=$(redis_free_port)
REDIS_PW=tk-$(od -An -tx8 -N8 /dev/urandom | tr -d ' \n')
export RQ_URL="redis://:$REDIS_PW@127.0.0.1:$REDIS_PORT/0"
source "$HERE/flow_lib.sh"
LOGS=$T/logs

# ---- 9: a worker and a scheduler started before Redis wait for it ----
start_worker w9 n1 2 --connect-timeout 30
W9=$WP
start_sched w9 --connect-timeout 30
S9=$SP
sleep 1.5
check "worker before Redis: still waiting" kill -0 "$W9"
check "scheduler before Redis: still waiting" kill -0 "$S9"
check "... saying it retries (--connect-timeout)" \
  grep -q "connection refused.*retrying for up to .* (--connect-timeout)" "$T/w9.n1.log"
redis_start
check "worker: connects once Redis is up and registers" wait_for 20 registered w9 n1 "$W9"
check "... its start line names its run" grep -q "worker run=w9 node=n1" "$T/w9.n1.log"
check "scheduler: connected too" wait_for 20 grep -q "connected to Redis after" "$T/w9.sched.log"
dispatch w9 --command true --total 3 --timeout 60; rc=$?
check "dispatch to them: exit 0" test "$rc" = 0
check "worker: an info line per finished task" grep -q "info  worker: task [0-9]* attempt 1: done" "$T/w9.n1.log"
check "scheduler: an info line per placement" grep -q "info  scheduler: placed task [0-9]* on n1" "$T/w9.sched.log"
kill "$W9" "$S9"; wait "$W9" "$S9" 2>/dev/null
port=$(redis_free_port)
start=$(date +%s%N)
"$TRACEKIT" scheduler --run-id x9 --logs "$LOGS" --redis "redis://:pw-9@127.0.0.1:$port/0" \
  --connect-timeout 1 >/dev/null 2>err.txt; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "no Redis within --connect-timeout 1: exit 1 after about 1 s ($ms ms)" \
  test "$rc" = 1 -a "$ms" -ge 900 -a "$ms" -lt 5000
check "... saying it gave up" grep -q "gave up after 1 s of retries, --connect-timeout" err.txt
start=$(date +%s%N)
"$TRACEKIT" worker --run-id x9 --logs "$LOGS" --node-id n1 --redis "redis://:wrong@127.0.0.1:$REDIS_PORT/0" \
  --connect-timeout 30 >/dev/null 2>err.txt; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "a wrong password is not retried: exit 1 at once ($ms ms)" test "$rc" = 1 -a "$ms" -lt 5000
check "... authentication failed" grep -q "authentication failed" err.txt

# ---- 4: --pending into a run nobody serves warns ----
dispatch nobody --pending --command true --timeout 14; rc=$?
check "--pending with no scheduler and no worker: exit 1 at --timeout" test "$rc" = 1
check "... 'no scheduler has been seen in run nobody for N s'" \
  grep -q "warn  dispatch: no scheduler has been seen in run nobody for 1[0-9] s" "$T/nobody.dispatch.log"
check "... 'no worker registered in run nobody'" \
  grep -q "warn  dispatch: no worker registered in run nobody" "$T/nobody.dispatch.log"

# ---- 1 (dispatch): --allow-unknown-profile keeps the original's fallback ----
env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" dispatch --run-id mixok --logs "$LOGS" \
  --inputs "$ABS_IN" --outputs "$T/out" --mix "medum480p=1,light1c" --allow-unknown-profile \
  2>err.txt; rc=$?
check "--allow-unknown-profile: exit 0" test "$rc" = 0
check "... the skipped item named in the warning" grep -q "1 item(s) ignored (not NAME=INTEGER): 'light1c'" err.txt
check "... the unknown name runs the 1280:720 fallback under its name" py '
import json
r = [json.loads(l) for l in open("logs/mixok/submitted.jsonl")]
assert len(r) == 2 and all(x["profile"] == "medum480p" and x["scale"] == "1280:720" for x in r), r'

# ---- 3 (dispatch): a run id used twice ----
env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" dispatch --run-id nobody --logs "$LOGS" \
  --command true 2>err.txt; rc=$?
check "dispatch with a used run id: exit 2" test "$rc" = 2
check "... naming the run and --append" grep -q "run nobody already has tasks.*--append" err.txt
env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" dispatch --run-id nobody --logs "$LOGS" \
  --command true --append -q 2>err.txt; rc=$?
check "dispatch --append: exit 0" test "$rc" = 0
check "... ids numbered on by Redis (the run's counter: unique, rising)" \
  py 'import json; ids = [json.loads(l)["task_id"] for l in open("logs/nobody/submitted.jsonl")]; assert len(ids) == 2 and ids[0] == 1 < ids[1], ids'

# ---- 5 (Redis) and 6: a failed task's reason; the pulse pause said ----
start_sched f5
start_worker f5 n1 2
wait_for 20 registered f5 n1 "$WP" || not_ok "worker f5 did not register"
dispatch f5 --pending --pulse-size 1 --pulse-spacing 0 --pulse-interval 1 --total 2 --timeout 60 \
  --command "sh -c 'echo working; echo cannot open in/a.mp4 >&2; exit 4'"; rc=$?
check "dispatch --wait of failing tasks: exit 1" test "$rc" = 1
check "6: 'next pulse of 1 task(s) in 1 s'" \
  grep -q "info  dispatch: \[pending-pulse\] next pulse of 1 task(s) in 1 s (--pulse-interval); 1 of 2 enqueued" "$T/f5.dispatch.log"
check "5: each failure at error level: node, reason, log path" \
  grep -q "error dispatch: task 1 failed on n1, rc 4: working|cannot open in/a.mp4; log n1:$T/logs/f5/task-output/task-1.a1.log" "$T/f5.dispatch.log"
check "... in the ledger" py '
import json
r = [json.loads(l) for l in open("logs/f5/ledger.jsonl")]
assert len(r) == 2 and all(x["error"] == "working\ncannot open in/a.mp4" for x in r), r
assert r[0]["log"].endswith("/logs/f5/task-output/task-1.a1.log"), r[0]'
check "... the worker says it too" grep -q "task 1 attempt 1: failed, rc 4: working|cannot open in/a.mp4" "$T/f5.n1.log"
env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" dispatch --run-id rel --logs "$LOGS" \
  --inputs in --outputs out 2>err.txt
check "5: relative --inputs: a warning that each worker resolves it" \
  grep -q "warn  dispatch: --inputs in is a relative path: each worker resolves it in its own working folder" err.txt
env -u RQ_URL TRACEKIT_REDIS_URL="$RQ_URL" "$TRACEKIT" dispatch --run-id abs --logs "$LOGS" \
  --inputs "$ABS_IN" --outputs "$T/out" 2>err.txt
expect_fail "... none for absolute paths" grep -q "is a relative path" err.txt
"$TRACEKIT" dispatch --help >help.txt
check "6: dispatch --help states the --pending default once" \
  grep -q "pending alone: the original's pulses of" help.txt
