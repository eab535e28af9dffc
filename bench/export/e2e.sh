#!/usr/bin/env bash
# bench/export/e2e.sh [--10m] [--long] [RUNS] -- `tracekit export opendc` end
# to end against DuckDB doing the core of the same job, in the same run.
#
# The run: bench_parse's synthetic one (200 processes x 5000 ticks = 1 M
# samples; --10m adds 200 x 50 000 = 10 M; --long adds few long processes,
# one task each: 4 x 250 000 = 1 M and 2 x 2 500 000 = 5 M, where memory
# would follow the largest process), parsed by `tracekit parse`.  Then,
# RUNS times each (default 3, the best wall time and the largest peak RSS
# kept): `tracekit export opendc` (snappy, the default) and with
# --upstream-compat, both also with BEFORE=/path/to/an/older/tracekit if
# set, and DuckDB 1.5 (npm @duckdb/node-api, pinned in
# bench/package-lock.json, installed into bench/node_modules) on one thread and on two doing duckdb_job.mjs: read
# CTS/proc_metrics.jsonl, per-process CPU deltas by window function, write
# snappy Parquet.  DuckDB's time is its query's (its start-up is not
# counted); tracekit's is the whole process.  Prints a Markdown table for
# docs/benchmarks.md with each time's ratio to DuckDB on one thread.
set -eu
cd "$(dirname "$0")/../.."
shapes=("200 5000") runs=3   # processes, ticks each
for a in "$@"; do
  case $a in
    --10m) shapes+=("200 50000") ;;
    --long) shapes+=("4 250000" "2 2500000") ;;
    [0-9]*) runs=$a ;;
    *) echo "usage: bench/export/e2e.sh [--10m] [--long] [RUNS]" >&2; exit 2 ;;
  esac
done
make -s build/tracekit build/bench/parse/bench_parse
have=$(node -p "try { require('./bench/node_modules/@duckdb/node-api/package.json').version } catch (e) { '' }")
[ "$have" = 1.5.6-r.1 ] || (cd bench && npm ci --no-audit --no-fund --loglevel=error)
out=$(mktemp -d "${TMPDIR:-/tmp}/export-e2e.XXXXXX")
trap 'rm -rf "$out"' EXIT
cp build/tracekit "$out/tracekit"   # a copy: a rebuild during the run does not disturb it
tk=$out/tracekit

# best_of CMD...: "best_wall_s max_rss_kb" over $runs runs (wall by /usr/bin/time)
best_of() {
  local best= rss=0 i w r
  for ((i = 0; i < runs; i++)); do
    rm -rf "$out/o"
    /usr/bin/time -f '%e %M' -o "$out/time" "$@" >"$out/stdout" 2>"$out/stderr" ||
      { cat "$out/stderr" >&2; exit 1; }
    read -r w r <"$out/time"
    [ -z "$best" ] || [ "$(echo "$w < $best" | bc)" = 1 ] && best=$w
    [ "$r" -gt "$rss" ] && rss=$r
  done
  echo "$best $rss"
}
# duck THREADS: "best_query_s max_rss_kb"
duck() {
  local best= rss=0 i q w r
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -f '%e %M' -o "$out/time" node bench/export/duckdb_job.mjs \
      "$out/run/bench/CTS/proc_metrics.jsonl" "$out/duck.parquet" "$1" >"$out/q"
    q=$(cat "$out/q"); read -r w r <"$out/time"
    [ -z "$best" ] || [ "$(echo "$q < $best" | bc)" = 1 ] && best=$q
    [ "$r" -gt "$rss" ] && rss=$r
    rm -f "$out/duck.parquet"
  done
  echo "$best $rss"
}

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(uname -r), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| samples | what | wall s (best of $runs) | peak RSS MB | / DuckDB 1 thread |"
echo "|---:|---|---:|---:|---:|"
for shape in "${shapes[@]}"; do
  read -r procs ticks <<<"$shape"
  n=$((procs * ticks))
  [ "$procs" = 200 ] || n="$n ($procs processes)"
  rm -rf "$out/run"
  build/bench/parse/bench_parse --procs "$procs" --ticks "$ticks" --dir "$out/run" --keep >"$out/gen.log"
  rm -f "$out/run/bench/proc_metrics.jsonl"   # the raw file: not needed any more
  read -r d1 d1r < <(duck 1)
  read -r d2 d2r < <(duck 2)
  row() { printf '| %s | %s | %.2f | %.0f | %.2f |\n' "$n" "$1" "$2" "$(echo "$3 / 1024" | bc -l)" \
            "$(echo "$2 / $d1" | bc -l)"; }
  read -r w r < <(best_of "$tk" export opendc --input "$out/run/bench" --output "$out/o" --quiet)
  row "tracekit export opendc" "$w" "$r"
  if [ -n "${BEFORE:-}" ]; then
    read -r w r < <(best_of "$BEFORE" export opendc --input "$out/run/bench" --output "$out/o" --quiet)
    row "tracekit export opendc, $BEFORE" "$w" "$r"
  fi
  read -r w r < <(best_of "$tk" export opendc --input "$out/run/bench" --output "$out/o" --quiet --upstream-compat)
  row "tracekit export opendc --upstream-compat" "$w" "$r"
  if [ -n "${BEFORE:-}" ]; then
    read -r w r < <(best_of "$BEFORE" export opendc --input "$out/run/bench" --output "$out/o" --quiet --upstream-compat)
    row "tracekit export opendc --upstream-compat, $BEFORE" "$w" "$r"
  fi
  row "DuckDB, 1 thread (query)" "$d1" "$d1r"
  row "DuckDB, 2 threads (query)" "$d2" "$d2r"
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
