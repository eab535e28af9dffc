#!/usr/bin/env bash
# tracekit proxy against hostile clients (issue #13): half heads that would
# hold every --max-conns slot (--header-timeout), idle keep-alive clients
# (--idle-timeout), a client flood under a small `ulimit -n` (no busy loop,
# a small log), requests an upstream would frame differently (a bare LF, CR
# or NUL in a field, Transfer-Encoding in HTTP/1.0: 400, recorded, never
# forwarded), a client that stops reading its response, and credentials in
# targets (never recorded).
source "$(dirname "$0")/lib.sh"
cd "$T"
H=$ROOT/tests/integration/helpers/hostile_http.py
hex() { printf '%b' "$1" | od -An -tx1 -v | tr -d ' \n'; }

python3 "$H" upstream up.port up.raw & up=$!
track_pid "$up"
for _ in $(seq 100); do [ -s up.port ] && break; sleep 0.1; done
UP=$(cat up.port)

# ---- framing and records: a proxy with the options 05f08b1 had
export RUN_ID=hx NODE_ID=n1
PP=$(free_port)
"$TRACEKIT" proxy --listen "127.0.0.1:$PP" --upstream "127.0.0.1:$UP" --upstream-pid "$up" 2>proxy.log & px=$!
track_pid "$px"
wait_port "$PP" || { not_ok "proxy did not start: $(cat proxy.log)"; exit 1; }
send() { python3 "$H" send "$PP" "$(hex "$1")"; }

got=$(send 'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n')
check "a plain request is served (got '$got')" test "$got" = "HTTP/1.1 200 OK"
n=0
for req in 'GET /bare-lf HTTP/1.1\r\nHost: x\r\nX-A: a\nContent-Length: 30\r\n\r\n' \
           'GET /bare-cr HTTP/1.1\r\nHost: x\r\nX-A: a\rContent-Length: 30\r\n\r\n' \
           'GET /nul HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n' \
           'POST /te-http10 HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
           'POST /te-twice HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n' \
           'POST /chunk-trailer-lf HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\n\nGET /smuggled HTTP/1.1\r\n\r\n'; do
  what=$(printf '%s' "$req" | sed 's/ HTTP.*//; s/.* //')
  got=$(send "$req")
  check "$what: 400 (got '$got')" test "$got" = "HTTP/1.1 400 Bad Request"
  n=$((n + 1))
done
for path in bare-lf bare-cr /nul te-http10 te-twice smuggled; do
  expect_fail "$path never reached the upstream" grep -aq "$path" up.raw
done

send 'GET http://user:s3cret@127.0.0.1/abs/path;jsessionid=SESSION1?token=T1 HTTP/1.1\r\nHost: x\r\n\r\n' >/dev/null
send 'GET /app;jsessionid=SESSION2/page;v=1?token=T2 HTTP/1.1\r\nHost: x\r\n\r\n' >/dev/null
sleep 0.5
kill -TERM "$px"; wait "$px"; rc=$?
check "proxy exits 0 on SIGTERM (got $rc)" test "$rc" = 0
EV=logs/hx/events.http.jsonl
check "every rejected request is recorded as a 400 with its error (6)" \
  python3 - "$EV" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
bad = [e for e in ev if e["status"] == 400]
assert len(bad) == 6 and all(e["error"] for e in bad), [(e["path"], e["status"], e["error"]) for e in ev]
PY
check "recorded paths carry no userinfo, ;params or query" \
  python3 - "$EV" <<'PY'
import json, sys
paths = [json.loads(l)["path"] for l in open(sys.argv[1])]
assert "/abs/path" in paths and "/app/page" in paths, paths
PY
for secret in s3cret SESSION1 SESSION2 T1 T2; do
  expect_fail "'$secret' is not in the records" grep -q "$secret" "$EV"
done

# ---- --log-query keeps the query and ;params, never the userinfo
export RUN_ID=hq
PQ=$(free_port)
"$TRACEKIT" proxy --listen "127.0.0.1:$PQ" --upstream "127.0.0.1:$UP" --upstream-pid "$up" --log-query 2>proxyq.log & pq=$!
track_pid "$pq"
wait_port "$PQ" || { not_ok "proxy --log-query did not start: $(cat proxyq.log)"; exit 1; }
python3 "$H" send "$PQ" "$(hex 'GET http://user:s3cret@h/a;jsessionid=S3?token=T3 HTTP/1.1\r\nHost: x\r\n\r\n')" >/dev/null
sleep 0.3
kill -TERM "$pq"; wait "$pq"
check "--log-query: path /a;jsessionid=S3?token=T3, no userinfo" \
  python3 -c "import json; p = [json.loads(l)['path'] for l in open('logs/hq/events.http.jsonl')]; assert p == ['/a;jsessionid=S3?token=T3'], p"

# ---- slow clients: --header-timeout and --idle-timeout
export RUN_ID=ht
PT=$(free_port)
"$TRACEKIT" proxy --listen "127.0.0.1:$PT" --upstream "127.0.0.1:$UP" --upstream-pid "$up" \
  --max-conns 20 --header-timeout 1 --idle-timeout 1.5 2>proxyt.log & pt=$!
track_pid "$pt"
if wait_port "$PT"; then
  got=$(python3 "$H" lockout "$PT" 20 1)
  check "20 half heads hold --max-conns 20; a normal client is served after --header-timeout 1: $got" \
    python3 -c "import json, sys; r = json.loads(sys.argv[1]); assert r['status'] == 'HTTP/1.1 200 OK' and 0.4 < r['seconds'] < 3.5" "$got"
  check "the half heads were answered 408" \
    python3 -c "import json, sys; assert json.loads(sys.argv[1])['half'] == ['HTTP/1.1 408 Request Timeout']" "$got"
  got=$(python3 "$H" idle "$PT" 4)
  check "an idle keep-alive client is closed after --idle-timeout 1.5 ($got)" \
    sh -c "case '$got' in 'closed after '[1-2].*) true;; *) false;; esac"
  python3 "$H" noread "$PT" 6 & nr=$!
  track_pid "$nr"
  sleep 4.5
  kill -TERM "$pt"; wait "$pt"
  wait "$nr"
  check "a client that stops reading a 32 MiB response is cut off after --idle-timeout" \
    python3 -c "import json; e = [json.loads(l) for l in open('logs/ht/events.http.jsonl')]; b = [x for x in e if x['path'] == '/big']; assert len(b) == 1 and b[0]['error'] == 'client did not read its response for --idle-timeout', b"
  check "the timed-out half heads are recorded as 408" \
    python3 -c "import json; e = [json.loads(l) for l in open('logs/ht/events.http.jsonl')]; assert sum(x['status'] == 408 for x in e) == 20, [x['status'] for x in e]"
else
  not_ok "proxy --header-timeout --idle-timeout did not start: $(cat proxyt.log)"
fi

# ---- a flood under a small open files limit: no busy loop, a small log
export RUN_ID=hf
PF=$(free_port)
(ulimit -n 40; exec "$TRACEKIT" proxy --listen "127.0.0.1:$PF" --upstream "127.0.0.1:$UP" \
  --upstream-pid "$up" 2>proxyf.log) & pf=$!
track_pid "$pf"
wait_port "$PF" || { not_ok "proxy under ulimit -n 40 did not start: $(cat proxyf.log)"; exit 1; }
cpu=$(python3 "$H" flood "$PF" "$pf" 100 3)
check "100 clients against ulimit -n 40: the proxy used ${cpu} s of CPU in 3 s (< 0.5)" \
  python3 -c "assert $cpu < 0.5"
size=$(stat -c %s proxyf.log)
check "... and wrote a small log ($size bytes < 4096)" test "$size" -lt 4096
check "the cap is said in a warning: $(grep -o 'max-conns.*' proxyf.log | head -1)" \
  grep -q 'max-conns 10000 capped to 12: the open files limit (ulimit -n) is 40' proxyf.log
got=$(python3 "$H" send "$PF" "$(hex 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n')")
check "after the flood a client is served (got '$got')" test "$got" = "HTTP/1.1 200 OK"
kill -TERM "$pf"; wait "$pf"
