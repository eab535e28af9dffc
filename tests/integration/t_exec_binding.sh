#!/usr/bin/env bash
# t_exec_binding.sh -- tracekit exec CPU binding: exclusive CPUs from a
# shared allocator, shared-mode cgroup weight and quota.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export RUN_ID=tbind NODE_ID=node1
unset TS_ENQUEUE CPUSET CPU_WEIGHT CPU_QUOTA PROC_PID_DIR
R=logs/tbind
PARENT="tk-test-$$"   # our own cgroup parent, removed at the end
CGINFO="$ROOT/tests/integration/helpers/cgroup_info.py"
${CC:-cc} -O2 -o burn "$ROOT/tests/integration/helpers/burn.c" || { not_ok "build the CPU burner"; exit 1; }

rec() { py "import json; r=[json.loads(l) for l in open('$R/events.$1.jsonl')][-1]; print(r['$2'])"; }
allowed() { awk '/^Cpus_allowed_list/ {print $2}' /proc/$1/status; }
wait_sentinels() {  # N: wait until N sentinels exist
  for _ in $(seq 200); do [ "$(ls $R/pids 2>/dev/null | wc -l)" -ge "$1" ] && return 0; sleep 0.05; done
  return 1
}

# --- exclusive ---
ncpu=$(nproc)
if [ "$ncpu" -lt 2 ] || ! grep -Eq '^Cpus_allowed_list:\s+0-' /proc/self/status; then
  skip "exclusive binding needs CPUs 0 and 1 (have $ncpu CPUs: $(allowed self))"
else
  # Two concurrent 1-unit tasks out of CPUs 0-1 must land on different CPUs.
  "$TRACEKIT" exec -q --app ex --cpu-binding exclusive --cpu-units 1 --cpuset 0-1 -- sleep 3 & e1=$!; track_pid $e1
  "$TRACEKIT" exec -q --app ex --cpu-binding exclusive --cpu-units 1 --cpuset 0-1 -- sleep 3 & e2=$!; track_pid $e2
  wait_sentinels 2
  set -- $(ls $R/pids)
  a1=$(allowed "$1"); a2=$(allowed "$2")
  check "2 concurrent exclusive 1-unit tasks run on different single CPUs ($a1 / $a2)" \
    bash -c "[ -n '$a1' ] && [ -n '$a2' ] && [ '$a1' != '$a2' ] && [[ '$a1' =~ ^[01]$ ]] && [[ '$a2' =~ ^[01]$ ]]"
  check "the CPU lease file holds both CPUs" bash -c "[ \$(grep -vc '^#' $R/cpus.state) = 2 ]"
  # A third task finds no free CPU: it says so, runs unpinned, and the record says so.
  "$TRACEKIT" exec --app ex3 --cpu-binding exclusive --cpu-units 1 --cpuset 0-1 -- true 2>err3
  check "third task: clear warning that no CPU is free" grep -q "need 1 free CPU out of 0-1, but 0-1 are held" err3
  check "third task: record says binding none, no cpuset, not pretending" \
    py "import json; r=[json.loads(l) for l in open('$R/events.ex3.jsonl')][-1]; assert r['cpu_binding']=='none' and r['cpuset'] is None and r['status']==0, r"
  wait $e1 $e2
  check "both exclusive records say what was applied" py "
import json
rs = [json.loads(l) for l in open('$R/events.ex.jsonl')][-2:]
assert sorted(r['cpuset'] for r in rs) == ['0', '1'], rs
assert all(r['cpu_binding'] == 'exclusive' and r['cpuset_applied'] == r['cpuset'] for r in rs), rs"
  check "leases are given back after the tasks" bash -c "[ \$(grep -vc '^#' $R/cpus.state) = 0 ]"

  # Stress: 6 concurrent tasks for 2 CPUs.  Those that got a CPU must never
  # share it in time (leases are taken before ts_start, given back after ts_end).
  pids=()
  for i in 1 2 3 4 5 6; do
    "$TRACEKIT" exec -q --app stress --cpu-binding exclusive --cpuset 0-1 -- sleep 0.4 2>/dev/null & pids+=($!)
  done
  wait "${pids[@]}"
  check "stress: no two tasks held the same CPU at the same time" py "
import json
rs = [json.loads(l) for l in open('$R/events.stress.jsonl')]
assert len(rs) == 6, len(rs)
pinned = [r for r in rs if r['cpu_binding'] == 'exclusive']
assert 2 <= len(pinned) <= 6, rs
for a in pinned:
    for b in pinned:
        if a is not b and a['cpuset'] == b['cpuset']:
            assert a['ts_end'] <= b['ts_start'] or b['ts_end'] <= a['ts_start'], (a, b)
for r in rs:
    assert (r['cpu_binding'] == 'exclusive') == (r['cpuset'] is not None), r"
  check "stress: all leases given back" bash -c "[ \$(grep -vc '^#' $R/cpus.state) = 0 ]"

  # A killed exec leaves its task running: the lease stays until the task is gone.
  "$TRACEKIT" exec -q --app exk --cgroup-parent "$PARENT" --cpu-binding exclusive --cpuset 0-1 -- sleep 30 & ek=$!; track_pid $ek
  wait_sentinels 1
  orphan=$(ls $R/pids | head -1); track_pid "$orphan"
  kill -KILL $ek; wait $ek 2>/dev/null
  "$TRACEKIT" exec --app exk2 --cpu-binding exclusive --cpu-units 2 --cpuset 0-1 -- true 2>errk
  check "a CPU held by a task whose exec was killed is not handed out" grep -q "need 2 free CPUs" errk
  kill -TERM "$orphan"; for _ in $(seq 100); do kill -0 "$orphan" 2>/dev/null || break; sleep 0.02; done
  rm -f $R/pids/"$orphan"   # the collector removes stale sentinels; here we do
  ls -d /sys/fs/cgroup/*/"$PARENT"/task-"$orphan"-* /sys/fs/cgroup/"$PARENT"/task-"$orphan"-* 2>/dev/null > stale_cg
  "$TRACEKIT" exec -q --app exk3 --cgroup-parent "$PARENT" --cpu-binding exclusive --cpu-units 2 --cpuset 0-1 -- true
  check "... and is reclaimed once that task is gone" \
    py "import json; r=[json.loads(l) for l in open('$R/events.exk3.jsonl')][-1]; assert r['cpuset']=='0-1' and r['cpu_binding']=='exclusive', r"
  check "the killed exec's leftover cgroup is swept by the next exec ($(wc -l < stale_cg) found)" \
    bash -c "while read -r d; do [ -e \"\$d\" ] && exit 1; done < stale_cg; exit 0"

  # The exclusive task is also in a cpuset cgroup where the machine has one.
  "$TRACEKIT" exec -q --app exc --cgroup-parent "$PARENT" --cpu-binding exclusive --cpuset 0-1 -- python3 "$CGINFO" ci_ex.json 2>errc
  cg=$(rec exc cgroup)
  if [ "$cg" = None ]; then
    skip "cpuset cgroup: the machine gave none ($(grep -o 'exclusive CPU binding.*' errc | head -1))"
  else
    check "exclusive task sits in its cpuset cgroup with its CPU" \
      py "import json; i=json.load(open('ci_ex.json')); r=[json.loads(l) for l in open('$R/events.exc.jsonl')][-1]; assert i['cpuset_path']==r['cgroup'] and i['cpuset_cpus']==r['cpuset'], (i, r)"
    check "cpuset cgroup removed after the run" py "import json,os; i=json.load(open('ci_ex.json')); assert not os.path.exists(i['cpuset_dir'])"
  fi
fi

# --- shared ---
can_cg=$(py "
import os
m = {}
for line in open('/proc/self/mountinfo'):
    pre, post = line.split(' - ', 1)
    fs, _, opts = post.split()[:3]
    mnt = pre.split()[4]
    if fs == 'cgroup' and 'cpu' in opts.split(','): m['v1'] = mnt
    if fs == 'cgroup2': m['v2'] = mnt
ok = ('v1' in m and os.access(m['v1'], os.W_OK)) or ('v2' in m and 'cpu' in open(m['v2'] + '/cgroup.controllers').read().split() and os.access(m['v2'], os.W_OK))
print('yes' if ok else 'no')")
if [ "$can_cg" != yes ]; then
  skip "shared binding: this machine allows no CPU cgroups here (not root, or no cpu controller)"
  "$TRACEKIT" exec --app shno --cpu-binding shared -- true 2>errs
  check "without cgroups shared mode warns once and records none" \
    bash -c "[ \$(grep -c 'shared CPU binding' errs) = 1 ] && [ \"\$(python3 -c \"import json; print([json.loads(l) for l in open('$R/events.shno.jsonl')][-1]['cpu_binding'])\")\" = none ]"
else
  "$TRACEKIT" exec -q --app sh2 --cgroup-parent "$PARENT" --cpu-binding shared --cpu-units 2 -- python3 "$CGINFO" ci2.json
  check "shared, 2 units: the task's cgroup has weight 200 (v2) / 2048 shares (v1)" py "
import json
i = json.load(open('ci2.json'))
assert (i.get('cpu_version') == 'v1' and i['shares'] == '2048') or (i.get('cpu_version') == 'v2' and i['weight'] == '200'), i
assert i['cpu_path'].startswith('/$PARENT/task-'), i
assert i.get('quota_us', '-1') == '-1' and i.get('max', 'max 100000').startswith('max'), i  # work-conserving"
  check "shared record: binding, weight and cgroup as applied" \
    py "import json; i=json.load(open('ci2.json')); r=[json.loads(l) for l in open('$R/events.sh2.jsonl')][-1]; assert r['cpu_binding']=='shared' and r['cpu_weight_applied']==200 and r['cpu_quota_applied'] is None and r['cgroup']==i['cpu_path'] and r['cpu_units']==2, r"
  check "the task's cgroup is removed after the run" py "import json,os; assert not os.path.exists(json.load(open('ci2.json'))['cpu_dir'])"

  CPU_WEIGHT=300 "$TRACEKIT" exec -q --app shw --cgroup-parent "$PARENT" -- python3 "$CGINFO" ciw.json
  check "CPU_WEIGHT=300 alone selects shared mode with that weight" \
    py "import json; i=json.load(open('ciw.json')); assert i.get('shares')=='3072' or i.get('weight')=='300', i; r=[json.loads(l) for l in open('$R/events.shw.jsonl')][-1]; assert r['cpu_binding']=='shared' and r['cpu_weight_applied']==300"

  # A 50% quota really caps the task: 150 ms of CPU needs >= ~200 ms of wall time.
  "$TRACEKIT" exec -q --app shq --cgroup-parent "$PARENT" --cpu-quota 50 -- sh -c "python3 '$CGINFO' ciq.json && exec ./burn 150 repq"
  check "--cpu-quota 50: quota 50000 us per 100000 us" \
    py "import json; i=json.load(open('ciq.json')); assert (i.get('quota_us'), i.get('period_us')) == ('50000', '100000') or i.get('max') == '50000 100000', i"
  check "--cpu-quota 50: the task is throttled and the record says so" \
    py "import json; r=[json.loads(l) for l in open('$R/events.shq.jsonl')][-1]; assert r['cpu_quota_applied']==50 and r['cpu_weight_applied']==100 and r['ts_end']-r['ts_start'] >= 200, r"
fi

for d in /sys/fs/cgroup/cpu/"$PARENT" /sys/fs/cgroup/cpuset/"$PARENT" /sys/fs/cgroup/unified/"$PARENT" /sys/fs/cgroup/"$PARENT"; do
  [ -d "$d" ] && rmdir "$d" 2>/dev/null
done
check "no task cgroups left under the test parent" bash -c "! ls -d /sys/fs/cgroup/*/$PARENT/task-* /sys/fs/cgroup/$PARENT/task-* 2>/dev/null | grep -q ."
check "no sentinel left" bash -c "[ -z \"\$(ls -A $R/pids)\" ]"
