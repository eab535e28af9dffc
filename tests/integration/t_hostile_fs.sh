#!/usr/bin/env bash
# t_hostile_fs.sh -- an attacker with write access to Redis or to a shared
# logs folder (issue #13): node names and manifests from Redis never write
# outside --output and nothing unverified is left there; a symlink planted
# at a temporary or log file name is never followed; `parse --ship` does not
# upload a symlink's target; a FIFO among the run's files does not hang
# `parse`; run folders are 0750 and their files 0640 unless the umask is
# stricter.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
cd "$T" || exit 1
export RUN_ID=H NODE_ID=n1 STAGE=cloud
unset TS_ENQUEUE CPUSET CPU_WEIGHT CPU_QUOTA PROC_PID_DIR TRACEKIT_REDIS_URL

# make_node DIR NODE: a small parsed-able run folder
make_node() {
  python3 - "$@" <<'PY'
import json, os, sys
d, node = sys.argv[1], sys.argv[2]
os.makedirs(d, exist_ok=True)
meta = {"run_id": "S", "node": node, "stage": "cloud", "host": "h-" + node, "iface": "lo",
        "cpu_cores": 2, "mem_mb": 1000, "cpu_model": "m", "cpu_freq_mhz": 2000, "clk_tck": 100,
        "boot_id": node}
open(f"{d}/node_meta.json", "w").write(json.dumps(meta))
T0 = 1758580000000
with open(f"{d}/proc_metrics.jsonl", "w") as f:
    for i in range(6):
        f.write(json.dumps({"ts_ms": T0 + 100 + i * 200, "pid": 4242, "rss_kb": 100, "utime": 0,
                            "stime": 0, "start_ticks": 777, "comm": "ffmpeg", "cpu_ms": 10 * i,
                            "mono_us": 1000000 + (100 + i * 200) * 1000, "threads": 1,
                            "ev": "tick"}) + "\n")
ev = {"trace_id": node + "-t", "ts_enqueue": T0 - 10, "ts_start": T0, "ts_end": T0 + 1200,
      "node": node, "stage": "cloud", "pid": 4242, "status": 0, "start_ticks": 777,
      "signal": None, "cpu_user_ms": 50, "cpu_sys_ms": 0, "max_rss_kb": 100, "app": "ffmpeg",
      "error": None}
open(f"{d}/events.ffmpeg.jsonl", "w").write(json.dumps(ev) + "\n")
PY
}
mode_of() { stat -c %a "$1"; }

# ---- a FIFO among the run's files: parse finishes, with a warning ----
make_node fifo/logs/S f1
mkfifo fifo/logs/S/events.x.jsonl
out=$(timeout 20 "$TRACEKIT" parse --logs fifo/logs --run-id S 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "parse with a FIFO named events.x.jsonl finishes (exit $rc, 124 = hung)" test "$rc" = 0
check "... warning that events.x.jsonl is not a regular file" \
  grep -q 'events.x.jsonl: not a regular file' <<<"$out"
check "... counted as unreadable in audit.json" py '
import json
a = json.load(open("fifo/logs/S/CTS/audit.json"))
fs = a["skipped_lines"]
assert any(f["file"] == "events.x.jsonl" and f["unreadable"] for f in fs), fs
'
rm -f fifo/logs/S/events.x.jsonl
mkfifo fifo/logs/S/node_meta.json.fifo
mv fifo/logs/S/node_meta.json fifo/logs/S/meta.saved
mv fifo/logs/S/node_meta.json.fifo fifo/logs/S/node_meta.json
out=$(timeout 20 "$TRACEKIT" parse --logs fifo/logs --run-id S 2>&1); rc=$?
check "a FIFO as node_meta.json does not hang parse either (exit $rc)" test "$rc" != 124

# ---- symlinks planted in a run folder ----
printf 'precious\n' >victim
# exec appends events.APP.jsonl: a link there must not be followed
mkdir -p logs/H
ln -s "$T/victim" logs/H/events.true.jsonl
"$TRACEKIT" exec -q -- true 2>exec.err; rc=$?
sed 's/^/# /' exec.err
check "exec: a symlink at events.true.jsonl does not get its target appended to" \
  test "$(cat victim)" = precious
# write_file_atomic's temporary name: parse writes RUN/events.jsonl through
# it; a link planted at the old predictable name X.tmp.PID is not followed
make_node sym/logs/S s1
bash -c 'ln -s "$1" "$2/events.jsonl.tmp.$$"; exec "$3" parse --logs "$4" --run-id S --quiet' \
  _ "$T/victim" sym/logs/S "$TRACEKIT" sym/logs 2>sym.err; rc=$?
sed 's/^/# /' sym.err
check "parse: a symlink at the temporary name does not get its target truncated" \
  test "$(cat victim)" = precious
check "... and events.jsonl is written (exit $rc)" test "$rc" = 0 -a -f sym/logs/S/events.jsonl -a ! -L sym/logs/S/events.jsonl

# ---- modes: 0750 folders, 0640 files, a stricter umask wins ----
rm -rf logs
(umask 022; RUN_ID=M "$TRACEKIT" exec -q -- true); rc=$?
check "umask 022: the run folder is 0750 ($(mode_of logs/M))" test "$(mode_of logs/M)" = 750
check "umask 022: events.true.jsonl is 0640 ($(mode_of logs/M/events.true.jsonl))" \
  test "$(mode_of logs/M/events.true.jsonl)" = 640
(umask 022; "$TRACEKIT" parse --logs logs --run-id M --quiet 2>/dev/null)
check "umask 022: CTS/ is 0750 and its files 0640" \
  test "$(mode_of logs/M/CTS)" = 750 -a "$(mode_of logs/M/CTS/audit.json)" = 640
(umask 077; RUN_ID=M7 "$TRACEKIT" exec -q -- true)
check "umask 077: the run folder is 0700 ($(mode_of logs/M7))" test "$(mode_of logs/M7)" = 700
check "umask 077: events.true.jsonl is 0600" test "$(mode_of logs/M7/events.true.jsonl)" = 600

# ---- Redis: hostile node names, manifests and chunks ----
rq_require_server() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    skip "redis-server not installed"; exit 0
  fi
  REDIS_PORT=$(redis_free_port)
  REDIS_PW=tk-$(od -An -tx8 -N8 /dev/urandom | tr -d ' \n')
}
rq_require_server
redis_start
unset RQ_URL
printf '%s\n' "$REDIS_PW" >pw
chmod 600 pw
URL="redis://127.0.0.1:$REDIS_PORT/0"

# parse --ship does not upload a symlink's target
printf 'SECRET-of-the-victim\n' >secret
make_node w1/logs/S good1
ln -s "$T/secret" w1/logs/S/events.leak.jsonl
out=$(NODE_ID=good1 "$TRACEKIT" parse --logs w1/logs --run-id S --ship --redis "$URL" \
  --redis-password-file pw 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "parse --ship with a planted symlink exits 0" test "$rc" = 0
expect_fail "parse --ship does not list the symlink in the manifest" \
  grep -q events.leak.jsonl <<<"$(rcli GET tk:S:ship:m:good1)"
leaked=$(for k in $(rcli --scan --pattern 'tk:S:ship:c:*'); do rcli GET "$k"; done | grep -c SECRET)
check "... nor its target's content in any chunk ($leaked)" test "$leaked" = 0

# forge NODE MANIFEST_NODE FILE_NAME CONTENT [SHA]: a node an attacker adds
# to run $RUN (default S)
forge() {
  local member=$1 mnode=$2 fname=$3 content=$4 sha=${5:-} run=${RUN:-S}
  local up="u$RANDOM"
  [ -n "$sha" ] || sha=$(printf '%s' "$content" | sha256sum | cut -d' ' -f1)
  printf '%s' "$content" | rcli -x SET "tk:$run:ship:c:$up:0:0" >/dev/null
  rcli SET "tk:$run:ship:m:$member" "$(python3 -c '
import json, sys
n, f, c, s, up = sys.argv[1:]
print(json.dumps({"version": 1, "node": n, "upload": up, "chunk_size": 524288, "shipped_ms": 0,
                  "files": [{"name": f, "size": len(c.encode()), "chunks": 1, "sha256": s}]}))
' "$mnode" "$fname" "$content" "$sha" "$up")" >/dev/null
  rcli SADD "tk:$run:ship:nodes" "$member" >/dev/null
}
mkdir -p abs
forge "../../x" "../../x" node_meta.json '{"node":"pwn1"}'
forge "$T/abs/path" "$T/abs/path" node_meta.json '{"node":"pwn2"}'
forge evil "../../y" node_meta.json '{"node":"pwn3"}'
forge liar liar node_meta.json '{"node":"pwn4","unverified":true}' \
  0000000000000000000000000000000000000000000000000000000000000000
forge "../../z" "../../z" node_meta.json '{"node":"pwn5","unverified":true}' \
  0000000000000000000000000000000000000000000000000000000000000000

mkdir -p out/a/b
touch marker
sleep 0.01
out=$(cd out/a/b && "$TRACEKIT" gather --run-id S --output exp --redis "$URL" \
  --redis-password-file "$T/pw" 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
outside=$(find "$T" -newer marker -not -path "$T/out/a/b/exp*" -not -path "$T/redis*" \
  -not -name marker | grep -v "^$T/out/a/b$" | sed "s|^$T/||" | tr '\n' ' ')
check "gather --redis writes nothing outside --output (found: ${outside:-nothing})" test -z "$outside"
check "... not at /abs/path" test ! -e abs/path
check "... not at ../../x, ../../y or ../../z of the staging folder" \
  test ! -e out/a/b/x -a ! -e out/a/b/y -a ! -e out/a/b/z
check "gather exits non-zero when a node was refused (exit $rc)" test "$rc" != 0
check "... naming the bad node '../../x'" grep -qF "'../../x'" <<<"$out"
check "... naming the bad node '$T/abs/path'" grep -qF "'$T/abs/path'" <<<"$out"
check "... naming the manifest's bad node '../../y'" grep -qF "'../../y'" <<<"$out"
check "... naming the node whose chunk fails its SHA-256" grep -qE 'node liar: node_meta.json: SHA-256 mismatch' <<<"$out"
check "... counting the refused nodes (5)" grep -q '5 node(s) from Redis refused' <<<"$out"
unverified=$(grep -rl -e unverified -e pwn out/a/b/exp 2>/dev/null | tr '\n' ' ')
check "nothing unverified is left in the destination (${unverified:-none})" test -z "$unverified"
check "no staging folder is left" test -z "$(ls -A out/a/b/exp | grep tmp)"
check "the good node is still gathered, byte-identical" \
  cmp -s w1/logs/S/node_meta.json out/a/b/exp/good1/node_meta.json

# an absolute node name alone (the first bad node above stopped 05f08b1
# before it reached this one)
RUN=A forge "$T/abs/path" "$T/abs/path" node_meta.json '{"node":"pwn6"}'
out=$("$TRACEKIT" gather --run-id A --output expA --redis "$URL" --redis-password-file pw 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "an absolute node name writes nothing at it (exit $rc)" test ! -e abs/path -a "$rc" != 0
check "... and says why, naming it" grep -qF "refusing node '$T/abs/path'" <<<"$out"
