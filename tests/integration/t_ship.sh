#!/usr/bin/env bash
# t_ship.sh -- `parse --ship` on two nodes and `gather --redis` on the
# controller, through a private password-protected redis-server: files come
# back byte-identical, a file larger than one chunk round-trips, re-shipping
# replaces the old upload, and the failures (wrong password, refused
# connection, nobody shipped) are clear and never show the password.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/rq_lib.sh"
rq_require
redis_start
cd "$T" || exit 1
unset RQ_URL
printf '%s\n' "$REDIS_PW" >pw
chmod 600 pw
URL="redis://127.0.0.1:$REDIS_PORT/0"

# make_node DIR NODE HOST CPU_PER_TICK PAD_BYTES (as in t_gather.sh)
make_node() {
  python3 - "$@" <<'PY'
import json, os, sys
d, node, host, per, pad = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
os.makedirs(d, exist_ok=True)
meta = {"run_id": "S", "node": node, "stage": "cloud", "host": host, "iface": "lo", "cpu_cores": 2,
        "mem_mb": 1000, "cpu_model": "m", "cpu_freq_mhz": 2000, "clk_tck": 100, "boot_id": host}
open(f"{d}/node_meta.json", "w").write(json.dumps(meta))
T0 = 1758580000000
n = 6 + pad // 200
with open(f"{d}/proc_metrics.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"ts_ms": T0 + 100 + i * 200, "pid": 4242, "rss_kb": 100, "utime": 0,
                            "stime": 0, "start_ticks": 777, "comm": "ffmpeg", "cpu_ms": per * i,
                            "mono_us": 1000000 + (100 + i * 200) * 1000, "threads": 1, "ev": "tick"}) + "\n")
ev = {"trace_id": node + "-t", "ts_enqueue": T0 - 10, "ts_start": T0, "ts_end": T0 + 200 * n, "node": node,
      "stage": "cloud", "pid": 4242, "status": 0, "start_ticks": 777, "signal": None,
      "cpu_user_ms": per * (n - 1), "cpu_sys_ms": 0, "max_rss_kb": 100, "app": "ffmpeg", "error": None}
open(f"{d}/events.ffmpeg.jsonl", "w").write(json.dumps(ev) + "\n")
PY
}
make_node w1/logs/S cloud1 h1 100 0
make_node w2/logs/S cloud2 h2 30 2000000  # CTS/proc_metrics.jsonl > 1 MiB: several chunks

out=$(NODE_ID=cloud1 "$TRACEKIT" parse --logs w1/logs --run-id S --ship --redis "$URL" --redis-password-file pw 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "parse --ship (node 1) exits 0" test "$rc" = 0
check "it says what was shipped" grep -qE "shipped node cloud1 of run S: [0-9]+ file\(s\), [0-9]+ byte\(s\)" <<<"$out"
out=$(TRACEKIT_REDIS_URL="redis://:$REDIS_PW@127.0.0.1:$REDIS_PORT/0" NODE_ID=cloud2 "$TRACEKIT" parse --logs w2/logs --run-id S --ship 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "parse --ship (node 2, URL from TRACEKIT_REDIS_URL) exits 0" test "$rc" = 0
expect_fail "the password is not printed" grep -qF -- "$REDIS_PW" <<<"$out"
big=$(stat -c %s w2/logs/S/CTS/proc_metrics.jsonl)
check "node 2's CTS/proc_metrics.jsonl is larger than one 512 KiB chunk ($big bytes)" test "$big" -gt 1048576
check "the big file is stored in several chunks" test "$(rcli --scan --pattern 'tk:S:ship:c:*' | wc -l)" -gt 12

start=$(date +%s%N)
out=$("$TRACEKIT" gather --run-id S --output exp --redis "$URL" --redis-password-file pw 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "$out" | sed 's/^/# /'
echo "# gather --redis of 2 nodes took ${ms} ms"
check "gather --redis exits 0" test "$rc" = 0
same_files() {  # NODE SRC: every shipped file is byte-identical
  local f n=0
  (cd "$2" && for f in node_meta.json events.*.jsonl CTS/*; do
     cmp -s "$f" "$T/exp/$1/$f" || { echo "# differs: $1/$f"; exit 1; }; n=$((n + 1))
   done; test "$n" -ge 7)
}
check "node 1's files are byte-identical (cmp)" same_files cloud1 w1/logs/S
check "node 2's files, the multi-chunk one too, are byte-identical" same_files cloud2 w2/logs/S
check "gather.json lists both nodes, via redis, with the URL redacted" py '
import json
g = json.load(open("exp/gather.json"))
assert g["run_id"] == "S" and [n["folder"] for n in g["nodes"]] == ["cloud1", "cloud2"], g
assert all(n["via"] == "redis" and n["parsed_here"] is False for n in g["nodes"]), g
assert all(n["source"].endswith(" node " + n["node_id"]) for n in g["nodes"]), g
'
expect_fail "gather printed no password" grep -qF -- "$REDIS_PW" exp/gather.json <<<"$out"
check "no staging folder is left" test -z "$(ls -A exp | grep tmp)"

# --from and --redis together
make_node w3/logs/S edge1 h3 10 0
"$TRACEKIT" gather --run-id S --output exp2 --from w3 --redis "$URL" --redis-password-file pw --quiet; rc=$?
check "--from and --redis combined: three nodes" py '
import json
g = json.load(open("exp2/gather.json"))
assert sorted((n["folder"], n["via"]) for n in g["nodes"]) == [("cloud1", "redis"), ("cloud2", "redis"), ("edge1", "folder")], g
'

# shipping again replaces the node's upload; the old chunks go away
chunks_before=$(rcli --scan --pattern 'tk:S:ship:c:*' | wc -l)
echo extra >>w1/logs/S/events.ffmpeg.jsonl
NODE_ID=cloud1 "$TRACEKIT" parse --logs w1/logs --run-id S --ship --redis "$URL" --redis-password-file pw --quiet; rc=$?
check "re-shipping exits 0" test "$rc" = 0
check "the old upload's chunks are deleted (same count: $chunks_before)" test "$(rcli --scan --pattern 'tk:S:ship:c:*' | wc -l)" = "$chunks_before"
"$TRACEKIT" gather --run-id S --output exp --redis "$URL" --redis-password-file pw --quiet; rc=$?
check "gather after re-shipping gets the new files" test "$rc" = 0 -a "$(tail -n1 exp/cloud1/events.ffmpeg.jsonl)" = extra

# a corrupted chunk: the error names the node and the file
key=$(rcli --scan --pattern 'tk:S:ship:c:*' | head -n1)
rcli APPEND "$key" x >/dev/null
"$TRACEKIT" gather --run-id S --output exp3 --redis "$URL" --redis-password-file pw --quiet 2>err.txt; rc=$?
sed 's/^/# /' err.txt
check "a corrupted chunk fails (exit 1) naming node and file" test "$rc" = 1 -a -n "$(grep -E 'node cloud[12]: .*(bytes|SHA-256)' err.txt)"

# wrong password: fast, clear, no password anywhere
start=$(date +%s%N)
out=$("$TRACEKIT" gather --run-id S --output exp4 --redis "redis://:Wr0ng-secret@127.0.0.1:$REDIS_PORT/0" 2>&1); rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "$out" | sed 's/^/# /'
check "gather with a wrong password fails (exit 1) fast (${ms} ms < 2000)" test "$rc" = 1 -a "$ms" -lt 2000
check "... saying the password is wrong" grep -q 'authentication failed: wrong password' <<<"$out"
expect_fail "... without either password" grep -qF -e Wr0ng-secret -e "$REDIS_PW" <<<"$out"
printf 'not-it\n' >badpw; chmod 600 badpw
out=$(NODE_ID=cloud1 "$TRACEKIT" parse --logs w1/logs --run-id S --ship --redis "$URL" --redis-password-file badpw 2>&1); rc=$?
check "parse --ship with a wrong password fails (exit 1)" test "$rc" = 1 -a -n "$(grep 'authentication failed' <<<"$out")"
expect_fail "... without the file's content" grep -q not-it <<<"$out"

port=$(redis_free_port)
out=$("$TRACEKIT" gather --run-id S --output exp5 --redis "redis://127.0.0.1:$port/0" 2>&1); rc=$?
check "nothing listening: connection refused (exit 1)" test "$rc" = 1 -a -n "$(grep 'connection refused' <<<"$out")"

out=$("$TRACEKIT" gather --run-id NOBODY --output exp6 --redis "$URL" --redis-password-file pw 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "a run nobody shipped fails (exit 1) with a clear message" test "$rc" = 1 -a -n "$(grep 'no node shipped run NOBODY' <<<"$out")"
"$TRACEKIT" parse --logs w1/logs --run-id S --redis "$URL" 2>err.txt; rc=$?
check "--redis without --ship is a usage error" test "$rc" = 2 -a -n "$(grep -- --ship err.txt)"
