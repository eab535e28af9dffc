#!/usr/bin/env bash
# t_opendc_hostile.sh -- hostile OpenDC files and failing disks (issue #13):
# a 333-byte Parquet "decompression bomb" (one RLE run claiming 2^26 values)
# makes `verify opendc` and `report` fail fast, in little memory, with a
# message naming the file, the column and the claim (it took 18 s and 2.4 GB
# before); an export that fails half-way (file size limit: EFBIG) leaves the
# previous export whole and no staging folder or partial file behind.
source "$(dirname "$0")/lib.sh"
# Time and memory are measured on the release build (ASan's start-up and
# shadow memory are not the reader's); the ASan build runs the same commands
# for its sanitizers.
REL=${TRACEKIT_RELEASE:-$ROOT/build/tracekit}
[ -x "$REL" ] || REL=$TRACEKIT

# peak FILE CMD...: run CMD (output in FILE.out); "MS KIB" into FILE, its
# wall-clock time and peak RSS (the kernel's rusage of the child, through
# python3: its own start-up is not counted); CMD's exit code is returned.
peak() {
  local f=$1; shift
  python3 - "$f" "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
rc = subprocess.call(sys.argv[2:], stdout=open(sys.argv[1] + '.out', 'w'), stderr=subprocess.STDOUT)
ms = (time.monotonic() - t) * 1000
open(sys.argv[1], 'w').write('%d %d\n' % (ms, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)
PY
}

# ---- 1. the bomb ----
mkdir -p "$T/bomb"
python3 "$ROOT/tests/integration/pq_bomb.py" "$T/bomb/fragments.parquet" $((1 << 26))
cp "$ROOT/tests/fuzz/corpus/parquet/taskScaling_100_tasks-tasks.parquet" "$T/bomb/tasks.parquet"
check "the bomb is tiny ($(stat -c %s "$T/bomb/fragments.parquet") bytes)" \
  test "$(stat -c %s "$T/bomb/fragments.parquet")" -lt 1024

for cmd in "verify opendc --input $T/bomb" "report --input $T/bomb --output $T/bomb.html"; do
  name=${cmd%% --*}
  TRACEKIT_PARQUET_MAX_MB= peak "$T/rss" $REL $cmd
  rc=$?
  read -r ms kb <"$T/rss"
  TRACEKIT_PARQUET_MAX_MB= timeout 60 $TRACEKIT $cmd >"$T/asan.out" 2>&1
  check "$name on the bomb under ASan: exit 1, no sanitizer report (got $?)" \
    sh -c "test $? -eq 1 && ! grep -q Sanitizer '$T/asan.out'"
  check "$name on the bomb exits 1 (got $rc)" test "$rc" -eq 1
  check "$name on the bomb is fast: ${ms} ms < 2000 ms" test "$ms" -lt 2000
  check "$name on the bomb stays small: peak RSS ${kb} KiB < 200 MiB" test "$kb" -lt $((200 * 1024))
  check "$name names the file, the column and the claim" \
    grep -q "fragments.parquet: row group 0, column 'id': a data page claims 67108864 values in 5 bytes" "$T/rss.out"
done

# A bomb that stays under the per-page ratio (2^20 values, legal for a page)
# but whose row group is over a budget of 4 MiB: the budget stops it, and
# the message says how to raise it.
python3 "$ROOT/tests/integration/pq_bomb.py" "$T/bomb/fragments.parquet" $((1 << 20))
TRACEKIT_PARQUET_MAX_MB=4 $TRACEKIT verify opendc --input "$T/bomb" >"$T/budget.out" 2>&1
check "a row group over the budget fails with a message naming the budget and its variable" \
  grep -q "column 'id': the column of 1048576 values needs 4.0 MiB, beyond the 4 MiB this file may use (0.0 MiB used so far).*TRACEKIT_PARQUET_MAX_MB" \
  "$T/budget.out"
TRACEKIT_PARQUET_MAX_MB=64 $TRACEKIT verify opendc --input "$T/bomb" >"$T/budget.out" 2>&1
check "the same file reads with the budget raised" grep -q "summary: 100 tasks.*1048576 fragments" "$T/budget.out"

# ---- 2. a failed export leaves the previous one whole ----
python3 - "$T" <<'PY'
import json, os, sys
T0 = 1758580000000
root = sys.argv[1]
for name, n in (('small', 2), ('big', 3000)):
    p = f'{root}/{name}'
    os.makedirs(f'{p}/CTS', exist_ok=True)
    json.dump({"run_id": "r1", "node": "vm0", "cpu_cores": 4, "mem_mb": 16000, "cpu_freq_mhz": 2400},
              open(f'{p}/node_meta.json', 'w'))
    json.dump([{"node_id": "vm0", "stage": "cloud", "cpu_cores": 4, "mem_mb": 16384, "cpu_freq_mhz": 2400}],
              open(f'{p}/CTS/nodes.json', 'w'))
    with open(f'{p}/CTS/invocations.jsonl', 'w') as f:
        for i in range(n):
            f.write(json.dumps({"trace_id": f"t{i}", "pid": 1000 + i, "ts_enqueue": T0 + i, "ts_start": T0 + i,
                                "ts_end": T0 + i + 5000, "status": 0, "cpu_user_ms": 100 + i, "cpu_sys_ms": 0,
                                "max_rss_kb": 1000}) + '\n')
    with open(f'{p}/CTS/proc_metrics.jsonl', 'w') as f:
        for i in range(n):
            for k in range(1, 5):
                f.write(json.dumps({"ts_ms": T0 + i + 1000 * k, "pid": 1000 + i, "dt_ms": 1000,
                                    "cpu_ms": (i * 7 + k * 13) % 1000, "rss_kb": 1000}) + '\n')
PY
check "export of the small run" $TRACEKIT export opendc --input "$T/small" --output "$T/out/odc"
echo "keep me" >"$T/out/odc/notes.txt"
sums() { (cd "$T/out/odc" && sha256sum tasks.parquet fragments.parquet topology.json export_report.md notes.txt); }
sums >"$T/before.sum"
check "export of the big run (to size its files)" $TRACEKIT export opendc --input "$T/big" --output "$T/sized"
tk=$(( $(stat -c %s "$T/sized/tasks.parquet") / 1024 + 1 ))
fk=$(( $(stat -c %s "$T/sized/fragments.parquet") / 1024 ))
check "the big run's fragments ($fk KiB) outgrow its tasks ($tk KiB)" test "$fk" -gt "$tk"
# A file size limit between the two: tasks.parquet is written, fragments.parquet fails (EFBIG).
(trap '' XFSZ; ulimit -f "$tk"; exec $TRACEKIT export opendc --input "$T/big" --output "$T/out/odc") \
  >"$T/fail.out" 2>&1
rc=$?
check "the export that hits the file size limit fails (exit $rc)" test "$rc" -eq 1
check "... saying why" grep -qi "file too large" "$T/fail.out"
sums >"$T/after.sum"
check "the previous export is intact, byte for byte (and the user's notes.txt)" cmp "$T/before.sum" "$T/after.sum"
check "no staging folder or partial file is left" \
  test -z "$(find "$T/out" -name '*.tmp*' -o -name '.*export*')"
check "a later export replaces the set and keeps notes.txt" \
  $TRACEKIT export opendc --input "$T/big" --output "$T/out/odc"
check "... with the big run's files" cmp "$T/out/odc/tasks.parquet" "$T/sized/tasks.parquet"
check "... and the user's file" grep -q "keep me" "$T/out/odc/notes.txt"
check "an export into . works (staged next to the resolved folder)" \
  bash -c "cd '$T/out/odc' && $TRACEKIT export opendc --input '$T/small' --output . >/dev/null"
chmod 0710 "$T/out/odc"
$TRACEKIT export opendc --input "$T/small" --output "$T/out/odc" >/dev/null 2>&1
check "a re-export keeps the mode the user gave the folder (0710: $(stat -c %a "$T/out/odc"))" \
  test "$(stat -c %a "$T/out/odc")" = 710
chmod 0555 "$T/out/odc"
check "a read-only export folder (0555) gets the new set and stays read-only" \
  bash -c "$TRACEKIT export opendc --input '$T/big' --output '$T/out/odc' >/dev/null 2>&1 && test \"\$(stat -c %a '$T/out/odc')\" = 555"
chmod 0755 "$T/out/odc"
ln -s /etc/hostname "$T/out/odc/link"
sums >"$T/before2.sum"
$TRACEKIT export opendc --input "$T/small" --output "$T/out/odc" >/dev/null 2>"$T/link.err"; rc=$?
check "a folder holding a symbolic link is refused (exit $rc), naming it: $(head -c 160 "$T/link.err")" \
  bash -c "[ $rc -ne 0 ] && grep -q \"'link', which is not a regular file\" '$T/link.err'"
sums >"$T/after2.sum"
check "... and the folder is left as it was, the link too" \
  bash -c "cmp -s '$T/before2.sum' '$T/after2.sum' && test -L '$T/out/odc/link'"
