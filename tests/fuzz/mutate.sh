#!/usr/bin/env bash
# mutate.sh SECONDS -- end-to-end mutation test of the ASan binary: build a
# small run once (raw collector files, its CTS/ from `parse`, its OpenDC
# export), then until SECONDS pass: copy it, change one to three of its files
# (tests/fuzz/mutate.py: bit flips, truncation, inserted/deleted bytes,
# duplicated lines, huge numbers, 5000-deep nesting, 10 MB strings, swapped
# files; seeded, so a case replays), and run export, verify, report and parse
# on the copy with a time limit and an RSS watchdog.  Exits 0/1/2 with a
# message are fine; a sanitizer report, a signal, a timeout, an RSS over the
# limit or any other exit code is a finding: the case's folder is kept as
# build/fuzz/mutate/fail-SEED and the script exits 1.
#   MUTATE_SEED=N        replay one case (the seed printed with a finding)
#   MUTATE_TIMEOUT=30    seconds per command
#   MUTATE_RSS_MB=1024   the watchdog's limit (ASan's shadow memory included)
#   TRACEKIT=...         the binary (default build/asan/tracekit)
set -u
cd "$(dirname "$0")/../.."
root=$PWD
secs=${1:-60}
case $secs in ''|*[!0-9]*) echo "mutate: '$secs' is not a number of seconds" >&2; exit 2 ;; esac
tk=${TRACEKIT:-$root/build/asan/tracekit}
[ -x "$tk" ] || { echo "mutate: $tk not built (make asan)" >&2; exit 2; }
limit_s=${MUTATE_TIMEOUT:-30}
limit_kb=$(( ${MUTATE_RSS_MB:-1024} * 1024 ))
top=$root/build/fuzz/mutate
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=99:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=99:print_stacktrace=1}
mkdir -p "$top"
work=$(mktemp -d "$top/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# run_cmd NAME CMD...: run CMD (output in $case/NAME.out) under the time and
# RSS limits; sets $why to a finding, or leaves it empty.
run_cmd() {
  local name=$1; shift
  local log=$case/$name.out start=$SECONDS rss peak=0
  "$@" >"$log" 2>&1 &
  local pid=$! killed=
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
    [ -n "$rss" ] && [ "$rss" -gt "$peak" ] && peak=$rss
    if [ -n "$rss" ] && [ "$rss" -gt "$limit_kb" ]; then killed="RSS ${rss} KiB over the limit"; kill -KILL "$pid"; break; fi
    if [ $((SECONDS - start)) -ge "$limit_s" ]; then killed="timeout after ${limit_s}s"; kill -KILL "$pid"; break; fi
    sleep 0.05
  done
  wait "$pid"
  local rc=$?
  if [ -n "$killed" ]; then why="$name: $killed"
  elif grep -qE 'Sanitizer|runtime error:' "$log"; then why="$name: $(grep -m1 -E 'ERROR: .*Sanitizer|runtime error:|SUMMARY' "$log")"
  elif [ "$rc" -gt 2 ]; then why="$name: exit $rc (a signal or an unexpected code)"
  fi
}

# The pristine run: raw files, CTS/ and an OpenDC export of it.
base=$work/base
python3 tests/fuzz/mutate.py make "$base/logs/m1" || exit 2
"$tk" parse --logs "$base/logs" --run-id m1 >"$work/base.log" 2>&1 &&
  "$tk" export opendc --input "$base/logs/m1" --output "$base/logs/m1/opendc" >>"$work/base.log" 2>&1 ||
  { echo "mutate: cannot build the pristine run:"; tail -5 "$work/base.log"; exit 2; }

one_case() {  # seed -> 0 clean, 1 finding
  local seed=$1
  case=$work/case
  rm -rf "$case"; cp -a "$base" "$case"
  local what; what=$(python3 tests/fuzz/mutate.py mutate "$case/logs/m1" "$seed") || return 1
  local run=$case/logs/m1
  why=
  run_cmd export "$tk" export opendc --input "$run" --output "$case/odc2"
  [ -z "$why" ] && run_cmd verify "$tk" verify opendc --input "$run/opendc"
  [ -z "$why" ] && run_cmd report "$tk" report --input "$run" --opendc "$run/opendc" --output "$case/report.html" --quiet
  [ -z "$why" ] && run_cmd parse "$tk" parse --logs "$case/logs" --run-id m1
  [ -z "$why" ] && run_cmd export2 "$tk" export opendc --input "$run" --output "$case/odc3"
  if [ -n "$why" ]; then
    rm -rf "$top/fail-$seed"; mv "$case" "$top/fail-$seed"
    echo "mutate: FINDING with seed $seed ($what): $why"
    echo "mutate:   case kept in build/fuzz/mutate/fail-$seed; replay: MUTATE_SEED=$seed tests/fuzz/mutate.sh"
    return 1
  fi
  return 0
}

if [ -n "${MUTATE_SEED:-}" ]; then
  one_case "$MUTATE_SEED" && echo "mutate: seed $MUTATE_SEED: no finding"
  exit $?
fi
seed=${MUTATE_START:-$(( $(date +%s) % 1000000 * 1000 ))}
n=0; bad=0; end=$((SECONDS + secs))
while [ "$SECONDS" -lt "$end" ]; do
  one_case "$seed" || bad=$((bad + 1))
  n=$((n + 1)); seed=$((seed + 1))
done
echo "mutate: $n cases in ${secs}s, $bad finding(s)"
[ "$bad" -eq 0 ]
