#!/usr/bin/env bash
# tracekit dispatch against a real redis-server: the mix sequence lands in
# Redis in order, the bodies match submitted.jsonl, rr3 pins, --tasks and
# --command tasks, and the errors (usage, inputs, JSONL, connection).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start
export TRACEKIT_REDIS_URL=$RQ_URL
cd "$T" || exit 1
mkdir in empty
for f in d c b a; do : >"in/$f.mp4"; done
: >in/notes.txt
: >in/.hidden.mp4
mkdir in/sub.mp4
VEC="medium480p=3,fast1080p=2,hevc1080p=2,light1c=3"

# ---- usage and input errors ----
"$TRACEKIT" dispatch --help >"$T/out"
check "--help exits 0 and lists --pending-mode" grep -q -- '--pending-mode' "$T/out"
"$TRACEKIT" dispatch --run-id u1 2>"$T/err"
check "nothing to dispatch: exit 2" test $? -eq 2
check "... saying what to give" grep -q 'give --inputs DIR' "$T/err"
"$TRACEKIT" dispatch --run-id u1 --inputs in --outputs outdir --policy rr4 2>"$T/err"
check "unknown policy: exit 2" test $? -eq 2
check "... naming the accepted ones" grep -q "unknown --policy 'rr4': expected rr3, duration-greedy" "$T/err"
"$TRACEKIT" dispatch --run-id u1 --inputs in --outputs outdir --mix 'x,y=abc' --total 5 2>"$T/err"
check "bad --mix: exit 2" test $? -eq 2
check "... naming it" grep -q "invalid --mix 'x,y=abc'" "$T/err"
"$TRACEKIT" dispatch --run-id u1 --inputs empty --outputs outdir 2>"$T/err"
check "no inputs: exit 1" test $? -eq 1
check "... no mp4 files under DIR" grep -q 'no mp4 files under empty' "$T/err"
env -u RUN_ID "$TRACEKIT" dispatch --inputs in --outputs outdir 2>"$T/err"
check "no run id: exit 2" test $? -eq 2
"$TRACEKIT" dispatch --run-id u1 --command "sh -c 'exit" 2>"$T/err"
check "unbalanced quote in --command: exit 2" test $? -eq 2
check "... says so" grep -q 'unbalanced single quote' "$T/err"
"$TRACEKIT" dispatch --run-id u1 --command true --pending --drip 2>"$T/err"
check "--pending with --drip: exit 2" test $? -eq 2
"$TRACEKIT" dispatch --run-id u1 --inputs in --outputs outdir --nodes ' , ' 2>"$T/err"
check "no nodes: exit 2" test $? -eq 2
check "... no nodes provided" grep -q 'no nodes provided' "$T/err"
check "usage errors wrote nothing to Redis" test "$(rcli --scan --pattern 'tk:u1:*' | wc -l)" -eq 0

# ---- connection errors ----
port=$(redis_free_port)
start=$(date +%s%N)
TRACEKIT_REDIS_URL="redis://:x@127.0.0.1:$port/0" "$TRACEKIT" dispatch --run-id c1 --command true 2>"$T/err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "refused connection: exit 1" test "$rc" -eq 1
check "... fast (${ms} ms < 5000)" test "$ms" -lt 5000
check "... says connection refused" grep -q 'connection refused' "$T/err"
TRACEKIT_REDIS_URL="redis://:Wr0ng-pw@127.0.0.1:$REDIS_PORT/0" "$TRACEKIT" dispatch --run-id c1 --command true 2>"$T/err"
check "wrong password: exit 1" test $? -eq 1
check "... authentication failed" grep -q 'authentication failed' "$T/err"
expect_fail "... without the wrong password" grep -q 'Wr0ng-pw' "$T/err"
expect_fail "... nor the real one" grep -qF -- "$REDIS_PW" "$T/err"
printf '%s\n' "$REDIS_PW" >"$T/pw"; chmod 600 "$T/pw"
TRACEKIT_REDIS_URL= "$TRACEKIT" dispatch --redis "redis://127.0.0.1:$REDIS_PORT/0" \
  --redis-password-file "$T/pw" --run-id c2 --command true -q
check "--redis-password-file connects" test $? -eq 0

# ---- the upstream mix vector, through --pending (one pulse) ----
"$TRACEKIT" dispatch --run-id mix --inputs in --outputs outdir --mix "$VEC" --total 100 \
  --seed 20250901 --pending --pulse-size 100 --pulse-spacing 0 --json >"$T/mix.json" 2>"$T/mix.err"
check "mix dispatch exits 0" test $? -eq 0
check "stderr has the per-profile counts" grep -q 'mix: medium480p=30 fast1080p=20 hevc1080p=20 light1c=30' "$T/mix.err"
check "stderr has the original's pulse line" grep -q 'enqueued pulse=100, total=100' "$T/mix.err"
check "--json summary: 100 enqueued, none pinned" py '
import json,sys; s=json.load(open(sys.argv[1]))
assert s["enqueued"] == 100 and s["tasks"] == 100 and s["pinned"] == 0, s
assert s["done"] is None and s["ledger"] is None' "$T/mix.json"
sub=logs/mix/submitted.jsonl
check "submitted.jsonl: the upstream sequence, counts, files, order" py '
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 100, len(rows)
first12=["light1c","light1c","medium480p","hevc1080p","hevc1080p","light1c","light1c",
         "medium480p","light1c","medium480p","medium480p","medium480p"]
assert [r["profile"] for r in rows[:12]] == first12
from collections import Counter
c=Counter(r["profile"] for r in rows)
assert c == {"medium480p":30,"fast1080p":20,"hevc1080p":20,"light1c":30}, c
assert [r["_seq"] for r in rows] == list(range(100))
assert all(r["input"] == "in/" + "abcd"[i % 4] + ".mp4" for i, r in enumerate(rows))
ts=[r["ts_enqueue"] for r in rows]
# the Redis clock at each enqueue (issue 21): never decreasing, shared
# within one ms (no invented "previous + 1 ms"); task ids keep the order
assert all(b >= a for a, b in zip(ts, ts[1:])), "ts_enqueue decreasing"
assert [r["task_id"] for r in rows] == sorted(r["task_id"] for r in rows)
assert len({r["trace_id"] for r in rows}) == 100
assert not any("node" in r for r in rows)
keys=list(rows[3].keys())
assert keys == ["task_id","trace_id","input","output","_seq","scale","vcodec","preset","crf",
                "vthreads","fthreads","cpu_units","profile","ts_enqueue"], keys
assert rows[3]["output"] == "outdir/d_1920x1080_hevc_medium_n0003.mp4"
' "$sub"
rcli lrange tk:mix:q:pending 0 -1 >"$T/q"
check "q:pending holds the tasks in _seq order" py '
import json,sys
ids=[int(l) for l in open(sys.argv[1]) if l.strip()]
rows=[json.loads(l) for l in open(sys.argv[2])]
assert ids == [r["task_id"] for r in rows], (ids[:5], [r["task_id"] for r in rows][:5])' "$T/q" "$sub"
: >"$T/bodies"
while read -r id; do rcli hget "tk:mix:task:$id" body >>"$T/bodies"; done <"$T/q"
check "Redis bodies are exactly the submitted.jsonl lines" cmp -s "$T/bodies" "$sub"

# ---- rr3 without --pending: pinned to nodes, file order ----
"$TRACEKIT" dispatch --run-id rr --inputs in --outputs outdir --nodes n1,n2,n3 --crf 30 2>"$T/rr.err"
check "rr3 exits 0" test $? -eq 0
check "warns that n1 has no registered worker" grep -q 'pinned to node n1, which has no registered worker' "$T/rr.err"
check "the original's summary line" grep -q 'enqueued 4 tasks: n1=2, n2=1, n3=1' "$T/rr.err"
check "rr3 bodies: file order, nodes n1 n2 n3 n1, CLI settings" py '
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert [r["input"] for r in rows] == ["in/a.mp4","in/b.mp4","in/c.mp4","in/d.mp4"]
assert [r["node"] for r in rows] == ["n1","n2","n3","n1"]
assert rows[0]["output"] == "outdir/a_1280x720_crf30.mp4" and rows[0]["crf"] == 30
assert list(rows[0].keys()) == ["task_id","trace_id","input","output","scale","preset","crf","node","ts_enqueue"]
' logs/rr/submitted.jsonl
"$TRACEKIT" dispatch --run-id rrp --inputs in --outputs outdir --pending --pulse-size 10 --pulse-spacing 0 -q
check "rr3 with --pending: file order (B18), no node" py '
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert [r["input"] for r in rows] == ["in/a.mp4","in/b.mp4","in/c.mp4","in/d.mp4"]
assert not any("node" in r for r in rows)' logs/rrp/submitted.jsonl

# ---- --tasks and --command ----
cat >"$T/tasks.jsonl" <<'EOF'
{"argv": ["sh", "-c", "exit 0"], "cpu_units": 2, "mem_mb": 64, "name": "first"}

{"argv": ["sleep", "0"], "node": "n2", "app": "nap"}
EOF
"$TRACEKIT" dispatch --run-id tj --tasks "$T/tasks.jsonl" --pending --pulse-spacing 0 -q
check "--tasks exits 0" test $? -eq 0
check "--tasks bodies: fields kept in order, default cpu_units, explicit node" py '
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2
assert list(rows[0].keys()) == ["task_id","trace_id","argv","cpu_units","mem_mb","name","ts_enqueue"]
assert rows[0]["argv"] == ["sh","-c","exit 0"] and rows[0]["cpu_units"] == 2
assert rows[1]["node"] == "n2" and rows[1]["cpu_units"] == 1 and rows[1]["app"] == "nap"' logs/tj/submitted.jsonl
check "--tasks: task hashes carry cpu and mem" test "$(rcli hget tk:tj:task:1 cpu):$(rcli hget tk:tj:task:1 mem)" = "2:64"

printf '%s\n' '{"argv": ["true"]}' '{"argv": ["true"]}' '{"argv": "true"}' >"$T/bad.jsonl"
"$TRACEKIT" dispatch --run-id tb --tasks "$T/bad.jsonl" 2>"$T/err"
check "bad JSONL line: exit 1" test $? -eq 1
check "... naming line 3 and what is wrong" grep -q 'bad.jsonl: line 3: "argv" must be a non-empty array of strings, got a string' "$T/err"
check "... and nothing was enqueued" test -z "$(rcli hget tk:tb:stats enqueued)"

"$TRACEKIT" dispatch --run-id cmd --command "sh -c 'echo \"a b\"; exit 0'" --total 3 \
  --cpu-units 2 --mem-mb 128 --app shell -q
check "--command exits 0" test $? -eq 0
check "--command: 3 generic tasks" py '
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3
for r in rows:
    assert r["argv"] == ["sh", "-c", "echo \"a b\"; exit 0"], r["argv"]
    assert (r["cpu_units"], r["mem_mb"], r["app"]) == (2, 128, "shell")
assert [r["task_id"] for r in rows] == [1, 2, 3]' logs/cmd/submitted.jsonl
check "--command: Redis counted 3 enqueued" test "$(rcli hget tk:cmd:stats enqueued)" = 3

# ---- duration-greedy: durations from --ffprobe, longest first to the least loaded ----
cat >"$T/ffprobe" <<'EOF2'
#!/bin/sh
for a; do f=$a; done
case "$f" in
  */a.mp4) echo 10.0 ;; */b.mp4) echo 30.0 ;; */c.mp4) echo 20 ;; */d.mp4) exit 1 ;;
esac
EOF2
chmod +x "$T/ffprobe"
"$TRACEKIT" dispatch --run-id gr --inputs in --outputs outdir --nodes n1,n2 \
  --policy lpt-duration --ffprobe "$T/ffprobe" 2>"$T/gr.err"
check "duration-greedy exits 0" test $? -eq 0
check "a failing ffprobe counts as 0 s, with a warning" grep -q 'cannot read the duration of in/d.mp4' "$T/gr.err"
check "greedy: b(30)->n1 c(20)->n2 a(10)->n2 d(0)->n1 (tie: first node)" py '
import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
assert [(r["input"], r["node"]) for r in rows] == [("in/b.mp4","n1"),("in/c.mp4","n2"),
    ("in/a.mp4","n2"),("in/d.mp4","n1")], [(r["input"], r["node"]) for r in rows]' logs/gr/submitted.jsonl
"$TRACEKIT" dispatch --run-id gr2 --inputs in --outputs outdir --policy duration-online --pending 2>"$T/err"
check "duration-online with --pending: exit 2" test $? -eq 2
