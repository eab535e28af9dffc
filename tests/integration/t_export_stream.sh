#!/usr/bin/env bash
# tracekit export opendc on a run bigger than the sample store's chunk
# (opendc_store.h): the samples go through the external sort and the
# fragments through their temporary file, and come out the same whatever
# the order of CTS/proc_metrics.jsonl (the collector's time order, grouped
# by process, shuffled); exec tasks, a service process with HTTP requests
# interleaved with them, a PID reused.  Peak RSS of the release build stays
# far below what holding the samples took (80 bytes each).
source "$(dirname "$0")/lib.sh"
RELEASE=${TRACEKIT_RELEASE:-$ROOT/build/tracekit}

python3 - "$T" <<'EOF'
import json, os, random, sys
root = sys.argv[1]
T0 = 1758580000000
TICKS, PROCS = 4000, 160            # 2 nodes x ~160 processes x ~2000 ticks: ~650 000 samples
rng = random.Random(7)
lines_by_node = {}
for n in ('n1', 'n2'):
    p = f'{root}/time/{n}'
    os.makedirs(f'{p}/CTS', exist_ok=True)
    json.dump([{"node_id": n, "stage": "cloud", "cpu_cores": 4, "mem_mb": 8192, "cpu_model": "x",
                "cpu_freq_mhz": 2400}], open(f'{p}/CTS/nodes.json', 'w'))
    invs, procs = [], []
    for i in range(PROCS):
        a = rng.randrange(0, TICKS // 2); b = rng.randrange(a + 5, TICKS)
        pid = 20000 + i
        procs.append((pid, 700000 + i, a, b))
        invs.append({"trace_id": f"{n}-t{i}", "pid": pid, "ts_start": T0 + a * 100 - 40,
                     "ts_end": T0 + b * 100 + 30, "status": 0, "start_ticks": 700000 + i,
                     **({"cpu_user_ms": (b - a) * 40.0, "cpu_sys_ms": 1.5} if i % 3 else {})})
    # a PID reused: two processes, two tasks
    procs += [(30000, 1, 10, 400), (30000, 2, 600, 1500)]
    invs += [{"trace_id": f"{n}-r1", "pid": 30000, "ts_start": T0 + 990, "ts_end": T0 + 40010,
              "start_ticks": 1, "status": 0},
             {"trace_id": f"{n}-r2", "pid": 30000, "ts_start": T0 + 59990, "ts_end": T0 + 150010,
              "start_ticks": 2, "status": 1}]
    # a service sampled all along, its requests between the tasks
    procs.append((500, 9, 0, TICKS - 1))
    for k in range(300):
        a = rng.randrange(0, TICKS * 100 - 2000)
        invs.append({"trace_id": f"{n}-h{k}", "pid": 500, "kind": "http", "status": 200,
                     "ts_start": T0 + a, "ts_end": T0 + a + rng.randrange(1, 1500)})
    with open(f'{p}/CTS/invocations.jsonl', 'w') as f:
        for v in invs:
            f.write(json.dumps(v) + '\n')
    out = []
    for t in range(TICKS):
        for pid, st, a, b in procs:
            if a <= t <= b:
                ts = T0 + t * 100 + (pid * 7 + t) % 5
                if t == a:
                    out.append('{"ts_ms": %d, "pid": %d, "dt_ms": 0, "cpu_ms": 0, "rss_kb": %d, "start_ticks": %d}'
                               % (ts, pid, 1000 + t, st))
                else:
                    cpu = (pid * 13 + t * 7) % 200 / 2.0
                    out.append('{"ts_ms": %d, "pid": %d, "dt_ms": %s, "cpu_ms": %s, "run_delay_ms": %s, '
                               '"rss_kb": %d, "start_ticks": %d}' % (ts, pid, 100 + (t % 3), cpu, (t % 5) * 0.25,
                                                                      1000 + t, st))
    lines_by_node[n] = out
    with open(f'{p}/CTS/proc_metrics.jsonl', 'w') as f:
        f.write('\n'.join(out) + '\n')
# the same samples grouped by process, and shuffled
for name, order in (('grouped', lambda v: sorted(v, key=lambda l: json.loads(l)["pid"])),
                    ('shuffled', lambda v: rng.sample(v, len(v)))):
    for n in ('n1', 'n2'):
        p = f'{root}/{name}/{n}/CTS'
        os.makedirs(p, exist_ok=True)
        for f in ('nodes.json', 'invocations.jsonl'):
            os.link(f'{root}/time/{n}/CTS/{f}', f'{p}/{f}')
        with open(f'{p}/proc_metrics.jsonl', 'w') as f:
            f.write('\n'.join(order(lines_by_node[n])) + '\n')
print(sum(len(v) for v in lines_by_node.values()), file=open(f'{root}/count', 'w'))
EOF
n=$(cat "$T/count")
check "the run has more samples ($n) than one chunk of the store" [ "$n" -gt 262144 ]

# same NAME OPTS...: tasks and fragments of every order identical
same() {
  local name=$1; shift
  local ok=1
  for order in time grouped shuffled; do
    if ! $TRACEKIT export opendc --input "$T/$order" --output "$T/out-$name-$order" --quiet "$@" \
        >"$T/$order.log" 2>&1; then
      not_ok "$name: export of the $order file failed: $(tail -2 "$T/$order.log")"; return
    fi
  done
  for order in grouped shuffled; do
    for f in tasks.parquet fragments.parquet; do
      cmp -s "$T/out-$name-time/$f" "$T/out-$name-$order/$f" || ok=0
    done
  done
  check "$name: time-ordered, grouped and shuffled files give the same tasks and fragments" [ $ok = 1 ]
}
same received
same demand --cpu-usage demand

# the output is the one the samples give (not empty, tasks and requests)
check "every task and request exported, with its samples" \
  grep -q '^- Tasks: 924 exported (924 with samples, 0 without; 2 failed)' "$T/out-received-time/export_report.md"

# peak RSS of the release build: the samples alone took 80 bytes each
if [ -x "$RELEASE" ]; then
  rss=$(python3 - "$RELEASE" "$T/time" "$T/out-rss" <<'EOF'
import resource, subprocess, sys
subprocess.run([sys.argv[1], 'export', 'opendc', '--input', sys.argv[2], '--output', sys.argv[3], '--quiet'],
               check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
EOF
)
  held=$((n * 80 / 1024))
  check "peak RSS ${rss} KB, below the ${held} KB the samples alone took" [ "${rss:-999999999}" -lt "$held" ]
else
  skip "no release build at $RELEASE for the memory check"
fi
