#!/usr/bin/env bash
# t_report_opendc.sh -- `tracekit report` on OpenDC workloads: a run exported
# here (`--input WORKLOAD` and `--opendc WORKLOAD` next to the run), OpenDC's
# own fixture workloads (no topology.json), a dense export of 100 000 tasks,
# usage errors, and a headless Chromium render with screenshots and no
# console errors.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
OUT=${TEST_OUTPUT:-$T}
FIX=${OPENDC_FIXTURES:-/work/shared/fixtures/opendc}

# ---- a parsed run of 6 tasks on a 4-core node, exported ----
# t0..t3 bound to 1 or 2 CPUs and sampled; t4 unsampled; t5 fails.
python3 - run <<'EOF'
import json, os, sys
d = sys.argv[1]; os.makedirs(f"{d}/CTS")
T0 = 1758580000000
json.dump([{"node_id": "vm0", "stage": "cloud", "cpu_cores": 4, "mem_mb": 16384, "cpu_model": "QEMU",
            "cpu_freq_mhz": 2400}], open(f"{d}/CTS/nodes.json", "w"))
inv, pm = [], []
spec = [(0, 0, 3000, "0", 1), (1, 500, 2500, "1-2", 2), (2, 3100, 5200, "0", 1), (3, 3000, 4000, "3", 1),
        (4, 4200, 6000, "1", 1), (5, 1000, 1800, "3", 1)]
for i, a, b, cs, n in spec:
    pid = 1000 + i
    cpu = 0.0
    if i < 4:
        for ts in range(a + 200, b + 1, 200):
            pm.append({"ts_ms": T0 + ts, "pid": pid, "dt_ms": 200, "cpu_ms": 150.0 * n, "rss_kb": 20000 + i,
                       "start_ticks": 50 + i})
            cpu += 150.0 * n
    inv.append({"trace_id": f"t{i}<&>" if i == 1 else f"t{i}", "pid": pid, "ts_enqueue": T0 + a - 100,
                "ts_start": T0 + a, "ts_end": T0 + b, "status": 1 if i == 5 else 0, "start_ticks": 50 + i,
                "attempt": 1, "cpu_user_ms": cpu or 300.0, "cpu_sys_ms": 0, "max_rss_kb": 30000, "cpu_units": n,
                "cpuset": cs, "app": "ffmpeg" if i % 2 else "other"})
open(f"{d}/CTS/invocations.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in inv))
open(f"{d}/CTS/proc_metrics.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in pm))
EOF
"$TRACEKIT" export opendc --input run --output wl >export.log 2>&1; rc=$?
check "export of the fixture run exits 0" test "$rc" = 0
# what the workload holds, from the export's own report of it
nfrag=$("$TRACEKIT" verify opendc --input wl | sed -n 's/^summary: 6 tasks ([0-9]* ms), \([0-9]*\) fragments.*/\1/p')
check "verify reads 6 tasks and some fragments back ($nfrag)" test -n "$nfrag"

# ---- command line ----
out=$("$TRACEKIT" report --input wl --opendc wl 2>&1); rc=$?
check "--opendc with a workload as --input is a usage error naming both" \
  test "$rc" = 2 -a -n "$(echo "$out" | grep -- "--opendc 'wl'" | grep -- "--input 'wl'")"
out=$("$TRACEKIT" report --input run --opendc "$T/nope" 2>&1); rc=$?
check "--opendc naming no folder fails (exit 1) naming it" test "$rc" = 1 -a -n "$(echo "$out" | grep "'$T/nope'")"
out=$("$TRACEKIT" report --input run --opendc run 2>&1); rc=$?
check "--opendc on a folder without tasks.parquet fails saying so" test "$rc" = 1 -a -n "$(echo "$out" | grep "no tasks.parquet")"
mkdir -p broken && echo "not parquet" >broken/tasks.parquet && cp wl/fragments.parquet broken/
out=$("$TRACEKIT" report --input broken 2>&1); rc=$?
check "a corrupt tasks.parquet fails (exit 1) naming the file" test "$rc" = 1 -a -n "$(echo "$out" | grep "broken/tasks.parquet")"
check "... and writes no page" test ! -e broken/report.html

# ---- the workload alone ----
out=$("$TRACEKIT" report --input wl 2>&1); rc=$?
check "report --input WORKLOAD exits 0 and says what it drew" \
  test "$rc" = 0 -a -n "$(echo "$out" | grep "wrote wl/report.html (OpenDC workload: 6 task(s), $nfrag fragment(s)")"
out=$("$TRACEKIT" report --opendc wl --output alone.html 2>&1); rc=$?
check "report --opendc WORKLOAD alone (no --input) draws the workload too" \
  test "$rc" = 0 -a -n "$(echo "$out" | grep "wrote alone.html (OpenDC workload: 6 task(s)")"
H=wl/report.html
cp "$H" "$OUT/report-opendc.html" 2>/dev/null

cat >parse.py <<'EOF'
# parse.py FILE: well-formed (every element closed in order); prints counts as JSON.
import json, re, sys
from html.parser import HTMLParser
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True); self.stack = []; self.errors = []
    def handle_starttag(self, tag, attrs):
        if tag not in VOID: self.stack.append(tag)
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag: self.errors.append((tag, self.getpos()))
        else: self.stack.pop()
h = open(sys.argv[1], encoding="utf-8").read()
p = P(); p.feed(h); p.close()
assert not p.errors and not p.stack, (p.errors[:3], p.stack[:3])
sec = re.search(r'<section id="opendc">.*?</section>', h, re.S)
s = sec.group(0) if sec else ""
g = re.search(r'<svg class="gantt".*?</svg>', s, re.S)
g = g.group(0) if g else ""
print(json.dumps({
    "sections": h.count('<section id="opendc">'),
    "run_gantts": len(re.findall(r'<svg class="gantt"', h[:sec.start()] if sec else h)),
    "bars": len(re.findall(r'<rect class="r c\d+', g)), "mode": re.findall(r'data-mode="(\w+)"', g),
    "demand": s.count('<svg class="demand"'), "capline": sum(d.count('<line class="cap"') for d in re.findall(r'<svg class="demand".*?</svg>', s, re.S)),
    "options": s.count("<option value="), "curves": s.count('<g class="oc"'),
    "run_options": len(re.findall(r"<option value=", h[:sec.start()] if sec else h)),
    "external": [u for u in re.findall(r'https?://[^" ]*', h) if u != "http://www.w3.org/2000/svg"],
    "scripts": h.count("<script>")}))
EOF
counts() { python3 parse.py "$1" >"$1.json" 2>"$1.err"; }
jq_() { python3 -c "import json,sys; d=json.load(open('$1.json')); sys.exit(0 if ($2) else 1)"; }
counts "$H"; check "the workload page parses with every element closed" test -s "$H.json"
check "one OpenDC section, no run charts" jq_ "$H" 'd["sections"] == 1 and d["run_gantts"] == 0'
check "Gantt: exact, one bar per task (6)" jq_ "$H" 'd["bars"] == 6 and d["mode"] == ["exact"]'
check "demand chart with the topology's capacity line" jq_ "$H" 'd["demand"] == 1 and d["capline"] == 1'
check "per-task curves: 6 in the selector, 6 groups" jq_ "$H" 'd["options"] == 6 and d["curves"] == 6'
check "self-contained: nothing external, one script" jq_ "$H" 'd["external"] == [] and d["scripts"] == 1'
check "summary: 6 tasks, capacity of 4 cores at 2.4 GHz, cpu_count 1 and 2" py '
import re
h = open("'"$H"'").read()
assert "<tr><th>tasks</th><td>6</td></tr>" in h
assert "9.6 GHz (4 cores)" in h, "capacity"
rows = re.findall(r"</span>(\d+)</td><td>(\d+)</td>", h)
assert rows == [("1", "5"), ("2", "1")], rows
assert "t1&lt;&amp;&gt;" in h and "t1<&>" not in h'
make -C "$ROOT" -s build/bench/parquet/pqcat >make.log 2>&1 || not_ok "build pqcat: $(tail -3 make.log)"
check "summary: CPU work = sum of cpu_usage x duration of fragments.parquet (read by pqcat)" py '
import json, re, subprocess
h = open("'"$H"'").read()
m = re.search(r"CPU work</th><td>([0-9.e+-]+) (MHz|GHz)&middot;(s|h)", h)
rows = json.loads(subprocess.run(["'"$ROOT"'/build/bench/parquet/pqcat", "wl/fragments.parquet"],
                                 capture_output=True, text=True, check=True).stdout)["rows"]
want = sum(float(r["cpu_usage"]) * int(r["duration"]) for r in rows)   # MHz x ms
scale = {("MHz", "s"): 1e3, ("GHz", "s"): 1e6, ("GHz", "h"): 3.6e9}[(m.group(2), m.group(3))] if m else 1
got = float(m.group(1)) * scale if m else 0
assert m and want > 0 and abs(got - want) <= want * 5e-3, (m and m.group(0), want)
assert 1 <= float(m.group(1)) < 1000 or m.group(2) == "MHz", "a unit that reads: " + m.group(0)'

check "summary: mem_capacity as OpenDC reads it, in MiB, the stored values beside" py '
import re
h = open("'"$H"'").read()
assert re.search(r"mem_capacity</th><td>min [0-9.]+ [MG]iB, median [0-9.]+ [MG]iB, max [0-9.]+ [MG]iB as OpenDC reads it \(stored: \d+, \d+, \d+;", h), \
    re.search(r"mem_capacity</th><td>[^<]*", h).group(0)'

# ---- run and workload on one page ----
out=$("$TRACEKIT" report --input run --opendc wl --output both.html 2>&1); rc=$?
check "report --input RUN --opendc WORKLOAD exits 0 naming both" \
  test "$rc" = 0 -a -n "$(echo "$out" | grep "1 node(s), 6 task(s); OpenDC workload: 6 task(s)")"
counts both.html; check "the combined page parses" test -s both.html.json
check "combined: the run's Gantt first, then the workload's section" \
  jq_ both.html 'd["sections"] == 1 and d["run_gantts"] == 1 and d["bars"] == 6'
check "combined: both selectors (4 sampled run tasks, 6 workload tasks)" \
  jq_ both.html 'd["run_options"] == 4 and d["options"] == 6'
cp both.html "$OUT/report-run-and-opendc.html" 2>/dev/null
check "combined: the run's and the workload's charts share one time axis" py '
import re
h = open("both.html").read()
axes = {}
for m in re.finditer(r"<svg class=\"(gantt|util|heat|demand)\"", h):
    svg = h[m.start():h.index("</svg>", m.start())]
    ax = re.search(r"<g class=\"ax\">(.*?)</g>", svg, re.S).group(1)
    axes.setdefault(m.group(1), []).append(re.findall(r"<text x=\"([0-9.]+)\"[^>]*>([^<]+)</text>", ax))
run_g, wl_g = axes["gantt"]
assert len(axes["gantt"]) == 2 and run_g == wl_g == axes["demand"][0] == axes["util"][0] == axes["heat"][0], axes'

# ---- OpenDC's own workloads (no topology.json) ----
if [ ! -d "$FIX" ]; then
  skip "no OpenDC fixtures at $FIX"
else
  for w in taskScaling_100_tasks fragmentScaling_100_fragments; do
    out=$("$TRACEKIT" report --input "$FIX/$w" --output "$w.html" 2>&1); rc=$?
    check "fixture $w: exits 0, warns that there is no topology" \
      test "$rc" = 0 -a -n "$(echo "$out" | grep "no topology.json")"
    counts "$w.html"; check "fixture $w: the page parses" test -s "$w.html.json"
  done
  check "fixture taskScaling_100_tasks: 100 bars, no capacity line, 50 curves offered" \
    jq_ taskScaling_100_tasks.html 'd["bars"] == 100 and d["capline"] == 0 and d["options"] == 50'
  check "fixture fragmentScaling_100_fragments: 1000 tasks drawn exactly, 100 000 fragments counted" bash -c \
    'python3 -c "import json,sys; d=json.load(open(\"fragmentScaling_100_fragments.html.json\")); sys.exit(d[\"bars\"] != 1000)" &&
     grep -q "<tr><th>fragments</th><td>100000</td></tr>" fragmentScaling_100_fragments.html'
fi

# ---- dense: 100 000 tasks exported, then reported ----
python3 - dense <<'EOF'
import json, os, random, sys
d = sys.argv[1]; os.makedirs(f"{d}/CTS")
random.seed(3)
T0 = 1758580000000
json.dump([{"node_id": "big", "stage": "cloud", "cpu_cores": 16, "mem_mb": 65536, "cpu_model": "x",
            "cpu_freq_mhz": 3000}], open(f"{d}/CTS/nodes.json", "w"))
with open(f"{d}/CTS/invocations.jsonl", "w") as f:
    free = [0] * 16
    for i in range(100000):
        c = min(range(16), key=lambda k: free[k])
        a = free[c] + random.randint(0, 20); b = a + random.randint(5, 300); free[c] = b
        f.write(json.dumps({"trace_id": f"t{i}", "pid": 10000 + i, "ts_enqueue": T0 + a, "ts_start": T0 + a,
            "ts_end": T0 + b, "status": 0, "start_ticks": i, "cpu_user_ms": (b - a) * 0.8, "cpu_sys_ms": 0,
            "max_rss_kb": 1000, "cpuset": str(c)}) + "\n")
open(f"{d}/CTS/proc_metrics.jsonl", "w").close()
EOF
"${TRACEKIT_RELEASE:-$TRACEKIT}" export opendc --input dense --output dense-wl >dense-export.log 2>&1; rc=$?
check "dense: export of 100 000 tasks exits 0" test "$rc" = 0
start=$(date +%s.%N)
"$TRACEKIT" report --input dense-wl --quiet; rc=$?
secs=$(python3 -c "import time; print(round(time.time() - $start, 1))")
size=$(stat -c %s dense-wl/report.html 2>/dev/null || echo 0)
echo "# dense workload: 100000 tasks, report $size bytes in ${secs}s (ASan build)"
check "dense: report exits 0" test "$rc" = 0
counts dense-wl/report.html; check "dense: the page parses" test -s dense-wl/report.html.json
check "dense: the Gantt is binned, 50 curves offered" jq_ dense-wl/report.html 'd["mode"] == ["binned"] and d["options"] == 50'
check "dense: the page stays under 1.5 MB ($size bytes)" test "$size" -gt 0 -a "$size" -lt 1500000

# ---- headless Chromium ----
CHROME=$(command -v chromium || true)
if [ -z "$CHROME" ]; then
  skip "chromium not installed: no headless render (scripts/install-deps test)"
else
  chrome() { timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$(mktemp -d "$T/chr.XXXXXX")" "$@"; }
  for page in wl/report.html both.html taskScaling_100_tasks.html dense-wl/report.html; do
    [ -f "$page" ] || { not_ok "chromium: $page missing"; continue; }
    name=$(echo "$page" | tr '/.' '__')
    chrome --screenshot="$OUT/opendc-$name.png" --window-size=1400,2400 "file://$T/$page" >/dev/null 2>&1
    png=$(stat -c %s "$OUT/opendc-$name.png" 2>/dev/null || echo 0)
    check "chromium: $page screenshot written ($png bytes)" test "$png" -gt 20000
    chrome --enable-logging=stderr --v=0 --virtual-time-budget=2000 --dump-dom "file://$T/$page" \
      >"dom-$name.html" 2>"console-$name.log"
    check "chromium: $page has no console errors" bash -c '! grep -iE "CONSOLE.*(error|uncaught)|Uncaught" "$0"' "console-$name.log"
  done
  check "chromium: the workload DOM has its 6 bars after load" \
    test "$(grep -o '<rect class="r c' dom-wl_report_html.html | wc -l)" = 6
  # both selectors work on the combined page, independently
  python3 - both.html sel.html <<'EOF'
import sys
h = open(sys.argv[1]).read()
probe = ("<script>function pick(id,v){var s=document.getElementById(id);s.value=v;s.dispatchEvent(new Event('change'));}"
         "pick('osel','3');pick('tsel','1');var v=[];"
         "document.querySelectorAll('g.oc,g.tc').forEach(function(g){if(g.style.display!=='none')v.push(g.id)});"
         "document.title='visible:'+v.join(',');</script></body>")
open(sys.argv[2], "w").write(h.replace("</body>", probe))
EOF
  chrome --virtual-time-budget=2000 --dump-dom "file://$T/sel.html" >sel-dom.html 2>/dev/null
  check "chromium: the two selectors each show only their chosen curve" grep -q "<title>visible:tc-1,oc-3</title>" sel-dom.html
fi
