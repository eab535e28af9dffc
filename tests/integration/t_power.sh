#!/usr/bin/env bash
# Power and energy (issue #16): a synthetic energy counter driven by the
# host's real CPU utilisation as P = 50 W + 100 W x util (wrapping mid-run
# like powercap), CPU burners at 0, 50 and 100% of the host, collect, parse:
# the fitted linear OpenDC model comes out within 10% of idle 50 W and max
# 150 W with its RMSE shown, the wrap is handled, the tasks get energy_j.
# And a node without any power source: collect runs as before and says so once.
# The export: each host's cpuPowerModel is the node's fit (the best by RMSE,
# or --power-model), every candidate in export_report.md; a node without
# power keeps OpenDC's default and says so; verify opendc passes.
source "$(dirname "$0")/lib.sh"
cd "$T"
${CC:-cc} -O2 -o burn "$ROOT/tests/integration/helpers/burn.c" || { not_ok "build the CPU burner"; exit 1; }
${CC:-cc} -O2 -o powerctr "$ROOT/tests/integration/helpers/powerctr.c" || { not_ok "build the counter"; exit 1; }
NCPU=$(getconf _NPROCESSORS_ONLN)

# ---- no power source ----
ls /sys/class/powercap/*/energy_uj 2>/dev/null | while read -r f; do cat "$f" >/dev/null 2>&1 && echo "$f"; done > readable_zones
if [ -s readable_zones ]; then
  skip "no power source: this node has readable powercap zones"
else
  RUN_ID=none "$TRACEKIT" collect run --logs logs --host-interval-ms 100 --duration-s 0.5 >/dev/null 2>none.err
  check "without a power source collect still samples the host" \
    test "$(grep -c cpu_util logs/none/host_metrics.jsonl)" -ge 2
  check "without a power source collect says so once" \
    test "$(grep -c 'no power source on this node' none.err)" = 1
  check "without a power source there is no power in host_metrics nor a failure" \
    bash -c '! grep -q power_w logs/none/host_metrics.jsonl && ! grep -qi error none.err'
fi

# ---- missing source: one warning, not a failure ----
RUN_ID=miss "$TRACEKIT" collect run --logs logs --no-energy --energy-counter gone=/nonexistent/energy_uj \
  --host-interval-ms 100 --duration-s 0.5 >/dev/null 2>miss.err
check "a missing source is one warning and the run goes on" \
  bash -c 'test "$(grep -c "power source gone" miss.err)" = 1 && grep -q cpu_util logs/miss/host_metrics.jsonl'
check "node_meta lists the missing source as not readable" python3 - <<'PY'
import json
m = json.load(open("logs/miss/node_meta.json"))
s = m["power_sources"]
assert len(s) == 1 and s[0]["name"] == "gone" and s[0]["readable"] is False, s
PY

# ---- the synthetic counter ----
mkdir -p pc
# 2000 J range, starting 300 J below the top: wraps after a few seconds
./powerctr "$T/pc/energy_uj" 10 50 100 1700000000 2000000000 &
ctr=$!; track_pid $ctr
sleep 0.3
export RUN_ID=pw
"$TRACEKIT" collect start --logs logs --no-energy --energy-counter pdu="$T/pc/energy_uj" \
  --interval-ms 200 --host-interval-ms 500 >/dev/null 2>start.err
cpid=$(python3 -c 'import json;print(json.load(open("logs/pw/collector.json"))["pid"])')
track_pid "$cpid"
sleep 4                                              # 0%
"$TRACEKIT" exec --quiet --logs logs --app half -- ./burn 4000 rep &   # 50% (of 2 CPUs)
wait $!
for i in $(seq 1 "$NCPU"); do                         # 100%
  "$TRACEKIT" exec --quiet --logs logs --app full -- ./burn 4000 rep &
done
wait_jobs() { for p in $(jobs -p); do [ "$p" = "$ctr" ] || wait "$p"; done; }
wait_jobs
sleep 1
"$TRACEKIT" collect stop --logs logs >/dev/null
kill "$ctr"; wait "$ctr" 2>/dev/null
"$TRACEKIT" parse --logs logs >parse.out 2>parse.err || { not_ok "parse"; cat parse.err; }
check "parse's summary has the node's energy, idle power and best model with its RMSE" \
  grep -qE "^\[parse\] power: [0-9.]+ J over the run .*idle [0-9.]+ W .*(RMSE [0-9.]+ W|no OpenDC model)" parse.out

check "host_metrics has the source's power and cumulative joules, and the wrap" python3 - <<'PY'
import json
ls = [json.loads(l) for l in open("logs/pw/host_metrics.jsonl")]
p = [l for l in ls if "pdu" in l.get("power_w", {})]
assert len(p) > 20, len(p)
assert any("pdu" in l.get("power_wrap", []) for l in ls), "no wrap seen"
assert all(30 < l["power_w"]["pdu"] < 200 for l in p), [l["power_w"] for l in p]
e = [l["energy_j"]["pdu"] for l in ls]
assert all(b >= a for a, b in zip(e, e[1:])), "energy_j went back"
m = json.load(open("logs/pw/node_meta.json"))
s = m["power_sources"]
assert s[0]["name"] == "pdu" and s[0]["in_total"] and s[0]["max_energy_range_uj"] == 2000000000, s
PY

# The burners set the host at 0, 50 and 100% only when nothing else loads it
# (the test machine is shared): without intervals at both ends the intercept
# and the slope are extrapolations, and the check is skipped, saying so.
spread=$(python3 - <<'PY'
import json
u = [json.loads(l)["cpu_util"] for l in open("logs/pw/host_metrics.jsonl")]
print("ok" if min(u) <= 20 and max(u) >= 80 else "%.0f-%.0f%%" % (min(u), max(u)))
PY
)
spread_ok() { [ "$spread" = ok ]; }
if [ "$spread" != ok ]; then
  python3 -c 'import json; a = json.load(open("logs/pw/CTS/audit.json"))["power"]["fit"]
for c in a["candidates"]:
    if c["fitted"]: print("# %s: idle %.1f W, max %.1f W, RMSE %.2f W" % (c["type"], c["idle_w"], c["max_w"], c["rmse_w"]))'
  skip "fit within 10%: other load kept the host between $spread CPU (needs <= 20% and >= 80%)"
else
check "the fitted linear model is within 10% of idle 50 W and max 150 W" python3 - <<'PY'
import json
a = json.load(open("logs/pw/CTS/audit.json"))["power"]
lin = [c for c in a["fit"]["candidates"] if c["type"] == "linear"][0]
print("# linear: idle %.1f W, max %.1f W, RMSE %.2f W, R2 %.3f; best %s; wraps %d, resets %d"
      % (lin["idle_w"], lin["max_w"], lin["rmse_w"], lin.get("r2", float("nan")),
         a["fit"]["best"], a["wraps"], a["resets"]))
assert abs(lin["idle_w"] - 50) <= 5, lin
assert abs(lin["max_w"] - 150) <= 15, lin
assert a["wraps"] >= 1 and a["resets"] == 0, a
assert a["coverage"] > 0.9, a
PY
fi
check "the audit counts the wrap and no reset, and the intervals are covered" python3 - <<'PY'
import json
a = json.load(open("logs/pw/CTS/audit.json"))["power"]
assert a["wraps"] >= 1 and a["resets"] == 0 and a["coverage"] > 0.9, a
PY
check "audit_report.md shows the fit with its RMSE" \
  bash -c 'grep -q "## Power and energy" logs/pw/CTS/audit_report.md && grep -q "| linear | [0-9.]* | [0-9.]* | [0-9.]* |" logs/pw/CTS/audit_report.md && grep -q "RMSE" logs/pw/CTS/audit_report.md'

check "every burner has energy_j, and the tasks' sum is within the node's energy above idle" python3 - <<'PY'
import json
inv = [json.loads(l) for l in open("logs/pw/CTS/invocations.jsonl")]
a = json.load(open("logs/pw/CTS/audit.json"))["power"]
n = json.load(open("logs/pw/CTS/nodes.json"))[0]
assert len(inv) >= 2 and all(i.get("energy_j", 0) > 0 for i in inv), inv
tot = sum(i["energy_j"] for i in inv)
print("# tasks %.1f J of %.1f J above idle (node %.1f J)" % (tot, a["above_idle_j"], n["energy_j"]))
assert tot <= a["above_idle_j"] * 1.02 and abs(tot - a["tasks_j"]) < 0.01 * tot + 0.01
assert n["energy_j"] > a["above_idle_j"] > 0
PY

# --idle-share adds the idle power by wall time
"$TRACEKIT" parse --logs logs --quiet --idle-share >/dev/null 2>&1
check "--idle-share adds each task's share of the idle power" python3 - <<'PY'
import json
inv = [json.loads(l) for l in open("logs/pw/CTS/invocations.jsonl")]
a = json.load(open("logs/pw/CTS/audit.json"))["power"]
assert a["idle_share"] and a["tasks_idle_j"] > 0
assert abs(sum(i["energy_j"] for i in inv) - a["tasks_j"] - a["tasks_idle_j"]) < 0.05
PY

# ---- the report: power beside CPU, the fitted curves, energy per node and app ----
"$TRACEKIT" report --input logs/pw --quiet >/dev/null 2>report.err || { not_ok "report"; cat report.err; }
check "report: power over time beside CPU, the fit over the points, energy per node and app" python3 - <<'PY'
import re
h = open("logs/pw/report.html").read()
assert "<h2>Power and energy</h2>" in h
assert '<svg class="power"' in h and '<svg class="powerfit"' in h
import json
lin = [c for c in json.load(open("logs/pw/CTS/audit.json"))["power"]["fit"]["candidates"]
       if c["type"] == "linear"][0]
m = re.search(r"linear: idle ([0-9.]+) W, max ([0-9.]+) W, RMSE ([0-9.]+) W", h)
assert m, "no linear curve"
# the report fits the same points as the audit (from the CTS copy, rounded)
assert abs(float(m.group(1)) - lin["idle_w"]) < 1 + 0.02 * lin["idle_w"], (m.groups(), lin)
assert abs(float(m.group(2)) - lin["max_w"]) < 1 + 0.02 * lin["max_w"], (m.groups(), lin)
assert h.count("<circle") > 20
assert "Energy per node" in h and "Energy per app" in h
assert re.search(r"<td>half</td><td>1 of 1</td><td>[0-9.]+ J</td>", h), "no half row"
assert re.search(r"<td>full</td><td>[0-9]+ of [0-9]+</td><td>[0-9.]+ J</td>", h), "no full row"
PY

# ---- the OpenDC export: each host's cpuPowerModel is the node's fit ----
# (only when parse fitted a model: on a host that other load held at one
# utilisation throughout no model can be fitted, and parse says why)
export TRACEKIT
refused=$(python3 -c 'import json; f = json.load(open("logs/pw/CTS/audit.json"))["power"]["fit"]
print("" if f["best"] else f.get("notice", "refused"))')
if [ -n "$refused" ]; then
  skip "the export's power model: parse fitted none ($refused)"
else
export_ok() {  # output, options...: export logs/pw, then verify opendc
  local out=$1; shift
  "$TRACEKIT" export opendc --input logs/pw --output "$out" --quiet "$@" 2>"$out.err" &&
    "$TRACEKIT" verify opendc --input "$out" >"$out.verify" 2>&1
}
check "export opendc (auto) exits 0 and verify opendc passes" export_ok odc
check "auto: the topology's cpuPowerModel is parse's best fit, with unit strings" python3 - <<'PY'
import json
a = json.load(open("logs/pw/CTS/audit.json"))["power"]["fit"]
h = json.load(open("odc/topology.json"))["clusters"][0]["hosts"][0]["cpuPowerModel"]
best = [c for c in a["candidates"] if c["type"] == a["best"]][0]
print("# topology %s; audit best %s idle %.2f max %.2f" % (h, a["best"], best["idle_w"], best["max_w"]))
assert h["type"] == a["best"], (h, a["best"])
w = lambda s: float(s.removesuffix(" W"))
assert abs(w(h["idlePower"]) - best["idle_w"]) < 0.001 and abs(w(h["maxPower"]) - best["max_w"]) < 0.001, h
assert h != {"type": "linear", "idlePower": "200 W", "maxPower": "400 W"}
PY
check "export_report.md lists every candidate's idle, max, RMSE and R², and the one chosen" python3 - <<'PY'
import re
r = open("odc/export_report.md").read()
assert "## CPU power models" in r and "| model | idlePower W | maxPower W | RMSE W | R² |" in r, r
rows = re.findall(r"^\| (linear|square|cubic|sqrt) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.–-]+) \| (.*) \|$", r, re.M)
assert sorted(x[0] for x in rows) == ["cubic", "linear", "sqrt", "square"], rows
assert sum("**chosen**" in x[5] for x in rows) == 1, rows
assert re.search(r"^### [^:]+: \w+, idle [0-9.]+ W, max [0-9.]+ W \(the best of 4 by RMSE; RMSE [0-9.]+ W", r, re.M), r
assert "Energy figures will be assumptions" not in r
PY
if ! spread_ok; then
  skip "exported linear model within 10%: other load kept the host between $spread CPU (needs <= 20% and >= 80%)"
else
check "export --power-model linear: the topology's linear model is within 10% of idle 50 W and max 150 W" \
  export_ok odc-lin --power-model linear
check "the exported linear model's idle and max (RMSE in export_report.md)" python3 - <<'PY'
import json, re
h = json.load(open("odc-lin/topology.json"))["clusters"][0]["hosts"][0]["cpuPowerModel"]
r = open("odc-lin/export_report.md").read()
m = re.search(r"^\| linear \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \| .*\*\*chosen\*\*", r, re.M)
print("# topology %s; report row %s" % (h, m and m.groups()))
assert h["type"] == "linear", h
idle, mx = float(h["idlePower"].removesuffix(" W")), float(h["maxPower"].removesuffix(" W"))
assert abs(idle - 50) <= 5 and abs(mx - 150) <= 15, h
assert m and float(m.group(3)) >= 0, "no RMSE for the chosen linear model"
PY
fi
check "export --power-model square exits 0 and verify opendc passes" export_ok odc-sq --power-model square
check "--power-model square forces square into the topology, said in the report and --json" python3 - <<'PY'
import json, re, subprocess, os
a = json.load(open("logs/pw/CTS/audit.json"))["power"]["fit"]
sq = [c for c in a["candidates"] if c["type"] == "square"][0]
h = json.load(open("odc-sq/topology.json"))["clusters"][0]["hosts"][0]["cpuPowerModel"]
assert h["type"] == "square", h
assert abs(float(h["idlePower"].removesuffix(" W")) - sq["idle_w"]) < 0.001, (h, sq)
r = open("odc-sq/export_report.md").read()
assert re.search(r"^### [^:]+: square, .*forced by --power-model", r, re.M), r
assert re.search(r"^\| square \| .*\*\*chosen\*\*", r, re.M), r
out = subprocess.run([os.environ["TRACEKIT"], "export", "opendc", "--input", "logs/pw", "--output", "odc-sq2",
                      "--power-model", "square", "--json"], capture_output=True, text=True, check=True).stdout
pm = json.loads(out)["power_models"]
assert len(pm) == 1 and pm[0]["type"] == "square" and pm[0]["chosen_by"] == "--power-model", pm
assert pm[0]["from"] == "CTS/audit.json" and not pm[0]["assumed"], pm
PY
expect_fail "--power-model takes only OpenDC's fitted models" \
  "$TRACEKIT" export opendc --input logs/pw --output odc-bad --power-model mse

# Three nodes: the run; a copy whose audit has no power section (the model is
# refitted from its CTS host lines, to the same numbers); a copy that
# recorded no power (OpenDC's default, said to be an assumption).
mkdir -p exp
cp -r logs/pw exp/pw && cp -r logs/pw exp/refit && cp -r logs/pw exp/nopw
python3 - <<'PY'
import json
def node_id(d, n):
    nodes = json.load(open(d + "/CTS/nodes.json")); nodes[0]["node_id"] = n
    json.dump(nodes, open(d + "/CTS/nodes.json", "w"))
a = json.load(open("exp/refit/CTS/audit.json")); del a["power"]
json.dump(a, open("exp/refit/CTS/audit.json", "w")); node_id("exp/refit", "refit")
a = json.load(open("exp/nopw/CTS/audit.json")); del a["power"]
json.dump(a, open("exp/nopw/CTS/audit.json", "w")); node_id("exp/nopw", "nopw")
ls = [json.loads(l) for l in open("exp/nopw/CTS/host_metrics.jsonl")]
with open("exp/nopw/CTS/host_metrics.jsonl", "w") as f:
    for l in ls:
        l.pop("node_power_w", None); f.write(json.dumps(l) + "\n")
PY
"$TRACEKIT" export opendc --input exp --output odc-exp --json >exp.json 2>exp.err
check "the three-node export exits 0 and verify opendc passes" \
  bash -c 'test -s exp.json && "$TRACEKIT" verify opendc --input odc-exp >odc-exp.verify 2>&1'
check "refitted from the CTS host lines: the same model; no power: OpenDC's default, said to be an assumption" python3 - <<'PY'
import json, re
hs = {h["name"]: h["cpuPowerModel"] for c in json.load(open("odc-exp/topology.json"))["clusters"] for h in c["hosts"]}
print("# %s" % hs)
w = lambda s: float(s.removesuffix(" W"))
# the refit's model is parse's fit of that model (the best may differ when the RMSEs tie,
# as they do on a host loaded throughout: every curve then fits the points near 100%)
a = json.load(open("logs/pw/CTS/audit.json"))["power"]["fit"]
pw, rf = hs[[n for n in hs if n not in ("refit", "nopw")][0]], hs["refit"]
assert w(pw["idlePower"]) != 200, pw
same = [c for c in a["candidates"] if c["type"] == rf["type"]][0]
assert abs(w(rf["idlePower"]) - same["idle_w"]) <= 0.01 * same["idle_w"] + 0.5, (rf, same)
assert abs(w(rf["maxPower"]) - same["max_w"]) <= 0.01 * same["max_w"] + 0.5, (rf, same)
assert hs["nopw"] == {"type": "linear", "idlePower": "200 W", "maxPower": "400 W"}, hs["nopw"]
r = open("odc-exp/export_report.md").read()
assert "**Energy figures will be assumptions**: 1 of 3 nodes" in r, r
assert re.search(r"^### nopw: OpenDC's default \(linear, idle 200 W, max 400 W\): the node recorded no power; "
                 r"its energy figures will be assumptions$", r, re.M), r
assert re.search(r"^From `CTS/host_metrics.jsonl` \(refitted\)", r, re.M), r
pm = {p["node"]: p for p in json.load(open("exp.json"))["power_models"]}
assert pm["nopw"]["assumed"] and not pm["nopw"]["measured"] and pm["nopw"]["type"] == "linear", pm
assert pm["refit"]["from"] == "CTS/host_metrics.jsonl" and not pm["refit"]["assumed"], pm
PY
check "the text summary names each host's cpuPowerModel" bash -c \
  '"$TRACEKIT" export opendc --input exp --output odc-exp2 | grep -q "^cpuPowerModel of nopw: OpenDC.s default .*recorded no power"'
fi
