#!/usr/bin/env bash
# run.sh -- run every unit test (cmocka, ASan/UBSan build) and every
# integration test, then print one line: "N passed, N failed, N skipped",
# after the list of skipped tests with their reasons.
#
# Each unit binary prints TAP (CMOCKA_MESSAGE_OUTPUT=tap); each integration
# script prints "ok - ..." / "not ok - ..." lines through tests/integration/lib.sh.
# A binary or script that exits non-zero without a "not ok" counts as one failure.
#   tests/run.sh [PATTERN]   run only tests whose file name contains PATTERN
# It builds what it runs first (make all asan units man).
set -u
cd "$(dirname "$0")/.."
root=$PWD
pattern=${1:-}
out=$root/build/test-output
rm -rf "$out"; mkdir -p "$out"
export TRACEKIT="$root/build/asan/tracekit"
export TRACEKIT_RELEASE="$root/build/tracekit"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CMOCKA_MESSAGE_OUTPUT=tap
export TEST_OUTPUT="$out"

passed=0; failed=0; skipped=0; failures=(); skips=()
run_one() {  # name, command...
  local name=$1; shift
  local log="$out/${name//\//_}.log" start rc p f s
  start=$(date +%s.%N)
  timeout --kill-after=10 "${TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1
  rc=$?
  s=$(grep -cE '^ok( |$).*(# ?SKIP|- SKIP)' "$log")
  p=$(( $(grep -cE '^ok( |$)' "$log") - s )); f=$(grep -cE '^not ok( |$)' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name exited with status $rc" >>"$log"; fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  printf '%-40s %3d passed, %d failed, %d skipped  (%.1fs)\n' "$name" "$p" "$f" "$s" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"
  if [ "$s" -gt 0 ]; then
    while IFS= read -r line; do line=${line#*SKIP}; skips+=("$name: ${line# }"); done \
      < <(grep -E '^ok( |$).*(# ?SKIP|- SKIP)' "$log")
  fi
  if [ "$f" -gt 0 ]; then
    failures+=("$name")
    grep -E '^not ok|^#' "$log" | head -20 | sed 's/^/    /'
    tail -n 15 "$log" | sed 's/^/    | /'
  fi
}

# The binaries the tests run, brought up to date first (silent when they
# are): a fresh clone has no build/asan/, and a plain 'make' leaves the ASan
# tracekit the integration tests run stale.
make -s --no-print-directory all asan units man || { echo "tests/run.sh: the build failed"; exit 2; }

for t in build/asan/test_*; do
  [ -x "$t" ] || continue
  case "$(basename "$t")" in *"$pattern"*) ;; *) continue ;; esac
  run_one "unit/$(basename "$t")" "$t"
done
for t in tests/integration/t_*.sh; do
  [ -f "$t" ] || continue
  case "$(basename "$t")" in *"$pattern"*) ;; *) continue ;; esac
  run_one "integration/$(basename "$t" .sh)" bash "$t"
done

echo
[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]} (logs in build/test-output/)"
for s in "${skips[@]}"; do echo "skipped: $s"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
