#!/usr/bin/env bash
# bench/proxy/run.sh -- the cost of tracekit proxy on loopback: the example
# service (build/examples/httpsvc) directly, through `tracekit proxy`, and
# through nginx as a plain reverse proxy with keep-alive upstream connections
# (one worker, like our single thread), all in one run.
#   closed loop: max requests/s with C connections (tracekit load --rate 0)
#   open loop:   p50/p99 latency at a fixed rate; "added" = minus direct
# Needs nginx (apt-get install nginx); skips it with a message when missing.
#   bench/proxy/run.sh [DURATION_S=5] [CONNECTIONS=16] [RATE=5000]
set -u
cd "$(dirname "$0")/../.."
D=${1:-5}; C=${2:-16}; R=${3:-5000}
make -s build/tracekit examples >/dev/null || exit 1
TK=$PWD/build/tracekit SVC=$PWD/build/examples/httpsvc
W=$(mktemp -d /tmp/tk-bench-proxy.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "not up: $1" >&2; return 1; }

SP=$(port); TP=$(port); NP=$(port)
"$SVC" --listen 127.0.0.1:$SP --bytes 256 & pids+=($!)
up http://127.0.0.1:$SP/work || exit 1
(cd "$W" && exec "$TK" proxy --quiet --listen 127.0.0.1:$TP --upstream 127.0.0.1:$SP --run-id bench) & pids+=($!)
up http://127.0.0.1:$TP/work || exit 1
NGINX=$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null)
if [ -n "$NGINX" ]; then
  mkdir -p "$W/ngx/logs"
  cat >"$W/ngx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $W/ngx/nginx.pid;
error_log $W/ngx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $W/ngx/cb; proxy_temp_path $W/ngx/pt;
  fastcgi_temp_path $W/ngx/ft; uwsgi_temp_path $W/ngx/ut; scgi_temp_path $W/ngx/st;
  upstream svc { server 127.0.0.1:$SP; keepalive 64; }
  server {
    listen 127.0.0.1:$NP;
    location / { proxy_pass http://svc; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
  "$NGINX" -p "$W/ngx" -c "$W/ngx/nginx.conf" 2>"$W/ngx/stderr" & pids+=($!)
  up http://127.0.0.1:$NP/work || { cat "$W/ngx/stderr"; NGINX=; }
else
  echo "nginx not installed (apt-get install nginx): comparing with direct only" >&2
fi

targets="direct:$SP tracekit:$TP"
[ -n "$NGINX" ] && targets="$targets nginx:$NP"
echo "# $(date -u +%FT%TZ) $(uname -n) nproc=$(nproc) kernel=$(uname -r) duration=${D}s connections=$C rate=$R"
echo "# load: $(uptime | sed 's/.*load average/load average/')"
for t in $targets; do
  name=${t%%:*}; p=${t#*:}
  "$TK" load --url "http://127.0.0.1:$p/work" --rate 0 --duration "$D" --connections "$C" --json >"$W/$name.closed.json"
  "$TK" load --url "http://127.0.0.1:$p/work" --rate "$R" --duration "$D" --connections "$C" --json >"$W/$name.open.json"
done
python3 - "$W" $targets <<'PY'
import json, sys
w = sys.argv[1]
names = [t.split(":")[0] for t in sys.argv[2:]]
res = {n: (json.load(open(f"{w}/{n}.closed.json")), json.load(open(f"{w}/{n}.open.json"))) for n in names}
d = res["direct"]
print(f"{'target':10} {'req/s':>9} {'vs direct':>9} {'p50 ms':>8} {'p99 ms':>8} {'added p50 us':>13} {'added p99 us':>13} {'errors':>6}")
for n in names:
    c, o = res[n]
    print(f"{n:10} {c['achieved_rate']:9.0f} {c['achieved_rate'] / d[0]['achieved_rate']:9.2f} {o['p50_ms']:8.3f} {o['p99_ms']:8.3f}"
          f" {1000 * (o['p50_ms'] - d[1]['p50_ms']):13.0f} {1000 * (o['p99_ms'] - d[1]['p99_ms']):13.0f} {c['errors'] + o['errors']:6}")
if "nginx" in res:
    t, g = res["tracekit"], res["nginx"]
    print(f"tracekit / nginx: throughput {t[0]['achieved_rate'] / g[0]['achieved_rate']:.2f}x, "
          f"added p50 {(t[1]['p50_ms'] - d[1]['p50_ms']) / max(g[1]['p50_ms'] - d[1]['p50_ms'], 1e-9):.2f}x")
PY
n=$(wc -l <"$W/logs/bench/events.http.jsonl")
echo "# tracekit wrote $n records"
