#!/usr/bin/env bash
# tracekit links --serve against hostile clients (issue #13): clients that
# connect and say nothing hold at most --max-conns slots, each for
# --idle-timeout, so a measuring client is served after that; a flood under
# a small `ulimit -n` costs no busy loop and no log flood.
source "$(dirname "$0")/lib.sh"
cd "$T"
H=$ROOT/tests/integration/helpers/hostile_http.py

# ---- --max-conns and --idle-timeout
"$TRACEKIT" links --serve --listen 127.0.0.1:0 --node-id srv --max-conns 4 --idle-timeout 3 \
  >srv.out 2>srv.err & srv=$!
track_pid "$srv"
if PORT=$(wait_listen srv.out); then
  python3 "$H" hold "$PORT" 4 6 "" >held & holder=$!
  track_pid "$holder"
  for _ in $(seq 50); do [ -s held ] && break; sleep 0.1; done   # all 4 connected
  sleep 0.1
  got=$(python3 "$H" hello "$PORT" 5)
  check "4 silent clients hold --max-conns 4; a client is answered after --idle-timeout 3: $got" \
    python3 -c "import json, sys; r = json.loads(sys.argv[1]); held = float(open('held').read().split()[1]); assert r['line'] == 'srv' and 2.5 < r['at'] - held < 6, (r, held)" "$got"
  check "the cap was said: $(grep -o '4 connections at once.*' srv.err | head -1)" grep -q '4 connections at once' srv.err
  wait "$holder"
  kill -TERM "$srv"; wait "$srv"; rc=$?
  check "the server exits 0 on SIGTERM (got $rc)" test "$rc" = 0
else
  not_ok "links --serve --max-conns --idle-timeout did not start: $(cat srv.err)"
fi

# ---- a flood under a small open files limit, with the defaults
(ulimit -n 30; exec "$TRACEKIT" links --serve --listen 127.0.0.1:0 --node-id srv2 >srv2.out 2>srv2.err) & srv2=$!
track_pid "$srv2"
PORT=$(wait_listen srv2.out) || { not_ok "links --serve under ulimit -n 30 did not start: $(cat srv2.err)"; exit 1; }
cpu=$(python3 "$H" flood "$PORT" "$srv2" 100 3 "")
check "100 silent clients against ulimit -n 30: the server used ${cpu} s of CPU in 3 s (< 0.5)" \
  python3 -c "assert $cpu < 0.5"
size=$(stat -c %s srv2.err)
check "... and wrote a small log ($size bytes < 4096)" test "$size" -lt 4096
check "the cap is said in a warning: $(grep -o 'max-conns.*' srv2.err | head -1)" \
  grep -q -- '--max-conns 128 capped to 14' srv2.err
got=$(python3 "$H" hello "$PORT" 5)
check "after the flood a client is answered: $got" \
  python3 -c "import json, sys; assert json.loads(sys.argv[1])['line'] == 'srv2'" "$got"
kill -TERM "$srv2"; wait "$srv2"
