#!/usr/bin/env bash
# tracekit compare, replay and report against hostile inputs: OpenDC output
# folders holding FIFOs, symlinks, empty and huge files, several outputs;
# Parquet whose known columns lie (types, negative or absurd times, NaN,
# duplicate and missing tasks, missing hosts), a run without CTS/.  Nothing
# may hang, crash, read outside or give a silently wrong figure: errors name
# the file and what was expected, dropped rows are counted and said.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/tools/need-hyparquet.sh"
cd "$T"
need_hyparquet
W() { (cd "$ROOT/tests" && node tools/pqwrite.mjs "$T/$1"); }
TO="timeout 60"

for i in 1 2 3 4; do echo '{"argv": ["sleep", "0.2"], "cpu_units": 1}'; done >tasks.jsonl
"$TRACEKIT" local --run-id r1 --logs logs --tasks tasks.jsonl --nodes a --capacity-units 2 \
  --interval-ms 100 --host-interval-ms 100 --quiet 2>local.err ||
  { not_ok "local run: $(tail -3 local.err)"; exit 0; }
"$TRACEKIT" parse --run-id r1 --logs logs --quiet
"$TRACEKIT" export opendc --input logs/r1 --output odc --quiet 2>export.err ||
  { not_ok "export: $(tail -3 export.err)"; exit 0; }
"$TRACEKIT" replay --input odc --opendc-output pred --output pred.jsonl >/dev/null
$TO "$TRACEKIT" compare --run logs/r1 --input odc --opendc-output pred --json >base.json 2>base.err
check "the base case compares" test $? -eq 0

# cmp NAME DIR: compare DIR, exit status in $rc, stderr in NAME.err, stdout in NAME.json
cmp() { $TO "$TRACEKIT" compare --run logs/r1 --input odc --opendc-output "$2" --json >"$1.json" 2>"$1.err"; rc=$?; }

# ---- the folder: FIFOs, symlinks, empty, huge, several outputs ----
for f in task host powerSource; do
  mkdir -p fifo_$f && cp pred/*.parquet fifo_$f/ && rm -f fifo_$f/$f.parquet && mkfifo fifo_$f/$f.parquet
  cmp fifo_$f fifo_$f
  check "a FIFO as $f.parquet: exit 1 at once (no hang), naming it: $(head -c 150 fifo_$f.err)" \
    sh -c "[ $rc -eq 1 ] && grep -q 'fifo_$f/$f.parquet: not a regular file' fifo_$f.err"
done
mkdir -p fifo_in && mkfifo fifo_in/tasks.parquet
$TO "$TRACEKIT" compare --run logs/r1 --input fifo_in --opendc-output pred >/dev/null 2>fifo_in.err; rc=$?
check "a FIFO as the export's tasks.parquet: exit 1, no hang" sh -c "[ $rc -eq 1 ] && grep -q 'not a regular file' fifo_in.err"
mkdir -p link && ln -s /etc/passwd link/task.parquet
cmp link link
check "task.parquet a symlink: not followed, said: $(head -c 150 link.err)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'symbolic link (not followed)' link.err"
mkdir -p outside/raw-output/0/seed=0 && cp pred/*.parquet outside/raw-output/0/seed=0/
mkdir -p linkdir/raw-output/0 && ln -s "$T/outside/raw-output/0/seed=0" linkdir/raw-output/0/seed=0
cmp linkdir linkdir
check "an output folder reached through a symlink is not searched (it may lead outside DIR)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'no task.parquet in linkdir' linkdir.err"
mkdir -p loop/a && ln -s .. loop/a/b
cmp loop loop
check "a symlink loop below DIR: exit 1 at once" test $rc -eq 1

# ---- empty files: 0 bytes, and Parquet of 0 rows ----
mkdir -p empty0 && cp pred/*.parquet empty0/ && : >empty0/task.parquet
cmp empty0 empty0
check "a 0-byte task.parquet: exit 1 naming it: $(head -c 150 empty0.err)" \
  sh -c "[ $rc -eq 1 ] && grep -q 'empty0/task.parquet: not a Parquet file (0 bytes)' empty0.err"
cat >empty.spec <<'SPEC'
{"rows0/task.parquet": [{"name": "task_id", "type": "INT32", "data": []}, {"name": "timestamp", "type": "INT64", "data": []},
  {"name": "timestamp_absolute", "type": "INT64", "data": []}, {"name": "submission_time", "type": "INT64", "nullable": true, "data": []},
  {"name": "schedule_time", "type": "INT64", "nullable": true, "data": []}, {"name": "finish_time", "type": "INT64", "nullable": true, "data": []}],
 "hosts0/host.parquet": [{"name": "host_name", "type": "STRING", "data": []}, {"name": "cpu_utilization", "type": "FLOAT", "data": []}]}
SPEC
mkdir -p rows0 hosts0 && cp pred/task.parquet hosts0/ && W empty.spec
cmp rows0 rows0
check "a task.parquet of 0 rows (empty row-group list, element type 0 as hyparquet-writer writes it): 'has no rows', not 'corrupt footer'" \
  sh -c "[ $rc -eq 1 ] && grep -q 'rows0/task.parquet has no rows' rows0.err"
cmp hosts0 hosts0
check "a host.parquet of 0 rows: compared, host utilisation said missing" py '
import json
c = json.load(open("hosts0.json"))
assert c["matched"] == 4 and any("predicted host utilisation" in m for m in c["missing"]), c'
