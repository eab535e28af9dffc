#!/usr/bin/env bash
# t_verify_opendc.sh -- `verify opendc` agrees with OpenDC (issue #15) on
# OpenDC's own workloads (every fixture in /work/shared/fixtures/opendc/):
# without a topology the workload is checked alone (exit 0, a warning); with
# a legacy-style topology shaped like OpenDC's own (opendc-cli/src/test/
# resources/legacy/topologies/*/surfsara.json at HEAD 691036deb: bare
# numbers, memorySize, modelType) it warns, reads the values as OpenDC
# does and still checks every task against the hosts; a topology too small
# for the tasks fails (OpenDC terminates them); a broken unit fails.
source "$(dirname "$0")/lib.sh"
FIX=${OPENDC_FIXTURES:-/work/shared/fixtures/opendc}
if ! ls "$FIX"/*/tasks.parquet >/dev/null 2>&1; then skip "no OpenDC fixtures in $FIX"; exit 0; fi
cd "$T" || exit 1

legacy() {  # legacy MEMORY: OpenDC's legacy shape, bare numbers (MHz, MiB, W)
  cat <<J
{"clusters": [{"name": "C01", "hosts": [{"name": "H01", "cpu": {"coreCount": 16, "coreSpeed": 2100},
  "memory": {"memorySize": $1}, "cpuPowerModel": {"modelType": "linear", "power": 400.0,
  "idlePower": 32.0, "maxPower": 180.0}, "count": 279}],
  "powerSource": {"carbonTracePath": "carbon_traces/NL_2021-2024.parquet"}}]}
J
}
legacy 100000 >legacy.json
legacy 8 >tiny.json   # the fixtures' tasks ask for 10000 KB = 10 MiB
sed 's/"coreSpeed": 2100/"coreSpeed": "2.1 GHzz"/' legacy.json >badunit.json

for fx in "$FIX"/*/; do
  name=$(basename "$fx")
  "$TRACEKIT" verify opendc --input "$fx" >alone.out 2>&1; rc=$?
  check "$name without topology.json: exit 0, the workload checked alone" sh -c \
    "test $rc = 0 && grep -q '^WARN topology: no .*topology.json: the workload is checked alone' alone.out && grep -q '^pass tasks with fragments' alone.out && ! grep -q '^FAIL' alone.out"
  "$TRACEKIT" verify opendc --input "$fx" --topology legacy.json >legacy.out 2>&1; rc=$?
  check "$name with a legacy topology: exit 0, legacy keys and bare numbers warned" sh -c \
    "test $rc = 0 && grep -q '^WARN topology: 2 legacy key.*memory.memorySize' legacy.out && grep -q '^WARN topology: [0-9]* bare number.*coreSpeed 2100 read as MHz' legacy.out"
  check "$name: ... read as OpenDC reads them, tasks still checked against the hosts" sh -c \
    "grep -q '^pass topology: 279 hosts; largest: 16 cores, 2100 MHz per core, 100000 MiB' legacy.out && grep -q '^pass cpu_count fits' legacy.out && grep -q '^pass mem_capacity fits' legacy.out"
  "$TRACEKIT" verify opendc --input "$fx" --topology tiny.json >tiny.out 2>&1; rc=$?
  check "$name on 8-MiB hosts: exit 1, OpenDC would terminate the tasks" sh -c \
    "test $rc = 1 && grep -q '^FAIL mem_capacity fits: .*OpenDC terminates them' tiny.out"
done
fx=$(ls -d "$FIX"/*/ | head -n1)
"$TRACEKIT" verify opendc --input "$fx" --topology badunit.json >bad.out 2>&1; rc=$?
check "a unit OpenDC cannot parse fails (exit 1)" sh -c "test $rc = 1 && grep -q 'coreSpeed 2.1 GHzz is not a frequency' bad.out"
"$TRACEKIT" verify opendc --input "$fx" --topology nothere.json >bad.out 2>&1; rc=$?
check "a --topology that does not exist fails (exit 1)" sh -c "test $rc = 1 && grep -q '^FAIL topology: cannot read nothere.json' bad.out"

# usage above the reservation: the fixtures' tasks use up to 1000 MHz on one core; on 500-MHz
# cores that is more than cpu_count x core speed, which OpenDC accepts (a reservation, not a cap)
sed 's/"coreSpeed": 2100/"coreSpeed": "500 MHz"/' legacy.json >slow.json
"$TRACEKIT" verify opendc --input "$fx" --topology slow.json >slow.out 2>&1; rc=$?
check "cpu_usage above cpu_count x core speed: a warning with the reason, exit 0" sh -c \
  "test $rc = 0 && grep -q '^WARN cpu_usage: .*cpu_count reserves cores, it does not cap usage' slow.out && grep -q '^WARN cpu_capacity: ' slow.out"
