#!/usr/bin/env bash
# Containers and cgroups in the collector: a burner process started inside a
# test cgroup (v1 cpu/cpuacct/memory, or v2) is reported with that cgroup
# path in its first proc_metrics record and in CTS; `collect --cgroup`
# samples the whole group into cgroup_metrics.jsonl, and its CPU total
# matches the group's own counter read at the end (the burner is stopped
# before the collector, so the final sample must equal it); parse derives
# per-interval CPU.  Skips (with the reason) where cgroups cannot be made.
source "$(dirname "$0")/lib.sh"

# ---- usage errors (no privileges needed) ----
$TRACEKIT collect run --cgroup 'a/../b' --duration-s 1 --logs "$T/l0" >/dev/null 2>"$T/err"
check "--cgroup with '..': exit 2 naming it" bash -c "[ $? -eq 2 ] && grep -q \"a/../b\" '$T/err'"
$TRACEKIT collect run --cgroup / --duration-s 1 --logs "$T/l0" >/dev/null 2>&1
check "--cgroup /: exit 2" test $? -eq 2
$TRACEKIT collect run --run-id x --cgroup "tk-no-such-group-$$" --duration-s 1 --logs "$T/l0" >/dev/null 2>"$T/err"
check "--cgroup of a missing group: exit 1 naming it" bash -c "[ $? -eq 1 ] && grep -q 'tk-no-such-group-$$' '$T/err'"

if [ "$(id -u)" != 0 ]; then skip "cgroup tests: need root to create cgroups"; exit 0; fi
G=tk-cgtest-$$
DIRS=()
# v1 where the controllers are mounted (this machine), else v2.
if [ -d /sys/fs/cgroup/cpuacct ] && [ -d /sys/fs/cgroup/memory ] && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
  for c in cpu cpuacct memory; do
    [ -d /sys/fs/cgroup/$c ] || continue
    mkdir "/sys/fs/cgroup/$c/$G" 2>"$T/mk.err" || { skip "cgroup tests: cannot create /sys/fs/cgroup/$c/$G: $(cat "$T/mk.err")"; exit 0; }
    DIRS+=("/sys/fs/cgroup/$c/$G")
  done
  COUNTER="/sys/fs/cgroup/cpuacct/$G/cpuacct.usage"; DIV=1000
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir "/sys/fs/cgroup/$G" 2>"$T/mk.err" || { skip "cgroup tests: cannot create /sys/fs/cgroup/$G (v2): $(cat "$T/mk.err")"; exit 0; }
  DIRS+=("/sys/fs/cgroup/$G")
  COUNTER="/sys/fs/cgroup/$G/cpu.stat"; DIV=v2
else
  skip "cgroup tests: no cgroup v1 cpuacct+memory or v2 hierarchy mounted"; exit 0
fi
cg_cleanup() { local d; for d in "${DIRS[@]}"; do rmdir "$d" 2>/dev/null; done; }
trap 'cleanup; cg_cleanup' EXIT
ok "test cgroup $G created (${DIRS[*]})"

# The burner joins the group itself before it starts, so all its CPU and
# memory are charged there; it allocates 32 MiB and spins.
cat >"$T/burn.sh" <<EOF
for d in ${DIRS[*]}; do echo \$\$ > \$d/cgroup.procs || exit 3; done
exec python3 -c "
b = bytearray(32 << 20)
for i in range(0, len(b), 4096): b[i] = 1
while True: pass"
EOF
bash "$T/burn.sh" &
BURN=$!; track_pid $BURN
sleep 0.3
grep -q "$G" /proc/$BURN/cgroup || { not_ok "burner did not join $G: $(cat /proc/$BURN/cgroup)"; exit 1; }

mkdir -p "$T/logs/cg/pids"
echo "$BURN" >"$T/logs/cg/pids/$BURN"
$TRACEKIT collect run --run-id cg --logs "$T/logs" --cgroup "$G" --interval-ms 100 --host-interval-ms 250 \
  --duration-s 30 >"$T/collect.out" 2>&1 &
COL=$!; track_pid $COL
sleep 2.5
kill $BURN; wait $BURN 2>/dev/null
sleep 0.6
# the group's own counter, now that nothing in it runs
if [ "$DIV" = v2 ]; then END_US=$(awk '/^usage_usec/ {print $2}' "$COUNTER")
else END_US=$(( $(cat "$COUNTER") / 1000 )); fi
kill $COL; wait $COL
check "collector stops cleanly" test $? -eq 0

R=$T/logs/cg
check "the burner's first record names its cgroup, later ones do not" py "
import json
recs = [json.loads(l) for l in open('$R/proc_metrics.jsonl')]
mine = [r for r in recs if r['pid'] == $BURN]
assert len(mine) > 5, len(mine)
assert mine[0]['cgroup'] == '/$G', mine[0]
assert all('cgroup' not in r for r in mine[1:]), mine[1]
assert 'container_id' not in mine[0], mine[0]
"
check "cgroup_metrics.jsonl: the group sampled every interval, memory charged" py "
import json
recs = [json.loads(l) for l in open('$R/cgroup_metrics.jsonl')]
assert len(recs) >= 8, len(recs)
assert all(r['cgroup'] == '/$G' for r in recs), recs[0]
assert max(r['mem_bytes'] for r in recs) >= 32 << 20, max(r['mem_bytes'] for r in recs)
c = [r['cpu_usage_us'] for r in recs]
assert c == sorted(c) and c[-1] - c[0] > 2e5, c   # a shared machine: at least 0.2 s of CPU
"
check "final sample equals the group's counter at the end (burner stopped)" py "
import json
recs = [json.loads(l) for l in open('$R/cgroup_metrics.jsonl')]
assert abs(recs[-1]['cpu_usage_us'] - $END_US) <= 1000, (recs[-1]['cpu_usage_us'], $END_US)
"

$TRACEKIT parse --run-id cg --logs "$T/logs" >"$T/parse.out" 2>&1
check "parse: exit 0" test $? -eq 0
check "CTS: per-interval CPU adds up to the counter's growth; the burner shows up busy" py "
import json
raw = [json.loads(l) for l in open('$R/cgroup_metrics.jsonl')]
cts = [json.loads(l) for l in open('$R/CTS/cgroup_metrics.jsonl')]
assert len(cts) == len(raw) and cts[0]['dt_ms'] == 0 and cts[0]['cpu_util'] is None, cts[0]
total = sum(r['cpu_ms'] for r in cts)
assert abs(total - (raw[-1]['cpu_usage_us'] - raw[0]['cpu_usage_us']) / 1000) < 1, total
busy = [r['cpu_util'] for r in cts[1:] if r['cpu_ms'] > 0]
assert busy and max(busy) > 0.2, busy
"
check "CTS proc_metrics: the burner's first record carries the cgroup" py "
import json
recs = [json.loads(l) for l in open('$R/CTS/proc_metrics.jsonl')]
mine = [r for r in recs if r['pid'] == $BURN]
assert mine[0]['cgroup'] == '/$G' and all('cgroup' not in r for r in mine[1:]), mine[:2]
"
check "audit lists cgroup_metrics.jsonl" grep -q 'cgroup_metrics.jsonl' "$R/CTS/audit_report.md"
