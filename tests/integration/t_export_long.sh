#!/usr/bin/env bash
# tracekit export opendc on a run of few long processes (one task each, a
# service with HTTP requests beside them): memory must not grow with the
# processes' sample counts.  Each exec task's samples are read through a
# cursor over its time window (opendc_store.h), never held; --upstream-compat
# streams its fragments to their temporary file and keeps only one task id's
# usages for its 95th percentile.  Before, the store kept up to 4 processes'
# samples (88 bytes each) and --upstream-compat every fragment (40 bytes
# each with its sort order and percentiles).
source "$(dirname "$0")/lib.sh"
RELEASE=${TRACEKIT_RELEASE:-$ROOT/build/tracekit}

python3 - "$T" <<'EOF'
import json, os, sys
root = sys.argv[1]
T0 = 1758580000000
TICKS, PROCS = 100000, 4             # 4 processes x 100 000 ticks: 400 000 samples (+ a short service)
p = f'{root}/run/n1'
os.makedirs(f'{p}/CTS', exist_ok=True)
json.dump([{"node_id": "n1", "stage": "cloud", "cpu_cores": 4, "mem_mb": 8192, "cpu_model": "x",
            "cpu_freq_mhz": 2400}], open(f'{p}/CTS/nodes.json', 'w'))
with open(f'{p}/CTS/invocations.jsonl', 'w') as f:
    for i in range(PROCS):
        f.write(json.dumps({"trace_id": f"t{i}", "pid": 1000 + i, "ts_start": T0 - 40,
                            "ts_end": T0 + (TICKS - 1) * 100 + 30, "status": 0, "start_ticks": 50 + i,
                            **({"cpu_user_ms": TICKS * 40.0, "cpu_sys_ms": 1.5} if i % 2 else {})}) + '\n')
    for k in range(50):
        f.write(json.dumps({"trace_id": f"h{k}", "pid": 900, "kind": "http", "status": 200,
                            "ts_start": T0 + k * 1000 + 10, "ts_end": T0 + k * 1000 + 700}) + '\n')
with open(f'{p}/CTS/proc_metrics.jsonl', 'w') as f:
    for t in range(TICKS):
        for pid in [900] * (t < 600) + list(range(1000, 1000 + PROCS)):
            ts = T0 + t * 100 + pid % 7
            if t == 0:
                f.write('{"ts_ms": %d, "pid": %d, "dt_ms": 0, "cpu_ms": 0, "rss_kb": 500, "start_ticks": %d}\n'
                        % (ts, pid, 50 + pid - 1000 if pid >= 1000 else 9))
            else:
                f.write('{"ts_ms": %d, "pid": %d, "dt_ms": 100, "cpu_ms": %s, "run_delay_ms": 0.5, "rss_kb": %d, '
                        '"start_ticks": %d}\n' % (ts, pid, (pid * 13 + t * 7) % 200 / 2.0, 1000 + t % 977,
                                                  50 + pid - 1000 if pid >= 1000 else 9))
EOF
n=$(wc -l <"$T/run/n1/CTS/proc_metrics.jsonl")
per=100000

# the export works and keeps every task (ASan build)
check "export opendc of $n samples in 4 long processes" \
  $TRACEKIT export opendc --input "$T/run" --output "$T/ours" --quiet
check "every task and request exported, with its samples" \
  grep -q '^- Tasks: 54 exported (54 with samples, 0 without; 0 failed)' "$T/ours/export_report.md"
check "export opendc --upstream-compat of the same run" \
  $TRACEKIT export opendc --input "$T/run" --output "$T/compat" --quiet --upstream-compat

# peak RSS of the release build (KB)
peak() {
  python3 - "$RELEASE" "$@" <<'EOF'
import resource, subprocess, sys
subprocess.run([sys.argv[1], 'export', 'opendc', '--quiet'] + sys.argv[2:], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
EOF
}
if [ -x "$RELEASE" ]; then
  # ours: one task's window as spans and fragments (about 150 bytes a
  # sample of the largest task), not 4 processes' samples at 88 bytes
  rss=$(peak --input "$T/run" --output "$T/ours-rss")
  limit=$(( (per * 200 + 8 * 1048576) / 1024 ))
  check "peak RSS ${rss} KB below ${limit} KB (200 bytes a sample of one task + 8 MB; holding 4 processes' samples took $((4 * per * 88 / 1024)) KB more)" \
    [ "${rss:-999999999}" -lt "$limit" ]
  # --upstream-compat: a constant (a block of each run, one id's usages)
  rss=$(peak --input "$T/run" --output "$T/compat-rss" --upstream-compat)
  limit=$(( (n * 30 + 8 * 1048576) / 1024 ))
  check "--upstream-compat: peak RSS ${rss} KB below ${limit} KB (30 bytes a sample + 8 MB; its fragments alone took 40 bytes each)" \
    [ "${rss:-999999999}" -lt "$limit" ]
else
  skip "no release build at $RELEASE for the memory checks"
fi
