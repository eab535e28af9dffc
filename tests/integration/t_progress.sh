#!/usr/bin/env bash
# t_progress.sh -- the progress line of parse and export (progress.c): shown
# on a terminal (script(1) gives the commands a pty), rewritten in place with
# \r at most 4 times a second, cleared at the end; absent when stderr is not
# a terminal or with --quiet.  And --json: one JSON object on stdout with
# the counts, files written and warnings.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
command -v script >/dev/null || { skip "script(1) (util-linux) not installed"; exit 0; }

# A raw run: 2 tasks, 300 000 proc_metrics lines (enough to take a while
# under ASan, so the line is redrawn), a malformed line, host metrics.
python3 - logs/r1 <<'EOF'
import json, os, sys
d = sys.argv[1]; os.makedirs(d)
T0 = 1758580000000
json.dump({"run_id": "r1", "node": "n1", "stage": "cloud", "host": "h", "iface": "lo", "cpu_cores": 4,
           "mem_mb": 4000, "cpu_model": "x", "cpu_freq_mhz": 2400, "cpu_cores_online": 4, "clk_tck": 100,
           "boot_id": "b", "proc_interval_ms": 200}, open(f"{d}/node_meta.json", "w"))
with open(f"{d}/proc_metrics.jsonl", "w") as f:
    for i in range(300000):
        pid = 500 + i % 2
        f.write(json.dumps({"ts_ms": T0 + (i // 2) * 200, "pid": pid, "rss_kb": 1000, "utime": i // 2, "stime": 0,
                            "start_ticks": 11, "comm": "w", "cpu_ms": (i // 2) * 100.0, "ev": "tick"}) + "\n")
    f.write("{not json\n")
ev = [{"trace_id": f"T{k}", "ts_enqueue": T0, "ts_start": T0, "ts_end": T0 + 150000 * 200, "node": "n1",
       "stage": "cloud", "pid": 500 + k, "start_ticks": 11, "status": 0, "app": "a", "cpu_user_ms": 1.5e7,
       "cpu_sys_ms": 0, "max_rss_kb": 1000} for k in range(2)]
open(f"{d}/events.a.jsonl", "w").write("".join(json.dumps(e) + "\n" for e in ev))
open(f"{d}/host_metrics.jsonl", "w").write(json.dumps({"ts_ms": T0, "cpu_util": 50, "mem_total_mb": 100,
                                                       "mem_available_mb": 50}) + "\n")
EOF

# on_tty FILE CMD...: run CMD with a pty as stdin/stdout/stderr, all it writes in FILE.
on_tty() { local f=$1; shift; script -qfec "$(printf '%q ' "$@")" /dev/null >"$f" 2>&1 </dev/null; }

# ---- parse ----
start=$(date +%s.%N)
on_tty tty-parse.out "$TRACEKIT" parse --logs logs --run-id r1; rc=$?
secs=$(python3 -c "import time; print(time.time() - $start)")
check "parse on a terminal exits 0" test "$rc" = 0
check "parse on a terminal: a progress line with \\r naming the file and the lines read" \
  grep -qaE $'\rparse r1: proc_metrics.jsonl: [0-9]+ line\\(s\\) read' tty-parse.out
check "parse on a terminal: the line is cleared before the summary (\\r spaces \\r)" py '
import re
t = open("tty-parse.out", "rb").read().decode("utf-8", "replace")
m = re.search(r"\r +\r", t)
assert m, "no clear"
assert t.index("[parse] events:") > m.start(), "summary before the clear"
assert "\r" not in t[m.end():].replace("\r\n", "\n"), "drawn again after the clear"'
draws=$(grep -aoE $'\rparse r1: [a-z_.]+' tty-parse.out | wc -l)
echo "# parse on a pty: $draws draws in $(printf %.1f "$secs") s"
check "parse on a terminal: redrawn at most 4 times a second ($draws draws in $(printf %.1f "$secs") s)" \
  python3 -c "import sys; d, s = $draws, $secs; sys.exit(0 if 1 <= d <= 4 * s + 2 else 1)"
on_tty tty-quiet.out "$TRACEKIT" parse --logs logs --run-id r1 --quiet; rc=$?
check "parse --quiet on a terminal: no progress line at all" test "$rc" = 0 -a ! -s tty-quiet.out
"$TRACEKIT" parse --logs logs --run-id r1 >plain.out 2>plain.err; rc=$?
check "parse without a terminal: exit 0, no \\r anywhere" \
  bash -c 'test "$0" = 0 && ! grep -qa $'"'"'\r'"'"' plain.out plain.err' "$rc"
check "parse without a terminal: the usual text on stdout" grep -q "^\[parse\] audit: 2 task(s)" plain.out

"$TRACEKIT" parse --logs logs --run-id r1 --json >parse.json 2>parse.err; rc=$?
check "parse --json exits 0" test "$rc" = 0
check "parse --json: one JSON object with the counts, files and warnings" py '
import json, os
d = json.load(open("parse.json"))
assert d["command"] == "parse" and d["ok"] is True and d["run_id"] == "r1", d
(r,) = d["runs"]
assert r["ok"] and r["node"] == "n1" and r["tasks"] == 2 and r["events"] == 2 and r["event_files"] == 1, r
assert r["proc_lines"] == 300001 and r["proc_skipped"] == 1 and r["host_lines"] == 1, r
assert r["warnings"] == ["1 proc_metrics.jsonl line(s) skipped"], r["warnings"]
assert len(r["files"]) == 6 and all(os.path.exists(f) for f in r["files"]), r["files"]
assert r["violations"] == [] and "shipped" not in r'
check "parse --json: nothing else on stdout" test "$(wc -l <parse.json)" = 1
"$TRACEKIT" parse --logs logs --run-id nope --json >none.json 2>none.err; rc=$?
check "parse --json of a missing run: exit 1, the error on stderr, stdout empty" test "$rc" = 1 -a ! -s none.json

# ---- export ----
on_tty tty-export.out "$TRACEKIT" export opendc --input logs/r1 --output wl; rc=$?
check "export on a terminal exits 0" test "$rc" = 0
check "export on a terminal: a progress line with \\r (lines read or rows written)" \
  grep -qaE $'\rexport: (r1: (invocations|proc_metrics)|building|tasks.parquet|fragments.parquet)' tty-export.out
check "export on a terminal: cleared before the summary" py '
import re
t = open("tty-export.out", "rb").read().decode("utf-8", "replace")
m = re.search(r"\r +\r", t)
assert m and t.index("exported 2 tasks") > m.start()'
"$TRACEKIT" export opendc --input logs/r1 --output wl >plain.out 2>plain.err; rc=$?
check "export without a terminal: exit 0, no \\r" bash -c 'test "$0" = 0 && ! grep -qa $'"'"'\r'"'"' plain.out plain.err' "$rc"
on_tty tty-equiet.out "$TRACEKIT" export opendc --input logs/r1 --output wl --quiet; rc=$?
check "export --quiet on a terminal prints nothing" test "$rc" = 0 -a ! -s tty-equiet.out
"$TRACEKIT" export opendc --input logs/r1 --output wl --json >export.json 2>export.err; rc=$?
check "export --json exits 0" test "$rc" = 0
check "export --json: counts, files written, warnings" py '
import json, os
d = json.load(open("export.json"))
assert d["command"] == "export opendc" and d["ok"] is True, d
assert d["nodes"] == 1 and d["tasks"] == 2 and d["invocations"] == 2 and d["fragments"] >= 2, d
assert d["unsampled_tasks"] == 0 and d["upstream_compat"] is False and 0.99 < d["cpu_ratio"] < 1.01, d
assert [os.path.basename(f) for f in d["files"]] == ["tasks.parquet", "fragments.parquet", "topology.json", "experiment.json", "export_report.md"]
assert all(os.path.exists(f) for f in d["files"])
assert isinstance(d["warnings"], list) and isinstance(d["corrections"], int) and d["skipped_lines"] == 0, d'
check "export --json: nothing else on stdout" test "$(wc -l <export.json)" = 1
mkdir -p logs/empty/CTS && : >logs/empty/CTS/invocations.jsonl
echo '[{"node_id": "e", "cpu_cores": 1, "mem_mb": 1, "cpu_freq_mhz": 1000}]' >logs/empty/CTS/nodes.json
"$TRACEKIT" export opendc --input logs/empty --output wl2 --json >e.json 2>e.err; rc=$?
check "export --json with nothing to export: exit 1, error on stderr, stdout empty" test "$rc" = 1 -a ! -s e.json -a -s e.err

# ---- gather: the same line while it parses a node ----
rm -rf g && mkdir -p g && cp -r logs/r1 g/r1 && rm -rf g/r1/CTS g/r1/events.jsonl
on_tty tty-gather.out "$TRACEKIT" gather --run-id r1 --output gexp --from g/r1; rc=$?
check "gather on a terminal exits 0" test "$rc" = 0
check "gather on a terminal: parse's progress line while it parses the node" \
  grep -qaE $'\rparse [^:]+: proc_metrics.jsonl: [0-9]+ line\\(s\\) read' tty-gather.out
