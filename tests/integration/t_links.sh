#!/usr/bin/env bash
# tracekit links: usage errors; --serve/--peers on loopback (links.json
# written and merged, --json, an unreachable peer); parse copying links.json
# into CTS with interface rates and counting bad entries; the OpenDC export
# writing links.json beside topology.json and verify checking it; and, as
# root with iproute2, two network namespaces joined by a veth pair with
# `tc netem delay 20ms` on one side's egress: every round trip crosses the
# delay once, so the expected RTT (echo and TCP connect) is 20 ms, and the
# measured p50 must be within 10% of it.
source "$(dirname "$0")/lib.sh"

# ---- usage ----
expect_fail "no mode is a usage error" $TRACEKIT links
$TRACEKIT links >/dev/null 2>"$T/err"; check "exit 2 without a mode" test $? -eq 2
$TRACEKIT links --serve --peers a >/dev/null 2>&1; check "--serve with --peers: exit 2" test $? -eq 2
$TRACEKIT links --peers 'a:99999' >/dev/null 2>"$T/err"
check "bad peer: exit 2 naming it" bash -c "[ $? -eq 2 ] && grep -q 'a:99999' '$T/err'"
$TRACEKIT links --peers a --samples 0 >/dev/null 2>"$T/err"
check "--samples 0: exit 2 naming the value" bash -c "[ $? -eq 2 ] && grep -q \"got '0'\" '$T/err'"
$TRACEKIT links --peers a --bytes 16MB >/dev/null 2>"$T/err"
check "--bytes 16MB: exit 2" test $? -eq 2
check "--help lists the options" bash -c "$TRACEKIT links --help | grep -q -- '--peers LIST'"


# ---- loopback ----
cd "$T"
$TRACEKIT links --serve --listen 127.0.0.1:0 --node-id srv >"$T/srv.out" 2>"$T/srv.err" &
SRV=$!; track_pid $SRV
PORT=$(wait_listen "$T/srv.out") || { not_ok "server did not start: $(cat "$T/srv.err")"; exit 1; }
ok "server listening on 127.0.0.1:$PORT"

$TRACEKIT links --peers "127.0.0.1:$PORT" --samples 10 --bytes 4M --run-id r1 --node-id me --json \
  >"$T/out.json" 2>"$T/err"
check "measure loopback: exit 0" test $? -eq 0
check "links.json: one entry me -> srv with the fields" py "
import json
l = json.load(open('$T/logs/r1/links.json'))
assert len(l) == 1, l
e = l[0]
assert e['src'] == 'me' and e['dst'] == 'srv' and e['dst_addr'] == '127.0.0.1:$PORT', e
assert 0 < e['rtt_ms_p50'] <= e['rtt_ms_p99'] < 100, e
assert 0 < e['connect_ms_p50'] < 100 and e['bandwidth_mbps'] > 0, e
assert e['samples'] == 10 and e['iface'] == 'lo' and e['ts_ms'] > 1.6e12, e
"
check "--json prints the same entry" py "
import json
assert json.load(open('$T/out.json')) == json.load(open('$T/logs/r1/links.json'))"

$TRACEKIT links --peers "127.0.0.1:$PORT" --samples 3 --bytes 1M --run-id r1 --node-id other >/dev/null 2>&1
cp "$T/logs/r1/links.json" "$T/before.json"
$TRACEKIT links --peers "127.0.0.1:$PORT" --samples 5 --bytes 1M --run-id r1 --node-id me >/dev/null 2>&1
check "merge: a new src is added, the same src/dst replaced" py "
import json
b = json.load(open('$T/before.json')); a = json.load(open('$T/logs/r1/links.json'))
assert len(b) == 2 and len(a) == 2, (b, a)
assert [e['src'] for e in a] == ['other', 'me'], a
assert a[1]['samples'] == 5 and a[1]['ts_ms'] >= b[0]['ts_ms'], a
"

# a closed port: exit 1, the peer named, the file untouched
python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])" >"$T/freeport"
cp "$T/logs/r1/links.json" "$T/before.json"
$TRACEKIT links --peers "127.0.0.1:$(cat "$T/freeport")" --run-id r1 --node-id me >/dev/null 2>"$T/err"
check "unreachable peer: exit 1 naming it" bash -c "[ $? -eq 1 ] && grep -q '127.0.0.1:$(cat "$T/freeport")' '$T/err'"
check "unreachable peer: links.json unchanged" cmp -s "$T/before.json" "$T/logs/r1/links.json"

kill $SRV; wait $SRV
check "server stops on SIGTERM with status 0" test $? -eq 0

# ---- parse: CTS/links.json, interface rates, bad entries in the audit ----
R=$T/logs/r1
python3 - "$R" <<'EOF'
import json, sys
r = sys.argv[1]
json.dump({"run_id": "r1", "node": "me", "stage": "cloud", "cpu_cores": 2, "mem_mb": 4096,
           "cpu_model": "x", "cpu_freq_mhz": 2000, "clk_tck": 100}, open(f'{r}/node_meta.json', 'w'))
with open(f'{r}/host_metrics.jsonl', 'w') as f:
    for i, (tx, rx) in enumerate([(1000.0, 10.0), (3000.0, 30.0)]):
        f.write(json.dumps({"ts_ms": 1758580000000 + 1000 * i, "node": "me", "cpu_util": 1.0,
                            "net": {"lo": {"rx_bytes_ps": rx, "tx_bytes_ps": tx}}}) + "\n")
l = json.load(open(f'{r}/links.json'))
l.append({"src": "me", "dst": "x"})          # no numbers: invalid
json.dump(l, open(f'{r}/links.json', 'w'))
with open(f'{r}/events.app.jsonl', 'w') as f:
    f.write(json.dumps({"trace_id": "t1", "pid": 4242, "ts_enqueue": 1758580000000, "ts_start": 1758580000000,
                        "ts_end": 1758580001000, "status": 0}) + "\n")
with open(f'{r}/proc_metrics.jsonl', 'w') as f:
    for i in range(3):
        f.write(json.dumps({"ts_ms": 1758580000000 + 500 * i, "pid": 4242, "rss_kb": 1000, "utime": 10 * i,
                            "stime": 0, "start_ticks": 77}) + "\n")
EOF
$TRACEKIT parse --run-id r1 >"$T/parse.out" 2>&1
check "parse with links.json: exit 0" test $? -eq 0
check "CTS/links.json: the valid entries, lo rates for this node's links" py "
import json
l = json.load(open('$R/CTS/links.json'))
assert len(l) == 2, l
me = [e for e in l if e['src'] == 'me'][0]; other = [e for e in l if e['src'] == 'other'][0]
assert me['iface_tx_bytes_ps_mean'] == 2000 and me['iface_rx_bytes_ps_mean'] == 20, me
assert me['iface_samples'] == 2, me
assert 'iface_tx_bytes_ps_mean' not in other, other
"
check "audit counts the invalid links.json entry" py "
import json
a = json.load(open('$R/CTS/audit.json'))
f = [f for f in a['skipped_lines'] if f['file'] == 'links.json'][0]
assert f['lines'] == 3 and f['used'] == 2 and f['invalid'] == 1, f
"

# ---- export: links.json beside topology.json, verified ----
$TRACEKIT export opendc --input "$R" --output "$T/odc" >"$T/export.out" 2>&1
check "export opendc: exit 0" test $? -eq 0
check "export: links.json beside topology.json, topology.json without it" py "
import json
l = json.load(open('$T/odc/links.json')); t = json.load(open('$T/odc/topology.json'))
assert len(l) == 2 and set(t) == {'clusters'}, (l, t)
"
$TRACEKIT verify opendc --input "$T/odc" >"$T/verify.out" 2>&1
check "verify opendc passes and checks links" bash -c "[ $? -eq 0 ] && grep -q 'links' '$T/verify.out'"
echo '[{"src":"a"}]' >"$T/odc/links.json"
expect_fail "verify opendc fails on a bad links.json" $TRACEKIT verify opendc --input "$T/odc"

# ---- two namespaces, a shaped veth link ----
if [ "$(id -u)" != 0 ]; then
  skip "netns link test: needs root (ip netns, tc)"; exit 0
fi
if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
  skip "netns link test: iproute2 (ip, tc) is not installed (scripts/install-deps test)"; exit 0
fi
NA=tk-la-$$ NB=tk-lb-$$ VA=tkla$$ VB=tklb$$
netns_cleanup() {
  ip netns del "$NA" 2>/dev/null
  ip netns del "$NB" 2>/dev/null
}
trap 'cleanup; netns_cleanup' EXIT
if ! ip netns add "$NA" 2>"$T/ns.err" || ! ip netns add "$NB" 2>>"$T/ns.err"; then
  skip "netns link test: cannot create network namespaces here: $(head -1 "$T/ns.err")"; exit 0
fi
ip link add "$VA" type veth peer name "$VB" &&
  ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" &&
  ip -n "$NA" addr add 10.213.7.1/24 dev "$VA" && ip -n "$NB" addr add 10.213.7.2/24 dev "$VB" &&
  ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up &&
  ip -n "$NA" link set lo up && ip -n "$NB" link set lo up ||
  { not_ok "veth setup failed"; exit 1; }
ok "namespaces $NA/$NB joined by $VA/$VB"

ip netns exec "$NB" $TRACEKIT links --serve --listen 10.213.7.2:7420 --node-id nodeb >"$T/nsrv.out" 2>"$T/nsrv.err" &
NSRV=$!; track_pid $NSRV
wait_listen "$T/nsrv.out" >/dev/null || { not_ok "server in $NB did not start: $(cat "$T/nsrv.err")"; exit 1; }
# measure RUN_ID ARGS...: from namespace A to the server in B
measure() { local r=$1; shift; ip netns exec "$NA" $TRACEKIT links --peers 10.213.7.2 --run-id "$r" --node-id nodea "$@" >/dev/null 2>"$T/nerr.$r"; }

measure plain --samples 20 --bytes 8M
check "unshaped veth: exit 0" test $? -eq 0
check "unshaped veth: nodea -> nodeb via $VA, sub-5 ms RTT, bandwidth > 0" py "
import json
e, = json.load(open('$T/logs/plain/links.json'))
assert e['src'] == 'nodea' and e['dst'] == 'nodeb' and e['iface'] == '$VA', e
assert 0 < e['rtt_ms_p50'] < 5 and 0 < e['connect_ms_p50'] < 5 and e['bandwidth_mbps'] > 0, e
"

# Rate shaping (tbf): the bulk transfer must see the shaped rate.  tbf counts
# Ethernet frames, so TCP goodput is ~95% of it; accept 80-105%.
if ip netns exec "$NA" tc qdisc add dev "$VA" root tbf rate 40mbit burst 32kb latency 200ms 2>"$T/tc.err"; then
  measure tbf --samples 5 --bytes 4M --bulk-s 2
  check "tbf 40 Mbit/s: exit 0" test $? -eq 0
  check "tbf 40 Mbit/s: bandwidth within 80-105% of the rate" py "
import json
e, = json.load(open('$T/logs/tbf/links.json'))
assert 32 <= e['bandwidth_mbps'] <= 42, e
"
  ip netns exec "$NA" tc qdisc del dev "$VA" root
else
  skip "tbf rate shaping not available: $(head -1 "$T/tc.err")"
fi

# Delay shaping (netem): 20 ms on A's egress is crossed once per round trip,
# so echo and connect p50 must be within 10% of 20 ms.
if ip netns exec "$NA" tc qdisc add dev "$VA" root netem delay 20ms 2>"$T/tc.err"; then
  measure netem --samples 20 --bytes 8M
  check "netem 20 ms: exit 0" test $? -eq 0
  check "netem 20 ms: RTT and connect p50 within 10% of 20 ms, bandwidth > 0" py "
import json
e, = json.load(open('$T/logs/netem/links.json'))
assert 18.0 <= e['rtt_ms_p50'] <= 22.0, ('rtt', e)
assert 18.0 <= e['connect_ms_p50'] <= 22.0, ('connect', e)
assert e['rtt_ms_p99'] >= e['rtt_ms_p50'] and e['bandwidth_mbps'] > 0, e
"
else
  skip "netem delay test: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): $(head -1 "$T/tc.err")"
  # The same check with the delay made in user space: a relay in B holding
  # every chunk 10 ms each way, so a small echo's round trip gains 20 ms.
  # The relay's own cost is measured with a second relay holding nothing,
  # and the check is on the difference.  (Connect time is not delayed this
  # way: the relay accepts at once.)
  for d in 0 10; do
    ip netns exec "$NB" python3 "$ROOT/tests/integration/helpers/delay_relay.py" \
      10.213.7.2 $((7430 + d)) 10.213.7.2 7420 $d >"$T/relay$d.out" 2>"$T/relay$d.err" &
    track_pid $!
  done
  for i in $(seq 1 50); do grep -q listening "$T/relay0.out" && grep -q listening "$T/relay10.out" && break; sleep 0.1; done
  for d in 0 10; do
    ip netns exec "$NA" $TRACEKIT links --peers 10.213.7.2:$((7430 + d)) --run-id relay$d --node-id nodea \
      --samples 30 --bytes 1M >/dev/null 2>"$T/nerr.relay$d"
    check "relay holding $d ms each way: exit 0" test $? -eq 0
  done
  check "relay 2 x 10 ms: added RTT p50 within 10% of 20 ms" py "
import json
base, = json.load(open('$T/logs/relay0/links.json'))
e, = json.load(open('$T/logs/relay10/links.json'))
added = e['rtt_ms_p50'] - base['rtt_ms_p50']
print('relay overhead p50 %.3f ms, with 2 x 10 ms %.3f ms, added %.3f ms' % (base['rtt_ms_p50'], e['rtt_ms_p50'], added))
assert 18.0 <= added <= 22.0, (added, base, e)
assert e['rtt_ms_p99'] >= e['rtt_ms_p50'] and e['bandwidth_mbps'] > 0, e
"
fi
kill $NSRV; wait $NSRV
check "namespace server stops on SIGTERM" test $? -eq 0
