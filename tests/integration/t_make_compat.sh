#!/usr/bin/env bash
# The original's make habits (issue #18, item 10): `make stop`, `make
# export-opendc RUN_ID=...`, VM_IP choosing the interface, one line for each
# switch with nothing left to switch (USE_PY_COLLECT, PROC_SAMPLING,
# PROC_REFRESH, STOP_ALL); and quiet build lines with V=1 for the commands.
. "$(dirname "$0")/lib.sh"
cd "$T"
unset RUN_ID NODE_ID STAGE IFACE VM_IP USE_PY_COLLECT PROC_SAMPLING PROC_REFRESH STOP_ALL PROC_PID_DIR
mk() { make -s -C "$ROOT" --no-print-directory "$@"; }
rid=mkc$$

# start-collect with VM_IP: the interface routing to it is node_meta's iface
VM_IP=127.0.0.2 PROC_PID_DIR= mk start-collect RUN_ID=$rid >"$T/start.out" 2>&1
check "make start-collect with VM_IP=127.0.0.2 starts the collector" test -f "$ROOT/logs/$rid/collector.json"
iface=$(python3 -c "import json;print(json.load(open('$ROOT/logs/$rid/node_meta.json'))['iface'])" 2>/dev/null)
check "VM_IP picks the interface that routes to it (lo, got '$iface')" test "$iface" = lo
check "... and says so" grep -q 'VM_IP 127.0.0.2 is reached through interface lo' "$T/start.out"

# make stop with the original's switches: one line each, the collector stopped
USE_PY_COLLECT=1 PROC_SAMPLING=1 mk stop RUN_ID=$rid STOP_ALL=1 PROC_REFRESH=1 >"$T/stop.out" 2>&1; rc=$?
check "make stop stops the run's collector (rc $rc)" test "$rc" -eq 0
"$TRACEKIT_RELEASE" collect status --logs "$ROOT/logs" --run-id $rid >/dev/null 2>&1; st=$?
check "... it is no longer running (status exit $st)" test "$st" -eq 3
for v in USE_PY_COLLECT=1 PROC_SAMPLING=1 PROC_REFRESH=1 STOP_ALL=1; do
  check "make stop acknowledges $v in one line" test "$(grep -c "^note: $v ignored: " "$T/stop.out")" -eq 1
done
mk stop-collect RUN_ID=$rid >"$T/quiet.out" 2>&1
check "without them there is no note" bash -c "! grep -q '^note:' '$T/quiet.out'"
mk stop RUN_ID=$rid >"$T/again.out" 2>&1; rc=$?
check "make stop with nothing running exits 0 and says so (as the original ignored it)" \
  bash -c "test $rc -eq 0 && grep -q 'no running collector to stop' '$T/again.out'"
"$TRACEKIT_RELEASE" collect stop --logs "$ROOT/logs" --run-id $rid >/dev/null 2>&1
rm -rf "$ROOT/logs/$rid"; rmdir "$ROOT/logs" 2>/dev/null

# export-opendc: a run parsed here, exported into OPENDC_OUT
"$TRACEKIT" local --logs "$T/logs" --run-id ex1 --command 'sh -c "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"' \
  --total 2 >"$T/local.out" 2>&1
"$TRACEKIT" parse --logs "$T/logs" --run-id ex1 >>"$T/local.out" 2>&1
mk export-opendc RUN_ID=ex1 LOGS="$T/logs" OPENDC_OUT="$T/odc" >"$T/export.out" 2>&1; rc=$?
check "make export-opendc RUN_ID=ex1 writes the workload (rc $rc)" \
  bash -c "[ $rc -eq 0 ] && [ -s '$T/odc/tasks.parquet' ] && [ -s '$T/odc/fragments.parquet' ]"
check "... and says where" grep -q "OpenDC workload of run ex1 in $T/odc" "$T/export.out"
mk export-opendc RUN_ID= >"$T/norun.out" 2>&1; rc=$?
check "make export-opendc without RUN_ID fails, saying RUN_ID is required" \
  bash -c "[ $rc -ne 0 ] && grep -q 'RUN_ID is required' '$T/norun.out'"

# quiet build lines; V=1 the commands
make -C "$ROOT" --no-print-directory -W src/common/uuid.c build/obj/common/uuid.o >"$T/q.out" 2>&1
check "make prints a short line per file" grep -qx '  CC      build/obj/common/uuid.o' "$T/q.out"
check "... not the compiler's command" bash -c "! grep -q -- '-Wall' '$T/q.out'"
make -C "$ROOT" --no-print-directory -W src/common/uuid.c build/obj/common/uuid.o V=1 >"$T/v.out" 2>&1
check "V=1 prints the whole command" grep -q -- '-Wall .*-o build/obj/common/uuid.o' "$T/v.out"
