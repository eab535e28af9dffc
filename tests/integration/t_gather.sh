#!/usr/bin/env bash
# t_gather.sh -- `tracekit gather`: two nodes whose tasks share a PID end up
# in one experiment folder, one sub-folder each, parsed separately; colliding
# node ids, the original's RUN_ID(cN) and cctf/ layouts.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

check "gather --help exits 0 with usage on stdout" bash -c '"$0" gather --help | grep -q "^usage: tracekit gather"' "$TRACEKIT"
"$TRACEKIT" gather --run-id R --from x 2>err.txt; rc=$?
check "gather without --output is a usage error" test "$rc" = 2 -a -n "$(grep -- --output err.txt)"
"$TRACEKIT" gather --run-id R --output e 2>err.txt; rc=$?
check "gather without --from is a usage error that mentions Redis shipping" test "$rc" = 2 -a -n "$(grep -i redis err.txt)"
"$TRACEKIT" gather --run-id R --output e --from nowhere 2>err.txt; rc=$?
check "a --from folder that does not exist fails (exit 1)" test "$rc" = 1 -a -n "$(grep nowhere err.txt)"

# Two workers, same run, same PID 4242 for their tasks, different CPU.
# make_node DIR NODE HOST CPU_PER_TICK OFFSET
make_node() {
  python3 - "$@" <<'EOF'
import json, os, sys
d, node, host, per, off = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
os.makedirs(d, exist_ok=True)
meta = {"run_id": "R", "node": node, "stage": "cloud", "host": host, "iface": "lo", "cpu_cores": 2,
        "mem_mb": 1000, "cpu_model": "m", "cpu_freq_mhz": 2000, "clk_tck": 100, "boot_id": host}
if off != "-":
    meta["clock_offset_ms"] = float(off)
open(f"{d}/node_meta.json", "w").write(json.dumps(meta))
T0 = 1758580000000
with open(f"{d}/proc_metrics.jsonl", "w") as f:
    for i in range(6):
        f.write(json.dumps({"ts_ms": T0 + 100 + i * 200, "pid": 4242, "rss_kb": 100, "utime": 0,
                            "stime": 0, "start_ticks": 777, "comm": "ffmpeg", "cpu_ms": per * i,
                            "mono_us": 1000000 + (100 + i * 200) * 1000, "threads": 1, "ev": "tick"}) + "\n")
ev = {"trace_id": node + "-t", "ts_enqueue": T0 - 10, "ts_start": T0, "ts_end": T0 + 1200, "node": node,
      "stage": "cloud", "pid": 4242, "status": 0, "start_ticks": 777, "signal": None,
      "cpu_user_ms": per * 5, "cpu_sys_ms": 0, "max_rss_kb": 100, "app": "ffmpeg", "error": None}
open(f"{d}/events.ffmpeg.jsonl", "w").write(json.dumps(ev) + "\n")
EOF
}
make_node w1/logs/R cloud1 h1 100 2.5
make_node w2/logs/R cloud2 h2 30 -1
mkdir -p w1/logs/R/pids && touch w1/logs/R/pids/4242

out=$("$TRACEKIT" gather --run-id R --output exp --from w1 w2 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "gather of two nodes exits 0" test "$rc" = 0
check "one sub-folder per node, named by node id" test -f exp/cloud1/node_meta.json -a -f exp/cloud2/node_meta.json
check "raw files are copied, sentinels are not" test -f exp/cloud1/proc_metrics.jsonl -a ! -e exp/cloud1/pids
check "nodes without CTS/ are parsed in place" test -f exp/cloud1/CTS/audit.json -a -f exp/cloud2/CTS/audit.json
check "the sources are untouched (no CTS written there)" test ! -e w1/logs/R/CTS
check "colliding PIDs stay apart: each node's samples and CPU are its own" py '
import json
for node, cpu in (("cloud1", 500), ("cloud2", 150)):
    rows = [json.loads(l) for l in open(f"exp/{node}/CTS/proc_metrics.jsonl")]
    assert len(rows) == 6 and sum(r["cpu_ms"] for r in rows) == cpu, (node, rows)
    inv = [json.loads(l) for l in open(f"exp/{node}/CTS/invocations.jsonl")]
    assert [i["trace_id"] for i in inv] == [node + "-t"] and inv[0]["node"] == node
    a = json.load(open(f"exp/{node}/CTS/audit.json"))
    t = a["tasks"][0]
    assert t["samples"] == 6 and t["cpu_rel_error"] == 0.0 and a["pid_reuse"] == [], (node, a)
    n = json.load(open(f"exp/{node}/CTS/nodes.json"))
    assert n[0]["node_id"] == node
'
check "gather.json: where each node came from and the clock offsets between nodes" py '
import json, os
g = json.load(open("exp/gather.json"))
assert g["run_id"] == "R" and [n["folder"] for n in g["nodes"]] == ["cloud1", "cloud2"]
assert g["nodes"][0]["source"] == os.path.realpath("w1/logs/R") and g["nodes"][0]["parsed_here"] is True
assert g["nodes"][0]["clock_offset_ms"] == 2.5 and g["nodes"][1]["clock_offset_ms"] == -1
assert g["clock_offset_spread_ms"] == 3.5
'
check "the console names the offset spread" grep -q "differ by up to 3.500 ms" <<<"$out"

# Workers of a Redis run measure their offset to the Redis clock into
# clock.jsonl (node_meta has none): gather.json carries what parse took.
make_node w3/logs/R cloud3 h3 10 -
make_node w4/logs/R cloud4 h4 10 -
echo '{"ts_ms": 1758579997000, "node": "cloud3", "worker": "cloud3:1", "ref": "redis", "offset_ms": -0.75, "rtt_ms": 0.04}' >w3/logs/R/clock.jsonl
echo '{"ts_ms": 1758579997000, "node": "cloud4", "worker": "cloud4:1", "ref": "redis", "offset_ms": 1.25, "rtt_ms": 0.05}' >w4/logs/R/clock.jsonl
"$TRACEKIT" gather --run-id R --output exp34 --from w3 w4 >/dev/null 2>&1
check "gather.json: offsets measured by the workers (clock.jsonl), and their spread" py '
import json
g = json.load(open("exp34/gather.json"))
assert [n["clock_offset_ms"] for n in g["nodes"]] == [-0.75, 1.25], g["nodes"]
assert g["clock_offset_spread_ms"] == 2, g'

# a node that already has CTS/ is copied as it is, not re-parsed
"$TRACEKIT" parse --logs w2/logs --run-id R --quiet
echo marker >w2/logs/R/CTS/marker.txt
"$TRACEKIT" gather --run-id R --output exp --from w1/logs/R --from w2/logs/R --quiet; rc=$?
check "gathering again replaces the node folders" test "$rc" = 0 -a -f exp/cloud2/CTS/marker.txt
check "no temporary folders are left in the experiment" test -z "$(ls -A exp | grep tmp)"
check "gather.json says which nodes were parsed here" py '
import json
g = json.load(open("exp/gather.json"))
assert [n["parsed_here"] for n in g["nodes"]] == [True, False], g
'

# the original's "vm0" everywhere: node ids collide
make_node v1/logs/R vm0 hostA 10 -
make_node v2/logs/R vm0 hostB 20 -
"$TRACEKIT" gather --run-id R --output expv --from v2 v1 --quiet
check "colliding node ids with different hosts: ID-HOST" test -d expv/vm0-hostA -a -d expv/vm0-hostB
make_node s1/R vm0 same 10 -
make_node s2/R vm0 same 20 -
"$TRACEKIT" gather --run-id R --output exps1 --from s1 s2 --quiet
"$TRACEKIT" gather --run-id R --output exps2 --from s2 s1 --quiet
check "same id and host: numbered in a fixed order, whatever the --from order" py '
import json
a = json.load(open("exps1/gather.json")); b = json.load(open("exps2/gather.json"))
fa = {n["source"]: n["folder"] for n in a["nodes"]}; fb = {n["source"]: n["folder"] for n in b["nodes"]}
assert fa == fb and sorted(fa.values()) == ["vm0-1", "vm0-2"], (fa, fb)
'

# the original's experiment folder: R(c0), R(c1) with legacy cctf/ and no raw files
mkdir -p old/"R(c0)"/cctf old/"R(c1)"/cctf
for c in 0 1; do
  printf '%s' "{\"run_id\": \"R\", \"node\": \"vm0\", \"stage\": \"cloud\", \"host\": \"cloud$c\", \"iface\": \"ens2\", \"cpu_cores\": 4, \"mem_mb\": 15997, \"cpu_model\": \"q\", \"cpu_freq_mhz\": 2399}" >old/"R(c$c)"/node_meta.json
  echo '{"trace_id": "x", "pid": 1, "ts_enqueue": 1, "ts_start": 2, "ts_end": 3}' >old/"R(c$c)"/cctf/invocations.jsonl
done
"$TRACEKIT" gather --run-id R --output expo --from old --quiet; rc=$?
check "the original's R(cN) folders are found and copied" test "$rc" = 0 -a -f expo/vm0-cloud0/cctf/invocations.jsonl -a -f expo/vm0-cloud1/cctf/invocations.jsonl
check "cctf-only nodes are kept as they are (nothing to re-parse)" test ! -e expo/vm0-cloud0/CTS

# parse --dir on an experiment parses every node folder
rm -rf exp/cloud1/CTS exp/cloud2/CTS
"$TRACEKIT" parse --dir exp --quiet; rc=$?
check "parse --dir EXP parses each node folder" test "$rc" = 0 -a -f exp/cloud1/CTS/audit_report.md -a -f exp/cloud2/CTS/audit_report.md
check "parse --dir keeps each node's own id" grep -q "^Node: cloud2  |  Stage: cloud$" exp/cloud2/CTS/audit_report.md

"$TRACEKIT" gather --run-id R --output w1/logs/R/exp --from w1 2>err.txt; rc=$?
check "an experiment folder inside a source is refused" test "$rc" = 1 -a -n "$(grep overlap err.txt)"
check "and the source is left as it was" test ! -e w1/logs/R/exp

# the controller's records (issue #18, item 7): a controller folder holding
# only ledger/placements/submitted is accepted, its records go to the top of
# the experiment folder, gather.json says where they came from
mkdir -p ctl/logs/R
for f in ledger placements submitted workload; do
  echo "{\"task_id\": \"$f-1\", \"run_id\": \"R\"}" >ctl/logs/R/$f.jsonl
done
echo 'dispatch log' >ctl/logs/R/dispatch.log
out=$("$TRACEKIT" gather --run-id R --output expc --from ctl w1 w2 2>&1); rc=$?
echo "$out" | sed 's/^/# /'
check "gather with the controller's folder exits 0" test "$rc" = 0
check "the controller's records are at the top of the experiment folder" \
  bash -c 'for f in ledger placements submitted workload; do cmp -s ctl/logs/R/$f.jsonl expc/$f.jsonl || exit 1; done'
check "the controller is not taken for a node" test ! -e expc/ctl -a ! -e expc/R -a -d expc/cloud1 -a -d expc/cloud2
check "gather says where the records came from" grep -q "ledger.jsonl <- $PWD/ctl/logs/R" <<<"$out"
check "gather.json names the controller's records" py '
import json, os
g = json.load(open("expc/gather.json"))
want = os.path.realpath("ctl/logs/R")
assert g["controller"] == {"ledger.jsonl": want, "placements.jsonl": want, "submitted.jsonl": want,
                           "workload.jsonl": want}, g
assert sorted(n["folder"] for n in g["nodes"]) == ["cloud1", "cloud2"], g
'
"$TRACEKIT" gather --run-id R --output expc2 --from ctl/logs/R w1 --quiet; rc=$?
check "the controller's run folder itself as --from" test "$rc" = 0 -a -f expc2/ledger.jsonl -a -d expc2/cloud1
"$TRACEKIT" gather --run-id R --output expc3 --from ctl 2>err.txt; rc=$?
check "only the controller: exit 1, saying the nodes are missing (not 'no run folder')" \
  bash -c '[ "$1" = 1 ] && grep -q "only the controller.s records were found for run R" err.txt && ! grep -q "no run folder" err.txt' _ "$rc"
# a node folder that also holds the records (tracekit local): copied with the node and at the top
cp ctl/logs/R/ledger.jsonl w2/logs/R/ledger.jsonl
"$TRACEKIT" gather --run-id R --output expc4 --from w2 --quiet; rc=$?
check "a node's folder with the records: they are at the top too" test "$rc" = 0 -a -f expc4/ledger.jsonl -a -f expc4/cloud2/ledger.jsonl
rm -f w2/logs/R/ledger.jsonl
