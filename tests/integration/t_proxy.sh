#!/usr/bin/env bash
# tracekit proxy end to end: the example service behind the proxy (ASan
# build), open-loop load, the collector on the service's PID (whitelisted by
# the proxy), then parse, export opendc and verify.  Every request is one
# record and one invocation with its status; traceparent is propagated; the
# proxy survives a client that leaves mid-request and an upstream that dies.
source "$(dirname "$0")/lib.sh"
cd "$T"
make -C "$ROOT" -s build/examples/httpsvc build/bench/parquet/pqcat >"$T/make.log" 2>&1 ||
  { not_ok "build httpsvc and pqcat: $(tail -3 "$T/make.log")"; exit 1; }
SVC=$ROOT/build/examples/httpsvc
PQCAT=$ROOT/build/bench/parquet/pqcat
# wait_http URL: until something answers (10 s at most)
wait_http() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }

export RUN_ID=px NODE_ID=n1
SP=$(free_port); PP=$(free_port)
"$TRACEKIT" collect start --interval-ms 100 --host-interval-ms 500 >/dev/null
cpid=$(python3 -c 'import json; print(json.load(open("logs/px/collector.json"))["pid"])')
track_pid "$cpid"
"$SVC" --listen "127.0.0.1:$SP" & svc=$!
track_pid "$svc"
wait_http "http://127.0.0.1:$SP/" || { not_ok "httpsvc did not start"; exit 1; }
"$TRACEKIT" proxy --listen "127.0.0.1:$PP" --upstream "127.0.0.1:$SP" 2>proxy.log & px=$!
track_pid "$px"
U=http://127.0.0.1:$PP
wait_http "$U/warmup" || { not_ok "proxy did not start: $(cat proxy.log)"; exit 1; }

check "the proxy whitelisted the service for the collector" test -f "logs/px/pids/$svc"

# traceparent: same trace id upstream, a new parent id (our span)
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
curl -s -D hdr1 -o /dev/null -H "traceparent: $TP" "$U/chunked?bytes=3000"
got=$(tr -d '\r' <hdr1 | sed -n 's/^X-Traceparent: //p')
check "traceparent reaches the service with the same trace id and a new parent id" \
  sh -c "case '$got' in 00-4bf92f3577b34da6a3ce929d0e0e4736-*-01) [ '$got' != '$TP' ];; *) false;; esac"
curl -s -D hdr2 -o /dev/null "$U/chunked?bytes=10"
got2=$(tr -d '\r' <hdr2 | sed -n 's/^X-Traceparent: //p')
check "a request without traceparent gets a new one upstream" \
  python3 -c "import re,sys; sys.exit(not re.fullmatch(r'00-[0-9a-f]{32}-[0-9a-f]{16}-00', '$got2'))"

# 404s, a chunked upload, HEAD
for i in 1 2 3 4 5; do curl -s -o /dev/null "$U/missing/$i"; done
head -c 100000 /dev/zero | tr '\0' 'z' >body
curl -s -D hdr3 -o /dev/null -H 'Transfer-Encoding: chunked' --data-binary @body "$U/chunked?bytes=10"
check "a chunked upload streams through whole (the service counted 100000 bytes)" \
  grep -q '^X-Body-Bytes: 100000' <(tr -d '\r' <hdr3)
curl -s -I -o /dev/null "$U/chunked?bytes=10"

# a client that leaves mid-request (head sent, 10 of 1000 body bytes)
python3 - "$PP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /abandoned HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
s.close()
PY

# open-loop load: ~3 s at 300 req/s, 1 ms of CPU each
"$TRACEKIT_RELEASE" load --url "$U/work?cpu_ms=1&bytes=512" --rate 300 --duration 3 --connections 4 --json >load.json
check "load: every request completed, none failed" \
  python3 -c "import json; r = json.load(open('load.json')); assert r['completed'] == r['sent'] == 900 and r['errors'] == 0 and r['status']['2xx'] == 900, r"
check "proxy still answers after the abandoned request" curl -sf -o /dev/null "$U/work?bytes=1"

# the upstream dies: 502, recorded, and the proxy keeps running
kill -9 "$svc"; wait "$svc" 2>/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/work?bytes=1")
check "a dead upstream answers 502 (got $code)" test "$code" = 502
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/work?bytes=1")
check "... and the proxy survives it (got $code)" test "$code" = 502
kill -TERM "$px"; wait "$px"; rc=$?
check "proxy exits 0 on SIGTERM (got $rc)" test "$rc" = 0
"$TRACEKIT" collect stop >/dev/null

check "records: one per request, statuses, timing order, trace ids, the service's pid" \
  python3 - "$svc" <<'PY'
import json, sys
svc = int(sys.argv[1])
ev = [json.loads(l) for l in open("logs/px/events.http.jsonl")]
load = json.load(open("load.json"))
by = lambda p: [e for e in ev if e["path"] == p]
work = [e for e in by("/work") if e["status"] == 200]
bad = []
if len(work) != load["completed"] + 1:
    bad.append(f"/work 200 records {len(work)}, load completed {load['completed']} + 1")
if [e["status"] for e in by("/chunked")] != [200, 200, 200, 200]:
    bad.append(f"/chunked statuses {[e['status'] for e in by('/chunked')]}")
miss = [e for e in ev if e["path"].startswith("/missing/")]
if len(miss) != 5 or any(e["status"] != 404 or e["error"] for e in miss):
    bad.append(f"404s: {miss}")
ab = by("/abandoned")
if len(ab) != 1 or ab[0]["status"] != 499 or not ab[0]["error"] or ab[0]["ts_enqueue"] is not None:
    bad.append(f"abandoned: {ab}")
dead = [e for e in by("/work") if e["status"] == 502]
if len(dead) != 2 or any(not e["error"] for e in dead):
    bad.append(f"502s: {dead}")
tp = [e for e in by("/chunked") if e["parent_id"]]
if len(tp) != 1 or tp[0]["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" or tp[0]["parent_id"] != "00f067aa0ba902b7":
    bad.append(f"traceparent record: {tp}")
if len({e["trace_id"] for e in ev}) != len(ev):
    bad.append("trace ids repeat")
heads = [e for e in by("/chunked") if e["method"] == "HEAD"]
if len(heads) != 1 or heads[0]["status"] != 200:
    bad.append(f"HEAD: {heads}")
up = [e for e in by("/chunked") if e["method"] == "POST"]
if len(up) != 1 or up[0]["bytes_in"] < 100000:
    bad.append(f"upload bytes_in: {up}")
for e in ev:
    ts = [e[k] for k in ("ts_enqueue", "ts_start", "ts_end") if e[k] is not None]
    if ts != sorted(ts) or e["ts_end"] is None:
        bad.append(f"time order: {e}")
    if e["status"] < 499 and None in ts:
        bad.append(f"served request without a time: {e}")
    if e["status"] not in (499, 502) and (e["pid"] != svc or not e["start_ticks"]):
        bad.append(f"pid {e['pid']} != {svc}")
    if e["kind"] != "http" or e["node"] != "n1":
        bad.append(f"kind/node: {e}")
print("\n".join(map(str, bad[:10])), file=sys.stderr)
sys.exit(1 if bad else 0)
PY

"$TRACEKIT" parse --run-id px >parse.out 2>&1
check "parse succeeds" test $? = 0
check "parse: one invocation per request, with status and kind; the service's samples are in the run" \
  python3 - "$svc" <<'PY'
import json, sys
svc = int(sys.argv[1])
ev = [json.loads(l) for l in open("logs/px/events.http.jsonl")]
inv = [json.loads(l) for l in open("logs/px/CTS/invocations.jsonl")]
bad = []
if len(inv) != len(ev):
    bad.append(f"{len(inv)} invocations for {len(ev)} records")
if sorted((i["trace_id"], i["status"]) for i in inv) != sorted((e["trace_id"], e["status"]) for e in ev):
    bad.append("trace ids / statuses differ")
if any(i["kind"] != "http" or i["method"] is None for i in inv):
    bad.append("kind/method missing")
samples = [json.loads(l) for l in open("logs/px/CTS/proc_metrics.jsonl")]
mine = [s for s in samples if s["pid"] == svc and s["dt_ms"]]
cpu = sum(s["cpu_ms"] for s in mine)
# 900 requests x 1 ms of CPU: the samples must have seen most of it
if len(mine) < 20 or cpu < 600:
    bad.append(f"service samples: {len(mine)}, cpu {cpu} ms")
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
python3 - <<'PY' >failed.want
import json
ev = [json.loads(l) for l in open("logs/px/events.http.jsonl")]
print(sum(1 for e in ev if (e["status"] or 0) >= 500 or e["error"]))
PY
check "audit: the failed requests are the 502s and the abandoned one, not the 404s ($(cat failed.want))" \
  python3 -c "import json; a = json.load(open('logs/px/CTS/audit.json')); n = len(a['failed_tasks']); assert n == $(cat failed.want), n"

"$TRACEKIT" export opendc --input logs/px --output odc >export.out 2>&1
check "export opendc succeeds" test $? = 0
"$TRACEKIT" verify opendc --input odc >verify.out 2>&1
check "verify opendc passes" test $? = 0
check "export: each request with a start is one task; CPU of the service's samples shared among them" \
  python3 - "$PQCAT" <<'PY'
import json, subprocess, sys
rows = lambda f: json.loads(subprocess.run([sys.argv[1], f], capture_output=True, check=True).stdout)["rows"]
tasks, frags = rows("odc/tasks.parquet"), rows("odc/fragments.parquet")
inv = [json.loads(l) for l in open("logs/px/CTS/invocations.jsonl")]
want = [i for i in inv if i["ts_start"] is not None]
bad = []
if len(tasks) != len(want):
    bad.append(f"{len(tasks)} tasks for {len(want)} requests with ts_start")
if sorted(t["name"] for t in tasks) != sorted(i["trace_id"] for i in want):
    bad.append("task names are not the requests' trace ids")
nodes = json.load(open("logs/px/CTS/nodes.json"))
mhz = nodes[0]["cpu_freq_mhz"]
cpu = sum(float(f["cpu_usage"]) * int(f["duration"]) for f in frags) / mhz
samples = [json.loads(l) for l in open("logs/px/CTS/proc_metrics.jsonl")]
# the exported CPU cannot exceed what the service's samples measured
seen = sum(s["cpu_ms"] or 0 for s in samples)
if not (0 < cpu <= seen * 1.001):
    bad.append(f"exported cpu {cpu:.1f} ms, sampled {seen:.1f} ms")
print("\n".join(bad), file=sys.stderr)
sys.exit(1 if bad else 0)
PY

check "proxy --help exits 0" sh -c "'$TRACEKIT' proxy --help | grep -q 'usage: tracekit proxy'"
"$TRACEKIT" proxy --listen 127.0.0.1:notaport --upstream 127.0.0.1:1 2>err; rc=$?
check "a bad --listen is a usage error naming it (rc $rc)" sh -c "[ $rc = 2 ] && grep -q notaport err"
"$TRACEKIT" load --url ftp://x --rate 1 --duration 1 2>err; rc=$?
check "load: a non-http URL is a usage error (rc $rc)" sh -c "[ $rc = 2 ] && grep -q 'ftp://x' err"
