#!/usr/bin/env bash
# The README's main job end to end (scripts/demo, release build): collect,
# exec an ffmpeg mix, parse, export and verify.  Its round trip must pass.
source "$(dirname "$0")/lib.sh"
out=$(DEMO_DIR="$T/demo" RUN_ID=demotest "$ROOT/scripts/demo" 2>&1); rc=$?
check "make demo's script exits 0" test "$rc" = 0
[ "$rc" = 0 ] || tail -20 <<<"$out"
check "it prints where its outputs are" grep -q "OpenDC workload $T/demo/opendc/demotest/" <<<"$out"
check "verify passed on the demo's export" grep -q "^verify: OK" <<<"$out"
check "every task was sampled (audit)" grep -q "0 without samples, 0 failed" <<<"$out"
check "the OpenDC files exist" test -s "$T/demo/opendc/demotest/tasks.parquet" -a -s "$T/demo/opendc/demotest/fragments.parquet" -a -s "$T/demo/opendc/demotest/topology.json"
ratio=$(sed -n 's/.*CPU in fragments \/ measured CPU: \([0-9.]*\).*/\1/p' <<<"$out")
check "CPU in fragments equals measured CPU within 1% (ratio $ratio)" \
  awk -v r="${ratio:-0}" 'BEGIN{exit !(r >= 0.99 && r <= 1.01)}'
grep -q "CPU in fragments / measured CPU: 1.0000" <<<"$out" || grep "CPU in fragments" <<<"$out"
check "8 tasks recorded" test "$(wc -l < "$T/demo/logs/demotest/events.ffmpeg.jsonl")" = 8
check "it ends by writing the report and printing its path" grep -q "report          $T/demo/report-demotest.html" <<<"$out"
check "the report exists" test -s "$T/demo/report-demotest.html"
check "the report has the run's timeline and the exported workload's section (8 tasks)" python3 - "$T/demo/report-demotest.html" <<'PY'
import re, sys
h = open(sys.argv[1]).read()
s = re.search(r'<section id="opendc">.*?</section>', h, re.S)
assert s and '<svg class="gantt"' in h[:s.start()], "sections"
g = re.search(r'<svg class="gantt".*?</svg>', s.group(0), re.S).group(0)
assert len(re.findall(r'<rect class="r c\d+', g)) == 8, "bars"
PY
