#!/usr/bin/env bash
# t_report.sh -- `tracekit report` on runs the test writes itself (raw files
# -> parse -> report): well-formed HTML, the expected Gantt elements, names
# escaped, no external references, an experiment folder with two nodes, a
# dense synthetic run that must stay small, and (with Debian's chromium) a
# headless render with a screenshot and no console errors.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
OUT=${TEST_OUTPUT:-$T}

# ---- command line ----
check "report --help exits 0 with usage on stdout" bash -c '"$0" report --help | grep -q "^usage: tracekit report"' "$TRACEKIT"
out=$("$TRACEKIT" report 2>&1); rc=$?
check "without --input: usage error (exit 2)" test "$rc" = 2 -a -n "$(echo "$out" | grep -- "--input")"
out=$("$TRACEKIT" report --input "$T/nope" 2>&1); rc=$?
check "a missing input folder fails (exit 1) naming it" test "$rc" = 1 -a -n "$(echo "$out" | grep "'$T/nope'")"
out=$("$TRACEKIT" report --input "$T/nope" extra 2>&1); rc=$?
check "a stray operand is a usage error naming it" test "$rc" = 2 -a -n "$(echo "$out" | grep "'extra'")"
mkdir -p empty
out=$("$TRACEKIT" report --input empty 2>&1); rc=$?
check "a folder with no run in it fails (exit 1)" test "$rc" = 1

# ---- a small run in the raw format, parsed by tracekit ----
# node cloud1, 2 CPUs: T1 (ffmpeg, cpu 0, waits 400 ms), T2 (ffmpeg, cpu 1, fails),
# T3 (app "<x&y>", cpu 0, waits 0), T4 (no cpuset: a greedy lane, no samples).
mkrun() {   # mkrun DIR NODE
python3 - "$1" "$2" <<'EOF'
import json, sys
d, node = sys.argv[1], sys.argv[2]
import os; os.makedirs(d, exist_ok=True)
meta = {"run_id": "r1", "node": node, "stage": "cloud", "host": node + "-h", "iface": "lo",
        "cpu_cores": 2, "mem_mb": 4000, "cpu_model": "QEMU", "cpu_freq_mhz": 2400,
        "cpu_cores_online": 2, "clk_tck": 100, "boot_id": "b", "proc_interval_ms": 200}
open(f"{d}/node_meta.json", "w").write(json.dumps(meta))
T0 = 1758580000000
pm = []
def proc(pid, st, a, b, cores):
    cpu = 0.0
    for i, ts in enumerate(range(a + 100, b, 200)):
        pm.append(json.dumps({"ts_ms": T0 + ts, "pid": pid, "rss_kb": 1000, "utime": int(cpu // 10), "stime": 0,
                              "start_ticks": st, "comm": "w", "cpu_ms": cpu, "mono_us": 10**9 + ts * 1000,
                              "threads": 1, "ev": "tick"}))
        cpu += 200 * cores
    return cpu - 200 * cores   # the last sample's cumulative CPU
cpu = {}
cpu[501] = proc(501, 11, 500, 3000, 0.9)
cpu[502] = proc(502, 12, 0, 2000, 0.5)
cpu[503] = proc(503, 13, 3200, 5000, 1.0)
open(f"{d}/proc_metrics.jsonl", "w").write("\n".join(pm) + "\n")
def ev(tid, pid, st, enq, a, b, app, cpuset, status=0, sig=None):
    return json.dumps({"trace_id": tid, "span_id": None, "parent_id": None, "module_id": app, "instance_id": None,
        "ts_enqueue": T0 + enq, "ts_start": T0 + a, "ts_end": T0 + b, "node": node, "stage": "cloud",
        "method": "CLI", "path": app, "input": None, "output": None, "pid": pid, "cpuset": None,
        "bytes_in": 0, "bytes_out": 0, "status": status, "start_ticks": st, "signal": sig,
        "cpu_user_ms": cpu.get(pid, 0), "cpu_sys_ms": 0, "max_rss_kb": 1000, "argv": [app], "app": app, "cpu_units": 1,
        "cpu_binding": "exclusive" if cpuset else "none", "cpuset_applied": cpuset, "cpu_weight_applied": None,
        "cpu_quota_applied": None, "cgroup": None, "attempt": 1, "error": None})
open(f"{d}/events.ffmpeg.jsonl", "w").write("\n".join([
    ev("T1", 501, 11, 100, 500, 3000, "ffmpeg", "0"),
    ev("T2", 502, 12, 0, 0, 2000, "ffmpeg", "1", status=137, sig=9)]) + "\n")
open(f"{d}/events.x.jsonl", "w").write("\n".join([
    ev("T3<script>", 503, 13, 3200, 3200, 5000, "<x&y>", "0"),
    ev("T4", 504, 14, 3000, 3500, 4500, "other", None)]) + "\n")
hm = []
for i, ts in enumerate(range(1000, 5001, 1000)):
    hm.append(json.dumps({"ts_ms": T0 + ts, "mono_us": 10**9 + ts * 1000, "node": node, "dt_ms": 1000,
        "cpu_user": 0.5, "cpu_idle": 0.4, "cpu_iowait": 0.0, "cpu_util": 60.0 - i,
        "mem_total_mb": 4000, "mem_available_mb": 3000, "mem_used_mb": 1000}))
open(f"{d}/host_metrics.jsonl", "w").write("\n".join(hm) + "\n")
EOF
}
mkrun logs/r1 cloud1
"$TRACEKIT" parse --logs logs --run-id r1 --quiet; rc=$?
check "parse of the fixture exits 0" test "$rc" = 0
out=$("$TRACEKIT" report --input logs/r1 2>&1); rc=$?
check "report exits 0 and says where it wrote" test "$rc" = 0 -a -n "$(echo "$out" | grep "wrote logs/r1/report.html")"
H=logs/r1/report.html
check "the report is written by default into the run folder" test -s "$H"
cp "$H" "$OUT/report-small.html" 2>/dev/null

# Strict enough: every non-void element closed in order, no parser complaint.
cat >wellformed.py <<'EOF'
import sys
from html.parser import HTMLParser
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr", "area", "base", "embed", "param", "track"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True); self.stack = []; self.errors = []; self.seen = {}
    def handle_starttag(self, tag, attrs):
        self.seen[tag] = self.seen.get(tag, 0) + 1
        if tag not in VOID: self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.seen[tag] = self.seen.get(tag, 0) + 1
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'} at {self.getpos()}")
        else: self.stack.pop()
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read()); p.close()
assert not p.errors, p.errors[:5]
assert not p.stack, p.stack
for t in ("html", "head", "body", "style", "svg", "table", "select", "script"):
    assert p.seen.get(t), t
EOF
check "the HTML parses with every element closed in order" python3 wellformed.py "$H"
check "no http:// or https:// reference except the SVG namespace" \
  bash -c '! grep -oE "https?://[^\" ]*" "$0" | grep -vx "http://www.w3.org/2000/svg" | grep -q .' "$H"
check "no external resources (src=, href=, @import, url())" bash -c '! grep -qE "(src|href)=|@import|url\(" "$0"' "$H"

cat >gantt.py <<'EOF'
import re, sys
html = open(sys.argv[1]).read()
svgs = re.findall(r'<svg class="gantt".*?</svg>', html, re.S)
want_run, want_wait, want_fail, mode = [int(x) for x in sys.argv[2:5]] + [sys.argv[5]]
g = "".join(svgs)
# waits are one strip per node (how many wait), never bars in the CPU lanes
assert not re.findall(r'<rect class="w"', g), "wait bars in the lanes"
run = len(re.findall(r'<rect class="r c\d+', g)); wait = sum(int(x) for x in re.findall(r'data-waiting="(\d+)"', g))
fail = len(re.findall(r'<rect class="r c\d+ f"', g))
assert (run, wait, fail) == (want_run, want_wait, want_fail), (run, wait, fail)
assert all(f'data-mode="{mode}"' in s for s in svgs), mode
EOF
check "Gantt: 4 run bars, 2 waiting tasks in the strip above the lanes (T2 and T3 did not wait), 1 failed" python3 gantt.py "$H" 4 2 1 exact
check "Gantt: lanes cpu 0, cpu 1 and one greedy lane" py '
import re
g = re.search(r"<svg class=\"gantt\".*?</svg>", open("'"$H"'").read(), re.S).group(0)
assert re.findall(r">(cpu \d+|lane \d+)</text>", g) == ["cpu 0", "cpu 1", "lane 0"], re.findall(r">(cpu \d+|lane \d+)</text>", g)'
check "names are escaped: no raw <x&y> or <script> from the data" py '
h = open("'"$H"'").read()
assert "<x&y>" not in h and "T3<script>" not in h
assert "&lt;x&amp;y&gt;" in h and "T3&lt;script&gt;" in h
assert h.count("<script>") == 1'
check "summary: task counts, makespan, per-app rows" py '
import re
h = open("'"$H"'").read()
assert "4 task(s): 3 ok, 1 failed" in h, "counts"
assert "Makespan (first enqueue to last end): <b>5.00 s</b>" in h, "makespan"
row = re.search(r"ffmpeg</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>([^<]*)</td>", h)
assert row and row.groups() == ("2", "1", "1", "200 ms"), row and row.groups()'
check "utilisation: host CPU, memory and sampled-process lines for the node" py '
import re
h = open("'"$H"'").read()
u = re.search(r"<svg class=\"util\".*?</svg>", h, re.S).group(0)
assert u.count("<polyline class=\"hc\"") == 1 and u.count("<polyline class=\"hm\"") == 1
assert u.count("<polygon class=\"ps\"") == 1
pts = re.search(r"class=\"hc\" points=\"([^\"]*)\"", u).group(1).split()
assert len(pts) == 5, pts'
check "task curves: a selector and one group per sampled task (3 of 4)" py '
import re
h = open("'"$H"'").read()
assert len(re.findall(r"<option value=", h)) == 3
assert len(re.findall(r"<g class=\"tc\"", h)) == 3
assert len(re.findall(r"<g class=\"tc\" id=\"tc-\d+\" style=\"display:none\"", h)) == 2'
check "audit figures: unsampled and failed tasks listed" py '
h = open("'"$H"'").read()
assert "Tasks without samples (1): T4" in h and "Failed tasks (1): T2 (signal 9)" in h'
out=$("$TRACEKIT" report --input logs/r1 --output "$T/custom.html" --quiet 2>&1); rc=$?
check "--output names the file; --quiet prints nothing" test "$rc" = 0 -a -z "$out" -a -s "$T/custom.html"

# ---- an experiment folder: two nodes ----
mkrun raw2/logs/r1 cloud2
"$TRACEKIT" gather --run-id r1 --output exp --from logs/r1 --from raw2/logs/r1 --quiet; rc=$?
check "gather of two nodes exits 0" test "$rc" = 0
"$TRACEKIT" report --input exp --quiet; rc=$?
check "report of the experiment folder exits 0" test "$rc" = 0
check "experiment: one Gantt and one utilisation chart per node, 8 run bars, 4 waits, 2 failed" bash -c \
  'python3 gantt.py exp/report.html 8 4 2 exact && test "$(grep -o "<svg class=\"util\"" exp/report.html | wc -l)" = 2 && grep -q "data-node=\"cloud2\"" exp/report.html' 
check "experiment: the HTML parses" python3 wellformed.py exp/report.html

# ---- the experiment whole (#18 item 8): the controller's records, #14's audit keys ----
mkdir -p ctl/logs/r1
python3 - ctl/logs/r1 <<'EOF'
import json, sys
d = sys.argv[1]; T0 = 1758580000000
prof = {"T1": "medium480p", "T2": "fast1080p", "T3<script>": "hevc1080p", "T4": "light1c"}
with open(f"{d}/submitted.jsonl", "w") as f:
    for i, (tid, p) in enumerate(prof.items()):
        f.write(json.dumps({"task_id": i + 1, "trace_id": tid, "profile": p, "cpu_units": 1 + (p == "hevc1080p"),
                            "ts_enqueue": T0 + (0 if i < 2 else 3000 + i)}) + "\n")
with open(f"{d}/placements.jsonl", "w") as f:
    for i in range(4):
        f.write(json.dumps({"ts_ms": T0 + i, "task_id": i + 1, "node": "cloud1", "policy": "Mem"}) + "\n")
with open(f"{d}/ledger.jsonl", "w") as f:
    for i in range(4):
        f.write(json.dumps({"task_id": i + 1, "status": "failed" if i == 1 else "done", "attempt": 1,
                            "node": "cloud1", "worker": "cloud1:42"}) + "\n")
EOF
"$TRACEKIT" gather --run-id r1 --output exp2 --from logs/r1 raw2/logs/r1 ctl --quiet; rc=$?
check "gather with the controller's folder exits 0" test "$rc" = 0 -a -f exp2/ledger.jsonl
# the audit keys #14 adds (hand-written here: the parse of another branch writes them)
python3 - <<'EOF'
import json
for node, x, src in (("cloud1", 62.5, "taskstats"), ("cloud2", 97.0, "proc")):
    p = f"exp2/{node}/CTS/audit.json"; a = json.load(open(p))
    a["host_cpu"] = {"host_samples": 5, "window_ms": 4000, "host_busy_cpu_ms": 4800, "traced_cpu_ms": 3000,
                     "explained_pct": x, "warning": x < 80}
    a["run_delay"] = {"tasks_with_delay": 1, "wait_pct_p50": 5.0, "wait_pct_max": 40.0, "worst_trace_id": "T1"}
    a["exits"] = {"exit_source": src, "exit_records": 3, "processes_only_in_exit_record": 0}
    for t in a["tasks"]:
        t["wait_pct"] = 40.0 if t["trace_id"] == "T1" else (None if t["trace_id"] == "T4" else 5.0)
        t["run_delay_ms"] = 1200 if t["trace_id"] == "T1" else None
    json.dump(a, open(p, "w"))
EOF
"$TRACEKIT" report --input exp2 --quiet; rc=$?
H2=exp2/report.html
check "report of the whole experiment exits 0 and parses" bash -c '[ "$1" = 0 ] && python3 wellformed.py "$2"' _ "$rc" "$H2"
cp "$H2" "$OUT/report-experiment.html" 2>/dev/null
check "setup: the mix, policy, pacing, outcome and binding from the controller's records" py '
import re
h = open("'"$H2"'").read()
s = h[h.index("<h2>Experiment setup</h2>"):h.index("<h2>Audit</h2>")]
for want in ("medium480p \u00d71 (25%)", "light1c \u00d71 (25%)", "Mem \u00d74 (100%)", "done \u00d73 (75%), failed \u00d71 (25%); 0 retried",
             "in 2 burst(s)", "1 \u00d73 (75%), 2 \u00d71 (25%)", "exclusive &times;", "none &times;", "cloud1: 2 on 2 core(s)",
             "seed</th><td>not recorded"):
    assert want in s, (want, re.sub("<[^>]+>", " ", s))'
check "tasks are named by their profile, not the program" py '
import re
h = open("'"$H2"'").read()
g = "".join(re.findall(r"<svg class=\"gantt\".*?</svg>", h, re.S))
assert "T1 &middot; medium480p" in g and "T4 &middot; light1c" in g and "&middot; ffmpeg" not in g
row = re.search(r"medium480p</td><td>(\d+)</td>", h)
assert row and row.group(1) == "2", "per-profile summary row"'
check "wall-clock times: the run from .. to, and 0 of each chart" py '
h = open("'"$H2"'").read()
assert "<p>From 2025-09-22 22:26:40.000 UTC to 2025-09-22 22:26:45.000 UTC</p>" in h
assert h.count("0 = 2025-09-22 22:26:40.000 UTC") == 3, h.count("0 = 2025")'
check "every task's CPU at once: a heat map of the 8 tasks, no selector needed" py '
import re
h = open("'"$H2"'").read()
m = re.search(r"<svg class=\"heat\" data-rows=\"(\d+)\".*?</svg>", h, re.S)
assert m and m.group(1) == "8", m and m.group(1)
assert len(re.findall(r"<rect class=\"hm0\"", m.group(0))) == 8
assert len(re.findall(r"<rect class=\"hx\" fill=\"#[0-9a-f]{6}\"", m.group(0))) >= 6
assert "8 task(s), 6 with process samples" in h'
check "audit: host CPU explained with the warning below 80%, only for that node" py '
import re
h = open("'"$H2"'").read()
assert "WARNING cloud1: traced CPU explains only 62.5% of the host" in h
assert "WARNING cloud2" not in h
assert re.search(r"cloud1</td>(<td>[^<]*</td>){11}<td>62.5%</td><td>5.0%</td><td>40.0%</td><td>taskstats</td>", h)'
check "audit: per-task wait for a CPU and the exit readings" py '
h = open("'"$H2"'").read()
assert "T1 waited for a CPU 40.0% of the time it was runnable (1.20 s)" in h
assert "cloud2: exit readings from /proc (final readings race" in h
assert "cloud1: exit readings from /proc" not in h'

# ---- dense: 100 000 tasks, binned, and small ----
python3 - dense/CTS <<'EOF'
import json, os, random, sys
d = sys.argv[1]; os.makedirs(d)
random.seed(7)
T0 = 1758580000000
json.dump([{"node_id": "big", "stage": "cloud", "cpu_cores": 16}], open(f"{d}/nodes.json", "w"))
with open(f"{d}/invocations.jsonl", "w") as f:
    free = [0] * 16
    for i in range(100000):
        c = min(range(16), key=lambda k: free[k])
        a = free[c] + random.randint(0, 20); b = a + random.randint(5, 300)
        free[c] = b
        f.write(json.dumps({"trace_id": f"t{i}", "pid": 10000 + i, "ts_enqueue": T0 + a - 50, "ts_start": T0 + a,
            "ts_end": T0 + b, "status": 0 if i % 97 else 1, "signal": None, "start_ticks": i, "cpuset": str(c),
            "app": "app%d" % (i % 12), "error": None}) + "\n")
with open(f"{d}/proc_metrics.jsonl", "w") as f:
    for i in range(0, 100000, 50):
        f.write(json.dumps({"ts_ms": T0 + i * 3, "pid": 10000 + i, "dt_ms": 100, "cpu_ms": 80, "rss_kb": 1,
                            "start_ticks": i}) + "\n")
with open(f"{d}/host_metrics.jsonl", "w") as f:
    for s in range(0, 2000000, 1000):
        f.write(json.dumps({"ts_ms": T0 + s, "cpu_util": 50 + (s // 1000) % 40, "mem_total_mb": 100,
                            "mem_available_mb": 40}) + "\n")
EOF
start=$(date +%s.%N)
"$TRACEKIT" report --input dense --quiet; rc=$?
secs=$(python3 -c "import time; print(round(time.time() - $start, 1))")
size=$(stat -c %s dense/report.html 2>/dev/null || echo 0)
echo "# dense: 100000 tasks on 16 CPUs, report $size bytes in ${secs}s (ASan build)"
check "dense: report of 100 000 tasks exits 0" test "$rc" = 0
check "dense: the page stays under 1.5 MB" test "$size" -lt 1500000
check "dense: the Gantt is binned, failed columns marked, HTML parses" bash -c \
  'grep -q "data-mode=\"binned\"" "$0" && grep -q "<rect class=\"fm\"" "$0" && python3 wellformed.py "$0"' dense/report.html
check "dense: 50 of the sampled tasks offered and said" grep -q "The first 50 of 2000 sampled tasks are offered" dense/report.html

# ---- absurd values: never fatal, never undefined behaviour (ASan/UBSan build) ----
mkdir -p odd/CTS
python3 - odd/CTS <<'EOF'
import json, sys
d = sys.argv[1]
big = 9_000_000_000_000_000_000
rows = [{"trace_id": "huge", "pid": 1, "ts_enqueue": -big, "ts_start": -big, "ts_end": big, "cpuset": "0-99999"},
        {"trace_id": "inverted", "pid": 2, "ts_enqueue": 10, "ts_start": 5, "ts_end": 1, "cpuset": "a-b"},
        {"trace_id": None, "pid": "x", "ts_start": 3.5e300, "ts_end": None, "status": 1, "cpuset": 7},
        {"trace_id": "t\u0001<b>", "pid": 3, "ts_enqueue": 0, "ts_start": 0, "ts_end": 0, "error": "no exec"},
        # times beyond 2200 are no times (issue #13): this one keeps a curve on the page
        {"trace_id": "sane", "pid": 4, "ts_enqueue": 1000, "ts_start": 1000, "ts_end": 3000}]
open(f"{d}/invocations.jsonl", "w").write("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
open(f"{d}/proc_metrics.jsonl", "w").write("\n".join(json.dumps(r) for r in [
    {"ts_ms": big, "pid": 1, "dt_ms": 1e300, "cpu_ms": 1e300, "start_ticks": None},
    {"ts_ms": -big, "pid": 1, "dt_ms": 5, "cpu_ms": -3},
    {"ts_ms": 0, "pid": 3, "dt_ms": 0, "cpu_ms": 0},
    {"ts_ms": 2000, "pid": 4, "dt_ms": 1000, "cpu_ms": 500}]) + "\n")
open(f"{d}/host_metrics.jsonl", "w").write(json.dumps({"ts_ms": big, "cpu_util": 1e9, "mem_total_mb": 0}) + "\n")
open(f"{d}/nodes.json", "w").write('[{"node_id": "odd</svg>", "cpu_cores": -4}]')
EOF
out=$("$TRACEKIT" report --input odd 2>&1); rc=$?
check "absurd values: report exits 0 (no sanitizer report)" test "$rc" = 0 -a -z "$(echo "$out" | grep -E "runtime error|AddressSanitizer")"
check "absurd values: the HTML parses and names stay escaped" bash -c 'python3 wellformed.py "$0" && grep -q "odd&lt;/svg&gt;" "$0"' odd/report.html

# ---- headless Chromium ----
CHROME=$(command -v chromium || true)
if [ -z "$CHROME" ]; then
  skip "chromium not installed: no headless render (scripts/install-deps test)"
else
  url="file://$T/$H"
  chrome() { timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$(mktemp -d "$T/chr.XXXXXX")" "$@"; }
  chrome --screenshot="$OUT/report.png" --window-size=1400,2000 "$url" >chrome-shot.log 2>&1
  png=$(stat -c %s "$OUT/report.png" 2>/dev/null || echo 0)
  check "chromium: screenshot written and non-trivial ($png bytes)" test "$png" -gt 20000
  check "chromium: the screenshot is not one flat colour" python3 - "$OUT/report.png" <<'EOF'
import sys, zlib, struct
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    if typ == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", data[pos + 8:pos + 18])
    if typ == b"IDAT": idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
assert len(set(raw[:2000000])) > 20, "flat image"
EOF
  chrome --enable-logging=stderr --v=0 --virtual-time-budget=2000 --dump-dom "$url" >dom.html 2>console.log
  check "chromium: the DOM has the Gantt bars after load" test "$(grep -o '<rect class="r c' dom.html | wc -l)" = 4
  check "chromium: no console errors from the page" bash -c '! grep -iE "CONSOLE.*(error|uncaught)|Uncaught" "$0"' console.log
  grep -i console console.log | head -5 | sed 's/^/# /'
  # the selector works: a page script that switches to the second task and reports what is visible
  cp "$H" sel.html
  python3 - sel.html <<'EOF'
import sys
p = sys.argv[1]; h = open(p).read()
probe = ("<script>var s=document.getElementById('tsel');s.value='1';s.dispatchEvent(new Event('change'));"
         "var v=[];document.querySelectorAll('g.tc').forEach(function(g){if(g.style.display!=='none')v.push(g.id)});"
         "document.title='visible:'+v.join(',');</script></body>")
open(p, "w").write(h.replace("</body>", probe))
EOF
  chrome --virtual-time-budget=2000 --dump-dom "file://$T/sel.html" >sel-dom.html 2>/dev/null
  check "chromium: choosing task 2 in the selector shows only its curve" grep -q "<title>visible:tc-1</title>" sel-dom.html
  # the whole experiment's page: a screenshot, charts as wide as the page, and a printout
  chrome --screenshot="$OUT/report-experiment.png" --window-size=1400,3200 "file://$T/$H2" >chrome-exp.log 2>&1
  png=$(stat -c %s "$OUT/report-experiment.png" 2>/dev/null || echo 0)
  check "chromium: the experiment's screenshot is written ($png bytes)" test "$png" -gt 20000
  cp "$H2" wide.html
  python3 - wide.html <<'EOF'
import sys
p = sys.argv[1]; h = open(p).read()
probe = ("<script>var w=document.body.clientWidth,r=[];"
         "document.querySelectorAll('svg.gantt,svg.heat,svg.util').forEach(function(s){r.push(Math.round(100*s.getBoundingClientRect().width/w))});"
         "var hx=document.querySelectorAll('svg.heat rect.hx').length;"
         "var st=document.querySelector('table.kv').innerText.indexOf('medium480p')>=0;"
         "document.title='widths:'+r.join(',')+' hx:'+hx+' setup:'+st;</script></body>")
open(p, "w").write(h.replace("</body>", probe))
EOF
  for ws in 1000,1200 1800,1200; do
    chrome --window-size=$ws --virtual-time-budget=2000 --dump-dom "file://$T/wide.html" >wide-dom.html 2>/dev/null
    check "chromium ($ws): every chart is as wide as the page, the heat map drawn, the setup shown" python3 - wide-dom.html <<'EOF'
import re, sys
t = re.search(r"<title>widths:([\d,]*) hx:(\d+) setup:(\w+)</title>", open(sys.argv[1]).read())
assert t, "no probe title"
ws = [int(x) for x in t.group(1).split(",")]
assert len(ws) == 5 and all(w >= 97 for w in ws), ws
assert int(t.group(2)) >= 6 and t.group(3) == "true", t.groups()
EOF
  done
  chrome --print-to-pdf="$OUT/report-experiment.pdf" --no-pdf-header-footer "file://$T/$H2" >chrome-pdf.log 2>&1
  pdf=$(stat -c %s "$OUT/report-experiment.pdf" 2>/dev/null || echo 0)
  check "chromium: the page prints to PDF with every chart ($pdf bytes)" \
    bash -c '[ "$1" -gt 20000 ] && [ "$(head -c 5 "$2")" = "%PDF-" ]' _ "$pdf" "$OUT/report-experiment.pdf"
fi
